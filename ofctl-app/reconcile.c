/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "reconcile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "flow.h"
#include "flowset.h"
#include "hash.h"
#include "nx-match.h"
#include "ofconn.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/list.h"
#include "openvswitch/match.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-bundle.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-group.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(reconcile);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

#define RCL_STATES                                                      \
    RCL_STATE(DUMP_NEEDED)  /* Installed state unknown: dump next. */   \
    RCL_STATE(DUMPING)      /* Waiting for the flow and group dumps. */ \
    RCL_STATE(IDLE)         /* Installed state known, nothing in flight. */ \
    RCL_STATE(COMMITTING)   /* A bundle is out; waiting for its barrier. */

enum rcl_state {
#define RCL_STATE(NAME) RCL_##NAME,
    RCL_STATES
#undef RCL_STATE
};

/* What a bundle in flight changes, to apply to 'installed' once its
 * barrier reply confirms it: the work is proportional to the changes. */
struct rcl_pending {
    struct flowset put;         /* Copies of the entries added or modified. */
    struct flowset_flow **del_flows; /* Installed flows it deletes. */
    size_t n_del_flows, allocated_del_flows;
    struct flowset_group **del_groups; /* Installed groups it deletes. */
    size_t n_del_groups, allocated_del_groups;
    uint64_t desired_seq;       /* The desired state it was made from. */
    uint32_t bundle_id;         /* Its id. */
    size_t n_changes;           /* Flow and group mods in it. */
};

struct rcl {
    struct ofconn *conn;        /* The switch (not owned). */
    enum ofp_version version;   /* Negotiated version. */
    enum ofputil_protocol protocol; /* Protocol for flow_mods. */
    enum rcl_state state;       /* See above. */

    struct flowset desired;     /* What the switch should have. */
    uint64_t desired_seq;       /* Incremented by each rcl_set_desired(). */
    struct flowset installed;   /* What it has (valid from IDLE on). */
    bool dirty;                 /* 'desired' differs from 'installed'
                                 * (valid from IDLE on). */
    struct rcl_pending pending; /* The bundle in flight (COMMITTING). */
    struct flowset dumped;      /* Collected while DUMPING. */

    ovs_be32 flow_dump_xid;     /* Flow stats request being answered. */
    ovs_be32 group_dump_xid;    /* Group desc request being answered. */
    bool flows_dumped;          /* The flow dump is complete. */
    bool groups_dumped;         /* The group dump is complete. */
    bool error_seen;            /* An error arrived during COMMITTING. */
    char *switch_error;         /* The switch's first error reply since the
                                 * last round that succeeded, or NULL. */
    unsigned int n_failed;      /* Bundles failed in a row for the same
                                 * desired state. */
    uint32_t next_bundle_id;    /* Bundle id for the next bundle. */
    struct rcl_stats stats;     /* Counters. */
};

static void
pending_init__(struct rcl_pending *p)
{
    memset(p, 0, sizeof *p);
    flowset_init(&p->put);
}

/* Forgets the bundle in flight.  The installed entries it would delete
 * stay where they are. */
static void
pending_clear__(struct rcl_pending *p)
{
    flowset_clear(&p->put);
    p->n_del_flows = p->n_del_groups = 0;
}

static void
pending_destroy__(struct rcl_pending *p)
{
    flowset_destroy(&p->put);
    free(p->del_flows);
    free(p->del_groups);
}

/* Returns true if 'installed' differs from 'desired' in any flow or
 * group. */
static bool
differs__(const struct rcl *rcl)
{
    return !flowset_equal(&rcl->desired, &rcl->installed);
}

/* Bundles that may fail in a row for one desired state: after that the
 * reconciler waits for a different desired state instead of sending the
 * same refused bundle again and again. */
#define RCL_MAX_TRIES 3

/* Creates the reconciler of the connected switch 'conn'.  Its installed
 * state is unknown: the first rcl_run() dumps it. */
struct rcl *
rcl_create(struct ofconn *conn)
{
    struct rcl *rcl = xzalloc(sizeof *rcl);

    rcl->conn = conn;
    rcl->version = ofconn_get_version(conn);
    rcl->protocol = ofputil_protocol_from_ofp_version(rcl->version);
    rcl->state = RCL_DUMP_NEEDED;
    rcl->next_bundle_id = 1;
    flowset_init(&rcl->desired);
    flowset_init(&rcl->installed);
    flowset_init(&rcl->dumped);
    pending_init__(&rcl->pending);
    return rcl;
}

