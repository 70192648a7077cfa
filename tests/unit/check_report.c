/*
 * Tests of the reports, through the whole pipeline on a small file: JSON
 * names and values of the contract, no-data gaps, CSV rows, the text
 * report's marker and group table; the format table; the report of a day
 * (report_render) with its chart and both HTML forms; a drill-down laid
 * out as text, HTML and a per-minute chart; base64.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "ds/base64.h"
#include "ds/pipeline.h"
#include "ds/proto.h"
#include "ds/report.h"
#include "ds/tz.h"
#include "testutil.h"
/* the report's model, to render a drill-down the store cannot give yet */
#include "../../src/report/report_int.h"

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

START_TEST(test_format_table)
{
    char names[64];

    ck_assert_ptr_eq(report_format_find("text", REPORT_FOR_WRITE), &report_format_text);
    ck_assert_ptr_eq(report_format_find("html", REPORT_FOR_DOC), &report_format_html);
    ck_assert_ptr_null(report_format_find("html", REPORT_FOR_WRITE));
    ck_assert_ptr_null(report_format_find("csv", REPORT_FOR_DOC));
    ck_assert_ptr_null(report_format_find("xml", 0));
    ck_assert_str_eq(report_format_names(REPORT_FOR_WRITE, names, sizeof(names)),
                     "text, json or csv");
    ck_assert_str_eq(report_format_names(REPORT_FOR_DOC, names, sizeof(names)),
                     "text, html or json");
}
END_TEST

static int
longest_line(const char *s)
{
    int max = 0, n = 0;

    for (; *s; s++) {
        n = *s == '\n' ? 0 : n + 1;
        if (n > max)
            max = n;
    }
    return max;
}

START_TEST(test_render_day)
{
    struct ds_cfg *cfg = tu_cfg("darknet:\n  prefixes: [198.18.0.0/16]\nanalyses:\n"
                                "  - name: ports\n    window: 7\n");
    struct store *st;
    struct pipeline *p;
    struct ds_error err;
    struct report_doc d;
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

    write_input(tu_path("in.ipfix"));
    st = store_open("sqlite", ":memory:", &err);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(pipeline_new(cfg, st, &p, &err), DS_OK);
    ck_assert_int_eq(pipeline_add_input(p, tu_path("in.ipfix"), &err), DS_OK);
    ck_assert_msg(pipeline_finish(p, &err) == DS_OK, "%s", err.msg);
    ck_assert_int_eq(report_render(cfg, st, D0 + 9 * DAY, D0 + 10 * DAY, "2015-12-23", &d, &err),
                     DS_OK);
    ck_assert_str_eq(d.subject, "darkstab 2015-12-23: 1 unstable slot (unknown)");
    ck_assert_uint_eq(d.unstable, 1);
    ck_assert_uint_eq(d.incomplete, 0);
    ck_assert_int_le(longest_line(d.text), 80);
    ck_assert_ptr_nonnull(strstr(d.text, "\n[1] ports 2015-12-23 Wed: unknown\n"));
    /* 1,000 packets against the mean of the 7 days before with data (100 each) */
    ck_assert_ptr_nonnull(strstr(d.text, "1,000, +900.0% against the mean of the previous 6 days"));
    /* the TopN chart: a PNG of the size the HTML gives it */
    /* and the per-minute chart of the event's changed groups */
    ck_assert_uint_eq(d.n_images, 2);
    ck_assert_str_eq(d.images[1].cid, "event-0.ports@darkstab");
    ck_assert_int_eq(memcmp(d.images[1].png, sig, sizeof(sig)), 0);
    ck_assert_ptr_nonnull(strstr(d.html_mail, "<img src=\"cid:event-0.ports@darkstab\""));
    ck_assert_int_eq(memcmp(d.images[0].png, sig, sizeof(sig)), 0);
    ck_assert_int_eq(d.images[0].width, 600);
    ck_assert_str_eq(d.images[0].cid, "topn-0.ports@darkstab");
    ck_assert_ptr_nonnull(strstr(d.html, "<img src=\"data:image/png;base64,iVBORw0KGgo"));
    ck_assert_ptr_nonnull(strstr(d.html_mail, "<img src=\"cid:topn-0.ports@darkstab\""));
    ck_assert_ptr_null(strchr(d.html, REPORT_IMG_MARK));
    ck_assert_ptr_null(strchr(d.html_mail, REPORT_IMG_MARK));
    ck_assert_ptr_null(strstr(d.html_mail, "data:"));
    ck_assert_ptr_nonnull(strstr(d.json, "\"unstable\": 1"));
    ck_assert_ptr_eq(report_doc_get(&d, &report_format_html), d.html);
    report_doc_fini(&d);
    ck_assert_ptr_null(d.text);
    pipeline_free(p);
    store_close(st);
    cfg_free(cfg);
    report_release_static();
}
END_TEST

