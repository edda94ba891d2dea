/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agentproto.h"
#include "openvswitch/ofpbuf.h"
#include "svcmap.h"
#include "tests.h"
#include "util.h"

/* 10.0.1.N, in host byte order. */
#define ADDR(N) ((10u << 24) | (1u << 8) | (N))

/* Stores 'value' at 'p' in 'n' bytes, big-endian. */
static void
put_be(uint8_t *p, uint64_t value, size_t n)
{
    for (size_t i = n; i-- > 0; value >>= 8) {
        p[i] = value;
    }
}

/* Sets the length field of the frame at 'frame' to 'len'. */
static void
set_length(uint8_t *frame, uint32_t len)
{
    put_be(frame + 8, len, 4);
}

/* Returns 'msg' encoded in a new buffer, asserting that encoding works. */
static struct ofpbuf *
encode(const struct agp_msg *msg)
{
    struct ofpbuf *b = ofpbuf_new(64);

    CU_ASSERT_EQUAL_FATAL(agp_encode(msg, b), AGP_OK);
    return b;
}

/* Returns the error of decoding the 'size' bytes at 'data', freeing what
 * the decoder allocated. */
static enum agp_error
decode_error(const void *data, size_t size)
{
    struct agp_msg msg;
    enum agp_error error = agp_decode(data, size, &msg);

    agp_msg_uninit(&msg);
    return error;
}

/* Checks that no proper prefix of the valid frame 'b' decodes: neither with
 * the frame's own header (whose length no longer matches) nor with the
 * length field set to the prefix's size, so that the body itself is cut. */
static void
check_truncations(const struct ofpbuf *b)
{
    uint8_t *copy = xmemdup(b->data, b->size);

    for (size_t n = 0; n < b->size; n++) {
        enum agp_error error = decode_error(b->data, n);

        CU_ASSERT_EQUAL(error, n < AGP_HEADER_LEN ? AGP_E_SHORT
                        : AGP_E_LENGTH);
        if (n >= AGP_HEADER_LEN) {
            set_length(copy, n);
            error = decode_error(copy, n);
            CU_ASSERT_NOT_EQUAL(error, AGP_OK);
            CU_ASSERT_NOT_EQUAL(error, AGP_E_LENGTH);
        }
    }
    free(copy);
}

/* Checks that the valid frame 'b' with one more byte fails as trailing. */
static void
check_trailing(const struct ofpbuf *b)
{
    uint8_t *copy = xmalloc(b->size + 1);

    memcpy(copy, b->data, b->size);
    copy[b->size] = 0;
    set_length(copy, b->size + 1);
    CU_ASSERT_EQUAL(decode_error(copy, b->size + 1), AGP_E_TRAILING);
    free(copy);
}

/* Encodes 'msg', frames and decodes it, and checks that the result equals
 * 'msg' and encodes to the same bytes; then checks that every truncation
 * and a trailing byte are rejected.  Returns the frame's length. */
static size_t
round_trip(const struct agp_msg *msg)
{
    struct ofpbuf *b = encode(msg);
    struct ofpbuf *again;
    struct agp_msg out;
    size_t len = 0, size = b->size;

    CU_ASSERT_EQUAL(agp_frame_check(b->data, b->size, &len),
                    AGP_FRAME_COMPLETE);
    CU_ASSERT_EQUAL(len, b->size);
    CU_ASSERT_EQUAL_FATAL(agp_decode(b->data, b->size, &out), AGP_OK);
    CU_ASSERT_EQUAL(out.type, msg->type);
    CU_ASSERT_TRUE(agp_msg_equal(msg, &out));

    again = encode(&out);
    CU_ASSERT_EQUAL(again->size, b->size);
    CU_ASSERT_TRUE(again->size == b->size
                   && !memcmp(again->data, b->data, b->size));
    ofpbuf_delete(again);

    /* The decoded message does not depend on the input buffer. */
    memset(b->data, 0xa5, b->size);
    CU_ASSERT_TRUE(agp_msg_equal(msg, &out));
    agp_msg_uninit(&out);
    ofpbuf_delete(b);

    b = encode(msg);
    check_truncations(b);
    check_trailing(b);
    ofpbuf_delete(b);
    return size;
}

static void
test_hello(void)
{
    struct agp_msg msg = {
        .type = AGP_HELLO, .xid = 1,
        .hello = {
            .versions = 1u << AGP_VERSION,
            .repl_addr = ADDR(3), .repl_port = 7400,
            .instance = "fw-1", .service = "fw",
        },
    };

    /* 16 + 4 + 4 + 2 + (2 + 4) + (2 + 2). */
    CU_ASSERT_EQUAL(round_trip(&msg), 36);

    /* A peer that speaks only later versions still decodes. */
    msg.hello.versions = (1u << 4) | (1u << 5);
    round_trip(&msg);
    CU_ASSERT_EQUAL(agp_negotiate(msg.hello.versions), 0);
    CU_ASSERT_EQUAL(agp_negotiate(0xc), AGP_VERSION);
    CU_ASSERT_EQUAL(agp_negotiate(0x1e), AGP_VERSION);

    /* Neither version 1 (no versions in its records) nor version 2 (no
     * next instance in its MAP buckets) is spoken any more. */
    CU_ASSERT_EQUAL(AGP_VERSION, 3);
    CU_ASSERT_EQUAL(agp_negotiate(1u << 1), 0);
    CU_ASSERT_EQUAL(agp_negotiate(1u << 2), 0);
    CU_ASSERT_EQUAL(agp_negotiate((1u << 1) | (1u << 2)), 0);
}

static void
test_hello_ack(void)
{
    struct agp_msg msg = {
        .type = AGP_HELLO_ACK, .xid = 1,
        .hello_ack = { .version = 1, .reason = "" },
    };

    CU_ASSERT_EQUAL(round_trip(&msg), 16 + 1 + 2);
    msg.hello_ack.reason = NULL;
    round_trip(&msg);
    msg.hello_ack.version = 0;
    msg.hello_ack.reason = "unknown service \"dlp\"";
    round_trip(&msg);
}

/* Fills 'msg' with a MAP of service "fw" at 'epoch' with 'n_buckets'
 * buckets and instances fw-1 to fw-'n', assigned by svcmap with fw-3 down;
 * fw-5 has no replication address yet.  Free with free_map(). */
