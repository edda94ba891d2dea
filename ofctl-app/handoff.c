/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "handoff.h"

#include <stdlib.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/vlog.h"
#include "svcmap.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(handoff);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(10, 50);

/* What a move changes. */
enum hof_kind {
    HOF_PRIMARY,                /* The primary, by handoff. */
    HOF_PRIMARY_NOW,            /* The primary, at once (HOF_IMMEDIATE). */
    HOF_SECONDARY               /* The secondary only. */
};

enum hof_phase {
    HOF_WARMING,                /* Waiting for the new owner to be warm. */
    HOF_DONE,                   /* Finished. */
    HOF_ABANDONED               /* Given up. */
};

/* One move of one bucket, in progress or finished. */
struct hof_move {
    struct ovs_list list_node;  /* In 'active' or 'history'. */
    uint32_t bucket;
    enum hof_kind kind;
    enum hof_phase phase;
    char *from;                 /* Old owner (primary or secondary), or
                                 * NULL for none. */
    char *to;                   /* New owner, or NULL for none. */
    char *primary;              /* The bucket's primary when it started. */
    long long int started;
    long long int ended;        /* Once finished. */
    char *why;                  /* Why it started, then how it ended. */
};

struct hof {
    struct hof_params p;
    struct ovs_list active;     /* HOF_WARMING moves. */
    size_t n_active;
    struct ovs_list history;    /* Finished moves, newest first. */
    size_t n_history;
    double tokens;              /* Moves that may start now. */
    long long int refilled;     /* When 'tokens' was last topped up. */
    long long int *retry_at;    /* Per bucket: no move before then. */
    size_t n_buckets;           /* Of 'retry_at'. */
    size_t cursor;              /* Where the next scan for moves starts. */
    bool busy;                  /* Moves were wanted at the last run. */
    bool quiet;                 /* Nothing wanted nor in progress at the
                                 * last run, with the map at epoch
                                 * 'quiet_epoch': until the map or the
                                 * policy changes, the scan is skipped. */
    uint64_t quiet_epoch;
    struct hof_counts counts;
};

void
hof_params_init(struct hof_params *p)
{
    p->mode = HOF_MAKE_BEFORE_BREAK;
    p->rebalance = true;
    p->rate = HOF_DEFAULT_RATE;
    p->max_active = HOF_DEFAULT_MAX_ACTIVE;
    p->timeout_ms = HOF_DEFAULT_TIMEOUT_MS;
    p->retry_ms = HOF_DEFAULT_RETRY_MS;
}

/* Returns "make-before-break" or "immediate". */
static const char *
hof_mode_name(enum hof_mode mode)
{
    return mode == HOF_IMMEDIATE ? "immediate" : "make-before-break";
}

static const char *
kind_name__(enum hof_kind kind)
{
    return (kind == HOF_PRIMARY ? "primary"
            : kind == HOF_PRIMARY_NOW ? "primary (immediate)"
            : "secondary");
}

static const char *
phase_name__(enum hof_phase phase)
{
    return (phase == HOF_WARMING ? "warming"
            : phase == HOF_DONE ? "done" : "abandoned");
}

static void
move_free__(struct hof_move *m)
{
    free(m->from);
    free(m->to);
    free(m->primary);
    free(m->why);
    free(m);
}

/* Creates the policy of one service with 'p'. */
struct hof *
hof_create(const struct hof_params *p)
{
    struct hof *hof = xzalloc(sizeof *hof);

    hof->p = *p;
    ovs_list_init(&hof->active);
    ovs_list_init(&hof->history);
    hof->refilled = LLONG_MIN;
    return hof;
}

/* Frees 'hof'.  Accepts NULL. */
void
hof_destroy(struct hof *hof)
{
    struct hof_move *m;

    if (!hof) {
        return;
    }
    LIST_FOR_EACH_POP (m, list_node, &hof->active) {
        move_free__(m);
    }
    LIST_FOR_EACH_POP (m, list_node, &hof->history) {
        move_free__(m);
    }
    free(hof->retry_at);
    free(hof);
}

/* Replaces the parameters of 'hof' (after a reload).  Moves in progress go
 * on. */
void
hof_set_params(struct hof *hof, const struct hof_params *p)
{
    hof->p = *p;
    hof->tokens = MIN(hof->tokens, p->max_active);
    hof->quiet = false;
}

