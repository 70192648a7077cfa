/*
 * The aggregation alone: flows decoded once into memory, then counted by
 * one analysis, timed.  For tuning the hot path and for make bench.
 *
 *   agg_only FILE MAX_FLOWS KEYS SLOT   e.g. agg_only x.ipfix 2000000 proto,dst_port 1d
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/agg.h"
#include "ds/ingest.h"
#include "ds/log.h"
#include "ds/norm.h"
#include "ds/tz.h"
#include "ds/xmem.h"

struct ctx {
    struct norm *norm;
    struct flow *flows;
    size_t n, max;
};

static void
on_record(void *arg, const struct ipfix_record *rec)
{
    struct ctx *c = arg;

    if (c->n < c->max && norm_record(c->norm, rec, &c->flows[c->n]) == NORM_FLOW)
        c->n++;
}

static size_t closed;

static void
on_close(void *ctx, struct agg_slot *slot)
{
    (void)ctx;
    closed++;
    agg_slot_free(slot);
}

int
main(int argc, char **argv)
{
    struct ctx c = {0};
    struct ingest_file_opts opts = {.fn = on_record, .ctx = &c};
    struct ingest_stats st = {0};
    struct ds_error err;
    struct cfg_analysis a;
    struct ds_cfg *cfg;
    char text[512];
    struct timespec t0, t1;
    double dt;

    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: agg_only FILE MAX_FLOWS KEYS SLOT [memory]\n");
        return 2;
    }
    log_init(0, LOG_WARNING, "agg_only");
    ingest_quiet_libfixbuf();
    tz_apply("Asia/Tokyo");
    snprintf(text, sizeof(text), "analyses:\n  - name: x\n    keys: [%s]\n    slot: %s\n", argv[3],
             argv[4]);
    if (cfg_load_string("agg_only", text, &cfg, &err) != DS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    a = cfg->analyses[0];
    c.max = (size_t)strtoull(argv[2], NULL, 10);
    c.flows = xcalloc(c.max, sizeof(struct flow));
    c.norm = norm_new();
    if (ingest_file(argv[1], &opts, &st, NULL, &err) != DS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    {
        /* as analyze counts: drilldown.lists auto reads unstable slots back, no lists kept,
           the details counted when a slot closes (agg_opts.defer_details) */
        struct cfg_drilldown dd = cfg->drilldown;
        struct agg_opts ao = {on_close, NULL, NULL, &dd, 0, true};

        if (dd.lists == CFG_LISTS_AUTO)
            dd.lists = argc > 5 && strcmp(argv[5], "memory") == 0 ? CFG_LISTS_MEMORY
                                                                  : CFG_LISTS_REREAD;
        struct agg *agg = agg_new(&a, &ao);

        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (size_t i = 0; i < c.n; i += 4096) {
            size_t n = c.n - i < 4096 ? c.n - i : 4096;

            agg_add_batch(agg, &c.flows[i], n);
            agg_advance(agg, c.flows[i + n - 1].start_ms / 1000 - 3600);
        }
        agg_flush(agg);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        agg_free(agg);
    }
    dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("agg_only [%s] %s: %zu flows in %.3f s: %.1f ns per flow, %zu slots\n", argv[3], argv[4],
           c.n, dt, dt * 1e9 / (double)c.n, closed);
    return 0;
}
