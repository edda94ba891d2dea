/* Sequence-numbered UDP stream for the failover benchmark.
 *
 *   udpseq send DST PORT SPORT RATE SECONDS
 *       Sends RATE packets per second (paced by absolute deadlines) for
 *       SECONDS; each payload is a 64-bit sequence number (from 0) and the
 *       CLOCK_REALTIME send time in ns, padded to 64 bytes.  Prints "sent N seconds S" on exit.
 *   udpseq recv ADDR PORT OUTFILE READYFILE IDLE_MS MAX_SECONDS
 *       Receives until IDLE_MS pass without a packet after the first one
 *       (or MAX_SECONDS in all) and writes one record per packet to
 *       OUTFILE: the sequence number, the send time and the CLOCK_REALTIME
 *       arrival time in ns, all 64-bit native.  Prints "received N". */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int
do_send(int argc, char **argv)
{
    if (argc != 7) {
        return 2;
    }
    struct sockaddr_in dst = { .sin_family = AF_INET,
                               .sin_port = htons(atoi(argv[3])) };
    struct sockaddr_in src = { .sin_family = AF_INET,
                               .sin_port = htons(atoi(argv[4])) };
    double rate = atof(argv[5]), seconds = atof(argv[6]);
    inet_pton(AF_INET, argv[2], &dst.sin_addr);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (void *) &src, sizeof src) || connect(fd, (void *) &dst,
                                                       sizeof dst)) {
        perror("udpseq send");
        return 1;
    }
    uint64_t interval = (uint64_t) (1e9 / rate);
    uint64_t n = (uint64_t) (rate * seconds);
    uint64_t start = now_ns(CLOCK_MONOTONIC), seq;
    char buf[64] = { 0 };
    for (seq = 0; seq < n; seq++) {
        uint64_t due = start + seq * interval;
        struct timespec ts = { due / 1000000000ull, due % 1000000000ull };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)
               == EINTR) {
            continue;
        }
        uint64_t t = now_ns(CLOCK_REALTIME);
        memcpy(buf, &seq, sizeof seq);
        memcpy(buf + 8, &t, sizeof t);
        /* ENOBUFS or ECONNREFUSED (an ICMP error) must not stop the
         * stream: the packet is simply lost. */
        (void) send(fd, buf, sizeof buf, 0);
    }
    double took = (now_ns(CLOCK_MONOTONIC) - start) / 1e9;
    printf("sent %llu seconds %.4f\n", (unsigned long long) n, took);
    return 0;
}

static int
do_recv(int argc, char **argv)
{
    if (argc != 8) {
        return 2;
    }
    struct sockaddr_in a = { .sin_family = AF_INET,
                             .sin_port = htons(atoi(argv[3])) };
    inet_pton(AF_INET, argv[2], &a.sin_addr);
    int idle_ms = atoi(argv[6]);
    double max_s = atof(argv[7]);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1, rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (bind(fd, (void *) &a, sizeof a)) {
        perror("udpseq recv");
        return 1;
    }
    FILE *out = fopen(argv[4], "wb");
    FILE *ready = fopen(argv[5], "w");
    if (!out || !ready) {
        perror("udpseq recv");
        return 1;
    }
    fclose(ready);
    uint64_t start = now_ns(CLOCK_MONOTONIC), n = 0;
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int timeout = n ? idle_ms : 1000;
        int r = poll(&p, 1, timeout);
        if ((now_ns(CLOCK_MONOTONIC) - start) / 1e9 > max_s) {
            break;
        }
        if (r == 0) {
            if (n) {
                break;
            }
            continue;
        }
        char buf[2048];
        ssize_t len = recv(fd, buf, sizeof buf, 0);
        if (len < 16) {
            continue;
        }
        uint64_t rec[3];
        memcpy(&rec[0], buf, 16);
        rec[2] = now_ns(CLOCK_REALTIME);
        fwrite(rec, sizeof rec, 1, out);
        n++;
    }
    fclose(out);
    printf("received %llu\n", (unsigned long long) n);
    return 0;
}

int
main(int argc, char **argv)
{
    int r = 2;
    if (argc > 1 && !strcmp(argv[1], "send")) {
        r = do_send(argc, argv);
    } else if (argc > 1 && !strcmp(argv[1], "recv")) {
        r = do_recv(argc, argv);
    }
    if (r == 2) {
        fprintf(stderr, "usage: udpseq send DST PORT SPORT RATE SECONDS\n"
                "       udpseq recv ADDR PORT OUT READY IDLE_MS MAX_S\n");
    }
    return r;
}