/* Frees 'rcl'.  Accepts NULL. */
void
rcl_destroy(struct rcl *rcl)
{
    if (rcl) {
        flowset_destroy(&rcl->desired);
        flowset_destroy(&rcl->installed);
        flowset_destroy(&rcl->dumped);
        pending_destroy__(&rcl->pending);
        free(rcl->switch_error);
        free(rcl);
    }
}

/* Makes the flows and groups of 'd' the desired state of the switch.  They
 * are moved, not copied: 'd' is left empty, ready for reuse or
 * flowset_destroy(). */
void
rcl_set_desired(struct rcl *rcl, struct flowset *d)
{
    flowset_adapt_to_version(d, rcl->version);
    if (rcl->n_failed && !flowset_equal(d, &rcl->desired)) {
        rcl->n_failed = 0;      /* Something new to try. */
    }
    flowset_swap(&rcl->desired, d);
    flowset_clear(d);
    rcl->desired_seq++;
    if (rcl->state == RCL_IDLE || rcl->state == RCL_COMMITTING) {
        rcl->dirty = differs__(rcl);
    }
}

static void
send_dump_requests__(struct rcl *rcl)
{
    struct ofputil_flow_stats_request fsr;
    struct ofpbuf *msg;

    memset(&fsr, 0, sizeof fsr);
    match_init_catchall(&fsr.match);
    fsr.table_id = 0xff;
    fsr.out_port = OFPP_ANY;
    fsr.out_group = OFPG_ANY;
    msg = ofputil_encode_flow_stats_request(&fsr, rcl->protocol);
    rcl->flow_dump_xid = ((const struct ofp_header *) msg->data)->xid;
    ofconn_send(rcl->conn, msg);

    msg = ofputil_encode_group_desc_request(rcl->version, OFPG_ALL);
    rcl->group_dump_xid = ((const struct ofp_header *) msg->data)->xid;
    ofconn_send(rcl->conn, msg);

    flowset_clear(&rcl->dumped);
    rcl->flows_dumped = rcl->groups_dumped = false;
    rcl->stats.n_dumps++;
    rcl->state = RCL_DUMPING;
}

/* Wraps 'msg' (taken over) in a bundle-add message of bundle 'id' and
 * queues it. */
static void
bundle_add__(struct rcl *rcl, uint32_t id, struct ofpbuf *msg)
{
    struct ofputil_bundle_add_msg bam;

    ofpmsg_update_length(msg);
    bam.bundle_id = id;
    bam.flags = OFPBF_ATOMIC | OFPBF_ORDERED;
    bam.msg = msg->data;
    ofconn_send(rcl->conn, ofputil_encode_bundle_add(rcl->version, &bam));
    ofpbuf_delete(msg);
}

static void
bundle_ctrl__(struct rcl *rcl, uint32_t id, uint16_t type)
{
    struct ofputil_bundle_ctrl_msg bc = {
        .bundle_id = id,
        .type = type,
        .flags = OFPBF_ATOMIC | OFPBF_ORDERED,
    };

    ofconn_send(rcl->conn,
                ofputil_encode_bundle_ctrl_request(rcl->version, &bc));
}

/* Appends 'e' to the array '*arrayp' of '*n' elements and room for
 * '*allocated'. */
#define PUSH__(ARRAY, N, ALLOCATED, E)                                  \
    do {                                                                \
        if ((N) >= (ALLOCATED)) {                                       \
            (ARRAY) = x2nrealloc((ARRAY), &(ALLOCATED), sizeof *(ARRAY)); \
        }                                                               \
        (ARRAY)[(N)++] = (E);                                           \
    } while (0)

