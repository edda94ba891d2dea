/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "nsh.h"

#include <string.h>
#include "hash.h"
#include "util.h"

#define NSH_ETH_LEN 14          /* Ethernet header without a tag. */
#define NSH_VLAN_LEN 4          /* One 802.1Q tag. */
#define NSH_ETHERTYPE_VLAN 0x8100
#define NSH_ETHERTYPE_IPV4 0x0800
#define NSH_ETHERTYPE_IPV6 0x86dd
#define NSH_BASE_LEN 8          /* NSH base and service path headers. */
#define NSH_IPV4_LEN 20         /* IPv4 header without options. */
#define NSH_IPV6_LEN 40         /* IPv6 fixed header. */
#define NSH_TCP_LEN 20          /* TCP header without options. */
#define NSH_UDP_LEN 8           /* UDP header. */
#define NSH_ICMP_LEN 8          /* ICMP and ICMPv6 headers. */

/* Returns the big-endian 16-bit number at 'p'. */
static inline uint16_t
nsh_get16__(const uint8_t *p)
{
    return (uint16_t) (p[0] << 8 | p[1]);
}

/* Returns the big-endian 32-bit number at 'p'. */
static inline uint32_t
nsh_get32__(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16
           | (uint32_t) p[2] << 8 | p[3];
}

/* Stores 'x' at 'p' as a big-endian 16-bit number. */
static inline void
nsh_put16__(uint8_t *p, uint16_t x)
{
    p[0] = x >> 8;
    p[1] = x;
}

/* Stores 'x' at 'p' as a big-endian 32-bit number. */
static inline void
nsh_put32__(uint8_t *p, uint32_t x)
{
    p[0] = x >> 24;
    p[1] = x >> 16;
    p[2] = x >> 8;
    p[3] = x;
}

/* Returns the 6-bit TTL of the NSH base header at 'nsh': the low 4 bits of
 * byte 0, then the top 2 bits of byte 1. */
static inline unsigned int
nsh_get_ttl__(const uint8_t *nsh)
{
    return (nsh[0] & 0x0f) << 2 | nsh[1] >> 6;
}

/* Stores 'ttl' (0 to 63) in the NSH base header at 'nsh', leaving the
 * version, O and U bits and the length as they are. */
static inline void
nsh_set_ttl__(uint8_t *nsh, unsigned int ttl)
{
    nsh[0] = (nsh[0] & 0xf0) | (ttl >> 2);
    nsh[1] = (nsh[1] & 0x3f) | (ttl & 0x3) << 6;
}

/* Stores in '*addr' the IPv4 address at 'p' (4 bytes, network order) as an
 * IPv4-mapped IPv6 address. */
static inline void
nsh_map_ip4__(struct in6_addr *addr, const uint8_t *p)
{
    memset(addr->s6_addr, 0, 10);
    addr->s6_addr[10] = 0xff;
    addr->s6_addr[11] = 0xff;
    memcpy(&addr->s6_addr[12], p, 4);
}

/* Parses the Ethernet header, with at most one 802.1Q tag, at '*ofs' in the
 * 'len' bytes of 'frame'.  On success returns true, stores the Ethernet
 * type in '*type' and advances '*ofs' past the header; returns false if the
 * header does not fit. */
static inline bool
nsh_parse_eth__(const uint8_t *frame, size_t len, size_t *ofs, uint16_t *type)
{
    size_t hlen = NSH_ETH_LEN;

    if (len - *ofs < hlen) {
        return false;
    }
    *type = nsh_get16__(frame + *ofs + 12);
    if (*type == NSH_ETHERTYPE_VLAN) {
        hlen += NSH_VLAN_LEN;
        if (len - *ofs < hlen) {
            return false;
        }
        *type = nsh_get16__(frame + *ofs + 16);
    }
    *ofs += hlen;
    return true;
}

/* Parses the TCP, UDP or ICMP header at 'ofs' in 'frame', in an IP payload
 * of 'l4_len' bytes, into 'f', whose 'ip_version', 'ip_proto' and
 * 'ip_first_fragment' are set.  Another IPv4 protocol gets its whole IP
 * payload as the L4 payload. */
