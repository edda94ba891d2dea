/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* The reconciler against a scripted switch: what it sends on connect, on
 * changes, on errors and when nothing changed. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <string.h>
#include "byte-order.h"
#include "hash.h"
#include "of-peer.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-util.h"
#include "pipeline.h"
#include "reconcile.h"
#include "tests.h"
#include "util.h"

/* What one rcl_run() sent, by kind. */
struct sent {
    int flow_dumps, group_dumps;
    int bundle_opens, bundle_commits;
    int flow_adds, flow_mods, flow_dels;
    int group_adds, group_mods, group_dels;
    int barriers;
    ovs_be32 flow_dump_xid, group_dump_xid, barrier_xid;
};

static void
collect(struct ofconn *conn, struct sent *s)
{
    struct ofpbuf *b;

    memset(s, 0, sizeof *s);
    while ((b = peer_pop(conn)) != NULL) {
        const struct ofp_header *oh = b->data;
        enum ofptype type;

        CU_ASSERT_EQUAL_FATAL(ofptype_decode(&type, oh), 0);
        if (type == OFPTYPE_FLOW_STATS_REQUEST) {
            s->flow_dumps++;
            s->flow_dump_xid = oh->xid;
        } else if (type == OFPTYPE_GROUP_DESC_STATS_REQUEST) {
            s->group_dumps++;
            s->group_dump_xid = oh->xid;
        } else if (type == OFPTYPE_BARRIER_REQUEST) {
            s->barriers++;
            s->barrier_xid = oh->xid;
        } else if (type == OFPTYPE_BUNDLE_CONTROL) {
            struct ofputil_bundle_ctrl_msg bc;
            CU_ASSERT_EQUAL(ofputil_decode_bundle_ctrl(oh, &bc), 0);
            s->bundle_opens += bc.type == OFPBCT_OPEN_REQUEST;
            s->bundle_commits += bc.type == OFPBCT_COMMIT_REQUEST;
        } else if (type == OFPTYPE_BUNDLE_ADD_MESSAGE) {
            struct ofputil_bundle_add_msg bam;
            enum ofptype inner;

            CU_ASSERT_EQUAL_FATAL(ofputil_decode_bundle_add(oh, &bam,
                                                            &inner), 0);
            if (inner == OFPTYPE_FLOW_MOD) {
                struct ofputil_flow_mod fm;
                uint64_t stub[256];
                struct ofpbuf ofpacts;

                ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
                CU_ASSERT_EQUAL(ofputil_decode_flow_mod(
                                    &fm, bam.msg, OFPUTIL_P_OF15_OXM, NULL,
                                    NULL, &ofpacts, OFPP_MAX, 255), 0);
                s->flow_adds += fm.command == OFPFC_ADD;
                s->flow_mods += fm.command == OFPFC_MODIFY_STRICT;
                s->flow_dels += fm.command == OFPFC_DELETE_STRICT;
                minimatch_destroy(&fm.match);
                ofpbuf_uninit(&ofpacts);
            } else if (inner == OFPTYPE_GROUP_MOD) {
                struct ofputil_group_mod gm;

                CU_ASSERT_EQUAL(ofputil_decode_group_mod(bam.msg, &gm), 0);
                s->group_adds += gm.command == OFPGC11_ADD;
                s->group_mods += gm.command == OFPGC11_MODIFY;
                s->group_dels += gm.command == OFPGC11_DELETE;
                ofputil_uninit_group_mod(&gm);
            }
        }
        ofpbuf_delete(b);
    }
}

static void
add_flow(struct pl_desired *d, uint8_t table, uint16_t prio,
         const char *match, const char *actions)
{
    struct pl_flow *f = xmalloc(sizeof *f);

    f->table_id = table;
    f->priority = prio;
    f->match = xstrdup(match);
    f->actions = xstrdup(actions);
    hmap_insert(&d->flows, &f->hmap_node, hash_string(match, prio));
}

static void
add_group(struct pl_desired *d, uint32_t id, const char *spec)
{
    struct pl_group *g = xmalloc(sizeof *g);

    g->group_id = id;
    g->spec = xasprintf("group_id=%"PRIu32",%s", id, spec);
    hmap_insert(&d->groups, &g->hmap_node, hash_int(id, 0));
}

