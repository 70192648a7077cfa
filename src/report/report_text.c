/*
 * The text report, for a person at a terminal: one line per slot (date,
 * packets, TopN for each threshold, the band, a marker on unstable slots),
 * then, for every unstable slot, its TopN groups laid out like the paper's
 * Table I (sources, destination ports, packets, key, type).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ds/proto.h"
#include "ds/report.h"
#include "ds/tz.h"
#include "report_int.h"

struct text_ctx {
    FILE *fp;
    const struct report_analysis *an;
    size_t unstable;
    size_t slots;
    size_t no_data;
};

static const char *
slot_label(int64_t start, int64_t slot_s, char *buf, size_t len)
{
    time_t t = (time_t)start;
    struct tm tm;

    localtime_r(&t, &tm);
    if (slot_s >= 86400)
        strftime(buf, len, "%Y-%m-%d %a", &tm);
    else
        strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

static const char *
clock_label(int64_t ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, len, "%m-%d %H:%M:%S", &tm);
    return buf;
}

static void
header(FILE *fp, const struct report_analysis *an)
{
    const struct cfg_analysis *a = an->cfg;

    fprintf(fp, "%-16s %12s %10s %8s", "slot", "packets", "flows", "groups");
    for (size_t t = 0; t < a->n_thresholds; t++) {
        char label[32];

        snprintf(label, sizeof(label), "%s>%s%%", t == 0 ? "TopN" : "", a->thresholds[t].text);
        fprintf(fp, " %9s", label);
    }
    fprintf(fp, "  %-22s %s\n", "band", "status");
}

/* limits.groups: what the slot could not give a group, and what TopN may lack */
static void
folded_line(FILE *fp, const struct slot_result *r)
{
    char p[32], f[32];

    fprintf(fp, "  (limits.groups reached: %s packets of %s flows in no group;",
            report_thousands(r->folded_packets, p, sizeof(p)),
            report_thousands(r->folded_flows, f, sizeof(f)));
    for (size_t t = 0; t < r->n_th; t++)
        fprintf(fp, "%s TopN>%s%% up to %llu", t == 0 ? "" : ",", r->th[t].th.text,
                (unsigned long long)(r->th[t].topn + slot_result_folded_topn(r, &r->th[t].th)));
    fprintf(fp, ")\n");
}

static enum ds_rc
slot_line(void *ctx, const struct slot_result *r)
{
    struct text_ctx *c = ctx;
    const struct cfg_analysis *a = c->an->cfg;
    FILE *fp = c->fp;
    char label[32], p[32], f[32], g[32], band[64] = "";
    bool unstable = slot_result_unstable(r);
    const struct th_result *first = &r->th[0];

    c->slots++;
    slot_label(r->start, a->slot_s, label, sizeof(label));
    if (r->packets == 0) {
        c->no_data++;
        fprintf(fp, "%-16s %12s %10s %8s", label, "-", "-", "-");
        for (size_t t = 0; t < r->n_th; t++)
            fprintf(fp, " %9s", "-");
        fprintf(fp, "  %-22s %s\n", "", "no data");
        return DS_OK;
    }
    fprintf(fp, "%-16s %12s %10s %8s", label, report_thousands(r->packets, p, sizeof(p)),
            report_thousands(r->flows, f, sizeof(f)), report_thousands(r->groups, g, sizeof(g)));
    for (size_t t = 0; t < r->n_th; t++) {
        char cell[16];
        const struct th_result *tr = &r->th[t];
        const char *mark = "";

        if (tr->r.status == STAB_UNSTABLE)
            mark = tr->r.dir == STAB_DIR_INCREASE ? "^" : "v";
        snprintf(cell, sizeof(cell), "%u%s", tr->topn, mark);
        fprintf(fp, " %9s", cell);
    }
    if (first->r.status == STAB_STABLE || first->r.status == STAB_UNSTABLE)
        snprintf(band, sizeof(band), "[%.1f, %.1f]", first->r.lower, first->r.upper);
    if (unstable) {
        char which[256] = "";
        size_t used = 0;

        c->unstable++;
        /* "decrease (>1% >0.5%)", then "increase (>0.75%)" if directions differ */
        for (int d = 0; d < 2; d++) {
            enum stab_dir dir = d == 0 ? STAB_DIR_DECREASE : STAB_DIR_INCREASE;
            int any = 0;

            for (size_t t = 0; t < r->n_th && used < sizeof(which); t++) {
                if (r->th[t].r.status != STAB_UNSTABLE || r->th[t].r.dir != dir)
                    continue;
                used += (size_t)snprintf(which + used, sizeof(which) - used, "%s%s>%s%%",
                                         any ? " " : used ? "), " : "",
                                         any ? "" : d == 0 ? "decrease (" : "increase (",
                                         r->th[t].th.text);
                any = 1;
            }
        }
        if (used < sizeof(which) - 1)
            snprintf(which + used, sizeof(which) - used, ")");
        fprintf(fp, "  %-22s ** UNSTABLE %s\n", band, which);
    } else {
        fprintf(fp, "  %-22s %s\n", band, stab_status_name(first->r.status));
    }
    if (r->folded_packets > 0)
        folded_line(fp, r);
    return DS_OK;
}

