/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* The steering policy across several switches, driven by scripted
 * switches: the wait for every switch at start, links going down and up,
 * chains that share a service, instances that no working path reaches. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "ctlstate.h"
#include "of-peer.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/vlog.h"
#include "steer.h"
#include "svcmap.h"
#include "tests.h"
#include "util.h"

/* Spine sp1 and leaves lf1 to lf3.  Chain web from lf1 to lf2, chain
 * office (with OFFICE) within lf3; service fw has one instance per leaf. */
#define FABRIC_YAML(OFFICE)                                             \
    "buckets: 16\n"                                                     \
    "switches:\n"                                                       \
    "  sp1: {dpid: 1}\n"                                                \
    "  lf1: {dpid: 2}\n"                                                \
    "  lf2: {dpid: 3}\n"                                                \
    "  lf3: {dpid: 4}\n"                                                \
    "links:\n"                                                          \
    "  - [{switch: lf1, port: up}, {switch: sp1, port: lf1}]\n"          \
    "  - [{switch: lf2, port: up}, {switch: sp1, port: lf2}]\n"          \
    "  - [{switch: lf3, port: up}, {switch: sp1, port: lf3}]\n"          \
    "services:\n"                                                       \
    "  fw:\n"                                                           \
    "    instances:\n"                                                  \
    "      fw-1: {switch: lf1, port: fw-1, mac: 02:00:00:00:01:01}\n"    \
    "      fw-2: {switch: lf2, port: fw-2, mac: 02:00:00:00:01:02}\n"    \
    "      fw-3: {switch: lf3, port: fw-3, mac: 02:00:00:00:01:03}\n"    \
    "chains:\n"                                                         \
    "  web:\n"                                                          \
    "    spi: 100\n"                                                    \
    "    ingress: {switch: lf1, port: client}\n"                        \
    "    egress: {switch: lf2, port: server}\n"                         \
    "    services: [fw]\n"                                              \
    OFFICE

#define OFFICE_CHAIN                                                    \
    "  office:\n"                                                       \
    "    spi: 200\n"                                                    \
    "    ingress: {switch: lf3, port: client}\n"                        \
    "    egress: {switch: lf3, port: server}\n"                         \
    "    services: [fw]\n"

/* The switches and their ports, numbered from 1 in this order. */
enum { SP1, LF1, LF2, LF3, N_SWITCHES };
static const struct {
    const char *name;
    uint64_t dpid;
    const char *ports[4];
    size_t n_ports;
} switches[N_SWITCHES] = {
    [SP1] = { "sp1", 1, { "lf1", "lf2", "lf3" }, 3 },
    [LF1] = { "lf1", 2, { "up", "client", "fw-1" }, 3 },
    [LF2] = { "lf2", 3, { "up", "server", "fw-2" }, 3 },
    [LF3] = { "lf3", 4, { "up", "client", "server", "fw-3" }, 4 },
};

struct fixture {
    struct steer *st;
    struct peer_events ev[N_SWITCHES];
    struct ofconn *conns[N_SWITCHES];
};

static void
fixture_init(struct fixture *fx, const char *yaml)
{
    struct sfm_config *cfg;
    char *error;

    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    error = cfg_parse("test.yaml", yaml, strlen(yaml), &cfg);
    CU_ASSERT_PTR_NULL_FATAL(error);
    memset(fx, 0, sizeof *fx);
    fx->st = steer_create(cfg, NULL, NULL, 0);
}

static void
connect_switch(struct fixture *fx, int k)
{
    struct ofputil_phy_port pps[4];
    struct ofconn *conn = peer_conn_create(&fx->ev[k], 0);

    for (size_t i = 0; i < switches[k].n_ports; i++) {
        pps[i] = peer_port(i + 1, switches[k].ports[i], true);
    }
    peer_handshake(conn, OFP15_VERSION, switches[k].dpid, pps,
                   switches[k].n_ports, 0);
    peer_drain(conn);
    steer_switch_ready(fx->st, conn);
    peer_drain(conn);
    fx->conns[k] = conn;
}

/* Sets port 'port_no' of switch 'k' up or down, as a port status would. */
static void
set_port(struct fixture *fx, int k, uint16_t port_no, bool up)
{
    struct ofputil_phy_port pp = peer_port(port_no,
                                           switches[k].ports[port_no - 1],
                                           up);

    peer_feed(fx->conns[k], peer_port_status(OFP15_VERSION, OFPPR_MODIFY,
                                             &pp), 0);
    steer_port_changed(fx->st, fx->conns[k], NULL, &pp);
    peer_drain(fx->conns[k]);
}

