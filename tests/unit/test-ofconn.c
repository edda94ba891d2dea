/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <errno.h>
#include <string.h>
#include "byte-order.h"
#include "of-peer.h"
#include "ofconn.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-connection.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "tests.h"
#include "flow.h"
#include "util.h"

static struct ofputil_phy_port ports3[3];

static void
init_ports3(void)
{
    ports3[0] = peer_port(1, "p1", true);
    ports3[1] = peer_port(2, "p2", true);
    ports3[2] = peer_port(0xfffe, "br0", false);
}

/* Returns a connected OpenFlow 1.3 switch with dpid 0x42 and 3 ports. */
static struct ofconn *
connected(struct peer_events *ev)
{
    struct ofconn *conn = peer_conn_create(ev, 0);

    init_ports3();
    peer_handshake(conn, OFP13_VERSION, 0x42, ports3, 3, 0);
    return conn;
}

/* Decodes the error message 'b' (freed); returns the error or 0. */
static enum ofperr
pop_error(struct ofconn *conn, uint8_t *versionp)
{
    struct ofpbuf *b = peer_pop(conn);
    enum ofperr error;

    if (!b) {
        return 0;
    }
    if (versionp) {
        *versionp = ((const struct ofp_header *) b->data)->version;
    }
    error = ofperr_decode_msg(b->data, NULL);
    ofpbuf_delete(b);
    return error;
}

static void
test_handshake(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);

    CU_ASSERT_TRUE(ofconn_is_connected(conn));
    CU_ASSERT_EQUAL(ofconn_get_state(conn), OFSM_ACTIVE);
    CU_ASSERT_EQUAL(ofconn_get_version(conn), OFP13_VERSION);
    CU_ASSERT_EQUAL(ofconn_get_dpid(conn), 0x42);
    CU_ASSERT_EQUAL(hmap_count(ofconn_get_ports(conn)), 3);
    CU_ASSERT_PTR_NOT_NULL(ofconn_get_port(conn, u16_to_ofp(2)));
    CU_ASSERT_STRING_EQUAL(ofconn_get_port(conn, u16_to_ofp(2))->name, "p2");
    CU_ASSERT_EQUAL(ev.n_ready, 1);
    /* The initial port table is not a stream of port events. */
    CU_ASSERT_EQUAL(ev.n_port_changed, 0);
    CU_ASSERT_EQUAL(ofconn_get_stats(conn)->bad_msgs, 0);
    ofconn_destroy(conn);
}

static void
test_handshake_sends_set_config(void)
{
    struct peer_events ev;
    struct ofconn *conn = peer_conn_create(&ev, 0);
    enum ofptype type;
    ovs_be32 xid;
    bool set_config = false, port_desc = false;

    peer_drain(conn);
    peer_feed(conn, peer_hello(1u << OFP15_VERSION), 0);
    CU_ASSERT_EQUAL(peer_pop_type(conn, &type, &xid), 0);
    peer_feed(conn, peer_features_reply(OFP15_VERSION, xid, 7), 0);
    while (!peer_pop_type(conn, &type, NULL)) {
        set_config |= type == OFPTYPE_SET_CONFIG;
        port_desc |= type == OFPTYPE_PORT_DESC_STATS_REQUEST;
    }
    CU_ASSERT_TRUE(set_config);
    CU_ASSERT_TRUE(port_desc);
    CU_ASSERT_EQUAL(ofconn_get_state(conn), OFSM_PORTS);
    CU_ASSERT_EQUAL(ofconn_get_dpid(conn), 7);
    CU_ASSERT_EQUAL(ev.n_ready, 0);
    ofconn_destroy(conn);
}

static void
test_negotiates_highest_common(void)
{
    struct peer_events ev;
    struct ofconn *conn = peer_conn_create(&ev, 0);
    enum ofptype type;

    peer_drain(conn);
    /* The peer speaks 1.0 to 1.4; we speak 1.3 to 1.5. */
    peer_feed(conn, peer_hello((1u << OFP10_VERSION) | (1u << OFP13_VERSION)
                               | (1u << OFP14_VERSION)), 0);
    CU_ASSERT_EQUAL(ofconn_get_version(conn), OFP14_VERSION);
    CU_ASSERT_EQUAL(peer_pop_type(conn, &type, NULL), 0);
    CU_ASSERT_EQUAL(type, OFPTYPE_FEATURES_REQUEST);
    ofconn_destroy(conn);
}

static void
test_no_common_version(void)
{
    struct peer_events ev;
    struct ofconn *conn = peer_conn_create(&ev, 0);

    peer_drain(conn);
    peer_feed(conn, peer_hello(1u << OFP10_VERSION), 0);
    CU_ASSERT_TRUE(ofconn_is_closed(conn));
    CU_ASSERT_PTR_NOT_NULL(strstr(ofconn_close_reason(conn), "version"));
    /* OFPET_HELLO_FAILED goes out before the close. */
    CU_ASSERT_EQUAL(pop_error(conn, NULL), OFPERR_OFPHFC_INCOMPATIBLE);
    CU_ASSERT_PTR_NULL(peer_pop(conn));
    CU_ASSERT_EQUAL(ofconn_get_stats(conn)->bad_msgs, 1);
    ofconn_destroy(conn);
}

