/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "svcmap.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

/* FNV-1a, 64 bits: offset basis and prime. */
#define SVCMAP_FNV_BASIS UINT64_C(0xcbf29ce484222325)
#define SVCMAP_FNV_PRIME UINT64_C(0x100000001b3)

/* Sets of states, as bits (see svcmap_state_bit__()), for svcmap_best__(). */
#define SVCMAP_MASK_UP (1u << SVCMAP_UP)
#define SVCMAP_MASK_COLD (1u << SVCMAP_COLD)
#define SVCMAP_MASK_LIVE (SVCMAP_MASK_UP | SVCMAP_MASK_COLD)

/* Returns hash 'h' updated by FNV-1a with the 'n' bytes at 'p'. */
static uint64_t
svcmap_fnv__(uint64_t h, const void *p, size_t n)
{
    const uint8_t *bytes = p;

    for (size_t i = 0; i < n; i++) {
        h = (h ^ bytes[i]) * SVCMAP_FNV_PRIME;
    }
    return h;
}

/* Returns the FNV-1a state after the service name 'service' and its 0 byte,
 * the part of the hash common to every score of one service. */
static uint64_t
svcmap_service_hash__(const char *service)
{
    return svcmap_fnv__(SVCMAP_FNV_BASIS, service, strlen(service) + 1);
}

/* Returns 'service_hash' (from svcmap_service_hash__()) continued with
 * 'bucket' as 4 bytes, most significant first. */
static uint64_t
svcmap_bucket_hash__(uint64_t service_hash, uint32_t bucket)
{
    uint8_t be[4] = { bucket >> 24, bucket >> 16, bucket >> 8, bucket };

    return svcmap_fnv__(service_hash, be, sizeof be);
}

/* Returns the score of the instance named 'instance' with 'weight', given
 * 'bucket_hash' from svcmap_bucket_hash__().  See svcmap_score() for the
 * formula. */
static double
svcmap_score__(uint64_t bucket_hash, const char *instance, uint32_t weight)
{
    uint64_t h = svcmap_fnv__(bucket_hash, instance, strlen(instance));
    double u;

    /* The splitmix64 finalizer. */
    h ^= h >> 30;
    h *= UINT64_C(0xbf58476d1ce4e5b9);
    h ^= h >> 27;
    h *= UINT64_C(0x94d049bb133111eb);
    h ^= h >> 31;

    /* Above 2^52 the sum rounds, and for the top value it rounds up to 2^53,
     * which would make 'u' 1 and the score infinite (of either sign): take
     * the largest double below 1 instead, the one nearest the exact value. */
    u = ((double) (h >> 11) + 0.5) * 0x1p-53;
    if (u >= 1.0) {
        u = 1.0 - 0x1p-53;
    }
    return weight / -log(u);
}

/* Returns the score of the instance named 'instance', with weight 'weight',
 * for bucket 'bucket' of the service named 'service'.  Higher is better.
 *
 * The formula, which every machine must follow exactly:
 *
 *   h = FNV-1a, 64 bits, over the bytes of 'service', one 0 byte, 'bucket'
 *       as 4 bytes big-endian, and the bytes of 'instance' (no 0 byte);
 *   h = splitmix64 finalizer of h:
 *       h ^= h >> 30; h *= 0xbf58476d1ce4e5b9;
 *       h ^= h >> 27; h *= 0x94d049bb133111eb;
 *       h ^= h >> 31;
 *   u = ((h >> 11) + 0.5) * 2^-53, in IEEE double, a uniform draw in (0,1)
 *       (if the rounding of the sum makes it 1, 1 - 2^-53 instead);
 *   score = weight / -log(u).
 *
 * -log(u) / weight is exponentially distributed with rate 'weight', so the
 * instance with the highest score wins a bucket with a probability
 * proportional to its weight (weighted rendezvous hashing).  Equal scores are
 * broken by the instance name, the smaller by strcmp() winning.  The result
 * depends on IEEE double arithmetic and on log(), which no standard requires
 * to be correctly rounded: two libms could differ in the last bit, which can
 * only reorder instances whose scores are that close. */
