/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "nsh.h"
#include "packets.h"
#include "tests.h"

/* A TCP SYN 10.0.0.1:40000 -> 10.0.0.2:80 as OVS 3.1 (userspace datapath)
 * sends it to an instance port, captured there with tcpdump, for the flow
 *
 *   tcp,in_port=1 actions=encap(nsh(md_type=1)),set_field:0x64->nsh_spi,
 *       set_field:255->nsh_si,set_field:0x57->nsh_c1,encap(ethernet),
 *       set_field:02:00:00:00:01:01->eth_dst,output:2
 *
 * Outer Ethernet (14), NSH MD type 1 (24), inner Ethernet (14), IPv4 (20),
 * TCP (20): 92 bytes. */
static const char ovs_frame_hex[] =
    "0200 0000 0101 0000 0000 0000 894f"        /* Outer Ethernet. */
    "0fc6 0103 0000 64ff"                       /* NSH base, SPI, SI. */
    "0000 0057 0000 0000 0000 0000 0000 0000"   /* C1 to C4. */
    "0200 0000 0002 0200 0000 0001 0800"        /* Inner Ethernet. */
    "4500 0028 0000 4000 4006 26ce"             /* IPv4. */
    "0a00 0001 0a00 0002"
    "9c40 0050 0000 0000 0000 0000 5002 ffff"   /* TCP. */
    "ff4f 0000";

/* Offsets in the OVS frame. */
#define OFS_NSH 14              /* NSH base header. */
#define OFS_INNER 38            /* Inner Ethernet header. */
#define OFS_IP 52               /* IPv4 header. */
#define OFS_L4 72               /* TCP header. */
#define OVS_FRAME_LEN 92

/* Stores the OVS frame at 'buf' (room for 'size' bytes) and returns its
 * length. */
static size_t
ovs_frame(uint8_t *buf, size_t size)
{
    size_t len = tests_from_hex(ovs_frame_hex, buf, size);

    CU_ASSERT_EQUAL_FATAL(len, OVS_FRAME_LEN);
    return len;
}

/* Returns the IPv4 address a.b.c.d, IPv4-mapped. */
static struct in6_addr
ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct in6_addr addr = IN6ADDR_ANY_INIT;

    addr.s6_addr[10] = addr.s6_addr[11] = 0xff;
    addr.s6_addr[12] = a;
    addr.s6_addr[13] = b;
    addr.s6_addr[14] = c;
    addr.s6_addr[15] = d;
    return addr;
}

/* Returns the IPv6 address 2001:db8::'last'. */
static struct in6_addr
ip6(uint8_t last)
{
    struct in6_addr addr = IN6ADDR_ANY_INIT;

    addr.s6_addr[0] = 0x20;
    addr.s6_addr[1] = 0x01;
    addr.s6_addr[2] = 0x0d;
    addr.s6_addr[3] = 0xb8;
    addr.s6_addr[15] = last;
    return addr;
}

/* Returns true if 'a' and 'b' are the same address. */
static bool
addr_eq(const struct in6_addr *a, const struct in6_addr *b)
{
    return !memcmp(a, b, sizeof *a);
}

/* Parses the 'len' bytes at 'frame' from a heap copy of exactly that size,
 * so that AddressSanitizer catches any read past the end, into '*f'. */
static enum nsh_error
parse_exact(const uint8_t *frame, size_t len, struct nsh_frame *f)
{
    uint8_t *copy = malloc(len);
    enum nsh_error error;

    CU_ASSERT_FATAL(copy != NULL || !len);
    if (len) {
        memcpy(copy, frame, len);
    }
    error = nsh_parse(copy, len, f);
    free(copy);
    return error;
}

/* Returns the error of parsing, into '*f', the OVS frame after 'mutate'
 * has changed it (and maybe its length). */
static enum nsh_error
parse_mutated(void (*mutate)(uint8_t *, size_t *), struct nsh_frame *f)
{
    uint8_t buf[256];
    size_t len = ovs_frame(buf, sizeof buf);

    mutate(buf, &len);
    return parse_exact(buf, len, f);
}

/* Builds the frame 'spec' describes into 'buf' (room for 'size') and
 * returns its length, failing the test if it cannot be built. */
static size_t
build(const struct nsh_build_spec *spec, uint8_t *buf, size_t size)
{
    size_t len = nsh_build(buf, size, spec);

    CU_ASSERT_FATAL(len > 0);
    return len;
}

/* Returns the Internet checksum over the 'n' bytes at 'p' after the 'n2'
 * bytes at 'p2' (which may be NULL): 0 for data with a right checksum. */
