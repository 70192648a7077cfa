/*
 * The report of a day or range (report_render, ds/report.h): the model is
 * read from the store once, the charts are drawn from it, and every
 * format that has a doc function lays it out.  Formats never read the
 * store, so the text, HTML and JSON of one report always agree.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/base64.h"
#include "ds/slotcal.h"
#include "ds/tz.h"
#include "ds/xmem.h"
#include "report_int.h"

const char *
report_cause_name(int cause)
{
    static const char *const names[REPORT_CAUSES] = {
        [CAUSE_UNKNOWN] = "unknown",
        [CAUSE_DDOS] = "ddos",
        [CAUSE_MISCONFIGURATION] = "misconfiguration",
        [CAUSE_SCAN] = "scan",
        [CAUSE_BACKSCATTER] = "backscatter",
    };

    return cause >= 0 && cause < REPORT_CAUSES ? names[cause] : "unknown";
}

void
report_incomplete_list(const struct report_model_analysis *a, struct strbuf *sb)
{
    size_t listed = a->incomplete < REPORT_INCOMPLETE_LISTED ? a->incomplete
                                                             : REPORT_INCOMPLETE_LISTED;

    strbuf_printf(sb, "%zu slot%s not judged or still open:", a->incomplete,
                  a->incomplete == 1 ? "" : "s");
    for (size_t i = 0; i < listed; i++) {
        char label[32];

        report_slot_label(a->incomplete_at[i], a->cfg->slot_s, label, sizeof(label));
        strbuf_printf(sb, "%s %s", i ? "," : "", label);
    }
    if (a->incomplete > listed)
        strbuf_printf(sb, " and %zu more", a->incomplete - listed);
}

const char *
report_thousands(uint64_t v, char *buf, size_t len)
{
    char raw[32];
    size_t n, out = 0;

    snprintf(raw, sizeof(raw), "%llu", (unsigned long long)v);
    n = strlen(raw);
    for (size_t i = 0; i < n && out + 2 < len; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[out++] = ',';
        buf[out++] = raw[i];
    }
    buf[out] = '\0';
    return buf;
}

const char *
report_key_label(const struct key_layout *l, const uint8_t *key, char *buf, size_t len)
{
    /* the form "show" and the text reports use: "udp 2849" */
    return key_format_line(l, key, buf, len);
}

const char *
report_slot_label(int64_t start, int64_t slot_s, char *buf, size_t len)
{
    time_t t = (time_t)start;
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, len, slot_s >= 86400 ? "%Y-%m-%d %a" : "%Y-%m-%d %H:%M", &tm);
    return buf;
}

const char *
report_period_word(const struct report_model *m)
{
    return m->from == tz_day_start(m->from) && m->to == tz_next_day(m->from) ? "days"
                                                                           : "periods";
}

/* ---- a deep copy of an explanation: the store's block is freed after the callback ---- */

static void *
dup_array(const void *p, size_t n, size_t size)
{
    void *q;

    if (p == NULL || n == 0)
        return NULL;
    q = xmalloc(n * size);
    memcpy(q, p, n * size);
    return q;
}

struct slot_explain *
report_explain_copy(const struct slot_explain *e)
{
    struct slot_explain *c;

    if (e == NULL)
        return NULL;
    c = xmalloc(sizeof(*c));
    *c = *e;
    c->entered = dup_array(e->entered, e->n_entered, sizeof(*e->entered));
    c->left = dup_array(e->left, e->n_left, sizeof(*e->left));
    c->moved = dup_array(e->moved, e->n_moved, sizeof(*e->moved));
    c->groups = dup_array(e->groups, e->n_groups, sizeof(*e->groups));
    for (size_t i = 0; i < c->n_groups; i++)
        c->groups[i].minutes = dup_array(e->groups[i].minutes, e->groups[i].n_minutes,
                                         sizeof(uint64_t));
    return c;
}

void
report_explain_free(struct slot_explain *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_groups; i++)
        free(e->groups[i].minutes);
    free(e->entered);
    free(e->left);
    free(e->moved);
    free(e->groups);
    free(e);
}

/* ---- reading the model ---- */

struct collect_ctx {
    struct report_model *m;
    size_t ai;
    int64_t chart_from;
    int64_t now;
    size_t cap_pts;
    size_t cap_ev;
};

static bool
judged(const struct th_result *t)
{
    return t->r.status == STAB_STABLE || t->r.status == STAB_UNSTABLE;
}

