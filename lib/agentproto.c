/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "agentproto.h"

#include <stdlib.h>
#include <string.h>
#include "openvswitch/ofpbuf.h"
#include "unaligned.h"
#include "util.h"

/* Offsets of the header's fields. */
#define AGP_OFS_VERSION 4
#define AGP_OFS_TYPE 5
#define AGP_OFS_FLAGS 6
#define AGP_OFS_LENGTH 8
#define AGP_OFS_XID 12

/* Sizes on the wire, for bounding counts by the bytes left. */
#define AGP_KEY_LEN 13          /* A stream key. */
#define AGP_VERSION_LEN 16      /* A record's version. */
#define AGP_RECORD_MIN_LEN (4 + AGP_KEY_LEN + AGP_VERSION_LEN + 2)
                                /* A record, no state. */
#define AGP_INSTANCE_MIN_LEN (2 + 1 + 4 + 2)    /* An instance, 1-byte name. */
#define AGP_BUCKET_LEN 6        /* A MAP bucket. */

/* The highest version a HELLO's bitmap can name. */
#define AGP_MAX_VERSION 31

/* Returns a short description of 'error' for logs. */
const char *
agp_error_name(enum agp_error error)
{
    switch (error) {
    case AGP_OK:
        return "success";
    case AGP_E_SHORT:
        return "shorter than a header";
    case AGP_E_MAGIC:
        return "bad magic";
    case AGP_E_VERSION:
        return "unsupported version";
    case AGP_E_LENGTH:
        return "bad length field";
    case AGP_E_FLAGS:
        return "nonzero flags";
    case AGP_E_TYPE:
        return "unknown message type";
    case AGP_E_TRUNCATED:
        return "truncated field";
    case AGP_E_TRAILING:
        return "trailing bytes";
    case AGP_E_STRING_LEN:
        return "string too long";
    case AGP_E_STRING_NUL:
        return "NUL in string";
    case AGP_E_EMPTY_NAME:
        return "empty name";
    case AGP_E_DUPLICATE:
        return "duplicate instance name";
    case AGP_E_COUNT:
        return "count exceeds message";
    case AGP_E_N_BUCKETS:
        return "bad bucket count";
    case AGP_E_BUCKET:
        return "bucket out of range";
    case AGP_E_BITMAP:
        return "bitmap bits past bucket count";
    case AGP_E_INDEX:
        return "bad instance index";
    case AGP_E_KEY:
        return "stream key not canonical";
    case AGP_E_STATE_LEN:
        return "state too long";
    case AGP_E_VALUE:
        return "field out of range";
    case AGP_E_TOO_LONG:
        return "message too long";
    }
    return "unknown error";
}

/* Returns the name of message type 'type', "UNKNOWN" for a value that is no
 * type. */
const char *
agp_type_name(enum agp_type type)
{
    switch (type) {
    case AGP_HELLO:
        return "HELLO";
    case AGP_HELLO_ACK:
        return "HELLO_ACK";
    case AGP_MAP:
        return "MAP";
    case AGP_HEARTBEAT:
        return "HEARTBEAT";
    case AGP_STATE_UPDATE:
        return "STATE_UPDATE";
    case AGP_STATE_ACK:
        return "STATE_ACK";
    case AGP_BULK_BEGIN:
        return "BULK_BEGIN";
    case AGP_BULK_END:
        return "BULK_END";
    case AGP_CLAIM:
        return "CLAIM";
    case AGP_RELEASE:
        return "RELEASE";
    }
    return "UNKNOWN";
}

/* Big-endian numbers at any alignment, with libopenvswitch's helpers. */
static uint16_t
agp_be16__(const uint8_t *p)
{
    return ntohs(get_unaligned_be16((const ovs_be16 *) p));
}

static uint32_t
agp_be32__(const uint8_t *p)
{
    return ntohl(get_unaligned_be32((const ovs_be32 *) p));
}

static void
agp_set_be32__(void *p, uint32_t value)
{
    put_unaligned_be32(p, htonl(value));
}

/* Returns the version that a frame of 'type' is framed with. */
static uint8_t
agp_frame_version__(uint8_t type)
{
    return (type == AGP_HELLO || type == AGP_HELLO_ACK
            ? AGP_HELLO_VERSION : AGP_VERSION);
}

/* Framing. */

/* Examines the 'size' bytes at 'data', the head of a receive buffer.
 *
 * Returns AGP_FRAME_COMPLETE, and stores the frame's length in '*msg_len',
 * if a whole frame is there (bytes after it belong to the next frame).
 * Returns AGP_FRAME_NEED_MORE if the header or the frame is not complete
 * yet; '*msg_len' is then the frame's length once the length field has
 * arrived, 0 before.
 *
 * Returns AGP_FRAME_BAD_MAGIC, AGP_FRAME_BAD_VERSION or AGP_FRAME_BAD_LENGTH
 * as soon as the bytes present show a wrong magic, a version other than
 * AGP_VERSION and AGP_HELLO_VERSION, or a length below AGP_HEADER_LEN or
 * above AGP_MAX_LEN, so that a peer speaking something else (HTTP, or TLS
 * to a plain listener) is caught by its first bytes.  The type and flags,
 * and which of the two versions the type is framed with, are left to
 * agp_decode(): a frame of an unknown type still has a trustworthy length,
 * so the caller may skip it. */
enum agp_frame_status
agp_frame_check(const void *data, size_t size, size_t *msg_len)
{
    const uint8_t *p = data;
    size_t len;

    *msg_len = 0;
    if (size && memcmp(p, AGP_MAGIC, MIN(size, 4))) {
        return AGP_FRAME_BAD_MAGIC;
    }
    if (size > AGP_OFS_VERSION && p[AGP_OFS_VERSION] != AGP_VERSION
        && p[AGP_OFS_VERSION] != AGP_HELLO_VERSION) {
        return AGP_FRAME_BAD_VERSION;
    }
    if (size < AGP_OFS_LENGTH + 4) {
        return AGP_FRAME_NEED_MORE;
    }

    len = agp_be32__(p + AGP_OFS_LENGTH);
    if (len < AGP_HEADER_LEN || len > AGP_MAX_LEN) {
        return AGP_FRAME_BAD_LENGTH;
    }
    *msg_len = len;
    return size >= len ? AGP_FRAME_COMPLETE : AGP_FRAME_NEED_MORE;
}

