/* Many UDP streams, one datagram each, for the megaflow benchmark.
 *
 *   udpfan IFACE DST_MAC DST_IP DST_PORT FIRST N RATE
 *       Sends N Ethernet frames on IFACE (a packet socket; the source MAC
 *       is IFACE's), RATE a second (paced by absolute deadlines, in bursts
 *       of at most 64), each a UDP datagram to DST_IP:DST_PORT from a
 *       5-tuple of its own: stream FIRST + i comes from address
 *       10.128.0.0 + FIRST + i and port 1024 + (FIRST + i) % 64000.
 *       Prints "sent N seconds S" on exit.
 *
 * Distinct addresses as well as ports: both hashes that the megaflow
 * benchmark compares then see every stream as a stream of its own (the
 * userspace datapath's symmetric hash leaves UDP ports out). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint64_t
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint16_t
ip_csum(const uint8_t *p, size_t len)
{
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (p[i] << 8) | p[i + 1];
    }
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return ~sum & 0xffff;
}

static int
parse_mac(const char *s, uint8_t mac[6])
{
    unsigned int b[6];
    if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
               &b[5]) != 6) {
        return -1;
    }
    for (int i = 0; i < 6; i++) {
        mac[i] = b[i];
    }
    return 0;
}

int
main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: udpfan IFACE DST_MAC DST_IP DST_PORT FIRST N "
                "RATE\n");
        return 2;
    }
    const char *iface = argv[1];
    uint8_t dst_mac[6];
    struct in_addr dst_ip;
    uint16_t dport = atoi(argv[4]);
    uint64_t first = strtoull(argv[5], NULL, 0);
    uint64_t n = strtoull(argv[6], NULL, 0);
    double rate = atof(argv[7]);
    if (parse_mac(argv[2], dst_mac) || !inet_pton(AF_INET, argv[3], &dst_ip)
        || rate <= 0) {
        fprintf(stderr, "udpfan: bad arguments\n");
        return 2;
    }

    int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
    if (fd < 0) {
        perror("udpfan: socket");
        return 1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", iface);
    if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0) {
        perror("udpfan: SIOCGIFINDEX");
        return 1;
    }
    int ifindex = ifr.ifr_ifindex;
    if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
        perror("udpfan: SIOCGIFHWADDR");
        return 1;
    }
    struct sockaddr_ll sll = { .sll_family = AF_PACKET,
                               .sll_protocol = htons(ETH_P_IP),
                               .sll_ifindex = ifindex, .sll_halen = 6 };
    memcpy(sll.sll_addr, dst_mac, 6);

    /* Ethernet 14 + IPv4 20 + UDP 8 + 22 bytes of payload = 64. */
    uint8_t frame[64];
    memset(frame, 0, sizeof frame);
    memcpy(frame, dst_mac, 6);
    memcpy(frame + 6, ifr.ifr_hwaddr.sa_data, 6);
    frame[12] = 0x08;
    frame[13] = 0x00;
    uint8_t *ip = frame + 14, *udp = ip + 20;
    ip[0] = 0x45;
    ip[2] = 0;
    ip[3] = 50;                 /* Total length: 20 + 8 + 22. */
    ip[6] = 0x40;               /* Don't fragment. */
    ip[8] = 64;
    ip[9] = IPPROTO_UDP;
    memcpy(ip + 16, &dst_ip, 4);
    udp[2] = dport >> 8;
    udp[3] = dport & 0xff;
    udp[4] = 0;
    udp[5] = 30;                /* UDP length: 8 + 22. */

    uint64_t interval = (uint64_t) (1e9 / rate);
    uint64_t start = now_ns(), i;
    for (i = 0; i < n; i++) {
        if (i % 64 == 0) {
            uint64_t due = start + i * interval;
            struct timespec ts = { due / 1000000000ull,
                                   due % 1000000000ull };
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL)
                   == EINTR) {
                continue;
            }
        }
        uint64_t s = first + i;
        uint32_t src = htonl(0x0a800000u + (uint32_t) s);
        uint16_t sport = 1024 + s % 64000;
        memcpy(ip + 12, &src, 4);
        ip[10] = ip[11] = 0;
        uint16_t c = ip_csum(ip, 20);
        ip[10] = c >> 8;
        ip[11] = c & 0xff;
        udp[0] = sport >> 8;
        udp[1] = sport & 0xff;
        memcpy(udp + 8, &s, sizeof s);
        while (sendto(fd, frame, sizeof frame, 0, (void *) &sll, sizeof sll)
               < 0) {
            if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
                perror("udpfan: sendto");
                return 1;
            }
            usleep(100);
        }
    }
    printf("sent %llu seconds %.4f\n", (unsigned long long) n,
           (now_ns() - start) / 1e9);
    return 0;
}
