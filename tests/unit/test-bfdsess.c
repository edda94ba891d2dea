/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bfdpkt.h"
#include "bfdsess.h"
#include "byte-order.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "tests.h"

/* The tests run a session against two kinds of peer:
 *
 *   - a scripted one: control packets made up field by field and given to
 *     bfdsess_receive() directly, for the rules of RFC 5880 one at a time;
 *
 *   - a model of OVS 3.1's BFD (struct ovsm), written from reading
 *     lib/bfd.c and ofproto-dpif-monitor.c, that exchanges whole frames
 *     with the session through bfdpkt_build() and bfdpkt_parse() on one
 *     side and its own byte-level encoder and decoder on the other, on a
 *     simulated clock in 1 ms steps.  What it models: the state machine of
 *     bfd_process_packet() with its checks (TTL 255, UDP port 3784, the
 *     destination IP when bfd_src_ip is set, version, A, Length, Detect
 *     Mult, M, My Discriminator, Your Discriminator nonzero and ours or
 *     zero with Down or AdminDown); the remote fields it forgets when it
 *     goes Down; Desired Min TX at least 1 s while not Up; the transmit
 *     interval max(min TX, the remote's min RX) less 0 to 25% of it; the
 *     next transmission rescheduled only when the remote's min RX changes;
 *     its monitor thread, which alone sends and runs the timers, waking at
 *     the session's next transmission or expiry but at least every 100 ms,
 *     and not woken by a packet received: a Poll makes it owe a Final,
 *     sent at the next wake (within 100 ms while not Up, within its
 *     transmit interval once Up), and nothing else makes it send early (a
 *     change of its state does not); Poll Sequences after reconfiguration;
 *     the
 *     detection time max(min RX, the remote's min TX) times the remote's
 *     multiplier, expiring only in Init and Up; forwarding while Up and the
 *     remote's diag is not a path-down one. */

/* Aborts the test unless 'COND'. */
#define REQUIRE(COND) CU_ASSERT_FATAL(COND)

/* Returns the next number of the generator at '*state' (splitmix64). */
static uint64_t
rnd_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Returns the big-endian 16-bit number at 'p'. */
static uint16_t
get16(const uint8_t *p)
{
    return p[0] << 8 | p[1];
}

/* Returns the big-endian 32-bit number at 'p'. */
static uint32_t
get32(const uint8_t *p)
{
    return (uint32_t) p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* Stores 'x' at 'p' big-endian, in 'n' bytes (2 or 4). */
static void
put_be(uint8_t *p, uint32_t x, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = x;
        x >>= 8;
    }
}

/* The OVS model. */

/* The states and diags, as the model numbers them (those of the wire). */
enum { M_ADMIN_DOWN, M_DOWN, M_INIT, M_UP };

/* OVS's BFD session on the agent's port. */
struct ovsm {
    uint32_t disc;              /* Its discriminator. */
    int state;                  /* Its state. */
    int diag;                   /* Its diag. */
    int rmt_state;              /* The remote's state, as it knows it. */
    int rmt_diag;               /* The remote's diag. */
    uint32_t rmt_disc;          /* The remote's discriminator, or 0. */
    int rmt_mult;               /* The remote's multiplier, or 0. */
    long long int rmt_min_rx;   /* The remote's min RX, ms, at least 1. */
    long long int rmt_min_tx;   /* The remote's min TX, ms. */
    bool poll;                  /* Sending a Poll Sequence. */
    bool final;                 /* A Final owed. */
    long long int cfg_min_tx;   /* bfd:min_tx. */
    long long int cfg_min_rx;   /* bfd:min_rx. */
    long long int min_tx;       /* The min TX in force. */
    long long int min_rx;       /* The min RX in force. */
    long long int poll_min_tx;  /* The min TX being polled for. */
    long long int poll_min_rx;  /* The min RX being polled for. */
    long long int last_tx;      /* When it last sent. */
    long long int next_tx;      /* When it sends next. */
    long long int detect_time;  /* When the remote counts as silent. */
    uint64_t rnd;               /* Its random numbers. */
    uint16_t udp_src;           /* Its UDP source port. */
    uint32_t ip_src;            /* Its bfd_src_ip. */
    uint32_t ip_dst;            /* Its bfd_dst_ip. */
    long long int monitor_wake; /* When its monitor thread wakes next. */

    /* What the tests look at. */
    int path[16];               /* The states it went through. */
    int n_path;                 /* Entries in 'path' (capped). */
    int n_up;                   /* Transitions into Up. */
    long long int up_at;        /* When it last came Up, or -1. */
    uint64_t rx;                /* Packets it accepted. */
    uint64_t rx_dropped;        /* Packets it refused. */
    uint64_t tx;                /* Packets it sent. */
    uint64_t tx_final;          /* Finals among them. */
    bool was_forwarding;        /* Forwarding at some point since the tests
                                 * last cleared it. */
};

#define OVSM_IP_SRC 0xa9fe0101  /* OVS's default bfd_src_ip. */
#define OVSM_IP_DST 0xa9fe0100  /* OVS's default bfd_dst_ip. */

/* Returns true if 'o' is forwarding. */
static bool
ovsm_forwarding(const struct ovsm *o)
{
    return o->state == M_UP && o->rmt_diag != BFDPKT_DIAG_PATH_DOWN
           && o->rmt_diag != BFDPKT_DIAG_CPATH_DOWN
           && o->rmt_diag != BFDPKT_DIAG_RCPATH_DOWN;
}

/* Returns the min TX that 'o' advertises outside a Poll Sequence. */
static long long int
ovsm_min_tx(const struct ovsm *o)
{
    return o->state == M_UP ? o->min_tx : MAX(o->min_tx, 1000);
}

/* Schedules the next transmission of 'o' from its last one. */
static void
ovsm_set_next_tx(struct ovsm *o)
{
    long long int interval = MAX(ovsm_min_tx(o), o->rmt_min_rx);

    interval -= interval * (long long int) (rnd_next(&o->rnd) % 26) / 100;
    o->next_tx = o->last_tx + interval;
}

/* Moves 'o' to 'state' with 'diag' at 'now'. */
static void
ovsm_set_state(struct ovsm *o, int state, int diag, long long int now)
{
    if (o->state == state && o->diag == diag) {
        return;
    }
    if (o->state != state && o->n_path < ARRAY_SIZE(o->path)) {
        o->path[o->n_path++] = state;
    }
    if (state == M_UP && o->state != M_UP) {
        o->n_up++;
        o->up_at = now;
    }
    o->state = state;
    o->diag = diag;
    if (state <= M_DOWN) {
        o->rmt_state = M_DOWN;
        o->rmt_diag = BFDPKT_DIAG_NONE;
        o->rmt_min_rx = 1;
        o->rmt_disc = 0;
        o->rmt_min_tx = 0;
    }
}

/* Starts a Poll Sequence in 'o' if it may. */
static void
ovsm_start_poll(struct ovsm *o)
{
    if (o->state > M_DOWN && !o->poll && !o->final) {
        o->poll_min_tx = o->cfg_min_tx;
        o->poll_min_rx = o->cfg_min_rx;
        o->poll = true;
        o->next_tx = 0;
    }
}

/* Creates in 'o' OVS's session with bfd:min_tx='min_tx' and
 * bfd:min_rx='min_rx', seeded with 'seed'. */
static void
ovsm_init(struct ovsm *o, long long int min_tx, long long int min_rx,
          uint64_t seed)
{
    memset(o, 0, sizeof *o);
    o->rnd = seed;
    do {
        o->disc = rnd_next(&o->rnd);
    } while (!o->disc);
    o->udp_src = 49152;
    o->ip_src = OVSM_IP_SRC;
    o->ip_dst = OVSM_IP_DST;
    o->state = M_DOWN;
    o->rmt_state = M_DOWN;
    o->rmt_min_rx = 1;
    o->cfg_min_tx = o->min_tx = MAX(min_tx, 1);
    o->cfg_min_rx = o->min_rx = MAX(min_rx, 1);
    o->next_tx = 0;
    o->up_at = -1;
    o->path[o->n_path++] = M_DOWN;
}

/* Reconfigures 'o' with new intervals, as ovs-vsctl would. */
static void
ovsm_reconfigure(struct ovsm *o, long long int min_tx, long long int min_rx)
{
    min_tx = MAX(min_tx, 1);
    min_rx = MAX(min_rx, 1);
    if (o->cfg_min_tx != min_tx) {
        o->cfg_min_tx = min_tx;
        if (o->state != M_UP || (!o->poll && min_tx < o->min_tx)) {
            o->min_tx = min_tx;
        }
    }
    if (o->cfg_min_rx != min_rx) {
        o->cfg_min_rx = min_rx;
        if (o->state != M_UP || (!o->poll && min_rx > o->min_rx)) {
            o->min_rx = min_rx;
        }
    }
    ovsm_start_poll(o);
}

/* Runs the timers of 'o' at 'now'. */
static void
ovsm_run(struct ovsm *o, long long int now)
{
    if (o->state > M_DOWN && now >= o->detect_time) {
        ovsm_set_state(o, M_DOWN, BFDPKT_DIAG_EXPIRED, now);
    }
    if (o->min_tx != o->cfg_min_tx || o->min_rx != o->cfg_min_rx) {
        ovsm_start_poll(o);
    }
    if (ovsm_forwarding(o)) {
        o->was_forwarding = true;
    }
}

/* Returns true if 'o' sends at 'now'. */
static bool
ovsm_should_send(const struct ovsm *o, long long int now)
{
    return o->final || now >= o->next_tx;
}

/* Returns when 'o' wants its monitor thread to wake next: at once if a
 * Final is owed, else at the next transmission or, in Init or Up, the
 * detection time if that is sooner. */
static long long int
ovsm_wake_time(const struct ovsm *o)
{
    if (o->final) {
        return 0;
    }
    return o->state > M_DOWN ? MIN(o->next_tx, o->detect_time) : o->next_tx;
}

/* Writes the next frame of 'o' at 'now' into 'buf' (room for
 * BFDPKT_FRAME_LEN bytes), byte by byte as OVS lays it out, and returns its
 * length. */
