/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <netinet/in.h>
#include <string.h>
#include "agentmap.h"
#include "agentproto.h"
#include "replrx.h"
#include "service.h"
#include "sset.h"
#include "streamtab.h"
#include "util.h"
#include "tests.h"

/* The receiving side of replication, with the counter service: a state
 * blob carries a packet count, so the tests can tell which state won. */

struct fixture {
    const struct service_class *svc;
    struct streamtab *tab;
    struct replrx *rx;
    struct agentmap map;        /* The receiver's map. */
};

/* The instances of the tests' maps: dlp-N replicates from 10.0.0.N. */
static const struct agp_instance instances[3] = {
    { "dlp-1", 0x0a000001, 7000 },
    { "dlp-2", 0x0a000002, 7000 },
    { "dlp-3", 0x0a000003, 7000 },
};

/* Applies to 'map', as dlp-2, a map at 'epoch' of 'n_buckets' buckets of
 * the three instances where bucket b has primary 'primaries[b % n]' (an
 * index in 'instances', or -1 for none), secondary the next instance, and
 * no next instance. */
static void
apply_map(struct agentmap *map, uint64_t epoch, size_t n_buckets,
          const int *primaries, size_t n)
{
    struct agp_bucket *bk = xcalloc(n_buckets, sizeof *bk);
    struct agentmap_change change;
    struct agp_map m = {
        .epoch = epoch, .service = "dlp", .n_buckets = n_buckets,
        .instances = CONST_CAST(struct agp_instance *, instances),
        .n_instances = 3, .buckets = bk,
    };

    for (size_t b = 0; b < n_buckets; b++) {
        int p = primaries[b % n];

        bk[b].primary = p < 0 ? AGP_NONE : p;
        bk[b].secondary = p < 0 ? AGP_NONE : (p + 1) % 3;
        bk[b].next = AGP_NONE;
    }
    CU_ASSERT(agentmap_apply(map, &m, "dlp-2", true, NULL, &change));
    agentmap_change_destroy(&change);
    free(bk);
}

/* A receiver whose map at epoch 1 makes dlp-1 the primary and dlp-2 the
 * secondary of each of its 256 buckets. */
static void
fixture_init(struct fixture *f, size_t capacity)
{
    static const int dlp1 = 0;

    f->svc = service_find("counter");
    CU_ASSERT_FATAL(f->svc != NULL);
    f->tab = streamtab_create(f->svc, NULL, capacity, 1);
    f->rx = replrx_create(f->tab, f->svc);
    agentmap_init(&f->map);
    apply_map(&f->map, 1, 256, &dlp1, 1);
    replrx_set_map(f->rx, &f->map);
}

static void
fixture_destroy(struct fixture *f)
{
    replrx_destroy(f->rx);
    streamtab_destroy(f->tab);
    agentmap_destroy(&f->map);
}

/* Returns a new connection from the replication address of 'name'. */
static struct replrx_conn *
conn_of(struct fixture *f, const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(instances); i++) {
        if (!strcmp(instances[i].name, name)) {
            return replrx_conn_create(f->rx, NULL, instances[i].repl_addr,
                                      false);
        }
    }
    CU_FAIL_FATAL("no such instance");
    return NULL;
}

/* A counter state blob saying 'packets' packets. */
static void
blob_of(uint8_t *blob, size_t size, uint64_t packets)
{
    memset(blob, 0, size);
    blob[0] = 1;
    service_put_be64(&blob[8], packets);
}

/* Sends, on 'c', batch 'seq' from 'sender' with stream number 'first' to
 * 'first + n - 1' of bucket 'bucket', each with the packet count 'packets'
 * at version ('epoch', 'count'), and returns the result. */
static struct replrx_result
send_versioned(struct fixture *f, struct replrx_conn *c, const char *sender,
               uint64_t seq, uint32_t bucket, uint32_t first, size_t n,
               uint64_t packets, uint64_t epoch, uint64_t count)
{
    struct agp_record recs[16];
    uint8_t blobs[16][64];
    struct agp_msg msg;
    struct replrx_result r;

    CU_ASSERT_FATAL(n <= 16 && f->svc->blob_size <= 64);
    for (size_t i = 0; i < n; i++) {
        blob_of(blobs[i], f->svc->blob_size, packets);
        recs[i].bucket = bucket;
        agp_stream_key_init(&recs[i].key, 0x0a000001, 1000 + first + i,
                            0x0a000002, 80, IPPROTO_TCP);
        recs[i].version.epoch = epoch;
        recs[i].version.count = count;
        recs[i].state_len = f->svc->blob_size;
        recs[i].state = blobs[i];
    }
    memset(&msg, 0, sizeof msg);
    msg.type = AGP_STATE_UPDATE;
    msg.state_update.sender = sender;
    msg.state_update.seq = seq;
    msg.state_update.records = recs;
    msg.state_update.n_records = n;
    replrx_handle(f->rx, c, &msg, 1000, &r);
    return r;
}

/* send_versioned() at version (1, 'packets'): the packet count is as good
 * a change count as any. */
