/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the NSH frames an instance receives (lib/nsh.c).
 *
 * Each input is used twice:
 *
 *   - as a frame: nsh_parse() must not read outside it; when it accepts the
 *     frame, the offsets lie within it, the fields agree with its bytes,
 *     the stream key is the same with source and destination swapped, and
 *     nsh_forward() on a copy changes exactly the MACs, the TTL and the SI,
 *     after which the copy parses the same again (or is refused for its
 *     TTL or SI);
 *
 *   - as the description of a frame for nsh_build(), whose result must
 *     parse back to the same fields.
 *
 * A broken invariant aborts with a message. */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nsh.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message if 'COND' is false. */
#define CHECK(COND)                                                     \
    do {                                                                \
        if (!(COND)) {                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n",                \
                    __FILE__, __LINE__, #COND);                         \
            abort();                                                    \
        }                                                               \
    } while (0)

/* Returns the 6-bit TTL from the first two bytes of the NSH header at
 * 'nsh', per RFC 8300: bits 4 to 9 of the big-endian 16-bit word. */
static unsigned int
ttl_of(const uint8_t *nsh)
{
    return ((nsh[0] << 8 | nsh[1]) >> 6) & 0x3f;
}

/* Returns 'f' with its source and destination swapped. */
static struct nsh_frame
reversed(const struct nsh_frame *f)
{
    struct nsh_frame r = *f;

    r.ip_src = f->ip_dst;
    r.ip_dst = f->ip_src;
    r.src_port = f->dst_port;
    r.dst_port = f->src_port;
    return r;
}

/* Returns true if 'a' and 'b' have the same fields, except maybe TTL and
 * SI. */
static bool
same_but_ttl_si(const struct nsh_frame *a, const struct nsh_frame *b)
{
    struct nsh_frame x;

    memcpy(&x, a, sizeof x);    /* Padding included. */
    x.ttl = b->ttl;
    x.si = b->si;
    return !memcmp(&x, b, sizeof x);
}

/* Checks the invariants of the 'size' bytes at 'data' parsed into 'f'. */
static void
check_parsed(const uint8_t *data, size_t size, const struct nsh_frame *f)
{
    const uint8_t *nsh = data + f->nsh_ofs;
    bool ports = f->ip_proto == IPPROTO_TCP || f->ip_proto == IPPROTO_UDP;

    /* Where things are. */
    CHECK(f->nsh_ofs == 14 || f->nsh_ofs == 18);
    CHECK(f->inner_ofs == f->nsh_ofs + 4 * f->length);
    CHECK(f->inner_ofs <= size);
    if (f->np == NSH_P_ETHERNET) {
        CHECK(f->l3_ofs == f->inner_ofs + 14
              || f->l3_ofs == f->inner_ofs + 18);
    } else {
        CHECK(f->np == NSH_P_IPV4 || f->np == NSH_P_IPV6);
        CHECK(f->l3_ofs == f->inner_ofs);
    }
    CHECK(f->l3_len <= size - f->l3_ofs);
    CHECK(f->l4_ofs >= f->l3_ofs + (f->ip_version == 4 ? 20 : 40));
    CHECK(f->l4_ofs <= f->l3_ofs + f->l3_len);
    CHECK(f->payload_ofs >= f->l4_ofs);
    CHECK(f->payload_ofs + f->payload_len <= f->l3_ofs + f->l3_len);

    /* NSH, against the bytes. */
    CHECK(nsh[0] >> 6 == 0);
    CHECK(f->ttl == ttl_of(nsh) && f->ttl >= 2 && f->ttl <= 63);
    CHECK(f->length == (nsh[1] & 0x3f));
    CHECK((f->mdtype == 1 && f->length == 6)
          || (f->mdtype == 2 && f->length >= 2));
    CHECK(f->np == nsh[3]);
    CHECK(f->oam == ((nsh[0] & 0x20) != 0));
    CHECK(f->spi == ((uint32_t) nsh[4] << 16 | nsh[5] << 8 | nsh[6]));
    CHECK(f->si == nsh[7] && f->si >= 1);
    if (f->mdtype == 1) {
        CHECK(f->c1 == ((uint32_t) nsh[8] << 24 | nsh[9] << 16
                        | nsh[10] << 8 | nsh[11]));
    } else {
        CHECK(!f->c1 && !f->c2 && !f->c3 && !f->c4);
    }

    /* The inner packet. */
    CHECK(data[f->l3_ofs] >> 4 == f->ip_version);
    CHECK(f->ip_version == 4 || f->ip_version == 6);
    if (!ports) {
        CHECK(!f->src_port && !f->dst_port);
    } else {
        CHECK(f->src_port == (data[f->l4_ofs] << 8 | data[f->l4_ofs + 1]));
    }
    CHECK(f->ip_proto == IPPROTO_TCP ? f->tcp_flags <= 0xfff
          : !f->tcp_flags);
    CHECK(f->ip_version == 4 || !f->ip_first_fragment);
}

/* Checks the stream key of 'f' against that of the other direction. */
static void
check_key(const struct nsh_frame *f)
{
    struct nsh_frame r = reversed(f);
    struct nsh_stream_key k1, k2;
    bool up1 = nsh_stream_key_init(&k1, f);
    bool up2 = nsh_stream_key_init(&k2, &r);
    bool same = !memcmp(&f->ip_src, &f->ip_dst, sizeof f->ip_src)
                && f->src_port == f->dst_port;

    CHECK(nsh_stream_key_equal(&k1, &k2));
    CHECK(!memcmp(&k1, &k2, sizeof k1));
    CHECK(nsh_stream_key_hash(&k1, 1) == nsh_stream_key_hash(&k2, 1));
    CHECK(same ? up1 && up2 : up1 != up2);
    CHECK(k1.proto == f->ip_proto);
    CHECK(nsh_bucket(f, 256) == (f->c1 & 0xff));
}

/* Runs nsh_forward() on a copy of the 'size' bytes at 'data', parsed into
 * 'f', and checks what changed. */
static void
check_forward(const uint8_t *data, size_t size, const struct nsh_frame *f)
{
    static const struct eth_addr mac = {{{ 0x02, 0x5a, 0, 0, 0x01, 0x01 }}};
    uint8_t *copy = malloc(size);
    struct nsh_frame g;
    enum nsh_error error;
    size_t o = f->nsh_ofs;
    uint16_t w, w2;

    CHECK(copy);
    memcpy(copy, data, size);
    CHECK(nsh_forward(copy, f, &mac) == NSH_OK);
    CHECK(!memcmp(copy, data + 6, 6));
    CHECK(!memcmp(copy + 6, mac.ea, 6));
    w = data[o] << 8 | data[o + 1];
    w2 = copy[o] << 8 | copy[o + 1];
    CHECK((w2 & 0x0fc0) == (w & 0x0fc0) - 0x40);
    CHECK((w2 & ~0x0fc0) == (w & ~0x0fc0));
    CHECK(copy[o + 7] == data[o + 7] - 1);
    for (size_t i = 12; i < size; i++) {
        CHECK(copy[i] == data[i] || i == o || i == o + 1 || i == o + 7);
    }

    error = nsh_parse(copy, size, &g);
    if (f->ttl - 1 <= 1) {
        CHECK(error == NSH_E_TTL_EXPIRED);
    } else if (f->si - 1 == 0) {
        CHECK(error == NSH_E_SI_ZERO);
    } else {
        CHECK(error == NSH_OK);
        CHECK(g.ttl == f->ttl - 1 && g.si == f->si - 1);
        CHECK(same_but_ttl_si(f, &g));
    }
    free(copy);
}

/* Uses the input as a frame. */
static void
fuzz_frame(const uint8_t *data, size_t size)
{
    struct nsh_frame f, f2;
    enum nsh_error error = nsh_parse(data, size, &f);

    CHECK((unsigned int) error < NSH_N_ERRORS);
    CHECK(strcmp(nsh_error_name(error), "unknown"));
    CHECK(nsh_parse(data, size, &f2) == error);
    CHECK(!memcmp(&f, &f2, sizeof f));
    if (error != NSH_OK) {
        return;
    }
    check_parsed(data, size, &f);
    check_key(&f);
    check_forward(data, size, &f);
}

/* Reads numbers from the input for fuzz_build(); 0 once it runs out. */
struct reader {
    const uint8_t *p;           /* Next byte. */
    size_t n;                   /* Bytes left. */
};

/* Returns the next 'n' bytes (at most 4) of 'r' as a big-endian number. */
static uint32_t
take(struct reader *r, int n)
{
    uint32_t x = 0;

    for (int i = 0; i < n; i++) {
        x <<= 8;
        if (r->n) {
            x |= *r->p++;
            r->n--;
        }
    }
    return x;
}

/* Uses the input as a description for nsh_build() and checks that the
 * frame built parses back to it. */
static void
fuzz_build(const uint8_t *data, size_t size)
{
    static const uint8_t protos[2][3] = {
        { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP },
        { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMPV6 },
    };
    static uint8_t buf[4096];
    struct reader r = { data, size };
    struct nsh_build_spec spec;
    struct nsh_frame f;
    enum nsh_error error;
    bool v6, ports;
    size_t len;

    nsh_build_spec_init(&spec);
    spec.ttl = take(&r, 1) & 0x3f;
    spec.si = take(&r, 1);
    spec.spi = take(&r, 3);
    spec.c1 = take(&r, 4);
    v6 = take(&r, 1) & 1;
    spec.ip_version = v6 ? 6 : 4;
    spec.ip_proto = protos[v6][take(&r, 1) % 3];
    ports = spec.ip_proto == IPPROTO_TCP || spec.ip_proto == IPPROTO_UDP;
    for (int i = v6 ? 0 : 12; i < 16; i++) {
        spec.ip_src.s6_addr[i] = take(&r, 1);
        spec.ip_dst.s6_addr[i] = take(&r, 1);
    }
    spec.src_port = take(&r, 2);
    spec.dst_port = take(&r, 2);
    spec.tcp_flags = take(&r, 2);
    spec.payload_len = take(&r, 2) % 2048;

    len = nsh_build(buf, sizeof buf, &spec);
    CHECK(len == 52 + (v6 ? 40 : 20)
                 + (spec.ip_proto == IPPROTO_TCP ? 20 : 8) + spec.payload_len);
    error = nsh_parse(buf, len, &f);
    if (spec.ttl <= 1) {
        CHECK(error == NSH_E_TTL_EXPIRED);
        return;
    } else if (!spec.si) {
        CHECK(error == NSH_E_SI_ZERO);
        return;
    }
    CHECK(error == NSH_OK);
    CHECK(f.ttl == spec.ttl && f.si == spec.si && f.spi == spec.spi);
    CHECK(f.c1 == spec.c1 && f.mdtype == 1 && f.np == NSH_P_ETHERNET);
    CHECK(f.ip_version == spec.ip_version && f.ip_proto == spec.ip_proto);
    CHECK(!memcmp(&f.ip_src, &spec.ip_src, sizeof f.ip_src));
    CHECK(!memcmp(&f.ip_dst, &spec.ip_dst, sizeof f.ip_dst));
    CHECK(f.src_port == (ports ? spec.src_port : 0));
    CHECK(f.dst_port == (ports ? spec.dst_port : 0));
    CHECK(f.tcp_flags == (spec.ip_proto == IPPROTO_TCP
                          ? spec.tcp_flags & 0xfff : 0));
    CHECK(f.payload_len == spec.payload_len);
    CHECK(f.payload_ofs + f.payload_len == len);
    check_parsed(buf, len, &f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_frame(data, size);
    fuzz_build(data, size);
    return 0;
}
