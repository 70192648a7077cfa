/*
 * Unit tests of src/agg: packed group keys (key.c), slot alignment
 * (slotcal.c), the aggregator and its slots (agg.c), distinct counters
 * (distinct.c) and group details (detail.c).
 *
 * Deterministic: every pseudo-random input comes from a fixed seed.  Run
 * with TZ=UTC; the tests that need a zone apply it with tz_apply().
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/addr.h"
#include "ds/agg.h"
#include "ds/detail.h"
#include "ds/distinct.h"
#include "ds/hash.h"
#include "ds/json.h"
#include "ds/log.h"
#include "ds/key.h"
#include "ds/keyspec.h"
#include "ds/proto.h"
#include "ds/slotcal.h"
#include "ds/tz.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state;

static void
rng_seed(uint64_t seed)
{
    rng_state = seed;
}

/* splitmix64: a fixed sequence for a fixed seed. */
static uint64_t
rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t
rng_below(uint64_t n)
{
    return rng_next() % n;
}

/* Unix seconds of a UTC calendar time. */
static int64_t
utc(int y, int mon, int mday, int h, int min, int s)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = mday;
    tm.tm_hour = h;
    tm.tm_min = min;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm);
}

static void
make_exporter(struct exporter *e, const char *addr, uint32_t odid)
{
    memset(e, 0, sizeof(*e));
    if (addr != NULL)
        ck_assert_int_eq(addr_parse(addr, &e->addr), 0);
    e->odid = odid;
}

static void
set_addr(struct flow *f, const char *src, const char *dst)
{
    if (src != NULL) {
        ck_assert_int_eq(addr_parse(src, &f->src), 0);
        f->src_value = addr_value(&f->src);
    }
    if (dst != NULL) {
        ck_assert_int_eq(addr_parse(dst, &f->dst), 0);
        f->dst_value = addr_value(&f->dst);
    }
}

static void
layout_of(struct key_layout *l, const char *const *specs, size_t n)
{
    struct key_spec k[KEYS_MAX];
    char why[256];

    ck_assert_uint_le(n, KEYS_MAX);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(keyspec_parse(specs[i], &k[i], why, sizeof(why)) == 0, "%s: %s", specs[i],
                      why);
    key_layout_init(l, k, n);
}

static void
layout1(struct key_layout *l, const char *spec)
{
    layout_of(l, &spec, 1);
}

/* key_write_json() of k, as a string (owned by the caller). */
static char *
key_json(const struct key_layout *l, const uint8_t *k)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    struct json_w w;

    ck_assert_ptr_nonnull(fp);
    json_init(&w, fp, false);
    key_write_json(l, k, &w);
    ck_assert_int_eq(fclose(fp), 0);
    return text;
}

/* ---- key.c ---------------------------------------------------------------- */

struct key_case {
    const char *spec;
    const char *text;
    bool number;
};

/*
 * Every case: the single-key layout of spec on f formats as text, is a
 * JSON number or not, is "none" exactly when text is "none", and writes
 * {"<name>": value} with the key's field name as JSON member.
 */
static void
check_key_cases(const struct flow *f, const struct key_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct key_layout l;
        uint8_t k[KEY_BYTES_MAX];
        char buf[KEY_VALUE_STRLEN], want[256], field[KEYSPEC_STRLEN];
        bool num = !cases[i].number;
        char *json;
        const char *slash;

        layout1(&l, cases[i].spec);
        key_extract(&l, f, k);
        key_value_format(&l, k, 0, buf, &num);
        ck_assert_msg(strcmp(buf, cases[i].text) == 0, "%s: got '%s', want '%s'", cases[i].spec,
                      buf, cases[i].text);
        ck_assert_msg(num == cases[i].number, "%s: is_number %d", cases[i].spec, num);
        ck_assert_msg(key_is_none(&l, k, 0) == (strcmp(cases[i].text, "none") == 0),
                      "%s: none bit", cases[i].spec);

        slash = strchr(cases[i].spec, '/');
        snprintf(field, sizeof(field), "%.*s",
                 (int)(slash ? (size_t)(slash - cases[i].spec) : strlen(cases[i].spec)),
                 cases[i].spec);
        if (cases[i].number)
            snprintf(want, sizeof(want), "{\"%s\":%s}", field, cases[i].text);
        else
            snprintf(want, sizeof(want), "{\"%s\":\"%s\"}", field, cases[i].text);
        json = key_json(&l, k);
        ck_assert_msg(strcmp(json, want) == 0, "%s: json %s, want %s", cases[i].spec, json, want);
        free(json);
    }
}

#define N_CASES(a) (sizeof(a) / sizeof((a)[0]))

START_TEST(test_key_tcp)
{
    struct exporter ex;
    struct flow f = tu_flow(1000, 10, "198.51.100.7", "192.0.3.129", PROTO_TCP, 40000, 23);
    static const struct key_case cases[] = {
        {"proto", "tcp", false},
        {"dst_port", "23", true},
        {"src_port", "40000", true},
        {"tcp_flags", "SYN/ACK", false},
        {"icmp_type", "none", false},
        {"icmp_code", "none", false},
        {"src_addr", "198.51.100.7", false},
        {"dst_addr", "192.0.3.129", false},
        {"src_net/16", "198.51.0.0/16", false},
        {"src_net/8/32", "198.0.0.0/8", false},
        {"dst_net/24", "192.0.3.0/24", false},
        {"dst_net/23", "192.0.2.0/23", false},
        {"dst_net/25", "192.0.3.128/25", false},
        {"dst_net/32", "192.0.3.129/32", false},
        {"dst_net/0", "0.0.0.0/0", false},
        {"dst_net/24/48", "192.0.3.0/24", false},
        {"exporter", "192.0.2.250 odid 5", false},
        {"ip_version", "4", true},
        {"type", "TCP SYN/ACK", false},
    };

    make_exporter(&ex, "192.0.2.250", 5);
    f.exporter = &ex;
    f.tcp_flags = 0x12;
    f.icmp_type = 3;    /* garbage the key must not show */
    f.icmp_code = 1;
    check_key_cases(&f, cases, N_CASES(cases));
}
END_TEST

START_TEST(test_key_udp)
{
    struct exporter ex;
    struct flow f = tu_flow(1000, 10, "203.0.113.5", "192.0.2.77", PROTO_UDP, 53, 2849);
    static const struct key_case cases[] = {
        {"proto", "udp", false},
        {"dst_port", "2849", true},
        {"src_port", "53", true},
        {"tcp_flags", "none", false},
        {"icmp_type", "none", false},
        {"icmp_code", "none", false},
        {"src_addr", "203.0.113.5", false},
        {"dst_addr", "192.0.2.77", false},
        {"src_net/8", "203.0.0.0/8", false},
        {"dst_net/24", "192.0.2.0/24", false},
        {"exporter", "odid 9", false},
        {"ip_version", "4", true},
        {"type", "UDP", false},
    };

    make_exporter(&ex, NULL, 9);
    f.exporter = &ex;
    f.tcp_flags = 0x10;
    check_key_cases(&f, cases, N_CASES(cases));
}
END_TEST

START_TEST(test_key_icmp)
{
    /* ports set as some exporters do (type * 256 + code), never shown */
    struct flow f = tu_flow(1000, 10, "198.51.100.200", "192.0.2.1", PROTO_ICMP, 7, 0x030d);
    static const struct key_case cases[] = {
        {"proto", "icmp", false},
        {"dst_port", "none", false},
        {"src_port", "none", false},
        {"tcp_flags", "none", false},
        {"icmp_type", "3", true},
        {"icmp_code", "13", true},
        {"src_addr", "198.51.100.200", false},
        {"dst_addr", "192.0.2.1", false},
        {"src_net/24", "198.51.100.0/24", false},
        {"dst_net/16", "192.0.0.0/16", false},
        {"exporter", "odid 0", false},
        {"ip_version", "4", true},
        {"type", "ICMP dest-unreach", false},
    };

    f.icmp_type = 3;
    f.icmp_code = 13;
    f.tcp_flags = 0x02;
    f.exporter = NULL;
    check_key_cases(&f, cases, N_CASES(cases));
}
END_TEST

START_TEST(test_key_icmpv6)
{
    struct exporter ex;
    struct flow f =
        tu_flow(1000, 10, "2001:db8:1:2::5", "2001:db8:bad:1234::1", PROTO_ICMPV6, 0, 0);
    static const struct key_case cases[] = {
        {"proto", "ipv6-icmp", false},
        {"dst_port", "none", false},
        {"src_port", "none", false},
        {"tcp_flags", "none", false},
        {"icmp_type", "128", true},
        {"icmp_code", "0", true},
        {"src_addr", "2001:db8:1:2::5", false},
        {"dst_addr", "2001:db8:bad:1234::1", false},
        {"src_net/16", "2001:db8:1:2::/64", false},
        {"dst_net/24", "2001:db8:bad:1234::/64", false},
        {"dst_net/24/48", "2001:db8:bad::/48", false},
        {"dst_net/24/56", "2001:db8:bad:1200::/56", false},
        {"dst_net/24/128", "2001:db8:bad:1234::1/128", false},
        {"dst_net/24/0", "::/0", false},
        {"exporter", "2001:db8::250 odid 4294967295", false},
        {"ip_version", "6", true},
        {"type", "ICMPv6 echo-request", false},
    };

    make_exporter(&ex, "2001:db8::250", 4294967295u);
    f.exporter = &ex;
    f.icmp_type = 128;
    f.icmp_code = 0;
    ck_assert_uint_eq(f.ip_version, 6);
    check_key_cases(&f, cases, N_CASES(cases));
}
END_TEST

START_TEST(test_key_gre)
{
    struct exporter ex;
    struct flow f = tu_flow(1000, 10, "100.64.1.1", "192.0.2.200", 47, 1234, 5678);
    static const struct key_case cases[] = {
        {"proto", "gre", false},
        {"dst_port", "none", false},
        {"src_port", "none", false},
        {"tcp_flags", "none", false},
        {"icmp_type", "none", false},
        {"icmp_code", "none", false},
        {"src_addr", "100.64.1.1", false},
        {"dst_addr", "192.0.2.200", false},
        {"src_net/10", "100.64.0.0/10", false},
        {"dst_net/30", "192.0.2.200/30", false},
        {"exporter", "192.0.2.250 odid 0", false},
        {"ip_version", "4", true},
        {"type", "GRE", false},
    };

    make_exporter(&ex, "192.0.2.250", 0);
    f.exporter = &ex;
    f.tcp_flags = 0x02;
    f.icmp_type = 8;
    check_key_cases(&f, cases, N_CASES(cases));
}
END_TEST

START_TEST(test_key_unnamed_proto)
{
    struct key_layout l;
    uint8_t k[KEY_BYTES_MAX];
    char buf[KEY_VALUE_STRLEN];
    bool num = false;
    struct flow f = tu_flow(1000, 1, "198.51.100.1", "192.0.2.1", 253, 0, 0);
    char *json;

    layout1(&l, "proto");
    key_extract(&l, &f, k);
    ck_assert_str_eq(key_value_format(&l, k, 0, buf, &num), "253");
    ck_assert(num);
    json = key_json(&l, k);
    ck_assert_str_eq(json, "{\"proto\":253}");
    free(json);
}
END_TEST

START_TEST(test_key_json_multi)
{
    static const char *const specs[] = {"proto", "dst_port", "tcp_flags", "dst_net/24",
                                        "exporter", "type", "icmp_type", "ip_version"};
    struct key_layout l;
    struct exporter ex;
    uint8_t k[KEY_BYTES_MAX];
    char line[512];
    char *json;
    struct flow f = tu_flow(1000, 10, "198.51.100.7", "192.0.3.129", PROTO_TCP, 40000, 23);

    make_exporter(&ex, "192.0.2.250", 5);
    f.exporter = &ex;
    f.tcp_flags = 0x02;
    layout_of(&l, specs, N_CASES(specs));
    ck_assert_uint_le(l.size, KEY_BYTES_MAX);
    key_extract(&l, &f, k);
    json = key_json(&l, k);
    ck_assert_str_eq(json, "{\"proto\":\"tcp\",\"dst_port\":23,\"tcp_flags\":\"SYN\","
                           "\"dst_net\":\"192.0.3.0/24\",\"exporter\":\"192.0.2.250 odid 5\","
                           "\"type\":\"TCP SYN\",\"icmp_type\":\"none\",\"ip_version\":4}");
    free(json);
    ck_assert_str_eq(key_format_line(&l, k, line, sizeof(line)),
                     "tcp 23 SYN 192.0.3.0/24 192.0.2.250 odid 5 TCP SYN none 4");
    ck_assert(key_is_none(&l, k, 6));
    for (size_t i = 0; i < l.n; i++)
        ck_assert_msg(i == 6 || !key_is_none(&l, k, i), "key %zu", i);
}
END_TEST

/* Flows that differ only in the field a key reads. */
struct key_diff {
    const char *spec;
    uint8_t proto;
    void (*change)(struct flow *f);
};

static void
ch_proto(struct flow *f)
{
    f->proto = PROTO_UDP;
}

static void
ch_dport(struct flow *f)
{
    f->dst_port++;
}

static void
ch_sport(struct flow *f)
{
    f->src_port++;
}

static void
ch_flags(struct flow *f)
{
    f->tcp_flags = 0x12;
}

static void
ch_icmp_type(struct flow *f)
{
    f->icmp_type = 0;
}

static void
ch_icmp_code(struct flow *f)
{
    f->icmp_code = 1;
}

static void
ch_src(struct flow *f)
{
    set_addr(f, "198.51.100.8", NULL);
}

static void
ch_dst(struct flow *f)
{
    set_addr(f, NULL, "192.0.2.10");
}

static void
ch_src_net(struct flow *f)
{
    set_addr(f, "198.51.101.7", NULL);
}

static void
ch_dst_net(struct flow *f)
{
    set_addr(f, NULL, "192.0.3.9");
}

static void
ch_ipver(struct flow *f)
{
    f->ip_version = 6;
}

static struct exporter diff_ex_a, diff_ex_b, diff_ex_c;

static void
ch_exporter_odid(struct flow *f)
{
    f->exporter = &diff_ex_b;
}

static void
ch_exporter_addr(struct flow *f)
{
    f->exporter = &diff_ex_c;
}

static void
ch_exporter_none(struct flow *f)
{
    f->exporter = NULL;
}

static const struct key_diff key_diffs[] = {
    {"proto", PROTO_TCP, ch_proto},
    {"dst_port", PROTO_TCP, ch_dport},
    {"src_port", PROTO_UDP, ch_sport},
    {"tcp_flags", PROTO_TCP, ch_flags},
    {"icmp_type", PROTO_ICMP, ch_icmp_type},
    {"icmp_code", PROTO_ICMP, ch_icmp_code},
    {"src_addr", PROTO_TCP, ch_src},
    {"dst_addr", PROTO_TCP, ch_dst},
    {"src_net/24", PROTO_TCP, ch_src_net},
    {"dst_net/24", PROTO_TCP, ch_dst_net},
    {"exporter", PROTO_TCP, ch_exporter_odid},
    {"exporter", PROTO_TCP, ch_exporter_addr},
    {"exporter", PROTO_TCP, ch_exporter_none},
    {"ip_version", PROTO_TCP, ch_ipver},
    {"type", PROTO_TCP, ch_flags},
    {"type", PROTO_ICMP, ch_icmp_type},
};

static struct flow
diff_base(uint8_t proto)
{
    struct flow f = tu_flow(5000, 10, "198.51.100.7", "192.0.2.9", proto, 40000, 23);

    f.tcp_flags = proto == PROTO_TCP ? 0x02 : 0;
    f.icmp_type = 8;
    f.icmp_code = 0;
    f.exporter = &diff_ex_a;
    return f;
}

START_TEST(test_key_differ_in_each_field)
{
    const struct key_diff *d = &key_diffs[_i];
    struct key_layout l;
    uint8_t ka[KEY_BYTES_MAX], kb[KEY_BYTES_MAX];
    struct flow a, b;

    make_exporter(&diff_ex_a, "192.0.2.250", 5);
    make_exporter(&diff_ex_b, "192.0.2.250", 6);
    make_exporter(&diff_ex_c, "192.0.2.251", 5);
    a = diff_base(d->proto);
    b = a;
    d->change(&b);
    layout1(&l, d->spec);
    key_extract(&l, &a, ka);
    key_extract(&l, &b, kb);
    ck_assert_msg(memcmp(ka, kb, l.size) != 0, "%s (case %d): keys equal", d->spec, _i);
}
END_TEST

/* Flows equal in the fields of the keys, different in everything else. */
START_TEST(test_key_equal_in_keys)
{
    static const char *const specs[] = {"proto", "dst_port", "src_net/24", "dst_net/16/48",
                                        "type", "ip_version"};
    struct key_layout l;
    struct exporter e1, e2;
    uint8_t ka[KEY_BYTES_MAX], kb[KEY_BYTES_MAX];
    struct flow a = tu_flow(5000, 10, "198.51.100.7", "192.0.2.9", PROTO_TCP, 40000, 23);
    struct flow b = tu_flow(99000, 77, "198.51.100.250", "192.0.77.1", PROTO_TCP, 1024, 23);

    make_exporter(&e1, "192.0.2.250", 5);
    make_exporter(&e2, "192.0.2.251", 6);
    a.tcp_flags = b.tcp_flags = 0x02;
    a.exporter = &e1;
    b.exporter = &e2;
    b.end_ms = 120000;
    b.icmp_type = 5;    /* not ICMP: not read */
    layout_of(&l, specs, N_CASES(specs));
    key_extract(&l, &a, ka);
    key_extract(&l, &b, kb);
    ck_assert_mem_eq(ka, kb, l.size);
}
END_TEST

/* A "none" value is canonical: what the flow holds in the field does not matter. */
START_TEST(test_key_none_is_canonical)
{
    static const char *const specs[] = {"dst_port", "src_port", "tcp_flags", "icmp_type",
                                        "icmp_code"};
    struct key_layout l;
    uint8_t ka[KEY_BYTES_MAX], kb[KEY_BYTES_MAX];
    struct flow a = tu_flow(5000, 10, "198.51.100.7", "192.0.2.9", 47, 0, 0);
    struct flow b = tu_flow(5000, 10, "198.51.100.7", "192.0.2.9", 47, 1234, 0x0800);
    struct flow c = tu_flow(5000, 10, "198.51.100.7", "192.0.2.9", PROTO_ICMP, 0, 0);
    struct flow d = c;

    b.tcp_flags = 0x3f;
    b.icmp_type = 8;
    b.icmp_code = 3;
    layout_of(&l, specs, N_CASES(specs));
    key_extract(&l, &a, ka);
    key_extract(&l, &b, kb);
    ck_assert_mem_eq(ka, kb, l.size);
    for (size_t i = 0; i < l.n; i++)
        ck_assert(key_is_none(&l, ka, i));

    /* ICMP: ports and flags are none, type and code are not */
    c.src_port = 1;
    d.dst_port = 2;
    d.tcp_flags = 0x12;
    key_extract(&l, &c, ka);
    key_extract(&l, &d, kb);
    ck_assert_mem_eq(ka, kb, l.size);
    ck_assert(key_is_none(&l, ka, 0) && key_is_none(&l, ka, 1) && key_is_none(&l, ka, 2));
    ck_assert(!key_is_none(&l, ka, 3) && !key_is_none(&l, ka, 4));
}
END_TEST

/* ---- slotcal.c ------------------------------------------------------------ */

/*
 * The instant of local midnight starting the day y-mon-mday (mday may be
 * out of range; it is normalised), found without mktime(): the UTC
 * midnight of that date, moved by each UTC offset in force around it, and
 * kept where localtime_r() reads exactly 00:00:00 of that date.
 */
static int64_t
ref_midnight(int y, int mon, int mday)
{
    struct tm tm, want;
    time_t base;
    long offs[3];
    int64_t best = INT64_MAX;

    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = mday;
    base = timegm(&tm);
    gmtime_r(&base, &want);
    for (int i = 0; i < 3; i++) {
        time_t p = base + (i - 1) * 50400;
        struct tm lt;

        localtime_r(&p, &lt);
        offs[i] = lt.tm_gmtoff;
    }
    for (int i = 0; i < 3; i++) {
        time_t t = base - offs[i];
        struct tm lt;

        localtime_r(&t, &lt);
        if (lt.tm_year == want.tm_year && lt.tm_mon == want.tm_mon &&
            lt.tm_mday == want.tm_mday && lt.tm_hour == 0 && lt.tm_min == 0 && lt.tm_sec == 0 &&
            (int64_t)t < best)
            best = (int64_t)t;
    }
    ck_assert_msg(best != INT64_MAX, "no local midnight on %d-%02d-%02d", y, mon, mday);
    return best;
}

/* The slot of t computed from the method's definition (slotcal.h). */
static void
ref_slot(int64_t len, int64_t t, int64_t *start, int64_t *end)
{
    time_t tt = (time_t)t;
    struct tm lt;
    int y, m, d;
    int64_t day, next, k;

    localtime_r(&tt, &lt);
    y = lt.tm_year + 1900;
    m = lt.tm_mon + 1;
    d = lt.tm_mday;
    if (len == 7 * 86400) {
        int back = (lt.tm_wday + 6) % 7;

        *start = ref_midnight(y, m, d - back);
        *end = ref_midnight(y, m, d - back + 7);
        return;
    }
    day = ref_midnight(y, m, d);
    next = ref_midnight(y, m, d + 1);
    if (len >= 86400) {
        *start = day;
        *end = next;
        return;
    }
    k = (t - day) / len;
    *start = day + k * len;
    *end = *start + len < next ? *start + len : next;
}

static void
find_fresh(int64_t len, int64_t t, int64_t *s, int64_t *e)
{
    struct slotcal c;

    slotcal_init(&c, len);
    slotcal_find(&c, t, s, e);
}

