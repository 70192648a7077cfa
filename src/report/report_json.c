/*
 * The JSON report: the contract other tools rely on, every field documented
 * in docs/JSON.md.  Names are kept; fields are only ever added.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ds/explain.h"
#include "ds/json.h"
#include "ds/proto.h"
#include "ds/report.h"
#include "ds/tz.h"
#include "report_int.h"

#define REPORT_JSON_VERSION 1

struct json_ctx {
    struct json_w *w;
    const struct report_analysis *an;
};

static void
write_time_ms(struct json_w *w, const char *key, int64_t ms)
{
    char buf[TZ_RFC3339_LEN];

    json_key(w, key);
    json_str(w, tz_format_rfc3339_ms(ms, buf));
}

/* The members of a slot object, into the object open in w. */
static void
write_slot_members(struct json_w *w, const struct report_analysis *an,
                   const struct slot_result *r)
{
    char buf[TZ_RFC3339_LEN];

    json_key(w, "start");
    json_str(w, tz_format_rfc3339(r->start, buf));
    json_key(w, "end");
    json_str(w, tz_format_rfc3339(r->end, buf));
    json_key(w, "packets");
    json_uint(w, r->packets);
    json_key(w, "flows");
    json_uint(w, r->flows);
    json_key(w, "groups");
    json_uint(w, r->groups);
    json_key(w, "unstable");
    json_bool(w, slot_result_unstable(r));
    if (r->late_flows > 0) {
        json_key(w, "late_flows");
        json_uint(w, r->late_flows);
        json_key(w, "late_packets");
        json_uint(w, r->late_packets);
        /* its result was recomputed after it was first given */
        json_key(w, "revised");
        json_bool(w, true);
    }
    if (r->folded_packets > 0) {
        /* limits.groups: counted in packets, in no group (thresholds[].topn_max) */
        json_key(w, "folded");
        json_obj_begin(w);
        json_key(w, "packets");
        json_uint(w, r->folded_packets);
        json_key(w, "flows");
        json_uint(w, r->folded_flows);
        json_key(w, "share");
        json_double(w, 100.0 * (double)r->folded_packets / (double)r->packets, 4);
        json_obj_end(w);
    }
    if (r->completeness != NULL) {
        json_key(w, "incomplete");
        json_bool(w, r->incomplete);
        json_key(w, "completeness");
        json_raw(w, r->completeness);
    }
    json_key(w, "thresholds");
    json_arr_begin(w);
    for (size_t t = 0; t < r->n_th; t++) {
        const struct th_result *tr = &r->th[t];
        int judged = tr->r.status == STAB_STABLE || tr->r.status == STAB_UNSTABLE;

        json_obj_begin(w);
        json_key(w, "threshold");
        json_double(w, tr->th.value, 6);
        json_key(w, "topn");
        json_uint(w, tr->topn);
        if (r->folded_packets > 0) {
            json_key(w, "topn_max");
            json_uint(w, tr->topn + slot_result_folded_topn(r, &tr->th));
        }
        if (judged) {
            json_key(w, "mean");
            json_double(w, tr->r.mean, 6);
            json_key(w, "stddev");
            json_double(w, tr->r.stddev, 6);
            json_key(w, "lower");
            json_double(w, tr->r.lower, 6);
            json_key(w, "upper");
            json_double(w, tr->r.upper, 6);
        }
        json_key(w, "status");
        json_str(w, stab_status_name(tr->r.status));
        if (tr->r.status == STAB_UNSTABLE) {
            json_key(w, "direction");
            json_str(w, stab_dir_name(tr->r.dir));
        }
        json_obj_end(w);
    }
    json_arr_end(w);
    json_key(w, "top");
    json_arr_begin(w);
    for (size_t i = 0; i < r->n_top; i++) {
        const struct top_group *g = &r->top[i];
        char type[PTYPE_STRLEN];

        json_obj_begin(w);
        json_key(w, "key");
        key_write_json(an->layout, g->key, w);
        json_key(w, "packets");
        json_uint(w, g->packets);
        json_key(w, "flows");
        json_uint(w, g->flows);
        json_key(w, "share");
        json_double(w, g->share, 4);
        if (g->has_detail) {
            json_key(w, "src_addrs");
            json_uint(w, g->src_addrs);
            json_key(w, "src_addrs_estimated");
            json_bool(w, g->src_estimated);
            json_key(w, "dst_ports");
            json_uint(w, g->dst_ports);
            json_key(w, "dst_addrs");
            json_uint(w, g->dst_addrs);
            json_key(w, "dst_addrs_estimated");
            json_bool(w, g->dst_estimated);
            json_key(w, "type");
            json_str(w, ptype_format(g->type, type));
            write_time_ms(w, "first_seen", g->first_ms);
            write_time_ms(w, "last_seen", g->last_ms);
        } else {
            json_key(w, "src_addrs");
            json_null(w);
            json_key(w, "dst_ports");
            json_null(w);
            json_key(w, "dst_addrs");
            json_null(w);
            json_key(w, "type");
            json_null(w);
        }
        json_key(w, "partial");
        json_bool(w, g->partial || !g->has_detail);
        json_obj_end(w);
    }
    json_arr_end(w);
    /* the drill-down of an unstable slot: "changes", "detail", "cause" (docs/JSON.md) */
    if (r->explain != NULL)
        explain_write_json(r->explain, an->layout, w);
}

