/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef SFMESH_BFDPKT_H
#define SFMESH_BFDPKT_H 1

/* BFD control packets (RFC 5880) in single-hop IPv4 frames (RFC 5881), as
 * OVS sends them out of an interface with bfd:enable=true and as
 * sfmesh-agent answers them.
 *
 * The frame, 66 bytes, as OVS 3.1 sends it by default:
 *
 *   Ethernet   dst 00:23:20:00:00:01, src the OVS port's MAC, type 0x0800,
 *              no 802.1Q tag
 *   IPv4       169.254.1.1 -> 169.254.1.0, TOS 0xc0, TTL 255, no options,
 *              not a fragment, header checksum set
 *   UDP        src port 49152 to 65535 (fixed per session), dst port 3784,
 *              checksum 0
 *   BFD        the 24-byte mandatory section, no authentication:
 *
 *    0                   1                   2                   3
 *    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *   |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
 *   |                       My Discriminator                        |
 *   |                      Your Discriminator                       |
 *   |                    Desired Min TX Interval                    |
 *   |                   Required Min RX Interval                    |
 *   |                 Required Min Echo RX Interval                 |
 *
 * bfdpkt_is_bfd() tells, cheaply, whether a frame is meant as BFD (IPv4,
 * UDP, destination port 3784), so that the agent can send it down the BFD
 * path before any other parsing; bfdpkt_parse() then checks it whole and
 * decodes it into a struct bfdpkt_ctl; bfdpkt_build() encodes a struct
 * bfdpkt_ctl into a frame; bfdpkt_format() describes one for a log.
 *
 * Pure: no I/O and no allocation but bfdpkt_format()'s.  The parser reads
 * nothing outside the 'len' bytes it is given, for any input, and needs no
 * alignment. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "openvswitch/types.h"

struct ds;

#define BFDPKT_UDP_PORT 3784    /* RFC 5881 destination port, control. */
#define BFDPKT_VERSION 1        /* The protocol version. */
#define BFDPKT_CTL_LEN 24       /* Mandatory section, no authentication. */
#define BFDPKT_FRAME_LEN 66     /* Ethernet + IPv4 + UDP + 24 bytes. */
#define BFDPKT_TTL 255          /* RFC 5881 single-hop TTL, both ways. */
#define BFDPKT_SRC_PORT_MIN 49152 /* RFC 5881 source port range. */
#define BFDPKT_SRC_PORT_MAX 65535

/* Session states (RFC 5880 section 4.1), the wire value of each and its
 * name: the one list of them for the codec and for agent/bfdsess.h. */
#define BFDPKT_STATES                           \
    BFDPKT_STATE(ADMIN_DOWN, 0, "AdminDown")    \
    BFDPKT_STATE(DOWN, 1, "Down")               \
    BFDPKT_STATE(INIT, 2, "Init")               \
    BFDPKT_STATE(UP, 3, "Up")

enum bfdpkt_state {
#define BFDPKT_STATE(ENUM, VALUE, NAME) BFDPKT_STATE_##ENUM = VALUE,
    BFDPKT_STATES
#undef BFDPKT_STATE
};

/* Diagnostic codes (RFC 5880 section 4.1), their values and names.  Values
 * 9 to 31 are reserved; they pass through the codec as numbers. */
#define BFDPKT_DIAGS                                                    \
    BFDPKT_DIAG(NONE, 0, "No Diagnostic")                               \
    BFDPKT_DIAG(EXPIRED, 1, "Control Detection Time Expired")           \
    BFDPKT_DIAG(ECHO_FAILED, 2, "Echo Function Failed")                 \
    BFDPKT_DIAG(NEIGHBOR_DOWN, 3, "Neighbor Signaled Session Down")     \
    BFDPKT_DIAG(FWD_RESET, 4, "Forwarding Plane Reset")                 \
    BFDPKT_DIAG(PATH_DOWN, 5, "Path Down")                              \
    BFDPKT_DIAG(CPATH_DOWN, 6, "Concatenated Path Down")                \
    BFDPKT_DIAG(ADMIN_DOWN, 7, "Administratively Down")                 \
    BFDPKT_DIAG(RCPATH_DOWN, 8, "Reverse Concatenated Path Down")

enum bfdpkt_diag {
#define BFDPKT_DIAG(ENUM, VALUE, NAME) BFDPKT_DIAG_##ENUM = VALUE,
    BFDPKT_DIAGS
#undef BFDPKT_DIAG
};

/* What bfdpkt_parse() returns: BFDPKT_OK (0) or BFDPKT_E_*, the reason the
 * frame must be dropped, in the order they are checked.  Each value has a
 * short name (bfdpkt_error_name()) fit for a counter or a log line;
 * BFDPKT_N_ERRORS sizes an array of counters indexed by the value. */