static enum nsh_error
nsh_parse_l4__(const uint8_t *frame, size_t ofs, size_t l4_len,
               struct nsh_frame *f)
{
    const uint8_t *l4 = frame + ofs;
    uint8_t icmp = f->ip_version == 4 ? IPPROTO_ICMP : IPPROTO_ICMPV6;
    size_t hlen;

    f->l4_ofs = ofs;
    if (f->ip_proto == IPPROTO_TCP) {
        if (l4_len < NSH_TCP_LEN) {
            return NSH_E_TCP_TRUNCATED;
        }
        hlen = (l4[12] >> 4) * 4;
        if (hlen < NSH_TCP_LEN) {
            return NSH_E_TCP_OFFSET;
        }
        if (hlen > l4_len) {
            return NSH_E_TCP_TRUNCATED;
        }
        f->src_port = nsh_get16__(l4);
        f->dst_port = nsh_get16__(l4 + 2);
        f->tcp_flags = nsh_get16__(l4 + 12) & 0x0fff;
        f->payload_len = l4_len - hlen;
    } else if (f->ip_proto == IPPROTO_UDP) {
        uint16_t udp_len;

        if (l4_len < NSH_UDP_LEN) {
            return NSH_E_UDP_TRUNCATED;
        }
        hlen = NSH_UDP_LEN;
        udp_len = nsh_get16__(l4 + 4);
        /* A first fragment holds only part of the datagram. */
        if (udp_len < NSH_UDP_LEN
            || (udp_len > l4_len && !f->ip_first_fragment)) {
            return NSH_E_UDP_LENGTH;
        }
        f->src_port = nsh_get16__(l4);
        f->dst_port = nsh_get16__(l4 + 2);
        f->payload_len = (f->ip_first_fragment ? l4_len : udp_len) - hlen;
    } else if (f->ip_proto == icmp) {
        if (l4_len < NSH_ICMP_LEN) {
            return NSH_E_ICMP_TRUNCATED;
        }
        hlen = NSH_ICMP_LEN;
        f->payload_len = l4_len - hlen;
    } else {
        hlen = 0;
        f->payload_len = l4_len;
    }
    f->payload_ofs = ofs + hlen;
    return NSH_OK;
}

/* Parses the IPv4 packet at 'ofs' in the 'len' bytes of 'frame' into 'f'. */
static enum nsh_error
nsh_parse_ip4__(const uint8_t *frame, size_t len, size_t ofs,
                struct nsh_frame *f)
{
    const uint8_t *ip = frame + ofs;
    size_t avail = len - ofs;
    size_t ihl, tot_len;
    uint16_t frag;

    if (avail < NSH_IPV4_LEN) {
        return NSH_E_IP_TRUNCATED;
    }
    if (ip[0] >> 4 != 4) {
        return NSH_E_IP_VERSION;
    }
    ihl = (ip[0] & 0x0f) * 4;
    if (ihl < NSH_IPV4_LEN) {
        return NSH_E_IP_IHL;
    }
    if (ihl > avail) {
        return NSH_E_IP_TRUNCATED;
    }
    tot_len = nsh_get16__(ip + 2);
    if (tot_len < ihl || tot_len > avail) {
        return NSH_E_IP_LENGTH;
    }
    frag = nsh_get16__(ip + 6);
    if (frag & 0x1fff) {
        return NSH_E_IP_FRAGMENT;
    }

    f->l3_ofs = ofs;
    f->l3_len = tot_len;
    f->ip_version = 4;
    f->ip_proto = ip[9];
    f->ip_first_fragment = (frag & 0x2000) != 0;
    nsh_map_ip4__(&f->ip_src, ip + 12);
    nsh_map_ip4__(&f->ip_dst, ip + 16);
    return nsh_parse_l4__(frame, ofs + ihl, tot_len - ihl, f);
}

/* Parses the IPv6 packet at 'ofs' in the 'len' bytes of 'frame' into 'f':
 * the fixed header, followed directly by TCP, UDP or ICMPv6. */
