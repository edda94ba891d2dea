/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* sfmesh-agent: the agent inside a service instance.
 *
 * It receives the NSH frames the switch steers to the instance, runs the
 * service function on each with its stream's state, decrements SI and TTL
 * and returns the frame.  As the primary of a stream's bucket it replicates
 * the stream's state to the bucket's secondary (asynchronously, in batches
 * every 10 ms, sequence-numbered and acknowledged), and hands a bucket's
 * streams over in bulk when the map names a new secondary.  As a secondary
 * it applies the updates and keeps them ready, and reports per bucket
 * whether it holds the primary's state (warm).  It talks to the controller
 * over the agent channel: hello, the service map of every epoch, and a
 * heartbeat every 100 ms. */

#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent.h"
#include "agentmap.h"
#include "claim.h"
#include "sentinel.h"
#include "openvswitch/list.h"
#include "agentproto.h"
#include "agpconn.h"
#include "bfdsess.h"
#include "bitmap.h"
#include "command-line.h"
#include "connlimit.h"
#include "ctlsock.h"
#include "daemon.h"
#include "dirs.h"
#include "fatal-signal.h"
#include "frameio.h"
#include "liveness.h"
#include "netaddr.h"
#include "nsh.h"
#include "openvswitch/dynamic-string.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/shash.h"
#include "openvswitch/vlog.h"
#include "random.h"
#include "replrx.h"
#include "service.h"
#include "streamtab.h"
#include "tls.h"
#include "timeval.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(agent);

/* Control commands. */

