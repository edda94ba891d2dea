/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* The make-before-break handoff policy, driven with simulated time and a
 * scripted warm oracle: the oracle answers as the controller does, warm iff
 * the instance's agent reported the bucket warm at an epoch at or after
 * the bucket's 'since', and the scripted agents report a bucket warm once
 * they have been its secondary or its next instance for a while in a
 * published map.  Every run of the policy is checked against the map
 * before it: a primary changes only to the bucket's secondary or next
 * instance in the published map, which the oracle then said was warm, and
 * the old primary becomes the secondary; a live secondary is replaced
 * only by the bucket's next instance, once warm. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "handoff.h"
#include "openvswitch/dynamic-string.h"
#include "svcmap.h"
#include "tests.h"
#include "util.h"

#define MAX_INST 16
#define MAX_BUCKETS 1024
#define TICK_MS 10

/* The simulated controller: a map, its policy, the agents and the clock. */
struct world {
    struct svcmap *map;
    struct hof *hof;
    long long int now;

    /* The agents.  'reported[i][b]' is 1 + the epoch at which instance 'i'
     * last reported bucket 'b' warm, 0 if never.  An agent reports a bucket
     * once it has been its secondary or its next instance in a published
     * map for 'warm_delay' ms, unless 'mute[i]'. */
    uint64_t (*reported)[MAX_BUCKETS];
    bool mute[MAX_INST];
    long long int warm_delay;
    int sec[MAX_BUCKETS];               /* Secondary last seen... */
    long long int sec_at[MAX_BUCKETS];  /* ...and since when. */
    int nxt[MAX_BUCKETS];               /* Next instance last seen... */
    long long int nxt_at[MAX_BUCKETS];  /* ...and since when. */

    /* Tallies of the checks in step(). */
    size_t n_asked;                     /* Oracle calls. */
    size_t n_swaps;                     /* Primary changes by hof_run(). */
    size_t n_started;                   /* Moves started. */
    size_t max_active_seen;
};

/* Returns a map of 'n_buckets' buckets and 'n' instances "svc-1"...,
 * assigned. */
static struct svcmap *
new_map(size_t n_buckets, int n)
{
    struct svcmap *map = svcmap_create("svc", n_buckets);

    CU_ASSERT_PTR_NOT_NULL_FATAL(map);
    for (int i = 0; i < n; i++) {
        char name[16];

        snprintf(name, sizeof name, "svc-%d", i + 1);
        CU_ASSERT_EQUAL(svcmap_add_instance(map, name, 1), i);
    }
    svcmap_assign(map);
    return map;
}

/* Replaces the map of 'w' by one with the same instances and an instance
 * more, named "svc-N", continued from the old one as a reload does, and
 * returns the new instance's index. */
static int
add_instance(struct world *w)
{
    struct svcmap *map = svcmap_create("svc", w->map->n_buckets);
    char name[16];
    int idx;

    for (size_t i = 0; i < w->map->n_instances; i++) {
        svcmap_add_instance(map, w->map->instances[i].name,
                            w->map->instances[i].weight);
    }
    snprintf(name, sizeof name, "svc-%d", (int) w->map->n_instances + 1);
    idx = svcmap_add_instance(map, name, 1);
    CU_ASSERT_FATAL(idx >= 0 && idx < MAX_INST);
    CU_ASSERT_TRUE(svcmap_continue(map, w->map));
    CU_ASSERT_EQUAL(map->instances[idx].state, SVCMAP_COLD);
    svcmap_destroy(w->map);
    w->map = map;
    return idx;
}

/* The warm oracle: what the controller answers from its agents'
 * reports. */
static bool
oracle(const struct svcmap *map, int i, uint32_t b, void *w_)
{
    struct world *w = w_;

    w->n_asked++;
    CU_ASSERT_PTR_EQUAL(map, w->map);
    return (w->reported[i][b]
            && w->reported[i][b] - 1 >= map->buckets[b].since);
}

/* Returns true if, in 'w', instance 'i' had reported bucket 'b' warm at an
 * epoch at or after 'since'. */
static bool
warm_since(const struct world *w, int i, uint32_t b, uint64_t since)
{
    return w->reported[i][b] && w->reported[i][b] - 1 >= since;
}

/* Instance 'i' of 'w', the receiver of bucket 'b' since 'since' (as its
 * secondary or next instance), reports it warm if it is due to. */
static void
report__(struct world *w, int i, uint32_t b, long long int since)
{
    const struct svcmap *map = w->map;

    if (i != SVCMAP_NONE && svcmap_is_live(map->instances[i].state)
        && !w->mute[i] && w->now - since >= w->warm_delay) {
        w->reported[i][b] = map->epoch + 1;
    }
}

/* The agents of 'w' look at the published map. */
static void
agents_report(struct world *w)
{
    const struct svcmap *map = w->map;

    for (size_t b = 0; b < map->n_buckets; b++) {
        int s = map->buckets[b].secondary, n = map->buckets[b].next;

        if (s != w->sec[b]) {
            /* The next instance that becomes the secondary goes on
             * receiving. */
            w->sec_at[b] = s == w->nxt[b] ? w->nxt_at[b] : w->now;
            w->sec[b] = s;
        }
        if (n != w->nxt[b]) {
            w->nxt[b] = n;
            w->nxt_at[b] = w->now;
        }
        report__(w, s, b, w->sec_at[b]);
        report__(w, n, b, w->nxt_at[b]);
    }
}

