/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef SENTINEL_H
#define SENTINEL_H 1

/* The agent's sentinel: a small process that tells the switch the agent is
 * gone the moment it is.
 *
 * A killed agent stops answering BFD, and the switch notices only when its
 * detection time runs out (3 intervals).  A link that goes down is noticed
 * at once.  The sentinel closes that gap for every death of the agent
 * process (SIGKILL, a crash, an exit): the agent forks it at start, and
 * keeps handing it the BFD control packet that would announce the session
 * AdminDown (diag "Administratively Down") with the session's current
 * discriminators.  The sentinel holds only its end of a socket pair and a
 * packet socket on the instance interface, nothing else of the agent's:
 * when the agent dies, the kernel closes the agent's end, the sentinel
 * reads end-of-file, sends that packet, and exits.  OVS takes its session
 * Down on receipt (RFC 5880 6.8.6) and the fast-failover groups move the
 * instance's streams, as fast as for a link failure.
 *
 * It does nothing for a hung agent (the agent's end stays open: BFD's
 * detection time is the answer there), nor when the whole process group
 * is killed at once.  The packet is only ever sent on end-of-file, never
 * while the agent runs. */

#include <stddef.h>
#include <stdint.h>

struct sentinel;

struct sentinel *sentinel_start(const char *iface, char **errorp);
void sentinel_arm(struct sentinel *, const uint8_t *frame, size_t len);
void sentinel_destroy(struct sentinel *);

#endif /* sentinel.h */
