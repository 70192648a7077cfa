/*
 * darkstab analyze: IPFIX files in, the paper's TopN stability out, stored
 * and reported.
 *
 *   1. load and check the configuration, apply its time zone;
 *   2. open the store (migrating its schema) and start the pipeline;
 *   3. read every input; an input that cannot be read is named and the run
 *      goes on, to end with status 1;
 *   4. finish: merge with the store, judge, commit;
 *   5. report the slots of this run's inputs from the store.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ds/cfg.h"
#include "ds/ch_writer.h"
#include "ds/clickhouse.h"
#include "ds/cluster.h"
#include "ds/hash.h"
#include "ds/strbuf.h"
#include "ds/log.h"
#include "ds/pipeline.h"
#include "ds/report.h"
#include "ds/store.h"
#include "ds/tz.h"

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: darkstab analyze -c CONFIG [--format text|json|csv] [-o FILE]\n"
            "                        [--store PATH | --no-store] [-q|-v] INPUT...\n\n"
            "Reads IPFIX files (RFC 7011 messages back to back, as YAF or a collector writes\n"
            "them; '-' is standard input), counts the darknet's packets into the groups of\n"
            "every analysis of CONFIG in one pass, computes TopN and stability per slot,\n"
            "stores everything in the store and prints a report of the slots the inputs\n"
            "cover.  Inputs already counted into the store are skipped.\n\n"
            "  -c, --config FILE      configuration (see config/darkstab.yaml)\n"
            "  -f, --format FORMAT    text (default), json or csv\n"
            "  -o, --output FILE      write the report to FILE instead of standard output\n"
            "      --store PATH       use this store instead of store.path\n"
            "      --no-store         keep results in memory only\n"
            "  -q, --quiet            warnings and errors only\n"
            "  -v, --verbose          debug messages too\n\n"
            "exit status: 0 success, 1 an input could not be read or the store failed,\n"
            "2 usage or configuration error\n");
}

/* Writes to a temporary file beside path, renamed into place when complete. */
struct output {
    FILE *fp;
    char *path;
    char *tmp;
};

static int
output_open(struct output *o, const char *path)
{
    memset(o, 0, sizeof(*o));
    if (path == NULL || strcmp(path, "-") == 0) {
        o->fp = stdout;
        return 0;
    }
    o->path = strdup(path);
    if (asprintf(&o->tmp, "%s.tmp.%ld", path, (long)getpid()) < 0 || o->path == NULL)
        return -1;
    o->fp = fopen(o->tmp, "w");
    return o->fp ? 0 : -1;
}

static int
output_close(struct output *o, int keep)
{
    int rc = 0;

    if (o->fp == stdout) {
        rc = fflush(stdout) == 0 ? 0 : -1;
    } else if (o->fp != NULL) {
        rc = fclose(o->fp) == 0 ? 0 : -1;
        if (keep && rc == 0)
            rc = rename(o->tmp, o->path);
        else
            unlink(o->tmp);
    }
    free(o->path);
    free(o->tmp);
    return rc;
}

