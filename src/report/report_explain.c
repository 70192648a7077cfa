/*
 * The drill-down of a slot as text (ds/explain.h, ds/report.h): what
 * "show" prints and the text report reuses for each event.  Written for an
 * 80-column terminal and a text-only mail: no line is longer than 79
 * characters, whatever the keys and addresses (an IPv6 source list falls
 * back to one address a line).
 *
 *   1. the changes of the TopN set of the lowest threshold against the
 *      window: entered, left, moved most;
 *   2. the probable cause and its evidence;
 *   3. each group shown: its share against the window's, top sources,
 *      source ports and destinations, and for the groups that changed most
 *      their packets per minute as a sparkline with a time axis and the
 *      busiest hour;
 *   4. what is not kept for the slot is said where it would have been.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "ds/explain.h"
#include "ds/report.h"
#include "ds/tz.h"
#include "report_int.h"

#define WIDTH 79                /* columns of a line, at most */
#define SPARK_COLUMNS 72        /* of the sparkline: 20 minutes each for a day */
#define TEXT_CHANGES 8          /* groups listed as entered, left or moved, each */

static const char *const lists_reason =
    "not kept for this slot: a group keeps its sources, source ports and destinations only "
    "while its share is above the lowest threshold";
static const char *const minutes_reason =
    "not kept for this group: the analysis' memory for packets per minute "
    "(drilldown.series_memory) was full";
static const char *const window_reason =
    "no earlier slot with data to compare with: nothing entered, left or moved";

static const char *
local_time(int64_t t, const char *fmt, char *buf, size_t len)
{
    time_t tt = (time_t)t;
    struct tm tm;

    localtime_r(&tt, &tm);
    strftime(buf, len, fmt, &tm);
    return buf;
}

/* Writes text after indent, wrapped at WIDTH on spaces; further lines indented by hang. */
static void
wrap(FILE *fp, const char *indent, const char *hang, const char *text)
{
    size_t col = strlen(indent), room = WIDTH;
    const char *p = text;

    fputs(indent, fp);
    while (*p != '\0') {
        const char *sp = strchr(p, ' ');
        size_t word = sp != NULL ? (size_t)(sp - p) : strlen(p);

        if (col > strlen(indent) && col + 1 + word > room) {
            fprintf(fp, "\n%s", hang);
            col = strlen(hang);
        } else if (p != text) {
            fputc(' ', fp);
            col++;
        }
        fwrite(p, 1, word, fp);
        col += word;
        p += word;
        while (*p == ' ')
            p++;
    }
    fputc('\n', fp);
}

static bool
in_changes(const struct explain_change *v, size_t n, const uint8_t *key, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(v[i].key, key, size) == 0)
            return true;
    return false;
}

/* 1. entered, left, moved */
static void
write_changes(FILE *fp, const struct slot_explain *e, const struct key_layout *layout,
              const char *ind)
{
    static const char *const names[] = {"entered", "left", "moved"};
    const struct explain_change *lists[] = {e->entered, e->left, e->moved};
    size_t ns[] = {e->n_entered, e->n_left, e->n_moved};
    uint64_t more[] = {e->more_entered, e->more_left, 0};

    if (e->window_slots == 0) {
        fprintf(fp, "%schanges: none to show, %s\n", ind, window_reason);
        return;
    }
    fprintf(fp, "%schanges of the TopN set against the window (%u slot%s):\n", ind,
            e->window_slots, e->window_slots == 1 ? "" : "s");
    if (e->n_entered == 0 && e->n_left == 0 && e->n_moved == 0)
        fprintf(fp, "%s  none\n", ind);
    for (int l = 0; l < 3; l++) {
        /* a screen, not a dump: the JSON has them all */
        size_t shown = ns[l] < TEXT_CHANGES ? ns[l] : TEXT_CHANGES;

        more[l] += ns[l] - shown;
        for (size_t i = 0; i < shown; i++) {
            const struct explain_change *c = &lists[l][i];
            char key[96], pk[32];

            key_format_line(layout, c->key, key, sizeof(key));
            /* a long key (addresses, prefixes) gets a line of its own */
            if (strlen(key) > 22) {
                fprintf(fp, "%s  %-8s %s\n", ind, i == 0 ? names[l] : "", key);
                key[0] = '\0';
            }
            fprintf(fp, "%s  %-8s %-22s %10s pkts %6.2f%% (window %6.2f%%)\n", ind,
                    i == 0 && key[0] != '\0' ? names[l] : "", key,
                    report_thousands(c->packets, pk, sizeof(pk)), c->share, c->window_share);
        }
        if (more[l] > 0)
            fprintf(fp, "%s  %-8s ... and %llu more\n", ind, shown == 0 ? names[l] : "",
                    (unsigned long long)more[l]);
    }
}