#define GROUP1 "type=ff,bucket=watch_port:1,actions=set_field:02:00:00:00:00:01->eth_dst,output:1,bucket=watch_port:2,actions=output:2"
#define GROUP2 "type=ff,bucket=watch_port:2,actions=output:2"

/* The desired state used by most tests. */
static void
base_desired(struct pl_desired *d)
{
    pl_desired_init(d);
    add_group(d, 65536, GROUP1);
    add_group(d, 65537, GROUP2);
    add_flow(d, 0, 100, "in_port=3,ip", "goto_table:1");
    add_flow(d, 1, 100, "dl_type=0x894f,nsh_spi=0x64,nsh_si=255,"
             "nsh_c1=0/0xff", "group:65536");
    add_flow(d, 0, 0, "", "drop");
}

/* Answers the dumps in 's' with an empty switch, or with the flows and
 * groups of 'd'. */
static void
answer_dumps(struct ofconn *conn, const struct sent *s,
             const struct pl_desired *d)
{
    struct ofpbuf *req, *b;
    struct ovs_list replies;

    req = ofpraw_alloc_xid(OFPRAW_OFPST11_FLOW_REQUEST, OFP15_VERSION,
                           s->flow_dump_xid, 0);
    ofpmp_init(&replies, req->data);
    ofpbuf_delete(req);
    if (d) {
        const struct pl_flow *f;

        HMAP_FOR_EACH (f, hmap_node, &d->flows) {
            struct ofputil_flow_mod fm;
            struct ofputil_flow_stats fs;
            enum ofputil_protocol usable;
            char *text = xasprintf("table=%d,priority=%d%s%s actions=%s",
                                   f->table_id, f->priority,
                                   f->match[0] ? "," : "", f->match,
                                   f->actions);
            char *error = parse_ofp_flow_mod_str(&fm, text, NULL, NULL,
                                                 OFPFC_ADD, &usable);

            CU_ASSERT_PTR_NULL_FATAL(error);
            memset(&fs, 0, sizeof fs);
            minimatch_expand(&fm.match, &fs.match);
            fs.table_id = f->table_id;
            fs.priority = f->priority;
            fs.ofpacts = fm.ofpacts;
            fs.ofpacts_len = fm.ofpacts_len;
            fs.packet_count = fs.byte_count = 0;
            fs.idle_age = fs.hard_age = -1;
            ofputil_append_flow_stats_reply(&fs, &replies, NULL);
            minimatch_destroy(&fm.match);
            free(CONST_CAST(struct ofpact *, fm.ofpacts));
            free(text);
        }
    }
    LIST_FOR_EACH_POP (b, list_node, &replies) {
        peer_feed(conn, b, 0);
    }

    req = ofputil_encode_group_desc_request(OFP15_VERSION, OFPG_ALL);
    ((struct ofp_header *) req->data)->xid = s->group_dump_xid;
    ofpmp_init(&replies, req->data);
    ofpbuf_delete(req);
    if (d) {
        const struct pl_group *g;

        HMAP_FOR_EACH (g, hmap_node, &d->groups) {
            struct ofputil_group_mod gm;
            struct ofputil_group_desc gd;
            enum ofputil_protocol usable;
            char *error = parse_ofp_group_mod_str(&gm, OFPGC11_ADD, g->spec,
                                                  NULL, NULL, &usable);

            CU_ASSERT_PTR_NULL_FATAL(error);
            /* A switch numbers the buckets. */
            struct ofputil_bucket *bucket;
            uint32_t bucket_id = 0;
            LIST_FOR_EACH (bucket, list_node, &gm.buckets) {
                bucket->bucket_id = bucket_id++;
            }
            memset(&gd, 0, sizeof gd);
            gd.type = gm.type;
            gd.group_id = gm.group_id;
            gd.props = gm.props;
            ofputil_append_group_desc_reply(&gd, &gm.buckets, &replies);
            ofputil_uninit_group_mod(&gm);
        }
    }
    LIST_FOR_EACH_POP (b, list_node, &replies) {
        peer_feed(conn, b, 0);
    }
}

