/*
 * Unit tests of src/norm: decoded IPFIX records (struct ipfix_record, built
 * by hand) into struct flow through norm_record().
 *
 * Every test runs with a normaliser whose clock is set to the export time
 * of its records, so nothing depends on the wall clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/addr.h"
#include "ds/hash.h"
#include "ds/ingest.h"
#include "ds/norm.h"
#include "ds/proto.h"
#include "testutil.h"

#define NTP_OFFSET 2208988800ULL

/* 2015-12-21T00:01:00Z: the export time of the records */
#define EXPORT_S 1450656060u
/* 2015-12-21T00:00:00Z */
#define START_S 1450656000
#define MS(s) ((int64_t)(s) * 1000)

static struct norm *nm;

static void
setup(void)
{
    nm = norm_new();
    norm_set_clock(nm, EXPORT_S);
}

static void
teardown(void)
{
    norm_free(nm);
    nm = NULL;
}

/* IPv4 TCP 198.51.100.7:40000 -> 192.0.2.9:23, 10 packets; no time. */
static uint64_t
base_fields(struct ipfix_fields *f)
{
    memset(f, 0, sizeof(*f));
    f->src4 = 0xc6336407;
    f->dst4 = 0xc0000209;
    f->src_port = 40000;
    f->dst_port = 23;
    f->proto = PROTO_TCP;
    f->tcp_flags = 0x02;
    f->pkt_delta = 10;
    return IPF_BIT(IPF_SRC4) | IPF_BIT(IPF_DST4) | IPF_BIT(IPF_SRC_PORT) |
           IPF_BIT(IPF_DST_PORT) | IPF_BIT(IPF_PROTO) | IPF_BIT(IPF_TCP_FLAGS) |
           IPF_BIT(IPF_PKT_DELTA);
}

/* The base record with flowStartMilliseconds at START_S. */
static uint64_t
timed_fields(struct ipfix_fields *f)
{
    uint64_t present = base_fields(f);

    f->start_ms = (uint64_t)MS(START_S);
    return present | IPF_BIT(IPF_START_MS);
}

static enum norm_result
run(const struct ipfix_fields *f, uint64_t present, uint32_t domain, uint32_t export_time,
    struct flow *out)
{
    struct ipfix_record rec = {f, present, domain, export_time, false, 0, 0};

    return norm_record(nm, &rec, out);
}

/* Normalises a record that must become a flow. */
static struct flow
flow_of(const struct ipfix_fields *f, uint64_t present, uint32_t domain)
{
    struct flow out;

    memset(&out, 0xa5, sizeof(out));
    ck_assert_int_eq(run(f, present, domain, EXPORT_S, &out), NORM_FLOW);
    return out;
}

/* An options record of domain announcing what f and present say. */
static void
announce(const struct ipfix_fields *f, uint64_t present, uint32_t domain)
{
    struct ipfix_record rec = {f, present, domain, EXPORT_S, true, 0, 0};
    struct flow out;

    memset(&out, 0xa5, sizeof(out));
    ck_assert_int_eq(norm_record(nm, &rec, &out), NORM_OPTIONS);
}

/* An options record with samplingInterval (34) = rate, no sampler id. */
static void
announce_interval(uint32_t rate, uint32_t domain)
{
    struct ipfix_fields o;

    memset(&o, 0, sizeof(o));
    o.sampling_interval = rate;
    o.obs_domain = domain;
    announce(&o, IPF_BIT(IPF_SAMPLING_INTERVAL) | IPF_BIT(IPF_OBS_DOMAIN), domain);
}

static uint64_t
ntp(uint64_t unix_s, uint32_t frac)
{
    return (unix_s + NTP_OFFSET) << 32 | frac;
}

/* ---- times ----------------------------------------------------------------- */

START_TEST(test_time_seconds)
{
    struct ipfix_fields f;
    uint64_t p = base_fields(&f) | IPF_BIT(IPF_START_S) | IPF_BIT(IPF_END_S);
    struct flow out;

    f.start_s = START_S;
    f.end_s = START_S + 30;
    out = flow_of(&f, p, 1);
    ck_assert_int_eq(out.start_ms, MS(START_S));
    ck_assert_int_eq(out.end_ms, MS(START_S + 30));
}
END_TEST

START_TEST(test_time_milliseconds)
{
    struct ipfix_fields f;
    uint64_t p = base_fields(&f) | IPF_BIT(IPF_START_MS) | IPF_BIT(IPF_END_MS);
    struct flow out;

    f.start_ms = (uint64_t)MS(START_S) + 250;
    f.end_ms = (uint64_t)MS(START_S) + 30999;
    out = flow_of(&f, p, 1);
    ck_assert_int_eq(out.start_ms, MS(START_S) + 250);
    ck_assert_int_eq(out.end_ms, MS(START_S) + 30999);
}
END_TEST

START_TEST(test_time_microseconds)
{
    /* NTP format: seconds since 1900 above, binary fraction below */
    struct ipfix_fields f;
    uint64_t p = base_fields(&f) | IPF_BIT(IPF_START_US) | IPF_BIT(IPF_END_US);
    struct flow out;

    f.start_us = ntp(START_S, 0x80000000u);     /* .500 */
    f.end_us = ntp(START_S + 30, 0x40000000u);  /* .250 */
    out = flow_of(&f, p, 1);
    ck_assert_int_eq(out.start_ms, MS(START_S) + 500);
    ck_assert_int_eq(out.end_ms, MS(START_S + 30) + 250);
}
END_TEST

START_TEST(test_time_nanoseconds)
{
    struct ipfix_fields f;
    uint64_t p = base_fields(&f) | IPF_BIT(IPF_START_NS) | IPF_BIT(IPF_END_NS);
    struct flow out;

    f.start_ns = ntp(START_S, 0x20000000u);     /* .125 */
    f.end_ns = ntp(START_S + 1, 0xff000000u);   /* .996 */
    out = flow_of(&f, p, 1);
    ck_assert_int_eq(out.start_ms, MS(START_S) + 125);
    ck_assert_int_eq(out.end_ms, MS(START_S + 1) + 996);
}
END_TEST