/* A slot of 2015-12-23 as the explain stage describes a DDoS on UDP 2849. */
static struct slot_explain *
ddos_explain(const struct key_layout *l)
{
    struct slot_explain *e = calloc(1, sizeof(*e));
    struct explain_change *in = calloc(1, sizeof(*in));
    struct explain_group *g = calloc(2, sizeof(*g));

    for (int i = 0; i < 2; i++) {
        uint64_t *m = calloc(1440, sizeof(*m));
        struct flow f;

        /* udp 2849 bursts for 90 min from 01:00; tcp/23 steady */
        for (int k = 0; k < 1440; k++)
            m[k] = i == 0 ? (k >= 60 && k < 150 ? 10 : 0) : 1;
        memset(&f, 0, sizeof(f));
        f.proto = i == 0 ? PROTO_UDP : PROTO_TCP;
        f.dst_port = i == 0 ? 2849 : 23;
        f.ip_version = 4;
        key_extract(l, &f, g[i].key);
        g[i].packets = i == 0 ? 900 : 1440;
        g[i].share = i == 0 ? 38.5 : 61.5;
        g[i].changed = i == 0;
        g[i].in_top = true;
        g[i].has_lists = true;
        g[i].src.n = 2;
        g[i].src.exact = true;
        g[i].src.distinct = 233;
        addr_parse("203.0.113.1", &g[i].src.v[0].addr);
        g[i].src.v[0].packets = 400;
        addr_parse("2001:db8::1", &g[i].src.v[1].addr);
        g[i].src.v[1].packets = 300;
        g[i].sport.n = 1;
        g[i].sport.exact = true;
        g[i].sport.v[0].port = 53;
        g[i].sport.v[0].packets = 900;
        g[i].n_minutes = 1440;
        g[i].minutes = m;
        g[i].minutes_exact = true;
    }
    memcpy(in->key, g[0].key, sizeof(in->key));
    in->share = 38.5;
    e->window_slots = 7;
    e->n_entered = 1;
    e->entered = in;
    e->n_groups = 2;
    e->groups = g;
    e->cause = CAUSE_DDOS;
    e->n_cause_groups = 1;
    snprintf(e->evidence, sizeof(e->evidence), "233 sources, 1 destination port, 100%% of the "
             "slot's packets within 1 h 30 min");
    return e;
}

