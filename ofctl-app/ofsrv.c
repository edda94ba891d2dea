/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "ofsrv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "netaddr.h"
#include "openvswitch/dynamic-string.h"
#include "ofpframe.h"
#include "openvswitch/list.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "socket-util.h"
#include "timeval.h"
#include "tls.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(ofsrv);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* A connection that closed is given this long to flush its last messages. */
#define OFSRV_LINGER_MS 2000

/* Output below this many bytes counts as drained: the owner is told
 * (ofconn_hooks' 'drained') while the socket still has some to send. */
#define OFSRV_TX_LOW_WATER (128 * 1024)

struct ofsrv_listener {
    struct ovs_list list_node;  /* In 'ofsrv->listeners'. */
    struct ofsrv *srv;          /* Owner. */
    struct evconnlistener *evl; /* The listening socket. */
    char *name;                 /* "ptcp:PORT:IP", "pssl:PORT:IP" or
                                 * "punix:PATH". */
    char *unix_path;            /* Socket file to remove, or NULL. */
    bool tls;                   /* "pssl:": connections run TLS. */
};

struct ofsrv_conn {
    struct ovs_list list_node;  /* In 'ofsrv->conns'. */
    struct ofsrv *srv;          /* Owner. */
    struct ofconn *ofconn;      /* The protocol. */
    struct bufferevent *bev;    /* The socket. */
    struct event *timer;        /* Fires at the ofconn's deadline. */
    struct event *resume;       /* Continues work on the next loop turn. */
    bool reads_paused;          /* Back-pressure: output above high water. */
    size_t stall_backlog;       /* Output size at the last stall check. */
    long long int stall_deadline; /* Next stall check while paused. */
    bool closing;               /* Flushing output before being freed. */
    long long int close_deadline; /* Free even if not flushed by then. */
    char *peer;                 /* Who the peer is: its address without
                                 * the port, "unix", or with TLS its
                                 * certificate's fingerprint. */
};

struct ofsrv {
    struct event_base *base;    /* Event loop. */
    struct ofsrv_settings settings; /* As given. */
    struct ofconn_hooks hooks;  /* The owner's callbacks. */
    void *aux;                  /* Passed to 'hooks'. */
    struct ovs_list listeners;  /* Contains "struct ofsrv_listener"s. */
    struct ovs_list conns;      /* Contains "struct ofsrv_conn"s. */
    const struct ofconn **conn_array; /* Scratch for ofsrv_get_conns(). */
    struct tls_ctx *tls;        /* For "pssl:" listeners, or NULL. */
};

static void conn_work__(struct ofsrv_conn *);
static void conn_free__(struct ofsrv_conn *);

/* Sets 'settings' to the defaults. */
void
ofsrv_settings_init(struct ofsrv_settings *settings)
{
    ofconn_settings_init(&settings->conn);
    settings->max_msgs_per_turn = 64;
    settings->tx_high_water = 4 * 1024 * 1024;
    settings->tx_low_water = 1024 * 1024;
    settings->rx_high_water = 256 * 1024;
}

/* Creates a server on 'base' with 'settings'.  'hooks' (may be NULL) with
 * 'aux' are called for every connection, after the server's own handling. */
struct ofsrv *
ofsrv_create(struct event_base *base, const struct ofsrv_settings *settings,
             const struct ofconn_hooks *hooks, void *aux)
{
    struct ofsrv *srv = xzalloc(sizeof *srv);

    srv->base = base;
    srv->settings = *settings;
    if (hooks) {
        srv->hooks = *hooks;
    }
    srv->aux = aux;
    ovs_list_init(&srv->listeners);
    ovs_list_init(&srv->conns);
    return srv;
}

/* Closes every connection and listener of 'srv' and frees it.  Accepts
 * NULL. */
