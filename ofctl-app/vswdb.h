/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef VSWDB_H
#define VSWDB_H 1

/* The controller's client of the Open vSwitch database (ovsdb-server's
 * Open_vSwitch schema), through libopenvswitch's ovsdb-idl.
 *
 * Its one job: the interfaces that sfmesh owns (instance ports, tunnels)
 * carry in their "bfd" column the keys sfmesh wants, and their "bfd_status"
 * is read back for display, as are a tunnel's type and remote address.  The caller states the desired keys per interface name
 * with vswdb_set_bfd(); vswdb_run() writes every difference it finds in one
 * transaction, again whenever a row appears or someone else changes a key
 * sfmesh owns.  Keys sfmesh does not own are left as they are.
 *
 * The IDL assumes OVS's poll loop: its *_wait() functions register file
 * descriptors and timers that poll_block() then waits on.  sfmesh runs on
 * libevent, so it never calls those: the caller calls vswdb_run() from a
 * periodic timer (VSWDB_RUN_MS), and the IDL's run functions, which only
 * read what is ready and never block, do the rest.  Nothing accumulates in
 * OVS's poll loop, since nothing is registered with it. */

#include <stdbool.h>
#include <stddef.h>

struct ds;
struct smap;

/* How often the caller should call vswdb_run(), in ms: the latency of a
 * configuration change and of a status update. */
#define VSWDB_RUN_MS 20

struct vswdb *vswdb_create(const char *remote);
void vswdb_destroy(struct vswdb *);

void vswdb_set_bfd(struct vswdb *, const char *iface, const struct smap *);
void vswdb_forget(struct vswdb *, const char *iface);
bool vswdb_wants(const struct vswdb *, const char *iface);
bool vswdb_iface_tunnel(const struct vswdb *, const char *iface,
                        const char **type, const char **remote);

bool vswdb_run(struct vswdb *);

bool vswdb_is_connected(const struct vswdb *);
const char *vswdb_remote(const struct vswdb *);
const struct smap *vswdb_bfd_status(const struct vswdb *, const char *iface);
const char *vswdb_bfd_state(const struct vswdb *, const char *iface);
bool vswdb_bfd_ready(const struct vswdb *, const char *iface);
void vswdb_format(const struct vswdb *, struct ds *);

#endif /* vswdb.h */
