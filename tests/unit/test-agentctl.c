/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* The agent's controllers: --controller lists parsed and refused, and the
 * policy of which controller to try next and when (agentctl.h). */

#include <config.h>

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>
#include "agentctl.h"
#include "agentproto.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"
#include "tests.h"

/* Parses 'list', which must be accepted with 'n' targets. */
static void
parse_ok(struct agentctl *ctl, const char *list, size_t n)
{
    char *error = agentctl_parse(ctl, list);

    if (error) {
        fprintf(stderr, "\n    %s: %s\n", list, error);
        CU_FAIL("list refused");
        free(error);
        return;
    }
    CU_ASSERT_EQUAL(ctl->n_targets, n);
    CU_ASSERT_EQUAL(ctl->cur, 0);
    CU_ASSERT(!ctl->accepted);
}

/* Parses 'list', which must be refused with an error that contains
 * 'want'. */
static void
parse_bad(const char *list, const char *want)
{
    struct agentctl ctl;
    char *error = agentctl_parse(&ctl, list);

    if (!error) {
        fprintf(stderr, "\n    %s accepted\n", list);
        CU_FAIL("bad list accepted");
    } else if (!strstr(error, want)) {
        fprintf(stderr, "\n    %s: got \"%s\", want \"%s\"\n", list, error,
                want);
        CU_FAIL("wrong error");
    }
    CU_ASSERT_EQUAL(ctl.n_targets, 0);
    free(error);
    agentctl_destroy(&ctl);
}

static void
test_agentctl_parse(void)
{
    struct agentctl ctl;

    /* One target, as before. */
    parse_ok(&ctl, "tcp:10.0.0.1:6660", 1);
    CU_ASSERT_STRING_EQUAL(agentctl_current(&ctl)->spec, "tcp:10.0.0.1:6660");
    CU_ASSERT_STRING_EQUAL(agentctl_current(&ctl)->name,
                           "controller tcp:10.0.0.1:6660");
    CU_ASSERT(!agentctl_current(&ctl)->tls);
    CU_ASSERT(!agentctl_any_tls(&ctl));
    CU_ASSERT(!agentctl_all_tls(&ctl));
    agentctl_destroy(&ctl);

    parse_ok(&ctl, "ssl:[fd00::1]:6660", 1);
    CU_ASSERT(agentctl_current(&ctl)->tls);
    CU_ASSERT(agentctl_all_tls(&ctl));
    agentctl_destroy(&ctl);

    /* Several, in order, TLS or not. */
    parse_ok(&ctl, "tcp:10.0.0.1:6660,ssl:10.0.0.2:6660,tcp:[::1]:7000", 3);
    CU_ASSERT_STRING_EQUAL(ctl.targets[0].spec, "tcp:10.0.0.1:6660");
    CU_ASSERT_STRING_EQUAL(ctl.targets[1].spec, "ssl:10.0.0.2:6660");
    CU_ASSERT_STRING_EQUAL(ctl.targets[2].spec, "tcp:[::1]:7000");
    CU_ASSERT(!ctl.targets[0].tls);
    CU_ASSERT(ctl.targets[1].tls);
    CU_ASSERT(agentctl_any_tls(&ctl));
    CU_ASSERT(!agentctl_all_tls(&ctl));
    agentctl_destroy(&ctl);

    /* The same host on other ports is another controller. */
    parse_ok(&ctl, "tcp:10.0.0.1:1,tcp:10.0.0.1:2,tcp:10.0.0.1:3,"
             "tcp:10.0.0.1:4,tcp:10.0.0.1:5,tcp:10.0.0.1:6,"
             "tcp:10.0.0.1:7,tcp:10.0.0.1:8", AGENTCTL_MAX_TARGETS);
    agentctl_destroy(&ctl);

    /* Refused. */
    parse_bad("", "no controller given");
    parse_bad(",tcp:10.0.0.1:6660", "controller 1 of 2 is empty");
    parse_bad("tcp:10.0.0.1:6660,,tcp:10.0.0.2:6660",
              "controller 2 of 3 is empty");
    parse_bad("tcp:10.0.0.1:6660,", "controller 2 of 2 is empty");
    parse_bad("tcp:10.0.0.1:1,tcp:10.0.0.1:2,tcp:10.0.0.1:3,"
              "tcp:10.0.0.1:4,tcp:10.0.0.1:5,tcp:10.0.0.1:6,"
              "tcp:10.0.0.1:7,tcp:10.0.0.1:8,tcp:10.0.0.1:9",
              "names 9 controllers, more than 8");
    parse_bad("tcp:10.0.0.1:6660,udp:10.0.0.2:6660",
              "\"udp:10.0.0.2:6660\" is not tcp:IP:PORT or ssl:IP:PORT");
    parse_bad("tcp:10.0.0.1", "\"tcp:10.0.0.1\" is not tcp:IP:PORT");
    parse_bad("10.0.0.1:6660", "\"10.0.0.1:6660\" is not tcp:IP:PORT");
    parse_bad("tcp:10.0.0.1:6660, tcp:10.0.0.2:6660",
              "\" tcp:10.0.0.2:6660\" is not tcp:IP:PORT");
    parse_bad("tcp:10.0.0.1:6660,ssl:10.0.0.1:6660",
              "\"tcp:10.0.0.1:6660\" and \"ssl:10.0.0.1:6660\" are the "
              "same controller");
}

