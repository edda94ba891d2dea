/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef SFMESH_BFDSESS_H
#define SFMESH_BFDSESS_H 1

/* One BFD session of sfmesh-agent with OVS: RFC 5880 asynchronous mode, no
 * Demand mode of its own, no Echo, no authentication.
 *
 * OVS runs BFD on the instance's port (bfd:enable=true) and treats the port
 * as live for fast-failover groups only while its own session is Up.  The
 * agent answers from its packet path, so that an agent that stops
 * forwarding also stops answering and OVS fails its streams over in the
 * datapath after its detection time (3 x 5 ms with the defaults below).
 *
 * The agent feeds the session what bfdpkt_parse() accepts
 * (bfdsess_receive()), calls bfdsess_run() at bfdsess_wake(), and sends
 * what bfdsess_compose() fills in whenever bfdsess_should_send() says so:
 *
 *     if (bfdpkt_is_bfd(frame, len)) {
 *         error = bfdpkt_parse(frame, len, &ctl);
 *         if (!error) {
 *             rx = bfdsess_receive(s, &ctl, now);
 *         }
 *     }
 *     ...
 *     bfdsess_run(s, now);
 *     if (bfdsess_should_send(s, now)) {
 *         bfdsess_compose(s, now, &ctl);
 *         len = bfdpkt_build(&ctl, buf, sizeof buf);
 *     }
 *     ...then wait until bfdsess_wake(s), or a frame.
 *
 * Pure: no I/O, no clock (every function that needs the time takes 'now',
 * in ms, from one monotonic clock that never goes back), no hidden
 * randomness (the discriminator, the UDP source port and the jitter all
 * come from the seed given to bfdsess_create()).
 *
 *
 * Reception (RFC 5880 section 6.8.6)
 * ----------------------------------
 *
 * bfdsess_receive(s, ctl, now) first applies any detection time expiry due
 * by 'now', exactly as bfdsess_run(s, now) would, and only then the packet.
 * This order is part of the contract: a packet counts as heard at 'now',
 * the time the agent reads it, so an agent that was stopped (SIGSTOP, a
 * long stall) and finds old packets queued in its socket on resume goes
 * Down first, since the remote was silent for a detection time as far as
 * the session could tell, and those packets cannot keep it Up: from Down,
 * the remote's Up moves nothing, and its Down or Init start a new three-way
 * handshake, which damping then holds back.
 *
 * Then the packet, with the checks and updates of section 6.8.6 that need
 * the session (the others are bfdpkt_parse()'s and bfdpkt_check()'s):
 *
 *   - a nonzero Your Discriminator other than ours: dropped and counted
 *     (BFDSESS_RX_YOUR_DISC), nothing else changes;
 *   - the remote's discriminator, state, diag, Demand bit, detect
 *     multiplier and intervals are recorded from every packet accepted; its
 *     addresses too, for our replies;
 *   - Final ends our Poll Sequence; Poll makes us owe a Final, which
 *     bfdsess_should_send() reports at once, in any state;
 *   - the detection time restarts from 'now';
 *   - in AdminDown (held), nothing else; else the state table: remote
 *     AdminDown takes Init or Up to Down (diag 3); from Down, remote Down
 *     gives Init and remote Init gives Up; from Init, remote Init or Up
 *     gives Up; from Up, remote Down gives Down (diag 3).  While damped
 *     (below), Down stays Down.
 *
 * Each change of our state makes us owe the remote a packet at once (see
 * below), so that a handshake does not wait for the slow timer.
 *
 *
 * Transmission (RFC 5880 section 6.8.7) and timers
 * ------------------------------------------------
 *
 * The session sends only to a remote it has heard: it takes the addresses
 * from the remote's packets (replies go to the source MAC and IP of its
 * last packet accepted, from the IP it sent to, to port 3784), and sends
 * periodically only while it knows the remote's discriminator, which it
 * forgets after a detection time of silence (section 6.8.1).  So it sends
 * nothing before the first packet accepted, as a Passive system (section
 * 6.1), and stops when the remote goes silent, for instance when the port's
 * BFD is disabled (OVS would then put our frames through its flow tables).
 * OVS's BFD always sends first, from the moment bfd:enable=true is set.
 * Then:
 *
 *   - periodic packets every 'interval' = max(our desired min TX, the
 *     remote's required min RX), less a jitter of 0 to 25% (10 to 25% with
 *     a detect multiplier of 1), drawn anew each packet; in ms, so the
 *     interval is rounded to whole ms within those bounds (a 5 ms interval
 *     gives 4 or 5 ms);
 *   - our desired min TX is at least 1 s (BFDSESS_SLOW_TX_MS) while not Up,
 *     as section 6.8.3 requires, and the configured one once Up;
 *   - no periodic packets while the remote's required min RX is 0, nor
 *     while the remote is in Demand mode with both sides Up;
 *   - a Final is owed at once after each Poll, whatever else holds (P is
 *     never sent with F: the Poll waits for the next packet);
 *   - a packet is owed at once after each change of our state and at the
 *     end of a damping time (it obeys the rules above but for the
 *     remote's being forgotten: the Down of an expiry goes out), and it
 *     starts a Poll Sequence: P on our packets until the remote's Final.
 *
 * The last rule is what brings the session up fast against OVS.  OVS sends
 * only from its monitor thread, which wakes at the session's next
 * transmission (every 0.75 to 1 s while not Up) but at least every 100 ms,
 * and is not woken by a packet received; it changes state at once on a
 * packet but does not send because of that, and a Poll makes it owe a
 * Final, which the next wake sends.  Section 6.8.3 requires a Poll when
 * our desired min TX changes, which coming Up and leaving it do; sfmesh
 * also polls on the other changes (Down to Init, AdminDown to Down, the end
 * of a damping time) so that OVS answers each step of the handshake within
 * 100 ms instead of a second.  Section 6.5 describes Polls for parameter
 * changes (and Demand mode); using one to get a prompt answer is sfmesh's
 * own, and harmless to any peer, which must answer a Poll in any state
 * (section 6.8.7) with one packet.
 *
 * Every packet sent (bfdsess_compose()) restarts the periodic timer, and a
 * change of the remote's required min RX reschedules the next periodic
 * packet from the last one sent, at the new interval.  The detection time
 * (section 6.8.4) is the remote's detect multiplier times max(our required
 * min RX, the remote's desired min TX), from the last packet accepted; it
 * is computed in 64 bits from 32-bit microsecond fields and added to times
 * with saturation, so no configuration or packet makes it overflow.  When
 * it passes without a packet, an Init or Up session goes Down with diag 1
 * (Control Detection Time Expired), and in any state the remote's
 * discriminator goes back to 0 (section 6.8.1).
 *
 * Bring-up against OVS 3.1, measured in the unit tests against a model of
 * OVS's lib/bfd.c and its monitor thread (1 ms clock steps, min_tx=min_rx=5
 * on OVS, the defaults here; 200 seeded runs each):
 *
 *   - the agent starts while OVS's session runs: OVS is Up one round trip
 *     after its next packet, which comes 0 to 1 s later (we send nothing
 *     before it): mean 387 ms, max 958 ms after the start; our side within
 *     100 ms more (OVS's Final): mean 487 ms, max 1058 ms;
 *   - OVS's session starts while the agent runs: OVS Up within two round
 *     trips (4 ms at most on links of 0 to 2 ms);
 *   - bfdsess_set_hold(false): OVS Up after our Down with P, its Init with
 *     F at its next monitor wake, and our Up: mean 51 ms, max 105 ms on
 *     links of 0 to 2 ms.  Against a live ovs-vswitchd 3.1 on a veth
 *     (userspace datapath), three runs of 35 or 36 hold and release
 *     cycles: means of 91 to 100 ms, max 110 ms.
 *
 * Without the Polls each of OVS's steps waits for its 1 s timer (measured
 * the same way): a release took up to 982 ms (mean 461 ms), and at
 * start-up our side came Up up to 1 s after OVS (mean 1.26 s, max 1.89 s
 * after the start), a second during which OVS, Up and forwarding, still
 * saw our 1 s desired min TX and would have taken 3 s, not 15 ms, to
 * notice a dead agent.  With them that window is 100 ms at most.
 *
 *
 * Hold-down (RFC 5880 section 6.8.16)
 * -----------------------------------
 *
 * bfdsess_set_hold(s, true, now) puts the session in AdminDown with diag 7
 * (Administratively Down) and owes the remote a packet at once.  OVS, on
 * our AdminDown, goes Down (diag 3) and stops forwarding, and stays Down as
 * long as we stay AdminDown (or silent): its state machine takes no step on
 * a remote AdminDown but to Down, and Down does not expire.
 * bfdsess_set_hold(s, false, now) puts it back in Down (owing a packet),
 * from where the three-way handshake brings both sides Up.  Leaving Up by
 * a hold counts in bfdsess_n_down() but is not a flap: it is not damped.
 *
 *
 * Damping
 * -------
 *
 * A session that flaps must not bounce its streams.  A flap is leaving Up
 * other than by bfdsess_set_hold().  The rule, with P the penalty in ms,
 * initially 0:
 *
 *   - at a flap at time t: P = damp_base_ms if P is 0, else min(2 P,
 *     damp_max_ms); the session is damped until t + P;
 *   - while damped the session stays Down: it answers Down and the
 *     remote's Down or Init do not move it to Init or Up (OVS sees our Down
 *     and stays in Init, not forwarding); a hold and its release do not end
 *     the damping; its end owes the remote a Poll (above), so that the
 *     handshake resumes at once;
 *   - P decays: for each full damp_decay_ms without a flap, counted from
 *     the last flap or the last halving, P halves, and a P below
 *     damp_base_ms becomes 0.
 *
 * So with the defaults (100 ms, 10 s, 10 s) flaps closer than 10 s apart
 * are damped for 100, 200, 400, ... 6400, then 10000 ms each, and a session
 * quiet for 10 s after a 100 ms penalty starts again from 100 ms.
 * damp_base_ms 0 turns damping off; damp_decay_ms 0 keeps the penalty
 * forever.
 *
 *
 * What the agent learns
 * ---------------------
 *
 * bfdsess_n_up() and bfdsess_n_down() count the transitions into and out
 * of Up; when bfdsess_n_down() moves, bfdsess_last_down() tells when, why
 * and with which diag.  bfdsess_get_stats() has the counters,
 * bfdsess_format() a status report. */