static void
fixture_destroy(struct fixture *fx)
{
    for (int k = 0; k < N_SWITCHES; k++) {
        if (fx->conns[k]) {
            steer_switch_closed(fx->st, fx->conns[k]);
            ofconn_destroy(fx->conns[k]);
        }
    }
    steer_destroy(fx->st);
}

/* Returns the desired groups of switch 'k'. */
static char *
groups(const struct fixture *fx, int k)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    char *error = steer_format_desired(fx->st, switches[k].name, true, &s);

    CU_ASSERT_PTR_NULL(error);
    free(error);
    return ds_steal_cstr(&s);
}

/* Returns the state of instance 'name' and, in '*n_primary', how many
 * buckets it is primary of. */
static enum svcmap_state
state(const struct fixture *fx, const char *name, size_t *n_primary)
{
    int idx;
    const struct svcmap *map = steer_map_of_instance(fx->st, name, &idx);

    CU_ASSERT_PTR_NOT_NULL_FATAL(map);
    if (n_primary) {
        *n_primary = svcmap_count_primary(map, idx);
    }
    return map->instances[idx].state;
}

/* The buckets of service fw, as primary and secondary per bucket. */
static void
buckets(const struct fixture *fx, int out[16][2])
{
    int idx;
    const struct svcmap *map = steer_map_of_instance(fx->st, "fw-1", &idx);

    for (int b = 0; b < 16; b++) {
        out[b][0] = map->buckets[b].primary;
        out[b][1] = map->buckets[b].secondary;
    }
}

/* A restarted controller must arrive at the groups the switches already
 * have, whatever order they reconnect in: what the first leaf would get
 * is what it ends up with. */
static void
test_restart_order(void)
{
    struct fixture fx;
    char *first, *last;

    fixture_init(&fx, FABRIC_YAML(""));
    connect_switch(&fx, LF1);
    first = groups(&fx, LF1);
    CU_ASSERT_PTR_NOT_NULL(strstr(first, "02:00:00:00:01:02"));
    connect_switch(&fx, SP1);
    connect_switch(&fx, LF3);
    connect_switch(&fx, LF2);
    last = groups(&fx, LF1);
    CU_ASSERT_STRING_EQUAL(first, last);
    free(first);
    free(last);
    fixture_destroy(&fx);
}

/* A switch that does not connect within the wait: its instances are left
 * out, and come in when it connects. */
static void
test_switch_missing(void)
{
    struct fixture fx;
    size_t n;
    char *g;

    fixture_init(&fx, FABRIC_YAML(""));
    connect_switch(&fx, SP1);
    connect_switch(&fx, LF1);
    connect_switch(&fx, LF3);
    steer_run(fx.st, STEER_SETTLE_MS - 1);
    CU_ASSERT_EQUAL(state(&fx, "fw-2", NULL), SVCMAP_UP);
    steer_run(fx.st, STEER_SETTLE_MS);
    CU_ASSERT_EQUAL(state(&fx, "fw-2", &n), SVCMAP_DOWN);
    CU_ASSERT_EQUAL(n, 0);
    g = groups(&fx, LF1);
    CU_ASSERT_PTR_NULL(strstr(g, "02:00:00:00:01:02"));
    free(g);

    /* It joins a map in use, cold, and wins its buckets by handoffs:
     * without agents there is no state to wait for, so they complete as
     * fast as the rate allows. */
    connect_switch(&fx, LF2);
    CU_ASSERT_EQUAL(state(&fx, "fw-2", &n), SVCMAP_COLD);
    CU_ASSERT_EQUAL(n, 0);
    for (int t = 1; t <= 20; t++) {
        steer_run(fx.st, STEER_SETTLE_MS + t * 100);
    }
    CU_ASSERT_EQUAL(state(&fx, "fw-2", &n), SVCMAP_UP);
    CU_ASSERT(n > 0);
    {
        const struct svcmap *map;
        int idx;

        map = steer_map_of_instance(fx.st, "fw-2", &idx);
        CU_ASSERT_EQUAL(n, svcmap_count_target(map, idx));
    }
    fixture_destroy(&fx);
}

