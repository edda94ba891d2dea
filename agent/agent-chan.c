/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* sfmesh-agent's controller channel and the maps it brings (agent.h). */

#include <config.h>
#include "agent.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include "agentproto.h"
#include "agpconn.h"
#include "bitmap.h"
#include "liveness.h"
#include "openvswitch/vlog.h"
#include "replrx.h"
#include "service.h"
#include "streamtab.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent_chan);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* The service map. */

/* Closes the replication connections to the instances of the map and
 * frees their state. */
void
chan_peers_free(struct peer *peers, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        agpconn_destroy(peers[i].conn);
        bitmap_free(peers[i].bulk);
    }
    free(peers);
}

/* Applies the map 'm': keeps the replication connections to instances
 * that stay, and sends bulk transfers to every new secondary of our
 * buckets. */
static void
map_apply(struct agent *ag, const struct agp_map *m)
{
    size_t n_old = ag->map.n_instances;
    struct peer *old = ag->peers;
    bool *connected = xcalloc(MAX(n_old, 1), sizeof *connected);
    struct agentmap_change change;

    /* What we changed under the old map goes where the old map sends it
     * first: an instance that leaves a bucket's pair would otherwise keep
     * its last changes of the bucket's streams for nobody. */
    repl_flush(ag);
    for (size_t j = 0; j < n_old; j++) {
        connected[j] = old[j].conn != NULL;
    }
    if (!agentmap_apply(&ag->map, m, ag->instance, ag->replicate, connected,
                        &change)) {
        free(connected);
        return;
    }
    free(connected);
    replrx_set_map(ag->rx, &ag->map);

    ag->peers = xcalloc(MAX(m->n_instances, 1), sizeof *ag->peers);
    for (size_t i = 0; i < m->n_instances; i++) {
        struct peer *p = &ag->peers[i];
        int j = change.kept[i];

        p->agent = ag;
        p->idx = i;
        p->addr = m->instances[i].repl_addr;
        p->port = m->instances[i].repl_port;
        p->bulk = change.bulk[i];
        change.bulk[i] = NULL;
        p->retry_ms = AGP_RECONNECT_MIN_MS;
        if (j >= 0) {
            struct peer *q = &old[j];

            p->conn = q->conn;
            p->retry_ms = q->retry_ms;
            p->retry_at = q->retry_at;
            p->up = q->up;
            p->seq = q->seq;
            p->acked = q->acked;
            p->n_records = q->n_records;
            agpconn_set_aux(p->conn, p);
            q->conn = NULL;
            if (!p->up) {
                /* Still connecting: it gets every bucket once up. */
                repl_peer_queue_all(p);
            }
        }
    }
    agentmap_change_destroy(&change);

    /* The connections to instances that left close. */
    chan_peers_free(old, n_old);

    for (size_t i = 0; i < ag->map.n_instances; i++) {
        struct peer *p = &ag->peers[i];

        if (bitmap_scan(p->bulk, 1, 0, ag->map.n_buckets)
            < ag->map.n_buckets) {
            if (p->up) {
                repl_send_bulks(ag, p);
            } else {
                repl_peer_connect(p);
            }
        }
    }
    liveness_map(ag->live, ag->map.epoch, agentmap_n_roles(&ag->map),
                 time_msec());
    agent_claim_update_map(ag);
    VLOG_INFO("map epoch %"PRIu64" applied: %"PRIuSIZE" buckets, we are %s",
              ag->map.epoch, ag->map.n_buckets,
              ag->map.self >= 0 ? "in it" : "not in it");
}

/* The agent channel. */

static void
chan_connected(struct agpconn *conn, void *ag_)
{
    struct agent *ag = ag_;
    struct agp_msg msg;

    memset(&msg, 0, sizeof msg);
    msg.type = AGP_HELLO;
    msg.hello.versions = 1u << AGP_VERSION;
    msg.hello.repl_addr = ag->repl_addr;
    msg.hello.repl_port = ag->repl_port;
    msg.hello.instance = ag->instance;
    msg.hello.service = ag->svc->name;
    agpconn_send(conn, &msg);
}

static void
chan_msg(struct agpconn *conn, const struct agp_msg *msg, void *ag_)
{
    struct agent *ag = ag_;

    switch (msg->type) {
    case AGP_HELLO_ACK:
        if (!msg->hello_ack.version) {
            VLOG_ERR("controller refused us: %s", msg->hello_ack.reason);
            agpconn_close(conn, "refused");
        } else {
            VLOG_INFO("%s: connected to the controller", ag->ctl_name);
            ag->chan_ready = true;
            ag->reconnect_ms = AGP_RECONNECT_MIN_MS;
        }
        break;

    case AGP_MAP:
        map_apply(ag, &msg->map);
        break;

    default:
        VLOG_WARN_RL(&rl, "%s: unexpected %s", ag->ctl_name,
                     agp_type_name(msg->type));
        break;
    }
}

static void
chan_closed(struct agpconn *conn OVS_UNUSED, const char *reason, void *ag_)
{
    struct agent *ag = ag_;
    struct timeval tv;

    /* Soon at first, so that a restarted controller hears from its agents
     * within its heartbeat timeout; less often while it stays away. */
    VLOG_WARN_RL(&rl, "%s: %s; reconnecting in %d ms", ag->ctl_name, reason,
                 ag->reconnect_ms);
    tv.tv_sec = ag->reconnect_ms / 1000;
    tv.tv_usec = ag->reconnect_ms % 1000 * 1000;
    ag->reconnect_ms = MIN(ag->reconnect_ms * 2, AGP_RECONNECT_MAX_MS);
    ag->chan = NULL;
    ag->chan_ready = false;
    event_add(ag->reconnect_ev, &tv);
}

static const struct agpconn_cbs chan_cbs = {
    .connected = chan_connected,
    .msg = chan_msg,
    .closed = chan_closed,
};

void
chan_connect(struct agent *ag)
{
    struct agpconn_target t = {
        .remote = (struct sockaddr *) &ag->ctl_ss,
        .remote_len = ag->ctl_len,
        .tls = ag->chan_tls,
    };

    ag->chan = agpconn_connect(ag->base, &t, ag->ctl_name, &chan_cbs, ag);
}

void
chan_reconnect_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
             void *ag_)
{
    chan_connect(ag_);
}

void
chan_heartbeat_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
             void *ag_)
{
    struct agent *ag = ag_;
    struct agp_msg msg;
    uint8_t *warm;

    if (!ag->chan || !ag->chan_ready) {
        return;
    }
    warm = xzalloc(MAX(agp_bitmap_len(ag->map.n_buckets), 1));
    for (size_t b = 0; b < ag->map.n_buckets; b++) {
        /* Without replication there is no state to wait for. */
        agp_bitmap_set(warm, b,
                       !ag->replicate || agentmap_is_warm(&ag->map, b));
    }
    memset(&msg, 0, sizeof msg);
    msg.type = AGP_HEARTBEAT;
    msg.heartbeat.epoch = ag->map.epoch;
    msg.heartbeat.n_buckets = ag->map.epoch ? ag->map.n_buckets : 0;
    msg.heartbeat.warm = warm;
    msg.heartbeat.n_received = ag->n_received;
    msg.heartbeat.n_returned = ag->n_returned;
    msg.heartbeat.n_dropped = ag->n_malformed + ag->n_dropped_service;
    agpconn_send(ag->chan, &msg);
    free(warm);
}