static void
make_map(struct agp_msg *msg, uint64_t epoch, size_t n_buckets, int n)
{
    struct svcmap *sm = svcmap_create("fw", n_buckets);
    struct agp_map *map = &msg->map;

    memset(msg, 0, sizeof *msg);
    msg->type = AGP_MAP;
    msg->xid = 77;
    map->epoch = epoch;
    map->service = "fw";
    map->n_buckets = n_buckets;
    map->n_instances = n;
    map->instances = xcalloc(n, sizeof *map->instances);
    for (int i = 0; i < n; i++) {
        char name[16];

        snprintf(name, sizeof name, "fw-%d", i + 1);
        CU_ASSERT_EQUAL(svcmap_add_instance(sm, name, 1), i);
        map->instances[i].name = xstrdup(name);
        if (i != 4) {
            map->instances[i].repl_addr = ADDR(i + 1);
            map->instances[i].repl_port = 7400;
        }
    }
    svcmap_assign(sm);
    if (n > 2) {
        svcmap_set_state(sm, 2, SVCMAP_DOWN);
    }
    map->buckets = xmalloc(n_buckets * sizeof *map->buckets);
    for (size_t b = 0; b < n_buckets; b++) {
        int p = sm->buckets[b].primary;
        int s = sm->buckets[b].secondary;

        map->buckets[b].primary = p == SVCMAP_NONE ? AGP_NONE : p;
        map->buckets[b].secondary = s == SVCMAP_NONE ? AGP_NONE : s;
        map->buckets[b].next = AGP_NONE;
    }
    svcmap_destroy(sm);
}

/* Frees what make_map() allocated in 'msg'. */
static void
free_map(struct agp_msg *msg)
{
    for (size_t i = 0; i < msg->map.n_instances; i++) {
        free(CONST_CAST(char *, msg->map.instances[i].name));
    }
    free(msg->map.instances);
    free(msg->map.buckets);
}

static void
test_map(void)
{
    struct agp_msg msg;
    size_t n_secondary = 0;

    make_map(&msg, 42, 256, 5);
    for (size_t b = 0; b < 256; b++) {
        CU_ASSERT_NOT_EQUAL(msg.map.buckets[b].primary, 2);
        CU_ASSERT_NOT_EQUAL(msg.map.buckets[b].primary, AGP_NONE);
        n_secondary += msg.map.buckets[b].secondary != AGP_NONE;
    }
    CU_ASSERT_EQUAL(n_secondary, 256);
    /* 16 + 8 + (2 + 2) + 4 + 2 + 5 * (2 + 4 + 6) + 256 * 6. */
    CU_ASSERT_EQUAL(round_trip(&msg), 1630);
    free_map(&msg);

    /* One instance: no secondaries. */
    make_map(&msg, 1, 8, 1);
    CU_ASSERT_EQUAL(msg.map.buckets[3].secondary, AGP_NONE);
    round_trip(&msg);
    free_map(&msg);

    /* No instances: every bucket empty. */
    make_map(&msg, 9, 1, 0);
    CU_ASSERT_EQUAL(msg.map.buckets[0].primary, AGP_NONE);
    round_trip(&msg);
    free_map(&msg);
}

static void
test_heartbeat(void)
{
    uint8_t warm[32] = { 0 };
    struct agp_msg msg = {
        .type = AGP_HEARTBEAT, .xid = 9,
        .heartbeat = {
            .epoch = 42, .n_buckets = 256, .warm = warm,
            .n_received = (UINT64_C(1) << 40) + 5,
            .n_returned = (UINT64_C(1) << 40) + 1, .n_dropped = 4,
        },
    };
    struct agp_msg out;
    struct ofpbuf *b;

    for (size_t i = 0; i < 256; i++) {
        agp_bitmap_set(warm, i, i % 3 != 0);
    }
    agp_bitmap_set(warm, 4, false);
    CU_ASSERT_FALSE(agp_bitmap_get(warm, 4));
    CU_ASSERT_TRUE(agp_bitmap_get(warm, 5));
    CU_ASSERT_EQUAL(warm[0], 0xa6);
    CU_ASSERT_EQUAL(round_trip(&msg), 16 + 8 + 4 + 32 + 24);

    b = encode(&msg);
    CU_ASSERT_EQUAL_FATAL(agp_decode(b->data, b->size, &out), AGP_OK);
    for (size_t i = 0; i < 256; i++) {
        CU_ASSERT_EQUAL(agp_bitmap_get(out.heartbeat.warm, i),
                        i % 3 != 0 && i != 4);
    }
    agp_msg_uninit(&out);
    ofpbuf_delete(b);

    /* Fewer buckets than a byte. */
    msg.heartbeat.n_buckets = 4;
    warm[0] = 0x9;
    CU_ASSERT_EQUAL(round_trip(&msg), 16 + 8 + 4 + 1 + 24);

    /* No map yet. */
    msg.heartbeat.epoch = 0;
    msg.heartbeat.n_buckets = 0;
    msg.heartbeat.warm = NULL;
    CU_ASSERT_EQUAL(round_trip(&msg), 16 + 8 + 4 + 24);
}

/* Fills the 'n' records in 'recs' with streams of buckets of 256, versions
 * with and without an epoch, up to the largest, and states of lengths 0,
 * 1, ... and AGP_MAX_STATE, from 'blob'. */
static void
make_records(struct agp_record *recs, size_t n, const uint8_t *blob)
{
    for (size_t i = 0; i < n; i++) {
        struct agp_record *rec = &recs[i];

        rec->bucket = (i * 37) % 256;
        agp_stream_key_init(&rec->key, ADDR(200), 40000 + i,
                            ADDR(i % 7), 443, i % 2 ? 6 : 17);
        rec->version.epoch = (i % 3 ? (i + 1) * 0x0102030405ULL : 0);
        rec->version.count = (i == 5 ? UINT64_MAX : i + 1);
        if (i == 7) {
            rec->version.epoch = UINT64_MAX;
        }
        rec->state_len = (i == 3 ? AGP_MAX_STATE
                          : i % 10 == 0 ? 0 : (i * 29) % 200);
        rec->state = blob + i;
    }
}

static void
test_state_update(void)
{
    struct agp_record recs[100];
    uint8_t blob[AGP_MAX_STATE + 100];
    struct agp_msg msg = {
        .type = AGP_STATE_UPDATE, .xid = 3,
        .state_update = {
            .sender = "fw-2", .seq = 123456789012ULL,
            .records = recs, .n_records = 100,
        },
    };
    struct agp_stream_key k;

    for (size_t i = 0; i < sizeof blob; i++) {
        blob[i] = i * 7 + 1;
    }
    make_records(recs, 100, blob);
    round_trip(&msg);

    /* A key in either direction is the same key. */
    agp_stream_key_init(&k, ADDR(6), 443, ADDR(200), 40006, 17);
    CU_ASSERT_EQUAL(k.lower_addr, ADDR(6));
    CU_ASSERT_EQUAL(k.lower_port, 443);
    CU_ASSERT_EQUAL(k.higher_addr, ADDR(200));
    CU_ASSERT_EQUAL(k.higher_port, 40006);
    CU_ASSERT_EQUAL(k.lower_addr, recs[6].key.lower_addr);
    CU_ASSERT_EQUAL(k.lower_port, recs[6].key.lower_port);
    CU_ASSERT_EQUAL(k.higher_addr, recs[6].key.higher_addr);
    CU_ASSERT_EQUAL(k.higher_port, recs[6].key.higher_port);
    CU_ASSERT_EQUAL(k.proto, recs[6].key.proto);

    /* An empty batch. */
    msg.state_update.n_records = 0;
    msg.state_update.records = NULL;
    CU_ASSERT_EQUAL(round_trip(&msg), 16 + 2 + 4 + 8 + 4);
}

