/*
 * darkstab: the command line.
 *
 *   darkstab [--version] [--help] COMMAND [ARGS...]
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ds/ingest.h"
#include "ds/log.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"analyze", cmd_analyze, "analyse IPFIX files: TopN stability per slot, stored and reported"},
    {"collect", cmd_collect, "the live collector: IPFIX, NetFlow and sFlow from the routers"},
    {"results", cmd_results, "print the stored results, as analyze prints them"},
    {"report", cmd_report, "the report of a day: summary, events, charts; text, HTML, mail"},
    {"show", cmd_show, "the drill-down of a slot: changes, top sources, probable cause"},
    {"check-config", cmd_check_config, "check a configuration file and print it in full"},
    {"clickhouse-schema", cmd_clickhouse_schema,
     "the tables of store.backend clickhouse: print or apply their DDL"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *fp)
{
    fprintf(fp, "usage: darkstab [--version] [--help] COMMAND [ARGS...]\n\n"
                "darkstab finds unstable time slots in darknet traffic: it counts the packets\n"
                "of flow records into groups (ports, protocols, flags, ...), computes TopN, the\n"
                "number of groups above each share threshold, and flags slots whose TopN leaves\n"
                "the band of the previous slots.\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n'darkstab COMMAND --help' describes a command.\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        printf("darkstab %s\n", DS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            char name[64];

            /* getopt names argv[0] in its messages: "darkstab analyze: ..." */
            snprintf(name, sizeof(name), "darkstab %s", commands[i].name);
            argv[1] = name;
            return commands[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "darkstab: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
