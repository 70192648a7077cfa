/*
 * Tests of the darknet filter (ds/prefix.h, METHOD section 1): the edges of
 * every prefix, nesting and exclusion, the two address families, and many
 * random prefix lists against a plain linear search.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/addr.h"
#include "ds/cfg.h"
#include "ds/prefix.h"
#include "testutil.h"

#define MAXP 64

/* A prefix set built from text lists; NULL ends a list. */
struct fx {
    struct cidr dark[MAXP];
    size_t n_dark;
    struct cidr excl[MAXP];
    size_t n_excl;
    struct prefix_set *set;
};

static void
parse_list(const char *const *list, struct cidr *out, size_t *n)
{
    char why[256] = "";

    *n = 0;
    for (; list != NULL && *list != NULL; list++) {
        ck_assert_uint_lt(*n, MAXP);
        ck_assert_msg(cidr_parse(*list, &out[*n], why, sizeof(why)) == 0, "%s: %s", *list, why);
        (*n)++;
    }
}

static void
fx_build(struct fx *f, const char *const *dark, const char *const *excl)
{
    parse_list(dark, f->dark, &f->n_dark);
    parse_list(excl, f->excl, &f->n_excl);
    f->set = prefix_set_new(f->dark, f->n_dark, f->excl, f->n_excl);
    ck_assert_ptr_nonnull(f->set);
}

static enum prefix_class
cls(const struct fx *f, const char *addr)
{
    struct addr a;

    ck_assert_msg(addr_parse(addr, &a) == 0, "not an address: %s", addr);
    return prefix_set_classify(f->set, &a);
}

#define ASSERT_CLASS(f, addr, want)                                                           \
    ck_assert_msg(cls((f), (addr)) == (want), "%s: class %d, expected %d", (addr),            \
                  (int)cls((f), (addr)), (int)(want))

/* ---- edges of single prefixes ---- */

