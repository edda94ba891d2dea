/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef STEER_H
#define STEER_H 1

/* Steering policy: the configuration, one service map per service, and a
 * reconciler per connected switch.
 *
 * It takes the connection core's events (a switch ready or closed, a port
 * changed, an error or another message) and keeps every switch programmed
 * with the pipeline for the current maps.  An instance's liveness is its
 * port's: a port that stops being live (link down, deleted, admin down)
 * marks the instance DOWN, the map is repaired and only the groups of the
 * buckets that changed are rewritten.  The fast-failover groups have by
 * then already moved the traffic in the data plane.  An instance that comes
 * back after a failure is COLD: a secondary only.
 *
 * Several switches: the paths between them follow the links whose ports
 * are live, and an instance that no working path joins to a working chain
 * of its service counts as DOWN.  At start, nothing is programmed until
 * every configured switch has connected or STEER_SETTLE_MS have passed,
 * so that a restarted controller finds the maps it had and sends nothing;
 * then an instance whose switch has never shown its port is left out.
 *
 * No sockets: it sends through ofconn queues and is driven by its caller. */

#include <stdbool.h>
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/types.h"

struct cfg_switch;
struct ds;
struct flowset_cursor;
struct json;
struct ofconn;
struct ofp_header;
struct ofputil_phy_port;
struct sfm_config;
struct steer;

/* Returns true if 'conn' has too much output queued to take more now. */
typedef bool steer_backlogged_cb(const struct ofconn *, void *aux);

/* How long the policy waits, from its start, for every configured switch to
 * connect before it programs any of them. */
#define STEER_SETTLE_MS 5000

/* How long a switch's reconciler that gave up (the switch refused the same
 * change several times) waits before it tries again. */
#define STEER_RETRY_MS 10000

struct steer *steer_create(struct sfm_config *, steer_backlogged_cb *,
                           void *aux, long long int now);
void steer_destroy(struct steer *);
char *steer_reload(struct steer *, struct sfm_config *)
    OVS_WARN_UNUSED_RESULT;

void steer_switch_ready(struct steer *, struct ofconn *);
void steer_switch_closed(struct steer *, struct ofconn *);
void steer_switch_drained(struct steer *, struct ofconn *);
void steer_port_changed(struct steer *, struct ofconn *,
                        const struct ofputil_phy_port *old,
                        const struct ofputil_phy_port *new);
void steer_error(struct steer *, struct ofconn *, enum ofperr, ovs_be32 xid);
void steer_message(struct steer *, struct ofconn *, enum ofptype,
                   const struct ofp_header *);
void steer_run(struct steer *, long long int now);

char *steer_set_enabled(struct steer *, const char *instance, bool enable)
    OVS_WARN_UNUSED_RESULT;
char *steer_drain(struct steer *, const char *instance, long long int now)
    OVS_WARN_UNUSED_RESULT;

struct ctlstate;
struct svcmap;
bool steer_is_settled(const struct steer *);
void steer_agent_epoch(struct steer *, const char *instance, uint64_t epoch);
void steer_save_state(const struct steer *, struct ctlstate *);
void steer_restore_state(struct steer *, const struct ctlstate *);
bool steer_adopt_state(struct steer *, const struct ctlstate *);
void steer_role_changed(struct steer *, struct ofconn *);
void steer_set_standby(struct steer *, bool standby);
bool steer_is_standby(const struct steer *);

/* What a standby answers a request that changes the maps. */
#define STEER_STANDBY_ERROR \
    "this controller is a standby: ask the active controller"
void steer_agent_up(struct steer *, const char *instance);
void steer_agent_lost(struct steer *, const char *instance, const char *why);
bool steer_agent_report(struct steer *, const char *instance, uint64_t epoch,
                        size_t n_buckets, const uint8_t *warm,
                        long long int now);
bool steer_instance_warm(const struct steer *, const char *instance);
const struct svcmap *steer_map_of_instance(const struct steer *,
                                           const char *instance, int *idxp);

char *steer_format_map(const struct steer *, const char *service,
                       struct ds *) OVS_WARN_UNUSED_RESULT;
void steer_format_hosts(const struct steer *, struct ds *);
/* Returns the liveness that something outside the policy (the switch
 * database's BFD status) knows of port 'port', as a short word, or NULL. */
typedef const char *steer_port_liveness_cb(const char *port, void *aux);
void steer_format_instances(const struct steer *, steer_port_liveness_cb *,
                            void *aux, struct ds *);
const struct sfm_config *steer_config(const struct steer *);

/* Returns false if port 'port' of switch 'sw' must not count as live
 * whatever OpenFlow says.  Asked of the instances' ports and of the ports
 * of links between switches. */
typedef bool steer_port_ready_cb(const struct cfg_switch *sw,
                                 const char *port, void *aux);
void steer_set_port_ready_cb(struct steer *, steer_port_ready_cb *,
                             void *aux);
void steer_refresh(struct steer *);
char *steer_format_handoffs(const struct steer *, const char *service,
                            long long int now, struct ds *)
    OVS_WARN_UNUSED_RESULT;
char *steer_format_desired(const struct steer *, const char *switch_name,
                           bool groups, struct ds *) OVS_WARN_UNUSED_RESULT;
char *steer_desired_cursor(const struct steer *, const char *switch_name,
                           bool groups, struct flowset_cursor **)
    OVS_WARN_UNUSED_RESULT;
void steer_format_switches(const struct steer *, struct ds *);
char *steer_switch_sync(const struct steer *, const struct ofconn *)
    OVS_WARN_UNUSED_RESULT;

#endif /* steer.h */
