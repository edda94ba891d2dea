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
#include "openvswitch/ofp-connection.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-util.h"
#include "fake-table.h"
#include "flowset.h"
#include "ofconn.h"
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
add_flow(struct flowset *d, uint8_t table, uint16_t prio,
         const char *match, const char *actions)
{
    char *text = xasprintf("table=%d,priority=%d%s%s actions=%s", table,
                           prio, match[0] ? "," : "", match, actions);
    char *error = flowset_parse_flow(d, text);

    CU_ASSERT_PTR_NULL_FATAL(error);
    free(text);
}

static void
add_group(struct flowset *d, uint32_t id, const char *spec)
{
    char *text = xasprintf("group_id=%"PRIu32",%s", id, spec);
    char *error = flowset_parse_group(d, text);

    CU_ASSERT_PTR_NULL_FATAL(error);
    free(text);
}

/* Gives 'rcl' a copy of 'd' as its desired state. */
static void
set_desired(struct rcl *rcl, const struct flowset *d)
{
    struct flowset copy;

    flowset_init(&copy);
    flowset_clone(&copy, d);
    rcl_set_desired(rcl, &copy);
    flowset_destroy(&copy);
}

#define GROUP1 "type=ff,bucket=watch_port:1,actions=set_field:02:00:00:00:00:01->eth_dst,output:1,bucket=watch_port:2,actions=output:2"
#define GROUP2 "type=ff,bucket=watch_port:2,actions=output:2"

/* The desired state used by most tests. */
static void
base_desired(struct flowset *d)
{
    flowset_init(d);
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
             const struct flowset *d)
{
    struct ofpbuf *req, *b;
    struct ofputil_flow_stats_request fsr;
    struct ovs_list replies;
    struct fake_table t;

    fake_table_init(&t);
    if (d) {
        flowset_clone(&t.set, d);
    }
    memset(&fsr, 0, sizeof fsr);
    match_init_catchall(&fsr.match);
    fsr.table_id = 0xff;
    fsr.out_port = OFPP_ANY;
    fsr.out_group = OFPG_ANY;
    req = ofputil_encode_flow_stats_request(&fsr, OFPUTIL_P_OF15_OXM);
    ((struct ofp_header *) req->data)->xid = s->flow_dump_xid;
    ofpmsg_update_length(req);
    fake_table_dump(&t, req->data, &replies);
    ofpbuf_delete(req);
    LIST_FOR_EACH_POP (b, list_node, &replies) {
        peer_feed(conn, b, 0);
    }

    req = ofputil_encode_group_desc_request(OFP15_VERSION, OFPG_ALL);
    ((struct ofp_header *) req->data)->xid = s->group_dump_xid;
    ofpmsg_update_length(req);
    fake_table_dump(&t, req->data, &replies);
    ofpbuf_delete(req);
    LIST_FOR_EACH_POP (b, list_node, &replies) {
        peer_feed(conn, b, 0);
    }
    fake_table_destroy(&t);
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
    int n_role_changed;         /* role_changed() calls. */
    bool no_role_hook;          /* Don't tell the reconciler of them. */
    ovs_be32 role_xid;          /* The role request awaiting its reply. */
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

static void
ctx_role_changed(struct ofconn *conn OVS_UNUSED, void *ctx_)
{
    struct ctx *ctx = ctx_;

    ctx->n_role_changed++;
    if (ctx->rcl && !ctx->no_role_hook) {
        rcl_role_changed(ctx->rcl);
    }
}

static const struct ofconn_hooks ctx_hooks = {
    .message = ctx_message,
    .error = ctx_error,
    .role_changed = ctx_role_changed,
};

/* Connects a switch and a reconciler whose desired state is 'd', runs it,
 * answers the dumps with 'installed' (NULL: an empty switch) and stores in
 * 's' what the next run sends. */
static void
start(struct ctx *ctx, const struct flowset *d,
      const struct flowset *installed, struct sent *s)
{
    struct ofconn_settings settings;

    memset(ctx, 0, sizeof *ctx);
    ofconn_settings_init(&settings);
    ctx->conn = ofconn_create("test", &settings, &ctx_hooks, ctx, 0);
    peer_handshake(ctx->conn, OFP15_VERSION, 1, NULL, 0, 0);
    peer_drain(ctx->conn);
    CU_ASSERT_TRUE_FATAL(ofconn_is_connected(ctx->conn));

    ctx->rcl = rcl_create(ctx->conn);
    set_desired(ctx->rcl, d);

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
    struct flowset d;
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
    set_desired(ctx.rcl, &d);
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens + s.barriers + s.flow_dumps, 0);
    finish(&ctx);
    flowset_destroy(&d);
}

