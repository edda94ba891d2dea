/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef FRAMEIO_H
#define FRAMEIO_H 1

/* Batched frame I/O on one interface for one ethertype.
 *
 * An AF_PACKET socket bound to the interface and the ethertype (0x894F for
 * NSH).  Frames are received with recvmmsg() and sent with sendmmsg() in
 * batches, into and from buffers allocated once at open: nothing is
 * allocated per frame.  The agent registers the socket with its event loop
 * and calls frameio_recv() when it is readable. */

#include <stddef.h>
#include <stdint.h>

/* The largest frame handled: a jumbo frame. */
#define FRAMEIO_MAX_FRAME 9216

struct frameio;

/* A received frame, valid until the next frameio_recv(). */
struct frameio_frame {
    uint8_t *data;              /* The frame, from the Ethernet header. */
    size_t len;                 /* Its length. */
};

/* Counters. */
struct frameio_stats {
    uint64_t rx_frames;         /* Frames received. */
    uint64_t rx_truncated;      /* Frames longer than FRAMEIO_MAX_FRAME. */
    uint64_t tx_frames;         /* Frames sent. */
    uint64_t tx_errors;         /* Frames the kernel refused. */
};

int frameio_open(const char *iface, uint16_t ethertype, size_t batch,
                 struct frameio **, char **errorp);
void frameio_close(struct frameio *);
int frameio_fd(const struct frameio *);
const uint8_t *frameio_mac(const struct frameio *);

size_t frameio_recv(struct frameio *, struct frameio_frame **framesp);
uint8_t *frameio_tx_slot(struct frameio *);
void frameio_tx_commit(struct frameio *, size_t len);
void frameio_flush(struct frameio *);
const struct frameio_stats *frameio_get_stats(const struct frameio *);

#endif /* frameio.h */
