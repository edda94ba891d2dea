/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef REPLRX_H
#define REPLRX_H 1

/* The receiving side of state replication: what an agent does with the
 * STATE_UPDATE, BULK_BEGIN and BULK_END messages that the primaries of its
 * buckets send it.
 *
 * Every incoming replication connection is a "struct replrx_conn".  Its
 * first STATE_UPDATE names the sender, and the name may not change on that
 * connection.  The sequence window (agp_seq_window) belongs to the
 * connection, not to the sender's name: a sender that restarts, or that
 * reconnects, opens a new connection and numbers its batches from 1 again,
 * so a window kept by name would take every batch of the new process for a
 * duplicate.  A newer connection from the same sender supersedes an older
 * one, which the caller then closes: whatever the older one still carries
 * is older than the bulk transfer that every new connection starts with.
 *
 * A bulk transfer of a bucket is BULK_BEGIN (the window restarts at its
 * watermark), the bucket's records in ordinary batches, then BULK_END with
 * the number of records sent.  The bucket holds its primary's state only if
 * every one of those records was received and applied: a count that does
 * not match (batches dropped as duplicates, say) fails the bulk, and the
 * caller closes the connection so that the sender reconnects and sends
 * every bucket again; a record that could not be applied (the stream table
 * full, a state the service refused) fails it too, but a new transfer
 * would fail the same way, so the connection stays.
 *
 * Pure: no sockets and no clock ('now' is passed in).  The caller owns the
 * connections and carries out the result of each message. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct agp_msg;
struct replrx;
struct replrx_conn;
struct service_class;
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
};

/* Counters over every connection, since the receiver was created. */
struct replrx_stats {
    uint64_t n_applied;         /* Stream states applied. */
    uint64_t n_dup_batches;     /* Batches ignored as duplicates. */
    uint64_t n_gaps;            /* Accepted batches that skipped numbers. */
    uint64_t n_table_full;      /* States not applied: table full. */
    uint64_t n_bad_states;      /* States the service refused. */
    uint64_t n_bulks;           /* Bulk transfers complete. */
    uint64_t n_bulks_failed;    /* Bulk transfers that were not. */
    uint64_t n_superseded;      /* Connections replaced by newer ones. */
};

struct replrx *replrx_create(struct streamtab *,
                             const struct service_class *);
void replrx_destroy(struct replrx *);
void replrx_set_n_buckets(struct replrx *, size_t n_buckets);
const struct replrx_stats *replrx_get_stats(const struct replrx *);
size_t replrx_n_conns(const struct replrx *);
size_t replrx_n_senders(const struct replrx *);

struct replrx_conn *replrx_conn_create(struct replrx *, void *aux);
void replrx_conn_destroy(struct replrx_conn *);
void *replrx_conn_aux(const struct replrx_conn *);
const char *replrx_conn_sender(const struct replrx_conn *);
struct replrx_conn *replrx_first_conn(const struct replrx *);

void replrx_handle(struct replrx *, struct replrx_conn *,
                   const struct agp_msg *, long long int now,
                   struct replrx_result *);

#endif /* replrx.h */
