/*
 * The live pipeline's checkpoints: each commits whole (the collector's
 * state with the open slots of the same moment), whatever the order in
 * which the store thread receives their parts.
 */
#include <stdlib.h>
#include <string.h>

#include "ds/pipeline.h"
#include "ds/proto.h"
#include "ds/store.h"
#include "ds/tz.h"
#include "testutil.h"

#define T0_MS 1362355200000LL   /* 2013-03-04T00:00:00Z */
#define ROUNDS 40
#define FLOWS_PER_ROUND 50

/* The number of the round as the collector's state blob. */
static struct store_collector
round_state(uint32_t round)
{
    struct store_collector sc = {0};

    sc.saved_at = 1;
    sc.event_ms = T0_MS;
    sc.state = malloc(sizeof(round));
    ck_assert_ptr_nonnull(sc.state);
    memcpy(sc.state, &round, sizeof(round));
    sc.state_len = sizeof(round);
    return sc;
}

/*
 * A collector asks for a checkpoint before the store thread has written the
 * last one (a slow disk; the stop's checkpoint right after a periodic one):
 * the state of the newer one used to arrive before the older one's open
 * slots, which then took its place, and the newer one never committed.
 */
START_TEST(test_checkpoints_asked_back_to_back)
{
    struct ds_cfg *cfg = tu_cfg("darknet:\n  prefixes: [198.18.0.0/16]\nanalyses:\n"
                                "  - name: ports\n"
                                "  - name: nets\n    keys: [dst_net/24]\n    slot: 1h\n");
    struct pipeline_live_opts opts = {0};
    const struct pipeline_analysis *pa;
    struct store_collector sc;
    struct store *st;
    struct pipeline *p;
    struct ds_error err;
    uint32_t id = 0, got;
    uint64_t packets;
    bool found;
    size_t n_an;

    st = store_open("sqlite", tu_path("cp.db"), &err);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(pipeline_new_live(cfg, st, &opts, &p, &err), DS_OK);
    for (uint32_t round = 1; round <= ROUNDS; round++) {
        for (int i = 0; i < FLOWS_PER_ROUND; i++) {
            char dst[32];
            struct flow f;

            snprintf(dst, sizeof(dst), "198.18.%u.%d", round % 7, i);
            f = tu_flow(T0_MS + (int64_t)round * 1000, 2, "203.0.113.5", dst, PROTO_TCP, 40000,
                        (uint16_t)(i % 5 + 22));
            pipeline_add_flow(p, &f);
        }
        /* three at once: the later ones' states are queued before the first's slots */
        for (int k = 0; k < 3; k++) {
            sc = round_state(round);
            id = pipeline_checkpoint(p, &sc);
        }
        ck_assert_msg(pipeline_checkpoint_wait(p, id, 10000),
                      "checkpoint %u, asked right after %u, is not committed", id, id - 1);
    }
    ck_assert_int_eq(pipeline_stop_live(p, &err), DS_OK);
    n_an = pipeline_analyses(p, &pa);
    ck_assert_uint_eq(n_an, 2);

    /* what a restart finds: the last state, with every flow in the open slots */
    ck_assert_int_eq(store_collector_load(st, &sc, &found, &err), DS_OK);
    ck_assert(found);
    ck_assert_uint_eq(sc.state_len, sizeof(got));
    memcpy(&got, sc.state, sizeof(got));
    ck_assert_uint_eq(got, ROUNDS);
    free(sc.state);
    for (size_t a = 0; a < n_an; a++) {
        struct agg_slot **slots;
        int64_t closed_upto;
        size_t n;

        ck_assert_int_eq(store_open_slots_load(st, pa[a].store_id, &pa[a].layout, &closed_upto,
                                               &slots, &n, &err),
                         DS_OK);
        packets = 0;
        for (size_t i = 0; i < n; i++) {
            packets += slots[i]->packets;
            agg_slot_free(slots[i]);
        }
        free(slots);
        ck_assert_uint_eq(packets, 2u * FLOWS_PER_ROUND * ROUNDS);
    }
    pipeline_free(p);
    store_close(st);
    cfg_free(cfg);
}
END_TEST

/*
 * Exporter minutes wait for the next batch of flows and go to the store
 * thread together (at most 4096 wait): those of a replay (thousands a
 * second) as much as the few of a quiet collector reach the store, each
 * once, with the checkpoint that follows them.
 */
START_TEST(test_minutes_reach_the_store)
{
    struct ds_cfg *cfg = tu_cfg("darknet:\n  prefixes: [198.18.0.0/16]\nanalyses:\n"
                                "  - name: ports\n");
    struct pipeline_live_opts opts = {0};
    struct store_minute m, *sums = NULL;
    struct store_collector sc;
    struct store *st;
    struct pipeline *p;
    struct ds_error err;
    int64_t minute0 = T0_MS / 60000;
    uint32_t id;
    size_t n = 0;

    st = store_open("sqlite", tu_path("minutes.db"), &err);
    ck_assert_ptr_nonnull(st);
    ck_assert_int_eq(pipeline_new_live(cfg, st, &opts, &p, &err), DS_OK);
    /* a replay's: more than wait at once, one record each */
    memset(&m, 0, sizeof(m));
    snprintf(m.exporter, sizeof(m.exporter), "192.0.2.1 ipfix");
    m.records = 1;
    for (int64_t i = 0; i < 5000; i++) {
        m.minute = minute0 + i;
        pipeline_add_minute(p, &m);
    }
    /* a second exporter's, with flows between and a flush */
    snprintf(m.exporter, sizeof(m.exporter), "192.0.2.2 ipfix");
    m.records = 7;
    m.minute = minute0;
    pipeline_add_minute(p, &m);
    for (int i = 0; i < 3; i++) {
        struct flow f = tu_flow(T0_MS + i * 1000, 2, "203.0.113.5", "198.18.0.1", PROTO_TCP,
                                40000, 23);

        pipeline_add_flow(p, &f);
    }
    pipeline_flush(p);
    m.minute = minute0 + 1;
    pipeline_add_minute(p, &m);
    sc = round_state(1);
    id = pipeline_checkpoint(p, &sc);
    ck_assert(pipeline_checkpoint_wait(p, id, 10000));
    ck_assert_int_eq(pipeline_stop_live(p, &err), DS_OK);

    ck_assert_int_eq(store_minutes_sum(st, minute0 * 60, (minute0 + 5000) * 60, &sums, &n, &err),
                     DS_OK);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(sums[0].exporter, "192.0.2.1 ipfix");
    ck_assert_uint_eq(sums[0].records, 5000);
    ck_assert_str_eq(sums[1].exporter, "192.0.2.2 ipfix");
    ck_assert_uint_eq(sums[1].records, 14);
    free(sums);
    pipeline_free(p);
    store_close(st);
    cfg_free(cfg);
}
END_TEST

static Suite *
pipeline_suite(void)
{
    Suite *s = suite_create("pipeline");
    TCase *tc = tcase_create("live");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_checkpoints_asked_back_to_back);
    tcase_add_test(tc, test_minutes_reach_the_store);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    tz_apply("UTC");
    return tu_run(pipeline_suite()) == 0 ? 0 : 1;
}
