/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "service.h"
#include "streamtab.h"
#include "util.h"
#include "tests.h"

/* A service for the table's tests: its state is a stream number and an
 * expiry time; expired() counts its visits per stream number. */
struct test_state {
    uint32_t id;                /* Stream number. */
    long long int expires;      /* Expired from this time on. */
};

#define MAX_IDS 100000
static unsigned int visits[MAX_IDS]; /* Visits of expired(), by 'id'. */

/* Records the visit to the stream with 'state_' and returns true if it has
 * expired at 'now'. */
static bool
test_expired(const void *svc_data OVS_UNUSED, const void *state_,
             long long int now)
{
    const struct test_state *st = state_;

    if (st->id < MAX_IDS) {
        visits[st->id]++;
    }
    return now >= st->expires;
}

static const struct service_class test_class = {
    .name = "test",
    .state_size = sizeof(struct test_state),
    .expired = test_expired,
};

/* Returns the key of stream number 'i': TCP from 10.(i>>16).(i>>8).i port
 * 1000 + i%7 to 192.168.0.1 port 80. */
static struct streamtab_key
key_of(uint32_t i)
{
    struct streamtab_key key;

    streamtab_key_init(&key, htonl(0x0a000000 | i), htonl(0xc0a80001),
                       1000 + i % 7, 80, IPPROTO_TCP);
    return key;
}

/* Inserts stream number 'i' of bucket 'bucket' into 'tab', expiring at
 * 'expires', and returns the entry. */
static struct streamtab_entry *
add(struct streamtab *tab, uint32_t i, uint32_t bucket, long long int expires)
{
    struct streamtab_key key = key_of(i);
    struct streamtab_entry *e = streamtab_insert(tab, &key, bucket, 0);
    struct test_state *st;

    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    st = e->state;
    st->id = i;
    st->expires = expires;
    return e;
}

/* Returns the stream number of 'e'. */
static uint32_t
id_of(const struct streamtab_entry *e)
{
    return ((const struct test_state *) e->state)->id;
}

static void
test_key(void)
{
    struct streamtab_key a, b, c;

    /* Both directions, one key. */
    CU_ASSERT(streamtab_key_init(&a, htonl(0x0a000001), htonl(0x0a000002),
                                 5000, 80, IPPROTO_TCP));
    CU_ASSERT(!streamtab_key_init(&b, htonl(0x0a000002), htonl(0x0a000001),
                                  80, 5000, IPPROTO_TCP));
    CU_ASSERT(streamtab_key_equals(&a, &b));
    CU_ASSERT_EQUAL(streamtab_key_hash(&a, 7), streamtab_key_hash(&b, 7));
    CU_ASSERT_EQUAL(a.addr_lo, htonl(0x0a000001));
    CU_ASSERT_EQUAL(a.port_lo, 5000);
    CU_ASSERT_EQUAL(a.port_hi, 80);

    /* Addresses order as numbers, not as bytes in memory. */
    CU_ASSERT(streamtab_key_init(&c, htonl(0x01000002), htonl(0x02000001),
                                 1, 1, IPPROTO_UDP));
    CU_ASSERT_EQUAL(c.addr_lo, htonl(0x01000002));

    /* Same address: the port decides. */
    CU_ASSERT(!streamtab_key_init(&c, htonl(1), htonl(1), 9, 8, IPPROTO_UDP));
    CU_ASSERT_EQUAL(c.port_lo, 8);

    /* The protocol is part of the key. */
    streamtab_key_init(&c, htonl(0x0a000001), htonl(0x0a000002), 5000, 80,
                       IPPROTO_UDP);
    CU_ASSERT(!streamtab_key_equals(&a, &c));
    CU_ASSERT_NOT_EQUAL(streamtab_key_hash(&a, 7), streamtab_key_hash(&c, 7));

    /* Padding does not matter. */
    memset(&c, 0xff, sizeof c);
    c.addr_lo = a.addr_lo;
    c.addr_hi = a.addr_hi;
    c.port_lo = a.port_lo;
    c.port_hi = a.port_hi;
    c.proto = a.proto;
    CU_ASSERT(streamtab_key_equals(&a, &c));
    CU_ASSERT_EQUAL(streamtab_key_hash(&a, 7), streamtab_key_hash(&c, 7));
}

