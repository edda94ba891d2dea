/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* The fabric: which links are usable from what the connected switches say
 * of their ports, the paths and next hops over the usable links, and which
 * instances the chains no longer reach. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "fabric.h"
#include "flow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/shash.h"
#include "tests.h"
#include "util.h"

/* Two leaves, each linked to two spines; the chain goes from lf1 to lf2,
 * fw-1 on lf1, fw-2 on lf2, fw-3 on sp2. */
static const char two_spines_yaml[] =
    "buckets: 2\n"
    "switches:\n"
    "  sp1: {dpid: 1}\n"
    "  sp2: {dpid: 4}\n"
    "  lf1: {dpid: 2}\n"
    "  lf2: {dpid: 3}\n"
    "links:\n"
    "  - [{switch: lf1, port: lf1-sp1}, {switch: sp1, port: sp1-lf1}]\n"
    "  - [{switch: lf2, port: lf2-sp1}, {switch: sp1, port: sp1-lf2}]\n"
    "  - [{switch: lf1, port: lf1-sp2}, {switch: sp2, port: sp2-lf1}]\n"
    "  - [{switch: lf2, port: lf2-sp2}, {switch: sp2, port: sp2-lf2}]\n"
    "services:\n"
    "  fw:\n"
    "    instances:\n"
    "      fw-1: {switch: lf1, port: fw-1, mac: \"02:00:00:00:01:01\"}\n"
    "      fw-2: {switch: lf2, port: fw-2, mac: \"02:00:00:00:01:02\"}\n"
    "      fw-3: {switch: sp2, port: fw-3, mac: \"02:00:00:00:01:03\"}\n"
    "chains:\n"
    "  web:\n"
    "    spi: 100\n"
    "    ingress: {switch: lf1, port: client}\n"
    "    egress: {switch: lf2, port: server}\n"
    "    services: [fw]\n";

enum { SP1, SP2, LF1, LF2 };

/* A switch's ports as the policy hands them over: 'names', each live
 * unless its name is in 'dead' (a space-separated list). */
struct ports {
    struct shash sh;
    struct ofputil_phy_port pps[8];
};

static void
ports_init(struct ports *p, const char *const *names, size_t n,
           const char *dead)
{
    ovs_assert(n <= ARRAY_SIZE(p->pps));
    shash_init(&p->sh);
    for (size_t i = 0; i < n; i++) {
        memset(&p->pps[i], 0, sizeof p->pps[i]);
        p->pps[i].port_no = u16_to_ofp(i + 1);
        ovs_strlcpy(p->pps[i].name, names[i], sizeof p->pps[i].name);
        p->pps[i].state = strstr(dead, names[i]) ? 0 : OFPUTIL_PS_LIVE;
        shash_add(&p->sh, names[i], &p->pps[i]);
    }
}

static struct sfm_config *
parse(const char *yaml)
{
    struct sfm_config *cfg;
    char *error = cfg_parse("fabric.yaml", yaml, strlen(yaml), &cfg);

    CU_ASSERT_PTR_NULL(error);
    free(error);
    return cfg;
}

/* A link is usable until a connected switch shows its end missing or not
 * live; a switch that is not connected says nothing against its links. */
