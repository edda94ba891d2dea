/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <CUnit/CUnit.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "svcmap.h"
#include "tests.h"

/* Returns a map of service 'service' with 'n_buckets' buckets and
 * 'n_instances' instances named "<service>-1", "<service>-2", ..., with the
 * weights in 'weights' (all 1 if NULL), assigned. */
static struct svcmap *
new_map(const char *service, size_t n_buckets, int n_instances,
        const uint32_t *weights)
{
    struct svcmap *map = svcmap_create(service, n_buckets);

    CU_ASSERT_PTR_NOT_NULL_FATAL(map);
    for (int i = 0; i < n_instances; i++) {
        char name[64];

        snprintf(name, sizeof name, "%s-%d", service, i + 1);
        CU_ASSERT_EQUAL(svcmap_add_instance(map, name,
                                            weights ? weights[i] : 1), i);
    }
    svcmap_assign(map);
    return map;
}

/* Returns the instance of 'map' with the highest svcmap_score() in 'bucket'
 * among those whose state makes 'accept' return true, other than 'exclude',
 * the smaller name winning a tie; or SVCMAP_NONE.  Computed the slow way, as a
 * check on the module's own ranking. */
static int
brute_best(const struct svcmap *map, uint32_t bucket,
           bool (*accept)(enum svcmap_state), int exclude)
{
    int best = SVCMAP_NONE;
    double best_score = 0;

    for (int i = 0; i < map->n_instances; i++) {
        const struct svcmap_instance *inst = &map->instances[i];
        double score;

        if (i == exclude || !accept(inst->state)) {
            continue;
        }
        score = svcmap_score(map->service, bucket, inst->name, inst->weight);
        if (best == SVCMAP_NONE || score > best_score
            || (score == best_score
                && strcmp(inst->name, map->instances[best].name) < 0)) {
            best = i;
            best_score = score;
        }
    }
    return best;
}

/* Returns true if 'state' is UP. */
static bool
is_up(enum svcmap_state state)
{
    return state == SVCMAP_UP;
}

/* Returns true if 'state' is COLD. */
static bool
is_cold(enum svcmap_state state)
{
    return state == SVCMAP_COLD;
}

/* Returns true if 'a' and 'b' have the same service, buckets, instances and
 * epoch. */
static bool
maps_equal(const struct svcmap *a, const struct svcmap *b)
{
    if (strcmp(a->service, b->service) || a->n_buckets != b->n_buckets
        || a->n_instances != b->n_instances || a->epoch != b->epoch) {
        return false;
    }
    for (size_t i = 0; i < a->n_instances; i++) {
        if (strcmp(a->instances[i].name, b->instances[i].name)
            || a->instances[i].weight != b->instances[i].weight
            || a->instances[i].state != b->instances[i].state
            || a->instances[i].draining != b->instances[i].draining) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_buckets; i++) {
        const struct svcmap_bucket *x = &a->buckets[i];
        const struct svcmap_bucket *y = &b->buckets[i];

        if (x->primary != y->primary || x->secondary != y->secondary
            || x->next != y->next || x->since != y->since) {
            return false;
        }
    }
    return true;
}

/* Returns the number of buckets whose primary differs between 'a' and
 * 'b'. */
static size_t
primaries_changed(const struct svcmap *a, const struct svcmap *b)
{
    size_t n = 0;

    for (size_t i = 0; i < a->n_buckets; i++) {
        n += a->buckets[i].primary != b->buckets[i].primary;
    }
    return n;
}

/* Checks that in every bucket of 'map' the secondary is the best-ranked
 * live instance other than the primary, and that no live instance is
 * missing from a bucket for lack of a secondary. */
static void
check_secondaries(const struct svcmap *map)
{
    for (size_t b = 0; b < map->n_buckets; b++) {
        const struct svcmap_bucket *bucket = &map->buckets[b];

        CU_ASSERT_EQUAL(bucket->secondary,
                        brute_best(map, b, svcmap_is_live, bucket->primary));
        CU_ASSERT(bucket->secondary == SVCMAP_NONE
                  || bucket->secondary != bucket->primary);
    }
}

/* Returns the instance that svcmap_set_state() ranks first in 'bucket' of
 * 'map' among those in a state 'accept' takes, other than 'exclude': the
 * best-ranked one that is not draining, or if there is none the
 * best-ranked draining one; or SVCMAP_NONE. */
static int
brute_pick(const struct svcmap *map, uint32_t bucket,
           bool (*accept)(enum svcmap_state), int exclude)
{
    for (int pass = 0; pass < 2; pass++) {
        int best = SVCMAP_NONE;
        double best_score = 0;

        for (int i = 0; i < map->n_instances; i++) {
            const struct svcmap_instance *inst = &map->instances[i];
            double score;

            if (i == exclude || !accept(inst->state)
                || inst->draining != (pass == 1)) {
                continue;
            }
            score = svcmap_score(map->service, bucket, inst->name,
                                 inst->weight);
            if (best == SVCMAP_NONE || score > best_score
                || (score == best_score
                    && strcmp(inst->name, map->instances[best].name) < 0)) {
                best = i;
                best_score = score;
            }
        }
        if (best != SVCMAP_NONE) {
            return best;
        }
    }
    return SVCMAP_NONE;
}

static bool is_up(enum svcmap_state);
static bool is_cold(enum svcmap_state);

/* Checks that 'map' is 'before' (with the same instances, in the states
 * 'map' has now) repaired as svcmap_set_state() specifies, bucket by
 * bucket, worked out again here: a live primary stays, else the old
 * secondary if UP, else the best UP instance, else the same with COLD; a
 * live secondary that is not the new primary stays, else the best live
 * instance but the primary.  Returns the number of buckets that changed,
 * and checks that those, and only those, have 'since' one above the epoch
 * of 'before'. */
static size_t
check_repair(const struct svcmap *before, const struct svcmap *map)
{
    size_t n_changed = 0;

    for (size_t b = 0; b < map->n_buckets; b++) {
        const struct svcmap_bucket *old = &before->buckets[b];
        const struct svcmap_bucket *new = &map->buckets[b];
        int primary, secondary;

        if (old->primary != SVCMAP_NONE
            && svcmap_is_live(map->instances[old->primary].state)) {
            primary = old->primary;
        } else if (old->secondary != SVCMAP_NONE
                   && map->instances[old->secondary].state == SVCMAP_UP) {
            primary = old->secondary;
        } else if ((primary = brute_pick(map, b, is_up, SVCMAP_NONE))
                   != SVCMAP_NONE) {
            /* The best UP instance. */
        } else if (old->secondary != SVCMAP_NONE
                   && map->instances[old->secondary].state == SVCMAP_COLD) {
            primary = old->secondary;
        } else {
            primary = brute_pick(map, b, is_cold, SVCMAP_NONE);
        }
        if (old->secondary != SVCMAP_NONE && old->secondary != primary
            && svcmap_is_live(map->instances[old->secondary].state)) {
            secondary = old->secondary;
        } else {
            secondary = brute_pick(map, b, svcmap_is_live, primary);
        }
        CU_ASSERT_EQUAL(new->primary, primary);
        CU_ASSERT_EQUAL(new->secondary, secondary);
        if (old->primary != new->primary
            || old->secondary != new->secondary) {
            CU_ASSERT_EQUAL(new->since, before->epoch + 1);
            n_changed++;
        } else {
            CU_ASSERT_EQUAL(new->since, old->since);
        }
    }
    return n_changed;
}

/* Sets instance 'i' of '*map' to 'state' and checks the repair with
 * check_repair(), the count returned and the epoch.  Returns the number of
 * buckets changed. */
static size_t
set_state_checked(struct svcmap *map, int i, enum svcmap_state state)
{
    struct svcmap *before = svcmap_clone(map);
    bool state_changed = map->instances[i].state != state;
    size_t n = svcmap_set_state(map, i, state);

    CU_ASSERT_EQUAL(map->instances[i].state, state);
    CU_ASSERT_EQUAL(check_repair(before, map), n);
    CU_ASSERT_EQUAL(map->epoch,
                    before->epoch + (state_changed || n ? 1 : 0));
    svcmap_destroy(before);
    return n;
}

