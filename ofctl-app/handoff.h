/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef HANDOFF_H
#define HANDOFF_H 1

/* The handoff policy of one service: it moves the buckets of the service's
 * map towards their targets (svcmap_target(): rendezvous hashing over the
 * live instances that are not draining), one bucket at a time, by the
 * make-before-break handoff:
 *
 *   1. the new owner N becomes the bucket's next instance (unless it is
 *      already its secondary), so that the primary P sends it the
 *      bucket's streams in bulk and then every update, while the
 *      secondary S keeps its job and its place in the fast-failover group;
 *   2. N's agent reports the bucket warm at an epoch from which the bucket
 *      has had that assignment;
 *   3. one map change makes N the primary and P the secondary (one bundle
 *      rewrites the fast-failover group), so that P still holds the state
 *      if N fails right after; S leaves the bucket;
 *   4. if P should not stay secondary either (it is draining, or another
 *      instance ranks second), a later move gives the bucket its target
 *      secondary, the same way: the new secondary warms as the next
 *      instance, and replaces the old one once warm.
 *
 * So a move never leaves the bucket's secondary partly warm, and a
 * failure of the primary in the middle of a move finds a warm instance to
 * fail over to.  A secondary that is not live any more is replaced at
 * once (there is nothing to keep).  A move whose new owner does not
 * report warm within the timeout is abandoned with the primary and the
 * secondary kept, and the bucket is left alone for a while.  A move whose
 * bucket the map repair changed under it (a failure) ends there: the
 * repair's choice stands.  Moves start at a bounded rate and only so many
 * are in progress at once.
 *
 * Which moves are wanted is the policy's switch: with rebalance on, every
 * bucket goes to its target, so that after any sequence of failures,
 * recoveries and reloads the map converges to rendezvous hashing over the
 * live instances; with it off, only buckets held by draining instances (or
 * lacking a secondary) move.  HOF_IMMEDIATE moves a bucket to its target
 * at once, without waiting for the new owner to hold the state: the plain
 * reassignment that benchmarks compare the handoff with.
 *
 * A run with every bucket at its target and nothing in progress makes the
 * policy quiet: later runs do nothing until the map's epoch changes or
 * hof_wake() says that something else its decisions depend on changed.
 *
 * Pure: time is passed in, and whether an instance holds a bucket's state
 * is asked of the caller. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds;
struct svcmap;

enum hof_mode {
    HOF_MAKE_BEFORE_BREAK,      /* Warm the new owner, then swap. */
    HOF_IMMEDIATE               /* Move at once (no state handed over). */
};

struct hof_params {
    enum hof_mode mode;
    bool rebalance;             /* Move every bucket to its target. */
    unsigned int rate;          /* Moves started per second, at least 1. */
    unsigned int max_active;    /* Handoffs in progress at once, >= 1. */
    int timeout_ms;             /* Warming longer than this is abandoned. */
    int retry_ms;               /* An abandoned bucket waits this long. */
};

#define HOF_DEFAULT_RATE 200
#define HOF_DEFAULT_MAX_ACTIVE 32
#define HOF_DEFAULT_TIMEOUT_MS 5000
#define HOF_DEFAULT_RETRY_MS 10000
#define HOF_HISTORY 64          /* Finished moves remembered for display. */

void hof_params_init(struct hof_params *);

/* Returns true if instance 'instance' of 'map' holds the state of bucket
 * 'bucket' as the bucket's primary has it: its agent said so at an epoch
 * no older than the bucket's 'since' (a report about an earlier assignment
 * of the bucket does not count). */
typedef bool hof_warm_cb(const struct svcmap *, int instance,
                         uint32_t bucket, void *aux);

struct hof_counts {
    uint64_t n_done;            /* Handoffs that swapped. */
    uint64_t n_abandoned;       /* Handoffs given up. */
    uint64_t n_secondary;       /* Secondaries moved. */
    uint64_t n_immediate;       /* Primaries moved at once. */
    size_t n_active;            /* Handoffs in progress now. */
    size_t n_pending;           /* Buckets not at their target that the
                                 * policy wants to move. */
};

struct hof *hof_create(const struct hof_params *);
void hof_destroy(struct hof *);
void hof_set_params(struct hof *, const struct hof_params *);
const struct hof_params *hof_get_params(const struct hof *);

size_t hof_run(struct hof *, struct svcmap *, hof_warm_cb *, void *aux,
               long long int now);
void hof_forget(struct hof *);
void hof_wake(struct hof *);
bool hof_is_active(const struct hof *, uint32_t bucket);
size_t hof_n_active(const struct hof *);
void hof_get_counts(const struct hof *, const struct svcmap *,
                    struct hof_counts *);
void hof_format(const struct hof *, const struct svcmap *,
                long long int now, struct ds *);

#endif /* handoff.h */