#include <stdbool.h>
#include <stdint.h>
#include "bfdpkt.h"
#include "openvswitch/types.h"

struct ds;

/* The agent's defaults: 5 ms both ways, multiplier 3, against OVS set with
 * bfd:min_tx=5 bfd:min_rx=5 (OVS's multiplier is 3 unless bfd:mult says
 * otherwise, and its intervals are whole ms, 1 at least): each side
 * detects the other's loss in 15 ms.
 *
 * That leaves each side 10 ms of scheduling slack, which OVS's monitor
 * thread (it logs "long delay of 9ms (expected 5ms)") and a user-space
 * agent do not always get.  On a 2-vCPU VM shared with other test runs, a
 * minute of a session Up against ovs-vswitchd 3.1 flapped 10 times at 5 ms
 * (expiries on both sides), once at 10 ms and never at 20 ms: measure on
 * the hosts that will run it. */
#define BFDSESS_DEFAULT_DESIRED_MIN_TX_MS 5
#define BFDSESS_DEFAULT_REQUIRED_MIN_RX_MS 5
#define BFDSESS_DEFAULT_DETECT_MULT 3
#define BFDSESS_DEFAULT_DAMP_BASE_MS 100
#define BFDSESS_DEFAULT_DAMP_MAX_MS 10000
#define BFDSESS_DEFAULT_DAMP_DECAY_MS 10000