/* With a single controller, every failure is a whole round: the waits are
 * those of one controller before (100 ms, doubling, at most 1 s), and an
 * acceptance starts them again. */
static void
test_agentctl_single(void)
{
    static const int waits[] = { 100, 200, 400, 800, 1000, 1000 };
    struct agentctl ctl;
    long long int now = 0;

    parse_ok(&ctl, "tcp:10.0.0.1:6660", 1);
    CU_ASSERT_EQUAL(agentctl_timeout_ms(&ctl, false), 0);
    CU_ASSERT_EQUAL(agentctl_timeout_ms(&ctl, true), 0);
    for (size_t i = 0; i < ARRAY_SIZE(waits); i++) {
        CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_FAILED, now),
                        waits[i]);
        CU_ASSERT_EQUAL(ctl.cur, 0);
        now += waits[i];
    }
    agentctl_accepted(&ctl, now);
    CU_ASSERT(ctl.accepted);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_FAILED, now), 100);
    CU_ASSERT(!ctl.accepted);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_STANDBY, now), 200);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_REFUSED, now), 400);
    CU_ASSERT_EQUAL(ctl.cur, 0);
    agentctl_destroy(&ctl);
}

/* With three: round-robin, at once within a round, the backoff after each
 * whole round that failed, whatever the way each attempt failed. */
static void
test_agentctl_rounds(void)
{
    struct agentctl ctl;

    parse_ok(&ctl, "tcp:10.0.0.1:6660,tcp:10.0.0.2:6660,tcp:10.0.0.3:6660",
             3);
    CU_ASSERT_EQUAL(agentctl_timeout_ms(&ctl, false),
                    AGENTCTL_CONNECT_TIMEOUT_MS);
    CU_ASSERT_EQUAL(agentctl_timeout_ms(&ctl, true),
                    AGP_HELLO_TIMEOUT_MS);

    /* Round 1. */
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_FAILED, 0), 0);
    CU_ASSERT_EQUAL(ctl.cur, 1);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_STANDBY, 1), 0);
    CU_ASSERT_EQUAL(ctl.cur, 2);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_TIMEOUT, 2), 100);
    CU_ASSERT_EQUAL(ctl.cur, 0);

    /* Rounds 2 to 6: 200, 400, 800, 1000, 1000. */
    for (int round = 2; round <= 6; round++) {
        int want = round == 2 ? 200 : round == 3 ? 400 : round == 4 ? 800
                   : 1000;

        CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_STANDBY, 0), 0);
        CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_REFUSED, 0), 0);
        CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_FAILED, 0), want);
        CU_ASSERT_EQUAL(ctl.cur, 0);
    }
    CU_ASSERT_EQUAL(ctl.n_events[AGENTCTL_FAILED], 6);
    CU_ASSERT_EQUAL(ctl.n_events[AGENTCTL_STANDBY], 6);
    CU_ASSERT_EQUAL(ctl.n_events[AGENTCTL_REFUSED], 5);
    CU_ASSERT_EQUAL(ctl.n_events[AGENTCTL_TIMEOUT], 1);

    /* The second accepts: we stay; when its channel fails, the other two
     * are tried at once, and it again only after the shortest wait. */
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_STANDBY, 0), 0);
    CU_ASSERT_EQUAL(ctl.cur, 1);
    agentctl_accepted(&ctl, 10);
    CU_ASSERT(ctl.accepted);
    CU_ASSERT_EQUAL(ctl.cur, 1);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_FAILED, 20), 0);
    CU_ASSERT_EQUAL(ctl.cur, 2);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_STANDBY, 21), 0);
    CU_ASSERT_EQUAL(ctl.cur, 0);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_STANDBY, 22), 100);
    CU_ASSERT_EQUAL(ctl.cur, 1);
    agentctl_destroy(&ctl);
}

