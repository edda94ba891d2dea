/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "steer.h"

#include <stdlib.h>
#include <string.h>
#include "agentproto.h"
#include "cfg.h"
#include "ctlstate.h"
#include "fabric.h"
#include "flowset.h"
#include "handoff.h"
#include "ofconn.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/hmap.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "pipeline.h"
#include "reconcile.h"
#include "svcmap.h"
#include "hash.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(steer);

/* An instance: the record that joins its configuration, its place in its
 * service's map and what the policy has learned of it.  The map holds its
 * state (svcmap_instance), the configuration its name, switch and port;
 * the agent server keeps only its channel and finds the rest here, by
 * name, in one lookup. */
struct steer_inst {
    struct hmap_node name_node; /* In 'steer->by_name'. */
    const struct cfg_instance *cfg; /* In 'steer->cfg'. */
    size_t service;             /* Index of its service and map. */
    size_t index;               /* Index in the service and in the map. */
    bool seen_live;             /* Its port was live at least once. */
    bool disabled;              /* Disabled by the operator. */
    bool fenced;                /* Its agent was lost: port held down. */
    bool has_agent;             /* An agent spoke for it: it takes stream
                                 * state only by replication. */
    bool leaving;               /* No longer in the configuration file:
                                 * kept, draining, until it holds nothing. */
    uint64_t warm_epoch;        /* Epoch of its agent's last report, or 0. */
    size_t warm_n;              /* Buckets in that report. */
    uint8_t *warm;              /* Buckets warm in that report, an agent
                                 * protocol bitmap, or NULL. */
};

/* A connected switch. */
struct steer_switch {
    struct hmap_node hmap_node; /* In 'steer->switches', by ofconn. */
    struct ofconn *conn;        /* The connection. */
    const struct cfg_switch *cfg; /* Its configuration, or NULL. */
    size_t idx;                 /* Index of 'cfg' in the configuration. */
    struct rcl *rcl;            /* Its reconciler, if configured. */
    struct pl_state *pl;        /* What its desired state was computed
                                 * from, with 'rcl'. */
    long long int retry_at;     /* When a reconciler that gave up tries
                                 * again, or 0. */
};

struct steer {
    struct sfm_config *cfg;     /* Owned. */
    struct svcmap **maps;         /* One per cfg->services[]. */
    struct steer_inst **insts;  /* Per service, per instance. */
    struct hmap by_name;        /* The "struct steer_inst"s, by name. */
    struct hof **hofs;          /* Per service: its handoff policy. */
    struct hmap switches;       /* Contains "struct steer_switch"s. */
    struct steer_switch **sw_at; /* Per cfg->switches[]: connected, or
                                  * NULL. */
    struct fabric *fabric;      /* Links, their liveness, the paths. */
    bool settled;               /* Switches programmed (see steer.h). */
    bool programmed;            /* Maps programmed since the settling, so
                                 * that an instance seen for the first time
                                 * joins a map in use. */
    bool standby;               /* Another controller decides: the maps
                                 * come from steer_adopt_state(), and
                                 * nothing here changes them. */
    long long int created;      /* When the wait for switches began. */
    long long int now;          /* The time of the latest steer_run(), by
                                 * which events until the next are dated
                                 * (at most a tick late). */
    steer_backlogged_cb *backlogged; /* Asks the I/O layer. */
    void *aux;                  /* For 'backlogged'. */
    steer_port_ready_cb *port_ready; /* Liveness known outside OpenFlow,
                                 * or NULL. */
    void *port_ready_aux;       /* For 'port_ready'. */
};

static void program_all__(struct steer *);
static void tell_fabric__(struct steer *, const struct steer_switch *);

/* Fills 'p' from the configuration's handoff settings. */
static void
hof_params_from_cfg__(const struct sfm_config *cfg, struct hof_params *p)
{
    hof_params_init(p);
    p->mode = cfg->handoff.immediate ? HOF_IMMEDIATE : HOF_MAKE_BEFORE_BREAK;
    p->rebalance = cfg->handoff.rebalance;
    p->rate = cfg->handoff.rate;
    p->max_active = cfg->handoff.max_in_progress;
    p->timeout_ms = cfg->handoff.timeout_ms;
    p->retry_ms = cfg->handoff.retry_ms;
}

/* The per-service state of the policy. */
struct steer_maps {
    struct svcmap **maps;
    struct steer_inst **insts;
    struct hof **hofs;
};

static void
maps_destroy__(struct sfm_config *cfg, struct steer_maps *m)
{
    for (size_t i = 0; cfg && i < cfg->n_services; i++) {
        for (size_t j = 0; j < cfg->services[i].n_instances; j++) {
            free(m->insts[i][j].warm);
        }
        svcmap_destroy(m->maps[i]);
        hof_destroy(m->hofs[i]);
        free(m->insts[i]);
    }
    free(m->maps);
    free(m->insts);
    free(m->hofs);
}

/* Creates the maps of 'cfg' into 'm', continuing those of 'old_cfg' and
 * 'old' (if any) service by service: instance states, warm reports and
 * handoffs carry over by name, and a map goes on as a difference (see
 * svcmap_continue()).  What 'old' held is moved, not copied: destroy it
 * with maps_destroy__() afterwards. */
static void
maps_create__(const struct sfm_config *cfg, struct steer_maps *m,
              const struct sfm_config *old_cfg, struct steer_maps *old)
{
    size_t n = MAX(cfg->n_services, 1);
    struct hof_params params;

    hof_params_from_cfg__(cfg, &params);
    m->maps = xcalloc(n, sizeof *m->maps);
    m->insts = xcalloc(n, sizeof *m->insts);
    m->hofs = xcalloc(n, sizeof *m->hofs);
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct cfg_service *svc = &cfg->services[i];
        const struct cfg_service *old_svc = (old_cfg
                                             ? cfg_find_service(old_cfg,
                                                                svc->name)
                                             : NULL);
        size_t oi = old_svc ? old_svc - old_cfg->services : 0;
        const struct svcmap *old_map = old_svc ? old->maps[oi] : NULL;

        m->maps[i] = svcmap_create(svc->name, cfg_n_buckets(cfg));
        m->insts[i] = xcalloc(MAX(svc->n_instances, 1), sizeof *m->insts[i]);
        for (size_t j = 0; j < svc->n_instances; j++) {
            int old_idx = old_map ? svcmap_find(old_map,
                                                svc->instances[j].name) : -1;

            svcmap_add_instance(m->maps[i], svc->instances[j].name,
                                svc->instances[j].weight);
            svcmap_set_domain(m->maps[i], j,
                              cfg->switches[svc->instances[j].sw].host);
            if (old_idx >= 0) {
                struct steer_inst *o = &old->insts[oi][old_idx];

                m->insts[i][j] = *o;
                o->warm = NULL;
            }
        }
        if (old_map) {
            m->hofs[i] = old->hofs[oi];
            old->hofs[oi] = NULL;
            hof_set_params(m->hofs[i], &params);
        } else {
            m->hofs[i] = hof_create(&params);
        }
        /* The map goes on from the old one, with its epoch: the instances
         * that stay keep their buckets, new ones join with none. */
        if (!old_map) {
            svcmap_assign(m->maps[i]);
        } else if (!svcmap_continue(m->maps[i], old_map)) {
            hof_forget(m->hofs[i]);
            VLOG_WARN("service %s: the bucket count changed: map assigned "
                      "afresh, epoch %"PRIu64" (streams move without their "
                      "state)", m->maps[i]->service, m->maps[i]->epoch);
        }
    }
}

/* Points every instance record of 'st' at its configuration and its place
 * in the maps, and indexes the records by name: after the maps are made
 * and whenever an instance leaves them. */
static void
index_instances__(struct steer *st)
{
    hmap_clear(&st->by_name);
    for (size_t i = 0; st->cfg && i < st->cfg->n_services; i++) {
        const struct cfg_service *svc = &st->cfg->services[i];

        for (size_t j = 0; j < svc->n_instances; j++) {
            struct steer_inst *si = &st->insts[i][j];

            si->cfg = &svc->instances[j];
            si->service = i;
            si->index = j;
            hmap_insert(&st->by_name, &si->name_node,
                        hash_string(si->cfg->name, 0));
        }
    }
}

