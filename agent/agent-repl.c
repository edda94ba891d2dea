/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* sfmesh-agent's replication (agent.h). */

#include <config.h>
#include "agent.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "agentproto.h"
#include "agpconn.h"
#include "bitmap.h"
#include "connlimit.h"
#include "netaddr.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "replrx.h"
#include "service.h"
#include "sset.h"
#include "streamtab.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent_repl);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Replication, primary side. */

static void
record_from_entry(const struct agent *ag, const struct streamtab_entry *e,
                  uint8_t *blob, struct agp_record *rec)
{
    agp_stream_key_init(&rec->key, ntohl(e->key.addr_lo), e->key.port_lo,
                        ntohl(e->key.addr_hi), e->key.port_hi,
                        e->key.proto);
    rec->bucket = e->bucket;
    rec->version.epoch = e->version.epoch;
    rec->version.count = e->version.count;
    ag->svc->serialize(e->state, blob);
    rec->state_len = ag->svc->blob_size;
    rec->state = blob;
}

/* Sends the entries in 'entries' to 'p' as STATE_UPDATE batches. */
static void
send_entries(struct agent *ag, struct peer *p,
             struct streamtab_entry **entries, size_t n)
{
    uint8_t blob[SERVICE_STATE_MAX];
    struct agp_batch batch;
    struct ofpbuf buf;

    ofpbuf_init(&buf, 4096);
    for (size_t i = 0; i < n || !buf.size; ) {
        agp_batch_begin(&batch, &buf, 0, ag->instance, ++p->seq);
        for (; i < n; i++) {
            struct agp_record rec;

            record_from_entry(ag, entries[i], blob, &rec);
            if (agp_batch_add(&batch, &buf, &rec) == AGP_E_TOO_LONG) {
                break;
            }
            p->n_records++;
        }
        agp_batch_end(&batch, &buf);
    }
    agpconn_send_buf(p->conn, &buf);
    ofpbuf_uninit(&buf);
}

/* Sends peer 'p' a bulk transfer of every bucket queued for it. */
void
repl_send_bulks(struct agent *ag, struct peer *p)
{
    for (size_t b = 0; b < ag->map.n_buckets; b++) {
        struct streamtab_entry **entries, *e;
        struct agp_msg msg;
        size_t n = 0;

        if (!bitmap_is_set(p->bulk, b)) {
            continue;
        }
        bitmap_set0(p->bulk, b);
        if (!agentmap_bulks_to(&ag->map, b, p->idx)) {
            continue;
        }

        memset(&msg, 0, sizeof msg);
        msg.type = AGP_BULK_BEGIN;
        msg.bulk_begin.bucket = b;
        msg.bulk_begin.watermark = p->seq;
        agpconn_send(p->conn, &msg);

        entries = xmalloc(MAX(streamtab_bucket_count(ag->tab, b), 1)
                          * sizeof *entries);
        STREAMTAB_FOR_EACH_IN_BUCKET (e, b, ag->tab) {
            entries[n++] = e;
        }
        if (n) {
            send_entries(ag, p, entries, n);
        }
        free(entries);

        msg.type = AGP_BULK_END;
        msg.bulk_end.bucket = b;
        msg.bulk_end.count = n;
        agpconn_send(p->conn, &msg);
    }
}

/* Sends the dirty streams to their buckets' secondaries (and next
 * instances). */
void
repl_flush(struct agent *ag)
{
    static struct streamtab_entry *dirty[AGENT_MAX_DIRTY];
    size_t n = streamtab_take_dirty(ag->tab, dirty, AGENT_MAX_DIRTY);
    struct streamtab_entry **mine;

    if (!n) {
        return;
    }
    /* One pass per peer keeps each peer's records in one batch stream.  A
     * stream that a peer not connected yet should get is dirty again
     * after the pass, for every peer: a second copy of a state is
     * harmless (its version is not newer than the receiver's). */
    mine = xmalloc(n * sizeof *mine);
    for (size_t i = 0; i < ag->map.n_instances; i++) {
        struct peer *p = &ag->peers[i];
        size_t m = 0;

        for (size_t j = 0; j < n; j++) {
            if (agentmap_sends_to(&ag->map, dirty[j]->bucket, i)) {
                mine[m++] = dirty[j];
            }
        }
        if (m && p->up) {
            send_entries(ag, p, mine, m);
        } else if (m) {
            /* Not connected yet: try again next time. */
            for (size_t j = 0; j < m; j++) {
                streamtab_mark_dirty(ag->tab, mine[j]);
            }
            repl_peer_connect(p);
        }
    }
    free(mine);
}

void
repl_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;

    repl_flush(ag);
    if (ag->n_held) {
        agent_release_held(ag, time_msec());
    }
    /* A peer that still needs bulk transfers and is not connected is tried
     * again once its wait is over. */
    for (size_t i = 0; i < ag->map.n_instances; i++) {
        struct peer *p = &ag->peers[i];

        if (!p->conn && bitmap_scan(p->bulk, 1, 0, ag->map.n_buckets)
                        < ag->map.n_buckets) {
            repl_peer_connect(p);
        }
    }
}