static void
world_init(struct world *w, struct svcmap *map, const struct hof_params *p)
{
    memset(w, 0, sizeof *w);
    CU_ASSERT_FATAL(map->n_buckets <= MAX_BUCKETS);
    w->map = map;
    w->hof = hof_create(p);
    w->reported = xcalloc(MAX_INST, sizeof *w->reported);
    w->now = 1000;
    for (size_t b = 0; b < MAX_BUCKETS; b++) {
        w->sec[b] = w->nxt[b] = SVCMAP_NONE;
    }
    agents_report(w);
}

static void
world_destroy(struct world *w)
{
    hof_destroy(w->hof);
    svcmap_destroy(w->map);
    free(w->reported);
}

/* Returns the number of live instances of 'map'. */
static size_t
n_live(const struct svcmap *map)
{
    size_t n = 0;

    for (size_t i = 0; i < map->n_instances; i++) {
        n += svcmap_is_live(map->instances[i].state);
    }
    return n;
}

/* Checks that 'map' is consistent: while an instance lives every bucket
 * has a live primary, no instance that is not live is in a bucket, and a
 * bucket's primary and secondary differ. */
static void
check_consistent(const struct svcmap *map)
{
    bool any = n_live(map) > 0;

    for (size_t b = 0; b < map->n_buckets; b++) {
        const struct svcmap_bucket *bk = &map->buckets[b];

        CU_ASSERT(bk->primary >= SVCMAP_NONE
                  && bk->primary < (int) map->n_instances);
        CU_ASSERT(bk->secondary >= SVCMAP_NONE
                  && bk->secondary < (int) map->n_instances);
        if (any) {
            CU_ASSERT(bk->primary != SVCMAP_NONE
                      && svcmap_is_live(map->instances[bk->primary].state));
        }
        if (bk->secondary != SVCMAP_NONE) {
            CU_ASSERT(svcmap_is_live(map->instances[bk->secondary].state));
            CU_ASSERT(bk->secondary != bk->primary);
        }
        CU_ASSERT(bk->next >= SVCMAP_NONE
                  && bk->next < (int) map->n_instances);
        if (bk->next != SVCMAP_NONE) {
            CU_ASSERT(svcmap_is_live(map->instances[bk->next].state));
            CU_ASSERT(bk->primary != SVCMAP_NONE);
            CU_ASSERT(bk->next != bk->primary && bk->next != bk->secondary);
        }
        CU_ASSERT(bk->since <= map->epoch);
    }
}

/* Returns true if every bucket of 'map' is at its target. */
static bool
at_target(const struct svcmap *map)
{
    for (size_t b = 0; b < map->n_buckets; b++) {
        int p, s;

        svcmap_target(map, b, &p, &s);
        if (map->buckets[b].primary != p || map->buckets[b].secondary != s) {
            return false;
        }
    }
    return true;
}

/* Returns the sum of the counters of moves started, finished or not. */
static uint64_t
n_moves(const struct hof_counts *c)
{
    return (c->n_done + c->n_abandoned + c->n_secondary + c->n_immediate
            + c->n_active);
}

/* Runs the policy of 'w' once at the current time and checks the run
 * against the map before it, then lets the agents report and the clock
 * move on by TICK_MS.  Returns hof_run()'s result. */
static size_t
step(struct world *w)
{
    const struct hof_params *p = hof_get_params(w->hof);
    struct svcmap *before = svcmap_clone(w->map);
    struct hof_counts c0, c1;
    size_t n, n_diff = 0;

    hof_get_counts(w->hof, w->map, &c0);
    n = hof_run(w->hof, w->map, oracle, w, w->now);
    hof_get_counts(w->hof, w->map, &c1);

    /* One epoch bump for any change, none for no change. */
    CU_ASSERT_EQUAL(w->map->epoch, before->epoch + (n ? 1 : 0));
    for (size_t b = 0; b < w->map->n_buckets; b++) {
        const struct svcmap_bucket *o = &before->buckets[b];
        const struct svcmap_bucket *a = &w->map->buckets[b];

        if (o->primary == a->primary && o->secondary == a->secondary
            && o->next == a->next) {
            CU_ASSERT_EQUAL(a->since, o->since);
            continue;
        }
        n_diff++;
        CU_ASSERT_EQUAL(a->since, w->map->epoch);
        if (a->primary == o->primary) {
            if (p->mode != HOF_IMMEDIATE && a->secondary != o->secondary
                && o->secondary != SVCMAP_NONE
                && svcmap_is_live(before->instances[o->secondary].state)) {
                /* A live secondary leaves only for the next instance,
                 * warm by its agent's report. */
                CU_ASSERT_EQUAL(a->secondary, o->next);
                CU_ASSERT(o->since <= before->epoch);
                CU_ASSERT(a->secondary != SVCMAP_NONE
                          && warm_since(w, a->secondary, b, o->since));
            }
            continue;
        }
        if (p->mode == HOF_IMMEDIATE) {
            int tp, ts;

            svcmap_target(w->map, b, &tp, &ts);
            CU_ASSERT_EQUAL(a->primary, tp);
            CU_ASSERT_EQUAL(a->secondary, ts);
        } else {
            /* Make before break: the new primary was the secondary or the
             * next instance in the published map, warm for it by its
             * agent's report at an epoch of that assignment; the old
             * primary keeps the state as the secondary. */
            CU_ASSERT(a->primary == o->secondary || a->primary == o->next);
            CU_ASSERT(o->since <= before->epoch);
            CU_ASSERT(a->primary != SVCMAP_NONE
                      && warm_since(w, a->primary, b, o->since));
            CU_ASSERT_EQUAL(a->secondary, o->primary);
        }
        w->n_swaps++;
    }
    CU_ASSERT((n_diff > 0) == (n > 0));
    CU_ASSERT(n_diff <= n);
    check_consistent(w->map);

    CU_ASSERT(c1.n_active <= p->max_active);
    w->max_active_seen = MAX(w->max_active_seen, c1.n_active);
    CU_ASSERT(n_moves(&c1) >= n_moves(&c0));
    w->n_started += n_moves(&c1) - n_moves(&c0);

    svcmap_destroy(before);
    agents_report(w);
    w->now += TICK_MS;
    return n;
}

