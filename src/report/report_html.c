/*
 * The html format: the report of a day or range as one self-contained
 * page for a browser and for mail clients.  Mail clients strip <style>
 * blocks, scripts and anything fetched, and many lay out only tables: so
 * the page is nested tables 640 px wide, every style inline, no script,
 * and the charts are images whose source report_render() fills in (a
 * data: URI, or a cid: of the mail's image parts).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ds/tz.h"
#include "report_int.h"

#define HTML_GROUPS_MAX 4      /* groups with their lists in an event */
#define HTML_CHANGES_MAX 5     /* rows of each kind of change */
#define FONT_STACK "Arial,Helvetica,sans-serif"
#define TD "padding:3px 8px;border-bottom:1px solid #eeeeee;"
#define TDR TD "text-align:right;"
#define TH "padding:3px 8px;border-bottom:1px solid #cccccc;text-align:left;color:#555555;" \
           "font-weight:bold;"
#define H2 "font-size:17px;margin:18px 0 6px 0;color:#222222;"

static void
esc(struct strbuf *sb, const char *s)
{
    for (; *s != '\0'; s++)
        switch (*s) {
        case '&':
            strbuf_append(sb, "&amp;");
            break;
        case '<':
            strbuf_append(sb, "&lt;");
            break;
        case '>':
            strbuf_append(sb, "&gt;");
            break;
        case '"':
            strbuf_append(sb, "&quot;");
            break;
        default:
            strbuf_appendc(sb, *s);
        }
}

static const char *
cause_colour(int cause)
{
    switch (cause) {
    case CAUSE_DDOS:
        return "#c0392b";
    case CAUSE_MISCONFIGURATION:
        return "#8e44ad";
    case CAUSE_SCAN:
        return "#d35400";
    case CAUSE_BACKSCATTER:
        return "#16813d";
    default:
        return "#666666";
    }
}

static void
badge(struct strbuf *sb, int cause)
{
    strbuf_printf(sb, "<span style=\"display:inline-block;padding:1px 8px;border-radius:3px;"
                      "background:%s;color:#ffffff;font-size:12px;font-weight:bold;\">%s</span>",
                  cause_colour(cause), report_cause_name(cause));
}

static void
image(const struct report_model *m, struct strbuf *sb, size_t i)
{
    const struct report_image *im = &m->images[i];

    strbuf_printf(sb, "<img src=\"%c%zu%c\" width=\"%d\" height=\"%d\" alt=\"", REPORT_IMG_MARK,
                  i, REPORT_IMG_MARK, im->width, im->height);
    esc(sb, im->title);
    strbuf_printf(sb, "\" style=\"display:block;border:0;width:%dpx;height:%dpx;\">", im->width,
                  im->height);
}

static void
row2(struct strbuf *sb, const char *k, const char *v)
{
    strbuf_printf(sb, "<tr><td style=\"" TD "width:110px;color:#555555;\">%s</td>"
                      "<td style=\"" TD "\">", k);
    esc(sb, v);
    strbuf_append(sb, "</td></tr>");
}