/* Tells 'hof' that something its decisions depend on changed without a new
 * map epoch (an instance's draining mark), so that its next run looks at
 * every bucket again. */
void
hof_wake(struct hof *hof)
{
    hof->quiet = false;
}

const struct hof_params *
hof_get_params(const struct hof *hof)
{
    return &hof->p;
}

/* Drops the moves in progress (their bucket's assignment stays as it is)
 * and the waits after abandoned ones: for a map assigned afresh, of which
 * they no longer speak. */
void
hof_forget(struct hof *hof)
{
    struct hof_move *m;

    LIST_FOR_EACH_POP (m, list_node, &hof->active) {
        move_free__(m);
    }
    hof->n_active = 0;
    free(hof->retry_at);
    hof->retry_at = NULL;
    hof->n_buckets = 0;
    hof->quiet = false;
}

/* Returns the number of handoffs in progress. */
size_t
hof_n_active(const struct hof *hof)
{
    return hof->n_active;
}

/* Returns true if bucket 'bucket' has a handoff in progress. */
bool
hof_is_active(const struct hof *hof, uint32_t bucket)
{
    const struct hof_move *m;

    LIST_FOR_EACH (m, list_node, &hof->active) {
        if (m->bucket == bucket) {
            return true;
        }
    }
    return false;
}

static const char *
name__(const struct svcmap *map, int idx)
{
    return idx == SVCMAP_NONE ? NULL : map->instances[idx].name;
}

static int
find__(const struct svcmap *map, const char *name)
{
    int idx = name ? svcmap_find(map, name) : -1;

    return idx < 0 ? SVCMAP_NONE : idx;
}

static bool
live__(const struct svcmap *map, int idx)
{
    return idx != SVCMAP_NONE && svcmap_is_live(map->instances[idx].state);
}

static bool
draining__(const struct svcmap *map, int idx)
{
    return idx != SVCMAP_NONE && map->instances[idx].draining;
}

/* Decides whether bucket 'b' of 'map' should move now: returns true and
 * stores the move's kind and new owner in '*kind' and '*to' if so.  A
 * bucket without a live primary is the map repair's, not ours. */
static bool
wanted__(const struct hof *hof, const struct svcmap *map, uint32_t b,
         enum hof_kind *kind, int *to)
{
    const struct svcmap_bucket *cur = &map->buckets[b];
    int tp, ts, want;

    svcmap_target(map, b, &tp, &ts);
    if (tp == SVCMAP_NONE || !live__(map, cur->primary)) {
        return false;
    }
    if (cur->primary != tp
        && (hof->p.rebalance || draining__(map, cur->primary))) {
        *kind = (hof->p.mode == HOF_IMMEDIATE ? HOF_PRIMARY_NOW
                 : HOF_PRIMARY);
        *to = tp;
        return true;
    }

    /* The secondary the bucket should have beside the primary it keeps:
     * the best-ranked live instance that is not draining, other than the
     * primary.  A primary that is not the target (rebalance off) still
     * needs a draining secondary replaced. */
    want = cur->primary == tp ? ts : tp;
    if (cur->secondary != want
        && ((cur->primary == tp && hof->p.rebalance)
            || cur->secondary == SVCMAP_NONE
            || draining__(map, cur->secondary)
            || !live__(map, cur->secondary))) {
        *kind = HOF_SECONDARY;
        *to = want;
        return true;
    }
    return false;
}

/* Moves 'm' from the moves in progress to the history, as ended at 'now'
 * in 'phase', with 'why' (taken over) as how it ended. */
static void
finish__(struct hof *hof, struct hof_move *m, enum hof_phase phase,
         char *why, long long int now)
{
    if (m->phase == HOF_WARMING) {
        ovs_list_remove(&m->list_node);
        hof->n_active--;
    }
    m->phase = phase;
    m->ended = now;
    if (why) {
        free(m->why);
        m->why = why;
    }
    ovs_list_push_front(&hof->history, &m->list_node);
    if (++hof->n_history > HOF_HISTORY) {
        struct hof_move *old = CONTAINER_OF(ovs_list_pop_back(&hof->history),
                                            struct hof_move, list_node);
        move_free__(old);
        hof->n_history--;
    }
    if (phase == HOF_DONE && m->kind == HOF_PRIMARY) {
        hof->counts.n_done++;
    } else if (phase == HOF_ABANDONED) {
        hof->counts.n_abandoned++;
    }
}