static size_t
ovsm_send(struct ovsm *o, long long int now, uint8_t *buf)
{
    static const uint8_t hw_addr[6] = { 0x16, 0xd8, 0x20, 0x6c, 0xd6, 0x74 };
    long long int min_tx, min_rx;
    uint32_t sum = 0;
    uint8_t *ip = buf + 14, *udp = buf + 34, *msg = buf + 42;

    memcpy(buf, eth_addr_bfd.ea, 6);
    memcpy(buf + 6, hw_addr, 6);
    put_be(buf + 12, 0x0800, 2);

    memset(ip, 0, 20);
    ip[0] = 0x45;
    ip[1] = 0xc0;
    put_be(ip + 2, 52, 2);
    ip[8] = 255;
    ip[9] = IPPROTO_UDP;
    put_be(ip + 12, o->ip_src, 4);
    put_be(ip + 16, o->ip_dst, 4);
    for (int i = 0; i < 20; i += 2) {
        sum += get16(ip + i);
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    put_be(ip + 10, ~sum & 0xffff, 2);

    put_be(udp, o->udp_src, 2);
    put_be(udp + 2, 3784, 2);
    put_be(udp + 4, 32, 2);
    put_be(udp + 6, 0, 2);

    if (o->poll) {
        min_tx = o->poll_min_tx;
        min_rx = o->poll_min_rx;
    } else {
        min_tx = ovsm_min_tx(o);
        min_rx = o->min_rx;
    }
    msg[0] = 1 << 5 | o->diag;
    msg[1] = o->state << 6 | (o->poll ? 0x20 : 0) | (o->final ? 0x10 : 0);
    msg[2] = 3;
    msg[3] = 24;
    put_be(msg + 4, o->disc, 4);
    put_be(msg + 8, o->rmt_disc, 4);
    put_be(msg + 12, min_tx * 1000, 4);
    put_be(msg + 16, min_rx * 1000, 4);
    put_be(msg + 20, 0, 4);

    REQUIRE(!(o->poll && o->final));
    o->tx++;
    if (o->final) {
        o->tx_final++;
    }
    o->final = false;
    o->last_tx = now;
    ovsm_set_next_tx(o);
    return 66;
}

/* Processes in 'o' the 'len'-byte frame at 'frame', from the agent, at
 * 'now', with the checks OVS makes, reading the bytes itself. */
static void
ovsm_receive(struct ovsm *o, const uint8_t *frame, size_t len,
             long long int now)
{
    const uint8_t *ip = frame + 14, *udp, *msg;
    int flags, rmt_state;
    uint32_t your_disc, rmt_min_rx;

    /* What bfd_should_process_flow() and the flow extraction need. */
    if (len < 14 + 20 || get16(frame + 12) != 0x0800
        || ip[9] != IPPROTO_UDP || (get16(ip + 6) & 0x1fff)) {
        o->rx_dropped++;
        return;
    }
    udp = ip + (ip[0] & 0x0f) * 4;
    if (udp + 8 > frame + len || get16(udp + 2) != 3784
        || (o->ip_src != OVSM_IP_SRC && get32(ip + 16) != o->ip_src)) {
        o->rx_dropped++;
        return;
    }

    /* bfd_process_packet(). */
    msg = udp + 8;
    if (ip[8] != 255 || msg + 24 > frame + len) {
        o->rx_dropped++;
        return;
    }
    flags = msg[1] & 0x3f;
    rmt_state = msg[1] >> 6;
    your_disc = get32(msg + 8);
    if (msg[0] >> 5 != 1 || (flags & 0x04) || msg[3] < 24 || !msg[2]
        || (flags & 0x01) || !get32(msg + 4)
        || (your_disc && your_disc != o->disc)
        || (!your_disc && rmt_state > M_DOWN)) {
        o->rx_dropped++;
        return;
    }
    o->rx++;

    o->rmt_disc = get32(msg + 4);
    o->rmt_state = rmt_state;
    o->rmt_diag = msg[0] & 0x1f;
    if ((flags & 0x10) && o->poll) {
        o->min_tx = o->poll_min_tx;
        o->min_rx = o->poll_min_rx;
        o->poll = false;
    }
    if (flags & 0x20) {
        o->poll = false;
        o->final = true;
    }
    o->rmt_mult = msg[2];
    rmt_min_rx = MAX(get32(msg + 16) / 1000, 1);
    if (o->rmt_min_rx != rmt_min_rx) {
        o->rmt_min_rx = rmt_min_rx;
        if (o->next_tx) {
            ovsm_set_next_tx(o);
        }
    }
    o->rmt_min_tx = MAX(get32(msg + 12) / 1000, 1);
    o->detect_time = MAX(o->min_rx, o->rmt_min_tx) * o->rmt_mult + now;

    if (o->state == M_ADMIN_DOWN) {
        return;
    }
    if (rmt_state == M_ADMIN_DOWN) {
        if (o->state != M_DOWN) {
            ovsm_set_state(o, M_DOWN, BFDPKT_DIAG_NEIGHBOR_DOWN, now);
        }
    } else if (o->state == M_DOWN) {
        if (rmt_state == M_DOWN) {
            ovsm_set_state(o, M_INIT, o->diag, now);
        } else if (rmt_state == M_INIT) {
            ovsm_set_state(o, M_UP, o->diag, now);
        }
    } else if (o->state == M_INIT) {
        if (rmt_state > M_DOWN) {
            ovsm_set_state(o, M_UP, o->diag, now);
        }
    } else if (rmt_state <= M_DOWN) {
        ovsm_set_state(o, M_DOWN, BFDPKT_DIAG_NEIGHBOR_DOWN, now);
    }
    if (ovsm_forwarding(o)) {
        o->was_forwarding = true;
    }
}

/* The simulation: the OVS model and a session on a link, in 1 ms steps. */

#define SIM_QUEUE 4096          /* Frames a stopped agent can have queued. */

/* A frame on its way. */
struct sim_frame {
    long long int at;           /* When it arrives. */
    bool to_agent;              /* Its direction. */
    uint8_t data[BFDPKT_FRAME_LEN]; /* The frame. */
};

/* The simulated world. */
struct sim {
    long long int now;          /* The clock, ms. */
    struct ovsm o;              /* OVS. */
    struct bfdsess *s;          /* The agent's session, or NULL before it
                                 * starts. */
    bool ovs_on;                /* OVS's session exists. */
    bool agent_stopped;         /* The agent is stopped (SIGSTOP): frames
                                 * for it wait in its socket. */
    bool cut_to_agent;          /* Frames to the agent are lost. */
    bool cut_to_ovs;            /* Frames to OVS are lost. */
    int latency;                /* One-way delay, ms. */
    struct sim_frame *q;        /* Frames in flight or queued. */
    size_t n_q;                 /* Entries in 'q'. */

    /* What the tests look at. */
    uint64_t agent_tx;          /* Frames the agent sent. */
    long long int agent_last_tx; /* When it last sent, or -1. */
    bool both_pf;               /* A frame had both P and F. */
    long long int sess_up_at;   /* When the session last came Up, or -1. */
    bool sess_was_up;           /* The session was Up since the tests last
                                 * cleared it. */
    long long int max_gap;      /* Longest time between two frames from the
                                 * agent while both were Up, or 0. */
    int sess_path[16];          /* The states the session went through. */
    int n_sess_path;            /* Entries in 'sess_path' (capped). */
};

/* Initializes 'sim' with OVS's session configured with 5 ms both ways and
 * no agent yet, everything seeded with 'seed'. */
static void
sim_init(struct sim *sim, uint64_t seed)
{
    memset(sim, 0, sizeof *sim);
    sim->q = xcalloc(SIM_QUEUE, sizeof *sim->q);
    ovsm_init(&sim->o, 5, 5, seed);
    sim->ovs_on = true;
    sim->agent_last_tx = -1;
    sim->sess_up_at = -1;
}

/* Frees what 'sim' holds. */
static void
sim_destroy(struct sim *sim)
{
    bfdsess_destroy(sim->s);
    free(sim->q);
}

/* Starts the agent's session in 'sim' with 'params' (NULL: the defaults)
 * and 'seed'. */
static void
sim_start_agent(struct sim *sim, const struct bfdsess_params *params,
                uint32_t seed)
{
    static const struct eth_addr mac = {{{ 0x02, 0x5a, 0, 0, 1, 1 }}};
    struct bfdsess_params p;

    if (!params) {
        bfdsess_params_init(&p);
        params = &p;
    }
    sim->s = bfdsess_create(params, &mac, seed, sim->now);
}

/* Puts the frame at 'data' on the link in 'sim', toward the agent if
 * 'to_agent', else toward OVS. */
static void
sim_post(struct sim *sim, const uint8_t *data, bool to_agent)
{
    struct sim_frame *f;

    if (to_agent ? sim->cut_to_agent : sim->cut_to_ovs) {
        return;
    }
    REQUIRE(sim->n_q < SIM_QUEUE);
    f = &sim->q[sim->n_q++];
    f->at = sim->now + sim->latency;
    f->to_agent = to_agent;
    memcpy(f->data, data, BFDPKT_FRAME_LEN);
}

/* Records what the tests watch about the session in 'sim'. */
static void
sim_watch(struct sim *sim)
{
    int state = sim->s ? (int) bfdsess_state(sim->s) : -1;

    if (state >= 0 && (!sim->n_sess_path
                       || sim->sess_path[sim->n_sess_path - 1] != state)
        && sim->n_sess_path < ARRAY_SIZE(sim->sess_path)) {
        sim->sess_path[sim->n_sess_path++] = state;
    }
    if (sim->s && bfdsess_is_up(sim->s)) {
        if (!sim->sess_was_up || sim->sess_up_at < 0) {
            sim->sess_up_at = sim->now;
        }
        sim->sess_was_up = true;
    }
}

/* Gives the agent's session the frame at 'data', as the agent would. */
static void
sim_agent_rx(struct sim *sim, const uint8_t *data)
{
    struct bfdpkt_ctl ctl;

    REQUIRE(bfdpkt_is_bfd(data, BFDPKT_FRAME_LEN));
    REQUIRE(bfdpkt_parse(data, BFDPKT_FRAME_LEN, &ctl) == BFDPKT_OK);
    if (ctl.poll && ctl.final) {
        sim->both_pf = true;
    }
    bfdsess_receive(sim->s, &ctl, sim->now);
    sim_watch(sim);
}

/* Delivers the frames of 'sim' due by now, keeping those for a stopped
 * agent.  Returns true if it delivered any. */
static bool
sim_deliver(struct sim *sim)
{
    bool any = false;
    size_t i = 0;

    while (i < sim->n_q) {
        struct sim_frame f = sim->q[i];

        if (f.at > sim->now || (f.to_agent && sim->agent_stopped)) {
            i++;
            continue;
        }
        memmove(&sim->q[i], &sim->q[i + 1],
                (sim->n_q - i - 1) * sizeof *sim->q);
        sim->n_q--;
        any = true;
        if (f.to_agent && !sim->s) {
            /* No agent yet: nobody reads the port. */
        } else if (f.to_agent) {
            sim_agent_rx(sim, f.data);
        } else if (sim->ovs_on) {
            ovsm_receive(&sim->o, f.data, BFDPKT_FRAME_LEN, sim->now);
        }
    }
    return any;
}

/* Runs one ms of 'sim': both sides' timers, then every frame due, until
 * nobody has anything more to send at this time. */
static void
sim_step(struct sim *sim)
{
    bool agent = sim->s && !sim->agent_stopped;

    if (agent) {
        bfdsess_run(sim->s, sim->now);
        sim_watch(sim);
    }
    for (int round = 0; ; round++) {
        bool progress = sim_deliver(sim);

        REQUIRE(round < 100);
        if (sim->ovs_on && sim->now >= sim->o.monitor_wake) {
            /* OVS's monitor thread: send if due, run the timers, sleep
             * until the next event but no more than 100 ms. */
            if (ovsm_should_send(&sim->o, sim->now)) {
                uint8_t buf[BFDPKT_FRAME_LEN];

                ovsm_send(&sim->o, sim->now, buf);
                sim_post(sim, buf, true);
                progress = true;
            }
            ovsm_run(&sim->o, sim->now);
            sim->o.monitor_wake = MIN(sim->now + 100,
                                      ovsm_wake_time(&sim->o));
            REQUIRE(sim->o.monitor_wake > sim->now);
        }
        agent = sim->s && !sim->agent_stopped;
        if (agent && bfdsess_should_send(sim->s, sim->now)) {
            uint8_t buf[BFDPKT_FRAME_LEN];
            struct bfdpkt_ctl ctl;

            bfdsess_compose(sim->s, sim->now, &ctl);
            REQUIRE(bfdpkt_build(&ctl, buf, sizeof buf) == sizeof buf);
            if (ctl.poll && ctl.final) {
                sim->both_pf = true;
            }
            if (ctl.state == BFDPKT_STATE_UP && sim->o.state == M_UP
                && sim->agent_last_tx >= 0) {
                sim->max_gap = MAX(sim->max_gap,
                                   sim->now - sim->agent_last_tx);
            }
            sim->agent_tx++;
            sim->agent_last_tx = sim->now;
            sim_post(sim, buf, false);
            progress = true;
        }
        sim_watch(sim);
        if (!progress) {
            break;
        }
    }
    if (agent) {
        /* The agent's loop wakes up by bfdsess_wake(). */
        CU_ASSERT(bfdsess_wake(sim->s) > sim->now
                  || bfdsess_should_send(sim->s, sim->now)
                  || bfdsess_wake(sim->s) == sim->now);
    }
    sim->now++;
}

/* Runs 'sim' for 'ms' ms. */
static void
sim_run(struct sim *sim, long long int ms)
{
    long long int end = sim->now + ms;

    while (sim->now < end) {
        sim_step(sim);
    }
}

/* Runs 'sim' until 'cond' holds or 'ms' ms pass; returns true if it held. */
static bool
sim_run_until(struct sim *sim, bool (*cond)(const struct sim *),
              long long int ms)
{
    long long int end = sim->now + ms;

    while (sim->now < end) {
        sim_step(sim);
        if (cond(sim)) {
            return true;
        }
    }
    return false;
}

/* Returns true if both sides in 'sim' are Up (for sim_run_until()). */
static bool
both_up(const struct sim *sim)
{
    return sim->o.state == M_UP && bfdsess_is_up(sim->s);
}

/* Returns true if OVS in 'sim' forwards (for sim_run_until()). */
static bool
ovs_forwarding(const struct sim *sim)
{
    return ovsm_forwarding(&sim->o);
}

/* Returns true if the states in 'path' (of 'n' entries) follow the state
 * machine of RFC 5880 from Down to Up: Down, then optionally Init, then
 * Up. */
static bool
handshake_path(const int *path, int n)
{
    return ((n == 2 && path[0] == M_DOWN && path[1] == M_UP)
            || (n == 3 && path[0] == M_DOWN && path[1] == M_INIT
                && path[2] == M_UP));
}

/* Statistics of bring-up times. */
struct times {
    long long int max;          /* Longest, ms. */
    long long int sum;          /* Total, ms. */
    int n;                      /* Runs. */
};

/* Adds 't' to 'ts'. */
static void
times_add(struct times *ts, long long int t)
{
    ts->max = MAX(ts->max, t);
    ts->sum += t;
    ts->n++;
}

/* Prints 'ts' under 'name' if SFMESH_TEST_LOG is set. */
static void
times_print(const char *name, const struct times *ts)
{
    if (getenv("SFMESH_TEST_LOG")) {
        printf("\n    %s: %d runs, mean %.0f ms, max %lld ms\n", name, ts->n,
               (double) ts->sum / ts->n, ts->max);
    }
}

#define N_SEEDS 200

/* The three-way handshake against OVS when the agent starts after OVS:
 * both sides come Up by legal paths, OVS within one of its slow intervals
 * (1 s) of the agent's start, and OVS forwards. */
static void
test_ovs_handshake_agent_late(void)
{
    struct times ovs_up = { 0, 0, 0 }, sess_up = { 0, 0, 0 };
    bool sess_init_path = false;

    for (uint32_t seed = 1; seed <= N_SEEDS; seed++) {
        struct sim sim;
        long long int start;

        sim_init(&sim, seed);
        sim_run(&sim, 3000 + seed * 7 % 1000);
        CU_ASSERT_EQUAL(sim.o.state, M_DOWN);
        start = sim.now;
        sim_start_agent(&sim, NULL, seed);
        CU_ASSERT_FATAL(sim_run_until(&sim, both_up, 3000));
        CU_ASSERT(handshake_path(sim.o.path, sim.o.n_path));
        CU_ASSERT(handshake_path(sim.sess_path, sim.n_sess_path));
        times_add(&ovs_up, sim.o.up_at - start);
        times_add(&sess_up, sim.sess_up_at - start);
        /* OVS's first packet comes within its slow interval, and its
         * Final to our Init's Poll within its monitor's 100 ms. */
        CU_ASSERT(sim.o.up_at - start <= 1000);
        CU_ASSERT(sim.sess_up_at - sim.o.up_at <= 100);
        CU_ASSERT(ovsm_forwarding(&sim.o));
        CU_ASSERT_EQUAL(bfdsess_n_up(sim.s), 1);
        if (sim.n_sess_path == 3) {
            sess_init_path = true;
        }

        /* Up and staying Up, with packets at the fast rate. */
        sim.max_gap = 0;
        sim_run(&sim, 2000);
        CU_ASSERT(both_up(&sim));
        CU_ASSERT_EQUAL(sim.o.n_up, 1);
        CU_ASSERT_EQUAL(bfdsess_n_down(sim.s), 0);
        CU_ASSERT(sim.max_gap >= 1 && sim.max_gap <= 5);
        CU_ASSERT_FALSE(bfdsess_in_poll(sim.s));
        CU_ASSERT_FALSE(sim.both_pf);
        CU_ASSERT_EQUAL(sim.o.rx_dropped, 0);
        CU_ASSERT_EQUAL(bfdsess_detect_time(sim.s), 15);
        sim_destroy(&sim);
    }
    CU_ASSERT(sess_init_path);
    times_print("OVS Up after the agent starts", &ovs_up);
    times_print("session Up after the agent starts", &sess_up);
}

/* The agent first, OVS's session enabled later, and with a link latency:
 * both come Up by legal paths. */
static void
test_ovs_handshake_ovs_late(void)
{
    struct times ovs_up = { 0, 0, 0 };

    for (uint32_t seed = 1; seed <= N_SEEDS; seed++) {
        struct sim sim;
        long long int start;

        sim_init(&sim, seed);
        sim.latency = seed % 3;
        sim.ovs_on = false;
        sim_start_agent(&sim, NULL, seed);
        sim_run(&sim, 2000);
        /* Silent: it has not heard anyone. */
        CU_ASSERT_EQUAL(sim.agent_tx, 0);
        CU_ASSERT_EQUAL(bfdsess_wake(sim.s), LLONG_MAX);

        start = sim.now;
        ovsm_init(&sim.o, 5, 5, seed * 31);
        sim.ovs_on = true;
        CU_ASSERT_FATAL(sim_run_until(&sim, both_up, 3000));
        CU_ASSERT(handshake_path(sim.o.path, sim.o.n_path));
        CU_ASSERT(handshake_path(sim.sess_path, sim.n_sess_path));
        CU_ASSERT(sim.o.up_at - start <= 2 * sim.latency + 1);
        times_add(&ovs_up, sim.o.up_at - start);
        sim_run(&sim, 500);
        CU_ASSERT(both_up(&sim));
        CU_ASSERT_FALSE(sim.both_pf);
        sim_destroy(&sim);
    }
    times_print("OVS Up after OVS's session starts", &ovs_up);
}

/* Downs that cross on a link with latency take both sides through Init:
 * Down -> Init -> Up on each. */
static void
test_ovs_handshake_crossed(void)
{
    struct sim sim;
    struct bfdsess_params p;
    long long int t;

    sim_init(&sim, 5);
    sim.latency = 2;
    bfdsess_params_init(&p);
    p.damp_base_ms = 0;
    sim_start_agent(&sim, &p, 5);
    CU_ASSERT_FATAL(sim_run_until(&sim, both_up, 3000));

    /* Hold, then release just as OVS sends its next Down, so that the two
     * Downs cross. */
    bfdsess_set_hold(sim.s, true, sim.now);
    sim_run(&sim, 3000);
    CU_ASSERT_EQUAL(sim.o.state, M_DOWN);
    t = sim.o.next_tx;
    sim_run(&sim, t - sim.now);
    REQUIRE(sim.now == t);
    bfdsess_set_hold(sim.s, false, sim.now);
    sim.o.n_path = 0;
    sim.o.path[sim.o.n_path++] = sim.o.state;
    sim.n_sess_path = 0;
    sim_watch(&sim);
    CU_ASSERT_FATAL(sim_run_until(&sim, both_up, 3000));
    CU_ASSERT_EQUAL(sim.o.n_path, 3);
    CU_ASSERT_EQUAL(sim.n_sess_path, 3);
    CU_ASSERT(handshake_path(sim.o.path, sim.o.n_path));
    CU_ASSERT(handshake_path(sim.sess_path, sim.n_sess_path));
    CU_ASSERT_EQUAL(bfdsess_n_up(sim.s), 2);
    sim_destroy(&sim);
}

/* Brings 'sim' (fresh, with the default OVS) to both Up, with the agent's
 * session made from 'params' (NULL for the defaults) and 'seed'. */
static void
sim_bring_up(struct sim *sim, const struct bfdsess_params *params,
             uint32_t seed)
{
    sim_init(sim, seed);
    sim_start_agent(sim, params, seed);
    REQUIRE(sim_run_until(sim, both_up, 3000));
    sim_run(sim, 100);
    REQUIRE(both_up(sim));
}

/* A Poll from OVS (after it is reconfigured) gets a Final at once, in the
 * same ms, never with P; our own Poll on coming Up ends with OVS's Final;
 * the new intervals take effect. */
static void
test_ovs_poll_final(void)
{
    struct sim sim;
    uint64_t finals;

    sim_bring_up(&sim, NULL, 7);
    CU_ASSERT_FALSE(bfdsess_in_poll(sim.s));
    CU_ASSERT(sim.o.tx_final >= 1);     /* It answered our Poll. */

    /* OVS slows its TX to 50 ms: a Poll Sequence. */
    finals = bfdsess_get_stats(sim.s)->tx_final;
    ovsm_reconfigure(&sim.o, 50, 5);
    CU_ASSERT(sim.o.poll);
    for (int i = 0; i < 6 && sim.o.poll; i++) {
        sim_step(&sim);
    }
    CU_ASSERT_FALSE(sim.o.poll);        /* Our Final ended it at once. */
    CU_ASSERT_EQUAL(bfdsess_get_stats(sim.s)->tx_final, finals + 1);
    CU_ASSERT(bfdsess_get_stats(sim.s)->rx_poll >= 1);
    sim_run(&sim, 500);
    CU_ASSERT(both_up(&sim));
    CU_ASSERT_EQUAL(bfdsess_detect_time(sim.s), 150);

    /* And its RX to 20 ms: we send every 15 to 20 ms. */
    ovsm_reconfigure(&sim.o, 50, 20);
    sim_run(&sim, 100);
    CU_ASSERT_EQUAL(bfdsess_tx_interval(sim.s), 20);
    sim.max_gap = 0;
    sim_run(&sim, 2000);
    CU_ASSERT(both_up(&sim));
    CU_ASSERT(sim.max_gap >= 15 && sim.max_gap <= 20);
    CU_ASSERT_FALSE(sim.both_pf);
    CU_ASSERT_EQUAL(sim.o.n_up, 1);
    sim_destroy(&sim);
}

/* The detection time expires exactly a detection time after the last
 * packet heard, and OVS learns of it from our Down. */
static void
test_ovs_expiry(void)
{
    struct sim sim;
    const struct bfdsess_down *down;
    long long int last_rx, detect;

    sim_bring_up(&sim, NULL, 11);
    detect = bfdsess_detect_time(sim.s);
    CU_ASSERT_EQUAL(detect, 3 * 5);

    /* OVS's frames stop reaching the agent; the agent's still reach OVS. */
    sim.cut_to_agent = true;
    last_rx = sim.now - 1;
    for (long long int i = 0; i < 100; i++) {
        /* The last frame the agent got was at 'last_rx' or a little
         * before: it must be Up until a detection time after it. */
        sim_step(&sim);
        if (!bfdsess_is_up(sim.s)) {
            break;
        }
    }
    down = bfdsess_last_down(sim.s);
    CU_ASSERT_FALSE(bfdsess_is_up(sim.s));
    CU_ASSERT_EQUAL(bfdsess_n_down(sim.s), 1);
    CU_ASSERT_EQUAL(down->reason, BFDSESS_REASON_EXPIRED);
    CU_ASSERT_EQUAL(down->diag, BFDPKT_DIAG_EXPIRED);
    CU_ASSERT_EQUAL(bfdsess_diag(sim.s), BFDPKT_DIAG_EXPIRED);
    CU_ASSERT(down->when <= last_rx + detect);
    CU_ASSERT(down->when >= last_rx + detect - 5);
    CU_ASSERT_EQUAL(bfdsess_get_stats(sim.s)->n_expired, 1);
    CU_ASSERT_EQUAL(bfdsess_remote_disc(sim.s), 0);

    /* OVS heard our Down at once. */
    CU_ASSERT_EQUAL(sim.o.state, M_DOWN);
    CU_ASSERT_EQUAL(sim.o.diag, BFDPKT_DIAG_NEIGHBOR_DOWN);
    CU_ASSERT_FALSE(ovsm_forwarding(&sim.o));

    /* Back, after damping. */
    sim.cut_to_agent = false;
    CU_ASSERT(sim_run_until(&sim, both_up, 3000));
    sim_destroy(&sim);
}

/* The agent stopped for 10 s while OVS's packets pile up in its socket:
 * OVS goes Down after its detection time, and the agent on resume goes
 * Down on the first queued packet (expired before it) and is not brought
 * back Up by the stale ones. */
static void
test_ovs_stopped_agent(void)
{
    struct sim sim;
    long long int stop;
    size_t queued;

    sim_bring_up(&sim, NULL, 13);
    stop = sim.now;
    sim.agent_stopped = true;
    sim_run(&sim, 10000);
    CU_ASSERT_EQUAL(sim.o.state, M_DOWN);
    CU_ASSERT_EQUAL(sim.o.diag, BFDPKT_DIAG_EXPIRED);
    CU_ASSERT_EQUAL(sim.o.path[sim.o.n_path - 1], M_DOWN);
    CU_ASSERT_EQUAL(sim.o.path[sim.o.n_path - 2], M_UP);
    queued = sim.n_q;
    CU_ASSERT(queued >= 5);

    /* Resume: the stale packets come first, one at a time. */
    sim.agent_stopped = false;
    for (size_t i = 0; i < queued; i++) {
        struct sim_frame f = sim.q[0];

        memmove(&sim.q[0], &sim.q[1], (sim.n_q - 1) * sizeof *sim.q);
        sim.n_q--;
        REQUIRE(f.to_agent);
        sim_agent_rx(&sim, f.data);
        CU_ASSERT_FALSE(bfdsess_is_up(sim.s));
        CU_ASSERT_EQUAL(bfdsess_state(sim.s), BFDPKT_STATE_DOWN);
    }
    CU_ASSERT_EQUAL(bfdsess_n_down(sim.s), 1);
    CU_ASSERT_EQUAL(bfdsess_last_down(sim.s)->reason,
                    BFDSESS_REASON_EXPIRED);
    CU_ASSERT_EQUAL(bfdsess_last_down(sim.s)->when, sim.now);
    CU_ASSERT(sim.now >= stop + 10000);
    CU_ASSERT(bfdsess_damp_remaining(sim.s, sim.now) > 0);

    /* OVS did not come Up on anything we said, and both come back by a
     * new handshake once the damping is over. */
    sim.o.was_forwarding = false;
    sim_run(&sim, bfdsess_damp_remaining(sim.s, sim.now) - 1);
    CU_ASSERT_FALSE(sim.o.was_forwarding);
    CU_ASSERT_FALSE(bfdsess_is_up(sim.s));
    CU_ASSERT(sim_run_until(&sim, both_up, 3000));
    sim_destroy(&sim);
}

/* Hold-down against OVS: AdminDown goes out at once, OVS goes Down and
 * stops forwarding, and stays so for as long as we hold; released, both
 * come Up within three one-way delays (our Down with Poll, OVS's Init with
 * Final, our Up) and OVS's monitor wake (100 ms at most, while it is not
 * Up), on links of 0 to 2 ms. */
static void
test_ovs_hold(void)
{
    struct times release_up = { 0, 0, 0 };

    for (uint32_t seed = 1; seed <= N_SEEDS; seed++) {
        struct sim sim;
        uint64_t tx;
        long long int t;

        sim_bring_up(&sim, NULL, seed);
        sim.latency = seed % 3;
        tx = sim.agent_tx;
        bfdsess_set_hold(sim.s, true, sim.now);
        CU_ASSERT(bfdsess_is_held(sim.s));
        CU_ASSERT_EQUAL(bfdsess_state(sim.s), BFDPKT_STATE_ADMIN_DOWN);
        CU_ASSERT_EQUAL(bfdsess_diag(sim.s), BFDPKT_DIAG_ADMIN_DOWN);
        CU_ASSERT(bfdsess_should_send(sim.s, sim.now));
        CU_ASSERT_EQUAL(bfdsess_n_down(sim.s), 1);
        CU_ASSERT_EQUAL(bfdsess_last_down(sim.s)->reason,
                        BFDSESS_REASON_HOLD);
        sim_run(&sim, sim.latency + 1);
        CU_ASSERT(sim.agent_tx > tx);
        CU_ASSERT_EQUAL(sim.o.state, M_DOWN);
        CU_ASSERT_EQUAL(sim.o.diag, BFDPKT_DIAG_NEIGHBOR_DOWN);
        CU_ASSERT_FALSE(ovsm_forwarding(&sim.o));

        /* Held for 20 s: nobody comes Up, and we keep telling OVS. */
        sim.o.was_forwarding = false;
        sim.sess_was_up = false;
        tx = sim.agent_tx;
        sim_run(&sim, 20000);
        CU_ASSERT_EQUAL(sim.o.state, M_DOWN);
        CU_ASSERT_EQUAL(sim.o.rmt_state, M_ADMIN_DOWN);
        CU_ASSERT_FALSE(sim.o.was_forwarding);
        CU_ASSERT_FALSE(sim.sess_was_up);
        CU_ASSERT_EQUAL(bfdsess_state(sim.s), BFDPKT_STATE_ADMIN_DOWN);
        CU_ASSERT(sim.agent_tx - tx >= 20);
        CU_ASSERT(sim.agent_tx - tx <= 28);

        /* Released: a hold is not a flap, so no damping. */
        CU_ASSERT_EQUAL(bfdsess_damp_remaining(sim.s, sim.now), 0);
        CU_ASSERT_EQUAL(bfdsess_get_stats(sim.s)->n_flaps, 0);
        t = sim.now;
        bfdsess_set_hold(sim.s, false, sim.now);
        CU_ASSERT_EQUAL(bfdsess_state(sim.s), BFDPKT_STATE_DOWN);
        CU_ASSERT(bfdsess_should_send(sim.s, sim.now));
        CU_ASSERT(sim_run_until(&sim, ovs_forwarding, 3000));
        times_add(&release_up, sim.o.up_at - t);
        CU_ASSERT(sim.o.up_at - t <= 100 + 3 * sim.latency);
        CU_ASSERT(sim_run_until(&sim, both_up, 3000));
        sim_destroy(&sim);
    }
    times_print("OVS Up after the hold is released", &release_up);
}

/* Flaps against OVS (the link cut for 50 ms, again and again): each makes
 * the session stay Down longer, while OVS never forwards during the
 * damping; at its end both are Up within OVS's monitor wake. */
static void
test_ovs_damping(void)
{
    struct sim sim;
    long long int prev = 0;

    sim_bring_up(&sim, NULL, 17);
    for (int i = 0; i < 5; i++) {
        long long int damp;

        sim.cut_to_agent = true;
        sim_run(&sim, 50);
        sim.cut_to_agent = false;
        CU_ASSERT_FALSE(bfdsess_is_up(sim.s));
        CU_ASSERT_EQUAL(bfdsess_get_stats(sim.s)->n_flaps, i + 1);
        damp = bfdsess_damp_remaining(sim.s, sim.now);
        CU_ASSERT(damp > prev);
        prev = damp;

        sim.o.was_forwarding = false;
        sim_run(&sim, damp - 1);
        CU_ASSERT_FALSE(sim.o.was_forwarding);
        CU_ASSERT_EQUAL(bfdsess_state(sim.s), BFDPKT_STATE_DOWN);
        CU_ASSERT(sim_run_until(&sim, both_up, 101));
        /* OVS's first packets once Up bring our detection time down from
         * the 3 s of its Init. */
        sim_run(&sim, 200);
        CU_ASSERT_EQUAL(bfdsess_detect_time(sim.s), 15);
    }
    CU_ASSERT(bfdsess_get_stats(sim.s)->rx_damped > 0);
    sim_destroy(&sim);
}

/* OVS with bfd_src_ip set accepts our frames only if they go to that IP:
 * the session replies to the source IP of OVS's packets. */
static void
test_ovs_src_ip(void)
{
    struct sim sim;

    sim_init(&sim, 19);
    sim.o.ip_src = 0x0a000001;
    sim.o.ip_dst = 0x0a000002;
    sim_start_agent(&sim, NULL, 19);
    CU_ASSERT(sim_run_until(&sim, both_up, 3000));
    CU_ASSERT_EQUAL(sim.o.rx_dropped, 0);
    sim_destroy(&sim);
}

/* The scripted peer. */

#define PEER_DISC 0x5eed0001

/* Returns a control packet from the scripted peer in 'state' with 'your'
 * as Your Discriminator and the given intervals (ms) and multiplier. */
static struct bfdpkt_ctl
peer_ctl(enum bfdpkt_state state, uint32_t your, uint32_t tx_ms,
         uint32_t rx_ms, uint8_t mult)
{
    struct bfdpkt_ctl ctl;

    memset(&ctl, 0, sizeof ctl);
    ctl.eth_src = (struct eth_addr) {{{ 0x02, 0, 0, 0, 0, 0x99 }}};
    ctl.eth_dst = eth_addr_bfd;
    ctl.ip_src = htonl(OVSM_IP_SRC);
    ctl.ip_dst = htonl(OVSM_IP_DST);
    ctl.udp_src = 49999;
    ctl.version = 1;
    ctl.state = state;
    ctl.detect_mult = mult;
    ctl.length = 24;
    ctl.my_disc = PEER_DISC;
    ctl.your_disc = your;
    ctl.desired_min_tx_us = tx_ms * 1000;
    ctl.required_min_rx_us = rx_ms * 1000;
    return ctl;
}

/* Gives 's' a packet from the scripted peer in 'state' (5 ms both ways,
 * multiplier 3) at 'now', with Your Discriminator set to ours unless
 * 'state' is Down or AdminDown, and returns the result. */
static enum bfdsess_rx
peer_send(struct bfdsess *s, enum bfdpkt_state state, long long int now)
{
    struct bfdpkt_ctl ctl = peer_ctl(state, (state <= BFDPKT_STATE_DOWN
                                             ? 0 : bfdsess_my_disc(s)),
                                     5, 5, 3);

    return bfdsess_receive(s, &ctl, now);
}

/* Returns a session with the default parameters but 'damp_base_ms', made
 * at 'now'. */
static struct bfdsess *
new_sess(unsigned int damp_base_ms, long long int now)
{
    struct bfdsess_params p;

    bfdsess_params_init(&p);
    p.damp_base_ms = damp_base_ms;
    return bfdsess_create(&p, NULL, 42, now);
}

/* Brings 's' Up with the scripted peer at 'now'. */
static void
peer_bring_up(struct bfdsess *s, long long int now)
{
    REQUIRE(peer_send(s, BFDPKT_STATE_DOWN, now) == BFDSESS_RX_OK);
    REQUIRE(bfdsess_state(s) == BFDPKT_STATE_INIT);
    REQUIRE(peer_send(s, BFDPKT_STATE_UP, now) == BFDSESS_RX_OK);
    REQUIRE(bfdsess_is_up(s));
}

/* Composes the next packet of 's' at 'now' into '*ctl' and checks it
 * builds into a frame that parses back the same. */
static void
compose(struct bfdsess *s, long long int now, struct bfdpkt_ctl *ctl)
{
    uint8_t buf[BFDPKT_FRAME_LEN];
    struct bfdpkt_ctl back;

    bfdsess_compose(s, now, ctl);
    REQUIRE(bfdpkt_build(ctl, buf, sizeof buf) == sizeof buf);
    REQUIRE(bfdpkt_parse(buf, sizeof buf, &back) == BFDPKT_OK);
    CU_ASSERT(!memcmp(&back, ctl, sizeof back));
    CU_ASSERT_FALSE(ctl->poll && ctl->final);
}

/* The state table of RFC 5880 section 6.8.6, every (our state, remote
 * state) pair, without damping. */
static void
test_state_table(void)
{
    static const struct {
        enum bfdpkt_state ours, remote, next;
    } table[] = {
        { BFDPKT_STATE_DOWN, BFDPKT_STATE_ADMIN_DOWN, BFDPKT_STATE_DOWN },
        { BFDPKT_STATE_DOWN, BFDPKT_STATE_DOWN, BFDPKT_STATE_INIT },
        { BFDPKT_STATE_DOWN, BFDPKT_STATE_INIT, BFDPKT_STATE_UP },
        { BFDPKT_STATE_DOWN, BFDPKT_STATE_UP, BFDPKT_STATE_DOWN },
        { BFDPKT_STATE_INIT, BFDPKT_STATE_ADMIN_DOWN, BFDPKT_STATE_DOWN },
        { BFDPKT_STATE_INIT, BFDPKT_STATE_DOWN, BFDPKT_STATE_INIT },
        { BFDPKT_STATE_INIT, BFDPKT_STATE_INIT, BFDPKT_STATE_UP },
        { BFDPKT_STATE_INIT, BFDPKT_STATE_UP, BFDPKT_STATE_UP },
        { BFDPKT_STATE_UP, BFDPKT_STATE_ADMIN_DOWN, BFDPKT_STATE_DOWN },
        { BFDPKT_STATE_UP, BFDPKT_STATE_DOWN, BFDPKT_STATE_DOWN },
        { BFDPKT_STATE_UP, BFDPKT_STATE_INIT, BFDPKT_STATE_UP },
        { BFDPKT_STATE_UP, BFDPKT_STATE_UP, BFDPKT_STATE_UP },
    };

    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        struct bfdsess *s = new_sess(0, 0);
        long long int now = 0;
        bool changed;

        /* The first packet heard starts the transmissions: let that
         * happen first. */
        peer_send(s, BFDPKT_STATE_ADMIN_DOWN, now);
        if (table[i].ours >= BFDPKT_STATE_INIT) {
            peer_send(s, BFDPKT_STATE_DOWN, now);
        }
        if (table[i].ours == BFDPKT_STATE_UP) {
            peer_send(s, BFDPKT_STATE_UP, now);
        }
        REQUIRE(bfdsess_state(s) == table[i].ours);
        if (bfdsess_should_send(s, now)) {
            struct bfdpkt_ctl ctl;

            compose(s, now, &ctl);
        }
        CU_ASSERT_EQUAL(peer_send(s, table[i].remote, ++now),
                        BFDSESS_RX_OK);
        CU_ASSERT_EQUAL(bfdsess_state(s), table[i].next);
        CU_ASSERT_EQUAL(bfdsess_remote_state(s), table[i].remote);

        /* A change of state owes a packet at once, and only a change. */
        changed = table[i].next != table[i].ours;
        CU_ASSERT_EQUAL(bfdsess_should_send(s, now), changed);
        if (table[i].next == BFDPKT_STATE_DOWN && changed) {
            CU_ASSERT_EQUAL(bfdsess_diag(s), BFDPKT_DIAG_NEIGHBOR_DOWN);
        }
        if (table[i].ours == BFDPKT_STATE_UP && changed) {
            CU_ASSERT_EQUAL(bfdsess_last_down(s)->reason,
                            table[i].remote == BFDPKT_STATE_ADMIN_DOWN
                            ? BFDSESS_REASON_REMOTE_ADMIN_DOWN
                            : BFDSESS_REASON_REMOTE_DOWN);
        }
        bfdsess_destroy(s);
    }
}

