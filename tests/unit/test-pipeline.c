/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Pipeline generation against reviewed expected output
 * (tests/unit/golden/pipeline-*.txt), and its rules one by one. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "fabric.h"
#include "flow.h"
#include "packets.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/nsh.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/shash.h"
#include "fake-table.h"
#include "flowset.h"
#include "pipeline.h"
#include "svcmap.h"
#include "tests.h"
#include "util.h"

/* Returns the index of switch 'name' in 'cfg'. */
static size_t
switch_idx(const struct sfm_config *cfg, const char *name)
{
    const struct cfg_switch *sw = cfg_find_switch(cfg, name);

    CU_ASSERT_PTR_NOT_NULL_FATAL(sw);
    return sw - cfg->switches;
}

/* Generates into 'd' the pipeline of switch 'name' of 'cfg' with every
 * link usable. */
static void
generate(const struct sfm_config *cfg, const char *name,
         struct svcmap *const *maps, const struct shash *ports,
         struct flowset *d)
{
    struct fabric *f = fabric_create(cfg);

    pl_generate(cfg, f, switch_idx(cfg, name), maps, ports, d);
    fabric_destroy(f);
}

static const char two_service_yaml[] =
    "buckets: 4\n"
    "switches:\n"
    "  sw1: {dpid: 1}\n"
    "services:\n"
    "  fw:\n"
    "    instances:\n"
    "      fw-1: {switch: sw1, port: fw-1, mac: \"02:00:00:00:01:01\"}\n"
    "      fw-2: {switch: sw1, port: fw-2, mac: \"02:00:00:00:01:02\"}\n"
    "  dlp:\n"
    "    instances:\n"
    "      dlp-1: {switch: sw1, port: dlp-1, mac: \"02:00:00:00:02:01\"}\n"
    "      dlp-2: {switch: sw1, port: dlp-2, mac: \"02:00:00:00:02:02\"}\n"
    "chains:\n"
    "  web:\n"
    "    spi: 100\n"
    "    ingress: {switch: sw1, port: client}\n"
    "    egress: {switch: sw1, port: server}\n"
    "    services: [fw, dlp]\n";

/* The switch's ports, numbered in this order from 1. */
static const char *const port_names[] = {
    "client", "server", "fw-1", "fw-2", "dlp-1", "dlp-2",
};
static struct ofputil_phy_port ports[ARRAY_SIZE(port_names)];

struct fixture {
    struct sfm_config *cfg;
    struct svcmap *maps[2];
    struct shash ports;
};

/* Builds the two-service chain with fixed (not hashed) assignments, so
 * that the expected output reads easily:
 *   fw:  bucket 0 fw-1/fw-2, 1 fw-2/fw-1, 2 fw-1/none, 3 none/none;
 *   dlp: bucket b primary dlp-(1 + b % 2), secondary the other. */
static void
fixture_init(struct fixture *fx, size_t n_ports)
{
    char *error = cfg_parse("test.yaml", two_service_yaml,
                            strlen(two_service_yaml), &fx->cfg);

    CU_ASSERT_PTR_NULL_FATAL(error);
    for (size_t i = 0; i < 2; i++) {
        const struct cfg_service *svc = &fx->cfg->services[i];

        fx->maps[i] = svcmap_create(svc->name, cfg_n_buckets(fx->cfg));
        for (size_t j = 0; j < svc->n_instances; j++) {
            svcmap_add_instance(fx->maps[i], svc->instances[j].name, 1);
        }
        svcmap_assign(fx->maps[i]);
    }
    struct svcmap_bucket *fw = fx->maps[0]->buckets;
    fw[0] = (struct svcmap_bucket) { 0, 1, SVCMAP_NONE, 0 };
    fw[1] = (struct svcmap_bucket) { 1, 0, SVCMAP_NONE, 0 };
    fw[2] = (struct svcmap_bucket) { 0, SVCMAP_NONE, SVCMAP_NONE, 0 };
    fw[3] = (struct svcmap_bucket) { SVCMAP_NONE, SVCMAP_NONE, SVCMAP_NONE, 0 };
    for (int b = 0; b < 4; b++) {
        fx->maps[1]->buckets[b] = (struct svcmap_bucket) { b % 2, 1 - b % 2, SVCMAP_NONE, 0 };
    }

    shash_init(&fx->ports);
    for (size_t i = 0; i < n_ports; i++) {
        memset(&ports[i], 0, sizeof ports[i]);
        ports[i].port_no = u16_to_ofp(i + 1);
        ovs_strlcpy(ports[i].name, port_names[i], sizeof ports[i].name);
        shash_add(&fx->ports, port_names[i], &ports[i]);
    }
}

