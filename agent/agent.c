/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* sfmesh-agent: the agent inside a service instance.
 *
 * It receives the NSH frames the switch steers to the instance, runs the
 * service function on each with its stream's state, decrements SI and TTL
 * and returns the frame.  As the primary of a stream's bucket it replicates
 * the stream's state to the bucket's secondary (asynchronously, in batches
 * every 10 ms, sequence-numbered and acknowledged), and hands a bucket's
 * streams over in bulk when the map names a new secondary.  As a secondary
 * it applies the updates and keeps them ready, and reports per bucket
 * whether it holds the primary's state (warm).  It talks to the controller
 * over the agent channel: hello, the service map of every epoch, and a
 * heartbeat every 100 ms. */

#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agentmap.h"
#include "claim.h"
#include "sentinel.h"
#include "openvswitch/list.h"
#include "agentproto.h"
#include "agpconn.h"
#include "bfdsess.h"
#include "bitmap.h"
#include "command-line.h"
#include "connlimit.h"
#include "ctlsock.h"
#include "daemon.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "frameio.h"
#include "liveness.h"
#include "netaddr.h"
#include "nsh.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "random.h"
#include "replrx.h"
#include "service.h"
#include "streamtab.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
/* Frames of buckets we are in no role of: their own limit, so that claims'
 * warnings do not hide them. */
static struct vlog_rate_limit outside_rl = VLOG_RATE_LIMIT_INIT(10, 10);

#define AGENT_BATCH 32              /* Frames per receive call. */
#define AGENT_HEARTBEAT_MS 100      /* Heartbeat period. */
#define AGENT_REPL_MS 10            /* Replication flush period. */
#define AGENT_MAX_DIRTY 4096        /* Records taken per flush. */
#define AGENT_TABLE_CAPACITY 1000000
#define AGENT_MAX_HELD 1024         /* Frames held for acks (sync mode). */
#define AGENT_HELD_SLOT 2048        /* Largest frame that can be held. */
#define AGENT_HOLD_MS 100           /* Longest a frame waits for an ack. */
#define AGENT_BFD_MIN_RX_MS 100     /* Default --bfd-min-rx. */
#define AGENT_CLAIM_WAIT_MS 10      /* Default --claim-wait. */
#define AGENT_MAX_QUEUED 4096       /* Frames queued for claims. */
#define AGENT_NO_BUCKET UINT32_MAX  /* A frame without stream state. */

/* A frame held until the secondary acknowledges its stream's state. */
struct held_frame {
    bool used;                  /* Slot in use. */
    int peer;                   /* The secondary's index. */
    uint64_t seq;               /* Released once 'peer' acked this. */
    long long int since;        /* When it was held. */
    uint16_t len;               /* Frame length. */
    uint8_t data[AGENT_HELD_SLOT]; /* The frame, ready to send. */
};

/* A frame queued until its bucket is ours (see claim.h). */
struct queued_frame {
    struct ovs_list list_node;  /* In 'agent->queued'. */
    uint32_t bucket;            /* Its bucket. */
    size_t len;                 /* Frame length. */
    uint8_t data[];             /* The frame, as received. */
};

/* A replication peer: another instance of the service, by map index. */
struct peer {
    struct agent *agent;        /* Owner. */
    int idx;                    /* Index in the map's instances. */
    struct agpconn *conn;       /* Outgoing replication connection. */
    bool up;                    /* Connected. */
    int retry_ms;               /* Wait after the next failed attempt. */
    long long int retry_at;     /* No attempt before this time. */
    uint32_t addr;              /* Its replication address. */
    uint16_t port;              /* Its replication port. */
    uint64_t seq;               /* Last batch sequence number sent. */
    uint64_t acked;             /* Last acknowledged. */
    uint64_t n_records;         /* Records sent. */
    unsigned long *bulk;        /* Buckets waiting for a bulk transfer. */
};

struct agent {
    struct event_base *base;    /* Event loop. */
    char *instance;             /* Our instance name. */
    const struct service_class *svc; /* The service function. */
    void *svc_data;             /* Its private data. */
    struct streamtab *tab;      /* Stream states. */
    struct frameio *fio;        /* NSH frames in and out. */
    struct event *rx_ev;        /* Frames to read. */
    bool replicate;             /* Replication on. */
    bool sync;                  /* Hold frames until their state is acked. */
    struct held_frame *held;    /* AGENT_MAX_HELD slots, in sync mode. */
    size_t n_held;              /* Slots in use. */
    uint64_t n_held_total, n_hold_timeouts, n_hold_overflow;

    struct sockaddr_storage ctl_ss; /* The controller. */
    socklen_t ctl_len;
    char *ctl_name;
    struct agpconn *chan;       /* The agent channel, or NULL. */
    bool chan_ready;            /* The controller accepted our hello. */
    struct event *reconnect_ev; /* Reconnects the channel. */
    int reconnect_ms;           /* Delay before the next attempt. */

    struct evconnlistener *repl_listener; /* Replication from primaries. */
    struct agpconn_pool *repl_pool; /* Limits its connections. */
    uint32_t repl_addr;         /* Our replication address. */
    uint16_t repl_port;         /* Our replication port. */
    struct replrx *rx;          /* Replication from primaries. */

    struct agentmap map;        /* The newest map. */
    struct liveness *live;      /* BFD with the switch, hold-down. */
    struct sentinel *sentinel;  /* Tells the switch when we die. */
    struct peer *peers;         /* Per instance of the map: replication. */

    struct claim *claim;        /* Which buckets we process now. */
    struct ovs_list queued;     /* Contains "struct queued_frame"s. */
    size_t n_queued;            /* Frames in 'queued'. */
    uint64_t n_queued_total, n_queue_overflow, n_queue_dropped;
    long long int claim_wait;   /* --claim-wait, in ms. */
    struct event *claim_ev;     /* Ends CLAIMs nobody answers. */
    uint64_t n_held_dropped;    /* Held frames dropped at a disruption. */

    /* Counters. */
    uint64_t n_received, n_returned, n_malformed, n_dropped_service;
    uint64_t n_outside;         /* Frames dropped: of buckets we are in no
                                 * role of (primary, secondary, next). */
    uint64_t n_table_full;
    uint64_t nsh_errors[NSH_N_ERRORS]; /* Malformed frames by reason. */

    struct event *hb_ev, *repl_ev, *expire_ev; /* Timers. */
    struct event *signals[3];   /* SIGTERM, SIGINT, SIGHUP. */
    struct ctlsock *ctl;        /* Control socket. */
};