double
svcmap_score(const char *service, uint32_t bucket, const char *instance,
             uint32_t weight)
{
    uint64_t h = svcmap_bucket_hash__(svcmap_service_hash__(service), bucket);

    return svcmap_score__(h, instance, weight);
}

/* Returns true if an instance in 'state' may be in a bucket: UP or COLD. */
bool
svcmap_is_live(enum svcmap_state state)
{
    return state == SVCMAP_UP || state == SVCMAP_COLD;
}

/* Returns the name of 'state': "up", "cold", "down" or "disabled". */
const char *
svcmap_state_name(enum svcmap_state state)
{
    switch (state) {
    case SVCMAP_UP:
        return "up";
    case SVCMAP_COLD:
        return "cold";
    case SVCMAP_DOWN:
        return "down";
    case SVCMAP_DISABLED:
        return "disabled";
    }
    return "unknown";
}

/* Creates the map of the service named 'service' with 'n_buckets' buckets,
 * no instances, every bucket empty and epoch 0.  Returns NULL if
 * 'n_buckets' is not a power of 2 or is above 2^32 (a bucket number is 32
 * bits).  Free the map with svcmap_destroy(). */
struct svcmap *
svcmap_create(const char *service, size_t n_buckets)
{
    struct svcmap *map;

    if (!n_buckets || n_buckets & (n_buckets - 1)
        || (uint64_t) n_buckets > (uint64_t) UINT32_MAX + 1) {
        return NULL;
    }

    map = xzalloc(sizeof *map);
    map->service = xstrdup(service);
    map->n_buckets = n_buckets;
    map->buckets = xmalloc(n_buckets * sizeof *map->buckets);
    for (size_t b = 0; b < n_buckets; b++) {
        map->buckets[b].primary = SVCMAP_NONE;
        map->buckets[b].secondary = SVCMAP_NONE;
        map->buckets[b].next = SVCMAP_NONE;
        map->buckets[b].since = 0;
    }
    return map;
}

/* Frees 'map'.  Accepts NULL. */
void
svcmap_destroy(struct svcmap *map)
{
    if (!map) {
        return;
    }
    for (size_t i = 0; i < map->n_instances; i++) {
        free(map->instances[i].name);
    }
    free(map->instances);
    free(map->buckets);
    free(map->service);
    free(map);
}

/* Returns a deep copy of 'map', epoch included, to be freed with
 * svcmap_destroy(). */
struct svcmap *
svcmap_clone(const struct svcmap *map)
{
    struct svcmap *copy = xmemdup(map, sizeof *map);

    copy->service = xstrdup(map->service);
    copy->instances = xmalloc(map->n_instances * sizeof *copy->instances);
    for (size_t i = 0; i < map->n_instances; i++) {
        copy->instances[i] = map->instances[i];
        copy->instances[i].name = xstrdup(map->instances[i].name);
    }
    copy->buckets = xmemdup(map->buckets,
                            map->n_buckets * sizeof *map->buckets);
    return copy;
}

/* Adds to 'map' an instance named 'name' with 'weight', in state UP, and
 * returns its index.  Returns -1, and adds nothing, if 'map' already has an
 * instance named 'name' or if 'weight' is 0.  The new instance is in no
 * bucket until svcmap_assign() or svcmap_set_state() runs, and the epoch does
 * not change. */
int
svcmap_add_instance(struct svcmap *map, const char *name, uint32_t weight)
{
    struct svcmap_instance *inst;

    if (!weight || svcmap_find(map, name) >= 0) {
        return -1;
    }

    map->instances = xrealloc(map->instances, (map->n_instances + 1)
                              * sizeof *map->instances);
    inst = &map->instances[map->n_instances];
    inst->name = xstrdup(name);
    inst->weight = weight;
    inst->state = SVCMAP_UP;
    inst->draining = false;
    inst->domain = -1;
    return map->n_instances++;
}

