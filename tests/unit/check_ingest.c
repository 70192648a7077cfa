/*
 * Tests of IPFIX ingest: decoding of the template layouts exporters use
 * (fixtures written by libfixbuf here), and survival of malformed input
 * (messages built byte by byte: the comment above each says what it holds).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ds/addr.h"
#include "ds/ingest.h"
#include "ds/proto.h"
#include "testutil.h"

#define T0_MS 1450000000000ULL /* 2015-12-13T09:46:40Z */
#define NTP_OFFSET 2208988800ULL

static uint32_t
ip4(const char *s)
{
    struct in_addr a;

    ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
    return ntohl(a.s_addr);
}

static const char *
dst_text(const struct flow *f)
{
    static char buf[ADDR_STRLEN];

    return addr_format(&f->dst, buf);
}

/* ---- layouts, written by libfixbuf ---- */

struct v4ms {
    uint64_t start_ms;
    uint64_t end_ms;
    uint64_t packets;
    uint32_t src;
    uint32_t dst;
    uint16_t sport;
    uint16_t dport;
    uint8_t proto;
    uint8_t flags;
    uint8_t pad[6];
};

static fbInfoElementSpec_t spec_v4ms[] = {
    {"flowStartMilliseconds", 8, 0}, {"flowEndMilliseconds", 8, 0},
    {"packetDeltaCount", 8, 0},      {"sourceIPv4Address", 4, 0},
    {"destinationIPv4Address", 4, 0}, {"sourceTransportPort", 2, 0},
    {"destinationTransportPort", 2, 0}, {"protocolIdentifier", 1, 0},
    {"tcpControlBits", 1, 0},        {"paddingOctets", 6, 0},
    FB_IESPEC_NULL,
};

static void
write_v4ms(const char *path, size_t n)
{
    struct tu_fb w;

    tu_fb_open(&w, path);
    tu_fb_template(&w, 300, spec_v4ms, 0);
    for (size_t i = 0; i < n; i++) {
        struct v4ms r = {T0_MS + i * 1000, T0_MS + i * 1000 + 500, 1 + i % 5,
                         ip4("203.0.113.7") + (uint32_t)i, ip4("198.18.0.0") + (uint32_t)i,
                         (uint16_t)(40000 + i), (uint16_t)(i % 3 ? 445 : 23), PROTO_TCP, 0x02,
                         {0}};

        tu_fb_record(&w, 300, &r, sizeof(r));
    }
    tu_fb_close(&w);
}

