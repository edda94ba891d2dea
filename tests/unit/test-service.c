/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "service.h"
#include "util.h"
#include "tests.h"

#define SEC 1000LL              /* One second, in ms. */

/* A stream as the agent holds it: a state, once the service keeps one. */
struct stream {
    const struct service_class *svc; /* The service. */
    void *svc_data;             /* From the service's init(). */
    bool exists;                /* The agent holds a state. */
    uint64_t state[SERVICE_STATE_MAX / 8]; /* The state, if 'exists'. */
};

/* Initializes 'st' as a stream of service 'name' with options 'args', and
 * no state. */
static void
stream_init(struct stream *st, const char *name, const char *args)
{
    char *error;

    memset(st, 0, sizeof *st);
    st->svc = service_find(name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st->svc);
    CU_ASSERT_FATAL(st->svc->state_size <= SERVICE_STATE_MAX);
    CU_ASSERT_FATAL(st->svc->blob_size <= SERVICE_STATE_MAX);
    error = st->svc->init(&st->svc_data, args);
    CU_ASSERT_PTR_NULL_FATAL(error);
    CU_ASSERT_PTR_NOT_NULL_FATAL(st->svc_data);
}

/* Frees what 'st' holds. */
static void
stream_destroy(struct stream *st)
{
    st->svc->destroy(st->svc_data);
}

/* Runs the service of 'st' on a packet of protocol 'proto' going lower to
 * higher endpoint if 'lo_to_hi', with TCP 'flags' and IP length 'ip_len', at
 * 'now', as the agent would: with a zero-filled state if there is none,
 * which is kept only if the service says it changed.  Stores the changed
 * flag in '*changedp' if nonnull.  Returns the verdict. */
static enum service_verdict
stream_send(struct stream *st, uint8_t proto, bool lo_to_hi, uint16_t flags,
            uint16_t ip_len, long long int now, bool *changedp)
{
    struct service_pkt pkt = {
        .proto = proto,
        .lo_to_hi = lo_to_hi,
        .tcp_flags = flags,
        .l4_len = ip_len > 40 ? ip_len - 40 : 0,
        .ip_len = ip_len,
    };
    uint64_t scratch[SERVICE_STATE_MAX / 8];
    enum service_verdict verdict;
    bool changed = !st->exists;  /* The service must overwrite it. */

    if (st->exists) {
        verdict = st->svc->process(st->svc_data, &pkt, st->state, false, now,
                                   &changed);
    } else {
        memset(scratch, 0, sizeof scratch);
        verdict = st->svc->process(st->svc_data, &pkt, scratch, true, now,
                                   &changed);
        if (changed) {
            memcpy(st->state, scratch, st->svc->state_size);
            st->exists = true;
        }
    }
    if (changedp) {
        *changedp = changed;
    }
    return verdict;
}

/* Sends a TCP packet with 'flags' on 'st' and returns the verdict. */
static enum service_verdict
tcp(struct stream *st, bool lo_to_hi, uint16_t flags, long long int now)
{
    return stream_send(st, IPPROTO_TCP, lo_to_hi, flags, 60, now, NULL);
}

/* Returns the state of 'st' as the service formats it, in a buffer that the
 * next call overwrites. */
static const char *
stream_format(const struct stream *st)
{
    static struct ds ds = DS_EMPTY_INITIALIZER;

    ds_clear(&ds);
    st->svc->format(st->state, &ds);
    return ds_cstr(&ds);
}

/* Returns true if the formatted state of 'st' contains 'word'. */
static bool
stream_has(const struct stream *st, const char *word)
{
    return strstr(stream_format(st), word) != NULL;
}

/* Returns the value of the counter named 'name' of the service of 'st'. */
static uint64_t
svc_counter(const struct stream *st, const char *name)
{
    struct service_counter counters[16];
    size_t n = st->svc->counters(st->svc_data, counters, 16);

    CU_ASSERT_FATAL(n <= 16);
    for (size_t i = 0; i < n; i++) {
        if (!strcmp(counters[i].name, name)) {
            return counters[i].value;
        }
    }
    CU_FAIL("no such counter");
    return UINT64_MAX;
}

