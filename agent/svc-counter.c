/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* "counter": packets and bytes (total IP length) of every stream, per
 * direction.  Every packet passes and changes the state, so the secondary
 * receives every update and its copy can be compared exactly with the
 * primary's.
 *
 * A stream is forgotten after idle_timeout seconds without packets (an
 * init() option "idle_timeout=seconds", default 300).  The last-seen time is
 * kept on this machine's clock and is not part of the blob: deserialize()
 * sets it to the time of the apply.  So the blob, and the format() output,
 * hold only the counters, and are equal on the primary and the secondary.
 *
 * The blob, 40 bytes, integers big-endian:
 *
 *    0  version       1
 *    1  reserved      7 bytes of 0
 *    8  packets       lower to higher endpoint
 *   16  packets       higher to lower endpoint
 *   24  bytes         lower to higher endpoint
 *   32  bytes         higher to lower endpoint */

#include <config.h>
#include "service.h"

#include <stdlib.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "util.h"

#define COUNTER_BLOB_VERSION 1
#define COUNTER_BLOB_SIZE 40

/* Directions, as indexes into the counters. */
#define COUNTER_LO_HI 0         /* From the lower endpoint to the higher. */
#define COUNTER_HI_LO 1         /* From the higher endpoint to the lower. */

/* Per-stream state. */
struct counter_state {
    uint64_t packets[2];        /* Packets, per direction. */
    uint64_t bytes[2];          /* Total IP bytes, per direction. */
    long long int last_seen;    /* Last packet or apply, local clock, ms. */
};
BUILD_ASSERT_DECL(sizeof(struct counter_state) <= SERVICE_STATE_MAX);

/* The service's configuration. */
struct counter {
    long long int idle_timeout; /* Idle timeout, ms. */
};

/* Parses the options in 'args' into a new counter service, stored in
 * '*counterp'.  Returns NULL or a malloc()ed error message. */
static char *
counter_init(void **counterp, const char *args)
{
    struct counter *counter = xzalloc(sizeof *counter);
    const struct service_option opts[] = {
        { "idle_timeout", &counter->idle_timeout, 1, 86400 * 7 },
    };
    char *error;

    *counterp = NULL;
    counter->idle_timeout = 300 * 1000;
    error = service_parse_options("counter", args, opts, ARRAY_SIZE(opts));
    if (error) {
        free(counter);
        return error;
    }
    *counterp = counter;
    return NULL;
}

/* Frees the counter service 'counter'. */
static void
counter_destroy(void *counter)
{
    free(counter);
}

/* Counts 'pkt' in the stream's 'state_' at 'now'.  'counter_' and 'is_new'
 * do not matter: a zero-filled state is a stream with no packets.  Always
 * sets '*changed' and passes. */
static enum service_verdict
counter_process(void *counter_ OVS_UNUSED, const struct service_pkt *pkt,
                void *state_, bool is_new OVS_UNUSED, long long int now,
                bool *changed)
{
    struct counter_state *st = state_;
    int dir = pkt->lo_to_hi ? COUNTER_LO_HI : COUNTER_HI_LO;

    st->packets[dir]++;
    st->bytes[dir] += pkt->ip_len;
    st->last_seen = now;
    *changed = true;
    return SERVICE_PASS;
}

/* Writes 'state_' as the 40-byte blob described above into 'buf'. */
static void
counter_serialize(const void *state_, uint8_t *buf)
{
    const struct counter_state *st = state_;

    memset(buf, 0, 8);
    buf[0] = COUNTER_BLOB_VERSION;
    service_put_be64(&buf[8], st->packets[COUNTER_LO_HI]);
    service_put_be64(&buf[16], st->packets[COUNTER_HI_LO]);
    service_put_be64(&buf[24], st->bytes[COUNTER_LO_HI]);
    service_put_be64(&buf[32], st->bytes[COUNTER_HI_LO]);
}

/* Reads the 'len'-byte blob 'buf' into 'state_', applied at 'now'.  Returns
 * NULL, or what is wrong with the blob. */
static const char *
counter_deserialize(const uint8_t *buf, size_t len, void *state_,
                    long long int now)
{
    struct counter_state *st = state_;

    if (len != COUNTER_BLOB_SIZE) {
        return "counter: blob has the wrong length";
    }
    if (buf[0] != COUNTER_BLOB_VERSION) {
        return "counter: unknown blob version";
    }
    for (int i = 1; i < 8; i++) {
        if (buf[i]) {
            return "counter: nonzero reserved bytes";
        }
    }
    st->packets[COUNTER_LO_HI] = service_get_be64(&buf[8]);
    st->packets[COUNTER_HI_LO] = service_get_be64(&buf[16]);
    st->bytes[COUNTER_LO_HI] = service_get_be64(&buf[24]);
    st->bytes[COUNTER_HI_LO] = service_get_be64(&buf[32]);
    st->last_seen = now;
    return NULL;
}

/* Returns true if the stream with 'state_' has had no packet (or apply) for
 * the idle timeout of 'counter_' at 'now'. */
static bool
counter_expired(const void *counter_, const void *state_, long long int now)
{
    const struct counter *counter = counter_;
    const struct counter_state *st = state_;

    return now - st->last_seen >= counter->idle_timeout;
}

/* Appends the counters of 'state_' to 'ds'. */
static void
counter_format(const void *state_, struct ds *ds)
{
    const struct counter_state *st = state_;

    ds_put_format(ds, "packets_lo_hi=%"PRIu64" packets_hi_lo=%"PRIu64
                  " bytes_lo_hi=%"PRIu64" bytes_hi_lo=%"PRIu64,
                  st->packets[COUNTER_LO_HI], st->packets[COUNTER_HI_LO],
                  st->bytes[COUNTER_LO_HI], st->bytes[COUNTER_HI_LO]);
}

const struct service_class counter_class = {
    .name = "counter",
    .state_size = sizeof(struct counter_state),
    .blob_size = COUNTER_BLOB_SIZE,
    .init = counter_init,
    .destroy = counter_destroy,
    .process = counter_process,
    .serialize = counter_serialize,
    .deserialize = counter_deserialize,
    .expired = counter_expired,
    .format = counter_format,
};
