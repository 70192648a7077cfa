/*
 * Names for protocol values as analysts read them: protocol names, TCP
 * flag sets ("SYN/ACK"), ICMP types and the paper's "type of packets"
 * ("TCP SYN", "UDP", "ICMP echo-request").
 */
#ifndef DS_PROTO_H
#define DS_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_ICMP 1
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMPV6 58
#define PROTO_SCTP 132
#define PROTO_DCCP 33
#define PROTO_UDPLITE 136

/* True for protocols whose records carry transport ports. */
static inline bool
proto_has_ports(uint8_t proto)
{
    return proto == PROTO_TCP || proto == PROTO_UDP || proto == PROTO_SCTP ||
           proto == PROTO_DCCP || proto == PROTO_UDPLITE;
}

static inline bool
proto_is_icmp(uint8_t proto)
{
    return proto == PROTO_ICMP || proto == PROTO_ICMPV6;
}

/* "tcp", "udp", "icmp", "ipv6-icmp", ... or NULL for an unnamed number. */
const char *proto_name(uint8_t proto);
/* Parses a name or a number 0..255; returns 0 or -1. */
int proto_parse(const char *s, uint8_t *proto);

#define TCP_FLAGS_STRLEN 40
/* "SYN", "SYN/ACK", "FIN/PSH/ACK"; "NULL" for no flag set. */
const char *tcp_flags_format(uint8_t flags, char *buf);

/*
 * Packet type, the paper's "type of pkts", packed in 16 bits: the class in
 * the high byte, a value (TCP flags, ICMP type, protocol) in the low byte.
 */
enum ptype_class {
    PTYPE_TCP = 1,
    PTYPE_UDP = 2,
    PTYPE_ICMP = 3,
    PTYPE_ICMPV6 = 4,
    PTYPE_OTHER = 5,
};

uint16_t ptype_of(uint8_t proto, uint8_t tcp_flags, uint8_t icmp_type);
#define PTYPE_STRLEN 48
/* "TCP SYN", "UDP", "ICMP echo-request", "GRE" (a named protocol), "proto 253" ... */
const char *ptype_format(uint16_t type, char *buf);

#endif
