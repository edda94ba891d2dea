/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "agentsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>
#include "agentproto.h"
#include "agpconn.h"
#include "ctlstate.h"
#include "connlimit.h"
#include "netaddr.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "steer.h"
#include "sset.h"
#include "svcmap.h"
#include "timeval.h"
#include "tls.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agentsrv);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* The agent listener's limits (docs/agent-protocol.md): an agent says hello
 * as soon as it connects, and has one channel. */
static const struct connlimit agsrv_limits = {
    .handshake_ms = AGPCONN_HANDSHAKE_MS,
    .max_pending = 64,
    .max_conns = 1024,
    .max_pending_frame = AGPCONN_PENDING_FRAME,
    .max_frame = AGP_MAX_LEN,
    .max_backlog = AGPCONN_MAX_BACKLOG,
};

/* What the controller knows of an instance's agent, kept across
 * reconnections (the replication address outlives a channel). */
struct agsrv_agent {
    char *instance;             /* Instance name (key in 'agents'). */
    struct agpconn *conn;       /* Its channel, or NULL. */
    uint32_t repl_addr;         /* Replication address, from its hello. */
    uint16_t repl_port;         /* Replication port. */
    long long int last_heard;   /* Last heartbeat (or hello). */
    uint64_t pushed_epoch;      /* Epoch of the last map sent. */
    uint64_t sent_epoch;        /* Newest epoch sent on its channel. */
    char *host;                 /* Its channel's peer address, without
                                 * the port. */
    uint64_t reported_epoch;    /* Epoch of the last heartbeat. */
    uint64_t n_received, n_returned, n_dropped; /* From heartbeats. */
    uint64_t n_lost;            /* Times failed over. */
    bool awaited;               /* Known from the state file, not back
                                 * yet: fenced if it does not say hello
                                 * soon after the controller is ready. */
};

/* A channel before its hello. */
struct agsrv_pending {
    struct ovs_list list_node;  /* In 'agsrv->pending'. */
    struct agpconn *conn;       /* The channel. */
};

struct agsrv {
    struct event_base *base;    /* Event loop. */
    struct steer *steer;        /* Steering policy. */
    int hb_timeout;             /* Heartbeat timeout, in ms. */
    struct evconnlistener *listener; /* Accepts agents, or NULL. */
    struct agpconn_pool *pool;  /* Limits the listener's channels. */
    char *listen_name;          /* What it listens on. */
    struct tls_ctx *tls;        /* For "pssl:", or NULL. */
    bool listen_tls;            /* The listener runs TLS. */
    uint64_t n_refused_hellos;  /* Hellos refused: not who they claim. */
    uint64_t n_refused_reports; /* Warm reports of maps never sent. */
    struct shash agents;        /* Contains "struct agsrv_agent"s. */
    struct ovs_list chans;      /* Contains "struct agsrv_chan"s. */
    long long int last_run;     /* When agsrv_run() last ran. */
    long long int listen_at;    /* When the listener opened, or 0. */
    long long int ready_at;     /* When agents from before a restart began
                                 * to be awaited, or 0. */
    int reconnect_ms;           /* Their time to find us after 'listen_at':
                                 * AGP_RECONNECT_MAX_MS after a start,
                                 * AGP_TAKEOVER_WAIT_MS after a takeover. */
    struct event *awaited_ev;   /* Fires when awaited agents are late. */
    char *standby;              /* Why hellos are refused (another
                                 * controller is active), or NULL. */
    long long int (*clock)(void); /* time_msec(), or a test's clock. */
};

static void agent_msg__(struct agpconn *, const struct agp_msg *, void *);
static void agent_closed__(struct agpconn *, const char *, void *);

static const struct agpconn_cbs agent_cbs = {
    .msg = agent_msg__,
    .closed = agent_closed__,
};

