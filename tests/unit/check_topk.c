/*
 * Unit tests of src/agg/topk.c: the top lists of the drill-down.  Exact
 * while within capacity; past it, Space-Saving's guarantee (Metwally et
 * al.): every listed count is at least the true count and at most the true
 * count plus its error, and every value with more than N / capacity of the
 * weight is listed.  Merging, serialisation, IPv6 addresses.
 *
 * Deterministic: every pseudo-random input comes from a fixed seed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/hash.h"
#include "ds/topk.h"
#include "testutil.h"

static uint64_t rng_state;

static uint64_t
rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* A skewed value in [0, n): value v with weight about 1 / (v + 1) (Zipf, s = 1). */
static uint32_t
zipf(uint32_t n)
{
    static double *cdf;
    static uint32_t cdf_n;
    double u = (double)(rng_next() >> 11) / 9007199254740992.0;
    uint32_t lo = 0, hi;

    if (cdf_n != n) {
        double sum = 0;

        free(cdf);
        cdf = malloc(n * sizeof(*cdf));
        ck_assert_ptr_nonnull(cdf);
        for (uint32_t i = 0; i < n; i++)
            cdf[i] = (sum += 1.0 / (i + 1));
        for (uint32_t i = 0; i < n; i++)
            cdf[i] /= sum;
        cdf_n = n;
    }
    hi = n - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;

        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The count a list reports for key, 0 if not listed. */
static uint64_t
listed(const struct topk *t, uint64_t key, uint64_t *err)
{
    for (uint32_t i = 0; i < t->n; i++) {
        if (t->key[i] == key) {
            if (err != NULL)
                *err = topk_err(t)[i];
            return topk_count(t)[i];
        }
    }
    return 0;
}

/*
 * Space-Saving's guarantee for t against the true counts truth[0..n) of
 * keys 1000 + i, total weight total.
 */
static void
assert_guarantee(const struct topk *t, const uint64_t *truth, uint32_t n, uint64_t total)
{
    uint64_t sum = 0, bound = total / t->max;

    for (uint32_t i = 0; i < t->n; i++) {
        uint64_t v = t->key[i] - 1000;

        ck_assert_uint_lt(v, n);
        ck_assert_uint_ge(topk_count(t)[i], truth[v]);
        ck_assert_uint_le(topk_count(t)[i], truth[v] + topk_err(t)[i]);
        ck_assert_uint_le(topk_err(t)[i], t->floor);
        sum += topk_count(t)[i];
    }
    /* the floor is a smallest count: at most N / capacity */
    ck_assert_uint_le(t->floor, bound);
    for (uint32_t v = 0; v < n; v++) {
        if (truth[v] > bound)
            ck_assert_msg(listed(t, 1000 + v, NULL) > 0, "value %u (%llu of %llu) not listed", v,
                          (unsigned long long)truth[v], (unsigned long long)total);
        if (listed(t, 1000 + v, NULL) == 0)
            ck_assert_uint_le(truth[v], t->floor);
    }
    /* every weight is counted once: the counts add up to N */
    ck_assert_uint_eq(sum, total);
}

START_TEST(test_topk_exact_within_capacity)
{
    struct topk t;
    struct topk_entry out[64];
    uint64_t truth[64] = {0}, err;
    bool exact;
    size_t k;

    topk_init(&t, 64);
    /* one value: one entry, inline, no memory of its own */
    topk_add(&t, 1000, 5);
    topk_add(&t, 1000, 2);
    ck_assert_uint_eq(t.n, 1);
    ck_assert_uint_eq(t.cap, 1);
    ck_assert_uint_eq(topk_memory(&t), 0);
    truth[0] = 7;
    /* 64 values in all, weights 1 to 5, interleaved with repeats */
    rng_state = 7;
    for (uint32_t i = 0; i < 5000; i++) {
        uint32_t v = (uint32_t)(rng_next() % 64);
        uint64_t w = 1 + rng_next() % 5;

        topk_add(&t, 1000 + v, w);
        truth[v] += w;
        /* growth by doubling: never more than twice the room needed (from 4) */
        ck_assert_uint_le(t.cap, t.n < 4 ? 4 : 2 * t.n);
    }
    ck_assert_uint_eq(t.n, 64);
    ck_assert_uint_eq(t.floor, 0);
    k = topk_top(&t, out, NULL, 64, &exact, &err);
    ck_assert_uint_eq(k, 64);
    ck_assert(exact);
    ck_assert_uint_eq(err, 0);
    for (size_t i = 0; i < k; i++) {
        ck_assert_uint_eq(out[i].count, truth[out[i].key - 1000]);
        if (i > 0)
            ck_assert(out[i - 1].count > out[i].count ||
                      (out[i - 1].count == out[i].count && out[i - 1].key < out[i].key));
    }
    /* the first 10 only: still exact */
    k = topk_top(&t, out, NULL, 10, &exact, &err);
    ck_assert_uint_eq(k, 10);
    ck_assert(exact);
    /* a 65th value: no longer exact, and the error is the count it replaced */
    topk_add(&t, 5000, 1);
    k = topk_top(&t, out, NULL, 64, &exact, &err);
    ck_assert(!exact);
    ck_assert_uint_gt(t.floor, 0);
    ck_assert_uint_eq(listed(&t, 5000, &err), t.floor + 1);
    ck_assert_uint_eq(err, t.floor);
    topk_fini(&t);
}
END_TEST

START_TEST(test_topk_space_saving_guarantee)
{
    enum { N_VALUES = 5000 };
    static uint64_t truth[N_VALUES];
    uint32_t caps[] = {1, 7, 16, 64, 300};

    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        struct topk t;
        uint64_t total = 0;

        memset(truth, 0, sizeof(truth));
        topk_init(&t, caps[c]);
        rng_state = 42 + c;
        for (uint32_t i = 0; i < 200000; i++) {
            uint32_t v = zipf(N_VALUES);
            uint64_t w = 1 + (rng_next() % 8 == 0 ? rng_next() % 20 : 0);

            topk_add(&t, 1000 + v, w);
            truth[v] += w;
            total += w;
            if (i % 50000 == 0)
                assert_guarantee(&t, truth, N_VALUES, total);
        }
        ck_assert_uint_eq(t.n, caps[c]);
        assert_guarantee(&t, truth, N_VALUES, total);
        if (caps[c] >= 64) {
            /*
             * The heaviest come out first: value 0 has 11% of the weight,
             * value 1 5.5%, and the error is at most 1/64 = 1.6%.
             */
            struct topk_entry out[5];
            bool exact;
            uint64_t err;

            ck_assert_uint_eq(topk_top(&t, out, NULL, 5, &exact, &err), 5);
            ck_assert_uint_eq(out[0].key, 1000);
            if (caps[c] >= 300)
                ck_assert_uint_eq(out[1].key, 1001);
            ck_assert_uint_le(err, t.floor);
            /* exact or not, as said: each within the error given */
            for (size_t i = 0; i < 5; i++) {
                ck_assert_uint_ge(out[i].count, truth[out[i].key - 1000]);
                ck_assert_uint_le(out[i].count, truth[out[i].key - 1000] + err);
                if (exact)
                    ck_assert_uint_eq(out[i].count, truth[out[i].key - 1000]);
            }
        }
        topk_fini(&t);
    }
}
END_TEST