static void
test_insert_lookup_remove(void)
{
    struct streamtab *tab = streamtab_create(&test_class, NULL, 100, 42);
    struct streamtab_key key;
    struct streamtab_entry *e;

    CU_ASSERT_EQUAL(streamtab_count(tab), 0);
    for (uint32_t i = 0; i < 50; i++) {
        e = add(tab, i, i % 4, 1000);
        CU_ASSERT_EQUAL(e->bucket, i % 4);
        CU_ASSERT_EQUAL(e->version.epoch, 0);
        CU_ASSERT_EQUAL(e->version.count, 0);
        CU_ASSERT(!e->dirty);
    }
    CU_ASSERT_EQUAL(streamtab_count(tab), 50);

    for (uint32_t i = 0; i < 60; i++) {
        key = key_of(i);
        e = streamtab_lookup(tab, &key);
        if (i < 50) {
            CU_ASSERT_PTR_NOT_NULL_FATAL(e);
            CU_ASSERT_EQUAL(id_of(e), i);
            CU_ASSERT(streamtab_key_equals(&e->key, &key));
        } else {
            CU_ASSERT_PTR_NULL(e);
        }
    }

    /* The other direction finds the same entry. */
    streamtab_key_init(&key, htonl(0xc0a80001), htonl(0x0a000000 | 3), 80,
                       1000 + 3 % 7, IPPROTO_TCP);
    e = streamtab_lookup(tab, &key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(id_of(e), 3);

    /* States are zero-filled and apart. */
    key = key_of(1000);
    e = streamtab_insert(tab, &key, 9, 77);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(id_of(e), 0);
    CU_ASSERT_EQUAL(e->last_seen, 77);
    CU_ASSERT_EQUAL((uintptr_t) e->state % 8, 0);
    streamtab_remove(tab, e);

    for (uint32_t i = 0; i < 50; i += 2) {
        key = key_of(i);
        streamtab_remove(tab, streamtab_lookup(tab, &key));
    }
    CU_ASSERT_EQUAL(streamtab_count(tab), 25);
    for (uint32_t i = 0; i < 50; i++) {
        key = key_of(i);
        e = streamtab_lookup(tab, &key);
        CU_ASSERT_EQUAL(e != NULL, i % 2 == 1);
    }
    streamtab_destroy(tab);
    streamtab_destroy(NULL);
}

static void
test_capacity(void)
{
    struct streamtab *tab = streamtab_create(&test_class, NULL, 3, 0);
    struct streamtab_key key;
    struct streamtab_entry *e;

    CU_ASSERT_EQUAL(streamtab_capacity(tab), 3);
    add(tab, 1, 0, 0);
    add(tab, 2, 0, 0);
    e = add(tab, 3, 1, 0);
    key = key_of(4);
    CU_ASSERT_PTR_NULL(streamtab_insert(tab, &key, 0, 0));
    CU_ASSERT_PTR_NULL(streamtab_insert(tab, &key, 5, 0));
    CU_ASSERT_EQUAL(streamtab_count(tab), 3);
    CU_ASSERT_PTR_NULL(streamtab_lookup(tab, &key));
    CU_ASSERT_EQUAL(streamtab_bucket_count(tab, 5), 0);

    /* Room again after a removal. */
    streamtab_remove(tab, e);
    CU_ASSERT_PTR_NOT_NULL(streamtab_insert(tab, &key, 0, 0));
    CU_ASSERT_EQUAL(streamtab_count(tab), 3);
    streamtab_destroy(tab);

    /* Capacity 0 holds nothing. */
    tab = streamtab_create(&test_class, NULL, 0, 0);
    CU_ASSERT_PTR_NULL(streamtab_insert(tab, &key, 0, 0));
    streamtab_destroy(tab);
}

static void
test_buckets(void)
{
    struct streamtab *tab = streamtab_create(&test_class, NULL, 10000, 1);
    struct streamtab_entry *e;
    bool seen[1000];
    size_t n;

    /* Bucket b holds the streams i with i % 16 == b; bucket 15 none. */
    for (uint32_t i = 0; i < 1000; i++) {
        if (i % 16 != 15) {
            add(tab, i, i % 16, 0);
        }
    }
    /* And one in a bucket far away. */
    add(tab, 5000, UINT32_MAX, 0);

    for (uint32_t b = 0; b < 16; b++) {
        memset(seen, 0, sizeof seen);
        n = 0;
        STREAMTAB_FOR_EACH_IN_BUCKET (e, b, tab) {
            CU_ASSERT_EQUAL(e->bucket, b);
            CU_ASSERT_EQUAL(id_of(e) % 16, b);
            CU_ASSERT(!seen[id_of(e)]);
            seen[id_of(e)] = true;
            n++;
        }
        /* Exactly the bucket's streams. */
        for (uint32_t i = 0; i < 1000; i++) {
            CU_ASSERT_EQUAL(seen[i], i % 16 == b && b != 15);
        }
        CU_ASSERT_EQUAL(n, b == 15 ? 0 : (1000 - b + 15) / 16);
        CU_ASSERT_EQUAL(streamtab_bucket_count(tab, b), n);
    }
    n = 0;
    STREAMTAB_FOR_EACH_IN_BUCKET (e, UINT32_MAX, tab) {
        CU_ASSERT_EQUAL(id_of(e), 5000);
        n++;
    }
    CU_ASSERT_EQUAL(n, 1);

    /* Every entry, once. */
    n = 0;
    STREAMTAB_FOR_EACH (e, tab) {
        n++;
    }
    CU_ASSERT_EQUAL(n, streamtab_count(tab));

    /* Removing entries updates the bucket's list and count. */
    STREAMTAB_FOR_EACH_IN_BUCKET (e, 3, tab) {
        break;
    }
    CU_ASSERT_EQUAL(id_of(e), 3);
    streamtab_remove(tab, e);
    CU_ASSERT_EQUAL(streamtab_bucket_count(tab, 3), 62);
    STREAMTAB_FOR_EACH_IN_BUCKET (e, 3, tab) {
        CU_ASSERT_NOT_EQUAL(id_of(e), 3);
    }

    /* Dropping a bucket removes exactly its entries. */
    n = streamtab_count(tab);
    CU_ASSERT_EQUAL(streamtab_remove_bucket(tab, 4), 63);
    CU_ASSERT_EQUAL(streamtab_remove_bucket(tab, 4), 0);
    CU_ASSERT_EQUAL(streamtab_remove_bucket(tab, 15), 0);
    CU_ASSERT_EQUAL(streamtab_count(tab), n - 63);
    CU_ASSERT_EQUAL(streamtab_bucket_count(tab, 4), 0);
    CU_ASSERT_EQUAL(streamtab_bucket_count(tab, 5), 63);
    STREAMTAB_FOR_EACH_IN_BUCKET (e, 4, tab) {
        CU_FAIL("bucket 4 is empty");
    }
    for (uint32_t i = 0; i < 1000; i++) {
        struct streamtab_key key = key_of(i);

        e = streamtab_lookup(tab, &key);
        CU_ASSERT_EQUAL(e != NULL, i % 16 != 15 && i % 16 != 4 && i != 3);
    }
    streamtab_destroy(tab);
}

static void
test_dirty(void)
{
    struct streamtab *tab = streamtab_create(&test_class, NULL, 100, 0);
    struct streamtab_entry *e[10], *out[10];

    for (int i = 0; i < 10; i++) {
        e[i] = add(tab, i, i % 2, 0);
    }
    CU_ASSERT_EQUAL(streamtab_n_dirty(tab), 0);
    CU_ASSERT_EQUAL(streamtab_take_dirty(tab, out, 10), 0);

    /* Marked 5, 2, 7, 2 (again), 9: taken in the order first marked. */
    streamtab_mark_dirty(tab, e[5]);
    streamtab_mark_dirty(tab, e[2]);
    streamtab_mark_dirty(tab, e[7]);
    streamtab_mark_dirty(tab, e[2]);
    streamtab_mark_dirty(tab, e[9]);
    CU_ASSERT_EQUAL(streamtab_n_dirty(tab), 4);
    CU_ASSERT(e[2]->dirty);
    CU_ASSERT(!e[3]->dirty);

    CU_ASSERT_EQUAL(streamtab_take_dirty(tab, out, 2), 2);
    CU_ASSERT_PTR_EQUAL(out[0], e[5]);
    CU_ASSERT_PTR_EQUAL(out[1], e[2]);
    CU_ASSERT(!e[5]->dirty);
    CU_ASSERT(!e[2]->dirty);
    CU_ASSERT_EQUAL(streamtab_n_dirty(tab), 2);

    /* A removed entry leaves the list; a cleared one too; a taken one can
     * be marked again. */
    streamtab_remove(tab, e[7]);
    streamtab_mark_dirty(tab, e[5]);
    streamtab_mark_dirty(tab, e[0]);
    streamtab_clear_dirty(tab, e[0]);
    streamtab_clear_dirty(tab, e[0]);
    CU_ASSERT_EQUAL(streamtab_n_dirty(tab), 2);
    CU_ASSERT_EQUAL(streamtab_take_dirty(tab, out, 10), 2);
    CU_ASSERT_PTR_EQUAL(out[0], e[9]);
    CU_ASSERT_PTR_EQUAL(out[1], e[5]);
    CU_ASSERT_EQUAL(streamtab_n_dirty(tab), 0);
    CU_ASSERT_EQUAL(streamtab_take_dirty(tab, out, 10), 0);

    /* A whole bucket, for a new secondary: entries 1, 3, 5, 9 (7 is gone),
     * 3 of them already dirty keeps its place. */
    streamtab_mark_dirty(tab, e[3]);
    CU_ASSERT_EQUAL(streamtab_mark_bucket_dirty(tab, 1), 4);
    CU_ASSERT_EQUAL(streamtab_mark_bucket_dirty(tab, 77), 0);
    CU_ASSERT_EQUAL(streamtab_n_dirty(tab), 4);
    CU_ASSERT_EQUAL(streamtab_take_dirty(tab, out, 10), 4);
    CU_ASSERT_PTR_EQUAL(out[0], e[3]);
    CU_ASSERT_PTR_EQUAL(out[1], e[1]);
    CU_ASSERT_PTR_EQUAL(out[2], e[5]);
    CU_ASSERT_PTR_EQUAL(out[3], e[9]);

    /* Destroying a table with dirty entries is fine. */
    streamtab_mark_dirty(tab, e[4]);
    streamtab_destroy(tab);
}

/* Counts the calls in '*aux' and checks that 'e' has expired (its stream
 * number is odd). */
static void
count_removed(const struct streamtab_entry *e, void *aux)
{
    size_t *n = aux;

    CU_ASSERT_EQUAL(id_of(e) % 2, 1);
    (*n)++;
}

/* Returns the total of 'visits'. */
static unsigned int
total_visits(void)
{
    unsigned int total = 0;

    for (size_t i = 0; i < MAX_IDS; i++) {
        total += visits[i];
    }
    return total;
}

static void
test_expire_bounded(void)
{
    enum { N = 1000, MAX = 64 };
    struct streamtab *tab = streamtab_create(&test_class, NULL, N * 2, 9);
    size_t n_removed = 0, n_cb = 0;
    struct streamtab_key key;

    /* Odd streams expire at 100, even ones never. */
    memset(visits, 0, sizeof visits);
    for (uint32_t i = 0; i < N; i++) {
        add(tab, i, i % 8, i % 2 ? 100 : LLONG_MAX);
    }

    /* Before 100, a pass removes nothing: 16 calls visit the entries, each
     * once, 64 a call but the last, which stops at the end.  After the
     * first call the caller removes the entry the cursor is on (stream 64,
     * even), which the pass then skips. */
    for (int i = 0; i < 16; i++) {
        unsigned int before = total_visits();

        CU_ASSERT_EQUAL(streamtab_expire(tab, MAX, 50, NULL, NULL), 0);
        CU_ASSERT_EQUAL(total_visits() - before,
                        i < 15 ? MAX : N - 1 - 15 * MAX);
        if (i == 0) {
            CU_ASSERT_EQUAL(visits[63], 1);
            CU_ASSERT_EQUAL(visits[64], 0);
            key = key_of(64);
            streamtab_remove(tab, streamtab_lookup(tab, &key));
        }
    }
    for (uint32_t i = 0; i < N; i++) {
        CU_ASSERT_EQUAL(visits[i], i != 64);
    }

    /* At 100, the next pass removes the odd ones, call by call, with
     * insertions and a removal in between: 1003 entries to visit. */
    memset(visits, 0, sizeof visits);
    for (int i = 0; i < 16; i++) {
        unsigned int before = total_visits();
        size_t removed;

        removed = streamtab_expire(tab, MAX, 100, count_removed, &n_cb);
        CU_ASSERT_EQUAL(total_visits() - before,
                        i < 15 ? MAX : N + 3 - 15 * MAX);
        CU_ASSERT(removed <= MAX);
        n_removed += removed;

        if (i == 2) {
            /* New streams, with even numbers (they never expire). */
            for (uint32_t j = N; j < N + 10; j += 2) {
                add(tab, j, 0, LLONG_MAX);
            }
            /* And a removal by the caller of one not yet visited. */
            key = key_of(N - 2);
            streamtab_remove(tab, streamtab_lookup(tab, &key));
        }
    }
    CU_ASSERT_EQUAL(n_removed, N / 2);
    CU_ASSERT_EQUAL(n_cb, N / 2);
    CU_ASSERT_EQUAL(streamtab_count(tab), N / 2 + 5 - 2);
    for (uint32_t i = 0; i < N + 10; i++) {
        bool present = (i < N || i % 2 == 0) && i != N - 2 && i != 64;

        CU_ASSERT_EQUAL(visits[i], present ? 1 : 0);
    }

    /* A call larger than the table makes one pass, then stops. */
    memset(visits, 0, sizeof visits);
    CU_ASSERT_EQUAL(streamtab_expire(tab, 10 * N, 100, NULL, NULL), 0);
    CU_ASSERT_EQUAL(total_visits(), streamtab_count(tab));
    CU_ASSERT_EQUAL(streamtab_expire(tab, 0, 1000, NULL, NULL), 0);
    CU_ASSERT_EQUAL(total_visits(), streamtab_count(tab));

    /* Everything expires. */
    CU_ASSERT_EQUAL(streamtab_expire(tab, 10 * N, LLONG_MAX, NULL, NULL),
                    N / 2 + 3);
    CU_ASSERT_EQUAL(streamtab_count(tab), 0);
    CU_ASSERT_EQUAL(streamtab_expire(tab, 10 * N, LLONG_MAX, NULL, NULL), 0);
    streamtab_destroy(tab);

    /* An empty table. */
    tab = streamtab_create(&test_class, NULL, 10, 9);
    CU_ASSERT_EQUAL(streamtab_expire(tab, 100, 1000, NULL, NULL), 0);
    streamtab_destroy(tab);
}

/* Returns a monotonic time in ms, for the speed test only. */
static double
elapsed_ms(const struct timespec *start)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return ((now.tv_sec - start->tv_sec) * 1e3
            + (now.tv_nsec - start->tv_nsec) / 1e6);
}