/* The link that joins web's ingress to its egress flaps: web is cut in
 * two for a while, which says nothing about the instances; no bucket
 * moves. */
static void
test_link_flap(void)
{
    int before[16][2], after[16][2];
    struct fixture fx;

    fixture_init(&fx, FABRIC_YAML(""));
    for (int k = 0; k < N_SWITCHES; k++) {
        connect_switch(&fx, k);
    }
    buckets(&fx, before);
    set_port(&fx, LF2, 1, false);
    CU_ASSERT_EQUAL(state(&fx, "fw-1", NULL), SVCMAP_UP);
    CU_ASSERT_EQUAL(state(&fx, "fw-2", NULL), SVCMAP_UP);
    set_port(&fx, LF2, 1, true);
    buckets(&fx, after);
    CU_ASSERT_EQUAL(memcmp(before, after, sizeof before), 0);
    fixture_destroy(&fx);
}

/* Says whether port 'port' is ready: not "fw-2" while 'aux' is true. */
static bool
fw2_not_ready_cb(const struct cfg_switch *sw OVS_UNUSED, const char *port,
                 void *aux)
{
    return !*(bool *) aux || strcmp(port, "fw-2");
}

/* A port live by OpenFlow but not ready by the callback (BFD not yet up
 * on it) keeps its instance out; once ready, a refresh brings it back
 * cold, with none of the buckets it had. */
static void
test_port_ready(void)
{
    bool hold = false;
    size_t n;
    struct fixture fx;

    fixture_init(&fx, FABRIC_YAML(""));
    steer_set_port_ready_cb(fx.st, fw2_not_ready_cb, &hold);
    for (int k = 0; k < N_SWITCHES; k++) {
        connect_switch(&fx, k);
    }
    CU_ASSERT_EQUAL(state(&fx, "fw-2", &n), SVCMAP_UP);
    CU_ASSERT(n > 0);
    hold = true;
    steer_refresh(fx.st);
    CU_ASSERT_EQUAL(state(&fx, "fw-2", &n), SVCMAP_DOWN);
    CU_ASSERT_EQUAL(n, 0);
    CU_ASSERT_EQUAL(state(&fx, "fw-1", NULL), SVCMAP_UP);
    /* A port status of the live port changes nothing while not ready. */
    set_port(&fx, LF2, 3, true);
    CU_ASSERT_EQUAL(state(&fx, "fw-2", NULL), SVCMAP_DOWN);
    hold = false;
    steer_refresh(fx.st);
    CU_ASSERT_EQUAL(state(&fx, "fw-2", &n), SVCMAP_COLD);
    CU_ASSERT_EQUAL(n, 0);
    fixture_destroy(&fx);
}

/* lf3 loses its uplink.  Without chain office, fw-3 is cut off from the
 * only chain of its service and leaves the map, and enabling it again
 * does not bring it back; with office, which still works inside lf3, it
 * stays, and so do the others; either way, lf1's groups no longer send
 * to it. */
static void
test_cut_off(void)
{
    struct fixture fx;
    size_t n;
    char *g;

    fixture_init(&fx, FABRIC_YAML(""));
    for (int k = 0; k < N_SWITCHES; k++) {
        connect_switch(&fx, k);
    }
    set_port(&fx, LF3, 1, false);
    CU_ASSERT_EQUAL(state(&fx, "fw-3", &n), SVCMAP_DOWN);
    CU_ASSERT_EQUAL(n, 0);
    free(steer_set_enabled(fx.st, "fw-3", false));
    free(steer_set_enabled(fx.st, "fw-3", true));
    CU_ASSERT_EQUAL(state(&fx, "fw-3", NULL), SVCMAP_DOWN);
    g = groups(&fx, LF1);
    CU_ASSERT_PTR_NULL(strstr(g, "02:00:00:00:01:03"));
    free(g);

    /* Back: the uplink flapped, so it stays out while the link is damped
     * (1 s from the flap, at 0), then rejoins (the policy, with no agent
     * to wait for, promotes it at once). */
    set_port(&fx, LF3, 1, true);
    CU_ASSERT_EQUAL(state(&fx, "fw-3", NULL), SVCMAP_DOWN);
    steer_run(fx.st, 999);
    CU_ASSERT_EQUAL(state(&fx, "fw-3", NULL), SVCMAP_DOWN);
    steer_run(fx.st, 1000);
    CU_ASSERT_NOT_EQUAL(state(&fx, "fw-3", NULL), SVCMAP_DOWN);
    fixture_destroy(&fx);

    fixture_init(&fx, FABRIC_YAML(OFFICE_CHAIN));
    for (int k = 0; k < N_SWITCHES; k++) {
        connect_switch(&fx, k);
    }
    set_port(&fx, LF3, 1, false);
    CU_ASSERT_EQUAL(state(&fx, "fw-1", &n), SVCMAP_UP);
    CU_ASSERT(n > 0);
    CU_ASSERT_EQUAL(state(&fx, "fw-2", &n), SVCMAP_UP);
    CU_ASSERT(n > 0);
    CU_ASSERT_EQUAL(state(&fx, "fw-3", &n), SVCMAP_UP);
    CU_ASSERT(n > 0);
    g = groups(&fx, LF1);
    CU_ASSERT_PTR_NULL(strstr(g, "02:00:00:00:01:03"));
    free(g);
    fixture_destroy(&fx);
}