START_TEST(test_layout_ipv4_milliseconds)
{
    struct tu_decoded d;

    write_v4ms(tu_path("v4ms.ipfix"), 1000);
    tu_decode(tu_path("v4ms.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_eq(d.n, 1000);
    ck_assert_uint_eq(d.stats.records, 1000);
    ck_assert_uint_eq(ingest_stats_malformed(&d.stats), 0);
    ck_assert_int_eq(d.flows[7].start_ms, (int64_t)(T0_MS + 7000));
    ck_assert_int_eq(d.flows[7].end_ms, (int64_t)(T0_MS + 7500));
    ck_assert_uint_eq(d.flows[7].packets, 3);
    ck_assert_str_eq(dst_text(&d.flows[7]), "198.18.0.7");
    ck_assert_uint_eq(d.flows[7].dst_port, 445);
    ck_assert_uint_eq(d.flows[9].dst_port, 23);
    ck_assert_uint_eq(d.flows[7].tcp_flags, 0x02);
    ck_assert_uint_eq(d.flows[7].ip_version, 4);
    tu_decoded_free(&d);
}
END_TEST

/* IPv6, seconds, reduced-size packet counter and ports (RFC 7011 6.2) */
struct v6s {
    uint8_t src[16];
    uint8_t dst[16];
    uint32_t start_s;
    uint32_t packets;   /* packetDeltaCount in 4 bytes */
    uint16_t dport;
    uint8_t proto;
    uint8_t pad;
};

static fbInfoElementSpec_t spec_v6s[] = {
    {"sourceIPv6Address", 16, 0},     {"destinationIPv6Address", 16, 0},
    {"flowStartSeconds", 4, 0},       {"packetDeltaCount", 4, 0},
    {"destinationTransportPort", 2, 0}, {"protocolIdentifier", 1, 0},
    {"paddingOctets", 1, 0},          FB_IESPEC_NULL,
};

START_TEST(test_layout_ipv6_seconds_reduced_size)
{
    struct tu_fb w;
    struct tu_decoded d;
    struct v6s r;
    char buf[ADDR_STRLEN];

    memset(&r, 0, sizeof(r));
    inet_pton(AF_INET6, "2001:db8::1", r.src);
    inet_pton(AF_INET6, "2001:db8:dead::42", r.dst);
    r.start_s = (uint32_t)(T0_MS / 1000);
    r.packets = 4000000000u;
    r.dport = 53;
    r.proto = PROTO_UDP;
    tu_fb_open(&w, tu_path("v6s.ipfix"));
    tu_fb_template(&w, 301, spec_v6s, 0);
    tu_fb_record(&w, 301, &r, sizeof(r));
    tu_fb_close(&w);

    tu_decode(tu_path("v6s.ipfix"), &d);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_str_eq(addr_format(&d.flows[0].dst, buf), "2001:db8:dead::42");
    ck_assert_str_eq(addr_format(&d.flows[0].src, buf), "2001:db8::1");
    ck_assert_uint_eq(d.flows[0].ip_version, 6);
    ck_assert_uint_eq(d.flows[0].packets, 4000000000u);
    ck_assert_int_eq(d.flows[0].start_ms, (int64_t)(T0_MS / 1000 * 1000));
    ck_assert_int_eq(d.flows[0].end_ms, d.flows[0].start_ms);
    ck_assert_uint_eq(d.flows[0].dst_port, 53);
    tu_decoded_free(&d);
}
END_TEST

/* packetTotalCount only (YAF); NTP micro- and nanosecond times */
struct tot {
    uint64_t start_us;
    uint64_t end_ns;
    uint64_t total;
    uint32_t dst;
    uint8_t proto;
    uint8_t pad[3];
};

static fbInfoElementSpec_t spec_tot[] = {
    {"flowStartMicroseconds", 8, 0}, {"flowEndNanoseconds", 8, 0},
    {"packetTotalCount", 8, 0},      {"destinationIPv4Address", 4, 0},
    {"protocolIdentifier", 1, 0},    {"paddingOctets", 3, 0},
    FB_IESPEC_NULL,
};

START_TEST(test_layout_total_count_ntp_times)
{
    struct tu_fb w;
    struct tu_decoded d;
    struct tot r;
    uint64_t sec = T0_MS / 1000 + NTP_OFFSET;

    memset(&r, 0, sizeof(r));
    r.start_us = sec << 32 | 0x80000000u; /* + 0.5 s */
    r.end_ns = (sec + 2) << 32 | 0x40000000u; /* + 2.25 s */
    r.total = 17;
    r.dst = ip4("198.18.1.1");
    r.proto = 47;
    tu_fb_open(&w, tu_path("tot.ipfix"));
    tu_fb_template(&w, 302, spec_tot, 0);
    tu_fb_record(&w, 302, &r, sizeof(r));
    tu_fb_close(&w);

    tu_decode(tu_path("tot.ipfix"), &d);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_uint_eq(d.flows[0].packets, 17);
    ck_assert_int_eq(d.flows[0].start_ms, (int64_t)(T0_MS + 500));
    ck_assert_int_eq(d.flows[0].end_ms, (int64_t)(T0_MS + 2250));
    ck_assert_uint_eq(d.flows[0].proto, 47);
    ck_assert_uint_eq(d.flows[0].dst_port, 0);
    tu_decoded_free(&d);
}
END_TEST

/*
 * flowStartSysUpTime with systemInitTimeMilliseconds announced in an
 * options record; sampling announced per observation domain.
 */
struct opt_rec {
    uint64_t sysinit;
    uint32_t domain;
    uint32_t interval;
};

static fbInfoElementSpec_t spec_opt[] = {
    {"observationDomainId", 4, 0}, {"systemInitTimeMilliseconds", 8, 0},
    {"samplingInterval", 4, 0},    FB_IESPEC_NULL,
};

struct opt_packed {
    uint32_t domain;
    uint64_t sysinit;
    uint32_t interval;
} __attribute__((packed));

struct upt {
    uint32_t start_up;
    uint32_t end_up;
    uint32_t dst;
    uint32_t packets;
};

static fbInfoElementSpec_t spec_upt[] = {
    {"flowStartSysUpTime", 4, 0},    {"flowEndSysUpTime", 4, 0},
    {"destinationIPv4Address", 4, 0}, {"packetDeltaCount", 4, 0},
    FB_IESPEC_NULL,
};

START_TEST(test_layout_sysuptime_and_sampling_per_domain)
{
    struct tu_fb w;
    struct tu_decoded d;
    struct opt_packed o;
    struct upt r;

    tu_fb_open(&w, tu_path("upt.ipfix"));
    /* domain 1: system init announced, sampling 1 in 100 */
    tu_fb_domain(&w, 1);
    tu_fb_template(&w, 400, spec_opt, 1);
    tu_fb_template(&w, 401, spec_upt, 0);
    o.domain = 1;
    o.sysinit = T0_MS - 60000;
    o.interval = 100;
    tu_fb_record(&w, 400, &o, sizeof(o));
    r.start_up = 60000;
    r.end_up = 61000;
    r.dst = ip4("198.18.2.2");
    r.packets = 3;
    tu_fb_record(&w, 401, &r, sizeof(r));
    /* domain 2: its own templates, no sampling, other system init */
    tu_fb_domain(&w, 2);
    tu_fb_template(&w, 400, spec_opt, 1);
    tu_fb_template(&w, 401, spec_upt, 0);
    o.domain = 2;
    o.sysinit = T0_MS;
    o.interval = 0;
    tu_fb_record(&w, 400, &o, sizeof(o));
    r.start_up = 5000;
    r.end_up = 5000;
    tu_fb_record(&w, 401, &r, sizeof(r));
    tu_fb_close(&w);

    tu_decode(tu_path("upt.ipfix"), &d);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_uint_eq(d.stats.options_records, 2);
    ck_assert_uint_eq(d.stats.records, 2);
    ck_assert_int_eq(d.flows[0].start_ms, (int64_t)T0_MS);
    ck_assert_int_eq(d.flows[0].end_ms, (int64_t)(T0_MS + 1000));
    ck_assert_uint_eq(d.flows[0].packets, 300);
    ck_assert_uint_eq(d.flows[0].sampling, 100);
    ck_assert_uint_eq(d.flows[0].exporter->odid, 1);
    ck_assert_int_eq(d.flows[1].start_ms, (int64_t)(T0_MS + 5000));
    ck_assert_uint_eq(d.flows[1].packets, 3);
    ck_assert_uint_eq(d.flows[1].exporter->odid, 2);
    tu_decoded_free(&d);
}
END_TEST

/* ICMP type and code from icmpTypeCodeIPv4 */
struct icmp_rec {
    uint64_t start_ms;
    uint32_t dst;
    uint16_t tc;
    uint8_t proto;
    uint8_t pad;
};

static fbInfoElementSpec_t spec_icmp[] = {
    {"flowStartMilliseconds", 8, 0}, {"destinationIPv4Address", 4, 0},
    {"icmpTypeCodeIPv4", 2, 0},      {"protocolIdentifier", 1, 0},
    {"paddingOctets", 1, 0},         FB_IESPEC_NULL,
};

START_TEST(test_layout_icmp_type_code)
{
    struct tu_fb w;
    struct tu_decoded d;
    struct icmp_rec r = {T0_MS, 0, 0x0301, PROTO_ICMP, 0};

    r.dst = ip4("198.18.3.3");
    tu_fb_open(&w, tu_path("icmp.ipfix"));
    tu_fb_template(&w, 303, spec_icmp, 0);
    tu_fb_record(&w, 303, &r, sizeof(r));
    tu_fb_close(&w);
    tu_decode(tu_path("icmp.ipfix"), &d);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_uint_eq(d.flows[0].icmp_type, 3);
    ck_assert_uint_eq(d.flows[0].icmp_code, 1);
    ck_assert_uint_eq(d.flows[0].dst_port, 0);
    tu_decoded_free(&d);
}
END_TEST

/* ---- messages built by hand ---- */

static void
basic_message(struct tu_msg *m, uint32_t domain, int with_template, size_t records, uint32_t first)
{
    tu_msg_begin(m, (uint32_t)(T0_MS / 1000), 0, domain);
    if (with_template) {
        tu_set_begin(m, 2);
        tu_template_basic(m);
        tu_set_end(m);
    }
    if (records > 0) {
        tu_set_begin(m, TU_TID_BASIC);
        for (size_t i = 0; i < records; i++)
            tu_record_basic(m, T0_MS + 1000 * (first + i), 1, ip4("192.0.2.1"),
                            ip4("198.18.0.1") + first + (uint32_t)i, 1024, 80, PROTO_TCP);
        tu_set_end(m);
    }
    tu_msg_end(m);
}

/* Appends messages to a growing byte buffer. */
struct bytes {
    uint8_t b[1 << 20];
    size_t n;
};

static void
append(struct bytes *out, const void *p, size_t n)
{
    ck_assert(out->n + n <= sizeof(out->b));
    memcpy(out->b + out->n, p, n);
    out->n += n;
}

static struct bytes buf;
static struct tu_msg msg;

START_TEST(test_template_withdrawn_and_redefined)
{
    /*
     * 1: template 256 (basic) and 2 records
     * 2: withdrawal of 256 (field count 0), then a data set for 256: dropped
     * 3: 256 redefined with dst address first, 1 record of the new layout
     */
    static const uint16_t swapped[] = {12, 4, 152, 8, 2, 8, 4, 1};
    struct tu_decoded d;

    buf.n = 0;
    basic_message(&msg, 1, 1, 2, 0);
    append(&buf, msg.b, msg.len);
    tu_msg_begin(&msg, 0, 0, 1);
    tu_set_begin(&msg, 2);
    tu_u16(&msg, TU_TID_BASIC);
    tu_u16(&msg, 0);
    tu_set_end(&msg);
    tu_set_begin(&msg, TU_TID_BASIC);
    tu_record_basic(&msg, T0_MS, 1, 1, 2, 3, 4, PROTO_TCP);
    tu_set_end(&msg);
    tu_msg_end(&msg);
    append(&buf, msg.b, msg.len);
    tu_msg_begin(&msg, 0, 0, 1);
    tu_set_begin(&msg, 2);
    tu_template(&msg, TU_TID_BASIC, 4, swapped);
    tu_set_end(&msg);
    tu_set_begin(&msg, TU_TID_BASIC);
    tu_u32(&msg, ip4("198.18.9.9"));
    tu_u64(&msg, T0_MS + 9000);
    tu_u64(&msg, 9);
    tu_u8(&msg, PROTO_UDP);
    tu_set_end(&msg);
    tu_msg_end(&msg);
    append(&buf, msg.b, msg.len);
    tu_write_file(tu_path("withdraw.ipfix"), buf.b, buf.n);

    tu_decode(tu_path("withdraw.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_uint_eq(d.stats.unknown_template_sets, 1);
    ck_assert_str_eq(dst_text(&d.flows[2]), "198.18.9.9");
    ck_assert_uint_eq(d.flows[2].packets, 9);
    ck_assert_uint_eq(d.flows[2].proto, PROTO_UDP);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_layout_redefined_within_a_message)
{
    /*
     * One message: template 300 with a repeated source address (the first
     * counts, as libfixbuf takes it), a reduced-size packet count and
     * padding; two records and three bytes of set padding; then 300
     * redefined, and a record of the new layout.  Sets are decoded in
     * order: the first records keep the first layout.
     */
    static const uint16_t first[] = {12, 4, 8, 4, 8, 4, 2, 2, 152, 8, 4, 1, 210, 3};
    static const uint16_t second[] = {152, 8, 12, 4, 4, 1, 2, 4};
    struct tu_decoded d;

    tu_msg_begin(&msg, (uint32_t)(T0_MS / 1000), 0, 7);
    tu_set_begin(&msg, 2);
    tu_template(&msg, 300, 7, first);
    tu_set_end(&msg);
    tu_set_begin(&msg, 300);
    for (uint32_t i = 0; i < 2; i++) {
        tu_u32(&msg, ip4("198.18.0.10") + i);
        tu_u32(&msg, ip4("192.0.2.1"));
        tu_u32(&msg, ip4("192.0.2.99"));
        tu_u16(&msg, (uint16_t)(700 + i));
        tu_u64(&msg, T0_MS + i);
        tu_u8(&msg, PROTO_UDP);
        tu_bytes(&msg, "\0\0\0", 3);
    }
    tu_bytes(&msg, "\0\0\0", 3);
    tu_set_end(&msg);
    tu_set_begin(&msg, 2);
    tu_template(&msg, 300, 4, second);
    tu_set_end(&msg);
    tu_set_begin(&msg, 300);
    tu_u64(&msg, T0_MS + 5);
    tu_u32(&msg, ip4("198.18.0.77"));
    tu_u8(&msg, PROTO_TCP);
    tu_u32(&msg, 123456);
    tu_set_end(&msg);
    tu_msg_end(&msg);
    tu_write_file(tu_path("redefined.ipfix"), msg.b, msg.len);

    tu_decode(tu_path("redefined.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_uint_eq(ingest_stats_malformed(&d.stats), 0);
    ck_assert_str_eq(dst_text(&d.flows[0]), "198.18.0.10");
    ck_assert_str_eq(dst_text(&d.flows[1]), "198.18.0.11");
    ck_assert_uint_eq(addr_v4(&d.flows[1].src), ip4("192.0.2.1"));
    ck_assert_uint_eq(d.flows[0].packets, 700);
    ck_assert_uint_eq(d.flows[1].packets, 701);
    ck_assert_int_eq(d.flows[1].start_ms, T0_MS + 1);
    ck_assert_str_eq(dst_text(&d.flows[2]), "198.18.0.77");
    ck_assert_uint_eq(d.flows[2].packets, 123456);
    ck_assert_uint_eq(d.flows[2].proto, PROTO_TCP);
    ck_assert_int_eq(d.flows[2].start_ms, T0_MS + 5);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_truncated_file)
{
    /* two messages of 10 records; the file ends 7 bytes into the second's last record */
    struct tu_decoded d;

    buf.n = 0;
    basic_message(&msg, 1, 1, 10, 0);
    append(&buf, msg.b, msg.len);
    basic_message(&msg, 1, 0, 10, 10);
    append(&buf, msg.b, msg.len - 30);
    tu_write_file(tu_path("trunc.ipfix"), buf.b, buf.n);
    tu_decode(tu_path("trunc.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_OK);
    /* the cut set overruns what is there: its records are not trusted */
    ck_assert_uint_eq(d.n, 10);
    ck_assert_uint_ge(d.stats.bad_messages, 1);
    ck_assert_uint_ge(ingest_stats_malformed(&d.stats), 2);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_garbage_then_messages)
{
    /* 1000 bytes of pseudo-random garbage, then two good messages: resynchronised */
    struct tu_decoded d;
    unsigned seed = 7;

    buf.n = 0;
    for (int i = 0; i < 1000; i++) {
        uint8_t c = (uint8_t)rand_r(&seed);

        append(&buf, &c, 1);
    }
    basic_message(&msg, 1, 1, 5, 0);
    append(&buf, msg.b, msg.len);
    basic_message(&msg, 1, 0, 5, 5);
    append(&buf, msg.b, msg.len);
    tu_write_file(tu_path("garbage.ipfix"), buf.b, buf.n);
    tu_decode(tu_path("garbage.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_eq(d.n, 10);
    ck_assert_uint_eq(d.stats.skipped_bytes, 1000);
    ck_assert_uint_ge(d.stats.bad_messages, 1);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_length_too_long)
{
    /* message 1 claims to include message 2; the sets say where it ends */
    struct tu_decoded d;
    size_t first;

    buf.n = 0;
    basic_message(&msg, 1, 1, 5, 0);
    first = buf.n;
    append(&buf, msg.b, msg.len);
    basic_message(&msg, 1, 0, 5, 5);
    append(&buf, msg.b, msg.len);
    buf.b[first + 2] = (uint8_t)(buf.n >> 8);
    buf.b[first + 3] = (uint8_t)buf.n;
    tu_write_file(tu_path("long.ipfix"), buf.b, buf.n);
    tu_decode(tu_path("long.ipfix"), &d);
    ck_assert_uint_eq(d.n, 10);
    ck_assert_uint_eq(d.stats.bad_messages, 1);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_length_too_short)
{
    /*
     * message 1 claims 30 bytes less than it has, but its sets run on to
     * where message 2 starts: the sets win and nothing is lost
     */
    struct tu_decoded d;

    buf.n = 0;
    basic_message(&msg, 1, 1, 5, 0);
    msg.b[3] = (uint8_t)(msg.len - 30);
    msg.b[2] = (uint8_t)((msg.len - 30) >> 8);
    append(&buf, msg.b, msg.len);
    basic_message(&msg, 1, 0, 5, 5);
    append(&buf, msg.b, msg.len);
    tu_write_file(tu_path("short.ipfix"), buf.b, buf.n);
    tu_decode(tu_path("short.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_eq(d.n, 10);
    ck_assert_uint_eq(d.stats.bad_messages, 1);
    ck_assert_uint_eq(d.stats.skipped_bytes, 0);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_length_lies_and_set_is_cut)
{
    /*
     * message 1 claims 30 bytes less and is followed by garbage instead of
     * a message: its last set overruns the claimed length and is dropped,
     * the garbage skipped up to message 2
     */
    struct tu_decoded d;
    static const uint8_t junk[17] = {1, 2, 3};

    buf.n = 0;
    basic_message(&msg, 1, 1, 5, 0);
    msg.b[3] = (uint8_t)(msg.len - 30);
    msg.b[2] = (uint8_t)((msg.len - 30) >> 8);
    append(&buf, msg.b, msg.len - 30);
    append(&buf, junk, sizeof(junk));
    basic_message(&msg, 1, 0, 5, 5);
    append(&buf, msg.b, msg.len);
    tu_write_file(tu_path("short2.ipfix"), buf.b, buf.n);
    tu_decode(tu_path("short2.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_eq(d.n, 5);
    ck_assert_uint_eq(d.stats.bad_sets, 1);
    ck_assert_uint_eq(d.stats.skipped_bytes, 17);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_set_overruns_message)
{
    /* template set, then a data set whose length says 500 bytes with 20 left */
    struct tu_decoded d;

    tu_msg_begin(&msg, (uint32_t)(T0_MS / 1000), 0, 1);
    tu_set_begin(&msg, 2);
    tu_template_basic(&msg);
    tu_set_end(&msg);
    tu_u16(&msg, TU_TID_BASIC);
    tu_u16(&msg, 500);
    tu_record_basic(&msg, T0_MS, 1, 1, ip4("198.18.0.1"), 1, 2, PROTO_TCP);
    tu_msg_end(&msg);
    tu_write_file(tu_path("overrun.ipfix"), msg.b, msg.len);
    tu_decode(tu_path("overrun.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_eq(d.n, 0);
    ck_assert_uint_eq(d.stats.bad_sets, 1);
    ck_assert_uint_eq(d.stats.templates, 1);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_absurd_field_count)
{
    /* template 257 claims 60000 fields in a 12-byte set; then a good message */
    struct tu_decoded d;

    buf.n = 0;
    tu_msg_begin(&msg, 0, 0, 1);
    tu_set_begin(&msg, 2);
    tu_u16(&msg, 257);
    tu_u16(&msg, 60000);
    tu_u16(&msg, 8);
    tu_u16(&msg, 4);
    tu_set_end(&msg);
    tu_msg_end(&msg);
    append(&buf, msg.b, msg.len);
    basic_message(&msg, 1, 1, 3, 0);
    append(&buf, msg.b, msg.len);
    tu_write_file(tu_path("fields.ipfix"), buf.b, buf.n);
    tu_decode(tu_path("fields.ipfix"), &d);
    ck_assert_uint_eq(d.n, 3);
    ck_assert_uint_eq(d.stats.bad_templates, 1);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_zero_length_fields)
{
    /*
     * template 258: dst4 (4), flowStartMilliseconds (0), packetDeltaCount (8),
     * flowStartMilliseconds again (8): the zero-length field is removed and
     * the records decode; template 259 of one zero-length field is refused
     * and its data dropped (libfixbuf 2.4.1 would loop for ever on it).
     */
    static const uint16_t t258[] = {12, 4, 152, 0, 2, 8, 152, 8};
    static const uint16_t t259[] = {152, 0};
    struct tu_decoded d;

    tu_msg_begin(&msg, (uint32_t)(T0_MS / 1000), 0, 1);
    tu_set_begin(&msg, 2);
    tu_template(&msg, 258, 4, t258);
    tu_template(&msg, 259, 1, t259);
    tu_set_end(&msg);
    tu_set_begin(&msg, 258);
    tu_u32(&msg, ip4("198.18.5.5"));
    tu_u64(&msg, 6);
    tu_u64(&msg, T0_MS + 5);
    tu_set_end(&msg);
    tu_set_begin(&msg, 259);
    tu_u32(&msg, 0);
    tu_set_end(&msg);
    tu_msg_end(&msg);
    tu_write_file(tu_path("zero.ipfix"), msg.b, msg.len);
    tu_decode(tu_path("zero.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_uint_eq(d.flows[0].packets, 6);
    ck_assert_int_eq(d.flows[0].start_ms, (int64_t)(T0_MS + 5));
    ck_assert_uint_eq(d.stats.bad_templates, 1);
    ck_assert_uint_eq(d.stats.unknown_template_sets, 1);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_field_length_we_cannot_hold)
{
    /* destinationIPv4Address sent in 2 bytes: ignored, record has no destination */
    static const uint16_t t[] = {12, 2, 152, 8, 2, 8};
    struct tu_decoded d;

    tu_msg_begin(&msg, (uint32_t)(T0_MS / 1000), 0, 1);
    tu_set_begin(&msg, 2);
    tu_template(&msg, 260, 3, t);
    tu_set_end(&msg);
    tu_set_begin(&msg, 260);
    tu_u16(&msg, 0x0102);
    tu_u64(&msg, T0_MS);
    tu_u64(&msg, 1);
    tu_set_end(&msg);
    tu_msg_end(&msg);
    tu_write_file(tu_path("len2.ipfix"), msg.b, msg.len);
    tu_decode(tu_path("len2.ipfix"), &d);
    ck_assert_uint_eq(d.stats.records, 1);
    ck_assert_uint_eq(d.n, 0);
    ck_assert_uint_eq(d.norm.no_addr, 1);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_varlen_record_cut)
{
    /*
     * template 261: dst4, varlen paddingOctets, flowStartMilliseconds
     * (at least 13 bytes a record); records: one whole (varlen of 3 bytes),
     * one whose varlen claims 200 bytes with 12 left in the set
     */
    static const uint16_t t[] = {12, 4, 210, 65535, 152, 8};
    struct tu_decoded d;

    tu_msg_begin(&msg, (uint32_t)(T0_MS / 1000), 0, 1);
    tu_set_begin(&msg, 2);
    tu_template(&msg, 261, 3, t);
    tu_set_end(&msg);
    tu_set_begin(&msg, 261);
    tu_u32(&msg, ip4("198.18.6.6"));
    tu_u8(&msg, 3);
    tu_u8(&msg, 1);
    tu_u8(&msg, 2);
    tu_u8(&msg, 3);
    tu_u64(&msg, T0_MS);
    tu_u32(&msg, ip4("198.18.6.7"));
    tu_u8(&msg, 200);
    tu_u64(&msg, 0);
    tu_u32(&msg, 0);
    tu_set_end(&msg);
    tu_msg_end(&msg);
    tu_write_file(tu_path("varlen.ipfix"), msg.b, msg.len);
    tu_decode(tu_path("varlen.ipfix"), &d);
    ck_assert_uint_eq(d.n, 1);
    ck_assert_str_eq(dst_text(&d.flows[0]), "198.18.6.6");
    ck_assert_uint_eq(d.stats.bad_records, 1);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_options_scope_and_reserved_ids)
{
    /*
     * options template 262 with scope count 0 (refused), template id 5
     * (below 256: rest of the set dropped), set id 7 (reserved: dropped);
     * then a good message still decodes
     */
    struct tu_decoded d;

    buf.n = 0;
    tu_msg_begin(&msg, 0, 0, 1);
    tu_set_begin(&msg, 3);
    tu_u16(&msg, 262);
    tu_u16(&msg, 1);
    tu_u16(&msg, 0);
    tu_u16(&msg, 149);
    tu_u16(&msg, 4);
    tu_set_end(&msg);
    tu_set_begin(&msg, 2);
    tu_u16(&msg, 5);
    tu_u16(&msg, 1);
    tu_u16(&msg, 8);
    tu_u16(&msg, 4);
    tu_set_end(&msg);
    tu_set_begin(&msg, 7);
    tu_u32(&msg, 0);
    tu_set_end(&msg);
    tu_msg_end(&msg);
    append(&buf, msg.b, msg.len);
    basic_message(&msg, 1, 1, 2, 0);
    append(&buf, msg.b, msg.len);
    tu_write_file(tu_path("scope.ipfix"), buf.b, buf.n);
    tu_decode(tu_path("scope.ipfix"), &d);
    ck_assert_uint_eq(d.n, 2);
    ck_assert_uint_eq(d.stats.bad_templates, 2);
    ck_assert_uint_ge(d.stats.bad_sets, 2);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_crashers_of_libfixbuf)
{
    struct tu_decoded d;

    tu_decode("tests/data/crashers/libfixbuf-hang-zero-length-field.ipfix", &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_eq(d.stats.messages, 2);
    ck_assert_uint_eq(d.stats.bad_templates, 1);
    ck_assert_uint_eq(d.stats.unknown_template_sets, 1);
    tu_decoded_free(&d);
    tu_decode("tests/data/crashers/libfixbuf-segv-zero-length-field.ipfix", &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_gt(ingest_stats_malformed(&d.stats), 100);
    tu_decoded_free(&d);
}
END_TEST

START_TEST(test_bad_mutations_never_crash)
{
    /*
     * A valid file of templates and records, mutated at random bytes a
     * thousand times: every run must end (CK_FORK and the test timeout catch
     * a crash or a hang), and a record takes at least one byte.
     */
    static const uint16_t vl[] = {12, 4, 210, 65535, 2, 4};
    struct bytes *orig = malloc(sizeof(*orig));
    unsigned seed = 42;

    ck_assert_ptr_nonnull(orig);
    orig->n = 0;
    basic_message(&msg, 1, 1, 20, 0);
    append(orig, msg.b, msg.len);
    tu_msg_begin(&msg, 0, 0, 2);
    tu_set_begin(&msg, 2);
    tu_template(&msg, 270, 3, vl);
    tu_set_end(&msg);
    tu_set_begin(&msg, 270);
    for (int i = 0; i < 10; i++) {
        tu_u32(&msg, ip4("198.18.7.0") + (uint32_t)i);
        tu_u8(&msg, 2);
        tu_u16(&msg, 0xabcd);
        tu_u32(&msg, 1);
    }
    tu_set_end(&msg);
    tu_msg_end(&msg);
    append(orig, msg.b, msg.len);
    for (int iter = 0; iter < 1000; iter++) {
        struct tu_decoded d;
        int flips = 1 + rand_r(&seed) % 8;

        memcpy(buf.b, orig->b, orig->n);
        buf.n = orig->n;
        for (int f = 0; f < flips; f++)
            buf.b[(size_t)rand_r(&seed) % buf.n] = (uint8_t)rand_r(&seed);
        if (iter % 10 == 0)
            buf.n = (size_t)rand_r(&seed) % buf.n;
        tu_write_file(tu_path("mut.ipfix"), buf.b, buf.n);
        tu_decode(tu_path("mut.ipfix"), &d);
        ck_assert_uint_le(d.stats.records + d.stats.options_records, buf.n);
        ck_assert_uint_le(d.n, d.stats.records);
        tu_decoded_free(&d);
    }
    free(orig);
}
END_TEST

START_TEST(test_inputs_that_cannot_be_read)
{
    struct tu_decoded d;

    tu_decode(tu_path("does-not-exist.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(d.err, "does-not-exist.ipfix: cannot open"));
    tu_decode("tests", &d);
    ck_assert_int_eq(d.rc, DS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(d.err, "is a directory"));
    tu_write_file(tu_path("text.ipfix"), "hello, this is not IPFIX at all\n", 32);
    tu_decode(tu_path("text.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(d.err, "no IPFIX message found in 32 bytes"));
    tu_write_file(tu_path("empty.ipfix"), "", 0);
    tu_decode(tu_path("empty.ipfix"), &d);
    ck_assert_int_eq(d.rc, DS_OK);
    ck_assert_uint_eq(d.n, 0);
}
END_TEST

START_TEST(test_check_rewrites_only_what_is_bad)
{
    /* a good template, a reserved set and good data: the rewrite keeps both good sets */
    struct ipfix_check *chk = ipfix_check_new();
    struct ipfix_check_result res;
    struct ingest_stats st;

    memset(&st, 0, sizeof(st));
    tu_msg_begin(&msg, 0, 0, 1);
    tu_set_begin(&msg, 2);
    tu_template_basic(&msg);
    tu_set_end(&msg);
    tu_set_begin(&msg, 9);
    tu_u32(&msg, 0);
    tu_set_end(&msg);
    tu_set_begin(&msg, TU_TID_BASIC);
    tu_record_basic(&msg, T0_MS, 1, 1, 2, 3, 4, PROTO_TCP);
    tu_record_basic(&msg, T0_MS, 1, 1, 2, 3, 4, PROTO_TCP);
    tu_set_end(&msg);
    tu_msg_end(&msg);
    ipfix_check_message(chk, msg.b, msg.len, &res, &st);
    ck_assert_ptr_ne(res.msg, msg.b);
    ck_assert_uint_eq(res.len, msg.len - 8);
    ck_assert_uint_eq(res.data_records, 2);
    ck_assert_uint_eq(res.n_issues, 1);
    ck_assert_uint_eq(res.issues[0].offset, 16 + 4 + 4 + 7 * 4);
    ck_assert_str_eq(res.issues[0].text, "set id 9 is reserved; set dropped");
    /* a good message passes untouched */
    basic_message(&msg, 1, 0, 3, 0);
    ipfix_check_message(chk, msg.b, msg.len, &res, &st);
    ck_assert_ptr_eq(res.msg, msg.b);
    ck_assert_uint_eq(res.data_records, 3);
    ipfix_check_free(chk);
}
END_TEST

/*
 * The IPFIX captures of other projects' test suites (tests/data/captures,
 * 36 files from Cisco, Juniper, Nokia, Huawei, YAF, softflowd, nProbe...):
 * messages, data records, options records and packets as the collection's
 * ground truth counts them (two independent decoders agree on it), and the
 * same records on the fast path as with libfixbuf alone (tu_decode).
 */
#define CAP_DIR "tests/data/captures/"

struct cap_count {
    long messages;
    uint64_t records, options, packets;
};

static struct cap_count
decode_capture(const char *first, const char *file)
{
    struct cap_count c = {0, 0, 0, 0};
    struct tu_decoded d;
    char out[1024], a_path[1024], b_path[1024];
    FILE *fp;

    /* tu_path() returns the same buffer every time */
    snprintf(out, sizeof(out), "%s", tu_path("capture.ipfix"));
    snprintf(a_path, sizeof(a_path), "%s", tu_path("first.ipfix"));
    snprintf(b_path, sizeof(b_path), "%s", tu_path("second.ipfix"));
    if (first != NULL) {
        /* a data-only file: its templates are in another capture */
        char chunk[65536];
        size_t n;
        FILE *a, *b;

        tu_pcap_to_ipfix(first, a_path);
        c.messages = tu_pcap_to_ipfix(file, b_path);
        fp = fopen(out, "wb");
        a = fopen(a_path, "rb");
        b = fopen(b_path, "rb");
        ck_assert(fp != NULL && a != NULL && b != NULL);
        while ((n = fread(chunk, 1, sizeof(chunk), a)) > 0)
            ck_assert_uint_eq(fwrite(chunk, 1, n, fp), n);
        while ((n = fread(chunk, 1, sizeof(chunk), b)) > 0)
            ck_assert_uint_eq(fwrite(chunk, 1, n, fp), n);
        fclose(a);
        fclose(b);
        fclose(fp);
        /* what the first file contributes alone is taken away */
        tu_decode(a_path, &d);
        c.records -= d.raw_records;
        c.options -= d.stats.options_records;
        c.packets -= d.raw_with_delta ? d.raw_pkt_delta : d.raw_pkt_total;
        tu_decoded_free(&d);
    } else {
        c.messages = tu_pcap_to_ipfix(file, out);
    }
    tu_decode(out, &d);
    ck_assert_msg(d.rc == DS_OK, "%s: %s", file, d.err);
    c.records += d.raw_records;
    c.options += d.stats.options_records;
    c.packets += d.raw_with_delta ? d.raw_pkt_delta : d.raw_pkt_total;
    tu_decoded_free(&d);
    return c;
}

START_TEST(test_captures_match_ground_truth)
{
    FILE *truth = fopen(CAP_DIR "truth.tsv", "r");
    char line[4096], report[8192] = "";
    int files = 0, wrong = 0;

    ck_assert_msg(truth != NULL, "tests/data/captures/truth.tsv is missing");
    while (fgets(line, sizeof(line), truth) != NULL) {
        char *col[16] = {0}, *save = NULL, *t;
        char file[512], first[512];
        int n = 0;
        struct cap_count got;
        long want_msgs;
        unsigned long long want_recs, want_opts, want_pkts = 0;
        int has_pkts;

        line[strcspn(line, "\n")] = '\0';
        /* strsep keeps the empty columns */
        for (t = line; n < 16 && (col[n] = strsep(&t, "\t")) != NULL; n++)
            ;
        (void)save;
        if (n < 13 || strcmp(col[1], "IPFIX") != 0)
            continue;
        snprintf(file, sizeof(file), CAP_DIR "%s", col[0]);
        snprintf(first, sizeof(first), CAP_DIR "%s", col[12]);
        want_msgs = strtol(col[2], NULL, 10);
        want_recs = strtoull(col[3], NULL, 10);
        want_opts = strtoull(col[7], NULL, 10);
        has_pkts = col[4][0] != '\0';
        if (has_pkts)
            want_pkts = strtoull(col[4], NULL, 10);
        got = decode_capture(col[12][0] ? first : NULL, file);
        files++;
        if (got.messages != want_msgs || got.records != want_recs || got.options != want_opts ||
            (has_pkts && got.packets != want_pkts)) {
            size_t used = strlen(report);

            wrong++;
            snprintf(report + used, sizeof(report) - used,
                     "\n  %s: messages %ld/%ld, records %llu/%llu, options %llu/%llu, "
                     "packets %llu/%s",
                     col[0], got.messages, want_msgs, (unsigned long long)got.records, want_recs,
                     (unsigned long long)got.options, want_opts,
                     (unsigned long long)got.packets, has_pkts ? col[4] : "-");
        }
    }
    fclose(truth);
    ck_assert_int_ge(files, 30);
    ck_assert_msg(wrong == 0, "%d of %d IPFIX captures differ from the truth (got/want):%s",
                  wrong, files, report);
}
END_TEST

START_TEST(test_samples_same_records_both_ways)
{
    /* the bundled samples: IPv4 and IPv6 templates, DDoS and backscatter days */
    static const char *const files[] = {"samples/data/darknet-20130215.ipfix",
                                        "samples/data/darknet-20130306.ipfix"};
    struct tu_decoded d;

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        tu_decode(files[i], &d); /* fails unless the fast path agrees with libfixbuf */
        ck_assert_int_eq(d.rc, DS_OK);
        ck_assert_uint_gt(d.n, 1000);
        ck_assert_uint_eq(ingest_stats_malformed(&d.stats), 0);
        tu_decoded_free(&d);
    }
}
END_TEST

static Suite *
ingest_suite(void)
{
    Suite *s = suite_create("ingest");
    TCase *tc = tcase_create("layouts");

    tcase_add_test(tc, test_layout_ipv4_milliseconds);
    tcase_add_test(tc, test_layout_ipv6_seconds_reduced_size);
    tcase_add_test(tc, test_layout_total_count_ntp_times);
    tcase_add_test(tc, test_layout_sysuptime_and_sampling_per_domain);
    tcase_add_test(tc, test_layout_icmp_type_code);
    tcase_add_test(tc, test_template_withdrawn_and_redefined);
    tcase_add_test(tc, test_layout_redefined_within_a_message);
    suite_add_tcase(s, tc);

    tc = tcase_create("malformed");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bad_truncated_file);
    tcase_add_test(tc, test_bad_garbage_then_messages);
    tcase_add_test(tc, test_bad_length_too_long);
    tcase_add_test(tc, test_bad_length_too_short);
    tcase_add_test(tc, test_bad_length_lies_and_set_is_cut);
    tcase_add_test(tc, test_bad_set_overruns_message);
    tcase_add_test(tc, test_bad_absurd_field_count);
    tcase_add_test(tc, test_bad_zero_length_fields);
    tcase_add_test(tc, test_bad_field_length_we_cannot_hold);
    tcase_add_test(tc, test_bad_varlen_record_cut);
    tcase_add_test(tc, test_bad_options_scope_and_reserved_ids);
    tcase_add_test(tc, test_bad_crashers_of_libfixbuf);
    tcase_add_test(tc, test_bad_mutations_never_crash);
    tcase_add_test(tc, test_inputs_that_cannot_be_read);
    tcase_add_test(tc, test_check_rewrites_only_what_is_bad);
    tcase_add_test(tc, test_captures_match_ground_truth);
    tcase_add_test(tc, test_samples_same_records_both_ways);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(ingest_suite()) == 0 ? 0 : 1;
}
