/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef AGENT_H
#define AGENT_H 1

/* The state of sfmesh-agent, shared by its parts: agent.c (command line,
 * control commands, start-up), agent-path.c (the packet path and the
 * claims), agent-chan.c (the controller channel and the maps it brings)
 * and agent-repl.c (replication, both sides).  The pure modules they
 * drive (agentctl, agentmap, replrx, streamtab, claim, liveness, ...)
 * have their own headers and tests; this one is the daemon's glue. */

#include <event2/util.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "agentctl.h"
#include "agentmap.h"
#include "nsh.h"
#include "openvswitch/list.h"

struct agpconn;
struct agpconn_pool;
struct claim;
struct ctlsock;
struct event;
struct event_base;
struct evconnlistener;
struct frameio;
struct liveness;
struct replrx;
struct sentinel;
struct service_class;
struct streamtab;
struct tls_ctx;

#define AGENT_BATCH 32              /* Frames per receive call. */
#define AGENT_HEARTBEAT_MS 100      /* Heartbeat period. */
#define AGENT_REPL_MS 10            /* Replication flush period. */
#define AGENT_MAX_DIRTY 4096        /* Records taken per flush. */
#define AGENT_TABLE_CAPACITY 1000000
#define AGENT_MAX_HELD 1024         /* Frames held for acks (sync mode). */
#define AGENT_HELD_SLOT 2048        /* Largest frame that can be held. */
#define AGENT_HOLD_MS 100           /* Longest a frame waits for an ack. */
#define AGENT_BFD_MIN_RX_MS 100     /* Default --bfd-min-rx. */
#define AGENT_CLAIM_WAIT_MS 10      /* Default --claim-wait. */
#define AGENT_MAX_QUEUED 4096       /* Frames queued for claims. */
#define AGENT_NO_BUCKET UINT32_MAX  /* A frame without stream state. */

/* A frame held until the secondary acknowledges its stream's state. */
struct held_frame {
    bool used;                  /* Slot in use. */
    int peer;                   /* The secondary's index. */
    uint64_t seq;               /* Released once 'peer' acked this. */
    long long int since;        /* When it was held. */
    uint16_t len;               /* Frame length. */
    uint8_t data[AGENT_HELD_SLOT]; /* The frame, ready to send. */
};

/* A frame queued until its bucket is ours (see claim.h). */
struct queued_frame {
    struct ovs_list list_node;  /* In 'agent->queued'. */
    uint32_t bucket;            /* Its bucket. */
    size_t len;                 /* Frame length. */
    uint8_t data[];             /* The frame, as received. */
};

/* A replication peer: another instance of the service, by map index. */
struct peer {
    struct agent *agent;        /* Owner. */
    int idx;                    /* Index in the map's instances. */
    struct agpconn *conn;       /* Outgoing replication connection. */
    bool up;                    /* Connected. */
    int retry_ms;               /* Wait after the next failed attempt. */
    long long int retry_at;     /* No attempt before this time. */
    uint32_t addr;              /* Its replication address. */
    uint16_t port;              /* Its replication port. */
    uint64_t seq;               /* Last batch sequence number sent. */
    uint64_t acked;             /* Last acknowledged. */
    uint64_t n_records;         /* Records sent. */
    unsigned long *bulk;        /* Buckets waiting for a bulk transfer. */
};

struct agent {
    struct event_base *base;    /* Event loop. */
    char *instance;             /* Our instance name. */
    const struct service_class *svc; /* The service function. */
    void *svc_data;             /* Its private data. */
    struct streamtab *tab;      /* Stream states. */
    struct frameio *fio;        /* NSH frames in and out. */
    struct event *rx_ev;        /* Frames to read. */
    bool replicate;             /* Replication on. */
    bool sync;                  /* Hold frames until their state is acked. */
    struct held_frame *held;    /* AGENT_MAX_HELD slots, in sync mode. */
    size_t n_held;              /* Slots in use. */
    uint64_t n_held_total, n_hold_timeouts, n_hold_overflow;