/* After 2036-02-07 the NTP seconds wrap: small counts are era 1. */
START_TEST(test_time_ntp_era1)
{
    struct ipfix_fields f;
    uint64_t p = base_fields(&f) | IPF_BIT(IPF_START_US);
    const uint64_t unix_s = 2100000000;     /* 2036-07-18 */
    struct flow out;

    f.start_us = (unix_s + NTP_OFFSET - (UINT64_C(1) << 32)) << 32;
    ck_assert_uint_lt(f.start_us >> 32, 20000000);
    norm_set_clock(nm, (int64_t)unix_s);
    ck_assert_int_eq(run(&f, p, 1, (uint32_t)unix_s + 60, &out), NORM_FLOW);
    ck_assert_int_eq(out.start_ms, MS(unix_s));
}
END_TEST

START_TEST(test_time_sysuptime_in_record)
{
    struct ipfix_fields f;
    uint64_t p = base_fields(&f) | IPF_BIT(IPF_START_UPTIME) | IPF_BIT(IPF_END_UPTIME) |
                 IPF_BIT(IPF_SYSINIT_MS);
    struct flow out;

    f.sysinit_ms = (uint64_t)MS(START_S - 3600);
    f.start_uptime = 3600250;
    f.end_uptime = 3630000;
    out = flow_of(&f, p, 1);
    ck_assert_int_eq(out.start_ms, MS(START_S) + 250);
    ck_assert_int_eq(out.end_ms, MS(START_S + 30));
}
END_TEST

START_TEST(test_time_sysuptime_from_options)
{
    struct ipfix_fields o, f;
    uint64_t p = base_fields(&f) | IPF_BIT(IPF_START_UPTIME) | IPF_BIT(IPF_END_UPTIME);
    struct flow out;

    memset(&o, 0, sizeof(o));
    o.sysinit_ms = (uint64_t)MS(START_S - 86400);
    o.obs_domain = 7;
    f.start_uptime = 86400000;
    f.end_uptime = 86410000;
    /* before the announcement the uptime cannot be placed */
    ck_assert_int_eq(run(&f, p, 7, EXPORT_S, &out), NORM_NO_TIME);
    announce(&o, IPF_BIT(IPF_SYSINIT_MS) | IPF_BIT(IPF_OBS_DOMAIN), 7);
    out = flow_of(&f, p, 7);
    ck_assert_int_eq(out.start_ms, MS(START_S));
    ck_assert_int_eq(out.end_ms, MS(START_S + 10));
    /* another domain of the same stream did not announce it */
    ck_assert_int_eq(run(&f, p, 8, EXPORT_S, &out), NORM_NO_TIME);
    /* the record's own init time comes first */
    f.sysinit_ms = (uint64_t)MS(START_S - 86400 + 5);
    out = flow_of(&f, p | IPF_BIT(IPF_SYSINIT_MS), 7);
    ck_assert_int_eq(out.start_ms, MS(START_S + 5));
    /* and domain 7 still has its own after domain 8 was seen */
    out = flow_of(&f, p, 7);
    ck_assert_int_eq(out.start_ms, MS(START_S));
}
END_TEST

START_TEST(test_time_delta_microseconds)
{
    struct ipfix_fields f;
    uint64_t p = base_fields(&f) | IPF_BIT(IPF_START_DELTA_US) | IPF_BIT(IPF_END_DELTA_US);
    struct flow out;

    /* export at START_S + 60: started 60 s, ended 29.5 s before */
    f.start_delta_us = 60000000;
    f.end_delta_us = 29500000;
    ck_assert_int_eq(run(&f, p, 1, START_S + 60, &out), NORM_FLOW);
    ck_assert_int_eq(out.start_ms, MS(START_S));
    ck_assert_int_eq(out.end_ms, MS(START_S + 30) + 500);
    /* the same deltas in a message sent an hour later */
    ck_assert_int_eq(run(&f, p, 1, START_S + 3660, &out), NORM_FLOW);
    ck_assert_int_eq(out.start_ms, MS(START_S + 3600));
}
END_TEST

START_TEST(test_time_end_clamped)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct flow out;

    f.end_ms = (uint64_t)MS(START_S) - 5000;
    out = flow_of(&f, p | IPF_BIT(IPF_END_MS), 1);
    ck_assert_int_eq(out.start_ms, MS(START_S));
    ck_assert_int_eq(out.end_ms, MS(START_S));
    /* no end at all: the start */
    out = flow_of(&f, p, 1);
    ck_assert_int_eq(out.end_ms, MS(START_S));
    /* an end in another unit than the start */
    f.end_s = START_S + 9;
    out = flow_of(&f, p | IPF_BIT(IPF_END_S), 1);
    ck_assert_int_eq(out.end_ms, MS(START_S + 9));
}
END_TEST

START_TEST(test_time_missing)
{
    struct ipfix_fields f;
    uint64_t p = base_fields(&f);
    struct flow out;

    ck_assert_int_eq(run(&f, p, 1, EXPORT_S, &out), NORM_NO_TIME);
    /* only an end */
    f.end_ms = (uint64_t)MS(START_S);
    ck_assert_int_eq(run(&f, p | IPF_BIT(IPF_END_MS), 1, EXPORT_S, &out), NORM_NO_TIME);
    /* an uptime without any init time */
    f.start_uptime = 5000;
    ck_assert_int_eq(run(&f, p | IPF_BIT(IPF_START_UPTIME), 1, EXPORT_S, &out), NORM_NO_TIME);
    /* an init time of 0 is no init time */
    f.sysinit_ms = 0;
    ck_assert_int_eq(run(&f, p | IPF_BIT(IPF_START_UPTIME) | IPF_BIT(IPF_SYSINIT_MS), 1,
                         EXPORT_S, &out),
                     NORM_NO_TIME);
    ck_assert_uint_eq(norm_get_stats(nm)->no_time, 4);
}
END_TEST

