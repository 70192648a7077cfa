/*
 * darkstab report: the report of a day (or a range) from the store, as a
 * person reads it: a summary, then one section per unstable slot with its
 * drill-down and charts; as text, self-contained HTML or JSON, and mailed
 * with --send.
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
#include "ds/cluster_live.h"
#include "ds/log.h"
#include "ds/mail.h"
#include "ds/parse.h"
#include "ds/report.h"
#include "ds/store.h"
#include "ds/tz.h"

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: darkstab report -c CONFIG [--date DAY | --from TIME --to TIME]\n"
            "                       [--format text|html|json] [-o FILE] [--send] [--store PATH]\n"
            "\n"
            "The report of a day (or a range) from the store: a summary per analysis\n"
            "(slots judged, unstable slots per threshold, packets against the previous\n"
            "days, the causes found), then a section per unstable slot with its\n"
            "drill-down; the HTML carries the charts inline.\n\n"
            "  -c, --config FILE      configuration (its analyses, time zone and store)\n"
            "  -d, --date DAY         the local day DAY (2013-03-06) in the configured time\n"
            "                         zone; default: yesterday\n"
            "      --from TIME        slots starting at or after TIME ...\n"
            "      --to TIME          ... and before TIME; TIME: 2013-03-06, \"2013-03-06\n"
            "                         12:00\" (configured zone), RFC 3339, or a duration\n"
            "                         back from now such as 7d\n"
            "  -f, --format FORMAT    text (default), html or json\n"
            "  -o, --output FILE      write to FILE instead of standard output\n"
            "      --send             mail the report of the day now (report.mail, smtp);\n"
            "                         a day already mailed is not sent again; the report\n"
            "                         is then written only with -o\n"
            "      --store PATH       read this store instead of store.path\n"
            "  -q, --quiet            warnings and errors only\n\n"
            "exit status: 0 success, 1 the store cannot be read or the mail was not sent\n"
            "(it stays spooled), 2 usage or configuration error\n");
}

/* "2013-03-06" if t is a local midnight, else "2013-03-06 12:00" */
static void
local_label(int64_t t, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    localtime_r(&tt, &tm);
    strftime(buf, len, tz_day_start(t) == t ? "%Y-%m-%d" : "%Y-%m-%d %H:%M", &tm);
}

/* A local day "YYYY-MM-DD" and nothing else. */
static int
parse_day(const char *s, int64_t *from, int64_t *to)
{
    int64_t t;
    int y, mo, d;
    char tail;

    if (sscanf(s, "%4d-%2d-%2d%c", &y, &mo, &d, &tail) != 3 || strlen(s) != 10 ||
        tz_parse_time(s, &t) != 0)
        return -1;
    *from = tz_day_start(t);
    *to = tz_next_day(*from);
    return 0;
}

static int
write_out(const char *path, const char *doc)
{
    FILE *out = stdout;
    int bad;

    if (path != NULL && strcmp(path, "-") != 0) {
        out = fopen(path, "w");
        if (out == NULL) {
            log_warn("report: %s", path);
            return -1;
        }
    }
    bad = fputs(doc, out) == EOF;
    if (out != stdout)
        bad |= fclose(out) != 0;
    else
        bad |= fflush(out) != 0;
    if (bad)
        log_warn("report: %s", path != NULL ? path : "standard output");
    return bad ? -1 : 0;
}