/* Makes the fabric and the switch index of 'st' for its configuration,
 * telling the fabric the ports of every switch connected now. */
static void
make_fabric__(struct steer *st)
{
    struct steer_switch *sw;

    fabric_destroy(st->fabric);
    free(st->sw_at);
    st->fabric = fabric_create(st->cfg);
    st->sw_at = xcalloc(MAX(st->cfg->n_switches, 1), sizeof *st->sw_at);
    HMAP_FOR_EACH (sw, hmap_node, &st->switches) {
        if (sw->cfg) {
            st->sw_at[sw->idx] = sw;
            tell_fabric__(st, sw);
        }
    }
}

/* Creates the policy for 'cfg' (taken over; may be NULL for a controller
 * that only holds connections).  'backlogged' with 'aux' tells whether a
 * switch's connection can take more messages now. */
struct steer *
steer_create(struct sfm_config *cfg, steer_backlogged_cb *backlogged,
             void *aux, long long int now)
{
    struct steer *st = xzalloc(sizeof *st);

    st->created = now;
    st->now = now;
    st->cfg = cfg;
    st->backlogged = backlogged;
    st->aux = aux;
    hmap_init(&st->switches);
    hmap_init(&st->by_name);
    if (cfg) {
        struct steer_maps m;

        maps_create__(cfg, &m, NULL, NULL);
        st->maps = m.maps;
        st->insts = m.insts;
        st->hofs = m.hofs;
        index_instances__(st);
        make_fabric__(st);
    }
    return st;
}

/* Gives 'sw' a reconciler, with a fresh pipeline state, if 'configured'
 * and it has none; takes them away if not 'configured'. */
static void
switch_set_rcl__(struct steer_switch *sw, bool configured)
{
    if (configured && !sw->rcl) {
        sw->rcl = rcl_create(sw->conn);
        sw->pl = pl_state_create();
    } else if (!configured && sw->rcl) {
        rcl_destroy(sw->rcl);
        pl_state_destroy(sw->pl);
        sw->rcl = NULL;
        sw->pl = NULL;
    }
}

/* Frees 'st'.  Accepts NULL. */
void
steer_destroy(struct steer *st)
{
    struct steer_switch *sw;

    if (!st) {
        return;
    }
    HMAP_FOR_EACH_POP (sw, hmap_node, &st->switches) {
        switch_set_rcl__(sw, false);
        free(sw);
    }
    hmap_destroy(&st->switches);
    maps_destroy__(st->cfg, &(struct steer_maps) { st->maps, st->insts,
                                                   st->hofs });
    hmap_destroy(&st->by_name);
    fabric_destroy(st->fabric);
    free(st->sw_at);
    cfg_destroy(st->cfg);
    free(st);
}

static struct steer_switch *
switch_find__(const struct steer *st, const struct ofconn *conn)
{
    struct steer_switch *sw;

    HMAP_FOR_EACH_WITH_HASH (sw, hmap_node, hash_pointer(conn, 0),
                             &st->switches) {
        if (sw->conn == conn) {
            return sw;
        }
    }
    return NULL;
}

/* Returns the connected switch that is cfg->switches[idx], or NULL. */
static struct steer_switch *
switch_at__(const struct steer *st, size_t idx)
{
    return st->sw_at[idx];
}

static const struct cfg_switch *
cfg_switch_by_dpid__(const struct sfm_config *cfg, uint64_t dpid)
{
    for (size_t i = 0; cfg && i < cfg->n_switches; i++) {
        if (cfg->switches[i].dpid == dpid) {
            return &cfg->switches[i];
        }
    }
    return NULL;
}

/* Returns the port named 'name' of 'conn', or NULL. */
static const struct ofputil_phy_port *
port_by_name__(const struct ofconn *conn, const char *name)
{
    const struct ofconn_port *port;

    HMAP_FOR_EACH (port, hmap_node, ofconn_get_ports(conn)) {
        if (!strcmp(port->pp.name, name)) {
            return &port->pp;
        }
    }
    return NULL;
}

/* Reports, when the configuration places switches on hosts, the buckets of
 * 'map' whose primary and secondary share a host: a loss of that host
 * would take both. */
static void
report_affinity__(const struct steer *st, const struct svcmap *map)
{
    static struct vlog_rate_limit affinity_rl = VLOG_RATE_LIMIT_INIT(1, 5);
    size_t n = st->cfg->n_hosts ? svcmap_count_same_domain(map) : 0;

    if (n) {
        VLOG_WARN_RL(&affinity_rl, "service %s: %"PRIuSIZE" of %"PRIuSIZE
                     " buckets have their primary and secondary on one host "
                     "(no live instance elsewhere can take the job)",
                     map->service, n, map->n_buckets);
    }
}

/* Brings the map state of instance 'j' of service 'i' in line with whether
 * its port is 'live' and whether the operator disabled it. */
static void
update_instance__(struct steer *st, size_t i, size_t j, bool live)
{
    struct svcmap *map = st->maps[i];
    struct steer_inst *si = &st->insts[i][j];
    enum svcmap_state cur = map->instances[j].state;
    enum svcmap_state want;
    size_t n;

    if (si->disabled) {
        want = SVCMAP_DISABLED;
    } else if (!live || si->fenced) {
        want = SVCMAP_DOWN;
    } else if (cur == SVCMAP_DOWN || cur == SVCMAP_DISABLED
               || (!si->seen_live && st->programmed)) {
        /* Back after a failure, or new to a map in use: no stream state,
         * so it takes buckets only by handoff.  An instance seen before
         * the maps were first programmed starts with a clean slate. */
        want = si->seen_live || st->programmed ? SVCMAP_COLD : SVCMAP_UP;
    } else {
        want = cur;
    }
    if (live && !si->seen_live && !st->programmed && want == SVCMAP_UP) {
        /* Nothing is programmed yet, so no stream is anywhere: assign
         * afresh, so that it wins exactly the buckets rendezvous hashing
         * gives it. */
        struct svcmap *before = svcmap_clone(map);

        si->seen_live = true;
        svcmap_set_state(map, j, want);
        svcmap_assign(map);
        n = 0;
        for (size_t b = 0; b < map->n_buckets; b++) {
            n += (before->buckets[b].primary != map->buckets[b].primary
                  || before->buckets[b].secondary
                     != map->buckets[b].secondary);
        }
        svcmap_destroy(before);
        VLOG_INFO("service %s: new instance %s: %"PRIuSIZE" buckets "
                  "changed, epoch %"PRIu64, map->service,
                  map->instances[j].name, n, map->epoch);
        return;
    }
    if (live) {
        si->seen_live = true;
    }
    if (want != cur) {
        n = svcmap_set_state(map, j, want);
        VLOG_INFO("service %s: instance %s %s -> %s: %"PRIuSIZE" buckets "
                  "changed, epoch %"PRIu64, map->service,
                  map->instances[j].name, svcmap_state_name(cur),
                  svcmap_state_name(want), n, map->epoch);
        report_affinity__(st, map);
    }
}

/* Returns the port of instance 'j' of service 'i', or NULL if its switch
 * is not connected or has no such port.  Stores the switch in '*swp' if
 * 'swp' is nonnull. */
static const struct ofputil_phy_port *
instance_port__(const struct steer *st, size_t i, size_t j,
                struct steer_switch **swp)
{
    const struct cfg_instance *inst = &st->cfg->services[i].instances[j];
    struct steer_switch *sw = switch_at__(st, inst->sw);

    if (swp) {
        *swp = sw;
    }
    return sw ? port_by_name__(sw->conn, inst->port) : NULL;
}

/* Returns true unless 'port_ready' says port 'port' of switch 'sw' (an
 * index of the configuration's switches) must not count as live. */
static bool
port_ready__(const struct steer *st, size_t sw, const char *port)
{
    return (!st->port_ready
            || st->port_ready(&st->cfg->switches[sw], port,
                              st->port_ready_aux));
}

