/*
 * Tests of the core helpers shared by every stage: addresses and prefixes,
 * checked parsers, the time zone, protocol names, group key names, the
 * JSON writer and growable strings.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ds/addr.h"
#include "ds/json.h"
#include "ds/keyspec.h"
#include "ds/parse.h"
#include "ds/proto.h"
#include "ds/rc.h"
#include "ds/strbuf.h"
#include "ds/tarena.h"
#include "ds/tz.h"
#include "testutil.h"

/* ---- helpers ---- */

static struct addr
A(const char *s)
{
    struct addr a;

    ck_assert_msg(addr_parse(s, &a) == 0, "not an address: %s", s);
    return a;
}

static struct cidr
C(const char *s)
{
    struct cidr c;
    char why[256] = "";

    ck_assert_msg(cidr_parse(s, &c, why, sizeof(why)) == 0, "%s: %s", s, why);
    return c;
}

/* The reason cidr_parse gives for s, which must be refused. */
static const char *
cidr_why(const char *s)
{
    static char why[256];
    struct cidr c;

    snprintf(why, sizeof(why), "(no reason given)");
    ck_assert_msg(cidr_parse(s, &c, why, sizeof(why)) == -1, "accepted: %s", s);
    return why;
}

static const char *
fmt_addr(const struct addr *a)
{
    static char buf[ADDR_STRLEN];

    return addr_format(a, buf);
}

static const char *
fmt_cidr(const struct cidr *c)
{
    static char buf[CIDR_STRLEN];

    return cidr_format(c, buf);
}

/* ---- addresses ---- */

START_TEST(test_addr_parse_v4_is_stored_mapped)
{
    static const uint8_t want[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1};
    struct addr a = A("192.0.2.1");

    ck_assert_mem_eq(a.b, want, 16);
    ck_assert(addr_is_v4(&a));
    ck_assert_uint_eq(addr_v4(&a), 0xc0000201u);
    ck_assert_str_eq(fmt_addr(&a), "192.0.2.1");
}
END_TEST

