/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "fabric.h"

#include <limits.h>
#include <stdlib.h>
#include "cfg.h"
#include "ofconn.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "route.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(fabric);

struct fabric {
    const struct sfm_config *cfg; /* Its switches and links. */
    bool *end_down;             /* Per link end (2 * link + end): known to
                                 * be down. */
    bool *end_live;             /* Per link end: known to be live (its
                                 * switch connected, its port live). */
    bool *link_down;            /* Per link: not usable, as of the latest
                                 * fabric_run(). */
    bool *end_seen;             /* Per link end: its switch has been
                                 * connected. */
    bool *was_up;               /* Per link: usable since it was last
                                 * down, with both ends known live or one
                                 * live and the other's switch not yet
                                 * seen, so that going down is a flap,
                                 * even after an end's switch lost the
                                 * controller (the same fault may cut it
                                 * off).  Not with one end live and the
                                 * other's switch away: a switch back from
                                 * its host's restart shows its end down
                                 * until its BFD is up, and that is no
                                 * flap. */
    bool *held;                 /* Per link: its ends are not down, but it
                                 * is damped. */
    struct damp *damp;          /* Per link: its flaps' penalty. */
    long long int next_expiry;  /* The earliest end of a damping time that
                                 * holds a link down, or LLONG_MAX. */
    size_t *first_end;          /* Per switch and one more: its link ends
                                 * are ends[first_end[sw]] to
                                 * ends[first_end[sw + 1] - 1]. */
    size_t *ends;               /* Link ends (2 * link + end), by switch. */
    bool dirty;                 /* An end changed since fabric_run(). */
    struct route_table routes;  /* Paths over the usable links. */
};

static void
compute__(struct fabric *f)
{
    const struct sfm_config *cfg = f->cfg;
    struct route_link *links = xmalloc(MAX(cfg->n_links, 1) * sizeof *links);

    cfg_route_links(cfg, links);
    for (size_t l = 0; l < cfg->n_links; l++) {
        links[l].down = f->link_down[l];
    }
    route_destroy(&f->routes);
    route_compute(cfg->n_switches, links, cfg->n_links, &f->routes);
    free(links);
}

/* Creates the fabric of 'cfg', which must outlive it, with every link
 * usable. */
struct fabric *
fabric_create(const struct sfm_config *cfg)
{
    struct fabric *f = xzalloc(sizeof *f);
    size_t n_ends = 2 * cfg->n_links;
    size_t *fill;

    f->cfg = cfg;
    f->end_down = xcalloc(MAX(n_ends, 1), sizeof *f->end_down);
    f->end_live = xcalloc(MAX(n_ends, 1), sizeof *f->end_live);
    f->end_seen = xcalloc(MAX(n_ends, 1), sizeof *f->end_seen);
    f->link_down = xcalloc(MAX(cfg->n_links, 1), sizeof *f->link_down);
    f->was_up = xcalloc(MAX(cfg->n_links, 1), sizeof *f->was_up);
    f->held = xcalloc(MAX(cfg->n_links, 1), sizeof *f->held);
    f->damp = xmalloc(MAX(cfg->n_links, 1) * sizeof *f->damp);
    for (size_t l = 0; l < cfg->n_links; l++) {
        damp_init(&f->damp[l]);
    }
    f->next_expiry = LLONG_MAX;
    f->first_end = xcalloc(cfg->n_switches + 1, sizeof *f->first_end);
    f->ends = xmalloc(MAX(n_ends, 1) * sizeof *f->ends);
    for (size_t e = 0; e < n_ends; e++) {
        f->first_end[cfg->links[e / 2].ends[e % 2].sw + 1]++;
    }
    for (size_t s = 0; s < cfg->n_switches; s++) {
        f->first_end[s + 1] += f->first_end[s];
    }
    fill = xmemdup(f->first_end, (cfg->n_switches + 1) * sizeof *fill);
    for (size_t e = 0; e < n_ends; e++) {
        f->ends[fill[cfg->links[e / 2].ends[e % 2].sw]++] = e;
    }
    free(fill);
    compute__(f);
    return f;
}

