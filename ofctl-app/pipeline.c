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
#include "ofconn.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/shash.h"
#include "packets.h"
#include "svcmap.h"
#include "util.h"

/* The match on NSH (MD type 1) in Ethernet that every NSH match starts
 * with: OVS ignores nsh_c1 without nsh_mdtype=1. */
#define PL_NSH "dl_type=0x894f,nsh_mdtype=1"

/* The register that carries the affinity code from the classifier to NSH
 * C1. */
#define PL_CODE_REG "NXM_NX_REG0"

/* Priorities. */
#define PL_PRIO_BYPASS 200      /* ARP between a chain's endpoints. */
#define PL_PRIO_TRANSIT_END 110 /* A path's end, arriving on a link. */
#define PL_PRIO_REDIRECTED 105  /* Already redirected: no second time. */
#define PL_PRIO_STEER 100       /* Classification and steering. */
#define PL_PRIO_TRANSIT_FWD 50  /* Toward an instance, arriving on a link. */
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

/* What pl_generate() works from: one switch's view of the configuration. */
struct pl_ctx {
    const struct sfm_config *cfg;
    const struct route_table *routes; /* Over cfg->links. */
    const char *sw;             /* The switch being generated. */
    struct svcmap *const *maps; /* One per service. */
    const struct shash *ports;  /* The switch's ports by name. */
    size_t n_buckets;
    bool links;                 /* The switch has links to others. */
    struct pl_desired *d;       /* The output. */
};

/* Returns the number of port 'port' of switch 'sw', if that is the switch
 * being generated and it has the port; otherwise OFPP_NONE. */
static ofp_port_t
local_port__(const struct pl_ctx *ctx, const char *sw, const char *port)
{
    return strcmp(sw, ctx->sw) ? OFPP_NONE : port_no__(ctx->ports, port);
}

/* Returns the port by which the switch being generated sends toward switch
 * 'sw' (another one), or OFPP_NONE if no link leads there or the port is
 * missing. */
static ofp_port_t
toward__(const struct pl_ctx *ctx, const char *sw)
{
    const char *port = cfg_next_port(ctx->cfg, ctx->routes, ctx->sw, sw);

    return port ? port_no__(ctx->ports, port) : OFPP_NONE;
}

/* Returns the port by which the switch being generated reaches port 'port'
 * of switch 'sw': that port itself if it is local, else the link toward
 * 'sw'. */
static ofp_port_t
reach__(const struct pl_ctx *ctx, const char *sw, const char *port)
{
    return (strcmp(sw, ctx->sw)
            ? toward__(ctx, sw) : port_no__(ctx->ports, port));
}

/* Returns true if switch 'sw' holds an instance of service 'svc'. */
static bool
hosts__(const struct cfg_service *svc, const char *sw)
{
    for (size_t i = 0; i < svc->n_instances; i++) {
        if (!strcmp(svc->instances[i].switch_name, sw)) {
            return true;
        }
    }
    return false;
}

/* Appends to 's' the group bucket that sends to 'inst' by 'port'. */
static void
put_bucket__(struct ds *s, const struct cfg_instance *inst, ofp_port_t port)
{
    ds_put_format(s, ",bucket=watch_port:%"PRIu16",actions=set_field:"
                  ETH_ADDR_FMT"->eth_dst,output:%"PRIu16,
                  ofp_to_u16(port), ETH_ADDR_ARGS(inst->mac),
                  ofp_to_u16(port));
}

/* Adds the groups of service 'svc' (index 'idx'). */
static void
add_groups__(const struct pl_ctx *ctx, const struct cfg_service *svc,
             size_t idx)
{
    const struct svcmap *map = ctx->maps[idx];

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
            port = reach__(ctx, inst->switch_name, inst->port);
            if (port != OFPP_NONE) {
                put_bucket__(&s, inst, port);
            }
        }

        g = xmalloc(sizeof *g);
        g->group_id = pl_group_id(idx, b);
        g->spec = ds_steal_cstr(&s);
        hmap_insert(&ctx->d->groups, &g->hmap_node,
                    hash_int(g->group_id, 0));
    }
}

