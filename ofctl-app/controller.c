/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* sfmesh-controller: the sfmesh OpenFlow controller daemon. */

#include <config.h>

#include <errno.h>
#include <event2/event.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "agentproto.h"
#include "agentsrv.h"
#include "command-line.h"
#include "cfg.h"
#include "ctldb.h"
#include "ctlsock.h"
#include "flowset.h"
#include "daemon.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "ofconn.h"
#include "ofsrv.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "status.h"
#include "ctlstate.h"
#include "steer.h"
#include "timeval.h"
#include "smap.h"
#include "util.h"
#include "netaddr.h"
#include "tls.h"
#include "hostdbs.h"
#include "vswdb.h"

VLOG_DEFINE_THIS_MODULE(controller);

/* Command-line settings. */
struct controller_options {
    struct ofsrv_settings srv;  /* Connection core settings. */
    char *unixctl_path;         /* Control socket, NULL for the default. */
    char *config_file;          /* --config, or NULL. */
    char *agent_listen;         /* --agent-listen, or NULL. */
    int heartbeat_timeout;      /* --heartbeat-timeout, in ms. */
    bool check_config;          /* --check-config: validate and exit. */
    char *state_file;           /* --state-file, NULL for the default. */
    bool no_state_file;         /* --no-state-file. */
    char *ovsdb;                /* --ovsdb, or NULL. */
    char *db;                   /* --db: the controllers' database. */
    char *name;                 /* --name: this controller's. */
    struct tls_options tls;     /* --private-key, --certificate,
                                 * --ca-cert, --peer-ca-cert. */
};

/* The running daemon. */
struct controller {
    struct event_base *base;    /* Event loop. */
    struct ofsrv *srv;          /* Switch connections. */
    struct steer *steer;        /* Steering policy. */
    struct agsrv *agents;       /* Agent channels. */
    struct ctlsock *ctl;        /* Control socket. */
    struct event *tick;         /* Periodic steer_run(). */
    struct hostdbs *dbs;        /* The switch databases (--ovsdb, hosts). */
    struct tls_ctx *tls;        /* For "pssl:" listeners, or NULL. */
    struct event *vswdb_tick;   /* Periodic vswdb_run(), or NULL. */
    const char *config_file;    /* Reloaded on SIGHUP, or NULL. */
    char *state_file;           /* Kept up to date, or NULL. */
    char *state_saved;          /* What it holds now, or NULL. */
    struct ctldb *db;           /* The controllers' database, or NULL. */
    struct event *db_tick;      /* Periodic ctldb_run(), or NULL. */
    const char *name;           /* --name, with --db. */
    char *standby_why;          /* What a standby tells agents. */
    uint64_t role_generation;   /* Of the switches' role requests. */
    int exit_status;            /* Set by "exit" or a signal. */
};

/* Above this much queued output, a switch gets no new changes for now. */
#define CONTROLLER_BACKLOG_LIMIT (1024 * 1024)

/* How often deferred reconciler work is retried, in ms. */
#define CONTROLLER_TICK_MS 100

static void parse_options(int argc, char *argv[],
                          struct controller_options *);
static void set_switch_role__(struct controller *, struct ofconn *);
static void apply_role__(struct controller *, long long int now);
static void usage(void) OVS_NO_RETURN;

static void
status_cmd(struct ctlsock_conn *conn, int argc, const char *argv[],
           void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    const struct ofconn **conns;
    size_t n = ofsrv_get_conns(ctrl->srv, &conns);
    struct status_conn *sc = xmalloc(MAX(n, 1) * sizeof *sc);
    struct json *json;
    struct ds s = DS_EMPTY_INITIALIZER;

    for (size_t i = 0; i < n; i++) {
        sc[i].ofconn = conns[i];
        sc[i].tx_backlog = ofsrv_tx_backlog(ctrl->srv, conns[i]);
        sc[i].sync = steer_switch_sync(ctrl->steer, conns[i]);
    }
    json = status_to_json(sc, n, time_msec());
    for (size_t i = 0; i < n; i++) {
        free(CONST_CAST(char *, sc[i].sync));
    }
    free(sc);

    if (argc > 1 && !strcmp(argv[1], "--json")) {
        char *text = json_to_string(json, JSSF_PRETTY | JSSF_SORT);
        ds_put_cstr(&s, text);
        ds_put_char(&s, '\n');
        free(text);
    } else if (argc > 1) {
        ctlsock_reply_error(conn, "usage: status [--json]");
        json_destroy(json);
        return;
    } else {
        status_format(json, &s);
    }
    json_destroy(json);
    ctlsock_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

/* Replies to 'conn' with 's' (freed), or with 'error' (freed) if nonnull. */
static void
reply_ds(struct ctlsock_conn *conn, struct ds *s, char *error)
{
    if (error) {
        ctlsock_reply_error(conn, error);
        free(error);
    } else {
        ctlsock_reply_ds(conn, s);
    }
    ds_destroy(s);
}

static void
map_cmd(struct ctlsock_conn *conn, int argc, const char *argv[], void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    struct ds s = DS_EMPTY_INITIALIZER;

    reply_ds(conn, &s, steer_format_map(ctrl->steer, argc > 1 ? argv[1]
                                        : NULL, &s));
}

/* Returns the BFD state of interface 'port' for the instances table. */
static const char *
bfd_state_cb(const char *port, void *ctrl_)
{
    struct controller *ctrl = ctrl_;

    return hostdbs_bfd_state(ctrl->dbs, port);
}

static void
bfd_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
        const char *argv[] OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    struct ds s = DS_EMPTY_INITIALIZER;

    if (!hostdbs_any(ctrl->dbs)) {
        ctlsock_reply_error(conn, "no switch database (--ovsdb, or hosts "
                            "with ovsdb: in the configuration): the "
                            "controller does not configure BFD");
        return;
    }
    hostdbs_format(ctrl->dbs, &s);
    reply_ds(conn, &s, NULL);
}

