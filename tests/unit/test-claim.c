/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Unit tests for agent/claim: one writer per bucket. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <limits.h>
#include <string.h>
#include "claim.h"
#include "openvswitch/dynamic-string.h"
#include "random.h"
#include "tests.h"

/* Instance "a" primary and "b" secondary of every one of 'n' buckets. */
static void
pair(struct claim **a, struct claim **b, size_t n)
{
    *a = claim_create();
    *b = claim_create();
    claim_set_n_buckets(*a, n);
    claim_set_n_buckets(*b, n);
    for (size_t i = 0; i < n; i++) {
        claim_set_bucket(*a, i, "b", true, true, NULL);
        claim_set_bucket(*b, i, "a", true, false, NULL);
    }
}

/* The primary owns a new pair's bucket; frames at the secondary claim it,
 * and it moves once the primary has answered. */
static void
test_claim_and_release(void)
{
    struct claim *a, *b;

    pair(&a, &b, 4);
    CU_ASSERT(claim_owns(a, 2));
    CU_ASSERT(!claim_owns(b, 2));
    CU_ASSERT_EQUAL(claim_frame(a, 2, true, 0), CLAIM_PROCESS);
    CU_ASSERT_EQUAL(claim_frame(b, 2, true, 10), CLAIM_ASK);
    CU_ASSERT_EQUAL(claim_frame(b, 2, true, 11), CLAIM_QUEUE);
    CU_ASSERT(claim_is_waiting(b, 2));
    CU_ASSERT_EQUAL(claim_n_waiting(b), 1);
    /* Other buckets are not held up. */
    CU_ASSERT(!claim_is_waiting(b, 3));

    CU_ASSERT_EQUAL(claim_requested(a, 2, "b"), CLAIM_GIVE);
    CU_ASSERT(!claim_owns(a, 2));
    CU_ASSERT(claim_released(b, 2, "a"));
    CU_ASSERT(claim_owns(b, 2));
    CU_ASSERT(!claim_is_waiting(b, 2));
    CU_ASSERT_EQUAL(claim_frame(b, 2, true, 12), CLAIM_PROCESS);
    CU_ASSERT_EQUAL(claim_take_deferred(b, 2), NULL);

    /* Back again, the same way: the switch reverted. */
    CU_ASSERT_EQUAL(claim_frame(a, 2, true, 20), CLAIM_ASK);
    CU_ASSERT_EQUAL(claim_requested(b, 2, "a"), CLAIM_GIVE);
    CU_ASSERT(claim_released(a, 2, "b"));
    CU_ASSERT(claim_owns(a, 2) && !claim_owns(b, 2));

    CU_ASSERT_EQUAL(claim_get_stats(b)->n_asked, 1);
    CU_ASSERT_EQUAL(claim_get_stats(b)->n_released, 1);
    CU_ASSERT_EQUAL(claim_get_stats(b)->n_given, 1);
    CU_ASSERT_EQUAL(claim_get_stats(a)->n_given, 1);
    claim_destroy(a);
    claim_destroy(b);
}

/* A partner that cannot be asked has nothing in flight. */
static void
test_unreachable(void)
{
    struct claim *a, *b;

    pair(&a, &b, 2);
    CU_ASSERT_EQUAL(claim_frame(b, 1, false, 0), CLAIM_PROCESS);
    CU_ASSERT(claim_owns(b, 1));
    CU_ASSERT_EQUAL(claim_get_stats(b)->n_unasked, 1);
    CU_ASSERT_EQUAL(claim_get_stats(b)->n_asked, 0);

    /* A primary without a secondary has nobody to ask either. */
    claim_set_bucket(a, 0, NULL, true, false, NULL);
    CU_ASSERT_EQUAL(claim_frame(a, 0, true, 0), CLAIM_PROCESS);
    claim_destroy(a);
    claim_destroy(b);
}

/* A hung partner loses the bucket when the wait ends; a partner whose
 * connection closes, at once. */
