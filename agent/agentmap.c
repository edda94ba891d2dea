/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "agentmap.h"

#include <stdlib.h>
#include <string.h>
#include "bitmap.h"
#include "util.h"

/* Initializes 'map' as no map at all (epoch 0). */
void
agentmap_init(struct agentmap *map)
{
    memset(map, 0, sizeof *map);
    map->self = -1;
}

static void
free_instances__(struct agentmap_instance *instances, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(instances[i].name);
    }
    free(instances);
}

static void
free_bulk_from__(char **bulk_from, size_t n)
{
    for (size_t b = 0; bulk_from && b < n; b++) {
        free(bulk_from[b]);
    }
    free(bulk_from);
}

/* Frees what 'map' holds. */
void
agentmap_destroy(struct agentmap *map)
{
    free_instances__(map->instances, map->n_instances);
    free_bulk_from__(map->bulk_from, map->n_bulk_from);
    free(map->buckets);
    agentmap_init(map);
}

/* Returns the name of instance 'idx' of 'map', or NULL for AGP_NONE or an
 * index out of range. */
const char *
agentmap_name(const struct agentmap *map, int idx)
{
    return idx >= 0 && idx < map->n_instances ? map->instances[idx].name
                                              : NULL;
}

/* Returns true if we are the primary of 'bucket'. */
bool
agentmap_is_primary(const struct agentmap *map, uint32_t bucket)
{
    return (map->epoch && map->self >= 0 && bucket < map->n_buckets
            && map->buckets[bucket].primary == map->self);
}

/* Returns the secondary of 'bucket' if we are its primary and replicate,
 * else -1: the instance that gets our bulk transfers of it. */
int
agentmap_secondary_of(const struct agentmap *map, uint32_t bucket)
{
    struct agentmap_send send;

    agentmap_send_rule(map, bucket, &send);
    return send.as_primary ? send.to : -1;
}

/* Returns the next instance of 'bucket' if we are its primary and
 * replicate, else -1: an instance that gets our bulk transfers and changes
 * of the bucket beside its secondary. */
int
agentmap_next_of(const struct agentmap *map, uint32_t bucket)
{
    struct agentmap_send send;

    agentmap_send_rule(map, bucket, &send);
    return send.next;
}

/* Returns true if 'send' sends to instance 'peer', and if 'as_primary',
 * only as the bucket's primary. */
static bool
send_reaches__(const struct agentmap_send *send, int peer, bool as_primary)
{
    return (peer >= 0 && (send->as_primary || !as_primary)
            && (send->to == peer || send->next == peer));
}

/* Returns true if our changes to the streams of 'bucket' go to instance
 * 'peer' (as the bucket's secondary, primary or next instance). */
bool
agentmap_sends_to(const struct agentmap *map, uint32_t bucket, int peer)
{
    struct agentmap_send send;

    agentmap_send_rule(map, bucket, &send);
    return send_reaches__(&send, peer, false);
}

/* Returns true if we send instance 'peer' bulk transfers of 'bucket': we
 * are its primary, and 'peer' its secondary or its next instance. */
bool
agentmap_bulks_to(const struct agentmap *map, uint32_t bucket, int peer)
{
    struct agentmap_send send;

    agentmap_send_rule(map, bucket, &send);
    return send_reaches__(&send, peer, true);
}

/* Returns the instance to which our changes to the streams of 'bucket'
 * are replicated, or -1: see agentmap_send_rule().  As the primary, the
 * bucket's next instance gets them too (agentmap_next_of()). */
int
agentmap_replica_of(const struct agentmap *map, uint32_t bucket)
{
    struct agentmap_send send;

    agentmap_send_rule(map, bucket, &send);
    return send.to;
}

/* Stores in '*send' what we may send for 'bucket' by 'map' (see
 * agentmap.h):
 *
 *   - as its primary: our changes and bulk transfers go to its secondary
 *     (none if it has none) and to its next instance (none if it has
 *     none), and our changes carry the map's epoch;
 *
 *   - as its secondary: our own changes go to its primary (frames reach a
 *     secondary when the switch has already moved the bucket to it, or not
 *     yet away from it, while its map says otherwise: what it changes then
 *     must reach the instance that has, or is about to have, the bucket);
 *     they carry the map's epoch if we are warm for the bucket;
 *
 *   - otherwise nothing, and no epoch.
 *
 * Without replication, nothing goes anywhere, whatever the role. */