static struct hof_move *
move_create__(const struct svcmap *map, uint32_t b, enum hof_kind kind,
              int from, int to, const char *why, long long int now)
{
    struct hof_move *m = xzalloc(sizeof *m);

    m->bucket = b;
    m->kind = kind;
    m->phase = HOF_WARMING;
    m->from = nullable_xstrdup(name__(map, from));
    m->to = nullable_xstrdup(name__(map, to));
    m->started = now;
    m->why = xstrdup(why);
    return m;
}

/* Returns why bucket 'b' moves from 'from' to 'to' in 'map'. */
static const char *
reason__(const struct svcmap *map, int from, int to)
{
    if (from == SVCMAP_NONE) {
        return "no secondary";
    } else if (draining__(map, from)) {
        return "drain";
    } else if (!live__(map, from)) {
        return "repair";
    } else if (to != SVCMAP_NONE && map->instances[to].state == SVCMAP_COLD) {
        return "rebalance to a new or recovered instance";
    }
    return "rebalance";
}

/* Returns true if the move of bucket 'b' of 'map' of 'kind' waits for its
 * new owner to be warm: a handoff of the primary, and the move of a live
 * secondary (which keeps its job until its successor holds the state). */
static bool
warms__(const struct hof *hof, const struct svcmap *map, uint32_t b,
        enum hof_kind kind)
{
    return (kind == HOF_PRIMARY
            || (kind == HOF_SECONDARY && hof->p.mode != HOF_IMMEDIATE
                && live__(map, map->buckets[b].secondary)));
}

/* Starts the move of bucket 'b' of 'map' of 'kind' to 'to'.  Returns true
 * if the map changed. */
static bool
start__(struct hof *hof, struct svcmap *map, uint32_t b, enum hof_kind kind,
        int to, long long int now)
{
    const struct svcmap_bucket cur = map->buckets[b];
    int from = kind == HOF_SECONDARY ? cur.secondary : cur.primary;
    struct hof_move *m;

    m = move_create__(map, b, kind, from, to, reason__(map, from, to), now);
    m->primary = nullable_xstrdup(name__(map, cur.primary));
    if (kind == HOF_PRIMARY_NOW) {
        int tp, ts;

        svcmap_target(map, b, &tp, &ts);
        svcmap_set_bucket(map, b, to, ts == to ? cur.primary : ts);
        hof->counts.n_immediate++;
        m->phase = HOF_DONE;    /* Never in progress. */
        finish__(hof, m, HOF_DONE, NULL, now);
        return true;
    } else if (!warms__(hof, map, b, kind)) {
        /* No live secondary to keep in the meantime: at once. */
        svcmap_set_bucket(map, b, cur.primary, to);
        hof->counts.n_secondary++;
        m->phase = HOF_DONE;    /* Never in progress. */
        VLOG_DBG("service %s: bucket %"PRIu32": secondary %s -> %s (%s)",
                 map->service, b, m->from ? m->from : "-",
                 m->to ? m->to : "-", m->why);
        finish__(hof, m, HOF_DONE, NULL, now);
        return true;
    }

    /* Make before break: the new owner becomes the bucket's next instance
     * (unless it is already its secondary), and the primary sends it the
     * bucket's streams while the secondary keeps its job. */
    ovs_list_push_back(&hof->active, &m->list_node);
    hof->n_active++;
    VLOG_DBG("service %s: bucket %"PRIu32": %s handoff %s -> %s started "
             "(%s)", map->service, b, kind_name__(kind),
             m->from ? m->from : "-", m->to, m->why);
    if (cur.secondary != to && cur.next != to) {
        svcmap_set_next(map, b, to);
        return true;
    }
    return false;
}

/* Ends the handoff 'm' in 'map' as abandoned because of 'why', taking its
 * new owner out of the bucket's next place if it is there.  Returns true
 * if the map changed. */
static bool
abandon__(struct hof *hof, struct svcmap *map, struct hof_move *m, int n,
          char *why, long long int now)
{
    bool changed = false;

    VLOG_INFO_RL(&rl, "service %s: bucket %"PRIu32": %s handoff %s -> %s "
                 "ended: %s", map->service, m->bucket, kind_name__(m->kind),
                 m->from ? m->from : "-", m->to ? m->to : "-", why);

    if (n != SVCMAP_NONE && map->buckets[m->bucket].next == n) {
        svcmap_set_next(map, m->bucket, SVCMAP_NONE);
        changed = true;
    }
    finish__(hof, m, HOF_ABANDONED, why, now);
    return changed;
}

