/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "pipeline.h"

#include <stdlib.h>
#include <string.h>
#include "cfg.h"
#include "fabric.h"
#include "flow.h"
#include "flowset.h"
#include "ofconn.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-ed-props.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "packets.h"
#include "route.h"
#include "svcmap.h"
#include "util.h"

/* The register that carries the affinity code from the classifier to NSH
 * C1. */
#define PL_CODE_REG MFF_REG0

/* Priorities. */
#define PL_PRIO_BYPASS 200      /* ARP between a chain's endpoints. */
#define PL_PRIO_TRANSIT_END 110 /* A path's end, arriving on a link. */
#define PL_PRIO_REDIRECTED 105  /* Already redirected: no second time. */
#define PL_PRIO_STEER 100       /* Classification and steering. */
#define PL_PRIO_TRANSIT_FWD 50  /* Toward an instance, arriving on a link. */
#define PL_PRIO_PORT_DROP 10    /* Anything else from an instance port. */
#define PL_PRIO_MISS 0          /* Table miss: drop. */

/* Returns the group id of bucket 'bucket' of the service with index
 * 'service_idx' in the configuration. */
uint32_t
pl_group_id(size_t service_idx, uint32_t bucket)
{
    return ((uint32_t) (service_idx + 1) << 16) | bucket;
}

/* Matches and actions are built as libopenvswitch structures, the way
 * ovs-ofctl's parser would build them from the text in the comments. */

/* Sets field 'id' of 'm' to the 'n_bytes'-byte value 'value' (network
 * order) under 'mask' (NULL: exact). */
static void
match_field__(struct match *m, enum mf_field_id id, const void *value,
              const void *mask)
{
    const struct mf_field *mf = mf_from_id(id);
    union mf_value v, k;

    memset(&v, 0, sizeof v);
    memcpy(&v, value, mf->n_bytes);
    if (mask) {
        memset(&k, 0, sizeof k);
        memcpy(&k, mask, mf->n_bytes);
        mf_set(mf, &v, &k, m, NULL);
    } else {
        mf_set_value(mf, &v, m, NULL);
    }
}

/* "dl_type=0x894f,nsh_mdtype=1": the start of every NSH match (OVS ignores
 * nsh_c1 without nsh_mdtype=1). */
static void
match_nsh__(struct match *m)
{
    uint8_t md_type = NSH_M_TYPE1;

    match_set_dl_type(m, htons(ETH_TYPE_NSH));
    match_field__(m, MFF_NSH_MDTYPE, &md_type, NULL);
}

/* "dl_type=0x894f,nsh_mdtype=1,nsh_spi=SPI,nsh_si=SI". */
static void
match_nsh_hop__(struct match *m, uint32_t spi, uint8_t si)
{
    ovs_be32 spi_be = htonl(spi);

    match_nsh__(m);
    match_field__(m, MFF_NSH_SPI, &spi_be, NULL);
    match_field__(m, MFF_NSH_SI, &si, NULL);
}

/* "nsh_c1=BUCKET/MASK", the bucket's codes. */
static void
match_code__(struct match *m, uint32_t bucket, size_t n_buckets)
{
    ovs_be32 value = htonl(bucket), mask = htonl(n_buckets - 1);

    match_field__(m, MFF_NSH_C1, &value, &mask);
}

/* "set_field:VALUE->FIELD". */
static void
put_set_field__(struct ofpbuf *ofpacts, enum mf_field_id id,
                const void *value)
{
    const struct mf_field *mf = mf_from_id(id);
    union mf_value v;

    memset(&v, 0, sizeof v);
    memcpy(&v, value, mf->n_bytes);
    ofpact_put_set_field(ofpacts, mf, &v, NULL);
}

/* "output:PORT". */
static void
put_output__(struct ofpbuf *ofpacts, ofp_port_t port)
{
    ofpact_put_OUTPUT(ofpacts)->port = port;
}

/* "goto_table:TABLE". */
static void
put_goto__(struct ofpbuf *ofpacts, uint8_t table_id)
{
    ofpact_put_GOTO_TABLE(ofpacts)->table_id = table_id;
}

/* "resubmit(,TABLE)". */
static void
put_resubmit__(struct ofpbuf *ofpacts, uint8_t table_id)
{
    struct ofpact_resubmit *r = ofpact_put_RESUBMIT(ofpacts);

    r->in_port = OFPP_IN_PORT;
    r->table_id = table_id;
}

/* "group:GROUP". */
static void
put_group__(struct ofpbuf *ofpacts, uint32_t group_id)
{
    ofpact_put_GROUP(ofpacts)->group_id = group_id;
}

