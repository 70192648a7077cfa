/*
 * Tests of the reports, through the whole pipeline on a small file: JSON
 * names and values of the contract, no-data gaps, CSV rows, the text
 * report's marker and group table.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ds/pipeline.h"
#include "ds/proto.h"
#include "ds/report.h"
#include "ds/tz.h"
#include "testutil.h"

#define DAY 86400
#define D0 1450051200 /* 2015-12-14T00:00:00Z, a Monday */

struct rec {
    uint64_t start_ms;
    uint64_t packets;
    uint32_t src;
    uint32_t dst;
    uint16_t dport;
    uint8_t proto;
    uint8_t flags;
    uint8_t pad[4];
};

static fbInfoElementSpec_t spec[] = {
    {"flowStartMilliseconds", 8, 0},  {"packetDeltaCount", 8, 0},
    {"sourceIPv4Address", 4, 0},      {"destinationIPv4Address", 4, 0},
    {"destinationTransportPort", 2, 0}, {"protocolIdentifier", 1, 0},
    {"tcpControlBits", 1, 0},         {"paddingOctets", 4, 0},
    FB_IESPEC_NULL,
};

/*
 * Days 0-7: 20 TCP SYN ports of 5 packets each (TopN at 1% = 20).  Day 8:
 * nothing.  Day 9: the same plus UDP 2849 with 900 packets from 3 hosts
 * (TopN 1).
 */
static void
write_input(const char *path)
{
    struct tu_fb w;

    tu_fb_open(&w, path);
    tu_fb_template(&w, 256, spec, 0);
    for (int day = 0; day < 10; day++) {
        if (day == 8)
            continue;
        for (int port = 1; port <= 20; port++) {
            struct rec r = {(uint64_t)(D0 + day * DAY + port * 60) * 1000, 5, 0xC0000201,
                            0xC6120000u + (uint32_t)port, (uint16_t)port, PROTO_TCP, 0x02, {0}};

            tu_fb_record(&w, 256, &r, sizeof(r));
        }
        if (day == 9) {
            for (int i = 0; i < 9; i++) {
                struct rec r = {(uint64_t)(D0 + day * DAY + 3600 + i) * 1000, 100,
                                0xCB007100u + (uint32_t)(i % 3), 0xC6120101u, 2849, PROTO_UDP, 0,
                                {0}};

                tu_fb_record(&w, 256, &r, sizeof(r));
            }
        }
    }
    tu_fb_close(&w);
}

static char *
run_report(const struct report_format *fmt)
{
    struct ds_cfg *cfg = tu_cfg("darknet:\n  prefixes: [198.18.0.0/16]\nanalyses:\n"
                                "  - name: ports\n    window: 7\n");
    struct store *st;
    struct pipeline *p;
    struct ds_error err;
    const struct pipeline_analysis *pa;
    struct report_analysis an;
    char *text = NULL;
    size_t len = 0;
    FILE *fp;

    write_input(tu_path("in.ipfix"));
    st = store_open("sqlite", ":memory:", &err);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(pipeline_new(cfg, st, &p, &err), DS_OK);
    ck_assert_int_eq(pipeline_add_input(p, tu_path("in.ipfix"), &err), DS_OK);
    ck_assert_msg(pipeline_finish(p, &err) == DS_OK, "%s", err.msg);
    ck_assert_uint_eq(pipeline_analyses(p, &pa), 1);
    an.cfg = pa[0].cfg;
    an.layout = &pa[0].layout;
    an.store_id = pa[0].store_id;
    an.from = pa[0].from;
    an.to = pa[0].to;
    an.late = 0;
    fp = open_memstream(&text, &len);
    ck_assert_int_eq(report_write(fmt, fp, cfg, NULL, &an, 1, st, &err), DS_OK);
    fclose(fp);
    pipeline_free(p);
    store_close(st);
    cfg_free(cfg);
    return text;
}

static int
count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