static void
status_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
           const char *argv[] OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;
    const struct frameio_stats *fs = frameio_get_stats(ag->fio);
    struct service_counter counters[16];
    struct ds s = DS_EMPTY_INITIALIZER;
    size_t n_warm = 0, n_secondary = 0, n_primary = 0;
    size_t n_next = 0, n_next_warm = 0;
    const struct replrx_stats *rs;

    for (size_t b = 0; b < ag->map.n_buckets; b++) {
        const struct agp_bucket *bk = &ag->map.buckets[b];

        n_primary += agentmap_is_primary(&ag->map, b);
        if (agentmap_is_secondary(&ag->map, b)) {
            n_secondary++;
            n_warm += agentmap_is_warm(&ag->map, b);
        } else if (ag->map.self >= 0 && bk->next == ag->map.self) {
            n_next++;
            n_next_warm += agentmap_is_warm(&ag->map, b);
        }
    }
    ds_put_format(&s, "instance %s, service %s, replication %s\n",
                  ag->instance, ag->svc->name, ag->replicate ? "on" : "off");
    agentctl_format(&ag->ctls, time_msec(), &s);
    ds_put_format(&s, "map epoch %"PRIu64"\n", ag->map.epoch);
    ds_put_format(&s, "buckets: primary %"PRIuSIZE", secondary %"PRIuSIZE
                  " (%"PRIuSIZE" warm), next %"PRIuSIZE" (%"PRIuSIZE
                  " warm)\n", n_primary, n_secondary, n_warm, n_next,
                  n_next_warm);
    liveness_format(ag->live, time_msec(), &s);
    ds_put_format(&s, "streams: %"PRIuSIZE"\n", streamtab_count(ag->tab));
    ds_put_format(&s, "frames: received %"PRIu64", returned %"PRIu64
                  ", malformed %"PRIu64", dropped by service %"PRIu64
                  ", table full %"PRIu64", send errors %"PRIu64
                  ", dropped of buckets not ours %"PRIu64"\n",
                  ag->n_received, ag->n_returned, ag->n_malformed,
                  ag->n_dropped_service, ag->n_table_full, fs->tx_errors,
                  ag->n_outside);
    for (int e = 1; e < NSH_N_ERRORS; e++) {
        if (ag->nsh_errors[e]) {
            ds_put_format(&s, "malformed: %s %"PRIu64"\n",
                          nsh_error_name(e), ag->nsh_errors[e]);
        }
    }
    rs = replrx_get_stats(ag->rx);
    ds_put_format(&s, "replication in: %"PRIu64" states applied, %"PRIu64
                  " duplicate batches, %"PRIu64" gaps, %"PRIu64" not "
                  "applied (table full %"PRIu64"); bulks %"PRIu64" complete, "
                  "%"PRIu64" failed; %"PRIuSIZE" connections from %"PRIuSIZE
                  " senders, %"PRIu64" superseded\n", rs->n_applied,
                  rs->n_dup_batches, rs->n_gaps,
                  rs->n_bad_states + rs->n_table_full, rs->n_table_full,
                  rs->n_bulks, rs->n_bulks_failed, replrx_n_conns(ag->rx),
                  replrx_n_senders(ag->rx), rs->n_superseded);
    ds_put_format(&s, "replication versions: %"PRIu64" stale states dropped"
                  " (%"PRIu64" older than ours, answered with ours), %"
                  PRIu64" states applied from a sender not the bucket's "
                  "primary\n", rs->n_stale, rs->n_answered,
                  rs->n_not_primary);
    ds_put_format(&s, "replication refused: %"PRIu64" senders (no "
                  "instance, or not the peer), %"PRIu64" states of buckets "
                  "the sender holds no role for, %"PRIu64" states over "
                  "the sender's quota\n", rs->n_refused_senders,
                  rs->n_unauthorized, rs->n_over_quota);
    if (ag->sync) {
        ds_put_format(&s, "sync: %"PRIu64" frames held, %"PRIuSIZE" now, %"
                      PRIu64" released unacknowledged, %"PRIu64" not held, %"
                      PRIu64" dropped at a disruption\n",
                      ag->n_held_total, ag->n_held, ag->n_hold_timeouts,
                      ag->n_hold_overflow, ag->n_held_dropped);
    }
    claim_format(ag->claim, &s);
    ds_put_format(&s, "claim queue: %"PRIuSIZE" frames now, %"PRIu64
                  " queued, %"PRIu64" dropped (queue full), %"PRIu64
                  " dropped (held); wait %lld ms\n", ag->n_queued,
                  ag->n_queued_total, ag->n_queue_overflow,
                  ag->n_queue_dropped, ag->claim_wait);
    for (size_t i = 0; i < ag->map.n_instances; i++) {
        const struct peer *p = &ag->peers[i];
        if (p->conn || p->seq) {
            ds_put_format(&s, "replication to %s: %s, batch %"PRIu64
                          ", acked %"PRIu64", %"PRIu64" records\n",
                          agentmap_name(&ag->map, i), p->up ? "up" : "down",
                          p->seq, p->acked, p->n_records);
        }
    }
    if (ag->svc->counters) {
        size_t n = ag->svc->counters(ag->svc_data, counters,
                                     ARRAY_SIZE(counters));
        for (size_t i = 0; i < MIN(n, ARRAY_SIZE(counters)); i++) {
            ds_put_format(&s, "%s: %s %"PRIu64"\n", ag->svc->name,
                          counters[i].name, counters[i].value);
        }
    }
    ctlsock_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
streams_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
            const char *argv[] OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;
    const struct streamtab_entry *e;
    struct ds s = DS_EMPTY_INITIALIZER;

    STREAMTAB_FOR_EACH (e, ag->tab) {
        char lo[INET_ADDRSTRLEN], hi[INET_ADDRSTRLEN];

        inet_ntop(AF_INET, &e->key.addr_lo, lo, sizeof lo);
        inet_ntop(AF_INET, &e->key.addr_hi, hi, sizeof hi);
        ds_put_format(&s, "proto %"PRIu8" %s:%"PRIu16" %s:%"PRIu16
                      " bucket %"PRIu32": ", e->key.proto, lo,
                      e->key.port_lo, hi, e->key.port_hi, e->bucket);
        ag->svc->format(e->state, &s);
        ds_put_char(&s, '\n');
    }
    ctlsock_reply(conn, ds_cstr(&s));
    ds_destroy(&s);
}

static void
exit_cmd(struct ctlsock_conn *conn, int argc OVS_UNUSED,
         const char *argv[] OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;

    ctlsock_reply(conn, "");
    event_base_loopexit(ag->base, NULL);
}