/* Nothing goes out before the remote is heard; then to where it came from,
 * with its discriminator; my_disc and the UDP port stay put. */
static void
test_addresses_and_discs(void)
{
    struct bfdsess *s = new_sess(0, 1000);
    struct bfdsess *s2 = bfdsess_create(&(struct bfdsess_params) {
                                            5, 5, 3, 0, 0, 0 },
                                        NULL, 43, 0);
    struct bfdpkt_ctl in, out;
    uint16_t port;

    CU_ASSERT_FALSE(bfdsess_should_send(s, 1000));
    CU_ASSERT_FALSE(bfdsess_should_send(s, 100000));
    CU_ASSERT_EQUAL(bfdsess_wake(s), LLONG_MAX);
    CU_ASSERT(bfdsess_my_disc(s) != 0);
    CU_ASSERT(bfdsess_my_disc(s) != bfdsess_my_disc(s2));

    in = peer_ctl(BFDPKT_STATE_DOWN, 0, 1000, 5, 3);
    CU_ASSERT_EQUAL(bfdsess_receive(s, &in, 1001), BFDSESS_RX_OK);
    CU_ASSERT(bfdsess_should_send(s, 1001));
    CU_ASSERT_EQUAL(bfdsess_wake(s), 1001);
    compose(s, 1001, &out);
    CU_ASSERT(eth_addr_equals(out.eth_dst, in.eth_src));
    CU_ASSERT(eth_addr_equals(out.eth_src, in.eth_dst));
    CU_ASSERT_EQUAL(out.ip_src, in.ip_dst);
    CU_ASSERT_EQUAL(out.ip_dst, in.ip_src);
    CU_ASSERT(out.udp_src >= 49152);
    CU_ASSERT_EQUAL(out.your_disc, PEER_DISC);
    CU_ASSERT_EQUAL(out.my_disc, bfdsess_my_disc(s));
    CU_ASSERT_EQUAL(out.state, BFDPKT_STATE_INIT);
    CU_ASSERT_EQUAL(out.detect_mult, 3);
    CU_ASSERT_EQUAL(out.desired_min_tx_us, 1000000);
    CU_ASSERT_EQUAL(out.required_min_rx_us, 5000);
    CU_ASSERT_EQUAL(out.required_min_echo_rx_us, 0);
    CU_ASSERT_FALSE(out.demand || out.cpi || out.auth || out.multipoint);
    port = out.udp_src;

    /* After a detection time of silence the remote is forgotten: Your
     * Discriminator 0 again (and Down: Init expired). */
    bfdsess_run(s, 1001 + 3000);
    CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_DOWN);
    CU_ASSERT_EQUAL(bfdsess_remote_disc(s), 0);
    CU_ASSERT(bfdsess_should_send(s, 4001));    /* The Down is owed. */
    compose(s, 4001, &out);
    CU_ASSERT_EQUAL(out.state, BFDPKT_STATE_DOWN);
    CU_ASSERT_EQUAL(out.your_disc, 0);
    CU_ASSERT_EQUAL(out.udp_src, port);

    /* Then silence, as long as the remote is. */
    CU_ASSERT_FALSE(bfdsess_should_send(s, 100000));
    CU_ASSERT_EQUAL(bfdsess_wake(s), LLONG_MAX);
    in = peer_ctl(BFDPKT_STATE_DOWN, 0, 1000, 5, 3);
    bfdsess_receive(s, &in, 200000);
    CU_ASSERT(bfdsess_should_send(s, 200000));

    /* A local MAC given at creation is the source. */
    compose(s2, 0, &out);
    in = peer_ctl(BFDPKT_STATE_DOWN, 0, 1000, 5, 3);
    bfdsess_receive(s2, &in, 1);
    compose(s2, 1, &out);
    CU_ASSERT(eth_addr_equals(out.eth_src, in.eth_dst));
    bfdsess_destroy(s2);
    s2 = bfdsess_create(&(struct bfdsess_params) { 5, 5, 3, 0, 0, 0 },
                        &eth_addr_broadcast, 43, 0);
    bfdsess_receive(s2, &in, 1);
    compose(s2, 1, &out);
    CU_ASSERT(eth_addr_equals(out.eth_src, eth_addr_broadcast));
    bfdsess_destroy(s2);
    bfdsess_destroy(s);
}

