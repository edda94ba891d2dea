/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef SFMESH_AGENTPROTO_H
#define SFMESH_AGENTPROTO_H 1

/* The agent protocols: the channel between each agent and the controller,
 * and state replication between agents.  Both use the same framing and the
 * same message set; docs/agent-protocol.md describes the wire format.
 *
 * Every frame starts with a 16-byte header:
 *
 *    0  magic     4 bytes  "SFMA"
 *    4  version   1 byte   AGP_VERSION (HELLO, HELLO_ACK: AGP_HELLO_VERSION)
 *    5  type      1 byte   enum agp_type
 *    6  flags     2 bytes  0 (a version-3 receiver rejects anything else)
 *    8  length    4 bytes  the whole frame, header included, 16 to 1 MiB
 *   12  xid       4 bytes  chosen by the sender; a HELLO_ACK or STATE_ACK
 *                          carries the xid of the message it answers
 *
 * followed by the body of the type.  Multi-byte integers are big-endian.
 * A string is a 16-bit length and that many bytes, at most 255, with no
 * NUL among them.  Nothing is padded or aligned.
 *
 * HELLO and HELLO_ACK always carry version 1 in the header, whatever the
 * versions spoken, so that any two versions can negotiate; later frames
 * carry the version chosen.  This module speaks version 3 only (version 1
 * had no versions in its STATE_UPDATE records, version 2 no next instance
 * in its MAP buckets; docs/agent-protocol.md says why they are not
 * kept).
 *
 * This module is pure: it finds frame boundaries in a byte stream
 * (agp_frame_check()), decodes a whole frame into a struct agp_msg
 * (agp_decode(), which validates every field and rejects anything its
 * encoder would not produce, so that decoding then encoding gives back the
 * same bytes), and encodes messages into a struct ofpbuf.  It does no I/O:
 * the transport (TCP now, TLS later) carries the frames unchanged. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ofpbuf;

#define AGP_MAGIC "SFMA"          /* First 4 bytes of every frame. */
#define AGP_VERSION 3             /* The version this module speaks. */
#define AGP_HELLO_VERSION 1       /* The version HELLO and HELLO_ACK are
                                   * framed with, whatever is spoken. */
#define AGP_HEADER_LEN 16         /* Bytes in a frame header. */
#define AGP_MAX_LEN (1024 * 1024) /* Longest frame, header included. */
#define AGP_MAX_STRING 255        /* Longest string, in bytes. */
#define AGP_MAX_STATE 1024        /* Longest stream state, in bytes. */
#define AGP_MAX_BUCKETS 65536     /* Most buckets in a service. */
#define AGP_MAX_INSTANCES 65535   /* Most instances in a MAP. */
#define AGP_NONE 0xffff           /* No instance, in a MAP's buckets. */

/* An agent that loses the controller tries to reconnect after
 * AGP_RECONNECT_MIN_MS, then twice as long after each failed attempt, but
 * never more than AGP_RECONNECT_MAX_MS apart: so a restarted controller
 * has heard from every live agent within AGP_RECONNECT_MAX_MS (and a
 * connection's set-up) of opening its listener.  A primary whose
 * replication connection to a peer fails waits the same way before it
 * tries again (a connection that worked and closed is tried again at
 * once).  libopenvswitch's reconnect is not used for either: it waits at
 * least a second between attempts, which a restarted controller's
 * heartbeat timeout and a restarted secondary's bulk transfer cannot
 * afford. */
#define AGP_RECONNECT_MIN_MS 100
#define AGP_RECONNECT_MAX_MS 1000

/* Of several controllers, one is active.  A standby controller answers a
 * HELLO with a refusal (a HELLO_ACK of version 0) whose reason begins with
 * AGP_STANDBY_REASON, e.g. "standby: controller c2 is not active", and
 * closes the channel: the agent then tries its next controller, and logs
 * the refusal as normal.  Any other refusal is an error. */
#define AGP_STANDBY_REASON "standby"