static void
instances_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
              const char *argv[] OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    struct ds s = DS_EMPTY_INITIALIZER;

    steer_format_instances(ctrl->steer,
                           hostdbs_any(ctrl->dbs) ? bfd_state_cb : NULL,
                           ctrl, &s);
    reply_ds(conn, &s, NULL);
}

static void
hosts_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
          const char *argv[] OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    struct ds s = DS_EMPTY_INITIALIZER;

    steer_format_hosts(ctrl->steer, &s);
    hostdbs_format_tunnels(ctrl->dbs, steer_config(ctrl->steer), &s);
    reply_ds(conn, &s, NULL);
}

static void
switches_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
             const char *argv[] OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    struct ds s = DS_EMPTY_INITIALIZER;

    steer_format_switches(ctrl->steer, &s);
    reply_ds(conn, &s, NULL);
}

/* The listing of "flows" and "groups" goes out in pieces of 64 kB. */
static bool
desired_piece_cb(struct ds *out, void *cursor)
{
    return flowset_cursor_format(cursor, out, 64 * 1024);
}

static void
desired_done_cb(void *cursor)
{
    flowset_cursor_destroy(cursor);
}

static void
desired_cmd(struct ctlsock_conn *conn, int argc, const char *argv[],
            void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    bool groups = !strcmp(argv[0], "groups");
    struct flowset_cursor *c;
    char *error;

    error = steer_desired_cursor(ctrl->steer, argc > 1 ? argv[1] : NULL,
                                 groups, &c);
    if (error) {
        ctlsock_reply_error(conn, error);
        free(error);
    } else {
        ctlsock_reply_pieces(conn, desired_piece_cb, desired_done_cb, c);
    }
}

static void
drain_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED, const char *argv[],
          void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    char *error = steer_drain(ctrl->steer, argv[1], time_msec());

    if (error) {
        ctlsock_reply_error(conn, error);
        free(error);
    } else {
        VLOG_INFO("instance %s drained by the operator", argv[1]);
        ctlsock_reply(conn, "");
    }
}

static void
handoffs_cmd(struct ctlsock_conn *conn, int argc, const char *argv[],
             void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    struct ds s = DS_EMPTY_INITIALIZER;

    reply_ds(conn, &s, steer_format_handoffs(ctrl->steer,
                                             argc > 1 ? argv[1] : NULL,
                                             time_msec(), &s));
}

static void
enable_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED, const char *argv[],
           void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    bool enable = !strcmp(argv[0], "enable");
    bool force = argc > 2 && !strcmp(argv[2], "--force");
    char *error;

    if (argc > 2 && !force) {
        ctlsock_reply_error(conn, "usage: disable INSTANCE [--force]");
        return;
    }
    /* Planned maintenance loses no stream: the secondaries that take over
     * must hold the state first. */
    error = (!enable && !force
             ? agsrv_check_drain(ctrl->agents, argv[1]) : NULL);
    if (!error) {
        error = steer_set_enabled(ctrl->steer, argv[1], enable);
    }

    if (error) {
        ctlsock_reply_error(conn, error);
        free(error);
    } else {
        VLOG_INFO("instance %s %s by the operator", argv[1],
                  enable ? "enabled" : "disabled");
        ctlsock_reply(conn, "");
    }
}

static void
exit_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
         const char *argv[] OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;

    VLOG_INFO("exiting on request of the control socket");
    ctlsock_reply(conn, "");
    event_base_loopexit(ctrl->base, NULL);
}

static void
vlog_set_cmd(struct ctlsock_conn *conn, int argc, const char *argv[],
             void *aux OVS_UNUSED)
{
    for (int i = 1; i < argc; i++) {
        char *error = vlog_set_levels_from_string(argv[i]);
        if (error) {
            ctlsock_reply_error(conn, error);
            free(error);
            return;
        }
    }
    ctlsock_reply(conn, "");
}

static void
vlog_list_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
              const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    char *levels = vlog_get_levels();
    ctlsock_reply(conn, levels);
    free(levels);
}

static void
vlog_reopen_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
                const char *argv[] OVS_UNUSED, void *aux OVS_UNUSED)
{
    int error = vlog_reopen_log_file();
    if (error) {
        ctlsock_reply_error(conn, ovs_strerror(error));
    } else {
        ctlsock_reply(conn, "");
    }
}

