/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "flow.h"
#include "hash.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/shash.h"
#include "packets.h"
#include "svcmap.h"
#include "util.h"

/* The match on NSH (MD type 1) in Ethernet that every NSH match starts
 * with: OVS ignores nsh_c1 without nsh_mdtype=1. */
#define PL_NSH "dl_type=0x894f,nsh_mdtype=1"

/* The register that carries the affinity code from multipath to NSH C1. */
#define PL_CODE_REG "NXM_NX_REG0"

/* Priorities. */
#define PL_PRIO_BYPASS 200      /* ARP between a chain's endpoints. */
#define PL_PRIO_STEER 100       /* Classification and steering. */
#define PL_PRIO_PORT_DROP 10    /* Anything else from an instance port. */
#define PL_PRIO_MISS 0          /* Table miss: drop. */

void
pl_desired_init(struct pl_desired *d)
{
    hmap_init(&d->flows);
    hmap_init(&d->groups);
}

/* Frees the flows and groups in 'd'. */
void
pl_desired_destroy(struct pl_desired *d)
{
    struct pl_flow *f;
    struct pl_group *g;

    HMAP_FOR_EACH_POP (f, hmap_node, &d->flows) {
        free(f->match);
        free(f->actions);
        free(f);
    }
    hmap_destroy(&d->flows);
    HMAP_FOR_EACH_POP (g, hmap_node, &d->groups) {
        free(g->spec);
        free(g);
    }
    hmap_destroy(&d->groups);
}

/* Returns the group id of bucket 'bucket' of the service with index
 * 'service_idx' in the configuration. */
uint32_t
pl_group_id(size_t service_idx, uint32_t bucket)
{
    return ((uint32_t) (service_idx + 1) << 16) | bucket;
}

static uint32_t
flow_hash__(uint8_t table_id, uint16_t priority, const char *match)
{
    return hash_string(match, hash_2words(table_id, priority));
}

/* Adds a flow; the formatted actions are taken over.  A flow with the same
 * table, priority and match as an earlier one is dropped: the first wins. */
static void
add_flow__(struct pl_desired *d, uint8_t table_id, uint16_t priority,
           char *match, char *actions)
{
    uint32_t hash = flow_hash__(table_id, priority, match);
    struct pl_flow *f;

    HMAP_FOR_EACH_WITH_HASH (f, hmap_node, hash, &d->flows) {
        if (f->table_id == table_id && f->priority == priority
            && !strcmp(f->match, match)) {
            free(match);
            free(actions);
            return;
        }
    }
    f = xmalloc(sizeof *f);
    f->table_id = table_id;
    f->priority = priority;
    f->match = match;
    f->actions = actions;
    hmap_insert(&d->flows, &f->hmap_node, hash);
}

/* Returns the port number of port 'name' in 'ports', or OFPP_NONE. */
static ofp_port_t
port_no__(const struct shash *ports, const char *name)
{
    const struct ofputil_phy_port *pp = shash_find_data(ports, name);

    return pp ? pp->port_no : OFPP_NONE;
}

/* Appends to 's' the group bucket that sends to 'inst'. */
static void
put_bucket__(struct ds *s, const struct cfg_instance *inst, ofp_port_t port)
{
    ds_put_format(s, ",bucket=watch_port:%"PRIu16",actions=set_field:"
                  ETH_ADDR_FMT"->eth_dst,output:%"PRIu16,
                  ofp_to_u16(port), ETH_ADDR_ARGS(inst->mac),
                  ofp_to_u16(port));
}

/* Adds the groups of service 'svc' (index 'idx', map 'map'). */
static void
add_groups__(struct pl_desired *d, const struct cfg_service *svc, size_t idx,
             const struct svcmap *map, const struct shash *ports)
{
    for (uint32_t b = 0; b < map->n_buckets; b++) {
        const struct svcmap_bucket *bucket = &map->buckets[b];
        struct ds s = DS_EMPTY_INITIALIZER;
        struct pl_group *g;
        int members[2] = { bucket->primary, bucket->secondary };

        ds_put_format(&s, "group_id=%"PRIu32",type=ff", pl_group_id(idx, b));
        for (int i = 0; i < 2; i++) {
            const struct cfg_instance *inst;
            ofp_port_t port;

            if (members[i] == SVCMAP_NONE) {
                continue;
            }
            inst = &svc->instances[members[i]];
            port = port_no__(ports, inst->port);
            if (port != OFPP_NONE) {
                put_bucket__(&s, inst, port);
            }
        }

        g = xmalloc(sizeof *g);
        g->group_id = pl_group_id(idx, b);
        g->spec = ds_steal_cstr(&s);
        hmap_insert(&d->groups, &g->hmap_node, hash_int(g->group_id, 0));
    }
}

