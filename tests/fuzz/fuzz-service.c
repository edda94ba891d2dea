/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the services' state blobs (agent/service.h): what a
 * secondary applies when its primary replicates a stream, then the packets
 * that follow a failover.
 *
 * The input:
 *
 *    0  service       index into the built-in services (modulo)
 *    1  options       index into a few init() option strings (modulo)
 *    2  blob length   0: the service's blob_size; else this minus 1
 *    3  now           4 bytes, big-endian, ms: the time of the apply
 *    7  blob          the blob given to deserialize()
 *       packets       6 bytes each: protocol, TCP flags, direction,
 *                     IP length (2 bytes), time step
 *
 * Checked, for every service in the class table:
 *
 *  - A refused blob leaves the state untouched.
 *  - An accepted blob serializes to a blob that is accepted again and gives
 *    the same state (same bytes, same format() text), which serializes to
 *    the same blob; the new blob equals the original but for the bytes the
 *    service documents as the sender's clock.  A state just applied is not
 *    expired at the time of the apply.
 *  - After the packets, processed as the agent does (with a zero-filled
 *    state when there is none, kept only if process() says it changed):
 *    every kept state serializes to a blob that deserializes; a state that
 *    process() just reported changed is not expired; format() writes one
 *    line; the service's counters keep their number and only grow. */

#include <config.h>

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "service.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The most counters a service may have, for this target. */
#define MAX_COUNTERS 16

/* Bytes of a service's blob that deserialize() does not carry into the
 * state, as its blob layout documents. */
struct uncarried {
    const char *service;        /* Service name. */
    size_t ofs, len;            /* The bytes. */
};

static const struct uncarried uncarried[] = {
    { "stateful-fw", 8, 8 },    /* last_seen, the sender's clock. */
};

/* Option strings given to init(), the defaults first. */
static const char *const options[] = {
    NULL,
    "sync_interval=0",
    "established_timeout=2,transitory_timeout=1,udp_timeout=1,"
    "sync_interval=0",
    "idle_timeout=1",
};

/* Fills '*classes' with the built-in services, found through the class
 * table by the names service_names() lists.  Returns how many. */
static size_t
find_classes(const struct service_class **classes, size_t max)
{
    struct ds names = DS_EMPTY_INITIALIZER;
    char *save = NULL;
    size_t n = 0;

    service_names(&names);
    for (char *name = strtok_r(ds_cstr(&names), ", ", &save);
         name && n < max; name = strtok_r(NULL, ", ", &save)) {
        classes[n] = service_find(name);
        if (!classes[n]
            || classes[n]->state_size > SERVICE_STATE_MAX
            || classes[n]->blob_size > SERVICE_STATE_MAX) {
            abort();
        }
        n++;
    }
    ds_destroy(&names);
    return n;
}

/* Aborts unless 'a' and 'b', blobs of service 'svc', are equal but for the
 * bytes that 'svc' does not carry. */
static void
check_blobs_match(const struct service_class *svc, const uint8_t *a,
                  const uint8_t *b)
{
    size_t skip_ofs = 0, skip_len = 0;

    for (size_t i = 0; i < ARRAY_SIZE(uncarried); i++) {
        if (!strcmp(uncarried[i].service, svc->name)) {
            skip_ofs = uncarried[i].ofs;
            skip_len = uncarried[i].len;
        }
    }
    for (size_t i = 0; i < svc->blob_size; i++) {
        if ((i < skip_ofs || i >= skip_ofs + skip_len) && a[i] != b[i]) {
            abort();
        }
    }
}

/* Aborts unless format() of 'svc' describes 'state' on one line. */
static void
check_format(const struct service_class *svc, const void *state,
             struct ds *out)
{
    ds_clear(out);
    svc->format(state, out);
    if (strchr(ds_cstr(out), '\n')) {
        abort();
    }
}

/* Checks that 'state' of 'svc', applied or changed at 'now', survives
 * replication: its blob is accepted and gives the same state, whose blob is
 * the same again. */
static void
check_replicates(const struct service_class *svc, const void *state,
                 long long int now)
{
    uint64_t copy[SERVICE_STATE_MAX / 8], copy2[SERVICE_STATE_MAX / 8];
    uint8_t blob[SERVICE_STATE_MAX], blob2[SERVICE_STATE_MAX];
    struct ds a = DS_EMPTY_INITIALIZER, b = DS_EMPTY_INITIALIZER;

    svc->serialize(state, blob);
    memset(copy, 0x5a, sizeof copy);
    memset(copy2, 0x5a, sizeof copy2);
    if (svc->deserialize(blob, svc->blob_size, copy, now)
        || svc->deserialize(blob, svc->blob_size, copy2, now)
        || memcmp(copy, copy2, svc->state_size)) {
        abort();
    }
    svc->serialize(copy, blob2);
    check_blobs_match(svc, blob, blob2);
    memset(copy2, 0x5a, sizeof copy2);
    if (svc->deserialize(blob2, svc->blob_size, copy2, now)
        || memcmp(copy, copy2, svc->state_size)) {
        abort();
    }
    check_format(svc, copy, &a);
    check_format(svc, copy2, &b);
    if (strcmp(ds_cstr(&a), ds_cstr(&b))) {
        abort();
    }
    ds_destroy(&a);
    ds_destroy(&b);
}

