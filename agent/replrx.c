/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "replrx.h"

#include <arpa/inet.h>
#include <string.h>
#include "agentmap.h"
#include "agentproto.h"
#include "hash.h"
#include "openvswitch/hmap.h"
#include "openvswitch/list.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "service.h"
#include "streamtab.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(replrx);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* A bulk transfer in progress on a connection. */
struct replrx_bulk {
    struct hmap_node hmap_node; /* In 'replrx_conn->bulks', by bucket. */
    uint32_t bucket;            /* The bucket, as the sender numbers it. */
    uint32_t received;          /* Its records received since BULK_BEGIN. */
    bool ok;                    /* Every one of them applied. */
};

struct replrx_conn {
    struct ovs_list list_node;  /* In 'replrx->conns'. */
    struct replrx *rx;          /* Owner. */
    void *aux;                  /* The caller's. */
    char *sender;               /* From the first batch, or NULL. */
    bool current;               /* The sender's newest connection. */
    struct agp_seq_window window; /* This connection's batch numbers. */
    struct hmap bulks;          /* Contains "struct replrx_bulk"s. */
};

struct replrx {
    struct streamtab *tab;      /* Where states go. */
    const struct service_class *svc; /* Decodes them. */
    size_t n_buckets;           /* Of the newest map; 0 before one. */
    const struct agentmap *map; /* The agent's map, or NULL. */
    struct ovs_list conns;      /* Contains "struct replrx_conn"s. */
    struct shash senders;       /* Sender name -> its current connection. */
    struct replrx_stats stats;  /* Counters. */
};

/* Creates a receiver that applies states to 'tab' with service 'svc'. */
struct replrx *
replrx_create(struct streamtab *tab, const struct service_class *svc)
{
    struct replrx *rx = xzalloc(sizeof *rx);

    rx->tab = tab;
    rx->svc = svc;
    ovs_list_init(&rx->conns);
    shash_init(&rx->senders);
    return rx;
}

/* Frees 'rx' and every connection it still has (not the callers' objects
 * in their 'aux').  Accepts NULL. */
void
replrx_destroy(struct replrx *rx)
{
    struct replrx_conn *c;

    if (!rx) {
        return;
    }
    LIST_FOR_EACH_SAFE (c, list_node, &rx->conns) {
        replrx_conn_destroy(c);
    }
    shash_destroy(&rx->senders);
    free(rx);
}

/* Sets the bucket count of the newest map, 'n_buckets' (a power of 2, or
 * 0): a record's bucket is its number masked to it. */
void
replrx_set_n_buckets(struct replrx *rx, size_t n_buckets)
{
    rx->n_buckets = n_buckets;
}

/* Gives 'rx' the agent's map 'map' (which the agent keeps current), for
 * counting the states applied from senders that it does not name their
 * bucket's primary.  Whether a state applies does not depend on it. */
void
replrx_set_map(struct replrx *rx, const struct agentmap *map)
{
    rx->map = map;
}

const struct replrx_stats *
replrx_get_stats(const struct replrx *rx)
{
    return &rx->stats;
}

/* Returns the number of open connections of 'rx'. */
size_t
replrx_n_conns(const struct replrx *rx)
{
    return ovs_list_size(&rx->conns);
}

/* Returns the number of senders with a connection. */
size_t
replrx_n_senders(const struct replrx *rx)
{
    return shash_count(&rx->senders);
}

/* Adds a new connection to 'rx', with 'aux' for the caller. */
struct replrx_conn *
replrx_conn_create(struct replrx *rx, void *aux)
{
    struct replrx_conn *c = xzalloc(sizeof *c);

    c->rx = rx;
    c->aux = aux;
    agp_seq_window_init(&c->window, 0);
    hmap_init(&c->bulks);
    ovs_list_push_back(&rx->conns, &c->list_node);
    return c;
}

static void
clear_bulks__(struct replrx_conn *c)
{
    struct replrx_bulk *bulk;

    HMAP_FOR_EACH_POP (bulk, hmap_node, &c->bulks) {
        free(bulk);
    }
}

/* Forgets connection 'c' (closed).  Accepts NULL. */
void
replrx_conn_destroy(struct replrx_conn *c)
{
    if (!c) {
        return;
    }
    if (c->current) {
        shash_find_and_delete(&c->rx->senders, c->sender);
    }
    clear_bulks__(c);
    hmap_destroy(&c->bulks);
    ovs_list_remove(&c->list_node);
    free(c->sender);
    free(c);
}