/* Runs 'w', at most 'max_steps' runs, until nothing is in progress and,
 * if 'to_target', the map is at its target, or else nothing is pending.
 * Returns true if it got there. */
static bool
run_until__(struct world *w, int max_steps, bool to_target)
{
    for (int i = 0; i < max_steps; i++) {
        struct hof_counts c;

        step(w);
        hof_get_counts(w->hof, w->map, &c);
        if (!c.n_active && (to_target ? at_target(w->map) : !c.n_pending)) {
            return true;
        }
    }
    return false;
}

/* Runs 'w' until nothing is in progress or pending. */
static bool
run_quiet(struct world *w, int max_steps)
{
    return run_until__(w, max_steps, false);
}

/* Runs 'w' until the map is at its target with nothing in progress. */
static bool
run_to_target(struct world *w, int max_steps)
{
    return run_until__(w, max_steps, true);
}

/* Returns the number of buckets whose primary differs in 'a' and 'b'. */
static size_t
primaries_changed(const struct svcmap *a, const struct svcmap *b)
{
    size_t n = 0;

    for (size_t i = 0; i < a->n_buckets; i++) {
        n += a->buckets[i].primary != b->buckets[i].primary;
    }
    return n;
}

/* Returns the number of buckets of 'w' with a handoff in progress. */
static size_t
n_active_buckets(const struct world *w)
{
    size_t n = 0;

    for (size_t b = 0; b < w->map->n_buckets; b++) {
        n += hof_is_active(w->hof, b);
    }
    return n;
}

/* Returns the number of buckets of 'map' whose next instance is 'i'. */
static size_t
count_next(const struct svcmap *map, int i)
{
    size_t n = 0;

    for (size_t b = 0; b < map->n_buckets; b++) {
        n += map->buckets[b].next == i;
    }
    return n;
}

/* Scale out from 3 instances to 4: the new one gets exactly the buckets it
 * wins, each by a handoff, and no other primary moves. */
static void
test_scale_out(void)
{
    struct hof_params p;
    struct svcmap *before;
    struct hof_counts c;
    struct world w;
    size_t wins;
    int n;

    hof_params_init(&p);
    world_init(&w, new_map(256, 3), &p);
    CU_ASSERT_TRUE(at_target(w.map));
    n = add_instance(&w);
    CU_ASSERT_FALSE(svcmap_holds_any(w.map, n));
    CU_ASSERT_FALSE(at_target(w.map));
    wins = svcmap_count_target(w.map, n);
    CU_ASSERT(wins > 30 && wins < 100);
    before = svcmap_clone(w.map);

    CU_ASSERT_TRUE(run_to_target(&w, 1000));
    CU_ASSERT_TRUE(at_target(w.map));
    CU_ASSERT_EQUAL(primaries_changed(before, w.map), wins);
    CU_ASSERT_EQUAL(svcmap_count_primary(w.map, n), wins);
    CU_ASSERT_EQUAL(w.n_swaps, wins);
    for (size_t b = 0; b < 256; b++) {
        if (w.map->buckets[b].primary != before->buckets[b].primary) {
            CU_ASSERT_EQUAL(w.map->buckets[b].primary, n);
            /* The old primary ranks second of four where it ranked first
             * of three: it stays as the secondary. */
            CU_ASSERT_EQUAL(w.map->buckets[b].secondary,
                            before->buckets[b].primary);
        }
    }
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT_EQUAL(c.n_done, wins);
    CU_ASSERT_EQUAL(c.n_abandoned, 0);
    CU_ASSERT_EQUAL(c.n_immediate, 0);
    CU_ASSERT(c.n_secondary > 0);
    CU_ASSERT_EQUAL(c.n_pending, 0);
    CU_ASSERT(w.n_asked >= wins);

    /* Converged: further runs change nothing. */
    for (int i = 0; i < 10; i++) {
        CU_ASSERT_EQUAL(step(&w), 0);
    }
    svcmap_destroy(before);
    world_destroy(&w);
}

