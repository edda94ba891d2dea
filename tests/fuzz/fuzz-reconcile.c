/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the reconciler (ofctl-app/reconcile.c): what a switch
 * answers to its flow and group dumps and to its bundles, in any order.
 *
 * The reconciler runs on an ofconn that completed its handshake, wired as
 * steer.c wires it (dump and bundle replies and errors passed on, rcl_run()
 * after each), with one of four fixed desired states.  The input:
 *
 *    0  setup         bits 0-1: OpenFlow 1.3, 1.4 or 1.5 (3 is 1.5);
 *                     bits 2-3: the first desired state
 *       operations    one byte each, the low 3 bits saying what (bits 3-4
 *                     are its argument 'k'):
 *                     1  answer the dumps in flight with the flows and
 *                        groups of desired state 'k', as a switch would;
 *                     2  answer the barrier in flight;
 *                     3  make desired state 'k' the desired state;
 *                     4  let 1 + (byte >> 3) seconds pass (ofconn_run());
 *                     0, 5-7  receive the OpenFlow message that follows,
 *                        framed by its header; its xid is replaced by that
 *                        of the flow dump (k = 1), the group dump (2) or the
 *                        barrier (3) in flight, or kept (0).
 *
 * After every operation the target checks what the reconciler sent
 * (everything decodes) against its counters: dumps, bundle adds, modifies
 * and deletes of flows and groups, errors, bundles; that a bundle's changes
 * turn the installed set into the desired set (installed - deletes + adds
 * = desired, for flows and for groups), and that a reconciler in sync holds
 * as many flows and groups as are desired.  And what must follow from
 * well-formed answers, whatever came before:
 *
 *  - Dumps answered with desired state 'k', with no other input since they
 *    were sent: the switch holds 'k'; if 'k' is the desired state, nothing
 *    is sent and the reconciler is in sync.
 *  - The barrier of a bundle answered with no other input since it was
 *    sent: the bundle counts as committed and the switch holds what the
 *    bundle made; if that is still the desired state, the reconciler is in
 *    sync, else a new bundle goes out. */

#include <config.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "flow.h"
#include "hash.h"
#include "ofconn.h"
#include "ofpframe.h"
#include "openflow/openflow.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-parse.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "flowset.h"
#include "reconcile.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_SETS 4

/* The desired states, built once. */
static struct flowset sets[N_SETS];

/* What the reconciler sent, in all. */
struct sent {
    uint64_t flow_dumps, group_dumps; /* Dump requests. */
    uint64_t opens, commits;    /* Bundle open and commit requests. */
    uint64_t barriers;          /* Barrier requests. */
    uint64_t flow_adds, flow_mods, flow_dels;    /* Flow mods in bundles. */
    uint64_t group_adds, group_mods, group_dels; /* Group mods. */
};

/* The switch side. */
struct harness {
    struct ofconn *conn;        /* The connection. */
    struct rcl *rcl;            /* Its reconciler. */
    enum ofp_version version;   /* Negotiated version. */
    long long int now;          /* Current time, ms. */
    int desired;                /* Index of the desired state in 'sets'. */
    uint64_t n_errors;          /* Errors passed to the reconciler. */
    struct sent sent;           /* What the reconciler sent. */
    uint64_t n_bundles;         /* Its n_bundles, at the last check. */

    struct ofpbuf *flow_dump;   /* Last flow dump request, or NULL. */
    struct ofpbuf *group_dump;  /* Last group dump request, or NULL. */
    bool dump_clean;            /* No input since the dumps went out. */
    ovs_be32 barrier_xid;       /* Last barrier request's xid. */
    bool have_barrier;          /* 'barrier_xid' is set. */
    bool commit_clean;          /* No input since the barrier went out. */
    int bundle_set;             /* Desired state the last bundle makes. */
};

static void
add_flow(struct flowset *d, uint8_t table, uint16_t prio,
         const char *match, const char *actions)
{
    char *text = xasprintf("table=%d,priority=%d%s%s actions=%s", table,
                           prio, match[0] ? "," : "", match, actions);

    if (flowset_parse_flow(d, text)) {
        abort();
    }
    free(text);
}

static void
add_group(struct flowset *d, uint32_t id, const char *spec)
{
    char *text = xasprintf("group_id=%"PRIu32",%s", id, spec);

    if (flowset_parse_group(d, text)) {
        abort();
    }
    free(text);
}

