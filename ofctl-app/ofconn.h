/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef OFCONN_H
#define OFCONN_H 1

/* The OpenFlow protocol of one switch connection, without I/O.
 *
 * An ofconn takes whole received messages (framed by the caller, see
 * ofpframe.h) and the current time, and produces messages to send, which the
 * caller takes from its transmit queue.  It negotiates the version (OpenFlow
 * 1.3 to 1.5), learns the datapath id and the ports, keeps the port table up
 * to date from port-status messages, answers echo requests, sends its own
 * probes, correlates error replies with the requests that caused them and
 * calls back when barriers complete.
 *
 * Malformed or unexpected input is logged (rate-limited) and answered as
 * OpenFlow prescribes: an error reply, or for a broken handshake, closing the
 * connection.  The ofconn never aborts on input.
 *
 * Controller roles.  With several controllers, the owner asks the switch
 * for a role with ofconn_set_role(): master (full access, one controller at
 * a time), slave (read-only) or equal (full access, the switch's default).
 * The ofconn tracks the role asked, the role the switch confirmed with its
 * role reply and the generation id, and answers ofconn_may_write(): the
 * owner sends flow, group and meter changes only while it is true.  While
 * no role was ever asked it is always true, as with one controller.  A role
 * status from the switch (another controller became master), an error
 * reply to the role request (a stale generation id, say) and an
 * OFPBRC_IS_SLAVE error reply to any message make the ofconn a slave; the
 * role replies, role statuses and errors to the role request are the
 * ofconn's own and are not passed to the 'message' and 'error' hooks. */

#include <stdbool.h>
#include <stdint.h>
#include "ofsm.h"
#include "openflow/openflow.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-errors.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/types.h"

struct ofconn;
struct ofpbuf;

/* The OpenFlow 1.2-1.4 names of the controller roles.  OVS 3.1 calls
 * master "primary" and slave "secondary"; the values are the same. */
#define OFPCR12_ROLE_MASTER OFPCR12_ROLE_PRIMARY
#define OFPCR12_ROLE_SLAVE OFPCR12_ROLE_SECONDARY
#define OFPERR_OFPBRC_IS_SLAVE OFPERR_OFPBRC_IS_SECONDARY

/* OpenFlow versions the controller speaks, as a version bitmap. */
#define OFCONN_DEFAULT_VERSIONS ((1u << OFP13_VERSION) \
                                 | (1u << OFP14_VERSION) \
                                 | (1u << OFP15_VERSION))

/* Settings of a connection. */
struct ofconn_settings {
    uint32_t allowed_versions;  /* Bitmap of 1 << OFPxx_VERSION. */
    int probe_interval;         /* Echo after this much silence, in ms. */
    int handshake_timeout;      /* Max time per handshake step, in ms. */
    uint16_t miss_send_len;     /* Sent to the switch with SET_CONFIG. */
};

void ofconn_settings_init(struct ofconn_settings *);

/* Called when a barrier completes: 'status' is 0 when the switch replied,
 * ECONNRESET when the connection closed first. */
typedef void ofconn_barrier_cb(struct ofconn *, int status, void *aux);

/* Callbacks into the owner of connections.  Each may be NULL.  They may
 * queue messages with ofconn_send() but must not destroy the ofconn. */
struct ofconn_hooks {
    /* The handshake is complete: datapath id and ports are known. */
    void (*ready)(struct ofconn *, void *aux);

    /* A port was added ('old' is NULL), deleted ('new' is NULL) or changed,
     * after the handshake. */
    void (*port_changed)(struct ofconn *, const struct ofputil_phy_port *old,
                         const struct ofputil_phy_port *new, void *aux);

    /* The switch answered the request with 'xid' with 'error'. */
    void (*error)(struct ofconn *, enum ofperr error, ovs_be32 xid,
                  void *aux);

    /* Any other message that decoded, after the handshake. */
    void (*message)(struct ofconn *, enum ofptype,
                    const struct ofp_header *, void *aux);

    /* The role of the controller at the switch changed because of a
     * message from the switch: the switch confirmed a role (a role reply),
     * another controller became master (a role status), or the switch
     * refused the role request or a message because we are a slave (an
     * error).  ofconn_get_role() and ofconn_may_write() tell the new state.
     * Not called by ofconn_set_role() itself. */
    void (*role_changed)(struct ofconn *, void *aux);

    /* The ofconn is being destroyed (after its barriers were told). */
    void (*closed)(struct ofconn *, void *aux);

    /* The connection's output drained below its low-water mark, so it can
     * take more.  Called by the I/O layer (ofsrv), never by ofconn. */
    void (*drained)(struct ofconn *, void *aux);
};

/* A port of the switch, as the switch last described it. */
struct ofconn_port {
    struct hmap_node hmap_node; /* In ofconn's port table, by port number. */
    struct ofputil_phy_port pp; /* The switch's description. */
};

/* Counters of a connection, for status output. */
struct ofconn_stats {
    uint64_t rx_msgs;           /* Messages received. */
    uint64_t tx_msgs;           /* Messages queued for sending. */
    uint64_t rx_errors;         /* OFPT_ERROR messages received. */
    uint64_t bad_msgs;          /* Received messages that were rejected. */
    uint64_t port_events;       /* Port-status changes applied. */
};

struct ofconn *ofconn_create(const char *name, const struct ofconn_settings *,
                             const struct ofconn_hooks *, void *aux,
                             long long int now);
void ofconn_destroy(struct ofconn *);

void ofconn_receive(struct ofconn *, const void *msg, size_t len,
                    long long int now);
void ofconn_run(struct ofconn *, long long int now);
long long int ofconn_deadline(const struct ofconn *);

void ofconn_send(struct ofconn *, struct ofpbuf *);
void ofconn_set_tx_wakeup(struct ofconn *, void (*)(void *aux), void *aux);
ovs_be32 ofconn_send_barrier(struct ofconn *, ofconn_barrier_cb *, void *aux);
struct ofpbuf *ofconn_pop_tx(struct ofconn *);

void ofconn_close(struct ofconn *, const char *reason, long long int now);
bool ofconn_is_closed(const struct ofconn *);
const char *ofconn_close_reason(const struct ofconn *);

const char *ofconn_get_name(const struct ofconn *);
bool ofconn_is_connected(const struct ofconn *);
enum ofsm_state ofconn_get_state(const struct ofconn *);
enum ofp_version ofconn_get_version(const struct ofconn *);
uint64_t ofconn_get_dpid(const struct ofconn *);
long long int ofconn_get_connected_at(const struct ofconn *);
const struct ofconn_stats *ofconn_get_stats(const struct ofconn *);
const struct hmap *ofconn_get_ports(const struct ofconn *);
const struct ofputil_phy_port *ofconn_get_port(const struct ofconn *,
                                               ofp_port_t);
size_t ofconn_n_pending_barriers(const struct ofconn *);

void ofconn_set_role(struct ofconn *, enum ofp12_controller_role role,
                     uint64_t generation_id);
bool ofconn_may_write(const struct ofconn *);
enum ofp12_controller_role ofconn_get_role(const struct ofconn *);
enum ofp12_controller_role ofconn_get_role_asked(const struct ofconn *);
bool ofconn_role_is_pending(const struct ofconn *);
uint64_t ofconn_get_generation(const struct ofconn *);
const char *ofconn_role_name(const struct ofconn *);

bool ofconn_port_is_up(const struct ofputil_phy_port *);
bool ofconn_port_is_live(const struct ofputil_phy_port *);

#endif /* ofconn.h */