/* Moves start at most 'rate' a second, with a burst of 'max_active', and
 * no more than 'max_active' are in progress at once. */
static void
test_rate_limit(void)
{
    struct hof_params p;
    struct hof_counts c;
    struct world w;
    long long int t0;
    size_t window[100];

    /* The rate binds: each handoff takes a couple of runs. */
    hof_params_init(&p);
    p.rate = 50;
    p.max_active = 8;
    world_init(&w, new_map(1024, 4), &p);
    add_instance(&w);
    t0 = w.now;
    for (int i = 0; i < 200; i++) {
        size_t before = w.n_started;

        step(&w);
        window[i % 100] = w.n_started - before;
        if (i >= 99) {
            /* In any second (100 runs), at most 'rate' plus the burst. */
            size_t sum = 0;

            for (int j = 0; j < 100; j++) {
                sum += window[j];
            }
            CU_ASSERT(sum <= p.rate + p.max_active);
        }
    }
    /* Two seconds with work to do: the burst and 50 a second, no fewer,
     * no more. */
    CU_ASSERT(w.now - t0 == 2000);
    CU_ASSERT(w.n_started >= 2 * p.rate);
    CU_ASSERT(w.n_started <= 2 * p.rate + p.max_active);
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT(c.n_pending > 0);
    world_destroy(&w);

    /* 'max_active' binds: each handoff waits 200 ms for its agent. */
    hof_params_init(&p);
    p.rate = 1000;
    p.max_active = 4;
    world_init(&w, new_map(1024, 4), &p);
    w.warm_delay = 200;
    add_instance(&w);
    for (int i = 0; i < 100; i++) {
        step(&w);
        CU_ASSERT(n_active_buckets(&w) <= 4);
    }
    CU_ASSERT_EQUAL(w.max_active_seen, 4);
    hof_get_counts(w.hof, w.map, &c);
    /* A second of 200 ms moves (handoffs of primaries and of
     * secondaries), 4 at a time: about 20 done. */
    CU_ASSERT(c.n_done + c.n_secondary >= 12
              && c.n_done + c.n_secondary <= 20);
    CU_ASSERT(c.n_pending > 0);

    /* And it still gets there. */
    CU_ASSERT_TRUE(run_to_target(&w, 10000));
    world_destroy(&w);
}

/* A new owner that never gets warm: each move to it (of a primary or of a
 * secondary) is abandoned after the timeout with the primary and the
 * secondary kept as they were, then retried no sooner than 'retry_ms'
 * later. */
