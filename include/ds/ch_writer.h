/*
 * The records a node counts, into the cluster's records table
 * (store.backend: clickhouse; docs/CLICKHOUSE.md section 4).
 *
 * Records are encoded as RowBinary rows into a batch of
 * store.clickhouse.batch_rows.  A full batch (or one that flush closes) is
 * first written whole to the spool directory (a file per batch, fsynced,
 * renamed into place), then sent; its file goes once ClickHouse has taken
 * it.  A batch that cannot be sent stays spooled and is sent, in order,
 * by a later flush or run: nothing that reached the spool is lost.
 *
 * A batch is named by (node, batch number).  Records of an input file
 * (analyze) get numbers derived from the file's digest and the batch's
 * place in it, so that a run done again after a crash names its batches
 * as before; before sending such a batch, the writer asks whether the
 * cluster has it already.  A batch whose first sending ended without an
 * answer (it may have arrived) is recorded in the repeats table before it
 * is sent again, so that the readers of its time range deduplicate
 * (FINAL).  Either way a record is counted once.
 */
#ifndef DS_CH_WRITER_H
#define DS_CH_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/cfg.h"
#include "ds/flow.h"
#include "ds/rc.h"

struct ch_writer;

struct ch_writer_stats {
    uint64_t rows;              /* records added */
    uint64_t batches_sent;      /* taken by ClickHouse */
    uint64_t batches_present;   /* found in the cluster already, not sent again */
    uint64_t batches_spooled;   /* in the spool now (not yet taken) */
    uint64_t send_failures;     /* attempts that failed */
    uint64_t repeats;           /* batches sent again after an attempt without answer */
    uint64_t spool_bytes;       /* the spool's size now, at most store.clickhouse.spool_max */
};

/*
 * A writer for the node ch->node: its spool directory is made if missing.
 * Returns an error if the spool cannot be used.
 */
enum ds_rc ch_writer_open(const struct cfg_clickhouse *ch, struct ch_writer **out,
                          struct ds_error *err);
/*
 * The records that follow come from the input whose content digest is
 * digest (32 hex digits): their batches are numbered from it.  NULL: from
 * the live network (numbered in sequence).  Closes the batch being
 * filled.
 */
enum ds_rc ch_writer_source(struct ch_writer *w, const char *digest, struct ds_error *err);
/*
 * analyze: mixed into the numbers of its batches, a digest of what decides
 * which records an input gives (the darknet's prefixes): a run with other
 * settings numbers its batches apart from an earlier run's.
 */
void ch_writer_salt(struct ch_writer *w, uint64_t salt);
/*
 * Adds a record; a full batch is spooled and sent.  An error: the spool
 * failed, or is full (DS_ERR_LIMIT: store.clickhouse.spool_max; that
 * batch is not kept, the next ones are once the cluster takes the spool).
 */
enum ds_rc ch_writer_add(struct ch_writer *w, const struct flow *f, struct ds_error *err);
/*
 * Closes the batch being filled and sends every spooled batch, oldest
 * first, stopping at the first that fails (it stays spooled; *pending
 * says how many do).  An error only if the spool failed.
 */
enum ds_rc ch_writer_flush(struct ch_writer *w, uint64_t *pending, struct ds_error *err);
/* The last send failure (for a log line) into buf, "" if none. */
void ch_writer_last_failure(struct ch_writer *w, char *buf, size_t len);
void ch_writer_stats(struct ch_writer *w, struct ch_writer_stats *out);

/*
 * A thread of its own sends the spool (a second after a batch is sealed
 * at most), so that ch_writer_add() only encodes and spools.  wait_ahead
 * > 0 (analyze): ch_writer_add() waits while more than that many batches
 * wait and the sender is getting on, so the spool stays small; 0 (the
 * collector, which must not stop receiving): never waits.
 * ch_writer_tick() seals a batch older than
 * store.clickhouse.flush_interval; ch_writer_seal() seals now (at a
 * checkpoint: what the checkpoint counts is spooled).  Stopping, the
 * sender tries for at most wait_s more; what is left is sent at the next
 * start.
 */
enum ds_rc ch_writer_start_sender(struct ch_writer *w, size_t wait_ahead,
                                  struct ds_error *err);
enum ds_rc ch_writer_tick(struct ch_writer *w, struct ds_error *err);
enum ds_rc ch_writer_seal(struct ch_writer *w, struct ds_error *err);
void ch_writer_stop_sender(struct ch_writer *w, int64_t wait_s);
/*
 * The node's event-time watermark (ms; the latest flow start it has
 * counted, less its lateness) and whether all its exporters are idle: the
 * sender writes them to the cluster's watermarks table every few seconds
 * (docs/CLICKHOUSE.md section 6), and once more when it stops.
 */
void ch_writer_watermark(struct ch_writer *w, int64_t watermark_ms, bool idle);
/*
 * Live: reads the watermark this node wrote before (a restart), so that
 * records older than it that come now are marked for revision as those
 * older than the rows it writes from now on are (docs/CLICKHOUSE.md 6).
 * After an idle row, or when it cannot be read, every record is marked
 * until rows that are not idle have gone for a while and the end of the
 * slots judged is known.
 */
enum ds_rc ch_writer_read_promise(struct ch_writer *w, struct ds_error *err);
/*
 * The earliest flow start (ms) of the records not yet in the cluster (the
 * batch being filled, the spool's), INT64_MAX if none: the watermark
 * written is held below it, so that it means "records in up to".  From
 * the sender's thread, or while none runs.
 */
int64_t ch_writer_pending_first(const struct ch_writer *w);
/* Frees w; what is not flushed and not spooled is lost (a run that did not end). */
void ch_writer_free(struct ch_writer *w);

#endif
