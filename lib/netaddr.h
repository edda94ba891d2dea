/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef NETADDR_H
#define NETADDR_H 1

/* Parsing of the socket addresses sfmesh daemons take on their command
 * lines, in the syntax of OVS: "ptcp:PORT[:IP]" to listen, "tcp:IP:PORT"
 * to connect.  IP may be IPv4 or [IPv6].  A thin layer over the parsers
 * and formatters of libopenvswitch's socket-util. */

#include <stdbool.h>
#include <sys/socket.h>

int netaddr_parse_ptcp(const char *spec, struct sockaddr_storage *,
                       socklen_t *);
int netaddr_parse_tcp(const char *spec, struct sockaddr_storage *,
                      socklen_t *);
char *netaddr_format(const struct sockaddr *);
char *netaddr_format_host(const struct sockaddr *);
bool netaddr_is_loopback(const struct sockaddr *);

#endif /* netaddr.h */
