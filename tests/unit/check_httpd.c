/*
 * Tests of the Prometheus endpoint: the text format helpers (escaping of
 * help text and label values, special values, name checks).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/log.h"
#include "ds/promtext.h"
#include "ds/strbuf.h"
#include "testutil.h"

/* ---- promtext ---- */

START_TEST(test_family_help_escapes_backslash_and_newline)
{
    struct strbuf b = STRBUF_INIT;

    /* help: a \ b, newline, then c "q" (quotes stay as they are in help text) */
    prom_family(&b, "darkstab_x_total", "counter", "a \\ b\nc \"q\"");
    ck_assert_str_eq(strbuf_str(&b), "# HELP darkstab_x_total a \\\\ b\\nc \"q\"\n"
                                     "# TYPE darkstab_x_total counter\n");
    strbuf_reset(&b);
    prom_family(&b, "up", "gauge", NULL);
    ck_assert_str_eq(strbuf_str(&b), "# TYPE up gauge\n");
    strbuf_fini(&b);
}
END_TEST

START_TEST(test_label_values_escaped)
{
    struct strbuf lb = STRBUF_INIT;
    const char *s;

    /* value: say "hi" \ bye, newline, end */
    s = prom_labels(&lb, "a", "say \"hi\" \\ bye\nend", "b", "", "c", NULL, NULL);
    ck_assert_str_eq(s, "a=\"say \\\"hi\\\" \\\\ bye\\nend\",b=\"\",c=\"\"");
    /* prom_labels starts over; prom_label_add adds */
    prom_labels(&lb, "exporter", "192.0.2.1", NULL);
    prom_label_add(&lb, "protocol", "ipfix");
    ck_assert_str_eq(strbuf_str(&lb), "exporter=\"192.0.2.1\",protocol=\"ipfix\"");
    strbuf_fini(&lb);
}
END_TEST

START_TEST(test_samples)
{
    struct strbuf b = STRBUF_INIT;
    struct strbuf lb = STRBUF_INIT;

    prom_sample_u64(&b, "n_total", NULL, 0);
    prom_sample_u64(&b, "n_total", "", UINT64_MAX);
    prom_sample_u64(&b, "n_total", prom_labels(&lb, "k", "v\"", NULL), 7);
    prom_sample_f(&b, "ratio", prom_labels(&lb, "k", "v", NULL), 0.25);
    ck_assert_str_eq(strbuf_str(&b), "n_total 0\n"
                                     "n_total 18446744073709551615\n"
                                     "n_total{k=\"v\\\"\"} 7\n"
                                     "ratio{k=\"v\"} 0.25\n");
    strbuf_fini(&b);
    strbuf_fini(&lb);
}
END_TEST

static const char *
value_text(double v)
{
    static struct strbuf b = STRBUF_INIT;

    strbuf_reset(&b);
    prom_value_f(&b, v);
    return strbuf_str(&b);
}

START_TEST(test_special_values)
{
    static const double round_trip[] = {1.0 / 3, 0.1 + 0.2, 1e-300, 123456789012345678.0, -2.5e-7};

    ck_assert_str_eq(value_text(NAN), "NaN");
    ck_assert_str_eq(value_text(-NAN), "NaN");
    ck_assert_str_eq(value_text(INFINITY), "+Inf");
    ck_assert_str_eq(value_text(-INFINITY), "-Inf");
    ck_assert_str_eq(value_text(0.1), "0.1");
    ck_assert_str_eq(value_text(3), "3");
    ck_assert_str_eq(value_text(-0.5), "-0.5");
    ck_assert_str_eq(value_text(1e21), "1e+21");
    /* nothing is rounded away */
    for (size_t i = 0; i < sizeof(round_trip) / sizeof(round_trip[0]); i++)
        ck_assert_msg(strtod(value_text(round_trip[i]), NULL) == round_trip[i], "%.17g as %s",
                      round_trip[i], value_text(round_trip[i]));
}
END_TEST

START_TEST(test_name_checks)
{
    ck_assert(prom_metric_name_ok("darkstab_records_total"));
    ck_assert(prom_metric_name_ok("job:rate5m"));
    ck_assert(prom_metric_name_ok("_x9"));
    ck_assert(!prom_metric_name_ok(""));
    ck_assert(!prom_metric_name_ok("9x"));
    ck_assert(!prom_metric_name_ok("a-b"));
    ck_assert(!prom_metric_name_ok("a b"));
    ck_assert(prom_label_name_ok("exporter"));
    ck_assert(!prom_label_name_ok("a:b"));
    ck_assert(!prom_label_name_ok("__name__"));
    ck_assert(!prom_label_name_ok("é"));
}
END_TEST

/* A bad name is a bug of the caller's: it stops the program (exit 1). */
START_TEST(test_bad_metric_name_is_fatal)
{
    struct strbuf b = STRBUF_INIT;

    log_set_level(LOG_EMERG);
    prom_sample_u64(&b, "bad name", NULL, 1);
}
END_TEST

START_TEST(test_bad_label_name_is_fatal)
{
    struct strbuf lb = STRBUF_INIT;

    log_set_level(LOG_EMERG);
    prom_labels(&lb, "__reserved", "x", NULL);
}
END_TEST

START_TEST(test_bad_type_is_fatal)
{
    struct strbuf b = STRBUF_INIT;

    log_set_level(LOG_EMERG);
    prom_family(&b, "x", "count", "help");
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("httpd");
    TCase *tc = tcase_create("promtext");

    tcase_add_test(tc, test_family_help_escapes_backslash_and_newline);
    tcase_add_test(tc, test_label_values_escaped);
    tcase_add_test(tc, test_samples);
    tcase_add_test(tc, test_special_values);
    tcase_add_test(tc, test_name_checks);
    tcase_add_exit_test(tc, test_bad_metric_name_is_fatal, 1);
    tcase_add_exit_test(tc, test_bad_label_name_is_fatal, 1);
    tcase_add_exit_test(tc, test_bad_type_is_fatal, 1);
    suite_add_tcase(s, tc);

    return tu_run(s) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
