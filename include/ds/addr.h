/*
 * IP addresses and CIDR prefixes.  Every address is held as 16 bytes in
 * network order; an IPv4 address is stored IPv4-mapped (::ffff:a.b.c.d), so
 * one comparison covers both families and an IPv4 /N is a /(96+N).
 */
#ifndef DS_ADDR_H
#define DS_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define ADDR_STRLEN 48  /* enough for any IPv6 text form */
#define CIDR_STRLEN 56  /* an address, a slash and a length */

struct addr {
    uint8_t b[16];
};

struct cidr {
    struct addr net;    /* host bits are zero */
    uint8_t len;        /* 0..128, in the IPv4-mapped space for IPv4 */
    bool v4;            /* written as an IPv4 prefix */
};

static inline bool
addr_is_v4(const struct addr *a)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    return memcmp(a->b, mapped, 12) == 0;
}

/*
 * Stores a host-order IPv4 address as IPv4-mapped, in two 8-byte stores
 * (inline: the reader makes two a record): a load of it soon after
 * (addr_is_v4(), the darknet's filter) can be served from them, which one
 * spanning ten byte stores cannot.
 */
static inline void
addr_from_v4(struct addr *a, uint32_t v4)
{
    uint64_t lo = 0, hi;

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    hi = 0xffff0000ULL | (uint64_t)__builtin_bswap32(v4) << 32;
#else
    hi = 0xffff00000000ULL | v4;
#endif
    memcpy(a->b, &lo, 8);
    memcpy(a->b + 8, &hi, 8);
}

static inline uint32_t
addr_v4(const struct addr *a)
{
    return ((uint32_t)a->b[12] << 24) | ((uint32_t)a->b[13] << 16) |
           ((uint32_t)a->b[14] << 8) | a->b[15];
}

/* Parses an IPv4 or IPv6 address; returns 0, or -1 if s is not one. */
int addr_parse(const char *s, struct addr *a);
/* Writes the usual text form; buf must hold ADDR_STRLEN bytes. */
const char *addr_format(const struct addr *a, char *buf);

/*
 * Parses "a.b.c.d/N" or "x::/N" (a bare address is a host prefix).
 * Returns 0, or -1 with a reason in why ("prefix length 33 is above 32",
 * "host bits are set (did you mean 192.0.2.0/24?)").
 */
int cidr_parse(const char *s, struct cidr *c, char *why, size_t whylen);
/* buf must hold CIDR_STRLEN bytes. */
const char *cidr_format(const struct cidr *c, char *buf);
/*
 * Is a in c?  An IPv6 prefix wider than the IPv4-mapped space (::/0, ::/64)
 * contains no IPv4 address: the families stay apart as users write them.
 */
bool cidr_contains(const struct cidr *c, const struct addr *a);
/* Clears the bits of a after the first len bits (len in 0..128). */
void addr_mask(struct addr *a, unsigned len);

#endif