/* FNV-1a, 64 bits, of the 'n' bytes at 'p' continuing from 'h'. */
static uint64_t
ref_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    while (n--) {
        h ^= *s++;
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* The splitmix64 finalizer of 'z'. */
static uint64_t
ref_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* svcmap_score() written out again from its specification, for 'service',
 * 'bucket', 'instance' and 'weight'. */
static double
ref_score(const char *service, uint32_t bucket, const char *instance,
          uint32_t weight)
{
    unsigned char be[4] = { bucket >> 24, bucket >> 16, bucket >> 8, bucket };
    uint64_t h = 0xcbf29ce484222325ULL;
    double u;

    h = ref_fnv(h, service, strlen(service));
    h = ref_fnv(h, "", 1);
    h = ref_fnv(h, be, 4);
    h = ref_fnv(h, instance, strlen(instance));
    h = ref_mix(h);
    u = ((double) (h >> 11) + 0.5) / 9007199254740992.0;
    return weight / -log(u);
}

/* Checks svcmap_score() against the formula written out again, and pins one
 * value. */
static void
test_score_formula(void)
{
    static const char *names[] = { "fw-1", "fw-2", "", "a-much-longer-name" };

    /* The reference's parts against published values: FNV-1a test vectors
     * and the first output of splitmix64 seeded with 0. */
    CU_ASSERT_EQUAL(ref_fnv(0xcbf29ce484222325ULL, "a", 1),
                    0xaf63dc4c8601ec8cULL);
    CU_ASSERT_EQUAL(ref_fnv(0xcbf29ce484222325ULL, "foobar", 6),
                    0x85944171f73967e8ULL);
    CU_ASSERT_EQUAL(ref_mix(0x9e3779b97f4a7c15ULL), 0xe220a8397b1dcdafULL);

    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        static const uint32_t buckets[] = {
            0, 1, 255, 0x12345678, UINT32_MAX
        };

        for (size_t j = 0; j < sizeof buckets / sizeof *buckets; j++) {
            for (uint32_t w = 1; w <= 1000; w *= 10) {
                CU_ASSERT_EQUAL(svcmap_score("fw", buckets[j], names[i], w),
                                ref_score("fw", buckets[j], names[i], w));
            }
        }
    }

    /* One value, fixed: a change of the hash or the formula shows here. */
    CU_ASSERT_DOUBLE_EQUAL(svcmap_score("fw", 0, "fw-3", 1),
                           34.96503854866468, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(svcmap_score("fw", 0, "fw-3", 3),
                           3 * 34.96503854866468, 1e-9);
    /* Every part of the input counts. */
    CU_ASSERT_NOT_EQUAL(svcmap_score("fw", 0, "fw-3", 1),
                        svcmap_score("fx", 0, "fw-3", 1));
    CU_ASSERT_NOT_EQUAL(svcmap_score("fw", 0, "fw-3", 1),
                        svcmap_score("fw", 1 << 24, "fw-3", 1));
    CU_ASSERT_NOT_EQUAL(svcmap_score("fw", 0, "fw-3", 1),
                        svcmap_score("fw", 0, "fw-4", 1));
    /* The 0 byte keeps the service and the bucket apart. */
    CU_ASSERT_NOT_EQUAL(svcmap_score("ab", 0, "x", 1),
                        svcmap_score("a", 'b' << 24, "x", 1));
}

/* Checks a small assignment against a fixed table and against brute
 * force. */
static void
test_golden(void)
{
    /* Computed once with this implementation, checked by hand against the
     * scores, and against brute_best() below. */
    static const struct svcmap_bucket golden[8] = {
#define G(P, S) { P, S, SVCMAP_NONE, 0 }
        G(2, 1), G(2, 1), G(1, 0), G(0, 2), G(0, 1), G(0, 2), G(0, 2), G(1, 0),
#undef G
    };
    struct svcmap *map = new_map("fw", 8, 3, NULL);

    CU_ASSERT_EQUAL(map->epoch, 1);
    for (size_t b = 0; b < 8; b++) {
        int primary = brute_best(map, b, svcmap_is_live, SVCMAP_NONE);

        CU_ASSERT_EQUAL(map->buckets[b].primary, golden[b].primary);
        CU_ASSERT_EQUAL(map->buckets[b].secondary, golden[b].secondary);
        CU_ASSERT_EQUAL(map->buckets[b].primary, primary);
        CU_ASSERT_EQUAL(map->buckets[b].secondary,
                        brute_best(map, b, svcmap_is_live, primary));
    }
    svcmap_destroy(map);
}

/* Checks that the same configuration gives the same map, whatever the
 * order in which instances are added. */
static void
test_determinism(void)
{
    static const uint32_t weights[] = { 1, 3, 2, 1, 5 };
    static const char *names[] = { "a", "b", "c", "d", "e" };
    struct svcmap *a = new_map("ids", 1024, 5, weights);
    struct svcmap *b = new_map("ids", 1024, 5, weights);
    struct svcmap *c = svcmap_create("ids", 1024);
    struct svcmap *copy;

    CU_ASSERT_TRUE(maps_equal(a, b));
    svcmap_set_state(a, 2, SVCMAP_DOWN);
    svcmap_set_state(b, 2, SVCMAP_DOWN);
    CU_ASSERT_TRUE(maps_equal(a, b));

    copy = svcmap_clone(a);
    CU_ASSERT_TRUE(maps_equal(a, copy));
    CU_ASSERT_PTR_NOT_EQUAL(copy->instances[0].name, a->instances[0].name);
    svcmap_destroy(copy);

    /* The order in which instances are added changes their indices, not
     * which instance gets a bucket. */
    for (int i = 4; i >= 0; i--) {
        CU_ASSERT_EQUAL(svcmap_add_instance(c, names[i], weights[i]), 4 - i);
    }
    svcmap_assign(c);
    svcmap_destroy(a);
    a = svcmap_create("ids", 1024);
    for (int i = 0; i < 5; i++) {
        svcmap_add_instance(a, names[i], weights[i]);
    }
    svcmap_assign(a);
    for (size_t i = 0; i < a->n_buckets; i++) {
        CU_ASSERT_EQUAL(4 - c->buckets[i].primary, a->buckets[i].primary);
        CU_ASSERT_EQUAL(4 - c->buckets[i].secondary,
                        a->buckets[i].secondary);
    }

    svcmap_destroy(a);
    svcmap_destroy(b);
    svcmap_destroy(c);
}

/* Asserts that 'n' is within 'percent' percent of 'expected'. */
#define ASSERT_NEAR(N, EXPECTED, PERCENT)                                  \
    CU_ASSERT((N) * 100 >= (EXPECTED) * (100 - (PERCENT))                 \
              && (N) * 100 <= (EXPECTED) * (100 + (PERCENT)))

/* Checks that buckets spread in proportion to the weights. */
static void
test_spread(void)
{
    static const uint32_t weights[] = { 1, 1, 2 };
    struct svcmap *map;

    /* A bucket count is binomial: for 256 buckets and 4 instances, 64 with
     * a standard deviation of 7, so a window of 25% is 2.3 deviations and
     * about one service name in seven misses it by chance somewhere (the
     * measured variance over 2000 names is the binomial one).  This name
     * does not; 4096 buckets, below, leave no room for luck. */
    map = new_map("ids", 256, 4, NULL);
    for (int i = 0; i < 4; i++) {
        ASSERT_NEAR(svcmap_count_primary(map, i), 64, 25);
        ASSERT_NEAR(svcmap_count_secondary(map, i), 64, 25);
    }
    CU_ASSERT_EQUAL(svcmap_count_primary(map, SVCMAP_NONE), 0);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, SVCMAP_NONE), 0);
    check_secondaries(map);
    svcmap_destroy(map);

    /* Weight 2 of a total of 4: half the primaries.  (A third of the
     * secondaries each, as the best of the rest.) */
    map = new_map("ids", 256, 3, weights);
    ASSERT_NEAR(svcmap_count_primary(map, 2), 128, 25);
    ASSERT_NEAR(svcmap_count_primary(map, 0), 64, 25);
    ASSERT_NEAR(svcmap_count_primary(map, 1), 64, 25);
    svcmap_destroy(map);

    /* With 4096 buckets, 10% is at least 3.5 standard deviations. */
    map = new_map("nat", 4096, 4, NULL);
    for (int i = 0; i < 4; i++) {
        ASSERT_NEAR(svcmap_count_primary(map, i), 1024, 10);
        ASSERT_NEAR(svcmap_count_secondary(map, i), 1024, 10);
    }
    svcmap_destroy(map);
    map = new_map("nat", 4096, 3, weights);
    ASSERT_NEAR(svcmap_count_primary(map, 2), 2048, 10);
    for (int i = 0; i < 3; i++) {
        ASSERT_NEAR(svcmap_count_secondary(map, i), 1365, 10);
    }
    svcmap_destroy(map);
}