static void channel_connect(struct agent *);
static void peer_connect(struct peer *);
static bool claim_gate(struct agent *, uint32_t bucket, const uint8_t *data,
                       size_t len, long long int now);
static void claim_received(struct agent *, uint32_t bucket, const char *from);
static void claim_answered(struct agent *, uint32_t bucket, const char *from);
static void claim_partner_closed(struct agent *, const char *partner);

/* The packet path. */

/* Parses the frame of 'len' bytes at 'data' into '*nf', and stores in
 * '*bucket' the bucket of an IPv4 frame (the frames with stream state),
 * AGENT_NO_BUCKET for any other.  Returns false, counting it, if the frame
 * is malformed. */
static bool
parse_frame(struct agent *ag, const uint8_t *data, size_t len,
            struct nsh_frame *nf, uint32_t *bucket)
{
    enum nsh_error error = nsh_parse(data, len, nf);

    if (error) {
        ag->n_malformed++;
        ag->nsh_errors[error < NSH_N_ERRORS ? error : 0]++;
        VLOG_DBG_RL(&rl, "malformed frame dropped: %s",
                    nsh_error_name(error));
        return false;
    }
    *bucket = (nf->ip_version == 4 && nf->l3_ofs
               ? nsh_bucket(nf, ag->map.n_buckets ? ag->map.n_buckets : 1)
               : AGENT_NO_BUCKET);
    return true;
}

/* Processes the frame at 'data', parsed into 'nf', of 'bucket'; returns
 * true if it is to be sent back. */
static bool
process_frame(struct agent *ag, uint8_t *data, const struct nsh_frame *nf,
              uint32_t bucket, long long int now, int *hold_peer)
{
    struct streamtab_entry *e = NULL;
    struct streamtab_key key;
    struct service_pkt pkt;
    enum service_verdict verdict;
    uint64_t scratch[SERVICE_STATE_MAX / 8];
    bool changed = false, is_new;
    void *state;

    *hold_peer = -1;
    if (bucket != AGENT_NO_BUCKET) {
        ovs_be32 src, dst;

        memcpy(&src, &nf->ip_src.s6_addr[12], 4);
        memcpy(&dst, &nf->ip_dst.s6_addr[12], 4);
        memset(&pkt, 0, sizeof pkt);
        pkt.lo_to_hi = streamtab_key_init(&key, src, dst, nf->src_port,
                                          nf->dst_port, nf->ip_proto);
        pkt.proto = nf->ip_proto;
        pkt.tcp_flags = nf->tcp_flags;
        pkt.l4_len = MIN(nf->payload_len, UINT16_MAX);
        pkt.ip_len = MIN(nf->l3_len, UINT16_MAX);

        e = streamtab_lookup(ag->tab, &key);
        is_new = !e;
        if (is_new) {
            e = streamtab_insert(ag->tab, &key, bucket, now);
        }
        if (e) {
            state = e->state;
        } else {
            memset(scratch, 0, ag->svc->state_size);
            state = scratch;
        }
        verdict = ag->svc->process(ag->svc_data, &pkt, state, is_new, now,
                                   &changed);
        if (!e && changed) {
            ag->n_table_full++;
            verdict = SERVICE_DROP;
        } else if (e && is_new && !changed) {
            streamtab_remove(ag->tab, e);
            e = NULL;
        }
        if (e && changed) {
            struct agentmap_send send;

            agentmap_send_rule(&ag->map, e->bucket, &send);
            e->last_seen = now;
            streamtab_note_change(e, send.epoch);
            if (ag->replicate && (send.to >= 0 || send.next >= 0)) {
                streamtab_mark_dirty(ag->tab, e);
                /* Only the secondary's acknowledgement is waited for; a
                 * bucket may have a next instance and no secondary. */
                if (ag->sync && send.as_primary && send.to >= 0
                    && ag->peers[send.to].up) {
                    *hold_peer = send.to;
                }
            }
        }
        if (verdict == SERVICE_DROP) {
            ag->n_dropped_service++;
            return false;
        }
    }

    if (nsh_forward(data, nf, (const struct eth_addr *)
                    frameio_mac(ag->fio))) {
        ag->n_malformed++;
        return false;
    }
    return true;
}

static void repl_flush(struct agent *);

static void
send_frame(struct agent *ag, const uint8_t *data, size_t len)
{
    memcpy(frameio_tx_slot(ag->fio), data, len);
    frameio_tx_commit(ag->fio, len);
    ag->n_returned++;
}

/* Holds the frame of 'len' bytes at 'data' until secondary 'peer'
 * acknowledges the state its stream has now.  Returns false if it cannot
 * be held (too large, or no free slot): the caller sends it at once. */
static bool
hold_frame(struct agent *ag, const uint8_t *data, size_t len, int peer,
           long long int now)
{
    if (len > AGENT_HELD_SLOT || ag->n_held >= AGENT_MAX_HELD) {
        ag->n_hold_overflow++;
        return false;
    }
    for (size_t i = 0; i < AGENT_MAX_HELD; i++) {
        struct held_frame *h = &ag->held[i];

        if (!h->used) {
            h->used = true;
            h->peer = peer;
            h->seq = 0;         /* Set once the batch is numbered. */
            h->since = now;
            h->len = len;
            memcpy(h->data, data, len);
            ag->n_held++;
            ag->n_held_total++;
            return true;
        }
    }
    return false;
}

/* Sends the held frames whose state was acknowledged, and those held too
 * long (a secondary that does not answer must not stop traffic). */
static void
release_held(struct agent *ag, long long int now)
{
    bool sent = false;

    for (size_t i = 0; ag->n_held && i < AGENT_MAX_HELD; i++) {
        struct held_frame *h = &ag->held[i];
        bool acked, late;

        if (!h->used) {
            continue;
        }
        acked = h->seq && h->peer < (int) ag->map.n_instances
                && ag->peers[h->peer].acked >= h->seq;
        late = now - h->since >= AGENT_HOLD_MS;
        if (acked || late || h->peer >= (int) ag->map.n_instances) {
            ag->n_hold_timeouts += !acked;
            send_frame(ag, h->data, h->len);
            h->used = false;
            ag->n_held--;
            sent = true;
        }
    }
    if (sent) {
        frameio_flush(ag->fio);
    }
}

/* Sync mode, after a batch of frames of which some were held: their
 * states go out now, and the frames follow the acknowledgements. */
