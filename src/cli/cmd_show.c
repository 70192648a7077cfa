/*
 * darkstab show: the drill-down of one slot, stable ones too, from the
 * store alone (a collector may be writing to it: SQLite's WAL lets both
 * run).
 *
 *   1. load the configuration, apply its time zone, find the analysis;
 *   2. the slot containing --slot TIME, as stored (results, top groups,
 *      and the drill-down stored when it was judged unstable);
 *   3. without a stored drill-down, compute it now from the stored slot
 *      and its window: what the store did not keep (the lists of groups
 *      below the lowest threshold) is said to be missing, never made up;
 *   4. print it as text or JSON.
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
#include "ds/explain.h"
#include "ds/log.h"
#include "ds/parse.h"
#include "ds/pipeline.h"
#include "ds/report.h"
#include "ds/slotcal.h"
#include "ds/store.h"
#include "ds/tz.h"
#include "ds/xmem.h"

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: darkstab show -c CONFIG --slot TIME [--analysis NAME]\n"
            "                     [--format text|json] [-o FILE] [--store PATH]\n\n"
            "Prints the drill-down of the slot containing TIME: its TopN and band, the\n"
            "groups that entered, left or moved against the window, the top sources,\n"
            "source ports and destinations of the groups shown, their packets per minute\n"
            "and the probable cause.  An unstable slot shows what was stored when it was\n"
            "judged; any other is computed now from the store, which keeps the lists only\n"
            "of the groups above the lowest threshold: what it lacks is said, not guessed.\n\n"
            "  -c, --config FILE      configuration (its analyses, time zone and store)\n"
            "  -s, --slot TIME        a time inside the slot: 2013-03-06, \"2013-03-06 12:00\"\n"
            "                         (in the configured time zone), RFC 3339, or a duration\n"
            "                         back from now such as 1d\n"
            "  -a, --analysis NAME    the analysis (default: the first of CONFIG)\n"
            "  -f, --format FORMAT    text (default) or json\n"
            "  -o, --output FILE      write to FILE instead of standard output\n"
            "      --store PATH       read this store instead of store.path\n"
            "  -q, --quiet            warnings and errors only\n\n"
            "exit status: 0 success, 1 the store cannot be read or has nothing for the\n"
            "slot, 2 usage or configuration error (an unknown analysis, a bad time)\n");
}

/* The stored result of the slot, copied out of store_results()' callback. */
struct found {
    bool found;
    struct slot_result r;
};

static enum ds_rc
keep_result(void *ctx, const struct slot_result *r)
{
    struct found *f = ctx;

    f->found = true;
    f->r = *r;
    f->r.top = NULL;
    f->r.completeness = NULL;
    f->r.explain = NULL;
    if (r->n_top > 0) {
        f->r.top = xcalloc(r->n_top, sizeof(*r->top));
        memcpy(f->r.top, r->top, r->n_top * sizeof(*r->top));
    }
    if (r->completeness != NULL)
        f->r.completeness = xstrdup(r->completeness);
    if (r->explain != NULL) {
        /* one block with pointers inside: copied through its serialised form */
        size_t len;
        uint8_t *blob = explain_encode(r->explain, &len);

        f->r.explain = explain_decode(blob, len);
        free(blob);
    }
    return DS_OK;
}

