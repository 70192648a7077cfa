/*
 * Private to src/report: the model of the report of a day or range, built
 * once from the store by report_render() (report_day.c) and laid out by
 * each format's doc function, and the charts drawn from it (chart.c).
 */
#ifndef DS_REPORT_INT_H
#define DS_REPORT_INT_H

#include <stdint.h>

#include "ds/explain.h"
#include "ds/key.h"
#include "ds/report.h"
#include "ds/strbuf.h"

#define REPORT_CHART_SLOTS 60   /* slots in the TopN chart (the paper's Figures 3 and 4) */
#define REPORT_PREV_PERIODS 7   /* the range's packets against this many earlier ones */
#define REPORT_CAUSES 5         /* enum explain_cause */

/*
 * Where the html format puts an image: the byte 0x01, the image index, 0x01.
 * report_render() replaces it with a data: URI (html) or a cid: (html_mail).
 */
#define REPORT_IMG_MARK '\001'

/* One slot of the TopN chart. */
/* Incomplete or open slots named in a summary; the rest are counted. */
#define REPORT_INCOMPLETE_LISTED 12

/* "2013-03-06 13:00, 14:00 and 3 more": the incomplete slots of a, into sb. */
struct strbuf;
struct report_model_analysis;
void report_incomplete_list(const struct report_model_analysis *a, struct strbuf *sb);

struct report_point {
    int64_t start;
    int64_t end;
    uint64_t packets;
    size_t n_th;
    struct th_result th[CFG_THRESHOLDS_MAX];
};

/* An unstable slot of the range: a section of its own. */
struct report_event {
    size_t analysis;                /* index into report_model.an */
    struct slot_result r;           /* owned copy: top copied, completeness and explain NULL */
    struct slot_explain *ex;        /* owned deep copy (report_explain_free), or NULL */
    int cause;                      /* enum explain_cause; CAUSE_UNKNOWN without ex */
    size_t image;                   /* its per-minute chart, or SIZE_MAX */
};

struct report_model_analysis {
    const struct cfg_analysis *cfg;
    struct key_layout layout;
    bool stored;                    /* false: nothing in the store for it */
    size_t slots;                   /* slots starting in the range */
    size_t judged;                  /* stable or unstable */
    size_t no_data;
    size_t unstable;                /* slots with any threshold unstable */
    size_t unstable_th[CFG_THRESHOLDS_MAX];
    size_t increase_th[CFG_THRESHOLDS_MAX];
    uint64_t packets;               /* in the range */
    double prev_mean;               /* mean packets of the earlier periods with data */
    size_t prev_periods;            /* how many had data (0: no comparison) */
    struct report_point *pts;       /* owned; the chart's slots, oldest first */
    size_t n_pts;
    size_t image;                   /* the TopN chart, or SIZE_MAX */
    /* slots not judged (the collector found them too lossy) or still open */
    size_t incomplete;
    int64_t incomplete_at[REPORT_INCOMPLETE_LISTED];    /* the first ones' starts */
};

struct report_model {
    const struct ds_cfg *cfg;
    const char *title;
    const char *subject;
    int64_t from;
    int64_t to;
    struct report_model_analysis *an;   /* owned */
    size_t n_an;
    struct report_event *ev;            /* owned */
    size_t n_ev;
    uint64_t unstable;
    uint64_t incomplete;
    size_t causes[REPORT_CAUSES];       /* events per cause */
    const struct report_image *images;  /* borrowed from the doc */
    size_t n_images;
};

/* "ddos", ...: explain_cause_name() without linking the explain stage. */
const char *report_cause_name(int cause);
/* 1234567 -> "1,234,567" */
const char *report_thousands(uint64_t v, char *buf, size_t len);
/* The key of a group as "udp 2849" (key_format_line). */
const char *report_key_label(const struct key_layout *l, const uint8_t *key, char *buf,
                             size_t len);
/* "2013-03-06 Wed" for a slot of a day or longer, "2013-03-06 12:00" otherwise. */
const char *report_slot_label(int64_t start, int64_t slot_s, char *buf, size_t len);

/* "days" if the range is one local day (earlier periods are then days), else "periods". */
const char *report_period_word(const struct report_model *m);

/* A deep copy of e (its arrays and minutes in blocks of their own), and its release. */
struct slot_explain *report_explain_copy(const struct slot_explain *e);
void report_explain_free(struct slot_explain *e);

/*
 * The charts (chart.c), PNG into an owned buffer: 0, or -1 if cairo failed.
 * *w and *h receive the size in pixels, drawn for display at that size.
 */
int chart_topn(const struct report_model *m, const struct report_model_analysis *a,
               uint8_t **png, size_t *len, int *w, int *h);
/* The per-minute packets of the event's changed groups; 1 if it has none to draw. */
int chart_minutes(const struct report_model *m, const struct report_event *ev, uint8_t **png,
                  size_t *len, int *w, int *h);

/* The doc functions of the formats that have one. */
void report_doc_text(const struct report_model *m, struct strbuf *out);
void report_doc_json(const struct report_model *m, struct strbuf *out);

/* Something the drill-down of a slot lacks, and why (report_explain.c). */
struct report_unavailable {
    const uint8_t *key;         /* the group, inside r->explain; NULL: the slot */
    const char *what;           /* "lists", "minutes", "changes", "drilldown" */
    const char *reason;
};

#define REPORT_UNAVAILABLE_MAX (EXPLAIN_GROUPS_MAX + 2)

/* What r's drill-down lacks, at most max entries into out; returns how many. */
size_t report_unavailable(const struct slot_result *r, struct report_unavailable *out,
                          size_t max);

/*
 * The probable cause of e and its evidence, wrapped to 80 columns after
 * indent (report_explain.c): the line analyze's text adds to an unstable slot.
 */
void report_explain_cause_text(FILE *fp, const struct slot_explain *e,
                               const struct key_layout *layout, const char *indent);

#endif