START_TEST(test_addr_parse_v6)
{
    static const uint8_t want[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    struct addr a = A("2001:db8::1"), zero = A("::");
    struct addr last = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");

    ck_assert_mem_eq(a.b, want, 16);
    ck_assert(!addr_is_v4(&a));
    ck_assert_str_eq(fmt_addr(&a), "2001:db8::1");
    ck_assert_str_eq(fmt_addr(&zero), "::");
    ck_assert(!addr_is_v4(&zero));
    ck_assert_str_eq(fmt_addr(&last), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    /* the usual shortest form, whatever was written */
    a = A("2001:0DB8:0000:0000:0000:0000:0000:0001");
    ck_assert_str_eq(fmt_addr(&a), "2001:db8::1");
}
END_TEST

START_TEST(test_addr_v4_mapped_text_is_v4)
{
    struct addr m = A("::ffff:192.0.2.1"), v4 = A("192.0.2.1"), h = A("::ffff:c000:201");

    ck_assert_mem_eq(m.b, v4.b, 16);
    ck_assert_mem_eq(h.b, v4.b, 16);
    ck_assert(addr_is_v4(&m));
    ck_assert_str_eq(fmt_addr(&m), "192.0.2.1");
    /* IPv4-compatible (deprecated) and NAT64 forms are IPv6 */
    m = A("::192.0.2.1");
    ck_assert(!addr_is_v4(&m));
    m = A("64:ff9b::192.0.2.1");
    ck_assert(!addr_is_v4(&m));
}
END_TEST

START_TEST(test_addr_from_v4)
{
    struct addr a, b = A("203.0.113.255");

    memset(&a, 0xaa, sizeof(a));
    addr_from_v4(&a, 0xcb0071ffu);
    ck_assert_mem_eq(a.b, b.b, 16);
    addr_from_v4(&a, 0);
    ck_assert_str_eq(fmt_addr(&a), "0.0.0.0");
    ck_assert(addr_is_v4(&a));
    addr_from_v4(&a, 0xffffffffu);
    ck_assert_str_eq(fmt_addr(&a), "255.255.255.255");
}
END_TEST

START_TEST(test_addr_parse_garbage)
{
    static const char *const bad[] = {
        "",           "1.2.3",         "256.0.0.1",   "1.2.3.4 ",    " 1.2.3.4", "1.2.3.4.5",
        "abc",        "2001:db8::1::2", "2001:db8::g", "1.2.3.4/24", "::ffff:1.2.3", "-1.2.3.4",
    };
    struct addr a;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(addr_parse(bad[i], &a) == -1, "accepted '%s'", bad[i]);
}
END_TEST

START_TEST(test_cidr_parse_v4)
{
    struct cidr c = C("192.0.2.0/24");
    struct addr net = A("192.0.2.0");

    ck_assert(c.v4);
    ck_assert_uint_eq(c.len, 96 + 24);
    ck_assert_mem_eq(c.net.b, net.b, 16);
    ck_assert_str_eq(fmt_cidr(&c), "192.0.2.0/24");

    c = C("192.0.2.7");
    ck_assert(c.v4);
    ck_assert_uint_eq(c.len, 128);
    ck_assert_str_eq(fmt_cidr(&c), "192.0.2.7/32");

    c = C("0.0.0.0/0");
    ck_assert(c.v4);
    ck_assert_uint_eq(c.len, 96);
    ck_assert_str_eq(fmt_cidr(&c), "0.0.0.0/0");

    c = C("10.0.0.0/08");
    ck_assert_str_eq(fmt_cidr(&c), "10.0.0.0/8");
}
END_TEST

START_TEST(test_cidr_parse_v6)
{
    struct cidr c = C("2001:db8::/32");

    ck_assert(!c.v4);
    ck_assert_uint_eq(c.len, 32);
    ck_assert_str_eq(fmt_cidr(&c), "2001:db8::/32");

    c = C("::/0");
    ck_assert(!c.v4);
    ck_assert_uint_eq(c.len, 0);
    ck_assert_str_eq(fmt_cidr(&c), "::/0");

    c = C("2001:db8::1");
    ck_assert_uint_eq(c.len, 128);
    ck_assert_str_eq(fmt_cidr(&c), "2001:db8::1/128");

    /* written in IPv6 notation, kept as an IPv6 prefix of the mapped space */
    c = C("::ffff:192.0.2.0/120");
    ck_assert(!c.v4);
    ck_assert_uint_eq(c.len, 120);
    ck_assert_str_eq(fmt_cidr(&c), "::ffff:192.0.2.0/120");
    /* and what is printed parses back to the same prefix */
    {
        char text[CIDR_STRLEN];
        struct cidr again;

        snprintf(text, sizeof(text), "%s", fmt_cidr(&c));
        again = C(text);
        ck_assert_mem_eq(&again, &c, sizeof(c));
    }
    c = C("::ffff:0:0/96");
    ck_assert_str_eq(fmt_cidr(&c), "::ffff:0.0.0.0/96");
}
END_TEST

START_TEST(test_cidr_host_bits_suggest_the_network)
{
    ck_assert_str_eq(cidr_why("192.0.2.1/24"), "host bits are set (did you mean 192.0.2.0/24?)");
    ck_assert_str_eq(cidr_why("10.1.2.3/8"), "host bits are set (did you mean 10.0.0.0/8?)");
    ck_assert_str_eq(cidr_why("1.0.0.0/0"), "host bits are set (did you mean 0.0.0.0/0?)");
    ck_assert_str_eq(cidr_why("2001:db8::1/32"),
                     "host bits are set (did you mean 2001:db8::/32?)");
    ck_assert_str_eq(cidr_why("2001:db8:ff::/40"),
                     "host bits are set (did you mean 2001:db8::/40?)");
    ck_assert_str_eq(cidr_why("::ffff:192.0.2.1/120"),
                     "host bits are set (did you mean ::ffff:192.0.2.0/120?)");
}
END_TEST

START_TEST(test_cidr_length_above_maximum)
{
    ck_assert_str_eq(cidr_why("10.0.0.0/33"), "prefix length 33 is above 32");
    ck_assert_str_eq(cidr_why("::/129"), "prefix length 129 is above 128");
    ck_assert_str_eq(cidr_why("10.0.0.0/128"), "prefix length 128 is above 32");
    /* the limits themselves are fine */
    ck_assert_uint_eq(C("10.0.0.1/32").len, 128);
    ck_assert_uint_eq(C("2001:db8::1/128").len, 128);
}
END_TEST

START_TEST(test_cidr_garbage)
{
    char longhost[100];

    ck_assert_str_eq(cidr_why(""), "not an IPv4 or IPv6 prefix");
    ck_assert_str_eq(cidr_why("/24"), "not an IPv4 or IPv6 prefix");
    memset(longhost, '1', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    ck_assert_str_eq(cidr_why(longhost), "not an IPv4 or IPv6 prefix");
    ck_assert_str_eq(cidr_why("foo/8"), "'foo' is not an IPv4 or IPv6 address");
    ck_assert_str_eq(cidr_why("10.0.0/8"), "'10.0.0' is not an IPv4 or IPv6 address");
    ck_assert_str_eq(cidr_why("10.0.0.0/"), "prefix length '' is not a number");
    ck_assert_str_eq(cidr_why("10.0.0.0/x"), "prefix length 'x' is not a number");
    ck_assert_str_eq(cidr_why("10.0.0.0/8x"), "prefix length '8x' is not a number");
    ck_assert_str_eq(cidr_why("10.0.0.0/8/8"), "prefix length '8/8' is not a number");
    ck_assert_str_eq(cidr_why("10.0.0.0/-1"), "prefix length '-1' is not a number");
    ck_assert_str_eq(cidr_why("10.0.0.0/ 8"), "prefix length ' 8' is not a number");
    ck_assert_str_eq(cidr_why("10.0.0.0/+8"), "prefix length '+8' is not a number");
    ck_assert_str_eq(cidr_why("10.0.0.0/99999999999999999999"),
                     "prefix length '99999999999999999999' is not a number");
}
END_TEST

START_TEST(test_cidr_contains_v4)
{
    struct cidr c = C("192.0.2.0/24");
    struct addr in0 = A("192.0.2.0"), in1 = A("192.0.2.255"), before = A("192.0.1.255"),
                after = A("192.0.3.0"), v6 = A("2001:db8::"), v6low = A("::c000:200");

    ck_assert(cidr_contains(&c, &in0));
    ck_assert(cidr_contains(&c, &in1));
    ck_assert(!cidr_contains(&c, &before));
    ck_assert(!cidr_contains(&c, &after));
    ck_assert(!cidr_contains(&c, &v6));
    /* the same low 32 bits outside the mapped space are not IPv4 */
    ck_assert(!cidr_contains(&c, &v6low));

    c = C("0.0.0.0/0");
    ck_assert(cidr_contains(&c, &in0));
    ck_assert(cidr_contains(&c, &before));
    ck_assert(!cidr_contains(&c, &v6));
    ck_assert(!cidr_contains(&c, &v6low));

    c = C("192.0.2.255/32");
    ck_assert(cidr_contains(&c, &in1));
    ck_assert(!cidr_contains(&c, &in0));
}
END_TEST

START_TEST(test_cidr_contains_v6)
{
    struct cidr c = C("2001:db8::/32");
    struct addr first = A("2001:db8::"), last = A("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
                before = A("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff"), after = A("2001:db9::"),
                v4 = A("192.0.2.1"), mapped = A("::ffff:192.0.2.1");

    ck_assert(cidr_contains(&c, &first));
    ck_assert(cidr_contains(&c, &last));
    ck_assert(!cidr_contains(&c, &before));
    ck_assert(!cidr_contains(&c, &after));
    ck_assert(!cidr_contains(&c, &v4));

    /* ::/0 is every IPv6 address, but IPv4 is its own family */
    c = C("::/0");
    ck_assert(cidr_contains(&c, &first));
    ck_assert(cidr_contains(&c, &before));
    ck_assert(!cidr_contains(&c, &v4));
    ck_assert(!cidr_contains(&c, &mapped));

    /* an IPv6 prefix inside the mapped space is an IPv4 prefix */
    c = C("::ffff:192.0.2.0/120");
    ck_assert(cidr_contains(&c, &v4));
    ck_assert(!cidr_contains(&c, &first));

    c = C("2001:db8::/128");
    ck_assert(cidr_contains(&c, &first));
    ck_assert(!cidr_contains(&c, &last));
}
END_TEST

START_TEST(test_addr_mask)
{
    struct addr a = A("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");

    addr_mask(&a, 36);
    ck_assert_str_eq(fmt_addr(&a), "2001:db8:f000::");
    a = A("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
    addr_mask(&a, 128);
    ck_assert_str_eq(fmt_addr(&a), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
    addr_mask(&a, 127);
    ck_assert_str_eq(fmt_addr(&a), "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe");
    addr_mask(&a, 0);
    ck_assert_str_eq(fmt_addr(&a), "::");

    /* IPv4 lengths are counted after the 96 bits of the mapped prefix */
    a = A("192.0.2.255");
    addr_mask(&a, 96 + 20);
    ck_assert_str_eq(fmt_addr(&a), "192.0.0.0");
    a = A("192.0.2.255");
    addr_mask(&a, 96 + 31);
    ck_assert_str_eq(fmt_addr(&a), "192.0.2.254");
    a = A("192.0.2.255");
    addr_mask(&a, 96);
    ck_assert_str_eq(fmt_addr(&a), "0.0.0.0");
    ck_assert(addr_is_v4(&a));
}
END_TEST

/* ---- parse ---- */

START_TEST(test_parse_int64_ranges)
{
    int64_t v = 0;
    char why[128] = "";

    ck_assert_int_eq(parse_int64("42", 0, 100, &v, why, sizeof(why)), 0);
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(parse_int64("-5", -10, 10, &v, why, sizeof(why)), 0);
    ck_assert_int_eq(v, -5);
    ck_assert_int_eq(parse_int64("2", 2, 1000, &v, why, sizeof(why)), 0);
    ck_assert_int_eq(v, 2);
    ck_assert_int_eq(parse_int64("1000", 2, 1000, &v, why, sizeof(why)), 0);
    ck_assert_int_eq(v, 1000);
    ck_assert_int_eq(parse_int64("9223372036854775807", INT64_MIN, INT64_MAX, &v, why,
                                 sizeof(why)), 0);
    ck_assert(v == INT64_MAX);
    ck_assert_int_eq(parse_int64("-9223372036854775808", INT64_MIN, INT64_MAX, &v, why,
                                 sizeof(why)), 0);
    ck_assert(v == INT64_MIN);

    v = 77;
    ck_assert_int_eq(parse_int64("1", 2, 1000, &v, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "1 is outside 2..1000");
    ck_assert_int_eq(parse_int64("1001", 2, 1000, &v, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "1001 is outside 2..1000");
    ck_assert_int_eq(parse_int64("-1", 0, 10, &v, why, sizeof(why)), -1);
    ck_assert_str_eq(why, "-1 is outside 0..10");
    /* on error the output is left alone */
    ck_assert_int_eq(v, 77);
}
END_TEST

START_TEST(test_parse_int64_garbage)
{
    static const char *const bad[] = {"", "12a", " 12", "12 ", "1.5", "0x10", "abc", "-",
                                      "9223372036854775808", "--1"};
    int64_t v = 77;
    char why[128], want[128];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(parse_int64(bad[i], INT64_MIN, INT64_MAX, &v, why, sizeof(why)) == -1,
                      "accepted '%s'", bad[i]);
        snprintf(want, sizeof(want), "'%s' is not an integer", bad[i]);
        ck_assert_str_eq(why, want);
    }
    ck_assert_int_eq(v, 77);
}
END_TEST

/* Parses s, which must be accepted, with at most max decimals. */
static struct decimal
dec(const char *s, int max)
{
    struct decimal d;
    char why[128] = "";

    memset(&d, 0x55, sizeof(d));
    ck_assert_msg(parse_decimal(s, max, &d, why, sizeof(why)) == 0, "%s: %s", s, why);
    return d;
}

static const char *
dec_why(const char *s, int max)
{
    static char why[128];
    struct decimal d;

    snprintf(why, sizeof(why), "(no reason given)");
    ck_assert_msg(parse_decimal(s, max, &d, why, sizeof(why)) == -1, "accepted '%s'", s);
    return why;
}

START_TEST(test_parse_decimal_exact)
{
    static const struct {
        const char *in;
        int64_t num, den;
        const char *text;
    } cases[] = {
        {"0.75", 75, 100, "0.75"}, {"1.0", 1, 1, "1"},      {"1", 1, 1, "1"},
        {"2.5", 25, 10, "2.5"},    {"0.5", 5, 10, "0.5"},   {"100", 100, 1, "100"},
        {"10", 10, 1, "10"},       {"0.05", 5, 100, "0.05"}, {"0.001", 1, 1000, "0.001"},
        {"+1.25", 125, 100, "1.25"}, {"007", 7, 1, "7"},   {".5", 5, 10, "0.5"},
        {"0", 0, 1, "0"},          {"0.0000", 0, 1, "0"},  {"12.3456", 123456, 10000, "12.3456"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct decimal d = dec(cases[i].in, 4);

        ck_assert_msg(d.num == cases[i].num && d.den == cases[i].den, "%s: %lld/%lld",
                      cases[i].in, (long long)d.num, (long long)d.den);
        ck_assert_str_eq(d.text, cases[i].text);
        ck_assert_msg(d.value == (double)cases[i].num / (double)cases[i].den, "%s: value %g",
                      cases[i].in, d.value);
    }
}
END_TEST

START_TEST(test_parse_decimal_normalised_text)
{
    struct decimal a = dec("1.50", 4), b = dec("1.5", 4), c = dec("00.500", 4);

    ck_assert_str_eq(a.text, "1.5");
    ck_assert_int_eq(a.num, 15);
    ck_assert_int_eq(a.den, 10);
    ck_assert_int_eq(b.num, a.num);
    ck_assert_int_eq(b.den, a.den);
    ck_assert_str_eq(c.text, "0.5");
    ck_assert_int_eq(c.num, 5);
    ck_assert_int_eq(c.den, 10);
}
END_TEST

START_TEST(test_parse_decimal_too_many_decimals)
{
    ck_assert_str_eq(dec_why("0.12345", 4), "'0.12345' has more than 4 decimals");
    ck_assert_str_eq(dec_why("1.5", 0), "'1.5' has more than 0 decimals");
    ck_assert_str_eq(dec_why("2.0001", 3), "'2.0001' has more than 3 decimals");
    ck_assert_str_eq(dec(("0.1234"), 4).text, "0.1234");
    ck_assert_str_eq(dec_why("1234567890123456", 4), "'1234567890123456' has too many digits");
    ck_assert_int_eq(dec("123456789012345", 4).num, 123456789012345LL);
}
END_TEST

START_TEST(test_parse_decimal_negative)
{
    struct decimal d = dec("-0.5", 4);

    ck_assert_int_eq(d.num, -5);
    ck_assert_int_eq(d.den, 10);
    ck_assert_str_eq(d.text, "-0.5");
    ck_assert(d.value == -0.5);

    d = dec("-12.50", 4);
    ck_assert_int_eq(d.num, -125);
    ck_assert_int_eq(d.den, 10);
    ck_assert_str_eq(d.text, "-12.5");

    /* minus zero is zero, written once way */
    d = dec("-0.0", 4);
    ck_assert_int_eq(d.num, 0);
    ck_assert_int_eq(d.den, 1);
    ck_assert_str_eq(d.text, "0");
}
END_TEST

START_TEST(test_parse_decimal_garbage)
{
    static const char *const bad[] = {"", ".", "-", "+", "1.2.3", "1e3", "abc", "1,5",
                                      " 1",  "1 ", "nan", "inf", "--1", "0x1", "1.5%"};
    char want[128];

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(want, sizeof(want), "'%s' is not a number", bad[i]);
        ck_assert_str_eq(dec_why(bad[i], 6), want);
    }
}
END_TEST

static int64_t
dur(const char *s)
{
    int64_t v = -1;
    char why[128] = "";

    ck_assert_msg(parse_duration(s, &v, why, sizeof(why)) == 0, "%s: %s", s, why);
    return v;
}

static const char *
dur_why(const char *s)
{
    static char why[128];
    int64_t v = 77;

    snprintf(why, sizeof(why), "(no reason given)");
    ck_assert_msg(parse_duration(s, &v, why, sizeof(why)) == -1, "accepted '%s'", s);
    ck_assert_int_eq(v, 77);
    return why;
}

START_TEST(test_parse_duration_units)
{
    ck_assert_int_eq(dur("30s"), 30);
    ck_assert_int_eq(dur("30"), 30);
    ck_assert_int_eq(dur("5m"), 300);
    ck_assert_int_eq(dur("1h"), 3600);
    ck_assert_int_eq(dur("6h"), 6 * 3600);
    ck_assert_int_eq(dur("1d"), 86400);
    ck_assert_int_eq(dur("1w"), 604800);
    ck_assert_int_eq(dur("2w"), 2 * 604800);
    ck_assert_int_eq(dur("90m"), 5400);
    /* zero is a duration too (input.lateness: 0s) */
    ck_assert_int_eq(dur("0s"), 0);
    ck_assert_int_eq(dur("0"), 0);
    /* at most ten years */
    ck_assert_int_eq(dur("3650d"), 3650LL * 86400);
    ck_assert_int_eq(dur("520w"), 520LL * 604800);
}
END_TEST

START_TEST(test_parse_duration_errors)
{
    ck_assert_str_eq(dur_why(""), "'' is not a duration such as 30s, 5m, 1h, 1d");
    ck_assert_str_eq(dur_why("m"), "'m' is not a duration such as 30s, 5m, 1h, 1d");
    ck_assert_str_eq(dur_why("-5m"), "'-5m' is not a duration such as 30s, 5m, 1h, 1d");
    ck_assert_str_eq(dur_why(" 5m"), "' 5m' is not a duration such as 30s, 5m, 1h, 1d");
    ck_assert_str_eq(dur_why("5mm"), "'5mm' is not a duration such as 30s, 5m, 1h, 1d");
    ck_assert_str_eq(dur_why("5m "), "'5m ' is not a duration such as 30s, 5m, 1h, 1d");
    ck_assert_str_eq(dur_why("5x"), "'5x' has an unknown unit (use s, m, h, d or w)");
    ck_assert_str_eq(dur_why("1.5h"), "'1.5h' has an unknown unit (use s, m, h, d or w)");
    ck_assert_str_eq(dur_why("5 m"), "'5 m' has an unknown unit (use s, m, h, d or w)");
    ck_assert_str_eq(dur_why("5M"), "'5M' has an unknown unit (use s, m, h, d or w)");
    ck_assert_str_eq(dur_why("3651d"), "'3651d' is longer than ten years");
    ck_assert_str_eq(dur_why("99999999999999999999s"),
                     "'99999999999999999999s' is not a duration such as 30s, 5m, 1h, 1d");
}
END_TEST

START_TEST(test_format_duration)
{
    static const struct {
        int64_t s;
        const char *text;
    } cases[] = {
        {0, "0s"},      {30, "30s"},     {90, "90s"},    {300, "5m"},      {5400, "90m"},
        {3600, "1h"},   {7200, "2h"},    {86400, "1d"},  {172800, "2d"},   {604800, "1w"},
        {1209600, "2w"}, {90000, "25h"}, {86401, "86401s"},
    };
    char buf[32];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_str_eq(format_duration(cases[i].s, buf, sizeof(buf)), cases[i].text);
        /* and it reads back */
        ck_assert_int_eq(dur(buf), cases[i].s);
    }
}
END_TEST

/* ---- time zone ---- */

static void
tz_reset(void)
{
    tz_apply("UTC");
}

START_TEST(test_tz_check_accepts)
{
    char why[256] = "";

    ck_assert_int_eq(tz_check("UTC", why, sizeof(why)), 0);
    ck_assert_int_eq(tz_check("Europe/Berlin", why, sizeof(why)), 0);
    ck_assert_int_eq(tz_check("Asia/Tokyo", why, sizeof(why)), 0);
    ck_assert_int_eq(tz_check("America/Argentina/Buenos_Aires", why, sizeof(why)), 0);
    ck_assert_str_eq(why, "");
}
END_TEST

START_TEST(test_tz_check_rejects)
{
    char why[512], want[512];

    unsetenv("TZDIR");
    ck_assert_int_eq(tz_check("Mars/Base", why, sizeof(why)), -1);
    ck_assert_str_eq(why, "unknown time zone 'Mars/Base' (not in /usr/share/zoneinfo)");
    ck_assert_int_eq(tz_check("../etc/passwd", why, sizeof(why)), -1);
    ck_assert_str_eq(why, "'../etc/passwd' is not an IANA time zone name");
    ck_assert_int_eq(tz_check("Europe/../../../etc/passwd", why, sizeof(why)), -1);
    ck_assert_str_eq(why, "'Europe/../../../etc/passwd' is not an IANA time zone name");
    ck_assert_int_eq(tz_check("/etc/x", why, sizeof(why)), -1);
    ck_assert_str_eq(why, "'/etc/x' is not an IANA time zone name");
    ck_assert_int_eq(tz_check("", why, sizeof(why)), -1);
    ck_assert_str_eq(why, "'' is not an IANA time zone name");
    ck_assert_int_eq(tz_check("Europe/Berlin;ls", why, sizeof(why)), -1);
    ck_assert_str_eq(why, "'Europe/Berlin;ls' is not an IANA time zone name");
    ck_assert_int_eq(tz_check("Europe/Berlin x", why, sizeof(why)), -1);
    ck_assert_str_eq(why, "'Europe/Berlin x' is not an IANA time zone name");
    /* a directory of the database is not a zone */
    ck_assert_int_eq(tz_check("Europe", why, sizeof(why)), -1);
    snprintf(want, sizeof(want),
             "unknown time zone 'Europe' (/usr/share/zoneinfo/Europe is not a tz file)");
    ck_assert_str_eq(why, want);
}
END_TEST

START_TEST(test_tz_check_not_a_tz_file)
{
    char why[1200], want[1200];
    const char *dir = tu_path("zoneinfo");
    char path[600];

    ck_assert_int_eq(mkdir(dir, 0700), 0);
    snprintf(path, sizeof(path), "%s/Fake", dir);
    tu_write_file(path, "not a tz file\n", 14);
    setenv("TZDIR", dir, 1);
    ck_assert_int_eq(tz_check("Fake", why, sizeof(why)), -1);
    snprintf(want, sizeof(want), "unknown time zone 'Fake' (%s is not a tz file)", path);
    ck_assert_str_eq(why, want);
    ck_assert_int_eq(tz_check("UTC", why, sizeof(why)), 0);
    unsetenv("TZDIR");
}
END_TEST

/* 2015-10-25: CEST ends at 03:00, the clock goes back to 02:00. */
START_TEST(test_tz_berlin_autumn_day_is_25_hours)
{
    const int64_t noon = 1445774400;         /* 2015-10-25T12:00:00Z */
    const int64_t midnight = 1445724000;     /* 2015-10-25T00:00:00+02:00 */
    const int64_t next = 1445814000;         /* 2015-10-26T00:00:00+01:00 */

    tz_apply("Europe/Berlin");
    ck_assert_int_eq(tz_day_start(noon), midnight);
    ck_assert_int_eq(tz_day_start(midnight), midnight);
    ck_assert_int_eq(tz_day_start(next - 1), midnight);
    ck_assert_int_eq(tz_day_start(next), next);
    ck_assert_int_eq(tz_day_start(midnight - 1), midnight - 86400);
    ck_assert_int_eq(tz_next_day(midnight), next);
    ck_assert_int_eq(next - midnight, 25 * 3600);
    ck_assert_int_eq(tz_next_day(next), next + 86400);
    ck_assert_int_eq(tz_offset(midnight), 7200);
    ck_assert_int_eq(tz_offset(noon), 3600);
}
END_TEST

/* 2015-03-29: CET ends at 02:00, the clock jumps to 03:00. */
START_TEST(test_tz_berlin_spring_day_is_23_hours)
{
    const int64_t noon = 1427630400;         /* 2015-03-29T12:00:00Z */
    const int64_t midnight = 1427583600;     /* 2015-03-29T00:00:00+01:00 */
    const int64_t next = 1427666400;         /* 2015-03-30T00:00:00+02:00 */

    tz_apply("Europe/Berlin");
    ck_assert_int_eq(tz_day_start(noon), midnight);
    ck_assert_int_eq(tz_day_start(next - 1), midnight);
    ck_assert_int_eq(tz_next_day(midnight), next);
    ck_assert_int_eq(next - midnight, 23 * 3600);
    ck_assert_int_eq(tz_next_day(midnight - 86400), midnight);
}
END_TEST

START_TEST(test_tz_utc_days)
{
    tz_apply("UTC");
    ck_assert_int_eq(tz_day_start(1450656000 + 3600), 1450656000);
    ck_assert_int_eq(tz_next_day(1450656000), 1450656000 + 86400);
    ck_assert_int_eq(tz_offset(1450656000), 0);
    /* before 1970 */
    ck_assert_int_eq(tz_day_start(-1), -86400);
}
END_TEST

START_TEST(test_tz_week_starts_on_monday)
{
    tz_apply("Europe/Berlin");
    /* Sunday 2015-10-25 belongs to the week of Monday 2015-10-19 (CEST) */
    ck_assert_int_eq(tz_week_start(1445774400), 1445205600);
    ck_assert_int_eq(tz_week_start(1445205600), 1445205600);
    ck_assert_int_eq(tz_week_start(1445205600 - 1), 1445205600 - 7 * 86400);
}
END_TEST

START_TEST(test_tz_format_rfc3339)
{
    char buf[TZ_RFC3339_LEN];

    tz_apply("Europe/Berlin");
    ck_assert_str_eq(tz_format_rfc3339(1445724000, buf), "2015-10-25T00:00:00+02:00");
    ck_assert_str_eq(tz_format_rfc3339(1445814000, buf), "2015-10-26T00:00:00+01:00");
    /* the hour that happens twice, told apart by the offset */
    ck_assert_str_eq(tz_format_rfc3339(1445731200, buf), "2015-10-25T02:00:00+02:00");
    ck_assert_str_eq(tz_format_rfc3339(1445734800, buf), "2015-10-25T02:00:00+01:00");

    tz_apply("UTC");
    ck_assert_str_eq(tz_format_rfc3339(1450656000, buf), "2015-12-21T00:00:00Z");
    ck_assert_str_eq(tz_format_rfc3339(0, buf), "1970-01-01T00:00:00Z");

    tz_apply("Asia/Tokyo");
    ck_assert_str_eq(tz_format_rfc3339(1450623600, buf), "2015-12-21T00:00:00+09:00");
    tz_apply("Asia/Kolkata");
    ck_assert_str_eq(tz_format_rfc3339(1450656000, buf), "2015-12-21T05:30:00+05:30");
    tz_apply("America/New_York");
    ck_assert_str_eq(tz_format_rfc3339(1450656000, buf), "2015-12-20T19:00:00-05:00");
}
END_TEST

START_TEST(test_tz_format_rfc3339_ms)
{
    char buf[TZ_RFC3339_LEN];

    tz_apply("UTC");
    ck_assert_str_eq(tz_format_rfc3339_ms(1450656000250LL, buf), "2015-12-21T00:00:00.250Z");
    ck_assert_str_eq(tz_format_rfc3339_ms(1450656000000LL, buf), "2015-12-21T00:00:00.000Z");
    ck_assert_str_eq(tz_format_rfc3339_ms(1450656000999LL, buf), "2015-12-21T00:00:00.999Z");
    ck_assert_str_eq(tz_format_rfc3339_ms(-1, buf), "1969-12-31T23:59:59.999Z");
    tz_apply("Asia/Tokyo");
    ck_assert_str_eq(tz_format_rfc3339_ms(1450623600007LL, buf),
                     "2015-12-21T00:00:00.007+09:00");
}
END_TEST

static int64_t
ptime(const char *s)
{
    int64_t t = 0;

    ck_assert_msg(tz_parse_time(s, &t) == 0, "refused '%s'", s);
    return t;
}

START_TEST(test_tz_parse_time)
{
    tz_apply("Europe/Berlin");
    /* local midnight */
    ck_assert_int_eq(ptime("2015-10-25"), 1445724000);
    ck_assert_int_eq(ptime("2015-10-26"), 1445814000);
    ck_assert_int_eq(ptime("2015-10-25 12:00"), 1445770800);
    ck_assert_int_eq(ptime("2015-10-25T12:00:30"), 1445770830);
    /* explicit offsets do not depend on the zone */
    ck_assert_int_eq(ptime("2015-10-25T03:00:00Z"), 1445742000);
    ck_assert_int_eq(ptime("2015-10-25T03:00Z"), 1445742000);
    ck_assert_int_eq(ptime("2015-10-25T03:00:00+09:00"), 1445742000 - 9 * 3600);
    ck_assert_int_eq(ptime("2015-10-25T03:00:00-01:30"), 1445742000 + 5400);
    ck_assert_int_eq(ptime("2015-10-25T03:00:00+00:00"), 1445742000);
    ck_assert_int_eq(ptime("2016-02-29T00:00:00Z"), 1456704000);

    tz_apply("UTC");
    ck_assert_int_eq(ptime("2015-12-21"), 1450656000);
}
END_TEST

START_TEST(test_tz_parse_time_errors)
{
    static const char *const bad[] = {
        "",
        "2015",
        "2015-10",
        "yesterday",
        "2015-13-01",
        "2015-00-01",
        "2015-10-32",
        "2015-10-00",
        "2015-02-30",
        "2015-02-29",
        "2015-04-31",
        "2015-10-25T24:00:00Z",
        "2015-10-25T03:60:00Z",
        "2015-10-25T-1:00Z",
        "2015-10-25T03:-1Z",
        "2015-10-25T03:00:-1Z",
        "2015-10-25T03:00:00+-1:00",
        "2015-10-25T",
        "2015-10-25T03",
        "2015-10-25T03:00:00X",
        "2015-10-25T03:00:00+0900",
        "2015-10-25T03:00:00+09:00junk",
        "2015-10-25T03:00:00+24:00",
        "2015-10-25T03:00:00+09:60",
        "2015-10-25T03:00:00Zjunk",
        "2015-10-25x",
    };
    int64_t t = 77;

    tz_apply("UTC");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(tz_parse_time(bad[i], &t) == -1, "accepted '%s'", bad[i]);
    ck_assert_int_eq(t, 77);
}
END_TEST

/* ---- protocols ---- */

START_TEST(test_proto_name)
{
    ck_assert_str_eq(proto_name(6), "tcp");
    ck_assert_str_eq(proto_name(17), "udp");
    ck_assert_str_eq(proto_name(1), "icmp");
    ck_assert_str_eq(proto_name(58), "ipv6-icmp");
    ck_assert_str_eq(proto_name(47), "gre");
    ck_assert_str_eq(proto_name(132), "sctp");
    ck_assert_ptr_null(proto_name(0));
    ck_assert_ptr_null(proto_name(253));
    ck_assert_ptr_null(proto_name(255));
}
END_TEST

START_TEST(test_proto_parse)
{
    static const struct {
        const char *s;
        uint8_t v;
    } ok[] = {
        {"tcp", 6},   {"udp", 17},  {"icmp", 1},  {"ipv6-icmp", 58}, {"icmp6", 58},
        {"icmpv6", 58}, {"gre", 47}, {"47", 47},  {"0", 0},          {"255", 255},
        {"253", 253},
    };
    static const char *const bad[] = {"", "256", "-1", "tcpx", "1x", "x1", "999999999999999999999"};
    uint8_t p;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        p = 0xaa;
        ck_assert_msg(proto_parse(ok[i].s, &p) == 0, "refused '%s'", ok[i].s);
        ck_assert_uint_eq(p, ok[i].v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(proto_parse(bad[i], &p) == -1, "accepted '%s'", bad[i]);
    /* every name reads back to its number */
    for (int n = 0; n < 256; n++) {
        const char *name = proto_name((uint8_t)n);

        if (name == NULL)
            continue;
        ck_assert_int_eq(proto_parse(name, &p), 0);
        ck_assert_uint_eq(p, (unsigned)n);
    }
}
END_TEST

START_TEST(test_proto_classes)
{
    ck_assert(proto_has_ports(PROTO_TCP));
    ck_assert(proto_has_ports(PROTO_UDP));
    ck_assert(proto_has_ports(PROTO_SCTP));
    ck_assert(!proto_has_ports(PROTO_ICMP));
    ck_assert(!proto_has_ports(47));
    ck_assert(proto_is_icmp(PROTO_ICMP));
    ck_assert(proto_is_icmp(PROTO_ICMPV6));
    ck_assert(!proto_is_icmp(PROTO_TCP));
}
END_TEST

START_TEST(test_tcp_flags_format)
{
    char buf[TCP_FLAGS_STRLEN];

    ck_assert_str_eq(tcp_flags_format(0x02, buf), "SYN");
    ck_assert_str_eq(tcp_flags_format(0x12, buf), "SYN/ACK");
    ck_assert_str_eq(tcp_flags_format(0x14, buf), "RST/ACK");
    ck_assert_str_eq(tcp_flags_format(0x19, buf), "FIN/PSH/ACK");
    ck_assert_str_eq(tcp_flags_format(0x04, buf), "RST");
    ck_assert_str_eq(tcp_flags_format(0x01, buf), "FIN");
    ck_assert_str_eq(tcp_flags_format(0x00, buf), "NULL");
    ck_assert_str_eq(tcp_flags_format(0x29, buf), "FIN/PSH/URG");
    ck_assert_str_eq(tcp_flags_format(0xc2, buf), "SYN/ECE/CWR");
    ck_assert_str_eq(tcp_flags_format(0xff, buf), "FIN/SYN/RST/PSH/ACK/URG/ECE/CWR");
}
END_TEST

START_TEST(test_ptype_format)
{
    char buf[PTYPE_STRLEN];

    ck_assert_str_eq(ptype_format(ptype_of(PROTO_TCP, 0x02, 0), buf), "TCP SYN");
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_TCP, 0x12, 0), buf), "TCP SYN/ACK");
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_TCP, 0x04, 0), buf), "TCP RST");
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_TCP, 0x00, 0), buf), "TCP");
    /* UDP has no flags or types: whatever the record says, it is "UDP" */
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_UDP, 0x02, 8), buf), "UDP");
    ck_assert_uint_eq(ptype_of(PROTO_UDP, 0x02, 8), ptype_of(PROTO_UDP, 0, 0));
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_ICMP, 0, 8), buf), "ICMP echo-request");
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_ICMP, 0, 0), buf), "ICMP echo-reply");
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_ICMP, 0, 3), buf), "ICMP dest-unreach");
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_ICMP, 0, 200), buf), "ICMP type 200");
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_ICMP, 0, 1), buf), "ICMP type 1");
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_ICMPV6, 0, 128), buf), "ICMPv6 echo-request");
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_ICMPV6, 0, 8), buf), "ICMPv6 type 8");
    ck_assert_str_eq(ptype_format(ptype_of(47, 0, 0), buf), "GRE");
    ck_assert_str_eq(ptype_format(ptype_of(PROTO_SCTP, 0, 0), buf), "SCTP");
    ck_assert_str_eq(ptype_format(ptype_of(253, 0x02, 8), buf), "proto 253");
    ck_assert_str_eq(ptype_format(ptype_of(0, 0, 0), buf), "proto 0");
    /* the classes stay apart */
    ck_assert_uint_ne(ptype_of(PROTO_ICMP, 0, 8), ptype_of(PROTO_ICMPV6, 0, 8));
    ck_assert_uint_ne(ptype_of(PROTO_TCP, 0, 0), ptype_of(PROTO_UDP, 0, 0));
}
END_TEST

