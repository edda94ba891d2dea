/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "ctlstate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "util.h"

#define CTLSTATE_VERSION 1
#define CTLSTATE_MAX_SIZE (16 * 1024 * 1024) /* Largest file read. */
#define CTLSTATE_MAX_NAME 255                /* Longest name. */

/* Initializes 's' as empty. */
void
ctlstate_init(struct ctlstate *s)
{
    shash_init(&s->epochs);
    sset_init(&s->agents);
    shash_init(&s->maps);
    shash_init(&s->insts);
}

static void
map_destroy__(struct ctlstate_map *m)
{
    for (size_t b = 0; b < m->n_buckets; b++) {
        ctlstate_bucket_set(&m->buckets[b], NULL, NULL, NULL, 0);
    }
    free(m->buckets);
    free(m);
}

static void
inst_destroy__(struct ctlstate_inst *si)
{
    free(si->service);
    free(si);
}

/* Frees what 's' holds.  Accepts NULL. */
void
ctlstate_destroy(struct ctlstate *s)
{
    if (s) {
        struct shash_node *node;

        shash_destroy_free_data(&s->epochs);
        sset_destroy(&s->agents);
        SHASH_FOR_EACH (node, &s->maps) {
            map_destroy__(node->data);
        }
        shash_destroy(&s->maps);
        SHASH_FOR_EACH (node, &s->insts) {
            inst_destroy__(node->data);
        }
        shash_destroy(&s->insts);
    }
}

/* Adds to 's' (or replaces in it) the map of 'service', with 'n_buckets'
 * buckets that hold no instance, and returns it. */
struct ctlstate_map *
ctlstate_put_map(struct ctlstate *s, const char *service, size_t n_buckets)
{
    struct ctlstate_map *m = xzalloc(sizeof *m);

    m->n_buckets = n_buckets;
    m->buckets = xcalloc(MAX(n_buckets, 1), sizeof *m->buckets);
    m = shash_replace(&s->maps, service, m);
    if (m) {
        map_destroy__(m);
    }
    return shash_find_data(&s->maps, service);
}

static void
set_name__(char **dst, const char *src)
{
    free(*dst);
    *dst = nullable_xstrdup(src);
}

/* Sets the instances of bucket 'b' by name (each NULL for none), and the
 * epoch from which they hold. */
void
ctlstate_bucket_set(struct ctlstate_bucket *b, const char *primary,
                    const char *secondary, const char *next, uint64_t since)
{
    set_name__(&b->primary, primary);
    set_name__(&b->secondary, secondary);
    set_name__(&b->next, next);
    b->since = since;
}

/* Adds to 's' (or replaces in it) instance 'name' of 'service', DOWN and
 * with every flag false, and returns it. */
struct ctlstate_inst *
ctlstate_put_inst(struct ctlstate *s, const char *name, const char *service)
{
    struct ctlstate_inst *si = xzalloc(sizeof *si);

    si->service = xstrdup(service);
    si->state = SVCMAP_DOWN;
    si = shash_replace(&s->insts, name, si);
    if (si) {
        inst_destroy__(si);
    }
    return shash_find_data(&s->insts, name);
}