static uint16_t
inet_csum(const uint8_t *p2, size_t n2, const uint8_t *p, size_t n)
{
    static uint8_t tmp[65600];
    uint32_t sum = 0;

    CU_ASSERT_FATAL(n + n2 <= sizeof tmp);
    if (n2) {
        memcpy(tmp, p2, n2);
    }
    memcpy(tmp + n2, p, n);
    n += n2;
    for (size_t i = 0; i < n; i += 2) {
        sum += tmp[i] << 8 | (i + 1 < n ? tmp[i + 1] : 0);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return ~sum & 0xffff;
}

/* Checks the IP and L4 checksums of the frame at 'frame', parsed into 'f'
 * (IPv4 header checksum, then TCP, UDP or ICMP with the pseudo-header). */
static void
check_checksums(const uint8_t *frame, const struct nsh_frame *f)
{
    const uint8_t *ip = frame + f->l3_ofs;
    size_t l4_len = f->l3_len - (f->l4_ofs - f->l3_ofs);
    uint8_t pseudo[40];
    size_t n;

    if (f->ip_version == 4) {
        CU_ASSERT_EQUAL(inet_csum(NULL, 0, ip, f->l4_ofs - f->l3_ofs), 0);
        memcpy(pseudo, ip + 12, 8);
        n = 8;
    } else {
        memcpy(pseudo, ip + 8, 32);
        n = 32;
    }
    pseudo[n++] = 0;
    pseudo[n++] = f->ip_proto;
    pseudo[n++] = l4_len >> 8;
    pseudo[n++] = l4_len;
    if (f->ip_proto == IPPROTO_ICMP) {
        n = 0;
    }
    CU_ASSERT_EQUAL(inet_csum(pseudo, n, frame + f->l4_ofs, l4_len), 0);
}

/* The OVS frame, parsed: every field. */
static void
test_ovs_frame_fields(void)
{
    struct in6_addr src = ip4(10, 0, 0, 1), dst = ip4(10, 0, 0, 2);
    uint8_t buf[256];
    size_t len = ovs_frame(buf, sizeof buf);
    struct nsh_frame f;

    CU_ASSERT_EQUAL_FATAL(parse_exact(buf, len, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.nsh_ofs, OFS_NSH);
    CU_ASSERT_EQUAL(f.inner_ofs, OFS_INNER);
    CU_ASSERT_EQUAL(f.l3_ofs, OFS_IP);
    CU_ASSERT_EQUAL(f.l4_ofs, OFS_L4);
    CU_ASSERT_EQUAL(f.payload_ofs, OVS_FRAME_LEN);
    CU_ASSERT_EQUAL(f.payload_len, 0);
    CU_ASSERT_EQUAL(f.l3_len, 40);
    CU_ASSERT_EQUAL(f.ttl, 63);
    CU_ASSERT_EQUAL(f.length, 6);
    CU_ASSERT_EQUAL(f.mdtype, 1);
    CU_ASSERT_EQUAL(f.np, NSH_P_ETHERNET);
    CU_ASSERT_FALSE(f.oam);
    CU_ASSERT_EQUAL(f.spi, 0x64);
    CU_ASSERT_EQUAL(f.si, 255);
    CU_ASSERT_EQUAL(f.c1, 0x57);
    CU_ASSERT_EQUAL(f.c2, 0);
    CU_ASSERT_EQUAL(f.c3, 0);
    CU_ASSERT_EQUAL(f.c4, 0);
    CU_ASSERT_EQUAL(f.ip_version, 4);
    CU_ASSERT_EQUAL(f.ip_proto, IPPROTO_TCP);
    CU_ASSERT_FALSE(f.ip_first_fragment);
    CU_ASSERT(addr_eq(&f.ip_src, &src));
    CU_ASSERT(addr_eq(&f.ip_dst, &dst));
    CU_ASSERT_EQUAL(f.src_port, 40000);
    CU_ASSERT_EQUAL(f.dst_port, 80);
    CU_ASSERT_EQUAL(f.tcp_flags, TCP_SYN);
    check_checksums(buf, &f);
}

/* The first NSH bytes follow from RFC 8300's bit layout, computed here
 * without the module: TTL 63, length 6, MD type 1, next protocol 3. */
static void
test_rfc_first_bytes(void)
{
    uint32_t word = 0u << 30          /* Ver. */
                    | 0u << 29        /* O. */
                    | 0u << 28        /* U. */
                    | 63u << 22       /* TTL. */
                    | 6u << 16        /* Length. */
                    | 0u << 12        /* U U U U. */
                    | 1u << 8         /* MD type. */
                    | 3u;             /* Next protocol. */
    uint8_t buf[256];

    ovs_frame(buf, sizeof buf);
    CU_ASSERT_EQUAL(word, 0x0fc60103);
    CU_ASSERT_EQUAL(buf[OFS_NSH], word >> 24);
    CU_ASSERT_EQUAL(buf[OFS_NSH + 1], (word >> 16) & 0xff);
    CU_ASSERT_EQUAL(buf[OFS_NSH + 2], (word >> 8) & 0xff);
    CU_ASSERT_EQUAL(buf[OFS_NSH + 3], word & 0xff);
}

/* nsh_build() with its defaults makes the OVS frame, byte for byte. */
static void
test_build_matches_ovs(void)
{
    uint8_t want[256], got[256];
    struct nsh_build_spec spec;
    size_t len = ovs_frame(want, sizeof want);

    nsh_build_spec_init(&spec);
    memset(got, 0xaa, sizeof got);
    CU_ASSERT_EQUAL_FATAL(nsh_build(got, sizeof got, &spec), len);
    CU_ASSERT_EQUAL(memcmp(got, want, len), 0);
    CU_ASSERT_EQUAL(got[len], 0xaa);
}

/* Frames of every kind nsh_build() makes parse back to what was asked. */
static void
test_build_round_trip(void)
{
    static const struct {
        uint8_t version;
        uint8_t proto;
        uint16_t payload_len;
    } kinds[] = {
        { 4, IPPROTO_TCP, 0 }, { 4, IPPROTO_TCP, 1 },
        { 4, IPPROTO_TCP, 1400 }, { 4, IPPROTO_UDP, 0 },
        { 4, IPPROTO_UDP, 33 }, { 4, IPPROTO_ICMP, 56 },
        { 6, IPPROTO_TCP, 100 }, { 6, IPPROTO_UDP, 7 },
        { 6, IPPROTO_ICMPV6, 8 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        static uint8_t buf[2048];
        bool v4 = kinds[i].version == 4;
        bool ports = kinds[i].proto == IPPROTO_TCP
                     || kinds[i].proto == IPPROTO_UDP;
        size_t l4_hlen = kinds[i].proto == IPPROTO_TCP ? 20 : 8;
        struct nsh_build_spec spec;
        struct nsh_frame f;
        size_t len;

        nsh_build_spec_init(&spec);
        spec.ttl = 17;
        spec.si = 3;
        spec.spi = 0xabcdef;
        spec.c1 = 0xdeadbeef;
        spec.ip_version = kinds[i].version;
        spec.ip_proto = kinds[i].proto;
        spec.ip_src = v4 ? ip4(192, 168, 7, 9) : ip6(9);
        spec.ip_dst = v4 ? ip4(172, 16, 0, 1) : ip6(1);
        spec.src_port = 1234;
        spec.dst_port = 53;
        spec.tcp_flags = TCP_ACK | TCP_PSH;
        spec.payload_len = kinds[i].payload_len;
        len = build(&spec, buf, sizeof buf);
        CU_ASSERT_EQUAL(len, 52 + (v4 ? 20 : 40) + l4_hlen
                             + kinds[i].payload_len);

        CU_ASSERT_EQUAL_FATAL(parse_exact(buf, len, &f), NSH_OK);
        CU_ASSERT_EQUAL(f.ttl, 17);
        CU_ASSERT_EQUAL(f.si, 3);
        CU_ASSERT_EQUAL(f.spi, 0xabcdef);
        CU_ASSERT_EQUAL(f.c1, 0xdeadbeef);
        CU_ASSERT_EQUAL(f.ip_version, kinds[i].version);
        CU_ASSERT_EQUAL(f.ip_proto, kinds[i].proto);
        CU_ASSERT(addr_eq(&f.ip_src, &spec.ip_src));
        CU_ASSERT(addr_eq(&f.ip_dst, &spec.ip_dst));
        CU_ASSERT_EQUAL(f.src_port, ports ? 1234 : 0);
        CU_ASSERT_EQUAL(f.dst_port, ports ? 53 : 0);
        CU_ASSERT_EQUAL(f.tcp_flags, kinds[i].proto == IPPROTO_TCP
                                     ? (TCP_ACK | TCP_PSH) : 0);
        CU_ASSERT_EQUAL(f.l3_ofs, 52);
        CU_ASSERT_EQUAL(f.l4_ofs, 52 + (v4 ? 20 : 40));
        CU_ASSERT_EQUAL(f.payload_ofs, f.l4_ofs + l4_hlen);
        CU_ASSERT_EQUAL(f.payload_len, kinds[i].payload_len);
        CU_ASSERT_EQUAL(f.payload_ofs + f.payload_len, len);
        CU_ASSERT_EQUAL(f.l3_ofs + f.l3_len, len);
        for (size_t j = 0; j < f.payload_len; j++) {
            CU_ASSERT_EQUAL_FATAL(buf[f.payload_ofs + j], j & 0xff);
        }
        check_checksums(buf, &f);
    }
}

/* A UDP checksum that computes to 0 goes out as 0xffff, since 0 means "no
 * checksum" (and IPv6 forbids it). */
static void
test_build_udp_checksum_zero(void)
{
    struct nsh_build_spec spec;
    uint8_t buf[256];
    int n_ffff = 0;

    nsh_build_spec_init(&spec);
    spec.ip_proto = IPPROTO_UDP;
    for (uint32_t port = 0; port <= UINT16_MAX; port++) {
        struct nsh_frame f;
        size_t len;
        uint16_t csum;

        spec.src_port = port;
        len = build(&spec, buf, sizeof buf);
        CU_ASSERT_EQUAL_FATAL(nsh_parse(buf, len, &f), NSH_OK);
        csum = buf[f.l4_ofs + 6] << 8 | buf[f.l4_ofs + 7];
        CU_ASSERT_NOT_EQUAL_FATAL(csum, 0);
        if (csum == 0xffff) {
            check_checksums(buf, &f);
            n_ffff++;
        }
    }
    CU_ASSERT(n_ffff > 0);
}

/* nsh_build() refuses what it cannot make, and buffers that are too
 * small, writing nothing past 'size'. */
static void
test_build_refusals(void)
{
    static uint8_t buf[70000];
    struct nsh_build_spec spec;
    size_t len;

    nsh_build_spec_init(&spec);
    spec.payload_len = 10;
    len = build(&spec, buf, sizeof buf);
    for (size_t size = 0; size < len; size++) {
        memset(buf, 0xaa, len);
        CU_ASSERT_EQUAL(nsh_build(buf, size, &spec), 0);
        CU_ASSERT_EQUAL(buf[size], 0xaa);
    }

#define REFUSED(FIELD, VALUE)                                   \
    do {                                                        \
        struct nsh_build_spec bad = spec;                       \
        bad.FIELD = VALUE;                                      \
        CU_ASSERT_EQUAL(nsh_build(buf, sizeof buf, &bad), 0);   \
    } while (0)
    REFUSED(ttl, 64);
    REFUSED(spi, 0x1000000);
    REFUSED(ip_version, 5);
    REFUSED(ip_proto, 47);
    REFUSED(ip_proto, IPPROTO_ICMPV6);
    REFUSED(payload_len, 65535 - 40 + 1);
#undef REFUSED

    /* The largest IPv4 packet: 65535 bytes. */
    spec.payload_len = 65535 - 40;
    CU_ASSERT_EQUAL(nsh_build(buf, sizeof buf, &spec), 52 + 65535);
    spec.ip_version = 6;
    spec.ip_proto = IPPROTO_ICMP;
    CU_ASSERT_EQUAL(nsh_build(buf, sizeof buf, &spec), 0);
}

/* Checks that every prefix of the 'len' bytes at 'frame' but the whole
 * fails to parse, reading nothing past its end, and that the whole parses. */
static void
check_truncations(const uint8_t *frame, size_t len)
{
    struct nsh_frame f;

    for (size_t n = 0; n < len; n++) {
        enum nsh_error error = parse_exact(frame, n, &f);

        CU_ASSERT_NOT_EQUAL(error, NSH_OK);
        if (error == NSH_OK) {
            printf("\nprefix of %zu bytes of %zu parsed\n", n, len);
        }
    }
    CU_ASSERT_EQUAL(parse_exact(frame, len, &f), NSH_OK);
}

/* Every prefix of the OVS frame fails, with the error of the layer cut. */
static void
test_truncated_ovs_frame(void)
{
    uint8_t buf[256];
    size_t len = ovs_frame(buf, sizeof buf);
    struct nsh_frame f;

    check_truncations(buf, len);
    for (size_t n = 0; n < len; n++) {
        enum nsh_error want = (n < 14 ? NSH_E_ETH_TRUNCATED
                               : n < 22 ? NSH_E_NSH_TRUNCATED
                               : n < 38 ? NSH_E_CONTEXT_TRUNCATED
                               : n < 52 ? NSH_E_INNER_ETH_TRUNCATED
                               : n < 72 ? NSH_E_IP_TRUNCATED
                               : NSH_E_IP_LENGTH);

        CU_ASSERT_EQUAL(parse_exact(buf, n, &f), want);
    }
}

/* Every prefix of frames of other kinds fails too: UDP, ICMP, IPv6, with
 * payload, with VLAN tags, with MD type 2. */
static void
test_truncated_other_frames(void)
{
    static const uint8_t protos[][2] = {
        { 4, IPPROTO_TCP }, { 4, IPPROTO_UDP }, { 4, IPPROTO_ICMP },
        { 6, IPPROTO_TCP }, { 6, IPPROTO_UDP }, { 6, IPPROTO_ICMPV6 },
    };
    uint8_t buf[512], tagged[512];

    for (size_t i = 0; i < ARRAY_SIZE(protos); i++) {
        struct nsh_build_spec spec;
        size_t len;

        nsh_build_spec_init(&spec);
        spec.ip_version = protos[i][0];
        spec.ip_proto = protos[i][1];
        spec.ip_src = spec.ip_version == 4 ? spec.ip_src : ip6(1);
        spec.ip_dst = spec.ip_version == 4 ? spec.ip_dst : ip6(2);
        spec.payload_len = 5;
        len = build(&spec, buf, sizeof buf);
        check_truncations(buf, len);

        /* With an 802.1Q tag in both Ethernet headers. */
        memcpy(tagged, buf, 12);
        memcpy(tagged + 12, "\x81\x00\x00\x07", 4);
        memcpy(tagged + 16, buf + 12, 38);
        memcpy(tagged + 54, "\x81\x00\x00\x09", 4);
        memcpy(tagged + 58, buf + 50, len - 50);
        check_truncations(tagged, len + 8);
    }

    /* MD type 2 with one 8-byte TLV: length 4. */
    {
        size_t len = ovs_frame(buf, sizeof buf);

        buf[OFS_NSH + 1] = (buf[OFS_NSH + 1] & 0xc0) | 4;
        buf[OFS_NSH + 2] = 2;
        memmove(buf + OFS_NSH + 16, buf + OFS_INNER, len - OFS_INNER);
        len -= 8;
        check_truncations(buf, len);
    }
}

/* Mutations of the OVS frame, for the table 'mutations' below. */

/* Outer Ethernet type IPv4. */
static void
wrong_ethertype(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[12] = 0x08;
    p[13] = 0x00;
}

/* Puts the 4 bytes 'tag' at offset 'ofs' of the frame at 'p'. */
static void
insert(uint8_t *p, size_t *len, size_t ofs, const void *tag)
{
    memmove(p + ofs + 4, p + ofs, *len - ofs);
    memcpy(p + ofs, tag, 4);
    *len += 4;
}

/* One 802.1Q tag in the outer Ethernet header. */
static void
outer_vlan(uint8_t *p, size_t *len)
{
    insert(p, len, 12, "\x81\x00\x00\x05");
}

/* Two 802.1Q tags in the outer Ethernet header. */
static void
outer_two_vlans(uint8_t *p, size_t *len)
{
    insert(p, len, 12, "\x81\x00\x00\x05");
    insert(p, len, 12, "\x81\x00\x00\x06");
}

/* NSH version 1. */
static void
version_1(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH] |= 0x40;
}

/* NSH version 2. */
static void
version_2(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH] |= 0x80;
}

/* The O bit, the U bit and the four U bits before the MD type set. */
static void
oam_and_unassigned_bits(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH] |= 0x30;
    p[OFS_NSH + 2] |= 0xf0;
}

