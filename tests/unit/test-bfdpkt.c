/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bfdpkt.h"
#include "byte-order.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "tests.h"

/* A BFD control packet as OVS 3.1 (userspace datapath) sends it out of a
 * veth port set with bfd:enable=true bfd:min_tx=5 bfd:min_rx=5, before it
 * has heard anything, captured on the other end of the veth: state Down,
 * Desired Min TX 1 s (OVS's floor while not Up), Required Min RX 5 ms. */
static const char ovs_frame_hex[] =
    "0023 2000 0001 16d8 206c d674 0800"        /* Ethernet. */
    "45c0 0034 0000 0000 ff11 64fb"             /* IPv4. */
    "a9fe 0101 a9fe 0100"
    "c000 0ec8 0020 0000"                       /* UDP. */
    "2040 0318 4b99 9ba6 0000 0000"             /* BFD. */
    "000f 4240 0000 1388 0000 0000";

/* Offsets in the frame. */
#define OFS_IP 14
#define OFS_UDP 34
#define OFS_BFD 42

/* Stores the OVS frame at 'buf' (room for 'size' bytes) and returns its
 * length. */
static size_t
ovs_frame(uint8_t *buf, size_t size)
{
    size_t len = tests_from_hex(ovs_frame_hex, buf, size);

    CU_ASSERT_EQUAL_FATAL(len, BFDPKT_FRAME_LEN);
    return len;
}

/* Parses the 'len' bytes at 'frame' from a heap copy of exactly that size,
 * so that AddressSanitizer catches any read past the end, into '*ctl';
 * also checks that bfdpkt_is_bfd() agrees with a success. */
static enum bfdpkt_error
parse_exact(const uint8_t *frame, size_t len, struct bfdpkt_ctl *ctl)
{
    uint8_t *copy = malloc(len ? len : 1);
    enum bfdpkt_error error;
    bool is_bfd;

    CU_ASSERT_FATAL(copy != NULL);
    if (len) {
        memcpy(copy, frame, len);
    }
    error = bfdpkt_parse(copy, len, ctl);
    is_bfd = bfdpkt_is_bfd(copy, len);
    free(copy);
    if (!error) {
        CU_ASSERT(is_bfd);
    }
    return error;
}

/* Returns the Internet checksum of the 'n' bytes at 'p' (an even number),
 * computed here byte by byte: 0 over a header with a right checksum. */