static void
test_small_messages(void)
{
    struct agp_msg ack = {
        .type = AGP_STATE_ACK, .xid = 3, .state_ack = { .seq = 1000 },
    };
    struct agp_msg begin = {
        .type = AGP_BULK_BEGIN, .xid = 4,
        .bulk_begin = { .bucket = 17, .watermark = 999 },
    };
    struct agp_msg end = {
        .type = AGP_BULK_END, .xid = 5,
        .bulk_end = { .bucket = AGP_MAX_BUCKETS - 1, .count = 3 },
    };

    CU_ASSERT_EQUAL(round_trip(&ack), 24);
    CU_ASSERT_EQUAL(round_trip(&begin), 28);
    CU_ASSERT_EQUAL(round_trip(&end), 24);
    begin.bulk_begin.watermark = 0;
    round_trip(&begin);

    struct agp_msg claim = {
        .type = AGP_CLAIM, .xid = 6, .claim = { .bucket = 4095 },
    };
    struct agp_msg release = {
        .type = AGP_RELEASE, .xid = 7, .release = { .bucket = 0 },
    };
    struct ofpbuf b;

    CU_ASSERT_EQUAL(round_trip(&claim), 20);
    CU_ASSERT_EQUAL(round_trip(&release), 20);
    CU_ASSERT(!agp_msg_equal(&claim, &release));
    claim.claim.bucket = AGP_MAX_BUCKETS;
    ofpbuf_init(&b, 0);
    CU_ASSERT_EQUAL(agp_encode(&claim, &b), AGP_E_BUCKET);
    ofpbuf_uninit(&b);
}

/* Several frames in one buffer, as on a stream. */
static void
test_stream(void)
{
    struct agp_msg ack = { .type = AGP_STATE_ACK, .state_ack = { .seq = 1 } };
    struct agp_msg hello = {
        .type = AGP_HELLO,
        .hello = { .versions = 2, .repl_port = 1, .instance = "a",
                   .service = "b" },
    };
    struct ofpbuf b;
    const uint8_t *p;
    size_t left, len;
    int n = 0;

    ofpbuf_init(&b, 0);
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(agp_encode(&hello, &b), AGP_OK);
        CU_ASSERT_EQUAL(agp_encode(&ack, &b), AGP_OK);
    }
    /* A failed encoding leaves the buffer alone. */
    left = b.size;
    hello.hello.instance = "";
    CU_ASSERT_EQUAL(agp_encode(&hello, &b), AGP_E_EMPTY_NAME);
    CU_ASSERT_EQUAL(b.size, left);

    p = b.data;
    while (agp_frame_check(p, left, &len) == AGP_FRAME_COMPLETE) {
        struct agp_msg msg;

        CU_ASSERT_EQUAL_FATAL(agp_decode(p, len, &msg), AGP_OK);
        CU_ASSERT_EQUAL(msg.type, n % 2 ? AGP_STATE_ACK : AGP_HELLO);
        agp_msg_uninit(&msg);
        p += len;
        left -= len;
        n++;
    }
    CU_ASSERT_EQUAL(n, 6);
    CU_ASSERT_EQUAL(left, 0);
    ofpbuf_uninit(&b);
}

/* Framing. */

/* Fills 'h' with a header of type HELLO (framed with version 1) and length
 * 'len'. */
static void
make_header(uint8_t h[AGP_HEADER_LEN], uint32_t len)
{
    memset(h, 0, AGP_HEADER_LEN);
    memcpy(h, AGP_MAGIC, 4);
    h[4] = AGP_HELLO_VERSION;
    h[5] = AGP_HELLO;
    set_length(h, len);
}

static void
test_frame_bad_magic(void)
{
    static const uint8_t tls[] = { 0x16, 0x03, 0x01, 0x02, 0x00 };
    uint8_t h[AGP_HEADER_LEN];
    size_t len = 99;

    make_header(h, 16);
    h[3] = 'B';
    CU_ASSERT_EQUAL(agp_frame_check(h, 16, &len), AGP_FRAME_BAD_MAGIC);
    CU_ASSERT_EQUAL(len, 0);
    /* Caught at the first wrong byte. */
    CU_ASSERT_EQUAL(agp_frame_check(h, 3, &len), AGP_FRAME_NEED_MORE);
    CU_ASSERT_EQUAL(agp_frame_check(h, 4, &len), AGP_FRAME_BAD_MAGIC);
    CU_ASSERT_EQUAL(agp_frame_check(tls, 1, &len), AGP_FRAME_BAD_MAGIC);
    CU_ASSERT_EQUAL(agp_frame_check("GET / HTTP/1.1\r\n", 16, &len),
                    AGP_FRAME_BAD_MAGIC);
    CU_ASSERT_EQUAL(decode_error(h, 16), AGP_E_MAGIC);
}

static void
test_frame_bad_version(void)
{
    uint8_t h[AGP_HEADER_LEN];
    size_t len;

    make_header(h, 16);
    h[4] = 4;
    CU_ASSERT_EQUAL(agp_frame_check(h, 16, &len), AGP_FRAME_BAD_VERSION);
    CU_ASSERT_EQUAL(agp_frame_check(h, 5, &len), AGP_FRAME_BAD_VERSION);
    h[4] = 2;
    CU_ASSERT_EQUAL(agp_frame_check(h, 16, &len), AGP_FRAME_BAD_VERSION);
    CU_ASSERT_EQUAL(agp_frame_check(h, 5, &len), AGP_FRAME_BAD_VERSION);
    CU_ASSERT_EQUAL(decode_error(h, 16), AGP_E_VERSION);
    h[4] = 0;
    CU_ASSERT_EQUAL(agp_frame_check(h, 16, &len), AGP_FRAME_BAD_VERSION);
}

/* HELLO and HELLO_ACK are framed with version 1, everything else with
 * version 3; the framer takes either, the decoder only the right one for
 * the type. */
static void
test_frame_versions(void)
{
    struct agp_msg ack = { .type = AGP_STATE_ACK, .state_ack = { .seq = 9 } };
    struct agp_msg hello_ack = {
        .type = AGP_HELLO_ACK, .hello_ack = { .version = AGP_VERSION },
    };
    struct ofpbuf *b;
    size_t len;

    b = encode(&hello_ack);
    CU_ASSERT_EQUAL(((uint8_t *) b->data)[4], 1);
    ((uint8_t *) b->data)[4] = AGP_VERSION;
    CU_ASSERT_EQUAL(agp_frame_check(b->data, b->size, &len),
                    AGP_FRAME_COMPLETE);
    CU_ASSERT_EQUAL(decode_error(b->data, b->size), AGP_E_VERSION);
    ofpbuf_delete(b);

    /* A version-1 peer's STATE_ACK. */
    b = encode(&ack);
    CU_ASSERT_EQUAL(((uint8_t *) b->data)[4], 3);
    ((uint8_t *) b->data)[4] = 1;
    CU_ASSERT_EQUAL(agp_frame_check(b->data, b->size, &len),
                    AGP_FRAME_COMPLETE);
    CU_ASSERT_EQUAL(decode_error(b->data, b->size), AGP_E_VERSION);
    /* An unknown type is that, in either version. */
    ((uint8_t *) b->data)[5] = 99;
    CU_ASSERT_EQUAL(decode_error(b->data, b->size), AGP_E_TYPE);
    ofpbuf_delete(b);
}