/* Sets the NSH length to 'words'. */
static void
set_length(uint8_t *p, unsigned int words)
{
    p[OFS_NSH + 1] = (p[OFS_NSH + 1] & 0xc0) | words;
}

/* MD type 1 with length 5. */
static void
md1_length_5(uint8_t *p, size_t *len OVS_UNUSED)
{
    set_length(p, 5);
}

/* MD type 1 with length 7. */
static void
md1_length_7(uint8_t *p, size_t *len OVS_UNUSED)
{
    set_length(p, 7);
}

/* MD type 0. */
static void
mdtype_0(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 2] = 0;
}

/* MD type 3. */
static void
mdtype_3(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 2] = 3;
}

/* MD type 15. */
static void
mdtype_15(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 2] = 15;
}

/* MD type 2 with length 1. */
static void
md2_length_1(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 2] = 2;
    set_length(p, 1);
}

/* MD type 2 with no context headers: length 2. */
static void
md2_length_2(uint8_t *p, size_t *len)
{
    p[OFS_NSH + 2] = 2;
    set_length(p, 2);
    memmove(p + OFS_NSH + 8, p + OFS_INNER, *len - OFS_INNER);
    *len -= 16;
}

/* MD type 2 with length 63, beyond the frame. */
static void
md2_length_63(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 2] = 2;
    set_length(p, 63);
}

