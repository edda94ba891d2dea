/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include "sentinel.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "openvswitch/vlog.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(sentinel);

#define SENTINEL_MAX_FRAME 256      /* Longest frame: a BFD packet. */

struct sentinel {
    int fd;                     /* Our end of the socket pair. */
    pid_t pid;                  /* The sentinel process. */
    size_t len;                 /* The frame last armed, for comparison. */
    uint8_t frame[SENTINEL_MAX_FRAME];
};

/* The sentinel process: keeps the newest frame it is given on 'fd' and,
 * once 'fd' reads end-of-file (every copy of the agent's end is closed:
 * the agent is gone), sends it on packet socket 'sock' to interface
 * 'ifindex'.  Never returns. */
static void OVS_NO_RETURN
sentinel_main(int fd, int sock, int ifindex)
{
    uint8_t frame[SENTINEL_MAX_FRAME], buf[SENTINEL_MAX_FRAME];
    struct sockaddr_ll sll;
    ssize_t len = 0;

    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);

        if (n > 0) {
            memcpy(frame, buf, n);
            len = n;
        } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
            break;
        }
    }
    if (len > 0) {
        memset(&sll, 0, sizeof sll);
        sll.sll_family = AF_PACKET;
        sll.sll_ifindex = ifindex;
        ignore(sendto(sock, frame, len, 0, (struct sockaddr *) &sll,
                      sizeof sll));
    }
    _exit(0);
}

/* Starts the sentinel of the agent whose instance interface is 'iface'.
 * Returns it, or NULL with a message in '*errorp'.  Call before any thread
 * is started; the sentinel keeps no descriptor of the caller's but its own
 * two. */
struct sentinel *
sentinel_start(const char *iface, char **errorp)
{
    struct sentinel *sn;
    int fds[2], sock, ifindex;
    pid_t pid;

    *errorp = NULL;
    ifindex = if_nametoindex(iface);
    if (!ifindex) {
        *errorp = xasprintf("sentinel: %s: no such interface (%s)", iface,
                            ovs_strerror(errno));
        return NULL;
    }
    /* Protocol 0: the socket receives nothing, it only sends. */
    sock = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        *errorp = xasprintf("sentinel: cannot open packet socket (%s)",
                            ovs_strerror(errno));
        return NULL;
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds)) {
        *errorp = xasprintf("sentinel: socketpair failed (%s)",
                            ovs_strerror(errno));
        close(sock);
        return NULL;
    }

    pid = fork();
    if (pid < 0) {
        *errorp = xasprintf("sentinel: fork failed (%s)",
                            ovs_strerror(errno));
        close(fds[0]);
        close(fds[1]);
        close(sock);
        return NULL;
    }
    if (!pid) {
        /* Nothing of the agent's may outlive it here: an open copy of one
         * of its sockets would keep its peers from seeing it die.  Signals
         * get their default actions, so that no handler of the agent's
         * (its pidfile's removal, say) runs in this process. */
        static const int signals[] = {
            SIGTERM, SIGINT, SIGHUP, SIGALRM, SIGUSR1, SIGUSR2,
        };
        int keep_lo = MIN(fds[1], sock), keep_hi = MAX(fds[1], sock);

        for (size_t i = 0; i < ARRAY_SIZE(signals); i++) {
            signal(signals[i], SIG_DFL);
        }
        signal(SIGPIPE, SIG_IGN);
        close_range(3, keep_lo - 1, 0);
        close_range(keep_lo + 1, keep_hi - 1, 0);
        close_range(keep_hi + 1, ~0U, 0);
        prctl(PR_SET_NAME, "sfmesh-sentinel", 0, 0, 0);
        sentinel_main(fds[1], sock, ifindex);
    }

    close(fds[1]);
    close(sock);
    sn = xzalloc(sizeof *sn);
    sn->fd = fds[0];
    sn->pid = pid;
    /* Never wait on the sentinel: a frame it has not read yet is replaced
     * by the next one. */
    fcntl(sn->fd, F_SETFL, fcntl(sn->fd, F_GETFL) | O_NONBLOCK);
    VLOG_INFO("sentinel started (pid %ld): announces this agent's death "
              "on %s", (long) pid, iface);
    return sn;
}

/* Makes the 'len' bytes at 'frame' what the sentinel sends when the agent
 * dies (a frame the same as the last armed costs nothing). */
void
sentinel_arm(struct sentinel *sn, const uint8_t *frame, size_t len)
{
    if (!sn || !len || len > SENTINEL_MAX_FRAME
        || (len == sn->len && !memcmp(frame, sn->frame, len))) {
        return;
    }
    if (send(sn->fd, frame, len, MSG_DONTWAIT) == (ssize_t) len) {
        memcpy(sn->frame, frame, len);
        sn->len = len;
    }
}

/* Closes our end: the sentinel sends the frame last armed, and exits.  An
 * agent that exits without calling it gets the same. */
void
sentinel_destroy(struct sentinel *sn)
{
    if (sn) {
        close(sn->fd);
        free(sn);
    }
}