static bool
name_eq__(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* Returns true if maps 'a' and 'b' are the same. */
bool
ctlstate_map_equal(const struct ctlstate_map *a, const struct ctlstate_map *b)
{
    if (a->n_buckets != b->n_buckets) {
        return false;
    }
    for (size_t i = 0; i < a->n_buckets; i++) {
        const struct ctlstate_bucket *x = &a->buckets[i];
        const struct ctlstate_bucket *y = &b->buckets[i];

        if (x->since != y->since || !name_eq__(x->primary, y->primary)
            || !name_eq__(x->secondary, y->secondary)
            || !name_eq__(x->next, y->next)) {
            return false;
        }
    }
    return true;
}

/* Returns true if instances 'a' and 'b' are the same. */
bool
ctlstate_inst_equal(const struct ctlstate_inst *a,
                    const struct ctlstate_inst *b)
{
    return (!strcmp(a->service, b->service) && a->state == b->state
            && a->draining == b->draining && a->seen_live == b->seen_live
            && a->disabled == b->disabled && a->fenced == b->fenced
            && a->leaving == b->leaving);
}

/* Returns true if 'a' and 'b' hold the same state. */
bool
ctlstate_equal(const struct ctlstate *a, const struct ctlstate *b)
{
    struct shash_node *node;

    if (shash_count(&a->epochs) != shash_count(&b->epochs)
        || !sset_equals(&a->agents, &b->agents)
        || shash_count(&a->maps) != shash_count(&b->maps)
        || shash_count(&a->insts) != shash_count(&b->insts)) {
        return false;
    }
    SHASH_FOR_EACH (node, &a->epochs) {
        const uint64_t *e = node->data;

        if (ctlstate_get_epoch(b, node->name) != *e) {
            return false;
        }
    }
    SHASH_FOR_EACH (node, &a->maps) {
        const struct ctlstate_map *m = shash_find_data(&b->maps, node->name);

        if (!m || !ctlstate_map_equal(node->data, m)) {
            return false;
        }
    }
    SHASH_FOR_EACH (node, &a->insts) {
        const struct ctlstate_inst *si = shash_find_data(&b->insts,
                                                         node->name);

        if (!si || !ctlstate_inst_equal(node->data, si)) {
            return false;
        }
    }
    return true;
}

/* Records 'epoch' as the newest epoch of 'service' in 's'. */
void
ctlstate_set_epoch(struct ctlstate *s, const char *service, uint64_t epoch)
{
    uint64_t *p = shash_find_data(&s->epochs, service);

    if (!p) {
        p = xmalloc(sizeof *p);
        shash_add(&s->epochs, service, p);
    }
    *p = epoch;
}

/* Returns the newest epoch of 'service' in 's', or 0 if it has none. */
uint64_t
ctlstate_get_epoch(const struct ctlstate *s, const char *service)
{
    const uint64_t *p = shash_find_data(&s->epochs, service);

    return p ? *p : 0;
}

/* Returns 's' as the text of a state file, to be freed by the caller.  The
 * same state always gives the same text (names are sorted), so texts can
 * be compared to tell whether the file needs writing. */
char *
ctlstate_to_string(const struct ctlstate *s)
{
    struct json *top = json_object_create();
    struct json *epochs = json_object_create();
    struct json *agents = json_array_create_empty();
    const struct shash_node **nodes = shash_sort(&s->epochs);
    const char **names = sset_sort(&s->agents);
    char *text;

    for (size_t i = 0; i < shash_count(&s->epochs); i++) {
        const uint64_t *epoch = nodes[i]->data;

        json_object_put(epochs, nodes[i]->name,
                        json_integer_create(MIN(*epoch, INT64_MAX)));
    }
    free(nodes);
    for (size_t i = 0; i < sset_count(&s->agents); i++) {
        json_array_add(agents, json_string_create(names[i]));
    }
    free(names);
    json_object_put(top, "version", json_integer_create(CTLSTATE_VERSION));
    json_object_put(top, "epochs", epochs);
    json_object_put(top, "agents", agents);
    text = json_to_string(top, JSSF_SORT);
    json_destroy(top);
    return text;
}

static bool
valid_name__(const char *name)
{
    size_t len = strlen(name);

    return len > 0 && len <= CTLSTATE_MAX_NAME;
}

static char *
from_json__(const struct json *top, struct ctlstate *s)
{
    const struct json *version, *epochs, *agents;
    struct shash_node *node;

    if (top->type != JSON_OBJECT) {
        return xstrdup("not a JSON object");
    }
    SHASH_FOR_EACH (node, json_object(top)) {
        if (strcmp(node->name, "version") && strcmp(node->name, "epochs")
            && strcmp(node->name, "agents")) {
            return xasprintf("unknown member \"%s\"", node->name);
        }
    }
    version = shash_find_data(json_object(top), "version");
    if (!version || version->type != JSON_INTEGER
        || json_integer(version) != CTLSTATE_VERSION) {
        return xasprintf("\"version\" must be %d", CTLSTATE_VERSION);
    }

    epochs = shash_find_data(json_object(top), "epochs");
    if (!epochs || epochs->type != JSON_OBJECT) {
        return xstrdup("\"epochs\" must be an object");
    }
    SHASH_FOR_EACH (node, json_object(epochs)) {
        const struct json *e = node->data;

        if (!valid_name__(node->name)) {
            return xstrdup("\"epochs\": a service name is empty or too "
                           "long");
        }
        if (e->type != JSON_INTEGER || json_integer(e) < 1) {
            return xasprintf("\"epochs\": the epoch of \"%s\" must be a "
                             "positive integer", node->name);
        }
        ctlstate_set_epoch(s, node->name, json_integer(e));
    }

    agents = shash_find_data(json_object(top), "agents");
    if (!agents || agents->type != JSON_ARRAY) {
        return xstrdup("\"agents\" must be an array");
    }
    for (size_t i = 0; i < agents->array.n; i++) {
        const struct json *a = agents->array.elems[i];

        if (a->type != JSON_STRING || !valid_name__(json_string(a))) {
            return xstrdup("\"agents\": every element must be an "
                           "instance name");
        }
        sset_add(&s->agents, json_string(a));
    }
    return NULL;
}

/* Parses 'text', the contents of a state file, into 's' (initialized,
 * normally empty).  Returns NULL, or an error message to be freed by the
 * caller, in which case 's' is left empty. */
char *
ctlstate_from_string(const char *text, struct ctlstate *s)
{
    struct json *top = json_from_string(text);
    char *error;

    if (top->type == JSON_STRING) {
        error = xasprintf("not JSON: %s", json_string(top));
    } else {
        error = from_json__(top, s);
    }
    json_destroy(top);
    if (error) {
        ctlstate_destroy(s);
        ctlstate_init(s);
    }
    return error;
}

/* Reads the state file 'file_name' into 's'.  A file that does not exist
 * is an empty state.  Returns NULL, or an error message to be freed by the
 * caller (and 's' is left empty). */
char *
ctlstate_read(const char *file_name, struct ctlstate *s)
{
    struct ds text = DS_EMPTY_INITIALIZER;
    char *error = NULL;
    FILE *f;
    int c;

    f = fopen(file_name, "r");
    if (!f) {
        return (errno == ENOENT ? NULL
                : xasprintf("%s: cannot open (%s)", file_name,
                            ovs_strerror(errno)));
    }
    while ((c = getc(f)) != EOF) {
        if (text.length >= CTLSTATE_MAX_SIZE) {
            error = xasprintf("%s: larger than %d bytes", file_name,
                              CTLSTATE_MAX_SIZE);
            break;
        }
        if (c == '\0') {
            error = xasprintf("%s: has a NUL byte", file_name);
            break;
        }
        ds_put_char(&text, c);
    }
    if (!error && ferror(f)) {
        error = xasprintf("%s: read error (%s)", file_name,
                          ovs_strerror(errno));
    }
    fclose(f);
    if (!error) {
        char *e = ctlstate_from_string(ds_cstr(&text), s);
        if (e) {
            error = xasprintf("%s: %s", file_name, e);
            free(e);
        }
    }
    ds_destroy(&text);
    return error;
}

/* Replaces the contents of 'file_name' with 'contents' and a new line, by
 * way of a temporary file renamed over it.  Returns NULL, or an error
 * message to be freed by the caller (the old file is then untouched). */
char *
ctlstate_write(const char *file_name, const char *contents)
{
    char *tmp = xasprintf("%s.tmp", file_name);
    size_t len = strlen(contents);
    char *error = NULL;
    int fd;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        error = xasprintf("%s: cannot create (%s)", tmp,
                          ovs_strerror(errno));
    } else {
        if (write(fd, contents, len) != (ssize_t) len
            || write(fd, "\n", 1) != 1) {
            error = xasprintf("%s: cannot write (%s)", tmp,
                              ovs_strerror(errno));
        }
        if (close(fd) && !error) {
            error = xasprintf("%s: cannot write (%s)", tmp,
                              ovs_strerror(errno));
        }
        if (!error && rename(tmp, file_name)) {
            error = xasprintf("%s: cannot rename to %s (%s)", tmp,
                              file_name, ovs_strerror(errno));
        }
        if (error) {
            unlink(tmp);
        }
    }
    free(tmp);
    return error;
}
