/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef SFMESH_SVCMAP_H
#define SFMESH_SVCMAP_H 1

/* The service map of one service.
 *
 * A service has 2^k buckets; a stream's bucket is its affinity code (NSH C1)
 * masked to k bits.  For each bucket the map names a primary and a secondary
 * instance, chosen by weighted rendezvous (highest random weight) hashing
 * over the live instances, so that:
 *
 *   - the same configuration gives the same map on every machine;
 *   - removing an instance moves only the buckets it held;
 *   - a bucket whose primary fails gets its old secondary as primary, never
 *     a stranger while the secondary lives;
 *   - with one live instance a bucket has no secondary; with none, none;
 *
 *   - given failure domains (the instances' hosts, svcmap_set_domain()),
 *     a bucket's secondary is in another domain than its primary wherever
 *     an instance there can take the job (anti-affinity), so that a whole
 *     host's loss leaves each of its buckets a secondary elsewhere;
 *     svcmap_count_same_domain() counts the buckets where it could not be
 *     met.
 *
 * The map is state, not a pure function of the live set: an instance that
 * comes back after a failure is COLD and is made a primary only where it
 * holds the bucket's state, a primary is never moved away from a live
 * instance by a repair, and a live secondary stays.  What rendezvous
 * hashing would give each bucket over the live instances that are not
 * draining is its target (svcmap_target()); the handoff policy
 * (ofctl-app/handoff.h) moves buckets towards their targets, one bucket at
 * a time, with svcmap_set_bucket() and svcmap_set_next() (a bucket's
 * "next" instance receives the bucket's state from the primary beside the
 * secondary, so that the secondary keeps its job until its successor is
 * warm).  Every change bumps the epoch, and
 * each bucket remembers the epoch from which its assignment holds, so that
 * an agent's report at that epoch or later speaks of the assignment the
 * bucket has now.
 *
 * Pure: no I/O, no clock. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The state of an instance, as far as the map is concerned. */
enum svcmap_state {
    SVCMAP_UP,                  /* Live; may be primary. */
    SVCMAP_COLD,                /* Live, but secondary only. */
    SVCMAP_DOWN,                /* Failed: in no bucket. */
    SVCMAP_DISABLED             /* Taken out by the operator. */
};

#define SVCMAP_NONE (-1)        /* No instance. */
#define SVCMAP_MAX_EPOCH (UINT64_C(1) << 62) /* Epochs seen elsewhere above
                                              * this are not believed. */

struct svcmap_bucket {
    int primary;                /* Instance index, or SVCMAP_NONE. */
    int secondary;              /* Instance index, or SVCMAP_NONE. */
    int next;                   /* The instance the primary is warming to
                                 * take the secondary's place, or
                                 * SVCMAP_NONE (see svcmap_set_next()). */
    uint64_t since;             /* The first epoch with this primary,
                                 * secondary and next. */
};

struct svcmap_instance {
    char *name;                 /* Unique within the service. */
    uint32_t weight;            /* Relative share of buckets, >= 1. */
    enum svcmap_state state;    /* Current state. */
    bool draining;              /* Being emptied: in no bucket's target. */
    int domain;                 /* Failure domain (its host), or -1. */
};

struct svcmap {
    char *service;              /* Service name, part of the hash. */
    size_t n_buckets;           /* A power of 2. */
    struct svcmap_instance *instances; /* In the order added. */
    size_t n_instances;
    struct svcmap_bucket *buckets; /* 'n_buckets' of them. */
    uint64_t epoch;             /* Bumped on every change. */
};

struct svcmap *svcmap_create(const char *service, size_t n_buckets);
void svcmap_destroy(struct svcmap *);
struct svcmap *svcmap_clone(const struct svcmap *);

int svcmap_add_instance(struct svcmap *, const char *name, uint32_t weight);
int svcmap_find(const struct svcmap *, const char *name);

void svcmap_assign(struct svcmap *);
bool svcmap_continue(struct svcmap *, const struct svcmap *old);
bool svcmap_remove_instance(struct svcmap *, int instance);
bool svcmap_raise_epoch(struct svcmap *, uint64_t seen);

/* A map as another controller saved it (see ctlstate.h): these set what
 * they are given exactly, with no repair and no epoch bump, so that a
 * standby controller holds the map the active one made. */
void svcmap_restore_state(struct svcmap *, int instance, enum svcmap_state);
void svcmap_restore_bucket(struct svcmap *, uint32_t bucket, int primary,
                           int secondary, int next, uint64_t since);
void svcmap_restore_epoch(struct svcmap *, uint64_t epoch);
size_t svcmap_set_state(struct svcmap *, int instance, enum svcmap_state);

void svcmap_target(const struct svcmap *, uint32_t bucket, int *primary,
                   int *secondary);
void svcmap_set_bucket(struct svcmap *, uint32_t bucket, int primary,
                       int secondary);
void svcmap_set_next(struct svcmap *, uint32_t bucket, int next);
size_t svcmap_count_target(const struct svcmap *, int instance);
void svcmap_set_domain(struct svcmap *, int instance, int domain);
size_t svcmap_count_same_domain(const struct svcmap *);
bool svcmap_holds_any(const struct svcmap *, int instance);

size_t svcmap_count_primary(const struct svcmap *, int instance);
size_t svcmap_count_secondary(const struct svcmap *, int instance);
bool svcmap_is_live(enum svcmap_state);
const char *svcmap_state_name(enum svcmap_state);

double svcmap_score(const char *service, uint32_t bucket, const char *instance,
                  uint32_t weight);

#endif /* svcmap.h */
