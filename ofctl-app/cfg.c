/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "cfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include "handoff.h"
#include "nx-match.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/match.h"
#include "openvswitch/meta-flow.h"
#include "openvswitch/ofp-parse.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "packets.h"
#include "route.h"
#include "util.h"

/* Deepest nesting of lists and mappings read; the format itself needs 5.
 * Deeper input is refused while it is still being scanned. */
#define MAX_DEPTH 32

/* Longest name of a switch, service, instance or chain, in bytes. */
#define MAX_NAME_LEN 64

/* Longest port name: OpenFlow carries 16 bytes, the last one a null. */
#define MAX_PORT_LEN 15

/* Longest extra match of a chain, in bytes. */
#define MAX_MATCH_LEN 1024

/* Bounds of the timers, in milliseconds. */
#define MIN_TIMER_MS 100
#define MAX_TIMER_MS 3600000

/* Largest service path identifier: NSH's SPI has 24 bits. */
#define MAX_SPI 0xffffff

/* Most keys a mapping of fixed fields may have. */
#define MAX_FIELDS 16

/* Longest part of a value quoted in a message. */
#define MAX_QUOTE_LEN 40

/* Where a value that must be unique was first used. */
struct use {
    char *field;                /* Path of the field that used it. */
    int line;                   /* Line of that field. */
};

/* The state of one cfg_parse(). */
struct parser {
    const char *file;           /* File name, for messages. */
    struct sfm_config *cfg;     /* What is read so far. */
    yaml_document_t *doc;       /* The document being read. */
    struct ds path;             /* Dotted path of the field being read. */
    char *error;                /* The first error, or NULL. */
    struct shash switches;      /* Contains "struct cfg_switch *"s. */
    struct shash services;      /* Contains "struct cfg_service *"s. */
    struct shash uses;          /* Contains "struct use *"s, by kind and
                                 * value ("spi 100"). */
    struct route_table routes;  /* Over the links read, all usable. */
};

/* Returns the line, counting from 1, where 'node' starts. */
static int
line__(const yaml_node_t *node)
{
    return node->start_mark.line + 1;
}

/* Returns the node of 'p''s document with 'index'. */
static const yaml_node_t *
node__(const struct parser *p, int index)
{
    const yaml_node_t *node = yaml_document_get_node(p->doc, index);

    ovs_assert(node);
    return node;
}

/* Returns the text of the scalar 'node', which may contain null bytes: its
 * length is node->data.scalar.length. */
static const char *
scalar__(const yaml_node_t *node)
{
    return (const char *) node->data.scalar.value;
}

/* Returns true if 'node' is a scalar whose text is 's'. */
static bool
scalar_is__(const yaml_node_t *node, const char *s)
{
    size_t len = strlen(s);

    return (node->type == YAML_SCALAR_NODE
            && node->data.scalar.length == len
            && !memcmp(node->data.scalar.value, s, len));
}

/* Returns true if 'node' is what YAML reads as null: no value at all, '~' or
 * "null", unquoted. */
static bool
is_null__(const yaml_node_t *node)
{
    return (node->type == YAML_SCALAR_NODE
            && node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE
            && (!node->data.scalar.length
                || scalar_is__(node, "~")
                || scalar_is__(node, "null")
                || scalar_is__(node, "Null")
                || scalar_is__(node, "NULL")));
}

/* Returns the 'len' bytes at 's' for a message, in double quotes if
 * 'quotes' is true: quotes, backslashes and control characters escaped, and
 * at most MAX_QUOTE_LEN bytes shown.  The caller frees it. */
static char *
quote__(const char *s, size_t len, bool quotes)
{
    struct ds ds = DS_EMPTY_INITIALIZER;

    if (quotes) {
        ds_put_char(&ds, '"');
    }
    for (size_t i = 0; i < len && i < MAX_QUOTE_LEN; i++) {
        unsigned char c = s[i];

        if (c == '"' || c == '\\') {
            ds_put_char(&ds, '\\');
            ds_put_char(&ds, c);
        } else if (c < 0x20 || c == 0x7f) {
            ds_put_format(&ds, "\\x%02x", c);
        } else {
            ds_put_char(&ds, c);
        }
    }
    if (len > MAX_QUOTE_LEN) {
        ds_put_cstr(&ds, "...");
    }
    if (quotes) {
        ds_put_char(&ds, '"');
    }
    return ds_steal_cstr(&ds);
}

/* Returns the scalar 'node' in double quotes for a message, as quote__()
 * does. */
static char *
quote_node__(const yaml_node_t *node)
{
    return quote__(scalar__(node), node->data.scalar.length, true);
}

/* Records the error described by 'format' about the field being read in
 * 'p', at the line of 'node', unless an error was already recorded.  Returns
 * false, so that callers can 'return fail__(...)'. */
static bool OVS_PRINTF_FORMAT(3, 4)
fail__(struct parser *p, const yaml_node_t *node, const char *format, ...)
{
    va_list args;
    char *msg;

    if (p->error) {
        return false;
    }

    va_start(args, format);
    msg = xvasprintf(format, args);
    va_end(args);
    if (p->path.length) {
        p->error = xasprintf("%s:%d: %s: %s", p->file, line__(node),
                             ds_cstr(&p->path), msg);
    } else {
        p->error = xasprintf("%s:%d: %s", p->file, line__(node), msg);
    }
    free(msg);
    return false;
}

/* Reports that 'node' is not 'expected' (for example "a mapping"), saying
 * what it is instead.  Returns false. */
static bool
type_error__(struct parser *p, const yaml_node_t *node, const char *expected)
{
    char *q;

    switch (node->type) {
    case YAML_MAPPING_NODE:
        return fail__(p, node, "expected %s, found a mapping", expected);
    case YAML_SEQUENCE_NODE:
        return fail__(p, node, "expected %s, found a list", expected);
    case YAML_SCALAR_NODE:
        if (is_null__(node)) {
            return fail__(p, node, "expected %s, found no value", expected);
        }
        q = quote_node__(node);
        fail__(p, node, "expected %s, found %s", expected, q);
        free(q);
        return false;
    case YAML_NO_NODE:
    default:
        return fail__(p, node, "expected %s", expected);
    }
}

/* Appends the field 'name' to the path in 'p'.  Returns what to pass to
 * path_pop__() to remove it. */
static size_t
path_push__(struct parser *p, const char *name)
{
    size_t mark = p->path.length;

    if (mark) {
        ds_put_char(&p->path, '.');
    }
    ds_put_cstr(&p->path, name);
    return mark;
}

/* Appends the list index 'i' to the path in 'p'.  Returns what to pass to
 * path_pop__() to remove it. */
static size_t
path_push_index__(struct parser *p, size_t i)
{
    size_t mark = p->path.length;

    ds_put_format(&p->path, "[%"PRIuSIZE"]", i);
    return mark;
}

/* Restores the path in 'p' to what it was when path_push__() or
 * path_push_index__() returned 'mark'. */
static void
path_pop__(struct parser *p, size_t mark)
{
    ds_truncate(&p->path, mark);
}

/* Records that the value 'key' ("spi 100": its kind and value) is used by the
 * field at the current path in 'p', at the line of 'node'.  If something
 * used it before, reports that 'what' is already used, naming the first
 * user, and returns false. */
static bool
claim__(struct parser *p, const char *key, const yaml_node_t *node,
        const char *what)
{
    struct use *use = shash_find_data(&p->uses, key);

    if (use) {
        return fail__(p, node, "%s is already used by %s (line %d)",
                      what, use->field, use->line);
    }
    use = xmalloc(sizeof *use);
    use->field = xstrdup(ds_cstr(&p->path));
    use->line = line__(node);
    shash_add(&p->uses, key, use);
    return true;
}

/* Returns true if 'node' has 'type', otherwise reports that it should be
 * 'expected' (for example "a mapping") and returns false. */
static bool
expect__(struct parser *p, const yaml_node_t *node, yaml_node_type_t type,
         const char *expected)
{
    return node->type == type || type_error__(p, node, expected);
}

/* Reads the mapping 'node', whose keys must be among the 'n' in 'keys', each
 * at most once, storing the value of each key at the same position in
 * 'values' (NULL if the key is absent).  Returns false, after reporting why,
 * if 'node' is not such a mapping. */
static bool
get_fields__(struct parser *p, const yaml_node_t *node,
             const char *const keys[], size_t n, const yaml_node_t *values[])
{
    const yaml_node_t *key_nodes[MAX_FIELDS];
    const yaml_node_pair_t *pair;

    ovs_assert(n <= MAX_FIELDS);
    if (!expect__(p, node, YAML_MAPPING_NODE, "a mapping")) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        values[i] = NULL;
        key_nodes[i] = NULL;
    }

    for (pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node__(p, pair->key);
        size_t i;

        if (key->type != YAML_SCALAR_NODE || is_null__(key)) {
            return type_error__(p, key, "a key");
        }
        for (i = 0; i < n; i++) {
            if (scalar_is__(key, keys[i])) {
                break;
            }
        }
        if (i == n) {
            struct ds allowed = DS_EMPTY_INITIALIZER;
            char *q = quote_node__(key);

            for (size_t j = 0; j < n; j++) {
                ds_put_format(&allowed, "%s%s", j ? ", " : "", keys[j]);
            }
            fail__(p, key, "unknown key %s (allowed: %s)", q,
                   ds_cstr(&allowed));
            ds_destroy(&allowed);
            free(q);
            return false;
        }
        if (values[i]) {
            size_t mark = path_push__(p, keys[i]);

            fail__(p, key, "duplicate key (first at line %d)",
                   line__(key_nodes[i]));
            path_pop__(p, mark);
            return false;
        }
        values[i] = node__(p, pair->value);
        key_nodes[i] = key;
    }
    return true;
}

/* Reports that the field 'key' of the mapping 'node' is missing if 'value'
 * is NULL, and returns false; otherwise returns true. */
static bool
require__(struct parser *p, const yaml_node_t *node,
          const yaml_node_t *value, const char *key)
{
    if (!value) {
        size_t mark = path_push__(p, key);

        fail__(p, node, "required field is missing");
        path_pop__(p, mark);
        return false;
    }
    return true;
}

