/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "bfdpkt.h"

#include <string.h>
#include "byte-order.h"
#include "csum.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "util.h"

/* The mandatory section of a control packet, RFC 5880 section 4.1. */
struct bfdpkt_msg {
    uint8_t vers_diag;          /* Version (3 bits), diagnostic (5 bits). */
    uint8_t flags;              /* State (2 bits), then P F C A D M. */
    uint8_t mult;               /* Detect Mult. */
    uint8_t length;             /* Length in bytes. */
    ovs_16aligned_be32 my_disc; /* My Discriminator. */
    ovs_16aligned_be32 your_disc; /* Your Discriminator. */
    ovs_16aligned_be32 min_tx;  /* Desired Min TX Interval, us. */
    ovs_16aligned_be32 min_rx;  /* Required Min RX Interval, us. */
    ovs_16aligned_be32 min_echo_rx; /* Required Min Echo RX Interval, us. */
};
BUILD_ASSERT_DECL(sizeof(struct bfdpkt_msg) == BFDPKT_CTL_LEN);
BUILD_ASSERT_DECL(BFDPKT_FRAME_LEN
                  == ETH_HEADER_LEN + IP_HEADER_LEN + UDP_HEADER_LEN
                     + BFDPKT_CTL_LEN);

/* Bits of bfdpkt_msg's 'flags'. */
#define BFDPKT_STATE_SHIFT 6
#define BFDPKT_F_POLL 0x20
#define BFDPKT_F_FINAL 0x10
#define BFDPKT_F_CPI 0x08
#define BFDPKT_F_AUTH 0x04
#define BFDPKT_F_DEMAND 0x02
#define BFDPKT_F_MULTIPOINT 0x01

#define BFDPKT_VERSION_SHIFT 5
#define BFDPKT_DIAG_MASK 0x1f
#define BFDPKT_IP_TOS 0xc0      /* IPTOS_PREC_INTERNETCONTROL. */

/* Decodes the control packet 'msg' into the BFD fields of 'ctl'. */
static void
bfdpkt_decode__(const struct bfdpkt_msg *msg, struct bfdpkt_ctl *ctl)
{
    ctl->version = msg->vers_diag >> BFDPKT_VERSION_SHIFT;
    ctl->diag = msg->vers_diag & BFDPKT_DIAG_MASK;
    ctl->state = msg->flags >> BFDPKT_STATE_SHIFT;
    ctl->poll = (msg->flags & BFDPKT_F_POLL) != 0;
    ctl->final = (msg->flags & BFDPKT_F_FINAL) != 0;
    ctl->cpi = (msg->flags & BFDPKT_F_CPI) != 0;
    ctl->auth = (msg->flags & BFDPKT_F_AUTH) != 0;
    ctl->demand = (msg->flags & BFDPKT_F_DEMAND) != 0;
    ctl->multipoint = (msg->flags & BFDPKT_F_MULTIPOINT) != 0;
    ctl->detect_mult = msg->mult;
    ctl->length = msg->length;
    ctl->my_disc = ntohl(get_16aligned_be32(&msg->my_disc));
    ctl->your_disc = ntohl(get_16aligned_be32(&msg->your_disc));
    ctl->desired_min_tx_us = ntohl(get_16aligned_be32(&msg->min_tx));
    ctl->required_min_rx_us = ntohl(get_16aligned_be32(&msg->min_rx));
    ctl->required_min_echo_rx_us
        = ntohl(get_16aligned_be32(&msg->min_echo_rx));
}

/* Returns BFDPKT_OK if the control packet fields of 'ctl' pass the checks
 * of RFC 5880 section 6.8.6 that need neither a session nor the frame
 * around the packet, else the first that fails. */