/* Builds the desired states: empty; a small one; the pipeline's kind of
 * flows (NSH matches, fast-failover groups); and a variant of the small one
 * that modifies, adds and deletes. */
static void
build_sets(void)
{
    for (int i = 0; i < N_SETS; i++) {
        flowset_init(&sets[i]);
    }

    add_group(&sets[1], 1, "type=ff,bucket=watch_port:1,actions=output:1,"
              "bucket=watch_port:2,actions=output:2");
    add_flow(&sets[1], 0, 100, "in_port=1", "group:1");
    add_flow(&sets[1], 0, 0, "", "drop");

    add_group(&sets[2], 65536, "type=ff,bucket=watch_port:1,actions="
              "set_field:02:00:00:00:00:01->eth_dst,output:1,"
              "bucket=watch_port:2,actions=output:2");
    add_group(&sets[2], 65537, "type=ff,bucket=watch_port:2,"
              "actions=output:2");
    add_flow(&sets[2], 0, 100, "in_port=3,ip", "goto_table:1");
    add_flow(&sets[2], 1, 100, "dl_type=0x894f,nsh_spi=0x64,nsh_si=255,"
             "nsh_c1=0/0xff", "group:65536");
    add_flow(&sets[2], 0, 0, "", "drop");

    add_group(&sets[3], 1, "type=ff,bucket=watch_port:2,actions=output:2");
    add_group(&sets[3], 2, "type=select,bucket=actions=output:1,"
              "bucket=actions=output:2");
    add_flow(&sets[3], 0, 100, "in_port=1", "output:2");
    add_flow(&sets[3], 0, 50, "in_port=2,ip", "goto_table:1");
    add_flow(&sets[3], 1, 0, "", "group:2");
}

/* Feeds message 'b' (freed) to the connection. */
static void
feed(struct harness *h, struct ofpbuf *b)
{
    ofpmsg_update_length(b);
    ofconn_receive(h->conn, b->data, b->size, h->now);
    ofpbuf_delete(b);
}

/* Frees what the connection queued, storing the xid of the last message of
 * type 'want' in '*xidp'. */
static void
drain(struct harness *h, ovs_be32 *xidp, enum ofptype want)
{
    struct ofpbuf *b;

    while ((b = ofconn_pop_tx(h->conn)) != NULL) {
        enum ofptype type;
        if (!ofptype_decode(&type, b->data) && type == want) {
            *xidp = ((const struct ofp_header *) b->data)->xid;
        }
        ofpbuf_delete(b);
    }
}

/* Completes the handshake in 'h->version', with two ports. */
static void
handshake(struct harness *h)
{
    struct ofputil_switch_features f = { .datapath_id = 1, .n_tables = 8 };
    enum ofputil_protocol protocol;
    struct ofputil_phy_port pp;
    struct ovs_list replies;
    struct ofpbuf *req, *b;
    ovs_be32 xid = 0;

    protocol = ofputil_protocol_from_ofp_version(h->version);
    drain(h, &xid, OFPTYPE_HELLO);
    feed(h, ofputil_encode_hello(1u << h->version));
    drain(h, &xid, OFPTYPE_FEATURES_REQUEST);
    feed(h, ofputil_encode_switch_features(&f, protocol, xid));
    drain(h, &xid, OFPTYPE_PORT_DESC_STATS_REQUEST);

    req = ofputil_encode_port_desc_stats_request(h->version, OFPP_ANY);
    ofpmsg_update_length(req);
    ((struct ofp_header *) req->data)->xid = xid;
    ofpmp_init(&replies, req->data);
    for (int i = 1; i <= 2; i++) {
        memset(&pp, 0, sizeof pp);
        pp.port_no = u16_to_ofp(i);
        snprintf(pp.name, sizeof pp.name, "p%d", i);
        pp.state = OFPUTIL_PS_LIVE;
        ofputil_append_port_desc_stats_reply(&pp, &replies);
    }
    ofpbuf_delete(req);
    LIST_FOR_EACH_POP (b, list_node, &replies) {
        feed(h, b);
    }
    drain(h, &xid, OFPTYPE_HELLO);
    if (!ofconn_is_connected(h->conn)) {
        abort();
    }
}

