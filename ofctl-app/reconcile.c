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

/* The states.  Any of them becomes SECONDARY when the connection no longer
 * allows writes (ofconn_may_write()), dropping the bundle in flight, and
 * SECONDARY becomes DUMP_NEEDED when it allows them again. */
#define RCL_STATES                                                      \
    RCL_STATE(DUMP_NEEDED)  /* Installed state unknown: dump next. */   \
    RCL_STATE(DUMPING)      /* Waiting for the flow and group dumps. */ \
    RCL_STATE(IDLE)         /* Installed state known, nothing in flight. */ \
    RCL_STATE(SENDING)      /* A bundle is open, its changes going out. */ \
    RCL_STATE(COMMITTING)   /* A bundle is out; waiting for its barrier. */ \
    RCL_STATE(SECONDARY)    /* Waiting for the role: another controller \
                             * writes, or the switch has not confirmed \
                             * ours.  Installed state unknown. */

enum rcl_state {
#define RCL_STATE(NAME) RCL_##NAME,
    RCL_STATES
#undef RCL_STATE
};

/* A reference to a flow or group, in an index of references: what the
 * switch has installed, or a key that changed since the last bundle. */
struct rcl_ref {
    struct hmap_node hmap_node; /* By the entry's key. */
    union {
        struct flowset_flow *flow;
        struct flowset_group *group;
    };
};

/* A change in a bundle in flight, to apply to the installed state once
 * the barrier reply confirms it. */
struct rcl_op {
    bool is_group;              /* A group, else a flow. */
    bool del;                   /* Deleted, else added or modified. */
    uint16_t command;           /* OFPFC_* or OFPGC11_*. */
    union {
        struct flowset_flow *flow;   /* Reference: the new entry, or the */
        struct flowset_group *group; /* installed one it deletes. */
    };
};

struct rcl {
    struct ofconn *conn;        /* The switch (not owned). */
    enum ofp_version version;   /* Negotiated version. */
    enum ofputil_protocol protocol; /* Protocol for flow_mods. */
    enum rcl_state state;       /* See above. */

    struct flowset desired;     /* What the switch should have. */

    /* What the switch has (valid from IDLE on): references to entries,
     * the desired ones once they are installed, so that what the two
     * sets have in common is held once. */
    struct hmap installed_flows;  /* Contains "struct rcl_ref"s. */
    struct hmap installed_groups; /* Contains "struct rcl_ref"s. */

    /* What may differ between the two: everything, or the keys changed
     * since the last bundle (each a reference to an entry with that key,
     * desired or not). */
    bool all_dirty;             /* Compare everything. */
    struct hmap dirty_flows;    /* Contains "struct rcl_ref"s. */
    struct hmap dirty_groups;   /* Contains "struct rcl_ref"s. */

    /* The bundle in flight (SENDING, COMMITTING). */
    struct rcl_op *ops;         /* Its changes. */
    size_t n_ops, allocated_ops;
    size_t n_sent;              /* Changes sent so far. */
    uint32_t bundle_id;         /* Its id. */

    struct flowset dumped;      /* Collected while DUMPING. */
    ovs_be32 flow_dump_xid;     /* Flow stats request being answered. */
    ovs_be32 group_dump_xid;    /* Group desc request being answered. */
    bool flows_dumped;          /* The flow dump is complete. */
    bool groups_dumped;         /* The group dump is complete. */
    bool error_seen;            /* An error arrived for the bundle in
                                 * flight. */
    char *switch_error;         /* The switch's first error reply since the
                                 * last round that succeeded, or NULL. */
    unsigned int n_failed;      /* Bundles failed in a row for the same
                                 * desired state. */
    bool changed_since_failure; /* The desired state changed since the
                                 * last failed bundle. */
    uint32_t next_bundle_id;    /* Bundle id for the next bundle. */
    struct rcl_stats stats;     /* Counters. */
};

/* References. */

static uint32_t
flow_hash__(const struct flowset_flow *f)
{
    return flowset_flow_hash(f->table_id, f->priority, &f->match);
}

/* Returns the reference in 'index' to a flow with the key of 'f', or
 * NULL. */
