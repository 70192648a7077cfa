/*
 * Unit tests of the collector's archive (src/ingest/archive.c): flows
 * written with archive_add() and read back through ingest_file() and norm
 * (tu_decode, which also decodes every file with libfixbuf alone) must be
 * the same flows, field by field, exporter included.  Then rotation and
 * naming, recovery of a .part after a crash, write errors, and bad input.
 *
 * The wall clock is passed in: nothing depends on the time of the run.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ds/addr.h"
#include "ds/archive.h"
#include "ds/archive_reread.h"
#include "ds/explain.h"
#include "ds/hash.h"
#include "ds/ingest.h"
#include "ds/log.h"
#include "ds/proto.h"
#include "ds/xmem.h"
#include "testutil.h"

/* 2015-12-21T00:00:00Z, a multiple of 3600 and 86400 */
#define T0 1450656000
#define MS(s) ((int64_t)(s) * 1000)
/* bytes of the template message that opens every file */
#define TMPL_MSG 244

/* ---- helpers --------------------------------------------------------------- */

static struct exporter exporters[] = {
    {{{0}}, 0, 0},              /* filled by exporters_init() */
    {{{0}}, 7, 1},
    {{{0}}, 42, 2},
    {{{0}}, 4294967295u, 3},
    {{{0}}, 9, 4},              /* all-zero address: unknown, with an odid */
};

static void
exporters_init(void)
{
    ck_assert_int_eq(addr_parse("192.0.2.1", &exporters[0].addr), 0);
    ck_assert_int_eq(addr_parse("192.0.2.1", &exporters[1].addr), 0);
    ck_assert_int_eq(addr_parse("2001:db8::1", &exporters[2].addr), 0);
    ck_assert_int_eq(addr_parse("2001:db8:ffff::fe", &exporters[3].addr), 0);
}

/* A flow as norm makes them: ports only for protocols that have them. */
static struct flow
mkflow(int64_t start_ms, int64_t end_ms, uint64_t packets, const char *src, const char *dst,
       uint8_t proto, uint16_t sport, uint16_t dport, uint8_t flags, const struct exporter *e)
{
    struct flow f;

    memset(&f, 0, sizeof(f));
    f.start_ms = start_ms;
    f.end_ms = end_ms;
    f.packets = packets;
    f.bytes = packets * 40 + (uint64_t)sport;   /* a number of its own for every flow */
    if (src != NULL)
        ck_assert_int_eq(addr_parse(src, &f.src), 0);
    ck_assert_int_eq(addr_parse(dst, &f.dst), 0);
    f.ip_version = addr_is_v4(&f.dst) ? 4 : 6;
    f.proto = proto;
    if (proto_has_ports(proto)) {
        f.src_port = sport;
        f.dst_port = dport;
    }
    if (proto_is_icmp(proto)) {
        f.icmp_type = (uint8_t)(dport >> 8);
        f.icmp_code = (uint8_t)dport;
    }
    f.tcp_flags = proto == PROTO_TCP ? flags : 0;
    f.sampling = 1;
    f.exporter = e;
    f.src_value = addr_value(&f.src);
    f.dst_value = addr_value(&f.dst);
    return f;
}

/* Every field analyze reads must come back; an exporter NULL comes back unknown (all zero, 0). */
static void
assert_same(const struct flow *want, const struct flow *got, size_t i)
{
    static const struct addr zero;
    const struct addr *ea = want->exporter ? &want->exporter->addr : &zero;
    uint32_t eo = want->exporter ? want->exporter->odid : 0;
    char w[ADDR_STRLEN], g[ADDR_STRLEN];

    ck_assert_msg(want->start_ms == got->start_ms && want->end_ms == got->end_ms,
                  "flow %zu: times %lld-%lld, read %lld-%lld", i, (long long)want->start_ms,
                  (long long)want->end_ms, (long long)got->start_ms, (long long)got->end_ms);
    ck_assert_msg(want->packets == got->packets, "flow %zu: %llu packets, read %llu", i,
                  (unsigned long long)want->packets, (unsigned long long)got->packets);
    ck_assert_msg(want->bytes == got->bytes, "flow %zu: %llu bytes, read %llu", i,
                  (unsigned long long)want->bytes, (unsigned long long)got->bytes);
    ck_assert_msg(memcmp(&want->src, &got->src, 16) == 0, "flow %zu: src %s, read %s", i,
                  addr_format(&want->src, w), addr_format(&got->src, g));
    ck_assert_msg(memcmp(&want->dst, &got->dst, 16) == 0, "flow %zu: dst %s, read %s", i,
                  addr_format(&want->dst, w), addr_format(&got->dst, g));
    ck_assert_uint_eq(want->src_value, got->src_value);
    ck_assert_uint_eq(want->dst_value, got->dst_value);
    ck_assert_msg(want->src_port == got->src_port && want->dst_port == got->dst_port,
                  "flow %zu: ports %u %u, read %u %u", i, want->src_port, want->dst_port,
                  got->src_port, got->dst_port);
    ck_assert_msg(want->proto == got->proto && want->tcp_flags == got->tcp_flags,
                  "flow %zu: proto %u flags %#x, read %u %#x", i, want->proto, want->tcp_flags,
                  got->proto, got->tcp_flags);
    ck_assert_msg(want->icmp_type == got->icmp_type && want->icmp_code == got->icmp_code,
                  "flow %zu: icmp %u/%u, read %u/%u", i, want->icmp_type, want->icmp_code,
                  got->icmp_type, got->icmp_code);
    ck_assert_msg(want->ip_version == got->ip_version, "flow %zu: IPv%u, read IPv%u", i,
                  want->ip_version, got->ip_version);
    ck_assert_ptr_nonnull(got->exporter);
    ck_assert_msg(memcmp(ea, &got->exporter->addr, 16) == 0 && eo == got->exporter->odid,
                  "flow %zu: exporter %s odid %u, read %s odid %u", i, addr_format(ea, w), eo,
                  addr_format(&got->exporter->addr, g), got->exporter->odid);
    /* the packets are already scaled: the archive says nothing of sampling */
    ck_assert_uint_eq(got->sampling, 1);
}

