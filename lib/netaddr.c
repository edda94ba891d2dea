/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "util.h"

/* Parses 'host' (IPv4, [IPv6] or empty for any) and 'port_s' into 'ss'. */
static int
parse_host_port__(char *host, const char *port_s,
                  struct sockaddr_storage *ss, socklen_t *lenp)
{
    unsigned long port;
    char *end;

    errno = 0;
    port = strtoul(port_s, &end, 10);
    if (!*port_s || *end || errno || port > 65535) {
        return EINVAL;
    }
    if (host && host[0] == '[') {
        host++;
        end = strchr(host, ']');
        if (!end || end[1]) {
            return EINVAL;
        }
        *end = '\0';
    }

    memset(ss, 0, sizeof *ss);
    if (!host || !*host) {
        struct sockaddr_in *sin = (struct sockaddr_in *) ss;
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
        sin->sin_port = htons(port);
        *lenp = sizeof *sin;
        return 0;
    } else if (strchr(host, ':')) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *) ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *lenp = sizeof *sin6;
        return inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1 ? 0 : EINVAL;
    } else {
        struct sockaddr_in *sin = (struct sockaddr_in *) ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        *lenp = sizeof *sin;
        return inet_pton(AF_INET, host, &sin->sin_addr) == 1 ? 0 : EINVAL;
    }
}

/* Parses 'spec', "PORT[:IP]" (what follows "ptcp:"), into 'ss' and
 * '*lenp'.  Returns 0 or EINVAL. */
int
netaddr_parse_ptcp(const char *spec, struct sockaddr_storage *ss,
                   socklen_t *lenp)
{
    char *copy = xstrdup(spec);
    char *colon = strchr(copy, ':');
    int error;

    if (colon) {
        *colon = '\0';
    }
    error = parse_host_port__(colon ? colon + 1 : NULL, copy, ss, lenp);
    free(copy);
    return error;
}

/* Parses 'spec', "IP:PORT" (what follows "tcp:"), into 'ss' and '*lenp'.
 * Returns 0 or EINVAL. */
int
netaddr_parse_tcp(const char *spec, struct sockaddr_storage *ss,
                  socklen_t *lenp)
{
    char *copy = xstrdup(spec);
    char *colon = strrchr(copy, ':');
    int error = EINVAL;

    if (colon && colon != copy) {
        *colon = '\0';
        error = parse_host_port__(copy, colon + 1, ss, lenp);
    }
    free(copy);
    return error;
}

/* Returns "IP:PORT" (or "[IP]:PORT") for 'sa', to be freed. */
char *
netaddr_format(const struct sockaddr *sa)
{
    char host[INET6_ADDRSTRLEN];

    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;
        inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        return xasprintf("%s:%"PRIu16, host, ntohs(sin->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;
        inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        return xasprintf("[%s]:%"PRIu16, host, ntohs(sin6->sin6_port));
    }
    return xstrdup("unknown");
}
