/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef ROUTE_H
#define ROUTE_H 1

/* Shortest paths between the switches of a fabric.
 *
 * The switches are numbered 0 to n - 1 and the links between them are given
 * as pairs of switch numbers, in the configuration's order.  For every pair
 * of switches (from, to) the table holds the link by which 'from' sends
 * toward 'to': the first link of a path with the fewest links, chosen the
 * same way on every run (the search takes links in configuration order).
 * Each hop brings a frame one link closer to 'to', so forwarding by the
 * table never loops. */

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_NONE ((size_t) -1)

struct route_link {
    size_t ends[2];             /* Switch numbers, different. */
    bool down;                  /* Not usable: left out of every path. */
};

struct route_table {
    size_t n_switches;
    size_t *next;               /* next[from * n_switches + to]: link index,
                                 * or ROUTE_NONE if from == to or 'to' cannot
                                 * be reached. */
};

void route_compute(size_t n_switches, const struct route_link *,
                   size_t n_links, struct route_table *);
void route_destroy(struct route_table *);

size_t route_next(const struct route_table *, size_t from, size_t to);
bool route_reachable(const struct route_table *, size_t from, size_t to);

#endif /* route.h */