static void
test_restart_against_programmed_switch(void)
{
    struct flowset d;
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
    flowset_destroy(&d);
}

static void
test_stale_state_replaced(void)
{
    struct flowset d, stale;
    struct ctx ctx;
    struct sent s;

    /* The switch holds a foreign flow and group, and an old version of one
     * of ours: one bundle removes, modifies and adds. */
    base_desired(&d);
    flowset_init(&stale);
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
    flowset_destroy(&d);
    flowset_destroy(&stale);
}

static void
test_diff_only(void)
{
    struct flowset d, d2;
    struct ctx ctx;
    struct sent s;

    base_desired(&d);
    start(&ctx, &d, NULL, &s);
    commit(&ctx, &s);

    /* One group changes, one flow goes, one comes, one changes actions. */
    flowset_init(&d2);
    add_group(&d2, 65536, GROUP2);
    add_group(&d2, 65537, GROUP2);
    add_flow(&d2, 0, 100, "in_port=3,ip", "goto_table:1");
    add_flow(&d2, 0, 100, "in_port=4,ip", "goto_table:1");
    add_flow(&d2, 0, 0, "", "output:2");
    set_desired(ctx.rcl, &d2);
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
    set_desired(ctx.rcl, &d);
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.group_mods, 1);
    CU_ASSERT_EQUAL(s.flow_dels, 1);
    CU_ASSERT_EQUAL(s.flow_adds, 1);
    CU_ASSERT_EQUAL(s.flow_mods, 1);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    finish(&ctx);
    flowset_destroy(&d);
    flowset_destroy(&d2);
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
    struct flowset d;
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
    flowset_destroy(&d);
}

static void
test_error_not_retried_forever(void)
{
    struct flowset d, d2;
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
    set_desired(ctx.rcl, &d);
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 0);


    /* ...a different one is tried, and its success clears the error. */
    base_desired(&d2);
    add_flow(&d2, 0, 100, "in_port=4,ip", "goto_table:1");
    set_desired(ctx.rcl, &d2);
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 1);
    CU_ASSERT_EQUAL(s.flow_adds, 4);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    ASSERT_PROBLEM(ctx.rcl, "");
    finish(&ctx);
    flowset_destroy(&d);
    flowset_destroy(&d2);
}

/* A reconciler that gave up tries again when the policy says so, and a
 * bundle the switch now takes clears the error. */
static void
test_error_retry(void)
{
    struct flowset d;
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
    flowset_destroy(&d);
}

static void
test_backlog_defers(void)
{
    struct flowset d, d2;
    struct ctx ctx;
    struct sent s;

    base_desired(&d);
    start(&ctx, &d, NULL, &s);
    commit(&ctx, &s);

    flowset_init(&d2);
    add_flow(&d2, 0, 0, "", "drop");
    set_desired(ctx.rcl, &d2);
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
    flowset_destroy(&d);
    flowset_destroy(&d2);
}

/* Plays the switch 't' for message 'oh' from the reconciler of 'ctx' (see
 * drive_turn()). */
static void
play(struct ctx *ctx, struct fake_table *t, const struct ofp_header *oh,
     int *n_adds, int refuse_add)
{
    enum ofptype type;

    CU_ASSERT_EQUAL_FATAL(ofptype_decode(&type, oh), 0);
    if (type == OFPTYPE_FLOW_STATS_REQUEST
        || type == OFPTYPE_GROUP_DESC_STATS_REQUEST) {
        struct ovs_list replies;
        struct ofpbuf *r;

        fake_table_dump(t, oh, &replies);
        LIST_FOR_EACH_POP (r, list_node, &replies) {
            peer_feed(ctx->conn, r, 0);
        }
    } else if (type == OFPTYPE_BARRIER_REQUEST) {
        answer_barrier(ctx->conn, oh->xid);
    } else if (type == OFPTYPE_BUNDLE_ADD_MESSAGE
               && ++*n_adds == refuse_add) {
        peer_feed(ctx->conn,
                  ofperr_encode_reply(OFPERR_OFPBFC_MSG_BAD_LEN, oh), 0);
    } else {
        enum ofperr error = fake_table_receive(t, oh);

        if (error) {
            peer_feed(ctx->conn, ofperr_encode_reply(error, oh), 0);
        }
    }
}