static void
test_frame_bad_length(void)
{
    uint8_t h[AGP_HEADER_LEN];
    size_t len;

    for (uint32_t l = 0; l < AGP_HEADER_LEN; l++) {
        make_header(h, l);
        CU_ASSERT_EQUAL(agp_frame_check(h, 16, &len), AGP_FRAME_BAD_LENGTH);
    }
    make_header(h, 15);
    /* Known as soon as the length field is complete. */
    CU_ASSERT_EQUAL(agp_frame_check(h, 12, &len), AGP_FRAME_BAD_LENGTH);
    CU_ASSERT_EQUAL(decode_error(h, 16), AGP_E_LENGTH);

    make_header(h, AGP_MAX_LEN + 1);
    CU_ASSERT_EQUAL(agp_frame_check(h, 16, &len), AGP_FRAME_BAD_LENGTH);
    make_header(h, UINT32_MAX);
    CU_ASSERT_EQUAL(agp_frame_check(h, 16, &len), AGP_FRAME_BAD_LENGTH);

    make_header(h, AGP_MAX_LEN);
    CU_ASSERT_EQUAL(agp_frame_check(h, 16, &len), AGP_FRAME_NEED_MORE);
    CU_ASSERT_EQUAL(len, AGP_MAX_LEN);
}

static void
test_frame_partial(void)
{
    uint8_t buf[40];
    size_t len;

    memset(buf, 0, sizeof buf);
    make_header(buf, 24);
    for (size_t n = 0; n < AGP_HEADER_LEN; n++) {
        len = 99;
        CU_ASSERT_EQUAL(agp_frame_check(buf, n, &len), AGP_FRAME_NEED_MORE);
        CU_ASSERT_EQUAL(len, n < 12 ? 0 : 24);
    }
    for (size_t n = AGP_HEADER_LEN; n < 24; n++) {
        CU_ASSERT_EQUAL(agp_frame_check(buf, n, &len), AGP_FRAME_NEED_MORE);
        CU_ASSERT_EQUAL(len, 24);
    }
    CU_ASSERT_EQUAL(agp_frame_check(buf, 24, &len), AGP_FRAME_COMPLETE);
    CU_ASSERT_EQUAL(len, 24);
    /* The next frame's bytes do not change the answer. */
    CU_ASSERT_EQUAL(agp_frame_check(buf, 40, &len), AGP_FRAME_COMPLETE);
    CU_ASSERT_EQUAL(len, 24);

    /* A header alone is a whole frame to the framer. */
    make_header(buf, 16);
    CU_ASSERT_EQUAL(agp_frame_check(buf, 16, &len), AGP_FRAME_COMPLETE);
    CU_ASSERT_EQUAL(len, 16);
}

/* Raw frames, built by hand to break one rule at a time. */

/* Returns a new buffer with a header of 'type', length 0 until
 * raw_decode(). */
static struct ofpbuf *
raw_start(uint8_t type)
{
    struct ofpbuf *b = ofpbuf_new(64);
    uint8_t h[AGP_HEADER_LEN];

    make_header(h, 0);
    h[4] = (type == AGP_HELLO || type == AGP_HELLO_ACK ? AGP_HELLO_VERSION
            : AGP_VERSION);
    h[5] = type;
    ofpbuf_put(b, h, sizeof h);
    return b;
}

/* Appends 'value' to 'b' in 'n' bytes, big-endian. */
static void
raw_uint(struct ofpbuf *b, uint64_t value, size_t n)
{
    put_be(ofpbuf_put_uninit(b, n), value, n);
}

/* Appends string 's' to 'b' with 'len' in its length field. */
static void
raw_strn(struct ofpbuf *b, const char *s, uint16_t len)
{
    raw_uint(b, len, 2);
    ofpbuf_put(b, s, strlen(s));
}

/* Appends string 's' to 'b'. */
static void
raw_str(struct ofpbuf *b, const char *s)
{
    raw_strn(b, s, strlen(s));
}

/* Sets the length of the frame in 'b', decodes it, frees 'b' and returns
 * the error. */
static enum agp_error
raw_decode(struct ofpbuf *b)
{
    enum agp_error error;

    set_length(b->data, b->size);
    error = decode_error(b->data, b->size);
    ofpbuf_delete(b);
    return error;
}

/* Returns a HELLO with versions 'versions', port 'port' and names
 * 'instance' and 'service'. */
static struct ofpbuf *
raw_hello(uint32_t versions, uint16_t port, const char *instance,
          const char *service)
{
    struct ofpbuf *b = raw_start(AGP_HELLO);

    raw_uint(b, versions, 4);
    raw_uint(b, ADDR(1), 4);
    raw_uint(b, port, 2);
    raw_str(b, instance);
    raw_str(b, service);
    return b;
}

static void
test_reject_header(void)
{
    struct agp_msg msg;
    struct ofpbuf *b;

    CU_ASSERT_EQUAL(raw_decode(raw_hello(2, 1, "a", "b")), AGP_OK);

    /* Unknown types. */
    CU_ASSERT_EQUAL(raw_decode(raw_start(0)), AGP_E_TYPE);
    CU_ASSERT_EQUAL(raw_decode(raw_start(AGP_RELEASE + 1)), AGP_E_TYPE);
    b = raw_start(255);
    raw_uint(b, 0, 8);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_TYPE);

    /* Flags. */
    b = raw_hello(2, 1, "a", "b");
    ((uint8_t *) b->data)[7] = 1;
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_FLAGS);

    /* A length field that is not the frame's size. */
    b = raw_hello(2, 1, "a", "b");
    set_length(b->data, b->size - 1);
    CU_ASSERT_EQUAL(decode_error(b->data, b->size), AGP_E_LENGTH);
    set_length(b->data, b->size + 1);
    CU_ASSERT_EQUAL(decode_error(b->data, b->size), AGP_E_LENGTH);
    ofpbuf_delete(b);

    /* The xid is kept. */
    b = raw_hello(2, 1, "a", "b");
    put_be((uint8_t *) b->data + 12, 0xdeadbeef, 4);
    set_length(b->data, b->size);
    CU_ASSERT_EQUAL(agp_decode(b->data, b->size, &msg), AGP_OK);
    CU_ASSERT_EQUAL(msg.xid, 0xdeadbeef);
    CU_ASSERT_STRING_EQUAL(msg.hello.instance, "a");
    agp_msg_uninit(&msg);
    ofpbuf_delete(b);
}

