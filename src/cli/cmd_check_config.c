/*
 * darkstab check-config -c FILE [--print]: checks a configuration; --print
 * shows the effective configuration, every default included and secrets
 * masked, as YAML that darkstab accepts again.  --doc prints the reference
 * table of every key (the README's configuration table is that output).
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "ds/cfg.h"

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: darkstab check-config -c FILE [--print] [-q]\n"
                "       darkstab check-config --doc\n\n"
                "Checks FILE: every key, value, bound and cross-check.\n"
                "  -c, --config FILE   the configuration to check\n"
                "  -p, --print         print the effective configuration: defaults included,\n"
                "                      secrets masked\n"
                "  -q, --quiet         print nothing; the exit status tells\n"
                "      --doc           print the table of every key (Markdown), no FILE\n"
                "exit status: 0 valid, 2 invalid (the error names file, line, column and key)\n");
}

int
cmd_check_config(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"print", no_argument, NULL, 'p'},
        {"doc", no_argument, NULL, 'D'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    struct ds_cfg *cfg;
    struct ds_error err;
    int quiet = 0, print = 0, doc = 0, ch;

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
    cfg_free(cfg);
    return 0;
}