static enum ds_rc
slot_table(void *ctx, const struct slot_result *r)
{
    struct text_ctx *c = ctx;
    const struct report_analysis *an = c->an;
    const struct key_layout *l = an->layout;
    FILE *fp = c->fp;
    char label[32], num[32];

    if (!slot_result_unstable(r))
        return DS_OK;
    slot_label(r->start, an->cfg->slot_s, label, sizeof(label));
    fprintf(fp, "\n%s  packets %s", label, report_thousands(r->packets, num, sizeof(num)));
    for (size_t t = 0; t < r->n_th; t++) {
        const struct th_result *tr = &r->th[t];

        fprintf(fp, "  TopN>%s%% %u", tr->th.text, tr->topn);
        if (tr->r.status == STAB_STABLE || tr->r.status == STAB_UNSTABLE)
            fprintf(fp, " (mu %.1f, sigma %.1f%s%s)", tr->r.mean, tr->r.stddev,
                    tr->r.status == STAB_UNSTABLE ? ", " : "",
                    tr->r.status == STAB_UNSTABLE ? stab_dir_name(tr->r.dir) : "");
    }
    fputc('\n', fp);
    if (r->late_flows > 0)
        fprintf(fp, "  (%llu flows arrived after the slot was closed and were added)\n",
                (unsigned long long)r->late_flows);
    if (r->explain != NULL) {
        char when[TZ_RFC3339_LEN];

        report_explain_cause_text(fp, r->explain, l, "  ");
        /* a local time that show's --slot reads: the day, or the day and hour */
        tz_format_rfc3339(r->start, when);
        when[an->cfg->slot_s % 86400 == 0 ? 10 : 16] = '\0';
        if (when[10] == 'T')
            when[10] = ' ';
        fprintf(fp, "  (its drill-down: darkstab show --slot '%s' --analysis %s)\n", when,
                an->cfg->name);
    }
    fprintf(fp, "  %9s %9s %9s %12s %8s", "sources", "dst ports", "dst addrs", "packets", "share");
    for (size_t k = 0; k < l->n; k++) {
        char name[KEYSPEC_STRLEN];

        fprintf(fp, "  %-15s", keyspec_format(&l->keys[k], name));
    }
    fprintf(fp, "  %-18s %-14s %s\n", "type", "first seen", "last seen");
    for (size_t i = 0; i < r->n_top; i++) {
        const struct top_group *g = &r->top[i];
        char src[24], dst[24], ports[24], share[16], type[PTYPE_STRLEN], t1[32], t2[32];

        if (g->has_detail) {
            snprintf(src, sizeof(src), "%s%llu", g->src_estimated ? "~" : "",
                     (unsigned long long)g->src_addrs);
            snprintf(dst, sizeof(dst), "%s%llu", g->dst_estimated ? "~" : "",
                     (unsigned long long)g->dst_addrs);
            snprintf(ports, sizeof(ports), "%llu", (unsigned long long)g->dst_ports);
            ptype_format(g->type, type);
            clock_label(g->first_ms, t1, sizeof(t1));
            clock_label(g->last_ms, t2, sizeof(t2));
        } else {
            snprintf(src, sizeof(src), "?");
            snprintf(dst, sizeof(dst), "?");
            snprintf(ports, sizeof(ports), "?");
            snprintf(type, sizeof(type), "?");
            snprintf(t1, sizeof(t1), "?");
            snprintf(t2, sizeof(t2), "?");
        }
        snprintf(share, sizeof(share), "%.2f%%", g->share);
        fprintf(fp, "  %9s %9s %9s %12s %8s", src, ports, dst,
                report_thousands(g->packets, num, sizeof(num)), share);
        for (size_t k = 0; k < l->n; k++) {
            char v[KEY_VALUE_STRLEN];
            bool isnum;

            fprintf(fp, "  %-15s", key_value_format(l, g->key, k, v, &isnum));
        }
        fprintf(fp, "  %-18s %-14s %s%s\n", type, t1, t2,
                g->partial || !g->has_detail ? "  (partial)" : "");
    }
    return DS_OK;
}