static void
vswdb_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;

    if (hostdbs_run(ctrl->dbs)) {
        steer_refresh(ctrl->steer);
    }
}

/* A port on which BFD is wanted (an instance's, a tunnel's) counts as live
 * only once the switch runs BFD on it and the session is Up. */
static bool
port_ready_cb(const struct cfg_switch *sw, const char *port, void *ctrl_)
{
    struct controller *ctrl = ctrl_;

    return hostdbs_bfd_ready(ctrl->dbs, sw->host, port);
}

/* Once 'ctrl' has a switch database, makes the policy wait for BFD on the
 * instance ports and runs the databases every VSWDB_RUN_MS.  Returns true
 * if it has one. */
static bool
start_dbs__(struct controller *ctrl)
{
    if (!hostdbs_any(ctrl->dbs)) {
        return false;
    }
    if (!ctrl->vswdb_tick) {
        steer_set_port_ready_cb(ctrl->steer, port_ready_cb, ctrl);
        ctrl->vswdb_tick = event_new(ctrl->base, -1, EV_PERSIST, vswdb_cb,
                                     ctrl);
        event_add(ctrl->vswdb_tick,
                  &(struct timeval) { 0, VSWDB_RUN_MS * 1000 });
    }
    return true;
}

/* Reads the configuration file again and applies it as a difference; an
 * invalid file is refused and the running state kept. */
static void
reload_config(struct controller *ctrl)
{
    struct sfm_config *cfg;
    char *error;

    if (!ctrl->config_file) {
        VLOG_INFO("SIGHUP received: no configuration file to reload");
        return;
    }
    error = cfg_read(ctrl->config_file, &cfg);
    if (error) {
        VLOG_ERR("configuration not reloaded, keeping the running one: %s",
                 error);
        free(error);
        return;
    }
    /* Before the policy sees a new instance: its port must not count as
     * live by its carrier alone until BFD runs on it. */
    hostdbs_configure(ctrl->dbs, cfg);
    start_dbs__(ctrl);
    error = steer_reload(ctrl->steer, cfg);
    if (error) {
        VLOG_ERR("configuration not reloaded, keeping the running one: %s",
                 error);
        free(error);
        return;
    }
    VLOG_INFO("configuration reloaded from %s", ctrl->config_file);
}

static void
signal_cb(evutil_socket_t signr, short what OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;

    if (signr == SIGHUP) {
        reload_config(ctrl);
        return;
    }
    VLOG_INFO("%s received, exiting", signr == SIGTERM ? "SIGTERM"
              : "SIGINT");
    event_base_loopexit(ctrl->base, NULL);
}

/* Connection core events, passed to the steering policy. */
static void
ready_hook(struct ofconn *conn, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    long long int now = time_msec();

    if (ctrl->db) {
        /* Before the first write: a standby's are refused. */
        set_switch_role__(ctrl, conn);
    }
    steer_switch_ready(ctrl->steer, conn);
    if (steer_is_settled(ctrl->steer)) {
        agsrv_set_ready(ctrl->agents, now);
    }
}

static void
port_changed_hook(struct ofconn *conn, const struct ofputil_phy_port *old,
                  const struct ofputil_phy_port *new, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    steer_port_changed(ctrl->steer, conn, old, new);
}

static void
error_hook(struct ofconn *conn, enum ofperr error, ovs_be32 xid, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    steer_error(ctrl->steer, conn, error, xid);
}

static void
message_hook(struct ofconn *conn, enum ofptype type,
             const struct ofp_header *oh, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    steer_message(ctrl->steer, conn, type, oh);
}

static void
closed_hook(struct ofconn *conn, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    steer_switch_closed(ctrl->steer, conn);
}

static void
role_changed_hook(struct ofconn *conn, void *ctrl_)
{
    struct controller *ctrl = ctrl_;

    VLOG_INFO("%s: role %s", ofconn_get_name(conn), ofconn_role_name(conn));
    if (ctrl->db && ofconn_get_role(conn) == OFPCR12_ROLE_SLAVE
        && ctldb_stand_down(ctrl->db, ofconn_get_generation(conn),
                            "a switch made a controller of a newer "
                            "generation its primary")) {
        apply_role__(ctrl, time_msec());
    }
    steer_role_changed(ctrl->steer, conn);
}

static void
drained_hook(struct ofconn *conn, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    steer_switch_drained(ctrl->steer, conn);
}

static const struct ofconn_hooks controller_hooks = {
    .ready = ready_hook,
    .port_changed = port_changed_hook,
    .error = error_hook,
    .message = message_hook,
    .closed = closed_hook,
    .drained = drained_hook,
    .role_changed = role_changed_hook,
};

static bool
backlogged_cb(const struct ofconn *conn, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    return ofsrv_tx_backlog(ctrl->srv, conn) > CONTROLLER_BACKLOG_LIMIT;
}