/* Sets the TTL to 'ttl', per RFC 8300: bits 4 to 9 of the header. */
static void
set_ttl(uint8_t *p, unsigned int ttl)
{
    uint16_t w = p[OFS_NSH] << 8 | p[OFS_NSH + 1];

    w = (w & ~0x0fc0) | ttl << 6;
    p[OFS_NSH] = w >> 8;
    p[OFS_NSH + 1] = w;
}

/* TTL 0. */
static void
ttl_0(uint8_t *p, size_t *len OVS_UNUSED)
{
    set_ttl(p, 0);
}

/* TTL 1. */
static void
ttl_1(uint8_t *p, size_t *len OVS_UNUSED)
{
    set_ttl(p, 1);
}

/* TTL 2. */
static void
ttl_2(uint8_t *p, size_t *len OVS_UNUSED)
{
    set_ttl(p, 2);
}

/* SI 0. */
static void
si_0(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 7] = 0;
}

/* SI 1. */
static void
si_1(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 7] = 1;
}

/* Next protocol 0. */
static void
np_0(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 3] = 0;
}

/* Next protocol NSH. */
static void
np_nsh(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 3] = 4;
}

/* Next protocol MPLS. */
static void
np_mpls(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 3] = 5;
}

/* Next protocol 0xfe (experimental). */
static void
np_experimental(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_NSH + 3] = 0xfe;
}

/* Next protocol IPv4: the inner Ethernet header removed. */
static void
np_ipv4(uint8_t *p, size_t *len)
{
    p[OFS_NSH + 3] = 1;
    memmove(p + OFS_INNER, p + OFS_IP, *len - OFS_IP);
    *len -= 14;
}

/* Next protocol IPv6 in front of an IPv4 packet. */
static void
np_ipv6_on_ipv4(uint8_t *p, size_t *len)
{
    np_ipv4(p, len);
    p[OFS_NSH + 3] = 2;
    memset(p + *len, 0, 40);
    *len += 40;
}

/* Inner Ethernet type ARP. */
static void
inner_arp(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_INNER + 12] = 0x08;
    p[OFS_INNER + 13] = 0x06;
}

/* One 802.1Q tag in the inner Ethernet header. */
static void
inner_vlan(uint8_t *p, size_t *len)
{
    insert(p, len, OFS_INNER + 12, "\x81\x00\x00\x05");
}

/* Inner Ethernet type IPv6 in front of an IPv4 packet (40 bytes
 * longer). */
static void
inner_ipv6_type(uint8_t *p, size_t *len)
{
    p[OFS_INNER + 12] = 0x86;
    p[OFS_INNER + 13] = 0xdd;
    memset(p + *len, 0, 40);
    *len += 40;
}

/* IP version 5. */
static void
ip_version_5(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP] = 0x55;
}

/* IHL 4. */
static void
ihl_4(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP] = 0x44;
}

/* IHL 15: 60 bytes, beyond the frame. */
static void
ihl_15(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP] = 0x4f;
}

/* IHL 6: a 4-byte option (NOPs), total length 44. */
static void
ihl_6(uint8_t *p, size_t *len)
{
    insert(p, len, OFS_IP + 20, "\x01\x01\x01\x01");
    p[OFS_IP] = 0x46;
    p[OFS_IP + 3] = 44;
}

/* IPv4 total length 41, one beyond the frame. */
static void
total_length_41(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP + 3] = 41;
}

/* IPv4 total length 19, shorter than the header. */
static void
total_length_19(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP + 3] = 19;
}

/* 20 bytes of Ethernet padding after the IP packet. */
static void
padded(uint8_t *p, size_t *len)
{
    memset(p + *len, 0xee, 20);
    *len += 20;
}

/* A fragment at offset 8. */
static void
later_fragment(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP + 6] = 0x00;
    p[OFS_IP + 7] = 0x01;
}

/* The last fragment (MF clear, offset 0x1000 * 8). */
static void
last_fragment(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP + 6] = 0x10;
    p[OFS_IP + 7] = 0x00;
}

/* A first fragment: MF set, offset 0. */
static void
first_fragment(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP + 6] = 0x20;
}

/* TCP data offset 4. */
static void
tcp_offset_4(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_L4 + 12] = 0x40;
}

/* TCP data offset 6 with no options: beyond the IP payload. */
static void
tcp_offset_6(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_L4 + 12] = 0x60;
}