/* Returns the actions that give a frame, its affinity code already in
 * PL_CODE_REG, the NSH header of 'spi' (SI 255, C1 = the code) and an outer
 * Ethernet header, and take it to the steering table: by 'next' ("goto_table"
 * from table 0, "resubmit(," from the code table, which lies beyond it). */
static char *
push_actions__(uint32_t spi, const char *next)
{
    return xasprintf("encap(nsh(md_type=1)),"
                     "set_field:%#"PRIx32"->nsh_spi,"
                     "set_field:255->nsh_si,"
                     "move:"PL_CODE_REG"[]->NXOXM_NSH_C1[],"
                     "encap(ethernet),"
                     "%s%d%s", spi, next, PL_TABLE_STEER,
                     next[0] == 'r' ? ")" : "");
}

/* Adds the classification of traffic from 'port' into 'spi'.
 *
 * With multipath, ovs-vswitchd hashes the 5-tuple itself, so every stream
 * gets datapath flows of its own.  With dp-hash, the classifier group asks
 * the datapath for its symmetric L4 hash (a hash() action and a
 * recirculation); after it, the group's bucket copies the hash's low bits,
 * as many as the buckets need, into the code register, and the datapath
 * flows match only those bits: there are at most as many as there are
 * codes.  Both directions of a connection get the same hash, hence the same
 * code, as with multipath.  The bucket resubmits to the code table, whose
 * flow for 'port' pushes the headers. */
static void
add_classify__(const struct pl_ctx *ctx, const struct cfg_chain *chain,
               ofp_port_t port, uint32_t spi)
{
    char *match, *actions;

    match = (chain->match[0]
             ? xasprintf("in_port=%"PRIu16",%s", ofp_to_u16(port),
                         chain->match)
             : xasprintf("in_port=%"PRIu16, ofp_to_u16(port)));
    if (ctx->cfg->classifier == CFG_CLASSIFIER_DP_HASH) {
        char *push = push_actions__(spi, "resubmit(,");

        add_flow__(ctx->d, PL_TABLE_CODE, PL_PRIO_STEER,
                   xasprintf("in_port=%"PRIu16, ofp_to_u16(port)), push);
        actions = xasprintf("group:%d", PL_CLASSIFY_GROUP_ID);
    } else {
        char *push = push_actions__(spi, "goto_table:");

        actions = xasprintf("multipath(symmetric_l3l4+udp,1024,modulo_n,%"
                            PRIuSIZE",0,"PL_CODE_REG"[0..15]),%s",
                            ctx->n_buckets, push);
        free(push);
    }
    add_flow__(ctx->d, PL_TABLE_CLASSIFY, PL_PRIO_STEER, match, actions);
}

/* Adds the classifier group, for "classifier: dp-hash": a select group
 * whose selection method is the datapath's hash, algorithm
 * OVS_HASH_ALG_SYM_L4 (1, in the upper 32 bits of the parameter; basis 0 in
 * the lower), with one bucket, which every hash value picks.  The code is
 * the hash's low 'cfg->bucket_bits' bits (bucket_bits from 1 to 14, within
 * the 16 bits of the register that NSH C1 receives).
 *
 * OpenFlow 1.3 and 1.4 cannot carry the selection method; OVS 3.1 then
 * picks dp_hash with OVS_HASH_ALG_SYM_L4 and basis 0 by itself for a group
 * of one bucket, so the group works the same on either. */
static void
add_classify_group__(const struct pl_ctx *ctx)
{
    struct pl_group *g = xmalloc(sizeof *g);

    g->group_id = PL_CLASSIFY_GROUP_ID;
    g->spec = xasprintf("group_id=%d,type=select,selection_method=dp_hash,"
                        "selection_method_param=%"PRIu64","
                        "bucket=actions=move:NXM_NX_DP_HASH[0..%u]->"
                        PL_CODE_REG"[0..%u],resubmit(,%d)",
                        PL_CLASSIFY_GROUP_ID, (uint64_t) 1 << 32,
                        ctx->cfg->bucket_bits - 1,
                        ctx->cfg->bucket_bits - 1, PL_TABLE_CODE);
    hmap_insert(&ctx->d->groups, &g->hmap_node, hash_int(g->group_id, 0));
}

