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
#include "pipeline.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(reconcile);

static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(5, 20);

/* A flow or group in canonical text form. */
struct rcl_entry {
    struct hmap_node hmap_node; /* In a 'struct rcl_set', by 'key'. */
    char *key;                  /* Flow: "table=T,priority=P,MATCH";
                                 * group: "group_id=G". */
    char *value;                /* Flow: actions; group: "type=..,
                                 * bucket=..". */
};

/* A set of flows and groups. */
struct rcl_set {
    struct hmap flows;          /* Contains "struct rcl_entry"s. */
    struct hmap groups;         /* Contains "struct rcl_entry"s. */
};

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

struct rcl {
    struct ofconn *conn;        /* The switch (not owned). */
    enum ofp_version version;   /* Negotiated version. */
    enum ofputil_protocol protocol; /* Protocol for flow_mods. */
    enum rcl_state state;       /* See above. */

    struct rcl_set desired;     /* What the switch should have. */
    struct rcl_set installed;   /* What it has (valid from IDLE on). */
    struct rcl_set pending;     /* The desired set a bundle is making. */
    struct rcl_set dumped;      /* Collected while DUMPING. */

    ovs_be32 flow_dump_xid;     /* Flow stats request being answered. */
    ovs_be32 group_dump_xid;    /* Group desc request being answered. */
    bool flows_dumped;          /* The flow dump is complete. */
    bool groups_dumped;         /* The group dump is complete. */
    bool error_seen;            /* An error arrived during COMMITTING. */
    char *desired_error;        /* Why the latest desired state was refused
                                 * (the previous one is kept), or NULL. */
    char *switch_error;         /* The switch's first error reply since the
                                 * last round that succeeded, or NULL. */
    unsigned int n_failed;      /* Bundles failed in a row for the same
                                 * desired state. */
    uint32_t next_bundle_id;    /* Bundle id for the next bundle. */
    struct hmap canon;          /* Contains "struct rcl_canon"s. */
    struct rcl_stats stats;     /* Counters. */
};

static void
set_init__(struct rcl_set *set)
{
    hmap_init(&set->flows);
    hmap_init(&set->groups);
}

static void
set_clear_map__(struct hmap *map)
{
    struct rcl_entry *e;

    HMAP_FOR_EACH_POP (e, hmap_node, map) {
        free(e->key);
        free(e->value);
        free(e);
    }
}

static void
set_clear__(struct rcl_set *set)
{
    set_clear_map__(&set->flows);
    set_clear_map__(&set->groups);
}

static void
set_destroy__(struct rcl_set *set)
{
    set_clear__(set);
    hmap_destroy(&set->flows);
    hmap_destroy(&set->groups);
}

static struct rcl_entry *
set_find__(const struct hmap *map, const char *key)
{
    struct rcl_entry *e;

    HMAP_FOR_EACH_WITH_HASH (e, hmap_node, hash_string(key, 0), map) {
        if (!strcmp(e->key, key)) {
            return e;
        }
    }
    return NULL;
}

/* Puts 'key' -> 'value' (both taken over) into 'map', replacing. */
static void
set_put__(struct hmap *map, char *key, char *value)
{
    struct rcl_entry *e = set_find__(map, key);

    if (e) {
        free(key);
        free(e->value);
        e->value = value;
        return;
    }
    e = xmalloc(sizeof *e);
    e->key = key;
    e->value = value;
    hmap_insert(map, &e->hmap_node, hash_string(e->key, 0));
}

static void
set_clone_map__(struct hmap *dst, const struct hmap *src)
{
    const struct rcl_entry *e;

    HMAP_FOR_EACH (e, hmap_node, src) {
        set_put__(dst, xstrdup(e->key), xstrdup(e->value));
    }
}

static bool
set_map_equal__(const struct hmap *a, const struct hmap *b)
{
    const struct rcl_entry *e;

    if (hmap_count(a) != hmap_count(b)) {
        return false;
    }
    HMAP_FOR_EACH (e, hmap_node, a) {
        const struct rcl_entry *f = set_find__(b, e->key);
        if (!f || strcmp(e->value, f->value)) {
            return false;
        }
    }
    return true;
}

/* Swaps the contents of 'a' and 'b'. */
static void
set_swap__(struct rcl_set *a, struct rcl_set *b)
{
    hmap_swap(&a->flows, &b->flows);
    hmap_swap(&a->groups, &b->groups);
}