static struct replrx_result
send_batch(struct fixture *f, struct replrx_conn *c, const char *sender,
           uint64_t seq, uint32_t bucket, uint32_t first, size_t n,
           uint64_t packets)
{
    return send_versioned(f, c, sender, seq, bucket, first, n, packets, 1,
                          packets);
}

static struct replrx_result
send_bulk_marker(struct fixture *f, struct replrx_conn *c, bool begin,
                 uint32_t bucket, uint64_t value)
{
    struct agp_msg msg;
    struct replrx_result r;

    memset(&msg, 0, sizeof msg);
    if (begin) {
        msg.type = AGP_BULK_BEGIN;
        msg.bulk_begin.bucket = bucket;
        msg.bulk_begin.watermark = value;
    } else {
        msg.type = AGP_BULK_END;
        msg.bulk_end.bucket = bucket;
        msg.bulk_end.count = value;
    }
    replrx_handle(f->rx, c, &msg, 1000, &r);
    return r;
}

/* Returns the entry of stream number 'i', or NULL. */
static struct streamtab_entry *
entry_of(const struct fixture *f, uint32_t i)
{
    struct streamtab_key key;

    streamtab_key_init(&key, htonl(0x0a000001), htonl(0x0a000002),
                       1000 + i, 80, IPPROTO_TCP);
    return streamtab_lookup(f->tab, &key);
}

/* Returns the packet count held for stream number 'i', or -1. */
static long long int
packets_of(const struct fixture *f, uint32_t i)
{
    struct streamtab_entry *e = entry_of(f, i);
    uint8_t blob[64];

    if (!e) {
        return -1;
    }
    f->svc->serialize(e->state, blob);
    return service_get_be64(&blob[8]);
}

/* Checks that stream number 'i' is held at version ('epoch', 'count'). */
static void
check_version(const struct fixture *f, uint32_t i, uint64_t epoch,
              uint64_t count)
{
    struct streamtab_entry *e = entry_of(f, i);

    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(e->version.epoch, epoch);
    CU_ASSERT_EQUAL(e->version.count, count);
}

/* Counts 'n' packets of stream number 'i' here, as the packet path does:
 * the state changes, and so does its version, at 'epoch'. */
static void
change_locally(struct fixture *f, uint32_t i, int n, uint64_t epoch)
{
    struct streamtab_entry *e = entry_of(f, i);
    struct service_pkt pkt = { .proto = IPPROTO_TCP, .lo_to_hi = true };

    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    for (int j = 0; j < n; j++) {
        bool changed;

        f->svc->process(NULL, &pkt, e->state, false, 1000, &changed);
        CU_ASSERT(changed);
        streamtab_note_change(e, epoch);
    }
}

/* Creates stream number 'i' of bucket 'bucket' here with 'n' packets
 * counted at 'epoch'. */
static void
create_locally(struct fixture *f, uint32_t i, uint32_t bucket, int n,
               uint64_t epoch)
{
    struct streamtab_key key;

    streamtab_key_init(&key, htonl(0x0a000001), htonl(0x0a000002),
                       1000 + i, 80, IPPROTO_TCP);
    CU_ASSERT_PTR_NOT_NULL_FATAL(streamtab_insert(f->tab, &key, bucket,
                                                  1000));
    change_locally(f, i, n, epoch);
}

/* Batches are applied and acknowledged; a resent one is not applied. */
static void
test_replrx_window(void)
{
    struct fixture f;
    struct replrx_conn *c;
    struct replrx_result r;

    fixture_init(&f, 100);
    c = conn_of(&f, "dlp-1");
    r = send_batch(&f, c, "dlp-1", 1, 3, 0, 2, 5);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT_EQUAL(r.seq, 1);
    CU_ASSERT_PTR_NULL(r.superseded);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 5);
    r = send_batch(&f, c, "dlp-1", 2, 3, 0, 1, 7);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 7);

    /* An old batch again: ignored, not acknowledged again. */
    r = send_batch(&f, c, "dlp-1", 1, 3, 0, 1, 5);
    CU_ASSERT_EQUAL(r.action, REPLRX_NOTHING);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 7);
    CU_ASSERT_EQUAL(replrx_get_stats(f.rx)->n_dup_batches, 1);

    /* A skipped number is applied and counted. */
    r = send_batch(&f, c, "dlp-1", 5, 3, 0, 1, 9);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 9);
    CU_ASSERT_EQUAL(replrx_get_stats(f.rx)->n_gaps, 1);
    CU_ASSERT_EQUAL(replrx_get_stats(f.rx)->n_applied, 4);

    /* Another sender's name on the same connection closes it. */
    r = send_batch(&f, c, "dlp-2", 6, 3, 0, 1, 1);
    CU_ASSERT_EQUAL(r.action, REPLRX_CLOSE);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 9);
    fixture_destroy(&f);
}

/* A sender that restarts numbers its batches from 1 again on a new
 * connection: they are applied, and the older connection is superseded. */