static void
signal_cb(evutil_socket_t signr, short what OVS_UNUSED, void *ag_)
{
    struct agent *ag = ag_;

    if (signr != SIGHUP) {
        VLOG_INFO("%s received, exiting", signr == SIGTERM ? "SIGTERM"
                  : "SIGINT");
        event_base_loopexit(ag->base, NULL);
    }
}

/* Command line. */

struct agent_options {
    char *instance;             /* --instance. */
    char *service;              /* --service. */
    char *service_args;         /* --service-args. */
    char *iface;                /* --iface. */
    char *controller;           /* --controller=tcp:IP:PORT or ssl:...,
                                 * or several, separated by commas. */
    char *repl_listen;          /* --repl-listen=ptcp:PORT:IP or pssl:... */
    struct tls_options tls;     /* --private-key, --certificate,
                                 * --ca-cert. */
    char *repl_ca_cert;         /* --repl-ca-cert, or NULL. */
    unsigned int repl_quota;    /* --repl-quota, or 0 for the default. */
    bool replicate;             /* --replication=async|sync|off. */
    bool sync;                  /* --replication=sync. */
    char *unixctl;              /* --unixctl. */
    unsigned int claim_wait;    /* --claim-wait. */
    bool sentinel;              /* Not --no-sentinel. */
    struct bfdsess_params bfd;  /* --bfd-min-tx, --bfd-min-rx,
                                 * --bfd-mult. */
};

static void OVS_NO_RETURN
usage(void)
{
    struct ds names = DS_EMPTY_INITIALIZER;

    service_names(&names);
    printf("%s: sfmesh service-instance agent\n"
           "usage: %s [OPTIONS]\n"
           "\nRequired:\n"
           "  --instance=NAME          this instance, as in the controller's "
           "configuration\n"
           "  --controller=tcp:IP:PORT the controller's agent listener "
           "(ssl:IP:PORT\n"
           "                           with TLS); or up to %d, "
           "separated by commas,\n"
           "                           of which the agent finds the "
           "active one\n"
           "  --repl-listen=ptcp:PORT:IP  where other instances send state "
           "(IP is\n"
           "                           announced to them, so not 0.0.0.0; "
           "pssl: with\n"
           "                           TLS; replication to the others then "
           "runs TLS too)\n"
           "\nOptions:\n"
           "  --service=NAME           service function: %s (default "
           "stateful-fw)\n"
           "  --service-args=ARGS      its options, e.g. "
           "established_timeout=300\n"
           "  --iface=IFACE            the interface NSH frames arrive on "
           "(default eth0)\n"
           "  --replication=MODE       async (default): replicate state "
           "to the\n"
           "                           secondary in batches; sync: also "
           "hold each frame\n"
           "                           until its state is acknowledged; "
           "off\n"
           "  --bfd-min-tx=MS, --bfd-min-rx=MS, --bfd-mult=N\n"
           "                           BFD with the switch on IFACE "
           "(answered whenever\n"
           "                           the switch runs it; the switch's "
           "bfd:min_rx and\n"
           "                           bfd:min_tx govern once larger; "
           "default 1, 100, 3)\n"
           "  --claim-wait=MS          how long frames of a bucket that "
           "moved to us wait\n"
           "                           for its other instance's last "
           "changes (default %d)\n"
           "  --no-sentinel            no process that tells the switch "
           "(BFD AdminDown)\n"
           "                           the moment the agent dies\n"
           "  --repl-quota=N           most streams one other instance's "
           "state may\n"
           "                           create here (default half the "
           "table, %d)\n"
           "  --unixctl=PATH           control socket (default %s/%s.ctl)\n"
           "\nTLS (needed by ssl: and pssl:; the certificate must name the "
           "instance):\n"
           "  -p, --private-key=FILE   this agent's private key (PEM)\n"
           "  -c, --certificate=FILE   its certificate\n"
           "  -C, --ca-cert=FILE       the CA that signs the controller's "
           "certificate (and\n"
           "                           the other instances', without "
           "--repl-ca-cert)\n"
           "  --repl-ca-cert=FILE      the CA that signs the other "
           "instances' certificates\n",
           program_name, program_name, AGENTCTL_MAX_TARGETS,
           ds_cstr(&names), AGENT_CLAIM_WAIT_MS, AGENT_TABLE_CAPACITY / 2,
           ovs_rundir(), program_name);
    ds_destroy(&names);
    daemon_usage();
    vlog_usage();
    printf("\nOther options:\n"
           "  -h, --help               display this help message\n"
           "  -V, --version            display version information\n");
    exit(EXIT_SUCCESS);
}