static enum nsh_error
nsh_parse_ip6__(const uint8_t *frame, size_t len, size_t ofs,
                struct nsh_frame *f)
{
    const uint8_t *ip = frame + ofs;
    size_t avail = len - ofs;
    size_t plen;
    uint8_t next;

    if (avail < NSH_IPV6_LEN) {
        return NSH_E_IP_TRUNCATED;
    }
    if (ip[0] >> 4 != 6) {
        return NSH_E_IP_VERSION;
    }
    plen = nsh_get16__(ip + 4);
    if (plen > avail - NSH_IPV6_LEN) {
        return NSH_E_IP_LENGTH;
    }
    next = ip[6];
    if (next != IPPROTO_TCP && next != IPPROTO_UDP
        && next != IPPROTO_ICMPV6) {
        return NSH_E_IP6_NEXT_HEADER;
    }

    f->l3_ofs = ofs;
    f->l3_len = NSH_IPV6_LEN + plen;
    f->ip_version = 6;
    f->ip_proto = next;
    memcpy(&f->ip_src, ip + 8, sizeof f->ip_src);
    memcpy(&f->ip_dst, ip + 24, sizeof f->ip_dst);
    return nsh_parse_l4__(frame, ofs + NSH_IPV6_LEN, plen, f);
}

/* Parses the 'len' bytes at 'frame', an outer Ethernet header (with at most
 * one 802.1Q tag), NSH and the inner packet, into '*f', and returns NSH_OK
 * or the first problem found.  See nsh.h for what is checked. */
enum nsh_error
nsh_parse(const void *frame_, size_t len, struct nsh_frame *f)
{
    const uint8_t *frame = frame_;
    const uint8_t *nsh;
    size_t ofs = 0;
    size_t nsh_len;
    uint16_t type;

    memset(f, 0, sizeof *f);

    /* Outer Ethernet. */
    if (!nsh_parse_eth__(frame, len, &ofs, &type)) {
        return NSH_E_ETH_TRUNCATED;
    }
    if (type != ETH_TYPE_NSH) {
        return NSH_E_ETHERTYPE;
    }

    /* NSH base and service path headers. */
    if (len - ofs < NSH_BASE_LEN) {
        return NSH_E_NSH_TRUNCATED;
    }
    nsh = frame + ofs;
    f->nsh_ofs = ofs;
    f->oam = (nsh[0] & 0x20) != 0;
    f->ttl = nsh_get_ttl__(nsh);
    f->length = nsh[1] & NSH_LEN_MASK;
    f->mdtype = nsh[2] & NSH_MDTYPE_MASK;
    f->np = nsh[3];
    f->spi = nsh_get32__(nsh + 4) >> 8;
    f->si = nsh[7];
    if (nsh[0] >> 6) {
        return NSH_E_VERSION;
    }
    if (f->mdtype == NSH_M_TYPE1) {
        if (f->length != NSH_M_TYPE1_LEN / 4) {
            return NSH_E_MD1_LENGTH;
        }
    } else if (f->mdtype == NSH_M_TYPE2) {
        if (f->length < NSH_BASE_HDR_LEN / 4) {
            return NSH_E_MD2_LENGTH;
        }
    } else {
        return NSH_E_MDTYPE;
    }
    nsh_len = f->length * 4;
    if (len - ofs < nsh_len) {
        return NSH_E_CONTEXT_TRUNCATED;
    }
    if (f->ttl <= 1) {
        return NSH_E_TTL_EXPIRED;
    }
    if (!f->si) {
        return NSH_E_SI_ZERO;
    }
    if (f->mdtype == NSH_M_TYPE1) {
        f->c1 = nsh_get32__(nsh + 8);
        f->c2 = nsh_get32__(nsh + 12);
        f->c3 = nsh_get32__(nsh + 16);
        f->c4 = nsh_get32__(nsh + 20);
    }
    ofs += nsh_len;
    f->inner_ofs = ofs;

    /* The inner packet. */
    switch (f->np) {
    case NSH_P_ETHERNET:
        if (!nsh_parse_eth__(frame, len, &ofs, &type)) {
            return NSH_E_INNER_ETH_TRUNCATED;
        }
        if (type == NSH_ETHERTYPE_IPV4) {
            return nsh_parse_ip4__(frame, len, ofs, f);
        } else if (type == NSH_ETHERTYPE_IPV6) {
            return nsh_parse_ip6__(frame, len, ofs, f);
        }
        return NSH_E_INNER_ETHERTYPE;

    case NSH_P_IPV4:
        return nsh_parse_ip4__(frame, len, ofs, f);

    case NSH_P_IPV6:
        return nsh_parse_ip6__(frame, len, ofs, f);

    default:
        return NSH_E_NEXT_PROTO;
    }
}

