/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef FLOWSET_H
#define FLOWSET_H 1

/* Sets of OpenFlow flows and groups held as decoded structures, in the
 * manner of OVN's ofctrl.c: a flow is (table, priority, minimatch) with its
 * ofpacts, a group is its id with its type, properties and buckets.  The
 * pipeline builds its desired state as a flowset, the reconciler keeps the
 * switch's installed state as one, and the tests' fake switch applies
 * messages to one.
 *
 * Flows are keyed by (table, priority, match), as a switch keys them with
 * OFPFC_*_STRICT commands; groups by group id.  Two entries with the same
 * key are the same entry: a set holds at most one of each.
 *
 * Equality is what the switch would see: actions are compared bytewise
 * once flowset_normalize_ofpacts() has cleared what only records the wire
 * form an action came from, or is padding.  Actions built by the pipeline and the
 * same actions decoded from a switch's dump are then equal (the unit tests
 * check that for every entry the pipeline produces).  Groups compare by
 * type, a select group's selection method, and each bucket's watch port,
 * watch group, weight (select groups only) and actions; bucket ids, which
 * a switch numbers by itself, are not compared.
 *
 * An entry is immutable once in a set, and reference-counted: a set holds
 * one reference to each of its entries, and others may hold more (the
 * reconciler's installed state refers to the desired entries it sent), so
 * that equal entries are shared rather than copied.  An entry leaves its
 * set with flowset_remove_*() or flowset_clear(); it is freed with its last
 * reference.
 *
 * Text is for people only: flowset_format_flows() and _groups() print
 * ovs-ofctl syntax that "ovs-ofctl diff-flows" and "add-groups" read, and
 * flowset_parse_flow() and _group() read it, for tests and tools. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-protocol.h"

struct ds;
struct ofpact;
struct ofpbuf;

struct flowset_flow {
    struct hmap_node hmap_node; /* In 'flowset->flows', by key. */
    unsigned int refcount;      /* The set holds one; see below. */
    uint8_t table_id;           /* Key: table. */
    uint16_t priority;          /* Key: priority. */
    struct minimatch match;     /* Key: match. */
    struct ofpact *ofpacts;     /* Actions (instructions); NULL if none. */
    size_t ofpacts_len;         /* Bytes in 'ofpacts'; 0 means drop. */
};

struct flowset_group {
    struct hmap_node hmap_node; /* In 'flowset->groups', by 'group_id'. */
    unsigned int refcount;      /* The set holds one; see below. */
    uint32_t group_id;          /* Key. */
    uint8_t type;               /* OFPGT11_*. */
    struct ofputil_group_props props; /* Selection method (select). */
    struct ovs_list buckets;    /* Contains "struct ofputil_bucket"s. */
};

struct flowset {
    struct hmap flows;          /* Contains "struct flowset_flow"s. */
    struct hmap groups;         /* Contains "struct flowset_group"s. */
};

void flowset_init(struct flowset *);
void flowset_destroy(struct flowset *);
void flowset_clear(struct flowset *);
void flowset_swap(struct flowset *, struct flowset *);
size_t flowset_n_flows(const struct flowset *);
size_t flowset_n_groups(const struct flowset *);

/* Flows. */
struct flowset_flow *flowset_flow_ref(const struct flowset_flow *);
void flowset_flow_unref(struct flowset_flow *);
uint32_t flowset_flow_hash(uint8_t table_id, uint16_t priority,
                           const struct minimatch *);
struct flowset_flow *flowset_add_flow(struct flowset *, uint8_t table_id,
                                      uint16_t priority, const struct match *,
                                      const struct ofpact *,
                                      size_t ofpacts_len);
struct flowset_flow *flowset_add_flow_copy(struct flowset *,
                                           const struct flowset_flow *);
struct flowset_flow *flowset_find_flow(const struct flowset *,
                                       uint8_t table_id, uint16_t priority,
                                       const struct minimatch *,
                                       uint32_t hash);
struct flowset_flow *flowset_find_same_flow(const struct flowset *,
                                            const struct flowset_flow *);
struct flowset_flow *flowset_insert_flow(struct flowset *,
                                         struct flowset_flow *);
void flowset_remove_flow(struct flowset *, struct flowset_flow *);
bool flowset_flow_actions_equal(const struct flowset_flow *,
                                const struct flowset_flow *);
struct ofpbuf *flowset_encode_flow_mod(const struct flowset_flow *,
                                       int command, enum ofputil_protocol);

/* Groups. */
struct flowset_group *flowset_group_ref(const struct flowset_group *);
void flowset_group_unref(struct flowset_group *);
struct flowset_group *flowset_add_group(struct flowset *, uint32_t group_id,
                                        uint8_t type,
                                        const struct ofputil_group_props *,
                                        struct ovs_list *buckets);
struct flowset_group *flowset_add_group_copy(struct flowset *,
                                             const struct flowset_group *);
struct flowset_group *flowset_find_group(const struct flowset *,
                                         uint32_t group_id);
struct flowset_group *flowset_insert_group(struct flowset *,
                                           struct flowset_group *);
void flowset_remove_group(struct flowset *, struct flowset_group *);
bool flowset_group_equal(const struct flowset_group *,
                         const struct flowset_group *);
struct ofpbuf *flowset_encode_group_mod(const struct flowset_group *,
                                        int command, enum ofp_version);

/* Whole sets. */
bool flowset_equal(const struct flowset *, const struct flowset *);
void flowset_adapt_to_version(struct flowset *, enum ofp_version);
void flowset_clone(struct flowset *dst, const struct flowset *src);

/* Text, for people, tests and tools. */
void flowset_format_flow(const struct flowset_flow *, struct ds *);
void flowset_format_group(const struct flowset_group *, struct ds *);
void flowset_format_flows(const struct flowset *, struct ds *);
void flowset_format_groups(const struct flowset *, struct ds *);

/* Display in pieces: a cursor holds references to the entries it shows,
 * so the set may change (or go) while a long listing goes out. */
struct flowset_cursor *flowset_cursor_create(const struct flowset *,
                                             bool groups);
bool flowset_cursor_format(struct flowset_cursor *, struct ds *,
                           size_t max_bytes);
void flowset_cursor_destroy(struct flowset_cursor *);
char *flowset_parse_flow(struct flowset *, const char *)
    OVS_WARN_UNUSED_RESULT;
char *flowset_parse_group(struct flowset *, const char *)
    OVS_WARN_UNUSED_RESULT;

void flowset_normalize_ofpacts(struct ofpact *, size_t ofpacts_len);

#endif /* flowset.h */
