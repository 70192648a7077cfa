/*
 * Tests of the decoders for formats without templates: NetFlow v5
 * (src/ingest/nf5.c), datagrams built field by field here (the comment
 * above each says what it holds).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ds/ingest.h"
#include "ds/proto.h"
#include "testutil.h"

#define T0_S 1450000000u            /* 2015-12-13T09:46:40Z */
#define REC_MAX 64

static uint32_t
ip4(const char *s)
{
    struct in_addr a;

    ck_assert_int_eq(inet_pton(AF_INET, s, &a), 1);
    return ntohl(a.s_addr);
}

/* What a decoder delivered: records with their fields copied. */
struct got {
    size_t n;
    struct ipfix_fields f[REC_MAX];
    struct ipfix_record rec[REC_MAX];
    struct ingest_stats stats;
    struct ds_error err;
};

static struct got got;

static void
collect(void *ctx, const struct ipfix_record *rec)
{
    struct got *g = ctx;

    ck_assert_uint_lt(g->n, REC_MAX);
    g->f[g->n] = *rec->f;
    g->rec[g->n] = *rec;
    g->rec[g->n].f = &g->f[g->n];
    g->n++;
}

/*
 * The decoders read from an exact-size heap copy, so that AddressSanitizer
 * (make sanitize) sees a read one byte past the datagram.
 */
static enum ds_rc
decode_v5(const struct tu_msg *m, struct nf5_header *h)
{
    uint8_t *copy = malloc(m->len ? m->len : 1);
    enum ds_rc rc;

    ck_assert_ptr_nonnull(copy);
    memcpy(copy, m->b, m->len);
    memset(&got, 0, sizeof(got));
    rc = nf5_decode(copy, m->len, collect, &got, h, &got.stats, &got.err);
    free(copy);
    return rc;
}

static void
put32_at(struct tu_msg *m, size_t at, uint32_t v)
{
    m->b[at] = (uint8_t)(v >> 24);
    m->b[at + 1] = (uint8_t)(v >> 16);
    m->b[at + 2] = (uint8_t)(v >> 8);
    m->b[at + 3] = (uint8_t)v;
}

static struct tu_msg dg;    /* the datagram being built */

/* ---- NetFlow v5 ---- */

/* Header: version 5, count, sysUptime, unix_secs, unix_nsecs, flow_sequence, engine 1/2. */
static void
nf5_header(struct tu_msg *m, uint16_t count, uint32_t uptime, uint32_t nsecs, uint16_t sampling)
{
    m->len = 0;
    tu_u16(m, 5);
    tu_u16(m, count);
    tu_u32(m, uptime);
    tu_u32(m, T0_S);
    tu_u32(m, nsecs);
    tu_u32(m, 4242);        /* flow_sequence */
    tu_u8(m, 1);            /* engine_type */
    tu_u8(m, 2);            /* engine_id */
    tu_u16(m, sampling);
}

struct v5rec {
    const char *src, *dst;
    uint32_t pkts, first, last;
    uint16_t sport, dport;
    uint8_t flags, proto;
};

static void
nf5_record(struct tu_msg *m, const struct v5rec *r)
{
    tu_u32(m, ip4(r->src));
    tu_u32(m, ip4(r->dst));
    tu_u32(m, ip4("192.0.2.254"));  /* nexthop */
    tu_u16(m, 3);                   /* input */
    tu_u16(m, 4);                   /* output */
    tu_u32(m, r->pkts);
    tu_u32(m, r->pkts * 60);        /* dOctets */
    tu_u32(m, r->first);
    tu_u32(m, r->last);
    tu_u16(m, r->sport);
    tu_u16(m, r->dport);
    tu_u8(m, 0xee);                 /* pad1: must not leak into anything */
    tu_u8(m, r->flags);
    tu_u8(m, r->proto);
    tu_u8(m, 0x10);                 /* tos */
    tu_u16(m, 64500);               /* src_as */
    tu_u16(m, 64501);               /* dst_as */
    tu_u8(m, 24);                   /* src_mask */
    tu_u8(m, 16);                   /* dst_mask */
    tu_u16(m, 0xeeee);              /* pad2 */
}

#define V5_FIELDS                                                                              \
    (IPF_BIT(IPF_SRC4) | IPF_BIT(IPF_DST4) | IPF_BIT(IPF_SRC_PORT) | IPF_BIT(IPF_DST_PORT) |   \
     IPF_BIT(IPF_PROTO) | IPF_BIT(IPF_TCP_FLAGS) | IPF_BIT(IPF_PKT_DELTA) |                   \
     IPF_BIT(IPF_START_UPTIME) | IPF_BIT(IPF_END_UPTIME))