/* Returns the canonical key of a flow. */
static char *
flow_key__(uint8_t table_id, int priority, const struct match *match)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    struct ds m = DS_EMPTY_INITIALIZER;

    ds_put_format(&s, "table=%"PRIu8",priority=%d", table_id, priority);
    match_format(match, NULL, &m, OFP_DEFAULT_PRIORITY);
    ds_chomp(&m, ',');
    if (m.length) {
        ds_put_format(&s, ",%s", ds_cstr(&m));
    }
    ds_destroy(&m);
    return ds_steal_cstr(&s);
}

static char *
actions_text__(const struct ofpact *ofpacts, size_t ofpacts_len)
{
    struct ds s = DS_EMPTY_INITIALIZER;
    struct ofpact_format_params fp = { .s = &s };

    if (ofpacts_len) {
        ofpacts_format(ofpacts, ofpacts_len, &fp);
    } else {
        ds_put_cstr(&s, "drop");
    }
    return ds_steal_cstr(&s);
}

/* Returns the canonical value of a group of 'type' with 'props' and
 * 'buckets'.  A select group's selection method (which only OpenFlow 1.5
 * carries) and its buckets' weights are part of it. */
static char *
group_value__(uint8_t type, const struct ofputil_group_props *props,
              const struct ovs_list *buckets)
{
    static const char *const types[] = { "all", "select", "indirect", "ff" };
    const struct ofputil_bucket *bucket;
    struct ds s = DS_EMPTY_INITIALIZER;

    if (type < ARRAY_SIZE(types)) {
        ds_put_format(&s, "type=%s", types[type]);
    } else {
        ds_put_format(&s, "type=%"PRIu8, type);
    }
    if (type == OFPGT11_SELECT && props->selection_method[0]) {
        ds_put_format(&s, ",selection_method=%s", props->selection_method);
        if (props->selection_method_param) {
            ds_put_format(&s, ",selection_method_param=%"PRIu64,
                          props->selection_method_param);
        }
        if (props->fields.values_size) {
            ds_put_cstr(&s, ",fields(");
            oxm_format_field_array(&s, &props->fields);
            ds_put_char(&s, ')');
        }
    }
    LIST_FOR_EACH (bucket, list_node, buckets) {
        char *actions = actions_text__(bucket->ofpacts, bucket->ofpacts_len);

        ds_put_cstr(&s, ",bucket=");
        if (type == OFPGT11_SELECT) {
            ds_put_format(&s, "weight:%"PRIu16",", bucket->weight);
        }
        if (bucket->watch_port != OFPP_ANY) {
            ds_put_format(&s, "watch_port:%"PRIu16",",
                          ofp_to_u16(bucket->watch_port));
        }
        if (bucket->watch_group != OFPG_ANY) {
            ds_put_format(&s, "watch_group:%"PRIu32",", bucket->watch_group);
        }
        ds_put_format(&s, "actions=%s", actions);
        free(actions);
    }
    return ds_steal_cstr(&s);
}

/* Canonicalizes the flow 'text' (table, priority, match and actions, in
 * ovs-ofctl syntax) by encoding it in 'protocol' and decoding it again, and
 * stores the result in '*keyp' and '*valuep'.  Returns an error message or
 * NULL. */
static char *
canonical_flow__(const char *text, enum ofputil_protocol protocol,
                 char **keyp, char **valuep)
{
    enum ofputil_protocol usable;
    struct ofputil_flow_mod fm, fm2;
    uint64_t stub[1024 / 8];
    struct ofpbuf ofpacts;
    struct ofpbuf *msg;
    struct match match;
    enum ofperr error;
    char *err;

    err = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, OFPFC_ADD, &usable);
    if (err) {
        char *msg = xasprintf("flow \"%s\": %s", text, err);
        free(err);
        return msg;
    }
    msg = ofputil_encode_flow_mod(&fm, protocol);
    minimatch_destroy(&fm.match);
    free(CONST_CAST(struct ofpact *, fm.ofpacts));

    ofpbuf_use_stub(&ofpacts, stub, sizeof stub);
    ofpmsg_update_length(msg);
    error = ofputil_decode_flow_mod(&fm2, msg->data, protocol, NULL, NULL,
                                    &ofpacts, OFPP_MAX, 255);
    ofpbuf_delete(msg);
    if (error) {
        ofpbuf_uninit(&ofpacts);
        return xasprintf("flow \"%s\": does not decode (%s)", text,
                         ofperr_get_name(error));
    }
    minimatch_expand(&fm2.match, &match);
    *keyp = flow_key__(fm2.table_id, fm2.priority, &match);
    *valuep = actions_text__(fm2.ofpacts, fm2.ofpacts_len);
    minimatch_destroy(&fm2.match);
    ofpbuf_uninit(&ofpacts);
    return NULL;
}

