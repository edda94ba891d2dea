/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef TESTS_H
#define TESTS_H 1

/* Each test file registers its CUnit suite. */
void test_ofsm_register(void);
void test_ofpframe_register(void);
void test_ofconn_register(void);
void test_status_register(void);

/* Adds suite 'name' with the NULL-terminated tests in 'tests'. */
struct test_case {
    const char *name;
    void (*fn)(void);
};
void tests_add_suite(const char *name, const struct test_case *tests);

#endif /* tests.h */