/* A 4-byte TCP option: data offset 6, total length 44. */
static void
tcp_option(uint8_t *p, size_t *len)
{
    insert(p, len, OFS_L4 + 20, "\x01\x01\x01\x01");
    p[OFS_L4 + 12] = 0x60;
    p[OFS_IP + 3] = 44;
}

/* Every TCP flag bit set, the 3 reserved bits and NS (AE) included. */
static void
tcp_all_flags(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_L4 + 12] = 0x5f;
    p[OFS_L4 + 13] = 0xff;
}

/* Protocol 47 (GRE): no ports, the IP payload is the L4 payload. */
static void
gre(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP + 9] = 47;
}

/* UDP with the 20 bytes of TCP header as its header and payload. */
static void
udp(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP + 9] = IPPROTO_UDP;
    p[OFS_L4 + 4] = 0;
    p[OFS_L4 + 5] = 20;
}

/* UDP with an IP payload of 7 bytes. */
static void
udp_7_bytes(uint8_t *p, size_t *len)
{
    udp(p, len);
    p[OFS_IP + 3] = 27;
}

/* UDP length 7. */
static void
udp_length_7(uint8_t *p, size_t *len)
{
    udp(p, len);
    p[OFS_L4 + 5] = 7;
}

/* UDP length 21, one beyond the IP payload. */
static void
udp_length_21(uint8_t *p, size_t *len)
{
    udp(p, len);
    p[OFS_L4 + 5] = 21;
}

/* UDP length 21 in a first fragment. */
static void
udp_length_21_first_fragment(uint8_t *p, size_t *len)
{
    udp_length_21(p, len);
    first_fragment(p, len);
}

/* ICMP with an IP payload of 7 bytes. */
static void
icmp_7_bytes(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP + 9] = IPPROTO_ICMP;
    p[OFS_IP + 3] = 27;
}

/* TCP with an IP payload of 19 bytes. */
static void
tcp_19_bytes(uint8_t *p, size_t *len OVS_UNUSED)
{
    p[OFS_IP + 3] = 39;
}

/* Each mutation and the error it must give. */
static const struct {
    const char *name;           /* For the failure message. */
    void (*mutate)(uint8_t *, size_t *); /* Changes the OVS frame. */
    enum nsh_error error;       /* What nsh_parse() must return. */
} mutations[] = {
    { "wrong ethertype", wrong_ethertype, NSH_E_ETHERTYPE },
    { "outer VLAN tag", outer_vlan, NSH_OK },
    { "two outer VLAN tags", outer_two_vlans, NSH_E_ETHERTYPE },
    { "version 1", version_1, NSH_E_VERSION },
    { "version 2", version_2, NSH_E_VERSION },
    { "O and U bits", oam_and_unassigned_bits, NSH_OK },
    { "MD type 1, length 5", md1_length_5, NSH_E_MD1_LENGTH },
    { "MD type 1, length 7", md1_length_7, NSH_E_MD1_LENGTH },
    { "MD type 0", mdtype_0, NSH_E_MDTYPE },
    { "MD type 3", mdtype_3, NSH_E_MDTYPE },
    { "MD type 15", mdtype_15, NSH_E_MDTYPE },
    { "MD type 2, length 1", md2_length_1, NSH_E_MD2_LENGTH },
    { "MD type 2, length 2", md2_length_2, NSH_OK },
    { "MD type 2, length 63", md2_length_63, NSH_E_CONTEXT_TRUNCATED },
    { "TTL 0", ttl_0, NSH_E_TTL_EXPIRED },
    { "TTL 1", ttl_1, NSH_E_TTL_EXPIRED },
    { "TTL 2", ttl_2, NSH_OK },
    { "SI 0", si_0, NSH_E_SI_ZERO },
    { "SI 1", si_1, NSH_OK },
    { "next protocol 0", np_0, NSH_E_NEXT_PROTO },
    { "next protocol NSH", np_nsh, NSH_E_NEXT_PROTO },
    { "next protocol MPLS", np_mpls, NSH_E_NEXT_PROTO },
    { "next protocol 0xfe", np_experimental, NSH_E_NEXT_PROTO },
    { "next protocol IPv4", np_ipv4, NSH_OK },
    { "next protocol IPv6, IPv4 inside", np_ipv6_on_ipv4, NSH_E_IP_VERSION },
    { "inner ARP", inner_arp, NSH_E_INNER_ETHERTYPE },
    { "inner VLAN tag", inner_vlan, NSH_OK },
    { "inner type IPv6, IPv4 inside", inner_ipv6_type, NSH_E_IP_VERSION },
    { "IP version 5", ip_version_5, NSH_E_IP_VERSION },
    { "IHL 4", ihl_4, NSH_E_IP_IHL },
    { "IHL 15", ihl_15, NSH_E_IP_TRUNCATED },
    { "IHL 6", ihl_6, NSH_OK },
    { "total length 41", total_length_41, NSH_E_IP_LENGTH },
    { "total length 19", total_length_19, NSH_E_IP_LENGTH },
    { "Ethernet padding", padded, NSH_OK },
    { "later fragment", later_fragment, NSH_E_IP_FRAGMENT },
    { "last fragment", last_fragment, NSH_E_IP_FRAGMENT },
    { "first fragment", first_fragment, NSH_OK },
    { "TCP data offset 4", tcp_offset_4, NSH_E_TCP_OFFSET },
    { "TCP data offset 6, no room", tcp_offset_6, NSH_E_TCP_TRUNCATED },
    { "TCP option", tcp_option, NSH_OK },
    { "TCP flags, all 12 bits", tcp_all_flags, NSH_OK },
    { "TCP header cut", tcp_19_bytes, NSH_E_TCP_TRUNCATED },
    { "GRE", gre, NSH_OK },
    { "UDP", udp, NSH_OK },
    { "UDP header cut", udp_7_bytes, NSH_E_UDP_TRUNCATED },
    { "UDP length 7", udp_length_7, NSH_E_UDP_LENGTH },
    { "UDP length 21", udp_length_21, NSH_E_UDP_LENGTH },
    { "UDP length 21, first fragment", udp_length_21_first_fragment,
      NSH_OK },
    { "ICMP header cut", icmp_7_bytes, NSH_E_ICMP_TRUNCATED },
};

/* Each mutation of the OVS frame gives its own error, or none. */
static void
test_malformed(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(mutations); i++) {
        struct nsh_frame f;
        enum nsh_error error = parse_mutated(mutations[i].mutate, &f);

        CU_ASSERT_EQUAL(error, mutations[i].error);
        if (error != mutations[i].error) {
            printf("\n%s: got %s, want %s\n", mutations[i].name,
                   nsh_error_name(error),
                   nsh_error_name(mutations[i].error));
        }
    }
}