static void
fixture_destroy(struct fixture *fx)
{
    for (size_t i = 0; i < 2; i++) {
        svcmap_destroy(fx->maps[i]);
    }
    shash_destroy(&fx->ports);
    cfg_destroy(fx->cfg);
}

/* Returns the contents of file 'name', or NULL. */
static char *
read_file(const char *name)
{
    FILE *f = fopen(name, "r");
    struct ds s = DS_EMPTY_INITIALIZER;

    if (!f) {
        return NULL;
    }
    for (int c; (c = getc(f)) != EOF; ) {
        ds_put_char(&s, c);
    }
    fclose(f);
    return ds_steal_cstr(&s);
}

/* Compares 'actual' with the file 'golden'; on a difference writes
 * 'actual' next to it (".new") for review. */
static void
check_golden(const char *golden, const char *actual)
{
    char *expected = read_file(golden);

    CU_ASSERT_PTR_NOT_NULL(expected);
    if (!expected || strcmp(expected, actual)) {
        char *name = xasprintf("%s.new", golden);
        FILE *f = fopen(name, "w");

        if (f) {
            fputs(actual, f);
            fclose(f);
        }
        fprintf(stderr, "\n%s differs; see %s\n", golden, name);
        free(name);
        CU_FAIL("pipeline output differs from the reviewed output");
    }
    free(expected);
}

/* Asserts that every flow and group of 'd' comes back from a switch in
 * OpenFlow 1.3, 1.4 and 1.5 exactly as the reconciler holds it: else a
 * switch that holds the desired state would look different, and the
 * reconciler would rewrite it. */
static void
assert_round_trip(const struct flowset *d)
{
    for (enum ofp_version v = OFP13_VERSION; v <= OFP15_VERSION; v++) {
        struct ds s = DS_EMPTY_INITIALIZER;
        size_t n_bad = fake_round_trip(d, v, &s);

        if (n_bad) {
            fprintf(stderr, "\n%s", ds_cstr(&s));
        }
        CU_ASSERT_EQUAL(n_bad, 0);
        ds_destroy(&s);
    }
}

static void
test_golden(void)
{
    struct fixture fx;
    struct flowset d;
    struct ds s = DS_EMPTY_INITIALIZER;

    fixture_init(&fx, ARRAY_SIZE(port_names));
    flowset_init(&d);
    generate(fx.cfg, "sw1", fx.maps, &fx.ports, &d);
    assert_round_trip(&d);
    ds_put_cstr(&s, "# flows\n");
    flowset_format_flows(&d, &s);
    ds_put_cstr(&s, "# groups\n");
    flowset_format_groups(&d, &s);
    check_golden("tests/unit/golden/pipeline-two-service.txt", ds_cstr(&s));

    /* 2 ARP bypass + 2 classify + 8 instance returns + 4 port drops + 1
     * miss in table 0; 2 directions x 2 hops x 4 buckets + 2 chain ends +
     * 1 miss in table 1; 2 services x 4 buckets groups. */
    CU_ASSERT_EQUAL(flowset_n_flows(&d), 17 + 19);
    CU_ASSERT_EQUAL(flowset_n_groups(&d), 8);
    ds_destroy(&s);
    flowset_destroy(&d);
    fixture_destroy(&fx);
}

/* With "classifier: dp-hash", only the classification changes: table 0
 * sends a chain end's frames to the classifier group, whose bucket copies
 * the datapath hash's low bits (2 for 4 buckets) into reg0 and resubmits to
 * table 3, where the port's flow pushes the headers and resubmits to the
 * steering table, which is as with multipath. */
static void
test_golden_dp_hash(void)
{
    struct fixture fx;
    struct flowset d;
    struct ds s = DS_EMPTY_INITIALIZER;

    fixture_init(&fx, ARRAY_SIZE(port_names));
    fx.cfg->classifier = CFG_CLASSIFIER_DP_HASH;
    flowset_init(&d);
    generate(fx.cfg, "sw1", fx.maps, &fx.ports, &d);
    assert_round_trip(&d);
    ds_put_cstr(&s, "# flows\n");
    flowset_format_flows(&d, &s);
    ds_put_cstr(&s, "# groups\n");
    flowset_format_groups(&d, &s);
    check_golden("tests/unit/golden/pipeline-dp-hash.txt", ds_cstr(&s));
    CU_ASSERT(!strstr(ds_cstr(&s), "multipath"));

    /* As with multipath, plus 2 classifications and a miss in table 3;
     * the classifier group besides the 8. */
    CU_ASSERT_EQUAL(flowset_n_flows(&d), 17 + 19 + 3);
    CU_ASSERT_EQUAL(flowset_n_groups(&d), 8 + 1);
    ds_destroy(&s);
    flowset_destroy(&d);

    /* Without the chain's ports, nothing classifies: no classifier group,
     * no table 3. */
    shash_clear(&fx.ports);
    flowset_init(&d);
    generate(fx.cfg, "sw1", fx.maps, &fx.ports, &d);
    ds_init(&s);
    flowset_format_flows(&d, &s);
    flowset_format_groups(&d, &s);
    CU_ASSERT(!strstr(ds_cstr(&s), "table=3"));
    CU_ASSERT(!strstr(ds_cstr(&s), "group_id=1,"));
    ds_destroy(&s);
    flowset_destroy(&d);
    fixture_destroy(&fx);
}

