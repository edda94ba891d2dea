/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef BEVFLUSH_H
#define BEVFLUSH_H 1

/* Sends what a socket bufferevent has queued now, as far as the socket
 * takes it without blocking, leaving the buffer as it is.  For a
 * connection about to be freed (which would drop its output) or a reply
 * to a command that ends the event loop (which would never send it). */

struct bufferevent;

void bevflush_now(struct bufferevent *);

#endif /* bevflush.h */
