/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "ofconn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "byte-order.h"
#include "hash.h"
#include "openflow/openflow.h"
#include "openvswitch/ofp-connection.h"
#include "openvswitch/ofp-port.h"
#include "flow.h"
#include "openvswitch/ofp-print.h"
#include "openvswitch/ofp-switch.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ofconn);

/* Per-message noise (bad messages from one peer) is rate-limited. */
static struct vlog_rate_limit bad_rl = VLOG_RATE_LIMIT_INIT(5, 20);
static struct vlog_rate_limit err_rl = VLOG_RATE_LIMIT_INIT(10, 50);

/* The type number of a hello, the same in every OpenFlow version. */
#define OFCONN_OFPT_HELLO 0

/* Number of sent requests remembered for matching error replies. */
#define SENT_LOG_SIZE 256

/* A request we sent, for naming it when an error reply comes back. */
struct sent_request {
    ovs_be32 xid;               /* Its transaction id. */
    enum ofpraw raw;            /* Its type. */
    bool valid;                 /* False if this slot is unused. */
};

/* A barrier request waiting for its reply. */
struct pending_barrier {
    struct hmap_node hmap_node; /* In 'barriers', by xid. */
    ovs_be32 xid;               /* The barrier request's xid. */
    ofconn_barrier_cb *cb;      /* Called on reply or close. */
    void *aux;                  /* Passed to 'cb'. */
};

struct ofconn {
    char *name;                 /* Peer name, for logs. */
    struct ofconn_settings settings; /* As given at creation. */
    struct ofconn_hooks hooks;  /* Callbacks into the owner. */
    void *aux;                  /* Passed to 'hooks'. */

    struct ofsm fsm;            /* Handshake and liveness. */
    enum ofp_version version;   /* Negotiated version, 0 before. */
    uint64_t dpid;              /* Datapath id, 0 before features. */
    struct ofputil_switch_features features; /* From the features reply. */
    long long int connected_at; /* When the handshake completed. */
    char *close_reason;         /* Why it closed, NULL while open. */

    struct hmap ports;          /* Contains "struct ofconn_port"s. */
    struct hmap new_ports;      /* Port description being reassembled. */
    bool ports_pending;         /* True while 'new_ports' is in use. */
    ovs_be32 port_desc_xid;     /* The port description request's xid. */

    struct hmap barriers;       /* Contains "struct pending_barrier"s. */
    struct sent_request sent[SENT_LOG_SIZE]; /* Recent requests by xid. */

    /* Controller role (see ofconn_set_role()). */
    bool role_asked;            /* A role was ever asked. */
    bool role_unsent;           /* Asked before the handshake: goes out as
                                 * it completes. */
    enum ofp12_controller_role role_wanted; /* The role last asked. */
    uint64_t role_wanted_gen;   /* The generation id last asked. */
    ovs_be32 role_xid;          /* The role request awaiting its reply, or
                                 * 0 if none. */
    enum ofp12_controller_role role; /* As the switch last told it:
                                 * OFPCR12_ROLE_NOCHANGE before it did. */
    uint64_t generation_id;     /* Latest generation id known. */

    struct ovs_list txq;        /* Contains "struct ofpbuf"s to send. */
    void (*tx_wakeup)(void *);  /* Called when 'txq' becomes nonempty. */
    void *tx_wakeup_aux;        /* Passed to 'tx_wakeup'. */
    struct ofconn_stats stats;  /* Counters. */
};

static void ofconn_handle__(struct ofconn *, const struct ofp_header *,
                            long long int now);
static void ports_clear__(struct hmap *);
static void send_role_request__(struct ofconn *);

/* Sets 'settings' to the defaults: OpenFlow 1.3 to 1.5, a 5 s probe
 * interval (as OVS uses for its controllers) and a 10 s handshake timeout. */
void
ofconn_settings_init(struct ofconn_settings *settings)
{
    settings->allowed_versions = OFCONN_DEFAULT_VERSIONS;
    settings->probe_interval = 5000;
    settings->handshake_timeout = 10000;
    settings->miss_send_len = 128;
}

/* Creates a connection to a switch known as 'name' at time 'now', with
 * 'settings', reporting to 'hooks' with 'aux'.  Our hello is queued at
 * once. */
struct ofconn *
ofconn_create(const char *name, const struct ofconn_settings *settings,
              const struct ofconn_hooks *hooks, void *aux, long long int now)
{
    struct ofconn *conn = xzalloc(sizeof *conn);

    conn->name = xstrdup(name);
    conn->settings = *settings;
    if (hooks) {
        conn->hooks = *hooks;
    }
    conn->aux = aux;
    ofsm_init(&conn->fsm, settings->probe_interval,
              settings->handshake_timeout, now);
    hmap_init(&conn->ports);
    hmap_init(&conn->new_ports);
    hmap_init(&conn->barriers);
    ovs_list_init(&conn->txq);

    ofconn_send(conn, ofputil_encode_hello(settings->allowed_versions));
    return conn;
}

