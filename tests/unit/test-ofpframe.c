/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <CUnit/CUnit.h>
#include <stdint.h>
#include <string.h>
#include "ofpframe.h"
#include "tests.h"

/* A header of OpenFlow 1.3 with 'len' in its length field. */
static void
make_header(uint8_t *buf, unsigned int len)
{
    memset(buf, 0, 8);
    buf[0] = 4;
    buf[2] = len >> 8;
    buf[3] = len & 0xff;
}

static void
test_short_header(void)
{
    uint8_t buf[8];
    size_t len = 99;

    make_header(buf, 16);
    for (size_t n = 0; n < 8; n++) {
        CU_ASSERT_EQUAL(ofpframe_check(buf, n, &len), OFPFRAME_NEED_MORE);
        CU_ASSERT_EQUAL(len, 0);
    }
}

static void
test_partial_body(void)
{
    uint8_t buf[32];
    size_t len;

    make_header(buf, 24);
    CU_ASSERT_EQUAL(ofpframe_check(buf, 8, &len), OFPFRAME_NEED_MORE);
    CU_ASSERT_EQUAL(len, 24);
    CU_ASSERT_EQUAL(ofpframe_check(buf, 23, &len), OFPFRAME_NEED_MORE);
    CU_ASSERT_EQUAL(ofpframe_check(buf, 24, &len), OFPFRAME_COMPLETE);
    CU_ASSERT_EQUAL(len, 24);
    /* Bytes of the next message do not change the answer. */
    CU_ASSERT_EQUAL(ofpframe_check(buf, 32, &len), OFPFRAME_COMPLETE);
    CU_ASSERT_EQUAL(len, 24);
}

static void
test_bad_lengths(void)
{
    uint8_t buf[8];
    size_t len;

    for (unsigned int l = 0; l < 8; l++) {
        make_header(buf, l);
        CU_ASSERT_EQUAL(ofpframe_check(buf, 8, &len), OFPFRAME_BAD_LENGTH);
    }
    make_header(buf, 8);
    CU_ASSERT_EQUAL(ofpframe_check(buf, 8, &len), OFPFRAME_COMPLETE);
    CU_ASSERT_EQUAL(len, 8);
}

static void
test_max_length(void)
{
    static uint8_t buf[OFPFRAME_MAX_LEN];
    size_t len;

    make_header(buf, OFPFRAME_MAX_LEN);
    CU_ASSERT_EQUAL(ofpframe_check(buf, OFPFRAME_MAX_LEN - 1, &len),
                    OFPFRAME_NEED_MORE);
    CU_ASSERT_EQUAL(ofpframe_check(buf, OFPFRAME_MAX_LEN, &len),
                    OFPFRAME_COMPLETE);
    CU_ASSERT_EQUAL(len, 65535);
}

static const struct test_case ofpframe_tests[] = {
    { "short header", test_short_header },
    { "partial body", test_partial_body },
    { "lengths below 8", test_bad_lengths },
    { "maximum length", test_max_length },
    { NULL, NULL },
};
TEST_SUITE("ofpframe", ofpframe_tests)
