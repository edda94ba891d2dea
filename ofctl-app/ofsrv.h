/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef OFSRV_H
#define OFSRV_H 1

/* The OpenFlow server: listening sockets and switch connections on a
 * libevent base.
 *
 * This is the I/O half of the connection core.  It accepts switches on
 * "ptcp:PORT[:IP]", "pssl:PORT[:IP]" (TLS, see tls.h) and "punix:PATH"
 * listeners, frames the byte stream into
 * messages (ofpframe.h), feeds them to one ofconn per connection (ofconn.h),
 * writes what the ofconn queues and runs its timers.  Each connection gets a
 * bounded number of messages per loop turn, so one busy switch cannot starve
 * the others, and a peer that does not read has its reads paused until its
 * output drains (back-pressure).  A second connection that claims a
 * connected datapath id replaces the first if it comes from the same peer
 * (the same certificate with TLS, the same address without), and is
 * refused if not. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "ofconn.h"

struct event_base;
struct ofsrv;
struct tls_ctx;

struct ofsrv_settings {
    struct ofconn_settings conn; /* Per-connection protocol settings. */
    int max_msgs_per_turn;      /* Messages handled per connection and turn. */
    size_t tx_high_water;       /* Pause reading above this much output. */
    size_t tx_low_water;        /* Resume reading below this much output. */
    size_t rx_high_water;       /* Bytes buffered from a peer at most. */
};

void ofsrv_settings_init(struct ofsrv_settings *);

struct ofsrv *ofsrv_create(struct event_base *, const struct ofsrv_settings *,
                           const struct ofconn_hooks *, void *aux);
void ofsrv_destroy(struct ofsrv *);

void ofsrv_set_tls(struct ofsrv *, struct tls_ctx *);
int ofsrv_listen(struct ofsrv *, const char *target, char **boundp,
                 char **errorp);

size_t ofsrv_get_conns(const struct ofsrv *, const struct ofconn ***connsp);
size_t ofsrv_tx_backlog(const struct ofsrv *, const struct ofconn *);

#endif /* ofsrv.h */
