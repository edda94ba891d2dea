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
 * 'epoch': the agent is held until agenthold_map() releases it.  A
 * disruption while held already restarts the wait from the new epoch, so
 * that a map the controller made before seeing it does not release the
 * agent. */
void
agenthold_disrupt(struct agenthold *h, enum agenthold_reason reason,
                  uint64_t epoch, long long int now)
{
    ovs_assert(reason != AGENTHOLD_NONE && reason < AGENTHOLD_N_REASONS);
    if (h->reason == AGENTHOLD_START) {
        /* A process that never had a map has nothing to wait out. */
        return;
    }
    if (h->reason == AGENTHOLD_NONE) {
        h->since = now;
    }
    h->reason = reason;
    h->epoch = epoch;
    h->n_holds[reason]++;
}

/* Tells 'h' that the agent applied a map of 'epoch' in which it is the
 * primary of 'n_primary' buckets, at 'now'.  Returns true if that releases
 * the agent. */
bool
agenthold_map(struct agenthold *h, uint64_t epoch, size_t n_primary,
              long long int now)
{
    bool release;

    switch (h->reason) {
    case AGENTHOLD_NONE:
        return false;

    case AGENTHOLD_START:
        release = true;
        break;

    case AGENTHOLD_BFD:
    case AGENTHOLD_CARRIER:
    case AGENTHOLD_STALL:
    case AGENTHOLD_N_REASONS:
    default:
        release = epoch > h->epoch && !n_primary;
        break;
    }
    if (release) {
        h->held_ms += now - h->since;
        h->reason = AGENTHOLD_NONE;
    }
    return release;
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
            ds_put_format(s, " (until a map after epoch %"PRIu64" moves "
                          "every bucket away)", h->epoch);
        }
    } else {
        ds_put_cstr(s, "held: no");
    }
    ds_put_format(s, "; holds: bfd %"PRIu64", carrier %"PRIu64", stall %"
                  PRIu64"; frames dropped while held %"PRIu64"; held %lld "
                  "ms in all\n", h->n_holds[AGENTHOLD_BFD],
                  h->n_holds[AGENTHOLD_CARRIER], h->n_holds[AGENTHOLD_STALL],
                  h->n_dropped,
                  h->held_ms + (agenthold_is_held(h) ? now - h->since : 0));
}
