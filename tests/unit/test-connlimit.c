/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <CUnit/CUnit.h>
#include <stdint.h>
#include "connlimit.h"
#include "tests.h"

static const struct connlimit limits = {
    .handshake_ms = 5000,
    .max_pending = 4,
    .max_conns = 10,
    .max_pending_frame = 4096,
    .max_frame = 1024 * 1024,
    .max_backlog = 65536,
};

/* Below both caps a connection is admitted. */
static void
test_admit_with_room(void)
{
    CU_ASSERT_EQUAL(connlimit_admit(&limits, 0, 0), CONNLIMIT_ADMIT);
    CU_ASSERT_EQUAL(connlimit_admit(&limits, 3, 3), CONNLIMIT_ADMIT);
    CU_ASSERT_EQUAL(connlimit_admit(&limits, 3, 9), CONNLIMIT_ADMIT);
    CU_ASSERT_EQUAL(connlimit_admit(&limits, 0, 9), CONNLIMIT_ADMIT);
}

/* With as many pending connections as allowed, the oldest makes room,
 * whatever the total. */
static void
test_evict_at_pending_cap(void)
{
    CU_ASSERT_EQUAL(connlimit_admit(&limits, 4, 4), CONNLIMIT_EVICT);
    CU_ASSERT_EQUAL(connlimit_admit(&limits, 4, 6), CONNLIMIT_EVICT);
    CU_ASSERT_EQUAL(connlimit_admit(&limits, 4, 10), CONNLIMIT_EVICT);
}

/* At the total cap a pending connection makes room if there is one; a
 * listener full of authenticated connections refuses. */
static void
test_total_cap(void)
{
    CU_ASSERT_EQUAL(connlimit_admit(&limits, 1, 10), CONNLIMIT_EVICT);
    CU_ASSERT_EQUAL(connlimit_admit(&limits, 0, 10), CONNLIMIT_REFUSE);
    CU_ASSERT_EQUAL(connlimit_admit(&limits, 0, 11), CONNLIMIT_REFUSE);
}

/* A flood: every new connection past the cap evicts one, so the pending
 * count never exceeds the cap, and authenticated connections are never
 * evicted. */
static void
test_flood_keeps_counts(void)
{
    size_t n_pending = 0, n_auth = 6, n_refused = 0, n_evicted = 0;

    for (int i = 0; i < 1000; i++) {
        switch (connlimit_admit(&limits, n_pending, n_pending + n_auth)) {
        case CONNLIMIT_ADMIT:
            n_pending++;
            break;
        case CONNLIMIT_EVICT:
            n_evicted++;
            break;
        case CONNLIMIT_REFUSE:
            n_refused++;
            break;
        }
        CU_ASSERT(n_pending <= limits.max_pending);
        CU_ASSERT(n_pending + n_auth <= limits.max_conns);
    }
    CU_ASSERT_EQUAL(n_pending, 4);
    CU_ASSERT_EQUAL(n_evicted, 996);
    CU_ASSERT_EQUAL(n_refused, 0);
}

/* Frames: short ones only before authentication. */
static void
test_frames(void)
{
    CU_ASSERT(connlimit_frame_ok(&limits, false, 16));
    CU_ASSERT(connlimit_frame_ok(&limits, false, 4096));
    CU_ASSERT(!connlimit_frame_ok(&limits, false, 4097));
    CU_ASSERT(!connlimit_frame_ok(&limits, false, 1024 * 1024));
    CU_ASSERT(connlimit_frame_ok(&limits, true, 1024 * 1024));
    CU_ASSERT(!connlimit_frame_ok(&limits, true, 1024 * 1024 + 1));
    CU_ASSERT_EQUAL(connlimit_max_input(&limits, false), 4096);
    CU_ASSERT_EQUAL(connlimit_max_input(&limits, true), 1024 * 1024);
}

/* Output: up to the backlog limit, or any amount without one. */
static void
test_backlog(void)
{
    struct connlimit unlimited = limits;

    CU_ASSERT(connlimit_backlog_ok(&limits, 0));
    CU_ASSERT(connlimit_backlog_ok(&limits, 65536));
    CU_ASSERT(!connlimit_backlog_ok(&limits, 65537));
    unlimited.max_backlog = 0;
    CU_ASSERT(connlimit_backlog_ok(&unlimited, SIZE_MAX));
}

static const struct test_case tests[] = {
    { "admit with room", test_admit_with_room },
    { "evict at the pending cap", test_evict_at_pending_cap },
    { "total cap", test_total_cap },
    { "flood keeps the counts", test_flood_keeps_counts },
    { "frames", test_frames },
    { "backlog", test_backlog },
    { NULL, NULL },
};

TEST_SUITE("connlimit", tests)
