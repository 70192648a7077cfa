/*
 * darkstab results: the stored results of the analyses of a configuration,
 * printed as analyze prints them, without reading any input or changing the
 * store (a collector may be writing to it: SQLite's WAL lets both run).
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
#include "ds/log.h"
#include "ds/parse.h"
#include "ds/report.h"
#include "ds/store.h"
#include "ds/tz.h"

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: darkstab results -c CONFIG [--from TIME] [--to TIME] [--analysis NAME]\n"
            "                        [--format text|json|csv] [-o FILE] [--store PATH]\n\n"
            "Prints the results stored for the analyses of CONFIG (by analyze or collect),\n"
            "as the same documents analyze prints: every slot from the first to the last\n"
            "with data in the range, unstable ones with their groups.\n\n"
            "  -c, --config FILE      configuration (its analyses, time zone and store)\n"
            "      --from TIME        slots starting at or after TIME\n"
            "      --to TIME          slots starting before TIME\n"
            "                         TIME: 2013-03-06, \"2013-03-06 12:00\" (in the\n"
            "                         configured time zone), RFC 3339, or a duration back\n"
            "                         from now such as 7d or 12h\n"
            "  -a, --analysis NAME    this analysis only (repeatable)\n"
            "  -f, --format FORMAT    text (default), json or csv\n"
            "  -o, --output FILE      write to FILE instead of standard output\n"
            "      --store PATH       read this store instead of store.path\n"
            "  -q, --quiet            warnings and errors only\n\n"
            "exit status: 0 success, 1 the store cannot be read, 2 usage or configuration\n"
            "error (an unknown analysis, a bad time)\n");
}

int
cmd_results(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"analysis", required_argument, NULL, 'a'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"store", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *from_s = NULL, *to_s = NULL, *out_path = NULL;
    const char *store_path = NULL, *only[CFG_ANALYSES_MAX];
    size_t n_only = 0, n_an = 0;
    const struct report_format *fmt = &report_format_text;
    int quiet = 0, ch, status = 0;
    int64_t from = INT64_MIN, to = INT64_MAX;
    struct ds_cfg *cfg = NULL;
    struct store *st = NULL;
    struct report_analysis an[CFG_ANALYSES_MAX];
    struct key_layout layouts[CFG_ANALYSES_MAX];
    struct ds_error err;
    FILE *out = stdout;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:a:f:o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'F':
            from_s = optarg;
            break;
        case 'T':
            to_s = optarg;
            break;
        case 'a':
            if (n_only == CFG_ANALYSES_MAX) {
                fprintf(stderr, "darkstab results: too many --analysis\n");
                return EXIT_USAGE;
            }
            only[n_only++] = optarg;
            break;
        case 'f':
            fmt = report_format_find(optarg, REPORT_FOR_WRITE);
            if (fmt == NULL) {
                char names[64];

                fprintf(stderr, "darkstab results: --format must be %s, not '%s'\n",
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
    if (config == NULL || optind != argc) {
        fprintf(stderr, "darkstab results: %s\n",
                config == NULL ? "-c CONFIG is required" : "unexpected arguments");
        usage(stderr);
        return EXIT_USAGE;
    }
    cli_log_setup(quiet, 0);
    if ((status = cli_load_config(config, &cfg)) != 0)
        return status;
    if ((from_s != NULL && cli_parse_when(from_s, &from) != 0) ||
        (to_s != NULL && cli_parse_when(to_s, &to) != 0)) {
        fprintf(stderr, "darkstab results: '%s' is not a time (2013-03-06, \"2013-03-06 12:00\", "
                        "RFC 3339, or a duration back from now such as 7d)\n",
                from_s != NULL && cli_parse_when(from_s, &from) != 0 ? from_s : to_s);
        status = EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < n_only; i++) {
        size_t j;

        for (j = 0; j < cfg->n_analyses; j++)
            if (strcmp(cfg->analyses[j].name, only[i]) == 0)
                break;
        if (j == cfg->n_analyses) {
            fprintf(stderr, "darkstab results: no analysis '%s' in %s\n", only[i], config);
            status = EXIT_USAGE;
            goto out;
        }
    }
    if ((status = cli_open_store("results", cfg, store_path, &st)) != 0)
        goto out;
    for (size_t i = 0; i < cfg->n_analyses; i++) {
        const struct cfg_analysis *a = &cfg->analyses[i];
        struct store_slot_summary *sums = NULL;
        size_t n = 0;
        bool found = false, wanted = n_only == 0;
        int64_t id;

        for (size_t j = 0; j < n_only; j++)
            wanted |= strcmp(only[j], a->name) == 0;
        if (!wanted)
            continue;
        if (store_analysis_find(st, a->name, &id, &found, &err) != DS_OK) {
            log_msg(LOG_ERR, "results: %s", err.msg);
            status = EXIT_RUN_FAILED;
            goto out;
        }
        if (!found) {
            log_warnx("results: nothing stored for analysis %s", a->name);
            continue;
        }
        if (store_slot_summaries(st, id, from, to, &sums, &n, &err) != DS_OK) {
            log_msg(LOG_ERR, "results: %s", err.msg);
            status = EXIT_RUN_FAILED;
            goto out;
        }
        key_layout_init(&layouts[n_an], a->keys, a->n_keys);
        an[n_an].cfg = a;
        an[n_an].layout = &layouts[n_an];
        an[n_an].store_id = id;
        an[n_an].late = 0;
        /* from the first to the last slot with data in the range */
        an[n_an].from = an[n_an].to = 0;
        for (size_t k = 0; k < n; k++) {
            if (sums[k].packets == 0)
                continue;
            if (an[n_an].from == an[n_an].to)
                an[n_an].from = sums[k].start;
            an[n_an].to = sums[k].end;
        }
        free(sums);
        n_an++;
    }
    if (out_path != NULL && strcmp(out_path, "-") != 0) {
        out = fopen(out_path, "w");
        if (out == NULL) {
            log_warn("results: %s", out_path);
            status = EXIT_RUN_FAILED;
            goto out;
        }
    }
    if (report_write(fmt, out, cfg, NULL, an, n_an, st, &err) != DS_OK) {
        log_msg(LOG_ERR, "results: %s", err.msg);
        status = EXIT_RUN_FAILED;
    }
    if (out != stdout && fclose(out) != 0) {
        log_warn("results: %s", out_path);
        status = EXIT_RUN_FAILED;
    }
out:
    store_close(st);
    cfg_free(cfg);
    return status;
}
