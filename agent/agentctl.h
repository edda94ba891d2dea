/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef AGENTCTL_H
#define AGENTCTL_H 1

/* The controllers an agent knows, and which one it talks to: the policy of
 * sfmesh-agent's controller channel.
 *
 * --controller names one controller or several, separated by commas
 * (agentctl_parse()).  Of several, one is active; the others are standby
 * and refuse the agent's HELLO with a reason that begins with
 * AGP_STANDBY_REASON.  The agent talks to one controller at a time:
 *
 *   - It tries its targets in turn, round-robin.  A failed connection, a
 *     channel that closes (before or after the controller accepted it), a
 *     refusal of any kind and a controller that does not answer in time
 *     all move it to the next target.
 *
 *   - Within a round (as many attempts in a row as there are targets, none
 *     accepted), it tries the next target at once.  After a whole round
 *     without success it waits before the next round: AGP_RECONNECT_MIN_MS
 *     after the first, twice as long after each further one, never more
 *     than AGP_RECONNECT_MAX_MS.  So once the active controller dies, the
 *     agent reaches the new active one within one round of attempts (and
 *     at most AGP_RECONNECT_MAX_MS more if no controller was active yet
 *     when it tried).  With a single target every failure is a whole
 *     round: 100 ms, 200 ms, ... up to 1 s, as with one controller before.
 *
 *   - Once a controller accepts, the agent stays with it until the channel
 *     fails, and the backoff starts again from AGP_RECONNECT_MIN_MS.
 *
 *   - With several targets, an attempt that is not connected within
 *     AGENTCTL_CONNECT_TIMEOUT_MS (a controller's host that is down drops
 *     the SYN, and TCP would retry for minutes), or not answered within
 *     AGP_HELLO_TIMEOUT_MS of connecting (a controller that is
 *     stopped: its kernel still completes the handshake), counts as a
 *     failure; so does a controller that accepted us and then says
 *     nothing for AGP_SILENCE_MS (it answers every heartbeat, so a
 *     silent one is stopped or cut off: agentctl_is_silent()).  With a
 *     single target there is no such timeout, as before: the agent has
 *     nowhere else to go.
 *
 * Pure: no sockets, no clock; time is passed in, in ms. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "openvswitch/compiler.h"

struct ds;

#define AGENTCTL_MAX_TARGETS 8          /* Most controllers. */
#define AGENTCTL_CONNECT_TIMEOUT_MS 2000 /* See above. */

/* How an attempt on the current target ended. */
#define AGENTCTL_EVENTS                                                 \
    AGENTCTL_EVENT(FAILED, "connection failed or closed")               \
    AGENTCTL_EVENT(TIMEOUT, "no answer in time")                        \
    AGENTCTL_EVENT(STANDBY, "refused: standby")                         \
    AGENTCTL_EVENT(REFUSED, "refused")

enum agentctl_event {
#define AGENTCTL_EVENT(ENUM, TEXT) AGENTCTL_##ENUM,
    AGENTCTL_EVENTS
#undef AGENTCTL_EVENT
    AGENTCTL_N_EVENTS
};

const char *agentctl_event_text(enum agentctl_event);

/* A controller to connect to. */
struct agentctl_target {
    char *spec;                 /* As given, e.g. "tcp:10.0.0.1:6660". */
    char *name;                 /* "controller " and 'spec', for logs. */
    bool tls;                   /* "ssl:" rather than "tcp:". */
    struct sockaddr_storage ss; /* Its address. */
    socklen_t len;              /* Bytes of 'ss' in use. */
};

struct agentctl {
    struct agentctl_target targets[AGENTCTL_MAX_TARGETS]; /* In order. */
    size_t n_targets;           /* 1 to AGENTCTL_MAX_TARGETS. */
    size_t cur;                 /* The target tried now, or talked to. */
    bool accepted;              /* 'cur' accepted our hello. */
    size_t n_tried;             /* Attempts failed in this round. */
    int backoff_ms;             /* Wait after the next failed round. */
    long long int since;        /* When 'cur' accepted us, or when the
                                 * current attempt is due. */
    uint64_t n_accepted;        /* Times a controller accepted us. */
    uint64_t n_events[AGENTCTL_N_EVENTS]; /* Failed attempts, by how. */
    bool have_last;             /* 'last' is set. */
    enum agentctl_event last;   /* How the last failed attempt ended. */
};

char *agentctl_parse(struct agentctl *, const char *list)
    OVS_WARN_UNUSED_RESULT;
void agentctl_destroy(struct agentctl *);

bool agentctl_any_tls(const struct agentctl *);
bool agentctl_all_tls(const struct agentctl *);
const struct agentctl_target *agentctl_current(const struct agentctl *);
int agentctl_timeout_ms(const struct agentctl *, bool connected);
bool agentctl_is_silent(const struct agentctl *, long long int last_heard,
                        long long int now);

void agentctl_accepted(struct agentctl *, long long int now);
int agentctl_failed(struct agentctl *, enum agentctl_event,
                    long long int now);

void agentctl_format(const struct agentctl *, long long int now,
                     struct ds *);

#endif /* agentctl.h */
