/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "cfg.h"

#include <CUnit/CUnit.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fabric.h"
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "tests.h"
#include "util.h"

/* The example configuration that the project's tests use. */
#define EXAMPLE_FILE "docs/examples/two-service-chain.yaml"

/* The same configuration as EXAMPLE_FILE, without its comments. */
static const char example_yaml[] =
    "version: 1\n"                                              /* 1 */
    "buckets: 256\n"
    "timers:\n"
    "  inactivity_probe_ms: 5000\n"
    "  handshake_timeout_ms: 10000\n"                           /* 5 */
    "switches:\n"
    "  sw1:\n"
    "    dpid: 1\n"
    "services:\n"
    "  fw:\n"                                                   /* 10 */
    "    instances:\n"
    "      fw-1:\n"
    "        switch: sw1\n"
    "        port: fw-1\n"
    "        mac: \"02:00:00:00:01:01\"\n"                      /* 15 */
    "        weight: 1\n"
    "      fw-2: {switch: sw1, port: fw-2, mac: \"02:00:00:00:01:02\"}\n"
    "  dlp:\n"
    "    instances:\n"
    "      dlp-1: {switch: sw1, port: dlp-1, mac: \"02:00:00:00:02:01\"}\n"
    "      dlp-2: {switch: sw1, port: dlp-2, mac: \"02:00:00:00:02:02\"}\n"
    "      dlp-3: {switch: sw1, port: dlp-3, mac: \"02:00:00:00:02:03\"}\n"
    "chains:\n"
    "  web:\n"
    "    spi: 100\n"                                            /* 25 */
    "    reverse_spi: 101\n"
    "    ingress: {switch: sw1, port: client}\n"
    "    egress: {switch: sw1, port: server}\n"
    "    match: ip\n"
    "    services: [fw, dlp]\n";                                /* 30 */

/* Pieces of a small valid configuration, to build others from.  SWITCHES is
 * 2 lines, SERVICES 5 and CHAINS 6. */
#define SWITCHES                                                        \
    "switches:\n"                                                       \
    "  sw1: {dpid: 1}\n"
#define SERVICES                                                        \
    "services:\n"                                                       \
    "  fw:\n"                                                           \
    "    instances:\n"                                                  \
    "      fw-1: {switch: sw1, port: fw-1, mac: \"02:00:00:00:01:01\"}\n" \
    "      fw-2: {switch: sw1, port: fw-2, mac: \"02:00:00:00:01:02\"}\n"
#define CHAINS                                                          \
    "chains:\n"                                                         \
    "  web:\n"                                                          \
    "    spi: 100\n"                                                    \
    "    ingress: {switch: sw1, port: client}\n"                        \
    "    egress: {switch: sw1, port: server}\n"                         \
    "    services: [fw]\n"

/* The rest of a chain after its SPIs (3 lines), for chain "web" and for a
 * second chain. */
#define WEB_REST                                                        \
    "    ingress: {switch: sw1, port: client}\n"                        \
    "    egress: {switch: sw1, port: server}\n"                         \
    "    services: [fw]\n"
#define DB_REST                                                         \
    "    ingress: {switch: sw1, port: client2}\n"                       \
    "    egress: {switch: sw1, port: server2}\n"                        \
    "    services: [fw]\n"

/* Parses 'text' as the file "test.yaml" into '*cfgp'. */
static char *
parse(const char *text, struct sfm_config **cfgp)
{
    return cfg_parse("test.yaml", text, strlen(text), cfgp);
}

/* Returns true if the error 'error' (NULL for none) of a parse that stored
 * 'cfg' is an error containing 'expected', with no configuration.  Prints
 * what went wrong otherwise.  Frees 'error', and 'cfg' if there was no
 * error. */
static bool
check_error(char *error, struct sfm_config *cfg, const char *expected)
{
    bool ok = error && !cfg && strstr(error, expected);

    if (!ok) {
        printf("\n    expected an error containing \"%s\", got %s%s%s\n",
               expected, error ? "\"" : "", error ? error : "none",
               error ? "\"" : "");
    }
    if (!error) {
        cfg_destroy(cfg);
    }
    free(error);
    return ok;
}

/* Returns true if parsing 'text' fails with an error that contains
 * 'expected'. */
static bool
fails_with(const char *text, const char *expected)
{
    struct sfm_config *cfg = (struct sfm_config *) &cfg;
    char *error = parse(text, &cfg);

    return check_error(error, cfg, expected);
}

/* Asserts that parsing the string TEXT fails with an error containing the
 * string EXPECTED, reported at the caller's line. */
#define ASSERT_FAILS(TEXT, EXPECTED) CU_ASSERT(fails_with(TEXT, EXPECTED))

/* Returns the configuration parsed from 'text', asserting that it parses. */
static struct sfm_config *
parse_ok(const char *text)
{
    struct sfm_config *cfg = NULL;
    char *error = parse(text, &cfg);

    if (error) {
        printf("\n    unexpected error: %s\n", error);
    }
    CU_ASSERT_PTR_NULL(error);
    CU_ASSERT_PTR_NOT_NULL(cfg);
    free(error);
    return cfg;
}

/* Asserts that 'inst' is instance 'name' of service 'service' on port
 * 'port' of sw1 with MAC 'mac' and weight 1. */
static void
check_instance(const struct sfm_config *cfg, const struct cfg_instance *inst,
               const char *name, const char *service, const char *port,
               struct eth_addr mac)
{
    CU_ASSERT_STRING_EQUAL(inst->name, name);
    CU_ASSERT_STRING_EQUAL(cfg->services[inst->service].name, service);
    CU_ASSERT_STRING_EQUAL(cfg_instance_switch(cfg, inst), "sw1");
    CU_ASSERT_STRING_EQUAL(inst->port, port);
    CU_ASSERT(eth_addr_equals(inst->mac, mac));
    CU_ASSERT_EQUAL(inst->weight, 1);
    CU_ASSERT(inst->line > 0);
}

/* Asserts that 'cfg', read from 'file', is the example configuration. */
static void
check_example(const struct sfm_config *cfg, const char *file)
{
    const struct cfg_service *fw, *dlp;
    const struct cfg_chain *web;

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_STRING_EQUAL(cfg->file, file);
    CU_ASSERT_EQUAL(cfg->bucket_bits, 8);
    CU_ASSERT_EQUAL(cfg_n_buckets(cfg), 256);
    CU_ASSERT_EQUAL(cfg->timers.inactivity_probe_ms, 5000);
    CU_ASSERT_EQUAL(cfg->timers.handshake_timeout_ms, 10000);

    CU_ASSERT_EQUAL_FATAL(cfg->n_switches, 1);
    CU_ASSERT_STRING_EQUAL(cfg->switches[0].name, "sw1");
    CU_ASSERT_EQUAL(cfg->switches[0].dpid, 1);

    CU_ASSERT_EQUAL_FATAL(cfg->n_services, 2);
    fw = &cfg->services[0];
    dlp = &cfg->services[1];
    CU_ASSERT_STRING_EQUAL(fw->name, "fw");
    CU_ASSERT_STRING_EQUAL(dlp->name, "dlp");
    CU_ASSERT_EQUAL_FATAL(fw->n_instances, 2);
    CU_ASSERT_EQUAL_FATAL(dlp->n_instances, 3);
    check_instance(cfg, &fw->instances[0], "fw-1", "fw", "fw-1",
                   (struct eth_addr) ETH_ADDR_C(02, 00, 00, 00, 01, 01));
    check_instance(cfg, &fw->instances[1], "fw-2", "fw", "fw-2",
                   (struct eth_addr) ETH_ADDR_C(02, 00, 00, 00, 01, 02));
    check_instance(cfg, &dlp->instances[0], "dlp-1", "dlp", "dlp-1",
                   (struct eth_addr) ETH_ADDR_C(02, 00, 00, 00, 02, 01));
    check_instance(cfg, &dlp->instances[1], "dlp-2", "dlp", "dlp-2",
                   (struct eth_addr) ETH_ADDR_C(02, 00, 00, 00, 02, 02));
    check_instance(cfg, &dlp->instances[2], "dlp-3", "dlp", "dlp-3",
                   (struct eth_addr) ETH_ADDR_C(02, 00, 00, 00, 02, 03));

    CU_ASSERT_EQUAL_FATAL(cfg->n_chains, 1);
    web = &cfg->chains[0];
    CU_ASSERT_STRING_EQUAL(web->name, "web");
    CU_ASSERT_EQUAL(web->spi, 100);
    CU_ASSERT_EQUAL(web->reverse_spi, 101);
    CU_ASSERT_STRING_EQUAL(cfg->switches[web->ingress.sw].name, "sw1");
    CU_ASSERT_STRING_EQUAL(web->ingress.port, "client");
    CU_ASSERT_STRING_EQUAL(cfg->switches[web->egress.sw].name, "sw1");
    CU_ASSERT_STRING_EQUAL(web->egress.port, "server");
    CU_ASSERT_STRING_EQUAL(web->match, "ip");
    CU_ASSERT_EQUAL_FATAL(web->n_services, 2);
    CU_ASSERT_STRING_EQUAL(cfg->services[web->services[0]].name, "fw");
    CU_ASSERT_STRING_EQUAL(cfg->services[web->services[1]].name, "dlp");

    /* Things are found by name, and only what exists. */
    CU_ASSERT_PTR_EQUAL(cfg_find_switch(cfg, "sw1"), &cfg->switches[0]);
    CU_ASSERT_PTR_NULL(cfg_find_switch(cfg, "sw2"));
    CU_ASSERT_PTR_EQUAL(cfg_find_service(cfg, "dlp"), dlp);
    CU_ASSERT_PTR_NULL(cfg_find_service(cfg, "ids"));
    CU_ASSERT_PTR_EQUAL(cfg_find_instance(cfg, "dlp-3"), &dlp->instances[2]);
    CU_ASSERT_PTR_EQUAL(cfg_find_instance(cfg, "fw-1"), &fw->instances[0]);
    CU_ASSERT_PTR_NULL(cfg_find_instance(cfg, "fw-3"));
    CU_ASSERT_PTR_NULL(cfg_find_instance(cfg, "fw"));
}

