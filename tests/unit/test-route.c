/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Shortest paths between switches: next hops, links that are down,
 * parallel links, switches that cannot be reached. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include "route.h"
#include "tests.h"
#include "util.h"

/* Follows the next hops from 'from' to 'to' over 'links'; returns the
 * number of links crossed, or -1 if the walk fails or loops. */
static int
walk(const struct route_table *rt, const struct route_link *links,
     size_t from, size_t to)
{
    int n = 0;

    while (from != to) {
        size_t l = route_next(rt, from, to);

        if (l == ROUTE_NONE || links[l].down || n > (int) rt->n_switches) {
            return -1;
        }
        if (links[l].ends[0] == from) {
            from = links[l].ends[1];
        } else if (links[l].ends[1] == from) {
            from = links[l].ends[0];
        } else {
            return -1;
        }
        n++;
    }
    return n;
}

static void
test_line(void)
{
    /* 0 - 1 - 2 - 3 */
    struct route_link links[] = {
        { { 0, 1 }, false }, { { 1, 2 }, false }, { { 2, 3 }, false },
    };
    struct route_table rt;

    route_compute(4, links, ARRAY_SIZE(links), &rt);
    CU_ASSERT_EQUAL(route_next(&rt, 0, 3), 0);
    CU_ASSERT_EQUAL(route_next(&rt, 3, 0), 2);
    CU_ASSERT_EQUAL(route_next(&rt, 1, 2), 1);
    CU_ASSERT_EQUAL(route_next(&rt, 2, 2), ROUTE_NONE);
    CU_ASSERT_EQUAL(walk(&rt, links, 0, 3), 3);
    CU_ASSERT_EQUAL(walk(&rt, links, 3, 1), 2);
    CU_ASSERT(route_reachable(&rt, 0, 3));
    route_destroy(&rt);

    /* The middle link down: two halves. */
    links[1].down = true;
    route_compute(4, links, ARRAY_SIZE(links), &rt);
    CU_ASSERT(!route_reachable(&rt, 0, 3));
    CU_ASSERT(!route_reachable(&rt, 2, 1));
    CU_ASSERT(route_reachable(&rt, 0, 1));
    CU_ASSERT(route_reachable(&rt, 2, 2));
    CU_ASSERT_EQUAL(route_next(&rt, 0, 3), ROUTE_NONE);
    route_destroy(&rt);
}

static void
test_two_spines(void)
{
    /* Leaves 0 and 1, spines 2 and 3, each leaf linked to each spine. */
    struct route_link links[] = {
        { { 0, 2 }, false }, { { 1, 2 }, false },
        { { 0, 3 }, false }, { { 1, 3 }, false },
    };
    struct route_table rt;

    route_compute(4, links, ARRAY_SIZE(links), &rt);
    CU_ASSERT_EQUAL(walk(&rt, links, 0, 1), 2);
    CU_ASSERT_EQUAL(route_next(&rt, 0, 1), 0);      /* Through spine 2. */
    route_destroy(&rt);

    /* Leaf 1 loses spine 2: both leaves go through spine 3. */
    links[1].down = true;
    route_compute(4, links, ARRAY_SIZE(links), &rt);
    CU_ASSERT_EQUAL(route_next(&rt, 0, 1), 2);
    CU_ASSERT_EQUAL(route_next(&rt, 1, 0), 3);
    CU_ASSERT_EQUAL(walk(&rt, links, 0, 1), 2);
    CU_ASSERT_EQUAL(walk(&rt, links, 2, 1), 3);     /* 2 - 0 - 3 - 1. */
    route_destroy(&rt);
}

static void
test_parallel_links(void)
{
    struct route_link links[] = {
        { { 0, 1 }, false }, { { 1, 0 }, false },
    };
    struct route_table rt;

    route_compute(2, links, ARRAY_SIZE(links), &rt);
    CU_ASSERT_EQUAL(route_next(&rt, 0, 1), 0);
    CU_ASSERT_EQUAL(route_next(&rt, 1, 0), 0);
    route_destroy(&rt);

    links[0].down = true;
    route_compute(2, links, ARRAY_SIZE(links), &rt);
    CU_ASSERT_EQUAL(route_next(&rt, 0, 1), 1);
    CU_ASSERT_EQUAL(route_next(&rt, 1, 0), 1);
    route_destroy(&rt);
}

/* A random graph: every walk that the table allows ends where it should,
 * in as many links as a breadth-first count says. */
static void
test_random(void)
{
    enum { N = 40, L = 70 };
    struct route_link links[L];
    struct route_table rt;

    srand(7);
    for (int round = 0; round < 20; round++) {
        for (size_t l = 0; l < L; l++) {
            links[l].ends[0] = rand() % N;
            do {
                links[l].ends[1] = rand() % N;
            } while (links[l].ends[1] == links[l].ends[0]);
            links[l].down = rand() % 4 == 0;
        }
        route_compute(N, links, L, &rt);
        for (size_t to = 0; to < N; to++) {
            int dist[N];
            size_t queue[N], head = 0, tail = 0;

            for (size_t i = 0; i < N; i++) {
                dist[i] = -1;
            }
            dist[to] = 0;
            queue[tail++] = to;
            while (head < tail) {
                size_t cur = queue[head++];

                for (size_t l = 0; l < L; l++) {
                    size_t far;

                    if (links[l].down) {
                        continue;
                    }
                    far = (links[l].ends[0] == cur ? links[l].ends[1]
                           : links[l].ends[1] == cur ? links[l].ends[0]
                           : N);
                    if (far < N && dist[far] < 0) {
                        dist[far] = dist[cur] + 1;
                        queue[tail++] = far;
                    }
                }
            }
            for (size_t from = 0; from < N; from++) {
                CU_ASSERT_EQUAL(walk(&rt, links, from, to), dist[from]);
                CU_ASSERT_EQUAL(route_reachable(&rt, from, to),
                                dist[from] >= 0);
            }
        }
        route_destroy(&rt);
    }
}

static const struct test_case route_tests[] = {
    { "a line, and cut in two", test_line },
    { "two spines, one link down", test_two_spines },
    { "parallel links", test_parallel_links },
    { "random graphs against breadth-first distances", test_random },
    { NULL, NULL },
};

TEST_SUITE("route", route_tests)