static void
test_missing_ports(void)
{
    struct fixture fx;
    struct flowset d;
    struct ds s = DS_EMPTY_INITIALIZER;

    /* Only client, server, fw-1 and fw-2 exist: the dlp instances are left
     * out of their groups and get no flows. */
    fixture_init(&fx, 4);
    flowset_init(&d);
    generate(fx.cfg, "sw1", fx.maps, &fx.ports, &d);
    flowset_format_flows(&d, &s);
    flowset_format_groups(&d, &s);
    CU_ASSERT_PTR_NULL(strstr(ds_cstr(&s), "in_port=5"));
    CU_ASSERT_PTR_NULL(strstr(ds_cstr(&s), "02:00:00:00:02:01"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "group_id=131072,type=ff\n"));
    ds_clear(&s);
    flowset_destroy(&d);

    /* Without the egress port (2) nothing classifies from it or leaves by
     * it: the forward chain ends in the steering table's miss. */
    shash_find_and_delete(&fx.ports, "server");
    flowset_init(&d);
    generate(fx.cfg, "sw1", fx.maps, &fx.ports, &d);
    flowset_format_flows(&d, &s);
    CU_ASSERT_PTR_NULL(strstr(ds_cstr(&s), "in_port=2"));
    CU_ASSERT_PTR_NULL(strstr(ds_cstr(&s), "output:2"));
    CU_ASSERT_PTR_NULL(strstr(ds_cstr(&s), "nsh_spi=0x64,nsh_si=253 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "ip,in_port=1 "));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "nsh_spi=0x65,nsh_si=253 "));
    ds_destroy(&s);
    flowset_destroy(&d);
    fixture_destroy(&fx);
}

/* A configured switch that no chain crosses gets only its table-miss
 * flows. */
static void
test_other_switch(void)
{
    const char *sw1 = strstr(two_service_yaml, "  sw1:");
    struct ds yaml = DS_EMPTY_INITIALIZER;
    struct sfm_config *cfg;
    struct fixture fx;
    struct flowset d;
    char *error;

    ds_put_buffer(&yaml, two_service_yaml, sw1 - two_service_yaml);
    ds_put_format(&yaml, "  sw2: {dpid: 2}\n%s", sw1);
    error = cfg_parse("test.yaml", yaml.string, yaml.length, &cfg);
    CU_ASSERT_PTR_NULL_FATAL(error);
    fixture_init(&fx, ARRAY_SIZE(port_names));
    flowset_init(&d);
    generate(cfg, "sw2", fx.maps, &fx.ports, &d);
    CU_ASSERT_EQUAL(flowset_n_groups(&d), 0);
    CU_ASSERT_EQUAL(flowset_n_flows(&d), 2);
    flowset_destroy(&d);
    fixture_destroy(&fx);
    cfg_destroy(cfg);
    ds_destroy(&yaml);
}

/* A leaf-spine fabric: the client and fw-1, dlp-1 on lf1; the server and
 * fw-2, dlp-2 on lf2; both leaves linked to sp1. */
static const char fabric_yaml[] =
    "buckets: 2\n"
    "switches:\n"
    "  sp1: {dpid: 1}\n"
    "  lf1: {dpid: 2}\n"
    "  lf2: {dpid: 3}\n"
    "links:\n"
    "  - [{switch: lf1, port: lf1-sp1}, {switch: sp1, port: sp1-lf1}]\n"
    "  - [{switch: lf2, port: lf2-sp1}, {switch: sp1, port: sp1-lf2}]\n"
    "services:\n"
    "  fw:\n"
    "    instances:\n"
    "      fw-1: {switch: lf1, port: fw-1, mac: \"02:00:00:00:01:01\"}\n"
    "      fw-2: {switch: lf2, port: fw-2, mac: \"02:00:00:00:01:02\"}\n"
    "  dlp:\n"
    "    instances:\n"
    "      dlp-1: {switch: lf1, port: dlp-1, mac: \"02:00:00:00:02:01\"}\n"
    "      dlp-2: {switch: lf2, port: dlp-2, mac: \"02:00:00:00:02:02\"}\n"
    "chains:\n"
    "  web:\n"
    "    spi: 100\n"
    "    ingress: {switch: lf1, port: client}\n"
    "    egress: {switch: lf2, port: server}\n"
    "    services: [fw, dlp]\n";

/* Each leaf's ports, numbered from 1 (the spine's are sp1-lf1 = 1 and
 * sp1-lf2 = 2). */
static const char *const lf1_ports[] = { "client", "lf1-sp1", "fw-1",
                                         "dlp-1" };
static const char *const lf2_ports[] = { "server", "lf2-sp1", "fw-2",
                                         "dlp-2" };
static const char *const sp1_ports[] = { "sp1-lf1", "sp1-lf2" };

static void
fabric_ports(struct shash *sh, struct ofputil_phy_port *pps,
             const char *const *names, size_t n)
{
    shash_init(sh);
    for (size_t i = 0; i < n; i++) {
        memset(&pps[i], 0, sizeof pps[i]);
        pps[i].port_no = u16_to_ofp(i + 1);
        pps[i].state = OFPUTIL_PS_LIVE;
        ovs_strlcpy(pps[i].name, names[i], sizeof pps[i].name);
        shash_add(sh, names[i], &pps[i]);
    }
}

/* Steering across switches, each switch against reviewed output.  Bucket
 * 0 of each service has its primary on lf1 and its secondary on lf2,
 * bucket 1 the other way round. */
static void
test_fabric(void)
{
    static const struct {
        const char *name;
        const char *const *ports;
        size_t n_ports;
    } switches[] = {
        { "lf1", lf1_ports, ARRAY_SIZE(lf1_ports) },
        { "sp1", sp1_ports, ARRAY_SIZE(sp1_ports) },
        { "lf2", lf2_ports, ARRAY_SIZE(lf2_ports) },
    };
    struct ofputil_phy_port pps[4];
    struct ds s = DS_EMPTY_INITIALIZER;
    struct sfm_config *cfg;
    struct svcmap *maps[2];
    char *error;

    error = cfg_parse("fabric.yaml", fabric_yaml, strlen(fabric_yaml), &cfg);
    CU_ASSERT_PTR_NULL_FATAL(error);
    for (size_t i = 0; i < 2; i++) {
        const struct cfg_service *svc = &cfg->services[i];

        maps[i] = svcmap_create(svc->name, cfg_n_buckets(cfg));
        for (size_t j = 0; j < svc->n_instances; j++) {
            svcmap_add_instance(maps[i], svc->instances[j].name, 1);
        }
        svcmap_assign(maps[i]);
        maps[i]->buckets[0] = (struct svcmap_bucket) { 0, 1, SVCMAP_NONE, 0 };
        maps[i]->buckets[1] = (struct svcmap_bucket) { 1, 0, SVCMAP_NONE, 0 };
    }

    for (size_t i = 0; i < ARRAY_SIZE(switches); i++) {
        struct flowset d;
        struct shash ports;

        fabric_ports(&ports, pps, switches[i].ports, switches[i].n_ports);
        flowset_init(&d);
        generate(cfg, switches[i].name, maps, &ports, &d);
        assert_round_trip(&d);
        ds_put_format(&s, "# %s flows\n", switches[i].name);
        flowset_format_flows(&d, &s);
        ds_put_format(&s, "# %s groups\n", switches[i].name);
        flowset_format_groups(&d, &s);
        if (!strcmp(switches[i].name, "sp1")) {
            /* The spine only forwards. */
            CU_ASSERT_EQUAL(flowset_n_groups(&d), 0);
        }
        flowset_destroy(&d);
        shash_destroy(&ports);
    }
    check_golden("tests/unit/golden/pipeline-fabric.txt", ds_cstr(&s));

    /* dlp-2's port goes down: lf2 sends every frame for dlp-2 into its
     * bucket's group, also in bucket 0 where dlp-2 is only the secondary,
     * since lf1 may not have heard of the failure yet. */
    {
        struct flowset d;
        struct shash ports;

        fabric_ports(&ports, pps, lf2_ports, ARRAY_SIZE(lf2_ports));
        pps[3].state = 0;
        flowset_init(&d);
        generate(cfg, "lf2", maps, &ports, &d);
        ds_clear(&s);
        flowset_format_flows(&d, &s);
        CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s),
            "dl_dst=02:00:00:00:02:02,dl_type=0x894f,nsh_mdtype=1,"
            "nsh_c1=0x0/0x1 actions=dec_nsh_ttl,"
            "set_field:02:5f:6d:00:00:01->eth_src,set_field:0->in_port,"
            "group:131072\n"));
        CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s),
            "dl_dst=02:00:00:00:02:02,dl_type=0x894f,nsh_mdtype=1,"
            "nsh_c1=0x1/0x1 actions=dec_nsh_ttl,"
            "set_field:02:5f:6d:00:00:01->eth_src,set_field:0->in_port,"
            "group:131073\n"));
        /* fw-2, live, still takes only its own bucket. */
        CU_ASSERT_PTR_NULL(strstr(ds_cstr(&s),
            "dl_dst=02:00:00:00:01:02,dl_type=0x894f,nsh_mdtype=1,"
            "nsh_c1=0x0/0x1"));
        flowset_destroy(&d);
        shash_destroy(&ports);
    }

    ds_destroy(&s);
    for (size_t i = 0; i < 2; i++) {
        svcmap_destroy(maps[i]);
    }
    cfg_destroy(cfg);
}