static void
test_timeout(void)
{
    struct hof_params p;
    struct svcmap *before, *warming;
    bool handoff[128];
    struct hof_counts c;
    struct world w;
    long long int t0;
    size_t wins, seconds = 0;
    int n, victim = SVCMAP_NONE;

    hof_params_init(&p);
    p.rate = 1000;
    p.max_active = 1000;
    p.timeout_ms = 500;
    p.retry_ms = 2000;
    world_init(&w, new_map(128, 3), &p);
    n = add_instance(&w);
    w.mute[n] = true;
    wins = svcmap_count_target(w.map, n);
    before = svcmap_clone(w.map);

    /* Every move starts at once: the new owner is the next instance of
     * each bucket it should be the primary or the secondary of, and the
     * primary and the secondary stay. */
    t0 = w.now;
    step(&w);
    for (size_t b = 0; b < 128; b++) {
        int tp, ts;

        svcmap_target(w.map, b, &tp, &ts);
        handoff[b] = hof_is_active(w.hof, b);
        CU_ASSERT_EQUAL(handoff[b], tp == n || ts == n);
        seconds += ts == n;
        if (handoff[b]) {
            CU_ASSERT_EQUAL(w.map->buckets[b].next, n);
            CU_ASSERT_EQUAL(w.map->buckets[b].primary,
                            before->buckets[b].primary);
            CU_ASSERT_EQUAL(w.map->buckets[b].secondary,
                            before->buckets[b].secondary);
        }
    }
    CU_ASSERT(seconds > 0);
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT_EQUAL(c.n_active, wins + seconds);
    warming = svcmap_clone(w.map);

    /* Up to the timeout, nothing. */
    while (w.now < t0 + p.timeout_ms) {
        step(&w);
    }
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT_EQUAL(c.n_active, wins + seconds);
    CU_ASSERT_EQUAL(c.n_abandoned, 0);

    /* At the timeout, all abandoned: primary and secondary as before, and
     * no next instance. */
    step(&w);
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT_EQUAL(c.n_active, 0);
    CU_ASSERT_EQUAL(c.n_abandoned, wins + seconds);
    CU_ASSERT_EQUAL(c.n_done, 0);
    CU_ASSERT_EQUAL(c.n_secondary, 0);
    for (size_t b = 0; b < 128; b++) {
        CU_ASSERT_EQUAL(w.map->buckets[b].primary,
                        before->buckets[b].primary);
        CU_ASSERT_EQUAL(w.map->buckets[b].secondary,
                        before->buckets[b].secondary);
        CU_ASSERT_EQUAL(w.map->buckets[b].next, SVCMAP_NONE);
    }

    /* Not retried before 'retry_ms'... */
    while (w.now < t0 + p.timeout_ms + p.retry_ms) {
        step(&w);
        CU_ASSERT_EQUAL(n_active_buckets(&w), 0);
        CU_ASSERT_EQUAL(svcmap_count_primary(w.map, n), 0);
    }
    CU_ASSERT_EQUAL(svcmap_count_primary(w.map, n), 0);

    /* ...then retried, every one. */
    step(&w);
    CU_ASSERT_EQUAL(n_active_buckets(&w), wins + seconds);
    CU_ASSERT_EQUAL(count_next(w.map, n), wins + seconds);

    /* A secondary that fails meanwhile is replaced by the new owner, which
     * was receiving the bucket already, and the map stays consistent.
     * (Handoffs whose primary was the failed instance end at once, "the
     * primary changed", and start again, so more are abandoned in the
     * end.) */
    for (size_t b = 0; b < 128 && victim == SVCMAP_NONE; b++) {
        if (hof_is_active(w.hof, b)) {
            victim = before->buckets[b].secondary;
        }
    }
    CU_ASSERT_FATAL(victim != SVCMAP_NONE);
    svcmap_destroy(warming);
    warming = svcmap_clone(w.map);     /* Just before the failure. */
    svcmap_set_state(w.map, victim, SVCMAP_DOWN);
    agents_report(&w);
    for (int i = 0; i < 1000 && n_active_buckets(&w); i++) {
        step(&w);
    }
    CU_ASSERT_EQUAL(n_active_buckets(&w), 0);
    hof_get_counts(w.hof, w.map, &c);
    {
        /* Where the failed instance was the secondary, the new owner took
         * its place; where it was the primary, the secondary took over
         * (it holds the whole bucket, the new owner only what the bulk
         * sent so far); the new owner is primary nowhere. */
        for (size_t b = 0; b < 128; b++) {
            if (handoff[b] && before->buckets[b].secondary == victim
                && before->buckets[b].primary != victim) {
                CU_ASSERT_EQUAL(w.map->buckets[b].secondary, n);
            }
            if (warming->buckets[b].primary == victim) {
                CU_ASSERT_EQUAL(w.map->buckets[b].primary,
                                warming->buckets[b].secondary);
            }
            CU_ASSERT(w.map->buckets[b].primary != n);
        }
        CU_ASSERT(c.n_abandoned >= wins);
    }

    /* Once the agent answers, the next attempt succeeds. */
    w.mute[n] = false;
    CU_ASSERT_TRUE(run_to_target(&w, 2000));
    CU_ASSERT_EQUAL(svcmap_count_primary(w.map, n),
                    svcmap_count_target(w.map, n));

    svcmap_destroy(warming);
    svcmap_destroy(before);
    world_destroy(&w);
}

