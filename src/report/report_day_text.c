/*
 * The text of the report of a day or range (the text format's doc
 * function): a summary per analysis, then a section per unstable slot with
 * its drill-down.  Every line fits an 80-column terminal and a text-only
 * mail: long lists are wrapped with a hanging indent.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/proto.h"
#include "ds/tz.h"
#include "report_int.h"

#define WIDTH 80

/*
 * Appends prefix then text, broken at spaces so that no line is longer
 * than WIDTH; continuation lines are indented by indent spaces.  A word
 * longer than a line is cut.
 */
static void
wrapped(struct strbuf *sb, const char *prefix, size_t indent, const char *text)
{
    size_t col = strlen(prefix);
    bool space = false;     /* the prefix separates its own first word */
    const char *p = text;

    strbuf_append(sb, prefix);
    while (*p != '\0') {
        const char *sp = strchr(p, ' ');
        size_t wl = sp != NULL ? (size_t)(sp - p) : strlen(p);

        if (wl == 0) {
            p++;
            continue;
        }
        if (col > indent && col + (space ? 1 : 0) + wl > WIDTH) {
            strbuf_appendc(sb, '\n');
            for (size_t i = 0; i < indent; i++)
                strbuf_appendc(sb, ' ');
            col = indent;
            space = false;
        }
        if (space) {
            strbuf_appendc(sb, ' ');
            col++;
        }
        if (col + wl > WIDTH)
            wl = WIDTH - col;
        strbuf_appendn(sb, p, wl);
        col += wl;
        p += wl;
        space = true;
    }
    strbuf_appendc(sb, '\n');
}

static void
rule(struct strbuf *sb, char c)
{
    for (int i = 0; i < WIDTH; i++)
        strbuf_appendc(sb, c);
    strbuf_appendc(sb, '\n');
}

static void
summary(const struct report_model *m, const struct report_model_analysis *a, struct strbuf *sb)
{
    const struct cfg_analysis *ca = a->cfg;
    struct strbuf line = STRBUF_INIT;
    char keys[128] = "", slot[16], num[32], mean[32];
    size_t used = 0;

    for (size_t k = 0; k < ca->n_keys; k++) {
        char name[KEYSPEC_STRLEN];

        used += (size_t)snprintf(keys + used, sizeof(keys) - used, "%s%s", k ? ", " : "",
                                 keyspec_format(&ca->keys[k], name));
    }
    strbuf_printf(&line, "%s (keys %s; slot %s; window %lld; k %s)", ca->name, keys,
                  format_duration(ca->slot_s, slot, sizeof(slot)), (long long)ca->window,
                  ca->k_sigma.text);
    wrapped(sb, "", 2, strbuf_str(&line));
    strbuf_reset(&line);
    if (!a->stored) {
        strbuf_append(sb, "  nothing stored for this analysis\n");
        strbuf_fini(&line);
        return;
    }
    strbuf_printf(&line, "%zu in the range, %zu judged, %zu without data", a->slots, a->judged,
                  a->no_data);
    wrapped(sb, "  slots        ", 15, strbuf_str(&line));
    strbuf_reset(&line);
    if (a->incomplete > 0) {
        report_incomplete_list(a, &line);
        wrapped(sb, "  incomplete   ", 15, strbuf_str(&line));
        strbuf_reset(&line);
    }
    strbuf_printf(&line, "%zu slot%s;", a->unstable, a->unstable == 1 ? "" : "s");
    for (size_t t = 0; t < ca->n_thresholds; t++) {
        strbuf_printf(&line, " TopN>%s%%: %zu", ca->thresholds[t].text, a->unstable_th[t]);
        if (a->unstable_th[t] > 0)
            strbuf_printf(&line, " (%zu up, %zu down)", a->increase_th[t],
                          a->unstable_th[t] - a->increase_th[t]);
        strbuf_append(&line, t + 1 < ca->n_thresholds ? "," : "");
    }
    wrapped(sb, "  unstable     ", 15, strbuf_str(&line));
    strbuf_reset(&line);
    strbuf_printf(&line, "%s", report_thousands(a->packets, num, sizeof(num)));
    if (a->prev_periods > 0 && a->prev_mean > 0)
        strbuf_printf(&line, ", %+.1f%% against the mean of the previous %zu %s with data (%s)",
                      ((double)a->packets / a->prev_mean - 1) * 100, a->prev_periods,
                      report_period_word(m),
                      report_thousands((uint64_t)llround(a->prev_mean), mean, sizeof(mean)));
    else
        strbuf_append(&line, " (no earlier period with data to compare)");
    wrapped(sb, "  packets      ", 15, strbuf_str(&line));
    strbuf_reset(&line);
    {
        size_t causes[REPORT_CAUSES] = {0}, k = 0;

        for (size_t i = 0; i < m->n_ev; i++)
            if (&m->an[m->ev[i].analysis] == a)
                causes[m->ev[i].cause]++;
        /* the causes found, unknown last */
        for (int c = 1; c <= REPORT_CAUSES; c++) {
            int cause = c % REPORT_CAUSES;

            if (causes[cause] > 0)
                strbuf_printf(&line, "%s%s %zu", k++ ? ", " : "", report_cause_name(cause),
                              causes[cause]);
        }
        if (k == 0)
            strbuf_append(&line, "none");
        wrapped(sb, "  causes       ", 15, strbuf_str(&line));
    }
    strbuf_fini(&line);
}

