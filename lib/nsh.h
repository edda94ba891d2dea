/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef SFMESH_NSH_H
#define SFMESH_NSH_H 1

/* NSH frames as a service instance receives them from the switch.
 *
 * The switch sends an instance the original frame behind an NSH header
 * (RFC 8300) with MD type 1 and an outer Ethernet header:
 *
 *   outer Ethernet   dst = the instance's MAC, src = 00:00:00:00:00:00,
 *                    optionally one 802.1Q tag, type 0x894f
 *   NSH base         Ver 0, O 0, TTL 63, Length 6, MD type 1, Next
 *                    Protocol 3 (Ethernet)
 *   service path     SPI (24 bits, the chain and direction), SI (8 bits,
 *                    255 at the first service)
 *   context          C1 (the stream affinity code), C2, C3, C4
 *   inner frame      the original Ethernet frame: IPv4 or IPv6, then TCP,
 *                    UDP or ICMP
 *
 * The first 32 bits of the NSH base header, most significant bit first:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   |Ver|O|U|    TTL    |   Length  |U|U|U|U|MD Type| Next Protocol |
 *
 * so the 6-bit TTL spans the first two bytes: its top 4 bits are the low
 * 4 bits of byte 0 and its low 2 bits the top 2 bits of byte 1.  With TTL
 * 63 and Length 6 the first two bytes are 0x0f 0xc6.
 *
 * nsh_parse() checks such a frame and finds its fields and the inner
 * packet's 5-tuple; nsh_stream_key_init() turns the 5-tuple into a key that
 * is the same in both directions of a connection; nsh_forward() turns the
 * frame around, in place, for the way back to the switch; nsh_build()
 * makes frames for tests and tools.
 *
 * Pure: no I/O, and nothing on the per-packet path (nsh_parse(),
 * nsh_stream_key_*(), nsh_bucket(), nsh_forward()) allocates memory.  The
 * parser reads nothing outside the 'len' bytes it is given, for any input,
 * and needs no alignment. */

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/nsh.h"
#include "packets.h"
#include "openvswitch/types.h"

/* The constants are libopenvswitch's: ETH_TYPE_NSH (packets.h),
 * NSH_M_TYPE1 and NSH_M_TYPE1_LEN (24 bytes, so Length 6 in words), and
 * the Next Protocol values nsh_parse() accepts, NSH_P_IPV4, NSH_P_IPV6 and
 * NSH_P_ETHERNET (openvswitch/nsh.h). */

/* What nsh_parse() and nsh_forward() return: NSH_OK (0) or NSH_E_*, the
 * reason the frame must be dropped.  Each value has a short name
 * (nsh_error_name()) fit for a counter or a log line; NSH_N_ERRORS sizes an
 * array of counters indexed by the value. */
