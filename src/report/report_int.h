/*
 * Private to src/report: one writer per format.
 */
#ifndef DS_REPORT_INT_H
#define DS_REPORT_INT_H

#include "ds/explain.h"
#include "ds/report.h"

enum ds_rc report_json(FILE *fp, const struct ds_cfg *cfg, const struct report_input *in,
                       const struct report_analysis *an, size_t n_an, struct store *st,
                       struct ds_error *err);
enum ds_rc report_text(FILE *fp, const struct ds_cfg *cfg, const struct report_input *in,
                       const struct report_analysis *an, size_t n_an, struct store *st,
                       struct ds_error *err);
enum ds_rc report_csv(FILE *fp, const struct ds_cfg *cfg, const struct report_input *in,
                      const struct report_analysis *an, size_t n_an, struct store *st,
                      struct ds_error *err);

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

#endif