START_TEST(test_time_bad)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct flow out;

    /* 1999-12-31T23:59:59.999Z: before 2000 */
    f.start_ms = 946684799999ULL;
    ck_assert_int_eq(run(&f, p, 1, EXPORT_S, &out), NORM_BAD_TIME);
    f.start_ms = 946684800000ULL;
    ck_assert_int_eq(run(&f, p, 1, EXPORT_S, &out), NORM_FLOW);
    ck_assert_int_eq(out.start_ms, 946684800000LL);
    /* an init time never set: uptime from 1970 */
    f.sysinit_ms = 1000;
    f.start_uptime = 5000;
    ck_assert_int_eq(run(&f, (p & ~IPF_BIT(IPF_START_MS)) | IPF_BIT(IPF_START_UPTIME) |
                                 IPF_BIT(IPF_SYSINIT_MS),
                         1, EXPORT_S, &out),
                     NORM_BAD_TIME);
    /* more than a day after the export time (the clock is the export time) */
    f.start_ms = (uint64_t)MS(EXPORT_S + 86400) + 1;
    ck_assert_int_eq(run(&f, p, 1, EXPORT_S, &out), NORM_BAD_TIME);
    f.start_ms = (uint64_t)MS(EXPORT_S + 86400);
    ck_assert_int_eq(run(&f, p, 1, EXPORT_S, &out), NORM_FLOW);
    /* the same in seconds */
    f.start_s = EXPORT_S + 86401;
    ck_assert_int_eq(run(&f, (p & ~IPF_BIT(IPF_START_MS)) | IPF_BIT(IPF_START_S), 1, EXPORT_S,
                         &out),
                     NORM_BAD_TIME);
    ck_assert_uint_eq(norm_get_stats(nm)->bad_time, 4);
    ck_assert_uint_eq(norm_get_stats(nm)->no_time, 0);
}
END_TEST

/* The later of export time and clock bounds the future (files written offline). */
START_TEST(test_time_clock_bound)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct flow out;

    f.start_ms = (uint64_t)MS(EXPORT_S + 5 * 86400);
    ck_assert_int_eq(run(&f, p, 1, EXPORT_S, &out), NORM_BAD_TIME);
    norm_set_clock(nm, EXPORT_S + 10 * 86400);
    ck_assert_int_eq(run(&f, p, 1, EXPORT_S, &out), NORM_FLOW);
    f.start_ms = (uint64_t)MS(EXPORT_S + 11 * 86400) + 1;
    ck_assert_int_eq(run(&f, p, 1, EXPORT_S, &out), NORM_BAD_TIME);
    /* a message stamped later than the clock: its export time bounds */
    f.start_ms = (uint64_t)MS(EXPORT_S + 20 * 86400);
    ck_assert_int_eq(run(&f, p, 1, EXPORT_S + 20 * 86400, &out), NORM_FLOW);
}
END_TEST

/* ---- packets and sampling ---------------------------------------------------- */

START_TEST(test_packets_delta_or_total)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct flow out;

    f.pkt_delta = 5;
    f.pkt_total = 100;
    out = flow_of(&f, p | IPF_BIT(IPF_PKT_TOTAL), 1);
    ck_assert_uint_eq(out.packets, 5);
    out = flow_of(&f, (p & ~IPF_BIT(IPF_PKT_DELTA)) | IPF_BIT(IPF_PKT_TOTAL), 1);
    ck_assert_uint_eq(out.packets, 100);
    ck_assert_uint_eq(out.sampling, 1);
    ck_assert_uint_eq(norm_get_stats(nm)->sampled, 0);
}
END_TEST

/* Options records of every sampling kind, and the rate each means. */
struct sampling_case {
    const char *what;
    uint64_t present;
    uint32_t rate;
};

static const struct sampling_case sampling_cases[] = {
    {"samplingInterval", IPF_BIT(IPF_SAMPLING_INTERVAL), 100},
    {"samplerRandomInterval", IPF_BIT(IPF_SAMPLER_RANDOM_INTERVAL), 64},
    {"samplingPacketInterval+Space", IPF_BIT(IPF_SAMPLING_PKT_INTERVAL) |
                                         IPF_BIT(IPF_SAMPLING_PKT_SPACE), 1000},
    {"samplingSize+Population", IPF_BIT(IPF_SAMPLING_SIZE) | IPF_BIT(IPF_SAMPLING_POPULATION),
     256},
    {"samplingProbability", IPF_BIT(IPF_SAMPLING_PROB), 100},
};

static void
sampling_fields(struct ipfix_fields *o)
{
    memset(o, 0, sizeof(*o));
    o->sampling_interval = 100;
    o->sampler_random_interval = 64;
    o->sampling_pkt_interval = 1;
    o->sampling_pkt_space = 999;
    o->sampling_size = 1;
    o->sampling_population = 256;
    o->sampling_prob = 0.01;
    o->obs_domain = 3;
}

START_TEST(test_sampling_options)
{
    const struct sampling_case *c = &sampling_cases[_i];
    struct ipfix_fields o, f;
    uint64_t p = timed_fields(&f);
    struct flow out;

    sampling_fields(&o);
    ck_assert_msg(norm_sampling_rate(&o, c->present) == c->rate, "%s: rate %u", c->what,
                  norm_sampling_rate(&o, c->present));
    f.pkt_delta = 3;
    f.oct_delta = 180;
    announce(&o, c->present | IPF_BIT(IPF_OBS_DOMAIN), 3);
    out = flow_of(&f, p | IPF_BIT(IPF_OCT_DELTA), 3);
    ck_assert_msg(out.packets == 3ULL * c->rate, "%s: %llu packets", c->what,
                  (unsigned long long)out.packets);
    /* bytes are sampled as the packets are */
    ck_assert_uint_eq(out.bytes, 180ULL * c->rate);
    ck_assert_uint_eq(out.sampling, c->rate);
    ck_assert_uint_eq(norm_get_stats(nm)->sampled, 1);
    ck_assert_uint_eq(norm_get_stats(nm)->options, 1);
    /* counters that would overflow once scaled stay the largest count */
    if (c->rate > 1) {
        f.pkt_delta = UINT64_MAX / 2 + 1;
        f.oct_delta = UINT64_MAX / 2 + 1;
        out = flow_of(&f, p | IPF_BIT(IPF_OCT_DELTA), 3);
        ck_assert_uint_eq(out.packets, UINT64_MAX);
        ck_assert_uint_eq(out.bytes, UINT64_MAX);
    }
}
END_TEST