START_TEST(test_nf5_fields)
{
    /*
     * Up one hour, sent at T0 + 0.5 s, sampling mode 1 interval 100;
     * a SYN from 192.0.2.1:40000 to 198.51.100.7:23, 3 packets, from
     * uptime 3590000 to 3599000; a UDP flow to port 53.
     */
    static const struct v5rec r[] = {
        {"192.0.2.1", "198.51.100.7", 3, 3590000, 3599000, 40000, 23, 0x02, PROTO_TCP},
        {"203.0.113.9", "198.51.100.8", 1, 3600000, 3600000, 5353, 53, 0, PROTO_UDP},
    };
    struct nf5_header h;
    int64_t sysinit = (int64_t)T0_S * 1000 + 500 - 3600000;

    nf5_header(&dg, 2, 3600000, 500000000, 1 << 14 | 100);
    nf5_record(&dg, &r[0]);
    nf5_record(&dg, &r[1]);
    ck_assert_int_eq(decode_v5(&dg, &h), DS_OK);
    ck_assert_uint_eq(got.n, 2);
    ck_assert_uint_eq(got.stats.messages, 1);
    ck_assert_uint_eq(got.stats.records, 2);
    ck_assert_uint_eq(got.stats.bad_messages, 0);

    ck_assert_uint_eq(h.count, 2);
    ck_assert_uint_eq(h.uptime_ms, 3600000);
    ck_assert_uint_eq(h.unix_secs, T0_S);
    ck_assert_uint_eq(h.unix_nsecs, 500000000);
    ck_assert_uint_eq(h.flow_sequence, 4242);
    ck_assert_uint_eq(h.engine_type, 1);
    ck_assert_uint_eq(h.engine_id, 2);
    ck_assert_uint_eq(h.sampling_mode, 1);
    ck_assert_uint_eq(h.sampling_interval, 100);

    ck_assert_uint_eq(got.rec[0].present, V5_FIELDS | IPF_BIT(IPF_SAMPLING_INTERVAL));
    ck_assert(!got.rec[0].options);
    ck_assert_uint_eq(got.rec[0].domain, 1 << 8 | 2);
    ck_assert_uint_eq(got.rec[0].export_time, T0_S);
    ck_assert_uint_eq(got.rec[0].uptime_ms, 3600000);
    ck_assert_int_eq(got.rec[0].sysinit_ms, sysinit);
    ck_assert_uint_eq(got.f[0].src4, ip4("192.0.2.1"));
    ck_assert_uint_eq(got.f[0].dst4, ip4("198.51.100.7"));
    ck_assert_uint_eq(got.f[0].src_port, 40000);
    ck_assert_uint_eq(got.f[0].dst_port, 23);
    ck_assert_uint_eq(got.f[0].proto, PROTO_TCP);
    ck_assert_uint_eq(got.f[0].tcp_flags, 0x02);
    ck_assert_uint_eq(got.f[0].pkt_delta, 3);
    ck_assert_uint_eq(got.f[0].sampling_interval, 100);
    /* the flow started 10 s and ended 1 s before the export, in Unix time */
    ck_assert_int_eq(got.rec[0].sysinit_ms + got.f[0].start_uptime,
                     (int64_t)T0_S * 1000 + 500 - 10000);
    ck_assert_int_eq(got.rec[0].sysinit_ms + got.f[0].end_uptime,
                     (int64_t)T0_S * 1000 + 500 - 1000);
    /* nothing beyond what present says */
    ck_assert_uint_eq(got.f[0].pkt_total, 0);
    ck_assert_uint_eq(got.f[0].start_ms, 0);
    ck_assert_uint_eq(got.f[0].ip_version, 0);

    ck_assert_uint_eq(got.f[1].dst4, ip4("198.51.100.8"));
    ck_assert_uint_eq(got.f[1].dst_port, 53);
    ck_assert_uint_eq(got.f[1].proto, PROTO_UDP);
    ck_assert_uint_eq(got.f[1].tcp_flags, 0);
    ck_assert_uint_eq(got.f[1].start_uptime, 3600000);
}
END_TEST

START_TEST(test_nf5_sampling_header)
{
    /* Juniper MX80: mode 0 with interval 1000 still means 1 in 1000 */
    static const struct v5rec r = {"192.0.2.1", "198.51.100.7", 1, 1, 2, 1, 2, 0, PROTO_UDP};
    struct nf5_header h;

    nf5_header(&dg, 1, 5000, 0, 1000);
    nf5_record(&dg, &r);
    ck_assert_int_eq(decode_v5(&dg, &h), DS_OK);
    ck_assert_uint_eq(h.sampling_mode, 0);
    ck_assert_uint_eq(h.sampling_interval, 1000);
    ck_assert_uint_eq(got.rec[0].present, V5_FIELDS | IPF_BIT(IPF_SAMPLING_INTERVAL));
    ck_assert_uint_eq(got.f[0].sampling_interval, 1000);
    /* mode 2, interval 16383 (the largest 14 bits hold) */
    nf5_header(&dg, 1, 5000, 0, 2 << 14 | 0x3fff);
    nf5_record(&dg, &r);
    ck_assert_int_eq(decode_v5(&dg, &h), DS_OK);
    ck_assert_uint_eq(h.sampling_mode, 2);
    ck_assert_uint_eq(got.f[0].sampling_interval, 16383);
    /* 0 and 1: not sampled, no sampling field */
    nf5_header(&dg, 1, 5000, 0, 0);
    nf5_record(&dg, &r);
    ck_assert_int_eq(decode_v5(&dg, &h), DS_OK);
    ck_assert_uint_eq(got.rec[0].present, V5_FIELDS);
    ck_assert_uint_eq(got.f[0].sampling_interval, 0);
    nf5_header(&dg, 1, 5000, 0, 1 << 14 | 1);
    nf5_record(&dg, &r);
    ck_assert_int_eq(decode_v5(&dg, &h), DS_OK);
    ck_assert_uint_eq(got.rec[0].present, V5_FIELDS);
}
END_TEST