/* Context of a channel: the server, and the agent once it said hello. */
struct agsrv_chan {
    struct ovs_list list_node;  /* In 'agsrv->chans'. */
    struct agsrv *srv;          /* Owner. */
    struct agpconn *conn;       /* The channel. */
    struct agsrv_agent *agent;  /* After the hello; NULL before. */
    char *host;                 /* The peer's address, without the port. */
    bool detached;              /* Replaced or timed out: closing. */
};

/* Creates the agent server for 'steer'; agents that miss heartbeats for
 * 'heartbeat_timeout_ms' are failed over. */
struct agsrv *
agsrv_create(struct event_base *base, struct steer *steer,
             int heartbeat_timeout_ms)
{
    struct agsrv *srv = xzalloc(sizeof *srv);

    srv->base = base;
    srv->steer = steer;
    srv->clock = time_msec;
    srv->hb_timeout = heartbeat_timeout_ms;
    srv->reconnect_ms = AGP_RECONNECT_MAX_MS;
    shash_init(&srv->agents);
    ovs_list_init(&srv->chans);
    return srv;
}

/* Closes every channel and frees 'srv'.  Accepts NULL. */
void
agsrv_destroy(struct agsrv *srv)
{
    struct agsrv_chan *chan;
    struct shash_node *node;

    if (!srv) {
        return;
    }
    LIST_FOR_EACH_POP (chan, list_node, &srv->chans) {
        agpconn_destroy(chan->conn);
        free(chan->host);
        free(chan);
    }
    SHASH_FOR_EACH (node, &srv->agents) {
        struct agsrv_agent *a = node->data;

        free(a->instance);
        free(a->host);
        free(a);
    }
    shash_destroy(&srv->agents);
    if (srv->listener) {
        evconnlistener_free(srv->listener);
    }
    if (srv->awaited_ev) {
        event_free(srv->awaited_ev);
    }
    agpconn_pool_destroy(srv->pool);
    free(srv->listen_name);
    free(srv->standby);
    free(srv);
}

/* Makes 'srv' accept "pssl:" listeners, whose channels run TLS with 'tls'
 * (which must outlive 'srv'): an agent's certificate must then name its
 * instance. */
void
agsrv_set_tls(struct agsrv *srv, struct tls_ctx *tls)
{
    srv->tls = tls;
}

/* Takes over 'fd', a new agent channel from address 'host' (without the
 * port), named 'name' (for logs).  Returns false if the listener's limits
 * refused it (and closed 'fd'). */
bool
agsrv_take_channel(struct agsrv *srv, int fd, const char *host,
                   const char *name)
{
    struct agsrv_chan *chan = xzalloc(sizeof *chan);

    chan->srv = srv;
    chan->host = xstrdup(host);
    chan->conn = agpconn_accept(srv->base, fd, name, srv->pool,
                                srv->listen_tls ? srv->tls : NULL,
                                &agent_cbs, chan);
    if (!chan->conn) {
        free(chan->host);
        free(chan);
        return false;
    }
    ovs_list_push_back(&srv->chans, &chan->list_node);
    VLOG_DBG("%s: accepted", name);
    return true;
}

static void
accept_cb__(struct evconnlistener *evl OVS_UNUSED, evutil_socket_t fd,
            struct sockaddr *sa, int socklen OVS_UNUSED, void *srv_)
{
    struct agsrv *srv = srv_;
    char *peer = netaddr_format(sa);
    char *host = netaddr_format_host(sa);
    char *name = xasprintf("agent %s:%s", srv->listen_tls ? "ssl" : "tcp",
                           peer);

    agsrv_take_channel(srv, fd, host, name);
    free(name);
    free(host);
    free(peer);
}

/* Listens for agents on 'target' ("ptcp:PORT:IP", or "pssl:PORT:IP" after
 * agsrv_set_tls()).  The address is required: the agent listener decides
 * where instances fail over, so it is opened only where it is meant to
 * be.  Returns 0 or an errno value with a message in '*errorp'. */