/* Outgoing replication connections. */

/* Queues for peer 'p' a bulk transfer of every bucket it is the secondary
 * or the next instance of, ours as primary. */
void
repl_peer_queue_all(struct peer *p)
{
    const struct agentmap *map = &p->agent->map;

    for (size_t b = 0; b < map->n_buckets; b++) {
        if (agentmap_bulks_to(map, b, p->idx)) {
            bitmap_set1(p->bulk, b);
        }
    }
}

static void
peer_connected(struct agpconn *conn OVS_UNUSED, void *p_)
{
    struct peer *p = p_;

    p->up = true;
    p->retry_ms = AGP_RECONNECT_MIN_MS;
    VLOG_INFO("replication to %s: connected",
              agentmap_name(&p->agent->map, p->idx));
    /* An empty batch first tells the receiver who we are. */
    send_entries(p->agent, p, NULL, 0);
    repl_send_bulks(p->agent, p);
}

static void
peer_msg(struct agpconn *conn, const struct agp_msg *msg, void *p_)
{
    struct peer *p = p_;

    if (msg->type == AGP_STATE_ACK) {
        p->acked = MAX(p->acked, msg->state_ack.seq);
        if (p->agent->n_held) {
            agent_release_held(p->agent, time_msec());
        }
    } else if (msg->type == AGP_CLAIM) {
        agent_claim_received(p->agent, msg->claim.bucket,
                       agentmap_name(&p->agent->map, p->idx));
    } else {
        agpconn_close(conn, "unexpected message on replication");
    }
}

static void
peer_closed(struct agpconn *conn, const char *reason, void *p_)
{
    struct peer *p = p_;

    if (p && p->conn == conn) {
        if (p->up) {
            /* A connection that worked: try again at once. */
            VLOG_INFO("replication to %s: %s",
                      agentmap_name(&p->agent->map, p->idx), reason);
            p->retry_at = 0;
        } else {
            /* An attempt that failed: wait, twice as long each time up to
             * the channel's longest wait, and say so at a bounded rate. */
            VLOG_INFO_RL(&rl, "replication to %s: %s; next attempt in %d ms",
                         agentmap_name(&p->agent->map, p->idx), reason,
                         p->retry_ms);
            p->retry_at = time_msec() + p->retry_ms;
            p->retry_ms = MIN(p->retry_ms * 2, AGP_RECONNECT_MAX_MS);
        }
        p->conn = NULL;
        p->up = false;
        /* A new connection starts with a bulk of every bucket. */
        repl_peer_queue_all(p);
    }
}

static const struct agpconn_cbs peer_cbs = {
    .connected = peer_connected,
    .msg = peer_msg,
    .closed = peer_closed,
};

/* Starts connecting to 'p' unless it is connected or connecting, or its
 * last attempt failed too recently. */
void
repl_peer_connect(struct peer *p)
{
    struct agent *ag = p->agent;
    struct sockaddr_in remote, local;
    struct agpconn_target t;
    char *name;

    if (p->conn || !p->addr || !p->port || time_msec() < p->retry_at) {
        return;
    }
    memset(&remote, 0, sizeof remote);
    remote.sin_family = AF_INET;
    remote.sin_addr.s_addr = htonl(p->addr);
    remote.sin_port = htons(p->port);
    /* Without TLS the receiver knows us by our replication address, so
     * the connection comes from it. */
    memset(&local, 0, sizeof local);
    local.sin_family = AF_INET;
    local.sin_addr.s_addr = htonl(ag->repl_addr);
    memset(&t, 0, sizeof t);
    t.remote = (struct sockaddr *) &remote;
    t.remote_len = sizeof remote;
    t.local = ag->repl_tls ? NULL : (struct sockaddr *) &local;
    t.local_len = sizeof local;
    t.tls = ag->repl_tls;
    name = xasprintf("replication to %s", agentmap_name(&ag->map, p->idx));
    p->conn = agpconn_connect(ag->base, &t, name, &peer_cbs, p);
    free(name);
}

/* Replication, secondary side: replrx decides, this carries it out. */

/* An incoming replication connection. */
struct repl_in {
    struct agent *agent;        /* Owner. */
    struct agpconn *conn;       /* The connection. */
    struct replrx_conn *rc;     /* Its receiving state. */
};

/* The replication listener's limits (docs/agent-protocol.md): a primary
 * sends an empty batch as soon as it connects, and each instance of the
 * service has at most one connection to us. */
static const struct connlimit repl_limits = {
    .handshake_ms = AGPCONN_HANDSHAKE_MS,
    .max_pending = 16,
    .max_conns = 64,
    .max_pending_frame = AGPCONN_PENDING_FRAME,
    .max_frame = AGP_MAX_LEN,
    .max_backlog = AGPCONN_MAX_BACKLOG,
};

/* Returns the pool that applies the replication listener's limits to its
 * connections, named 'name'. */