/* Desired min TX while not Up (RFC 5880 section 6.8.3: at least 1 s). */
#define BFDSESS_SLOW_TX_MS 1000

/* The largest interval, in ms, that fits the 32-bit microsecond fields. */
#define BFDSESS_MAX_INTERVAL_MS 4294967

/* A session's configuration.  bfdsess_create() clamps each value into its
 * range. */
struct bfdsess_params {
    unsigned int desired_min_tx_ms;  /* bfd.DesiredMinTxInterval once Up,
                                      * 1 to BFDSESS_MAX_INTERVAL_MS. */
    unsigned int required_min_rx_ms; /* bfd.RequiredMinRxInterval, 1 to
                                      * BFDSESS_MAX_INTERVAL_MS (0 would ask
                                      * the remote not to send). */
    unsigned int detect_mult;        /* bfd.DetectMult, 1 to 255. */
    unsigned int damp_base_ms;       /* First damping time; 0: none. */
    unsigned int damp_max_ms;        /* Longest damping time, at least
                                      * 'damp_base_ms'. */
    unsigned int damp_decay_ms;      /* Quiet time that halves the penalty;
                                      * 0: it never decays. */
};

void bfdsess_params_init(struct bfdsess_params *);

/* Why a session left Up. */
#define BFDSESS_REASONS                                                 \
    /* No packet from the remote for a detection time. */              \
    BFDSESS_REASON(EXPIRED, "expired")                                  \
    /* The remote said Down. */                                         \
    BFDSESS_REASON(REMOTE_DOWN, "remote-down")                          \
    /* The remote said AdminDown. */                                    \
    BFDSESS_REASON(REMOTE_ADMIN_DOWN, "remote-admin-down")              \
    /* bfdsess_set_hold(). */                                           \
    BFDSESS_REASON(HOLD, "hold")