static uint16_t
inet_csum(const uint8_t *p, size_t n)
{
    uint32_t sum = 0;

    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += p[i] << 8 | p[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return ~sum & 0xffff;
}

/* Recomputes the IPv4 header checksum of the frame at 'buf', after a test
 * changed the header, so that the change and not the checksum is what the
 * parser finds. */
static void
fix_ip_csum(uint8_t *buf)
{
    size_t ihl = (buf[OFS_IP] & 0x0f) * 4;
    uint16_t sum;

    buf[OFS_IP + 10] = buf[OFS_IP + 11] = 0;
    sum = inet_csum(buf + OFS_IP, ihl);
    buf[OFS_IP + 10] = sum >> 8;
    buf[OFS_IP + 11] = sum;
}

/* Returns a control packet with every field set to something distinct. */
static struct bfdpkt_ctl
sample_ctl(void)
{
    struct bfdpkt_ctl ctl;

    memset(&ctl, 0, sizeof ctl);
    ctl.eth_src = (struct eth_addr) {{{ 0x02, 0x5a, 0, 0, 0x01, 0x02 }}};
    ctl.eth_dst = (struct eth_addr) {{{ 0x16, 0xd8, 0x20, 0x6c, 0xd6,
                                        0x74 }}};
    ctl.ip_src = htonl(0xa9fe0100);
    ctl.ip_dst = htonl(0xa9fe0101);
    ctl.udp_src = 50001;
    ctl.version = BFDPKT_VERSION;
    ctl.diag = BFDPKT_DIAG_EXPIRED;
    ctl.state = BFDPKT_STATE_UP;
    ctl.poll = true;
    ctl.cpi = true;
    ctl.detect_mult = 3;
    ctl.length = BFDPKT_CTL_LEN;
    ctl.my_disc = 0x01020304;
    ctl.your_disc = 0xa0b0c0d0;
    ctl.desired_min_tx_us = 5000;
    ctl.required_min_rx_us = 6000;
    ctl.required_min_echo_rx_us = 7000;
    return ctl;
}

/* Builds 'ctl' into 'buf' (room for 'size') and returns the length,
 * failing the test if it cannot be built. */
static size_t
build(const struct bfdpkt_ctl *ctl, uint8_t *buf, size_t size)
{
    size_t len = bfdpkt_build(ctl, buf, size);

    CU_ASSERT_EQUAL_FATAL(len, BFDPKT_FRAME_LEN);
    return len;
}

/* Returns true if 'a' and 'b' have the same fields (padding included: both
 * come from memset structures). */
static bool
ctl_equal(const struct bfdpkt_ctl *a, const struct bfdpkt_ctl *b)
{
    return !memcmp(a, b, sizeof *a);
}

/* The OVS frame, parsed: every field. */
static void
test_ovs_frame_fields(void)
{
    static const struct eth_addr dst = {{{ 0, 0x23, 0x20, 0, 0, 1 }}};
    static const struct eth_addr src = {{{ 0x16, 0xd8, 0x20, 0x6c, 0xd6,
                                           0x74 }}};
    uint8_t buf[128];
    size_t len = ovs_frame(buf, sizeof buf);
    struct bfdpkt_ctl ctl;

    CU_ASSERT_EQUAL_FATAL(parse_exact(buf, len, &ctl), BFDPKT_OK);
    CU_ASSERT(eth_addr_equals(ctl.eth_dst, dst));
    CU_ASSERT(eth_addr_equals(ctl.eth_dst, eth_addr_bfd));
    CU_ASSERT(eth_addr_equals(ctl.eth_src, src));
    CU_ASSERT_EQUAL(ntohl(ctl.ip_src), 0xa9fe0101);
    CU_ASSERT_EQUAL(ntohl(ctl.ip_dst), 0xa9fe0100);
    CU_ASSERT_EQUAL(ctl.udp_src, 49152);
    CU_ASSERT_EQUAL(ctl.version, 1);
    CU_ASSERT_EQUAL(ctl.diag, BFDPKT_DIAG_NONE);
    CU_ASSERT_EQUAL(ctl.state, BFDPKT_STATE_DOWN);
    CU_ASSERT_FALSE(ctl.poll || ctl.final || ctl.cpi || ctl.auth
                    || ctl.demand || ctl.multipoint);
    CU_ASSERT_EQUAL(ctl.detect_mult, 3);
    CU_ASSERT_EQUAL(ctl.length, 24);
    CU_ASSERT_EQUAL(ctl.my_disc, 0x4b999ba6);
    CU_ASSERT_EQUAL(ctl.your_disc, 0);
    CU_ASSERT_EQUAL(ctl.desired_min_tx_us, 1000000);
    CU_ASSERT_EQUAL(ctl.required_min_rx_us, 5000);
    CU_ASSERT_EQUAL(ctl.required_min_echo_rx_us, 0);
}

/* Building the OVS frame's fields gives OVS's bytes exactly: the same IPv4
 * header (TOS, TTL, no id, no fragment bits), UDP checksum 0. */
static void
test_build_matches_ovs(void)
{
    uint8_t ovs[128], buf[128];
    size_t len = ovs_frame(ovs, sizeof ovs);
    struct bfdpkt_ctl ctl;

    CU_ASSERT_EQUAL_FATAL(parse_exact(ovs, len, &ctl), BFDPKT_OK);
    CU_ASSERT_EQUAL_FATAL(build(&ctl, buf, sizeof buf), len);
    CU_ASSERT(!memcmp(buf, ovs, len));
}

/* Every state, diag and flag but A and M survive a build and a parse. */
static void
test_round_trip(void)
{
    static const enum bfdpkt_state states[] = {
        BFDPKT_STATE_ADMIN_DOWN, BFDPKT_STATE_DOWN, BFDPKT_STATE_INIT,
        BFDPKT_STATE_UP,
    };

    for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
        for (int diag = 0; diag < 32; diag += 5) {
            for (int flags = 0; flags < 16; flags++) {
                struct bfdpkt_ctl ctl = sample_ctl(), back;
                uint8_t buf[BFDPKT_FRAME_LEN];

                ctl.state = states[i];
                ctl.diag = diag;
                ctl.poll = flags & 1;
                ctl.final = flags & 2;
                ctl.cpi = flags & 4;
                ctl.demand = flags & 8;
                ctl.my_disc += flags;
                ctl.your_disc = i & 1 ? 0 : ctl.your_disc;
                if (!ctl.your_disc && ctl.state > BFDPKT_STATE_DOWN) {
                    ctl.your_disc = 1;
                }
                build(&ctl, buf, sizeof buf);
                CU_ASSERT_EQUAL_FATAL(parse_exact(buf, sizeof buf, &back),
                                      BFDPKT_OK);
                CU_ASSERT(ctl_equal(&ctl, &back));
                CU_ASSERT_EQUAL(bfdpkt_check(&back), BFDPKT_OK);
            }
        }
    }
}

