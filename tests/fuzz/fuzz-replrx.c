/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the receiving side of replication (agent/replrx): what
 * an agent does with the decoded STATE_UPDATE, BULK_BEGIN and BULK_END
 * messages of its replication connections, as a sequence.
 *
 * The input is a program: each step opens or closes a connection, or
 * delivers a message built from the next bytes (a sender among a few
 * names, small sequence numbers and buckets so that windows and bulks
 * collide, records with small versions so that they tie, valid or
 * arbitrary state blobs) to one of up to 8 connections, into a stream
 * table small enough to fill.  A model of each connection's window and
 * bulks checks every result: a batch is acknowledged exactly when its
 * number is above the last accepted one, a bulk is complete exactly when
 * its record count matches what arrived and each of those records was
 * applied or stale, a connection never changes sender, and the receiver's
 * bookkeeping (connections, senders) matches what was opened and closed.
 * A model of the table checks the version rule: a record applies exactly
 * when its stream is not held or its version is newer (and its state
 * valid, and the table not full), the table holds every stream at the
 * newest version applied, and a held state is marked to answer exactly
 * when an older record was dropped.  And the authorization rules: each
 * connection comes from one of the instances' addresses (or a stranger's),
 * a first batch in a name that is not the peer's, or no instance's, closes
 * it, and a record of a bucket its sender holds no role for is refused
 * (and makes its bulk fail with a resend). */

#include <config.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "agentmap.h"
#include "agentproto.h"
#include "replrx.h"
#include "service.h"
#include "streamtab.h"
#include "util.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CONNS 8
#define MAX_RECORDS 4
#define N_BUCKETS 16
#define CAPACITY 32             /* Of the stream table. */
#define N_KEYS 256              /* Streams: port 1000 + a byte. */

static const char *const senders[] = { "dlp-1", "dlp-2", "dlp-3", "x" };

/* Where connections come from: the instances' replication addresses, then
 * a stranger's. */
static const uint32_t addrs[] = {
    0x0a000001, 0x0a000002, 0x0a000003, 0x0a000009,
};

/* The map: bucket b's primary is instance b % 3, its secondary the next
 * one. */
static bool
has_role(int sender, uint32_t bucket)
{
    bucket %= N_BUCKETS;
    return sender < 3 && (bucket % 3 == (uint32_t) sender
                          || (bucket + 1) % 3 == (uint32_t) sender);
}

static void
give_map(struct replrx *rx, struct agentmap *map)
{
    struct agp_instance inst[3];
    struct agp_bucket bk[N_BUCKETS];
    struct agentmap_change change;
    struct agp_map m = {
        .epoch = 1, .service = "dlp", .n_buckets = N_BUCKETS,
        .instances = inst, .n_instances = 3, .buckets = bk,
    };

    for (int i = 0; i < 3; i++) {
        inst[i].name = senders[i];
        inst[i].repl_addr = addrs[i];
        inst[i].repl_port = 7000;
    }
    for (int b = 0; b < N_BUCKETS; b++) {
        bk[b].primary = b % 3;
        bk[b].secondary = (b + 1) % 3;
        bk[b].next = AGP_NONE;
    }
    agentmap_init(map);
    fuzz_check(agentmap_apply(map, &m, "dlp-2", true, NULL, &change));
    agentmap_change_destroy(&change);
    replrx_set_map(rx, map);
}

/* The model of one connection. */
struct model {
    struct replrx_conn *c;      /* NULL if closed. */
    int sender;                 /* Index in 'senders', or -1. */
    int from;                   /* Index in 'addrs' of its peer. */
    uint64_t last;              /* Last batch number accepted. */
    bool in_bulk[N_BUCKETS * 2]; /* BULK_BEGIN seen, no BULK_END yet. */
    uint32_t received[N_BUCKETS * 2]; /* Records since BULK_BEGIN. */
    bool bulk_ok[N_BUCKETS * 2]; /* Each of them applied or stale. */
    bool bulk_refused[N_BUCKETS * 2]; /* Some refused: no role. */
};

