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
#include "agentproto.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agpconn);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* Messages handled per connection and loop turn. */
#define AGPCONN_BATCH 64

struct agpconn {
    char *name;                 /* Peer, for logs. */
    struct bufferevent *bev;    /* The socket. */
    struct event *deferred;     /* Continues input, or closes. */
    struct agpconn_cbs cbs;     /* Owner's callbacks. */
    void *aux;                  /* Passed to 'cbs'. */
    char *close_reason;         /* Set once closing. */
    bool connecting;            /* agpconn_connect() not complete yet. */
};

static void process__(struct agpconn *);

static void
deferred_cb__(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED,
              void *c_)
{
    struct agpconn *c = c_;

    if (c->close_reason) {
        c->cbs.closed(c, c->close_reason, c->aux);
        agpconn_destroy(c);
    } else {
        process__(c);
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
        char *reason = ((what & BEV_EVENT_ERROR)
                        ? xasprintf("%s (%s)", c->connecting
                                    ? "connection failed"
                                    : "connection error",
                                    ovs_strerror(EVUTIL_SOCKET_ERROR()))
                        : xstrdup("connection closed by peer"));
        agpconn_close(c, reason);
        free(reason);
    }
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
    c->deferred = event_new(base, -1, 0, deferred_cb__, c);
    bufferevent_setcb(bev, read_cb__, NULL, event_cb__, c);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return c;
}

/* Takes over the accepted socket 'fd' of peer 'name'. */
struct agpconn *
agpconn_accept(struct event_base *base, int fd, const char *name,
               const struct agpconn_cbs *cbs, void *aux)
{
    int one = 1;

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return create__(base, bufferevent_socket_new(base, fd,
                                                 BEV_OPT_CLOSE_ON_FREE),
                    name, cbs, aux);
}

/* Starts connecting to 'sa'; 'connected' or 'closed' follows. */
struct agpconn *
agpconn_connect(struct event_base *base, const struct sockaddr *sa,
                socklen_t len, const char *name,
                const struct agpconn_cbs *cbs, void *aux)
{
    struct bufferevent *bev = bufferevent_socket_new(base, -1,
                                                     BEV_OPT_CLOSE_ON_FREE);
    struct agpconn *c = create__(base, bev, name, cbs, aux);

    c->connecting = true;
    if (bufferevent_socket_connect(bev, CONST_CAST(struct sockaddr *, sa),
                                   len)) {
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
        bufferevent_write(c->bev, buf->data, buf->size);
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

void
agpconn_set_aux(struct agpconn *c, void *aux)
{
    c->aux = aux;
}

/* Frees 'c' at once, without the 'closed' callback (for shutdown).
 * Accepts NULL. */
void
agpconn_destroy(struct agpconn *c)
{
    if (c) {
        event_free(c->deferred);
        bufferevent_free(c->bev);
        free(c->close_reason);
        free(c->name);
        free(c);
    }
}