/* Two spines: with lf2's link to sp1 down, lf1 reaches lf2's instances
 * and the server through sp2. */
static void
test_fabric_link_down(void)
{
    static const char yaml[] =
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
        "chains:\n"
        "  web:\n"
        "    spi: 100\n"
        "    ingress: {switch: lf1, port: client}\n"
        "    egress: {switch: lf2, port: server}\n"
        "    services: [fw]\n";
    static const char *const names[] = {
        "client", "lf1-sp1", "fw-1", "lf1-sp2",
    };
    struct ofputil_phy_port pps[ARRAY_SIZE(names)];
    static const char *const sp1_names[] = { "sp1-lf1" };
    struct ofputil_phy_port sp1_pps[ARRAY_SIZE(sp1_names)];
    struct shash sp1_ports;
    struct fabric *f;
    struct ds s = DS_EMPTY_INITIALIZER;
    struct sfm_config *cfg;
    struct svcmap *map;
    struct flowset d;
    struct shash ports;
    char *error;

    error = cfg_parse("fabric.yaml", yaml, strlen(yaml), &cfg);
    CU_ASSERT_PTR_NULL_FATAL(error);
    map = svcmap_create("fw", 2);
    svcmap_add_instance(map, "fw-1", 1);
    svcmap_add_instance(map, "fw-2", 1);
    svcmap_assign(map);
    map->buckets[0] = (struct svcmap_bucket) { 1, 0, SVCMAP_NONE, 0 };
    map->buckets[1] = (struct svcmap_bucket) { 0, 1, SVCMAP_NONE, 0 };
    fabric_ports(&ports, pps, names, ARRAY_SIZE(names));

    /* All links up: through sp1 (port 2), the first link. */
    flowset_init(&d);
    generate(cfg, "lf1", &map, &ports, &d);
    flowset_format_flows(&d, &s);
    flowset_format_groups(&d, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "group_id=65536,type=ff,"
        "bucket=watch_port:2,actions=set_field:02:00:00:00:01:02->eth_dst,"
        "output:2,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "nsh_si=254 actions=output:2"));
    flowset_destroy(&d);

    /* lf2-sp1 down, seen as its port missing on sp1: through sp2 (port
     * 4). */
    f = fabric_create(cfg);
    fabric_ports(&sp1_ports, sp1_pps, sp1_names, ARRAY_SIZE(sp1_names));
    fabric_set_ports(f, switch_idx(cfg, "sp1"), &sp1_ports);
    CU_ASSERT_TRUE(fabric_run(f, 0));
    CU_ASSERT_TRUE(fabric_link_is_down(f, 1));
    CU_ASSERT_FALSE(fabric_link_is_down(f, 0));
    ds_clear(&s);
    flowset_init(&d);
    pl_generate(cfg, f, switch_idx(cfg, "lf1"), &map, &ports, &d);
    flowset_format_flows(&d, &s);
    flowset_format_groups(&d, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "group_id=65536,type=ff,"
        "bucket=watch_port:4,actions=set_field:02:00:00:00:01:02->eth_dst,"
        "output:4,"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "nsh_si=254 actions=output:4"));
    CU_ASSERT_PTR_NULL(strstr(ds_cstr(&s), "output:2"));
    flowset_destroy(&d);

    fabric_destroy(f);
    shash_destroy(&sp1_ports);
    shash_destroy(&ports);
    svcmap_destroy(map);
    ds_destroy(&s);
    cfg_destroy(cfg);
}

