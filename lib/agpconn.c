/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "agpconn.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agentproto.h"
#include "bevflush.h"
#include "connlimit.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "tls.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agpconn);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* A flood of connections is logged apart from protocol errors, so that each
 * shows in the log. */
static struct vlog_rate_limit limit_rl = VLOG_RATE_LIMIT_INIT(5, 20);
static struct vlog_rate_limit timeout_rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Messages handled per connection and loop turn. */
#define AGPCONN_BATCH 64

/* The connections accepted on one listener.  A connection leaves its pool
 * when it starts closing. */
struct agpconn_pool {
    char *name;                 /* The listener, for logs. */
    struct connlimit limits;    /* As given. */
    struct ovs_list pending;    /* Pending "struct agpconn"s, oldest first. */
    struct ovs_list authenticated; /* The other "struct agpconn"s. */
    size_t n_pending;           /* Connections in 'pending'. */
    size_t n_conns;             /* Connections in both lists. */
};

struct agpconn {
    char *name;                 /* Peer, for logs. */
    struct bufferevent *bev;    /* The socket. */
    struct event *deferred;     /* Continues input, or closes. */
    struct agpconn_cbs cbs;     /* Owner's callbacks. */
    void *aux;                  /* Passed to 'cbs'. */
    char *close_reason;         /* Set once closing. */
    bool connecting;            /* agpconn_connect() not complete yet. */
    bool tls;                   /* Runs TLS. */
    struct event *linger;       /* Ends a TLS close that does not drain. */

    /* Limits, for accepted connections. */
    struct agpconn_pool *pool;  /* Pool, or NULL if none or closing. */
    struct ovs_list pool_node;  /* In a list of 'pool'. */
    bool limited;               /* Accepted in a pool: 'limits' apply. */
    struct connlimit limits;    /* The pool's limits, if 'limited'. */
    bool authenticated;         /* Set by agpconn_set_authenticated(). */
    struct event *handshake;    /* Closes it while pending, or NULL. */
};

/* How long a closing TLS connection waits for its output to drain. */
#define AGPCONN_LINGER_MS 1000

static void process__(struct agpconn *);

/* Ends closing 'c': the owner's 'closed' callback, then the free. */
static void
finish_close__(struct agpconn *c)
{
    c->cbs.closed(c, c->close_reason, c->aux);
    agpconn_destroy(c);
}

static void
linger_done_cb__(struct bufferevent *bev OVS_UNUSED, void *c)
{
    finish_close__(c);
}

static void
linger_event_cb__(struct bufferevent *bev OVS_UNUSED, short what OVS_UNUSED,
                  void *c)
{
    finish_close__(c);
}

static void
linger_timeout_cb__(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
                    void *c)
{
    finish_close__(c);
}

static void
deferred_cb__(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
              void *c_)
{
    struct agpconn *c = c_;

    if (!c->close_reason) {
        process__(c);
    } else if (!c->tls) {
        /* What was queued before the close (a refusal's reason) goes out
         * first: freeing the bufferevent would drop it. */
        bevflush_now(c->bev);
        finish_close__(c);
    } else if (evbuffer_get_length(bufferevent_get_output(c->bev))
               && !c->linger) {
        /* Only OpenSSL may write TLS records: wait until it has sent what
         * is queued, or for AGPCONN_LINGER_MS. */
        struct timeval tv = { 0, AGPCONN_LINGER_MS * 1000 };

        c->linger = evtimer_new(bufferevent_get_base(c->bev),
                                linger_timeout_cb__, c);
        evtimer_add(c->linger, &tv);
        bufferevent_setcb(c->bev, NULL, linger_done_cb__, linger_event_cb__,
                          c);
        bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
        bufferevent_enable(c->bev, EV_WRITE);
    } else if (!c->linger) {
        finish_close__(c);
    }
}

/* Takes 'c' out of its pool, if it is in one. */
static void
pool_remove__(struct agpconn *c)
{
    if (c->pool) {
        if (!c->authenticated) {
            c->pool->n_pending--;
        }
        c->pool->n_conns--;
        ovs_list_remove(&c->pool_node);
        c->pool = NULL;
    }
    if (c->handshake) {
        event_del(c->handshake);
    }
}

/* Closes 'c' for 'reason' on the next loop turn; the 'closed' callback
 * follows.  Closing twice keeps the first reason. */
