/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for BFD: the codec (lib/bfdpkt.c) and a session
 * (agent/bfdsess.c) fed with what it parses, on a made-up clock.
 *
 * The input is a program.  A 12-byte header configures the session:
 *
 *   0   desired min TX, ms (0 to 255; 0 is clamped)
 *   1   required min RX, ms
 *   2   detect multiplier (0 is clamped)
 *   3   damping base, 10 ms units
 *   4   damping max, 100 ms units
 *   5   damping decay, 100 ms units
 *   6   seed, 4 bytes big-endian
 *   10  start of the clock: 0 for 0, 1 near LLONG_MAX, 2 near LLONG_MIN,
 *       else that many seconds
 *   11  bit 0: a local MAC; bit 1: every interval and damping time at
 *       UINT_MAX instead
 *
 * then steps, each a byte whose value modulo 6 is the operation and whose
 * value divided by 6 ('arg', 0 to 42) its argument:
 *
 *   0  raw frame: a length byte, then that many bytes as a frame
 *   1  made-up frame: 8 bytes (state and flags; diag; multiplier; which
 *      discriminators, ours among them; TX and RX intervals from a table;
 *      a byte to flip and how), built with bfdpkt_build() then flipped
 *   2  advance the clock, without running the session: 'arg' ms below 16,
 *      then hundreds of ms, then tens of seconds
 *   3  bfdsess_run(), then send whatever bfdsess_should_send() allows (at
 *      most 3 packets)
 *   4  bfdsess_set_hold() with 'arg' & 1
 *   5  bfdsess_format()
 *
 * Every frame goes through bfdpkt_parse(), whose result is checked against
 * bfdpkt_is_bfd(), bfdpkt_check(), the bytes and a rebuild; what parses
 * goes to bfdsess_receive().  After each step the session's invariants are
 * checked: its state against hold, damping and the Up and Down counters,
 * bfdsess_wake() against bfdsess_should_send(), the counters against the
 * packets given, and every packet it composes parses back with its own
 * discriminators, never with both P and F.  An expiry due before a packet
 * must not be undone by it (unless the packet says Init and damping is
 * off).  A broken invariant aborts. */

#include <config.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "bfdpkt.h"
#include "bfdsess.h"
#include "byte-order.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "util.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PEER_DISC 0x0b0b0b0b    /* The made-up peer's discriminator. */

/* The state of a run. */
struct run {
    struct bfdsess *s;          /* The session. */
    struct bfdsess_params p;    /* Its parameters as given. */
    long long int now;          /* The clock. */
    uint64_t n_rx_calls;        /* bfdsess_receive() calls. */
    uint16_t udp_src;           /* Our UDP source port, once seen. */
};

/* Returns the big-endian 32-bit number at 'p'. */
static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Checks the codec on the 'len' bytes at 'frame', parsed into '*ctl' with
 * result 'error'. */
static void
check_codec(const uint8_t *frame, size_t len, const struct bfdpkt_ctl *ctl,
            enum bfdpkt_error error)
{
    struct bfdpkt_ctl again, rebuilt_ctl;
    uint8_t rebuilt[BFDPKT_FRAME_LEN];
    struct ds ds = DS_EMPTY_INITIALIZER;
    size_t ihl, msg;

    fuzz_check((unsigned int) error < BFDPKT_N_ERRORS);
    fuzz_check(strcmp(bfdpkt_error_name(error), "unknown"));
    fuzz_check(bfdpkt_parse(frame, len, &again) == error);
    fuzz_check(!memcmp(&again, ctl, sizeof again));
    bfdpkt_format(ctl, &ds);
    ds_destroy(&ds);
    if (!bfdpkt_is_bfd(frame, len)) {
        /* Not BFD: the parser must say so before reaching the control
         * packet. */
        fuzz_check(error && error < BFDPKT_E_TRUNCATED);
        return;
    }
    if (error) {
        return;
    }

