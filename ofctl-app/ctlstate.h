/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef CTLSTATE_H
#define CTLSTATE_H 1

/* What the controller keeps across its own restarts, in its state file.
 *
 * A restarted controller rebuilds most of what it knows from the switches
 * (ports, installed flows) and the agents (hellos, heartbeats), but two
 * facts are in neither place when it needs them:
 *
 *   - the newest map epoch of each service: agents ignore a map older than
 *     one they hold, so a controller must never issue an epoch below one it
 *     issued before (the agents' heartbeats tell it too, but only once they
 *     are back);
 *
 *   - which instances run an agent: an agent that died while the
 *     controller was down never says hello again, and without this list
 *     nothing would tell that its instance must be fenced.
 *
 * The file is a JSON object:
 *
 *     {"version": 1,
 *      "epochs": {"fw": 12, "dlp": 9},
 *      "agents": ["dlp-1", "dlp-2", "fw-1"]}
 *
 * This module encodes and decodes it (decoding validates every field: the
 * file may be damaged) and reads and writes the file; writing goes to a
 * temporary file renamed over the old one, so that a crash leaves either
 * the old contents or the new.
 *
 * With controllers in active/standby (ctldb.h), the state survives not one
 * controller's restart but the loss of the active one, and a standby takes
 * over with what the active had decided, exactly: then the state holds
 * also every service's map (its buckets' primary, secondary and next
 * instance, by name, and the epoch from which each holds) and every
 * instance's standing in the policy (its map state, whether it drains,
 * was ever live, is disabled, fenced or leaving).  The maps are state,
 * not a function of the configuration (svcmap.h): a standby that computed
 * its own would program other groups than those the switches hold.  The
 * state file does not carry them: a single controller recomputes its maps
 * on a restart, and its switches tell it the rest. */

#include <stdbool.h>
#include <stdint.h>
#include "openvswitch/compiler.h"
#include "openvswitch/shash.h"
#include "sset.h"
#include "svcmap.h"

/* One bucket of a saved map: its instances by name, each NULL for none. */
struct ctlstate_bucket {
    char *primary;
    char *secondary;
    char *next;
    uint64_t since;             /* The first epoch with this assignment. */
};

/* A saved map. */
struct ctlstate_map {
    size_t n_buckets;
    struct ctlstate_bucket *buckets;
};

/* A saved instance: its standing in the map and in the policy. */
struct ctlstate_inst {
    char *service;              /* Its service's name. */
    enum svcmap_state state;
    bool draining;
    bool seen_live;
    bool disabled;
    bool fenced;
    bool leaving;
};

struct ctlstate {
    struct shash epochs;        /* Service name -> "uint64_t", >= 1. */
    struct sset agents;         /* Instances whose agent was seen. */
    struct shash maps;          /* Service name -> "struct ctlstate_map";
                                 * empty from a state file. */
    struct shash insts;         /* Instance name -> "struct ctlstate_inst";
                                 * empty from a state file. */
};

void ctlstate_init(struct ctlstate *);
void ctlstate_destroy(struct ctlstate *);
void ctlstate_set_epoch(struct ctlstate *, const char *service,
                        uint64_t epoch);
uint64_t ctlstate_get_epoch(const struct ctlstate *, const char *service);
struct ctlstate_map *ctlstate_put_map(struct ctlstate *, const char *service,
                                      size_t n_buckets);
void ctlstate_bucket_set(struct ctlstate_bucket *, const char *primary,
                         const char *secondary, const char *next,
                         uint64_t since);
struct ctlstate_inst *ctlstate_put_inst(struct ctlstate *, const char *name,
                                        const char *service);
bool ctlstate_map_equal(const struct ctlstate_map *,
                        const struct ctlstate_map *);
bool ctlstate_inst_equal(const struct ctlstate_inst *,
                         const struct ctlstate_inst *);
bool ctlstate_equal(const struct ctlstate *, const struct ctlstate *);

char *ctlstate_to_string(const struct ctlstate *);
char *ctlstate_from_string(const char *, struct ctlstate *)
    OVS_WARN_UNUSED_RESULT;

char *ctlstate_read(const char *file_name, struct ctlstate *)
    OVS_WARN_UNUSED_RESULT;
char *ctlstate_write(const char *file_name, const char *contents)
    OVS_WARN_UNUSED_RESULT;

#endif /* ctlstate.h */