/* The frames that the mutations leave valid have the right fields. */
static void
test_valid_variants(void)
{
    struct nsh_frame f;

    CU_ASSERT_EQUAL_FATAL(parse_mutated(outer_vlan, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.nsh_ofs, 18);
    CU_ASSERT_EQUAL(f.inner_ofs, 42);
    CU_ASSERT_EQUAL(f.l3_ofs, 56);
    CU_ASSERT_EQUAL(f.dst_port, 80);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(oam_and_unassigned_bits, &f),
                          NSH_OK);
    CU_ASSERT(f.oam);
    CU_ASSERT_EQUAL(f.ttl, 63);
    CU_ASSERT_EQUAL(f.mdtype, 1);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(md2_length_2, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.mdtype, 2);
    CU_ASSERT_EQUAL(f.length, 2);
    CU_ASSERT_EQUAL(f.inner_ofs, OFS_NSH + 8);
    CU_ASSERT_EQUAL(f.c1, 0);
    CU_ASSERT_EQUAL(f.src_port, 40000);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(ttl_2, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.ttl, 2);
    CU_ASSERT_EQUAL(f.length, 6);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(np_ipv4, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.np, NSH_P_IPV4);
    CU_ASSERT_EQUAL(f.inner_ofs, OFS_INNER);
    CU_ASSERT_EQUAL(f.l3_ofs, OFS_INNER);
    CU_ASSERT_EQUAL(f.l4_ofs, OFS_INNER + 20);
    CU_ASSERT_EQUAL(f.src_port, 40000);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(inner_vlan, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.inner_ofs, OFS_INNER);
    CU_ASSERT_EQUAL(f.l3_ofs, OFS_IP + 4);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(ihl_6, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.l4_ofs, OFS_L4 + 4);
    CU_ASSERT_EQUAL(f.dst_port, 80);
    CU_ASSERT_EQUAL(f.payload_len, 0);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(padded, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.l3_len, 40);
    CU_ASSERT_EQUAL(f.payload_len, 0);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(first_fragment, &f), NSH_OK);
    CU_ASSERT(f.ip_first_fragment);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(tcp_option, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.payload_ofs, OFS_L4 + 24);
    CU_ASSERT_EQUAL(f.payload_len, 0);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(tcp_all_flags, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.tcp_flags, 0xfff);
    CU_ASSERT_EQUAL(f.payload_ofs, OFS_L4 + 20);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(gre, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.ip_proto, 47);
    CU_ASSERT_EQUAL(f.src_port, 0);
    CU_ASSERT_EQUAL(f.dst_port, 0);
    CU_ASSERT_EQUAL(f.tcp_flags, 0);
    CU_ASSERT_EQUAL(f.payload_ofs, OFS_L4);
    CU_ASSERT_EQUAL(f.payload_len, 20);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(udp, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.ip_proto, IPPROTO_UDP);
    CU_ASSERT_EQUAL(f.src_port, 40000);
    CU_ASSERT_EQUAL(f.payload_ofs, OFS_L4 + 8);
    CU_ASSERT_EQUAL(f.payload_len, 12);

    CU_ASSERT_EQUAL_FATAL(parse_mutated(udp_length_21_first_fragment, &f),
                          NSH_OK);
    CU_ASSERT_EQUAL(f.payload_len, 12);
}

/* Error names: distinct, and "unknown" only out of range. */
static void
test_error_names(void)
{
    CU_ASSERT_STRING_EQUAL(nsh_error_name(NSH_OK), "ok");
    CU_ASSERT_STRING_EQUAL(nsh_error_name(NSH_E_TTL_EXPIRED),
                           "nsh-ttl-expired");
    CU_ASSERT_STRING_EQUAL(nsh_error_name(NSH_N_ERRORS), "unknown");
    CU_ASSERT_STRING_EQUAL(nsh_error_name((enum nsh_error) 1000), "unknown");
    for (int i = 0; i < NSH_N_ERRORS; i++) {
        const char *name = nsh_error_name(i);

        CU_ASSERT(name[0] != '\0');
        CU_ASSERT_STRING_NOT_EQUAL(name, "unknown");
        for (int j = 0; j < i; j++) {
            CU_ASSERT_STRING_NOT_EQUAL(name, nsh_error_name(j));
        }
    }
}

/* Parses the frame 'spec' describes into 'f' and its key into 'key';
 * returns the direction flag. */
static bool
key_of(const struct nsh_build_spec *spec, struct nsh_frame *f,
       struct nsh_stream_key *key)
{
    uint8_t buf[256];
    size_t len = build(spec, buf, sizeof buf);

    CU_ASSERT_EQUAL_FATAL(nsh_parse(buf, len, f), NSH_OK);
    memset(key, 0xcc, sizeof *key);
    return nsh_stream_key_init(key, f);
}

/* Returns 'spec' with source and destination swapped. */
static struct nsh_build_spec
reversed(const struct nsh_build_spec *spec)
{
    struct nsh_build_spec r = *spec;

    r.ip_src = spec->ip_dst;
    r.ip_dst = spec->ip_src;
    r.src_port = spec->dst_port;
    r.dst_port = spec->src_port;
    r.spi = spec->spi + 1;
    r.inner_src = spec->inner_dst;
    r.inner_dst = spec->inner_src;
    return r;
}

/* Checks that the two directions of the stream 'spec' describes give
 * equal keys and hashes and opposite direction flags, and that the lower
 * endpoint is 'lo'/'lo_port'. */
static void
check_symmetric(const struct nsh_build_spec *spec,
                const struct in6_addr *lo, uint16_t lo_port)
{
    struct nsh_build_spec back = reversed(spec);
    struct nsh_stream_key k1, k2;
    struct nsh_frame f1, f2;
    bool up1 = key_of(spec, &f1, &k1);
    bool up2 = key_of(&back, &f2, &k2);

    CU_ASSERT(nsh_stream_key_equal(&k1, &k2));
    CU_ASSERT_EQUAL(memcmp(&k1, &k2, sizeof k1), 0);
    CU_ASSERT_EQUAL(nsh_stream_key_hash(&k1, 0), nsh_stream_key_hash(&k2, 0));
    CU_ASSERT_EQUAL(nsh_stream_key_hash(&k1, 77),
                    nsh_stream_key_hash(&k2, 77));
    CU_ASSERT_NOT_EQUAL(up1, up2);
    CU_ASSERT(addr_eq(&k1.lo_addr, lo));
    CU_ASSERT_EQUAL(k1.lo_port, lo_port);
    CU_ASSERT_EQUAL(k1.proto, spec->ip_proto);
    CU_ASSERT_EQUAL(k1.pad[0] | k1.pad[1] | k1.pad[2], 0);
    /* The packet from 'lo' goes up. */
    CU_ASSERT_EQUAL(up1, addr_eq(&spec->ip_src, lo)
                         && spec->src_port == lo_port);
}