#define BFDPKT_ERRORS                                                   \
    /* Ethernet header cut short. */                                    \
    BFDPKT_ERROR(ETH_TRUNCATED, "eth-truncated")                        \
    /* Ethernet type not IPv4: an 802.1Q-tagged frame ends up here. */  \
    BFDPKT_ERROR(ETHERTYPE, "ethertype")                                \
    /* IPv4 header (with its options) cut short. */                     \
    BFDPKT_ERROR(IP_TRUNCATED, "ip-truncated")                          \
    /* IP version not 4. */                                             \
    BFDPKT_ERROR(IP_VERSION, "ip-version")                              \
    /* IPv4 header length (IHL) below 5 words. */                       \
    BFDPKT_ERROR(IP_IHL, "ip-ihl")                                      \
    /* IPv4 total length below the header or beyond the frame. */       \
    BFDPKT_ERROR(IP_LENGTH, "ip-length")                                \
    /* IPv4 header checksum wrong. */                                   \
    BFDPKT_ERROR(IP_CHECKSUM, "ip-checksum")                            \
    /* An IPv4 fragment (MF set or a nonzero offset). */                \
    BFDPKT_ERROR(IP_FRAGMENT, "ip-fragment")                            \
    /* IP protocol not UDP. */                                          \
    BFDPKT_ERROR(IP_PROTO, "ip-proto")                                  \
    /* TTL not 255 (RFC 5881 section 5, single hop). */                 \
    BFDPKT_ERROR(IP_TTL, "ip-ttl")                                      \
    /* Fewer than 8 bytes of IP payload for the UDP header. */          \
    BFDPKT_ERROR(UDP_TRUNCATED, "udp-truncated")                        \
    /* UDP destination port not 3784. */                                \
    BFDPKT_ERROR(UDP_PORT, "udp-port")                                  \
    /* UDP length below 8, or beyond the IP payload. */                 \
    BFDPKT_ERROR(UDP_LENGTH, "udp-length")                              \
    /* UDP payload shorter than the 24-byte mandatory section. */       \
    BFDPKT_ERROR(TRUNCATED, "bfd-truncated")                            \
    /* Version not 1. */                                                \
    BFDPKT_ERROR(VERSION, "bfd-version")                                \
    /* Length field below 24. */                                        \
    BFDPKT_ERROR(LENGTH_SHORT, "bfd-length-short")                      \
    /* Length field beyond the UDP payload. */                          \
    BFDPKT_ERROR(LENGTH_LONG, "bfd-length-long")                        \
    /* Detect Mult 0. */                                                \
    BFDPKT_ERROR(MULT, "bfd-mult-zero")                                 \
    /* Multipoint (M) bit set. */                                       \
    BFDPKT_ERROR(MULTIPOINT, "bfd-multipoint")                          \
    /* My Discriminator 0. */                                           \
    BFDPKT_ERROR(MY_DISC, "bfd-my-disc-zero")                           \
    /* Your Discriminator 0 with a state other than Down or AdminDown. */ \
    BFDPKT_ERROR(YOUR_DISC, "bfd-your-disc-zero")                       \
    /* Authentication (A) bit set: sfmesh configures no authentication. \
     */                                                                 \
    BFDPKT_ERROR(AUTH, "bfd-auth")

enum bfdpkt_error {
    BFDPKT_OK,                  /* Success: "ok". */
#define BFDPKT_ERROR(ENUM, NAME) BFDPKT_E_##ENUM,
    BFDPKT_ERRORS
#undef BFDPKT_ERROR
    BFDPKT_N_ERRORS
};

/* A BFD control packet and what of its frame a reply needs.  Numbers are in
 * host byte order, IPv4 addresses in network byte order. */
struct bfdpkt_ctl {
    /* The outer headers. */
    struct eth_addr eth_src;    /* Ethernet source. */
    struct eth_addr eth_dst;    /* Ethernet destination. */
    ovs_be32 ip_src;            /* IPv4 source. */
    ovs_be32 ip_dst;            /* IPv4 destination. */
    uint16_t udp_src;           /* UDP source port (the destination port is
                                 * always BFDPKT_UDP_PORT). */

    /* The control packet, RFC 5880 section 4.1. */
    uint8_t version;            /* Vers: 1 once parsed. */
    enum bfdpkt_diag diag;      /* Diag, 0 to 31. */
    enum bfdpkt_state state;    /* Sta. */
    bool poll;                  /* P: the sender asks for a Final. */
    bool final;                 /* F: the answer to a Poll. */
    bool cpi;                   /* C: control plane independent. */
    bool auth;                  /* A: authentication present. */
    bool demand;                /* D: the sender wants Demand mode. */
    bool multipoint;            /* M: reserved for multipoint, must be 0. */
    uint8_t detect_mult;        /* Detect Mult. */
    uint8_t length;             /* Length of the BFD packet, in bytes. */
    uint32_t my_disc;           /* My Discriminator: the sender's. */
    uint32_t your_disc;         /* Your Discriminator: the receiver's, or 0
                                 * if the sender has not learned it. */
    uint32_t desired_min_tx_us; /* Desired Min TX Interval, microseconds. */
    uint32_t required_min_rx_us; /* Required Min RX Interval, us. */
    uint32_t required_min_echo_rx_us; /* Required Min Echo RX Interval, us:
                                 * 0, no echo, for sfmesh. */
};

