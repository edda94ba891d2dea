/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* sfmesh-ctl: asks a running sfmesh daemon over its control socket. */

#include <config.h>

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "command-line.h"
#include "ctlsock.h"
#include "dirs.h"
#include "timeval.h"
#include "util.h"
#include "openvswitch/vlog.h"

static void OVS_NO_RETURN
usage(void)
{
    printf("%s: sfmesh control utility\n"
           "usage: %s [OPTIONS] COMMAND [ARG...]\n"
           "\nCommands of sfmesh-controller:\n"
           "  status [--json]       switches, versions, ports with state\n"
           "  switches              each switch's programming, each link\n"
           "  map [SERVICE]         bucket -> primary, secondary\n"
           "  instances, agents     instance states, agent channels\n"
           "  bfd                   BFD on the tunnels and instance interfaces\n"
           "  handoffs [SERVICE], drain INSTANCE   bucket moves\n"
           "  flows [SWITCH], groups [SWITCH]   desired state, ovs-ofctl "
           "syntax\n"
           "  disable INSTANCE [--force], enable INSTANCE   maintenance\n"
           "  list-commands         every command the daemon knows\n"
           "  version               the daemon's version\n"
           "  vlog/list, vlog/set SPEC, vlog/reopen   logging\n"
           "  exit                  stop the daemon\n"
           "\nOptions:\n"
           "  -t, --target=PATH     control socket (default "
           "%s/sfmesh-controller.ctl)\n"
           "  -T, --timeout=SECS    give up after SECS (default 5)\n"
           "  -h, --help            display this help message\n"
           "  -V, --version         display version information\n",
           program_name, program_name, ovs_rundir());
    exit(EXIT_SUCCESS);
}

int
main(int argc, char *argv[])
{
    static const struct option long_options[] = {
        {"target", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    char *target = NULL, *result, *error;
    int timeout = 5;
    int retval;

    set_program_name(argv[0]);
    for (;;) {
        /* '+' stops at the command, so that its arguments may start with
         * '-' (as in "status --json"). */
        int c = getopt_long(argc, argv, "+t:T:hV", long_options, NULL);
        if (c == -1) {
            break;
        }
        switch (c) {
        case 't':
            free(target);
            target = xstrdup(optarg);
            break;
        case 'T':
            timeout = atoi(optarg);
            if (timeout <= 0 || timeout > 3600) {
                ovs_fatal(0, "--timeout: \"%s\" is not a number of seconds "
                          "between 1 and 3600", optarg);
            }
            break;
        case 'h':
            usage();
        case 'V':
            printf("%s (sfmesh) %s\n", program_name, SFMESH_VERSION);
            exit(EXIT_SUCCESS);
        case '?':
            exit(EXIT_FAILURE);
        default:
            abort();
        }
    }
    if (optind >= argc) {
        ovs_fatal(0, "missing command; use --help for help");
    }
    if (!target) {
        target = xasprintf("%s/sfmesh-controller.ctl", ovs_rundir());
    }

    /* sfmesh-ctl says itself why a command failed. */
    vlog_set_levels(vlog_module_from_name("unixctl"), VLF_CONSOLE, VLL_ERR);
    time_alarm(timeout);
    retval = ctlsock_transact(target, argc - optind, argv + optind,
                              &result, &error);
    free(target);
    if (retval) {
        fprintf(stderr, "%s: %s\n", program_name, error);
        free(error);
        return 1;
    }
    if (error) {
        fprintf(stderr, "%s", error);
        if (error[0] && error[strlen(error) - 1] != '\n') {
            fputc('\n', stderr);
        }
        fprintf(stderr, "%s: the daemon reported an error\n", program_name);
        free(error);
        return 2;
    }
    fputs(result, stdout);
    free(result);
    return 0;
}
