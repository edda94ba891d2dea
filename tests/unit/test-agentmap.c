/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <string.h>
#include "agentmap.h"
#include "agentproto.h"
#include "bitmap.h"
#include "util.h"
#include "tests.h"

/* The agent's view of its map, as agent "b" of instances a, b and c. */

#define N_BUCKETS 4

/* Builds in '*m' map 'epoch' with the buckets in 'spec', a string of
 * N_BUCKETS pairs of instance letters ("ab" = primary a, secondary b; "-"
 * for none), instances a, b, c with addresses only if 'addresses'. */
static void
map_of(struct agp_map *m, struct agp_instance *inst, struct agp_bucket *bk,
       uint64_t epoch, const char *spec, bool addresses)
{
    static const char *const names[] = { "a", "b", "c" };

    memset(m, 0, sizeof *m);
    for (int i = 0; i < 3; i++) {
        inst[i].name = names[i];
        inst[i].repl_addr = addresses ? 0x0a000001 + i : 0;
        inst[i].repl_port = addresses ? 7000 : 0;
    }
    for (int b = 0; b < N_BUCKETS; b++) {
        bk[b].primary = spec[2 * b] == '-' ? AGP_NONE : spec[2 * b] - 'a';
        bk[b].secondary = (spec[2 * b + 1] == '-' ? AGP_NONE
                           : spec[2 * b + 1] - 'a');
        bk[b].next = AGP_NONE;
    }
    m->epoch = epoch;
    m->service = "fw";
    m->n_buckets = N_BUCKETS;
    m->instances = inst;
    m->n_instances = 3;
    m->buckets = bk;
}

/* Returns the buckets 'change' asks to send instance 'i' in bulk, as a
 * string of bucket digits. */
static const char *
bulk_of(const struct agentmap_change *change, int i)
{
    static char s[N_BUCKETS + 1];
    size_t n = 0;

    for (int b = 0; b < N_BUCKETS; b++) {
        if (bitmap_is_set(change->bulk[i], b)) {
            s[n++] = '0' + b;
        }
    }
    s[n] = '\0';
    return s;
}

static void
test_agentmap_roles_and_bulks(void)
{
    struct agp_instance inst[3];
    struct agp_bucket bk[N_BUCKETS];
    struct agentmap_change change;
    bool connected[3];
    struct agentmap map;
    struct agp_map m;

    agentmap_init(&map);
    CU_ASSERT(!agentmap_is_primary(&map, 0));

    /* The first map: every bucket we are primary of goes in bulk to its
     * secondary, since no connection is open yet. */
    map_of(&m, inst, bk, 3, "baab" "bc" "ca", false);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, NULL, &change));
    CU_ASSERT_EQUAL(map.self, 1);
    CU_ASSERT(agentmap_is_primary(&map, 0));
    CU_ASSERT_EQUAL(agentmap_secondary_of(&map, 2), 2);
    CU_ASSERT_EQUAL(agentmap_secondary_of(&map, 3), -1);
    CU_ASSERT(agentmap_is_secondary(&map, 1));
    /* What we change goes to the bucket's other instance: the secondary
     * where we are primary, the primary where we are secondary (frames
     * reach us before or after the switch moved the bucket), nobody
     * where we are neither. */
    CU_ASSERT_EQUAL(agentmap_replica_of(&map, 0), 0);
    CU_ASSERT_EQUAL(agentmap_replica_of(&map, 1), 0);
    CU_ASSERT_EQUAL(agentmap_replica_of(&map, 2), 2);
    CU_ASSERT_EQUAL(agentmap_replica_of(&map, 3), -1);
    CU_ASSERT_EQUAL(agentmap_replica_of(&map, N_BUCKETS), -1);
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 0), "0");
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 1), "");
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 2), "2");
    agentmap_change_destroy(&change);

    /* The same epoch with addresses: still no connection, so the same
     * bulks; nothing is kept. */
    map_of(&m, inst, bk, 3, "baab" "bc" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, NULL, &change));
    CU_ASSERT_EQUAL(change.kept[0], -1);
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 0), "0");
    agentmap_change_destroy(&change);

    /* Connected now: a new epoch where bucket 2's secondary becomes a
     * sends only bucket 2, to a. */
    connected[0] = connected[1] = connected[2] = true;
    map_of(&m, inst, bk, 4, "baab" "ba" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT_EQUAL(change.kept[0], 0);
    CU_ASSERT_EQUAL(change.kept[2], 2);
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 0), "2");
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 2), "");
    agentmap_change_destroy(&change);

    /* We take over bucket 3 (c failed): it goes in bulk to its new
     * secondary, even one we are connected to. */
    map_of(&m, inst, bk, 5, "baab" "ba" "ba", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 0), "3");
    agentmap_change_destroy(&change);

    /* An older epoch changes nothing. */
    map_of(&m, inst, bk, 4, "cacb" "ca" "ca", true);
    CU_ASSERT(!agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT_EQUAL(map.epoch, 5);
    CU_ASSERT(agentmap_is_primary(&map, 3));

    /* Without replication, no bulks at all. */
    map_of(&m, inst, bk, 6, "bcbc" "bc" "bc", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", false, NULL, &change));
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 2), "");
    agentmap_change_destroy(&change);

    /* Not in the map: no role. */
    CU_ASSERT(agentmap_apply(&map, &m, "z", true, NULL, &change));
    CU_ASSERT_EQUAL(map.self, -1);
    CU_ASSERT(!agentmap_is_primary(&map, 0));
    CU_ASSERT(!agentmap_is_secondary(&map, 0));
    agentmap_change_destroy(&change);
    agentmap_destroy(&map);
}