static void
test_example_string(void)
{
    struct sfm_config *cfg = parse_ok(example_yaml);

    check_example(cfg, "test.yaml");
    /* Lines are where each thing is defined. */
    CU_ASSERT_EQUAL(cfg->switches[0].line, 7);
    CU_ASSERT_EQUAL(cfg->services[0].line, 10);
    CU_ASSERT_EQUAL(cfg->services[0].instances[0].line, 12);
    CU_ASSERT_EQUAL(cfg->services[0].instances[1].line, 17);
    CU_ASSERT_EQUAL(cfg->services[1].line, 18);
    CU_ASSERT_EQUAL(cfg->services[1].instances[2].line, 22);
    CU_ASSERT_EQUAL(cfg->chains[0].line, 24);
    cfg_destroy(cfg);
}

static void
test_example_file(void)
{
    struct sfm_config *cfg = NULL;
    char *error = cfg_read(EXAMPLE_FILE, &cfg);

    if (error) {
        printf("\n    %s\n", error);
    }
    CU_ASSERT_PTR_NULL_FATAL(error);
    check_example(cfg, EXAMPLE_FILE);
    cfg_destroy(cfg);
}

static void
test_defaults(void)
{
    struct sfm_config *cfg = parse_ok(SWITCHES SERVICES CHAINS);

    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->bucket_bits, 8);
    CU_ASSERT_EQUAL(cfg_n_buckets(cfg), 256);
    CU_ASSERT_EQUAL(cfg->timers.inactivity_probe_ms, 5000);
    CU_ASSERT_EQUAL(cfg->timers.handshake_timeout_ms, 10000);
    CU_ASSERT_EQUAL(cfg->services[0].instances[0].weight, 1);
    CU_ASSERT_EQUAL(cfg->services[0].instances[1].weight, 1);
    CU_ASSERT_EQUAL(cfg->chains[0].spi, 100);
    CU_ASSERT_EQUAL(cfg->chains[0].reverse_spi, 101);
    CU_ASSERT_STRING_EQUAL(cfg->chains[0].match, "ip");
    CU_ASSERT(cfg->bfd.enable);
    CU_ASSERT_EQUAL(cfg->bfd.min_tx_ms, CFG_DEFAULT_BFD_MS);
    CU_ASSERT_EQUAL(cfg->bfd.min_rx_ms, CFG_DEFAULT_BFD_MS);
    cfg_destroy(cfg);
}