static void
test_liveness(void)
{
    static const char *const sp1_all[] = { "sp1-lf1", "sp1-lf2" };
    static const char *const sp1_one[] = { "sp1-lf1" };
    struct sfm_config *cfg = parse(two_spines_yaml);
    struct fabric *f;
    struct ports p;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    f = fabric_create(cfg);
    for (size_t l = 0; l < cfg->n_links; l++) {
        CU_ASSERT_FALSE(fabric_link_is_down(f, l));
    }
    CU_ASSERT_FALSE(fabric_run(f, 0));

    /* sp1 connects with both ports live: nothing changes. */
    ports_init(&p, sp1_all, ARRAY_SIZE(sp1_all), "");
    fabric_set_ports(f, SP1, &p.sh);
    CU_ASSERT_FALSE(fabric_run(f, 0));
    shash_destroy(&p.sh);

    /* sp1-lf2 not live: link 1 down, the others not. */
    ports_init(&p, sp1_all, ARRAY_SIZE(sp1_all), "sp1-lf2");
    fabric_set_ports(f, SP1, &p.sh);
    CU_ASSERT_FALSE(fabric_link_is_down(f, 1)); /* Not before the run. */
    CU_ASSERT_TRUE(fabric_run(f, 0));
    CU_ASSERT_TRUE(fabric_link_is_down(f, 1));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));
    CU_ASSERT_FALSE(fabric_run(f, 0));
    shash_destroy(&p.sh);

    /* Missing is as down as not live: no change. */
    ports_init(&p, sp1_one, ARRAY_SIZE(sp1_one), "");
    fabric_set_ports(f, SP1, &p.sh);
    CU_ASSERT_FALSE(fabric_run(f, 0));
    CU_ASSERT_TRUE(fabric_link_is_down(f, 1));
    shash_destroy(&p.sh);

    /* sp1 disconnects: its ends count as usable again, once the damping
     * of link 1's flap (1 s by default) is over. */
    fabric_set_ports(f, SP1, NULL);
    CU_ASSERT_FALSE(fabric_run(f, 999));
    CU_ASSERT_TRUE(fabric_link_is_damped(f, 1));
    CU_ASSERT_TRUE(fabric_run(f, 1000));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 1));

    /* The far end alone can take a link down. */
    shash_init(&p.sh);
    fabric_set_ports(f, LF2, &p.sh);
    CU_ASSERT_TRUE(fabric_run(f, 0));
    CU_ASSERT_TRUE(fabric_link_is_down(f, 1));
    CU_ASSERT_TRUE(fabric_link_is_down(f, 3));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));
    shash_destroy(&p.sh);

    fabric_destroy(f);
    cfg_destroy(cfg);
}

/* Next hops follow the first shortest path in configuration order and move
 * to the other spine when a link of the first goes down. */
static void
test_next_hops(void)
{
    static const char *const lf2_ports[] = { "lf2-sp1", "lf2-sp2" };
    struct sfm_config *cfg = parse(two_spines_yaml);
    struct fabric *f;
    struct ports p;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    f = fabric_create(cfg);
    CU_ASSERT_STRING_EQUAL(fabric_next_port(f, LF1, LF2), "lf1-sp1");
    CU_ASSERT_STRING_EQUAL(fabric_next_port(f, SP1, LF2), "sp1-lf2");
    CU_ASSERT_STRING_EQUAL(fabric_next_port(f, LF1, SP2), "lf1-sp2");
    CU_ASSERT_PTR_NULL(fabric_next_port(f, LF1, LF1));
    CU_ASSERT_TRUE(fabric_reachable(f, LF1, LF1));
    CU_ASSERT_TRUE(fabric_has_links(f, SP1));

    ports_init(&p, lf2_ports, ARRAY_SIZE(lf2_ports), "lf2-sp1");
    fabric_set_ports(f, LF2, &p.sh);
    CU_ASSERT_TRUE(fabric_run(f, 0));
    CU_ASSERT_STRING_EQUAL(fabric_next_port(f, LF1, LF2), "lf1-sp2");
    CU_ASSERT_STRING_EQUAL(fabric_next_port(f, LF2, LF1), "lf2-sp2");
    /* sp1 still reaches lf2, through lf1 and sp2. */
    CU_ASSERT_STRING_EQUAL(fabric_next_port(f, SP1, LF2), "sp1-lf1");
    shash_destroy(&p.sh);

    /* Both of lf2's links down: lf2 is cut off. */
    ports_init(&p, lf2_ports, ARRAY_SIZE(lf2_ports), "lf2-sp1 lf2-sp2");
    fabric_set_ports(f, LF2, &p.sh);
    CU_ASSERT_TRUE(fabric_run(f, 0));
    CU_ASSERT_FALSE(fabric_reachable(f, LF1, LF2));
    CU_ASSERT_PTR_NULL(fabric_next_port(f, LF1, LF2));
    CU_ASSERT_TRUE(fabric_reachable(f, LF1, SP2));
    shash_destroy(&p.sh);

    fabric_destroy(f);
    cfg_destroy(cfg);
}