START_TEST(test_slotcal_daily_dst_end)
{
    /* 2015-10-25 in Berlin: 00:00+02:00 to 2015-10-26T00:00+01:00, 25 hours */
    int64_t day = utc(2015, 10, 24, 22, 0, 0), next = utc(2015, 10, 25, 23, 0, 0);
    const int64_t inside[] = {day, day + 1, utc(2015, 10, 25, 0, 30, 0),
                              utc(2015, 10, 25, 1, 30, 0), utc(2015, 10, 25, 11, 0, 0),
                              next - 1};
    struct slotcal c;
    int64_t s, e;

    tz_apply("Europe/Berlin");
    slotcal_init(&c, 86400);
    for (size_t i = 0; i < N_CASES(inside); i++) {
        slotcal_find(&c, inside[i], &s, &e);
        ck_assert_int_eq(s, day);
        ck_assert_int_eq(e, next);
        find_fresh(86400, inside[i], &s, &e);
        ck_assert_int_eq(s, day);
        ck_assert_int_eq(e, next);
    }
    ck_assert_int_eq(next - day, 25 * 3600);
    slotcal_find(&c, next, &s, &e);
    ck_assert_int_eq(s, next);
    ck_assert_int_eq(e, utc(2015, 10, 26, 23, 0, 0));
    slotcal_find(&c, day - 1, &s, &e);
    ck_assert_int_eq(s, utc(2015, 10, 23, 22, 0, 0));
    ck_assert_int_eq(e, day);
    ck_assert_int_eq(slotcal_next(&c, day), next);
}
END_TEST

START_TEST(test_slotcal_daily_dst_start)
{
    /* 2015-03-29 in Berlin: 00:00+01:00 to 2015-03-30T00:00+02:00, 23 hours */
    int64_t day = utc(2015, 3, 28, 23, 0, 0), next = utc(2015, 3, 29, 22, 0, 0);
    struct slotcal c;
    int64_t s, e;

    tz_apply("Europe/Berlin");
    slotcal_init(&c, 86400);
    for (int64_t t = day; t < next; t += 1799) {
        slotcal_find(&c, t, &s, &e);
        ck_assert_int_eq(s, day);
        ck_assert_int_eq(e, next);
    }
    ck_assert_int_eq(next - day, 23 * 3600);
    slotcal_find(&c, next, &s, &e);
    ck_assert_int_eq(s, next);
    ck_assert_int_eq(e - s, 86400);
}
END_TEST

/*
 * Walks the slots of length len from day start to the next midnight with
 * slotcal_next(), checking each against slotcal_find(); returns how many
 * and the length of the last one.
 */
static int
walk_day(int64_t len, int64_t day, int64_t next, int64_t *last_len)
{
    struct slotcal c;
    int n = 0;
    int64_t t = day;

    slotcal_init(&c, len);
    while (t < next) {
        int64_t s, e, s2, e2;

        slotcal_find(&c, t, &s, &e);
        ck_assert_int_eq(s, t);
        ck_assert_int_eq((s - day) % len, 0);
        ck_assert_int_le(e, next);
        ck_assert_msg(e - s == len || e == next, "slot %d [%lld, %lld)", n, (long long)s,
                      (long long)e);
        find_fresh(len, e - 1, &s2, &e2);
        ck_assert_int_eq(s2, s);
        ck_assert_int_eq(e2, e);
        ck_assert_int_eq(slotcal_next(&c, s), e);
        *last_len = e - s;
        t = e;
        n++;
    }
    ck_assert_int_eq(t, next);
    return n;
}

START_TEST(test_slotcal_hourly_25h_day)
{
    int64_t day = utc(2015, 10, 24, 22, 0, 0), next = utc(2015, 10, 25, 23, 0, 0);
    int64_t last, s1, e1, s2, e2;

    tz_apply("Europe/Berlin");
    ck_assert_int_eq(walk_day(3600, day, next, &last), 25);
    ck_assert_int_eq(last, 3600);
    /* 02:30 local twice: 02:30+02:00 and 02:30+01:00 are different slots */
    find_fresh(3600, utc(2015, 10, 25, 0, 30, 0), &s1, &e1);
    find_fresh(3600, utc(2015, 10, 25, 1, 30, 0), &s2, &e2);
    ck_assert_int_eq(s1, utc(2015, 10, 25, 0, 0, 0));
    ck_assert_int_eq(s2, utc(2015, 10, 25, 1, 0, 0));
    ck_assert_int_eq(e1, s2);
    /* the last slot: 23:00+01:00 to the next midnight */
    find_fresh(3600, next - 1, &s1, &e1);
    ck_assert_int_eq(s1, utc(2015, 10, 25, 22, 0, 0));
    ck_assert_int_eq(e1, next);
    /* and the next day starts at slot 0 again */
    find_fresh(3600, next, &s1, &e1);
    ck_assert_int_eq(s1, next);
    ck_assert_int_eq(e1, next + 3600);
}
END_TEST

START_TEST(test_slotcal_hourly_23h_day)
{
    int64_t day = utc(2015, 3, 28, 23, 0, 0), next = utc(2015, 3, 29, 22, 0, 0);
    int64_t last;

    tz_apply("Europe/Berlin");
    ck_assert_int_eq(walk_day(3600, day, next, &last), 23);
    ck_assert_int_eq(last, 3600);
}
END_TEST

START_TEST(test_slotcal_sub_day)
{
    int64_t long_day = utc(2015, 10, 24, 22, 0, 0), long_next = utc(2015, 10, 25, 23, 0, 0);
    int64_t short_day = utc(2015, 3, 28, 23, 0, 0), short_next = utc(2015, 3, 29, 22, 0, 0);
    int64_t plain_day = utc(2015, 5, 31, 22, 0, 0), plain_next = utc(2015, 6, 1, 22, 0, 0);
    int64_t last;

    tz_apply("Europe/Berlin");
    ck_assert_int_eq(walk_day(300, long_day, long_next, &last), 300);
    ck_assert_int_eq(last, 300);
    ck_assert_int_eq(walk_day(300, short_day, short_next, &last), 276);
    ck_assert_int_eq(walk_day(300, plain_day, plain_next, &last), 288);
    /* slots that do not fit the day evenly: the last one is cut at midnight */
    ck_assert_int_eq(walk_day(6 * 3600, long_day, long_next, &last), 5);
    ck_assert_int_eq(last, 3600);
    ck_assert_int_eq(walk_day(6 * 3600, short_day, short_next, &last), 4);
    ck_assert_int_eq(last, 5 * 3600);
    ck_assert_int_eq(walk_day(5400, short_day, short_next, &last), 16);
    ck_assert_int_eq(last, 1800);
    ck_assert_int_eq(walk_day(5400, plain_day, plain_next, &last), 16);
    ck_assert_int_eq(last, 5400);
}
END_TEST

START_TEST(test_slotcal_weekly)
{
    /* the week of Sunday 2015-10-25: Monday 2015-10-19T00:00+02:00 to 2015-10-26T00:00+01:00 */
    int64_t mon = utc(2015, 10, 18, 22, 0, 0), next = utc(2015, 10, 25, 23, 0, 0);
    struct slotcal c;
    int64_t s, e;
    time_t tt;
    struct tm lt;

    tz_apply("Europe/Berlin");
    slotcal_init(&c, 7 * 86400);
    slotcal_find(&c, utc(2015, 10, 25, 11, 0, 0), &s, &e);
    ck_assert_int_eq(s, mon);
    ck_assert_int_eq(e, next);
    ck_assert_int_eq(e - s, 7 * 86400 + 3600);
    tt = (time_t)s;
    localtime_r(&tt, &lt);
    ck_assert_int_eq(lt.tm_wday, 1);
    ck_assert_int_eq(lt.tm_hour, 0);
    find_fresh(7 * 86400, mon, &s, &e);
    ck_assert_int_eq(s, mon);
    find_fresh(7 * 86400, next - 1, &s, &e);
    ck_assert_int_eq(s, mon);
    find_fresh(7 * 86400, mon - 1, &s, &e);
    ck_assert_int_eq(s, utc(2015, 10, 11, 22, 0, 0));
    ck_assert_int_eq(e, mon);
    ck_assert_int_eq(slotcal_next(&c, mon), next);
    find_fresh(7 * 86400, next, &s, &e);
    ck_assert_int_eq(s, next);
    ck_assert_int_eq(e, utc(2015, 11, 1, 23, 0, 0));
    /* the week of the spring change is an hour short */
    find_fresh(7 * 86400, utc(2015, 3, 29, 12, 0, 0), &s, &e);
    ck_assert_int_eq(s, utc(2015, 3, 22, 23, 0, 0));
    ck_assert_int_eq(e, utc(2015, 3, 29, 22, 0, 0));

    tz_apply("UTC");
    find_fresh(7 * 86400, utc(2015, 12, 27, 23, 59, 59), &s, &e);
    ck_assert_int_eq(s, utc(2015, 12, 21, 0, 0, 0));
    ck_assert_int_eq(e, utc(2015, 12, 28, 0, 0, 0));
}
END_TEST

START_TEST(test_slotcal_utc)
{
    static const int64_t lens[] = {300, 900, 3600, 7200, 21600, 86400};
    int64_t from = utc(2014, 1, 1, 0, 0, 0), to = utc(2017, 1, 1, 0, 0, 0);

    tz_apply("UTC");
    rng_seed(11);
    for (size_t l = 0; l < N_CASES(lens); l++) {
        struct slotcal c;

        slotcal_init(&c, lens[l]);
        for (int i = 0; i < 2000; i++) {
            int64_t t = from + (int64_t)rng_below((uint64_t)(to - from)), s, e;

            slotcal_find(&c, t, &s, &e);
            ck_assert_int_eq(s, t - t % lens[l]);
            ck_assert_int_eq(e, s + lens[l]);
        }
    }
}
END_TEST

/* The cached lookup agrees with a cold one and with the definition, everywhere. */
START_TEST(test_slotcal_cache_matches_cold)
{
    static const char *const zones[] = {"Europe/Berlin", "America/New_York", "UTC"};
    static const int64_t lens[] = {300, 900, 3600, 5400, 21600, 86400, 7 * 86400};
    const int64_t changes[] = {utc(2015, 3, 29, 1, 0, 0), utc(2015, 10, 25, 1, 0, 0),
                               utc(2015, 3, 8, 7, 0, 0), utc(2015, 11, 1, 6, 0, 0)};
    int64_t from = utc(2014, 1, 1, 0, 0, 0), to = utc(2017, 1, 1, 0, 0, 0);
    long hits = 0;

    rng_seed(2015);
    for (size_t z = 0; z < N_CASES(zones); z++) {
        tz_apply(zones[z]);
        for (size_t l = 0; l < N_CASES(lens); l++) {
            struct slotcal warm;
            int64_t t = from;

            slotcal_init(&warm, lens[l]);
            for (int i = 0; i < 1500; i++) {
                uint64_t r = rng_below(10);
                int64_t s, e, s2, e2, s3, e3;

                if (r < 6) /* a small step either way: mostly cache hits */
                    t += (int64_t)rng_below((uint64_t)lens[l]) - lens[l] / 3;
                else if (r < 8) /* near a daylight-saving change */
                    t = changes[rng_below(N_CASES(changes))] - 3 * 86400 +
                        (int64_t)rng_below(6 * 86400);
                else
                    t = from + (int64_t)rng_below((uint64_t)(to - from));
                if (t >= warm.cache_start && t < warm.cache_end)
                    hits++;
                slotcal_find(&warm, t, &s, &e);
                find_fresh(lens[l], t, &s2, &e2);
                ref_slot(lens[l], t, &s3, &e3);
                ck_assert_msg(s == s2 && e == e2, "%s len %lld t %lld: cached [%lld, %lld) "
                              "cold [%lld, %lld)", zones[z], (long long)lens[l], (long long)t,
                              (long long)s, (long long)e, (long long)s2, (long long)e2);
                ck_assert_msg(s == s3 && e == e3, "%s len %lld t %lld: [%lld, %lld) want "
                              "[%lld, %lld)", zones[z], (long long)lens[l], (long long)t,
                              (long long)s, (long long)e, (long long)s3, (long long)e3);
                ck_assert(s <= t && t < e);
            }
        }
    }
    /* the walk did exercise the cache */
    ck_assert_int_gt(hits, 3000);
}
END_TEST

/* ---- agg.c ---------------------------------------------------------------- */

struct late_rec {
    int64_t start, end;
    uint64_t packets;
    const struct flow *f;
    uint16_t dst_port;
};

struct sink {
    struct agg_slot **slots;
    size_t n_slots;
    struct late_rec *late;
    size_t n_late;
};

static void
sink_close(void *ctx, struct agg_slot *slot)
{
    struct sink *s = ctx;

    s->slots = realloc(s->slots, (s->n_slots + 1) * sizeof(*s->slots));
    ck_assert_ptr_nonnull(s->slots);
    s->slots[s->n_slots++] = slot;
}

static void
sink_late(void *ctx, int64_t start, int64_t end, const struct flow *f, uint64_t packets)
{
    struct sink *s = ctx;

    s->late = realloc(s->late, (s->n_late + 1) * sizeof(*s->late));
    ck_assert_ptr_nonnull(s->late);
    s->late[s->n_late].start = start;
    s->late[s->n_late].end = end;
    s->late[s->n_late].packets = packets;
    s->late[s->n_late].f = f;
    s->late[s->n_late].dst_port = f->dst_port;
    s->n_late++;
}

static void
sink_free(struct sink *s)
{
    for (size_t i = 0; i < s->n_slots; i++)
        agg_slot_free(s->slots[i]);
    free(s->slots);
    free(s->late);
    memset(s, 0, sizeof(*s));
}

/*
 * An aggregator for a one-analysis configuration, at most max_groups
 * groups a slot (0: no limit); the config stays alive with it.
 */
static struct agg *
agg_for_limited(const char *keys, const char *slot, const char *thresholds,
                const char *attribution, struct sink *sink, struct ds_cfg **cfg,
                uint32_t max_groups)
{
    char yaml[1024];
    struct agg_opts opts = {sink_close, sink_late, sink, NULL, max_groups, false};

    snprintf(yaml, sizeof(yaml),
             "timezone: UTC\n"
             "analyses:\n"
             "  - name: t\n"
             "    keys: %s\n"
             "    slot: %s\n"
             "    thresholds: %s\n"
             "    attribution: %s\n",
             keys, slot, thresholds, attribution);
    *cfg = tu_cfg(yaml);
    ck_assert_uint_eq((*cfg)->n_analyses, 1);
    return agg_new(&(*cfg)->analyses[0], &opts);
}

static struct agg *
agg_for(const char *keys, const char *slot, const char *thresholds, const char *attribution,
        struct sink *sink, struct ds_cfg **cfg)
{
    return agg_for_limited(keys, slot, thresholds, attribution, sink, cfg, 0);
}

/* The group of flow f's key in slot, or NULL. */
static struct agg_group *
group_of(const struct agg_slot *slot, const struct flow *f)
{
    uint8_t k[KEY_BYTES_MAX];

    key_extract(slot->layout, f, k);
    return agg_slot_group_find(slot, k);
}

static const int64_t T0 = 1450656000;   /* 2015-12-21T00:00:00Z, a Monday */
#define MS(s) ((int64_t)(s) * 1000)

START_TEST(test_agg_slots_by_start)
{
    struct sink sink = {0};
    struct ds_cfg *cfg;
    struct agg *agg = agg_for("[proto, dst_port]", "1h", "[1]", "start", &sink, &cfg);
    struct flow f[6];
    struct agg_group *g;

    f[0] = tu_flow(MS(T0 + 3600), 3, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1000, 23);
    f[1] = tu_flow(MS(T0 + 600), 5, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1000, 23);
    f[2] = tu_flow(MS(T0 + 3000), 7, "198.51.100.2", "192.0.2.2", PROTO_TCP, 1001, 23);
    f[3] = tu_flow(MS(T0 + 3600) - 1, 1, "198.51.100.3", "192.0.2.3", PROTO_UDP, 53, 53);
    f[4] = tu_flow(MS(T0 + 2 * 3600 + 300), 2, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1000, 23);
    /* starts in the first hour, ends in the third: counted where it starts */
    f[5] = tu_flow(MS(T0 + 1200), 4, "198.51.100.4", "192.0.2.4", PROTO_TCP, 1000, 23);
    f[5].end_ms = MS(T0 + 2 * 3600 + 100);
    for (int i = 0; i < 6; i++)
        agg_add(agg, &f[i]);
    ck_assert_uint_eq(agg_open_slots(agg), 3);
    ck_assert_int_eq(agg_closed_upto(agg), INT64_MIN);
    ck_assert_uint_gt(agg_memory(agg), 0);
    agg_flush(agg);
    ck_assert_uint_eq(agg_open_slots(agg), 0);
    ck_assert_uint_eq(sink.n_slots, 3);
    ck_assert_uint_eq(sink.n_late, 0);

    ck_assert_int_eq(sink.slots[0]->start, T0);
    ck_assert_int_eq(sink.slots[0]->end, T0 + 3600);
    ck_assert_uint_eq(sink.slots[0]->packets, 17);
    ck_assert_uint_eq(sink.slots[0]->flows, 4);
    ck_assert_uint_eq(sink.slots[0]->n_groups, 2);
    g = group_of(sink.slots[0], &f[1]);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(g->packets, 16);
    ck_assert_uint_eq(g->flows, 3);
    g = group_of(sink.slots[0], &f[3]);
    ck_assert_ptr_nonnull(g);
    ck_assert_uint_eq(g->packets, 1);

    ck_assert_int_eq(sink.slots[1]->start, T0 + 3600);
    ck_assert_int_eq(sink.slots[1]->end, T0 + 7200);
    ck_assert_uint_eq(sink.slots[1]->packets, 3);
    ck_assert_uint_eq(sink.slots[1]->n_groups, 1);
    ck_assert_ptr_null(group_of(sink.slots[1], &f[3]));

    ck_assert_int_eq(sink.slots[2]->start, T0 + 7200);
    ck_assert_uint_eq(sink.slots[2]->packets, 2);
    for (int i = 0; i < 3; i++) {
        ck_assert(!sink.slots[i]->complete);
        ck_assert_ptr_eq(sink.slots[i]->layout, agg_layout(agg));
    }
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

/* Daily slots in Berlin: the 25-hour day holds its last hour. */
START_TEST(test_agg_daily_local)
{
    struct sink sink = {0};
    struct ds_cfg *cfg;
    struct agg *agg;
    struct flow a, b, c;

    tz_apply("Europe/Berlin");
    agg = agg_for("[proto]", "1d", "[1]", "start", &sink, &cfg);
    a = tu_flow(MS(utc(2015, 10, 24, 22, 30, 0)), 1, "198.51.100.1", "192.0.2.1", 6, 1, 2);
    b = tu_flow(MS(utc(2015, 10, 25, 22, 59, 59)), 2, "198.51.100.1", "192.0.2.1", 6, 1, 2);
    c = tu_flow(MS(utc(2015, 10, 25, 23, 0, 0)), 4, "198.51.100.1", "192.0.2.1", 6, 1, 2);
    agg_add(agg, &a);
    agg_add(agg, &b);
    agg_add(agg, &c);
    agg_advance(agg, utc(2015, 10, 25, 23, 0, 0));
    ck_assert_uint_eq(sink.n_slots, 1);
    ck_assert_int_eq(sink.slots[0]->start, utc(2015, 10, 24, 22, 0, 0));
    ck_assert_int_eq(sink.slots[0]->end, utc(2015, 10, 25, 23, 0, 0));
    ck_assert_uint_eq(sink.slots[0]->packets, 3);
    ck_assert(sink.slots[0]->complete);
    agg_flush(agg);
    ck_assert_uint_eq(sink.n_slots, 2);
    ck_assert_int_eq(sink.slots[1]->start, utc(2015, 10, 25, 23, 0, 0));
    ck_assert_int_eq(sink.slots[1]->end, utc(2015, 10, 26, 23, 0, 0));
    ck_assert_uint_eq(sink.slots[1]->packets, 4);
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_agg_advance_closes_in_order)
{
    struct sink sink = {0};
    struct ds_cfg *cfg;
    struct agg *agg = agg_for("[proto, dst_port]", "1h", "[1]", "start", &sink, &cfg);
    struct flow f;

    /* a watermark before any flow: nothing to close (and no undefined memmove of nothing) */
    agg_advance(agg, T0 - 7200);
    ck_assert_uint_eq(agg_open_slots(agg), 0);
    ck_assert_int_eq(agg_closed_upto(agg), T0 - 7200);
    for (int h = 2; h >= 0; h--) {
        f = tu_flow(MS(T0 + h * 3600 + 60), (uint64_t)h + 1, "198.51.100.1", "192.0.2.1",
                    PROTO_TCP, 1000, 23);
        agg_add(agg, &f);
    }
    ck_assert_uint_eq(agg_open_slots(agg), 3);
    agg_advance(agg, T0 + 3599);
    ck_assert_uint_eq(sink.n_slots, 0);
    ck_assert_int_eq(agg_closed_upto(agg), T0 + 3599);
    /* a slot ending exactly at the watermark is closed */
    agg_advance(agg, T0 + 3600);
    ck_assert_uint_eq(sink.n_slots, 1);
    ck_assert_uint_eq(agg_open_slots(agg), 2);
    ck_assert_int_eq(agg_closed_upto(agg), T0 + 3600);
    ck_assert_int_eq(sink.slots[0]->start, T0);
    ck_assert(sink.slots[0]->complete);
    /* a watermark that goes back changes nothing */
    agg_advance(agg, T0);
    ck_assert_int_eq(agg_closed_upto(agg), T0 + 3600);
    ck_assert_uint_eq(agg_open_slots(agg), 2);
    /* a flow of an open slot starting before the watermark is still counted */
    agg_advance(agg, T0 + 3600 + 1800);
    f = tu_flow(MS(T0 + 3600 + 10), 10, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1000, 23);
    agg_add(agg, &f);
    ck_assert_uint_eq(sink.n_late, 0);
    agg_advance(agg, T0 + 10 * 3600);
    ck_assert_uint_eq(sink.n_slots, 3);
    ck_assert_uint_eq(agg_open_slots(agg), 0);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_int_eq(sink.slots[i]->start, T0 + (int64_t)i * 3600);
        ck_assert_int_eq(sink.slots[i]->end, T0 + (int64_t)i * 3600 + 3600);
        ck_assert(sink.slots[i]->complete);
    }
    ck_assert_uint_eq(sink.slots[1]->packets, 12);
    ck_assert_uint_eq(sink.slots[2]->packets, 3);
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

/*
 * One slot of 1000 packets; thresholds [2, 1]: details are kept where the
 * share is above 1 % (the lowest threshold: the groups a report shows), so
 * 10 packets (exactly 1 %) lose theirs and 11 keep it.
 */
static void
fill_trim_slot(struct agg *agg, const uint64_t *packets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char src[32];
        struct flow f;

        /* two flows per group, two sources */
        snprintf(src, sizeof(src), "198.51.100.%zu", i + 1);
        f = tu_flow(MS(T0 + 100), packets[i] - 1, src, "192.0.2.1", PROTO_TCP, 1000,
                    (uint16_t)(i + 1));
        agg_add(agg, &f);
        f = tu_flow(MS(T0 + 200), 1, "203.0.113.1", "192.0.2.1", PROTO_TCP, 1000,
                    (uint16_t)(i + 1));
        agg_add(agg, &f);
    }
}