START_TEST(test_nf5_more_than_30_records)
{
    /* Cisco stops at 30; software exporters may send more: the length decides */
    struct v5rec r = {"192.0.2.1", "198.51.100.0", 1, 1, 2, 1000, 0, 0, PROTO_UDP};

    nf5_header(&dg, 40, 5000, 0, 0);
    for (uint16_t i = 0; i < 40; i++) {
        r.dport = i;
        nf5_record(&dg, &r);
    }
    ck_assert_int_eq(decode_v5(&dg, NULL), DS_OK);
    ck_assert_uint_eq(got.n, 40);
    ck_assert_uint_eq(got.f[39].dst_port, 39);
}
END_TEST

/* Expects DS_ERR_PARSE, nothing delivered, and text in the error message. */
static void
expect_v5_bad(const char *text)
{
    struct nf5_header h;

    memset(&h, 0xff, sizeof(h));
    ck_assert_int_eq(decode_v5(&dg, &h), DS_ERR_PARSE);
    ck_assert_uint_eq(got.n, 0);
    ck_assert_uint_eq(got.stats.records, 0);
    ck_assert_uint_eq(got.stats.messages, 1);
    ck_assert_uint_eq(got.stats.bad_messages, 1);
    ck_assert_uint_eq(h.count, 0);
    ck_assert_msg(strstr(got.err.msg, text) != NULL, "error \"%s\" lacks \"%s\"", got.err.msg,
                  text);
}

START_TEST(test_nf5_malformed)
{
    static const struct v5rec r = {"192.0.2.1", "198.51.100.7", 1, 1, 2, 1, 2, 0, PROTO_UDP};

    /* 1 byte */
    dg.len = 0;
    tu_u8(&dg, 0);
    expect_v5_bad("offset 0: 1 bytes");
    /* version 9 */
    nf5_header(&dg, 1, 5000, 0, 0);
    nf5_record(&dg, &r);
    put32_at(&dg, 0, 9 << 16 | 1);
    expect_v5_bad("offset 0: version 9, not 5");
    /* a header cut at 23 bytes */
    nf5_header(&dg, 0, 5000, 0, 0);
    dg.len = 23;
    expect_v5_bad("offset 23: datagram ends inside the 24-byte header");
    /* count 0 */
    nf5_header(&dg, 0, 5000, 0, 0);
    expect_v5_bad("offset 2: count 0");
    /* count 2, one record: the second is missing at offset 72 */
    nf5_header(&dg, 2, 5000, 0, 0);
    nf5_record(&dg, &r);
    expect_v5_bad("offset 72: count 2 needs 120 bytes, datagram has 72");
    /* count 2, the second record cut 10 bytes short */
    nf5_header(&dg, 2, 5000, 0, 0);
    nf5_record(&dg, &r);
    nf5_record(&dg, &r);
    dg.len -= 10;
    expect_v5_bad("offset 72: count 2 needs 120 bytes, datagram has 110");
    /* count 1, two records: the extra one starts at offset 72 */
    nf5_header(&dg, 1, 5000, 0, 0);
    nf5_record(&dg, &r);
    nf5_record(&dg, &r);
    expect_v5_bad("offset 72: count 1 needs 72 bytes, datagram has 120");
    /* count 55582 in 1464 bytes (logstash's netflow5_test_invalid01) */
    nf5_header(&dg, 55582, 5000, 0, 0);
    for (int i = 0; i < 30; i++)
        nf5_record(&dg, &r);
    expect_v5_bad("offset 2: count 55582 cannot fit");
}
END_TEST

static Suite *
flows_suite(void)
{
    Suite *s = suite_create("flows");
    TCase *tc = tcase_create("netflow5");

    tcase_add_test(tc, test_nf5_fields);
    tcase_add_test(tc, test_nf5_sampling_header);
    tcase_add_test(tc, test_nf5_more_than_30_records);
    tcase_add_test(tc, test_nf5_malformed);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(flows_suite()) == 0 ? 0 : 1;
}