/* An instance is cut off only while a chain of its service still joins its
 * ends and none reaches it. */
static void
test_cut_off(void)
{
    static const char *const sp2_ports[] = { "sp2-lf1", "sp2-lf2", "fw-3" };
    static const char *const lf2_ports[] = { "lf2-sp1", "lf2-sp2" };
    struct sfm_config *cfg = parse(two_spines_yaml);
    const struct cfg_instance *fw;
    struct fabric *f;
    struct ports p;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    fw = cfg->services[0].instances;
    f = fabric_create(cfg);
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_FALSE(fabric_cut_off(f, &fw[i]));
    }

    /* sp2 loses both its links: the chain goes through sp1, fw-3 on sp2
     * is cut off. */
    ports_init(&p, sp2_ports, ARRAY_SIZE(sp2_ports), "sp2-lf1 sp2-lf2");
    fabric_set_ports(f, SP2, &p.sh);
    CU_ASSERT_TRUE(fabric_run(f, 0));
    CU_ASSERT_FALSE(fabric_cut_off(f, &fw[0]));
    CU_ASSERT_FALSE(fabric_cut_off(f, &fw[1]));
    CU_ASSERT_TRUE(fabric_cut_off(f, &fw[2]));
    shash_destroy(&p.sh);

    /* lf2 cut off as well: the chain itself is cut in two, which says
     * nothing about the instances. */
    ports_init(&p, lf2_ports, ARRAY_SIZE(lf2_ports), "lf2-sp1 lf2-sp2");
    fabric_set_ports(f, LF2, &p.sh);
    CU_ASSERT_TRUE(fabric_run(f, 0));
    for (size_t i = 0; i < 3; i++) {
        CU_ASSERT_FALSE(fabric_cut_off(f, &fw[i]));
    }
    shash_destroy(&p.sh);

    fabric_destroy(f);
    cfg_destroy(cfg);
}

/* The links as sfmesh-ctl switches shows them. */
static void
test_format(void)
{
    static const char *const sp1_ports[] = { "sp1-lf1", "sp1-lf2" };
    struct sfm_config *cfg = parse(two_spines_yaml);
    struct ds s = DS_EMPTY_INITIALIZER;
    struct fabric *f;
    struct ports p;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    f = fabric_create(cfg);
    ports_init(&p, sp1_ports, ARRAY_SIZE(sp1_ports), "sp1-lf1");
    fabric_set_ports(f, SP1, &p.sh);
    fabric_run(f, 0);
    fabric_format(f, 0, &s);
    CU_ASSERT_STRING_EQUAL(ds_cstr(&s),
                           "link lf1:lf1-sp1 - sp1:sp1-lf1: down\n"
                           "link lf2:lf2-sp1 - sp1:sp1-lf2: up\n"
                           "link lf1:lf1-sp2 - sp2:sp2-lf1: up\n"
                           "link lf2:lf2-sp2 - sp2:sp2-lf2: up\n");
    shash_destroy(&p.sh);
    ds_destroy(&s);
    fabric_destroy(f);
    cfg_destroy(cfg);
}

/* Two switches and one link, damped 1 s at the first flap, at most 4 s,
 * the penalty halving after 10 s quiet. */