static void
test_first_message_not_hello(void)
{
    struct peer_events ev;
    struct ofconn *conn = peer_conn_create(&ev, 0);

    peer_drain(conn);
    peer_feed(conn, ofputil_encode_echo_request(OFP13_VERSION), 0);
    CU_ASSERT_TRUE(ofconn_is_closed(conn));
    CU_ASSERT_PTR_NOT_NULL(strstr(ofconn_close_reason(conn), "hello"));
    CU_ASSERT_PTR_NULL(peer_pop(conn));
    /* Nothing more is processed once closed. */
    peer_feed(conn, peer_hello(1u << OFP13_VERSION), 0);
    CU_ASSERT_PTR_NULL(peer_pop(conn));
    ofconn_destroy(conn);
}

static void
test_unknown_type(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);
    uint8_t msg[16] = { OFP13_VERSION, 200, 0, 16, 0, 0, 0, 99 };
    uint8_t version;

    peer_drain(conn);
    peer_feed_raw(conn, msg, sizeof msg, 0);
    CU_ASSERT_EQUAL(pop_error(conn, &version), OFPERR_OFPBRC_BAD_TYPE);
    CU_ASSERT_EQUAL(version, OFP13_VERSION);
    CU_ASSERT_TRUE(ofconn_is_connected(conn));
    CU_ASSERT_EQUAL(ofconn_get_stats(conn)->bad_msgs, 1);
    ofconn_destroy(conn);
}

static void
test_wrong_version(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);
    struct ofpbuf *b;
    uint8_t version;

    peer_drain(conn);
    /* An echo request in 1.5 on a 1.3 connection, and one in an unknown
     * version: both get BAD_VERSION in 1.3. */
    peer_feed(conn, ofputil_encode_echo_request(OFP15_VERSION), 0);
    CU_ASSERT_EQUAL(pop_error(conn, &version), OFPERR_OFPBRC_BAD_VERSION);
    CU_ASSERT_EQUAL(version, OFP13_VERSION);

    b = ofputil_encode_echo_request(OFP13_VERSION);
    ((struct ofp_header *) b->data)->version = 0x7f;
    peer_feed(conn, b, 0);
    CU_ASSERT_EQUAL(pop_error(conn, &version), OFPERR_OFPBRC_BAD_VERSION);
    CU_ASSERT_EQUAL(version, OFP13_VERSION);
    CU_ASSERT_TRUE(ofconn_is_connected(conn));
    CU_ASSERT_EQUAL(ofconn_get_stats(conn)->bad_msgs, 2);
    ofconn_destroy(conn);
}

static void
test_undecodable_body(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);
    struct ofputil_phy_port pp = peer_port(9, "p9", true);
    struct ofpbuf *b = peer_port_status(OFP13_VERSION, OFPPR_ADD, &pp);

    ofpmsg_update_length(b);
    peer_drain(conn);
    /* A port status cut to half its size. */
    b->size /= 2;
    ((struct ofp_header *) b->data)->length = htons(b->size);
    peer_feed(conn, b, 0);
    CU_ASSERT_EQUAL(pop_error(conn, NULL), OFPERR_OFPBRC_BAD_LEN);
    CU_ASSERT_TRUE(ofconn_is_connected(conn));
    CU_ASSERT_PTR_NULL(ofconn_get_port(conn, u16_to_ofp(9)));
    CU_ASSERT_EQUAL(ev.n_port_changed, 0);
    ofconn_destroy(conn);
}

static void
test_echo_reply(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);
    struct ofpbuf *req = ofputil_encode_echo_request(OFP13_VERSION);
    ovs_be32 req_xid, reply_xid;
    enum ofptype type;

    ofpmsg_update_length(req);
    req_xid = ((const struct ofp_header *) req->data)->xid;
    peer_drain(conn);
    peer_feed(conn, req, 0);
    CU_ASSERT_EQUAL(peer_pop_type(conn, &type, &reply_xid), 0);
    CU_ASSERT_EQUAL(type, OFPTYPE_ECHO_REPLY);
    CU_ASSERT_EQUAL(reply_xid, req_xid);
    ofconn_destroy(conn);
}