/* Adds the classification of traffic from 'port' into 'spi'. */
static void
add_classify__(struct pl_desired *d, const struct cfg_chain *chain,
               ofp_port_t port, uint32_t spi, size_t n_buckets)
{
    char *match, *actions;

    match = (chain->match[0]
             ? xasprintf("in_port=%"PRIu16",%s", ofp_to_u16(port),
                         chain->match)
             : xasprintf("in_port=%"PRIu16, ofp_to_u16(port)));
    actions = xasprintf("multipath(symmetric_l3l4+udp,1024,modulo_n,%"
                        PRIuSIZE",0,"PL_CODE_REG"[0..15]),"
                        "encap(nsh(md_type=1)),"
                        "set_field:%#"PRIx32"->nsh_spi,"
                        "set_field:255->nsh_si,"
                        "move:"PL_CODE_REG"[]->NXOXM_NSH_C1[],"
                        "encap(ethernet),"
                        "goto_table:%d", n_buckets, spi, PL_TABLE_STEER);
    add_flow__(d, PL_TABLE_CLASSIFY, PL_PRIO_STEER, match, actions);
}

/* Adds the steering of one direction of 'chain': 'spi', the services in
 * order 'order' (indexes into cfg->services), ending at 'out'. */
static void
add_steer__(struct pl_desired *d, const struct sfm_config *cfg,
            const struct shash *ports,
            const size_t *order, size_t n, uint32_t spi, ofp_port_t out)
{
    size_t n_buckets = cfg_n_buckets(cfg);

    for (size_t hop = 0; hop < n; hop++) {
        size_t idx = order[hop];
        const struct cfg_service *svc = &cfg->services[idx];
        unsigned int si = 255 - hop;

        for (uint32_t b = 0; b < n_buckets; b++) {
            add_flow__(d, PL_TABLE_STEER, PL_PRIO_STEER,
                       xasprintf(PL_NSH",nsh_spi=%#"PRIx32",nsh_si=%u,"
                                 "nsh_c1=%#"PRIx32"/%#"PRIxSIZE,
                                 spi, si, b, n_buckets - 1),
                       xasprintf("group:%"PRIu32, pl_group_id(idx, b)));
        }

        /* What each instance of this hop's service may send back. */
        for (size_t i = 0; i < svc->n_instances; i++) {
            ofp_port_t port = port_no__(ports, svc->instances[i].port);

            if (port == OFPP_NONE) {
                continue;
            }
            add_flow__(d, PL_TABLE_CLASSIFY, PL_PRIO_STEER,
                       xasprintf("in_port=%"PRIu16","PL_NSH",nsh_spi=%#"
                                 PRIx32",nsh_si=%u",
                                 ofp_to_u16(port), spi, si - 1),
                       xasprintf("goto_table:%d", PL_TABLE_STEER));
        }
    }

    add_flow__(d, PL_TABLE_STEER, PL_PRIO_STEER,
               xasprintf(PL_NSH",nsh_spi=%#"PRIx32",nsh_si=%"PRIuSIZE, spi,
                         255 - n),
               xasprintf("decap(),decap(),output:%"PRIu16, ofp_to_u16(out)));
}

/* Returns the index of service 'name' in 'cfg'. */
static size_t
service_idx__(const struct sfm_config *cfg, const char *name)
{
    return cfg_find_service(cfg, name) - cfg->services;
}

/* Generates into 'd' (initialized by the caller) the flows and groups of
 * switch 'switch_name' for configuration 'cfg', the service maps 'maps'
 * (one per service, in the order of cfg->services) and the switch's ports
 * 'ports' (port name to "const struct ofputil_phy_port *").  A chain whose
 * ingress or egress port is missing is left out; an instance whose port is
 * missing is left out of its groups. */
void
pl_generate(const struct sfm_config *cfg, const char *switch_name,
            struct svcmap *const *maps, const struct shash *ports,
            struct pl_desired *d)
{
    size_t n_buckets = cfg_n_buckets(cfg);
    bool *used = xcalloc(MAX(cfg->n_services, 1), sizeof *used);