/* Canonicalizes the group 'text' (as above) for 'version'. */
static char *
canonical_group__(const char *text, enum ofp_version version, char **keyp,
                  char **valuep)
{
    enum ofputil_protocol usable;
    struct ofputil_group_mod gm, gm2;
    struct ofpbuf *msg;
    enum ofperr error;
    char *err;

    err = parse_ofp_group_mod_str(&gm, OFPGC11_ADD, text, NULL, NULL,
                                  &usable);
    if (err) {
        char *msg = xasprintf("group \"%s\": %s", text, err);
        free(err);
        return msg;
    }
    msg = ofputil_encode_group_mod(version, &gm, NULL, false);
    ofputil_uninit_group_mod(&gm);
    ofpmsg_update_length(msg);
    error = ofputil_decode_group_mod(msg->data, &gm2);
    ofpbuf_delete(msg);
    if (error) {
        return xasprintf("group \"%s\": does not decode (%s)", text,
                         ofperr_get_name(error));
    }
    *keyp = xasprintf("group_id=%"PRIu32, gm2.group_id);
    *valuep = group_value__(gm2.type, &gm2.props, &gm2.buckets);
    ofputil_uninit_group_mod(&gm2);
    return NULL;
}

/* A canonical form computed earlier, by the text it was computed from:
 * regenerating the pipeline after an event reproduces almost every text,
 * and canonicalizing is the costly part of a repair. */
struct rcl_canon {
    struct hmap_node hmap_node; /* In 'rcl->canon', by 'text'. */
    char *text;                 /* Flow or group in pipeline syntax. */
    char *key;                  /* Canonical key. */
    char *value;                /* Canonical value. */
    bool used;                  /* Used by the latest desired state. */
};

/* Adds the canonical form of 'text' (a group if 'is_group', else a flow)
 * to 'map', from the cache when possible.  Returns an error message or
 * NULL. */
static char *
add_canonical__(struct rcl *rcl, struct hmap *map, const char *text,
                bool is_group)
{
    uint32_t hash = hash_string(text, is_group);
    struct rcl_canon *c;
    char *error;

    HMAP_FOR_EACH_WITH_HASH (c, hmap_node, hash, &rcl->canon) {
        if (!strcmp(c->text, text)) {
            goto found;
        }
    }
    c = xmalloc(sizeof *c);
    error = (is_group
             ? canonical_group__(text, rcl->version, &c->key, &c->value)
             : canonical_flow__(text, rcl->protocol, &c->key, &c->value));
    if (error) {
        free(c);
        return error;
    }
    c->text = xstrdup(text);
    hmap_insert(&rcl->canon, &c->hmap_node, hash);

found:
    c->used = true;
    if (set_find__(map, c->key)) {
        /* The switch would see two entries as one, e.g. because a field's
         * prerequisite is missing and the field was dropped. */
        return xasprintf("\"%s\" is the same to the switch as another entry "
                         "(%s)", text, c->key);
    }
    set_put__(map, xstrdup(c->key), xstrdup(c->value));
    return NULL;
}