/* Returns the comparison of versions (ea, ca) and (eb, cb). */
static int
compare(uint64_t ea, uint64_t ca, uint64_t eb, uint64_t cb)
{
    struct streamtab_version a = { ea, ca }, b = { eb, cb };

    return streamtab_version_compare(&a, &b);
}

/* Versions: epoch first, then the count; a local change is newer than the
 * state it changed and never lowers the epoch. */
static void
test_versions(void)
{
    struct streamtab *tab = streamtab_create(&test_class, NULL, 10, 1);
    struct streamtab_entry *e = add(tab, 1, 0, 1000);

    CU_ASSERT_EQUAL(compare(3, 7, 3, 7), 0);
    CU_ASSERT(compare(3, 6, 3, 7) < 0);
    CU_ASSERT(compare(3, 8, 3, 7) > 0);
    /* A newer epoch wins over any count, and an older one loses. */
    CU_ASSERT(compare(4, 1, 3, UINT64_MAX) > 0);
    CU_ASSERT(compare(2, UINT64_MAX, 3, 1) < 0);
    CU_ASSERT(compare(0, 1, 0, 0) > 0);
    CU_ASSERT(compare(UINT64_MAX, 0, 0, UINT64_MAX) > 0);

    /* The first change of a new entry, without a map's authority. */
    streamtab_note_change(e, 0);
    CU_ASSERT_EQUAL(e->version.epoch, 0);
    CU_ASSERT_EQUAL(e->version.count, 1);
    /* Under epoch 5, then again without authority: the epoch stays. */
    streamtab_note_change(e, 5);
    CU_ASSERT_EQUAL(e->version.epoch, 5);
    CU_ASSERT_EQUAL(e->version.count, 2);
    streamtab_note_change(e, 0);
    CU_ASSERT_EQUAL(e->version.epoch, 5);
    CU_ASSERT_EQUAL(e->version.count, 3);
    /* A change under an older map than the state's does not lower it. */
    streamtab_note_change(e, 4);
    CU_ASSERT_EQUAL(e->version.epoch, 5);
    CU_ASSERT_EQUAL(e->version.count, 4);
    /* The count never wraps. */
    e->version.count = UINT64_MAX;
    streamtab_note_change(e, 6);
    CU_ASSERT_EQUAL(e->version.epoch, 6);
    CU_ASSERT_EQUAL(e->version.count, UINT64_MAX);
    streamtab_destroy(tab);
}

