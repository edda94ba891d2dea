/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef CTLDB_H
#define CTLDB_H 1

/* The controllers' shared state in sfmesh's own database
 * (ofctl-app/sfmesh.ovsschema, normally a 3-member Raft cluster), through
 * libopenvswitch's ovsdb-idl, and the choice of the one active controller
 * among several by the database's lock CTLDB_LOCK, as ovn-northd chooses
 * its active instance.
 *
 * A controller is in one of three roles:
 *
 *   - STANDBY: it does not hold the lock.  It reads the state that the
 *     active controller writes (ctldb_read()) and follows it; it decides
 *     nothing.
 *
 *   - CLAIMING: it holds the lock and commits the claim, which raises the
 *     Global row's generation by one and names itself active.  The
 *     generation is the OpenFlow generation id of its role requests, so
 *     that every switch knows a newer primary from an older one.
 *
 *   - ACTIVE: the claim committed.  It decides, and writes what it decided
 *     (ctldb_put()), row by row where it differs from the database, one
 *     transaction at a time; every transaction asserts the lock, so that
 *     a controller that lost it writes nothing.
 *
 * Losing the lock while connected (another controller stole it) makes the
 * controller a standby at once.  Losing the connection keeps it active for
 * CTLDB_GRACE_MS more, time to reconnect to the cluster's new leader and
 * get the lock back (when the leader died, the lock died with it, and a
 * standby waits CTLDB_STANDBY_DELAY_MS after connecting before it asks, so
 * that the controller that held the lock gets it back); after that, it is
 * a standby.  A switch that says another controller of a newer generation
 * is its primary ends the active role at once (ctldb_stand_down()).
 *
 * Why that is safe: a switch has one primary, the one whose role request
 * carried the newest generation, and refuses the others' writes; and only
 * the holder of the lock can commit a newer generation (the claim verifies
 * the one it read), so generations rise with each takeover and never
 * repeat.  The grace only bounds how long a cut-off controller goes on
 * talking to its agents: it notices the database's silence within
 * 2 * CTLDB_PROBE_MS, and stands down CTLDB_GRACE_MS later, before a new
 * active controller, which gets the lock only once the database noticed
 * the old one's silence by its own probe, has given the agents
 * AGP_TAKEOVER_WAIT_MS to come over.
 *
 * The IDL assumes OVS's poll loop; like vswdb.h, this module never calls
 * its *_wait() functions: the caller calls ctldb_run() every CTLDB_RUN_MS
 * from a libevent timer, and the IDL's run functions read what is ready
 * without blocking.
 *
 * Time is passed in. */

#include <stdbool.h>
#include <stdint.h>

struct ctlstate;
struct ds;

#define CTLDB_LOCK "sfmesh_controller"
#define CTLDB_RUN_MS 20
#define CTLDB_PROBE_MS 1000         /* The IDL's probe of the database. */
#define CTLDB_GRACE_MS 2000         /* Active after the database is lost. */
#define CTLDB_STANDBY_DELAY_MS 1500 /* A standby's wait before it asks
                                     * for the lock, after connecting. */

enum ctldb_role {
    CTLDB_STANDBY,
    CTLDB_CLAIMING,
    CTLDB_ACTIVE
};

/* What ctldb_run() found. */
enum {
    CTLDB_ROLE_CHANGED = 1 << 0,    /* ctldb_get_role() says otherwise. */
    CTLDB_CONTENTS_CHANGED = 1 << 1 /* ctldb_read() may read otherwise. */
};

struct ctldb *ctldb_create(const char *remotes, const char *name,
                           long long int now);
void ctldb_destroy(struct ctldb *);

unsigned int ctldb_run(struct ctldb *, long long int now);
bool ctldb_stand_down(struct ctldb *, uint64_t generation, const char *why);

enum ctldb_role ctldb_get_role(const struct ctldb *);
const char *ctldb_role_name(enum ctldb_role);
uint64_t ctldb_get_generation(const struct ctldb *);
const char *ctldb_get_active(const struct ctldb *);
bool ctldb_has_contents(const struct ctldb *);

void ctldb_read(const struct ctldb *, struct ctlstate *);
void ctldb_put(struct ctldb *, struct ctlstate *);

void ctldb_format(const struct ctldb *, struct ds *);

#endif /* ctldb.h */