START_TEST(test_sampling_rate_values)
{
    struct ipfix_fields o;

    memset(&o, 0, sizeof(o));
    ck_assert_uint_eq(norm_sampling_rate(&o, 0), 0);
    /* the values are read only when present */
    sampling_fields(&o);
    ck_assert_uint_eq(norm_sampling_rate(&o, 0), 0);
    /* samplingPacketInterval alone is 1 in N */
    o.sampling_pkt_interval = 50;
    ck_assert_uint_eq(norm_sampling_rate(&o, IPF_BIT(IPF_SAMPLING_PKT_INTERVAL)), 50);
    /* 2 taken, 198 skipped: 1 in 100 */
    o.sampling_pkt_interval = 2;
    o.sampling_pkt_space = 198;
    ck_assert_uint_eq(norm_sampling_rate(&o, IPF_BIT(IPF_SAMPLING_PKT_INTERVAL) |
                                                 IPF_BIT(IPF_SAMPLING_PKT_SPACE)),
                      100);
    /* 4 of 1000 */
    o.sampling_size = 4;
    o.sampling_population = 1000;
    ck_assert_uint_eq(norm_sampling_rate(&o, IPF_BIT(IPF_SAMPLING_SIZE) |
                                                 IPF_BIT(IPF_SAMPLING_POPULATION)),
                      250);
    /* nonsense: probability above 1 or 0, an interval of 0 */
    o.sampling_prob = 2.0;
    ck_assert_uint_eq(norm_sampling_rate(&o, IPF_BIT(IPF_SAMPLING_PROB)), 0);
    o.sampling_prob = 0;
    ck_assert_uint_eq(norm_sampling_rate(&o, IPF_BIT(IPF_SAMPLING_PROB)), 0);
    o.sampling_prob = 0.001;
    ck_assert_uint_eq(norm_sampling_rate(&o, IPF_BIT(IPF_SAMPLING_PROB)), 1000);
    o.sampling_interval = 0;
    ck_assert_uint_eq(norm_sampling_rate(&o, IPF_BIT(IPF_SAMPLING_INTERVAL)), 0);
}
END_TEST

START_TEST(test_sampling_per_sampler_id)
{
    struct ipfix_fields o, f;
    uint64_t p = timed_fields(&f), id = IPF_BIT(IPF_SAMPLER_ID), sel = IPF_BIT(IPF_SELECTOR_ID);
    struct flow out;

    memset(&o, 0, sizeof(o));
    o.sampler_id = 1;
    o.sampling_interval = 10;
    announce(&o, id | IPF_BIT(IPF_SAMPLING_INTERVAL), 1);
    o.sampler_id = 2;
    o.sampling_interval = 20;
    announce(&o, id | IPF_BIT(IPF_SAMPLING_INTERVAL), 1);
    memset(&o, 0, sizeof(o));
    o.selector_id = 0x100000001ULL;
    o.sampling_pkt_interval = 1;
    o.sampling_pkt_space = 49;
    announce(&o, sel | IPF_BIT(IPF_SAMPLING_PKT_INTERVAL) | IPF_BIT(IPF_SAMPLING_PKT_SPACE), 1);

    f.pkt_delta = 1;
    f.sampler_id = 2;
    ck_assert_uint_eq(flow_of(&f, p | id, 1).packets, 20);
    f.sampler_id = 1;
    ck_assert_uint_eq(flow_of(&f, p | id, 1).packets, 10);
    f.sampler_id = 3;
    ck_assert_uint_eq(flow_of(&f, p | id, 1).packets, 1);
    /* without an id, no sampler's rate applies */
    ck_assert_uint_eq(flow_of(&f, p, 1).packets, 1);
    f.selector_id = 0x100000001ULL;
    out = flow_of(&f, p | sel, 1);
    ck_assert_uint_eq(out.packets, 50);
    ck_assert_uint_eq(out.sampling, 50);
    f.selector_id = 0x100000002ULL;
    ck_assert_uint_eq(flow_of(&f, p | sel, 1).packets, 1);
    /* only in the domain that announced them */
    f.sampler_id = 2;
    ck_assert_uint_eq(flow_of(&f, p | id, 2).packets, 1);
    /* an announcement changes the rate of its sampler only */
    memset(&o, 0, sizeof(o));
    o.sampler_id = 2;
    o.sampling_interval = 40;
    announce(&o, id | IPF_BIT(IPF_SAMPLING_INTERVAL), 1);
    ck_assert_uint_eq(flow_of(&f, p | id, 1).packets, 40);
    f.sampler_id = 1;
    ck_assert_uint_eq(flow_of(&f, p | id, 1).packets, 10);
    ck_assert_uint_eq(norm_get_stats(nm)->sampled, 5);
}
END_TEST

/* A domain-wide rate beside per-sampler ones. */
START_TEST(test_sampling_domain_and_sampler)
{
    struct ipfix_fields o, f;
    uint64_t p = timed_fields(&f), id = IPF_BIT(IPF_SAMPLER_ID);

    announce_interval(100, 1);
    memset(&o, 0, sizeof(o));
    o.sampler_id = 2;
    o.sampling_interval = 20;
    announce(&o, id | IPF_BIT(IPF_SAMPLING_INTERVAL), 1);
    f.pkt_delta = 1;
    ck_assert_uint_eq(flow_of(&f, p, 1).packets, 100);
    f.sampler_id = 2;
    ck_assert_uint_eq(flow_of(&f, p | id, 1).packets, 20);
    f.sampler_id = 9;
    ck_assert_uint_eq(flow_of(&f, p | id, 1).packets, 100);
}
END_TEST

/* The rate carried in the data record itself wins; 0 there means unsampled. */
START_TEST(test_sampling_in_record)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct flow out;

    announce_interval(100, 1);
    f.pkt_delta = 2;
    f.sampling_interval = 8;
    out = flow_of(&f, p | IPF_BIT(IPF_SAMPLING_INTERVAL), 1);
    ck_assert_uint_eq(out.packets, 16);
    ck_assert_uint_eq(out.sampling, 8);
    f.sampling_interval = 0;
    out = flow_of(&f, p | IPF_BIT(IPF_SAMPLING_INTERVAL), 1);
    ck_assert_uint_eq(out.packets, 2);
    ck_assert_uint_eq(out.sampling, 1);
    f.sampling_pkt_interval = 1;
    f.sampling_pkt_space = 9;
    out = flow_of(&f, p | IPF_BIT(IPF_SAMPLING_PKT_INTERVAL) | IPF_BIT(IPF_SAMPLING_PKT_SPACE), 1);
    ck_assert_uint_eq(out.packets, 20);
    f.sampling_size = 1;
    f.sampling_population = 32;
    out = flow_of(&f, p | IPF_BIT(IPF_SAMPLING_SIZE) | IPF_BIT(IPF_SAMPLING_POPULATION), 1);
    ck_assert_uint_eq(out.packets, 64);
    /* without it, the domain's rate */
    out = flow_of(&f, p, 1);
    ck_assert_uint_eq(out.packets, 200);
    ck_assert_uint_eq(norm_get_stats(nm)->sampled, 4);
}
END_TEST

