/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "frameio.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "util.h"

struct frameio {
    int fd;                     /* The AF_PACKET socket. */
    struct sockaddr_ll addr;    /* Interface and ethertype, for sending. */
    uint8_t mac[6];             /* The interface's MAC address. */
    size_t batch;               /* Frames per recvmmsg()/sendmmsg(). */

    uint8_t *rx_bufs;           /* 'batch' receive buffers. */
    struct mmsghdr *rx_msgs;    /* 'batch' receive headers. */
    struct iovec *rx_iovs;      /* Their iovecs. */
    struct sockaddr_ll *rx_addrs; /* Their source addresses. */
    struct frameio_frame *frames; /* What frameio_recv() returns. */

    uint8_t *tx_bufs;           /* 'batch' send buffers. */
    struct mmsghdr *tx_msgs;    /* 'batch' send headers. */
    struct iovec *tx_iovs;      /* Their iovecs. */
    size_t n_tx;                /* Frames waiting in the send buffers. */

    struct frameio_stats stats; /* Counters. */
};

/* Opens frame I/O on interface 'iface' for frames of 'ethertype', 'batch'
 * frames at a time.  On success returns 0 and stores the new object in
 * '*fiop'; on failure returns an errno value and a message in '*errorp'. */
int
frameio_open(const char *iface, uint16_t ethertype, size_t batch,
             struct frameio **fiop, char **errorp)
{
    struct frameio *fio;
    struct ifreq ifr;
    int error;

    *fiop = NULL;
    *errorp = NULL;
    if (strlen(iface) >= IFNAMSIZ) {
        *errorp = xasprintf("%s: interface name too long", iface);
        return EINVAL;
    }

    fio = xzalloc(sizeof *fio);
    fio->batch = batch ? batch : 1;
    fio->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                     htons(ethertype));
    if (fio->fd < 0) {
        error = errno;
        *errorp = xasprintf("%s: cannot open packet socket (%s)", iface,
                            ovs_strerror(error));
        free(fio);
        return error;
    }

    memset(&ifr, 0, sizeof ifr);
    ovs_strlcpy(ifr.ifr_name, iface, sizeof ifr.ifr_name);
    if (ioctl(fio->fd, SIOCGIFINDEX, &ifr) < 0
        || (fio->addr.sll_ifindex = ifr.ifr_ifindex,
            ioctl(fio->fd, SIOCGIFHWADDR, &ifr) < 0)) {
        error = errno;
        *errorp = xasprintf("%s: no such interface (%s)", iface,
                            ovs_strerror(error));
        goto fail;
    }
    memcpy(fio->mac, ifr.ifr_hwaddr.sa_data, 6);

    fio->addr.sll_family = AF_PACKET;
    fio->addr.sll_protocol = htons(ethertype);
    if (bind(fio->fd, (struct sockaddr *) &fio->addr, sizeof fio->addr)) {
        error = errno;
        *errorp = xasprintf("%s: cannot bind (%s)", iface,
                            ovs_strerror(error));
        goto fail;
    }
#ifdef PACKET_IGNORE_OUTGOING
    /* Our own transmissions are not input. */
    int one = 1;
    setsockopt(fio->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof one);
#endif

    fio->rx_bufs = xmalloc(fio->batch * FRAMEIO_MAX_FRAME);
    fio->rx_msgs = xcalloc(fio->batch, sizeof *fio->rx_msgs);
    fio->rx_iovs = xcalloc(fio->batch, sizeof *fio->rx_iovs);
    fio->rx_addrs = xcalloc(fio->batch, sizeof *fio->rx_addrs);
    fio->frames = xcalloc(fio->batch, sizeof *fio->frames);
    fio->tx_bufs = xmalloc(fio->batch * FRAMEIO_MAX_FRAME);
    fio->tx_msgs = xcalloc(fio->batch, sizeof *fio->tx_msgs);
    fio->tx_iovs = xcalloc(fio->batch, sizeof *fio->tx_iovs);
    for (size_t i = 0; i < fio->batch; i++) {
        fio->rx_iovs[i].iov_base = fio->rx_bufs + i * FRAMEIO_MAX_FRAME;
        fio->rx_iovs[i].iov_len = FRAMEIO_MAX_FRAME;
        fio->tx_iovs[i].iov_base = fio->tx_bufs + i * FRAMEIO_MAX_FRAME;
        fio->tx_msgs[i].msg_hdr.msg_iov = &fio->tx_iovs[i];
        fio->tx_msgs[i].msg_hdr.msg_iovlen = 1;
        fio->tx_msgs[i].msg_hdr.msg_name = &fio->addr;
        fio->tx_msgs[i].msg_hdr.msg_namelen = sizeof fio->addr;
    }
    *fiop = fio;
    return 0;