/* "move:SRC[SRC_OFS..]->DST[DST_OFS..]" of 'n_bits' bits. */
static void
put_move__(struct ofpbuf *ofpacts, enum mf_field_id src, enum mf_field_id dst,
           unsigned int n_bits)
{
    struct ofpact_reg_move *move = ofpact_put_REG_MOVE(ofpacts);

    move->src = (struct mf_subfield) { mf_from_id(src), 0, n_bits };
    move->dst = (struct mf_subfield) { mf_from_id(dst), 0, n_bits };
}

/* "encap(nsh(md_type=1))". */
static void
put_encap_nsh__(struct ofpbuf *ofpacts)
{
    struct ofpact_encap *encap = ofpact_put_ENCAP(ofpacts);
    struct ofpact_ed_prop_nsh_md_type *md;

    encap->new_pkt_type = htonl(PT_NSH);
    encap->hdr_size = 0;
    encap->n_props = 1;
    md = ofpbuf_put_zeros(ofpacts, sizeof *md);
    md->header.prop_class = OFPPPC_NSH;
    md->header.type = OFPPPT_PROP_NSH_MDTYPE;
    md->header.len = offsetof(struct ofp_ed_prop_nsh_md_type, pad);
    md->md_type = NSH_M_TYPE1;
    encap = ofpacts->header;
    ofpact_finish_ENCAP(ofpacts, &encap);
}

/* "encap(ethernet)". */
static void
put_encap_eth__(struct ofpbuf *ofpacts)
{
    struct ofpact_encap *encap = ofpact_put_ENCAP(ofpacts);

    encap->new_pkt_type = htonl(PT_ETH);
    encap->hdr_size = 0;
    encap->n_props = 0;
    ofpact_finish_ENCAP(ofpacts, &encap);
}

/* "decap()": the packet type follows from the removed header. */
static void
put_decap__(struct ofpbuf *ofpacts)
{
    ofpact_put_DECAP(ofpacts)->new_pkt_type = htonl(PT_USE_NEXT_PROTO);
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
    const struct fabric *fabric; /* Paths between switches. */
    size_t sw;                  /* The switch being generated. */
    struct svcmap *const *maps; /* One per service. */
    const struct shash *ports;  /* The switch's ports by name. */
    size_t n_buckets;
    bool links;                 /* The switch has links to others. */
    struct flowset *d;          /* The output. */
    struct ofpbuf ofpacts;      /* Actions being built. */
};

/* Adds the flow ('table_id', 'priority', 'm') with the actions built in
 * 'ctx->ofpacts' (none: drop), and clears them for the next flow.  A flow
 * with the same table, priority and match as an earlier one is dropped:
 * the first wins. */
static void
add_flow__(struct pl_ctx *ctx, uint8_t table_id, uint16_t priority,
           const struct match *m)
{
    flowset_add_flow(ctx->d, table_id, priority, m, ctx->ofpacts.data,
                     ctx->ofpacts.size);
    ofpbuf_clear(&ctx->ofpacts);
}

/* Adds the flow ('table_id', 'priority', "in_port=PORT") with the actions
 * in 'ctx->ofpacts', as add_flow__(). */
static void
add_port_flow__(struct pl_ctx *ctx, uint8_t table_id, uint16_t priority,
                ofp_port_t port)
{
    struct match m;

    match_init_catchall(&m);
    match_set_in_port(&m, port);
    add_flow__(ctx, table_id, priority, &m);
}

/* Adds the table-miss flow of 'table_id': drop. */
static void
add_miss__(struct pl_ctx *ctx, uint8_t table_id)
{
    struct match m;

    match_init_catchall(&m);
    ofpbuf_clear(&ctx->ofpacts);
    add_flow__(ctx, table_id, PL_PRIO_MISS, &m);
}

/* Returns the number of port 'port' of switch 'sw', if that is the switch
 * being generated and it has the port; otherwise OFPP_NONE. */
static ofp_port_t
local_port__(const struct pl_ctx *ctx, size_t sw, const char *port)
{
    return sw != ctx->sw ? OFPP_NONE : port_no__(ctx->ports, port);
}

/* Returns the port by which the switch being generated sends toward switch
 * 'sw' (another one), or OFPP_NONE if no link leads there or the port is
 * missing. */
static ofp_port_t
toward__(const struct pl_ctx *ctx, size_t sw)
{
    const char *port = fabric_next_port(ctx->fabric, ctx->sw, sw);

    return port ? port_no__(ctx->ports, port) : OFPP_NONE;
}

/* Returns the port by which the switch being generated reaches port 'port'
 * of switch 'sw': that port itself if it is local, else the link toward
 * 'sw'. */
static ofp_port_t
reach__(const struct pl_ctx *ctx, size_t sw, const char *port)
{
    return sw != ctx->sw ? toward__(ctx, sw) : port_no__(ctx->ports, port);
}

/* Returns true if switch 'sw' holds an instance of service 'svc'. */
static bool
hosts__(const struct cfg_service *svc, size_t sw)
{
    for (size_t i = 0; i < svc->n_instances; i++) {
        if (svc->instances[i].sw == sw) {
            return true;
        }
    }
    return false;
}