/* The drill-down of one slot, as "show" writes it (report_explain.c). */
static void
explain_text(struct strbuf *sb, const struct key_layout *l, const struct slot_explain *e)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    if (fp == NULL) {
        strbuf_append(sb, "    (out of memory for the drill-down)\n");
        return;
    }
    report_explain_text(fp, e, l, NULL);
    fclose(fp);
    strbuf_appendn(sb, buf, len);
    free(buf);
}

/* The TopN groups of a slot stored without a drill-down. */
static void
top_text(struct strbuf *sb, const struct key_layout *l, const struct slot_result *r)
{
    char key[128], num[32];

    strbuf_append(sb, "    no drill-down stored for this slot; its TopN groups:\n");
    strbuf_printf(sb, "    %-26s %12s %7s %8s %9s %9s\n", "group", "packets", "share", "sources",
                  "dst ports", "dst addrs");
    for (size_t i = 0; i < r->n_top; i++) {
        const struct top_group *g = &r->top[i];
        char src[24] = "?", ports[24] = "?", dst[24] = "?", share[16];

        if (g->has_detail) {
            snprintf(src, sizeof(src), "%s%llu", g->src_estimated ? "~" : "",
                     (unsigned long long)g->src_addrs);
            snprintf(ports, sizeof(ports), "%llu", (unsigned long long)g->dst_ports);
            snprintf(dst, sizeof(dst), "%s%llu", g->dst_estimated ? "~" : "",
                     (unsigned long long)g->dst_addrs);
        }
        snprintf(share, sizeof(share), "%.2f%%", g->share);
        strbuf_printf(sb, "    %-26.26s %12s %7s %8s %9s %9s\n",
                      report_key_label(l, g->key, key, sizeof(key)),
                      report_thousands(g->packets, num, sizeof(num)), share, src, ports, dst);
    }
}

static void
event_text(const struct report_model *m, size_t n, const struct report_event *ev,
           struct strbuf *sb)
{
    const struct report_model_analysis *a = &m->an[ev->analysis];
    const struct slot_result *r = &ev->r;
    struct strbuf line = STRBUF_INIT;
    char label[32], num[32];

    report_slot_label(r->start, a->cfg->slot_s, label, sizeof(label));
    strbuf_appendc(sb, '\n');
    rule(sb, '-');
    strbuf_printf(sb, "[%zu] %s %s: %s\n", n, a->cfg->name, label, report_cause_name(ev->cause));
    strbuf_printf(&line, "%s packets;", report_thousands(r->packets, num, sizeof(num)));
    for (size_t t = 0; t < r->n_th; t++) {
        const struct th_result *tr = &r->th[t];

        strbuf_printf(&line, " TopN>%s%% %u", tr->th.text, tr->topn);
        if (tr->r.status == STAB_STABLE || tr->r.status == STAB_UNSTABLE)
            strbuf_printf(&line, " (band %.1f..%.1f%s%s)", tr->r.lower, tr->r.upper,
                          tr->r.status == STAB_UNSTABLE ? ", " : "",
                          tr->r.status == STAB_UNSTABLE ? stab_dir_name(tr->r.dir) : "");
        strbuf_append(&line, t + 1 < r->n_th ? "," : "");
    }
    wrapped(sb, "    ", 4, strbuf_str(&line));
    strbuf_fini(&line);
    if (ev->ex != NULL) {
        strbuf_appendc(sb, '\n');
        explain_text(sb, &a->layout, ev->ex);
    } else {
        top_text(sb, &a->layout, r);
    }
}

void
report_doc_text(const struct report_model *m, struct strbuf *sb)
{
    char from[32], to[32];
    struct strbuf line = STRBUF_INIT;

    wrapped(sb, "", 0, m->subject);
    rule(sb, '=');
    report_slot_label(m->from, 60, from, sizeof(from));
    report_slot_label(m->to, 60, to, sizeof(to));
    strbuf_printf(&line, "Slots starting from %s to %s, %s.", from, to, m->cfg->timezone);
    if (m->incomplete > 0)
        strbuf_printf(&line, " %llu slot%s still incomplete or open: this report may change.",
                      (unsigned long long)m->incomplete, m->incomplete == 1 ? " is" : "s are");
    wrapped(sb, "", 0, strbuf_str(&line));
    strbuf_fini(&line);
    strbuf_append(sb, "\nSUMMARY\n");
    for (size_t i = 0; i < m->n_an; i++) {
        strbuf_appendc(sb, '\n');
        summary(m, &m->an[i], sb);
    }
    strbuf_append(sb, "\nEVENTS\n");
    if (m->n_ev == 0)
        strbuf_append(sb, "\nNo unstable slot in the range.\n");
    for (size_t i = 0; i < m->n_ev; i++)
        event_text(m, i + 1, &m->ev[i], sb);
}
