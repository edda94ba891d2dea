/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef RECONCILE_H
#define RECONCILE_H 1

/* The reconciler of one switch, in the manner of OVN's ofctrl.c.
 *
 * It keeps two sets of flows and groups: 'desired' (from the pipeline) and
 * 'installed' (what the switch has).  When they differ it sends only the
 * difference, in one atomic OpenFlow bundle, followed by a barrier; the
 * barrier reply is what makes the bundle's content "installed".
 *
 * On (re)connect the installed set is unknown, so the reconciler first
 * dumps the switch's flows and groups.  The first bundle then makes the
 * switch equal to the desired set in one step (there is no moment with
 * empty tables), and if the switch already holds exactly the desired set,
 * nothing is sent at all: a restarted controller causes no flow churn.
 * Any error reply makes the installed set unknown again and triggers a new
 * dump (a resync); the switch counts as not in sync, with the error as the
 * reason, until a later bundle commits without error.  After 3 failed
 * bundles in a row the reconciler waits for a different desired state.
 * While the connection is backlogged, changes wait; since only the latest
 * desired set matters, nothing is lost.  A large bundle goes out in pieces
 * of 256 KiB, the next one each time rcl_run() finds the connection not
 * backlogged, so that it is encoded as it is sent rather than held in
 * memory at once; a bundle for which the switch refused a message is
 * discarded, not committed.
 *
 * With several controllers, the switch takes writes only from its master
 * (see ofconn_set_role()).  While the connection does not allow writes
 * (ofconn_may_write()), the reconciler sends no flow, group or meter
 * change and its state is SECONDARY; a bundle in flight when the role goes
 * is dropped, not counted as a failure.  When the connection allows writes
 * again (a takeover), it dumps the switch and sends only the difference:
 * a switch that already holds the desired state gets no change at all.
 *
 * Flows and groups are held as decoded structures (flowset.h): the dump is
 * decoded into the same form as the pipeline's desired state, compared
 * entry by entry, and the bundle is encoded from the structures directly.
 * A committed bundle updates the installed set by its own changes only. */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/types.h"

struct ds;
struct ofconn;
struct ofp_header;
struct flowset;
struct rcl;

/* Counters of a reconciler. */
struct rcl_stats {
    uint64_t n_bundles;         /* Bundles committed. */
    uint64_t n_flow_adds, n_flow_mods, n_flow_dels; /* Flow changes sent. */
    uint64_t n_group_adds, n_group_mods, n_group_dels; /* Group changes. */
    uint64_t n_dumps;           /* Dumps of the switch's state. */
    uint64_t n_errors;          /* Error replies seen. */
};

struct rcl *rcl_create(struct ofconn *);
void rcl_destroy(struct rcl *);

void rcl_set_desired(struct rcl *, struct flowset *);
void rcl_update_desired(struct rcl *, struct flowset *put,
                        struct flowset *del);
const struct flowset *rcl_get_desired(const struct rcl *);
void rcl_run(struct rcl *, bool backlogged);
bool rcl_handle_message(struct rcl *, enum ofptype,
                        const struct ofp_header *);
void rcl_handle_error(struct rcl *, enum ofperr, ovs_be32 xid);
void rcl_role_changed(struct rcl *);

bool rcl_is_synced(const struct rcl *);
bool rcl_is_stalled(const struct rcl *);
void rcl_retry(struct rcl *);
bool rcl_format_problem(const struct rcl *, struct ds *);
const char *rcl_state_name(const struct rcl *);
const struct rcl_stats *rcl_get_stats(const struct rcl *);
size_t rcl_n_installed_flows(const struct rcl *);
size_t rcl_n_installed_groups(const struct rcl *);

#endif /* reconcile.h */
