/*
 * Private to src/report: one writer per format.
 */
#ifndef DS_REPORT_INT_H
#define DS_REPORT_INT_H

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

#endif