/* Returns true if instance 'j' of service 'i' can serve: its port is live
 * on its connected switch and it is not cut off. */
static bool
usable__(const struct steer *st, size_t i, size_t j)
{
    const struct ofputil_phy_port *pp = instance_port__(st, i, j, NULL);
    const struct cfg_instance *inst = &st->cfg->services[i].instances[j];

    return (pp && ofconn_port_is_live(pp)
            && !fabric_cut_off(st->fabric, inst)
            && port_ready__(st, inst->sw, inst->port));
}

/* Takes the paths between switches as the fabric has them now, then updates
 * every instance from its port (if its switch is connected) and from
 * whether it can be reached at all. */
static void
sync_instances__(struct steer *st)
{
    fabric_run(st->fabric, st->now);
    for (size_t i = 0; !st->standby && i < st->cfg->n_services; i++) {
        const struct cfg_service *svc = &st->cfg->services[i];

        for (size_t j = 0; j < svc->n_instances; j++) {
            const struct cfg_instance *inst = &svc->instances[j];

            if (switch_at__(st, inst->sw)) {
                update_instance__(st, i, j, usable__(st, i, j));
            } else if (fabric_cut_off(st->fabric, inst)
                       || (st->settled && !st->insts[i][j].seen_live)) {
                /* Its switch is not connected: an instance seen before
                 * keeps its state (the switch forwards without the
                 * controller), one never seen is not used. */
                update_instance__(st, i, j, false);
            }
        }
    }
}

/* Ends the wait for switches (see steer.h) if every configured switch is
 * connected or, with 'now' >= 0, if the wait is over. */
static void
settle__(struct steer *st, long long int now)
{
    size_t n = 0;

    if (st->settled || !st->cfg) {
        return;
    }
    for (size_t i = 0; i < st->cfg->n_switches; i++) {
        n += switch_at__(st, i) != NULL;
    }
    if (n < st->cfg->n_switches
        && (now < 0 || now - st->created < STEER_SETTLE_MS)) {
        return;
    }
    st->settled = true;
    if (n < st->cfg->n_switches) {
        VLOG_WARN("%"PRIuSIZE" of %"PRIuSIZE" switches connected after %d "
                  "ms: programming them; the instances of the others are "
                  "not used until those connect", n, st->cfg->n_switches,
                  STEER_SETTLE_MS);
    } else {
        VLOG_INFO("all %"PRIuSIZE" switches connected: programming them",
                  n);
    }
    sync_instances__(st);
    program_all__(st);
    st->programmed = true;
}

/* Returns the ports of 'sw' by name, in 'ports' (which the caller
 * destroys with shash_destroy()). */
static void
switch_ports__(const struct steer_switch *sw, struct shash *ports)
{
    const struct ofconn_port *port;

    shash_init(ports);
    HMAP_FOR_EACH (port, hmap_node, ofconn_get_ports(sw->conn)) {
        shash_add_once(ports, port->pp.name, &port->pp);
    }
}

/* Generates the whole desired state of 'sw' into 'd'. */
static void
generate__(const struct steer *st, const struct steer_switch *sw,
           struct flowset *d)
{
    struct shash ports;

    switch_ports__(sw, &ports);
    flowset_init(d);
    pl_generate(st->cfg, st->fabric, sw->idx, st->maps, &ports, d);
    shash_destroy(&ports);
}

static bool
backlogged__(const struct steer *st, const struct steer_switch *sw)
{
    return st->backlogged && st->backlogged(sw->conn, st->aux);
}

/* Recomputes the desired state of 'sw' and lets its reconciler act. */
static void
program__(struct steer *st, struct steer_switch *sw)
{
    struct flowset full, put, del;
    struct shash ports;

    if (!sw->rcl || !st->settled) {
        return;
    }
    switch_ports__(sw, &ports);
    flowset_init(&full);
    flowset_init(&put);
    flowset_init(&del);
    if (pl_update(sw->pl, st->cfg, st->fabric, sw->idx, st->maps, &ports,
                  &full, &put, &del)) {
        rcl_set_desired(sw->rcl, &full);
    } else {
        rcl_update_desired(sw->rcl, &put, &del);
    }
    flowset_destroy(&full);
    flowset_destroy(&put);
    flowset_destroy(&del);
    shash_destroy(&ports);
    rcl_run(sw->rcl, backlogged__(st, sw));
}

/* Tells the fabric the ports of 'sw', a configured switch that is
 * connected, without those 'port_ready' holds back: a tunnel is up by its
 * carrier alone until the switch runs the BFD the controller asked for on
 * it, and counting it up meanwhile would count a flap when BFD starts. */
static void
tell_fabric__(struct steer *st, const struct steer_switch *sw)
{
    struct shash_node *node, *next;
    struct shash ports;

    switch_ports__(sw, &ports);
    SHASH_FOR_EACH_SAFE (node, next, &ports) {
        if (!port_ready__(st, sw->idx, node->name)) {
            shash_delete(&ports, node);
        }
    }
    fabric_set_ports(st->fabric, sw->idx, &ports);
    shash_destroy(&ports);
}

static void
program_all__(struct steer *st)
{
    struct steer_switch *sw;

    HMAP_FOR_EACH (sw, hmap_node, &st->switches) {
        program__(st, sw);
    }
}

/* Checks the reload of 'st' to 'cfg', and adds to 'cfg' the instances that
 * it removes but that still hold buckets, so that they are drained before
 * they go.  Stores in 'n_file' the number of instances of each service of
 * 'cfg' in the file, before those added.  Returns an error, to be freed,
 * if the reload must be refused. */
static char *
keep_leaving__(const struct steer *st, struct sfm_config *cfg,
               size_t *n_file)
{
    for (size_t i = 0; i < cfg->n_services; i++) {
        n_file[i] = cfg->services[i].n_instances;
    }
    for (size_t i = 0; st->cfg && i < cfg->n_services; i++) {
        const struct cfg_service *old_svc;
        const struct svcmap *old_map;
        size_t n_live = 0, n_live_kept = 0;

        old_svc = cfg_find_service(st->cfg, cfg->services[i].name);
        if (!old_svc) {
            continue;
        }
        old_map = st->maps[old_svc - st->cfg->services];
        for (size_t j = 0; j < old_svc->n_instances; j++) {
            const struct cfg_instance *inst = &old_svc->instances[j];
            const struct cfg_instance *now = cfg_find_instance(cfg,
                                                               inst->name);
            bool live = svcmap_is_live(old_map->instances[j].state);
            char *error;

            n_live += live;
            if (now && now->service == i) {
                n_live_kept += live;
                continue;
            }
            if (!svcmap_holds_any(old_map, j)) {
                continue;
            }
            error = cfg_keep_instance(cfg, i, st->cfg, inst);
            if (error) {
                return error;
            }
        }
        if (n_live && !n_live_kept) {
            return xasprintf("service %s: the new configuration removes "
                             "every live instance of the service at once; "
                             "add the new instances first, then remove the "
                             "old ones, so that their streams can be handed "
                             "over", cfg->services[i].name);
        }
    }
    return NULL;
}

/* Replaces the configuration with 'cfg' (taken over), as a difference:
 * instances keep their states, maps and handoffs by name; an instance the
 * file no longer has is drained, and goes once it holds nothing; every
 * connected switch is reprogrammed with the difference.  Returns NULL, or
 * an error (to be freed) if the reload is refused, with the running state
 * kept and 'cfg' freed. */
