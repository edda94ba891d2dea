/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "streamtab.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include "hash.h"
#include "service.h"
#include "util.h"

/* The entries of one bucket. */
struct streamtab_bucket {
    struct hmap_node node;      /* In 'buckets' of the table, by number. */
    uint32_t bucket;            /* Bucket number. */
    struct ovs_list entries;    /* Of 'struct streamtab_entry', by
                                 * 'bucket_node', oldest first. */
    size_t n;                   /* Entries in 'entries', never 0. */
};

struct streamtab {
    const struct service_class *svc; /* The service whose states these are. */
    const void *svc_data;       /* For the service's expired(). */
    uint32_t basis;             /* Hash basis. */
    size_t capacity;            /* Most entries allowed. */
    size_t state_offset;        /* Of the state within an entry's memory. */
    struct hmap entries;        /* Of 'struct streamtab_entry', by key. */
    struct hmap buckets;        /* Of 'struct streamtab_bucket', by number;
                                 * only those with entries. */
    struct ovs_list all;        /* Every entry, by 'all_node', oldest
                                 * first. */
    struct ovs_list *cursor;    /* In 'all': where streamtab_expire() goes
                                 * on; 'all' itself at the end of a pass. */
    struct ovs_list dirty;      /* Dirty entries, by 'dirty_node', in the
                                 * order marked. */
    size_t n_dirty;             /* Entries in 'dirty'. */
    size_t *by_origin;          /* Entries per origin, 'n_origins' of them
                                 * (origin 0 is not counted). */
    size_t n_origins;
};

/* An empty list, for buckets with no entries.  Never modified. */
static struct ovs_list streamtab_empty_list__
    = OVS_LIST_INITIALIZER(&streamtab_empty_list__);

/* Fills 'key' with the key of the stream of an IPv4 packet from 'src' port
 * 'src_port' to 'dst' port 'dst_port' (network and host byte order) with IP
 * protocol 'proto', zeroing the padding.  The same key comes from both
 * directions.  Returns true if the packet goes from the lower endpoint to
 * the higher one (or both endpoints are equal), false otherwise. */
bool
streamtab_key_init(struct streamtab_key *key, ovs_be32 src, ovs_be32 dst,
                   uint16_t src_port, uint16_t dst_port, uint8_t proto)
{
    uint32_t s = ntohl(src), d = ntohl(dst);
    bool lo_to_hi = s < d || (s == d && src_port <= dst_port);

    memset(key, 0, sizeof *key);
    key->addr_lo = lo_to_hi ? src : dst;
    key->addr_hi = lo_to_hi ? dst : src;
    key->port_lo = lo_to_hi ? src_port : dst_port;
    key->port_hi = lo_to_hi ? dst_port : src_port;
    key->proto = proto;
    return lo_to_hi;
}

/* Returns a hash of the 13 bytes of data of 'key', with 'basis'. */
uint32_t
streamtab_key_hash(const struct streamtab_key *key, uint32_t basis)
{
    uint32_t hash = basis;

    hash = hash_add(hash, (OVS_FORCE uint32_t) key->addr_lo);
    hash = hash_add(hash, (OVS_FORCE uint32_t) key->addr_hi);
    hash = hash_add(hash, ((uint32_t) key->port_lo << 16) | key->port_hi);
    hash = hash_add(hash, key->proto);
    return hash_finish(hash, 13);
}

/* Returns true if keys 'a' and 'b' name the same stream. */
bool
streamtab_key_equals(const struct streamtab_key *a,
                     const struct streamtab_key *b)
{
    return (a->addr_lo == b->addr_lo && a->addr_hi == b->addr_hi
            && a->port_lo == b->port_lo && a->port_hi == b->port_hi
            && a->proto == b->proto);
}

/* Compares versions 'a' and 'b', epoch first, then count.  Returns a
 * negative number if 'a' is older than 'b', 0 if they are equal, a positive
 * number if 'a' is newer. */
int
streamtab_version_compare(const struct streamtab_version *a,
                          const struct streamtab_version *b)
{
    if (a->epoch != b->epoch) {
        return a->epoch < b->epoch ? -1 : 1;
    }
    return a->count < b->count ? -1 : a->count > b->count;
}

