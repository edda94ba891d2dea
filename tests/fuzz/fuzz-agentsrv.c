/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the controller's agent server (ofctl-app/agentsrv) and
 * what the steering policy does with it: sequences of agent channels and
 * the messages on them.
 *
 * The input is a program run against a controller with the example's two
 * services and no switch: each step opens a channel (a socketpair handed
 * to agsrv_take_channel()), closes one from the agent's side, sends a
 * hello (a configured instance or not, any versions), a heartbeat (any
 * epoch, warm bitmap and bucket count), an unexpected message or bytes
 * that are no frame at all, advances the clock (heartbeat timeouts, the
 * wait for switches), or says the controller is ready.  It may begin with
 * a saved state that awaits some agents.  Every frame the controller sends
 * back must decode and be a HELLO_ACK or a MAP, a MAP must be that of the
 * agent's service, and the epochs an instance receives must never go
 * backwards, whatever epochs the agents claim to hold.  The saved state
 * must read back as written. */

#include <config.h>

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "agentproto.h"
#include "agentsrv.h"
#include "cfg.h"
#include "ctlstate.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "steer.h"
#include "timeval.h"
#include "util.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char config[] =
    "switches: {sw1: {dpid: 1}}\n"
    "buckets: 16\n"
    "services:\n"
    "  fw:\n"
    "    instances:\n"
    "      fw-1: {switch: sw1, port: fw-1, mac: \"02:00:00:00:01:01\"}\n"
    "      fw-2: {switch: sw1, port: fw-2, mac: \"02:00:00:00:01:02\"}\n"
    "  dlp:\n"
    "    instances:\n"
    "      dlp-1: {switch: sw1, port: dlp-1, mac: \"02:00:00:00:02:01\"}\n"
    "      dlp-2: {switch: sw1, port: dlp-2, mac: \"02:00:00:00:02:02\"}\n"
    "      dlp-3: {switch: sw1, port: dlp-3, mac: \"02:00:00:00:02:03\"}\n"
    "chains:\n"
    "  web:\n"
    "    spi: 100\n"
    "    reverse_spi: 101\n"
    "    ingress: {switch: sw1, port: client}\n"
    "    egress: {switch: sw1, port: server}\n"
    "    services: [fw, dlp]\n";

static const char *const names[] = {
    "fw-1", "fw-2", "dlp-1", "dlp-2", "dlp-3", "nobody"
};
#define N_NAMES ARRAY_SIZE(names)
#define MAX_CHANS 6

/* The agent's end of a channel. */
struct peer {
    int fd;                     /* -1 if closed. */
    struct ofpbuf in;           /* Bytes received, not yet framed. */
    int name;                   /* Index in 'names' of its hello, or -1. */
};

/* Per instance name: the newest epoch it was sent. */
static uint64_t epochs[N_NAMES];

static void
send_msg(struct peer *p, const struct agp_msg *msg)
{
    struct ofpbuf b;

    ofpbuf_init(&b, 64);
    if (agp_encode(msg, &b) == AGP_OK) {
        ignore(write(p->fd, b.data, b.size));
    }
    ofpbuf_uninit(&b);
}

/* Reads and checks what the controller sent to 'p'. */
static void
drain(struct peer *p)
{
    uint8_t buf[65536];
    ssize_t n;

    while (p->fd >= 0 && (n = read(p->fd, buf, sizeof buf)) > 0) {
        ofpbuf_put(&p->in, buf, n);
    }
    for (;;) {
        struct agp_msg msg;
        size_t len;

        if (agp_frame_check(p->in.data, p->in.size, &len)
            != AGP_FRAME_COMPLETE) {
            fuzz_check(p->in.size < AGP_HEADER_LEN
                  || agp_frame_check(p->in.data, p->in.size, &len)
                     == AGP_FRAME_NEED_MORE);
            break;
        }
        fuzz_check(agp_decode(p->in.data, len, &msg) == AGP_OK);
        fuzz_check(msg.type == AGP_HELLO_ACK || msg.type == AGP_MAP);
        if (msg.type == AGP_MAP) {
            /* Only an agent that said hello gets maps, of its service. */
            fuzz_check(p->name >= 0 && p->name < N_NAMES - 1);
            fuzz_check(!strcmp(msg.map.service,
                          names[p->name][0] == 'f' ? "fw" : "dlp"));
            fuzz_check(msg.map.epoch >= epochs[p->name]);
            epochs[p->name] = msg.map.epoch;
        }
        agp_msg_uninit(&msg);
        ofpbuf_pull(&p->in, len);
    }
}

static void
open_peer(struct agsrv *srv, struct peer *p)
{
    int fds[2];

    if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds)) {
        abort();
    }
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    p->fd = fds[1];
    p->name = -1;
    ofpbuf_clear(&p->in);
    if (!agsrv_take_channel(srv, fds[0], "local", "agent fuzz")) {
        close(p->fd);
        p->fd = -1;
    }
}

static void
close_peer(struct peer *p)
{
    if (p->fd >= 0) {
        close(p->fd);
        ofpbuf_clear(&p->in);
        p->fd = -1;
    }
}

/* Checks that what 'srv' and 'st' would save reads back as written. */
static void
check_state(const struct agsrv *srv, const struct steer *st)
{
    struct ctlstate s, again;
    char *text, *text2, *error;

    ctlstate_init(&s);
    steer_save_state(st, &s);
    agsrv_save_state(srv, &s);
    text = ctlstate_to_string(&s);
    ctlstate_init(&again);
    error = ctlstate_from_string(text, &again);
    fuzz_check(!error);
    text2 = ctlstate_to_string(&again);
    fuzz_check(!strcmp(text, text2));
    free(text);
    free(text2);
    ctlstate_destroy(&s);
    ctlstate_destroy(&again);
}