/* ---- group keys ---- */

START_TEST(test_keyspec_every_name)
{
    static const struct {
        const char *name;
        enum key_kind kind;
    } keys[] = {
        {"proto", KEY_PROTO},         {"dst_port", KEY_DST_PORT},   {"src_port", KEY_SRC_PORT},
        {"tcp_flags", KEY_TCP_FLAGS}, {"icmp_type", KEY_ICMP_TYPE}, {"icmp_code", KEY_ICMP_CODE},
        {"src_addr", KEY_SRC_ADDR},   {"dst_addr", KEY_DST_ADDR},   {"src_net/16", KEY_SRC_NET},
        {"dst_net/24", KEY_DST_NET},  {"exporter", KEY_EXPORTER},   {"ip_version", KEY_IP_VERSION},
        {"type", KEY_TYPE},
    };
    struct key_spec k;
    char why[512] = "", buf[KEYSPEC_STRLEN];

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ck_assert_msg(keyspec_parse(keys[i].name, &k, why, sizeof(why)) == 0, "%s: %s",
                      keys[i].name, why);
        ck_assert_int_eq(k.kind, keys[i].kind);
        /* the canonical name reads back */
        ck_assert_str_eq(keyspec_format(&k, buf), keys[i].name);
        /* and every one is listed for error messages */
        ck_assert_ptr_nonnull(strstr(keyspec_all_names(), keyspec_field(&k)));
    }
}
END_TEST