/* Stores the counters of 'svc' with 'svc_data' in 'c', checking that their
 * number does not change.  Returns how many were stored. */
static size_t
get_counters(const struct service_class *svc, const void *svc_data,
             struct service_counter *c, size_t *np)
{
    size_t n;

    if (!svc->counters) {
        return 0;
    }
    n = svc->counters(svc_data, c, MAX_COUNTERS);
    if (n > MAX_COUNTERS || (*np != SIZE_MAX && n != *np)) {
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        if (!c[i].name) {
            abort();
        }
    }
    *np = n;
    return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct service_class *classes[16];
    static size_t n_classes;
    struct service_counter before[MAX_COUNTERS], after[MAX_COUNTERS];
    uint64_t state[SERVICE_STATE_MAX / 8], orig[SERVICE_STATE_MAX / 8];
    const struct service_class *svc;
    struct ds text = DS_EMPTY_INITIALIZER;
    size_t n_counters = SIZE_MAX;
    size_t blob_len;
    void *svc_data;
    long long int now;
    bool exists;
    char *error;

    if (!n_classes) {
        n_classes = find_classes(classes, ARRAY_SIZE(classes));
        if (!n_classes) {
            abort();
        }
    }
    if (size < 7) {
        return 0;
    }
    svc = classes[data[0] % n_classes];
    svc_data = NULL;
    if (svc->init) {
        error = svc->init(&svc_data, options[data[1] % ARRAY_SIZE(options)]);
        if (error) {
            /* An option of another service: the defaults, then. */
            free(error);
            error = svc->init(&svc_data, NULL);
            if (error) {
                abort();
            }
        }
    }
    blob_len = data[2] ? data[2] - 1 : svc->blob_size;
    now = ((long long int) data[3] << 24 | data[4] << 16 | data[5] << 8
           | data[6]);
    data += 7;
    size -= 7;
    blob_len = MIN(blob_len, size);

    /* The apply. */
    memset(state, 0xa5, sizeof state);
    memcpy(orig, state, sizeof orig);
    if (svc->deserialize(data, blob_len, state, now)) {
        if (memcmp(state, orig, sizeof state)) {
            abort();
        }
        exists = false;
        memset(state, 0, sizeof state);
    } else {
        uint8_t again[SERVICE_STATE_MAX];

        exists = true;
        if (svc->expired(svc_data, state, now)) {
            abort();
        }
        svc->serialize(state, again);
        check_blobs_match(svc, data, again);
        check_replicates(svc, state, now);
        check_format(svc, state, &text);
    }
    data += blob_len;
    size -= blob_len;

    /* The packets that follow. */
    get_counters(svc, svc_data, before, &n_counters);
    for (; size >= 6; data += 6, size -= 6) {
        static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP,
                                          IPPROTO_ICMP };
        struct service_pkt pkt;
        enum service_verdict verdict;
        bool changed = true;

        memset(&pkt, 0, sizeof pkt);
        pkt.proto = (data[0] < 3 * 80 ? protos[data[0] % 3] : data[0]);
        pkt.tcp_flags = pkt.proto == IPPROTO_TCP ? data[1] : 0;
        pkt.lo_to_hi = data[2] & 1;
        pkt.ip_len = data[3] << 8 | data[4];
        pkt.l4_len = pkt.ip_len >> 1;
        now += data[5] < 128 ? data[5] : (data[5] - 127) * 5000LL;

        if (!exists) {
            memset(state, 0, sizeof state);
        }
        verdict = svc->process(svc_data, &pkt, state, !exists, now,
                               &changed);
        if (verdict != SERVICE_PASS && verdict != SERVICE_DROP) {
            abort();
        }
        if (changed) {
            exists = true;
            if (svc->expired(svc_data, state, now)) {
                abort();
            }
        }
        if (exists) {
            check_replicates(svc, state, now);
            check_format(svc, state, &text);
            svc->expired(svc_data, state, now);
        }
        if (get_counters(svc, svc_data, after, &n_counters)) {
            for (size_t i = 0; i < n_counters; i++) {
                if (after[i].value < before[i].value
                    || strcmp(after[i].name, before[i].name)) {
                    abort();
                }
            }
            memcpy(before, after, sizeof before);
        }
    }

    ds_destroy(&text);
    if (svc->destroy) {
        svc->destroy(svc_data);
    }
    return 0;
}