/* Destroys 'conn', first telling every pending barrier, then the owner's
 * 'closed' hook, that the connection closed.  Accepts NULL. */
void
ofconn_destroy(struct ofconn *conn)
{
    struct pending_barrier *pb;
    struct ofpbuf *b;

    if (!conn) {
        return;
    }

    HMAP_FOR_EACH_POP (pb, hmap_node, &conn->barriers) {
        pb->cb(conn, ECONNRESET, pb->aux);
        free(pb);
    }
    hmap_destroy(&conn->barriers);
    if (conn->hooks.closed) {
        conn->hooks.closed(conn, conn->aux);
    }

    ports_clear__(&conn->ports);
    hmap_destroy(&conn->ports);
    ports_clear__(&conn->new_ports);
    hmap_destroy(&conn->new_ports);

    LIST_FOR_EACH_POP (b, list_node, &conn->txq) {
        ofpbuf_delete(b);
    }
    free(conn->close_reason);
    free(conn->name);
    free(conn);
}

/* Closes 'conn' at 'now' for 'reason' (logged).  Messages already queued,
 * such as an error reply explaining the close, stay queued so that the
 * caller can still send them.  Closing twice keeps the first reason. */
void
ofconn_close(struct ofconn *conn, const char *reason, long long int now)
{
    if (!conn->close_reason) {
        conn->close_reason = xstrdup(reason);
        VLOG_INFO("%s: closing connection: %s", conn->name, reason);
        ofsm_close(&conn->fsm, now);
    }
}

/* Returns true if 'conn' is closed: the caller sends what is queued and
 * then destroys it. */
bool
ofconn_is_closed(const struct ofconn *conn)
{
    return conn->close_reason != NULL;
}

/* Returns why 'conn' closed, or NULL if it is open. */
const char *
ofconn_close_reason(const struct ofconn *conn)
{
    return conn->close_reason;
}

/* Remembers that a request with 'xid' of type 'raw' was sent. */
static void
sent_log_add__(struct ofconn *conn, ovs_be32 xid, enum ofpraw raw)
{
    struct sent_request *sr = &conn->sent[ntohl(xid) % SENT_LOG_SIZE];

    sr->xid = xid;
    sr->raw = raw;
    sr->valid = true;
}

/* Returns true if the recent request with 'xid' was of type 'raw'. */
static bool
sent_log_is__(const struct ofconn *conn, ovs_be32 xid, enum ofpraw raw)
{
    const struct sent_request *sr = &conn->sent[ntohl(xid) % SENT_LOG_SIZE];

    return sr->valid && sr->xid == xid && sr->raw == raw;
}

/* Returns the name of the recent request with 'xid', or NULL if unknown. */
static const char *
sent_log_find__(const struct ofconn *conn, ovs_be32 xid)
{
    const struct sent_request *sr = &conn->sent[ntohl(xid) % SENT_LOG_SIZE];

    return sr->valid && sr->xid == xid ? ofpraw_get_name(sr->raw) : NULL;
}

/* Queues 'msg' for sending on 'conn', taking ownership.  A message queued on
 * a closed connection still goes out before the socket closes, which is how
 * an error reply explaining the close reaches the peer. */
void
ofconn_send(struct ofconn *conn, struct ofpbuf *msg)
{
    const struct ofp_header *oh;
    enum ofpraw raw;

    /* Encoders append bodies after the header; fix its length field. */
    ofpmsg_update_length(msg);
    oh = msg->data;
    if (!ofpraw_decode_partial(&raw, msg->data, msg->size)) {
        sent_log_add__(conn, oh->xid, raw);
    }
    if (VLOG_IS_DBG_ENABLED()) {
        char *s = ofp_to_string(msg->data, msg->size, NULL, NULL, 1);
        VLOG_DBG("%s: sent: %s", conn->name, s);
        free(s);
    }
    conn->stats.tx_msgs++;
    if (ovs_list_is_empty(&conn->txq) && conn->tx_wakeup) {
        conn->tx_wakeup(conn->tx_wakeup_aux);
    }
    ovs_list_push_back(&conn->txq, &msg->list_node);
}

/* Arranges for 'wakeup' to be called with 'aux' whenever a message is
 * queued on 'conn' while its queue is empty, so that the I/O layer writes
 * messages queued from outside its own callbacks (by a timer or a control
 * command, say). */
void
ofconn_set_tx_wakeup(struct ofconn *conn, void (*wakeup)(void *aux),
                     void *aux)
{
    conn->tx_wakeup = wakeup;
    conn->tx_wakeup_aux = aux;
}