    for (size_t c = 0; c < cfg->n_chains; c++) {
        const struct cfg_chain *chain = &cfg->chains[c];
        ofp_port_t in, out;
        size_t *fwd, *rev;

        if (strcmp(chain->ingress.switch_name, switch_name)) {
            continue;
        }
        in = port_no__(ports, chain->ingress.port);
        out = port_no__(ports, chain->egress.port);
        if (in == OFPP_NONE || out == OFPP_NONE) {
            continue;
        }

        fwd = xmalloc(chain->n_services * sizeof *fwd);
        rev = xmalloc(chain->n_services * sizeof *rev);
        for (size_t i = 0; i < chain->n_services; i++) {
            fwd[i] = service_idx__(cfg, chain->services[i]);
            rev[chain->n_services - 1 - i] = fwd[i];
            used[fwd[i]] = true;
        }

        add_flow__(d, PL_TABLE_CLASSIFY, PL_PRIO_BYPASS,
                   xasprintf("in_port=%"PRIu16",arp", ofp_to_u16(in)),
                   xasprintf("output:%"PRIu16, ofp_to_u16(out)));
        add_flow__(d, PL_TABLE_CLASSIFY, PL_PRIO_BYPASS,
                   xasprintf("in_port=%"PRIu16",arp", ofp_to_u16(out)),
                   xasprintf("output:%"PRIu16, ofp_to_u16(in)));
        add_classify__(d, chain, in, chain->spi, n_buckets);
        add_classify__(d, chain, out, chain->reverse_spi, n_buckets);
        add_steer__(d, cfg, ports, fwd, chain->n_services, chain->spi,
                    out);
        add_steer__(d, cfg, ports, rev, chain->n_services,
                    chain->reverse_spi, in);
        free(fwd);
        free(rev);
    }

    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct cfg_service *svc = &cfg->services[i];

        if (!used[i]) {
            continue;
        }
        add_groups__(d, svc, i, maps[i], ports);
        for (size_t j = 0; j < svc->n_instances; j++) {
            ofp_port_t port = port_no__(ports, svc->instances[j].port);
            if (port != OFPP_NONE) {
                add_flow__(d, PL_TABLE_CLASSIFY, PL_PRIO_PORT_DROP,
                           xasprintf("in_port=%"PRIu16, ofp_to_u16(port)),
                           xstrdup("drop"));
            }
        }
    }
    free(used);

    add_flow__(d, PL_TABLE_CLASSIFY, PL_PRIO_MISS, xstrdup(""),
               xstrdup("drop"));
    add_flow__(d, PL_TABLE_STEER, PL_PRIO_MISS, xstrdup(""), xstrdup("drop"));
}

static int
compare_flows__(const void *a_, const void *b_)
{
    const struct pl_flow *const *a = a_, *const *b = b_;

    if ((*a)->table_id != (*b)->table_id) {
        return (*a)->table_id < (*b)->table_id ? -1 : 1;
    }
    if ((*a)->priority != (*b)->priority) {
        return (*a)->priority > (*b)->priority ? -1 : 1;
    }
    return strcmp((*a)->match, (*b)->match);
}

/* Appends the flows of 'd' to 's' in 'ovs-ofctl add-flows' syntax, one per
 * line, by table, then priority (highest first), then match. */
void
pl_format_flows(const struct pl_desired *d, struct ds *s)
{
    size_t n = hmap_count(&d->flows), i = 0;
    const struct pl_flow **flows = xmalloc(MAX(n, 1) * sizeof *flows);
    const struct pl_flow *f;

    HMAP_FOR_EACH (f, hmap_node, &d->flows) {
        flows[i++] = f;
    }
    qsort(flows, n, sizeof *flows, compare_flows__);
    for (i = 0; i < n; i++) {
        f = flows[i];
        ds_put_format(s, "table=%"PRIu8",priority=%"PRIu16"%s%s "
                      "actions=%s\n", f->table_id, f->priority,
                      f->match[0] ? "," : "", f->match, f->actions);
    }
    free(flows);
}

static int
compare_groups__(const void *a_, const void *b_)
{
    const struct pl_group *const *a = a_, *const *b = b_;

    return ((*a)->group_id < (*b)->group_id ? -1
            : (*a)->group_id > (*b)->group_id);
}

/* Appends the groups of 'd' to 's' in 'ovs-ofctl add-groups' syntax, one
 * per line, by group id. */
void
pl_format_groups(const struct pl_desired *d, struct ds *s)
{
    size_t n = hmap_count(&d->groups), i = 0;
    const struct pl_group **groups = xmalloc(MAX(n, 1) * sizeof *groups);
    const struct pl_group *g;

    HMAP_FOR_EACH (g, hmap_node, &d->groups) {
        groups[i++] = g;
    }
    qsort(groups, n, sizeof *groups, compare_groups__);
    for (i = 0; i < n; i++) {
        ds_put_format(s, "%s\n", groups[i]->spec);
    }
    free(groups);
}

size_t
pl_n_flows(const struct pl_desired *d)
{
    return hmap_count(&d->flows);
}

size_t
pl_n_groups(const struct pl_desired *d)
{
    return hmap_count(&d->groups);
}
