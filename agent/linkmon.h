/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef LINKMON_H
#define LINKMON_H 1

/* Carrier of one network interface, from the kernel's rtnetlink link
 * notifications (Linux only).
 *
 * sfmesh-agent watches the carrier of its instance interface: a link that
 * went down, however briefly, may have sent the instance's streams to
 * their secondaries, so the agent holds itself down (see agenthold.h).  A
 * flap can be shorter than the BFD detection time, so BFD alone would not
 * see it. */

#include <stdbool.h>

struct linkmon;

int linkmon_open(const char *iface, struct linkmon **, char **errorp);
void linkmon_close(struct linkmon *);
int linkmon_fd(const struct linkmon *);
bool linkmon_run(struct linkmon *, bool *lostp);
bool linkmon_carrier(const struct linkmon *);

#endif /* linkmon.h */