/* Checks that 'node' is a name of a 'what' ("switch", "port") of 1 to 'max'
 * bytes, none of them a space or a control character.  Returns false, after
 * reporting why, if it is not. */
static bool
check_name__(struct parser *p, const yaml_node_t *node, const char *what,
             size_t max)
{
    const char *s;
    size_t len;
    char *q;

    if (node->type != YAML_SCALAR_NODE || is_null__(node)) {
        char *expected = xasprintf("a %s name", what);

        type_error__(p, node, expected);
        free(expected);
        return false;
    }

    s = scalar__(node);
    len = node->data.scalar.length;
    q = quote_node__(node);
    if (!len) {
        fail__(p, node, "%s name is empty", what);
    } else if (len > max) {
        fail__(p, node, "%s name %s is longer than %"PRIuSIZE" bytes",
               what, q, max);
    } else {
        for (size_t i = 0; i < len; i++) {
            unsigned char c = s[i];

            if (c <= ' ' || c == 0x7f) {
                fail__(p, node, "%s name %s contains a space or a control "
                       "character", what, q);
                break;
            }
        }
    }
    free(q);
    return !p->error;
}

/* Reads the name of a 'what' ("switch") of at most 'max' bytes from 'node'
 * into '*namep', which the caller frees.  Returns false, after reporting
 * why, if 'node' is not such a name. */
static bool
get_name__(struct parser *p, const yaml_node_t *node, const char *what,
           size_t max, char **namep)
{
    if (!check_name__(p, node, what, max)) {
        return false;
    }
    *namep = xmemdup0(scalar__(node), node->data.scalar.length);
    return true;
}

/* Checks that 'node' is a non-empty mapping whose keys are valid names of
 * 'what's ("switch"), each used once.  Returns false, after reporting why,
 * if it is not. */
static bool
check_names__(struct parser *p, const yaml_node_t *node, const char *what)
{
    struct shash seen = SHASH_INITIALIZER(&seen);
    const yaml_node_pair_t *pair;
    bool ok = true;

    if (!expect__(p, node, YAML_MAPPING_NODE, "a mapping")) {
        return false;
    }
    if (node->data.mapping.pairs.start == node->data.mapping.pairs.top) {
        return fail__(p, node, "at least one %s is required", what);
    }

    for (pair = node->data.mapping.pairs.start;
         ok && pair < node->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node__(p, pair->key);
        const yaml_node_t *first;

        if (!check_name__(p, key, what, MAX_NAME_LEN)) {
            ok = false;
            break;
        }
        first = shash_find_data(&seen, scalar__(key));
        if (first) {
            size_t mark = path_push__(p, scalar__(key));

            fail__(p, key, "duplicate key (first at line %d)", line__(first));
            path_pop__(p, mark);
            ok = false;
        } else {
            shash_add(&seen, scalar__(key), key);
        }
    }
    shash_destroy(&seen);
    return ok;
}

/* The outcome of parse_uint__(). */
enum parse_result {
    PARSE_OK,                   /* A number. */
    PARSE_BAD,                  /* Not a number. */
    PARSE_LEADING_ZERO,         /* A decimal number with a leading zero. */
    PARSE_RANGE                 /* Negative, or more than 64 bits. */
};

/* Parses the 'len' bytes at 's' as an unsigned integer, decimal or (after
 * "0x") hexadecimal, into '*valuep'. */
static enum parse_result
parse_uint__(const char *s, size_t len, uint64_t *valuep)
{
    bool negative = false, overflow = false, leading_zero = false;
    unsigned int base = 10;
    uint64_t value = 0;
    size_t i = 0;

    if (len && s[0] == '-') {
        negative = true;
        i++;
    }
    if (len - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        base = 16;
        i += 2;
    } else if (len - i >= 2 && s[i] == '0') {
        leading_zero = true;
    }
    if (i == len) {
        return PARSE_BAD;
    }

    for (; i < len; i++) {
        int digit = hexit_value(s[i]);

        if (digit < 0 || digit >= base) {
            return PARSE_BAD;
        }
        if (value > (UINT64_MAX - digit) / base) {
            overflow = true;
        } else {
            value = value * base + digit;
        }
    }
    if (leading_zero) {
        return PARSE_LEADING_ZERO;
    } else if (overflow || (negative && value)) {
        return PARSE_RANGE;
    }
    *valuep = value;
    return PARSE_OK;
}

/* Reads the integer 'node', from 'min' to 'max', into '*valuep'.  Returns
 * false, after reporting why, if 'node' is not such an integer. */
static bool
get_uint__(struct parser *p, const yaml_node_t *node, uint64_t min,
           uint64_t max, uint64_t *valuep)
{
    enum parse_result result;
    uint64_t value = 0;
    const char *s;
    size_t len;
    char *q;

    if (node->type != YAML_SCALAR_NODE || is_null__(node)) {
        return type_error__(p, node, "an integer");
    }

    /* A number is shown as it is, anything else quoted. */
    s = scalar__(node);
    len = node->data.scalar.length;
    result = (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE
              ? PARSE_BAD
              : parse_uint__(s, len, &value));
    q = quote__(s, len, result == PARSE_BAD);
    if (node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        fail__(p, node, "%s is quoted; write numbers without quotes", q);
    } else if (result == PARSE_BAD) {
        fail__(p, node, "%s is not an integer", q);
    } else if (result == PARSE_LEADING_ZERO) {
        fail__(p, node, "%s has a leading zero (write it without, or in hex "
               "with 0x)", q);
    } else if (result == PARSE_RANGE || value < min || value > max) {
        fail__(p, node, "%s is out of range (%"PRIu64" to %"PRIu64")",
               q, min, max);
    }
    free(q);
    *valuep = value;
    return !p->error;
}

/* Reads the datapath id 'node' into '*dpidp': an integer, or 16 hex digits
 * as OVS prints datapath ids, quoted or not.  Returns false, after reporting
 * why, if 'node' is not a nonzero datapath id. */
static bool
get_dpid__(struct parser *p, const yaml_node_t *node, uint64_t *dpidp)
{
    if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 16) {
        const char *s = scalar__(node);
        uint64_t dpid = 0;
        size_t i;

        for (i = 0; i < 16 && hexit_value(s[i]) >= 0; i++) {
            dpid = (dpid << 4) | hexit_value(s[i]);
        }
        if (i == 16) {
            *dpidp = dpid;
            return dpid || fail__(p, node, "datapath id must be nonzero");
        }
    }
    if (node->type == YAML_SCALAR_NODE && !is_null__(node)
        && node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
        char *q = quote_node__(node);

        fail__(p, node, "%s is not a datapath id: write an integer (decimal "
               "or 0x hex) or 16 hex digits", q);
        free(q);
        return false;
    }
    if (node->type == YAML_SCALAR_NODE) {
        uint64_t dpid;

        if (parse_uint__(scalar__(node), node->data.scalar.length, &dpid)
            == PARSE_OK && !dpid) {
            return fail__(p, node, "datapath id must be nonzero");
        }
    }
    return get_uint__(p, node, 1, UINT64_MAX, dpidp);
}

/* Reads the unicast MAC address "xx:xx:xx:xx:xx:xx" in 'node' into 'mac'.
 * Returns false, after reporting why, if 'node' is not one. */
static bool
get_mac__(struct parser *p, const yaml_node_t *node, struct eth_addr *mac)
{
    const char *s;
    bool ok;
    char *q;

    if (node->type != YAML_SCALAR_NODE || is_null__(node)) {
        return type_error__(p, node, "a MAC address");
    }

    /* eth_addr_from_string() accepts more than this, such as "2:0:0:0:0:1"
     * or " 02:...", which are more likely typing errors than addresses. */
    s = scalar__(node);
    ok = node->data.scalar.length == 17;
    for (size_t i = 0; ok && i < 17; i++) {
        ok = i % 3 == 2 ? s[i] == ':' : hexit_value(s[i]) >= 0;
    }
    q = quote_node__(node);
    if (!ok || !eth_addr_from_string(s, mac)) {
        fail__(p, node, "%s is not a MAC address (write it as "
               "xx:xx:xx:xx:xx:xx)", q);
    } else if (eth_addr_is_multicast(*mac)) {
        fail__(p, node, "%s is a multicast address; an instance needs a "
               "unicast one", q);
    } else if (eth_addr_is_zero(*mac)) {
        fail__(p, node, "%s is not a valid instance address", q);
    } else if (!strncasecmp(s, CFG_REDIRECT_MAC, 17)) {
        fail__(p, node, "%s is reserved: switches mark redirected frames "
               "with it", q);
    }
    free(q);
    return !p->error;
}

/* Reads the switch named by 'node' into '*swp'.  Returns false, after
 * reporting why, if it names no switch defined in "switches". */
static bool
get_switch_ref__(struct parser *p, const yaml_node_t *node,
                 const struct cfg_switch **swp)
{
    if (!check_name__(p, node, "switch", MAX_NAME_LEN)) {
        return false;
    }
    *swp = shash_find_data(&p->switches, scalar__(node));
    return *swp || fail__(p, node, "switch %s is not defined in switches",
                          scalar__(node));
}

/* Reads the port named by 'node' on the switch 'sw' into '*portp', which
 * the caller frees, and claims it for the field being read.  Returns false,
 * after reporting why, if 'node' is no port name or the port is already
 * used. */
static bool
get_port__(struct parser *p, const yaml_node_t *node,
           const struct cfg_switch *sw, char **portp)
{
    char *key, *what;
    bool ok;

    if (!get_name__(p, node, "port", MAX_PORT_LEN, portp)) {
        return false;
    }
    key = xasprintf("port %s %s", sw->name, *portp);
    what = xasprintf("port %s on switch %s", *portp, sw->name);
    ok = claim__(p, key, node, what);
    free(what);
    free(key);
    return ok;
}

/* Reads the service path identifier 'node', or 'spi' if 'node' is NULL,
 * into '*spip' and claims it for the field being read, reporting problems at
 * 'owner' for a default value.  Returns false, after reporting why, if it is
 * no SPI or already used. */