static void
test_replrx_sender_restart(void)
{
    struct fixture f;
    struct replrx_conn *old, *c;
    struct replrx_result r;

    fixture_init(&f, 100);
    old = conn_of(&f, "dlp-1");
    for (uint64_t seq = 1; seq <= 332; seq++) {
        send_batch(&f, old, "dlp-1", seq, 3, 0, 1, seq);
    }
    CU_ASSERT_EQUAL(packets_of(&f, 0), 332);
    CU_ASSERT_EQUAL(replrx_n_senders(f.rx), 1);

    c = conn_of(&f, "dlp-1");
    r = send_batch(&f, c, "dlp-1", 1, 3, 0, 1, 1000);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT_PTR_EQUAL(r.superseded, old);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 1000);
    CU_ASSERT_EQUAL(replrx_get_stats(f.rx)->n_dup_batches, 0);
    CU_ASSERT_EQUAL(replrx_get_stats(f.rx)->n_superseded, 1);

    /* The superseded connection going away leaves the new one the
     * sender's. */
    replrx_conn_destroy(old);
    CU_ASSERT_EQUAL(replrx_n_conns(f.rx), 1);
    CU_ASSERT_EQUAL(replrx_n_senders(f.rx), 1);
    r = send_batch(&f, c, "dlp-1", 2, 3, 0, 1, 1001);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 1001);

    /* A sender's entry is freed with its connection. */
    replrx_conn_destroy(c);
    CU_ASSERT_EQUAL(replrx_n_conns(f.rx), 0);
    CU_ASSERT_EQUAL(replrx_n_senders(f.rx), 0);
    fixture_destroy(&f);
}

/* A bulk transfer completes only if every record between its markers was
 * received and applied. */
static void
test_replrx_bulk(void)
{
    struct fixture f;
    struct replrx_conn *c;
    struct replrx_result r;

    fixture_init(&f, 100);
    c = conn_of(&f, "dlp-1");

    /* Before the sender has named itself: protocol error. */
    r = send_bulk_marker(&f, c, true, 3, 0);
    CU_ASSERT_EQUAL(r.action, REPLRX_CLOSE);

    send_batch(&f, c, "dlp-1", 1, 0, 0, 0, 0);
    r = send_bulk_marker(&f, c, true, 3, 1);
    CU_ASSERT_EQUAL(r.action, REPLRX_NOTHING);
    send_batch(&f, c, "dlp-1", 2, 3, 0, 4, 1);
    send_batch(&f, c, "dlp-1", 3, 9, 10, 2, 1);     /* Another bucket. */
    send_batch(&f, c, "dlp-1", 4, 3, 4, 3, 1);
    r = send_bulk_marker(&f, c, false, 3, 7);
    CU_ASSERT_EQUAL(r.action, REPLRX_BULK_DONE);
    CU_ASSERT_EQUAL(r.bucket, 3);
    CU_ASSERT_STRING_EQUAL(r.sender, "dlp-1");

    /* A count that does not match fails it, and asks for a resend. */
    send_bulk_marker(&f, c, true, 3, 4);
    send_batch(&f, c, "dlp-1", 5, 3, 0, 2, 2);
    r = send_bulk_marker(&f, c, false, 3, 3);
    CU_ASSERT_EQUAL(r.action, REPLRX_BULK_FAILED);
    CU_ASSERT(r.resend);

    /* The window restarts at the watermark: a batch at or below it is a
     * duplicate, and its records are missing from the count. */
    send_bulk_marker(&f, c, true, 5, 20);
    r = send_batch(&f, c, "dlp-1", 20, 5, 30, 2, 2);
    CU_ASSERT_EQUAL(r.action, REPLRX_NOTHING);
    r = send_batch(&f, c, "dlp-1", 21, 5, 32, 2, 2);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    r = send_bulk_marker(&f, c, false, 5, 4);
    CU_ASSERT_EQUAL(r.action, REPLRX_BULK_FAILED);
    CU_ASSERT(r.resend);

    /* An end without a beginning. */
    r = send_bulk_marker(&f, c, false, 6, 0);
    CU_ASSERT_EQUAL(r.action, REPLRX_BULK_FAILED);

    /* An empty bucket's bulk. */
    send_bulk_marker(&f, c, true, 7, 21);
    r = send_bulk_marker(&f, c, false, 7, 0);
    CU_ASSERT_EQUAL(r.action, REPLRX_BULK_DONE);
    CU_ASSERT_EQUAL(replrx_get_stats(f.rx)->n_bulks, 2);
    CU_ASSERT_EQUAL(replrx_get_stats(f.rx)->n_bulks_failed, 3);
    fixture_destroy(&f);
}

/* A bulk whose records did not all fit in the table is not complete, and
 * a resend would not help. */
static void
test_replrx_bulk_table_full(void)
{
    struct fixture f;
    struct replrx_conn *c;
    struct replrx_result r;

    fixture_init(&f, 3);
    replrx_set_quota(f.rx, 100);
    c = conn_of(&f, "dlp-1");
    send_batch(&f, c, "dlp-1", 1, 0, 0, 0, 0);
    send_bulk_marker(&f, c, true, 1, 1);
    send_batch(&f, c, "dlp-1", 2, 1, 0, 5, 1);
    r = send_bulk_marker(&f, c, false, 1, 5);
    CU_ASSERT_EQUAL(r.action, REPLRX_BULK_FAILED);
    CU_ASSERT(!r.resend);
    CU_ASSERT_EQUAL(replrx_get_stats(f.rx)->n_table_full, 2);
    fixture_destroy(&f);
}