/* Checks that a failure changes exactly the buckets the instance was in. */
static void
test_failure_moves_only_its_buckets(void)
{
    struct svcmap *map = new_map("fw", 256, 4, NULL);
    struct svcmap *before = svcmap_clone(map);
    size_t n_changed, n_expected = 0;

    n_changed = svcmap_set_state(map, 1, SVCMAP_DOWN);
    for (size_t b = 0; b < map->n_buckets; b++) {
        const struct svcmap_bucket *old = &before->buckets[b];
        const struct svcmap_bucket *new = &map->buckets[b];
        bool held = old->primary == 1 || old->secondary == 1;
        bool changed = (old->primary != new->primary
                        || old->secondary != new->secondary);

        CU_ASSERT_EQUAL(held, changed);
        CU_ASSERT_NOT_EQUAL(new->primary, 1);
        CU_ASSERT_NOT_EQUAL(new->secondary, 1);
        /* The others all UP, the result is what ranking alone gives. */
        CU_ASSERT_EQUAL(new->primary, brute_best(map, b, is_up, SVCMAP_NONE));
        n_expected += held;
    }
    CU_ASSERT(n_expected > 0);
    CU_ASSERT_EQUAL(n_changed, n_expected);
    CU_ASSERT_EQUAL(map->epoch, before->epoch + 1);
    CU_ASSERT_EQUAL(map->instances[1].state, SVCMAP_DOWN);

    svcmap_destroy(before);
    svcmap_destroy(map);
}

/* Checks that the old secondary takes over a failed primary's buckets. */
static void
test_secondary_promoted(void)
{
    struct svcmap *map = new_map("fw", 256, 4, NULL);
    struct svcmap *before = svcmap_clone(map);
    size_t n = 0;

    svcmap_set_state(map, 3, SVCMAP_DOWN);
    for (size_t b = 0; b < map->n_buckets; b++) {
        if (before->buckets[b].primary == 3) {
            CU_ASSERT_EQUAL(map->buckets[b].primary,
                            before->buckets[b].secondary);
            n++;
        } else {
            CU_ASSERT_EQUAL(map->buckets[b].primary,
                            before->buckets[b].primary);
        }
    }
    CU_ASSERT(n > 0);

    /* A second failure: the secondary named after the first takes over. */
    svcmap_destroy(before);
    before = svcmap_clone(map);
    svcmap_set_state(map, 0, SVCMAP_DOWN);
    for (size_t b = 0; b < map->n_buckets; b++) {
        if (before->buckets[b].primary == 0) {
            CU_ASSERT_EQUAL(map->buckets[b].primary,
                            before->buckets[b].secondary);
        }
    }

    svcmap_destroy(before);
    svcmap_destroy(map);

    /* An instance added without a new assignment ranks first in some
     * buckets but holds no state there yet: the secondary still wins. */
    map = new_map("fw", 256, 4, NULL);
    CU_ASSERT_EQUAL(svcmap_add_instance(map, "fw-5", 1), 4);
    before = svcmap_clone(map);
    svcmap_set_state(map, 0, SVCMAP_DOWN);
    n = 0;
    for (size_t b = 0; b < map->n_buckets; b++) {
        if (before->buckets[b].primary == 0) {
            CU_ASSERT_EQUAL(map->buckets[b].primary,
                            before->buckets[b].secondary);
            n += brute_best(map, b, is_up, SVCMAP_NONE) == 4;
        }
    }
    CU_ASSERT(n > 0);
    /* Nor does it take a secondary's place: only buckets that lost theirs
     * (those fw-1 was in) get a new one, the best-ranked of the rest, which
     * is sometimes fw-5. */
    CU_ASSERT_EQUAL(check_repair(before, map),
                    svcmap_count_primary(before, 0)
                    + svcmap_count_secondary(before, 0));
    CU_ASSERT(svcmap_count_secondary(map, 4) > 0);
    for (size_t b = 0; b < map->n_buckets; b++) {
        if (map->buckets[b].secondary == 4) {
            CU_ASSERT(before->buckets[b].primary == 0
                      || before->buckets[b].secondary == 0);
        }
    }
    svcmap_destroy(before);
    svcmap_destroy(map);
}

/* Checks that a secondary that must be replaced gets the best-ranked live
 * instance but the primary, and that a live secondary stays, through
 * failures and a return (the repair worked out again by
 * check_repair()). */
static void
test_new_secondary_is_next_best(void)
{
    static const uint32_t weights[] = { 1, 2, 1, 3, 1 };
    struct svcmap *map = new_map("nat", 512, 5, weights);
    struct svcmap *before;

    check_secondaries(map);
    CU_ASSERT(set_state_checked(map, 3, SVCMAP_DOWN) > 0);
    CU_ASSERT(set_state_checked(map, 0, SVCMAP_DISABLED) > 0);

    /* Three live instances: every bucket has a secondary, so the instance
     * that comes back COLD takes nothing, yet the epoch moves. */
    before = svcmap_clone(map);
    CU_ASSERT_EQUAL(set_state_checked(map, 3, SVCMAP_COLD), 0);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, 3), 0);
    CU_ASSERT_EQUAL(memcmp(before->buckets, map->buckets,
                           map->n_buckets * sizeof *map->buckets), 0);
    svcmap_destroy(before);

    /* A failure now hands its secondaries to the best-ranked of the rest,
     * the COLD instance among them. */
    CU_ASSERT(set_state_checked(map, 1, SVCMAP_DOWN) > 0);
    CU_ASSERT(svcmap_count_secondary(map, 3) > 0);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 3), 0);
    svcmap_destroy(map);
}

/* Checks that DISABLED and DOWN give the same map. */
static void
test_down_and_disabled_alike(void)
{
    struct svcmap *a = new_map("fw", 256, 5, NULL);
    struct svcmap *b = svcmap_clone(a);

    CU_ASSERT_EQUAL(svcmap_set_state(a, 2, SVCMAP_DOWN),
                    svcmap_set_state(b, 2, SVCMAP_DISABLED));
    CU_ASSERT_EQUAL(memcmp(a->buckets, b->buckets,
                           a->n_buckets * sizeof *a->buckets), 0);
    CU_ASSERT_EQUAL(svcmap_count_primary(b, 2), 0);
    CU_ASSERT_EQUAL(svcmap_count_secondary(b, 2), 0);

    /* From scratch too. */
    svcmap_assign(a);
    svcmap_assign(b);
    CU_ASSERT_EQUAL(memcmp(a->buckets, b->buckets,
                           a->n_buckets * sizeof *a->buckets), 0);
    CU_ASSERT_EQUAL(svcmap_count_primary(b, 2), 0);
    CU_ASSERT_EQUAL(svcmap_count_secondary(b, 2), 0);
    svcmap_destroy(a);
    svcmap_destroy(b);
}

/* Checks the maps with one live instance and with none. */
static void
test_one_and_zero_live(void)
{
    struct svcmap *map = new_map("fw", 64, 3, NULL);

    svcmap_set_state(map, 0, SVCMAP_DOWN);
    svcmap_set_state(map, 2, SVCMAP_DISABLED);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 1), 64);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, SVCMAP_NONE), 64);

    /* Rebuilt from scratch, the same. */
    svcmap_assign(map);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 1), 64);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, SVCMAP_NONE), 64);

    CU_ASSERT_EQUAL(svcmap_set_state(map, 1, SVCMAP_DOWN), 64);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, SVCMAP_NONE), 64);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, SVCMAP_NONE), 64);
    svcmap_assign(map);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, SVCMAP_NONE), 64);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, SVCMAP_NONE), 64);
    svcmap_destroy(map);

    /* No instances at all. */
    map = svcmap_create("fw", 4);
    svcmap_assign(map);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, SVCMAP_NONE), 4);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, SVCMAP_NONE), 4);
    svcmap_destroy(map);
}

/* Checks that an instance back as COLD is only a secondary, and once UP
 * takes no primary back. */