/* Holds back both ends of link lf3 - sp1 (a tunnel whose BFD has not
 * come up yet) while '*aux'. */
static bool
lf3_link_not_ready_cb(const struct cfg_switch *sw, const char *port,
                      void *aux)
{
    return !(*(bool *) aux
             && ((!strcmp(sw->name, "lf3") && !strcmp(port, "up"))
                 || (!strcmp(sw->name, "sp1") && !strcmp(port, "lf3"))));
}

/* A link whose ports are not ready (BFD wanted on them but not yet Up)
 * counts as down, so the instance only it reaches stays out; once ready,
 * a refresh takes it up with no flap counted: the start of BFD on a
 * tunnel is not a flap. */
static void
test_link_port_ready(void)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    bool hold = true;
    struct fixture fx;

    fixture_init(&fx, FABRIC_YAML(""));
    steer_set_port_ready_cb(fx.st, lf3_link_not_ready_cb, &hold);
    for (int k = 0; k < N_SWITCHES; k++) {
        connect_switch(&fx, k);
    }
    CU_ASSERT_EQUAL(state(&fx, "fw-3", NULL), SVCMAP_DOWN);
    steer_format_switches(fx.st, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s),
                                  "link lf3:up - sp1:lf3: down\n"));
    ds_clear(&s);

    hold = false;
    steer_refresh(fx.st);
    CU_ASSERT_NOT_EQUAL(state(&fx, "fw-3", NULL), SVCMAP_DOWN);
    steer_format_switches(fx.st, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s),
                                  "link lf3:up - sp1:lf3: up\n"));
    CU_ASSERT_PTR_NULL(strstr(ds_cstr(&s), "flaps"));
    ds_destroy(&s);
    fixture_destroy(&fx);
}

/* A switch that disconnects: the links to it count as usable again (it
 * forwards without the controller), at once, not at the next event, but
 * for a link that went down before: it is damped. */
static void
test_switch_closed(void)
{
    struct fixture fx;
    struct ds s = DS_EMPTY_INITIALIZER;

    fixture_init(&fx, FABRIC_YAML(""));
    for (int k = 0; k < N_SWITCHES; k++) {
        connect_switch(&fx, k);
    }
    set_port(&fx, LF3, 1, false);
    CU_ASSERT_EQUAL(state(&fx, "fw-3", NULL), SVCMAP_DOWN);
    steer_format_switches(fx.st, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "link lf3:up - sp1:lf3: "
                                  "down (1 flaps, penalty 1000 ms)\n"));
    ds_clear(&s);

    steer_switch_closed(fx.st, fx.conns[LF3]);
    ofconn_destroy(fx.conns[LF3]);
    fx.conns[LF3] = NULL;
    steer_format_switches(fx.st, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "switch lf3 (dpid "
                                  "0000000000000004): not connected\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "link lf3:up - sp1:lf3: "
                                  "down, damped for 1000 ms more "
                                  "(1 flaps, penalty 1000 ms)\n"));
    ds_clear(&s);
    steer_run(fx.st, 1000);
    steer_format_switches(fx.st, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "link lf3:up - sp1:lf3: "
                                  "up (1 flaps, penalty 1000 ms)\n"));
    ds_destroy(&s);
    fixture_destroy(&fx);
}