/* 2. the cause */
static void
write_cause(FILE *fp, const struct slot_explain *e, const struct key_layout *layout,
            const char *ind)
{
    char line[512], hang[64];
    size_t len;

    len = (size_t)snprintf(line, sizeof(line), "probable cause: %s",
                           explain_cause_name(e->cause));
    for (size_t i = 0; i < e->n_cause_groups && len < sizeof(line); i++) {
        char key[96];

        if (e->cause_groups[i] >= e->n_groups)
            continue;
        key_format_line(layout, e->groups[e->cause_groups[i]].key, key, sizeof(key));
        len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s", i == 0 ? ", in " : ", ",
                                key);
    }
    snprintf(hang, sizeof(hang), "%s    ", ind);
    wrap(fp, ind, hang, line);
    snprintf(line, sizeof(line), "evidence: %s", e->evidence[0] ? e->evidence : "none");
    snprintf(hang, sizeof(hang), "%s  ", ind);
    wrap(fp, hang, hang, line);
}

void
report_explain_cause_text(FILE *fp, const struct slot_explain *e, const struct key_layout *layout,
                          const char *indent)
{
    write_cause(fp, e, layout, indent);
}

/* "exact", or the Space-Saving bound */
static void
list_header(FILE *fp, const char *ind, const char *what, const struct explain_list *l)
{
    char d[32], err[32];

    fprintf(fp, "%s  %s", ind, what);
    if (l->distinct > 0)
        fprintf(fp, " (%s distinct)", report_thousands(l->distinct, d, sizeof(d)));
    if (l->n == 0)
        fprintf(fp, ": none\n");
    else if (l->exact)
        fprintf(fp, ", exact:\n");
    else
        fprintf(fp, ", counts over by at most %s:\n", report_thousands(l->error, err, sizeof(err)));
}

/* Addresses two to a line when they fit, else one. */
static void
write_addrs(FILE *fp, const char *ind, const char *what, const struct explain_list *l)
{
    char addr[ADDR_STRLEN], pk[32];
    size_t widest = 0;

    list_header(fp, ind, what, l);
    for (uint32_t i = 0; i < l->n; i++) {
        size_t w = strlen(addr_format(&l->v[i].addr, addr));

        if (w > widest)
            widest = w;
    }
    for (uint32_t i = 0; i < l->n; i++) {
        bool two = widest <= 20;

        addr_format(&l->v[i].addr, addr);
        report_thousands(l->v[i].packets, pk, sizeof(pk));
        if (!two)
            fprintf(fp, "%s    %-39s %11s\n", ind, addr, pk);
        else if (i % 2 == 0)
            fprintf(fp, "%s    %-20s %11s%s", ind, addr, pk, i + 1 == l->n ? "\n" : "");
        else
            fprintf(fp, "      %-20s %11s\n", addr, pk);
    }
}

static void
write_ports(FILE *fp, const char *ind, const char *what, const struct explain_list *l)
{
    char pk[32];

    list_header(fp, ind, what, l);
    if (l->n == 0)
        return;
    fprintf(fp, "%s   ", ind);
    for (uint32_t i = 0; i < l->n; i++)
        fprintf(fp, " %u (%s)%s", l->v[i].port, report_thousands(l->v[i].packets, pk, sizeof(pk)),
                i + 1 < l->n ? "," : "\n");
}