/* Both directions of a stream give the same key. */
static void
test_stream_key_symmetric(void)
{
    struct in6_addr a = ip4(10, 0, 0, 1), b = ip4(10, 0, 0, 2);
    struct nsh_build_spec spec;

    nsh_build_spec_init(&spec);
    check_symmetric(&spec, &a, 40000);

    /* The address decides before the port. */
    spec.src_port = 80;
    spec.dst_port = 40000;
    check_symmetric(&spec, &a, 80);
    spec.ip_src = b;
    spec.ip_dst = a;
    check_symmetric(&spec, &a, 40000);

    /* Same address: the port decides. */
    spec.ip_dst = b;
    check_symmetric(&spec, &b, 80);

    /* UDP, and addresses whose order differs from their last byte's. */
    spec.ip_proto = IPPROTO_UDP;
    spec.ip_src = ip4(192, 168, 0, 1);
    spec.ip_dst = ip4(10, 0, 0, 200);
    check_symmetric(&spec, &spec.ip_dst, 40000);

    /* IPv6. */
    spec.ip_version = 6;
    spec.ip_proto = IPPROTO_TCP;
    spec.ip_src = ip6(7);
    spec.ip_dst = ip6(3);
    check_symmetric(&spec, &spec.ip_dst, 40000);
}

/* ICMP has no ports, so both directions give the same key; a packet to
 * itself is "up". */
static void
test_stream_key_no_ports(void)
{
    struct nsh_build_spec spec, back;
    struct nsh_stream_key k1, k2;
    struct nsh_frame f;

    nsh_build_spec_init(&spec);
    spec.ip_proto = IPPROTO_ICMP;
    back = reversed(&spec);
    CU_ASSERT_TRUE(key_of(&spec, &f, &k1));
    CU_ASSERT_FALSE(key_of(&back, &f, &k2));
    CU_ASSERT(nsh_stream_key_equal(&k1, &k2));
    CU_ASSERT_EQUAL(k1.lo_port, 0);
    CU_ASSERT_EQUAL(k1.hi_port, 0);

    spec.ip_dst = spec.ip_src;
    CU_ASSERT_TRUE(key_of(&spec, &f, &k1));
}

/* Different streams give different keys, and here different hashes. */
static void
test_stream_key_different(void)
{
    struct nsh_build_spec base, spec;
    struct nsh_stream_key k0, k;
    struct nsh_frame f;

    nsh_build_spec_init(&base);
    key_of(&base, &f, &k0);

#define DIFFERENT(FIELD, VALUE)                                         \
    do {                                                                \
        spec = base;                                                    \
        spec.FIELD = VALUE;                                             \
        key_of(&spec, &f, &k);                                          \
        CU_ASSERT_FALSE(nsh_stream_key_equal(&k0, &k));                 \
        CU_ASSERT_NOT_EQUAL(nsh_stream_key_hash(&k0, 0),                \
                            nsh_stream_key_hash(&k, 0));                \
    } while (0)
    DIFFERENT(src_port, 40001);
    DIFFERENT(dst_port, 81);
    DIFFERENT(ip_proto, IPPROTO_UDP);
    DIFFERENT(ip_src, ip4(10, 0, 0, 3));
    DIFFERENT(ip_dst, ip4(10, 0, 0, 3));
#undef DIFFERENT

    /* Swapping only the ports is another stream. */
    spec = base;
    spec.src_port = base.dst_port;
    spec.dst_port = base.src_port;
    key_of(&spec, &f, &k);
    CU_ASSERT_FALSE(nsh_stream_key_equal(&k0, &k));

    /* The chain, the SI and the code are not part of the stream. */
    spec = base;
    spec.spi = 0x65;
    spec.si = 254;
    spec.c1 = 0x1234;
    key_of(&spec, &f, &k);
    CU_ASSERT(nsh_stream_key_equal(&k0, &k));

    /* Equality ignores the padding. */
    k = k0;
    k.pad[1] = 9;
    CU_ASSERT(nsh_stream_key_equal(&k0, &k));
    CU_ASSERT_EQUAL(nsh_stream_key_hash(&k0, 5), nsh_stream_key_hash(&k, 5));
    k.hi_port++;
    CU_ASSERT_FALSE(nsh_stream_key_equal(&k0, &k));

    /* The basis matters. */
    CU_ASSERT_NOT_EQUAL(nsh_stream_key_hash(&k0, 0),
                        nsh_stream_key_hash(&k0, 1));
}

/* nsh_forward() on the OVS frame: the exact bytes of the result. */
static void
test_forward_ovs_frame(void)
{
    static const struct eth_addr own = {{{ 2, 0, 0, 0, 1, 1 }}};
    uint8_t buf[256], before[256];
    size_t len = ovs_frame(buf, sizeof buf);
    struct nsh_frame f, g;

    buf[6] = 0x02;              /* A source to move: 02:00:00:00:00:fe. */
    buf[11] = 0xfe;
    memcpy(before, buf, len);
    CU_ASSERT_EQUAL_FATAL(nsh_parse(buf, len, &f), NSH_OK);
    CU_ASSERT_EQUAL(nsh_forward(buf, &f, &own), NSH_OK);

    /* TTL 62 = 0b111110: byte 0 keeps 0b1111, byte 1 gets 0b10 on top. */
    CU_ASSERT_EQUAL(buf[OFS_NSH], 0x0f);
    CU_ASSERT_EQUAL(buf[OFS_NSH + 1], 0x86);
    CU_ASSERT_EQUAL(buf[OFS_NSH + 7], 0xfe);
    CU_ASSERT_EQUAL(memcmp(buf, "\x02\x00\x00\x00\x00\xfe", 6), 0);
    CU_ASSERT_EQUAL(memcmp(buf + 6, own.ea, 6), 0);
    for (size_t i = 12; i < len; i++) {
        if (i != OFS_NSH && i != OFS_NSH + 1 && i != OFS_NSH + 7) {
            CU_ASSERT_EQUAL(buf[i], before[i]);
        }
    }

    /* The result parses with only TTL and SI changed. */
    CU_ASSERT_EQUAL_FATAL(nsh_parse(buf, len, &g), NSH_OK);
    CU_ASSERT_EQUAL(g.ttl, 62);
    CU_ASSERT_EQUAL(g.si, 254);
    g.ttl = f.ttl;
    g.si = f.si;
    CU_ASSERT_EQUAL(memcmp(&f, &g, sizeof f), 0);
}

/* nsh_forward() changes the 6 TTL bits only, for every TTL and with the
 * other bits of the first two bytes all 0 or all 1. */