/* A state the service refuses is not applied, and leaves no entry behind
 * for a stream that had none. */
static void
test_replrx_bad_state(void)
{
    struct agp_record rec;
    struct fixture f;
    struct replrx_conn *c;
    struct replrx_result r;
    struct agp_msg msg;
    uint8_t blob[64];

    fixture_init(&f, 10);
    c = conn_of(&f, "dlp-1");
    send_batch(&f, c, "dlp-1", 1, 3, 0, 1, 5);

    blob_of(blob, f.svc->blob_size, 9);
    blob[1] = 1;                /* A reserved byte. */
    rec.bucket = 3;
    rec.version.epoch = 1;
    rec.version.count = 6;
    rec.state = blob;
    rec.state_len = f.svc->blob_size;
    memset(&msg, 0, sizeof msg);
    msg.type = AGP_STATE_UPDATE;
    msg.state_update.sender = "dlp-1";
    msg.state_update.records = &rec;
    msg.state_update.n_records = 1;
    for (uint32_t i = 0; i < 2; i++) {
        agp_stream_key_init(&rec.key, 0x0a000001, 1000 + i, 0x0a000002, 80,
                            IPPROTO_TCP);
        msg.state_update.seq = 2 + i;
        replrx_handle(f.rx, c, &msg, 1000, &r);
        CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    }
    CU_ASSERT_EQUAL(packets_of(&f, 0), 5);
    CU_ASSERT_EQUAL(packets_of(&f, 1), -1);
    CU_ASSERT_EQUAL(streamtab_count(f.tab), 1);
    CU_ASSERT_EQUAL(replrx_get_stats(f.rx)->n_bad_states, 2);
    fixture_destroy(&f);
}

/* A record applies only if its version is newer than the state held:
 * epoch first, then the count.  An older or equal one is dropped and
 * counted, its batch acknowledged; a strictly older one is answered with
 * the newer state. */
static void
test_replrx_versions(void)
{
    const struct replrx_stats *st;
    struct fixture f;
    struct replrx_conn *c;
    struct replrx_result r;

    fixture_init(&f, 100);
    st = replrx_get_stats(f.rx);
    c = conn_of(&f, "dlp-1");

    /* A stream not held: any version applies. */
    r = send_versioned(&f, c, "dlp-1", 1, 3, 0, 2, 10, 5, 10);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT(!r.answer);
    check_version(&f, 0, 5, 10);
    CU_ASSERT_EQUAL(streamtab_n_dirty(f.tab), 0);

    /* Newer at the same epoch. */
    send_versioned(&f, c, "dlp-1", 2, 3, 0, 1, 11, 5, 11);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 11);
    check_version(&f, 0, 5, 11);

    /* Equal: dropped, not answered, acknowledged. */
    r = send_versioned(&f, c, "dlp-1", 3, 3, 0, 1, 99, 5, 11);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT_EQUAL(r.seq, 3);
    CU_ASSERT(!r.answer);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 11);
    CU_ASSERT_EQUAL(st->n_stale, 1);
    CU_ASSERT_EQUAL(st->n_answered, 0);
    CU_ASSERT_EQUAL(streamtab_n_dirty(f.tab), 0);

    /* Older at the same epoch, and a higher count at an older epoch:
     * dropped, acknowledged, and the newer state marked to go back. */
    r = send_versioned(&f, c, "dlp-1", 4, 3, 0, 1, 7, 5, 7);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT(r.answer);
    r = send_versioned(&f, c, "dlp-1", 5, 3, 0, 1, 500, 4, 500);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT(r.answer);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 11);
    check_version(&f, 0, 5, 11);
    CU_ASSERT_EQUAL(st->n_stale, 3);
    CU_ASSERT_EQUAL(st->n_answered, 2);
    CU_ASSERT(entry_of(&f, 0)->dirty);
    CU_ASSERT_EQUAL(streamtab_n_dirty(f.tab), 1);

    /* A newer epoch wins with a lower count. */
    send_versioned(&f, c, "dlp-1", 6, 3, 0, 2, 3, 6, 3);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 3);
    CU_ASSERT_EQUAL(packets_of(&f, 1), 3);
    check_version(&f, 0, 6, 3);
    CU_ASSERT_EQUAL(st->n_applied, 5);
    CU_ASSERT_EQUAL(st->n_stale, 3);
    CU_ASSERT_EQUAL(st->n_dup_batches, 0);

    /* A version without a map's authority is older than any with it. */
    r = send_versioned(&f, c, "dlp-1", 7, 3, 1, 1, 1000, 0, 1000);
    CU_ASSERT(r.answer);
    CU_ASSERT_EQUAL(packets_of(&f, 1), 3);
    fixture_destroy(&f);
}