/* A nonzero Your Discriminator that is not ours is dropped and counted and
 * changes nothing, not even the detection timer; malformed control
 * packets are refused too. */
static void
test_unknown_your_disc(void)
{
    struct bfdsess *s = new_sess(0, 0);
    struct bfdpkt_ctl bad;
    long long int deadline;

    peer_bring_up(s, 0);
    deadline = bfdsess_wake(s);
    CU_ASSERT(bfdsess_should_send(s, 0));

    bad = peer_ctl(BFDPKT_STATE_DOWN, bfdsess_my_disc(s) ^ 1, 5, 5, 3);
    bad.my_disc = 0x777;
    for (int i = 1; i <= 10; i++) {
        CU_ASSERT_EQUAL(bfdsess_receive(s, &bad, i), BFDSESS_RX_YOUR_DISC);
    }
    CU_ASSERT(bfdsess_is_up(s));
    CU_ASSERT_EQUAL(bfdsess_remote_disc(s), PEER_DISC);
    CU_ASSERT_EQUAL(bfdsess_get_stats(s)->rx_dropped[BFDSESS_RX_YOUR_DISC],
                    10);
    CU_ASSERT_EQUAL(bfdsess_get_stats(s)->rx, 2);

    bad = peer_ctl(BFDPKT_STATE_DOWN, 0, 5, 5, 0);
    CU_ASSERT_EQUAL(bfdsess_receive(s, &bad, 11), BFDSESS_RX_INVALID);
    CU_ASSERT_EQUAL(bfdsess_get_stats(s)->rx_dropped[BFDSESS_RX_INVALID],
                    1);
    CU_ASSERT(bfdsess_is_up(s));

    /* Still expires on time: the bad packets did not count as heard. */
    bfdsess_run(s, 14);
    CU_ASSERT(bfdsess_is_up(s));
    bfdsess_run(s, 15);
    CU_ASSERT_FALSE(bfdsess_is_up(s));
    CU_ASSERT(deadline <= 15);
    CU_ASSERT_STRING_EQUAL(bfdsess_rx_name(BFDSESS_RX_YOUR_DISC),
                           "your-disc");
    bfdsess_destroy(s);
}

