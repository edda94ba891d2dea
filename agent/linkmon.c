/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#include <config.h>

#include "linkmon.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "openvswitch/ofpbuf.h"
#include "openvswitch/vlog.h"
#include "rtnetlink.h"
#include "util.h"

VLOG_DEFINE_THIS_MODULE(linkmon);

struct linkmon {
    int fd;                     /* NETLINK_ROUTE socket, RTMGRP_LINK. */
    int ifindex;                /* The interface watched. */
    char *iface;                /* Its name. */
    bool carrier;               /* Its carrier, as last heard. */
};

/* Returns true if interface flags 'flags' say the link has a carrier. */
static bool
flags_carrier__(unsigned int flags)
{
    return (flags & IFF_UP) && (flags & IFF_RUNNING);
}

/* Starts watching the carrier of interface 'iface'.  Returns 0 and stores
 * the monitor in '*lmp', or a positive errno and stores a message in
 * '*errorp' (for the caller to free). */
int
linkmon_open(const char *iface, struct linkmon **lmp, char **errorp)
{
    struct sockaddr_nl sa;
    struct ifreq ifr;
    struct linkmon *lm;
    int error;

    *lmp = NULL;
    *errorp = NULL;
    lm = xzalloc(sizeof *lm);
    lm->iface = xstrdup(iface);
    lm->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    NETLINK_ROUTE);
    if (lm->fd < 0) {
        error = errno;
        *errorp = xasprintf("netlink socket: %s", ovs_strerror(error));
        goto fail;
    }
    memset(&sa, 0, sizeof sa);
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK;
    if (bind(lm->fd, (struct sockaddr *) &sa, sizeof sa)) {
        error = errno;
        *errorp = xasprintf("netlink bind: %s", ovs_strerror(error));
        goto fail;
    }
    memset(&ifr, 0, sizeof ifr);
    ovs_strzcpy(ifr.ifr_name, iface, sizeof ifr.ifr_name);
    error = (ioctl(lm->fd, SIOCGIFINDEX, &ifr) < 0 ? errno
             : (lm->ifindex = ifr.ifr_ifindex,
                ioctl(lm->fd, SIOCGIFFLAGS, &ifr) < 0 ? errno : 0));
    if (error) {
        *errorp = xasprintf("%s: %s", iface, ovs_strerror(error));
        goto fail;
    }
    lm->carrier = flags_carrier__(ifr.ifr_flags);
    *lmp = lm;
    return 0;

fail:
    linkmon_close(lm);
    return error;
}

/* Stops the monitor 'lm' and frees it.  Accepts NULL. */
void
linkmon_close(struct linkmon *lm)
{
    if (lm) {
        if (lm->fd >= 0) {
            close(lm->fd);
        }
        free(lm->iface);
        free(lm);
    }
}

/* Returns the file descriptor to wait on for reading. */
int
linkmon_fd(const struct linkmon *lm)
{
    return lm->fd;
}

/* Reads every notification that is ready.  Returns true if the carrier
 * changed, and sets '*lostp' to true if it was lost at some point in what
 * was read (a down and up read together still count as a loss), else
 * leaves it alone.  A lost notification (the socket overran) counts as a
 * loss, since the link may have flapped. */
bool
linkmon_run(struct linkmon *lm, bool *lostp)
{
    uint64_t stub[4096 / 8];
    bool changed = false;

    for (int i = 0; i < 64; i++) {
        ssize_t n = recv(lm->fd, stub, sizeof stub, 0);
        struct nlmsghdr *nlh;
        size_t left;

        if (n < 0) {
            if (errno == ENOBUFS) {
                VLOG_WARN("%s: link notifications overran; treating it as "
                          "a carrier loss", lm->iface);
                *lostp = true;
                changed = true;
                continue;
            }
            break;
        }
        left = n;
        for (nlh = (struct nlmsghdr *) stub; NLMSG_OK(nlh, left);
             nlh = NLMSG_NEXT(nlh, left)) {
            struct rtnetlink_change change;
            struct ofpbuf buf;

            ofpbuf_use_const(&buf, nlh, nlh->nlmsg_len);
            if (!rtnetlink_parse(&buf, &change)
                || change.if_index != lm->ifindex) {
                continue;
            }
            bool carrier = (change.nlmsg_type == RTM_NEWLINK
                            && flags_carrier__(change.ifi_flags));
            if (!carrier) {
                *lostp = true;
            }
            if (carrier != lm->carrier) {
                VLOG_INFO("%s: carrier %s", lm->iface,
                          carrier ? "back" : "lost");
                lm->carrier = carrier;
                changed = true;
            }
        }
    }
    return changed;
}

/* Returns true if the interface had a carrier when last heard of. */
bool
linkmon_carrier(const struct linkmon *lm)
{
    return lm->carrier;
}