START_TEST(test_v4_prefix_edges)
{
    static const char *const dark[] = {"192.0.2.0/24", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "192.0.2.0", PREFIX_DARK);
    ASSERT_CLASS(&f, "192.0.2.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "192.0.2.128", PREFIX_DARK);
    ASSERT_CLASS(&f, "192.0.1.255", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "192.0.3.0", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "0.0.0.0", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "255.255.255.255", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::", PREFIX_OUTSIDE);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 3);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_v6_prefix_edges)
{
    static const char *const dark[] = {"2001:db8::/32", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "2001:db8::", PREFIX_DARK);
    ASSERT_CLASS(&f, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", PREFIX_DARK);
    ASSERT_CLASS(&f, "2001:db8:1234::5", PREFIX_DARK);
    ASSERT_CLASS(&f, "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "2001:db9::", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "32.1.13.184", PREFIX_OUTSIDE);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 3);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_v4_zero_length)
{
    static const char *const dark[] = {"0.0.0.0/0", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "0.0.0.0", PREFIX_DARK);
    ASSERT_CLASS(&f, "255.255.255.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.1.2.3", PREFIX_DARK);
    ASSERT_CLASS(&f, "::ffff:10.1.2.3", PREFIX_DARK);
    /* the IPv6 neighbours of the IPv4-mapped space */
    ASSERT_CLASS(&f, "::fffe:ffff:ffff", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::1:0:0:0", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::1", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "2001:db8::1", PREFIX_OUTSIDE);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 3);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_v6_zero_length)
{
    static const char *const dark[] = {"::/0", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "::", PREFIX_DARK);
    ASSERT_CLASS(&f, "::1", PREFIX_DARK);
    ASSERT_CLASS(&f, "2001:db8::1", PREFIX_DARK);
    ASSERT_CLASS(&f, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PREFIX_DARK);
    ASSERT_CLASS(&f, "::fffe:ffff:ffff", PREFIX_DARK);
    ASSERT_CLASS(&f, "::1:0:0:0", PREFIX_DARK);
    /* ::/0 is all of IPv6, and IPv4 is not part of it */
    ASSERT_CLASS(&f, "0.0.0.0", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "192.0.2.1", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "255.255.255.255", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::ffff:192.0.2.1", PREFIX_OUTSIDE);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_both_families_everything)
{
    static const char *const dark[] = {"0.0.0.0/0", "::/0", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "::", PREFIX_DARK);
    ASSERT_CLASS(&f, "0.0.0.0", PREFIX_DARK);
    ASSERT_CLASS(&f, "255.255.255.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "::fffe:ffff:ffff", PREFIX_DARK);
    ASSERT_CLASS(&f, "::1:0:0:0", PREFIX_DARK);
    ASSERT_CLASS(&f, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PREFIX_DARK);
    /* one range: everything is dark */
    ck_assert_uint_eq(prefix_set_ranges(f.set), 1);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_host_prefixes)
{
    static const char *const dark[] = {"192.0.2.7/32", "2001:db8::7/128", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "192.0.2.7", PREFIX_DARK);
    ASSERT_CLASS(&f, "192.0.2.6", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "192.0.2.8", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "2001:db8::7", PREFIX_DARK);
    ASSERT_CLASS(&f, "2001:db8::6", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "2001:db8::8", PREFIX_OUTSIDE);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 5);
    prefix_set_free(f.set);
}
END_TEST

/* The first and last address of each space, where range ends overflow. */
START_TEST(test_ends_of_the_address_space)
{
    static const char *const dark[] = {"0.0.0.0/32", "255.255.255.255/32", "::/128",
                                       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "0.0.0.0", PREFIX_DARK);
    ASSERT_CLASS(&f, "0.0.0.1", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "255.255.255.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "255.255.255.254", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::", PREFIX_DARK);
    ASSERT_CLASS(&f, "::1", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", PREFIX_DARK);
    ASSERT_CLASS(&f, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::1:0:0:0", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::fffe:ffff:ffff", PREFIX_OUTSIDE);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_empty_set)
{
    struct fx f;

    fx_build(&f, NULL, NULL);
    ASSERT_CLASS(&f, "0.0.0.0", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "192.0.2.1", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "2001:db8::1", PREFIX_OUTSIDE);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 1);
    prefix_set_free(f.set);
    prefix_set_free(NULL);
}
END_TEST

/* ---- nesting, overlap and exclusion ---- */

START_TEST(test_nested_darknet_prefixes)
{
    static const char *const dark[] = {"10.1.0.0/16", "10.0.0.0/8", "10.1.2.0/24",
                                       "2001:db8::/32", "2001:db8:1::/48", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "10.0.0.0", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.1.2.3", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.1.255.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.255.255.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "11.0.0.0", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "9.255.255.255", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "2001:db8:1::1", PREFIX_DARK);
    ASSERT_CLASS(&f, "2001:db8:2::1", PREFIX_DARK);
    /* inner prefixes add nothing: outside, 10/8, outside, 2001:db8::/32, outside */
    ck_assert_uint_eq(prefix_set_ranges(f.set), 5);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_overlapping_and_repeated_darknet_prefixes)
{
    static const char *const dark[] = {"10.0.0.0/9", "10.64.0.0/10", "10.0.0.0/9",
                                       "10.128.0.0/9", "10.0.0.0/16", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "10.0.0.0", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.127.255.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.128.0.0", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.255.255.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "11.0.0.0", PREFIX_OUTSIDE);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 3);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_exclusions_at_edges_and_inside)
{
    static const char *const dark[] = {"10.0.0.0/8", NULL};
    static const char *const excl[] = {"10.0.0.0/24", "10.255.255.0/24", "10.1.2.0/24",
                                       "10.1.2.128/25", "10.9.9.9", NULL};
    struct fx f;

    fx_build(&f, dark, excl);
    /* at the start of the darknet */
    ASSERT_CLASS(&f, "9.255.255.255", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "10.0.0.0", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.0.0.255", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.0.1.0", PREFIX_DARK);
    /* at its end */
    ASSERT_CLASS(&f, "10.255.254.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.255.255.0", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.255.255.255", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "11.0.0.0", PREFIX_OUTSIDE);
    /* inside, with a nested exclusion */
    ASSERT_CLASS(&f, "10.1.1.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.1.2.0", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.1.2.200", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.1.2.255", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.1.3.0", PREFIX_DARK);
    /* a single excluded host */
    ASSERT_CLASS(&f, "10.9.9.8", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.9.9.9", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.9.9.10", PREFIX_DARK);
    /* outside, excl, dark, excl, dark, excl, dark, excl, outside */
    ck_assert_uint_eq(prefix_set_ranges(f.set), 9);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_v6_exclusions)
{
    static const char *const dark[] = {"2001:db8::/32", NULL};
    static const char *const excl[] = {"2001:db8::/64", "2001:db8:ffff:ffff::/64",
                                       "2001:db8:5::1/128", NULL};
    struct fx f;

    fx_build(&f, dark, excl);
    ASSERT_CLASS(&f, "2001:db8::", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "2001:db8::ffff:ffff:ffff:ffff", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "2001:db8:0:1::", PREFIX_DARK);
    ASSERT_CLASS(&f, "2001:db8:ffff:fffe:ffff:ffff:ffff:ffff", PREFIX_DARK);
    ASSERT_CLASS(&f, "2001:db8:ffff:ffff::", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "2001:db9::", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "2001:db8:5::", PREFIX_DARK);
    ASSERT_CLASS(&f, "2001:db8:5::1", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "2001:db8:5::2", PREFIX_DARK);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_exclusion_equal_to_the_darknet)
{
    static const char *const dark[] = {"192.0.2.0/24", NULL};
    static const char *const excl[] = {"192.0.2.0/24", NULL};
    struct fx f;

    fx_build(&f, dark, excl);
    ASSERT_CLASS(&f, "192.0.2.0", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "192.0.2.255", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "192.0.3.0", PREFIX_OUTSIDE);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 3);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_excluded_outside_darknet_is_outside)
{
    static const char *const dark[] = {"10.0.0.0/8", NULL};
    static const char *const excl[] = {"192.168.0.0/16", "8.0.0.0/7", "2001:db8::/32", NULL};
    struct fx f;

    fx_build(&f, dark, excl);
    ASSERT_CLASS(&f, "192.168.1.1", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "2001:db8::1", PREFIX_OUTSIDE);
    /* 8.0.0.0/7 covers 8/8 and 9/8 only: it touches the darknet but does not reach it */
    ASSERT_CLASS(&f, "9.255.255.255", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "8.0.0.0", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "10.0.0.0", PREFIX_DARK);
    /* an exclusion wider than the darknet excludes only the darknet part */
    prefix_set_free(f.set);
    {
        static const char *const dark2[] = {"10.1.0.0/16", NULL};
        static const char *const excl2[] = {"10.0.0.0/8", NULL};

        fx_build(&f, dark2, excl2);
        ASSERT_CLASS(&f, "10.1.0.0", PREFIX_EXCLUDED);
        ASSERT_CLASS(&f, "10.1.255.255", PREFIX_EXCLUDED);
        ASSERT_CLASS(&f, "10.0.255.255", PREFIX_OUTSIDE);
        ASSERT_CLASS(&f, "10.2.0.0", PREFIX_OUTSIDE);
        ck_assert_uint_eq(prefix_set_ranges(f.set), 3);
        prefix_set_free(f.set);
    }
}
END_TEST

START_TEST(test_exclusion_wins_over_nested_darknet)
{
    static const char *const dark[] = {"10.0.0.0/8", "10.1.2.0/24", NULL};
    static const char *const excl[] = {"10.1.0.0/16", NULL};
    struct fx f;

    fx_build(&f, dark, excl);
    ASSERT_CLASS(&f, "10.1.2.5", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.1.0.0", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.0.255.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "10.2.0.0", PREFIX_DARK);
    prefix_set_free(f.set);
}
END_TEST

/* ---- address families ---- */

START_TEST(test_families_do_not_mix)
{
    static const char *const dark[] = {"10.0.0.0/8", "2001:db8::/32", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "2001:db8::1", PREFIX_DARK);
    /* an IPv4 prefix does not match IPv6 addresses with the same low bits */
    ASSERT_CLASS(&f, "10.0.0.1", PREFIX_DARK);
    ASSERT_CLASS(&f, "::a00:1", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "64:ff9b::a00:1", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::ffff:0:a00:1", PREFIX_OUTSIDE);
    /* an IPv4-mapped address is IPv4 */
    ASSERT_CLASS(&f, "::ffff:10.0.0.1", PREFIX_DARK);
    ASSERT_CLASS(&f, "::ffff:200.0.0.1", PREFIX_OUTSIDE);
    /* an IPv6 prefix does not match IPv4 addresses: 32.1.13.184 is 0x20010db8 */
    ASSERT_CLASS(&f, "32.1.13.184", PREFIX_OUTSIDE);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_wide_v6_prefix_leaves_v4_alone)
{
    /* ::/64 and ::/80 contain the IPv4-mapped block as bit patterns */
    static const char *const dark[] = {"::/64", NULL};
    static const char *const dark80[] = {"::/80", NULL};
    static const char *const dark96[] = {"0.0.0.0/0", NULL};
    static const char *const excl[] = {"::/0", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "::1", PREFIX_DARK);
    ASSERT_CLASS(&f, "::fffe:ffff:ffff", PREFIX_DARK);
    ASSERT_CLASS(&f, "::1:0:0:0", PREFIX_DARK);
    ASSERT_CLASS(&f, "192.0.2.1", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "0.0.0.0", PREFIX_OUTSIDE);
    prefix_set_free(f.set);

    fx_build(&f, dark80, NULL);
    ASSERT_CLASS(&f, "192.0.2.1", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::fffe:ffff:ffff", PREFIX_DARK);
    prefix_set_free(f.set);

    /* nor does an IPv6 exclusion reach into the IPv4 darknet */
    fx_build(&f, dark96, excl);
    ASSERT_CLASS(&f, "192.0.2.1", PREFIX_DARK);
    ASSERT_CLASS(&f, "2001:db8::1", PREFIX_OUTSIDE);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_v6_notation_of_mapped_prefix_is_v4)
{
    static const char *const dark[] = {"::ffff:192.0.2.0/120", NULL};
    static const char *const all4[] = {"::ffff:0:0/96", NULL};
    struct fx f;

    fx_build(&f, dark, NULL);
    ASSERT_CLASS(&f, "192.0.2.0", PREFIX_DARK);
    ASSERT_CLASS(&f, "192.0.2.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "192.0.3.0", PREFIX_OUTSIDE);
    prefix_set_free(f.set);

    fx_build(&f, all4, NULL);
    ASSERT_CLASS(&f, "0.0.0.0", PREFIX_DARK);
    ASSERT_CLASS(&f, "255.255.255.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "::fffe:ffff:ffff", PREFIX_OUTSIDE);
    ASSERT_CLASS(&f, "::1:0:0:0", PREFIX_OUTSIDE);
    prefix_set_free(f.set);
}
END_TEST

/* ---- range compilation ---- */

START_TEST(test_ranges_merge_adjacent_same_class)
{
    static const char *const halves[] = {"10.0.0.0/9", "10.128.0.0/9", NULL};
    static const char *const neighbours[] = {"10.0.0.0/8", "11.0.0.0/8", NULL};
    static const char *const apart[] = {"10.0.0.0/8", "12.0.0.0/8", NULL};
    static const char *const dark[] = {"10.0.0.0/8", NULL};
    static const char *const excl_halves[] = {"10.0.0.0/25", "10.0.0.128/25", NULL};
    static const char *const v6_halves[] = {"2001:db8::/33", "2001:db8:8000::/33", NULL};
    struct fx f;

    fx_build(&f, halves, NULL);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 3);
    prefix_set_free(f.set);

    fx_build(&f, neighbours, NULL);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 3);
    ASSERT_CLASS(&f, "10.255.255.255", PREFIX_DARK);
    ASSERT_CLASS(&f, "11.0.0.0", PREFIX_DARK);
    prefix_set_free(f.set);

    fx_build(&f, apart, NULL);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 5);
    ASSERT_CLASS(&f, "11.0.0.0", PREFIX_OUTSIDE);
    prefix_set_free(f.set);

    /* two excluded halves are one excluded range */
    fx_build(&f, dark, excl_halves);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 4);
    ASSERT_CLASS(&f, "10.0.0.127", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.0.0.128", PREFIX_EXCLUDED);
    ASSERT_CLASS(&f, "10.0.1.0", PREFIX_DARK);
    prefix_set_free(f.set);

    fx_build(&f, v6_halves, NULL);
    ck_assert_uint_eq(prefix_set_ranges(f.set), 3);
    prefix_set_free(f.set);
}
END_TEST

START_TEST(test_many_prefixes)
{
    static struct cidr dark[2048];
    struct prefix_set *set;
    struct addr a;

    /* every other /24 of 10.0.0.0/12, in order */
    for (uint32_t i = 0; i < 2048; i++) {
        addr_from_v4(&dark[i].net, 0x0a000000u + (2 * i << 8));
        dark[i].len = 96 + 24;
        dark[i].v4 = true;
    }
    set = prefix_set_new(dark, 2048, NULL, 0);
    ck_assert_uint_eq(prefix_set_ranges(set), 2 * 2048 + 1);
    for (uint32_t i = 0; i < 2048; i++) {
        addr_from_v4(&a, 0x0a000000u + (2 * i << 8));
        ck_assert_int_eq(prefix_set_classify(set, &a), PREFIX_DARK);
        addr_from_v4(&a, 0x0a000000u + (2 * i << 8) + 255);
        ck_assert_int_eq(prefix_set_classify(set, &a), PREFIX_DARK);
        addr_from_v4(&a, 0x0a000000u + ((2 * i + 1) << 8));
        ck_assert_int_eq(prefix_set_classify(set, &a), PREFIX_OUTSIDE);
    }
    prefix_set_free(set);
}
END_TEST

/*
 * As many prefixes as a configuration may list, each ending inside a /16
 * block (a table of its /24s) and cutting a /24 (searched for): the
 * answers of the tables and of the search agree at every edge.
 */
START_TEST(test_most_prefixes_cut_blocks)
{
    enum { N = CFG_CIDRS_MAX };
    /* each block's edges: its /24 darknet, the /28 excluded in it, and past the /24 */
    static const struct {
        uint32_t offset;
        enum prefix_class cls;
    } edges[] = {
        {0, PREFIX_DARK},        {0x3f, PREFIX_DARK},    {0x40, PREFIX_EXCLUDED},
        {0x4f, PREFIX_EXCLUDED}, {0x50, PREFIX_DARK},    {255, PREFIX_DARK},
        {256, PREFIX_OUTSIDE},   {0xffff, PREFIX_OUTSIDE},
    };
    static struct cidr dark[N], excl[N];
    struct prefix_set *set;
    struct addr a;

    /* a /24 at the start of N /16 blocks from 1.0.0.0 on, a /28 excluded in each */
    for (uint32_t i = 0; i < N; i++) {
        addr_from_v4(&dark[i].net, 0x01000000u + (i << 16));
        dark[i].len = 96 + 24;
        dark[i].v4 = true;
        addr_from_v4(&excl[i].net, 0x01000000u + (i << 16) + 0x40);
        excl[i].len = 96 + 28;
        excl[i].v4 = true;
    }
    set = prefix_set_new(dark, N, excl, N);
    for (uint32_t i = 0; i < N; i += 7) {
        uint32_t b = 0x01000000u + (i << 16);

        for (size_t k = 0; k < sizeof(edges) / sizeof(edges[0]); k++) {
            addr_from_v4(&a, b + edges[k].offset);
            ck_assert_int_eq(prefix_set_classify(set, &a), edges[k].cls);
        }
    }
    prefix_set_free(set);
}
END_TEST

/* ---- random prefix lists against a linear search ---- */

static uint64_t rng_state;

/* xorshift64*: deterministic across platforms for a fixed seed. */
static uint64_t
rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned
rng_below(unsigned n)
{
    return (unsigned)(rng() % n);
}

/* The reference: bit by bit, no masks shared with the code under test. */
static bool
naive_contains(const struct cidr *c, const struct addr *a)
{
    /* an IPv6 prefix wider than the mapped block (::/0 ...) takes no IPv4 */
    if (!c->v4 && c->len < 96 && addr_is_v4(a))
        return false;
    for (unsigned bit = 0; bit < c->len; bit++) {
        unsigned byte = bit / 8, shift = 7 - bit % 8;

        if (((a->b[byte] >> shift) & 1) != ((c->net.b[byte] >> shift) & 1))
            return false;
    }
    return true;
}

static enum prefix_class
naive_classify(const struct cidr *dark, size_t nd, const struct cidr *excl, size_t ne,
               const struct addr *a)
{
    bool in = false;

    for (size_t i = 0; i < nd; i++)
        in = in || naive_contains(&dark[i], a);
    if (!in)
        return PREFIX_OUTSIDE;
    for (size_t i = 0; i < ne; i++)
        if (naive_contains(&excl[i], a))
            return PREFIX_EXCLUDED;
    return PREFIX_DARK;
}

/* A random address near interesting places: a few IPv4 /8s, 2001:db8::/32, the mapped edges. */
static void
random_addr(struct addr *a)
{
    switch (rng_below(4)) {
    case 0:
    case 1:
        addr_from_v4(a, (uint32_t)((10 + rng_below(3)) << 24) | (uint32_t)(rng() & 0xffffff));
        if (rng_below(8) == 0)
            addr_from_v4(a, (uint32_t)rng());
        break;
    case 2:
        for (int i = 0; i < 16; i++)
            a->b[i] = (uint8_t)rng();
        a->b[0] = 0x20;
        a->b[1] = 0x01;
        a->b[2] = 0x0d;
        a->b[3] = (uint8_t)(0xb8 + rng_below(2));
        if (rng_below(2))
            memset(a->b + 4, rng_below(2) ? 0 : 0xff, 2 + rng_below(10));
        break;
    default:
        /* just below or above the IPv4-mapped block, or anywhere */
        for (int i = 0; i < 16; i++)
            a->b[i] = (uint8_t)rng();
        if (rng_below(2)) {
            memset(a->b, 0, 10);
            a->b[10] = rng_below(2) ? 0xff : 0xfe;
            a->b[11] = a->b[10] == 0xff ? 0xfe : 0xff;
        }
        break;
    }
}

/* A random prefix around the same places, with host bits cleared. */
static void
random_cidr(struct cidr *c)
{
    unsigned kind = rng_below(10);

    memset(c, 0, sizeof(*c));
    random_addr(&c->net);
    if (kind == 0) {
        /* now and then a whole family */
        c->v4 = rng_below(2);
        c->len = c->v4 ? 96 : 0;
        if (c->v4)
            addr_from_v4(&c->net, 0);
        else
            memset(&c->net, 0, sizeof(c->net));
        return;
    }
    if (addr_is_v4(&c->net)) {
        /* mostly written as IPv4, sometimes in IPv6 notation of the mapped space */
        c->v4 = rng_below(4) != 0;
        c->len = (uint8_t)(96 + 6 + rng_below(27));
    } else {
        c->v4 = false;
        c->len = (uint8_t)(rng_below(3) == 0 ? rng_below(96) : 24 + rng_below(105));
    }
    addr_mask(&c->net, c->len);
}

/* Adds a to the probes, and its neighbours one below and one above. */
static size_t
add_probes(struct addr *out, size_t n, const struct addr *a)
{
    struct addr x = *a;
    int i;

    out[n++] = x;
    for (i = 15; i >= 0 && x.b[i]-- == 0; i--)
        ;
    out[n++] = x;
    x = *a;
    for (i = 15; i >= 0 && ++x.b[i] == 0; i--)
        ;
    out[n++] = x;
    return n;
}

/* The last address of c. */
static struct addr
cidr_last(const struct cidr *c)
{
    struct addr a = c->net;

    for (unsigned bit = c->len; bit < 128; bit++)
        a.b[bit / 8] |= (uint8_t)(1u << (7 - bit % 8));
    return a;
}

START_TEST(test_random_against_linear_search)
{
    static struct addr probes[4096];
    struct cidr dark[16], excl[16];
    unsigned long checked = 0;

    rng_state = 0x9e3779b97f4a7c15ULL;
    for (int round = 0; round < 400; round++) {
        size_t nd = 1 + rng_below(12), ne = rng_below(10), np = 0;
        struct prefix_set *set;

        for (size_t i = 0; i < nd; i++)
            random_cidr(&dark[i]);
        for (size_t i = 0; i < ne; i++) {
            random_cidr(&excl[i]);
            /* most exclusions inside a darknet prefix, as in real configs */
            if (rng_below(3) != 0) {
                const struct cidr *d = &dark[rng_below((unsigned)nd)];

                if (d->len < 128) {
                    excl[i] = *d;
                    excl[i].len = (uint8_t)(d->len + 1 + rng_below(128u - d->len));
                    if (excl[i].v4 && excl[i].len < 96)
                        excl[i].len = 96;
                    for (unsigned bit = d->len; bit < excl[i].len; bit++)
                        if (rng_below(2))
                            excl[i].net.b[bit / 8] |= (uint8_t)(1u << (7 - bit % 8));
                }
            }
        }
        /* the edges of every prefix, and random addresses */
        for (size_t i = 0; i < nd + ne; i++) {
            const struct cidr *c = i < nd ? &dark[i] : &excl[i - nd];
            struct addr last = cidr_last(c);

            np = add_probes(probes, np, &c->net);
            np = add_probes(probes, np, &last);
        }
        while (np < 200)
            random_addr(&probes[np++]);

        set = prefix_set_new(dark, nd, excl, ne);
        for (size_t i = 0; i < np; i++) {
            enum prefix_class want = naive_classify(dark, nd, excl, ne, &probes[i]);
            enum prefix_class got = prefix_set_classify(set, &probes[i]);

            if (got != want) {
                char text[ADDR_STRLEN], ctext[CIDR_STRLEN];

                fprintf(stderr, "round %d: darknet", round);
                for (size_t k = 0; k < nd; k++)
                    fprintf(stderr, " %s%s", cidr_format(&dark[k], ctext),
                            dark[k].v4 ? "" : "(v6)");
                fprintf(stderr, "; exclude");
                for (size_t k = 0; k < ne; k++)
                    fprintf(stderr, " %s%s", cidr_format(&excl[k], ctext),
                            excl[k].v4 ? "" : "(v6)");
                fprintf(stderr, "\n");
                ck_abort_msg("round %d: %s is %d, expected %d", round,
                             addr_format(&probes[i], text), (int)got, (int)want);
            }
            checked++;
        }
        /* never more ranges than cuts: two per prefix, the start, and the IPv4 block ends */
        ck_assert_uint_le(prefix_set_ranges(set), 2 * (nd + ne) + 3);
        prefix_set_free(set);
    }
    ck_assert_uint_ge(checked, 400 * 200);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("filter");
    TCase *tc = tcase_create("edges");

    tcase_add_test(tc, test_v4_prefix_edges);
    tcase_add_test(tc, test_v6_prefix_edges);
    tcase_add_test(tc, test_v4_zero_length);
    tcase_add_test(tc, test_v6_zero_length);
    tcase_add_test(tc, test_both_families_everything);
    tcase_add_test(tc, test_host_prefixes);
    tcase_add_test(tc, test_ends_of_the_address_space);
    tcase_add_test(tc, test_empty_set);
    suite_add_tcase(s, tc);

    tc = tcase_create("nesting");
    tcase_add_test(tc, test_nested_darknet_prefixes);
    tcase_add_test(tc, test_overlapping_and_repeated_darknet_prefixes);
    tcase_add_test(tc, test_exclusions_at_edges_and_inside);
    tcase_add_test(tc, test_v6_exclusions);
    tcase_add_test(tc, test_exclusion_equal_to_the_darknet);
    tcase_add_test(tc, test_excluded_outside_darknet_is_outside);
    tcase_add_test(tc, test_exclusion_wins_over_nested_darknet);
    suite_add_tcase(s, tc);

    tc = tcase_create("families");
    tcase_add_test(tc, test_families_do_not_mix);
    tcase_add_test(tc, test_wide_v6_prefix_leaves_v4_alone);
    tcase_add_test(tc, test_v6_notation_of_mapped_prefix_is_v4);
    suite_add_tcase(s, tc);

    tc = tcase_create("ranges");
    /* 4096 prefixes against a linear search take seconds under AddressSanitizer */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_ranges_merge_adjacent_same_class);
    tcase_add_test(tc, test_many_prefixes);
    tcase_add_test(tc, test_most_prefixes_cut_blocks);
    tcase_add_test(tc, test_random_against_linear_search);
    suite_add_tcase(s, tc);

    return tu_run(s) > 0 ? 1 : 0;
}