static bool
get_spi__(struct parser *p, const yaml_node_t *node, const yaml_node_t *owner,
          uint64_t spi, uint32_t *spip)
{
    char *key, *what;
    bool ok;

    if (node && !get_uint__(p, node, 1, MAX_SPI, &spi)) {
        return false;
    }
    *spip = spi;
    key = xasprintf("spi %"PRIu64, spi);
    what = (node
            ? xasprintf("SPI %"PRIu64, spi)
            : xasprintf("SPI %"PRIu64" (the default, spi + 1)", spi));
    ok = claim__(p, key, node ? node : owner, what);
    free(what);
    free(key);
    return ok;
}

/* Returns the index of host 'name' in 'cfg', adding it if it is new.
 * Takes 'name'. */
static int
find_or_add_host__(struct sfm_config *cfg, char *name)
{
    for (size_t i = 0; i < cfg->n_hosts; i++) {
        if (!strcmp(cfg->hosts[i].name, name)) {
            free(name);
            return i;
        }
    }
    cfg->hosts = xrealloc(cfg->hosts, (cfg->n_hosts + 1) * sizeof *cfg->hosts);
    cfg->hosts[cfg->n_hosts].name = name;
    cfg->hosts[cfg->n_hosts].ovsdb = NULL;
    cfg->hosts[cfg->n_hosts].underlay = NULL;
    return cfg->n_hosts++;
}

/* Reads the host name 'node' of switch 'sw' into 'sw->host', adding the
 * host to the configuration's hosts if it is new. */
static bool
get_host__(struct parser *p, const yaml_node_t *node, struct cfg_switch *sw)
{
    char *name;

    if (!get_name__(p, node, "host", MAX_NAME_LEN, &name)) {
        return false;
    }
    sw->host = find_or_add_host__(p->cfg, name);
    return true;
}

/* Reads the underlay address 'node' of 'host'. */
static bool
get_underlay__(struct parser *p, const yaml_node_t *node,
               struct cfg_host *host)
{
    char buf[INET_ADDRSTRLEN];
    struct in_addr in;

    if (!expect__(p, node, YAML_SCALAR_NODE, "an IPv4 address")) {
        return false;
    }
    if (inet_pton(AF_INET, scalar__(node), &in) != 1
        || !inet_ntop(AF_INET, &in, buf, sizeof buf)) {
        return fail__(p, node, "%s is no IPv4 address", scalar__(node));
    }
    free(host->underlay);
    host->underlay = xstrdup(buf);
    return true;
}

/* Reads the mapping "hosts" 'node': for each host, its switch database
 * and its underlay address. */
static bool
parse_hosts__(struct parser *p, const yaml_node_t *node)
{
    static const char *const keys[] = { "ovsdb", "underlay" };
    const yaml_node_pair_t *pair;

    if (!check_names__(p, node, "host")) {
        return false;
    }
    for (pair = node->data.mapping.pairs.start;
         pair < node->data.mapping.pairs.top; pair++) {
        const yaml_node_t *key = node__(p, pair->key);
        const yaml_node_t *values[ARRAY_SIZE(keys)];
        size_t mark = path_push__(p, scalar__(key));
        struct cfg_host *host;
        const char *remote;
        bool ok;

        ok = get_fields__(p, node__(p, pair->value), keys, ARRAY_SIZE(keys),
                          values);
        if (ok && values[0]) {
            size_t mark2 = path_push__(p, "ovsdb");

            ok = (expect__(p, values[0], YAML_SCALAR_NODE,
                           "a database address")
                  && (!is_null__(values[0])
                      || type_error__(p, values[0], "a database address")));
            remote = ok ? scalar__(values[0]) : "";
            if (ok && strncmp(remote, "tcp:", 4) && strncmp(remote, "ssl:", 4)
                && strncmp(remote, "unix:", 5)) {
                ok = fail__(p, values[0], "%s is no database address "
                            "(tcp:IP:PORT, ssl:IP:PORT or unix:PATH)",
                            remote);
            }
            if (ok) {
                host = &p->cfg->hosts[find_or_add_host__(
                    p->cfg, xstrdup(scalar__(key)))];
                free(host->ovsdb);
                host->ovsdb = xstrdup(remote);
            }
            path_pop__(p, mark2);
        }
        if (ok && values[1]) {
            size_t mark2 = path_push__(p, "underlay");

            host = &p->cfg->hosts[find_or_add_host__(
                p->cfg, xstrdup(scalar__(key)))];
            ok = get_underlay__(p, values[1], host);
            path_pop__(p, mark2);
        }
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Reads the switch 'node' into 'sw'. */
static bool
parse_switch__(struct parser *p, const yaml_node_t *node,
               struct cfg_switch *sw)
{
    static const char *const keys[] = { "dpid", "host" };
    const yaml_node_t *values[ARRAY_SIZE(keys)];
    size_t mark;
    char *key, *what;
    bool ok;

    sw->host = -1;
    if (!get_fields__(p, node, keys, ARRAY_SIZE(keys), values)
        || !require__(p, node, values[0], "dpid")) {
        return false;
    }
    if (values[1]) {
        mark = path_push__(p, "host");
        ok = get_host__(p, values[1], sw);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }

    mark = path_push__(p, "dpid");
    ok = get_dpid__(p, values[0], &sw->dpid);
    if (ok) {
        key = xasprintf("dpid %"PRIx64, sw->dpid);
        what = xasprintf("datapath id %016"PRIx64, sw->dpid);
        ok = claim__(p, key, values[0], what);
        free(what);
        free(key);
    }
    path_pop__(p, mark);
    return ok;
}

/* Reads the mapping of switches 'node' into 'cfg'. */
static bool
parse_switches__(struct parser *p, const yaml_node_t *node,
                 struct sfm_config *cfg)
{
    const yaml_node_pair_t *pair;
    size_t n;

    if (!check_names__(p, node, "switch")) {
        return false;
    }

    n = node->data.mapping.pairs.top - node->data.mapping.pairs.start;
    if (n > CFG_MAX_SWITCHES) {
        return fail__(p, node, "%"PRIuSIZE" switches: at most %d", n,
                      CFG_MAX_SWITCHES);
    }
    cfg->switches = xcalloc(n, sizeof *cfg->switches);
    cfg->n_switches = n;
    for (pair = node->data.mapping.pairs.start, n = 0;
         pair < node->data.mapping.pairs.top; pair++, n++) {
        const yaml_node_t *key = node__(p, pair->key);
        struct cfg_switch *sw = &cfg->switches[n];
        size_t mark;
        bool ok;

        sw->name = xstrdup(scalar__(key));
        sw->line = line__(key);
        mark = path_push__(p, sw->name);
        ok = parse_switch__(p, node__(p, pair->value), sw);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
        shash_add(&p->switches, sw->name, sw);
    }
    return true;
}

/* Reads the instance 'node', of the service being read, into 'inst', whose
 * name and service are already set. */
static bool
parse_instance__(struct parser *p, const yaml_node_t *node,
                 struct cfg_instance *inst)
{
    enum { I_SWITCH, I_PORT, I_MAC, I_WEIGHT };
    static const char *const keys[] = { "switch", "port", "mac", "weight" };
    const yaml_node_t *values[ARRAY_SIZE(keys)];
    const struct cfg_switch *sw;
    uint64_t weight = 1;
    char *key;
    size_t mark;
    bool ok;

    if (!get_fields__(p, node, keys, ARRAY_SIZE(keys), values)
        || !require__(p, node, values[I_SWITCH], "switch")
        || !require__(p, node, values[I_PORT], "port")
        || !require__(p, node, values[I_MAC], "mac")) {
        return false;
    }

    mark = path_push__(p, "switch");
    ok = get_switch_ref__(p, values[I_SWITCH], &sw);
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }
    inst->sw = sw - p->cfg->switches;

    mark = path_push__(p, "port");
    ok = get_port__(p, values[I_PORT], sw, &inst->port);
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }

    mark = path_push__(p, "mac");
    ok = get_mac__(p, values[I_MAC], &inst->mac);
    if (ok) {
        char *what;

        key = xasprintf("mac "ETH_ADDR_FMT, ETH_ADDR_ARGS(inst->mac));
        what = xasprintf("MAC "ETH_ADDR_FMT, ETH_ADDR_ARGS(inst->mac));
        ok = claim__(p, key, values[I_MAC], what);
        free(what);
        free(key);
    }
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }

    if (values[I_WEIGHT]) {
        mark = path_push__(p, "weight");
        ok = get_uint__(p, values[I_WEIGHT], 1, CFG_MAX_WEIGHT, &weight);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }
    inst->weight = weight;
    return true;
}

/* Reads the service 'node' into 'svc', whose name is already set. */
static bool
parse_service__(struct parser *p, const yaml_node_t *node,
                struct cfg_service *svc)
{
    static const char *const keys[] = { "instances" };
    const yaml_node_t *values[ARRAY_SIZE(keys)];
    const yaml_node_t *instances;
    const yaml_node_pair_t *pair;
    size_t mark, n;
    bool ok = true;

    if (!get_fields__(p, node, keys, ARRAY_SIZE(keys), values)
        || !require__(p, node, values[0], "instances")) {
        return false;
    }

    instances = values[0];
    mark = path_push__(p, "instances");
    if (!check_names__(p, instances, "instance")) {
        path_pop__(p, mark);
        return false;
    }
    n = (instances->data.mapping.pairs.top
         - instances->data.mapping.pairs.start);
    svc->instances = xcalloc(n, sizeof *svc->instances);
    svc->n_instances = n;
    for (pair = instances->data.mapping.pairs.start, n = 0;
         ok && pair < instances->data.mapping.pairs.top; pair++, n++) {
        const yaml_node_t *key = node__(p, pair->key);
        struct cfg_instance *inst = &svc->instances[n];
        size_t mark2;
        char *use, *what;

        inst->name = xstrdup(scalar__(key));
        inst->service = svc - p->cfg->services;
        inst->line = line__(key);
        mark2 = path_push__(p, inst->name);
        use = xasprintf("instance %s", inst->name);
        what = xasprintf("instance name %s", inst->name);
        ok = (claim__(p, use, key, what)
              && parse_instance__(p, node__(p, pair->value), inst));
        free(what);
        free(use);
        path_pop__(p, mark2);
    }
    path_pop__(p, mark);
    return ok;
}

