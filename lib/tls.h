/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef TLS_H
#define TLS_H 1

/* TLS for sfmesh's channels, with OpenSSL on libevent's OpenSSL
 * bufferevents.
 *
 * A daemon has one context, made from the files the OVS daemons take:
 * its private key and certificate, and the certificate of the CA that
 * signs its peers' certificates.  Every connection is mutual: each side
 * presents a certificate, and a peer without one signed by that CA is
 * refused in the handshake.  TLS 1.2 at least.
 *
 * As with OVS's own options, the peer CA certificate, if given, is sent
 * with the daemon's certificate, so that a switch configured with
 * --bootstrap-ca-cert can learn the controller's CA on its first
 * connection.
 *
 * A certificate names its holder: tls_peer_names() gives the names it
 * bears, for the owner to check against who the peer says it is (an
 * agent's instance name, say). */

#include <stdbool.h>
#include "openvswitch/compiler.h"

struct bufferevent;
struct ds;
struct sset;
struct event_base;
struct tls_ctx;

struct tls_options {
    const char *private_key;    /* PEM file: this daemon's private key. */
    const char *certificate;    /* PEM file: its certificate. */
    const char *ca_cert;        /* PEM file: the CA that signs the peers'
                                 * certificates. */
    const char *peer_ca_cert;   /* PEM file sent along, or NULL. */
};

bool tls_options_any(const struct tls_options *);
char *tls_ctx_create(const struct tls_options *, struct tls_ctx **)
    OVS_WARN_UNUSED_RESULT;
void tls_ctx_destroy(struct tls_ctx *);

struct bufferevent *tls_bufferevent_new(struct tls_ctx *, struct event_base *,
                                        int fd, bool accepting);
bool tls_is_tls(struct bufferevent *);
bool tls_peer_names(struct bufferevent *, struct sset *);
char *tls_peer_fingerprint(struct bufferevent *);
void tls_format_error(struct bufferevent *, struct ds *);

#endif /* tls.h */
