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
 * the old contents or the new. */

#include <stdint.h>
#include "openvswitch/compiler.h"
#include "openvswitch/shash.h"
#include "sset.h"

struct ctlstate {
    struct shash epochs;        /* Service name -> "uint64_t", >= 1. */
    struct sset agents;         /* Instances whose agent was seen. */
};

void ctlstate_init(struct ctlstate *);
void ctlstate_destroy(struct ctlstate *);
void ctlstate_set_epoch(struct ctlstate *, const char *service,
                        uint64_t epoch);
uint64_t ctlstate_get_epoch(const struct ctlstate *, const char *service);

char *ctlstate_to_string(const struct ctlstate *);
char *ctlstate_from_string(const char *, struct ctlstate *)
    OVS_WARN_UNUSED_RESULT;

char *ctlstate_read(const char *file_name, struct ctlstate *)
    OVS_WARN_UNUSED_RESULT;
char *ctlstate_write(const char *file_name, const char *contents)
    OVS_WARN_UNUSED_RESULT;

#endif /* ctlstate.h */