#define NSH_ERRORS                                                      \
    /* Outer Ethernet header (or its 802.1Q tag) cut short. */          \
    NSH_ERROR(ETH_TRUNCATED, "eth-truncated")                           \
    /* Outer Ethernet type is not NSH (two VLAN tags end up here). */   \
    NSH_ERROR(ETHERTYPE, "ethertype")                                   \
    /* Fewer than 8 bytes (base and service path header) of NSH. */     \
    NSH_ERROR(NSH_TRUNCATED, "nsh-truncated")                           \
    /* NSH version is not 0. */                                         \
    NSH_ERROR(VERSION, "nsh-version")                                   \
    /* MD type is neither 1 nor 2. */                                   \
    NSH_ERROR(MDTYPE, "nsh-mdtype")                                     \
    /* MD type 1 with a length other than 6 words. */                   \
    NSH_ERROR(MD1_LENGTH, "nsh-md1-length")                             \
    /* MD type 2 with a length below 2 words. */                        \
    NSH_ERROR(MD2_LENGTH, "nsh-md2-length")                             \
    /* The NSH length reaches beyond the frame. */                      \
    NSH_ERROR(CONTEXT_TRUNCATED, "nsh-context-truncated")               \
    /* TTL is 0 or 1: it would be 0 after this hop. */                  \
    NSH_ERROR(TTL_EXPIRED, "nsh-ttl-expired")                           \
    /* SI is 0: the path has ended. */                                  \
    NSH_ERROR(SI_ZERO, "nsh-si-zero")                                   \
    /* Next protocol is not IPv4 (1), IPv6 (2) or Ethernet (3). */      \
    NSH_ERROR(NEXT_PROTO, "nsh-next-proto")                             \
    /* Inner Ethernet header (or its 802.1Q tag) cut short. */          \
    NSH_ERROR(INNER_ETH_TRUNCATED, "inner-eth-truncated")               \
    /* Inner Ethernet type is neither IPv4 nor IPv6. */                 \
    NSH_ERROR(INNER_ETHERTYPE, "inner-ethertype")                       \
    /* Inner IP header (with its IPv4 options) cut short. */            \
    NSH_ERROR(IP_TRUNCATED, "ip-truncated")                             \
    /* IP version does not match the Ethernet type or next protocol. */ \
    NSH_ERROR(IP_VERSION, "ip-version")                                 \
    /* IPv4 header length (IHL) below 5 words. */                       \
    NSH_ERROR(IP_IHL, "ip-ihl")                                         \
    /* IP total (or payload) length beyond the frame, or IPv4 total     \
     * length shorter than the header. */                               \
    NSH_ERROR(IP_LENGTH, "ip-length")                                   \
    /* IPv4 fragment other than the first: it has no ports. */          \
    NSH_ERROR(IP_FRAGMENT, "ip-fragment")                               \
    /* IPv6 next header is not TCP, UDP or ICMPv6 (extension headers,   \
     * IPv6 fragments included, are not followed). */                   \
    NSH_ERROR(IP6_NEXT_HEADER, "ip6-next-header")                       \
    /* TCP header (with its options) beyond the IP payload. */          \
    NSH_ERROR(TCP_TRUNCATED, "tcp-truncated")                           \
    /* TCP data offset below 5 words. */                                \
    NSH_ERROR(TCP_OFFSET, "tcp-offset")                                 \
    /* UDP header beyond the IP payload. */                             \
    NSH_ERROR(UDP_TRUNCATED, "udp-truncated")                           \
    /* UDP length below 8, or beyond the IP payload. */                 \
    NSH_ERROR(UDP_LENGTH, "udp-length")                                 \
    /* ICMP or ICMPv6 header (8 bytes) beyond the IP payload. */        \
    NSH_ERROR(ICMP_TRUNCATED, "icmp-truncated")

enum nsh_error {
    NSH_OK,                     /* Success: "ok". */
#define NSH_ERROR(ENUM, NAME) NSH_E_##ENUM,
    NSH_ERRORS
#undef NSH_ERROR
    NSH_N_ERRORS
};

/* A frame parsed by nsh_parse().  Offsets count bytes from the start of the
 * frame, whose outer Ethernet header is always at offset 0.  Multi-byte
 * numbers are in host byte order; addresses are in network byte order. */
struct nsh_frame {
    /* Where things are. */
    uint16_t nsh_ofs;           /* NSH base header: 14, or 18 if tagged. */
    uint16_t inner_ofs;         /* Inner packet (what decap leaves): the
                                 * inner Ethernet header if 'np' is 3, else
                                 * the IP header. */
    uint16_t l3_ofs;            /* Inner IP header. */
    uint16_t l4_ofs;            /* Inner TCP, UDP or ICMP header; for other
                                 * IPv4 protocols, the IP payload. */
    uint16_t payload_ofs;       /* L4 payload. */
    uint32_t payload_len;       /* L4 payload bytes, per the IP (for UDP, the
                                 * UDP) length: Ethernet padding excluded. */
    uint32_t l3_len;            /* IPv4 total length, or IPv6 payload length
                                 * plus 40. */

    /* NSH. */
    uint8_t ttl;                /* 2 to 63. */
    uint8_t length;             /* NSH length in 4-byte words. */
    uint8_t mdtype;             /* 1 or 2. */
    uint8_t np;                 /* Next protocol: NSH_NP_*. */
    bool oam;                   /* The O bit. */
    uint8_t si;                 /* Service index, 1 to 255. */
    uint32_t spi;               /* Service path identifier, 24 bits. */
    uint32_t c1;                /* Context header 1, the affinity code
                                 * (MD type 1; 0 with MD type 2, whose
                                 * context TLVs are skipped unread). */
    uint32_t c2;                /* Context header 2 (MD type 1), else 0. */
    uint32_t c3;                /* Context header 3 (MD type 1), else 0. */
    uint32_t c4;                /* Context header 4 (MD type 1), else 0. */

