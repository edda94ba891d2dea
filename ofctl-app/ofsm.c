/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include "ofsm.h"

#include <limits.h>
#include <stdlib.h>

/* Initializes 'fsm' in the HELLO state at time 'now'.  'probe_interval' is
 * the silence, in ms, after which an echo request is sent and after which an
 * unanswered one closes the connection; 'handshake_timeout' bounds, in ms,
 * each handshake state. */
void
ofsm_init(struct ofsm *fsm, int probe_interval, int handshake_timeout,
          long long int now)
{
    fsm->state = OFSM_HELLO;
    fsm->state_entered = now;
    fsm->last_received = now;
    fsm->probe_interval = probe_interval > 0 ? probe_interval : 1;
    fsm->handshake_timeout = handshake_timeout > 0 ? handshake_timeout : 1;
}

/* Returns the name of 'state', for logs and status output. */
const char *
ofsm_state_name(enum ofsm_state state)
{
    switch (state) {
#define OFSM_STATE(NAME) case OFSM_##NAME: return #NAME;
        OFSM_STATES
#undef OFSM_STATE
    }
    return "UNKNOWN";
}

static void
ofsm_transition__(struct ofsm *fsm, enum ofsm_state state, long long int now)
{
    if (fsm->state != state) {
        fsm->state = state;
        fsm->state_entered = now;
    }
}

/* Tells 'fsm' that a message arrived at 'now'.  An IDLE connection becomes
 * ACTIVE again. */
void
ofsm_received(struct ofsm *fsm, long long int now)
{
    if (fsm->state == OFSM_CLOSED) {
        return;
    }
    fsm->last_received = now;
    if (fsm->state == OFSM_IDLE) {
        ofsm_transition__(fsm, OFSM_ACTIVE, now);
    }
}

/* Moves 'fsm' forward in the handshake to 'state' (FEATURES, PORTS or
 * ACTIVE) at 'now'.  Going backward, or leaving CLOSED, is ignored. */
void
ofsm_advance(struct ofsm *fsm, enum ofsm_state state, long long int now)
{
    if (fsm->state != OFSM_CLOSED && state > fsm->state
        && state <= OFSM_ACTIVE) {
        ofsm_transition__(fsm, state, now);
    }
}

/* Marks 'fsm' closed at 'now'. */
void
ofsm_close(struct ofsm *fsm, long long int now)
{
    ofsm_transition__(fsm, OFSM_CLOSED, now);
}

/* Runs the timers of 'fsm' at 'now' and returns what the caller must do.
 * When it returns OFSM_DISCONNECT, 'fsm' is already CLOSED. */
enum ofsm_action
ofsm_run(struct ofsm *fsm, long long int now)
{
    if (now < ofsm_deadline(fsm)) {
        return OFSM_NONE;
    }

    switch (fsm->state) {
    case OFSM_HELLO:
    case OFSM_FEATURES:
    case OFSM_PORTS:
    case OFSM_IDLE:
        ofsm_close(fsm, now);
        return OFSM_DISCONNECT;

    case OFSM_ACTIVE:
        ofsm_transition__(fsm, OFSM_IDLE, now);
        return OFSM_PROBE;

    case OFSM_CLOSED:
        break;
    }
    return OFSM_NONE;
}

/* Returns the time at which ofsm_run() next has something to do, or
 * LLONG_MAX if never. */
long long int
ofsm_deadline(const struct ofsm *fsm)
{
    switch (fsm->state) {
    case OFSM_HELLO:
    case OFSM_FEATURES:
    case OFSM_PORTS:
        return fsm->state_entered + fsm->handshake_timeout;

    case OFSM_ACTIVE:
        return fsm->last_received + fsm->probe_interval;

    case OFSM_IDLE:
        return fsm->state_entered + fsm->probe_interval;

    case OFSM_CLOSED:
        break;
    }
    return LLONG_MAX;
}

/* Returns true if the handshake is complete and the connection not closed. */
bool
ofsm_is_connected(const struct ofsm *fsm)
{
    return fsm->state == OFSM_ACTIVE || fsm->state == OFSM_IDLE;
}