static void
summary(const struct report_model *m, const struct report_model_analysis *a, struct strbuf *sb)
{
    const struct cfg_analysis *ca = a->cfg;
    struct strbuf v = STRBUF_INIT;
    char keys[128] = "", slot[16], num[32], mean[32];
    size_t used = 0;

    for (size_t k = 0; k < ca->n_keys; k++) {
        char name[KEYSPEC_STRLEN];

        used += (size_t)snprintf(keys + used, sizeof(keys) - used, "%s%s", k ? ", " : "",
                                 keyspec_format(&ca->keys[k], name));
    }
    strbuf_append(sb, "<h2 style=\"" H2 "\">");
    esc(sb, ca->name);
    strbuf_printf(sb, " <span style=\"font-weight:normal;font-size:13px;color:#666666;\">"
                      "keys %s; slot %s; window %lld; k %s</span></h2>",
                  keys, format_duration(ca->slot_s, slot, sizeof(slot)), (long long)ca->window,
                  ca->k_sigma.text);
    if (!a->stored) {
        strbuf_append(sb, "<p>Nothing stored for this analysis.</p>");
        return;
    }
    strbuf_append(sb, "<table role=\"presentation\" width=\"600\" cellpadding=\"0\" "
                      "cellspacing=\"0\" border=\"0\" style=\"width:600px;font-size:14px;"
                      "border-collapse:collapse;\">");
    strbuf_printf(&v, "%zu in the range, %zu judged, %zu without data", a->slots, a->judged,
                  a->no_data);
    row2(sb, "slots", strbuf_str(&v));
    strbuf_reset(&v);
    if (a->incomplete > 0) {
        report_incomplete_list(a, &v);
        row2(sb, "incomplete", strbuf_str(&v));
        strbuf_reset(&v);
    }
    strbuf_printf(&v, "%zu slot%s:", a->unstable, a->unstable == 1 ? "" : "s");
    for (size_t t = 0; t < ca->n_thresholds; t++) {
        strbuf_printf(&v, " TopN>%s%% %zu", ca->thresholds[t].text, a->unstable_th[t]);
        if (a->unstable_th[t] > 0)
            strbuf_printf(&v, " (%zu up, %zu down)", a->increase_th[t],
                          a->unstable_th[t] - a->increase_th[t]);
        strbuf_append(&v, t + 1 < ca->n_thresholds ? "," : "");
    }
    row2(sb, "unstable", strbuf_str(&v));
    strbuf_reset(&v);
    strbuf_append(&v, report_thousands(a->packets, num, sizeof(num)));
    if (a->prev_periods > 0 && a->prev_mean > 0)
        strbuf_printf(&v, ", %+.1f%% against the mean of the previous %zu %s with data (%s)",
                      ((double)a->packets / a->prev_mean - 1) * 100, a->prev_periods,
                      report_period_word(m),
                      report_thousands((uint64_t)llround(a->prev_mean), mean, sizeof(mean)));
    row2(sb, "packets", strbuf_str(&v));
    strbuf_fini(&v);
    strbuf_printf(sb, "<tr><td style=\"" TD "color:#555555;\">causes</td><td style=\"" TD "\">");
    {
        size_t k = 0;

        for (size_t i = 0; i < m->n_ev; i++)
            if (&m->an[m->ev[i].analysis] == a) {
                badge(sb, m->ev[i].cause);
                strbuf_append(sb, " ");
                k++;
            }
        if (k == 0)
            strbuf_append(sb, "none");
    }
    strbuf_append(sb, "</td></tr></table>");
    if (a->image != SIZE_MAX) {
        strbuf_append(sb, "<div style=\"margin:10px 0 4px 0;\">");
        image(m, sb, a->image);
        strbuf_append(sb, "</div>");
    }
}

static void
list_cells(struct strbuf *sb, const struct explain_list *l, bool ports, int width)
{
    char num[32];

    strbuf_printf(sb, "<td valign=\"top\" width=\"%d\" style=\"width:%dpx;padding:2px 12px 2px 0;"
                      "font-size:12px;font-family:Menlo,Consolas,monospace;\">", width, width);
    for (uint32_t i = 0; i < l->n; i++) {
        char a[ADDR_STRLEN];

        if (ports)
            strbuf_printf(sb, "%u", l->v[i].port);
        else
            esc(sb, addr_format(&l->v[i].addr, a));
        strbuf_printf(sb, " <span style=\"color:#777777;\">%s</span><br>",
                      report_thousands(l->v[i].packets, num, sizeof(num)));
    }
    if (l->distinct > l->n)
        strbuf_printf(sb, "<span style=\"color:#777777;\">of %llu</span><br>",
                      (unsigned long long)l->distinct);
    if (!l->exact)
        strbuf_printf(sb, "<span style=\"color:#777777;\">approximate, &plusmn;%llu</span>",
                      (unsigned long long)l->error);
    strbuf_append(sb, "</td>");
}

