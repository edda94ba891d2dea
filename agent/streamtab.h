/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef SFMESH_STREAMTAB_H
#define SFMESH_STREAMTAB_H 1

/* The per-stream state table of sfmesh-agent.
 *
 * One entry per stream: its key (both directions of an IPv4 connection map
 * to one key), its bucket, the service's state ('state_size' bytes of the
 * table's service class, allocated with the entry), the version of that
 * state, a last-seen time that the caller sets, and a dirty flag for
 * replication.
 *
 * Besides the hash table by key, the table keeps lists so that no operation
 * scans it whole:
 *
 *   - per bucket: the entries of one bucket, for bulk transfer to a new
 *     secondary (STREAMTAB_FOR_EACH_IN_BUCKET, streamtab_bucket_count(),
 *     streamtab_mark_bucket_dirty(), streamtab_remove_bucket());
 *
 *   - dirty: the entries marked by streamtab_mark_dirty() since they were
 *     last taken, in the order marked, for replication batches
 *     (streamtab_take_dirty());
 *
 *   - all: every entry, with a cursor, so that streamtab_expire() does
 *     bounded work per call and still visits every entry, each once per
 *     pass, however many calls a pass takes and whatever is inserted or
 *     removed in between.
 *
 * The table holds at most 'capacity' entries (set at creation): at the
 * limit, streamtab_insert() returns NULL.  It also counts its entries by
 * origin, the sender whose replicated record created them
 * (streamtab_set_origin(), streamtab_origin_count()), so that the receiver
 * can hold each sender to a quota.
 *
 * Pure: no I/O, no clock; 'now' is passed in, in ms. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/types.h"
#include "openvswitch/util.h"

struct service_class;

/* The key of an IPv4 stream: the two (address, port) endpoints in ascending
 * order (addresses as numbers, then ports) and the IP protocol; 13 bytes of
 * data.  Hash and compare keys with streamtab_key_hash() and
 * streamtab_key_equals(), which ignore the padding. */
struct streamtab_key {
    ovs_be32 addr_lo;           /* Lower endpoint's address, network order. */
    ovs_be32 addr_hi;           /* Higher endpoint's address, network order. */
    uint16_t port_lo;           /* Lower endpoint's port, host order, or 0. */
    uint16_t port_hi;           /* Higher endpoint's port, host order, or 0. */
    uint8_t proto;              /* IP protocol. */
};

bool streamtab_key_init(struct streamtab_key *, ovs_be32 src, ovs_be32 dst,
                        uint16_t src_port, uint16_t dst_port, uint8_t proto);
uint32_t streamtab_key_hash(const struct streamtab_key *, uint32_t basis);
bool streamtab_key_equals(const struct streamtab_key *,
                          const struct streamtab_key *);

/* The version of a stream's state: which of two states of one stream is
 * the newer, so that a replicated record never replaces a newer state with
 * an older one (docs/agent.md, "Versions").
 *
 * 'count' is the number of changes in the state's history: a local change
 * makes it one more than the state it changed (streamtab_note_change()),
 * and a state received from another instance keeps the sender's.
 * 'epoch' is the newest map epoch under whose authority a change of that
 * history was made (0 for none yet): a change carries the epoch its agent
 * gives it (agentmap_change_epoch()), and never lowers the state's.
 * Versions compare lexicographically, epoch first
 * (streamtab_version_compare()): a change made with a newer map's authority
 * is newer than any made without it; between changes under the same epoch,
 * the longer history is the newer. */
struct streamtab_version {
    uint64_t epoch;             /* Epoch of the newest authority, or 0. */
    uint64_t count;             /* Changes so far; 0 before the first. */
};

int streamtab_version_compare(const struct streamtab_version *,
                              const struct streamtab_version *);