static void
step(struct event_base *base, struct agsrv *srv, struct steer *st,
     struct peer *peers, const uint8_t **data, size_t *size,
     long long int *now)
{
    uint8_t op = fuzz_next(data, size);
    struct peer *p = &peers[(op >> 3) % MAX_CHANS];
    uint8_t warm[AGP_MAX_BUCKETS / 8];
    struct agp_msg msg;

    memset(&msg, 0, sizeof msg);
    switch (op & 7) {
    case 0:
        if (p->fd < 0) {
            open_peer(srv, p);
        }
        break;
    case 1:
        close_peer(p);
        break;
    case 2: {
        int name = fuzz_next(data, size) % N_NAMES;
        uint8_t v = fuzz_next(data, size);

        if (p->fd < 0) {
            break;
        }
        msg.type = AGP_HELLO;
        /* Mostly the version spoken, sometimes others beside it, and
         * sometimes only others (an older agent's 1, a later one's 3),
         * which the controller refuses. */
        msg.hello.versions = (v < 200 ? 1u << AGP_VERSION
                              : v < 250 ? (uint32_t) v << 1 | 1u << AGP_VERSION
                              : v & 1 ? 1u << 1 : 1u << 3);
        msg.hello.repl_addr = 0x0a090001 + name;
        msg.hello.repl_port = 7000;
        msg.hello.instance = names[name];
        msg.hello.service = "fuzz";
        if (p->name < 0) {
            p->name = name;
        }
        send_msg(p, &msg);
        break;
    }
    case 3: {
        uint8_t e = fuzz_next(data, size), shift = fuzz_next(data, size);

        if (p->fd < 0) {
            break;
        }
        msg.type = AGP_HEARTBEAT;
        msg.heartbeat.epoch = ((shift & 0x3f) == 0x3f ? UINT64_MAX - (e & 3)
                               : (uint64_t) e << (shift % 64));
        msg.heartbeat.n_buckets = (msg.heartbeat.epoch
                                   ? (shift & 0x40 ? 32 : 16) : 0);
        memset(warm, shift & 0x80 ? 0xff : fuzz_next(data, size), sizeof warm);
        msg.heartbeat.warm = warm;
        send_msg(p, &msg);
        break;
    }
    case 4:
        if (p->fd < 0) {
            break;
        }
        if (fuzz_next(data, size) & 1) {
            msg.type = AGP_STATE_ACK;
            msg.state_ack.seq = 1;
            send_msg(p, &msg);
        } else {
            uint8_t junk[32];
            size_t n = fuzz_next(data, size) % sizeof junk;

            for (size_t i = 0; i < n; i++) {
                junk[i] = fuzz_next(data, size);
            }
            ignore(write(p->fd, junk, n));
        }
        break;
    case 5:
        *now += fuzz_next(data, size) * 25;
        agsrv_run(srv, *now);
        steer_run(st, *now);
        break;
    case 6:
        if (steer_is_settled(st)) {
            agsrv_set_ready(srv, *now);
        }
        break;
    case 7:
        check_state(srv, st);
        break;
    }

    /* Twice: a close is carried out on the loop turn after it is asked. */
    for (int i = 0; i < 3; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    for (size_t i = 0; i < MAX_CHANS; i++) {
        drain(&peers[i]);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool initialized;
    struct peer peers[MAX_CHANS];
    struct sfm_config *cfg;
    struct event_base *base;
    struct agsrv *srv;
    struct steer *st;
    long long int now;
    char *error;

    if (!initialized) {
        vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
        /* As the controller does: a write to a closed channel is an
         * error, not a signal. */
        signal(SIGPIPE, SIG_IGN);
        initialized = true;
    }
    error = cfg_parse("fuzz.yaml", config, strlen(config), &cfg);
    if (error) {
        abort();
    }
    memset(epochs, 0, sizeof epochs);
    now = time_msec();
    base = event_base_new();
    st = steer_create(cfg, NULL, NULL, now);
    srv = agsrv_create(base, st, 300);

    /* A saved state first, if the first byte says so. */
    if (size && data[0] & 1) {
        uint8_t mask = fuzz_next(&data, &size);
        uint8_t epoch = fuzz_next(&data, &size);
        struct ctlstate s;

        ctlstate_init(&s);
        ctlstate_set_epoch(&s, "dlp", epoch + 1);
        ctlstate_set_epoch(&s, "gone", 7);
        for (size_t i = 0; i < N_NAMES; i++) {
            if (mask & (2 << i)) {
                sset_add(&s.agents, names[i]);
            }
        }
        steer_restore_state(st, &s);
        agsrv_restore_state(srv, &s);
        ctlstate_destroy(&s);
    }

    for (size_t i = 0; i < MAX_CHANS; i++) {
        peers[i].fd = -1;
        ofpbuf_init(&peers[i].in, 0);
    }
    while (size) {
        step(base, srv, st, peers, &data, &size, &now);
    }
    check_state(srv, st);

    for (size_t i = 0; i < MAX_CHANS; i++) {
        close_peer(&peers[i]);
        ofpbuf_uninit(&peers[i].in);
    }
    agsrv_destroy(srv);
    steer_destroy(st);
    event_base_free(base);
    return 0;
}