/* Counts the flow or group mod in the bundle add 'oh'. */
static void
count_bundle_add(struct harness *h, const struct ofp_header *oh)
{
    struct ofputil_bundle_add_msg bam;
    enum ofptype inner;

    if (ofputil_decode_bundle_add(oh, &bam, &inner)) {
        abort();
    }
    if (inner == OFPTYPE_FLOW_MOD) {
        struct ofputil_flow_mod fm;
        uint64_t stub[1024 / 8];
        struct ofpbuf ofpacts;

        ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
        if (ofputil_decode_flow_mod(&fm, bam.msg,
                                    ofputil_protocol_from_ofp_version(
                                        h->version),
                                    NULL, NULL, &ofpacts, OFPP_MAX, 255)) {
            abort();
        }
        h->sent.flow_adds += fm.command == OFPFC_ADD;
        h->sent.flow_mods += fm.command == OFPFC_MODIFY_STRICT;
        h->sent.flow_dels += fm.command == OFPFC_DELETE_STRICT;
        minimatch_destroy(&fm.match);
        ofpbuf_uninit(&ofpacts);
    } else if (inner == OFPTYPE_GROUP_MOD) {
        struct ofputil_group_mod gm;

        if (ofputil_decode_group_mod(bam.msg, &gm)) {
            abort();
        }
        h->sent.group_adds += gm.command == OFPGC11_ADD;
        h->sent.group_mods += gm.command == OFPGC11_MODIFY;
        h->sent.group_dels += gm.command == OFPGC11_DELETE;
        ofputil_uninit_group_mod(&gm);
    } else {
        abort();
    }
}

/* Takes in what the reconciler (and the connection) sent. */
static void
collect(struct harness *h)
{
    struct ofpbuf *b;

    while ((b = ofconn_pop_tx(h->conn)) != NULL) {
        const struct ofp_header *oh = b->data;
        struct ofputil_bundle_ctrl_msg bc;
        enum ofptype type;

        if (ofptype_decode(&type, oh)) {
            abort();
        }
        switch (type) {
        case OFPTYPE_FLOW_STATS_REQUEST:
            h->sent.flow_dumps++;
            ofpbuf_delete(h->flow_dump);
            h->flow_dump = b;
            h->dump_clean = true;
            continue;

        case OFPTYPE_GROUP_DESC_STATS_REQUEST:
            h->sent.group_dumps++;
            ofpbuf_delete(h->group_dump);
            h->group_dump = b;
            continue;

        case OFPTYPE_BARRIER_REQUEST:
            h->sent.barriers++;
            h->barrier_xid = oh->xid;
            h->have_barrier = true;
            h->commit_clean = true;
            h->bundle_set = h->desired;
            break;

        case OFPTYPE_BUNDLE_CONTROL:
            if (ofputil_decode_bundle_ctrl(oh, &bc)) {
                abort();
            }
            h->sent.opens += bc.type == OFPBCT_OPEN_REQUEST;
            h->sent.commits += bc.type == OFPBCT_COMMIT_REQUEST;
            break;

        case OFPTYPE_BUNDLE_ADD_MESSAGE:
            count_bundle_add(h, oh);
            break;

        default:
            /* The connection's own: echoes, error replies. */
            break;
        }
        ofpbuf_delete(b);
    }
}

/* Checks the reconciler's counters against what it sent, and the bundle
 * sent since 'before', if any. */
static void
check(struct harness *h, const struct sent *before)
{
    const struct rcl_stats *s = rcl_get_stats(h->rcl);
    const struct sent *n = &h->sent;
    size_t want_flows = hmap_count(&sets[h->desired].flows);
    size_t want_groups = hmap_count(&sets[h->desired].groups);

    if (s->n_dumps != n->flow_dumps || s->n_dumps != n->group_dumps
        || s->n_flow_adds != n->flow_adds || s->n_flow_mods != n->flow_mods
        || s->n_flow_dels != n->flow_dels
        || s->n_group_adds != n->group_adds
        || s->n_group_mods != n->group_mods
        || s->n_group_dels != n->group_dels
        || s->n_errors != h->n_errors
        || n->opens != n->commits || n->opens != n->barriers
        || s->n_bundles > n->commits || s->n_bundles < h->n_bundles
        || !strcmp(rcl_state_name(h->rcl), "UNKNOWN")) {
        abort();
    }
    h->n_bundles = s->n_bundles;

    if (rcl_is_synced(h->rcl)
        && (strcmp(rcl_state_name(h->rcl), "IDLE")
            || rcl_n_installed_flows(h->rcl) != want_flows
            || rcl_n_installed_groups(h->rcl) != want_groups)) {
        abort();
    }

    /* A bundle turns the installed set (which stays until its barrier
     * reply) into the desired one. */
    if (n->opens == before->opens + 1
        && (rcl_n_installed_flows(h->rcl) + (n->flow_adds - before->flow_adds)
            - (n->flow_dels - before->flow_dels) != want_flows
            || rcl_n_installed_groups(h->rcl)
               + (n->group_adds - before->group_adds)
               - (n->group_dels - before->group_dels) != want_groups)) {
        abort();
    }
}

