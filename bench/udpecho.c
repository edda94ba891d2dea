/* UDP request/response latency for the replication-cost benchmark.
 *
 *   udpecho server ADDR PORT
 *       Sends every datagram back to where it came from, until killed.
 *   udpecho client DST PORT SPORT COUNT
 *       Sends COUNT 64-byte requests one at a time, each after the answer
 *       to the previous one (or a 500 ms timeout), and prints the round
 *       trip times: "rtt_us p50 P50 p99 P99 n N lost L". */
#include <arpa/inet.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static int
cmp_u64(const void *a_, const void *b_)
{
    uint64_t a = *(const uint64_t *) a_, b = *(const uint64_t *) b_;
    return a < b ? -1 : a > b;
}

int
main(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[1], "server")) {
        struct sockaddr_in a = { .sin_family = AF_INET,
                                 .sin_port = htons(atoi(argv[3])) };
        inet_pton(AF_INET, argv[2], &a.sin_addr);
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        if (bind(fd, (void *) &a, sizeof a)) {
            perror("udpecho server");
            return 1;
        }
        for (;;) {
            char buf[2048];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (void *) &from, &fl);
            if (n > 0) {
                sendto(fd, buf, n, 0, (void *) &from, fl);
            }
        }
    }
    if (argc != 6 || strcmp(argv[1], "client")) {
        fprintf(stderr, "usage: udpecho server ADDR PORT\n"
                "       udpecho client DST PORT SPORT COUNT\n");
        return 2;
    }
    struct sockaddr_in dst = { .sin_family = AF_INET,
                               .sin_port = htons(atoi(argv[3])) };
    struct sockaddr_in src = { .sin_family = AF_INET,
                               .sin_port = htons(atoi(argv[4])) };
    inet_pton(AF_INET, argv[2], &dst.sin_addr);
    int count = atoi(argv[5]);
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (void *) &src, sizeof src)
        || connect(fd, (void *) &dst, sizeof dst)) {
        perror("udpecho client");
        return 1;
    }
    uint64_t *rtt = calloc(count, sizeof *rtt);
    int n = 0, lost = 0;
    for (uint64_t seq = 0; seq < (uint64_t) count; seq++) {
        char buf[64] = { 0 }, in[2048];
        memcpy(buf, &seq, sizeof seq);
        uint64_t t0 = now_ns();
        send(fd, buf, sizeof buf, 0);
        for (;;) {
            struct pollfd p = { .fd = fd, .events = POLLIN };
            int left = 500 - (int) ((now_ns() - t0) / 1000000);
            if (left <= 0 || poll(&p, 1, left) <= 0) {
                lost++;
                break;
            }
            ssize_t len = recv(fd, in, sizeof in, 0);
            uint64_t got;
            if (len >= 8 && (memcpy(&got, in, 8), got == seq)) {
                rtt[n++] = now_ns() - t0;
                break;
            }
        }
    }
    qsort(rtt, n, sizeof *rtt, cmp_u64);
    printf("rtt_us p50 %.1f p99 %.1f n %d lost %d\n",
           n ? rtt[n / 2] / 1e3 : 0.0, n ? rtt[(n * 99) / 100] / 1e3 : 0.0,
           n, lost);
    return 0;
}