/* Reads the mapping of services 'node' into 'cfg'. */
static bool
parse_services__(struct parser *p, const yaml_node_t *node,
                 struct sfm_config *cfg)
{
    const yaml_node_pair_t *pair;
    size_t n;

    if (!check_names__(p, node, "service")) {
        return false;
    }

    n = node->data.mapping.pairs.top - node->data.mapping.pairs.start;
    cfg->services = xcalloc(n, sizeof *cfg->services);
    cfg->n_services = n;
    for (pair = node->data.mapping.pairs.start, n = 0;
         pair < node->data.mapping.pairs.top; pair++, n++) {
        const yaml_node_t *key = node__(p, pair->key);
        struct cfg_service *svc = &cfg->services[n];
        size_t mark;
        bool ok;

        svc->name = xstrdup(scalar__(key));
        svc->line = line__(key);
        mark = path_push__(p, svc->name);
        ok = parse_service__(p, node__(p, pair->value), svc);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
        shash_add(&p->services, svc->name, svc);
    }
    return true;
}

/* Returns true if switch 'to' can be reached from switch 'from' (indexes
 * in 'switches') over the links read. */
static bool
reachable__(const struct parser *p, size_t from, size_t to)
{
    return route_reachable(&p->routes, from, to);
}

/* Reads the endpoint 'node' (of a chain or a link) into 'ep'.  If
 * 'from_switch' is nonnull, the endpoint's switch must be reachable from
 * it. */
static bool
parse_endpoint__(struct parser *p, const yaml_node_t *node,
                 struct cfg_endpoint *ep, const struct cfg_endpoint *from)
{
    static const char *const keys[] = { "switch", "port" };
    const yaml_node_t *values[ARRAY_SIZE(keys)];
    const struct cfg_switch *sw;
    size_t mark;
    bool ok;

    if (!get_fields__(p, node, keys, ARRAY_SIZE(keys), values)
        || !require__(p, node, values[0], "switch")
        || !require__(p, node, values[1], "port")) {
        return false;
    }

    mark = path_push__(p, "switch");
    ok = get_switch_ref__(p, values[0], &sw);
    if (ok && from
        && !reachable__(p, from->sw, sw - p->cfg->switches)) {
        ok = fail__(p, values[0], "switch %s cannot be reached from the "
                    "ingress's switch %s: no path of links joins them",
                    sw->name, p->cfg->switches[from->sw].name);
    }
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }
    ep->sw = sw - p->cfg->switches;

    mark = path_push__(p, "port");
    ok = get_port__(p, values[1], sw, &ep->port);
    path_pop__(p, mark);
    return ok;
}

/* Returns why a chain's match may not use field 'mf', or NULL if it may:
 * the fields that the pipeline itself matches or sets where frames are
 * classified, and those that never hold a frame's own value there. */
static const char *
match_field_refused__(const struct mf_field *mf)
{
    enum mf_field_id id = mf->id;

    if (id == MFF_IN_PORT || id == MFF_IN_PORT_OXM) {
        return ("the pipeline matches the chain's ingress and egress ports "
                "itself");
    }
    if (id >= MFF_NSH_FLAGS && id <= MFF_NSH_TTL) {
        return ("NSH is the pipeline's own: frames enter a chain without "
                "it");
    }
    if ((id >= MFF_REG0 && id < MFF_REG0 + FLOW_N_REGS)
        || (id >= MFF_XREG0 && id < MFF_XREG0 + FLOW_N_XREGS)
        || (id >= MFF_XXREG0 && id < MFF_XXREG0 + FLOW_N_XXREGS)
        || id == MFF_METADATA) {
        return ("registers and metadata are the pipeline's own (reg0 "
                "carries the affinity code) and are zero where frames are "
                "classified");
    }
    if (id == MFF_PACKET_TYPE) {
        return "the pipeline classifies Ethernet frames and sets packet_type";
    }
    if (id >= MFF_CT_STATE && id <= MFF_CT_TP_DST) {
        return ("frames are not yet tracked where they are classified, so "
                "connection tracking fields never hold their values");
    }
    if (id == MFF_RECIRC_ID || id == MFF_DP_HASH || id == MFF_CONJ_ID
        || id == MFF_ACTSET_OUTPUT) {
        return ("it is set by actions or by the datapath, not by the frames "
                "that enter a chain");
    }
    return NULL;
}

/* Returns why the Ethernet type 'dl_type' (network byte order) may not be a
 * chain's, or NULL if it may. */
static const char *
match_dl_type_refused__(ovs_be16 dl_type)
{
    if (dl_type == htons(ETH_TYPE_NSH)) {
        return ("NSH frames are the pipeline's own: frames enter a chain "
                "without NSH");
    }
    if (dl_type == htons(ETH_TYPE_ARP)) {
        return ("the pipeline passes ARP between a chain's ends at a higher "
                "priority, so the chain would never see these frames");
    }
    return NULL;
}

/* Checks 'string', a chain's match in ovs-ofctl syntax, with
 * libopenvswitch's field parser: it may hold protocol names ("ip", "tcp",
 * ...) and FIELD=VALUE[/MASK] only, none of them a field that the pipeline
 * uses (see match_field_refused__()), no field or protocol set twice to
 * different values, and every field with its prerequisites ("tcp,tp_dst=80",
 * not "tp_dst=80").  Returns NULL if it is good, otherwise a message that
 * the caller frees. */
char *
cfg_check_match(const char *string)
{
    struct match match;

    return cfg_parse_match(string, &match);
}

/* Parses 'string', a chain's match, as cfg_check_match() checks it, into
 * '*matchp'.  Returns NULL if it is good, otherwise a message that the
 * caller frees ('*matchp' is then unspecified). */
char *
cfg_parse_match(const char *string, struct match *matchp)
{
    struct match match = MATCH_CATCHALL_INITIALIZER;
    const struct mf_field *fields[MAX_MATCH_LEN / 2];
    const char *names[MAX_MATCH_LEN / 2];
    char *copy = xstrdup(string);
    char *pos = copy;
    char *name, *value;
    size_t n_fields = 0;
    char *error = NULL;

    while (!error && ofputil_parse_key_value(&pos, &name, &value)) {
        enum ofputil_protocol usable = OFPUTIL_P_ANY;
        const struct ofp_protocol *proto;
        const struct mf_field *mf;
        const char *why;

        if (ofp_parse_protocol(name, &proto)) {
            if ((match.wc.masks.dl_type
                 && match.flow.dl_type != htons(proto->dl_type))
                || (proto->nw_proto && match.wc.masks.nw_proto
                    && match.flow.nw_proto != proto->nw_proto)) {
                error = xasprintf("%s: conflicts with an earlier protocol "
                                  "or field", name);
                break;
            }
            match_set_dl_type(&match, htons(proto->dl_type));
            if (proto->nw_proto) {
                match_set_nw_proto(&match, proto->nw_proto);
            }
            continue;
        }
        mf = mf_from_name(name);
        if (!mf) {
            error = (strchr(name, '[')
                     ? xasprintf("%s: write whole fields, with a mask if "
                                 "need be (FIELD=VALUE/MASK)", name)
                     : xasprintf("%s: not a match field (the pipeline sets "
                                 "the flows' priority, table, cookie, "
                                 "timeouts and actions itself)", name));
            break;
        }
        why = match_field_refused__(mf);
        if (why) {
            error = xasprintf("%s: %s", name, why);
            break;
        }
        if (!mf_is_all_wild(mf, &match.wc)) {
            struct match other = match;
            union mf_value v1, m1, v2, m2;
            char *e;

            mf_get(mf, &match, &v1, &m1);
            e = ofp_parse_field(mf, value, NULL, &other, &usable);
            if (e) {
                error = xasprintf("%s: %s", name, e);
                free(e);
                break;
            }
            mf_get(mf, &other, &v2, &m2);
            if (memcmp(&v1, &v2, mf->n_bytes)
                || memcmp(&m1, &m2, mf->n_bytes)) {
                error = xasprintf("%s: conflicts with an earlier protocol "
                                  "or field", name);
            }
            continue;
        }
        error = ofp_parse_field(mf, value, NULL, &match, &usable);
        if (error) {
            char *e = error;

            error = xasprintf("%s: %s", name, e);
            free(e);
            break;
        }
        if (n_fields < ARRAY_SIZE(fields)) {
            names[n_fields] = name;
            fields[n_fields++] = mf;
        }
    }

    if (!error && match.wc.masks.dl_type) {
        const char *why = match_dl_type_refused__(match.flow.dl_type);

        if (why) {
            error = xasprintf("dl_type=0x%04"PRIx16": %s",
                              ntohs(match.flow.dl_type), why);
        }
    }
    if (!error && n_fields) {
        /* A field whose prerequisites are missing does not reach the
         * switch: encoding the match drops it. */
        struct ofpbuf b;
        struct match back;
        enum ofperr err;

        ofpbuf_init(&b, 128);
        oxm_put_match(&b, &match, OFP15_VERSION);
        err = oxm_pull_match(&b, false, NULL, NULL, &back);
        ofpbuf_uninit(&b);
        if (err) {
            error = xasprintf("does not encode (%s)", ofperr_get_name(err));
        }
        for (size_t i = 0; !error && i < n_fields; i++) {
            if (mf_is_all_wild(fields[i], &back.wc)) {
                error = xasprintf("%s: needs a protocol before it that has "
                                  "the field, e.g. \"tcp,tp_dst=80\" or "
                                  "\"ip,nw_src=10.0.0.0/8\"", names[i]);
            }
        }
    }
    free(copy);
    *matchp = match;
    return error;
}

/* Reads the extra match 'node' into '*matchp', which the caller frees.  The
 * empty string means no extra match. */
