/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef FABRIC_H
#define FABRIC_H 1

/* The fabric: the configuration's switches and the links between them,
 * whether each link is usable now, and the paths over the usable links.
 * This is the one home of link liveness and next hops: the steering policy
 * tells it what each connected switch's ports are and asks which instances
 * the chains still reach; the pipeline asks it by which port a switch sends
 * toward another.
 *
 * A link is usable unless one of its ends is known to be down: the end's
 * switch is connected and its port is missing or not live.  The end on a
 * switch that the controller does not reach counts as usable, since that
 * switch forwards without the controller.
 *
 * A link that flaps is damped (the configuration's "link_damping", by the
 * rule of damp.h): a flap is a usable link, with an end seen live, going
 * down, and a damped link stays unusable after its ends are back, until
 * its damping time ends.  Going down is never delayed: the fast-failover
 * groups have already left the link by then.  Coming back is what damping
 * delays, so that a tunnel to a host whose underlay flaps does not pull
 * the host's instances back into the maps (and out again) at each flap.
 *
 * Switches are numbered as in the configuration's "switches", links as in
 * its "links".  No I/O and no clock (the time is passed in): it logs what
 * changes, nothing else. */

#include <stdbool.h>
#include <stddef.h>

struct cfg_instance;
struct ds;
struct fabric;
struct route_table;
struct sfm_config;
struct shash;

struct fabric *fabric_create(const struct sfm_config *);
void fabric_destroy(struct fabric *);

/* What the policy tells. */
void fabric_set_ports(struct fabric *, size_t sw, const struct shash *ports);
bool fabric_run(struct fabric *, long long int now);

/* What the policy and the pipeline ask. */
bool fabric_link_is_down(const struct fabric *, size_t link);
bool fabric_link_is_damped(const struct fabric *, size_t link);
bool fabric_has_links(const struct fabric *, size_t sw);
bool fabric_reachable(const struct fabric *, size_t from, size_t to);
const char *fabric_next_port(const struct fabric *, size_t from, size_t to);
bool fabric_cut_off(const struct fabric *, const struct cfg_instance *);
const struct route_table *fabric_routes(const struct fabric *);
void fabric_format(const struct fabric *, long long int now, struct ds *);

#endif /* fabric.h */