void *
replrx_conn_aux(const struct replrx_conn *c)
{
    return c->aux;
}

/* Returns the sender that 'c' carries, or NULL before its first batch. */
const char *
replrx_conn_sender(const struct replrx_conn *c)
{
    return c->sender;
}

/* Returns some connection of 'rx', or NULL if it has none (to close them
 * all at exit). */
struct replrx_conn *
replrx_first_conn(const struct replrx *rx)
{
    return (ovs_list_is_empty(&rx->conns) ? NULL
            : CONTAINER_OF(ovs_list_front(&rx->conns), struct replrx_conn,
                           list_node));
}

static struct replrx_bulk *
find_bulk__(const struct replrx_conn *c, uint32_t bucket)
{
    struct replrx_bulk *bulk;

    HMAP_FOR_EACH_WITH_HASH (bulk, hmap_node, hash_int(bucket, 0),
                             &c->bulks) {
        if (bulk->bucket == bucket) {
            return bulk;
        }
    }
    return NULL;
}

static void
close__(struct replrx_result *r, const char *reason)
{
    r->action = REPLRX_CLOSE;
    r->reason = reason;
}

/* Returns the newest connection whose batches name 'sender', or NULL. */
struct replrx_conn *
replrx_find_sender(const struct replrx *rx, const char *sender)
{
    return shash_find_data(&rx->senders, sender);
}

/* Makes 'sender' the sender of 'c', on its first batch, superseding the
 * sender's older connection if it has one.  Returns false if 'c' already
 * has another sender. */
static bool
claim_sender__(struct replrx_conn *c, const char *sender,
               struct replrx_result *r)
{
    struct replrx *rx = c->rx;
    struct replrx_conn *old;

    if (c->sender) {
        return !strcmp(c->sender, sender);
    }
    c->sender = xstrdup(sender);
    old = shash_find_data(&rx->senders, sender);
    if (old) {
        old->current = false;
        shash_replace(&rx->senders, sender, c);
        r->superseded = old;
        rx->stats.n_superseded++;
    } else {
        shash_add(&rx->senders, sender, c);
    }
    c->current = true;
    return true;
}

/* Returns true if 'rx' has a map that does not name 'sender' the primary
 * of 'bucket'. */
static bool
not_primary__(const struct replrx *rx, uint32_t bucket, const char *sender)
{
    const struct agentmap *map = rx->map;
    const char *primary;

    if (!map || !map->epoch || bucket >= map->n_buckets) {
        return false;
    }
    primary = agentmap_name(map, map->buckets[bucket].primary);
    return !primary || strcmp(primary, sender);
}

/* Deals with record 'rec' from 'sender' received at 'now': applies it if
 * its version is newer than the state held for its stream, drops it
 * otherwise (and marks the held state dirty, setting 'r->answer', if that
 * is strictly newer).  Returns false if a newer record could not be
 * applied. */
static bool
apply_record__(struct replrx *rx, const struct agp_record *rec,
               const char *sender, long long int now,
               struct replrx_result *r)
{
    struct streamtab_version version = {
        .epoch = rec->version.epoch,
        .count = rec->version.count,
    };
    struct streamtab_key key;
    struct streamtab_entry *e;
    const char *error;
    bool is_new;

    streamtab_key_init(&key, htonl(rec->key.lower_addr),
                       htonl(rec->key.higher_addr), rec->key.lower_port,
                       rec->key.higher_port, rec->key.proto);
    e = streamtab_lookup(rx->tab, &key);
    is_new = !e;
    if (e) {
        int cmp = streamtab_version_compare(&version, &e->version);

        if (cmp <= 0) {
            rx->stats.n_stale++;
            if (cmp < 0) {
                streamtab_mark_dirty(rx->tab, e);
                rx->stats.n_answered++;
                r->answer = true;
            }
            return true;
        }
    } else {
        e = streamtab_insert(rx->tab, &key,
                             rec->bucket & (rx->n_buckets
                                            ? rx->n_buckets - 1 : 0), now);
        if (!e) {
            rx->stats.n_table_full++;
            return false;
        }
    }
    error = rx->svc->deserialize(rec->state, rec->state_len, e->state, now);
    if (error) {
        VLOG_WARN_RL(&rl, "bad state from %s: %s", sender, error);
        rx->stats.n_bad_states++;
        if (is_new) {
            /* Not a zero-filled state that packets would then find. */
            streamtab_remove(rx->tab, e);
        }
        return false;
    }
    e->version = version;
    e->last_seen = now;
    rx->stats.n_applied++;
    rx->stats.n_not_primary += not_primary__(rx, e->bucket, sender);
    return true;
}