/* Extreme values of the numeric fields survive too. */
static void
test_round_trip_extremes(void)
{
    struct bfdpkt_ctl ctl = sample_ctl(), back;
    uint8_t buf[BFDPKT_FRAME_LEN];

    ctl.detect_mult = 255;
    ctl.my_disc = ctl.your_disc = UINT32_MAX;
    ctl.desired_min_tx_us = ctl.required_min_rx_us = UINT32_MAX;
    ctl.required_min_echo_rx_us = UINT32_MAX;
    ctl.udp_src = 65535;
    ctl.ip_src = ctl.ip_dst = htonl(UINT32_MAX);
    ctl.eth_src = ctl.eth_dst = eth_addr_broadcast;
    build(&ctl, buf, sizeof buf);
    CU_ASSERT_EQUAL_FATAL(parse_exact(buf, sizeof buf, &back), BFDPKT_OK);
    CU_ASSERT(ctl_equal(&ctl, &back));

    ctl.detect_mult = 1;
    ctl.my_disc = 1;
    ctl.your_disc = 0;
    ctl.state = BFDPKT_STATE_ADMIN_DOWN;
    ctl.desired_min_tx_us = ctl.required_min_rx_us = 0;
    ctl.required_min_echo_rx_us = 0;
    ctl.udp_src = 0;
    ctl.ip_src = ctl.ip_dst = htonl(0);
    ctl.eth_src = ctl.eth_dst = eth_addr_zero;
    build(&ctl, buf, sizeof buf);
    CU_ASSERT_EQUAL_FATAL(parse_exact(buf, sizeof buf, &back), BFDPKT_OK);
    CU_ASSERT(ctl_equal(&ctl, &back));
}

/* What bfdpkt_build() writes whatever the structure says: version 1,
 * Length 24, a right IPv4 checksum, TTL 255, UDP to 3784 with checksum 0,
 * and the low 5 bits of the diag only. */
static void
test_build_fixed_fields(void)
{
    struct bfdpkt_ctl ctl = sample_ctl(), back;
    uint8_t buf[BFDPKT_FRAME_LEN + 10];

    ctl.version = 7;
    ctl.length = 99;
    ctl.diag = 0x21;
    memset(buf, 0xee, sizeof buf);
    CU_ASSERT_EQUAL_FATAL(bfdpkt_build(&ctl, buf, sizeof buf),
                          BFDPKT_FRAME_LEN);
    CU_ASSERT_EQUAL(buf[BFDPKT_FRAME_LEN], 0xee);
    CU_ASSERT_EQUAL(inet_csum(buf + OFS_IP, 20), 0);
    CU_ASSERT_EQUAL(buf[OFS_IP + 8], 255);
    CU_ASSERT_EQUAL(buf[OFS_IP + 9], IPPROTO_UDP);
    CU_ASSERT_EQUAL(buf[OFS_UDP + 2] << 8 | buf[OFS_UDP + 3], 3784);
    CU_ASSERT_EQUAL(buf[OFS_UDP + 4] << 8 | buf[OFS_UDP + 5], 32);
    CU_ASSERT_EQUAL(buf[OFS_UDP + 6] | buf[OFS_UDP + 7], 0);
    CU_ASSERT_EQUAL(buf[OFS_BFD] >> 5, 1);
    CU_ASSERT_EQUAL(buf[OFS_BFD + 3], 24);
    CU_ASSERT_EQUAL_FATAL(parse_exact(buf, BFDPKT_FRAME_LEN, &back),
                          BFDPKT_OK);
    CU_ASSERT_EQUAL(back.version, 1);
    CU_ASSERT_EQUAL(back.length, 24);
    CU_ASSERT_EQUAL(back.diag, 1);

    CU_ASSERT_EQUAL(bfdpkt_build(&ctl, buf, BFDPKT_FRAME_LEN - 1), 0);
    CU_ASSERT_EQUAL(bfdpkt_build(&ctl, buf, 0), 0);
}

