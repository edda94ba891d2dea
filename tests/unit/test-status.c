/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include <CUnit/CUnit.h>
#include <string.h>
#include "of-peer.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/shash.h"
#include "status.h"
#include "tests.h"
#include "util.h"

static const struct json *
get(const struct json *obj, const char *name)
{
    return shash_find_data(json_object(obj), name);
}

static void
test_status_json_and_text(void)
{
    struct ofputil_phy_port ports[2] = {
        peer_port(7, "svc-b1", false),
        peer_port(3, "client", true),
    };
    struct peer_events ev;
    struct ofconn *conn = peer_conn_create(&ev, 0);
    struct status_conn sc;
    const struct json *sw, *jports, *p;
    struct json *json;
    struct ds s = DS_EMPTY_INITIALIZER;

    peer_handshake(conn, OFP14_VERSION, 0xab, ports, 2, 1000);
    sc.ofconn = conn;
    sc.tx_backlog = 12;
    sc.sync = "not in sync (the switch replied OFPBRC_EPERM to xid 0x5)";
    json = status_to_json(&sc, 1, 3500);

    CU_ASSERT_EQUAL_FATAL(json_array(get(json, "switches"))->n, 1);
    sw = json_array(get(json, "switches"))->elems[0];
    CU_ASSERT_STRING_EQUAL(json_string(get(sw, "dpid")), "00000000000000ab");
    CU_ASSERT_STRING_EQUAL(json_string(get(sw, "version")), "OpenFlow14");
    CU_ASSERT_EQUAL(get(sw, "connected")->type, JSON_TRUE);
    CU_ASSERT_EQUAL(get(sw, "uptime_ms")->integer, 2500);
    CU_ASSERT_EQUAL(get(sw, "tx_backlog")->integer, 12);
    CU_ASSERT_EQUAL(get(sw, "in_sync")->type, JSON_FALSE);
    CU_ASSERT_STRING_EQUAL(json_string(get(sw, "role")), "none");
    CU_ASSERT_EQUAL(get(sw, "may_write")->type, JSON_TRUE);

    /* Ports come sorted by number, with their state. */
    jports = get(sw, "ports");
    CU_ASSERT_EQUAL_FATAL(json_array(jports)->n, 2);
    p = json_array(jports)->elems[0];
    CU_ASSERT_EQUAL(get(p, "port_no")->integer, 3);
    CU_ASSERT_EQUAL(get(p, "live")->type, JSON_TRUE);
    p = json_array(jports)->elems[1];
    CU_ASSERT_STRING_EQUAL(json_string(get(p, "name")), "svc-b1");
    CU_ASSERT_EQUAL(get(p, "admin_up")->type, JSON_FALSE);
    CU_ASSERT_EQUAL(get(p, "link_up")->type, JSON_FALSE);

    status_format(json, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "1 switch connection\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "dpid 00000000000000ab"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "connected: true, role: "
                                  "none, version: OpenFlow14"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "svc-b1"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "down   down  no"));
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "programming: not in sync "
                                  "(the switch replied OFPBRC_EPERM"));

    ds_destroy(&s);
    json_destroy(json);

    /* A master request the switch has not answered yet. */
    ofconn_set_role(conn, OFPCR12_ROLE_MASTER, 1);
    json = status_to_json(&sc, 1, 3500);
    sw = json_array(get(json, "switches"))->elems[0];
    CU_ASSERT_STRING_EQUAL(json_string(get(sw, "role")), "master?");
    CU_ASSERT_EQUAL(get(sw, "may_write")->type, JSON_FALSE);
    ds_init(&s);
    status_format(json, &s);
    CU_ASSERT_PTR_NOT_NULL(strstr(ds_cstr(&s), "role: master?,"));
    ds_destroy(&s);
    json_destroy(json);
    ofconn_destroy(conn);
}

static void
test_status_empty(void)
{
    struct json *json = status_to_json(NULL, 0, 0);
    struct ds s = DS_EMPTY_INITIALIZER;

    CU_ASSERT_EQUAL(json_array(get(json, "switches"))->n, 0);
    status_format(json, &s);
    CU_ASSERT_STRING_EQUAL(ds_cstr(&s), "0 switch connections\n");
    ds_destroy(&s);
    json_destroy(json);
}

static const struct test_case status_tests[] = {
    { "json and text", test_status_json_and_text },
    { "no switches", test_status_empty },
    { NULL, NULL },
};
TEST_SUITE("status", status_tests)
