/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "flowset.h"

#include <stdlib.h>
#include <string.h>
#include "bitmap.h"
#include "hash.h"
#include "nx-match.h"
#include "openflow/openflow.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-actions.h"
#include "openvswitch/ofp-ed-props.h"
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofpbuf.h"
#include "packets.h"
#include "util.h"

void
flowset_init(struct flowset *set)
{
    hmap_init(&set->flows);
    hmap_init(&set->groups);
}

/* Takes a reference to 'f'. */
struct flowset_flow *
flowset_flow_ref(const struct flowset_flow *f_)
{
    struct flowset_flow *f = CONST_CAST(struct flowset_flow *, f_);

    f->refcount++;
    return f;
}

/* Releases a reference to 'f', freeing it with the last one.  Accepts
 * NULL. */
void
flowset_flow_unref(struct flowset_flow *f)
{
    if (f && !--f->refcount) {
        minimatch_destroy(&f->match);
        free(f->ofpacts);
        free(f);
    }
}

/* Takes a reference to 'g'. */
struct flowset_group *
flowset_group_ref(const struct flowset_group *g_)
{
    struct flowset_group *g = CONST_CAST(struct flowset_group *, g_);

    g->refcount++;
    return g;
}

/* Releases a reference to 'g', freeing it with the last one.  Accepts
 * NULL. */
void
flowset_group_unref(struct flowset_group *g)
{
    if (g && !--g->refcount) {
        ofputil_bucket_list_destroy(&g->buckets);
        ofputil_group_properties_destroy(&g->props);
        free(g);
    }
}

/* Removes and frees every flow and group of 'set'. */
void
flowset_clear(struct flowset *set)
{
    struct flowset_flow *f;
    struct flowset_group *g;

    HMAP_FOR_EACH_POP (f, hmap_node, &set->flows) {
        flowset_flow_unref(f);
    }
    HMAP_FOR_EACH_POP (g, hmap_node, &set->groups) {
        flowset_group_unref(g);
    }
}

/* Frees the contents of 'set'.  Accepts NULL. */
void
flowset_destroy(struct flowset *set)
{
    if (set) {
        flowset_clear(set);
        hmap_destroy(&set->flows);
        hmap_destroy(&set->groups);
    }
}

/* Exchanges the contents of 'a' and 'b'. */
void
flowset_swap(struct flowset *a, struct flowset *b)
{
    hmap_swap(&a->flows, &b->flows);
    hmap_swap(&a->groups, &b->groups);
}

size_t
flowset_n_flows(const struct flowset *set)
{
    return hmap_count(&set->flows);
}

size_t
flowset_n_groups(const struct flowset *set)
{
    return hmap_count(&set->groups);
}

/* Makes the 'ofpacts_len' bytes of actions in 'ofpacts' (nested ones
 * included) comparable bytewise with the same actions from elsewhere: it
 * clears each action's "raw" member, which records only which wire form
 * the action was decoded from, and the padding after each action's length
 * and in a set_field's value and mask or an NSH encap's MD type property,
 * which encoders, decoders and parsers do not always zero. */
void
flowset_normalize_ofpacts(struct ofpact *ofpacts, size_t ofpacts_len)
{
    struct ofpact *a;

    OFPACT_FOR_EACH_FLATTENED (a, ofpacts, ofpacts_len) {
        a->raw = 0;
        memset((char *) a + a->len, 0, OFPACT_ALIGN(a->len) - a->len);
        if (a->type == OFPACT_SET_FIELD) {
            struct ofpact_set_field *sf = ofpact_get_SET_FIELD(a);
            size_t n = sf->field->n_bytes;
            size_t pad = ROUND_UP(n, OFPACT_ALIGNTO) - n;

            /* The value and the mask are each padded to 8 bytes. */
            memset((uint8_t *) sf->value + n, 0, pad);
            memset((uint8_t *) ofpact_set_field_mask(sf) + n, 0, pad);
        } else if (a->type == OFPACT_ENCAP) {
            struct ofpact_encap *encap = ofpact_get_ENCAP(a);
            uint8_t *p = (uint8_t *) encap->props;

            for (uint16_t i = 0; i < encap->n_props; i++) {
                struct ofpact_ed_prop *prop = (struct ofpact_ed_prop *) p;

                if (prop->prop_class == OFPPPC_NSH
                    && prop->type == OFPPPT_PROP_NSH_MDTYPE) {
                    struct ofpact_ed_prop_nsh_md_type *md
                        = ALIGNED_CAST(struct ofpact_ed_prop_nsh_md_type *,
                                       prop);

                    memset(md->pad, 0, sizeof md->pad);
                }
                p += ROUND_UP(prop->len, 8);
            }
        }
    }
}