/* Advances the handoff 'm' in 'map'.  Returns true if the map changed. */
static bool
progress__(struct hof *hof, struct svcmap *map, struct hof_move *m,
           hof_warm_cb *warm, void *aux, long long int now)
{
    const struct svcmap_bucket *cur = &map->buckets[m->bucket];
    bool primary = m->kind == HOF_PRIMARY;
    int p = find__(map, m->primary), n = find__(map, m->to);
    uint32_t b = m->bucket;
    int tp, ts, want;

    svcmap_target(map, b, &tp, &ts);
    want = primary ? tp : (cur->primary == tp ? ts : tp);
    if (n != SVCMAP_NONE && primary && cur->primary == n) {
        finish__(hof, m, HOF_DONE,
                 xasprintf("%s took over when %s failed", m->to, m->from),
                 now);
        return false;
    } else if (n != SVCMAP_NONE && !primary && cur->secondary == n) {
        finish__(hof, m, HOF_DONE,
                 xasprintf("%s took the place of %s when it failed", m->to,
                           m->from ? m->from : "none"), now);
        hof->counts.n_secondary++;
        return false;
    } else if (!live__(map, n)) {
        return abandon__(hof, map, m, n,
                         xasprintf("new owner %s failed or left", m->to),
                         now);
    } else if (p == SVCMAP_NONE || cur->primary != p) {
        return abandon__(hof, map, m, n,
                         xasprintf("the primary changed to %s",
                                   cur->primary == SVCMAP_NONE ? "none"
                                   : map->instances[cur->primary].name),
                         now);
    } else if (cur->next != n && cur->secondary != n) {
        return abandon__(hof, map, m, n,
                         xasprintf("%s no longer receives the bucket",
                                   m->to), now);
    } else if (want != n) {
        return abandon__(hof, map, m, n,
                         xasprintf("no longer wanted: the target is now %s",
                                   want == SVCMAP_NONE ? "none"
                                   : map->instances[want].name), now);
    } else if (cur->since <= map->epoch && warm(map, n, b, aux)) {
        /* (A bucket whose new owner is not yet out at any epoch, one set
         * in this very run, cannot have been reported warm.) */
        if (primary) {
            /* The swap: the new owner has the state, the old keeps it. */
            svcmap_set_bucket(map, b, n, p);
        } else {
            /* The successor has the state: the secondary leaves. */
            svcmap_set_bucket(map, b, p, n);
            hof->counts.n_secondary++;
        }
        VLOG_DBG("service %s: bucket %"PRIu32": %s handoff %s -> %s done "
                 "in %lld ms", map->service, b, kind_name__(m->kind),
                 m->from ? m->from : "-", m->to, now - m->started);
        finish__(hof, m, HOF_DONE, NULL, now);
        return true;
    } else if (now - m->started >= hof->p.timeout_ms) {
        hof->retry_at[b] = now + hof->p.retry_ms;
        return abandon__(hof, map, m, n,
                         xasprintf("%s not warm within %d ms; trying again "
                                   "in %d ms", m->to, hof->p.timeout_ms,
                                   hof->p.retry_ms), now);
    }
    return false;
}

/* Counts the buckets of 'map' that 'hof' wants to move and that have no
 * handoff in progress. */
static size_t
count_pending__(const struct hof *hof, const struct svcmap *map)
{
    size_t n = 0;

    for (size_t b = 0; b < map->n_buckets; b++) {
        enum hof_kind kind;
        int to;

        n += wanted__(hof, map, b, &kind, &to) && !hof_is_active(hof, b);
    }
    return n;
}

/* Runs the policy on 'map' at 'now': advances the handoffs in progress,
 * with 'warm' and 'aux' saying which instances hold which buckets' state,
 * and starts new moves as the rate allows.  Bumps the map's epoch once if
 * it changed anything, and returns the number of buckets changed. */