/* Removes and returns the next message to send, or NULL if none.  The caller
 * owns it. */
struct ofpbuf *
ofconn_pop_tx(struct ofconn *conn)
{
    if (ovs_list_is_empty(&conn->txq)) {
        return NULL;
    }
    return CONTAINER_OF(ovs_list_pop_front(&conn->txq), struct ofpbuf,
                        list_node);
}

/* Sends a barrier request on the connected 'conn' and arranges for 'cb' to
 * be called with 'aux' when its reply arrives or the connection closes.
 * Returns the barrier's xid, or 0 (and never calls 'cb') if 'conn' is not
 * connected. */
ovs_be32
ofconn_send_barrier(struct ofconn *conn, ofconn_barrier_cb *cb, void *aux)
{
    struct pending_barrier *pb;
    struct ofpbuf *b;

    if (!ofconn_is_connected(conn)) {
        return 0;
    }

    b = ofputil_encode_barrier_request(conn->version);
    pb = xmalloc(sizeof *pb);
    pb->xid = ((const struct ofp_header *) b->data)->xid;
    pb->cb = cb;
    pb->aux = aux;
    hmap_insert(&conn->barriers, &pb->hmap_node, hash_int(pb->xid, 0));
    ofconn_send(conn, b);
    return pb->xid;
}

/* Sends an error reply with 'error' to the message 'oh' of 'len' bytes.
 * The reply and the copy of the request's header carry the negotiated
 * version (or, before negotiation, the highest one we allow), so that a
 * request with a version we don't speak still gets an error we can encode. */
static void
send_error__(struct ofconn *conn, enum ofperr error,
             const struct ofp_header *oh, size_t len)
{
    uint8_t copy[64];
    struct ofp_header *ch = (struct ofp_header *) copy;
    size_t n = MIN(len, sizeof copy);

    memcpy(copy, oh, n);
    ch->version = (conn->version
                   ? conn->version
                   : leftmost_1bit_idx(conn->settings.allowed_versions));
    ch->length = htons(n);
    ofconn_send(conn, ofperr_encode_reply(error, ch));
}

/* Logs the message 'oh' of 'len' bytes, rejected because of 'why', and
 * counts it. */
static void
log_bad__(struct ofconn *conn, const struct ofp_header *oh, size_t len,
          const char *why)
{
    conn->stats.bad_msgs++;
    if (!VLOG_DROP_WARN(&bad_rl)) {
        VLOG_WARN("%s: %s (version 0x%02x, type %u, length %zu, xid %#"
                  PRIx32")", conn->name, why, oh->version, oh->type, len,
                  ntohl(oh->xid));
    }
}

/* Processes the whole OpenFlow message of 'len' bytes at 'msg', received at
 * 'now'.  'len' must be at least 8 and equal to the header's length field
 * (see ofpframe_check()). */
void
ofconn_receive(struct ofconn *conn, const void *msg, size_t len,
               long long int now)
{
    const uint8_t *bytes = msg;
    struct ofp_header *oh;
    uint64_t stub[1024 / 8];
    struct ofpbuf b;

    /* 'msg' may be unaligned: read its length field byte by byte. */
    if (ofconn_is_closed(conn) || len < sizeof *oh
        || len != (((size_t) bytes[2] << 8) | bytes[3])) {
        return;
    }

    /* Copy into an aligned buffer: the decoders expect aligned headers. */
    ofpbuf_use_stub(&b, stub, sizeof stub);
    ofpbuf_put(&b, msg, len);
    oh = b.data;

    conn->stats.rx_msgs++;
    ofsm_received(&conn->fsm, now);
    if (VLOG_IS_DBG_ENABLED()) {
        char *s = ofp_to_string(oh, len, NULL, NULL, 1);
        VLOG_DBG("%s: received: %s", conn->name, s);
        free(s);
    }
    ofconn_handle__(conn, oh, now);
    ofpbuf_uninit(&b);
}

/* Negotiates the version from the peer's hello 'oh'. */
static void
handle_hello__(struct ofconn *conn, const struct ofp_header *oh,
               long long int now)
{
    uint32_t allowed = conn->settings.allowed_versions;
    uint32_t peer, common;

    if (!ofputil_decode_hello(oh, &peer)) {
        VLOG_WARN_RL(&bad_rl, "%s: unknown data in hello ignored",
                     conn->name);
    }
    common = peer & allowed;
    if (!common) {
        char reason[128];

        snprintf(reason, sizeof reason, "no common OpenFlow version (we "
                 "support bitmap %#"PRIx32", peer %#"PRIx32")",
                 allowed, peer);
        VLOG_WARN_RL(&bad_rl, "%s: version negotiation failed: %s",
                     conn->name, reason);
        conn->stats.bad_msgs++;
        ofconn_send(conn, ofperr_encode_hello(
                        OFPERR_OFPHFC_INCOMPATIBLE,
                        leftmost_1bit_idx(allowed), reason));
        ofconn_close(conn, "version negotiation failed", now);
        return;
    }

    conn->version = leftmost_1bit_idx(common);
    VLOG_DBG("%s: negotiated OpenFlow version %s", conn->name,
             ofputil_version_to_string(conn->version));
    ofconn_send(conn, ofpraw_alloc(OFPRAW_OFPT_FEATURES_REQUEST,
                                   conn->version, 0));
    ofsm_advance(&conn->fsm, OFSM_FEATURES, now);
}

