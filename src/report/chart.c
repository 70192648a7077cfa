/*
 * The report's charts, drawn with cairo into PNG bytes in memory:
 *   - TopN per threshold over the last slots, with the band mu +/- k sigma
 *     shaded and the unstable slots ringed (the paper's Figures 3 and 4);
 *   - packets per minute of an event's changed groups (Figures 5 to 8).
 * Drawn at the size they are shown (600 px wide, the width a mail client
 * gives), so text is sized in pixels for that width and nothing is scaled.
 * Time labels are local times of the configured zone (tz_apply()).
 */
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/tz.h"
#include "ds/xmem.h"
#include "report_int.h"

#define CHART_W 600
#define TOPN_H 320
#define MINUTES_H 290
#define FONT "DejaVu Sans"

struct rgb {
    double r, g, b;
};

/* Colour-blind safe (Okabe and Ito), in the order series are drawn. */
static const struct rgb palette[] = {
    {0.000, 0.447, 0.698},  /* blue */
    {0.902, 0.624, 0.000},  /* orange */
    {0.000, 0.620, 0.451},  /* green */
    {0.800, 0.475, 0.655},  /* purple */
    {0.337, 0.706, 0.914},  /* sky */
    {0.941, 0.894, 0.259},  /* yellow */
};
#define N_PALETTE (sizeof(palette) / sizeof(palette[0]))
static const struct rgb mark_red = {0.835, 0.369, 0.000};
static const struct rgb range_bg = {1.000, 0.953, 0.769};
static const struct rgb ink = {0.15, 0.15, 0.15};
static const struct rgb grid = {0.88, 0.88, 0.88};

struct plot {
    double x0, y0, w, h;    /* the plot area, y0 its top */
    double ymax;
};

static void
set(cairo_t *cr, struct rgb c, double alpha)
{
    cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

/* align: 0 left, 1 centre, 2 right of x; y is the baseline. Returns the width. */
static double
text(cairo_t *cr, double x, double y, const char *s, int align)
{
    cairo_text_extents_t te;

    cairo_text_extents(cr, s, &te);
    cairo_move_to(cr, x - (align == 1 ? te.x_advance / 2 : align == 2 ? te.x_advance : 0), y);
    cairo_show_text(cr, s);
    return te.x_advance;
}

static void
font(cairo_t *cr, double px, bool bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, px);
}

/* A round step for about n ticks up to max: 1, 2, 2.5 or 5 times a power of ten. */
static double
nice_step(double max, int n)
{
    double raw = max / n, mag, norm;

    if (!(raw > 0))
        return 1;
    mag = pow(10, floor(log10(raw)));
    norm = raw / mag;
    if (norm <= 1)
        return mag;
    if (norm <= 2)
        return 2 * mag;
    if (norm <= 2.5)
        return 2.5 * mag;
    if (norm <= 5)
        return 5 * mag;
    return 10 * mag;
}

/* 1500 -> "1.5k", 2000000 -> "2M" */
static const char *
si(double v, char *buf, size_t len)
{
    if (v >= 1e6)
        snprintf(buf, len, "%gM", v / 1e6);
    else if (v >= 1e3)
        snprintf(buf, len, "%gk", v / 1e3);
    else
        snprintf(buf, len, "%g", v);
    return buf;
}

static double
ypos(const struct plot *p, double v)
{
    return p->y0 + p->h - v / p->ymax * p->h;
}

/* Horizontal grid lines with labels, the y axis title rotated on the left. */
static void
y_axis(cairo_t *cr, struct plot *p, double max, bool integer, const char *title)
{
    double step = nice_step(max > 0 ? max : 1, 5);
    char buf[32];

    if (integer && step < 1)
        step = 1;
    p->ymax = ceil((max > 0 ? max : 1) / step) * step;
    if (p->ymax <= max)
        p->ymax += step;
    font(cr, 11, false);
    cairo_set_line_width(cr, 1);
    for (double v = 0; v <= p->ymax + step / 2; v += step) {
        double y = floor(ypos(p, v)) + 0.5;

        set(cr, grid, 1);
        cairo_move_to(cr, p->x0, y);
        cairo_line_to(cr, p->x0 + p->w, y);
        cairo_stroke(cr);
        set(cr, ink, 1);
        text(cr, p->x0 - 6, y + 4, si(v, buf, sizeof(buf)), 2);
    }
    cairo_save(cr);
    cairo_translate(cr, 13, p->y0 + p->h / 2);
    cairo_rotate(cr, -M_PI / 2);
    text(cr, 0, 0, title, 1);
    cairo_restore(cr);
}

