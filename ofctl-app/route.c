/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "route.h"

#include <stdlib.h>
#include "util.h"

/* Fills 'rt' with the next hops from every switch toward every other one.
 * The caller frees it with route_destroy().
 *
 * One breadth-first search per destination, over the links in
 * configuration order: the link by which the search first reaches a switch
 * leads to a switch one link closer to the destination. */
void
route_compute(size_t n, const struct route_link *links, size_t n_links,
              struct route_table *rt)
{
    size_t *queue = xmalloc(MAX(n, 1) * sizeof *queue);

    rt->n_switches = n;
    rt->next = xmalloc(MAX(n * n, 1) * sizeof *rt->next);
    for (size_t i = 0; i < n * n; i++) {
        rt->next[i] = ROUTE_NONE;
    }

    for (size_t to = 0; to < n; to++) {
        size_t head = 0, tail = 0;
        bool *seen = xcalloc(n, sizeof *seen);

        seen[to] = true;
        queue[tail++] = to;
        while (head < tail) {
            size_t cur = queue[head++];

            for (size_t l = 0; l < n_links; l++) {
                size_t far;

                if (links[l].ends[0] == cur) {
                    far = links[l].ends[1];
                } else if (links[l].ends[1] == cur) {
                    far = links[l].ends[0];
                } else {
                    continue;
                }
                if (!seen[far]) {
                    seen[far] = true;
                    rt->next[far * n + to] = l;
                    queue[tail++] = far;
                }
            }
        }
        free(seen);
    }
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