static void
test_cold_rejoin(void)
{
    struct svcmap *map = new_map("fw", 256, 4, NULL);
    struct svcmap *before;
    size_t n;

    svcmap_set_state(map, 1, SVCMAP_DOWN);
    before = svcmap_clone(map);

    /* Back, but COLD: it takes nothing from the live instances (every
     * bucket has a secondary among the other three), so it is in no bucket;
     * only the state, and so the epoch, changed. */
    n = svcmap_set_state(map, 1, SVCMAP_COLD);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 1), 0);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, 1), 0);
    CU_ASSERT_EQUAL(primaries_changed(before, map), 0);
    CU_ASSERT_EQUAL(memcmp(before->buckets, map->buckets,
                           map->n_buckets * sizeof *map->buckets), 0);
    CU_ASSERT_EQUAL(map->epoch, before->epoch + 1);

    /* Nor from scratch while an UP instance lives. */
    svcmap_destroy(before);
    before = svcmap_clone(map);
    svcmap_assign(before);
    CU_ASSERT_EQUAL(svcmap_count_primary(before, 1), 0);
    svcmap_destroy(before);

    /* UP again: it takes no primary back, and ranks as before. */
    before = svcmap_clone(map);
    CU_ASSERT_EQUAL(svcmap_set_state(map, 1, SVCMAP_UP), 0);
    CU_ASSERT_EQUAL(map->epoch, before->epoch + 1);
    CU_ASSERT_EQUAL(primaries_changed(before, map), 0);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 1), 0);
    svcmap_destroy(before);

    /* It gets secondaries only where another instance's failure leaves a
     * bucket without one... */
    before = svcmap_clone(map);
    CU_ASSERT(set_state_checked(map, 0, SVCMAP_DOWN) > 0);
    CU_ASSERT(svcmap_count_secondary(map, 1) > 0);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 1), 0);
    for (size_t b = 0; b < map->n_buckets; b++) {
        if (map->buckets[b].secondary == 1) {
            CU_ASSERT(before->buckets[b].primary == 0
                      || before->buckets[b].secondary == 0);
        }
    }
    svcmap_destroy(before);

    /* ...and primaries only where the primary fails after that. */
    before = svcmap_clone(map);
    svcmap_set_state(map, 2, SVCMAP_DOWN);
    for (size_t b = 0; b < map->n_buckets; b++) {
        if (before->buckets[b].primary == 2
            && before->buckets[b].secondary == 1) {
            CU_ASSERT_EQUAL(map->buckets[b].primary, 1);
        } else if (before->buckets[b].primary != 2) {
            CU_ASSERT_EQUAL(map->buckets[b].primary,
                            before->buckets[b].primary);
        }
    }
    CU_ASSERT(svcmap_count_primary(map, 1) > 0);
    svcmap_destroy(before);
    svcmap_destroy(map);
}

/* Checks that COLD instances are primaries when none is UP. */
static void
test_cold_primary_without_up(void)
{
    struct svcmap *map = new_map("fw", 64, 3, NULL);
    size_t n = svcmap_count_primary(map, 0);

    /* A live primary stays, even COLD: a repair moves no live primary. */
    CU_ASSERT(n > 0);
    CU_ASSERT_EQUAL(svcmap_set_state(map, 0, SVCMAP_COLD), 0);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 0), n);
    svcmap_set_state(map, 1, SVCMAP_DOWN);
    svcmap_set_state(map, 2, SVCMAP_DOWN);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 0), 64);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, SVCMAP_NONE), 64);

    /* Another COLD instance does not take a COLD primary's place... */
    CU_ASSERT_EQUAL(svcmap_set_state(map, 1, SVCMAP_COLD), 64);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 0), 64);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, 1), 64);

    /* ...nor does an UP one now (moving it is the handoff policy's job);
     * the state change alone bumps the epoch. */
    {
        uint64_t epoch = map->epoch;

        CU_ASSERT_EQUAL(svcmap_set_state(map, 1, SVCMAP_UP), 0);
        CU_ASSERT_EQUAL(map->epoch, epoch + 1);
    }
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 0), 64);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, 1), 64);

    /* But when the COLD primary fails, its UP secondary takes over. */
    CU_ASSERT_EQUAL(set_state_checked(map, 0, SVCMAP_DOWN), 64);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 1), 64);
    svcmap_set_state(map, 0, SVCMAP_COLD);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, 0), 64);

    /* From scratch: the best-ranked COLD instance. */
    svcmap_set_state(map, 1, SVCMAP_DOWN);
    svcmap_set_state(map, 2, SVCMAP_COLD);
    svcmap_assign(map);
    for (size_t b = 0; b < map->n_buckets; b++) {
        CU_ASSERT_EQUAL(map->buckets[b].primary,
                        brute_best(map, b, is_cold, SVCMAP_NONE));
    }
    CU_ASSERT(svcmap_count_primary(map, 0) > 0);
    CU_ASSERT(svcmap_count_primary(map, 2) > 0);
    check_secondaries(map);
    svcmap_destroy(map);
}

/* Checks that a set to the same state changes nothing, epoch included. */
static void
test_same_state_is_no_change(void)
{
    struct svcmap *map = new_map("fw", 128, 3, NULL);
    uint64_t epoch = map->epoch;

    CU_ASSERT_EQUAL(svcmap_set_state(map, 0, SVCMAP_UP), 0);
    CU_ASSERT_EQUAL(map->epoch, epoch);
    CU_ASSERT(svcmap_set_state(map, 0, SVCMAP_DOWN) > 0);
    CU_ASSERT_EQUAL(map->epoch, epoch + 1);
    CU_ASSERT_EQUAL(svcmap_set_state(map, 0, SVCMAP_DOWN), 0);
    CU_ASSERT_EQUAL(map->epoch, epoch + 1);
    /* A change of state alone, DOWN to DISABLED, is still a change. */
    CU_ASSERT_EQUAL(svcmap_set_state(map, 0, SVCMAP_DISABLED), 0);
    CU_ASSERT_EQUAL(map->epoch, epoch + 2);
    svcmap_destroy(map);
}

/* Checks that removing or adding one of 8 instances moves about 1/8 of the
 * primaries, all of them its own. */
static void
test_remap_fraction(void)
{
    struct svcmap *map = new_map("fw", 1024, 8, NULL);
    struct svcmap *before = svcmap_clone(map);
    size_t held = svcmap_count_primary(map, 5);
    size_t moved;

    svcmap_set_state(map, 5, SVCMAP_DISABLED);
    moved = primaries_changed(before, map);
    CU_ASSERT_EQUAL(moved, held);
    CU_ASSERT(moved >= 96 && moved <= 160);
    for (size_t b = 0; b < map->n_buckets; b++) {
        if (map->buckets[b].primary != before->buckets[b].primary) {
            CU_ASSERT_EQUAL(before->buckets[b].primary, 5);
        }
    }
    svcmap_destroy(before);

    /* Adding a ninth instance moves only the buckets it now wins. */
    before = svcmap_clone(map);
    CU_ASSERT_EQUAL(svcmap_add_instance(map, "fw-9", 1), 8);
    svcmap_assign(map);
    moved = primaries_changed(before, map);
    CU_ASSERT_EQUAL(moved, svcmap_count_primary(map, 8));
    CU_ASSERT(moved >= 96 && moved <= 160);
    svcmap_destroy(before);
    svcmap_destroy(map);
}

