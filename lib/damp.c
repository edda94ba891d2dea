/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "damp.h"

#include <limits.h>
#include "util.h"

/* Initializes 'd': no penalty, not damped. */
void
damp_init(struct damp *d)
{
    d->penalty = 0;
    d->since = 0;
    d->until = LLONG_MIN;
    d->n_flaps = 0;
}

/* Returns the penalty of 'd' under 'p' at 'now', in ms, with the decay
 * applied. */
unsigned int
damp_penalty(const struct damp *d, const struct damp_params *p,
             long long int now)
{
    unsigned long long int periods;
    unsigned int pen;

    if (!d->penalty || !p->decay_ms || now <= d->since) {
        return d->penalty;
    }
    /* The difference of two long long ints fits in 64 unsigned bits. */
    periods = ((unsigned long long int) now
               - (unsigned long long int) d->since) / p->decay_ms;
    pen = periods >= 32 ? 0 : d->penalty >> periods;
    return pen < p->base_ms ? 0 : pen;
}

/* Records a flap of 'd' at 'now': under 'p', the penalty grows and the
 * damping time starts. */
void
damp_flap(struct damp *d, const struct damp_params *p, long long int now)
{
    unsigned long long int pen = damp_penalty(d, p, now);

    d->n_flaps++;
    if (!p->base_ms) {
        return;
    }
    pen = pen ? MIN(2 * pen, MAX(p->max_ms, p->base_ms)) : p->base_ms;
    d->penalty = pen;
    d->since = now;
    d->until = now > LLONG_MAX - (long long int) pen ? LLONG_MAX : now + pen;
}

/* Returns true if 'd' is damped at 'now'. */
bool
damp_is_damped(const struct damp *d, long long int now)
{
    return now < d->until;
}

/* Returns how long 'd' stays damped after 'now', in ms, or 0. */
long long int
damp_remaining(const struct damp *d, long long int now)
{
    if (now >= d->until) {
        return 0;
    }
    /* 'until' > 'now': the difference is positive, and clamped. */
    return (now < 0 && d->until > LLONG_MAX + now
            ? LLONG_MAX : d->until - now);
}