/* Appends to 'buckets' the fast-failover bucket that sends to 'inst' by
 * 'port': "bucket=watch_port:PORT,actions=set_field:MAC->eth_dst,
 * output:PORT", with bucket id 'bucket_id'. */
static void
put_bucket__(struct ovs_list *buckets, const struct cfg_instance *inst,
             ofp_port_t port, uint32_t bucket_id)
{
    struct ofputil_bucket *bucket = xzalloc(sizeof *bucket);
    uint64_t stub[64 / 8];
    struct ofpbuf ofpacts;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    put_set_field__(&ofpacts, MFF_ETH_DST, &inst->mac);
    put_output__(&ofpacts, port);
    bucket->weight = 0;
    bucket->watch_port = port;
    bucket->watch_group = OFPG_ANY;
    bucket->bucket_id = bucket_id;
    bucket->ofpacts_len = ofpacts.size;
    bucket->ofpacts = xmemdup(ofpacts.data, ofpacts.size);
    ovs_list_push_back(buckets, &bucket->list_node);
    ofpbuf_uninit(&ofpacts);
}

/* Adds the group of bucket 'b' of service 'svc' (index 'idx'). */
static void
add_group__(struct pl_ctx *ctx, const struct cfg_service *svc, size_t idx,
            uint32_t b)
{
    const struct svcmap_bucket *bucket = &ctx->maps[idx]->buckets[b];
    int members[2] = { bucket->primary, bucket->secondary };
    struct ovs_list buckets;
    uint32_t n = 0;

    ovs_list_init(&buckets);
    for (int i = 0; i < 2; i++) {
        const struct cfg_instance *inst;
        ofp_port_t port;

        if (members[i] == SVCMAP_NONE) {
            continue;
        }
        inst = &svc->instances[members[i]];
        port = reach__(ctx, inst->sw, inst->port);
        if (port != OFPP_NONE) {
            put_bucket__(&buckets, inst, port, n++);
        }
    }
    flowset_add_group(ctx->d, pl_group_id(idx, b), OFPGT11_FF, NULL,
                      &buckets);
}

/* Adds the groups of service 'svc' (index 'idx'). */
static void
add_groups__(struct pl_ctx *ctx, const struct cfg_service *svc, size_t idx)
{
    for (uint32_t b = 0; b < ctx->maps[idx]->n_buckets; b++) {
        add_group__(ctx, svc, idx, b);
    }
}

/* Puts into 'ctx->ofpacts' the actions that give a frame, its affinity
 * code already in PL_CODE_REG, the NSH header of 'spi' (SI 255, C1 = the
 * code) and an outer Ethernet header, and take it to the steering table:
 * "encap(nsh(md_type=1)),set_field:SPI->nsh_spi,set_field:255->nsh_si,
 * move:NXM_NX_REG0[]->NXOXM_NSH_C1[],encap(ethernet)", then
 * "goto_table:1" or, if 'resubmit' (from the code table, which lies beyond
 * it), "resubmit(,1)". */