    /* Inner packet. */
    uint8_t ip_version;         /* 4 or 6. */
    uint8_t ip_proto;           /* IPPROTO_*: for IPv6 TCP, UDP or ICMPv6. */
    bool ip_first_fragment;     /* IPv4 first fragment (MF set, offset 0):
                                 * the L4 payload is only partly here. */
    struct in6_addr ip_src;     /* Source; IPv4 as ::ffff:a.b.c.d. */
    struct in6_addr ip_dst;     /* Destination; IPv4 as ::ffff:a.b.c.d. */
    uint16_t src_port;          /* TCP or UDP source port, else 0. */
    uint16_t dst_port;          /* TCP or UDP destination port, else 0. */
    uint16_t tcp_flags;         /* TCP flags, the 12 bits below the data
                                 * offset (OVS's TCP_SYN etc.), else 0. */
};

/* nsh_parse(frame, len, f) parses the 'len' bytes at 'frame' into '*f' and
 * returns NSH_OK, or the first problem found, checking in this order:
 *
 *   - the outer Ethernet header, with at most one 802.1Q tag, and its type
 *     0x894f;
 *   - the NSH base header: version 0, MD type 1 with length 6 or MD type 2
 *     with length 2 or more, and all of that length within the frame; then
 *     TTL above 1 and SI above 0 (a frame that may not be forwarded is an
 *     error, so a parsed frame can always go through nsh_forward());
 *   - the next protocol: Ethernet (3), IPv4 (1) or IPv6 (2); any other is
 *     NSH_E_NEXT_PROTO, since no stream key can be found;
 *   - for Ethernet, the inner Ethernet header, with at most one 802.1Q tag,
 *     and its type IPv4 or IPv6;
 *   - IPv4: version 4, IHL 5 or more, header and total length within the
 *     frame, no fragment but a first one; IPv6: version 6, the payload
 *     length within the frame, next header TCP, UDP or ICMPv6;
 *   - TCP: 20 bytes, data offset 5 or more, options within the IP payload;
 *     UDP: 8 bytes, UDP length from 8 to the IP payload (a first fragment
 *     may be shorter); ICMP and ICMPv6: 8 bytes.  Other IPv4 protocols are
 *     accepted with ports 0.
 *
 * Bytes after the IP total length (Ethernet padding) are allowed.  The U
 * bits, the O bit, MD type 2 context TLVs and IP and L4 checksums are not
 * checked.  On error '*f' holds the fields parsed up to the problem (the
 * NSH fields, say, for a log line about a bad TTL) and zeros beyond.
 *
 * nsh_error_name(error) returns the short name of 'error', or "unknown".
 *
 * nsh_bucket(f, n_buckets) returns the bucket of the frame in a service with
 * 'n_buckets' buckets, a power of 2: 'f->c1 & (n_buckets - 1)'.  An
 * 'n_buckets' of 0 stands for 2^32. */
enum nsh_error nsh_parse(const void *frame, size_t len, struct nsh_frame *);
const char *nsh_error_name(enum nsh_error);
uint32_t nsh_bucket(const struct nsh_frame *, uint32_t n_buckets);

/* The stream of a packet, the same for both directions: the two (address,
 * port) endpoints in ascending order, and the IP protocol.  Addresses
 * compare as 16 big-endian bytes (IPv4 mapped), then ports as numbers.
 * Filled by nsh_stream_key_init(), which zeroes the padding, so keys may
 * also be compared and hashed as bytes. */
struct nsh_stream_key {
    struct in6_addr lo_addr;    /* The lower endpoint's address. */
    struct in6_addr hi_addr;    /* The higher endpoint's address. */
    uint16_t lo_port;           /* The lower endpoint's port, or 0. */
    uint16_t hi_port;           /* The higher endpoint's port, or 0. */
    uint8_t proto;              /* IP protocol. */
    uint8_t pad[3];             /* Zero. */
};