/* Records the datapath id from the features reply 'oh', then asks for the
 * ports and configures the switch. */
static void
handle_features_reply__(struct ofconn *conn, const struct ofp_header *oh,
                        long long int now)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    struct ofputil_switch_config config;
    enum ofperr error;
    struct ofpbuf *req;

    error = ofputil_pull_switch_features(&b, &conn->features);
    if (error) {
        log_bad__(conn, oh, ntohs(oh->length), "bad features reply");
        ofconn_close(conn, "undecodable features reply", now);
        return;
    }
    conn->dpid = conn->features.datapath_id;

    config.frag = OFPUTIL_FRAG_NORMAL;
    config.invalid_ttl_to_controller = -1;
    config.miss_send_len = conn->settings.miss_send_len;
    ofconn_send(conn, ofputil_encode_set_config(&config, conn->version));

    req = ofputil_encode_port_desc_stats_request(conn->version, OFPP_ANY);
    conn->port_desc_xid = ((const struct ofp_header *) req->data)->xid;
    conn->ports_pending = true;
    ofconn_send(conn, req);
    ofsm_advance(&conn->fsm, OFSM_PORTS, now);
}

static void
ports_clear__(struct hmap *ports)
{
    struct ofconn_port *port;

    HMAP_FOR_EACH_POP (port, hmap_node, ports) {
        free(port);
    }
}

static struct ofconn_port *
port_find__(const struct hmap *ports, ofp_port_t port_no)
{
    struct ofconn_port *port;

    HMAP_FOR_EACH_WITH_HASH (port, hmap_node, hash_int(ofp_to_u16(port_no),
                                                       0), ports) {
        if (port->pp.port_no == port_no) {
            return port;
        }
    }
    return NULL;
}

/* Puts 'pp' into 'ports', replacing the entry with the same number. */
static void
port_put__(struct hmap *ports, const struct ofputil_phy_port *pp)
{
    struct ofconn_port *port = port_find__(ports, pp->port_no);

    if (!port) {
        port = xmalloc(sizeof *port);
        hmap_insert(ports, &port->hmap_node,
                    hash_int(ofp_to_u16(pp->port_no), 0));
    }
    port->pp = *pp;
}

static void
port_remove__(struct hmap *ports, ofp_port_t port_no)
{
    struct ofconn_port *port = port_find__(ports, port_no);

    if (port) {
        hmap_remove(ports, &port->hmap_node);
        free(port);
    }
}

/* Adds the ports in one part 'oh' of the port description reply.  On the
 * last part, the reassembled table replaces the port table and the handshake
 * completes. */
static void
handle_port_desc_reply__(struct ofconn *conn, const struct ofp_header *oh,
                         long long int now)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    struct ofputil_phy_port pp;
    enum ofperr error;
    enum ofpraw raw;
    int retval;

    if (!conn->ports_pending || oh->xid != conn->port_desc_xid) {
        VLOG_DBG("%s: unsolicited port description ignored", conn->name);
        return;
    }

    error = ofpraw_pull(&raw, &b);
    while (!error && (retval = ofputil_pull_phy_port(oh->version, &b, &pp))
           != EOF) {
        if (retval) {
            error = retval;
            break;
        }
        port_put__(&conn->new_ports, &pp);
    }
    if (error) {
        log_bad__(conn, oh, ntohs(oh->length), "bad port description");
        ports_clear__(&conn->new_ports);
        conn->ports_pending = false;
        ofconn_close(conn, "undecodable port description", now);
        return;
    }

    if (ofpmp_more(oh)) {
        return;
    }

    /* Swap the reassembled table in. */
    ports_clear__(&conn->ports);
    hmap_swap(&conn->ports, &conn->new_ports);
    conn->ports_pending = false;

    if (conn->fsm.state == OFSM_PORTS) {
        ofsm_advance(&conn->fsm, OFSM_ACTIVE, now);
        conn->connected_at = now;
        VLOG_INFO("%s: connected: dpid %016"PRIx64", %s, %"PRIuSIZE
                  " port%s", conn->name, conn->dpid,
                  ofputil_version_to_string(conn->version),
                  hmap_count(&conn->ports),
                  hmap_count(&conn->ports) == 1 ? "" : "s");
        if (conn->role_unsent) {
            /* Before the owner's first writes, which the switch refuses
             * from a slave. */
            send_role_request__(conn);
        }
        if (conn->hooks.ready) {
            conn->hooks.ready(conn, conn->aux);
        }
    }
}

