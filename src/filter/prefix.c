/*
 * Darknet prefix matching (see ds/prefix.h).
 *
 * Every prefix is a closed range [lo, hi] of 128-bit addresses.  All range
 * ends cut the address space into elementary intervals; each interval gets
 * the class of the prefixes covering it (excluded wins over darknet), and
 * neighbours of the same class merge.  A lookup is a binary search for the
 * last interval starting at or below the address.
 *
 * Every flow's destination goes through here, IPv4 nearly always: a table
 * of the 65,536 IPv4 /16 blocks gives the class of a block inside one
 * interval at once, and for a block that intervals cut, one of its 256
 * /24s; only an address whose /24 is cut (a prefix longer than /24) is
 * searched for.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ds/prefix.h"
#include "ds/xmem.h"

typedef unsigned __int128 u128;

struct range {
    u128 start;
    enum prefix_class cls;
};

/* The same ranges cut to the IPv4-mapped space, for the common case. */
struct range4 {
    uint32_t start;
    enum prefix_class cls;
};

#define BY16_CUT 0x80000000u    /* by16: | the number of the block's /24 table */
#define BY24_SEARCH 0xff        /* by24: the /24 is cut, search */

struct prefix_set {
    struct range *r;    /* sorted by start; r[0].start == 0 */
    size_t n;
    struct range4 *r4;  /* sorted; r4[0].start == 0 */
    size_t n4;
    uint32_t *by16;     /* per IPv4 /16: its class, or BY16_CUT | its /24 table */
    uint8_t (*by24)[256];   /* per cut /16: the class of each /24, or BY24_SEARCH */
    size_t n24;
};

/* Byte by byte, so that it holds on a big-endian host too. */
static u128
to_u128(const struct addr *a)
{
    u128 v = 0;

    for (int i = 0; i < 16; i++)
        v = v << 8 | a->b[i];
    return v;
}

#define V4_BASE ((u128)0xffff << 32)

static void
cidr_bounds(const struct cidr *c, u128 *lo, u128 *hi)
{
    u128 host = c->len >= 128 ? 0 : (~(u128)0 >> c->len);

    *lo = to_u128(&c->net);
    *hi = *lo | host;
}

static int
cmp_u128(const void *a, const void *b)
{
    u128 x = *(const u128 *)a, y = *(const u128 *)b;

    return x < y ? -1 : x > y;
}

static void
from_u128(u128 v, struct addr *a)
{
    for (int i = 15; i >= 0; i--, v >>= 8)
        a->b[i] = (uint8_t)v;
}

/* Is v in one of the prefixes?  cidr_contains() decides, families and all. */
static int
covered(const struct cidr *list, size_t n, u128 v)
{
    struct addr a;

    from_u128(v, &a);
    for (size_t i = 0; i < n; i++)
        if (cidr_contains(&list[i], &a))
            return 1;
    return 0;
}

