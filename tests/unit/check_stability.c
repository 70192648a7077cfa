/*
 * Tests of TopN and stability (METHOD sections 4 and 5), named after the
 * steps of src/stability/stability.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ds/result.h"
#include "ds/stability.h"
#include "testutil.h"

static struct decimal
dec(const char *s)
{
    struct decimal d;
    char why[128];

    ck_assert_msg(parse_decimal(s, 6, &d, why, sizeof(why)) == 0, "%s", why);
    return d;
}

static struct stab_params
params(int64_t window, const char *k, bool sample, const char *min_stddev)
{
    struct stab_params p;

    p.window = window;
    p.k = dec(k);
    p.sample = sample;
    p.min_stddev = dec(min_stddev);
    return p;
}

/* ---- TopN: shares strictly above the threshold ---- */

START_TEST(test_topn_share_equal_to_threshold_never_counts)
{
    struct decimal one = dec("1.0"), q = dec("0.75"), half = dec("0.5");

    /* 4 of 400 is exactly 1% */
    ck_assert(!topn_above(4, 400, &one));
    ck_assert(topn_above(5, 400, &one));
    /* 3 of 400 is exactly 0.75% */
    ck_assert(!topn_above(3, 400, &q));
    ck_assert(topn_above(4, 400, &q));
    /* 5 of 1000 is exactly 0.5% */
    ck_assert(!topn_above(5, 1000, &half));
    ck_assert(topn_above(6, 1000, &half));
    /* large counts do not overflow: 10^12 of 10^14 is exactly 1% */
    ck_assert(!topn_above(1000000000000ULL, 100000000000000ULL, &one));
    ck_assert(topn_above(1000000000001ULL, 100000000000000ULL, &one));
}
END_TEST

START_TEST(test_topn_several_thresholds_in_one_pass)
{
    /* S = 1000: shares 50%, 20%, 1.1%, 1%, 0.8%, 0.75%, 0.5%, 0.4% and the rest */
    const uint64_t packets[] = {500, 200, 11, 10, 8, 7, 5, 4, 255};
    struct decimal th[3] = {dec("1.0"), dec("0.75"), dec("0.5")};
    uint32_t topn[3];

    topn_compute(packets, sizeof(packets) / sizeof(packets[0]), 1000, th, 3, topn);
    ck_assert_uint_eq(topn[0], 4);  /* 500, 200, 11, 255 */
    ck_assert_uint_eq(topn[1], 6);  /* + 10, 8 */
    ck_assert_uint_eq(topn[2], 7);  /* + 7 (0.7%); 5 is exactly 0.5% */
}
END_TEST

/*
 * limits.groups: the folded packets could hold at most this many more groups
 * above the threshold (each needs more than th percent of S, and a flow).
 */
START_TEST(test_folded_topn_bound)
{
    struct slot_result r;
    struct decimal one = dec("1.0"), half = dec("0.5");

    memset(&r, 0, sizeof(r));
    r.packets = 1000;
    /* above 1% of 1000 takes 11 packets: 25 hold 2 such groups, 0.5% (6) 4 */
    r.folded_packets = 25;
    r.folded_flows = 10;
    ck_assert_uint_eq(slot_result_folded_topn(&r, &one), 2);
    ck_assert_uint_eq(slot_result_folded_topn(&r, &half), 4);
    /* every group has a flow */
    r.folded_flows = 3;
    ck_assert_uint_eq(slot_result_folded_topn(&r, &half), 3);
    /* 10 packets cannot make a group of more than 1% */
    r.folded_packets = 10;
    ck_assert_uint_eq(slot_result_folded_topn(&r, &one), 0);
    r.folded_packets = 11;
    ck_assert_uint_eq(slot_result_folded_topn(&r, &one), 1);
    r.folded_packets = 0;
    ck_assert_uint_eq(slot_result_folded_topn(&r, &one), 0);
}
END_TEST

START_TEST(test_topn_empty_slot)
{
    struct decimal th = dec("1.0");
    uint32_t topn = 99;

    topn_compute(NULL, 0, 0, &th, 1, &topn);
    ck_assert_uint_eq(topn, 0);
}
END_TEST

/* ---- stability ---- */

START_TEST(test_step1_warmup_with_fewer_than_window)
{
    const uint32_t h[] = {14, 15, 16, 17, 18, 19};
    struct stab_params p = params(7, "2", false, "0");
    struct stab_result r;

    stability_judge(h, 6, 3, &p, &r);
    ck_assert_int_eq(r.status, STAB_WARMUP);
    ck_assert(isnan(r.mean));
    stability_judge(h, 6, 3, &(struct stab_params){2, p.k, false, p.min_stddev}, &r);
    ck_assert_int_ne(r.status, STAB_WARMUP);
}
END_TEST