static void
frame(cairo_t *cr, const struct plot *p)
{
    set(cr, ink, 1);
    cairo_set_line_width(cr, 1);
    cairo_move_to(cr, floor(p->x0) + 0.5, p->y0);
    cairo_line_to(cr, floor(p->x0) + 0.5, floor(p->y0 + p->h) + 0.5);
    cairo_line_to(cr, p->x0 + p->w, floor(p->y0 + p->h) + 0.5);
    cairo_stroke(cr);
}

static void
x_tick(cairo_t *cr, const struct plot *p, double x, const char *label)
{
    double y = floor(p->y0 + p->h) + 0.5;

    x = floor(x) + 0.5;
    set(cr, ink, 1);
    cairo_move_to(cr, x, y);
    cairo_line_to(cr, x, y + 4);
    cairo_stroke(cr);
    text(cr, x, y + 16, label, 1);
}

/* A legend on one or two rows under the plot: swatch kinds below. */
enum swatch { SW_LINE, SW_BOX, SW_RING };

struct legend {
    double x, y, right;
};

static void
legend_item(cairo_t *cr, struct legend *lg, enum swatch kind, struct rgb c, double alpha,
            const char *label)
{
    cairo_text_extents_t te;
    double wdt;

    font(cr, 11, false);
    cairo_text_extents(cr, label, &te);
    wdt = 22 + te.x_advance + 14;
    if (lg->x + wdt > lg->right) {
        lg->x = 52;
        lg->y += 16;
    }
    switch (kind) {
    case SW_LINE:
        set(cr, c, 1);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, lg->x, lg->y - 4);
        cairo_line_to(cr, lg->x + 16, lg->y - 4);
        cairo_stroke(cr);
        break;
    case SW_BOX:
        set(cr, c, alpha);
        cairo_rectangle(cr, lg->x, lg->y - 10, 16, 10);
        cairo_fill(cr);
        break;
    case SW_RING:
        set(cr, c, 1);
        cairo_set_line_width(cr, 2);
        cairo_new_sub_path(cr);
        cairo_arc(cr, lg->x + 8, lg->y - 4, 5, 0, 2 * M_PI);
        cairo_stroke(cr);
        break;
    }
    set(cr, ink, 1);
    text(cr, lg->x + 22, lg->y, label, 0);
    lg->x += wdt;
}

struct png_buf {
    uint8_t *p;
    size_t len, cap;
};

static cairo_status_t
png_write(void *closure, const unsigned char *data, unsigned int length)
{
    struct png_buf *b = closure;

    if (b->len + length > b->cap) {
        b->cap = (b->len + length) * 2;
        b->p = xreallocarray(b->p, b->cap, 1);
    }
    memcpy(b->p + b->len, data, length);
    b->len += length;
    return CAIRO_STATUS_SUCCESS;
}

static int
finish(cairo_surface_t *s, cairo_t *cr, uint8_t **png, size_t *len)
{
    struct png_buf b = {NULL, 0, 0};
    cairo_status_t st = cairo_status(cr);

    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS)
        st = cairo_surface_write_to_png_stream(s, png_write, &b);
    cairo_surface_destroy(s);
    if (st != CAIRO_STATUS_SUCCESS) {
        free(b.p);
        return -1;
    }
    *png = b.p;
    *len = b.len;
    return 0;
}