/* Warm: a completed bulk from the bucket's current primary. */
static void
test_agentmap_warm(void)
{
    struct agp_instance inst[3];
    struct agp_bucket bk[N_BUCKETS];
    struct agentmap_change change;
    struct agentmap map;
    struct agp_map m;

    agentmap_init(&map);
    /* Bulks that complete before the first map (the primary had the map
     * first) count once it arrives, if their sender is then the
     * primary; bucket numbers beyond the map's are dropped. */
    agentmap_set_bulk_from(&map, 0, "a");
    agentmap_set_bulk_from(&map, 2, "a");
    agentmap_set_bulk_from(&map, 100, "a");
    agentmap_set_bulk_from(&map, AGP_MAX_BUCKETS, "a");
    CU_ASSERT_EQUAL(map.n_bulk_from, 101);

    map_of(&m, inst, bk, 1, "ab" "ab" "cb" "--", true);
    agentmap_apply(&map, &m, "b", true, NULL, &change);
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(map.n_bulk_from, N_BUCKETS);
    CU_ASSERT(agentmap_is_warm(&map, 0));
    CU_ASSERT(!agentmap_is_warm(&map, 2));    /* Not from its primary. */
    agentmap_set_bulk_from(&map, 0, NULL);
    CU_ASSERT(!agentmap_is_warm(&map, 0));
    agentmap_set_bulk_from(&map, 0, "a");
    agentmap_set_bulk_from(&map, 2, "a");     /* Not its primary. */
    agentmap_set_bulk_from(&map, 9, "a");     /* No such bucket. */
    CU_ASSERT(agentmap_is_warm(&map, 0));
    CU_ASSERT(!agentmap_is_warm(&map, 1));
    CU_ASSERT(!agentmap_is_warm(&map, 2));
    CU_ASSERT(!agentmap_is_warm(&map, 3));

    /* A failed bulk makes it cold. */
    agentmap_set_bulk_from(&map, 1, "a");
    agentmap_set_bulk_from(&map, 1, NULL);
    CU_ASSERT(!agentmap_is_warm(&map, 1));

    /* The bulk stays across maps of the same size, and counts while its
     * sender is the primary. */
    map_of(&m, inst, bk, 2, "cb" "ab" "cb" "--", true);
    agentmap_apply(&map, &m, "b", true, NULL, &change);
    agentmap_change_destroy(&change);
    CU_ASSERT(!agentmap_is_warm(&map, 0));
    map_of(&m, inst, bk, 3, "ab" "ab" "cb" "--", true);
    agentmap_apply(&map, &m, "b", true, NULL, &change);
    agentmap_change_destroy(&change);
    CU_ASSERT(agentmap_is_warm(&map, 0));
    agentmap_destroy(&map);
}

/* Returns true if 'change' keeps every connection of the 3 instances and
 * asks for no bulk transfer: nothing happens. */