static void
changes(struct strbuf *sb, const struct key_layout *l, const char *what,
        const struct explain_change *c, size_t n, uint64_t more)
{
    char key[128];

    if (n > HTML_CHANGES_MAX) {
        more += n - HTML_CHANGES_MAX;
        n = HTML_CHANGES_MAX;
    }
    for (size_t i = 0; i < n; i++) {
        strbuf_printf(sb, "<tr><td style=\"" TD "\">%s</td><td style=\"" TD "\">", what);
        esc(sb, report_key_label(l, c[i].key, key, sizeof(key)));
        strbuf_printf(sb, "</td><td style=\"" TDR "\">%.2f%%</td><td style=\"" TDR "\">%.2f%%"
                          "</td></tr>", c[i].share, c[i].window_share);
    }
    if (more > 0)
        strbuf_printf(sb, "<tr><td style=\"" TD "\">%s</td><td colspan=\"3\" style=\"" TD "\">"
                          "and %llu more</td></tr>", what, (unsigned long long)more);
}

static bool
shows_lists(const struct slot_explain *e, size_t i)
{
    for (size_t k = 0; k < e->n_cause_groups; k++)
        if (e->cause_groups[k] == i)
            return true;
    return e->groups[i].changed;
}

static void
explain_html(const struct report_model *m, const struct report_event *ev, struct strbuf *sb)
{
    const struct slot_explain *e = ev->ex;
    const struct key_layout *l = &m->an[ev->analysis].layout;
    char key[128], num[32];

    strbuf_printf(sb, "<p style=\"margin:6px 0;\"><b>Changes</b> against the window of %u "
                      "slots</p>", e->window_slots);
    strbuf_append(sb, "<table role=\"presentation\" width=\"600\" cellpadding=\"0\" "
                      "cellspacing=\"0\" border=\"0\" style=\"width:600px;font-size:13px;"
                      "border-collapse:collapse;\"><tr><th style=\"" TH "\"></th>"
                      "<th style=\"" TH "\">group</th><th style=\"" TH "text-align:right;\">"
                      "share</th><th style=\"" TH "text-align:right;\">window</th></tr>");
    changes(sb, l, "entered", e->entered, e->n_entered, e->more_entered);
    changes(sb, l, "left", e->left, e->n_left, e->more_left);
    changes(sb, l, "moved", e->moved, e->n_moved, 0);
    if (e->n_entered + e->n_left + e->n_moved == 0)
        strbuf_append(sb, "<tr><td colspan=\"4\" style=\"" TD "\">none</td></tr>");
    strbuf_append(sb, "</table>");
    if (ev->image != SIZE_MAX) {
        strbuf_append(sb, "<div style=\"margin:10px 0 4px 0;\">");
        image(m, sb, ev->image);
        strbuf_append(sb, "</div>");
    }
    for (size_t i = 0, shown = 0; i < e->n_groups; i++) {
        const struct explain_group *g = &e->groups[i];

        /*
         * A mail is read on one screen: the lists of the groups the cause
         * is about and of the changed ones; the text part and "show" have
         * every group.
         */
        if (!shows_lists(e, i) || shown == HTML_GROUPS_MAX) {
            continue;
        }
        shown++;
        strbuf_append(sb, "<p style=\"margin:12px 0 4px 0;\"><b>");
        esc(sb, report_key_label(l, g->key, key, sizeof(key)));
        strbuf_printf(sb, "</b> %s packets, %.2f%% (window %.2f%%)%s%s</p>",
                      report_thousands(g->packets, num, sizeof(num)), g->share, g->window_share,
                      g->in_top ? ", in TopN" : "", g->changed ? ", changed" : "");
        if (!g->has_lists) {
            strbuf_append(sb, "<p style=\"margin:0;color:#777777;\">No detail was kept for "
                              "this group.</p>");
            continue;
        }
        strbuf_append(sb, "<table role=\"presentation\" cellpadding=\"0\" cellspacing=\"0\" "
                          "border=\"0\" width=\"600\" style=\"width:600px;font-size:12px;\">"
                          "<tr><td style=\"color:#555555;\">sources</td>"
                          "<td style=\"color:#555555;\">source ports</td>"
                          "<td style=\"color:#555555;\">destinations</td></tr><tr>");
        list_cells(sb, &g->src, false, 210);
        list_cells(sb, &g->sport, true, 130);
        list_cells(sb, &g->dst, false, 236);
        strbuf_append(sb, "</tr></table>");
    }
    strbuf_printf(sb, "<p style=\"margin:10px 0 0 0;font-size:12px;color:#777777;\">Every "
                      "group shown (%zu) with its lists: the text part, or darkstab show "
                      "--slot.</p>", e->n_groups);
}