static void
after_batch(struct agent *ag, bool any_held)
{
    if (any_held) {
        repl_flush(ag);
        for (size_t i = 0; i < AGENT_MAX_HELD; i++) {
            struct held_frame *h = &ag->held[i];
            if (h->used && !h->seq) {
                h->seq = ag->peers[h->peer].seq;
            }
        }
    }
    frameio_flush(ag->fio);
}

/* Handles the frame of 'len' bytes at 'data', received at 'now': processes
 * it and sends it back, holds it (sync mode), or queues it until its
 * bucket is ours.  Sets '*any_held' if it was held. */
static void
handle_frame(struct agent *ag, uint8_t *data, size_t len, long long int now,
             bool *any_held)
{
    struct nsh_frame nf;
    uint32_t bucket;
    int hold_peer;

    if (!parse_frame(ag, data, len, &nf, &bucket)) {
        return;
    }
    if (bucket != AGENT_NO_BUCKET && !claim_governs(ag->claim, bucket)) {
        /* Our map names us in no role of the bucket: the switch is behind
         * it, its groups still pointing here while the bundle that moves
         * the bucket is on its way (a released instance that came live
         * again, an old secondary whose successor is warm).  Processing
         * the frame from what we hold would start a second history of its
         * streams beside that of the instance that serves the bucket, and
         * versions would later keep only one of the two: updates of frames
         * already delivered would be lost.  (The switch is seldom ahead:
         * a bucket reaches an instance as its secondary or its next one
         * before it reaches it as its primary, except when both of the
         * bucket's instances fail at once; the frames lost then are those
         * of the moment the map takes to arrive.) */
        ag->n_outside++;
        VLOG_INFO_RL(&outside_rl, "frame of bucket %"PRIu32" dropped: map "
                     "epoch %"PRIu64" names us in no role of it (%"PRIu64
                     " such frames so far)", bucket, ag->map.epoch,
                     ag->n_outside);
        return;
    } else if (bucket != AGENT_NO_BUCKET && !claim_owns(ag->claim, bucket)
               && !claim_gate(ag, bucket, data, len, now)) {
        return;
    }
    if (!process_frame(ag, data, &nf, bucket, now, &hold_peer)) {
        return;
    }
    if (hold_peer >= 0 && hold_frame(ag, data, len, hold_peer, now)) {
        *any_held = true;
        return;
    }
    send_frame(ag, data, len);
}

static void
rx_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;
    long long int now = time_msec();
    struct frameio_frame *frames;
    size_t n;

    /* A bounded number of batches per turn, so timers and the channel are
     * served too. */
    for (int round = 0; round < 8; round++) {
        n = frameio_recv(ag->fio, &frames);
        if (!n) {
            break;
        }
        if (liveness_check(ag->live, now)) {
            /* Not fit to serve (see agenthold.h): whatever reaches us was
             * meant for an instance with current state. */
            ag->n_received += n;
            liveness_count_dropped(ag->live, n, now);
            continue;
        }
        bool any_held = false;

        for (size_t i = 0; i < n; i++) {
            ag->n_received++;
            handle_frame(ag, frames[i].data, frames[i].len, now, &any_held);
        }
        after_batch(ag, any_held);
    }
}

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
static void
send_bulks(struct agent *ag, struct peer *p)
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
static void
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
            peer_connect(p);
        }
    }
    free(mine);
}

static void
repl_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;

    repl_flush(ag);
    if (ag->n_held) {
        release_held(ag, time_msec());
    }
    /* A peer that still needs bulk transfers and is not connected is tried
     * again once its wait is over. */
    for (size_t i = 0; i < ag->map.n_instances; i++) {
        struct peer *p = &ag->peers[i];

        if (!p->conn && bitmap_scan(p->bulk, 1, 0, ag->map.n_buckets)
                        < ag->map.n_buckets) {
            peer_connect(p);
        }
    }
}

/* Outgoing replication connections. */

/* Queues for peer 'p' a bulk transfer of every bucket it is the secondary
 * or the next instance of, ours as primary. */
static void
peer_queue_all__(struct peer *p)
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
    send_bulks(p->agent, p);
}

static void
peer_msg(struct agpconn *conn, const struct agp_msg *msg, void *p_)
{
    struct peer *p = p_;

    if (msg->type == AGP_STATE_ACK) {
        p->acked = MAX(p->acked, msg->state_ack.seq);
        if (p->agent->n_held) {
            release_held(p->agent, time_msec());
        }
    } else if (msg->type == AGP_CLAIM) {
        claim_received(p->agent, msg->claim.bucket,
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
        peer_queue_all__(p);
    }
}

static const struct agpconn_cbs peer_cbs = {
    .connected = peer_connected,
    .msg = peer_msg,
    .closed = peer_closed,
};

/* Starts connecting to 'p' unless it is connected or connecting, or its
 * last attempt failed too recently. */
static void
peer_connect(struct peer *p)
{
    struct sockaddr_in sin;
    char *name;

    if (p->conn || !p->addr || !p->port || time_msec() < p->retry_at) {
        return;
    }
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(p->addr);
    sin.sin_port = htons(p->port);
    name = xasprintf("replication to %s",
                     agentmap_name(&p->agent->map, p->idx));
    p->conn = agpconn_connect(p->agent->base, (struct sockaddr *) &sin,
                              sizeof sin, name, &peer_cbs, p);
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
            claim_answered(ag, msg->release.bucket, sender);
        }
        return;
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
        claim_partner_closed(in_agent, sender);
        free(sender);
    }
}

static const struct agpconn_cbs repl_in_cbs = {
    .msg = repl_in_msg,
    .closed = repl_in_closed,
};

static void
repl_accept_cb(struct evconnlistener *evl, evutil_socket_t fd,
               struct sockaddr *sa, int len OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;
    char *peer = netaddr_format(sa);
    char *name = xasprintf("replication from tcp:%s", peer);
    struct repl_in *in = xzalloc(sizeof *in);

    in->agent = ag;
    in->conn = agpconn_accept(evconnlistener_get_base(evl), fd, name,
                              ag->repl_pool, &repl_in_cbs, in);
    if (in->conn) {
        in->rc = replrx_conn_create(ag->rx, in);
    } else {
        free(in);
    }
    free(name);
    free(peer);
}

/* Closes every incoming replication connection at exit. */
static void
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

/* Claims: one writer per bucket (claim.h). */