/* A simulated cluster: 'n' controllers of which 'active' is the active one
 * from 'active_from' on (before it, none is), all but 'dead' up.  Drives
 * 'ctl' as the agent does, each attempt taking 1 ms, from 'now' until a
 * controller accepts it, and returns when. */
static long long int
run_until_accepted(struct agentctl *ctl, long long int now, size_t active,
                   long long int active_from, size_t dead)
{
    for (int i = 0; i < 1000; i++) {
        size_t c = ctl->cur;

        now += 1;
        if (c == active && now >= active_from) {
            agentctl_accepted(ctl, now);
            return now;
        }
        now += agentctl_failed(ctl, (c == dead ? AGENTCTL_FAILED
                                     : AGENTCTL_STANDBY), now);
    }
    CU_FAIL("never accepted");
    return now;
}

/* The active controller dies: the agent reaches the new active one within
 * one round if it is active by then, and within the longest wait of a
 * round after it becomes active otherwise. */
static void
test_agentctl_failover(void)
{
    static const char *const list = "tcp:10.0.0.1:6660,tcp:10.0.0.2:6660,"
        "tcp:10.0.0.3:6660,tcp:10.0.0.4:6660";
    struct agentctl ctl;
    long long int t;

    parse_ok(&ctl, list, 4);

    /* At start, the third is active: found in the first round. */
    t = run_until_accepted(&ctl, 0, 2, 0, SIZE_MAX);
    CU_ASSERT_EQUAL(t, 3);
    CU_ASSERT_EQUAL(ctl.cur, 2);

    /* It dies at 1000 and the second takes over at once: the channel
     * closes, the fourth and the first refuse, the second accepts, all
     * in the same round, without a wait. */
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_FAILED, 1000), 0);
    t = run_until_accepted(&ctl, 1000, 1, 1000, 2);
    CU_ASSERT_EQUAL(t, 1003);
    CU_ASSERT_EQUAL(ctl.cur, 1);

    /* It dies at 2000, and the fourth takes over only 5 s later: the agent
     * keeps trying, at most 1 s apart, and reaches it within a second and
     * a round of its taking over. */
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_FAILED, 2000), 0);
    t = run_until_accepted(&ctl, 2000, 3, 7000, 1);
    CU_ASSERT(t >= 7000);
    CU_ASSERT(t <= 7000 + AGP_RECONNECT_MAX_MS + 4);
    CU_ASSERT_EQUAL(ctl.cur, 3);
    CU_ASSERT_EQUAL(ctl.n_accepted, 3);
    agentctl_destroy(&ctl);
}

/* A controller that accepted us and then says nothing (stopped) is left
 * after AGP_SILENCE_MS, with several controllers only; before it
 * accepted us, the hello timeout applies instead. */