/* An agent that knows several controllers leaves the one it talks to if
 * that one does not answer its hello within AGP_HELLO_TIMEOUT_MS, or,
 * having accepted it, says nothing for AGP_SILENCE_MS (it answers every
 * heartbeat): a stopped controller, whose kernel still holds the
 * connection.  A controller that takes over gives the agents of the one
 * before AGP_TAKEOVER_WAIT_MS to find it (time for the one before to fall
 * silent, for one more attempt on it, and for a round's backoff) before
 * it counts the heartbeat timeout. */
#define AGP_HELLO_TIMEOUT_MS 1000
#define AGP_SILENCE_MS 1000
#define AGP_TAKEOVER_WAIT_MS \
    (AGP_SILENCE_MS + AGP_HELLO_TIMEOUT_MS + AGP_RECONNECT_MAX_MS)

/* Message types.  The value is the type byte on the wire. */
enum agp_type {
    AGP_HELLO = 1,              /* Agent -> controller: who I am. */
    AGP_HELLO_ACK = 2,          /* Controller -> agent: accepted or not. */
    AGP_MAP = 3,                /* Controller -> agent: the service map. */
    AGP_HEARTBEAT = 4,          /* Agent -> controller, every 100 ms; the
                                 * controller answers each with an empty
                                 * one (epoch 0, no counters). */
    AGP_STATE_UPDATE = 5,       /* Primary -> secondary (and a secondary's
                                 * own changes -> primary): states. */
    AGP_STATE_ACK = 6,          /* Receiver -> sender: received. */
    AGP_BULK_BEGIN = 7,         /* Primary -> secondary: bulk starts. */
    AGP_BULK_END = 8,           /* Primary -> secondary: bulk done. */
    AGP_CLAIM = 9,              /* Replication receiver -> sender: let me
                                 * process this bucket. */
    AGP_RELEASE = 10            /* Sender -> receiver: it is yours. */
};

/* Why a frame did not decode or a message could not be encoded.  0 is
 * success. */
enum agp_error {
    AGP_OK = 0,                 /* Success. */
    AGP_E_SHORT,                /* Fewer bytes than a header. */
    AGP_E_MAGIC,                /* The magic is not "SFMA". */
    AGP_E_VERSION,              /* A version this module does not speak. */
    AGP_E_LENGTH,               /* Length field out of range or not the
                                 * size of the frame. */
    AGP_E_FLAGS,                /* Flags other than 0. */
    AGP_E_TYPE,                 /* Unknown message type. */
    AGP_E_TRUNCATED,            /* A field runs past the end. */
    AGP_E_TRAILING,             /* Bytes after the last field. */
    AGP_E_STRING_LEN,           /* A string longer than AGP_MAX_STRING. */
    AGP_E_STRING_NUL,           /* A string with a NUL byte in it. */
    AGP_E_EMPTY_NAME,           /* A name that must not be empty is. */
    AGP_E_DUPLICATE,            /* Two instances of a MAP share a name. */
    AGP_E_COUNT,                /* A count claims more than the bytes. */
    AGP_E_N_BUCKETS,            /* Bucket count not a power of 2 in range. */
    AGP_E_BUCKET,               /* Bucket number >= AGP_MAX_BUCKETS. */
    AGP_E_BITMAP,               /* Bitmap bits set past the bucket count. */
    AGP_E_INDEX,                /* Bad instance index in a MAP bucket. */
    AGP_E_KEY,                  /* Stream key not in canonical order. */
    AGP_E_STATE_LEN,            /* State longer than AGP_MAX_STATE. */
    AGP_E_VALUE,                /* Another field out of its range. */
    AGP_E_TOO_LONG              /* Encoding would exceed AGP_MAX_LEN. */
};

const char *agp_error_name(enum agp_error);
const char *agp_type_name(enum agp_type);

/* Framing. */

/* What agp_frame_check() found at the head of a buffer.  Every status after
 * AGP_FRAME_NEED_MORE means the stream is corrupt: no later frame boundary
 * can be trusted, so the connection must be closed. */