char *
steer_reload(struct steer *st, struct sfm_config *cfg)
{
    size_t *n_file = xcalloc(MAX(cfg->n_services, 1), sizeof *n_file);
    struct steer_maps m, old = { st->maps, st->insts, st->hofs };
    struct steer_switch *sw;
    char *error;

    error = keep_leaving__(st, cfg, n_file);
    if (error) {
        free(n_file);
        cfg_destroy(cfg);
        return error;
    }
    maps_create__(cfg, &m, st->cfg, &old);
    for (size_t i = 0; i < cfg->n_services; i++) {
        for (size_t j = 0; j < cfg->services[i].n_instances; j++) {
            struct steer_inst *si = &m.insts[i][j];
            bool leaving = j >= n_file[i];

            if (leaving && !si->leaving) {
                VLOG_INFO("instance %s is no longer configured: draining "
                          "it", cfg->services[i].instances[j].name);
            }
            if (leaving || si->leaving) {
                /* Removed now, or back in the file: it drains only for as
                 * long as it is out of it. */
                m.maps[i]->instances[j].draining = leaving;
            }
            si->leaving = leaving;
        }
    }
    free(n_file);
    maps_destroy__(st->cfg, &old);
    cfg_destroy(st->cfg);
    st->cfg = cfg;
    st->maps = m.maps;
    st->insts = m.insts;
    st->hofs = m.hofs;
    index_instances__(st);

    HMAP_FOR_EACH (sw, hmap_node, &st->switches) {
        sw->cfg = cfg_switch_by_dpid__(cfg, ofconn_get_dpid(sw->conn));
        sw->idx = sw->cfg ? sw->cfg - cfg->switches : 0;
        switch_set_rcl__(sw, sw->cfg != NULL);
    }
    make_fabric__(st);
    sync_instances__(st);
    program_all__(st);
    return NULL;
}

/* Takes over the switch 'conn', whose handshake completed. */
void
steer_switch_ready(struct steer *st, struct ofconn *conn)
{
    struct steer_switch *sw = xzalloc(sizeof *sw);

    sw->conn = conn;
    sw->cfg = cfg_switch_by_dpid__(st->cfg, ofconn_get_dpid(conn));
    hmap_insert(&st->switches, &sw->hmap_node, hash_pointer(conn, 0));
    if (!sw->cfg) {
        if (st->cfg) {
            VLOG_INFO("%s: dpid %016"PRIx64" is not in the configuration; "
                      "leaving its flows alone", ofconn_get_name(conn),
                      ofconn_get_dpid(conn));
        }
        return;
    }
    VLOG_INFO("%s: is switch %s", ofconn_get_name(conn), sw->cfg->name);
    sw->idx = sw->cfg - st->cfg->switches;
    st->sw_at[sw->idx] = sw;
    tell_fabric__(st, sw);
    switch_set_rcl__(sw, true);
    sync_instances__(st);
    program_all__(st);
    settle__(st, -1);
}

/* Forgets the switch 'conn'. */
void
steer_switch_closed(struct steer *st, struct ofconn *conn)
{
    struct steer_switch *sw = switch_find__(st, conn);

    if (sw) {
        bool configured = sw->cfg != NULL;

        hmap_remove(&st->switches, &sw->hmap_node);
        if (configured && st->sw_at[sw->idx] == sw) {
            /* Another connection of the same switch, if there is one,
             * stands for it now. */
            struct steer_switch *other;

            st->sw_at[sw->idx] = NULL;
            HMAP_FOR_EACH (other, hmap_node, &st->switches) {
                if (other->cfg == sw->cfg) {
                    st->sw_at[sw->idx] = other;
                }
            }
            if (st->sw_at[sw->idx]) {
                tell_fabric__(st, st->sw_at[sw->idx]);
            } else {
                fabric_set_ports(st->fabric, sw->idx, NULL);
            }
        }
        switch_set_rcl__(sw, false);
        free(sw);
        if (configured) {
            sync_instances__(st);
            program_all__(st);
        }
    }
}

/* Handles a change of port 'new' (NULL if deleted; 'old' is NULL if added)
 * on switch 'conn'. */
void
steer_port_changed(struct steer *st, struct ofconn *conn,
                   const struct ofputil_phy_port *old OVS_UNUSED,
                   const struct ofputil_phy_port *new OVS_UNUSED)
{
    struct steer_switch *sw = switch_find__(st, conn);

    if (sw && sw->cfg) {
        if (st->sw_at[sw->idx] == sw) {
            tell_fabric__(st, sw);
        }
        sync_instances__(st);
        program_all__(st);
    }
}

/* Makes 'cb' (with 'aux') a further condition for the port of an instance
 * or of a link between switches to count as live: for example that BFD,
 * once configured on it, has come up (a port is live by its carrier alone
 * until the switch runs BFD on it). */
void
steer_set_port_ready_cb(struct steer *st, steer_port_ready_cb *cb, void *aux)
{
    st->port_ready = cb;
    st->port_ready_aux = aux;
}

/* Takes again what 'port_ready' says of every port. */
void
steer_refresh(struct steer *st)
{
    if (st->cfg) {
        for (size_t i = 0; i < st->cfg->n_switches; i++) {
            if (st->sw_at[i]) {
                tell_fabric__(st, st->sw_at[i]);
            }
        }
        sync_instances__(st);
        program_all__(st);
    }
}

void
steer_error(struct steer *st, struct ofconn *conn, enum ofperr error,
            ovs_be32 xid)
{
    struct steer_switch *sw = switch_find__(st, conn);

    if (sw && sw->rcl) {
        rcl_handle_error(sw->rcl, error, xid);
        rcl_run(sw->rcl, backlogged__(st, sw));
    }
}

/* The connection of 'conn' can take more output: a bundle that goes out in
 * pieces continues. */
void
steer_switch_drained(struct steer *st, struct ofconn *conn)
{
    struct steer_switch *sw = switch_find__(st, conn);

    if (sw && sw->rcl) {
        rcl_run(sw->rcl, backlogged__(st, sw));
    }
}

/* The switch of 'conn' confirmed or changed this controller's role: its
 * reconciler may write now (and resyncs first), or must stop. */
void
steer_role_changed(struct steer *st, struct ofconn *conn)
{
    struct steer_switch *sw = switch_find__(st, conn);

    if (sw && sw->rcl) {
        rcl_role_changed(sw->rcl);
        rcl_run(sw->rcl, backlogged__(st, sw));
    }
}

void
steer_message(struct steer *st, struct ofconn *conn, enum ofptype type,
              const struct ofp_header *oh)
{
    struct steer_switch *sw = switch_find__(st, conn);

    if (sw && sw->rcl && rcl_handle_message(sw->rcl, type, oh)) {
        rcl_run(sw->rcl, backlogged__(st, sw));
    }
}

/* The handoff policy's question (see hof_warm_cb): does instance 'j' of
 * 'map' hold the state of bucket 'b' as its primary has it?  An instance
 * with an agent does if its agent's latest report says so at an epoch from
 * which the bucket has had its assignment.  Where neither it nor the
 * primary has an agent, no state is replicated that it could wait for. */
struct warm_aux {
    const struct steer *st;
    size_t service;
};

static bool
warm__(const struct svcmap *map, int j, uint32_t b, void *aux_)
{
    const struct warm_aux *aux = aux_;
    const struct steer_inst *insts = aux->st->insts[aux->service];
    const struct steer_inst *si = &insts[j];
    int p = map->buckets[b].primary;

    if (!si->has_agent) {
        return p == SVCMAP_NONE || !insts[p].has_agent;
    }
    return (si->warm && si->warm_n == map->n_buckets
            && si->warm_epoch >= map->buckets[b].since
            && agp_bitmap_get(si->warm, b));
}

/* Returns true if instance 'j' of service 'i' holds the state of every
 * bucket it is the secondary of. */
static bool
instance_warm__(const struct steer *st, size_t i, size_t j)
{
    const struct svcmap *map = st->maps[i];
    struct warm_aux aux = { st, i };

    if (st->insts[i][j].has_agent && !st->insts[i][j].warm_epoch) {
        return false;
    }
    for (size_t k = 0; !st->insts[i][j].has_agent && k < map->n_instances;
         k++) {
        if (st->insts[i][k].has_agent) {
            /* The others replicate state: its agent has yet to come. */
            return false;
        }
    }
    for (size_t b = 0; b < map->n_buckets; b++) {
        if (map->buckets[b].secondary == (int) j && !warm__(map, j, b, &aux)) {
            return false;
        }
    }
    return true;
}

/* Makes every COLD instance of service 'i' that holds the state of all the
 * buckets it is secondary of UP: a candidate primary again.  Returns true
 * if the map changed. */
