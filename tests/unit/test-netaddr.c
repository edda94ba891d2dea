/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* The daemons' socket addresses: "ptcp:" and "tcp:" targets parsed, and
 * peers' addresses formatted, IPv4 and IPv6, and what is refused. */

#include <config.h>

#include <CUnit/CUnit.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "netaddr.h"
#include "tests.h"

/* Parses 'spec' with 'parse' and returns its formatted form, or NULL if it
 * is refused. */
static char *
round_trip(int (*parse)(const char *, struct sockaddr_storage *,
                        socklen_t *),
           const char *spec)
{
    struct sockaddr_storage ss;
    socklen_t len = 0;

    if (parse(spec, &ss, &len)) {
        return NULL;
    }
    CU_ASSERT(len == sizeof(struct sockaddr_in)
              || len == sizeof(struct sockaddr_in6));
    return netaddr_format((struct sockaddr *) &ss);
}

static void
check(int (*parse)(const char *, struct sockaddr_storage *, socklen_t *),
      const char *spec, const char *want)
{
    char *got = round_trip(parse, spec);

    if (want) {
        CU_ASSERT_PTR_NOT_NULL(got);
        if (got && strcmp(got, want)) {
            fprintf(stderr, "\n    %s: got %s, want %s\n", spec, got, want);
            CU_FAIL("formatted address differs");
        }
    } else if (got) {
        fprintf(stderr, "\n    %s accepted as %s\n", spec, got);
        CU_FAIL("bad address accepted");
    }
    free(got);
}

static void
test_ptcp(void)
{
    check(netaddr_parse_ptcp, "6653", "0.0.0.0:6653");
    check(netaddr_parse_ptcp, "0:127.0.0.1", "127.0.0.1:0");
    check(netaddr_parse_ptcp, "7000:10.9.0.3", "10.9.0.3:7000");
    check(netaddr_parse_ptcp, "7000:[::1]", "[::1]:7000");
    check(netaddr_parse_ptcp, "", NULL);
    check(netaddr_parse_ptcp, ":127.0.0.1", NULL);
    check(netaddr_parse_ptcp, "65536", NULL);
    check(netaddr_parse_ptcp, "x", NULL);
    check(netaddr_parse_ptcp, "7000:not-an-ip", NULL);
}

static void
test_tcp(void)
{
    check(netaddr_parse_tcp, "127.0.0.1:6653", "127.0.0.1:6653");
    check(netaddr_parse_tcp, "[fe80::1]:7000", "[fe80::1]:7000");
    check(netaddr_parse_tcp, "127.0.0.1", NULL);      /* Port required. */
    check(netaddr_parse_tcp, ":6653", NULL);          /* Host required. */
    check(netaddr_parse_tcp, "1.2.3.4:99999", NULL);
    check(netaddr_parse_tcp, "host.example:1", NULL); /* No lookups. */
}

/* Returns whether "ptcp:" target 'spec' listens on loopback only. */
static bool
loopback(const char *spec)
{
    struct sockaddr_storage ss;
    socklen_t len;

    CU_ASSERT_EQUAL_FATAL(netaddr_parse_ptcp(spec, &ss, &len), 0);
    return netaddr_is_loopback((struct sockaddr *) &ss);
}

static void
test_loopback(void)
{
    CU_ASSERT_TRUE(loopback("6653:127.0.0.1"));
    CU_ASSERT_TRUE(loopback("6653:127.1.2.3"));
    CU_ASSERT_TRUE(loopback("6653:[::1]"));
    CU_ASSERT_TRUE(loopback("6653:[::ffff:127.0.0.1]"));
    CU_ASSERT_FALSE(loopback("6653"));
    CU_ASSERT_FALSE(loopback("6653:0.0.0.0"));
    CU_ASSERT_FALSE(loopback("6653:10.0.0.1"));
    CU_ASSERT_FALSE(loopback("6653:[::]"));
    CU_ASSERT_FALSE(loopback("6653:[fe80::1]"));
}

static const struct test_case netaddr_tests[] = {
    { "loopback addresses", test_loopback },
    { "ptcp: targets", test_ptcp },
    { "tcp: targets", test_tcp },
    { NULL, NULL },
};
TEST_SUITE("netaddr", netaddr_tests)