enum agp_frame_status {
    AGP_FRAME_COMPLETE,         /* A whole frame is at the head. */
    AGP_FRAME_NEED_MORE,        /* The frame is not complete yet. */
    AGP_FRAME_BAD_MAGIC,        /* Not "SFMA": not this protocol. */
    AGP_FRAME_BAD_VERSION,      /* A version this module does not speak. */
    AGP_FRAME_BAD_LENGTH        /* Length below 16 or above AGP_MAX_LEN. */
};

enum agp_frame_status agp_frame_check(const void *data, size_t size,
                                      size_t *msg_len);
const char *agp_frame_status_name(enum agp_frame_status);

/* Message bodies.
 *
 * Addresses are IPv4 and ports TCP or UDP, both in host byte order.
 * Strings are NUL-terminated C strings.  An encoder takes a NULL string as
 * "". */

/* AGP_HELLO: the first message of an agent on the agent channel. */
struct agp_hello {
    uint32_t versions;          /* Bit v set: speaks version v.  Not 0;
                                 * bit 0 clear. */
    uint32_t repl_addr;         /* Replication listen address. */
    uint16_t repl_port;         /* Replication listen port, not 0. */
    const char *instance;       /* Instance name, not empty. */
    const char *service;        /* Service name, not empty. */
};

/* AGP_HELLO_ACK: the controller's answer to a HELLO. */
struct agp_hello_ack {
    uint8_t version;            /* Version chosen, 1 to 31; 0: refused. */
    const char *reason;         /* Why refused, not empty; "" if accepted. */
};

/* An instance in a MAP. */
struct agp_instance {
    const char *name;           /* Instance name, not empty, unique. */
    uint32_t repl_addr;         /* Replication address, 0 if unknown. */
    uint16_t repl_port;         /* Replication port, 0 if unknown. */
};

/* A bucket in a MAP. */
struct agp_bucket {
    uint16_t primary;           /* Instance index, or AGP_NONE. */
    uint16_t secondary;         /* Instance index, or AGP_NONE; AGP_NONE if
                                 * 'primary' is; never equal to it. */
    uint16_t next;              /* Instance index, or AGP_NONE: the instance
                                 * the primary also sends the bucket to,
                                 * which is to replace the secondary once
                                 * warm; AGP_NONE if 'primary' is; never
                                 * the primary nor the secondary. */
};

/* AGP_MAP: the service map of the agent's service. */
struct agp_map {
    uint64_t epoch;             /* Map epoch, at least 1. */
    const char *service;        /* Service name, not empty. */
    size_t n_buckets;           /* A power of 2, 1 to AGP_MAX_BUCKETS. */
    struct agp_instance *instances; /* Indexed by the buckets. */
    size_t n_instances;         /* 0 to AGP_MAX_INSTANCES. */
    struct agp_bucket *buckets; /* 'n_buckets' of them. */
};

/* AGP_HEARTBEAT: an agent's report, every 100 ms. */
struct agp_heartbeat {
    uint64_t epoch;             /* Newest map epoch applied, 0 for none. */
    size_t n_buckets;           /* That map's buckets; 0 iff 'epoch' is 0. */
    const uint8_t *warm;        /* agp_bitmap_len('n_buckets') bytes:
                                 * bucket b warm if agp_bitmap_get(). */
    uint64_t n_received;        /* Frames received, since the agent began. */
    uint64_t n_returned;        /* Frames sent back to the switch. */
    uint64_t n_dropped;         /* Frames dropped (malformed, no state). */
};

/* A stream, the same for both directions: (lower_addr, lower_port) is the
 * endpoint that compares lower, address first, then port, and
 * (higher_addr, higher_port) the other.  agp_stream_key_init() builds one;
 * the decoder rejects keys that are not in this order. */
struct agp_stream_key {
    uint32_t lower_addr;        /* Address of the lower endpoint. */
    uint32_t higher_addr;       /* Address of the higher endpoint. */
    uint16_t lower_port;        /* Port of the lower endpoint. */
    uint16_t higher_port;       /* Port of the higher endpoint. */
    uint8_t proto;              /* IP protocol number. */
};