/* One direction of a chain. */
struct pl_path {
    uint32_t spi;
    const size_t *order;        /* Indexes into cfg->services, in order. */
    size_t n;                   /* Number of services. */
    const struct cfg_endpoint *from; /* Where it is classified. */
    const struct cfg_endpoint *to;   /* Where it leaves the chain. */
};

/* Returns the actions that take a frame of 'path' that has crossed all its
 * services to its exit, or NULL if the switch being generated cannot. */
static char *
end_actions__(const struct pl_ctx *ctx, const struct pl_path *path)
{
    ofp_port_t out;

    if (!strcmp(path->to->switch_name, ctx->sw)) {
        out = port_no__(ctx->ports, path->to->port);
        return (out == OFPP_NONE ? NULL
                : xasprintf("decap(),decap(),output:%"PRIu16,
                            ofp_to_u16(out)));
    }
    out = toward__(ctx, path->to->switch_name);
    return (out == OFPP_NONE ? NULL
            : xasprintf("output:%"PRIu16, ofp_to_u16(out)));
}

/* Returns the match of the frames of 'path' that have crossed all its
 * services. */
static char *
end_match__(const struct pl_path *path)
{
    return xasprintf(PL_NSH",nsh_spi=%#"PRIx32",nsh_si=%"PRIuSIZE,
                     path->spi, 255 - path->n);
}

/* Adds the steering of 'path' on the switch being generated: each hop
 * where a frame of the path can be on this switch (classified here, or
 * returned by an instance here) picks the group of its next service, and
 * the frames that have crossed every service leave (or head for the switch
 * where they leave). */
static void
add_steer__(const struct pl_ctx *ctx, const struct pl_path *path)
{
    const struct sfm_config *cfg = ctx->cfg;
    bool here = !strcmp(path->from->switch_name, ctx->sw);

    for (size_t hop = 0; hop <= path->n; hop++) {
        unsigned int si = 255 - hop;
        char *actions;

        if (hop > 0) {
            const struct cfg_service *prev = &cfg->services[path->order[hop
                                                                        - 1]];

            /* What each instance of the previous service, on this switch,
             * may send back.  Where frames go on to other switches, the
             * instance's MAC becomes their source, which clears any
             * redirect mark (see add_transit__()) that an instance left
             * in place. */
            here = false;
            for (size_t i = 0; i < prev->n_instances; i++) {
                const struct cfg_instance *inst = &prev->instances[i];
                ofp_port_t port = local_port__(ctx, inst->switch_name,
                                               inst->port);

                here = here || !strcmp(inst->switch_name, ctx->sw);
                if (port == OFPP_NONE) {
                    continue;
                }
                add_flow__(ctx->d, PL_TABLE_CLASSIFY, PL_PRIO_STEER,
                           xasprintf("in_port=%"PRIu16","PL_NSH
                                     ",nsh_spi=%#"PRIx32",nsh_si=%u",
                                     ofp_to_u16(port), path->spi, si),
                           (ctx->links
                            ? xasprintf("set_field:"ETH_ADDR_FMT"->eth_src,"
                                        "goto_table:%d",
                                        ETH_ADDR_ARGS(inst->mac),
                                        PL_TABLE_STEER)
                            : xasprintf("goto_table:%d", PL_TABLE_STEER)));
            }
        }
        if (!here) {
            continue;
        }

        if (hop == path->n) {
            actions = end_actions__(ctx, path);
            if (actions) {
                add_flow__(ctx->d, PL_TABLE_STEER, PL_PRIO_STEER,
                           end_match__(path), actions);
            }
            continue;
        }
        for (uint32_t b = 0; b < ctx->n_buckets; b++) {
            add_flow__(ctx->d, PL_TABLE_STEER, PL_PRIO_STEER,
                       xasprintf(PL_NSH",nsh_spi=%#"PRIx32",nsh_si=%u,"
                                 "nsh_c1=%#"PRIx32"/%#"PRIxSIZE,
                                 path->spi, si, b, ctx->n_buckets - 1),
                       xasprintf("group:%"PRIu32,
                                 pl_group_id(path->order[hop], b)));
        }
    }
}

