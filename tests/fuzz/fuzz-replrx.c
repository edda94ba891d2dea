/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the receiving side of replication (agent/replrx): what
 * an agent does with the decoded STATE_UPDATE, BULK_BEGIN and BULK_END
 * messages of its replication connections, as a sequence.
 *
 * The input is a program: each step opens or closes a connection, or
 * delivers a message built from the next bytes (a sender among a few
 * names, small sequence numbers and buckets so that windows and bulks
 * collide, records with valid or arbitrary state blobs) to one of up to 8
 * connections, into a stream table small enough to fill.  A model of each
 * connection's window and bulks checks every result: a batch is
 * acknowledged exactly when its number is above the last accepted one, a
 * bulk whose record count does not match what arrived is never complete,
 * a connection never changes sender, and the receiver's bookkeeping
 * (connections, senders) matches what was opened and closed. */

#include <config.h>

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "agentproto.h"
#include "replrx.h"
#include "service.h"
#include "streamtab.h"
#include "util.h"
#include "fuzz-input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CONNS 8
#define MAX_RECORDS 4
#define N_BUCKETS 16

static const char *const senders[] = { "dlp-1", "dlp-2", "dlp-3", "x" };

/* The model of one connection. */
struct model {
    struct replrx_conn *c;      /* NULL if closed. */
    int sender;                 /* Index in 'senders', or -1. */
    uint64_t last;              /* Last batch number accepted. */
    bool in_bulk[N_BUCKETS * 2]; /* BULK_BEGIN seen, no BULK_END yet. */
    uint32_t received[N_BUCKETS * 2]; /* Records since BULK_BEGIN. */
};

/* Closes the connection of 'm'. */
static void
close_conn(struct model *m)
{
    replrx_conn_destroy(m->c);
    memset(m, 0, sizeof *m);
    m->sender = -1;
}

static size_t
count_open(const struct model *models)
{
    size_t n = 0;

    for (size_t i = 0; i < MAX_CONNS; i++) {
        n += models[i].c != NULL;
    }
    return n;
}