static bool
no_change(const struct agentmap_change *change)
{
    for (int i = 0; i < 3; i++) {
        if (change->kept[i] != i || bulk_of(change, i)[0]) {
            return false;
        }
    }
    return true;
}

/* After the agent moves to another controller (the active one died, or it
 * restarted), the map of the same epoch it gets there changes nothing: no
 * connection cut, no bulk, warmth kept, even though that controller does
 * not know yet the replication addresses of the instances that have not
 * said hello to it. */
static void
test_agentmap_other_controller(void)
{
    struct agp_instance inst[3];
    struct agp_bucket bk[N_BUCKETS];
    struct agentmap_change change;
    bool connected[3] = { true, true, true };
    struct agentmap map;
    struct agp_map m;

    agentmap_init(&map);
    map_of(&m, inst, bk, 7, "baab" "bc" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, NULL, &change));
    agentmap_change_destroy(&change);
    agentmap_set_bulk_from(&map, 1, "a");
    CU_ASSERT(agentmap_is_warm(&map, 1));

    /* The same map from the other controller. */
    map_of(&m, inst, bk, 7, "baab" "bc" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT(no_change(&change));
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(map.epoch, 7);
    CU_ASSERT_EQUAL(map.self, 1);
    CU_ASSERT(agentmap_is_warm(&map, 1));

    /* The same epoch from a controller that knows no address yet: the
     * addresses we know stay, and so does everything else. */
    map_of(&m, inst, bk, 7, "baab" "bc" "ca", false);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT(no_change(&change));
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(map.instances[0].repl_addr, 0x0a000001);
    CU_ASSERT_EQUAL(map.instances[2].repl_addr, 0x0a000003);
    CU_ASSERT_EQUAL(map.instances[2].repl_port, 7000);
    CU_ASSERT(agentmap_is_warm(&map, 1));

    /* It learns them (each agent said hello): the same epoch again. */
    map_of(&m, inst, bk, 7, "baab" "bc" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT(no_change(&change));
    agentmap_change_destroy(&change);

    /* A new epoch without addresses keeps them too: only what the map
     * changes happens (bucket 2's new secondary a gets it in bulk). */
    map_of(&m, inst, bk, 8, "baab" "ba" "ca", false);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT_EQUAL(change.kept[0], 0);
    CU_ASSERT_EQUAL(change.kept[2], 2);
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 0), "2");
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 2), "");
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(map.instances[0].repl_addr, 0x0a000001);

    /* A different address is news: instance a restarted elsewhere; the
     * connection to it goes and it gets our buckets again. */
    map_of(&m, inst, bk, 8, "baab" "ba" "ca", true);
    inst[0].repl_port = 7001;
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT_EQUAL(change.kept[0], -1);
    CU_ASSERT_EQUAL(change.kept[2], 2);
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 0), "02");
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(map.instances[0].repl_port, 7001);
    agentmap_destroy(&map);
}

/* After a disruption nothing is warm, and the primaries are counted. */
static void
test_agentmap_forget_warm(void)
{
    struct agp_instance inst[3];
    struct agp_bucket bk[N_BUCKETS];
    struct agentmap_change change;
    struct agentmap map;
    struct agp_map m;

    agentmap_init(&map);
    CU_ASSERT_EQUAL(agentmap_n_primary(&map), 0);
    map_of(&m, inst, bk, 1, "ab" "ba" "ab" "c-", true);
    agentmap_apply(&map, &m, "b", true, NULL, &change);
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(agentmap_n_primary(&map), 1);
    agentmap_set_bulk_from(&map, 0, "a");
    agentmap_set_bulk_from(&map, 2, "a");
    CU_ASSERT(agentmap_is_warm(&map, 0) && agentmap_is_warm(&map, 2));
    agentmap_forget_warm(&map);
    for (int b = 0; b < N_BUCKETS; b++) {
        CU_ASSERT(!agentmap_is_warm(&map, b));
    }
    /* A new bulk makes it warm again. */
    agentmap_set_bulk_from(&map, 2, "a");
    CU_ASSERT(agentmap_is_warm(&map, 2));
    agentmap_destroy(&map);
}

/* Checks that 'map' lets us send for 'bucket' to instance 'to' (-1:
 * nobody), as its primary if 'as_primary', with changes at 'epoch'. */
