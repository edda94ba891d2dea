/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "status.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "ofconn.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/shash.h"
#include "flow.h"
#include "packets.h"
#include "util.h"

/* Orders ports by number, so that output is stable. */
static int
compare_ports__(const void *a_, const void *b_)
{
    const struct ofputil_phy_port *const *a = a_;
    const struct ofputil_phy_port *const *b = b_;
    uint16_t pa = ofp_to_u16((*a)->port_no), pb = ofp_to_u16((*b)->port_no);

    return pa < pb ? -1 : pa > pb;
}

static struct json *
port_to_json__(const struct ofputil_phy_port *pp)
{
    struct json *port = json_object_create();
    char mac[ETH_ADDR_STRLEN + 1];

    snprintf(mac, sizeof mac, ETH_ADDR_FMT, ETH_ADDR_ARGS(pp->hw_addr));
    json_object_put(port, "port_no",
                    json_integer_create(ofp_to_u16(pp->port_no)));
    json_object_put_string(port, "name", pp->name);
    json_object_put_string(port, "hw_addr", mac);
    json_object_put(port, "admin_up", json_boolean_create(
                        !(pp->config & OFPUTIL_PC_PORT_DOWN)));
    json_object_put(port, "link_up", json_boolean_create(
                        !(pp->state & OFPUTIL_PS_LINK_DOWN)));
    json_object_put(port, "live", json_boolean_create(
                        ofconn_port_is_live(pp)));
    return port;
}

static struct json *
conn_to_json__(const struct status_conn *sc, long long int now)
{
    const struct ofconn *conn = sc->ofconn;
    const struct ofconn_stats *stats = ofconn_get_stats(conn);
    const struct hmap *ports = ofconn_get_ports(conn);
    const struct ofputil_phy_port **sorted;
    const struct ofconn_port *port;
    struct json *sw = json_object_create();
    struct json *jports = json_array_create_empty();
    long long int connected_at = ofconn_get_connected_at(conn);
    size_t n = 0;

    json_object_put_string(sw, "peer", ofconn_get_name(conn));
    json_object_put_string(sw, "state",
                           ofsm_state_name(ofconn_get_state(conn)));
    json_object_put(sw, "connected",
                    json_boolean_create(ofconn_is_connected(conn)));
    json_object_put_string(sw, "role", ofconn_role_name(conn));
    json_object_put(sw, "may_write",
                    json_boolean_create(ofconn_may_write(conn)));
    json_object_put_format(sw, "dpid", "%016"PRIx64, ofconn_get_dpid(conn));
    json_object_put_string(sw, "version", ofconn_get_version(conn)
                           ? ofputil_version_to_string(
                               ofconn_get_version(conn))
                           : "none");
    json_object_put(sw, "uptime_ms", json_integer_create(
                        connected_at ? now - connected_at : 0));
    json_object_put(sw, "rx_msgs", json_integer_create(stats->rx_msgs));
    json_object_put(sw, "tx_msgs", json_integer_create(stats->tx_msgs));
    json_object_put(sw, "rx_errors", json_integer_create(stats->rx_errors));
    json_object_put(sw, "bad_msgs", json_integer_create(stats->bad_msgs));
    json_object_put(sw, "port_events",
                    json_integer_create(stats->port_events));
    json_object_put(sw, "tx_backlog", json_integer_create(sc->tx_backlog));
    json_object_put(sw, "pending_barriers", json_integer_create(
                        ofconn_n_pending_barriers(conn)));
    if (sc->sync) {
        json_object_put_string(sw, "sync", sc->sync);
        json_object_put(sw, "in_sync", json_boolean_create(
                            !strcmp(sc->sync, "in sync")));
    }

    sorted = xmalloc(MAX(hmap_count(ports), 1) * sizeof *sorted);
    HMAP_FOR_EACH (port, hmap_node, ports) {
        sorted[n++] = &port->pp;
    }
    qsort(sorted, n, sizeof *sorted, compare_ports__);
    for (size_t i = 0; i < n; i++) {
        json_array_add(jports, port_to_json__(sorted[i]));
    }
    free(sorted);
    json_object_put(sw, "ports", jports);
    return sw;
}