int
agsrv_listen(struct agsrv *srv, const char *target, char **errorp)
{
    bool tls = !strncmp(target, "pssl:", 5);
    struct sockaddr_storage ss;
    socklen_t len;
    int error;

    *errorp = NULL;
    if ((strncmp(target, "ptcp:", 5) && !tls)
        || netaddr_parse_ptcp(target + 5, &ss, &len)) {
        *errorp = xasprintf("%s: bad agent listener (expected "
                            "ptcp:PORT:IP or pssl:PORT:IP)", target);
        return EINVAL;
    }
    if (!strchr(target + 5, ':')) {
        *errorp = xasprintf("%s: the agent listener needs an explicit "
                            "address (ptcp:PORT:IP or pssl:PORT:IP): "
                            "whoever reaches it can speak for instances",
                            target);
        return EINVAL;
    }
    if (tls && !srv->tls) {
        *errorp = xasprintf("%s: pssl: needs --private-key, --certificate "
                            "and --ca-cert", target);
        return EINVAL;
    }
    srv->listen_tls = tls;
    srv->listener = evconnlistener_new_bind(
        srv->base, accept_cb__, srv,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        -1, (struct sockaddr *) &ss, len);
    if (!srv->listener) {
        error = errno ? errno : EADDRINUSE;
        *errorp = xasprintf("%s: cannot listen (%s)", target,
                            ovs_strerror(error));
        return error;
    }
    len = sizeof ss;
    getsockname(evconnlistener_get_fd(srv->listener),
                (struct sockaddr *) &ss, &len);
    char *addr = netaddr_format((struct sockaddr *) &ss);
    srv->listen_name = xasprintf("%s:%s", tls ? "pssl" : "ptcp", addr);
    srv->listen_at = srv->clock();
    srv->pool = agpconn_pool_create(srv->listen_name, &agsrv_limits);
    free(addr);
    VLOG_INFO("listening for agents on %s", srv->listen_name);
    return 0;
}

/* Returns true if 'a' is connected and, as far as its reports go, holds
 * the state of every bucket its instance is the secondary of (a fact of
 * the policy's, asked each time). */
static bool
warm__(const struct agsrv *srv, const struct agsrv_agent *a)
{
    return a->conn && steer_instance_warm(srv->steer, a->instance);
}

/* Sends 'a' the map of its service. */
static void
push_map__(struct agsrv *srv, struct agsrv_agent *a)
{
    const struct svcmap *map;
    struct agp_msg msg;
    int idx;

    map = steer_map_of_instance(srv->steer, a->instance, &idx);
    if (!map || !a->conn) {
        return;
    }
    memset(&msg, 0, sizeof msg);
    msg.type = AGP_MAP;
    msg.map.epoch = map->epoch ? map->epoch : 1;
    msg.map.service = map->service;
    msg.map.n_buckets = map->n_buckets;
    msg.map.n_instances = map->n_instances;
    msg.map.instances = xcalloc(MAX(map->n_instances, 1),
                                sizeof *msg.map.instances);
    for (size_t i = 0; i < map->n_instances; i++) {
        const struct agsrv_agent *peer;

        msg.map.instances[i].name = map->instances[i].name;
        peer = shash_find_data(&srv->agents, map->instances[i].name);
        if (peer) {
            msg.map.instances[i].repl_addr = peer->repl_addr;
            msg.map.instances[i].repl_port = peer->repl_port;
        }
    }
    msg.map.buckets = xmalloc(map->n_buckets * sizeof *msg.map.buckets);
    for (size_t b = 0; b < map->n_buckets; b++) {
        int p = map->buckets[b].primary, s = map->buckets[b].secondary;
        int n = map->buckets[b].next;

        msg.map.buckets[b].primary = p == SVCMAP_NONE ? AGP_NONE : p;
        msg.map.buckets[b].secondary = (p == SVCMAP_NONE || s == SVCMAP_NONE
                                        ? AGP_NONE : s);
        msg.map.buckets[b].next = (p == SVCMAP_NONE || n == SVCMAP_NONE
                                   ? AGP_NONE : n);
    }
    agpconn_send(a->conn, &msg);
    a->pushed_epoch = map->epoch;
    a->sent_epoch = MAX(a->sent_epoch, msg.map.epoch);
    free(msg.map.instances);
    free(msg.map.buckets);
}

