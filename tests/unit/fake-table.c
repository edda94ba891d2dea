/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "fake-table.h"

#include <stdlib.h>
#include <string.h>
#include "multipath.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "util.h"

void
fake_table_init(struct fake_table *t)
{
    memset(t, 0, sizeof *t);
    flowset_init(&t->set);
    ovs_list_init(&t->bundle);
}

static void
discard_bundle__(struct fake_table *t)
{
    struct ofpbuf *b;

    LIST_FOR_EACH_POP (b, list_node, &t->bundle) {
        ofpbuf_delete(b);
    }
    t->bundle_open = false;
}

void
fake_table_destroy(struct fake_table *t)
{
    discard_bundle__(t);
    flowset_destroy(&t->set);
}

/* Returns an error if an action among 'ofpacts' points to a group that
 * 'set' does not have. */
static enum ofperr
check_groups__(const struct flowset *set, const struct ofpact *ofpacts,
               size_t ofpacts_len)
{
    const struct ofpact *a;

    OFPACT_FOR_EACH_FLATTENED (a, ofpacts, ofpacts_len) {
        if (a->type == OFPACT_GROUP
            && !flowset_find_group(set, ofpact_get_GROUP(a)->group_id)) {
            return OFPERR_OFPBAC_BAD_OUT_GROUP;
        }
    }
    return 0;
}

static enum ofperr
apply_flow_mod__(struct fake_table *t, struct flowset *set,
                 const struct ofp_header *oh)
{
    enum ofputil_protocol protocol
        = ofputil_protocol_from_ofp_version(oh->version);
    struct ofputil_flow_mod fm;
    struct flowset_flow *old;
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts;
    enum ofperr error;
    struct match match;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    error = ofputil_decode_flow_mod(&fm, oh, protocol, NULL, NULL, &ofpacts,
                                    OFPP_MAX, 255);
    if (error) {
        ofpbuf_uninit(&ofpacts);
        return error;
    }
    old = flowset_find_flow(set, fm.table_id, fm.priority, &fm.match,
                            flowset_flow_hash(fm.table_id, fm.priority,
                                              &fm.match));
    switch (fm.command) {
    case OFPFC_ADD:
    case OFPFC_MODIFY_STRICT:
        if (fm.command == OFPFC_MODIFY_STRICT && !old) {
            /* The reconciler modifies only flows it saw installed. */
            error = OFPERR_OFPFMFC_UNKNOWN;
            break;
        }
        error = check_groups__(set, fm.ofpacts, fm.ofpacts_len);
        if (error) {
            break;
        }
        if (old) {
            flowset_remove_flow(set, old);
        }
        minimatch_expand(&fm.match, &match);
        flowset_add_flow(set, fm.table_id, fm.priority, &match, fm.ofpacts,
                         fm.ofpacts_len);
        t->n_changes++;
        break;

    case OFPFC_DELETE_STRICT:
        if (old) {
            flowset_remove_flow(set, old);
            t->n_changes++;
        }
        break;

    default:
        error = OFPERR_OFPFMFC_BAD_COMMAND;
        break;
    }
    minimatch_destroy(&fm.match);
    ofpbuf_uninit(&ofpacts);
    return error;
}

static enum ofperr
apply_group_mod__(struct fake_table *t, struct flowset *set,
                  const struct ofp_header *oh)
{
    struct ofputil_group_mod gm;
    struct flowset_group *old;
    struct ofputil_bucket *bucket;
    enum ofperr error;

    error = ofputil_decode_group_mod(oh, &gm);
    if (error) {
        return error;
    }
    old = flowset_find_group(set, gm.group_id);
    switch (gm.command) {
    case OFPGC11_ADD:
    case OFPGC11_MODIFY:
        if (gm.command == OFPGC11_ADD && old) {
            error = OFPERR_OFPGMFC_GROUP_EXISTS;
            break;
        }
        if (gm.command == OFPGC11_MODIFY && !old) {
            error = OFPERR_OFPGMFC_UNKNOWN_GROUP;
            break;
        }
        LIST_FOR_EACH (bucket, list_node, &gm.buckets) {
            error = check_groups__(set, bucket->ofpacts,
                                   bucket->ofpacts_len);
            if (error) {
                break;
            }
        }
        if (error) {
            break;
        }
        if (old) {
            flowset_remove_group(set, old);
        }
        flowset_add_group(set, gm.group_id, gm.type, &gm.props,
                          &gm.buckets);
        t->n_changes++;
        break;

    case OFPGC11_DELETE:
        if (old) {
            struct flowset_flow *f;

            /* OpenFlow: deleting a group deletes the flows that use it. */
            HMAP_FOR_EACH_SAFE (f, hmap_node, &set->flows) {
                if (ofpacts_output_to_group(f->ofpacts, f->ofpacts_len,
                                            gm.group_id)) {
                    flowset_remove_flow(set, f);
                }
            }
            flowset_remove_group(set, old);
            t->n_changes++;
        }
        break;

    default:
        error = OFPERR_OFPGMFC_BAD_COMMAND;
        break;
    }
    ofputil_uninit_group_mod(&gm);
    return error;
}