/* Writes the state file if what it should hold has changed. */
static void
save_state(struct controller *ctrl)
{
    struct ctlstate state;
    char *text, *error;

    if (!ctrl->state_file) {
        return;
    }
    ctlstate_init(&state);
    steer_save_state(ctrl->steer, &state);
    agsrv_save_state(ctrl->agents, &state);
    text = ctlstate_to_string(&state);
    ctlstate_destroy(&state);
    if (ctrl->state_saved && !strcmp(text, ctrl->state_saved)) {
        free(text);
        return;
    }
    error = ctlstate_write(ctrl->state_file, text);
    if (error) {
        static struct vlog_rate_limit rl = VLOG_RATE_LIMIT_INIT(1, 5);

        VLOG_ERR_RL(&rl, "state not saved: %s", error);
        free(error);
        free(text);
        return;
    }
    free(ctrl->state_saved);
    ctrl->state_saved = text;
}

/* Continues from the state file, if there is one. */
static void
restore_state(struct controller *ctrl)
{
    struct ctlstate state;
    char *error;

    ctlstate_init(&state);
    error = ctlstate_read(ctrl->state_file, &state);
    if (error) {
        VLOG_ERR("state file ignored (it will be rewritten): %s", error);
        free(error);
    } else if (shash_count(&state.epochs) || sset_count(&state.agents)) {
        VLOG_INFO("continuing from %s: %"PRIuSIZE" services, %"PRIuSIZE
                  " agents", ctrl->state_file, shash_count(&state.epochs),
                  sset_count(&state.agents));
    }
    steer_restore_state(ctrl->steer, &state);
    agsrv_restore_state(ctrl->agents, &state);
    ctlstate_destroy(&state);
}

static void
tick_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    long long int now = time_msec();

    steer_run(ctrl->steer, now);
    agsrv_run(ctrl->agents, now);
    if (steer_is_settled(ctrl->steer)) {
        agsrv_set_ready(ctrl->agents, now);
    }
    save_state(ctrl);
}

/* Writes what the active controller decided into the database: from
 * db_cb(), so within CTLDB_RUN_MS of the decision (plus the cluster's
 * commit), which is what a takeover can lose. */
static void
put_db__(struct controller *ctrl)
{
    struct ctlstate state;

    ctlstate_init(&state);
    steer_save_state(ctrl->steer, &state);
    agsrv_save_state(ctrl->agents, &state);
    ctldb_put(ctrl->db, &state);
    ctlstate_destroy(&state);
}

/* Asks every connected switch for 'ctrl''s role: primary while it is the
 * active controller, secondary otherwise. */
static void
set_switch_role__(struct controller *ctrl, struct ofconn *conn)
{
    bool active = ctldb_get_role(ctrl->db) == CTLDB_ACTIVE;

    ofconn_set_role(conn, active ? OFPCR12_ROLE_MASTER : OFPCR12_ROLE_SLAVE,
                    ctldb_get_generation(ctrl->db));
}

static void
set_switch_roles__(struct controller *ctrl)
{
    const struct ofconn **conns;
    size_t n = ofsrv_get_conns(ctrl->srv, &conns);

    ctrl->role_generation = ctldb_get_generation(ctrl->db);
    for (size_t i = 0; i < n; i++) {
        set_switch_role__(ctrl, CONST_CAST(struct ofconn *, conns[i]));
    }
}

/* Follows the state that the active controller wrote. */
static void
follow_db__(struct controller *ctrl)
{
    struct ctlstate state;

    ctlstate_init(&state);
    ctldb_read(ctrl->db, &state);
    steer_adopt_state(ctrl->steer, &state);
    ctlstate_destroy(&state);
}

/* Makes 'ctrl' act as its role in the database says. */
static void
apply_role__(struct controller *ctrl, long long int now)
{
    enum ctldb_role role = ctldb_get_role(ctrl->db);

    if (role == CTLDB_ACTIVE) {
        struct ctlstate state;

        /* Take over exactly where the previous active controller left:
         * its maps, its instances' standing, the agents it knew (those
         * that do not come back in time are fenced). */
        ctlstate_init(&state);
        ctldb_read(ctrl->db, &state);
        steer_adopt_state(ctrl->steer, &state);
        agsrv_restore_state(ctrl->agents, &state);
        ctlstate_destroy(&state);
        agsrv_set_standby(ctrl->agents, NULL, now);
        steer_set_standby(ctrl->steer, false);
        VLOG_INFO("active controller (generation %"PRIu64"): primary of "
                  "every switch", ctldb_get_generation(ctrl->db));
    } else if (role == CTLDB_STANDBY) {
        const char *active = ctldb_get_active(ctrl->db);

        free(ctrl->standby_why);
        ctrl->standby_why = xasprintf(AGP_STANDBY_REASON ": controller %s "
                                      "is not active%s%s%s",
                                      ctrl->name ? ctrl->name : "",
                                      active ? " (active: " : "",
                                      active ? active : "",
                                      active ? ")" : "");
        steer_set_standby(ctrl->steer, true);
        agsrv_set_standby(ctrl->agents, ctrl->standby_why, now);
    }
    if (role != CTLDB_CLAIMING) {
        set_switch_roles__(ctrl);
    }
}