static void
test_expire_and_gone(void)
{
    struct claim *a, *b;
    uint32_t taken[8];

    pair(&a, &b, 8);
    CU_ASSERT_EQUAL(claim_next_expiry(b, 10), LLONG_MAX);
    CU_ASSERT_EQUAL(claim_frame(b, 1, true, 100), CLAIM_ASK);
    CU_ASSERT_EQUAL(claim_frame(b, 5, true, 104), CLAIM_ASK);
    CU_ASSERT_EQUAL(claim_next_expiry(b, 10), 110);
    CU_ASSERT_EQUAL(claim_expire(b, 109, 10, taken, 8), 0);
    CU_ASSERT_EQUAL(claim_expire(b, 110, 10, taken, 8), 1);
    CU_ASSERT_EQUAL(taken[0], 1);
    CU_ASSERT(claim_owns(b, 1));
    CU_ASSERT(!claim_owns(b, 5));
    CU_ASSERT_EQUAL(claim_next_expiry(b, 10), 114);

    /* Another instance's connection closing changes nothing. */
    CU_ASSERT_EQUAL(claim_partner_gone(b, "c", taken, 8), 0);
    CU_ASSERT_EQUAL(claim_partner_gone(b, "a", taken, 8), 1);
    CU_ASSERT_EQUAL(taken[0], 5);
    CU_ASSERT(claim_owns(b, 5));
    CU_ASSERT_EQUAL(claim_n_waiting(b), 0);
    /* A late RELEASE is stray. */
    CU_ASSERT(!claim_released(b, 5, "a"));
    CU_ASSERT_EQUAL(claim_get_stats(b)->n_expired, 1);
    CU_ASSERT_EQUAL(claim_get_stats(b)->n_gone, 1);
    CU_ASSERT_EQUAL(claim_get_stats(b)->n_stray, 1);
    claim_destroy(a);
    claim_destroy(b);
}

/* Both ask at once (frames in flight to both): the one whose CLAIM meets
 * the other's wait defers it until the token has come and gone. */
static void
test_both_ask(void)
{
    struct claim *a, *b;

    pair(&a, &b, 1);
    CU_ASSERT_EQUAL(claim_frame(b, 0, true, 0), CLAIM_ASK);
    CU_ASSERT_EQUAL(claim_requested(a, 0, "b"), CLAIM_GIVE);
    /* The RELEASE is on its way to "b" when frames reach "a" again. */
    CU_ASSERT_EQUAL(claim_frame(a, 0, true, 1), CLAIM_ASK);
    CU_ASSERT_EQUAL(claim_requested(b, 0, "a"), CLAIM_DEFER);
    CU_ASSERT(!claim_owns(a, 0) && !claim_owns(b, 0));
    /* Not yet: "b"'s own claim is outstanding. */
    CU_ASSERT_EQUAL(claim_take_deferred(b, 0), NULL);
    CU_ASSERT(claim_released(b, 0, "a"));
    CU_ASSERT(claim_owns(b, 0));
    CU_ASSERT_STRING_EQUAL(claim_take_deferred(b, 0), "a");
    CU_ASSERT(!claim_owns(b, 0));
    CU_ASSERT_EQUAL(claim_take_deferred(b, 0), NULL);
    CU_ASSERT(claim_released(a, 0, "b"));
    CU_ASSERT(claim_owns(a, 0));
    CU_ASSERT_EQUAL(claim_get_stats(b)->n_deferred, 1);

    /* A CLAIM that crossed our RELEASE is ignored. */
    CU_ASSERT_EQUAL(claim_frame(b, 0, true, 2), CLAIM_ASK);
    CU_ASSERT_EQUAL(claim_requested(a, 0, "b"), CLAIM_GIVE);
    CU_ASSERT_EQUAL(claim_requested(a, 0, "b"), CLAIM_IGNORE);
    CU_ASSERT_EQUAL(claim_get_stats(a)->n_ignored, 1);
    claim_destroy(a);
    claim_destroy(b);
}

/* A swap keeps ownership (the new primary claims on its first frame); a new
 * pair gives the bucket to its primary and ends a claim outstanding; a
 * bucket we are not in is not governed. */