static void
test_port_status(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);
    struct ofputil_phy_port p5 = peer_port(5, "p5", true);
    struct ofputil_phy_port p1_down = peer_port(1, "p1", false);
    const struct ofputil_phy_port *pp;

    peer_feed(conn, peer_port_status(OFP13_VERSION, OFPPR_ADD, &p5), 0);
    CU_ASSERT_EQUAL(ev.n_added, 1);
    CU_ASSERT_EQUAL(hmap_count(ofconn_get_ports(conn)), 4);

    peer_feed(conn, peer_port_status(OFP13_VERSION, OFPPR_MODIFY, &p1_down),
              0);
    CU_ASSERT_EQUAL(ev.n_modified, 1);
    pp = ofconn_get_port(conn, u16_to_ofp(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(pp);
    CU_ASSERT_FALSE(ofconn_port_is_up(pp));
    CU_ASSERT_FALSE(ofconn_port_is_live(pp));

    /* The same status again is no event (edge-triggered). */
    peer_feed(conn, peer_port_status(OFP13_VERSION, OFPPR_MODIFY, &p1_down),
              0);
    CU_ASSERT_EQUAL(ev.n_modified, 1);

    /* Link back, admin still down: up needs both. */
    p1_down.state = 0;
    peer_feed(conn, peer_port_status(OFP13_VERSION, OFPPR_MODIFY, &p1_down),
              0);
    CU_ASSERT_EQUAL(ev.n_modified, 2);
    CU_ASSERT_FALSE(ofconn_port_is_up(ofconn_get_port(conn, u16_to_ofp(1))));

    peer_feed(conn, peer_port_status(OFP13_VERSION, OFPPR_DELETE, &p5), 0);
    CU_ASSERT_EQUAL(ev.n_deleted, 1);
    CU_ASSERT_PTR_NULL(ofconn_get_port(conn, u16_to_ofp(5)));
    /* Deleting an unknown port changes nothing. */
    peer_feed(conn, peer_port_status(OFP13_VERSION, OFPPR_DELETE, &p5), 0);
    CU_ASSERT_EQUAL(ev.n_deleted, 1);
    CU_ASSERT_EQUAL(ofconn_get_stats(conn)->port_events, 4);
    ofconn_destroy(conn);
}

static void
test_port_desc_multipart(void)
{
    enum { N = 1500 };          /* Needs more than one 64 kB part. */
    static struct ofputil_phy_port ports[N];
    struct peer_events ev;
    struct ofconn *conn = peer_conn_create(&ev, 0);
    struct ovs_list replies;
    struct ofpbuf *b;
    enum ofptype type;
    ovs_be32 xid = 0, desc_xid = 0;
    size_t n_parts;

    for (int i = 0; i < N; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d", i + 1);
        ports[i] = peer_port(i + 1, name, true);
    }
    peer_drain(conn);
    peer_feed(conn, peer_hello(1u << OFP13_VERSION), 0);
    peer_pop_type(conn, &type, &xid);
    peer_feed(conn, peer_features_reply(OFP13_VERSION, xid, 1), 0);
    while (!peer_pop_type(conn, &type, &xid)) {
        if (type == OFPTYPE_PORT_DESC_STATS_REQUEST) {
            desc_xid = xid;
        }
    }
    peer_port_desc_reply(OFP13_VERSION, desc_xid, ports, N, &replies);
    n_parts = ovs_list_size(&replies);
    CU_ASSERT_TRUE(n_parts >= 2);

    LIST_FOR_EACH_POP (b, list_node, &replies) {
        CU_ASSERT_EQUAL(ev.n_ready, 0);
        CU_ASSERT_EQUAL(ofconn_get_state(conn), OFSM_PORTS);
        peer_feed(conn, b, 0);
    }
    CU_ASSERT_EQUAL(ev.n_ready, 1);
    CU_ASSERT_EQUAL(hmap_count(ofconn_get_ports(conn)), N);
    CU_ASSERT_STRING_EQUAL(ofconn_get_port(conn, u16_to_ofp(N))->name,
                           "p1500");
    ofconn_destroy(conn);
}

static void
test_port_status_during_port_desc(void)
{
    struct peer_events ev;
    struct ofconn *conn = peer_conn_create(&ev, 0);
    struct ofputil_phy_port p1 = peer_port(1, "p1", true);
    struct ofputil_phy_port p2 = peer_port(2, "p2", true);
    struct ovs_list replies;
    struct ofpbuf *b;
    enum ofptype type;
    ovs_be32 xid = 0, desc_xid = 0;

    peer_drain(conn);
    peer_feed(conn, peer_hello(1u << OFP13_VERSION), 0);
    peer_pop_type(conn, &type, &xid);
    peer_feed(conn, peer_features_reply(OFP13_VERSION, xid, 1), 0);
    while (!peer_pop_type(conn, &type, &xid)) {
        if (type == OFPTYPE_PORT_DESC_STATS_REQUEST) {
            desc_xid = xid;
        }
    }
    /* p2 appears while the description (which has only p1) is in flight:
     * it must survive the swap. */
    peer_feed(conn, peer_port_status(OFP13_VERSION, OFPPR_ADD, &p2), 0);
    peer_port_desc_reply(OFP13_VERSION, desc_xid, &p1, 1, &replies);
    LIST_FOR_EACH_POP (b, list_node, &replies) {
        peer_feed(conn, b, 0);
    }
    CU_ASSERT_EQUAL(ev.n_ready, 1);
    CU_ASSERT_PTR_NOT_NULL(ofconn_get_port(conn, u16_to_ofp(1)));
    CU_ASSERT_PTR_NOT_NULL(ofconn_get_port(conn, u16_to_ofp(2)));
    ofconn_destroy(conn);
}

struct barrier_result {
    int calls;
    int status;
};

static void
barrier_cb(struct ofconn *conn OVS_UNUSED, int status, void *res_)
{
    struct barrier_result *res = res_;

    res->calls++;
    res->status = status;
}

static void
test_barriers(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);
    struct barrier_result r1 = { 0, -1 }, r2 = { 0, -1 };
    struct ofpbuf *req, *reply;
    ovs_be32 xid1, xid2;

    peer_drain(conn);
    xid1 = ofconn_send_barrier(conn, barrier_cb, &r1);
    xid2 = ofconn_send_barrier(conn, barrier_cb, &r2);
    CU_ASSERT_NOT_EQUAL(xid1, xid2);
    CU_ASSERT_EQUAL(ofconn_n_pending_barriers(conn), 2);

    /* Reply to the second first: callbacks go by xid. */
    peer_drain(conn);
    req = ofputil_encode_barrier_request(OFP13_VERSION);
    ((struct ofp_header *) req->data)->xid = xid2;
    reply = ofpraw_alloc_reply(OFPRAW_OFPT11_BARRIER_REPLY, req->data, 0);
    peer_feed(conn, reply, 0);
    ofpbuf_delete(req);
    CU_ASSERT_EQUAL(r2.calls, 1);
    CU_ASSERT_EQUAL(r2.status, 0);
    CU_ASSERT_EQUAL(r1.calls, 0);
    CU_ASSERT_EQUAL(ofconn_n_pending_barriers(conn), 1);

    /* The first one learns of the close. */
    ofconn_destroy(conn);
    CU_ASSERT_EQUAL(r1.calls, 1);
    CU_ASSERT_EQUAL(r1.status, ECONNRESET);
    CU_ASSERT_EQUAL(r2.calls, 1);
}