void
agpconn_close(struct agpconn *c, const char *reason)
{
    if (!c->close_reason) {
        c->close_reason = xstrdup(reason);
        bufferevent_disable(c->bev, EV_READ);
        pool_remove__(c);
        event_active(c->deferred, 0, 0);
    }
}

/* Handles up to a batch of complete frames from the input. */
static void
process__(struct agpconn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);

    for (int n = 0; !c->close_reason; n++) {
        size_t avail = evbuffer_get_length(in), len;
        enum agp_frame_status status;
        struct agp_msg msg;
        enum agp_error error;

        status = agp_frame_check(evbuffer_pullup(in, MIN(avail,
                                                         AGP_HEADER_LEN)),
                                 avail, &len);
        if (len && c->limited
            && !connlimit_frame_ok(&c->limits, c->authenticated, len)) {
            char *reason = xasprintf("protocol error: a frame of %"PRIuSIZE
                                     " bytes%s (at most %"PRIuSIZE")", len,
                                     (c->authenticated ? ""
                                      : " before authentication"),
                                     connlimit_max_input(&c->limits,
                                                         c->authenticated));
            VLOG_WARN_RL(&rl, "%s: %s", c->name, reason);
            agpconn_close(c, reason);
            free(reason);
            return;
        }
        if (status == AGP_FRAME_NEED_MORE) {
            return;
        } else if (status != AGP_FRAME_COMPLETE) {
            char *reason = xasprintf("protocol error: %s",
                                     agp_frame_status_name(status));
            VLOG_WARN_RL(&rl, "%s: %s", c->name, reason);
            agpconn_close(c, reason);
            free(reason);
            return;
        }
        if (n >= AGPCONN_BATCH) {
            event_active(c->deferred, 0, 0);
            return;
        }

        error = agp_decode(evbuffer_pullup(in, len), len, &msg);
        if (error) {
            char *reason = xasprintf("bad message: %s",
                                     agp_error_name(error));
            VLOG_WARN_RL(&rl, "%s: %s", c->name, reason);
            agpconn_close(c, reason);
            free(reason);
            return;
        }
        c->cbs.msg(c, &msg, c->aux);
        agp_msg_uninit(&msg);
        evbuffer_drain(in, len);
    }
}

static void
read_cb__(struct bufferevent *bev OVS_UNUSED, void *c)
{
    process__(c);
}

static void
event_cb__(struct bufferevent *bev OVS_UNUSED, short what, void *c_)
{
    struct agpconn *c = c_;

    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;

        c->connecting = false;
        setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY,
                   &one, sizeof one);
        if (c->cbs.connected) {
            c->cbs.connected(c, c->aux);
        }
    } else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        struct ds reason = DS_EMPTY_INITIALIZER;

        if (what & BEV_EVENT_ERROR) {
            ds_put_format(&reason, "%s (", (c->connecting
                                            ? "connection failed"
                                            : "connection error"));
            if (c->tls && EVUTIL_SOCKET_ERROR() == 0) {
                tls_format_error(c->bev, &reason);
            } else {
                ds_put_cstr(&reason, ovs_strerror(EVUTIL_SOCKET_ERROR()));
            }
            ds_put_char(&reason, ')');
            if (c->tls) {
                VLOG_WARN_RL(&rl, "%s: %s", c->name, ds_cstr(&reason));
            }
        } else {
            ds_put_cstr(&reason, "connection closed by peer");
        }
        agpconn_close(c, ds_cstr(&reason));
        ds_destroy(&reason);
    }
}

static void
handshake_cb__(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
               void *c_)
{
    struct agpconn *c = c_;
    char *reason;

    if (c->authenticated || c->close_reason) {
        return;
    }
    reason = xasprintf("handshake timed out after %d ms",
                       c->limits.handshake_ms);
    VLOG_WARN_RL(&timeout_rl, "%s: %s", c->name, reason);
    agpconn_close(c, reason);
    free(reason);
}

static struct agpconn *
create__(struct event_base *base, struct bufferevent *bev, const char *name,
         const struct agpconn_cbs *cbs, void *aux)
{
    struct agpconn *c = xzalloc(sizeof *c);

    c->name = xstrdup(name);
    c->bev = bev;
    c->cbs = *cbs;
    c->aux = aux;
    c->authenticated = true;
    c->deferred = event_new(base, -1, 0, deferred_cb__, c);
    bufferevent_setcb(bev, read_cb__, NULL, event_cb__, c);
    bufferevent_setwatermark(bev, EV_READ, 0, AGP_MAX_LEN);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return c;
}

