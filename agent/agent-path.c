/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* sfmesh-agent's packet path (agent.h): frames from the switch through the
 * service function and back, held for acknowledgments in sync mode or
 * queued for claims, and the claims that decide which buckets this agent
 * processes now. */

#include <config.h>
#include "agent.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include "agentproto.h"
#include "agpconn.h"
#include "bitmap.h"
#include "claim.h"
#include "frameio.h"
#include "liveness.h"
#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "replrx.h"
#include "service.h"
#include "streamtab.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent_path);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);
/* Frames of buckets we are in no role of: their own limit, so that claims'
 * warnings do not hide them. */
static struct vlog_rate_limit outside_rl = VLOG_RATE_LIMIT_INIT(10, 10);


static bool claim_gate(struct agent *, uint32_t bucket, const uint8_t *data,
                       size_t len, long long int now);

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
void
agent_release_held(struct agent *ag, long long int now)
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

void
path_rx_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *ag_)
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


/* Claims: one writer per bucket (claim.h). */


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
                            : repl_conn_from(ag, partner));
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
            /* Held since the frame arrived: as in path_rx_cb(). */
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
void
agent_claim_received(struct agent *ag, uint32_t bucket, const char *from)
{
    if (claim_requested(ag->claim, bucket, from) == CLAIM_GIVE) {
        claim_give(ag, bucket, from);
    }
}

/* Partner 'from' answered our CLAIM of 'bucket'. */
void
agent_claim_answered(struct agent *ag, uint32_t bucket, const char *from)
{
    if (claim_released(ag->claim, bucket, from)) {
        claim_drain(ag, &bucket, 1);
    }
}

/* The replication connection from 'partner' closed. */
void
agent_claim_partner_closed(struct agent *ag, const char *partner)
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

void
path_claim_timer_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
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
void
agent_claim_update_map(struct agent *ag)
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

/* A disruption (see agenthold.h): the agent may have missed updates of any
 * bucket, so it reports none warm until new bulk transfers complete. */
void
path_disrupted_cb(void *ag_)
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

void
path_expire_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;

    streamtab_expire(ag->tab, 10000, time_msec(), NULL, NULL);
}