static void
put_push__(struct pl_ctx *ctx, uint32_t spi, bool resubmit)
{
    ovs_be32 spi_be = htonl(spi);
    uint8_t si = 255;

    put_encap_nsh__(&ctx->ofpacts);
    put_set_field__(&ctx->ofpacts, MFF_NSH_SPI, &spi_be);
    put_set_field__(&ctx->ofpacts, MFF_NSH_SI, &si);
    put_move__(&ctx->ofpacts, PL_CODE_REG, MFF_NSH_C1, 32);
    put_encap_eth__(&ctx->ofpacts);
    if (resubmit) {
        put_resubmit__(&ctx->ofpacts, PL_TABLE_STEER);
    } else {
        put_goto__(&ctx->ofpacts, PL_TABLE_STEER);
    }
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
add_classify__(struct pl_ctx *ctx, const struct cfg_chain *chain,
               ofp_port_t port, uint32_t spi)
{
    struct match m = chain->extra;

    match_set_in_port(&m, port);
    if (ctx->cfg->classifier == CFG_CLASSIFIER_DP_HASH) {
        put_push__(ctx, spi, true);
        add_port_flow__(ctx, PL_TABLE_CODE, PL_PRIO_STEER, port);
        put_group__(&ctx->ofpacts, PL_CLASSIFY_GROUP_ID);
    } else {
        /* "multipath(symmetric_l3l4+udp,1024,modulo_n,N,0,
         * NXM_NX_REG0[0..15])". */
        struct ofpact_multipath *mp = ofpact_put_MULTIPATH(&ctx->ofpacts);

        mp->fields = NX_HASH_FIELDS_SYMMETRIC_L3L4_UDP;
        mp->basis = 1024;
        mp->algorithm = NX_MP_ALG_MODULO_N;
        mp->max_link = ctx->n_buckets - 1;
        mp->arg = 0;
        mp->dst = (struct mf_subfield) { mf_from_id(PL_CODE_REG), 0, 16 };
        put_push__(ctx, spi, false);
    }
    add_flow__(ctx, PL_TABLE_CLASSIFY, PL_PRIO_STEER, &m);
}

/* Adds the classifier group, for "classifier: dp-hash": a select group
 * whose selection method is the datapath's hash, algorithm
 * OVS_HASH_ALG_SYM_L4 (1, in the upper 32 bits of the parameter; basis 0 in
 * the lower), with one bucket, which every hash value picks: "actions=
 * move:NXM_NX_DP_HASH[0..B-1]->NXM_NX_REG0[0..B-1],resubmit(,3)".  The
 * code is the hash's low 'cfg->bucket_bits' bits (bucket_bits from 1 to
 * 14, within the 16 bits of the register that NSH C1 receives).
 *
 * OpenFlow 1.3 and 1.4 cannot carry the selection method; OVS 3.1 then
 * picks dp_hash with OVS_HASH_ALG_SYM_L4 and basis 0 by itself for a group
 * of one bucket, so the group works the same on either. */
static void
add_classify_group__(struct pl_ctx *ctx)
{
    struct ofputil_bucket *bucket = xzalloc(sizeof *bucket);
    struct ofputil_group_props props;
    struct ovs_list buckets;

    put_move__(&ctx->ofpacts, MFF_DP_HASH, PL_CODE_REG,
               ctx->cfg->bucket_bits);
    put_resubmit__(&ctx->ofpacts, PL_TABLE_CODE);
    bucket->weight = 1;
    bucket->watch_port = OFPP_ANY;
    bucket->watch_group = OFPG_ANY;
    bucket->bucket_id = 0;
    bucket->ofpacts_len = ctx->ofpacts.size;
    bucket->ofpacts = xmemdup(ctx->ofpacts.data, ctx->ofpacts.size);
    ofpbuf_clear(&ctx->ofpacts);
    ovs_list_init(&buckets);
    ovs_list_push_back(&buckets, &bucket->list_node);

    memset(&props, 0, sizeof props);
    ovs_strlcpy(props.selection_method, "dp_hash",
                sizeof props.selection_method);
    props.selection_method_param = (uint64_t) 1 << 32;
    flowset_add_group(ctx->d, PL_CLASSIFY_GROUP_ID, OFPGT11_SELECT, &props,
                      &buckets);
}

/* One direction of a chain. */
struct pl_path {
    uint32_t spi;
    const size_t *order;        /* Indexes into cfg->services, in order. */
    size_t n;                   /* Number of services. */
    const struct cfg_endpoint *from; /* Where it is classified. */
    const struct cfg_endpoint *to;   /* Where it leaves the chain. */
};

/* Puts into 'ctx->ofpacts' the actions that take a frame of 'path' that
 * has crossed all its services to its exit ("decap(),decap(),output:PORT"
 * here, "output:LINK" toward another switch) and returns true, or returns
 * false if the switch being generated cannot. */
static bool
put_end__(struct pl_ctx *ctx, const struct pl_path *path)
{
    ofp_port_t out;

    if (path->to->sw == ctx->sw) {
        out = port_no__(ctx->ports, path->to->port);
        if (out == OFPP_NONE) {
            return false;
        }
        put_decap__(&ctx->ofpacts);
        put_decap__(&ctx->ofpacts);
    } else {
        out = toward__(ctx, path->to->sw);
        if (out == OFPP_NONE) {
            return false;
        }
    }
    put_output__(&ctx->ofpacts, out);
    return true;
}

/* Initializes 'm' to the frames of 'path' that have crossed all its
 * services. */
static void
end_match__(struct match *m, const struct pl_path *path)
{
    match_init_catchall(m);
    match_nsh_hop__(m, path->spi, 255 - path->n);
}

/* Adds the steering of 'path' on the switch being generated: each hop
 * where a frame of the path can be on this switch (classified here, or
 * returned by an instance here) picks the group of its next service, and
 * the frames that have crossed every service leave (or head for the switch
 * where they leave). */
static void
add_steer__(struct pl_ctx *ctx, const struct pl_path *path)
{
    const struct sfm_config *cfg = ctx->cfg;
    bool here = path->from->sw == ctx->sw;

    for (size_t hop = 0; hop <= path->n; hop++) {
        unsigned int si = 255 - hop;
        struct match m;

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
                ofp_port_t port = local_port__(ctx, inst->sw, inst->port);

                here = here || inst->sw == ctx->sw;
                if (port == OFPP_NONE) {
                    continue;
                }
                match_init_catchall(&m);
                match_set_in_port(&m, port);
                match_nsh_hop__(&m, path->spi, si);
                if (ctx->links) {
                    put_set_field__(&ctx->ofpacts, MFF_ETH_SRC, &inst->mac);
                }
                put_goto__(&ctx->ofpacts, PL_TABLE_STEER);
                add_flow__(ctx, PL_TABLE_CLASSIFY, PL_PRIO_STEER, &m);
            }
        }
        if (!here) {
            continue;
        }

        if (hop == path->n) {
            if (put_end__(ctx, path)) {
                end_match__(&m, path);
                add_flow__(ctx, PL_TABLE_STEER, PL_PRIO_STEER, &m);
            }
            continue;
        }
        for (uint32_t b = 0; b < ctx->n_buckets; b++) {
            match_init_catchall(&m);
            match_nsh_hop__(&m, path->spi, si);
            match_code__(&m, b, ctx->n_buckets);
            put_group__(&ctx->ofpacts, pl_group_id(path->order[hop], b));
            add_flow__(ctx, PL_TABLE_STEER, PL_PRIO_STEER, &m);
        }
    }
}