static bool
get_match__(struct parser *p, const yaml_node_t *node, char **matchp)
{
    const char *s;
    char *error;
    size_t len;

    if (node->type != YAML_SCALAR_NODE || is_null__(node)) {
        return type_error__(p, node, "an ovs-ofctl match such as \"ip\" or "
                            "\"tcp,tp_dst=80\"");
    }
    s = scalar__(node);
    len = node->data.scalar.length;
    if (len > MAX_MATCH_LEN) {
        return fail__(p, node, "match is longer than %d bytes",
                      MAX_MATCH_LEN);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];

        if (c < ' ' || c == 0x7f) {
            return fail__(p, node, "match contains a control character");
        }
    }
    *matchp = xmemdup0(s, len);
    error = cfg_check_match(*matchp);
    if (error) {
        fail__(p, node, "%s", error);
        free(error);
        free(*matchp);
        *matchp = NULL;
        return false;
    }
    return true;
}

/* Checks the service at position 'i' of the services of 'chain', read from
 * 'node': it must be defined, not already in the chain (the services before
 * it are in 'seen', to which it is added) and each of its instances must be
 * reachable from the chain's ingress. */
static bool
check_chain_service__(struct parser *p, const yaml_node_t *node,
                      struct cfg_chain *chain, struct shash *seen,
                      size_t i, const char *name)
{
    size_t sw = chain->ingress.sw;
    const struct cfg_service *svc;
    void *first;

    svc = shash_find_data(&p->services, name);
    if (!svc) {
        return fail__(p, node, "service %s is not defined in services", name);
    }
    first = shash_find_data(seen, name);
    if (first) {
        return fail__(p, node, "service %s is already in this chain "
                      "(services[%"PRIuSIZE"])", name,
                      (size_t) (uintptr_t) first - 1);
    }
    for (size_t j = 0; j < svc->n_instances; j++) {
        const struct cfg_instance *inst = &svc->instances[j];

        if (!reachable__(p, sw, inst->sw)) {
            return fail__(p, node, "instance %s of service %s is on switch "
                          "%s, which cannot be reached from the chain's "
                          "ingress on switch %s: no path of links joins "
                          "them", inst->name, svc->name,
                          p->cfg->switches[inst->sw].name,
                          p->cfg->switches[sw].name);
        }
    }
    shash_add(seen, name, (void *) (uintptr_t) (i + 1));
    chain->services[i] = svc - p->cfg->services;
    return true;
}

/* Reads the list of services 'node' of 'chain', whose ingress is already
 * read, into 'chain'. */
static bool
parse_chain_services__(struct parser *p, const yaml_node_t *node,
                       struct cfg_chain *chain)
{
    struct shash seen = SHASH_INITIALIZER(&seen);
    const yaml_node_item_t *item;
    size_t n;
    bool ok = true;

    if (!expect__(p, node, YAML_SEQUENCE_NODE,
                  "a list of service names such as [fw, dlp]")) {
        return false;
    }
    n = node->data.sequence.items.top - node->data.sequence.items.start;
    if (!n) {
        return fail__(p, node, "at least one service is required");
    }

    chain->services = xcalloc(n, sizeof *chain->services);
    chain->n_services = n;
    for (item = node->data.sequence.items.start, n = 0;
         ok && item < node->data.sequence.items.top; item++, n++) {
        const yaml_node_t *node_ = node__(p, *item);
        size_t mark = path_push_index__(p, n);
        char *name = NULL;

        ok = (get_name__(p, node_, "service", MAX_NAME_LEN, &name)
              && check_chain_service__(p, node_, chain, &seen, n, name));
        free(name);
        path_pop__(p, mark);
    }
    shash_destroy(&seen);
    return ok;
}

/* Reads the chain 'node' into 'chain', whose name is already set. */
static bool
parse_chain__(struct parser *p, const yaml_node_t *node,
              struct cfg_chain *chain)
{
    enum { C_SPI, C_REVERSE_SPI, C_INGRESS, C_EGRESS, C_MATCH, C_SERVICES };
    static const char *const keys[] = {
        "spi", "reverse_spi", "ingress", "egress", "match", "services"
    };
    const yaml_node_t *values[ARRAY_SIZE(keys)];
    size_t mark;
    bool ok;

    if (!get_fields__(p, node, keys, ARRAY_SIZE(keys), values)
        || !require__(p, node, values[C_SPI], "spi")
        || !require__(p, node, values[C_INGRESS], "ingress")
        || !require__(p, node, values[C_EGRESS], "egress")
        || !require__(p, node, values[C_SERVICES], "services")) {
        return false;
    }

    mark = path_push__(p, "spi");
    ok = get_spi__(p, values[C_SPI], NULL, 0, &chain->spi);
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }

    mark = path_push__(p, "reverse_spi");
    if (!values[C_REVERSE_SPI] && chain->spi == MAX_SPI) {
        ok = fail__(p, node, "the default, spi + 1, is out of range: set "
                    "reverse_spi (1 to %d)", MAX_SPI);
    } else {
        ok = get_spi__(p, values[C_REVERSE_SPI], node,
                       (uint64_t) chain->spi + 1, &chain->reverse_spi);
    }
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }

    mark = path_push__(p, "ingress");
    ok = parse_endpoint__(p, values[C_INGRESS], &chain->ingress, NULL);
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }

    mark = path_push__(p, "egress");
    ok = parse_endpoint__(p, values[C_EGRESS], &chain->egress,
                          &chain->ingress);
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }

    if (values[C_MATCH]) {
        mark = path_push__(p, "match");
        ok = get_match__(p, values[C_MATCH], &chain->match);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    } else {
        chain->match = xstrdup("ip");
    }
    {
        /* get_match__() checked it already. */
        char *error = cfg_parse_match(chain->match, &chain->extra);

        ovs_assert(!error);
    }

    mark = path_push__(p, "services");
    ok = parse_chain_services__(p, values[C_SERVICES], chain);
    path_pop__(p, mark);
    return ok;
}

/* Returns the largest power of two not above 'n' (at least 1). */
static uint64_t
largest_pow2__(uint64_t n)
{
    return n ? UINT64_C(1) << log_2_floor(n) : 1;
}

/* Checks that the groups and steering flows that the buckets of 'cfg' make
 * with its chains, at most one group per bucket of each service in a chain
 * and one flow per bucket, direction and hop of each chain, are at most
 * CFG_MAX_ENTRIES; 'node' is where to report it. */
static bool
check_entries__(struct parser *p, const yaml_node_t *node,
                const struct sfm_config *cfg)
{
    uint64_t n_buckets = cfg_n_buckets(cfg);
    uint64_t per_bucket = 0;

    for (size_t i = 0; i < cfg->n_services; i++) {
        bool used = false;

        for (size_t c = 0; c < cfg->n_chains && !used; c++) {
            used = cfg_chain_has_service(&cfg->chains[c], i);
        }
        per_bucket += used;
    }
    for (size_t c = 0; c < cfg->n_chains; c++) {
        per_bucket += 2 * cfg->chains[c].n_services;
    }
    if (n_buckets * per_bucket > CFG_MAX_ENTRIES) {
        return fail__(p, node, "%"PRIu64" buckets make %"PRIu64" groups and "
                      "steering flows with these chains (%"PRIu64" per "
                      "bucket), more than %d, the most a switch is "
                      "programmed with reliably; use at most %"PRIu64
                      " buckets", n_buckets, n_buckets * per_bucket,
                      per_bucket, CFG_MAX_ENTRIES,
                      largest_pow2__(CFG_MAX_ENTRIES / per_bucket));
    }
    return true;
}

/* Reads the mapping of chains 'node' into 'cfg'. */
static bool
parse_chains__(struct parser *p, const yaml_node_t *node,
               struct sfm_config *cfg)
{
    const yaml_node_pair_t *pair;
    size_t n;

    if (!check_names__(p, node, "chain")) {
        return false;
    }

