/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef HOSTDBS_H
#define HOSTDBS_H 1

/* The switch databases the controller writes BFD settings into: the one
 * of --ovsdb, and one per host that the configuration gives a database
 * ("hosts: NAME: {ovsdb: ...}").  Which interface's settings go to which
 * database follows from the configuration:
 *
 *   - an instance interface, to the database of its switch's host, or to
 *     --ovsdb's if that host has none;
 *
 *   - a tunnel, the end of a link between switches of two different
 *     hosts, to the database of its end's host (only there: --ovsdb is the
 *     database of one host, which holds no tunnel of its own to name), with
 *     the tunnel intervals (bfd: tunnel_min_tx_ms, tunnel_min_rx_ms).
 *
 * Each database is a vswdb (vswdb.h); the caller runs them every
 * VSWDB_RUN_MS. */

#include <stdbool.h>

struct ds;
struct hostdbs;
struct sfm_config;

struct hostdbs *hostdbs_create(const char *ovsdb);
void hostdbs_destroy(struct hostdbs *);

void hostdbs_configure(struct hostdbs *, const struct sfm_config *);
bool hostdbs_any(const struct hostdbs *);
bool hostdbs_run(struct hostdbs *);

const char *hostdbs_bfd_state(const struct hostdbs *, const char *iface);
bool hostdbs_bfd_ready(const struct hostdbs *, int host, const char *iface);
void hostdbs_format(const struct hostdbs *, struct ds *);
void hostdbs_format_tunnels(const struct hostdbs *, const struct sfm_config *,
                            struct ds *);

#endif /* hostdbs.h */