START_TEST(test_step1_only_last_window_values_count)
{
    /* older values would widen the band if they were used */
    const uint32_t h[] = {1, 100, 10, 12, 10, 12};
    struct stab_params p = params(4, "2", false, "0");
    struct stab_result r;

    stability_judge(h, 6, 11, &p, &r);
    ck_assert_double_eq_tol(r.mean, 11.0, 1e-12);
    ck_assert_double_eq_tol(r.stddev, 1.0, 1e-12);
    ck_assert_int_eq(r.status, STAB_STABLE);
}
END_TEST

START_TEST(test_step2_sigma_zero)
{
    const uint32_t h[] = {5, 5, 5, 5, 5, 5, 5};
    struct stab_params p = params(7, "2", false, "0");
    struct stab_result r;

    stability_judge(h, 7, 5, &p, &r);
    ck_assert_int_eq(r.status, STAB_STABLE);
    ck_assert_double_eq(r.stddev, 0.0);
    stability_judge(h, 7, 6, &p, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE);
    ck_assert_int_eq(r.dir, STAB_DIR_INCREASE);
    stability_judge(h, 7, 4, &p, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE);
    ck_assert_int_eq(r.dir, STAB_DIR_DECREASE);
}
END_TEST

START_TEST(test_step2_sigma_zero_at_zero)
{
    /* an empty window of zeros: anything but 0 is an increase */
    const uint32_t h[] = {0, 0};
    struct stab_params p = params(2, "2", false, "0");
    struct stab_result r;

    stability_judge(h, 2, 0, &p, &r);
    ck_assert_int_eq(r.status, STAB_STABLE);
    stability_judge(h, 2, 1, &p, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE);
    ck_assert_int_eq(r.dir, STAB_DIR_INCREASE);
}
END_TEST

START_TEST(test_step3_band_boundaries_are_unstable)
{
    /* mu = 11, population sigma = 1, k = 2: band (9, 13), open */
    const uint32_t h[] = {10, 12};
    struct stab_params p = params(2, "2", false, "0");
    struct stab_result r;

    stability_judge(h, 2, 13, &p, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE);
    ck_assert_int_eq(r.dir, STAB_DIR_INCREASE);
    ck_assert_double_eq_tol(r.upper, 13.0, 1e-12);
    stability_judge(h, 2, 12, &p, &r);
    ck_assert_int_eq(r.status, STAB_STABLE);
    stability_judge(h, 2, 10, &p, &r);
    ck_assert_int_eq(r.status, STAB_STABLE);
    stability_judge(h, 2, 9, &p, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE);
    ck_assert_int_eq(r.dir, STAB_DIR_DECREASE);
    ck_assert_double_eq_tol(r.lower, 9.0, 1e-12);
}
END_TEST

START_TEST(test_step3_sample_against_population)
{
    /* sample sigma = sqrt(2) = 1.414: band (8.17, 13.83), so 13 is stable */
    const uint32_t h[] = {10, 12};
    struct stab_params pop = params(2, "2", false, "0");
    struct stab_params smp = params(2, "2", true, "0");
    struct stab_result r;

    stability_judge(h, 2, 13, &pop, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE);
    stability_judge(h, 2, 13, &smp, &r);
    ck_assert_int_eq(r.status, STAB_STABLE);
    ck_assert_double_eq_tol(r.stddev, sqrt(2.0), 1e-12);
    stability_judge(h, 2, 14, &smp, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE);
}
END_TEST

START_TEST(test_step3_k)
{
    /* mu = 11, sigma = 1: k = 2.5 puts the boundary at 13.5 and 8.5 */
    const uint32_t h[] = {10, 12};
    struct stab_params p = params(2, "2.5", false, "0");
    struct stab_result r;

    stability_judge(h, 2, 13, &p, &r);
    ck_assert_int_eq(r.status, STAB_STABLE);
    stability_judge(h, 2, 14, &p, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE);
    p = params(2, "1", false, "0");
    stability_judge(h, 2, 12, &p, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE); /* 12 = mu + 1 sigma */
}
END_TEST