/* The detection time: the remote's multiplier times the larger of our
 * required RX and its desired TX; expiry exactly then, and only in Init or
 * Up. */
static void
test_detect_time(void)
{
    static const struct {
        uint32_t remote_tx_ms, our_rx_ms;
        uint8_t remote_mult;
    } cases[] = {
        { 5, 5, 3 }, { 30, 5, 3 }, { 5, 40, 3 }, { 1000, 5, 1 },
        { 7, 7, 255 }, { 1, 1, 2 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct bfdsess_params p;
        struct bfdsess *s;
        struct bfdpkt_ctl ctl;
        long long int expect = (long long int) cases[i].remote_mult
                               * MAX(cases[i].remote_tx_ms,
                                     cases[i].our_rx_ms);
        long long int t0 = 1000000;

        bfdsess_params_init(&p);
        p.required_min_rx_ms = cases[i].our_rx_ms;
        p.damp_base_ms = 0;
        s = bfdsess_create(&p, NULL, i, 0);

        ctl = peer_ctl(BFDPKT_STATE_DOWN, 0, cases[i].remote_tx_ms, 5,
                       cases[i].remote_mult);
        bfdsess_receive(s, &ctl, t0);
        ctl.state = BFDPKT_STATE_UP;
        ctl.your_disc = bfdsess_my_disc(s);
        bfdsess_receive(s, &ctl, t0);
        REQUIRE(bfdsess_is_up(s));
        CU_ASSERT_EQUAL(bfdsess_detect_time(s), expect);
        CU_ASSERT(bfdsess_wake(s) <= t0 + expect);

        bfdsess_run(s, t0 + expect - 1);
        CU_ASSERT(bfdsess_is_up(s));
        bfdsess_run(s, t0 + expect);
        CU_ASSERT_FALSE(bfdsess_is_up(s));
        CU_ASSERT_EQUAL(bfdsess_diag(s), BFDPKT_DIAG_EXPIRED);
        CU_ASSERT_EQUAL(bfdsess_last_down(s)->detect_ms, expect);
        CU_ASSERT_EQUAL(bfdsess_last_down(s)->when, t0 + expect);
        bfdsess_destroy(s);
    }

    /* Down does not expire (nothing to leave), but forgets the remote. */
    {
        struct bfdsess *s = new_sess(0, 0);
        struct bfdpkt_ctl ctl = peer_ctl(BFDPKT_STATE_UP, 0, 5, 5, 3);

        ctl.your_disc = 99;     /* Not ours: dropped. */
        bfdsess_receive(s, &ctl, 0);
        ctl = peer_ctl(BFDPKT_STATE_ADMIN_DOWN, 0, 5, 5, 3);
        bfdsess_receive(s, &ctl, 0);
        CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_DOWN);
        bfdsess_run(s, 15);
        CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_DOWN);
        CU_ASSERT_EQUAL(bfdsess_get_stats(s)->n_expired, 0);
        CU_ASSERT_EQUAL(bfdsess_remote_disc(s), 0);
        bfdsess_destroy(s);
    }
}