static void
test_reject_strings(void)
{
    char long_name[300];
    struct ofpbuf *b;

    /* Length beyond the frame. */
    b = raw_start(AGP_HELLO);
    raw_uint(b, 2, 4);
    raw_uint(b, ADDR(1), 4);
    raw_uint(b, 1, 2);
    raw_strn(b, "fw-1", 50);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_TRUNCATED);
    b = raw_start(AGP_HELLO);
    raw_uint(b, 2, 4);
    raw_uint(b, ADDR(1), 4);
    raw_uint(b, 1, 2);
    raw_str(b, "fw-1");
    raw_strn(b, "fw", 0xffff);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_STRING_LEN);

    /* A NUL inside, or at the end. */
    b = raw_hello(2, 1, "fw-1", "fw");
    ((char *) b->data)[b->size - 1] = '\0';
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_STRING_NUL);
    b = raw_hello(2, 1, "fw-1", "fw");
    ((char *) b->data)[b->size - 7] = '\0';
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_STRING_NUL);

    /* 255 bytes is the most. */
    memset(long_name, 'x', sizeof long_name);
    long_name[255] = '\0';
    CU_ASSERT_EQUAL(raw_decode(raw_hello(2, 1, long_name, "fw")), AGP_OK);
    long_name[255] = 'x';
    long_name[256] = '\0';
    CU_ASSERT_EQUAL(raw_decode(raw_hello(2, 1, long_name, "fw")),
                    AGP_E_STRING_LEN);

    /* Empty names. */
    CU_ASSERT_EQUAL(raw_decode(raw_hello(2, 1, "", "fw")), AGP_E_EMPTY_NAME);
    CU_ASSERT_EQUAL(raw_decode(raw_hello(2, 1, "fw-1", "")),
                    AGP_E_EMPTY_NAME);
}

static void
test_reject_values(void)
{
    struct ofpbuf *b;

    /* HELLO: no version, version 0, port 0. */
    CU_ASSERT_EQUAL(raw_decode(raw_hello(0, 1, "a", "b")), AGP_E_VALUE);
    CU_ASSERT_EQUAL(raw_decode(raw_hello(3, 1, "a", "b")), AGP_E_VALUE);
    CU_ASSERT_EQUAL(raw_decode(raw_hello(2, 0, "a", "b")), AGP_E_VALUE);

    /* HELLO_ACK: accepted with a reason, refused without, version 32. */
    b = raw_start(AGP_HELLO_ACK);
    raw_uint(b, 1, 1);
    raw_str(b, "why");
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_VALUE);
    b = raw_start(AGP_HELLO_ACK);
    raw_uint(b, 0, 1);
    raw_str(b, "");
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_VALUE);
    b = raw_start(AGP_HELLO_ACK);
    raw_uint(b, 32, 1);
    raw_str(b, "");
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_VALUE);

    /* Sequence number 0. */
    b = raw_start(AGP_STATE_ACK);
    raw_uint(b, 0, 8);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_VALUE);
    b = raw_start(AGP_STATE_UPDATE);
    raw_str(b, "fw-1");
    raw_uint(b, 0, 8);
    raw_uint(b, 0, 4);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_VALUE);

    /* Bucket numbers. */
    b = raw_start(AGP_BULK_BEGIN);
    raw_uint(b, AGP_MAX_BUCKETS, 4);
    raw_uint(b, 5, 8);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_BUCKET);
    b = raw_start(AGP_BULK_END);
    raw_uint(b, UINT32_MAX, 4);
    raw_uint(b, 5, 4);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_BUCKET);
}

/* A MAP as raw bytes: 'epoch', service "fw", 'n_buckets', the 'n' names in
 * 'names', then the 'n_triples' (primary, secondary, next) buckets in
 * 'triples'. */
static struct ofpbuf *
raw_map(uint64_t epoch, uint32_t n_buckets, const char *const *names,
        uint16_t n, const uint16_t *triples, size_t n_triples)
{
    struct ofpbuf *b = raw_start(AGP_MAP);

    raw_uint(b, epoch, 8);
    raw_str(b, "fw");
    raw_uint(b, n_buckets, 4);
    raw_uint(b, n, 2);
    for (size_t i = 0; i < n; i++) {
        raw_str(b, names[i]);
        raw_uint(b, ADDR(i + 1), 4);
        raw_uint(b, 7400, 2);
    }
    for (size_t i = 0; i < 3 * n_triples; i++) {
        raw_uint(b, triples[i], 2);
    }
    return b;
}

static void
test_reject_map(void)
{
    static const char *const names[] = { "fw-1", "fw-2", "fw-3" };
    static const char *const dups[] = { "fw-1", "fw-1" };
#define N AGP_NONE
    static const uint16_t ok[] = { 0, 1, N,  1, 0, 2,  1, N, N,  N, N, N };
#undef N
    uint16_t t[12];
    struct ofpbuf *b;

    CU_ASSERT_EQUAL(raw_decode(raw_map(1, 4, names, 3, ok, 4)), AGP_OK);
    CU_ASSERT_EQUAL(raw_decode(raw_map(0, 4, names, 3, ok, 4)),
                    AGP_E_VALUE);

    /* Bucket counts. */
    CU_ASSERT_EQUAL(raw_decode(raw_map(1, 3, names, 3, ok, 3)),
                    AGP_E_N_BUCKETS);
    CU_ASSERT_EQUAL(raw_decode(raw_map(1, 0, names, 3, ok, 0)),
                    AGP_E_N_BUCKETS);
    CU_ASSERT_EQUAL(raw_decode(raw_map(1, 131072, names, 3, ok, 4)),
                    AGP_E_N_BUCKETS);
    /* Fewer or more buckets than announced. */
    CU_ASSERT_EQUAL(raw_decode(raw_map(1, 8, names, 3, ok, 4)),
                    AGP_E_TRUNCATED);
    CU_ASSERT_EQUAL(raw_decode(raw_map(1, 2, names, 3, ok, 4)),
                    AGP_E_TRAILING);

    /* Instance indexes, one field of 'ok' changed at a time. */
    static const struct {
        size_t field;           /* Index into the triples. */
        uint16_t value;
        enum agp_error error;
    } edits[] = {
        /* Out of range: a primary, a secondary, a next instance. */
        { 3, 3, AGP_E_INDEX }, { 1, 5, AGP_E_INDEX }, { 2, 7, AGP_E_INDEX },
        /* The same instance twice in a bucket. */
        { 1, 0, AGP_E_INDEX }, { 2, 0, AGP_E_INDEX }, { 5, 0, AGP_E_INDEX },
        /* A secondary or a next instance without a primary. */
        { 10, 1, AGP_E_INDEX }, { 11, 1, AGP_E_INDEX },
        /* But a next instance without a secondary is fine. */
        { 8, 2, AGP_OK },
    };
    for (size_t i = 0; i < ARRAY_SIZE(edits); i++) {
        memcpy(t, ok, sizeof t);
        t[edits[i].field] = edits[i].value;
        CU_ASSERT_EQUAL(raw_decode(raw_map(1, 4, names, 3, t, 4)),
                        edits[i].error);
    }
    /* Indexes into no instances at all. */
    CU_ASSERT_EQUAL(raw_decode(raw_map(1, 2, names, 0, ok + 6, 2)),
                    AGP_E_INDEX);
    CU_ASSERT_EQUAL(raw_decode(raw_map(1, 2, names, 0, ok + 9, 1)),
                    AGP_E_TRUNCATED);

    /* Names. */
    CU_ASSERT_EQUAL(raw_decode(raw_map(1, 4, dups, 2, ok, 4)),
                    AGP_E_DUPLICATE);

    /* An instance count beyond the bytes. */
    b = raw_start(AGP_MAP);
    raw_uint(b, 1, 8);
    raw_str(b, "fw");
    raw_uint(b, 1, 4);
    raw_uint(b, 0xffff, 2);
    raw_uint(b, 0, 4);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_COUNT);
}

