/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <netinet/in.h>
#include <string.h>
#include "agentproto.h"
#include "replrx.h"
#include "service.h"
#include "streamtab.h"
#include "util.h"
#include "tests.h"

/* The receiving side of replication, with the counter service: a state
 * blob carries a packet count, so the tests can tell which state won. */

struct fixture {
    const struct service_class *svc;
    struct streamtab *tab;
    struct replrx *rx;
};

static void
fixture_init(struct fixture *f, size_t capacity)
{
    f->svc = service_find("counter");
    CU_ASSERT_FATAL(f->svc != NULL);
    f->tab = streamtab_create(f->svc, NULL, capacity, 1);
    f->rx = replrx_create(f->tab, f->svc);
    replrx_set_n_buckets(f->rx, 256);
}

static void
fixture_destroy(struct fixture *f)
{
    replrx_destroy(f->rx);
    streamtab_destroy(f->tab);
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
 * 'first + n - 1' of bucket 'bucket', each with the packet count
 * 'packets', and returns the result. */
static struct replrx_result
send_batch(struct fixture *f, struct replrx_conn *c, const char *sender,
           uint64_t seq, uint32_t bucket, uint32_t first, size_t n,
           uint64_t packets)
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

/* Returns the packet count held for stream number 'i', or -1. */
static long long int
packets_of(const struct fixture *f, uint32_t i)
{
    struct streamtab_key key;
    struct streamtab_entry *e;
    uint8_t blob[64];

    streamtab_key_init(&key, htonl(0x0a000001), htonl(0x0a000002),
                       1000 + i, 80, IPPROTO_TCP);
    e = streamtab_lookup(f->tab, &key);
    if (!e) {
        return -1;
    }
    f->svc->serialize(e->state, blob);
    return service_get_be64(&blob[8]);
}

/* Batches are applied and acknowledged; a resent one is not applied. */
static void
test_replrx_window(void)
{
    struct fixture f;
    struct replrx_conn *c;
    struct replrx_result r;

    fixture_init(&f, 100);
    c = replrx_conn_create(f.rx, NULL);
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
    old = replrx_conn_create(f.rx, NULL);
    for (uint64_t seq = 1; seq <= 332; seq++) {
        send_batch(&f, old, "dlp-1", seq, 3, 0, 1, seq);
    }
    CU_ASSERT_EQUAL(packets_of(&f, 0), 332);
    CU_ASSERT_EQUAL(replrx_n_senders(f.rx), 1);

    c = replrx_conn_create(f.rx, NULL);
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
    c = replrx_conn_create(f.rx, NULL);

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
    c = replrx_conn_create(f.rx, NULL);
    send_batch(&f, c, "fw-1", 1, 0, 0, 0, 0);
    send_bulk_marker(&f, c, true, 1, 1);
    send_batch(&f, c, "fw-1", 2, 1, 0, 5, 1);
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
    c = replrx_conn_create(f.rx, NULL);
    send_batch(&f, c, "dlp-1", 1, 3, 0, 1, 5);

    blob_of(blob, f.svc->blob_size, 9);
    blob[1] = 1;                /* A reserved byte. */
    rec.bucket = 3;
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

/* Messages that do not belong on replication close the connection. */
static void
test_replrx_unexpected(void)
{
    struct fixture f;
    struct replrx_conn *c;
    struct replrx_result r;
    struct agp_msg msg;

    fixture_init(&f, 10);
    c = replrx_conn_create(f.rx, NULL);
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
    { "unexpected messages", test_replrx_unexpected },
    { NULL, NULL },
};

TEST_SUITE("replrx", replrx_tests);