START_TEST(test_keyspec_net_lengths)
{
    struct key_spec k;
    char why[512] = "", buf[KEYSPEC_STRLEN];

    ck_assert_int_eq(keyspec_parse("dst_net/24", &k, why, sizeof(why)), 0);
    ck_assert_int_eq(k.kind, KEY_DST_NET);
    ck_assert_uint_eq(k.v4_len, 24);
    ck_assert_uint_eq(k.v6_len, 64);
    ck_assert_str_eq(keyspec_field(&k), "dst_net");

    ck_assert_int_eq(keyspec_parse("dst_net/24/48", &k, why, sizeof(why)), 0);
    ck_assert_uint_eq(k.v4_len, 24);
    ck_assert_uint_eq(k.v6_len, 48);
    ck_assert_str_eq(keyspec_format(&k, buf), "dst_net/24/48");
    ck_assert_str_eq(keyspec_field(&k), "dst_net");

    ck_assert_int_eq(keyspec_parse("src_net/0/0", &k, why, sizeof(why)), 0);
    ck_assert_int_eq(k.kind, KEY_SRC_NET);
    ck_assert_uint_eq(k.v4_len, 0);
    ck_assert_uint_eq(k.v6_len, 0);
    ck_assert_str_eq(keyspec_format(&k, buf), "src_net/0/0");

    ck_assert_int_eq(keyspec_parse("dst_net/32/128", &k, why, sizeof(why)), 0);
    ck_assert_uint_eq(k.v4_len, 32);
    ck_assert_uint_eq(k.v6_len, 128);

    /* /64 is the IPv6 default, so it is left out of the canonical name */
    ck_assert_int_eq(keyspec_parse("dst_net/24/64", &k, why, sizeof(why)), 0);
    ck_assert_str_eq(keyspec_format(&k, buf), "dst_net/24");
}
END_TEST