static void
test_forward_ttl_bits(void)
{
    static const struct eth_addr own = {{{ 2, 0, 0, 0, 9, 9 }}};
    uint8_t buf[256];
    size_t len = ovs_frame(buf, sizeof buf);
    struct nsh_frame f;

    CU_ASSERT_EQUAL_FATAL(nsh_parse(buf, len, &f), NSH_OK);
    for (unsigned int others = 0; others <= 1; others++) {
        for (unsigned int ttl = 2; ttl <= 63; ttl++) {
            /* RFC 8300: the TTL is bits 4..9 of the first 16, 0x0fc0. */
            uint16_t w = (others ? 0xffff & ~0x0fc0 : 0) | ttl << 6;
            uint16_t w2;

            buf[OFS_NSH] = w >> 8;
            buf[OFS_NSH + 1] = w;
            buf[OFS_NSH + 7] = 9;
            CU_ASSERT_EQUAL_FATAL(nsh_forward(buf, &f, &own), NSH_OK);
            w2 = buf[OFS_NSH] << 8 | buf[OFS_NSH + 1];
            CU_ASSERT_EQUAL(w2 & 0x0fc0, (ttl - 1) << 6);
            CU_ASSERT_EQUAL(w2 & ~0x0fc0, w & ~0x0fc0);
            CU_ASSERT_EQUAL(buf[OFS_NSH + 7], 8);
        }
    }
}

/* nsh_forward() refuses TTL 0 and 1 and SI 0, leaving the frame alone;
 * SI 1 becomes 0 and TTL 2 becomes 1, which nsh_parse() then refuses. */
static void
test_forward_refusals(void)
{
    static const struct eth_addr own = {{{ 2, 0, 0, 0, 9, 9 }}};
    uint8_t buf[256], before[256];
    size_t len = ovs_frame(buf, sizeof buf);
    struct nsh_frame f;

    CU_ASSERT_EQUAL_FATAL(nsh_parse(buf, len, &f), NSH_OK);

    set_ttl(buf, 1);
    memcpy(before, buf, len);
    CU_ASSERT_EQUAL(nsh_forward(buf, &f, &own), NSH_E_TTL_EXPIRED);
    CU_ASSERT_EQUAL(memcmp(buf, before, len), 0);

    set_ttl(buf, 0);
    memcpy(before, buf, len);
    CU_ASSERT_EQUAL(nsh_forward(buf, &f, &own), NSH_E_TTL_EXPIRED);
    CU_ASSERT_EQUAL(memcmp(buf, before, len), 0);

    set_ttl(buf, 63);
    buf[OFS_NSH + 7] = 0;
    memcpy(before, buf, len);
    CU_ASSERT_EQUAL(nsh_forward(buf, &f, &own), NSH_E_SI_ZERO);
    CU_ASSERT_EQUAL(memcmp(buf, before, len), 0);

    buf[OFS_NSH + 7] = 1;
    CU_ASSERT_EQUAL(nsh_forward(buf, &f, &own), NSH_OK);
    CU_ASSERT_EQUAL(buf[OFS_NSH + 7], 0);
    CU_ASSERT_EQUAL(nsh_parse(buf, len, &f), NSH_E_SI_ZERO);

    ovs_frame(buf, sizeof buf);
    set_ttl(buf, 2);
    CU_ASSERT_EQUAL_FATAL(nsh_parse(buf, len, &f), NSH_OK);
    CU_ASSERT_EQUAL(nsh_forward(buf, &f, &own), NSH_OK);
    CU_ASSERT_EQUAL(nsh_parse(buf, len, &f), NSH_E_TTL_EXPIRED);
    CU_ASSERT_EQUAL(f.ttl, 1);
}

/* nsh_forward() finds the NSH header behind an outer VLAN tag. */
static void
test_forward_tagged(void)
{
    static const struct eth_addr own = {{{ 2, 0, 0, 0, 9, 9 }}};
    uint8_t buf[256];
    size_t len = ovs_frame(buf, sizeof buf);
    struct nsh_frame f;

    outer_vlan(buf, &len);
    CU_ASSERT_EQUAL_FATAL(nsh_parse(buf, len, &f), NSH_OK);
    CU_ASSERT_EQUAL(nsh_forward(buf, &f, &own), NSH_OK);
    CU_ASSERT_EQUAL(memcmp(buf + 12, "\x81\x00\x00\x05\x89\x4f", 6), 0);
    CU_ASSERT_EQUAL(buf[18], 0x0f);
    CU_ASSERT_EQUAL(buf[19], 0x86);
    CU_ASSERT_EQUAL(buf[25], 254);
}

/* nsh_bucket() masks C1 to the bucket count. */
static void
test_bucket(void)
{
    uint8_t buf[256];
    size_t len = ovs_frame(buf, sizeof buf);
    struct nsh_frame f;

    CU_ASSERT_EQUAL_FATAL(nsh_parse(buf, len, &f), NSH_OK);
    CU_ASSERT_EQUAL(nsh_bucket(&f, 256), 0x57);
    CU_ASSERT_EQUAL(nsh_bucket(&f, 16), 0x7);
    CU_ASSERT_EQUAL(nsh_bucket(&f, 1), 0);

    memcpy(buf + OFS_NSH + 8, "\x12\x34\x56\x78", 4);
    CU_ASSERT_EQUAL_FATAL(nsh_parse(buf, len, &f), NSH_OK);
    CU_ASSERT_EQUAL(f.c1, 0x12345678);
    CU_ASSERT_EQUAL(nsh_bucket(&f, 256), 0x78);
    CU_ASSERT_EQUAL(nsh_bucket(&f, 4096), 0x678);
    CU_ASSERT_EQUAL(nsh_bucket(&f, 65536), 0x5678);
    CU_ASSERT_EQUAL(nsh_bucket(&f, 1u << 31), 0x12345678);
    CU_ASSERT_EQUAL(nsh_bucket(&f, 0), 0x12345678);
    f.c1 = 0xffffffff;
    CU_ASSERT_EQUAL(nsh_bucket(&f, 256), 0xff);
    CU_ASSERT_EQUAL(nsh_bucket(&f, 1u << 31), 0x7fffffff);
}

static const struct test_case nsh_tests[] = {
    { "OVS frame: every field", test_ovs_frame_fields },
    { "OVS frame: first bytes per RFC 8300", test_rfc_first_bytes },
    { "nsh_build() makes the OVS frame", test_build_matches_ovs },
    { "nsh_build() round trip", test_build_round_trip },
    { "nsh_build() UDP checksum 0", test_build_udp_checksum_zero },
    { "nsh_build() refusals", test_build_refusals },
    { "truncated OVS frame", test_truncated_ovs_frame },
    { "truncated frames of other kinds", test_truncated_other_frames },
    { "malformed frames", test_malformed },
    { "valid variants", test_valid_variants },
    { "error names", test_error_names },
    { "stream key: both directions", test_stream_key_symmetric },
    { "stream key: no ports", test_stream_key_no_ports },
    { "stream key: different streams", test_stream_key_different },
    { "forward: OVS frame", test_forward_ovs_frame },
    { "forward: TTL bits", test_forward_ttl_bits },
    { "forward: refusals", test_forward_refusals },
    { "forward: tagged", test_forward_tagged },
    { "bucket", test_bucket },
    { NULL, NULL },
};
TEST_SUITE("nsh", nsh_tests)