    /* Accepted: a BFD frame with a valid control packet, whose fields are
     * the bytes. */
    fuzz_check(bfdpkt_check(ctl) == BFDPKT_OK);
    fuzz_check(len >= BFDPKT_FRAME_LEN);
    fuzz_check(ctl->version == 1 && ctl->length >= BFDPKT_CTL_LEN);
    fuzz_check(ctl->state <= BFDPKT_STATE_UP && ctl->diag <= 31);
    ihl = (frame[14] & 0x0f) * 4;
    msg = 14 + ihl + 8;
    fuzz_check(msg + BFDPKT_CTL_LEN <= len);
    fuzz_check(frame[14 + 8] == 255);
    fuzz_check(ctl->my_disc == get32(frame + msg + 4));
    fuzz_check(ctl->your_disc == get32(frame + msg + 8));
    fuzz_check(ctl->required_min_echo_rx_us == get32(frame + msg + 20));
    fuzz_check(ctl->detect_mult == frame[msg + 2]);

    /* Rebuilt, it parses back the same but for Length 24. */
    fuzz_check(bfdpkt_build(ctl, rebuilt, sizeof rebuilt) == sizeof rebuilt);
    fuzz_check(bfdpkt_parse(rebuilt, sizeof rebuilt, &rebuilt_ctl)
               == BFDPKT_OK);
    again = *ctl;
    again.length = BFDPKT_CTL_LEN;
    fuzz_check(!memcmp(&again, &rebuilt_ctl, sizeof again));
}

/* Checks the invariants of the session of 'r'. */
static void
check_session(const struct run *r)
{
    const struct bfdsess *s = r->s;
    const struct bfdsess_stats *st = bfdsess_get_stats(s);
    enum bfdpkt_state state = bfdsess_state(s);
    unsigned int penalty = bfdsess_penalty(s, r->now);
    uint64_t drops = 0;

    fuzz_check(state <= BFDPKT_STATE_UP);
    fuzz_check(bfdsess_is_up(s) == (state == BFDPKT_STATE_UP));
    fuzz_check(bfdsess_is_held(s) == (state == BFDPKT_STATE_ADMIN_DOWN));
    if (bfdsess_damp_remaining(s, r->now) > 0) {
        fuzz_check(state == BFDPKT_STATE_DOWN
                   || state == BFDPKT_STATE_ADMIN_DOWN);
    }
    fuzz_check(st->n_up == st->n_down + bfdsess_is_up(s));
    fuzz_check(st->n_up == bfdsess_n_up(s) && st->n_down == bfdsess_n_down(s));
    fuzz_check(st->n_flaps <= st->n_down);
    fuzz_check(!penalty || penalty >= r->p.damp_base_ms);
    fuzz_check(penalty <= MAX(r->p.damp_max_ms, r->p.damp_base_ms));
    if (!r->p.damp_base_ms) {
        fuzz_check(!penalty && !bfdsess_damp_remaining(s, r->now));
    }
    for (int i = 1; i < BFDSESS_N_RXS; i++) {
        drops += st->rx_dropped[i];
    }
    fuzz_check(st->rx + drops == r->n_rx_calls);
    fuzz_check(st->tx_final <= st->tx && st->tx_final <= st->rx_poll);
    fuzz_check(bfdsess_my_disc(s) != 0);
    fuzz_check(bfdsess_tx_interval(s) >= 1);
    fuzz_check(bfdsess_detect_time(s) >= 0);
    if (bfdsess_should_send(s, r->now)) {
        fuzz_check(bfdsess_wake(s) <= r->now);
    }
    if (state != BFDPKT_STATE_UP) {
        fuzz_check(bfdsess_tx_interval(s) >= BFDSESS_SLOW_TX_MS);
    }
}

/* Gives the session of 'r' the 'len'-byte frame at 'frame', if it parses,
 * and checks the codec and what the session did. */
static void
give(struct run *r, const uint8_t *frame, size_t len)
{
    struct bfdpkt_ctl ctl;
    enum bfdpkt_error error = bfdpkt_parse(frame, len, &ctl);
    const struct bfdsess_stats *st = bfdsess_get_stats(r->s);
    uint64_t expired = st->n_expired;
    bool was_up = bfdsess_is_up(r->s);
    enum bfdsess_rx rx;

    check_codec(frame, len, &ctl, error);
    if (error) {
        return;
    }
    r->n_rx_calls++;
    rx = bfdsess_receive(r->s, &ctl, r->now);
    fuzz_check((unsigned int) rx < BFDSESS_N_RXS);
    fuzz_check(strcmp(bfdsess_rx_name(rx), "unknown"));
    fuzz_check((rx == BFDSESS_RX_YOUR_DISC)
               == (ctl.your_disc && ctl.your_disc != bfdsess_my_disc(r->s)));
    fuzz_check(rx != BFDSESS_RX_INVALID);
    if (rx == BFDSESS_RX_OK) {
        fuzz_check(bfdsess_remote_disc(r->s) == ctl.my_disc);
        fuzz_check(bfdsess_remote_state(r->s) == ctl.state);
        if (ctl.poll) {
            fuzz_check(bfdsess_should_send(r->s, r->now));
        }
    }

    /* A packet read after the detection time passed cannot keep the
     * session Up: it went Down before the packet, and only a remote Init
     * with no damping brings it straight back. */
    if (was_up && st->n_expired > expired) {
        fuzz_check(!bfdsess_is_up(r->s)
                   || (ctl.state == BFDPKT_STATE_INIT
                       && !r->p.damp_base_ms));
    }
}

