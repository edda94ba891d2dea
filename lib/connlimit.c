/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>
#include "connlimit.h"

/* Returns what 'limits' say of a new connection on a listener that has
 * 'n_conns' open connections, 'n_pending' of them pending. */
enum connlimit_verdict
connlimit_admit(const struct connlimit *limits, size_t n_pending,
                size_t n_conns)
{
    if (n_pending < limits->max_pending && n_conns < limits->max_conns) {
        return CONNLIMIT_ADMIT;
    }
    return n_pending ? CONNLIMIT_EVICT : CONNLIMIT_REFUSE;
}

/* Returns the most input bytes a connection may hold under 'limits',
 * 'authenticated' or not: one frame of the longest allowed length. */
size_t
connlimit_max_input(const struct connlimit *limits, bool authenticated)
{
    return authenticated ? limits->max_frame : limits->max_pending_frame;
}

/* Returns true if a frame of 'frame_len' bytes is allowed under 'limits'
 * on a connection that is 'authenticated' or not. */
bool
connlimit_frame_ok(const struct connlimit *limits, bool authenticated,
                   size_t frame_len)
{
    return frame_len <= connlimit_max_input(limits, authenticated);
}

/* Returns true if 'backlog' bytes may wait to be sent to a peer under
 * 'limits'. */
bool
connlimit_backlog_ok(const struct connlimit *limits, size_t backlog)
{
    return !limits->max_backlog || backlog <= limits->max_backlog;
}