/* Returns the connection of the replication connection from instance
 * 'name', or NULL if there is none. */
static struct agpconn *
conn_from(const struct agent *ag, const char *name)
{
    struct replrx_conn *rc = name ? replrx_find_sender(ag->rx, name) : NULL;

    return rc ? ((struct repl_in *) replrx_conn_aux(rc))->conn : NULL;
}

/* Arms the timer that ends CLAIMs nobody answers, for the first of them. */
static void
claim_arm(struct agent *ag, long long int now)
{
    long long int next = claim_next_expiry(ag->claim, ag->claim_wait);

    if (next == LLONG_MAX) {
        event_del(ag->claim_ev);
    } else {
        long long int ms = MAX(next - now, 0);

        event_add(ag->claim_ev, &(struct timeval) { ms / 1000,
                                                    ms % 1000 * 1000 });
    }
}

/* A frame of 'bucket', 'len' bytes at 'data', arrived at 'now' while the
 * bucket is not ours.  Returns true if it may be processed now; otherwise
 * it is queued (or dropped if the queue is full), and a CLAIM goes to the
 * bucket's partner if none is outstanding. */
static bool
claim_gate(struct agent *ag, uint32_t bucket, const uint8_t *data,
           size_t len, long long int now)
{
    const char *partner = claim_partner(ag->claim, bucket);
    /* The connection is looked up only when a CLAIM may be sent. */
    struct agpconn *conn = (claim_is_waiting(ag->claim, bucket) ? NULL
                            : conn_from(ag, partner));
    struct queued_frame *q;

    switch (claim_frame(ag->claim, bucket, conn != NULL, now)) {
    case CLAIM_PROCESS:
        return true;

    case CLAIM_ASK: {
        struct agp_msg msg;

        memset(&msg, 0, sizeof msg);
        msg.type = AGP_CLAIM;
        msg.claim.bucket = bucket;
        agpconn_send(conn, &msg);
        VLOG_DBG("bucket %"PRIu32": frames reached us, claiming it from %s",
                 bucket, partner);
        claim_arm(ag, now);
        break;
    }

    case CLAIM_QUEUE:
        break;
    }
    if (ag->n_queued >= AGENT_MAX_QUEUED) {
        ag->n_queue_overflow++;
        return false;
    }
    q = xmalloc(sizeof *q + len);
    q->bucket = bucket;
    q->len = len;
    memcpy(q->data, data, len);
    ovs_list_push_back(&ag->queued, &q->list_node);
    ag->n_queued++;
    ag->n_queued_total++;
    return false;
}

/* Gives up 'bucket' to instance 'to', which claimed it: every change not
 * yet replicated goes out first, then RELEASE, on the same connection. */
static void
claim_give(struct agent *ag, uint32_t bucket, const char *to)
{
    for (size_t i = 0; i < ag->map.n_instances; i++) {
        struct peer *p = &ag->peers[i];

        if (!strcmp(agentmap_name(&ag->map, i), to)) {
            struct agp_msg msg;

            repl_flush(ag);
            if (p->up) {
                memset(&msg, 0, sizeof msg);
                msg.type = AGP_RELEASE;
                msg.release.bucket = bucket;
                agpconn_send(p->conn, &msg);
            }
            return;
        }
    }
}

/* Handles, in their order of arrival, the queued frames whose buckets no
 * CLAIM waits for any more; a frame whose bucket is again not ours is
 * queued again, behind the others of its bucket.  Then answers the CLAIMs
 * of 'buckets' (the 'n' buckets just taken) that were deferred. */
static void
claim_drain(struct agent *ag, const uint32_t *buckets, size_t n)
{
    long long int now = time_msec();
    struct queued_frame *q;
    struct ovs_list ready;
    bool any_held = false, held = liveness_is_held(ag->live);

    ovs_list_init(&ready);
    LIST_FOR_EACH_SAFE (q, list_node, &ag->queued) {
        if (!claim_is_waiting(ag->claim, q->bucket)) {
            ovs_list_remove(&q->list_node);
            ovs_list_push_back(&ready, &q->list_node);
            ag->n_queued--;
        }
    }
    LIST_FOR_EACH_POP (q, list_node, &ready) {
        if (held) {
            /* Held since the frame arrived: as in rx_cb(). */
            ag->n_queue_dropped++;
        } else {
            handle_frame(ag, q->data, q->len, now, &any_held);
        }
        free(q);
    }
    after_batch(ag, any_held);

    for (size_t i = 0; i < n; i++) {
        const char *to = claim_take_deferred(ag->claim, buckets[i]);

        if (to) {
            claim_give(ag, buckets[i], to);
        }
    }
    claim_arm(ag, now);
}

/* Partner 'from' claimed 'bucket' (a CLAIM on our connection to it). */
static void
claim_received(struct agent *ag, uint32_t bucket, const char *from)
{
    if (claim_requested(ag->claim, bucket, from) == CLAIM_GIVE) {
        claim_give(ag, bucket, from);
    }
}

/* Partner 'from' answered our CLAIM of 'bucket'. */
static void
claim_answered(struct agent *ag, uint32_t bucket, const char *from)
{
    if (claim_released(ag->claim, bucket, from)) {
        claim_drain(ag, &bucket, 1);
    }
}

/* The replication connection from 'partner' closed. */
static void
claim_partner_closed(struct agent *ag, const char *partner)
{
    uint32_t *buckets = xmalloc(MAX(ag->map.n_buckets, 1) * sizeof *buckets);
    size_t n = claim_partner_gone(ag->claim, partner, buckets,
                                  ag->map.n_buckets);

    if (n) {
        VLOG_INFO("replication from %s closed: taking the %"PRIuSIZE
                  " buckets claimed from it", partner, n);
        claim_drain(ag, buckets, n);
    }
    free(buckets);
}

static void
claim_timer_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
               void *ag_)
{
    struct agent *ag = ag_;
    uint32_t *buckets = xmalloc(MAX(ag->map.n_buckets, 1) * sizeof *buckets);
    size_t n = claim_expire(ag->claim, time_msec(), ag->claim_wait, buckets,
                            ag->map.n_buckets);

    if (n) {
        VLOG_WARN_RL(&rl, "%"PRIuSIZE" claims unanswered after %lld ms: "
                     "taking the buckets (changes their old instance did "
                     "not send are lost)", n, ag->claim_wait);
    }
    claim_drain(ag, buckets, n);
    free(buckets);
}