size_t
hof_run(struct hof *hof, struct svcmap *map, hof_warm_cb *warm, void *aux,
        long long int now)
{
    struct hof_move *m;
    size_t n_changed = 0;
    bool wanted = false;

    if (hof->n_buckets != map->n_buckets) {
        hof_forget(hof);
        hof->n_buckets = map->n_buckets;
        hof->retry_at = xcalloc(MAX(map->n_buckets, 1),
                                sizeof *hof->retry_at);
        hof->cursor = 0;
    }

    /* Top up the moves that may start, at 'rate' per second, up to
     * 'max_active' at once. */
    if (hof->refilled == LLONG_MIN || now < hof->refilled) {
        hof->tokens = hof->p.max_active;
    } else {
        hof->tokens += (double) (now - hof->refilled) * hof->p.rate / 1000.0;
    }
    hof->tokens = MIN(hof->tokens, MAX(hof->p.max_active, 1));
    hof->refilled = now;
    if (hof->quiet && map->epoch == hof->quiet_epoch) {
        /* Every bucket at its target, and nothing changed since. */
        return 0;
    }

    /* Start moves, from where the last scan stopped, so that every bucket
     * gets its turn. */
    for (size_t i = 0; i < map->n_buckets; i++) {
        uint32_t b = (hof->cursor + i) % map->n_buckets;
        enum hof_kind kind;
        int to;

        if (hof_is_active(hof, b) || !wanted__(hof, map, b, &kind, &to)) {
            continue;
        }
        wanted = true;
        if (hof->retry_at[b] > now) {
            continue;
        }
        if (hof->tokens < 1.0
            || (warms__(hof, map, b, kind)
                && hof->n_active >= hof->p.max_active)) {
            hof->cursor = b;
            break;
        }
        hof->tokens -= 1.0;
        n_changed += start__(hof, map, b, kind, to, now);
    }

    /* Advance the handoffs in progress. */
    LIST_FOR_EACH_SAFE (m, list_node, &hof->active) {
        wanted = true;
        n_changed += progress__(hof, map, m, warm, aux, now);
    }

    if (n_changed) {
        map->epoch++;
    }
    hof->quiet = !wanted && !hof->n_active;
    hof->quiet_epoch = map->epoch;
    if (wanted) {
        hof->busy = true;
    } else if (hof->busy && !hof->n_active) {
        hof->busy = false;
        VLOG_INFO("service %s: every bucket at its target (epoch %"PRIu64
                  "): %"PRIu64" handoffs done, %"PRIu64" abandoned, %"PRIu64
                  " secondaries moved so far", map->service, map->epoch,
                  hof->counts.n_done, hof->counts.n_abandoned,
                  hof->counts.n_secondary);
    }
    return n_changed;
}

/* Stores the counters of 'hof', whose map is 'map', in '*c'. */
void
hof_get_counts(const struct hof *hof, const struct svcmap *map,
               struct hof_counts *c)
{
    *c = hof->counts;
    c->n_active = hof->n_active;
    c->n_pending = count_pending__(hof, map);
}

static void
format_move__(const struct hof_move *m, long long int now, struct ds *s)
{
    ds_put_format(s, "  %-6"PRIu32" %s -> %s %-9s ", m->bucket,
                  m->from ? m->from : "-", m->to ? m->to : "-",
                  phase_name__(m->phase));
    if (m->phase == HOF_WARMING) {
        ds_put_format(s, "- %lldms", now - m->started);
    } else {
        ds_put_format(s, "%lld", m->ended - m->started);
    }
    ds_put_format(s, " %s: %s\n", kind_name__(m->kind), m->why);
}

/* Appends to 's' the state of 'hof', whose map is 'map': a summary line,
 * the handoffs in progress, then the latest finished moves. */
void
hof_format(const struct hof *hof, const struct svcmap *map,
           long long int now, struct ds *s)
{
    const struct hof_move *m;
    struct hof_counts c;

    hof_get_counts(hof, map, &c);
    ds_put_format(s, "service %s: epoch %"PRIu64", in progress %"PRIuSIZE
                  ", done %"PRIu64", abandoned %"PRIu64", pending %"PRIuSIZE
                  ", secondaries moved %"PRIu64", immediate %"PRIu64
                  " (%s, rebalance %s, %u buckets/s, at most %u at once, "
                  "timeout %d ms)\n", map->service, map->epoch, c.n_active,
                  c.n_done, c.n_abandoned, c.n_pending, c.n_secondary,
                  c.n_immediate, hof_mode_name(hof->p.mode),
                  hof->p.rebalance ? "on" : "off", hof->p.rate,
                  hof->p.max_active, hof->p.timeout_ms);
    LIST_FOR_EACH (m, list_node, &hof->active) {
        format_move__(m, now, s);
    }
    LIST_FOR_EACH (m, list_node, &hof->history) {
        format_move__(m, now, s);
    }
}