/* 3. packets per minute: a sparkline of at most SPARK_COLUMNS, the axis, the busiest hour */
static void
write_minutes(FILE *fp, const char *ind, const struct slot_explain *e,
              const struct explain_group *g)
{
    static const char ramp[] = " .:-=+*#";
    uint32_t per = (g->n_minutes + SPARK_COLUMNS - 1) / SPARK_COLUMNS;
    uint32_t cols = (g->n_minutes + per - 1) / per;
    uint64_t col[SPARK_COLUMNS] = {0}, top = 0, hour = 0, best = 0, total = 0;
    uint32_t best_at = 0;
    char line[SPARK_COLUMNS + 1], axis[SPARK_COLUMNS + 16], t[16], pk[32], tot[32];

    for (uint32_t m = 0; m < g->n_minutes; m++) {
        col[m / per] += g->minutes[m];
        total += g->minutes[m];
    }
    for (uint32_t c = 0; c < cols; c++)
        if (col[c] > top)
            top = col[c];
    /* the busiest 60 minutes, sliding */
    for (uint32_t m = 0; m < g->n_minutes; m++) {
        hour += g->minutes[m];
        if (m >= 60)
            hour -= g->minutes[m - 60];
        if (hour > best) {
            best = hour;
            best_at = m >= 59 ? m - 59 : 0;
        }
    }
    for (uint32_t c = 0; c < cols; c++) {
        uint64_t level = top == 0 ? 0 : (col[c] * 7 + top - 1) / top;

        line[c] = ramp[col[c] == 0 ? 0 : level == 0 ? 1 : level];
    }
    line[cols] = '\0';
    fprintf(fp, "%s  packets per minute%s, %u min a column, at most %s packets in one:\n", ind,
            g->minutes_exact ? "" : " (not exact: some were counted unkept)", per,
            report_thousands(top, pk, sizeof(pk)));
    fprintf(fp, "%s    |%s|\n", ind, line);
    /* the axis: a local time label every quarter of the line */
    memset(axis, ' ', sizeof(axis));
    for (uint32_t q = 0, free_at = 0; q <= 3; q++) {
        uint32_t c = cols * q / 4;

        /* a short slot has room for fewer labels than quarters */
        if (c < free_at || c + 5 > cols + 1)
            continue;
        local_time(e->start + (int64_t)c * per * 60, "%H:%M", t, sizeof(t));
        memcpy(axis + c, t, strlen(t));
        free_at = c + (uint32_t)strlen(t) + 1;
    }
    axis[cols + 1] = '\0';
    for (size_t end = strlen(axis); end > 0 && axis[end - 1] == ' '; end--)
        axis[end - 1] = '\0';
    fprintf(fp, "%s     %s\n", ind, axis);
    if (total > 0 && g->n_minutes > 60) {
        char from[16], to[16];

        local_time(e->start + (int64_t)best_at * 60, "%H:%M", from, sizeof(from));
        local_time(e->start + ((int64_t)best_at + 60) * 60, "%H:%M", to, sizeof(to));
        fprintf(fp, "%s    busiest hour %s-%s: %s packets, %.0f%% of %s\n", ind, from, to,
                report_thousands(best, pk, sizeof(pk)), 100.0 * (double)best / (double)total,
                report_thousands(total, tot, sizeof(tot)));
    }
}

/* The changed groups with lists that change most: those that get packets per minute. */
static bool
wants_minutes(const struct slot_explain *e, size_t gi)
{
    const struct explain_group *g = &e->groups[gi];
    double d = fabs(g->share - g->window_share);
    size_t above = 0;

    if (!g->changed || !g->has_lists)
        return false;
    for (size_t i = 0; i < e->n_groups; i++) {
        const struct explain_group *o = &e->groups[i];

        if (i != gi && o->changed && o->has_lists && fabs(o->share - o->window_share) > d)
            above++;
    }
    return above < EXPLAIN_SERIES;
}

size_t
report_unavailable(const struct slot_result *r, struct report_unavailable *out, size_t max)
{
    const struct slot_explain *e = r->explain;
    size_t n = 0;

    if (e == NULL) {
        if (max > 0 && r->packets > 0) {
            out[n].key = NULL;
            out[n].what = "drilldown";
            out[n++].reason = "no drill-down for this slot";
        }
        return n;
    }
    if (e->window_slots == 0 && n < max) {
        out[n].key = NULL;
        out[n].what = "changes";
        out[n++].reason = window_reason;
    }
    for (size_t i = 0; i < e->n_groups && n < max; i++) {
        const struct explain_group *g = &e->groups[i];

        if (!g->has_lists) {
            out[n].key = g->key;
            out[n].what = "lists";
            out[n++].reason = lists_reason;
        } else if (g->minutes == NULL && wants_minutes(e, i)) {
            out[n].key = g->key;
            out[n].what = "minutes";
            out[n++].reason = minutes_reason;
        }
    }
    return n;
}