/* Failures in the middle of a handoff. */
static void
test_faults(void)
{
    struct hof_params p;
    struct svcmap *before;
    struct hof_counts c;
    struct world w;
    size_t n_active, n_took;
    int n, old;

    hof_params_init(&p);
    p.rate = 1000;
    p.max_active = 1000;

    /* The new owner fails while warming: abandoned, repaired. */
    world_init(&w, new_map(128, 3), &p);
    n = add_instance(&w);
    w.mute[n] = true;
    step(&w);
    n_active = n_active_buckets(&w);
    CU_ASSERT(n_active > 0);
    svcmap_set_state(w.map, n, SVCMAP_DOWN);
    check_consistent(w.map);
    CU_ASSERT_FALSE(svcmap_holds_any(w.map, n));
    step(&w);
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT_EQUAL(c.n_active, 0);
    CU_ASSERT_EQUAL(c.n_abandoned, n_active);
    CU_ASSERT_EQUAL(c.n_done, 0);
    CU_ASSERT_TRUE(run_to_target(&w, 1000));
    CU_ASSERT_FALSE(svcmap_holds_any(w.map, n));
    world_destroy(&w);

    /* The old primary fails while an UP new owner warms: the secondary,
     * which holds the whole bucket, takes over (not the new owner, which
     * holds only what the bulk sent so far), and the handoff ends,
     * abandoned. */
    world_init(&w, new_map(128, 4), &p);
    svcmap_set_state(w.map, 3, SVCMAP_DOWN);
    svcmap_set_state(w.map, 3, SVCMAP_UP);
    CU_ASSERT_FALSE(svcmap_holds_any(w.map, 3));
    agents_report(&w);
    w.mute[3] = true;
    step(&w);
    CU_ASSERT(n_active_buckets(&w) > 0);
    old = SVCMAP_NONE;
    for (size_t b = 0; b < 128 && old == SVCMAP_NONE; b++) {
        if (hof_is_active(w.hof, b)) {
            old = w.map->buckets[b].primary;
        }
    }
    CU_ASSERT_FATAL(old != SVCMAP_NONE);
    before = svcmap_clone(w.map);
    n_took = 0;
    for (size_t b = 0; b < 128; b++) {
        n_took += hof_is_active(w.hof, b) && before->buckets[b].primary == old;
    }
    svcmap_set_state(w.map, old, SVCMAP_DOWN);
    for (size_t b = 0; b < 128; b++) {
        if (hof_is_active(w.hof, b) && before->buckets[b].primary == old) {
            CU_ASSERT_EQUAL(before->buckets[b].next, 3);
            CU_ASSERT_EQUAL(w.map->buckets[b].primary,
                            before->buckets[b].secondary);
            CU_ASSERT_EQUAL(w.map->buckets[b].next, SVCMAP_NONE);
        }
    }
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT_EQUAL(c.n_done, 0);
    step(&w);
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT_EQUAL(c.n_done, 0);
    /* (A move of the secondary to the new owner is done when the repair
     * gave it the secondary's job, otherwise abandoned.) */
    CU_ASSERT(c.n_abandoned + c.n_secondary >= n_took);
    for (size_t b = 0; b < 128; b++) {
        if (before->buckets[b].primary == old) {
            CU_ASSERT_FALSE(hof_is_active(w.hof, b));
        }
    }
    w.mute[3] = false;
    CU_ASSERT_TRUE(run_to_target(&w, 1000));
    svcmap_destroy(before);
    world_destroy(&w);

    /* The new owner dies right after the swap: the old primary, the
     * secondary now, holds the state and takes the bucket back. */
    world_init(&w, new_map(128, 3), &p);
    n = add_instance(&w);
    before = svcmap_clone(w.map);
    for (int i = 0; i < 1000 && !svcmap_count_primary(w.map, n); i++) {
        step(&w);
    }
    CU_ASSERT_FATAL(svcmap_count_primary(w.map, n) > 0);
    for (size_t b = 0; b < 128; b++) {
        if (w.map->buckets[b].primary == n) {
            CU_ASSERT_EQUAL(w.map->buckets[b].secondary,
                            before->buckets[b].primary);
        }
    }
    svcmap_destroy(before);
    before = svcmap_clone(w.map);
    svcmap_set_state(w.map, n, SVCMAP_DOWN);
    check_consistent(w.map);
    for (size_t b = 0; b < 128; b++) {
        if (before->buckets[b].primary == n) {
            CU_ASSERT_EQUAL(w.map->buckets[b].primary,
                            before->buckets[b].secondary);
        } else {
            CU_ASSERT_EQUAL(w.map->buckets[b].primary,
                            before->buckets[b].primary);
        }
    }
    CU_ASSERT_TRUE(run_to_target(&w, 1000));
    svcmap_destroy(before);
    world_destroy(&w);

    /* The old primary fails while a COLD new owner warms: the repair
     * prefers an UP instance to the COLD secondary, so the handoff ends
     * abandoned; the map stays consistent and still converges. */
    world_init(&w, new_map(128, 3), &p);
    n = add_instance(&w);
    w.mute[n] = true;
    step(&w);
    old = SVCMAP_NONE;
    for (size_t b = 0; b < 128 && old == SVCMAP_NONE; b++) {
        if (hof_is_active(w.hof, b)) {
            old = w.map->buckets[b].primary;
        }
    }
    CU_ASSERT_FATAL(old != SVCMAP_NONE);
    svcmap_set_state(w.map, old, SVCMAP_DOWN);
    check_consistent(w.map);
    step(&w);
    w.mute[n] = false;
    CU_ASSERT_TRUE(run_to_target(&w, 3000));
    world_destroy(&w);
}

/* A draining instance is emptied, its primaries by handoff. */
static void
test_drain(void)
{
    for (int rebalance = 0; rebalance < 2; rebalance++) {
        for (int skewed = 0; skewed < 2; skewed++) {
            struct hof_params p;
            struct svcmap *before;
            struct hof_counts c;
            struct world w;
            size_t held;

            hof_params_init(&p);
            p.rebalance = rebalance;
            world_init(&w, new_map(256, 4), &p);
            if (skewed) {
                /* First an instance fails and comes back: with rebalance
                 * off it gets nothing back, so the map is off its target
                 * when the drain starts. */
                svcmap_set_state(w.map, 0, SVCMAP_DOWN);
                svcmap_set_state(w.map, 0, SVCMAP_COLD);
                agents_report(&w);
                CU_ASSERT_TRUE(run_quiet(&w, 2000));
            }
            held = (svcmap_count_primary(w.map, 2)
                    + svcmap_count_secondary(w.map, 2));
            CU_ASSERT(held > 0);
            before = svcmap_clone(w.map);
            w.map->instances[2].draining = true;
            /* Quiet at its target, the policy looks again only when told
             * (the draining mark is no new epoch). */
            step(&w);
            CU_ASSERT(svcmap_holds_any(w.map, 2));
            hof_wake(w.hof);
            CU_ASSERT_TRUE(run_quiet(&w, 5000));
            CU_ASSERT_FALSE(svcmap_holds_any(w.map, 2));
            CU_ASSERT_EQUAL(svcmap_count_target(w.map, 2), 0);
            hof_get_counts(w.hof, w.map, &c);
            CU_ASSERT(c.n_done >= svcmap_count_primary(before, 2));
            CU_ASSERT_EQUAL(c.n_abandoned, 0);
            if (rebalance) {
                CU_ASSERT_TRUE(at_target(w.map));
            } else {
                /* Only the drained instance's primaries moved. */
                CU_ASSERT_EQUAL(primaries_changed(before, w.map),
                                svcmap_count_primary(before, 2));
            }
            svcmap_destroy(before);
            world_destroy(&w);
        }
    }
}

