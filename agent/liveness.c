/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include "liveness.h"

#include <event2/event.h>
#include <limits.h>
#include <string.h>
#include "agenthold.h"
#include "bfdpkt.h"
#include "bfdsess.h"
#include "frameio.h"
#include "linkmon.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "packets.h"
#include "random.h"
#include "sentinel.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(liveness);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

struct liveness {
    struct frameio *fio;        /* IPv4 frames of the interface: BFD. */
    struct linkmon *link;       /* Its carrier. */
    struct bfdsess *bfd;        /* The session with OVS. */
    struct agenthold hold;      /* Whether the agent may serve. */
    uint64_t epoch;             /* The agent's map epoch. */
    uint64_t n_down_seen;       /* bfdsess_n_down() as last handled. */
    long long int last_turn;    /* When the agent last ran, ms. */
    long long int last_rx;      /* Last BFD packet accepted, ms, or 0. */
    struct sentinel *sentinel;  /* Announces the agent's death, or NULL. */
    liveness_disrupt_cb *disrupt_cb; /* Told of disruptions. */
    void *aux;                  /* For 'disrupt_cb'. */

    struct event *rx_ev;        /* BFD frames to read. */
    struct event *timer_ev;     /* The session's next deadline. */
    struct event *link_ev;      /* Carrier notifications. */

    /* The current hold: when the carrier came back during it (or 0), and
     * when the first and the last frame were dropped with the link up. */
    long long int up_at;
    long long int drop_first, drop_last;

    /* Counters. */
    uint64_t n_other;           /* IPv4 frames that are not BFD. */
    uint64_t n_bad[BFDPKT_N_ERRORS]; /* Malformed BFD frames by reason. */
    uint64_t n_stalls;          /* Sessions lost because the agent did
                                 * not run. */
};

static void run__(struct liveness *, long long int now);

/* Returns true if disruptions count: the session came Up at least once,
 * so OVS runs BFD on the port. */
static bool
bfd_in_use__(const struct liveness *lv)
{
    return bfdsess_n_up(lv->bfd) > 0;
}

/* Records a disruption for 'reason' at 'now'. */
static void
disrupt__(struct liveness *lv, enum agenthold_reason reason,
          long long int now)
{
    bool was_held = agenthold_is_held(&lv->hold);

    if (!bfd_in_use__(lv)) {
        return;
    }
    agenthold_disrupt(&lv->hold, reason, lv->epoch, now);
    if (!agenthold_is_held(&lv->hold)) {
        return;
    }
    if (!was_held) {
        VLOG_WARN("holding this instance out of service: %s (map epoch %"
                  PRIu64"); BFD is held down until the controller has "
                  "moved its buckets away", agenthold_reason_text(reason),
                  lv->epoch);
    }
    bfdsess_set_hold(lv->bfd, true, now);
    lv->disrupt_cb(lv->aux);
}

/* Sends the session's next packet now if it owes one, or unconditionally
 * if 'force'. */
static void
send__(struct liveness *lv, long long int now, bool force)
{
    struct bfdpkt_ctl ctl;
    uint8_t *slot;
    size_t len;

    if (!force && !bfdsess_should_send(lv->bfd, now)) {
        return;
    }
    if (!lv->last_rx) {
        /* No peer heard yet: nowhere to send. */
        return;
    }
    bfdsess_compose(lv->bfd, now, &ctl);
    slot = frameio_tx_slot(lv->fio);
    len = bfdpkt_build(&ctl, slot, FRAMEIO_MAX_FRAME);
    if (len) {
        frameio_tx_commit(lv->fio, len);
        frameio_flush(lv->fio);
    }
    if (lv->sentinel) {
        /* What the sentinel says if we die now: the same session,
         * AdminDown. */
        uint8_t death[FRAMEIO_MAX_FRAME];

        ctl.state = BFDPKT_STATE_ADMIN_DOWN;
        ctl.diag = BFDPKT_DIAG_ADMIN_DOWN;
        ctl.poll = ctl.final = false;
        len = bfdpkt_build(&ctl, death, sizeof death);
        sentinel_arm(lv->sentinel, death, len);
    }
}