static enum ds_rc
collect_slot(void *ctx, const struct slot_result *r)
{
    struct collect_ctx *c = ctx;
    struct report_model *m = c->m;
    struct report_model_analysis *a = &m->an[c->ai];

    if (r->start >= c->chart_from) {
        struct report_point *p;

        if (a->n_pts == c->cap_pts) {
            c->cap_pts = c->cap_pts ? 2 * c->cap_pts : REPORT_CHART_SLOTS + 4;
            a->pts = xreallocarray(a->pts, c->cap_pts, sizeof(*a->pts));
        }
        p = &a->pts[a->n_pts++];
        p->start = r->start;
        p->end = r->end;
        p->packets = r->packets;
        p->n_th = r->n_th;
        memcpy(p->th, r->th, sizeof(p->th));
    }
    if (r->start < m->from || r->start >= m->to)
        return DS_OK;
    a->slots++;
    a->packets += r->packets;
    if (r->packets == 0)
        a->no_data++;
    if (r->n_th > 0 && judged(&r->th[0]))
        a->judged++;
    if (r->incomplete || (r->n_th > 0 && r->th[0].r.status == STAB_INCOMPLETE) ||
        (r->packets == 0 && r->end > c->now)) {
        m->incomplete++;
        if (a->incomplete < REPORT_INCOMPLETE_LISTED)
            a->incomplete_at[a->incomplete] = r->start;
        a->incomplete++;
    }
    for (size_t t = 0; t < r->n_th; t++)
        if (r->th[t].r.status == STAB_UNSTABLE) {
            a->unstable_th[t]++;
            a->increase_th[t] += r->th[t].r.dir == STAB_DIR_INCREASE;
        }
    if (slot_result_unstable(r)) {
        struct report_event *ev;

        a->unstable++;
        m->unstable++;
        if (m->n_ev == c->cap_ev) {
            c->cap_ev = c->cap_ev ? 2 * c->cap_ev : 8;
            m->ev = xreallocarray(m->ev, c->cap_ev, sizeof(*m->ev));
        }
        ev = &m->ev[m->n_ev++];
        memset(ev, 0, sizeof(*ev));
        ev->analysis = c->ai;
        ev->r = *r;
        ev->r.completeness = NULL;
        ev->r.explain = NULL;
        ev->r.top = dup_array(r->top, r->n_top, sizeof(*r->top));
        ev->ex = report_explain_copy(r->explain);
        ev->cause = ev->ex != NULL ? ev->ex->cause : CAUSE_UNKNOWN;
        if (ev->cause < 0 || ev->cause >= REPORT_CAUSES)
            ev->cause = CAUSE_UNKNOWN;
        m->causes[ev->cause]++;
        ev->image = SIZE_MAX;
    }
    return DS_OK;
}

/* The start of the earlier period before b: a local day back for a day, else len back. */
static int64_t
period_before(int64_t b, int64_t len, bool days)
{
    return days ? tz_day_start(b - 1) : b - len;
}

static enum ds_rc
previous_periods(struct report_model *m, struct store *st, int64_t id,
                 struct report_model_analysis *a, struct ds_error *err)
{
    bool days = m->from == tz_day_start(m->from) && m->to == tz_next_day(m->from);
    int64_t len = m->to - m->from, bounds[REPORT_PREV_PERIODS + 1];
    uint64_t sum[REPORT_PREV_PERIODS] = {0};
    struct store_slot_summary *s = NULL;
    size_t n = 0;
    enum ds_rc rc;

    bounds[0] = m->from;
    for (size_t i = 1; i <= REPORT_PREV_PERIODS; i++)
        bounds[i] = period_before(bounds[i - 1], len, days);
    rc = store_slot_summaries(st, id, bounds[REPORT_PREV_PERIODS], m->from, &s, &n, err);
    if (rc != DS_OK)
        return rc;
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < REPORT_PREV_PERIODS; i++)
            if (s[k].start >= bounds[i + 1] && s[k].start < bounds[i])
                sum[i] += s[k].packets;
    free(s);
    a->prev_mean = 0;
    a->prev_periods = 0;
    for (size_t i = 0; i < REPORT_PREV_PERIODS; i++)
        if (sum[i] > 0) {
            a->prev_mean += (double)sum[i];
            a->prev_periods++;
        }
    if (a->prev_periods > 0)
        a->prev_mean /= (double)a->prev_periods;
    return DS_OK;
}