/* Returns the index of the instance named 'name' in 'map', or -1 if there is
 * none. */
int
svcmap_find(const struct svcmap *map, const char *name)
{
    for (size_t i = 0; i < map->n_instances; i++) {
        if (!strcmp(map->instances[i].name, name)) {
            return i;
        }
    }
    return -1;
}

/* Stores in 'scores[i]' the score in bucket 'bucket' of 'map' of each live
 * instance 'i' of 'map', whose service hash is 'service_hash'.  The scores
 * of other instances are left alone: svcmap_best__() never reads them. */
static void
svcmap_score_bucket__(const struct svcmap *map, uint64_t service_hash,
                      uint32_t bucket, double *scores)
{
    uint64_t h = svcmap_bucket_hash__(service_hash, bucket);

    for (size_t i = 0; i < map->n_instances; i++) {
        const struct svcmap_instance *inst = &map->instances[i];

        if (svcmap_is_live(inst->state)) {
            scores[i] = svcmap_score__(h, inst->name, inst->weight);
        }
    }
}

/* Returns the bit of 'state' in a set of states, 0 for a value that is no
 * state. */
static unsigned int
svcmap_state_bit__(enum svcmap_state state)
{
    return (unsigned int) state <= SVCMAP_DISABLED ? 1u << state : 0;
}

/* Returns true if instance 'i' of 'map' shares the failure domain of
 * instance 'other' (neither SVCMAP_NONE, both in a known domain). */
static bool
svcmap_same_domain__(const struct svcmap *map, int i, int other)
{
    return (i != SVCMAP_NONE && other != SVCMAP_NONE
            && map->instances[i].domain >= 0
            && map->instances[i].domain == map->instances[other].domain);
}

/* Returns true if instance 'i' of 'map' ranks above instance 'best' (which
 * may be SVCMAP_NONE) for a bucket of 'scores', as the partner of 'exclude'
 * (or SVCMAP_NONE): one that is not draining wins over one that is, then
 * one outside the failure domain of 'exclude' over one in it, then the
 * higher score, then the lower name. */
static bool
svcmap_ranks_above__(const struct svcmap *map, const double *scores, int i,
                     int best, int exclude)
{
    const struct svcmap_instance *a = &map->instances[i];
    const struct svcmap_instance *b;
    bool a_near, b_near;

    if (best == SVCMAP_NONE) {
        return true;
    }
    b = &map->instances[best];
    if (a->draining != b->draining) {
        return b->draining;
    }
    a_near = svcmap_same_domain__(map, i, exclude);
    b_near = svcmap_same_domain__(map, best, exclude);
    if (a_near != b_near) {
        return b_near;
    }
    return (scores[i] > scores[best]
            || (scores[i] == scores[best] && strcmp(a->name, b->name) < 0));
}

/* Returns the best-ranked instance of 'map', other than 'exclude', whose
 * state is in 'mask' (bits from svcmap_state_bit__()), given the bucket's
 * 'scores', by svcmap_ranks_above__() (so, as the partner of 'exclude', in
 * another failure domain where there is one); or SVCMAP_NONE if there is
 * none.  'mask' may only name live states. */
static int
svcmap_best__(const struct svcmap *map, const double *scores,
                   unsigned int mask, int exclude)
{
    int best = SVCMAP_NONE;

    for (size_t i = 0; i < map->n_instances; i++) {
        const struct svcmap_instance *inst = &map->instances[i];

        if ((int) i == exclude || !(mask & svcmap_state_bit__(inst->state))) {
            continue;
        }
        if (svcmap_ranks_above__(map, scores, i, best, exclude)) {
            best = i;
        }
    }
    return best;
}