void
agentmap_send_rule(const struct agentmap *map, uint32_t bucket,
                   struct agentmap_send *send)
{
    memset(send, 0, sizeof *send);
    send->to = send->next = -1;
    if (agentmap_is_primary(map, bucket)) {
        uint16_t secondary = map->buckets[bucket].secondary;
        uint16_t next = map->buckets[bucket].next;

        send->as_primary = true;
        send->to = secondary != AGP_NONE ? secondary : -1;
        send->next = next != AGP_NONE ? next : -1;
        send->epoch = map->epoch;
    } else if (agentmap_is_secondary(map, bucket)) {
        send->to = map->buckets[bucket].primary;
        send->epoch = agentmap_is_warm(map, bucket) ? map->epoch : 0;
    }
    if (!map->replicate) {
        send->to = send->next = -1;
    }
}

/* Returns the epoch that a change we make to a stream of 'bucket' carries
 * in its version (streamtab_note_change()): our map's if we are the
 * bucket's primary or its warm secondary, else 0. */
uint64_t
agentmap_change_epoch(const struct agentmap *map, uint32_t bucket)
{
    struct agentmap_send send;

    agentmap_send_rule(map, bucket, &send);
    return send.epoch;
}

/* Returns true if we are the secondary of 'bucket'. */
bool
agentmap_is_secondary(const struct agentmap *map, uint32_t bucket)
{
    return (map->epoch && map->self >= 0 && bucket < map->n_buckets
            && map->buckets[bucket].secondary == map->self);
}

/* Returns true if we hold the state of 'bucket' as its primary has it: its
 * current primary completed a bulk transfer of it to us. */
bool
agentmap_is_warm(const struct agentmap *map, uint32_t bucket)
{
    const char *primary;

    if (!map->epoch || bucket >= map->n_buckets || !map->bulk_from[bucket]) {
        return false;
    }
    primary = agentmap_name(map, map->buckets[bucket].primary);
    return primary && !strcmp(map->bulk_from[bucket], primary);
}

/* Forgets every completed bulk transfer: after a disruption the agent may
 * have missed updates of any bucket, so it holds none warm until new bulk
 * transfers complete. */
void
agentmap_forget_warm(struct agentmap *map)
{
    for (size_t b = 0; b < map->n_bulk_from; b++) {
        free(map->bulk_from[b]);
        map->bulk_from[b] = NULL;
    }
}

/* Returns the number of buckets we are the primary of. */
size_t
agentmap_n_primary(const struct agentmap *map)
{
    size_t n = 0;

    for (size_t b = 0; map->self >= 0 && b < map->n_buckets; b++) {
        n += map->buckets[b].primary == map->self;
    }
    return n;
}

/* Returns the number of buckets we are the primary or the secondary of. */
size_t
agentmap_n_roles(const struct agentmap *map)
{
    size_t n = 0;

    for (size_t b = 0; map->self >= 0 && b < map->n_buckets; b++) {
        n += (map->buckets[b].primary == map->self
              || map->buckets[b].secondary == map->self);
    }
    return n;
}

/* Records that 'sender' completed a bulk transfer of 'bucket' to us, or
 * with 'sender' NULL that the last one failed.  Which primary it was from
 * is checked when warmth is asked: the bulk may arrive before the map that
 * makes us the bucket's secondary, even before our first map.  A bucket
 * the map does not have is ignored. */
void
agentmap_set_bulk_from(struct agentmap *map, uint32_t bucket,
                       const char *sender)
{
    if (!map->epoch && bucket >= map->n_bulk_from
        && bucket < AGP_MAX_BUCKETS) {
        /* No map yet: keep it for the first one. */
        map->bulk_from = xrealloc(map->bulk_from,
                                  (bucket + 1) * sizeof *map->bulk_from);
        memset(&map->bulk_from[map->n_bulk_from], 0,
               (bucket + 1 - map->n_bulk_from) * sizeof *map->bulk_from);
        map->n_bulk_from = bucket + 1;
    }
    if (bucket < map->n_bulk_from) {
        free(map->bulk_from[bucket]);
        map->bulk_from[bucket] = nullable_xstrdup(sender);
    }
}

/* Returns true if 'map' names instance 'name' the secondary or the next
 * instance of 'bucket': one that receives the bucket from its primary. */
static bool
received__(const struct agentmap *map, uint32_t bucket, const char *name)
{
    const char *s, *n;

    if (bucket >= map->n_buckets) {
        return false;
    }
    s = agentmap_name(map, map->buckets[bucket].secondary);
    n = agentmap_name(map, map->buckets[bucket].next);
    return (s && !strcmp(s, name)) || (n && !strcmp(n, name));
}

/* Returns the instance of 'map' named 'name', or NULL. */
static const struct agentmap_instance *
find_instance__(const struct agentmap *map, const char *name)
{
    for (size_t i = 0; i < map->n_instances; i++) {
        if (!strcmp(map->instances[i].name, name)) {
            return &map->instances[i];
        }
    }
    return NULL;
}