/* A bulk into a table that already holds some of the bucket's streams
 * replaces the older states, keeps the newer and the equal ones, and
 * completes: a record dropped as stale was dealt with. */
static void
test_replrx_bulk_populated(void)
{
    const struct replrx_stats *st;
    struct fixture f;
    struct replrx_conn *c, *c2;
    struct replrx_result r;

    fixture_init(&f, 100);
    st = replrx_get_stats(f.rx);
    c = conn_of(&f, "dlp-1");

    /* Streams 0-3 held: 0 at (4, 20), 1 at (5, 10), 2 at (5, 12), 3 at
     * (6, 1). */
    send_versioned(&f, c, "dlp-1", 1, 3, 0, 1, 20, 4, 20);
    send_versioned(&f, c, "dlp-1", 2, 3, 1, 1, 10, 5, 10);
    send_versioned(&f, c, "dlp-1", 3, 3, 2, 1, 12, 5, 12);
    send_versioned(&f, c, "dlp-1", 4, 3, 3, 1, 1, 6, 1);

    /* A new connection of dlp-1 (it restarted) sends bucket 3 in bulk, its
     * streams 0-4 at (5, 12). */
    c2 = conn_of(&f, "dlp-1");
    r = send_versioned(&f, c2, "dlp-1", 1, 0, 0, 0, 0, 0, 1);
    CU_ASSERT_PTR_EQUAL(r.superseded, c);
    replrx_conn_destroy(c);
    send_bulk_marker(&f, c2, true, 3, 1);
    r = send_versioned(&f, c2, "dlp-1", 2, 3, 0, 5, 99, 5, 12);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT(r.answer);
    r = send_bulk_marker(&f, c2, false, 3, 5);
    CU_ASSERT_EQUAL(r.action, REPLRX_BULK_DONE);

    CU_ASSERT_EQUAL(packets_of(&f, 0), 99);     /* Older: replaced. */
    CU_ASSERT_EQUAL(packets_of(&f, 1), 99);
    CU_ASSERT_EQUAL(packets_of(&f, 2), 12);     /* Equal: kept. */
    CU_ASSERT_EQUAL(packets_of(&f, 3), 1);      /* Newer: kept, and */
    CU_ASSERT(entry_of(&f, 3)->dirty);          /* answered. */
    CU_ASSERT(!entry_of(&f, 2)->dirty);
    CU_ASSERT_EQUAL(packets_of(&f, 4), 99);     /* Not held: inserted. */
    check_version(&f, 4, 5, 12);
    CU_ASSERT_EQUAL(st->n_stale, 2);
    CU_ASSERT_EQUAL(st->n_answered, 1);
    CU_ASSERT_EQUAL(st->n_bulks, 1);
    CU_ASSERT_EQUAL(st->n_bulks_failed, 0);
    fixture_destroy(&f);
}

/* Applies to 'map', as instance 'self', a map at 'epoch' of instances
 * dlp-1 and dlp-2 where every one of its 4 buckets has 'primary' as its
 * primary and the other instance as its secondary. */
static void
map_init(struct agentmap *map, uint64_t epoch, const char *primary,
         const char *self)
{
    struct agp_instance inst[2] = {
        { "dlp-1", 0x0a000001, 7000 }, { "dlp-2", 0x0a000002, 7000 },
    };
    struct agp_bucket bk[4];
    struct agentmap_change change;
    struct agp_map m = {
        .epoch = epoch, .service = "dlp", .n_buckets = 4,
        .instances = inst, .n_instances = 2, .buckets = bk,
    };

    for (int b = 0; b < 4; b++) {
        bk[b].primary = !strcmp(primary, "dlp-1") ? 0 : 1;
        bk[b].secondary = 1 - bk[b].primary;
        bk[b].next = AGP_NONE;
    }
    CU_ASSERT(agentmap_apply(map, &m, self, true, NULL, &change));
    agentmap_change_destroy(&change);
}

/* A short link flap of primary dlp-1: the switch moves a stream to its
 * secondary dlp-2 and back before any new map.  dlp-2 counts packets that
 * dlp-1 misses; dlp-1, back, counts packets on its stale state and
 * replicates it.  At dlp-2, dlp-1's stale records do not replace the newer
 * state, and are answered with it; dlp-1's records applied once they are
 * newer. */