void
ofsrv_destroy(struct ofsrv *srv)
{
    struct ofsrv_listener *l;
    struct ofsrv_conn *c;

    if (!srv) {
        return;
    }
    LIST_FOR_EACH_SAFE (c, list_node, &srv->conns) {
        ofconn_close(c->ofconn, "controller shutting down", time_msec());
        conn_free__(c);
    }
    LIST_FOR_EACH_POP (l, list_node, &srv->listeners) {
        evconnlistener_free(l->evl);
        if (l->unix_path) {
            unlink(l->unix_path);
            free(l->unix_path);
        }
        free(l->name);
        free(l);
    }
    free(srv->conn_array);
    free(srv);
}

/* Internal hooks: handle replacement, then pass on to the owner.
 *
 * A datapath id is a claim, not an identity: a connection that claims the
 * datapath id of a live connection replaces it only if it comes from the
 * same peer, the same certificate with TLS or the same address without.
 * That is the switch reconnecting (a restart, while the old connection is
 * half open): the new connection is the real one.  A peer that is not
 * the same is refused while the old connection lives, and the switch keeps
 * its connection; if the real switch's identity changed, it gets in once
 * the old connection times out (the inactivity probe). */
static void
ready_cb__(struct ofconn *ofconn, void *c_)
{
    struct ofsrv_conn *c = c_;
    struct ofsrv *srv = c->srv;
    struct ofsrv_conn *other;
    uint64_t dpid = ofconn_get_dpid(ofconn);

    if (tls_is_tls(c->bev)) {
        char *fp = tls_peer_fingerprint(c->bev);

        if (fp) {
            free(c->peer);
            c->peer = fp;
        }
    }
    LIST_FOR_EACH (other, list_node, &srv->conns) {
        if (other != c && !ofconn_is_closed(other->ofconn)
            && ofconn_get_state(other->ofconn) >= OFSM_FEATURES
            && ofconn_get_dpid(other->ofconn) == dpid
            && strcmp(other->peer, c->peer)) {
            char *reason = xasprintf("datapath %016"PRIx64" is connected "
                                     "as %s from another peer: refused",
                                     dpid, ofconn_get_name(other->ofconn));

            VLOG_WARN("%s: %s", ofconn_get_name(ofconn), reason);
            ofconn_close(ofconn, reason, time_msec());
            event_active(c->resume, 0, 0);
            free(reason);
            return;
        }
    }
    LIST_FOR_EACH (other, list_node, &srv->conns) {
        if (other != c && !ofconn_is_closed(other->ofconn)
            && ofconn_get_state(other->ofconn) >= OFSM_FEATURES
            && ofconn_get_dpid(other->ofconn) == dpid) {
            char reason[128];

            snprintf(reason, sizeof reason, "replaced by a new connection "
                     "from the same datapath (%s)", ofconn_get_name(ofconn));
            ofconn_close(other->ofconn, reason, time_msec());
            /* Finish it on its own turn, not inside this callback. */
            event_active(other->resume, 0, 0);
        }
    }
    if (srv->hooks.ready) {
        srv->hooks.ready(ofconn, srv->aux);
    }
}

static void
port_changed_cb__(struct ofconn *ofconn, const struct ofputil_phy_port *old,
                  const struct ofputil_phy_port *new, void *c_)
{
    struct ofsrv_conn *c = c_;

    if (c->srv->hooks.port_changed) {
        c->srv->hooks.port_changed(ofconn, old, new, c->srv->aux);
    }
}

static void
error_cb__(struct ofconn *ofconn, enum ofperr error, ovs_be32 xid, void *c_)
{
    struct ofsrv_conn *c = c_;

    if (c->srv->hooks.error) {
        c->srv->hooks.error(ofconn, error, xid, c->srv->aux);
    }
}

static void
message_cb__(struct ofconn *ofconn, enum ofptype type,
             const struct ofp_header *oh, void *c_)
{
    struct ofsrv_conn *c = c_;

    if (c->srv->hooks.message) {
        c->srv->hooks.message(ofconn, type, oh, c->srv->aux);
    }
}

static void
closed_cb__(struct ofconn *ofconn, void *c_)
{
    struct ofsrv_conn *c = c_;

    if (c->srv->hooks.closed) {
        c->srv->hooks.closed(ofconn, c->srv->aux);
    }
}