START_TEST(test_agg_trim_boundary)
{
    static const uint64_t packets[] = {10, 11, 4, 975};
    static const bool kept[] = {false, true, false, true};
    struct sink sink = {0};
    struct ds_cfg *cfg;
    struct agg *agg = agg_for("[proto, dst_port]", "1h", "[2, 1]", "start", &sink, &cfg);
    struct agg_slot *s;

    fill_trim_slot(agg, packets, N_CASES(packets));
    agg_advance(agg, T0 + 3600);
    ck_assert_uint_eq(sink.n_slots, 1);
    s = sink.slots[0];
    ck_assert(s->complete);
    ck_assert_uint_eq(s->packets, 1000);
    ck_assert_uint_eq(s->n_groups, 4);
    for (uint32_t i = 0; i < s->n_groups; i++) {
        struct agg_group *g = agg_slot_group(s, i);

        ck_assert_uint_eq(g->packets, packets[i]);
        ck_assert_uint_eq(g->flows, 2);
        ck_assert_msg((g->detail != NULL) == kept[i], "group %u: detail %p", i,
                      (void *)g->detail);
        ck_assert_uint_eq(g->flags & AGG_GROUP_PARTIAL, 0);
        if (kept[i])
            ck_assert_uint_eq(distinct_count(&g->detail->src), 2);
    }
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

/* The lowest threshold counts, wherever it is written: 0.5 % keeps above 0.5 %. */
START_TEST(test_agg_trim_lowest_threshold)
{
    static const uint64_t packets[] = {50, 51, 9899};
    static const bool kept[] = {false, true, true};
    struct sink sink = {0};
    struct ds_cfg *cfg;
    struct agg *agg = agg_for("[proto, dst_port]", "1h", "[0.75, 0.5, 1.0]", "start", &sink, &cfg);

    fill_trim_slot(agg, packets, N_CASES(packets));
    agg_advance(agg, T0 + 3600);
    ck_assert_uint_eq(sink.n_slots, 1);
    ck_assert_uint_eq(sink.slots[0]->packets, 10000);
    for (uint32_t i = 0; i < 3; i++)
        ck_assert_msg((agg_slot_group(sink.slots[0], i)->detail != NULL) == kept[i], "group %u",
                      i);
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_agg_flush_keeps_details)
{
    static const uint64_t packets[] = {5, 6, 4, 985};
    struct sink sink = {0};
    struct ds_cfg *cfg;
    struct agg *agg = agg_for("[proto, dst_port]", "1h", "[2, 1]", "start", &sink, &cfg);
    struct flow f = tu_flow(MS(T0 + 7200), 8, "198.51.100.9", "192.0.2.1", PROTO_UDP, 1, 2);

    fill_trim_slot(agg, packets, N_CASES(packets));
    agg_add(agg, &f);
    agg_flush(agg);
    ck_assert_uint_eq(sink.n_slots, 2);
    ck_assert_int_eq(sink.slots[0]->start, T0);
    ck_assert_int_eq(sink.slots[1]->start, T0 + 7200);
    for (size_t i = 0; i < 2; i++) {
        ck_assert(!sink.slots[i]->complete);
        for (uint32_t j = 0; j < sink.slots[i]->n_groups; j++)
            ck_assert_ptr_nonnull(agg_slot_group(sink.slots[i], j)->detail);
    }
    ck_assert_uint_eq(sink.slots[0]->n_groups, 4);
    ck_assert_uint_eq(sink.slots[1]->packets, 8);
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_agg_late_flows)
{
    struct sink sink = {0};
    struct ds_cfg *cfg;
    struct agg *agg = agg_for("[proto, dst_port]", "1h", "[1]", "start", &sink, &cfg);
    struct flow f[6];

    f[0] = tu_flow(MS(T0 + 60), 10, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1000, 23);
    f[1] = tu_flow(MS(T0 + 3660), 20, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1000, 23);
    agg_add(agg, &f[0]);
    agg_add(agg, &f[1]);
    agg_advance(agg, T0 + 3600);
    ck_assert_uint_eq(sink.n_slots, 1);

    /* for the closed slot: handed to on_late, with its bounds */
    f[2] = tu_flow(MS(T0 + 1800), 9, "198.51.100.2", "192.0.2.2", PROTO_TCP, 1000, 80);
    agg_add(agg, &f[2]);
    /* for a slot never opened, ending before the watermark: late too */
    f[3] = tu_flow(MS(T0 - 7000), 4, "198.51.100.3", "192.0.2.3", PROTO_UDP, 1, 53);
    agg_add(agg, &f[3]);
    /* through the batch path as well */
    f[4] = tu_flow(MS(T0 + 3599), 6, "198.51.100.4", "192.0.2.4", PROTO_TCP, 1000, 443);
    f[5] = tu_flow(MS(T0 + 3600), 5, "198.51.100.4", "192.0.2.4", PROTO_TCP, 1000, 443);
    agg_add_batch(agg, &f[4], 2);

    ck_assert_uint_eq(sink.n_late, 3);
    ck_assert_int_eq(sink.late[0].start, T0);
    ck_assert_int_eq(sink.late[0].end, T0 + 3600);
    ck_assert_uint_eq(sink.late[0].packets, 9);
    ck_assert_ptr_eq(sink.late[0].f, &f[2]);
    ck_assert_uint_eq(sink.late[0].dst_port, 80);
    ck_assert_int_eq(sink.late[1].start, T0 - 7200);
    ck_assert_int_eq(sink.late[1].end, T0 - 3600);
    ck_assert_uint_eq(sink.late[1].packets, 4);
    ck_assert_int_eq(sink.late[2].start, T0);
    ck_assert_uint_eq(sink.late[2].packets, 6);
    ck_assert_ptr_eq(sink.late[2].f, &f[4]);

    /* the closed slot was not touched, no slot was reopened */
    ck_assert_uint_eq(sink.slots[0]->packets, 10);
    ck_assert_uint_eq(sink.slots[0]->flows, 1);
    ck_assert_uint_eq(agg_open_slots(agg), 1);
    agg_flush(agg);
    ck_assert_uint_eq(sink.n_slots, 2);
    ck_assert_int_eq(sink.slots[1]->start, T0 + 3600);
    ck_assert_uint_eq(sink.slots[1]->packets, 25);
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

/* Without an on_late callback a late flow is dropped, never counted. */
START_TEST(test_agg_late_without_callback)
{
    struct ds_cfg *cfg = tu_cfg("analyses:\n  - name: t\n    slot: 1h\n");
    struct sink sink = {0};
    struct agg_opts opts = {sink_close, NULL, &sink, NULL, 0, false};
    struct agg *agg = agg_new(&cfg->analyses[0], &opts);
    struct flow a = tu_flow(MS(T0 + 60), 10, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1, 23);
    struct flow b = tu_flow(MS(T0 + 120), 5, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1, 23);

    agg_add(agg, &a);
    agg_advance(agg, T0 + 3600);
    agg_add(agg, &b);
    agg_add_batch(agg, &b, 1);
    ck_assert_uint_eq(agg_open_slots(agg), 0);
    agg_flush(agg);
    ck_assert_uint_eq(sink.n_slots, 1);
    ck_assert_uint_eq(sink.slots[0]->packets, 10);
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

/* Spread a flow with one aggregator and return the slots' packets. */
static size_t
spread_one(const char *slot, int64_t start_ms, int64_t end_ms, uint64_t packets,
           struct sink *sink, struct ds_cfg **cfg)
{
    struct agg *agg = agg_for("[proto]", slot, "[1]", "spread", sink, cfg);
    struct flow f = tu_flow(start_ms, packets, "198.51.100.1", "192.0.2.1", PROTO_UDP, 1, 2);

    f.end_ms = end_ms;
    agg_add(agg, &f);
    agg_flush(agg);
    agg_free(agg);
    return sink->n_slots;
}

START_TEST(test_agg_spread_largest_remainder)
{
    struct sink sink = {0};
    struct ds_cfg *cfg;

    /* 00:40 to 02:10: 20, 60 and 10 minutes of 90: 2.22, 6.67, 1.11 -> 2, 7, 1 */
    ck_assert_uint_eq(spread_one("1h", MS(T0 + 2400), MS(T0 + 7800), 10, &sink, &cfg), 3);
    ck_assert_uint_eq(sink.slots[0]->packets, 2);
    ck_assert_uint_eq(sink.slots[1]->packets, 7);
    ck_assert_uint_eq(sink.slots[2]->packets, 1);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(sink.slots[i]->start, T0 + i * 3600);
        ck_assert_uint_eq(sink.slots[i]->flows, 1);
        ck_assert_uint_eq(agg_slot_group(sink.slots[i], 0)->packets, sink.slots[i]->packets);
    }
    sink_free(&sink);
    cfg_free(cfg);

    /* three equal thirds, ending on a boundary: 4, 3, 3 and no fourth slot */
    ck_assert_uint_eq(spread_one("1h", MS(T0), MS(T0 + 3 * 3600), 10, &sink, &cfg), 3);
    ck_assert_uint_eq(sink.slots[0]->packets, 4);
    ck_assert_uint_eq(sink.slots[1]->packets, 3);
    ck_assert_uint_eq(sink.slots[2]->packets, 3);
    sink_free(&sink);
    cfg_free(cfg);

    /* two halves: ties go to the earlier slot */
    ck_assert_uint_eq(spread_one("1h", MS(T0 + 1800), MS(T0 + 5400), 7, &sink, &cfg), 2);
    ck_assert_uint_eq(sink.slots[0]->packets, 4);
    ck_assert_uint_eq(sink.slots[1]->packets, 3);
    sink_free(&sink);
    cfg_free(cfg);

    /* inside one slot, or no duration: all in the start slot */
    ck_assert_uint_eq(spread_one("1h", MS(T0 + 10), MS(T0 + 3600), 9, &sink, &cfg), 1);
    ck_assert_uint_eq(sink.slots[0]->packets, 9);
    sink_free(&sink);
    cfg_free(cfg);
    ck_assert_uint_eq(spread_one("1h", MS(T0 + 10), MS(T0 + 10), 9, &sink, &cfg), 1);
    ck_assert_uint_eq(sink.slots[0]->packets, 9);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

/*
 * Every slot a spread flow overlaps gets its proportional share to within
 * one packet, the total is exact, and no slot it does not overlap gets any.
 */
static void
check_spread(const char *slot, int64_t len, int64_t start_ms, int64_t end_ms, uint64_t packets)
{
    struct sink sink = {0};
    struct ds_cfg *cfg;
    uint64_t total = 0;
    size_t n = spread_one(slot, start_ms, end_ms, packets, &sink, &cfg);
    int64_t dur = end_ms - start_ms;

    ck_assert_uint_gt(n, 0);
    for (size_t i = 0; i < n; i++) {
        const struct agg_slot *s = sink.slots[i];
        int64_t a = start_ms > MS(s->start) ? start_ms : MS(s->start);
        int64_t b = end_ms < MS(s->end) ? end_ms : MS(s->end);
        double want = (double)packets * (double)(b - a) / (double)dur;

        ck_assert_int_eq(s->end - s->start, len);
        ck_assert_msg(b > a, "slot %zu [%lld, %lld) does not overlap the flow", i,
                      (long long)s->start, (long long)s->end);
        ck_assert_msg((double)s->packets > want - 1 && (double)s->packets < want + 1,
                      "slot %zu: %llu packets, proportional share %.3f", i,
                      (unsigned long long)s->packets, want);
        total += s->packets;
    }
    ck_assert_uint_eq(total, packets);
    sink_free(&sink);
    cfg_free(cfg);
}

START_TEST(test_agg_spread_proportional)
{
    /* few slots (remainders balanced in place) */
    check_spread("1h", 3600, MS(T0 + 2400), MS(T0 + 7800), 10);
    check_spread("1h", 3600, MS(T0 + 1234), MS(T0 + 40 * 3600 + 77), 100003);
    check_spread("5m", 300, MS(T0), MS(T0 + 3600), 1000);
    /* more than 64 slots: 6 hours of 5-minute slots */
    check_spread("5m", 300, MS(T0), MS(T0 + 6 * 3600), 1000);
    check_spread("5m", 300, MS(T0 + 17), MS(T0 + 6 * 3600 + 150), 1000);
    check_spread("5m", 300, MS(T0 + 150), MS(T0 + 24 * 3600), 7);
}
END_TEST

/* A spread flow whose first slot is closed: that share goes to on_late. */
START_TEST(test_agg_spread_late)
{
    struct sink sink = {0};
    struct ds_cfg *cfg;
    struct agg *agg = agg_for("[proto]", "1h", "[1]", "spread", &sink, &cfg);
    struct flow a = tu_flow(MS(T0 + 60), 1, "198.51.100.1", "192.0.2.1", PROTO_UDP, 1, 2);
    struct flow f = tu_flow(MS(T0 + 2400), 10, "198.51.100.1", "192.0.2.1", PROTO_UDP, 1, 2);

    agg_add(agg, &a);
    agg_advance(agg, T0 + 3600);
    f.end_ms = MS(T0 + 7800);
    agg_add(agg, &f);
    ck_assert_uint_eq(sink.n_late, 1);
    ck_assert_int_eq(sink.late[0].start, T0);
    ck_assert_int_eq(sink.late[0].end, T0 + 3600);
    ck_assert_uint_eq(sink.late[0].packets, 2);
    agg_flush(agg);
    ck_assert_uint_eq(sink.n_slots, 3);
    ck_assert_uint_eq(sink.slots[0]->packets, 1);
    ck_assert_uint_eq(sink.slots[1]->packets, 7);
    ck_assert_uint_eq(sink.slots[2]->packets, 1);
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

/* Identical bytes: detail_serialize() is canonical for equal contents. */
static void
assert_detail_eq(const struct detail *a, const struct detail *b)
{
    size_t la = detail_serialize_bound(a), lb = detail_serialize_bound(b);
    uint8_t *ba = malloc(la), *bb = malloc(lb);

    ck_assert_ptr_nonnull(ba);
    ck_assert_ptr_nonnull(bb);
    la = detail_serialize(a, ba);
    lb = detail_serialize(b, bb);
    ck_assert_uint_eq(la, lb);
    ck_assert_msg(memcmp(ba, bb, la) == 0, "details differ");
    free(ba);
    free(bb);
}

static void
assert_sinks_eq(const struct sink *a, const struct sink *b)
{
    ck_assert_uint_eq(a->n_slots, b->n_slots);
    ck_assert_uint_eq(a->n_late, b->n_late);
    for (size_t i = 0; i < a->n_late; i++) {
        ck_assert_int_eq(a->late[i].start, b->late[i].start);
        ck_assert_int_eq(a->late[i].end, b->late[i].end);
        ck_assert_uint_eq(a->late[i].packets, b->late[i].packets);
        ck_assert_ptr_eq(a->late[i].f, b->late[i].f);
    }
    for (size_t i = 0; i < a->n_slots; i++) {
        const struct agg_slot *x = a->slots[i], *y = b->slots[i];

        ck_assert_int_eq(x->start, y->start);
        ck_assert_int_eq(x->end, y->end);
        ck_assert_uint_eq(x->packets, y->packets);
        ck_assert_uint_eq(x->flows, y->flows);
        ck_assert_uint_eq(x->folded_packets, y->folded_packets);
        ck_assert_uint_eq(x->folded_flows, y->folded_flows);
        ck_assert_int_eq(x->complete, y->complete);
        ck_assert_uint_eq(x->n_groups, y->n_groups);
        for (uint32_t j = 0; j < x->n_groups; j++) {
            const struct agg_group *g = agg_slot_group(x, j), *h = agg_slot_group(y, j);

            ck_assert_mem_eq(g->key, h->key, x->layout->size);
            ck_assert_uint_eq(g->packets, h->packets);
            ck_assert_uint_eq(g->flows, h->flows);
            ck_assert_uint_eq(g->flags, h->flags);
            ck_assert_int_eq(g->detail != NULL, h->detail != NULL);
            if (g->detail != NULL)
                assert_detail_eq(g->detail, h->detail);
        }
    }
}

/* Pseudo-random flows over about 8 hours, mostly in time order. */
static struct flow *
random_flows(size_t n, struct exporter *ex)
{
    static const uint8_t protos[] = {PROTO_TCP, PROTO_TCP, PROTO_TCP, PROTO_UDP, PROTO_UDP,
                                     PROTO_ICMP, PROTO_ICMPV6, 47};
    static const uint8_t flags[] = {0x02, 0x02, 0x12, 0x04, 0x14, 0x10};
    struct flow *v = calloc(n, sizeof(*v));

    ck_assert_ptr_nonnull(v);
    for (size_t i = 0; i < n; i++) {
        struct flow *f = &v[i];
        int64_t t = MS(T0) + (int64_t)(i * 8 * 3600 * 1000 / n) +
                    (int64_t)rng_below(40 * 60 * 1000) - 20 * 60 * 1000;
        uint8_t proto = protos[rng_below(N_CASES(protos))];

        memset(f, 0, sizeof(*f));
        f->start_ms = t;
        f->end_ms = t + (int64_t)rng_below(120000);
        f->packets = 1 + rng_below(rng_below(8) == 0 ? 5000 : 20);
        f->proto = proto;
        if (proto == PROTO_ICMPV6) {
            f->src.b[0] = 0x20;
            f->src.b[1] = 0x01;
            f->src.b[5] = (uint8_t)rng_below(4);
            f->src.b[15] = (uint8_t)rng_below(256);
            f->dst = f->src;
            f->dst.b[4] = 0xba;
            f->dst.b[15] = (uint8_t)rng_below(64);
            f->ip_version = 6;
        } else {
            addr_from_v4(&f->src, (uint32_t)(0xc6330000u | rng_below(1u << (rng_below(3) * 6))) +
                                      (uint32_t)rng_below(3) * 0x01000000u);
            addr_from_v4(&f->dst, 0xc0000200u | (uint32_t)rng_below(256));
            f->ip_version = 4;
        }
        if (proto_has_ports(proto)) {
            f->src_port = (uint16_t)(1024 + rng_below(60000));
            f->dst_port = (uint16_t)(rng_below(4) == 0 ? rng_below(65536) : 20 + rng_below(20));
        }
        if (proto == PROTO_TCP)
            f->tcp_flags = flags[rng_below(N_CASES(flags))];
        if (proto_is_icmp(proto)) {
            f->icmp_type = (uint8_t)(rng_below(2) ? 8 : 3);
            f->icmp_code = (uint8_t)rng_below(4);
        }
        f->sampling = 1;
        f->exporter = &ex[rng_below(2)];
        f->src_value = addr_value(&f->src);
        f->dst_value = addr_value(&f->dst);
    }
    return v;
}

START_TEST(test_agg_batch_equals_add)
{
    enum { N = 6000 };
    struct sink one = {0}, batch = {0};
    struct ds_cfg *cfg1, *cfg2;
    const char *keys = "[proto, dst_port, src_net/16, tcp_flags, type, exporter]";
    struct agg *a1 = agg_for(keys, "1h", "[1, 0.5]", "start", &one, &cfg1);
    struct agg *a2 = agg_for(keys, "1h", "[1, 0.5]", "start", &batch, &cfg2);
    struct exporter ex[2];
    struct flow *flows;
    size_t i = 0;
    int64_t max_start = INT64_MIN;
    uint64_t in = 0, out = 0;
    uint32_t groups = 0;

    make_exporter(&ex[0], "192.0.2.250", 1);
    make_exporter(&ex[1], NULL, 2);
    rng_seed(424242);
    flows = random_flows(N, ex);
    while (i < N) {
        size_t n = 1 + (size_t)rng_below(300);

        if (n > N - i)
            n = N - i;
        for (size_t j = i; j < i + n; j++) {
            agg_add(a1, &flows[j]);
            if (flows[j].start_ms > max_start)
                max_start = flows[j].start_ms;
            in += flows[j].packets;
        }
        agg_add_batch(a2, &flows[i], n);
        i += n;
        /* a lateness of 15 minutes: some flows arrive for closed slots */
        agg_advance(a1, max_start / 1000 - 900);
        agg_advance(a2, max_start / 1000 - 900);
    }
    agg_flush(a1);
    agg_flush(a2);
    assert_sinks_eq(&one, &batch);

    /* the comparison covered every path: closed, flushed, late, trimmed */
    ck_assert_uint_ge(one.n_slots, 8);
    ck_assert_uint_gt(one.n_late, 10);
    ck_assert(one.slots[0]->complete && !one.slots[one.n_slots - 1]->complete);
    for (size_t s = 0; s < one.n_slots; s++) {
        out += one.slots[s]->packets;
        groups += one.slots[s]->n_groups;
    }
    for (size_t l = 0; l < one.n_late; l++)
        out += one.late[l].packets;
    ck_assert_uint_eq(out, in);
    ck_assert_uint_gt(groups, 1000);
    agg_free(a1);
    agg_free(a2);
    sink_free(&one);
    sink_free(&batch);
    free(flows);
    cfg_free(cfg1);
    cfg_free(cfg2);
}
END_TEST

/*
 * limits.groups: past it a slot folds the flows of new groups.  Both paths
 * fold the same flows; every packet is in the slot's total, in a group or
 * in the fold; the groups kept are counted exactly.
 */
START_TEST(test_agg_groups_limit_folds)
{
    enum { N = 6000, MAX = 40 };
    struct sink one = {0}, batch = {0}, free_ = {0};
    struct ds_cfg *cfg1, *cfg2, *cfg3;
    const char *keys = "[proto, dst_port, src_net/16]";
    struct agg *a1 = agg_for_limited(keys, "1h", "[1]", "start", &one, &cfg1, MAX);
    struct agg *a2 = agg_for_limited(keys, "1h", "[1]", "start", &batch, &cfg2, MAX);
    struct agg *a3 = agg_for(keys, "1h", "[1]", "start", &free_, &cfg3);
    struct exporter ex[2];
    struct flow *flows;
    uint64_t folded = 0;

    make_exporter(&ex[0], "192.0.2.250", 1);
    make_exporter(&ex[1], NULL, 2);
    rng_seed(77);
    flows = random_flows(N, ex);
    for (size_t i = 0; i < N; i++) {
        agg_add(a1, &flows[i]);
        agg_add(a3, &flows[i]);
    }
    agg_add_batch(a2, flows, N);
    agg_flush(a1);
    agg_flush(a2);
    agg_flush(a3);
    assert_sinks_eq(&one, &batch);
    ck_assert_uint_eq(one.n_slots, free_.n_slots);
    for (size_t i = 0; i < one.n_slots; i++) {
        const struct agg_slot *x = one.slots[i], *y = free_.slots[i];
        uint64_t in_groups = 0;

        ck_assert_uint_le(x->n_groups, MAX);
        ck_assert_uint_eq(x->packets, y->packets);
        ck_assert_uint_eq(x->flows, y->flows);
        for (uint32_t j = 0; j < x->n_groups; j++) {
            const struct agg_group *g = agg_slot_group(x, j);
            const struct agg_group *h = agg_slot_group_find(y, g->key);

            ck_assert_ptr_nonnull(h);
            ck_assert_uint_eq(g->packets, h->packets);
            in_groups += g->packets;
        }
        ck_assert_uint_eq(in_groups + x->folded_packets, x->packets);
        ck_assert_uint_eq(x->folded_flows > 0, y->n_groups > MAX);
        folded += x->folded_packets;
    }
    ck_assert_uint_gt(folded, 0);
    agg_free(a1);
    agg_free(a2);
    agg_free(a3);
    sink_free(&one);
    sink_free(&batch);
    sink_free(&free_);
    free(flows);
    cfg_free(cfg1);
    cfg_free(cfg2);
    cfg_free(cfg3);
}
END_TEST

/* A merge into a slot with a limit folds what does not fit, and adds the folds. */
START_TEST(test_agg_groups_limit_merge)
{
    static const char *const specs[] = {"proto", "dst_port"};
    struct key_layout l;
    struct agg_slot *dst, *src;
    uint8_t k[KEY_BYTES_MAX];
    struct flow f;

    layout_of(&l, specs, 2);
    dst = agg_slot_new(&l, T0, T0 + 3600);
    src = agg_slot_new(&l, T0, T0 + 3600);
    dst->max_groups = 3;
    memset(&f, 0, sizeof(f));
    f.proto = PROTO_UDP;
    for (uint16_t p = 1; p <= 5; p++) {
        f.dst_port = p;
        agg_slot_add(src, &f, p);
        if (p <= 2)
            agg_slot_add(dst, &f, 10);
    }
    f.dst_port = 9;
    agg_slot_add(dst, &f, 1);
    agg_slot_fold(src, 2, 100);
    agg_slot_merge(dst, src);
    /* dst kept 1, 2 and 9; 3, 4 and 5 (12 packets) and src's fold went to its fold */
    ck_assert_uint_eq(dst->n_groups, 3);
    ck_assert_uint_eq(dst->folded_packets, 3 + 4 + 5 + 100);
    ck_assert_uint_eq(dst->folded_flows, 3 + 2);
    ck_assert_uint_eq(dst->packets, 21 + 15 + 100);
    f.dst_port = 1;
    key_extract(&l, &f, k);
    ck_assert_uint_eq(agg_slot_group_find(dst, k)->packets, 11);
    agg_slot_free(dst);
    agg_slot_free(src);
}
END_TEST

/* The spread path of agg_add_batch() is agg_add() too. */
START_TEST(test_agg_batch_equals_add_spread)
{
    enum { N = 2000 };
    struct sink one = {0}, batch = {0};
    struct ds_cfg *cfg1, *cfg2;
    struct agg *a1 = agg_for("[proto, dst_port]", "5m", "[1]", "spread", &one, &cfg1);
    struct agg *a2 = agg_for("[proto, dst_port]", "5m", "[1]", "spread", &batch, &cfg2);
    struct exporter ex[2];
    struct flow *flows;

    make_exporter(&ex[0], "192.0.2.250", 1);
    make_exporter(&ex[1], NULL, 2);
    rng_seed(77);
    flows = random_flows(N, ex);
    for (size_t i = 0; i < N; i++) {
        flows[i].end_ms += (int64_t)rng_below(3600 * 1000);
        agg_add(a1, &flows[i]);
    }
    agg_add_batch(a2, flows, N);
    agg_flush(a1);
    agg_flush(a2);
    assert_sinks_eq(&one, &batch);
    ck_assert_uint_gt(one.n_slots, 90);
    agg_free(a1);
    agg_free(a2);
    sink_free(&one);
    sink_free(&batch);
    free(flows);
    cfg_free(cfg1);
    cfg_free(cfg2);
}
END_TEST

static struct flow
port_flow(uint16_t dport, uint64_t packets, const char *src)
{
    return tu_flow(MS(T0 + 10), packets, src, "192.0.2.1", PROTO_TCP, 1000, dport);
}

START_TEST(test_agg_slot_merge)
{
    static const char *const specs[] = {"proto", "dst_port"};
    struct key_layout l;
    struct agg_slot *dst, *src;
    struct decimal th;
    struct flow fa = port_flow(1, 500, "198.51.100.1"), fa2 = port_flow(1, 500, "198.51.100.2");
    struct flow fb = port_flow(2, 400, "198.51.100.3"), fb2 = port_flow(2, 1, "198.51.100.4");
    struct flow fc = port_flow(3, 1, "198.51.100.5"), fc2 = port_flow(3, 300, "198.51.100.6");
    struct flow fd = port_flow(4, 50, "198.51.100.7"), fe = port_flow(5, 1, "198.51.100.8");
    struct flow ff = port_flow(6, 99, "198.51.100.9");
    struct agg_group *g;

    layout_of(&l, specs, 2);
    memset(&th, 0, sizeof(th));
    th.num = 1;
    th.den = 1;
    dst = agg_slot_new(&l, T0, T0 + 3600);
    src = agg_slot_new(&l, T0, T0 + 3600);
    /* dst: A 500, B 400, C 1, F 99 (1000); trimmed at 1 %: C loses its detail */
    agg_slot_add(dst, &fa, fa.packets);
    agg_slot_add(dst, &fb, fb.packets);
    agg_slot_add(dst, &fc, fc.packets);
    agg_slot_add(dst, &ff, ff.packets);
    agg_slot_trim(dst, &th, 1);
    /* src: A 500, B 1, C 300, D 50, E 1 (852); trimmed at 1 %: B and E lose theirs */
    agg_slot_add(src, &fa2, fa2.packets);
    agg_slot_add(src, &fb2, fb2.packets);
    agg_slot_add(src, &fc2, fc2.packets);
    agg_slot_add(src, &fd, fd.packets);
    agg_slot_add(src, &fe, fe.packets);
    src->late_flows = 2;
    src->late_packets = 7;
    agg_slot_trim(src, &th, 1);
    ck_assert_ptr_null(group_of(dst, &fc)->detail);
    ck_assert_ptr_null(group_of(src, &fb2)->detail);
    ck_assert_ptr_null(group_of(src, &fe)->detail);

    agg_slot_merge(dst, src);
    ck_assert_uint_eq(dst->packets, 1852);
    ck_assert_uint_eq(dst->flows, 9);
    ck_assert_uint_eq(dst->late_flows, 2);
    ck_assert_uint_eq(dst->late_packets, 7);
    ck_assert_uint_eq(dst->n_groups, 6);
    /* A: both had a detail, merged */
    g = group_of(dst, &fa);
    ck_assert_uint_eq(g->packets, 1000);
    ck_assert_uint_eq(g->flows, 2);
    ck_assert_ptr_nonnull(g->detail);
    ck_assert_uint_eq(distinct_count(&g->detail->src), 2);
    ck_assert_uint_eq(g->flags & AGG_GROUP_PARTIAL, 0);
    /* B: src had none: partial, dst's detail kept */
    g = group_of(dst, &fb);
    ck_assert_uint_eq(g->packets, 401);
    ck_assert_ptr_nonnull(g->detail);
    ck_assert_uint_eq(distinct_count(&g->detail->src), 1);
    ck_assert_uint_ne(g->flags & AGG_GROUP_PARTIAL, 0);
    /* C: dst had none: partial, src's detail taken */
    g = group_of(dst, &fc);
    ck_assert_uint_eq(g->packets, 301);
    ck_assert_ptr_nonnull(g->detail);
    ck_assert_uint_eq(distinct_count(&g->detail->src), 1);
    ck_assert_uint_ne(g->flags & AGG_GROUP_PARTIAL, 0);
    /* D: new in dst, with a copy of src's detail */
    g = group_of(dst, &fd);
    ck_assert_uint_eq(g->packets, 50);
    ck_assert_ptr_nonnull(g->detail);
    ck_assert_ptr_ne(g->detail, group_of(src, &fd)->detail);
    ck_assert_uint_eq(distinct_count(&g->detail->src), 1);
    ck_assert_uint_eq(g->flags & AGG_GROUP_PARTIAL, 0);
    /* E: new in dst, no detail anywhere */
    g = group_of(dst, &fe);
    ck_assert_uint_eq(g->packets, 1);
    ck_assert_ptr_null(g->detail);
    /* F: only in dst, unchanged */
    g = group_of(dst, &ff);
    ck_assert_uint_eq(g->packets, 99);
    ck_assert_ptr_nonnull(g->detail);
    ck_assert_uint_eq(g->flags & AGG_GROUP_PARTIAL, 0);
    /* src is unchanged */
    ck_assert_uint_eq(src->packets, 852);
    ck_assert_uint_eq(group_of(src, &fa2)->packets, 500);
    agg_slot_free(dst);
    agg_slot_free(src);
}
END_TEST

/*
 * Counting into a closed slot (late flows, by the owner of the slot): a
 * group whose detail was trimmed becomes partial; a group with a detail,
 * or a new one, keeps a complete detail.
 */
START_TEST(test_agg_slot_add_after_close)
{
    static const char *const specs[] = {"dst_port"};
    struct key_layout l;
    struct agg_slot *s;
    struct decimal th;
    struct flow a = port_flow(1, 100, "198.51.100.1"), b = port_flow(1, 1, "198.51.100.2");
    struct flow t = port_flow(2, 1, "198.51.100.3"), t2 = port_flow(2, 5, "198.51.100.4");
    struct flow c = port_flow(9, 3, "198.51.100.5");
    struct agg_group *g;

    layout_of(&l, specs, 1);
    memset(&th, 0, sizeof(th));
    th.num = 1;
    th.den = 1;
    s = agg_slot_new(&l, T0, T0 + 3600);
    agg_slot_add(s, &a, 100);
    agg_slot_add(s, &t, 1);
    s->complete = true;
    agg_slot_trim(s, &th, 1);   /* 1 of 101 packets is not above 1 % */
    ck_assert_ptr_null(group_of(s, &t)->detail);
    agg_slot_add(s, &b, 1);
    agg_slot_add(s, &t2, 5);
    agg_slot_add(s, &c, 3);
    g = group_of(s, &a);
    ck_assert_uint_eq(g->packets, 101);
    ck_assert_uint_eq(distinct_count(&g->detail->src), 2);
    ck_assert_uint_eq(g->flags & AGG_GROUP_PARTIAL, 0);
    g = group_of(s, &t);
    ck_assert_uint_eq(g->packets, 6);
    ck_assert_uint_eq(g->flows, 2);
    ck_assert_ptr_null(g->detail);
    ck_assert_uint_ne(g->flags & AGG_GROUP_PARTIAL, 0);
    g = group_of(s, &c);
    ck_assert_uint_eq(g->packets, 3);
    ck_assert_ptr_nonnull(g->detail);
    ck_assert_uint_eq(distinct_count(&g->detail->src), 1);
    ck_assert_uint_eq(g->flags & AGG_GROUP_PARTIAL, 0);
    ck_assert_uint_eq(s->packets, 110);
    ck_assert_uint_eq(s->flows, 5);
    agg_slot_free(s);
}
END_TEST

START_TEST(test_agg_slot_group_find)
{
    static const char *const specs[] = {"proto", "dst_port"};
    struct key_layout l;
    struct agg_slot *s;
    uint8_t k[KEY_BYTES_MAX];

    layout_of(&l, specs, 2);
    s = agg_slot_new(&l, T0, T0 + 3600);
    for (uint32_t p = 0; p < 5000; p++) {
        struct flow f = port_flow((uint16_t)(p * 13), 1, "198.51.100.1");

        key_extract(&l, &f, k);
        ck_assert_ptr_null(agg_slot_group_find(s, k));
        ck_assert_ptr_nonnull(agg_slot_group_get(s, k, p % 2 == 0));
    }
    ck_assert_uint_eq(s->n_groups, 5000);
    for (uint32_t p = 0; p < 5000; p++) {
        struct flow f = port_flow((uint16_t)(p * 13), 1, "198.51.100.1");
        struct agg_group *g;

        key_extract(&l, &f, k);
        g = agg_slot_group_find(s, k);
        ck_assert_ptr_eq(g, agg_slot_group(s, p));
        ck_assert_mem_eq(g->key, k, l.size);
        ck_assert_int_eq(g->detail != NULL, p % 2 == 0);
        ck_assert_ptr_eq(agg_slot_group_get(s, k, true), g);
    }
    ck_assert_uint_eq(s->n_groups, 5000);
    /* absent: another port, another protocol */
    {
        struct flow f = port_flow(1, 1, "198.51.100.1");

        key_extract(&l, &f, k);
        ck_assert_ptr_null(agg_slot_group_find(s, k));
        f.proto = PROTO_UDP;
        f.dst_port = 0;
        key_extract(&l, &f, k);
        ck_assert_ptr_null(agg_slot_group_find(s, k));
    }
    agg_slot_free(s);
}
END_TEST

/* ---- distinct.c ----------------------------------------------------------- */

static uint64_t
v4(uint32_t ip)
{
    return 0xffff00000000ULL | ip;
}

static uint64_t
v6(uint32_t i)
{
    struct addr a;

    memset(&a, 0, sizeof(a));
    a.b[0] = 0x20;
    a.b[1] = 0x01;
    a.b[2] = 0x0d;
    a.b[3] = 0xb8;
    a.b[12] = (uint8_t)(i >> 24);
    a.b[13] = (uint8_t)(i >> 16);
    a.b[14] = (uint8_t)(i >> 8);
    a.b[15] = (uint8_t)i;
    return addr_value(&a);
}

/* A spread IPv4 address: i times an odd constant is a bijection of 32 bits. */
static uint32_t
spread_ip(uint32_t i)
{
    return i * 2654435761u;
}

struct vset {
    uint64_t *v;
    size_t n, cap;
};

static void
vs_add(struct vset *s, uint64_t v)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 1024;
        s->v = realloc(s->v, s->cap * sizeof(*s->v));
        ck_assert_ptr_nonnull(s->v);
    }
    s->v[s->n++] = v;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Distinct values of a and b together. */
static size_t
true_union(const struct vset *a, const struct vset *b)
{
    size_t n = a->n + (b ? b->n : 0), u = 0;
    uint64_t *all = malloc((n ? n : 1) * sizeof(*all));

    ck_assert_ptr_nonnull(all);
    if (a->n > 0)
        memcpy(all, a->v, a->n * sizeof(*all));
    if (b != NULL && b->n > 0)
        memcpy(all + a->n, b->v, b->n * sizeof(*all));
    qsort(all, n, sizeof(*all), cmp_u64);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || all[i] != all[i - 1])
            u++;
    free(all);
    return u;
}

static void
build(struct distinct *d, bool ports, const struct vset *s)
{
    distinct_init(d, ports);
    for (size_t i = 0; i < s->n; i++)
        distinct_add(d, s->v[i]);
}

static void
assert_close(uint64_t got, size_t want, const char *what)
{
    double err = ((double)got - (double)want) / (double)want;

    ck_assert_msg(err < 0.02 && err > -0.02, "%s: estimate %llu, true %zu (%.2f%%)", what,
                  (unsigned long long)got, want, 100 * err);
}

/* The count is exact, or an estimate within 2 % that says so. */
static void
assert_count(const struct distinct *d, size_t want, const char *what)
{
    if (distinct_is_estimate(d))
        assert_close(distinct_count(d), want, what);
    else
        ck_assert_msg(distinct_count(d) == want, "%s: count %llu, true %zu", what,
                      (unsigned long long)distinct_count(d), want);
}

START_TEST(test_distinct_small_exact)
{
    struct distinct d;

    distinct_init(&d, false);
    ck_assert_uint_eq(distinct_count(&d), 0);
    ck_assert(!distinct_is_estimate(&d));
    distinct_add(&d, v4(0xc0000201));
    distinct_add(&d, v4(0xc0000202));
    distinct_add(&d, v4(0xc0000201));
    ck_assert_uint_eq(distinct_count(&d), 2);
    ck_assert_uint_eq(distinct_memory(&d), 0);
    for (uint32_t i = 0; i < 100; i++)
        distinct_add(&d, v4(0xc0000200 + i % 50));
    ck_assert_uint_eq(distinct_count(&d), 50);
    ck_assert(!distinct_is_estimate(&d));
    ck_assert_uint_eq(d.mode, DISTINCT_EXACT);
    distinct_fini(&d);
    distinct_fini(&d);  /* twice is harmless */
}
END_TEST

START_TEST(test_distinct_exact_max_then_hll)
{
    struct distinct d;
    uint32_t i;

    distinct_init(&d, false);
    for (i = 1; i <= DISTINCT_EXACT_MAX; i++) {
        distinct_add(&d, v4(spread_ip(i)));
        if (i % 1024 == 0 || i < 20)
            ck_assert_uint_eq(distinct_count(&d), i);
    }
    ck_assert_uint_eq(distinct_count(&d), DISTINCT_EXACT_MAX);
    ck_assert(!distinct_is_estimate(&d));
    /* repeats change nothing */
    for (i = 1; i <= 1000; i++)
        distinct_add(&d, v4(spread_ip(i)));
    ck_assert_uint_eq(distinct_count(&d), DISTINCT_EXACT_MAX);
    ck_assert(!distinct_is_estimate(&d));
    /* one more: the addresses span thousands of /16s, so a sketch takes over */
    distinct_add(&d, v4(spread_ip(i = DISTINCT_EXACT_MAX + 1)));
    ck_assert(distinct_is_estimate(&d));
    ck_assert_uint_eq(d.mode, DISTINCT_HLL);
    assert_close(distinct_count(&d), DISTINCT_EXACT_MAX + 1, "12289");
    for (i = DISTINCT_EXACT_MAX + 2; i <= 100000; i++)
        distinct_add(&d, v4(spread_ip(i)));
    assert_close(distinct_count(&d), 100000, "100000");
    for (i = 1; i <= 100000; i += 7)
        distinct_add(&d, v4(spread_ip(i)));
    assert_close(distinct_count(&d), 100000, "100000 with repeats");
    for (i = 100001; i <= 1000000; i++)
        distinct_add(&d, v4(spread_ip(i)));
    assert_close(distinct_count(&d), 1000000, "1000000");
    distinct_fini(&d);
}
END_TEST

START_TEST(test_distinct_blocks_one_16)
{
    /* 200,000 addresses inside 198.18.0.0/16 (with repeats: a /16 holds 65536) */
    struct distinct d;
    uint8_t *seen = calloc(65536, 1);
    size_t truth = 0;

    ck_assert_ptr_nonnull(seen);
    rng_seed(16);
    distinct_init(&d, false);
    for (int i = 0; i < 200000; i++) {
        uint32_t low = (uint32_t)rng_below(65536);

        truth += !seen[low];
        seen[low] = 1;
        distinct_add(&d, v4(0xc6120000u | low));
    }
    ck_assert_uint_eq(d.mode, DISTINCT_BLOCKS);
    ck_assert(!distinct_is_estimate(&d));
    ck_assert_uint_eq(distinct_count(&d), truth);
    ck_assert_uint_gt(truth, 60000);
    /* every address of the block */
    for (uint32_t low = 0; low < 65536; low++)
        distinct_add(&d, v4(0xc6120000u | low));
    ck_assert_uint_eq(distinct_count(&d), 65536);
    ck_assert(!distinct_is_estimate(&d));
    distinct_fini(&d);
    free(seen);
}
END_TEST

START_TEST(test_distinct_blocks_many)
{
    /* 200,000 distinct addresses in four /16s, then IPv6 and 0 beside them */
    struct distinct d;
    uint32_t n = 0;

    distinct_init(&d, false);
    for (uint32_t b = 0; b < 4; b++)
        for (uint32_t low = 0; low < 50000; low++, n++)
            distinct_add(&d, v4(0xc6120000u + (b << 16) + (uint32_t)((low * 40503u) & 0xffff)));
    ck_assert_uint_eq(d.mode, DISTINCT_BLOCKS);
    ck_assert_uint_eq(distinct_count(&d), 200000);
    ck_assert(!distinct_is_estimate(&d));
    for (uint32_t i = 0; i < 5000; i++)
        distinct_add(&d, v6(i));
    distinct_add(&d, 0);
    distinct_add(&d, 0);
    ck_assert_uint_eq(distinct_count(&d), 205001);
    ck_assert(!distinct_is_estimate(&d));
    /* a 17th /16 block is one too many: a sketch */
    distinct_add(&d, v4(0x0a000001));
    for (uint32_t b = 4; b < 15; b++)
        distinct_add(&d, v4(0xc6120000u + (b << 16)));
    ck_assert_uint_eq(d.n_blocks, DISTINCT_BLOCKS_MAX);
    ck_assert(!distinct_is_estimate(&d));
    ck_assert_uint_eq(distinct_count(&d), 205013);
    distinct_add(&d, v4(0x0b000001));
    ck_assert(distinct_is_estimate(&d));
    assert_close(distinct_count(&d), 205014, "17 blocks");
    distinct_fini(&d);
}
END_TEST

START_TEST(test_distinct_ipv6)
{
    struct distinct d;

    distinct_init(&d, false);
    for (uint32_t i = 0; i < 3; i++)
        distinct_add(&d, v6(i));
    ck_assert_uint_eq(distinct_count(&d), 3);
    for (uint32_t i = 0; i < 10000; i++)
        distinct_add(&d, v6(i % 5000));
    ck_assert_uint_eq(distinct_count(&d), 5000);
    ck_assert_uint_eq(d.mode, DISTINCT_EXACT);
    for (uint32_t i = 0; i < 30000; i++)
        distinct_add(&d, v6(i));
    ck_assert(distinct_is_estimate(&d));
    assert_close(distinct_count(&d), 30000, "ipv6");
    distinct_fini(&d);
}
END_TEST

START_TEST(test_distinct_zero_and_repeats)
{
    struct distinct a, p;

    distinct_init(&a, false);
    distinct_add(&a, 0);
    distinct_add(&a, 0);
    ck_assert_uint_eq(distinct_count(&a), 1);
    distinct_add(&a, v4(1));
    distinct_add(&a, 0);
    distinct_add(&a, v4(1));
    ck_assert_uint_eq(distinct_count(&a), 2);
    /* repeats that are not consecutive */
    for (int r = 0; r < 3; r++)
        for (uint32_t i = 0; i < 1000; i++)
            distinct_add(&a, v4(0xc0000000u + i * 977));
    ck_assert_uint_eq(distinct_count(&a), 1002);   /* 0, v4(1) and the 1000 */
    distinct_fini(&a);

    distinct_init(&p, true);
    distinct_add(&p, 0);
    distinct_add(&p, 80);
    distinct_add(&p, 0);
    ck_assert_uint_eq(distinct_count(&p), 2);
    for (uint32_t i = 1; i <= 3000; i++)
        distinct_add(&p, i);
    ck_assert_uint_eq(p.mode, DISTINCT_BITMAP);
    ck_assert_uint_eq(distinct_count(&p), 3001);
    distinct_add(&p, 0);
    ck_assert_uint_eq(distinct_count(&p), 3001);
    distinct_fini(&p);
}
END_TEST

/*
 * 0.0.0.0 has no slot in a narrow table (0 marks a free one): it is kept
 * apart, and goes with the set through every growth, a widening to 64-bit
 * entries, a copy and a merge.
 */
START_TEST(test_distinct_v4_zero_through_growth)
{
    struct distinct a, b;
    uint8_t *buf;
    size_t len;

    distinct_init(&a, false);
    distinct_add(&a, v4(0));
    /* 2000 addresses over many /16 blocks: the exact set grows, and stays a set */
    for (uint32_t i = 1; i <= 2000; i++)
        distinct_add(&a, v4(i * 2654435761u));
    ck_assert(a.mode == DISTINCT_EXACT && a.narrow);
    ck_assert_uint_eq(distinct_count(&a), 2001);
    /* an IPv6 value: the table turns to 64-bit entries */
    distinct_add(&a, UINT64_C(0x8000000000000001));
    ck_assert(a.mode == DISTINCT_EXACT && !a.narrow);
    ck_assert_uint_eq(distinct_count(&a), 2002);
    distinct_add(&a, v4(0));
    ck_assert_uint_eq(distinct_count(&a), 2002);
    /* serialised and read back */
    buf = malloc(distinct_serialize_bound(&a));
    ck_assert_ptr_nonnull(buf);
    len = distinct_serialize(&a, buf);
    ck_assert_uint_gt(distinct_deserialize(&b, buf, len), 0);
    ck_assert_uint_eq(distinct_count(&b), 2002);
    distinct_fini(&b);
    free(buf);
    /* merged into a set that had only 0.0.0.0 */
    distinct_init(&b, false);
    distinct_add(&b, v4(0));
    distinct_merge(&b, &a);
    ck_assert_uint_eq(distinct_count(&b), 2002);
    distinct_fini(&b);
    distinct_fini(&a);
}
END_TEST

START_TEST(test_distinct_ports_bitmap)
{
    struct distinct p;

    distinct_init(&p, true);
    for (uint32_t i = 0; i < 2048; i++)
        distinct_add(&p, 1 + i * 31);
    ck_assert_uint_eq(p.mode, DISTINCT_EXACT);
    ck_assert_uint_eq(distinct_count(&p), 2048);
    distinct_add(&p, 65535);
    ck_assert_uint_eq(p.mode, DISTINCT_BITMAP);
    ck_assert_uint_eq(distinct_count(&p), 2049);
    ck_assert(!distinct_is_estimate(&p));
    for (uint32_t i = 0; i < 65536; i++)
        distinct_add(&p, i);
    ck_assert_uint_eq(distinct_count(&p), 65536);
    ck_assert(!distinct_is_estimate(&p));
    distinct_fini(&p);
}
END_TEST

/* The sets every merge and serialisation test runs over, one per mode. */
enum {
    AS_EMPTY,
    AS_INLINE,
    AS_EXACT,       /* spread IPv4, some IPv6, and 0 */
    AS_EXACT_V6,
    AS_BLOCKS,      /* three /16s */
    AS_BLOCKS_AUX,  /* two /16s, IPv6 beside */
    AS_BLOCKS_HLL,  /* one /16, more IPv6 than the exact limit */
    AS_HLL,
    AS_N,
};

enum {
    PS_EMPTY,
    PS_INLINE,
    PS_EXACT,       /* 0 among them */
    PS_BITMAP,      /* 0 added after the bitmap */
    PS_BITMAP0,     /* 0 added before */
    PS_ALL,
    PS_N,
};

static void
addr_sets(struct vset *s)
{
    memset(s, 0, AS_N * sizeof(*s));
    vs_add(&s[AS_INLINE], v4(0xc0000201));
    vs_add(&s[AS_INLINE], v4(0xc6120005));
    for (uint32_t i = 1; i <= 3000; i++)
        vs_add(&s[AS_EXACT], v4(spread_ip(i)));
    for (uint32_t i = 0; i < 100; i++)
        vs_add(&s[AS_EXACT], v6(i));
    vs_add(&s[AS_EXACT], 0);
    vs_add(&s[AS_EXACT], v4(0xc0000201));
    for (uint32_t i = 50; i < 5050; i++)
        vs_add(&s[AS_EXACT_V6], v6(i));
    for (uint32_t i = 0; i < 30000; i++)
        vs_add(&s[AS_BLOCKS], v4(0xc6120000u + (i % 3) * 0x10000u + (i * 7919u) % 65536));
    vs_add(&s[AS_BLOCKS], v4(0xc6120005));
    for (uint32_t i = 0; i < 20000; i++)
        vs_add(&s[AS_BLOCKS_AUX], v4(0xc6130000u + (i % 2) * 0x10000u + i / 2));
    for (uint32_t i = 0; i < 500; i++)
        vs_add(&s[AS_BLOCKS_AUX], v6(i * 3));
    vs_add(&s[AS_BLOCKS_AUX], 0);
    for (uint32_t i = 0; i < 20000; i++)
        vs_add(&s[AS_BLOCKS_HLL], v4(0xc6140000u + i));
    for (uint32_t i = 0; i < 15000; i++)
        vs_add(&s[AS_BLOCKS_HLL], v6(i));
    for (uint32_t i = 1; i <= 40000; i++)
        vs_add(&s[AS_HLL], v4(spread_ip(i)));
    vs_add(&s[AS_HLL], 0);
}

static void
port_sets(struct vset *s)
{
    memset(s, 0, PS_N * sizeof(*s));
    vs_add(&s[PS_INLINE], 80);
    vs_add(&s[PS_INLINE], 443);
    for (uint32_t i = 0; i < 1000; i++)
        vs_add(&s[PS_EXACT], (i * 37) % 65536);
    vs_add(&s[PS_EXACT], 80);
    for (uint32_t i = 0; i < 3000; i++)
        vs_add(&s[PS_BITMAP], 1 + (i * 101) % 65535);
    vs_add(&s[PS_BITMAP], 0);
    vs_add(&s[PS_BITMAP0], 0);
    for (uint32_t i = 0; i < 2500; i++)
        vs_add(&s[PS_BITMAP0], 30000 + i);
    for (uint32_t i = 0; i < 65536; i++)
        vs_add(&s[PS_ALL], i);
}

static void
free_sets(struct vset *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i].v);
}