static const char *
key_why(const char *s)
{
    static char why[512];
    struct key_spec k;

    snprintf(why, sizeof(why), "(no reason given)");
    ck_assert_msg(keyspec_parse(s, &k, why, sizeof(why)) == -1, "accepted '%s'", s);
    return why;
}

START_TEST(test_keyspec_errors)
{
    static const char *const badlen[] = {
        "dst_net/33",    "dst_net/24/129", "dst_net/",     "dst_net/24/",   "dst_net/x",
        "dst_net/-1",    "dst_net/ 24",    "dst_net/+24",  "dst_net/24/ 48", "dst_net/24/48/1",
        "src_net/123456789", "dst_net//48",
    };
    const char *known = keyspec_all_names();
    char want[1024];
    char longname[100];

    snprintf(want, sizeof(want), "unknown group key 'port' (known: %s)", known);
    ck_assert_str_eq(key_why("port"), want);
    snprintf(want, sizeof(want), "unknown group key 'Proto' (known: %s)", known);
    ck_assert_str_eq(key_why("Proto"), want);
    snprintf(want, sizeof(want), "unknown group key '' (known: %s)", known);
    ck_assert_str_eq(key_why(""), want);
    snprintf(want, sizeof(want), "unknown group key 'foo/24' (known: %s)", known);
    ck_assert_str_eq(key_why("foo/24"), want);
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    snprintf(want, sizeof(want), "unknown group key '%s' (known: %s)", longname, known);
    ck_assert_str_eq(key_why(longname), want);

    ck_assert_str_eq(key_why("dst_net"), "key 'dst_net' needs a prefix length, as in dst_net/24");
    ck_assert_str_eq(key_why("src_net"), "key 'src_net' needs a prefix length, as in src_net/24");
    ck_assert_str_eq(key_why("proto/24"), "key 'proto' takes no prefix length");
    ck_assert_str_eq(key_why("dst_port/"), "key 'dst_port' takes no prefix length");

    for (size_t i = 0; i < sizeof(badlen) / sizeof(badlen[0]); i++) {
        snprintf(want, sizeof(want),
                 "'%s': prefix length must be 0..32 for IPv4, optionally /0..128 for IPv6 "
                 "(dst_net/24 or dst_net/24/48)",
                 badlen[i]);
        ck_assert_str_eq(key_why(badlen[i]), want);
    }
}
END_TEST