/* Fills every bucket of 'map' from scratch, ignoring its current contents:
 * the primary is the best-ranked UP instance, or if none is UP the
 * best-ranked COLD one; the secondary is the best-ranked live instance other
 * than the primary.  Draining instances are taken only where no other will
 * do.  Either may be SVCMAP_NONE.  Bumps the epoch. */
void
svcmap_assign(struct svcmap *map)
{
    uint64_t service_hash = svcmap_service_hash__(map->service);
    double *scores = xmalloc(MAX(map->n_instances, 1) * sizeof *scores);

    map->epoch++;
    for (size_t b = 0; b < map->n_buckets; b++) {
        struct svcmap_bucket *bucket = &map->buckets[b];
        int primary;

        svcmap_score_bucket__(map, service_hash, b, scores);
        primary = svcmap_best__(map, scores, SVCMAP_MASK_UP,
                                     SVCMAP_NONE);
        if (primary == SVCMAP_NONE) {
            primary = svcmap_best__(map, scores, SVCMAP_MASK_COLD,
                                         SVCMAP_NONE);
        }
        bucket->primary = primary;
        bucket->secondary = svcmap_best__(map, scores, SVCMAP_MASK_LIVE,
                                               primary);
        bucket->next = SVCMAP_NONE;
        bucket->since = map->epoch;
    }
    free(scores);
}

/* Returns the new primary of a bucket of 'map' whose current primary and
 * secondary are in 'old', given the bucket's 'scores'.  A live primary
 * stays; otherwise a live secondary takes over, UP or COLD, so that a
 * stream moves to the instance that holds a copy of its state (a COLD
 * secondary holds at least the part of the bucket sent to it so far, any
 * other instance none of it); without one, the best-ranked UP instance,
 * else the best-ranked COLD one. */
static int
svcmap_repair_primary__(const struct svcmap *map,
                        const struct svcmap_bucket *old, const double *scores)
{
    static const enum svcmap_state states[] = { SVCMAP_UP, SVCMAP_COLD };

    if (old->primary != SVCMAP_NONE
        && svcmap_is_live(map->instances[old->primary].state)) {
        return old->primary;
    }
    if (old->secondary != SVCMAP_NONE
        && svcmap_is_live(map->instances[old->secondary].state)) {
        return old->secondary;
    }
    for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
        int best = svcmap_best__(map, scores, svcmap_state_bit__(states[i]),
                                 SVCMAP_NONE);

        if (best != SVCMAP_NONE) {
            return best;
        }
    }
    return SVCMAP_NONE;
}

/* Returns true if instance 'i' of 'map' is live and is not 'other'. */
static bool
svcmap_live_other__(const struct svcmap *map, int i, int other)
{
    return (i != SVCMAP_NONE && i != other
            && svcmap_is_live(map->instances[i].state));
}

/* Returns the new secondary of bucket 'old' of 'map' whose new primary is
 * 'primary', given the bucket's 'scores': a live secondary stays (the
 * handoff policy moves it, at its own pace, if another should have the
 * job), else the bucket's live next instance, which the primary was
 * already sending the bucket to (if the primary stays), else the
 * best-ranked live instance other than the primary takes the job. */
static int
svcmap_repair_secondary__(const struct svcmap *map,
                          const struct svcmap_bucket *old, int primary,
                          const double *scores)
{
    if (svcmap_live_other__(map, old->secondary, primary)) {
        return old->secondary;
    }
    if (primary == old->primary
        && svcmap_live_other__(map, old->next, primary)) {
        return old->next;
    }
    return svcmap_best__(map, scores, SVCMAP_MASK_LIVE, primary);
}

/* Returns the next instance of bucket 'old' of 'map' once it has 'primary'
 * and 'secondary': the current one while it lives and the primary stays
 * (a new primary has sent it nothing), else none. */
static int
svcmap_repair_next__(const struct svcmap *map,
                     const struct svcmap_bucket *old, int primary,
                     int secondary)
{
    return (primary == old->primary && old->next != secondary
            && svcmap_live_other__(map, old->next, primary)
            ? old->next : SVCMAP_NONE);
}

