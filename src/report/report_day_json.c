/*
 * The JSON of the report of a day or range (the json format's doc
 * function): the summary and the events as the text and HTML show them,
 * for programs.  The drill-down of an event has the members docs/JSON.md
 * documents for a slot ("changes", "detail", "cause"), so a program reads
 * it as it reads the results document.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ds/json.h"
#include "ds/tz.h"
#include "report_int.h"

static void
time_member(struct json_w *w, const char *key, int64_t t)
{
    char buf[TZ_RFC3339_LEN];

    json_key(w, key);
    json_str(w, tz_format_rfc3339(t, buf));
}

static void
summary(const struct report_model *m, const struct report_model_analysis *a, struct json_w *w)
{
    const struct cfg_analysis *ca = a->cfg;

    json_obj_begin(w);
    json_key(w, "name");
    json_str(w, ca->name);
    json_key(w, "stored");
    json_bool(w, a->stored);
    json_key(w, "slots");
    json_uint(w, a->slots);
    json_key(w, "judged");
    json_uint(w, a->judged);
    json_key(w, "no_data");
    json_uint(w, a->no_data);
    json_key(w, "incomplete");
    json_uint(w, a->incomplete);
    json_key(w, "incomplete_slots");
    json_arr_begin(w);
    for (size_t i = 0; i < a->incomplete && i < REPORT_INCOMPLETE_LISTED; i++) {
        char when[TZ_RFC3339_LEN];

        json_str(w, tz_format_rfc3339(a->incomplete_at[i], when));
    }
    json_arr_end(w);
    json_key(w, "unstable");
    json_uint(w, a->unstable);
    json_key(w, "unstable_per_threshold");
    json_arr_begin(w);
    for (size_t t = 0; t < ca->n_thresholds; t++) {
        json_obj_begin(w);
        json_key(w, "threshold");
        json_double(w, ca->thresholds[t].value, 6);
        json_key(w, "unstable");
        json_uint(w, a->unstable_th[t]);
        json_key(w, "increase");
        json_uint(w, a->increase_th[t]);
        json_key(w, "decrease");
        json_uint(w, a->unstable_th[t] - a->increase_th[t]);
        json_obj_end(w);
    }
    json_arr_end(w);
    json_key(w, "packets");
    json_uint(w, a->packets);
    json_key(w, "previous");
    json_obj_begin(w);
    json_key(w, "periods_with_data");
    json_uint(w, a->prev_periods);
    json_key(w, "mean_packets");
    if (a->prev_periods > 0)
        json_double(w, a->prev_mean, 1);
    else
        json_null(w);
    json_key(w, "change_percent");
    if (a->prev_periods > 0 && a->prev_mean > 0)
        json_double(w, ((double)a->packets / a->prev_mean - 1) * 100, 1);
    else
        json_null(w);
    json_obj_end(w);
    json_key(w, "chart");
    if (a->image != SIZE_MAX)
        json_str(w, m->images[a->image].cid);
    else
        json_null(w);
    json_obj_end(w);
}

static void
event(const struct report_model *m, const struct report_event *ev, struct json_w *w)
{
    const struct report_model_analysis *a = &m->an[ev->analysis];
    const struct slot_result *r = &ev->r;
    char key[128];

    json_obj_begin(w);
    json_key(w, "analysis");
    json_str(w, a->cfg->name);
    time_member(w, "start", r->start);
    time_member(w, "end", r->end);
    json_key(w, "packets");
    json_uint(w, r->packets);
    json_key(w, "thresholds");
    json_arr_begin(w);
    for (size_t t = 0; t < r->n_th; t++) {
        const struct th_result *tr = &r->th[t];
        bool judged = tr->r.status == STAB_STABLE || tr->r.status == STAB_UNSTABLE;

        json_obj_begin(w);
        json_key(w, "threshold");
        json_double(w, tr->th.value, 6);
        json_key(w, "topn");
        json_uint(w, tr->topn);
        json_key(w, "status");
        json_str(w, stab_status_name(tr->r.status));
        if (tr->r.status == STAB_UNSTABLE) {
            json_key(w, "direction");
            json_str(w, stab_dir_name(tr->r.dir));
        }
        if (judged) {
            json_key(w, "mean");
            json_double(w, tr->r.mean, 6);
            json_key(w, "lower");
            json_double(w, tr->r.lower, 6);
            json_key(w, "upper");
            json_double(w, tr->r.upper, 6);
        }
        json_obj_end(w);
    }
    json_arr_end(w);
    if (ev->ex != NULL) {
        /* "changes", "detail" and "cause" as in the results document (docs/JSON.md) */
        explain_write_json(ev->ex, &a->layout, w);
    } else {
        json_key(w, "cause");
        json_obj_begin(w);
        json_key(w, "kind");
        json_str(w, report_cause_name(ev->cause));
        json_key(w, "groups");
        json_arr_begin(w);
        json_arr_end(w);
        json_key(w, "evidence");
        json_null(w);
        json_obj_end(w);
    }
    json_key(w, "drilldown");
    json_bool(w, ev->ex != NULL);
    json_key(w, "top");
    json_arr_begin(w);
    for (size_t i = 0; i < r->n_top; i++) {
        json_obj_begin(w);
        json_key(w, "group");
        json_str(w, report_key_label(&a->layout, r->top[i].key, key, sizeof(key)));
        json_key(w, "packets");
        json_uint(w, r->top[i].packets);
        json_key(w, "share");
        json_double(w, r->top[i].share, 4);
        json_obj_end(w);
    }
    json_arr_end(w);
    json_key(w, "chart");
    if (ev->image != SIZE_MAX)
        json_str(w, m->images[ev->image].cid);
    else
        json_null(w);
    json_obj_end(w);
}