/* Tells the claims the newest map's pair of every bucket.  The bucket's
 * next instance counts as in the pair, with the primary as its partner:
 * frames reach it when the switch has made it primary before its map
 * says so (a handoff's swap), and it then claims the bucket from the
 * primary that served it. */
static void
claim_update_map(struct agent *ag)
{
    const struct agentmap *m = &ag->map;

    claim_set_n_buckets(ag->claim, m->n_buckets);
    for (size_t b = 0; b < m->n_buckets; b++) {
        const struct agp_bucket *ab = &m->buckets[b];
        bool primary = m->self >= 0 && ab->primary == m->self;
        bool secondary = m->self >= 0 && ab->secondary == m->self;
        bool next = m->self >= 0 && ab->next == m->self;
        bool in_pair = primary || secondary || next;
        int other = primary ? ab->secondary : ab->primary;

        claim_set_bucket(ag->claim, b,
                         (in_pair && other != AGP_NONE
                          ? agentmap_name(m, other) : NULL),
                         in_pair, primary, agentmap_name(m, ab->next));
    }
    if (ag->n_queued) {
        claim_drain(ag, NULL, 0);
    }
}

/* The service map. */

/* Closes the replication connections to the instances of the map and
 * frees their state. */
static void
peers_free(struct peer *peers, size_t n)
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
    replrx_set_n_buckets(ag->rx, m->n_buckets);

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
                peer_queue_all__(p);
            }
        }
    }
    agentmap_change_destroy(&change);

    /* The connections to instances that left close. */
    peers_free(old, n_old);

    for (size_t i = 0; i < ag->map.n_instances; i++) {
        struct peer *p = &ag->peers[i];

        if (bitmap_scan(p->bulk, 1, 0, ag->map.n_buckets)
            < ag->map.n_buckets) {
            if (p->up) {
                send_bulks(ag, p);
            } else {
                peer_connect(p);
            }
        }
    }
    liveness_map(ag->live, ag->map.epoch, agentmap_n_roles(&ag->map),
                 time_msec());
    claim_update_map(ag);
    VLOG_INFO("map epoch %"PRIu64" applied: %"PRIuSIZE" buckets, we are %s",
              ag->map.epoch, ag->map.n_buckets,
              ag->map.self >= 0 ? "in it" : "not in it");
}

/* A disruption (see agenthold.h): the agent may have missed updates of any
 * bucket, so it reports none warm until new bulk transfers complete. */
static void
disrupted_cb(void *ag_)
{
    struct agent *ag = ag_;
    struct queued_frame *q;

    agentmap_forget_warm(&ag->map);

    /* Frames held for acknowledgements (sync mode) would reach the switch
     * once the link is back, after the bucket's other instance has gone on
     * from the state it has; and queued frames were meant for an instance
     * fit to serve. */
    for (size_t i = 0; ag->n_held && i < AGENT_MAX_HELD; i++) {
        if (ag->held[i].used) {
            ag->held[i].used = false;
            ag->n_held--;
            ag->n_held_dropped++;
        }
    }
    LIST_FOR_EACH_POP (q, list_node, &ag->queued) {
        free(q);
        ag->n_queued--;
        ag->n_queue_dropped++;
    }
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

static void
channel_connect(struct agent *ag)
{
    ag->chan = agpconn_connect(ag->base, (struct sockaddr *) &ag->ctl_ss,
                               ag->ctl_len, ag->ctl_name, &chan_cbs, ag);
}

static void
reconnect_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
             void *ag_)
{
    channel_connect(ag_);
}

static void
heartbeat_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
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

static void
expire_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;

    streamtab_expire(ag->tab, 10000, time_msec(), NULL, NULL);
}

/* Control commands. */

static void
status_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
           const char *argv[] OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;
    const struct frameio_stats *fs = frameio_get_stats(ag->fio);
    struct service_counter counters[16];
    struct ds s = DS_EMPTY_INITIALIZER;
    size_t n_warm = 0, n_secondary = 0, n_primary = 0;
    size_t n_next = 0, n_next_warm = 0;
    const struct replrx_stats *rs;

    for (size_t b = 0; b < ag->map.n_buckets; b++) {
        const struct agp_bucket *bk = &ag->map.buckets[b];

        n_primary += agentmap_is_primary(&ag->map, b);
        if (agentmap_is_secondary(&ag->map, b)) {
            n_secondary++;
            n_warm += agentmap_is_warm(&ag->map, b);
        } else if (ag->map.self >= 0 && bk->next == ag->map.self) {
            n_next++;
            n_next_warm += agentmap_is_warm(&ag->map, b);
        }
    }
    ds_put_format(&s, "instance %s, service %s, replication %s\n",
                  ag->instance, ag->svc->name, ag->replicate ? "on" : "off");
    ds_put_format(&s, "controller %s: %s; map epoch %"PRIu64"\n",
                  ag->ctl_name, ag->chan_ready ? "connected" : "not connected",
                  ag->map.epoch);
    ds_put_format(&s, "buckets: primary %"PRIuSIZE", secondary %"PRIuSIZE
                  " (%"PRIuSIZE" warm), next %"PRIuSIZE" (%"PRIuSIZE
                  " warm)\n", n_primary, n_secondary, n_warm, n_next,
                  n_next_warm);
    liveness_format(ag->live, time_msec(), &s);
    ds_put_format(&s, "streams: %"PRIuSIZE"\n", streamtab_count(ag->tab));
    ds_put_format(&s, "frames: received %"PRIu64", returned %"PRIu64
                  ", malformed %"PRIu64", dropped by service %"PRIu64
                  ", table full %"PRIu64", send errors %"PRIu64
                  ", dropped of buckets not ours %"PRIu64"\n",
                  ag->n_received, ag->n_returned, ag->n_malformed,
                  ag->n_dropped_service, ag->n_table_full, fs->tx_errors,
                  ag->n_outside);
    for (int e = 1; e < NSH_N_ERRORS; e++) {
        if (ag->nsh_errors[e]) {
            ds_put_format(&s, "malformed: %s %"PRIu64"\n",
                          nsh_error_name(e), ag->nsh_errors[e]);
        }
    }
    rs = replrx_get_stats(ag->rx);
    ds_put_format(&s, "replication in: %"PRIu64" states applied, %"PRIu64
                  " duplicate batches, %"PRIu64" gaps, %"PRIu64" not "
                  "applied (table full %"PRIu64"); bulks %"PRIu64" complete, "
                  "%"PRIu64" failed; %"PRIuSIZE" connections from %"PRIuSIZE
                  " senders, %"PRIu64" superseded\n", rs->n_applied,
                  rs->n_dup_batches, rs->n_gaps,
                  rs->n_bad_states + rs->n_table_full, rs->n_table_full,
                  rs->n_bulks, rs->n_bulks_failed, replrx_n_conns(ag->rx),
                  replrx_n_senders(ag->rx), rs->n_superseded);
    ds_put_format(&s, "replication versions: %"PRIu64" stale states dropped"
                  " (%"PRIu64" older than ours, answered with ours), %"
                  PRIu64" states applied from a sender not the bucket's "
                  "primary\n", rs->n_stale, rs->n_answered,
                  rs->n_not_primary);
    if (ag->sync) {
        ds_put_format(&s, "sync: %"PRIu64" frames held, %"PRIuSIZE" now, %"
                      PRIu64" released unacknowledged, %"PRIu64" not held, %"
                      PRIu64" dropped at a disruption\n",
                      ag->n_held_total, ag->n_held, ag->n_hold_timeouts,
                      ag->n_hold_overflow, ag->n_held_dropped);
    }
    claim_format(ag->claim, &s);
    ds_put_format(&s, "claim queue: %"PRIuSIZE" frames now, %"PRIu64
                  " queued, %"PRIu64" dropped (queue full), %"PRIu64
                  " dropped (held); wait %lld ms\n", ag->n_queued,
                  ag->n_queued_total, ag->n_queue_overflow,
                  ag->n_queue_dropped, ag->claim_wait);
    for (size_t i = 0; i < ag->map.n_instances; i++) {
        const struct peer *p = &ag->peers[i];
        if (p->conn || p->seq) {
            ds_put_format(&s, "replication to %s: %s, batch %"PRIu64
                          ", acked %"PRIu64", %"PRIu64" records\n",
                          agentmap_name(&ag->map, i), p->up ? "up" : "down",
                          p->seq, p->acked, p->n_records);
        }
    }
    if (ag->svc->counters) {
        size_t n = ag->svc->counters(ag->svc_data, counters,
                                     ARRAY_SIZE(counters));
        for (size_t i = 0; i < MIN(n, ARRAY_SIZE(counters)); i++) {
            ds_put_format(&s, "%s: %s %"PRIu64"\n", ag->svc->name,
                          counters[i].name, counters[i].value);
        }
    }
    ctlsock_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
