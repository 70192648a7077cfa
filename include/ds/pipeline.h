/*
 * The pipeline: the one place that wires every stage together.
 *
 *   ingest (frame, check, decode) -> norm -> filter (darknet) ->
 *   agg (one per analysis, on its own thread) -> series (merge with the
 *   store, TopN, stability) -> store -> report
 *
 * "analyze" makes a pipeline, adds its inputs, finishes it and reports
 * from the store; the collector will feed the same pipeline from sockets.
 */
#ifndef DS_PIPELINE_H
#define DS_PIPELINE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ds/agg.h"
#include "ds/cfg.h"
#include "ds/explain.h"
#include "ds/ingest.h"
#include "ds/norm.h"
#include "ds/rc.h"
#include "ds/store.h"

/* What the inputs held, for the "input" object of the report. */
struct pipeline_counts {
    uint64_t files;             /* inputs named */
    uint64_t already_counted;   /* inputs skipped: counted by an earlier run */
    uint64_t unreadable;        /* inputs that could not be read at all */
    uint64_t records;           /* data records decoded */
    uint64_t counted;           /* records in the darknet, counted */
    uint64_t outside_darknet;
    uint64_t excluded;
    uint64_t unusable;          /* no destination address or usable time */
    struct ingest_stats ingest;
    struct norm_stats norm;
};

/* One analysis' part of the run, for reporting. */
struct pipeline_analysis {
    const struct cfg_analysis *cfg;
    struct key_layout layout;
    int64_t store_id;
    int64_t from;               /* first slot start with data in this run's inputs */
    int64_t to;                 /* end of the last such slot; from == to: none */
    uint64_t late;              /* flows counted into a slot already closed */
};

struct pipeline;

/*
 * Analysis a of cfg registered in st (borrowed, in a transaction): *out's
 * cfg, layout and store_id (from and to left 0); *changed as
 * store_analysis() says.  DS_ERR_CONFLICT if st holds it with other keys,
 * slot or time zone.
 */
enum ds_rc pipeline_register_analysis(const struct ds_cfg *cfg, const struct cfg_analysis *a,
                                      struct store *st, struct pipeline_analysis *out,
                                      unsigned *changed, struct ds_error *err);

/*
 * Makes *out an owned pipeline for cfg (borrowed, must outlive it),
 * storing into st (borrowed).  Registers the analyses in the store: an analysis
 * stored with other keys, slot or time zone is a conflict (DS_ERR_CONFLICT).
 * Starts the aggregation thread and the store transaction.
 */
enum ds_rc pipeline_new(const struct ds_cfg *cfg, struct store *st, struct pipeline **out,
                        struct ds_error *err);

/*
 * Reads one input ("-" is standard input) through every analysis that has
 * not counted it before.  Returns DS_OK, or DS_ERR_IO if it cannot be read
 * at all (err says which; the run can go on with the next input).
 */
enum ds_rc pipeline_add_input(struct pipeline *p, const char *path, struct ds_error *err);

/*
 * Ends the input: closes every slot, merges with the store, computes TopN
 * and stability, saves, commits.  After this only the accessors below may
 * be used.
 */
enum ds_rc pipeline_finish(struct pipeline *p, struct ds_error *err);

/* Rolls back and frees; pipeline_free(NULL) is a no-op. */
void pipeline_free(struct pipeline *p);

struct ch_writer;
/*
 * store.backend clickhouse: every record counted from now on is also
 * added to w (borrowed; the caller flushes it before pipeline_finish()).
 * A spool failure ends pipeline_add_input() with DS_ERR_DB.
 */
void pipeline_set_records(struct pipeline *p, struct ch_writer *w);

const struct pipeline_counts *pipeline_get_counts(const struct pipeline *p);
size_t pipeline_analyses(const struct pipeline *p, const struct pipeline_analysis **list);

/* ---- live collection (darkstab collect) ---- */