static void
input_summary(FILE *fp, const struct report_input *in)
{
    char a[32], b[32], c[32], d[32], e[32], f[32];

    fprintf(fp, "input: %llu file%s, %s records: %s counted, %s outside the darknet, %s excluded, "
                "%s malformed, %s unusable",
            (unsigned long long)in->files, in->files == 1 ? "" : "s",
            report_thousands(in->records, a, sizeof(a)),
            report_thousands(in->counted, b, sizeof(b)),
            report_thousands(in->outside_darknet, c, sizeof(c)),
            report_thousands(in->excluded, d, sizeof(d)),
            report_thousands(ingest_stats_malformed(&in->ingest), e, sizeof(e)),
            report_thousands(in->unusable, f, sizeof(f)));
    if (in->already_counted > 0)
        fprintf(fp, "; %llu already counted before", (unsigned long long)in->already_counted);
    if (in->unreadable > 0)
        fprintf(fp, "; %llu unreadable", (unsigned long long)in->unreadable);
    fputc('\n', fp);
}

static enum ds_rc
write_text(FILE *fp, const struct ds_cfg *cfg, const struct report_input *in,
           const struct report_analysis *an, size_t n_an, struct store *st,
           struct ds_error *err)
{
    enum ds_rc rc = DS_OK;

    if (in != NULL)
        input_summary(fp, in);
    for (size_t i = 0; i < n_an && rc == DS_OK; i++) {
        const struct cfg_analysis *a = an[i].cfg;
        struct text_ctx c = {fp, &an[i], 0, 0, 0};
        char keys[128] = "", slot[16];
        size_t used = 0;

        for (size_t k = 0; k < a->n_keys; k++) {
            char name[KEYSPEC_STRLEN];

            used += (size_t)snprintf(keys + used, sizeof(keys) - used, "%s%s", k ? ", " : "",
                                     keyspec_format(&a->keys[k], name));
        }
        fprintf(fp, "\nanalysis %s: keys %s; slot %s (%s); window %lld; k %s; stddev %s\n",
                a->name, keys, format_duration(a->slot_s, slot, sizeof(slot)), cfg->timezone,
                (long long)a->window, a->k_sigma.text,
                a->stddev == CFG_STDDEV_SAMPLE ? "sample" : "population");
        if (an[i].from >= an[i].to) {
            fprintf(fp, "no slot with data\n");
            continue;
        }
        header(fp, &an[i]);
        rc = report_each_slot(&an[i], st, slot_line, &c, err);
        if (rc != DS_OK)
            break;
        fprintf(fp, "%zu slot%s, %zu unstable, %zu without data\n", c.slots,
                c.slots == 1 ? "" : "s", c.unstable, c.no_data);
        if (c.unstable > 0) {
            fprintf(fp, "\nunstable slots of %s: TopN groups above %s%%\n", a->name,
                    cfg_lowest_threshold(a)->text);
            rc = report_each_slot(&an[i], st, slot_table, &c, err);
        }
    }
    return rc;
}

const struct report_format report_format_text = {"text", write_text, report_doc_text};