fail:
    close(fio->fd);
    free(fio);
    return error;
}

/* Closes 'fio'.  Accepts NULL. */
void
frameio_close(struct frameio *fio)
{
    if (fio) {
        close(fio->fd);
        free(fio->rx_bufs);
        free(fio->rx_msgs);
        free(fio->rx_iovs);
        free(fio->rx_addrs);
        free(fio->frames);
        free(fio->tx_bufs);
        free(fio->tx_msgs);
        free(fio->tx_iovs);
        free(fio);
    }
}

int
frameio_fd(const struct frameio *fio)
{
    return fio->fd;
}

/* Returns the MAC address of the interface (6 bytes). */
const uint8_t *
frameio_mac(const struct frameio *fio)
{
    return fio->mac;
}

/* Receives up to a batch of frames without blocking.  Returns how many and
 * points '*framesp' to them; they stay valid until the next call. */
size_t
frameio_recv(struct frameio *fio, struct frameio_frame **framesp)
{
    size_t n = 0;
    int retval;

    for (size_t i = 0; i < fio->batch; i++) {
        struct msghdr *mh = &fio->rx_msgs[i].msg_hdr;

        memset(mh, 0, sizeof *mh);
        mh->msg_iov = &fio->rx_iovs[i];
        mh->msg_iovlen = 1;
        mh->msg_name = &fio->rx_addrs[i];
        mh->msg_namelen = sizeof fio->rx_addrs[i];
    }
    do {
        retval = recvmmsg(fio->fd, fio->rx_msgs, fio->batch, MSG_DONTWAIT
                          | MSG_TRUNC, NULL);
    } while (retval < 0 && errno == EINTR);

    for (int i = 0; i < retval; i++) {
        const struct mmsghdr *m = &fio->rx_msgs[i];

        if (fio->rx_addrs[i].sll_pkttype == PACKET_OUTGOING) {
            continue;
        }
        fio->stats.rx_frames++;
        if (m->msg_len > FRAMEIO_MAX_FRAME
            || (m->msg_hdr.msg_flags & MSG_TRUNC)) {
            fio->stats.rx_truncated++;
            continue;
        }
        fio->frames[n].data = fio->rx_iovs[i].iov_base;
        fio->frames[n].len = m->msg_len;
        n++;
    }
    *framesp = fio->frames;
    return n;
}

/* Returns a send buffer of FRAMEIO_MAX_FRAME bytes for the next frame,
 * flushing first if all are in use.  frameio_tx_commit() queues it. */
uint8_t *
frameio_tx_slot(struct frameio *fio)
{
    if (fio->n_tx >= fio->batch) {
        frameio_flush(fio);
    }
    return fio->tx_iovs[fio->n_tx].iov_base;
}

/* Queues the frame of 'len' bytes written into the last slot. */
void
frameio_tx_commit(struct frameio *fio, size_t len)
{
    fio->tx_iovs[fio->n_tx].iov_len = MIN(len, FRAMEIO_MAX_FRAME);
    fio->n_tx++;
}

/* Sends the queued frames.  Frames the kernel does not take (a full queue,
 * say) are dropped and counted, as a switch port would. */
void
frameio_flush(struct frameio *fio)
{
    size_t done = 0;

    while (done < fio->n_tx) {
        int retval = sendmmsg(fio->fd, fio->tx_msgs + done, fio->n_tx - done,
                              MSG_DONTWAIT);
        if (retval > 0) {
            done += retval;
            fio->stats.tx_frames += retval;
        } else if (retval < 0 && errno == EINTR) {
            continue;
        } else {
            /* Skip the frame that failed and go on with the rest. */
            fio->stats.tx_errors++;
            done++;
        }
    }
    fio->n_tx = 0;
}

const struct frameio_stats *
frameio_get_stats(const struct frameio *fio)
{
    return &fio->stats;
}
