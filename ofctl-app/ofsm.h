/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef OFSM_H
#define OFSM_H 1

/* OpenFlow connection state machine.
 *
 * Tracks one switch connection from the controller's side: the handshake
 * (hello, features, port description), then liveness (echo probes and the
 * inactivity timeout).  It does no I/O and reads no clock: every function
 * takes the current time 'now' in milliseconds, in the manner of OVS's
 * lib/reconnect.c, so that it can be tested without sockets.
 *
 * The states:
 *
 *   HELLO:    Our hello is sent; we wait for the peer's.
 *
 *   FEATURES: The version is negotiated and a features request is sent; we
 *             wait for the reply, which tells the datapath id.
 *
 *   PORTS:    A port description request is sent; we wait for the last part
 *             of the multipart reply.
 *
 *   ACTIVE:   The switch is known and has sent something within the probe
 *             interval.
 *
 *   IDLE:     Nothing arrived for a probe interval, so an echo request went
 *             out; any message brings the connection back to ACTIVE, and
 *             another probe interval of silence closes it.
 *
 *   CLOSED:   The connection is finished; nothing more happens.
 *
 * A handshake state that lasts longer than the handshake timeout closes the
 * connection. */

#include <stdbool.h>

#define OFSM_STATES                             \
    OFSM_STATE(HELLO)                           \
    OFSM_STATE(FEATURES)                        \
    OFSM_STATE(PORTS)                           \
    OFSM_STATE(ACTIVE)                          \
    OFSM_STATE(IDLE)                            \
    OFSM_STATE(CLOSED)

enum ofsm_state {
#define OFSM_STATE(NAME) OFSM_##NAME,
    OFSM_STATES
#undef OFSM_STATE
};

/* What ofsm_run() asks its caller to do. */
enum ofsm_action {
    OFSM_NONE,                  /* Nothing. */
    OFSM_PROBE,                 /* Send an echo request. */
    OFSM_DISCONNECT             /* Close the connection (timed out). */
};

struct ofsm {
    enum ofsm_state state;      /* Current state. */
    long long int state_entered; /* When 'state' was entered. */
    long long int last_received; /* When the last message arrived. */
    int probe_interval;         /* Echo after this much silence, in ms. */
    int handshake_timeout;      /* Max time in a handshake state, in ms. */
};

void ofsm_init(struct ofsm *, int probe_interval, int handshake_timeout,
               long long int now);
const char *ofsm_state_name(enum ofsm_state);

void ofsm_received(struct ofsm *, long long int now);
void ofsm_advance(struct ofsm *, enum ofsm_state, long long int now);
void ofsm_close(struct ofsm *, long long int now);

enum ofsm_action ofsm_run(struct ofsm *, long long int now);
long long int ofsm_deadline(const struct ofsm *);

bool ofsm_is_connected(const struct ofsm *);

#endif /* ofsm.h */
