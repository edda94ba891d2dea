/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "hostdbs.h"

#include <arpa/inet.h>
#include <string.h>
#include "cfg.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/vlog.h"
#include "smap.h"
#include "util.h"
#include "vswdb.h"

VLOG_DEFINE_THIS_MODULE(hostdbs);

struct hostdbs {
    struct vswdb *global;       /* --ovsdb, or NULL. */
    struct vswdb **hosts;       /* Per host of the configuration: its
                                 * database, or NULL. */
    char **host_names;          /* Their names, for display. */
    size_t n_hosts;
};

/* Creates the set, with the database at 'ovsdb' (--ovsdb) if nonnull. */
struct hostdbs *
hostdbs_create(const char *ovsdb)
{
    struct hostdbs *h = xzalloc(sizeof *h);

    h->global = ovsdb ? vswdb_create(ovsdb) : NULL;
    return h;
}

static void
destroy_hosts__(struct hostdbs *h)
{
    for (size_t i = 0; i < h->n_hosts; i++) {
        vswdb_destroy(h->hosts[i]);
        free(h->host_names[i]);
    }
    free(h->hosts);
    free(h->host_names);
    h->hosts = NULL;
    h->host_names = NULL;
    h->n_hosts = 0;
}

void
hostdbs_destroy(struct hostdbs *h)
{
    if (h) {
        vswdb_destroy(h->global);
        destroy_hosts__(h);
        free(h);
    }
}

/* Returns the database of host 'host' of 'h' (an index of the
 * configuration's hosts, or -1), or the global one. */
static struct vswdb *
db_of_host__(const struct hostdbs *h, int host)
{
    return (host >= 0 && (size_t) host < h->n_hosts && h->hosts[host]
            ? h->hosts[host] : h->global);
}

static void
bfd_keys__(struct smap *bfd, bool enable, unsigned int min_tx,
           unsigned int min_rx)
{
    smap_add(bfd, "enable", enable ? "true" : "false");
    if (enable) {
        smap_add_format(bfd, "min_tx", "%u", min_tx);
        smap_add_format(bfd, "min_rx", "%u", min_rx);
    }
}

/* Makes 'h' follow configuration 'cfg': a database per host that names
 * one (kept across calls while its address stays), and in each the BFD
 * settings of the interfaces on its host. */
void
hostdbs_configure(struct hostdbs *h, const struct sfm_config *cfg)
{
    struct smap inst_bfd = SMAP_INITIALIZER(&inst_bfd);
    struct smap tunnel_bfd = SMAP_INITIALIZER(&tunnel_bfd);
    struct vswdb **dbs;
    char **names;

    if (!cfg) {
        return;
    }

    /* The hosts' databases, reusing those whose address is the same. */
    dbs = xcalloc(MAX(cfg->n_hosts, 1), sizeof *dbs);
    names = xcalloc(MAX(cfg->n_hosts, 1), sizeof *names);
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        const struct cfg_host *host = &cfg->hosts[i];

        names[i] = xstrdup(host->name);
        if (!host->ovsdb) {
            continue;
        }
        for (size_t j = 0; j < h->n_hosts; j++) {
            if (h->hosts[j] && !strcmp(vswdb_remote(h->hosts[j]),
                                       host->ovsdb)) {
                dbs[i] = h->hosts[j];
                h->hosts[j] = NULL;
                break;
            }
        }
        if (!dbs[i]) {
            VLOG_INFO("host %s: switch database %s", host->name,
                      host->ovsdb);
            dbs[i] = vswdb_create(host->ovsdb);
        }
    }
    destroy_hosts__(h);
    h->hosts = dbs;
    h->host_names = names;
    h->n_hosts = cfg->n_hosts;

    bfd_keys__(&inst_bfd, cfg->bfd.enable, cfg->bfd.min_tx_ms,
               cfg->bfd.min_rx_ms);
    bfd_keys__(&tunnel_bfd, cfg->bfd.enable, cfg->bfd.tunnel_min_tx_ms,
               cfg->bfd.tunnel_min_rx_ms);
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct cfg_service *svc = &cfg->services[i];

        for (size_t j = 0; j < svc->n_instances; j++) {
            const struct cfg_instance *inst = &svc->instances[j];
            struct vswdb *db = db_of_host__(h, cfg->switches[inst->sw].host);

            if (db) {
                vswdb_set_bfd(db, inst->port, &inst_bfd);
            }
        }
    }
    for (size_t l = 0; l < cfg->n_links; l++) {
        const struct cfg_link *link = &cfg->links[l];
        int a = cfg->switches[link->ends[0].sw].host;
        int b = cfg->switches[link->ends[1].sw].host;

        if (a < 0 || b < 0 || a == b) {
            continue;           /* Not a tunnel between hosts. */
        }
        for (int e = 0; e < 2; e++) {
            int host = e ? b : a;

            if (h->hosts[host]) {
                vswdb_set_bfd(h->hosts[host], link->ends[e].port,
                              &tunnel_bfd);
            }
        }
    }
    smap_destroy(&inst_bfd);
    smap_destroy(&tunnel_bfd);
}