/* Returns the channel context of 'conn'. */
static struct agsrv_chan *
chan_of__(struct agsrv *srv, const struct agpconn *conn)
{
    struct agsrv_chan *chan;

    LIST_FOR_EACH (chan, list_node, &srv->chans) {
        if (chan->conn == conn) {
            return chan;
        }
    }
    return NULL;
}

/* Fails over the instance of agent 'a' for 'why'. */
static void
agent_lost__(struct agsrv *srv, struct agsrv_agent *a, const char *why)
{
    a->n_lost++;
    steer_agent_lost(srv->steer, a->instance, why);
}

/* Returns NULL if the peer of 'conn' may speak for instance 'instance',
 * whose agent the controller knows as 'a' (or NULL), or why not (free it).
 * With TLS, its certificate must name the instance; a certified agent
 * then replaces the instance's older channel (a reconnect).  Without TLS,
 * anyone may say hello for an instance whose channel is down, but a live
 * channel is replaced only by a channel from the same address: that is a
 * restarted agent, another host is not. */
static char *
check_identity__(const struct agsrv_chan *chan, struct agpconn *conn,
                 const char *instance, const struct agsrv_agent *a)
{
    struct sset names = SSET_INITIALIZER(&names);
    char *error = NULL;

    if (agpconn_is_tls(conn)) {
        if (!agpconn_peer_names(conn, &names)
            || !sset_contains(&names, instance)) {
            error = xasprintf("the agent's certificate does not name "
                              "instance %s", instance);
        }
    } else if (a && a->conn && a->host && strcmp(a->host, chan->host)) {
        error = xasprintf("instance %s is connected from %s; a channel "
                          "from %s does not replace it", instance, a->host,
                          chan->host);
    }
    sset_destroy(&names);
    return error;
}

/* Answers an agent's heartbeat 'xid' on 'conn' with an empty one, so that
 * an agent that knows several controllers can tell a stopped or cut-off
 * controller from a quiet one (agentctl_is_silent()). */
static void
send_heartbeat_answer__(struct agpconn *conn, uint32_t xid)
{
    struct agp_msg ans;

    memset(&ans, 0, sizeof ans);
    ans.type = AGP_HEARTBEAT;
    ans.xid = xid;
    agpconn_send(conn, &ans);
}