/* Frees the cached canonical forms not used since the last call. */
static void
canon_sweep__(struct rcl *rcl)
{
    struct rcl_canon *c;

    HMAP_FOR_EACH_SAFE (c, hmap_node, &rcl->canon) {
        if (!c->used) {
            hmap_remove(&rcl->canon, &c->hmap_node);
            free(c->text);
            free(c->key);
            free(c->value);
            free(c);
        } else {
            c->used = false;
        }
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
    set_init__(&rcl->desired);
    set_init__(&rcl->installed);
    set_init__(&rcl->pending);
    set_init__(&rcl->dumped);
    hmap_init(&rcl->canon);
    return rcl;
}

/* Frees 'rcl'.  Accepts NULL. */
void
rcl_destroy(struct rcl *rcl)
{
    if (rcl) {
        set_destroy__(&rcl->desired);
        set_destroy__(&rcl->installed);
        set_destroy__(&rcl->pending);
        set_destroy__(&rcl->dumped);
        canon_sweep__(rcl);     /* Clears every mark... */
        canon_sweep__(rcl);     /* ...then frees everything. */
        hmap_destroy(&rcl->canon);
        free(rcl->desired_error);
        free(rcl->switch_error);
        free(rcl);
    }
}

/* Makes 'd' the desired state of the switch.  Returns an error message
 * (and keeps the previous desired state) if an entry of 'd' does not parse,
 * which is a bug in the pipeline; the switch then counts as not in sync,
 * with that reason, until a desired state parses. */
char *
rcl_set_desired(struct rcl *rcl, const struct pl_desired *d)
{
    const struct pl_flow *f;
    const struct pl_group *g;
    struct rcl_set set;
    char *error = NULL;

    set_init__(&set);
    HMAP_FOR_EACH (g, hmap_node, &d->groups) {
        error = add_canonical__(rcl, &set.groups, g->spec, true);
        if (error) {
            goto out;
        }
    }
    HMAP_FOR_EACH (f, hmap_node, &d->flows) {
        char *text = xasprintf("table=%"PRIu8",priority=%"PRIu16"%s%s "
                               "actions=%s", f->table_id, f->priority,
                               f->match[0] ? "," : "", f->match, f->actions);
        error = add_canonical__(rcl, &set.flows, text, false);
        free(text);
        if (error) {
            goto out;
        }
    }
    if (!set_map_equal__(&set.flows, &rcl->desired.flows)
        || !set_map_equal__(&set.groups, &rcl->desired.groups)) {
        rcl->n_failed = 0;      /* Something new to try. */
    }
    set_swap__(&set, &rcl->desired);
out:
    free(rcl->desired_error);
    rcl->desired_error = error ? xstrdup(error) : NULL;
    canon_sweep__(rcl);
    set_destroy__(&set);
    return error;
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

    set_clear__(&rcl->dumped);
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

static void
bundle_flow__(struct rcl *rcl, uint32_t id, const struct rcl_entry *e,
              int command)
{
    enum ofputil_protocol usable;
    struct ofputil_flow_mod fm;
    char *text, *error;

    text = (command == OFPFC_DELETE_STRICT
            ? xstrdup(e->key)
            : xasprintf("%s actions=%s", e->key, e->value));
    error = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, command, &usable);
    if (error) {
        /* Canonical text always parses; if not, the dump will tell. */
        VLOG_ERR_RL(&rl, "cannot reparse flow \"%s\": %s", text, error);
        free(error);
        free(text);
        return;
    }
    bundle_add__(rcl, id, ofputil_encode_flow_mod(&fm, rcl->protocol));
    minimatch_destroy(&fm.match);
    free(CONST_CAST(struct ofpact *, fm.ofpacts));
    free(text);
}

static void
bundle_group__(struct rcl *rcl, uint32_t id, const struct rcl_entry *e,
               int command)
{
    enum ofputil_protocol usable;
    struct ofputil_group_mod gm;
    char *text, *error;

    text = (command == OFPGC11_DELETE
            ? xstrdup(e->key)
            : xasprintf("%s,%s", e->key, e->value));
    error = parse_ofp_group_mod_str(&gm, command, text, NULL, NULL, &usable);
    if (error) {
        VLOG_ERR_RL(&rl, "cannot reparse group \"%s\": %s", text, error);
        free(error);
        free(text);
        return;
    }
    bundle_add__(rcl, id, ofputil_encode_group_mod(rcl->version, &gm, NULL,
                                                   command != OFPGC11_ADD));
    ofputil_uninit_group_mod(&gm);
    free(text);
}

static void
barrier_cb__(struct ofconn *conn OVS_UNUSED, int status, void *rcl_)
{
    struct rcl *rcl = rcl_;

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
        set_clear__(&rcl->pending);
    } else {
        set_swap__(&rcl->installed, &rcl->pending);
        set_clear__(&rcl->pending);
        rcl->stats.n_bundles++;
        rcl->state = RCL_IDLE;
        rcl->n_failed = 0;
        free(rcl->switch_error);
        rcl->switch_error = NULL;
    }
}