/* Checks that bad arguments are refused. */
static void
test_bad_input(void)
{
    struct svcmap *map;

    CU_ASSERT_PTR_NULL(svcmap_create("fw", 0));
    CU_ASSERT_PTR_NULL(svcmap_create("fw", 3));
    CU_ASSERT_PTR_NULL(svcmap_create("fw", 100));
    map = svcmap_create("fw", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(map);
    CU_ASSERT_EQUAL(map->epoch, 0);
    CU_ASSERT_EQUAL(map->buckets[0].primary, SVCMAP_NONE);
    CU_ASSERT_EQUAL(map->buckets[0].secondary, SVCMAP_NONE);
    CU_ASSERT_EQUAL(map->buckets[0].since, 0);

    CU_ASSERT_EQUAL(svcmap_add_instance(map, "fw-1", 1), 0);
    CU_ASSERT_FALSE(map->instances[0].draining);
    CU_ASSERT_EQUAL(svcmap_add_instance(map, "fw-1", 2), -1);
    CU_ASSERT_EQUAL(svcmap_add_instance(map, "fw-2", 0), -1);
    CU_ASSERT_EQUAL(map->n_instances, 1);
    CU_ASSERT_EQUAL(map->instances[0].state, SVCMAP_UP);
    CU_ASSERT_EQUAL(map->instances[0].weight, 1);

    /* No such instance, no such state: nothing happens. */
    CU_ASSERT_EQUAL(svcmap_set_state(map, 1, SVCMAP_DOWN), 0);
    CU_ASSERT_EQUAL(svcmap_set_state(map, -1, SVCMAP_DOWN), 0);
    CU_ASSERT_EQUAL(svcmap_set_state(map, 0, (enum svcmap_state) 42), 0);
    CU_ASSERT_EQUAL(map->epoch, 0);
    CU_ASSERT_EQUAL(map->instances[0].state, SVCMAP_UP);

    svcmap_destroy(map);
    svcmap_destroy(NULL);
}

/* Checks instance lookup, state names and liveness. */
static void
test_names(void)
{
    struct svcmap *map = new_map("fw", 2, 3, NULL);

    CU_ASSERT_EQUAL(svcmap_find(map, "fw-1"), 0);
    CU_ASSERT_EQUAL(svcmap_find(map, "fw-3"), 2);
    CU_ASSERT_EQUAL(svcmap_find(map, "fw-4"), -1);
    CU_ASSERT_EQUAL(svcmap_find(map, "fw"), -1);
    svcmap_destroy(map);

    CU_ASSERT_STRING_EQUAL(svcmap_state_name(SVCMAP_UP), "up");
    CU_ASSERT_STRING_EQUAL(svcmap_state_name(SVCMAP_COLD), "cold");
    CU_ASSERT_STRING_EQUAL(svcmap_state_name(SVCMAP_DOWN), "down");
    CU_ASSERT_STRING_EQUAL(svcmap_state_name(SVCMAP_DISABLED), "disabled");
    CU_ASSERT_TRUE(svcmap_is_live(SVCMAP_UP));
    CU_ASSERT_TRUE(svcmap_is_live(SVCMAP_COLD));
    CU_ASSERT_FALSE(svcmap_is_live(SVCMAP_DOWN));
    CU_ASSERT_FALSE(svcmap_is_live(SVCMAP_DISABLED));
}

/* Checks that 4 services of 4096 buckets and 16 instances assign in
 * under 100 ms (about 5 ms here). */
static void
test_assign_is_fast(void)
{
    static const char *services[] = { "fw", "nat", "ids", "lb" };
    struct svcmap *maps[4];
    struct timespec t0, t1;
    double ms;

    for (int s = 0; s < 4; s++) {
        maps[s] = svcmap_create(services[s], 4096);
        for (int i = 0; i < 16; i++) {
            char name[32];

            snprintf(name, sizeof name, "%s-%d", services[s], i + 1);
            svcmap_add_instance(maps[s], name, 1 + i % 3);
        }
    }

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int s = 0; s < 4; s++) {
        svcmap_assign(maps[s]);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    CU_ASSERT(ms < 100);

    for (int s = 0; s < 4; s++) {
        CU_ASSERT_EQUAL(svcmap_count_primary(maps[s], SVCMAP_NONE), 0);
        svcmap_destroy(maps[s]);
    }
}

/* Returns a map of service 'service' with 'n_buckets' buckets and the
 * instances named in 'names' (a null-terminated list), weights in 'weights'
 * (all 1 if NULL), not assigned: as a reload builds it before
 * svcmap_continue(). */
static struct svcmap *
new_named_map(const char *service, size_t n_buckets, const char **names,
              const uint32_t *weights)
{
    struct svcmap *map = svcmap_create(service, n_buckets);

    CU_ASSERT_PTR_NOT_NULL_FATAL(map);
    for (int i = 0; names[i]; i++) {
        CU_ASSERT_EQUAL(svcmap_add_instance(map, names[i],
                                            weights ? weights[i] : 1), i);
    }
    return map;
}

/* Returns the name of instance 'i' of 'map', or "-" for SVCMAP_NONE. */
static const char *
name_of(const struct svcmap *map, int i)
{
    return i == SVCMAP_NONE ? "-" : map->instances[i].name;
}

/* Checks that every bucket of 'map' names the same primary and secondary,
 * by name, as in 'old', with the same 'since'. */
static void
check_same_buckets(const struct svcmap *map, const struct svcmap *old)
{
    CU_ASSERT_EQUAL_FATAL(map->n_buckets, old->n_buckets);
    for (size_t b = 0; b < map->n_buckets; b++) {
        CU_ASSERT_STRING_EQUAL(name_of(map, map->buckets[b].primary),
                               name_of(old, old->buckets[b].primary));
        CU_ASSERT_STRING_EQUAL(name_of(map, map->buckets[b].secondary),
                               name_of(old, old->buckets[b].secondary));
        CU_ASSERT_EQUAL(map->buckets[b].since, old->buckets[b].since);
    }
}

/* A reload continues a map as a difference: the instances both have keep
 * their state, draining mark and buckets; a new instance is COLD and in no
 * bucket; buckets whose instance left are repaired; the epoch moves only if
 * the agents would see a change.  Another bucket count assigns afresh. */
static void
test_continue(void)
{
    static const char *same[] = { "dlp-1", "dlp-2", "dlp-3", NULL };
    static const char *reordered[] = { "dlp-3", "dlp-1", "dlp-2", NULL };
    static const char *added[] = { "dlp-1", "dlp-2", "dlp-3", "dlp-4",
                                   NULL };
    static const char *removed[] = { "dlp-1", "dlp-3", NULL };
    static const uint32_t heavier[] = { 4, 1, 1 };
    struct svcmap *old = new_map("dlp", 256, 3, NULL);
    struct svcmap *map, *bigger;

    /* After a failure and a recovery the map is no longer the rendezvous
     * assignment: that is what must be kept.  A draining mark too. */
    svcmap_set_state(old, 0, SVCMAP_DOWN);
    svcmap_set_state(old, 0, SVCMAP_UP);
    CU_ASSERT_EQUAL(svcmap_count_primary(old, 0), 0);
    CU_ASSERT(svcmap_count_target(old, 0) > 0);
    old->instances[2].draining = true;

    /* The same instances in the same order: the same map, epoch, 'since'
     * and all. */
    map = new_named_map("dlp", 256, same, NULL);
    CU_ASSERT(svcmap_continue(map, old));
    CU_ASSERT_TRUE(maps_equal(map, old));
    CU_ASSERT_EQUAL(map->epoch, old->epoch);
    svcmap_destroy(map);

    /* Another order: the same buckets by name, but the indexes the agents
     * see changed, so the epoch moves once. */
    map = new_named_map("dlp", 256, reordered, NULL);
    CU_ASSERT(svcmap_continue(map, old));
    CU_ASSERT_EQUAL(map->epoch, old->epoch + 1);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 1), 0);
    CU_ASSERT_TRUE(map->instances[0].draining);
    CU_ASSERT_FALSE(map->instances[1].draining);
    check_same_buckets(map, old);
    svcmap_destroy(map);

    /* Another weight: the assignment is kept (the handoff policy moves
     * buckets to the new targets), and the agents see no change. */
    map = new_named_map("dlp", 256, same, heavier);
    CU_ASSERT(svcmap_continue(map, old));
    CU_ASSERT_EQUAL(map->epoch, old->epoch);
    CU_ASSERT_EQUAL(map->instances[0].weight, 4);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 0), 0);
    CU_ASSERT(svcmap_count_target(map, 0) > svcmap_count_target(old, 0));
    check_same_buckets(map, old);
    svcmap_destroy(map);

    /* An instance added: COLD, in no bucket (every bucket had a
     * secondary), every bucket as it was, the epoch one on. */
    bigger = new_named_map("dlp", 256, added, NULL);
    CU_ASSERT(svcmap_continue(bigger, old));
    CU_ASSERT_EQUAL(bigger->epoch, old->epoch + 1);
    CU_ASSERT_EQUAL(bigger->n_instances, 4);
    CU_ASSERT_EQUAL(bigger->instances[3].state, SVCMAP_COLD);
    CU_ASSERT_FALSE(bigger->instances[3].draining);
    CU_ASSERT_FALSE(svcmap_holds_any(bigger, 3));
    CU_ASSERT(svcmap_count_target(bigger, 3) > 0);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(bigger->instances[i].state, old->instances[i].state);
        CU_ASSERT_EQUAL(bigger->instances[i].draining,
                        old->instances[i].draining);
    }
    check_same_buckets(bigger, old);

    /* Removed again while in no bucket: dropped, the buckets as they
     * were, the epoch one on again. */
    map = new_named_map("dlp", 256, same, NULL);
    CU_ASSERT(svcmap_continue(map, bigger));
    CU_ASSERT_EQUAL(map->n_instances, 3);
    CU_ASSERT_EQUAL(map->epoch, bigger->epoch + 1);
    check_same_buckets(map, bigger);
    svcmap_destroy(map);
    svcmap_destroy(bigger);

    /* Removed while it holds buckets: those are repaired as if it had
     * failed, its primaries to their (UP) secondaries, its secondaries to
     * the other instance; the rest stay. */
    map = new_named_map("dlp", 256, removed, NULL);
    CU_ASSERT(svcmap_holds_any(old, 1));
    CU_ASSERT(svcmap_continue(map, old));
    CU_ASSERT_EQUAL(map->epoch, old->epoch + 1);
    for (size_t b = 0; b < 256; b++) {
        const struct svcmap_bucket *ob = &old->buckets[b];
        const struct svcmap_bucket *nb = &map->buckets[b];
        const char *op = name_of(old, ob->primary);
        const char *os = name_of(old, ob->secondary);

        CU_ASSERT(nb->primary != SVCMAP_NONE
                  && nb->secondary != SVCMAP_NONE
                  && nb->primary != nb->secondary);
        if (ob->primary == 1) {
            CU_ASSERT_STRING_EQUAL(name_of(map, nb->primary), os);
        } else {
            CU_ASSERT_STRING_EQUAL(name_of(map, nb->primary), op);
        }
        if (ob->primary != 1 && ob->secondary != 1) {
            CU_ASSERT_STRING_EQUAL(name_of(map, nb->secondary), os);
            CU_ASSERT_EQUAL(nb->since, ob->since);
        } else {
            CU_ASSERT_EQUAL(nb->since, old->epoch + 1);
        }
    }
    svcmap_destroy(map);

    /* Another bucket count: assigned afresh, one epoch on; false. */
    map = new_named_map("dlp", 128, same, NULL);
    CU_ASSERT(!svcmap_continue(map, old));
    CU_ASSERT_EQUAL(map->epoch, old->epoch + 1);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, SVCMAP_NONE), 0);
    for (size_t b = 0; b < 128; b++) {
        CU_ASSERT_EQUAL(map->buckets[b].since, map->epoch);
    }
    check_secondaries(map);
    svcmap_destroy(map);
    svcmap_destroy(old);
}