/* A change to the OVS frame: up to 4 bytes set, starting at 'ofs' (bytes
 * beyond 'n' untouched), and a new length if 'len' is not 0. */
struct patch {
    const char *name;           /* For failure messages. */
    size_t ofs;                 /* First byte changed. */
    int n;                      /* Bytes changed, 0 to 4. */
    uint8_t bytes[4];           /* Their new values. */
    size_t len;                 /* New frame length, or 0 to keep it. */
    bool keep_csum;             /* Leave the IPv4 checksum as it is after
                                 * the change (else it is fixed, so that
                                 * the change, not the checksum, is what
                                 * the parser finds). */
    enum bfdpkt_error error;    /* What bfdpkt_parse() must say. */
};

/* The malformed cases: each makes the OVS frame wrong in one way.  The
 * flags byte of the OVS frame is 0x40 (Down, no flags). */
static const struct patch malformed[] = {
    { "IPv6 type", 12, 2, { 0x86, 0xdd }, 0, false, BFDPKT_E_ETHERTYPE },
    { "ARP type", 12, 2, { 0x08, 0x06 }, 0, false, BFDPKT_E_ETHERTYPE },
    { "IP version 6", OFS_IP, 1, { 0x65 }, 0, true, BFDPKT_E_IP_VERSION },
    { "IHL 4", OFS_IP, 1, { 0x44 }, 0, true, BFDPKT_E_IP_IHL },
    { "IHL beyond frame", OFS_IP, 1, { 0x4f }, OFS_IP + 40, true,
      BFDPKT_E_IP_TRUNCATED },
    { "total length long", OFS_IP + 2, 2, { 0, 53 }, 0, false,
      BFDPKT_E_IP_LENGTH },
    { "total length short", OFS_IP + 2, 2, { 0, 19 }, 0, false,
      BFDPKT_E_IP_LENGTH },
    { "IP checksum", OFS_IP + 11, 1, { 0xfa }, 0, true,
      BFDPKT_E_IP_CHECKSUM },
    { "more fragments", OFS_IP + 6, 1, { 0x20 }, 0, false,
      BFDPKT_E_IP_FRAGMENT },
    { "fragment offset", OFS_IP + 7, 1, { 0x01 }, 0, false,
      BFDPKT_E_IP_FRAGMENT },
    { "protocol TCP", OFS_IP + 9, 1, { IPPROTO_TCP }, 0, false,
      BFDPKT_E_IP_PROTO },
    { "TTL 254", OFS_IP + 8, 1, { 254 }, 0, false, BFDPKT_E_IP_TTL },
    { "TTL 1", OFS_IP + 8, 1, { 1 }, 0, false, BFDPKT_E_IP_TTL },
    { "IP payload 7", OFS_IP + 2, 2, { 0, 27 }, 0, false,
      BFDPKT_E_UDP_TRUNCATED },
    { "UDP port 3785", OFS_UDP + 2, 2, { 0x0e, 0xc9 }, 0, false,
      BFDPKT_E_UDP_PORT },
    { "UDP port 4784 (echo)", OFS_UDP + 2, 2, { 0x12, 0xb0 }, 0, false,
      BFDPKT_E_UDP_PORT },
    { "UDP length 7", OFS_UDP + 4, 2, { 0, 7 }, 0, false,
      BFDPKT_E_UDP_LENGTH },
    { "UDP length long", OFS_UDP + 4, 2, { 0, 33 }, 0, false,
      BFDPKT_E_UDP_LENGTH },
    { "UDP payload 23", OFS_UDP + 4, 2, { 0, 31 }, 0, false,
      BFDPKT_E_TRUNCATED },
    { "version 0", OFS_BFD, 1, { 0x00 }, 0, false, BFDPKT_E_VERSION },
    { "version 2", OFS_BFD, 1, { 0x40 }, 0, false, BFDPKT_E_VERSION },
    { "version 7", OFS_BFD, 1, { 0xe0 }, 0, false, BFDPKT_E_VERSION },
    { "length 23", OFS_BFD + 3, 1, { 23 }, 0, false,
      BFDPKT_E_LENGTH_SHORT },
    { "length 0", OFS_BFD + 3, 1, { 0 }, 0, false, BFDPKT_E_LENGTH_SHORT },
    { "length 25", OFS_BFD + 3, 1, { 25 }, 0, false,
      BFDPKT_E_LENGTH_LONG },
    { "length 255", OFS_BFD + 3, 1, { 255 }, 0, false,
      BFDPKT_E_LENGTH_LONG },
    { "mult 0", OFS_BFD + 2, 1, { 0 }, 0, false, BFDPKT_E_MULT },
    { "multipoint", OFS_BFD + 1, 1, { 0x41 }, 0, false,
      BFDPKT_E_MULTIPOINT },
    { "my_disc 0", OFS_BFD + 4, 4, { 0, 0, 0, 0 }, 0, false,
      BFDPKT_E_MY_DISC },
    { "Up, your_disc 0", OFS_BFD + 1, 1, { 0xc0 }, 0, false,
      BFDPKT_E_YOUR_DISC },
    { "Init, your_disc 0", OFS_BFD + 1, 1, { 0x80 }, 0, false,
      BFDPKT_E_YOUR_DISC },
    { "auth", OFS_BFD + 1, 1, { 0x44 }, 0, false, BFDPKT_E_AUTH },
    { "auth, length 26", OFS_BFD + 1, 3, { 0x44, 3, 26 }, 0, false,
      BFDPKT_E_LENGTH_LONG },
};

