/*
 * Hashing for the hot path: xxHash's XXH3 for byte strings, and a
 * bijective 64-bit mixer (MurmurHash3's finaliser) for values that fit in
 * 64 bits, so that distinct IPv4 addresses never share a hash.
 */
#ifndef DS_HASH_H
#define DS_HASH_H

#include <stddef.h>
#include <stdint.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "ds/addr.h"

static inline uint64_t
hash_mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* The inverse of hash_mix64(): hash_unmix64(hash_mix64(x)) == x. */
static inline uint64_t
hash_unmix64(uint64_t x)
{
    /* Modular inverses of the two multipliers; x ^= x >> 33 is its own inverse. */
    x ^= x >> 33;
    x *= 0x9cb4b2f8129337dbULL;
    x ^= x >> 33;
    x *= 0x4f74430c22a54005ULL;
    x ^= x >> 33;
    return x;
}

static inline uint64_t
hash_bytes(const void *p, size_t len)
{
    return XXH3_64bits(p, len);
}

/*
 * The value that stands for an address in distinct counters: the
 * IPv4-mapped address itself for IPv4, so that addresses close together stay
 * close (for block bitmaps and compact storage), and for IPv6 a 63-bit hash
 * with the top bit set, which no IPv4 value has.
 */
static inline uint64_t
addr_value(const struct addr *a)
{
    if (addr_is_v4(a))
        return 0xffff00000000ULL | addr_v4(a);
    return 0x8000000000000000ULL | (XXH3_64bits(a->b, 16) >> 1);
}

#endif