/* Ports that are live in the packet tests, by number: all but the ones in
 * 'down'. */
struct liveness {
    ofp_port_t down[4];
    size_t n_down;
};

static bool
port_live(ofp_port_t port, const void *live_)
{
    const struct liveness *live = live_;

    for (size_t i = 0; i < live->n_down; i++) {
        if (live->down[i] == port) {
            return false;
        }
    }
    return true;
}

/* A TCP segment from the client (port 1) to the server, with source port
 * 'sport', or the reply to it from the server (port 2) if 'reply'. */
static struct fake_packet
tcp_packet(uint16_t sport, bool reply)
{
    ovs_be32 client = htonl(0x0a000001), server = htonl(0x0a000002);
    struct fake_packet p;
    struct flow f;

    memset(&f, 0, sizeof f);
    f.packet_type = htonl(PT_ETH);
    f.in_port.ofp_port = u16_to_ofp(reply ? 2 : 1);
    f.dl_type = htons(ETH_TYPE_IP);
    f.nw_proto = IPPROTO_TCP;
    f.nw_ttl = 64;
    f.nw_src = reply ? server : client;
    f.nw_dst = reply ? client : server;
    f.tp_src = htons(reply ? 80 : sport);
    f.tp_dst = htons(reply ? sport : 80);
    fake_packet_init(&p, &f);
    return p;
}