/* Sends one bundle that turns 'installed' into 'desired'. */
static void
send_bundle__(struct rcl *rcl)
{
    uint32_t id = rcl->next_bundle_id++;
    const struct rcl_entry *e;
    size_t n_changes = 0;

    bundle_ctrl__(rcl, id, OFPBCT_OPEN_REQUEST);

    /* Groups first, so that new flows find them. */
    HMAP_FOR_EACH (e, hmap_node, &rcl->desired.groups) {
        const struct rcl_entry *old = set_find__(&rcl->installed.groups,
                                                 e->key);
        if (!old) {
            bundle_group__(rcl, id, e, OFPGC11_ADD);
            rcl->stats.n_group_adds++;
            n_changes++;
        } else if (strcmp(old->value, e->value)) {
            bundle_group__(rcl, id, e, OFPGC11_MODIFY);
            rcl->stats.n_group_mods++;
            n_changes++;
        }
    }
    HMAP_FOR_EACH (e, hmap_node, &rcl->installed.flows) {
        if (!set_find__(&rcl->desired.flows, e->key)) {
            bundle_flow__(rcl, id, e, OFPFC_DELETE_STRICT);
            rcl->stats.n_flow_dels++;
            n_changes++;
        }
    }
    HMAP_FOR_EACH (e, hmap_node, &rcl->desired.flows) {
        const struct rcl_entry *old = set_find__(&rcl->installed.flows,
                                                 e->key);
        if (!old) {
            bundle_flow__(rcl, id, e, OFPFC_ADD);
            rcl->stats.n_flow_adds++;
            n_changes++;
        } else if (strcmp(old->value, e->value)) {
            /* Modify, not add: the flow keeps its counters. */
            bundle_flow__(rcl, id, e, OFPFC_MODIFY_STRICT);
            rcl->stats.n_flow_mods++;
            n_changes++;
        }
    }
    /* Groups go last, once no flow points to them. */
    HMAP_FOR_EACH (e, hmap_node, &rcl->installed.groups) {
        if (!set_find__(&rcl->desired.groups, e->key)) {
            bundle_group__(rcl, id, e, OFPGC11_DELETE);
            rcl->stats.n_group_dels++;
            n_changes++;
        }
    }

    bundle_ctrl__(rcl, id, OFPBCT_COMMIT_REQUEST);
    VLOG_INFO("%s: bundle %"PRIu32" with %"PRIuSIZE" changes",
              ofconn_get_name(rcl->conn), id, n_changes);

    set_clear__(&rcl->pending);
    set_clone_map__(&rcl->pending.flows, &rcl->desired.flows);
    set_clone_map__(&rcl->pending.groups, &rcl->desired.groups);
    rcl->error_seen = false;
    rcl->state = RCL_COMMITTING;
    ofconn_send_barrier(rcl->conn, barrier_cb__, rcl);
}

static bool
in_sync__(const struct rcl *rcl)
{
    return (set_map_equal__(&rcl->desired.flows, &rcl->installed.flows)
            && set_map_equal__(&rcl->desired.groups,
                               &rcl->installed.groups));
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
        if (!in_sync__(rcl) && rcl->n_failed < RCL_MAX_TRIES) {
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
        set_put__(&rcl->dumped.flows,
                  flow_key__(fs.table_id, fs.priority, &fs.match),
                  actions_text__(fs.ofpacts, fs.ofpacts_len));
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
        set_put__(&rcl->dumped.groups,
                  xasprintf("group_id=%"PRIu32, gd.group_id),
                  group_value__(gd.type, &gd.props, &gd.buckets));
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
        set_swap__(&rcl->installed, &rcl->dumped);
        set_clear__(&rcl->dumped);
        rcl->state = RCL_IDLE;
        if (in_sync__(rcl)) {
            /* The switch holds what it should: whatever failed before
             * does not matter any more. */
            rcl->n_failed = 0;
            free(rcl->switch_error);
            rcl->switch_error = NULL;
        }
        VLOG_INFO("%s: switch holds %"PRIuSIZE" flows and %"PRIuSIZE
                  " groups", ofconn_get_name(rcl->conn),
                  hmap_count(&rcl->installed.flows),
                  hmap_count(&rcl->installed.groups));
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
    return (rcl->state == RCL_IDLE && in_sync__(rcl) && !rcl->desired_error
            && !rcl->switch_error);
}

/* Appends to 's' why 'rcl' is not in sync, if it knows of a reason beyond
 * work in progress: the pipeline's latest desired state did not parse, or
 * the switch refused a request.  Returns true if it appended something. */
bool
rcl_format_problem(const struct rcl *rcl, struct ds *s)
{
    size_t start = s->length;

    if (rcl->desired_error) {
        ds_put_format(s, "pipeline does not parse, previous state kept: %s",
                      rcl->desired_error);
    }
    if (rcl->switch_error) {
        if (s->length > start) {
            ds_put_cstr(s, "; ");
        }
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
    return hmap_count(&rcl->installed.flows);
}

size_t
rcl_n_installed_groups(const struct rcl *rcl)
{
    return hmap_count(&rcl->installed.groups);
}