/* Makes 'copy' hold what the secondary holds after it applies, at 'now', the
 * state of 'primary', serialized.  'copy' must be initialized with its own
 * service data. */
static void
replicate(const struct stream *primary, struct stream *copy, long long int now)
{
    uint8_t blob[SERVICE_STATE_MAX];
    const char *error;

    CU_ASSERT_FATAL(primary->exists);
    primary->svc->serialize(primary->state, blob);
    memset(copy->state, 0, sizeof copy->state);
    error = copy->svc->deserialize(blob, primary->svc->blob_size,
                                   copy->state, now);
    CU_ASSERT_PTR_NULL_FATAL(error);
    copy->exists = true;
}

/* Runs a client (lower endpoint) to server handshake on 'st' from 'now'. */
static void
handshake(struct stream *st, long long int now)
{
    CU_ASSERT_EQUAL(tcp(st, true, TCP_SYN, now), SERVICE_PASS);
    CU_ASSERT_EQUAL(tcp(st, false, TCP_SYN | TCP_ACK, now + 1), SERVICE_PASS);
    CU_ASSERT_EQUAL(tcp(st, true, TCP_ACK, now + 2), SERVICE_PASS);
}

/* stateful-fw. */

static void
test_fw_syn_opens(void)
{
    struct stream st;
    bool changed;

    stream_init(&st, "stateful-fw", NULL);
    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, false, TCP_SYN, 60, 1000,
                                &changed), SERVICE_PASS);
    CU_ASSERT(changed);
    CU_ASSERT(st.exists);
    CU_ASSERT(stream_has(&st, "state=SYN_SENT"));
    CU_ASSERT(stream_has(&st, "client=hi"));

    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, true, TCP_SYN | TCP_ACK, 60,
                                1001, &changed), SERVICE_PASS);
    CU_ASSERT(changed);
    CU_ASSERT(stream_has(&st, "state=SYN_RECV"));
    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, false, TCP_ACK, 52, 1002,
                                &changed), SERVICE_PASS);
    CU_ASSERT(changed);
    CU_ASSERT(stream_has(&st, "state=ESTABLISHED"));

    /* Data both ways passes and is no change worth replicating. */
    for (int i = 0; i < 5; i++) {
        CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, i & 1,
                                    TCP_ACK | TCP_PSH, 100, 1003 + i,
                                    &changed), SERVICE_PASS);
        CU_ASSERT(!changed);
    }
    CU_ASSERT(stream_has(&st, "state=ESTABLISHED"));
    CU_ASSERT(stream_has(&st, "packets_lo_hi=3 packets_hi_lo=5"));
    CU_ASSERT(stream_has(&st, "bytes_lo_hi=260 bytes_hi_lo=412"));
    CU_ASSERT_EQUAL(svc_counter(&st, "drop_no_state"), 0);
    stream_destroy(&st);
}

static void
test_fw_no_state_dropped(void)
{
    static const uint16_t flags[] = {
        TCP_ACK, TCP_ACK | TCP_PSH, TCP_SYN | TCP_ACK, TCP_FIN | TCP_ACK,
        TCP_RST, 0,
    };
    struct stream st;
    bool changed;

    stream_init(&st, "stateful-fw", NULL);
    for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
        CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, i & 1, flags[i], 60,
                                    1000, &changed), SERVICE_DROP);
        CU_ASSERT(!changed);
        CU_ASSERT(!st.exists);
    }
    CU_ASSERT_EQUAL(svc_counter(&st, "drop_no_state"), ARRAY_SIZE(flags));
    CU_ASSERT_EQUAL(svc_counter(&st, "drop_bad_flags"), 0);

    /* A SYN with RST or FIN never passes, with or without state. */
    CU_ASSERT_EQUAL(tcp(&st, true, TCP_SYN | TCP_FIN, 1000), SERVICE_DROP);
    CU_ASSERT(!st.exists);
    handshake(&st, 2000);
    CU_ASSERT_EQUAL(tcp(&st, true, TCP_SYN | TCP_RST, 3000), SERVICE_DROP);
    CU_ASSERT(stream_has(&st, "state=ESTABLISHED"));
    CU_ASSERT_EQUAL(svc_counter(&st, "drop_bad_flags"), 2);
    CU_ASSERT_EQUAL(svc_counter(&st, "drop_no_state"), ARRAY_SIZE(flags));
    stream_destroy(&st);
}