/* Stores in '*p' and '*s' the best- and second-best-ranked instances of
 * 'map' in 'bucket' among the live instances that are not draining,
 * computed the slow way. */
static void
brute_target(const struct svcmap *map, uint32_t bucket, int *p, int *s)
{
    int best = SVCMAP_NONE, second = SVCMAP_NONE;

    for (int i = 0; i < map->n_instances; i++) {
        const struct svcmap_instance *inst = &map->instances[i];

        if (!svcmap_is_live(inst->state) || inst->draining) {
            continue;
        }
        /* Insertion into a ranking of two, by svcmap_score() then name. */
        for (int *slot = &best; slot; slot = slot == &best ? &second : NULL) {
            const struct svcmap_instance *other;
            double si, so;

            if (*slot == SVCMAP_NONE) {
                *slot = i;
                break;
            }
            other = &map->instances[*slot];
            si = svcmap_score(map->service, bucket, inst->name, inst->weight);
            so = svcmap_score(map->service, bucket, other->name,
                              other->weight);
            if (si > so || (si == so && strcmp(inst->name, other->name) < 0)) {
                if (slot == &best) {
                    second = best;
                }
                *slot = i;
                break;
            }
        }
    }
    *p = best;
    *s = second;
}

/* Checks svcmap_target() and svcmap_count_target() against brute force:
 * the best and second-best live instances that are not draining, whatever
 * the buckets hold. */
static void
test_target(void)
{
    static const uint32_t weights[] = { 1, 3, 2, 1, 2, 1 };
    struct svcmap *map = new_map("lb", 512, 6, weights);
    size_t counts[6], total;

    svcmap_set_state(map, 1, SVCMAP_DOWN);
    svcmap_set_state(map, 2, SVCMAP_COLD);
    svcmap_set_state(map, 5, SVCMAP_DISABLED);
    map->instances[3].draining = true;
    /* What the buckets hold does not matter. */
    svcmap_set_bucket(map, 7, 3, 2);

    for (int round = 0; round < 4; round++) {
        memset(counts, 0, sizeof counts);
        total = 0;
        for (size_t b = 0; b < map->n_buckets; b++) {
            int p, s, bp, bs;

            svcmap_target(map, b, &p, &s);
            brute_target(map, b, &bp, &bs);
            CU_ASSERT_EQUAL(p, bp);
            CU_ASSERT_EQUAL(s, bs);
            CU_ASSERT(p == SVCMAP_NONE || p != s);
            if (p != SVCMAP_NONE) {
                counts[p]++;
                total++;
            }
        }
        for (int i = 0; i < 6; i++) {
            CU_ASSERT_EQUAL(svcmap_count_target(map, i), counts[i]);
        }
        /* Neither DOWN, DISABLED nor draining instances are targets. */
        CU_ASSERT_EQUAL(svcmap_count_target(map, 3), 0);
        if (round < 3) {
            CU_ASSERT_EQUAL(svcmap_count_target(map, 1), 0);
            CU_ASSERT_EQUAL(svcmap_count_target(map, 5), 0);
        }

        if (round == 0) {
            /* Three candidates, COLD included: all win some. */
            CU_ASSERT_EQUAL(total, map->n_buckets);
            CU_ASSERT(counts[0] > 0 && counts[2] > 0 && counts[4] > 0);
            /* One candidate: no target secondary. */
            svcmap_set_state(map, 0, SVCMAP_DOWN);
            map->instances[4].draining = true;
        } else if (round == 1) {
            CU_ASSERT_EQUAL(counts[2], map->n_buckets);
            for (size_t b = 0; b < map->n_buckets; b++) {
                int p, s;

                svcmap_target(map, b, &p, &s);
                CU_ASSERT_EQUAL(s, SVCMAP_NONE);
            }
            /* Every live instance draining: no target at all. */
            map->instances[2].draining = true;
        } else if (round == 2) {
            CU_ASSERT_EQUAL(total, 0);
            /* Back to all candidates but the draining one. */
            for (int i = 0; i < 6; i++) {
                svcmap_set_state(map, i, SVCMAP_UP);
                map->instances[i].draining = i == 3;
            }
        } else {
            CU_ASSERT_EQUAL(total, map->n_buckets);
            CU_ASSERT_EQUAL(counts[3], 0);
        }
    }
    CU_ASSERT_EQUAL(svcmap_count_target(map, SVCMAP_NONE), 0);
    svcmap_destroy(map);
}

/* Checks that svcmap_set_bucket() refuses what is no assignment, and sets
 * 'since' to the next epoch only when the bucket changes. */
static void
test_set_bucket(void)
{
    struct svcmap *map = new_map("fw", 8, 3, NULL);
    struct svcmap *before;
    uint64_t e = map->epoch;

    for (size_t b = 0; b < 8; b++) {
        CU_ASSERT_EQUAL(map->buckets[b].since, e);
    }
    before = svcmap_clone(map);

    /* Refused: the same instance twice, a secondary without a primary,
     * indexes out of range, a bucket out of range. */
    svcmap_set_bucket(map, 0, 1, 1);
    svcmap_set_bucket(map, 0, SVCMAP_NONE, 1);
    svcmap_set_bucket(map, 0, 3, 0);
    svcmap_set_bucket(map, 0, 0, 3);
    svcmap_set_bucket(map, 0, -2, SVCMAP_NONE);
    svcmap_set_bucket(map, 0, 0, -2);
    svcmap_set_bucket(map, 8, 0, 1);
    svcmap_set_bucket(map, UINT32_MAX, 0, 1);
    CU_ASSERT_TRUE(maps_equal(map, before));

    /* The same assignment again: nothing, 'since' included. */
    svcmap_set_bucket(map, 3, map->buckets[3].primary,
                      map->buckets[3].secondary);
    CU_ASSERT_TRUE(maps_equal(map, before));

    /* Accepted: holds from the next epoch, which the caller bumps. */
    svcmap_set_bucket(map, 0, 1, 2);
    CU_ASSERT_EQUAL(map->buckets[0].primary, 1);
    CU_ASSERT_EQUAL(map->buckets[0].secondary, 2);
    CU_ASSERT_EQUAL(map->buckets[0].since, e + 1);
    CU_ASSERT_EQUAL(map->epoch, e);
    svcmap_set_bucket(map, 1, 2, SVCMAP_NONE);
    CU_ASSERT_EQUAL(map->buckets[1].primary, 2);
    CU_ASSERT_EQUAL(map->buckets[1].secondary, SVCMAP_NONE);
    CU_ASSERT_EQUAL(map->buckets[1].since, e + 1);
    svcmap_set_bucket(map, 2, SVCMAP_NONE, SVCMAP_NONE);
    CU_ASSERT_EQUAL(map->buckets[2].primary, SVCMAP_NONE);
    CU_ASSERT_EQUAL(map->buckets[2].since, e + 1);
    for (size_t b = 3; b < 8; b++) {
        CU_ASSERT_EQUAL(map->buckets[b].since, e);
    }
    map->epoch++;

    /* A later change of only the secondary is a change too. */
    svcmap_set_bucket(map, 0, 1, 0);
    CU_ASSERT_EQUAL(map->buckets[0].since, e + 2);
    svcmap_destroy(before);
    svcmap_destroy(map);
}