/* An analysis as the collector's metrics show it. */
struct pipeline_live_analysis {
    uint64_t slots_closed;
    uint64_t slots_revised;     /* judged again after late flows */
    uint64_t slots_folded;      /* closed with flows past limits.groups */
    uint64_t folded_packets;    /* their packets in no group, first judgements */
    uint64_t late_flows;
    size_t open_slots;
    int64_t last_start;         /* the latest slot judged */
    int64_t last_end;
    bool last_incomplete;
    size_t n_th;
    struct {
        char th[16];
        uint32_t topn;
        int status;             /* enum stab_status */
        int dir;                /* enum stab_dir */
    } th[CFG_THRESHOLDS_MAX];
};

typedef void (*series_judged_fn)(void *ctx, const struct cfg_analysis *a,
                                 const struct slot_result *r);
typedef void (*series_completeness_fn)(void *ctx, struct slot_result *r);

struct pipeline_live_opts {
    /* fills the completeness of each slot saved (store thread) */
    series_completeness_fn completeness;
    /* told of each slot judged (store thread): closed, or revised by late flows */
    series_judged_fn on_judged;
    void *ctx;
};

/*
 * The live pipeline: as pipeline_new(), but slots are judged and committed
 * as they close, the watermark comes from the caller, and the open slots
 * of the store's last checkpoint are restored (those saved closed since
 * are dropped: their stored counts are newer).
 */
enum ds_rc pipeline_new_live(const struct ds_cfg *cfg, struct store *st,
                             const struct pipeline_live_opts *opts, struct pipeline **out,
                             struct ds_error *err);
/* A flow counted in the darknet (the caller normalised and filtered it). */
void pipeline_add_flow(struct pipeline *p, const struct flow *f);
/* Slots ending at or before watermark_s may close (it never goes back). */
void pipeline_set_watermark(struct pipeline *p, int64_t watermark_s);
/*
 * Closes every open slot (every exporter went idle): what comes for them
 * later is late, added to them and judged again.
 */
void pipeline_close_open(struct pipeline *p);
/*
 * Live, with an archive read back (ds/archive_reread.h): its counts into
 * *out, true; false without one.
 */
struct archive_reread_stats;
bool pipeline_archive_reread_stats(struct pipeline *p, struct archive_reread_stats *out);
/* Hands over the flows gathered so far, and the watermark, even if few. */
void pipeline_flush(struct pipeline *p);
/*
 * A checkpoint: state (its blob taken) is saved with every analysis' open
 * slots as of the flows added so far, in one transaction.  Returns its id.
 * One asked for before the last is written supersedes it: the older id
 * counts as committed once the newer one is.
 */
uint32_t pipeline_checkpoint(struct pipeline *p, struct store_collector *state);
/* Has checkpoint id been committed (waiting up to timeout_ms)? */
bool pipeline_checkpoint_wait(struct pipeline *p, uint32_t id, int timeout_ms);
/*
 * An exporter minute (copied) for the store: queued with the next batch of
 * flows, a checkpoint, a gap or pipeline_flush(), whichever comes first, so
 * that a slot closed by flows after it finds it stored.
 */
void pipeline_add_minute(struct pipeline *p, const struct store_minute *m);
void pipeline_push_gap(struct pipeline *p, const struct store_gap *g);
/* Saves what was handed over and stops the threads; open slots stay in the checkpoint. */
enum ds_rc pipeline_stop_live(struct pipeline *p, struct ds_error *err);
void pipeline_live_status(struct pipeline *p, size_t i, struct pipeline_live_analysis *out);
/* Store errors met by the store thread so far, and whether the last write failed. */
void pipeline_live_store(struct pipeline *p, uint64_t *errors, bool *failing);
/*
 * The store fails and a checkpoint waits to be written again: another one
 * would only queue a second copy of the open slots (see collector_run).
 */