/* Adds what a chain's ARP needs on the switch being generated, entering
 * at 'from' and leaving at 'to': straight across if both are here,
 * otherwise carried in NSH as a frame of 'path' that has crossed all its
 * services, so that it follows the path's exit. */
static void
add_arp__(struct pl_ctx *ctx, const struct pl_path *path, ofp_port_t in)
{
    struct match m;

    if (path->to->sw == ctx->sw) {
        ofp_port_t out = port_no__(ctx->ports, path->to->port);

        if (out == OFPP_NONE) {
            return;
        }
        put_output__(&ctx->ofpacts, out);
    } else {
        ofp_port_t out = toward__(ctx, path->to->sw);
        ovs_be32 spi = htonl(path->spi);
        uint8_t si = 255 - path->n;

        if (out == OFPP_NONE) {
            return;
        }
        put_encap_nsh__(&ctx->ofpacts);
        put_set_field__(&ctx->ofpacts, MFF_NSH_SPI, &spi);
        put_set_field__(&ctx->ofpacts, MFF_NSH_SI, &si);
        put_encap_eth__(&ctx->ofpacts);
        put_output__(&ctx->ofpacts, out);
    }
    match_init_catchall(&m);
    match_set_in_port(&m, in);
    match_set_dl_type(&m, htons(ETH_TYPE_ARP));
    add_flow__(ctx, PL_TABLE_CLASSIFY, PL_PRIO_BYPASS, &m);
}

/* Returns true if frames of bucket 'b' for the local instance with index
 * 'j' in 'map', whose port is 'live' or not, take the bucket's group in the
 * transit table (see add_transit__()): if the instance is the bucket's
 * primary, or its port is not live. */
static bool
redirects__(const struct svcmap *map, uint32_t b, size_t j, bool live)
{
    return !live || map->buckets[b].primary == (int) j;
}

/* Adds to 'd' the transit flow that sends frames of bucket 'b' for local
 * instance 'inst' of service 'i' into the bucket's group: "dl_dst=MAC,
 * nsh_c1=B/MASK actions=dec_nsh_ttl,set_field:REDIRECT->eth_src,
 * set_field:0->in_port,group:G".  The group may send the frame back over
 * the link it came by, which OpenFlow allows only from another in_port.
 * With 'd' a set of keys to delete, the actions are left out. */