/* Checks that an instance is removed only when it is in no bucket, and
 * that the others are renumbered in the buckets. */
static void
test_remove_instance(void)
{
    struct svcmap *map = new_map("fw", 64, 4, NULL);
    struct svcmap *before = svcmap_clone(map);

    /* Out of range, or holding buckets: refused. */
    CU_ASSERT_TRUE(svcmap_holds_any(map, 1));
    CU_ASSERT_FALSE(svcmap_remove_instance(map, 1));
    CU_ASSERT_FALSE(svcmap_remove_instance(map, -1));
    CU_ASSERT_FALSE(svcmap_remove_instance(map, 4));
    CU_ASSERT_TRUE(maps_equal(map, before));

    /* Held only as a secondary: still refused. */
    for (size_t b = 0; b < map->n_buckets; b++) {
        if (map->buckets[b].primary == 1) {
            svcmap_set_bucket(map, b, map->buckets[b].secondary, 1);
        }
    }
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 1), 0);
    CU_ASSERT_TRUE(svcmap_holds_any(map, 1));
    CU_ASSERT_FALSE(svcmap_remove_instance(map, 1));
    svcmap_destroy(before);

    /* Out of every bucket: removed, the later instances one down. */
    svcmap_set_state(map, 1, SVCMAP_DOWN);
    CU_ASSERT_FALSE(svcmap_holds_any(map, 1));
    before = svcmap_clone(map);
    CU_ASSERT_TRUE(svcmap_remove_instance(map, 1));
    CU_ASSERT_EQUAL(map->n_instances, 3);
    CU_ASSERT_EQUAL(map->epoch, before->epoch);
    CU_ASSERT_EQUAL(svcmap_find(map, "fw-2"), -1);
    CU_ASSERT_STRING_EQUAL(map->instances[0].name, "fw-1");
    CU_ASSERT_STRING_EQUAL(map->instances[1].name, "fw-3");
    CU_ASSERT_STRING_EQUAL(map->instances[2].name, "fw-4");
    check_same_buckets(map, before);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT(svcmap_holds_any(map, i));
    }
    CU_ASSERT_FALSE(svcmap_holds_any(map, 3));

    /* The last one, once out of every bucket. */
    svcmap_set_state(map, 2, SVCMAP_DISABLED);
    CU_ASSERT_TRUE(svcmap_remove_instance(map, 2));
    CU_ASSERT_EQUAL(map->n_instances, 2);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, SVCMAP_NONE), 0);
    svcmap_destroy(before);
    svcmap_destroy(map);
}

/* Checks that a repair prefers instances that are not draining, and takes
 * a draining one only where no other will do. */
static void
test_repair_avoids_draining(void)
{
    struct svcmap *map = new_map("ids", 256, 4, NULL);
    size_t n;

    /* The first instance, so that a scan in index order meets it first. */
    map->instances[0].draining = true;
    n = svcmap_count_secondary(map, 3) + svcmap_count_primary(map, 3);
    CU_ASSERT_EQUAL(set_state_checked(map, 3, SVCMAP_DOWN), n);
    /* The draining instance keeps what it had, gets no new job. */
    for (size_t b = 0; b < map->n_buckets; b++) {
        CU_ASSERT_NOT_EQUAL(map->buckets[b].primary, 3);
        CU_ASSERT_NOT_EQUAL(map->buckets[b].secondary, 3);
    }
    {
        struct svcmap *fresh = new_map("ids", 256, 4, NULL);
        size_t had = (svcmap_count_primary(fresh, 0)
                      + svcmap_count_secondary(fresh, 0));

        CU_ASSERT_EQUAL(svcmap_count_primary(map, 0)
                        + svcmap_count_secondary(map, 0), had);
        svcmap_destroy(fresh);
    }

    /* Two left, one of them draining: it keeps its primaries and takes
     * the secondaries no other instance can, so every bucket has both. */
    set_state_checked(map, 1, SVCMAP_DOWN);
    CU_ASSERT_EQUAL(svcmap_count_primary(map, 0)
                    + svcmap_count_primary(map, 2), 256);
    CU_ASSERT_EQUAL(svcmap_count_secondary(map, SVCMAP_NONE), 0);
    svcmap_destroy(map);
}

/* An epoch seen elsewhere pushes the map's past it, never back. */
static void
test_raise_epoch(void)
{
    struct svcmap *map = new_map("fw", 16, 2, NULL);
    uint64_t e = map->epoch;

    CU_ASSERT(!svcmap_raise_epoch(map, e - 1));
    CU_ASSERT_EQUAL(map->epoch, e);
    CU_ASSERT(svcmap_raise_epoch(map, e));
    CU_ASSERT_EQUAL(map->epoch, e + 1);
    CU_ASSERT(svcmap_raise_epoch(map, 1000));
    CU_ASSERT_EQUAL(map->epoch, 1001);
    CU_ASSERT(!svcmap_raise_epoch(map, 10));
    CU_ASSERT_EQUAL(map->epoch, 1001);

    /* Epochs near the wrap are not believed. */
    CU_ASSERT(!svcmap_raise_epoch(map, SVCMAP_MAX_EPOCH));
    CU_ASSERT(!svcmap_raise_epoch(map, UINT64_MAX - 1));
    CU_ASSERT_EQUAL(map->epoch, 1001);
    svcmap_set_state(map, 0, SVCMAP_DOWN);
    CU_ASSERT_EQUAL(map->epoch, 1002);
    svcmap_destroy(map);
}

/* Returns the first bucket of 'map' whose primary and secondary are set,
 * and an instance 'other' that is neither. */
static uint32_t
pick_bucket(const struct svcmap *map, int *other)
{
    for (uint32_t b = 0; b < map->n_buckets; b++) {
        const struct svcmap_bucket *bk = &map->buckets[b];

        if (bk->primary != SVCMAP_NONE && bk->secondary != SVCMAP_NONE) {
            for (int i = 0; i < (int) map->n_instances; i++) {
                if (i != bk->primary && i != bk->secondary) {
                    *other = i;
                    return b;
                }
            }
        }
    }
    CU_FAIL_FATAL("no bucket with a primary, a secondary and another");
    return 0;
}

/* Returns a map of 4 instances in which instance '*n', in no bucket, is
 * the next instance of bucket '*b' from the map's epoch on; '*bk' is the
 * bucket as it was before. */
static struct svcmap *
map_with_next(uint32_t *b, int *n, struct svcmap_bucket *bk)
{
    struct svcmap *map = new_map("dlp", 16, 4, NULL);

    *b = pick_bucket(map, n);
    /* Back after a failure, it takes nothing from the live instances. */
    svcmap_set_state(map, *n, SVCMAP_DOWN);
    svcmap_set_state(map, *n, SVCMAP_UP);
    CU_ASSERT_FALSE(svcmap_holds_any(map, *n));
    *bk = map->buckets[*b];
    svcmap_set_next(map, *b, *n);
    CU_ASSERT_EQUAL(map->buckets[*b].next, *n);
    map->epoch++;
    return map;
}

/* A bucket's next instance: set only beside a primary, never one of the
 * bucket's two; it replaces a failed secondary, leaves with a failed
 * primary or its own failure, and keeps its instance in the map. */
