/*
 * IP address and CIDR parsing and formatting (see ds/addr.h).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/addr.h"

int
addr_parse(const char *s, struct addr *a)
{
    struct in_addr in4;

    if (strchr(s, ':') == NULL) {
        if (inet_pton(AF_INET, s, &in4) != 1)
            return -1;
        addr_from_v4(a, ntohl(in4.s_addr));
        return 0;
    }
    if (inet_pton(AF_INET6, s, a->b) != 1)
        return -1;
    return 0;
}

const char *
addr_format(const struct addr *a, char *buf)
{
    if (addr_is_v4(a)) {
        snprintf(buf, ADDR_STRLEN, "%u.%u.%u.%u", a->b[12], a->b[13], a->b[14], a->b[15]);
        return buf;
    }
    if (inet_ntop(AF_INET6, a->b, buf, ADDR_STRLEN) == NULL)
        snprintf(buf, ADDR_STRLEN, "?");
    return buf;
}

void
addr_mask(struct addr *a, unsigned len)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned bit = i * 8;

        if (bit >= len)
            a->b[i] = 0;
        else if (len - bit < 8)
            a->b[i] &= (uint8_t)(0xff << (8 - (len - bit)));
    }
}

int
cidr_parse(const char *s, struct cidr *c, char *why, size_t whylen)
{
    char host[ADDR_STRLEN + 8];
    char text[CIDR_STRLEN];
    const char *slash = strchr(s, '/');
    size_t hostlen = slash ? (size_t)(slash - s) : strlen(s);
    long len;
    unsigned maxlen;
    struct addr masked;

    if (hostlen == 0 || hostlen >= sizeof(host)) {
        snprintf(why, whylen, "not an IPv4 or IPv6 prefix");
        return -1;
    }
    memcpy(host, s, hostlen);
    host[hostlen] = '\0';
    if (addr_parse(host, &c->net) != 0) {
        snprintf(why, whylen, "'%s' is not an IPv4 or IPv6 address", host);
        return -1;
    }
    c->v4 = strchr(host, ':') == NULL;
    maxlen = c->v4 ? 32 : 128;
    if (slash == NULL) {
        len = maxlen;
    } else {
        char *end;

        errno = 0;
        len = strtol(slash + 1, &end, 10);
        if (!isdigit((unsigned char)slash[1]) || *end != '\0' || errno != 0 || len < 0) {
            snprintf(why, whylen, "prefix length '%s' is not a number", slash + 1);
            return -1;
        }
        if (len > (long)maxlen) {
            snprintf(why, whylen, "prefix length %ld is above %u", len, maxlen);
            return -1;
        }
    }
    c->len = (uint8_t)(c->v4 ? 96 + len : len);
    masked = c->net;
    addr_mask(&masked, c->len);
    if (memcmp(&masked, &c->net, sizeof(masked)) != 0) {
        struct cidr m = *c;

        m.net = masked;
        snprintf(why, whylen, "host bits are set (did you mean %s?)", cidr_format(&m, text));
        return -1;
    }
    return 0;
}

const char *
cidr_format(const struct cidr *c, char *buf)
{
    char text[ADDR_STRLEN];
    const char *a = text;

    /* An IPv6 prefix of the mapped space keeps its IPv6 form: "192.0.2.0/120" would not parse. */
    if (c->v4 || !addr_is_v4(&c->net))
        addr_format(&c->net, text);
    else if (inet_ntop(AF_INET6, c->net.b, text, sizeof(text)) == NULL)
        a = "?";
    snprintf(buf, CIDR_STRLEN, "%s/%u", a, c->v4 ? c->len - 96u : c->len);
    return buf;
}

bool
cidr_contains(const struct cidr *c, const struct addr *a)
{
    struct addr masked = *a;

    /* IPv4 is a family of its own: ::/0 is every IPv6 address, not IPv4 too. */
    if (!c->v4 && c->len < 96 && addr_is_v4(a))
        return false;
    addr_mask(&masked, c->len);
    return memcmp(&masked, &c->net, sizeof(masked)) == 0;
}
