/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include "ofpframe.h"

#include <stdint.h>

/* Examines the 'size' bytes at 'data', the head of a receive buffer.  If a
 * whole message is there, returns OFPFRAME_COMPLETE and stores its length in
 * '*msg_len'.  Returns OFPFRAME_NEED_MORE if fewer bytes than the header or
 * the message length have arrived (storing the length in '*msg_len' once the
 * header is complete, 0 before), and OFPFRAME_BAD_LENGTH if the header claims
 * a length shorter than itself. */
enum ofpframe_status
ofpframe_check(const void *data, size_t size, size_t *msg_len)
{
    const uint8_t *p = data;
    size_t len;

    *msg_len = 0;
    if (size < OFPFRAME_HEADER_LEN) {
        return OFPFRAME_NEED_MORE;
    }

    /* The length is bytes 2 and 3, in network byte order.  Being 16 bits,
     * it cannot exceed OFPFRAME_MAX_LEN. */
    len = ((size_t) p[2] << 8) | p[3];
    if (len < OFPFRAME_HEADER_LEN) {
        return OFPFRAME_BAD_LENGTH;
    }
    *msg_len = len;
    return size >= len ? OFPFRAME_COMPLETE : OFPFRAME_NEED_MORE;
}

/* Returns a short description of 'status' for logs. */
const char *
ofpframe_status_name(enum ofpframe_status status)
{
    switch (status) {
    case OFPFRAME_COMPLETE:
        return "complete";
    case OFPFRAME_NEED_MORE:
        return "incomplete";
    case OFPFRAME_BAD_LENGTH:
        return "header length below 8";
    }
    return "unknown";
}