START_TEST(test_sampling_per_domain)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct flow out;

    announce_interval(100, 1);
    announce_interval(7, 2);
    f.pkt_delta = 3;
    ck_assert_uint_eq(flow_of(&f, p, 1).packets, 300);
    ck_assert_uint_eq(flow_of(&f, p, 2).packets, 21);
    out = flow_of(&f, p, 5);
    ck_assert_uint_eq(out.packets, 3);
    ck_assert_uint_eq(out.sampling, 1);
    /* a new announcement replaces the old one */
    announce_interval(10, 1);
    ck_assert_uint_eq(flow_of(&f, p, 1).packets, 30);
    ck_assert_uint_eq(flow_of(&f, p, 2).packets, 21);
    ck_assert_uint_eq(norm_get_stats(nm)->sampled, 4);
    ck_assert_uint_eq(norm_get_stats(nm)->options, 3);
}
END_TEST

START_TEST(test_begin_source_forgets)
{
    struct ipfix_fields o, f;
    uint64_t p = timed_fields(&f);
    uint64_t up = (p & ~IPF_BIT(IPF_START_MS)) | IPF_BIT(IPF_START_UPTIME);
    struct flow out;

    announce_interval(100, 1);
    memset(&o, 0, sizeof(o));
    o.sampler_id = 4;
    o.sampling_interval = 40;
    o.sysinit_ms = (uint64_t)MS(START_S - 60);
    announce(&o, IPF_BIT(IPF_SAMPLER_ID) | IPF_BIT(IPF_SAMPLING_INTERVAL) |
                     IPF_BIT(IPF_SYSINIT_MS), 1);
    f.pkt_delta = 1;
    f.sampler_id = 4;
    f.start_uptime = 60000;
    ck_assert_uint_eq(flow_of(&f, p, 1).packets, 100);
    ck_assert_uint_eq(flow_of(&f, p | IPF_BIT(IPF_SAMPLER_ID), 1).packets, 40);
    ck_assert_int_eq(flow_of(&f, up, 1).start_ms, MS(START_S));
    norm_begin_source(nm, NULL);
    out = flow_of(&f, p, 1);
    ck_assert_uint_eq(out.packets, 1);
    ck_assert_uint_eq(out.sampling, 1);
    ck_assert_uint_eq(flow_of(&f, p | IPF_BIT(IPF_SAMPLER_ID), 1).packets, 1);
    ck_assert_int_eq(run(&f, up, 1, EXPORT_S, &out), NORM_NO_TIME);
}
END_TEST

/* ---- addresses, protocols, ports, ICMP ---------------------------------------- */

START_TEST(test_fields_v4)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct flow out = flow_of(&f, p, 1);
    char buf[ADDR_STRLEN];

    ck_assert_str_eq(addr_format(&out.src, buf), "198.51.100.7");
    ck_assert_str_eq(addr_format(&out.dst, buf), "192.0.2.9");
    ck_assert_uint_eq(out.ip_version, 4);
    ck_assert_uint_eq(out.src_value, addr_value(&out.src));
    ck_assert_uint_eq(out.dst_value, addr_value(&out.dst));
    ck_assert_uint_eq(out.proto, PROTO_TCP);
    ck_assert_uint_eq(out.src_port, 40000);
    ck_assert_uint_eq(out.dst_port, 23);
    ck_assert_uint_eq(out.tcp_flags, 0x02);
    ck_assert_uint_eq(out.icmp_type, 0);
    ck_assert_uint_eq(out.icmp_code, 0);
    ck_assert_uint_eq(out.packets, 10);
    ck_assert_uint_eq(out.sampling, 1);
    /* no source: the zero address */
    out = flow_of(&f, p & ~IPF_BIT(IPF_SRC4), 1);
    ck_assert_str_eq(addr_format(&out.src, buf), "::");
    ck_assert_str_eq(addr_format(&out.dst, buf), "192.0.2.9");
}
END_TEST

START_TEST(test_fields_v6)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f) & ~(IPF_BIT(IPF_SRC4) | IPF_BIT(IPF_DST4));
    struct addr a;
    struct flow out;
    char buf[ADDR_STRLEN];

    ck_assert_int_eq(addr_parse("2001:db8:1::5", &a), 0);
    memcpy(f.src6, a.b, 16);
    ck_assert_int_eq(addr_parse("2001:db8:bad::1", &a), 0);
    memcpy(f.dst6, a.b, 16);
    p |= IPF_BIT(IPF_SRC6) | IPF_BIT(IPF_DST6);
    out = flow_of(&f, p, 1);
    ck_assert_str_eq(addr_format(&out.src, buf), "2001:db8:1::5");
    ck_assert_str_eq(addr_format(&out.dst, buf), "2001:db8:bad::1");
    ck_assert_uint_eq(out.ip_version, 6);
    ck_assert_uint_eq(out.dst_value, addr_value(&out.dst));
    ck_assert_uint_ne(out.dst_value >> 63, 0);
    /* an IPv4-mapped destination is IPv4 */
    ck_assert_int_eq(addr_parse("::ffff:192.0.2.44", &a), 0);
    memcpy(f.dst6, a.b, 16);
    out = flow_of(&f, p, 1);
    ck_assert_uint_eq(out.ip_version, 4);
    ck_assert_str_eq(addr_format(&out.dst, buf), "192.0.2.44");
    /* IPv4 first when a record has both */
    out = flow_of(&f, p | IPF_BIT(IPF_DST4) | IPF_BIT(IPF_SRC4), 1);
    ck_assert_str_eq(addr_format(&out.dst, buf), "192.0.2.9");
    ck_assert_str_eq(addr_format(&out.src, buf), "198.51.100.7");
}
END_TEST