/* Plays the switch 't' for one turn: runs the reconciler once, then every
 * message it sent goes to the fake table, dumps are answered from it,
 * errors go back, barriers are answered.  If 'refuse_add' is nonzero, the
 * bundle message with that number (counting from 1 in '*n_adds') is
 * refused with an error instead.  Returns the number of messages. */
static int
drive_turn(struct ctx *ctx, struct fake_table *t, int *n_adds,
           int refuse_add)
{
    struct ofpbuf *b;
    int n = 0;

    rcl_run(ctx->rcl, false);
    while ((b = peer_pop(ctx->conn)) != NULL) {
        n++;
        play(ctx, t, b->data, n_adds, refuse_add);
        ofpbuf_delete(b);
    }
    return n;
}

/* Plays the switch 't' for 'ctx' until the reconciler has nothing more to
 * say.  Returns the number of bundles committed. */
static unsigned int
drive(struct ctx *ctx, struct fake_table *t)
{
    unsigned int n_commits = t->n_commits;
    int n_adds = 0;

    for (int turn = 0; turn < 100; turn++) {
        if (!drive_turn(ctx, t, &n_adds, 0)) {
            break;
        }
    }
    return t->n_commits - n_commits;
}

static void
start_fake(struct ctx *ctx, struct fake_table *t,
           const struct flowset *installed)
{
    struct ofconn_settings settings;

    memset(ctx, 0, sizeof *ctx);
    ofconn_settings_init(&settings);
    ctx->conn = ofconn_create("test", &settings, &ctx_hooks, ctx, 0);
    peer_handshake(ctx->conn, OFP15_VERSION, 1, NULL, 0, 0);
    peer_drain(ctx->conn);
    ctx->rcl = rcl_create(ctx->conn);
    fake_table_init(t);
    if (installed) {
        flowset_clone(&t->set, installed);
    }
}

/* Against a switch that applies bundles as a switch does: after the
 * reconciler's bundles the switch holds exactly the desired state, the
 * same desired state applied twice changes nothing, and a different one
 * changes only what differs.  Group order matters here: a flow may not
 * point to a group that does not exist yet, and deleting a group deletes
 * its flows. */