static void
test_fw_replicated_state_passes(void)
{
    struct stream primary, secondary, stranger;

    stream_init(&primary, "stateful-fw", NULL);
    stream_init(&secondary, "stateful-fw", NULL);
    stream_init(&stranger, "stateful-fw", NULL);

    handshake(&primary, 5000);
    CU_ASSERT_EQUAL(tcp(&primary, true, TCP_ACK | TCP_PSH, 5003),
                    SERVICE_PASS);

    /* An instance without the state drops the stream... */
    CU_ASSERT_EQUAL(tcp(&stranger, true, TCP_ACK | TCP_PSH, 5004),
                    SERVICE_DROP);
    CU_ASSERT_EQUAL(tcp(&stranger, false, TCP_ACK, 5004), SERVICE_DROP);
    CU_ASSERT_EQUAL(svc_counter(&stranger, "drop_no_state"), 2);

    /* ...the secondary, whose clock reads something else entirely, has it
     * and carries on. */
    replicate(&primary, &secondary, 777000000);
    CU_ASSERT(stream_has(&secondary, "state=ESTABLISHED"));
    CU_ASSERT(stream_has(&secondary, "client=lo"));
    CU_ASSERT(stream_has(&secondary, "packets_lo_hi=3 packets_hi_lo=1"));
    CU_ASSERT_EQUAL(tcp(&secondary, true, TCP_ACK | TCP_PSH, 777000010),
                    SERVICE_PASS);
    CU_ASSERT_EQUAL(tcp(&secondary, false, TCP_ACK | TCP_PSH, 777000011),
                    SERVICE_PASS);
    CU_ASSERT_EQUAL(svc_counter(&secondary, "drop_no_state"), 0);
    CU_ASSERT(stream_has(&secondary, "packets_lo_hi=4 packets_hi_lo=2"));

    /* The replica knows the client: the server's FIN, then the client's,
     * close it. */
    CU_ASSERT_EQUAL(tcp(&secondary, false, TCP_FIN | TCP_ACK, 777000020),
                    SERVICE_PASS);
    CU_ASSERT(stream_has(&secondary, "state=CLOSING"));
    CU_ASSERT(stream_has(&secondary, "fin=hi"));
    CU_ASSERT_EQUAL(tcp(&secondary, true, TCP_FIN | TCP_ACK, 777000021),
                    SERVICE_PASS);
    CU_ASSERT(stream_has(&secondary, "state=CLOSED"));

    stream_destroy(&primary);
    stream_destroy(&secondary);
    stream_destroy(&stranger);
}

static void
test_fw_rst_closes(void)
{
    struct stream st;
    bool changed;

    stream_init(&st, "stateful-fw", NULL);
    handshake(&st, 0);
    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, false, TCP_RST, 40, 100,
                                &changed), SERVICE_PASS);
    CU_ASSERT(changed);
    CU_ASSERT(stream_has(&st, "state=CLOSED"));

    /* CLOSED times out as a transitory state... */
    CU_ASSERT(!st.svc->expired(st.svc_data, st.state, 100 + 30 * SEC - 1));
    CU_ASSERT(st.svc->expired(st.svc_data, st.state, 100 + 30 * SEC));

    /* ...and a new SYN from either side reuses the stream, its sender now
     * the client, the counters from 0. */
    CU_ASSERT_EQUAL(tcp(&st, false, TCP_SYN, 200), SERVICE_PASS);
    CU_ASSERT(stream_has(&st, "state=SYN_SENT client=hi fin=none "
                         "packets_lo_hi=0 packets_hi_lo=1"));
    stream_destroy(&st);
}