START_TEST(test_drilldown_rendering)
{
    struct ds_cfg *cfg = tu_cfg("darknet:\n  prefixes: [198.18.0.0/16]\nanalyses:\n"
                                "  - name: ports\n    window: 7\n");
    struct report_model m;
    struct report_model_analysis a;
    struct report_event ev;
    struct report_image im;
    struct slot_explain *orig;
    struct strbuf sb = STRBUF_INIT;
    uint8_t *png;
    size_t len;
    int w, h;

    memset(&m, 0, sizeof(m));
    memset(&a, 0, sizeof(a));
    memset(&ev, 0, sizeof(ev));
    a.cfg = &cfg->analyses[0];
    a.stored = true;
    a.image = SIZE_MAX;
    key_layout_init(&a.layout, a.cfg->keys, a.cfg->n_keys);
    orig = ddos_explain(&a.layout);
    ev.ex = report_explain_copy(orig);
    /* the copy owns its arrays: the original can go */
    for (size_t i = 0; i < orig->n_groups; i++)
        free(orig->groups[i].minutes);
    free(orig->groups);
    free(orig->entered);
    free(orig);
    ev.cause = CAUSE_DDOS;
    ev.r.start = D0 + 9 * DAY;
    ev.r.end = D0 + 10 * DAY;
    ev.r.packets = 2340;
    ev.image = SIZE_MAX;
    m.cfg = cfg;
    m.title = "2015-12-23";
    m.subject = "darkstab 2015-12-23: 1 unstable slot (ddos)";
    m.from = ev.r.start;
    m.to = ev.r.end;
    m.an = &a;
    m.n_an = 1;
    m.ev = &ev;
    m.n_ev = 1;
    m.unstable = 1;
    m.causes[CAUSE_DDOS] = 1;
    /* the per-minute chart of the changed group */
    ck_assert_int_eq(chart_minutes(&m, &ev, &png, &len, &w, &h), 0);
    ck_assert_int_eq(w, 600);
    ck_assert_uint_gt(len, 1000);
    memset(&im, 0, sizeof(im));
    im.png = png;
    im.len = len;
    im.width = w;
    im.height = h;
    im.title = (char *)"minutes";
    ev.image = 0;
    m.images = &im;
    m.n_images = 1;
    report_doc_text(&m, &sb);
    ck_assert_int_le(longest_line(sb.s), 80);
    ck_assert_msg(strstr(sb.s, "[1] ports 2015-12-23 Wed: ddos\n") != NULL, "%s", sb.s);
    /* the drill-down as "show" writes it (report_explain_text) */
    ck_assert_ptr_nonnull(strstr(sb.s, "\nprobable cause: ddos, in udp 2849\n"));
    ck_assert_ptr_nonnull(strstr(sb.s, "  evidence: 233 sources, 1 destination port"));
    ck_assert_ptr_nonnull(strstr(sb.s, "\nudp 2849: 900 packets, 38.50% of the slot"));
    ck_assert_ptr_nonnull(strstr(sb.s, "    203.0.113.1                  400"));
    ck_assert_ptr_nonnull(strstr(sb.s, "  causes       ddos 1\n"));
    strbuf_reset(&sb);
    report_format_html.doc(&m, &sb);
    ck_assert_ptr_nonnull(strstr(sb.s, "<b>Probable cause:</b> ddos. 233 sources"));
    ck_assert_ptr_nonnull(strstr(sb.s, "<img src=\"\0010\001\" width=\"600\""));
    ck_assert_ptr_null(strstr(sb.s, "<script"));
    strbuf_reset(&sb);
    report_doc_json(&m, &sb);
    ck_assert_ptr_nonnull(strstr(sb.s, "\"kind\": \"ddos\""));
    /* the drill-down members of the results document */
    ck_assert_ptr_nonnull(strstr(sb.s, "\"changes\": {"));
    ck_assert_ptr_nonnull(strstr(sb.s, "\"detail\": ["));
    ck_assert_ptr_nonnull(strstr(sb.s, "\"evidence\": \"233 sources, 1 destination port"));
    strbuf_fini(&sb);
    free(png);
    report_explain_free(ev.ex);
    cfg_free(cfg);
    report_release_static();
}
END_TEST

START_TEST(test_base64)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                                        "Zm9vYmFy"};
    uint8_t bytes[100];
    char out[200];
    uint8_t *back;
    size_t n;

    /* RFC 4648 section 10 */
    for (size_t i = 0; i < 7; i++) {
        ck_assert_uint_eq(base64_encode((const uint8_t *)plain[i], strlen(plain[i]), 0, out),
                          strlen(coded[i]));
        ck_assert_str_eq(out, coded[i]);
        ck_assert_uint_eq(base64_len(strlen(plain[i])), strlen(coded[i]));
        back = base64_decode(coded[i], strlen(coded[i]), &n);
        ck_assert_ptr_nonnull(back);
        ck_assert_uint_eq(n, strlen(plain[i]));
        ck_assert_int_eq(memcmp(back, plain[i], n), 0);
        free(back);
    }
    /* MIME lines of 76 characters, and back through the line breaks */
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (uint8_t)(i * 7 + 3);
    n = base64_encode(bytes, sizeof(bytes), 76, out);
    ck_assert_uint_eq(n, base64_len(sizeof(bytes)) + 2);
    ck_assert_int_eq(out[76], '\r');
    ck_assert_int_eq(out[77], '\n');
    back = base64_decode(out, n, &n);
    ck_assert_ptr_nonnull(back);
    ck_assert_uint_eq(n, sizeof(bytes));
    ck_assert_int_eq(memcmp(back, bytes, n), 0);
    free(back);
    ck_assert_ptr_null(base64_decode("Zm9v!", 5, &n));
    ck_assert_ptr_null(base64_decode("Zm9", 3, &n));
    ck_assert_ptr_null(base64_decode("Zg==Zg==", 8, &n));
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
    tcase_add_test(tc, test_format_table);
    tcase_add_test(tc, test_render_day);
    tcase_add_test(tc, test_drilldown_rendering);
    tcase_add_test(tc, test_base64);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    tz_apply("UTC");
    return tu_run(report_suite()) == 0 ? 0 : 1;
}
