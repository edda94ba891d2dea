/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef CONNLIMIT_H
#define CONNLIMIT_H 1

/* Admission policy for the connections of one listener.
 *
 * A connection is "pending" from its accept until the owner authenticates
 * it (the agent channel's hello, a replication connection's first batch).
 * A pending connection is closed if it is still pending after
 * 'handshake_ms', and may not hold a frame longer than
 * 'max_pending_frame'; an authenticated one may hold a frame of up to
 * 'max_frame'.  At most 'max_pending' connections may be pending and at
 * most 'max_conns' open in all, so peers that never authenticate make a
 * listener hold at most max_pending * max_pending_frame bytes of input, and
 * all its peers together at most max_conns * max_frame.  What the listener
 * sends is bounded too: a peer that leaves more than 'max_backlog' bytes
 * unread is closed.
 *
 * When a new connection arrives and the listener is full, the oldest
 * pending connection is closed to make room: a peer that speaks the
 * protocol authenticates within a round trip of connecting, so only a flood
 * of connections faster than that can push it out, whereas refusing new
 * connections would let a few silent ones lock every real peer out for as
 * long as they keep reconnecting.  Only when every open connection is
 * authenticated is the new one refused.
 *
 * This module is pure: the caller counts its connections and acts on the
 * verdicts. */

#include <stdbool.h>
#include <stddef.h>

struct connlimit {
    int handshake_ms;           /* Longest a connection may stay pending. */
    size_t max_pending;         /* Most pending connections, at least 1. */
    size_t max_conns;           /* Most connections in all, at least
                                 * 'max_pending'. */
    size_t max_pending_frame;   /* Longest frame while pending. */
    size_t max_frame;           /* Longest frame once authenticated. */
    size_t max_backlog;         /* Most bytes queued to the peer, unsent
                                 * because it does not read: beyond, the
                                 * connection is closed.  0: no limit. */
};

/* What to do with a new connection. */
enum connlimit_verdict {
    CONNLIMIT_ADMIT,            /* There is room: accept it. */
    CONNLIMIT_EVICT,            /* Close the oldest pending connection, then
                                 * accept it. */
    CONNLIMIT_REFUSE            /* Full of authenticated connections: close
                                 * the new one. */
};

enum connlimit_verdict connlimit_admit(const struct connlimit *,
                                       size_t n_pending, size_t n_conns);
size_t connlimit_max_input(const struct connlimit *, bool authenticated);
bool connlimit_frame_ok(const struct connlimit *, bool authenticated,
                        size_t frame_len);
bool connlimit_backlog_ok(const struct connlimit *, size_t backlog);

#endif /* connlimit.h */