START_TEST(test_json_contract)
{
    char *j = run_report(&report_format_json);

    ck_assert_ptr_nonnull(strstr(j, "\"version\": 1"));
    ck_assert_ptr_nonnull(strstr(j, "\"name\": \"ports\""));
    ck_assert_ptr_nonnull(
        strstr(j, "\"keys\": [\n        \"proto\",\n        \"dst_port\"\n      ]"));
    ck_assert_ptr_nonnull(strstr(j, "\"slot_seconds\": 86400"));
    ck_assert_ptr_nonnull(
        strstr(j, "\"thresholds\": [\n        1.0,\n        0.75,\n        0.5\n"));
    /* ten slots from the first to the last day with data, the gap included */
    ck_assert_int_eq(count(j, "\"start\": \"2015-12-"), 10);
    ck_assert_ptr_nonnull(strstr(j, "\"start\": \"2015-12-22T00:00:00Z\",\n          \"end\": "
                                    "\"2015-12-23T00:00:00Z\",\n          \"packets\": 0"));
    ck_assert_int_eq(count(j, "\"status\": \"no-data\""), 3);
    ck_assert_int_eq(count(j, "\"status\": \"warmup\""), 7 * 3);
    /* day 7 judged stable with sigma 0; day 9 unstable, decrease */
    ck_assert_int_eq(count(j, "\"status\": \"stable\""), 3);
    ck_assert_int_eq(count(j, "\"direction\": \"decrease\""), 3);
    ck_assert_ptr_nonnull(strstr(j, "\"mean\": 20.0,\n              \"stddev\": 0.0,\n"
                                    "              \"lower\": 20.0,\n"
                                    "              \"upper\": 20.0"));
    /* the top group of day 9 */
    ck_assert_ptr_nonnull(strstr(j, "\"key\": {\n                \"proto\": \"udp\",\n"
                                    "                \"dst_port\": 2849\n              }"));
    ck_assert_ptr_nonnull(strstr(j, "\"packets\": 900,\n              \"flows\": 9,\n"
                                    "              \"share\": 90.0,\n"
                                    "              \"src_addrs\": 3"));
    ck_assert_ptr_nonnull(strstr(j, "\"type\": \"UDP\""));
    ck_assert_ptr_nonnull(strstr(j, "\"type\": \"TCP SYN\""));
    ck_assert_ptr_nonnull(strstr(j, "\"first_seen\": \"2015-12-23T01:00:00.000Z\""));
    free(j);
}
END_TEST

START_TEST(test_csv_rows)
{
    char *c = run_report(&report_format_csv);

    static const char header[] = "analysis,slot_start,slot_end,packets,flows,groups,threshold,topn,"
                                 "status,direction,mean,stddev,lower,upper\n";

    ck_assert_int_eq(strncmp(c, header, strlen(header)), 0);
    ck_assert_int_eq(count(c, "\n"), 1 + 10 * 3);
    ck_assert_ptr_nonnull(strstr(c, "ports,2015-12-22T00:00:00Z,2015-12-23T00:00:00Z,"
                                    "0,0,0,1,0,no-data,,,,,\n"));
    ck_assert_ptr_nonnull(strstr(c, "ports,2015-12-23T00:00:00Z,2015-12-24T00:00:00Z,"
                                    "1000,29,21,1,1,unstable,decrease,"
                                    "20.000000,0.000000,20.000000,20.000000\n"));
    free(c);
}
END_TEST

START_TEST(test_text_marks_unstable_and_shows_table)
{
    char *t = run_report(&report_format_text);

    ck_assert_ptr_nonnull(strstr(t, "2015-12-23 Wed"));
    ck_assert_int_eq(count(t, "** UNSTABLE decrease"), 1);
    ck_assert_ptr_nonnull(strstr(t, "no data"));
    ck_assert_ptr_nonnull(strstr(t, "unstable slots of ports: TopN groups above 0.5%"));
    /* the table row: 3 sources, 1 port, 1 address, 900 packets, 90% */
    ck_assert_ptr_nonnull(strstr(t, "          3         1         1          900   90.00%  udp"));
    free(t);
}
END_TEST

static Suite *
report_suite(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("formats");

    tcase_add_test(tc, test_json_contract);
    tcase_add_test(tc, test_csv_rows);
    tcase_add_test(tc, test_text_marks_unstable_and_shows_table);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    tz_apply("UTC");
    return tu_run(report_suite()) == 0 ? 0 : 1;
}
