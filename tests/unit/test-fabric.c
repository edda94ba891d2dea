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
    CU_ASSERT_FALSE(fabric_run(f));

    /* sp1 connects with both ports live: nothing changes. */
    ports_init(&p, sp1_all, ARRAY_SIZE(sp1_all), "");
    fabric_set_ports(f, SP1, &p.sh);
    CU_ASSERT_FALSE(fabric_run(f));
    shash_destroy(&p.sh);

    /* sp1-lf2 not live: link 1 down, the others not. */
    ports_init(&p, sp1_all, ARRAY_SIZE(sp1_all), "sp1-lf2");
    fabric_set_ports(f, SP1, &p.sh);
    CU_ASSERT_FALSE(fabric_link_is_down(f, 1)); /* Not before the run. */
    CU_ASSERT_TRUE(fabric_run(f));
    CU_ASSERT_TRUE(fabric_link_is_down(f, 1));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));
    CU_ASSERT_FALSE(fabric_run(f));
    shash_destroy(&p.sh);

    /* Missing is as down as not live: no change. */
    ports_init(&p, sp1_one, ARRAY_SIZE(sp1_one), "");
    fabric_set_ports(f, SP1, &p.sh);
    CU_ASSERT_FALSE(fabric_run(f));
    CU_ASSERT_TRUE(fabric_link_is_down(f, 1));
    shash_destroy(&p.sh);

    /* sp1 disconnects: its ends count as usable again. */
    fabric_set_ports(f, SP1, NULL);
    CU_ASSERT_TRUE(fabric_run(f));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 1));

    /* The far end alone can take a link down. */
    shash_init(&p.sh);
    fabric_set_ports(f, LF2, &p.sh);
    CU_ASSERT_TRUE(fabric_run(f));
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
    CU_ASSERT_TRUE(fabric_run(f));
    CU_ASSERT_STRING_EQUAL(fabric_next_port(f, LF1, LF2), "lf1-sp2");
    CU_ASSERT_STRING_EQUAL(fabric_next_port(f, LF2, LF1), "lf2-sp2");
    /* sp1 still reaches lf2, through lf1 and sp2. */
    CU_ASSERT_STRING_EQUAL(fabric_next_port(f, SP1, LF2), "sp1-lf1");
    shash_destroy(&p.sh);

    /* Both of lf2's links down: lf2 is cut off. */
    ports_init(&p, lf2_ports, ARRAY_SIZE(lf2_ports), "lf2-sp1 lf2-sp2");
    fabric_set_ports(f, LF2, &p.sh);
    CU_ASSERT_TRUE(fabric_run(f));
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
    CU_ASSERT_TRUE(fabric_run(f));
    CU_ASSERT_FALSE(fabric_cut_off(f, &fw[0]));
    CU_ASSERT_FALSE(fabric_cut_off(f, &fw[1]));
    CU_ASSERT_TRUE(fabric_cut_off(f, &fw[2]));
    shash_destroy(&p.sh);

    /* lf2 cut off as well: the chain itself is cut in two, which says
     * nothing about the instances. */
    ports_init(&p, lf2_ports, ARRAY_SIZE(lf2_ports), "lf2-sp1 lf2-sp2");
    fabric_set_ports(f, LF2, &p.sh);
    CU_ASSERT_TRUE(fabric_run(f));
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
    fabric_run(f);
    fabric_format(f, &s);
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

static const struct test_case fabric_tests[] = {
    { "link liveness from the switches' ports", test_liveness },
    { "next hops move with the links", test_next_hops },
    { "instances cut off, chains cut in two", test_cut_off },
    { "format", test_format },
    { NULL, NULL },
};

TEST_SUITE("fabric", fabric_tests)