/*
 * Whole counts given once (a cluster's shards): whatever the order, the
 * largest are listed with their true counts and no error, the floor is the
 * largest left out, and topk_top() says exact.  A list the old way (the
 * same flows one by one, past capacity) is not exact: the test can tell.
 */
START_TEST(test_topk_add_total_exact)
{
    enum { N_VALUES = 5000 };
    static uint64_t truth[N_VALUES];
    static uint32_t order[N_VALUES];
    uint32_t caps[] = {1, 7, 64, 300};

    rng_state = 7;
    for (uint32_t v = 0; v < N_VALUES; v++)
        truth[v] = 1 + rng_next() % 1000;     /* ties among 5,000 values: many */
    for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
        uint64_t first[300], floor = 0;

        for (int round = 0; round < 2; round++) {
            struct topk t;
            struct topk_entry out[300];
            uint64_t err, left_out = 0;
            bool exact;
            size_t n;

            /* round 0 in order, round 1 shuffled */
            for (uint32_t v = 0; v < N_VALUES; v++)
                order[v] = v;
            for (uint32_t v = N_VALUES - 1; round == 1 && v > 0; v--) {
                uint32_t w = (uint32_t)(rng_next() % (v + 1)), x = order[v];

                order[v] = order[w];
                order[w] = x;
            }
            topk_init(&t, caps[c]);
            for (uint32_t i = 0; i < N_VALUES; i++)
                topk_add_total(&t, 1000 + order[i], truth[order[i]], NULL);
            n = topk_top(&t, out, NULL, caps[c], &exact, &err);
            ck_assert_uint_eq(n, caps[c]);
            ck_assert(exact);
            ck_assert_uint_eq(err, 0);
            for (size_t i = 0; i < n; i++)
                ck_assert_uint_eq(out[i].count, truth[out[i].key - 1000]);
            for (uint32_t v = 0; v < N_VALUES; v++) {
                if (listed(&t, 1000 + v, NULL) > 0)
                    continue;
                ck_assert_uint_le(truth[v], out[n - 1].count);
                left_out = truth[v] > left_out ? truth[v] : left_out;
            }
            ck_assert_uint_eq(t.floor, left_out);
            /* the same counts whatever the order (which of equal values: either) */
            for (size_t i = 0; i < n; i++) {
                if (round == 0)
                    first[i] = out[i].count;
                else
                    ck_assert_uint_eq(out[i].count, first[i]);
            }
            if (round == 1)
                ck_assert_uint_eq(t.floor, floor);
            floor = t.floor;
            topk_fini(&t);
        }
    }
    {
        /* the same weights flow by flow: Space-Saving, not exact past capacity */
        struct topk t;
        struct topk_entry out[64];
        bool exact;
        uint64_t err;

        topk_init(&t, 64);
        for (uint32_t v = 0; v < N_VALUES; v++)
            for (uint64_t k = 0; k < truth[v]; k += 100)
                topk_add(&t, 1000 + v, truth[v] - k < 100 ? truth[v] - k : 100);
        topk_top(&t, out, NULL, 64, &exact, &err);
        ck_assert(!exact);
        topk_fini(&t);
    }
    {
        /* IPv6 keys keep their addresses; a value given again adds */
        struct topk t;
        struct topk_entry out[2];
        struct addr a6[2], got[2];
        bool exact;

        ck_assert_int_eq(addr_parse("2001:db8::1", &a6[0]), 0);
        ck_assert_int_eq(addr_parse("2001:db8::2", &a6[1]), 0);
        topk_init(&t, 1);
        topk_add_total(&t, addr_value(&a6[0]), 5, &a6[0]);
        topk_add_total(&t, addr_value(&a6[1]), 9, &a6[1]);
        topk_add_total(&t, addr_value(&a6[1]), 1, &a6[1]);
        ck_assert_uint_eq(topk_top(&t, out, got, 1, &exact, NULL), 1);
        ck_assert(exact);
        ck_assert_uint_eq(out[0].count, 10);
        ck_assert(memcmp(&got[0], &a6[1], sizeof(got[0])) == 0);
        ck_assert_uint_eq(t.floor, 5);
        topk_fini(&t);
    }
}
END_TEST

