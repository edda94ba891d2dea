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
#include "sset.h"
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
    bool refused;               /* Some refused: the sender holds no role
                                 * for the bucket in our maps. */
};

/* The roles of one map, as the receiver keeps them to authorize senders:
 * a copy, since the agent's map changes under it. */
struct replrx_roles {
    uint64_t epoch;             /* 0: no map. */
    size_t n_buckets;           /* Buckets. */
    struct agp_bucket *buckets; /* Per bucket: instance indexes. */
    size_t n_instances;         /* Instances. */
    char **names;               /* Per instance: its name. */
    uint32_t *addrs;            /* Per instance: its replication address. */
};

struct replrx_conn {
    struct ovs_list list_node;  /* In 'replrx->conns'. */
    struct replrx *rx;          /* Owner. */
    void *aux;                  /* The caller's. */
    uint32_t addr;              /* The peer's address. */
    struct sset cert_names;     /* The names its certificate bears, with
                                 * TLS; empty without. */
    bool tls;                   /* The peer presented a certificate. */
    char *sender;               /* From the first batch, or NULL. */
    char *refusal;              /* Why its sender was refused, or NULL. */
    uint32_t origin;            /* The sender's number, or 0. */
    int idx[2];                 /* The sender's index in 'rx->roles[0]'
                                 * (the newest map) and '[1]' (the one
                                 * before), or -1. */
    bool current;               /* The sender's newest connection. */
    struct agp_seq_window window; /* This connection's batch numbers. */
    struct hmap bulks;          /* Contains "struct replrx_bulk"s. */
};

struct replrx {
    struct streamtab *tab;      /* Where states go. */
    const struct service_class *svc; /* Decodes them. */
    struct replrx_roles roles[2]; /* The newest map and the one before. */
    size_t quota;               /* Most streams one sender may create. */
    struct ovs_list conns;      /* Contains "struct replrx_conn"s. */
    struct shash senders;       /* Sender name -> its current connection. */
    struct shash origins;       /* Sender name -> its number, from 1. */
    struct replrx_stats stats;  /* Counters. */
};

/* Creates a receiver that applies states to 'tab' with service 'svc'. */
struct replrx *
replrx_create(struct streamtab *tab, const struct service_class *svc)
{
    struct replrx *rx = xzalloc(sizeof *rx);

    rx->tab = tab;
    rx->svc = svc;
    rx->quota = MAX(streamtab_capacity(tab) / 2, 1);
    ovs_list_init(&rx->conns);
    shash_init(&rx->senders);
    shash_init(&rx->origins);
    return rx;
}

static void
roles_clear__(struct replrx_roles *roles)
{
    for (size_t i = 0; i < roles->n_instances; i++) {
        free(roles->names[i]);
    }
    free(roles->names);
    free(roles->addrs);
    free(roles->buckets);
    memset(roles, 0, sizeof *roles);
}

/* Returns the index of instance 'name' in 'roles', or -1. */
static int
roles_find__(const struct replrx_roles *roles, const char *name)
{
    for (size_t i = 0; i < roles->n_instances; i++) {
        if (!strcmp(roles->names[i], name)) {
            return i;
        }
    }
    return -1;
}

/* Returns true if instance 'idx' of 'roles' is the primary, the secondary
 * or the next instance of 'bucket'. */
static bool
roles_has_role__(const struct replrx_roles *roles, int idx, uint32_t bucket)
{
    const struct agp_bucket *b;

    if (idx < 0 || bucket >= roles->n_buckets) {
        return false;
    }
    b = &roles->buckets[bucket];
    return b->primary == idx || b->secondary == idx || b->next == idx;
}

/* Finds the sender of 'c' in the maps 'c->rx' keeps. */
static void
conn_find_sender__(struct replrx_conn *c)
{
    for (int k = 0; k < 2; k++) {
        c->idx[k] = c->sender ? roles_find__(&c->rx->roles[k], c->sender) : -1;
    }
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
    shash_destroy(&rx->origins);
    roles_clear__(&rx->roles[0]);
    roles_clear__(&rx->roles[1]);
    free(rx);
}

/* Gives 'rx' the agent's newest map 'map', after each map the agent
 * applies.  A map of a new epoch becomes the newest, and the newest until
 * then the one before: senders are authorized by those two (see
 * replrx.h). */