static enum ofperr
apply__(struct fake_table *t, struct flowset *set, const struct ofp_header *oh)
{
    enum ofptype type;
    enum ofperr error = ofptype_decode(&type, oh);

    if (error) {
        return error;
    }
    switch (type) {
    case OFPTYPE_FLOW_MOD:
        return apply_flow_mod__(t, set, oh);
    case OFPTYPE_GROUP_MOD:
        return apply_group_mod__(t, set, oh);
    default:
        return OFPERR_OFPBFC_MSG_UNSUP;
    }
}

/* Applies message 'oh', as a switch would: flow and group mods at once,
 * bundle-add messages into the open bundle, a bundle commit atomically
 * (all or, on the first error, nothing).  Other messages are left to the
 * caller.  Returns 0 or the error the switch would reply with. */
enum ofperr
fake_table_receive(struct fake_table *t, const struct ofp_header *oh)
{
    enum ofptype type;
    enum ofperr error = ofptype_decode(&type, oh);

    if (error) {
        return error;
    }
    switch (type) {
    case OFPTYPE_FLOW_MOD:
    case OFPTYPE_GROUP_MOD:
        return apply__(t, &t->set, oh);

    case OFPTYPE_BUNDLE_CONTROL: {
        struct ofputil_bundle_ctrl_msg bc;
        struct flowset copy;
        struct ofpbuf *b;

        error = ofputil_decode_bundle_ctrl(oh, &bc);
        if (error) {
            return error;
        }
        if (bc.type == OFPBCT_OPEN_REQUEST) {
            if (t->bundle_open) {
                return OFPERR_OFPBFC_BAD_ID;
            }
            t->bundle_open = true;
            return 0;
        }
        if (bc.type != OFPBCT_COMMIT_REQUEST) {
            t->n_discards += bc.type == OFPBCT_DISCARD_REQUEST;
            discard_bundle__(t);
            return 0;
        }
        if (!t->bundle_open) {
            return OFPERR_OFPBFC_BAD_ID;
        }
        flowset_init(&copy);
        flowset_clone(&copy, &t->set);
        LIST_FOR_EACH (b, list_node, &t->bundle) {
            error = apply__(t, &copy, b->data);
            if (error) {
                break;
            }
        }
        if (!error) {
            flowset_swap(&copy, &t->set);
            t->n_commits++;
        }
        flowset_destroy(&copy);
        discard_bundle__(t);
        return error ? OFPERR_OFPBFC_MSG_FAILED : 0;
    }

    case OFPTYPE_BUNDLE_ADD_MESSAGE: {
        struct ofputil_bundle_add_msg bam;
        enum ofptype inner;

        error = ofputil_decode_bundle_add(oh, &bam, &inner);
        if (error) {
            return error;
        }
        if (!t->bundle_open) {
            return OFPERR_OFPBFC_BAD_ID;
        }
        ovs_list_push_back(&t->bundle,
                           &ofpbuf_clone_data(bam.msg,
                                              ntohs(bam.msg->length))
                           ->list_node);
        return 0;
    }

    default:
        return 0;
    }
}

/* Appends to 'replies' the answer to 'req', a flow stats request (all
 * flows) or a group description request (all groups), from the tables. */
void
fake_table_dump(const struct fake_table *t, const struct ofp_header *req,
                struct ovs_list *replies)
{
    enum ofptype type;