static struct rcl_ref *
find_flow_ref__(const struct hmap *index, const struct flowset_flow *f,
                uint32_t hash)
{
    struct rcl_ref *r;

    HMAP_FOR_EACH_WITH_HASH (r, hmap_node, hash, index) {
        if (r->flow->table_id == f->table_id
            && r->flow->priority == f->priority
            && minimatch_equal(&r->flow->match, &f->match)) {
            return r;
        }
    }
    return NULL;
}

static struct rcl_ref *
find_group_ref__(const struct hmap *index, uint32_t group_id)
{
    struct rcl_ref *r;

    HMAP_FOR_EACH_WITH_HASH (r, hmap_node, hash_int(group_id, 0), index) {
        if (r->group->group_id == group_id) {
            return r;
        }
    }
    return NULL;
}

/* Makes the reference in 'index' for the key of 'f' point to 'f' (taking
 * a reference), adding one if there is none. */
static void
put_flow_ref__(struct hmap *index, const struct flowset_flow *f)
{
    uint32_t hash = flow_hash__(f);
    struct rcl_ref *r = find_flow_ref__(index, f, hash);

    if (!r) {
        r = xmalloc(sizeof *r);
        r->flow = NULL;
        hmap_insert(index, &r->hmap_node, hash);
    }
    if (r->flow != f) {
        flowset_flow_unref(r->flow);
        r->flow = flowset_flow_ref(f);
    }
}

static void
put_group_ref__(struct hmap *index, const struct flowset_group *g)
{
    struct rcl_ref *r = find_group_ref__(index, g->group_id);

    if (!r) {
        r = xmalloc(sizeof *r);
        r->group = NULL;
        hmap_insert(index, &r->hmap_node, hash_int(g->group_id, 0));
    }
    if (r->group != g) {
        flowset_group_unref(r->group);
        r->group = flowset_group_ref(g);
    }
}

/* Adds a reference to the key of 'f' to 'index' unless it has one. */
static void
mark_flow__(struct hmap *index, const struct flowset_flow *f)
{
    uint32_t hash = flow_hash__(f);

    if (!find_flow_ref__(index, f, hash)) {
        struct rcl_ref *r = xmalloc(sizeof *r);

        r->flow = flowset_flow_ref(f);
        hmap_insert(index, &r->hmap_node, hash);
    }
}

static void
mark_group__(struct hmap *index, const struct flowset_group *g)
{
    if (!find_group_ref__(index, g->group_id)) {
        struct rcl_ref *r = xmalloc(sizeof *r);

        r->group = flowset_group_ref(g);
        hmap_insert(index, &r->hmap_node, hash_int(g->group_id, 0));
    }
}

/* Removes 'r', if nonnull, from 'index' and frees it. */
static void
remove_ref__(struct hmap *index, struct rcl_ref *r, bool is_group)
{
    if (!r) {
        return;
    }
    hmap_remove(index, &r->hmap_node);
    if (is_group) {
        flowset_group_unref(r->group);
    } else {
        flowset_flow_unref(r->flow);
    }
    free(r);
}

static void
clear_refs__(struct hmap *index, bool is_group)
{
    struct rcl_ref *r;

    HMAP_FOR_EACH_SAFE (r, hmap_node, index) {
        remove_ref__(index, r, is_group);
    }
}

static void
clear_dirty__(struct rcl *rcl)
{
    clear_refs__(&rcl->dirty_flows, false);
    clear_refs__(&rcl->dirty_groups, true);
    rcl->all_dirty = false;
}

/* Drops the changes of the bundle in flight, and their array (that of a
 * first programming is megabytes, and most later bundles are small). */
static void
clear_ops__(struct rcl *rcl)
{
    for (size_t i = 0; i < rcl->n_ops; i++) {
        if (rcl->ops[i].is_group) {
            flowset_group_unref(rcl->ops[i].group);
        } else {
            flowset_flow_unref(rcl->ops[i].flow);
        }
    }
    free(rcl->ops);
    rcl->ops = NULL;
    rcl->n_ops = rcl->allocated_ops = 0;
}

