/*
 * darkstab check-config -c FILE [--print]: checks a configuration; --print
 * shows the effective configuration, every default included and secrets
 * masked, as YAML that darkstab accepts again.  --doc prints the reference
 * table of every key (the README's configuration table is that output).
 * --connect also tries the servers the configuration names: with
 * store.backend clickhouse, the ClickHouse server (its version, the
 * cluster, darkstab's tables).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli.h"
#include "ds/cfg.h"
#include "ds/clickhouse.h"

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: darkstab check-config -c FILE [--print] [--connect] [-q]\n"
                "       darkstab check-config --doc\n\n"
                "Checks FILE: every key, value, bound and cross-check.\n"
                "  -c, --config FILE   the configuration to check\n"
                "  -p, --print         print the effective configuration: defaults included,\n"
                "                      secrets masked\n"
                "      --connect       also try the servers it names: with store.backend\n"
                "                      clickhouse, its version, cluster and darkstab's tables\n"
                "  -q, --quiet         print nothing; the exit status tells\n"
                "      --doc           print the table of every key (Markdown), no FILE\n"
                "exit status: 0 valid, 2 invalid (the error names file, line, column and key),\n"
                "1 a server of --connect cannot be reached or lacks what darkstab needs\n");
}

/* --connect: the servers cfg names, each tried; 0 or EXIT_RUN_FAILED. */
static int
check_servers(const struct ds_cfg *cfg, int quiet)
{
    struct ch_client *c;
    struct ds_error err;
    char version[64];
    unsigned shards;
    struct ch_node *nodes = NULL;
    size_t n_nodes = 0;

    if (cfg->store_backend != CFG_STORE_CLICKHOUSE) {
        if (!quiet)
            printf("store: sqlite (%s), no server to try\n", cfg->store_path);
        return 0;
    }
    if (ch_client_new(&cfg->clickhouse, NULL, &c, &err) != DS_OK ||
        ch_check(c, &cfg->clickhouse, version, sizeof(version), &shards, &err) != DS_OK) {
        fprintf(stderr, "darkstab: store.clickhouse: %s\n", err.msg);
        ch_client_free(c);
        return EXIT_RUN_FAILED;
    }
    if (!quiet)
        printf("store: ClickHouse %s at %s, cluster %s of %u shard%s, database %s complete\n",
               version, ch_client_server(c), cfg->clickhouse.cluster, shards,
               shards == 1 ? "" : "s", cfg->clickhouse.database);
    /* the nodes that feed the cluster, and how far their records are in */
    if (!quiet && ch_nodes(c, &cfg->clickhouse, &nodes, &n_nodes, &err) == DS_OK) {
        time_t now = time(NULL);

        for (size_t i = 0; i < n_nodes; i++) {
            char when[32];
            time_t wm = (time_t)(nodes[i].watermark_ms / 1000);
            struct tm tm;

            if (nodes[i].watermark_ms == INT64_MIN) {
                /* started, no exporter yet: it holds every slot back until idle */
                snprintf(when, sizeof(when), "nothing yet");
            } else {
                gmtime_r(&wm, &tm);
                strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
            }
            printf("node %s: records in up to %s, written %llds ago%s%s\n", nodes[i].node, when,
                   (long long)(now - nodes[i].updated_ms / 1000), nodes[i].idle ? ", idle" : "",
                   nodes[i].analyzer ? "" : ", never judges");
        }
        free(nodes);
    }
    ch_client_free(c);
    return 0;
}

int
cmd_check_config(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"print", no_argument, NULL, 'p'},
        {"doc", no_argument, NULL, 'D'},
        {"connect", no_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    struct ds_cfg *cfg;
    struct ds_error err;
    int quiet = 0, print = 0, doc = 0, connect = 0, ch, rc = 0;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:qph", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'p':
            print = 1;
            break;
        case 'D':
            doc = 1;
            break;
        case 'C':
            connect = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (doc && path == NULL && optind == argc) {
        cfg_print_doc(stdout);
        return 0;
    }
    if (path == NULL || optind != argc || doc) {
        fprintf(stderr, "darkstab check-config: %s\n",
                doc ? "--doc takes no other argument"
                    : path == NULL ? "-c FILE is required" : "unexpected argument");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cfg_load(path, &cfg, &err) != DS_OK) {
        fprintf(stderr, "darkstab: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (print && !quiet)
        cfg_print(cfg, stdout);
    else if (!quiet)
        printf("%s: valid (%zu %s)\n", path, cfg->n_analyses,
               cfg->n_analyses == 1 ? "analysis" : "analyses");
    if (connect)
        rc = check_servers(cfg, quiet);
    cfg_free(cfg);
    return rc;
}
