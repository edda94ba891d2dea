/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "service.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "util.h"

/* The services built in, in the order service_names() lists them. */
static const struct service_class *const service_classes[] = {
    &stateful_fw_class,
    &counter_class,
};

/* Returns the built-in service named 'name', or NULL if there is none. */
const struct service_class *
service_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(service_classes); i++) {
        if (!strcmp(service_classes[i]->name, name)) {
            return service_classes[i];
        }
    }
    return NULL;
}

/* Appends the names of the built-in services to 'ds', separated by ", ",
 * for usage and error messages. */
void
service_names(struct ds *ds)
{
    for (size_t i = 0; i < ARRAY_SIZE(service_classes); i++) {
        ds_put_format(ds, "%s%s", i ? ", " : "", service_classes[i]->name);
    }
}

/* Returns the option of 'opts' (with 'n' elements) named by the 'len' bytes
 * at 'name', or NULL. */
static const struct service_option *
service_option_find__(const struct service_option *opts, size_t n,
                      const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(opts[i].name) == len && !memcmp(opts[i].name, name, len)) {
            return &opts[i];
        }
    }
    return NULL;
}

/* Parses 'args', options of service 'service' of the form "name=SECONDS"
 * separated by commas or white space, against the 'n' options in 'opts',
 * storing each value found, in milliseconds, where its option says.  An
 * option may appear more than once; the last wins.  NULL or empty 'args'
 * changes nothing.  Returns NULL on success, else a malloc()ed error message
 * naming 'service' (and the values already stored may have changed). */
char *
service_parse_options(const char *service, const char *args,
                      const struct service_option *opts, size_t n)
{
    const char *p = args ? args : "";

    for (;;) {
        const struct service_option *opt;
        const char *name, *eq, *end;
        char value[32];
        long long int sec;
        char *tail;

        while (*p == ',' || isspace((unsigned char) *p)) {
            p++;
        }
        if (!*p) {
            return NULL;
        }
        name = p;
        end = p + strcspn(p, ", \t\n\r\f\v");
        p = end;

        eq = memchr(name, '=', end - name);
        if (!eq) {
            return xasprintf("%s: option \"%.*s\" has no value (expected "
                             "name=seconds)", service, (int) (end - name),
                             name);
        }
        opt = service_option_find__(opts, n, name, eq - name);
        if (!opt) {
            return xasprintf("%s: unknown option \"%.*s\"", service,
                             (int) (eq - name), name);
        }
        if (end - (eq + 1) >= sizeof value) {
            return xasprintf("%s: value of option \"%s\" is too long",
                             service, opt->name);
        }
        memcpy(value, eq + 1, end - (eq + 1));
        value[end - (eq + 1)] = '\0';

        errno = 0;
        sec = strtoll(value, &tail, 10);
        if (!value[0] || *tail || errno || !isdigit((unsigned char) value[0])
            || sec < opt->min_sec || sec > opt->max_sec) {
            return xasprintf("%s: option \"%s\" needs a whole number of "
                             "seconds from %lld to %lld, not \"%s\"",
                             service, opt->name, opt->min_sec, opt->max_sec,
                             value);
        }
        *opt->msec = sec * 1000;
    }
}