/* Stores the OVS frame at 'buf' (room for 'size' bytes) with 'patch'
 * applied, and returns its length. */
static size_t
patched_frame(const struct patch *patch, uint8_t *buf, size_t size)
{
    size_t len = ovs_frame(buf, size);

    memcpy(buf + patch->ofs, patch->bytes, patch->n);
    if (!patch->keep_csum) {
        fix_ip_csum(buf);
    }
    return patch->len ? patch->len : len;
}

/* Returns the malformed case named 'name'. */
static const struct patch *
find_patch(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(malformed); i++) {
        if (!strcmp(malformed[i].name, name)) {
            return &malformed[i];
        }
    }
    CU_FAIL_FATAL("no such case");
    return NULL;
}

/* Stores at 'buf' (room for 'size') the OVS frame with an 802.1Q tag (VLAN
 * 10) and returns its length. */
static size_t
tagged_frame(uint8_t *buf, size_t size)
{
    size_t len = ovs_frame(buf, size);

    CU_ASSERT_FATAL(len + 4 <= size);
    memmove(buf + 16, buf + 12, len - 12);
    memcpy(buf + 12, "\x81\x00\x00\x0a", 4);
    return len + 4;
}

/* Each malformed case of the OVS frame is refused with its own reason. */
static void
test_malformed(void)
{
    struct bfdpkt_ctl ctl;
    uint8_t buf[128];
    size_t len;

    for (size_t i = 0; i < ARRAY_SIZE(malformed); i++) {
        enum bfdpkt_error error;

        len = patched_frame(&malformed[i], buf, sizeof buf);
        error = parse_exact(buf, len, &ctl);
        if (error != malformed[i].error) {
            fprintf(stderr, "%s: got %s, expected %s\n", malformed[i].name,
                    bfdpkt_error_name(error),
                    bfdpkt_error_name(malformed[i].error));
        }
        CU_ASSERT_EQUAL(error, malformed[i].error);
    }

    /* One 802.1Q tag is refused too. */
    len = tagged_frame(buf, sizeof buf);
    CU_ASSERT_EQUAL(parse_exact(buf, len, &ctl), BFDPKT_E_ETHERTYPE);
}

/* Malformed control packets built from fields rather than bytes: the A
 * and M bits, Detect Mult 0, discriminators 0; and bfdpkt_check() agrees
 * with the parser on each. */