static void
test_fake_switch(void)
{
    struct flowset d, d2, stale;
    struct fake_table t;
    struct ctx ctx;

    base_desired(&d);
    flowset_init(&stale);
    add_group(&stale, 65537, GROUP1);
    add_group(&stale, 9, "type=ff,bucket=watch_port:1,actions=output:1");
    add_flow(&stale, 0, 50, "in_port=9", "group:9");
    add_flow(&stale, 1, 100, "dl_type=0x894f,nsh_spi=0x64,nsh_si=255,"
             "nsh_c1=0/0xff", "group:65537");
    start_fake(&ctx, &t, &stale);
    set_desired(ctx.rcl, &d);
    CU_ASSERT_EQUAL(drive(&ctx, &t), 1);
    CU_ASSERT_EQUAL(ctx.n_errors, 0);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    CU_ASSERT_TRUE(flowset_equal(&t.set, &d));

    /* The same state again: no bundle, no change on the switch. */
    t.n_changes = 0;
    set_desired(ctx.rcl, &d);
    CU_ASSERT_EQUAL(drive(&ctx, &t), 0);
    CU_ASSERT_EQUAL(t.n_changes, 0);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));

    /* A group's bucket changes and a flow moves to a new group: groups
     * first, then flows, then the old group goes. */
    flowset_init(&d2);
    add_group(&d2, 65536, GROUP2);
    add_group(&d2, 65538, GROUP1);
    add_flow(&d2, 0, 100, "in_port=3,ip", "goto_table:1");
    add_flow(&d2, 1, 100, "dl_type=0x894f,nsh_spi=0x64,nsh_si=255,"
             "nsh_c1=0/0xff", "group:65538");
    add_flow(&d2, 0, 0, "", "drop");
    t.n_changes = 0;
    set_desired(ctx.rcl, &d2);
    CU_ASSERT_EQUAL(drive(&ctx, &t), 1);
    CU_ASSERT_EQUAL(ctx.n_errors, 0);
    /* Group 65536 modified, 65538 added, 65537 deleted, one flow
     * modified. */
    CU_ASSERT_EQUAL(t.n_changes, 4);
    CU_ASSERT_TRUE(flowset_equal(&t.set, &d2));
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));

    /* An update by keys: a group changes, a flow comes, a flow goes, and
     * a key that is deleted and was never installed; the bundle holds
     * those changes only, and the switch ends equal to the desired state
     * the reconciler holds. */
    {
        struct flowset put, del;

        flowset_init(&put);
        flowset_init(&del);
        add_group(&put, 65538, GROUP2);
        add_flow(&put, 0, 100, "in_port=5,ip", "goto_table:1");
        add_flow(&del, 0, 100, "in_port=3,ip", "drop");
        add_flow(&del, 0, 100, "in_port=9,ip", "drop");
        t.n_changes = 0;
        rcl_update_desired(ctx.rcl, &put, &del);
        CU_ASSERT_EQUAL(flowset_n_flows(&put) + flowset_n_flows(&del), 0);
        CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));
        CU_ASSERT_EQUAL(drive(&ctx, &t), 1);
        CU_ASSERT_EQUAL(t.n_changes, 3);
        CU_ASSERT_EQUAL(ctx.n_errors, 0);
        CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
        CU_ASSERT_TRUE(flowset_equal(&t.set, rcl_get_desired(ctx.rcl)));
        CU_ASSERT_EQUAL(rcl_n_installed_flows(ctx.rcl), 3);

        /* An update that changes nothing sends nothing. */
        add_group(&put, 65538, GROUP2);
        rcl_update_desired(ctx.rcl, &put, &del);
        CU_ASSERT_EQUAL(drive(&ctx, &t), 0);
        CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
        flowset_destroy(&put);
        flowset_destroy(&del);

        /* Back to d2 for what follows. */
        set_desired(ctx.rcl, &d2);
        CU_ASSERT_EQUAL(drive(&ctx, &t), 1);
        CU_ASSERT_TRUE(flowset_equal(&t.set, &d2));
    }

    /* A controller restart against that switch: a dump, nothing sent. */
    finish(&ctx);
    fake_table_destroy(&t);
    start_fake(&ctx, &t, &d2);
    set_desired(ctx.rcl, &d2);
    CU_ASSERT_EQUAL(drive(&ctx, &t), 0);
    CU_ASSERT_EQUAL(t.n_changes, 0);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));

    finish(&ctx);
    fake_table_destroy(&t);
    flowset_destroy(&d);
    flowset_destroy(&d2);
    flowset_destroy(&stale);
}

/* A desired state of 'n' flows, one per input port. */
static void
many_flows(struct flowset *d, int n)
{
    flowset_init(d);
    for (int i = 1; i <= n; i++) {
        char *match = xasprintf("in_port=%d,ip", i);

        add_flow(d, 0, 100, match, "output:1");
        free(match);
    }
}

/* A bundle larger than one piece goes out over several turns (the rest as
 * the connection drains) and is committed once, whole. */
static void
test_large_bundle(void)
{
    enum { N = 6000 };          /* About 600 kB of bundle messages. */
    struct fake_table t;
    struct flowset d;
    struct ctx ctx;
    int n_adds = 0;

    many_flows(&d, N);
    start_fake(&ctx, &t, NULL);
    set_desired(ctx.rcl, &d);
    drive_turn(&ctx, &t, &n_adds, 0);           /* The dump. */
    drive_turn(&ctx, &t, &n_adds, 0);           /* The first piece. */
    CU_ASSERT(n_adds > 0 && n_adds < N);
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "SENDING");
    CU_ASSERT_EQUAL(t.n_commits, 0);
    CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));

    CU_ASSERT_EQUAL(drive(&ctx, &t), 1);
    CU_ASSERT_EQUAL(ctx.n_errors, 0);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    CU_ASSERT_TRUE(flowset_equal(&t.set, &d));
    CU_ASSERT_EQUAL(t.n_changes, N);

    finish(&ctx);
    fake_table_destroy(&t);
    flowset_destroy(&d);
}