/* A HEARTBEAT as raw bytes: 'epoch', 'n_buckets' and 'bitmap_len' bytes of
 * 'fill' as the bitmap. */
static struct ofpbuf *
raw_heartbeat(uint64_t epoch, uint32_t n_buckets, size_t bitmap_len,
              uint8_t fill)
{
    struct ofpbuf *b = raw_start(AGP_HEARTBEAT);

    raw_uint(b, epoch, 8);
    raw_uint(b, n_buckets, 4);
    memset(ofpbuf_put_uninit(b, bitmap_len), fill, bitmap_len);
    raw_uint(b, 10, 8);
    raw_uint(b, 9, 8);
    raw_uint(b, 1, 8);
    return b;
}

static void
test_reject_heartbeat(void)
{
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(7, 256, 32, 0xff)), AGP_OK);
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(7, 4, 1, 0x0f)), AGP_OK);
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(0, 0, 0, 0)), AGP_OK);

    /* Bitmap too short, too long. */
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(7, 256, 31, 0xff)),
                    AGP_E_TRUNCATED);
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(7, 256, 33, 0xff)),
                    AGP_E_TRAILING);
    /* Bits past the buckets. */
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(7, 4, 1, 0x1f)), AGP_E_BITMAP);
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(7, 1, 1, 0x02)), AGP_E_BITMAP);

    /* Bucket counts. */
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(7, 3, 1, 0)), AGP_E_N_BUCKETS);
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(7, 0, 0, 0)), AGP_E_N_BUCKETS);
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(7, 131072, 16384, 0)),
                    AGP_E_N_BUCKETS);
    CU_ASSERT_EQUAL(raw_decode(raw_heartbeat(0, 8, 1, 0)), AGP_E_N_BUCKETS);
}

/* Appends to 'b' a record of 'bucket', a key with lower endpoint
 * ('lo', 'lo_port') and higher ('hi', 'hi_port'), version (7, 'count'),
 * and 'state_len' in its length field followed by 'n_state' bytes. */
static void
raw_record_count(struct ofpbuf *b, uint32_t bucket, uint32_t lo,
                 uint16_t lo_port, uint32_t hi, uint16_t hi_port,
                 uint64_t count, uint16_t state_len, size_t n_state)
{
    raw_uint(b, bucket, 4);
    raw_uint(b, lo, 4);
    raw_uint(b, hi, 4);
    raw_uint(b, lo_port, 2);
    raw_uint(b, hi_port, 2);
    raw_uint(b, 6, 1);
    raw_uint(b, 7, 8);
    raw_uint(b, count, 8);
    raw_uint(b, state_len, 2);
    memset(ofpbuf_put_uninit(b, n_state), 0x5a, n_state);
}

/* raw_record_count() with a change count of 1. */
static void
raw_record(struct ofpbuf *b, uint32_t bucket, uint32_t lo, uint16_t lo_port,
           uint32_t hi, uint16_t hi_port, uint16_t state_len, size_t n_state)
{
    raw_record_count(b, bucket, lo, lo_port, hi, hi_port, 1, state_len,
                     n_state);
}

/* Returns a STATE_UPDATE header from "fw-1" with sequence 5 and 'n' in its
 * record count. */
static struct ofpbuf *
raw_update(uint32_t n)
{
    struct ofpbuf *b = raw_start(AGP_STATE_UPDATE);

    raw_str(b, "fw-1");
    raw_uint(b, 5, 8);
    raw_uint(b, n, 4);
    return b;
}

static void
test_reject_records(void)
{
    struct ofpbuf *b;

    b = raw_update(2);
    raw_record(b, 1, ADDR(1), 80, ADDR(2), 80, 3, 3);
    raw_record(b, 1, ADDR(1), 80, ADDR(1), 81, AGP_MAX_STATE, AGP_MAX_STATE);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_OK);

    /* Counts that claim more than the bytes. */
    b = raw_update(2);
    raw_record(b, 1, ADDR(1), 80, ADDR(2), 80, 0, 0);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_COUNT);
    b = raw_update(UINT32_MAX);
    raw_record(b, 1, ADDR(1), 80, ADDR(2), 80, 0, 0);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_COUNT);
    b = raw_update(3);
    raw_record(b, 1, ADDR(1), 80, ADDR(2), 80, 100, 100);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_TRUNCATED);
    /* Fewer than the bytes. */
    b = raw_update(1);
    raw_record(b, 1, ADDR(1), 80, ADDR(2), 80, 0, 0);
    raw_record(b, 1, ADDR(1), 80, ADDR(2), 80, 0, 0);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_TRAILING);

    /* A state longer than the most, or than the frame. */
    b = raw_update(1);
    raw_record(b, 1, ADDR(1), 80, ADDR(2), 80, AGP_MAX_STATE + 1,
               AGP_MAX_STATE + 1);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_STATE_LEN);
    b = raw_update(1);
    raw_record(b, 1, ADDR(1), 80, ADDR(2), 80, 10, 9);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_TRUNCATED);

    /* Keys out of order, a bucket out of range. */
    b = raw_update(1);
    raw_record(b, 1, ADDR(2), 80, ADDR(1), 80, 0, 0);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_KEY);
    b = raw_update(1);
    raw_record(b, 1, ADDR(1), 81, ADDR(1), 80, 0, 0);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_KEY);
    b = raw_update(1);
    raw_record(b, AGP_MAX_BUCKETS, ADDR(1), 80, ADDR(2), 80, 0, 0);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_BUCKET);

    /* A version without changes; the largest count. */
    b = raw_update(1);
    raw_record_count(b, 1, ADDR(1), 80, ADDR(2), 80, 0, 0, 0);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_VALUE);
    b = raw_update(1);
    raw_record_count(b, 1, ADDR(1), 80, ADDR(2), 80, UINT64_MAX, 0, 0);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_OK);

    /* A record in version 1's layout (no version): its bytes are too few
     * for the record it claims. */
    b = raw_update(1);
    raw_uint(b, 1, 4);
    raw_uint(b, ADDR(1), 4);
    raw_uint(b, ADDR(2), 4);
    raw_uint(b, 80, 2);
    raw_uint(b, 80, 2);
    raw_uint(b, 6, 1);
    raw_uint(b, 3, 2);
    raw_uint(b, 0, 3);
    CU_ASSERT_EQUAL(raw_decode(b), AGP_E_COUNT);
}