static char *
dir_path(const char *name)
{
    return xstrdup(tu_path(name));
}

/* The names in dir, sorted, joined by spaces ("" if none). */
static const char *
listing(const char *dir)
{
    static char out[4096];
    char *names[64];
    size_t n = 0;
    struct dirent *de;
    DIR *d = opendir(dir);

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        ck_assert_uint_lt(n, 64);
        names[n++] = strdup(de->d_name);
    }
    closedir(d);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *t = names[j];

            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);

        snprintf(out + len, sizeof(out) - len, "%s%s", i ? " " : "", names[i]);
        free(names[i]);
    }
    return out;
}

static const char *
in_dir(const char *dir, const char *name)
{
    static char path[1024];

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static off_t
file_size(const char *path)
{
    struct stat st;

    ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
    return st.st_size;
}

static struct archive *
open_ok(const char *dir, int64_t rotate_s)
{
    struct archive *a = NULL;
    struct ds_error err;
    enum ds_rc rc = archive_open(dir, rotate_s, &a, &err);

    ck_assert_msg(rc == DS_OK, "archive_open: %s", err.msg);
    return a;
}

static void
add_ok(struct archive *a, const struct flow *f, int64_t now_s)
{
    struct ds_error err;

    ck_assert_msg(archive_add(a, f, now_s, &err) == DS_OK, "archive_add: %s", err.msg);
}

static void
close_ok(struct archive *a)
{
    struct ds_error err;

    ck_assert_msg(archive_close(a, &err) == DS_OK, "archive_close: %s", err.msg);
}

/* Decodes path and requires exactly want[0..n), in order, nothing malformed. */
static void
assert_file_holds(const char *path, const struct flow *want, size_t n)
{
    struct tu_decoded d;

    tu_decode(path, &d);
    ck_assert_msg(d.rc == DS_OK, "%s: %s", path, d.err);
    ck_assert_uint_eq(ingest_stats_malformed(&d.stats), 0);
    ck_assert_uint_eq(d.norm.no_addr + d.norm.no_time + d.norm.bad_time, 0);
    ck_assert_uint_eq(d.norm.sampled, 0);
    ck_assert_msg(d.n == n, "%s: %zu flows, want %zu", path, d.n, n);
    for (size_t i = 0; i < n; i++)
        assert_same(&want[i], &d.flows[i], i);
    tu_decoded_free(&d);
}

/* A flow of kind k (cycling through families, protocols and exporters) for bulk tests. */
static struct flow
bulk_flow(size_t i)
{
    static const char *const src[] = {"203.0.113.7", "2001:db8:bad::1"};
    static const char *const dst[] = {"198.18.0.1", "2001:db8:dead::9"};
    static const uint8_t protos[] = {PROTO_TCP, PROTO_UDP, PROTO_ICMP, PROTO_ICMPV6, 47};
    int v6 = (i / 3) % 2;
    uint8_t proto = protos[i % 5];
    struct flow f;

    f = mkflow(MS(T0 - 600) + (int64_t)i, MS(T0 - 600) + (int64_t)i * 2, 1 + i * 7919,
               src[v6], dst[v6], proto, (uint16_t)(1024 + i), (uint16_t)(i % 65536),
               (uint8_t)i, &exporters[i % 5]);
    /* a different address per flow, so an off-by-one record shows */
    f.dst.b[15] = (uint8_t)i;
    f.dst.b[14] = (uint8_t)(i >> 8);
    f.dst_value = addr_value(&f.dst);
    return f;
}

/* ---- round trip -------------------------------------------------------------- */

START_TEST(test_roundtrip_every_kind)
{
    char *dir = dir_path("every");
    struct exporter unknown_odid = exporters[4];
    struct flow f[32];
    size_t n = 0;
    struct archive *a;

    exporters_init();
    /* IPv4 TCP: SYN, SYN/ACK, every flag; exporters v4 and v6, odid 0, 7, 2^32-1 */
    f[n++] = mkflow(MS(T0 - 60), MS(T0 - 60), 1, "203.0.113.7", "198.18.0.1", PROTO_TCP, 40000,
                    23, 0x02, &exporters[0]);
    f[n++] = mkflow(MS(T0 - 59) + 1, MS(T0 - 30) + 999, 3, "203.0.113.8", "198.18.0.2",
                    PROTO_TCP, 80, 51234, 0x12, &exporters[1]);
    f[n++] = mkflow(MS(T0 - 58), MS(T0 - 58), 2, "203.0.113.9", "198.18.255.255", PROTO_TCP,
                    65535, 0, 0xff, &exporters[2]);
    f[n++] = mkflow(MS(T0 - 57), MS(T0 - 57), 1, "0.0.0.1", "198.18.0.3", PROTO_TCP, 1, 1, 0,
                    &exporters[3]);
    /* IPv4 UDP; packet counts beyond 32 bits, up to the top of 64 */
    f[n++] = mkflow(MS(T0 - 56), MS(T0 - 1), 5000000000ULL, "192.0.2.200", "198.18.1.1",
                    PROTO_UDP, 53, 2849, 0, &exporters[0]);
    f[n++] = mkflow(MS(T0 - 55), MS(T0 - 55), UINT64_MAX, "192.0.2.201", "198.18.1.2",
                    PROTO_UDP, 5060, 52290, 0, &exporters[2]);
    /* sampled 1 in 100 and 1 in 4096: packets already scaled when the collector archives */
    f[n] = mkflow(MS(T0 - 54), MS(T0 - 50), 100, "192.0.2.202", "198.18.1.3", PROTO_UDP, 1, 2,
                  0, &exporters[1]);
    f[n++].sampling = 100;
    f[n] = mkflow(MS(T0 - 54), MS(T0 - 54), 4096 * 3, "2001:db8::5", "2001:db8:dead::5",
                  PROTO_TCP, 1, 445, 0x02, &exporters[3]);
    f[n++].sampling = 4096;
    /* ICMP and ICMPv6 type/code, no ports */
    f[n++] = mkflow(MS(T0 - 53), MS(T0 - 53), 1, "192.0.2.9", "198.18.2.1", PROTO_ICMP, 0,
                    8 << 8 | 0, 0, &exporters[0]);
    f[n++] = mkflow(MS(T0 - 52), MS(T0 - 52), 1, "192.0.2.9", "198.18.2.2", PROTO_ICMP, 0,
                    3 << 8 | 13, 0, &exporters[2]);
    f[n++] = mkflow(MS(T0 - 51), MS(T0 - 51), 1, "2001:db8::9", "2001:db8:dead::1",
                    PROTO_ICMPV6, 0, 128 << 8 | 0, 0, &exporters[1]);
    f[n++] = mkflow(MS(T0 - 50), MS(T0 - 50), 1, "2001:db8::9", "2001:db8:dead::2",
                    PROTO_ICMPV6, 0, 1 << 8 | 4, 0, &exporters[3]);
    /* the other family's ICMP (a router's odd record): type/code still come back */
    f[n++] = mkflow(MS(T0 - 49), MS(T0 - 49), 1, "192.0.2.9", "198.18.2.3", PROTO_ICMPV6, 0,
                    135 << 8 | 0, 0, &exporters[0]);
    f[n++] = mkflow(MS(T0 - 48), MS(T0 - 48), 1, "2001:db8::9", "2001:db8:dead::3",
                    PROTO_ICMP, 0, 11 << 8 | 1, 0, &exporters[3]);
    /* IPv6 TCP and UDP; protocols without ports */
    f[n++] = mkflow(MS(T0 - 47), MS(T0 - 40), 9, "2001:db8::10", "2001:db8:dead::10",
                    PROTO_TCP, 44321, 22, 0x14, &exporters[0]);
    f[n++] = mkflow(MS(T0 - 46), MS(T0 - 46), 1, "2001:db8::11", "2001:db8:dead::11",
                    PROTO_UDP, 123, 123, 0, &exporters[2]);
    f[n++] = mkflow(MS(T0 - 45), MS(T0 - 45), 4, "192.0.2.12", "198.18.3.1", 47, 0, 0, 0,
                    &exporters[1]);
    f[n++] = mkflow(MS(T0 - 44), MS(T0 - 44), 4, "2001:db8::12", "2001:db8:dead::12", 50, 0, 0,
                    0, &exporters[2]);
    f[n++] = mkflow(MS(T0 - 43), MS(T0 - 43), 1, "192.0.2.13", "198.18.3.2", 0, 0, 0, 0,
                    &exporters[0]);
    /* unknown exporters: none at all, or an all-zero address with an odid */
    f[n++] = mkflow(MS(T0 - 42), MS(T0 - 42), 1, "192.0.2.14", "198.18.4.1", PROTO_UDP, 1, 2, 0,
                    NULL);
    f[n++] = mkflow(MS(T0 - 41), MS(T0 - 41), 1, "2001:db8::14", "2001:db8:dead::14",
                    PROTO_UDP, 1, 2, 0, &unknown_odid);
    /* an IPv4 flow without a source (norm leaves it all zero), an IPv4-mapped destination */
    f[n++] = mkflow(MS(T0 - 40), MS(T0 - 40), 1, NULL, "198.18.5.1", PROTO_UDP, 0, 137, 0,
                    &exporters[1]);
    f[n++] = mkflow(MS(T0 - 39), MS(T0 - 39), 1, "2001:db8::15", "::ffff:198.18.5.2",
                    PROTO_TCP, 1, 3389, 0x02, &exporters[2]);
    /* the far ends of time a flow can have */
    f[n++] = mkflow(MS(946684800), MS(946684800), 1, "192.0.2.16", "198.18.6.1", PROTO_UDP, 1,
                    2, 0, &exporters[0]);
    f[n++] = mkflow(MS(T0) + 999, MS(T0) + 86399999, 1, "192.0.2.17", "198.18.6.2", PROTO_UDP,
                    1, 2, 0, &exporters[3]);
    ck_assert_uint_le(n, sizeof(f) / sizeof(f[0]));

    a = open_ok(dir, 3600);
    for (size_t i = 0; i < n; i++)
        add_ok(a, &f[i], T0 + 1800);
    close_ok(a);
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z.ipfix");
    assert_file_holds(in_dir(dir, "darkstab-20151221T000000Z.ipfix"), f, n);
    free(dir);
}
END_TEST

/* Many flows: several messages, a data set per run of one template, every template. */
START_TEST(test_roundtrip_many_messages)
{
    char *dir = dir_path("many");
    size_t n = 20000;
    struct flow *f = calloc(n, sizeof(*f));
    struct archive *a;

    exporters_init();
    a = open_ok(dir, 3600);
    for (size_t i = 0; i < n; i++) {
        f[i] = bulk_flow(i);
        add_ok(a, &f[i], T0 + 1);
    }
    close_ok(a);
    assert_file_holds(in_dir(dir, "darkstab-20151221T000000Z.ipfix"), f, n);
    /* more than one message: 20000 records do not fit 64 KB */
    ck_assert_int_gt(file_size(in_dir(dir, "darkstab-20151221T000000Z.ipfix")), 65535 * 3);
    free(f);
    free(dir);
}
END_TEST

/*
 * No byte wasted: a file of one kind of flow is the template message, one
 * message header, one set header and the records, 48, 60, 72 or 84 bytes
 * each (IPv4 or IPv6 flow, IPv4 or IPv6 exporter).
 */
START_TEST(test_record_sizes)
{
    static const struct {
        const char *src, *dst;
        int exporter;
        off_t rec_len;
    } kinds[] = {
        {"192.0.2.1", "198.18.0.1", 0, 56},
        {"192.0.2.1", "198.18.0.1", 2, 68},
        {"2001:db8::1", "2001:db8:dead::1", 1, 80},
        {"2001:db8::1", "2001:db8:dead::1", 3, 92},
    };
    char name[64];

    exporters_init();
    for (size_t k = 0; k < 4; k++) {
        char *dir;
        struct archive *a;
        struct flow f[100];

        snprintf(name, sizeof(name), "sizes%zu", k);
        dir = dir_path(name);
        a = open_ok(dir, 3600);
        for (size_t i = 0; i < 100; i++) {
            f[i] = mkflow(MS(T0 - 100) + (int64_t)i, MS(T0 - 100) + (int64_t)i, i + 1,
                          kinds[k].src, kinds[k].dst, PROTO_UDP, (uint16_t)i, 53, 0,
                          &exporters[kinds[k].exporter]);
            add_ok(a, &f[i], T0);
        }
        close_ok(a);
        ck_assert_int_eq(file_size(in_dir(dir, "darkstab-20151221T000000Z.ipfix")),
                         TMPL_MSG + 16 + 4 + 100 * kinds[k].rec_len);
        assert_file_holds(in_dir(dir, "darkstab-20151221T000000Z.ipfix"), f, 100);
        free(dir);
    }
}
END_TEST

/* ---- rotation ---------------------------------------------------------------- */

START_TEST(test_rotation_names_and_parts)
{
    char *dir = dir_path("rotate");
    struct flow f[6];
    struct archive *a;

    /* names are in UTC whatever the local zone */
    setenv("TZ", "Asia/Tokyo", 1);
    tzset();
    exporters_init();
    for (size_t i = 0; i < 6; i++)
        f[i] = mkflow(MS(T0) + (int64_t)i, MS(T0) + (int64_t)i, i + 1, "192.0.2.1",
                      "198.18.0.1", PROTO_UDP, 1, (uint16_t)i, 0, &exporters[0]);
    a = open_ok(dir, 300);
    ck_assert_str_eq(listing(dir), "");
    /* 00:04:59: the period of 00:00 */
    add_ok(a, &f[0], T0 + 299);
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z.ipfix.part");
    /* 00:05:00 crosses the boundary: the first file is complete, the second open */
    add_ok(a, &f[1], T0 + 300);
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z.ipfix "
                                   "darkstab-20151221T000500Z.ipfix.part");
    /* a clock that steps back stays in the open file */
    add_ok(a, &f[2], T0 + 10);
    add_ok(a, &f[3], T0 + 599);
    /* an hour without flows makes no files; 01:07:30 is in the period of 01:05 */
    add_ok(a, &f[4], T0 + 4050);
    add_ok(a, &f[5], T0 + 4051);
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z.ipfix "
                                   "darkstab-20151221T000500Z.ipfix "
                                   "darkstab-20151221T010500Z.ipfix.part");
    close_ok(a);
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z.ipfix "
                                   "darkstab-20151221T000500Z.ipfix "
                                   "darkstab-20151221T010500Z.ipfix");
    assert_file_holds(in_dir(dir, "darkstab-20151221T000000Z.ipfix"), f, 1);
    assert_file_holds(in_dir(dir, "darkstab-20151221T000500Z.ipfix"), f + 1, 3);
    assert_file_holds(in_dir(dir, "darkstab-20151221T010500Z.ipfix"), f + 4, 2);

    /* a restart within a period never reopens a complete file */
    a = open_ok(dir, 300);
    add_ok(a, &f[0], T0 + 4100);
    close_ok(a);
    a = open_ok(dir, 300);
    add_ok(a, &f[1], T0 + 4101);
    close_ok(a);
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z.ipfix "
                                   "darkstab-20151221T000500Z.ipfix "
                                   "darkstab-20151221T010500Z-1.ipfix "
                                   "darkstab-20151221T010500Z-2.ipfix "
                                   "darkstab-20151221T010500Z.ipfix");
    assert_file_holds(in_dir(dir, "darkstab-20151221T010500Z.ipfix"), f + 4, 2);
    assert_file_holds(in_dir(dir, "darkstab-20151221T010500Z-2.ipfix"), f + 1, 1);

    /* daily files start at midnight UTC */
    free(dir);
    dir = dir_path("daily");
    a = open_ok(dir, 86400);
    add_ok(a, &f[0], T0 + 86399);
    add_ok(a, &f[1], T0 + 86400);
    close_ok(a);
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z.ipfix "
                                   "darkstab-20151222T000000Z.ipfix");
    free(dir);
}
END_TEST