/* Returns the packet 'p' as the instance it reached sends it back on port
 * 'port': one service index further. */
static struct fake_packet
returned_by(struct fake_packet p, int port)
{
    uint32_t spi = nsh_path_hdr_to_spi_uint32(p.flow.nsh.path_hdr);
    uint8_t si = nsh_path_hdr_to_si(p.flow.nsh.path_hdr);

    p.flow.in_port.ofp_port = u16_to_ofp(port);
    p.flow.nsh.path_hdr = nsh_spi_si_to_path_hdr(spi, si - 1);
    return p;
}

/* Returns the port by which 'p' leaves the switch whose flows are 'd', as
 * an integer (-1 for none), with the packet as it leaves in '*out'. */
static int
where(const struct flowset *d, const struct fake_packet *p,
      const struct liveness *live, struct fake_packet *out)
{
    ofp_port_t port = fake_output_port(d, p, port_live, live, out);

    return port == OFPP_NONE ? -1 : ofp_to_u16(port);
}

/* Where packets go through the two-service chain, traced through the
 * pipeline's own output: each stream visits the primary of its bucket at
 * each service, in order, and leaves by the server's port with its
 * headers as they came; its replies take the same instances, in reverse
 * order (the classifier's hash is symmetric); with an instance's port
 * down, its streams go to the bucket's secondary, or nowhere if there is
 * none. */
