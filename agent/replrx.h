/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef REPLRX_H
#define REPLRX_H 1

/* The receiving side of state replication: what an agent does with the
 * STATE_UPDATE, BULK_BEGIN and BULK_END messages that the primaries of its
 * buckets send it (and the secondaries, their own changes).
 *
 * A record applies only if its version is newer than the state the table
 * holds for its stream (streamtab_version_compare(); any record applies to
 * a stream the table does not hold), and the state then takes the
 * record's version.  An older or equal record is dropped and counted
 * ('n_stale'), and its batch is acknowledged all the same: a stale record
 * is no error of the channel.  When the table's state is strictly newer,
 * it is marked dirty, so that the agent's next batch carries it where the
 * agent's map sends its changes of the bucket, which is normally the
 * stale record's sender: the instance that sent an older state learns the
 * newer one instead of going on from its own.  (An equal version is no
 * reason to answer, or two instances holding different states at the same
 * version would answer each other for ever: the next change of either
 * settles it.)
 *
 * Who may send.  Versions settle which of two states is newer, but only
 * between states that came from instances entitled to them: the receiver
 * authorizes every sender and every record by the maps it knows, the
 * newest one and the one before (replrx_set_map()), whatever the version
 * says.
 *
 *   - The sender, named by the connection's first STATE_UPDATE, must be an
 *     instance of one of those maps, and the peer must be it: with TLS,
 *     its certificate names it (tls.h); without, the connection comes from
 *     the replication address the map gives it (agents connect from that
 *     address).  Otherwise the connection is closed ('n_refused_senders'):
 *     a stranger, or an instance of another service, may not send; nor may
 *     anyone before the receiver's first map, since it cannot tell (the
 *     sender reconnects, and by then the map has come).
 *
 *   - A record applies only if its sender holds a role for its bucket, as
 *     primary, secondary or next instance, in one of the two maps: the
 *     primary sends its changes, the secondary its own changes, and the
 *     previous map covers an instance whose role just moved (a handoff, or
 *     a datapath failover that the controller has made into a map).
 *     Other records are refused and counted ('n_unauthorized'); a bulk
 *     that carried one fails and asks for a resend, since the sender may
 *     hold a map newer than ours.  Among authorized senders, versions
 *     decide: a record from one whom the newest map does not name the
 *     bucket's primary applies if it is newer ('n_not_primary' counts
 *     those).
 *
 *   - Each sender may create at most a quota of the table's streams (half
 *     its capacity unless replrx_set_quota() says otherwise), so that no
 *     one peer can fill it and leave no room for the agent's own streams
 *     or other senders' ('n_over_quota').
 *
 * Every incoming replication connection is a "struct replrx_conn".  Its
 * first STATE_UPDATE names the sender, and the name may not change on that
 * connection.  The sequence window (agp_seq_window) belongs to the
 * connection, not to the sender's name: a sender that restarts, or that
 * reconnects, opens a new connection and numbers its batches from 1 again,
 * so a window kept by name would take every batch of the new process for a
 * duplicate; and a window of its own is one that no other peer can move
 * (a batch numbered 2**64-1 on another connection changes nothing here).
 * A newer connection from the same (authenticated) sender supersedes an
 * older one, which the caller then closes: whatever the older one still carries
 * is older than the bulk transfer that every new connection starts with.
 *
 * A bulk transfer of a bucket is BULK_BEGIN (the window restarts at its
 * watermark), the bucket's records in ordinary batches, then BULK_END with
 * the number of records sent.  The bucket holds its primary's state only if
 * every one of those records was received and applied, or dropped as not
 * newer than the state held: a count that does not match (batches dropped
 * as duplicates, say) fails the bulk, and the caller closes the connection
 * so that the sender reconnects and sends every bucket again; a newer
 * record that could not be applied (the stream table full, a state the
 * service refused) fails it too, but a new transfer would fail the same
 * way, so the connection stays.
 *
 * Pure: no sockets and no clock ('now' is passed in).  The caller owns the
 * connections and carries out the result of each message. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agentmap;
struct agp_msg;
struct replrx;
struct replrx_conn;
struct service_class;
struct sset;
struct streamtab;

/* What the caller is to do after replrx_handle(). */
enum replrx_action {
    REPLRX_NOTHING,             /* Nothing. */
    REPLRX_ACK,                 /* Send STATE_ACK with 'seq'. */
    REPLRX_BULK_DONE,           /* Bucket 'bucket' holds 'sender''s state. */
    REPLRX_BULK_FAILED,         /* Bucket 'bucket' does not: not warm. */
    REPLRX_CLOSE                /* Close the connection for 'reason'. */
};