static void
test_replrx_flap_at_secondary(void)
{
    const struct replrx_stats *st;
    struct agentmap map;
    struct fixture f;
    struct replrx_conn *c;
    struct replrx_result r;
    uint64_t epoch;

    fixture_init(&f, 100);
    st = replrx_get_stats(f.rx);
    agentmap_init(&map);
    map_init(&map, 9, "dlp-1", "dlp-2");
    replrx_set_map(f.rx, &map);
    c = conn_of(&f, "dlp-1");

    /* dlp-1's bulk of bucket 3, then 10 packets' state: dlp-2 is warm, so
     * its own changes carry epoch 9. */
    send_versioned(&f, c, "dlp-1", 1, 0, 0, 0, 0, 0, 1);
    send_bulk_marker(&f, c, true, 3, 1);
    send_versioned(&f, c, "dlp-1", 2, 3, 0, 1, 10, 9, 10);
    r = send_bulk_marker(&f, c, false, 3, 1);
    agentmap_set_bulk_from(&map, r.bucket, r.sender);
    epoch = agentmap_change_epoch(&map, 3);
    CU_ASSERT_EQUAL(epoch, 9);

    /* The flap: 3 packets at dlp-2. */
    change_locally(&f, 0, 3, epoch);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 13);
    check_version(&f, 0, 9, 13);

    /* dlp-1, back, counts 2 packets on its 10 and sends 11 and 12. */
    r = send_versioned(&f, c, "dlp-1", 3, 3, 0, 1, 11, 9, 11);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT(r.answer);
    r = send_versioned(&f, c, "dlp-1", 4, 3, 0, 1, 12, 9, 12);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 13);
    CU_ASSERT(entry_of(&f, 0)->dirty);
    CU_ASSERT_EQUAL(st->n_stale, 2);
    CU_ASSERT_EQUAL(st->n_answered, 2);
    CU_ASSERT_EQUAL(st->n_not_primary, 0);

    /* Once dlp-1 took dlp-2's 13 and counted on: applied. */
    send_versioned(&f, c, "dlp-1", 5, 3, 0, 1, 14, 9, 14);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 14);

    /* The controller made dlp-2 primary at epoch 10: its changes outrank
     * anything dlp-1 made under epoch 9, however many. */
    map_init(&map, 10, "dlp-2", "dlp-2");
    replrx_set_map(f.rx, &map);
    change_locally(&f, 0, 1, agentmap_change_epoch(&map, 3));
    check_version(&f, 0, 10, 15);
    send_versioned(&f, c, "dlp-1", 6, 3, 0, 1, 40, 9, 40);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 15);

    /* dlp-1, now not the primary in our map, with a newer state (it took
     * ours and counted on): applied, and counted as such. */
    send_versioned(&f, c, "dlp-1", 7, 3, 0, 1, 16, 10, 16);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 16);
    CU_ASSERT_EQUAL(st->n_not_primary, 1);
    CU_ASSERT_EQUAL(st->n_stale, 3);
    fixture_destroy(&f);
    agentmap_destroy(&map);
}

/* The same flap seen at the primary: the secondary's own changes, from a
 * sender that is not the bucket's primary, apply because they are newer;
 * a stale primary's state did not reach them. */
static void
test_replrx_flap_at_primary(void)
{
    const struct replrx_stats *st;
    struct agentmap map;
    struct fixture f;
    struct replrx_conn *c;
    struct replrx_result r;

    fixture_init(&f, 100);
    st = replrx_get_stats(f.rx);
    agentmap_init(&map);
    map_init(&map, 9, "dlp-1", "dlp-1");
    replrx_set_map(f.rx, &map);
    c = conn_of(&f, "dlp-2");

    /* dlp-1 counted 10 packets of streams 0 and 1, and dlp-2 has them. */
    CU_ASSERT_EQUAL(agentmap_change_epoch(&map, 3), 9);
    create_locally(&f, 0, 3, 10, 9);
    create_locally(&f, 1, 3, 10, 9);

    /* The flap: dlp-2 counts 3 packets of each.  Those of stream 0 arrive
     * before dlp-1 counts any more: they apply, and dlp-1 counts on from
     * them. */
    r = send_versioned(&f, c, "dlp-2", 1, 3, 0, 1, 13, 9, 13);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 13);
    CU_ASSERT_EQUAL(st->n_not_primary, 1);
    change_locally(&f, 0, 1, 9);
    check_version(&f, 0, 9, 14);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 14);

    /* Those of stream 1 arrive after dlp-1 counted 4 packets on its stale
     * 10: the longer history stays, and goes back to dlp-2. */
    change_locally(&f, 1, 4, 9);
    r = send_versioned(&f, c, "dlp-2", 2, 3, 1, 1, 13, 9, 13);
    CU_ASSERT(r.answer);
    CU_ASSERT_EQUAL(packets_of(&f, 1), 14);
    CU_ASSERT_EQUAL(st->n_stale, 1);
    CU_ASSERT_EQUAL(st->n_not_primary, 1);
    fixture_destroy(&f);
    agentmap_destroy(&map);
}

/* Only an instance of the maps the receiver knows may send, and only from
 * where it is: its replication address, or a certificate that names it. */