/* The names archive_files() gives for [from, to], joined by spaces. */
static const char *
files_between(const char *dir, int64_t rotate, int64_t from, int64_t to)
{
    static char out[1024];
    struct archive_file *v;
    struct ds_error err;
    size_t n, used = 0;

    ck_assert_int_eq(archive_files(dir, rotate, from, to, &v, &n, &err), DS_OK);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *base = strrchr(v[i].path, '/') + 1;

        ck_assert_int_eq(v[i].growing, strstr(base, ".part") != NULL);
        used += (size_t)snprintf(out + used, sizeof(out) - used, "%s%s", i ? " " : "", base);
    }
    archive_files_free(v, n);
    return out;
}

/*
 * Reading the archive back (the collector's drill-down): the files whose
 * period meets a span, oldest first, the .part with them, nothing else.
 */
START_TEST(test_files_of_a_span)
{
    char *dir = dir_path("span");
    struct flow f;
    struct archive *a;
    struct ds_error err;
    struct archive_file *v;
    size_t n;

    exporters_init();
    f = mkflow(MS(T0), MS(T0), 1, "192.0.2.1", "198.18.0.1", PROTO_UDP, 1, 2, 0, &exporters[0]);
    a = open_ok(dir, 300);
    add_ok(a, &f, T0 + 10);         /* 00:00 */
    add_ok(a, &f, T0 + 310);        /* 00:05 */
    add_ok(a, &f, T0 + 3610);       /* 01:00, open */
    ck_assert_int_eq(archive_flush(a, &err), DS_OK);
    tu_write_file(in_dir(dir, "notes.txt"), "x", 1);
    tu_write_file(in_dir(dir, "darkstab-garbage.ipfix"), "x", 1);
    ck_assert_str_eq(files_between(dir, 300, T0, T0 + 3600),
                     "darkstab-20151221T000000Z.ipfix darkstab-20151221T000500Z.ipfix "
                     "darkstab-20151221T010000Z.ipfix.part");
    /* a period meets the span if it ends after from and starts by to */
    ck_assert_str_eq(files_between(dir, 300, T0 + 300, T0 + 599),
                     "darkstab-20151221T000500Z.ipfix");
    ck_assert_str_eq(files_between(dir, 300, T0 + 299, T0 + 300),
                     "darkstab-20151221T000000Z.ipfix darkstab-20151221T000500Z.ipfix");
    ck_assert_str_eq(files_between(dir, 300, T0 + 7200, T0 + 9000), "");
    close_ok(a);
    ck_assert_int_eq(archive_files(in_dir(dir, "nosuch"), 300, 0, T0, &v, &n, &err), DS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "nosuch"));
    free(dir);
}
END_TEST