static enum ds_rc
write_slot(void *ctx, const struct slot_result *r)
{
    struct json_ctx *c = ctx;

    json_obj_begin(c->w);
    write_slot_members(c->w, c->an, r);
    json_obj_end(c->w);
    return DS_OK;
}

static void
write_input(struct json_w *w, const struct report_input *in)
{
    const struct ingest_stats *s = &in->ingest;

    json_key(w, "input");
    json_obj_begin(w);
    json_key(w, "files");
    json_uint(w, in->files);
    json_key(w, "records");
    json_uint(w, in->records);
    json_key(w, "counted");
    json_uint(w, in->counted);
    json_key(w, "outside_darknet");
    json_uint(w, in->outside_darknet);
    json_key(w, "excluded");
    json_uint(w, in->excluded);
    json_key(w, "malformed");
    json_uint(w, ingest_stats_malformed(s));
    json_key(w, "unusable");
    json_uint(w, in->unusable);
    json_key(w, "already_counted");
    json_uint(w, in->already_counted);
    json_key(w, "unreadable");
    json_uint(w, in->unreadable);
    json_key(w, "bytes");
    json_uint(w, s->bytes);
    json_key(w, "messages");
    json_uint(w, s->messages);
    json_key(w, "templates");
    json_uint(w, s->templates);
    json_key(w, "options_records");
    json_uint(w, s->options_records);
    json_key(w, "sampled_records");
    json_uint(w, in->norm.sampled);
    json_key(w, "malformed_detail");
    json_obj_begin(w);
    json_key(w, "messages");
    json_uint(w, s->bad_messages);
    json_key(w, "sets");
    json_uint(w, s->bad_sets);
    json_key(w, "templates");
    json_uint(w, s->bad_templates);
    json_key(w, "unknown_template_sets");
    json_uint(w, s->unknown_template_sets);
    json_key(w, "records");
    json_uint(w, s->bad_records);
    json_key(w, "skipped_bytes");
    json_uint(w, s->skipped_bytes);
    json_obj_end(w);
    json_key(w, "unusable_detail");
    json_obj_begin(w);
    json_key(w, "no_destination");
    json_uint(w, in->norm.no_addr);
    json_key(w, "no_time");
    json_uint(w, in->norm.no_time);
    json_key(w, "bad_time");
    json_uint(w, in->norm.bad_time);
    json_obj_end(w);
    json_obj_end(w);
}