static void
answer_barrier(struct ofconn *conn, ovs_be32 xid)
{
    struct ofpbuf *req = ofputil_encode_barrier_request(OFP15_VERSION);

    ((struct ofp_header *) req->data)->xid = xid;
    peer_feed(conn, ofpraw_alloc_reply(OFPRAW_OFPT11_BARRIER_REPLY,
                                       req->data, 0), 0);
    ofpbuf_delete(req);
}

/* The switch side of a test: the controller passes dump and bundle replies
 * and errors to the reconciler, as steer.c does. */
struct ctx {
    struct ofconn *conn;        /* The connection. */
    struct rcl *rcl;            /* Its reconciler. */
    int n_errors;               /* Errors seen. */
};

static void
ctx_message(struct ofconn *conn OVS_UNUSED, enum ofptype type,
            const struct ofp_header *oh, void *ctx_)
{
    struct ctx *ctx = ctx_;
    rcl_handle_message(ctx->rcl, type, oh);
}

static void
ctx_error(struct ofconn *conn OVS_UNUSED, enum ofperr error, ovs_be32 xid,
          void *ctx_)
{
    struct ctx *ctx = ctx_;
    ctx->n_errors++;
    rcl_handle_error(ctx->rcl, error, xid);
}

static const struct ofconn_hooks ctx_hooks = {
    .message = ctx_message,
    .error = ctx_error,
};

/* Connects a switch and a reconciler whose desired state is 'd', runs it,
 * answers the dumps with 'installed' (NULL: an empty switch) and stores in
 * 's' what the next run sends. */
static void
start(struct ctx *ctx, const struct pl_desired *d,
      const struct pl_desired *installed, struct sent *s)
{
    struct ofconn_settings settings;
    char *error;

    memset(ctx, 0, sizeof *ctx);
    ofconn_settings_init(&settings);
    ctx->conn = ofconn_create("test", &settings, &ctx_hooks, ctx, 0);
    peer_handshake(ctx->conn, OFP15_VERSION, 1, NULL, 0, 0);
    peer_drain(ctx->conn);
    CU_ASSERT_TRUE_FATAL(ofconn_is_connected(ctx->conn));

    ctx->rcl = rcl_create(ctx->conn);
    error = rcl_set_desired(ctx->rcl, d);
    CU_ASSERT_PTR_NULL(error);
    free(error);

    rcl_run(ctx->rcl, false);
    collect(ctx->conn, s);
    CU_ASSERT_EQUAL(s->flow_dumps, 1);
    CU_ASSERT_EQUAL(s->group_dumps, 1);
    CU_ASSERT_EQUAL(s->bundle_opens, 0);
    CU_ASSERT_FALSE(rcl_is_synced(ctx->rcl));

    answer_dumps(ctx->conn, s, installed);
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx->rcl), "IDLE");
    rcl_run(ctx->rcl, false);
    collect(ctx->conn, s);
}

static void
finish(struct ctx *ctx)
{
    ofconn_destroy(ctx->conn);
    rcl_destroy(ctx->rcl);
}

/* Commits the bundle whose barrier is in 's'. */
static void
commit(struct ctx *ctx, const struct sent *s)
{
    CU_ASSERT_EQUAL(s->barriers, 1);
    answer_barrier(ctx->conn, s->barrier_xid);
}

static void
test_first_sync_from_empty(void)
{
    struct pl_desired d;
    struct ctx ctx;
    struct sent s;

    base_desired(&d);
    start(&ctx, &d, NULL, &s);
    /* One bundle with everything, then a barrier. */
    CU_ASSERT_EQUAL(s.bundle_opens, 1);
    CU_ASSERT_EQUAL(s.bundle_commits, 1);
    CU_ASSERT_EQUAL(s.group_adds, 2);
    CU_ASSERT_EQUAL(s.flow_adds, 3);
    CU_ASSERT_EQUAL(s.flow_dels + s.flow_mods + s.group_mods
                    + s.group_dels, 0);
    CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    CU_ASSERT_EQUAL(rcl_n_installed_flows(ctx.rcl), 3);
    CU_ASSERT_EQUAL(rcl_n_installed_groups(ctx.rcl), 2);
    CU_ASSERT_EQUAL(rcl_get_stats(ctx.rcl)->n_bundles, 1);

    /* Applying the same state again sends nothing. */
    CU_ASSERT_PTR_NULL(rcl_set_desired(ctx.rcl, &d));
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens + s.barriers + s.flow_dumps, 0);
    finish(&ctx);
    pl_desired_destroy(&d);
}

