/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* "stateful-fw": a connection-tracking firewall.
 *
 * TCP.  A stream passes only if the firewall saw it start or holds state for
 * it, its own or replicated from the primary.  A SYN without ACK and without
 * state creates the state (SYN_SENT) and remembers its sender as the client;
 * any other TCP packet without state is dropped and counted.  With state,
 * every packet passes (a SYN with RST or FIN never does) and moves a simple
 * state machine:
 *
 *   SYN_SENT     the client's SYN;
 *   SYN_RECV     the server's SYN-ACK;
 *   ESTABLISHED  the client's ACK of it;
 *   CLOSING      a FIN from one side (from any state but CLOSED);
 *   CLOSED       FINs from both sides, or a RST from either.  A SYN without
 *                ACK in CLOSED starts a new connection (port reuse).
 *
 * UDP.  The first packet in either direction creates the state; its sender
 * is the "client".
 *
 * ICMP and every other protocol pass, with no state and nothing counted.
 * (ICMP errors about a stream are not matched to it.)
 *
 * Idle timeouts, in seconds, set by init() options "name=seconds":
 * established_timeout (ESTABLISHED, default 300), transitory_timeout (the
 * other TCP states, default 30) and udp_timeout (default 60).
 *
 * Time.  'last_seen' is the time of the stream's last packet on this
 * machine's clock.  A replicated state carries the sender's 'last_seen', a
 * time of another machine's clock that means nothing here: deserialize()
 * ignores it and sets 'last_seen' to the time of the apply, so a replica
 * expires an idle timeout after the last update it received.  The primary
 * reports a change (state transitions aside) at least every sync_interval
 * seconds (default 10, 0 for every packet) while packets flow, so an active
 * stream stays alive on the secondary and the replica's counters lag by at
 * most that much; sync_interval must be shorter than every timeout.
 *
 * The blob, 48 bytes, integers big-endian:
 *
 *    0  version       1
 *    1  state         1 SYN_SENT, 2 SYN_RECV, 3 ESTABLISHED, 4 CLOSING,
 *                     5 CLOSED, 6 UDP
 *    2  flags         0x01 the client is the higher endpoint,
 *                     0x02 FIN seen from the lower endpoint,
 *                     0x04 FIN seen from the higher endpoint
 *    3  reserved      5 bytes of 0
 *    8  last_seen     ms, signed, the sender's clock
 *   16  packets       lower to higher endpoint
 *   24  packets       higher to lower endpoint
 *   32  bytes         lower to higher endpoint (total IP length)
 *   40  bytes         higher to lower endpoint
 *
 * deserialize() rejects any other length or version, an unknown state or
 * flag, nonzero reserved bytes, and FIN flags that the state cannot have
 * (none before CLOSING, exactly one in CLOSING, none for UDP). */

#include <config.h>
#include "service.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include "openvswitch/dynamic-string.h"
#include "packets.h"
#include "util.h"

#define FW_BLOB_VERSION 1
#define FW_BLOB_SIZE 48

/* Directions, as indexes into the per-direction counters. */
#define FW_LO_HI 0              /* From the lower endpoint to the higher. */
#define FW_HI_LO 1              /* From the higher endpoint to the lower. */

/* Blob flags. */
#define FW_FLAG_CLIENT_HI 0x01
#define FW_FLAG_FIN_LO 0x02
#define FW_FLAG_FIN_HI 0x04
#define FW_FLAGS_ALL 0x07

/* The state of a stream.  0 is a zero-filled, new state. */
enum fw_state {
    FW_NONE,                    /* No state yet. */
    FW_SYN_SENT,                /* TCP: the client's SYN seen. */
    FW_SYN_RECV,                /* TCP: the server's SYN-ACK seen. */
    FW_ESTABLISHED,             /* TCP: the client's ACK of it seen. */
    FW_CLOSING,                 /* TCP: a FIN seen from one side. */
    FW_CLOSED,                  /* TCP: FINs from both sides, or a RST. */
    FW_UDP,                     /* UDP. */
    FW_N_STATES
};

/* Why a packet was dropped. */
enum fw_drop {
    FW_DROP_NO_STATE,           /* TCP, no state, and not a SYN. */
    FW_DROP_BAD_FLAGS,          /* TCP SYN with RST or FIN. */
    FW_N_DROPS
};

