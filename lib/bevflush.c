/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "bevflush.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <string.h>
#include <sys/socket.h>
#include "util.h"

void
bevflush_now(struct bufferevent *bev)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    struct evbuffer_iovec vec[16];
    struct msghdr msg;
    int n;

    /* The bufferevent holds the start of its output frozen, so read it in
     * place rather than drain or copy it. */
    n = evbuffer_peek(out, -1, NULL, vec, ARRAY_SIZE(vec));
    if (n > 0 && bufferevent_getfd(bev) >= 0) {
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = (struct iovec *) vec;
        msg.msg_iovlen = MIN(n, ARRAY_SIZE(vec));
        ignore(sendmsg(bufferevent_getfd(bev), &msg,
                       MSG_DONTWAIT | MSG_NOSIGNAL));
    }
}
