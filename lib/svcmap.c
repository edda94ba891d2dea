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

/* Returns the best-ranked instance of 'map', other than 'exclude', whose
 * state is in 'mask' (bits from svcmap_state_bit__()), given the bucket's
 * 'scores'; or SVCMAP_NONE if there is none.  'mask' may only name live
 * states. */
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
        if (best == SVCMAP_NONE || scores[i] > scores[best]
            || (scores[i] == scores[best]
                && strcmp(inst->name, map->instances[best].name) < 0)) {
            best = i;
        }
    }
    return best;
}

/* Returns true if 'instance' is an instance of 'map' in 'state', false for
 * SVCMAP_NONE. */
static bool
svcmap_in_state__(const struct svcmap *map, int instance,
                  enum svcmap_state state)
{
    return instance != SVCMAP_NONE && map->instances[instance].state == state;
}

/* Fills every bucket of 'map' from scratch, ignoring its current contents:
 * the primary is the best-ranked UP instance, or if none is UP the
 * best-ranked COLD one; the secondary is the best-ranked live instance other
 * than the primary.  Either may be SVCMAP_NONE.  Bumps the epoch. */
void
svcmap_assign(struct svcmap *map)
{
    uint64_t service_hash = svcmap_service_hash__(map->service);
    double *scores = xmalloc(map->n_instances * sizeof *scores);

    for (size_t b = 0; b < map->n_buckets; b++) {
        struct svcmap_bucket *bucket = &map->buckets[b];
        int primary;

        svcmap_score_bucket__(map, service_hash, b, scores);
        primary = svcmap_best__(map, scores, SVCMAP_MASK_UP, SVCMAP_NONE);
        if (primary == SVCMAP_NONE) {
            primary = svcmap_best__(map, scores, SVCMAP_MASK_COLD,
                                    SVCMAP_NONE);
        }
        bucket->primary = primary;
        bucket->secondary = svcmap_best__(map, scores, SVCMAP_MASK_LIVE,
                                          primary);
    }
    free(scores);
    map->epoch++;
}

/* Returns the new primary of a bucket of 'map' whose current primary and
 * secondary are in 'old', given the bucket's 'scores'.  A healthy primary
 * stays; otherwise the secondary takes over, so that a stream moves to the
 * instance that holds a copy of its state. */
static int
svcmap_repair_primary__(const struct svcmap *map,
                        const struct svcmap_bucket *old, const double *scores)
{
    static const enum svcmap_state states[] = { SVCMAP_UP, SVCMAP_COLD };

    for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
        enum svcmap_state state = states[i];

        int best;

        if (svcmap_in_state__(map, old->primary, state)) {
            return old->primary;
        }
        if (svcmap_in_state__(map, old->secondary, state)) {
            return old->secondary;
        }
        best = svcmap_best__(map, scores, svcmap_state_bit__(state),
                             SVCMAP_NONE);
        if (best != SVCMAP_NONE) {
            return best;
        }
    }
    return SVCMAP_NONE;
}

/* Sets the state of instance 'instance' of 'map' to 'state', then repairs
 * every bucket:
 *
 *   - The primary is the current primary if it is UP, else the current
 *     secondary if it is UP, else the best-ranked UP instance; if no
 *     instance is UP, the same in turn with COLD; else SVCMAP_NONE.
 *
 *   - The secondary is the best-ranked live instance other than the
 *     primary, or SVCMAP_NONE.
 *
 * So an instance that goes DOWN or DISABLED leaves exactly the buckets it
 * was in, its primaries passing to their secondaries; a COLD instance is
 * never made primary while an UP one lives; and an instance that comes (back)
 * UP takes no primary from a healthy instance, only the secondaries it ranks
 * best for.
 *
 * Returns the number of buckets whose primary or secondary changed.  Bumps
 * the epoch if the state or any bucket changed.  Does nothing, returning 0,
 * if 'instance' is not an instance of 'map' or 'state' is no state. */
size_t
svcmap_set_state(struct svcmap *map, int instance, enum svcmap_state state)
{
    uint64_t service_hash;
    size_t n_changed = 0;
    bool state_changed;
    double *scores;

    if (instance < 0 || instance >= map->n_instances
        || !svcmap_state_bit__(state)) {
        return 0;
    }
    state_changed = map->instances[instance].state != state;
    map->instances[instance].state = state;

    service_hash = svcmap_service_hash__(map->service);
    scores = xmalloc(map->n_instances * sizeof *scores);
    for (size_t b = 0; b < map->n_buckets; b++) {
        struct svcmap_bucket *bucket = &map->buckets[b];
        struct svcmap_bucket new;

        svcmap_score_bucket__(map, service_hash, b, scores);
        new.primary = svcmap_repair_primary__(map, bucket, scores);
        new.secondary = svcmap_best__(map, scores, SVCMAP_MASK_LIVE,
                                      new.primary);
        if (new.primary != bucket->primary
            || new.secondary != bucket->secondary) {
            *bucket = new;
            n_changed++;
        }
    }
    free(scores);

    if (state_changed || n_changed) {
        map->epoch++;
    }
    return n_changed;
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

/* Makes 'map' continue 'old', an earlier map of the same service (before a
 * configuration reload): if both have the same bucket count and the same
 * instances with the same weights, in any order, 'map' takes over the
 * assignment of 'old', instance states and epoch included, and true is
 * returned.  Otherwise 'map' is assigned afresh with svcmap_assign(), at an
 * epoch above that of 'old', and false is returned. */
bool
svcmap_continue(struct svcmap *map, const struct svcmap *old)
{
    int *to_new;

    map->epoch = MAX(map->epoch, old->epoch);
    if (map->n_buckets != old->n_buckets
        || map->n_instances != old->n_instances) {
        svcmap_assign(map);
        return false;
    }
    to_new = xmalloc(MAX(old->n_instances, 1) * sizeof *to_new);
    for (size_t i = 0; i < old->n_instances; i++) {
        int j = svcmap_find(map, old->instances[i].name);

        if (j < 0 || map->instances[j].weight != old->instances[i].weight) {
            free(to_new);
            svcmap_assign(map);
            return false;
        }
        to_new[i] = j;
    }
    for (size_t i = 0; i < old->n_instances; i++) {
        map->instances[to_new[i]].state = old->instances[i].state;
    }
    for (size_t b = 0; b < map->n_buckets; b++) {
        int p = old->buckets[b].primary, s = old->buckets[b].secondary;

        map->buckets[b].primary = p == SVCMAP_NONE ? SVCMAP_NONE : to_new[p];
        map->buckets[b].secondary = (s == SVCMAP_NONE ? SVCMAP_NONE
                                     : to_new[s]);
    }
    map->epoch = old->epoch;
    free(to_new);
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