static const char *const fw_drop_names[FW_N_DROPS] = {
    [FW_DROP_NO_STATE] = "drop_no_state",
    [FW_DROP_BAD_FLAGS] = "drop_bad_flags",
};

/* Per-stream state. */
struct fw_stream {
    uint8_t state;              /* enum fw_state. */
    uint8_t client_dir;         /* FW_LO_HI or FW_HI_LO: the direction in
                                 * which the client sends. */
    uint8_t fins;               /* Bit 'dir' set: a FIN went in 'dir'. */
    long long int last_seen;    /* Last packet or apply, local clock, ms. */
    long long int last_sync;    /* Last change reported, local clock, ms. */
    uint64_t packets[2];        /* Packets, per direction. */
    uint64_t bytes[2];          /* Total IP bytes, per direction. */
};
BUILD_ASSERT_DECL(sizeof(struct fw_stream) <= SERVICE_STATE_MAX);

/* The firewall's configuration and counters. */
struct fw {
    long long int established_timeout; /* ESTABLISHED idle timeout, ms. */
    long long int transitory_timeout;  /* Other TCP states' timeout, ms. */
    long long int udp_timeout;         /* UDP idle timeout, ms. */
    long long int sync_interval;       /* Longest time between reported
                                        * changes of an active stream, ms. */
    uint64_t drops[FW_N_DROPS];        /* Packets dropped, by reason. */
};

/* Returns the name of 'state'. */
static const char *
fw_state_name__(uint8_t state)
{
    switch (state) {
    case FW_NONE:
        return "NONE";
    case FW_SYN_SENT:
        return "SYN_SENT";
    case FW_SYN_RECV:
        return "SYN_RECV";
    case FW_ESTABLISHED:
        return "ESTABLISHED";
    case FW_CLOSING:
        return "CLOSING";
    case FW_CLOSED:
        return "CLOSED";
    case FW_UDP:
        return "UDP";
    }
    return "INVALID";
}

/* Parses the options in 'args' into a new firewall, stored in '*fwp'.
 * Returns NULL or a malloc()ed error message. */
static char *
fw_init(void **fwp, const char *args)
{
    struct fw *fw = xzalloc(sizeof *fw);
    const struct service_option opts[] = {
        { "established_timeout", &fw->established_timeout, 1, 86400 * 7 },
        { "transitory_timeout", &fw->transitory_timeout, 1, 86400 },
        { "udp_timeout", &fw->udp_timeout, 1, 86400 * 7 },
        { "sync_interval", &fw->sync_interval, 0, 3600 },
    };
    char *error;

    *fwp = NULL;
    fw->established_timeout = 300 * 1000;
    fw->transitory_timeout = 30 * 1000;
    fw->udp_timeout = 60 * 1000;
    fw->sync_interval = 10 * 1000;

    error = service_parse_options("stateful-fw", args, opts,
                                  ARRAY_SIZE(opts));
    if (!error && (fw->sync_interval >= fw->established_timeout
                   || fw->sync_interval >= fw->transitory_timeout
                   || fw->sync_interval >= fw->udp_timeout)) {
        error = xstrdup("stateful-fw: sync_interval must be shorter than "
                        "every timeout");
    }
    if (error) {
        free(fw);
        return error;
    }
    *fwp = fw;
    return NULL;
}

/* Frees the firewall 'fw'. */
static void
fw_destroy(void *fw)
{
    free(fw);
}

/* Makes 'st' a new stream in 'state' whose client sends in 'dir'. */
static void
fw_open__(struct fw_stream *st, enum fw_state state, int dir)
{
    memset(st, 0, sizeof *st);
    st->state = state;
    st->client_dir = dir;
}

/* Returns true if 'st' is a state for a stream of IP protocol 'proto'. */
static bool
fw_state_fits__(const struct fw_stream *st, uint8_t proto)
{
    if (proto == IPPROTO_UDP) {
        return st->state == FW_UDP;
    }
    return st->state >= FW_SYN_SENT && st->state <= FW_CLOSED;
}

/* Moves the TCP state 'st' for a packet with 'flags' going in 'dir'.
 * Returns true if 'st' changed. */