static void
test_bfd(void)
{
    struct sfm_config *cfg;

    cfg = parse_ok(SWITCHES SERVICES CHAINS
                   "bfd: {enable: on, min_tx_ms: 1, min_rx_ms: 60000}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT(cfg->bfd.enable);
    CU_ASSERT_EQUAL(cfg->bfd.min_tx_ms, 1);
    CU_ASSERT_EQUAL(cfg->bfd.min_rx_ms, 60000);
    cfg_destroy(cfg);

    cfg = parse_ok(SWITCHES SERVICES CHAINS "bfd: {enable: off}\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT(!cfg->bfd.enable);
    cfg_destroy(cfg);

    ASSERT_FAILS(SWITCHES SERVICES CHAINS "bfd: {min_tx_ms: 0}\n",
                 "bfd.min_tx_ms: 0 is out of range");
    ASSERT_FAILS(SWITCHES SERVICES CHAINS "bfd: {min_rx_ms: 60001}\n",
                 "bfd.min_rx_ms: 60001 is out of range");
    ASSERT_FAILS(SWITCHES SERVICES CHAINS "bfd: {enable: maybe}\n",
                 "on or off");
    ASSERT_FAILS(SWITCHES SERVICES CHAINS "bfd: {interval: 5}\n",
                 "unknown key \"interval\"");
}

static void
test_other_values(void)
{
    struct sfm_config *cfg;

    cfg = parse_ok("buckets: 16384\n"
                   "timers: {inactivity_probe_ms: 100, "
                   "handshake_timeout_ms: 3600000}\n"
                   "switches:\n"
                   "  sw1: {dpid: \"00000000000000ab\"}\n"
                   "  sw2: {dpid: 0xFFFFFFFFFFFFFFFF}\n"
                   "  sw3: {dpid: 18446744073709551614}\n"
                   "  sw4: {dpid: 00000000000000ac}\n"
                   "services:\n"
                   "  fw:\n"
                   "    instances:\n"
                   "      fw-1: {switch: sw1, port: fw-1, "
                   "mac: 02:00:00:00:01:01, weight: 1000}\n"
                   "      fw-2: {switch: sw1, port: fw-2, "
                   "mac: '0A:BC:00:00:01:02', weight: 0x2}\n"
                   "  ids:\n"
                   "    instances:\n"
                   "      ids-1: {switch: sw2, port: fw-1, "
                   "mac: 02:00:00:00:03:01}\n"
                   "chains:\n"
                   "  web:\n"
                   "    spi: 0xffffff\n"
                   "    reverse_spi: 1\n"
                   "    ingress: {switch: sw1, port: client}\n"
                   "    egress: {switch: sw1, port: server}\n"
                   "    match: \"tcp,tp_dst=80\"\n"
                   "    services: [fw]\n"
                   "  all:\n"
                   "    spi: 2\n"
                   "    ingress: {switch: sw2, port: client}\n"
                   "    egress: {switch: sw2, port: server}\n"
                   "    match: \"\"\n"
                   "    services: [ids]\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->bucket_bits, 14);
    CU_ASSERT_EQUAL(cfg_n_buckets(cfg), 16384);
    CU_ASSERT_EQUAL(cfg->timers.inactivity_probe_ms, 100);
    CU_ASSERT_EQUAL(cfg->timers.handshake_timeout_ms, 3600000);
    CU_ASSERT_EQUAL(cfg->switches[0].dpid, 0xab);
    CU_ASSERT_EQUAL(cfg->switches[1].dpid, UINT64_MAX);
    CU_ASSERT_EQUAL(cfg->switches[2].dpid, UINT64_MAX - 1);
    /* 16 digits are hex, as OVS prints datapath ids, even unquoted. */
    CU_ASSERT_EQUAL(cfg->switches[3].dpid, 0xac);
    CU_ASSERT_EQUAL(cfg->services[0].instances[0].weight, 1000);
    CU_ASSERT_EQUAL(cfg->services[0].instances[1].weight, 2);
    CU_ASSERT(eth_addr_equals(cfg->services[0].instances[1].mac,
                              (struct eth_addr) ETH_ADDR_C(0a, bc, 00, 00,
                                                           01, 02)));
    /* The same port name on two switches is two ports. */
    CU_ASSERT_STRING_EQUAL(cfg->services[1].instances[0].port, "fw-1");
    CU_ASSERT_EQUAL(cfg->chains[0].spi, 0xffffff);
    CU_ASSERT_EQUAL(cfg->chains[0].reverse_spi, 1);
    CU_ASSERT_STRING_EQUAL(cfg->chains[0].match, "tcp,tp_dst=80");
    CU_ASSERT_EQUAL(cfg->chains[1].reverse_spi, 3);
    CU_ASSERT_STRING_EQUAL(cfg->chains[1].match, "");
    cfg_destroy(cfg);

    /* Smallest bucket count; order of the top-level keys does not matter. */
    cfg = parse_ok(CHAINS SERVICES SWITCHES "buckets: 2\nversion: 1\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->bucket_bits, 1);
    CU_ASSERT_EQUAL(cfg_n_buckets(cfg), 2);
    CU_ASSERT_EQUAL(cfg->classifier, CFG_CLASSIFIER_MULTIPATH);
    cfg_destroy(cfg);

    /* The classifier: multipath by default, or dp-hash. */
    cfg = parse_ok(SWITCHES SERVICES CHAINS "classifier: dp-hash\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->classifier, CFG_CLASSIFIER_DP_HASH);
    cfg_destroy(cfg);
    cfg = parse_ok(SWITCHES SERVICES CHAINS "classifier: multipath\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(cfg);
    CU_ASSERT_EQUAL(cfg->classifier, CFG_CLASSIFIER_MULTIPATH);
    cfg_destroy(cfg);
    ASSERT_FAILS(SWITCHES SERVICES CHAINS "classifier: dp_hash\n",
                 "test.yaml:14: classifier: expected multipath or dp-hash, "
                 "found \"dp_hash\"");

    cfg_destroy(NULL);
}

static void
test_syntax_error(void)
{
    struct sfm_config *cfg;
    char *error;

    /* An unclosed flow mapping. */
    ASSERT_FAILS("switches:\n"
                 "  sw1: {dpid: 1\n"
                 "services:\n", "test.yaml:3: YAML syntax error: ");
    /* Bad indentation. */
    ASSERT_FAILS("switches:\n"
                 "  sw1:\n"
                 "    dpid: 1\n"
                 "   x: 2\n", "test.yaml:4: YAML syntax error: ");
    /* A tab where indentation is expected. */
    ASSERT_FAILS("switches:\n"
                 "\tsw1: {dpid: 1}\n", "test.yaml:2: YAML syntax error: ");
    ASSERT_FAILS("switches:\n"
                 "  \tsw1: {dpid: 1}\n", "; YAML does not allow tabs for "
                 "indentation");
    /* Not UTF-8, and a control character. */
    ASSERT_FAILS("switches:\n"
                 "  sw1: {dpid: 1}\n"
                 "  \xff\xfe: {dpid: 2}\n", "test.yaml:3: YAML error: ");
    ASSERT_FAILS("switches:\n  s\x01: {dpid: 2}\n",
                 "test.yaml:2: YAML error: ");
    /* A null byte in the middle of the text. */
    cfg = (struct sfm_config *) &cfg;
    error = cfg_parse("test.yaml", "a: 1\n\0b: 2\n", 11, &cfg);
    CU_ASSERT(check_error(error, cfg, "test.yaml:2: YAML error: control "
                          "characters are not allowed"));
}

static void
test_top_level_not_mapping(void)
{
    ASSERT_FAILS("- switches\n- services\n",
                 "test.yaml:1: expected a mapping at the top level");
    ASSERT_FAILS("\n\nswitches\n", "test.yaml:3: expected a mapping at the "
                 "top level (switches:, services:, chains: ...), found "
                 "\"switches\"");
}

static void
test_unknown_keys(void)
{
    ASSERT_FAILS(SWITCHES SERVICES CHAINS "bucket: 16\n",
                 "test.yaml:14: unknown key \"bucket\" (allowed: version, "
                 "buckets, timers, switches, links, services, chains, "
                 "rebalance, handoff, classifier, bfd, hosts, "
              "link_damping)");
    ASSERT_FAILS("timers: {inactivity_probe: 100}\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: timers: unknown key \"inactivity_probe\" "
                 "(allowed: inactivity_probe_ms, handshake_timeout_ms)");
    ASSERT_FAILS("switches:\n  sw1: {dpid: 1, name: x}\n" SERVICES CHAINS,
                 "test.yaml:2: switches.sw1: unknown key \"name\" "
                 "(allowed: dpid, host)");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {switch: sw1, port: fw-1, "
                 "mac: 02:00:00:00:01:01,"
                 "\n             wieght: 2}\n"
                 CHAINS, "test.yaml:7: services.fw.instances.fw-1: unknown "
                 "key \"wieght\" (allowed: switch, port, mac, weight)");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    type: firewall\n"
                 "    instances:\n"
                 "      fw-1: {switch: sw1, port: fw-1, "
                 "mac: 02:00:00:00:01:01}\n"
                 CHAINS, "test.yaml:5: services.fw: unknown key \"type\" "
                 "(allowed: instances)");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: [fw]\n"
                 "    Match: ip\n", "test.yaml:14: chains.web: unknown key "
                 "\"Match\" (allowed: spi, reverse_spi, ingress, egress, "
                 "match, services)");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client, vlan: 3}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: [fw]\n", "test.yaml:11: chains.web.ingress: "
                 "unknown key \"vlan\" (allowed: switch, port)");
    /* A key that is not a string. */
    ASSERT_FAILS(SWITCHES SERVICES CHAINS "? [a, b]\n: 1\n",
                 "test.yaml:14: expected a key, found a list");
}

static void
test_duplicate_keys(void)
{
    ASSERT_FAILS(SWITCHES SERVICES CHAINS SWITCHES,
                 "test.yaml:14: switches: duplicate key (first at line 1)");
    ASSERT_FAILS("switches:\n"
                 "  sw1: {dpid: 1}\n"
                 "  sw2: {dpid: 2}\n"
                 "  sw1: {dpid: 3}\n" SERVICES CHAINS,
                 "test.yaml:4: switches.sw1: duplicate key (first at line 2)");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {switch: sw1, port: fw-1, port: fw-9, "
                 "mac: 02:00:00:00:01:01}\n" CHAINS,
                 "test.yaml:6: services.fw.instances.fw-1.port: duplicate "
                 "key (first at line 6)");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: [fw]\n"
                 "    spi: 200\n",
                 "test.yaml:14: chains.web.spi: duplicate key "
                 "(first at line 10)");
    ASSERT_FAILS(SWITCHES SERVICES CHAINS
                 "  web:\n"
                 "    spi: 200\n",
                 "test.yaml:14: chains.web: duplicate key (first at line 9)");
    ASSERT_FAILS("timers:\n"
                 "  inactivity_probe_ms: 1000\n"
                 "  inactivity_probe_ms: 1000\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:3: timers.inactivity_probe_ms: duplicate key "
                 "(first at line 2)");
}

static void
test_wrong_types(void)
{
    ASSERT_FAILS("switches: [sw1]\n" SERVICES CHAINS,
                 "test.yaml:1: switches: expected a mapping, found a list");
    ASSERT_FAILS("switches: sw1\n" SERVICES CHAINS,
                 "test.yaml:1: switches: expected a mapping, found \"sw1\"");
    ASSERT_FAILS("switches:\n" SERVICES CHAINS,
                 "test.yaml:1: switches: expected a mapping, found no value");
    ASSERT_FAILS("timers: 5000\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: timers: expected a mapping, found \"5000\"");
    ASSERT_FAILS("switches:\n  sw1: {dpid: [1]}\n" SERVICES CHAINS,
                 "test.yaml:2: switches.sw1.dpid: expected an integer, "
                 "found a list");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {switch: sw1, port: [fw-1], "
                 "mac: 02:00:00:00:01:01}\n" CHAINS,
                 "test.yaml:6: services.fw.instances.fw-1.port: expected a "
                 "port name, found a list");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {switch: {name: sw1}, port: fw-1, "
                 "mac: 02:00:00:00:01:01}\n" CHAINS,
                 "test.yaml:6: services.fw.instances.fw-1.switch: expected a "
                 "switch name, found a mapping");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {switch: sw1, port: fw-1, mac: ~}\n" CHAINS,
                 "test.yaml:6: services.fw.instances.fw-1.mac: expected a "
                 "MAC address, found no value");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: sw1\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: [fw]\n", "test.yaml:11: chains.web.ingress: "
                 "expected a mapping, found \"sw1\"");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: fw\n", "test.yaml:13: chains.web.services: "
                 "expected a list of service names such as [fw, dlp], found "
                 "\"fw\"");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: [[fw]]\n", "test.yaml:13: "
                 "chains.web.services[0]: expected a service name, found a "
                 "list");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    match: [ip]\n"
                 "    services: [fw]\n", "test.yaml:13: chains.web.match: "
                 "expected an ovs-ofctl match");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web: [spi, 100]\n", "test.yaml:9: chains.web: expected "
                 "a mapping, found a list");
}

static void
test_missing_fields(void)
{
    ASSERT_FAILS(SERVICES CHAINS,
                 "test.yaml:1: switches: required field is missing");
    ASSERT_FAILS(SWITCHES CHAINS,
                 "test.yaml:1: services: required field is missing");
    ASSERT_FAILS(SWITCHES SERVICES,
                 "test.yaml:1: chains: required field is missing");
    ASSERT_FAILS("switches:\n  sw1: {}\n" SERVICES CHAINS,
                 "test.yaml:2: switches.sw1.dpid: required field is missing");
    ASSERT_FAILS("switches:\n  sw1:\n    dpid:\n" SERVICES CHAINS,
                 "test.yaml:3: switches.sw1.dpid: expected an integer, "
                 "found no value");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {port: fw-1, mac: 02:00:00:00:01:01}\n" CHAINS,
                 "test.yaml:6: services.fw.instances.fw-1.switch: required "
                 "field is missing");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1:\n"
                 "        switch: sw1\n"
                 "        mac: 02:00:00:00:01:01\n" CHAINS,
                 "test.yaml:7: services.fw.instances.fw-1.port: required "
                 "field is missing");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {switch: sw1, port: fw-1}\n" CHAINS,
                 "test.yaml:6: services.fw.instances.fw-1.mac: required "
                 "field is missing");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: [fw]\n",
                 "test.yaml:10: chains.web.spi: required field is missing");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: [fw]\n",
                 "test.yaml:10: chains.web.ingress: required field is "
                 "missing");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    services: [fw]\n",
                 "test.yaml:10: chains.web.egress: required field is "
                 "missing");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: server}\n",
                 "test.yaml:10: chains.web.services: required field is "
                 "missing");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1}\n"
                 "    services: [fw]\n",
                 "test.yaml:12: chains.web.egress.port: required field is "
                 "missing");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: []\n",
                 "test.yaml:13: chains.web.services: at least one service is "
                 "required");
    ASSERT_FAILS("switches: {}\n" SERVICES CHAINS,
                 "test.yaml:1: switches: at least one switch is required");
    ASSERT_FAILS(SWITCHES SERVICES "chains: {}\n",
                 "test.yaml:8: chains: at least one chain is required");
}