/* Applies the port-status message 'oh' to the port table. */
static void
handle_port_status__(struct ofconn *conn, const struct ofp_header *oh,
                     long long int now OVS_UNUSED)
{
    struct ofputil_port_status ps;
    struct ofconn_port *port;
    struct ofputil_phy_port old;
    bool had_old;
    enum ofperr error;

    error = ofputil_decode_port_status(oh, &ps);
    if (error) {
        log_bad__(conn, oh, ntohs(oh->length), "bad port status");
        send_error__(conn, error, oh, ntohs(oh->length));
        return;
    }

    /* A port description may be in flight: keep it consistent too. */
    if (conn->ports_pending) {
        if (ps.reason == OFPPR_DELETE) {
            port_remove__(&conn->new_ports, ps.desc.port_no);
        } else {
            port_put__(&conn->new_ports, &ps.desc);
        }
    }

    port = port_find__(&conn->ports, ps.desc.port_no);
    had_old = port != NULL;
    if (had_old) {
        old = port->pp;
    }
    if (ps.reason == OFPPR_DELETE) {
        if (!had_old) {
            return;
        }
        port_remove__(&conn->ports, ps.desc.port_no);
    } else {
        if (had_old && !memcmp(&old, &ps.desc, sizeof old)) {
            return;             /* Edge-triggered: no change, no event. */
        }
        port_put__(&conn->ports, &ps.desc);
    }
    conn->stats.port_events++;

    VLOG_INFO("%s: port %"PRIu16" (%s) %s: %s, %s", conn->name,
              ofp_to_u16(ps.desc.port_no), ps.desc.name,
              ps.reason == OFPPR_DELETE ? "deleted"
              : had_old ? "modified" : "added",
              ofconn_port_is_up(&ps.desc) ? "up" : "down",
              ofconn_port_is_live(&ps.desc) ? "live" : "not live");

    if (ofsm_is_connected(&conn->fsm) && conn->hooks.port_changed) {
        conn->hooks.port_changed(conn, had_old ? &old : NULL,
                                 ps.reason == OFPPR_DELETE ? NULL : &ps.desc,
                                 conn->aux);
    }
}

/* Tells the owner of 'conn' that its role changed, once it knows of the
 * switch: a role status during the handshake is reflected in the state that
 * 'ready' finds. */
static void
role_changed__(struct ofconn *conn)
{
    if (ofsm_is_connected(&conn->fsm) && conn->hooks.role_changed) {
        conn->hooks.role_changed(conn, conn->aux);
    }
}

/* Makes 'conn' a slave, as the switch says for 'why', and tells the owner
 * if that changes anything. */
static void
demote__(struct ofconn *conn, const char *why)
{
    if (conn->role != OFPCR12_ROLE_SECONDARY) {
        VLOG_INFO("%s: controller role is now slave: %s", conn->name, why);
        conn->role = OFPCR12_ROLE_SECONDARY;
        role_changed__(conn);
    }
}

/* Logs the error reply 'oh' against the request that caused it.  An error
 * to our role request is ours; an OFPBRC_IS_SLAVE error makes us a slave
 * before the owner hears of it. */
static void
handle_error__(struct ofconn *conn, const struct ofp_header *oh)
{
    struct ofpbuf payload;
    enum ofperr error = ofperr_decode_msg(oh, &payload);
    const char *request = sent_log_find__(conn, oh->xid);

    conn->stats.rx_errors++;
    ofpbuf_uninit(&payload);
    if (!error) {
        log_bad__(conn, oh, ntohs(oh->length), "undecodable error message");
        return;
    }
    if (!VLOG_DROP_WARN(&err_rl)) {
        VLOG_WARN("%s: switch reports %s in reply to %s (xid %#"PRIx32")",
                  conn->name, ofperr_get_name(error),
                  request ? request : "an unknown request", ntohl(oh->xid));
    }
    if (sent_log_is__(conn, oh->xid, OFPRAW_OFPT12_ROLE_REQUEST)) {
        /* An older request's error, while a later one is in flight, says
         * nothing about the role that request asks for. */
        if (conn->role_xid == oh->xid) {
            conn->role_xid = 0;
            if (conn->role != OFPCR12_ROLE_SECONDARY) {
                demote__(conn, ofperr_get_name(error));
            } else {
                /* Still a slave, but no longer waiting for a reply. */
                role_changed__(conn);
            }
        }
        return;
    }
    if (error == OFPERR_OFPBRC_IS_SECONDARY) {
        demote__(conn, "the switch refused a message from a slave");
    }
    if (conn->hooks.error) {
        conn->hooks.error(conn, error, oh->xid, conn->aux);
    }
}