START_TEST(test_topk_merge)
{
    enum { N_VALUES = 3000 };
    static uint64_t ta[N_VALUES], tb[N_VALUES], tsum[N_VALUES];
    struct topk a, b, e;
    struct topk_entry out[8];
    uint64_t err;
    bool exact;

    /* exact + exact within capacity: exact sums */
    topk_init(&a, 8);
    topk_init(&b, 8);
    topk_add(&a, 1, 10);
    topk_add(&a, 2, 5);
    topk_add(&b, 2, 7);
    topk_add(&b, 3, 1);
    topk_merge(&a, &b);
    ck_assert_uint_eq(topk_top(&a, out, NULL, 8, &exact, &err), 3);
    ck_assert(exact);
    ck_assert_uint_eq(out[0].key, 2);
    ck_assert_uint_eq(out[0].count, 12);
    ck_assert_uint_eq(out[1].key, 1);
    ck_assert_uint_eq(out[1].count, 10);
    ck_assert_uint_eq(out[2].key, 3);
    ck_assert_uint_eq(out[2].count, 1);
    /* into an empty list: a copy, with the other's capacity */
    topk_init(&e, 2);
    topk_merge(&e, &a);
    ck_assert_uint_eq(e.max, 8);
    ck_assert_uint_eq(topk_top(&e, out, NULL, 8, &exact, &err), 3);
    ck_assert(exact);
    topk_fini(&e);
    topk_fini(&a);
    topk_fini(&b);

    /* two summaries past capacity: the guarantee holds for the sum */
    topk_init(&a, 64);
    topk_init(&b, 64);
    rng_state = 99;
    for (uint32_t i = 0; i < 100000; i++) {
        uint32_t v = zipf(N_VALUES);
        /* b sees the values in another order of weight */
        uint32_t u = (N_VALUES - 1 - zipf(N_VALUES) + 7) % N_VALUES;

        topk_add(&a, 1000 + v, 2);
        ta[v] += 2;
        topk_add(&b, 1000 + u, 1);
        tb[u] += 1;
    }
    for (uint32_t v = 0; v < N_VALUES; v++)
        tsum[v] = ta[v] + tb[v];
    assert_guarantee(&a, ta, N_VALUES, 200000);
    assert_guarantee(&b, tb, N_VALUES, 100000);
    {
        uint64_t fa = a.floor, fb = b.floor;

        topk_merge(&a, &b);
        ck_assert_uint_eq(a.n, 64);
        /* error bounds add */
        ck_assert_uint_ge(a.floor, fa + fb);
        for (uint32_t i = 0; i < a.n; i++) {
            uint64_t v = a.key[i] - 1000;

            ck_assert_uint_ge(topk_count(&a)[i], tsum[v]);
            ck_assert_uint_le(topk_count(&a)[i], tsum[v] + topk_err(&a)[i]);
        }
        for (uint32_t v = 0; v < N_VALUES; v++)
            if (listed(&a, 1000 + v, NULL) == 0)
                ck_assert_uint_le(tsum[v], a.floor);
        ck_assert_uint_gt(listed(&a, 1000, NULL), 0);
    }
    /* an exact list merged into a summary and back: still a valid summary */
    topk_init(&e, 64);
    topk_add(&e, 1000, 1);
    topk_merge(&e, &a);
    ck_assert_uint_eq(listed(&e, 1000, NULL), listed(&a, 1000, NULL) + 1);
    topk_fini(&e);
    topk_fini(&a);
    topk_fini(&b);
}
END_TEST