/* The members of an analysis object that describe it, into the object open in w. */
static void
write_analysis_head(struct json_w *w, const struct cfg_analysis *a)
{
    char buf[KEYSPEC_STRLEN];

    json_key(w, "name");
    json_str(w, a->name);
    json_key(w, "keys");
    json_arr_begin(w);
    for (size_t k = 0; k < a->n_keys; k++)
        json_str(w, keyspec_format(&a->keys[k], buf));
    json_arr_end(w);
    json_key(w, "slot_seconds");
    json_int(w, a->slot_s);
    json_key(w, "window");
    json_int(w, a->window);
    json_key(w, "k_sigma");
    json_double(w, a->k_sigma.value, 6);
    json_key(w, "thresholds");
    json_arr_begin(w);
    for (size_t t = 0; t < a->n_thresholds; t++)
        json_double(w, a->thresholds[t].value, 6);
    json_arr_end(w);
    json_key(w, "stddev");
    json_str(w, a->stddev == CFG_STDDEV_SAMPLE ? "sample" : "population");
    json_key(w, "min_stddev");
    json_double(w, a->min_stddev.value, 6);
    json_key(w, "attribution");
    json_str(w, a->attribution == CFG_ATTR_SPREAD ? "spread" : "start");
}

static void
write_doc_head(struct json_w *w, const struct ds_cfg *cfg)
{
    json_key(w, "version");
    json_int(w, REPORT_JSON_VERSION);
    json_key(w, "generator");
    json_str(w, "darkstab " DS_VERSION);
    json_key(w, "timezone");
    json_str(w, cfg->timezone);
}

void
report_show_json(FILE *fp, const struct ds_cfg *cfg, const struct report_analysis *an,
                 const struct slot_result *r, const char *drilldown)
{
    struct json_w w;
    struct report_unavailable u[REPORT_UNAVAILABLE_MAX];
    size_t n_u = report_unavailable(r, u, REPORT_UNAVAILABLE_MAX);

    json_init(&w, fp, true);
    json_obj_begin(&w);
    write_doc_head(&w, cfg);
    json_key(&w, "analysis");
    json_obj_begin(&w);
    write_analysis_head(&w, an->cfg);
    json_obj_end(&w);
    json_key(&w, "slot");
    json_obj_begin(&w);
    write_slot_members(&w, an, r);
    json_key(&w, "drilldown");
    if (drilldown != NULL)
        json_str(&w, drilldown);
    else
        json_null(&w);
    json_key(&w, "unavailable");
    json_arr_begin(&w);
    for (size_t i = 0; i < n_u; i++) {
        json_obj_begin(&w);
        json_key(&w, "key");
        if (u[i].key != NULL)
            key_write_json(an->layout, u[i].key, &w);
        else
            json_null(&w);
        json_key(&w, u[i].what);
        json_null(&w);
        json_key(&w, "reason");
        json_str(&w, u[i].reason);
        json_obj_end(&w);
    }
    json_arr_end(&w);
    json_obj_end(&w);
    json_obj_end(&w);
    json_finish(&w);
}

static enum ds_rc
write_json(FILE *fp, const struct ds_cfg *cfg, const struct report_input *in,
           const struct report_analysis *an, size_t n_an, struct store *st,
           struct ds_error *err)
{
    struct json_w w;
    enum ds_rc rc = DS_OK;

    json_init(&w, fp, true);
    json_obj_begin(&w);
    write_doc_head(&w, cfg);
    if (in != NULL)
        write_input(&w, in);
    json_key(&w, "analyses");
    json_arr_begin(&w);
    for (size_t i = 0; i < n_an && rc == DS_OK; i++) {
        struct json_ctx c = {&w, &an[i]};

        json_obj_begin(&w);
        write_analysis_head(&w, an[i].cfg);
        if (in != NULL) {
            json_key(&w, "late_flows");
            json_uint(&w, an[i].late);
        }
        json_key(&w, "slots");
        json_arr_begin(&w);
        rc = report_each_slot(&an[i], st, write_slot, &c, err);
        json_arr_end(&w);
        json_obj_end(&w);
    }
    json_arr_end(&w);
    json_obj_end(&w);
    json_finish(&w);
    return rc;
}

const struct report_format report_format_json = {"json", write_json, report_doc_json};