/* Creates a pool for the connections of listener 'name' (for logs), under
 * 'limits'. */
struct agpconn_pool *
agpconn_pool_create(const char *name, const struct connlimit *limits)
{
    struct agpconn_pool *pool = xzalloc(sizeof *pool);

    pool->name = xstrdup(name);
    pool->limits = *limits;
    ovs_list_init(&pool->pending);
    ovs_list_init(&pool->authenticated);
    return pool;
}

/* Frees 'pool'.  Its connections stay open, in no pool; the owner destroys
 * them.  Accepts NULL. */
void
agpconn_pool_destroy(struct agpconn_pool *pool)
{
    struct agpconn *c;

    if (!pool) {
        return;
    }
    LIST_FOR_EACH_POP (c, pool_node, &pool->pending) {
        c->pool = NULL;
    }
    LIST_FOR_EACH_POP (c, pool_node, &pool->authenticated) {
        c->pool = NULL;
    }
    free(pool->name);
    free(pool);
}

/* Makes room in 'pool' for connection 'name', if its limits allow: returns
 * false if it must be refused. */
static bool
pool_admit__(struct agpconn_pool *pool, const char *name)
{
    enum connlimit_verdict verdict = connlimit_admit(&pool->limits,
                                                     pool->n_pending,
                                                     pool->n_conns);

    if (verdict == CONNLIMIT_EVICT) {
        struct agpconn *oldest = CONTAINER_OF(ovs_list_front(&pool->pending),
                                              struct agpconn, pool_node);

        VLOG_WARN_RL(&limit_rl, "%s: %"PRIuSIZE" connections, %"PRIuSIZE
                     " of them not authenticated: too many connections "
                     "waiting to authenticate, closing the oldest of these, "
                     "%s", pool->name, pool->n_conns, pool->n_pending,
                     oldest->name);
        agpconn_close(oldest, "too many connections waiting to "
                      "authenticate");
    } else if (verdict == CONNLIMIT_REFUSE) {
        VLOG_WARN_RL(&limit_rl, "%s: %s refused: %"PRIuSIZE" connections "
                     "already",
                     pool->name, name, pool->n_conns);
        return false;
    }
    return true;
}

/* Takes over the accepted socket 'fd' of peer 'name', running TLS on it if
 * 'tls' is nonnull.  With a 'pool', the connection is pending until
 * agpconn_set_authenticated(); if the pool is full of authenticated
 * connections, closes 'fd' and returns NULL. */
struct agpconn *
agpconn_accept(struct event_base *base, int fd, const char *name,
               struct agpconn_pool *pool, struct tls_ctx *tls,
               const struct agpconn_cbs *cbs, void *aux)
{
    struct bufferevent *bev;
    struct agpconn *c;
    int one = 1;

    if (pool && !pool_admit__(pool, name)) {
        close(fd);
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    bev = (tls ? tls_bufferevent_new(tls, base, fd, true)
           : bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE));
    if (!bev) {
        VLOG_WARN_RL(&rl, "%s: cannot set up the connection", name);
        close(fd);
        return NULL;
    }
    c = create__(base, bev, name, cbs, aux);
    c->tls = tls != NULL;
    if (pool) {
        struct timeval tv = {
            .tv_sec = pool->limits.handshake_ms / 1000,
            .tv_usec = pool->limits.handshake_ms % 1000 * 1000,
        };

        c->pool = pool;
        c->limited = true;
        c->limits = pool->limits;
        c->authenticated = false;
        ovs_list_push_back(&pool->pending, &c->pool_node);
        pool->n_pending++;
        pool->n_conns++;
        bufferevent_setwatermark(c->bev, EV_READ, 0,
                                 connlimit_max_input(&c->limits, false));
        c->handshake = evtimer_new(base, handshake_cb__, c);
        evtimer_add(c->handshake, &tv);
    }
    return c;
}

/* Returns a socket bound to 'sa', or -1 with errno set. */
static int
bound_socket__(const struct sockaddr *sa, socklen_t len)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);

    if (fd >= 0 && bind(fd, sa, len)) {
        int error = errno;

        close(fd);
        errno = error;
        return -1;
    }
    return fd;
}