/* Returns the hash of the flow key ('table_id', 'priority', 'match'). */
uint32_t
flowset_flow_hash(uint8_t table_id, uint16_t priority,
                  const struct minimatch *match)
{
    return minimatch_hash(match, hash_2words(table_id, priority));
}

/* Returns the flow of 'set' with key ('table_id', 'priority', 'match'),
 * whose hash is 'hash' (from flowset_flow_hash()), or NULL. */
struct flowset_flow *
flowset_find_flow(const struct flowset *set, uint8_t table_id,
                  uint16_t priority, const struct minimatch *match,
                  uint32_t hash)
{
    struct flowset_flow *f;

    HMAP_FOR_EACH_WITH_HASH (f, hmap_node, hash, &set->flows) {
        if (f->table_id == table_id && f->priority == priority
            && minimatch_equal(&f->match, match)) {
            return f;
        }
    }
    return NULL;
}

/* Returns the flow of 'set' that has the key of 'f' (a flow of another
 * set), or NULL. */
struct flowset_flow *
flowset_find_same_flow(const struct flowset *set,
                       const struct flowset_flow *f)
{
    return flowset_find_flow(set, f->table_id, f->priority, &f->match,
                             f->hmap_node.hash);
}

static struct flowset_flow *
insert_flow__(struct flowset *set, uint8_t table_id, uint16_t priority,
              struct minimatch *match, const struct ofpact *ofpacts,
              size_t ofpacts_len)
{
    uint32_t hash = flowset_flow_hash(table_id, priority, match);
    struct flowset_flow *f;

    if (flowset_find_flow(set, table_id, priority, match, hash)) {
        minimatch_destroy(match);
        return NULL;
    }
    f = xmalloc(sizeof *f);
    f->refcount = 1;
    f->table_id = table_id;
    f->priority = priority;
    minimatch_move(&f->match, match);
    f->ofpacts = ofpacts_len ? xmemdup(ofpacts, ofpacts_len) : NULL;
    f->ofpacts_len = ofpacts_len;
    flowset_normalize_ofpacts(f->ofpacts, f->ofpacts_len);
    hmap_insert(&set->flows, &f->hmap_node, hash);
    return f;
}

/* Returns true if 'match' matches a field of the Ethernet header or
 * above.  Every such field has Ethernet as its prerequisite, and every
 * field above Ethernet needs dl_type, so these four are enough for a
 * match that a switch accepts. */
static bool
matches_ethernet__(const struct match *match)
{
    const struct flow_wildcards *wc = &match->wc;

    return (wc->masks.dl_type
            || !eth_addr_is_zero(wc->masks.dl_src)
            || !eth_addr_is_zero(wc->masks.dl_dst)
            || wc->masks.vlans[0].tci);
}

/* Adds to 'set' the flow ('table_id', 'priority', 'match') with the
 * 'ofpacts_len' bytes of actions 'ofpacts' (both copied) and returns it.
 * If 'set' already has a flow with that key, adds nothing and returns
 * NULL: the first one stays.
 *
 * A match on Ethernet fields or above that leaves the packet type wild
 * gets packet_type=(0,0), Ethernet, the way OpenFlow's decoders (and
 * ovs-ofctl's parser) give it to such a match: without that, a match the
 * pipeline built would differ from the same match dumped by a switch. */
struct flowset_flow *
flowset_add_flow(struct flowset *set, uint8_t table_id, uint16_t priority,
                 const struct match *match, const struct ofpact *ofpacts,
                 size_t ofpacts_len)
{
    struct minimatch mm;

    if (!match->wc.masks.packet_type && matches_ethernet__(match)) {
        struct match m = *match;

        match_set_default_packet_type(&m);
        minimatch_init(&mm, &m);
    } else {
        minimatch_init(&mm, match);
    }
    return insert_flow__(set, table_id, priority, &mm, ofpacts, ofpacts_len);
}