/* Answers the dumps in flight with the flows and groups of 'set'. */
static void
answer_dumps(struct harness *h, int set)
{
    const struct flowset *d = &sets[set];
    const struct flowset_flow *f;
    const struct flowset_group *g;
    struct ovs_list replies;
    struct ofpbuf *b;

    ofpmp_init(&replies, h->flow_dump->data);
    HMAP_FOR_EACH (f, hmap_node, &d->flows) {
        struct ofputil_flow_stats fs;

        memset(&fs, 0, sizeof fs);
        minimatch_expand(&f->match, &fs.match);
        fs.table_id = f->table_id;
        fs.priority = f->priority;
        fs.ofpacts = f->ofpacts;
        fs.ofpacts_len = f->ofpacts_len;
        fs.idle_age = fs.hard_age = -1;
        ofputil_append_flow_stats_reply(&fs, &replies, NULL);
    }
    LIST_FOR_EACH_POP (b, list_node, &replies) {
        feed(h, b);
    }

    ofpmp_init(&replies, h->group_dump->data);
    HMAP_FOR_EACH (g, hmap_node, &d->groups) {
        struct ofputil_group_desc gd;
        struct ofputil_bucket *bucket;
        uint32_t bucket_id = 0;

        memset(&gd, 0, sizeof gd);
        gd.type = g->type;
        gd.group_id = g->group_id;
        gd.props = g->props;
        ovs_list_init(&gd.buckets);
        ofputil_bucket_clone_list(&gd.buckets, &g->buckets, NULL);
        /* A switch numbers the buckets. */
        LIST_FOR_EACH (bucket, list_node, &gd.buckets) {
            bucket->bucket_id = bucket_id++;
        }
        ofputil_append_group_desc_reply(&gd, &gd.buckets, &replies);
        ofputil_bucket_list_destroy(&gd.buckets);
    }
    LIST_FOR_EACH_POP (b, list_node, &replies) {
        feed(h, b);
    }
}

/* Answers the barrier in flight. */
static void
answer_barrier(struct harness *h)
{
    struct ofpbuf *req = ofputil_encode_barrier_request(h->version);

    ((struct ofp_header *) req->data)->xid = h->barrier_xid;
    feed(h, ofpraw_alloc_reply(h->version == OFP10_VERSION
                               ? OFPRAW_OFPT10_BARRIER_REPLY
                               : OFPRAW_OFPT11_BARRIER_REPLY, req->data, 0));
    ofpbuf_delete(req);
}

/* Makes 'set' the desired state. */
static void
set_desired(struct harness *h, int set)
{
    struct flowset copy;

    flowset_init(&copy);
    flowset_clone(&copy, &sets[set]);
    rcl_set_desired(h->rcl, &copy);
    flowset_destroy(&copy);
    h->desired = set;
}

static void
hook_message(struct ofconn *conn OVS_UNUSED, enum ofptype type,
             const struct ofp_header *oh, void *h_)
{
    struct harness *h = h_;

    if (h->rcl && rcl_handle_message(h->rcl, type, oh)) {
        rcl_run(h->rcl, false);
    }
}

static void
hook_error(struct ofconn *conn OVS_UNUSED, enum ofperr error, ovs_be32 xid,
           void *h_)
{
    struct harness *h = h_;

    if (h->rcl) {
        h->n_errors++;
        rcl_handle_error(h->rcl, error, xid);
        rcl_run(h->rcl, false);
    }
}

static const struct ofconn_hooks hooks = {
    .message = hook_message,
    .error = hook_error,
};

/* Runs operation 'op' whose argument is 'k' (answering the dumps with
 * desired state 'k') and checks what must follow. */
static void
op_answer_dumps(struct harness *h, int k)
{
    bool clean = (h->flow_dump && h->dump_clean
                  && !strcmp(rcl_state_name(h->rcl), "DUMPING"));
    uint64_t opens = h->sent.opens;

    answer_dumps(h, k);
    h->dump_clean = false;
    rcl_run(h->rcl, false);
    collect(h);
    if (clean) {
        if (rcl_n_installed_flows(h->rcl) != hmap_count(&sets[k].flows)
            || rcl_n_installed_groups(h->rcl) != hmap_count(&sets[k].groups)
            || (k == h->desired
                && (h->sent.opens != opens || !rcl_is_synced(h->rcl)))) {
            abort();
        }
    }
}