static void
test_packets(void)
{
    /* Ports of each bucket's primary and secondary, from fixture_init();
     * -1 for none. */
    static const int fw_primary[4] = { 3, 4, 3, -1 };
    static const int fw_secondary[4] = { 4, 3, -1, -1 };
    static const int dlp_primary[4] = { 5, 6, 5, 6 };
    struct liveness all_up = { .n_down = 0 };
    struct liveness fw1_down = { .down = { u16_to_ofp(3) }, .n_down = 1 };
    int n_dropped = 0;
    bool seen[4] = { false };
    struct fixture fx;
    struct flowset d;

    fixture_init(&fx, ARRAY_SIZE(port_names));
    flowset_init(&d);
    generate(fx.cfg, "sw1", fx.maps, &fx.ports, &d);

    for (uint16_t sport = 40000; sport < 40064; sport++) {
        struct fake_packet in = tcp_packet(sport, false), at, out;
        uint32_t bucket;
        int port;

        port = where(&d, &in, &all_up, &at);
        if (port < 0) {
            /* Only bucket 3, which has no fw instance, drops. */
            n_dropped++;
            continue;
        }
        bucket = ntohl(at.flow.nsh.context[0]) & 3;
        seen[bucket] = true;
        CU_ASSERT_EQUAL(port, fw_primary[bucket]);
        CU_ASSERT_EQUAL(nsh_path_hdr_to_spi_uint32(at.flow.nsh.path_hdr),
                        100);
        CU_ASSERT_EQUAL(nsh_path_hdr_to_si(at.flow.nsh.path_hdr), 255);
        CU_ASSERT(eth_addr_equals(
                      at.flow.dl_dst,
                      fx.cfg->services[0].instances[port - 3].mac));

        /* Back from the firewall: on to dlp's primary for the bucket. */
        port = where(&d, &(struct fake_packet) { .flow.in_port.ofp_port
                                                     = u16_to_ofp(3) },
                     &all_up, NULL);
        CU_ASSERT_EQUAL(port, -1);
        at = returned_by(at, fw_primary[bucket]);
        port = where(&d, &at, &all_up, &at);
        CU_ASSERT_EQUAL(port, dlp_primary[bucket]);

        /* Back from dlp: out to the server, headers removed. */
        at = returned_by(at, port);
        port = where(&d, &at, &all_up, &out);
        CU_ASSERT_EQUAL(port, 2);
        CU_ASSERT_EQUAL(out.n_inner, 0);
        CU_ASSERT_EQUAL(out.flow.dl_type, htons(ETH_TYPE_IP));
        CU_ASSERT_EQUAL(out.flow.tp_src, in.flow.tp_src);
        CU_ASSERT_EQUAL(out.flow.nw_dst, in.flow.nw_dst);

        /* The reply takes the reverse path (SPI 101): the same dlp
         * instance, then the same firewall, then the client. */
        in = tcp_packet(sport, true);
        port = where(&d, &in, &all_up, &at);
        CU_ASSERT_EQUAL(port, dlp_primary[bucket]);
        CU_ASSERT_EQUAL(nsh_path_hdr_to_spi_uint32(at.flow.nsh.path_hdr),
                        101);
        CU_ASSERT_EQUAL(ntohl(at.flow.nsh.context[0]) & 3, bucket);
        at = returned_by(at, port);
        port = where(&d, &at, &all_up, &at);
        CU_ASSERT_EQUAL(port, fw_primary[bucket]);
        at = returned_by(at, port);
        CU_ASSERT_EQUAL(where(&d, &at, &all_up, &out), 1);
        CU_ASSERT_EQUAL(out.flow.tp_dst, in.flow.tp_dst);

        /* fw-1's port down: its streams go to their secondary, or are
         * dropped where the bucket has none. */
        in = tcp_packet(sport, false);
        port = where(&d, &in, &fw1_down, NULL);
        CU_ASSERT_EQUAL(port, (fw_primary[bucket] == 3
                               ? fw_secondary[bucket]
                               : fw_primary[bucket]));
    }
    /* The 64 streams covered every bucket, and only those of bucket 3,
     * which has no firewall, were dropped. */
    CU_ASSERT(seen[0] && seen[1] && seen[2]);
    CU_ASSERT(n_dropped > 0 && n_dropped < 64);

    /* A frame an instance may not send (an SPI and SI it was not given)
     * goes nowhere. */
    {
        struct fake_packet p = returned_by(tcp_packet(1, false), 3);

        p.flow.dl_type = htons(ETH_TYPE_NSH);
        p.flow.nsh.mdtype = NSH_M_TYPE1;
        p.flow.nsh.path_hdr = nsh_spi_si_to_path_hdr(100, 200);
        CU_ASSERT_EQUAL(where(&d, &p, &all_up, NULL), -1);
    }
    flowset_destroy(&d);
    fixture_destroy(&fx);
}

/* Applies an update's 'put' and 'del' to 'd', as the reconciler does. */
static void
apply_update(struct flowset *d, struct flowset *put, struct flowset *del)
{
    struct flowset_flow *f;
    struct flowset_group *g;

    HMAP_FOR_EACH_POP (f, hmap_node, &put->flows) {
        flowset_flow_unref(flowset_insert_flow(d, f));
    }
    HMAP_FOR_EACH_POP (g, hmap_node, &put->groups) {
        flowset_group_unref(flowset_insert_group(d, g));
    }
    HMAP_FOR_EACH (f, hmap_node, &del->flows) {
        struct flowset_flow *old = flowset_find_same_flow(d, f);

        CU_ASSERT_PTR_NOT_NULL(old);
        if (old) {
            flowset_remove_flow(d, old);
        }
    }
    flowset_clear(del);
}

/* Incremental updates: on every switch of the fabric, through a random
 * walk of bucket assignments and port liveness, the desired state kept up
 * to date by pl_update() equals a full generation at every step, and an
 * update touches only the entries of the buckets that changed. */