static void
role_changed_cb__(struct ofconn *ofconn, void *c_)
{
    struct ofsrv_conn *c = c_;

    if (c->srv->hooks.role_changed) {
        c->srv->hooks.role_changed(ofconn, c->srv->aux);
    }
}

static const struct ofconn_hooks ofsrv_ofconn_hooks = {
    .ready = ready_cb__,
    .role_changed = role_changed_cb__,
    .port_changed = port_changed_cb__,
    .error = error_cb__,
    .message = message_cb__,
    .closed = closed_cb__,
};

/* While reads are paused, the peer must drain some output every this many
 * ms or be disconnected. */
static long long int
conn_stall_interval__(const struct ofsrv_conn *c)
{
    return 2LL * c->srv->settings.conn.probe_interval;
}

/* Moves what the ofconn queued into the socket's output buffer and applies
 * back-pressure when the peer falls behind. */
static void
conn_flush__(struct ofsrv_conn *c, long long int now)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    struct ofpbuf *b;

    while ((b = ofconn_pop_tx(c->ofconn)) != NULL) {
        evbuffer_add(out, b->data, b->size);
        ofpbuf_delete(b);
    }

    if (!c->reads_paused && !c->closing
        && evbuffer_get_length(out) > c->srv->settings.tx_high_water) {
        VLOG_WARN_RL(&rl, "%s: peer is not reading (%zu bytes queued), "
                     "pausing input", ofconn_get_name(c->ofconn),
                     evbuffer_get_length(out));
        c->reads_paused = true;
        c->stall_backlog = evbuffer_get_length(out);
        c->stall_deadline = now + conn_stall_interval__(c);
        bufferevent_disable(c->bev, EV_READ);
    }
}

/* Handles up to the per-turn limit of complete messages from the input
 * buffer.  Returns true if complete messages remain. */
static bool
conn_process_input__(struct ofsrv_conn *c, long long int now)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    int budget = c->srv->settings.max_msgs_per_turn;

    while (!ofconn_is_closed(c->ofconn)) {
        size_t avail = evbuffer_get_length(in);
        size_t len;
        enum ofpframe_status status;

        status = ofpframe_check(evbuffer_pullup(in, MIN(avail,
                                                        OFPFRAME_HEADER_LEN)),
                                avail, &len);
        if (status == OFPFRAME_NEED_MORE) {
            return false;
        } else if (status == OFPFRAME_BAD_LENGTH) {
            VLOG_WARN_RL(&rl, "%s: framing error: %s",
                         ofconn_get_name(c->ofconn),
                         ofpframe_status_name(status));
            ofconn_close(c->ofconn, "framing error: OpenFlow header length "
                         "below 8", now);
            return false;
        }
        if (!budget--) {
            return true;
        }
        ofconn_receive(c->ofconn, evbuffer_pullup(in, len), len, now);
        evbuffer_drain(in, len);
    }
    return false;
}

/* Schedules the timer of 'c' for the ofconn's next deadline. */
static void
conn_schedule__(struct ofsrv_conn *c, long long int now)
{
    long long int deadline = (c->closing ? c->close_deadline
                              : c->reads_paused ? c->stall_deadline
                              : ofconn_deadline(c->ofconn));
    struct timeval tv;

    if (deadline == LLONG_MAX) {
        event_del(c->timer);
        return;
    }
    deadline = MAX(deadline - now, 0);
    tv.tv_sec = deadline / 1000;
    tv.tv_usec = (deadline % 1000) * 1000;
    event_add(c->timer, &tv);
}

/* Starts closing 'c' after its ofconn closed: no more reading, the last
 * messages flushed, then freed. */
static void
conn_start_close__(struct ofsrv_conn *c, long long int now)
{
    size_t partial = evbuffer_get_length(bufferevent_get_input(c->bev));

    if (partial) {
        VLOG_INFO("%s: %zu unprocessed bytes discarded",
                  ofconn_get_name(c->ofconn), partial);
    }
    c->closing = true;
    c->close_deadline = now + OFSRV_LINGER_MS;
    bufferevent_disable(c->bev, EV_READ);
}

/* Closes 'c', whose reads are paused, if its output did not shrink since the
 * last check. */