static void
test_barrier_needs_connection(void)
{
    struct peer_events ev;
    struct ofconn *conn = peer_conn_create(&ev, 0);
    struct barrier_result r = { 0, -1 };

    CU_ASSERT_EQUAL(ofconn_send_barrier(conn, barrier_cb, &r), 0);
    ofconn_destroy(conn);
    CU_ASSERT_EQUAL(r.calls, 0);
}

static void
test_error_correlation(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);
    struct ofpbuf *req, *err;
    ovs_be32 xid;

    peer_drain(conn);
    req = ofpraw_alloc(OFPRAW_OFPT_GET_CONFIG_REQUEST, OFP13_VERSION, 0);
    ofconn_send(conn, req);
    req = peer_pop(conn);
    xid = ((const struct ofp_header *) req->data)->xid;
    err = ofperr_encode_reply(OFPERR_OFPBRC_EPERM, req->data);
    ofpbuf_delete(req);
    peer_feed(conn, err, 0);
    CU_ASSERT_EQUAL(ev.n_errors, 1);
    CU_ASSERT_EQUAL(ev.last_error, OFPERR_OFPBRC_EPERM);
    CU_ASSERT_EQUAL(ev.last_error_xid, xid);
    CU_ASSERT_EQUAL(ofconn_get_stats(conn)->rx_errors, 1);
    /* An error never gets an error in reply. */
    CU_ASSERT_PTR_NULL(peer_pop(conn));
    CU_ASSERT_TRUE(ofconn_is_connected(conn));
    ofconn_destroy(conn);
}

static void
test_other_messages_passed_on(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);
    struct ofputil_switch_config config = { .miss_send_len = 128,
                                            .invalid_ttl_to_controller = -1 };
    struct ofpbuf *req;

    req = ofpraw_alloc(OFPRAW_OFPT_GET_CONFIG_REQUEST, OFP13_VERSION, 0);
    ofpmsg_update_length(req);
    peer_feed(conn, ofputil_encode_get_config_reply(req->data, &config), 0);
    ofpbuf_delete(req);
    CU_ASSERT_EQUAL(ev.n_messages, 1);
    CU_ASSERT_EQUAL(ev.last_type, OFPTYPE_GET_CONFIG_REPLY);
    ofconn_destroy(conn);
}

static void
test_probe_and_timeout(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);
    long long int deadline = ofconn_deadline(conn);
    enum ofptype type;

    peer_drain(conn);
    CU_ASSERT_EQUAL(deadline, 5000);
    ofconn_run(conn, deadline - 1);
    CU_ASSERT_PTR_NULL(peer_pop(conn));
    ofconn_run(conn, deadline);
    CU_ASSERT_EQUAL(peer_pop_type(conn, &type, NULL), 0);
    CU_ASSERT_EQUAL(type, OFPTYPE_ECHO_REQUEST);
    CU_ASSERT_EQUAL(ofconn_get_state(conn), OFSM_IDLE);
    CU_ASSERT_TRUE(ofconn_is_connected(conn));

    ofconn_run(conn, ofconn_deadline(conn));
    CU_ASSERT_TRUE(ofconn_is_closed(conn));
    CU_ASSERT_PTR_NOT_NULL(strstr(ofconn_close_reason(conn),
                                  "inactivity"));
    ofconn_destroy(conn);
}

static void
test_handshake_timeout(void)
{
    struct peer_events ev;
    struct ofconn *conn = peer_conn_create(&ev, 1000);

    ofconn_run(conn, 1000 + 9999);
    CU_ASSERT_FALSE(ofconn_is_closed(conn));
    ofconn_run(conn, 1000 + 10000);
    CU_ASSERT_TRUE(ofconn_is_closed(conn));
    CU_ASSERT_PTR_NOT_NULL(strstr(ofconn_close_reason(conn), "handshake"));
    ofconn_destroy(conn);
}