static void
test_agentctl_silence(void)
{
    struct agentctl one, two;

    parse_ok(&one, "tcp:10.0.0.1:6660", 1);
    parse_ok(&two, "tcp:10.0.0.1:6660,tcp:10.0.0.2:6660", 2);
    agentctl_accepted(&one, 0);
    CU_ASSERT(!agentctl_is_silent(&one, 0, 60000));

    CU_ASSERT(!agentctl_is_silent(&two, 0, 60000));
    agentctl_accepted(&two, 0);
    CU_ASSERT(!agentctl_is_silent(&two, 500, 500 + AGP_SILENCE_MS));
    CU_ASSERT(agentctl_is_silent(&two, 500, 501 + AGP_SILENCE_MS));
    CU_ASSERT_EQUAL(agentctl_failed(&two, AGENTCTL_TIMEOUT, 2000), 0);
    CU_ASSERT_EQUAL(two.cur, 1);
    CU_ASSERT(!agentctl_is_silent(&two, 500, 60000));
    agentctl_destroy(&one);
    agentctl_destroy(&two);
}

/* What the status command shows. */
static void
test_agentctl_format(void)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    struct agentctl ctl;

    parse_ok(&ctl, "tcp:10.0.0.1:6660,tcp:10.0.0.2:6660", 2);
    agentctl_format(&ctl, 0, &s);
    CU_ASSERT_STRING_EQUAL(ds_cstr(&s),
        "controller tcp:10.0.0.1:6660 (1 of 2 known: tcp:10.0.0.1:6660, "
        "tcp:10.0.0.2:6660): not connected\n"
        "controller attempts: 0 accepted; failed: 0 connection, 0 timeout, "
        "0 standby, 0 refused\n");

    ds_clear(&s);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_STANDBY, 5), 0);
    agentctl_accepted(&ctl, 10);
    agentctl_format(&ctl, 250, &s);
    CU_ASSERT_STRING_EQUAL(ds_cstr(&s),
        "controller tcp:10.0.0.2:6660 (2 of 2 known: tcp:10.0.0.1:6660, "
        "tcp:10.0.0.2:6660): connected for 240 ms\n"
        "controller attempts: 1 accepted; failed: 0 connection, 0 timeout, "
        "1 standby, 0 refused\n");

    ds_clear(&s);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_FAILED, 300), 0);
    CU_ASSERT_EQUAL(agentctl_failed(&ctl, AGENTCTL_REFUSED, 301), 100);
    agentctl_format(&ctl, 341, &s);
    CU_ASSERT_STRING_EQUAL(ds_cstr(&s),
        "controller tcp:10.0.0.2:6660 (2 of 2 known: tcp:10.0.0.1:6660, "
        "tcp:10.0.0.2:6660): not connected, next attempt in 60 ms, last "
        "attempt: refused\n"
        "controller attempts: 1 accepted; failed: 1 connection, 0 timeout, "
        "1 standby, 1 refused\n");
    agentctl_destroy(&ctl);

    /* A single controller is not listed again. */
    ds_clear(&s);
    parse_ok(&ctl, "ssl:10.0.0.1:6660", 1);
    agentctl_format(&ctl, 0, &s);
    CU_ASSERT_STRING_EQUAL(ds_cstr(&s),
        "controller ssl:10.0.0.1:6660 (1 of 1 known): not connected\n"
        "controller attempts: 0 accepted; failed: 0 connection, 0 timeout, "
        "0 standby, 0 refused\n");
    agentctl_destroy(&ctl);
    ds_destroy(&s);
}

static const struct test_case agentctl_tests[] = {
    { "--controller lists", test_agentctl_parse },
    { "a single controller", test_agentctl_single },
    { "rounds and backoff", test_agentctl_rounds },
    { "the active controller changes", test_agentctl_failover },
    { "a silent controller is left", test_agentctl_silence },
    { "status", test_agentctl_format },
    { NULL, NULL },
};

TEST_SUITE("agentctl", agentctl_tests);
