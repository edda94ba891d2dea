/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Fuzz target for the agent protocols (lib/agentproto): the bytes an agent
 * or the controller receives.
 *
 * The input is taken twice: as one frame, whatever its header says (so the
 * decoder sees lengths the framer would refuse), and as a byte stream cut
 * into frames by agp_frame_check(), as a receiver does.  Every frame that
 * decodes must encode back to the very same bytes (the decoder accepts
 * only what the encoder produces), and that encoding must frame and decode
 * to an equal message.  The sequence numbers of the STATE_UPDATEs on the
 * stream go through a sequence window, whose verdicts are checked. */

#include <config.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "agentproto.h"
#include "openvswitch/ofpbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks that the sequence window 'w' judges 'seq' right. */
static void
check_seq(struct agp_seq_window *w, uint64_t seq)
{
    struct agp_seq_window before = *w;
    enum agp_seq_verdict verdict = agp_seq_accept(w, seq);

    if (seq > before.last) {
        if (verdict != AGP_SEQ_ACCEPT || w->last != seq
            || w->n_accepted != before.n_accepted + 1
            || w->n_gaps != before.n_gaps + (seq - before.last > 1)) {
            abort();
        }
    } else if (verdict != AGP_SEQ_DUPLICATE || w->last != before.last
               || w->n_duplicates != before.n_duplicates + 1) {
        abort();
    }
}

/* Decodes the 'size' bytes at 'data' as one frame; if that works, checks
 * that the message encodes to the same bytes and decodes again to an equal
 * message.  Passes a STATE_UPDATE's sequence number to 'window' if it is
 * nonnull. */
static void
check_frame(const uint8_t *data, size_t size, struct agp_seq_window *window)
{
    struct agp_msg msg, again;
    struct ofpbuf b;
    size_t len;

    if (agp_decode(data, size, &msg)) {
        agp_msg_uninit(&msg);
        return;
    }

    ofpbuf_init(&b, size);
    if (agp_encode(&msg, &b) != AGP_OK
        || b.size != size || memcmp(b.data, data, size)) {
        abort();
    }
    if (agp_frame_check(b.data, b.size, &len) != AGP_FRAME_COMPLETE
        || len != size) {
        abort();
    }
    if (agp_decode(b.data, b.size, &again) != AGP_OK
        || !agp_msg_equal(&msg, &again) || !agp_msg_equal(&again, &msg)) {
        abort();
    }

    if (window && msg.type == AGP_STATE_UPDATE) {
        check_seq(window, msg.state_update.seq);
    }
    agp_msg_uninit(&again);
    agp_msg_uninit(&msg);
    ofpbuf_uninit(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct agp_seq_window window;

    check_frame(data, size, NULL);

    agp_seq_window_init(&window, 0);
    for (;;) {
        enum agp_frame_status status;
        size_t len;

        status = agp_frame_check(data, size, &len);
        if (status != AGP_FRAME_COMPLETE) {
            /* Incomplete: the length once known, and more than there is;
             * corrupt: no length. */
            if (status == AGP_FRAME_NEED_MORE
                ? len && (len < AGP_HEADER_LEN || len <= size)
                : len != 0) {
                abort();
            }
            break;
        }
        if (len < AGP_HEADER_LEN || len > size || len > AGP_MAX_LEN) {
            abort();
        }
        check_frame(data, len, &window);
        data += len;
        size -= len;
    }
    return 0;
}