static void
test_length_mismatch_ignored(void)
{
    struct peer_events ev;
    struct ofconn *conn = connected(&ev);
    uint64_t rx = ofconn_get_stats(conn)->rx_msgs;
    uint8_t msg[16] = { OFP13_VERSION, 2, 0, 16 };

    /* The caller frames messages; a length that disagrees with the header
     * is refused, not read past. */
    peer_feed_raw(conn, msg, 12, 0);
    peer_feed_raw(conn, msg, 4, 0);
    CU_ASSERT_EQUAL(ofconn_get_stats(conn)->rx_msgs, rx);
    ofconn_destroy(conn);
}

/* Controller roles. */

/* What the hooks of a connection with roles saw. */
struct role_events {
    struct peer_events ev;      /* First: the aux of peer_hooks' hooks. */
    int n_role_changed;         /* role_changed() calls. */
    int n_ready_role_requests;  /* Role requests queued when ready() ran. */
    ovs_be32 ready_role_xid;    /* The xid of the last of them. */
    struct ofputil_role_request ready_rr; /* Its content. */
    bool may_write_at_error;    /* ofconn_may_write() in the error hook. */
};

/* Decodes the role request 'oh' into '*rr'; returns true if it is one. */
static bool
decode_role_request(const struct ofp_header *oh,
                    struct ofputil_role_request *rr)
{
    enum ofptype type;

    return (!ofptype_decode(&type, oh) && type == OFPTYPE_ROLE_REQUEST
            && !ofputil_decode_role_message(oh, rr));
}

/* The ready hook: takes everything queued so far, to see what was sent
 * before the owner's first chance to send. */
static void
role_ready_cb(struct ofconn *conn, void *re_)
{
    struct role_events *re = re_;
    struct ofpbuf *b;

    re->ev.n_ready++;
    while ((b = peer_pop(conn)) != NULL) {
        if (decode_role_request(b->data, &re->ready_rr)) {
            re->n_ready_role_requests++;
            re->ready_role_xid = ((const struct ofp_header *) b->data)->xid;
        }
        ofpbuf_delete(b);
    }
}

static void
role_error_cb(struct ofconn *conn, enum ofperr error, ovs_be32 xid,
              void *re_)
{
    struct role_events *re = re_;

    re->ev.n_errors++;
    re->ev.last_error = error;
    re->ev.last_error_xid = xid;
    re->may_write_at_error = ofconn_may_write(conn);
}

static void
role_changed_cb(struct ofconn *conn OVS_UNUSED, void *re_)
{
    struct role_events *re = re_;
    re->n_role_changed++;
}

/* Creates an ofconn whose hooks count into 're'. */
static struct ofconn *
role_conn_create(struct role_events *re)
{
    struct ofconn_settings settings;
    struct ofconn_hooks hooks = peer_hooks;

    memset(re, 0, sizeof *re);
    hooks.ready = role_ready_cb;
    hooks.error = role_error_cb;
    hooks.role_changed = role_changed_cb;
    ofconn_settings_init(&settings);
    return ofconn_create("test", &settings, &hooks, re, 0);
}

/* Returns a connected switch of 'version' for 're' with no role asked. */
static struct ofconn *
role_connected(struct role_events *re, enum ofp_version version)
{
    struct ofconn *conn = role_conn_create(re);

    init_ports3();
    peer_handshake(conn, version, 0x42, ports3, 3, 0);
    CU_ASSERT_TRUE_FATAL(ofconn_is_connected(conn));
    return conn;
}

/* Pops everything 'conn' queued; returns the xid of the one role request
 * among it (0 if there was none) and stores its content in '*rr'. */
static ovs_be32
pop_role_request(struct ofconn *conn, struct ofputil_role_request *rr)
{
    ovs_be32 xid = 0;
    int n = 0;
    struct ofpbuf *b;

    while ((b = peer_pop(conn)) != NULL) {
        if (decode_role_request(b->data, rr)) {
            n++;
            xid = ((const struct ofp_header *) b->data)->xid;
        }
        ofpbuf_delete(b);
    }
    CU_ASSERT(n <= 1);
    return xid;
}

/* A role request of 'version' with 'xid', for building replies to it. */
static struct ofpbuf *
role_request(enum ofp_version version, ovs_be32 xid)
{
    struct ofpbuf *req;

    req = ofpraw_alloc_xid(OFPRAW_OFPT12_ROLE_REQUEST, version, xid, 0);
    ofpbuf_put_zeros(req, sizeof(struct ofp12_role_request));
    ofpmsg_update_length(req);
    return req;
}

/* Feeds 'conn' the switch's role reply to request 'xid': 'role' at
 * generation 'gen'. */
static void
feed_role_reply(struct ofconn *conn, ovs_be32 xid,
                enum ofp12_controller_role role, uint64_t gen)
{
    struct ofputil_role_request rr = { .role = role,
                                       .have_generation_id = true,
                                       .generation_id = gen };
    struct ofpbuf *req = role_request(ofconn_get_version(conn), xid);

    peer_feed(conn, ofputil_encode_role_reply(req->data, &rr), 0);
    ofpbuf_delete(req);
}

