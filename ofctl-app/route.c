/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "route.h"

#include <stdlib.h>
#include <string.h>
#include "util.h"

/* Fills 'rt' with the next hops from every switch toward every other one.
 * The caller frees it with route_destroy().
 *
 * One breadth-first search per destination, over each switch's links in
 * configuration order: the link by which the search first reaches a switch
 * leads to a switch one link closer to the destination.  O(n * (n + L)). */
void
route_compute(size_t n, const struct route_link *links, size_t n_links,
              struct route_table *rt)
{
    size_t *queue = xmalloc(MAX(n, 1) * sizeof *queue);
    size_t *first = xcalloc(n + 1, sizeof *first); /* Per switch, into adj. */
    size_t *adj = xmalloc(MAX(2 * n_links, 1) * sizeof *adj); /* Links. */
    bool *seen = xmalloc(MAX(n, 1) * sizeof *seen);
    size_t *fill;

    rt->n_switches = n;
    rt->next = xmalloc(MAX(n * n, 1) * sizeof *rt->next);
    for (size_t i = 0; i < n * n; i++) {
        rt->next[i] = ROUTE_NONE;
    }

    /* The usable links of each switch, in order: adj[first[s]] to
     * adj[first[s + 1] - 1]. */
    for (size_t l = 0; l < n_links; l++) {
        if (!links[l].down) {
            first[links[l].ends[0] + 1]++;
            first[links[l].ends[1] + 1]++;
        }
    }
    for (size_t s = 0; s < n; s++) {
        first[s + 1] += first[s];
    }
    fill = xmemdup(first, (n + 1) * sizeof *first);
    for (size_t l = 0; l < n_links; l++) {
        if (!links[l].down) {
            adj[fill[links[l].ends[0]]++] = l;
            adj[fill[links[l].ends[1]]++] = l;
        }
    }
    free(fill);

    for (size_t to = 0; to < n; to++) {
        size_t head = 0, tail = 0;

        memset(seen, 0, n * sizeof *seen);
        seen[to] = true;
        queue[tail++] = to;
        while (head < tail) {
            size_t cur = queue[head++];

            for (size_t a = first[cur]; a < first[cur + 1]; a++) {
                size_t l = adj[a];
                size_t far = (links[l].ends[0] == cur
                              ? links[l].ends[1] : links[l].ends[0]);

                if (!seen[far]) {
                    seen[far] = true;
                    rt->next[far * n + to] = l;
                    queue[tail++] = far;
                }
            }
        }
    }
    free(seen);
    free(adj);
    free(first);
    free(queue);
}

void
route_destroy(struct route_table *rt)
{
    free(rt->next);
    rt->next = NULL;
    rt->n_switches = 0;
}

/* Returns the link by which switch 'from' sends toward switch 'to', or
 * ROUTE_NONE if they are the same or 'to' cannot be reached. */
size_t
route_next(const struct route_table *rt, size_t from, size_t to)
{
    ovs_assert(from < rt->n_switches && to < rt->n_switches);
    return rt->next[from * rt->n_switches + to];
}

/* Returns true if switch 'to' can be reached from switch 'from'. */
bool
route_reachable(const struct route_table *rt, size_t from, size_t to)
{
    return from == to || route_next(rt, from, to) != ROUTE_NONE;
}