static void
test_fw_fin_both_ways(void)
{
    struct stream st;
    bool changed;

    stream_init(&st, "stateful-fw", NULL);
    handshake(&st, 0);
    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, true, TCP_FIN | TCP_ACK,
                                40, 10, &changed), SERVICE_PASS);
    CU_ASSERT(changed);
    CU_ASSERT(stream_has(&st, "state=CLOSING"));
    CU_ASSERT(stream_has(&st, "fin=lo"));

    /* A retransmitted FIN changes nothing; the half-closed stream still
     * carries data the other way. */
    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, true, TCP_FIN | TCP_ACK,
                                40, 11, &changed), SERVICE_PASS);
    CU_ASSERT(!changed);
    CU_ASSERT_EQUAL(tcp(&st, false, TCP_ACK | TCP_PSH, 12), SERVICE_PASS);
    CU_ASSERT(stream_has(&st, "state=CLOSING"));

    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, false, TCP_FIN | TCP_ACK,
                                40, 13, &changed), SERVICE_PASS);
    CU_ASSERT(changed);
    CU_ASSERT(stream_has(&st, "state=CLOSED"));
    CU_ASSERT(stream_has(&st, "fin=both"));

    /* The last ACK still passes. */
    CU_ASSERT_EQUAL(tcp(&st, true, TCP_ACK, 14), SERVICE_PASS);
    CU_ASSERT(stream_has(&st, "state=CLOSED"));
    stream_destroy(&st);
}

static void
test_fw_expiry(void)
{
    struct stream st, udp, custom, replica;
    const struct service_class *svc;

    stream_init(&st, "stateful-fw", NULL);
    svc = st.svc;

    /* SYN_SENT and SYN_RECV: 30 s after the last packet. */
    CU_ASSERT_EQUAL(tcp(&st, true, TCP_SYN, 1000), SERVICE_PASS);
    CU_ASSERT(!svc->expired(st.svc_data, st.state, 1000 + 30 * SEC - 1));
    CU_ASSERT(svc->expired(st.svc_data, st.state, 1000 + 30 * SEC));
    CU_ASSERT_EQUAL(tcp(&st, false, TCP_SYN | TCP_ACK, 20000), SERVICE_PASS);
    CU_ASSERT(!svc->expired(st.svc_data, st.state, 20000 + 30 * SEC - 1));
    CU_ASSERT(svc->expired(st.svc_data, st.state, 20000 + 30 * SEC));

    /* ESTABLISHED: 300 s. */
    CU_ASSERT_EQUAL(tcp(&st, true, TCP_ACK, 40000), SERVICE_PASS);
    CU_ASSERT(!svc->expired(st.svc_data, st.state, 40000 + 300 * SEC - 1));
    CU_ASSERT(svc->expired(st.svc_data, st.state, 40000 + 300 * SEC));

    /* CLOSING: 30 s. */
    CU_ASSERT_EQUAL(tcp(&st, true, TCP_FIN | TCP_ACK, 50000), SERVICE_PASS);
    CU_ASSERT(!svc->expired(st.svc_data, st.state, 50000 + 30 * SEC - 1));
    CU_ASSERT(svc->expired(st.svc_data, st.state, 50000 + 30 * SEC));

    /* UDP: 60 s. */
    stream_init(&udp, "stateful-fw", NULL);
    CU_ASSERT_EQUAL(stream_send(&udp, IPPROTO_UDP, true, 0, 100, 7000, NULL),
                    SERVICE_PASS);
    CU_ASSERT(!svc->expired(udp.svc_data, udp.state, 7000 + 60 * SEC - 1));
    CU_ASSERT(svc->expired(udp.svc_data, udp.state, 7000 + 60 * SEC));

    /* Timeouts from the options. */
    stream_init(&custom, "stateful-fw", "established_timeout=20, "
                "transitory_timeout=5 udp_timeout=7,sync_interval=1");
    handshake(&custom, 0);
    CU_ASSERT(!svc->expired(custom.svc_data, custom.state, 2 + 20 * SEC - 1));
    CU_ASSERT(svc->expired(custom.svc_data, custom.state, 2 + 20 * SEC));
    CU_ASSERT_EQUAL(tcp(&custom, false, TCP_RST, 100), SERVICE_PASS);
    CU_ASSERT(svc->expired(custom.svc_data, custom.state, 100 + 5 * SEC));

    /* A replica's idle time counts from the apply, on its own clock,
     * whatever the sender's last-seen time was. */
    stream_init(&replica, "stateful-fw", NULL);
    replicate(&st, &replica, 10);
    CU_ASSERT(!svc->expired(replica.svc_data, replica.state,
                            10 + 30 * SEC - 1));
    CU_ASSERT(svc->expired(replica.svc_data, replica.state, 10 + 30 * SEC));

    stream_destroy(&st);
    stream_destroy(&udp);
    stream_destroy(&custom);
    stream_destroy(&replica);
}