/* Adds a copy of 'f', a flow of another set, to 'set', as
 * flowset_add_flow() does. */
struct flowset_flow *
flowset_add_flow_copy(struct flowset *set, const struct flowset_flow *f)
{
    struct minimatch mm;

    minimatch_clone(&mm, &f->match);
    return insert_flow__(set, f->table_id, f->priority, &mm, f->ofpacts,
                         f->ofpacts_len);
}

/* Inserts 'f', which is in no set, into 'set', which takes over the
 * caller's reference.  Returns the flow that 'set' had with the same key,
 * now out of the set, with the set's reference for the caller to release,
 * or NULL if it had none. */
struct flowset_flow *
flowset_insert_flow(struct flowset *set, struct flowset_flow *f)
{
    uint32_t hash = flowset_flow_hash(f->table_id, f->priority, &f->match);
    struct flowset_flow *old = flowset_find_flow(set, f->table_id,
                                                 f->priority, &f->match,
                                                 hash);

    if (old) {
        hmap_replace(&set->flows, &old->hmap_node, &f->hmap_node);
    } else {
        hmap_insert(&set->flows, &f->hmap_node, hash);
    }
    return old;
}

/* Removes 'f' from 'set' and releases the set's reference to it. */
void
flowset_remove_flow(struct flowset *set, struct flowset_flow *f)
{
    hmap_remove(&set->flows, &f->hmap_node);
    flowset_flow_unref(f);
}

/* Returns true if flows 'a' and 'b' have the same actions. */
bool
flowset_flow_actions_equal(const struct flowset_flow *a,
                           const struct flowset_flow *b)
{
    return ofpacts_equal(a->ofpacts, a->ofpacts_len,
                         b->ofpacts, b->ofpacts_len);
}

/* Returns a flow_mod with 'command' (OFPFC_ADD, OFPFC_MODIFY_STRICT or
 * OFPFC_DELETE_STRICT) for flow 'f', in 'protocol'.  A modification keeps
 * the flow's cookie and counters. */
struct ofpbuf *
flowset_encode_flow_mod(const struct flowset_flow *f, int command,
                        enum ofputil_protocol protocol)
{
    struct ofputil_flow_mod fm = {
        .match = f->match,
        .priority = f->priority,
        .table_id = f->table_id,
        .command = command,
        .new_cookie = command == OFPFC_ADD ? htonll(0) : OVS_BE64_MAX,
        .buffer_id = UINT32_MAX,
        .out_port = OFPP_ANY,
        .out_group = OFPG_ANY,
        .ofpacts = command == OFPFC_DELETE_STRICT ? NULL : f->ofpacts,
        .ofpacts_len = command == OFPFC_DELETE_STRICT ? 0 : f->ofpacts_len,
    };

    return ofputil_encode_flow_mod(&fm, protocol);
}

/* Returns the group of 'set' with 'group_id', or NULL. */
struct flowset_group *
flowset_find_group(const struct flowset *set, uint32_t group_id)
{
    struct flowset_group *g;

    HMAP_FOR_EACH_WITH_HASH (g, hmap_node, hash_int(group_id, 0),
                             &set->groups) {
        if (g->group_id == group_id) {
            return g;
        }
    }
    return NULL;
}

/* Adds to 'set' the group 'group_id' of 'type' with 'props' (copied; NULL
 * for none) and 'buckets' (a list of "struct ofputil_bucket"s, moved into
 * the group, which leaves 'buckets' empty) and returns it.  Every bucket's
 * actions are normalized.  If 'set' already has a group with that id, adds
 * nothing, frees the buckets and returns NULL. */
struct flowset_group *
flowset_add_group(struct flowset *set, uint32_t group_id, uint8_t type,
                  const struct ofputil_group_props *props,
                  struct ovs_list *buckets)
{
    struct ofputil_bucket *bucket;
    struct flowset_group *g;