static bool
fw_tcp_advance__(struct fw_stream *st, uint16_t flags, int dir)
{
    bool from_client = dir == st->client_dir;
    uint8_t old_state = st->state;
    uint8_t old_fins = st->fins;

    if (flags & TCP_RST) {
        st->state = FW_CLOSED;
    } else if (flags & TCP_SYN) {
        if (!(flags & TCP_ACK)) {
            if (st->state == FW_CLOSED) {
                fw_open__(st, FW_SYN_SENT, dir);
                return true;
            }
        } else if (!from_client && st->state == FW_SYN_SENT) {
            st->state = FW_SYN_RECV;
        }
    } else if (flags & TCP_FIN) {
        if (st->state != FW_CLOSED) {
            st->fins |= 1u << dir;
            st->state = st->fins == 3 ? FW_CLOSED : FW_CLOSING;
        }
    } else if (flags & TCP_ACK && from_client && st->state == FW_SYN_RECV) {
        st->state = FW_ESTABLISHED;
    }
    return st->state != old_state || st->fins != old_fins;
}

/* Runs the firewall 'fw_' on 'pkt' with the stream's 'state_' ('is_new' if
 * zero-filled) at 'now'; sets '*changed'.  Returns the verdict. */
static enum service_verdict
fw_process(void *fw_, const struct service_pkt *pkt, void *state_,
           bool is_new, long long int now, bool *changed)
{
    struct fw *fw = fw_;
    struct fw_stream *st = state_;
    int dir = pkt->lo_to_hi ? FW_LO_HI : FW_HI_LO;
    bool have;

    *changed = false;
    if (pkt->proto != IPPROTO_TCP && pkt->proto != IPPROTO_UDP) {
        return SERVICE_PASS;
    }

    have = !is_new && fw_state_fits__(st, pkt->proto);
    if (pkt->proto == IPPROTO_TCP) {
        uint16_t flags = pkt->tcp_flags;

        if (flags & TCP_SYN && flags & (TCP_RST | TCP_FIN)) {
            fw->drops[FW_DROP_BAD_FLAGS]++;
            return SERVICE_DROP;
        }
        if (have) {
            *changed = fw_tcp_advance__(st, flags, dir);
        } else if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
            fw_open__(st, FW_SYN_SENT, dir);
            *changed = true;
        } else {
            fw->drops[FW_DROP_NO_STATE]++;
            return SERVICE_DROP;
        }
    } else if (!have) {
        fw_open__(st, FW_UDP, dir);
        *changed = true;
    }

    st->packets[dir]++;
    st->bytes[dir] += pkt->ip_len;
    st->last_seen = now;
    if (*changed || now - st->last_sync >= fw->sync_interval) {
        *changed = true;
        st->last_sync = now;
    }
    return SERVICE_PASS;
}

/* Writes 'state_' as the 48-byte blob described above into 'buf'. */
static void
fw_serialize(const void *state_, uint8_t *buf)
{
    const struct fw_stream *st = state_;

    memset(buf, 0, FW_BLOB_SIZE);
    buf[0] = FW_BLOB_VERSION;
    buf[1] = st->state;
    buf[2] = ((st->client_dir == FW_HI_LO ? FW_FLAG_CLIENT_HI : 0)
              | (st->fins & (1u << FW_LO_HI) ? FW_FLAG_FIN_LO : 0)
              | (st->fins & (1u << FW_HI_LO) ? FW_FLAG_FIN_HI : 0));
    service_put_be64(&buf[8], st->last_seen);
    service_put_be64(&buf[16], st->packets[FW_LO_HI]);
    service_put_be64(&buf[24], st->packets[FW_HI_LO]);
    service_put_be64(&buf[32], st->bytes[FW_LO_HI]);
    service_put_be64(&buf[40], st->bytes[FW_HI_LO]);
}

/* Reads the 'len'-byte blob 'buf' into 'state_', applied at 'now'.  Returns
 * NULL, or what is wrong with the blob. */