/* Returns a short description of 'status' for logs. */
const char *
agp_frame_status_name(enum agp_frame_status status)
{
    switch (status) {
    case AGP_FRAME_COMPLETE:
        return "complete";
    case AGP_FRAME_NEED_MORE:
        return "incomplete";
    case AGP_FRAME_BAD_MAGIC:
        return "bad magic";
    case AGP_FRAME_BAD_VERSION:
        return "unsupported version";
    case AGP_FRAME_BAD_LENGTH:
        return "length out of range";
    }
    return "unknown";
}

/* Checks shared by the encoder and the decoder. */

/* Checks the string of 'len' bytes at 's': at most AGP_MAX_STRING bytes,
 * no NUL, and not empty if 'is_name'. */
static enum agp_error
agp_check_string__(const char *s, size_t len, bool is_name)
{
    if (len > AGP_MAX_STRING) {
        return AGP_E_STRING_LEN;
    }
    if (len && memchr(s, '\0', len)) {
        return AGP_E_STRING_NUL;
    }
    if (is_name && !len) {
        return AGP_E_EMPTY_NAME;
    }
    return AGP_OK;
}

/* Returns true if 'n' is a bucket count: a power of 2, 1 to
 * AGP_MAX_BUCKETS. */
static bool
agp_is_n_buckets__(uint64_t n)
{
    return n && !(n & (n - 1)) && n <= AGP_MAX_BUCKETS;
}

/* Checks a HELLO's 'versions' bitmap: some version, and not version 0. */
static enum agp_error
agp_check_versions__(uint32_t versions)
{
    return versions && !(versions & 1) ? AGP_OK : AGP_E_VALUE;
}

/* Checks a HELLO_ACK's 'version' and the length 'reason_len' of its reason:
 * an accepted hello names a version and no reason, a refused one a
 * reason. */
static enum agp_error
agp_check_hello_ack__(uint8_t version, size_t reason_len)
{
    if (version > AGP_MAX_VERSION) {
        return AGP_E_VALUE;
    }
    return (version != 0) == (reason_len == 0) ? AGP_OK : AGP_E_VALUE;
}