/* Expiry before reception: after a long gap, a queued Up packet from the
 * remote finds the session expired first, and neither it nor any number
 * of further ones bring it back Up. */
static void
test_expiry_before_reception(void)
{
    struct bfdsess *s = new_sess(0, 0);
    long long int now = 10000;
    struct bfdpkt_ctl ctl;

    peer_bring_up(s, now);
    compose(s, now, &ctl);
    CU_ASSERT(ctl.poll);        /* Coming Up lowered our TX: a Poll. */

    /* Packets in time keep it Up. */
    for (int i = 0; i < 10; i++) {
        now += 5;
        peer_send(s, BFDPKT_STATE_UP, now);
        CU_ASSERT(bfdsess_is_up(s));
    }

    /* A 10 s gap with no bfdsess_run(), then 100 stale Ups in a burst. */
    now += 10000;
    for (int i = 0; i < 100; i++) {
        CU_ASSERT_EQUAL(peer_send(s, BFDPKT_STATE_UP, now), BFDSESS_RX_OK);
        CU_ASSERT_FALSE(bfdsess_is_up(s));
        CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_DOWN);
    }
    CU_ASSERT_EQUAL(bfdsess_n_down(s), 1);
    CU_ASSERT_EQUAL(bfdsess_last_down(s)->reason, BFDSESS_REASON_EXPIRED);
    CU_ASSERT_EQUAL(bfdsess_last_down(s)->when, now);
    CU_ASSERT_EQUAL(bfdsess_get_stats(s)->n_expired, 1);

    /* The same gap just under the detection time: still Up. */
    bfdsess_destroy(s);
    s = new_sess(0, 0);
    peer_bring_up(s, 0);
    CU_ASSERT_EQUAL(peer_send(s, BFDPKT_STATE_UP, 14), BFDSESS_RX_OK);
    CU_ASSERT(bfdsess_is_up(s));
    CU_ASSERT_EQUAL(peer_send(s, BFDPKT_STATE_UP, 29), BFDSESS_RX_OK);
    CU_ASSERT_FALSE(bfdsess_is_up(s));
    bfdsess_destroy(s);
}

/* Poll and Final with the scripted peer: a Poll owes a Final in any state
 * (AdminDown and with the remote's RX 0 included), sent without P; the
 * peer's Final ends our Poll Sequence. */
static void
test_poll_final(void)
{
    struct bfdsess *s = new_sess(0, 0);
    struct bfdpkt_ctl ctl, out;

    peer_bring_up(s, 0);
    CU_ASSERT(bfdsess_in_poll(s));
    compose(s, 0, &out);
    CU_ASSERT(out.poll && !out.final);

    /* The peer polls: Final at once, without our P. */
    ctl = peer_ctl(BFDPKT_STATE_UP, bfdsess_my_disc(s), 5, 5, 3);
    ctl.poll = true;
    bfdsess_receive(s, &ctl, 1);
    CU_ASSERT(bfdsess_should_send(s, 1));
    CU_ASSERT_EQUAL(bfdsess_wake(s), 1);
    compose(s, 1, &out);
    CU_ASSERT(out.final && !out.poll);
    CU_ASSERT(bfdsess_in_poll(s));
    CU_ASSERT_FALSE(bfdsess_should_send(s, 1));
    compose(s, 5, &out);
    CU_ASSERT(out.poll && !out.final);

    /* Its Final ends our Poll. */
    ctl.poll = false;
    ctl.final = true;
    bfdsess_receive(s, &ctl, 6);
    CU_ASSERT_FALSE(bfdsess_in_poll(s));
    compose(s, 10, &out);
    CU_ASSERT_FALSE(out.poll || out.final);

    /* RX 0: no periodic packets, but a Poll is answered. */
    ctl = peer_ctl(BFDPKT_STATE_UP, bfdsess_my_disc(s), 5, 0, 3);
    bfdsess_receive(s, &ctl, 11);
    CU_ASSERT_FALSE(bfdsess_should_send(s, 11));
    CU_ASSERT_FALSE(bfdsess_should_send(s, 14));
    CU_ASSERT(bfdsess_wake(s) == 11 + 15);
    ctl.poll = true;
    bfdsess_receive(s, &ctl, 12);
    CU_ASSERT(bfdsess_should_send(s, 12));
    compose(s, 12, &out);
    CU_ASSERT(out.final);

    /* Held: a Poll is still answered, in AdminDown. */
    bfdsess_set_hold(s, true, 13);
    ctl = peer_ctl(BFDPKT_STATE_DOWN, bfdsess_my_disc(s), 1000, 5, 3);
    compose(s, 13, &out);
    ctl.poll = true;
    bfdsess_receive(s, &ctl, 14);
    CU_ASSERT(bfdsess_should_send(s, 14));
    compose(s, 14, &out);
    CU_ASSERT(out.final);
    CU_ASSERT_EQUAL(out.state, BFDPKT_STATE_ADMIN_DOWN);
    CU_ASSERT_EQUAL(bfdsess_get_stats(s)->tx_final, 3);
    CU_ASSERT_EQUAL(bfdsess_get_stats(s)->rx_poll, 3);
    bfdsess_destroy(s);
}

/* Transmit intervals: max(our desired TX, the remote's RX), at least 1 s
 * while not Up, jittered within 75-100% (75-90% with multiplier 1), and
 * the jitter varies. */