/* bfdpkt_is_bfd(frame, len) returns true if the 'len' bytes at 'frame'
 * look like BFD control: an untagged Ethernet header of type IPv4, an IPv4
 * header of protocol UDP that is not a later fragment, and a UDP header (as
 * far as its destination port) with port 3784.  Nothing else is checked
 * (bfdpkt_parse() does): it is meant to sort frames cheaply, so that the
 * agent counts a malformed BFD frame as a BFD drop and everything else as
 * other traffic.  Every frame that bfdpkt_parse() accepts passes it.
 *
 * bfdpkt_parse(frame, len, ctl) parses the 'len' bytes at 'frame' into
 * '*ctl' and returns BFDPKT_OK, or the first problem found (the list above
 * is in the order of the checks):
 *
 *   - Ethernet: 14 bytes, type 0x0800.  An 802.1Q tag is refused
 *     (BFDPKT_E_ETHERTYPE): OVS sends BFD out of the port itself, never
 *     tagged, and bfdpkt_build() replies untagged.
 *   - IPv4: version 4, IHL 5 or more, the header and the total length
 *     within the frame (Ethernet padding after it is allowed), the header
 *     checksum right, not a fragment, protocol UDP, TTL 255.  The header
 *     checksum is checked because it is the only check on the addresses a
 *     reply goes back to, it costs 10 additions per packet at a few hundred
 *     packets a second, and OVS always computes it when it builds a BFD
 *     packet (OVS itself does not check it on what it receives).
 *   - UDP: 8 bytes, destination port 3784, UDP length from 8 to the IP
 *     payload.  The UDP checksum is not checked: OVS sends 0 (allowed for
 *     IPv4), and a nonzero one may be a partial checksum left for offload
 *     on the way to the agent's socket.
 *   - BFD, every check of RFC 5880 section 6.8.6 that needs no session:
 *     at least 24 bytes of UDP payload, version 1, Length 24 or more and
 *     within the UDP payload, Detect Mult not 0, M clear, My Discriminator
 *     not 0, Your Discriminator 0 only with state Down or AdminDown, and A
 *     clear (sfmesh configures no authentication, so an authenticated
 *     packet is dropped, as section 6.8.6 requires).  Bytes of the UDP
 *     payload after the 24 mandatory ones (Length above 24) are ignored.
 *     The UDP source port is not checked against RFC 5881's range.
 *
 * On error '*ctl' holds the fields parsed before the problem (all of the
 * control packet's once its 24 bytes are there, for a log line about a bad
 * one) and zeros beyond; its padding is always zero.
 *
 * bfdpkt_check(ctl) applies to '*ctl' the checks of the control packet that
 * need no frame (all of the BFD ones but the two about the UDP payload):
 * for a control packet that did not come from bfdpkt_parse().
 *
 * bfdpkt_error_name(error) returns the short name of 'error', or
 * "unknown". */
bool bfdpkt_is_bfd(const void *frame, size_t len);
enum bfdpkt_error bfdpkt_parse(const void *frame, size_t len,
                               struct bfdpkt_ctl *);
enum bfdpkt_error bfdpkt_check(const struct bfdpkt_ctl *);
const char *bfdpkt_error_name(enum bfdpkt_error);

/* bfdpkt_build(ctl, buf, size) writes into the 'size' bytes at 'buf' the
 * frame that '*ctl' describes and returns its length, BFDPKT_FRAME_LEN, or
 * 0 if 'size' is smaller than that:
 *
 *   Ethernet   ctl's eth_dst and eth_src, type 0x0800
 *   IPv4       ctl's ip_src and ip_dst, TOS 0xc0 (internetwork control, as
 *              OVS), id 0, no fragment bits, TTL 255, header checksum
 *   UDP        ctl's udp_src, destination port 3784, length 32, checksum 0
 *   BFD        version 1 and Length 24 whatever ctl's 'version' and
 *              'length' say; every other field of ctl as it is (the low 5
 *              bits of 'diag'), so that tests can build packets that
 *              bfdpkt_parse() refuses (A or M set, Detect Mult 0, ...).
 *
 * bfdpkt_build() and bfdpkt_parse() are inverses: a control packet built
 * parses back to the same fields, with version 1 and Length 24. */
size_t bfdpkt_build(const struct bfdpkt_ctl *, uint8_t *buf, size_t size);

/* bfdpkt_format(ctl, ds) appends to 'ds' a one-line description of '*ctl'
 * (addresses, state, diag, flags, discriminators, intervals), without a
 * newline.  bfdpkt_state_name(state) returns the name of 'state'
 * ("AdminDown", "Down", "Init", "Up") and bfdpkt_diag_name(diag) that of
 * 'diag' as RFC 5880 words it, or "Reserved" for 9 to 31, or "unknown". */
void bfdpkt_format(const struct bfdpkt_ctl *, struct ds *);
const char *bfdpkt_state_name(enum bfdpkt_state);
const char *bfdpkt_diag_name(enum bfdpkt_diag);

#endif /* bfdpkt.h */