static void
test_restart_against_programmed_switch(void)
{
    struct pl_desired d;
    struct ctx ctx;
    struct sent s;

    /* The switch already holds exactly the desired state: nothing at all
     * is sent after the dumps. */
    base_desired(&d);
    start(&ctx, &d, &d, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 0);
    CU_ASSERT_EQUAL(s.barriers, 0);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    finish(&ctx);
    pl_desired_destroy(&d);
}

static void
test_stale_state_replaced(void)
{
    struct pl_desired d, stale;
    struct ctx ctx;
    struct sent s;

    /* The switch holds a foreign flow and group, and an old version of one
     * of ours: one bundle removes, modifies and adds. */
    base_desired(&d);
    pl_desired_init(&stale);
    add_group(&stale, 65536, GROUP2);
    add_group(&stale, 7, "type=all,bucket=actions=output:1");
    add_flow(&stale, 0, 100, "in_port=3,ip", "drop");
    add_flow(&stale, 0, 50, "in_port=9", "output:1");
    start(&ctx, &d, &stale, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 1);
    CU_ASSERT_EQUAL(s.group_adds, 1);
    CU_ASSERT_EQUAL(s.group_mods, 1);
    CU_ASSERT_EQUAL(s.group_dels, 1);
    CU_ASSERT_EQUAL(s.flow_adds, 2);
    CU_ASSERT_EQUAL(s.flow_mods, 1);
    CU_ASSERT_EQUAL(s.flow_dels, 1);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    finish(&ctx);
    pl_desired_destroy(&d);
    pl_desired_destroy(&stale);
}

static void
test_diff_only(void)
{
    struct pl_desired d, d2;
    struct ctx ctx;
    struct sent s;

    base_desired(&d);
    start(&ctx, &d, NULL, &s);
    commit(&ctx, &s);

    /* One group changes, one flow goes, one comes, one changes actions. */
    pl_desired_init(&d2);
    add_group(&d2, 65536, GROUP2);
    add_group(&d2, 65537, GROUP2);
    add_flow(&d2, 0, 100, "in_port=3,ip", "goto_table:1");
    add_flow(&d2, 0, 100, "in_port=4,ip", "goto_table:1");
    add_flow(&d2, 0, 0, "", "output:2");
    CU_ASSERT_PTR_NULL(rcl_set_desired(ctx.rcl, &d2));
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 1);
    CU_ASSERT_EQUAL(s.group_mods, 1);
    CU_ASSERT_EQUAL(s.group_adds + s.group_dels, 0);
    CU_ASSERT_EQUAL(s.flow_dels, 1);
    CU_ASSERT_EQUAL(s.flow_adds, 1);
    CU_ASSERT_EQUAL(s.flow_mods, 1);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));

    /* And back: the reverse difference. */
    CU_ASSERT_PTR_NULL(rcl_set_desired(ctx.rcl, &d));
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.group_mods, 1);
    CU_ASSERT_EQUAL(s.flow_dels, 1);
    CU_ASSERT_EQUAL(s.flow_adds, 1);
    CU_ASSERT_EQUAL(s.flow_mods, 1);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    finish(&ctx);
    pl_desired_destroy(&d);
    pl_desired_destroy(&d2);
}

/* Returns why 'rcl' is not in sync, as "sfmesh-ctl switches" shows it,
 * for the caller to free ("" if it knows no reason). */
static char *
problem(const struct rcl *rcl)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    rcl_format_problem(rcl, &s);
    return ds_steal_cstr(&s);
}