/* Creates an empty table for states of service 'svc' (whose expired() is
 * called with 'svc_data') that holds at most 'capacity' entries and hashes
 * keys with 'basis' (a random basis makes hash collisions hard to provoke
 * from outside).  Free it with streamtab_destroy(). */
struct streamtab *
streamtab_create(const struct service_class *svc, const void *svc_data,
                 size_t capacity, uint32_t basis)
{
    struct streamtab *tab = xzalloc(sizeof *tab);

    tab->svc = svc;
    tab->svc_data = svc_data;
    tab->basis = basis;
    tab->capacity = capacity;
    tab->state_offset = ROUND_UP(sizeof(struct streamtab_entry),
                                 alignof(max_align_t));
    hmap_init(&tab->entries);
    hmap_init(&tab->buckets);
    ovs_list_init(&tab->all);
    tab->cursor = &tab->all;
    ovs_list_init(&tab->dirty);
    return tab;
}

/* Frees 'tab' and all its entries.  Accepts NULL. */
void
streamtab_destroy(struct streamtab *tab)
{
    struct streamtab_bucket *b;
    struct streamtab_entry *e;

    if (!tab) {
        return;
    }
    HMAP_FOR_EACH_POP (e, node, &tab->entries) {
        free(e);
    }
    HMAP_FOR_EACH_POP (b, node, &tab->buckets) {
        free(b);
    }
    hmap_destroy(&tab->entries);
    hmap_destroy(&tab->buckets);
    free(tab->by_origin);
    free(tab);
}

/* Returns the number of entries in 'tab'. */
size_t
streamtab_count(const struct streamtab *tab)
{
    return hmap_count(&tab->entries);
}

/* Returns the most entries 'tab' may hold. */
size_t
streamtab_capacity(const struct streamtab *tab)
{
    return tab->capacity;
}

/* Returns the entry of 'tab' with 'key', or NULL. */
struct streamtab_entry *
streamtab_lookup(const struct streamtab *tab, const struct streamtab_key *key)
{
    struct streamtab_entry *e;

    HMAP_FOR_EACH_WITH_HASH (e, node, streamtab_key_hash(key, tab->basis),
                             &tab->entries) {
        if (streamtab_key_equals(&e->key, key)) {
            return e;
        }
    }
    return NULL;
}

/* Returns the bucket record of 'tab' for bucket 'bucket', or NULL if the
 * bucket has no entries. */
static struct streamtab_bucket *
streamtab_bucket_find__(const struct streamtab *tab, uint32_t bucket)
{
    struct streamtab_bucket *b;

    HMAP_FOR_EACH_WITH_HASH (b, node, hash_int(bucket, tab->basis),
                             &tab->buckets) {
        if (b->bucket == bucket) {
            return b;
        }
    }
    return NULL;
}

/* Inserts into 'tab' an entry for 'key' in bucket 'bucket', with a
 * zero-filled state, version (0, 0), last-seen time 'now', not dirty, and
 * returns it.  Returns NULL, and inserts nothing, if 'tab' holds its
 * capacity already.  'tab' must have no entry for 'key' (look it up first). */
struct streamtab_entry *
streamtab_insert(struct streamtab *tab, const struct streamtab_key *key,
                 uint32_t bucket, long long int now)
{
    struct streamtab_bucket *b;
    struct streamtab_entry *e;

    if (hmap_count(&tab->entries) >= tab->capacity) {
        return NULL;
    }

    e = xzalloc(tab->state_offset + tab->svc->state_size);
    e->key = *key;
    e->bucket = bucket;
    e->last_seen = now;
    e->state = (char *) e + tab->state_offset;
    hmap_insert(&tab->entries, &e->node,
                streamtab_key_hash(key, tab->basis));
    ovs_list_push_back(&tab->all, &e->all_node);
    ovs_list_init(&e->dirty_node);

    b = streamtab_bucket_find__(tab, bucket);
    if (!b) {
        b = xzalloc(sizeof *b);
        b->bucket = bucket;
        ovs_list_init(&b->entries);
        hmap_insert(&tab->buckets, &b->node, hash_int(bucket, tab->basis));
    }
    ovs_list_push_back(&b->entries, &e->bucket_node);
    b->n++;
    return e;
}