/* Returns the short name of 'error', such as "nsh-ttl-expired". */
const char *
nsh_error_name(enum nsh_error error)
{
    switch (error) {
    case NSH_OK:
        return "ok";
#define NSH_ERROR(ENUM, NAME) case NSH_E_##ENUM: return NAME;
        NSH_ERRORS
#undef NSH_ERROR
    case NSH_N_ERRORS:
        break;
    }
    return "unknown";
}

/* Returns the bucket of the frame parsed into 'f' in a service with
 * 'n_buckets' buckets, a power of 2: its C1 masked to the low bits.  An
 * 'n_buckets' of 0 stands for 2^32, so that C1 is the bucket. */
uint32_t
nsh_bucket(const struct nsh_frame *f, uint32_t n_buckets)
{
    return f->c1 & (n_buckets - 1);
}

/* Fills 'key' with the stream of the frame parsed into 'f'.  Returns true
 * if the frame goes from the lower endpoint of 'key' to the higher one (or
 * both endpoints are the same), false if it goes the other way. */
bool
nsh_stream_key_init(struct nsh_stream_key *key, const struct nsh_frame *f)
{
    int cmp = memcmp(&f->ip_src, &f->ip_dst, sizeof f->ip_src);
    bool up = cmp < 0 || (!cmp && f->src_port <= f->dst_port);

    if (up) {
        key->lo_addr = f->ip_src;
        key->hi_addr = f->ip_dst;
        key->lo_port = f->src_port;
        key->hi_port = f->dst_port;
    } else {
        key->lo_addr = f->ip_dst;
        key->hi_addr = f->ip_src;
        key->lo_port = f->dst_port;
        key->hi_port = f->src_port;
    }
    key->proto = f->ip_proto;
    memset(key->pad, 0, sizeof key->pad);
    return up;
}

/* Returns a hash of 'key' with 'basis'.  The padding is not hashed. */
uint32_t
nsh_stream_key_hash(const struct nsh_stream_key *key, uint32_t basis)
{
    uint32_t words[10];

    memcpy(&words[0], &key->lo_addr, sizeof key->lo_addr);
    memcpy(&words[4], &key->hi_addr, sizeof key->hi_addr);
    words[8] = (uint32_t) key->lo_port << 16 | key->hi_port;
    words[9] = key->proto;
    return hash_words_inline(words, ARRAY_SIZE(words), basis);
}

/* Returns true if keys 'a' and 'b' name the same stream.  The padding is
 * not compared. */
bool
nsh_stream_key_equal(const struct nsh_stream_key *a,
                     const struct nsh_stream_key *b)
{
    return (!memcmp(&a->lo_addr, &b->lo_addr, sizeof a->lo_addr)
            && !memcmp(&a->hi_addr, &b->hi_addr, sizeof a->hi_addr)
            && a->lo_port == b->lo_port
            && a->hi_port == b->hi_port
            && a->proto == b->proto);
}

/* Turns 'frame', parsed by nsh_parse() into 'f', around for the way back
 * to the switch, in place: decrements the NSH TTL and SI, moves the outer
 * Ethernet source to the destination and puts 'own_mac' in the source.
 * Returns NSH_E_TTL_EXPIRED if the TTL is 1 or 0, or NSH_E_SI_ZERO if the
 * SI is 0, leaving 'frame' unchanged; else NSH_OK. */