START_TEST(test_keyspec_round_trip)
{
    static const char *const names[] = {"dst_net/0",     "dst_net/32",    "src_net/8/32",
                                        "src_net/24/128", "dst_net/16/0", "type"};
    struct key_spec k, k2;
    char why[512] = "", buf[KEYSPEC_STRLEN];

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ck_assert_int_eq(keyspec_parse(names[i], &k, why, sizeof(why)), 0);
        ck_assert_str_eq(keyspec_format(&k, buf), names[i]);
        ck_assert_int_eq(keyspec_parse(buf, &k2, why, sizeof(why)), 0);
        ck_assert_int_eq(k2.kind, k.kind);
        ck_assert_uint_eq(k2.v4_len, k.v4_len);
        ck_assert_uint_eq(k2.v6_len, k.v6_len);
    }
}
END_TEST

/* ---- JSON ---- */

struct mem {
    char *buf;
    size_t len;
    FILE *fp;
};

static void
mem_open(struct mem *m)
{
    m->buf = NULL;
    m->len = 0;
    m->fp = open_memstream(&m->buf, &m->len);
    ck_assert_ptr_nonnull(m->fp);
}

/* Closes the stream; the text stays in m->buf until mem_free(). */
static const char *
mem_text(struct mem *m)
{
    ck_assert_int_eq(fclose(m->fp), 0);
    m->fp = NULL;
    return m->buf;
}

static void
mem_free(struct mem *m)
{
    free(m->buf);
    m->buf = NULL;
}