/* One switch, one chain through fw. */
#define ONE_SWITCH_YAML                                                 \
    "buckets: 4\n"                                                      \
    "switches:\n"                                                       \
    "  sw1: {dpid: 1}\n"                                                \
    "services:\n"                                                       \
    "  fw:\n"                                                           \
    "    instances:\n"                                                  \
    "      fw-1: {switch: sw1, port: fw-1, mac: 02:00:00:00:01:01}\n"    \
    "      fw-2: {switch: sw1, port: fw-2, mac: 02:00:00:00:01:02}\n"    \
    "chains:\n"                                                         \
    "  web:\n"                                                          \
    "    spi: 100\n"                                                    \
    "    ingress: {switch: sw1, port: client}\n"                        \
    "    egress: {switch: sw1, port: server}\n"                         \
    "    services: [fw]\n"

/* Plays the switch 'conn' of 'st' for what it was sent: dump requests are
 * answered with an empty switch, and barriers are answered, after an
 * error reply to the bundle if 'fail' is true.  Returns the number of
 * bundles seen. */
static int
serve(struct steer *st, struct ofconn *conn, bool fail)
{
    struct ofpbuf *b;
    int n_bundles = 0;

    while ((b = ofconn_pop_tx(conn)) != NULL) {
        const struct ofp_header *oh = b->data;
        struct ofpbuf *reply = NULL;
        enum ofptype type;

        CU_ASSERT_EQUAL_FATAL(ofptype_decode(&type, oh), 0);
        if (type == OFPTYPE_FLOW_STATS_REQUEST
            || type == OFPTYPE_GROUP_DESC_STATS_REQUEST) {
            reply = ofpraw_alloc_stats_reply(oh, 0);
        } else if (type == OFPTYPE_BUNDLE_CONTROL) {
            n_bundles++;
        } else if (type == OFPTYPE_BARRIER_REQUEST) {
            if (fail) {
                steer_error(st, conn, OFPERR_OFPBFC_MSG_FAILED, htonl(77));
            }
            peer_feed(conn, ofpraw_alloc_reply(OFPRAW_OFPT11_BARRIER_REPLY,
                                               oh, 0), 0);
        }
        if (reply) {
            enum ofptype reply_type;

            ofpmsg_update_length(reply);
            CU_ASSERT_EQUAL(ofptype_decode(&reply_type, reply->data), 0);
            steer_message(st, conn, reply_type, reply->data);
            ofpbuf_delete(reply);
        }
        ofpbuf_delete(b);
    }
    return n_bundles / 2;       /* An open and a commit each. */
}

/* Returns what "sfmesh-ctl switches" says of 'st', for the caller to
 * free. */
static char *
switches_text(const struct steer *st)
{
    struct ds s = DS_EMPTY_INITIALIZER;

    steer_format_switches(st, &s);
    return ds_steal_cstr(&s);
}

/* Asserts that "sfmesh-ctl switches" of ST contains EXPECTED. */
#define ASSERT_SWITCHES(ST, EXPECTED)                                   \
    do {                                                                \
        char *text_ = switches_text(ST);                                \
                                                                        \
        if (!strstr(text_, EXPECTED)) {                                 \
            printf("\n    expected \"%s\" in \"%s\"\n", EXPECTED, text_); \
        }                                                               \
        CU_ASSERT_PTR_NOT_NULL(strstr(text_, EXPECTED));                \
        free(text_);                                                    \
    } while (0)

/* A switch that refuses a bundle shows as not in sync with the reason, in
 * "switches" and in what "status" shows, until a round succeeds. */