static bool
promote__(struct steer *st, size_t i)
{
    struct svcmap *map = st->maps[i];
    bool changed = false;

    for (size_t j = 0; j < map->n_instances; j++) {
        if (map->instances[j].state == SVCMAP_COLD
            && instance_warm__(st, i, j)) {
            size_t n = svcmap_set_state(map, j, SVCMAP_UP);

            VLOG_INFO("service %s: instance %s is warm: cold -> up, %"PRIuSIZE
                      " buckets changed, epoch %"PRIu64, map->service,
                      map->instances[j].name, n, map->epoch);
            changed = true;
        }
    }
    return changed;
}

/* Ends the drain of every draining instance of service 'i' that holds no
 * bucket any more: one no longer in the configuration file leaves the map
 * and the configuration, another is disabled.  Returns true if the map
 * changed. */
static bool
finish_drains__(struct steer *st, size_t i)
{
    struct svcmap *map = st->maps[i];
    bool changed = false;

    for (size_t j = 0; j < map->n_instances; j++) {
        struct steer_inst *si = &st->insts[i][j];

        if (!map->instances[j].draining || svcmap_holds_any(map, j)) {
            continue;
        }
        if (si->leaving) {
            VLOG_INFO("service %s: instance %s drained: removed from the "
                      "map, epoch %"PRIu64, map->service,
                      map->instances[j].name, map->epoch + 1);
            free(si->warm);
            svcmap_remove_instance(map, j);
            cfg_remove_instance(st->cfg, i, j);
            memmove(si, si + 1, (map->n_instances - j) * sizeof *si);
            index_instances__(st);
            map->epoch++;
            j--;
        } else {
            map->instances[j].draining = false;
            si->disabled = true;
            svcmap_set_state(map, j, SVCMAP_DISABLED);
            VLOG_INFO("service %s: instance %s drained: disabled, epoch "
                      "%"PRIu64, map->service, map->instances[j].name,
                      map->epoch);
        }
        changed = true;
    }
    return changed;
}

/* Runs the handoff policy of service 'i' at 'now'.  Returns true if its map
 * changed. */
static bool
run_service__(struct steer *st, size_t i, long long int now)
{
    struct warm_aux aux = { st, i };
    bool changed = false;

    changed |= promote__(st, i);
    changed |= hof_run(st->hofs[i], st->maps[i], warm__, &aux, now) > 0;
    changed |= finish_drains__(st, i);
    return changed;
}

/* Runs the handoff policy of every service at 'now', then reprograms the
 * switches if a map changed. */
static void
run_policy__(struct steer *st, long long int now)
{
    bool changed = false;

    if (!st->cfg || !st->programmed || st->standby) {
        return;
    }
    for (size_t i = 0; i < st->cfg->n_services; i++) {
        changed |= run_service__(st, i, now);
    }
    if (changed) {
        program_all__(st);
    }
}

/* Lets every reconciler send what waits (called periodically and after
 * events, so that work deferred by a backlog or by a bundle in flight is
 * done as soon as it can be). */
void
steer_run(struct steer *st, long long int now)
{
    struct steer_switch *sw;

    st->now = now;
    if (st->cfg && st->programmed && fabric_run(st->fabric, now)) {
        /* A damped link's time ended. */
        sync_instances__(st);
        program_all__(st);
    }
    settle__(st, now);
    run_policy__(st, now);
    HMAP_FOR_EACH (sw, hmap_node, &st->switches) {
        if (!sw->rcl) {
            continue;
        }
        if (!rcl_is_stalled(sw->rcl)) {
            sw->retry_at = 0;
        } else if (!sw->retry_at) {
            sw->retry_at = now + STEER_RETRY_MS;
        } else if (now >= sw->retry_at) {
            VLOG_INFO("%s: trying again the bundle the switch refused",
                      ofconn_get_name(sw->conn));
            rcl_retry(sw->rcl);
            sw->retry_at = 0;
        }
        rcl_run(sw->rcl, backlogged__(st, sw));
    }
}

/* Returns the record of instance 'name', or NULL. */
static struct steer_inst *
inst_by_name__(const struct steer *st, const char *name)
{
    struct steer_inst *si;

    HMAP_FOR_EACH_WITH_HASH (si, name_node, hash_string(name, 0),
                             &st->by_name) {
        if (!strcmp(si->cfg->name, name)) {
            return si;
        }
    }
    return NULL;
}

/* Finds instance 'name': stores its service and instance indexes. */
static bool
find_instance__(const struct steer *st, const char *name, size_t *ip,
                size_t *jp)
{
    const struct steer_inst *si = inst_by_name__(st, name);

    if (si) {
        *ip = si->service;
        *jp = si->index;
    }
    return si != NULL;
}

/* Disables (planned maintenance: its buckets move to their secondaries) or
 * enables (it rejoins as a secondary) the instance 'name'. */
char *
steer_set_enabled(struct steer *st, const char *name, bool enable)
{
    size_t i, j;

    if (st->standby) {
        return xstrdup(STEER_STANDBY_ERROR);
    }
    if (!find_instance__(st, name, &i, &j)) {
        return xasprintf("no instance named \"%s\"", name);
    }
    st->insts[i][j].disabled = !enable;
    if (!st->insts[i][j].leaving) {
        st->maps[i]->instances[j].draining = false;
    }
    hof_wake(st->hofs[i]);
    update_instance__(st, i, j, usable__(st, i, j));
    program_all__(st);
    return NULL;
}

/* Drains instance 'name': every bucket it holds, as primary or secondary,
 * is handed off to the instances rendezvous hashing picks among the
 * others; once it holds nothing it is disabled ("enable" brings it back).
 * Refused if no other instance of its service could take its buckets. */
char *
steer_drain(struct steer *st, const char *name, long long int now)
{
    struct svcmap *map;
    size_t i, j, n_others = 0;

    if (st->standby) {
        return xstrdup(STEER_STANDBY_ERROR);
    }
    if (!find_instance__(st, name, &i, &j)) {
        return xasprintf("no instance named \"%s\"", name);
    }
    map = st->maps[i];
    if (!svcmap_is_live(map->instances[j].state)) {
        return xasprintf("instance %s is %s: it holds no buckets to drain",
                         name, svcmap_state_name(map->instances[j].state));
    }
    for (size_t k = 0; k < map->n_instances; k++) {
        n_others += (k != j && svcmap_is_live(map->instances[k].state)
                     && !map->instances[k].draining);
    }
    if (!n_others) {
        return xasprintf("instance %s is the last live instance of service "
                         "%s that is not draining: no other could take its "
                         "buckets", name, map->service);
    }
    if (!map->instances[j].draining) {
        map->instances[j].draining = true;
        hof_wake(st->hofs[i]);
        VLOG_INFO("service %s: draining instance %s (%"PRIuSIZE" primaries, "
                  "%"PRIuSIZE" secondaries)", map->service, name,
                  svcmap_count_primary(map, j),
                  svcmap_count_secondary(map, j));
    }
    run_policy__(st, now);
    return NULL;
}

/* Returns the state of instance 'j' of 'map' as shown to users: its map
 * state, or "draining" for a live instance being drained. */
static const char *
state_name__(const struct svcmap *map, size_t j)
{
    const struct svcmap_instance *inst = &map->instances[j];

    return (inst->draining && svcmap_is_live(inst->state) ? "draining"
            : svcmap_state_name(inst->state));
}

static const char *
inst_name__(const struct svcmap *map, int idx)
{
    return idx == SVCMAP_NONE ? "-" : map->instances[idx].name;
}