static void
test_malformed_built(void)
{
    struct bfdpkt_ctl ctl;
    uint8_t buf[BFDPKT_FRAME_LEN];

    ctl = sample_ctl();
    ctl.auth = true;
    build(&ctl, buf, sizeof buf);
    CU_ASSERT_EQUAL(parse_exact(buf, sizeof buf, &ctl), BFDPKT_E_AUTH);
    CU_ASSERT_EQUAL(bfdpkt_check(&ctl), BFDPKT_E_AUTH);

    ctl = sample_ctl();
    ctl.multipoint = true;
    build(&ctl, buf, sizeof buf);
    CU_ASSERT_EQUAL(parse_exact(buf, sizeof buf, &ctl),
                    BFDPKT_E_MULTIPOINT);
    CU_ASSERT_EQUAL(bfdpkt_check(&ctl), BFDPKT_E_MULTIPOINT);

    ctl = sample_ctl();
    ctl.detect_mult = 0;
    build(&ctl, buf, sizeof buf);
    CU_ASSERT_EQUAL(parse_exact(buf, sizeof buf, &ctl), BFDPKT_E_MULT);
    CU_ASSERT_EQUAL(bfdpkt_check(&ctl), BFDPKT_E_MULT);

    ctl = sample_ctl();
    ctl.my_disc = 0;
    build(&ctl, buf, sizeof buf);
    CU_ASSERT_EQUAL(parse_exact(buf, sizeof buf, &ctl), BFDPKT_E_MY_DISC);
    CU_ASSERT_EQUAL(bfdpkt_check(&ctl), BFDPKT_E_MY_DISC);

    /* Your Discriminator 0: only Down and AdminDown may say it. */
    for (int state = 0; state < 4; state++) {
        enum bfdpkt_error expected = (state <= BFDPKT_STATE_DOWN
                                      ? BFDPKT_OK : BFDPKT_E_YOUR_DISC);

        ctl = sample_ctl();
        ctl.state = state;
        ctl.your_disc = 0;
        build(&ctl, buf, sizeof buf);
        CU_ASSERT_EQUAL(parse_exact(buf, sizeof buf, &ctl), expected);
        CU_ASSERT_EQUAL(bfdpkt_check(&ctl), expected);
    }

    /* Fields bfdpkt_build() does not take, for bfdpkt_check() alone. */
    ctl = sample_ctl();
    ctl.version = 0;
    CU_ASSERT_EQUAL(bfdpkt_check(&ctl), BFDPKT_E_VERSION);
    ctl = sample_ctl();
    ctl.length = 23;
    CU_ASSERT_EQUAL(bfdpkt_check(&ctl), BFDPKT_E_LENGTH_SHORT);
}

/* Every prefix of the OVS frame is refused, with the truncation error of
 * the layer it cuts (or the length check that finds the cut), and parsing
 * reads nothing beyond it. */
static void
test_truncated(void)
{
    uint8_t buf[128];
    size_t len = ovs_frame(buf, sizeof buf);

    for (size_t n = 0; n < len; n++) {
        struct bfdpkt_ctl ctl;
        enum bfdpkt_error error = parse_exact(buf, n, &ctl);
        enum bfdpkt_error expected = (n < OFS_IP ? BFDPKT_E_ETH_TRUNCATED
                                      : n < OFS_UDP ? BFDPKT_E_IP_TRUNCATED
                                      : BFDPKT_E_IP_LENGTH);

        CU_ASSERT_EQUAL(error, expected);
        CU_ASSERT_EQUAL(bfdpkt_is_bfd(buf, n), n >= OFS_UDP + 4);
    }
}

/* Frames cut short with the lengths inside them cut to match: each layer's
 * own truncation error. */
static void
test_truncated_consistent(void)
{
    uint8_t buf[128];
    struct bfdpkt_ctl ctl;

    /* IP total length 20 + 4: half a UDP header. */
    ovs_frame(buf, sizeof buf);
    buf[OFS_IP + 3] = 24;
    fix_ip_csum(buf);
    CU_ASSERT_EQUAL(parse_exact(buf, OFS_UDP + 4, &ctl),
                    BFDPKT_E_UDP_TRUNCATED);

    /* UDP length 8 + 12: half a control packet. */
    ovs_frame(buf, sizeof buf);
    buf[OFS_IP + 3] = 40;
    fix_ip_csum(buf);
    buf[OFS_UDP + 5] = 20;
    CU_ASSERT_EQUAL(parse_exact(buf, OFS_BFD + 12, &ctl),
                    BFDPKT_E_TRUNCATED);

    /* An empty UDP payload. */
    buf[OFS_IP + 3] = 28;
    fix_ip_csum(buf);
    buf[OFS_UDP + 5] = 8;
    CU_ASSERT_EQUAL(parse_exact(buf, OFS_BFD, &ctl), BFDPKT_E_TRUNCATED);
}

/* Frames that are fine though unlike OVS's: Ethernet padding, IPv4
 * options, a Length above 24 within a longer UDP payload. */