static enum ds_rc
collect(struct report_model *m, struct store *st, struct ds_error *err)
{
    const struct ds_cfg *cfg = m->cfg;

    m->n_an = cfg->n_analyses;
    m->an = xcalloc(m->n_an ? m->n_an : 1, sizeof(*m->an));
    for (size_t i = 0; i < cfg->n_analyses; i++) {
        const struct cfg_analysis *ca = &cfg->analyses[i];
        struct report_model_analysis *a = &m->an[i];
        struct collect_ctx c = {m, i, 0, (int64_t)time(NULL), 0, 0};
        struct report_analysis ra;
        struct slotcal cal;
        int64_t s, e, last_end, first;
        bool found = false;
        enum ds_rc rc;

        a->cfg = ca;
        a->image = SIZE_MAX;
        key_layout_init(&a->layout, ca->keys, ca->n_keys);
        rc = store_analysis_find(st, ca->name, &ra.store_id, &found, err);
        if (rc != DS_OK)
            return rc;
        if (!found || m->from >= m->to)
            continue;
        a->stored = true;
        /* the last slot starting in the range, and REPORT_CHART_SLOTS back from it */
        slotcal_init(&cal, ca->slot_s);
        slotcal_find(&cal, m->to - 1, &s, &e);
        last_end = e;
        for (int k = 1; k < REPORT_CHART_SLOTS; k++)
            slotcal_find(&cal, s - 1, &s, &e);
        c.chart_from = s;
        slotcal_find(&cal, m->from, &first, &e);
        ra.cfg = ca;
        ra.layout = &a->layout;
        ra.from = first < c.chart_from ? first : c.chart_from;
        ra.to = last_end;
        ra.late = 0;
        rc = report_each_slot(&ra, st, collect_slot, &c, err);
        if (rc != DS_OK)
            return rc;
        /* slots before the first with data would only push the data aside */
        while (a->n_pts > 1 && a->pts[0].packets == 0) {
            memmove(a->pts, a->pts + 1, (a->n_pts - 1) * sizeof(*a->pts));
            a->n_pts--;
        }
        rc = previous_periods(m, st, ra.store_id, a, err);
        if (rc != DS_OK)
            return rc;
    }
    return DS_OK;
}

/* ---- images and documents ---- */

static size_t
add_image(struct report_doc *d, const char *cid, const char *title, uint8_t *png, size_t len,
          int w, int h)
{
    struct report_image *im;

    d->images = xreallocarray(d->images, d->n_images + 1, sizeof(*d->images));
    im = &d->images[d->n_images];
    snprintf(im->cid, sizeof(im->cid), "%s", cid);
    im->title = xstrdup(title);
    im->png = png;
    im->len = len;
    im->width = w;
    im->height = h;
    return d->n_images++;
}

static void
draw_charts(struct report_model *m, struct report_doc *d)
{
    for (size_t i = 0; i < m->n_an; i++) {
        struct report_model_analysis *a = &m->an[i];
        char cid[64], title[160];
        uint8_t *png;
        size_t len;
        int w, h;

        if (!a->stored || a->n_pts == 0 || chart_topn(m, a, &png, &len, &w, &h) != 0)
            continue;
        snprintf(cid, sizeof(cid), "topn-%zu.%.24s@darkstab", i, a->cfg->name);
        snprintf(title, sizeof(title), "TopN of %s per threshold, last %zu slots", a->cfg->name,
                 a->n_pts);
        a->image = add_image(d, cid, title, png, len, w, h);
    }
    for (size_t i = 0; i < m->n_ev; i++) {
        struct report_event *ev = &m->ev[i];
        const struct report_model_analysis *a = &m->an[ev->analysis];
        char cid[64], title[160], label[32];
        uint8_t *png;
        size_t len;
        int w, h;

        if (ev->ex == NULL || chart_minutes(m, ev, &png, &len, &w, &h) != 0)
            continue;
        snprintf(cid, sizeof(cid), "event-%zu.%.24s@darkstab", i, a->cfg->name);
        snprintf(title, sizeof(title), "Packets per minute of the changed groups, %s %s",
                 a->cfg->name, report_slot_label(ev->r.start, a->cfg->slot_s, label,
                                                 sizeof(label)));
        ev->image = add_image(d, cid, title, png, len, w, h);
    }
}