    ofpmp_init(replies, req);
    if (ofptype_decode(&type, req)) {
        return;
    }
    if (type == OFPTYPE_FLOW_STATS_REQUEST) {
        const struct flowset_flow *f;

        HMAP_FOR_EACH (f, hmap_node, &t->set.flows) {
            struct ofputil_flow_stats fs;

            memset(&fs, 0, sizeof fs);
            minimatch_expand(&f->match, &fs.match);
            fs.table_id = f->table_id;
            fs.priority = f->priority;
            fs.ofpacts = f->ofpacts;
            fs.ofpacts_len = f->ofpacts_len;
            fs.idle_age = fs.hard_age = -1;
            ofputil_append_flow_stats_reply(&fs, replies, NULL);
        }
    } else if (type == OFPTYPE_GROUP_DESC_STATS_REQUEST) {
        const struct flowset_group *g;

        HMAP_FOR_EACH (g, hmap_node, &t->set.groups) {
            struct ofputil_group_desc gd;
            struct ofputil_bucket *bucket;
            uint32_t bucket_id = 0;

            memset(&gd, 0, sizeof gd);
            gd.type = g->type;
            gd.group_id = g->group_id;
            gd.props = g->props;
            ovs_list_init(&gd.buckets);
            ofputil_bucket_clone_list(&gd.buckets, &g->buckets, NULL);
            /* A switch numbers the buckets. */
            LIST_FOR_EACH (bucket, list_node, &gd.buckets) {
                bucket->bucket_id = bucket_id++;
            }
            ofputil_append_group_desc_reply(&gd, &gd.buckets, replies);
            ofputil_bucket_list_destroy(&gd.buckets);
        }
    }
}

/* Tracing. */

#define FAKE_MAX_DEPTH 64

struct trace_ctx {
    const struct flowset *set;
    fake_live_cb *live;
    const void *aux;
    struct fake_trace *trace;
};

static void trace_table__(struct trace_ctx *, uint8_t table_id,
                          struct fake_packet *, int depth);

static void
problem__(struct trace_ctx *ctx, const char *problem)
{
    if (!ctx->trace->problem) {
        ctx->trace->problem = xstrdup(problem);
    }
}

/* Executes actions on 'flow'; returns false if the packet is dropped (an
 * expired NSH TTL). */