/* A checkpoint's flush puts whole messages on disk: the .part reads as far as it goes. */
START_TEST(test_flush_makes_whole_messages)
{
    char *dir = dir_path("flush");
    char *part;
    struct flow f[300];
    struct ds_error err;
    struct archive *a;

    exporters_init();
    for (size_t i = 0; i < 300; i++)
        f[i] = bulk_flow(i);
    a = open_ok(dir, 3600);
    /* nothing written before the first flush: a buffered flow is not on disk yet */
    add_ok(a, &f[0], T0);
    part = xstrdup(in_dir(dir, "darkstab-20151221T000000Z.ipfix.part"));
    ck_assert_int_eq(file_size(part), 0);
    for (size_t i = 1; i < 100; i++)
        add_ok(a, &f[i], T0);
    ck_assert_int_eq(archive_flush(a, &err), DS_OK);
    assert_file_holds(part, f, 100);
    for (size_t i = 100; i < 250; i++)
        add_ok(a, &f[i], T0);
    assert_file_holds(part, f, 100);
    ck_assert_int_eq(archive_flush(a, &err), DS_OK);
    ck_assert_int_eq(archive_flush(a, &err), DS_OK);     /* nothing new: no empty message */
    assert_file_holds(part, f, 250);
    for (size_t i = 250; i < 300; i++)
        add_ok(a, &f[i], T0);
    close_ok(a);
    assert_file_holds(in_dir(dir, "darkstab-20151221T000000Z.ipfix"), f, 300);
    ck_assert_int_eq(archive_close(NULL, &err), DS_OK);
    free(part);
    free(dir);
}
END_TEST