static void
add_redirect__(struct pl_ctx *ctx, struct flowset *d,
               const struct cfg_instance *inst, size_t i, uint32_t b)
{
    struct eth_addr redirect;
    bool ok = eth_addr_from_string(CFG_REDIRECT_MAC, &redirect);
    uint16_t in_port = 0;
    struct match m;

    ovs_assert(ok);
    match_init_catchall(&m);
    match_nsh__(&m);
    match_set_dl_dst(&m, inst->mac);
    match_code__(&m, b, ctx->n_buckets);
    if (d == ctx->d) {
        ofpact_put_DEC_NSH_TTL(&ctx->ofpacts);
        put_set_field__(&ctx->ofpacts, MFF_ETH_SRC, &redirect);
        put_set_field__(&ctx->ofpacts, MFF_IN_PORT, &in_port);
        put_group__(&ctx->ofpacts, pl_group_id(i, b));
    }
    flowset_add_flow(d, PL_TABLE_TRANSIT, PL_PRIO_STEER, &m,
                     ctx->ofpacts.data, ctx->ofpacts.size);
    ofpbuf_clear(&ctx->ofpacts);
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
add_transit__(struct pl_ctx *ctx, const struct pl_path *paths,
              size_t n_paths, const bool *in_chain)
{
    const struct sfm_config *cfg = ctx->cfg;
    struct eth_addr redirect;
    bool ok = eth_addr_from_string(CFG_REDIRECT_MAC, &redirect);

    ovs_assert(ok);
    for (size_t i = 0; i < n_paths; i++) {
        if (put_end__(ctx, &paths[i])) {
            struct match m;

            end_match__(&m, &paths[i]);
            add_flow__(ctx, PL_TABLE_TRANSIT, PL_PRIO_TRANSIT_END, &m);
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
            ofp_port_t port = reach__(ctx, inst->sw, inst->port);
            bool local = inst->sw == ctx->sw;
            bool live = false;
            struct match m;

            if (port == OFPP_NONE) {
                continue;
            }
            if (local) {
                const struct ofputil_phy_port *pp;

                pp = shash_find_data(ctx->ports, inst->port);
                live = ofconn_port_is_live(pp);
            }
            /* "dl_dst=MAC actions=output:PORT". */
            match_init_catchall(&m);
            match_nsh__(&m);
            match_set_dl_dst(&m, inst->mac);
            put_output__(&ctx->ofpacts, port);
            add_flow__(ctx, PL_TABLE_TRANSIT, PL_PRIO_TRANSIT_FWD, &m);
            if (!local) {
                continue;
            }
            /* "dl_src=REDIRECT,dl_dst=MAC actions=output:PORT". */
            match_set_dl_src(&m, redirect);
            put_output__(&ctx->ofpacts, port);
            add_flow__(ctx, PL_TABLE_TRANSIT, PL_PRIO_REDIRECTED, &m);
            for (uint32_t b = 0; b < map->n_buckets; b++) {
                if (redirects__(map, b, j, live)) {
                    add_redirect__(ctx, ctx->d, inst, i, b);
                }
            }
        }
    }
}

/* Returns true if switch 'sw' takes part in 'chain': it holds one of its
 * endpoints or an instance of one of its services. */
static bool
takes_part__(const struct sfm_config *cfg, const struct cfg_chain *chain,
             size_t sw)
{
    if (chain->ingress.sw == sw || chain->egress.sw == sw) {
        return true;
    }
    for (size_t i = 0; i < chain->n_services; i++) {
        if (hosts__(&cfg->services[chain->services[i]], sw)) {
            return true;
        }
    }
    return false;
}

/* Sets, for each service of 'cfg', 'in_chain[i]' if a chain goes through
 * it, and 'used[i]' if such a chain also involves switch 'sw' (then 'sw'
 * has the service's groups). */
static void
services_used__(const struct sfm_config *cfg, size_t sw, bool *used,
                bool *in_chain)
{
    for (size_t c = 0; c < cfg->n_chains; c++) {
        const struct cfg_chain *chain = &cfg->chains[c];
        bool part = takes_part__(cfg, chain, sw);

        for (size_t k = 0; k < chain->n_services; k++) {
            size_t i = chain->services[k];

            in_chain[i] = true;
            used[i] = used[i] || part;
        }
    }
}

/* Generates into 'd' (initialized by the caller) the flows and groups of
 * switch 'sw' (an index in cfg->switches) for configuration 'cfg', the
 * paths between switches of 'fabric' (of 'cfg'), the service maps 'maps'
 * (one per service, in the order of cfg->services) and the switch's ports
 * 'ports' (port name to "const struct ofputil_phy_port *").  What needs a
 * missing port is left out: the classification of a chain endpoint, an
 * instance's group bucket, the way toward another switch. */
void
pl_generate(const struct sfm_config *cfg, const struct fabric *fabric,
            size_t sw, struct svcmap *const *maps,
            const struct shash *ports, struct flowset *d)
{
    struct pl_ctx ctx = {
        .cfg = cfg, .fabric = fabric, .sw = sw, .maps = maps,
        .ports = ports, .n_buckets = cfg_n_buckets(cfg), .d = d,
        .links = fabric_has_links(fabric, sw),
    };
    size_t n = MAX(cfg->n_services, 1);
    bool *used = xcalloc(n, sizeof *used);
    bool *in_chain = xcalloc(n, sizeof *in_chain);
    struct pl_path *paths = xmalloc(MAX(2 * cfg->n_chains, 1)
                                    * sizeof *paths);
    size_t **orders = xmalloc(MAX(2 * cfg->n_chains, 1) * sizeof *orders);
    bool classifies = false;
    uint64_t stub[1024 / 8];

    ofpbuf_use_stub(&ctx.ofpacts, stub, sizeof stub);
    services_used__(cfg, sw, used, in_chain);
    for (size_t c = 0; c < cfg->n_chains; c++) {
        const struct cfg_chain *chain = &cfg->chains[c];
        bool part = takes_part__(cfg, chain, sw);
        size_t *fwd = xmalloc(chain->n_services * sizeof *fwd);
        size_t *rev = xmalloc(chain->n_services * sizeof *rev);
        struct pl_path *pf = &paths[2 * c], *pr = &paths[2 * c + 1];
        ofp_port_t in, out;

        for (size_t i = 0; i < chain->n_services; i++) {
            fwd[i] = chain->services[i];
            rev[chain->n_services - 1 - i] = fwd[i];
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

        in = local_port__(&ctx, chain->ingress.sw, chain->ingress.port);
        out = local_port__(&ctx, chain->egress.sw, chain->egress.port);
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
            ofp_port_t port = local_port__(&ctx, inst->sw, inst->port);

            if (port != OFPP_NONE) {
                add_port_flow__(&ctx, PL_TABLE_CLASSIFY, PL_PRIO_PORT_DROP,
                                port);
            }
        }
    }

    if (ctx.links) {
        for (size_t l = 0; l < cfg->n_links; l++) {
            for (size_t e = 0; e < 2; e++) {
                const struct cfg_endpoint *end = &cfg->links[l].ends[e];
                ofp_port_t port = local_port__(&ctx, end->sw, end->port);
                struct match m;

                if (port == OFPP_NONE) {
                    continue;
                }
                match_init_catchall(&m);
                match_set_in_port(&m, port);
                match_nsh__(&m);
                put_goto__(&ctx.ofpacts, PL_TABLE_TRANSIT);
                add_flow__(&ctx, PL_TABLE_CLASSIFY, PL_PRIO_STEER, &m);
                add_port_flow__(&ctx, PL_TABLE_CLASSIFY, PL_PRIO_PORT_DROP,
                                port);
            }
        }
        add_transit__(&ctx, paths, 2 * cfg->n_chains, in_chain);
        add_miss__(&ctx, PL_TABLE_TRANSIT);
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
        add_miss__(&ctx, PL_TABLE_CODE);
    }
    add_miss__(&ctx, PL_TABLE_CLASSIFY);
    add_miss__(&ctx, PL_TABLE_STEER);
    ofpbuf_uninit(&ctx.ofpacts);
}

/* What the last full generation or update of a switch's pipeline worked
 * from, to tell what an update changes. */
struct pl_state {
    bool valid;                 /* A full generation happened. */
    const struct sfm_config *cfg; /* The configuration it used. */
    size_t sw;                  /* The switch, in cfg->switches. */
    char *ports;                /* Its ports' names and numbers, as text. */
    struct route_table routes;  /* The paths between switches. */
    size_t n_buckets;           /* Buckets per service. */
    size_t n_services;          /* cfg->n_services. */
    struct svcmap_bucket **buckets; /* Per service: each bucket as it was. */
    bool **live;                /* Per service: each instance's port was
                                 * live (local instances only). */
};

/* Creates the pipeline state of a switch; its first update is a full
 * generation. */
struct pl_state *
pl_state_create(void)
{
    return xzalloc(sizeof(struct pl_state));
}

static void
state_clear__(struct pl_state *pl)
{
    for (size_t i = 0; i < pl->n_services; i++) {
        free(pl->buckets[i]);
        free(pl->live[i]);
    }
    free(pl->buckets);
    free(pl->live);
    free(pl->ports);
    free(pl->routes.next);
    memset(pl, 0, sizeof *pl);
}

/* Frees 'pl'.  Accepts NULL. */
void
pl_state_destroy(struct pl_state *pl)
{
    if (pl) {
        state_clear__(pl);
        free(pl);
    }
}

/* Returns the names and numbers of 'ports', as text in name order. */
static char *
ports_text__(const struct shash *ports)
{
    const struct shash_node **nodes = shash_sort(ports);
    struct ds s = DS_EMPTY_INITIALIZER;
    size_t n = shash_count(ports);

    for (size_t i = 0; i < n; i++) {
        const struct ofputil_phy_port *pp = nodes[i]->data;

        ds_put_format(&s, "%s=%"PRIu16";", nodes[i]->name,
                      ofp_to_u16(pp->port_no));
    }
    free(nodes);
    return ds_steal_cstr(&s);
}

/* Returns true if the port of local instance 'inst' exists and is live. */
static bool
inst_live__(const struct pl_ctx *ctx, const struct cfg_instance *inst)
{
    const struct ofputil_phy_port *pp = shash_find_data(ctx->ports,
                                                        inst->port);
    return pp && ofconn_port_is_live(pp);
}

/* Remembers in 'pl' the inputs of 'ctx' that updates compare with. */
static void
remember__(struct pl_state *pl, const struct pl_ctx *ctx, char *ports_text)
{
    const struct sfm_config *cfg = ctx->cfg;

    state_clear__(pl);
    pl->valid = true;
    pl->cfg = cfg;
    const struct route_table *rt = fabric_routes(ctx->fabric);

    pl->sw = ctx->sw;
    pl->ports = ports_text;
    pl->routes.n_switches = rt->n_switches;
    pl->routes.next = xmemdup(rt->next, MAX(1, rt->n_switches
                                               * rt->n_switches)
                              * sizeof *pl->routes.next);
    pl->n_buckets = ctx->n_buckets;
    pl->n_services = cfg->n_services;
    pl->buckets = xcalloc(MAX(cfg->n_services, 1), sizeof *pl->buckets);
    pl->live = xcalloc(MAX(cfg->n_services, 1), sizeof *pl->live);
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct cfg_service *svc = &cfg->services[i];

        pl->buckets[i] = xmemdup(ctx->maps[i]->buckets,
                                 ctx->n_buckets * sizeof *pl->buckets[i]);
        pl->live[i] = xcalloc(MAX(svc->n_instances, 1), sizeof *pl->live[i]);
        for (size_t j = 0; j < svc->n_instances; j++) {
            const struct cfg_instance *inst = &svc->instances[j];

            pl->live[i][j] = inst->sw == ctx->sw && inst_live__(ctx, inst);
        }
    }
}