/* Returns the OpenFlow 1.3 name of 'role'. */
static const char *
role_name__(enum ofp12_controller_role role)
{
    switch (role) {
    case OFPCR12_ROLE_NOCHANGE:
        return "none";
    case OFPCR12_ROLE_EQUAL:
        return "equal";
    case OFPCR12_ROLE_PRIMARY:
        return "master";
    case OFPCR12_ROLE_SECONDARY:
        return "slave";
    }
    return "unknown";
}

/* Takes the role reply 'oh': the switch confirms the role of our latest
 * request.  A reply to an earlier request, overtaken by a later one, is
 * ignored. */
static void
handle_role_reply__(struct ofconn *conn, const struct ofp_header *oh)
{
    struct ofputil_role_request rr;
    enum ofperr error;

    error = ofputil_decode_role_message(oh, &rr);
    if (error) {
        log_bad__(conn, oh, ntohs(oh->length), "bad role reply");
        return;
    }
    if (!conn->role_xid || oh->xid != conn->role_xid) {
        VLOG_DBG("%s: role reply with unexpected xid %#"PRIx32" ignored",
                 conn->name, ntohl(oh->xid));
        return;
    }
    conn->role_xid = 0;
    conn->role = rr.role;
    if (rr.have_generation_id) {
        conn->generation_id = rr.generation_id;
    }
    if (rr.role != conn->role_wanted) {
        VLOG_WARN_RL(&bad_rl, "%s: asked to be %s, the switch made us %s",
                     conn->name, role_name__(conn->role_wanted),
                     role_name__(rr.role));
    }
    VLOG_INFO("%s: controller role is now %s (generation %"PRIu64")",
              conn->name, role_name__(conn->role), conn->generation_id);
    role_changed__(conn);
}

/* Takes the role status 'oh': the switch changed our role on its own,
 * because another controller became master or its configuration changed. */
static void
handle_role_status__(struct ofconn *conn, const struct ofp_header *oh)
{
    struct ofputil_role_status rs;
    enum ofperr error;

    error = ofputil_decode_role_status(oh, &rs);
    if (error || rs.role == OFPCR12_ROLE_NOCHANGE) {
        log_bad__(conn, oh, ntohs(oh->length), "bad role status");
        if (error) {
            send_error__(conn, error, oh, ntohs(oh->length));
        }
        return;
    }
    conn->generation_id = rs.generation_id;
    if (rs.role == OFPCR12_ROLE_SECONDARY) {
        demote__(conn, rs.reason == OFPCRR_PRIMARY_REQUEST
                 ? "another controller became master"
                 : "the switch says so");
    } else if (rs.role != conn->role) {
        conn->role = rs.role;
        VLOG_INFO("%s: the switch made us %s", conn->name,
                  role_name__(rs.role));
        role_changed__(conn);
    }
}

static void
handle_barrier_reply__(struct ofconn *conn, const struct ofp_header *oh)
{
    struct pending_barrier *pb;

    HMAP_FOR_EACH_WITH_HASH (pb, hmap_node, hash_int(oh->xid, 0),
                             &conn->barriers) {
        if (pb->xid == oh->xid) {
            hmap_remove(&conn->barriers, &pb->hmap_node);
            pb->cb(conn, 0, pb->aux);
            free(pb);
            return;
        }
    }
    VLOG_DBG("%s: barrier reply with unknown xid %#"PRIx32, conn->name,
             ntohl(oh->xid));
}

