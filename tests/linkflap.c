/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* linkflap: takes a network interface down and up again, COUNT times, with
 * millisecond precision, and prints when each change took effect.
 *
 *   linkflap IFACE COUNT DOWN_S UP_S
 *
 * Each flap clears IFF_UP on IFACE (SIOCSIFFLAGS, as "ip link set IFACE
 * down" does), sleeps DOWN_S seconds from the moment the kernel has done
 * it, sets IFF_UP again, and then (but after the last flap) keeps the
 * link up UP_S seconds.  The sleeps are absolute CLOCK_MONOTONIC
 * deadlines; nothing else runs between the two changes (two "ip"
 * processes and a Python sleep in between made a 5 ms down last 8 to 12
 * ms on an idle machine).  It asks for SCHED_FIFO (priority 1) and locks
 * its memory, so that on a busy machine the wake-up for the "up" is not
 * late behind the threads that forward the traffic; it runs without them
 * if refused (then "rt 0" on stderr).
 *
 * One line per flap on stdout, times in CLOCK_REALTIME nanoseconds:
 *
 *   flap N down_call T down_done T up_call T up_done T down_ns D
 *
 * where down_ns = up_call - down_done is how long the link was certainly
 * down (down_done - down_call and up_done - up_call are the kernel's
 * time for each change, usually a few microseconds).  Exit status 0, or
 * 1 with a message if a change failed. */

#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_ns(clockid_t clk)
{
    struct timespec ts;

    clock_gettime(clk, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void
sleep_until(uint64_t due)
{
    struct timespec ts = { due / 1000000000ull, due % 1000000000ull };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)
           == EINTR) {
        continue;
    }
}

/* Sets or clears IFF_UP on the interface named in 'ifr'. */
static int
set_up(int fd, struct ifreq *ifr, int up)
{
    if (ioctl(fd, SIOCGIFFLAGS, ifr) < 0) {
        return -1;
    }
    if (up) {
        ifr->ifr_flags |= IFF_UP;
    } else {
        ifr->ifr_flags &= ~IFF_UP;
    }
    return ioctl(fd, SIOCSIFFLAGS, ifr);
}

int
main(int argc, char **argv)
{
    struct ifreq ifr;
    int count, fd;
    double down_s, up_s;

    if (argc != 5 || strlen(argv[1]) >= IFNAMSIZ) {
        fprintf(stderr, "usage: linkflap IFACE COUNT DOWN_S UP_S\n");
        return 2;
    }
    count = atoi(argv[2]);
    down_s = atof(argv[3]);
    up_s = atof(argv[4]);
    if (count < 1 || down_s < 0 || up_s < 0) {
        fprintf(stderr, "linkflap: COUNT at least 1, times not negative\n");
        return 2;
    }
    fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) {
        perror("linkflap: socket");
        return 1;
    }
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, argv[1]);
    /* No page fault between the two changes, and no wait for a CPU. */
    (void) mlockall(MCL_CURRENT | MCL_FUTURE);
    struct sched_param sp = { .sched_priority = 1 };
    if (sched_setscheduler(0, SCHED_FIFO, &sp) < 0) {
        fprintf(stderr, "linkflap: rt 0 (%s)\n", strerror(errno));
    }
    setvbuf(stdout, NULL, _IOLBF, 0);

    for (int i = 0; i < count; i++) {
        uint64_t t[4], mono;

        t[0] = now_ns(CLOCK_REALTIME);
        if (set_up(fd, &ifr, 0) < 0) {
            fprintf(stderr, "linkflap: %s down: %s\n", argv[1],
                    strerror(errno));
            return 1;
        }
        mono = now_ns(CLOCK_MONOTONIC);
        t[1] = now_ns(CLOCK_REALTIME);
        sleep_until(mono + (uint64_t) (down_s * 1e9));
        t[2] = now_ns(CLOCK_REALTIME);
        if (set_up(fd, &ifr, 1) < 0) {
            fprintf(stderr, "linkflap: %s up: %s\n", argv[1],
                    strerror(errno));
            return 1;
        }
        mono = now_ns(CLOCK_MONOTONIC);
        t[3] = now_ns(CLOCK_REALTIME);
        printf("flap %d down_call %llu down_done %llu up_call %llu "
               "up_done %llu down_ns %llu\n", i + 1,
               (unsigned long long) t[0], (unsigned long long) t[1],
               (unsigned long long) t[2], (unsigned long long) t[3],
               (unsigned long long) (t[2] - t[1]));
        if (i + 1 < count) {
            sleep_until(mono + (uint64_t) (up_s * 1e9));
        }
    }
    close(fd);
    return 0;
}
