/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef LIVENESS_H
#define LIVENESS_H 1

/* What sfmesh-agent tells the switch about its own liveness, and when it
 * holds itself out of service.
 *
 * The agent answers OVS's BFD on its instance interface (bfdsess.h, from a
 * packet socket of its own on that interface, served by the same event loop
 * as the data frames): an agent that stops forwarding stops answering, and
 * OVS fails its streams over in the datapath.  It watches the interface's
 * carrier (linkmon.h) and its own scheduling (a turn of the loop that comes
 * later than a BFD detection time means the agent was stopped or starved),
 * and it applies the hold-down policy of agenthold.h: while held, the BFD
 * session is AdminDown (OVS keeps the port not live) and the agent drops
 * the data frames that reach it anyway.
 *
 * Disruptions count only once the BFD session has been Up: without BFD on
 * the port (no --ovsdb for the controller), holding would not take the port
 * out of the fast-failover groups, and the controller's fence is the guard.
 * For the same reason a hold ends, with a warning, if no BFD packet at all
 * arrives for LIVENESS_BFD_GONE_MS (OVS sends at least every second while
 * its session is down, so BFD was turned off on the port). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bfdsess_params;
struct ds;
struct eth_addr;
struct event_base;

/* Without a BFD packet for this long, BFD is off on the port. */
#define LIVENESS_BFD_GONE_MS 3500

/* Called at a disruption, with the 'aux' given to liveness_create(): the
 * agent forgets what it held warm. */
typedef void liveness_disrupt_cb(void *aux);

struct liveness *liveness_create(struct event_base *, const char *iface,
                                 const struct bfdsess_params *,
                                 liveness_disrupt_cb *, void *aux,
                                 long long int now, char **errorp);
void liveness_destroy(struct liveness *);

bool liveness_check(struct liveness *, long long int now);
void liveness_count_dropped(struct liveness *, size_t n, long long int now);
void liveness_map(struct liveness *, uint64_t epoch, size_t n_roles,
                  long long int now);
struct sentinel;
void liveness_set_sentinel(struct liveness *, struct sentinel *);
bool liveness_is_held(const struct liveness *);
bool liveness_bfd_up(const struct liveness *);
void liveness_format(const struct liveness *, long long int now,
                     struct ds *);

#endif /* liveness.h */
