/*
 * The live collector ("darkstab collect"): listeners in, the live pipeline
 * out, and between them one decoding thread that keeps, per exporter, its
 * session (templates, sequence numbers), what it announced (sampling), its
 * event clock and what it sent minute by minute.
 *
 *   - slots close on the records' own times: the watermark is the earliest
 *     event clock of the active exporters, minus collector.lateness; an
 *     exporter silent for collector.idle_close (wall clock) stops being
 *     active;
 *   - each slot's completeness (sequence gaps, silences, unknown
 *     templates, sampling changes, stretches the collector was down) is
 *     computed from the exporter minutes when it closes; above
 *     collector.max_loss it is "incomplete" and not judged;
 *   - every collector.checkpoint, and on SIGTERM, the open slots and the
 *     exporters' state go to the store in one transaction, so a restart
 *     decodes at once and counts nothing twice.
 *
 * Started in three steps, so that the command can bind as root, drop
 * privileges, open the store as the unprivileged user, then daemonise
 * before any thread exists.
 */
#ifndef DS_COLLECT_H
#define DS_COLLECT_H

#include <signal.h>

#include "ds/cfg.h"
#include "ds/rc.h"

struct collector;

/* Step 1 (as root if need be): binds every listener.  cfg is borrowed for the collector's life. */
enum ds_rc collector_bind(const struct ds_cfg *cfg, struct collector **out, struct ds_error *err);
/* Step 2: opens the store, registers the analyses, reads the last checkpoint. */
enum ds_rc collector_open(struct collector *c, struct ds_error *err);
/* Step 3: starts the threads (receive, aggregation, store, metrics). */
enum ds_rc collector_start(struct collector *c, struct ds_error *err);
/*
 * Runs until *stop is set (SIGTERM, SIGINT), then stops in order: reads
 * what the sockets hold, counts it, checkpoints, commits.  When *reload is
 * set (SIGHUP), the configuration at config_path is read and checked, and
 * applied if it is sound; the log says what was not applied and why.
 * Returns DS_OK, or the store error that stopped it.
 */
enum ds_rc collector_run(struct collector *c, volatile sig_atomic_t *stop,
                         volatile sig_atomic_t *reload, const char *config_path,
                         struct ds_error *err);
void collector_free(struct collector *c);

/* The port listener i is bound to (for tests that bind port 0). */
uint16_t collector_port(const struct collector *c, size_t i);

#endif