/* A stream.  Members marked "read-only" belong to the table. */
struct streamtab_entry {
    struct hmap_node node;      /* In the table's map, by key.  Read-only. */
    struct ovs_list all_node;   /* In the table's list of all entries.
                                 * Read-only. */
    struct ovs_list bucket_node; /* In its bucket's list.  Read-only. */
    struct ovs_list dirty_node; /* In the dirty list if 'dirty'.
                                 * Read-only. */
    struct streamtab_key key;   /* The stream.  Read-only. */
    uint32_t bucket;            /* Its bucket.  Read-only. */
    bool dirty;                 /* In the dirty list.  Read-only: see
                                 * streamtab_mark_dirty(). */
    struct streamtab_version version; /* Of 'state'; set by the caller
                                 * (0, 0 when inserted). */
    long long int last_seen;    /* Last packet or apply, ms; set by the
                                 * caller ('now' when inserted). */
    uint32_t origin;            /* Who created it: 0 for this agent, else
                                 * a replication sender's number (see
                                 * streamtab_set_origin()).  Read-only. */
    void *state;                /* The service's state, 'state_size' bytes,
                                 * zero-filled when inserted. */
};

struct streamtab *streamtab_create(const struct service_class *,
                                   const void *svc_data, size_t capacity,
                                   uint32_t basis);
void streamtab_destroy(struct streamtab *);

size_t streamtab_count(const struct streamtab *);
size_t streamtab_capacity(const struct streamtab *);

struct streamtab_entry *streamtab_lookup(const struct streamtab *,
                                         const struct streamtab_key *);
struct streamtab_entry *streamtab_insert(struct streamtab *,
                                         const struct streamtab_key *,
                                         uint32_t bucket, long long int now);
void streamtab_remove(struct streamtab *, struct streamtab_entry *);
void streamtab_note_change(struct streamtab_entry *, uint64_t epoch);
const struct ovs_list *streamtab_all__(const struct streamtab *);

/* Iterates ENTRY (a 'struct streamtab_entry *') over every entry of table
 * TAB, oldest first.  The loop must not insert or remove entries. */
#define STREAMTAB_FOR_EACH(ENTRY, TAB)                                  \
    LIST_FOR_EACH (ENTRY, all_node, streamtab_all__(TAB))

/* Origins. */

void streamtab_set_origin(struct streamtab *, struct streamtab_entry *,
                          uint32_t origin);
size_t streamtab_origin_count(const struct streamtab *, uint32_t origin);

/* Expiry. */

/* Called by streamtab_expire() with each entry it is about to remove, and
 * the 'aux' given to it. */
typedef void streamtab_expire_cb(const struct streamtab_entry *, void *aux);

size_t streamtab_expire(struct streamtab *, size_t max_visit,
                        long long int now, streamtab_expire_cb *,
                        void *aux);

/* Buckets. */

size_t streamtab_bucket_count(const struct streamtab *, uint32_t bucket);
size_t streamtab_remove_bucket(struct streamtab *, uint32_t bucket);
size_t streamtab_mark_bucket_dirty(struct streamtab *, uint32_t bucket);
const struct ovs_list *streamtab_bucket_list__(const struct streamtab *,
                                               uint32_t bucket);

/* Iterates ENTRY (a 'struct streamtab_entry *') over the entries of bucket
 * BUCKET of table TAB, oldest first.  The loop must not insert or remove
 * entries of that bucket. */
#define STREAMTAB_FOR_EACH_IN_BUCKET(ENTRY, BUCKET, TAB)                \
    for (const struct ovs_list *streamtab_head__                        \
             = streamtab_bucket_list__(TAB, BUCKET),                    \
             *streamtab_pos__ = streamtab_head__->next;                 \
         (streamtab_pos__ != streamtab_head__                           \
          ? ((ENTRY) = CONTAINER_OF(streamtab_pos__,                    \
                                    struct streamtab_entry,             \
                                    bucket_node), true)                 \
          : false);                                                     \
         streamtab_pos__ = streamtab_pos__->next)

/* Dirty entries. */

void streamtab_mark_dirty(struct streamtab *, struct streamtab_entry *);
void streamtab_clear_dirty(struct streamtab *, struct streamtab_entry *);
size_t streamtab_take_dirty(struct streamtab *, struct streamtab_entry **,
                            size_t max);
size_t streamtab_n_dirty(const struct streamtab *);

#endif /* streamtab.h */