/* Returns 'arg', the argument of option --'name', as a number from 'min'
 * to 'max', or exits with an error. */
static unsigned int
parse_uint__(const char *name, const char *arg, unsigned int min,
             unsigned int max)
{
    unsigned int value;

    if (!str_to_uint(arg, 10, &value) || value < min || value > max) {
        ovs_fatal(0, "--%s: \"%s\" is not a number from %u to %u", name,
                  arg, min, max);
    }
    return value;
}

static void
parse_options(int argc, char *argv[], struct agent_options *o)
{
    enum {
        OPT_INSTANCE = UCHAR_MAX + 1,
        OPT_SERVICE,
        OPT_SERVICE_ARGS,
        OPT_IFACE,
        OPT_CONTROLLER,
        OPT_REPL_LISTEN,
        OPT_REPLICATION,
        OPT_UNIXCTL,
        OPT_BFD_MIN_TX,
        OPT_BFD_MIN_RX,
        OPT_BFD_MULT,
        OPT_CLAIM_WAIT,
        OPT_NO_SENTINEL,
        OPT_REPL_QUOTA,
        OPT_REPL_CA_CERT,
        VLOG_OPTION_ENUMS,
        DAEMON_OPTION_ENUMS,
    };
    static const struct option long_options[] = {
        {"instance", required_argument, NULL, OPT_INSTANCE},
        {"service", required_argument, NULL, OPT_SERVICE},
        {"service-args", required_argument, NULL, OPT_SERVICE_ARGS},
        {"iface", required_argument, NULL, OPT_IFACE},
        {"controller", required_argument, NULL, OPT_CONTROLLER},
        {"repl-listen", required_argument, NULL, OPT_REPL_LISTEN},
        {"replication", required_argument, NULL, OPT_REPLICATION},
        {"unixctl", required_argument, NULL, OPT_UNIXCTL},
        {"bfd-min-tx", required_argument, NULL, OPT_BFD_MIN_TX},
        {"bfd-min-rx", required_argument, NULL, OPT_BFD_MIN_RX},
        {"bfd-mult", required_argument, NULL, OPT_BFD_MULT},
        {"claim-wait", required_argument, NULL, OPT_CLAIM_WAIT},
        {"no-sentinel", no_argument, NULL, OPT_NO_SENTINEL},
        {"repl-quota", required_argument, NULL, OPT_REPL_QUOTA},
        {"repl-ca-cert", required_argument, NULL, OPT_REPL_CA_CERT},
        {"private-key", required_argument, NULL, 'p'},
        {"certificate", required_argument, NULL, 'c'},
        {"ca-cert", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        DAEMON_LONG_OPTIONS,
        VLOG_LONG_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    char *short_options = ovs_cmdl_long_options_to_short_options(long_options);

    memset(o, 0, sizeof *o);
    o->service = xstrdup("stateful-fw");
    o->iface = xstrdup("eth0");
    o->replicate = true;
    o->claim_wait = AGENT_CLAIM_WAIT_MS;
    o->sentinel = true;
    bfdsess_params_init(&o->bfd);
    /* The switch's bfd:min_rx governs how fast a dead agent is noticed:
     * we send as often as it asks.  We ask the switch for no more than one
     * packet per AGENT_BFD_MIN_RX_MS, so that the delays of its sends on a
     * loaded machine (47 ms late seen, on all its ports at once) do not
     * make us take it for dead: each agent would then hold itself out. */
    o->bfd.desired_min_tx_ms = 1;
    o->bfd.required_min_rx_ms = AGENT_BFD_MIN_RX_MS;
    for (;;) {
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
#define STR_OPT(OPT, FIELD) \
        case OPT: free(o->FIELD); o->FIELD = xstrdup(optarg); break;
        STR_OPT(OPT_INSTANCE, instance)
        STR_OPT(OPT_SERVICE, service)
        STR_OPT(OPT_SERVICE_ARGS, service_args)
        STR_OPT(OPT_IFACE, iface)
        STR_OPT(OPT_CONTROLLER, controller)
        STR_OPT(OPT_REPL_LISTEN, repl_listen)
        STR_OPT(OPT_UNIXCTL, unixctl)
        STR_OPT(OPT_REPL_CA_CERT, repl_ca_cert)
#undef STR_OPT
        case OPT_REPLICATION:
            if (!strcmp(optarg, "async") || !strcmp(optarg, "sync")) {
                o->replicate = true;
                o->sync = !strcmp(optarg, "sync");
            } else if (!strcmp(optarg, "off")) {
                o->replicate = false;
            } else {
                ovs_fatal(0, "--replication: \"%s\" is not async, sync or "
                          "off", optarg);
            }
            break;
        case OPT_BFD_MIN_TX:
            o->bfd.desired_min_tx_ms = parse_uint__("bfd-min-tx", optarg, 1,
                                                    60000);
            break;
        case OPT_BFD_MIN_RX:
            o->bfd.required_min_rx_ms = parse_uint__("bfd-min-rx", optarg,
                                                     1, 60000);
            break;
        case OPT_BFD_MULT:
            o->bfd.detect_mult = parse_uint__("bfd-mult", optarg, 1, 255);
            break;
        case OPT_CLAIM_WAIT:
            o->claim_wait = parse_uint__("claim-wait", optarg, 0, 1000);
            break;
        case OPT_NO_SENTINEL:
            o->sentinel = false;
            break;
        case OPT_REPL_QUOTA:
            o->repl_quota = parse_uint__("repl-quota", optarg, 1,
                                         AGENT_TABLE_CAPACITY);
            break;
        case 'p':
            o->tls.private_key = optarg;
            break;
        case 'c':
            o->tls.certificate = optarg;
            break;
        case 'C':
            o->tls.ca_cert = optarg;
            break;
        case 'h':
            usage();
        case 'V':
            printf("%s (sfmesh) %s\n", program_name, SFMESH_VERSION);
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
    if (!o->instance || !o->controller || !o->repl_listen) {
        ovs_fatal(0, "--instance, --controller and --repl-listen are "
                  "required; use --help for help");
    }
}

/* Warns, for each channel without TLS, what anyone on its network can
 * do. */
static void
warn_plaintext__(const struct agent_options *o, bool chan_tls, bool repl_tls)
{
    if (!chan_tls) {
        VLOG_WARN("%s: agent channel without TLS: anyone on the way to the "
                  "controller can read and change what it says of this "
                  "instance, and anyone who reaches the controller can "
                  "say hello in its name once its channel is down (use "
                  "ssl: with --private-key, --certificate and --ca-cert)",
                  o->controller);
    }
    if (!repl_tls) {
        VLOG_WARN("%s: replication without TLS: anyone on this network can "
                  "read the streams' state, and a sender is known only by "
                  "its address (use pssl: with --private-key, "
                  "--certificate and --ca-cert)", o->repl_listen);
    }
}

int
main(int argc, char *argv[])
{
    static const int signrs[3] = { SIGTERM, SIGINT, SIGHUP };
    struct agent_options opts;
    struct agent ag;
    struct sockaddr_storage ss;
    struct tls_ctx *tls = NULL, *repl_ctx = NULL;
    bool chan_tls, repl_tls;
    socklen_t len;
    char *error, *path;

    set_program_name(argv[0]);
    parse_options(argc, argv, &opts);
    fatal_ignore_sigpipe();
    random_init();

    memset(&ag, 0, sizeof ag);
    ag.instance = opts.instance;
    ag.replicate = opts.replicate;
    ag.sync = opts.sync;
    if (ag.sync) {
        ag.held = xcalloc(AGENT_MAX_HELD, sizeof *ag.held);
    }
    agentmap_init(&ag.map);
    ag.claim = claim_create();
    ovs_list_init(&ag.queued);
    ag.claim_wait = opts.claim_wait;

    ag.svc = service_find(opts.service);
    if (!ag.svc) {
        struct ds names = DS_EMPTY_INITIALIZER;
        service_names(&names);
        ovs_fatal(0, "--service: no service \"%s\" (known: %s)",
                  opts.service, ds_cstr(&names));
    }
    if (ag.svc->init) {
        error = ag.svc->init(&ag.svc_data, opts.service_args);
        if (error) {
            ovs_fatal(0, "--service-args: %s", error);
        }
    }
    ag.tab = streamtab_create(ag.svc, ag.svc_data, AGENT_TABLE_CAPACITY,
                              random_uint32());
    ag.rx = replrx_create(ag.tab, ag.svc);
    if (opts.repl_quota) {
        replrx_set_quota(ag.rx, opts.repl_quota);
    }

    error = agentctl_parse(&ag.ctls, opts.controller);
    if (error) {
        ovs_fatal(0, "%s", error);
    }
    chan_tls = agentctl_any_tls(&ag.ctls);
    repl_tls = !strncmp(opts.repl_listen, "pssl:", 5);
    if ((strncmp(opts.repl_listen, "ptcp:", 5) && !repl_tls)
        || netaddr_parse_ptcp(opts.repl_listen + 5, &ss, &len)
        || ss.ss_family != AF_INET
        || !((struct sockaddr_in *) &ss)->sin_addr.s_addr) {
        ovs_fatal(0, "--repl-listen: \"%s\" is not ptcp:PORT:IPv4 or "
                  "pssl:PORT:IPv4 with an address other than 0.0.0.0 (the "
                  "address is the one the other instances connect to)",
                  opts.repl_listen);
    }
    if ((chan_tls || repl_tls) && !tls_options_any(&opts.tls)) {
        ovs_fatal(0, "%s needs --private-key, --certificate and --ca-cert",
                  chan_tls ? opts.controller : opts.repl_listen);
    }
    if (tls_options_any(&opts.tls)) {
        error = tls_ctx_create(&opts.tls, &tls);
        if (!error && opts.repl_ca_cert) {
            /* The instances' CA, apart from the controller's: then no
             * instance certificate passes for the controller, nor the
             * controller's for an instance. */
            struct tls_options repl = opts.tls;

            repl.ca_cert = opts.repl_ca_cert;
            error = tls_ctx_create(&repl, &repl_ctx);
        }
        if (error) {
            ovs_fatal(0, "%s", error);
        }
        ag.chan_tls = chan_tls ? tls : NULL;
        ag.repl_tls = repl_tls ? (repl_ctx ? repl_ctx : tls) : NULL;
    } else if (opts.repl_ca_cert) {
        ovs_fatal(0, "--repl-ca-cert needs --private-key, --certificate "
                  "and --ca-cert");
    }
    warn_plaintext__(&opts, agentctl_all_tls(&ag.ctls), repl_tls);

    if (frameio_open(opts.iface, ETH_TYPE_NSH, AGENT_BATCH, &ag.fio,
                     &error)) {
        ovs_fatal(0, "%s", error);
    }

    ag.base = event_base_new();
    ag.repl_listener = evconnlistener_new_bind(
        ag.base, repl_accept_cb, &ag,
        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
        -1, (struct sockaddr *) &ss, len);
    if (!ag.repl_listener) {
        ovs_fatal(errno, "--repl-listen: cannot listen on %s",
                  opts.repl_listen);
    }
    len = sizeof ss;
    getsockname(evconnlistener_get_fd(ag.repl_listener),
                (struct sockaddr *) &ss, &len);
    ag.repl_addr = ntohl(((struct sockaddr_in *) &ss)->sin_addr.s_addr);
    ag.repl_port = ntohs(((struct sockaddr_in *) &ss)->sin_port);
    ag.repl_pool = repl_pool_create(opts.repl_listen);

    path = (opts.unixctl ? xstrdup(opts.unixctl)
            : xasprintf("%s/%s.ctl", ovs_rundir(), program_name));
    ag.ctl = ctlsock_create(ag.base, path, &error);
    if (!ag.ctl) {
        ovs_fatal(0, "%s", error);
    }
    free(path);
    ctlsock_register(ag.ctl, "status", "", 0, 0, status_cmd, &ag);
    ctlsock_register(ag.ctl, "streams", "", 0, 0, streams_cmd, &ag);
    ctlsock_register(ag.ctl, "exit", "", 0, 0, exit_cmd, &ag);

    daemonize_start(false);
    if (event_reinit(ag.base)) {
        ovs_fatal(0, "cannot reinitialize the event loop after fork");
    }
    for (int i = 0; i < 3; i++) {
        ag.signals[i] = evsignal_new(ag.base, signrs[i], signal_cb, &ag);
        event_add(ag.signals[i], NULL);
    }
    ag.rx_ev = event_new(ag.base, frameio_fd(ag.fio), EV_READ | EV_PERSIST,
                         path_rx_cb, &ag);
    event_add(ag.rx_ev, NULL);
    ag.live = liveness_create(ag.base, opts.iface, &opts.bfd, path_disrupted_cb,
                              &ag, time_msec(), &error);
    if (!ag.live) {
        ovs_fatal(0, "%s", error);
    }
    if (opts.sentinel) {
        ag.sentinel = sentinel_start(opts.iface, &error);
        if (!ag.sentinel) {
            ovs_fatal(0, "%s", error);
        }
        liveness_set_sentinel(ag.live, ag.sentinel);
    }
    ag.reconnect_ev = evtimer_new(ag.base, chan_reconnect_cb, &ag);
    ag.chan_timeout_ev = evtimer_new(ag.base, chan_timeout_cb, &ag);
    ag.claim_ev = evtimer_new(ag.base, path_claim_timer_cb, &ag);
    ag.hb_ev = event_new(ag.base, -1, EV_PERSIST, chan_heartbeat_cb, &ag);
    event_add(ag.hb_ev, &(struct timeval) { 0, AGENT_HEARTBEAT_MS * 1000 });
    ag.repl_ev = event_new(ag.base, -1, EV_PERSIST, repl_cb, &ag);
    event_add(ag.repl_ev, &(struct timeval) { 0, AGENT_REPL_MS * 1000 });
    ag.expire_ev = event_new(ag.base, -1, EV_PERSIST, path_expire_cb, &ag);
    event_add(ag.expire_ev, &(struct timeval) { 1, 0 });
    chan_connect(&ag);
    daemonize_complete();
    VLOG_INFO("sfmesh-agent %s: instance %s, service %s, interface %s, "
              "replication %s on %s", SFMESH_VERSION, ag.instance,
              ag.svc->name, opts.iface,
              !ag.replicate ? "off" : ag.sync ? "sync" : "async",
              opts.repl_listen);

    event_base_dispatch(ag.base);

    chan_peers_free(ag.peers, ag.map.n_instances);
    agentmap_destroy(&ag.map);
    agpconn_destroy(ag.chan);
    repl_in_destroy_all(&ag);
    replrx_destroy(ag.rx);
    ctlsock_destroy(ag.ctl);
    evconnlistener_free(ag.repl_listener);
    agpconn_pool_destroy(ag.repl_pool);
    for (int i = 0; i < 3; i++) {
        event_free(ag.signals[i]);
    }
    event_free(ag.rx_ev);
    liveness_destroy(ag.live);
    sentinel_destroy(ag.sentinel);
    event_free(ag.reconnect_ev);
    event_free(ag.chan_timeout_ev);
    event_free(ag.claim_ev);
    {
        struct queued_frame *q;

        LIST_FOR_EACH_POP (q, list_node, &ag.queued) {
            free(q);
        }
    }
    claim_destroy(ag.claim);
    event_free(ag.hb_ev);
    event_free(ag.repl_ev);
    event_free(ag.expire_ev);
    streamtab_destroy(ag.tab);
    if (ag.svc->destroy) {
        ag.svc->destroy(ag.svc_data);
    }
    frameio_close(ag.fio);
    free(ag.held);
    event_base_free(ag.base);
    tls_ctx_destroy(tls);
    tls_ctx_destroy(repl_ctx);
    agentctl_destroy(&ag.ctls);
    free(opts.instance);
    free(opts.service);
    free(opts.service_args);
    free(opts.iface);
    free(opts.controller);
    free(opts.repl_listen);
    free(opts.repl_ca_cert);
    free(opts.unixctl);
    VLOG_INFO("sfmesh-agent stopped");
    return 0;
}