/* Frees 'f'.  Accepts NULL. */
void
fabric_destroy(struct fabric *f)
{
    if (f) {
        route_destroy(&f->routes);
        free(f->end_down);
        free(f->end_live);
        free(f->end_seen);
        free(f->link_down);
        free(f->was_up);
        free(f->held);
        free(f->damp);
        free(f->first_end);
        free(f->ends);
        free(f);
    }
}

/* Tells 'f' the ports of switch 'sw' (port name to "const struct
 * ofputil_phy_port *"), or, with 'ports' NULL, that the switch is not
 * connected.  Takes effect at the next fabric_run(). */
void
fabric_set_ports(struct fabric *f, size_t sw, const struct shash *ports)
{
    ovs_assert(sw < f->cfg->n_switches);
    for (size_t i = f->first_end[sw]; i < f->first_end[sw + 1]; i++) {
        size_t e = f->ends[i];
        const struct cfg_endpoint *ep = &f->cfg->links[e / 2].ends[e % 2];
        const struct ofputil_phy_port *pp;
        bool down;

        pp = ports ? shash_find_data(ports, ep->port) : NULL;
        down = ports && (!pp || !ofconn_port_is_live(pp));
        f->end_seen[e] |= ports != NULL;
        if (down != f->end_down[e] || (ports && !down) != f->end_live[e]) {
            f->end_down[e] = down;
            f->end_live[e] = ports && !down;
            f->dirty = true;
        }
    }
}

/* Takes the ends told since the last call, and the damping times that
 * ended, at 'now': a link with an end down is not usable, nor is a damped
 * one.  If a link's usability changed, logs it, recomputes the paths and
 * returns true; otherwise returns false.  Cheap when nothing changed: the
 * caller may run it at every turn of its loop. */
bool
fabric_run(struct fabric *f, long long int now)
{
    const struct sfm_config *cfg = f->cfg;
    const struct damp_params *dp = &cfg->link_damping;
    bool changed = false;

    if (!f->dirty && now < f->next_expiry) {
        return false;
    }
    f->dirty = false;
    f->next_expiry = LLONG_MAX;
    for (size_t l = 0; l < cfg->n_links; l++) {
        const struct cfg_link *link = &cfg->links[l];
        bool ends_down = f->end_down[2 * l] || f->end_down[2 * l + 1];
        struct damp *d = &f->damp[l];
        bool down, held;

        if (ends_down) {
            if (f->was_up[l]) {
                /* A flap, whether or not it was damped already. */
                damp_flap(d, dp, now);
            }
            f->was_up[l] = false;
        } else if ((f->end_live[2 * l] || !f->end_seen[2 * l])
                   && (f->end_live[2 * l + 1] || !f->end_seen[2 * l + 1])
                   && (f->end_live[2 * l] || f->end_live[2 * l + 1])) {
            f->was_up[l] = true;
        }
        held = !ends_down && damp_is_damped(d, now);
        down = ends_down || held;
        if (held) {
            f->next_expiry = MIN(f->next_expiry, d->until);
            if (!f->held[l]) {
                VLOG_INFO("link %s:%s - %s:%s is back, but damped for %lld "
                          "ms more (penalty %u ms after %llu flaps)",
                          cfg->switches[link->ends[0].sw].name,
                          link->ends[0].port,
                          cfg->switches[link->ends[1].sw].name,
                          link->ends[1].port, damp_remaining(d, now),
                          damp_penalty(d, dp, now), d->n_flaps);
            }
        }
        f->held[l] = held;
        if (down != f->link_down[l]) {
            VLOG_INFO("link %s:%s - %s:%s %s: paths between switches "
                      "recomputed", cfg->switches[link->ends[0].sw].name,
                      link->ends[0].port,
                      cfg->switches[link->ends[1].sw].name,
                      link->ends[1].port, down ? "down" : "up");
            f->link_down[l] = down;
            changed = true;
        }
    }
    if (changed) {
        compute__(f);
    }
    return changed;
}