/* Applies 'm', the map the controller sent, to 'map' for instance 'self'.
 * 'connected' says, per instance of the current map, whether a replication
 * connection to it is open; 'replicate' whether we replicate at all.
 * An instance 'm' gives no replication address (0 and 0: the controller
 * does not know it) keeps the one 'map' has for the same name, so that a
 * controller that took over, or restarted, does not cut our replication
 * connections until each agent has said hello to it.
 * Returns false, and changes nothing, if 'm' is older than 'map'.
 * Otherwise fills in '*change' (to be freed with
 * agentmap_change_destroy()) and returns true. */
bool
agentmap_apply(struct agentmap *map, const struct agp_map *m,
               const char *self, bool replicate, const bool *connected,
               struct agentmap_change *change)
{
    struct agentmap old = *map;

    memset(change, 0, sizeof *change);
    if (m->epoch < map->epoch) {
        return false;
    }

    map->epoch = m->epoch;
    map->replicate = replicate;
    map->n_buckets = m->n_buckets;
    map->buckets = xmemdup(m->buckets, m->n_buckets * sizeof *m->buckets);
    map->n_instances = m->n_instances;
    map->instances = xcalloc(MAX(m->n_instances, 1),
                             sizeof *map->instances);
    map->self = -1;
    for (size_t i = 0; i < m->n_instances; i++) {
        struct agentmap_instance *inst = &map->instances[i];

        inst->name = xstrdup(m->instances[i].name);
        inst->repl_addr = m->instances[i].repl_addr;
        inst->repl_port = m->instances[i].repl_port;
        if (!inst->repl_addr && !inst->repl_port) {
            /* The controller does not know it (yet): one that took over,
             * or restarted, learns it only from the instance's hello. */
            const struct agentmap_instance *o = find_instance__(&old,
                                                                inst->name);
            if (o) {
                inst->repl_addr = o->repl_addr;
                inst->repl_port = o->repl_port;
            }
        }
        if (!strcmp(m->instances[i].name, self)) {
            map->self = i;
        }
    }
    map->bulk_from = xcalloc(MAX(m->n_buckets, 1), sizeof *map->bulk_from);
    map->n_bulk_from = m->n_buckets;
    if (!old.epoch || old.n_buckets == m->n_buckets) {
        /* The same buckets (bulks that came before the first map number
         * them as it does): what completed still holds. */
        for (size_t b = 0; b < MIN(old.n_bulk_from, m->n_buckets); b++) {
            map->bulk_from[b] = old.bulk_from[b];
            old.bulk_from[b] = NULL;
        }
    }

    change->n_instances = m->n_instances;
    change->kept = xmalloc(MAX(m->n_instances, 1) * sizeof *change->kept);
    change->bulk = xmalloc(MAX(m->n_instances, 1) * sizeof *change->bulk);
    for (size_t i = 0; i < m->n_instances; i++) {
        const struct agentmap_instance *inst = &map->instances[i];

        change->kept[i] = -1;
        change->bulk[i] = bitmap_allocate(m->n_buckets);
        for (size_t j = 0; j < old.n_instances; j++) {
            const struct agentmap_instance *o = &old.instances[j];

            if (connected && connected[j] && !strcmp(o->name, inst->name)
                && o->repl_addr == inst->repl_addr
                && o->repl_port == inst->repl_port) {
                change->kept[i] = j;
            }
        }
    }

    for (size_t b = 0; replicate && b < map->n_buckets; b++) {
        int receivers[2] = { agentmap_secondary_of(map, b),
                             agentmap_next_of(map, b) };
        const char *old_primary = NULL;

        if (b < old.n_buckets) {
            old_primary = agentmap_name(&old, old.buckets[b].primary);
        }
        for (size_t k = 0; k < ARRAY_SIZE(receivers); k++) {
            int r = receivers[k];

            /* The receiver is new to the bucket (as its secondary or its
             * next instance: one that moves from next to secondary has
             * all it needs), or we are new as its primary, or we have no
             * connection to it yet. */
            if (r >= 0
                && (!old_primary || strcmp(old_primary, self)
                    || !received__(&old, b, map->instances[r].name)
                    || change->kept[r] < 0)) {
                bitmap_set1(change->bulk[r], b);
            }
        }
    }

    free_instances__(old.instances, old.n_instances);
    free_bulk_from__(old.bulk_from, old.n_bulk_from);
    free(old.buckets);
    return true;
}

/* Frees what 'change' holds. */
void
agentmap_change_destroy(struct agentmap_change *change)
{
    for (size_t i = 0; i < change->n_instances; i++) {
        bitmap_free(change->bulk[i]);
    }
    free(change->bulk);
    free(change->kept);
    memset(change, 0, sizeof *change);
}