static void
db_cb(evutil_socket_t fd OVS_UNUSED, short what OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    long long int now = time_msec();
    unsigned int events;

    if (ctldb_get_role(ctrl->db) == CTLDB_ACTIVE) {
        /* What was decided since the last run: written in this one. */
        put_db__(ctrl);
    }
    events = ctldb_run(ctrl->db, now);
    if (events & CTLDB_ROLE_CHANGED) {
        apply_role__(ctrl, now);
    }
    if (events & CTLDB_CONTENTS_CHANGED
        && ctldb_get_role(ctrl->db) == CTLDB_STANDBY) {
        follow_db__(ctrl);
        if (ctldb_get_generation(ctrl->db) != ctrl->role_generation) {
            /* A switch refuses a request of an older generation than it
             * saw, so a standby's follows the newest. */
            set_switch_roles__(ctrl);
        }
    }
}

static void
ha_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
       const char *argv[] OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    struct ds s = DS_EMPTY_INITIALIZER;
    const struct ofconn **conns;
    size_t n;

    if (!ctrl->db) {
        ctlsock_reply_error(conn, "no controllers' database (--db): this "
                            "controller is the only one");
        return;
    }
    ds_put_format(&s, "controller %s: ", ctrl->name);
    ctldb_format(ctrl->db, &s);
    n = ofsrv_get_conns(ctrl->srv, &conns);
    for (size_t i = 0; i < n; i++) {
        ds_put_format(&s, "  switch %s: %s\n", ofconn_get_name(conns[i]),
                      ofconn_role_name(conns[i]));
    }
    reply_ds(conn, &s, NULL);
}

static void
agents_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
           const char *argv[] OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;
    struct ds s = DS_EMPTY_INITIALIZER;

    agsrv_format(ctrl->agents, time_msec(), &s);
    reply_ds(conn, &s, NULL);
}

/* Warns that a "ptcp:" listener 'target' that other hosts can reach takes
 * anyone as a switch. */
static void
warn_plaintext__(const char *target)
{
    struct sockaddr_storage ss;
    socklen_t len;

    if (strncmp(target, "ptcp:", 5)
        || netaddr_parse_ptcp(target + 5, &ss, &len)
        || netaddr_is_loopback((struct sockaddr *) &ss)) {
        return;
    }
    VLOG_WARN("%s: OpenFlow without TLS: anyone who reaches this address "
              "can connect as a switch, with any datapath id, and replace "
              "that switch's connection (use pssl: with --private-key, "
              "--certificate and --ca-cert)", target);
}

