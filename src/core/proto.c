/*
 * Protocol, flag and packet type names (see ds/proto.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/proto.h"

static const struct {
    uint8_t num;
    const char *name;
} protos[] = {
    {1, "icmp"},   {2, "igmp"},   {4, "ipip"},     {6, "tcp"},  {17, "udp"},
    {41, "ipv6"},  {47, "gre"},   {50, "esp"},     {51, "ah"},  {58, "ipv6-icmp"},
    {89, "ospf"},  {103, "pim"},  {112, "vrrp"},   {132, "sctp"}, {33, "dccp"},
    {136, "udplite"},
};

const char *
proto_name(uint8_t proto)
{
    for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
        if (protos[i].num == proto)
            return protos[i].name;
    return NULL;
}

int
proto_parse(const char *s, uint8_t *proto)
{
    char *end;
    long v;

    for (size_t i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
        if (strcmp(protos[i].name, s) == 0) {
            *proto = protos[i].num;
            return 0;
        }
    }
    if (strcmp(s, "icmp6") == 0 || strcmp(s, "icmpv6") == 0) {
        *proto = PROTO_ICMPV6;
        return 0;
    }
    v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0 || v > 255)
        return -1;
    *proto = (uint8_t)v;
    return 0;
}

const char *
tcp_flags_format(uint8_t flags, char *buf)
{
    /* Wire order, lowest bit first, which reads as "SYN/ACK", "FIN/PSH/ACK". */
    static const char *names[8] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};
    size_t len = 0;

    buf[0] = '\0';
    if (flags == 0) {
        snprintf(buf, TCP_FLAGS_STRLEN, "NULL");
        return buf;
    }
    for (int i = 0; i < 8; i++) {
        if (flags & (1u << i))
            len += (size_t)snprintf(buf + len, TCP_FLAGS_STRLEN - len, "%s%s", len ? "/" : "",
                                    names[i]);
    }
    return buf;
}

static const char *icmp4_types[] = {
    [0] = "echo-reply",          [3] = "dest-unreach",     [4] = "source-quench",
    [5] = "redirect",            [8] = "echo-request",     [9] = "router-advert",
    [10] = "router-solicit",     [11] = "time-exceeded",   [12] = "param-problem",
    [13] = "timestamp-request",  [14] = "timestamp-reply", [17] = "mask-request",
    [18] = "mask-reply",
};

static const char *
icmp6_type(uint8_t type)
{
    switch (type) {
    case 1:
        return "dest-unreach";
    case 2:
        return "packet-too-big";
    case 3:
        return "time-exceeded";
    case 4:
        return "param-problem";
    case 128:
        return "echo-request";
    case 129:
        return "echo-reply";
    case 133:
        return "router-solicit";
    case 134:
        return "router-advert";
    case 135:
        return "neighbor-solicit";
    case 136:
        return "neighbor-advert";
    }
    return NULL;
}

uint16_t
ptype_of(uint8_t proto, uint8_t tcp_flags, uint8_t icmp_type)
{
    switch (proto) {
    case PROTO_TCP:
        return (uint16_t)(PTYPE_TCP << 8 | tcp_flags);
    case PROTO_UDP:
        return (uint16_t)(PTYPE_UDP << 8);
    case PROTO_ICMP:
        return (uint16_t)(PTYPE_ICMP << 8 | icmp_type);
    case PROTO_ICMPV6:
        return (uint16_t)(PTYPE_ICMPV6 << 8 | icmp_type);
    default:
        return (uint16_t)(PTYPE_OTHER << 8 | proto);
    }
}

const char *
ptype_format(uint16_t type, char *buf)
{
    uint8_t v = (uint8_t)type;
    char flags[TCP_FLAGS_STRLEN];
    const char *name;

    switch (type >> 8) {
    case PTYPE_TCP:
        if (v == 0)
            snprintf(buf, PTYPE_STRLEN, "TCP");
        else
            snprintf(buf, PTYPE_STRLEN, "TCP %s", tcp_flags_format(v, flags));
        break;
    case PTYPE_UDP:
        snprintf(buf, PTYPE_STRLEN, "UDP");
        break;
    case PTYPE_ICMP:
        name = v < sizeof(icmp4_types) / sizeof(icmp4_types[0]) ? icmp4_types[v] : NULL;
        if (name)
            snprintf(buf, PTYPE_STRLEN, "ICMP %s", name);
        else
            snprintf(buf, PTYPE_STRLEN, "ICMP type %u", v);
        break;
    case PTYPE_ICMPV6:
        name = icmp6_type(v);
        if (name)
            snprintf(buf, PTYPE_STRLEN, "ICMPv6 %s", name);
        else
            snprintf(buf, PTYPE_STRLEN, "ICMPv6 type %u", v);
        break;
    default:
        name = proto_name(v);
        if (name) {
            snprintf(buf, PTYPE_STRLEN, "%s", name);
            for (char *p = buf; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                    *p = (char)(*p - 'a' + 'A');
        } else {
            snprintf(buf, PTYPE_STRLEN, "proto %u", v);
        }
    }
    return buf;
}