static void
count_record(void *ctx, const struct ipfix_record *rec)
{
    (void)rec;
    (*(size_t *)ctx)++;
}

/*
 * Read while it is written (the collector reading a slot back): the .part's
 * last message may be half written.  growing reads the whole ones and says
 * nothing of the rest; without it, the half message is malformed.
 */
START_TEST(test_growing_part_reads_its_whole_messages)
{
    char *dir = dir_path("growing");
    const char *part;
    struct flow f[100];
    struct ds_error err;
    struct archive *a;
    struct ingest_stats stats;
    size_t records = 0;
    struct ingest_file_opts opts = {.fn = count_record, .ctx = &records, .growing = true};
    static const uint8_t half[] = {0x00, 0x0a, 0x05, 0xdc, 0x56, 0x77, 0x43, 0x80,
                                   0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00};
    FILE *fp;

    exporters_init();
    for (size_t i = 0; i < 100; i++)
        f[i] = bulk_flow(i);
    a = open_ok(dir, 3600);
    for (size_t i = 0; i < 100; i++)
        add_ok(a, &f[i], T0);
    ck_assert_int_eq(archive_flush(a, &err), DS_OK);
    part = in_dir(dir, "darkstab-20151221T000000Z.ipfix.part");
    /* the start of a message of 1500 bytes, as a write under way leaves it */
    fp = fopen(part, "ab");
    ck_assert_ptr_nonnull(fp);
    ck_assert_uint_eq(fwrite(half, 1, sizeof(half), fp), sizeof(half));
    ck_assert_int_eq(fclose(fp), 0);
    memset(&stats, 0, sizeof(stats));
    ck_assert_int_eq(ingest_file(part, &opts, &stats, NULL, &err), DS_OK);
    ck_assert_uint_eq(records, 100);
    ck_assert_uint_eq(stats.bad_messages, 0);
    records = 0;
    opts.growing = false;
    memset(&stats, 0, sizeof(stats));
    ck_assert_int_eq(ingest_file(part, &opts, &stats, NULL, &err), DS_OK);
    ck_assert_uint_eq(records, 100);
    ck_assert_uint_eq(stats.bad_messages, 1);
    close_ok(a);
    free(dir);
}
END_TEST