/* The model of the stream table. */
struct table_model {
    bool held[N_KEYS];          /* Stream held. */
    struct streamtab_version version[N_KEYS]; /* Its version, if held. */
    bool dirty[N_KEYS];         /* Marked to answer an older record. */
    size_t n_held;              /* Streams held. */
    struct replrx_stats stats;  /* What the counters must say. */
};

/* Returns the key of stream 'k'. */
static struct streamtab_key
key_of(int k)
{
    struct streamtab_key key;

    streamtab_key_init(&key, htonl(0x0a000001), htonl(0x0a000002),
                       1000 + k, 80, IPPROTO_TCP);
    return key;
}

/* Updates 'tm' with record 'rec' of stream 'k', as the receiver must deal
 * with it; sets '*answered' if the held state is to answer it.  Returns
 * false if the record was not applied though newer. */
static bool
model_record(struct table_model *tm, const struct service_class *svc,
             int k, const struct agp_record *rec, bool *answered)
{
    uint64_t scratch[SERVICE_STATE_MAX / 8];
    struct streamtab_version v = {
        .epoch = rec->version.epoch, .count = rec->version.count,
    };
    bool valid = !svc->deserialize(rec->state, rec->state_len, scratch, 0);

    if (tm->held[k]) {
        int cmp = streamtab_version_compare(&v, &tm->version[k]);

        if (cmp <= 0) {
            tm->stats.n_stale++;
            if (cmp < 0) {
                tm->stats.n_answered++;
                tm->dirty[k] = true;
                *answered = true;
            }
            return true;
        }
    } else if (tm->n_held >= CAPACITY) {
        tm->stats.n_table_full++;
        return false;
    }
    if (!valid) {
        tm->stats.n_bad_states++;
        return false;
    }
    if (!tm->held[k]) {
        tm->held[k] = true;
        tm->n_held++;
    }
    tm->version[k] = v;
    tm->stats.n_applied++;
    return true;
}

/* Checks stream 'k' of 'tab' against 'tm'. */
static void
check_stream(const struct table_model *tm, const struct streamtab *tab,
             int k)
{
    struct streamtab_key key = key_of(k);
    const struct streamtab_entry *e = streamtab_lookup(tab, &key);

    fuzz_check(!e == !tm->held[k]);
    if (e) {
        fuzz_check(!streamtab_version_compare(&e->version, &tm->version[k])
                   && e->dirty == tm->dirty[k]);
    }
}

/* Checks the stream table 'tab' and the counters 'st' against 'tm': every
 * stream if 'all', else only the count. */
static void
check_table(const struct table_model *tm, const struct streamtab *tab,
            const struct replrx_stats *st, bool all)
{
    fuzz_check(streamtab_count(tab) == tm->n_held);
    for (int k = 0; all && k < N_KEYS; k++) {
        check_stream(tm, tab, k);
    }
    fuzz_check(st->n_applied == tm->stats.n_applied
               && st->n_unauthorized == tm->stats.n_unauthorized
               && st->n_refused_senders == tm->stats.n_refused_senders
               && st->n_stale == tm->stats.n_stale
               && st->n_answered == tm->stats.n_answered
               && st->n_table_full == tm->stats.n_table_full
               && st->n_bad_states == tm->stats.n_bad_states);
}

/* Closes the connection of 'm'. */
static void
close_conn(struct model *m)
{
    replrx_conn_destroy(m->c);
    memset(m, 0, sizeof *m);
    m->sender = -1;
}

static size_t
count_open(const struct model *models)
{
    size_t n = 0;

    for (size_t i = 0; i < MAX_CONNS; i++) {
        n += models[i].c != NULL;
    }
    return n;
}

