/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include "claim.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "sset.h"
#include "util.h"

/* One bucket of the service. */
struct claim_bucket {
    bool set;                   /* Set by a map since the bucket count
                                 * last changed. */
    bool in_pair;               /* We are its primary or secondary. */
    bool owned;                 /* We may process its frames. */
    bool waiting;               /* Our CLAIM is outstanding. */
    const char *partner;        /* The other instance of the pair (an
                                 * interned name), or NULL: none. */
    const char *from;           /* Whom our next CLAIM goes to, if not
                                 * 'partner': the instance that left the
                                 * pair, which may still own the bucket. */
    const char *deferred;       /* The instance whose CLAIM we answer once
                                 * ours is, or NULL. */
    const char *next;           /* As the primary: the bucket's next
                                 * instance (interned), or NULL. */
    long long int asked;        /* When we sent our CLAIM. */
};

struct claim {
    struct sset names;          /* Every partner name seen: interned. */
    size_t n_buckets;
    struct claim_bucket *buckets;
    size_t n_waiting;           /* Buckets with 'waiting'. */
    struct claim_stats stats;
};

/* Creates an agent's ownership of its buckets.  It governs no bucket
 * until claim_set_n_buckets() and claim_set_bucket(). */
struct claim *
claim_create(void)
{
    struct claim *c = xzalloc(sizeof *c);

    sset_init(&c->names);
    return c;
}

void
claim_destroy(struct claim *c)
{
    if (c) {
        free(c->buckets);
        sset_destroy(&c->names);
        free(c);
    }
}

/* Returns the interned copy of 'name' (NULL for NULL). */
static const char *
intern__(struct claim *c, const char *name)
{
    struct sset_node *node;

    if (!name) {
        return NULL;
    }
    node = sset_find(&c->names, name);
    return node ? node->name : sset_add(&c->names, name)->name;
}