static const char *
fw_deserialize(const uint8_t *buf, size_t len, void *state_,
               long long int now)
{
    struct fw_stream *st = state_;
    uint8_t state, flags, fins;

    if (len != FW_BLOB_SIZE) {
        return "stateful-fw: blob has the wrong length";
    }
    if (buf[0] != FW_BLOB_VERSION) {
        return "stateful-fw: unknown blob version";
    }
    state = buf[1];
    if (state == FW_NONE || state >= FW_N_STATES) {
        return "stateful-fw: invalid state";
    }
    flags = buf[2];
    if (flags & ~FW_FLAGS_ALL) {
        return "stateful-fw: unknown flags";
    }
    for (int i = 3; i < 8; i++) {
        if (buf[i]) {
            return "stateful-fw: nonzero reserved bytes";
        }
    }

    fins = ((flags & FW_FLAG_FIN_LO ? 1u << FW_LO_HI : 0)
            | (flags & FW_FLAG_FIN_HI ? 1u << FW_HI_LO : 0));
    if ((state == FW_CLOSING && fins != 1 && fins != 2)
        || (state != FW_CLOSING && state != FW_CLOSED && fins)) {
        return "stateful-fw: FIN flags do not fit the state";
    }

    memset(st, 0, sizeof *st);
    st->state = state;
    st->client_dir = flags & FW_FLAG_CLIENT_HI ? FW_HI_LO : FW_LO_HI;
    st->fins = fins;
    st->last_seen = now;        /* The sender's time, at 8, is not ours. */
    st->last_sync = now;
    st->packets[FW_LO_HI] = service_get_be64(&buf[16]);
    st->packets[FW_HI_LO] = service_get_be64(&buf[24]);
    st->bytes[FW_LO_HI] = service_get_be64(&buf[32]);
    st->bytes[FW_HI_LO] = service_get_be64(&buf[40]);
    return NULL;
}

/* Returns true if the stream with 'state_' is idle at 'now' for longer than
 * the timeout of its state in the firewall 'fw_'. */
static bool
fw_expired(const void *fw_, const void *state_, long long int now)
{
    const struct fw *fw = fw_;
    const struct fw_stream *st = state_;
    long long int timeout;

    switch (st->state) {
    case FW_ESTABLISHED:
        timeout = fw->established_timeout;
        break;
    case FW_UDP:
        timeout = fw->udp_timeout;
        break;
    case FW_SYN_SENT:
    case FW_SYN_RECV:
    case FW_CLOSING:
    case FW_CLOSED:
        timeout = fw->transitory_timeout;
        break;
    default:
        return true;
    }
    return now - st->last_seen >= timeout;
}

/* Appends a description of 'state_' to 'ds'. */
static void
fw_format(const void *state_, struct ds *ds)
{
    const struct fw_stream *st = state_;
    static const char *const fin_names[4] = { "none", "lo", "hi", "both" };

    ds_put_format(ds, "state=%s client=%s fin=%s packets_lo_hi=%"PRIu64
                  " packets_hi_lo=%"PRIu64" bytes_lo_hi=%"PRIu64
                  " bytes_hi_lo=%"PRIu64" last_seen=%lld",
                  fw_state_name__(st->state),
                  st->client_dir == FW_HI_LO ? "hi" : "lo",
                  fin_names[st->fins & 3],
                  st->packets[FW_LO_HI], st->packets[FW_HI_LO],
                  st->bytes[FW_LO_HI], st->bytes[FW_HI_LO], st->last_seen);
}

/* Stores up to 'n' of the drop counters of 'fw_' in 'counters'.  Returns
 * FW_N_DROPS. */
static size_t
fw_counters(const void *fw_, struct service_counter *counters, size_t n)
{
    const struct fw *fw = fw_;

    for (size_t i = 0; i < n && i < FW_N_DROPS; i++) {
        counters[i].name = fw_drop_names[i];
        counters[i].value = fw->drops[i];
    }
    return FW_N_DROPS;
}

const struct service_class stateful_fw_class = {
    .name = "stateful-fw",
    .state_size = sizeof(struct fw_stream),
    .blob_size = FW_BLOB_SIZE,
    .init = fw_init,
    .destroy = fw_destroy,
    .process = fw_process,
    .serialize = fw_serialize,
    .deserialize = fw_deserialize,
    .expired = fw_expired,
    .format = fw_format,
    .counters = fw_counters,
};