static void
top_html(const struct report_model *m, const struct report_event *ev, struct strbuf *sb)
{
    const struct key_layout *l = &m->an[ev->analysis].layout;
    char key[128], num[32];

    strbuf_append(sb, "<p style=\"margin:6px 0;color:#777777;\">No drill-down stored for this "
                      "slot; its TopN groups:</p>"
                      "<table role=\"presentation\" width=\"600\" cellpadding=\"0\" "
                      "cellspacing=\"0\" border=\"0\" style=\"width:600px;font-size:13px;"
                      "border-collapse:collapse;\"><tr><th style=\"" TH "\">group</th>"
                      "<th style=\"" TH "text-align:right;\">packets</th>"
                      "<th style=\"" TH "text-align:right;\">share</th>"
                      "<th style=\"" TH "text-align:right;\">sources</th>"
                      "<th style=\"" TH "text-align:right;\">dst ports</th></tr>");
    for (size_t i = 0; i < ev->r.n_top; i++) {
        const struct top_group *g = &ev->r.top[i];

        strbuf_printf(sb, "<tr><td style=\"" TD "\">");
        esc(sb, report_key_label(l, g->key, key, sizeof(key)));
        strbuf_printf(sb, "</td><td style=\"" TDR "\">%s</td><td style=\"" TDR "\">%.2f%%</td>",
                      report_thousands(g->packets, num, sizeof(num)), g->share);
        if (g->has_detail)
            strbuf_printf(sb, "<td style=\"" TDR "\">%s%llu</td><td style=\"" TDR "\">%llu</td>",
                          g->src_estimated ? "~" : "", (unsigned long long)g->src_addrs,
                          (unsigned long long)g->dst_ports);
        else
            strbuf_append(sb, "<td style=\"" TDR "\">?</td><td style=\"" TDR "\">?</td>");
        strbuf_append(sb, "</tr>");
    }
    strbuf_append(sb, "</table>");
}

static void
event_html(const struct report_model *m, size_t n, const struct report_event *ev,
           struct strbuf *sb)
{
    const struct report_model_analysis *a = &m->an[ev->analysis];
    const struct slot_result *r = &ev->r;
    char label[32], num[32];