START_TEST(test_no_addr)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct flow out;

    memset(&out, 0xa5, sizeof(out));
    ck_assert_int_eq(run(&f, p & ~IPF_BIT(IPF_DST4), 1, EXPORT_S, &out), NORM_NO_ADDR);
    ck_assert_int_eq(run(&f, p & ~(IPF_BIT(IPF_DST4) | IPF_BIT(IPF_SRC4)), 1, EXPORT_S, &out),
                     NORM_NO_ADDR);
    ck_assert_int_eq(run(&f, (p & ~IPF_BIT(IPF_DST4)) | IPF_BIT(IPF_SRC6), 1, EXPORT_S, &out),
                     NORM_NO_ADDR);
    /* out is left alone */
    ck_assert_uint_eq(out.proto, 0xa5);
    ck_assert_uint_eq(norm_get_stats(nm)->no_addr, 3);
}
END_TEST

START_TEST(test_icmp_type_code)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct flow out;

    f.proto = PROTO_ICMP;
    f.src_port = 7;
    f.dst_port = 0x0b00;
    /* icmpTypeCodeIPv4 (32): type * 256 + code, before the port */
    f.icmp_tc4 = 0x0803;
    out = flow_of(&f, p | IPF_BIT(IPF_ICMP_TC4), 1);
    ck_assert_uint_eq(out.icmp_type, 8);
    ck_assert_uint_eq(out.icmp_code, 3);
    ck_assert_uint_eq(out.src_port, 0);
    ck_assert_uint_eq(out.dst_port, 0);
    ck_assert_uint_eq(out.tcp_flags, 0);
    /* icmpTypeIPv4 (176) and icmpCodeIPv4 (177) */
    f.icmp_t4 = 3;
    f.icmp_c4 = 13;
    out = flow_of(&f, p | IPF_BIT(IPF_ICMP_T4) | IPF_BIT(IPF_ICMP_C4), 1);
    ck_assert_uint_eq(out.icmp_type, 3);
    ck_assert_uint_eq(out.icmp_code, 13);
    /* neither: destinationTransportPort holds type * 256 + code */
    f.dst_port = 0x0b01;
    out = flow_of(&f, p, 1);
    ck_assert_uint_eq(out.icmp_type, 11);
    ck_assert_uint_eq(out.icmp_code, 1);
    ck_assert_uint_eq(out.dst_port, 0);
    /* nothing at all: 0/0 */
    out = flow_of(&f, p & ~IPF_BIT(IPF_DST_PORT), 1);
    ck_assert_uint_eq(out.icmp_type, 0);
    ck_assert_uint_eq(out.icmp_code, 0);
}
END_TEST

START_TEST(test_icmpv6_type_code)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct flow out;

    f.proto = PROTO_ICMPV6;
    f.dst_port = 0x0101;
    /* icmpTypeCodeIPv6 (139) */
    f.icmp_tc6 = 0x8000;
    f.icmp_tc4 = 0x0303;    /* the IPv4 element is not read for ICMPv6 */
    out = flow_of(&f, p | IPF_BIT(IPF_ICMP_TC6) | IPF_BIT(IPF_ICMP_TC4), 1);
    ck_assert_uint_eq(out.icmp_type, 128);
    ck_assert_uint_eq(out.icmp_code, 0);
    ck_assert_uint_eq(out.dst_port, 0);
    /* icmpTypeIPv6 (178) and icmpCodeIPv6 (179) */
    f.icmp_t6 = 1;
    f.icmp_c6 = 4;
    out = flow_of(&f, p | IPF_BIT(IPF_ICMP_T6) | IPF_BIT(IPF_ICMP_C6), 1);
    ck_assert_uint_eq(out.icmp_type, 1);
    ck_assert_uint_eq(out.icmp_code, 4);
    /* from the port */
    f.dst_port = 0x8100;
    out = flow_of(&f, p, 1);
    ck_assert_uint_eq(out.icmp_type, 129);
    ck_assert_uint_eq(out.icmp_code, 0);
}
END_TEST

/* ICMP elements mean nothing for other protocols. */
START_TEST(test_icmp_only_for_icmp)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f) | IPF_BIT(IPF_ICMP_TC4) | IPF_BIT(IPF_ICMP_T4);
    struct flow out;

    f.icmp_tc4 = 0x0800;
    f.icmp_t4 = 8;
    out = flow_of(&f, p, 1);
    ck_assert_uint_eq(out.icmp_type, 0);
    ck_assert_uint_eq(out.dst_port, 23);
}
END_TEST

START_TEST(test_ports_and_flags)
{
    static const struct {
        uint8_t proto;
        bool ports;
        bool flags;
    } cases[] = {
        {PROTO_TCP, true, true},     {PROTO_UDP, true, false},   {PROTO_SCTP, true, false},
        {PROTO_DCCP, true, false},   {PROTO_UDPLITE, true, false}, {47, false, false},
        {50, false, false},          {0, false, false},
    };
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);

    f.tcp_flags = 0x12;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct flow out;

        f.proto = cases[i].proto;
        out = flow_of(&f, p, 1);
        ck_assert_uint_eq(out.proto, cases[i].proto);
        ck_assert_msg(out.src_port == (cases[i].ports ? 40000 : 0), "proto %u", cases[i].proto);
        ck_assert_msg(out.dst_port == (cases[i].ports ? 23 : 0), "proto %u", cases[i].proto);
        ck_assert_msg(out.tcp_flags == (cases[i].flags ? 0x12 : 0), "proto %u", cases[i].proto);
        ck_assert_uint_eq(out.icmp_type, 0);
    }
}
END_TEST

/* ---- exporters and counters ------------------------------------------------- */

START_TEST(test_exporters_per_domain)
{
    static const uint32_t domains[] = {1, 2, 1, 3, 2, 3, 1};
    const struct exporter *seen[4] = {NULL, NULL, NULL, NULL};
    const struct exporter *const *list;
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);

    for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
        struct flow out = flow_of(&f, p, domains[i]);

        ck_assert_ptr_nonnull(out.exporter);
        ck_assert_uint_eq(out.exporter->odid, domains[i]);
        if (seen[domains[i]] == NULL)
            seen[domains[i]] = out.exporter;
        ck_assert_ptr_eq(out.exporter, seen[domains[i]]);
    }
    ck_assert_uint_eq(norm_exporters(nm, &list), 3);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert_ptr_eq(list[i], seen[i + 1]);
        ck_assert_uint_eq(list[i]->id, i);
        ck_assert_uint_eq(list[i]->odid, i + 1);
    }
}
END_TEST