int
main(int argc, char *argv[])
{
    struct controller_options opts;
    struct controller ctrl;
    struct event *signals[3];
    const int signrs[3] = { SIGTERM, SIGINT, SIGHUP };
    char *unixctl_path, *error;
    struct sfm_config *cfg;
    int n_listen = 0;

    set_program_name(argv[0]);
    parse_options(argc, argv, &opts);
    fatal_ignore_sigpipe();

    cfg = NULL;
    if (opts.config_file) {
        error = cfg_read(opts.config_file, &cfg);
        if (error) {
            ovs_fatal(0, "%s", error);
        }
        if (opts.check_config) {
            printf("%s: valid: %"PRIuSIZE" switch%s, %"PRIuSIZE" service%s, "
                   "%"PRIuSIZE" chain%s, %"PRIuSIZE" buckets per service\n",
                   opts.config_file, cfg->n_switches,
                   cfg->n_switches == 1 ? "" : "es", cfg->n_services,
                   cfg->n_services == 1 ? "" : "s", cfg->n_chains,
                   cfg->n_chains == 1 ? "" : "s", cfg_n_buckets(cfg));
            cfg_destroy(cfg);
            exit(EXIT_SUCCESS);
        }
        opts.srv.conn.probe_interval = cfg->timers.inactivity_probe_ms;
        opts.srv.conn.handshake_timeout = cfg->timers.handshake_timeout_ms;
    } else if (opts.check_config) {
        ovs_fatal(0, "--check-config needs --config=FILE");
    }

    memset(&ctrl, 0, sizeof ctrl);
    ctrl.base = event_base_new();
    if (!ctrl.base) {
        ovs_fatal(0, "cannot create the event loop");
    }
    ctrl.config_file = opts.config_file;
    ctrl.steer = steer_create(cfg, backlogged_cb, &ctrl, time_msec());
    ctrl.srv = ofsrv_create(ctrl.base, &opts.srv, &controller_hooks, &ctrl);
    if (tls_options_any(&opts.tls)) {
        error = tls_ctx_create(&opts.tls, &ctrl.tls);
        if (error) {
            ovs_fatal(0, "%s", error);
        }
        ofsrv_set_tls(ctrl.srv, ctrl.tls);
    }
    ctrl.agents = agsrv_create(ctrl.base, ctrl.steer, opts.heartbeat_timeout);
    agsrv_set_tls(ctrl.agents, ctrl.tls);
    if (opts.agent_listen) {
        if (agsrv_listen(ctrl.agents, opts.agent_listen, &error)) {
            ovs_fatal(0, "%s", error);
        }
        if (!strncmp(opts.agent_listen, "ptcp:", 5)) {
            VLOG_WARN("%s: agent channel without TLS: anyone who reaches "
                      "this address can say hello in the name of an "
                      "instance whose channel is down, lift its fence and "
                      "report it warm (use pssl: with --private-key, "
                      "--certificate and --ca-cert)", opts.agent_listen);
        }
    }
    if (opts.db) {
        /* Standby until the lock says otherwise; the state is in the
         * database, not in a file. */
        ctrl.name = opts.name;
        ctrl.db = ctldb_create(opts.db, opts.name, time_msec());
        ctrl.standby_why = xasprintf(AGP_STANDBY_REASON ": controller %s "
                                     "is starting", opts.name);
        steer_set_standby(ctrl.steer, true);
        agsrv_set_standby(ctrl.agents, ctrl.standby_why, time_msec());
    } else if (!opts.no_state_file) {
        ctrl.state_file = (opts.state_file ? xstrdup(opts.state_file)
                           : xasprintf("%s/%s.state", ovs_rundir(),
                                       program_name));
        restore_state(&ctrl);
    }

    /* Listen before detaching, so that errors reach the terminal. */
    for (int i = optind; i < argc || (!n_listen && i == argc); i++) {
        const char *target = i < argc ? argv[i] : "ptcp:6653";
        if (ofsrv_listen(ctrl.srv, target, NULL, &error)) {
            ovs_fatal(0, "%s", error);
        }
        warn_plaintext__(target);
        n_listen++;
    }

    unixctl_path = (opts.unixctl_path
                    ? xstrdup(opts.unixctl_path)
                    : xasprintf("%s/%s.ctl", ovs_rundir(), program_name));
    ctrl.ctl = ctlsock_create(ctrl.base, unixctl_path, &error);
    if (!ctrl.ctl) {
        ovs_fatal(0, "%s", error);
    }
    VLOG_INFO("control socket at %s", unixctl_path);
    free(unixctl_path);
    ctlsock_register(ctrl.ctl, "status", "[--json]", 0, 1, status_cmd,
                     &ctrl);
    ctlsock_register(ctrl.ctl, "exit", "", 0, 0, exit_cmd, &ctrl);
    ctlsock_register(ctrl.ctl, "map", "[SERVICE]", 0, 1, map_cmd, &ctrl);
    ctlsock_register(ctrl.ctl, "instances", "", 0, 0, instances_cmd, &ctrl);
    ctlsock_register(ctrl.ctl, "bfd", "", 0, 0, bfd_cmd, &ctrl);
    ctlsock_register(ctrl.ctl, "switches", "", 0, 0, switches_cmd, &ctrl);
    ctlsock_register(ctrl.ctl, "hosts", "", 0, 0, hosts_cmd, &ctrl);
    ctlsock_register(ctrl.ctl, "agents", "", 0, 0, agents_cmd, &ctrl);
    ctlsock_register(ctrl.ctl, "ha", "", 0, 0, ha_cmd, &ctrl);
    ctlsock_register(ctrl.ctl, "flows", "[SWITCH]", 0, 1, desired_cmd,
                     &ctrl);
    ctlsock_register(ctrl.ctl, "groups", "[SWITCH]", 0, 1, desired_cmd,
                     &ctrl);
    ctlsock_register(ctrl.ctl, "disable", "INSTANCE [--force]", 1, 2,
                     enable_cmd, &ctrl);
    ctlsock_register(ctrl.ctl, "drain", "INSTANCE", 1, 1, drain_cmd,
                     &ctrl);
    ctlsock_register(ctrl.ctl, "handoffs", "[SERVICE]", 0, 1, handoffs_cmd,
                     &ctrl);
    ctlsock_register(ctrl.ctl, "enable", "INSTANCE", 1, 1, enable_cmd,
                     &ctrl);
    ctlsock_register(ctrl.ctl, "vlog/set", "{SPEC | PATTERN:DEST:PATTERN}",
                     1, INT_MAX, vlog_set_cmd, NULL);
    ctlsock_register(ctrl.ctl, "vlog/list", "", 0, 0, vlog_list_cmd, NULL);
    ctlsock_register(ctrl.ctl, "vlog/reopen", "", 0, 0, vlog_reopen_cmd,
                     NULL);

    daemonize_start(false);
    /* After a fork the kernel event queue must be recreated. */
    if (event_reinit(ctrl.base)) {
        ovs_fatal(0, "cannot reinitialize the event loop after fork");
    }
    /* libevent's handlers replace those of OVS's fatal-signal module, so
     * that the loop shuts down cleanly; the pidfile is still removed at
     * exit. */
    for (int i = 0; i < 3; i++) {
        signals[i] = evsignal_new(ctrl.base, signrs[i], signal_cb, &ctrl);
        event_add(signals[i], NULL);
    }
    ctrl.tick = event_new(ctrl.base, -1, EV_PERSIST, tick_cb, &ctrl);
    event_add(ctrl.tick, &(struct timeval) { 0, CONTROLLER_TICK_MS * 1000 });
    if (ctrl.db) {
        ctrl.db_tick = event_new(ctrl.base, -1, EV_PERSIST, db_cb, &ctrl);
        event_add(ctrl.db_tick, &(struct timeval) { 0, CTLDB_RUN_MS * 1000 });
    }
    ctrl.dbs = hostdbs_create(opts.ovsdb);
    hostdbs_configure(ctrl.dbs, cfg);
    if (!start_dbs__(&ctrl) && cfg && cfg->bfd.enable) {
        VLOG_INFO("no switch database (--ovsdb): BFD is not configured on "
                  "the instance interfaces, so a hung or crashed agent is "
                  "failed over by the controller, not by the datapath");
    }
    daemonize_complete();
    VLOG_INFO("sfmesh-controller %s started%s%s", SFMESH_VERSION,
              opts.config_file ? " with " : "",
              opts.config_file ? opts.config_file : "");

    event_base_dispatch(ctrl.base);

    save_state(&ctrl);
    free(ctrl.state_file);
    free(ctrl.state_saved);
    free(opts.state_file);
    event_free(ctrl.tick);
    if (ctrl.db_tick) {
        event_free(ctrl.db_tick);
    }
    ctldb_destroy(ctrl.db);
    free(ctrl.standby_why);
    free(opts.db);
    free(opts.name);
    if (ctrl.vswdb_tick) {
        event_free(ctrl.vswdb_tick);
    }
    hostdbs_destroy(ctrl.dbs);
    free(opts.ovsdb);
    agsrv_destroy(ctrl.agents);
    ofsrv_destroy(ctrl.srv);
    steer_destroy(ctrl.steer);
    ctlsock_destroy(ctrl.ctl);
    for (int i = 0; i < 3; i++) {
        event_free(signals[i]);
    }
    event_base_free(ctrl.base);
    free(opts.unixctl_path);
    free(opts.config_file);
    free(opts.agent_listen);
    VLOG_INFO("sfmesh-controller stopped");
    return ctrl.exit_status;
}