/* Dispatches the received message 'oh', whose length is validated. */
static void
ofconn_handle__(struct ofconn *conn, const struct ofp_header *oh,
                long long int now)
{
    size_t len = ntohs(oh->length);
    enum ofptype type;
    enum ofperr error;

    if (conn->fsm.state == OFSM_HELLO) {
        /* OpenFlow requires the hello first.  Like OVS's vconn, anything
         * else ends the connection: the stream is not OpenFlow. */
        if (oh->type != OFCONN_OFPT_HELLO) {
            log_bad__(conn, oh, len, "received message while expecting "
                      "hello");
            ofconn_close(conn, "protocol error: first message is not "
                         "a hello", now);
            return;
        }
        handle_hello__(conn, oh, now);
        return;
    }

    if (oh->version != conn->version) {
        log_bad__(conn, oh, len, "wrong OpenFlow version");
        send_error__(conn, OFPERR_OFPBRC_BAD_VERSION, oh, len);
        return;
    }

    error = ofptype_decode(&type, oh);
    if (error) {
        log_bad__(conn, oh, len, ofperr_get_name(error));
        send_error__(conn, error, oh, len);
        return;
    }

    switch (type) {
    case OFPTYPE_HELLO:
        VLOG_DBG("%s: duplicate hello ignored", conn->name);
        break;

    case OFPTYPE_ECHO_REQUEST:
        ofconn_send(conn, ofputil_encode_echo_reply(oh));
        break;

    case OFPTYPE_ECHO_REPLY:
        break;

    case OFPTYPE_ERROR:
        handle_error__(conn, oh);
        break;

    case OFPTYPE_FEATURES_REPLY:
        if (conn->fsm.state == OFSM_FEATURES) {
            handle_features_reply__(conn, oh, now);
        }
        break;

    case OFPTYPE_PORT_DESC_STATS_REPLY:
        handle_port_desc_reply__(conn, oh, now);
        break;

    case OFPTYPE_PORT_STATUS:
        handle_port_status__(conn, oh, now);
        break;

    case OFPTYPE_BARRIER_REPLY:
        handle_barrier_reply__(conn, oh);
        break;

    case OFPTYPE_ROLE_REPLY:
        handle_role_reply__(conn, oh);
        break;

    case OFPTYPE_ROLE_STATUS:
        handle_role_status__(conn, oh);
        break;

    default:
        if (ofsm_is_connected(&conn->fsm) && conn->hooks.message) {
            conn->hooks.message(conn, type, oh, conn->aux);
        } else {
            VLOG_DBG_RL(&bad_rl, "%s: %s ignored", conn->name,
                        ofptype_get_name(type));
        }
        break;
    }
}

/* Runs the timers of 'conn' at 'now': sends an echo request after silence
 * and closes a connection that stays silent or stalls in the handshake. */
void
ofconn_run(struct ofconn *conn, long long int now)
{
    enum ofsm_state state = conn->fsm.state;

    switch (ofsm_run(&conn->fsm, now)) {
    case OFSM_NONE:
        break;

    case OFSM_PROBE:
        ofconn_send(conn, ofputil_encode_echo_request(conn->version));
        break;

    case OFSM_DISCONNECT:
        ofconn_close(conn, state == OFSM_IDLE
                     ? "no response to echo request (inactivity timeout)"
                     : "handshake timed out", now);
        break;
    }
}

/* Returns the time at which ofconn_run() must next be called. */
long long int
ofconn_deadline(const struct ofconn *conn)
{
    return ofsm_deadline(&conn->fsm);
}

const char *
ofconn_get_name(const struct ofconn *conn)
{
    return conn->name;
}

/* Returns true if the handshake of 'conn' is complete and it is open. */
bool
ofconn_is_connected(const struct ofconn *conn)
{
    return !ofconn_is_closed(conn) && ofsm_is_connected(&conn->fsm);
}

enum ofsm_state
ofconn_get_state(const struct ofconn *conn)
{
    return conn->fsm.state;
}

enum ofp_version
ofconn_get_version(const struct ofconn *conn)
{
    return conn->version;
}

uint64_t
ofconn_get_dpid(const struct ofconn *conn)
{
    return conn->dpid;
}

/* Returns when the handshake completed, or 0 if it has not. */
long long int
ofconn_get_connected_at(const struct ofconn *conn)
{
    return conn->connected_at;
}

const struct ofconn_stats *
ofconn_get_stats(const struct ofconn *conn)
{
    return &conn->stats;
}

/* Returns the port table: an hmap of "struct ofconn_port". */
const struct hmap *
ofconn_get_ports(const struct ofconn *conn)
{
    return &conn->ports;
}

/* Returns the description of port 'port_no', or NULL if there is none. */
const struct ofputil_phy_port *
ofconn_get_port(const struct ofconn *conn, ofp_port_t port_no)
{
    const struct ofconn_port *port = port_find__(&conn->ports, port_no);

    return port ? &port->pp : NULL;
}

size_t
ofconn_n_pending_barriers(const struct ofconn *conn)
{
    return hmap_count(&conn->barriers);
}

/* Sends the role request that 'conn' wants.  libopenvswitch encodes role
 * replies but not requests: the body is laid out as
 * ofputil_decode_role_message() reads it. */
static void
send_role_request__(struct ofconn *conn)
{
    struct ofp12_role_request *orr;
    struct ofpbuf *b;

    b = ofpraw_alloc(OFPRAW_OFPT12_ROLE_REQUEST, conn->version, 0);
    orr = ofpbuf_put_zeros(b, sizeof *orr);
    orr->role = htonl(conn->role_wanted);
    orr->generation_id = htonll(conn->role_wanted_gen);
    conn->role_xid = ((const struct ofp_header *) b->data)->xid;
    conn->role_unsent = false;
    VLOG_INFO("%s: asking for controller role %s (generation %"PRIu64")",
              conn->name, role_name__(conn->role_wanted),
              conn->role_wanted_gen);
    ofconn_send(conn, b);
}