    struct tls_ctx *chan_tls;   /* TLS for the agent channel, or NULL. */
    struct tls_ctx *repl_tls;   /* TLS for replication, or NULL. */
    struct agentctl ctls;       /* The controllers, and which one the
                                 * channel is to (agentctl.h). */
    struct agpconn *chan;       /* The agent channel, or NULL. */
    bool chan_up;               /* 'chan' is connected: hello sent. */
    bool chan_ready;            /* The controller accepted our hello. */
    long long int chan_heard;   /* When the controller last said
                                 * anything. */
    enum agentctl_event chan_end; /* How 'chan' ends if it closes now. */
    struct event *reconnect_ev; /* Reconnects the channel. */
    struct event *chan_timeout_ev; /* Ends an attempt that takes too long
                                    * (several controllers only). */

    struct evconnlistener *repl_listener; /* Replication from primaries. */
    struct agpconn_pool *repl_pool; /* Limits its connections. */
    uint32_t repl_addr;         /* Our replication address. */
    uint16_t repl_port;         /* Our replication port. */
    struct replrx *rx;          /* Replication from primaries. */

    struct agentmap map;        /* The newest map. */
    struct liveness *live;      /* BFD with the switch, hold-down. */
    struct sentinel *sentinel;  /* Tells the switch when we die. */
    struct peer *peers;         /* Per instance of the map: replication. */

    struct claim *claim;        /* Which buckets we process now. */
    struct ovs_list queued;     /* Contains "struct queued_frame"s. */
    size_t n_queued;            /* Frames in 'queued'. */
    uint64_t n_queued_total, n_queue_overflow, n_queue_dropped;
    long long int claim_wait;   /* --claim-wait, in ms. */
    struct event *claim_ev;     /* Ends CLAIMs nobody answers. */
    uint64_t n_held_dropped;    /* Held frames dropped at a disruption. */

    /* Counters. */
    uint64_t n_received, n_returned, n_malformed, n_dropped_service;
    uint64_t n_outside;         /* Frames dropped: of buckets we are in no
                                 * role of (primary, secondary, next). */
    uint64_t n_table_full;
    uint64_t nsh_errors[NSH_N_ERRORS]; /* Malformed frames by reason. */

    struct event *hb_ev, *repl_ev, *expire_ev; /* Timers. */
    struct event *signals[3];   /* SIGTERM, SIGINT, SIGHUP. */
    struct ctlsock *ctl;        /* Control socket. */
};

/* agent-path.c: the packet path and the claims. */
void path_rx_cb(evutil_socket_t, short what, void *agent);
void path_claim_timer_cb(evutil_socket_t, short what, void *agent);
void path_disrupted_cb(void *agent);
void path_expire_cb(evutil_socket_t, short what, void *agent);
void agent_release_held(struct agent *, long long int now);
void agent_claim_received(struct agent *, uint32_t bucket, const char *from);
void agent_claim_answered(struct agent *, uint32_t bucket, const char *from);
void agent_claim_partner_closed(struct agent *, const char *partner);
void agent_claim_update_map(struct agent *);

/* agent-chan.c: the controller channel (hello, heartbeats, reconnection)
 * and the maps it brings. */
void chan_connect(struct agent *);
void chan_reconnect_cb(evutil_socket_t, short what, void *agent);
void chan_timeout_cb(evutil_socket_t, short what, void *agent);
void chan_heartbeat_cb(evutil_socket_t, short what, void *agent);
void chan_peers_free(struct peer *, size_t n);

/* agent-repl.c: replication.  The primary side sends each changed stream's
 * state to the peers the map sends it to, in batches every AGENT_REPL_MS,
 * and bulk transfers of whole buckets; the secondary side applies what
 * replrx accepts. */
void repl_flush(struct agent *);
void repl_cb(evutil_socket_t, short what, void *agent);
void repl_send_bulks(struct agent *, struct peer *);
void repl_peer_queue_all(struct peer *);
void repl_peer_connect(struct peer *);
void repl_accept_cb(struct evconnlistener *, evutil_socket_t,
                    struct sockaddr *, int len, void *agent);
void repl_in_destroy_all(struct agent *);
struct agpconn_pool *repl_pool_create(const char *name);
struct agpconn *repl_conn_from(const struct agent *, const char *name);

#endif /* agent.h */