START_TEST(test_step3_min_stddev_raises_sigma)
{
    const uint32_t h[] = {5, 5, 5, 5};
    struct stab_params p = params(4, "2", false, "1");
    struct stab_result r;

    /* sigma 0 raised to 1: band (3, 7) */
    stability_judge(h, 4, 6, &p, &r);
    ck_assert_int_eq(r.status, STAB_STABLE);
    ck_assert_double_eq_tol(r.stddev, 1.0, 1e-12);
    stability_judge(h, 4, 7, &p, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE);
    /* min_stddev below the real sigma changes nothing */
    {
        const uint32_t h2[] = {10, 12};
        struct stab_params p2 = params(2, "2", false, "0.5");

        stability_judge(h2, 2, 13, &p2, &r);
        ck_assert_int_eq(r.status, STAB_UNSTABLE);
        ck_assert_double_eq_tol(r.stddev, 1.0, 1e-12);
    }
}
END_TEST

START_TEST(test_paper_table_one)
{
    /* METHOD section 7: TopN 14..19 over 7 days, then 3 */
    const uint32_t h[] = {14, 16, 19, 15, 17, 18, 16};
    struct stab_params p = params(7, "2", false, "0");
    struct stab_result r;

    stability_judge(h, 7, 3, &p, &r);
    ck_assert_int_eq(r.status, STAB_UNSTABLE);
    ck_assert_int_eq(r.dir, STAB_DIR_DECREASE);
    ck_assert(r.lower > 3.0);
    stability_judge(h, 7, 17, &p, &r);
    ck_assert_int_eq(r.status, STAB_STABLE);
}
END_TEST

START_TEST(test_exact_against_floating_point)
{
    /*
     * Many random windows: the exact rule must agree with a careful
     * floating-point evaluation everywhere except within 1e-9 of a boundary.
     */
    unsigned seed = 12345;

    for (int iter = 0; iter < 20000; iter++) {
        uint32_t h[10];
        struct stab_params p = params(2 + iter % 9, iter % 3 ? "2" : "1.5", iter % 2, "0");
        struct stab_result r;
        double s1 = 0, s2 = 0, mu, var, sigma;
        uint32_t x;
        int64_t T = p.window;

        for (int i = 0; i < T; i++) {
            h[i] = (uint32_t)(rand_r(&seed) % 30);
            s1 += h[i];
            s2 += (double)h[i] * h[i];
        }
        x = (uint32_t)(rand_r(&seed) % 40);
        mu = s1 / (double)T;
        var = (s2 - s1 * s1 / (double)T) / (double)(p.sample ? T - 1 : T);
        sigma = sqrt(var > 0 ? var : 0);
        stability_judge(h, (size_t)T, x, &p, &r);
        if (sigma == 0) {
            ck_assert_int_eq(r.status, (double)x == mu ? STAB_STABLE : STAB_UNSTABLE);
            continue;
        }
        if (fabs(x - (mu + p.k.value * sigma)) < 1e-9 || fabs(x - (mu - p.k.value * sigma)) < 1e-9)
            continue;
        ck_assert_int_eq(r.status, (x > mu - p.k.value * sigma && x < mu + p.k.value * sigma)
                                       ? STAB_STABLE
                                       : STAB_UNSTABLE);
    }
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(stab_status_name(STAB_STABLE), "stable");
    ck_assert_str_eq(stab_status_name(STAB_UNSTABLE), "unstable");
    ck_assert_str_eq(stab_status_name(STAB_WARMUP), "warmup");
    ck_assert_str_eq(stab_status_name(STAB_NO_DATA), "no-data");
    ck_assert_str_eq(stab_dir_name(STAB_DIR_INCREASE), "increase");
    ck_assert_str_eq(stab_dir_name(STAB_DIR_DECREASE), "decrease");
}
END_TEST

static Suite *
stability_suite(void)
{
    Suite *s = suite_create("stability");
    TCase *tc = tcase_create("topn");

    tcase_add_test(tc, test_topn_share_equal_to_threshold_never_counts);
    tcase_add_test(tc, test_topn_several_thresholds_in_one_pass);
    tcase_add_test(tc, test_topn_empty_slot);
    tcase_add_test(tc, test_folded_topn_bound);
    suite_add_tcase(s, tc);

    tc = tcase_create("judge");
    tcase_add_test(tc, test_step1_warmup_with_fewer_than_window);
    tcase_add_test(tc, test_step1_only_last_window_values_count);
    tcase_add_test(tc, test_step2_sigma_zero);
    tcase_add_test(tc, test_step2_sigma_zero_at_zero);
    tcase_add_test(tc, test_step3_band_boundaries_are_unstable);
    tcase_add_test(tc, test_step3_sample_against_population);
    tcase_add_test(tc, test_step3_k);
    tcase_add_test(tc, test_step3_min_stddev_raises_sigma);
    tcase_add_test(tc, test_paper_table_one);
    tcase_add_test(tc, test_exact_against_floating_point);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(stability_suite()) == 0 ? 0 : 1;
}