static double
elapsed(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * What decides which records of an input are counted (the darknet's
 * prefixes and exclusions), as a number: the cluster's batches of a run
 * with other settings are numbered apart (ch_writer_salt()).
 */
static uint64_t
darknet_digest(const struct ds_cfg *cfg)
{
    struct strbuf sb = STRBUF_INIT;
    char buf[CIDR_STRLEN];
    uint64_t h;

    for (size_t i = 0; i < cfg->prefixes.n; i++)
        strbuf_printf(&sb, "+%s", cidr_format(&cfg->prefixes.v[i], buf));
    for (size_t i = 0; i < cfg->exclude.n; i++)
        strbuf_printf(&sb, "-%s", cidr_format(&cfg->exclude.v[i], buf));
    h = hash_bytes(strbuf_str(&sb), sb.len);
    strbuf_fini(&sb);
    return h;
}

/* The run's slots marked as not judged, with why (they hold part of the cluster's records). */
static void
not_judged(const struct ds_cfg *cfg, struct store *st, const struct pipeline_analysis *an,
           size_t n, const char *why)
{
    char reason[1200];
    struct ds_error err;

    snprintf(reason, sizeof(reason), "not judged on the cluster: %s", why);
    if (cluster_unjudged(cfg, st, an, n, reason, &err) != DS_OK)
        log_msg(LOG_ERR, "analyze: %s", err.msg);
}

/*
 * store.backend clickhouse: the run's slots judged again from the records
 * of the whole cluster (docs/CLICKHOUSE.md 5).  Returns 0, or -1 when they
 * could not be (logged; the store keeps this node's own judgement).
 */
static int
judge_on_cluster(const struct ds_cfg *cfg, struct store *st, const struct pipeline_analysis *pa,
                 size_t n)
{
    struct pipeline_analysis an[CFG_ANALYSES_MAX];
    struct cluster_judge_stats js;
    struct ch_client *c = NULL;
    struct ds_error err;

    /* and the slots an earlier run could not judge */
    memcpy(an, pa, n * sizeof(*an));
    if (cluster_pending_range(st, an, n, &err) != DS_OK ||
        ch_client_new(&cfg->clickhouse, NULL, &c, &err) != DS_OK ||
        cluster_judge(cfg, st, c, an, n, NULL, 0, NULL, NULL, &js, &err) != DS_OK) {
        log_msg(LOG_ERR, "analyze: the slots of this run cannot be judged on the cluster: %s",
                err.msg);
        ch_client_free(c);
        not_judged(cfg, st, an, n, err.msg);
        return -1;
    }
    log_info("analyze: judged on the cluster: %llu slots, %llu queries, %llu rows read, "
             "details of %llu shown groups counted on the shards and %llu read back, %.2f s%s",
             (unsigned long long)js.slots, (unsigned long long)js.queries,
             (unsigned long long)js.rows, (unsigned long long)js.on_shards,
             (unsigned long long)js.read_back, js.seconds,
             js.retried > 0 ? " (slots counted again as records came)" : "");
    ch_client_free(c);
    return 0;
}

int
cmd_analyze(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"store", required_argument, NULL, 'S'},
        {"no-store", no_argument, NULL, 'N'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *out_path = NULL, *store_path = NULL;
    const struct report_format *fmt = &report_format_text;
    int no_store = 0, quiet = 0, verbose = 0, ch, status = 0;
    struct ds_cfg *cfg = NULL;
    struct store *st = NULL;
    struct pipeline *p = NULL;
    struct ch_writer *records = NULL;
    uint64_t pending = 0;
    struct ds_error err;
    struct report_analysis an[CFG_ANALYSES_MAX];
    const struct pipeline_analysis *pa;
    const struct pipeline_counts *pc;
    struct report_input in;
    struct output out;
    size_t n_an;
    enum ds_rc rc;
    struct timespec t0;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:f:o:qvh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            fmt = report_format_find(optarg, REPORT_FOR_WRITE);
            if (fmt == NULL) {
                char names[64];

                fprintf(stderr, "darkstab analyze: --format must be %s, not '%s'\n",
                        report_format_names(REPORT_FOR_WRITE, names, sizeof(names)), optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'S':
            store_path = optarg;
            break;
        case 'N':
            no_store = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (config == NULL) {
        fprintf(stderr, "darkstab analyze: -c CONFIG is required\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (optind == argc) {
        fprintf(stderr, "darkstab analyze: no INPUT given (name IPFIX files, or - for standard "
                        "input)\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (no_store && store_path != NULL) {
        fprintf(stderr, "darkstab analyze: --store and --no-store exclude each other\n");
        return EXIT_USAGE;
    }
    cli_log_setup(quiet, verbose);

    /* 1. configuration */
    if (cfg_load(config, &cfg, &err) != DS_OK) {
        fprintf(stderr, "darkstab: %s\n", err.msg);
        return EXIT_USAGE;
    }
    tz_apply(cfg->timezone);

    /* 2. store and pipeline */
    st = store_open("sqlite", no_store ? ":memory:" : store_path ? store_path : cfg->store_path,
                    &err);
    if (st == NULL) {
        log_msg(LOG_ERR, "%s", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    rc = pipeline_new(cfg, st, &p, &err);
    if (rc != DS_OK) {
        log_msg(LOG_ERR, "%s", err.msg);
        status = rc == DS_ERR_CONFLICT ? EXIT_USAGE : EXIT_RUN_FAILED;
        goto out;
    }
    /*
     * store.backend clickhouse: the records go to the cluster as well
     * (docs/CLICKHOUSE.md 4), and once they are all there, the slots they
     * touch are judged again from every node's records (5.).
     */
    if (cfg->store_backend == CFG_STORE_CLICKHOUSE && !no_store) {
        /* a thread sends the batches while the reader goes on decoding */
        if (ch_writer_open(&cfg->clickhouse, &records, &err) != DS_OK ||
            ch_writer_start_sender(records, 4, &err) != DS_OK) {
            log_msg(LOG_ERR, "analyze: %s", err.msg);
            status = EXIT_RUN_FAILED;
            goto out;
        }
        pipeline_set_records(p, records);
        ch_writer_salt(records, darknet_digest(cfg));
    }

    /* 3. inputs */
    for (int i = optind; i < argc; i++) {
        rc = pipeline_add_input(p, argv[i], &err);
        if (rc == DS_ERR_IO) {
            log_msg(LOG_ERR, "analyze: %s", err.msg);
            status = EXIT_RUN_FAILED;
            continue;
        }
        if (rc != DS_OK) {
            log_msg(LOG_ERR, "analyze: %s", err.msg);
            status = EXIT_RUN_FAILED;
            goto out;
        }
    }
    /* every record spooled before the run commits: none is counted here and lost there */
    if (records != NULL) {
        struct ch_writer_stats ws;

        /* the sender's current attempt ends; what is left is sent from here, in order */
        ch_writer_stop_sender(records, 0);
        if (ch_writer_flush(records, &pending, &err) != DS_OK) {
            log_msg(LOG_ERR, "analyze: %s", err.msg);
            status = EXIT_RUN_FAILED;
            goto out;
        }
        ch_writer_stats(records, &ws);
        if (pending > 0) {
            char why[1024];

            ch_writer_last_failure(records, why, sizeof(why));
            log_warnx("analyze: %llu batches of records stay in %s: %s; the next run (or "
                      "collector) sends them",
                      (unsigned long long)pending, cfg->clickhouse.spool_dir, why);
        }
        log_info("analyze: ClickHouse: %llu records; %llu batches sent, %llu there already, "
                 "%llu waiting",
                 (unsigned long long)ws.rows, (unsigned long long)ws.batches_sent,
                 (unsigned long long)ws.batches_present, (unsigned long long)pending);
    }

    pc = pipeline_get_counts(p);
    if (pc->already_counted > 0)
        log_info("analyze: %llu of %d inputs were counted by earlier runs and are reported from "
                 "the store (-v names them)",
                 (unsigned long long)pc->already_counted, argc - optind);
    log_debug("analyze: inputs read after %.3f s", elapsed(&t0));
    /* 4. finish */
    if (pipeline_finish(p, &err) != DS_OK) {
        log_msg(LOG_ERR, "analyze: %s", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }

    log_debug("analyze: stored and judged after %.3f s", elapsed(&t0));
    n_an = pipeline_analyses(p, &pa);
    if (records != NULL) {
        if (pending > 0) {
            char why[1024];

            snprintf(why, sizeof(why), "%llu batches of records wait in %s",
                     (unsigned long long)pending, cfg->clickhouse.spool_dir);
            log_warnx("analyze: the slots of this run cannot be judged until the batches "
                      "waiting in %s are in the cluster: they are reported incomplete",
                      cfg->clickhouse.spool_dir);
            not_judged(cfg, st, pa, n_an, why);
        } else if (judge_on_cluster(cfg, st, pa, n_an) != 0) {
            status = EXIT_RUN_FAILED;
        }
    }
    /* 5. report */
    pc = pipeline_get_counts(p);
    memset(&in, 0, sizeof(in));
    in.files = pc->files;
    in.already_counted = pc->already_counted;
    in.unreadable = pc->unreadable;
    in.records = pc->records;
    in.counted = pc->counted;
    in.outside_darknet = pc->outside_darknet;
    in.excluded = pc->excluded;
    in.unusable = pc->unusable;
    in.ingest = pc->ingest;
    in.norm = pc->norm;
    for (size_t i = 0; i < n_an; i++) {
        an[i].cfg = pa[i].cfg;
        an[i].layout = &pa[i].layout;
        an[i].store_id = pa[i].store_id;
        an[i].from = pa[i].from;
        an[i].to = pa[i].to;
        an[i].late = pa[i].late;
    }
    if (output_open(&out, out_path) != 0) {
        log_msg(LOG_ERR, "analyze: %s: cannot write: %s", out_path, strerror(errno));
        status = EXIT_RUN_FAILED;
        goto out;
    }
    rc = report_write(fmt, out.fp, cfg, &in, an, n_an, st, &err);
    if (rc != DS_OK)
        log_msg(LOG_ERR, "analyze: report: %s", err.msg);
    if (output_close(&out, rc == DS_OK) != 0 || rc != DS_OK) {
        if (rc == DS_OK)
            log_msg(LOG_ERR, "analyze: %s: cannot write: %s", out_path ? out_path : "output",
                    strerror(errno));
        status = EXIT_RUN_FAILED;
    }
    log_debug("analyze: reported after %.3f s", elapsed(&t0));
out:
    pipeline_free(p);
    ch_writer_free(records);
    store_close(st);
    cfg_free(cfg);
    return status;
}