static void
conn_check_stall__(struct ofsrv_conn *c, long long int now)
{
    size_t backlog = evbuffer_get_length(bufferevent_get_output(c->bev));

    if (now < c->stall_deadline) {
        return;
    }
    if (backlog >= c->stall_backlog) {
        ofconn_close(c->ofconn, "peer stopped reading its messages", now);
    } else {
        c->stall_backlog = backlog;
        c->stall_deadline = now + conn_stall_interval__(c);
    }
}

/* Does everything pending for 'c': input, timers, output.  May free 'c'. */
static void
conn_work__(struct ofsrv_conn *c)
{
    long long int now = time_msec();
    bool more = false;

    if (!c->closing) {
        if (!c->reads_paused) {
            more = conn_process_input__(c, now);
            ofconn_run(c->ofconn, now);
        } else {
            /* Input we refuse to read is no sign of a dead peer, so the
             * inactivity probe waits; a peer that drains nothing for a
             * whole stall interval is given up on. */
            conn_check_stall__(c, now);
        }
        conn_flush__(c, now);
        if (ofconn_is_closed(c->ofconn)) {
            conn_start_close__(c, now);
        }
    } else {
        conn_flush__(c, now);
    }

    if (c->closing) {
        if (!evbuffer_get_length(bufferevent_get_output(c->bev))
            || now >= c->close_deadline) {
            conn_free__(c);
            return;
        }
    } else if (more) {
        event_active(c->resume, 0, 0);
    }
    conn_schedule__(c, now);
}

static void
read_cb__(struct bufferevent *bev OVS_UNUSED, void *c)
{
    conn_work__(c);
}

/* Called when the output drained below the low-water mark. */
static void
write_cb__(struct bufferevent *bev, void *c_)
{
    struct ofsrv_conn *c = c_;

    if (c->reads_paused && !c->closing) {
        VLOG_INFO_RL(&rl, "%s: peer caught up, resuming input",
                     ofconn_get_name(c->ofconn));
        c->reads_paused = false;
        bufferevent_enable(bev, EV_READ);
    }
    if (!c->closing && c->srv->hooks.drained) {
        c->srv->hooks.drained(c->ofconn, c->srv->aux);
    }
    conn_work__(c);
}

static void
event_cb__(struct bufferevent *bev, short what, void *c_)
{
    struct ofsrv_conn *c = c_;
    long long int now = time_msec();

    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        size_t partial = evbuffer_get_length(bufferevent_get_input(bev));
        char reason[128];

        if (c->closing) {
            conn_free__(c);
            return;
        }
        /* Let complete messages that arrived before the close count. */
        conn_process_input__(c, now);
        partial = evbuffer_get_length(bufferevent_get_input(bev));
        if (what & BEV_EVENT_ERROR && tls_is_tls(bev)) {
            struct ds why = DS_EMPTY_INITIALIZER;

            tls_format_error(bev, &why);
            snprintf(reason, sizeof reason, "TLS error (%s)", ds_cstr(&why));
            ds_destroy(&why);
        } else if (what & BEV_EVENT_ERROR) {
            snprintf(reason, sizeof reason, "connection error (%s)",
                     ovs_strerror(EVUTIL_SOCKET_ERROR()));
        } else if (partial) {
            snprintf(reason, sizeof reason, "connection closed by peer "
                     "inside a message (%zu bytes of it received)", partial);
        } else {
            snprintf(reason, sizeof reason, "connection closed by peer");
        }
        ofconn_close(c->ofconn, reason, now);
        conn_free__(c);
    }
}

static void
timer_cb__(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *c)
{
    conn_work__(c);
}

static void
conn_free__(struct ofsrv_conn *c)
{
    ovs_list_remove(&c->list_node);
    event_free(c->timer);
    event_free(c->resume);
    bufferevent_free(c->bev);
    ofconn_destroy(c->ofconn);
    free(c->peer);
    free(c);
}