/* Returns the status of the 'n' connections in 'conns' at time 'now' as a
 * JSON object {"switches": [...]}, to be freed with json_destroy(). */
struct json *
status_to_json(const struct status_conn *conns, size_t n, long long int now)
{
    struct json *top = json_object_create();
    struct json *switches = json_array_create_empty();

    for (size_t i = 0; i < n; i++) {
        json_array_add(switches, conn_to_json__(&conns[i], now));
    }
    json_object_put(top, "switches", switches);
    return top;
}

static long long int
get_int__(const struct json *obj, const char *name)
{
    const struct json *v = shash_find_data(json_object(obj), name);
    return v && v->type == JSON_INTEGER ? v->integer : 0;
}

static const char *
get_string__(const struct json *obj, const char *name)
{
    const struct json *v = shash_find_data(json_object(obj), name);
    return v && v->type == JSON_STRING ? json_string(v) : "";
}

static bool
get_bool__(const struct json *obj, const char *name)
{
    const struct json *v = shash_find_data(json_object(obj), name);
    return v && v->type == JSON_TRUE;
}

/* Appends to 's' a text rendering of 'status', as made by
 * status_to_json(). */
void
status_format(const struct json *status, struct ds *s)
{
    const struct json *switches = shash_find_data(json_object(status),
                                                  "switches");
    size_t n = switches ? json_array(switches)->n : 0;

    ds_put_format(s, "%"PRIuSIZE" switch connection%s\n", n,
                  n == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        const struct json *sw = json_array(switches)->elems[i];
        const struct json *ports = shash_find_data(json_object(sw), "ports");

        ds_put_format(s, "\nswitch dpid %s (%s)\n", get_string__(sw, "dpid"),
                      get_string__(sw, "peer"));
        ds_put_format(s, "  state: %s, connected: %s, role: %s, version: "
                      "%s, up %.1f s\n", get_string__(sw, "state"),
                      get_bool__(sw, "connected") ? "true" : "false",
                      get_string__(sw, "role"),
                      get_string__(sw, "version"),
                      get_int__(sw, "uptime_ms") / 1000.0);
        ds_put_format(s, "  messages: %lld received, %lld sent, %lld "
                      "errors from switch, %lld rejected; backlog %lld "
                      "bytes\n", get_int__(sw, "rx_msgs"),
                      get_int__(sw, "tx_msgs"), get_int__(sw, "rx_errors"),
                      get_int__(sw, "bad_msgs"),
                      get_int__(sw, "tx_backlog"));
        if (shash_find(json_object(sw), "sync")) {
            ds_put_format(s, "  programming: %s\n", get_string__(sw, "sync"));
        }
        ds_put_format(s, "  %-10s %-16s %-17s %-6s %-5s %s\n", "PORT",
                      "NAME", "MAC", "ADMIN", "LINK", "LIVE");
        for (size_t j = 0; ports && j < json_array(ports)->n; j++) {
            const struct json *p = json_array(ports)->elems[j];
            long long int no = get_int__(p, "port_no");
            char no_s[16];

            if (no == 0xfffe) {
                snprintf(no_s, sizeof no_s, "LOCAL");
            } else {
                snprintf(no_s, sizeof no_s, "%lld", no);
            }
            ds_put_format(s, "  %-10s %-16s %-17s %-6s %-5s %s\n", no_s,
                          get_string__(p, "name"),
                          get_string__(p, "hw_addr"),
                          get_bool__(p, "admin_up") ? "up" : "down",
                          get_bool__(p, "link_up") ? "up" : "down",
                          get_bool__(p, "live") ? "yes" : "no");
        }
    }
}