/* Appends the map of 'service' (all if NULL) to 's'. */
char *
steer_format_map(const struct steer *st, const char *service, struct ds *s)
{
    bool found = false;

    for (size_t i = 0; st->cfg && i < st->cfg->n_services; i++) {
        const struct svcmap *map = st->maps[i];

        if (service && strcmp(service, map->service)) {
            continue;
        }
        found = true;
        ds_put_format(s, "service %s: %"PRIuSIZE" buckets, epoch %"PRIu64
                      "\n", map->service, map->n_buckets, map->epoch);
        if (st->cfg->n_hosts) {
            ds_put_format(s, "  anti-affinity: %"PRIuSIZE" buckets with "
                          "primary and secondary on one host\n",
                          svcmap_count_same_domain(map));
        }
        ds_put_format(s, "  %-16s %-9s %8s %10s %6s\n", "INSTANCE", "STATE",
                      "PRIMARY", "SECONDARY", "IDEAL");
        for (size_t j = 0; j < map->n_instances; j++) {
            ds_put_format(s, "  %-16s %-9s %8"PRIuSIZE" %10"PRIuSIZE" %6"
                          PRIuSIZE"\n", map->instances[j].name,
                          state_name__(map, j),
                          svcmap_count_primary(map, j),
                          svcmap_count_secondary(map, j),
                          svcmap_count_target(map, j));
        }
        ds_put_format(s, "  %-8s %-16s %s\n", "BUCKET", "PRIMARY",
                      "SECONDARY");
        for (size_t b = 0; b < map->n_buckets; b++) {
            ds_put_format(s, "  %-8"PRIuSIZE" %-16s %s\n", b,
                          inst_name__(map, map->buckets[b].primary),
                          inst_name__(map, map->buckets[b].secondary));
        }
        /* Apart from the table, which scripts read three columns at a
         * time. */
        for (size_t b = 0; b < map->n_buckets; b++) {
            if (map->buckets[b].next != SVCMAP_NONE) {
                ds_put_format(s, "  next of bucket %"PRIuSIZE": %s "
                              "(receiving its state, to replace the "
                              "secondary)\n", b,
                              inst_name__(map, map->buckets[b].next));
            }
        }
    }
    if (!found) {
        return (service
                ? xasprintf("no service named \"%s\"", service)
                : xstrdup("no services configured"));
    }
    return NULL;
}

/* Appends the instances, their ports and map states to 's', with a BFD
 * column from 'bfd' (called with 'aux') if it is nonnull. */
void
steer_format_instances(const struct steer *st, steer_port_liveness_cb *bfd,
                       void *aux, struct ds *s)
{
    ds_put_format(s, "%-16s %-10s %-8s %-16s %-8s %-9s %7s %9s %5s",
                  "INSTANCE", "SERVICE", "SWITCH", "PORT", "LINK", "STATE",
                  "PRIMARY", "SECONDARY", "IDEAL");
    ds_put_cstr(s, bfd ? " BFD\n" : "\n");
    for (size_t i = 0; st->cfg && i < st->cfg->n_services; i++) {
        const struct cfg_service *svc = &st->cfg->services[i];
        const struct svcmap *map = st->maps[i];

        for (size_t j = 0; j < svc->n_instances; j++) {
            const struct cfg_instance *inst = &svc->instances[j];
            struct steer_switch *sw;
            const struct ofputil_phy_port *pp = instance_port__(st, i, j,
                                                                &sw);
            const char *link;

            link = (!sw ? "no-switch" : !pp ? "missing"
                    : ofconn_port_is_live(pp) ? "live" : "down");
            ds_put_format(s, "%-16s %-10s %-8s %-16s %-8s %-9s %7"PRIuSIZE
                          " %9"PRIuSIZE" %5"PRIuSIZE, inst->name,
                          svc->name, cfg_instance_switch(st->cfg, inst),
                          inst->port, link,
                          state_name__(map, j),
                          svcmap_count_primary(map, j),
                          svcmap_count_secondary(map, j),
                          svcmap_count_target(map, j));
            if (bfd) {
                const char *word = bfd(inst->port, aux);

                ds_put_format(s, " %s", word ? word : "-");
            }
            ds_put_char(s, '\n');
        }
    }
}

/* Returns the configuration 'st' runs on, or NULL if it has none. */
const struct sfm_config *
steer_config(const struct steer *st)
{
    return st->cfg;
}

/* Appends to 's' the handoffs of service 'service' (of all if NULL) at
 * 'now': in progress, and the latest finished. */
char *
steer_format_handoffs(const struct steer *st, const char *service,
                      long long int now, struct ds *s)
{
    bool found = false;

    for (size_t i = 0; st->cfg && i < st->cfg->n_services; i++) {
        if (!service || !strcmp(service, st->maps[i]->service)) {
            hof_format(st->hofs[i], st->maps[i], now, s);
            found = true;
        }
    }
    if (!found) {
        return (service
                ? xasprintf("no service named \"%s\"", service)
                : xstrdup("no services configured"));
    }
    return NULL;
}

/* Stores in '*cursorp' a cursor over the desired flows (or, if 'groups',
 * groups) of switch 'switch_name' (may be NULL if there is only one), for
 * display: what its reconciler holds once the policy has settled, else
 * what would be installed now.  Returns NULL, or an error message that the
 * caller frees (and no cursor). */
char *
steer_desired_cursor(const struct steer *st, const char *switch_name,
                     bool groups, struct flowset_cursor **cursorp)
{
    const struct cfg_switch *cs;
    const struct steer_switch *sw;
    struct flowset d;

    *cursorp = NULL;
    if (!switch_name) {
        if (!st->cfg || st->cfg->n_switches != 1) {
            return xstrdup("name a switch");
        }
        switch_name = st->cfg->switches[0].name;
    }
    cs = cfg_find_switch(st->cfg, switch_name);
    sw = cs ? switch_at__(st, cs - st->cfg->switches) : NULL;
    if (!sw) {
        return xasprintf("switch \"%s\" is %s", switch_name,
                         cs ? "not connected" : "not configured");
    }
    if (sw->rcl && st->settled) {
        /* What the reconciler holds: the latest desired state. */
        *cursorp = flowset_cursor_create(rcl_get_desired(sw->rcl), groups);
        return NULL;
    }
    generate__(st, sw, &d);
    *cursorp = flowset_cursor_create(&d, groups);
    flowset_destroy(&d);
    return NULL;
}

/* Appends to 's' the desired flows or groups of a switch, as
 * steer_desired_cursor() gives them. */
char *
steer_format_desired(const struct steer *st, const char *switch_name,
                     bool groups, struct ds *s)
{
    struct flowset_cursor *c;
    char *error = steer_desired_cursor(st, switch_name, groups, &c);

    if (!error) {
        flowset_cursor_format(c, s, SIZE_MAX);
        flowset_cursor_destroy(c);
    }
    return error;
}

/* Appends to 's' whether the reconciler of 'sw' has the switch in sync:
 * "in sync", or "not in sync" and the reason in parentheses if there is
 * one beyond work in progress. */
static void
steer_format_sync__(const struct steer_switch *sw, struct ds *s)
{
    if (rcl_is_synced(sw->rcl)) {
        ds_put_cstr(s, "in sync");
    } else {
        ds_put_cstr(s, "not in sync");
        ds_put_cstr(s, " (");
        if (rcl_format_problem(sw->rcl, s)) {
            ds_put_char(s, ')');
        } else {
            ds_truncate(s, s->length - 2);
        }
    }
}

/* Returns, for the switch of connection 'conn', whether it is in sync as
 * steer_format_switches() says it, or NULL if the policy does not program
 * it.  The caller frees the result. */
char *
steer_switch_sync(const struct steer *st, const struct ofconn *conn)
{
    const struct steer_switch *sw = switch_find__(st, conn);
    struct ds s = DS_EMPTY_INITIALIZER;

    if (!sw || !sw->rcl) {
        return NULL;
    }
    steer_format_sync__(sw, &s);
    return ds_steal_cstr(&s);
}

