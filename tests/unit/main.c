/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* The sfmesh unit tests: CUnit suites for the pure modules, run without
 * sockets.  Exits nonzero if any assertion fails.  Set SFMESH_TEST_LOG=1 to
 * see the modules' log output. */

#include <config.h>

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include "openvswitch/vlog.h"
#include "tests.h"
#include "util.h"

void
tests_add_suite(const char *name, const struct test_case *tests)
{
    CU_pSuite suite = CU_add_suite(name, NULL, NULL);

    if (!suite) {
        fprintf(stderr, "cannot add suite %s\n", name);
        exit(EXIT_FAILURE);
    }
    for (; tests->name; tests++) {
        CU_add_test(suite, tests->name, tests->fn);
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

    test_ofsm_register();
    test_ofpframe_register();
    test_ofconn_register();
    test_status_register();

    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    printf("\nunit: %u passed, %u failed\n",
           CU_get_number_of_tests_run() - CU_get_number_of_tests_failed(),
           CU_get_number_of_tests_failed());
    CU_cleanup_registry();
    return failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
