/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the agent's view of its map (agent/agentmap): what an
 * agent does with a sequence of decoded MAP messages, and with completed
 * or failed bulk transfers in between.
 *
 * Each step builds a map as the decoder would let it through (a power-of-2
 * bucket count, up to 5 instances with distinct names from a small set, so
 * that instances come, go and change places, primaries and secondaries
 * that differ, epochs that go up, repeat or go back) with arbitrary open
 * connections, or records a bulk transfer of some bucket from some sender.
 * Checked: an older epoch changes nothing; a connection goes on only to
 * the same instance at the same address, and only if it was open; bulk
 * transfers are asked only for buckets we are primary of, to their
 * secondary, and always for such a bucket whose secondary has no
 * connection or is new to it; a bucket is warm only if its current
 * primary sent its last completed bulk transfer; what may be sent for a
 * bucket goes only to the other instance of the bucket, bulks only from
 * the primary, and changes carry the map's epoch only from the primary or
 * a warm secondary. */

#include <config.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "agentmap.h"
#include "agentproto.h"
#include "bitmap.h"
#include "util.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = { "a", "b", "c", "d", "e" };
#define MAX_INSTANCES 5

/* Returns the index of the instance named 'name' in 'map', or -1. */
static int
find(const struct agentmap *map, const char *name)
{
    for (size_t i = 0; name && i < map->n_instances; i++) {
        if (!strcmp(map->instances[i].name, name)) {
            return i;
        }
    }
    return -1;
}

static void
apply_map(struct agentmap *map, const uint8_t **data, size_t *size)
{
    struct agp_instance inst[MAX_INSTANCES];
    struct agp_bucket *buckets;
    struct agentmap_change change;
    bool connected[MAX_INSTANCES];
    struct agentmap old;
    struct agp_map m;
    uint8_t used = 0;
    bool applied;

    memset(&m, 0, sizeof m);
    m.epoch = map->epoch + fuzz_next(data, size) % 3;
    m.epoch = m.epoch > 1 ? m.epoch - 1 : 1;
    m.service = "fw";
    m.n_buckets = 1u << (fuzz_next(data, size) % 5);
    m.n_instances = fuzz_next(data, size) % (MAX_INSTANCES + 1);
    for (size_t i = 0; i < m.n_instances; i++) {
        int k = fuzz_next(data, size) % MAX_INSTANCES;

        while (used & (1u << k)) {
            k = (k + 1) % MAX_INSTANCES;
        }
        used |= 1u << k;
        inst[i].name = names[k];
        inst[i].repl_addr = fuzz_next(data, size) & 1;
        inst[i].repl_port = inst[i].repl_addr ? 7000 : 0;
    }
    m.instances = inst;
    buckets = xmalloc(m.n_buckets * sizeof *buckets);
    for (size_t b = 0; b < m.n_buckets; b++) {
        uint8_t p = fuzz_next(data, size), s = fuzz_next(data, size);

        buckets[b].primary = (m.n_instances && p % 4
                              ? p % m.n_instances : AGP_NONE);
        buckets[b].secondary = AGP_NONE;
        buckets[b].next = AGP_NONE;
        if (buckets[b].primary != AGP_NONE && m.n_instances > 1 && s % 4) {
            buckets[b].secondary = ((buckets[b].primary + 1
                                     + s % (m.n_instances - 1))
                                    % m.n_instances);
        }
        if (buckets[b].secondary != AGP_NONE && m.n_instances > 2
            && s % 8 >= 6) {
            /* The first instance after the secondary that is neither it
             * nor the primary. */
            uint16_t n = (buckets[b].secondary + 1) % m.n_instances;

            if (n == buckets[b].primary) {
                n = (n + 1) % m.n_instances;
            }
            buckets[b].next = n;
        }
    }
    m.buckets = buckets;
    for (size_t j = 0; j < MAX_INSTANCES; j++) {
        connected[j] = fuzz_next(data, size) & 1;
    }

    /* A copy of what the map was, names and addresses. */
    old = *map;
    old.instances = xcalloc(MAX(map->n_instances, 1),
                            sizeof *map->instances);
    nullable_memcpy(old.instances, map->instances,
                    map->n_instances * sizeof *map->instances);
    old.buckets = xcalloc(MAX(map->n_buckets, 1), sizeof *map->buckets);
    nullable_memcpy(old.buckets, map->buckets,
                    map->n_buckets * sizeof *map->buckets);
    for (size_t i = 0; i < map->n_instances; i++) {
        old.instances[i].name = xstrdup(map->instances[i].name);
    }

    applied = agentmap_apply(map, &m, "b", true, connected, &change);
    fuzz_check(applied == (m.epoch >= old.epoch));
    if (!applied) {
        fuzz_check(map->epoch == old.epoch && map->n_buckets == old.n_buckets
              && map->n_instances == old.n_instances);
    } else {
        fuzz_check(map->epoch == m.epoch && map->n_buckets == m.n_buckets
              && change.n_instances == m.n_instances);
        fuzz_check(map->self == find(map, "b"));
        for (size_t i = 0; i < m.n_instances; i++) {
            int j = change.kept[i];

            if (j >= 0) {
                fuzz_check(j < old.n_instances && connected[j]
                      && !strcmp(old.instances[j].name, inst[i].name)
                      && old.instances[j].repl_addr == inst[i].repl_addr);
            }
            for (size_t b = 0; b < m.n_buckets; b++) {
                bool bulk = bitmap_is_set(change.bulk[i], b);
                int s2 = agentmap_secondary_of(map, b);

                fuzz_check(!bulk || s2 == (int) i);
                if (s2 == (int) i) {
                    int op = (b < old.n_buckets && old.self >= 0
                              && old.buckets[b].primary == old.self
                              && old.buckets[b].secondary != AGP_NONE
                              ? old.buckets[b].secondary : -1);
                    bool same = (op >= 0 && !strcmp(old.instances[op].name,
                                                     inst[i].name));

                    fuzz_check(bulk || (j >= 0 && same));
                }
            }
        }
        agentmap_change_destroy(&change);
    }

    for (size_t i = 0; i < old.n_instances; i++) {
        free(old.instances[i].name);
    }
    free(old.instances);
    free(old.buckets);
    free(buckets);
}