int
cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"date", required_argument, NULL, 'd'},
        {"from", required_argument, NULL, 'F'},
        {"to", required_argument, NULL, 'T'},
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"send", no_argument, NULL, 'M'},
        {"store", required_argument, NULL, 'S'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *date_s = NULL, *from_s = NULL, *to_s = NULL;
    const char *out_path = NULL, *store_path = NULL;
    const struct report_format *fmt = &report_format_text;
    int quiet = 0, send = 0, ch, status = 0;
    int64_t from, to;
    struct ds_cfg *cfg = NULL;
    struct store *st = NULL;
    struct report_doc doc;
    struct ds_error err;
    char title[80], a[32], b[32];

    memset(&doc, 0, sizeof(doc));
    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:d:f:o:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'd':
            date_s = optarg;
            break;
        case 'F':
            from_s = optarg;
            break;
        case 'T':
            to_s = optarg;
            break;
        case 'f':
            fmt = report_format_find(optarg, REPORT_FOR_DOC);
            if (fmt == NULL) {
                char names[64];

                fprintf(stderr, "darkstab report: --format must be %s, not '%s'\n",
                        report_format_names(REPORT_FOR_DOC, names, sizeof(names)), optarg);
                return EXIT_USAGE;
            }
            break;
        case 'o':
            out_path = optarg;
            break;
        case 'M':
            send = 1;
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
        fprintf(stderr, "darkstab report: %s\n",
                config == NULL ? "-c CONFIG is required" : "unexpected arguments");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (date_s != NULL && (from_s != NULL || to_s != NULL)) {
        fprintf(stderr, "darkstab report: --date or --from/--to, not both\n");
        return EXIT_USAGE;
    }
    if ((from_s == NULL) != (to_s == NULL)) {
        fprintf(stderr, "darkstab report: --from and --to go together\n");
        return EXIT_USAGE;
    }
    if (send && from_s != NULL) {
        fprintf(stderr, "darkstab report: --send mails the report of a day: use --date\n");
        return EXIT_USAGE;
    }
    cli_log_setup(quiet, 0);
    if ((status = cli_load_config(config, &cfg)) != 0)
        return status;
    if (date_s != NULL) {
        if (parse_day(date_s, &from, &to) != 0) {
            fprintf(stderr, "darkstab report: --date '%s' is not a day (2013-03-06)\n", date_s);
            status = EXIT_USAGE;
            goto out;
        }
    } else if (from_s != NULL) {
        const char *bad = cli_parse_when(from_s, &from) != 0 ? from_s
                          : cli_parse_when(to_s, &to) != 0   ? to_s
                                                         : NULL;

        if (bad != NULL) {
            fprintf(stderr, "darkstab report: '%s' is not a time (2013-03-06, \"2013-03-06 "
                            "12:00\", RFC 3339, or a duration back from now such as 7d)\n",
                    bad);
            status = EXIT_USAGE;
            goto out;
        }
        if (from >= to) {
            fprintf(stderr, "darkstab report: --from must be before --to\n");
            status = EXIT_USAGE;
            goto out;
        }
    } else {
        /* yesterday, in the configured zone */
        to = tz_day_start((int64_t)time(NULL));
        from = tz_day_start(to - 1);
    }
    if (from_s == NULL) {
        local_label(from, title, sizeof(title));
    } else {
        local_label(from, a, sizeof(a));
        local_label(to, b, sizeof(b));
        snprintf(title, sizeof(title), "%s to %s", a, b);
    }
    if ((status = cli_open_store("report", cfg, store_path, &st)) != 0)
        goto out;
    if (report_render(cfg, st, from, to, title, &doc, &err) != DS_OK) {
        log_msg(LOG_ERR, "report: %s", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if ((!send || out_path != NULL) && write_out(out_path, report_doc_get(&doc, fmt)) != 0) {
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if (send) {
        /* on a cluster, the day once for all its nodes (the cluster's mails table) */
        struct mail_ledger *ledger =
            cfg->store_backend == CFG_STORE_CLICKHOUSE ? cluster_mail_ledger_new(cfg) : NULL;

        if (mail_deliver(cfg, st, ledger, title, &doc, &err) != DS_OK) {
            log_msg(LOG_ERR, "report: mail of %s: %s", title, err.msg);
            status = EXIT_RUN_FAILED;
        } else {
            log_msg(LOG_INFO, "report: mail of %s sent: %s", title, doc.subject);
        }
        cluster_mail_ledger_free(ledger);
    }
out:
    report_doc_fini(&doc);
    report_release_static();
    store_close(st);
    cfg_free(cfg);
    return status;
}