static void
barrier_cb__(struct ofconn *conn OVS_UNUSED, int status, void *rcl_)
{
    struct rcl *rcl = rcl_;
    struct rcl_pending *p = &rcl->pending;

    if (status) {
        return;                 /* Closing: the owner destroys 'rcl'. */
    }
    if (rcl->state != RCL_COMMITTING) {
        return;
    }
    if (rcl->error_seen) {
        rcl->n_failed++;
        VLOG_WARN_RL(&rl, "%s: bundle failed (%u in a row); "
                     "resynchronizing", ofconn_get_name(rcl->conn),
                     rcl->n_failed);
        rcl->state = RCL_DUMP_NEEDED;
        pending_clear__(p);
        return;
    }

    /* The bundle is in: apply its changes to 'installed'. */
    struct flowset_flow *f;
    struct flowset_group *g;

    for (size_t i = 0; i < p->n_del_flows; i++) {
        flowset_remove_flow(&rcl->installed, p->del_flows[i]);
    }
    for (size_t i = 0; i < p->n_del_groups; i++) {
        flowset_remove_group(&rcl->installed, p->del_groups[i]);
    }
    HMAP_FOR_EACH_POP (f, hmap_node, &p->put.flows) {
        struct flowset_flow *old = flowset_find_same_flow(&rcl->installed,
                                                          f);
        if (old) {
            flowset_remove_flow(&rcl->installed, old);
        }
        hmap_insert(&rcl->installed.flows, &f->hmap_node, f->hmap_node.hash);
    }
    HMAP_FOR_EACH_POP (g, hmap_node, &p->put.groups) {
        struct flowset_group *old = flowset_find_group(&rcl->installed,
                                                       g->group_id);
        if (old) {
            flowset_remove_group(&rcl->installed, old);
        }
        hmap_insert(&rcl->installed.groups, &g->hmap_node,
                    g->hmap_node.hash);
    }
    rcl->dirty = (p->desired_seq != rcl->desired_seq && differs__(rcl));
    VLOG_INFO("%s: bundle %"PRIu32" committed (%"PRIuSIZE" changes)%s",
              ofconn_get_name(rcl->conn), p->bundle_id, p->n_changes,
              rcl->dirty ? "; the desired state changed meanwhile" : "");
    pending_clear__(p);
    rcl->stats.n_bundles++;
    rcl->state = RCL_IDLE;
    rcl->n_failed = 0;
    free(rcl->switch_error);
    rcl->switch_error = NULL;
}

/* Adds to bundle 'id' the flow_mod with 'command' for 'f'. */
static void
bundle_flow__(struct rcl *rcl, uint32_t id, const struct flowset_flow *f,
              int command)
{
    bundle_add__(rcl, id, flowset_encode_flow_mod(f, command,
                                                  rcl->protocol));
}

/* Adds to bundle 'id' the group_mod with 'command' for 'g'. */
static void
bundle_group__(struct rcl *rcl, uint32_t id, const struct flowset_group *g,
               int command)
{
    bundle_add__(rcl, id, flowset_encode_group_mod(g, command,
                                                   rcl->version));
}

/* Sends one bundle that turns 'installed' into 'desired', and remembers
 * its changes in 'rcl->pending'. */
static void
send_bundle__(struct rcl *rcl)
{
    struct rcl_pending *p = &rcl->pending;
    uint32_t id = rcl->next_bundle_id++;
    const struct flowset_flow *f;
    const struct flowset_group *g;
    size_t n_changes = 0;

    pending_clear__(p);
    p->desired_seq = rcl->desired_seq;
    bundle_ctrl__(rcl, id, OFPBCT_OPEN_REQUEST);

    /* Groups first, so that new flows find them. */
    HMAP_FOR_EACH (g, hmap_node, &rcl->desired.groups) {
        const struct flowset_group *old;

        old = flowset_find_group(&rcl->installed, g->group_id);
        if (!old) {
            bundle_group__(rcl, id, g, OFPGC11_ADD);
            rcl->stats.n_group_adds++;
        } else if (!flowset_group_equal(old, g)) {
            bundle_group__(rcl, id, g, OFPGC11_MODIFY);
            rcl->stats.n_group_mods++;
        } else {
            continue;
        }
        flowset_add_group_copy(&p->put, g);
        n_changes++;
    }
    HMAP_FOR_EACH (f, hmap_node, &rcl->installed.flows) {
        if (!flowset_find_same_flow(&rcl->desired, f)) {
            bundle_flow__(rcl, id, f, OFPFC_DELETE_STRICT);
            rcl->stats.n_flow_dels++;
            PUSH__(p->del_flows, p->n_del_flows, p->allocated_del_flows,
                   CONST_CAST(struct flowset_flow *, f));
            n_changes++;
        }
    }
    HMAP_FOR_EACH (f, hmap_node, &rcl->desired.flows) {
        const struct flowset_flow *old;

        old = flowset_find_same_flow(&rcl->installed, f);
        if (!old) {
            bundle_flow__(rcl, id, f, OFPFC_ADD);
            rcl->stats.n_flow_adds++;
        } else if (!flowset_flow_actions_equal(old, f)) {
            /* Modify, not add: the flow keeps its counters. */
            bundle_flow__(rcl, id, f, OFPFC_MODIFY_STRICT);
            rcl->stats.n_flow_mods++;
        } else {
            continue;
        }
        flowset_add_flow_copy(&p->put, f);
        n_changes++;
    }
    /* Groups go last, once no flow points to them. */
    HMAP_FOR_EACH (g, hmap_node, &rcl->installed.groups) {
        if (!flowset_find_group(&rcl->desired, g->group_id)) {
            bundle_group__(rcl, id, g, OFPGC11_DELETE);
            rcl->stats.n_group_dels++;
            PUSH__(p->del_groups, p->n_del_groups, p->allocated_del_groups,
                   CONST_CAST(struct flowset_group *, g));
            n_changes++;
        }
    }

    bundle_ctrl__(rcl, id, OFPBCT_COMMIT_REQUEST);
    p->bundle_id = id;
    p->n_changes = n_changes;
    VLOG_INFO("%s: bundle %"PRIu32" with %"PRIuSIZE" changes",
              ofconn_get_name(rcl->conn), id, n_changes);

    rcl->error_seen = false;
    rcl->state = RCL_COMMITTING;
    ofconn_send_barrier(rcl->conn, barrier_cb__, rcl);
}

