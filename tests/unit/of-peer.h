/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef OF_PEER_H
#define OF_PEER_H 1

/* A scripted switch for unit tests: builds the messages a switch sends and
 * drives an ofconn with them, with no sockets. */

#include <stdint.h>
#include "ofconn.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofpbuf.h"

/* Records what the hooks saw. */
struct peer_events {
    int n_ready;                /* ready() calls. */
    int n_port_changed;         /* port_changed() calls. */
    int n_added, n_deleted, n_modified; /* By kind. */
    int n_errors;               /* error() calls. */
    enum ofperr last_error;     /* Last error reported. */
    ovs_be32 last_error_xid;    /* Its xid. */
    int n_messages;             /* message() calls. */
    enum ofptype last_type;     /* Last message type passed on. */
};

extern const struct ofconn_hooks peer_hooks;

struct ofconn *peer_conn_create(struct peer_events *, long long int now);

void peer_feed(struct ofconn *, struct ofpbuf *, long long int now);
void peer_feed_raw(struct ofconn *, const void *, size_t, long long int now);
struct ofpbuf *peer_pop(struct ofconn *);
int peer_pop_type(struct ofconn *, enum ofptype *, ovs_be32 *xid);
void peer_drain(struct ofconn *);

struct ofputil_phy_port peer_port(uint16_t port_no, const char *name,
                                  bool up);
struct ofpbuf *peer_hello(uint32_t versions);
struct ofpbuf *peer_features_reply(enum ofp_version, ovs_be32 xid,
                                   uint64_t dpid);
void peer_port_desc_reply(enum ofp_version, ovs_be32 xid,
                          const struct ofputil_phy_port *, size_t n,
                          struct ovs_list *replies);
struct ofpbuf *peer_port_status(enum ofp_version, enum ofp_port_reason,
                                const struct ofputil_phy_port *);

void peer_handshake(struct ofconn *, enum ofp_version, uint64_t dpid,
                    const struct ofputil_phy_port *, size_t n_ports,
                    long long int now);

#endif /* of-peer.h */