/* Serialised and read back, t gives the same output. */
static void
assert_roundtrip(const struct topk *t)
{
    size_t len = topk_serialize(t, NULL), used;
    uint8_t *buf = malloc(len);
    struct topk c;
    struct topk_entry o1[300], o2[300];
    struct addr a1[300], a2[300];
    bool e1, e2;
    uint64_t r1, r2;
    size_t k1, k2;

    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(topk_serialize(t, buf), len);
    topk_init(&c, 1);
    used = topk_deserialize(&c, buf, len);
    ck_assert_uint_eq(used, len);
    ck_assert_uint_eq(c.max, t->max);
    ck_assert_uint_eq(c.floor, t->floor);
    k1 = topk_top(t, o1, a1, 300, &e1, &r1);
    k2 = topk_top(&c, o2, a2, 300, &e2, &r2);
    ck_assert_uint_eq(k1, k2);
    ck_assert(e1 == e2);
    ck_assert_uint_eq(r1, r2);
    ck_assert(memcmp(o1, o2, k1 * sizeof(*o1)) == 0);
    ck_assert(memcmp(a1, a2, k1 * sizeof(*a1)) == 0);
    /* every cut is refused */
    for (size_t l = 0; l < len; l++) {
        struct topk x;

        topk_init(&x, 1);
        ck_assert_msg(topk_deserialize(&x, buf, l) == 0, "%zu of %zu bytes accepted", l, len);
        topk_fini(&x);
    }
    topk_fini(&c);
    free(buf);
}

START_TEST(test_topk_serialize_and_ipv6)
{
    struct topk t;
    struct addr a, b;
    struct topk_entry out[4];
    struct addr addrs[4];
    char text[ADDR_STRLEN];
    bool exact;
    uint64_t err;

    topk_init(&t, 4);
    assert_roundtrip(&t);
    ck_assert_int_eq(addr_parse("2001:db8::1", &a), 0);
    ck_assert_int_eq(addr_parse("198.51.100.7", &b), 0);
    topk_add_addr(&t, addr_value(&a), &a, 10);
    topk_add_addr(&t, addr_value(&b), &b, 3);
    assert_roundtrip(&t);
    ck_assert_uint_eq(topk_top(&t, out, addrs, 4, &exact, &err), 2);
    ck_assert(exact);
    ck_assert_str_eq(addr_format(&addrs[0], text), "2001:db8::1");
    ck_assert_str_eq(addr_format(&addrs[1], text), "198.51.100.7");
    /* past capacity, IPv6 addresses replacing others keep their own */
    for (uint32_t i = 0; i < 50; i++) {
        struct addr x;

        snprintf(text, sizeof(text), "2001:db8::%x", 0x100 + i);
        ck_assert_int_eq(addr_parse(text, &x), 0);
        topk_add_addr(&t, addr_value(&x), &x, 1 + i % 3);
    }
    ck_assert_uint_eq(topk_top(&t, out, addrs, 4, &exact, &err), 4);
    for (size_t i = 0; i < 4; i++) {
        ck_assert_uint_eq(addr_value(&addrs[i]), out[i].key);
    }
    assert_roundtrip(&t);
    topk_fini(&t);

    /* a large list (with an index) */
    topk_init(&t, 300);
    rng_state = 5;
    for (uint32_t i = 0; i < 20000; i++)
        topk_add(&t, 1000 + zipf(2000), 1);
    ck_assert_ptr_nonnull(topk_index(&t));
    assert_roundtrip(&t);
    topk_fini(&t);
}
END_TEST

static Suite *
topk_suite(void)
{
    Suite *s = suite_create("topk");
    TCase *tc = tcase_create("topk");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_topk_exact_within_capacity);
    tcase_add_test(tc, test_topk_space_saving_guarantee);
    tcase_add_test(tc, test_topk_add_total_exact);
    tcase_add_test(tc, test_topk_merge);
    tcase_add_test(tc, test_topk_serialize_and_ipv6);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    return tu_run(topk_suite()) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