enum bfdpkt_error
bfdpkt_check(const struct bfdpkt_ctl *ctl)
{
    if (ctl->version != BFDPKT_VERSION) {
        return BFDPKT_E_VERSION;
    }
    if (ctl->length < BFDPKT_CTL_LEN) {
        return BFDPKT_E_LENGTH_SHORT;
    }
    if (!ctl->detect_mult) {
        return BFDPKT_E_MULT;
    }
    if (ctl->multipoint) {
        return BFDPKT_E_MULTIPOINT;
    }
    if (!ctl->my_disc) {
        return BFDPKT_E_MY_DISC;
    }
    if (!ctl->your_disc && ctl->state != BFDPKT_STATE_DOWN
        && ctl->state != BFDPKT_STATE_ADMIN_DOWN) {
        return BFDPKT_E_YOUR_DISC;
    }
    if (ctl->auth) {
        return BFDPKT_E_AUTH;
    }
    return BFDPKT_OK;
}

/* Returns true if the 'len' bytes at 'frame' are, as far as the UDP
 * destination port, an untagged IPv4 UDP frame to port 3784 that is not a
 * later fragment. */
bool
bfdpkt_is_bfd(const void *frame_, size_t len)
{
    const uint8_t *frame = frame_;
    const uint8_t *ip = frame + ETH_HEADER_LEN;
    size_t ihl;

    if (len < ETH_HEADER_LEN + IP_HEADER_LEN
        || frame[12] != (ETH_TYPE_IP >> 8)
        || frame[13] != (ETH_TYPE_IP & 0xff)
        || IP_VER(ip[0]) != IP_VERSION
        || ip[9] != IPPROTO_UDP
        || ((ip[6] << 8 | ip[7]) & IP_FRAG_OFF_MASK)) {
        return false;
    }
    ihl = IP_IHL(ip[0]) * 4;
    if (ihl < IP_HEADER_LEN || len - ETH_HEADER_LEN < ihl + 4) {
        return false;
    }
    return (ip[ihl + 2] << 8 | ip[ihl + 3]) == BFDPKT_UDP_PORT;
}

/* Parses the 'len' bytes at 'frame', a whole Ethernet frame, into '*ctl'
 * and returns BFDPKT_OK or the first problem found.  See bfdpkt.h for what
 * is checked. */
enum bfdpkt_error
bfdpkt_parse(const void *frame_, size_t len, struct bfdpkt_ctl *ctl)
{
    const uint8_t *frame = frame_;
    struct eth_header eth;
    struct ip_header ip;
    struct udp_header udp;
    struct bfdpkt_msg msg;
    size_t ofs, ihl, tot_len, udp_len;
    uint8_t ip_hdr[60];
    uint16_t frag;

    memset(ctl, 0, sizeof *ctl);

    /* Ethernet. */
    if (len < ETH_HEADER_LEN) {
        return BFDPKT_E_ETH_TRUNCATED;
    }
    memcpy(&eth, frame, sizeof eth);
    ctl->eth_dst = eth.eth_dst;
    ctl->eth_src = eth.eth_src;
    if (eth.eth_type != htons(ETH_TYPE_IP)) {
        return BFDPKT_E_ETHERTYPE;
    }
    ofs = ETH_HEADER_LEN;

    /* IPv4. */
    if (len - ofs < IP_HEADER_LEN) {
        return BFDPKT_E_IP_TRUNCATED;
    }
    memcpy(&ip, frame + ofs, sizeof ip);
    if (IP_VER(ip.ip_ihl_ver) != IP_VERSION) {
        return BFDPKT_E_IP_VERSION;
    }
    ihl = IP_IHL(ip.ip_ihl_ver) * 4;
    if (ihl < IP_HEADER_LEN) {
        return BFDPKT_E_IP_IHL;
    }
    if (ihl > len - ofs) {
        return BFDPKT_E_IP_TRUNCATED;
    }
    tot_len = ntohs(ip.ip_tot_len);
    if (tot_len < ihl || tot_len > len - ofs) {
        return BFDPKT_E_IP_LENGTH;
    }
    ctl->ip_src = get_16aligned_be32(&ip.ip_src);
    ctl->ip_dst = get_16aligned_be32(&ip.ip_dst);
    /* An aligned copy of the header with its options, for csum(). */
    memcpy(ip_hdr, frame + ofs, ihl);
    if (csum(ip_hdr, ihl)) {
        return BFDPKT_E_IP_CHECKSUM;
    }
    frag = ntohs(ip.ip_frag_off);
    if (frag & (IP_MORE_FRAGMENTS | IP_FRAG_OFF_MASK)) {
        return BFDPKT_E_IP_FRAGMENT;
    }
    if (ip.ip_proto != IPPROTO_UDP) {
        return BFDPKT_E_IP_PROTO;
    }
    if (ip.ip_ttl != BFDPKT_TTL) {
        return BFDPKT_E_IP_TTL;
    }
    ofs += ihl;

    /* UDP. */
    if (tot_len - ihl < UDP_HEADER_LEN) {
        return BFDPKT_E_UDP_TRUNCATED;
    }
    memcpy(&udp, frame + ofs, sizeof udp);
    ctl->udp_src = ntohs(udp.udp_src);
    if (udp.udp_dst != htons(BFDPKT_UDP_PORT)) {
        return BFDPKT_E_UDP_PORT;
    }
    udp_len = ntohs(udp.udp_len);
    if (udp_len < UDP_HEADER_LEN || udp_len > tot_len - ihl) {
        return BFDPKT_E_UDP_LENGTH;
    }
    ofs += UDP_HEADER_LEN;
    udp_len -= UDP_HEADER_LEN;

    /* BFD. */
    if (udp_len < BFDPKT_CTL_LEN) {
        return BFDPKT_E_TRUNCATED;
    }
    memcpy(&msg, frame + ofs, sizeof msg);
    bfdpkt_decode__(&msg, ctl);
    if (ctl->version != BFDPKT_VERSION) {
        return BFDPKT_E_VERSION;
    }
    if (ctl->length < BFDPKT_CTL_LEN) {
        return BFDPKT_E_LENGTH_SHORT;
    }
    if (ctl->length > udp_len) {
        return BFDPKT_E_LENGTH_LONG;
    }
    return bfdpkt_check(ctl);
}