/* Removes entry 'e' from 'tab' (and from the dirty list) and frees it. */
void
streamtab_remove(struct streamtab *tab, struct streamtab_entry *e)
{
    struct streamtab_bucket *b = streamtab_bucket_find__(tab, e->bucket);

    streamtab_clear_dirty(tab, e);
    streamtab_set_origin(tab, e, 0);
    if (tab->cursor == &e->all_node) {
        tab->cursor = e->all_node.next;
    }
    ovs_list_remove(&e->all_node);
    ovs_list_remove(&e->bucket_node);
    if (!--b->n) {
        hmap_remove(&tab->buckets, &b->node);
        free(b);
    }
    hmap_remove(&tab->entries, &e->node);
    free(e);
}

/* Makes 'origin' the origin of entry 'e' of 'tab': 0 for this agent's
 * own, or the number a replication receiver gave the sender whose record
 * created it. */
void
streamtab_set_origin(struct streamtab *tab, struct streamtab_entry *e,
                     uint32_t origin)
{
    if (e->origin) {
        tab->by_origin[e->origin]--;
    }
    if (origin) {
        if (origin >= tab->n_origins) {
            size_t n = MAX(origin + 1, 2 * tab->n_origins);

            tab->by_origin = xrealloc(tab->by_origin,
                                      n * sizeof *tab->by_origin);
            memset(&tab->by_origin[tab->n_origins], 0,
                   (n - tab->n_origins) * sizeof *tab->by_origin);
            tab->n_origins = n;
        }
        tab->by_origin[origin]++;
    }
    e->origin = origin;
}

/* Returns the number of entries of 'tab' whose origin is 'origin' (not 0). */
size_t
streamtab_origin_count(const struct streamtab *tab, uint32_t origin)
{
    return origin && origin < tab->n_origins ? tab->by_origin[origin] : 0;
}

/* Records a local change of the state of 'e' (the service changed it) made
 * with the authority of map epoch 'epoch' (0 for none): the new version
 * counts one change more than the old and carries the newer of the two
 * epochs, so that it is newer than the state it was made from.  (At 2**64
 * changes the count stays where it is.) */
void
streamtab_note_change(struct streamtab_entry *e, uint64_t epoch)
{
    e->version.epoch = MAX(e->version.epoch, epoch);
    e->version.count += e->version.count < UINT64_MAX;
}

/* Gives memory back after many removals from 'tab': shrinks its hash map
 * once it is less than 1/8 full, so that a table that held a million streams
 * does not keep their buckets forever.  (After a shrink the map is at least
 * half full, so neither shrinking nor growing again comes soon.) */
static void
streamtab_shrink__(struct streamtab *tab)
{
    if (hmap_count(&tab->entries) < tab->entries.mask / 8) {
        hmap_shrink(&tab->entries);
    }
}

/* Returns the list of all entries of 'tab', for STREAMTAB_FOR_EACH. */
const struct ovs_list *
streamtab_all__(const struct streamtab *tab)
{
    return &tab->all;
}

/* Visits up to 'max_visit' entries of 'tab', going on from where the last
 * call stopped, and removes those that the service says have expired at
 * 'now', calling 'cb' (if nonnull) with each, and 'aux', just before it is
 * removed.  A pass over the table goes from the oldest entry to the newest,
 * entries inserted during the pass included, so that every entry is visited
 * once per pass however many calls the pass takes; a call stops early at the
 * end of a pass, and the next call starts a new one.  Returns the number of
 * entries removed. */
size_t
streamtab_expire(struct streamtab *tab, size_t max_visit, long long int now,
                 streamtab_expire_cb *cb, void *aux)
{
    size_t n_removed = 0;

    if (tab->cursor == &tab->all) {
        tab->cursor = tab->all.next;
    }
    for (size_t i = 0; i < max_visit && tab->cursor != &tab->all; i++) {
        struct streamtab_entry *e;

        e = CONTAINER_OF(tab->cursor, struct streamtab_entry, all_node);
        tab->cursor = tab->cursor->next;

        if (tab->svc->expired(tab->svc_data, e->state, now)) {
            if (cb) {
                cb(e, aux);
            }
            streamtab_remove(tab, e);
            n_removed++;
        }
    }
    if (n_removed) {
        streamtab_shrink__(tab);
    }
    return n_removed;
}

