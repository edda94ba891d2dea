/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef DAMP_H
#define DAMP_H 1

/* Damping of something that flaps: a BFD session of the agent, a link
 * between switches in the controller.  This is the one home of the rule;
 * the caller says what a flap is (leaving Up other than on purpose) and
 * what being damped means (staying down).  With P the penalty in ms,
 * initially 0:
 *
 *   - at a flap at time t: P = base_ms if P is 0, else min(2 P, max_ms);
 *     the thing is damped until t + P;
 *   - P decays: for each full decay_ms without a flap, counted from the
 *     last flap or the last halving, P halves, and a P below base_ms
 *     becomes 0.
 *
 * So flaps closer than decay_ms apart are damped for base_ms, 2 base_ms,
 * 4 base_ms, ... up to max_ms each.  base_ms 0 turns damping off;
 * decay_ms 0 keeps the penalty forever.
 *
 * No clock: every call takes the time. */

#include <stdbool.h>

struct damp_params {
    unsigned int base_ms;       /* First damping time; 0: none. */
    unsigned int max_ms;        /* Longest damping time (at least
                                 * 'base_ms'). */
    unsigned int decay_ms;      /* Quiet time that halves the penalty; 0:
                                 * never. */
};

struct damp {
    unsigned int penalty;       /* The penalty at 'since', ms. */
    long long int since;        /* The last flap, or the time 'penalty' was
                                 * last decayed to. */
    long long int until;        /* End of the damping time. */
    unsigned long long int n_flaps; /* Flaps recorded. */
};

void damp_init(struct damp *);
void damp_flap(struct damp *, const struct damp_params *, long long int now);
unsigned int damp_penalty(const struct damp *, const struct damp_params *,
                          long long int now);
bool damp_is_damped(const struct damp *, long long int now);
long long int damp_remaining(const struct damp *, long long int now);

#endif /* damp.h */