/* Adds what a chain's ARP needs on the switch being generated, entering
 * at 'from' and leaving at 'to': straight across if both are here,
 * otherwise carried in NSH as a frame of 'path' that has crossed all its
 * services, so that it follows the path's exit. */
static void
add_arp__(const struct pl_ctx *ctx, const struct pl_path *path,
          ofp_port_t in)
{
    char *actions;

    if (!strcmp(path->to->switch_name, ctx->sw)) {
        ofp_port_t out = port_no__(ctx->ports, path->to->port);

        if (out == OFPP_NONE) {
            return;
        }
        actions = xasprintf("output:%"PRIu16, ofp_to_u16(out));
    } else {
        ofp_port_t out = toward__(ctx, path->to->switch_name);

        if (out == OFPP_NONE) {
            return;
        }
        actions = xasprintf("encap(nsh(md_type=1)),"
                            "set_field:%#"PRIx32"->nsh_spi,"
                            "set_field:%"PRIuSIZE"->nsh_si,"
                            "encap(ethernet),output:%"PRIu16,
                            path->spi, 255 - path->n, ofp_to_u16(out));
    }
    add_flow__(ctx->d, PL_TABLE_CLASSIFY, PL_PRIO_BYPASS,
               xasprintf("in_port=%"PRIu16",arp", ofp_to_u16(in)), actions);
}

/* Adds, for a switch with links to others, the transit table: frames
 * arriving on a link that have crossed a path's services leave (or go on
 * toward the switch where they leave); frames for an instance on this
 * switch that is the primary of their bucket take that bucket's group
 * here, where its watch on the instance's port decides; so do all frames
 * for a local instance whose port is not live, which a switch that has not
 * yet heard of the failure may still send; frames for any other instance
 * go to it, or on toward its switch.
 *
 * A frame that takes a group here is marked, its outer source set to
 * CFG_REDIRECT_MAC (an instance puts its own there when it sends the frame
 * on), and a marked frame never takes a group here again: it goes to its
 * instance, or toward it, by MAC alone.  Between two instances a frame is
 * thus redirected at most once, and switches whose groups disagree for a
 * while (each is updated on its own) cannot pass it back and forth.  It
 * also loses one from its NSH TTL each time, a second bound. */