/* Repairs every bucket of 'map' as svcmap_set_state() describes, without
 * bumping the epoch, and returns the number of buckets changed. */
static size_t
svcmap_repair__(struct svcmap *map)
{
    uint64_t service_hash = svcmap_service_hash__(map->service);
    double *scores = xmalloc(MAX(map->n_instances, 1) * sizeof *scores);
    size_t n_changed = 0;

    for (size_t b = 0; b < map->n_buckets; b++) {
        struct svcmap_bucket *bucket = &map->buckets[b];
        int primary, secondary, next;

        svcmap_score_bucket__(map, service_hash, b, scores);
        primary = svcmap_repair_primary__(map, bucket, scores);
        secondary = svcmap_repair_secondary__(map, bucket, primary, scores);
        next = svcmap_repair_next__(map, bucket, primary, secondary);
        if (primary != bucket->primary || secondary != bucket->secondary
            || next != bucket->next) {
            bucket->primary = primary;
            bucket->secondary = secondary;
            bucket->next = next;
            bucket->since = map->epoch + 1;
            n_changed++;
        }
    }
    free(scores);
    return n_changed;
}

/* Sets the state of instance 'instance' of 'map' to 'state', then repairs
 * every bucket:
 *
 *   - The primary is the current primary if it is live (UP or COLD), else
 *     the current secondary if it is live, else the best-ranked UP
 *     instance, else the best-ranked COLD one; else SVCMAP_NONE.
 *
 *   - The secondary is the current secondary if it is live and is not the
 *     primary, else the bucket's next instance if it is live and the
 *     primary stays, else the best-ranked live instance other than the
 *     primary, or SVCMAP_NONE.
 *
 *   - The next instance stays while it is live, the primary stays and it
 *     did not become the secondary; otherwise the bucket has none.
 *
 * Among instances ranked alike, one that is not draining is preferred.  So
 * an instance that goes DOWN or DISABLED leaves exactly the buckets it was
 * in, its primaries passing to their secondaries; a COLD instance is made
 * primary, while an UP one lives, only of a bucket it was the secondary of;
 * and an instance that comes (back)
 * takes nothing from a live instance, only the secondaries of buckets that
 * had none.  Moving buckets to the instances rendezvous hashing prefers is
 * the handoff policy's job.
 *
 * Returns the number of buckets whose primary, secondary or next instance
 * changed.  Bumps
 * the epoch if the state or any bucket changed.  Does nothing, returning 0,
 * if 'instance' is not an instance of 'map' or 'state' is no state. */
size_t
svcmap_set_state(struct svcmap *map, int instance, enum svcmap_state state)
{
    size_t n_changed;
    bool state_changed;

    if (instance < 0 || instance >= map->n_instances
        || !svcmap_state_bit__(state)) {
        return 0;
    }
    state_changed = map->instances[instance].state != state;
    map->instances[instance].state = state;

    n_changed = svcmap_repair__(map);
    if (state_changed || n_changed) {
        map->epoch++;
    }
    return n_changed;
}

/* Stores in '*primary' and '*secondary' the target of bucket 'bucket' of
 * 'map': among the live instances that are not draining, the best-ranked,
 * and the best-ranked after it in another failure domain where there is
 * one, whatever the bucket holds now.  Either may be SVCMAP_NONE. */
void
svcmap_target(const struct svcmap *map, uint32_t bucket, int *primary,
              int *secondary)
{
    uint64_t h = svcmap_bucket_hash__(svcmap_service_hash__(map->service),
                                      bucket);
    double *scores = xmalloc(MAX(map->n_instances, 1) * sizeof *scores);

    *primary = *secondary = SVCMAP_NONE;
    for (size_t i = 0; i < map->n_instances; i++) {
        const struct svcmap_instance *inst = &map->instances[i];

        if (svcmap_is_live(inst->state) && !inst->draining) {
            scores[i] = svcmap_score__(h, inst->name, inst->weight);
            if (svcmap_ranks_above__(map, scores, i, *primary,
                                     SVCMAP_NONE)) {
                *primary = i;
            }
        }
    }
    for (size_t i = 0; i < map->n_instances; i++) {
        const struct svcmap_instance *inst = &map->instances[i];

        if (svcmap_is_live(inst->state) && !inst->draining
            && (int) i != *primary
            && svcmap_ranks_above__(map, scores, i, *secondary, *primary)) {
            *secondary = i;
        }
    }
    free(scores);
}

