/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include "agenthold.h"

#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "util.h"

/* Returns a sentence fragment that says why an agent is held. */
const char *
agenthold_reason_text(enum agenthold_reason reason)
{
    switch (reason) {
#define AGENTHOLD_REASON(ENUM, TEXT) case AGENTHOLD_##ENUM: return TEXT;
    AGENTHOLD_REASONS
#undef AGENTHOLD_REASON
    case AGENTHOLD_N_REASONS:
    default:
        return "unknown";
    }
}

/* Initializes 'h' for an agent that starts at 'now': held until its first
 * map. */
void
agenthold_init(struct agenthold *h, long long int now)
{
    memset(h, 0, sizeof *h);
    h->reason = AGENTHOLD_START;
    h->since = now;
    h->n_holds[AGENTHOLD_START] = 1;
}

/* Returns true if the agent of 'h' must not serve. */
bool
agenthold_is_held(const struct agenthold *h)
{
    return h->reason != AGENTHOLD_NONE;
}

/* Records a disruption for 'reason' at 'now', with the agent's map at
 * 'epoch': the agent is held until agenthold_map() releases it, unless its
 * newest map already names it in no bucket. */
void
agenthold_disrupt(struct agenthold *h, enum agenthold_reason reason,
                  uint64_t epoch, long long int now)
{
    ovs_assert(reason != AGENTHOLD_NONE && reason < AGENTHOLD_N_REASONS);
    if (h->reason == AGENTHOLD_START) {
        /* A process that never had a map has nothing to wait out. */
        return;
    }
    h->n_holds[reason]++;
    h->epoch = epoch;
    if (!h->n_roles) {
        /* No bucket of ours for the switch to send back to us. */
        return;
    }
    if (h->reason == AGENTHOLD_NONE) {
        h->since = now;
    }
    h->reason = reason;
}

/* Tells 'h' that the agent applied a map in which it is the primary or the
 * secondary of 'n_roles' buckets, at 'now'.  Returns true if that releases
 * the agent. */
bool
agenthold_map(struct agenthold *h, size_t n_roles, long long int now)
{
    h->n_roles = n_roles;
    if (h->reason == AGENTHOLD_NONE
        || (h->reason != AGENTHOLD_START && n_roles)) {
        return false;
    }
    h->held_ms += now - h->since;
    h->reason = AGENTHOLD_NONE;
    return true;
}

/* Appends to 's' a line that says whether the agent is held, why and for
 * how long, with the counters. */
void
agenthold_format(const struct agenthold *h, long long int now, struct ds *s)
{
    if (agenthold_is_held(h)) {
        ds_put_format(s, "held: yes, %s, for %lld ms",
                      agenthold_reason_text(h->reason), now - h->since);
        if (h->reason != AGENTHOLD_START) {
            ds_put_format(s, " (since map epoch %"PRIu64"; until a map "
                          "names it in no bucket, %"PRIuSIZE" now)",
                          h->epoch, h->n_roles);
        }
    } else {
        ds_put_cstr(s, "held: no");
    }
    ds_put_format(s, "; holds: bfd %"PRIu64", carrier %"PRIu64", stall %"
                  PRIu64"; frames dropped while held %"PRIu64" (and %"PRIu64
                  " with the link down); held %lld ms in all\n",
                  h->n_holds[AGENTHOLD_BFD], h->n_holds[AGENTHOLD_CARRIER],
                  h->n_holds[AGENTHOLD_STALL], h->n_dropped, h->n_dropped_down,
                  h->held_ms + (agenthold_is_held(h) ? now - h->since : 0));
}
