/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* The sfmesh unit tests: CUnit suites for the pure modules, run without
 * sockets.  Exits nonzero if any assertion fails.  Set SFMESH_TEST_LOG=1 to
 * see the modules' log output. */

#include <config.h>

#include <CUnit/Basic.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include "openvswitch/vlog.h"
#include "tests.h"
#include "util.h"

/* The suites, as declared by TEST_SUITE before main() runs. */
#define MAX_SUITES 64
static struct {
    const char *name;
    const struct test_case *tests;
} suites[MAX_SUITES];
static size_t n_suites;

void
tests_add_suite(const char *name, const struct test_case *tests)
{
    if (n_suites >= MAX_SUITES) {
        fprintf(stderr, "too many test suites\n");
        exit(EXIT_FAILURE);
    }
    suites[n_suites].name = name;
    suites[n_suites].tests = tests;
    n_suites++;
}

/* Converts the hex digits in 'hex' (white space ignored) into bytes at
 * 'buf', which has room for 'size', and returns how many there are. */
size_t
tests_from_hex(const char *hex, uint8_t *buf, size_t size)
{
    size_t n = 0;
    int hi = -1;

    for (const char *p = hex; *p; p++) {
        int digit;

        if (isspace((unsigned char) *p)) {
            continue;
        }
        CU_ASSERT_FATAL(isxdigit((unsigned char) *p));
        digit = isdigit((unsigned char) *p) ? *p - '0'
                : tolower((unsigned char) *p) - 'a' + 10;
        if (hi < 0) {
            hi = digit;
        } else {
            CU_ASSERT_FATAL(n < size);
            buf[n++] = hi << 4 | digit;
            hi = -1;
        }
    }
    CU_ASSERT_FATAL(hi < 0);
    return n;
}

static void
register_suites(void)
{
    for (size_t i = 0; i < n_suites; i++) {
        CU_pSuite suite = CU_add_suite(suites[i].name, NULL, NULL);

        if (!suite) {
            fprintf(stderr, "cannot add suite %s\n", suites[i].name);
            exit(EXIT_FAILURE);
        }
        for (const struct test_case *t = suites[i].tests; t->name; t++) {
            CU_add_test(suite, t->name, t->fn);
        }
    }
}

int
main(int argc OVS_UNUSED, char *argv[])
{
    unsigned int failures;

    set_program_name(argv[0]);
    if (!getenv("SFMESH_TEST_LOG")) {
        vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_OFF);
    }
    if (CU_initialize_registry() != CUE_SUCCESS) {
        return EXIT_FAILURE;
    }

    register_suites();

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    printf("\nunit: %u passed, %u failed\n",
           CU_get_number_of_tests_run() - CU_get_number_of_tests_failed(),
           CU_get_number_of_tests_failed());
    CU_cleanup_registry();
    return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