static void
handle_hello__(struct agsrv_chan *chan, struct agpconn *conn,
               const struct agp_msg *msg)
{
    struct agsrv *srv = chan->srv;
    const struct agp_hello *h = &msg->hello;
    const struct svcmap *map;
    struct agp_msg ack;
    struct agsrv_agent *a;
    char *refusal;
    int idx;

    memset(&ack, 0, sizeof ack);
    ack.type = AGP_HELLO_ACK;
    ack.xid = msg->xid;
    if (srv->standby) {
        /* Normal while another controller is active: the agent tries the
         * next controller it knows. */
        VLOG_DBG("%s: hello refused: %s", agpconn_name(conn), srv->standby);
        ack.hello_ack.reason = srv->standby;
        agpconn_send(conn, &ack);
        agpconn_close(conn, srv->standby);
        return;
    }
    /* Instance names are unique in the configuration; the hello's service
     * is the agent's service function, which the configuration does not
     * name. */
    map = steer_map_of_instance(srv->steer, h->instance, &idx);
    if (!map) {
        char *reason = xasprintf("no instance \"%s\" in the configuration",
                                 h->instance);
        VLOG_WARN_RL(&rl, "%s: %s", agpconn_name(conn), reason);
        ack.hello_ack.reason = reason;
        agpconn_send(conn, &ack);
        agpconn_close(conn, reason);
        free(reason);
        return;
    }
    ack.hello_ack.version = agp_negotiate(h->versions);
    ack.hello_ack.reason = "";
    if (!ack.hello_ack.version) {
        ack.hello_ack.reason = "no common protocol version";
        agpconn_send(conn, &ack);
        agpconn_close(conn, "no common protocol version");
        return;
    }

    a = shash_find_data(&srv->agents, h->instance);
    refusal = check_identity__(chan, conn, h->instance, a);
    if (refusal) {
        srv->n_refused_hellos++;
        VLOG_WARN_RL(&rl, "%s: hello refused: %s", agpconn_name(conn),
                     refusal);
        ack.hello_ack.version = 0;
        ack.hello_ack.reason = refusal;
        agpconn_send(conn, &ack);
        agpconn_close(conn, refusal);
        free(refusal);
        return;
    }
    if (!a) {
        a = xzalloc(sizeof *a);
        a->instance = xstrdup(h->instance);
        shash_add(&srv->agents, a->instance, a);
    } else if (a->conn) {
        /* A newer channel of the same instance replaces the older. */
        struct agsrv_chan *old = chan_of__(srv, a->conn);

        VLOG_INFO("%s: replaces the channel of %s", agpconn_name(conn),
                  a->instance);
        if (old) {
            old->detached = true;
        }
        agpconn_close(a->conn, "replaced by a newer channel");
    }
    a->conn = conn;
    a->awaited = false;
    free(a->host);
    a->host = xstrdup(chan->host);
    a->sent_epoch = 0;
    a->repl_addr = h->repl_addr;
    a->repl_port = h->repl_port;
    a->last_heard = srv->clock();
    a->pushed_epoch = 0;
    chan->agent = a;
    agpconn_send(conn, &ack);
    VLOG_INFO("%s: agent of instance %s (service %s, function %s) "
              "connected", agpconn_name(conn), a->instance, map->service,
              h->service);

    steer_agent_up(srv->steer, a->instance);
    push_map__(srv, a);

    /* The other agents of the service learn its replication address. */
    struct shash_node *node;
    SHASH_FOR_EACH (node, &srv->agents) {
        struct agsrv_agent *other = node->data;
        const struct svcmap *omap;
        int oidx;

        omap = steer_map_of_instance(srv->steer, other->instance, &oidx);
        if (other != a && omap == map) {
            other->pushed_epoch = 0;
        }
    }
}

/* Pushes its map to every connected agent whose map changed since it was
 * last sent. */
static void
push_maps__(struct agsrv *srv)
{
    struct shash_node *node;

    SHASH_FOR_EACH (node, &srv->agents) {
        struct agsrv_agent *a = node->data;
        const struct svcmap *map;
        int idx;

        if (!a->conn) {
            continue;
        }
        map = steer_map_of_instance(srv->steer, a->instance, &idx);
        if (map && map->epoch != a->pushed_epoch) {
            push_map__(srv, a);
        }
    }
}

static void
agent_msg__(struct agpconn *conn, const struct agp_msg *msg, void *chan_)
{
    struct agsrv_chan *chan = chan_;
    struct agsrv_agent *a;

    if (chan->detached) {
        return;                 /* Replaced or timed out; closing. */
    }
    a = chan->agent;
    if (!a) {
        if (msg->type != AGP_HELLO) {
            VLOG_WARN_RL(&rl, "%s: %s before hello", agpconn_name(conn),
                         agp_type_name(msg->type));
            agpconn_close(conn, "protocol error: no hello");
            return;
        }
        handle_hello__(chan, conn, msg);
        if (chan->agent) {
            agpconn_set_authenticated(conn);
        }
        return;
    }

    switch (msg->type) {
    case AGP_HEARTBEAT:
        send_heartbeat_answer__(conn, msg->xid);
        if (msg->heartbeat.epoch > a->sent_epoch) {
            /* Warm reports count only for maps the agent was sent. */
            chan->srv->n_refused_reports++;
            VLOG_WARN_RL(&rl, "%s: heartbeat of instance %s at epoch %"
                         PRIu64", newer than any map sent to it (%"PRIu64
                         "): report ignored", agpconn_name(conn),
                         a->instance, msg->heartbeat.epoch, a->sent_epoch);
            a->last_heard = chan->srv->clock();
            break;
        }
        a->last_heard = chan->srv->clock();
        a->reported_epoch = msg->heartbeat.epoch;
        a->n_received = msg->heartbeat.n_received;
        a->n_returned = msg->heartbeat.n_returned;
        a->n_dropped = msg->heartbeat.n_dropped;
        steer_agent_epoch(chan->srv->steer, a->instance,
                          msg->heartbeat.epoch);
        if (steer_agent_report(chan->srv->steer, a->instance,
                               msg->heartbeat.epoch,
                               msg->heartbeat.n_buckets, msg->heartbeat.warm,
                               a->last_heard)) {
            /* A handoff swapped: the agents learn it in this loop turn,
             * as the switch does. */
            push_maps__(chan->srv);
        }
        break;

    default:
        VLOG_WARN_RL(&rl, "%s: unexpected %s", agpconn_name(conn),
                     agp_type_name(msg->type));
        agpconn_close(conn, "protocol error: unexpected message");
        break;
    }
}

