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

/* ---- the report of a day or range, for "report" and the mail (issue 7) ---- */

/* A chart, PNG, referenced from the mail's HTML as cid:<cid>. */
struct report_image {
    char cid[64];
    char *title;                /* owned; alt text */
    uint8_t *png;               /* owned */
    size_t len;
};

/* A rendered report: what "report" writes and the mail carries. */
struct report_doc {
    char *subject;              /* owned; "darkstab 2016-01-01: 3 unstable slots (ddos, scan)" */
    char *text;                 /* owned; 80 columns */
    char *html;                 /* owned; self-contained: images as data: URIs */
    char *html_mail;            /* owned; the same, images as cid: references */
    char *json;                 /* owned */
    struct report_image *images;    /* owned */
    size_t n_images;
    uint64_t unstable;          /* unstable slots in the range */
    uint64_t incomplete;        /* slots still incomplete or open */
};

/*
 * Renders the report of slots starting in [from, to) (Unix seconds) for
 * every analysis of cfg from the store; title names the range ("2016-01-01").
 */
enum ds_rc report_render(const struct ds_cfg *cfg, struct store *st, int64_t from, int64_t to,
                         const char *title, struct report_doc *out, struct ds_error *err);
void report_doc_fini(struct report_doc *d);

/* ---- the drill-down of one slot: "show", and each event of a report ---- */

struct slot_explain;

/*
 * Writes e as text for an 80-column terminal or a text mail, each line
 * after indent (NULL: none): the changes against the window, the probable
 * cause and its evidence, then every group shown with its top sources,
 * source ports and destinations, and for the groups that changed most a
 * sparkline of their packets per minute and the busiest hour.  What the
 * store did not keep for the slot is said where it would have been.
 */
void report_explain_text(FILE *fp, const struct slot_explain *e, const struct key_layout *layout,
                         const char *indent);
/*
 * "show": slot r of an->cfg with its drill-down r->explain (may be NULL),
 * as text (the slot, its thresholds and band, then report_explain_text)
 * or as a JSON document (docs/JSON.md, "show").  drilldown says where the
 * drill-down came from: "stored", "computed", or NULL if there is none.
 */
void report_show_text(FILE *fp, const struct ds_cfg *cfg, const struct report_analysis *an,
                      const struct slot_result *r, const char *drilldown);
void report_show_json(FILE *fp, const struct ds_cfg *cfg, const struct report_analysis *an,
                      const struct slot_result *r, const char *drilldown);

/* ---- shared by the writers (report.c) ---- */

/*
 * Calls fn for every slot of [an->from, an->to) in order: the stored
 * result, or a no-data result for a slot the store does not have.
 */
enum ds_rc report_each_slot(const struct report_analysis *an, struct store *st,
                            store_result_fn fn, void *ctx, struct ds_error *err);

#endif
