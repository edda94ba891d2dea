/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef OFPFRAME_H
#define OFPFRAME_H 1

/* OpenFlow message framing on a byte stream.
 *
 * Every OpenFlow message starts with an 8-byte header whose length field
 * covers the whole message.  ofpframe_check() tells, for the bytes at the
 * head of a receive buffer, whether a whole message is there, more bytes are
 * needed, or the stream is corrupt and cannot be resynchronized. */

#include <stddef.h>

#define OFPFRAME_HEADER_LEN 8
#define OFPFRAME_MAX_LEN 65535

enum ofpframe_status {
    OFPFRAME_COMPLETE,          /* A whole message is at the head. */
    OFPFRAME_NEED_MORE,         /* The message is not complete yet. */
    OFPFRAME_BAD_LENGTH         /* The header's length is below 8. */
};

enum ofpframe_status ofpframe_check(const void *data, size_t size,
                                    size_t *msg_len);
const char *ofpframe_status_name(enum ofpframe_status);

#endif /* ofpframe.h */