START_TEST(test_json_compact_document)
{
    struct mem m;
    struct json_w w;

    mem_open(&m);
    json_init(&w, m.fp, false);
    json_obj_begin(&w);
    json_key(&w, "name");
    json_str(&w, "a\"b\\c");
    json_key(&w, "n");
    json_int(&w, -3);
    json_key(&w, "u");
    json_uint(&w, UINT64_MAX);
    json_key(&w, "list");
    json_arr_begin(&w);
    json_int(&w, 1);
    json_double(&w, 0.5, 3);
    json_null(&w);
    json_bool(&w, true);
    json_bool(&w, false);
    json_obj_begin(&w);
    json_obj_end(&w);
    json_arr_begin(&w);
    json_arr_end(&w);
    json_arr_end(&w);
    json_key(&w, "o");
    json_obj_begin(&w);
    json_key(&w, "x");
    json_double(&w, 1.0, 3);
    json_key(&w, "y");
    json_arr_begin(&w);
    json_str(&w, "");
    json_arr_end(&w);
    json_obj_end(&w);
    json_key(&w, "min");
    json_int(&w, INT64_MIN);
    json_key(&w, "ctl");
    json_str(&w, "t\tn\nr\r\001z\"");
    json_key(&w, "zero");
    json_uint(&w, 0);
    json_obj_end(&w);
    json_finish(&w);
    ck_assert_str_eq(mem_text(&m),
                     "{\"name\":\"a\\\"b\\\\c\",\"n\":-3,\"u\":18446744073709551615,"
                     "\"list\":[1,0.5,null,true,false,{},[]],\"o\":{\"x\":1.0,\"y\":[\"\"]},"
                     "\"min\":-9223372036854775808,\"ctl\":\"t\\tn\\nr\\r\\u0001z\\\"\","
                     "\"zero\":0}\n");
    mem_free(&m);
}
END_TEST

START_TEST(test_json_pretty_document)
{
    struct mem m;
    struct json_w w;

    mem_open(&m);
    json_init(&w, m.fp, true);
    json_obj_begin(&w);
    json_key(&w, "a");
    json_int(&w, 1);
    json_key(&w, "b");
    json_arr_begin(&w);
    json_int(&w, 1);
    json_obj_begin(&w);
    json_key(&w, "c");
    json_str(&w, "d");
    json_obj_end(&w);
    json_arr_end(&w);
    json_key(&w, "e");
    json_obj_begin(&w);
    json_obj_end(&w);
    json_obj_end(&w);
    json_finish(&w);
    ck_assert_str_eq(mem_text(&m), "{\n"
                                   "  \"a\": 1,\n"
                                   "  \"b\": [\n"
                                   "    1,\n"
                                   "    {\n"
                                   "      \"c\": \"d\"\n"
                                   "    }\n"
                                   "  ],\n"
                                   "  \"e\": {}\n"
                                   "}\n");
    mem_free(&m);
}
END_TEST

/* Past JSON_MAX_DEPTH levels the indentation stops growing; the brackets all come out. */
START_TEST(test_json_pretty_deep)
{
    struct mem m;
    struct json_w w;
    const char *t, *line;
    size_t open = 0, close = 0, spaces = 0;

    mem_open(&m);
    json_init(&w, m.fp, true);
    for (int i = 0; i < 40; i++)
        json_arr_begin(&w);
    json_int(&w, 7);
    for (int i = 0; i < 40; i++)
        json_arr_end(&w);
    json_finish(&w);
    t = mem_text(&m);
    for (const char *p = t; *p; p++) {
        open += *p == '[';
        close += *p == ']';
    }
    ck_assert_uint_eq(open, 40);
    ck_assert_uint_eq(close, 40);
    line = strstr(t, "7");
    ck_assert_ptr_nonnull(line);
    while (line > t && line[-1] == ' ') {
        line--;
        spaces++;
    }
    ck_assert_uint_eq(spaces, 2 * (JSON_MAX_DEPTH - 1));
    ck_assert_int_eq(line[-1], '\n');
    mem_free(&m);
}
END_TEST

START_TEST(test_json_string_escaping)
{
    struct mem m;

    mem_open(&m);
    json_write_string(m.fp, "q\" b\\ n\n r\r t\t \x01\x1f\x7f / \xc3\xa9");
    ck_assert_str_eq(mem_text(&m),
                     "\"q\\\" b\\\\ n\\n r\\r t\\t \\u0001\\u001f\x7f / \xc3\xa9\"");
    mem_free(&m);

    mem_open(&m);
    json_write_string(m.fp, "");
    ck_assert_str_eq(mem_text(&m), "\"\"");
    mem_free(&m);

    /* keys are escaped too */
    {
        struct json_w w;

        mem_open(&m);
        json_init(&w, m.fp, false);
        json_obj_begin(&w);
        json_key(&w, "k\"\b");
        json_str(&w, "\x08");
        json_obj_end(&w);
        ck_assert_str_eq(mem_text(&m), "{\"k\\\"\\u0008\":\"\\u0008\"}");
        mem_free(&m);
    }
}
END_TEST

START_TEST(test_json_double)
{
    struct mem m;
    struct json_w w;

    mem_open(&m);
    json_init(&w, m.fp, false);
    json_arr_begin(&w);
    json_double(&w, 1.0, 3);
    json_double(&w, 0.75, 4);
    json_double(&w, NAN, 3);
    json_double(&w, INFINITY, 3);
    json_double(&w, -INFINITY, 3);
    json_double(&w, 100.0, 2);
    json_double(&w, 1234.5678, 2);
    json_double(&w, -2.5, 3);
    json_double(&w, -0.0001, 2);
    json_double(&w, 0.0, 3);
    json_double(&w, 2.0, 0);
    json_double(&w, 10.0, 0);
    json_double(&w, 0.125, 6);
    json_arr_end(&w);
    ck_assert_str_eq(mem_text(&m),
                     "[1.0,0.75,null,null,null,100.0,1234.57,-2.5,0.0,0.0,2,10,0.125]");
    mem_free(&m);
}
END_TEST

/* ---- strbuf and error messages ---- */

/*
 * Table arenas: tables are zeroed and aligned, a freed table serves the
 * next of its size, a reset arena's blocks serve the next arena of the
 * pool, and a table larger than a block is mapped alone.
 */
START_TEST(test_tarena)
{
    struct tarena_pool pool = {0};
    struct tarena a, b;
    uint8_t *t1, *t2, *t3, *big;
    void *first_block;

    tarena_init(&a, &pool);
    t1 = tarena_alloc(&a, 4096);
    ck_assert_ptr_nonnull(t1);
    ck_assert_uint_eq((uintptr_t)t1 % 64, 0);
    for (size_t i = 0; i < 4096; i++)
        ck_assert_uint_eq(t1[i], 0);
    memset(t1, 0xab, 4096);
    t2 = tarena_alloc(&a, 128);
    ck_assert_ptr_nonnull(t2);
    ck_assert(t2 >= t1 + 4096 || t2 + 128 <= t1);
    /* freed: the next table of its size is the same memory, zeroed again */
    tarena_free(&a, t1, 4096);
    t3 = tarena_alloc(&a, 4096);
    ck_assert_ptr_eq(t3, t1);
    for (size_t i = 0; i < 4096; i++)
        ck_assert_uint_eq(t3[i], 0);
    /* a table that does not fit what is left of the block takes a new one */
    ck_assert_ptr_nonnull(tarena_alloc(&a, TARENA_BLOCK));
    ck_assert_uint_eq(a.n_blocks, 2);
    big = tarena_alloc(&a, 2 * TARENA_BLOCK);
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq(a.n_big, 1);
    big[2 * TARENA_BLOCK - 1] = 1;
    first_block = a.blocks[0];
    memset(t3, 0xcd, 4096);
    tarena_reset(&a);
    ck_assert_uint_eq(pool.n_free, 2);
    /* the next arena of the pool reuses the blocks, zeroed where handed out */
    tarena_init(&b, &pool);
    t1 = tarena_alloc(&b, 4096);
    ck_assert_ptr_nonnull(t1);
    ck_assert_uint_eq(pool.n_free, 1);
    ck_assert(pool.free[0] == first_block || (void *)t1 == first_block);
    for (size_t i = 0; i < 4096; i++)
        ck_assert_uint_eq(t1[i], 0);
    tarena_reset(&b);
    tarena_pool_fini(&pool);
    ck_assert_uint_eq(pool.n_free, 0);
}
END_TEST