static int
parse_msec(const char *name, const char *arg)
{
    char *end;
    long value;

    errno = 0;
    value = strtol(arg, &end, 10);
    if (errno || *end || value < 100 || value > 3600 * 1000) {
        ovs_fatal(0, "--%s: \"%s\" is not a time between 100 and 3600000 "
                  "ms", name, arg);
    }
    return value;
}

static void
parse_options(int argc, char *argv[], struct controller_options *opts)
{
    enum {
        OPT_UNIXCTL = UCHAR_MAX + 1,
        OPT_CONFIG,
        OPT_CHECK_CONFIG,
        OPT_AGENT_LISTEN,
        OPT_HEARTBEAT_TIMEOUT,
        OPT_INACTIVITY_PROBE,
        OPT_OVSDB,
        OPT_HANDSHAKE_TIMEOUT,
        OPT_STATE_FILE,
        OPT_NO_STATE_FILE,
        OPT_PEER_CA_CERT,
        OPT_DB,
        OPT_NAME,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"check-config", optional_argument, NULL, OPT_CHECK_CONFIG},
        {"agent-listen", required_argument, NULL, OPT_AGENT_LISTEN},
        {"heartbeat-timeout", required_argument, NULL,
         OPT_HEARTBEAT_TIMEOUT},
        {"inactivity-probe", required_argument, NULL, OPT_INACTIVITY_PROBE},
        {"handshake-timeout", required_argument, NULL,
         OPT_HANDSHAKE_TIMEOUT},
        {"state-file", required_argument, NULL, OPT_STATE_FILE},
        {"no-state-file", no_argument, NULL, OPT_NO_STATE_FILE},
        {"ovsdb", required_argument, NULL, OPT_OVSDB},
        {"db", required_argument, NULL, OPT_DB},
        {"name", required_argument, NULL, OPT_NAME},
        {"private-key", required_argument, NULL, 'p'},
        {"certificate", required_argument, NULL, 'c'},
        {"ca-cert", required_argument, NULL, 'C'},
        {"peer-ca-cert", required_argument, NULL, OPT_PEER_CA_CERT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        DAEMON_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);

    ofsrv_settings_init(&opts->srv);
    opts->unixctl_path = NULL;
    opts->config_file = NULL;
    opts->check_config = false;
    opts->agent_listen = NULL;
    opts->heartbeat_timeout = 300;
    opts->state_file = NULL;
    opts->no_state_file = false;
    opts->ovsdb = NULL;
    opts->db = NULL;
    opts->name = NULL;
    memset(&opts->tls, 0, sizeof opts->tls);

    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }

        switch (c) {
        case OPT_UNIXCTL:
            free(opts->unixctl_path);
            opts->unixctl_path = xstrdup(optarg);
            break;

        case OPT_CONFIG:
            free(opts->config_file);
            opts->config_file = xstrdup(optarg);
            break;

        case OPT_CHECK_CONFIG:
            opts->check_config = true;
            if (optarg) {
                free(opts->config_file);
                opts->config_file = xstrdup(optarg);
            }
            break;

        case OPT_AGENT_LISTEN:
            free(opts->agent_listen);
            opts->agent_listen = xstrdup(optarg);
            break;

        case OPT_HEARTBEAT_TIMEOUT:
            opts->heartbeat_timeout = parse_msec("heartbeat-timeout",
                                                 optarg);
            break;

        case OPT_INACTIVITY_PROBE:
            opts->srv.conn.probe_interval = parse_msec("inactivity-probe",
                                                       optarg);
            break;

        case OPT_HANDSHAKE_TIMEOUT:
            opts->srv.conn.handshake_timeout = parse_msec(
                "handshake-timeout", optarg);
            break;

        case OPT_STATE_FILE:
            free(opts->state_file);
            opts->state_file = xstrdup(optarg);
            opts->no_state_file = false;
            break;

        case OPT_NO_STATE_FILE:
            opts->no_state_file = true;
            break;

        case OPT_OVSDB:
            free(opts->ovsdb);
            opts->ovsdb = xstrdup(optarg);
            break;

        case OPT_DB:
            free(opts->db);
            opts->db = xstrdup(optarg);
            break;

        case OPT_NAME:
            if (!*optarg || strlen(optarg) > 64 || strchr(optarg, ' ')) {
                ovs_fatal(0, "--name: \"%s\" is not a name of 1 to 64 "
                          "characters without spaces", optarg);
            }
            free(opts->name);
            opts->name = xstrdup(optarg);
            break;

        case 'p':
            opts->tls.private_key = optarg;
            break;

        case 'c':
            opts->tls.certificate = optarg;
            break;

        case 'C':
            opts->tls.ca_cert = optarg;
            break;

        case OPT_PEER_CA_CERT:
            opts->tls.peer_ca_cert = optarg;
            break;

        case 'h':
            usage();

        case 'V':
            printf("%s (sfmesh) %s\n", program_name, SFMESH_VERSION);
            printf("OpenFlow versions 0x%x:0x%x\n", OFP13_VERSION,
                   OFP15_VERSION);
            exit(EXIT_SUCCESS);

        VLOG_OPTION_HANDLERS
        DAEMON_OPTION_HANDLERS

        case '?':
            exit(EXIT_FAILURE);

        default:
            abort();
        }
    }
    free(short_options);
    if (opts->db && !opts->name) {
        char host[256];

        if (gethostname(host, sizeof host)) {
            ovs_strlcpy(host, "controller", sizeof host);
        }
        host[sizeof host - 1] = '\0';
        opts->name = xstrdup(host);
    }
}