static void
add_transit__(const struct pl_ctx *ctx, const struct pl_path *paths,
              size_t n_paths, const bool *in_chain)
{
    const struct sfm_config *cfg = ctx->cfg;

    for (size_t i = 0; i < n_paths; i++) {
        char *actions = end_actions__(ctx, &paths[i]);

        if (actions) {
            add_flow__(ctx->d, PL_TABLE_TRANSIT, PL_PRIO_TRANSIT_END,
                       end_match__(&paths[i]), actions);
        }
    }

    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct cfg_service *svc = &cfg->services[i];
        const struct svcmap *map = ctx->maps[i];

        if (!in_chain[i]) {
            continue;
        }
        for (size_t j = 0; j < svc->n_instances; j++) {
            const struct cfg_instance *inst = &svc->instances[j];
            ofp_port_t port = reach__(ctx, inst->switch_name, inst->port);
            bool local = !strcmp(inst->switch_name, ctx->sw);
            bool live = false;

            if (port == OFPP_NONE) {
                continue;
            }
            if (local) {
                const struct ofputil_phy_port *pp;

                pp = shash_find_data(ctx->ports, inst->port);
                live = ofconn_port_is_live(pp);
            }
            add_flow__(ctx->d, PL_TABLE_TRANSIT, PL_PRIO_TRANSIT_FWD,
                       xasprintf(PL_NSH",dl_dst="ETH_ADDR_FMT,
                                 ETH_ADDR_ARGS(inst->mac)),
                       xasprintf("output:%"PRIu16, ofp_to_u16(port)));
            if (!local) {
                continue;
            }
            add_flow__(ctx->d, PL_TABLE_TRANSIT, PL_PRIO_REDIRECTED,
                       xasprintf(PL_NSH",dl_src="CFG_REDIRECT_MAC
                                 ",dl_dst="ETH_ADDR_FMT,
                                 ETH_ADDR_ARGS(inst->mac)),
                       xasprintf("output:%"PRIu16, ofp_to_u16(port)));
            for (uint32_t b = 0; b < map->n_buckets; b++) {
                if (live && map->buckets[b].primary != (int) j) {
                    continue;
                }
                /* The group may send the frame back over the link it came
                 * by, which OpenFlow allows only from another in_port. */
                add_flow__(ctx->d, PL_TABLE_TRANSIT, PL_PRIO_STEER,
                           xasprintf(PL_NSH",dl_dst="ETH_ADDR_FMT","
                                     "nsh_c1=%#"PRIx32"/%#"PRIxSIZE,
                                     ETH_ADDR_ARGS(inst->mac), b,
                                     ctx->n_buckets - 1),
                           xasprintf("dec_nsh_ttl,set_field:"
                                     CFG_REDIRECT_MAC"->eth_src,"
                                     "set_field:0->in_port,group:%"PRIu32,
                                     pl_group_id(i, b)));
            }
        }
    }
}

/* Returns the index of service 'name' in 'cfg'. */
static size_t
service_idx__(const struct sfm_config *cfg, const char *name)
{
    return cfg_find_service(cfg, name) - cfg->services;
}

/* Returns true if switch 'sw' takes part in 'chain': it holds one of its
 * endpoints or an instance of one of its services. */
static bool
takes_part__(const struct sfm_config *cfg, const struct cfg_chain *chain,
             const char *sw)
{
    if (!strcmp(chain->ingress.switch_name, sw)
        || !strcmp(chain->egress.switch_name, sw)) {
        return true;
    }
    for (size_t i = 0; i < chain->n_services; i++) {
        if (hosts__(cfg_find_service(cfg, chain->services[i]), sw)) {
            return true;
        }
    }
    return false;
}

/* Generates into 'd' (initialized by the caller) the flows and groups of
 * switch 'switch_name' for configuration 'cfg', the paths between switches
 * 'routes' (over cfg->links: cfg->routes, or a table that leaves out the
 * links that are down; NULL means cfg->routes), the service maps 'maps'
 * (one per service, in the order of cfg->services) and the switch's ports
 * 'ports' (port name to "const struct ofputil_phy_port *").  What needs a
 * missing port is left out: the classification of a chain endpoint, an
 * instance's group bucket, the way toward another switch. */