static void
test_sync_problems(void)
{
    static const char *const names[] = { "client", "server", "fw-1",
                                         "fw-2" };
    const char *yaml = ONE_SWITCH_YAML;
    struct ofputil_phy_port pps[4];
    struct peer_events ev;
    struct sfm_config *cfg;
    struct ofconn *conn;
    struct steer *st;
    char *error, *sync;

    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    error = cfg_parse("test.yaml", yaml, strlen(yaml), &cfg);
    CU_ASSERT_PTR_NULL_FATAL(error);
    st = steer_create(cfg, NULL, NULL, 0);

    conn = peer_conn_create(&ev, 0);
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        pps[i] = peer_port(i + 1, names[i], true);
    }
    peer_handshake(conn, OFP15_VERSION, 1, pps, ARRAY_SIZE(pps), 0);
    peer_drain(conn);
    steer_switch_ready(st, conn);

    /* Programmed, in sync. */
    CU_ASSERT_EQUAL(serve(st, conn, false), 1);
    ASSERT_SWITCHES(st, "IDLE, in sync; installed ");
    sync = steer_switch_sync(st, conn);
    CU_ASSERT_STRING_EQUAL(sync, "in sync");
    free(sync);

    /* An instance fails; the switch refuses the bundle of the repair. */
    {
        struct ofputil_phy_port pp = peer_port(3, "fw-1", false);

        peer_feed(conn, peer_port_status(OFP15_VERSION, OFPPR_MODIFY, &pp),
                  0);
        steer_port_changed(st, conn, NULL, &pp);
    }
    CU_ASSERT_EQUAL(serve(st, conn, true), 1);
    ASSERT_SWITCHES(st, "DUMP_NEEDED, not in sync (the switch replied "
                    "OFPBFC_MSG_FAILED to xid 0x4d)");
    steer_run(st, 0);
    /* The dump (the switch answers that it lost everything) still leaves
     * it not in sync... */
    CU_ASSERT_EQUAL(serve(st, conn, true), 1);
    ASSERT_SWITCHES(st, "not in sync (the switch replied "
                    "OFPBFC_MSG_FAILED");
    sync = steer_switch_sync(st, conn);
    CU_ASSERT_PTR_NOT_NULL(strstr(sync, "OFPBFC_MSG_FAILED"));
    free(sync);
    /* ...until a round succeeds. */
    steer_run(st, 0);
    CU_ASSERT_EQUAL(serve(st, conn, false), 1);
    ASSERT_SWITCHES(st, "IDLE, in sync; installed ");

    steer_switch_closed(st, conn);
    ofconn_destroy(conn);
    steer_destroy(st);
}

/* A reload with the file unchanged, after a failure and a recovery, keeps
 * the map as it is and its epoch; an agent's newer epoch (from before a
 * restart) pushes the map's past it; a saved state does the same at
 * start. */
static void
test_epochs_continue(void)
{
    int before[16][2], after[16][2];
    struct sfm_config *cfg;
    struct fixture fx;
    const struct svcmap *map;
    struct ctlstate saved;
    uint64_t epoch;
    size_t n_primary;
    int idx;

    fixture_init(&fx, FABRIC_YAML(""));
    for (int k = 0; k < N_SWITCHES; k++) {
        connect_switch(&fx, k);
    }
    set_port(&fx, LF2, 3, false);           /* fw-2 fails... */
    set_port(&fx, LF2, 3, true);            /* ...and comes back cold. */
    CU_ASSERT_EQUAL(state(&fx, "fw-2", &n_primary), SVCMAP_COLD);
    map = steer_map_of_instance(fx.st, "fw-2", &idx);
    {
        /* Its agent reports every bucket warm: up again, and its handoffs
         * begin (it becomes the secondary of the buckets it is to take
         * over, first). */
        uint8_t warm[2] = { 0xff, 0xff };

        steer_agent_report(fx.st, "fw-2", map->epoch, map->n_buckets, warm,
                           0);
    }
    CU_ASSERT_EQUAL(state(&fx, "fw-2", &n_primary), SVCMAP_UP);
    CU_ASSERT_EQUAL(n_primary, 0);
    epoch = map->epoch;
    buckets(&fx, before);

    CU_ASSERT_PTR_NULL_FATAL(cfg_parse("test.yaml", FABRIC_YAML(""),
                                       strlen(FABRIC_YAML("")), &cfg));
    CU_ASSERT_PTR_NULL(steer_reload(fx.st, cfg));
    map = steer_map_of_instance(fx.st, "fw-2", &idx);
    CU_ASSERT_EQUAL(map->epoch, epoch);
    buckets(&fx, after);
    CU_ASSERT_EQUAL(memcmp(before, after, sizeof before), 0);
    CU_ASSERT_EQUAL(state(&fx, "fw-2", &n_primary), SVCMAP_UP);
    CU_ASSERT_EQUAL(n_primary, 0);

    /* A changed file: afresh, but never a lower epoch. */
    CU_ASSERT_PTR_NULL_FATAL(cfg_parse("test.yaml", FABRIC_YAML(OFFICE_CHAIN),
                                       strlen(FABRIC_YAML(OFFICE_CHAIN)),
                                       &cfg));
    CU_ASSERT_PTR_NULL(steer_reload(fx.st, cfg));
    map = steer_map_of_instance(fx.st, "fw-2", &idx);
    CU_ASSERT(map->epoch >= epoch);

    /* Agents that hold older or equal epochs change nothing; a newer one
     * moves the map past it. */
    epoch = map->epoch;
    steer_agent_epoch(fx.st, "fw-1", epoch - 1);
    steer_agent_epoch(fx.st, "fw-1", epoch);
    CU_ASSERT_EQUAL(map->epoch, epoch);
    steer_agent_epoch(fx.st, "fw-1", epoch + 40);
    CU_ASSERT_EQUAL(map->epoch, epoch + 41);
    steer_agent_epoch(fx.st, "nobody", epoch + 100);
    CU_ASSERT_EQUAL(map->epoch, epoch + 41);

    /* What a restarted controller continues from. */
    ctlstate_init(&saved);
    steer_save_state(fx.st, &saved);
    CU_ASSERT_EQUAL(ctlstate_get_epoch(&saved, "fw"), epoch + 41);
    fixture_destroy(&fx);

    fixture_init(&fx, FABRIC_YAML(""));
    map = steer_map_of_instance(fx.st, "fw-1", &idx);
    CU_ASSERT(map->epoch < epoch + 41);
    steer_restore_state(fx.st, &saved);
    CU_ASSERT_EQUAL(map->epoch, epoch + 42);
    ctlstate_destroy(&saved);
    fixture_destroy(&fx);
}