    if (flowset_find_group(set, group_id)) {
        ofputil_bucket_list_destroy(buckets);
        ovs_list_init(buckets);
        return NULL;
    }
    g = xzalloc(sizeof *g);
    g->refcount = 1;
    g->group_id = group_id;
    g->type = type;
    if (props) {
        ofputil_group_properties_copy(&g->props, props);
    }
    ovs_list_init(&g->buckets);
    if (!ovs_list_is_empty(buckets)) {
        ovs_list_splice(&g->buckets, ovs_list_front(buckets), buckets);
    }
    LIST_FOR_EACH (bucket, list_node, &g->buckets) {
        flowset_normalize_ofpacts(bucket->ofpacts, bucket->ofpacts_len);
    }
    hmap_insert(&set->groups, &g->hmap_node, hash_int(group_id, 0));
    return g;
}

/* Adds a copy of 'g', a group of another set, to 'set', as
 * flowset_add_group() does. */
struct flowset_group *
flowset_add_group_copy(struct flowset *set, const struct flowset_group *g)
{
    struct ovs_list buckets = OVS_LIST_INITIALIZER(&buckets);

    ofputil_bucket_clone_list(&buckets, &g->buckets, NULL);
    return flowset_add_group(set, g->group_id, g->type, &g->props,
                             &buckets);
}

/* Inserts 'g', which is in no set, into 'set', as flowset_insert_flow()
 * does. */
struct flowset_group *
flowset_insert_group(struct flowset *set, struct flowset_group *g)
{
    struct flowset_group *old = flowset_find_group(set, g->group_id);

    if (old) {
        hmap_replace(&set->groups, &old->hmap_node, &g->hmap_node);
    } else {
        hmap_insert(&set->groups, &g->hmap_node, hash_int(g->group_id, 0));
    }
    return old;
}

/* Removes 'g' from 'set' and releases the set's reference to it. */
void
flowset_remove_group(struct flowset *set, struct flowset_group *g)
{
    hmap_remove(&set->groups, &g->hmap_node);
    flowset_group_unref(g);
}

static bool
props_equal__(const struct ofputil_group_props *a,
              const struct ofputil_group_props *b)
{
    return (!strcmp(a->selection_method, b->selection_method)
            && a->selection_method_param == b->selection_method_param
            && a->fields.values_size == b->fields.values_size
            && (!a->fields.values_size
                || !memcmp(a->fields.values, b->fields.values,
                           a->fields.values_size))
            && bitmap_equal(a->fields.used.bm, b->fields.used.bm,
                            MFF_N_IDS));
}

/* Returns true if groups 'a' and 'b' are the same to a switch (see the
 * comment at the top of flowset.h). */
bool
flowset_group_equal(const struct flowset_group *a,
                    const struct flowset_group *b)
{
    const struct ofputil_bucket *x, *y;

    if (a->group_id != b->group_id || a->type != b->type
        || ovs_list_size(&a->buckets) != ovs_list_size(&b->buckets)) {
        return false;
    }
    if (a->type == OFPGT11_SELECT && !props_equal__(&a->props, &b->props)) {
        return false;
    }
    y = CONTAINER_OF(b->buckets.next, struct ofputil_bucket, list_node);
    LIST_FOR_EACH (x, list_node, &a->buckets) {
        if (x->watch_port != y->watch_port
            || x->watch_group != y->watch_group
            || (a->type == OFPGT11_SELECT && x->weight != y->weight)
            || !ofpacts_equal(x->ofpacts, x->ofpacts_len,
                              y->ofpacts, y->ofpacts_len)) {
            return false;
        }
        y = CONTAINER_OF(y->list_node.next, struct ofputil_bucket,
                         list_node);
    }
    return true;
}

/* Returns a group_mod with 'command' (OFPGC11_ADD, OFPGC11_MODIFY or
 * OFPGC11_DELETE) for group 'g', in 'version'. */
struct ofpbuf *
flowset_encode_group_mod(const struct flowset_group *g, int command,
                         enum ofp_version version)
{
    struct ofputil_group_mod gm = {
        .command = command,
        .type = g->type,
        .group_id = g->group_id,
        .command_bucket_id = OFPG15_BUCKET_ALL,
        .props = g->props,
    };
    struct ofpbuf *msg;

