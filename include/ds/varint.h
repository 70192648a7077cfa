/*
 * Unsigned LEB128 varints: the group counts of the store and the exact
 * sets of the distinct counters are written with them.
 */
#ifndef DS_VARINT_H
#define DS_VARINT_H

#include <stddef.h>
#include <stdint.h>

/* Writes v at p (NULL: only counts); returns the bytes it takes (1 to 10). */
static inline size_t
varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;

    do {
        uint8_t b = v & 0x7f;

        v >>= 7;
        if (p != NULL)
            p[n] = (uint8_t)(b | (v ? 0x80 : 0));
        n++;
    } while (v);
    return n;
}

/* Reads *v at p[*pos] (len bytes in all), advancing *pos; 0, or -1 if cut short or too long. */
static inline int
varint_get(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    unsigned shift = 0;

    *v = 0;
    while (*pos < len && shift < 64) {
        uint8_t b = p[(*pos)++];

        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
        shift += 7;
    }
    return -1;
}

#endif