/* The last interval starting at or below v (r[0].start is 0). */
static size_t
search(const struct prefix_set *set, u128 v)
{
    size_t lo = 0, hi = set->n;

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (set->r[mid].start <= v)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The last IPv4 interval starting at or below v4. */
static size_t
search4(const struct prefix_set *set, uint32_t v4)
{
    size_t lo = 0, hi = set->n4;

    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (set->r4[mid].start <= v4)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/*
 * The class of the IPv4 block [start, start + size), if one interval holds
 * it whole, else -1.
 */
static int
block_class(const struct prefix_set *set, uint32_t start, uint32_t size)
{
    size_t i = search4(set, start);

    if (i + 1 < set->n4 && set->r4[i + 1].start <= start + (size - 1))
        return -1;
    return (int)set->r4[i].cls;
}

static void
build_tables(struct prefix_set *set)
{
    set->by16 = xcalloc(65536, sizeof(*set->by16));
    for (uint32_t b = 0; b < 65536; b++) {
        int c = block_class(set, b << 16, 1u << 16);

        if (c >= 0) {
            set->by16[b] = (uint32_t)c;
            continue;
        }
        /* at most two cut blocks a prefix: a table each */
        set->by24 = xreallocarray(set->by24, set->n24 + 1, sizeof(*set->by24));
        for (uint32_t k = 0; k < 256; k++) {
            c = block_class(set, b << 16 | k << 8, 256);
            set->by24[set->n24][k] = c >= 0 ? (uint8_t)c : BY24_SEARCH;
        }
        set->by16[b] = BY16_CUT | (uint32_t)set->n24++;
    }
}

struct prefix_set *
prefix_set_new(const struct cidr *dark, size_t n_dark, const struct cidr *exclude,
               size_t n_exclude)
{
    struct prefix_set *set = xcalloc(1, sizeof(*set));
    size_t n_cuts = 0, total = n_dark + n_exclude;
    u128 *cuts = xcalloc(2 * total + 3, sizeof(*cuts));

    /*
     * Interval starts: 0, every range start and end + 1, and both ends of the
     * IPv4-mapped space, where a wide IPv6 prefix stops and resumes.
     */
    cuts[n_cuts++] = 0;
    cuts[n_cuts++] = V4_BASE;
    cuts[n_cuts++] = V4_BASE + ((u128)1 << 32);
    for (size_t i = 0; i < total; i++) {
        const struct cidr *c = i < n_dark ? &dark[i] : &exclude[i - n_dark];
        u128 lo, hi;

        cidr_bounds(c, &lo, &hi);
        cuts[n_cuts++] = lo;
        if (hi != ~(u128)0)
            cuts[n_cuts++] = hi + 1;
    }
    qsort(cuts, n_cuts, sizeof(*cuts), cmp_u128);

    set->r = xcalloc(n_cuts, sizeof(*set->r));
    for (size_t i = 0; i < n_cuts; i++) {
        enum prefix_class cls = PREFIX_OUTSIDE;

        if (i > 0 && cuts[i] == cuts[i - 1])
            continue;
        /* The class is constant over the interval, so test its start. */
        if (covered(dark, n_dark, cuts[i]))
            cls = covered(exclude, n_exclude, cuts[i]) ? PREFIX_EXCLUDED : PREFIX_DARK;
        if (set->n > 0 && set->r[set->n - 1].cls == cls)
            continue;
        set->r[set->n].start = cuts[i];
        set->r[set->n].cls = cls;
        set->n++;
    }
    free(cuts);

    /* The IPv4-mapped slice: ::ffff:0.0.0.0 to ::ffff:255.255.255.255. */
    set->r4 = xcalloc(set->n + 1, sizeof(*set->r4));
    for (size_t i = 0; i < set->n; i++) {
        u128 st = set->r[i].start;
        u128 next = i + 1 < set->n ? set->r[i + 1].start : ~(u128)0;

        if (next <= V4_BASE || st > V4_BASE + 0xffffffffu)
            continue;
        set->r4[set->n4].start = st <= V4_BASE ? 0 : (uint32_t)(st - V4_BASE);
        set->r4[set->n4].cls = set->r[i].cls;
        set->n4++;
    }
    build_tables(set);
    return set;
}

void
prefix_set_free(struct prefix_set *set)
{
    if (set == NULL)
        return;
    free(set->r);
    free(set->r4);
    free(set->by16);
    free(set->by24);
    free(set);
}

enum prefix_class
prefix_set_classify(const struct prefix_set *set, const struct addr *a)
{
    if (addr_is_v4(a)) {
        uint32_t v4 = addr_v4(a);
        uint32_t e = set->by16[v4 >> 16];
        uint8_t c;

        if (e < BY16_CUT)
            return (enum prefix_class)e;
        c = set->by24[e & ~BY16_CUT][(v4 >> 8) & 0xff];
        return c != BY24_SEARCH ? (enum prefix_class)c : set->r4[search4(set, v4)].cls;
    }
    return set->r[search(set, to_u128(a))].cls;
}

size_t
prefix_set_ranges(const struct prefix_set *set)
{
    return set->n;
}
