/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef STATUS_H
#define STATUS_H 1

/* Status reports of the controller: the switches it holds, their versions,
 * datapath ids, controller roles (see ofconn_role_name(): "none", "master",
 * "slave", "equal", or the role asked and "?" while unanswered) and ports
 * with state, as JSON (for scripts) and as text (for people).  Pure
 * functions of the connections and the time. */

#include <stddef.h>

struct ds;
struct json;
struct ofconn;

/* What the I/O layer knows about a connection beyond its protocol. */
struct status_conn {
    const struct ofconn *ofconn; /* The connection. */
    size_t tx_backlog;          /* Bytes waiting to be written. */
    const char *sync;           /* "in sync" or "not in sync (why)", from
                                 * the steering policy; NULL if it does not
                                 * program the switch. */
};

struct json *status_to_json(const struct status_conn *, size_t n,
                            long long int now);
void status_format(const struct json *, struct ds *);

#endif /* status.h */