static cairo_t *
start(cairo_surface_t **s, int w, int h)
{
    cairo_t *cr;

    *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cr = cairo_create(*s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    return cr;
}

/* ---- TopN per threshold ---- */

static bool
has_band(const struct th_result *t)
{
    return (t->r.status == STAB_STABLE || t->r.status == STAB_UNSTABLE) &&
           isfinite(t->r.lower) && isfinite(t->r.upper);
}

int
chart_topn(const struct report_model *m, const struct report_model_analysis *a, uint8_t **png,
           size_t *len, int *w, int *h)
{
    const struct cfg_analysis *ca = a->cfg;
    size_t n = a->n_pts, nth = ca->n_thresholds, step;
    double max = 1, slot_w;
    struct plot p = {56, 34, CHART_W - 56 - 16, TOPN_H - 34 - 84, 1};
    struct legend lg = {52, TOPN_H - 30, CHART_W - 10};
    cairo_surface_t *s;
    cairo_t *cr;
    char buf[96];

    if (n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < a->pts[i].n_th && t < nth; t++) {
            const struct th_result *tr = &a->pts[i].th[t];

            if (a->pts[i].packets > 0 && tr->topn > max)
                max = tr->topn;
            if (has_band(tr) && tr->r.upper > max)
                max = tr->r.upper;
        }
    cr = start(&s, CHART_W, TOPN_H);
    slot_w = p.w / (double)n;
    /* the report's range behind everything */
    for (size_t i = 0; i < n; i++)
        if (a->pts[i].start >= m->from && a->pts[i].start < m->to) {
            set(cr, range_bg, 1);
            cairo_rectangle(cr, p.x0 + i * slot_w, p.y0, slot_w, p.h);
            cairo_fill(cr);
        }
    y_axis(cr, &p, max, true, "groups above the threshold (TopN)");
    /* the bands, one translucent step per judged slot */
    for (size_t t = 0; t < nth; t++)
        for (size_t i = 0; i < n; i++) {
            const struct th_result *tr = &a->pts[i].th[t];
            double lo, hi;

            if (t >= a->pts[i].n_th || !has_band(tr))
                continue;
            lo = tr->r.lower < 0 ? 0 : tr->r.lower;
            hi = tr->r.upper;
            set(cr, palette[t % N_PALETTE], 0.16);
            cairo_rectangle(cr, p.x0 + i * slot_w, ypos(&p, hi), slot_w,
                            ypos(&p, lo) - ypos(&p, hi));
            cairo_fill(cr);
        }
    /* TopN lines, broken where a slot has no data */
    for (size_t t = 0; t < nth; t++) {
        bool pen = false;

        set(cr, palette[t % N_PALETTE], 1);
        cairo_set_line_width(cr, 2);
        for (size_t i = 0; i < n; i++) {
            const struct report_point *pt = &a->pts[i];
            double x = p.x0 + (i + 0.5) * slot_w;

            if (pt->packets == 0 || t >= pt->n_th) {
                pen = false;
                continue;
            }
            if (pen)
                cairo_line_to(cr, x, ypos(&p, pt->th[t].topn));
            else
                cairo_move_to(cr, x, ypos(&p, pt->th[t].topn));
            pen = true;
        }
        cairo_stroke(cr);
        for (size_t i = 0; i < n; i++) {
            const struct report_point *pt = &a->pts[i];

            if (pt->packets == 0 || t >= pt->n_th)
                continue;
            cairo_arc(cr, p.x0 + (i + 0.5) * slot_w, ypos(&p, pt->th[t].topn), 2.2, 0,
                      2 * M_PI);
            cairo_fill(cr);
        }
    }
    /* unstable slots ringed on the threshold that left its band */
    set(cr, mark_red, 1);
    cairo_set_line_width(cr, 2);
    for (size_t i = 0; i < n; i++)
        for (size_t t = 0; t < a->pts[i].n_th && t < nth; t++)
            if (a->pts[i].th[t].r.status == STAB_UNSTABLE) {
                cairo_new_sub_path(cr);
                cairo_arc(cr, p.x0 + (i + 0.5) * slot_w, ypos(&p, a->pts[i].th[t].topn), 5.5, 0,
                          2 * M_PI);
                cairo_stroke(cr);
            }
    frame(cr, &p);
    /* x ticks: the last slot always labelled, then every step slots back */
    font(cr, 11, false);
    step = ca->slot_s >= 86400 ? 7 : ca->slot_s >= 3600 ? 6 : 12;
    while (n / step > 8)
        step *= 2;
    for (size_t k = 0; k < n; k += step) {
        size_t i = n - 1 - k;
        time_t t = (time_t)a->pts[i].start;
        struct tm tm;

        localtime_r(&t, &tm);
        strftime(buf, sizeof(buf),
                 ca->slot_s >= 86400 || (tm.tm_hour == 0 && tm.tm_min == 0) ? "%m-%d" : "%H:%M",
                 &tm);
        x_tick(cr, &p, p.x0 + (i + 0.5) * slot_w, buf);
    }
    {
        char from[32], to[32];
        time_t t0 = (time_t)a->pts[0].start, t1 = (time_t)a->pts[n - 1].start;
        struct tm tm;

        localtime_r(&t0, &tm);
        strftime(from, sizeof(from), "%Y-%m-%d", &tm);
        localtime_r(&t1, &tm);
        strftime(to, sizeof(to), "%Y-%m-%d", &tm);
        snprintf(buf, sizeof(buf), "slot start, %s to %s (%s)", from, to, m->cfg->timezone);
        set(cr, ink, 1);
        text(cr, p.x0 + p.w / 2, p.y0 + p.h + 34, buf, 1);
    }
    font(cr, 14, true);
    set(cr, ink, 1);
    snprintf(buf, sizeof(buf), "%s: TopN per threshold, last %zu slots", ca->name, n);
    text(cr, 10, 20, buf, 0);
    for (size_t t = 0; t < nth; t++) {
        snprintf(buf, sizeof(buf), "TopN>%s%%", ca->thresholds[t].text);
        legend_item(cr, &lg, SW_LINE, palette[t % N_PALETTE], 1, buf);
    }
    snprintf(buf, sizeof(buf), "band mu \xc2\xb1 %s sigma", ca->k_sigma.text);
    legend_item(cr, &lg, SW_BOX, palette[0], 0.3, buf);
    legend_item(cr, &lg, SW_RING, mark_red, 1, "unstable");
    legend_item(cr, &lg, SW_BOX, range_bg, 1, "this report");
    *w = CHART_W;
    *h = TOPN_H;
    return finish(s, cr, png, len);
}

/* ---- packets per minute of the changed groups ---- */

int
chart_minutes(const struct report_model *m, const struct report_event *ev, uint8_t **png,
              size_t *len, int *w, int *h)
{
    const struct report_model_analysis *a = &m->an[ev->analysis];
    const struct slot_explain *ex = ev->ex;
    const struct explain_group *gs[EXPLAIN_SERIES];
    size_t ng = 0, nmin = 0;
    double max = 1, xw;
    int hour_step;
    struct plot p = {56, 34, CHART_W - 56 - 16, MINUTES_H - 34 - 84, 1};
    struct legend lg = {52, MINUTES_H - 30, CHART_W - 10};
    cairo_surface_t *s;
    cairo_t *cr;
    char buf[160], label[32];

    if (ex == NULL)
        return 1;
    /* the changed groups first (explain orders them so), then any with minutes */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < ex->n_groups && ng < EXPLAIN_SERIES; i++) {
            const struct explain_group *g = &ex->groups[i];

            if (g->minutes == NULL || g->n_minutes == 0 || g->changed != (pass == 0))
                continue;
            gs[ng++] = g;
        }
    if (ng == 0)
        return 1;
    for (size_t k = 0; k < ng; k++) {
        if (gs[k]->n_minutes > nmin)
            nmin = gs[k]->n_minutes;
        for (size_t i = 0; i < gs[k]->n_minutes; i++)
            if ((double)gs[k]->minutes[i] > max)
                max = (double)gs[k]->minutes[i];
    }
    cr = start(&s, CHART_W, MINUTES_H);
    y_axis(cr, &p, max, true, "packets per minute");
    xw = p.w / (double)nmin;
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (size_t k = ng; k-- > 0;) {
        const struct explain_group *g = gs[k];

        set(cr, palette[k % N_PALETTE], 1);
        cairo_set_line_width(cr, 1.6);
        for (size_t i = 0; i < g->n_minutes; i++) {
            double x = p.x0 + (i + 0.5) * xw, y = ypos(&p, (double)g->minutes[i]);

            if (i == 0)
                cairo_move_to(cr, x, y);
            else
                cairo_line_to(cr, x, y);
        }
        cairo_stroke(cr);
    }
    frame(cr, &p);
    /* ticks on local hours: the slot may start at any offset from UTC */
    font(cr, 11, false);
    hour_step = 1;
    while ((double)nmin / 60.0 / hour_step > 8)
        hour_step = hour_step < 3 ? hour_step + 1 : hour_step < 6 ? 6 : hour_step * 2;
    for (size_t i = 0; i <= nmin; i++) {
        time_t t = (time_t)(ev->r.start + 60 * (int64_t)i);
        struct tm tm;

        localtime_r(&t, &tm);
        if (tm.tm_min != 0 || tm.tm_hour % (hour_step > 24 ? 24 : hour_step) != 0)
            continue;
        strftime(buf, sizeof(buf), tm.tm_hour == 0 && i > 0 ? "%m-%d" : "%H:%M", &tm);
        x_tick(cr, &p, p.x0 + i * xw, buf);
    }
    snprintf(buf, sizeof(buf), "local time (%s), one point per minute", m->cfg->timezone);
    set(cr, ink, 1);
    text(cr, p.x0 + p.w / 2, p.y0 + p.h + 34, buf, 1);
    font(cr, 14, true);
    snprintf(buf, sizeof(buf), "%s %s: packets per minute of the changed groups",
             a->cfg->name, report_slot_label(ev->r.start, a->cfg->slot_s, label, sizeof(label)));
    text(cr, 10, 20, buf, 0);
    for (size_t k = 0; k < ng; k++) {
        char key[128];

        snprintf(buf, sizeof(buf), "%s (%.1f%%)%s",
                 report_key_label(&a->layout, gs[k]->key, key, sizeof(key)), gs[k]->share,
                 gs[k]->minutes_exact ? "" : " partial");
        legend_item(cr, &lg, SW_LINE, palette[k % N_PALETTE], 1, buf);
    }
    *w = CHART_W;
    *h = MINUTES_H;
    return finish(s, cr, png, len);
}