static void
test_valid_variants(void)
{
    uint8_t buf[128], ovs[128];
    struct bfdpkt_ctl ref, ctl;
    size_t len;

    len = ovs_frame(ovs, sizeof ovs);
    CU_ASSERT_EQUAL_FATAL(parse_exact(ovs, len, &ref), BFDPKT_OK);

    /* Padding after the IP packet. */
    memcpy(buf, ovs, len);
    memset(buf + len, 0xaa, 10);
    CU_ASSERT_EQUAL(parse_exact(buf, len + 10, &ctl), BFDPKT_OK);
    CU_ASSERT(ctl_equal(&ctl, &ref));

    /* IPv4 options: IHL 6, a 4-byte option (NOPs and an end). */
    memcpy(buf, ovs, OFS_UDP);
    memcpy(buf + OFS_UDP, "\x01\x01\x01\x00", 4);
    memcpy(buf + OFS_UDP + 4, ovs + OFS_UDP, len - OFS_UDP);
    buf[OFS_IP] = 0x46;
    buf[OFS_IP + 3] += 4;
    fix_ip_csum(buf);
    CU_ASSERT_EQUAL(parse_exact(buf, len + 4, &ctl), BFDPKT_OK);
    CU_ASSERT(ctl_equal(&ctl, &ref));

    /* Length 28 in a 28-byte UDP payload (trailing bytes ignored). */
    memcpy(buf, ovs, len);
    memset(buf + len, 0, 4);
    buf[OFS_IP + 3] += 4;
    fix_ip_csum(buf);
    buf[OFS_UDP + 5] += 4;
    buf[OFS_BFD + 3] = 28;
    CU_ASSERT_EQUAL(parse_exact(buf, len + 4, &ctl), BFDPKT_OK);
    CU_ASSERT_EQUAL(ctl.length, 28);
    ctl.length = 24;
    CU_ASSERT(ctl_equal(&ctl, &ref));

    /* A nonzero UDP checksum, right or wrong, is not looked at. */
    memcpy(buf, ovs, len);
    buf[OFS_UDP + 6] = 0x12;
    buf[OFS_UDP + 7] = 0x34;
    CU_ASSERT_EQUAL(parse_exact(buf, len, &ctl), BFDPKT_OK);
}

/* On error the fields parsed before the problem are there and the rest
 * are zero. */
static void
test_partial_fields(void)
{
    uint8_t buf[128];
    struct bfdpkt_ctl ctl;
    size_t len;

    len = patched_frame(find_patch("TTL 254"), buf, sizeof buf);
    CU_ASSERT_EQUAL_FATAL(parse_exact(buf, len, &ctl), BFDPKT_E_IP_TTL);
    CU_ASSERT_EQUAL(ntohl(ctl.ip_src), 0xa9fe0101);
    CU_ASSERT(eth_addr_equals(ctl.eth_dst, eth_addr_bfd));
    CU_ASSERT_EQUAL(ctl.udp_src, 0);
    CU_ASSERT_EQUAL(ctl.my_disc, 0);

    len = patched_frame(find_patch("mult 0"), buf, sizeof buf);
    CU_ASSERT_EQUAL_FATAL(parse_exact(buf, len, &ctl), BFDPKT_E_MULT);
    CU_ASSERT_EQUAL(ctl.udp_src, 49152);
    CU_ASSERT_EQUAL(ctl.my_disc, 0x4b999ba6);
    CU_ASSERT_EQUAL(ctl.detect_mult, 0);
}

/* bfdpkt_is_bfd() on frames that are BFD, malformed or not, and frames
 * that are not. */
static void
test_is_bfd(void)
{
    static const struct {
        const char *name;       /* A malformed case. */
        bool is_bfd;            /* What bfdpkt_is_bfd() must say. */
    } cases[] = {
        { "TTL 1", true }, { "version 0", true }, { "auth", true },
        { "more fragments", true }, { "IP checksum", true },
        { "UDP port 3785", false }, { "protocol TCP", false },
        { "fragment offset", false }, { "IPv6 type", false },
        { "IP version 6", false }, { "IHL 4", false },
    };
    uint8_t buf[128];
    size_t len;

    len = ovs_frame(buf, sizeof buf);
    CU_ASSERT(bfdpkt_is_bfd(buf, len));

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        len = patched_frame(find_patch(cases[i].name), buf, sizeof buf);
        CU_ASSERT_EQUAL(bfdpkt_is_bfd(buf, len), cases[i].is_bfd);
    }

    len = tagged_frame(buf, sizeof buf);
    CU_ASSERT_FALSE(bfdpkt_is_bfd(buf, len));

    /* IHL 15 with the frame ending inside the options or just after. */
    ovs_frame(buf, sizeof buf);
    buf[OFS_IP] = 0x4f;
    CU_ASSERT_FALSE(bfdpkt_is_bfd(buf, OFS_IP + 60));
    CU_ASSERT_FALSE(bfdpkt_is_bfd(buf, OFS_IP + 63));
}