void
replrx_set_map(struct replrx *rx, const struct agentmap *map)
{
    struct replrx_roles *roles = &rx->roles[0];
    struct replrx_conn *c;

    if (!map->epoch || map->epoch < roles->epoch) {
        return;
    }
    if (map->epoch > roles->epoch) {
        roles_clear__(&rx->roles[1]);
        rx->roles[1] = *roles;
        memset(roles, 0, sizeof *roles);
    } else {
        /* The same epoch again, with addresses that became known. */
        roles_clear__(roles);
    }
    roles->epoch = map->epoch;
    roles->n_buckets = map->n_buckets;
    roles->buckets = xmemdup(map->buckets,
                             map->n_buckets * sizeof *map->buckets);
    roles->n_instances = map->n_instances;
    roles->names = xmalloc(MAX(map->n_instances, 1) * sizeof *roles->names);
    roles->addrs = xmalloc(MAX(map->n_instances, 1) * sizeof *roles->addrs);
    for (size_t i = 0; i < map->n_instances; i++) {
        roles->names[i] = xstrdup(map->instances[i].name);
        roles->addrs[i] = map->instances[i].repl_addr;
    }
    LIST_FOR_EACH (c, list_node, &rx->conns) {
        conn_find_sender__(c);
    }
}

/* Sets the most stream states that one sender's records may create in the
 * table (by default half its capacity), so that no one sender can fill
 * it. */
