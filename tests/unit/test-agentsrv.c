/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* The controller's agent server (ofctl-app/agentsrv) against scripted
 * agents on socketpairs, with a made-up clock, and a scripted switch
 * behind the steering policy: the hello and its answer, the map an agent
 * is sent, heartbeats that keep it and a silence that fences its port (a
 * port_mod on the switch), hellos that are refused, a newer channel that
 * replaces an older one without a failover, and a loop that was held up
 * judging nobody. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "agentproto.h"
#include "agentsrv.h"
#include "cfg.h"
#include "of-peer.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "steer.h"
#include "tests.h"
#include "util.h"

static const char config[] =
    "switches: {sw1: {dpid: 1}}\n"
    "buckets: 16\n"
    "services:\n"
    "  fw:\n"
    "    instances:\n"
    "      fw-1: {switch: sw1, port: fw-1, mac: \"02:00:00:00:01:01\"}\n"
    "      fw-2: {switch: sw1, port: fw-2, mac: \"02:00:00:00:01:02\"}\n"
    "chains:\n"
    "  web:\n"
    "    spi: 100\n"
    "    ingress: {switch: sw1, port: client}\n"
    "    egress: {switch: sw1, port: server}\n"
    "    services: [fw]\n";

#define HB_TIMEOUT 300

/* The made-up clock. */
static long long int fake_now;

static long long int
fake_clock(void)
{
    return fake_now;
}

struct fixture {
    struct event_base *base;
    struct steer *st;
    struct agsrv *srv;
    struct peer_events ev;
    struct ofconn *sw;          /* The switch. */
};

/* An agent's end of its channel. */
struct agent {
    int fd;                     /* -1 once the controller closed it. */
    struct ofpbuf in;           /* Received, not yet framed. */
    uint64_t epoch;             /* Newest map epoch received. */
    int n_acks, n_maps;         /* Messages received, by type. */
    int n_heartbeats;           /* Answers to our heartbeats. */
    uint8_t ack_version;        /* Version in the last HELLO_ACK. */
    char reason[128];           /* Its reason. */
};

static void
fixture_init(struct fixture *fx)
{
    static const char *const ports[] = { "client", "server", "fw-1",
                                         "fw-2" };
    struct ofputil_phy_port pps[ARRAY_SIZE(ports)];
    struct sfm_config *cfg;
    char *error;

    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    signal(SIGPIPE, SIG_IGN);
    error = cfg_parse("test.yaml", config, strlen(config), &cfg);
    CU_ASSERT_PTR_NULL_FATAL(error);
    memset(fx, 0, sizeof *fx);
    fake_now = 1000000;
    fx->base = event_base_new();
    fx->st = steer_create(cfg, NULL, NULL, fake_now);
    fx->srv = agsrv_create(fx->base, fx->st, HB_TIMEOUT);
    agsrv_set_clock(fx->srv, fake_clock);

    fx->sw = peer_conn_create(&fx->ev, fake_now);
    for (size_t i = 0; i < ARRAY_SIZE(ports); i++) {
        pps[i] = peer_port(i + 1, ports[i], true);
    }
    peer_handshake(fx->sw, OFP15_VERSION, 1, pps, ARRAY_SIZE(ports),
                   fake_now);
    peer_drain(fx->sw);
    steer_switch_ready(fx->st, fx->sw);
    peer_drain(fx->sw);
}

static void
fixture_destroy(struct fixture *fx)
{
    agsrv_destroy(fx->srv);
    steer_switch_closed(fx->st, fx->sw);
    ofconn_destroy(fx->sw);
    steer_destroy(fx->st);
    event_base_free(fx->base);
}

/* Returns the number of port_mods the switch received since last asked
 * (a fence sets an instance's port down with one). */
static int
port_mods(struct fixture *fx)
{
    struct ofpbuf *b;
    int n = 0;

    while ((b = peer_pop(fx->sw)) != NULL) {
        enum ofptype type;

        if (!ofptype_decode(&type, b->data)) {
            n += type == OFPTYPE_PORT_MOD;
        }
        ofpbuf_delete(b);
    }
    return n;
}

