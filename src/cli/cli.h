/*
 * Private to src/cli: the commands and their shared conventions.
 *
 * Exit status: 0 success, 1 a failed run (an input that cannot be read,
 * a store error), 2 a usage or configuration error.
 */
#ifndef DS_CLI_H
#define DS_CLI_H

#define EXIT_RUN_FAILED 1
#define EXIT_USAGE 2

int cmd_analyze(int argc, char **argv);
int cmd_check_config(int argc, char **argv);
int cmd_collect(int argc, char **argv);
int cmd_results(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Logs to stderr at info, or the level given by -q / -v. */
void cli_log_setup(int quiet, int verbose);

#endif