static void
test_buckets(void)
{
    ASSERT_FAILS("buckets: 300\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: buckets: 300 is not a power of two");
    ASSERT_FAILS("buckets: 1\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: buckets: 1 is out of range (2 to 16384)");
    ASSERT_FAILS("buckets: 131072\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: buckets: 131072 is out of range "
                 "(2 to 16384)");
    ASSERT_FAILS("buckets: 0\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: buckets: 0 is out of range (2 to 16384)");
    ASSERT_FAILS("buckets: -256\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: buckets: -256 is out of range");
    ASSERT_FAILS("buckets: 25.6\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: buckets: \"25.6\" is not an integer");
    /* The documented maximum used to be 65536: refused, with the range. */
    ASSERT_FAILS("buckets: 65536\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: buckets: 65536 is out of range (2 to 16384)");
    ASSERT_FAILS("buckets: 32768\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: buckets: 32768 is out of range (2 to 16384)");
}

/* The groups and steering flows that buckets make with the chains are
 * bounded as well: one group per bucket of each service in a chain, one
 * flow per bucket, direction and hop. */
static void
test_entries(void)
{
    static const char four[] =
        SWITCHES
        "services:\n"
        "  s1: {instances: {i1: {switch: sw1, port: p1,\n"
        "                       mac: 02:00:00:00:00:01}}}\n"
        "  s2: {instances: {i2: {switch: sw1, port: p2,\n"
        "                       mac: 02:00:00:00:00:02}}}\n"
        "  s3: {instances: {i3: {switch: sw1, port: p3,\n"
        "                       mac: 02:00:00:00:00:03}}}\n"
        "  s4: {instances: {i4: {switch: sw1, port: p4,\n"
        "                       mac: 02:00:00:00:00:04}}}\n"
        "chains:\n"
        "  web:\n"
        "    spi: 100\n"
        "    ingress: {switch: sw1, port: client}\n"
        "    egress: {switch: sw1, port: server}\n"
        "    services: [s1, s2, s3, s4]\n";
    static const char second[] =
        "  api:\n"
        "    spi: 200\n"
        "    ingress: {switch: sw1, port: client2}\n"
        "    egress: {switch: sw1, port: server2}\n"
        "    services: [s4, s3, s2, s1]\n";
    struct sfm_config *cfg;
    char *text;

    /* Two services, one chain through both, as in the example: 6 per
     * bucket, 98304 at the maximum. */
    cfg = parse_ok("buckets: 16384\n" SWITCHES
                   "services:\n"
                   "  fw:\n"
                   "    instances:\n"
                   "      fw-1: {switch: sw1, port: fw-1, "
                   "mac: 02:00:00:00:01:01}\n"
                   "  dlp:\n"
                   "    instances:\n"
                   "      dlp-1: {switch: sw1, port: dlp-1, "
                   "mac: 02:00:00:00:02:01}\n"
                   "chains:\n"
                   "  web:\n"
                   "    spi: 100\n"
                   "    ingress: {switch: sw1, port: client}\n"
                   "    egress: {switch: sw1, port: server}\n"
                   "    services: [fw, dlp]\n");
    CU_ASSERT_PTR_NOT_NULL(cfg);
    cfg_destroy(cfg);

    /* Four services in one chain: 12 per bucket, 196608 at the
     * maximum. */
    text = xasprintf("buckets: 16384\n%s", four);
    cfg = parse_ok(text);
    CU_ASSERT_PTR_NOT_NULL(cfg);
    cfg_destroy(cfg);
    free(text);

    /* A second chain through the same four: 20 per bucket. */
    text = xasprintf("buckets: 8192\n%s%s", four, second);
    cfg = parse_ok(text);
    CU_ASSERT_PTR_NOT_NULL(cfg);
    cfg_destroy(cfg);
    free(text);
    text = xasprintf("buckets: 16384\n%s%s", four, second);
    ASSERT_FAILS(text, "test.yaml:1: buckets: 16384 buckets make 327680 "
                 "groups and steering flows with these chains (20 per "
                 "bucket), more than 262144, the most a switch is programmed "
                 "with reliably; use at most 8192 buckets");
    free(text);
}

/* Returns the result of parsing a small configuration whose chain has the
 * match 'match' (on line 14), as fails_with() does if 'expected' is
 * nonnull, and otherwise whether it parses with that match kept. */
static bool
match_check__(const char *match, const char *expected)
{
    char *text = xasprintf(SWITCHES SERVICES CHAINS "    match: \"%s\"\n",
                           match);
    struct sfm_config *cfg = NULL;
    char *error = parse(text, &cfg);
    bool ok;

    free(text);
    if (expected) {
        return check_error(error, cfg, expected);
    }
    ok = !error && cfg && !strcmp(cfg->chains[0].match, match);
    if (!ok) {
        printf("\n    match \"%s\": unexpected error %s\n", match,
               error ? error : "(none)");
    }
    free(error);
    cfg_destroy(cfg);
    return ok;
}

#define ASSERT_MATCH_FAILS(MATCH, EXPECTED)                             \
    CU_ASSERT(match_check__(MATCH, "test.yaml:14: chains.web.match: "   \
                            EXPECTED))
#define ASSERT_MATCH_OK(MATCH) CU_ASSERT(match_check__(MATCH, NULL))

static void
test_match(void)
{
    /* What the switch would take as something else than a match. */
    ASSERT_MATCH_FAILS("bogus=1", "bogus: not a match field");
    ASSERT_MATCH_FAILS("ip actions=drop", "actions: not a match field");
    ASSERT_MATCH_FAILS("ip,priority=65535", "priority: not a match field");
    ASSERT_MATCH_FAILS("ip,table=3", "table: not a match field");
    ASSERT_MATCH_FAILS("ip,cookie=0x1", "cookie: not a match field");
    ASSERT_MATCH_FAILS("ip,idle_timeout=10", "idle_timeout: not a match");
    ASSERT_MATCH_FAILS("ip,send_flow_rem", "send_flow_rem: not a match");
    ASSERT_MATCH_FAILS("tcp,tp_dst=http", "tp_dst: ");
    ASSERT_MATCH_FAILS("ip,nw_src=1.2.3", "nw_src: ");
    ASSERT_MATCH_FAILS("ip,nw_src=10.0.0.0/33", "nw_src: ");

    /* Fields that the pipeline matches or sets itself. */
    ASSERT_MATCH_FAILS("in_port=3", "in_port: the pipeline matches the "
                       "chain's ingress and egress ports itself");
    ASSERT_MATCH_FAILS("ip,in_port_oxm=3", "in_port_oxm: the pipeline");
    ASSERT_MATCH_FAILS("nsh_spi=100", "nsh_spi: NSH is the pipeline's own");
    ASSERT_MATCH_FAILS("nsh_c1=1", "nsh_c1: NSH is the pipeline's own");
    ASSERT_MATCH_FAILS("ip,reg0=1", "reg0: registers and metadata are the "
                       "pipeline's own (reg0 carries the affinity code)");
    ASSERT_MATCH_FAILS("ip,xxreg0=1", "xxreg0: registers");
    ASSERT_MATCH_FAILS("ip,xreg0=1", "xreg0: registers");
    ASSERT_MATCH_FAILS("ip,metadata=1", "metadata: registers");
    ASSERT_MATCH_FAILS("ip,reg0[0..3]=1", "reg0[0..3]: write whole fields");
    ASSERT_MATCH_FAILS("packet_type=(0,0)", "packet_type: ");
    ASSERT_MATCH_FAILS("ip,ct_state=+trk", "ct_state: frames are not yet "
                       "tracked");
    ASSERT_MATCH_FAILS("ip,recirc_id=1", "recirc_id: it is set by actions");

    /* Ethernet types the pipeline uses, and conflicts. */
    ASSERT_MATCH_FAILS("dl_type=0x894f", "dl_type=0x894f: NSH frames are "
                       "the pipeline's own");
    ASSERT_MATCH_FAILS("arp", "dl_type=0x0806: the pipeline passes ARP");
    ASSERT_MATCH_FAILS("ip,ipv6", "ipv6: conflicts with an earlier");
    ASSERT_MATCH_FAILS("tcp,udp", "udp: conflicts with an earlier");
    ASSERT_MATCH_FAILS("ip,dl_type=0x86dd", "dl_type: conflicts with");
    ASSERT_MATCH_FAILS("tcp,tp_dst=80,tp_dst=81", "tp_dst: conflicts with");

    /* Fields without their prerequisites never reach the switch. */
    ASSERT_MATCH_FAILS("tp_dst=80", "tp_dst: needs a protocol before it");
    ASSERT_MATCH_FAILS("nw_src=10.0.0.1", "nw_src: needs a protocol");
    ASSERT_MATCH_FAILS("ip,ipv6_src=2001:db8::1", "ipv6_src: needs a");

    ASSERT_MATCH_OK("");
    ASSERT_MATCH_OK("ip");
    ASSERT_MATCH_OK("udp");
    ASSERT_MATCH_OK("ipv6");
    ASSERT_MATCH_OK("tcp,tp_dst=80");
    ASSERT_MATCH_OK("udp,tp_dst=53");
    ASSERT_MATCH_OK("ip,nw_src=10.0.0.0/8");
    ASSERT_MATCH_OK("ip,tcp");
    ASSERT_MATCH_OK("ip,dl_type=0x0800");
    ASSERT_MATCH_OK("tcp6,tp_dst=443");
    ASSERT_MATCH_OK("ipv6,ipv6_src=2001:db8::/32");
    ASSERT_MATCH_OK("ip,ip_dscp=46");
    ASSERT_MATCH_OK("dl_vlan=10,ip");
    ASSERT_MATCH_OK("dl_src=02:00:00:00:00:01,ip");
}