static void
test_fw_sync_interval(void)
{
    struct stream st;
    bool changed;

    /* An active stream reports a change at least every sync_interval, so
     * that its replica stays alive. */
    stream_init(&st, "stateful-fw", NULL);
    handshake(&st, 0);
    stream_send(&st, IPPROTO_TCP, true, TCP_ACK, 60, 9 * SEC, &changed);
    CU_ASSERT(!changed);
    stream_send(&st, IPPROTO_TCP, false, TCP_ACK, 60, 2 + 10 * SEC, &changed);
    CU_ASSERT(changed);
    stream_send(&st, IPPROTO_TCP, true, TCP_ACK, 60, 3 + 10 * SEC, &changed);
    CU_ASSERT(!changed);
    stream_destroy(&st);

    stream_init(&st, "stateful-fw", "sync_interval=0");
    handshake(&st, 0);
    stream_send(&st, IPPROTO_TCP, true, TCP_ACK, 60, 3, &changed);
    CU_ASSERT(changed);
    stream_destroy(&st);
}

static void
test_fw_udp(void)
{
    struct stream st;
    bool changed;

    /* The first packet, from the higher endpoint, creates the state. */
    stream_init(&st, "stateful-fw", NULL);
    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_UDP, false, 0, 100, 50,
                                &changed), SERVICE_PASS);
    CU_ASSERT(changed);
    CU_ASSERT(st.exists);
    CU_ASSERT(stream_has(&st, "state=UDP client=hi"));
    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_UDP, true, 0, 200, 60,
                                &changed), SERVICE_PASS);
    CU_ASSERT(!changed);
    CU_ASSERT(stream_has(&st, "packets_lo_hi=1 packets_hi_lo=1 "
                         "bytes_lo_hi=200 bytes_hi_lo=100"));
    CU_ASSERT_EQUAL(svc_counter(&st, "drop_no_state"), 0);
    stream_destroy(&st);
}

static void
test_fw_other_protocols(void)
{
    struct stream st;
    bool changed;

    /* ICMP and others pass and leave no state. */
    stream_init(&st, "stateful-fw", NULL);
    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_ICMP, true, 0, 84, 0, &changed),
                    SERVICE_PASS);
    CU_ASSERT(!changed);
    CU_ASSERT(!st.exists);
    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_SCTP, false, 0, 84, 0, &changed),
                    SERVICE_PASS);
    CU_ASSERT(!changed);
    CU_ASSERT(!st.exists);
    stream_destroy(&st);
}

