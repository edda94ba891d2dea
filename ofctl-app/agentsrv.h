/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef AGENTSRV_H
#define AGENTSRV_H 1

/* The controller's end of the agent channel.
 *
 * Each service instance's agent connects, says hello (its instance name,
 * service and replication address), receives its service's map (again on
 * every new epoch) and sends heartbeats.  A channel that closes is an agent
 * crash; heartbeats missing for longer than the timeout (default 3 x 100
 * ms) are a hang.  Either way the instance is failed over at once: the
 * steering policy sets its port down with a port_mod, so every fast-failover
 * group watching it switches in one message, and repairs the map.  The
 * agent's warm report lets an instance that came back cold be a primary
 * candidate again. */

#include <stdbool.h>

struct ctlstate;
struct ds;
struct event_base;
struct steer;
struct agsrv;
struct tls_ctx;

struct agsrv *agsrv_create(struct event_base *, struct steer *,
                           int heartbeat_timeout_ms);
void agsrv_destroy(struct agsrv *);
void agsrv_set_tls(struct agsrv *, struct tls_ctx *);
int agsrv_listen(struct agsrv *, const char *target, char **errorp);
bool agsrv_take_channel(struct agsrv *, int fd, const char *host,
                        const char *name);
void agsrv_run(struct agsrv *, long long int now);
void agsrv_set_ready(struct agsrv *, long long int now);
void agsrv_format(const struct agsrv *, long long int now, struct ds *);
char *agsrv_check_drain(const struct agsrv *, const char *instance);
void agsrv_save_state(const struct agsrv *, struct ctlstate *);
void agsrv_restore_state(struct agsrv *, const struct ctlstate *);
void agsrv_set_clock(struct agsrv *, long long int (*clock)(void));
void agsrv_set_standby(struct agsrv *, const char *why, long long int now);

#endif /* agentsrv.h */