static void
push_op__(struct rcl *rcl, bool is_group, bool del, uint16_t command,
          const void *entry)
{
    struct rcl_op *op;

    if (rcl->n_ops >= rcl->allocated_ops) {
        rcl->ops = x2nrealloc(rcl->ops, &rcl->allocated_ops,
                              sizeof *rcl->ops);
    }
    op = &rcl->ops[rcl->n_ops++];
    op->is_group = is_group;
    op->del = del;
    op->command = command;
    if (is_group) {
        op->group = flowset_group_ref(entry);
    } else {
        op->flow = flowset_flow_ref(entry);
    }
}

/* Returns true if something may differ between the desired and the
 * installed state. */
static bool
dirty__(const struct rcl *rcl)
{
    return (rcl->all_dirty || !hmap_is_empty(&rcl->dirty_flows)
            || !hmap_is_empty(&rcl->dirty_groups));
}

/* Makes 'rcl' wait for the role: the connection does not allow writes.  The
 * bundle in flight, if any, is dropped, not counted as failed, and the
 * installed state is unknown until the dump that follows the role.  Its
 * barrier reply, if one is awaited, finds the reconciler in another state
 * than COMMITTING and is ignored: the switch answers in order, so it comes
 * before the replies to anything sent after the role came back.  Errors
 * seen while writing belonged to that time. */
static void
become_secondary__(struct rcl *rcl)
{
    if (rcl->state == RCL_SECONDARY) {
        return;
    }
    if (rcl->state == RCL_SENDING || rcl->state == RCL_COMMITTING) {
        VLOG_INFO("%s: bundle %"PRIu32" dropped: the switch no longer takes "
                  "writes from us", ofconn_get_name(rcl->conn),
                  rcl->bundle_id);
    }
    clear_ops__(rcl);
    rcl->error_seen = false;
    rcl->n_failed = 0;
    rcl->changed_since_failure = false;
    free(rcl->switch_error);
    rcl->switch_error = NULL;
    rcl->state = RCL_SECONDARY;
}

/* Makes 'rcl' follow the role of its connection: it waits while the
 * connection does not allow writes, and resynchronizes, from a dump, when
 * it allows them again. */
static void
follow_role__(struct rcl *rcl)
{
    bool may_write = ofconn_may_write(rcl->conn);

    if (!may_write) {
        become_secondary__(rcl);
    } else if (rcl->state == RCL_SECONDARY) {
        VLOG_INFO("%s: the switch takes our writes: resynchronizing",
                  ofconn_get_name(rcl->conn));
        rcl->state = RCL_DUMP_NEEDED;
    }
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
    hmap_init(&rcl->installed_flows);
    hmap_init(&rcl->installed_groups);
    hmap_init(&rcl->dirty_flows);
    hmap_init(&rcl->dirty_groups);
    flowset_init(&rcl->dumped);
    return rcl;
}

/* Frees 'rcl'.  Accepts NULL. */
void
rcl_destroy(struct rcl *rcl)
{
    if (rcl) {
        clear_refs__(&rcl->installed_flows, false);
        clear_refs__(&rcl->installed_groups, true);
        hmap_destroy(&rcl->installed_flows);
        hmap_destroy(&rcl->installed_groups);
        clear_dirty__(rcl);
        hmap_destroy(&rcl->dirty_flows);
        hmap_destroy(&rcl->dirty_groups);
        clear_ops__(rcl);
        free(rcl->ops);
        flowset_destroy(&rcl->desired);
        flowset_destroy(&rcl->dumped);
        free(rcl->switch_error);
        free(rcl);
    }
}

/* Makes the flows and groups of 'd' the whole desired state of the switch.
 * They are moved, not copied: 'd' is left empty, ready for reuse or
 * flowset_destroy().  The next bundle compares everything. */
void
rcl_set_desired(struct rcl *rcl, struct flowset *d)
{
    flowset_adapt_to_version(d, rcl->version);
    if (rcl->n_failed && !flowset_equal(d, &rcl->desired)) {
        rcl->changed_since_failure = true;
    }
    flowset_swap(&rcl->desired, d);
    flowset_clear(d);
    clear_dirty__(rcl);
    rcl->all_dirty = true;
}

/* Changes the desired state of the switch by 'put' (flows and groups that
 * are added, or replace the ones with the same key) and 'del' (flows and
 * groups whose keys are removed; their actions and buckets do not
 * matter).  The entries of 'put' are moved, not copied, and both sets are
 * left empty.  The next bundle compares only the keys changed since the
 * last one: the work is proportional to the change. */