/* Returns the interval, in us, that 'b' picks. */
static uint32_t
pick_interval(uint8_t b)
{
    static const uint32_t table[] = {
        0, 1, 1000, 5000, 4999, 20000, 1000000, UINT32_MAX,
    };

    return table[b % ARRAY_SIZE(table)] + (b >= 128 ? b : 0);
}

/* Builds a frame from the made-up peer out of the next 8 bytes of the
 * input and gives it to the session of 'r'. */
static void
synth(struct run *r, const uint8_t **data, size_t *size)
{
    uint8_t flags = fuzz_next(data, size);
    uint8_t diag = fuzz_next(data, size);
    uint8_t mult = fuzz_next(data, size);
    uint8_t discs = fuzz_next(data, size);
    uint8_t tx = fuzz_next(data, size);
    uint8_t rx = fuzz_next(data, size);
    uint8_t pos = fuzz_next(data, size);
    uint8_t flip = fuzz_next(data, size);
    static const uint32_t my_discs[] = { PEER_DISC, 0, PEER_DISC + 1,
                                         UINT32_MAX };
    uint32_t mine = bfdsess_my_disc(r->s);
    uint32_t yours[] = { 0, mine, mine ^ 1, mine };
    uint8_t frame[BFDPKT_FRAME_LEN];
    struct bfdpkt_ctl ctl;

    memset(&ctl, 0, sizeof ctl);
    ctl.eth_src = (struct eth_addr) {{{ 0x16, 0xd8, 0x20, 0x6c, 0xd6,
                                        0x74 }}};
    ctl.eth_dst = eth_addr_bfd;
    ctl.ip_src = htonl(0xa9fe0101);
    ctl.ip_dst = htonl(0xa9fe0100);
    ctl.udp_src = 49152;
    ctl.state = flags >> 6;
    ctl.poll = flags & 0x20;
    ctl.final = flags & 0x10;
    ctl.cpi = flags & 0x08;
    ctl.auth = (flags & 0x3f) == 0x04;  /* Rarely: it is refused. */
    ctl.demand = flags & 0x02;
    ctl.multipoint = (flags & 0x3f) == 0x01;
    ctl.diag = diag & 0x1f;
    ctl.detect_mult = mult ? mult : (diag & 0x80 ? 0 : 3);
    ctl.my_disc = my_discs[discs & 3];
    ctl.your_disc = yours[(discs >> 2) & 3];
    ctl.desired_min_tx_us = pick_interval(tx);
    ctl.required_min_rx_us = pick_interval(rx);
    ctl.required_min_echo_rx_us = discs & 0x80 ? 1 : 0;
    fuzz_check(bfdpkt_build(&ctl, frame, sizeof frame) == sizeof frame);
    if ((pos & 0x7f) < sizeof frame && flip) {
        frame[pos & 0x7f] ^= flip;
        if (pos & 0x80) {
            /* Fix the IPv4 checksum, so that deeper checks are reached. */
            uint32_t sum = 0;

            frame[24] = frame[25] = 0;
            for (int i = 14; i < 34; i += 2) {
                sum += frame[i] << 8 | frame[i + 1];
            }
            while (sum >> 16) {
                sum = (sum & 0xffff) + (sum >> 16);
            }
            frame[24] = ~sum >> 8;
            frame[25] = ~sum;
        }
    }
    give(r, frame, sizeof frame);
}

/* Runs the session of 'r' and sends what it allows, checking each packet
 * it composes. */