    n = node->data.mapping.pairs.top - node->data.mapping.pairs.start;
    cfg->chains = xcalloc(n, sizeof *cfg->chains);
    cfg->n_chains = n;
    for (pair = node->data.mapping.pairs.start, n = 0;
         pair < node->data.mapping.pairs.top; pair++, n++) {
        const yaml_node_t *key = node__(p, pair->key);
        struct cfg_chain *chain = &cfg->chains[n];
        size_t mark;
        bool ok;

        chain->name = xstrdup(scalar__(key));
        chain->line = line__(key);
        mark = path_push__(p, chain->name);
        ok = parse_chain__(p, node__(p, pair->value), chain);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Reads the link 'node', a list of its two ends, into 'link'. */
static bool
parse_link__(struct parser *p, const yaml_node_t *node,
             struct cfg_link *link)
{
    const yaml_node_item_t *items;
    bool ok = true;

    if (!expect__(p, node, YAML_SEQUENCE_NODE, "a list of the link's two "
                  "ends, such as [{switch: sw1, port: p1}, {switch: sw2, "
                  "port: p2}]")) {
        return false;
    }
    items = node->data.sequence.items.start;
    if (node->data.sequence.items.top - items != 2) {
        return fail__(p, node, "a link has exactly two ends");
    }
    for (size_t i = 0; ok && i < 2; i++) {
        size_t mark = path_push_index__(p, i);

        ok = parse_endpoint__(p, node__(p, items[i]), &link->ends[i], NULL);
        path_pop__(p, mark);
    }
    if (ok && link->ends[0].sw == link->ends[1].sw) {
        ok = fail__(p, node, "both ends are on switch %s; a link joins two "
                    "switches", p->cfg->switches[link->ends[0].sw].name);
    }
    return ok;
}

/* Reads the list of links 'node' into 'cfg'. */
static bool
parse_links__(struct parser *p, const yaml_node_t *node,
              struct sfm_config *cfg)
{
    const yaml_node_item_t *item;
    size_t n;

    if (is_null__(node)) {
        return true;
    }
    if (!expect__(p, node, YAML_SEQUENCE_NODE, "a list of links")) {
        return false;
    }
    n = node->data.sequence.items.top - node->data.sequence.items.start;
    if (n > CFG_MAX_LINKS) {
        return fail__(p, node, "%"PRIuSIZE" links: at most %d", n,
                      CFG_MAX_LINKS);
    }
    cfg->links = xcalloc(MAX(n, 1), sizeof *cfg->links);
    for (item = node->data.sequence.items.start;
         item < node->data.sequence.items.top; item++) {
        const yaml_node_t *link = node__(p, *item);
        size_t mark = path_push_index__(p, cfg->n_links);
        bool ok;

        cfg->links[cfg->n_links].line = line__(link);
        ok = parse_link__(p, link, &cfg->links[cfg->n_links]);
        cfg->n_links++;
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Computes the paths over the links of 'cfg', for the checks of what
 * follows them in the file. */
static void
compute_routes__(struct parser *p, const struct sfm_config *cfg)
{
    struct route_link *links = xmalloc(MAX(cfg->n_links, 1) * sizeof *links);

    cfg_route_links(cfg, links);
    route_compute(cfg->n_switches, links, cfg->n_links, &p->routes);
    free(links);
}

/* Reads the timers 'node' into 'timers'. */
static bool
parse_timers__(struct parser *p, const yaml_node_t *node,
               struct cfg_timers *timers)
{
    static const char *const keys[] = {
        "inactivity_probe_ms", "handshake_timeout_ms"
    };
    const yaml_node_t *values[ARRAY_SIZE(keys)];
    int *fields[] = {
        &timers->inactivity_probe_ms, &timers->handshake_timeout_ms
    };

    if (!get_fields__(p, node, keys, ARRAY_SIZE(keys), values)) {
        return false;
    }
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (values[i]) {
            size_t mark = path_push__(p, keys[i]);
            uint64_t ms;
            bool ok;

            ok = get_uint__(p, values[i], MIN_TIMER_MS, MAX_TIMER_MS, &ms);
            path_pop__(p, mark);
            if (!ok) {
                return false;
            }
            *fields[i] = ms;
        }
    }
    return true;
}

/* Reads the on/off switch 'node' into '*value'. */
static bool
get_switch__(struct parser *p, const yaml_node_t *node, bool *value)
{
    if (scalar_is__(node, "on") || scalar_is__(node, "true")) {
        *value = true;
    } else if (scalar_is__(node, "off") || scalar_is__(node, "false")) {
        *value = false;
    } else {
        return type_error__(p, node, "on or off");
    }
    return true;
}

/* Reads the handoff settings 'node' into 'h'. */
static bool
parse_handoff__(struct parser *p, const yaml_node_t *node,
                struct cfg_handoff *h)
{
    enum { H_MODE, H_RATE, H_MAX, H_TIMEOUT, H_RETRY };
    static const char *const keys[] = {
        "mode", "rate", "max_in_progress", "timeout_ms", "retry_ms"
    };
    const yaml_node_t *values[ARRAY_SIZE(keys)];
    static const uint64_t limits[][2] = {
        [H_RATE] = { 1, CFG_MAX_HANDOFF_RATE },
        [H_MAX] = { 1, CFG_MAX_HANDOFFS_AT_ONCE },
        [H_TIMEOUT] = { MIN_TIMER_MS, MAX_TIMER_MS },
        [H_RETRY] = { MIN_TIMER_MS, MAX_TIMER_MS },
    };

    if (!get_fields__(p, node, keys, ARRAY_SIZE(keys), values)) {
        return false;
    }
    if (values[H_MODE]) {
        size_t mark = path_push__(p, keys[H_MODE]);
        bool ok = true;

        if (scalar_is__(values[H_MODE], "immediate")) {
            h->immediate = true;
        } else if (scalar_is__(values[H_MODE], "make-before-break")) {
            h->immediate = false;
        } else {
            ok = type_error__(p, values[H_MODE],
                              "make-before-break or immediate");
        }
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }
    for (size_t i = H_RATE; i <= H_RETRY; i++) {
        if (values[i]) {
            size_t mark = path_push__(p, keys[i]);
            uint64_t v;
            bool ok = get_uint__(p, values[i], limits[i][0], limits[i][1],
                                 &v);

            path_pop__(p, mark);
            if (!ok) {
                return false;
            }
            switch (i) {
            case H_RATE: h->rate = v; break;
            case H_MAX: h->max_in_progress = v; break;
            case H_TIMEOUT: h->timeout_ms = v; break;
            default: h->retry_ms = v; break;
            }
        }
    }
    return true;
}

/* Reads the BFD settings 'node' into 'b'. */
static bool
parse_bfd__(struct parser *p, const yaml_node_t *node, struct cfg_bfd *b)
{
    enum { B_ENABLE, B_MIN_TX, B_MIN_RX, B_TUNNEL_MIN_TX, B_TUNNEL_MIN_RX };
    static const char *const keys[] = {
        "enable", "min_tx_ms", "min_rx_ms", "tunnel_min_tx_ms",
        "tunnel_min_rx_ms"
    };
    unsigned int *fields[] = {
        NULL, &b->min_tx_ms, &b->min_rx_ms, &b->tunnel_min_tx_ms,
        &b->tunnel_min_rx_ms
    };
    const yaml_node_t *values[ARRAY_SIZE(keys)];

    if (!get_fields__(p, node, keys, ARRAY_SIZE(keys), values)) {
        return false;
    }
    if (values[B_ENABLE]) {
        size_t mark = path_push__(p, keys[B_ENABLE]);
        bool ok = get_switch__(p, values[B_ENABLE], &b->enable);

        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }
    for (size_t i = B_MIN_TX; i <= B_TUNNEL_MIN_RX; i++) {
        if (values[i]) {
            size_t mark = path_push__(p, keys[i]);
            uint64_t v;
            bool ok = get_uint__(p, values[i], 1, CFG_MAX_BFD_MS, &v);

            path_pop__(p, mark);
            if (!ok) {
                return false;
            }
            *fields[i] = v;
        }
    }
    return true;
}

/* Reads the damping of links 'node' into 'd'. */
static bool
parse_link_damping__(struct parser *p, const yaml_node_t *node,
                     struct damp_params *d)
{
    static const char *const keys[] = { "base_ms", "max_ms", "decay_ms" };
    unsigned int *fields[] = { &d->base_ms, &d->max_ms, &d->decay_ms };
    const yaml_node_t *values[ARRAY_SIZE(keys)];

    if (!get_fields__(p, node, keys, ARRAY_SIZE(keys), values)) {
        return false;
    }
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (values[i]) {
            size_t mark = path_push__(p, keys[i]);
            uint64_t v;
            bool ok = get_uint__(p, values[i], 0, CFG_MAX_DAMP_MS, &v);

            path_pop__(p, mark);
            if (!ok) {
                return false;
            }
            *fields[i] = v;
        }
    }
    if (d->max_ms < d->base_ms) {
        return fail__(p, node, "max_ms (%u) is less than base_ms (%u)",
                      d->max_ms, d->base_ms);
    }
    return true;
}

/* Reads the whole configuration, the mapping 'root', into 'cfg'. */
static bool
parse_root__(struct parser *p, const yaml_node_t *root,
             struct sfm_config *cfg)
{
    enum {
        R_VERSION, R_BUCKETS, R_TIMERS, R_SWITCHES, R_LINKS, R_SERVICES,
        R_CHAINS, R_REBALANCE, R_HANDOFF, R_CLASSIFIER, R_BFD, R_HOSTS,
        R_LINK_DAMPING
    };
    static const char *const keys[] = {
        "version", "buckets", "timers", "switches", "links", "services",
        "chains", "rebalance", "handoff", "classifier", "bfd", "hosts",
        "link_damping"
    };
    const yaml_node_t *values[ARRAY_SIZE(keys)];
    uint64_t value;
    size_t mark;
    bool ok = true;

    if (root->type != YAML_MAPPING_NODE) {
        return type_error__(p, root, "a mapping at the top level "
                            "(switches:, services:, chains: ...)");
    }
    if (!get_fields__(p, root, keys, ARRAY_SIZE(keys), values)
        || !require__(p, root, values[R_SWITCHES], "switches")
        || !require__(p, root, values[R_SERVICES], "services")
        || !require__(p, root, values[R_CHAINS], "chains")) {
        return false;
    }

    if (values[R_VERSION]) {
        mark = path_push__(p, "version");
        ok = (get_uint__(p, values[R_VERSION], 0, UINT64_MAX, &value)
              && (value == 1
                  || fail__(p, values[R_VERSION], "version %"PRIu64" is not "
                            "supported (this controller reads version 1)",
                            value)));
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }

    if (values[R_BUCKETS]) {
        mark = path_push__(p, "buckets");
        ok = (get_uint__(p, values[R_BUCKETS], CFG_MIN_BUCKETS,
                         CFG_MAX_BUCKETS, &value)
              && (is_pow2(value)
                  || fail__(p, values[R_BUCKETS], "%"PRIu64" is not a power "
                            "of two", value)));
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
        cfg->bucket_bits = ctz64(value);
    }

    if (values[R_CLASSIFIER]) {
        const yaml_node_t *node = values[R_CLASSIFIER];

        mark = path_push__(p, "classifier");
        if (scalar_is__(node, "multipath")) {
            cfg->classifier = CFG_CLASSIFIER_MULTIPATH;
        } else if (scalar_is__(node, "dp-hash")) {
            cfg->classifier = CFG_CLASSIFIER_DP_HASH;
        } else {
            ok = type_error__(p, node, "multipath or dp-hash");
        }
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }

    if (values[R_TIMERS]) {
        mark = path_push__(p, "timers");
        ok = parse_timers__(p, values[R_TIMERS], &cfg->timers);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }

    if (values[R_REBALANCE]) {
        mark = path_push__(p, "rebalance");
        ok = get_switch__(p, values[R_REBALANCE], &cfg->handoff.rebalance);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }

    if (values[R_HANDOFF]) {
        mark = path_push__(p, "handoff");
        ok = parse_handoff__(p, values[R_HANDOFF], &cfg->handoff);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }

    if (values[R_BFD]) {
        mark = path_push__(p, "bfd");
        ok = parse_bfd__(p, values[R_BFD], &cfg->bfd);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }
    if (values[R_LINK_DAMPING]) {
        mark = path_push__(p, "link_damping");
        ok = parse_link_damping__(p, values[R_LINK_DAMPING],
                                  &cfg->link_damping);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }

    mark = path_push__(p, "switches");
    ok = parse_switches__(p, values[R_SWITCHES], cfg);
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }
    if (values[R_HOSTS]) {
        mark = path_push__(p, "hosts");
        ok = parse_hosts__(p, values[R_HOSTS]);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }

    if (values[R_LINKS]) {
        mark = path_push__(p, "links");
        ok = parse_links__(p, values[R_LINKS], cfg);
        path_pop__(p, mark);
        if (!ok) {
            return false;
        }
    }
    compute_routes__(p, cfg);

    mark = path_push__(p, "services");
    ok = parse_services__(p, values[R_SERVICES], cfg);
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }

