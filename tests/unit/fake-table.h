/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef FAKE_TABLE_H
#define FAKE_TABLE_H 1

/* A switch's flow and group tables in memory, for unit tests, in the manner
 * of Faucet's FakeOFTable.
 *
 * fake_table_receive() applies what a controller sends (flow_mods,
 * group_mods, bundles) as a switch would, strictly: a bundle is atomic, a
 * flow may only point to a group that exists, a group is added once and
 * modified only if it exists, and deleting a group deletes the flows that
 * point to it.  fake_table_dump() answers flow and group dumps from the
 * tables.
 *
 * fake_trace() follows a packet through a flowset (the fake switch's, or
 * the pipeline's output directly): tables, goto_table, resubmit, groups
 * (a fast-failover group takes its first live bucket), set_field, move,
 * multipath, NSH and Ethernet encap and decap, dec_nsh_ttl, output.  Tests
 * assert where a packet goes, and what it carries when it gets there. */

#include <stdbool.h>
#include <stddef.h>
#include "flow.h"
#include "flowset.h"
#include "openvswitch/list.h"
#include "openvswitch/ofp-errors.h"

struct ds;
struct ofp_header;

struct fake_table {
    struct flowset set;         /* What the switch holds. */
    struct ovs_list bundle;     /* Messages ("struct ofpbuf"s) of the open
                                 * bundle. */
    bool bundle_open;           /* A bundle is open. */
    unsigned int n_commits;     /* Bundles committed. */
    unsigned int n_discards;    /* Bundles discarded by request. */
    unsigned int n_changes;     /* Entries added, modified or deleted. */
};

void fake_table_init(struct fake_table *);
void fake_table_destroy(struct fake_table *);
enum ofperr fake_table_receive(struct fake_table *, const struct ofp_header *);
void fake_table_dump(const struct fake_table *, const struct ofp_header *req,
                     struct ovs_list *replies);

/* A packet: its outermost headers, and the headers under each NSH
 * header that encap(nsh) put on it, which decap() brings back. */
struct fake_packet {
    struct flow flow;           /* Outermost headers; in_port: where it
                                 * arrives. */
    struct flow inner[4];       /* Under each NSH header, innermost
                                 * first. */
    size_t n_inner;
};

/* Where a traced packet left the switch. */
struct fake_output {
    ofp_port_t port;            /* Output port. */
    struct fake_packet packet;  /* The packet as it left. */
};

#define FAKE_MAX_OUTPUTS 8

struct fake_trace {
    struct fake_output outputs[FAKE_MAX_OUTPUTS];
    size_t n_outputs;
    char *problem;              /* An action the tracer does not know, or a
                                 * loop; NULL if none. */
};

/* Returns true if port 'port' is live, for fast-failover groups. */
typedef bool fake_live_cb(ofp_port_t port, const void *aux);

void fake_packet_init(struct fake_packet *, const struct flow *);
void fake_trace(const struct flowset *, const struct fake_packet *,
                fake_live_cb *, const void *aux, struct fake_trace *);
void fake_trace_destroy(struct fake_trace *);
ofp_port_t fake_output_port(const struct flowset *, const struct fake_packet *,
                            fake_live_cb *, const void *aux,
                            struct fake_packet *out);

size_t fake_round_trip(const struct flowset *, enum ofp_version,
                       struct ds *);

#endif /* fake-table.h */