/* Compares the strings that 'a' and 'b' point to, for qsort(). */
static int
agp_compare_names__(const void *a, const void *b)
{
    return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Checks that the 'n' instances in 'instances' have distinct names (NULL
 * counts as ""). */
static enum agp_error
agp_check_unique__(const struct agp_instance *instances, size_t n)
{
    enum agp_error error = AGP_OK;
    const char **names;

    if (n < 2) {
        return AGP_OK;
    }
    names = xmalloc(n * sizeof *names);
    for (size_t i = 0; i < n; i++) {
        names[i] = instances[i].name ? instances[i].name : "";
    }
    qsort(names, n, sizeof *names, agp_compare_names__);
    for (size_t i = 1; i < n; i++) {
        if (!strcmp(names[i - 1], names[i])) {
            error = AGP_E_DUPLICATE;
            break;
        }
    }
    free(names);
    return error;
}

/* Checks 'bucket' of a MAP with 'n_instances' instances: each index below
 * 'n_instances' or AGP_NONE, no secondary nor next instance without a
 * primary, and not the same instance twice. */
static enum agp_error
agp_check_bucket__(const struct agp_bucket *bucket, size_t n_instances)
{
    uint16_t p = bucket->primary;
    uint16_t s = bucket->secondary;
    uint16_t n = bucket->next;

    if ((p != AGP_NONE && p >= n_instances)
        || (s != AGP_NONE && s >= n_instances)
        || (n != AGP_NONE && n >= n_instances)
        || (p == AGP_NONE && (s != AGP_NONE || n != AGP_NONE))
        || (p != AGP_NONE && (p == s || p == n))
        || (n != AGP_NONE && n == s)) {
        return AGP_E_INDEX;
    }
    return AGP_OK;
}

/* Checks a HEARTBEAT's 'epoch' and 'n_buckets': no map (epoch 0) and no
 * buckets, or a map and a bucket count. */
static enum agp_error
agp_check_heartbeat_size__(uint64_t epoch, uint64_t n_buckets)
{
    if (!epoch) {
        return n_buckets ? AGP_E_N_BUCKETS : AGP_OK;
    }
    return agp_is_n_buckets__(n_buckets) ? AGP_OK : AGP_E_N_BUCKETS;
}

/* Checks that 'bitmap', of 'n_bits' bits, has no bit set past them in its
 * last byte. */
static enum agp_error
agp_check_bitmap__(const uint8_t *bitmap, size_t n_bits)
{
    if (n_bits % 8 && bitmap[n_bits / 8] >> (n_bits % 8)) {
        return AGP_E_BITMAP;
    }
    return AGP_OK;
}

/* Returns true if 'key' is in canonical order (see struct
 * agp_stream_key). */
static bool
agp_key_is_canonical__(const struct agp_stream_key *key)
{
    return (key->lower_addr < key->higher_addr
            || (key->lower_addr == key->higher_addr
                && key->lower_port <= key->higher_port));
}

/* Checks 'rec' apart from its state bytes: bucket, key, version and state
 * length. */
static enum agp_error
agp_check_record__(const struct agp_record *rec)
{
    if (rec->bucket >= AGP_MAX_BUCKETS) {
        return AGP_E_BUCKET;
    }
    if (!agp_key_is_canonical__(&rec->key)) {
        return AGP_E_KEY;
    }
    if (!rec->version.count) {
        return AGP_E_VALUE;
    }
    if (rec->state_len > AGP_MAX_STATE) {
        return AGP_E_STATE_LEN;
    }
    return AGP_OK;
}

/* Decoding. */

/* The part of a frame not read yet. */
struct agp_reader {
    const uint8_t *p;           /* Next byte. */
    size_t left;                /* Bytes from 'p' to the frame's end. */
};

/* Consumes 'n' bytes of 'r', pointing '*p' to them. */
static enum agp_error
agp_get__(struct agp_reader *r, size_t n, const uint8_t **p)
{
    if (r->left < n) {
        return AGP_E_TRUNCATED;
    }
    *p = r->p;
    r->p += n;
    r->left -= n;
    return AGP_OK;
}

/* Consumes a 1-byte number of 'r' into '*value'. */
static enum agp_error
agp_get_u8__(struct agp_reader *r, uint8_t *value)
{
    const uint8_t *p;
    enum agp_error error = agp_get__(r, 1, &p);

    *value = error ? 0 : p[0];
    return error;
}

/* Consumes a 2-byte number of 'r' into '*value'. */
static enum agp_error
agp_get_u16__(struct agp_reader *r, uint16_t *value)
{
    const uint8_t *p;
    enum agp_error error = agp_get__(r, 2, &p);

    *value = error ? 0 : agp_be16__(p);
    return error;
}

/* Consumes a 4-byte number of 'r' into '*value'. */
static enum agp_error
agp_get_u32__(struct agp_reader *r, uint32_t *value)
{
    const uint8_t *p;
    enum agp_error error = agp_get__(r, 4, &p);

    *value = error ? 0 : agp_be32__(p);
    return error;
}

/* Consumes an 8-byte number of 'r' into '*value'. */
static enum agp_error
agp_get_u64__(struct agp_reader *r, uint64_t *value)
{
    const uint8_t *p;
    enum agp_error error = agp_get__(r, 8, &p);

    *value = error ? 0 : ntohll(get_unaligned_be64((const ovs_be64 *) p));
    return error;
}

/* Consumes a string of 'r' and stores a NUL-terminated copy, to be freed
 * by the caller, in '*s'; leaves '*s' alone on error.  If 'is_name', the
 * string may not be empty. */
static enum agp_error
agp_get_string__(struct agp_reader *r, bool is_name, const char **s)
{
    const uint8_t *p;
    enum agp_error error;
    uint16_t len;

    error = agp_get_u16__(r, &len);
    if (!error && len > AGP_MAX_STRING) {
        error = AGP_E_STRING_LEN;
    }
    if (!error) {
        error = agp_get__(r, len, &p);
    }
    if (!error) {
        error = agp_check_string__((const char *) p, len, is_name);
    }
    if (!error) {
        *s = xmemdup0((const char *) p, len);
    }
    return error;
}

/* Consumes a stream key of 'r' into '*key'.  Its order is checked by the
 * caller. */
static enum agp_error
agp_get_key__(struct agp_reader *r, struct agp_stream_key *key)
{
    const uint8_t *p;
    enum agp_error error = agp_get__(r, AGP_KEY_LEN, &p);

    if (!error) {
        key->lower_addr = agp_be32__(p);
        key->higher_addr = agp_be32__(p + 4);
        key->lower_port = agp_be16__(p + 8);
        key->higher_port = agp_be16__(p + 10);
        key->proto = p[12];
    }
    return error;
}

/* Decodes the body of a HELLO from 'r' into 'h'. */
static enum agp_error
agp_decode_hello__(struct agp_reader *r, struct agp_hello *h)
{
    enum agp_error error;

    error = agp_get_u32__(r, &h->versions);
    if (!error) {
        error = agp_check_versions__(h->versions);
    }
    if (!error) {
        error = agp_get_u32__(r, &h->repl_addr);
    }
    if (!error) {
        error = agp_get_u16__(r, &h->repl_port);
    }
    if (!error && !h->repl_port) {
        error = AGP_E_VALUE;
    }
    if (!error) {
        error = agp_get_string__(r, true, &h->instance);
    }
    if (!error) {
        error = agp_get_string__(r, true, &h->service);
    }
    return error;
}

/* Decodes the body of a HELLO_ACK from 'r' into 'ack'. */
static enum agp_error
agp_decode_hello_ack__(struct agp_reader *r, struct agp_hello_ack *ack)
{
    enum agp_error error;

    error = agp_get_u8__(r, &ack->version);
    if (!error) {
        error = agp_get_string__(r, false, &ack->reason);
    }
    if (!error) {
        error = agp_check_hello_ack__(ack->version, strlen(ack->reason));
    }
    return error;
}

/* Decodes the instances of a MAP, whose count 'n' was just read, from 'r'
 * into 'map'. */
static enum agp_error
agp_decode_instances__(struct agp_reader *r, size_t n, struct agp_map *map)
{
    if (n > r->left / AGP_INSTANCE_MIN_LEN) {
        return AGP_E_COUNT;
    }
    map->instances = xcalloc(n ? n : 1, sizeof *map->instances);
    map->n_instances = n;
    for (size_t i = 0; i < n; i++) {
        struct agp_instance *inst = &map->instances[i];
        enum agp_error error;

        error = agp_get_string__(r, true, &inst->name);
        if (!error) {
            error = agp_get_u32__(r, &inst->repl_addr);
        }
        if (!error) {
            error = agp_get_u16__(r, &inst->repl_port);
        }
        if (error) {
            return error;
        }
    }
    return agp_check_unique__(map->instances, n);
}

/* Decodes the body of a MAP from 'r' into 'map'. */
static enum agp_error
agp_decode_map__(struct agp_reader *r, struct agp_map *map)
{
    enum agp_error error;
    uint32_t n_buckets;
    uint16_t n_instances;

    error = agp_get_u64__(r, &map->epoch);
    if (!error && !map->epoch) {
        error = AGP_E_VALUE;
    }
    if (!error) {
        error = agp_get_string__(r, true, &map->service);
    }
    if (!error) {
        error = agp_get_u32__(r, &n_buckets);
    }
    if (!error && !agp_is_n_buckets__(n_buckets)) {
        error = AGP_E_N_BUCKETS;
    }
    if (!error) {
        error = agp_get_u16__(r, &n_instances);
    }
    if (!error) {
        error = agp_decode_instances__(r, n_instances, map);
    }
    if (error) {
        return error;
    }

    /* 'n_buckets' is at most AGP_MAX_BUCKETS: no overflow. */
    if (r->left < (size_t) n_buckets * AGP_BUCKET_LEN) {
        return AGP_E_TRUNCATED;
    }
    map->buckets = xmalloc(n_buckets * sizeof *map->buckets);
    map->n_buckets = n_buckets;
    for (size_t b = 0; b < n_buckets; b++) {
        struct agp_bucket *bucket = &map->buckets[b];

        agp_get_u16__(r, &bucket->primary);
        agp_get_u16__(r, &bucket->secondary);
        agp_get_u16__(r, &bucket->next);
        error = agp_check_bucket__(bucket, map->n_instances);
        if (error) {
            return error;
        }
    }
    return AGP_OK;
}

/* Decodes the body of a HEARTBEAT from 'r' into 'hb'. */
static enum agp_error
agp_decode_heartbeat__(struct agp_reader *r, struct agp_heartbeat *hb)
{
    enum agp_error error;
    uint32_t n_buckets;
    const uint8_t *bitmap;
    size_t len;

    error = agp_get_u64__(r, &hb->epoch);
    if (!error) {
        error = agp_get_u32__(r, &n_buckets);
    }
    if (!error) {
        error = agp_check_heartbeat_size__(hb->epoch, n_buckets);
    }
    if (error) {
        return error;
    }

    len = agp_bitmap_len(n_buckets);
    error = agp_get__(r, len, &bitmap);
    if (!error) {
        error = agp_check_bitmap__(bitmap, n_buckets);
    }
    if (!error) {
        hb->n_buckets = n_buckets;
        hb->warm = len ? xmemdup(bitmap, len) : NULL;
        error = agp_get_u64__(r, &hb->n_received);
    }
    if (!error) {
        error = agp_get_u64__(r, &hb->n_returned);
    }
    if (!error) {
        error = agp_get_u64__(r, &hb->n_dropped);
    }
    return error;
}

/* Consumes a record of a STATE_UPDATE of 'r' into '*rec', pointing
 * 'rec->state' into the frame. */
static enum agp_error
agp_get_record__(struct agp_reader *r, struct agp_record *rec)
{
    enum agp_error error;

    error = agp_get_u32__(r, &rec->bucket);
    if (!error) {
        error = agp_get_key__(r, &rec->key);
    }
    if (!error) {
        error = agp_get_u64__(r, &rec->version.epoch);
    }
    if (!error) {
        error = agp_get_u64__(r, &rec->version.count);
    }
    if (!error) {
        error = agp_get_u16__(r, &rec->state_len);
    }
    if (!error) {
        error = agp_check_record__(rec);
    }
    if (!error) {
        error = agp_get__(r, rec->state_len, &rec->state);
    }
    return error;
}

/* Decodes the body of a STATE_UPDATE from 'r' into 'up'.  The records are
 * checked in a first pass, which also sums their states' lengths, so that
 * the records and copies of their states fit in one allocation, made only
 * for a valid body. */
static enum agp_error
agp_decode_state_update__(struct agp_reader *r, struct agp_state_update *up)
{
    struct agp_record rec;
    struct agp_reader first;
    enum agp_error error;
    size_t total = 0;
    uint8_t *states;
    uint32_t n;

    error = agp_get_string__(r, true, &up->sender);
    if (!error) {
        error = agp_get_u64__(r, &up->seq);
    }
    if (!error && !up->seq) {
        error = AGP_E_VALUE;
    }
    if (!error) {
        error = agp_get_u32__(r, &n);
    }
    if (!error && n > r->left / AGP_RECORD_MIN_LEN) {
        error = AGP_E_COUNT;
    }
    if (error || !n) {
        return error;
    }

    first = *r;
    for (size_t i = 0; i < n; i++) {
        error = agp_get_record__(&first, &rec);
        if (error) {
            return error;
        }
        total += rec.state_len;
    }

    up->records = xmalloc(n * sizeof *up->records + total);
    up->n_records = n;
    states = (uint8_t *) (up->records + n);
    for (size_t i = 0; i < n; i++) {
        /* The first pass checked every record: this cannot fail. */
        agp_get_record__(r, &rec);
        memcpy(states, rec.state, rec.state_len);
        rec.state = states;
        states += rec.state_len;
        up->records[i] = rec;
    }
    return AGP_OK;
}

/* Decodes a bucket number of 'r' into '*bucket'. */
static enum agp_error
agp_get_bucket__(struct agp_reader *r, uint32_t *bucket)
{
    enum agp_error error = agp_get_u32__(r, bucket);

    return !error && *bucket >= AGP_MAX_BUCKETS ? AGP_E_BUCKET : error;
}

/* Decodes the body of a message of type 'msg->type' from 'r' into 'msg'. */
static enum agp_error
agp_decode_body__(struct agp_reader *r, struct agp_msg *msg)
{
    enum agp_error error;

    switch (msg->type) {
    case AGP_HELLO:
        return agp_decode_hello__(r, &msg->hello);
    case AGP_HELLO_ACK:
        return agp_decode_hello_ack__(r, &msg->hello_ack);
    case AGP_MAP:
        return agp_decode_map__(r, &msg->map);
    case AGP_HEARTBEAT:
        return agp_decode_heartbeat__(r, &msg->heartbeat);
    case AGP_STATE_UPDATE:
        return agp_decode_state_update__(r, &msg->state_update);
    case AGP_STATE_ACK:
        error = agp_get_u64__(r, &msg->state_ack.seq);
        return !error && !msg->state_ack.seq ? AGP_E_VALUE : error;
    case AGP_BULK_BEGIN:
        error = agp_get_bucket__(r, &msg->bulk_begin.bucket);
        return error ? error : agp_get_u64__(r, &msg->bulk_begin.watermark);
    case AGP_BULK_END:
        error = agp_get_bucket__(r, &msg->bulk_end.bucket);
        return error ? error : agp_get_u32__(r, &msg->bulk_end.count);
    case AGP_CLAIM:
        return agp_get_bucket__(r, &msg->claim.bucket);
    case AGP_RELEASE:
        return agp_get_bucket__(r, &msg->release.bucket);
    }
    return AGP_E_TYPE;
}

/* Decodes the frame of 'size' bytes at 'frame', a whole frame as
 * agp_frame_check() delimits it, into '*msg'.  Checks every field against
 * the rules of docs/agent-protocol.md, and that the frame ends exactly after
 * the last field.
 *
 * Returns 0 on success: '*msg' then owns copies of every string, array and
 * state, independent of 'frame', and must be freed with agp_msg_uninit().
 * Returns an error otherwise, with '*msg' holding nothing to free (calling
 * agp_msg_uninit() on it is harmless).  AGP_E_TYPE means a frame of a type
 * this version does not know: the caller decides whether to skip it or to
 * disconnect. */
enum agp_error
agp_decode(const void *frame, size_t size, struct agp_msg *msg)
{
    const uint8_t *p = frame;
    struct agp_reader r;
    enum agp_error error;

    memset(msg, 0, sizeof *msg);
    if (size < AGP_HEADER_LEN) {
        return AGP_E_SHORT;
    }
    if (memcmp(p, AGP_MAGIC, 4)) {
        return AGP_E_MAGIC;
    }
    if (p[AGP_OFS_VERSION] != AGP_VERSION
        && p[AGP_OFS_VERSION] != AGP_HELLO_VERSION) {
        return AGP_E_VERSION;
    }
    if (agp_be32__(p + AGP_OFS_LENGTH) != size || size > AGP_MAX_LEN) {
        return AGP_E_LENGTH;
    }
    if (p[AGP_OFS_TYPE] < AGP_HELLO || p[AGP_OFS_TYPE] > AGP_RELEASE) {
        return AGP_E_TYPE;
    }
    if (agp_be16__(p + AGP_OFS_FLAGS)) {
        return AGP_E_FLAGS;
    }
    if (p[AGP_OFS_VERSION] != agp_frame_version__(p[AGP_OFS_TYPE])) {
        /* A version-1 frame of a later type (an older peer's), or a HELLO
         * framed otherwise than every version frames it. */
        return AGP_E_VERSION;
    }

    msg->type = p[AGP_OFS_TYPE];
    msg->xid = agp_be32__(p + AGP_OFS_XID);
    r.p = p + AGP_HEADER_LEN;
    r.left = size - AGP_HEADER_LEN;
    error = agp_decode_body__(&r, msg);
    if (!error && r.left) {
        error = AGP_E_TRAILING;
    }
    if (error) {
        agp_msg_uninit(msg);
    }
    return error;
}

/* Frees what agp_decode() allocated for 'msg', and clears its body.  Only
 * for a message that agp_decode() filled in, successfully or not. */
void
agp_msg_uninit(struct agp_msg *msg)
{
    enum agp_type type = msg->type;
    uint32_t xid = msg->xid;

    switch (msg->type) {
    case AGP_HELLO:
        free(CONST_CAST(char *, msg->hello.instance));
        free(CONST_CAST(char *, msg->hello.service));
        break;
    case AGP_HELLO_ACK:
        free(CONST_CAST(char *, msg->hello_ack.reason));
        break;
    case AGP_MAP:
        free(CONST_CAST(char *, msg->map.service));
        for (size_t i = 0; i < msg->map.n_instances; i++) {
            free(CONST_CAST(char *, msg->map.instances[i].name));
        }
        free(msg->map.instances);
        free(msg->map.buckets);
        break;
    case AGP_HEARTBEAT:
        free(CONST_CAST(uint8_t *, msg->heartbeat.warm));
        break;
    case AGP_STATE_UPDATE:
        free(CONST_CAST(char *, msg->state_update.sender));
        free(msg->state_update.records);
        break;
    case AGP_STATE_ACK:
    case AGP_BULK_BEGIN:
    case AGP_BULK_END:
    case AGP_CLAIM:
    case AGP_RELEASE:
        break;
    }
    memset(msg, 0, sizeof *msg);
    msg->type = type;
    msg->xid = xid;
}

/* Encoding. */

/* Appends 'value' to 'b' in 1 byte. */
static void
agp_put_u8__(struct ofpbuf *b, uint8_t value)
{
    ofpbuf_put(b, &value, 1);
}

/* Appends 'value' to 'b' in 2 bytes. */
static void
agp_put_u16__(struct ofpbuf *b, uint16_t value)
{
    put_unaligned_be16(ofpbuf_put_uninit(b, 2), htons(value));
}

/* Appends 'value' to 'b' in 4 bytes. */
static void
agp_put_u32__(struct ofpbuf *b, uint32_t value)
{
    agp_set_be32__(ofpbuf_put_uninit(b, 4), value);
}

/* Appends 'value' to 'b' in 8 bytes. */
static void
agp_put_u64__(struct ofpbuf *b, uint64_t value)
{
    put_unaligned_be64(ofpbuf_put_uninit(b, 8), htonll(value));
}

/* Checks the string 's' (NULL counts as "", and must then not be a name if
 * 'is_name'), and appends it to 'b' if it is valid. */
static enum agp_error
agp_put_string__(struct ofpbuf *b, const char *s, bool is_name)
{
    size_t len = s ? strlen(s) : 0;
    enum agp_error error = agp_check_string__(s, len, is_name);

    if (!error) {
        agp_put_u16__(b, len);
        if (len) {
            ofpbuf_put(b, s, len);
        }
    }
    return error;
}

/* Appends to 'b' a header of type 'type' and xid 'xid', its length 0 until
 * agp_finish__() sets it, and returns its offset in 'b'. */
static size_t
agp_put_header__(struct ofpbuf *b, enum agp_type type, uint32_t xid)
{
    size_t start = b->size;

    ofpbuf_put(b, AGP_MAGIC, 4);
    agp_put_u8__(b, agp_frame_version__(type));
    agp_put_u8__(b, type);
    agp_put_u16__(b, 0);
    agp_put_u32__(b, 0);
    agp_put_u32__(b, xid);
    return start;
}

/* Sets the length of the frame at offset 'start' of 'b', which ends at the
 * end of 'b'.  If the frame exceeds AGP_MAX_LEN, removes it from 'b' and
 * returns AGP_E_TOO_LONG. */
static enum agp_error
agp_finish__(struct ofpbuf *b, size_t start)
{
    size_t len = b->size - start;

    if (len > AGP_MAX_LEN) {
        b->size = start;
        return AGP_E_TOO_LONG;
    }
    agp_set_be32__(ofpbuf_at_assert(b, start + AGP_OFS_LENGTH, 4), len);
    return AGP_OK;
}

/* Appends the body of HELLO 'h' to 'b'. */
static enum agp_error
agp_encode_hello__(struct ofpbuf *b, const struct agp_hello *h)
{
    enum agp_error error = agp_check_versions__(h->versions);

    if (!error && !h->repl_port) {
        error = AGP_E_VALUE;
    }
    if (!error) {
        agp_put_u32__(b, h->versions);
        agp_put_u32__(b, h->repl_addr);
        agp_put_u16__(b, h->repl_port);
        error = agp_put_string__(b, h->instance, true);
    }
    if (!error) {
        error = agp_put_string__(b, h->service, true);
    }
    return error;
}

/* Appends the body of HELLO_ACK 'ack' to 'b'. */
static enum agp_error
agp_encode_hello_ack__(struct ofpbuf *b, const struct agp_hello_ack *ack)
{
    size_t len = ack->reason ? strlen(ack->reason) : 0;
    enum agp_error error = agp_check_hello_ack__(ack->version, len);

    if (!error) {
        agp_put_u8__(b, ack->version);
        error = agp_put_string__(b, ack->reason, false);
    }
    return error;
}

/* Returns the length of the body of MAP 'map', which has passed the checks
 * of agp_encode_map__() but those of its strings. */
static size_t
agp_map_len__(const struct agp_map *map)
{
    size_t len = 8 + 2 + (map->service ? strlen(map->service) : 0) + 4 + 2;

    for (size_t i = 0; i < map->n_instances; i++) {
        const char *name = map->instances[i].name;

        len += 2 + (name ? strlen(name) : 0) + 4 + 2;
    }
    return len + map->n_buckets * AGP_BUCKET_LEN;
}

/* Appends the body of MAP 'map' to 'b', whose frame starts at 'start'. */
static enum agp_error
agp_encode_map__(struct ofpbuf *b, size_t start, const struct agp_map *map)
{
    enum agp_error error;
    size_t len;

    if (!map->epoch) {
        return AGP_E_VALUE;
    }
    if (!agp_is_n_buckets__(map->n_buckets)) {
        return AGP_E_N_BUCKETS;
    }
    if (map->n_instances > AGP_MAX_INSTANCES) {
        return AGP_E_COUNT;
    }
    for (size_t i = 0; i < map->n_buckets; i++) {
        error = agp_check_bucket__(&map->buckets[i], map->n_instances);
        if (error) {
            return error;
        }
    }
    error = agp_check_unique__(map->instances, map->n_instances);
    if (error) {
        return error;
    }

    /* Known too long before a byte is written; otherwise the buffer grows
     * once. */
    len = agp_map_len__(map);
    if (len > AGP_MAX_LEN - (b->size - start)) {
        return AGP_E_TOO_LONG;
    }
    ofpbuf_prealloc_tailroom(b, len);

    agp_put_u64__(b, map->epoch);
    error = agp_put_string__(b, map->service, true);
    if (error) {
        return error;
    }
    agp_put_u32__(b, map->n_buckets);
    agp_put_u16__(b, map->n_instances);
    for (size_t i = 0; i < map->n_instances; i++) {
        const struct agp_instance *inst = &map->instances[i];

        error = agp_put_string__(b, inst->name, true);
        if (error) {
            return error;
        }
        agp_put_u32__(b, inst->repl_addr);
        agp_put_u16__(b, inst->repl_port);
    }
    for (size_t i = 0; i < map->n_buckets; i++) {
        agp_put_u16__(b, map->buckets[i].primary);
        agp_put_u16__(b, map->buckets[i].secondary);
        agp_put_u16__(b, map->buckets[i].next);
    }
    return AGP_OK;
}

/* Appends the body of HEARTBEAT 'hb' to 'b'. */
static enum agp_error
agp_encode_heartbeat__(struct ofpbuf *b, const struct agp_heartbeat *hb)
{
    enum agp_error error;

    error = agp_check_heartbeat_size__(hb->epoch, hb->n_buckets);
    if (!error && hb->n_buckets) {
        error = agp_check_bitmap__(hb->warm, hb->n_buckets);
    }
    if (error) {
        return error;
    }

    agp_put_u64__(b, hb->epoch);
    agp_put_u32__(b, hb->n_buckets);
    if (hb->n_buckets) {
        ofpbuf_put(b, hb->warm, agp_bitmap_len(hb->n_buckets));
    }
    agp_put_u64__(b, hb->n_received);
    agp_put_u64__(b, hb->n_returned);
    agp_put_u64__(b, hb->n_dropped);
    return AGP_OK;
}

/* Appends the body of 'msg' to 'b', whose frame starts at 'start'. */
static enum agp_error
agp_encode_body__(struct ofpbuf *b, size_t start, const struct agp_msg *msg)
{
    switch (msg->type) {
    case AGP_HELLO:
        return agp_encode_hello__(b, &msg->hello);
    case AGP_HELLO_ACK:
        return agp_encode_hello_ack__(b, &msg->hello_ack);
    case AGP_MAP:
        return agp_encode_map__(b, start, &msg->map);
    case AGP_HEARTBEAT:
        return agp_encode_heartbeat__(b, &msg->heartbeat);
    case AGP_STATE_ACK:
        if (!msg->state_ack.seq) {
            return AGP_E_VALUE;
        }
        agp_put_u64__(b, msg->state_ack.seq);
        return AGP_OK;
    case AGP_BULK_BEGIN:
        if (msg->bulk_begin.bucket >= AGP_MAX_BUCKETS) {
            return AGP_E_BUCKET;
        }
        agp_put_u32__(b, msg->bulk_begin.bucket);
        agp_put_u64__(b, msg->bulk_begin.watermark);
        return AGP_OK;
    case AGP_BULK_END:
        if (msg->bulk_end.bucket >= AGP_MAX_BUCKETS) {
            return AGP_E_BUCKET;
        }
        agp_put_u32__(b, msg->bulk_end.bucket);
        agp_put_u32__(b, msg->bulk_end.count);
        return AGP_OK;
    case AGP_CLAIM:
    case AGP_RELEASE:
        /* The two bodies are the same. */
        BUILD_ASSERT(sizeof msg->claim == sizeof msg->release);
        if (msg->claim.bucket >= AGP_MAX_BUCKETS) {
            return AGP_E_BUCKET;
        }
        agp_put_u32__(b, msg->claim.bucket);
        return AGP_OK;
    case AGP_STATE_UPDATE:
        /* agp_encode() builds it with agp_batch_*(). */
        break;
    }
    return AGP_E_TYPE;
}

/* Appends 'msg' as a STATE_UPDATE to 'b'. */
static enum agp_error
agp_encode_state_update__(struct ofpbuf *b, const struct agp_msg *msg)
{
    const struct agp_state_update *up = &msg->state_update;
    struct agp_batch batch;
    enum agp_error error;

    error = agp_batch_begin(&batch, b, msg->xid, up->sender, up->seq);
    for (size_t i = 0; !error && i < up->n_records; i++) {
        error = agp_batch_add(&batch, b, &up->records[i]);
    }
    if (!error) {
        agp_batch_end(&batch, b);
    }
    return error;
}

/* Appends 'msg', header and body, to 'b'.  Checks it by the same rules as
 * agp_decode(), so that what is sent decodes.  Returns 0 on success;
 * otherwise an error, and 'b' is as it was. */
enum agp_error
agp_encode(const struct agp_msg *msg, struct ofpbuf *b)
{
    size_t start = b->size;
    enum agp_error error;

    if (msg->type == AGP_STATE_UPDATE) {
        error = agp_encode_state_update__(b, msg);
    } else {
        agp_put_header__(b, msg->type, msg->xid);
        error = agp_encode_body__(b, start, msg);
        if (!error) {
            error = agp_finish__(b, start);
        }
    }
    if (error) {
        b->size = start;
    }
    return error;
}

/* Starts in 'batch' a STATE_UPDATE with xid 'xid', from the instance named
 * 'sender', with sequence number 'seq', at the end of 'b'.  Returns 0, or
 * an error (an empty or bad 'sender', 'seq' 0) with nothing appended.  Add
 * records with agp_batch_add() and close it with agp_batch_end(); nothing
 * else may be appended to 'b' in between. */
enum agp_error
agp_batch_begin(struct agp_batch *batch, struct ofpbuf *b, uint32_t xid,
                const char *sender, uint64_t seq)
{
    size_t len = sender ? strlen(sender) : 0;
    enum agp_error error = agp_check_string__(sender, len, true);

    if (!error && !seq) {
        error = AGP_E_VALUE;
    }
    if (error) {
        return error;
    }

    batch->start = agp_put_header__(b, AGP_STATE_UPDATE, xid);
    agp_put_string__(b, sender, true);
    agp_put_u64__(b, seq);
    batch->count_ofs = b->size;
    agp_put_u32__(b, 0);
    batch->n_records = 0;
    return AGP_OK;
}

/* Appends 'rec' to the STATE_UPDATE being built in 'batch' at the end of
 * 'b'.  Returns 0, or an error with nothing appended: AGP_E_TOO_LONG if the
 * frame would exceed AGP_MAX_LEN (end the batch and add 'rec' to the next
 * one), or what is wrong with 'rec'. */
enum agp_error
agp_batch_add(struct agp_batch *batch, struct ofpbuf *b,
              const struct agp_record *rec)
{
    enum agp_error error = agp_check_record__(rec);
    const struct agp_stream_key *key = &rec->key;
    size_t len;

    if (error) {
        return error;
    }
    len = AGP_RECORD_MIN_LEN + rec->state_len;
    if (b->size - batch->start + len > AGP_MAX_LEN) {
        return AGP_E_TOO_LONG;
    }

    /* OVS's ofpbuf grows by what is asked, which would make a batch of
     * many records quadratic: grow it geometrically. */
    if (ofpbuf_tailroom(b) < len) {
        ofpbuf_prealloc_tailroom(b, MAX(len, b->size));
    }

    agp_put_u32__(b, rec->bucket);
    agp_put_u32__(b, key->lower_addr);
    agp_put_u32__(b, key->higher_addr);
    agp_put_u16__(b, key->lower_port);
    agp_put_u16__(b, key->higher_port);
    agp_put_u8__(b, key->proto);
    agp_put_u64__(b, rec->version.epoch);
    agp_put_u64__(b, rec->version.count);
    agp_put_u16__(b, rec->state_len);
    if (rec->state_len) {
        ofpbuf_put(b, rec->state, rec->state_len);
    }
    batch->n_records++;
    return AGP_OK;
}

/* Completes the STATE_UPDATE built in 'batch' at the end of 'b': sets its
 * record count and length.  The frame then ends at the end of 'b'. */
void
agp_batch_end(struct agp_batch *batch, struct ofpbuf *b)
{
    agp_set_be32__(ofpbuf_at_assert(b, batch->count_ofs, 4),
                   batch->n_records);
    /* agp_batch_add() kept the frame within AGP_MAX_LEN. */
    agp_finish__(b, batch->start);
}

/* Comparing. */

/* Returns true if strings 'a' and 'b' are equal, NULL counting as "". */
static bool
agp_str_equal__(const char *a, const char *b)
{
    return !strcmp(a ? a : "", b ? b : "");
}

/* Returns true if the 'n' bytes at 'a' and 'b' are equal.  Either may be
 * NULL if 'n' is 0. */
static bool
agp_bytes_equal__(const void *a, const void *b, size_t n)
{
    return !n || !memcmp(a, b, n);
}

/* Returns true if maps 'a' and 'b' are equal. */
static bool
agp_map_equal__(const struct agp_map *a, const struct agp_map *b)
{
    if (a->epoch != b->epoch || !agp_str_equal__(a->service, b->service)
        || a->n_buckets != b->n_buckets
        || a->n_instances != b->n_instances) {
        return false;
    }
    for (size_t i = 0; i < a->n_instances; i++) {
        const struct agp_instance *x = &a->instances[i];
        const struct agp_instance *y = &b->instances[i];

        if (!agp_str_equal__(x->name, y->name)
            || x->repl_addr != y->repl_addr || x->repl_port != y->repl_port) {
            return false;
        }
    }
    for (size_t i = 0; i < a->n_buckets; i++) {
        if (a->buckets[i].primary != b->buckets[i].primary
            || a->buckets[i].secondary != b->buckets[i].secondary
            || a->buckets[i].next != b->buckets[i].next) {
            return false;
        }
    }
    return true;
}

/* Returns true if stream keys 'a' and 'b' are equal. */
static bool
agp_key_equal__(const struct agp_stream_key *a,
                const struct agp_stream_key *b)
{
    return (a->lower_addr == b->lower_addr
            && a->higher_addr == b->higher_addr
            && a->lower_port == b->lower_port
            && a->higher_port == b->higher_port
            && a->proto == b->proto);
}

/* Returns true if state updates 'a' and 'b' are equal. */
static bool
agp_state_update_equal__(const struct agp_state_update *a,
                         const struct agp_state_update *b)
{
    if (!agp_str_equal__(a->sender, b->sender) || a->seq != b->seq
        || a->n_records != b->n_records) {
        return false;
    }
    for (size_t i = 0; i < a->n_records; i++) {
        const struct agp_record *x = &a->records[i];
        const struct agp_record *y = &b->records[i];

        if (x->bucket != y->bucket || !agp_key_equal__(&x->key, &y->key)
            || x->version.epoch != y->version.epoch
            || x->version.count != y->version.count
            || x->state_len != y->state_len
            || !agp_bytes_equal__(x->state, y->state, x->state_len)) {
            return false;
        }
    }
    return true;
}

/* Returns true if messages 'a' and 'b' have the same type, xid and
 * contents (strings and arrays compared by value). */
bool
agp_msg_equal(const struct agp_msg *a, const struct agp_msg *b)
{
    if (a->type != b->type || a->xid != b->xid) {
        return false;
    }
    switch (a->type) {
    case AGP_HELLO:
        return (a->hello.versions == b->hello.versions
                && a->hello.repl_addr == b->hello.repl_addr
                && a->hello.repl_port == b->hello.repl_port
                && agp_str_equal__(a->hello.instance, b->hello.instance)
                && agp_str_equal__(a->hello.service, b->hello.service));
    case AGP_HELLO_ACK:
        return (a->hello_ack.version == b->hello_ack.version
                && agp_str_equal__(a->hello_ack.reason,
                                   b->hello_ack.reason));
    case AGP_MAP:
        return agp_map_equal__(&a->map, &b->map);
    case AGP_HEARTBEAT:
        return (a->heartbeat.epoch == b->heartbeat.epoch
                && a->heartbeat.n_buckets == b->heartbeat.n_buckets
                && agp_bytes_equal__(a->heartbeat.warm, b->heartbeat.warm,
                                     agp_bitmap_len(a->heartbeat.n_buckets))
                && a->heartbeat.n_received == b->heartbeat.n_received
                && a->heartbeat.n_returned == b->heartbeat.n_returned
                && a->heartbeat.n_dropped == b->heartbeat.n_dropped);
    case AGP_STATE_UPDATE:
        return agp_state_update_equal__(&a->state_update, &b->state_update);
    case AGP_STATE_ACK:
        return a->state_ack.seq == b->state_ack.seq;
    case AGP_BULK_BEGIN:
        return (a->bulk_begin.bucket == b->bulk_begin.bucket
                && a->bulk_begin.watermark == b->bulk_begin.watermark);
    case AGP_BULK_END:
        return (a->bulk_end.bucket == b->bulk_end.bucket
                && a->bulk_end.count == b->bulk_end.count);
    case AGP_CLAIM:
        return a->claim.bucket == b->claim.bucket;
    case AGP_RELEASE:
        return a->release.bucket == b->release.bucket;
    }
    return true;
}

/* Helpers. */

/* Returns the version to speak with a peer whose HELLO offered 'versions'
 * (bit v set: speaks version v): the highest that this module speaks too,
 * or 0 if there is none. */
uint8_t
agp_negotiate(uint32_t versions)
{
    return versions & (UINT32_C(1) << AGP_VERSION) ? AGP_VERSION : 0;
}

/* Initializes 'key' as the key of the stream between endpoints
 * ('addr_a', 'port_a') and ('addr_b', 'port_b') with IP protocol 'proto',
 * in either order: both directions of a stream get the same key. */
void
agp_stream_key_init(struct agp_stream_key *key,
                    uint32_t addr_a, uint16_t port_a,
                    uint32_t addr_b, uint16_t port_b, uint8_t proto)
{
    bool a_lower = (addr_a < addr_b
                    || (addr_a == addr_b && port_a <= port_b));

    key->lower_addr = a_lower ? addr_a : addr_b;
    key->lower_port = a_lower ? port_a : port_b;
    key->higher_addr = a_lower ? addr_b : addr_a;
    key->higher_port = a_lower ? port_b : port_a;
    key->proto = proto;
}

/* Sequence windows. */

/* Initializes 'window' with 'last' as the last number accepted (0 for a
 * fresh sender; a bulk transfer's watermark once it is applied) and its
 * counters at 0. */
void
agp_seq_window_init(struct agp_seq_window *window, uint64_t last)
{
    memset(window, 0, sizeof *window);
    window->last = last;
}

/* Tells whether the batch numbered 'seq' should be applied, given 'window',
 * and updates 'window': see the comment above struct agp_seq_window. */
enum agp_seq_verdict
agp_seq_accept(struct agp_seq_window *window, uint64_t seq)
{
    if (seq <= window->last) {
        window->n_duplicates++;
        return AGP_SEQ_DUPLICATE;
    }
    if (seq - window->last > 1) {
        window->n_gaps++;
        window->n_missing += seq - window->last - 1;
    }
    window->last = seq;
    window->n_accepted++;
    return AGP_SEQ_ACCEPT;
}

/* Returns the name of 'verdict' for logs. */
const char *
agp_seq_verdict_name(enum agp_seq_verdict verdict)
{
    switch (verdict) {
    case AGP_SEQ_ACCEPT:
        return "accept";
    case AGP_SEQ_DUPLICATE:
        return "duplicate";
    }
    return "unknown";
}
