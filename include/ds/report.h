/*
 * Reports: the stored results of a range of slots, as text for a person,
 * JSON for programs (the contract in README "JSON output") or CSV.
 *
 * Reports read from the store, never from the run's memory, so "analyze"
 * and a later "results" print the same document for the same slots.  Every
 * slot from the first to the last slot with data appears; slots the store
 * has nothing for are written as no-data.
 */
#ifndef DS_REPORT_H
#define DS_REPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ds/cfg.h"
#include "ds/ingest.h"
#include "ds/key.h"
#include "ds/norm.h"
#include "ds/rc.h"
#include "ds/store.h"

enum report_format {
    REPORT_TEXT,
    REPORT_JSON,
    REPORT_CSV,
};

/* "text", "json" or "csv"; returns 0 or -1. */
int report_format_parse(const char *s, enum report_format *f);

/* What was read, for the "input" object; NULL in a report of stored results. */
struct report_input {
    uint64_t files;
    uint64_t already_counted;
    uint64_t unreadable;
    uint64_t records;
    uint64_t counted;
    uint64_t outside_darknet;
    uint64_t excluded;
    uint64_t unusable;
    struct ingest_stats ingest;
    struct norm_stats norm;
};

struct report_analysis {
    const struct cfg_analysis *cfg;
    const struct key_layout *layout;
    int64_t store_id;
    int64_t from;           /* slots starting in [from, to) */
    int64_t to;
    uint64_t late;          /* flows counted late in this run */
};

/*
 * Writes the report to fp.  cfg, in, analyses and st are borrowed.
 * Returns DS_OK or the store's error.
 */
enum ds_rc report_write(enum report_format fmt, FILE *fp, const struct ds_cfg *cfg,
                        const struct report_input *in, const struct report_analysis *an,
                        size_t n_an, struct store *st, struct ds_error *err);

/* ---- shared by the writers (report.c) ---- */

/*
 * Calls fn for every slot of [an->from, an->to) in order: the stored
 * result, or a no-data result for a slot the store does not have.
 */
enum ds_rc report_each_slot(const struct report_analysis *an, struct store *st,
                            store_result_fn fn, void *ctx, struct ds_error *err);

#endif