/* Looks at what the session did since the last call, at 'now', 'gap' ms
 * after the previous turn of the agent's loop. */
static void
follow_session__(struct liveness *lv, long long int now, long long int gap)
{
    uint64_t n_down = bfdsess_n_down(lv->bfd);

    if (n_down != lv->n_down_seen) {
        const struct bfdsess_down *d = bfdsess_last_down(lv->bfd);

        lv->n_down_seen = n_down;
        if (d->reason == BFDSESS_REASON_HOLD) {
            return;
        }
        if (d->reason == BFDSESS_REASON_EXPIRED && gap > d->detect_ms) {
            /* We did not hear the switch because we did not run. */
            lv->n_stalls++;
            VLOG_WARN("BFD session down: the agent did not run for %lld ms "
                      "(detection time %lld ms)", gap, d->detect_ms);
            disrupt__(lv, AGENTHOLD_STALL, now);
        } else {
            VLOG_WARN("BFD session down: %s (%s)",
                      bfdsess_reason_name(d->reason),
                      bfdpkt_diag_name(d->diag));
            disrupt__(lv, AGENTHOLD_BFD, now);
        }
    }
}

/* Schedules the timer for the session's next deadline. */
static void
arm__(struct liveness *lv, long long int now)
{
    long long int wake = bfdsess_wake(lv->bfd);
    long long int ms;
    struct timeval tv;

    if (agenthold_is_held(&lv->hold) && lv->last_rx) {
        /* Also notice that BFD was turned off on the port. */
        wake = MIN(wake, lv->last_rx + LIVENESS_BFD_GONE_MS);
    }
    if (wake == LLONG_MAX) {
        event_del(lv->timer_ev);
        return;
    }
    ms = MAX(wake - now, 0);
    tv.tv_sec = ms / 1000;
    tv.tv_usec = ms % 1000 * 1000;
    event_add(lv->timer_ev, &tv);
}

/* Returns how long it has been, at 'now', since the agent's loop last
 * looked at 'lv', and makes 'now' the last time. */
static long long int
turn__(struct liveness *lv, long long int now)
{
    long long int gap = now - lv->last_turn;

    lv->last_turn = now;
    return gap;
}

/* Ends a hold that BFD cannot enforce: no BFD packet for
 * LIVENESS_BFD_GONE_MS. */
static void
check_bfd_gone__(struct liveness *lv, long long int now)
{
    if (agenthold_is_held(&lv->hold)
        && lv->hold.reason != AGENTHOLD_START
        && lv->last_rx && now - lv->last_rx >= LIVENESS_BFD_GONE_MS) {
        VLOG_WARN("no BFD from the switch for %lld ms: BFD is off on the "
                  "port, so holding the instance out would only drop its "
                  "traffic; serving again", now - lv->last_rx);
        agenthold_map(&lv->hold, 0, now);
        bfdsess_set_hold(lv->bfd, false, now);
        lv->last_rx = 0;
    }
}

/* Runs the session's timers and everything that follows at 'now'. */
static void
run__(struct liveness *lv, long long int now)
{
    long long int gap = turn__(lv, now);

    bfdsess_run(lv->bfd, now);
    follow_session__(lv, now, gap);
    check_bfd_gone__(lv, now);
    send__(lv, now, false);
    arm__(lv, now);
}