static const char damped_yaml[] =
    "buckets: 2\n"
    "link_damping: {base_ms: 1000, max_ms: 4000, decay_ms: 10000}\n"
    "switches:\n"
    "  a: {dpid: 1}\n"
    "  b: {dpid: 2}\n"
    "links:\n"
    "  - [{switch: a, port: a-b}, {switch: b, port: b-a}]\n"
    "services:\n"
    "  fw:\n"
    "    instances:\n"
    "      fw-1: {switch: b, port: fw-1, mac: \"02:00:00:00:01:01\"}\n"
    "chains:\n"
    "  web:\n"
    "    spi: 100\n"
    "    ingress: {switch: a, port: client}\n"
    "    egress: {switch: a, port: server}\n"
    "    services: [fw]\n";

/* Tells 'f' switch 'sw''s one port 'name', live or not. */
static void
set_port(struct fabric *f, size_t sw, const char *name, bool live)
{
    struct ports p;

    ports_init(&p, &name, 1, live ? "" : name);
    fabric_set_ports(f, sw, &p.sh);
    shash_destroy(&p.sh);
}

/* A link that flaps stays down after its ends are back until its damping
 * time ends, at once when it goes down; the times double up to the
 * maximum and the penalty decays. */
static void
test_damping(void)
{
    struct sfm_config *cfg = parse(damped_yaml);
    struct ds s = DS_EMPTY_INITIALIZER;
    struct fabric *f;
    const struct cfg_instance *fw;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    fw = cfg->services[0].instances;
    f = fabric_create(cfg);

    /* a's end down before b ever connected: not a flap (the link was
     * never seen up), so no damping when it comes back. */
    set_port(f, 0, "a-b", false);
    CU_ASSERT_TRUE(fabric_run(f, 0));
    set_port(f, 0, "a-b", true);
    CU_ASSERT_TRUE(fabric_run(f, 10));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));

    /* Both ends live, then down at 100: a flap, damped until 1100. */
    set_port(f, 1, "b-a", true);
    CU_ASSERT_FALSE(fabric_run(f, 20));
    set_port(f, 1, "b-a", false);
    CU_ASSERT_TRUE(fabric_run(f, 100));
    CU_ASSERT_TRUE(fabric_link_is_down(f, 0));
    CU_ASSERT_FALSE(fabric_link_is_damped(f, 0));
    CU_ASSERT_TRUE(fabric_cut_off(f, &fw[0]));
    set_port(f, 1, "b-a", true);
    CU_ASSERT_FALSE(fabric_run(f, 400));
    CU_ASSERT_TRUE(fabric_link_is_down(f, 0));
    CU_ASSERT_TRUE(fabric_link_is_damped(f, 0));
    CU_ASSERT_TRUE(fabric_cut_off(f, &fw[0]));
    fabric_format(f, 500, &s);
    CU_ASSERT_STRING_EQUAL(ds_cstr(&s), "link a:a-b - b:b-a: down, damped "
                           "for 600 ms more (1 flaps, penalty 1000 ms)\n");
    ds_clear(&s);
    CU_ASSERT_FALSE(fabric_run(f, 1099));
    CU_ASSERT_TRUE(fabric_run(f, 1100));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));
    CU_ASSERT_FALSE(fabric_link_is_damped(f, 0));
    CU_ASSERT_FALSE(fabric_cut_off(f, &fw[0]));

    /* Flaps at 2000 (2 s), 2500 (4 s) and 3000 (4 s, the maximum), each
     * back 100 ms later: down until 7000, and each flap while damped
     * counts. */
    for (long long int t = 2000; t <= 3000; t += 500) {
        set_port(f, 1, "b-a", false);
        fabric_run(f, t);
        CU_ASSERT_TRUE(fabric_link_is_down(f, 0));
        set_port(f, 1, "b-a", true);
        fabric_run(f, t + 100);
        CU_ASSERT_TRUE(fabric_link_is_down(f, 0));
    }
    CU_ASSERT_FALSE(fabric_run(f, 6999));
    CU_ASSERT_TRUE(fabric_link_is_down(f, 0));
    CU_ASSERT_TRUE(fabric_run(f, 7000));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));
    fabric_format(f, 7000, &s);
    CU_ASSERT_STRING_EQUAL(ds_cstr(&s), "link a:a-b - b:b-a: up "
                           "(4 flaps, penalty 4000 ms)\n");
    ds_clear(&s);

    /* 10 s quiet halves the penalty: a flap at 13000 doubles 2000 back to
     * 4000; after 20 s more quiet (1000, then below the base: 0), a flap
     * starts again from 1 s. */
    set_port(f, 1, "b-a", false);
    fabric_run(f, 13000);
    set_port(f, 1, "b-a", true);
    fabric_run(f, 13100);
    CU_ASSERT_FALSE(fabric_run(f, 16999));
    CU_ASSERT_TRUE(fabric_run(f, 17000));
    set_port(f, 1, "b-a", false);
    fabric_run(f, 13000 + 30000);
    set_port(f, 1, "b-a", true);
    fabric_run(f, 43100);
    CU_ASSERT_TRUE(fabric_link_is_damped(f, 0));
    CU_ASSERT_TRUE(fabric_run(f, 44000));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));

    /* b disconnects and comes back with its port down: its end was not
     * known live in between, but the link was up before: a flap. */
    fabric_set_ports(f, 1, NULL);
    CU_ASSERT_FALSE(fabric_run(f, 50000));
    set_port(f, 1, "b-a", false);
    CU_ASSERT_TRUE(fabric_run(f, 50100));
    set_port(f, 1, "b-a", true);
    fabric_run(f, 50200);
    CU_ASSERT_TRUE(fabric_link_is_damped(f, 0));

    /* b's host dies: b's end down (a flap), then b disconnects.  a's end
     * comes back while b is away, and b, restarted, connects with its end
     * down until its BFD is up: the link never worked since it went down,
     * so that is no second flap. */
    CU_ASSERT_TRUE(fabric_run(f, 60000));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));
    set_port(f, 1, "b-a", false);
    CU_ASSERT_TRUE(fabric_run(f, 70000));
    fabric_set_ports(f, 1, NULL);
    set_port(f, 0, "a-b", false);
    fabric_run(f, 70100);
    set_port(f, 0, "a-b", true);
    fabric_run(f, 75000);
    set_port(f, 1, "b-a", false);
    fabric_run(f, 75100);
    set_port(f, 1, "b-a", true);
    fabric_run(f, 76000);
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));
    fabric_format(f, 76000, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "(8 flaps,"));
    ds_clear(&s);

    ds_destroy(&s);
    fabric_destroy(f);
    cfg_destroy(cfg);
}

/* With base_ms 0 a link is usable again as soon as its ends are. */
static void
test_no_damping(void)
{
    char *yaml = xasprintf("%s", damped_yaml);
    struct sfm_config *cfg;
    struct fabric *f;

    memcpy(strstr(yaml, "base_ms: 1000"), "base_ms:    0", 13);
    cfg = parse(yaml);
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    f = fabric_create(cfg);
    set_port(f, 0, "a-b", true);
    set_port(f, 1, "b-a", true);
    fabric_run(f, 0);
    set_port(f, 1, "b-a", false);
    CU_ASSERT_TRUE(fabric_run(f, 100));
    set_port(f, 1, "b-a", true);
    CU_ASSERT_TRUE(fabric_run(f, 101));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));
    fabric_destroy(f);
    cfg_destroy(cfg);
    free(yaml);
}

static const struct test_case fabric_tests[] = {
    { "link liveness from the switches' ports", test_liveness },
    { "next hops move with the links", test_next_hops },
    { "instances cut off, chains cut in two", test_cut_off },
    { "format", test_format },
    { "a link that flaps is damped", test_damping },
    { "no damping with base_ms 0", test_no_damping },
    { NULL, NULL },
};

TEST_SUITE("fabric", fabric_tests)