START_TEST(test_exporters_stable)
{
    const struct exporter *first, *const *list;
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    struct addr a, b;

    first = flow_of(&f, p, 100).exporter;
    for (uint32_t d = 0; d < 500; d++)
        ck_assert_uint_eq(flow_of(&f, p, 1000 + d).exporter->odid, 1000 + d);
    ck_assert_ptr_eq(flow_of(&f, p, 100).exporter, first);
    ck_assert_uint_eq(norm_exporters(nm, &list), 501);
    ck_assert_ptr_eq(list[0], first);
    ck_assert_uint_eq(list[500]->odid, 1499);

    /* the stream's exporter address is part of the identity */
    ck_assert_int_eq(addr_parse("192.0.2.250", &a), 0);
    ck_assert_int_eq(addr_parse("2001:db8::250", &b), 0);
    norm_begin_source(nm, &a);
    ck_assert_ptr_ne(flow_of(&f, p, 100).exporter, first);
    ck_assert_mem_eq(flow_of(&f, p, 100).exporter->addr.b, a.b, 16);
    norm_begin_source(nm, &b);
    ck_assert_mem_eq(flow_of(&f, p, 100).exporter->addr.b, b.b, 16);
    ck_assert_uint_eq(norm_exporters(nm, &list), 503);
    norm_begin_source(nm, &a);
    ck_assert_ptr_eq(flow_of(&f, p, 100).exporter, list[501]);
    norm_begin_source(nm, NULL);
    ck_assert_ptr_eq(flow_of(&f, p, 100).exporter, first);
    ck_assert_uint_eq(norm_exporters(nm, &list), 503);
    ck_assert_ptr_eq(list[0], first);
    ck_assert_uint_eq(list[502]->odid, 100);
}
END_TEST

START_TEST(test_stats)
{
    struct ipfix_fields f, o;
    uint64_t p = timed_fields(&f);
    struct flow out;
    const struct norm_stats *st = norm_get_stats(nm);

    ck_assert_uint_eq(st->options + st->no_addr + st->no_time + st->bad_time + st->sampled, 0);
    announce_interval(4, 1);
    memset(&o, 0, sizeof(o));
    announce(&o, 0, 2);     /* an options record announcing nothing */
    flow_of(&f, p, 1);
    flow_of(&f, p, 1);
    flow_of(&f, p, 2);
    ck_assert_int_eq(run(&f, p & ~IPF_BIT(IPF_DST4), 1, EXPORT_S, &out), NORM_NO_ADDR);
    ck_assert_int_eq(run(&f, p & ~IPF_BIT(IPF_START_MS), 1, EXPORT_S, &out), NORM_NO_TIME);
    f.start_ms = 1000;
    ck_assert_int_eq(run(&f, p, 1, EXPORT_S, &out), NORM_BAD_TIME);
    ck_assert_uint_eq(st->options, 2);
    ck_assert_uint_eq(st->sampled, 2);
    ck_assert_uint_eq(st->no_addr, 1);
    ck_assert_uint_eq(st->no_time, 1);
    ck_assert_uint_eq(st->bad_time, 1);
    /* the options record of domain 2 announced nothing: unsampled */
    f.start_ms = (uint64_t)MS(START_S);
    ck_assert_uint_eq(flow_of(&f, p, 2).sampling, 1);
}
END_TEST

/*
 * A record that names its exporter (darkstab's archive, a mediator) keeps
 * it, whatever stream and message it arrives in.
 */
START_TEST(test_exporter_named_by_record)
{
    struct ipfix_fields f;
    uint64_t p = timed_fields(&f);
    uint64_t p4 = p | IPF_BIT(IPF_EXPORTER4) | IPF_BIT(IPF_OBS_DOMAIN);
    uint64_t p6 = p | IPF_BIT(IPF_EXPORTER6);
    struct addr stream, a4, a6, zero;
    const struct exporter *e4, *e6, *plain;
    char buf[ADDR_STRLEN];

    ck_assert_int_eq(addr_parse("192.0.2.250", &stream), 0);
    ck_assert_int_eq(addr_parse("198.51.100.1", &a4), 0);
    ck_assert_int_eq(addr_parse("2001:db8::77", &a6), 0);
    memset(&zero, 0, sizeof(zero));
    norm_begin_source(nm, &stream);

    /* exporterIPv4Address and observationDomainId: both from the record */
    f.exporter4 = 0xc6336401;
    f.obs_domain = 4242;
    e4 = flow_of(&f, p4, 7).exporter;
    ck_assert_str_eq(addr_format(&e4->addr, buf), "198.51.100.1");
    ck_assert_uint_eq(e4->odid, 4242);
    /* exporterIPv6Address without observationDomainId: the message's domain */
    memcpy(f.exporter6, a6.b, 16);
    e6 = flow_of(&f, p6, 7).exporter;
    ck_assert_str_eq(addr_format(&e6->addr, buf), "2001:db8::77");
    ck_assert_uint_eq(e6->odid, 7);
    /* alternating exporters each find their own entry again */
    ck_assert_ptr_eq(flow_of(&f, p4, 9).exporter, e4);
    ck_assert_ptr_eq(flow_of(&f, p6, 7).exporter, e6);
    ck_assert_ptr_eq(flow_of(&f, p4, 7).exporter, e4);
    ck_assert_ptr_ne(flow_of(&f, p6, 8).exporter, e6);
    /* the same exporter seen live (stream address, message domain) is the same entry */
    norm_begin_source(nm, &a4);
    plain = flow_of(&f, p, 4242).exporter;
    ck_assert_ptr_eq(plain, e4);
    /* 0.0.0.0 is an unknown exporter: the all-zero address */
    f.exporter4 = 0;
    f.obs_domain = 3;
    ck_assert_mem_eq(flow_of(&f, p4, 7).exporter->addr.b, zero.b, 16);
    ck_assert_uint_eq(flow_of(&f, p4, 7).exporter->odid, 3);
    /* observationDomainId alone does not name an exporter: stream and message as before */
    ck_assert_ptr_eq(flow_of(&f, p | IPF_BIT(IPF_OBS_DOMAIN), 4242).exporter, plain);
}
END_TEST

/* ---- the suite ------------------------------------------------------------------ */