/* The version of a stream's state: the map epoch of its newest change
 * made with a map's authority (0 for none), and the number of changes in
 * its history.  Of two states of a stream, the one with the higher epoch
 * is the newer, and at the same epoch the one with the higher count
 * (docs/agent.md, "Versions"). */
struct agp_version {
    uint64_t epoch;             /* Map epoch, or 0. */
    uint64_t count;             /* Changes, at least 1. */
};

/* The state of one stream, in a STATE_UPDATE. */
struct agp_record {
    uint32_t bucket;            /* Bucket, below AGP_MAX_BUCKETS. */
    struct agp_stream_key key;  /* The stream. */
    struct agp_version version; /* Of 'state'. */
    uint16_t state_len;         /* Bytes in 'state', 0 to AGP_MAX_STATE. */
    const uint8_t *state;       /* The whole state of the stream. */
};

/* AGP_STATE_UPDATE: a batch of stream states, between the instances of a
 * bucket.  A record replaces the whole state of its stream if its version
 * is newer than the receiver's. */
struct agp_state_update {
    const char *sender;         /* Sending instance's name, not empty. */
    uint64_t seq;               /* Batch sequence number, at least 1. */
    struct agp_record *records; /* 'n_records' records. */
    size_t n_records;           /* Number of records. */
};

/* AGP_STATE_ACK: the secondary has dealt with (applied, or ignored as
 * duplicates) every batch it received numbered up to 'seq'. */
struct agp_state_ack {
    uint64_t seq;               /* Sequence number acknowledged, >= 1. */
};

/* AGP_BULK_BEGIN: a bulk transfer of one bucket's streams starts. */
struct agp_bulk_begin {
    uint32_t bucket;            /* Bucket, below AGP_MAX_BUCKETS. */
    uint64_t watermark;         /* Primary's sequence number at the start. */
};

/* AGP_BULK_END: the bulk transfer of a bucket is complete. */
struct agp_bulk_end {
    uint32_t bucket;            /* Bucket, below AGP_MAX_BUCKETS. */
    uint32_t count;             /* Records of the bucket sent since the
                                 * BULK_BEGIN. */
};

/* AGP_CLAIM: the receiver of a replication connection asks its sender,
 * the other instance of a bucket's pair, for the bucket: frames of it
 * reached the receiver (agent/claim.h). */
struct agp_claim {
    uint32_t bucket;            /* Bucket, below AGP_MAX_BUCKETS. */
};

/* AGP_RELEASE: the answer to a CLAIM, on the same connection, after every
 * change of the bucket's streams that the sender had not yet sent. */
struct agp_release {
    uint32_t bucket;            /* Bucket, below AGP_MAX_BUCKETS. */
};

/* A message: its type, xid and body. */
struct agp_msg {
    enum agp_type type;         /* Selects the member of the union. */
    uint32_t xid;               /* The header's xid. */
    union {
        struct agp_hello hello;                 /* AGP_HELLO. */
        struct agp_hello_ack hello_ack;         /* AGP_HELLO_ACK. */
        struct agp_map map;                     /* AGP_MAP. */
        struct agp_heartbeat heartbeat;         /* AGP_HEARTBEAT. */
        struct agp_state_update state_update;   /* AGP_STATE_UPDATE. */
        struct agp_state_ack state_ack;         /* AGP_STATE_ACK. */
        struct agp_bulk_begin bulk_begin;       /* AGP_BULK_BEGIN. */
        struct agp_bulk_end bulk_end;           /* AGP_BULK_END. */
        struct agp_claim claim;                 /* AGP_CLAIM. */
        struct agp_release release;             /* AGP_RELEASE. */
    };
};

/* Decoding and encoding. */

enum agp_error agp_decode(const void *frame, size_t size, struct agp_msg *);
void agp_msg_uninit(struct agp_msg *);