/* The switch refuses a message of the first piece: the rest is not sent,
 * the bundle is discarded (not committed in part), and after a resync a
 * new bundle makes the switch whole. */
static void
test_large_bundle_refused(void)
{
    enum { N = 6000 };
    struct fake_table t;
    struct flowset d;
    struct ctx ctx;
    int n_adds = 0;

    many_flows(&d, N);
    start_fake(&ctx, &t, NULL);
    set_desired(ctx.rcl, &d);
    drive_turn(&ctx, &t, &n_adds, 0);           /* The dump. */
    drive_turn(&ctx, &t, &n_adds, 10);          /* The first piece. */
    CU_ASSERT_EQUAL(ctx.n_errors, 1);
    CU_ASSERT(n_adds < N);
    drive_turn(&ctx, &t, &n_adds, 0);           /* Discard, barrier. */
    CU_ASSERT(n_adds < N);
    CU_ASSERT_EQUAL(t.n_discards, 1);
    CU_ASSERT_EQUAL(t.n_commits, 0);
    CU_ASSERT_EQUAL(flowset_n_flows(&t.set), 0);
    CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));

    CU_ASSERT_EQUAL(drive(&ctx, &t), 1);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    CU_ASSERT_TRUE(flowset_equal(&t.set, &d));

    finish(&ctx);
    fake_table_destroy(&t);
    flowset_destroy(&d);
}

/* A change that arrives while a bundle is out goes to the switch as soon as
 * that bundle's barrier reply arrives, with no further call from the
 * owner. */
static void
test_change_during_commit(void)
{
    struct flowset d, d2, d3;
    struct ovs_list sent;
    struct fake_table t;
    struct ofpbuf *b;
    struct ctx ctx;
    int n_adds = 0;

    many_flows(&d, 3);
    many_flows(&d2, 4);
    many_flows(&d3, 5);
    start_fake(&ctx, &t, NULL);
    set_desired(ctx.rcl, &d);
    CU_ASSERT_EQUAL(drive(&ctx, &t), 1);

    set_desired(ctx.rcl, &d2);
    rcl_run(ctx.rcl, false);
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "COMMITTING");
    ovs_list_init(&sent);
    while ((b = peer_pop(ctx.conn)) != NULL) {
        ovs_list_push_back(&sent, &b->list_node);
    }
    set_desired(ctx.rcl, &d3);
    LIST_FOR_EACH_POP (b, list_node, &sent) {
        play(&ctx, &t, b->data, &n_adds, 0);
        ofpbuf_delete(b);
    }
    CU_ASSERT_TRUE(flowset_equal(&t.set, &d2));
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "COMMITTING");
    b = peer_pop(ctx.conn);
    CU_ASSERT_PTR_NOT_NULL(b);
    ofpbuf_delete(b);

    finish(&ctx);
    fake_table_destroy(&t);
    flowset_destroy(&d);
    flowset_destroy(&d2);
    flowset_destroy(&d3);
}

/* Controller roles. */

/* Pops what 'conn' queued, which must be one role request, and returns its
 * xid. */
static ovs_be32
pop_role_request(struct ofconn *conn)
{
    struct ofpbuf *b = peer_pop(conn);
    enum ofptype type;
    ovs_be32 xid;

    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(ofptype_decode(&type, b->data), 0);
    CU_ASSERT_EQUAL(type, OFPTYPE_ROLE_REQUEST);
    xid = ((const struct ofp_header *) b->data)->xid;
    ofpbuf_delete(b);
    CU_ASSERT_PTR_NULL(peer_pop(conn));
    return xid;
}

/* Feeds the switch's reply to the role request with 'xid' on the
 * connection of 'ctx': 'role' at generation 'gen'. */
static void
reply_role(struct ctx *ctx, ovs_be32 xid, enum ofp12_controller_role role,
           uint64_t gen)
{
    struct ofputil_role_request rr = { .role = role,
                                       .have_generation_id = true,
                                       .generation_id = gen };
    struct ofpbuf *req;

    req = ofpraw_alloc_xid(OFPRAW_OFPT12_ROLE_REQUEST, OFP15_VERSION, xid,
                           0);
    ofpbuf_put_zeros(req, sizeof(struct ofp12_role_request));
    ofpmsg_update_length(req);
    peer_feed(ctx->conn, ofputil_encode_role_reply(req->data, &rr), 0);
    ofpbuf_delete(req);
}