static bool
name_eq__(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static void
stop_waiting__(struct claim *c, struct claim_bucket *b)
{
    if (b->waiting) {
        b->waiting = false;
        c->n_waiting--;
    }
}

/* Sets the number of buckets of the service to 'n_buckets'.  A change of
 * the count forgets every bucket: each then takes its ownership from the
 * next claim_set_bucket(). */
void
claim_set_n_buckets(struct claim *c, size_t n_buckets)
{
    if (n_buckets != c->n_buckets) {
        free(c->buckets);
        c->buckets = xcalloc(MAX(n_buckets, 1), sizeof *c->buckets);
        c->n_buckets = n_buckets;
        c->n_waiting = 0;
    }
}

/* Tells 'c' the newest map's pair of 'bucket': whether we are in it
 * ('in_pair'), as its primary ('primary') or secondary, and the other
 * instance of the pair ('partner', NULL if none).
 *
 * If the pair is the one 'c' knew, ownership stays as it is.  Otherwise a
 * CLAIM outstanding is forgotten (the caller gives its queued frames to
 * claim_frame() again), and:
 *
 *   - a primary that owned the bucket keeps it; one that was in the old
 *     pair without owning it claims it, on its next frame, from its old
 *     partner (the owner, or the last to know who is); one that was not in
 *     the old pair owns it (it has nobody to ask);
 *
 *   - a secondary does not own it, unless it owned it as the primary and
 *     its new partner was the bucket's next instance ('next', given to the
 *     primary): that is a handoff's swap, whose new primary claims the
 *     bucket from it, as it would from a secondary it swaps with;
 *
 *   - an instance that leaves the pair keeps what it owned, to give it up
 *     to the claim of the primary (its frames are not governed: they are
 *     the switch lagging behind the maps). */
void
claim_set_bucket(struct claim *c, uint32_t bucket, const char *partner,
                 bool in_pair, bool primary, const char *next)
{
    struct claim_bucket *b;
    const char *old, *old_next;
    bool was_in, was_owner;

    if (bucket >= c->n_buckets) {
        return;
    }
    b = &c->buckets[bucket];
    old_next = b->next;
    b->next = in_pair && primary ? intern__(c, next) : NULL;
    if (b->set && b->in_pair == in_pair && name_eq__(b->partner, partner)) {
        return;
    }
    stop_waiting__(c, b);
    was_in = b->set && b->in_pair;
    was_owner = b->set && b->owned;
    old = b->from ? b->from : b->partner;
    b->set = true;
    b->in_pair = in_pair;
    b->partner = intern__(c, partner);
    b->from = NULL;
    b->deferred = NULL;
    if (!in_pair) {
        b->owned = was_owner;
    } else if (!primary) {
        b->owned = (was_owner && was_in && old_next
                    && name_eq__(old_next, b->partner));
    } else if (was_owner || !was_in || !old) {
        b->owned = true;
    } else {
        b->owned = false;
        if (!name_eq__(old, b->partner)) {
            b->from = old;
        }
    }
}

/* Makes 'b' ours, ending any CLAIM of it; counts it in '*counter'. */
static void
take__(struct claim *c, struct claim_bucket *b, uint64_t *counter)
{
    stop_waiting__(c, b);
    b->owned = true;
    b->from = NULL;
    (*counter)++;
}

/* Returns whom a CLAIM of 'b' goes to. */
static const char *
target__(const struct claim_bucket *b)
{
    return b->from ? b->from : b->partner;
}

/* Says what to do with a frame of 'bucket' received at 'now'.
 * 'reachable' says whether the bucket's partner can be asked (we have a
 * replication connection from it): if not, an unowned bucket is taken at
 * once.  CLAIM_ASK means the caller sends the partner a CLAIM for the
 * bucket and queues the frame; CLAIM_QUEUE, only queues it. */
enum claim_verdict
claim_frame(struct claim *c, uint32_t bucket, bool reachable,
            long long int now)
{
    struct claim_bucket *b;

    if (bucket >= c->n_buckets) {
        return CLAIM_PROCESS;
    }
    b = &c->buckets[bucket];
    if (!b->in_pair || b->owned) {
        return CLAIM_PROCESS;
    }
    if (b->waiting) {
        return CLAIM_QUEUE;
    }
    if (!target__(b) || !reachable) {
        take__(c, b, &c->stats.n_unasked);
        return CLAIM_PROCESS;
    }
    b->waiting = true;
    b->asked = now;
    c->n_waiting++;
    c->stats.n_asked++;
    return CLAIM_ASK;
}

/* Returns the instance a CLAIM of 'bucket' goes to (the partner in the
 * newest map, or the one that left the pair), or NULL if none. */
const char *
claim_partner(const struct claim *c, uint32_t bucket)
{
    return bucket < c->n_buckets ? target__(&c->buckets[bucket]) : NULL;
}

/* Returns true if frames of 'bucket' are processed at once: we own it, or
 * it is not ours to govern. */
bool
claim_owns(const struct claim *c, uint32_t bucket)
{
    return (bucket >= c->n_buckets || !c->buckets[bucket].in_pair
            || c->buckets[bucket].owned);
}

/* Returns true if 'bucket' is ours to govern: we are in its pair. */
bool
claim_governs(const struct claim *c, uint32_t bucket)
{
    return bucket < c->n_buckets && c->buckets[bucket].in_pair;
}

/* Returns true if our CLAIM of 'bucket' is outstanding. */
bool
claim_is_waiting(const struct claim *c, uint32_t bucket)
{
    return bucket < c->n_buckets && c->buckets[bucket].waiting;
}

/* Instance 'from' claims 'bucket'.  Returns:
 *
 *   - CLAIM_GIVE if we owned the bucket and give it up now (the caller
 *     replicates every pending change, then answers RELEASE);
 *
 *   - CLAIM_DEFER if our own CLAIM of it is outstanding
 *     (claim_take_deferred() says when to answer);
 *
 *   - CLAIM_IGNORE if we neither own nor wait: our RELEASE to the claimer
 *     crossed its CLAIM.
 *
 * A CLAIM from an instance that our map does not name the bucket's
 * partner is treated the same (the maps differ for a moment, and the
 * claimer's may be the newer), and counted. */
enum claim_answer
claim_requested(struct claim *c, uint32_t bucket, const char *from)
{
    struct claim_bucket *b;

    if (bucket >= c->n_buckets) {
        c->stats.n_foreign++;
        c->stats.n_ignored++;
        return CLAIM_IGNORE;
    }
    b = &c->buckets[bucket];
    if (!b->in_pair || !name_eq__(b->partner, from)) {
        c->stats.n_foreign++;
    }
    if (b->owned) {
        b->owned = false;
        c->stats.n_given++;
        return CLAIM_GIVE;
    }
    if (b->waiting) {
        b->deferred = intern__(c, from);
        c->stats.n_deferred++;
        return CLAIM_DEFER;
    }
    c->stats.n_ignored++;
    return CLAIM_IGNORE;
}

/* Instance 'from' answered our CLAIM of 'bucket' with RELEASE: every change
 * it made before has reached us.  Returns true if we now own the bucket
 * (the caller processes its queued frames, then asks
 * claim_take_deferred()), false for a RELEASE we did not wait for. */
bool
claim_released(struct claim *c, uint32_t bucket, const char *from)
{
    if (bucket >= c->n_buckets || !c->buckets[bucket].waiting
        || !name_eq__(target__(&c->buckets[bucket]), from)) {
        c->stats.n_stray++;
        return false;
    }
    take__(c, &c->buckets[bucket], &c->stats.n_released);
    return true;
}

/* Returns the instance whose CLAIM of 'bucket' we deferred, now to be
 * answered (the caller replicates, then sends it RELEASE), or NULL if
 * none.  Call once our own CLAIM is over and its queued frames processed:
 * the bucket is then given up. */
const char *
claim_take_deferred(struct claim *c, uint32_t bucket)
{
    struct claim_bucket *b;
    const char *from;

    if (bucket >= c->n_buckets || !c->buckets[bucket].deferred
        || c->buckets[bucket].waiting) {
        return NULL;
    }
    b = &c->buckets[bucket];
    from = b->deferred;
    b->deferred = NULL;
    if (b->owned) {
        b->owned = false;
        c->stats.n_given++;
    }
    return from;
}

/* Takes every bucket whose CLAIM has been outstanding for 'wait' ms or more
 * at 'now': its partner did not answer (it is hung, or its replication
 * stalled).  Stores up to 'max' of them in 'buckets' and returns how many
 * (the caller processes their queues, then answers deferred CLAIMs). */
size_t
claim_expire(struct claim *c, long long int now, long long int wait,
             uint32_t *buckets, size_t max)
{
    size_t n = 0;

    for (size_t i = 0; c->n_waiting && i < c->n_buckets && n < max; i++) {
        struct claim_bucket *b = &c->buckets[i];

        if (b->waiting && now - b->asked >= wait) {
            take__(c, b, &c->stats.n_expired);
            buckets[n++] = i;
        }
    }
    return n;
}

/* The replication connection from 'partner' closed: it has nothing more to
 * send.  Takes every bucket whose CLAIM waited for it, storing up to 'max'
 * of them in 'buckets', and returns how many; forgets its deferred
 * CLAIMs. */
size_t
claim_partner_gone(struct claim *c, const char *partner, uint32_t *buckets,
                   size_t max)
{
    size_t n = 0;

    for (size_t i = 0; i < c->n_buckets; i++) {
        struct claim_bucket *b = &c->buckets[i];

        if (name_eq__(b->deferred, partner)) {
            b->deferred = NULL;
        }
        if (b->waiting && name_eq__(target__(b), partner) && n < max) {
            take__(c, b, &c->stats.n_gone);
            buckets[n++] = i;
        }
    }
    return n;
}

/* Returns when the first outstanding CLAIM ends, given the wait 'wait', or
 * LLONG_MAX if none is. */
long long int
claim_next_expiry(const struct claim *c, long long int wait)
{
    long long int next = LLONG_MAX;

    for (size_t i = 0; c->n_waiting && i < c->n_buckets; i++) {
        const struct claim_bucket *b = &c->buckets[i];

        if (b->waiting) {
            next = MIN(next, b->asked + wait);
        }
    }
    return next;
}

/* Returns the number of buckets whose CLAIM is outstanding. */
size_t
claim_n_waiting(const struct claim *c)
{
    return c->n_waiting;
}

const struct claim_stats *
claim_get_stats(const struct claim *c)
{
    return &c->stats;
}

/* Appends the counters of 'c' to 's', one line. */
void
claim_format(const struct claim *c, struct ds *s)
{
    const struct claim_stats *st = &c->stats;
    size_t n_owned = 0, n_pair = 0;

    for (size_t i = 0; i < c->n_buckets; i++) {
        n_pair += c->buckets[i].in_pair;
        n_owned += c->buckets[i].in_pair && c->buckets[i].owned;
    }
    ds_put_format(s, "claims: own %"PRIuSIZE" of %"PRIuSIZE" buckets, "
                  "waiting %"PRIuSIZE", asked %"PRIu64", released to us %"
                  PRIu64", taken unasked %"PRIu64", expired %"PRIu64", "
                  "partner gone %"PRIu64", given %"PRIu64", deferred %"PRIu64
                  ", crossed %"PRIu64", foreign %"PRIu64", stray %"PRIu64"\n",
                  n_owned, n_pair, c->n_waiting, st->n_asked,
                  st->n_released, st->n_unasked, st->n_expired, st->n_gone,
                  st->n_given, st->n_deferred, st->n_ignored, st->n_foreign,
                  st->n_stray);
}
