/*
 * Live drill-down lists read back from the collector's archive (issue 7:
 * "live and offline agree").  The collector keeps Space-Saving lists in
 * memory, exact only while a group has few values; once a slot is judged
 * unstable, a thread of its own reads the archive files that hold the
 * slot's flows and counts its shown groups exactly, as "analyze" does on
 * its inputs (explain_reread_jobs()), and the store thread puts the exact
 * lists in place of the memory ones.
 *
 * Which files: the archive is cut by wall clock, the slot by flow time.
 * The slot's flows arrived between its start (less an hour of exporter
 * clock skew) and its judgement; a replay of old records arrives in the
 * slot's length and lateness before its judgement.  The files of either
 * span are read; a slot whose packets are not all found there (flows that
 * came before a restart, a file removed) keeps its memory lists, and the
 * log says so.  The archive is flushed at checkpoints, so a slot is read
 * back once a checkpoint requested after its judgement is committed.
 *
 * Jobs are bounded (ARCHIVE_REREAD_JOBS): past it the oldest is dropped,
 * logged and counted; its memory lists stay.
 */
#ifndef DS_ARCHIVE_REREAD_H
#define DS_ARCHIVE_REREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/cfg.h"
#include "ds/key.h"
#include "ds/rc.h"
#include "ds/result.h"
#include "ds/store.h"

#define ARCHIVE_REREAD_JOBS 256

struct archive_reread;

/* Counts, for metrics and tests. */
struct archive_reread_stats {
    uint64_t applied;           /* slots whose lists were read back and saved */
    uint64_t kept;              /* slots that kept their memory lists (missed packets, errors) */
    uint64_t dropped;           /* jobs dropped: too many waiting, or stopping */
    uint64_t pending;           /* waiting or being read */
};

/*
 * A reader of the archive in dir (borrowed, rotation rotate_s) for cfg
 * (borrowed; its lateness is collector.lateness).  Starts its thread.
 */
struct archive_reread *archive_reread_new(const struct ds_cfg *cfg, const char *dir,
                                          int64_t rotate_s);

/*
 * Unstable slot r (moved: r is left empty) of analysis a (borrowed), to be
 * read back once a checkpoint after after_checkpoint is committed; judged_s
 * is the wall clock of its judgement.
 */
void archive_reread_push(struct archive_reread *ar, const struct cfg_analysis *a,
                         const struct key_layout *layout, int64_t aid, struct slot_result *r,
                         uint32_t after_checkpoint, int64_t judged_s);

/* Checkpoints up to done are committed: the archive holds what came before them. */
void archive_reread_checkpoint(struct archive_reread *ar, uint32_t done);

/*
 * The slots read back so far, into the store (their drill-downs replaced
 * with the exact lists).  Called by the thread that owns the store's
 * transaction.  Returns DS_OK or a store error.
 */
enum ds_rc archive_reread_apply(struct archive_reread *ar, struct store *st,
                                struct ds_error *err);

void archive_reread_stats(struct archive_reread *ar, struct archive_reread_stats *out);

/*
 * Stops: every checkpoint counts as committed (the caller made the last
 * one), the jobs waiting are read back for at most wait_ms more, then the
 * rest are dropped (logged).  archive_reread_apply() afterwards saves what
 * was read.
 */
void archive_reread_stop(struct archive_reread *ar, int wait_ms);

/* Frees ar (stopped or not: stops it with no wait).  NULL is a no-op. */
void archive_reread_free(struct archive_reread *ar);

#endif
