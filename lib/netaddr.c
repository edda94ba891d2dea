/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "socket-util.h"
#include "util.h"

/* Parses 'spec', "PORT[:IP]" (what follows "ptcp:"), into 'ss' and
 * '*lenp', with libopenvswitch's parser (no name lookup).  Returns 0 or
 * EINVAL. */
int
netaddr_parse_ptcp(const char *spec, struct sockaddr_storage *ss,
                   socklen_t *lenp)
{
    /* inet_parse_passive() takes an empty port for its default, and -1
     * then becomes port 65535. */
    if (!spec[0] || spec[0] == ':'
        || !inet_parse_passive(spec, -1, ss, false, NULL)) {
        return EINVAL;
    }
    *lenp = ss_length(ss);
    return 0;
}

/* Parses 'spec', "IP:PORT" (what follows "tcp:"), into 'ss' and '*lenp'.
 * Returns 0 or EINVAL. */
int
netaddr_parse_tcp(const char *spec, struct sockaddr_storage *ss,
                  socklen_t *lenp)
{
    if (!inet_parse_active(spec, -1, ss, false, NULL)) {
        return EINVAL;
    }
    *lenp = ss_length(ss);
    return 0;
}

/* Returns "IP:PORT" (or "[IP]:PORT") for 'sa', to be freed. */
char *
netaddr_format(const struct sockaddr *sa)
{
    char *host = netaddr_format_host(sa);
    char *s;

    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
        return host;
    }
    s = xasprintf("%s:%"PRIu16, host,
                  ntohs(sa->sa_family == AF_INET
                        ? ((const struct sockaddr_in *) sa)->sin_port
                        : ((const struct sockaddr_in6 *) sa)->sin6_port));
    free(host);
    return s;
}

/* Returns the address of 'sa' (IPv4 or IPv6) without its port, as a
 * string to be freed. */
char *
netaddr_format_host(const struct sockaddr *sa)
{
    struct sockaddr_storage ss;
    struct ds s = DS_EMPTY_INITIALIZER;

    if (sa->sa_family != AF_INET && sa->sa_family != AF_INET6) {
        return xstrdup("unknown");
    }
    memset(&ss, 0, sizeof ss);
    memcpy(&ss, sa, (sa->sa_family == AF_INET
                     ? sizeof(struct sockaddr_in)
                     : sizeof(struct sockaddr_in6)));
    ss_format_address(&ss, &s);
    return ds_steal_cstr(&s);
}

/* Returns true if 'sa' is a loopback address (127.0.0.0/8, ::1, or an
 * IPv4-mapped 127.x): only this host can reach it. */
bool
netaddr_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *) sa;

        return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *) sa;
        const struct in6_addr *a = &sin6->sin6_addr;

        return (IN6_IS_ADDR_LOOPBACK(a)
                || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127));
    }
    return false;
}