static void
test_maps(void)
{
    struct claim *a, *b;

    pair(&a, &b, 2);
    /* The handoff's swap: "b" primary, "a" secondary. */
    claim_set_bucket(a, 0, "b", true, false, NULL);
    claim_set_bucket(b, 0, "a", true, true, NULL);
    CU_ASSERT(claim_owns(a, 0));
    CU_ASSERT(!claim_owns(b, 0));
    CU_ASSERT_EQUAL(claim_frame(b, 0, true, 0), CLAIM_ASK);

    /* The secondary moves: "c" replaces "a" before "b"'s claim was
     * answered.  The claim is forgotten, and the next goes to "a", which
     * left the pair owning the bucket, and gives it up. */
    claim_set_bucket(b, 0, "c", true, true, NULL);
    CU_ASSERT(!claim_owns(b, 0));
    CU_ASSERT(!claim_is_waiting(b, 0));
    CU_ASSERT_EQUAL(claim_n_waiting(b), 0);
    CU_ASSERT_STRING_EQUAL(claim_partner(b, 0), "a");
    CU_ASSERT(claim_governs(a, 0));
    claim_set_bucket(a, 0, NULL, false, false, NULL);
    CU_ASSERT(claim_owns(a, 0));        /* Not governed. */
    CU_ASSERT(!claim_governs(a, 0));
    CU_ASSERT_EQUAL(claim_frame(a, 0, true, 0), CLAIM_PROCESS);
    CU_ASSERT_EQUAL(claim_frame(b, 0, true, 1), CLAIM_ASK);
    CU_ASSERT_EQUAL(claim_requested(a, 0, "b"), CLAIM_GIVE);
    CU_ASSERT(claim_released(b, 0, "a"));
    CU_ASSERT(claim_owns(b, 0));
    CU_ASSERT_STRING_EQUAL(claim_partner(b, 0), "c");
    /* A primary that owns keeps its bucket when the secondary changes. */
    claim_set_bucket(b, 0, "d", true, true, NULL);
    CU_ASSERT(claim_owns(b, 0));
    claim_set_bucket(b, 0, "c", true, true, NULL);

    /* A handoff's swap with the bucket's next instance: "x", primary and
     * owner with "c" as secondary and "e" as next, becomes the secondary
     * of "e" and keeps the bucket until "e" claims it; "e", in the pair
     * as the next instance with "x" as its partner, claims it on its first
     * frame, before or after its map made it the primary. */
    {
        struct claim *x = claim_create(), *e = claim_create();

        claim_set_n_buckets(x, 2);
        claim_set_n_buckets(e, 2);
        claim_set_bucket(x, 0, "c", true, true, NULL);
        CU_ASSERT(claim_owns(x, 0));
        claim_set_bucket(x, 0, "c", true, true, "e");
        CU_ASSERT(claim_owns(x, 0));
        claim_set_bucket(e, 0, "x", true, false, NULL);
        CU_ASSERT(claim_governs(e, 0));
        CU_ASSERT(!claim_owns(e, 0));
        claim_set_bucket(x, 0, "e", true, false, NULL);
        CU_ASSERT(claim_owns(x, 0));
        claim_set_bucket(e, 0, "x", true, true, NULL);
        CU_ASSERT(!claim_owns(e, 0));
        CU_ASSERT_EQUAL(claim_frame(e, 0, true, 2), CLAIM_ASK);
        CU_ASSERT_EQUAL(claim_requested(x, 0, "e"), CLAIM_GIVE);
        CU_ASSERT(claim_released(e, 0, "x"));
        CU_ASSERT(claim_owns(e, 0));
        CU_ASSERT(!claim_owns(x, 0));
        /* A secondary whose new partner was not the next instance does
         * not keep what it owned as the primary. */
        claim_set_bucket(e, 0, "x", true, true, "f");
        claim_set_bucket(e, 0, "g", true, false, NULL);
        CU_ASSERT(!claim_owns(e, 0));
        claim_destroy(x);
        claim_destroy(e);
    }

    /* A CLAIM from an instance that is not the partner is answered like
     * any other, and counted. */
    CU_ASSERT_EQUAL(claim_requested(b, 0, "a"), CLAIM_GIVE);
    CU_ASSERT(!claim_owns(b, 0));
    CU_ASSERT_EQUAL(claim_get_stats(b)->n_foreign, 1);
    CU_ASSERT_STRING_EQUAL(claim_partner(b, 0), "c");

    /* A failover's repair: the secondary becomes primary of a new pair.
     * Having never owned the bucket, it claims it from the old primary. */
    claim_set_bucket(b, 1, "c", true, true, NULL);
    CU_ASSERT(!claim_owns(b, 1));
    CU_ASSERT_STRING_EQUAL(claim_partner(b, 1), "a");
    /* Unreachable (dead): taken at once, and the partner is "c" again. */
    CU_ASSERT_EQUAL(claim_frame(b, 1, false, 5), CLAIM_PROCESS);
    CU_ASSERT(claim_owns(b, 1));
    CU_ASSERT_STRING_EQUAL(claim_partner(b, 1), "c");

    /* A new bucket count starts afresh; out of range is not governed. */
    claim_set_n_buckets(b, 4);
    CU_ASSERT(claim_owns(b, 3));
    CU_ASSERT(!claim_governs(b, 9));
    CU_ASSERT_EQUAL(claim_frame(b, 9, true, 0), CLAIM_PROCESS);
    claim_set_bucket(b, 3, "a", true, false, NULL);
    CU_ASSERT(!claim_owns(b, 3));
    claim_destroy(a);
    claim_destroy(b);
}