    mark = path_push__(p, "chains");
    ok = parse_chains__(p, values[R_CHAINS], cfg);
    path_pop__(p, mark);
    if (!ok) {
        return false;
    }

    mark = path_push__(p, "buckets");
    ok = check_entries__(p, values[R_BUCKETS] ? values[R_BUCKETS] : root,
                         cfg);
    path_pop__(p, mark);
    return ok;
}

/* Returns the line, counting from 1, of byte 'offset' of the 'len' bytes of
 * 'text'. */
static int
line_of_offset__(const char *text, size_t len, size_t offset)
{
    int line = 1;

    for (size_t i = 0; i < offset && i < len; i++) {
        line += text[i] == '\n';
    }
    return line;
}

/* Returns true if 'line' (counting from 1) of the 'len' bytes of 'text' is
 * indented with a tab. */
static bool
indented_with_tab__(const char *text, size_t len, int line)
{
    size_t i = 0;

    for (int n = 1; n < line && i < len; i++) {
        n += text[i] == '\n';
    }
    for (; i < len && (text[i] == ' ' || text[i] == '\t'); i++) {
        if (text[i] == '\t') {
            return true;
        }
    }
    return false;
}

/* Returns the error that libyaml's 'parser' stopped on, reading the 'len'
 * bytes of 'text' from 'file', as a message that the caller frees. */
static char *
yaml_error__(const char *file, const yaml_parser_t *parser,
             const char *text, size_t len)
{
    const char *problem = parser->problem ? parser->problem : "unknown error";

    switch (parser->error) {
    case YAML_MEMORY_ERROR:
        return xasprintf("%s: out of memory reading YAML", file);

    case YAML_READER_ERROR:
        if (parser->problem_value != -1) {
            return xasprintf("%s:%d: YAML error: %s (byte or character "
                             "0x%x)", file,
                             line_of_offset__(text, len,
                                              parser->problem_offset),
                             problem, (unsigned int) parser->problem_value);
        }
        return xasprintf("%s:%d: YAML error: %s", file,
                         line_of_offset__(text, len, parser->problem_offset),
                         problem);

    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
    case YAML_COMPOSER_ERROR: {
        int line = parser->problem_mark.line + 1;
        const char *hint = (indented_with_tab__(text, len, line)
                            ? "; YAML does not allow tabs for indentation"
                            : "");

        if (parser->context) {
            return xasprintf("%s:%d: YAML syntax error: %s (%s at line %d)%s",
                             file, line, problem, parser->context,
                             (int) parser->context_mark.line + 1, hint);
        }
        return xasprintf("%s:%d: YAML syntax error: %s%s", file, line,
                         problem, hint);
    }

    case YAML_NO_ERROR:
    case YAML_WRITER_ERROR:
    case YAML_EMITTER_ERROR:
    default:
        return xasprintf("%s: YAML error: %s", file, problem);
    }
}

/* Returns an error naming the 'anchor' or the 'tag' of a node that starts
 * at 'line' of 'file', if it has either, otherwise NULL. */
static char *
check_node_event__(const char *file, int line, const yaml_char_t *anchor,
                   const yaml_char_t *tag)
{
    char *error = NULL;

    if (anchor) {
        const char *s = (const char *) anchor;
        char *q = quote__(s, strlen(s), false);

        error = xasprintf("%s:%d: YAML anchors (&%s) and aliases are not "
                          "supported", file, line, q);
        free(q);
    } else if (tag) {
        const char *s = (const char *) tag;
        char *q = quote__(s, strlen(s), false);

        error = xasprintf("%s:%d: YAML tags (%s) are not supported", file,
                          line, q);
        free(q);
    }
    return error;
}

/* Reads the 'len' bytes of 'text' from 'file' as a stream of YAML events,
 * before loading them as a document, to refuse what the document would
 * hide or what could make it huge: syntax errors, more than one document,
 * anchors and aliases (an alias makes a node appear in several places,
 * which can multiply the size of the input exponentially), tags, and
 * nesting deeper than MAX_DEPTH.  Returns an error that the caller frees,
 * or NULL. */
static char *
check_events__(const char *file, const char *text, size_t len)
{
    yaml_parser_t parser;
    char *error = NULL;
    int n_docs = 0;
    int depth = 0;
    bool done = false;

    if (!yaml_parser_initialize(&parser)) {
        return xasprintf("%s: out of memory reading YAML", file);
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *) text, len);

    while (!done && !error) {
        yaml_event_t event;
        int line;

        if (!yaml_parser_parse(&parser, &event)) {
            error = yaml_error__(file, &parser, text, len);
            break;
        }
        line = event.start_mark.line + 1;
        switch (event.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;

        case YAML_DOCUMENT_START_EVENT:
            if (++n_docs > 1) {
                error = xasprintf("%s:%d: only one YAML document is allowed "
                                  "(found a second \"---\")", file, line);
            }
            break;

        case YAML_ALIAS_EVENT:
            error = xasprintf("%s:%d: YAML aliases (*) and anchors are not "
                              "supported", file, line);
            break;

        case YAML_SCALAR_EVENT:
            error = check_node_event__(file, line, event.data.scalar.anchor,
                                       event.data.scalar.tag);
            break;

        case YAML_SEQUENCE_START_EVENT:
            error = check_node_event__(file, line,
                                       event.data.sequence_start.anchor,
                                       event.data.sequence_start.tag);
            depth++;
            break;

        case YAML_MAPPING_START_EVENT:
            error = check_node_event__(file, line,
                                       event.data.mapping_start.anchor,
                                       event.data.mapping_start.tag);
            depth++;
            break;

        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            depth--;
            break;

        case YAML_NO_EVENT:
        case YAML_STREAM_START_EVENT:
        case YAML_DOCUMENT_END_EVENT:
        default:
            break;
        }
        if (!error && depth > MAX_DEPTH) {
            error = xasprintf("%s:%d: lists and mappings are nested deeper "
                              "than %d levels", file, line, MAX_DEPTH);
        }
        yaml_event_delete(&event);
    }
    yaml_parser_delete(&parser);

    if (!error && !n_docs) {
        error = xasprintf("%s:1: file is empty", file);
    }
    return error;
}

/* Parses the 'len' bytes of 'text' as the configuration file 'file' (the
 * name is used in messages only).  On success, stores the configuration in
 * '*cfgp' (free it with cfg_destroy()) and returns NULL.  Otherwise, stores
 * NULL in '*cfgp' and returns an error message "FILE:LINE: FIELD: problem",
 * which the caller frees. */
char *
cfg_parse(const char *file, const char *text, size_t len,
          struct sfm_config **cfgp)
{
    const yaml_node_t *root;
    struct sfm_config *cfg;
    yaml_document_t doc;
    yaml_parser_t yp;
    struct parser p;
    struct shash_node *node;
    char *error;

    *cfgp = NULL;
    if (!file) {
        file = "(config)";
    }
    if (len > CFG_MAX_FILE_SIZE) {
        return xasprintf("%s: file is larger than 1 MiB (%"PRIuSIZE" bytes)",
                         file, len);
    }
    if (!len) {
        return xasprintf("%s:1: file is empty", file);
    }

    error = check_events__(file, text, len);
    if (error) {
        return error;
    }

    if (!yaml_parser_initialize(&yp)) {
        return xasprintf("%s: out of memory reading YAML", file);
    }
    yaml_parser_set_input_string(&yp, (const unsigned char *) text, len);
    if (!yaml_parser_load(&yp, &doc)) {
        error = yaml_error__(file, &yp, text, len);
        yaml_parser_delete(&yp);
        return error;
    }
    yaml_parser_delete(&yp);

    cfg = xzalloc(sizeof *cfg);
    cfg->file = xstrdup(file);
    cfg->bucket_bits = 8;
    cfg->classifier = CFG_CLASSIFIER_MULTIPATH;
    cfg->timers.inactivity_probe_ms = 5000;
    cfg->timers.handshake_timeout_ms = 10000;
    cfg->handoff.rebalance = true;
    cfg->handoff.rate = HOF_DEFAULT_RATE;
    cfg->handoff.max_in_progress = HOF_DEFAULT_MAX_ACTIVE;
    cfg->handoff.timeout_ms = HOF_DEFAULT_TIMEOUT_MS;
    cfg->handoff.retry_ms = HOF_DEFAULT_RETRY_MS;
    cfg->bfd.enable = true;
    cfg->bfd.min_tx_ms = CFG_DEFAULT_BFD_MS;
    cfg->bfd.min_rx_ms = CFG_DEFAULT_BFD_MS;
    cfg->bfd.tunnel_min_tx_ms = CFG_DEFAULT_TUNNEL_BFD_MS;
    cfg->bfd.tunnel_min_rx_ms = CFG_DEFAULT_TUNNEL_BFD_MS;
    cfg->link_damping.base_ms = CFG_DEFAULT_LINK_DAMP_BASE_MS;
    cfg->link_damping.max_ms = CFG_DEFAULT_LINK_DAMP_MAX_MS;
    cfg->link_damping.decay_ms = CFG_DEFAULT_LINK_DAMP_DECAY_MS;

    p.file = file;
    p.cfg = cfg;
    p.doc = &doc;
    ds_init(&p.path);
    p.error = NULL;
    shash_init(&p.switches);
    shash_init(&p.services);
    shash_init(&p.uses);
    memset(&p.routes, 0, sizeof p.routes);