static void
agent_closed__(struct agpconn *conn, const char *reason, void *chan_)
{
    struct agsrv_chan *chan = chan_;

    if (!chan->detached && chan->agent && chan->agent->conn == conn) {
        struct agsrv_agent *a = chan->agent;
        char *why = xasprintf("agent channel lost: %s", reason);

        VLOG_WARN("%s: %s", agpconn_name(conn), why);
        a->conn = NULL;
        agent_lost__(chan->srv, a, why);
        free(why);
    } else if (chan->agent) {
        VLOG_INFO("%s: closed: %s", agpconn_name(conn), reason);
    } else {
        /* Never said hello: one of possibly many, so rate-limited. */
        VLOG_INFO_RL(&rl, "%s: closed: %s", agpconn_name(conn), reason);
    }
    ovs_list_remove(&chan->list_node);
    free(chan->host);
    free(chan);
}

/* Pushes new map epochs to the agents and fails over those whose
 * heartbeats stopped, as of 'now'. */
void
agsrv_run(struct agsrv *srv, long long int now)
{
    struct shash_node *node;
    bool stalled = srv->last_run && now - srv->last_run > srv->hb_timeout / 2;

    /* If this loop itself was held up, heartbeats may be waiting unread in
     * the sockets: judge nobody this time. */
    srv->last_run = now;
    if (stalled) {
        SHASH_FOR_EACH (node, &srv->agents) {
            struct agsrv_agent *a = node->data;
            a->last_heard = MAX(a->last_heard, now - srv->hb_timeout / 2);
        }
    }

    SHASH_FOR_EACH (node, &srv->agents) {
        struct agsrv_agent *a = node->data;

        if (!a->conn) {
            if (a->awaited && srv->listener && srv->ready_at
                && now - srv->ready_at > srv->hb_timeout) {
                char *why = xasprintf("its agent, seen before the "
                                      "controller restarted, did not come "
                                      "back within %d ms of the controller "
                                      "being ready", srv->hb_timeout);

                a->awaited = false;
                agent_lost__(srv, a, why);
                free(why);
            }
            continue;
        }
        if (now - a->last_heard > srv->hb_timeout
            && agpconn_has_input(a->conn)) {
            /* Its heartbeats are here, unread because this loop was busy:
             * not a hang. */
            a->last_heard = now - srv->hb_timeout / 2;
        }
        if (now - a->last_heard > srv->hb_timeout) {
            char *why = xasprintf("no heartbeat for %lld ms",
                                  now - a->last_heard);
            struct agsrv_chan *chan = chan_of__(srv, a->conn);

            VLOG_WARN("%s: %s", agpconn_name(a->conn), why);
            if (chan) {
                chan->detached = true;
            }
            agpconn_close(a->conn, why);
            a->conn = NULL;
            agent_lost__(srv, a, why);
            free(why);
            continue;
        }
    }
    push_maps__(srv);
}