/* Opens a channel for 'a' that the controller sees come from 'host'. */
static void
agent_open_from(struct fixture *fx, struct agent *a, const char *host)
{
    int fds[2];

    memset(a, 0, sizeof *a);
    CU_ASSERT_FATAL(!socketpair(AF_UNIX, SOCK_STREAM, 0, fds));
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    a->fd = fds[1];
    ofpbuf_init(&a->in, 0);
    CU_ASSERT_TRUE(agsrv_take_channel(fx->srv, fds[0], host, "agent test"));
}

static void
agent_open(struct fixture *fx, struct agent *a)
{
    agent_open_from(fx, a, "127.0.0.1");
}

static void
agent_close(struct agent *a)
{
    if (a->fd >= 0) {
        close(a->fd);
        a->fd = -1;
    }
    ofpbuf_uninit(&a->in);
}

static void
agent_send(struct agent *a, const struct agp_msg *msg)
{
    struct ofpbuf b;

    ofpbuf_init(&b, 64);
    CU_ASSERT_EQUAL_FATAL(agp_encode(msg, &b), AGP_OK);
    CU_ASSERT_EQUAL(write(a->fd, b.data, b.size), (ssize_t) b.size);
    ofpbuf_uninit(&b);
}

static void
agent_hello(struct agent *a, const char *instance)
{
    struct agp_msg msg;

    memset(&msg, 0, sizeof msg);
    msg.type = AGP_HELLO;
    msg.hello.versions = 1u << AGP_VERSION;
    msg.hello.repl_addr = 0x0a090001;
    msg.hello.repl_port = 7000;
    msg.hello.instance = instance;
    msg.hello.service = "stateful-fw";
    agent_send(a, &msg);
}

/* A heartbeat that holds the newest map received, every bucket warm. */
static void
agent_heartbeat(struct agent *a)
{
    uint8_t warm[AGP_MAX_BUCKETS / 8];
    struct agp_msg msg;

    memset(&msg, 0, sizeof msg);
    memset(warm, 0xff, sizeof warm);
    msg.type = AGP_HEARTBEAT;
    msg.heartbeat.epoch = a->epoch;
    msg.heartbeat.n_buckets = a->epoch ? 16 : 0;
    msg.heartbeat.warm = warm;
    agent_send(a, &msg);
}

/* Lets the event loop run, then reads what the controller sent 'a'. */
static void
turn(struct fixture *fx, struct agent *agents, size_t n)
{
    for (int i = 0; i < 3; i++) {
        event_base_loop(fx->base, EVLOOP_NONBLOCK);
    }
    for (size_t i = 0; i < n; i++) {
        struct agent *a = &agents[i];
        uint8_t buf[65536];
        ssize_t r = -1;

        while (a->fd >= 0 && (r = read(a->fd, buf, sizeof buf)) != 0) {
            if (r < 0) {
                break;          /* Nothing more for now. */
            }
            ofpbuf_put(&a->in, buf, r);
        }
        if (a->fd >= 0 && !r) {
            close(a->fd);       /* The controller closed the channel. */
            a->fd = -1;
        }
        for (;;) {
            struct agp_msg msg;
            size_t len;

            if (agp_frame_check(a->in.data, a->in.size, &len)
                != AGP_FRAME_COMPLETE) {
                break;
            }
            CU_ASSERT_EQUAL_FATAL(agp_decode(a->in.data, len, &msg), AGP_OK);
            if (msg.type == AGP_HELLO_ACK) {
                a->n_acks++;
                a->ack_version = msg.hello_ack.version;
                ovs_strlcpy(a->reason, msg.hello_ack.reason,
                            sizeof a->reason);
            } else if (msg.type == AGP_MAP) {
                CU_ASSERT_STRING_EQUAL(msg.map.service, "fw");
                CU_ASSERT(msg.map.epoch >= a->epoch);
                a->n_maps++;
                a->epoch = msg.map.epoch;
            } else if (msg.type == AGP_HEARTBEAT) {
                /* The answer to ours: empty. */
                CU_ASSERT_EQUAL(msg.heartbeat.epoch, 0);
                CU_ASSERT_EQUAL(msg.heartbeat.n_received, 0);
                a->n_heartbeats++;
            } else {
                CU_FAIL("the controller sent an unexpected message");
            }
            agp_msg_uninit(&msg);
            ofpbuf_pull(&a->in, len);
        }
    }
}