static char *
peer_name__(const struct sockaddr *sa, bool tls)
{
    if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6) {
        char *addr = netaddr_format(sa);
        char *name = xasprintf("%s:%s", tls ? "ssl" : "tcp", addr);
        free(addr);
        return name;
    }
    return NULL;
}

/* Messages were queued outside this module's callbacks: write them on the
 * next loop turn. */
static void
tx_wakeup_cb__(void *c_)
{
    struct ofsrv_conn *c = c_;

    event_active(c->resume, 0, 0);
}

static void
accept_cb__(struct evconnlistener *evl, evutil_socket_t fd,
            struct sockaddr *sa, int socklen OVS_UNUSED, void *l_)
{
    struct ofsrv_listener *l = l_;
    struct ofsrv *srv = l->srv;
    struct event_base *base = evconnlistener_get_base(evl);
    static unsigned int unix_seq;
    long long int now = time_msec();
    struct ofsrv_conn *c;
    char *name;

    name = peer_name__(sa, l->tls);
    if (name) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    } else {
        name = xasprintf("unix#%u", unix_seq++);
    }

    c = xzalloc(sizeof *c);
    c->srv = srv;
    c->peer = (sa->sa_family == AF_INET || sa->sa_family == AF_INET6
               ? netaddr_format_host(sa) : xstrdup("unix"));
    c->bev = (l->tls ? tls_bufferevent_new(srv->tls, base, fd, true)
              : bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE));
    if (!c->bev) {
        VLOG_WARN_RL(&rl, "%s: cannot set up the connection", name);
        evutil_closesocket(fd);
        free(name);
        free(c->peer);
        free(c);
        return;
    }
    c->timer = evtimer_new(base, timer_cb__, c);
    c->resume = event_new(base, -1, 0, timer_cb__, c);
    c->ofconn = ofconn_create(name, &srv->settings.conn, &ofsrv_ofconn_hooks,
                              c, now);
    ofconn_set_tx_wakeup(c->ofconn, tx_wakeup_cb__, c);
    ovs_list_push_back(&srv->conns, &c->list_node);
    VLOG_INFO("%s: accepted on %s", name, l->name);
    free(name);

    bufferevent_setcb(c->bev, read_cb__, write_cb__, event_cb__, c);
    bufferevent_setwatermark(c->bev, EV_WRITE, OFSRV_TX_LOW_WATER, 0);
    bufferevent_setwatermark(c->bev, EV_READ, 0,
                             srv->settings.rx_high_water);
    bufferevent_setwatermark(c->bev, EV_WRITE, srv->settings.tx_low_water,
                             0);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    conn_work__(c);
}

static void
accept_error_cb__(struct evconnlistener *evl OVS_UNUSED, void *l_)
{
    struct ofsrv_listener *l = l_;

    VLOG_WARN_RL(&rl, "%s: accept failed (%s)", l->name,
                 ovs_strerror(EVUTIL_SOCKET_ERROR()));
}

/* Makes 'srv' accept "pssl:" listeners, whose connections run TLS with
 * 'tls' (which must outlive 'srv').  Switches then present a certificate
 * signed by the CA of 'tls' (tls.h). */
void
ofsrv_set_tls(struct ofsrv *srv, struct tls_ctx *tls)
{
    srv->tls = tls;
}

/* Starts listening on 'target': "ptcp:PORT[:IP]", "pssl:PORT[:IP]" (TLS,
 * after ofsrv_set_tls()) or "punix:PATH".  Port 0 picks a free port.  On success returns 0 and, if 'boundp' is nonnull,
 * stores the name actually bound (with the real port) in '*boundp', to be
 * freed by the caller.  On failure returns an errno value and a message in
 * '*errorp', to be freed. */