/* Appends the agents' state to 's'. */
void
agsrv_format(const struct agsrv *srv, long long int now, struct ds *s)
{
    const struct shash_node **nodes = shash_sort(&srv->agents);

    ds_put_format(s, "%-16s %-10s %-21s %8s %6s %5s %10s %10s %8s %5s\n",
                  "INSTANCE", "CHANNEL", "REPLICATION", "HEARD", "EPOCH",
                  "WARM", "RECEIVED", "RETURNED", "DROPPED", "LOST");
    for (size_t i = 0; i < shash_count(&srv->agents); i++) {
        const struct agsrv_agent *a = nodes[i]->data;
        char addr[INET_ADDRSTRLEN];
        struct in_addr in = { htonl(a->repl_addr) };
        char *repl, *heard;

        inet_ntop(AF_INET, &in, addr, sizeof addr);
        repl = xasprintf("%s:%"PRIu16, addr, a->repl_port);
        heard = (a->last_heard ? xasprintf("%lldms", now - a->last_heard)
                 : xstrdup("never"));
        ds_put_format(s, "%-16s %-10s %-21s %8s %6"PRIu64" %5s %10"
                      PRIu64" %10"PRIu64" %8"PRIu64" %5"PRIu64"\n",
                      a->instance,
                      a->conn ? "up" : a->awaited ? "awaited" : "down",
                      repl, heard, a->reported_epoch,
                      warm__(srv, a) ? "yes" : "no", a->n_received, a->n_returned,
                      a->n_dropped, a->n_lost);
        free(heard);
        free(repl);
    }
    free(nodes);
    ds_put_format(s, "refused: %"PRIu64" hellos (not the instance they "
                  "named), %"PRIu64" warm reports (of maps never sent)\n",
                  srv->n_refused_hellos, srv->n_refused_reports);
}

/* Checks that instance 'name' can be taken out of service without losing
 * stream state: for every bucket it is primary of, the secondary's agent
 * must report warm.  Instances without agents hold no replicated state,
 * so they are not asked.  Returns NULL if so, else a message saying which
 * secondary is not ready (to be freed). */
char *
agsrv_check_drain(const struct agsrv *srv, const char *name)
{
    const struct svcmap *map;
    int idx;

    map = steer_map_of_instance(srv->steer, name, &idx);
    if (!map) {
        return NULL;
    }
    for (size_t b = 0; b < map->n_buckets; b++) {
        const struct agsrv_agent *a;
        int s = map->buckets[b].secondary;

        if (map->buckets[b].primary != idx || s == SVCMAP_NONE) {
            continue;
        }
        a = shash_find_data(&srv->agents, map->instances[s].name);
        if (a && !warm__(srv, a)) {
            return xasprintf("secondary %s of bucket %"PRIuSIZE" does not "
                             "hold the state of %s's streams yet (its agent "
                             "is %s); try again, or use --force",
                             map->instances[s].name, b, name,
                             a->conn ? "cold" : "not connected");
        }
    }
    return NULL;
}

/* Arms the timer that fences the agents still awaited when the heartbeat
 * timeout after 'srv->ready_at' is over. */
static void
arm_awaited__(struct agsrv *srv)
{
    long long int delay;
    struct timeval tv;

    delay = MAX(1, srv->ready_at + srv->hb_timeout + 1 - srv->clock());
    tv.tv_sec = delay / 1000;
    tv.tv_usec = delay % 1000 * 1000;
    evtimer_add(srv->awaited_ev, &tv);
}

static void
awaited_cb__(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
             void *srv_)
{
    struct agsrv *srv = srv_;
    long long int now = srv->clock();

    if (now - srv->ready_at <= srv->hb_timeout) {
        /* libevent measured from the start of its loop turn: early. */
        arm_awaited__(srv);
        return;
    }
    agsrv_run(srv, now);
}

/* Tells 'srv' that the policy has programmed the switches, at 'now'.  The
 * controller is then ready for its agents as soon as every live one has
 * had the time to reconnect, AGP_RECONNECT_MAX_MS after the listener
 * opened (AGP_TAKEOVER_WAIT_MS after a takeover): from then on, the agents awaited since a restart have the
 * heartbeat timeout to say hello.  Only the first call counts. */