    report_slot_label(r->start, a->cfg->slot_s, label, sizeof(label));
    strbuf_printf(sb, "<tr><td style=\"padding:4px 20px 16px 20px;border-top:1px solid "
                      "#dddddd;\"><h2 style=\"" H2 "\">%zu. ", n);
    esc(sb, a->cfg->name);
    strbuf_printf(sb, " %s ", label);
    badge(sb, ev->cause);
    strbuf_printf(sb, "</h2><p style=\"margin:4px 0;\">%s packets.",
                  report_thousands(r->packets, num, sizeof(num)));
    for (size_t t = 0; t < r->n_th; t++) {
        const struct th_result *tr = &r->th[t];
        bool un = tr->r.status == STAB_UNSTABLE;

        strbuf_printf(sb, " %sTopN&gt;%s%% %u", un ? "<b style=\"color:#d55e00;\">" : "",
                      tr->th.text, tr->topn);
        if (tr->r.status == STAB_STABLE || un)
            strbuf_printf(sb, " (band %.1f&ndash;%.1f%s%s)", tr->r.lower, tr->r.upper,
                          un ? ", " : "", un ? stab_dir_name(tr->r.dir) : "");
        strbuf_append(sb, un ? "</b>" : "");
        strbuf_append(sb, t + 1 < r->n_th ? "," : ".");
    }
    strbuf_append(sb, "</p>");
    if (ev->ex != NULL) {
        strbuf_append(sb, "<p style=\"margin:4px 0;\"><b>Probable cause:</b> ");
        esc(sb, report_cause_name(ev->cause));
        strbuf_append(sb, ". ");
        esc(sb, ev->ex->evidence);
        strbuf_append(sb, "</p>");
        explain_html(m, ev, sb);
    } else {
        top_html(m, ev, sb);
    }
    strbuf_append(sb, "</td></tr>");
}

static void
doc_html(const struct report_model *m, struct strbuf *sb)
{
    char from[32], to[32];

    strbuf_append(sb, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
                      "<meta name=\"viewport\" content=\"width=device-width\"><title>");
    esc(sb, m->subject);
    strbuf_append(sb, "</title></head>\n<body style=\"margin:0;padding:0;background:#f2f2f2;\">"
                      "<table role=\"presentation\" width=\"100%\" cellpadding=\"0\" "
                      "cellspacing=\"0\" border=\"0\" style=\"background:#f2f2f2;\"><tr>"
                      "<td align=\"center\" style=\"padding:16px 0;\">"
                      "<table role=\"presentation\" width=\"640\" cellpadding=\"0\" "
                      "cellspacing=\"0\" border=\"0\" style=\"width:640px;background:#ffffff;"
                      "border:1px solid #dddddd;font-family:" FONT_STACK ";font-size:14px;"
                      "color:#222222;text-align:left;\">\n"
                      "<tr><td style=\"padding:16px 20px 8px 20px;background:#23395d;"
                      "color:#ffffff;\"><div style=\"font-size:20px;font-weight:bold;\">");
    esc(sb, m->subject);
    report_slot_label(m->from, 60, from, sizeof(from));
    report_slot_label(m->to, 60, to, sizeof(to));
    strbuf_printf(sb, "</div><div style=\"font-size:13px;color:#d6def0;padding:4px 0 8px 0;\">"
                      "Slots starting from %s to %s, ", from, to);
    esc(sb, m->cfg->timezone);
    strbuf_append(sb, ".");
    if (m->incomplete > 0)
        strbuf_printf(sb, " %llu slot%s still incomplete or open: this report may change.",
                      (unsigned long long)m->incomplete, m->incomplete == 1 ? " is" : "s are");
    strbuf_append(sb, "</div></td></tr>\n<tr><td style=\"padding:4px 20px 16px 20px;\">");
    for (size_t i = 0; i < m->n_an; i++)
        summary(m, &m->an[i], sb);
    strbuf_append(sb, "</td></tr>\n");
    if (m->n_ev == 0)
        strbuf_append(sb, "<tr><td style=\"padding:8px 20px 16px 20px;\">No unstable slot in "
                          "the range.</td></tr>\n");
    for (size_t i = 0; i < m->n_ev; i++) {
        event_html(m, i + 1, &m->ev[i], sb);
        strbuf_appendc(sb, '\n');
    }
    strbuf_append(sb, "<tr><td style=\"padding:8px 20px;font-size:12px;color:#888888;"
                      "border-top:1px solid #dddddd;\">darkstab " DS_VERSION
                      "; TopN stability of darknet traffic.</td></tr>\n"
                      "</table></td></tr></table></body></html>\n");
}

const struct report_format report_format_html = {"html", NULL, doc_html};