/* The bytes of a record, as docs/agent-protocol.md lays them out. */
static void
test_record_layout(void)
{
    static const uint8_t state[3] = { 0xaa, 0xbb, 0xcc };
    static const uint8_t expected[] = {
        0x00, 0x00, 0x00, 0x05,                         /* bucket */
        0x0a, 0x00, 0x01, 0x01, 0x0a, 0x00, 0x01, 0x02, /* addresses */
        0x00, 0x50, 0x9c, 0x40, 0x06,                   /* ports, proto */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, /* epoch */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a, /* count */
        0x00, 0x03, 0xaa, 0xbb, 0xcc,                   /* state */
    };
    struct agp_record rec = {
        .bucket = 5, .version = { .epoch = 258, .count = 42 },
        .state_len = sizeof state, .state = state,
    };
    struct agp_msg msg = {
        .type = AGP_STATE_UPDATE, .xid = 1,
        .state_update = { .sender = "a", .seq = 1, .records = &rec,
                          .n_records = 1 },
    };
    struct ofpbuf *b;

    agp_stream_key_init(&rec.key, ADDR(2), 40000, ADDR(1), 80, 6);
    b = encode(&msg);
    /* Header, sender "a", seq, count. */
    CU_ASSERT_EQUAL_FATAL(b->size, 16 + 3 + 8 + 4 + sizeof expected);
    CU_ASSERT_EQUAL(((uint8_t *) b->data)[4], 3);
    CU_ASSERT(!memcmp((uint8_t *) b->data + 31, expected, sizeof expected));
    ofpbuf_delete(b);
    CU_ASSERT_EQUAL(round_trip(&msg), 16 + 3 + 8 + 4 + 35 + 3);
}

/* The encoder refuses what the decoder would, and leaves the buffer as it
 * was. */
static void
test_encode_refusals(void)
{
    uint8_t state[AGP_MAX_STATE + 1] = { 0 };
    struct agp_record rec = { .bucket = 1, .version = { 0, 1 },
                              .state = state };
    struct agp_msg msg;
    struct ofpbuf b;

    ofpbuf_init(&b, 0);
    ofpbuf_put(&b, "x", 1);

    make_map(&msg, 1, 8, 3);
    msg.map.n_buckets = 12;
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_N_BUCKETS);
    msg.map.n_buckets = 8;
    msg.map.buckets[5].secondary = 3;
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_INDEX);
    msg.map.buckets[5].secondary = AGP_NONE;
    msg.map.epoch = 0;
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_VALUE);
    msg.map.epoch = 1;
    free(CONST_CAST(char *, msg.map.instances[2].name));
    msg.map.instances[2].name = xstrdup("fw-1");
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_DUPLICATE);
    free_map(&msg);
    CU_ASSERT_EQUAL(b.size, 1);

    memset(&msg, 0, sizeof msg);
    msg.type = AGP_STATE_UPDATE;
    msg.state_update.sender = "fw-1";
    msg.state_update.seq = 1;
    msg.state_update.records = &rec;
    msg.state_update.n_records = 1;
    rec.state_len = AGP_MAX_STATE + 1;
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_STATE_LEN);
    rec.state_len = 0;
    agp_stream_key_init(&rec.key, 1, 1, 2, 2, 6);
    rec.key.lower_addr = 3;
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_KEY);
    rec.key.lower_addr = 1;
    rec.bucket = AGP_MAX_BUCKETS;
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_BUCKET);
    rec.bucket = 0;
    rec.version.count = 0;
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_VALUE);
    rec.version.count = 1;
    msg.state_update.seq = 0;
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_VALUE);
    CU_ASSERT_EQUAL(b.size, 1);

    msg.type = 0;
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_TYPE);
    CU_ASSERT_EQUAL(b.size, 1);
    ofpbuf_uninit(&b);
}

/* A MAP whose instance names exceed AGP_MAX_LEN is refused. */
static void
test_encode_too_long(void)
{
    enum { N = 5000 };
    struct agp_bucket bucket = { 0, 1, AGP_NONE };
    struct agp_msg msg = {
        .type = AGP_MAP,
        .map = { .epoch = 1, .service = "fw", .n_buckets = 1,
                 .n_instances = N, .buckets = &bucket },
    };
    struct ofpbuf b;

    msg.map.instances = xcalloc(N, sizeof *msg.map.instances);
    for (size_t i = 0; i < N; i++) {
        char *name = xmalloc(251);

        memset(name, 'n', 250);
        snprintf(name, 251, "%05zu", i);
        name[5] = 'n';
        name[250] = '\0';
        msg.map.instances[i].name = name;
    }
    ofpbuf_init(&b, 0);
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_E_TOO_LONG);
    CU_ASSERT_EQUAL(b.size, 0);

    /* 4000 of them fit. */
    msg.map.n_instances = 4000;
    CU_ASSERT_EQUAL(agp_encode(&msg, &b), AGP_OK);
    CU_ASSERT_TRUE(b.size <= AGP_MAX_LEN);
    CU_ASSERT_EQUAL(decode_error(b.data, b.size), AGP_OK);

    for (size_t i = 0; i < N; i++) {
        free(CONST_CAST(char *, msg.map.instances[i].name));
    }
    free(msg.map.instances);
    ofpbuf_uninit(&b);
}

