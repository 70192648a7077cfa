/*
 * Private to src/cli: the commands and their shared conventions.
 *
 * Exit status: 0 success, 1 a failed run (an input that cannot be read,
 * a store error), 2 a usage or configuration error.
 */
#ifndef DS_CLI_H
#define DS_CLI_H

#include <stdint.h>

#include "ds/cfg.h"
#include "ds/store.h"

#define EXIT_RUN_FAILED 1
#define EXIT_USAGE 2

int cmd_analyze(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_clickhouse_schema(int argc, char **argv);
int cmd_collect(int argc, char **argv);
int cmd_results(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_show(int argc, char **argv);

/* Logs to stderr at info, or the level given by -q / -v. */
void cli_log_setup(int quiet, int verbose);
/*
 * Loads the configuration at path into *cfg (owned) and applies its time
 * zone.  Returns 0, or the exit status with the error logged.
 */
int cli_load_config(const char *path, struct ds_cfg **cfg);
/*
 * Opens the store at path (NULL: the configuration's store.path) for a
 * command that reads one: it must exist.  Returns 0 with *st owned, or
 * EXIT_RUN_FAILED with the error logged, prefixed by cmd.
 */
int cli_open_store(const char *cmd, const struct ds_cfg *cfg, const char *path,
                   struct store **st);
/* A time: absolute (RFC 3339 or local "2013-03-06 12:00"), or a duration back from now. */
int cli_parse_when(const char *s, int64_t *t);

#endif