/* Returns true if 'h' has any database. */
bool
hostdbs_any(const struct hostdbs *h)
{
    if (h->global) {
        return true;
    }
    for (size_t i = 0; i < h->n_hosts; i++) {
        if (h->hosts[i]) {
            return true;
        }
    }
    return false;
}

/* Runs every database; returns true if what hostdbs_bfd_ready() says may
 * have changed. */
bool
hostdbs_run(struct hostdbs *h)
{
    bool changed = h->global && vswdb_run(h->global);

    for (size_t i = 0; i < h->n_hosts; i++) {
        if (h->hosts[i]) {
            changed |= vswdb_run(h->hosts[i]);
        }
    }
    return changed;
}

/* Returns the database of 'h' that holds BFD settings for 'iface', or
 * NULL. */
static const struct vswdb *
db_of_iface__(const struct hostdbs *h, const char *iface)
{
    for (size_t i = 0; i < h->n_hosts; i++) {
        if (h->hosts[i] && vswdb_wants(h->hosts[i], iface)) {
            return h->hosts[i];
        }
    }
    return h->global && vswdb_wants(h->global, iface) ? h->global : NULL;
}

/* Returns the BFD state of interface 'iface', as vswdb_bfd_state() says,
 * from the database it is configured in, or NULL. */
const char *
hostdbs_bfd_state(const struct hostdbs *h, const char *iface)
{
    const struct vswdb *db = db_of_iface__(h, iface);

    return db ? vswdb_bfd_state(db, iface) : NULL;
}

/* As vswdb_bfd_ready(), for interface 'iface' of host 'host' (an index of
 * the configuration's hosts, or -1 if its switch names none), from the
 * database that configures it: the host's own if it has one (names like
 * a tunnel's repeat from host to host), otherwise any that does.  True if
 * none does. */
bool
hostdbs_bfd_ready(const struct hostdbs *h, int host, const char *iface)
{
    const struct vswdb *db;

    if (host >= 0 && (size_t) host < h->n_hosts && h->hosts[host]) {
        db = vswdb_wants(h->hosts[host], iface) ? h->hosts[host] : NULL;
    } else {
        db = db_of_iface__(h, iface);
    }

    return !db || vswdb_bfd_ready(db, iface);
}

/* Appends every database and its interfaces to 's'. */
void
hostdbs_format(const struct hostdbs *h, struct ds *s)
{
    if (h->global) {
        vswdb_format(h->global, s);
    }
    for (size_t i = 0; i < h->n_hosts; i++) {
        if (h->hosts[i]) {
            ds_put_format(s, "%shost %s: ", s->length ? "\n" : "",
                          h->host_names[i]);
            vswdb_format(h->hosts[i], s);
        }
    }
}

/* Returns true if 'a' and 'b' are the same IPv4 address. */
static bool
same_ip__(const char *a, const char *b)
{
    struct in_addr x, y;

    return (inet_pton(AF_INET, a, &x) == 1 && inet_pton(AF_INET, b, &y) == 1
            && x.s_addr == y.s_addr);
}

/* Appends to 's' what the hosts' databases hold of each tunnel of 'cfg'
 * (an end of a link between switches of two hosts), against what the
 * configuration expects: a tunnel interface whose remote is the other
 * host's underlay address.  A missing tunnel or one with a wrong remote
 * also never comes up (its port is not live, or BFD does not answer), so
 * the traffic avoids it; this says why. */
void
hostdbs_format_tunnels(const struct hostdbs *h, const struct sfm_config *cfg,
                       struct ds *s)
{
    bool any = false;

    for (size_t l = 0; cfg && l < cfg->n_links; l++) {
        const struct cfg_link *link = &cfg->links[l];

        for (int e = 0; e < 2; e++) {
            const struct cfg_switch *here = &cfg->switches[link->ends[e].sw];
            const struct cfg_switch *there
                = &cfg->switches[link->ends[!e].sw];
            const char *want, *type, *remote;
            struct vswdb *db;

            if (here->host < 0 || there->host < 0
                || here->host == there->host
                || (size_t) here->host >= h->n_hosts
                || !(db = h->hosts[here->host])) {
                continue;
            }
            if (!any) {
                ds_put_cstr(s, "tunnels in the hosts' databases:\n");
                any = true;
            }
            want = cfg->hosts[there->host].underlay;
            ds_put_format(s, "  %s:%s (host %s): ", here->name,
                          link->ends[e].port, cfg->hosts[here->host].name);
            if (!vswdb_is_connected(db)) {
                ds_put_cstr(s, "database not connected\n");
            } else if (!vswdb_iface_tunnel(db, link->ends[e].port, &type,
                                           &remote)) {
                ds_put_cstr(s, "missing\n");
            } else if (strcmp(type, "vxlan") && strcmp(type, "geneve")
                       && strcmp(type, "gre")) {
                ds_put_format(s, "not a tunnel (type \"%s\")\n", type);
            } else if (!remote) {
                ds_put_format(s, "%s without remote_ip\n", type);
            } else if (want && !same_ip__(remote, want)) {
                ds_put_format(s, "%s to %s: wrong remote (host %s is %s)\n",
                              type, remote, cfg->hosts[there->host].name,
                              want);
            } else {
                ds_put_format(s, "%s to %s: ok\n", type, remote);
            }
        }
    }
}