static void
check_send(const struct agentmap *map, uint32_t bucket, int to,
           bool as_primary, uint64_t epoch)
{
    struct agentmap_send send;

    agentmap_send_rule(map, bucket, &send);
    CU_ASSERT_EQUAL(send.to, to);
    CU_ASSERT_EQUAL(send.as_primary, as_primary);
    CU_ASSERT_EQUAL(send.epoch, epoch);
    CU_ASSERT_EQUAL(agentmap_replica_of(map, bucket), to);
    CU_ASSERT_EQUAL(agentmap_secondary_of(map, bucket),
                    as_primary ? to : -1);
    CU_ASSERT_EQUAL(agentmap_change_epoch(map, bucket), epoch);
}

/* What we may send for a bucket, to whom, at which epoch: the primary
 * everything, to the secondary, at the map's epoch; the secondary its own
 * changes only, to the primary, at the map's epoch only once warm; anyone
 * else nothing, at no epoch. */
static void
test_agentmap_send_rule(void)
{
    struct agp_instance inst[3];
    struct agp_bucket bk[N_BUCKETS];
    struct agentmap_change change;
    struct agentmap map;
    struct agp_map m;

    /* No map yet: nothing, for any bucket. */
    agentmap_init(&map);
    check_send(&map, 0, -1, false, 0);

    /* Epoch 7: we ("b") are primary of 0 (secondary a) and of 1 (no
     * secondary), secondary of 2 (primary c), neither of 3. */
    map_of(&m, inst, bk, 7, "ba" "b-" "cb" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, NULL, &change));
    agentmap_change_destroy(&change);
    check_send(&map, 0, 0, true, 7);
    check_send(&map, 1, -1, true, 7);
    check_send(&map, 2, 2, false, 0);
    check_send(&map, 3, -1, false, 0);
    check_send(&map, N_BUCKETS, -1, false, 0);

    /* A secondary's changes carry the epoch once the primary's bulk
     * completed, and lose it again with a failed one or another
     * primary's. */
    agentmap_set_bulk_from(&map, 2, "c");
    check_send(&map, 2, 2, false, 7);
    agentmap_set_bulk_from(&map, 2, "a");
    check_send(&map, 2, 2, false, 0);
    agentmap_set_bulk_from(&map, 2, "c");
    agentmap_set_bulk_from(&map, 2, NULL);
    check_send(&map, 2, 2, false, 0);

    /* The swap of a handoff of bucket 0 to a: we are its secondary now,
     * cold (a has sent us no bulk), and send a only our own changes; the
     * bulk a completed counts at once. */
    map_of(&m, inst, bk, 8, "ab" "b-" "cb" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, NULL, &change));
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 0), "");
    agentmap_change_destroy(&change);
    check_send(&map, 0, 0, false, 0);
    agentmap_set_bulk_from(&map, 0, "a");
    check_send(&map, 0, 0, false, 8);

    /* Out of the bucket: nothing; out of the map: nothing at all. */
    map_of(&m, inst, bk, 9, "ac" "b-" "cb" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, NULL, &change));
    agentmap_change_destroy(&change);
    check_send(&map, 0, -1, false, 0);
    check_send(&map, 1, -1, true, 9);
    CU_ASSERT(agentmap_apply(&map, &m, "z", true, NULL, &change));
    agentmap_change_destroy(&change);
    for (uint32_t b = 0; b < N_BUCKETS; b++) {
        check_send(&map, b, -1, false, 0);
    }

    /* Without replication nothing is sent, and versions still carry the
     * epoch of the primary's changes. */
    map_of(&m, inst, bk, 10, "ba" "b-" "cb" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", false, NULL, &change));
    agentmap_change_destroy(&change);
    check_send(&map, 0, -1, true, 10);
    check_send(&map, 2, -1, false, 0);
    agentmap_destroy(&map);
}

/* A bucket's next instance gets, from its primary, a bulk transfer and
 * every change, beside the secondary; once it becomes the secondary it is
 * not sent the bucket again.  Only the primary sends it anything. */