START_TEST(test_strbuf)
{
    struct strbuf sb = STRBUF_INIT;
    char *s;

    ck_assert_str_eq(strbuf_str(&sb), "");
    strbuf_append(&sb, "abc");
    strbuf_appendc(&sb, '-');
    strbuf_appendn(&sb, "xyz", 2);
    strbuf_printf(&sb, "%d/%s", 42, "z");
    strbuf_printf(&sb, "%s", "");
    ck_assert_str_eq(strbuf_str(&sb), "abc-xy42/z");
    ck_assert_uint_eq(sb.len, 10);

    strbuf_reset(&sb);
    ck_assert_str_eq(strbuf_str(&sb), "");
    ck_assert_uint_eq(sb.len, 0);
    strbuf_append(&sb, "again");
    ck_assert_str_eq(strbuf_str(&sb), "again");

    s = strbuf_take(&sb);
    ck_assert_str_eq(s, "again");
    ck_assert_ptr_null(sb.s);
    ck_assert_uint_eq(sb.len, 0);
    ck_assert_str_eq(strbuf_str(&sb), "");
    free(s);

    /* taking an empty buffer still gives an owned string */
    s = strbuf_take(&sb);
    ck_assert_str_eq(s, "");
    free(s);
    strbuf_fini(&sb);
    strbuf_fini(&sb);
}
END_TEST

START_TEST(test_strbuf_grows)
{
    struct strbuf sb = STRBUF_INIT;
    char want[5001];

    for (int i = 0; i < 5000; i++) {
        strbuf_appendc(&sb, (char)('a' + i % 26));
        want[i] = (char)('a' + i % 26);
    }
    want[5000] = '\0';
    ck_assert_uint_eq(sb.len, 5000);
    ck_assert_uint_eq(strlen(strbuf_str(&sb)), 5000);
    ck_assert_str_eq(strbuf_str(&sb), want);

    strbuf_reset(&sb);
    /* one printf larger than the buffer so far */
    strbuf_printf(&sb, "%09000d", 7);
    ck_assert_uint_eq(sb.len, 9000);
    ck_assert_uint_eq(strlen(strbuf_str(&sb)), 9000);
    ck_assert_int_eq(strbuf_str(&sb)[8999], '7');
    ck_assert_int_eq(strbuf_str(&sb)[0], '0');
    strbuf_fini(&sb);
    ck_assert_ptr_null(sb.s);
}
END_TEST

START_TEST(test_rc_messages)
{
    struct ds_error err;
    char big[2000];

    ck_assert_str_eq(ds_rc_str(DS_OK), "success");
    ck_assert_str_eq(ds_rc_str(DS_ERR_CONFIG), "configuration error");
    ck_assert_str_eq(ds_rc_str(DS_ERR_IO), "i/o error");
    ck_assert_int_eq(ds_error_set(&err, DS_ERR_IO, "%s: %d", "f", 3), DS_ERR_IO);
    ck_assert_str_eq(err.msg, "f: 3");
    ds_error_prefix(&err, "store %s: ", "x.db");
    ck_assert_str_eq(err.msg, "store x.db: f: 3");
    ck_assert_int_eq(ds_error_set(NULL, DS_ERR_PARSE, "ignored"), DS_ERR_PARSE);
    ds_error_prefix(NULL, "nothing");

    /* a message that fills the buffer is cut, not overrun */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ds_error_set(&err, DS_ERR_IO, "%s", big);
    ck_assert_uint_eq(strlen(err.msg), sizeof(err.msg) - 1);
    ds_error_prefix(&err, "p: ");
    ck_assert_uint_eq(strlen(err.msg), sizeof(err.msg) - 1);
    ck_assert(strncmp(err.msg, "p: xxx", 6) == 0);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("addr");

    tcase_add_test(tc, test_addr_parse_v4_is_stored_mapped);
    tcase_add_test(tc, test_addr_parse_v6);
    tcase_add_test(tc, test_addr_v4_mapped_text_is_v4);
    tcase_add_test(tc, test_addr_from_v4);
    tcase_add_test(tc, test_addr_parse_garbage);
    tcase_add_test(tc, test_cidr_parse_v4);
    tcase_add_test(tc, test_cidr_parse_v6);
    tcase_add_test(tc, test_cidr_host_bits_suggest_the_network);
    tcase_add_test(tc, test_cidr_length_above_maximum);
    tcase_add_test(tc, test_cidr_garbage);
    tcase_add_test(tc, test_cidr_contains_v4);
    tcase_add_test(tc, test_cidr_contains_v6);
    tcase_add_test(tc, test_addr_mask);
    suite_add_tcase(s, tc);

    tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_int64_ranges);
    tcase_add_test(tc, test_parse_int64_garbage);
    tcase_add_test(tc, test_parse_decimal_exact);
    tcase_add_test(tc, test_parse_decimal_normalised_text);
    tcase_add_test(tc, test_parse_decimal_too_many_decimals);
    tcase_add_test(tc, test_parse_decimal_negative);
    tcase_add_test(tc, test_parse_decimal_garbage);
    tcase_add_test(tc, test_parse_duration_units);
    tcase_add_test(tc, test_parse_duration_errors);
    tcase_add_test(tc, test_format_duration);
    suite_add_tcase(s, tc);

    tc = tcase_create("tz");
    tcase_add_checked_fixture(tc, tz_reset, tz_reset);
    tcase_add_test(tc, test_tz_check_accepts);
    tcase_add_test(tc, test_tz_check_rejects);
    tcase_add_test(tc, test_tz_check_not_a_tz_file);
    tcase_add_test(tc, test_tz_berlin_autumn_day_is_25_hours);
    tcase_add_test(tc, test_tz_berlin_spring_day_is_23_hours);
    tcase_add_test(tc, test_tz_utc_days);
    tcase_add_test(tc, test_tz_week_starts_on_monday);
    tcase_add_test(tc, test_tz_format_rfc3339);
    tcase_add_test(tc, test_tz_format_rfc3339_ms);
    tcase_add_test(tc, test_tz_parse_time);
    tcase_add_test(tc, test_tz_parse_time_errors);
    suite_add_tcase(s, tc);

    tc = tcase_create("proto");
    tcase_add_test(tc, test_proto_name);
    tcase_add_test(tc, test_proto_parse);
    tcase_add_test(tc, test_proto_classes);
    tcase_add_test(tc, test_tcp_flags_format);
    tcase_add_test(tc, test_ptype_format);
    suite_add_tcase(s, tc);

    tc = tcase_create("keyspec");
    tcase_add_test(tc, test_keyspec_every_name);
    tcase_add_test(tc, test_keyspec_net_lengths);
    tcase_add_test(tc, test_keyspec_errors);
    tcase_add_test(tc, test_keyspec_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_test(tc, test_json_compact_document);
    tcase_add_test(tc, test_json_pretty_document);
    tcase_add_test(tc, test_json_pretty_deep);
    tcase_add_test(tc, test_json_string_escaping);
    tcase_add_test(tc, test_json_double);
    suite_add_tcase(s, tc);

    tc = tcase_create("strbuf");
    tcase_add_test(tc, test_tarena);
    tcase_add_test(tc, test_strbuf);
    tcase_add_test(tc, test_strbuf_grows);
    tcase_add_test(tc, test_rc_messages);
    suite_add_tcase(s, tc);

    return tu_run(s) > 0 ? 1 : 0;
}