/* Returns true if the inputs that only a full generation handles are the
 * same in 'ctx' (with ports 'ports_text') as in 'pl'. */
static bool
same_frame__(const struct pl_state *pl, const struct pl_ctx *ctx,
             const char *ports_text)
{
    const struct route_table *rt = fabric_routes(ctx->fabric);

    return (pl->valid && pl->cfg == ctx->cfg && pl->sw == ctx->sw
            && pl->n_buckets == ctx->n_buckets
            && !strcmp(pl->ports, ports_text)
            && pl->routes.n_switches == rt->n_switches
            && !memcmp(pl->routes.next, rt->next,
                       rt->n_switches * rt->n_switches * sizeof *rt->next));
}

/* Brings the desired state of switch 'sw' up to date, as
 * pl_generate() computes it from the same arguments, with as little work
 * as the change needs.
 *
 * If what changed since the last call with 'pl' is only the service maps'
 * buckets and the liveness of the switch's ports (what an instance's
 * failure, a repair and a handoff change), adds to 'put' the groups and
 * flows that are new or differ and to 'del' the keys of the flows that go,
 * and returns false: the work is proportional to the buckets that changed.
 * Otherwise (the first call, a new configuration, ports added, removed or
 * renumbered, paths between switches changed) generates the whole desired
 * state into 'full' and returns true.  'full', 'put' and 'del' are
 * initialized by the caller. */