/* Returns an established stream's blob in 'blob' (48 bytes). */
static void
fw_blob(uint8_t *blob)
{
    struct stream st;

    stream_init(&st, "stateful-fw", NULL);
    handshake(&st, 0);
    CU_ASSERT_EQUAL_FATAL(st.svc->blob_size, 48);
    st.svc->serialize(st.state, blob);
    stream_destroy(&st);
}

static void
test_fw_deserialize_rejects(void)
{
    const struct service_class *svc = service_find("stateful-fw");
    uint8_t good[64], bad[64];
    uint64_t state[SERVICE_STATE_MAX / 8], before[SERVICE_STATE_MAX / 8];
    struct {
        size_t offset;          /* Byte to change. */
        uint8_t value;          /* New value. */
    } corruptions[] = {
        { 0, 0 }, { 0, 2 }, { 0, 0xff },        /* Version. */
        { 1, 0 }, { 1, 7 }, { 1, 200 },         /* State. */
        { 2, 0x08 }, { 2, 0x80 },               /* Unknown flags. */
        { 2, 0x02 }, { 2, 0x06 },               /* FIN while ESTABLISHED. */
        { 3, 1 }, { 7, 0x40 },                  /* Reserved. */
    };

    fw_blob(good);
    CU_ASSERT_PTR_NULL(svc->deserialize(good, 48, state, 0));

    memset(state, 0x5a, sizeof state);
    memcpy(before, state, sizeof state);

    /* Short, oversized, empty. */
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(good, 47, state, 0));
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(good, 49, state, 0));
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(good, 0, state, 0));
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(good, 1024, state, 0));

    for (size_t i = 0; i < ARRAY_SIZE(corruptions); i++) {
        memcpy(bad, good, 48);
        bad[corruptions[i].offset] = corruptions[i].value;
        CU_ASSERT_PTR_NOT_NULL(svc->deserialize(bad, 48, state, 0));
    }

    /* FIN flags against the state. */
    memcpy(bad, good, 48);
    bad[1] = 4;                 /* CLOSING with no FIN. */
    bad[2] = 0;
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(bad, 48, state, 0));
    bad[2] = 0x06;              /* CLOSING with both. */
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(bad, 48, state, 0));
    bad[1] = 6;                 /* UDP with a FIN. */
    bad[2] = 0x02;
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(bad, 48, state, 0));

    /* A rejected blob leaves the state alone. */
    CU_ASSERT(!memcmp(state, before, sizeof state));

    /* Valid variants are accepted. */
    memcpy(bad, good, 48);
    bad[1] = 4;                 /* CLOSING, FIN from the higher end. */
    bad[2] = 0x05;
    CU_ASSERT_PTR_NULL(svc->deserialize(bad, 48, state, 0));
    bad[1] = 5;                 /* CLOSED, both FINs. */
    bad[2] = 0x06;
    CU_ASSERT_PTR_NULL(svc->deserialize(bad, 48, state, 0));
}

static void
test_fw_deserialize_garbage(void)
{
    const struct service_class *svc = service_find("stateful-fw");
    uint8_t blob[48], again[48];
    uint64_t state[SERVICE_STATE_MAX / 8];
    struct ds ds = DS_EMPTY_INITIALIZER;
    uint32_t seed = 12345;
    int accepted = 0;

    /* Random blobs, with a valid version so that the other checks run: what
     * is accepted serializes back to the same bytes (the last-seen time
     * aside, which is the receiver's). */
    for (int i = 0; i < 20000; i++) {
        for (size_t j = 0; j < sizeof blob; j++) {
            seed = seed * 1103515245 + 12345;
            blob[j] = seed >> 16;
        }
        blob[0] = 1;
        if (i & 1) {
            blob[1] %= 8;
            blob[2] &= 0x0f;
            memset(&blob[3], 0, 5);
        }
        memset(state, 0, sizeof state);
        if (!svc->deserialize(blob, sizeof blob, state, 42)) {
            accepted++;
            svc->serialize(state, again);
            CU_ASSERT(!memcmp(blob, again, 8));
            CU_ASSERT(!memcmp(blob + 16, again + 16, 32));
            ds_clear(&ds);
            svc->format(state, &ds);
            CU_ASSERT(strstr(ds_cstr(&ds), "state=") != NULL);
            CU_ASSERT(!strstr(ds_cstr(&ds), "INVALID"));
        }
    }
    CU_ASSERT(accepted > 100);
    ds_destroy(&ds);
}

