/*
 * What the commands share (see cli.h): logging, loading the configuration,
 * opening a store that must exist, reading a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ds/clickhouse.h"
#include "ds/cluster.h"
#include "ds/cluster_live.h"
#include "ds/ingest.h"
#include "ds/log.h"
#include "ds/parse.h"
#include "ds/tz.h"

void
cli_log_setup(int quiet, int verbose)
{
    int level = LOG_INFO;

    if (quiet)
        level = LOG_WARNING;
    if (verbose)
        level = LOG_DEBUG;
    log_init(0, level, "darkstab");
    ingest_quiet_libfixbuf();
}

int
cli_load_config(const char *path, struct ds_cfg **cfg)
{
    struct ds_error err;
    enum ds_rc rc = cfg_load(path, cfg, &err);

    if (rc != DS_OK) {
        log_msg(LOG_ERR, "%s", err.msg);
        /* a file that cannot be read is the run's failure, a wrong one the user's */
        return rc == DS_ERR_IO ? EXIT_RUN_FAILED : EXIT_USAGE;
    }
    tz_apply((*cfg)->timezone);
    return 0;
}

/*
 * A collector's view of the cluster, made here if it is not there yet, as
 * the collector's store is: same owner and mode, so that a collector that
 * runs as collector.user can write it after root read it.
 */
static void
create_like(const char *path, const char *like)
{
    struct stat sb;
    int fd;

    if (access(path, F_OK) == 0 || stat(like, &sb) != 0)
        return;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, sb.st_mode & 0666);
    if (fd < 0)
        return;
    if (geteuid() == 0 && fchown(fd, sb.st_uid, sb.st_gid) != 0)
        log_warnx("cannot give %s the owner of %s: %s", path, like, strerror(errno));
    close(fd);
}

int
cli_open_store(const char *cmd, const struct ds_cfg *cfg, const char *path, struct store **st)
{
    struct ds_error err;

    if (path == NULL)
        path = cfg->store_path;
    /* opening would create an empty store where the user mistyped a path */
    if (strcmp(path, ":memory:") != 0 && access(path, R_OK) != 0) {
        log_msg(LOG_ERR, "%s: no store at %s (%s)", cmd, path, strerror(errno));
        return EXIT_RUN_FAILED;
    }
    *st = store_open(NULL, path, &err);
    if (*st == NULL) {
        log_msg(LOG_ERR, "%s: %s", cmd, err.msg);
        return EXIT_RUN_FAILED;
    }
    /* a node of a cluster reads what any node judged since (docs/CLICKHOUSE.md 5) */
    if (cfg->store_backend == CFG_STORE_CLICKHOUSE && strcmp(path, cfg->store_path) == 0) {
        struct cluster_judge_stats cs;
        struct store_collector col = {0};
        struct ch_client *c = NULL;
        bool collector = false;

        /*
         * Not into a collector's store: it judges its own records live, and
         * the two judgements would take turns.  The cluster's go to the
         * view beside it, which the judging node's collector writes too
         * (docs/CLICKHOUSE.md 6).
         */
        if (store_collector_load(*st, &col, &collector, &err) == DS_OK && collector) {
            char *view = cluster_view_path(cfg);
            enum ds_rc rc;

            free(col.state);
            store_close(*st);
            create_like(view, path);
            *st = store_open(NULL, view, &err);
            rc = *st != NULL ? store_begin(*st, &err) : DS_ERR_DB;
            for (size_t i = 0; rc == DS_OK && i < cfg->n_analyses; i++) {
                struct pipeline_analysis pa;
                unsigned changed;

                rc = pipeline_register_analysis(cfg, &cfg->analyses[i], *st, &pa, &changed,
                                                &err);
            }
            if (rc == DS_OK)
                rc = store_commit(*st, &err);
            if (rc != DS_OK) {
                log_msg(LOG_ERR, "%s: the cluster's judgements at %s: %s", cmd, view, err.msg);
                free(view);
                store_close(*st);
                *st = NULL;
                return EXIT_RUN_FAILED;
            }
            log_info("%s: %s is a collector's: the cluster's judgements are in %s", cmd, path,
                     view);
            free(view);
        }
        if (ch_client_new(&cfg->clickhouse, NULL, &c, &err) != DS_OK ||
            cluster_sync(cfg, *st, c, &cs, &err) != DS_OK)
            log_warnx("%s: the cluster's judgements cannot be read (%s): showing what %s "
                      "last read of them", cmd, err.msg, path);
        else if (cs.fetched > 0)
            log_info("%s: %llu slots judged in the cluster since read into %s (%.2f s)", cmd,
                     (unsigned long long)cs.fetched, path, cs.seconds);
        ch_client_free(c);
    }
    return 0;
}

int
cli_parse_when(const char *s, int64_t *t)
{
    int64_t d;
    char why[128];

    if (tz_parse_time(s, t) == 0)
        return 0;
    if (parse_duration(s, &d, why, sizeof(why)) == 0) {
        *t = (int64_t)time(NULL) - d;
        return 0;
    }
    return -1;
}
