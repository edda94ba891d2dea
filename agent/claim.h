/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef CLAIM_H
#define CLAIM_H 1

/* Which of a bucket's two instances processes its frames: one writer per
 * bucket, whichever instance the switch sends the frames to.
 *
 * The switch decides where a bucket's frames go, and it changes its mind
 * without asking: a fast-failover group moves them to the secondary when
 * the primary's port stops being live, and back when it is live again; a
 * handoff's bundle swaps them at an instant that the agents' maps do not
 * share.  Each time, the instance that served the bucket until then may
 * hold changes that have not reached the other yet: frames it received
 * just before the move (an asynchronous replication flush is up to 10 ms
 * away).  Were the other instance to process the bucket's next frames at
 * once, from the state it has, the two would make two histories of the
 * same streams, and versions would keep only one of them: updates of
 * frames already delivered would be lost.
 *
 * So each agent keeps, per bucket of its pair (it is the bucket's primary
 * or secondary, and its "partner" is the other one), whether it "owns" the
 * bucket: whether it may process its frames now.
 *
 *   - A frame of a bucket it owns is processed.
 *
 *   - A frame of a bucket it does not own is queued, and the agent sends
 *     the partner a CLAIM (claim_frame() says CLAIM_ASK).  The partner
 *     gives the bucket up: it replicates every change it has not sent yet,
 *     stops processing the bucket, and answers RELEASE on the same
 *     connection, after those changes (claim_requested()).  The claimer
 *     then owns the bucket (claim_released()), and processes what it
 *     queued.
 *
 *   - A partner that cannot be asked (no replication connection from it:
 *     it is dead, or not started) has nothing in flight: the bucket is
 *     taken at once.  One that does not answer within the wait (it is
 *     hung) loses the bucket when the wait ends (claim_expire()); its
 *     changes that were not flushed are then lost, as the asynchronous
 *     mode allows.  One whose connection closes while asked loses it at
 *     once (claim_partner_gone()).
 *
 *   - Ownership is a token: only the owner gives it (RELEASE), and the
 *     partner owns only on receiving it, so at no moment do both own.  A
 *     CLAIM that reaches an agent waiting for its own (the two asked at
 *     once: frames in flight to both at a move) is deferred until the
 *     token has arrived and the queue is processed
 *     (claim_take_deferred()).  A CLAIM that reaches an agent that neither
 *     owns nor waits is ignored: it gave the token away, to the claimer,
 *     whose CLAIM crossed the RELEASE.
 *
 * Ownership survives a new map as long as the bucket's pair stays the same
 * two instances (a handoff's swap changes only their roles: the new
 * primary claims the bucket from the old one on its first frame).  When
 * the pair changes, ownership still moves only by CLAIM and RELEASE where
 * it can: a primary that did not own the bucket claims it from the
 * instance that left the pair, which keeps what it owned until then
 * (claim_set_bucket() has the rules).  The bucket's next instance (the one
 * warming to replace the secondary) is in the pair too, with the primary
 * as its partner.  A bucket the agent is in no role of is not governed
 * (claim_governs()): the agent drops its frames (the switch is behind the
 * maps) and counts them.
 *
 * Pure: no I/O, time passed in (ms).  The caller sends the messages,
 * replicates before RELEASE, and keeps the queued frames. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds;

/* What to do with a frame of a bucket: see claim_frame(). */
enum claim_verdict {
    CLAIM_PROCESS,              /* Process it now. */
    CLAIM_QUEUE,                /* Queue it: a CLAIM is outstanding. */
    CLAIM_ASK                   /* Queue it and send the partner a CLAIM. */
};

/* The answer to a partner's CLAIM: see claim_requested(). */
enum claim_answer {
    CLAIM_GIVE,                 /* Replicate what is pending, then send
                                 * RELEASE. */
    CLAIM_DEFER,                /* Answer later (claim_take_deferred()). */
    CLAIM_IGNORE                /* Nothing to give: it is on its way. */
};

struct claim_stats {
    uint64_t n_asked;           /* CLAIMs sent. */
    uint64_t n_released;        /* Buckets taken on the partner's RELEASE. */
    uint64_t n_unasked;         /* Buckets taken with nobody to ask. */
    uint64_t n_expired;         /* Buckets taken when the wait ended. */
    uint64_t n_gone;            /* Buckets taken when the partner's
                                 * connection closed. */
    uint64_t n_given;           /* Buckets given up to a partner. */
    uint64_t n_deferred;        /* Partner CLAIMs deferred (both asked). */
    uint64_t n_ignored;         /* CLAIMs that crossed our RELEASE. */
    uint64_t n_foreign;         /* CLAIMs from an instance that is not the
                                 * bucket's partner in our map. */
    uint64_t n_stray;           /* RELEASEs for no CLAIM outstanding. */
};

struct claim *claim_create(void);
void claim_destroy(struct claim *);

void claim_set_n_buckets(struct claim *, size_t n_buckets);
void claim_set_bucket(struct claim *, uint32_t bucket, const char *partner,
                      bool in_pair, bool primary, const char *next);

enum claim_verdict claim_frame(struct claim *, uint32_t bucket,
                               bool reachable, long long int now);
const char *claim_partner(const struct claim *, uint32_t bucket);
bool claim_owns(const struct claim *, uint32_t bucket);
bool claim_governs(const struct claim *, uint32_t bucket);
bool claim_is_waiting(const struct claim *, uint32_t bucket);

enum claim_answer claim_requested(struct claim *, uint32_t bucket,
                                  const char *from);
bool claim_released(struct claim *, uint32_t bucket, const char *from);
const char *claim_take_deferred(struct claim *, uint32_t bucket);
size_t claim_expire(struct claim *, long long int now, long long int wait,
                    uint32_t *buckets, size_t max);
size_t claim_partner_gone(struct claim *, const char *partner,
                          uint32_t *buckets, size_t max);
long long int claim_next_expiry(const struct claim *, long long int wait);
size_t claim_n_waiting(const struct claim *);

const struct claim_stats *claim_get_stats(const struct claim *);
void claim_format(const struct claim *, struct ds *);

#endif /* claim.h */