void
pl_generate(const struct sfm_config *cfg, const struct route_table *routes,
            const char *switch_name, struct svcmap *const *maps,
            const struct shash *ports, struct pl_desired *d)
{
    struct pl_ctx ctx = {
        .cfg = cfg, .routes = routes ? routes : &cfg->routes,
        .sw = switch_name, .maps = maps, .ports = ports,
        .n_buckets = cfg_n_buckets(cfg), .d = d,
        .links = cfg_has_links(cfg, switch_name),
    };
    size_t n = MAX(cfg->n_services, 1);
    bool *used = xcalloc(n, sizeof *used);
    bool *in_chain = xcalloc(n, sizeof *in_chain);
    struct pl_path *paths = xmalloc(MAX(2 * cfg->n_chains, 1)
                                    * sizeof *paths);
    size_t **orders = xmalloc(MAX(2 * cfg->n_chains, 1) * sizeof *orders);
    bool classifies = false;

    for (size_t c = 0; c < cfg->n_chains; c++) {
        const struct cfg_chain *chain = &cfg->chains[c];
        bool part = takes_part__(cfg, chain, switch_name);
        size_t *fwd = xmalloc(chain->n_services * sizeof *fwd);
        size_t *rev = xmalloc(chain->n_services * sizeof *rev);
        struct pl_path *pf = &paths[2 * c], *pr = &paths[2 * c + 1];
        ofp_port_t in, out;

        for (size_t i = 0; i < chain->n_services; i++) {
            fwd[i] = service_idx__(cfg, chain->services[i]);
            rev[chain->n_services - 1 - i] = fwd[i];
            in_chain[fwd[i]] = true;
            used[fwd[i]] = used[fwd[i]] || part;
        }
        orders[2 * c] = fwd;
        orders[2 * c + 1] = rev;
        *pf = (struct pl_path) {
            .spi = chain->spi, .order = fwd, .n = chain->n_services,
            .from = &chain->ingress, .to = &chain->egress,
        };
        *pr = (struct pl_path) {
            .spi = chain->reverse_spi, .order = rev, .n = chain->n_services,
            .from = &chain->egress, .to = &chain->ingress,
        };
        if (!part) {
            continue;
        }

        in = local_port__(&ctx, chain->ingress.switch_name,
                          chain->ingress.port);
        out = local_port__(&ctx, chain->egress.switch_name,
                           chain->egress.port);
        if (in != OFPP_NONE) {
            add_arp__(&ctx, pf, in);
            add_classify__(&ctx, chain, in, chain->spi);
            classifies = true;
        }
        if (out != OFPP_NONE) {
            add_arp__(&ctx, pr, out);
            add_classify__(&ctx, chain, out, chain->reverse_spi);
            classifies = true;
        }
        add_steer__(&ctx, pf);
        add_steer__(&ctx, pr);
    }

    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct cfg_service *svc = &cfg->services[i];

        if (!used[i]) {
            continue;
        }
        add_groups__(&ctx, svc, i);
        for (size_t j = 0; j < svc->n_instances; j++) {
            const struct cfg_instance *inst = &svc->instances[j];
            ofp_port_t port = local_port__(&ctx, inst->switch_name,
                                           inst->port);

            if (port != OFPP_NONE) {
                add_flow__(d, PL_TABLE_CLASSIFY, PL_PRIO_PORT_DROP,
                           xasprintf("in_port=%"PRIu16, ofp_to_u16(port)),
                           xstrdup("drop"));
            }
        }
    }

    if (ctx.links) {
        for (size_t l = 0; l < cfg->n_links; l++) {
            for (size_t e = 0; e < 2; e++) {
                const struct cfg_endpoint *end = &cfg->links[l].ends[e];
                ofp_port_t port = local_port__(&ctx, end->switch_name,
                                               end->port);

                if (port == OFPP_NONE) {
                    continue;
                }
                add_flow__(d, PL_TABLE_CLASSIFY, PL_PRIO_STEER,
                           xasprintf("in_port=%"PRIu16","PL_NSH,
                                     ofp_to_u16(port)),
                           xasprintf("goto_table:%d", PL_TABLE_TRANSIT));
                add_flow__(d, PL_TABLE_CLASSIFY, PL_PRIO_PORT_DROP,
                           xasprintf("in_port=%"PRIu16, ofp_to_u16(port)),
                           xstrdup("drop"));
            }
        }
        add_transit__(&ctx, paths, 2 * cfg->n_chains, in_chain);
        add_flow__(d, PL_TABLE_TRANSIT, PL_PRIO_MISS, xstrdup(""),
                   xstrdup("drop"));
    }

    for (size_t i = 0; i < 2 * cfg->n_chains; i++) {
        free(orders[i]);
    }
    free(orders);
    free(paths);
    free(in_chain);
    free(used);

    if (classifies && cfg->classifier == CFG_CLASSIFIER_DP_HASH) {
        add_classify_group__(&ctx);
        add_flow__(d, PL_TABLE_CODE, PL_PRIO_MISS, xstrdup(""),
                   xstrdup("drop"));
    }
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
