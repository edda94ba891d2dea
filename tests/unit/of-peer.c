/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "of-peer.h"

#include <CUnit/CUnit.h>
#include <string.h>
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/list.h"
#include "flow.h"
#include "util.h"

static void
ready__(struct ofconn *conn OVS_UNUSED, void *ev_)
{
    struct peer_events *ev = ev_;
    ev->n_ready++;
}

static void
port_changed__(struct ofconn *conn OVS_UNUSED,
               const struct ofputil_phy_port *old,
               const struct ofputil_phy_port *new, void *ev_)
{
    struct peer_events *ev = ev_;

    ev->n_port_changed++;
    if (!old) {
        ev->n_added++;
    } else if (!new) {
        ev->n_deleted++;
    } else {
        ev->n_modified++;
    }
}

static void
error__(struct ofconn *conn OVS_UNUSED, enum ofperr error, ovs_be32 xid,
        void *ev_)
{
    struct peer_events *ev = ev_;

    ev->n_errors++;
    ev->last_error = error;
    ev->last_error_xid = xid;
}

static void
message__(struct ofconn *conn OVS_UNUSED, enum ofptype type,
          const struct ofp_header *oh OVS_UNUSED, void *ev_)
{
    struct peer_events *ev = ev_;

    ev->n_messages++;
    ev->last_type = type;
}

const struct ofconn_hooks peer_hooks = {
    .ready = ready__,
    .port_changed = port_changed__,
    .error = error__,
    .message = message__,
};

/* Creates an ofconn with default settings whose hooks count into 'ev'. */
struct ofconn *
peer_conn_create(struct peer_events *ev, long long int now)
{
    struct ofconn_settings settings;

    memset(ev, 0, sizeof *ev);
    ofconn_settings_init(&settings);
    return ofconn_create("test", &settings, &peer_hooks, ev, now);
}

/* Feeds message 'b' (freed) to 'conn', as a switch would send it. */
void
peer_feed(struct ofconn *conn, struct ofpbuf *b, long long int now)
{
    ofpmsg_update_length(b);
    ofconn_receive(conn, b->data, b->size, now);
    ofpbuf_delete(b);
}

/* Feeds 'n' raw bytes at 'data' to 'conn' as one message. */
void
peer_feed_raw(struct ofconn *conn, const void *data, size_t n,
              long long int now)
{
    ofconn_receive(conn, data, n, now);
}

/* Returns the next message 'conn' sent, or NULL; the caller frees it. */
struct ofpbuf *
peer_pop(struct ofconn *conn)
{
    return ofconn_pop_tx(conn);
}

/* Pops the next message 'conn' sent and stores its type and xid.  Returns
 * 0, ENOENT if none was queued, or an OFPERR if it does not decode. */
int
peer_pop_type(struct ofconn *conn, enum ofptype *type, ovs_be32 *xid)
{
    struct ofpbuf *b = ofconn_pop_tx(conn);
    int error;

    if (!b) {
        return ENOENT;
    }
    error = ofptype_decode(type, b->data);
    if (xid) {
        *xid = ((const struct ofp_header *) b->data)->xid;
    }
    ofpbuf_delete(b);
    return error;
}

/* Discards everything 'conn' queued. */
void
peer_drain(struct ofconn *conn)
{
    struct ofpbuf *b;

    while ((b = ofconn_pop_tx(conn)) != NULL) {
        ofpbuf_delete(b);
    }
}

/* Returns a port 'port_no' named 'name' that is up and live, or down. */
struct ofputil_phy_port
peer_port(uint16_t port_no, const char *name, bool up)
{
    struct ofputil_phy_port pp;

    memset(&pp, 0, sizeof pp);
    pp.port_no = u16_to_ofp(port_no);
    ovs_strlcpy(pp.name, name, sizeof pp.name);
    pp.hw_addr = (struct eth_addr) { { { 0x02, 0, 0, 0, port_no >> 8,
                                         port_no & 0xff } } };
    pp.state = up ? OFPUTIL_PS_LIVE : OFPUTIL_PS_LINK_DOWN;
    pp.config = up ? 0 : OFPUTIL_PC_PORT_DOWN;
    return pp;
}

struct ofpbuf *
peer_hello(uint32_t versions)
{
    return ofputil_encode_hello(versions);
}

struct ofpbuf *
peer_features_reply(enum ofp_version version, ovs_be32 xid, uint64_t dpid)
{
    struct ofputil_switch_features f;

    memset(&f, 0, sizeof f);
    f.datapath_id = dpid;
    f.n_tables = 254;
    f.capabilities = OFPUTIL_C_FLOW_STATS | OFPUTIL_C_GROUP_STATS;
    return ofputil_encode_switch_features(
        &f, ofputil_protocol_from_ofp_version(version), xid);
}

/* Builds the port description reply to request 'xid' with the 'n' ports in
 * 'ports', in as many parts as it takes, into 'replies'. */
void
peer_port_desc_reply(enum ofp_version version, ovs_be32 xid,
                     const struct ofputil_phy_port *ports, size_t n,
                     struct ovs_list *replies)
{
    struct ofpbuf *req;

    req = ofputil_encode_port_desc_stats_request(version, OFPP_ANY);
    ofpmsg_update_length(req);
    ((struct ofp_header *) req->data)->xid = xid;
    ofpmp_init(replies, req->data);
    for (size_t i = 0; i < n; i++) {
        ofputil_append_port_desc_stats_reply(&ports[i], replies);
    }
    ofpbuf_delete(req);
}

struct ofpbuf *
peer_port_status(enum ofp_version version, enum ofp_port_reason reason,
                 const struct ofputil_phy_port *pp)
{
    struct ofputil_port_status ps = { .reason = reason, .desc = *pp };

    return ofputil_encode_port_status(
        &ps, ofputil_protocol_from_ofp_version(version));
}

/* Takes 'conn' through the whole handshake as a switch with 'dpid' and
 * 'n_ports' ports that speaks exactly 'version'. */
void
peer_handshake(struct ofconn *conn, enum ofp_version version, uint64_t dpid,
               const struct ofputil_phy_port *ports, size_t n_ports,
               long long int now)
{
    struct ovs_list replies;
    struct ofpbuf *b;
    enum ofptype type;
    ovs_be32 xid = 0, desc_xid = 0;

    CU_ASSERT_EQUAL(peer_pop_type(conn, &type, NULL), 0);
    CU_ASSERT_EQUAL(type, OFPTYPE_HELLO);
    peer_feed(conn, peer_hello(1u << version), now);

    CU_ASSERT_EQUAL(peer_pop_type(conn, &type, &xid), 0);
    CU_ASSERT_EQUAL(type, OFPTYPE_FEATURES_REQUEST);
    peer_feed(conn, peer_features_reply(version, xid, dpid), now);

    while (!peer_pop_type(conn, &type, &xid)) {
        if (type == OFPTYPE_PORT_DESC_STATS_REQUEST) {
            desc_xid = xid;
        }
    }
    CU_ASSERT_NOT_EQUAL(desc_xid, 0);
    peer_port_desc_reply(version, desc_xid, ports, n_ports, &replies);
    LIST_FOR_EACH_POP (b, list_node, &replies) {
        peer_feed(conn, b, now);
    }
}