/* Appends the configured switches and their reconcilers' state to 's'. */
void
steer_format_switches(const struct steer *st, struct ds *s)
{
    for (size_t i = 0; st->cfg && i < st->cfg->n_switches; i++) {
        const struct cfg_switch *cs = &st->cfg->switches[i];
        const struct steer_switch *sw = switch_at__(st, i);

        ds_put_format(s, "switch %s (dpid %016"PRIx64"%s%s): ", cs->name,
                      cs->dpid, cs->host >= 0 ? ", host " : "",
                      cs->host >= 0 ? st->cfg->hosts[cs->host].name : "");
        if (!sw || !sw->rcl) {
            ds_put_cstr(s, "not connected\n");
            continue;
        }
        const struct rcl_stats *rs = rcl_get_stats(sw->rcl);
        ds_put_format(s, "%s, ", rcl_state_name(sw->rcl));
        steer_format_sync__(sw, s);
        ds_put_format(s, "; installed %"PRIuSIZE" flows, %"PRIuSIZE
                      " groups; %"PRIu64" bundles (flows +%"PRIu64" ~%"PRIu64
                      " -%"PRIu64", groups +%"PRIu64" ~%"PRIu64" -%"PRIu64
                      "), %"PRIu64" dumps, %"PRIu64" errors\n",
                      rcl_n_installed_flows(sw->rcl),
                      rcl_n_installed_groups(sw->rcl), rs->n_bundles,
                      rs->n_flow_adds, rs->n_flow_mods, rs->n_flow_dels,
                      rs->n_group_adds, rs->n_group_mods, rs->n_group_dels,
                      rs->n_dumps, rs->n_errors);
    }
    if (st->cfg) {
        fabric_format(st->fabric, st->now, s);
    }
}

/* Appends to 's' the hosts of the configuration: for each, its switches
 * (connected or not), the links that leave it for another host (the
 * tunnels) with their state, and its instances with theirs.  Switches
 * that name no host are left out. */
void
steer_format_hosts(const struct steer *st, struct ds *s)
{
    const struct sfm_config *cfg = st->cfg;

    if (!cfg || !cfg->n_hosts) {
        ds_put_cstr(s, "no hosts: no switch of the configuration names its "
                    "host\n");
        return;
    }
    for (size_t h = 0; h < cfg->n_hosts; h++) {
        ds_put_format(s, "host %s\n", cfg->hosts[h].name);
        for (size_t i = 0; i < cfg->n_switches; i++) {
            if (cfg->switches[i].host == (int) h) {
                const struct steer_switch *sw = switch_at__(st, i);

                ds_put_format(s, "  switch %s: %s\n", cfg->switches[i].name,
                              sw && sw->rcl ? "connected" : "not connected");
            }
        }
        for (size_t l = 0; l < cfg->n_links; l++) {
            const struct cfg_link *link = &cfg->links[l];

            for (int e = 0; e < 2; e++) {
                const struct cfg_switch *here, *there;

                here = &cfg->switches[link->ends[e].sw];
                there = &cfg->switches[link->ends[!e].sw];
                if (here->host == (int) h && there->host != (int) h) {
                    ds_put_format(s, "  tunnel %s:%s -> host %s (%s:%s): "
                                  "%s\n", here->name, link->ends[e].port,
                                  (there->host >= 0
                                   ? cfg->hosts[there->host].name : "?"),
                                  there->name, link->ends[!e].port,
                                  (fabric_link_is_damped(st->fabric, l)
                                   ? "down (damped)"
                                   : fabric_link_is_down(st->fabric, l)
                                   ? "down" : "up"));
                }
            }
        }
        for (size_t i = 0; i < cfg->n_services; i++) {
            const struct cfg_service *svc = &cfg->services[i];

            for (size_t j = 0; j < svc->n_instances; j++) {
                if (cfg->switches[svc->instances[j].sw].host == (int) h) {
                    ds_put_format(s, "  instance %s (%s): %s\n",
                                  svc->instances[j].name, svc->name,
                                  state_name__(st->maps[i], j));
                }
            }
        }
    }
}

/* Sets the administrative state of the port of instance 'j' of service 'i'
 * with a port_mod: down fences the instance (every fast-failover group
 * watching the port switches away from it in one message), up lifts the
 * fence.  Returns false if the instance's switch or port is unknown. */
static bool
set_port_admin__(struct steer *st, size_t i, size_t j, bool up)
{
    struct steer_switch *sw;
    const struct ofputil_phy_port *pp = instance_port__(st, i, j, &sw);
    struct ofputil_port_mod pm;

    if (!pp) {
        return false;
    }
    memset(&pm, 0, sizeof pm);
    pm.port_no = pp->port_no;
    pm.hw_addr = pp->hw_addr;
    pm.config = up ? 0 : OFPUTIL_PC_PORT_DOWN;
    pm.mask = OFPUTIL_PC_PORT_DOWN;
    ofconn_send(sw->conn, ofputil_encode_port_mod(
                    &pm, ofputil_protocol_from_ofp_version(
                        ofconn_get_version(sw->conn))));
    return true;
}

/* Forgets what the agent of 'si' reported, for an agent that is gone or
 * new (a new process holds no state): it holds nothing warm. */
static void
forget_report__(struct steer_inst *si)
{
    si->has_agent = true;
    free(si->warm);
    si->warm = NULL;
    si->warm_n = 0;
    si->warm_epoch = 0;
}

/* The agent of instance 'name' is gone ('why': its channel closed, or its
 * heartbeats stopped): the instance is fenced, its port set down so that
 * the data plane fails over at once, and the map repaired. */
void
steer_agent_lost(struct steer *st, const char *name, const char *why)
{
    size_t i, j;

    if (st->standby || !find_instance__(st, name, &i, &j)) {
        return;
    }
    VLOG_WARN("instance %s fenced: %s", name, why);
    st->insts[i][j].fenced = true;
    forget_report__(&st->insts[i][j]);
    if (!set_port_admin__(st, i, j, false)) {
        VLOG_WARN("instance %s: port not found; cannot set it down", name);
    }
    update_instance__(st, i, j, false);
    program_all__(st);
}

/* Returns true if the port of instance 'j' of service 'i' is known and
 * administratively down. */
static bool
instance_port_admin_down__(const struct steer *st, size_t i, size_t j)
{
    const struct ofputil_phy_port *pp = instance_port__(st, i, j, NULL);

    return pp && (pp->config & OFPUTIL_PC_PORT_DOWN);
}

/* The agent of instance 'name' said hello: a fence set because its agent
 * was lost is lifted, so the instance rejoins (as a secondary).  A port
 * found administratively down counts as fenced, since a restarted
 * controller does not remember its fences: planned maintenance goes
 * through "sfmesh-ctl disable", not through the port. */
void
steer_agent_up(struct steer *st, const char *name)
{
    size_t i, j;

    if (st->standby || !find_instance__(st, name, &i, &j)) {
        return;
    }
    forget_report__(&st->insts[i][j]);
    if (st->insts[i][j].disabled
        || (!st->insts[i][j].fenced
            && !instance_port_admin_down__(st, i, j))) {
        return;
    }
    VLOG_INFO("instance %s: agent back, lifting the fence", name);
    st->insts[i][j].fenced = false;
    set_port_admin__(st, i, j, true);
    update_instance__(st, i, j, usable__(st, i, j));
    program_all__(st);
}

/* The agent of instance 'name' reports, at map 'epoch' of 'n_buckets'
 * buckets, which buckets it holds warm ('warm', an agent protocol bitmap):
 * handoffs waiting for it may complete, and a COLD instance may become a
 * primary candidate again.  Returns true if a map changed. */
bool
steer_agent_report(struct steer *st, const char *name, uint64_t epoch,
                   size_t n_buckets, const uint8_t *warm, long long int now)
{
    struct steer_inst *si;
    size_t i, j;

    if (!find_instance__(st, name, &i, &j)) {
        return false;
    }
    si = &st->insts[i][j];
    si->has_agent = true;
    if (si->warm_n != n_buckets || !si->warm) {
        free(si->warm);
        si->warm = xmalloc(MAX(agp_bitmap_len(n_buckets), 1));
        si->warm_n = n_buckets;
    }
    if (n_buckets) {
        memcpy(si->warm, warm, agp_bitmap_len(n_buckets));
    }
    si->warm_epoch = epoch;
    /* A report changes something only for a handoff waiting for it or a
     * COLD instance; the periodic run does the rest. */
    if (st->programmed
        && (hof_n_active(st->hofs[i])
            || st->maps[i]->instances[j].state == SVCMAP_COLD)
        && run_service__(st, i, now)) {
        program_all__(st);
        return true;
    }
    return false;
}

/* Returns true if instance 'name' holds the state of every bucket it is the
 * secondary of, as far as its agent's reports go. */