/* nsh_stream_key_init(key, f) fills 'key' with the stream of the frame
 * parsed into 'f', and returns true if the frame goes from the lower
 * endpoint to the higher one, false if from the higher to the lower, so
 * that a service can tell the two directions apart.  A packet from an
 * endpoint to itself returns true.
 *
 * nsh_stream_key_hash(key, basis) hashes 'key' (with OVS's hash_words());
 * nsh_stream_key_equal(a, b) compares two keys.  Neither looks at the
 * padding. */
bool nsh_stream_key_init(struct nsh_stream_key *, const struct nsh_frame *);
uint32_t nsh_stream_key_hash(const struct nsh_stream_key *, uint32_t basis);
bool nsh_stream_key_equal(const struct nsh_stream_key *,
                          const struct nsh_stream_key *);

/* nsh_forward(frame, f, own_mac) turns 'frame', parsed by nsh_parse() into
 * 'f', around for the switch, in place: it decrements the TTL and the SI in
 * the NSH header (the TTL's 6 bits only: the version, O and U bits and the
 * length stay as they are), copies the outer Ethernet source to the
 * destination and puts 'own_mac' in the source.  It reads the TTL and SI
 * from 'frame', not from 'f', and returns NSH_E_TTL_EXPIRED if the TTL is
 * 0 or 1 (it must not reach 0, RFC 8300 section 2.2) or NSH_E_SI_ZERO if
 * the SI is already 0, leaving 'frame' unchanged; else NSH_OK.  An SI of 1
 * becomes 0: the end of the path, which the switch drops. */
enum nsh_error nsh_forward(void *frame, const struct nsh_frame *,
                           const struct eth_addr *own_mac);

/* What nsh_build() puts in a frame.  nsh_build_spec_init() gives the
 * defaults noted below. */
struct nsh_build_spec {
    struct eth_addr outer_dst;  /* 02:00:00:00:01:01. */
    struct eth_addr outer_src;  /* 00:00:00:00:00:00, as from OVS. */
    uint8_t ttl;                /* NSH TTL, 0 to 63: 63. */
    uint8_t si;                 /* 255. */
    uint32_t spi;               /* 24 bits: 0x64. */
    uint32_t c1;                /* The affinity code: 0x57. */
    struct eth_addr inner_dst;  /* 02:00:00:00:00:02. */
    struct eth_addr inner_src;  /* 02:00:00:00:00:01. */
    uint8_t ip_version;         /* 4 or 6: 4. */
    uint8_t ip_proto;           /* IPPROTO_TCP, _UDP, _ICMP (IPv4) or
                                 * _ICMPV6 (IPv6): IPPROTO_TCP. */
    struct in6_addr ip_src;     /* ::ffff:10.0.0.1 (IPv4 mapped). */
    struct in6_addr ip_dst;     /* ::ffff:10.0.0.2 (IPv4 mapped). */
    uint16_t src_port;          /* TCP or UDP: 40000. */
    uint16_t dst_port;          /* TCP or UDP: 80. */
    uint16_t tcp_flags;         /* 12 bits: TCP_SYN (0x002). */
    uint16_t payload_len;       /* L4 payload bytes: 0. */
};

/* nsh_build_spec_init(spec) sets 'spec' to the defaults above.
 *
 * nsh_build(buf, size, spec) writes the frame that 'spec' describes into
 * the 'size' bytes at 'buf' and returns its length, or 0 if it does not fit
 * or 'spec' cannot be built (TTL above 63, SPI above 24 bits, an IP version
 * other than 4 or 6, another protocol, an IPv4 packet or IPv6 payload above
 * 65535 bytes).
 * The frame: outer Ethernet; NSH with MD type 1, next protocol Ethernet and
 * C2 to C4 zero; inner Ethernet; IPv4 (DF, TTL 64, id 0, header checksum)
 * or IPv6 (hop limit 64); TCP (sequence numbers 0, window 65535, no
 * options), UDP or an ICMP echo request, with its checksum; then
 * 'payload_len' bytes 0, 1, 2, ... (mod 256).  The frame is 14 + 24 + 14 +
 * 20 (IPv4) or 40 (IPv6) + 20 (TCP) or 8 (UDP, ICMP) + 'payload_len'
 * bytes. */
void nsh_build_spec_init(struct nsh_build_spec *);
size_t nsh_build(void *buf, size_t size, const struct nsh_build_spec *);

#endif /* nsh.h */
