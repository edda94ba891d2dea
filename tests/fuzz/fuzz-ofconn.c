/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the bytes a switch sends: framing (ofpframe) and the
 * protocol (ofconn), exactly as ofsrv drives them.
 *
 * The first input byte chooses where the bytes arrive: even, on a fresh
 * connection (so the handshake itself is fuzzed); odd, on a connection that
 * already completed an OpenFlow 1.3 handshake with two ports (so port
 * status, errors, barriers and the rest are reached without the fuzzer
 * having to find a valid handshake first).  The rest is the byte stream. */

#include <config.h>

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "ofconn.h"
#include "ofpframe.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "flow.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
drain(struct ofconn *conn, ovs_be32 *xidp, enum ofptype want)
{
    struct ofpbuf *b;

    while ((b = ofconn_pop_tx(conn)) != NULL) {
        enum ofptype type;
        if (xidp && !ofptype_decode(&type, b->data) && type == want) {
            *xidp = ((const struct ofp_header *) b->data)->xid;
        }
        ofpbuf_delete(b);
    }
}

static void
feed(struct ofconn *conn, struct ofpbuf *b)
{
    ofpmsg_update_length(b);
    ofconn_receive(conn, b->data, b->size, 0);
    ofpbuf_delete(b);
}

static void
barrier_cb(struct ofconn *conn OVS_UNUSED, int status OVS_UNUSED,
           void *aux OVS_UNUSED)
{
}

/* Completes an OpenFlow 1.3 handshake on 'conn'. */
static void
handshake(struct ofconn *conn)
{
    struct ofputil_switch_features f = { .datapath_id = 1, .n_tables = 8 };
    struct ofputil_phy_port pp;
    struct ovs_list replies;
    struct ofpbuf *req, *b;
    ovs_be32 xid = 0;

    drain(conn, NULL, 0);
    feed(conn, ofputil_encode_hello(1u << OFP13_VERSION));
    drain(conn, &xid, OFPTYPE_FEATURES_REQUEST);
    feed(conn, ofputil_encode_switch_features(&f, OFPUTIL_P_OF13_OXM, xid));
    drain(conn, &xid, OFPTYPE_PORT_DESC_STATS_REQUEST);

    req = ofputil_encode_port_desc_stats_request(OFP13_VERSION, OFPP_ANY);
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
        feed(conn, b);
    }
    /* A pending barrier, so that barrier replies have something to find. */
    ofconn_send_barrier(conn, barrier_cb, NULL);
    drain(conn, NULL, 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool initialized;
    struct ofconn_settings settings;
    struct ofconn *conn;
    long long int now = 0;

    if (!initialized) {
        initialized = true;
        vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    }
    if (!size) {
        return 0;
    }

    ofconn_settings_init(&settings);
    conn = ofconn_create("fuzz", &settings, NULL, NULL, now);
    if (data[0] & 1) {
        handshake(conn);
    }
    data++;
    size--;

    while (!ofconn_is_closed(conn)) {
        size_t len;
        if (ofpframe_check(data, size, &len) != OFPFRAME_COMPLETE) {
            break;
        }
        ofconn_receive(conn, data, len, now);
        drain(conn, NULL, 0);
        data += len;
        size -= len;
        now += 700;
        ofconn_run(conn, now);
    }
    drain(conn, NULL, 0);
    ofconn_destroy(conn);
    return 0;
}