/* An unstable slot at start, with an (empty) drill-down, as the store thread hands it over. */
static struct slot_result
unstable_at(int64_t start)
{
    struct slot_result r;

    memset(&r, 0, sizeof(r));
    r.start = start;
    r.end = start + 3600;
    r.explain = xcalloc(1, sizeof(*r.explain));
    r.explain->start = r.start;
    r.explain->end = r.end;
    return r;
}

/*
 * The collector's read-back queue: a slot judged again before it was read
 * waits once, with its newer judgement; nothing is read before a later
 * checkpoint; stopping drops what waits, counted.
 */
START_TEST(test_reread_queue_keeps_one_job_a_slot)
{
    struct ds_cfg *cfg = tu_cfg("analyses:\n  - name: t\n    keys: [proto, dst_port]\n");
    struct archive_reread *ar = archive_reread_new(cfg, tu_path("rq"), 60);
    struct archive_reread_stats st;
    struct key_layout kl;
    struct slot_result r;

    key_layout_init(&kl, cfg->analyses[0].keys, cfg->analyses[0].n_keys);
    ck_assert_int_eq(mkdir(tu_path("rq"), 0750), 0);
    r = unstable_at(T0);
    archive_reread_push(ar, &cfg->analyses[0], &kl, 1, &r, 5, T0);
    ck_assert_ptr_null(r.explain);     /* moved */
    r = unstable_at(T0);
    archive_reread_push(ar, &cfg->analyses[0], &kl, 1, &r, 6, T0 + 10);
    r = unstable_at(T0 + 3600);
    archive_reread_push(ar, &cfg->analyses[0], &kl, 1, &r, 6, T0 + 20);
    /* another analysis' slot of the same start is a job of its own */
    r = unstable_at(T0);
    archive_reread_push(ar, &cfg->analyses[0], &kl, 2, &r, 6, T0 + 20);
    /* checkpoint 5 is not after any of them: nothing is read */
    archive_reread_checkpoint(ar, 5);
    archive_reread_stats(ar, &st);
    ck_assert_uint_eq(st.pending, 3);
    ck_assert_uint_eq(st.dropped, 0);
    archive_reread_stop(ar, 0);
    archive_reread_stats(ar, &st);
    ck_assert_uint_eq(st.pending + st.dropped + st.applied + st.kept, 3);
    archive_reread_free(ar);
    cfg_free(cfg);
}
END_TEST

/* ---- crashes ----------------------------------------------------------------- */

/*
 * A collector that dies: opens the archive in dir, archives flows [0, n),
 * flushes after the first flushed of them, and exits without closing.
 */