void
rcl_update_desired(struct rcl *rcl, struct flowset *put, struct flowset *del)
{
    struct flowset_flow *f;
    struct flowset_group *g;

    flowset_adapt_to_version(put, rcl->version);
    if (!flowset_n_flows(put) && !flowset_n_groups(put)
        && !flowset_n_flows(del) && !flowset_n_groups(del)) {
        return;
    }
    rcl->changed_since_failure = true;
    HMAP_FOR_EACH_POP (f, hmap_node, &put->flows) {
        flowset_flow_unref(flowset_insert_flow(&rcl->desired, f));
        if (!rcl->all_dirty) {
            mark_flow__(&rcl->dirty_flows, f);
        }
    }
    HMAP_FOR_EACH_POP (g, hmap_node, &put->groups) {
        flowset_group_unref(flowset_insert_group(&rcl->desired, g));
        if (!rcl->all_dirty) {
            mark_group__(&rcl->dirty_groups, g);
        }
    }
    HMAP_FOR_EACH (f, hmap_node, &del->flows) {
        struct flowset_flow *old = flowset_find_same_flow(&rcl->desired, f);

        if (old) {
            flowset_remove_flow(&rcl->desired, old);
        }
        if (!rcl->all_dirty) {
            mark_flow__(&rcl->dirty_flows, f);
        }
    }
    HMAP_FOR_EACH (g, hmap_node, &del->groups) {
        struct flowset_group *old = flowset_find_group(&rcl->desired,
                                                       g->group_id);
        if (old) {
            flowset_remove_group(&rcl->desired, old);
        }
        if (!rcl->all_dirty) {
            mark_group__(&rcl->dirty_groups, g);
        }
    }
    flowset_clear(del);
}

