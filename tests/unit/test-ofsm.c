/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <CUnit/CUnit.h>
#include <limits.h>
#include "ofsm.h"
#include "tests.h"

#define PROBE 5000
#define HANDSHAKE 10000

static void
test_starts_in_hello(void)
{
    struct ofsm fsm;

    ofsm_init(&fsm, PROBE, HANDSHAKE, 1000);
    CU_ASSERT_EQUAL(fsm.state, OFSM_HELLO);
    CU_ASSERT_FALSE(ofsm_is_connected(&fsm));
    CU_ASSERT_EQUAL(ofsm_deadline(&fsm), 1000 + HANDSHAKE);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, 1000 + HANDSHAKE - 1), OFSM_NONE);
}

static void
test_handshake_timeout(void)
{
    struct ofsm fsm;

    ofsm_init(&fsm, PROBE, HANDSHAKE, 0);
    ofsm_advance(&fsm, OFSM_FEATURES, 3000);
    /* Each handshake step has its own timeout, from its start. */
    CU_ASSERT_EQUAL(ofsm_deadline(&fsm), 3000 + HANDSHAKE);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, 3000 + HANDSHAKE - 1), OFSM_NONE);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, 3000 + HANDSHAKE), OFSM_DISCONNECT);
    CU_ASSERT_EQUAL(fsm.state, OFSM_CLOSED);
    CU_ASSERT_EQUAL(ofsm_deadline(&fsm), LLONG_MAX);
}

static void
test_messages_do_not_extend_handshake(void)
{
    struct ofsm fsm;

    ofsm_init(&fsm, PROBE, HANDSHAKE, 0);
    ofsm_advance(&fsm, OFSM_PORTS, 0);
    /* A peer that chats (echoes) but never finishes the handshake is cut
     * off all the same. */
    for (long long int t = 0; t < HANDSHAKE; t += 1000) {
        ofsm_received(&fsm, t);
    }
    CU_ASSERT_EQUAL(ofsm_run(&fsm, HANDSHAKE), OFSM_DISCONNECT);
}

static void
test_probe_then_disconnect(void)
{
    struct ofsm fsm;

    ofsm_init(&fsm, PROBE, HANDSHAKE, 0);
    ofsm_advance(&fsm, OFSM_ACTIVE, 100);
    ofsm_received(&fsm, 100);
    CU_ASSERT_TRUE(ofsm_is_connected(&fsm));
    CU_ASSERT_EQUAL(ofsm_deadline(&fsm), 100 + PROBE);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, 100 + PROBE - 1), OFSM_NONE);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, 100 + PROBE), OFSM_PROBE);
    CU_ASSERT_EQUAL(fsm.state, OFSM_IDLE);
    CU_ASSERT_TRUE(ofsm_is_connected(&fsm));
    /* The probe is sent once, not on every run. */
    CU_ASSERT_EQUAL(ofsm_run(&fsm, 100 + PROBE + 1), OFSM_NONE);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, 100 + 2 * PROBE), OFSM_DISCONNECT);
    CU_ASSERT_FALSE(ofsm_is_connected(&fsm));
}

static void
test_answer_returns_to_active(void)
{
    struct ofsm fsm;

    ofsm_init(&fsm, PROBE, HANDSHAKE, 0);
    ofsm_advance(&fsm, OFSM_ACTIVE, 0);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, PROBE), OFSM_PROBE);
    ofsm_received(&fsm, PROBE + 10);
    CU_ASSERT_EQUAL(fsm.state, OFSM_ACTIVE);
    CU_ASSERT_EQUAL(ofsm_deadline(&fsm), 2 * PROBE + 10);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, 2 * PROBE), OFSM_NONE);
}

static void
test_traffic_postpones_probe(void)
{
    struct ofsm fsm;

    ofsm_init(&fsm, PROBE, HANDSHAKE, 0);
    ofsm_advance(&fsm, OFSM_ACTIVE, 0);
    ofsm_received(&fsm, 4000);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, PROBE), OFSM_NONE);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, 4000 + PROBE), OFSM_PROBE);
}

static void
test_no_way_back(void)
{
    struct ofsm fsm;

    ofsm_init(&fsm, PROBE, HANDSHAKE, 0);
    ofsm_advance(&fsm, OFSM_PORTS, 10);
    ofsm_advance(&fsm, OFSM_FEATURES, 20);
    CU_ASSERT_EQUAL(fsm.state, OFSM_PORTS);
    ofsm_close(&fsm, 30);
    ofsm_advance(&fsm, OFSM_ACTIVE, 40);
    ofsm_received(&fsm, 50);
    CU_ASSERT_EQUAL(fsm.state, OFSM_CLOSED);
    CU_ASSERT_EQUAL(ofsm_run(&fsm, 1000000), OFSM_NONE);
    /* ofsm_advance() only moves within the handshake. */
    ofsm_init(&fsm, PROBE, HANDSHAKE, 0);
    ofsm_advance(&fsm, OFSM_IDLE, 10);
    CU_ASSERT_EQUAL(fsm.state, OFSM_HELLO);
}

static void
test_state_names(void)
{
    CU_ASSERT_STRING_EQUAL(ofsm_state_name(OFSM_HELLO), "HELLO");
    CU_ASSERT_STRING_EQUAL(ofsm_state_name(OFSM_IDLE), "IDLE");
    CU_ASSERT_STRING_EQUAL(ofsm_state_name(OFSM_CLOSED), "CLOSED");
}

static const struct test_case ofsm_tests[] = {
    { "starts in HELLO", test_starts_in_hello },
    { "handshake timeout per step", test_handshake_timeout },
    { "messages do not extend the handshake",
      test_messages_do_not_extend_handshake },
    { "probe, then disconnect", test_probe_then_disconnect },
    { "answer returns to ACTIVE", test_answer_returns_to_active },
    { "traffic postpones the probe", test_traffic_postpones_probe },
    { "no way back from CLOSED", test_no_way_back },
    { "state names", test_state_names },
    { NULL, NULL },
};
TEST_SUITE("ofsm", ofsm_tests)