static void
test_numbers(void)
{
    static const char weight[] =
        SWITCHES
        "services:\n"
        "  fw:\n"
        "    instances:\n"
        "      fw-1: {switch: sw1, port: fw-1, mac: 02:00:00:00:01:01}\n"
        "      fw-2:\n"
        "        {switch: sw1, port: fw-2, "
        "mac: 02:00:00:00:01:02, weight: %s}\n"
        CHAINS;
    static const struct {
        const char *value;
        const char *error;
    } weights[] = {
        { "0", "0 is out of range (1 to 1000)" },
        { "1001", "1001 is out of range (1 to 1000)" },
        { "-1", "-1 is out of range (1 to 1000)" },
        { "0x3e9", "0x3e9 is out of range (1 to 1000)" },
        { "99999999999999999999999",
          "99999999999999999999999 is out of range (1 to 1000)" },
        { "abc", "\"abc\" is not an integer" },
        { "1.5", "\"1.5\" is not an integer" },
        { "0x", "\"0x\" is not an integer" },
        { "+2", "\"+2\" is not an integer" },
        { "1e3", "\"1e3\" is not an integer" },
        { "\"2\"", "\"2\" is quoted; write numbers without quotes" },
        { "010", "010 has a leading zero" },
        { "true", "\"true\" is not an integer" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(weights); i++) {
        char *text = xasprintf(weight, weights[i].value);
        char *expected = xasprintf("test.yaml:8: services.fw.instances.fw-2"
                                   ".weight: %s", weights[i].error);

        ASSERT_FAILS(text, expected);
        free(expected);
        free(text);
    }

    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 0\n" WEB_REST,
                 "test.yaml:10: chains.web.spi: 0 is out of range "
                 "(1 to 16777215)");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 0x1000000\n" WEB_REST,
                 "test.yaml:10: chains.web.spi: "
                 "0x1000000 is out of range (1 to 16777215)");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    reverse_spi: 16777216\n" WEB_REST, "test.yaml:11: "
                 "chains.web.reverse_spi: 16777216 is out of range");
    ASSERT_FAILS("switches:\n  sw1: {dpid: 18446744073709551616}\n"
                 SERVICES CHAINS, "test.yaml:2: switches.sw1.dpid: "
                 "18446744073709551616 is out of range");
    ASSERT_FAILS("switches:\n  sw1: {dpid: 0x10000000000000000}\n"
                 SERVICES CHAINS, "test.yaml:2: switches.sw1.dpid: "
                 "0x10000000000000000 is out of range");
    ASSERT_FAILS("switches:\n  sw1: {dpid: 0}\n" SERVICES CHAINS,
                 "test.yaml:2: switches.sw1.dpid: datapath id must be "
                 "nonzero");
    ASSERT_FAILS("switches:\n  sw1: {dpid: \"0000000000000000\"}\n"
                 SERVICES CHAINS, "test.yaml:2: switches.sw1.dpid: datapath "
                 "id must be nonzero");
    ASSERT_FAILS("switches:\n  sw1: {dpid: \"1\"}\n" SERVICES CHAINS,
                 "test.yaml:2: switches.sw1.dpid: \"1\" is not a datapath "
                 "id: write an integer (decimal or 0x hex) or 16 hex digits");
    ASSERT_FAILS("switches:\n  sw1: {dpid: br0}\n" SERVICES CHAINS,
                 "test.yaml:2: switches.sw1.dpid: \"br0\" is not an "
                 "integer");
    ASSERT_FAILS("timers: {inactivity_probe_ms: 99}\n" SWITCHES SERVICES
                 CHAINS, "test.yaml:1: timers.inactivity_probe_ms: 99 is out "
                 "of range (100 to 3600000)");
    ASSERT_FAILS("timers:\n  handshake_timeout_ms: 3600001\n" SWITCHES
                 SERVICES CHAINS, "test.yaml:2: timers.handshake_timeout_ms: "
                 "3600001 is out of range (100 to 3600000)");
    ASSERT_FAILS("version: 2\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: version: version 2 is not supported");
    ASSERT_FAILS("version: \"1\"\n" SWITCHES SERVICES CHAINS,
                 "test.yaml:1: version: \"1\" is quoted");
}

static void
test_bad_mac(void)
{
    static const char text[] =
        SWITCHES
        "services:\n"
        "  fw:\n"
        "    instances:\n"
        "      fw-1: {switch: sw1, port: fw-1, mac: \"02:00:00:00:01:01\"}\n"
        "      fw-2: {switch: sw1, port: fw-2, mac: \"%s\"}\n"
        CHAINS;
    static const struct {
        const char *mac;
        const char *error;
    } macs[] = {
        { "02:00:00:00:01", "\"02:00:00:00:01\" is not a MAC address "
          "(write it as xx:xx:xx:xx:xx:xx)" },
        { "02:00:00:00:01:0g", "\"02:00:00:00:01:0g\" is not a MAC" },
        { "2:0:0:0:1:2", "\"2:0:0:0:1:2\" is not a MAC" },
        { "02-00-00-00-01-02", "\"02-00-00-00-01-02\" is not a MAC" },
        { "02:00:00:00:01:02:03", "\"02:00:00:00:01:02:03\" is not a MAC" },
        { " 02:00:00:00:01:0", "\" 02:00:00:00:01:0\" is not a MAC" },
        { "", "\"\" is not a MAC" },
        { "01:00:5e:00:00:01", "\"01:00:5e:00:00:01\" is a multicast "
          "address; an instance needs a unicast one" },
        { "ff:ff:ff:ff:ff:ff", "\"ff:ff:ff:ff:ff:ff\" is a multicast" },
        { "00:00:00:00:00:00", "\"00:00:00:00:00:00\" is not a valid "
          "instance address" },
        { "02:5F:6d:00:00:01", "\"02:5F:6d:00:00:01\" is reserved: "
          "switches mark redirected frames with it" },
        { "02:00:00:00:01:01", "MAC 02:00:00:00:01:01 is already used by "
          "services.fw.instances.fw-1.mac (line 6)" },
    };

    for (size_t i = 0; i < ARRAY_SIZE(macs); i++) {
        char *yaml = xasprintf(text, macs[i].mac);
        char *expected = xasprintf("test.yaml:7: services.fw.instances.fw-2"
                                   ".mac: %s", macs[i].error);

        ASSERT_FAILS(yaml, expected);
        free(expected);
        free(yaml);
    }
}

static void
test_service_without_instances(void)
{
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances: {}\n" CHAINS,
                 "test.yaml:5: services.fw.instances: at least one instance "
                 "is required");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n" CHAINS,
                 "test.yaml:5: services.fw.instances: expected a mapping, "
                 "found no value");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw: {}\n" CHAINS,
                 "test.yaml:4: services.fw.instances: required field is "
                 "missing");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n" CHAINS,
                 "test.yaml:4: services.fw: expected a mapping, found no "
                 "value");
}

static void
test_instance_name_twice(void)
{
    ASSERT_FAILS(SWITCHES SERVICES
                 "  ids:\n"
                 "    instances:\n"
                 "      fw-2: {switch: sw1, port: ids-1, "
                 "mac: 02:00:00:00:03:01}\n" CHAINS,
                 "test.yaml:10: services.ids.instances.fw-2: instance name "
                 "fw-2 is already used by services.fw.instances.fw-2 "
                 "(line 7)");
    ASSERT_FAILS(SWITCHES SERVICES
                 "      fw-1: {switch: sw1, port: fw-3, "
                 "mac: 02:00:00:00:01:03}\n" CHAINS,
                 "test.yaml:8: services.fw.instances.fw-1: duplicate key "
                 "(first at line 6)");
}