/* An instance removed from the file is drained, still found by its name
 * meanwhile, and then leaves: the records of the others follow their new
 * places in the map, so that a name finds the right one. */
static void
test_instance_leaves(void)
{
    const char *full = FABRIC_YAML("");
    const char *fw2 = strstr(full, "      fw-2:");
    const char *next = strchr(fw2, '\n') + 1;
    struct ds yaml = DS_EMPTY_INITIALIZER;
    const struct svcmap *map;
    struct sfm_config *cfg;
    struct fixture fx;
    long long int now = 0;
    int idx;

    fixture_init(&fx, full);
    for (int k = 0; k < N_SWITCHES; k++) {
        connect_switch(&fx, k);
    }
    CU_ASSERT_EQUAL(state(&fx, "fw-2", NULL), SVCMAP_UP);
    ds_put_buffer(&yaml, full, fw2 - full);
    ds_put_cstr(&yaml, next);
    CU_ASSERT_PTR_NULL_FATAL(cfg_parse("test.yaml", yaml.string,
                                       yaml.length, &cfg));
    CU_ASSERT_PTR_NULL(steer_reload(fx.st, cfg));
    map = steer_map_of_instance(fx.st, "fw-2", &idx);
    CU_ASSERT_PTR_NOT_NULL_FATAL(map);
    CU_ASSERT_TRUE(map->instances[idx].draining);

    for (int i = 0; i < 1000 && steer_map_of_instance(fx.st, "fw-2", &idx);
         i++) {
        now += 100;
        steer_run(fx.st, now);
    }
    CU_ASSERT_PTR_NULL(steer_map_of_instance(fx.st, "fw-2", &idx));
    map = steer_map_of_instance(fx.st, "fw-3", &idx);
    CU_ASSERT_PTR_NOT_NULL_FATAL(map);
    CU_ASSERT_EQUAL(map->n_instances, 2);
    CU_ASSERT_EQUAL(idx, 1);
    CU_ASSERT_STRING_EQUAL(map->instances[idx].name, "fw-3");

    /* The operator's command reaches fw-3, not whoever took its old
     * place. */
    CU_ASSERT_PTR_NULL(steer_set_enabled(fx.st, "fw-3", false));
    CU_ASSERT_EQUAL(state(&fx, "fw-3", NULL), SVCMAP_DISABLED);
    CU_ASSERT_EQUAL(state(&fx, "fw-1", NULL), SVCMAP_UP);
    fixture_destroy(&fx);
    ds_destroy(&yaml);
}

/* A standby holds the active controller's maps exactly, so that its
 * desired groups are those the switches hold; it changes them on no event
 * of its own and refuses the operator's requests; made active, it starts
 * from them and repairs from there.  A saved map of another bucket count
 * is not taken, and an epoch never goes back. */