static char *
make_subject(const struct report_model *m)
{
    const char *prefix = m->cfg->report.subject_prefix;
    struct strbuf sb = STRBUF_INIT;
    size_t k = 0;

    if (prefix == NULL || prefix[0] == '\0')
        prefix = "darkstab";
    strbuf_printf(&sb, "%s %s: ", prefix, m->title);
    if (m->unstable == 0) {
        strbuf_append(&sb, "no unstable slot");
        return strbuf_take(&sb);
    }
    strbuf_printf(&sb, "%llu unstable slot%s (", (unsigned long long)m->unstable,
                  m->unstable == 1 ? "" : "s");
    /* the causes found, unknown last */
    for (int c = 1; c <= REPORT_CAUSES; c++) {
        int cause = c % REPORT_CAUSES;

        if (m->causes[cause] == 0)
            continue;
        strbuf_printf(&sb, "%s%s", k++ ? ", " : "", report_cause_name(cause));
    }
    strbuf_append(&sb, ")");
    return strbuf_take(&sb);
}

static char *
doc_of(const struct report_format *f, const struct report_model *m)
{
    struct strbuf sb = STRBUF_INIT;

    f->doc(m, &sb);
    if (sb.s == NULL)
        strbuf_append(&sb, "");
    return strbuf_take(&sb);
}

/* html with every image mark replaced by a data: URI, or by cid: */
static char *
place_images(const char *html, const struct report_doc *d, bool cid)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p = html, *q;

    while ((q = strchr(p, REPORT_IMG_MARK)) != NULL) {
        char *end;
        unsigned long i = strtoul(q + 1, &end, 10);

        strbuf_appendn(&sb, p, (size_t)(q - p));
        if (*end != REPORT_IMG_MARK || i >= d->n_images) {
            /* never written by the html format: keep the text visible */
            strbuf_append(&sb, "?");
            p = q + 1;
            continue;
        }
        if (cid) {
            strbuf_printf(&sb, "cid:%s", d->images[i].cid);
        } else {
            char *b = xmalloc(base64_len(d->images[i].len) + 1);

            base64_encode(d->images[i].png, d->images[i].len, 0, b);
            strbuf_append(&sb, "data:image/png;base64,");
            strbuf_append(&sb, b);
            free(b);
        }
        p = end + 1;
    }
    strbuf_append(&sb, p);
    return strbuf_take(&sb);
}

static void
model_fini(struct report_model *m)
{
    for (size_t i = 0; i < m->n_an; i++)
        free(m->an[i].pts);
    free(m->an);
    for (size_t i = 0; i < m->n_ev; i++) {
        free(m->ev[i].r.top);
        report_explain_free(m->ev[i].ex);
    }
    free(m->ev);
}

enum ds_rc
report_render(const struct ds_cfg *cfg, struct store *st, int64_t from, int64_t to,
              const char *title, struct report_doc *out, struct ds_error *err)
{
    struct report_model m;
    enum ds_rc rc;
    char *html;

    memset(out, 0, sizeof(*out));
    memset(&m, 0, sizeof(m));
    m.cfg = cfg;
    m.title = title;
    m.from = from;
    m.to = to;
    rc = collect(&m, st, err);
    if (rc != DS_OK) {
        model_fini(&m);
        return rc;
    }
    out->subject = make_subject(&m);
    m.subject = out->subject;
    out->unstable = m.unstable;
    out->incomplete = m.incomplete;
    draw_charts(&m, out);
    m.images = out->images;
    m.n_images = out->n_images;
    out->text = doc_of(&report_format_text, &m);
    out->json = doc_of(&report_format_json, &m);
    html = doc_of(&report_format_html, &m);
    out->html = place_images(html, out, false);
    out->html_mail = place_images(html, out, true);
    free(html);
    model_fini(&m);
    return DS_OK;
}

void
report_doc_fini(struct report_doc *d)
{
    free(d->subject);
    free(d->text);
    free(d->html);
    free(d->html_mail);
    free(d->json);
    for (size_t i = 0; i < d->n_images; i++) {
        free(d->images[i].title);
        free(d->images[i].png);
    }
    free(d->images);
    memset(d, 0, sizeof(*d));
}

const char *
report_doc_get(const struct report_doc *d, const struct report_format *f)
{
    if (f == &report_format_html)
        return d->html;
    if (f == &report_format_json)
        return d->json;
    return d->text;
}