/* Asserts that the problem of 'rcl' contains 'expected' ("" for none). */
#define ASSERT_PROBLEM(RCL, EXPECTED)                                   \
    do {                                                                \
        char *p_ = problem(RCL);                                        \
                                                                        \
        if (EXPECTED[0]) {                                              \
            CU_ASSERT_PTR_NOT_NULL(strstr(p_, EXPECTED));               \
        } else {                                                        \
            CU_ASSERT_STRING_EQUAL(p_, "");                             \
        }                                                               \
        free(p_);                                                       \
    } while (0)

/* Feeds the switch's refusal of a bundle: an error, then the barrier
 * reply in 's'. */
static void
fail_bundle(struct ctx *ctx, const struct sent *s)
{
    struct ofpbuf *req;

    CU_ASSERT_EQUAL(s->bundle_opens, 1);
    req = ofpraw_alloc(OFPRAW_OFPT14_BUNDLE_CONTROL, OFP15_VERSION, 0);
    peer_feed(ctx->conn, ofperr_encode_reply(OFPERR_OFPBFC_MSG_FAILED,
                                             req->data), 0);
    ofpbuf_delete(req);
    commit(ctx, s);
}

static void
test_error_resyncs(void)
{
    struct pl_desired d;
    struct ctx ctx;
    struct sent s;

    base_desired(&d);
    start(&ctx, &d, NULL, &s);
    /* The bundle fails: an error, then the barrier reply. */
    fail_bundle(&ctx, &s);
    CU_ASSERT_EQUAL(ctx.n_errors, 1);
    CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "DUMP_NEEDED");
    ASSERT_PROBLEM(ctx.rcl, "the switch replied OFPBFC_MSG_FAILED");
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.flow_dumps, 1);
    CU_ASSERT_EQUAL(s.group_dumps, 1);
    CU_ASSERT_EQUAL(rcl_get_stats(ctx.rcl)->n_bundles, 0);

    /* The switch rolled the bundle back: still empty.  The reconciler is
     * IDLE, with nothing in flight, and yet not in sync, with the error as
     * the reason, until a bundle commits. */
    answer_dumps(ctx.conn, &s, NULL);
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "IDLE");
    CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));
    ASSERT_PROBLEM(ctx.rcl, "OFPBFC_MSG_FAILED");
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.group_adds, 2);
    CU_ASSERT_EQUAL(s.flow_adds, 3);
    CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    ASSERT_PROBLEM(ctx.rcl, "");
    CU_ASSERT_EQUAL(rcl_get_stats(ctx.rcl)->n_bundles, 1);
    finish(&ctx);
    pl_desired_destroy(&d);
}

static void
test_error_not_retried_forever(void)
{
    struct pl_desired d, d2;
    struct ctx ctx;
    struct sent s;

    base_desired(&d);
    start(&ctx, &d, NULL, &s);
    for (int i = 0; i < 3; i++) {
        fail_bundle(&ctx, &s);
        rcl_run(ctx.rcl, false);
        collect(ctx.conn, &s);
        CU_ASSERT_EQUAL(s.flow_dumps, 1);
        answer_dumps(ctx.conn, &s, NULL);
        rcl_run(ctx.rcl, false);
        collect(ctx.conn, &s);
        /* A new try after the first two failures, none after the
         * third. */
        CU_ASSERT_EQUAL(s.bundle_opens, i < 2);
    }
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "IDLE");
    CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));
    ASSERT_PROBLEM(ctx.rcl, "OFPBFC_MSG_FAILED to xid");
    ASSERT_PROBLEM(ctx.rcl, "3 bundles failed in a row: waiting for a "
                   "change, or the next retry");

    CU_ASSERT_TRUE(rcl_is_stalled(ctx.rcl));

    /* The same desired state again changes nothing... */
    CU_ASSERT_PTR_NULL(rcl_set_desired(ctx.rcl, &d));
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 0);


    /* ...a different one is tried, and its success clears the error. */
    base_desired(&d2);
    add_flow(&d2, 0, 100, "in_port=4,ip", "goto_table:1");
    CU_ASSERT_PTR_NULL(rcl_set_desired(ctx.rcl, &d2));
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 1);
    CU_ASSERT_EQUAL(s.flow_adds, 4);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    ASSERT_PROBLEM(ctx.rcl, "");
    finish(&ctx);
    pl_desired_destroy(&d);
    pl_desired_destroy(&d2);
}