/* Returns the short name of 'error', such as "bfd-version". */
const char *
bfdpkt_error_name(enum bfdpkt_error error)
{
    switch (error) {
    case BFDPKT_OK:
        return "ok";
#define BFDPKT_ERROR(ENUM, NAME) case BFDPKT_E_##ENUM: return NAME;
        BFDPKT_ERRORS
#undef BFDPKT_ERROR
    case BFDPKT_N_ERRORS:
        break;
    }
    return "unknown";
}

/* Writes into the 'size' bytes at 'buf' the frame that 'ctl' describes and
 * returns its length, or 0 if 'size' is too small.  See bfdpkt.h. */
size_t
bfdpkt_build(const struct bfdpkt_ctl *ctl, uint8_t *buf, size_t size)
{
    struct eth_header eth;
    struct ip_header ip;
    struct udp_header udp;
    struct bfdpkt_msg msg;
    uint8_t *p = buf;

    if (size < BFDPKT_FRAME_LEN) {
        return 0;
    }

    eth.eth_dst = ctl->eth_dst;
    eth.eth_src = ctl->eth_src;
    eth.eth_type = htons(ETH_TYPE_IP);

    memset(&ip, 0, sizeof ip);
    ip.ip_ihl_ver = IP_IHL_VER(IP_HEADER_LEN / 4, IP_VERSION);
    ip.ip_tos = BFDPKT_IP_TOS;
    ip.ip_tot_len = htons(IP_HEADER_LEN + UDP_HEADER_LEN + BFDPKT_CTL_LEN);
    ip.ip_ttl = BFDPKT_TTL;
    ip.ip_proto = IPPROTO_UDP;
    put_16aligned_be32(&ip.ip_src, ctl->ip_src);
    put_16aligned_be32(&ip.ip_dst, ctl->ip_dst);
    ip.ip_csum = csum(&ip, sizeof ip);

    udp.udp_src = htons(ctl->udp_src);
    udp.udp_dst = htons(BFDPKT_UDP_PORT);
    udp.udp_len = htons(UDP_HEADER_LEN + BFDPKT_CTL_LEN);
    udp.udp_csum = htons(0);

    msg.vers_diag = (BFDPKT_VERSION << BFDPKT_VERSION_SHIFT
                     | (ctl->diag & BFDPKT_DIAG_MASK));
    msg.flags = ((ctl->state & 3) << BFDPKT_STATE_SHIFT
                 | (ctl->poll ? BFDPKT_F_POLL : 0)
                 | (ctl->final ? BFDPKT_F_FINAL : 0)
                 | (ctl->cpi ? BFDPKT_F_CPI : 0)
                 | (ctl->auth ? BFDPKT_F_AUTH : 0)
                 | (ctl->demand ? BFDPKT_F_DEMAND : 0)
                 | (ctl->multipoint ? BFDPKT_F_MULTIPOINT : 0));
    msg.mult = ctl->detect_mult;
    msg.length = BFDPKT_CTL_LEN;
    put_16aligned_be32(&msg.my_disc, htonl(ctl->my_disc));
    put_16aligned_be32(&msg.your_disc, htonl(ctl->your_disc));
    put_16aligned_be32(&msg.min_tx, htonl(ctl->desired_min_tx_us));
    put_16aligned_be32(&msg.min_rx, htonl(ctl->required_min_rx_us));
    put_16aligned_be32(&msg.min_echo_rx,
                       htonl(ctl->required_min_echo_rx_us));

    memcpy(p, &eth, sizeof eth);
    p += sizeof eth;
    memcpy(p, &ip, sizeof ip);
    p += sizeof ip;
    memcpy(p, &udp, sizeof udp);
    p += sizeof udp;
    memcpy(p, &msg, sizeof msg);
    p += sizeof msg;
    return p - buf;
}