enum nsh_error
nsh_forward(void *frame_, const struct nsh_frame *f,
            const struct eth_addr *own_mac)
{
    uint8_t *frame = frame_;
    uint8_t *nsh = frame + f->nsh_ofs;
    unsigned int ttl = nsh_get_ttl__(nsh);

    if (ttl <= 1) {
        return NSH_E_TTL_EXPIRED;
    }
    if (!nsh[7]) {
        return NSH_E_SI_ZERO;
    }
    nsh_set_ttl__(nsh, ttl - 1);
    nsh[7]--;
    memmove(frame, frame + 6, 6);
    memcpy(frame + 6, own_mac->ea, 6);
    return NSH_OK;
}

/* Initializes 'spec' with the defaults listed in struct nsh_build_spec: a
 * TCP SYN from 10.0.0.1:40000 to 10.0.0.2:80 on SPI 0x64, SI 255, C1 0x57,
 * as OVS sends it to an instance with MAC 02:00:00:00:01:01. */
void
nsh_build_spec_init(struct nsh_build_spec *spec)
{
    static const uint8_t src[4] = { 10, 0, 0, 1 };
    static const uint8_t dst[4] = { 10, 0, 0, 2 };

    memset(spec, 0, sizeof *spec);
    spec->outer_dst = (struct eth_addr) {{{ 2, 0, 0, 0, 1, 1 }}};
    spec->ttl = 63;
    spec->si = 255;
    spec->spi = 0x64;
    spec->c1 = 0x57;
    spec->inner_dst = (struct eth_addr) {{{ 2, 0, 0, 0, 0, 2 }}};
    spec->inner_src = (struct eth_addr) {{{ 2, 0, 0, 0, 0, 1 }}};
    spec->ip_version = 4;
    spec->ip_proto = IPPROTO_TCP;
    nsh_map_ip4__(&spec->ip_src, src);
    nsh_map_ip4__(&spec->ip_dst, dst);
    spec->src_port = 40000;
    spec->dst_port = 80;
    spec->tcp_flags = 0x002;
}

/* Returns 'sum' plus the 'n' bytes at 'p' as big-endian 16-bit words (an
 * odd last byte padded with 0), for an Internet checksum. */
static uint32_t
nsh_csum_add__(uint32_t sum, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i += 2) {
        sum += nsh_get16__(p + i);
    }
    if (i < n) {
        sum += p[i] << 8;
    }
    return sum;
}

/* Returns the Internet checksum of the partial sum 'sum'. */
static uint16_t
nsh_csum_finish__(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return ~sum;
}

/* Writes into the 'size' bytes at 'buf' the frame that 'spec' describes:
 * outer Ethernet, NSH with MD type 1 (C2 to C4 zero, next protocol
 * Ethernet), inner Ethernet, IPv4 (with its header checksum, DF set, TTL
 * 64) or IPv6 (hop limit 64), and TCP (window 65535, sequence numbers 0),
 * UDP or an ICMP echo request, with correct L4 checksums, then
 * 'spec->payload_len' bytes numbered 0, 1, 2, ... (mod 256).  Returns the
 * frame's length, or 0 if it does not fit in 'size' bytes or 'spec' is not
 * one that can be built. */