static void
crash_after(const char *dir, const struct flow *f, size_t flushed, size_t n, int64_t now_s)
{
    pid_t pid = fork();
    int status;

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct archive *a = NULL;
        struct ds_error err;

        if (archive_open(dir, 3600, &a, &err) != DS_OK)
            _exit(2);
        for (size_t i = 0; i < n; i++) {
            if (archive_add(a, &f[i], now_s, &err) != DS_OK)
                _exit(3);
            if (i + 1 == flushed && archive_flush(a, &err) != DS_OK)
                _exit(4);
        }
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
}

static void
append(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, p, len), (ssize_t)len);
    close(fd);
}

START_TEST(test_crash_leaves_whole_messages)
{
    char *dir = dir_path("crash");
    char part[1024], name[1024];
    struct flow f[3000];
    struct archive *a;
    off_t whole;
    /* what a write cut by the crash leaves: a header announcing 1000 bytes, 40 of them there */
    static const uint8_t torn[40] = {0x00, 0x0a, 0x03, 0xe8, 0x56, 0x77, 0x41, 0x40,
                                     0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00, 0x00,
                                     0x01, 0x00, 0x03, 0xd8, 0x00, 0x00, 0x01, 0x51};

    exporters_init();
    for (size_t i = 0; i < 3000; i++)
        f[i] = bulk_flow(i);
    /* 2000 flows flushed, 200 more buffered when the collector dies */
    crash_after(dir, f, 2000, 2200, T0 + 60);
    snprintf(part, sizeof(part), "%s", in_dir(dir, "darkstab-20151221T000000Z.ipfix.part"));
    snprintf(name, sizeof(name), "%s", in_dir(dir, "darkstab-20151221T000000Z.ipfix"));
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z.ipfix.part");
    whole = file_size(part);
    append(part, torn, sizeof(torn));

    /* opening again completes it: the torn message is cut, the flushed flows are all there */
    a = open_ok(dir, 3600);
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z.ipfix");
    ck_assert_int_eq(file_size(name), whole);
    assert_file_holds(name, f, 2000);
    /* and the archive goes on, in a new file for the same period */
    add_ok(a, &f[2999], T0 + 120);
    close_ok(a);
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z-1.ipfix "
                                   "darkstab-20151221T000000Z.ipfix");
    assert_file_holds(in_dir(dir, "darkstab-20151221T000000Z-1.ipfix"), f + 2999, 1);
    free(dir);
}
END_TEST

/* What a crash or a power cut can leave in a .part, and what becomes of it. */
START_TEST(test_recovery_of_damaged_parts)
{
    char *dir = dir_path("damaged");
    char path[1024];
    uint8_t zeros[5000];
    struct flow f[500];
    struct archive *a;
    off_t whole;

    exporters_init();
    memset(zeros, 0, sizeof(zeros));
    for (size_t i = 0; i < 500; i++)
        f[i] = bulk_flow(i);
    /* a power cut: blocks past the last flush read back as zeros */
    crash_after(dir, f, 500, 500, T0);
    snprintf(path, sizeof(path), "%s", in_dir(dir, "darkstab-20151221T000000Z.ipfix.part"));
    whole = file_size(path);
    append(path, zeros, sizeof(zeros));
    /* no whole message at all: empty, a header cut short, garbage */
    tu_write_file(in_dir(dir, "darkstab-20151221T010000Z.ipfix.part"), "", 0);
    tu_write_file(in_dir(dir, "darkstab-20151221T020000Z.ipfix.part"), "\x00\x0a\x00", 3);
    tu_write_file(in_dir(dir, "darkstab-20151221T030000Z.ipfix.part"), "garbage, not IPFIX",
                  18);
    /* not ours: left alone */
    tu_write_file(in_dir(dir, "other.ipfix.part"), "x", 1);

    a = open_ok(dir, 3600);
    close_ok(a);
    ck_assert_str_eq(listing(dir), "darkstab-20151221T000000Z.ipfix other.ipfix.part");
    ck_assert_int_eq(file_size(in_dir(dir, "darkstab-20151221T000000Z.ipfix")), whole);
    assert_file_holds(in_dir(dir, "darkstab-20151221T000000Z.ipfix"), f, 500);
    free(dir);
}
END_TEST

/* ---- errors ------------------------------------------------------------------ */

START_TEST(test_unusable_directory)
{
    struct archive *a = (struct archive *)&a;
    struct ds_error err;
    char sub[1024];
    struct stat st;
    mode_t mask;

    tu_write_file(tu_path("plainfile"), "x", 1);
    /* a directory below a regular file cannot be created */
    snprintf(sub, sizeof(sub), "%s/archive", tu_path("plainfile"));
    ck_assert_int_eq(archive_open(sub, 3600, &a, &err), DS_ERR_IO);
    ck_assert_ptr_null(a);
    ck_assert_msg(strstr(err.msg, sub) != NULL && strstr(err.msg, "Not a directory") != NULL,
                  "%s", err.msg);
    /* nor can a regular file serve as one */
    ck_assert_int_eq(archive_open(tu_path("plainfile"), 3600, &a, &err), DS_ERR_IO);
    ck_assert_msg(strstr(err.msg, "plainfile") != NULL &&
                      strstr(err.msg, "Not a directory") != NULL,
                  "%s", err.msg);
    ck_assert_int_eq(archive_open(tu_path("fine"), 0, &a, &err), DS_ERR_CONFIG);
    /* missing parents are created, mode 0750 (less the umask) */
    mask = umask(0);
    umask(mask);
    snprintf(sub, sizeof(sub), "%s/a/b/c", tu_path("deep"));
    a = open_ok(sub, 3600);
    close_ok(a);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0750 & ~mask);
    ck_assert_str_eq(listing(sub), "");
}
END_TEST