/* The sets are the modes they are meant to be. */
START_TEST(test_distinct_modes)
{
    struct vset as[AS_N], ps[PS_N];
    struct distinct d;

    addr_sets(as);
    port_sets(ps);
    build(&d, false, &as[AS_INLINE]);
    ck_assert(d.mode == DISTINCT_EXACT && d.cap == 0);
    distinct_fini(&d);
    build(&d, false, &as[AS_EXACT]);
    ck_assert(d.mode == DISTINCT_EXACT && d.cap > 0);
    ck_assert_uint_eq(distinct_count(&d), true_union(&as[AS_EXACT], NULL));
    distinct_fini(&d);
    build(&d, false, &as[AS_EXACT_V6]);
    ck_assert(d.mode == DISTINCT_EXACT && d.cap > 0);
    ck_assert_uint_eq(distinct_count(&d), 5000);
    distinct_fini(&d);
    build(&d, false, &as[AS_BLOCKS]);
    ck_assert(d.mode == DISTINCT_BLOCKS && d.aux == NULL && d.n_blocks == 3);
    ck_assert_uint_eq(distinct_count(&d), true_union(&as[AS_BLOCKS], NULL));
    distinct_fini(&d);
    build(&d, false, &as[AS_BLOCKS_AUX]);
    ck_assert(d.mode == DISTINCT_BLOCKS && d.aux != NULL && d.aux->mode == DISTINCT_EXACT);
    ck_assert_uint_eq(distinct_count(&d), 20501);
    ck_assert(!distinct_is_estimate(&d));
    distinct_fini(&d);
    build(&d, false, &as[AS_BLOCKS_HLL]);
    ck_assert(d.mode == DISTINCT_BLOCKS && d.aux != NULL && d.aux->mode == DISTINCT_HLL);
    ck_assert(distinct_is_estimate(&d));
    assert_close(distinct_count(&d), 35000, "blocks+hll");
    distinct_fini(&d);
    build(&d, false, &as[AS_HLL]);
    ck_assert(d.mode == DISTINCT_HLL);
    distinct_fini(&d);

    build(&d, true, &ps[PS_INLINE]);
    ck_assert(d.mode == DISTINCT_EXACT && d.cap == 0);
    distinct_fini(&d);
    build(&d, true, &ps[PS_EXACT]);
    ck_assert(d.mode == DISTINCT_EXACT && d.cap > 0);
    ck_assert_uint_eq(distinct_count(&d), true_union(&ps[PS_EXACT], NULL));
    distinct_fini(&d);
    build(&d, true, &ps[PS_BITMAP]);
    ck_assert(d.mode == DISTINCT_BITMAP);
    ck_assert_uint_eq(distinct_count(&d), true_union(&ps[PS_BITMAP], NULL));
    distinct_fini(&d);
    build(&d, true, &ps[PS_BITMAP0]);
    ck_assert(d.mode == DISTINCT_BITMAP);
    ck_assert_uint_eq(distinct_count(&d), 2501);
    distinct_fini(&d);
    free_sets(as, AS_N);
    free_sets(ps, PS_N);
}
END_TEST