static void
test_fw_options(void)
{
    static const char *const bad[] = {
        "nonsense", "established_timeout", "established_timeout=",
        "established_timeout=-5", "established_timeout=0",
        "established_timeout=1x", "udp_timeout=99999999999999999999",
        "bogus=5", "transitory_timeout=5 sync_interval=5",
        "established_timeout=+5",
    };
    const struct service_class *svc = service_find("stateful-fw");
    void *data;

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        char *error = svc->init(&data, bad[i]);

        CU_ASSERT_PTR_NOT_NULL(error);
        CU_ASSERT_PTR_NULL(data);
        CU_ASSERT(error && !strncmp(error, "stateful-fw: ", 13));
        free(error);
    }
    CU_ASSERT_PTR_NULL(svc->init(&data, ""));
    svc->destroy(data);
    CU_ASSERT_PTR_NULL(svc->init(&data, " ,established_timeout=3600, "));
    svc->destroy(data);
}

/* counter. */

static void
test_counter_per_direction(void)
{
    struct stream st;
    bool changed;
    int n = 0;

    stream_init(&st, "counter", NULL);
    for (int i = 0; i < 7; i++) {
        CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, true, TCP_ACK, 100 + i,
                                    n++, &changed), SERVICE_PASS);
        CU_ASSERT(changed);
    }
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_TCP, false, 0, 1500, n++,
                                    &changed), SERVICE_PASS);
        CU_ASSERT(changed);
    }
    CU_ASSERT_STRING_EQUAL(stream_format(&st),
                           "packets_lo_hi=7 packets_hi_lo=3 "
                           "bytes_lo_hi=721 bytes_hi_lo=4500");

    /* Any protocol, even with a drop-worthy look, passes and counts. */
    CU_ASSERT_EQUAL(stream_send(&st, IPPROTO_ICMP, false, 0, 84, n++,
                                &changed), SERVICE_PASS);
    CU_ASSERT(changed);
    CU_ASSERT(stream_has(&st, "packets_hi_lo=4 "));
    stream_destroy(&st);
}

static void
test_counter_round_trip(void)
{
    struct stream primary, secondary;
    uint8_t blob[SERVICE_STATE_MAX], again[SERVICE_STATE_MAX];
    char *text;

    stream_init(&primary, "counter", NULL);
    stream_init(&secondary, "counter", NULL);
    for (int i = 0; i < 1000; i++) {
        stream_send(&primary, IPPROTO_UDP, i % 3, 0, 28 + i, i, NULL);
    }
    replicate(&primary, &secondary, 999999);
    text = xstrdup(stream_format(&primary));
    CU_ASSERT_STRING_EQUAL(stream_format(&secondary), text);
    free(text);
    primary.svc->serialize(primary.state, blob);
    secondary.svc->serialize(secondary.state, again);
    CU_ASSERT_EQUAL(primary.svc->blob_size, 40);
    CU_ASSERT(!memcmp(blob, again, primary.svc->blob_size));

    /* Both go on counting alike. */
    stream_send(&primary, IPPROTO_UDP, true, 0, 64, 2000, NULL);
    stream_send(&secondary, IPPROTO_UDP, true, 0, 64, 1002000, NULL);
    text = xstrdup(stream_format(&primary));
    CU_ASSERT_STRING_EQUAL(stream_format(&secondary), text);
    free(text);

    /* Big values survive the byte order. */
    memset(blob + 8, 0xfe, 32);
    CU_ASSERT_PTR_NULL(secondary.svc->deserialize(blob, 40, secondary.state,
                                                  0));
    secondary.svc->serialize(secondary.state, again);
    CU_ASSERT(!memcmp(blob, again, 40));
    CU_ASSERT(stream_has(&secondary,
                         "packets_lo_hi=18374403900871474942"));

    stream_destroy(&primary);
    stream_destroy(&secondary);
}