static void
test_next(void)
{
    struct svcmap *map = new_map("dlp", 16, 4, NULL);
    struct svcmap *reloaded, *other;
    struct svcmap_bucket bk, bk2;
    uint64_t epoch;
    uint32_t b, b2;
    int n, n2;

    b = pick_bucket(map, &n);
    bk = map->buckets[b];
    CU_ASSERT_EQUAL(bk.next, SVCMAP_NONE);

    /* Neither of the bucket's two, nor an instance out of range. */
    svcmap_set_next(map, b, bk.primary);
    svcmap_set_next(map, b, bk.secondary);
    svcmap_set_next(map, b, 4);
    svcmap_set_next(map, b, -2);
    CU_ASSERT_EQUAL(map->buckets[b].next, SVCMAP_NONE);
    CU_ASSERT_EQUAL(map->buckets[b].since, bk.since);

    /* Set, from the next epoch; the same again changes nothing. */
    svcmap_set_next(map, b, n);
    CU_ASSERT_EQUAL(map->buckets[b].next, n);
    CU_ASSERT_EQUAL(map->buckets[b].since, map->epoch + 1);
    map->epoch++;
    svcmap_set_next(map, b, n);
    CU_ASSERT_EQUAL(map->buckets[b].since, map->epoch);
    CU_ASSERT_EQUAL(map->buckets[b].primary, bk.primary);
    CU_ASSERT_EQUAL(map->buckets[b].secondary, bk.secondary);

    /* It holds a place in the bucket: an instance in no other bucket
     * stays in the map while it is a next instance. */
    other = map_with_next(&b2, &n2, &bk2);
    CU_ASSERT_TRUE(svcmap_holds_any(other, n2));
    CU_ASSERT_FALSE(svcmap_remove_instance(other, n2));
    svcmap_set_next(other, b2, SVCMAP_NONE);
    CU_ASSERT_FALSE(svcmap_holds_any(other, n2));
    svcmap_destroy(other);

    /* A reload carries it over, by name. */
    reloaded = svcmap_clone(map);
    CU_ASSERT_TRUE(svcmap_continue(reloaded, map));
    CU_ASSERT_EQUAL(reloaded->buckets[b].next, n);
    svcmap_destroy(reloaded);

    /* The secondary fails: the next instance, which was receiving the
     * bucket already, takes its place. */
    epoch = map->epoch;
    CU_ASSERT(svcmap_set_state(map, bk.secondary, SVCMAP_DOWN) > 0);
    CU_ASSERT_EQUAL(map->epoch, epoch + 1);
    CU_ASSERT_EQUAL(map->buckets[b].primary, bk.primary);
    CU_ASSERT_EQUAL(map->buckets[b].secondary, n);
    CU_ASSERT_EQUAL(map->buckets[b].next, SVCMAP_NONE);
    CU_ASSERT_EQUAL(map->buckets[b].since, map->epoch);
    svcmap_destroy(map);

    /* The primary fails: the secondary takes over, as without a next
     * instance, and the next instance leaves (the new primary has sent it
     * nothing). */
    map = map_with_next(&b, &n, &bk);
    svcmap_set_state(map, bk.primary, SVCMAP_DOWN);
    CU_ASSERT_EQUAL(map->buckets[b].primary, bk.secondary);
    CU_ASSERT(map->buckets[b].secondary != bk.primary);
    CU_ASSERT_EQUAL(map->buckets[b].next, SVCMAP_NONE);
    svcmap_destroy(map);

    /* The next instance fails: it leaves, the rest stays. */
    map = map_with_next(&b, &n, &bk);
    svcmap_set_state(map, n, SVCMAP_DOWN);
    CU_ASSERT_EQUAL(map->buckets[b].primary, bk.primary);
    CU_ASSERT_EQUAL(map->buckets[b].secondary, bk.secondary);
    CU_ASSERT_EQUAL(map->buckets[b].next, SVCMAP_NONE);
    CU_ASSERT_FALSE(svcmap_holds_any(map, n));

    /* A new assignment of the bucket ends it; svcmap_assign() too. */
    svcmap_set_state(map, n, SVCMAP_UP);
    svcmap_set_next(map, b, n);
    CU_ASSERT_EQUAL(map->buckets[b].next, n);
    svcmap_set_bucket(map, b, bk.secondary, bk.primary);
    CU_ASSERT_EQUAL(map->buckets[b].next, SVCMAP_NONE);
    svcmap_set_next(map, b, n);
    svcmap_assign(map);
    for (size_t i = 0; i < map->n_buckets; i++) {
        CU_ASSERT_EQUAL(map->buckets[i].next, SVCMAP_NONE);
    }
    svcmap_destroy(map);
}

/* Instances 1 and 2 on host 0, 3 on host 1, 4 on host 2: every bucket's
 * secondary is on another host than its primary, after an assignment, a
 * repair and in the target; and the secondary is the best-ranked of the
 * instances there.  With every instance on one host, the rule cannot be
 * met, and the count says so in every bucket. */
static void
test_anti_affinity(void)
{
    static const int domains[4] = { 0, 0, 1, 2 };
    struct svcmap *map = svcmap_create("dlp", 256);
    size_t n_same_host_pairs = 0;

    for (int i = 0; i < 4; i++) {
        char name[16];

        snprintf(name, sizeof name, "dlp-%d", i + 1);
        svcmap_add_instance(map, name, 1);
        svcmap_set_domain(map, i, domains[i]);
    }
    svcmap_assign(map);
    for (size_t b = 0; b < map->n_buckets; b++) {
        const struct svcmap_bucket *bk = &map->buckets[b];
        int p, t_s;

        CU_ASSERT_NOT_EQUAL(domains[bk->primary], domains[bk->secondary]);
        svcmap_target(map, b, &p, &t_s);
        CU_ASSERT_EQUAL(p, bk->primary);
        CU_ASSERT_EQUAL(t_s, bk->secondary);
        /* The best of the other hosts' instances, by score. */
        for (int i = 0; i < 4; i++) {
            if (domains[i] != domains[bk->primary]) {
                CU_ASSERT(svcmap_score("dlp", b, map->instances[i].name, 1)
                          <= svcmap_score("dlp", b,
                                          map->instances[bk->secondary].name,
                                          1));
            }
        }
        /* Without the rule, host 0's two instances would pair up here. */
        n_same_host_pairs += (domains[bk->primary] == 0
                              && brute_best(map, b, svcmap_is_live,
                                            bk->primary) <= 1);
    }
    CU_ASSERT(n_same_host_pairs > 0);
    CU_ASSERT_EQUAL(svcmap_count_same_domain(map), 0);

    /* Host 1 fails: the repair keeps the pairs apart where it can. */
    svcmap_set_state(map, 2, SVCMAP_DOWN);
    for (size_t b = 0; b < map->n_buckets; b++) {
        const struct svcmap_bucket *bk = &map->buckets[b];

        CU_ASSERT_NOT_EQUAL(bk->primary, 2);
        CU_ASSERT_NOT_EQUAL(bk->secondary, 2);
        CU_ASSERT_NOT_EQUAL(domains[bk->primary], domains[bk->secondary]);
    }

    /* Host 2 fails too: only host 0 is left, and every pair shares it. */
    svcmap_set_state(map, 3, SVCMAP_DOWN);
    CU_ASSERT_EQUAL(svcmap_count_same_domain(map), map->n_buckets);
    svcmap_destroy(map);
}

static const struct test_case svcmap_tests[] = {
    { "score formula", test_score_formula },
    { "golden assignment", test_golden },
    { "determinism", test_determinism },
    { "spread by weight", test_spread },
    { "failure moves only its buckets",
      test_failure_moves_only_its_buckets },
    { "old secondary promoted", test_secondary_promoted },
    { "new secondary is the next best", test_new_secondary_is_next_best },
    { "DOWN and DISABLED alike", test_down_and_disabled_alike },
    { "one and zero live instances", test_one_and_zero_live },
    { "COLD rejoin", test_cold_rejoin },
    { "COLD primary without UP", test_cold_primary_without_up },
    { "same state is no change", test_same_state_is_no_change },
    { "remap fraction", test_remap_fraction },
    { "bad input", test_bad_input },
    { "names", test_names },
    { "assign is fast", test_assign_is_fast },
    { "a reload continues the map as a difference", test_continue },
    { "epochs seen elsewhere", test_raise_epoch },
    { "target", test_target },
    { "set bucket", test_set_bucket },
    { "remove instance", test_remove_instance },
    { "repair avoids draining instances", test_repair_avoids_draining },
    { "next instance", test_next },
    { "anti-affinity: secondaries on other hosts", test_anti_affinity },
    { NULL, NULL },
};
TEST_SUITE("svcmap", svcmap_tests)