/* Asks for 'role' at generation 'gen' on the connection of 'ctx' and feeds
 * the switch's reply that grants it. */
static void
grant_role(struct ctx *ctx, enum ofp12_controller_role role, uint64_t gen)
{
    ofconn_set_role(ctx->conn, role, gen);
    reply_role(ctx, pop_role_request(ctx->conn), role, gen);
}

/* Another controller becomes master of the switch of 'ctx'. */
static void
lose_role(struct ctx *ctx, uint64_t gen)
{
    struct ofputil_role_status rs = { .role = OFPCR12_ROLE_SLAVE,
                                      .reason = OFPCRR_PRIMARY_REQUEST,
                                      .generation_id = gen };

    peer_feed(ctx->conn, ofputil_encode_role_status(&rs, OFPUTIL_P_OF15_OXM),
              0);
}

/* Connects a switch as 'start' does, but this controller is a slave there
 * ('role' OFPCR12_ROLE_SLAVE, confirmed) or waits for the reply to its
 * master request ('role' OFPCR12_ROLE_MASTER); the reconciler's desired
 * state is 'd', and 's' gets what its first run sends. */
static void
start_role(struct ctx *ctx, enum ofp12_controller_role role,
           const struct flowset *d, struct sent *s)
{
    struct ofconn_settings settings;

    memset(ctx, 0, sizeof *ctx);
    ofconn_settings_init(&settings);
    ctx->conn = ofconn_create("test", &settings, &ctx_hooks, ctx, 0);
    peer_handshake(ctx->conn, OFP15_VERSION, 1, NULL, 0, 0);
    peer_drain(ctx->conn);
    CU_ASSERT_TRUE_FATAL(ofconn_is_connected(ctx->conn));
    if (role == OFPCR12_ROLE_SLAVE) {
        grant_role(ctx, OFPCR12_ROLE_SLAVE, 1);
    } else {
        ofconn_set_role(ctx->conn, role, 1);
        ctx->role_xid = pop_role_request(ctx->conn);
    }
    CU_ASSERT_FALSE(ofconn_may_write(ctx->conn));

    ctx->rcl = rcl_create(ctx->conn);
    set_desired(ctx->rcl, d);
    rcl_run(ctx->rcl, false);
    collect(ctx->conn, s);
}

/* Asserts that 's' holds no change to the switch. */
#define ASSERT_NO_WRITES(S)                                             \
    do {                                                                \
        CU_ASSERT_EQUAL((S)->bundle_opens + (S)->bundle_commits, 0);    \
        CU_ASSERT_EQUAL((S)->flow_adds + (S)->flow_mods                 \
                        + (S)->flow_dels, 0);                           \
        CU_ASSERT_EQUAL((S)->group_adds + (S)->group_mods               \
                        + (S)->group_dels, 0);                          \
    } while (0)

/* A slave, or a master the switch has not confirmed, writes nothing, and
 * says why it is not in sync. */
static void
test_role_secondary_writes_nothing(void)
{
    enum ofp12_controller_role roles[] = { OFPCR12_ROLE_SLAVE,
                                           OFPCR12_ROLE_MASTER };

    for (size_t i = 0; i < ARRAY_SIZE(roles); i++) {
        struct flowset d, d2;
        struct ctx ctx;
        struct sent s;

        base_desired(&d);
        start_role(&ctx, roles[i], &d, &s);
        ASSERT_NO_WRITES(&s);
        CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "SECONDARY");
        CU_ASSERT_FALSE(rcl_is_synced(ctx.rcl));
        CU_ASSERT_FALSE(rcl_is_stalled(ctx.rcl));
        ASSERT_PROBLEM(ctx.rcl, "waiting for the role");

        /* Changes of the desired state wait too. */
        base_desired(&d2);
        add_flow(&d2, 0, 100, "in_port=4,ip", "goto_table:1");
        set_desired(ctx.rcl, &d2);
        rcl_run(ctx.rcl, false);
        collect(ctx.conn, &s);
        ASSERT_NO_WRITES(&s);
        CU_ASSERT_EQUAL(s.barriers, 0);
        CU_ASSERT_EQUAL(rcl_get_stats(ctx.rcl)->n_flow_adds, 0);
        finish(&ctx);
        flowset_destroy(&d);
        flowset_destroy(&d2);
    }
}