bool pipeline_checkpoint_behind(struct pipeline *p);
/* The first store error met by the store thread (it goes on), or DS_OK. */
enum ds_rc pipeline_live_error(struct pipeline *p, struct ds_error *err);

/* ---- series: one analysis' slots against the store (series.c) ---- */

struct series;

/*
 * st is borrowed: closed slots are saved to it as they come.  changed
 * (STORE_CHANGED_* from store_analysis()) asks series_commit() to judge
 * every stored slot again, and to redo their top groups if the lowest
 * threshold changed.  causes (borrowed, like a) are the rules of the
 * probable cause in the drill-down of every slot judged unstable.
 */
struct series *series_new(const struct cfg_analysis *a, const struct cfg_causes *causes,
                          const struct key_layout *layout, int64_t store_id, struct store *st,
                          unsigned changed);
void series_free(struct series *s);
/*
 * A closed slot of this run (borrowed; trimmed to the groups that can be
 * shown): merges it with the stored slot, saves it and its TopN and top
 * groups, and keeps only what judging needs.  A store error is kept and
 * returned by series_commit().
 */
void series_add_slot(struct series *s, struct agg_slot *slot);
/*
 * As series_add_slot(), but slot is the whole slot (counted on the cluster,
 * src/pipeline/cluster.c): it replaces the stored slot instead of adding to it.
 */
void series_replace_slot(struct series *s, struct agg_slot *slot);
/*
 * The transaction that held what the series saved since its last commit
 * was rolled back (a full disk): forgets it all (slots reopened by late
 * flows, the run, the error) so that the same work can be done again.
 */
void series_reset(struct series *s);
/* The store committed what the series saved: series_reset() goes back to here. */
void series_committed(struct series *s);
/*
 * Live collection: fn fills r->completeness and r->incomplete of every slot
 * the series saves (closed, or revised by late flows); on_judged is told of
 * every slot of the run once series_commit() has judged it.
 */
void series_set_completeness(struct series *s, series_completeness_fn fn, void *ctx);
void series_set_on_judged(struct series *s, series_judged_fn fn, void *ctx);
/* Counts a late flow (or its share) into the closed slot [start, end). */
void series_add_late(struct series *s, int64_t start, int64_t end, const struct flow *f,
                     uint64_t packets);
/* Widens the reported range to the slots of [first_ms, last_ms]. */
void series_cover(struct series *s, int64_t first_ms, int64_t last_ms);
/*
 * Saves the slots that late flows reopened, then judges every slot from the
 * run's first on, the window reaching back into stored slots, and saves
 * the judgements.
 */
enum ds_rc series_commit(struct series *s, struct ds_error *err);
/* The reported range [*from, *to) after series_commit(). */
void series_range(const struct series *s, int64_t *from, int64_t *to);

/*
 * The drill-down of stored slot r (any slot, stable ones too) computed
 * now from the store: the stored slot, with the details it kept, against
 * the group counts of the last a->window earlier slots with data, the
 * window its judgement used; with the lists and minutes x (borrowed, may
 * be NULL) read back from the input in place of the details' (analyze's
 * drilldown.lists reread).  *out is owned (explain_free), NULL if the
 * store has no such slot.
 */
struct slot_explain;
struct explain_exact;
struct explain_file;
enum ds_rc series_explain_stored(const struct cfg_analysis *a, const struct cfg_causes *causes,
                                 const struct key_layout *layout, struct store *st, int64_t aid,
                                 const struct slot_result *r, const struct explain_exact *x,
                                 struct slot_explain **out, struct ds_error *err);

/*
 * drilldown.lists reread: the drill-down of each stored slot v[i] that has
 * one (v[i].explain) computed again with its shown groups' lists and
 * minutes read back exactly from the stored inputs that hold the slot
 * (explain_reread(): this run's files and earlier runs' that are still
 * there with the same digest).  known[0..n_known) (borrowed, digest and
 * chunks only) are the index of files read by this run: a file with the
 * same digest is read in part.  Replaces v[i].explain, and saves it if
 * save.  A slot whose records are not all in readable files (standard
 * input, a file gone or changed) keeps its drill-down, and one line is
 * logged why.  Returns DS_OK, or a store error.
 */
