/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Unit tests for agent/agenthold: when an agent may serve. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <string.h>
#include "agenthold.h"
#include "openvswitch/dynamic-string.h"
#include "tests.h"

/* A new agent is held until its first map, whatever that map says. */
static void
test_start(void)
{
    struct agenthold h;

    agenthold_init(&h, 1000);
    CU_ASSERT(agenthold_is_held(&h));
    CU_ASSERT_EQUAL(h.reason, AGENTHOLD_START);
    /* A disruption before any map changes nothing: there is no state. */
    agenthold_disrupt(&h, AGENTHOLD_BFD, 0, 1001);
    CU_ASSERT_EQUAL(h.reason, AGENTHOLD_START);
    CU_ASSERT(agenthold_map(&h, 12, 1050));
    CU_ASSERT(!agenthold_is_held(&h));
    CU_ASSERT_EQUAL(h.held_ms, 50);
    /* Later maps do not "release" again. */
    CU_ASSERT(!agenthold_map(&h, 12, 1060));
}

/* After a disruption, only a map that names the agent in no bucket
 * releases it, whatever its epoch. */
static void
test_disruption(void)
{
    static const enum agenthold_reason reasons[] = {
        AGENTHOLD_BFD, AGENTHOLD_CARRIER, AGENTHOLD_STALL,
    };

    for (size_t i = 0; i < sizeof reasons / sizeof *reasons; i++) {
        struct agenthold h;

        agenthold_init(&h, 0);
        CU_ASSERT(agenthold_map(&h, 10, 10));
        agenthold_disrupt(&h, reasons[i], 5, 100);
        CU_ASSERT(agenthold_is_held(&h));
        CU_ASSERT_EQUAL(h.n_holds[reasons[i]], 1);
        /* The same map again, or a later one made before the controller
         * saw the failure, still gives it buckets. */
        CU_ASSERT(!agenthold_map(&h, 10, 110));
        CU_ASSERT(!agenthold_map(&h, 3, 120));
        CU_ASSERT(agenthold_is_held(&h));
        CU_ASSERT(agenthold_map(&h, 0, 150));
        CU_ASSERT(!agenthold_is_held(&h));
        CU_ASSERT_EQUAL(h.held_ms, 10 + 50);
    }
}

/* The controller saw the failure first: the map without the agent came
 * before the disruption, and no later map comes.  The agent is not held;
 * with buckets again later, a disruption holds it. */
static void
test_disruption_without_buckets(void)
{
    struct agenthold h;

    agenthold_init(&h, 0);
    agenthold_map(&h, 10, 0);
    agenthold_map(&h, 0, 10);
    agenthold_disrupt(&h, AGENTHOLD_BFD, 6, 20);
    CU_ASSERT(!agenthold_is_held(&h));
    CU_ASSERT_EQUAL(h.n_holds[AGENTHOLD_BFD], 1);
    CU_ASSERT(!agenthold_map(&h, 4, 30));
    agenthold_disrupt(&h, AGENTHOLD_CARRIER, 7, 40);
    CU_ASSERT(agenthold_is_held(&h));
    /* A second disruption while held keeps the first time. */
    agenthold_disrupt(&h, AGENTHOLD_BFD, 7, 50);
    CU_ASSERT_EQUAL(h.reason, AGENTHOLD_BFD);
    CU_ASSERT_EQUAL(h.since, 40);
    CU_ASSERT(agenthold_map(&h, 0, 100));
    CU_ASSERT_EQUAL(h.held_ms, 60);
}

/* The status line says whether it is held and why. */
static void
test_format(void)
{
    struct agenthold h;
    struct ds s = DS_EMPTY_INITIALIZER;

    agenthold_init(&h, 0);
    agenthold_map(&h, 1, 0);
    agenthold_format(&h, 10, &s);
    CU_ASSERT(strstr(ds_cstr(&s), "held: no") != NULL);
    ds_clear(&s);
    agenthold_disrupt(&h, AGENTHOLD_STALL, 1, 20);
    h.n_dropped = 3;
    h.n_dropped_down = 2;
    agenthold_format(&h, 50, &s);
    CU_ASSERT(strstr(ds_cstr(&s), "held: yes") != NULL);
    CU_ASSERT(strstr(ds_cstr(&s), "for 30 ms") != NULL);
    CU_ASSERT(strstr(ds_cstr(&s), "stall 1") != NULL);
    CU_ASSERT(strstr(ds_cstr(&s), "while held 3 (and 2 with the link down)")
              != NULL);
    ds_destroy(&s);
}

static const struct test_case tests[] = {
    { "held from start to the first map", test_start },
    { "released by a map without buckets", test_disruption },
    { "disruption without buckets", test_disruption_without_buckets },
    { "format", test_format },
    { NULL, NULL },
};

TEST_SUITE("agenthold", tests)