static void
deliver(struct replrx *rx, struct model *models, struct model *m,
        const struct service_class *svc, const uint8_t **data, size_t *size,
        long long int now)
{
    struct agp_record recs[MAX_RECORDS];
    uint8_t blobs[MAX_RECORDS][SERVICE_STATE_MAX];
    struct replrx_result r;
    struct agp_msg msg;
    uint8_t op = fuzz_next(data, size);
    int sender = fuzz_next(data, size) % ARRAY_SIZE(senders);
    uint64_t seq = fuzz_next(data, size);
    uint32_t bucket = fuzz_next(data, size) % (N_BUCKETS * 2);
    bool first;

    memset(&msg, 0, sizeof msg);
    switch (op % 4) {
    case 0:
    case 1:
        msg.type = AGP_STATE_UPDATE;
        msg.state_update.sender = senders[sender];
        msg.state_update.seq = seq ? seq : 1;
        msg.state_update.n_records = fuzz_next(data, size) % (MAX_RECORDS + 1);
        msg.state_update.records = recs;
        for (size_t i = 0; i < msg.state_update.n_records; i++) {
            uint8_t kind = fuzz_next(data, size);

            recs[i].bucket = (bucket + i * (kind >> 4)) % (N_BUCKETS * 2);
            agp_stream_key_init(&recs[i].key, 0x0a000001,
                                1000 + fuzz_next(data, size), 0x0a000002, 80,
                                IPPROTO_TCP);
            memset(blobs[i], 0, sizeof blobs[i]);
            if (kind & 1) {
                /* Arbitrary bytes, of an arbitrary length. */
                recs[i].state_len = fuzz_next(data, size);
                for (size_t j = 0; j < recs[i].state_len; j++) {
                    blobs[i][j] = fuzz_next(data, size);
                }
            } else {
                /* A valid counter state. */
                blobs[i][0] = 1;
                service_put_be64(&blobs[i][8], fuzz_next(data, size));
                recs[i].state_len = svc->blob_size;
            }
            recs[i].state = blobs[i];
        }
        break;
    case 2:
        msg.type = AGP_BULK_BEGIN;
        msg.bulk_begin.bucket = bucket;
        msg.bulk_begin.watermark = seq;
        break;
    case 3:
        msg.type = AGP_BULK_END;
        msg.bulk_end.bucket = bucket;
        msg.bulk_end.count = fuzz_next(data, size) % 8;
        break;
    }

    first = m->sender < 0;
    replrx_handle(rx, m->c, &msg, now, &r);
    if (r.superseded) {
        /* Only a first batch supersedes, and only a connection of the same
         * sender. */
        struct model *old = NULL;

        fuzz_check(msg.type == AGP_STATE_UPDATE && first);
        for (size_t i = 0; i < MAX_CONNS; i++) {
            if (models[i].c == r.superseded) {
                old = &models[i];
            }
        }
        fuzz_check(old && old != m && old->sender == sender);
    }

    switch (msg.type) {
    case AGP_STATE_UPDATE:
        if (!first && m->sender != sender) {
            fuzz_check(r.action == REPLRX_CLOSE);
            close_conn(m);
            break;
        }
        m->sender = sender;
        fuzz_check(r.sender && !strcmp(r.sender, senders[sender]));
        if (msg.state_update.seq > m->last) {
            fuzz_check(r.action == REPLRX_ACK
                       && r.seq == msg.state_update.seq);
            m->last = msg.state_update.seq;
            for (size_t i = 0; i < msg.state_update.n_records; i++) {
                m->received[recs[i].bucket]++;
            }
        } else {
            fuzz_check(r.action == REPLRX_NOTHING);
        }
        break;
    case AGP_BULK_BEGIN:
        if (first) {
            fuzz_check(r.action == REPLRX_CLOSE);
            close_conn(m);
            break;
        }
        fuzz_check(r.action == REPLRX_NOTHING);
        m->in_bulk[bucket] = true;
        m->received[bucket] = 0;
        m->last = seq;
        break;
    case AGP_BULK_END:
        if (first) {
            fuzz_check(r.action == REPLRX_CLOSE);
            close_conn(m);
            break;
        }
        fuzz_check(r.bucket == bucket);
        if (!m->in_bulk[bucket] || m->received[bucket] != msg.bulk_end.count) {
            fuzz_check(r.action == REPLRX_BULK_FAILED && r.resend);
        } else {
            fuzz_check(r.action == REPLRX_BULK_DONE
                  || (r.action == REPLRX_BULK_FAILED && !r.resend));
        }
        m->in_bulk[bucket] = false;
        break;
    default:
        abort();
    }
    if (r.superseded) {
        for (size_t i = 0; i < MAX_CONNS; i++) {
            if (models[i].c == r.superseded) {
                close_conn(&models[i]);
            }
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct service_class *svc = service_find("counter");
    struct streamtab *tab = streamtab_create(svc, NULL, 32, 1);
    struct replrx *rx = replrx_create(tab, svc);
    struct model models[MAX_CONNS];
    long long int now = 1000;

    for (size_t i = 0; i < MAX_CONNS; i++) {
        memset(&models[i], 0, sizeof models[i]);
        models[i].sender = -1;
    }
    replrx_set_n_buckets(rx, N_BUCKETS);
    while (size) {
        uint8_t op = fuzz_next(&data, &size);
        struct model *m = &models[(op >> 2) % MAX_CONNS];

        now += op & 3;
        if ((op & 3) == 0 && !m->c) {
            m->c = replrx_conn_create(rx, m);
        } else if ((op & 3) == 1 && m->c) {
            close_conn(m);
        } else if (m->c) {
            deliver(rx, models, m, svc, &data, &size, now);
        }
        fuzz_check(replrx_n_conns(rx) == count_open(models));
        fuzz_check(replrx_n_senders(rx) <= replrx_n_conns(rx));
        fuzz_check(streamtab_count(tab) <= 32);
    }
    for (size_t i = 0; i < MAX_CONNS; i++) {
        if (models[i].c) {
            close_conn(&models[i]);
        }
    }
    fuzz_check(replrx_n_conns(rx) == 0 && replrx_n_senders(rx) == 0);
    replrx_destroy(rx);
    streamtab_destroy(tab);
    return 0;
}