static void
feed_role_status(struct ofconn *conn, enum ofp12_controller_role role,
                 uint64_t gen)
{
    struct ofputil_role_status rs = { .role = role,
                                      .reason = OFPCRR_PRIMARY_REQUEST,
                                      .generation_id = gen };

    peer_feed(conn, ofputil_encode_role_status(
                  &rs, ofputil_protocol_from_ofp_version(
                      ofconn_get_version(conn))), 0);
}

/* Feeds 'conn' the error reply 'error' to a request with 'xid'. */
static void
feed_error(struct ofconn *conn, ovs_be32 xid, enum ofperr error)
{
    struct ofpbuf *req = role_request(ofconn_get_version(conn), xid);

    peer_feed(conn, ofperr_encode_reply(error, req->data), 0);
    ofpbuf_delete(req);
}

/* Returns a switch for 're' on which the controller is confirmed master at
 * generation 'gen'. */
static struct ofconn *
master_of(struct role_events *re, enum ofp_version version, uint64_t gen)
{
    struct ofconn *conn = role_connected(re, version);
    struct ofputil_role_request rr;
    ovs_be32 xid;

    ofconn_set_role(conn, OFPCR12_ROLE_MASTER, gen);
    xid = pop_role_request(conn, &rr);
    CU_ASSERT_NOT_EQUAL(xid, 0);
    feed_role_reply(conn, xid, OFPCR12_ROLE_MASTER, gen);
    CU_ASSERT_TRUE(ofconn_may_write(conn));
    re->n_role_changed = 0;
    return conn;
}

/* A role asked before the handshake goes out when it completes, before
 * the owner hears 'ready'; writes wait for the switch's answer. */
static void
test_role_before_ready(void)
{
    struct role_events re;
    struct ofconn *conn = role_conn_create(&re);
    struct ofputil_role_request rr;
    struct ovs_list replies;
    struct ofpbuf *b;
    enum ofptype type;
    ovs_be32 xid = 0, desc_xid = 0;
    int n_early = 0;

    ofconn_set_role(conn, OFPCR12_ROLE_MASTER, 7);
    CU_ASSERT_FALSE(ofconn_may_write(conn));
    CU_ASSERT_STRING_EQUAL(ofconn_role_name(conn), "master?");

    /* Nothing about roles before the version is known and the switch
     * described. */
    while ((b = peer_pop(conn)) != NULL) {
        n_early += decode_role_request(b->data, &rr);
        ofpbuf_delete(b);
    }
    peer_feed(conn, peer_hello(1u << OFP13_VERSION), 0);
    CU_ASSERT_EQUAL(peer_pop_type(conn, &type, &xid), 0);
    CU_ASSERT_EQUAL(type, OFPTYPE_FEATURES_REQUEST);
    peer_feed(conn, peer_features_reply(OFP13_VERSION, xid, 0x42), 0);
    while ((b = peer_pop(conn)) != NULL) {
        const struct ofp_header *oh = b->data;

        n_early += decode_role_request(oh, &rr);
        if (!ofptype_decode(&type, oh)
            && type == OFPTYPE_PORT_DESC_STATS_REQUEST) {
            desc_xid = oh->xid;
        }
        ofpbuf_delete(b);
    }
    CU_ASSERT_EQUAL(n_early, 0);
    CU_ASSERT_EQUAL(re.ev.n_ready, 0);

    init_ports3();
    peer_port_desc_reply(OFP13_VERSION, desc_xid, ports3, 3, &replies);
    LIST_FOR_EACH_POP (b, list_node, &replies) {
        peer_feed(conn, b, 0);
    }
    CU_ASSERT_EQUAL(re.ev.n_ready, 1);
    /* The request was queued when 'ready' ran. */
    CU_ASSERT_EQUAL(re.n_ready_role_requests, 1);
    CU_ASSERT_EQUAL(re.ready_rr.role, OFPCR12_ROLE_MASTER);
    CU_ASSERT_TRUE(re.ready_rr.have_generation_id);
    CU_ASSERT_EQUAL(re.ready_rr.generation_id, 7);
    CU_ASSERT_FALSE(ofconn_may_write(conn));
    CU_ASSERT_TRUE(ofconn_role_is_pending(conn));

    feed_role_reply(conn, re.ready_role_xid, OFPCR12_ROLE_MASTER, 7);
    CU_ASSERT_TRUE(ofconn_may_write(conn));
    CU_ASSERT_EQUAL(ofconn_get_role(conn), OFPCR12_ROLE_MASTER);
    CU_ASSERT_EQUAL(ofconn_get_generation(conn), 7);
    CU_ASSERT_STRING_EQUAL(ofconn_role_name(conn), "master");
    CU_ASSERT_EQUAL(re.n_role_changed, 1);
    ofconn_destroy(conn);
}

/* Writes wait for the reply to the latest request; a reply with another
 * xid is no answer; the reply is not passed on as a message. */