size_t
nsh_build(void *buf, size_t size, const struct nsh_build_spec *spec)
{
    uint8_t *p = buf;
    bool v4 = spec->ip_version == 4;
    size_t ip_hlen, l4_hlen, l4_len, len;
    uint8_t *nsh, *ip, *l4;
    uint32_t sum;
    uint16_t csum;

    if (spec->ip_version != 4 && spec->ip_version != 6) {
        return 0;
    }
    ip_hlen = v4 ? NSH_IPV4_LEN : NSH_IPV6_LEN;
    if (spec->ip_proto == IPPROTO_TCP) {
        l4_hlen = NSH_TCP_LEN;
    } else if (spec->ip_proto == IPPROTO_UDP) {
        l4_hlen = NSH_UDP_LEN;
    } else if (spec->ip_proto == (v4 ? IPPROTO_ICMP : IPPROTO_ICMPV6)) {
        l4_hlen = NSH_ICMP_LEN;
    } else {
        return 0;
    }
    l4_len = l4_hlen + spec->payload_len;
    if (spec->ttl > 63 || spec->spi > 0xffffff
        || (v4 ? ip_hlen : 0) + l4_len > UINT16_MAX) {
        return 0;
    }
    len = NSH_ETH_LEN + NSH_M_TYPE1_LEN + NSH_ETH_LEN + ip_hlen + l4_len;
    if (len > size) {
        return 0;
    }
    memset(p, 0, len);

    /* Outer Ethernet. */
    memcpy(p, spec->outer_dst.ea, 6);
    memcpy(p + 6, spec->outer_src.ea, 6);
    nsh_put16__(p + 12, ETH_TYPE_NSH);

    /* NSH: version 0, O 0, length 6, MD type 1, next protocol Ethernet. */
    nsh = p + NSH_ETH_LEN;
    nsh[1] = NSH_M_TYPE1_LEN / 4;
    nsh_set_ttl__(nsh, spec->ttl);
    nsh[2] = NSH_M_TYPE1;
    nsh[3] = NSH_P_ETHERNET;
    nsh_put32__(nsh + 4, spec->spi << 8 | spec->si);
    nsh_put32__(nsh + 8, spec->c1);

    /* Inner Ethernet. */
    p = nsh + NSH_M_TYPE1_LEN;
    memcpy(p, spec->inner_dst.ea, 6);
    memcpy(p + 6, spec->inner_src.ea, 6);
    nsh_put16__(p + 12, v4 ? NSH_ETHERTYPE_IPV4 : NSH_ETHERTYPE_IPV6);

    /* IP, and the pseudo-header's part of the L4 checksum. */
    ip = p + NSH_ETH_LEN;
    if (v4) {
        ip[0] = 0x45;
        nsh_put16__(ip + 2, ip_hlen + l4_len);
        nsh_put16__(ip + 6, 0x4000);
        ip[8] = 64;
        ip[9] = spec->ip_proto;
        memcpy(ip + 12, &spec->ip_src.s6_addr[12], 4);
        memcpy(ip + 16, &spec->ip_dst.s6_addr[12], 4);
        nsh_put16__(ip + 10, nsh_csum_finish__(nsh_csum_add__(0, ip,
                                                              ip_hlen)));
        sum = nsh_csum_add__(0, ip + 12, 8);
    } else {
        ip[0] = 0x60;
        nsh_put16__(ip + 4, l4_len);
        ip[6] = spec->ip_proto;
        ip[7] = 64;
        memcpy(ip + 8, spec->ip_src.s6_addr, 16);
        memcpy(ip + 24, spec->ip_dst.s6_addr, 16);
        sum = nsh_csum_add__(0, ip + 8, 32);
    }
    sum += spec->ip_proto + l4_len;

    /* L4 header and payload. */
    l4 = ip + ip_hlen;
    if (spec->ip_proto == IPPROTO_TCP) {
        nsh_put16__(l4, spec->src_port);
        nsh_put16__(l4 + 2, spec->dst_port);
        nsh_put16__(l4 + 12, (NSH_TCP_LEN / 4) << 12
                             | (spec->tcp_flags & 0x0fff));
        nsh_put16__(l4 + 14, 65535);
    } else if (spec->ip_proto == IPPROTO_UDP) {
        nsh_put16__(l4, spec->src_port);
        nsh_put16__(l4 + 2, spec->dst_port);
        nsh_put16__(l4 + 4, l4_len);
    } else {
        l4[0] = v4 ? 8 : 128;   /* Echo request. */
        if (v4) {
            sum = 0;            /* No pseudo-header for ICMP over IPv4. */
        }
    }
    for (size_t i = 0; i < spec->payload_len; i++) {
        l4[l4_hlen + i] = i;
    }
    csum = nsh_csum_finish__(nsh_csum_add__(sum, l4, l4_len));
    if (!csum && spec->ip_proto == IPPROTO_UDP) {
        csum = 0xffff;
    }
    nsh_put16__(l4 + (spec->ip_proto == IPPROTO_TCP ? 16
                      : spec->ip_proto == IPPROTO_UDP ? 6 : 2), csum);
    return len;
}