void
report_doc_json(const struct report_model *m, struct strbuf *out)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    struct json_w w;

    if (fp == NULL)
        return;
    json_init(&w, fp, true);
    json_obj_begin(&w);
    json_key(&w, "version");
    json_int(&w, 1);
    json_key(&w, "generator");
    json_str(&w, "darkstab " DS_VERSION);
    json_key(&w, "title");
    json_str(&w, m->title);
    json_key(&w, "subject");
    json_str(&w, m->subject);
    json_key(&w, "timezone");
    json_str(&w, m->cfg->timezone);
    time_member(&w, "from", m->from);
    time_member(&w, "to", m->to);
    json_key(&w, "unstable");
    json_uint(&w, m->unstable);
    json_key(&w, "incomplete");
    json_uint(&w, m->incomplete);
    json_key(&w, "causes");
    json_obj_begin(&w);
    for (int c = 0; c < REPORT_CAUSES; c++) {
        json_key(&w, report_cause_name(c));
        json_uint(&w, m->causes[c]);
    }
    json_obj_end(&w);
    json_key(&w, "analyses");
    json_arr_begin(&w);
    for (size_t i = 0; i < m->n_an; i++)
        summary(m, &m->an[i], &w);
    json_arr_end(&w);
    json_key(&w, "events");
    json_arr_begin(&w);
    for (size_t i = 0; i < m->n_ev; i++)
        event(m, &m->ev[i], &w);
    json_arr_end(&w);
    json_key(&w, "images");
    json_arr_begin(&w);
    for (size_t i = 0; i < m->n_images; i++) {
        json_obj_begin(&w);
        json_key(&w, "cid");
        json_str(&w, m->images[i].cid);
        json_key(&w, "title");
        json_str(&w, m->images[i].title);
        json_key(&w, "width");
        json_int(&w, m->images[i].width);
        json_key(&w, "height");
        json_int(&w, m->images[i].height);
        json_key(&w, "bytes");
        json_uint(&w, m->images[i].len);
        json_obj_end(&w);
    }
    json_arr_end(&w);
    json_obj_end(&w);
    json_finish(&w);
    fclose(fp);
    strbuf_appendn(out, buf, len);
    free(buf);
}