static bool
execute__(struct trace_ctx *ctx, const struct ofpact *ofpacts,
          size_t ofpacts_len, struct fake_packet *packet, int depth)
{
    struct flow *flow = &packet->flow;
    const struct ofpact *a;

    OFPACT_FOR_EACH (a, ofpacts, ofpacts_len) {
        switch (a->type) {
        case OFPACT_OUTPUT: {
            struct fake_trace *tr = ctx->trace;
            ofp_port_t port = ofpact_get_OUTPUT(a)->port;

            if (port == OFPP_IN_PORT) {
                port = flow->in_port.ofp_port;
            }
            if (tr->n_outputs < FAKE_MAX_OUTPUTS) {
                tr->outputs[tr->n_outputs].port = port;
                tr->outputs[tr->n_outputs++].packet = *packet;
            }
            break;
        }

        case OFPACT_GOTO_TABLE:
            trace_table__(ctx, ofpact_get_GOTO_TABLE(a)->table_id, packet,
                          depth + 1);
            return true;

        case OFPACT_RESUBMIT: {
            const struct ofpact_resubmit *r = ofpact_get_RESUBMIT(a);
            ofp_port_t in_port = flow->in_port.ofp_port;

            if (r->in_port != OFPP_IN_PORT) {
                flow->in_port.ofp_port = r->in_port;
            }
            trace_table__(ctx, (r->table_id == 255 ? 0 : r->table_id),
                          packet, depth + 1);
            flow->in_port.ofp_port = in_port;
            break;
        }

        case OFPACT_GROUP: {
            const struct flowset_group *g;
            const struct ofputil_bucket *b;

            g = flowset_find_group(ctx->set, ofpact_get_GROUP(a)->group_id);
            if (!g) {
                problem__(ctx, "a flow points to a missing group");
                break;
            }
            LIST_FOR_EACH (b, list_node, &g->buckets) {
                struct fake_packet copy = *packet;

                if (g->type == OFPGT11_FF
                    && (b->watch_port == OFPP_ANY
                        || !ctx->live(b->watch_port, ctx->aux))) {
                    continue;
                }
                /* A bucket works on a copy of the packet. */
                execute__(ctx, b->ofpacts, b->ofpacts_len, &copy, depth + 1);
                if (g->type != OFPGT11_ALL) {
                    break;
                }
            }
            break;
        }

        case OFPACT_SET_FIELD: {
            const struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);

            mf_set_flow_value_masked(sf->field, sf->value,
                                     ofpact_set_field_mask(sf), flow);
            break;
        }

        case OFPACT_REG_MOVE: {
            const struct ofpact_reg_move *m = ofpact_get_REG_MOVE(a);
            struct flow_wildcards wc;

            mf_subfield_copy(&m->src, &m->dst, flow, &wc);
            break;
        }

        case OFPACT_MULTIPATH: {
            struct flow_wildcards wc;

            multipath_execute(ofpact_get_MULTIPATH(a), flow, &wc);
            break;
        }

        case OFPACT_ENCAP: {
            const struct ofpact_encap *e = ofpact_get_ENCAP(a);

            if (e->new_pkt_type == htonl(PT_NSH)) {
                if (packet->n_inner >= ARRAY_SIZE(packet->inner)) {
                    problem__(ctx, "too many encapsulations");
                    return false;
                }
                packet->inner[packet->n_inner++] = *flow;
                memset(&flow->nsh, 0, sizeof flow->nsh);
                flow->nsh.mdtype = NSH_M_TYPE1;
                flow->nsh.np = NSH_P_ETHERNET;
                flow->nsh.ttl = 63;
                flow->packet_type = htonl(PT_NSH);
                flow->dl_type = htons(ETH_TYPE_NSH);
                flow->nw_proto = 0;
                flow->nw_src = flow->nw_dst = 0;
                flow->tp_src = flow->tp_dst = 0;
            } else if (e->new_pkt_type == htonl(PT_ETH)) {
                flow->packet_type = htonl(PT_ETH);
                flow->dl_src = flow->dl_dst = eth_addr_zero;
            } else {
                problem__(ctx, "an encapsulation the tracer does not know");
            }
            break;
        }

        case OFPACT_DECAP:
            if (flow->packet_type == htonl(PT_ETH)
                && flow->dl_type == htons(ETH_TYPE_NSH)) {
                flow->packet_type = htonl(PT_NSH);
            } else if (flow->packet_type == htonl(PT_NSH)
                       && packet->n_inner) {
                ofp_port_t in_port = flow->in_port.ofp_port;

                *flow = packet->inner[--packet->n_inner];
                flow->in_port.ofp_port = in_port;
            } else {
                problem__(ctx, "decap() of a packet without NSH");
            }
            break;

        case OFPACT_DEC_NSH_TTL:
            if (flow->nsh.ttl <= 1) {
                return false;
            }
            flow->nsh.ttl--;
            break;

        default:
            problem__(ctx, ofpact_name(a->type));
            break;
        }
    }
    return true;
}

static void
trace_table__(struct trace_ctx *ctx, uint8_t table_id,
              struct fake_packet *packet, int depth)
{
    const struct flowset_flow *f, *best = NULL;
    const struct flow *flow = &packet->flow;

    if (depth > FAKE_MAX_DEPTH) {
        problem__(ctx, "resubmit loop");
        return;
    }
    HMAP_FOR_EACH (f, hmap_node, &ctx->set->flows) {
        if (f->table_id == table_id
            && (!best || f->priority > best->priority)
            && minimatch_matches_flow(&f->match, flow)) {
            best = f;
        }
    }
    if (best) {
        execute__(ctx, best->ofpacts, best->ofpacts_len, packet, depth);
    }
}

/* Initializes 'p' to a packet with headers 'flow' and no NSH. */
void
fake_packet_init(struct fake_packet *p, const struct flow *flow)
{
    memset(p, 0, sizeof *p);
    p->flow = *flow;
}

/* Follows 'packet' (its in_port says where it arrives) through the tables
 * of 'set' from table 0, with the ports that 'live' says are live, and
 * stores in 'trace' where it leaves. */
void
fake_trace(const struct flowset *set, const struct fake_packet *packet,
           fake_live_cb *live, const void *aux, struct fake_trace *trace)
{
    struct fake_packet p = *packet;
    struct trace_ctx ctx = {
        .set = set, .live = live, .aux = aux, .trace = trace,
    };

    memset(trace, 0, sizeof *trace);
    trace_table__(&ctx, 0, &p, 0);
}

void
fake_trace_destroy(struct fake_trace *trace)
{
    free(trace->problem);
}

/* Traces 'packet' as fake_trace() does and returns the one port it leaves
 * by, storing the packet as it leaves in '*out' if 'out' is nonnull.
 * Returns OFPP_NONE if it is dropped, leaves by more than one port, or
 * meets an action the tracer does not know. */
