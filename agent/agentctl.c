/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include "agentctl.h"

#include <string.h>
#include "agentproto.h"
#include "netaddr.h"
#include "openvswitch/dynamic-string.h"
#include "util.h"

/* Returns a sentence fragment that says how an attempt ended. */
const char *
agentctl_event_text(enum agentctl_event event)
{
    switch (event) {
#define AGENTCTL_EVENT(ENUM, TEXT) case AGENTCTL_##ENUM: return TEXT;
    AGENTCTL_EVENTS
#undef AGENTCTL_EVENT
    case AGENTCTL_N_EVENTS:
    default:
        return "unknown";
    }
}

/* Parses 'spec', one target ("tcp:IP:PORT" or "ssl:IP:PORT"), into 't'.
 * Returns true if it is one. */
static bool
parse_target__(const char *spec, struct agentctl_target *t)
{
    memset(t, 0, sizeof *t);
    if (!strncmp(spec, "ssl:", 4)) {
        t->tls = true;
    } else if (strncmp(spec, "tcp:", 4)) {
        return false;
    }
    if (netaddr_parse_tcp(spec + 4, &t->ss, &t->len)) {
        return false;
    }
    t->spec = xstrdup(spec);
    t->name = xasprintf("controller %s", spec);
    return true;
}

/* Parses 'list', the argument of --controller: one target or several,
 * separated by commas, at most AGENTCTL_MAX_TARGETS, each "tcp:IP:PORT"
 * or "ssl:IP:PORT" (IP an IPv4 address or an [IPv6] one), no two the
 * same address.  On success initializes 'ctl' to try the first target
 * first and returns NULL; otherwise returns an error message, to be
 * freed, and leaves 'ctl' empty (agentctl_destroy() may be called on it
 * either way). */
char *
agentctl_parse(struct agentctl *ctl, const char *list)
{
    char *copy = xstrdup(list);
    char *error = NULL;
    size_t n_elems = 1;
    char *p, *elem;

    memset(ctl, 0, sizeof *ctl);
    ctl->backoff_ms = AGP_RECONNECT_MIN_MS;
    for (const char *c = list; *c; c++) {
        n_elems += *c == ',';
    }
    if (n_elems > AGENTCTL_MAX_TARGETS) {
        error = xasprintf("--controller: \"%s\" names %"PRIuSIZE" "
                          "controllers, more than %d", list, n_elems,
                          AGENTCTL_MAX_TARGETS);
        goto out;
    }

    p = copy;
    for (size_t i = 0; i < n_elems; i++) {
        struct agentctl_target *t = &ctl->targets[i];

        elem = p;
        p = strchr(p, ',');
        if (p) {
            *p++ = '\0';
        }
        if (!elem[0]) {
            error = (n_elems == 1
                     ? xstrdup("--controller: no controller given")
                     : xasprintf("--controller: \"%s\": controller %"
                                 PRIuSIZE" of %"PRIuSIZE" is empty", list,
                                 i + 1, n_elems));
            goto out;
        }
        if (!parse_target__(elem, t)) {
            error = xasprintf("--controller: \"%s\" is not tcp:IP:PORT or "
                              "ssl:IP:PORT", elem);
            goto out;
        }
        ctl->n_targets++;
        for (size_t j = 0; j < i; j++) {
            char *a = netaddr_format((struct sockaddr *) &t->ss);
            char *b = netaddr_format((struct sockaddr *)
                                     &ctl->targets[j].ss);
            bool same = !strcmp(a, b);

            free(a);
            free(b);
            if (same) {
                error = xasprintf("--controller: \"%s\" and \"%s\" are the "
                                  "same controller", ctl->targets[j].spec,
                                  elem);
                goto out;
            }
        }
    }

out:
    free(copy);
    if (error) {
        agentctl_destroy(ctl);
        memset(ctl, 0, sizeof *ctl);
    }
    return error;
}

/* Frees what 'ctl' holds. */
void
agentctl_destroy(struct agentctl *ctl)
{
    if (ctl) {
        for (size_t i = 0; i < ctl->n_targets; i++) {
            free(ctl->targets[i].spec);
            free(ctl->targets[i].name);
        }
        ctl->n_targets = 0;
    }
}

/* Returns true if any target of 'ctl' uses TLS. */
bool
agentctl_any_tls(const struct agentctl *ctl)
{
    for (size_t i = 0; i < ctl->n_targets; i++) {
        if (ctl->targets[i].tls) {
            return true;
        }
    }
    return false;
}