streams_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
            const char *argv[] OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;
    const struct streamtab_entry *e;
    struct ds s = DS_EMPTY_INITIALIZER;

    STREAMTAB_FOR_EACH (e, ag->tab) {
        char lo[INET_ADDRSTRLEN], hi[INET_ADDRSTRLEN];

        inet_ntop(AF_INET, &e->key.addr_lo, lo, sizeof lo);
        inet_ntop(AF_INET, &e->key.addr_hi, hi, sizeof hi);
        ds_put_format(&s, "proto %"PRIu8" %s:%"PRIu16" %s:%"PRIu16
                      " bucket %"PRIu32": ", e->key.proto, lo,
                      e->key.port_lo, hi, e->key.port_hi, e->bucket);
        ag->svc->format(e->state, &s);
        ds_put_char(&s, '\n');
    }
    ctlsock_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
exit_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
         const char *argv[] OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;

    ctlsock_reply(conn, "");
    event_base_loopexit(ag->base, NULL);
}

static void
signal_cb(evutil_socket_t signr, short what OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;

    if (signr != SIGHUP) {
        VLOG_INFO("%s received, exiting", signr == SIGTERM ? "SIGTERM"
                  : "SIGINT");
        event_base_loopexit(ag->base, NULL);
    }
}

/* Command line. */

struct agent_options {
    char *instance;             /* --instance. */
    char *service;              /* --service. */
    char *service_args;         /* --service-args. */
    char *iface;                /* --iface. */
    char *controller;           /* --controller=tcp:IP:PORT. */
    char *repl_listen;          /* --repl-listen=ptcp:PORT:IP. */
    bool replicate;             /* --replication=async|sync|off. */
    bool sync;                  /* --replication=sync. */
    char *unixctl;              /* --unixctl. */
    unsigned int claim_wait;    /* --claim-wait. */
    bool sentinel;              /* Not --no-sentinel. */
    struct bfdsess_params bfd;  /* --bfd-min-tx, --bfd-min-rx,
                                 * --bfd-mult. */
};

static void OVS_NO_RETURN
usage(void)
{
    struct ds names = DS_EMPTY_INITIALIZER;

    service_names(&names);
    printf("%s: sfmesh service-instance agent\n"
           "usage: %s [OPTIONS]\n"
           "\nRequired:\n"
           "  --instance=NAME          this instance, as in the controller's "
           "configuration\n"
           "  --controller=tcp:IP:PORT the controller's agent listener\n"
           "  --repl-listen=ptcp:PORT:IP  where other instances send state "
           "(IP is\n"
           "                           announced to them, so not 0.0.0.0)\n"
           "\nOptions:\n"
           "  --service=NAME           service function: %s (default "
           "stateful-fw)\n"
           "  --service-args=ARGS      its options, e.g. "
           "established_timeout=300\n"
           "  --iface=IFACE            the interface NSH frames arrive on "
           "(default eth0)\n"
           "  --replication=MODE       async (default): replicate state "
           "to the\n"
           "                           secondary in batches; sync: also "
           "hold each frame\n"
           "                           until its state is acknowledged; "
           "off\n"
           "  --bfd-min-tx=MS, --bfd-min-rx=MS, --bfd-mult=N\n"
           "                           BFD with the switch on IFACE "
           "(answered whenever\n"
           "                           the switch runs it; the switch's "
           "bfd:min_rx and\n"
           "                           bfd:min_tx govern once larger; "
           "default 1, 100, 3)\n"
           "  --claim-wait=MS          how long frames of a bucket that "
           "moved to us wait\n"
           "                           for its other instance's last "
           "changes (default %d)\n"
           "  --no-sentinel            no process that tells the switch "
           "(BFD AdminDown)\n"
           "                           the moment the agent dies\n"
           "  --unixctl=PATH           control socket (default %s/%s.ctl)\n",
           program_name, program_name, ds_cstr(&names),
           AGENT_CLAIM_WAIT_MS, ovs_rundir(), program_name);
    ds_destroy(&names);
    daemon_usage();
    vlog_usage();
    printf("\nOther options:\n"
           "  -h, --help               display this help message\n"
           "  -V, --version            display version information\n");
    exit(EXIT_SUCCESS);
}