/* Asks the switch of 'conn' to make this controller 'role'
 * (OFPCR12_ROLE_MASTER, OFPCR12_ROLE_SLAVE or OFPCR12_ROLE_EQUAL) with
 * master election generation id 'generation_id'.  Before the handshake
 * completes, the request waits and goes out right after it, before the
 * 'ready' hook is called.  Asking again for the role of the request in
 * flight, or for the role the switch confirmed, with the same generation
 * id, sends nothing.
 *
 * From the first call on, ofconn_may_write() is true only while the switch
 * confirmed master or equal for the latest request.  The 'role_changed'
 * hook is not called from here. */
void
ofconn_set_role(struct ofconn *conn, enum ofp12_controller_role role,
                uint64_t generation_id)
{
    ovs_assert(role == OFPCR12_ROLE_EQUAL || role == OFPCR12_ROLE_PRIMARY
               || role == OFPCR12_ROLE_SECONDARY);

    if (conn->role_asked && conn->role_wanted == role
        && conn->role_wanted_gen == generation_id
        && (conn->role_unsent || conn->role_xid || conn->role == role)) {
        return;
    }
    conn->role_asked = true;
    conn->role_wanted = role;
    conn->role_wanted_gen = generation_id;
    conn->generation_id = generation_id;
    if (ofconn_is_connected(conn)) {
        send_role_request__(conn);
    } else if (!ofconn_is_closed(conn)) {
        conn->role_unsent = true;
    }
}

/* Returns true if the owner of 'conn' may change the switch's flows, groups
 * and meters: no role was ever asked (one controller), or the switch
 * confirmed master or equal for the latest role request.  False while a
 * request is unanswered, and as a slave. */
bool
ofconn_may_write(const struct ofconn *conn)
{
    if (!conn->role_asked) {
        return true;
    }
    return (!conn->role_unsent && !conn->role_xid
            && (conn->role == OFPCR12_ROLE_PRIMARY
                || conn->role == OFPCR12_ROLE_EQUAL));
}

/* Returns the role of the controller as the switch of 'conn' last told it
 * (by a role reply, a role status or an error that makes it a slave), or
 * OFPCR12_ROLE_NOCHANGE if it never did. */
enum ofp12_controller_role
ofconn_get_role(const struct ofconn *conn)
{
    return conn->role;
}

/* Returns the role last asked with ofconn_set_role() on 'conn', or
 * OFPCR12_ROLE_NOCHANGE if none was. */
enum ofp12_controller_role
ofconn_get_role_asked(const struct ofconn *conn)
{
    return conn->role_asked ? conn->role_wanted : OFPCR12_ROLE_NOCHANGE;
}

/* Returns true if the latest role request of 'conn' has not been answered
 * (or not yet sent, before the handshake). */
bool
ofconn_role_is_pending(const struct ofconn *conn)
{
    return conn->role_unsent || conn->role_xid;
}

/* Returns the latest master election generation id known on 'conn': the
 * one of the latest role request, unless a later role reply or role status
 * reported another; 0 if no role was asked. */
uint64_t
ofconn_get_generation(const struct ofconn *conn)
{
    return conn->generation_id;
}

/* Returns the role of 'conn' for status output: "none" if no role was
 * asked (the switch's default, which allows writes); "master", "slave" or
 * "equal" as the switch confirmed it; the role asked followed by "?"
 * ("master?", "slave?", "equal?") while the request is unanswered. */
const char *
ofconn_role_name(const struct ofconn *conn)
{
    if (!conn->role_asked) {
        return "none";
    }
    if (ofconn_role_is_pending(conn)) {
        switch (conn->role_wanted) {
        case OFPCR12_ROLE_PRIMARY:
            return "master?";
        case OFPCR12_ROLE_SECONDARY:
            return "slave?";
        case OFPCR12_ROLE_EQUAL:
            return "equal?";
        case OFPCR12_ROLE_NOCHANGE:
            break;
        }
    }
    return role_name__(conn->role);
}

/* Returns true if 'pp' is administratively up and has a link. */
bool
ofconn_port_is_up(const struct ofputil_phy_port *pp)
{
    return !(pp->config & OFPUTIL_PC_PORT_DOWN)
           && !(pp->state & OFPUTIL_PS_LINK_DOWN);
}

/* Returns true if the switch considers 'pp' live for fast-failover groups. */
bool
ofconn_port_is_live(const struct ofputil_phy_port *pp)
{
    return (pp->state & OFPUTIL_PS_LIVE) != 0;
}