static void
run_and_send(struct run *r)
{
    bfdsess_run(r->s, r->now);
    for (int i = 0; i < 3 && bfdsess_should_send(r->s, r->now); i++) {
        struct bfdpkt_ctl ctl, back;
        uint8_t frame[BFDPKT_FRAME_LEN];
        enum bfdpkt_state state = bfdsess_state(r->s);

        bfdsess_compose(r->s, r->now, &ctl);
        fuzz_check(bfdpkt_build(&ctl, frame, sizeof frame)
                   == sizeof frame);
        fuzz_check(bfdpkt_parse(frame, sizeof frame, &back) == BFDPKT_OK);
        fuzz_check(!memcmp(&ctl, &back, sizeof ctl));
        fuzz_check(!(ctl.poll && ctl.final));
        fuzz_check(ctl.state == state);
        fuzz_check(ctl.my_disc == bfdsess_my_disc(r->s));
        fuzz_check(ctl.your_disc == bfdsess_remote_disc(r->s));
        fuzz_check(ctl.detect_mult >= 1);
        fuzz_check(ctl.required_min_rx_us >= 1000);
        fuzz_check(ctl.desired_min_tx_us >= 1000);
        fuzz_check(!ctl.demand && !ctl.auth && !ctl.multipoint);
        fuzz_check(!ctl.required_min_echo_rx_us);
        if (state != BFDPKT_STATE_UP) {
            fuzz_check(ctl.desired_min_tx_us >= 1000000);
        }
        fuzz_check(ctl.udp_src >= BFDPKT_SRC_PORT_MIN);
        if (r->udp_src) {
            fuzz_check(ctl.udp_src == r->udp_src);
        }
        r->udp_src = ctl.udp_src;
        if (state == BFDPKT_STATE_ADMIN_DOWN) {
            fuzz_check(ctl.diag == BFDPKT_DIAG_ADMIN_DOWN);
        }
    }
}

/* Advances the clock of 'r' by 'ms', saturating. */
static void
advance(struct run *r, long long int ms)
{
    r->now = r->now > LLONG_MAX - ms ? LLONG_MAX : r->now + ms;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct eth_addr mac = {{{ 0x02, 0x5a, 0, 0, 1, 1 }}};
    uint8_t head[12];
    struct run r;
    bool huge;

    memset(&r, 0, sizeof r);
    for (size_t i = 0; i < sizeof head; i++) {
        head[i] = fuzz_next(&data, &size);
    }
    huge = head[11] & 2;
    r.p.desired_min_tx_ms = huge ? UINT_MAX : head[0];
    r.p.required_min_rx_ms = huge ? UINT_MAX : head[1];
    r.p.detect_mult = head[2];
    r.p.damp_base_ms = huge ? UINT_MAX : head[3] * 10u;
    r.p.damp_max_ms = huge ? UINT_MAX : head[4] * 100u;
    r.p.damp_decay_ms = huge ? UINT_MAX : head[5] * 100u;
    r.now = (head[10] == 0 ? 0
             : head[10] == 1 ? LLONG_MAX - 100000000
             : head[10] == 2 ? LLONG_MIN + 1
             : head[10] * 1000LL);
    r.s = bfdsess_create(&r.p, head[11] & 1 ? &mac : NULL, get32(head + 6),
                         r.now);
    check_session(&r);

    while (size) {
        uint8_t b = fuzz_next(&data, &size);
        unsigned int arg = b / 6;

        switch (b % 6) {
        case 0: {
            size_t len = fuzz_next(&data, &size);

            len = MIN(len, size);

            give(&r, data, len);
            data += len;
            size -= len;
            break;
        }
        case 1:
            synth(&r, &data, &size);
            break;
        case 2:
            advance(&r, (arg < 16 ? arg
                         : arg < 32 ? (arg - 15) * 100LL
                         : (arg - 31) * 10000LL));
            break;
        case 3:
            run_and_send(&r);
            break;
        case 4:
            bfdsess_set_hold(r.s, arg & 1, r.now);
            fuzz_check(bfdsess_is_held(r.s) == (arg & 1));
            if (arg & 1) {
                fuzz_check(bfdsess_state(r.s) == BFDPKT_STATE_ADMIN_DOWN);
            }
            break;
        case 5: {
            struct ds ds = DS_EMPTY_INITIALIZER;

            bfdsess_format(r.s, r.now, &ds);
            fuzz_check(ds.length > 0);
            ds_destroy(&ds);
            break;
        }
        }
        check_session(&r);
    }
    bfdsess_destroy(r.s);
    return 0;
}