static void
test_updates(void)
{
    static const struct {
        const char *name;
        const char *const *ports;
        size_t n_ports;
    } switches[] = {
        { "lf1", lf1_ports, ARRAY_SIZE(lf1_ports) },
        { "sp1", sp1_ports, ARRAY_SIZE(sp1_ports) },
        { "lf2", lf2_ports, ARRAY_SIZE(lf2_ports) },
    };
    struct sfm_config *cfg;
    struct svcmap *maps[2];
    char *error;
    uint32_t seed = 1;

    error = cfg_parse("fabric.yaml", fabric_yaml, strlen(fabric_yaml), &cfg);
    CU_ASSERT_PTR_NULL_FATAL(error);
    for (size_t i = 0; i < 2; i++) {
        const struct cfg_service *svc = &cfg->services[i];

        maps[i] = svcmap_create(svc->name, cfg_n_buckets(cfg));
        for (size_t j = 0; j < svc->n_instances; j++) {
            svcmap_add_instance(maps[i], svc->instances[j].name, 1);
        }
        svcmap_assign(maps[i]);
    }

    for (size_t k = 0; k < ARRAY_SIZE(switches); k++) {
        struct ofputil_phy_port pps[4];
        struct pl_state *pl = pl_state_create();
        struct fabric *f = fabric_create(cfg);
        size_t sw = switch_idx(cfg, switches[k].name);
        size_t other = switch_idx(cfg, k == 1 ? "lf1" : "sp1");
        struct flowset d, full, put, del;
        struct shash ports, none;
        int n_full = 0, n_port_changes = 0, n_link_changes = 0;
        bool expect_full = true, other_down = false;

        shash_init(&none);

        fabric_ports(&ports, pps, switches[k].ports, switches[k].n_ports);
        flowset_init(&d);
        for (int step = 0; step < 300; step++) {
            bool is_full;

            flowset_init(&full);
            flowset_init(&put);
            flowset_init(&del);
            is_full = pl_update(pl, cfg, f, sw, maps, &ports, &full, &put,
                                &del);
            n_full += is_full;
            CU_ASSERT_EQUAL(is_full, expect_full);
            expect_full = false;
            if (is_full) {
                flowset_swap(&d, &full);
            } else {
                /* At most the 2 groups of the changed bucket and its
                 * transit flows. */
                CU_ASSERT(flowset_n_groups(&put) <= 2);
                apply_update(&d, &put, &del);
            }
            flowset_destroy(&full);
            flowset_destroy(&put);
            flowset_destroy(&del);

            flowset_init(&full);
            pl_generate(cfg, f, sw, maps, &ports, &full);
            CU_ASSERT_TRUE(flowset_equal(&d, &full));
            flowset_destroy(&full);

            /* One change: a bucket's primary or secondary, a port's
             * liveness, or (rarely) the last port disappearing or coming
             * back, or another switch's links going down (every port
             * missing) or coming back, which only a full generation
             * handles. */
            seed = seed * 1103515245 + 12345;
            uint32_t r = seed >> 8;
            if (r % 19 == 18) {
                other_down = !other_down;
                fabric_set_ports(f, other, other_down ? &none : NULL);
                CU_ASSERT_TRUE(fabric_run(f, 0));
                CU_ASSERT_EQUAL(fabric_reachable(f, sw, other), !other_down);
                n_link_changes++;
                expect_full = true;
            } else if (r % 17 == 16) {
                const char *name = switches[k].ports[switches[k].n_ports
                                                     - 1];

                if (!shash_find_and_delete(&ports, name)) {
                    shash_add(&ports, name,
                              &pps[switches[k].n_ports - 1]);
                }
                n_port_changes++;
                expect_full = true;
            } else if (r % 3 == 2) {
                struct ofputil_phy_port *pp = &pps[(r / 3)
                                                   % switches[k].n_ports];

                pp->state ^= OFPUTIL_PS_LIVE;
            } else {
                struct svcmap_bucket *b
                    = &maps[r % 2]->buckets[(r / 2) % 2];
                int v = (int) ((r / 4) % 3) - 1;   /* -1 (none), 0, 1 */

                if ((r / 12) % 2) {
                    b->primary = v < 0 ? SVCMAP_NONE : v;
                } else {
                    b->secondary = v < 0 ? SVCMAP_NONE : v;
                }
            }
        }
        CU_ASSERT(n_port_changes > 0);
        CU_ASSERT(n_link_changes > 0);
        CU_ASSERT_EQUAL(n_full, 1 + n_port_changes + n_link_changes);
        flowset_destroy(&d);
        pl_state_destroy(pl);
        fabric_destroy(f);
        shash_destroy(&none);
        shash_destroy(&ports);
    }

    for (size_t i = 0; i < 2; i++) {
        svcmap_destroy(maps[i]);
    }
    cfg_destroy(cfg);
}

static void
test_group_ids(void)
{
    CU_ASSERT_EQUAL(pl_group_id(0, 0), 0x10000);
    CU_ASSERT_EQUAL(pl_group_id(1, 255), 0x200ff);
    CU_ASSERT_NOT_EQUAL(pl_group_id(0, 65535), pl_group_id(1, 0));
}

static const struct test_case pipeline_tests[] = {
    { "two-service chain against reviewed output", test_golden },
    { "dp-hash classifier against reviewed output", test_golden_dp_hash },
    { "missing ports", test_missing_ports },
    { "a switch with no chain", test_other_switch },
    { "group ids", test_group_ids },
    { "where packets go through the chain, and on failure",
      test_packets },
    { "leaf-spine fabric against reviewed output", test_fabric },
    { "a link down: paths through the other spine", test_fabric_link_down },
    { "updates equal a full generation at every step", test_updates },
    { NULL, NULL },
};
TEST_SUITE("pipeline", pipeline_tests)
