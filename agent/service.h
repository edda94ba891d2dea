/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef SFMESH_SERVICE_H
#define SFMESH_SERVICE_H 1

/* The service-function API of sfmesh-agent.
 *
 * A service function is a 'const struct service_class': a name, the size of
 * its per-stream state and a handful of functions.  The agent keeps one state
 * per stream (see streamtab.h), calls process() for every inner packet of the
 * stream with that state, and replicates the state, as the portable blob that
 * serialize() writes, to the bucket's secondary instance, which applies it
 * with deserialize().  After a failover the secondary continues with the
 * state it holds.
 *
 * A stream is both directions of a connection: the agent orders the two
 * (address, port) endpoints of the inner packet, the lower first, so that
 * both directions map to one stream, and tells the service which way each
 * packet goes ('lo_to_hi' in struct service_pkt).
 *
 * Every function is pure: no I/O, no clock.  Time comes in as 'now', in
 * milliseconds of the caller's clock, which is only meaningful on the machine
 * that reads it: a state that arrives from a peer carries times of the peer's
 * clock, so deserialize() also takes 'now' and rebases what needs it.  The
 * agent is single-threaded; a service needs no locking.
 *
 * A new stream.  When the agent has no state for a stream, it calls
 * process() with 'is_new' true and a zero-filled 'state' (a scratch buffer
 * of 'state_size' bytes will do).  It keeps that state only if process() set
 * '*changed': a service that has nothing to remember about a packet (a
 * stateless protocol, a packet it drops) leaves '*changed' false, and the
 * agent creates no entry.
 *
 * Replication.  '*changed' asks the agent to send the state to the
 * secondary.  A service may update a state without setting it (counters, the
 * last-seen time): those updates travel with the next change.  A service
 * whose secondary must see such updates within some time sets '*changed'
 * at least that often (the stateful firewall does, so that its secondary
 * does not time out a stream that is alive on the primary). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ds;

/* Upper bounds on a service's 'state_size' and 'blob_size', so that the agent
 * can use fixed buffers. */
#define SERVICE_STATE_MAX 1024

/* What becomes of a packet. */
enum service_verdict {
    SERVICE_PASS,               /* Send it on (SI decremented). */
    SERVICE_DROP                /* Discard it. */
};

/* The inner packet of an NSH frame, as the agent parsed it. */
struct service_pkt {
    uint8_t proto;              /* IP protocol (IPPROTO_TCP, ...). */
    bool lo_to_hi;              /* From the stream's lower endpoint to the
                                 * higher one (else the other way). */
    uint16_t tcp_flags;         /* TCP only: the flags, as in the header
                                 * (OVS's TCP_FIN, TCP_SYN, TCP_RST,
                                 * TCP_ACK, ...); else 0. */
    uint16_t l4_len;            /* L4 payload length, in bytes. */
    uint16_t ip_len;            /* Total IP length, in bytes. */
};

/* A service's own counter, for status output. */
struct service_counter {
    const char *name;           /* Static, e.g. "drop_no_state". */
    uint64_t value;             /* Current value. */
};

/* A service function.  Members marked optional may be NULL. */
struct service_class {
    const char *name;           /* Unique, as given to service_find(). */
    size_t state_size;          /* Bytes of per-stream state in memory, at
                                 * most SERVICE_STATE_MAX. */
    size_t blob_size;           /* Bytes that serialize() writes and
                                 * deserialize() accepts, at most
                                 * SERVICE_STATE_MAX. */

    /* Optional.  Parses the options in 'args' (may be NULL or empty, meaning
     * the defaults) and stores the service's private data in '*svc_data'.
     * Returns NULL on success, else a malloc()ed error message for the
     * caller to free, with '*svc_data' left NULL.  The agent calls it once,
     * before any other function.  Without init(), 'svc_data' is NULL
     * everywhere. */
    char *(*init)(void **svc_data, const char *args);

    /* Optional.  Frees 'svc_data' as returned by init(). */
    void (*destroy)(void *svc_data);

    /* Runs the service on the packet described by 'pkt', whose stream has
     * 'state' ('state_size' bytes, zero-filled if 'is_new', aligned to 8
     * bytes as every state passed to a service is), at 'now'.
     * 'svc_data' is what init() returned.  Sets '*changed' to true if the
     * state should be kept (when 'is_new') and replicated, else to false.
     * Returns the verdict. */
    enum service_verdict (*process)(void *svc_data,
                                    const struct service_pkt *pkt,
                                    void *state, bool is_new,
                                    long long int now, bool *changed);

    /* Writes 'state' into 'buf' as exactly 'blob_size' bytes, in a byte
     * order and layout independent of the machine. */
    void (*serialize)(const void *state, uint8_t *buf);

    /* Reads the 'len' bytes at 'buf', which come from the network, into
     * 'state' ('state_size' bytes), applied at 'now' on this machine's
     * clock.  Returns NULL on success, else a static string saying what is
     * wrong with the blob, in which case 'state' is unchanged.  Must accept
     * every blob that serialize() writes and nothing that would make the
     * other functions misbehave. */
    const char *(*deserialize)(const uint8_t *buf, size_t len, void *state,
                               long long int now);

    /* Returns true if the stream with 'state' has been idle too long at
     * 'now' and may be forgotten.  'svc_data' is what init() returned. */
    bool (*expired)(const void *svc_data, const void *state,
                    long long int now);

    /* Appends a one-line description of 'state' to 'ds', without a newline,
     * for inspection. */
    void (*format)(const void *state, struct ds *ds);

    /* Optional.  Stores up to 'n' of the service's counters (such as drops
     * by reason) in 'counters' and returns how many it has in all, which
     * does not change between calls. */
    size_t (*counters)(const void *svc_data, struct service_counter *counters,
                       size_t n);
};

/* The services built in. */
extern const struct service_class stateful_fw_class;
extern const struct service_class counter_class;

const struct service_class *service_find(const char *name);
void service_names(struct ds *);

/* Helpers for service implementations. */

/* One option of service_parse_options(): 'name=SECONDS'. */
struct service_option {
    const char *name;           /* Option name. */
    long long int *msec;        /* Where to store the value, in ms. */
    long long int min_sec;      /* Smallest value accepted, in seconds. */
    long long int max_sec;      /* Largest value accepted, in seconds. */
};

char *service_parse_options(const char *service, const char *args,
                            const struct service_option *, size_t n);

/* Stores 'value' in the 8 bytes at 'p', most significant first. */
static inline void
service_put_be64(uint8_t *p, uint64_t value)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = value;
        value >>= 8;
    }
}

/* Returns the 8 bytes at 'p', most significant first, as a number. */
static inline uint64_t
service_get_be64(const uint8_t *p)
{
    uint64_t value = 0;

    for (int i = 0; i < 8; i++) {
        value = (value << 8) | p[i];
    }
    return value;
}

#endif /* service.h */
