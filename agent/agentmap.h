/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef AGENTMAP_H
#define AGENTMAP_H 1

/* An agent's view of its service's map: for each bucket its primary and
 * secondary, the agent's own role, which of its buckets it holds warm,
 * and what a new map from the controller asks of it.
 *
 * The controller sends a MAP at every new epoch, and the same epoch again
 * when a peer's replication address becomes known; an older epoch is
 * ignored.  Applying a map says, for each instance of the new map, whether
 * the agent's replication connection to it (same name, same address) goes
 * on, and which buckets it must now send that instance in bulk: those the
 * agent is primary of and whose secondary or next instance is new to the
 * job, and every
 * bucket of an instance it has no connection to yet (a new connection
 * starts with a bulk of everything).  A map that gives an instance no
 * replication address (the controller has not heard from it: it took
 * over from another controller, or restarted) leaves it the address the
 * agent knew; so a map of the same epoch from another controller changes
 * nothing.
 *
 * A bucket is warm when its current primary completed a bulk transfer of
 * it to this agent (and goes on sending its updates): the receiving side
 * reports completed transfers with agentmap_set_bulk_from().  A transfer
 * may complete before the agent's first map (the primary had the map that
 * names this agent secondary first): it is kept, and counts once the map
 * arrives if its sender is then the bucket's primary.
 *
 * What the agent may send for a bucket follows from its role in the
 * bucket at the epoch of its newest map (agentmap_send_rule()), applied
 * when a batch is built, whatever the map was when the streams changed:
 *
 *   - the primary sends its changes to the secondary, a bulk transfer of
 *     the bucket to a new secondary, and may hold frames (sync mode) until
 *     the secondary acknowledges them; its changes carry the map's epoch;
 *     the bucket's next instance, if it has one (the instance that is to
 *     replace the secondary once warm), gets the same changes and bulk
 *     transfers as the secondary, but no frame waits for it;
 *
 *   - the secondary sends only its own changes (frames reach it while the
 *     switch and the maps disagree), to the primary: never a bulk, never a
 *     held frame; its changes carry the map's epoch only if it is warm
 *     (it holds the primary's state of the bucket), since a cold secondary
 *     (a restarted agent, say) changes states it made from nothing or
 *     from part of a bulk, which must not outrank the primary's;
 *
 *   - an instance that is neither, that is not in the map, or that has no
 *     map yet, sends nothing for the bucket, and its changes carry no
 *     epoch;
 *
 *   - without replication, nothing is sent at all.
 *
 * Pure: no sockets, no clock.  The agent carries out the changes. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "agentproto.h"

/* An instance of the map. */
struct agentmap_instance {
    char *name;                 /* Its name. */
    uint32_t repl_addr;         /* Its replication address, or 0. */
    uint16_t repl_port;         /* Its replication port, or 0. */
};

struct agentmap {
    uint64_t epoch;             /* 0 before the first map. */
    size_t n_buckets;           /* Buckets of the service. */
    struct agp_bucket *buckets; /* Per bucket primary and secondary. */
    size_t n_instances;         /* Instances in the map. */
    struct agentmap_instance *instances; /* Indexed by 'buckets'. */
    int self;                   /* Our index, or -1. */
    char **bulk_from;           /* Per bucket: the instance whose bulk
                                 * transfer of it completed last, or NULL. */
    size_t n_bulk_from;         /* Entries of 'bulk_from': 'n_buckets',
                                 * or before the first map as many as the
                                 * bulks that arrived need. */
    bool replicate;             /* Replication on, as the last map was
                                 * applied. */
};

/* What an agent may send for one bucket: see agentmap_send_rule(). */
struct agentmap_send {
    int to;                     /* The instance its changes of the bucket's
                                 * streams go to, or -1: nobody. */
    int next;                   /* As the primary: the bucket's next
                                 * instance, which gets the same changes and
                                 * bulk transfers as 'to', or -1. */
    bool as_primary;            /* It is the primary: 'to' is the secondary,
                                 * which gets bulk transfers of the bucket
                                 * and may be waited for (sync mode).
                                 * Otherwise only its own changes go. */
    uint64_t epoch;             /* The epoch its changes may carry in their
                                 * versions, 0 for none. */
};

/* What applying a map asks of the agent. */
struct agentmap_change {
    size_t n_instances;         /* Instances of the new map. */
    int *kept;                  /* Per instance: the index in the old map
                                 * whose replication connection goes on,
                                 * or -1. */
    unsigned long **bulk;       /* Per instance: the buckets to send it in
                                 * bulk, a bitmap of 'n_buckets'. */
};

void agentmap_init(struct agentmap *);
void agentmap_destroy(struct agentmap *);
bool agentmap_apply(struct agentmap *, const struct agp_map *,
                    const char *self, bool replicate,
                    const bool *connected, struct agentmap_change *);
void agentmap_change_destroy(struct agentmap_change *);

bool agentmap_is_primary(const struct agentmap *, uint32_t bucket);
int agentmap_secondary_of(const struct agentmap *, uint32_t bucket);
int agentmap_next_of(const struct agentmap *, uint32_t bucket);
bool agentmap_sends_to(const struct agentmap *, uint32_t bucket, int peer);
bool agentmap_bulks_to(const struct agentmap *, uint32_t bucket, int peer);
bool agentmap_is_secondary(const struct agentmap *, uint32_t bucket);
int agentmap_replica_of(const struct agentmap *, uint32_t bucket);
void agentmap_send_rule(const struct agentmap *, uint32_t bucket,
                        struct agentmap_send *);
uint64_t agentmap_change_epoch(const struct agentmap *, uint32_t bucket);
bool agentmap_is_warm(const struct agentmap *, uint32_t bucket);
void agentmap_forget_warm(struct agentmap *);
size_t agentmap_n_primary(const struct agentmap *);
size_t agentmap_n_roles(const struct agentmap *);
void agentmap_set_bulk_from(struct agentmap *, uint32_t bucket,
                            const char *sender);
const char *agentmap_name(const struct agentmap *, int idx);

#endif /* agentmap.h */