/* Does what 'rcl' needs next: dump the switch if its state is unknown, or
 * send a bundle if the desired state differs from the installed one and the
 * connection is not 'backlogged'. */
void
rcl_run(struct rcl *rcl, bool backlogged)
{
    if (!ofconn_is_connected(rcl->conn) || backlogged) {
        return;
    }
    switch (rcl->state) {
    case RCL_DUMP_NEEDED:
        send_dump_requests__(rcl);
        break;

    case RCL_IDLE:
        if (rcl->dirty && rcl->n_failed < RCL_MAX_TRIES) {
            send_bundle__(rcl);
        }
        break;

    case RCL_DUMPING:
    case RCL_COMMITTING:
        break;
    }
}

/* Collects the flows of one part of a flow stats reply. */
static void
collect_flows__(struct rcl *rcl, const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts;

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    for (;;) {
        struct ofputil_flow_stats fs;
        int retval;

        retval = ofputil_decode_flow_stats_reply(&fs, &b, false, &ofpacts);
        if (retval) {
            if (retval != EOF) {
                VLOG_WARN_RL(&rl, "%s: bad flow stats reply (%s)",
                             ofconn_get_name(rcl->conn),
                             ofperr_get_name(retval));
                rcl->state = RCL_DUMP_NEEDED;
            }
            break;
        }
        flowset_add_flow(&rcl->dumped, fs.table_id, fs.priority, &fs.match,
                         fs.ofpacts, fs.ofpacts_len);
    }
    ofpbuf_uninit(&ofpacts);
}

/* Collects the groups of one part of a group description reply. */
static void
collect_groups__(struct rcl *rcl, const struct ofp_header *oh)
{
    struct ofpbuf b = ofpbuf_const_initializer(oh, ntohs(oh->length));

    for (;;) {
        struct ofputil_group_desc gd;
        int retval = ofputil_decode_group_desc_reply(&gd, &b, rcl->version);

        if (retval) {
            if (retval != EOF) {
                VLOG_WARN_RL(&rl, "%s: bad group description reply (%s)",
                             ofconn_get_name(rcl->conn),
                             ofperr_get_name(retval));
                rcl->state = RCL_DUMP_NEEDED;
            }
            break;
        }
        flowset_add_group(&rcl->dumped, gd.group_id, gd.type, &gd.props,
                          &gd.buckets);
        ofputil_uninit_group_desc(&gd);
    }
}

/* Handles message 'oh' of 'type' from the switch if it is for the
 * reconciler (dump replies and bundle replies); returns true if it was. */