/* Sets the failure domain of instance 'instance' of 'map' (the host it
 * runs on, say), 'domain' >= 0, or -1 for none: from then on a bucket's
 * secondary is chosen outside its primary's domain where an instance
 * there can take the job (a live secondary is not moved by a repair; the
 * target moves it, see svcmap_target()).  The epoch does not change. */
void
svcmap_set_domain(struct svcmap *map, int instance, int domain)
{
    map->instances[instance].domain = domain < 0 ? -1 : domain;
}

/* Returns the number of buckets of 'map' whose primary and secondary share
 * a failure domain: the anti-affinity that could not be met (or not yet,
 * while handoffs move the buckets to their targets). */
size_t
svcmap_count_same_domain(const struct svcmap *map)
{
    size_t n = 0;

    for (size_t b = 0; b < map->n_buckets; b++) {
        n += svcmap_same_domain__(map, map->buckets[b].primary,
                                  map->buckets[b].secondary);
    }
    return n;
}

/* Returns the number of buckets of 'map' whose target primary (see
 * svcmap_target()) is 'instance'. */
size_t
svcmap_count_target(const struct svcmap *map, int instance)
{
    size_t n = 0;

    for (size_t b = 0; b < map->n_buckets; b++) {
        int p, s;

        svcmap_target(map, b, &p, &s);
        n += p == instance;
    }
    return n;
}

/* Gives bucket 'bucket' of 'map' 'primary' and 'secondary' (instance
 * indexes or SVCMAP_NONE; they differ unless both are SVCMAP_NONE, and a
 * bucket without a primary has no secondary), and no next instance.  The
 * bucket's assignment holds from the next epoch: the caller bumps the
 * epoch once it has set every bucket it changes.  Does nothing if the
 * bucket already has them or the arguments are out of range. */
void
svcmap_set_bucket(struct svcmap *map, uint32_t bucket, int primary,
                  int secondary)
{
    struct svcmap_bucket *b;

    if (bucket >= map->n_buckets
        || primary < SVCMAP_NONE || primary >= (int) map->n_instances
        || secondary < SVCMAP_NONE || secondary >= (int) map->n_instances
        || (primary == secondary && primary != SVCMAP_NONE)
        || (primary == SVCMAP_NONE && secondary != SVCMAP_NONE)) {
        return;
    }
    b = &map->buckets[bucket];
    if (b->primary != primary || b->secondary != secondary
        || b->next != SVCMAP_NONE) {
        b->primary = primary;
        b->secondary = secondary;
        b->next = SVCMAP_NONE;
        b->since = map->epoch + 1;
    }
}

/* Makes 'next' (an instance index, or SVCMAP_NONE for none) the next
 * instance of bucket 'bucket' of 'map': the primary sends it the bucket's
 * streams in bulk and then every update, as it does to the secondary, but
 * the switch sends it no frame of the bucket.  So a secondary is replaced
 * only once its successor holds the state: until then the secondary keeps
 * its job (and its place in the fast-failover group), and a failure of the
 * primary finds it warm.  'next' must differ from the bucket's primary and
 * secondary, and the bucket must have a primary.  Like svcmap_set_bucket(),
 * holds from the next epoch; does nothing if the bucket already has it or
 * the arguments do not fit. */