void
report_explain_text(FILE *fp, const struct slot_explain *e, const struct key_layout *layout,
                    const char *indent)
{
    const char *ind = indent != NULL ? indent : "";
    char hang[64];

    snprintf(hang, sizeof(hang), "%s    ", ind);
    write_changes(fp, e, layout, ind);
    write_cause(fp, e, layout, ind);
    if (e->n_groups > 0)
        fprintf(fp, "%sgroups shown (changed first, then the TopN set):\n", ind);
    for (size_t i = 0; i < e->n_groups; i++) {
        const struct explain_group *g = &e->groups[i];
        char key[96], pk[32], line[256];
        const char *how[4];
        size_t n_how = 0, len;

        if (in_changes(e->entered, e->n_entered, g->key, layout->size))
            how[n_how++] = "entered";
        if (in_changes(e->left, e->n_left, g->key, layout->size))
            how[n_how++] = "left";
        if (in_changes(e->moved, e->n_moved, g->key, layout->size))
            how[n_how++] = "moved";
        if (g->in_top)
            how[n_how++] = "in TopN";
        key_format_line(layout, g->key, key, sizeof(key));
        len = (size_t)snprintf(line, sizeof(line), "%s: %s packets, %.2f%% of the slot "
                               "(window %.2f%%)", key, report_thousands(g->packets, pk, sizeof(pk)),
                               g->share, g->window_share);
        for (size_t h = 0; h < n_how && len < sizeof(line); h++)
            len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s", h == 0 ? "; " : ", ",
                                    how[h]);
        fputc('\n', fp);
        wrap(fp, ind, hang, line);
        if (!g->has_lists) {
            fprintf(fp, "%s  sources, source ports, destinations: not kept for this slot\n",
                    ind);
            continue;
        }
        write_addrs(fp, ind, "sources", &g->src);
        write_ports(fp, ind, "source ports", &g->sport);
        write_addrs(fp, ind, "destinations", &g->dst);
        if (g->minutes != NULL && g->n_minutes > 0)
            write_minutes(fp, ind, e, g);
        else if (wants_minutes(e, i))
            fprintf(fp, "%s  packets per minute: not kept for this group\n", ind);
    }
    for (size_t i = 0; i < e->n_groups; i++) {
        if (!e->groups[i].has_lists) {
            fputc('\n', fp);
            wrap(fp, ind, ind, "(not kept for this slot: a group keeps its sources, source "
                               "ports and destinations only while its share is above the lowest "
                               "threshold; packets per minute are kept within "
                               "drilldown.series_memory)");
            break;
        }
    }
}

void
report_show_text(FILE *fp, const struct ds_cfg *cfg, const struct report_analysis *an,
                 const struct slot_result *r, const char *drilldown)
{
    const struct cfg_analysis *a = an->cfg;
    char from[32], to[32], pk[32], fl[32], gr[32];
    bool unstable = slot_result_unstable(r);

    (void)cfg;
    fprintf(fp, "analysis %s, slot %s to %s (%s)\n", a->name,
            local_time(r->start, "%Y-%m-%d %a %H:%M", from, sizeof(from)),
            local_time(r->end, "%Y-%m-%d %H:%M", to, sizeof(to)), cfg->timezone);
    fprintf(fp, "%s packets, %s flows, %s groups: %s\n",
            report_thousands(r->packets, pk, sizeof(pk)),
            report_thousands(r->flows, fl, sizeof(fl)),
            report_thousands(r->groups, gr, sizeof(gr)),
            unstable ? "UNSTABLE" : r->packets == 0 ? "no data" : "not unstable");
    if (r->late_flows > 0)
        fprintf(fp, "revised: %llu flows (%llu packets) came after it closed\n",
                (unsigned long long)r->late_flows, (unsigned long long)r->late_packets);
    fprintf(fp, "  %-10s %6s  %-24s %s\n", "threshold", "TopN", "band (mean +/- k sigma)",
            "status");
    for (size_t t = 0; t < r->n_th; t++) {
        const struct th_result *tr = &r->th[t];
        char th[16], band[48], status[48];

        snprintf(th, sizeof(th), ">%s%%", tr->th.text);
        if (tr->r.status == STAB_STABLE || tr->r.status == STAB_UNSTABLE)
            snprintf(band, sizeof(band), "[%.1f, %.1f] mean %.1f", tr->r.lower, tr->r.upper,
                     tr->r.mean);
        else
            snprintf(band, sizeof(band), "-");
        snprintf(status, sizeof(status), "%s%s%s", stab_status_name(tr->r.status),
                 tr->r.status == STAB_UNSTABLE ? ", " : "",
                 tr->r.status == STAB_UNSTABLE ? stab_dir_name(tr->r.dir) : "");
        fprintf(fp, "  %-10s %6u  %-24s %s\n", th, tr->topn, band, status);
    }
    if (r->explain == NULL) {
        fprintf(fp, "\nno drill-down: %s\n",
                r->packets == 0 ? "no packet was counted in this slot" :
                                  "none was stored and none could be computed");
        return;
    }
    fprintf(fp, "\ndrill-down %s\n", drilldown != NULL && strcmp(drilldown, "stored") == 0
                                         ? "(stored when the slot was judged):"
                                         : "(computed now from the stored slot and its window):");
    report_explain_text(fp, r->explain, an->layout, "");
}