/* Returns true if link 'link' is not usable. */
bool
fabric_link_is_down(const struct fabric *f, size_t link)
{
    ovs_assert(link < f->cfg->n_links);
    return f->link_down[link];
}

/* Returns true if link 'link' is not usable only because it is damped. */
bool
fabric_link_is_damped(const struct fabric *f, size_t link)
{
    ovs_assert(link < f->cfg->n_links);
    return f->held[link];
}

/* Returns true if switch 'sw' has a link to another switch, usable or
 * not. */
bool
fabric_has_links(const struct fabric *f, size_t sw)
{
    ovs_assert(sw < f->cfg->n_switches);
    return f->first_end[sw + 1] > f->first_end[sw];
}

/* Returns true if switch 'to' can be reached from switch 'from' over the
 * usable links (always, if they are the same switch). */
bool
fabric_reachable(const struct fabric *f, size_t from, size_t to)
{
    return route_reachable(&f->routes, from, to);
}

/* Returns the name of the port by which switch 'from' sends toward switch
 * 'to', or NULL if they are the same switch or no path of usable links
 * joins them. */
const char *
fabric_next_port(const struct fabric *f, size_t from, size_t to)
{
    size_t l = route_next(&f->routes, from, to);

    if (l == ROUTE_NONE) {
        return NULL;
    }
    const struct cfg_link *link = &f->cfg->links[l];
    return link->ends[link->ends[0].sw == from ? 0 : 1].port;
}

/* Returns true if instance 'inst' is cut off: some chain that crosses its
 * service still joins its ingress to its egress over the usable links, and
 * no such chain reaches the instance.  A chain that is cut in two itself
 * says nothing about the instances. */
bool
fabric_cut_off(const struct fabric *f, const struct cfg_instance *inst)
{
    const struct sfm_config *cfg = f->cfg;
    bool any = false;

    for (size_t c = 0; c < cfg->n_chains; c++) {
        const struct cfg_chain *chain = &cfg->chains[c];
        size_t in = chain->ingress.sw, out = chain->egress.sw;

        if (!cfg_chain_has_service(chain, inst->service)
            || !fabric_reachable(f, in, out)) {
            continue;
        }
        if (fabric_reachable(f, in, inst->sw)) {
            return false;
        }
        any = true;
    }
    return any;
}

/* Returns the paths over the usable links, for a caller that compares them
 * with those it worked from. */
const struct route_table *
fabric_routes(const struct fabric *f)
{
    return &f->routes;
}

/* Appends every link and whether it is usable to 's', one per line, with
 * its flaps and its damping at 'now'. */
void
fabric_format(const struct fabric *f, long long int now, struct ds *s)
{
    const struct sfm_config *cfg = f->cfg;

    for (size_t l = 0; l < cfg->n_links; l++) {
        const struct cfg_link *link = &cfg->links[l];
        const struct damp *d = &f->damp[l];
        unsigned int penalty = damp_penalty(d, &cfg->link_damping, now);

        ds_put_format(s, "link %s:%s - %s:%s: %s",
                      cfg->switches[link->ends[0].sw].name,
                      link->ends[0].port,
                      cfg->switches[link->ends[1].sw].name,
                      link->ends[1].port, f->link_down[l] ? "down" : "up");
        if (f->held[l]) {
            ds_put_format(s, ", damped for %lld ms more",
                          damp_remaining(d, now));
        }
        if (d->n_flaps) {
            ds_put_format(s, " (%llu flaps, penalty %u ms)", d->n_flaps,
                          penalty);
        }
        ds_put_char(s, '\n');
    }
}