static void
merge_all(bool ports, struct vset *sets, int n)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            struct distinct a, b;
            char what[64];
            size_t u = true_union(&sets[i], &sets[j]);
            uint64_t before;
            bool was_estimate;

            build(&a, ports, &sets[i]);
            build(&b, ports, &sets[j]);
            before = distinct_count(&b);
            was_estimate = distinct_is_estimate(&a) || distinct_is_estimate(&b);
            distinct_merge(&a, &b);
            snprintf(what, sizeof(what), "%s %d <- %d", ports ? "ports" : "addresses", i, j);
            assert_count(&a, u, what);
            if (ports)
                ck_assert_msg(!distinct_is_estimate(&a), "%s: estimate", what);
            /* exact inputs with a union the exact limit holds stay exact */
            if (!was_estimate && u <= DISTINCT_EXACT_MAX)
                ck_assert_msg(!distinct_is_estimate(&a), "%s: estimate", what);
            /* the source is borrowed, unchanged */
            ck_assert_uint_eq(distinct_count(&b), before);
            /* and a value added afterwards counts once */
            distinct_add(&a, ports ? 65535 : v4(0x0a0a0a0a));
            distinct_add(&a, ports ? 65535 : v4(0x0a0a0a0a));
            distinct_fini(&a);
            distinct_fini(&b);
        }
    }
}

START_TEST(test_distinct_merge_addresses)
{
    struct vset as[AS_N];

    addr_sets(as);
    merge_all(false, as, AS_N);
    free_sets(as, AS_N);
}
END_TEST

START_TEST(test_distinct_merge_ports)
{
    struct vset ps[PS_N];

    port_sets(ps);
    merge_all(true, ps, PS_N);
    free_sets(ps, PS_N);
}
END_TEST

/* Merging into an exact counter that has the values already, value 0 included. */
START_TEST(test_distinct_merge_zero)
{
    struct distinct a, b;

    distinct_init(&a, true);
    distinct_init(&b, true);
    for (uint32_t i = 1; i <= 3000; i++)
        distinct_add(&b, i);
    distinct_add(&b, 0);
    ck_assert_uint_eq(distinct_count(&b), 3001);
    distinct_merge(&a, &b);
    ck_assert_uint_eq(distinct_count(&a), 3001);
    distinct_fini(&a);
    distinct_fini(&b);

    distinct_init(&a, false);
    distinct_init(&b, false);
    distinct_add(&b, 0);
    distinct_add(&b, v4(7));
    distinct_merge(&a, &b);
    ck_assert_uint_eq(distinct_count(&a), 2);
    distinct_fini(&a);
    distinct_fini(&b);
}
END_TEST

/* Merging sketches into a sketch holds no more memory than the sketch. */
START_TEST(test_distinct_merge_hll_memory)
{
    struct vset as[AS_N];
    struct distinct a, b, c;
    size_t before;

    addr_sets(as);
    build(&a, false, &as[AS_HLL]);
    build(&b, false, &as[AS_HLL]);
    build(&c, false, &as[AS_BLOCKS_HLL]);
    distinct_merge(&a, &b);
    distinct_merge(&a, &c);
    before = mallinfo2().uordblks;
    for (int i = 0; i < 50; i++) {
        distinct_merge(&a, &b);
        distinct_merge(&a, &c);
    }
    ck_assert_msg(mallinfo2().uordblks <= before + 4096, "heap grew by %zu bytes",
                  mallinfo2().uordblks - before);
    ck_assert_uint_eq(distinct_memory(&a), 65536);
    distinct_fini(&a);
    distinct_fini(&b);
    distinct_fini(&c);
    free_sets(as, AS_N);
}
END_TEST

static uint8_t *
serialize(const struct distinct *d, size_t *len)
{
    size_t bound = distinct_serialize_bound(d), exact = distinct_serialize(d, NULL);
    uint8_t *buf = malloc(bound + 16);

    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_le(exact, bound);
    memset(buf, 0xee, bound + 16);
    *len = distinct_serialize(d, buf);
    ck_assert_uint_eq(*len, exact);
    return buf;
}

static void
roundtrip(bool ports, const struct vset *s, const char *what)
{
    struct distinct d, c, m1, m2;
    size_t len;
    uint8_t *buf;

    build(&d, ports, s);
    buf = serialize(&d, &len);
    memset(&c, 0xa5, sizeof(c));
    ck_assert_msg(distinct_deserialize(&c, buf, len + 16) == len, "%s: consumed", what);
    ck_assert_uint_eq(c.mode, d.mode);
    ck_assert_uint_eq(c.ports, d.ports);
    ck_assert_uint_eq(distinct_count(&c), distinct_count(&d));
    ck_assert_int_eq(distinct_is_estimate(&c), distinct_is_estimate(&d));
    if (!distinct_is_estimate(&d))
        ck_assert_msg(distinct_count(&c) == true_union(s, NULL), "%s", what);
    /* read for its count alone: the same bytes, the same count, no table for an exact set */
    {
        struct distinct k;

        memset(&k, 0xa5, sizeof(k));
        ck_assert_msg(distinct_deserialize_count(&k, buf, len + 16) == len, "%s: counted", what);
        ck_assert_msg(distinct_count(&k) == distinct_count(&c), "%s: count %llu, read %llu", what,
                      (unsigned long long)distinct_count(&k),
                      (unsigned long long)distinct_count(&c));
        ck_assert_int_eq(distinct_is_estimate(&k), distinct_is_estimate(&c));
        if (buf[0] == DISTINCT_EXACT) {
            ck_assert_uint_eq(k.mode, DISTINCT_COUNTED);
            ck_assert_uint_eq(distinct_memory(&k), 0);
        } else {
            ck_assert_uint_eq(k.mode, c.mode);
        }
        distinct_fini(&k);
    }
    /* the copy merges as the original does */
    distinct_init(&m1, ports);
    distinct_init(&m2, ports);
    distinct_merge(&m1, &c);
    distinct_merge(&m2, &d);
    ck_assert_msg(distinct_count(&m1) == distinct_count(&m2), "%s: merged copy %llu, "
                  "original %llu", what, (unsigned long long)distinct_count(&m1),
                  (unsigned long long)distinct_count(&m2));
    assert_count(&m1, true_union(s, NULL), what);
    distinct_merge(&m1, &d);
    ck_assert_uint_eq(distinct_count(&m1), distinct_count(&m2));
    if (!distinct_is_estimate(&d)) {
        ck_assert_uint_eq(distinct_count(&m1), distinct_count(&d));
        distinct_merge(&d, &c);
        ck_assert_uint_eq(distinct_count(&d), distinct_count(&c));
    }
    /* a copy of the copy is byte for byte the same */
    {
        size_t len2;
        uint8_t *buf2 = serialize(&c, &len2);

        ck_assert_uint_eq(len2, len);
        ck_assert_msg(memcmp(buf, buf2, len) == 0, "%s: second serialisation differs", what);
        free(buf2);
    }
    distinct_fini(&m1);
    distinct_fini(&m2);
    distinct_fini(&c);
    distinct_fini(&d);
    free(buf);
}

START_TEST(test_distinct_serialize_roundtrip)
{
    struct vset as[AS_N], ps[PS_N];
    char what[32];

    addr_sets(as);
    port_sets(ps);
    for (int i = 0; i < AS_N; i++) {
        snprintf(what, sizeof(what), "addresses %d", i);
        roundtrip(false, &as[i], what);
    }
    for (int i = 0; i < PS_N; i++) {
        snprintf(what, sizeof(what), "ports %d", i);
        roundtrip(true, &ps[i], what);
    }
    free_sets(as, AS_N);
    free_sets(ps, PS_N);
}
END_TEST

static void
expect_rejected(const uint8_t *buf, size_t len, const char *what)
{
    struct distinct d;

    memset(&d, 0, sizeof(d));
    ck_assert_msg(distinct_deserialize(&d, buf, len) == 0, "%s: %zu bytes accepted", what, len);
    ck_assert_msg(distinct_deserialize_count(&d, buf, len) == 0, "%s: %zu bytes counted", what,
                  len);
}

/* Every truncation of every mode's serialisation is refused. */
START_TEST(test_distinct_deserialize_truncated)
{
    struct vset as[AS_N], ps[PS_N];

    addr_sets(as);
    port_sets(ps);
    for (int k = 0; k < AS_N + PS_N; k++) {
        bool ports = k >= AS_N;
        struct distinct d;
        size_t len, aux_at;
        uint8_t *buf;
        char what[32];

        build(&d, ports, ports ? &ps[k - AS_N] : &as[k]);
        buf = serialize(&d, &len);
        snprintf(what, sizeof(what), "set %d", k);
        aux_at = 8 + (size_t)d.n_blocks * (2 + 8192);
        for (size_t l = 0; l < len; l++) {
            if (len > 4096 && l > 64 && l + 64 < len && (l < aux_at - 4 || l > aux_at + 12) &&
                l % 509 != 0)
                continue;
            expect_rejected(buf, l, what);
        }
        distinct_fini(&d);
        free(buf);
    }
    free_sets(as, AS_N);
    free_sets(ps, PS_N);
}
END_TEST

/* Leaves a freed heap chunk the size of struct distinct full of 0xa5. */
static void
dirty_heap(void)
{
    void *p[4];

    for (int i = 0; i < 4; i++) {
        p[i] = malloc(sizeof(struct distinct));
        ck_assert_ptr_nonnull(p[i]);
        memset(p[i], 0xa5, sizeof(struct distinct));
    }
    for (int i = 3; i >= 0; i--)
        free(p[i]);
}