/* Checks what 'map' lets us send for 'bucket'. */
static void
check_send_rule(const struct agentmap *map, uint32_t bucket)
{
    const struct agp_bucket *bk = &map->buckets[bucket];
    struct agentmap_send send;

    agentmap_send_rule(map, bucket, &send);
    if (agentmap_is_primary(map, bucket)) {
        fuzz_check(send.as_primary && send.epoch == map->epoch
                   && send.to == (bk->secondary != AGP_NONE
                                  ? bk->secondary : -1));
    } else if (agentmap_is_secondary(map, bucket)) {
        fuzz_check(!send.as_primary && send.to == bk->primary
                   && send.epoch == (agentmap_is_warm(map, bucket)
                                     ? map->epoch : 0));
    } else {
        fuzz_check(!send.as_primary && send.to == -1 && !send.epoch);
    }
    fuzz_check(send.to < 0 || send.to != map->self);
    fuzz_check(agentmap_change_epoch(map, bucket) == send.epoch);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agentmap map;

    agentmap_init(&map);
    while (size) {
        uint8_t op = fuzz_next(&data, &size);

        if (op & 1) {
            apply_map(&map, &data, &size);
        } else {
            uint32_t b = (op >> 1) % 20;
            int sender = fuzz_next(&data, &size) % (MAX_INSTANCES + 1);

            agentmap_set_bulk_from(&map, b, (sender < MAX_INSTANCES
                                             ? names[sender] : NULL));
        }
        for (size_t b = 0; b < map.n_buckets; b++) {
            if (agentmap_is_warm(&map, b)) {
                fuzz_check(map.bulk_from[b] && !strcmp(
                          map.bulk_from[b],
                          agentmap_name(&map, map.buckets[b].primary)));
            }
            fuzz_check(!agentmap_is_primary(&map, b)
                  || !agentmap_is_secondary(&map, b));
            check_send_rule(&map, b);
        }
    }
    agentmap_destroy(&map);
    return 0;
}
