/* BASELINE, not sfmesh: the reactive controller a user would write
 * without sfmesh, for the failover benchmark.
 *
 *   reactive-ctl ptcp:PORT:IP FLOWS READY_FILE
 *
 * FLOWS has one line per flow: "WATCH<TAB>PRIMARY<TAB>ALTERNATE", two
 * ovs-ofctl flow texts (the same match and priority; the actions send to
 * the primary or to the alternate instance) and the OpenFlow port of the
 * primary (0 for flows that need no failover).  No groups: when a switch
 * connects it installs every PRIMARY flow, sends a barrier, and appends a
 * line to READY_FILE once the barrier is answered.  On a port-status
 * saying that port P went down (link down, admin down or deleted) it
 * rewrites every flow watching P to its ALTERNATE, one flow_mod each; when
 * P comes back it rewrites them to their PRIMARY.  Flow_mods are encoded
 * at start, so a failover costs only the port-status, the controller's
 * reaction and the switch's flow table updates.  OpenFlow 1.5 (for NSH
 * actions), libopenvswitch's vconn in a blocking loop.
 *
 * It logs "<realtime> port P down|up: N flow_mods" to stdout. */
#include <config.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "openvswitch/ofp-flow.h"
#include "openvswitch/ofp-msgs.h"
#include "openvswitch/ofp-port.h"
#include "openvswitch/ofp-protocol.h"
#include "openvswitch/ofp-util.h"
#include "openvswitch/ofpbuf.h"
#include "openvswitch/poll-loop.h"
#include "openvswitch/vconn.h"
#include "openvswitch/vlog.h"
#include "openvswitch/ofp-errors.h"
#include "util.h"

struct rflow {
    uint32_t watch;
    struct ofpbuf *primary, *alternate;
};

static struct rflow *flows;
static size_t n_flows;

static struct ofpbuf *
encode(const char *text, enum ofputil_protocol proto)
{
    struct ofputil_flow_mod fm;
    enum ofputil_protocol usable;
    char *err = parse_ofp_flow_mod_str(&fm, text, NULL, NULL, OFPFC_ADD,
                                       &usable);
    if (err) {
        ovs_fatal(0, "flow \"%s\": %s", text, err);
    }
    struct ofpbuf *msg = ofputil_encode_flow_mod(&fm, proto);
    minimatch_destroy(&fm.match);
    free(CONST_CAST(struct ofpact *, fm.ofpacts));
    return msg;
}

static void
load(const char *file, enum ofputil_protocol proto)
{
    FILE *f = fopen(file, "r");
    char *line = NULL;
    size_t cap = 0, alloc = 0;
    if (!f) {
        ovs_fatal(errno, "%s", file);
    }
    while (getline(&line, &cap, f) > 0) {
        line[strcspn(line, "\n")] = 0;
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2) {
            continue;
        }
        *t1 = *t2 = 0;
        if (n_flows == alloc) {
            flows = x2nrealloc(flows, &alloc, sizeof *flows);
        }
        flows[n_flows].watch = strtoul(line, NULL, 10);
        flows[n_flows].primary = encode(t1 + 1, proto);
        flows[n_flows].alternate = encode(t2 + 1, proto);
        n_flows++;
    }
    free(line);
    fclose(f);
}

static double
now_real(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
send_flows(struct vconn *vc, uint32_t port, bool down)
{
    int n = 0;
    for (size_t i = 0; i < n_flows; i++) {
        if (port == UINT32_MAX || (flows[i].watch && flows[i].watch == port)) {
            struct ofpbuf *m = (down ? flows[i].alternate : flows[i].primary);
            m = ofpbuf_clone(m);
            ofpmsg_update_length(m);
            if (vconn_send_block(vc, m)) {
                return -1;
            }
            n++;
        }
    }
    return n;
}

static void
serve(struct vconn *vc, const char *ready)
{
    enum ofp_version version = vconn_get_version(vc);
    uint8_t down[65536 / 8] = { 0 };
    long long barrier_xid;

    if (send_flows(vc, UINT32_MAX, false) < 0) {
        return;
    }
    struct ofpbuf *b = ofputil_encode_barrier_request(version);
    barrier_xid = ((struct ofp_header *) b->data)->xid;
    if (vconn_send_block(vc, b)) {
        return;
    }
    for (;;) {
        struct ofpbuf *msg;
        enum ofptype type;
        if (vconn_recv_block(vc, &msg)) {
            return;
        }
        const struct ofp_header *oh = msg->data;
        if (ofptype_decode(&type, oh)) {
            ofpbuf_delete(msg);
            continue;
        }
        if (type == OFPTYPE_ECHO_REQUEST) {
            vconn_send_block(vc, ofputil_encode_echo_reply(oh));
        } else if (type == OFPTYPE_BARRIER_REPLY && oh->xid == barrier_xid) {
            FILE *f = fopen(ready, "a");
            if (f) {
                fprintf(f, "ready %zu flows\n", n_flows);
                fclose(f);
            }
        } else if (type == OFPTYPE_ERROR) {
            fprintf(stderr, "error from switch (xid %#x)\n", ntohl(oh->xid));
        } else if (type == OFPTYPE_PORT_STATUS) {
            struct ofputil_port_status ps;
            if (!ofputil_decode_port_status(oh, &ps)) {
                uint32_t p = (uint16_t) ps.desc.port_no;
                bool is_down = (ps.reason == OFPPR_DELETE
                                || ps.desc.state & OFPUTIL_PS_LINK_DOWN
                                || ps.desc.config & OFPUTIL_PC_PORT_DOWN);
                bool was_down = down[p / 8] & (1 << (p % 8));
                if (is_down != was_down) {
                    double t = now_real();
                    int n = send_flows(vc, p, is_down);
                    down[p / 8] ^= 1 << (p % 8);
                    printf("%.6f port %u %s: %d flow_mods\n", t, p,
                           is_down ? "down" : "up", n);
                    fflush(stdout);
                }
            }
        }
        ofpbuf_delete(msg);
    }
}

int
main(int argc, char **argv)
{
    struct pvconn *pvc;
    int error;

    if (argc != 4) {
        fprintf(stderr, "usage: %s ptcp:PORT:IP FLOWS READY_FILE\n", argv[0]);
        return 2;
    }
    set_program_name(argv[0]);
    vlog_set_levels(NULL, VLF_ANY_DESTINATION, VLL_WARN);
    load(argv[2], OFPUTIL_P_OF15_OXM);
    error = pvconn_open(argv[1], 1u << OFP15_VERSION, 0, &pvc);
    if (error) {
        ovs_fatal(error, "%s", argv[1]);
    }
    printf("listening, %zu flows\n", n_flows);
    fflush(stdout);
    for (;;) {
        struct vconn *vc;
        error = pvconn_accept(pvc, &vc);
        if (error == EAGAIN) {
            pvconn_wait(pvc);
            poll_block();
            continue;
        } else if (error) {
            ovs_fatal(error, "accept");
        }
        if (!vconn_connect_block(vc, 5000)) {
            serve(vc, argv[3]);
        }
        vconn_close(vc);
    }
}