/* A model of two agents and the four one-way streams between them
 * (RELEASEs from X travel on X's connection to Y, CLAIMs from X on Y's
 * connection to X, so the two kinds keep no order between them), with
 * frames arriving at either at random: at no moment do both own the
 * bucket, and once every message is delivered no claim is outstanding
 * and exactly one owns it. */
#define MODEL_Q 64
struct model_q {
    int n;
    bool release[MODEL_Q];      /* Else CLAIM. */
};

static void
model_push(struct model_q *q, bool release)
{
    CU_ASSERT_FATAL(q->n < MODEL_Q);
    q->release[q->n++] = release;
}

static bool
model_pop(struct model_q *q)
{
    bool release = q->release[0];

    memmove(q->release, q->release + 1, --q->n * sizeof *q->release);
    return release;
}

static void
test_model(void)
{
    static const char *names[2] = { "a", "b" };

    random_set_seed(7);
    for (int round = 0; round < 2000; round++) {
        struct claim *c[2];
        /* q[x][0]: x's RELEASEs to the other; q[x][1]: x's CLAIMs. */
        struct model_q q[2][2];
        int steps = random_range(40) + 1;

        memset(q, 0, sizeof q);
        pair(&c[0], &c[1], 1);
        for (int step = 0; step < steps || q[0][0].n || q[0][1].n
                           || q[1][0].n || q[1][1].n; step++) {
            int x = random_range(2), y = !x;
            int k = random_range(2);

            if (step < steps && random_range(2)) {
                /* A frame at x. */
                if (claim_frame(c[x], 0, true, step) == CLAIM_ASK) {
                    model_push(&q[x][1], false);
                }
            } else if (q[x][k].n) {
                /* Deliver x's oldest message of kind k to y. */
                if (model_pop(&q[x][k])) {
                    if (claim_released(c[y], 0, names[x])
                        && claim_take_deferred(c[y], 0)) {
                        model_push(&q[y][0], true);
                    }
                } else if (claim_requested(c[y], 0, names[x])
                           == CLAIM_GIVE) {
                    model_push(&q[y][0], true);
                }
            }
            CU_ASSERT_FATAL(!(claim_owns(c[0], 0) && claim_owns(c[1], 0)));
        }
        CU_ASSERT(!claim_is_waiting(c[0], 0) && !claim_is_waiting(c[1], 0));
        CU_ASSERT(claim_owns(c[0], 0) != claim_owns(c[1], 0));
        claim_destroy(c[0]);
        claim_destroy(c[1]);
    }
}

static void
test_format(void)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    struct claim *a, *b;

    pair(&a, &b, 4);
    claim_frame(b, 0, true, 0);
    claim_format(b, &s);
    CU_ASSERT(strstr(ds_cstr(&s), "own 0 of 4 buckets") != NULL);
    CU_ASSERT(strstr(ds_cstr(&s), "waiting 1, asked 1") != NULL);
    ds_destroy(&s);
    claim_destroy(a);
    claim_destroy(b);
}

static const struct test_case tests[] = {
    { "claim and release", test_claim_and_release },
    { "partner unreachable", test_unreachable },
    { "wait ends, partner gone", test_expire_and_gone },
    { "both ask at once", test_both_ask },
    { "maps", test_maps },
    { "model: never two writers", test_model },
    { "format", test_format },
    { NULL, NULL },
};

TEST_SUITE("claim", tests)