/* With rebalance off an instance that recovers gets no primary back; with
 * it on, exactly its target primaries. */
static void
test_rebalance_switch(void)
{
    struct hof_params p;
    struct svcmap *before;
    struct hof_counts c;
    struct world w;
    size_t wins;

    hof_params_init(&p);
    p.rebalance = false;
    world_init(&w, new_map(256, 4), &p);
    wins = svcmap_count_primary(w.map, 1);
    CU_ASSERT(wins > 0);
    svcmap_set_state(w.map, 1, SVCMAP_DOWN);
    CU_ASSERT(run_quiet(&w, 1000));
    svcmap_set_state(w.map, 1, SVCMAP_COLD);
    CU_ASSERT_EQUAL(svcmap_count_target(w.map, 1), wins);
    for (int i = 0; i < 500; i++) {
        step(&w);
    }
    CU_ASSERT_EQUAL(svcmap_count_primary(w.map, 1), 0);
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT_EQUAL(c.n_done + c.n_abandoned + c.n_active, 0);
    CU_ASSERT_EQUAL(c.n_pending, 0);

    /* Switched on: every bucket off its target is pending (its primaries
     * and the secondaries it ranks second for)... */
    before = svcmap_clone(w.map);
    p.rebalance = true;
    hof_set_params(w.hof, &p);
    hof_get_counts(w.hof, w.map, &c);
    {
        size_t off = 0;

        for (size_t b = 0; b < 256; b++) {
            int tp, ts;

            svcmap_target(w.map, b, &tp, &ts);
            off += (w.map->buckets[b].primary != tp
                    || w.map->buckets[b].secondary != ts);
        }
        CU_ASSERT(off > wins);
        CU_ASSERT_EQUAL(c.n_pending, off);
    }

    /* ...and it gets its own primaries back, no other. */
    CU_ASSERT_TRUE(run_to_target(&w, 2000));
    CU_ASSERT_EQUAL(svcmap_count_primary(w.map, 1), wins);
    CU_ASSERT_EQUAL(primaries_changed(before, w.map), wins);
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT_EQUAL(c.n_done, wins);
    svcmap_destroy(before);
    world_destroy(&w);
}

/* HOF_IMMEDIATE moves to the target at once, never asking the oracle. */
static void
test_immediate(void)
{
    struct hof_params p;
    struct svcmap *before;
    struct hof_counts c;
    struct world w;
    size_t wins;
    int n;

    hof_params_init(&p);
    p.mode = HOF_IMMEDIATE;
    p.rate = 10000;
    p.max_active = 10000;
    world_init(&w, new_map(256, 3), &p);
    n = add_instance(&w);
    w.mute[n] = true;
    wins = svcmap_count_target(w.map, n);
    before = svcmap_clone(w.map);
    CU_ASSERT(step(&w) > 0);
    CU_ASSERT_TRUE(at_target(w.map));
    CU_ASSERT_EQUAL(w.n_asked, 0);
    CU_ASSERT_EQUAL(primaries_changed(before, w.map), wins);
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT_EQUAL(c.n_immediate, wins);
    CU_ASSERT_EQUAL(c.n_done, 0);
    CU_ASSERT_EQUAL(c.n_active, 0);
    CU_ASSERT_EQUAL(step(&w), 0);
    svcmap_destroy(before);
    world_destroy(&w);

    /* Rate-limited all the same. */
    p.rate = 10;
    p.max_active = 5;
    world_init(&w, new_map(256, 3), &p);
    add_instance(&w);
    step(&w);
    CU_ASSERT_EQUAL(w.n_started, 5);
    CU_ASSERT_FALSE(at_target(w.map));
    CU_ASSERT_TRUE(run_to_target(&w, 10000));
    CU_ASSERT_EQUAL(w.n_asked, 0);
    world_destroy(&w);
}

/* A small deterministic pseudo-random generator. */
static uint32_t
next_rand(uint32_t *state)
{
    *state = *state * 1103515245 + 12345;
    return *state >> 16;
}

/* Failures, recoveries, adds and drains at random, with the policy
 * running between them: every run passes step()'s checks, and at the end
 * the map converges to its target. */