/* Answers the barrier in flight and checks what must follow. */
static void
op_answer_barrier(struct harness *h)
{
    bool clean = (h->have_barrier && h->commit_clean
                  && !strcmp(rcl_state_name(h->rcl), "COMMITTING"));
    uint64_t bundles = rcl_get_stats(h->rcl)->n_bundles;
    uint64_t opens = h->sent.opens;
    int made = h->bundle_set;

    answer_barrier(h);
    h->have_barrier = h->commit_clean = false;
    rcl_run(h->rcl, false);
    collect(h);
    if (clean) {
        bool same = made == h->desired;

        if (rcl_get_stats(h->rcl)->n_bundles != bundles + 1
            || rcl_n_installed_flows(h->rcl) != hmap_count(&sets[made].flows)
            || rcl_n_installed_groups(h->rcl)
               != hmap_count(&sets[made].groups)
            || rcl_is_synced(h->rcl) != same
            || h->sent.opens != opens + !same) {
            abort();
        }
    }
}

/* Receives the message at the start of the 'size' bytes at 'data', with its
 * xid replaced as 'k' says.  Returns its length, or 0 if there is no whole
 * message. */
static size_t
op_receive(struct harness *h, const uint8_t *data, size_t size, int k)
{
    struct ofp_header *oh;
    struct ofpbuf *b;
    size_t len;

    if (ofpframe_check(data, size, &len) != OFPFRAME_COMPLETE) {
        return 0;
    }
    b = ofpbuf_clone_data(data, len);
    oh = b->data;
    if (k == 1 && h->flow_dump) {
        oh->xid = ((const struct ofp_header *) h->flow_dump->data)->xid;
    } else if (k == 2 && h->group_dump) {
        oh->xid = ((const struct ofp_header *) h->group_dump->data)->xid;
    } else if (k == 3 && h->have_barrier) {
        oh->xid = h->barrier_xid;
    }
    h->dump_clean = h->commit_clean = false;
    ofconn_receive(h->conn, b->data, b->size, h->now);
    ofpbuf_delete(b);
    rcl_run(h->rcl, false);
    collect(h);
    return len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum ofp_version versions[] = {
        OFP13_VERSION, OFP14_VERSION, OFP15_VERSION, OFP15_VERSION,
    };
    static bool initialized;
    struct ofconn_settings settings;
    struct harness h;

    if (!initialized) {
        initialized = true;
        vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
        build_sets();
    }
    if (!size) {
        return 0;
    }

    memset(&h, 0, sizeof h);
    h.version = versions[data[0] & 3];
    ofconn_settings_init(&settings);
    h.conn = ofconn_create("fuzz", &settings, &hooks, &h, h.now);
    handshake(&h);
    h.rcl = rcl_create(h.conn);
    set_desired(&h, (data[0] >> 2) & 3);
    rcl_run(h.rcl, false);
    collect(&h);
    check(&h, &h.sent);
    data++;
    size--;

    while (size && !ofconn_is_closed(h.conn)) {
        struct sent before = h.sent;
        int op = data[0] & 7;
        int k = (data[0] >> 3) & 3;
        int seconds = 1 + (data[0] >> 3);

        data++;
        size--;
        switch (op) {
        case 1:
            if (h.flow_dump) {
                op_answer_dumps(&h, k);
            }
            break;

        case 2:
            if (h.have_barrier) {
                op_answer_barrier(&h);
            }
            break;

        case 3:
            set_desired(&h, k);
            rcl_run(h.rcl, false);
            collect(&h);
            break;

        case 4:
            h.now += seconds * 1000;
            h.dump_clean = h.commit_clean = false;
            ofconn_run(h.conn, h.now);
            if (!ofconn_is_closed(h.conn)) {
                rcl_run(h.rcl, false);
            }
            collect(&h);
            break;

        default: {
            size_t len = op_receive(&h, data, size, k);
            if (!len) {
                size = 0;
            }
            data += len;
            size -= len;
            break;
        }
        }
        check(&h, &before);
    }

    ofconn_destroy(h.conn);
    rcl_destroy(h.rcl);
    ofpbuf_delete(h.flow_dump);
    ofpbuf_delete(h.group_dump);
    return 0;
}