/*
 * The disk fills up (a file size limit stands in for it, for root as for
 * anyone): the write that does not fit fails part way, is cut back, its
 * flows are reported lost, and the file stays whole; once there is room
 * again the archive goes on in the same file.  No ck_assert while the limit
 * holds: Check records every passing one in a file of its own.
 */
START_TEST(test_disk_full)
{
    char *dir = dir_path("full");
    char part[1024];
    struct flow *f = calloc(6000, sizeof(*f));
    struct rlimit old, lim;
    struct ds_error err;
    struct archive *a;
    size_t failed_at = 0, lost;
    enum ds_rc rc = DS_OK;
    struct tu_decoded d;
    const char *p;

    exporters_init();
    for (size_t i = 0; i < 6000; i++)
        f[i] = bulk_flow(i);
    a = open_ok(dir, 3600);
    snprintf(part, sizeof(part), "%s", in_dir(dir, "darkstab-20151221T000000Z.ipfix.part"));
    signal(SIGXFSZ, SIG_IGN);
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 100000;
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        for (failed_at = 0; failed_at < 6000; failed_at++) {
            rc = archive_add(a, &f[failed_at], T0, &err);
            if (rc != DS_OK)
                break;
        }
        setrlimit(RLIMIT_FSIZE, &old);
    }
    ck_assert_int_eq(rc, DS_ERR_IO);
    ck_assert_msg(strstr(err.msg, part) != NULL && strstr(err.msg, "File too large") &&
                      strstr(err.msg, "flows lost"),
                  "%s", err.msg);
    /* the message that did not fit is lost; the ones before are whole on disk, nothing after */
    lost = strtoul(strrchr(err.msg, '(') + 1, NULL, 10);
    ck_assert_uint_gt(lost, 0);
    ck_assert_int_lt(file_size(part), 100000);
    tu_decode(part, &d);
    ck_assert_uint_eq(ingest_stats_malformed(&d.stats), 0);
    ck_assert_uint_eq(d.n, failed_at - lost);
    tu_decoded_free(&d);

    /* room again: the flow that came with the error was kept, and the rest follow */
    for (size_t i = failed_at + 1; i < 6000; i++)
        add_ok(a, &f[i], T0);
    close_ok(a);
    p = in_dir(dir, "darkstab-20151221T000000Z.ipfix");
    tu_decode(p, &d);
    ck_assert_uint_eq(ingest_stats_malformed(&d.stats), 0);
    ck_assert_uint_eq(d.n, 6000 - lost);
    for (size_t i = 0; i < d.n; i++)
        assert_same(&f[i < failed_at - lost ? i : i + lost], &d.flows[i], i);
    tu_decoded_free(&d);
    free(f);
    free(dir);
}
END_TEST

START_TEST(test_bad_flows_refused)
{
    char *dir = dir_path("bad");
    struct flow ok, bad;
    struct ds_error err;
    struct archive *a;

    exporters_init();
    ok = mkflow(MS(T0), MS(T0), 1, "192.0.2.1", "198.18.0.1", PROTO_UDP, 1, 2, 0, NULL);
    a = open_ok(dir, 3600);
    bad = ok;
    bad.start_ms = -1;
    ck_assert_int_eq(archive_add(a, &bad, T0, &err), DS_ERR_PARSE);
    ck_assert_msg(strstr(err.msg, "cannot be archived") != NULL, "%s", err.msg);
    bad = ok;
    bad.end_ms = bad.start_ms - 1;
    ck_assert_int_eq(archive_add(a, &bad, T0, &err), DS_ERR_PARSE);
    /* nothing of them written, the archive still works */
    ck_assert_str_eq(listing(dir), "");
    add_ok(a, &ok, T0);
    close_ok(a);
    assert_file_holds(in_dir(dir, "darkstab-20151221T000000Z.ipfix"), &ok, 1);
    free(dir);
}
END_TEST

static Suite *
archive_suite(void)
{
    Suite *s = suite_create("archive");
    TCase *tc;

    tc = tcase_create("roundtrip");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_roundtrip_every_kind);
    tcase_add_test(tc, test_roundtrip_many_messages);
    tcase_add_test(tc, test_record_sizes);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_rotation_names_and_parts);
    tcase_add_test(tc, test_files_of_a_span);
    tcase_add_test(tc, test_growing_part_reads_its_whole_messages);
    tcase_add_test(tc, test_reread_queue_keeps_one_job_a_slot);
    tcase_add_test(tc, test_flush_makes_whole_messages);
    tcase_add_test(tc, test_crash_leaves_whole_messages);
    tcase_add_test(tc, test_recovery_of_damaged_parts);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_unusable_directory);
    tcase_add_test(tc, test_disk_full);
    tcase_add_test(tc, test_bad_flows_refused);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    log_init(0, getenv("TU_VERBOSE") ? LOG_DEBUG : LOG_ERR, "test");
    return tu_run(archive_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
