/*
 * darkstab check-config -c FILE: checks a configuration and prints the
 * effective configuration, every default included, as YAML that darkstab
 * accepts again.
 */
#include <getopt.h>
#include <stdio.h>

#include "cli.h"
#include "ds/cfg.h"

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: darkstab check-config -c FILE [-q]\n\n"
                "Checks FILE and prints the effective configuration (defaults included).\n"
                "  -c, --config FILE   the configuration to check\n"
                "  -q, --quiet         print nothing; the exit status tells\n"
                "exit status: 0 valid, 2 invalid (the error names file, line, column and key)\n");
}

int
cmd_check_config(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *path = NULL;
    struct ds_cfg *cfg;
    struct ds_error err;
    int quiet = 0, ch;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:qh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            path = optarg;
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
    if (path == NULL || optind != argc) {
        fprintf(stderr, "darkstab check-config: %s\n",
                path == NULL ? "-c FILE is required" : "unexpected argument");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (cfg_load(path, &cfg, &err) != DS_OK) {
        fprintf(stderr, "darkstab: %s\n", err.msg);
        return EXIT_USAGE;
    }
    if (!quiet)
        cfg_print(cfg, stdout);
    cfg_free(cfg);
    return 0;
}
