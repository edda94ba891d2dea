/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef TESTS_H
#define TESTS_H 1

#include <stddef.h>
#include <stdint.h>

/* A test: its name and function. */
struct test_case {
    const char *name;
    void (*fn)(void);
};

/* Declares suite NAME with the tests in the array TESTS, which ends with a
 * null entry.  Each test file declares its suite this way; main() runs them
 * all, so a new test file needs no other change. */
#define TEST_SUITE(NAME, TESTS)                                     \
    static void __attribute__((constructor))                        \
    test_suite_register__(void)                                     \
    {                                                               \
        tests_add_suite(NAME, TESTS);                               \
    }

void tests_add_suite(const char *name, const struct test_case *tests);

size_t tests_from_hex(const char *hex, uint8_t *buf, size_t size);

#endif /* tests.h */