struct agpconn_pool *
repl_pool_create(const char *name)
{
    return agpconn_pool_create(name, &repl_limits);
}

static void
repl_in_msg(struct agpconn *conn, const struct agp_msg *msg, void *in_)
{
    struct repl_in *in = in_;
    struct agent *ag = in->agent;
    struct replrx_result r;

    if (msg->type == AGP_RELEASE) {
        const char *sender = replrx_conn_sender(in->rc);

        if (!sender) {
            agpconn_close(conn, "RELEASE before the first batch");
        } else {
            agent_claim_answered(ag, msg->release.bucket, sender);
        }
        return;
    }
    if (agpconn_is_tls(conn) && !replrx_conn_sender(in->rc)) {
        /* Before the sender names itself: the handshake is over, so the
         * peer's certificate is known. */
        struct sset names = SSET_INITIALIZER(&names);

        agpconn_peer_names(conn, &names);
        replrx_conn_set_cert_names(in->rc, &names);
        sset_destroy(&names);
    }
    replrx_handle(ag->rx, in->rc, msg, time_msec(), &r);
    if (r.sender && r.action != REPLRX_CLOSE) {
        /* The first batch named the sender. */
        agpconn_set_authenticated(conn);
    }
    if (r.superseded) {
        struct repl_in *old = replrx_conn_aux(r.superseded);

        VLOG_INFO("%s: newer connection from %s: closing the older one",
                  agpconn_name(conn), r.sender);
        agpconn_close(old->conn, "superseded by a newer connection from "
                      "its sender");
    }
    switch (r.action) {
    case REPLRX_NOTHING:
        break;

    case REPLRX_ACK: {
        struct agp_msg ack;

        memset(&ack, 0, sizeof ack);
        ack.type = AGP_STATE_ACK;
        ack.state_ack.seq = r.seq;
        agpconn_send(conn, &ack);
        break;
    }

    case REPLRX_BULK_DONE:
    case REPLRX_BULK_FAILED:
        agentmap_set_bulk_from(&ag->map, r.bucket,
                               r.action == REPLRX_BULK_DONE ? r.sender : NULL);
        if (r.action == REPLRX_BULK_FAILED && r.resend) {
            agpconn_close(conn, "bulk transfer incomplete");
        }
        break;

    case REPLRX_CLOSE:
        agpconn_close(conn, r.reason);
        break;
    }
    if (r.answer) {
        /* Our newer states go back to where the older ones came from now,
         * before that side builds on its stale state any further. */
        repl_flush(ag);
    }
}

static void
repl_in_closed(struct agpconn *conn, const char *reason, void *in_)
{
    struct repl_in *in = in_;
    struct agent *in_agent = in->agent;
    char *sender = nullable_xstrdup(replrx_conn_sender(in->rc));

    if (sender) {
        VLOG_INFO("%s: %s", agpconn_name(conn), reason);
    } else {
        /* Never named a sender: one of possibly many, so rate-limited. */
        VLOG_INFO_RL(&rl, "%s: %s", agpconn_name(conn), reason);
    }
    replrx_conn_destroy(in->rc);
    free(in);
    if (sender) {
        /* It will send nothing more: what we claimed from it is ours. */
        agent_claim_partner_closed(in_agent, sender);
        free(sender);
    }
}

static const struct agpconn_cbs repl_in_cbs = {
    .msg = repl_in_msg,
    .closed = repl_in_closed,
};

void
repl_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
               struct sockaddr *sa, int len OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;
    char *peer = netaddr_format(sa);
    char *name = xasprintf("replication from %s:%s",
                           ag->repl_tls ? "ssl" : "tcp", peer);
    struct repl_in *in = xzalloc(sizeof *in);

    in->agent = ag;
    in->conn = agpconn_accept(evconnlistener_get_base(evl), fd, name,
                              ag->repl_pool, ag->repl_tls, &repl_in_cbs, in);
    if (in->conn) {
        uint32_t addr = (sa->sa_family == AF_INET
                         ? ntohl(((struct sockaddr_in *) sa)->sin_addr.s_addr)
                         : 0);

        in->rc = replrx_conn_create(ag->rx, in, addr, ag->repl_tls != NULL);
    } else {
        free(in);
    }
    free(name);
    free(peer);
}

/* Closes every incoming replication connection at exit. */
void
repl_in_destroy_all(struct agent *ag)
{
    struct replrx_conn *rc;

    while ((rc = replrx_first_conn(ag->rx)) != NULL) {
        struct repl_in *in = replrx_conn_aux(rc);

        agpconn_destroy(in->conn);
        replrx_conn_destroy(rc);
        free(in);
    }
}

/* Returns the connection of the replication connection from instance
 * 'name', or NULL if there is none. */
struct agpconn *
repl_conn_from(const struct agent *ag, const char *name)
{
    struct replrx_conn *rc = name ? replrx_find_sender(ag->rx, name) : NULL;

    return rc ? ((struct repl_in *) replrx_conn_aux(rc))->conn : NULL;
}