/* A batch fills up to AGP_MAX_LEN and no further. */
static void
test_batch_full(void)
{
    static uint8_t state[AGP_MAX_STATE];
    struct agp_record rec = { .version = { 3, 1 },
                              .state_len = AGP_MAX_STATE, .state = state };
    struct agp_batch batch;
    struct agp_msg msg;
    struct ofpbuf b;
    size_t n, expected, room;

    ofpbuf_init(&b, 0);
    ofpbuf_put(&b, "xyz", 3);
    CU_ASSERT_EQUAL(agp_batch_begin(&batch, &b, 1, "", 1), AGP_E_EMPTY_NAME);
    CU_ASSERT_EQUAL(agp_batch_begin(&batch, &b, 1, "fw-1", 0), AGP_E_VALUE);
    CU_ASSERT_EQUAL(b.size, 3);
    CU_ASSERT_EQUAL(agp_batch_begin(&batch, &b, 1, "fw-1", 1), AGP_OK);
    for (n = 0; ; n++) {
        size_t size = b.size;

        agp_stream_key_init(&rec.key, n, 1, 0, 2, 6);
        rec.bucket = n % 256;
        if (agp_batch_add(&batch, &b, &rec) != AGP_OK) {
            CU_ASSERT_EQUAL(agp_batch_add(&batch, &b, &rec),
                            AGP_E_TOO_LONG);
            CU_ASSERT_EQUAL(b.size, size);
            break;
        }
    }
    /* Header, sender, seq, count; then records of 35 + 1024 bytes. */
    expected = (AGP_MAX_LEN - (16 + 6 + 8 + 4)) / (35 + AGP_MAX_STATE);
    CU_ASSERT_EQUAL(n, expected);

    /* A smaller record fills the frame to the last byte; then not even an
     * empty one fits. */
    room = AGP_MAX_LEN - (b.size - 3);
    CU_ASSERT_FATAL(room >= 35 && room - 35 < AGP_MAX_STATE);
    rec.state_len = room - 35;
    CU_ASSERT_EQUAL(agp_batch_add(&batch, &b, &rec), AGP_OK);
    CU_ASSERT_EQUAL(b.size - 3, AGP_MAX_LEN);
    rec.state_len = 0;
    CU_ASSERT_EQUAL(agp_batch_add(&batch, &b, &rec), AGP_E_TOO_LONG);
    agp_batch_end(&batch, &b);

    CU_ASSERT_EQUAL_FATAL(agp_decode((uint8_t *) b.data + 3, b.size - 3,
                                     &msg), AGP_OK);
    CU_ASSERT_EQUAL(msg.state_update.n_records, n + 1);
    CU_ASSERT_EQUAL(msg.state_update.records[n - 1].key.lower_addr, 0);
    CU_ASSERT_EQUAL(msg.state_update.records[n - 1].key.higher_addr, n - 1);
    CU_ASSERT_EQUAL(msg.state_update.records[n].state_len, room - 35);
    agp_msg_uninit(&msg);
    ofpbuf_uninit(&b);
}

/* Sequence windows. */

static void
test_seq_duplicate(void)
{
    struct agp_seq_window w;

    agp_seq_window_init(&w, 0);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 0), AGP_SEQ_DUPLICATE);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 1), AGP_SEQ_ACCEPT);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 2), AGP_SEQ_ACCEPT);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 2), AGP_SEQ_DUPLICATE);
    CU_ASSERT_EQUAL(w.last, 2);
    CU_ASSERT_EQUAL(w.n_accepted, 2);
    CU_ASSERT_EQUAL(w.n_duplicates, 2);
    CU_ASSERT_EQUAL(w.n_gaps, 0);
    CU_ASSERT_STRING_EQUAL(agp_seq_verdict_name(AGP_SEQ_DUPLICATE),
                           "duplicate");
}

static void
test_seq_reordered(void)
{
    struct agp_seq_window w;

    agp_seq_window_init(&w, 0);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 1), AGP_SEQ_ACCEPT);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 3), AGP_SEQ_ACCEPT);
    /* 2 arrives late: older than what was applied. */
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 2), AGP_SEQ_DUPLICATE);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 1), AGP_SEQ_DUPLICATE);
    CU_ASSERT_EQUAL(w.last, 3);
    CU_ASSERT_EQUAL(w.n_duplicates, 2);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 4), AGP_SEQ_ACCEPT);
    CU_ASSERT_EQUAL(w.n_accepted, 3);
}

static void
test_seq_gap(void)
{
    struct agp_seq_window w;

    /* Starting at a bulk transfer's watermark. */
    agp_seq_window_init(&w, 100);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 100), AGP_SEQ_DUPLICATE);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 101), AGP_SEQ_ACCEPT);
    CU_ASSERT_EQUAL(w.n_gaps, 0);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 105), AGP_SEQ_ACCEPT);
    CU_ASSERT_EQUAL(w.last, 105);
    CU_ASSERT_EQUAL(w.n_gaps, 1);
    CU_ASSERT_EQUAL(w.n_missing, 3);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 104), AGP_SEQ_DUPLICATE);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, 106), AGP_SEQ_ACCEPT);
    CU_ASSERT_EQUAL(agp_seq_accept(&w, UINT64_MAX), AGP_SEQ_ACCEPT);
    CU_ASSERT_EQUAL(w.n_gaps, 2);
    CU_ASSERT_EQUAL(w.n_missing, 3 + (UINT64_MAX - 107));
    CU_ASSERT_EQUAL(w.n_accepted, 4);
    CU_ASSERT_EQUAL(w.n_duplicates, 2);
}

static void
test_names(void)
{
    const char *names[AGP_E_TOO_LONG + 1];

    for (int i = 0; i <= AGP_E_TOO_LONG; i++) {
        names[i] = agp_error_name(i);
        CU_ASSERT_STRING_NOT_EQUAL(names[i], "unknown error");
        for (int j = 0; j < i; j++) {
            CU_ASSERT_STRING_NOT_EQUAL(names[i], names[j]);
        }
    }
    CU_ASSERT_STRING_EQUAL(agp_error_name(AGP_E_TOO_LONG + 1),
                           "unknown error");
    CU_ASSERT_STRING_EQUAL(agp_type_name(AGP_STATE_UPDATE), "STATE_UPDATE");
    CU_ASSERT_STRING_EQUAL(agp_type_name(0), "UNKNOWN");
    CU_ASSERT_STRING_EQUAL(agp_frame_status_name(AGP_FRAME_BAD_MAGIC),
                           "bad magic");
}

static const struct test_case agentproto_tests[] = {
    { "round trip: HELLO", test_hello },
    { "round trip: HELLO_ACK", test_hello_ack },
    { "round trip: MAP, 256 buckets, 5 instances", test_map },
    { "round trip: HEARTBEAT", test_heartbeat },
    { "round trip: STATE_UPDATE, 100 records", test_state_update },
    { "round trip: STATE_ACK, BULK_BEGIN, BULK_END, CLAIM, RELEASE",
      test_small_messages },
    { "frames on a stream", test_stream },
    { "frame: bad magic", test_frame_bad_magic },
    { "frame: bad version", test_frame_bad_version },
    { "frame: the version of each type", test_frame_versions },
    { "frame: bad length", test_frame_bad_length },
    { "frame: partial header and body", test_frame_partial },
    { "reject: header, type, flags", test_reject_header },
    { "reject: strings", test_reject_strings },
    { "reject: field values", test_reject_values },
    { "reject: MAP", test_reject_map },
    { "reject: HEARTBEAT", test_reject_heartbeat },
    { "reject: STATE_UPDATE records", test_reject_records },
    { "STATE_UPDATE record layout", test_record_layout },
    { "encoder refusals", test_encode_refusals },
    { "encoder: message too long", test_encode_too_long },
    { "batch fills to the maximum", test_batch_full },
    { "sequence: duplicate", test_seq_duplicate },
    { "sequence: reordered", test_seq_reordered },
    { "sequence: gap", test_seq_gap },
    { "names", test_names },
    { NULL, NULL },
};
TEST_SUITE("agentproto", agentproto_tests)