static void
test_role_may_write_after_reply(void)
{
    struct role_events re;
    struct ofconn *conn = role_connected(&re, OFP15_VERSION);
    struct ofputil_role_request rr;
    ovs_be32 xid;

    CU_ASSERT_TRUE(ofconn_may_write(conn));
    ofconn_set_role(conn, OFPCR12_ROLE_MASTER, 3);
    CU_ASSERT_FALSE(ofconn_may_write(conn));
    xid = pop_role_request(conn, &rr);
    CU_ASSERT_NOT_EQUAL_FATAL(xid, 0);
    CU_ASSERT_EQUAL(rr.role, OFPCR12_ROLE_MASTER);
    CU_ASSERT_EQUAL(rr.generation_id, 3);

    feed_role_reply(conn, htonl(ntohl(xid) + 1000), OFPCR12_ROLE_MASTER, 3);
    CU_ASSERT_FALSE(ofconn_may_write(conn));
    CU_ASSERT_EQUAL(re.n_role_changed, 0);

    feed_role_reply(conn, xid, OFPCR12_ROLE_MASTER, 3);
    CU_ASSERT_TRUE(ofconn_may_write(conn));
    CU_ASSERT_EQUAL(re.n_role_changed, 1);
    CU_ASSERT_EQUAL(re.ev.n_messages, 0);
    CU_ASSERT_EQUAL(ofconn_get_stats(conn)->bad_msgs, 0);

    /* The same role and generation again: nothing sent, still writable. */
    ofconn_set_role(conn, OFPCR12_ROLE_MASTER, 3);
    CU_ASSERT_PTR_NULL(peer_pop(conn));
    CU_ASSERT_TRUE(ofconn_may_write(conn));

    /* A new generation: asked again, and writes wait again. */
    ofconn_set_role(conn, OFPCR12_ROLE_MASTER, 4);
    CU_ASSERT_FALSE(ofconn_may_write(conn));
    xid = pop_role_request(conn, &rr);
    CU_ASSERT_EQUAL(rr.generation_id, 4);
    feed_role_reply(conn, xid, OFPCR12_ROLE_MASTER, 4);
    CU_ASSERT_TRUE(ofconn_may_write(conn));

    /* Equal writes too; slave does not, from the moment it is asked. */
    ofconn_set_role(conn, OFPCR12_ROLE_EQUAL, 4);
    xid = pop_role_request(conn, &rr);
    CU_ASSERT_STRING_EQUAL(ofconn_role_name(conn), "equal?");
    feed_role_reply(conn, xid, OFPCR12_ROLE_EQUAL, 4);
    CU_ASSERT_TRUE(ofconn_may_write(conn));
    CU_ASSERT_STRING_EQUAL(ofconn_role_name(conn), "equal");
    ofconn_set_role(conn, OFPCR12_ROLE_SLAVE, 4);
    CU_ASSERT_FALSE(ofconn_may_write(conn));
    xid = pop_role_request(conn, &rr);
    CU_ASSERT_EQUAL(rr.role, OFPCR12_ROLE_SLAVE);
    feed_role_reply(conn, xid, OFPCR12_ROLE_SLAVE, 4);
    CU_ASSERT_FALSE(ofconn_may_write(conn));
    CU_ASSERT_EQUAL(ofconn_get_role(conn), OFPCR12_ROLE_SLAVE);
    CU_ASSERT_STRING_EQUAL(ofconn_role_name(conn), "slave");
    CU_ASSERT_EQUAL(re.ev.n_messages, 0);
    ofconn_destroy(conn);
}

/* Another controller becomes master: the switch's role status makes us a
 * slave, in OpenFlow 1.3 (an ONF extension) as in 1.4 and later. */
static void
test_role_status_demotes(void)
{
    enum ofp_version versions[] = { OFP13_VERSION, OFP14_VERSION,
                                    OFP15_VERSION };

    for (size_t i = 0; i < ARRAY_SIZE(versions); i++) {
        struct role_events re;
        struct ofconn *conn = master_of(&re, versions[i], 5);

        feed_role_status(conn, OFPCR12_ROLE_SLAVE, 6);
        CU_ASSERT_FALSE(ofconn_may_write(conn));
        CU_ASSERT_EQUAL(ofconn_get_role(conn), OFPCR12_ROLE_SLAVE);
        CU_ASSERT_EQUAL(ofconn_get_generation(conn), 6);
        CU_ASSERT_STRING_EQUAL(ofconn_role_name(conn), "slave");
        CU_ASSERT_EQUAL(re.n_role_changed, 1);
        CU_ASSERT_EQUAL(re.ev.n_messages, 0);
        CU_ASSERT_EQUAL(ofconn_get_stats(conn)->bad_msgs, 0);
        CU_ASSERT_PTR_NULL(peer_pop(conn));
        ofconn_destroy(conn);
    }
}

/* A stale generation id: the switch refuses the request, and we are not
 * master. */