static void
test_replrx_senders(void)
{
    const struct replrx_stats *st;
    struct sset names = SSET_INITIALIZER(&names);
    struct replrx_conn *c, *legit;
    struct replrx_result r;
    struct fixture f;
    struct replrx *bare;

    /* Before its first map, a receiver cannot tell: nobody may send. */
    f.svc = service_find("counter");
    f.tab = streamtab_create(f.svc, NULL, 100, 1);
    bare = replrx_create(f.tab, f.svc);
    f.rx = bare;
    c = replrx_conn_create(bare, NULL, instances[0].repl_addr, false);
    r = send_batch(&f, c, "dlp-1", 1, 3, 0, 1, 5);
    CU_ASSERT_EQUAL(r.action, REPLRX_CLOSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.reason, "no map yet"));
    CU_ASSERT_EQUAL(streamtab_count(f.tab), 0);
    CU_ASSERT_EQUAL(replrx_get_stats(bare)->n_refused_senders, 1);
    replrx_destroy(bare);
    streamtab_destroy(f.tab);

    fixture_init(&f, 100);
    st = replrx_get_stats(f.rx);

    /* A name that no map of ours has. */
    c = conn_of(&f, "dlp-3");
    r = send_batch(&f, c, "fw-9", 1, 3, 0, 1, 5);
    CU_ASSERT_EQUAL(r.action, REPLRX_CLOSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.reason, "no instance"));

    /* A real instance's name, from another address: a stranger in its
     * name.  It supersedes nobody and changes nothing. */
    legit = conn_of(&f, "dlp-1");
    r = send_batch(&f, legit, "dlp-1", 1, 3, 0, 1, 5);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    c = replrx_conn_create(f.rx, NULL, 0x0a0000fe, false);
    r = send_batch(&f, c, "dlp-1", UINT64_MAX, 3, 0, 1, 1000);
    CU_ASSERT_EQUAL(r.action, REPLRX_CLOSE);
    CU_ASSERT_PTR_NULL(r.superseded);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.reason, "replicates from 10.0.0.1, not "
                                  "from 10.0.0.254"));
    CU_ASSERT_EQUAL(packets_of(&f, 0), 5);
    CU_ASSERT_PTR_EQUAL(replrx_find_sender(f.rx, "dlp-1"), legit);

    /* The real sender's window is its own: its next batch applies. */
    r = send_batch(&f, legit, "dlp-1", 2, 3, 0, 1, 6);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 6);
    CU_ASSERT_EQUAL(st->n_dup_batches, 0);

    /* With TLS, the certificate decides, not the address. */
    c = replrx_conn_create(f.rx, NULL, instances[0].repl_addr, true);
    sset_add(&names, "dlp-3");
    replrx_conn_set_cert_names(c, &names);
    r = send_batch(&f, c, "dlp-1", 1, 3, 0, 1, 1000);
    CU_ASSERT_EQUAL(r.action, REPLRX_CLOSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.reason, "certificate does not name "
                                  "dlp-1"));
    c = replrx_conn_create(f.rx, NULL, 0x0a0000fe, true);
    sset_add(&names, "dlp-1");
    replrx_conn_set_cert_names(c, &names);
    r = send_batch(&f, c, "dlp-1", 1, 3, 0, 1, 7);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT_PTR_EQUAL(r.superseded, legit);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 7);

    /* A TLS connection whose certificate is not known names nobody. */
    c = replrx_conn_create(f.rx, NULL, instances[1].repl_addr, true);
    r = send_batch(&f, c, "dlp-2", 1, 3, 0, 1, 1000);
    CU_ASSERT_EQUAL(r.action, REPLRX_CLOSE);
    CU_ASSERT_EQUAL(st->n_refused_senders, 4);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 7);
    sset_destroy(&names);
    fixture_destroy(&f);
}

/* A record applies only if its sender holds a role for its bucket in the
 * newest map or the one before. */
static void
test_replrx_roles(void)
{
    static const int epoch1[] = { 0, 2 };       /* dlp-1, dlp-3 primary. */
    static const int epoch2[] = { 0, 0 };
    static const int epoch3[] = { 0, 0 };       /* dlp-3 in no role. */
    const struct replrx_stats *st;
    struct replrx_conn *c1, *c3;
    struct replrx_result r;
    struct fixture f;

    fixture_init(&f, 100);
    st = replrx_get_stats(f.rx);
    apply_map(&f.map, 5, 4, epoch1, 2);
    replrx_set_map(f.rx, &f.map);
    c1 = conn_of(&f, "dlp-1");
    c3 = conn_of(&f, "dlp-3");

    /* Bucket 0 is dlp-1's: applies.  Bucket 1 is dlp-3's, with secondary
     * dlp-1: dlp-1's own changes apply too.  Bucket 3 is dlp-3's and its
     * secondary is dlp-1; bucket 2 dlp-1's, whose secondary is dlp-2:
     * dlp-3 holds no role there. */
    r = send_batch(&f, c1, "dlp-1", 1, 0, 0, 1, 5);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT_EQUAL(packets_of(&f, 0), 5);
    send_batch(&f, c3, "dlp-3", 1, 1, 1, 1, 5);
    CU_ASSERT_EQUAL(packets_of(&f, 1), 5);
    r = send_batch(&f, c3, "dlp-3", 2, 2, 2, 2, 5);
    CU_ASSERT_EQUAL(r.action, REPLRX_ACK);
    CU_ASSERT_EQUAL(packets_of(&f, 2), -1);
    CU_ASSERT_EQUAL(packets_of(&f, 3), -1);
    CU_ASSERT_EQUAL(st->n_unauthorized, 2);

    /* A bulk that carried such a record fails and asks for a resend: the
     * sender may hold a newer map than ours. */
    send_bulk_marker(&f, c3, true, 2, 2);
    send_batch(&f, c3, "dlp-3", 3, 2, 2, 1, 5);
    r = send_bulk_marker(&f, c3, false, 2, 1);
    CU_ASSERT_EQUAL(r.action, REPLRX_BULK_FAILED);
    CU_ASSERT(r.resend);

    /* Epoch 6 gives bucket 1 to dlp-1: dlp-3, its old primary, may still
     * send it (a handoff), as the map before says. */
    apply_map(&f.map, 6, 4, epoch2, 2);
    replrx_set_map(f.rx, &f.map);
    send_batch(&f, c3, "dlp-3", 4, 1, 1, 1, 6);
    CU_ASSERT_EQUAL(packets_of(&f, 1), 6);

    /* At epoch 7 dlp-3 held no role in either map: refused. */
    apply_map(&f.map, 7, 4, epoch3, 2);
    replrx_set_map(f.rx, &f.map);
    send_batch(&f, c3, "dlp-3", 5, 1, 1, 1, 7);
    CU_ASSERT_EQUAL(packets_of(&f, 1), 6);
    CU_ASSERT_EQUAL(st->n_unauthorized, 4);

    /* The same epoch again (addresses that became known) keeps the map
     * before as it was. */
    replrx_set_map(f.rx, &f.map);
    send_batch(&f, c1, "dlp-1", 2, 1, 1, 1, 8);
    CU_ASSERT_EQUAL(packets_of(&f, 1), 8);
    fixture_destroy(&f);
}

