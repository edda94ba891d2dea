/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "bfdsess.h"

#include <limits.h>
#include <string.h>
#include "byte-order.h"
#include "damp.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/util.h"
#include "packets.h"
#include "util.h"

/* The addresses sfmesh replies from and to before it has heard the remote:
 * OVS's defaults, the other way round. */
#define BFDSESS_DEFAULT_IP_SRC 0xa9fe0100 /* 169.254.1.0. */
#define BFDSESS_DEFAULT_IP_DST 0xa9fe0101 /* 169.254.1.1. */

/* A session. */
struct bfdsess {
    struct bfdsess_params p;    /* Configuration, clamped. */
    struct eth_addr local_mac;  /* Our source MAC, or zero to reply from
                                 * the MAC the remote sent to. */
    uint32_t my_disc;           /* bfd.LocalDiscr, never 0. */
    uint16_t udp_src;           /* Our UDP source port, 49152 to 65535. */
    uint64_t prng;              /* State of the jitter's generator. */
    long long int last_now;     /* The latest 'now' seen. */

    /* Our side. */
    enum bfdpkt_state state;    /* bfd.SessionState. */
    enum bfdpkt_diag diag;      /* bfd.LocalDiag. */
    bool held;                  /* bfdsess_set_hold() in force. */
    bool poll_active;           /* Sending a Poll Sequence. */
    bool final_owed;            /* A Final to send at once. */
    bool tx_owed;               /* A packet to send at once, after a change
                                 * of our state. */
    long long int next_tx;      /* When the next periodic packet is due. */
    long long int last_tx;      /* When the last packet was composed. */
    bool sent;                  /* A packet was composed: 'last_tx' is
                                 * set. */

    /* The remote, from its last packet accepted. */
    bool peer_known;            /* A packet was accepted: the fields below
                                 * are the remote's. */
    struct eth_addr peer_mac;   /* Its Ethernet source. */
    struct eth_addr peer_dst_mac; /* The Ethernet destination it used. */
    ovs_be32 peer_ip;           /* Its IPv4 source. */
    ovs_be32 peer_dst_ip;       /* The IPv4 destination it used. */
    uint32_t remote_disc;       /* bfd.RemoteDiscr, or 0. */
    enum bfdpkt_state remote_state; /* bfd.RemoteSessionState. */
    enum bfdpkt_diag remote_diag; /* Its diag. */
    bool remote_demand;         /* bfd.RemoteDemandMode. */
    uint8_t remote_mult;        /* Its Detect Mult, or 0. */
    uint32_t remote_min_rx_us;  /* bfd.RemoteMinRxInterval, us. */
    uint32_t remote_min_tx_us;  /* Its Desired Min TX Interval, us. */
    bool detect_armed;          /* 'detect_deadline' applies. */
    long long int detect_deadline; /* When the remote counts as silent. */

    /* Damping. */
    struct damp damp;           /* The penalty and the damping time. */
    bool damping;               /* The damping time's end not yet run. */

    struct bfdsess_down last_down; /* The last transition out of Up. */
    struct bfdsess_stats stats; /* Counters. */
};

/* Initializes 'p' with the BFDSESS_DEFAULT_* values. */
void
bfdsess_params_init(struct bfdsess_params *p)
{
    p->desired_min_tx_ms = BFDSESS_DEFAULT_DESIRED_MIN_TX_MS;
    p->required_min_rx_ms = BFDSESS_DEFAULT_REQUIRED_MIN_RX_MS;
    p->detect_mult = BFDSESS_DEFAULT_DETECT_MULT;
    p->damp_base_ms = BFDSESS_DEFAULT_DAMP_BASE_MS;
    p->damp_max_ms = BFDSESS_DEFAULT_DAMP_MAX_MS;
    p->damp_decay_ms = BFDSESS_DEFAULT_DAMP_DECAY_MS;
}