/* The names of errors, states and diags. */
static void
test_names(void)
{
    CU_ASSERT_STRING_EQUAL(bfdpkt_error_name(BFDPKT_OK), "ok");
    for (int i = 1; i < BFDPKT_N_ERRORS; i++) {
        const char *name = bfdpkt_error_name(i);

        CU_ASSERT_STRING_NOT_EQUAL(name, "unknown");
        CU_ASSERT_STRING_NOT_EQUAL(name, "ok");
        for (int j = 1; j < i; j++) {
            CU_ASSERT_STRING_NOT_EQUAL(name, bfdpkt_error_name(j));
        }
    }
    CU_ASSERT_STRING_EQUAL(bfdpkt_error_name(BFDPKT_N_ERRORS), "unknown");

    CU_ASSERT_STRING_EQUAL(bfdpkt_state_name(BFDPKT_STATE_ADMIN_DOWN),
                           "AdminDown");
    CU_ASSERT_STRING_EQUAL(bfdpkt_state_name(BFDPKT_STATE_UP), "Up");
    CU_ASSERT_EQUAL(BFDPKT_STATE_ADMIN_DOWN, 0);
    CU_ASSERT_EQUAL(BFDPKT_STATE_DOWN, 1);
    CU_ASSERT_EQUAL(BFDPKT_STATE_INIT, 2);
    CU_ASSERT_EQUAL(BFDPKT_STATE_UP, 3);
    CU_ASSERT_STRING_EQUAL(bfdpkt_state_name(4), "unknown");

    CU_ASSERT_STRING_EQUAL(bfdpkt_diag_name(BFDPKT_DIAG_EXPIRED),
                           "Control Detection Time Expired");
    CU_ASSERT_STRING_EQUAL(bfdpkt_diag_name(BFDPKT_DIAG_ADMIN_DOWN),
                           "Administratively Down");
    CU_ASSERT_EQUAL(BFDPKT_DIAG_ADMIN_DOWN, 7);
    CU_ASSERT_EQUAL(BFDPKT_DIAG_NEIGHBOR_DOWN, 3);
    CU_ASSERT_STRING_EQUAL(bfdpkt_diag_name(9), "Reserved");
    CU_ASSERT_STRING_EQUAL(bfdpkt_diag_name(31), "Reserved");
    CU_ASSERT_STRING_EQUAL(bfdpkt_diag_name(32), "unknown");
}

/* bfdpkt_format() names what a log reader needs. */
static void
test_format(void)
{
    struct bfdpkt_ctl ctl = sample_ctl();
    struct ds ds = DS_EMPTY_INITIALIZER;
    const char *s;

    bfdpkt_format(&ctl, &ds);
    s = ds_cstr(&ds);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "169.254.1.0:50001 > 169.254.1.1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "02:5a:00:00:01:02"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "state Up"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "Control Detection Time Expired"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "flags PC "));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "my_disc 0x01020304"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "your_disc 0xa0b0c0d0"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "min_tx 5000us"));
    CU_ASSERT_PTR_NULL(strchr(s, '\n'));

    ds_clear(&ds);
    ctl.poll = ctl.cpi = false;
    bfdpkt_format(&ctl, &ds);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&ds), "flags none "));
    ds_destroy(&ds);
}

static const struct test_case bfdpkt_tests[] = {
    { "OVS frame: every field", test_ovs_frame_fields },
    { "bfdpkt_build() makes the OVS frame", test_build_matches_ovs },
    { "round trip: states, diags, flags", test_round_trip },
    { "round trip: extreme values", test_round_trip_extremes },
    { "bfdpkt_build() fixed fields", test_build_fixed_fields },
    { "malformed frames", test_malformed },
    { "malformed control packets, built", test_malformed_built },
    { "truncated OVS frame", test_truncated },
    { "truncated layers", test_truncated_consistent },
    { "valid variants", test_valid_variants },
    { "fields parsed before an error", test_partial_fields },
    { "bfdpkt_is_bfd()", test_is_bfd },
    { "names", test_names },
    { "format", test_format },
    { NULL, NULL },
};
TEST_SUITE("bfdpkt", bfdpkt_tests)