/* Advances the clock by 'ms' in one step and runs the server. */
static void
stall(struct fixture *fx, long long int ms)
{
    fake_now += ms;
    agsrv_run(fx->srv, fake_now);
    steer_run(fx->st, fake_now);
}

/* Advances the clock by 'ms', running the server every 100 ms as the
 * controller's tick does. */
static void
tick(struct fixture *fx, long long int ms)
{
    while (ms > 0) {
        long long int step = MIN(ms, 100);

        stall(fx, step);
        ms -= step;
    }
}

/* A hello is answered with the version and the map of the instance's
 * service; heartbeats keep the agent; a heartbeat timeout of silence
 * fences its port and closes its channel. */
static void
test_hello_heartbeats_timeout(void)
{
    struct fixture fx;
    struct agent a;

    fixture_init(&fx);
    agent_open(&fx, &a);
    agent_hello(&a, "fw-1");
    turn(&fx, &a, 1);
    CU_ASSERT_EQUAL(a.n_acks, 1);
    CU_ASSERT_EQUAL(a.ack_version, AGP_VERSION);
    CU_ASSERT(a.n_maps >= 1);
    CU_ASSERT(a.epoch >= 1);

    /* Ten heartbeats 200 ms apart: 2 s, no failover. */
    for (int i = 0; i < 10; i++) {
        tick(&fx, 200);
        agent_heartbeat(&a);
        turn(&fx, &a, 1);
    }
    tick(&fx, 1);
    CU_ASSERT_EQUAL(port_mods(&fx), 0);
    CU_ASSERT(a.fd >= 0);
    CU_ASSERT_EQUAL(a.n_heartbeats, 10);

    /* Then silence: within the timeout nothing, past it the fence. */
    tick(&fx, HB_TIMEOUT - 1);
    CU_ASSERT_EQUAL(port_mods(&fx), 0);
    tick(&fx, 2);
    turn(&fx, &a, 1);
    CU_ASSERT_EQUAL(port_mods(&fx), 1);
    CU_ASSERT_EQUAL(a.fd, -1);

    agent_close(&a);
    fixture_destroy(&fx);
}

/* Hellos that are refused, and a channel that says something else first
 * or sends bytes that are no frame: each closed, none fences anybody, and
 * an agent already connected keeps its channel. */
static void
test_refused(void)
{
    struct agent agents[4];
    struct fixture fx;
    struct agp_msg msg;

    fixture_init(&fx);
    agent_open(&fx, &agents[0]);
    agent_hello(&agents[0], "fw-2");
    turn(&fx, agents, 1);
    CU_ASSERT_EQUAL(agents[0].ack_version, AGP_VERSION);

    /* An instance the configuration does not have. */
    agent_open(&fx, &agents[1]);
    agent_hello(&agents[1], "nobody");
    /* A heartbeat before any hello. */
    agent_open(&fx, &agents[2]);
    memset(&msg, 0, sizeof msg);
    msg.type = AGP_HEARTBEAT;
    agent_send(&agents[2], &msg);
    /* Bytes that are no frame. */
    agent_open(&fx, &agents[3]);
    CU_ASSERT_EQUAL(write(agents[3].fd, "GET / HTTP/1.0\r\n\r\n", 18), 18);

    for (int i = 0; i < 3; i++) {
        tick(&fx, 100);
        agent_heartbeat(&agents[0]);
        turn(&fx, agents, 4);
    }
    CU_ASSERT_EQUAL(agents[1].n_acks, 1);
    CU_ASSERT_EQUAL(agents[1].ack_version, 0);
    CU_ASSERT_EQUAL(agents[1].n_maps, 0);
    CU_ASSERT_EQUAL(agents[1].fd, -1);
    CU_ASSERT_EQUAL(agents[2].n_acks + agents[2].n_maps, 0);
    CU_ASSERT_EQUAL(agents[2].fd, -1);
    CU_ASSERT_EQUAL(agents[3].n_acks + agents[3].n_maps, 0);
    CU_ASSERT_EQUAL(agents[3].fd, -1);
    CU_ASSERT(agents[0].fd >= 0);
    CU_ASSERT_EQUAL(port_mods(&fx), 0);

    for (int i = 0; i < 4; i++) {
        agent_close(&agents[i]);
    }
    fixture_destroy(&fx);
}

