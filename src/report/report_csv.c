/*
 * The CSV report: one row per slot and threshold, with a header.
 */
#include <math.h>
#include <stdio.h>

#include "ds/report.h"
#include "ds/tz.h"
#include "report_int.h"

struct csv_ctx {
    FILE *fp;
    const struct report_analysis *an;
};

static void
csv_double(FILE *fp, double v)
{
    if (isfinite(v))
        fprintf(fp, ",%.6f", v);
    else
        fputc(',', fp);
}

static enum ds_rc
csv_slot(void *ctx, const struct slot_result *r)
{
    struct csv_ctx *c = ctx;
    char s[TZ_RFC3339_LEN], e[TZ_RFC3339_LEN];

    tz_format_rfc3339(r->start, s);
    tz_format_rfc3339(r->end, e);
    for (size_t t = 0; t < r->n_th; t++) {
        const struct th_result *tr = &r->th[t];
        int judged = tr->r.status == STAB_STABLE || tr->r.status == STAB_UNSTABLE;

        /* Analysis names are [A-Za-z0-9_.-]: no quoting needed. */
        fprintf(c->fp, "%s,%s,%s,%llu,%llu,%llu,%s,%u,%s,%s", c->an->cfg->name, s, e,
                (unsigned long long)r->packets, (unsigned long long)r->flows,
                (unsigned long long)r->groups, tr->th.text, tr->topn,
                stab_status_name(tr->r.status),
                tr->r.status == STAB_UNSTABLE ? stab_dir_name(tr->r.dir) : "");
        csv_double(c->fp, judged ? tr->r.mean : NAN);
        csv_double(c->fp, judged ? tr->r.stddev : NAN);
        csv_double(c->fp, judged ? tr->r.lower : NAN);
        csv_double(c->fp, judged ? tr->r.upper : NAN);
        fputc('\n', c->fp);
    }
    return DS_OK;
}

static enum ds_rc
write_csv(FILE *fp, const struct ds_cfg *cfg, const struct report_input *in,
          const struct report_analysis *an, size_t n_an, struct store *st,
          struct ds_error *err)
{
    enum ds_rc rc = DS_OK;

    (void)cfg;
    (void)in;
    fprintf(fp, "analysis,slot_start,slot_end,packets,flows,groups,threshold,topn,status,"
                "direction,mean,stddev,lower,upper\n");
    for (size_t i = 0; i < n_an && rc == DS_OK; i++) {
        struct csv_ctx c = {fp, &an[i]};

        rc = report_each_slot(&an[i], st, csv_slot, &c, err);
    }
    return rc;
}

const struct report_format report_format_csv = {"csv", write_csv, NULL};