static void
test_undefined_switch(void)
{
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {switch: sw2, port: fw-1, "
                 "mac: 02:00:00:00:01:01}\n" CHAINS,
                 "test.yaml:6: services.fw.instances.fw-1.switch: switch "
                 "sw2 is not defined in switches");
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress:\n"
                 "      switch: sw9\n"
                 "      port: server\n"
                 "    services: [fw]\n",
                 "test.yaml:13: chains.web.egress.switch: switch sw9 is not "
                 "defined in switches");
}

static void
test_unknown_service(void)
{
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services:\n"
                 "      - fw\n"
                 "      - dlp\n",
                 "test.yaml:15: chains.web.services[1]: service dlp is not "
                 "defined in services");
}

static void
test_service_twice_in_chain(void)
{
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: [fw, fw]\n",
                 "test.yaml:13: chains.web.services[1]: service fw is "
                 "already in this chain (services[0])");
}

static void
test_spi_overlap(void)
{
    /* The same SPI in two chains. */
    ASSERT_FAILS(SWITCHES SERVICES CHAINS
                 "  db:\n"
                 "    spi: 100\n" DB_REST,
                 "test.yaml:15: chains.db.spi: SPI 100 is already used by "
                 "chains.web.spi (line 10)");
    /* A chain's SPI is another's default reverse SPI. */
    ASSERT_FAILS(SWITCHES SERVICES CHAINS
                 "  db:\n"
                 "    spi: 101\n" DB_REST,
                 "test.yaml:15: chains.db.spi: SPI 101 is already used by "
                 "chains.web.reverse_spi (line 10)");
    /* A chain's default reverse SPI is another's SPI. */
    ASSERT_FAILS(SWITCHES SERVICES CHAINS
                 "  db:\n"
                 "    spi: 99\n" DB_REST,
                 "test.yaml:15: chains.db.reverse_spi: SPI 100 (the default, "
                 "spi + 1) is already used by chains.web.spi (line 10)");
    /* Explicit reverse SPIs. */
    ASSERT_FAILS(SWITCHES SERVICES CHAINS
                 "  db:\n"
                 "    spi: 200\n"
                 "    reverse_spi: 101\n" DB_REST,
                 "test.yaml:16: chains.db.reverse_spi: SPI 101 is already "
                 "used by chains.web.reverse_spi (line 10)");
    /* Within one chain. */
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    reverse_spi: 100\n" WEB_REST,
                 "test.yaml:11: chains.web.reverse_spi: SPI 100 is already "
                 "used by chains.web.spi (line 10)");
    /* No default beyond the largest SPI. */
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 0xffffff\n" WEB_REST,
                 "test.yaml:10: chains.web.reverse_spi: the default, spi + 1, "
                 "is out of range");
}

static void
test_dpid_twice(void)
{
    ASSERT_FAILS("switches:\n"
                 "  sw1: {dpid: 1}\n"
                 "  sw2: {dpid: 0x2}\n"
                 "  sw3: {dpid: \"0000000000000002\"}\n" SERVICES CHAINS,
                 "test.yaml:4: switches.sw3.dpid: datapath id "
                 "0000000000000002 is already used by switches.sw2.dpid "
                 "(line 3)");
}

static void
test_port_twice(void)
{
    /* Two instances. */
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {switch: sw1, port: p1, "
                 "mac: 02:00:00:00:01:01}\n"
                 "  ids:\n"
                 "    instances:\n"
                 "      ids-1: {switch: sw1, port: p1, "
                 "mac: 02:00:00:00:01:02}\n"
                 CHAINS,
                 "test.yaml:9: services.ids.instances.ids-1.port: port p1 on "
                 "switch sw1 is already used by "
                 "services.fw.instances.fw-1.port "
                 "(line 6)");
    /* An instance and a chain endpoint. */
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: fw-2}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: [fw]\n",
                 "test.yaml:11: chains.web.ingress.port: port fw-2 on switch "
                 "sw1 is already used by services.fw.instances.fw-2.port "
                 "(line 7)");
    /* The ingress and egress of one chain. */
    ASSERT_FAILS(SWITCHES SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw1, port: client}\n"
                 "    services: [fw]\n",
                 "test.yaml:12: chains.web.egress.port: port client on switch "
                 "sw1 is already used by chains.web.ingress.port (line 11)");
    /* Two chains. */
    ASSERT_FAILS(SWITCHES SERVICES CHAINS
                 "  db:\n"
                 "    spi: 200\n"
                 "    ingress: {switch: sw1, port: client2}\n"
                 "    egress: {switch: sw1, port: server}\n"
                 "    services: [fw]\n",
                 "test.yaml:17: chains.db.egress.port: port server on switch "
                 "sw1 is already used by chains.web.egress.port (line 12)");
}

/* A leaf-spine fabric: lf1 and lf2 joined through sp1, lf3 alone. */
#define FABRIC                                                          \
    "switches:\n"                                                       \
    "  sp1: {dpid: 1}\n"                                                \
    "  lf1: {dpid: 2}\n"                                                \
    "  lf2: {dpid: 3}\n"                                                \
    "  lf3: {dpid: 4}\n"                                                \
    "links:\n"                                                          \
    "  - [{switch: lf1, port: up}, {switch: sp1, port: lf1}]\n"          \
    "  - [{switch: lf2, port: up}, {switch: sp1, port: lf2}]\n"
#define FABRIC_SERVICES(FW2_SWITCH)                                     \
    "services:\n"                                                       \
    "  fw:\n"                                                           \
    "    instances:\n"                                                  \
    "      fw-1: {switch: lf1, port: fw-1, mac: 02:00:00:00:01:01}\n"    \
    "      fw-2: {switch: " FW2_SWITCH ", port: fw-2, "                 \
    "mac: 02:00:00:00:01:02}\n"
#define FABRIC_CHAIN(EGRESS_SWITCH)                                     \
    "chains:\n"                                                         \
    "  web:\n"                                                          \
    "    spi: 100\n"                                                    \
    "    ingress: {switch: lf1, port: client}\n"                        \
    "    egress: {switch: " EGRESS_SWITCH ", port: server}\n"           \
    "    services: [fw]\n"

/* Returns the port by which switch 'a' of 'cfg' sends toward switch 'b',
 * every link usable. */
static const char *
next_port(const struct sfm_config *cfg, const char *a, const char *b)
{
    struct fabric *f = fabric_create(cfg);
    const char *port = fabric_next_port(f, cfg_find_switch(cfg, a)
                                           - cfg->switches,
                                        cfg_find_switch(cfg, b)
                                        - cfg->switches);

    fabric_destroy(f);
    return port;
}
#define NEXT_PORT next_port

/* Returns true if switch 'name' of 'cfg' has links. */
static bool
has_links(const struct sfm_config *cfg, const char *name)
{
    struct fabric *f = fabric_create(cfg);
    bool has = fabric_has_links(f, cfg_find_switch(cfg, name)
                                   - cfg->switches);

    fabric_destroy(f);
    return has;
}

static void
test_links(void)
{
    struct sfm_config *cfg;

    cfg = parse_ok(FABRIC FABRIC_SERVICES("lf2") FABRIC_CHAIN("lf2"));
    if (cfg) {
        CU_ASSERT_EQUAL(cfg->n_links, 2);
        CU_ASSERT_STRING_EQUAL(cfg->switches[cfg->links[1].ends[0].sw].name,
                               "lf2");
        CU_ASSERT_STRING_EQUAL(cfg->links[1].ends[1].port, "lf2");
        CU_ASSERT_EQUAL(cfg->links[1].line, 8);
        /* The next hop is the link's local end, both ways. */
        CU_ASSERT_STRING_EQUAL(NEXT_PORT(cfg, "lf1", "lf2"), "up");
        CU_ASSERT_STRING_EQUAL(NEXT_PORT(cfg, "sp1", "lf2"), "lf2");
        CU_ASSERT_STRING_EQUAL(NEXT_PORT(cfg, "sp1", "lf1"), "lf1");
        CU_ASSERT_PTR_NULL(NEXT_PORT(cfg, "lf1", "lf1"));
        CU_ASSERT_PTR_NULL(NEXT_PORT(cfg, "lf1", "lf3"));
        CU_ASSERT(has_links(cfg, "sp1"));
        CU_ASSERT(!has_links(cfg, "lf3"));
        cfg_destroy(cfg);
    }

    /* The example fabric. */
    CU_ASSERT_PTR_NULL(cfg_read("docs/examples/leaf-spine.yaml", &cfg));
    if (cfg) {
        CU_ASSERT_EQUAL(cfg->n_switches, 3);
        CU_ASSERT_EQUAL(cfg->n_links, 2);
        CU_ASSERT_STRING_EQUAL(NEXT_PORT(cfg, "lf1", "lf2"), "lf1-sp1");
        CU_ASSERT_STRING_EQUAL(NEXT_PORT(cfg, "lf2", "lf1"), "lf2-sp1");
        cfg_destroy(cfg);
    }

    /* No links at all, written out. */
    cfg = parse_ok(SWITCHES "links: []\n" SERVICES CHAINS);
    if (cfg) {
        CU_ASSERT_EQUAL(cfg->n_links, 0);
        cfg_destroy(cfg);
    }
}

/* Switches name their hosts; a host is a failure domain, shared by the
 * switches that name it. */