static void
rx_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *lv_)
{
    struct liveness *lv = lv_;
    long long int now = time_msec();
    struct frameio_frame *frames;
    long long int gap = turn__(lv, now);
    size_t n;

    for (int round = 0; round < 4; round++) {
        n = frameio_recv(lv->fio, &frames);
        if (!n) {
            break;
        }
        for (size_t i = 0; i < n; i++) {
            struct bfdpkt_ctl ctl;
            enum bfdpkt_error error;

            if (!bfdpkt_is_bfd(frames[i].data, frames[i].len)) {
                lv->n_other++;
                continue;
            }
            error = bfdpkt_parse(frames[i].data, frames[i].len, &ctl);
            if (error) {
                lv->n_bad[error]++;
                VLOG_DBG_RL(&rl, "malformed BFD frame dropped: %s",
                            bfdpkt_error_name(error));
                continue;
            }
            if (bfdsess_receive(lv->bfd, &ctl, now) == BFDSESS_RX_OK) {
                lv->last_rx = now;
            }
            follow_session__(lv, now, gap);
            gap = 0;
        }
    }
    run__(lv, now);
}

static void
timer_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *lv_)
{
    struct liveness *lv = lv_;

    run__(lv, time_msec());
}

/* Reads the carrier notifications that are ready, at 'now'. */
static void
read_link__(struct liveness *lv, long long int now)
{
    bool lost = false;

    if (linkmon_run(lv->link, &lost) || lost) {
        if (lost) {
            disrupt__(lv, AGENTHOLD_CARRIER, now);
        }
        if (linkmon_carrier(lv->link) && agenthold_is_held(&lv->hold)
            && !lv->up_at) {
            lv->up_at = now;
        }
        if (linkmon_carrier(lv->link) && bfdsess_is_held(lv->bfd)) {
            /* What we sent while the link was down was lost: tell OVS at
             * once that we are held, before it forwards to us again. */
            send__(lv, now, true);
        }
    }
}

static void
link_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *lv_)
{
    struct liveness *lv = lv_;
    long long int now = time_msec();

    read_link__(lv, now);
    run__(lv, now);
}

/* Starts the liveness of the agent on interface 'iface', with BFD
 * parameters 'params', on event loop 'base', at 'now'; 'cb' (with 'aux')
 * is called at each disruption.  The agent starts held (see agenthold.h).
 * Returns NULL and stores a message in '*errorp' (for the caller to free)
 * on failure. */
struct liveness *
liveness_create(struct event_base *base, const char *iface,
                const struct bfdsess_params *params,
                liveness_disrupt_cb *cb, void *aux, long long int now,
                char **errorp)
{
    struct liveness *lv = xzalloc(sizeof *lv);

    *errorp = NULL;
    if (frameio_open(iface, ETH_TYPE_IP, 8, &lv->fio, errorp)
        || linkmon_open(iface, &lv->link, errorp)) {
        liveness_destroy(lv);
        return NULL;
    }
    lv->bfd = bfdsess_create(params, (const struct eth_addr *)
                             frameio_mac(lv->fio), random_uint32(), now);
    agenthold_init(&lv->hold, now);
    bfdsess_set_hold(lv->bfd, true, now);
    lv->n_down_seen = bfdsess_n_down(lv->bfd);
    lv->last_turn = now;
    lv->disrupt_cb = cb;
    lv->aux = aux;
    lv->rx_ev = event_new(base, frameio_fd(lv->fio), EV_READ | EV_PERSIST,
                          rx_cb, lv);
    lv->link_ev = event_new(base, linkmon_fd(lv->link), EV_READ | EV_PERSIST,
                            link_cb, lv);
    lv->timer_ev = evtimer_new(base, timer_cb, lv);
    event_add(lv->rx_ev, NULL);
    event_add(lv->link_ev, NULL);
    arm__(lv, now);
    return lv;
}

/* Frees 'lv'.  Accepts NULL. */
void
liveness_destroy(struct liveness *lv)
{
    if (!lv) {
        return;
    }
    if (lv->rx_ev) {
        event_free(lv->rx_ev);
        event_free(lv->link_ev);
        event_free(lv->timer_ev);
    }
    bfdsess_destroy(lv->bfd);
    linkmon_close(lv->link);
    frameio_close(lv->fio);
    free(lv);
}

/* To be called by the agent before it handles data frames at 'now'.
 * Returns true if the agent is held, and must drop them. */