int
cmd_show(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"slot", required_argument, NULL, 's'},
        {"analysis", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"store", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *slot_s = NULL, *name = NULL, *out_path = NULL;
    const char *store_path = NULL, *drilldown = NULL;
    const struct cfg_analysis *a = NULL;
    int quiet = 0, json = 0, ch, status = 0;
    int64_t when, start, end, aid;
    bool known = false;
    struct ds_cfg *cfg = NULL;
    struct store *st = NULL;
    struct key_layout layout;
    struct report_analysis an;
    struct slotcal cal;
    struct found f;
    struct ds_error err;
    enum ds_rc rc;
    char label[TZ_RFC3339_LEN];
    FILE *out = stdout;

    memset(&f, 0, sizeof(f));
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:s:a:f:o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 's':
            slot_s = optarg;
            break;
        case 'a':
            name = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "text") != 0 && strcmp(optarg, "json") != 0) {
                fprintf(stderr, "darkstab show: --format must be text or json, not '%s'\n",
                        optarg);
                return EXIT_USAGE;
            }
            json = strcmp(optarg, "json") == 0;
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'S':
            store_path = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (config == NULL || slot_s == NULL || optind != argc) {
        fprintf(stderr, "darkstab show: %s\n",
                config == NULL   ? "-c CONFIG is required"
                : slot_s == NULL ? "--slot TIME is required"
                                 : "unexpected arguments");
        usage(stderr);
        return EXIT_USAGE;
    }
    cli_log_setup(quiet, 0);

    /* 1. configuration, time, analysis */
    if ((status = cli_load_config(config, &cfg)) != 0)
        return status;
    if (cli_parse_when(slot_s, &when) != 0) {
        fprintf(stderr, "darkstab show: --slot '%s' is not a time (2013-03-06, \"2013-03-06 "
                        "12:00\", RFC 3339, or a duration back from now such as 1d)\n",
                slot_s);
        status = EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < cfg->n_analyses && a == NULL; i++)
        if (name == NULL || strcmp(cfg->analyses[i].name, name) == 0)
            a = &cfg->analyses[i];
    if (a == NULL) {
        fprintf(stderr, "darkstab show: no analysis '%s' in %s\n", name, config);
        status = EXIT_USAGE;
        goto out;
    }
    key_layout_init(&layout, a->keys, a->n_keys);
    slotcal_init(&cal, a->slot_s);
    slotcal_find(&cal, when, &start, &end);

    /* 2. the stored slot */
    if ((status = cli_open_store("show", cfg, store_path, &st)) != 0)
        goto out;
    if (store_analysis_find(st, a->name, &aid, &known, &err) != DS_OK) {
        log_msg(LOG_ERR, "show: %s", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if (!known) {
        log_msg(LOG_ERR, "show: nothing stored for analysis %s in %s", a->name,
                store_path ? store_path : cfg->store_path);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if (store_results(st, aid, &layout, a, start, start + 1, keep_result, &f, &err) != DS_OK) {
        log_msg(LOG_ERR, "show: %s", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if (!f.found) {
        log_msg(LOG_ERR, "show: nothing stored for the slot of analysis %s starting %s", a->name,
                tz_format_rfc3339(start, label));
        status = EXIT_RUN_FAILED;
        goto out;
    }

    /* 3. the drill-down: stored, or computed now */
    if (f.r.explain != NULL) {
        drilldown = "stored";
    } else if (f.r.packets > 0) {
        rc = series_explain_stored(a, &cfg->causes, &layout, st, aid, &f.r, NULL, &f.r.explain,
                                   &err);
        /*
         * An unstable slot whose stored drill-down is gone: its lists were
         * read back when it was judged, so read them back again (analyze's
         * drilldown.lists), not saved: show does not write the store.
         */
        if (rc == DS_OK && f.r.explain != NULL && slot_result_unstable(&f.r) &&
            cfg->drilldown.lists != CFG_LISTS_MEMORY)
            rc = series_reread(cfg, a, &layout, st, aid, &f.r, 1, NULL, 0, false, &err);
        if (rc != DS_OK) {
            log_msg(LOG_ERR, "show: %s", err.msg);
            status = EXIT_RUN_FAILED;
            goto out;
        }
        if (f.r.explain != NULL)
            drilldown = "computed";
    }

    /* 4. print */
    if (out_path != NULL && strcmp(out_path, "-") != 0) {
        out = fopen(out_path, "w");
        if (out == NULL) {
            log_warn("show: %s", out_path);
            status = EXIT_RUN_FAILED;
            goto out;
        }
    }
    memset(&an, 0, sizeof(an));
    an.cfg = a;
    an.layout = &layout;
    an.store_id = aid;
    an.from = start;
    an.to = end;
    if (json)
        report_show_json(out, cfg, &an, &f.r, drilldown);
    else
        report_show_text(out, cfg, &an, &f.r, drilldown);
    if (fflush(out) != 0 || ferror(out)) {
        log_warn("show: %s", out_path != NULL ? out_path : "standard output");
        status = EXIT_RUN_FAILED;
    }
    if (out != stdout && fclose(out) != 0) {
        log_warn("show: %s", out_path);
        status = EXIT_RUN_FAILED;
    }
out:
    if (f.found)
        slot_result_fini(&f.r);
    store_close(st);
    cfg_free(cfg);
    return status;
}