static void
test_standby_adopts(void)
{
    struct fixture act, sb;
    struct ctlstate saved, older;
    const struct svcmap *map;
    char *error;
    int idx;

    fixture_init(&act, FABRIC_YAML(""));
    for (int k = 0; k < N_SWITCHES; k++) {
        connect_switch(&act, k);
    }
    set_port(&act, LF2, 3, false);          /* fw-2 fails... */
    set_port(&act, LF2, 3, true);           /* ...and comes back cold. */
    CU_ASSERT_EQUAL(state(&act, "fw-2", NULL), SVCMAP_COLD);
    ctlstate_init(&saved);
    steer_save_state(act.st, &saved);
    CU_ASSERT_EQUAL(shash_count(&saved.maps), 1);
    CU_ASSERT_EQUAL(shash_count(&saved.insts), 3);

    fixture_init(&sb, FABRIC_YAML(""));
    steer_set_standby(sb.st, true);
    CU_ASSERT_TRUE(steer_is_standby(sb.st));
    for (int k = 0; k < N_SWITCHES; k++) {
        connect_switch(&sb, k);
    }
    /* A fresh controller would make fw-2 up: the standby's is cold, as
     * the active one decided. */
    CU_ASSERT_TRUE(steer_adopt_state(sb.st, &saved));
    CU_ASSERT_FALSE(steer_adopt_state(sb.st, &saved));
    CU_ASSERT_EQUAL(state(&sb, "fw-2", NULL), SVCMAP_COLD);
    for (int k = 0; k < N_SWITCHES; k++) {
        char *a = groups(&act, k), *b = groups(&sb, k);

        CU_ASSERT_STRING_EQUAL(a, b);
        free(a);
        free(b);
    }

    /* Its own events and the operator change nothing while it is a
     * standby. */
    set_port(&sb, LF3, 4, false);
    CU_ASSERT_EQUAL(state(&sb, "fw-3", NULL), SVCMAP_UP);
    error = steer_set_enabled(sb.st, "fw-1", false);
    CU_ASSERT_PTR_NOT_NULL(error);
    CU_ASSERT(error && strstr(error, "standby") != NULL);
    free(error);
    CU_ASSERT_EQUAL(state(&sb, "fw-1", NULL), SVCMAP_UP);
    set_port(&sb, LF3, 4, true);

    /* An older saved epoch does not take the map back; a map of another
     * size is not taken. */
    map = steer_map_of_instance(sb.st, "fw-1", &idx);
    ctlstate_init(&older);
    steer_save_state(sb.st, &older);
    ctlstate_set_epoch(&older, "fw", 1);
    CU_ASSERT(map->epoch > 1);
    steer_adopt_state(sb.st, &older);
    CU_ASSERT(map->epoch > 1);
    ctlstate_put_map(&older, "fw", 8);
    ctlstate_put_inst(&older, "fw-2", "fw")->state = SVCMAP_UP;
    CU_ASSERT_FALSE(steer_adopt_state(sb.st, &older));
    CU_ASSERT_EQUAL(state(&sb, "fw-2", NULL), SVCMAP_COLD);
    ctlstate_destroy(&older);

    /* Active: the same groups at first, then its own repairs. */
    steer_set_standby(sb.st, false);
    CU_ASSERT_FALSE(steer_is_standby(sb.st));
    for (int k = 0; k < N_SWITCHES; k++) {
        char *a = groups(&act, k), *b = groups(&sb, k);

        CU_ASSERT_STRING_EQUAL(a, b);
        free(a);
        free(b);
    }
    set_port(&sb, LF3, 4, false);
    CU_ASSERT_EQUAL(state(&sb, "fw-3", NULL), SVCMAP_DOWN);

    ctlstate_destroy(&saved);
    fixture_destroy(&act);
    fixture_destroy(&sb);
}

static const struct test_case steer_tests[] = {
    { "a standby holds the active's maps, and goes on from them",
      test_standby_adopts },
    { "an instance removed from the file leaves, the others stay found",
      test_instance_leaves },
    { "epochs continue across reloads and restarts", test_epochs_continue },
    { "restart: the same groups whatever the connect order",
      test_restart_order },
    { "a switch missing after the wait", test_switch_missing },
    { "a link flap moves no bucket", test_link_flap },
    { "a port not ready keeps its instance out", test_port_ready },
    { "a link port not ready counts down, and no flap",
      test_link_port_ready },
    { "an instance cut off from its chains", test_cut_off },
    { "a switch that disconnects", test_switch_closed },
    { "not in sync, with the reason, until a round succeeds",
      test_sync_problems },
    { NULL, NULL },
};

TEST_SUITE("steer", steer_tests)