/* Starts connecting to 't->remote'; 'connected' or 'closed' follows. */
struct agpconn *
agpconn_connect(struct event_base *base, const struct agpconn_target *t,
                const char *name, const struct agpconn_cbs *cbs, void *aux)
{
    int fd = -1, error = 0;
    struct bufferevent *bev;
    struct agpconn *c;

    if (t->tls) {
        bev = tls_bufferevent_new(t->tls, base, -1, false);
    } else {
        if (t->local) {
            fd = bound_socket__(t->local, t->local_len);
            error = fd < 0 ? errno : 0;
        }
        bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    }
    c = create__(base, bev, name, cbs, aux);
    c->tls = t->tls != NULL;
    c->connecting = true;
    if (error) {
        char *reason = xasprintf("connection failed (cannot bind the local "
                                 "address: %s)", ovs_strerror(error));

        agpconn_close(c, reason);
        free(reason);
    } else if (bufferevent_socket_connect(
                   bev, CONST_CAST(struct sockaddr *, t->remote),
                   t->remote_len)) {
        agpconn_close(c, "connection failed");
    }
    return c;
}

/* Encodes and sends 'msg'. */
void
agpconn_send(struct agpconn *c, const struct agp_msg *msg)
{
    struct ofpbuf buf;
    enum agp_error error;

    ofpbuf_init(&buf, 256);
    error = agp_encode(msg, &buf);
    if (error) {
        VLOG_ERR_RL(&rl, "%s: cannot encode %s: %s", c->name,
                    agp_type_name(msg->type), agp_error_name(error));
    } else {
        agpconn_send_buf(c, &buf);
    }
    ofpbuf_uninit(&buf);
}

/* Sends the frames already encoded in 'buf'. */
void
agpconn_send_buf(struct agpconn *c, const struct ofpbuf *buf)
{
    if (!c->close_reason) {
        struct evbuffer *out = bufferevent_get_output(c->bev);

        bufferevent_write(c->bev, buf->data, buf->size);
        if (c->limited
            && !connlimit_backlog_ok(&c->limits, evbuffer_get_length(out))) {
            char *reason = xasprintf("the peer does not read: %"PRIuSIZE
                                     " bytes wait to be sent to it",
                                     evbuffer_get_length(out));

            VLOG_WARN_RL(&limit_rl, "%s: %s", c->name, reason);
            agpconn_close(c, reason);
            free(reason);
        }
    }
}

/* Returns true if input from the peer waits to be read, in our buffer or
 * still in the socket: a peer whose messages we have not read yet is not
 * silent. */
bool
agpconn_has_input(const struct agpconn *c)
{
    char byte;

    return (evbuffer_get_length(bufferevent_get_input(c->bev))
            || recv(bufferevent_getfd(c->bev), &byte, 1,
                    MSG_PEEK | MSG_DONTWAIT) > 0);
}

const char *
agpconn_name(const struct agpconn *c)
{
    return c->name;
}

/* Returns true if 'c' runs TLS. */
bool
agpconn_is_tls(const struct agpconn *c)
{
    return c->tls;
}

/* Adds to 'names' the names that the certificate of the peer of 'c' bears
 * (tls_peer_names()) and returns true, or returns false if 'c' does not
 * run TLS or its handshake is not complete. */
bool
agpconn_peer_names(const struct agpconn *c, struct sset *names)
{
    return c->tls && tls_peer_names(c->bev, names);
}

void
agpconn_set_aux(struct agpconn *c, void *aux)
{
    c->aux = aux;
}

/* Marks 'c' authenticated: the peer showed it speaks the protocol (its
 * first valid message).  From now on it has no handshake timeout and may
 * send frames of any length. */
void
agpconn_set_authenticated(struct agpconn *c)
{
    if (c->authenticated) {
        return;
    }
    c->authenticated = true;
    if (c->handshake) {
        event_del(c->handshake);
    }
    if (c->pool) {
        c->pool->n_pending--;
        ovs_list_remove(&c->pool_node);
        ovs_list_push_back(&c->pool->authenticated, &c->pool_node);
    }
    bufferevent_setwatermark(c->bev, EV_READ, 0,
                             connlimit_max_input(&c->limits, true));
}

/* Frees 'c' at once, without the 'closed' callback (for shutdown).
 * Accepts NULL. */
void
agpconn_destroy(struct agpconn *c)
{
    if (c) {
        pool_remove__(c);
        if (c->handshake) {
            event_free(c->handshake);
        }
        if (c->linger) {
            event_free(c->linger);
        }
        event_free(c->deferred);
        bufferevent_free(c->bev);
        free(c->close_reason);
        free(c->name);
        free(c);
    }
}
