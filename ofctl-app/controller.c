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
#include "command-line.h"
#include "ctlsock.h"
#include "daemon.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "ofsrv.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/json.h"
#include "openvswitch/vlog.h"
#include "status.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(controller);

/* Command-line settings. */
struct controller_options {
    struct ofsrv_settings srv;  /* Connection core settings. */
    char *unixctl_path;         /* Control socket, NULL for the default. */
};

/* The running daemon. */
struct controller {
    struct event_base *base;    /* Event loop. */
    struct ofsrv *srv;          /* Switch connections. */
    struct ctlsock *ctl;        /* Control socket. */
    int exit_status;            /* Set by "exit" or a signal. */
};

static void parse_options(int argc, char *argv[],
                          struct controller_options *);
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
    }
    json = status_to_json(sc, n, time_msec());
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
signal_cb(evutil_socket_t signr, short what OVS_UNUSED, void *ctrl_)
{
    struct controller *ctrl = ctrl_;

    if (signr == SIGHUP) {
        /* Reserved for configuration reload, which needs a configuration
         * file first. */
        VLOG_INFO("SIGHUP received: no configuration to reload");
        return;
    }
    VLOG_INFO("%s received, exiting", signr == SIGTERM ? "SIGTERM"
              : "SIGINT");
    event_base_loopexit(ctrl->base, NULL);
}

int
main(int argc, char *argv[])
{
    struct controller_options opts;
    struct controller ctrl;
    struct event *signals[3];
    const int signrs[3] = { SIGTERM, SIGINT, SIGHUP };
    char *unixctl_path, *error;
    int n_listen = 0;

    set_program_name(argv[0]);
    parse_options(argc, argv, &opts);
    fatal_ignore_sigpipe();

    memset(&ctrl, 0, sizeof ctrl);
    ctrl.base = event_base_new();
    if (!ctrl.base) {
        ovs_fatal(0, "cannot create the event loop");
    }
    ctrl.srv = ofsrv_create(ctrl.base, &opts.srv, NULL, NULL);

    /* Listen before detaching, so that errors reach the terminal. */
    for (int i = optind; i < argc || (!n_listen && i == argc); i++) {
        const char *target = i < argc ? argv[i] : "ptcp:6653";
        if (ofsrv_listen(ctrl.srv, target, NULL, &error)) {
            ovs_fatal(0, "%s", error);
        }
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
    daemonize_complete();
    VLOG_INFO("sfmesh-controller %s started", SFMESH_VERSION);

    event_base_dispatch(ctrl.base);

    ofsrv_destroy(ctrl.srv);
    ctlsock_destroy(ctrl.ctl);
    for (int i = 0; i < 3; i++) {
        event_free(signals[i]);
    }
    event_base_free(ctrl.base);
    free(opts.unixctl_path);
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
        OPT_INACTIVITY_PROBE,
        OPT_HANDSHAKE_TIMEOUT,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"inactivity-probe", required_argument, NULL, OPT_INACTIVITY_PROBE},
        {"handshake-timeout", required_argument, NULL,
         OPT_HANDSHAKE_TIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        DAEMON_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);

    ofsrv_settings_init(&opts->srv);
    opts->unixctl_path = NULL;

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

        case OPT_INACTIVITY_PROBE:
            opts->srv.conn.probe_interval = parse_msec("inactivity-probe",
                                                       optarg);
            break;

        case OPT_HANDSHAKE_TIMEOUT:
            opts->srv.conn.handshake_timeout = parse_msec(
                "handshake-timeout", optarg);
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
           "  punix:PATH              Unix domain socket PATH\n"
           "\nConnection options:\n"
           "  --inactivity-probe=MS   echo after MS of silence, close after "
           "2*MS (default 5000)\n"
           "  --handshake-timeout=MS  max time per handshake step (default "
           "10000)\n"
           "  --unixctl=PATH          control socket (default %s/%s.ctl)\n",
           program_name, program_name, ovs_rundir(), program_name);
    daemon_usage();
    vlog_usage();
    printf("\nOther options:\n"
           "  -h, --help              display this help message\n"
           "  -V, --version           display version information\n");
    exit(EXIT_SUCCESS);
}