    ovs_list_init(&gm.buckets);
    if (command != OFPGC11_DELETE) {
        ofputil_bucket_clone_list(&gm.buckets, &g->buckets, NULL);
    }
    msg = ofputil_encode_group_mod(version, &gm, NULL,
                                   command != OFPGC11_ADD);
    ofputil_bucket_list_destroy(&gm.buckets);
    return msg;
}

/* Removes from 'set' what OpenFlow 'version' cannot carry, so that 'set'
 * compares equal to what a switch connected with 'version' holds: before
 * OpenFlow 1.5, a select group's selection method. */
void
flowset_adapt_to_version(struct flowset *set, enum ofp_version version)
{
    struct flowset_group *g;

    if (version >= OFP15_VERSION) {
        return;
    }
    HMAP_FOR_EACH (g, hmap_node, &set->groups) {
        if (g->type == OFPGT11_SELECT && g->props.selection_method[0]) {
            ofputil_group_properties_destroy(&g->props);
            memset(&g->props, 0, sizeof g->props);
        }
    }
}

/* Returns true if 'a' and 'b' hold the same flows and groups. */
bool
flowset_equal(const struct flowset *a, const struct flowset *b)
{
    const struct flowset_flow *f;
    const struct flowset_group *g;

    if (hmap_count(&a->flows) != hmap_count(&b->flows)
        || hmap_count(&a->groups) != hmap_count(&b->groups)) {
        return false;
    }
    HMAP_FOR_EACH (f, hmap_node, &a->flows) {
        const struct flowset_flow *o = flowset_find_same_flow(b, f);

        if (!o || !flowset_flow_actions_equal(f, o)) {
            return false;
        }
    }
    HMAP_FOR_EACH (g, hmap_node, &a->groups) {
        const struct flowset_group *o = flowset_find_group(b, g->group_id);

        if (!o || !flowset_group_equal(g, o)) {
            return false;
        }
    }
    return true;
}

/* Adds a copy of every flow and group of 'src' to 'dst'. */
void
flowset_clone(struct flowset *dst, const struct flowset *src)
{
    const struct flowset_flow *f;
    const struct flowset_group *g;

    HMAP_FOR_EACH (f, hmap_node, &src->flows) {
        flowset_add_flow_copy(dst, f);
    }
    HMAP_FOR_EACH (g, hmap_node, &src->groups) {
        flowset_add_group_copy(dst, g);
    }
}

static void
format_actions__(const struct ofpact *ofpacts, size_t ofpacts_len,
                 struct ds *s)
{
    if (ofpacts_len) {
        struct ofpact_format_params fp = { .s = s };

        ofpacts_format(ofpacts, ofpacts_len, &fp);
    } else {
        ds_put_cstr(s, "drop");
    }
}

static void
format_match__(const struct flowset_flow *f, struct ds *s)
{
    size_t start = s->length;

    minimatch_format(&f->match, NULL, NULL, s, OFP_DEFAULT_PRIORITY);
    ds_chomp(s, ',');
    if (s->length > start) {
        /* minimatch_format() writes no leading comma. */
        ds_put_char(s, ' ');
        memmove(&s->string[start + 1], &s->string[start],
                s->length - start - 1);
        s->string[start] = ',';
    }
}

/* Appends flow 'f' to 's' in ovs-ofctl syntax, without a new-line:
 * "table=T,priority=P[,MATCH] actions=ACTIONS". */
void
flowset_format_flow(const struct flowset_flow *f, struct ds *s)
{
    ds_put_format(s, "table=%"PRIu8",priority=%"PRIu16,
                  f->table_id, f->priority);
    format_match__(f, s);
    ds_put_cstr(s, " actions=");
    format_actions__(f->ofpacts, f->ofpacts_len, s);
}

/* Appends group 'g' to 's' in ovs-ofctl syntax, without a new-line:
 * "group_id=G,type=T[,selection_method=...],bucket=...". */