bool
pl_update(struct pl_state *pl, const struct sfm_config *cfg,
          const struct fabric *fabric, size_t sw,
          struct svcmap *const *maps, const struct shash *ports,
          struct flowset *full, struct flowset *put, struct flowset *del)
{
    struct pl_ctx ctx = {
        .cfg = cfg, .fabric = fabric, .sw = sw, .maps = maps,
        .ports = ports, .n_buckets = cfg_n_buckets(cfg), .d = put,
        .links = fabric_has_links(fabric, sw),
    };
    char *ports_text = ports_text__(ports);
    size_t n = MAX(cfg->n_services, 1);
    bool *used, *in_chain;
    uint64_t stub[1024 / 8];

    if (!same_frame__(pl, &ctx, ports_text)) {
        pl_generate(cfg, fabric, sw, maps, ports, full);
        ctx.d = full;
        remember__(pl, &ctx, ports_text);
        return true;
    }
    free(ports_text);

    used = xcalloc(n, sizeof *used);
    in_chain = xcalloc(n, sizeof *in_chain);
    services_used__(cfg, sw, used, in_chain);
    ofpbuf_use_stub(&ctx.ofpacts, stub, sizeof stub);
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct cfg_service *svc = &cfg->services[i];
        const struct svcmap *map = maps[i];
        struct svcmap_bucket *old = pl->buckets[i];
        bool transit = ctx.links && in_chain[i];
        bool *live = xcalloc(MAX(svc->n_instances, 1), sizeof *live);

        for (size_t j = 0; j < svc->n_instances; j++) {
            const struct cfg_instance *inst = &svc->instances[j];

            live[j] = inst->sw == sw && inst_live__(&ctx, inst);
        }
        for (uint32_t b = 0; b < ctx.n_buckets; b++) {
            const struct svcmap_bucket *now = &map->buckets[b];

            if (used[i] && (now->primary != old[b].primary
                            || now->secondary != old[b].secondary)) {
                add_group__(&ctx, svc, i, b);
            }
            for (size_t j = 0; transit && j < svc->n_instances; j++) {
                const struct cfg_instance *inst = &svc->instances[j];
                bool was, is;

                if (inst->sw != sw
                    || reach__(&ctx, inst->sw, inst->port)
                       == OFPP_NONE) {
                    continue;
                }
                was = (!pl->live[i][j]
                       || old[b].primary == (int) j);
                is = redirects__(map, b, j, live[j]);
                if (was != is) {
                    add_redirect__(&ctx, is ? put : del, inst, i, b);
                }
            }
            old[b] = *now;
        }
        memcpy(pl->live[i], live, svc->n_instances * sizeof *live);
        free(live);
    }
    ofpbuf_uninit(&ctx.ofpacts);
    free(used);
    free(in_chain);
    return false;
}