/* Returns the desired state of the switch. */
const struct flowset *
rcl_get_desired(const struct rcl *rcl)
{
    return &rcl->desired;
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
 * queues it.  Returns the bytes queued. */
static size_t
bundle_add__(struct rcl *rcl, uint32_t id, struct ofpbuf *msg)
{
    struct ofputil_bundle_add_msg bam;
    struct ofpbuf *add;
    size_t size;

    ofpmsg_update_length(msg);
    bam.bundle_id = id;
    bam.flags = OFPBF_ATOMIC | OFPBF_ORDERED;
    bam.msg = msg->data;
    add = ofputil_encode_bundle_add(rcl->version, &bam);
    size = add->size;
    ofconn_send(rcl->conn, add);
    ofpbuf_delete(msg);
    return size;
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

static void
barrier_cb__(struct ofconn *conn OVS_UNUSED, int status, void *rcl_)
{
    struct rcl *rcl = rcl_;
    size_t n_changes = rcl->n_ops;

    if (status) {
        return;                 /* Closing: the owner destroys 'rcl'. */
    }
    if (rcl->state != RCL_COMMITTING) {
        return;
    }
    if (!ofconn_may_write(rcl->conn)) {
        /* The role went while the bundle was out: whether it committed is
         * not known. */
        become_secondary__(rcl);
        return;
    }
    if (rcl->error_seen) {
        rcl->n_failed++;
        rcl->changed_since_failure = false;
        VLOG_WARN_RL(&rl, "%s: bundle failed (%u in a row); "
                     "resynchronizing", ofconn_get_name(rcl->conn),
                     rcl->n_failed);
        rcl->state = RCL_DUMP_NEEDED;
        clear_ops__(rcl);
        return;                 /* Resynchronized on the owner's next call. */
    }

    /* The bundle is in: its changes are installed. */
    for (size_t i = 0; i < rcl->n_ops; i++) {
        const struct rcl_op *op = &rcl->ops[i];

        if (op->is_group && op->del) {
            remove_ref__(&rcl->installed_groups,
                         find_group_ref__(&rcl->installed_groups,
                                          op->group->group_id), true);
        } else if (op->is_group) {
            put_group_ref__(&rcl->installed_groups, op->group);
        } else if (op->del) {
            remove_ref__(&rcl->installed_flows,
                         find_flow_ref__(&rcl->installed_flows, op->flow,
                                         flow_hash__(op->flow)), false);
        } else {
            put_flow_ref__(&rcl->installed_flows, op->flow);
        }
    }
    clear_ops__(rcl);
    VLOG_INFO("%s: bundle %"PRIu32" committed (%"PRIuSIZE" changes)",
              ofconn_get_name(rcl->conn), rcl->bundle_id, n_changes);
    rcl->stats.n_bundles++;
    rcl->state = RCL_IDLE;
    rcl->n_failed = 0;
    free(rcl->switch_error);
    rcl->switch_error = NULL;

    /* What changed while the bundle was out goes now, not at the owner's
     * next call: the switch has read everything sent so far, so the
     * connection is not backlogged. */
    rcl_run(rcl, false);
}

/* Adds to the next bundle what turns the installed group with 'group_id'
 * ('old', or none) into the desired one ('new', or none). */
static void
diff_group__(struct rcl *rcl, const struct flowset_group *old,
             const struct flowset_group *new)
{
    uint16_t command;

    if (new && !old) {
        command = OFPGC11_ADD;
        rcl->stats.n_group_adds++;
    } else if (new && !flowset_group_equal(old, new)) {
        command = OFPGC11_MODIFY;
        rcl->stats.n_group_mods++;
    } else {
        return;
    }
    push_op__(rcl, true, false, command, new);
}

static void
delete_group__(struct rcl *rcl, const struct flowset_group *old)
{
    rcl->stats.n_group_dels++;
    push_op__(rcl, true, true, OFPGC11_DELETE, old);
}

/* Adds to the next bundle what turns the installed flow 'old' (or none)
 * into the desired one 'new' (or none) with the same key. */
static void
diff_flow__(struct rcl *rcl, const struct flowset_flow *old,
            const struct flowset_flow *new)
{
    uint16_t command;

    if (new && !old) {
        command = OFPFC_ADD;
        rcl->stats.n_flow_adds++;
    } else if (new && !flowset_flow_actions_equal(old, new)) {
        /* Modify, not add: the flow keeps its counters. */
        command = OFPFC_MODIFY_STRICT;
        rcl->stats.n_flow_mods++;
    } else if (!new && old) {
        command = OFPFC_DELETE_STRICT;
        rcl->stats.n_flow_dels++;
    } else {
        return;
    }
    push_op__(rcl, false, !new, command, new ? new : old);
}

static const struct flowset_flow *
installed_flow__(const struct rcl *rcl, const struct flowset_flow *f)
{
    const struct rcl_ref *r = find_flow_ref__(&rcl->installed_flows, f,
                                              flow_hash__(f));
    return r ? r->flow : NULL;
}

static const struct flowset_group *
installed_group__(const struct rcl *rcl, uint32_t group_id)
{
    const struct rcl_ref *r = find_group_ref__(&rcl->installed_groups,
                                               group_id);
    return r ? r->group : NULL;
}

/* Bytes of bundle messages queued per call of send_more__(): the rest of
 * a large bundle waits for the connection to drain, so that it is encoded
 * as it goes out instead of being held in memory all at once. */
#define RCL_CHUNK_BYTES (256 * 1024)

/* Queues the next changes of the open bundle, up to RCL_CHUNK_BYTES, and
 * once all are out, its commit and a barrier.  A bundle for which the
 * switch already refused a message is discarded instead of committed. */
static void
send_more__(struct rcl *rcl)
{
    size_t bytes = 0;

    while (rcl->n_sent < rcl->n_ops && !rcl->error_seen
           && bytes < RCL_CHUNK_BYTES) {
        const struct rcl_op *op = &rcl->ops[rcl->n_sent++];
        struct ofpbuf *msg;

        msg = (op->is_group
               ? flowset_encode_group_mod(op->group, op->command,
                                          rcl->version)
               : flowset_encode_flow_mod(op->flow, op->command,
                                         rcl->protocol));
        bytes += bundle_add__(rcl, rcl->bundle_id, msg);
    }
    if (rcl->n_sent < rcl->n_ops && !rcl->error_seen) {
        return;                 /* More once the connection drains. */
    }
    bundle_ctrl__(rcl, rcl->bundle_id, (rcl->error_seen
                                        ? OFPBCT_DISCARD_REQUEST
                                        : OFPBCT_COMMIT_REQUEST));
    rcl->state = RCL_COMMITTING;
    ofconn_send_barrier(rcl->conn, barrier_cb__, rcl);
}

/* Starts one bundle that turns the installed state into the desired one,
 * comparing everything or only the keys that changed, and remembers its
 * changes.  Sends nothing if nothing differs. */
static void
send_bundle__(struct rcl *rcl)
{
    const struct flowset_flow *f;
    const struct flowset_group *g;
    const struct rcl_ref *r;

    clear_ops__(rcl);
    /* Groups first, so that new flows find them; flows; then the groups
     * that go, once no flow points to them. */
    if (rcl->all_dirty) {
        HMAP_FOR_EACH (g, hmap_node, &rcl->desired.groups) {
            diff_group__(rcl, installed_group__(rcl, g->group_id), g);
        }
        HMAP_FOR_EACH (r, hmap_node, &rcl->installed_flows) {
            if (!flowset_find_same_flow(&rcl->desired, r->flow)) {
                diff_flow__(rcl, r->flow, NULL);
            }
        }
        HMAP_FOR_EACH (f, hmap_node, &rcl->desired.flows) {
            diff_flow__(rcl, installed_flow__(rcl, f), f);
        }
        HMAP_FOR_EACH (r, hmap_node, &rcl->installed_groups) {
            if (!flowset_find_group(&rcl->desired, r->group->group_id)) {
                delete_group__(rcl, r->group);
            }
        }
    } else {
        HMAP_FOR_EACH (r, hmap_node, &rcl->dirty_groups) {
            g = flowset_find_group(&rcl->desired, r->group->group_id);
            if (g) {
                diff_group__(rcl, installed_group__(rcl, g->group_id), g);
            }
        }
        HMAP_FOR_EACH (r, hmap_node, &rcl->dirty_flows) {
            diff_flow__(rcl, installed_flow__(rcl, r->flow),
                        flowset_find_same_flow(&rcl->desired, r->flow));
        }
        HMAP_FOR_EACH (r, hmap_node, &rcl->dirty_groups) {
            const struct flowset_group *old;

            old = installed_group__(rcl, r->group->group_id);
            if (old && !flowset_find_group(&rcl->desired, old->group_id)) {
                delete_group__(rcl, old);
            }
        }
    }
    clear_dirty__(rcl);
    if (!rcl->n_ops) {
        return;                 /* In sync already. */
    }

    rcl->bundle_id = rcl->next_bundle_id++;
    rcl->n_sent = 0;
    rcl->error_seen = false;
    rcl->state = RCL_SENDING;
    VLOG_INFO("%s: bundle %"PRIu32" with %"PRIuSIZE" changes",
              ofconn_get_name(rcl->conn), rcl->bundle_id, rcl->n_ops);
    bundle_ctrl__(rcl, rcl->bundle_id, OFPBCT_OPEN_REQUEST);
    send_more__(rcl);
}

/* Does what 'rcl' needs next: dump the switch if its state is unknown, or
 * send a bundle if the desired state may differ from the installed one
 * and the connection is not 'backlogged'.  While the connection does not
 * allow writes (ofconn_may_write()), it sends nothing; once it does again,
 * it dumps the switch and then sends only what differs. */
void
rcl_run(struct rcl *rcl, bool backlogged)
{
    if (!ofconn_is_connected(rcl->conn)) {
        return;
    }
    follow_role__(rcl);
    if (backlogged) {
        return;
    }
    switch (rcl->state) {
    case RCL_DUMP_NEEDED:
        send_dump_requests__(rcl);
        break;

    case RCL_IDLE:
        if (dirty__(rcl)
            && (rcl->n_failed < RCL_MAX_TRIES
                || rcl->changed_since_failure)) {
            if (rcl->changed_since_failure) {
                rcl->n_failed = 0;      /* Something new to try. */
            }
            send_bundle__(rcl);
        }
        break;

    case RCL_SENDING:
        send_more__(rcl);
        break;

    case RCL_DUMPING:
    case RCL_COMMITTING:
    case RCL_SECONDARY:
        break;
    }
}

/* Tells 'rcl' that the role of its connection may have changed (from the
 * owner's 'role_changed' hook).  If the connection no longer allows
 * writes, the bundle in flight is dropped at once; if it allows them
 * again, the next rcl_run() dumps the switch and sends the difference.
 * rcl_run() notices the same by itself, so this call only makes it
 * sooner. */
void
rcl_role_changed(struct rcl *rcl)
{
    if (ofconn_is_connected(rcl->conn)) {
        follow_role__(rcl);
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

/* Makes the dumped state the installed one.  An installed entry equal to
 * a desired one refers to the desired one, so that the two are held once.
 * Returns true if the switch holds exactly the desired state. */
static bool
install_dump__(struct rcl *rcl)
{
    struct flowset_flow *f;
    struct flowset_group *g;
    size_t n_equal = 0;

    clear_refs__(&rcl->installed_flows, false);
    clear_refs__(&rcl->installed_groups, true);
    HMAP_FOR_EACH (f, hmap_node, &rcl->dumped.flows) {
        const struct flowset_flow *d = flowset_find_same_flow(&rcl->desired,
                                                              f);
        if (d && flowset_flow_actions_equal(d, f)) {
            put_flow_ref__(&rcl->installed_flows, d);
            n_equal++;
        } else {
            put_flow_ref__(&rcl->installed_flows, f);
        }
    }
    HMAP_FOR_EACH (g, hmap_node, &rcl->dumped.groups) {
        const struct flowset_group *d = flowset_find_group(&rcl->desired,
                                                           g->group_id);
        if (d && flowset_group_equal(d, g)) {
            put_group_ref__(&rcl->installed_groups, d);
            n_equal++;
        } else {
            put_group_ref__(&rcl->installed_groups, g);
        }
    }
    flowset_clear(&rcl->dumped);
    return (n_equal == (flowset_n_flows(&rcl->desired)
                        + flowset_n_groups(&rcl->desired))
            && n_equal == (hmap_count(&rcl->installed_flows)
                           + hmap_count(&rcl->installed_groups)));
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
        bool synced = install_dump__(rcl);

        rcl->state = RCL_IDLE;
        clear_dirty__(rcl);
        rcl->all_dirty = !synced;
        if (synced) {
            /* The switch holds what it should: whatever failed before
             * does not matter any more. */
            rcl->n_failed = 0;
            free(rcl->switch_error);
            rcl->switch_error = NULL;
        }
        VLOG_INFO("%s: switch holds %"PRIuSIZE" flows and %"PRIuSIZE
                  " groups", ofconn_get_name(rcl->conn),
                  hmap_count(&rcl->installed_flows),
                  hmap_count(&rcl->installed_groups));
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
    if (!ofconn_may_write(rcl->conn)) {
        /* Refused because we are (now) a slave, or a reply to what we
         * sent before: not the switch's verdict on the bundle.  The
         * resynchronization that follows the role finds the truth. */
        VLOG_INFO_RL(&rl, "%s: %s (xid %#"PRIx32") while the switch takes "
                     "no writes from us", ofconn_get_name(rcl->conn),
                     ofperr_get_name(error), ntohl(xid));
        become_secondary__(rcl);
        return;
    }
    if (!rcl->switch_error) {
        rcl->switch_error = xasprintf("the switch replied %s to xid %#"
                                      PRIx32, ofperr_get_name(error),
                                      ntohl(xid));
    }
    VLOG_WARN_RL(&rl, "%s: %s (xid %#"PRIx32") makes the installed state "
                 "unknown", ofconn_get_name(rcl->conn),
                 ofperr_get_name(error), ntohl(xid));
    if (rcl->state == RCL_SENDING || rcl->state == RCL_COMMITTING) {
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
    return rcl->state == RCL_IDLE && !dirty__(rcl) && !rcl->switch_error;
}

/* Appends to 's' why 'rcl' is not in sync, if it knows of a reason beyond
 * work in progress: the switch refused a request.  Returns true if it
 * appended something. */
bool
rcl_format_problem(const struct rcl *rcl, struct ds *s)
{
    size_t start = s->length;

    if (rcl->state == RCL_SECONDARY) {
        ds_put_cstr(s, "waiting for the role: the switch takes no writes "
                    "from this controller");
    } else if (rcl->switch_error) {
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
    return hmap_count(&rcl->installed_flows);
}

size_t
rcl_n_installed_groups(const struct rcl *rcl)
{
    return hmap_count(&rcl->installed_groups);
}