void
flowset_format_group(const struct flowset_group *g, struct ds *s)
{
    static const char *const types[] = { "all", "select", "indirect", "ff" };
    const struct ofputil_bucket *bucket;

    ds_put_format(s, "group_id=%"PRIu32",", g->group_id);
    if (g->type < ARRAY_SIZE(types)) {
        ds_put_format(s, "type=%s", types[g->type]);
    } else {
        ds_put_format(s, "type=%"PRIu8, g->type);
    }
    if (g->type == OFPGT11_SELECT && g->props.selection_method[0]) {
        ds_put_format(s, ",selection_method=%s", g->props.selection_method);
        if (g->props.selection_method_param) {
            ds_put_format(s, ",selection_method_param=%"PRIu64,
                          g->props.selection_method_param);
        }
        if (g->props.fields.values_size) {
            ds_put_cstr(s, ",fields(");
            oxm_format_field_array(s, &g->props.fields);
            ds_put_char(s, ')');
        }
    }
    LIST_FOR_EACH (bucket, list_node, &g->buckets) {
        ds_put_cstr(s, ",bucket=");
        if (g->type == OFPGT11_SELECT) {
            ds_put_format(s, "weight:%"PRIu16",", bucket->weight);
        }
        if (bucket->watch_port != OFPP_ANY) {
            ds_put_format(s, "watch_port:%"PRIu16",",
                          ofp_to_u16(bucket->watch_port));
        }
        if (bucket->watch_group != OFPG_ANY) {
            ds_put_format(s, "watch_group:%"PRIu32",", bucket->watch_group);
        }
        ds_put_cstr(s, "actions=");
        format_actions__(bucket->ofpacts, bucket->ofpacts_len, s);
    }
}

/* A flow and its formatted match, for sorting. */
struct sorted_flow {
    struct flowset_flow *flow;  /* A reference. */
    union {
        size_t ofs;             /* Offset of the match in the arena... */
        const char *match;      /* ...then the match (format_match__()). */
    };
};

static int
compare_flows__(const void *a_, const void *b_)
{
    const struct sorted_flow *a = a_, *b = b_;

    if (a->flow->table_id != b->flow->table_id) {
        return a->flow->table_id < b->flow->table_id ? -1 : 1;
    }
    if (a->flow->priority != b->flow->priority) {
        return a->flow->priority > b->flow->priority ? -1 : 1;
    }
    return strcmp(a->match, b->match);
}

static int
compare_groups__(const void *a_, const void *b_)
{
    const struct flowset_group *const *a = a_, *const *b = b_;

    return ((*a)->group_id < (*b)->group_id ? -1
            : (*a)->group_id > (*b)->group_id);
}

/* The flows or the groups of a set, sorted for display, held by reference
 * so that the set may change while they are printed in pieces. */
struct flowset_cursor {
    struct sorted_flow *flows;  /* Sorted flows, or NULL for groups. */
    struct flowset_group **groups; /* Sorted groups, or NULL for flows. */
    struct ds arena;            /* The flows' matches, null-terminated. */
    size_t n, next;             /* Entries, and the next one to print. */
};

/* Returns a cursor over the flows (or, if 'groups', the groups) of 'set'
 * in display order: flows by table, priority (highest first) and match,
 * groups by id.  The caller destroys it with flowset_cursor_destroy(). */
struct flowset_cursor *
flowset_cursor_create(const struct flowset *set, bool groups)
{
    struct flowset_cursor *c = xzalloc(sizeof *c);
    size_t i = 0;

    ds_init(&c->arena);
    if (groups) {
        struct flowset_group *g;

        c->n = hmap_count(&set->groups);
        c->groups = xmalloc(MAX(c->n, 1) * sizeof *c->groups);
        HMAP_FOR_EACH (g, hmap_node, &set->groups) {
            c->groups[i++] = flowset_group_ref(g);
        }
        qsort(c->groups, c->n, sizeof *c->groups, compare_groups__);
    } else {
        struct flowset_flow *f;

        /* The matches go into one arena rather than one allocation each:
         * at 131,072 flows that saves megabytes. */
        c->n = hmap_count(&set->flows);
        c->flows = xmalloc(MAX(c->n, 1) * sizeof *c->flows);
        HMAP_FOR_EACH (f, hmap_node, &set->flows) {
            c->flows[i].flow = flowset_flow_ref(f);
            c->flows[i++].ofs = c->arena.length;
            format_match__(f, &c->arena);
            ds_put_char(&c->arena, '\0');
        }
        for (i = 0; i < c->n; i++) {
            c->flows[i].match = c->arena.string + c->flows[i].ofs;
        }
        qsort(c->flows, c->n, sizeof *c->flows, compare_flows__);
    }
    return c;
}