/* Each sender may create at most its quota of streams; updates of streams
 * the table holds are not limited, and room comes back as streams go. */
static void
test_replrx_quota(void)
{
    const struct replrx_stats *st;
    struct replrx_conn *c1, *c2;
    struct fixture f;

    fixture_init(&f, 100);
    CU_ASSERT_EQUAL(f.map.n_buckets, 256);
    st = replrx_get_stats(f.rx);
    replrx_set_quota(f.rx, 3);
    c1 = conn_of(&f, "dlp-1");
    c2 = conn_of(&f, "dlp-2");

    send_batch(&f, c1, "dlp-1", 1, 3, 0, 5, 1);
    CU_ASSERT_EQUAL(streamtab_count(f.tab), 3);
    CU_ASSERT_EQUAL(st->n_over_quota, 2);

    /* Another sender has a quota of its own. */
    send_batch(&f, c2, "dlp-2", 1, 3, 10, 3, 1);
    CU_ASSERT_EQUAL(streamtab_count(f.tab), 6);

    /* Newer states of held streams apply. */
    send_batch(&f, c1, "dlp-1", 2, 3, 0, 3, 9);
    CU_ASSERT_EQUAL(packets_of(&f, 2), 9);
    CU_ASSERT_EQUAL(st->n_over_quota, 2);

    /* A stream that goes makes room for one more. */
    streamtab_remove(f.tab, entry_of(&f, 0));
    send_batch(&f, c1, "dlp-1", 3, 3, 3, 2, 1);
    CU_ASSERT_EQUAL(packets_of(&f, 3), 1);
    CU_ASSERT_EQUAL(packets_of(&f, 4), -1);
    CU_ASSERT_EQUAL(st->n_over_quota, 3);

    /* The agent's own streams count against nobody's quota. */
    create_locally(&f, 50, 3, 1, 1);
    CU_ASSERT_EQUAL(streamtab_count(f.tab), 7);
    fixture_destroy(&f);
}

/* Messages that do not belong on replication close the connection. */
static void
test_replrx_unexpected(void)
{
    struct fixture f;
    struct replrx_conn *c;
    struct replrx_result r;
    struct agp_msg msg;

    fixture_init(&f, 10);
    c = conn_of(&f, "dlp-1");
    memset(&msg, 0, sizeof msg);
    msg.type = AGP_HEARTBEAT;
    replrx_handle(f.rx, c, &msg, 0, &r);
    CU_ASSERT_EQUAL(r.action, REPLRX_CLOSE);
    fixture_destroy(&f);
}

static const struct test_case replrx_tests[] = {
    { "window per connection", test_replrx_window },
    { "restarted sender", test_replrx_sender_restart },
    { "bulk transfers", test_replrx_bulk },
    { "bulk into a full table", test_replrx_bulk_table_full },
    { "a state the service refuses", test_replrx_bad_state },
    { "versions: older, equal, newer, across epochs", test_replrx_versions },
    { "bulk into a table that holds the streams",
      test_replrx_bulk_populated },
    { "flap: the stale primary's records at the secondary",
      test_replrx_flap_at_secondary },
    { "flap: the secondary's records at the primary",
      test_replrx_flap_at_primary },
    { "senders: strangers, addresses, certificates", test_replrx_senders },
    { "records only from roles in the newest map or the one before",
      test_replrx_roles },
    { "a quota of streams per sender", test_replrx_quota },
    { "unexpected messages", test_replrx_unexpected },
    { NULL, NULL },
};

TEST_SUITE("replrx", replrx_tests);