enum agp_error agp_encode(const struct agp_msg *, struct ofpbuf *);
bool agp_msg_equal(const struct agp_msg *, const struct agp_msg *);

uint8_t agp_negotiate(uint32_t versions);

void agp_stream_key_init(struct agp_stream_key *,
                         uint32_t addr_a, uint16_t port_a,
                         uint32_t addr_b, uint16_t port_b, uint8_t proto);

/* Building a STATE_UPDATE one record at a time, as the records come:
 *
 *     struct agp_batch batch;
 *
 *     agp_batch_begin(&batch, buf, xid, "fw-1", seq);
 *     while (...) {
 *         if (agp_batch_add(&batch, buf, &record) == AGP_E_TOO_LONG) {
 *             ...end this batch, send it, begin the next...
 *         }
 *     }
 *     agp_batch_end(&batch, buf);
 */
struct agp_batch {
    size_t start;               /* Offset of the frame in the buffer. */
    size_t count_ofs;           /* Offset of the record count. */
    size_t n_records;           /* Records added so far. */
};

enum agp_error agp_batch_begin(struct agp_batch *, struct ofpbuf *,
                               uint32_t xid, const char *sender,
                               uint64_t seq);
enum agp_error agp_batch_add(struct agp_batch *, struct ofpbuf *,
                             const struct agp_record *);
void agp_batch_end(struct agp_batch *, struct ofpbuf *);

/* Bitmaps: bucket b is bit (b % 8) of byte (b / 8), the least significant
 * bit first. */

/* Returns the bytes in a bitmap of 'n_bits' bits. */
static inline size_t
agp_bitmap_len(size_t n_bits)
{
    return n_bits / 8 + (n_bits % 8 != 0);
}

/* Returns bit 'i' of 'bitmap'. */
static inline bool
agp_bitmap_get(const uint8_t *bitmap, size_t i)
{
    return (bitmap[i / 8] >> (i % 8)) & 1;
}

/* Sets bit 'i' of 'bitmap' to 'value'. */
static inline void
agp_bitmap_set(uint8_t *bitmap, size_t i, bool value)
{
    if (value) {
        bitmap[i / 8] |= 1u << (i % 8);
    } else {
        bitmap[i / 8] &= ~(1u << (i % 8));
    }
}

/* Sequence numbers on the receiving side of replication.
 *
 * A sender numbers the STATE_UPDATE batches it sends to one receiver 1, 2,
 * 3, ...  The receiver keeps one window per sender and passes each batch's
 * number to agp_seq_accept() before applying it:
 *
 *   - A number above the last accepted one is accepted, and becomes the
 *     last.  If it skips numbers (a gap: batches the sender never sent, or
 *     lost), it is still accepted, because every record carries the whole
 *     state of its stream and its version, so applying a newer batch is
 *     never wrong; the gap is counted, so that the agent can tell the
 *     streams of the missing batches may be stale until their next
 *     update.
 *
 *   - A number at or below the last accepted one is a duplicate (a resend,
 *     or an older batch arriving late) and must be ignored: applying it
 *     would replace newer states with older ones. */
enum agp_seq_verdict {
    AGP_SEQ_ACCEPT,             /* Apply the batch. */
    AGP_SEQ_DUPLICATE           /* Ignore the batch. */
};

/* The receiving side's view of one sender's sequence numbers. */
struct agp_seq_window {
    uint64_t last;              /* Last number accepted, 0 for none. */
    uint64_t n_accepted;        /* Batches accepted. */
    uint64_t n_duplicates;      /* Batches ignored as duplicates. */
    uint64_t n_gaps;            /* Accepted batches that skipped numbers. */
    uint64_t n_missing;         /* Numbers skipped, in all gaps. */
};

void agp_seq_window_init(struct agp_seq_window *, uint64_t last);
enum agp_seq_verdict agp_seq_accept(struct agp_seq_window *, uint64_t seq);
const char *agp_seq_verdict_name(enum agp_seq_verdict);

#endif /* agentproto.h */