bool
steer_instance_warm(const struct steer *st, const char *name)
{
    size_t i, j;

    return find_instance__(st, name, &i, &j) && instance_warm__(st, i, j);
}

/* Returns the map of the service of instance 'name' and stores the
 * instance's index in it in '*idxp', or returns NULL. */
const struct svcmap *
steer_map_of_instance(const struct steer *st, const char *name, int *idxp)
{
    size_t i, j;

    if (!find_instance__(st, name, &i, &j)) {
        return NULL;
    }
    *idxp = j;
    return st->maps[i];
}

/* Returns true once the policy has programmed the switches, after the wait
 * for them at start (see steer.h). */
bool
steer_is_settled(const struct steer *st)
{
    return st->settled;
}

/* The agent of instance 'name' reports that it holds map 'epoch' of its
 * service: if that is newer than the map the policy has (issued by this
 * controller before a restart it has no record of), the map's epoch jumps
 * past it, so that the agents take the map. */
void
steer_agent_epoch(struct steer *st, const char *name, uint64_t epoch)
{
    size_t i, j;

    if (find_instance__(st, name, &i, &j) && epoch > st->maps[i]->epoch
        && svcmap_raise_epoch(st->maps[i], epoch)) {
        VLOG_INFO("service %s: agent %s holds epoch %"PRIu64", newer than "
                  "this controller's: continuing from epoch %"PRIu64,
                  st->maps[i]->service, name, epoch, st->maps[i]->epoch);
    }
}

/* Returns the name of instance 'idx' of 'map', or NULL for none. */
static const char *
name_or_null__(const struct svcmap *map, int idx)
{
    return idx == SVCMAP_NONE ? NULL : map->instances[idx].name;
}

/* Stores in 's' the epoch of every service's map, the map itself and the
 * standing of every instance. */
void
steer_save_state(const struct steer *st, struct ctlstate *s)
{
    for (size_t i = 0; st->cfg && i < st->cfg->n_services; i++) {
        const struct svcmap *map = st->maps[i];
        struct ctlstate_map *cm;

        if (map->epoch) {
            ctlstate_set_epoch(s, map->service, map->epoch);
        }
        cm = ctlstate_put_map(s, map->service, map->n_buckets);
        for (size_t b = 0; b < map->n_buckets; b++) {
            const struct svcmap_bucket *bk = &map->buckets[b];

            ctlstate_bucket_set(&cm->buckets[b],
                                name_or_null__(map, bk->primary),
                                name_or_null__(map, bk->secondary),
                                name_or_null__(map, bk->next), bk->since);
        }
        for (size_t j = 0; j < map->n_instances; j++) {
            const struct steer_inst *si = &st->insts[i][j];
            struct ctlstate_inst *ci;

            ci = ctlstate_put_inst(s, map->instances[j].name, map->service);
            ci->state = map->instances[j].state;
            ci->draining = map->instances[j].draining;
            ci->seen_live = si->seen_live;
            ci->disabled = si->disabled;
            ci->fenced = si->fenced;
            ci->leaving = si->leaving;
        }
    }
}

/* Returns the index in 'map' of the instance named 'name', SVCMAP_NONE for
 * a null 'name' or one 'map' does not have. */
static int
index_or_none__(const struct svcmap *map, const char *name)
{
    int idx = name ? svcmap_find(map, name) : SVCMAP_NONE;

    return idx < 0 ? SVCMAP_NONE : idx;
}

/* Takes from 's', the state the active controller saved, the maps and the
 * instances' standing, so that this controller holds what the active one
 * decided (a standby follows it, and takes over from there).  A map whose
 * bucket count is not the configuration's is left alone, with a warning:
 * the controllers run different configurations.  An instance of 's' that
 * the configuration lacks leaves the buckets it held empty, as a failed
 * one would.  A map's epoch never goes back.  Returns true if anything
 * changed, after which the desired state follows. */
bool
steer_adopt_state(struct steer *st, const struct ctlstate *s)
{
    static struct vlog_rate_limit adopt_rl = VLOG_RATE_LIMIT_INIT(1, 10);
    bool changed = false;

    for (size_t i = 0; st->cfg && i < st->cfg->n_services; i++) {
        struct svcmap *map = st->maps[i];
        const struct ctlstate_map *cm = shash_find_data(&s->maps,
                                                        map->service);
        uint64_t epoch = ctlstate_get_epoch(s, map->service);

        if (!cm) {
            continue;
        } else if (cm->n_buckets != map->n_buckets) {
            VLOG_WARN_RL(&adopt_rl, "service %s: the saved map has %"PRIuSIZE
                         " buckets, the configuration %"PRIuSIZE": not "
                         "taken (do the controllers share one "
                         "configuration?)", map->service, cm->n_buckets,
                         map->n_buckets);
            continue;
        }
        for (size_t j = 0; j < map->n_instances; j++) {
            const struct ctlstate_inst *ci;
            struct steer_inst *si = &st->insts[i][j];

            ci = shash_find_data(&s->insts, map->instances[j].name);
            if (!ci || strcmp(ci->service, map->service)) {
                continue;
            }
            changed |= (map->instances[j].state != ci->state
                        || map->instances[j].draining != ci->draining
                        || si->seen_live != ci->seen_live
                        || si->disabled != ci->disabled
                        || si->fenced != ci->fenced
                        || si->leaving != ci->leaving);
            svcmap_restore_state(map, j, ci->state);
            map->instances[j].draining = ci->draining;
            si->seen_live = ci->seen_live;
            si->disabled = ci->disabled;
            si->fenced = ci->fenced;
            si->leaving = ci->leaving;
        }
        for (size_t b = 0; b < map->n_buckets; b++) {
            const struct ctlstate_bucket *cb = &cm->buckets[b];
            const struct svcmap_bucket *cur = &map->buckets[b];
            int p = index_or_none__(map, cb->primary);
            int sec = index_or_none__(map, cb->secondary);
            int n = index_or_none__(map, cb->next);

            if (cur->primary != p || cur->secondary != sec
                || cur->next != n || cur->since != cb->since) {
                svcmap_restore_bucket(map, b, p, sec, n, cb->since);
                changed = true;
            }
        }
        if (epoch > map->epoch) {
            svcmap_restore_epoch(map, epoch);
            changed = true;
        }
    }
    if (changed && st->programmed) {
        program_all__(st);
    }
    return changed;
}

/* Makes 'st' a standby ('standby' true: another controller decides, and
 * this one's maps change only by steer_adopt_state()) or the deciding one
 * again.  Becoming active, it takes the maps as they are (adopted from
 * the controller before it) and goes on from there: instances whose ports
 * failed meanwhile are repaired, handoffs left in progress are taken up
 * again (a bucket's next instance is where the handoff left it). */
void
steer_set_standby(struct steer *st, bool standby)
{
    if (st->standby == standby) {
        return;
    }
    st->standby = standby;
    VLOG_INFO("%s", standby ? "standby: the maps follow the active "
              "controller's" : "active: this controller decides the maps");
    for (size_t i = 0; st->cfg && i < st->cfg->n_services; i++) {
        hof_forget(st->hofs[i]);
        hof_wake(st->hofs[i]);
    }
    if (!standby && st->cfg && st->settled) {
        st->programmed = true;
        sync_instances__(st);
        program_all__(st);
    }
}

/* Returns true if 'st' is a standby. */
bool
steer_is_standby(const struct steer *st)
{
    return st->standby;
}

/* Continues from the state 's' that this controller saved before it
 * restarted: every service's epoch goes past the one saved. */
void
steer_restore_state(struct steer *st, const struct ctlstate *s)
{
    for (size_t i = 0; st->cfg && i < st->cfg->n_services; i++) {
        struct svcmap *map = st->maps[i];
        uint64_t saved = ctlstate_get_epoch(s, map->service);

        if (saved && svcmap_raise_epoch(map, saved)) {
            VLOG_INFO("service %s: epoch %"PRIu64" was saved before the "
                      "restart: continuing from epoch %"PRIu64,
                      map->service, saved, map->epoch);
        }
    }
}