void
svcmap_set_next(struct svcmap *map, uint32_t bucket, int next)
{
    struct svcmap_bucket *b;

    if (bucket >= map->n_buckets
        || next < SVCMAP_NONE || next >= (int) map->n_instances) {
        return;
    }
    b = &map->buckets[bucket];
    if (next != SVCMAP_NONE
        && (b->primary == SVCMAP_NONE || next == b->primary
            || next == b->secondary)) {
        return;
    }
    if (b->next != next) {
        b->next = next;
        b->since = map->epoch + 1;
    }
}

/* Returns true if 'instance' is the primary, the secondary or the next
 * instance of a bucket of 'map'. */
bool
svcmap_holds_any(const struct svcmap *map, int instance)
{
    for (size_t b = 0; b < map->n_buckets; b++) {
        if (map->buckets[b].primary == instance
            || map->buckets[b].secondary == instance
            || map->buckets[b].next == instance) {
            return true;
        }
    }
    return false;
}

/* Removes instance 'instance' from 'map', if it is in no bucket: the
 * instances after it move down by one, in the buckets too.  Returns true if
 * it was removed.  The epoch does not change; the caller bumps it. */
bool
svcmap_remove_instance(struct svcmap *map, int instance)
{
    if (instance < 0 || instance >= (int) map->n_instances
        || svcmap_holds_any(map, instance)) {
        return false;
    }
    free(map->instances[instance].name);
    memmove(&map->instances[instance], &map->instances[instance + 1],
            (map->n_instances - instance - 1) * sizeof *map->instances);
    map->n_instances--;
    for (size_t b = 0; b < map->n_buckets; b++) {
        struct svcmap_bucket *bucket = &map->buckets[b];

        bucket->primary -= bucket->primary > instance;
        bucket->secondary -= bucket->secondary > instance;
        bucket->next -= bucket->next > instance;
    }
    return true;
}

/* Makes the epoch of 'map' greater than 'seen', an epoch seen elsewhere
 * (an agent's, or one a controller issued before it restarted), if it is
 * not already, so that epochs never go backwards for the life of a
 * deployment.  An epoch of SVCMAP_MAX_EPOCH or more is ignored.  Returns
 * true if the epoch changed. */
bool
svcmap_raise_epoch(struct svcmap *map, uint64_t seen)
{
    if (map->epoch > seen || seen >= SVCMAP_MAX_EPOCH) {
        /* Far beyond what a deployment ever reaches: a corrupt or forged
         * report, which would bring the epoch close to wrapping. */
        return false;
    }
    map->epoch = seen + 1;
    return true;
}

/* Sets the state of instance 'j' of 'map' to 'state', as saved elsewhere:
 * its buckets are left as they are. */
void
svcmap_restore_state(struct svcmap *map, int j, enum svcmap_state state)
{
    ovs_assert(j >= 0 && (size_t) j < map->n_instances);
    map->instances[j].state = state;
}

/* Sets bucket 'b' of 'map' to 'primary', 'secondary' and 'next' (instance
 * indexes or SVCMAP_NONE), holding since epoch 'since', as saved
 * elsewhere. */
void
svcmap_restore_bucket(struct svcmap *map, uint32_t b, int primary,
                      int secondary, int next, uint64_t since)
{
    struct svcmap_bucket *bucket;

    ovs_assert(b < map->n_buckets);
    bucket = &map->buckets[b];
    bucket->primary = primary;
    bucket->secondary = secondary;
    bucket->next = next;
    bucket->since = since;
}

/* Sets the epoch of 'map' to 'epoch', as saved elsewhere. */
void
svcmap_restore_epoch(struct svcmap *map, uint64_t epoch)
{
    map->epoch = epoch;
}

/* Returns true if instance 'a' of 'map' and instance 'b' of 'other' are
 * the same by name, or both SVCMAP_NONE. */
static bool
svcmap_same_instance__(const struct svcmap *map, int a,
                       const struct svcmap *other, int b)
{
    return (a == SVCMAP_NONE || b == SVCMAP_NONE
            ? a == b
            : !strcmp(map->instances[a].name, other->instances[b].name));
}