static void
test_hosts(void)
{
    struct sfm_config *cfg;

    cfg = parse_ok("switches:\n"
                   "  sw1: {dpid: 1, host: h1}\n"
                   "  sw2: {dpid: 2, host: h2}\n"
                   "  sw3: {dpid: 3, host: h1}\n"
                   "  sw4: {dpid: 4}\n"
                   "links:\n"
                   "  - [{switch: sw1, port: t2}, {switch: sw2, port: t1}]\n"
                   "  - [{switch: sw1, port: t3}, {switch: sw3, port: t1}]\n"
                   "  - [{switch: sw1, port: t4}, {switch: sw4, port: t1}]\n"
                   SERVICES CHAINS);
    if (cfg) {
        CU_ASSERT_EQUAL(cfg->n_hosts, 2);
        CU_ASSERT_STRING_EQUAL(cfg->hosts[0].name, "h1");
        CU_ASSERT_STRING_EQUAL(cfg->hosts[1].name, "h2");
        CU_ASSERT_EQUAL(cfg_find_switch(cfg, "sw1")->host, 0);
        CU_ASSERT_EQUAL(cfg_find_switch(cfg, "sw2")->host, 1);
        CU_ASSERT_EQUAL(cfg_find_switch(cfg, "sw3")->host, 0);
        CU_ASSERT_EQUAL(cfg_find_switch(cfg, "sw4")->host, -1);
        cfg_destroy(cfg);
    }
    cfg = parse_ok(SWITCHES SERVICES CHAINS);
    if (cfg) {
        CU_ASSERT_EQUAL(cfg->n_hosts, 0);
        CU_ASSERT_EQUAL(cfg->switches[0].host, -1);
        cfg_destroy(cfg);
    }
    ASSERT_FAILS("switches:\n  sw1: {dpid: 1, host: [a]}\n" SERVICES CHAINS,
                 "test.yaml:2: switches.sw1.host:");
    ASSERT_FAILS("switches:\n  sw1: {dpid: 1, host: h1}\n"
                 "hosts:\n  h1: {ovsdb: \"h1:6640\"}\n" SERVICES CHAINS,
                 "test.yaml:4: hosts.h1.ovsdb: h1:6640 is no database "
                 "address");
    cfg = parse_ok("switches:\n  sw1: {dpid: 1, host: h1}\n"
                   "hosts:\n  h1: {ovsdb: \"unix:/run/db.sock\"}\n"
                   "bfd: {tunnel_min_tx_ms: 300}\n" SERVICES CHAINS);
    if (cfg) {
        CU_ASSERT_EQUAL(cfg->n_hosts, 1);
        CU_ASSERT_STRING_EQUAL(cfg->hosts[0].ovsdb, "unix:/run/db.sock");
        CU_ASSERT_EQUAL(cfg->bfd.tunnel_min_tx_ms, 300);
        CU_ASSERT_EQUAL(cfg->bfd.tunnel_min_rx_ms, 100);
        cfg_destroy(cfg);
    }
    ASSERT_FAILS("switches:\n  sw1: {dpid: 1, host: h1}\n"
                 "hosts:\n  h1: {underlay: 10.0.0.300}\n" SERVICES CHAINS,
                 "test.yaml:4: hosts.h1.underlay: 10.0.0.300 is no IPv4 "
                 "address");

    /* The damping of links: defaults, settings, and a maximum below the
     * base. */
    cfg = parse_ok("switches:\n  sw1: {dpid: 1}\n" SERVICES CHAINS);
    if (cfg) {
        CU_ASSERT_EQUAL(cfg->link_damping.base_ms, 1000);
        CU_ASSERT_EQUAL(cfg->link_damping.max_ms, 30000);
        CU_ASSERT_EQUAL(cfg->link_damping.decay_ms, 15000);
        cfg_destroy(cfg);
    }
    cfg = parse_ok("switches:\n  sw1: {dpid: 1}\n"
                   "link_damping: {base_ms: 0, decay_ms: 0}\n"
                   SERVICES CHAINS);
    if (cfg) {
        CU_ASSERT_EQUAL(cfg->link_damping.base_ms, 0);
        CU_ASSERT_EQUAL(cfg->link_damping.max_ms, 30000);
        CU_ASSERT_EQUAL(cfg->link_damping.decay_ms, 0);
        cfg_destroy(cfg);
    }
    ASSERT_FAILS("switches:\n  sw1: {dpid: 1}\n"
                 "link_damping: {base_ms: 5000, max_ms: 2000}\n"
                 SERVICES CHAINS,
                 "test.yaml:3: link_damping: max_ms (2000) is less than "
                 "base_ms (5000)");
    ASSERT_FAILS("switches:\n  sw1: {dpid: 1}\n"
                 "link_damping: {base: 5000}\n" SERVICES CHAINS,
                 "test.yaml:3: link_damping");

    /* The example of three hosts. */
    CU_ASSERT_PTR_NULL(cfg_read("docs/examples/three-hosts.yaml", &cfg));
    if (cfg) {
        CU_ASSERT_EQUAL(cfg->n_hosts, 3);
        CU_ASSERT_EQUAL(cfg->n_links, 3);
        CU_ASSERT_STRING_EQUAL(
            cfg->hosts[cfg_find_switch(cfg, "s3")->host].name, "h3");
        CU_ASSERT_STRING_EQUAL(
            cfg->hosts[cfg_find_switch(cfg, "s3")->host].ovsdb,
            "tcp:172.31.0.3:6640");
        CU_ASSERT_EQUAL(cfg->bfd.tunnel_min_rx_ms, 100);
        CU_ASSERT_STRING_EQUAL(
            cfg->hosts[cfg_find_switch(cfg, "s1")->host].underlay,
            "172.31.0.1");
        cfg_destroy(cfg);
    }
}