/* Returns the name of 'state', such as "AdminDown". */
const char *
bfdpkt_state_name(enum bfdpkt_state state)
{
    switch (state) {
#define BFDPKT_STATE(ENUM, VALUE, NAME) case BFDPKT_STATE_##ENUM: return NAME;
        BFDPKT_STATES
#undef BFDPKT_STATE
    }
    return "unknown";
}

/* Returns the RFC 5880 name of 'diag', such as "Control Detection Time
 * Expired", "Reserved" for the values RFC 5880 leaves unassigned, or
 * "unknown" for values that do not fit in 5 bits. */
const char *
bfdpkt_diag_name(enum bfdpkt_diag diag)
{
    switch (diag) {
#define BFDPKT_DIAG(ENUM, VALUE, NAME) case BFDPKT_DIAG_##ENUM: return NAME;
        BFDPKT_DIAGS
#undef BFDPKT_DIAG
    }
    return (unsigned int) diag <= BFDPKT_DIAG_MASK ? "Reserved" : "unknown";
}

/* Appends to 'ds' a one-line description of 'ctl'. */
void
bfdpkt_format(const struct bfdpkt_ctl *ctl, struct ds *ds)
{
    const bool bits[] = {
        ctl->poll, ctl->final, ctl->cpi, ctl->auth, ctl->demand,
        ctl->multipoint,
    };
    static const char letters[] = "PFCADM";
    bool any = false;

    ds_put_format(ds, ETH_ADDR_FMT" > "ETH_ADDR_FMT", "IP_FMT":%"PRIu16
                  " > "IP_FMT": vers %"PRIu8" state %s diag %d (%s) flags ",
                  ETH_ADDR_ARGS(ctl->eth_src), ETH_ADDR_ARGS(ctl->eth_dst),
                  IP_ARGS(ctl->ip_src), ctl->udp_src, IP_ARGS(ctl->ip_dst),
                  ctl->version, bfdpkt_state_name(ctl->state),
                  (int) ctl->diag, bfdpkt_diag_name(ctl->diag));
    for (size_t i = 0; i < ARRAY_SIZE(bits); i++) {
        if (bits[i]) {
            ds_put_char(ds, letters[i]);
            any = true;
        }
    }
    if (!any) {
        ds_put_cstr(ds, "none");
    }
    ds_put_format(ds, " mult %"PRIu8" len %"PRIu8" my_disc 0x%08"PRIx32
                  " your_disc 0x%08"PRIx32" min_tx %"PRIu32"us"
                  " min_rx %"PRIu32"us min_echo_rx %"PRIu32"us",
                  ctl->detect_mult, ctl->length, ctl->my_disc,
                  ctl->your_disc, ctl->desired_min_tx_us,
                  ctl->required_min_rx_us, ctl->required_min_echo_rx_us);
}