START_TEST(test_netflow_header_uptime_and_wrap)
{
    /*
     * NetFlow v5/v9: flow times are uptimes; the header gives the system
     * init time.  The exporter booted 50 days ago, so its 32-bit uptime
     * wrapped: the header says 4,000 ms since the wrap, and a flow that
     * started 10 s before the wrap carries an uptime near 2^32.
     */
    struct ipfix_fields f;
    uint64_t present = base_fields(&f);
    int64_t wrap_ms = MS(START_S) - 2000;   /* the moment the uptime wrapped */
    struct ipfix_record rec = {&f, 0, 0, EXPORT_S, false, 0, 0};
    struct flow out;

    rec.present = present | IPF_BIT(IPF_START_UPTIME) | IPF_BIT(IPF_END_UPTIME);
    rec.sysinit_ms = wrap_ms;           /* init as the header computes it after the wrap */
    rec.uptime_ms = 4000;
    f.start_uptime = 3000;
    f.end_uptime = 3500;
    ck_assert_int_eq(norm_record(nm, &rec, &out), NORM_FLOW);
    ck_assert_int_eq(out.start_ms, wrap_ms + 3000);
    ck_assert_int_eq(out.end_ms, wrap_ms + 3500);
    f.start_uptime = (uint32_t)(UINT64_C(4294967296) - 10000);
    f.end_uptime = 1000;
    ck_assert_int_eq(norm_record(nm, &rec, &out), NORM_FLOW);
    ck_assert_int_eq(out.start_ms, wrap_ms - 10000);
    ck_assert_int_eq(out.end_ms, wrap_ms + 1000);
    /* the record's own systemInitTimeMilliseconds wins over the header */
    f.sysinit_ms = (uint64_t)MS(START_S - 100);
    f.start_uptime = 5000;
    rec.present |= IPF_BIT(IPF_SYSINIT_MS);
    ck_assert_int_eq(norm_record(nm, &rec, &out), NORM_FLOW);
    ck_assert_int_eq(out.start_ms, MS(START_S - 100) + 5000);
}
END_TEST

START_TEST(test_sampling_overrides_per_source)
{
    /* collector.sampling: a default where nothing is announced, a forced rate over anything */
    struct ipfix_fields f;
    uint64_t present = timed_fields(&f);
    struct addr a;
    struct norm_source *quiet, *forced;
    struct ipfix_record rec = {&f, present, 1, EXPORT_S, false, 0, 0};
    struct ipfix_fields o;
    struct ipfix_record opt = {&o, IPF_BIT(IPF_SAMPLING_INTERVAL), 1, EXPORT_S, true, 0, 0};
    struct flow out;

    addr_parse("192.0.2.200", &a);
    quiet = norm_source_new(nm, &a);
    addr_parse("192.0.2.201", &a);
    forced = norm_source_new(nm, &a);
    norm_source_set_sampling(quiet, 100, 0);
    norm_source_set_sampling(forced, 0, 512);
    ck_assert_int_eq(norm_source_record(quiet, &rec, &out), NORM_FLOW);
    ck_assert_uint_eq(out.packets, 1000);
    ck_assert_uint_eq(out.sampling, 100);
    ck_assert_int_eq(norm_source_record(forced, &rec, &out), NORM_FLOW);
    ck_assert_uint_eq(out.packets, 5120);
    /* an announcement beats the default, never the forced rate */
    memset(&o, 0, sizeof(o));
    o.sampling_interval = 10;
    ck_assert_int_eq(norm_source_record(quiet, &opt, &out), NORM_OPTIONS);
    ck_assert_int_eq(norm_source_record(forced, &opt, &out), NORM_OPTIONS);
    ck_assert_int_eq(norm_source_record(quiet, &rec, &out), NORM_FLOW);
    ck_assert_uint_eq(out.packets, 100);
    ck_assert_int_eq(norm_source_record(forced, &rec, &out), NORM_FLOW);
    ck_assert_uint_eq(out.packets, 5120);
    /* two sources, two exporters: each flow names its own */
    ck_assert_ptr_ne(out.exporter, NULL);
    ck_assert_str_eq(addr_format(&out.exporter->addr, (char[ADDR_STRLEN]){0}), "192.0.2.201");
    norm_source_free(quiet);
    norm_source_free(forced);
}
END_TEST

static Suite *
norm_suite(void)
{
    Suite *s = suite_create("norm");
    TCase *tc;

    tc = tcase_create("time");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_time_seconds);
    tcase_add_test(tc, test_time_milliseconds);
    tcase_add_test(tc, test_time_microseconds);
    tcase_add_test(tc, test_time_nanoseconds);
    tcase_add_test(tc, test_time_ntp_era1);
    tcase_add_test(tc, test_time_sysuptime_in_record);
    tcase_add_test(tc, test_time_sysuptime_from_options);
    tcase_add_test(tc, test_time_delta_microseconds);
    tcase_add_test(tc, test_time_end_clamped);
    tcase_add_test(tc, test_time_missing);
    tcase_add_test(tc, test_time_bad);
    tcase_add_test(tc, test_time_clock_bound);
    suite_add_tcase(s, tc);

    tc = tcase_create("packets");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_packets_delta_or_total);
    tcase_add_loop_test(tc, test_sampling_options, 0,
                        (int)(sizeof(sampling_cases) / sizeof(sampling_cases[0])));
    tcase_add_test(tc, test_sampling_rate_values);
    tcase_add_test(tc, test_sampling_per_sampler_id);
    tcase_add_test(tc, test_sampling_domain_and_sampler);
    tcase_add_test(tc, test_sampling_in_record);
    tcase_add_test(tc, test_sampling_per_domain);
    tcase_add_test(tc, test_begin_source_forgets);
    suite_add_tcase(s, tc);

    tc = tcase_create("fields");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_fields_v4);
    tcase_add_test(tc, test_fields_v6);
    tcase_add_test(tc, test_no_addr);
    tcase_add_test(tc, test_icmp_type_code);
    tcase_add_test(tc, test_icmpv6_type_code);
    tcase_add_test(tc, test_icmp_only_for_icmp);
    tcase_add_test(tc, test_ports_and_flags);
    suite_add_tcase(s, tc);

    tc = tcase_create("exporters");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_exporters_per_domain);
    tcase_add_test(tc, test_exporters_stable);
    tcase_add_test(tc, test_stats);
    tcase_add_test(tc, test_netflow_header_uptime_and_wrap);
    tcase_add_test(tc, test_sampling_overrides_per_source);
    tcase_add_test(tc, test_exporter_named_by_record);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(norm_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
