/*
 * darkstab clickhouse-schema -c FILE [--apply URL]: the DDL of the tables
 * darkstab keeps on a ClickHouse cluster (docs/CLICKHOUSE.md), for
 * store.clickhouse.database and .cluster; printed, or run against one
 * server.  Each shard needs it (ON CLUSTER needs ZooKeeper).
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "ds/clickhouse.h"

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: darkstab clickhouse-schema -c FILE [--apply URL]\n\n"
                "Prints the statements that create darkstab's database and tables on one\n"
                "ClickHouse server (local tables and Distributed tables over\n"
                "store.clickhouse.cluster), each followed by ';' and a newline.  Every shard\n"
                "of the cluster needs them.\n"
                "  -c, --config FILE   the configuration (store.clickhouse.database, .cluster,\n"
                "                      .user, .password_file, .timeout)\n"
                "  -a, --apply URL     run them against the server at URL (http://host:port/)\n"
                "                      instead of printing them; harmless if they ran before\n"
                "exit status: 0 done, 1 the server refused or cannot be reached, 2 usage or\n"
                "configuration error\n");
}

int
cmd_clickhouse_schema(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"apply", required_argument, NULL, 'a'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL, *apply = NULL;
    struct ch_client *c;
    struct ds_cfg *cfg;
    struct ds_error err;
    size_t n, done;
    int ch, rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:a:h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'a':
            apply = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (path == NULL || optind != argc) {
        fprintf(stderr, "darkstab clickhouse-schema: %s\n",
                path == NULL ? "-c FILE is required" : "unexpected argument");
        usage(stderr);
        return EXIT_USAGE;
    }
    rc = cli_load_config(path, &cfg);
    if (rc != 0)
        return rc;
    if (apply == NULL) {
        struct strbuf sb = STRBUF_INIT;

        ch_schema(&cfg->clickhouse, &sb);
        fputs(strbuf_str(&sb), stdout);
        strbuf_fini(&sb);
        cfg_free(cfg);
        return fflush(stdout) == 0 ? 0 : EXIT_RUN_FAILED;
    }
    if (ch_client_new(&cfg->clickhouse, apply, &c, &err) != DS_OK) {
        fprintf(stderr, "darkstab clickhouse-schema: %s\n", err.msg);
        cfg_free(cfg);
        return EXIT_RUN_FAILED;
    }
    {
        struct strbuf sb = STRBUF_INIT;

        n = ch_schema(&cfg->clickhouse, &sb);
        strbuf_fini(&sb);
    }
    rc = 0;
    if (ch_schema_apply(c, &cfg->clickhouse, &done, &err) != DS_OK) {
        fprintf(stderr, "darkstab clickhouse-schema: statement %zu of %zu: %s\n", done + 1, n,
                err.msg);
        rc = EXIT_RUN_FAILED;
    } else {
        printf("%s: %zu statements applied (database %s, cluster %s)\n", ch_client_server(c),
               done, cfg->clickhouse.database, cfg->clickhouse.cluster);
    }
    ch_client_free(c);
    cfg_free(cfg);
    return rc;
}