static void
test_bad_links(void)
{
    ASSERT_FAILS(SWITCHES "links: {a: b}\n" SERVICES CHAINS,
                 "test.yaml:3: links: expected a list of links");
    ASSERT_FAILS(SWITCHES "links:\n  - {switch: sw1, port: a}\n"
                 SERVICES CHAINS,
                 "test.yaml:4: links[0]: expected a list of the link's two "
                 "ends");
    ASSERT_FAILS(SWITCHES "links:\n  - [{switch: sw1, port: a}]\n"
                 SERVICES CHAINS,
                 "test.yaml:4: links[0]: a link has exactly two ends");
    ASSERT_FAILS(SWITCHES "links:\n  - [{switch: sw1, port: a}, "
                 "{switch: sw1, port: b}]\n" SERVICES CHAINS,
                 "test.yaml:4: links[0]: both ends are on switch sw1");
    ASSERT_FAILS(SWITCHES "links:\n  - [{switch: sw1, port: a}, "
                 "{switch: sw9, port: b}]\n" SERVICES CHAINS,
                 "test.yaml:4: links[0][1].switch: switch sw9 is not "
                 "defined in switches");
    ASSERT_FAILS(SWITCHES "links:\n  - [{switch: sw1, port: a}, "
                 "{switch: sw1}]\n" SERVICES CHAINS,
                 "test.yaml:4: links[0][1].port: required field is missing");
    /* Too many switches. */
    {
        struct ds text = DS_EMPTY_INITIALIZER;

        ds_put_cstr(&text, "switches:\n");
        for (int i = 1; i <= CFG_MAX_SWITCHES + 1; i++) {
            ds_put_format(&text, "  s%d: {dpid: %d}\n", i, i);
        }
        ds_put_cstr(&text, SERVICES CHAINS);
        CU_ASSERT(fails_with(ds_cstr(&text), "test.yaml:2: switches: 1025 "
                             "switches: at most 1024"));
        ds_destroy(&text);
    }
    /* A link's port is used by nothing else. */
    ASSERT_FAILS(FABRIC
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {switch: lf1, port: up, "
                 "mac: 02:00:00:00:01:01}\n"
                 FABRIC_CHAIN("lf2"),
                 "test.yaml:12: services.fw.instances.fw-1.port: port up on "
                 "switch lf1 is already used by links[0][0].port (line 7)");
}

static void
test_unreachable(void)
{
    ASSERT_FAILS(FABRIC FABRIC_SERVICES("lf2") FABRIC_CHAIN("lf3"),
                 "test.yaml:18: chains.web.egress.switch: switch lf3 cannot "
                 "be reached from the ingress's switch lf1: no path of links "
                 "joins them");
    ASSERT_FAILS(FABRIC FABRIC_SERVICES("lf3") FABRIC_CHAIN("lf2"),
                 "test.yaml:19: chains.web.services[0]: instance fw-2 of "
                 "service fw is on switch lf3, which cannot be reached from "
                 "the chain's ingress on switch lf1: no path of links joins "
                 "them");
    /* Without links, one switch per chain. */
    ASSERT_FAILS("switches:\n"
                 "  sw1: {dpid: 1}\n"
                 "  sw2: {dpid: 2}\n"
                 SERVICES
                 "chains:\n"
                 "  web:\n"
                 "    spi: 100\n"
                 "    ingress: {switch: sw1, port: client}\n"
                 "    egress: {switch: sw2, port: server}\n"
                 "    services: [fw]\n",
                 "test.yaml:13: chains.web.egress.switch: switch sw2 cannot "
                 "be reached");
}

static void
test_names(void)
{
    ASSERT_FAILS("switches:\n  \"sw 1\": {dpid: 1}\n" SERVICES CHAINS,
                 "test.yaml:2: switches: switch name \"sw 1\" contains a "
                 "space or a control character");
    ASSERT_FAILS("switches:\n  \"\": {dpid: 1}\n" SERVICES CHAINS,
                 "test.yaml:2: switches: switch name is empty");
    ASSERT_FAILS("switches:\n  ~: {dpid: 1}\n" SERVICES CHAINS,
                 "test.yaml:2: switches: expected a switch name, found no "
                 "value");
    ASSERT_FAILS("switches:\n  \"a\\0b\": {dpid: 1}\n" SERVICES CHAINS,
                 "test.yaml:2: switches: switch name \"a\\x00b\" contains a "
                 "space or a control character");
    ASSERT_FAILS("switches:\n  "
                 "s23456789012345678901234567890"
                 "12345678901234567890123456789012345"
                 ": {dpid: 1}\n" SERVICES CHAINS,
                 "test.yaml:2: switches: switch name \"s234567890123456789012"
                 "345678901234567890...\" is longer than 64 bytes");
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: {switch: sw1, port: fw-1234567890123, "
                 "mac: 02:00:00:00:01:01}\n" CHAINS,
                 "test.yaml:6: services.fw.instances.fw-1.port: port name "
                 "\"fw-1234567890123\" is longer than 15 bytes");
}

static void
test_empty(void)
{
    struct sfm_config *cfg = (struct sfm_config *) &cfg;
    char *error = cfg_parse("test.yaml", NULL, 0, &cfg);

    CU_ASSERT(check_error(error, cfg, "test.yaml:1: file is empty"));
    ASSERT_FAILS("", "test.yaml:1: file is empty");
    ASSERT_FAILS("# nothing yet\n\n", "test.yaml:1: file is empty");
    ASSERT_FAILS("---\n", "file is empty");
    ASSERT_FAILS("~\n", "test.yaml:1: file is empty");
    ASSERT_FAILS("---\n...\n", "file is empty");
}

static void
test_aliases_and_tags(void)
{
    ASSERT_FAILS(SWITCHES
                 "services:\n"
                 "  fw:\n"
                 "    instances:\n"
                 "      fw-1: &i {switch: sw1, port: fw-1, "
                 "mac: 02:00:00:00:01:01}\n"
                 "      fw-2: *i\n" CHAINS,
                 "test.yaml:6: YAML anchors (&i) and aliases are not "
                 "supported");
    ASSERT_FAILS("a: *x\n", "test.yaml:1: YAML aliases (*) and anchors are "
                 "not supported");
    /* The "billion laughs". */
    ASSERT_FAILS("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                 "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                 "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                 "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                 "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                 "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                 "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                 "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                 "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n",
                 "test.yaml:1: YAML anchors (&a) and aliases are not "
                 "supported");
    /* A node that contains itself. */
    ASSERT_FAILS("a: &a [*a]\n", "test.yaml:1: YAML anchors");
    ASSERT_FAILS("switches:\n  sw1: {dpid: !!int 1}\n" SERVICES CHAINS,
                 "test.yaml:2: YAML tags (tag:yaml.org,2002:int) are not "
                 "supported");
    ASSERT_FAILS("--- !custom\nswitches: {}\n", "test.yaml:1: YAML tags");
}

static void
test_two_documents(void)
{
    ASSERT_FAILS(SWITCHES SERVICES CHAINS "---\n" SWITCHES,
                 "test.yaml:14: only one YAML document is allowed");
}

static void
test_deep_nesting(void)
{
    enum { DEPTH = 100000 };
    char *text = xmalloc(2 * DEPTH + 1);

    /* Unclosed, then closed: neither may crash or take long. */
    memset(text, '[', DEPTH);
    text[DEPTH] = '\0';
    ASSERT_FAILS(text, "test.yaml:1: lists and mappings are nested deeper "
                 "than 32 levels");
    memset(text + DEPTH, ']', DEPTH);
    text[2 * DEPTH] = '\0';
    ASSERT_FAILS(text, "test.yaml:1: lists and mappings are nested deeper "
                 "than 32 levels");
    memset(text, '{', DEPTH);
    text[DEPTH] = '\0';
    ASSERT_FAILS(text, "test.yaml:1: lists and mappings are nested deeper "
                 "than 32 levels");
    free(text);

    /* Block style, one level per line. */
    {
        struct ds s = DS_EMPTY_INITIALIZER;

        for (int i = 0; i < 1000; i++) {
            ds_put_char_multiple(&s, ' ', i);
            ds_put_cstr(&s, "- \n");
        }
        ASSERT_FAILS(ds_cstr(&s), "lists and mappings are nested deeper "
                     "than 32 levels");
        ds_destroy(&s);
    }
}

/* Writes 'size' bytes of a valid-looking configuration to a new temporary
 * file and returns its name, which the caller frees after removing it. */
static char *
write_temp(size_t size)
{
    char *name = xstrdup("/tmp/sfmesh-test-config-XXXXXX");
    int fd = mkstemp(name);
    FILE *f;

    CU_ASSERT_FATAL(fd >= 0);
    f = fdopen(fd, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(SWITCHES SERVICES CHAINS, f);
    for (size_t n = strlen(SWITCHES SERVICES CHAINS); n < size; n += 63) {
        fprintf(f, "%-62s\n", "# padding");
    }
    CU_ASSERT_EQUAL(fclose(f), 0);
    return name;
}

static void
test_file_too_large(void)
{
    struct sfm_config *cfg = (struct sfm_config *) &cfg;
    char *name = write_temp(10 * 1024 * 1024);
    char *expected = xasprintf("%s: file is larger than 1 MiB", name);
    char *error = cfg_read(name, &cfg);

    CU_ASSERT(check_error(error, cfg, expected));
    free(expected);
    unlink(name);
    free(name);

    /* Just under the limit is read; the limit is also cfg_parse()'s. */
    name = write_temp(CFG_MAX_FILE_SIZE - 64);
    CU_ASSERT_PTR_NULL(cfg_read(name, &cfg));
    CU_ASSERT_PTR_NOT_NULL(cfg);
    cfg_destroy(cfg);
    unlink(name);
    free(name);

    {
        char *text = xmalloc(CFG_MAX_FILE_SIZE + 1);

        memset(text, '#', CFG_MAX_FILE_SIZE + 1);
        cfg = (struct sfm_config *) &cfg;
        error = cfg_parse("big.yaml", text, CFG_MAX_FILE_SIZE + 1, &cfg);
        CU_ASSERT(check_error(error, cfg,
                              "big.yaml: file is larger than 1 MiB"));
        free(text);
    }
}

static void
test_read_errors(void)
{
    struct sfm_config *cfg = (struct sfm_config *) &cfg;
    char *expected, *error;

    expected = xasprintf("/nonexistent/sfmesh.yaml: cannot open: %s",
                         ovs_strerror(ENOENT));
    error = cfg_read("/nonexistent/sfmesh.yaml", &cfg);
    CU_ASSERT(check_error(error, cfg, expected));
    free(expected);

    cfg = (struct sfm_config *) &cfg;
    expected = xasprintf("/tmp: cannot read: %s", ovs_strerror(EISDIR));
    error = cfg_read("/tmp", &cfg);
    CU_ASSERT(check_error(error, cfg, expected));
    free(expected);
}

static const struct test_case config_tests[] = {
    { "example as a string", test_example_string },
    { "example file", test_example_file },
    { "defaults", test_defaults },
    { "other valid values", test_other_values },
    { "bfd settings", test_bfd },
    { "YAML syntax errors", test_syntax_error },
    { "top level not a mapping", test_top_level_not_mapping },
    { "unknown keys", test_unknown_keys },
    { "duplicate keys", test_duplicate_keys },
    { "wrong types", test_wrong_types },
    { "missing fields", test_missing_fields },
    { "bucket counts", test_buckets },
    { "chain matches", test_match },
    { "groups and steering flows", test_entries },
    { "bad numbers", test_numbers },
    { "bad MACs", test_bad_mac },
    { "service without instances", test_service_without_instances },
    { "instance name twice", test_instance_name_twice },
    { "undefined switch", test_undefined_switch },
    { "unknown service in a chain", test_unknown_service },
    { "service twice in a chain", test_service_twice_in_chain },
    { "SPI overlap", test_spi_overlap },
    { "datapath id twice", test_dpid_twice },
    { "port used twice", test_port_twice },
    { "links", test_links },
    { "hosts", test_hosts },
    { "bad links", test_bad_links },
    { "switches a chain cannot reach", test_unreachable },
    { "bad names", test_names },
    { "empty file", test_empty },
    { "aliases and tags", test_aliases_and_tags },
    { "two documents", test_two_documents },
    { "deep nesting", test_deep_nesting },
    { "file too large", test_file_too_large },
    { "read errors", test_read_errors },
    { NULL, NULL },
};
TEST_SUITE("config", config_tests)