bool
liveness_check(struct liveness *lv, long long int now)
{
    /* The carrier first: a frame processed after the link went down
     * cannot go out, and its state would compete with the newer state of
     * the secondary that the switch now sends the stream to. */
    read_link__(lv, now);
    if (now != lv->last_turn || bfdsess_wake(lv->bfd) <= now) {
        run__(lv, now);
    }
    return agenthold_is_held(&lv->hold) || !linkmon_carrier(lv->link);
}

/* Counts 'n' data frames that the agent dropped at 'now' because it is held
 * or its link is down (liveness_check() read the link's state just
 * before). */
void
liveness_count_dropped(struct liveness *lv, size_t n, long long int now)
{
    if (linkmon_carrier(lv->link)) {
        lv->hold.n_dropped += n;
        if (!lv->drop_first) {
            lv->drop_first = now;
        }
        lv->drop_last = now;
    } else {
        lv->hold.n_dropped_down += n;
    }
}

/* Tells 'lv' that the agent applied map 'epoch', in which it is the
 * primary or the secondary of 'n_roles' buckets, at 'now'. */
void
liveness_map(struct liveness *lv, uint64_t epoch, size_t n_roles,
             long long int now)
{
    enum agenthold_reason reason = lv->hold.reason;

    lv->epoch = epoch;
    if (agenthold_map(&lv->hold, n_roles, now)) {
        struct ds when = DS_EMPTY_INITIALIZER;

        if (lv->drop_first) {
            /* Relative to the carrier's return, or to the hold's start if
             * the carrier never went. */
            long long int base = lv->up_at ? lv->up_at : lv->hold.since;

            ds_put_format(&when, "; this time from %lld to %lld ms after %s",
                          lv->drop_first - base, lv->drop_last - base,
                          lv->up_at ? "the carrier came back"
                                    : "the hold began");
        }
        VLOG_INFO("serving again (%s; map epoch %"PRIu64" names this "
                  "instance in %"PRIuSIZE" buckets); %"PRIu64" data frames "
                  "dropped while held so far (and %"PRIu64" with the link "
                  "down)%s", agenthold_reason_text(reason), epoch, n_roles,
                  lv->hold.n_dropped, lv->hold.n_dropped_down,
                  ds_cstr(&when));
        ds_destroy(&when);
        lv->up_at = lv->drop_first = lv->drop_last = 0;
        bfdsess_set_hold(lv->bfd, false, now);
        send__(lv, now, false);
        arm__(lv, now);
    }
}

/* Gives the session's packets to 'sentinel' (see sentinel.h), which the
 * caller keeps and frees. */
void
liveness_set_sentinel(struct liveness *lv, struct sentinel *sentinel)
{
    lv->sentinel = sentinel;
}

/* Returns true if the agent is held out of service (see agenthold.h), as
 * the last liveness_check() found it. */
bool
liveness_is_held(const struct liveness *lv)
{
    return agenthold_is_held(&lv->hold);
}

/* Returns true if the BFD session with the switch is Up. */
bool
liveness_bfd_up(const struct liveness *lv)
{
    return bfdsess_is_up(lv->bfd);
}

/* Appends the hold state, the BFD session and the counters to 's'. */
void
liveness_format(const struct liveness *lv, long long int now, struct ds *s)
{
    agenthold_format(&lv->hold, now, s);
    ds_put_format(s, "link: carrier %s; BFD lost to stalls of the agent %"
                  PRIu64"\n", linkmon_carrier(lv->link) ? "yes" : "no",
                  lv->n_stalls);
    bfdsess_format(lv->bfd, now, s);
    if (s->length && s->string[s->length - 1] != '\n') {
        ds_put_char(s, '\n');
    }
    ds_put_format(s, "bfd frames: other IPv4 %"PRIu64, lv->n_other);
    for (int e = 1; e < BFDPKT_N_ERRORS; e++) {
        if (lv->n_bad[e]) {
            ds_put_format(s, ", %s %"PRIu64, bfdpkt_error_name(e),
                          lv->n_bad[e]);
        }
    }
    ds_put_char(s, '\n');
}
