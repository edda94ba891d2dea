/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef AGENTHOLD_H
#define AGENTHOLD_H 1

/* Whether an agent is fit to serve: the hold-down policy of sfmesh-agent.
 *
 * An instance that may have missed updates of its streams must not process
 * their packets as a primary, whatever the switch does: its state would be
 * stale, and it would replicate that state over the newer state of the
 * instance that served in its place.  An agent is "held" while that may be
 * so.  While held, it answers BFD as AdminDown, so that OVS keeps its port
 * not live and the fast-failover groups send its streams elsewhere, and it
 * drops every data frame that reaches it anyway.
 *
 * An agent is held:
 *
 *   - from its start until the first map it receives from the controller
 *     (a new process holds no state; the controller, having seen the old
 *     process's channel close, sends a map in which this instance has no
 *     bucket, and the instance rejoins cold);
 *
 *   - after a disruption: its BFD session left Up (OVS stopped hearing it,
 *     or it stopped hearing OVS), its link lost carrier, or the agent
 *     itself did not run for longer than the BFD detection time (it was
 *     stopped or starved).  Its streams went to their secondaries in the
 *     meantime.  It is released once its newest map names it in no bucket,
 *     neither primary nor secondary: the controller has then seen the
 *     instance fail (holding keeps the port not live, so it does) and moved
 *     its buckets away; the instance rejoins cold and takes buckets again
 *     only by handoff, once warm.  An agent in no bucket when disrupted is
 *     not held at all.  Without a controller, the agent stays held.
 *
 *     Why not "a later epoch": the controller may have seen the failure,
 *     and sent the map without this instance, before the agent noticed it
 *     (OVS declared the agent dead first); no later map then comes.
 *
 * Pure: no I/O; time is passed in, in ms. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds;

/* Why an agent is held.  AGENTHOLD_NONE: it is not. */
#define AGENTHOLD_REASONS                                               \
    AGENTHOLD_REASON(NONE, "not held")                                  \
    AGENTHOLD_REASON(START, "started, waiting for the first map")       \
    AGENTHOLD_REASON(BFD, "BFD session went down")                      \
    AGENTHOLD_REASON(CARRIER, "link lost carrier")                      \
    AGENTHOLD_REASON(STALL, "agent did not run for longer than the BFD "\
                     "detection time")

enum agenthold_reason {
#define AGENTHOLD_REASON(ENUM, TEXT) AGENTHOLD_##ENUM,
    AGENTHOLD_REASONS
#undef AGENTHOLD_REASON
    AGENTHOLD_N_REASONS
};

const char *agenthold_reason_text(enum agenthold_reason);

struct agenthold {
    enum agenthold_reason reason; /* Why held, or AGENTHOLD_NONE. */
    uint64_t epoch;             /* Map epoch at the disruption. */
    size_t n_roles;             /* Buckets of the newest map in which the
                                 * agent is primary or secondary. */
    long long int since;        /* When held, in ms. */
    uint64_t n_holds[AGENTHOLD_N_REASONS]; /* Holds by reason. */
    uint64_t n_dropped;         /* Data frames dropped while held, the
                                 * link up: the switch sent them to an
                                 * instance that was out of service. */
    uint64_t n_dropped_down;    /* Dropped with the link down: they were
                                 * queued before it went down, and their
                                 * answers could not go out. */
    long long int held_ms;      /* Time held in all, up to 'since'. */
};

void agenthold_init(struct agenthold *, long long int now);
bool agenthold_is_held(const struct agenthold *);
void agenthold_disrupt(struct agenthold *, enum agenthold_reason,
                       uint64_t epoch, long long int now);
bool agenthold_map(struct agenthold *, size_t n_roles, long long int now);
void agenthold_format(const struct agenthold *, long long int now,
                      struct ds *);

#endif /* agenthold.h */