static void
test_speed(void)
{
    enum { N = 100000 };
    struct streamtab *tab = streamtab_create(&service_find("counter")[0],
                                             NULL, 1000000, 12345);
    struct timespec start;
    size_t found = 0;
    double ms;

    clock_gettime(CLOCK_MONOTONIC, &start);
    for (uint32_t i = 0; i < N; i++) {
        struct streamtab_key key = key_of(i);

        CU_ASSERT_PTR_NOT_NULL_FATAL(streamtab_insert(tab, &key, i & 255,
                                                      0));
    }
    for (uint32_t i = 0; i < N; i++) {
        struct streamtab_key key = key_of(i);

        found += streamtab_lookup(tab, &key) != NULL;
    }
    ms = elapsed_ms(&start);
    CU_ASSERT_EQUAL(found, N);
    CU_ASSERT_EQUAL(streamtab_count(tab), N);
    CU_ASSERT(ms < 500);
    if (ms >= 500) {
        fprintf(stderr, "100k inserts and lookups took %.0f ms\n", ms);
    }
    streamtab_destroy(tab);
}

static const struct test_case streamtab_tests[] = {
    { "key: both directions, padding", test_key },
    { "insert, lookup, remove", test_insert_lookup_remove },
    { "capacity limit", test_capacity },
    { "per-bucket iteration", test_buckets },
    { "dirty list", test_dirty },
    { "bounded expiry with a cursor", test_expire_bounded },
    { "versions", test_versions },
    { "100k inserts and lookups", test_speed },
    { NULL, NULL },
};
TEST_SUITE("streamtab", streamtab_tests)