static void
test_tx_intervals(void)
{
    static const struct {
        unsigned int tx, mult;
        uint32_t remote_rx;
        long long int lo, hi;   /* The expected range of gaps. */
    } cases[] = {
        { 5, 3, 5, 4, 5 }, { 5, 3, 20, 15, 20 }, { 100, 3, 20, 75, 100 },
        { 100, 1, 20, 75, 90 }, { 40, 1, 100, 75, 90 },
        { 1000, 2, 5, 750, 1000 },
    };

    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct bfdsess_params p;
        struct bfdsess *s;
        struct bfdpkt_ctl ctl, out;
        long long int now = 0, last = -1, lo = LLONG_MAX, hi = 0;

        bfdsess_params_init(&p);
        p.desired_min_tx_ms = cases[i].tx;
        p.detect_mult = cases[i].mult;
        s = bfdsess_create(&p, NULL, i * 3 + 1, 0);
        ctl = peer_ctl(BFDPKT_STATE_DOWN, 0, 5, cases[i].remote_rx, 3);
        bfdsess_receive(s, &ctl, 0);
        ctl = peer_ctl(BFDPKT_STATE_UP, bfdsess_my_disc(s), 5,
                       cases[i].remote_rx, 3);
        bfdsess_receive(s, &ctl, 0);
        REQUIRE(bfdsess_is_up(s));
        CU_ASSERT_EQUAL(bfdsess_tx_interval(s),
                        MAX(cases[i].tx, cases[i].remote_rx));

        /* Keep it Up (the peer sends often) and watch when we send. */
        for (now = 0; now < 400 * cases[i].hi; now++) {
            if (now % 5 == 0) {
                bfdsess_receive(s, &ctl, now);
            }
            bfdsess_run(s, now);
            if (bfdsess_should_send(s, now)) {
                CU_ASSERT(bfdsess_wake(s) <= now);
                compose(s, now, &out);
                if (last >= 0) {
                    lo = MIN(lo, now - last);
                    hi = MAX(hi, now - last);
                }
                last = now;
            } else {
                CU_ASSERT(bfdsess_wake(s) > now);
            }
        }
        CU_ASSERT(bfdsess_is_up(s));
        /* The first gap may be shorter (the packet owed on coming Up). */
        CU_ASSERT(lo >= cases[i].lo || lo == 0);
        CU_ASSERT_EQUAL(hi, cases[i].hi);
        if (cases[i].hi - cases[i].lo >= 5) {
            CU_ASSERT(hi > lo);
        }
        bfdsess_destroy(s);
    }

    /* Not Up: every 0.75 to 1 s, whatever the configuration. */
    {
        struct bfdsess *s = new_sess(0, 0);
        struct bfdpkt_ctl ctl = peer_ctl(BFDPKT_STATE_ADMIN_DOWN, 0, 1000,
                                         5, 3), out;
        long long int last = -1;

        for (long long int now = 0; now < 20000; now++) {
            if (now % 1000 == 0) {
                bfdsess_receive(s, &ctl, now);
            }
            if (bfdsess_should_send(s, now)) {
                compose(s, now, &out);
                CU_ASSERT_EQUAL(out.desired_min_tx_us, 1000000);
                if (last >= 0) {
                    CU_ASSERT(now - last >= 750 && now - last <= 1000);
                }
                last = now;
            }
        }
        CU_ASSERT_EQUAL(bfdsess_tx_interval(s), 1000);
        bfdsess_destroy(s);
    }
}

/* A change of the remote's required RX reschedules the next packet from
 * the last one: never sooner than the new interval allows, and no later
 * than needed. */
static void
test_remote_rx_change(void)
{
    struct bfdsess *s = new_sess(0, 0);
    struct bfdpkt_ctl ctl, out;
    long long int now;

    peer_bring_up(s, 0);
    compose(s, 0, &out);

    /* 5 ms -> 1 s, with a Poll, at 1 ms: a Final at once, then nothing
     * before 0.75 s after it. */
    ctl = peer_ctl(BFDPKT_STATE_UP, bfdsess_my_disc(s), 5, 1000, 3);
    ctl.poll = true;
    bfdsess_receive(s, &ctl, 1);
    compose(s, 1, &out);
    CU_ASSERT(out.final);
    ctl.poll = false;
    for (now = 2; now < 751; now++) {
        if (now % 5 == 0) {
            bfdsess_receive(s, &ctl, now);
        }
        CU_ASSERT_FALSE(bfdsess_should_send(s, now));
    }
    CU_ASSERT(bfdsess_wake(s) <= 1001);

    /* 1 s -> 5 ms at 800: due again at once (last sent at 1). */
    ctl = peer_ctl(BFDPKT_STATE_UP, bfdsess_my_disc(s), 5, 5, 3);
    bfdsess_receive(s, &ctl, 800);
    CU_ASSERT(bfdsess_should_send(s, 800));
    bfdsess_destroy(s);
}

/* The remote in Demand mode with both Up: no periodic packets, Polls still
 * answered; periodic again when it leaves Demand mode. */
static void
test_remote_demand(void)
{
    struct bfdsess *s = new_sess(0, 0);
    struct bfdpkt_ctl ctl, out;

    peer_bring_up(s, 0);
    compose(s, 0, &out);
    ctl = peer_ctl(BFDPKT_STATE_UP, bfdsess_my_disc(s), 5, 5, 3);
    ctl.demand = true;
    bfdsess_receive(s, &ctl, 1);
    CU_ASSERT_FALSE(bfdsess_should_send(s, 1000));
    ctl.poll = true;
    bfdsess_receive(s, &ctl, 2);
    CU_ASSERT(bfdsess_should_send(s, 2));
    compose(s, 2, &out);
    CU_ASSERT(out.final);
    CU_ASSERT_FALSE(out.demand);
    ctl.poll = ctl.demand = false;
    bfdsess_receive(s, &ctl, 3);
    CU_ASSERT(bfdsess_should_send(s, 7));
    bfdsess_destroy(s);
}

/* Hold-down with the scripted peer: AdminDown with diag 7 sent at once;
 * nothing the peer says brings it up while held; released, Down and a
 * normal three-way handshake. */
static void
test_hold(void)
{
    static const enum bfdpkt_state states[] = {
        BFDPKT_STATE_ADMIN_DOWN, BFDPKT_STATE_DOWN, BFDPKT_STATE_INIT,
        BFDPKT_STATE_UP,
    };
    struct bfdsess *s = new_sess(100, 0);
    struct bfdpkt_ctl out;

    /* Held before it was ever Up. */
    bfdsess_set_hold(s, true, 0);
    CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_ADMIN_DOWN);
    CU_ASSERT_EQUAL(bfdsess_n_down(s), 0);
    peer_send(s, BFDPKT_STATE_DOWN, 1);
    CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_ADMIN_DOWN);
    compose(s, 1, &out);
    CU_ASSERT_EQUAL(out.state, BFDPKT_STATE_ADMIN_DOWN);
    CU_ASSERT_EQUAL(out.diag, BFDPKT_DIAG_ADMIN_DOWN);
    bfdsess_set_hold(s, false, 2);
    peer_bring_up(s, 3);

    /* Held while Up. */
    bfdsess_set_hold(s, true, 10);
    bfdsess_set_hold(s, true, 10);
    CU_ASSERT(bfdsess_should_send(s, 10));
    compose(s, 10, &out);
    CU_ASSERT_EQUAL(out.state, BFDPKT_STATE_ADMIN_DOWN);
    CU_ASSERT_EQUAL(out.diag, BFDPKT_DIAG_ADMIN_DOWN);
    CU_ASSERT_EQUAL(out.your_disc, PEER_DISC);
    CU_ASSERT_EQUAL(out.desired_min_tx_us, 1000000);
    CU_ASSERT_EQUAL(bfdsess_n_down(s), 1);
    CU_ASSERT_EQUAL(bfdsess_get_stats(s)->n_flaps, 0);
    for (int round = 0; round < 10; round++) {
        for (size_t i = 0; i < ARRAY_SIZE(states); i++) {
            long long int now = 11 + round * 10 + i;

            peer_send(s, states[i], now);
            CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_ADMIN_DOWN);
            CU_ASSERT_FALSE(bfdsess_should_send(s, now));
        }
    }
    CU_ASSERT_EQUAL(bfdsess_n_up(s), 1);

    /* Released: Down, owed at once, then Init and Up on the peer's word. */
    bfdsess_set_hold(s, false, 200);
    CU_ASSERT_FALSE(bfdsess_is_held(s));
    CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_DOWN);
    CU_ASSERT_EQUAL(bfdsess_damp_remaining(s, 200), 0);
    CU_ASSERT(bfdsess_should_send(s, 200));
    compose(s, 200, &out);
    CU_ASSERT_EQUAL(out.state, BFDPKT_STATE_DOWN);
    peer_send(s, BFDPKT_STATE_UP, 201);
    CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_DOWN);
    peer_send(s, BFDPKT_STATE_DOWN, 202);
    CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_INIT);
    peer_send(s, BFDPKT_STATE_UP, 203);
    CU_ASSERT(bfdsess_is_up(s));
    CU_ASSERT_EQUAL(bfdsess_n_up(s), 2);
    bfdsess_destroy(s);
}

/* Flaps 's' (Up) at 'now' with the peer's Down, and returns the damping
 * time it got. */
static long long int
flap(struct bfdsess *s, long long int now)
{
    REQUIRE(bfdsess_is_up(s));
    peer_send(s, BFDPKT_STATE_DOWN, now);
    REQUIRE(bfdsess_state(s) == BFDPKT_STATE_DOWN);
    return bfdsess_damp_remaining(s, now);
}

/* Keeps 's' Up with the peer's Up every 5 ms from 'from' to 'to'. */
static void
keep_up(struct bfdsess *s, long long int from, long long int to)
{
    for (long long int t = from; t <= to; t += 5) {
        peer_send(s, BFDPKT_STATE_UP, t);
    }
    REQUIRE(bfdsess_is_up(s));
}

/* Returns true if 's' comes Up with the peer's Down then Up at 'now'. */
static bool
try_up(struct bfdsess *s, long long int now)
{
    peer_send(s, BFDPKT_STATE_DOWN, now);
    peer_send(s, BFDPKT_STATE_UP, now);
    return bfdsess_is_up(s);
}

/* Damping: the time doubles from the base with each flap, up to the max;
 * damped, the session answers Down and does not move; the penalty halves
 * after each quiet period and is forgotten below the base. */