enum bfdsess_reason {
#define BFDSESS_REASON(ENUM, NAME) BFDSESS_REASON_##ENUM,
    BFDSESS_REASONS
#undef BFDSESS_REASON
    BFDSESS_N_REASONS
};

const char *bfdsess_reason_name(enum bfdsess_reason);

/* The last time a session left Up. */
struct bfdsess_down {
    long long int when;         /* The 'now' of the transition, ms. */
    enum bfdsess_reason reason; /* Why. */
    enum bfdpkt_diag diag;      /* The diag we then sent. */
    enum bfdpkt_diag remote_diag; /* The remote's diag in its last packet
                                   * before. */
    enum bfdpkt_state remote_state; /* The remote's state then. */
    long long int detect_ms;    /* The detection time then, ms. */
};

/* What bfdsess_receive() returns: BFDSESS_RX_OK (0) or the reason it
 * dropped the packet, with names for counters (bfdsess_rx_name()). */
#define BFDSESS_RXS                                                     \
    /* Your Discriminator is not 0 and not ours. */                    \
    BFDSESS_RX(YOUR_DISC, "your-disc")                                  \
    /* A control packet that bfdpkt_check() refuses. */                 \
    BFDSESS_RX(INVALID, "invalid")

enum bfdsess_rx {
    BFDSESS_RX_OK,              /* Accepted: "ok". */
#define BFDSESS_RX(ENUM, NAME) BFDSESS_RX_##ENUM,
    BFDSESS_RXS
#undef BFDSESS_RX
    BFDSESS_N_RXS
};

const char *bfdsess_rx_name(enum bfdsess_rx);

/* Counters. */
struct bfdsess_stats {
    uint64_t rx;                /* Packets accepted. */
    uint64_t rx_dropped[BFDSESS_N_RXS]; /* Packets dropped, by reason
                                         * (index 0 unused). */
    uint64_t rx_poll;           /* Polls received. */
    uint64_t rx_damped;         /* Packets that would have moved the
                                 * session to Init or Up but for damping. */
    uint64_t tx;                /* Packets composed. */
    uint64_t tx_final;          /* Of which Finals. */
    uint64_t n_up;              /* Transitions into Up. */
    uint64_t n_down;            /* Transitions out of Up. */
    uint64_t n_flaps;           /* Of which not by hold: damped ones. */
    uint64_t n_expired;         /* Detection time expiries in Init or Up. */
};

struct bfdsess *bfdsess_create(const struct bfdsess_params *,
                               const struct eth_addr *local_mac,
                               uint32_t seed, long long int now);
void bfdsess_destroy(struct bfdsess *);

enum bfdsess_rx bfdsess_receive(struct bfdsess *, const struct bfdpkt_ctl *,
                                long long int now);
void bfdsess_run(struct bfdsess *, long long int now);
long long int bfdsess_wake(const struct bfdsess *);
bool bfdsess_should_send(const struct bfdsess *, long long int now);
void bfdsess_compose(struct bfdsess *, long long int now,
                     struct bfdpkt_ctl *);
void bfdsess_set_hold(struct bfdsess *, bool hold, long long int now);

enum bfdpkt_state bfdsess_state(const struct bfdsess *);
bool bfdsess_is_up(const struct bfdsess *);
bool bfdsess_is_held(const struct bfdsess *);
enum bfdpkt_diag bfdsess_diag(const struct bfdsess *);
enum bfdpkt_state bfdsess_remote_state(const struct bfdsess *);
uint32_t bfdsess_my_disc(const struct bfdsess *);
uint32_t bfdsess_remote_disc(const struct bfdsess *);
long long int bfdsess_tx_interval(const struct bfdsess *);
long long int bfdsess_detect_time(const struct bfdsess *);
bool bfdsess_in_poll(const struct bfdsess *);

uint64_t bfdsess_n_up(const struct bfdsess *);
uint64_t bfdsess_n_down(const struct bfdsess *);
const struct bfdsess_down *bfdsess_last_down(const struct bfdsess *);
const struct bfdsess_stats *bfdsess_get_stats(const struct bfdsess *);
unsigned int bfdsess_penalty(const struct bfdsess *, long long int now);
long long int bfdsess_damp_remaining(const struct bfdsess *,
                                     long long int now);

void bfdsess_format(const struct bfdsess *, long long int now, struct ds *);

#endif /* bfdsess.h */