static void
handle_update__(struct replrx *rx, struct replrx_conn *c,
                const struct agp_state_update *u, long long int now,
                struct replrx_result *r)
{
    uint64_t gaps = c->window.n_gaps;

    if (!claim_sender__(c, u->sender, r)) {
        close__(r, "sender changed on a replication connection");
        return;
    }
    if (agp_seq_accept(&c->window, u->seq) == AGP_SEQ_DUPLICATE) {
        rx->stats.n_dup_batches++;
        return;
    }
    rx->stats.n_gaps += c->window.n_gaps - gaps;
    for (size_t i = 0; i < u->n_records; i++) {
        const struct agp_record *rec = &u->records[i];
        struct replrx_bulk *bulk = (hmap_is_empty(&c->bulks) ? NULL
                                    : find_bulk__(c, rec->bucket));
        bool ok = apply_record__(rx, rec, c->sender, now, r);

        if (bulk) {
            bulk->received++;
            bulk->ok &= ok;
        }
    }
    r->action = REPLRX_ACK;
    r->seq = u->seq;
}

static void
handle_bulk_begin__(struct replrx_conn *c, const struct agp_bulk_begin *b)
{
    struct replrx_bulk *bulk = find_bulk__(c, b->bucket);

    if (!bulk) {
        bulk = xmalloc(sizeof *bulk);
        bulk->bucket = b->bucket;
        hmap_insert(&c->bulks, &bulk->hmap_node, hash_int(b->bucket, 0));
    }
    bulk->received = 0;
    bulk->ok = true;
    if (c->window.last != b->watermark) {
        VLOG_WARN_RL(&rl, "bulk of bucket %"PRIu32" from %s: watermark %"
                     PRIu64", last batch %"PRIu64"; the window restarts at "
                     "the watermark", b->bucket, c->sender, b->watermark,
                     c->window.last);
    }
    c->window.last = b->watermark;
}

static void
handle_bulk_end__(struct replrx *rx, struct replrx_conn *c,
                  const struct agp_bulk_end *e, struct replrx_result *r)
{
    struct replrx_bulk *bulk = find_bulk__(c, e->bucket);

    r->bucket = e->bucket;
    if (bulk && bulk->ok && bulk->received == e->count) {
        r->action = REPLRX_BULK_DONE;
        rx->stats.n_bulks++;
    } else {
        r->action = REPLRX_BULK_FAILED;
        r->reason = (!bulk ? "end without a beginning"
                     : bulk->received != e->count ? "records missing"
                     : "states not applied");
        r->resend = !bulk || bulk->received != e->count;
        rx->stats.n_bulks_failed++;
        VLOG_WARN_RL(&rl, "bulk of bucket %"PRIu32" from %s failed: %s "
                     "(%"PRIu32" of %"PRIu32" records received)", e->bucket,
                     c->sender, r->reason, bulk ? bulk->received : 0,
                     e->count);
    }
    if (bulk) {
        hmap_remove(&c->bulks, &bulk->hmap_node);
        free(bulk);
    }
}

/* Handles message 'msg', received at 'now' on connection 'c' of 'rx', and
 * says in '*r' what the caller is to do. */
void
replrx_handle(struct replrx *rx, struct replrx_conn *c,
              const struct agp_msg *msg, long long int now,
              struct replrx_result *r)
{
    memset(r, 0, sizeof *r);
    switch (msg->type) {
    case AGP_STATE_UPDATE:
        handle_update__(rx, c, &msg->state_update, now, r);
        break;

    case AGP_BULK_BEGIN:
        if (!c->sender) {
            close__(r, "bulk transfer before the sender's first batch");
            break;
        }
        handle_bulk_begin__(c, &msg->bulk_begin);
        break;

    case AGP_BULK_END:
        if (!c->sender) {
            close__(r, "bulk transfer before the sender's first batch");
            break;
        }
        handle_bulk_end__(rx, c, &msg->bulk_end, r);
        break;

    case AGP_HELLO:
    case AGP_HELLO_ACK:
    case AGP_MAP:
    case AGP_HEARTBEAT:
    case AGP_STATE_ACK:
    default:
        close__(r, "unexpected message on replication");
        break;
    }
    r->sender = c->sender;
}