static void
test_agentmap_next(void)
{
    bool connected[3] = { true, true, true };
    struct agp_instance inst[3];
    struct agp_bucket bk[N_BUCKETS];
    struct agentmap_change change;
    struct agentmap map;
    struct agp_map m;

    agentmap_init(&map);
    map_of(&m, inst, bk, 3, "baab" "bc" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, NULL, &change));
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(agentmap_next_of(&map, 0), -1);

    /* c becomes the next instance of bucket 0 (ours, secondary a): c
     * gets it in bulk, a nothing new; both get its changes. */
    map_of(&m, inst, bk, 4, "baab" "bc" "ca", true);
    bk[0].next = 2;
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 2), "0");
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 0), "");
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(agentmap_replica_of(&map, 0), 0);
    CU_ASSERT_EQUAL(agentmap_next_of(&map, 0), 2);
    CU_ASSERT_EQUAL(agentmap_secondary_of(&map, 0), 0);
    CU_ASSERT(agentmap_sends_to(&map, 0, 0));
    CU_ASSERT(agentmap_sends_to(&map, 0, 2));
    CU_ASSERT(!agentmap_sends_to(&map, 0, 1));
    CU_ASSERT(agentmap_bulks_to(&map, 0, 0));
    CU_ASSERT(agentmap_bulks_to(&map, 0, 2));
    CU_ASSERT(!agentmap_sends_to(&map, 0, -1));
    /* Not in our role counts: a hold still ends on a map naming us only
     * as a next instance. */
    CU_ASSERT_EQUAL(agentmap_n_roles(&map), 3);

    /* c, warm, replaces a: no bulk to c again, and a is out of bucket 0. */
    map_of(&m, inst, bk, 5, "bcab" "bc" "ca", true);
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 2), "");
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 0), "");
    agentmap_change_destroy(&change);
    CU_ASSERT(!agentmap_sends_to(&map, 0, 0));
    CU_ASSERT(agentmap_sends_to(&map, 0, 2));

    /* A next instance of a bucket we are the secondary of: nothing goes
     * to it from us; and where we are the next instance, we send nothing
     * at all. */
    map_of(&m, inst, bk, 6, "bcab" "bc" "ca", true);
    bk[1].next = 2;
    bk[3].next = 1;
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(agentmap_next_of(&map, 1), -1);
    CU_ASSERT(!agentmap_sends_to(&map, 1, 2));
    CU_ASSERT(agentmap_sends_to(&map, 1, 0));
    CU_ASSERT_EQUAL(agentmap_replica_of(&map, 3), -1);
    CU_ASSERT_EQUAL(agentmap_next_of(&map, 3), -1);

    /* A bucket of ours with a next instance and no secondary (the protocol
     * allows it): the next instance gets it, nobody is its secondary. */
    map_of(&m, inst, bk, 7, "b-ab" "bc" "ca", true);
    bk[0].next = 0;
    CU_ASSERT(agentmap_apply(&map, &m, "b", true, connected, &change));
    CU_ASSERT_STRING_EQUAL(bulk_of(&change, 0), "0");
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(agentmap_replica_of(&map, 0), -1);
    CU_ASSERT_EQUAL(agentmap_secondary_of(&map, 0), -1);
    CU_ASSERT_EQUAL(agentmap_next_of(&map, 0), 0);
    CU_ASSERT(agentmap_bulks_to(&map, 0, 0));
    CU_ASSERT(!agentmap_bulks_to(&map, 0, 2));

    /* Without replication, nobody. */
    map_of(&m, inst, bk, 8, "baab" "bc" "ca", true);
    bk[0].next = 2;
    CU_ASSERT(agentmap_apply(&map, &m, "b", false, connected, &change));
    agentmap_change_destroy(&change);
    CU_ASSERT_EQUAL(agentmap_next_of(&map, 0), -1);
    CU_ASSERT(!agentmap_sends_to(&map, 0, 2));
    agentmap_destroy(&map);
}

static const struct test_case agentmap_tests[] = {
    { "roles and bulk transfers", test_agentmap_roles_and_bulks },
    { "warm buckets", test_agentmap_warm },
    { "forget warm, count primaries", test_agentmap_forget_warm },
    { "same epoch from another controller",
      test_agentmap_other_controller },
    { "what may be sent, to whom, at which epoch", test_agentmap_send_rule },
    { "next instance", test_agentmap_next },
    { NULL, NULL },
};

TEST_SUITE("agentmap", agentmap_tests);