void
replrx_set_quota(struct replrx *rx, size_t quota)
{
    rx->quota = quota;
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

/* Adds a new connection to 'rx', from a peer at IPv4 address 'addr' (host
 * order), with 'aux' for the caller.  If it runs TLS ('tls'), its peer is
 * known by the names of its certificate, which the caller gives with
 * replrx_conn_set_cert_names() before the first message; without, by its
 * address. */
struct replrx_conn *
replrx_conn_create(struct replrx *rx, void *aux, uint32_t addr, bool tls)
{
    struct replrx_conn *c = xzalloc(sizeof *c);

    c->rx = rx;
    c->aux = aux;
    c->addr = addr;
    c->tls = tls;
    sset_init(&c->cert_names);
    c->idx[0] = c->idx[1] = -1;
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
    sset_destroy(&c->cert_names);
    ovs_list_remove(&c->list_node);
    free(c->refusal);
    free(c->sender);
    free(c);
}

/* Gives 'c' the names its peer's certificate bears (tls_peer_names()). */
void
replrx_conn_set_cert_names(struct replrx_conn *c, const struct sset *names)
{
    sset_destroy(&c->cert_names);
    sset_clone(&c->cert_names, names);
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

/* Returns an address in host order as a string, in 'buf'. */
static const char *
format_addr__(uint32_t addr, char buf[16])
{
    snprintf(buf, 16, "%"PRIu32".%"PRIu32".%"PRIu32".%"PRIu32,
             addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
             addr & 0xff);
    return buf;
}

/* Returns NULL if the peer of 'c' may send state in the name of 'sender',
 * or why not (free it): 'sender' must be an instance of the newest map or
 * the one before, and the peer must be it, by its certificate with TLS,
 * by the replication address the map gives it without. */
static char *
authenticate__(const struct replrx_conn *c, const char *sender)
{
    const struct replrx *rx = c->rx;
    int idx[2];
    char a[16], b[16];

    if (!rx->roles[0].epoch) {
        return xasprintf("no map yet: %s may be no instance of the service",
                         sender);
    }
    for (int k = 0; k < 2; k++) {
        idx[k] = roles_find__(&rx->roles[k], sender);
    }
    if (idx[0] < 0 && idx[1] < 0) {
        return xasprintf("%s is no instance of the service in the maps of "
                         "epochs %"PRIu64" and %"PRIu64, sender,
                         rx->roles[0].epoch, rx->roles[1].epoch);
    }
    if (c->tls) {
        return (sset_contains(&c->cert_names, sender) ? NULL
                : xasprintf("the peer's certificate does not name %s",
                            sender));
    }
    for (int k = 0; k < 2; k++) {
        if (idx[k] >= 0 && rx->roles[k].addrs[idx[k]] == c->addr) {
            return NULL;
        }
    }
    return xasprintf("%s replicates from %s, not from %s", sender,
                     format_addr__(rx->roles[idx[0] >= 0 ? 0 : 1]
                                   .addrs[idx[0] >= 0 ? idx[0] : idx[1]], a),
                     format_addr__(c->addr, b));
}

/* Makes 'sender' the sender of 'c', on its first batch, superseding the
 * sender's older connection if it has one.  Returns NULL if it may, or why
 * not (free it): 'c' already has another sender, or its peer is not
 * 'sender'. */
static char *
claim_sender__(struct replrx_conn *c, const char *sender,
               struct replrx_result *r)
{
    struct replrx *rx = c->rx;
    struct replrx_conn *old;
    char *error;

    if (c->sender) {
        return (strcmp(c->sender, sender)
                ? xstrdup("sender changed on a replication connection")
                : NULL);
    }
    error = authenticate__(c, sender);
    if (error) {
        rx->stats.n_refused_senders++;
        VLOG_WARN_RL(&rl, "replication refused: %s", error);
        return error;
    }
    c->sender = xstrdup(sender);
    c->origin = (uintptr_t) shash_find_data(&rx->origins, sender);
    if (!c->origin) {
        c->origin = shash_count(&rx->origins) + 1;
        shash_add(&rx->origins, sender, (void *) (uintptr_t) c->origin);
    }
    conn_find_sender__(c);
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
    return NULL;
}

/* Returns true if the sender of 'c' holds a role (primary, secondary or
 * next instance) for 'bucket' in the newest map or the one before. */
static bool
authorized__(const struct replrx_conn *c, uint32_t bucket)
{
    return (roles_has_role__(&c->rx->roles[0], c->idx[0], bucket)
            || roles_has_role__(&c->rx->roles[1], c->idx[1], bucket));
}

/* Returns true if the newest map does not name the sender of 'c' the
 * primary of 'bucket'. */
static bool
not_primary__(const struct replrx_conn *c, uint32_t bucket)
{
    const struct replrx_roles *roles = &c->rx->roles[0];

    return (bucket < roles->n_buckets
            && roles->buckets[bucket].primary != c->idx[0]);
}

/* Deals with record 'rec' of 'bucket' received on 'c' at 'now': applies it
 * if its version is newer than the state held for its stream, drops it
 * otherwise (and marks the held state dirty, setting 'r->answer', if that
 * is strictly newer).  Returns false if a newer record could not be
 * applied. */
static bool
apply_record__(struct replrx_conn *c, const struct agp_record *rec,
               uint32_t bucket, long long int now, struct replrx_result *r)
{
    struct replrx *rx = c->rx;
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
    } else if (streamtab_origin_count(rx->tab, c->origin) >= rx->quota) {
        rx->stats.n_over_quota++;
        return false;
    } else {
        e = streamtab_insert(rx->tab, &key, bucket, now);
        if (!e) {
            rx->stats.n_table_full++;
            return false;
        }
        streamtab_set_origin(rx->tab, e, c->origin);
    }
    error = rx->svc->deserialize(rec->state, rec->state_len, e->state, now);
    if (error) {
        VLOG_WARN_RL(&rl, "bad state from %s: %s", c->sender, error);
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
    rx->stats.n_not_primary += not_primary__(c, e->bucket);
    return true;
}

static void
handle_update__(struct replrx *rx, struct replrx_conn *c,
                const struct agp_state_update *u, long long int now,
                struct replrx_result *r)
{
    uint64_t gaps = c->window.n_gaps;
    char *error;

    error = claim_sender__(c, u->sender, r);
    if (error) {
        free(c->refusal);
        c->refusal = error;
        close__(r, error);
        return;
    }
    if (agp_seq_accept(&c->window, u->seq) == AGP_SEQ_DUPLICATE) {
        rx->stats.n_dup_batches++;
        return;
    }
    rx->stats.n_gaps += c->window.n_gaps - gaps;
    for (size_t i = 0; i < u->n_records; i++) {
        const struct agp_record *rec = &u->records[i];
        size_t n_buckets = rx->roles[0].n_buckets;
        uint32_t bucket = rec->bucket & (n_buckets ? n_buckets - 1 : 0);
        struct replrx_bulk *bulk = (hmap_is_empty(&c->bulks) ? NULL
                                    : find_bulk__(c, rec->bucket));
        bool ok, refused = !authorized__(c, bucket);

        if (refused) {
            rx->stats.n_unauthorized++;
            VLOG_WARN_RL(&rl, "state of bucket %"PRIu32" from %s refused: "
                         "it holds no role for the bucket at map epoch %"
                         PRIu64" or %"PRIu64, bucket, c->sender,
                         rx->roles[0].epoch, rx->roles[1].epoch);
            ok = false;
        } else {
            ok = apply_record__(c, rec, bucket, now, r);
        }
        if (bulk) {
            bulk->received++;
            bulk->ok &= ok;
            bulk->refused |= refused;
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
    bulk->refused = false;
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
                     : bulk->refused ? "records refused: no role for the "
                                       "bucket in our maps"
                     : "states not applied");
        r->resend = !bulk || bulk->received != e->count || bulk->refused;
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
