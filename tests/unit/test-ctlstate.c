/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ctlstate.h"
#include "util.h"
#include "tests.h"

/* A state written as text reads back the same, and the text does not
 * depend on the order things were added. */
static void
test_ctlstate_round_trip(void)
{
    struct ctlstate a, b, c;
    char *text_a, *text_b, *text_c, *error;

    ctlstate_init(&a);
    ctlstate_set_epoch(&a, "fw", 12);
    ctlstate_set_epoch(&a, "dlp", 9);
    ctlstate_set_epoch(&a, "dlp", 10);
    sset_add(&a.agents, "fw-1");
    sset_add(&a.agents, "dlp-2");
    text_a = ctlstate_to_string(&a);
    CU_ASSERT_STRING_EQUAL(text_a, "{\"agents\":[\"dlp-2\",\"fw-1\"],"
                           "\"epochs\":{\"dlp\":10,\"fw\":12},"
                           "\"version\":1}");

    ctlstate_init(&b);
    sset_add(&b.agents, "dlp-2");
    sset_add(&b.agents, "fw-1");
    ctlstate_set_epoch(&b, "fw", 12);
    ctlstate_set_epoch(&b, "dlp", 10);
    text_b = ctlstate_to_string(&b);
    CU_ASSERT_STRING_EQUAL(text_a, text_b);

    ctlstate_init(&c);
    error = ctlstate_from_string(text_a, &c);
    CU_ASSERT_PTR_NULL(error);
    CU_ASSERT_EQUAL(ctlstate_get_epoch(&c, "dlp"), 10);
    CU_ASSERT_EQUAL(ctlstate_get_epoch(&c, "fw"), 12);
    CU_ASSERT_EQUAL(ctlstate_get_epoch(&c, "nat"), 0);
    CU_ASSERT(sset_contains(&c.agents, "fw-1"));
    text_c = ctlstate_to_string(&c);
    CU_ASSERT_STRING_EQUAL(text_a, text_c);

    free(text_a);
    free(text_b);
    free(text_c);
    ctlstate_destroy(&a);
    ctlstate_destroy(&b);
    ctlstate_destroy(&c);
}

/* A damaged file is refused with a reason and leaves the state empty. */
static void
test_ctlstate_bad(void)
{
    static const char *const bad[] = {
        "",
        "{",
        "[]",
        "{\"version\":2,\"epochs\":{},\"agents\":[]}",
        "{\"epochs\":{},\"agents\":[]}",
        "{\"version\":1,\"agents\":[]}",
        "{\"version\":1,\"epochs\":{\"fw\":0},\"agents\":[]}",
        "{\"version\":1,\"epochs\":{\"fw\":-3},\"agents\":[]}",
        "{\"version\":1,\"epochs\":{\"fw\":\"7\"},\"agents\":[]}",
        "{\"version\":1,\"epochs\":{\"\":7},\"agents\":[]}",
        "{\"version\":1,\"epochs\":{},\"agents\":[1]}",
        "{\"version\":1,\"epochs\":{},\"agents\":[\"\"]}",
        "{\"version\":1,\"epochs\":{},\"agents\":{}}",
        "{\"version\":1,\"epochs\":{},\"agents\":[],\"fences\":[]}",
    };

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        struct ctlstate s;
        char *error;

        ctlstate_init(&s);
        ctlstate_set_epoch(&s, "stale", 3);
        error = ctlstate_from_string(bad[i], &s);
        CU_ASSERT_PTR_NOT_NULL(error);
        if (!error) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
        }
        CU_ASSERT_EQUAL(shash_count(&s.epochs), 0);
        CU_ASSERT_EQUAL(sset_count(&s.agents), 0);
        free(error);
        ctlstate_destroy(&s);
    }
}

/* The file: missing is empty; written, it reads back; a write that cannot
 * be made leaves the old contents. */