static void
test_random(void)
{
    for (uint32_t seed = 1; seed <= 8; seed++) {
        uint32_t r = seed;
        struct hof_params p;
        struct world w;

        hof_params_init(&p);
        p.rate = 100;
        p.max_active = 8;
        p.timeout_ms = 300;
        p.retry_ms = 500;
        world_init(&w, new_map(128, 4), &p);
        w.warm_delay = 50;
        for (int e = 0; e < 40; e++) {
            int i = next_rand(&r) % w.map->n_instances;
            size_t live_targets = 0;
            enum svcmap_state st = w.map->instances[i].state;

            for (size_t j = 0; j < w.map->n_instances; j++) {
                live_targets += (svcmap_is_live(w.map->instances[j].state)
                                 && !w.map->instances[j].draining);
            }
            switch (next_rand(&r) % 6) {
            case 0:
                if (svcmap_is_live(st) && live_targets > 1) {
                    svcmap_set_state(w.map, i, SVCMAP_DOWN);
                }
                break;
            case 1:
                if (!svcmap_is_live(st)) {
                    svcmap_set_state(w.map, i, SVCMAP_COLD);
                }
                break;
            case 2:
                if (st == SVCMAP_COLD) {
                    svcmap_set_state(w.map, i, SVCMAP_UP);
                }
                break;
            case 3:
                if (w.map->n_instances < 8) {
                    add_instance(&w);
                }
                break;
            case 4:
                if (!w.map->instances[i].draining
                    && (live_targets > 1 || !svcmap_is_live(st))) {
                    w.map->instances[i].draining = true;
                } else {
                    w.map->instances[i].draining = false;
                }
                hof_wake(w.hof);
                break;
            case 5:
                w.mute[i] = !w.mute[i];
                break;
            }
            check_consistent(w.map);
            agents_report(&w);
            for (int k = next_rand(&r) % 40; k > 0; k--) {
                step(&w);
            }
        }
        memset(w.mute, 0, sizeof w.mute);
        CU_ASSERT_TRUE(run_to_target(&w, 20000));
        CU_ASSERT_TRUE(at_target(w.map));
        for (size_t j = 0; j < w.map->n_instances; j++) {
            if (w.map->instances[j].draining
                || !svcmap_is_live(w.map->instances[j].state)) {
                CU_ASSERT_FALSE(svcmap_holds_any(w.map, j));
            }
        }
        CU_ASSERT(w.n_swaps > 0);
        world_destroy(&w);
    }
}

/* hof_format()'s summary line gives the counts. */
static void
test_format(void)
{
    unsigned long long int epoch, done, abandoned;
    size_t active, pending, n_lines = 0;
    struct ds s = DS_EMPTY_INITIALIZER;
    struct hof_params p;
    struct hof_counts c;
    struct world w;
    char name[32];
    int n;

    hof_params_init(&p);
    p.rate = 1000;
    p.max_active = 16;
    p.timeout_ms = 100;
    world_init(&w, new_map(256, 3), &p);
    n = add_instance(&w);
    w.warm_delay = 30;
    /* The new owner reports only the even buckets: the odd ones time
     * out. */
    for (int i = 0; i < 45; i++) {
        step(&w);
        for (size_t b = 1; b < 256; b += 2) {
            w.reported[n][b] = 0;
        }
    }
    hof_get_counts(w.hof, w.map, &c);
    CU_ASSERT(c.n_done > 0);
    CU_ASSERT(c.n_abandoned > 0);
    CU_ASSERT(c.n_active > 0);
    CU_ASSERT(c.n_done + c.n_abandoned + c.n_secondary > HOF_HISTORY);

    hof_format(w.hof, w.map, w.now, &s);
    CU_ASSERT_EQUAL_FATAL(sscanf(ds_cstr(&s), "service %31[^:]: epoch %llu, "
                                 "in progress %zu, done %llu, abandoned "
                                 "%llu, pending %zu", name, &epoch, &active,
                                 &done, &abandoned, &pending), 6);
    CU_ASSERT_STRING_EQUAL(name, "svc");
    CU_ASSERT_EQUAL(epoch, w.map->epoch);
    CU_ASSERT_EQUAL(active, c.n_active);
    CU_ASSERT_EQUAL(active, n_active_buckets(&w));
    CU_ASSERT_EQUAL(done, c.n_done);
    CU_ASSERT_EQUAL(done, w.n_swaps);
    CU_ASSERT_EQUAL(abandoned, c.n_abandoned);
    CU_ASSERT_EQUAL(pending, c.n_pending);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "make-before-break"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), " warming "));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), " abandoned "));
    /* The summary, the moves in progress and at most HOF_HISTORY more. */
    for (const char *q = ds_cstr(&s); *q; q++) {
        n_lines += *q == '\n';
    }
    CU_ASSERT_EQUAL(n_lines, 1 + c.n_active + HOF_HISTORY);
    ds_destroy(&s);
    world_destroy(&w);
}

static const struct test_case handoff_tests[] = {
    { "scale out", test_scale_out },
    { "rate limit", test_rate_limit },
    { "timeout and retry", test_timeout },
    { "faults during a handoff", test_faults },
    { "drain", test_drain },
    { "rebalance off and on", test_rebalance_switch },
    { "immediate mode", test_immediate },
    { "random failures converge", test_random },
    { "format", test_format },
    { NULL, NULL },
};
TEST_SUITE("handoff", handoff_tests)