/* Makes 'map' continue 'old', an earlier map of the same service (before a
 * configuration reload), as a difference: if both have the same bucket
 * count, every instance of 'map' that 'old' has takes over its state,
 * draining mark and buckets, and each bucket keeps its primary and
 * secondary where 'map' still has them; an instance new to 'map' joins
 * COLD and is in no bucket, except as the secondary of a bucket that had
 * none.  Buckets whose primary or secondary 'map' lacks are repaired as
 * if those had failed (the caller keeps instances that still hold buckets
 * until they are drained, so that none is lost this way).  The epoch goes
 * on from the old map's, bumped if anything the agents see changed (an
 * instance added, removed or moved in the list, or a bucket).  Returns
 * true.
 *
 * With another bucket count the buckets cannot be carried over: 'map' is
 * assigned afresh with svcmap_assign(), at an epoch above that of 'old',
 * and false is returned. */
bool
svcmap_continue(struct svcmap *map, const struct svcmap *old)
{
    bool changed = map->n_instances != old->n_instances;
    int *to_new;

    map->epoch = MAX(map->epoch, old->epoch);
    if (map->n_buckets != old->n_buckets) {
        svcmap_assign(map);
        return false;
    }
    for (size_t j = 0; j < map->n_instances; j++) {
        /* An instance new to the map holds no stream yet. */
        map->instances[j].state = SVCMAP_COLD;
    }
    to_new = xmalloc(MAX(old->n_instances, 1) * sizeof *to_new);
    for (size_t i = 0; i < old->n_instances; i++) {
        int j = svcmap_find(map, old->instances[i].name);

        to_new[i] = j < 0 ? SVCMAP_NONE : j;
        changed |= j != (int) i;
        if (j >= 0) {
            map->instances[j].state = old->instances[i].state;
            map->instances[j].draining = old->instances[i].draining;
        }
    }
    map->epoch = old->epoch;
    for (size_t b = 0; b < map->n_buckets; b++) {
        const struct svcmap_bucket *ob = &old->buckets[b];
        struct svcmap_bucket *nb = &map->buckets[b];

        nb->primary = (ob->primary == SVCMAP_NONE ? SVCMAP_NONE
                       : to_new[ob->primary]);
        nb->secondary = (ob->secondary == SVCMAP_NONE ? SVCMAP_NONE
                         : to_new[ob->secondary]);
        nb->next = ob->next == SVCMAP_NONE ? SVCMAP_NONE : to_new[ob->next];
        nb->since = ob->since;
    }
    free(to_new);
    changed |= svcmap_repair__(map) > 0;
    for (size_t b = 0; b < map->n_buckets; b++) {
        /* A bucket whose instances went keeps no report from before. */
        const struct svcmap_bucket *ob = &old->buckets[b];
        struct svcmap_bucket *nb = &map->buckets[b];

        if (!svcmap_same_instance__(map, nb->primary, old, ob->primary)
            || !svcmap_same_instance__(map, nb->secondary,
                                       old, ob->secondary)
            || !svcmap_same_instance__(map, nb->next, old, ob->next)) {
            nb->since = map->epoch + 1;
            changed = true;
        }
    }
    if (changed) {
        map->epoch++;
    }
    return true;
}

/* Returns the number of buckets of 'map' whose primary is 'instance'. */
size_t
svcmap_count_primary(const struct svcmap *map, int instance)
{
    size_t n = 0;

    for (size_t b = 0; b < map->n_buckets; b++) {
        n += map->buckets[b].primary == instance;
    }
    return n;
}

/* Returns the number of buckets of 'map' whose secondary is 'instance'. */
size_t
svcmap_count_secondary(const struct svcmap *map, int instance)
{
    size_t n = 0;

    for (size_t b = 0; b < map->n_buckets; b++) {
        n += map->buckets[b].secondary == instance;
    }
    return n;
}