/* A takeover: the new master dumps the switch, which the old master left
 * equal to the desired state, and sends no change at all. */
static void
test_role_takeover_equal_sends_nothing(void)
{
    struct flowset d;
    struct ctx ctx;
    struct sent s;

    base_desired(&d);
    start_role(&ctx, OFPCR12_ROLE_SLAVE, &d, &s);
    ASSERT_NO_WRITES(&s);

    grant_role(&ctx, OFPCR12_ROLE_MASTER, 2);
    CU_ASSERT_EQUAL(ctx.n_role_changed, 2);
    CU_ASSERT_TRUE(ofconn_may_write(ctx.conn));
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "DUMP_NEEDED");
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.flow_dumps, 1);
    CU_ASSERT_EQUAL(s.group_dumps, 1);
    ASSERT_NO_WRITES(&s);
    answer_dumps(ctx.conn, &s, &d);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    ASSERT_NO_WRITES(&s);
    CU_ASSERT_EQUAL(s.barriers + s.flow_dumps + s.group_dumps, 0);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    CU_ASSERT_EQUAL(rcl_get_stats(ctx.rcl)->n_bundles, 0);
    finish(&ctx);
    flowset_destroy(&d);
}

/* A takeover of a switch that differs: only the difference is sent. */
static void
test_role_takeover_sends_diff(void)
{
    struct flowset d, old;
    struct ctx ctx;
    struct sent s;

    /* The old master's last bundle was older: one flow missing, one group
     * with other buckets. */
    base_desired(&d);
    flowset_init(&old);
    add_group(&old, 65536, GROUP2);
    add_group(&old, 65537, GROUP2);
    add_flow(&old, 0, 100, "in_port=3,ip", "goto_table:1");
    add_flow(&old, 0, 0, "", "drop");
    start_role(&ctx, OFPCR12_ROLE_MASTER, &d, &s);
    ASSERT_NO_WRITES(&s);

    reply_role(&ctx, ctx.role_xid, OFPCR12_ROLE_MASTER, 1);
    CU_ASSERT_TRUE(ofconn_may_write(ctx.conn));
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    ASSERT_NO_WRITES(&s);
    answer_dumps(ctx.conn, &s, &old);
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 1);
    CU_ASSERT_EQUAL(s.group_mods, 1);
    CU_ASSERT_EQUAL(s.flow_adds, 1);
    CU_ASSERT_EQUAL(s.group_adds + s.group_dels, 0);
    CU_ASSERT_EQUAL(s.flow_mods + s.flow_dels, 0);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    finish(&ctx);
    flowset_destroy(&d);
    flowset_destroy(&old);
}

/* The role goes while a bundle is out: the bundle is dropped, the switch's
 * refusal ('refused') and the barrier reply that follow change nothing, no
 * failure or commit is counted, and the next takeover resynchronizes from
 * a dump.  With 'use_hook' false, the reconciler learns of the role only
 * from rcl_run(), the error and the barrier reply. */