/* Returns 'arg', the argument of option --'name', as a number from 'min'
 * to 'max', or exits with an error. */
static unsigned int
parse_uint__(const char *name, const char *arg, unsigned int min,
             unsigned int max)
{
    unsigned int value;

    if (!str_to_uint(arg, 10, &value) || value < min || value > max) {
        ovs_fatal(0, "--%s: \"%s\" is not a number from %u to %u", name,
                  arg, min, max);
    }
    return value;
}

static void
parse_options(int argc, char *argv[], struct agent_options *o)
{
    enum {
        OPT_INSTANCE = UCHAR_MAX + 1,
        OPT_SERVICE,
        OPT_SERVICE_ARGS,
        OPT_IFACE,
        OPT_CONTROLLER,
        OPT_REPL_LISTEN,
        OPT_REPLICATION,
        OPT_UNIXCTL,
        OPT_BFD_MIN_TX,
        OPT_BFD_MIN_RX,
        OPT_BFD_MULT,
        OPT_CLAIM_WAIT,
        OPT_NO_SENTINEL,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"instance", required_argument, NULL, OPT_INSTANCE},
        {"service", required_argument, NULL, OPT_SERVICE},
        {"service-args", required_argument, NULL, OPT_SERVICE_ARGS},
        {"iface", required_argument, NULL, OPT_IFACE},
        {"controller", required_argument, NULL, OPT_CONTROLLER},
        {"repl-listen", required_argument, NULL, OPT_REPL_LISTEN},
        {"replication", required_argument, NULL, OPT_REPLICATION},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"bfd-min-tx", required_argument, NULL, OPT_BFD_MIN_TX},
        {"bfd-min-rx", required_argument, NULL, OPT_BFD_MIN_RX},
        {"bfd-mult", required_argument, NULL, OPT_BFD_MULT},
        {"claim-wait", required_argument, NULL, OPT_CLAIM_WAIT},
        {"no-sentinel", no_argument, NULL, OPT_NO_SENTINEL},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        DAEMON_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);

    memset(o, 0, sizeof *o);
    o->service = xstrdup("stateful-fw");
    o->iface = xstrdup("eth0");
    o->replicate = true;
    o->claim_wait = AGENT_CLAIM_WAIT_MS;
    o->sentinel = true;
    bfdsess_params_init(&o->bfd);
    /* The switch's bfd:min_rx governs how fast a dead agent is noticed:
     * we send as often as it asks.  We ask the switch for no more than one
     * packet per AGENT_BFD_MIN_RX_MS, so that the delays of its sends on a
     * loaded machine (47 ms late seen, on all its ports at once) do not
     * make us take it for dead: each agent would then hold itself out. */
    o->bfd.desired_min_tx_ms = 1;
    o->bfd.required_min_rx_ms = AGENT_BFD_MIN_RX_MS;
    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
#define STR_OPT(OPT, FIELD) \
        case OPT: free(o->FIELD); o->FIELD = xstrdup(optarg); break;
        STR_OPT(OPT_INSTANCE, instance)
        STR_OPT(OPT_SERVICE, service)
        STR_OPT(OPT_SERVICE_ARGS, service_args)
        STR_OPT(OPT_IFACE, iface)
        STR_OPT(OPT_CONTROLLER, controller)
        STR_OPT(OPT_REPL_LISTEN, repl_listen)
        STR_OPT(OPT_UNIXCTL, unixctl)
#undef STR_OPT
        case OPT_REPLICATION:
            if (!strcmp(optarg, "async") || !strcmp(optarg, "sync")) {
                o->replicate = true;
                o->sync = !strcmp(optarg, "sync");
            } else if (!strcmp(optarg, "off")) {
                o->replicate = false;
            } else {
                ovs_fatal(0, "--replication: \"%s\" is not async, sync or "
                          "off", optarg);
            }
            break;
        case OPT_BFD_MIN_TX:
            o->bfd.desired_min_tx_ms = parse_uint__("bfd-min-tx", optarg, 1,
                                                    60000);
            break;
        case OPT_BFD_MIN_RX:
            o->bfd.required_min_rx_ms = parse_uint__("bfd-min-rx", optarg,
                                                     1, 60000);
            break;
        case OPT_BFD_MULT:
            o->bfd.detect_mult = parse_uint__("bfd-mult", optarg, 1, 255);
            break;
        case OPT_CLAIM_WAIT:
            o->claim_wait = parse_uint__("claim-wait", optarg, 0, 1000);
            break;
        case OPT_NO_SENTINEL:
            o->sentinel = false;
            break;
        case 'h':
            usage();
        case 'V':
            printf("%s (sfmesh) %s\n", program_name, SFMESH_VERSION);
            exit(EXIT_SUCCESS);
        VLOG_OPTION_HANDLERS
        DAEMON_OPTION_HANDLERS
        case '?':
            exit(EXIT_FAILURE);
        default:
            abort();
        }
    }
    free(short_options);
    if (!o->instance || !o->controller || !o->repl_listen) {
        ovs_fatal(0, "--instance, --controller and --repl-listen are "
                  "required; use --help for help");
    }
}

