/*
 * A minimal pcap reader for tests and test tools: the UDP datagrams of a
 * capture (classic pcap, micro- or nanosecond, either byte order; Ethernet
 * with VLAN tags, Linux cooked v1/v2, raw IP or BSD loopback; IPv4 and IPv6
 * with fragments reassembled when they arrive in order).
 */
#ifndef TESTS_PCAP_H
#define TESTS_PCAP_H

#include <stddef.h>
#include <stdint.h>

struct pcap_udp {
    int family;             /* 4 or 6 */
    uint8_t src[16];        /* IPv4 in the first 4 bytes */
    uint8_t dst[16];
    uint16_t sport;
    uint16_t dport;
    int64_t ts_us;          /* capture time, microseconds since the epoch */
    const uint8_t *payload; /* borrowed for the duration of the callback */
    size_t len;
};

/* Return non-zero to stop reading. */
typedef int (*pcap_udp_fn)(void *ctx, const struct pcap_udp *d);

/*
 * Calls fn for every UDP datagram of the capture at path, in order.
 * Returns the number of datagrams, or -1 with a message in err (of errlen
 * bytes) if the file cannot be read or is not a pcap file.
 */
long pcap_each_udp(const char *path, pcap_udp_fn fn, void *ctx, char *err, size_t errlen);

#endif