/* A reconciler that gave up tries again when the policy says so, and a
 * bundle the switch now takes clears the error. */
static void
test_error_retry(void)
{
    struct pl_desired d;
    struct ctx ctx;
    struct sent s;

    base_desired(&d);
    start(&ctx, &d, NULL, &s);
    for (int i = 0; i < 3; i++) {
        fail_bundle(&ctx, &s);
        rcl_run(ctx.rcl, false);
        collect(ctx.conn, &s);
        answer_dumps(ctx.conn, &s, NULL);
        rcl_run(ctx.rcl, false);
        collect(ctx.conn, &s);
    }
    CU_ASSERT_TRUE(rcl_is_stalled(ctx.rcl));

    rcl_retry(ctx.rcl);
    CU_ASSERT_FALSE(rcl_is_stalled(ctx.rcl));
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.flow_dumps, 1);
    answer_dumps(ctx.conn, &s, NULL);
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 1);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    ASSERT_PROBLEM(ctx.rcl, "");

    /* A retry of one that did not give up does nothing. */
    rcl_retry(ctx.rcl);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    finish(&ctx);
    pl_desired_destroy(&d);
}

static void
test_backlog_defers(void)
{
    struct pl_desired d, d2;
    struct ctx ctx;
    struct sent s;

    base_desired(&d);
    start(&ctx, &d, NULL, &s);
    commit(&ctx, &s);

    pl_desired_init(&d2);
    add_flow(&d2, 0, 0, "", "drop");
    CU_ASSERT_PTR_NULL(rcl_set_desired(ctx.rcl, &d2));
    rcl_run(ctx.rcl, true);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 0);
    CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));
    /* Deferred, not lost. */
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 1);
    CU_ASSERT_EQUAL(s.group_dels, 2);
    CU_ASSERT_EQUAL(s.flow_dels, 2);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    finish(&ctx);
    pl_desired_destroy(&d);
    pl_desired_destroy(&d2);
}

static void
test_bad_desired_refused(void)
{
    struct pl_desired d, bad;
    struct ctx ctx;
    struct sent s;
    char *error;

    base_desired(&d);
    start(&ctx, &d, NULL, &s);
    pl_desired_init(&bad);
    add_flow(&bad, 0, 1, "no_such_field=1", "drop");
    error = rcl_set_desired(ctx.rcl, &bad);
    CU_ASSERT_PTR_NOT_NULL(error);
    free(error);
    /* The previous desired state stands and is installed, but it is not
     * the pipeline's latest: not in sync, and why. */
    commit(&ctx, &s);
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "IDLE");
    CU_ASSERT_EQUAL(rcl_n_installed_flows(ctx.rcl), 3);
    CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));
    ASSERT_PROBLEM(ctx.rcl, "pipeline does not parse, previous state kept: "
                   "flow \"table=0,priority=1,no_such_field=1");
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 0);

    /* A desired state that parses ends it. */
    CU_ASSERT_PTR_NULL(rcl_set_desired(ctx.rcl, &d));
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    ASSERT_PROBLEM(ctx.rcl, "");
    finish(&ctx);
    pl_desired_destroy(&d);
    pl_desired_destroy(&bad);
}

static const struct test_case reconcile_tests[] = {
    { "first sync from an empty switch, then idempotent",
      test_first_sync_from_empty },
    { "restart against a programmed switch sends nothing",
      test_restart_against_programmed_switch },
    { "stale and foreign state replaced in one bundle",
      test_stale_state_replaced },
    { "only the difference is sent", test_diff_only },
    { "an error reply triggers a resync, not in sync until a commit",
      test_error_resyncs },
    { "a bundle refused three times waits for a change or a retry",
      test_error_not_retried_forever },
    { "one that gave up tries again when asked", test_error_retry },
    { "backlog defers, never loses", test_backlog_defers },
    { "a desired state that does not parse is refused",
      test_bad_desired_refused },
    { NULL, NULL },
};
TEST_SUITE("reconcile", reconcile_tests)