START_TEST(test_distinct_deserialize_garbage)
{
    uint8_t *buf = calloc(1, 8 + 3 * 8194 + 70000);
    struct distinct d;
    size_t len;

    ck_assert_ptr_nonnull(buf);
    /* header: mode, ports, has_zero, n_blocks, n (little endian) */
    memcpy(buf, "\x04\x00\x00\x00\x00\x00\x00\x00", 8);
    expect_rejected(buf, 8, "mode 4");
    memcpy(buf, "\x00\x02\x00\x00\x00\x00\x00\x00", 8);
    expect_rejected(buf, 8, "ports 2");
    memcpy(buf, "\x00\x00\x02\x00\x00\x00\x00\x00", 8);
    expect_rejected(buf, 8, "has_zero 2");
    /* exact: three values announced, two given */
    memcpy(buf, "\x00\x00\x00\x00\x03\x00\x00\x00\x05\x01", 10);
    expect_rejected(buf, 10, "exact short");
    /* exact: a repeated value (delta 0) */
    memcpy(buf, "\x00\x00\x00\x00\x02\x00\x00\x00\x05\x00", 10);
    expect_rejected(buf, 10, "exact delta 0");
    /* exact: deltas that pass 64 bits come back to a value given before */
    memcpy(buf, "\x00\x00\x00\x00\x02\x00\x00\x00\x05\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 19);
    expect_rejected(buf, 19, "exact past 64 bits");
    /* ports: a value past 65535 */
    memcpy(buf, "\x00\x01\x00\x00\x02\x00\x00\x00\x05\x80\x80\x04", 12);
    expect_rejected(buf, 12, "port 65541");
    buf[11] = 0x03;
    memset(&d, 0, sizeof(d));
    ck_assert_uint_eq(distinct_deserialize(&d, buf, 12), 12);
    ck_assert_uint_eq(distinct_count(&d), 2);
    distinct_fini(&d);
    /* exact: more values than an exact set holds */
    memcpy(buf, "\x00\x00\x00\x00\x01\x30\x00\x00", 8);
    memset(buf + 8, 0x01, DISTINCT_EXACT_MAX + 1);
    expect_rejected(buf, 8 + DISTINCT_EXACT_MAX + 1, "exact too many");
    /* exact: a varint that never ends */
    memcpy(buf, "\x00\x00\x00\x00\x01\x00\x00\x00", 8);
    memset(buf + 8, 0xff, 20);
    expect_rejected(buf, 28, "varint");
    /* HLL: registers above 64 - p + 1 do not exist */
    memcpy(buf, "\x01\x00\x00\x00\x00\x00\x00\x00", 8);
    memset(buf + 8, 0xc8, 65536);
    expect_rejected(buf, 8 + 65536, "hll registers");
    memset(buf + 8, 0, 65536);
    buf[8 + 1234] = 64 - DISTINCT_HLL_P + 2;
    expect_rejected(buf, 8 + 65536, "hll register 50");
    /* blocks: none, too many, an aux flag of 2 */
    memset(buf + 8, 0, 3 * 8194);
    memcpy(buf, "\x03\x00\x00\x00\x00\x00\x00\x00", 8);
    expect_rejected(buf, 8 + 3 * 8194, "0 blocks");
    memcpy(buf, "\x03\x00\x00\x11\x00\x00\x00\x00", 8);
    expect_rejected(buf, 8 + 3 * 8194, "17 blocks");
    memcpy(buf, "\x03\x00\x00\x01\x02\x00\x00\x00", 8);
    expect_rejected(buf, 8 + 3 * 8194, "aux 2");
    /* blocks with an auxiliary counter cut short, of ports, or of blocks */
    memcpy(buf, "\x03\x00\x00\x01\x01\x00\x00\x00", 8);
    for (size_t l = 0; l < 8; l++) {
        dirty_heap();
        expect_rejected(buf, 8 + 8194 + l, "aux cut short");
    }
    memcpy(buf + 8 + 8194, "\x00\x01\x00\x00\x00\x00\x00\x00", 8);
    expect_rejected(buf, 8 + 8194 + 8, "aux of ports");
    memcpy(buf + 8 + 8194, "\x03\x00\x00\x01\x00\x00\x00\x00", 8);
    memset(buf + 8 + 8194 + 8, 0, 8194);
    expect_rejected(buf, 8 + 2 * 8194 + 8, "aux of blocks");
    /* and a valid one to show the layout is right */
    memcpy(buf + 8 + 8194, "\x00\x00\x00\x00\x01\x00\x00\x00\x05", 9);
    buf[8] = 0x12;
    buf[9] = 0xc6;
    buf[10] = 0x01;
    memset(&d, 0, sizeof(d));
    len = distinct_deserialize(&d, buf, 8 + 8194 + 9);
    ck_assert_uint_eq(len, 8 + 8194 + 9);
    ck_assert_uint_eq(distinct_count(&d), 2);
    distinct_fini(&d);
    free(buf);
}
END_TEST

/* Random bytes and damaged serialisations: refused or read, never a crash. */
START_TEST(test_distinct_deserialize_fuzz)
{
    struct vset as[AS_N];
    uint8_t small[128];
    long accepted = 0;

    rng_seed(99);
    for (int i = 0; i < 20000; i++) {
        struct distinct d;
        size_t len = (size_t)rng_below(sizeof(small) + 1);

        for (size_t j = 0; j < sizeof(small); j++)
            small[j] = (uint8_t)rng_next();
        small[0] = (uint8_t)rng_below(5);
        small[1] = (uint8_t)rng_below(2);
        small[2] = (uint8_t)rng_below(2);
        small[4] = (uint8_t)rng_below(20);
        small[5] = small[6] = small[7] = 0;
        memset(&d, 0, sizeof(d));
        {
            struct distinct k;
            size_t used = distinct_deserialize(&d, small, len);

            /* the count-only reader takes what the whole one does, and counts the same */
            memset(&k, 0, sizeof(k));
            ck_assert_uint_eq(distinct_deserialize_count(&k, small, len), used);
            if (used != 0) {
                accepted++;
                ck_assert_uint_le(distinct_count(&d), 21);
                ck_assert_uint_eq(distinct_count(&k), distinct_count(&d));
                distinct_fini(&d);
                distinct_fini(&k);
            }
        }
    }
    ck_assert_int_gt(accepted, 0);

    addr_sets(as);
    for (int k = 0; k < AS_N; k++) {
        struct distinct d;
        size_t len;
        uint8_t *buf;

        build(&d, false, &as[k]);
        buf = serialize(&d, &len);
        distinct_fini(&d);
        for (int i = 0; i < 200; i++) {
            size_t at = (size_t)rng_below(len < 64 ? len : 64 + rng_below(len - 63));
            uint8_t old = buf[at];

            buf[at] ^= (uint8_t)(1 + rng_below(255));
            memset(&d, 0, sizeof(d));
            if (distinct_deserialize(&d, buf, len) != 0) {
                (void)distinct_count(&d);
                distinct_fini(&d);
            }
            buf[at] = old;
        }
        free(buf);
    }
    free_sets(as, AS_N);
}
END_TEST

/* A set read for its count alone takes no value: a caller that tries has a bug, and dies. */
START_TEST(test_distinct_counted_takes_no_value)
{
    static const uint8_t buf[] = {0, 0, 0, 0, 1, 0, 0, 0, 5};
    struct distinct d;

    log_set_level(LOG_EMERG);
    ck_assert_uint_eq(distinct_deserialize_count(&d, buf, sizeof(buf)), sizeof(buf));
    ck_assert_uint_eq(distinct_count(&d), 1);
    distinct_add(&d, 7);
}
END_TEST

/* ---- detail.c ------------------------------------------------------------- */

START_TEST(test_detail_types)
{
    struct detail *d = detail_new();
    struct flow f;
    char buf[PTYPE_STRLEN];

    ck_assert_uint_eq(detail_dominant_type(d), 0);
    f = tu_flow(1000, 5, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1, 23);
    f.tcp_flags = 0x02;
    detail_add(d, &f, 5);
    detail_add(d, &f, 3);
    f = tu_flow(1000, 4, "198.51.100.1", "192.0.2.1", PROTO_UDP, 1, 53);
    detail_add(d, &f, 4);
    f = tu_flow(1000, 8, "198.51.100.1", "192.0.2.1", PROTO_ICMP, 0, 0);
    f.icmp_type = 8;
    detail_add(d, &f, 8);
    /* TCP SYN 8 and ICMP echo-request 8: the lower type wins the tie */
    ck_assert_uint_eq(d->n_types, 3);
    ck_assert_uint_eq(detail_dominant_type(d), ptype_of(PROTO_TCP, 0x02, 0));
    ck_assert_str_eq(ptype_format(detail_dominant_type(d), buf), "TCP SYN");
    /* the packets given count, not the flow's own */
    f = tu_flow(1000, 1000, "198.51.100.1", "192.0.2.1", PROTO_UDP, 1, 53);
    detail_add(d, &f, 5);
    ck_assert_str_eq(ptype_format(detail_dominant_type(d), buf), "UDP");
    /* many types: past the inline ones */
    for (uint8_t fl = 1; fl < 40; fl++) {
        f = tu_flow(1000, 1, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1, 23);
        f.tcp_flags = fl;
        detail_add(d, &f, fl == 0x12 ? 10 : 1);
    }
    ck_assert_uint_eq(d->n_types, 3 + 38);
    ck_assert_str_eq(ptype_format(detail_dominant_type(d), buf), "TCP SYN/ACK");
    {
        const struct type_count *t = d->cap_types ? d->types : d->inl;
        uint64_t total = 0;

        for (uint32_t i = 0; i < d->n_types; i++) {
            total += t[i].packets;
            if (t[i].type == ptype_of(PROTO_TCP, 0x02, 0))
                ck_assert_uint_eq(t[i].packets, 9);
        }
        ck_assert_uint_eq(total, 8 + 4 + 8 + 5 + 38 + 10);
    }
    detail_free(d);
    detail_free(NULL);
}
END_TEST

START_TEST(test_detail_first_last)
{
    struct detail *d = detail_new();
    struct flow f = tu_flow(5000, 1, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1, 23);

    f.end_ms = 9000;
    detail_add(d, &f, 1);
    f.start_ms = 3000;
    f.end_ms = 4000;
    detail_add(d, &f, 1);
    f.start_ms = 6000;
    f.end_ms = 12000;
    detail_add(d, &f, 1);
    ck_assert_int_eq(d->first_ms, 3000);
    ck_assert_int_eq(d->last_ms, 12000);
    detail_free(d);
}
END_TEST

START_TEST(test_detail_distinct)
{
    struct detail *d = detail_new();
    struct flow f;

    f = tu_flow(1000, 1, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1000, 80);
    detail_add(d, &f, 1);
    f = tu_flow(1000, 1, "198.51.100.2", "192.0.2.1", PROTO_UDP, 1000, 80);
    detail_add(d, &f, 1);
    f = tu_flow(1000, 1, "198.51.100.1", "192.0.2.2", PROTO_TCP, 1000, 443);
    detail_add(d, &f, 1);
    f = tu_flow(1000, 1, "198.51.100.3", "192.0.2.2", PROTO_TCP, 1000, 0);
    detail_add(d, &f, 1);
    /* no ports: not counted as destination ports */
    f = tu_flow(1000, 1, "2001:db8::1", "2001:db8:bad::1", PROTO_ICMPV6, 0, 0x8000);
    detail_add(d, &f, 1);
    f = tu_flow(1000, 1, "198.51.100.1", "192.0.2.1", 47, 1, 1234);
    detail_add(d, &f, 1);
    f = tu_flow(1000, 1, "198.51.100.1", "192.0.2.1", PROTO_ICMP, 0, 0x0800);
    detail_add(d, &f, 1);
    ck_assert_uint_eq(distinct_count(&d->src), 4);
    ck_assert_uint_eq(distinct_count(&d->dst), 3);
    ck_assert_uint_eq(distinct_count(&d->dport), 3);   /* 80, 443, 0 */
    ck_assert_uint_gt(detail_memory(d), sizeof(*d) - 1);
    detail_free(d);
}
END_TEST

START_TEST(test_detail_merge)
{
    struct detail *a = detail_new(), *b = detail_new();
    struct flow f;
    char buf[PTYPE_STRLEN];

    f = tu_flow(5000, 1, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1000, 80);
    f.tcp_flags = 0x02;
    f.end_ms = 6000;
    detail_add(a, &f, 10);
    f = tu_flow(2000, 1, "198.51.100.2", "192.0.2.1", PROTO_UDP, 1000, 53);
    f.end_ms = 2500;
    detail_add(b, &f, 7);
    f = tu_flow(7000, 1, "198.51.100.1", "192.0.2.9", PROTO_UDP, 1000, 80);
    f.end_ms = 8000;
    detail_add(b, &f, 7);
    detail_merge(a, b);
    ck_assert_uint_eq(distinct_count(&a->src), 2);
    ck_assert_uint_eq(distinct_count(&a->dst), 2);
    ck_assert_uint_eq(distinct_count(&a->dport), 2);
    ck_assert_int_eq(a->first_ms, 2000);
    ck_assert_int_eq(a->last_ms, 8000);
    ck_assert_uint_eq(a->n_types, 2);
    ck_assert_str_eq(ptype_format(detail_dominant_type(a), buf), "UDP");
    /* b is unchanged */
    ck_assert_uint_eq(b->n_types, 1);
    ck_assert_int_eq(b->first_ms, 2000);
    ck_assert_uint_eq(distinct_count(&b->src), 2);
    /* merging an empty detail changes nothing */
    detail_free(b);
    b = detail_new();
    detail_merge(a, b);
    ck_assert_int_eq(a->first_ms, 2000);
    ck_assert_int_eq(a->last_ms, 8000);
    ck_assert_uint_eq(a->n_types, 2);
    detail_free(a);
    detail_free(b);
}
END_TEST

static struct detail *
detail_roundtrip(const struct detail *d)
{
    size_t bound = detail_serialize_bound(d), len;
    uint8_t *buf = malloc(bound + 8);
    struct detail *c;

    ck_assert_ptr_nonnull(buf);
    len = detail_serialize(d, buf);
    ck_assert_uint_le(len, bound);
    c = detail_deserialize(buf, len);
    ck_assert_ptr_nonnull(c);
    free(buf);
    return c;
}

START_TEST(test_detail_serialize_roundtrip)
{
    struct detail *d = detail_new(), *c;
    struct flow f;

    /* empty */
    c = detail_roundtrip(d);
    ck_assert_int_eq(c->first_ms, INT64_MAX);
    ck_assert_int_eq(c->last_ms, INT64_MIN);
    ck_assert_uint_eq(c->n_types, 0);
    ck_assert_uint_eq(distinct_count(&c->src), 0);
    detail_free(c);

    /* heap types, an exact source set, block destinations, a port bitmap */
    for (uint32_t i = 0; i < 30000; i++) {
        char src[32], dst[32];

        snprintf(src, sizeof(src), "198.51.%u.%u", (i % 40) / 256, i % 40);
        snprintf(dst, sizeof(dst), "198.18.%u.%u", (i / 256) % 256, i % 256);
        f = tu_flow(1000 + i, 1, src, dst, PROTO_TCP, 1000, (uint16_t)(i % 3000));
        f.tcp_flags = (uint8_t)(i % 12);
        f.end_ms = 5000000 + i;
        detail_add(d, &f, 1 + i % 5);
    }
    f = tu_flow(999, 1, "2001:db8::1", "2001:db8:bad::1", PROTO_ICMPV6, 0, 0);
    f.icmp_type = 128;
    detail_add(d, &f, UINT64_C(1) << 40);
    ck_assert_uint_eq(d->dst.mode, DISTINCT_BLOCKS);
    ck_assert_uint_eq(d->dport.mode, DISTINCT_BITMAP);
    ck_assert_uint_gt(d->cap_types, 0);
    c = detail_roundtrip(d);
    ck_assert_int_eq(c->first_ms, d->first_ms);
    ck_assert_int_eq(c->last_ms, d->last_ms);
    ck_assert_int_eq(c->first_ms, 999);
    ck_assert_int_eq(c->last_ms, 5000000 + 29999);
    ck_assert_uint_eq(c->n_types, 13);
    ck_assert_uint_eq(detail_dominant_type(c), detail_dominant_type(d));
    ck_assert_uint_eq(detail_dominant_type(c), ptype_of(PROTO_ICMPV6, 0, 128));
    ck_assert_uint_eq(distinct_count(&c->src), 41);
    ck_assert_uint_eq(distinct_count(&c->dst), 30001);
    ck_assert_uint_eq(distinct_count(&c->dport), 3000);
    assert_detail_eq(c, d);
    detail_free(c);
    detail_free(d);
}
END_TEST

START_TEST(test_detail_deserialize_garbage)
{
    struct detail *d = detail_new();
    struct flow f = tu_flow(5000, 1, "198.51.100.1", "192.0.2.1", PROTO_TCP, 1000, 80);
    uint8_t buf[4096], junk[256];
    size_t len;

    for (uint32_t i = 0; i < 20; i++) {
        f.src_value = v4(0xc6330000u + i);
        f.dst_port = (uint16_t)(i * 7);
        detail_add(d, &f, 1);
    }
    ck_assert_uint_le(detail_serialize_bound(d), sizeof(buf));
    len = detail_serialize(d, buf);
    /* every truncation */
    for (size_t l = 0; l < len; l++)
        ck_assert_msg(detail_deserialize(buf, l) == NULL, "%zu of %zu bytes accepted", l, len);
    /* a wrong magic */
    buf[0] ^= 0xff;
    ck_assert_ptr_null(detail_deserialize(buf, len));
    buf[0] ^= 0xff;
    /* more types than the buffer holds, and an absurd count */
    buf[20] = 0xff;
    ck_assert_ptr_null(detail_deserialize(buf, len));
    buf[20] = 0;
    buf[22] = 0x02;
    ck_assert_ptr_null(detail_deserialize(buf, len));
    buf[22] = 0;
    buf[20] = 1;
    /* the valid magic and header, then garbage counters */
    ck_assert_ptr_null(detail_deserialize(buf, 34));
    memset(buf + 34, 0x77, 200);
    ck_assert_ptr_null(detail_deserialize(buf, 234));
    /* random bytes behind a valid magic: refused or read, never a crash */
    rng_seed(5);
    for (int i = 0; i < 5000; i++) {
        struct detail *x;

        for (size_t j = 0; j < sizeof(junk); j++)
            junk[j] = (uint8_t)rng_next();
        memcpy(junk, buf, 4);
        junk[20] = (uint8_t)rng_below(3);
        junk[21] = junk[22] = junk[23] = 0;
        junk[44] = (uint8_t)rng_below(5);
        junk[45] = (uint8_t)rng_below(2);
        junk[46] = (uint8_t)rng_below(2);
        x = detail_deserialize(junk, (size_t)rng_below(sizeof(junk) + 1));
        if (x != NULL) {
            (void)detail_dominant_type(x);
            (void)distinct_count(&x->src);
            detail_free(x);
        }
    }
    ck_assert_ptr_null(detail_deserialize(junk, 0));
    detail_free(d);
}
END_TEST

/* ---- the suite ------------------------------------------------------------- */

/* Every test starts in UTC, whatever the one before applied (CK_FORK=no). */
/* ---- drill-down: top lists and packets per minute (issue 7) ---- */

static const char *
fmt_addr(const struct addr *a)
{
    static char buf[ADDR_STRLEN];

    return addr_format(a, buf);
}

START_TEST(test_detail_top_lists)
{
    struct detail *d = detail_new_in(NULL, T0, T0 + 3600);
    struct detail_item it[8];
    struct flow f;
    bool exact;
    uint64_t err;

    f = tu_flow(MS(T0 + 10), 10, "198.51.100.1", "198.18.0.1", PROTO_UDP, 53, 2849);
    detail_add(d, &f, 10);
    f = tu_flow(MS(T0 + 20), 3, "198.51.100.2", "198.18.0.2", PROTO_UDP, 53, 2849);
    detail_add(d, &f, 3);
    f = tu_flow(MS(T0 + 30), 4, "198.51.100.1", "198.18.0.2", PROTO_TCP, 40000, 23);
    detail_add(d, &f, 4);
    /* ICMP: a source and a destination, no source port */
    f = tu_flow(MS(T0 + 40), 6, "2001:db8::9", "198.18.0.3", PROTO_ICMP, 0, 0);
    detail_add(d, &f, 6);
    ck_assert(detail_has_lists(d));

    ck_assert_uint_eq(detail_top_sources(d, it, 8, &exact, &err), 3);
    ck_assert(exact);
    ck_assert_uint_eq(err, 0);
    ck_assert_str_eq(fmt_addr(&it[0].addr), "198.51.100.1");
    ck_assert_uint_eq(it[0].packets, 14);
    ck_assert_str_eq(fmt_addr(&it[1].addr), "2001:db8::9");
    ck_assert_uint_eq(it[1].packets, 6);
    ck_assert_str_eq(fmt_addr(&it[2].addr), "198.51.100.2");
    ck_assert_uint_eq(it[2].packets, 3);
    /* at most max */
    ck_assert_uint_eq(detail_top_sources(d, it, 1, &exact, &err), 1);
    ck_assert(exact);

    ck_assert_uint_eq(detail_top_sports(d, it, 8, &exact, &err), 2);
    ck_assert(exact);
    ck_assert_uint_eq(it[0].port, 53);
    ck_assert_uint_eq(it[0].packets, 13);
    ck_assert_uint_eq(it[1].port, 40000);
    ck_assert_uint_eq(it[1].packets, 4);

    ck_assert_uint_eq(detail_top_dsts(d, it, 8, &exact, &err), 3);
    ck_assert(exact);
    ck_assert_str_eq(fmt_addr(&it[0].addr), "198.18.0.1");
    ck_assert_uint_eq(it[0].packets, 10);
    ck_assert_str_eq(fmt_addr(&it[1].addr), "198.18.0.2");
    ck_assert_uint_eq(it[1].packets, 7);
    ck_assert_str_eq(fmt_addr(&it[2].addr), "198.18.0.3");
    detail_free(d);
}
END_TEST

/* Capacities from drilldown.*: a 2-entry source list is exact for 2 sources, then not. */
START_TEST(test_detail_capacities)
{
    struct cfg_drilldown dd = {.sources = 2, .ports = 1, .destinations = 1,
                               .series_memory = 1 << 20};
    struct detail *d = detail_new_in(&dd, T0, T0 + 86400);
    struct detail_item it[4];
    struct flow f;
    bool exact;
    uint64_t err;

    f = tu_flow(MS(T0), 100, "198.51.100.1", "198.18.0.1", PROTO_UDP, 53, 1);
    detail_add(d, &f, 100);
    f = tu_flow(MS(T0), 50, "198.51.100.2", "198.18.0.1", PROTO_UDP, 53, 1);
    detail_add(d, &f, 50);
    ck_assert_uint_eq(detail_top_sources(d, it, 4, &exact, &err), 2);
    ck_assert(exact);
    f = tu_flow(MS(T0), 1, "198.51.100.3", "198.18.0.1", PROTO_UDP, 53, 1);
    detail_add(d, &f, 1);
    /* the new source took the place of the smallest (50): 51, error 50 */
    ck_assert_uint_eq(detail_top_sources(d, it, 4, &exact, &err), 2);
    ck_assert(!exact);
    ck_assert_uint_eq(err, 50);
    ck_assert_str_eq(fmt_addr(&it[0].addr), "198.51.100.1");
    ck_assert_uint_eq(it[0].packets, 100);
    ck_assert_str_eq(fmt_addr(&it[1].addr), "198.51.100.3");
    ck_assert_uint_eq(it[1].packets, 51);
    /* the largest alone is still exact: nothing left out has more */
    ck_assert_uint_eq(detail_top_sources(d, it, 1, &exact, &err), 1);
    ck_assert(exact);
    detail_free(d);
}
END_TEST

START_TEST(test_detail_minutes)
{
    struct detail *d = detail_new_in(NULL, T0, T0 + 3600);
    uint64_t m[60], two[2], total = 0;
    struct flow f = tu_flow(MS(T0 + 30), 1, "198.51.100.1", "198.18.0.1", PROTO_UDP, 1, 2);
    bool exact;

    detail_add(d, &f, 5);                       /* minute 0 */
    f.start_ms = MS(T0 + 61);
    detail_add(d, &f, 7);                       /* minute 1 */
    f.start_ms = MS(T0 + 3599);
    detail_add(d, &f, 2);                       /* minute 59 */
    f.start_ms = MS(T0 + 90);
    detail_add(d, &f, 1);                       /* minute 1, out of order */
    f.start_ms = MS(T0 - 300);
    detail_add(d, &f, 4);                       /* before the slot: clamped to minute 0 */
    f.start_ms = MS(T0 + 7200);
    detail_add(d, &f, 3);                       /* after: clamped to minute 59 */
    f.start_ms = MS(T0 + 1800);
    detail_add(d, &f, 0);                       /* nothing */
    ck_assert(detail_minutes(d, T0, 60, m, &exact));
    ck_assert(exact);
    ck_assert_uint_eq(m[0], 9);
    ck_assert_uint_eq(m[1], 8);
    ck_assert_uint_eq(m[59], 5);
    for (int i = 0; i < 60; i++)
        total += m[i];
    ck_assert_uint_eq(total, 22);
    /* another window: minutes 1 and 2 */
    ck_assert(detail_minutes(d, T0 + 60, 2, two, &exact));
    ck_assert_uint_eq(two[0], 8);
    ck_assert_uint_eq(two[1], 0);
    detail_free(d);
    /* a detail made without a slot keeps no series */
    d = detail_new();
    detail_add(d, &f, 3);
    ck_assert(!detail_minutes(d, T0, 60, m, &exact));
    ck_assert(!exact);
    detail_free(d);
}
END_TEST

/*
 * The detail of a group counted on a cluster's shards (detail_add_source()
 * and the others: one call per distinct value with its packets) equals the
 * one counted flow by flow: distinct counts, types, first and last, top
 * lists, minutes.  The values are given in another order than the flows'.
 */
START_TEST(test_detail_counted_elsewhere)
{
    enum { FLOWS = 3000, SRCS = 40, DSTS = 200, SPORTS = 50 };
    struct cfg_drilldown dd = {.sources = 64, .ports = 64, .destinations = 256,
                               .series_memory = 1 << 20};
    struct detail *d1 = detail_new_in(&dd, T0, T0 + 3600);
    struct detail *d2 = detail_new_in(&dd, T0, T0 + 3600);
    static uint64_t src_pk[SRCS], dst_pk[DSTS], sport_pk[65536], type_pk[256][256], min_pk[60];
    static bool dport_seen[65536], src_seen[SRCS], dst_seen[DSTS];
    char src[SRCS][48], dst[DSTS][48];
    struct detail_item a[256], b[256];
    uint64_t m1[60], m2[60], x = 12345, err;
    int64_t first = INT64_MAX, last = INT64_MIN;
    bool e1, e2;
    size_t n1, n2;

    memset(src_pk, 0, sizeof(src_pk));
    memset(dst_pk, 0, sizeof(dst_pk));
    memset(sport_pk, 0, sizeof(sport_pk));
    memset(type_pk, 0, sizeof(type_pk));
    memset(min_pk, 0, sizeof(min_pk));
    memset(dport_seen, 0, sizeof(dport_seen));
    memset(src_seen, 0, sizeof(src_seen));
    memset(dst_seen, 0, sizeof(dst_seen));
    for (int i = 0; i < SRCS; i++)
        snprintf(src[i], sizeof(src[i]), i % 7 == 0 ? "2001:db8::%x" : "203.0.113.%d", i + 1);
    for (int i = 0; i < DSTS; i++)
        snprintf(dst[i], sizeof(dst[i]), "198.18.%d.%d", i / 100, i % 100);
    for (int i = 0; i < FLOWS; i++) {
        static const uint8_t protos[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP};
        int s, t;
        uint8_t p;
        struct flow f;

        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        s = (int)(x >> 33) % SRCS;
        t = (int)(x >> 45) % DSTS;
        p = protos[(x >> 20) % 3];
        f = tu_flow(MS(T0) + (int64_t)((x >> 8) % 3600000), 1 + (x >> 40) % 5, src[s], dst[t], p,
                    p == PROTO_ICMP ? 0 : (uint16_t)(1024 + (x >> 28) % SPORTS),
                    p == PROTO_ICMP ? 0 : (uint16_t)(1 + (x >> 36) % 30));
        f.end_ms = f.start_ms + (int64_t)((x >> 12) % 5000);
        f.tcp_flags = p == PROTO_TCP ? (uint8_t)((x >> 50) % 2 ? 0x02 : 0x12) : 0;
        f.icmp_type = p == PROTO_ICMP ? (uint8_t)((x >> 50) % 2 ? 8 : 0) : 0;
        detail_add(d1, &f, f.packets);
        src_pk[s] += f.packets;
        src_seen[s] = true;
        dst_pk[t] += f.packets;
        dst_seen[t] = true;
        if (proto_has_ports(p)) {
            sport_pk[f.src_port] += f.packets;
            dport_seen[f.dst_port] = true;
        }
        type_pk[p][p == PROTO_ICMP ? f.icmp_type : f.tcp_flags] += f.packets;
        min_pk[(f.start_ms - MS(T0)) / 60000] += f.packets;
        first = f.start_ms < first ? f.start_ms : first;
        last = f.end_ms > last ? f.end_ms : last;
    }
    /* backwards: not the flows' order */
    detail_add_span(d2, first, last);
    for (int i = 59; i >= 0; i--)
        if (min_pk[i] > 0)
            detail_add_minute(d2, (uint64_t)i, min_pk[i]);
    for (int i = SRCS - 1; i >= 0; i--) {
        struct addr ad;

        ck_assert_int_eq(addr_parse(src[i], &ad), 0);
        if (src_seen[i])
            detail_add_source(d2, &ad, src_pk[i], true);
    }
    for (int i = DSTS - 1; i >= 0; i--) {
        struct addr ad;

        ck_assert_int_eq(addr_parse(dst[i], &ad), 0);
        if (dst_seen[i])
            detail_add_destination(d2, &ad, dst_pk[i], true);
    }
    for (int i = 65535; i >= 0; i--) {
        if (sport_pk[i] > 0)
            detail_add_sport(d2, (uint16_t)i, sport_pk[i], true);
        if (dport_seen[i])
            detail_add_dport(d2, (uint16_t)i);
    }
    for (int p = 0; p < 256; p++)
        for (int v = 255; v >= 0; v--)
            if (type_pk[p][v] > 0)
                detail_add_type(d2, (uint8_t)p, p == PROTO_ICMP ? 0 : (uint8_t)v,
                                p == PROTO_ICMP ? (uint8_t)v : 0, type_pk[p][v]);

    ck_assert_uint_eq(distinct_count(&d1->src), distinct_count(&d2->src));
    ck_assert_uint_eq(distinct_count(&d1->dst), distinct_count(&d2->dst));
    ck_assert_uint_eq(distinct_count(&d1->dport), distinct_count(&d2->dport));
    ck_assert_uint_eq(distinct_count(&d2->dport), 30);
    ck_assert_uint_eq(d1->first_ms, d2->first_ms);
    ck_assert_uint_eq(d1->last_ms, d2->last_ms);
    ck_assert_uint_eq(d1->n_types, d2->n_types);
    ck_assert_uint_eq(detail_dominant_type(d1), detail_dominant_type(d2));
    n1 = detail_top_sources(d1, a, 256, &e1, &err);
    n2 = detail_top_sources(d2, b, 256, &e2, &err);
    ck_assert_uint_eq(n1, SRCS);
    ck_assert(e1 && e2 && n1 == n2 && memcmp(a, b, n1 * sizeof(a[0])) == 0);
    n1 = detail_top_dsts(d1, a, 256, &e1, &err);
    n2 = detail_top_dsts(d2, b, 256, &e2, &err);
    ck_assert(e1 && e2 && n1 == n2 && memcmp(a, b, n1 * sizeof(a[0])) == 0);
    n1 = detail_top_sports(d1, a, 256, &e1, &err);
    n2 = detail_top_sports(d2, b, 256, &e2, &err);
    ck_assert_uint_eq(n1, SPORTS);
    ck_assert(e1 && e2 && n1 == n2 && memcmp(a, b, n1 * sizeof(a[0])) == 0);
    ck_assert(detail_minutes(d1, T0, 60, m1, &e1) && detail_minutes(d2, T0, 60, m2, &e2));
    ck_assert(e1 && e2 && memcmp(m1, m2, sizeof(m1)) == 0);
    detail_free(d1);
    detail_free(d2);
}
END_TEST

/*
 * A value given in parts (a key of several tuples on the shards: TCP's and
 * UDP's port 23) is counted part by part, as flows are: the list says it
 * is not exact, and bounds the value's count; given as if whole, each part
 * would be left out and the list said exact without it.
 */
START_TEST(test_detail_counted_in_parts)
{
    struct cfg_drilldown dd = {.sources = 2, .ports = 2, .destinations = 2,
                               .series_memory = 1 << 20};
    struct detail *d = detail_new_in(&dd, T0, T0 + 3600);
    struct detail_item it[4];
    struct addr x, y, z;
    bool exact;
    uint64_t err;
    size_t n;

    ck_assert_int_eq(addr_parse("203.0.113.1", &x), 0);
    ck_assert_int_eq(addr_parse("203.0.113.2", &y), 0);
    ck_assert_int_eq(addr_parse("203.0.113.3", &z), 0);
    detail_add_source(d, &x, 10, true);
    detail_add_source(d, &y, 10, true);
    detail_add_source(d, &z, 8, false);
    detail_add_source(d, &z, 8, false);
    n = detail_top_sources(d, it, 2, &exact, &err);
    ck_assert_uint_eq(n, 2);
    ck_assert(!exact);
    ck_assert_str_eq(fmt_addr(&it[0].addr), "203.0.113.3");
    /* its true 16 within [count - err, count] */
    ck_assert_uint_ge(it[0].packets, 16);
    ck_assert_uint_le(it[0].packets - err, 16);
    ck_assert_uint_eq(distinct_count(&d->src), 3);
    detail_free(d);
}
END_TEST

/* A detail with lists (one past capacity), IPv6 and a series. */
static struct detail *
busy_detail(void)
{
    struct cfg_drilldown dd = {.sources = 8, .ports = 4, .destinations = 4,
                               .series_memory = 1 << 20};
    struct detail *d = detail_new_in(&dd, T0, T0 + 86400);

    rng_seed(11);
    for (uint32_t i = 0; i < 3000; i++) {
        char src[48], dst[48];
        struct flow f;

        if (i % 100 == 0)
            snprintf(src, sizeof(src), "2001:db8::%x", (unsigned)rng_below(5));
        else
            snprintf(src, sizeof(src), "198.51.100.%u", (unsigned)rng_below(20));
        snprintf(dst, sizeof(dst), "198.18.%u.%u", (unsigned)rng_below(3), (unsigned)rng_below(9));
        f = tu_flow(MS(T0 + (int64_t)rng_below(86400)), 1, src, dst, PROTO_UDP,
                    (uint16_t)rng_below(6), 53);
        detail_add(d, &f, 1 + rng_below(4));
    }
    return d;
}

/* The accessors give the same for a and b. */
static void
assert_drilldown_eq(const struct detail *a, const struct detail *b)
{
    size_t (*fns[])(const struct detail *, struct detail_item *, size_t, bool *, uint64_t *) = {
        detail_top_sources, detail_top_sports, detail_top_dsts};
    struct detail_item ia[16], ib[16];
    static uint64_t ma[1440], mb[1440];
    bool ea, eb, ra, rb;
    uint64_t era, erb;

    for (size_t f = 0; f < 3; f++) {
        size_t ka = fns[f](a, ia, 16, &ea, &era), kb = fns[f](b, ib, 16, &eb, &erb);

        ck_assert_uint_eq(ka, kb);
        ck_assert(ea == eb);
        ck_assert_uint_eq(era, erb);
        ck_assert(memcmp(ia, ib, ka * sizeof(*ia)) == 0);
    }
    ra = detail_minutes(a, T0, 1440, ma, &ea);
    rb = detail_minutes(b, T0, 1440, mb, &eb);
    ck_assert(ra == rb);
    ck_assert(ea == eb);
    ck_assert(memcmp(ma, mb, sizeof(ma)) == 0);
}

START_TEST(test_detail_roundtrip_lists)
{
    struct detail *d = busy_detail(), *c;
    struct detail_item it[8];
    bool exact;
    uint64_t err;

    ck_assert_uint_eq(detail_top_sources(d, it, 8, &exact, &err), 8);
    ck_assert(!exact);
    c = detail_roundtrip(d);
    assert_detail_eq(c, d);
    assert_drilldown_eq(c, d);
    ck_assert(detail_has_lists(c));
    detail_free(c);
    /* a series dropped for memory travels as dropped */
    detail_series_drop(d);
    c = detail_roundtrip(d);
    assert_drilldown_eq(c, d);
    ck_assert(!detail_minutes(c, T0, 60, (uint64_t[60]){0}, &exact));
    detail_free(c);
    detail_free(d);
}
END_TEST

/* Blobs of an older store (DT01: no lists, no series) still read. */
START_TEST(test_detail_dt01_compat)
{
    struct detail *d = busy_detail(), *c, *m;
    size_t len = detail_serialize_bound(d), v1;
    uint8_t *buf = malloc(len);
    struct detail_item it[8];
    uint64_t mins[60], err;
    bool exact = true;

    ck_assert_ptr_nonnull(buf);
    len = detail_serialize(d, buf);
    ck_assert(memcmp(buf, "20TD", 4) == 0);     /* "DT02", little endian */
    /* DT01: the same up to the distinct counters */
    v1 = 24 + (size_t)d->n_types * 10 + distinct_serialize(&d->src, NULL) +
         distinct_serialize(&d->dst, NULL) + distinct_serialize(&d->dport, NULL);
    ck_assert_uint_lt(v1, len);
    buf[0] = '1';
    c = detail_deserialize(buf, v1);
    ck_assert_ptr_nonnull(c);
    ck_assert_uint_eq(distinct_count(&c->src), distinct_count(&d->src));
    ck_assert_uint_eq(distinct_count(&c->dst), distinct_count(&d->dst));
    ck_assert_uint_eq(detail_dominant_type(c), detail_dominant_type(d));
    ck_assert_int_eq(c->first_ms, d->first_ms);
    ck_assert(!detail_has_lists(c));
    ck_assert_uint_eq(detail_top_sources(c, it, 8, &exact, &err), 0);
    ck_assert(!exact);
    ck_assert(!detail_minutes(c, T0, 60, mins, &exact));
    /* merged with a detail that has lists, the sum has none (some packets are not in them) */
    m = detail_new_in(NULL, T0, T0 + 86400);
    detail_merge(m, d);
    ck_assert(detail_has_lists(m));
    detail_merge(m, c);
    ck_assert(!detail_has_lists(m));
    ck_assert(detail_minutes(m, T0, 60, mins, &exact));
    ck_assert(!exact);
    /* and a DT02 blob cut after the counters is refused */
    buf[0] = '2';
    ck_assert_ptr_null(detail_deserialize(buf, v1));
    detail_free(m);
    detail_free(c);
    detail_free(d);
    free(buf);
}
END_TEST

START_TEST(test_detail_merge_lists)
{
    struct detail *a = detail_new_in(NULL, T0, T0 + 3600), *b = detail_new_in(NULL, T0, T0 + 3600);
    struct detail *e = detail_new();
    struct flow f = tu_flow(MS(T0 + 5), 1, "198.51.100.1", "198.18.0.1", PROTO_UDP, 53, 1);
    struct detail_item it[4];
    uint64_t m[60];
    bool exact;
    uint64_t err;

    detail_add(a, &f, 5);
    f = tu_flow(MS(T0 + 65), 1, "198.51.100.2", "198.18.0.1", PROTO_UDP, 53, 1);
    detail_add(b, &f, 7);
    f = tu_flow(MS(T0 + 5), 1, "198.51.100.1", "198.18.0.2", PROTO_UDP, 53, 1);
    detail_add(b, &f, 2);
    detail_merge(a, b);
    ck_assert_uint_eq(detail_top_sources(a, it, 4, &exact, &err), 2);
    ck_assert(exact);
    ck_assert_str_eq(fmt_addr(&it[0].addr), "198.51.100.1");
    ck_assert_uint_eq(it[0].packets, 7);
    ck_assert_uint_eq(it[1].packets, 7);
    ck_assert(detail_minutes(a, T0, 60, m, &exact));
    ck_assert(exact);
    ck_assert_uint_eq(m[0], 7);
    ck_assert_uint_eq(m[1], 7);
    /* into an empty detail made without a slot: takes the series as it is */
    detail_merge(e, a);
    ck_assert(detail_minutes(e, T0, 60, m, &exact));
    ck_assert(exact);
    ck_assert_uint_eq(m[1], 7);
    assert_drilldown_eq(e, a);
    /* a detail with packets but no series makes the sum's series partial */
    detail_free(e);
    e = detail_new();
    detail_add(e, &f, 1);
    detail_merge(a, e);
    ck_assert(detail_minutes(a, T0, 60, m, &exact));
    ck_assert(!exact);
    detail_free(a);
    detail_free(b);
    detail_free(e);
}
END_TEST

/* A group's first flows are logged, then replayed into the lists: the same as counting them. */
START_TEST(test_detail_log_replay)
{
    struct cfg_drilldown dd = {.sources = 8, .ports = 4, .destinations = 4,
                               .series_memory = 1 << 20};
    struct detail *a = detail_new_in(&dd, T0, T0 + 86400), *b, *c;
    struct flow f[200];

    rng_seed(3);
    for (int i = 0; i < 200; i++) {
        char src[32], dst[32];

        snprintf(src, sizeof(src), "198.51.100.%u", (unsigned)rng_below(12));
        snprintf(dst, sizeof(dst), "198.18.0.%u", (unsigned)rng_below(7));
        f[i] = tu_flow(MS(T0 + (int64_t)rng_below(86400)), 1, src, dst,
                       i % 5 ? PROTO_UDP : PROTO_ICMP, (uint16_t)rng_below(9), 53);
    }
    for (int i = 0; i < 40; i++)
        detail_add(a, &f[i], 1 + i % 3);
    ck_assert(a->logging);
    ck_assert_uint_eq(topk_memory(&a->src_top) + detail_series_bytes(a), 0);
    /* read while logging: the same as a copy that counted into its lists */
    b = detail_roundtrip(a);
    ck_assert(!b->logging);
    assert_drilldown_eq(a, b);
    assert_detail_eq(a, b);
    ck_assert(a->logging);
    /* reading leaves the log; merging a logging detail into an empty one */
    c = detail_new_in(&dd, T0, T0 + 86400);
    detail_merge(c, a);
    assert_drilldown_eq(c, a);
    for (int i = 40; i < 200; i++) {
        detail_add(a, &f[i], 1 + i % 3);
        detail_add(b, &f[i], 1 + i % 3);
    }
    ck_assert(!a->logging);
    assert_detail_eq(a, b);
    assert_drilldown_eq(a, b);
    detail_free(a);
    detail_free(b);
    detail_free(c);
}
END_TEST

/*
 * agg_opts.defer_details: the details of an open slot's flows counted at
 * its close, for the groups kept then, give the slots of counting each
 * flow as it comes: the same groups, counts and flags, and byte for byte
 * the same details, for attribution start (the batch path) and spread, a
 * slot past AGG_DEFER_BYTES of flows whose heavy groups then leave the
 * buffer (and a group that rises above the threshold after that, and a
 * tail of light groups that doubles it), one past it with none above the
 * threshold and few groups (every group's detail from then on), a
 * flow too long for the buffer, and a slot closed by the end of input
 * (every group keeps its detail).  With drilldown.lists memory the lists
 * and series too, IPv6 flows among the others (their addresses beside the
 * buffer); and a checkpoint's view of the open slots (agg_each_open())
 * is byte for byte the same both ways, taken twice while day 0 defers.
 */

/* What a checkpoint would see of the open slots: keys, counts and details. */
struct open_view {
    uint8_t *b;
    size_t n, cap;
    size_t ksize;
    size_t with_detail;
};

static void
view_put(struct open_view *v, const void *p, size_t len)
{
    if (v->n + len > v->cap) {
        v->cap = (v->n + len) * 2;
        v->b = realloc(v->b, v->cap);
        ck_assert_ptr_nonnull(v->b);
    }
    memcpy(v->b + v->n, p, len);
    v->n += len;
}

static void
view_slot(void *ctx, const struct agg_slot *slot)
{
    struct open_view *v = ctx;

    view_put(v, &slot->start, sizeof(slot->start));
    view_put(v, &slot->packets, sizeof(slot->packets));
    view_put(v, &slot->n_groups, sizeof(slot->n_groups));
    for (uint32_t j = 0; j < slot->n_groups; j++) {
        const struct agg_group *g = agg_slot_group(slot, j);
        uint8_t *d;
        size_t len;

        view_put(v, g->key, v->ksize);
        view_put(v, &g->packets, sizeof(g->packets));
        view_put(v, &g->flows, sizeof(g->flows));
        /* every group of an open slot has its detail here, deferred or not */
        ck_assert_ptr_nonnull(g->detail);
        d = malloc(detail_serialize_bound(g->detail));
        ck_assert_ptr_nonnull(d);
        len = detail_serialize(g->detail, d);
        view_put(v, &len, sizeof(len));
        view_put(v, d, len);
        free(d);
        v->with_detail++;
    }
}

static size_t
run_deferred(const char *attribution, const char *lists, bool defer, struct sink *sink,
             struct open_view *view, struct ds_cfg **cfg)
{
    char yaml[512];
    struct agg_opts opts = {sink_close, sink_late, sink, NULL, 0, defer};
    struct flow batch[1000];
    struct agg *agg;
    uint64_t x = 99;
    size_t n = 0, ksize;

    snprintf(yaml, sizeof(yaml),
             "timezone: UTC\n"
             "drilldown:\n  lists: %s\n"
             "analyses:\n  - name: t\n    keys: [proto, dst_port]\n    slot: 1d\n"
             "    thresholds: [1.0, 0.5]\n    attribution: %s\n", lists, attribution);
    *cfg = tu_cfg(yaml);
    opts.drilldown = &(*cfg)->drilldown;
    agg = agg_new(&(*cfg)->analyses[0], &opts);
    for (int i = 0; i < 200000; i++) {
        char src[32], dst[32];
        int day = i < 120000 ? 0 : i < 195000 ? 1 : 2;
        uint16_t port;

        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        /*
         * days 0 and 2: a few heavy ports, a long tail of light ones (day 0's
         * heavy ones leave the buffer when it is full, and its tail of 30,000
         * ports, whose details would take more than the buffer, doubles it);
         * day 1: the tail alone over 4,000 ports, none above the threshold,
         * past what their details would take (every group's detail)
         */
        port = (uint16_t)((x >> 60) < 10 && day != 1 ? 1 + (x >> 56) % 12
                                                     : 100 + (x >> 20) % (day == 0 ? 30000 : 4000));
        /*
         * port 50 rises late in day 0: below the threshold when the buffer
         * first fills (its flows stay there), far above it at the close
         */
        if (day == 0 && (i >= 90000 ? (x >> 3) % 2 == 0 : (x >> 3) % 500 == 0))
            port = 50;
        snprintf(src, sizeof(src), "203.0.%u.%u", (unsigned)(x >> 30) % 64,
                 (unsigned)(x >> 40) % 256);
        snprintf(dst, sizeof(dst), "198.18.%u.%u", (unsigned)(x >> 24) % 4,
                 (unsigned)(x >> 48) % 256);
        /* one flow in sixteen from and to IPv6 addresses, one in 64 from an IPv6 one alone */
        if ((x >> 52) % 16 == 0) {
            snprintf(src, sizeof(src), "2001:db8:%x::%x", (unsigned)(x >> 30) % 8,
                     (unsigned)(x >> 40) % 256);
            if ((x >> 58) % 4 != 0)
                snprintf(dst, sizeof(dst), "2001:db8:dead::%x", (unsigned)(x >> 48) % 256);
        }
        batch[n] = tu_flow(MS(T0 + day * 86400) + (int64_t)((x >> 8) % 86400000), 1 + (x >> 36) % 4,
                           src, dst, (x >> 44) % 5 == 0 ? PROTO_UDP : PROTO_TCP,
                           (uint16_t)(1024 + (x >> 12) % 60000), port);
        /* some flows cross midnight: spread divides them */
        batch[n].end_ms = batch[n].start_ms + (int64_t)((x >> 4) % 7200000);
        /* one that lasts 60 days: not in a deferred flow's 32 bits (its slot settles) */
        if (i == 197000)
            batch[n].end_ms = batch[n].start_ms + (int64_t)60 * 86400000;
        batch[n].tcp_flags = batch[n].proto == PROTO_TCP ? 0x02 : 0;
        if (++n == 1000 || i == 199999) {
            agg_add_batch(agg, batch, n);
            n = 0;
        }
        if (i == 195000)
            agg_advance(agg, T0 + 2 * 86400);
        /* a checkpoint before the buffer first fills, and one after */
        if (view != NULL && (i == 19999 || i == 99999)) {
            view->ksize = agg_layout(agg)->size;
            agg_each_open(agg, view_slot, view);
        }
    }
    agg_flush(agg);
    /* the slots' layout is the aggregator's: gone with it */
    ksize = agg_layout(agg)->size;
    agg_free(agg);
    return ksize;
}

/*
 * The slots of two runs, one counting as flows come and one deferring, are
 * the same: groups, counts, flags, and details byte for byte.  Counts the
 * groups with a detail and without one into *with_detail and *without.
 */
static void
assert_same_slots(const struct sink *now, const struct sink *later, size_t ksize,
                  size_t *with_detail, size_t *without)
{
    ck_assert_uint_eq(now->n_slots, later->n_slots);
    for (size_t i = 0; i < now->n_slots; i++) {
        const struct agg_slot *p = now->slots[i], *q = later->slots[i];

        ck_assert_int_eq(p->start, q->start);
        ck_assert_int_eq(p->complete, q->complete);
        ck_assert_uint_eq(p->packets, q->packets);
        ck_assert_uint_eq(p->flows, q->flows);
        ck_assert_uint_eq(p->n_groups, q->n_groups);
        ck_assert_ptr_null(q->deferred);
        for (uint32_t j = 0; j < p->n_groups; j++) {
            const struct agg_group *g = agg_slot_group(p, j), *h = agg_slot_group(q, j);

            ck_assert(memcmp(g->key, h->key, ksize) == 0);
            ck_assert_uint_eq(g->packets, h->packets);
            ck_assert_uint_eq(g->flows, h->flows);
            ck_assert_uint_eq(g->flags, h->flags);
            ck_assert_int_eq(g->detail == NULL, h->detail == NULL);
            if (g->detail != NULL) {
                assert_detail_eq(g->detail, h->detail);
                (*with_detail)++;
            } else {
                (*without)++;
            }
        }
    }
}

START_TEST(test_agg_deferred_details)
{
    static const char *const attributions[] = {"start", "spread"};
    static const char *const lists[] = {"reread", "memory"};

    for (size_t a = 0; a < 4; a++) {
        struct sink now = {0}, later = {0};
        struct open_view v1 = {0}, v2 = {0};
        struct ds_cfg *c1, *c2;
        size_t with_detail = 0, without = 0, ksize;

        ksize = run_deferred(attributions[a % 2], lists[a / 2], false, &now, &v1, &c1);
        ck_assert_uint_eq(
            run_deferred(attributions[a % 2], lists[a / 2], true, &later, &v2, &c2), ksize);
        /* both checkpoints saw day 0's thousands of groups, the same way */
        ck_assert_uint_gt(v1.with_detail, 10000);
        ck_assert_uint_eq(v1.n, v2.n);
        ck_assert(memcmp(v1.b, v2.b, v1.n) == 0);
        free(v1.b);
        free(v2.b);
        ck_assert_uint_ge(now.n_slots, 3);
        assert_same_slots(&now, &later, ksize, &with_detail, &without);
        /* both kinds were there to compare: kept groups and trimmed ones */
        ck_assert_uint_gt(with_detail, 100);
        ck_assert_uint_gt(without, 1000);
        sink_free(&now);
        sink_free(&later);
        cfg_free(c1);
        cfg_free(c2);
    }
}
END_TEST

/*
 * Times at the edges of a deferred flow's 48 bits of start: a day before
 * 1970 (negative milliseconds, the shift must keep the sign), one ending
 * just inside 2^47 ms (year 6429), and flows past it, in the slot where
 * the latter ends, which stops deferring at the first of them (as a
 * hostile exporter's clock could ask).  With lists: the source ports and
 * IPv6 addresses come back too.
 */
static size_t
run_edges(bool defer, struct sink *sink, struct ds_cfg **cfg)
{
    struct agg_opts opts = {sink_close, sink_late, sink, NULL, 0, defer};
    struct agg *agg;
    size_t ksize;
    uint64_t x = 7;
    static const int64_t starts[] = {-86400, 140737401955, 140737488355};

    *cfg = tu_cfg("timezone: UTC\n"
                  "drilldown:\n  lists: memory\n"
                  "analyses:\n  - name: t\n    keys: [proto, dst_port]\n    slot: 1d\n"
                  "    thresholds: [1.0, 0.5]\n");
    opts.drilldown = &(*cfg)->drilldown;
    agg = agg_new(&(*cfg)->analyses[0], &opts);
    for (size_t d = 0; d < 3; d++) {
        for (int i = 0; i < 3000; i++) {
            char src[48];
            struct flow f;

            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            if ((x >> 60) < 4)
                snprintf(src, sizeof(src), "2001:db8:%x::1", (unsigned)(x >> 20) % 64);
            else
                snprintf(src, sizeof(src), "203.0.113.%u", (unsigned)(x >> 20) % 250);
            f = tu_flow(MS(starts[d]) + (int64_t)((x >> 8) % 86000000), 1 + (x >> 40) % 3, src,
                        (x >> 50) % 2 ? "198.18.0.9" : "2001:db8:dead::9", PROTO_TCP,
                        (uint16_t)(1024 + (x >> 24) % 500),
                        (uint16_t)((x >> 59) < 8 ? 23 : 100 + (x >> 30) % 300));
            /* the last day's flows start past 2^47 ms: not in a deferred flow's 48 bits */
            if (d == 2)
                f.start_ms = f.end_ms = (INT64_C(1) << 47) + (int64_t)i;
            agg_add(agg, &f);
        }
        /* day 1's last hours and day 2 share a slot: its deferral ends there */
        if (d == 0)
            agg_advance(agg, starts[d] + 2 * 86400);
    }
    agg_flush(agg);
    ksize = agg_layout(agg)->size;
    agg_free(agg);
    return ksize;
}

START_TEST(test_agg_deferred_edges)
{
    struct sink now = {0}, later = {0};
    struct ds_cfg *c1, *c2;
    size_t with_detail = 0, without = 0, ksize;

    ksize = run_edges(false, &now, &c1);
    ck_assert_uint_eq(run_edges(true, &later, &c2), ksize);
    ck_assert_uint_eq(now.n_slots, 3);
    ck_assert_int_lt(now.slots[0]->start, 0);
    /* the last slot holds day 1's last flows and day 2's, none late */
    ck_assert_uint_eq(now.n_late, 0);
    ck_assert_uint_eq(now.slots[0]->flows + now.slots[1]->flows + now.slots[2]->flows, 9000);
    assert_same_slots(&now, &later, ksize, &with_detail, &without);
    ck_assert_uint_gt(with_detail, 3);
    ck_assert_uint_gt(without, 100);
    sink_free(&now);
    sink_free(&later);
    cfg_free(c1);
    cfg_free(c2);
}
END_TEST

/*
 * drilldown.series_memory: 40 groups, group p with 2p packets a minute for
 * an hour.  The series stay within the budget; the largest groups keep
 * exact series, the smallest lose theirs.
 */
START_TEST(test_agg_series_budget)
{
    struct ds_cfg *cfg = tu_cfg("timezone: UTC\n"
                                "drilldown:\n  series_memory: 8K\n"
                                "analyses:\n  - name: t\n    keys: [dst_port]\n    slot: 1h\n"
                                "    thresholds: [0.1]\n");
    struct sink sink = {0};
    struct agg_opts opts = {sink_close, NULL, &sink, &cfg->drilldown, 0, false};
    struct agg *agg = agg_new(&cfg->analyses[0], &opts);
    size_t peak = 0;

    ck_assert_int_eq(cfg->drilldown.series_memory, 8192);
    /* two flows a minute: past DETAIL_LOG_MAX flows, so the series exist during the slot */
    for (int m = 0; m < 60; m++) {
        for (uint16_t p = 1; p <= 40; p++) {
            for (int half = 0; half < 2; half++) {
                struct flow f = tu_flow(MS(T0 + 60 * m + 30 * half + p % 30), p, "198.51.100.1",
                                        "198.18.0.1", PROTO_UDP, 1, p);

                agg_add(agg, &f);
                if (agg_series_memory(agg) > peak)
                    peak = agg_series_memory(agg);
            }
        }
    }
    ck_assert_uint_le(peak, 8192);
    ck_assert_uint_gt(peak, 4096);
    ck_assert_uint_le(agg_memory(agg), 8192 + 40 * 2048);
    agg_flush(agg);
    ck_assert_uint_eq(sink.n_slots, 1);
    for (uint16_t p = 1; p <= 40; p++) {
        uint8_t k[KEY_BYTES_MAX];
        struct flow f = tu_flow(MS(T0), 1, "198.51.100.1", "198.18.0.1", PROTO_UDP, 1, p);
        struct agg_group *g;
        uint64_t mins[60];
        bool exact, kept;

        key_extract(sink.slots[0]->layout, &f, k);
        g = agg_slot_group_find(sink.slots[0], k);
        ck_assert_ptr_nonnull(g);
        ck_assert_ptr_nonnull(g->detail);
        kept = detail_minutes(g->detail, T0, 60, mins, &exact);
        if (p > 30) {
            /* the largest: every minute, exactly */
            ck_assert_msg(kept && exact, "group %u lost its series", p);
            for (int m = 0; m < 60; m++)
                ck_assert_uint_eq(mins[m], 2 * p);
        } else if (p <= 5) {
            /* the smallest: dropped */
            ck_assert_msg(!kept || !exact, "group %u kept an exact series", p);
        }
        /* the lists are not affected */
        ck_assert(detail_has_lists(g->detail));
    }
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

/* attribution spread: each slot's share counts at the flow's start, clamped into the slot. */
START_TEST(test_agg_spread_minutes)
{
    struct sink sink = {0};
    struct ds_cfg *cfg;
    struct agg *agg = agg_for("[proto]", "1h", "[1]", "spread", &sink, &cfg);
    struct flow f = tu_flow(MS(T0 + 3000), 12, "198.51.100.1", "192.0.2.1", PROTO_UDP, 7, 2);
    uint64_t m[60];
    bool exact;
    struct detail_item it[2];
    uint64_t err;

    f.end_ms = MS(T0 + 4200);
    agg_add(agg, &f);
    agg_flush(agg);
    ck_assert_uint_eq(sink.n_slots, 2);
    ck_assert_uint_eq(sink.slots[0]->packets, 6);
    ck_assert_uint_eq(sink.slots[1]->packets, 6);
    ck_assert(detail_minutes(agg_slot_group(sink.slots[0], 0)->detail, T0, 60, m, &exact));
    ck_assert(exact);
    ck_assert_uint_eq(m[50], 6);
    ck_assert(detail_minutes(agg_slot_group(sink.slots[1], 0)->detail, T0 + 3600, 60, m, &exact));
    ck_assert_uint_eq(m[0], 6);
    /* the lists count the share too */
    ck_assert_uint_eq(detail_top_sports(agg_slot_group(sink.slots[1], 0)->detail, it, 2, &exact,
                                        &err),
                      1);
    ck_assert_uint_eq(it[0].packets, 6);
    agg_free(agg);
    sink_free(&sink);
    cfg_free(cfg);
}
END_TEST

static void
utc_setup(void)
{
    tz_apply("UTC");
}

static void
no_teardown(void)
{
}

static Suite *
agg_suite(void)
{
    Suite *s = suite_create("agg");
    TCase *tc;

    tc = tcase_create("key");
    tcase_add_checked_fixture(tc, utc_setup, no_teardown);
    tcase_add_test(tc, test_key_tcp);
    tcase_add_test(tc, test_key_udp);
    tcase_add_test(tc, test_key_icmp);
    tcase_add_test(tc, test_key_icmpv6);
    tcase_add_test(tc, test_key_gre);
    tcase_add_test(tc, test_key_unnamed_proto);
    tcase_add_test(tc, test_key_json_multi);
    tcase_add_loop_test(tc, test_key_differ_in_each_field, 0, (int)N_CASES(key_diffs));
    tcase_add_test(tc, test_key_equal_in_keys);
    tcase_add_test(tc, test_key_none_is_canonical);
    suite_add_tcase(s, tc);

    tc = tcase_create("slotcal");
    tcase_add_checked_fixture(tc, utc_setup, no_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_slotcal_daily_dst_end);
    tcase_add_test(tc, test_slotcal_daily_dst_start);
    tcase_add_test(tc, test_slotcal_hourly_25h_day);
    tcase_add_test(tc, test_slotcal_hourly_23h_day);
    tcase_add_test(tc, test_slotcal_sub_day);
    tcase_add_test(tc, test_slotcal_weekly);
    tcase_add_test(tc, test_slotcal_utc);
    tcase_add_test(tc, test_slotcal_cache_matches_cold);
    suite_add_tcase(s, tc);

    tc = tcase_create("agg");
    tcase_add_checked_fixture(tc, utc_setup, no_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_agg_slots_by_start);
    tcase_add_test(tc, test_agg_daily_local);
    tcase_add_test(tc, test_agg_advance_closes_in_order);
    tcase_add_test(tc, test_agg_trim_boundary);
    tcase_add_test(tc, test_agg_trim_lowest_threshold);
    tcase_add_test(tc, test_agg_flush_keeps_details);
    tcase_add_test(tc, test_agg_late_flows);
    tcase_add_test(tc, test_agg_late_without_callback);
    tcase_add_test(tc, test_agg_spread_largest_remainder);
    tcase_add_test(tc, test_agg_spread_proportional);
    tcase_add_test(tc, test_agg_spread_late);
    tcase_add_test(tc, test_agg_batch_equals_add);
    tcase_add_test(tc, test_agg_groups_limit_folds);
    tcase_add_test(tc, test_agg_groups_limit_merge);
    tcase_add_test(tc, test_agg_batch_equals_add_spread);
    tcase_add_test(tc, test_agg_slot_merge);
    tcase_add_test(tc, test_agg_slot_add_after_close);
    tcase_add_test(tc, test_agg_slot_group_find);
    suite_add_tcase(s, tc);

    tc = tcase_create("distinct");
    tcase_add_checked_fixture(tc, utc_setup, no_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_distinct_small_exact);
    tcase_add_test(tc, test_distinct_exact_max_then_hll);
    tcase_add_test(tc, test_distinct_blocks_one_16);
    tcase_add_test(tc, test_distinct_blocks_many);
    tcase_add_test(tc, test_distinct_ipv6);
    tcase_add_test(tc, test_distinct_zero_and_repeats);
    tcase_add_test(tc, test_distinct_v4_zero_through_growth);
    tcase_add_test(tc, test_distinct_ports_bitmap);
    tcase_add_test(tc, test_distinct_modes);
    tcase_add_test(tc, test_distinct_merge_addresses);
    tcase_add_test(tc, test_distinct_merge_ports);
    tcase_add_test(tc, test_distinct_merge_zero);
    tcase_add_test(tc, test_distinct_merge_hll_memory);
    tcase_add_test(tc, test_distinct_serialize_roundtrip);
    tcase_add_exit_test(tc, test_distinct_counted_takes_no_value, 1);
    tcase_add_test(tc, test_distinct_deserialize_truncated);
    tcase_add_test(tc, test_distinct_deserialize_garbage);
    tcase_add_test(tc, test_distinct_deserialize_fuzz);
    suite_add_tcase(s, tc);

    tc = tcase_create("detail");
    /* the deferred details' slots of thousands of flows take seconds under AddressSanitizer */
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, utc_setup, no_teardown);
    tcase_add_test(tc, test_detail_types);
    tcase_add_test(tc, test_detail_first_last);
    tcase_add_test(tc, test_detail_distinct);
    tcase_add_test(tc, test_detail_merge);
    tcase_add_test(tc, test_detail_serialize_roundtrip);
    tcase_add_test(tc, test_detail_deserialize_garbage);
    tcase_add_test(tc, test_detail_top_lists);
    tcase_add_test(tc, test_detail_capacities);
    tcase_add_test(tc, test_detail_minutes);
    tcase_add_test(tc, test_detail_counted_elsewhere);
    tcase_add_test(tc, test_detail_counted_in_parts);
    tcase_add_test(tc, test_detail_roundtrip_lists);
    tcase_add_test(tc, test_detail_dt01_compat);
    tcase_add_test(tc, test_detail_merge_lists);
    tcase_add_test(tc, test_detail_log_replay);
    tcase_add_test(tc, test_agg_series_budget);
    tcase_add_test(tc, test_agg_spread_minutes);
    suite_add_tcase(s, tc);

    /* four ways of 2 x 200,000 flows, two with lists: 16 s under AddressSanitizer, alone */
    tc = tcase_create("deferred");
    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, utc_setup, no_teardown);
    tcase_add_test(tc, test_agg_deferred_details);
    tcase_add_test(tc, test_agg_deferred_edges);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(agg_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