static void
usage(void)
{
    printf("%s: sfmesh OpenFlow controller\n"
           "usage: %s [OPTIONS] [LISTEN...]\n"
           "\nListen for switches on each LISTEN address (default "
           "ptcp:6653):\n"
           "  ptcp:PORT[:IP]          TCP PORT (0 picks a free one) on IP "
           "(default all)\n"
           "  pssl:PORT[:IP]          the same, with TLS (needs the three "
           "files below)\n"
           "  punix:PATH              Unix domain socket PATH\n"
           "\nConfiguration:\n"
           "  --config=FILE           services, instances and chains to "
           "steer (YAML);\n"
           "                          SIGHUP reloads it\n"
           "  --check-config[=FILE]   validate the configuration and exit\n"
           "\nAgents (sfmesh-agent in each service instance):\n"
           "  --agent-listen=ptcp:PORT:IP  accept agent channels (pssl:PORT:IP "
           "with TLS)\n"
           "  --heartbeat-timeout=MS  fail an instance over after MS without "
           "a\n"
           "                          heartbeat (default 300)\n"
           "\nSwitch database (BFD on the instance interfaces, see the "
           "configuration's bfd:):\n"
           "  --ovsdb=unix:PATH       the ovsdb-server of the switches "
           "(also tcp:IP:PORT)\n"
           "\nTLS (as ovs-vswitchd; every peer must present a certificate "
           "signed by the CA):\n"
           "  -p, --private-key=FILE  this controller's private key (PEM)\n"
           "  -c, --certificate=FILE  its certificate (PEM)\n"
           "  -C, --ca-cert=FILE      the CA certificate that signs the "
           "switches'\n"
           "  --peer-ca-cert=FILE     a CA certificate sent along, for "
           "switches that\n"
           "                          bootstrap theirs (--bootstrap-ca-cert)"
           "\n"
           "\nSeveral controllers, one active (the others standby):\n"
           "  --db=REMOTES            the controllers' database (sfmesh."
           "ovsschema), e.g.\n"
           "                          tcp:IP1:6641,tcp:IP2:6641,tcp:IP3:6641"
           " (a cluster);\n"
           "                          it replaces the state file\n"
           "  --name=NAME             this controller's name in it "
           "(default: the host name)\n"
           "\nState kept across restarts (map epochs, the instances with "
           "agents):\n"
           "  --state-file=FILE       where (default %s/%s.state)\n"
           "  --no-state-file         keep none\n"
           "\nConnection options (a configuration's timers override "
           "them):\n"
           "  --inactivity-probe=MS   echo after MS of silence, close after "
           "2*MS (default 5000)\n"
           "  --handshake-timeout=MS  max time per handshake step (default "
           "10000)\n"
           "  --unixctl=PATH          control socket (default %s/%s.ctl)\n",
           program_name, program_name, ovs_rundir(), program_name,
           ovs_rundir(), program_name);
    daemon_usage();
    vlog_usage();
    printf("\nOther options:\n"
           "  -h, --help              display this help message\n"
           "  -V, --version           display version information\n");
    exit(EXIT_SUCCESS);
}