static void
role_lost_mid_bundle(bool use_hook, bool refused)
{
    struct flowset d;
    struct ctx ctx;
    struct sent s, s1;
    struct ofpbuf *req;

    base_desired(&d);
    start_role(&ctx, OFPCR12_ROLE_MASTER, &d, &s);
    ctx.no_role_hook = !use_hook;
    reply_role(&ctx, ctx.role_xid, OFPCR12_ROLE_MASTER, 1);
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    answer_dumps(ctx.conn, &s, NULL);
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s1);
    CU_ASSERT_EQUAL(s1.bundle_opens, 1);
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "COMMITTING");

    /* Another controller takes over; the switch refuses our bundle. */
    lose_role(&ctx, 2);
    CU_ASSERT_FALSE(ofconn_may_write(ctx.conn));
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl),
                           use_hook ? "SECONDARY" : "COMMITTING");
    if (refused) {
        req = ofpraw_alloc(OFPRAW_OFPT14_BUNDLE_CONTROL, OFP15_VERSION, 0);
        peer_feed(ctx.conn, ofperr_encode_reply(OFPERR_OFPBRC_IS_SLAVE,
                                                req->data), 0);
        ofpbuf_delete(req);
        CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "SECONDARY");
    }
    answer_barrier(ctx.conn, s1.barrier_xid);
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "SECONDARY");
    CU_ASSERT_EQUAL(rcl_get_stats(ctx.rcl)->n_bundles, 0);
    CU_ASSERT_FALSE(rcl_is_stalled(ctx.rcl));
    ASSERT_PROBLEM(ctx.rcl, "waiting for the role");
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    ASSERT_NO_WRITES(&s);
    CU_ASSERT_EQUAL(s.barriers + s.flow_dumps, 0);

    /* We take over again: a dump finds what the other master left (here,
     * the desired state but one flow), and only that flow goes; its
     * barrier reply commits it. */
    grant_role(&ctx, OFPCR12_ROLE_MASTER, 3);
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.flow_dumps, 1);
    ASSERT_NO_WRITES(&s);
    {
        struct flowset left;

        base_desired(&left);
        flowset_clear(&left);
        add_group(&left, 65536, GROUP1);
        add_group(&left, 65537, GROUP2);
        add_flow(&left, 0, 100, "in_port=3,ip", "goto_table:1");
        add_flow(&left, 1, 100, "dl_type=0x894f,nsh_spi=0x64,nsh_si=255,"
                 "nsh_c1=0/0xff", "group:65536");
        answer_dumps(ctx.conn, &s, &left);
        flowset_destroy(&left);
    }
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 1);
    CU_ASSERT_EQUAL(s.flow_adds, 1);
    CU_ASSERT_EQUAL(s.flow_mods + s.flow_dels, 0);
    CU_ASSERT_EQUAL(s.group_adds + s.group_mods + s.group_dels, 0);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    CU_ASSERT_EQUAL(rcl_get_stats(ctx.rcl)->n_bundles, 1);
    ASSERT_PROBLEM(ctx.rcl, "");
    finish(&ctx);
    flowset_destroy(&d);
}

static void
test_role_lost_mid_bundle(void)
{
    role_lost_mid_bundle(true, true);
    role_lost_mid_bundle(true, false);
}

static void
test_role_lost_mid_bundle_no_hook(void)
{
    role_lost_mid_bundle(false, true);
    role_lost_mid_bundle(false, false);
}

/* A reconciler that gave up on a bundle the switch refused tries again
 * after a takeover: the switch may hold something else by then. */
static void
test_role_takeover_retries_stalled(void)
{
    struct flowset d;
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
    CU_ASSERT_TRUE_FATAL(rcl_is_stalled(ctx.rcl));

    grant_role(&ctx, OFPCR12_ROLE_SLAVE, 1);
    CU_ASSERT_STRING_EQUAL(rcl_state_name(ctx.rcl), "SECONDARY");
    CU_ASSERT_FALSE(rcl_is_stalled(ctx.rcl));
    grant_role(&ctx, OFPCR12_ROLE_MASTER, 2);
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.flow_dumps, 1);
    answer_dumps(ctx.conn, &s, NULL);
    ASSERT_PROBLEM(ctx.rcl, "");
    rcl_run(ctx.rcl, false);
    collect(ctx.conn, &s);
    CU_ASSERT_EQUAL(s.bundle_opens, 1);
    CU_ASSERT_EQUAL(s.flow_adds, 3);
    commit(&ctx, &s);
    CU_ASSERT_TRUE(rcl_is_synced(ctx.rcl));
    finish(&ctx);
    flowset_destroy(&d);
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
    { "against a fake switch: equal after, idempotent, in order",
      test_fake_switch },
    { "a large bundle goes out in pieces, committed once",
      test_large_bundle },
    { "a refused piece: the bundle is discarded, then resynced",
      test_large_bundle_refused },
    { "a change during a commit goes out at its barrier reply",
      test_change_during_commit },
    { "a slave, or an unconfirmed master, writes nothing",
      test_role_secondary_writes_nothing },
    { "a takeover of a switch in the desired state sends nothing",
      test_role_takeover_equal_sends_nothing },
    { "a takeover of a switch that differs sends the difference",
      test_role_takeover_sends_diff },
    { "the role lost during a bundle: dropped, then resynced",
      test_role_lost_mid_bundle },
    { "the same, noticed without the role hook",
      test_role_lost_mid_bundle_no_hook },
    { "a takeover tries again what the switch refused before",
      test_role_takeover_retries_stalled },
    { NULL, NULL },
};
TEST_SUITE("reconcile", reconcile_tests)