/* Returns 'x' clamped to the range 'lo' to 'hi'. */
static unsigned int
bfdsess_clamp__(unsigned int x, unsigned int lo, unsigned int hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Returns 't' plus 'd', which is not negative, or LLONG_MAX if that does
 * not fit. */
static long long int
bfdsess_add__(long long int t, long long int d)
{
    return t > LLONG_MAX - d ? LLONG_MAX : t + d;
}

/* Returns 'a' minus 'b', clamped to the range of long long int. */
static long long int
bfdsess_sub__(long long int a, long long int b)
{
    if (b < 0 ? a > LLONG_MAX + b : a < LLONG_MIN + b) {
        return b < 0 ? LLONG_MAX : LLONG_MIN;
    }
    return a - b;
}

/* Returns 'us' microseconds in ms, rounded up. */
static long long int
bfdsess_us_to_ms__(uint32_t us)
{
    return ((long long int) us + 999) / 1000;
}

/* Returns the next number of the generator of 's' (splitmix64). */
static uint64_t
bfdsess_random__(struct bfdsess *s)
{
    uint64_t z = (s->prng += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Returns the Desired Min TX Interval, in ms, that 's' advertises in state
 * 'state': the configured one in Up, else at least BFDSESS_SLOW_TX_MS. */
static long long int
bfdsess_desired_tx__(const struct bfdsess *s, enum bfdpkt_state state)
{
    return (state == BFDPKT_STATE_UP
            ? s->p.desired_min_tx_ms
            : MAX(s->p.desired_min_tx_ms, BFDSESS_SLOW_TX_MS));
}

/* Returns true if 's' may send a packet owed by a change of its state: it
 * knows where to, the remote's required min RX is not 0, and the remote is
 * not in Demand mode with both sides Up. */
static bool
bfdsess_owed_ok__(const struct bfdsess *s)
{
    return (s->peer_known
            && s->remote_min_rx_us
            && !(s->remote_demand
                 && s->state == BFDPKT_STATE_UP
                 && s->remote_state == BFDPKT_STATE_UP));
}

/* Returns true if 's' may send periodic packets: as for an owed packet,
 * and the remote is not forgotten (it was heard within a detection
 * time). */
static bool
bfdsess_periodic_ok__(const struct bfdsess *s)
{
    return bfdsess_owed_ok__(s) && s->remote_disc;
}

static long long int bfdsess_jittered__(struct bfdsess *);

/* Creates a session in state Down with the parameters 'params' (clamped
 * into their ranges), replying from 'local_mac' (if NULL or zero, from the
 * MAC the remote sends to), with the discriminator, UDP source port and
 * jitter drawn from 'seed', at time 'now'. */
struct bfdsess *
bfdsess_create(const struct bfdsess_params *params,
               const struct eth_addr *local_mac, uint32_t seed,
               long long int now)
{
    struct bfdsess *s = xzalloc(sizeof *s);
    struct bfdsess_params *p = &s->p;

    p->desired_min_tx_ms = bfdsess_clamp__(params->desired_min_tx_ms, 1,
                                           BFDSESS_MAX_INTERVAL_MS);
    p->required_min_rx_ms = bfdsess_clamp__(params->required_min_rx_ms, 1,
                                            BFDSESS_MAX_INTERVAL_MS);
    p->detect_mult = bfdsess_clamp__(params->detect_mult, 1, 255);
    p->damp_base_ms = params->damp_base_ms;
    p->damp_max_ms = MAX(params->damp_max_ms, params->damp_base_ms);
    p->damp_decay_ms = params->damp_decay_ms;

    if (local_mac) {
        s->local_mac = *local_mac;
    }
    s->prng = seed;
    do {
        s->my_disc = bfdsess_random__(s);
    } while (!s->my_disc);
    s->udp_src = BFDPKT_SRC_PORT_MIN
                 + bfdsess_random__(s) % (BFDPKT_SRC_PORT_MAX
                                          - BFDPKT_SRC_PORT_MIN + 1);
    s->last_now = now;

    s->state = BFDPKT_STATE_DOWN;
    s->diag = BFDPKT_DIAG_NONE;
    s->next_tx = now;

    s->remote_state = BFDPKT_STATE_DOWN;
    s->remote_min_rx_us = 1;    /* RFC 5880 section 6.8.1. */

    damp_init(&s->damp);
    return s;
}

/* Frees 's', which may be NULL. */
void
bfdsess_destroy(struct bfdsess *s)
{
    free(s);
}

/* Returns the damping rule of 's' (damp.h). */
static struct damp_params
bfdsess_damp_params__(const struct bfdsess *s)
{
    return (struct damp_params) { .base_ms = s->p.damp_base_ms,
                                  .max_ms = s->p.damp_max_ms,
                                  .decay_ms = s->p.damp_decay_ms };
}

/* Returns the penalty of 's' at 'now', in ms, with the decay applied. */
unsigned int
bfdsess_penalty(const struct bfdsess *s, long long int now)
{
    struct damp_params dp = bfdsess_damp_params__(s);

    return damp_penalty(&s->damp, &dp, now);
}

/* Records a flap of 's' at 'now': the penalty grows and the damping time
 * starts. */
static void
bfdsess_flap__(struct bfdsess *s, long long int now)
{
    struct damp_params dp = bfdsess_damp_params__(s);

    s->stats.n_flaps++;
    damp_flap(&s->damp, &dp, now);
    s->damping = damp_is_damped(&s->damp, now);
}

/* Moves 's' to 'state' with diag 'diag' at 'now', if that changes its
 * state; 'reason' says why, should it leave Up.  A change owes the remote
 * a packet and starts a Poll Sequence, so that the remote answers at once
 * (see bfdsess.h). */
static void
bfdsess_set_state__(struct bfdsess *s, enum bfdpkt_state state,
                    enum bfdpkt_diag diag, enum bfdsess_reason reason,
                    long long int now)
{
    enum bfdpkt_state old = s->state;

    if (state == old) {
        return;
    }
    s->state = state;
    s->diag = state == BFDPKT_STATE_UP ? BFDPKT_DIAG_NONE : diag;
    s->tx_owed = true;
    s->poll_active = true;

    if (state == BFDPKT_STATE_UP) {
        s->stats.n_up++;
    } else if (old == BFDPKT_STATE_UP) {
        s->stats.n_down++;
        s->last_down = (struct bfdsess_down) {
            .when = now,
            .reason = reason,
            .diag = diag,
            .remote_diag = s->remote_diag,
            .remote_state = s->remote_state,
            .detect_ms = bfdsess_detect_time(s),
        };
        if (reason != BFDSESS_REASON_HOLD) {
            bfdsess_flap__(s, now);
        }
    }
}

/* Applies to 's' the expiry of the detection time, if it is due by
 * 'now'. */
static void
bfdsess_expire__(struct bfdsess *s, long long int now)
{
    if (!s->detect_armed || now < s->detect_deadline) {
        return;
    }
    s->detect_armed = false;
    if (s->state == BFDPKT_STATE_INIT || s->state == BFDPKT_STATE_UP) {
        s->stats.n_expired++;
        bfdsess_set_state__(s, BFDPKT_STATE_DOWN, BFDPKT_DIAG_EXPIRED,
                            BFDSESS_REASON_EXPIRED, now);
    }
    /* RFC 5880 section 6.8.1: a remote silent for a detection time is
     * forgotten. */
    s->remote_disc = 0;
    s->remote_state = BFDPKT_STATE_DOWN;
    s->remote_demand = false;
    s->remote_min_rx_us = 1;
}

/* Runs the timers of 's' at 'now': the detection time's expiry, and the
 * end of a damping time, which owes the remote a Poll if 's' is Down, so
 * that the remote says at once where it stands. */
void
bfdsess_run(struct bfdsess *s, long long int now)
{
    s->last_now = MAX(s->last_now, now);
    bfdsess_expire__(s, now);
    if (s->damping && !damp_is_damped(&s->damp, now)) {
        s->damping = false;
        if (s->state == BFDPKT_STATE_DOWN) {
            s->tx_owed = true;
            s->poll_active = true;
        }
    }
}

/* Processes in 's' the control packet 'ctl', as bfdpkt_parse() accepted
 * it, read at 'now': first any expiry due by 'now', then the reception
 * procedure of RFC 5880 section 6.8.6.  Returns BFDSESS_RX_OK, or why the
 * packet was dropped. */
enum bfdsess_rx
bfdsess_receive(struct bfdsess *s, const struct bfdpkt_ctl *ctl,
                long long int now)
{
    enum bfdpkt_state rs = ctl->state & 3;

    bfdsess_run(s, now);

    if (bfdpkt_check(ctl) != BFDPKT_OK) {
        s->stats.rx_dropped[BFDSESS_RX_INVALID]++;
        return BFDSESS_RX_INVALID;
    }
    if (ctl->your_disc && ctl->your_disc != s->my_disc) {
        s->stats.rx_dropped[BFDSESS_RX_YOUR_DISC]++;
        return BFDSESS_RX_YOUR_DISC;
    }
    s->stats.rx++;

    s->peer_known = true;
    s->peer_mac = ctl->eth_src;
    s->peer_dst_mac = ctl->eth_dst;
    s->peer_ip = ctl->ip_src;
    s->peer_dst_ip = ctl->ip_dst;

    s->remote_disc = ctl->my_disc;
    s->remote_state = rs;
    s->remote_diag = ctl->diag & 0x1f;
    s->remote_demand = ctl->demand;
    s->remote_mult = ctl->detect_mult;
    s->remote_min_tx_us = ctl->desired_min_tx_us;
    if (s->remote_min_rx_us != ctl->required_min_rx_us) {
        /* The interval changes: the next packet keeps to the new one from
         * the last (so as not to send faster than the remote wants, nor
         * slower than needed). */
        s->remote_min_rx_us = ctl->required_min_rx_us;
        if (s->sent) {
            s->next_tx = bfdsess_add__(s->last_tx, bfdsess_jittered__(s));
        }
    }

    if (ctl->final) {
        s->poll_active = false;
    }
    if (ctl->poll) {
        s->stats.rx_poll++;
        s->final_owed = true;
    }

    s->detect_armed = true;
    s->detect_deadline = bfdsess_add__(now, bfdsess_detect_time(s));

    if (s->state == BFDPKT_STATE_ADMIN_DOWN) {
        return BFDSESS_RX_OK;
    }
    if (rs == BFDPKT_STATE_ADMIN_DOWN) {
        bfdsess_set_state__(s, BFDPKT_STATE_DOWN, BFDPKT_DIAG_NEIGHBOR_DOWN,
                            BFDSESS_REASON_REMOTE_ADMIN_DOWN, now);
        return BFDSESS_RX_OK;
    }
    switch (s->state) {
    case BFDPKT_STATE_DOWN:
        if (rs == BFDPKT_STATE_DOWN || rs == BFDPKT_STATE_INIT) {
            if (damp_is_damped(&s->damp, now)) {
                s->stats.rx_damped++;
            } else {
                bfdsess_set_state__(s, (rs == BFDPKT_STATE_DOWN
                                        ? BFDPKT_STATE_INIT
                                        : BFDPKT_STATE_UP),
                                    s->diag, BFDSESS_REASON_REMOTE_DOWN,
                                    now);
            }
        }
        break;

    case BFDPKT_STATE_INIT:
        if (rs == BFDPKT_STATE_INIT || rs == BFDPKT_STATE_UP) {
            bfdsess_set_state__(s, BFDPKT_STATE_UP, BFDPKT_DIAG_NONE,
                                BFDSESS_REASON_REMOTE_DOWN, now);
        }
        break;

    case BFDPKT_STATE_UP:
        if (rs == BFDPKT_STATE_DOWN) {
            bfdsess_set_state__(s, BFDPKT_STATE_DOWN,
                                BFDPKT_DIAG_NEIGHBOR_DOWN,
                                BFDSESS_REASON_REMOTE_DOWN, now);
        }
        break;

    case BFDPKT_STATE_ADMIN_DOWN:
        break;
    }
    return BFDSESS_RX_OK;
}

/* Holds 's' in AdminDown if 'hold', else releases it to Down, at 'now'
 * (after any expiry due by then). */
void
bfdsess_set_hold(struct bfdsess *s, bool hold, long long int now)
{
    bfdsess_run(s, now);
    if (hold == s->held) {
        return;
    }
    s->held = hold;
    if (hold) {
        bfdsess_set_state__(s, BFDPKT_STATE_ADMIN_DOWN,
                            BFDPKT_DIAG_ADMIN_DOWN, BFDSESS_REASON_HOLD,
                            now);
    } else {
        bfdsess_set_state__(s, BFDPKT_STATE_DOWN, BFDPKT_DIAG_NONE,
                            BFDSESS_REASON_HOLD, now);
    }
}

/* Returns true if 's' has a packet to send at 'now': a Final, a packet
 * owed after a change of its state, or a periodic one that is due. */
bool
bfdsess_should_send(const struct bfdsess *s, long long int now)
{
    if (!s->peer_known) {
        return false;
    }
    return (s->final_owed
            || (bfdsess_owed_ok__(s) && s->tx_owed)
            || (bfdsess_periodic_ok__(s) && now >= s->next_tx));
}

/* Returns the time by which bfdsess_run() (and bfdsess_should_send()) must
 * next be called for 's': the latest 'now' it saw if a packet is owed at
 * once, else the earliest of the next periodic packet, the detection
 * time's expiry and the end of the damping time, or LLONG_MAX if none
 * applies. */
long long int
bfdsess_wake(const struct bfdsess *s)
{
    long long int t = LLONG_MAX;

    if (s->peer_known) {
        if (s->final_owed || (bfdsess_owed_ok__(s) && s->tx_owed)) {
            return s->last_now;
        }
        if (bfdsess_periodic_ok__(s)) {
            t = s->next_tx;
        }
    }
    if (s->detect_armed) {
        t = MIN(t, s->detect_deadline);
    }
    if (s->damping) {
        t = MIN(t, s->damp.until);
    }
    return t;
}

/* Returns the periodic interval of 's', in ms, before jitter: the larger of
 * its Desired Min TX Interval in its current state and the remote's
 * Required Min RX Interval. */
long long int
bfdsess_tx_interval(const struct bfdsess *s)
{
    return MAX(bfdsess_desired_tx__(s, s->state),
               bfdsess_us_to_ms__(s->remote_min_rx_us));
}

/* Returns the interval of 's' with a jitter drawn from its generator: 75%
 * to 100% of it (75% to 90% with a detect multiplier of 1), in whole ms. */
static long long int
bfdsess_jittered__(struct bfdsess *s)
{
    long long int i = bfdsess_tx_interval(s);
    long long int lo = (i * 75 + 99) / 100;
    long long int hi = s->p.detect_mult == 1 ? i * 90 / 100 : i;

    if (hi < lo) {
        hi = lo;
    }
    return lo + bfdsess_random__(s) % (hi - lo + 1);
}

/* Fills '*ctl' with the next packet of 's' at 'now', addressed to the
 * remote, and restarts the periodic timer: a Final if one is owed, else a
 * packet with Poll during a Poll Sequence. */
void
bfdsess_compose(struct bfdsess *s, long long int now, struct bfdpkt_ctl *ctl)
{
    s->last_now = MAX(s->last_now, now);
    memset(ctl, 0, sizeof *ctl);

    if (s->peer_known) {
        ctl->eth_dst = s->peer_mac;
        ctl->eth_src = (eth_addr_is_zero(s->local_mac)
                        ? s->peer_dst_mac : s->local_mac);
        ctl->ip_src = s->peer_dst_ip;
        ctl->ip_dst = s->peer_ip;
    } else {
        ctl->eth_dst = eth_addr_bfd;
        ctl->eth_src = s->local_mac;
        ctl->ip_src = htonl(BFDSESS_DEFAULT_IP_SRC);
        ctl->ip_dst = htonl(BFDSESS_DEFAULT_IP_DST);
    }
    ctl->udp_src = s->udp_src;

    ctl->version = BFDPKT_VERSION;
    ctl->diag = s->diag;
    ctl->state = s->state;
    ctl->final = s->final_owed;
    ctl->poll = s->poll_active && !s->final_owed;
    ctl->detect_mult = s->p.detect_mult;
    ctl->length = BFDPKT_CTL_LEN;
    ctl->my_disc = s->my_disc;
    ctl->your_disc = s->remote_disc;
    ctl->desired_min_tx_us = bfdsess_desired_tx__(s, s->state) * 1000;
    ctl->required_min_rx_us = s->p.required_min_rx_ms * 1000;
    ctl->required_min_echo_rx_us = 0;

    s->stats.tx++;
    if (s->final_owed) {
        s->stats.tx_final++;
    }
    s->final_owed = false;
    s->tx_owed = false;
    s->last_tx = now;
    s->sent = true;
    s->next_tx = bfdsess_add__(now, bfdsess_jittered__(s));
}

/* Returns the state of 's'. */
enum bfdpkt_state
bfdsess_state(const struct bfdsess *s)
{
    return s->state;
}

/* Returns true if 's' is Up. */
bool
bfdsess_is_up(const struct bfdsess *s)
{
    return s->state == BFDPKT_STATE_UP;
}

/* Returns true if 's' is held by bfdsess_set_hold(). */
bool
bfdsess_is_held(const struct bfdsess *s)
{
    return s->held;
}

/* Returns the diag that 's' sends. */
enum bfdpkt_diag
bfdsess_diag(const struct bfdsess *s)
{
    return s->diag;
}

/* Returns the remote's state as 's' last heard it (Down if never, or if
 * the remote has been silent for a detection time). */
enum bfdpkt_state
bfdsess_remote_state(const struct bfdsess *s)
{
    return s->remote_state;
}

/* Returns the discriminator of 's'. */
uint32_t
bfdsess_my_disc(const struct bfdsess *s)
{
    return s->my_disc;
}

/* Returns the remote's discriminator as 's' knows it, or 0. */
uint32_t
bfdsess_remote_disc(const struct bfdsess *s)
{
    return s->remote_disc;
}

/* Returns the detection time of 's', in ms: the remote's detect multiplier
 * times the larger of our Required Min RX Interval and the remote's Desired
 * Min TX Interval; 0 before the remote is heard. */
long long int
bfdsess_detect_time(const struct bfdsess *s)
{
    return s->remote_mult * MAX((long long int) s->p.required_min_rx_ms,
                                bfdsess_us_to_ms__(s->remote_min_tx_us));
}

/* Returns true if 's' is sending a Poll Sequence. */
bool
bfdsess_in_poll(const struct bfdsess *s)
{
    return s->poll_active;
}

/* Returns how many times 's' came Up. */
uint64_t
bfdsess_n_up(const struct bfdsess *s)
{
    return s->stats.n_up;
}

/* Returns how many times 's' left Up. */
uint64_t
bfdsess_n_down(const struct bfdsess *s)
{
    return s->stats.n_down;
}

/* Returns the last transition of 's' out of Up (all zeros if none). */
const struct bfdsess_down *
bfdsess_last_down(const struct bfdsess *s)
{
    return &s->last_down;
}

/* Returns the counters of 's'. */
const struct bfdsess_stats *
bfdsess_get_stats(const struct bfdsess *s)
{
    return &s->stats;
}

/* Returns how long 's' stays damped after 'now', in ms, or 0. */
long long int
bfdsess_damp_remaining(const struct bfdsess *s, long long int now)
{
    return damp_remaining(&s->damp, now);
}

/* Returns the name of 'reason', such as "expired". */
const char *
bfdsess_reason_name(enum bfdsess_reason reason)
{
    switch (reason) {
#define BFDSESS_REASON(ENUM, NAME) case BFDSESS_REASON_##ENUM: return NAME;
        BFDSESS_REASONS
#undef BFDSESS_REASON
    case BFDSESS_N_REASONS:
        break;
    }
    return "unknown";
}

/* Returns the name of 'rx', such as "your-disc". */
const char *
bfdsess_rx_name(enum bfdsess_rx rx)
{
    switch (rx) {
    case BFDSESS_RX_OK:
        return "ok";
#define BFDSESS_RX(ENUM, NAME) case BFDSESS_RX_##ENUM: return NAME;
        BFDSESS_RXS
#undef BFDSESS_RX
    case BFDSESS_N_RXS:
        break;
    }
    return "unknown";
}

/* Appends to 'ds' the status of 's' at 'now', a few lines each ending in a
 * newline, for the agent's status command. */
void
bfdsess_format(const struct bfdsess *s, long long int now, struct ds *ds)
{
    const struct bfdsess_stats *st = &s->stats;
    long long int damp = bfdsess_damp_remaining(s, now);

    ds_put_format(ds, "bfd: %s%s, diag \"%s\"; remote %s, diag \"%s\"\n",
                  bfdpkt_state_name(s->state), s->held ? " (held)" : "",
                  bfdpkt_diag_name(s->diag),
                  bfdpkt_state_name(s->remote_state),
                  bfdpkt_diag_name(s->remote_diag));
    ds_put_format(ds, "bfd discriminators: local 0x%08"PRIx32", remote "
                  "0x%08"PRIx32"; udp source port %"PRIu16"\n",
                  s->my_disc, s->remote_disc, s->udp_src);
    ds_put_format(ds, "bfd timers: tx every %lld ms (jittered), detect %lld"
                  " ms; local min tx %lld ms, min rx %u ms, mult %u; "
                  "remote min tx %"PRIu32" us, min rx %"PRIu32" us, mult %"
                  PRIu8"%s\n",
                  bfdsess_tx_interval(s), bfdsess_detect_time(s),
                  bfdsess_desired_tx__(s, s->state),
                  s->p.required_min_rx_ms, s->p.detect_mult,
                  s->remote_min_tx_us, s->remote_min_rx_us, s->remote_mult,
                  s->poll_active ? "; polling" : "");
    if (s->peer_known) {
        ds_put_format(ds, "bfd next: tx in %lld ms",
                      bfdsess_sub__(s->next_tx, now));
        if (s->detect_armed) {
            ds_put_format(ds, ", expiry in %lld ms",
                          bfdsess_sub__(s->detect_deadline, now));
        }
        ds_put_format(ds, "; remote "ETH_ADDR_FMT" "IP_FMT"\n",
                      ETH_ADDR_ARGS(s->peer_mac), IP_ARGS(s->peer_ip));
    } else {
        ds_put_cstr(ds, "bfd next: waiting for the remote's first packet\n");
    }
    ds_put_format(ds, "bfd packets: rx %"PRIu64" (polls %"PRIu64", damped %"
                  PRIu64"), tx %"PRIu64" (finals %"PRIu64")",
                  st->rx, st->rx_poll, st->rx_damped, st->tx, st->tx_final);
    for (int i = 1; i < BFDSESS_N_RXS; i++) {
        ds_put_format(ds, ", dropped %s %"PRIu64, bfdsess_rx_name(i),
                      st->rx_dropped[i]);
    }
    ds_put_char(ds, '\n');
    ds_put_format(ds, "bfd transitions: up %"PRIu64", down %"PRIu64
                  ", flaps %"PRIu64", expired %"PRIu64,
                  st->n_up, st->n_down, st->n_flaps, st->n_expired);
    if (st->n_down) {
        ds_put_format(ds, "; last down %lld ms ago: %s, diag \"%s\", "
                      "remote %s diag \"%s\"",
                      bfdsess_sub__(now, s->last_down.when),
                      bfdsess_reason_name(s->last_down.reason),
                      bfdpkt_diag_name(s->last_down.diag),
                      bfdpkt_state_name(s->last_down.remote_state),
                      bfdpkt_diag_name(s->last_down.remote_diag));
    }
    ds_put_char(ds, '\n');
    ds_put_format(ds, "bfd damping: penalty %u ms, %lld ms remaining\n",
                  bfdsess_penalty(s, now), damp);
}