/* Returns true if every target of 'ctl' uses TLS. */
bool
agentctl_all_tls(const struct agentctl *ctl)
{
    for (size_t i = 0; i < ctl->n_targets; i++) {
        if (!ctl->targets[i].tls) {
            return false;
        }
    }
    return true;
}

/* Returns the target to connect to, or connected to now. */
const struct agentctl_target *
agentctl_current(const struct agentctl *ctl)
{
    return &ctl->targets[ctl->cur];
}

/* Returns how long, in ms, an attempt on the current target may wait to
 * be connected (if not 'connected') or, once connected, for the answer to
 * its hello, before it counts as failed: 0 for no limit, with a single
 * target. */
int
agentctl_timeout_ms(const struct agentctl *ctl, bool connected)
{
    if (ctl->n_targets < 2) {
        return 0;
    }
    return connected ? AGP_HELLO_TIMEOUT_MS : AGENTCTL_CONNECT_TIMEOUT_MS;
}

/* Returns true if the controller that accepted us, last heard from at
 * 'last_heard', has been silent too long at 'now' to be still the active
 * one: it answers every heartbeat (AGENT_HEARTBEAT_MS), so AGP_SILENCE_MS
 * without a word means it is stopped or cut off from us.  Never with a
 * single target, which the agent keeps whatever it does. */
bool
agentctl_is_silent(const struct agentctl *ctl, long long int last_heard,
                   long long int now)
{
    return (ctl->n_targets >= 2 && ctl->accepted
            && now - last_heard > AGP_SILENCE_MS);
}

/* Records that the current target accepted our hello at 'now': the agent
 * stays with it, and the next failure starts a new round with the
 * shortest backoff. */
void
agentctl_accepted(struct agentctl *ctl, long long int now)
{
    ctl->accepted = true;
    ctl->n_tried = 0;
    ctl->backoff_ms = AGP_RECONNECT_MIN_MS;
    ctl->since = now;
    ctl->n_accepted++;
}

/* Records that the attempt on the current target, or its accepted
 * channel, ended at 'now' as 'event', and moves to the next target.
 * Returns how long to wait, in ms, before connecting to it: 0 within a
 * round, the backoff once a whole round has failed (see agentctl.h). */
int
agentctl_failed(struct agentctl *ctl, enum agentctl_event event,
                long long int now)
{
    int delay = 0;

    ovs_assert(event < AGENTCTL_N_EVENTS);
    ctl->n_events[event]++;
    ctl->have_last = true;
    ctl->last = event;
    ctl->accepted = false;
    ctl->cur = (ctl->cur + 1) % ctl->n_targets;
    if (++ctl->n_tried >= ctl->n_targets) {
        delay = ctl->backoff_ms;
        ctl->backoff_ms = MIN(ctl->backoff_ms * 2, AGP_RECONNECT_MAX_MS);
        ctl->n_tried = 0;
    }
    ctl->since = now + delay;
    return delay;
}

/* Appends to 's' two lines: the first names the current controller,
 * whether it accepted us (and for how long, as of 'now'), and the
 * controllers known; the second counts the attempts. */
void
agentctl_format(const struct agentctl *ctl, long long int now,
                struct ds *s)
{
    ds_put_format(s, "controller %s (%"PRIuSIZE" of %"PRIuSIZE" known",
                  agentctl_current(ctl)->spec, ctl->cur + 1, ctl->n_targets);
    for (size_t i = 0; ctl->n_targets > 1 && i < ctl->n_targets; i++) {
        ds_put_format(s, "%s%s", i ? ", " : ": ", ctl->targets[i].spec);
    }
    ds_put_cstr(s, "): ");
    if (ctl->accepted) {
        ds_put_format(s, "connected for %lld ms", now - ctl->since);
    } else {
        ds_put_cstr(s, "not connected");
        if (ctl->since > now) {
            ds_put_format(s, ", next attempt in %lld ms", ctl->since - now);
        }
        if (ctl->have_last) {
            ds_put_format(s, ", last attempt: %s",
                          agentctl_event_text(ctl->last));
        }
    }
    ds_put_format(s, "\ncontroller attempts: %"PRIu64" accepted; failed: %"
                  PRIu64" connection, %"PRIu64" timeout, %"PRIu64
                  " standby, %"PRIu64" refused\n", ctl->n_accepted,
                  ctl->n_events[AGENTCTL_FAILED],
                  ctl->n_events[AGENTCTL_TIMEOUT],
                  ctl->n_events[AGENTCTL_STANDBY],
                  ctl->n_events[AGENTCTL_REFUSED]);
}