static void
test_role_stale_demotes(void)
{
    struct role_events re;
    struct ofconn *conn = role_connected(&re, OFP13_VERSION);
    struct ofputil_role_request rr;
    ovs_be32 xid;

    ofconn_set_role(conn, OFPCR12_ROLE_MASTER, 1);
    xid = pop_role_request(conn, &rr);
    feed_error(conn, xid, OFPERR_OFPRRFC_STALE);
    CU_ASSERT_FALSE(ofconn_may_write(conn));
    CU_ASSERT_FALSE(ofconn_role_is_pending(conn));
    CU_ASSERT_EQUAL(ofconn_get_role(conn), OFPCR12_ROLE_SLAVE);
    CU_ASSERT_STRING_EQUAL(ofconn_role_name(conn), "slave");
    CU_ASSERT_EQUAL(re.n_role_changed, 1);
    /* Our own request's error is ours, not the owner's. */
    CU_ASSERT_EQUAL(re.ev.n_errors, 0);
    CU_ASSERT_EQUAL(ofconn_get_stats(conn)->rx_errors, 1);

    /* Confirmed master before, the same: a new generation refused. */
    ofconn_destroy(conn);
    conn = master_of(&re, OFP15_VERSION, 1);
    ofconn_set_role(conn, OFPCR12_ROLE_MASTER, 2);
    xid = pop_role_request(conn, &rr);
    feed_error(conn, xid, OFPERR_OFPRRFC_STALE);
    CU_ASSERT_FALSE(ofconn_may_write(conn));
    CU_ASSERT_EQUAL(ofconn_get_role(conn), OFPCR12_ROLE_SLAVE);
    CU_ASSERT_EQUAL(re.n_role_changed, 1);
    CU_ASSERT_EQUAL(re.ev.n_errors, 0);
    ofconn_destroy(conn);
}

/* A message refused because we are a slave makes us one, before the owner
 * hears of the error. */
static void
test_role_is_slave_error_demotes(void)
{
    struct role_events re;
    struct ofconn *conn = master_of(&re, OFP15_VERSION, 1);

    feed_error(conn, htonl(0x1234), OFPERR_OFPBRC_IS_SLAVE);
    CU_ASSERT_FALSE(ofconn_may_write(conn));
    CU_ASSERT_EQUAL(ofconn_get_role(conn), OFPCR12_ROLE_SLAVE);
    CU_ASSERT_EQUAL(re.n_role_changed, 1);
    CU_ASSERT_EQUAL(re.ev.n_errors, 1);
    CU_ASSERT_EQUAL(re.ev.last_error, OFPERR_OFPBRC_IS_SLAVE);
    CU_ASSERT_EQUAL(re.ev.last_error_xid, htonl(0x1234));
    CU_ASSERT_FALSE(re.may_write_at_error);

    /* A second one changes nothing more. */
    feed_error(conn, htonl(0x1235), OFPERR_OFPBRC_IS_SLAVE);
    CU_ASSERT_EQUAL(re.n_role_changed, 1);
    CU_ASSERT_EQUAL(re.ev.n_errors, 2);
    ofconn_destroy(conn);
}

/* With no role asked, nothing changes: writes are allowed, whatever the
 * switch says of roles, and its role messages are not passed on. */
static void
test_role_none_writes(void)
{
    struct role_events re;
    struct ofconn *conn = role_connected(&re, OFP15_VERSION);

    CU_ASSERT_TRUE(ofconn_may_write(conn));
    CU_ASSERT_EQUAL(ofconn_get_role(conn), OFPCR12_ROLE_NOCHANGE);
    CU_ASSERT_EQUAL(ofconn_get_role_asked(conn), OFPCR12_ROLE_NOCHANGE);
    CU_ASSERT_FALSE(ofconn_role_is_pending(conn));
    CU_ASSERT_STRING_EQUAL(ofconn_role_name(conn), "none");
    CU_ASSERT_EQUAL(re.n_ready_role_requests, 0);

    feed_role_status(conn, OFPCR12_ROLE_SLAVE, 2);
    feed_role_reply(conn, htonl(77), OFPCR12_ROLE_SLAVE, 2);
    CU_ASSERT_TRUE(ofconn_may_write(conn));
    CU_ASSERT_EQUAL(re.ev.n_messages, 0);
    CU_ASSERT_PTR_NULL(peer_pop(conn));
    ofconn_destroy(conn);
}

static const struct test_case ofconn_tests[] = {
    { "handshake", test_handshake },
    { "handshake sends set-config and port-desc",
      test_handshake_sends_set_config },
    { "negotiates the highest common version",
      test_negotiates_highest_common },
    { "no common version", test_no_common_version },
    { "first message not hello", test_first_message_not_hello },
    { "unknown type", test_unknown_type },
    { "wrong version after negotiation", test_wrong_version },
    { "body that fails to decode", test_undecodable_body },
    { "echo reply", test_echo_reply },
    { "port status add, modify, delete", test_port_status },
    { "port description in several parts", test_port_desc_multipart },
    { "port status during port description",
      test_port_status_during_port_desc },
    { "barriers by xid", test_barriers },
    { "barrier needs a connection", test_barrier_needs_connection },
    { "error reply correlated by xid", test_error_correlation },
    { "other messages passed on", test_other_messages_passed_on },
    { "echo probe and inactivity timeout", test_probe_and_timeout },
    { "handshake timeout", test_handshake_timeout },
    { "length mismatch ignored", test_length_mismatch_ignored },
    { "role asked early goes out after the handshake, before ready",
      test_role_before_ready },
    { "writes wait for the role reply", test_role_may_write_after_reply },
    { "role status: another master makes us slave",
      test_role_status_demotes },
    { "stale generation refused: slave", test_role_stale_demotes },
    { "is-slave error: slave, then the owner hears it",
      test_role_is_slave_error_demotes },
    { "no role asked: writes as before", test_role_none_writes },
    { NULL, NULL },
};
TEST_SUITE("ofconn", ofconn_tests)
