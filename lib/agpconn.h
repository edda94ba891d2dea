/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef AGPCONN_H
#define AGPCONN_H 1

/* A connection that carries agent-protocol frames (agentproto.h) over TCP,
 * on a libevent base: the agent channel on both of its ends, and state
 * replication between agents.
 *
 * Frames are found with agp_frame_check() and decoded with agp_decode();
 * the owner sees decoded messages.  A corrupt stream or an undecodable
 * message closes the connection with a logged reason: the peer is not
 * speaking the protocol, and nothing after it can be trusted.  At most a
 * bounded number of messages is handled per loop turn.  Closing always
 * happens on a later loop turn, so the owner may close from inside its own
 * callbacks; the 'closed' callback is the last one and the object is freed
 * right after it.
 *
 * A connection holds at most one frame of input: reading stops while a
 * whole frame of the longest length waits to be handled (TCP then pushes
 * back on the peer).
 *
 * Connections accepted on a listener belong to its pool, which applies the
 * listener's limits (connlimit.h): a connection is pending until the owner
 * calls agpconn_set_authenticated() (after the peer's first valid message,
 * say), and until then it is closed after the handshake timeout and may
 * only hold a short frame; a new connection on a full pool closes the
 * oldest pending one, or is refused if none is pending.  Connections made
 * with agpconn_connect() belong to no pool and start authenticated. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct agp_msg;
struct agpconn;
struct agpconn_pool;
struct connlimit;
struct event_base;
struct ofpbuf;
struct sset;
struct tls_ctx;

struct agpconn_cbs {
    /* A connection made with agpconn_connect() is up.  May be NULL. */
    void (*connected)(struct agpconn *, void *aux);

    /* A message arrived.  Pointers in 'msg' are valid during the call. */
    void (*msg)(struct agpconn *, const struct agp_msg *, void *aux);

    /* The connection closed for 'reason'; it is freed after this returns. */
    void (*closed)(struct agpconn *, const char *reason, void *aux);
};

/* Default limits of the agent protocol's listeners. */
#define AGPCONN_HANDSHAKE_MS 5000   /* Longest wait for the first message. */
#define AGPCONN_PENDING_FRAME 4096  /* Longest frame before it. */
#define AGPCONN_MAX_BACKLOG (4 * 1024 * 1024) /* Most bytes queued to a
                                               * peer that does not read. */

struct agpconn_pool *agpconn_pool_create(const char *name,
                                         const struct connlimit *);
void agpconn_pool_destroy(struct agpconn_pool *);

/* Where agpconn_connect() connects, and how. */
struct agpconn_target {
    const struct sockaddr *remote; /* The peer. */
    socklen_t remote_len;
    const struct sockaddr *local; /* Bound first (port 0 picks one), or
                                   * NULL; not with TLS. */
    socklen_t local_len;
    struct tls_ctx *tls;        /* TLS, or NULL. */
};

struct agpconn *agpconn_accept(struct event_base *, int fd, const char *name,
                               struct agpconn_pool *, struct tls_ctx *,
                               const struct agpconn_cbs *, void *aux);
struct agpconn *agpconn_connect(struct event_base *,
                                const struct agpconn_target *,
                                const char *name,
                                const struct agpconn_cbs *, void *aux);

void agpconn_send(struct agpconn *, const struct agp_msg *);
void agpconn_send_buf(struct agpconn *, const struct ofpbuf *);
bool agpconn_has_input(const struct agpconn *);
const char *agpconn_name(const struct agpconn *);
bool agpconn_is_tls(const struct agpconn *);
bool agpconn_peer_names(const struct agpconn *, struct sset *);
void agpconn_set_aux(struct agpconn *, void *aux);
void agpconn_set_authenticated(struct agpconn *);

void agpconn_close(struct agpconn *, const char *reason);
void agpconn_destroy(struct agpconn *);

#endif /* agpconn.h */