static void
test_counter_rejects(void)
{
    const struct service_class *svc = service_find("counter");
    uint8_t blob[64];
    uint64_t state[SERVICE_STATE_MAX / 8];

    memset(blob, 0, sizeof blob);
    blob[0] = 1;
    CU_ASSERT_PTR_NULL(svc->deserialize(blob, 40, state, 0));
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(blob, 39, state, 0));
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(blob, 41, state, 0));
    blob[0] = 2;
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(blob, 40, state, 0));
    blob[0] = 1;
    blob[5] = 1;
    CU_ASSERT_PTR_NOT_NULL(svc->deserialize(blob, 40, state, 0));
}

static void
test_counter_expiry(void)
{
    struct stream st, custom;

    stream_init(&st, "counter", NULL);
    stream_send(&st, IPPROTO_UDP, true, 0, 64, 1000, NULL);
    CU_ASSERT(!st.svc->expired(st.svc_data, st.state, 1000 + 300 * SEC - 1));
    CU_ASSERT(st.svc->expired(st.svc_data, st.state, 1000 + 300 * SEC));

    stream_init(&custom, "counter", "idle_timeout=2");
    stream_send(&custom, IPPROTO_UDP, true, 0, 64, 1000, NULL);
    CU_ASSERT(!st.svc->expired(custom.svc_data, custom.state, 2999));
    CU_ASSERT(st.svc->expired(custom.svc_data, custom.state, 3000));
    stream_destroy(&st);
    stream_destroy(&custom);
}

static void
test_service_registry(void)
{
    struct ds ds = DS_EMPTY_INITIALIZER;

    CU_ASSERT_PTR_EQUAL(service_find("stateful-fw"), &stateful_fw_class);
    CU_ASSERT_PTR_EQUAL(service_find("counter"), &counter_class);
    CU_ASSERT_PTR_NULL(service_find("nat"));
    CU_ASSERT_PTR_NULL(service_find(""));
    service_names(&ds);
    CU_ASSERT_STRING_EQUAL(ds_cstr(&ds), "stateful-fw, counter");
    ds_destroy(&ds);
}

static const struct test_case fw_tests[] = {
    { "SYN opens, handshake and data pass", test_fw_syn_opens },
    { "no state: dropped and counted", test_fw_no_state_dropped },
    { "replicated state passes", test_fw_replicated_state_passes },
    { "RST closes", test_fw_rst_closes },
    { "FIN both ways closes", test_fw_fin_both_ways },
    { "idle timeouts", test_fw_expiry },
    { "sync interval", test_fw_sync_interval },
    { "UDP first packet opens", test_fw_udp },
    { "other protocols pass without state", test_fw_other_protocols },
    { "deserialize rejects bad blobs", test_fw_deserialize_rejects },
    { "deserialize of random blobs", test_fw_deserialize_garbage },
    { "options", test_fw_options },
    { NULL, NULL },
};

static const struct test_case counter_tests[] = {
    { "counts per direction", test_counter_per_direction },
    { "serialize round trip", test_counter_round_trip },
    { "deserialize rejects bad blobs", test_counter_rejects },
    { "idle timeout", test_counter_expiry },
    { "registry", test_service_registry },
    { NULL, NULL },
};
/* Two suites in one file: TEST_SUITE() registers one per file, so this
 * file registers its own. */
static void __attribute__((constructor))
test_service_register__(void)
{
    tests_add_suite("stateful-fw", fw_tests);
    tests_add_suite("counter", counter_tests);
}