/* A second hello in the same instance's name (its agent restarted)
 * replaces the first channel: the older one is closed, the newer one gets
 * the map, and the instance is not failed over. */
static void
test_newer_channel_replaces(void)
{
    struct agent agents[2];
    struct fixture fx;

    fixture_init(&fx);
    agent_open(&fx, &agents[0]);
    agent_hello(&agents[0], "fw-1");
    turn(&fx, agents, 1);
    CU_ASSERT(agents[0].n_maps >= 1);

    tick(&fx, 100);
    agent_open(&fx, &agents[1]);
    agent_hello(&agents[1], "fw-1");
    turn(&fx, agents, 2);
    CU_ASSERT_EQUAL(agents[0].fd, -1);
    CU_ASSERT(agents[1].fd >= 0);
    CU_ASSERT_EQUAL(agents[1].ack_version, AGP_VERSION);
    CU_ASSERT(agents[1].n_maps >= 1);

    for (int i = 0; i < 5; i++) {
        tick(&fx, 200);
        agent_heartbeat(&agents[1]);
        turn(&fx, agents, 2);
    }
    CU_ASSERT_EQUAL(port_mods(&fx), 0);

    agent_close(&agents[0]);
    agent_close(&agents[1]);
    fixture_destroy(&fx);
}

/* Without TLS, a hello in the name of an instance whose channel is live
 * replaces it only from the same address: from elsewhere it is refused,
 * and the instance keeps its channel and is not fenced.  Once the channel
 * is down, a hello from anywhere is taken (nothing tells the two apart
 * without certificates). */
static void
test_hello_from_elsewhere(void)
{
    struct agent agents[3];
    struct fixture fx;
    struct ds s = DS_EMPTY_INITIALIZER;

    fixture_init(&fx);
    agent_open_from(&fx, &agents[0], "127.0.0.1");
    agent_hello(&agents[0], "fw-1");
    turn(&fx, agents, 1);
    CU_ASSERT_EQUAL(agents[0].ack_version, AGP_VERSION);

    for (int i = 0; i < 8; i++) {
        agent_open_from(&fx, &agents[1], "127.0.0.2");
        agent_hello(&agents[1], "fw-1");
        tick(&fx, 100);
        agent_heartbeat(&agents[0]);
        turn(&fx, agents, 2);
        CU_ASSERT_EQUAL(agents[1].n_acks, 1);
        CU_ASSERT_EQUAL(agents[1].ack_version, 0);
        CU_ASSERT_EQUAL(agents[1].fd, -1);
        agent_close(&agents[1]);
    }
    CU_ASSERT(agents[0].fd >= 0);
    CU_ASSERT_EQUAL(port_mods(&fx), 0);
    agsrv_format(fx.srv, fake_now, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "refused: 8 hellos"));

    /* The same address: a restarted agent, which replaces the channel. */
    agent_open_from(&fx, &agents[1], "127.0.0.1");
    agent_hello(&agents[1], "fw-1");
    turn(&fx, agents, 2);
    CU_ASSERT_EQUAL(agents[1].ack_version, AGP_VERSION);
    CU_ASSERT_EQUAL(agents[0].fd, -1);

    /* Down: then from anywhere. */
    agent_close(&agents[1]);
    turn(&fx, agents, 2);
    tick(&fx, 100);
    CU_ASSERT_EQUAL(port_mods(&fx), 1);
    agent_open_from(&fx, &agents[2], "127.0.0.2");
    agent_hello(&agents[2], "fw-1");
    turn(&fx, &agents[2], 1);
    CU_ASSERT_EQUAL(agents[2].ack_version, AGP_VERSION);

    ds_destroy(&s);
    agent_close(&agents[0]);
    agent_close(&agents[2]);
    fixture_destroy(&fx);
}

/* A warm report at an epoch the controller never sent the agent counts
 * for nothing: the instance is not taken for warm. */