    root = yaml_document_get_root_node(&doc);
    if (!root || is_null__(root)) {
        p.error = xasprintf("%s:%d: file is empty", file,
                            root ? line__(root) : 1);
    } else {
        parse_root__(&p, root, cfg);
    }

    SHASH_FOR_EACH (node, &p.uses) {
        struct use *use = node->data;

        free(use->field);
        free(use);
    }
    shash_destroy(&p.uses);
    route_destroy(&p.routes);
    shash_destroy(&p.services);
    shash_destroy(&p.switches);
    ds_destroy(&p.path);
    yaml_document_delete(&doc);

    if (p.error) {
        cfg_destroy(cfg);
        return p.error;
    }
    *cfgp = cfg;
    return NULL;
}

/* Reads and parses the configuration file 'file'.  On success, stores the
 * configuration in '*cfgp' (free it with cfg_destroy()) and returns NULL.
 * Otherwise, stores NULL in '*cfgp' and returns an error message that names
 * the file (and, for a problem in its contents, the line and field), which
 * the caller frees.  A file larger than CFG_MAX_FILE_SIZE is refused without
 * being read. */
char *
cfg_read(const char *file, struct sfm_config **cfgp)
{
    struct stat st;
    size_t len = 0;
    char *error;
    char *text;
    int fd;

    *cfgp = NULL;
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return xasprintf("%s: cannot open: %s", file, ovs_strerror(errno));
    }
    if (fstat(fd, &st)) {
        error = xasprintf("%s: cannot stat: %s", file, ovs_strerror(errno));
        close(fd);
        return error;
    }
    if (st.st_size > CFG_MAX_FILE_SIZE) {
        close(fd);
        return xasprintf("%s: file is larger than 1 MiB (%lld bytes)", file,
                         (long long int) st.st_size);
    }

    /* Read one byte more than allowed, to notice a file that grew since
     * fstat() or that has no size (a pipe). */
    text = xmalloc(CFG_MAX_FILE_SIZE + 1);
    while (len <= CFG_MAX_FILE_SIZE) {
        ssize_t n = read(fd, text + len, CFG_MAX_FILE_SIZE + 1 - len);

        if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0) {
            error = xasprintf("%s: cannot read: %s", file,
                              ovs_strerror(errno));
            free(text);
            close(fd);
            return error;
        } else if (!n) {
            break;
        }
        len += n;
    }
    close(fd);

    if (len > CFG_MAX_FILE_SIZE) {
        error = xasprintf("%s: file is larger than 1 MiB", file);
    } else {
        error = cfg_parse(file, text, len, cfgp);
    }
    free(text);
    return error;
}

static void
instance_free__(struct cfg_instance *inst)
{
    free(inst->name);
    free(inst->port);
}

/* Frees 'cfg' and everything in it.  Accepts NULL. */
void
cfg_destroy(struct sfm_config *cfg)
{
    if (!cfg) {
        return;
    }

    for (size_t i = 0; i < cfg->n_hosts; i++) {
        free(cfg->hosts[i].name);
        free(cfg->hosts[i].ovsdb);
        free(cfg->hosts[i].underlay);
    }
    free(cfg->hosts);
    for (size_t i = 0; i < cfg->n_switches; i++) {
        free(cfg->switches[i].name);
    }
    free(cfg->switches);

    for (size_t i = 0; i < cfg->n_links; i++) {
        for (size_t j = 0; j < 2; j++) {
            free(cfg->links[i].ends[j].port);
        }
    }
    free(cfg->links);

    for (size_t i = 0; i < cfg->n_services; i++) {
        struct cfg_service *svc = &cfg->services[i];

        for (size_t j = 0; j < svc->n_instances; j++) {
            instance_free__(&svc->instances[j]);
        }
        free(svc->instances);
        free(svc->name);
    }
    free(cfg->services);

    for (size_t i = 0; i < cfg->n_chains; i++) {
        struct cfg_chain *chain = &cfg->chains[i];

        free(chain->services);
        free(chain->name);
        free(chain->ingress.port);
        free(chain->egress.port);
        free(chain->match);
    }
    free(cfg->chains);

    free(cfg->file);
    free(cfg);
}

/* Returns true if port 'port' of switch 'sw' is used by anything in
 * 'cfg'. */
static bool
port_in_use__(const struct sfm_config *cfg, size_t sw, const char *port)
{
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct cfg_service *svc = &cfg->services[i];

        for (size_t j = 0; j < svc->n_instances; j++) {
            if (svc->instances[j].sw == sw
                && !strcmp(svc->instances[j].port, port)) {
                return true;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_chains; i++) {
        const struct cfg_endpoint *ends[] = { &cfg->chains[i].ingress,
                                              &cfg->chains[i].egress };

        for (size_t k = 0; k < ARRAY_SIZE(ends); k++) {
            if (ends[k]->sw == sw && !strcmp(ends[k]->port, port)) {
                return true;
            }
        }
    }
    for (size_t i = 0; i < cfg->n_links; i++) {
        for (size_t k = 0; k < 2; k++) {
            if (cfg->links[i].ends[k].sw == sw
                && !strcmp(cfg->links[i].ends[k].port, port)) {
                return true;
            }
        }
    }
    return false;
}

/* Adds to service 'service' of 'cfg' a copy of 'inst', an instance of the
 * earlier configuration 'old' that the new one 'cfg' no longer has but that
 * must stay until it is drained.  Returns NULL on success, otherwise an
 * error (to be freed) saying what of 'cfg' it clashes with. */
char *
cfg_keep_instance(struct sfm_config *cfg, size_t service,
                  const struct sfm_config *old,
                  const struct cfg_instance *inst)
{
    const char *sw_name = old->switches[inst->sw].name;
    struct cfg_service *svc = &cfg->services[service];
    const struct cfg_switch *sw = cfg_find_switch(cfg, sw_name);
    struct cfg_instance *copy;

    if (cfg_find_instance(cfg, inst->name)) {
        return xasprintf("instance %s moved to another service while it "
                         "still holds buckets of service %s", inst->name,
                         old->services[inst->service].name);
    }
    if (!sw) {
        return xasprintf("switch %s removed while instance %s on it is "
                         "still being drained", sw_name, inst->name);
    }
    if (port_in_use__(cfg, sw - cfg->switches, inst->port)) {
        return xasprintf("port %s of switch %s is still used by instance "
                         "%s, which is being drained", inst->port, sw_name,
                         inst->name);
    }
    for (size_t i = 0; i < cfg->n_services; i++) {
        for (size_t j = 0; j < cfg->services[i].n_instances; j++) {
            if (eth_addr_equals(cfg->services[i].instances[j].mac,
                                inst->mac)) {
                return xasprintf("MAC "ETH_ADDR_FMT" is still used by "
                                 "instance %s, which is being drained",
                                 ETH_ADDR_ARGS(inst->mac), inst->name);
            }
        }
    }

    svc->instances = xrealloc(svc->instances, (svc->n_instances + 1)
                              * sizeof *svc->instances);
    copy = &svc->instances[svc->n_instances++];
    *copy = *inst;
    copy->name = xstrdup(inst->name);
    copy->service = service;
    copy->sw = sw - cfg->switches;
    copy->port = xstrdup(inst->port);
    return NULL;
}

/* Removes instance 'instance' of service 'service' from 'cfg' (one that
 * cfg_keep_instance() kept, once drained); the instances after it move
 * down by one. */
void
cfg_remove_instance(struct sfm_config *cfg, size_t service, size_t instance)
{
    struct cfg_service *svc = &cfg->services[service];

    instance_free__(&svc->instances[instance]);
    memmove(&svc->instances[instance], &svc->instances[instance + 1],
            (svc->n_instances - instance - 1) * sizeof *svc->instances);
    svc->n_instances--;
}

/* Returns the switch called 'name' in 'cfg', or NULL if there is none. */
const struct cfg_switch *
cfg_find_switch(const struct sfm_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_switches; i++) {
        if (!strcmp(cfg->switches[i].name, name)) {
            return &cfg->switches[i];
        }
    }
    return NULL;
}

/* Returns the service called 'name' in 'cfg', or NULL if there is none. */
const struct cfg_service *
cfg_find_service(const struct sfm_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_services; i++) {
        if (!strcmp(cfg->services[i].name, name)) {
            return &cfg->services[i];
        }
    }
    return NULL;
}

/* Returns the instance called 'name', of any service in 'cfg', or NULL if
 * there is none. */
const struct cfg_instance *
cfg_find_instance(const struct sfm_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_services; i++) {
        const struct cfg_service *svc = &cfg->services[i];

        for (size_t j = 0; j < svc->n_instances; j++) {
            if (!strcmp(svc->instances[j].name, name)) {
                return &svc->instances[j];
            }
        }
    }
    return NULL;
}

/* Returns the number of buckets of each service in 'cfg'. */
size_t
cfg_n_buckets(const struct sfm_config *cfg)
{
    return (size_t) 1 << cfg->bucket_bits;
}

/* Fills 'links' (cfg->n_links of them) with the links of 'cfg' in the form
 * route_compute() takes, none of them down. */
void
cfg_route_links(const struct sfm_config *cfg, struct route_link *links)
{
    for (size_t i = 0; i < cfg->n_links; i++) {
        for (size_t j = 0; j < 2; j++) {
            links[i].ends[j] = cfg->links[i].ends[j].sw;
        }
        links[i].down = false;
    }
}

/* Returns the name of the switch of 'inst', an instance of 'cfg'. */
const char *
cfg_instance_switch(const struct sfm_config *cfg,
                    const struct cfg_instance *inst)
{
    return cfg->switches[inst->sw].name;
}

/* Returns true if 'chain' crosses service 'service' (an index in the
 * configuration's services). */
bool
cfg_chain_has_service(const struct cfg_chain *chain, size_t service)
{
    for (size_t k = 0; k < chain->n_services; k++) {
        if (chain->services[k] == service) {
            return true;
        }
    }
    return false;
}