void
agsrv_set_ready(struct agsrv *srv, long long int now)
{
    struct shash_node *node;
    size_t n = 0;

    if (srv->ready_at) {
        return;
    }
    srv->ready_at = MAX(now, srv->listen_at + srv->reconnect_ms);
    SHASH_FOR_EACH (node, &srv->agents) {
        const struct agsrv_agent *a = node->data;

        n += a->awaited;
    }
    if (n && srv->listener) {
        VLOG_INFO("ready for agents in %lld ms; then the %"PRIuSIZE" agents "
                  "seen before the restart that are not back have %d ms to "
                  "say hello", MAX(0, srv->ready_at - now), n,
                  srv->hb_timeout);
    }
    if (!srv->awaited_ev) {
        srv->awaited_ev = evtimer_new(srv->base, awaited_cb__, srv);
    }
    arm_awaited__(srv);
}

/* Makes 'srv' a standby, with 'why' (non-null) the reason given to the
 * agents, or (with 'why' NULL) the active controller's agent server at
 * 'now'.  A standby refuses every hello and closes the channels it has,
 * without failing anyone over: the agents go on to the active controller,
 * which judges them.  Becoming active, 'srv' counts as just opened for
 * the agents (they find it only now), and the agents awaited after
 * agsrv_restore_state() have, from agsrv_set_ready(), the time to come
 * back that a restart gives them. */
void
agsrv_set_standby(struct agsrv *srv, const char *why, long long int now)
{
    struct agsrv_chan *chan;
    struct shash_node *node;

    if (!why) {
        if (srv->standby) {
            free(srv->standby);
            srv->standby = NULL;
            srv->listen_at = srv->listener ? now : 0;
            srv->reconnect_ms = AGP_TAKEOVER_WAIT_MS;
            srv->ready_at = 0;
            srv->last_run = 0;
        }
        return;
    }
    free(srv->standby);
    srv->standby = xstrdup(why);
    LIST_FOR_EACH (chan, list_node, &srv->chans) {
        if (!chan->detached) {
            chan->detached = true;
            agpconn_close(chan->conn, why);
        }
    }
    SHASH_FOR_EACH (node, &srv->agents) {
        struct agsrv_agent *a = node->data;

        a->conn = NULL;
        a->awaited = false;
    }
    if (srv->awaited_ev) {
        event_del(srv->awaited_ev);
    }
    srv->ready_at = 0;
}

/* Makes 'srv' read the time from 'clock' instead of time_msec(): the time
 * an agent was last heard from is taken when its message is read, between
 * the calls that pass the time in.  For tests. */
void
agsrv_set_clock(struct agsrv *srv, long long int (*clock)(void))
{
    srv->clock = clock;
}

/* Stores in 's' the instances whose agents this controller has seen (and
 * that the configuration still has). */
void
agsrv_save_state(const struct agsrv *srv, struct ctlstate *s)
{
    struct shash_node *node;

    SHASH_FOR_EACH (node, &srv->agents) {
        const struct agsrv_agent *a = node->data;
        int idx;

        if (steer_map_of_instance(srv->steer, a->instance, &idx)) {
            sset_add(&s->agents, a->instance);
        }
    }
}

/* Continues from the state 's' that this controller saved before it
 * restarted: the agents it had are awaited, and the instance of any that
 * has not said hello within the heartbeat timeout, counted from when the
 * policy has programmed the switches, is fenced like that of a lost
 * agent. */
void
agsrv_restore_state(struct agsrv *srv, const struct ctlstate *s)
{
    const char *name;

    SSET_FOR_EACH (name, &s->agents) {
        int idx;

        if (steer_map_of_instance(srv->steer, name, &idx)
            && !shash_find(&srv->agents, name)) {
            struct agsrv_agent *a = xzalloc(sizeof *a);

            a->instance = xstrdup(name);
            a->awaited = true;
            shash_add(&srv->agents, a->instance, a);
        }
    }
}