/* Appends to 's' the next entries of 'c' in ovs-ofctl syntax, one per
 * line, until 's' has grown by at least 'max_bytes' or none remain.
 * Returns true if entries remain. */
bool
flowset_cursor_format(struct flowset_cursor *c, struct ds *s,
                      size_t max_bytes)
{
    size_t start = s->length;

    for (; c->next < c->n && s->length - start < max_bytes; c->next++) {
        if (c->groups) {
            flowset_format_group(c->groups[c->next], s);
        } else {
            const struct sorted_flow *sf = &c->flows[c->next];

            ds_put_format(s, "table=%"PRIu8",priority=%"PRIu16"%s actions=",
                          sf->flow->table_id, sf->flow->priority, sf->match);
            format_actions__(sf->flow->ofpacts, sf->flow->ofpacts_len, s);
        }
        ds_put_char(s, '\n');
    }
    return c->next < c->n;
}

/* Frees 'c' and drops its references.  Accepts NULL. */
void
flowset_cursor_destroy(struct flowset_cursor *c)
{
    if (c) {
        for (size_t i = 0; i < c->n; i++) {
            if (c->groups) {
                flowset_group_unref(c->groups[i]);
            } else {
                flowset_flow_unref(c->flows[i].flow);
            }
        }
        free(c->flows);
        free(c->groups);
        ds_destroy(&c->arena);
        free(c);
    }
}

/* Appends the flows of 'set' to 's' in 'ovs-ofctl add-flows' syntax, one
 * per line, by table, then priority (highest first), then match. */
void
flowset_format_flows(const struct flowset *set, struct ds *s)
{
    struct flowset_cursor *c = flowset_cursor_create(set, false);

    flowset_cursor_format(c, s, SIZE_MAX);
    flowset_cursor_destroy(c);
}

/* Appends the groups of 'set' to 's' in 'ovs-ofctl add-groups' syntax, one
 * per line, by group id. */
void
flowset_format_groups(const struct flowset *set, struct ds *s)
{
    struct flowset_cursor *c = flowset_cursor_create(set, true);

    flowset_cursor_format(c, s, SIZE_MAX);
    flowset_cursor_destroy(c);
}

/* Adds to 'set' the flow 'text' in ovs-ofctl syntax ("table=T,priority=P,
 * MATCH actions=ACTIONS").  Returns NULL, or an error message that the
 * caller frees (also if 'set' already has a flow with that key). */
char *
flowset_parse_flow(struct flowset *set, const char *text)
{
    enum ofputil_protocol usable;
    struct ofputil_flow_mod fm;
    struct match match;
    char *error;

    error = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, OFPFC_ADD,
                                   &usable);
    if (error) {
        char *msg = xasprintf("flow \"%s\": %s", text, error);

        free(error);
        return msg;
    }
    minimatch_expand(&fm.match, &match);
    if (!flowset_add_flow(set, fm.table_id == 0xff ? 0 : fm.table_id,
                          fm.priority, &match, fm.ofpacts, fm.ofpacts_len)) {
        error = xasprintf("flow \"%s\": the set has a flow with this table, "
                          "priority and match", text);
    }
    minimatch_destroy(&fm.match);
    free(CONST_CAST(struct ofpact *, fm.ofpacts));
    return error;
}

/* Adds to 'set' the group 'text' in ovs-ofctl syntax ("group_id=G,type=T,
 * bucket=...").  Returns NULL, or an error message that the caller frees
 * (also if 'set' already has that group). */
char *
flowset_parse_group(struct flowset *set, const char *text)
{
    enum ofputil_protocol usable;
    struct ofputil_group_mod gm;
    char *error;

    error = parse_ofp_group_mod_str(&gm, OFPGC11_ADD, text, NULL, NULL,
                                    &usable);
    if (error) {
        char *msg = xasprintf("group \"%s\": %s", text, error);

        free(error);
        return msg;
    }
    if (!flowset_add_group(set, gm.group_id, gm.type, &gm.props,
                           &gm.buckets)) {
        error = xasprintf("group \"%s\": the set has a group with this id",
                          text);
    }
    ofputil_uninit_group_mod(&gm);
    return error;
}