int
main(int argc, char *argv[])
{
    static const int signrs[3] = { SIGTERM, SIGINT, SIGHUP };
    struct agent_options opts;
    struct agent ag;
    struct sockaddr_storage ss;
    socklen_t len;
    char *error, *path;

    set_program_name(argv[0]);
    parse_options(argc, argv, &opts);
    fatal_ignore_sigpipe();
    random_init();

    memset(&ag, 0, sizeof ag);
    ag.instance = opts.instance;
    ag.replicate = opts.replicate;
    ag.sync = opts.sync;
    if (ag.sync) {
        ag.held = xcalloc(AGENT_MAX_HELD, sizeof *ag.held);
    }
    agentmap_init(&ag.map);
    ag.reconnect_ms = AGP_RECONNECT_MIN_MS;
    ag.claim = claim_create();
    ovs_list_init(&ag.queued);
    ag.claim_wait = opts.claim_wait;

    ag.svc = service_find(opts.service);
    if (!ag.svc) {
        struct ds names = DS_EMPTY_INITIALIZER;
        service_names(&names);
        ovs_fatal(0, "--service: no service \"%s\" (known: %s)",
                  opts.service, ds_cstr(&names));
    }
    if (ag.svc->init) {
        error = ag.svc->init(&ag.svc_data, opts.service_args);
        if (error) {
            ovs_fatal(0, "--service-args: %s", error);
        }
    }
    ag.tab = streamtab_create(ag.svc, ag.svc_data, AGENT_TABLE_CAPACITY,
                              random_uint32());
    ag.rx = replrx_create(ag.tab, ag.svc);
    replrx_set_map(ag.rx, &ag.map);

    if (strncmp(opts.controller, "tcp:", 4)
        || netaddr_parse_tcp(opts.controller + 4, &ag.ctl_ss, &ag.ctl_len)) {
        ovs_fatal(0, "--controller: \"%s\" is not tcp:IP:PORT",
                  opts.controller);
    }
    ag.ctl_name = xasprintf("controller %s", opts.controller);
    if (strncmp(opts.repl_listen, "ptcp:", 5)
        || netaddr_parse_ptcp(opts.repl_listen + 5, &ss, &len)
        || ss.ss_family != AF_INET) {
        ovs_fatal(0, "--repl-listen: \"%s\" is not ptcp:PORT:IPv4",
                  opts.repl_listen);
    }

    if (frameio_open(opts.iface, ETH_TYPE_NSH, AGENT_BATCH, &ag.fio,
                     &error)) {
        ovs_fatal(0, "%s", error);
    }

    ag.base = event_base_new();
    ag.repl_listener = evconnlistener_new_bind(
        ag.base, repl_accept_cb, &ag,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        -1, (struct sockaddr *) &ss, len);
    if (!ag.repl_listener) {
        ovs_fatal(errno, "--repl-listen: cannot listen on %s",
                  opts.repl_listen);
    }
    len = sizeof ss;
    getsockname(evconnlistener_get_fd(ag.repl_listener),
                (struct sockaddr *) &ss, &len);
    ag.repl_addr = ntohl(((struct sockaddr_in *) &ss)->sin_addr.s_addr);
    ag.repl_port = ntohs(((struct sockaddr_in *) &ss)->sin_port);
    ag.repl_pool = agpconn_pool_create(opts.repl_listen, &repl_limits);

    path = (opts.unixctl ? xstrdup(opts.unixctl)
            : xasprintf("%s/%s.ctl", ovs_rundir(), program_name));
    ag.ctl = ctlsock_create(ag.base, path, &error);
    if (!ag.ctl) {
        ovs_fatal(0, "%s", error);
    }
    free(path);
    ctlsock_register(ag.ctl, "status", "", 0, 0, status_cmd, &ag);
    ctlsock_register(ag.ctl, "streams", "", 0, 0, streams_cmd, &ag);
    ctlsock_register(ag.ctl, "exit", "", 0, 0, exit_cmd, &ag);

    daemonize_start(false);
    if (event_reinit(ag.base)) {
        ovs_fatal(0, "cannot reinitialize the event loop after fork");
    }
    for (int i = 0; i < 3; i++) {
        ag.signals[i] = evsignal_new(ag.base, signrs[i], signal_cb, &ag);
        event_add(ag.signals[i], NULL);
    }
    ag.rx_ev = event_new(ag.base, frameio_fd(ag.fio), EV_READ | EV_PERSIST,
                         rx_cb, &ag);
    event_add(ag.rx_ev, NULL);
    ag.live = liveness_create(ag.base, opts.iface, &opts.bfd, disrupted_cb,
                              &ag, time_msec(), &error);
    if (!ag.live) {
        ovs_fatal(0, "%s", error);
    }
    if (opts.sentinel) {
        ag.sentinel = sentinel_start(opts.iface, &error);
        if (!ag.sentinel) {
            ovs_fatal(0, "%s", error);
        }
        liveness_set_sentinel(ag.live, ag.sentinel);
    }
    ag.reconnect_ev = evtimer_new(ag.base, reconnect_cb, &ag);
    ag.claim_ev = evtimer_new(ag.base, claim_timer_cb, &ag);
    ag.hb_ev = event_new(ag.base, -1, EV_PERSIST, heartbeat_cb, &ag);
    event_add(ag.hb_ev, &(struct timeval) { 0, AGENT_HEARTBEAT_MS * 1000 });
    ag.repl_ev = event_new(ag.base, -1, EV_PERSIST, repl_cb, &ag);
    event_add(ag.repl_ev, &(struct timeval) { 0, AGENT_REPL_MS * 1000 });
    ag.expire_ev = event_new(ag.base, -1, EV_PERSIST, expire_cb, &ag);
    event_add(ag.expire_ev, &(struct timeval) { 1, 0 });
    channel_connect(&ag);
    daemonize_complete();
    VLOG_INFO("sfmesh-agent %s: instance %s, service %s, interface %s, "
              "replication %s on %s", SFMESH_VERSION, ag.instance,
              ag.svc->name, opts.iface,
              !ag.replicate ? "off" : ag.sync ? "sync" : "async",
              opts.repl_listen);

    event_base_dispatch(ag.base);

    peers_free(ag.peers, ag.map.n_instances);
    agentmap_destroy(&ag.map);
    agpconn_destroy(ag.chan);
    repl_in_destroy_all(&ag);
    replrx_destroy(ag.rx);
    ctlsock_destroy(ag.ctl);
    evconnlistener_free(ag.repl_listener);
    agpconn_pool_destroy(ag.repl_pool);
    for (int i = 0; i < 3; i++) {
        event_free(ag.signals[i]);
    }
    event_free(ag.rx_ev);
    liveness_destroy(ag.live);
    sentinel_destroy(ag.sentinel);
    event_free(ag.reconnect_ev);
    event_free(ag.claim_ev);
    {
        struct queued_frame *q;

        LIST_FOR_EACH_POP (q, list_node, &ag.queued) {
            free(q);
        }
    }
    claim_destroy(ag.claim);
    event_free(ag.hb_ev);
    event_free(ag.repl_ev);
    event_free(ag.expire_ev);
    streamtab_destroy(ag.tab);
    if (ag.svc->destroy) {
        ag.svc->destroy(ag.svc_data);
    }
    frameio_close(ag.fio);
    free(ag.held);
    event_base_free(ag.base);
    free(ag.ctl_name);
    free(opts.instance);
    free(opts.service);
    free(opts.service_args);
    free(opts.iface);
    free(opts.controller);
    free(opts.repl_listen);
    free(opts.unixctl);
    VLOG_INFO("sfmesh-agent stopped");
    return 0;
}