bool
rcl_handle_message(struct rcl *rcl, enum ofptype type,
                   const struct ofp_header *oh)
{
    switch (type) {
    case OFPTYPE_FLOW_STATS_REPLY:
        if (rcl->state != RCL_DUMPING || oh->xid != rcl->flow_dump_xid) {
            return false;
        }
        collect_flows__(rcl, oh);
        rcl->flows_dumped = !ofpmp_more(oh);
        break;

    case OFPTYPE_GROUP_DESC_STATS_REPLY:
        if (rcl->state != RCL_DUMPING || oh->xid != rcl->group_dump_xid) {
            return false;
        }
        collect_groups__(rcl, oh);
        rcl->groups_dumped = !ofpmp_more(oh);
        break;

    case OFPTYPE_BUNDLE_CONTROL:
        /* Open and commit replies; failures come as errors. */
        return true;

    default:
        return false;
    }

    if (rcl->state == RCL_DUMPING && rcl->flows_dumped
        && rcl->groups_dumped) {
        flowset_swap(&rcl->installed, &rcl->dumped);
        flowset_clear(&rcl->dumped);
        rcl->state = RCL_IDLE;
        rcl->dirty = differs__(rcl);
        if (!rcl->dirty) {
            /* The switch holds what it should: whatever failed before
             * does not matter any more. */
            rcl->n_failed = 0;
            free(rcl->switch_error);
            rcl->switch_error = NULL;
        }
        VLOG_INFO("%s: switch holds %"PRIuSIZE" flows and %"PRIuSIZE
                  " groups", ofconn_get_name(rcl->conn),
                  flowset_n_flows(&rcl->installed),
                  flowset_n_groups(&rcl->installed));
    }
    return true;
}

/* Takes note of the error reply 'error' to the request with 'xid': the
 * installed state is no longer known, so the switch is dumped again, and
 * it counts as not in sync until a later bundle commits without error (or
 * a dump finds it holding the desired state). */
void
rcl_handle_error(struct rcl *rcl, enum ofperr error, ovs_be32 xid)
{
    rcl->stats.n_errors++;
    if (!rcl->switch_error) {
        rcl->switch_error = xasprintf("the switch replied %s to xid %#"
                                      PRIx32, ofperr_get_name(error),
                                      ntohl(xid));
    }
    VLOG_WARN_RL(&rl, "%s: %s (xid %#"PRIx32") makes the installed state "
                 "unknown", ofconn_get_name(rcl->conn),
                 ofperr_get_name(error), ntohl(xid));
    if (rcl->state == RCL_COMMITTING) {
        rcl->error_seen = true;
    } else {
        rcl->state = RCL_DUMP_NEEDED;
    }
}

/* Returns true if 'rcl' has given up on its desired state: the switch
 * refused RCL_MAX_TRIES bundles for it in a row. */
bool
rcl_is_stalled(const struct rcl *rcl)
{
    return rcl->state == RCL_IDLE && rcl->n_failed >= RCL_MAX_TRIES;
}

/* Makes a reconciler that gave up try again, from a fresh dump: what made
 * the switch refuse may have gone away. */
void
rcl_retry(struct rcl *rcl)
{
    if (rcl_is_stalled(rcl)) {
        rcl->n_failed = 0;
        rcl->state = RCL_DUMP_NEEDED;
    }
}

/* Returns true if the switch is known to hold exactly the desired state,
 * that state is the pipeline's latest, and no switch error is pending. */
bool
rcl_is_synced(const struct rcl *rcl)
{
    return rcl->state == RCL_IDLE && !rcl->dirty && !rcl->switch_error;
}

/* Appends to 's' why 'rcl' is not in sync, if it knows of a reason beyond
 * work in progress: the switch refused a request.  Returns true if it
 * appended something. */
bool
rcl_format_problem(const struct rcl *rcl, struct ds *s)
{
    size_t start = s->length;

    if (rcl->switch_error) {
        ds_put_cstr(s, rcl->switch_error);
        if (rcl->n_failed >= RCL_MAX_TRIES) {
            ds_put_format(s, " (%u bundles failed in a row: waiting for a "
                          "change, or the next retry)", rcl->n_failed);
        }
    }
    return s->length > start;
}

const char *
rcl_state_name(const struct rcl *rcl)
{
    switch (rcl->state) {
#define RCL_STATE(NAME) case RCL_##NAME: return #NAME;
        RCL_STATES
#undef RCL_STATE
    }
    return "UNKNOWN";
}

const struct rcl_stats *
rcl_get_stats(const struct rcl *rcl)
{
    return &rcl->stats;
}

size_t
rcl_n_installed_flows(const struct rcl *rcl)
{
    return flowset_n_flows(&rcl->installed);
}

size_t
rcl_n_installed_groups(const struct rcl *rcl)
{
    return flowset_n_groups(&rcl->installed);
}