static void
test_ctlstate_file(void)
{
    char dir[] = "/tmp/sfmesh-ctlstate.XXXXXX";
    struct ctlstate s;
    char *file, *error, *text;

    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    file = xasprintf("%s/state", dir);

    ctlstate_init(&s);
    CU_ASSERT_PTR_NULL(ctlstate_read(file, &s));
    CU_ASSERT_EQUAL(shash_count(&s.epochs), 0);

    ctlstate_set_epoch(&s, "fw", 5);
    text = ctlstate_to_string(&s);
    error = ctlstate_write(file, text);
    CU_ASSERT_PTR_NULL(error);
    ctlstate_destroy(&s);

    ctlstate_init(&s);
    CU_ASSERT_PTR_NULL(ctlstate_read(file, &s));
    CU_ASSERT_EQUAL(ctlstate_get_epoch(&s, "fw"), 5);
    ctlstate_destroy(&s);

    /* A directory where the temporary file would go. */
    char *tmp = xasprintf("%s.tmp", file);
    CU_ASSERT_EQUAL(mkdir(tmp, 0700), 0);
    error = ctlstate_write(file, "{}");
    CU_ASSERT_PTR_NOT_NULL(error);
    free(error);
    ctlstate_init(&s);
    CU_ASSERT_PTR_NULL(ctlstate_read(file, &s));
    CU_ASSERT_EQUAL(ctlstate_get_epoch(&s, "fw"), 5);
    ctlstate_destroy(&s);
    rmdir(tmp);

    /* Garbage in the file. */
    FILE *f = fopen(file, "w");
    fputs("{\"version\": 1, \"epo", f);
    fclose(f);
    ctlstate_init(&s);
    error = ctlstate_read(file, &s);
    CU_ASSERT_PTR_NOT_NULL(error);
    CU_ASSERT(error && strstr(error, file) != NULL);
    free(error);
    ctlstate_destroy(&s);

    unlink(file);
    rmdir(dir);
    free(tmp);
    free(text);
    free(file);
}

/* States are equal when their epochs, agents, maps and instances are;
 * each of them alone makes a difference. */
static void
test_ctlstate_equal(void)
{
    struct ctlstate a, b;
    struct ctlstate_map *m;
    struct ctlstate_inst *si;

    ctlstate_init(&a);
    ctlstate_init(&b);
    CU_ASSERT_TRUE(ctlstate_equal(&a, &b));
    for (int k = 0; k < 2; k++) {
        struct ctlstate *s = k ? &b : &a;

        ctlstate_set_epoch(s, "fw", 7);
        sset_add(&s->agents, "fw-1");
        m = ctlstate_put_map(s, "fw", 4);
        ctlstate_bucket_set(&m->buckets[0], "fw-1", "fw-2", NULL, 3);
        ctlstate_bucket_set(&m->buckets[1], "fw-2", "fw-1", "fw-3", 5);
        si = ctlstate_put_inst(s, "fw-3", "fw");
        si->state = SVCMAP_COLD;
    }
    CU_ASSERT_TRUE(ctlstate_equal(&a, &b));

    m = shash_find_data(&b.maps, "fw");
    ctlstate_bucket_set(&m->buckets[1], "fw-2", "fw-1", NULL, 5);
    CU_ASSERT_FALSE(ctlstate_equal(&a, &b));
    ctlstate_bucket_set(&m->buckets[1], "fw-2", "fw-1", "fw-3", 6);
    CU_ASSERT_FALSE(ctlstate_equal(&a, &b));
    ctlstate_bucket_set(&m->buckets[1], "fw-2", "fw-1", "fw-3", 5);
    CU_ASSERT_TRUE(ctlstate_equal(&a, &b));

    si = shash_find_data(&b.insts, "fw-3");
    si->fenced = true;
    CU_ASSERT_FALSE(ctlstate_equal(&a, &b));
    si->fenced = false;
    si->state = SVCMAP_UP;
    CU_ASSERT_FALSE(ctlstate_equal(&a, &b));
    si->state = SVCMAP_COLD;

    ctlstate_set_epoch(&b, "fw", 8);
    CU_ASSERT_FALSE(ctlstate_equal(&a, &b));
    ctlstate_set_epoch(&b, "fw", 7);
    sset_add(&b.agents, "fw-2");
    CU_ASSERT_FALSE(ctlstate_equal(&a, &b));
    sset_find_and_delete(&b.agents, "fw-2");
    CU_ASSERT_TRUE(ctlstate_equal(&a, &b));

    /* Replacing a map or an instance starts it empty. */
    m = ctlstate_put_map(&b, "fw", 4);
    CU_ASSERT_PTR_NULL(m->buckets[0].primary);
    CU_ASSERT_FALSE(ctlstate_equal(&a, &b));
    si = ctlstate_put_inst(&b, "fw-3", "fw");
    CU_ASSERT_EQUAL(si->state, SVCMAP_DOWN);

    /* The state file carries epochs and agents only. */
    {
        char *text = ctlstate_to_string(&a);

        CU_ASSERT_PTR_NULL(strstr(text, "fw-3"));
        free(text);
    }
    ctlstate_destroy(&a);
    ctlstate_destroy(&b);
}

static const struct test_case ctlstate_tests[] = {
    { "equality", test_ctlstate_equal },
    { "round trip", test_ctlstate_round_trip },
    { "damaged state refused", test_ctlstate_bad },
    { "state file", test_ctlstate_file },
    { NULL, NULL },
};

TEST_SUITE("ctlstate", ctlstate_tests);