static void
test_damping(void)
{
    struct bfdsess_params p;
    struct bfdsess *s;
    long long int now = 0, expect;

    bfdsess_params_init(&p);
    p.damp_base_ms = 100;
    p.damp_max_ms = 1000;
    p.damp_decay_ms = 5000;
    s = bfdsess_create(&p, NULL, 1, 0);
    peer_bring_up(s, now);

    expect = 100;
    for (int i = 0; i < 8; i++) {
        long long int damp;
        struct bfdpkt_ctl out;

        now += 10;
        damp = flap(s, now);
        CU_ASSERT_EQUAL(damp, expect);
        CU_ASSERT_EQUAL(bfdsess_penalty(s, now), expect);
        CU_ASSERT_EQUAL(bfdsess_get_stats(s)->n_flaps, i + 1);

        /* Damped: the peer's Down and Init do not move it. */
        for (long long int t = now; t < now + damp; t += 7) {
            CU_ASSERT_FALSE(try_up(s, t));
            peer_send(s, BFDPKT_STATE_INIT, t);
            CU_ASSERT_EQUAL(bfdsess_state(s), BFDPKT_STATE_DOWN);
            if (bfdsess_should_send(s, t)) {
                compose(s, t, &out);
                CU_ASSERT_EQUAL(out.state, BFDPKT_STATE_DOWN);
            }
        }
        now += damp;
        CU_ASSERT_EQUAL(bfdsess_damp_remaining(s, now), 0);
        CU_ASSERT(try_up(s, now));
        expect = MIN(2 * expect, 1000);
    }
    CU_ASSERT(bfdsess_get_stats(s)->rx_damped > 0);

    /* The penalty is 1000: it halves each 5 s without a flap, and 62.5
     * (below 100) is 0. */
    CU_ASSERT_EQUAL(bfdsess_penalty(s, now), 1000);
    {
        long long int flapped = bfdsess_last_down(s)->when;

        CU_ASSERT_EQUAL(bfdsess_penalty(s, flapped + 4999), 1000);
        CU_ASSERT_EQUAL(bfdsess_penalty(s, flapped + 5000), 500);
        CU_ASSERT_EQUAL(bfdsess_penalty(s, flapped + 10000), 250);
        CU_ASSERT_EQUAL(bfdsess_penalty(s, flapped + 15000), 125);
        CU_ASSERT_EQUAL(bfdsess_penalty(s, flapped + 20000), 0);
        CU_ASSERT_EQUAL(bfdsess_penalty(s, LLONG_MAX), 0);

        /* A flap after 12 s: 250 doubled. */
        keep_up(s, now, flapped + 12000);
        now = flapped + 12000;
        CU_ASSERT_EQUAL(flap(s, now), 500);
        now += 500;
        CU_ASSERT(try_up(s, now));

        /* Then 20 s of quiet: from 100 again. */
        keep_up(s, now, now + 20000);
        now += 20000;
        CU_ASSERT_EQUAL(bfdsess_penalty(s, now), 0);
        CU_ASSERT_EQUAL(flap(s, now), 100);
    }
    bfdsess_destroy(s);

    /* A hold inside the damping time does not end it. */
    s = bfdsess_create(&p, NULL, 1, 0);
    peer_bring_up(s, 0);
    flap(s, 10);
    bfdsess_set_hold(s, true, 20);
    bfdsess_set_hold(s, false, 30);
    CU_ASSERT_FALSE(try_up(s, 40));
    CU_ASSERT(try_up(s, 110));
    bfdsess_destroy(s);

    /* Damping off. */
    s = new_sess(0, 0);
    peer_bring_up(s, 0);
    CU_ASSERT_EQUAL(flap(s, 10), 0);
    CU_ASSERT(try_up(s, 10));
    CU_ASSERT_EQUAL(bfdsess_get_stats(s)->n_flaps, 1);
    bfdsess_destroy(s);

    /* No decay: the penalty stays. */
    p.damp_decay_ms = 0;
    s = bfdsess_create(&p, NULL, 1, 0);
    peer_bring_up(s, 0);
    flap(s, 10);
    CU_ASSERT_EQUAL(bfdsess_penalty(s, LLONG_MAX), 100);
    bfdsess_destroy(s);
}

/* Huge intervals and multipliers, and times near the end of long long:
 * nothing overflows (UBSan would abort), deadlines saturate. */
static void
test_overflow(void)
{
    struct bfdsess_params p = {
        .desired_min_tx_ms = UINT_MAX, .required_min_rx_ms = UINT_MAX,
        .detect_mult = UINT_MAX, .damp_base_ms = UINT_MAX,
        .damp_max_ms = UINT_MAX, .damp_decay_ms = UINT_MAX,
    };
    long long int now = LLONG_MAX - 1000;
    struct bfdsess *s = bfdsess_create(&p, NULL, 9, now);
    struct bfdpkt_ctl ctl, out;
    struct ds ds = DS_EMPTY_INITIALIZER;

    ctl = peer_ctl(BFDPKT_STATE_DOWN, 0, 0, 0, 255);
    ctl.desired_min_tx_us = ctl.required_min_rx_us = UINT32_MAX;
    bfdsess_receive(s, &ctl, now);
    /* Our RX clamped to BFDSESS_MAX_INTERVAL_MS, below the remote's TX of
     * 2^32 - 1 us, rounded up to 4294968 ms. */
    CU_ASSERT_EQUAL(bfdsess_detect_time(s), 255LL * 4294968);
    CU_ASSERT_EQUAL(bfdsess_tx_interval(s), 4294968);
    CU_ASSERT(bfdsess_wake(s) >= now);
    compose(s, now, &out);
    CU_ASSERT_EQUAL(out.desired_min_tx_us, BFDSESS_MAX_INTERVAL_MS * 1000u);
    CU_ASSERT_EQUAL(out.required_min_rx_us, BFDSESS_MAX_INTERVAL_MS * 1000u);
    CU_ASSERT_EQUAL(out.detect_mult, 255);
    CU_ASSERT_EQUAL(bfdsess_wake(s), LLONG_MAX);

    ctl.state = BFDPKT_STATE_UP;
    ctl.your_disc = bfdsess_my_disc(s);
    bfdsess_receive(s, &ctl, now);
    REQUIRE(bfdsess_is_up(s));
    bfdsess_run(s, LLONG_MAX - 1);
    CU_ASSERT(bfdsess_is_up(s));
    bfdsess_format(s, LLONG_MAX, &ds);
    bfdsess_format(s, LLONG_MIN, &ds);
    ctl.state = BFDPKT_STATE_DOWN;
    bfdsess_receive(s, &ctl, LLONG_MAX);
    CU_ASSERT_FALSE(bfdsess_is_up(s));
    CU_ASSERT_EQUAL(bfdsess_damp_remaining(s, LLONG_MAX), 0);
    CU_ASSERT(bfdsess_penalty(s, LLONG_MAX) > 0);
    bfdsess_run(s, LLONG_MAX);
    compose(s, LLONG_MAX, &out);
    bfdsess_format(s, LLONG_MIN, &ds);
    bfdsess_destroy(s);

    /* From the other end. */
    s = bfdsess_create(&p, NULL, 9, LLONG_MIN);
    bfdsess_receive(s, &ctl, LLONG_MIN);
    compose(s, LLONG_MIN, &out);
    bfdsess_format(s, LLONG_MAX, &ds);
    bfdsess_destroy(s);
    ds_destroy(&ds);
}

/* The parameters: defaults, and clamping into range. */
static void
test_params(void)
{
    struct bfdsess_params p;
    struct bfdsess *s;
    struct bfdpkt_ctl ctl, out;

    bfdsess_params_init(&p);
    CU_ASSERT_EQUAL(p.desired_min_tx_ms, 5);
    CU_ASSERT_EQUAL(p.required_min_rx_ms, 5);
    CU_ASSERT_EQUAL(p.detect_mult, 3);
    CU_ASSERT_EQUAL(p.damp_base_ms, 100);
    CU_ASSERT_EQUAL(p.damp_max_ms, 10000);
    CU_ASSERT_EQUAL(p.damp_decay_ms, 10000);

    p.desired_min_tx_ms = 0;
    p.required_min_rx_ms = 0;
    p.detect_mult = 0;
    p.damp_max_ms = 10;
    s = bfdsess_create(&p, NULL, 3, 0);
    ctl = peer_ctl(BFDPKT_STATE_DOWN, 0, 5, 5, 3);
    bfdsess_receive(s, &ctl, 0);
    compose(s, 0, &out);
    CU_ASSERT_EQUAL(out.required_min_rx_us, 1000);
    CU_ASSERT_EQUAL(out.detect_mult, 1);
    ctl = peer_ctl(BFDPKT_STATE_UP, bfdsess_my_disc(s), 5, 5, 3);
    bfdsess_receive(s, &ctl, 0);
    compose(s, 0, &out);
    CU_ASSERT_EQUAL(out.desired_min_tx_us, 1000);
    CU_ASSERT_EQUAL(flap(s, 1), 100);   /* The max is at least the base. */
    bfdsess_destroy(s);
}

/* The status report names what an operator needs. */
static void
test_format(void)
{
    struct ds ds = DS_EMPTY_INITIALIZER;
    struct bfdsess *s = new_sess(100, 0);
    const char *str;

    bfdsess_format(s, 0, &ds);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&ds), "bfd: Down"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&ds), "waiting"));

    peer_bring_up(s, 0);
    peer_send(s, BFDPKT_STATE_DOWN, 5);
    bfdsess_set_hold(s, true, 6);
    ds_clear(&ds);
    bfdsess_format(s, 50, &ds);
    str = ds_cstr(&ds);
    CU_ASSERT_PTR_NOT_NULL(strstr(str, "bfd: AdminDown (held)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(str, "Administratively Down"));
    CU_ASSERT_PTR_NOT_NULL(strstr(str, "remote Down"));
    CU_ASSERT_PTR_NOT_NULL(strstr(str, "detect 15 ms"));
    CU_ASSERT_PTR_NOT_NULL(strstr(str, "up 1, down 1, flaps 1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(str, "last down 45 ms ago: remote-down"));
    CU_ASSERT_PTR_NOT_NULL(strstr(str, "penalty 100 ms, 55 ms remaining"));
    CU_ASSERT_PTR_NOT_NULL(strstr(str, "rx 3"));
    CU_ASSERT_PTR_NOT_NULL(strstr(str, "dropped your-disc 0"));
    CU_ASSERT_EQUAL(str[strlen(str) - 1], '\n');
    CU_ASSERT_STRING_EQUAL(bfdsess_reason_name(BFDSESS_REASON_HOLD),
                           "hold");
    CU_ASSERT_STRING_EQUAL(bfdsess_reason_name(BFDSESS_N_REASONS),
                           "unknown");
    ds_destroy(&ds);
    bfdsess_destroy(s);
}

static const struct test_case bfdsess_tests[] = {
    { "OVS model: handshake, agent after OVS",
      test_ovs_handshake_agent_late },
    { "OVS model: handshake, OVS after the agent",
      test_ovs_handshake_ovs_late },
    { "OVS model: crossed Downs, Init on both sides",
      test_ovs_handshake_crossed },
    { "OVS model: Poll and Final, timer negotiation", test_ovs_poll_final },
    { "OVS model: expiry", test_ovs_expiry },
    { "OVS model: stopped agent, stale queued packets",
      test_ovs_stopped_agent },
    { "OVS model: hold-down", test_ovs_hold },
    { "OVS model: damping", test_ovs_damping },
    { "OVS model: bfd_src_ip", test_ovs_src_ip },
    { "state table", test_state_table },
    { "addresses and discriminators", test_addresses_and_discs },
    { "unknown your_disc dropped", test_unknown_your_disc },
    { "detection time", test_detect_time },
    { "expiry before reception", test_expiry_before_reception },
    { "Poll and Final", test_poll_final },
    { "transmit intervals and jitter", test_tx_intervals },
    { "remote RX change", test_remote_rx_change },
    { "remote Demand mode", test_remote_demand },
    { "hold-down", test_hold },
    { "damping", test_damping },
    { "overflow", test_overflow },
    { "parameters", test_params },
    { "format", test_format },
    { NULL, NULL },
};
TEST_SUITE("bfdsess", bfdsess_tests)