static void
test_forged_warm_report(void)
{
    struct fixture fx;
    struct agent a;
    uint64_t epoch;

    fixture_init(&fx);
    agent_open(&fx, &a);
    agent_hello(&a, "fw-2");
    turn(&fx, &a, 1);
    CU_ASSERT_FATAL(a.epoch >= 1);
    epoch = a.epoch;

    a.epoch = epoch + 1000;
    agent_heartbeat(&a);
    turn(&fx, &a, 1);
    tick(&fx, 100);
    CU_ASSERT(!steer_instance_warm(fx.st, "fw-2"));
    CU_ASSERT(a.fd >= 0);

    a.epoch = epoch;
    agent_heartbeat(&a);
    turn(&fx, &a, 1);
    CU_ASSERT(steer_instance_warm(fx.st, "fw-2"));

    agent_close(&a);
    fixture_destroy(&fx);
}

/* A controller loop that was held up longer than half the timeout may
 * have heartbeats waiting unread: that run fences nobody, and the agent
 * still has a timeout from then on. */
static void
test_stalled_loop(void)
{
    struct fixture fx;
    struct agent a;

    fixture_init(&fx);
    agent_open(&fx, &a);
    agent_hello(&a, "fw-1");
    turn(&fx, &a, 1);
    tick(&fx, 100);

    stall(&fx, 5000);                   /* The loop was stuck for 5 s. */
    CU_ASSERT_EQUAL(port_mods(&fx), 0);
    tick(&fx, HB_TIMEOUT / 2 - 1);
    CU_ASSERT_EQUAL(port_mods(&fx), 0);
    tick(&fx, HB_TIMEOUT / 2 + 2);      /* Silent for real now. */
    CU_ASSERT_EQUAL(port_mods(&fx), 1);

    agent_close(&a);
    fixture_destroy(&fx);
}

/* A standby closes the channels it has and refuses every hello, with a
 * reason that tells the agent to try another controller, and fences no
 * one for the silence that follows; active again, it takes hellos. */
static void
test_standby(void)
{
    struct agent agents[2];
    struct fixture fx;

    fixture_init(&fx);
    agent_open(&fx, &agents[0]);
    agent_hello(&agents[0], "fw-1");
    turn(&fx, agents, 1);
    CU_ASSERT_EQUAL(agents[0].ack_version, AGP_VERSION);

    agsrv_set_standby(fx.srv, AGP_STANDBY_REASON ": controller c2 is not "
                      "active", fake_now);
    turn(&fx, agents, 1);
    CU_ASSERT_EQUAL(agents[0].fd, -1);
    agent_close(&agents[0]);

    agent_open(&fx, &agents[1]);
    agent_hello(&agents[1], "fw-2");
    turn(&fx, &agents[1], 1);
    CU_ASSERT_EQUAL(agents[1].n_acks, 1);
    CU_ASSERT_EQUAL(agents[1].ack_version, 0);
    CU_ASSERT_EQUAL(agents[1].n_maps, 0);
    CU_ASSERT(!strncmp(agents[1].reason, AGP_STANDBY_REASON,
                       strlen(AGP_STANDBY_REASON)));
    CU_ASSERT_EQUAL(agents[1].fd, -1);
    agent_close(&agents[1]);

    /* Silence well past the heartbeat timeout: no fence. */
    tick(&fx, 3 * HB_TIMEOUT);
    CU_ASSERT_EQUAL(port_mods(&fx), 0);

    agsrv_set_standby(fx.srv, NULL, fake_now);
    agent_open(&fx, &agents[0]);
    agent_hello(&agents[0], "fw-1");
    turn(&fx, agents, 1);
    CU_ASSERT_EQUAL(agents[0].ack_version, AGP_VERSION);
    CU_ASSERT(agents[0].n_maps >= 1);
    CU_ASSERT(agents[0].fd >= 0);
    agent_close(&agents[0]);
    fixture_destroy(&fx);
}

static const struct test_case agentsrv_tests[] = {
    { "a standby refuses hellos and fences no one", test_standby },
    { "hello, map, heartbeats; silence fences", test_hello_heartbeats_timeout },
    { "refused hellos and garbage close only their channel", test_refused },
    { "a newer channel replaces the older, no failover",
      test_newer_channel_replaces },
    { "a loop that was held up judges nobody", test_stalled_loop },
    { "a hello from elsewhere does not replace a live channel",
      test_hello_from_elsewhere },
    { "warm reports of maps never sent count for nothing",
      test_forged_warm_report },
    { NULL, NULL },
};
TEST_SUITE("agentsrv", agentsrv_tests)
