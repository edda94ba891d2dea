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
/* Standby refusals are normal: logged at INFO, rate-limited apart. */
static struct vlog_rate_limit standby_rl = VLOG_RATE_LIMIT_INIT(5, 20);

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
        /* The map's address, or the one we knew if it knows none. */
        p->addr = ag->map.instances[i].repl_addr;
        p->port = ag->map.instances[i].repl_port;
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

/* The agent channel.
 *
 * One channel at a time, to the current target of 'ag->ctls'; which target
 * comes next, and when, is agentctl's policy (agentctl.h): this carries it
 * out. */

/* Starts 'ag''s timer for the attempt on the current controller: its
 * connection (if not 'connected') or its answer to our hello.  With a
 * single controller there is none. */
static void
chan_arm_timeout__(struct agent *ag, bool connected)
{
    int ms = agentctl_timeout_ms(&ag->ctls, connected);

    if (ms) {
        struct timeval tv = { ms / 1000, ms % 1000 * 1000 };

        event_add(ag->chan_timeout_ev, &tv);
    }
}

/* The attempt on the current controller took too long: it fails, and the
 * next controller is tried. */
void
chan_timeout_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
                void *ag_)
{
    struct agent *ag = ag_;
    char *reason;

    if (!ag->chan || ag->chan_ready) {
        return;
    }
    reason = xasprintf("%s within %d ms",
                       ag->chan_up ? "no answer to our hello"
                                   : "not connected",
                       agentctl_timeout_ms(&ag->ctls, ag->chan_up));
    ag->chan_end = AGENTCTL_TIMEOUT;
    agpconn_close(ag->chan, reason);
    free(reason);
}

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
    ag->chan_up = true;
    chan_arm_timeout__(ag, true);
}

/* Returns true if 'reason', a controller's refusal, says that it is a
 * standby controller: another one is active. */
static bool
chan_is_standby__(const char *reason)
{
    return !strncmp(reason, AGP_STANDBY_REASON, strlen(AGP_STANDBY_REASON));
}

static void
chan_msg(struct agpconn *conn, const struct agp_msg *msg, void *ag_)
{
    struct agent *ag = ag_;
    const char *name = agentctl_current(&ag->ctls)->name;

    ag->chan_heard = time_msec();
    switch (msg->type) {
    case AGP_HEARTBEAT:
        /* The controller's answer to ours: it is there. */
        break;

    case AGP_HELLO_ACK:
        if (ag->chan_ready) {
            VLOG_WARN_RL(&rl, "%s: unexpected %s", name,
                         agp_type_name(msg->type));
        } else if (!msg->hello_ack.version) {
            const char *reason = msg->hello_ack.reason;

            event_del(ag->chan_timeout_ev);
            if (chan_is_standby__(reason)) {
                /* Normal with several controllers: try the next. */
                VLOG_INFO_RL(&standby_rl, "%s: %s", name, reason);
                ag->chan_end = AGENTCTL_STANDBY;
            } else {
                VLOG_ERR("%s refused us: %s", name, reason);
                ag->chan_end = AGENTCTL_REFUSED;
            }
            agpconn_close(conn, "refused");
        } else {
            event_del(ag->chan_timeout_ev);
            VLOG_INFO("%s: connected to the controller", name);
            ag->chan_ready = true;
            agentctl_accepted(&ag->ctls, time_msec());
        }
        break;

    case AGP_MAP:
        if (!ag->chan_ready) {
            /* Only the controller that accepted us speaks for the map. */
            VLOG_WARN_RL(&rl, "%s: map before the controller accepted us, "
                         "ignored", name);
            break;
        }
        map_apply(ag, &msg->map);
        break;

    default:
        VLOG_WARN_RL(&rl, "%s: unexpected %s", name,
                     agp_type_name(msg->type));
        break;
    }
}

static void
chan_closed(struct agpconn *conn OVS_UNUSED, const char *reason, void *ag_)
{
    struct agent *ag = ag_;
    const char *name = agentctl_current(&ag->ctls)->name;
    enum agentctl_event end = ag->chan_end;
    const char *next;
    struct timeval tv;
    char *when;
    int delay;

    /* Soon at first, so that a restarted controller hears from its agents
     * within its heartbeat timeout; less often while it stays away.  With
     * several controllers, the next one at once, and the wait only after
     * each has been tried. */
    event_del(ag->chan_timeout_ev);
    delay = agentctl_failed(&ag->ctls, end, time_msec());
    next = agentctl_current(&ag->ctls)->spec;
    if (ag->ctls.n_targets == 1) {
        when = xasprintf("reconnecting in %d ms", delay);
    } else if (delay) {
        when = xasprintf("trying %s in %d ms", next, delay);
    } else {
        when = xasprintf("trying %s at once", next);
    }
    if (end == AGENTCTL_STANDBY) {
        VLOG_INFO_RL(&standby_rl, "%s: %s; %s", name, reason, when);
    } else {
        VLOG_WARN_RL(&rl, "%s: %s; %s", name, reason, when);
    }
    free(when);
    tv.tv_sec = delay / 1000;
    tv.tv_usec = delay % 1000 * 1000;
    ag->chan = NULL;
    ag->chan_up = false;
    ag->chan_ready = false;
    event_add(ag->reconnect_ev, &tv);
}

static const struct agpconn_cbs chan_cbs = {
    .connected = chan_connected,
    .msg = chan_msg,
    .closed = chan_closed,
};

/* Connects the agent channel to the current controller of 'ag->ctls'. */
void
chan_connect(struct agent *ag)
{
    const struct agentctl_target *ct = agentctl_current(&ag->ctls);
    struct agpconn_target t = {
        .remote = (const struct sockaddr *) &ct->ss,
        .remote_len = ct->len,
        .tls = ct->tls ? ag->chan_tls : NULL,
    };

    ag->chan_up = false;
    ag->chan_ready = false;
    ag->chan_end = AGENTCTL_FAILED;
    ag->chan = agpconn_connect(ag->base, &t, ct->name, &chan_cbs, ag);
    chan_arm_timeout__(ag, false);
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
    if (agentctl_is_silent(&ag->ctls, ag->chan_heard, time_msec())) {
        /* Stopped, or cut off from us: the active controller is now
         * another, or will be. */
        char *reason = xasprintf("silent for %lld ms",
                                 time_msec() - ag->chan_heard);

        ag->chan_end = AGENTCTL_TIMEOUT;
        agpconn_close(ag->chan, reason);
        free(reason);
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