/* Returns the number of entries of 'tab' in bucket 'bucket'. */
size_t
streamtab_bucket_count(const struct streamtab *tab, uint32_t bucket)
{
    const struct streamtab_bucket *b = streamtab_bucket_find__(tab, bucket);

    return b ? b->n : 0;
}

/* Returns the list of the entries of 'tab' in bucket 'bucket', for
 * STREAMTAB_FOR_EACH_IN_BUCKET. */
const struct ovs_list *
streamtab_bucket_list__(const struct streamtab *tab, uint32_t bucket)
{
    const struct streamtab_bucket *b = streamtab_bucket_find__(tab, bucket);

    return b ? &b->entries : &streamtab_empty_list__;
}

/* Removes every entry of 'tab' in bucket 'bucket' (as when the bucket is no
 * longer this instance's) and returns how many there were. */
size_t
streamtab_remove_bucket(struct streamtab *tab, uint32_t bucket)
{
    struct streamtab_bucket *b = streamtab_bucket_find__(tab, bucket);
    size_t n = b ? b->n : 0;

    for (size_t i = 0; i < n; i++) {
        /* The last removal frees 'b'. */
        struct ovs_list *first = ovs_list_front(&b->entries);

        streamtab_remove(tab, CONTAINER_OF(first, struct streamtab_entry,
                                           bucket_node));
    }
    if (n) {
        streamtab_shrink__(tab);
    }
    return n;
}

/* Marks every entry of 'tab' in bucket 'bucket' dirty, so that replication
 * batches send the whole bucket (as to a new secondary), and returns how
 * many entries the bucket has. */
size_t
streamtab_mark_bucket_dirty(struct streamtab *tab, uint32_t bucket)
{
    struct streamtab_bucket *b = streamtab_bucket_find__(tab, bucket);
    struct streamtab_entry *e;

    if (!b) {
        return 0;
    }
    LIST_FOR_EACH (e, bucket_node, &b->entries) {
        streamtab_mark_dirty(tab, e);
    }
    return b->n;
}

/* Marks entry 'e' of 'tab' dirty: it joins the end of the dirty list, unless
 * it is there already, in which case it keeps its place. */
void
streamtab_mark_dirty(struct streamtab *tab, struct streamtab_entry *e)
{
    if (!e->dirty) {
        e->dirty = true;
        ovs_list_push_back(&tab->dirty, &e->dirty_node);
        tab->n_dirty++;
    }
}

/* Takes entry 'e' of 'tab' off the dirty list, if it is on it. */
void
streamtab_clear_dirty(struct streamtab *tab, struct streamtab_entry *e)
{
    if (e->dirty) {
        e->dirty = false;
        ovs_list_remove(&e->dirty_node);
        ovs_list_init(&e->dirty_node);
        tab->n_dirty--;
    }
}

/* Takes up to 'max' entries off the front of the dirty list of 'tab' (the
 * longest dirty first), clearing their dirty flags, and stores them in
 * 'entries'.  Returns how many it stored.  The entries stay in 'tab'; the
 * pointers are valid until they are removed. */
size_t
streamtab_take_dirty(struct streamtab *tab, struct streamtab_entry **entries,
                     size_t max)
{
    size_t n = 0;

    while (n < max && !ovs_list_is_empty(&tab->dirty)) {
        struct streamtab_entry *e;

        e = CONTAINER_OF(ovs_list_front(&tab->dirty), struct streamtab_entry,
                         dirty_node);
        streamtab_clear_dirty(tab, e);
        entries[n++] = e;
    }
    return n;
}

/* Returns the number of dirty entries in 'tab'. */
size_t
streamtab_n_dirty(const struct streamtab *tab)
{
    return tab->n_dirty;
}