struct replrx_result {
    enum replrx_action action;  /* What to do. */
    uint64_t seq;               /* REPLRX_ACK: batch to acknowledge. */
    uint32_t bucket;            /* REPLRX_BULK_*: the bucket. */
    const char *sender;         /* The connection's sender, or NULL. */
    const char *reason;         /* REPLRX_CLOSE, REPLRX_BULK_FAILED: why. */
    bool resend;                /* REPLRX_BULK_FAILED: records went
                                 * missing, so close the connection and
                                 * let the sender send every bucket
                                 * again. */
    struct replrx_conn *superseded; /* An older connection of the same
                                     * sender, to be closed, or NULL. */
    bool answer;                /* Newer states than some of the records
                                 * were marked dirty: replicate soon. */
};

/* Counters over every connection, since the receiver was created. */
struct replrx_stats {
    uint64_t n_applied;         /* Stream states applied. */
    uint64_t n_not_primary;     /* Of those, from a sender that is not the
                                 * bucket's primary in our map. */
    uint64_t n_stale;           /* States dropped: not newer than ours. */
    uint64_t n_answered;        /* Of those, older than ours: ours marked
                                 * dirty to answer them. */
    uint64_t n_dup_batches;     /* Batches ignored as duplicates. */
    uint64_t n_gaps;            /* Accepted batches that skipped numbers. */
    uint64_t n_table_full;      /* States not applied: table full. */
    uint64_t n_bad_states;      /* States the service refused. */
    uint64_t n_bulks;           /* Bulk transfers complete. */
    uint64_t n_bulks_failed;    /* Bulk transfers that were not. */
    uint64_t n_superseded;      /* Connections replaced by newer ones. */
    uint64_t n_refused_senders; /* Connections refused: a sender that is
                                 * no instance of our maps, or a peer that
                                 * is not the sender it names. */
    uint64_t n_unauthorized;    /* States refused: of a bucket their
                                 * sender holds no role for. */
    uint64_t n_over_quota;      /* States not applied: their sender's
                                 * quota of streams was full. */
};

struct replrx *replrx_create(struct streamtab *,
                             const struct service_class *);
void replrx_destroy(struct replrx *);
void replrx_set_map(struct replrx *, const struct agentmap *);
void replrx_set_quota(struct replrx *, size_t quota);
const struct replrx_stats *replrx_get_stats(const struct replrx *);
size_t replrx_n_conns(const struct replrx *);
size_t replrx_n_senders(const struct replrx *);

struct replrx_conn *replrx_conn_create(struct replrx *, void *aux,
                                       uint32_t addr, bool tls);
void replrx_conn_set_cert_names(struct replrx_conn *, const struct sset *);
void replrx_conn_destroy(struct replrx_conn *);
void *replrx_conn_aux(const struct replrx_conn *);
const char *replrx_conn_sender(const struct replrx_conn *);
struct replrx_conn *replrx_first_conn(const struct replrx *);
struct replrx_conn *replrx_find_sender(const struct replrx *,
                                       const char *sender);

void replrx_handle(struct replrx *, struct replrx_conn *,
                   const struct agp_msg *, long long int now,
                   struct replrx_result *);

#endif /* replrx.h */
