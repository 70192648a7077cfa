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

/*
 * A report format: one entry of the table in report.c, found by name.  A
 * format implements what it can: the document of stored results that
 * "analyze" and "results" print (write), the report of a day or range that
 * "report" and the mail carry (doc), or both.  The dispatchers only look
 * formats up and call them, so a new format is one file and one table row.
 */
struct report_analysis;
struct report_input;
struct report_model;
struct strbuf;

typedef enum ds_rc (*report_write_fn)(FILE *fp, const struct ds_cfg *cfg,
                                      const struct report_input *in,
                                      const struct report_analysis *an, size_t n_an,
                                      struct store *st, struct ds_error *err);
/* Appends the rendering of m (report_int.h) to out. */
typedef void (*report_doc_fn)(const struct report_model *m, struct strbuf *out);

struct report_format {
    const char *name;           /* "text", "json", "csv", "html" */
    report_write_fn write;      /* NULL: not a format of analyze/results */
    report_doc_fn doc;          /* NULL: not a format of report */
};

#define REPORT_FOR_WRITE 0x1    /* report_format_find: needs write */
#define REPORT_FOR_DOC 0x2      /* needs doc */

/* The format of that name that has what need asks for, or NULL. */
const struct report_format *report_format_find(const char *name, unsigned need);
/* "text, json or csv": the names of the formats that have need, for messages. */
const char *report_format_names(unsigned need, char *buf, size_t len);

extern const struct report_format report_format_text;
extern const struct report_format report_format_json;
extern const struct report_format report_format_csv;
extern const struct report_format report_format_html;

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
enum ds_rc report_write(const struct report_format *fmt, FILE *fp, const struct ds_cfg *cfg,
                        const struct report_input *in, const struct report_analysis *an,
                        size_t n_an, struct store *st, struct ds_error *err);

/* ---- the report of a day or range, for "report" and the mail (issue 7) ---- */

/* A chart, PNG, referenced from the mail's HTML as cid:<cid>. */
struct report_image {
    char cid[64];
    char *title;                /* owned; alt text */
    uint8_t *png;               /* owned */
    size_t len;
    int width;                  /* pixels, as drawn and shown */
    int height;
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
/* The document of a format that has a doc function (html: images as data: URIs). */
const char *report_doc_get(const struct report_doc *d, const struct report_format *f);

/* ---- shared by the writers (report.c) ---- */

/*
 * Calls fn for every slot of [an->from, an->to) in order: the stored
 * result, or a no-data result for a slot the store does not have.
 */
enum ds_rc report_each_slot(const struct report_analysis *an, struct store *st,
                            store_result_fn fn, void *ctx, struct ds_error *err);

#endif