int
ofsrv_listen(struct ofsrv *srv, const char *target, char **boundp,
             char **errorp)
{
    struct sockaddr_storage ss;
    struct ofsrv_listener *l;
    struct evconnlistener *evl;
    socklen_t len;
    char *unix_path = NULL;
    bool tls = !strncmp(target, "pssl:", 5);
    char *name;
    int error;

    *errorp = NULL;
    if (!strncmp(target, "ptcp:", 5) || tls) {
        if (tls && !srv->tls) {
            *errorp = xasprintf("%s: TLS needs --private-key, --certificate "
                                "and --ca-cert", target);
            return EINVAL;
        }
        error = netaddr_parse_ptcp(target + 5, &ss, &len);
        if (error) {
            *errorp = xasprintf("%s: bad address (expected %s:PORT[:IP])",
                                target, tls ? "pssl" : "ptcp");
            return error;
        }
    } else if (!strncmp(target, "punix:", 6)) {
        struct sockaddr_un *sun = (struct sockaddr_un *) &ss;
        const char *path = target + 6;

        if (!*path || strlen(path) >= sizeof sun->sun_path) {
            *errorp = xasprintf("%s: bad socket path", target);
            return EINVAL;
        }
        memset(&ss, 0, sizeof ss);
        sun->sun_family = AF_UNIX;
        strcpy(sun->sun_path, path);
        len = sizeof *sun;
        unlink(path);
        unix_path = xstrdup(path);
    } else {
        *errorp = xasprintf("%s: unknown listener type (expected "
                            "ptcp:PORT[:IP], pssl:PORT[:IP] or punix:PATH)",
                            target);
        return EAFNOSUPPORT;
    }

    l = xzalloc(sizeof *l);
    evl = evconnlistener_new_bind(srv->base, accept_cb__, l,
                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE
                                  | LEV_OPT_CLOSE_ON_EXEC, -1,
                                  (struct sockaddr *) &ss, len);
    if (!evl) {
        error = errno ? errno : EADDRINUSE;
        *errorp = xasprintf("%s: cannot listen (%s)", target,
                            ovs_strerror(error));
        free(unix_path);
        free(l);
        return error;
    }

    if (unix_path) {
        name = xasprintf("punix:%s", unix_path);
    } else {
        char host[INET6_ADDRSTRLEN];
        uint16_t port;

        len = sizeof ss;
        getsockname(evconnlistener_get_fd(evl), (struct sockaddr *) &ss,
                    &len);
        if (ss.ss_family == AF_INET6) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) &ss;
            inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
            port = ntohs(sin6->sin6_port);
            name = xasprintf("%s:%"PRIu16":[%s]", tls ? "pssl" : "ptcp",
                             port, host);
        } else {
            struct sockaddr_in *sin = (struct sockaddr_in *) &ss;
            inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
            port = ntohs(sin->sin_port);
            name = xasprintf("%s:%"PRIu16":%s", tls ? "pssl" : "ptcp",
                             port, host);
        }
    }

    l->srv = srv;
    l->evl = evl;
    l->name = name;
    l->unix_path = unix_path;
    l->tls = tls;
    evconnlistener_set_error_cb(evl, accept_error_cb__);
    ovs_list_push_back(&srv->listeners, &l->list_node);
    VLOG_INFO("listening on %s", name);
    if (boundp) {
        *boundp = xstrdup(name);
    }
    return 0;
}

/* Stores in '*connsp' an array of the connections of 'srv', valid until the
 * next call or until the event loop runs, and returns its length. */
size_t
ofsrv_get_conns(const struct ofsrv *srv_, const struct ofconn ***connsp)
{
    struct ofsrv *srv = CONST_CAST(struct ofsrv *, srv_);
    size_t n = ovs_list_size(&srv->conns), i = 0;
    struct ofsrv_conn *c;

    srv->conn_array = xrealloc(srv->conn_array,
                               MAX(n, 1) * sizeof *srv->conn_array);
    LIST_FOR_EACH (c, list_node, &srv->conns) {
        srv->conn_array[i++] = c->ofconn;
    }
    *connsp = srv->conn_array;
    return n;
}

/* Returns the bytes waiting to be written to the switch of 'ofconn'. */
size_t
ofsrv_tx_backlog(const struct ofsrv *srv, const struct ofconn *ofconn)
{
    const struct ofsrv_conn *c;

    LIST_FOR_EACH (c, list_node, &srv->conns) {
        if (c->ofconn == ofconn) {
            return evbuffer_get_length(bufferevent_get_output(c->bev));
        }
    }
    return 0;
}