enum ds_rc series_reread(const struct ds_cfg *cfg, const struct cfg_analysis *a,
                         const struct key_layout *layout, struct store *st, int64_t aid,
                         struct slot_result *v, size_t n, const struct explain_file *known,
                         size_t n_known, bool save, struct ds_error *err);

/*
 * What the drill-down of an unstable slot needs of its stored slot, kept
 * from its judgement so that applying the lists read back does not load it
 * again: the stats of its shown groups' details (kept false: load it).
 */
struct series_shown {
    bool kept;
    struct explain_group_stats stats[EXPLAIN_GROUPS_MAX];
};

/*
 * The lists and minutes x (borrowed) read back for unstable slot r into
 * its drill-down (r->explain replaced), saved if save; not applied (said
 * once in the log) when x missed packets of the slot, nor when the stored
 * slot no longer has r's packets (revised since).  shown (may be NULL) is
 * what its judgement kept of the slot; without it the slot is loaded.
 * *applied says which.  Returns DS_OK or a store error.
 */
enum ds_rc series_apply_exact(const struct ds_cfg *cfg, const struct cfg_analysis *a,
                              const struct key_layout *layout, struct store *st, int64_t aid,
                              struct slot_result *r, const struct series_shown *shown,
                              const struct explain_exact *x, bool save, bool *applied,
                              struct ds_error *err);

/* One analysis' slots for series_reread_prepare(). */
struct series_reread_set {
    const struct cfg_analysis *a;
    const struct key_layout *layout;
    int64_t aid;
    const struct series_shown *shown;   /* n of them, beside v; NULL: the slots are loaded */
    struct slot_result *v;
    size_t n;
};

/*
 * series_reread() for several analyses, whose inputs are read once for
 * all (explain_reread_jobs()), in three steps so that the reading, which
 * does not touch the store, can run in threads of its own: prepare (the store's
 * inputs of each slot), run (the files read back; problems are logged and
 * the drill-downs stay as they were; *cancel, if not NULL, set non-zero
 * stops it), apply (the drill-downs replaced, and saved if save).  sets
 * must outlive the handle.
 */
struct series_reread;
enum ds_rc series_reread_prepare(const struct ds_cfg *cfg, struct store *st,
                                 const struct series_reread_set *sets, size_t n_sets,
                                 const struct explain_file *known, size_t n_known,
                                 struct series_reread **out, struct ds_error *err);
void series_reread_run(struct series_reread *rr, unsigned threads, const int *cancel);
enum ds_rc series_reread_apply(struct series_reread *rr, struct store *st, bool save,
                               struct ds_error *err);
void series_reread_free(struct series_reread *rr);

/*
 * Keep (or not) the unstable slots series_commit() judges, with their
 * drill-downs, for series_take_unstable().  Off by default.
 */
void series_keep_unstable(struct series *s, bool keep);
/* limits.groups for the closed slots that late flows reopen (0: none). */
void series_limit_groups(struct series *s, uint32_t max_groups);
/*
 * The unstable slots kept since the last call: *v is owned by the caller
 * (slot_result_fini() each, then free()), and so is *shown (free(); if
 * shown is not NULL, else it is freed), what each slot's judgement kept
 * of it.
 * Returns how many.
 */
size_t series_take_unstable(struct series *s, struct slot_result **v,
                            struct series_shown **shown);

/*
 * Computes TopN and the top groups of one slot (no judgement): shared by
 * the series and the tests.  r receives owned memory (slot_result_fini).
 */
void series_slot_result(const struct cfg_analysis *a, const struct agg_slot *slot,
                        struct slot_result *r);

#endif