ofp_port_t
fake_output_port(const struct flowset *set, const struct fake_packet *packet,
                 fake_live_cb *live, const void *aux, struct fake_packet *out)
{
    struct fake_trace trace;
    ofp_port_t port = OFPP_NONE;

    fake_trace(set, packet, live, aux, &trace);
    if (!trace.problem && trace.n_outputs == 1) {
        port = trace.outputs[0].port;
        if (out) {
            *out = trace.outputs[0].packet;
        }
    }
    fake_trace_destroy(&trace);
    return port;
}

/* Encodes every flow and group of 'set' as an add in 'version', decodes it
 * as a switch would, and compares the result with the original as the
 * reconciler compares a dump with its desired state.  Returns the number
 * of entries that differ and describes each in 's'. */
size_t
fake_round_trip(const struct flowset *set, enum ofp_version version,
                struct ds *s)
{
    enum ofputil_protocol protocol
        = ofputil_protocol_from_ofp_version(version);
    const struct flowset_flow *f;
    const struct flowset_group *g;
    size_t n_bad = 0;

    HMAP_FOR_EACH (f, hmap_node, &set->flows) {
        struct fake_table t;
        struct ofpbuf *msg = flowset_encode_flow_mod(f, OFPFC_ADD, protocol);
        const struct flowset_flow *back;
        enum ofperr error;

        fake_table_init(&t);
        ofpmsg_update_length(msg);
        error = apply_flow_mod__(&t, &t.set, msg->data);
        if (error == OFPERR_OFPBAC_BAD_OUT_GROUP) {
            /* A set of flows alone: any group will do. */
            error = 0;
            struct ovs_list empty = OVS_LIST_INITIALIZER(&empty);
            const struct ofpact *a;

            OFPACT_FOR_EACH_FLATTENED (a, f->ofpacts, f->ofpacts_len) {
                if (a->type == OFPACT_GROUP) {
                    flowset_add_group(&t.set, ofpact_get_GROUP(a)->group_id,
                                      OFPGT11_FF, NULL, &empty);
                }
            }
            error = apply_flow_mod__(&t, &t.set, msg->data);
        }
        back = error ? NULL : flowset_find_same_flow(&t.set, f);
        if (!back || !flowset_flow_actions_equal(f, back)) {
            n_bad++;
            ds_put_cstr(s, "flow ");
            flowset_format_flow(f, s);
            if (error) {
                ds_put_format(s, " is refused: %s\n", ofperr_get_name(error));
            } else if (!back) {
                ds_put_cstr(s, " comes back with another match\n");
            } else {
                ds_put_cstr(s, " comes back as ");
                flowset_format_flow(back, s);
                ds_put_char(s, '\n');
            }
        }
        ofpbuf_delete(msg);
        fake_table_destroy(&t);
    }
    struct flowset adapted;

    /* What 'version' cannot carry does not count. */
    flowset_init(&adapted);
    HMAP_FOR_EACH (g, hmap_node, &set->groups) {
        flowset_add_group_copy(&adapted, g);
    }
    flowset_adapt_to_version(&adapted, version);
    HMAP_FOR_EACH (g, hmap_node, &adapted.groups) {
        struct ofpbuf *msg = flowset_encode_group_mod(g, OFPGC11_ADD, version);
        struct ofputil_group_mod gm;
        struct flowset back;
        enum ofperr error;

        flowset_init(&back);
        ofpmsg_update_length(msg);
        error = ofputil_decode_group_mod(msg->data, &gm);
        if (!error) {
            flowset_add_group(&back, gm.group_id, gm.type, &gm.props,
                              &gm.buckets);
            ofputil_uninit_group_mod(&gm);
        }
        if (error || !flowset_group_equal(g,
                                          flowset_find_group(&back,
                                                             g->group_id))) {
            n_bad++;
            ds_put_cstr(s, "group ");
            flowset_format_group(g, s);
            ds_put_cstr(s, " comes back as ");
            if (!error) {
                flowset_format_group(flowset_find_group(&back, g->group_id),
                                     s);
            } else {
                ds_put_cstr(s, ofperr_get_name(error));
            }
            ds_put_char(s, '\n');
        }
        ofpbuf_delete(msg);
        flowset_destroy(&back);
    }
    flowset_destroy(&adapted);
    return n_bad;
}