static void
deliver(struct replrx *rx, struct model *models, struct model *m,
        struct table_model *tm, const struct streamtab *tab,
        const struct service_class *svc, const uint8_t **data, size_t *size,
        long long int now)
{
    int keys[MAX_RECORDS];
    struct agp_record recs[MAX_RECORDS];
    uint8_t blobs[MAX_RECORDS][SERVICE_STATE_MAX];
    struct replrx_result r;
    struct agp_msg msg;
    uint8_t op = fuzz_next(data, size);
    int sender = fuzz_next(data, size) % ARRAY_SIZE(senders);
    uint64_t seq = fuzz_next(data, size);
    uint32_t bucket = fuzz_next(data, size) % (N_BUCKETS * 2);
    bool first;

    memset(&msg, 0, sizeof msg);
    switch (op % 4) {
    case 0:
    case 1:
        msg.type = AGP_STATE_UPDATE;
        msg.state_update.sender = senders[sender];
        msg.state_update.seq = seq ? seq : 1;
        msg.state_update.n_records = fuzz_next(data, size) % (MAX_RECORDS + 1);
        msg.state_update.records = recs;
        for (size_t i = 0; i < msg.state_update.n_records; i++) {
            uint8_t kind = fuzz_next(data, size), v;

            recs[i].bucket = (bucket + i * (kind >> 4)) % (N_BUCKETS * 2);
            keys[i] = fuzz_next(data, size);
            agp_stream_key_init(&recs[i].key, 0x0a000001, 1000 + keys[i],
                                0x0a000002, 80, IPPROTO_TCP);
            /* Epochs 0 to 3, counts 1 to 16: versions tie often. */
            v = fuzz_next(data, size);
            recs[i].version.epoch = (v >> 4) & 3;
            recs[i].version.count = (v & 15) + 1;
            memset(blobs[i], 0, sizeof blobs[i]);
            if (kind & 1) {
                /* Arbitrary bytes, of an arbitrary length. */
                recs[i].state_len = fuzz_next(data, size);
                for (size_t j = 0; j < recs[i].state_len; j++) {
                    blobs[i][j] = fuzz_next(data, size);
                }
            } else {
                /* A valid counter state. */
                blobs[i][0] = 1;
                service_put_be64(&blobs[i][8], fuzz_next(data, size));
                recs[i].state_len = svc->blob_size;
            }
            recs[i].state = blobs[i];
        }
        break;
    case 2:
        msg.type = AGP_BULK_BEGIN;
        msg.bulk_begin.bucket = bucket;
        msg.bulk_begin.watermark = seq;
        break;
    case 3:
        msg.type = AGP_BULK_END;
        msg.bulk_end.bucket = bucket;
        msg.bulk_end.count = fuzz_next(data, size) % 8;
        break;
    }

    first = m->sender < 0;
    replrx_handle(rx, m->c, &msg, now, &r);
    if (r.superseded) {
        /* Only a first batch supersedes, and only a connection of the same
         * sender. */
        struct model *old = NULL;

        fuzz_check(msg.type == AGP_STATE_UPDATE && first);
        for (size_t i = 0; i < MAX_CONNS; i++) {
            if (models[i].c == r.superseded) {
                old = &models[i];
            }
        }
        fuzz_check(old && old != m && old->sender == sender);
    }

    switch (msg.type) {
    case AGP_STATE_UPDATE:
        if (!first && m->sender != sender) {
            fuzz_check(r.action == REPLRX_CLOSE);
            close_conn(m);
            break;
        }
        if (first && (sender >= 3 || m->from != sender)) {
            /* No instance, or not the peer's name. */
            fuzz_check(r.action == REPLRX_CLOSE && !r.superseded);
            tm->stats.n_refused_senders++;
            close_conn(m);
            break;
        }
        m->sender = sender;
        fuzz_check(r.sender && !strcmp(r.sender, senders[sender]));
        if (msg.state_update.seq > m->last) {
            bool answered = false;

            fuzz_check(r.action == REPLRX_ACK
                       && r.seq == msg.state_update.seq);
            m->last = msg.state_update.seq;
            for (size_t i = 0; i < msg.state_update.n_records; i++) {
                bool refused = !has_role(sender, recs[i].bucket);
                bool ok = (!refused
                           && model_record(tm, svc, keys[i], &recs[i],
                                           &answered));

                tm->stats.n_unauthorized += refused;
                m->received[recs[i].bucket]++;
                m->bulk_ok[recs[i].bucket] &= ok;
                m->bulk_refused[recs[i].bucket] |= refused;
            }
            fuzz_check(r.answer == answered);
            for (size_t i = 0; i < msg.state_update.n_records; i++) {
                check_stream(tm, tab, keys[i]);
            }
        } else {
            fuzz_check(r.action == REPLRX_NOTHING && !r.answer);
        }
        break;
    case AGP_BULK_BEGIN:
        if (first) {
            fuzz_check(r.action == REPLRX_CLOSE);
            close_conn(m);
            break;
        }
        fuzz_check(r.action == REPLRX_NOTHING);
        m->in_bulk[bucket] = true;
        m->received[bucket] = 0;
        m->bulk_ok[bucket] = true;
        m->bulk_refused[bucket] = false;
        m->last = seq;
        break;
    case AGP_BULK_END:
        if (first) {
            fuzz_check(r.action == REPLRX_CLOSE);
            close_conn(m);
            break;
        }
        fuzz_check(r.bucket == bucket);
        if (!m->in_bulk[bucket] || m->received[bucket] != msg.bulk_end.count) {
            fuzz_check(r.action == REPLRX_BULK_FAILED && r.resend);
        } else if (m->bulk_ok[bucket]) {
            fuzz_check(r.action == REPLRX_BULK_DONE);
        } else if (m->bulk_refused[bucket]) {
            fuzz_check(r.action == REPLRX_BULK_FAILED && r.resend);
        } else {
            fuzz_check(r.action == REPLRX_BULK_FAILED && !r.resend);
        }
        m->in_bulk[bucket] = false;
        break;
    default:
        abort();
    }
    if (r.superseded) {
        for (size_t i = 0; i < MAX_CONNS; i++) {
            if (models[i].c == r.superseded) {
                close_conn(&models[i]);
            }
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct service_class *svc = service_find("counter");
    struct streamtab *tab = streamtab_create(svc, NULL, CAPACITY, 1);
    struct replrx *rx = replrx_create(tab, svc);
    struct model models[MAX_CONNS];
    struct table_model tm;
    struct agentmap map;
    long long int now = 1000;

    memset(&tm, 0, sizeof tm);

    for (size_t i = 0; i < MAX_CONNS; i++) {
        memset(&models[i], 0, sizeof models[i]);
        models[i].sender = -1;
    }
    give_map(rx, &map);
    replrx_set_quota(rx, CAPACITY);
    while (size) {
        uint8_t op = fuzz_next(&data, &size);
        struct model *m = &models[(op >> 2) % MAX_CONNS];

        now += op & 3;
        if ((op & 3) == 0 && !m->c) {
            m->from = (op >> 5) % ARRAY_SIZE(addrs);
            m->c = replrx_conn_create(rx, m, addrs[m->from], false);
        } else if ((op & 3) == 1 && m->c) {
            close_conn(m);
        } else if (m->c) {
            deliver(rx, models, m, &tm, tab, svc, &data, &size, now);
        }
        fuzz_check(replrx_n_conns(rx) == count_open(models));
        fuzz_check(replrx_n_senders(rx) <= replrx_n_conns(rx));
        check_table(&tm, tab, replrx_get_stats(rx), false);
    }
    check_table(&tm, tab, replrx_get_stats(rx), true);
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (models[i].c) {
            close_conn(&models[i]);
        }
    }
    fuzz_check(replrx_n_conns(rx) == 0 && replrx_n_senders(rx) == 0);
    replrx_destroy(rx);
    streamtab_destroy(tab);
    agentmap_destroy(&map);
    return 0;
}
