/*
 * The live collector (see ds/collect.h).
 *
 * Threads: the receive thread (ingest/listen.c) fills a ring; this file's
 * loop, on the caller's thread, decodes each datagram in its exporter's
 * session, normalises and filters the records, and hands the darknet flows
 * to the live pipeline, whose aggregation and store threads close, judge
 * and save the slots.  Once a second the loop moves the watermark, hands
 * over the exporter minutes, and notes exporters gone idle; every
 * collector.checkpoint it saves a checkpoint.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/ch_writer.h"
#include "ds/cluster_live.h"
#include "ds/archive.h"
#include "ds/archive_reread.h"
#include "ds/collect.h"
#include "ds/explain.h"
#include "ds/exporter_table.h"
#include "ds/httpd.h"
#include "ds/ingest.h"
#include "ds/json.h"
#include "ds/listen.h"
#include "ds/log.h"
#include "ds/mail.h"
#include "ds/norm.h"
#include "ds/pipeline.h"
#include "ds/prefix.h"
#include "ds/promtext.h"
#include "ds/strbuf.h"
#include "ds/store.h"
#include "ds/tz.h"
#include "ds/xmem.h"

#define TICK_MS 1000                /* watermark, minutes, idle exporters */
#define FLUSH_MS 100                /* flows handed over at least this often */
#define STOP_DRAIN_MS 30000         /* a stop waits this long at most for the receive thread */
#define WARN_EVERY_MS 10000         /* one warning per exporter this often, the rest counted */
#define RING_BYTES (64u << 20)
/* An exporter's clock never runs ahead of ours by more than this (a bogus future time). */
#define CLOCK_AHEAD_MS (60 * 1000)

struct exp_state {
    char key[STORE_EXPORTER_MAX];   /* "192.0.2.1 ipfix" */
    char text[ADDR_STRLEN];
    struct addr addr;
    enum ingest_proto proto;
    struct ingest_session *session; /* owned: its datagrams */
    struct norm_source *norm;       /* owned */
    int64_t last_seen;              /* wall clock, ms */
    int64_t event_ms;               /* its clock: the latest flow start counted */
    bool active;
    bool probation;                 /* no usable record yet (ds/exporter_table.h) */
    int64_t first_seen;             /* wall clock, ms */
    /* counts */
    uint64_t datagrams;
    uint64_t records;               /* data records decoded */
    uint64_t raw_packets;           /* their packet counts as sent, before sampling */
    uint64_t counted;
    uint64_t packets;               /* counted, after sampling */
    uint64_t outside;
    uint64_t excluded;
    uint64_t unusable;
    struct ingest_stats ist;
    uint64_t missed_done;           /* of the session's missed, already in minutes */
    uint64_t unknown_done;
    uint32_t rate;                  /* the sampling rate applied last */
    uint64_t rate_changes;
    double rec_per_s;               /* records per second, smoothed, to price a silence */
    struct store_minute acc;        /* the minute being counted, not handed over yet */
    int acc_used;
    int64_t warn_ms;
    uint64_t warn_suppressed;
};

/* What the metrics show of an exporter, copied once a second from the decoding thread. */
struct exp_snap {
    char key[STORE_EXPORTER_MAX];
    char text[ADDR_STRLEN];
    const char *proto;
    uint64_t datagrams, records, raw_packets, counted, packets, outside, excluded, unusable;
    uint64_t malformed, unknown_sets, missed, resets, templates;
    uint32_t rate;
    int64_t event_ms, last_seen;
    bool active;
};

/* A TCP connection: its own session (templates end with it, RFC 7011 8). */
struct stream {
    uint32_t conn;
    struct ingest_session *s;       /* owned */
    struct exp_state *e;            /* borrowed: the exporter it counts for */
    uint64_t missed_done;
};

struct collector {
    const struct ds_cfg *cfg;       /* borrowed: what the collector started with */
    struct ds_cfg *reloaded;        /* owned: the latest reloaded configuration */
    const struct ds_cfg *cur;       /* the reloadable keys are read here */
    struct listen_set *ls;
    struct store *st;
    struct pipeline *p;
    struct norm *norm;
    struct prefix_set *dark;        /* owned */
    struct exporter_table *exporters;   /* owned, and the struct exp_state in it */
    struct stream *streams;         /* owned */
    size_t n_streams;
    int64_t max_event_ms;
    bool idle_closed;               /* every exporter idle: the open slots were closed */
    /* restart */
    bool unclean;                   /* the last run ended without its final checkpoint */
    int64_t gap_from_ms;            /* its last checkpoint's clock */
    bool gap_open;                  /* waiting for the first record to close the gap */
    /* drops before any exporter session */
    uint64_t not_allowed;
    uint64_t not_flow;
    struct ingest_limits ingest_limits; /* limits.template*, pointing to template_pool */
    struct ingest_template_pool template_pool;
    struct ingest_stats gone_ist;   /* of the exporters evicted: their limits stay counted */
    int64_t probation_warn_ms;      /* their problems are logged once per WARN_EVERY_MS */
    uint64_t probation_suppressed;
    int64_t evict_warn_ms;          /* evictions are logged once per WARN_EVERY_MS */
    uint64_t evict_suppressed;
    /* read by the store thread */
    _Atomic int64_t max_loss_milli; /* collector.max_loss * 1000 */
    /* timers */
    int64_t next_tick;
    int64_t next_flush;
    int64_t next_checkpoint;
    /* the archive of darknet flows, and how many could not be written */
    struct archive *archive;
    uint64_t archive_errors;
    int64_t archive_warn_ms;
    /* store.backend clickhouse: the darknet records into the cluster, and its spool's errors */
    struct ch_writer *records;
    struct cluster_live *live;          /* live judging on the cluster (section 6) */
    uint64_t records_errors;
    int64_t records_warn_ms;
    uint64_t records_failures_told;
    int64_t records_wm_ms;              /* the last event-time watermark, for an idle row */
    /* metrics: a snapshot under snap_lock, served by httpd's thread */
    struct httpd *httpd;
    char *httpd_endpoint;
    pthread_mutex_t snap_lock;
    struct exp_snap *snap;
    size_t n_snap;
    uint64_t snap_not_allowed, snap_not_flow, snap_archive_errors;
    struct exporter_table_stats snap_table;
    struct ingest_stats snap_limits;    /* limit_* summed over the exporters, gone ones too */
    uint64_t snap_template_bytes;
    int64_t started;
    /* the nightly report mail (report.schedule); NULL when off */
    struct mailer *mailer;
    /* on a cluster: mailed from the view while this node judges, recorded in the cluster */
    char *mail_view;
    struct mail_ledger *mail_ledger;
};

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- exporters --------------------------------------------------------------- */

static void
exp_free(void *p)
{
    struct exp_state *e = p;

    if (e == NULL)
        return;
    ingest_session_free(e->session);
    norm_source_free(e->norm);
    free(e);
}

/* The sampling overrides of collector.sampling for the exporter's address. */
static void
apply_sampling(struct collector *c, struct exp_state *e)
{
    const struct cfg_sampling *sm = cfg_sampling_for(c->cur, &e->addr);

    norm_source_set_sampling(e->norm, sm ? (uint32_t)sm->default_rate : 0,
                             sm ? (uint32_t)sm->rate : 0);
}

/*
 * A new exporter, on probation unless established (restored from a
 * checkpoint); NULL if established and limits.exporters is full.
 */
static struct exp_state *
exp_new(struct collector *c, const struct addr *a, enum ingest_proto proto, bool established,
        int64_t now)
{
    struct exp_state *e = xcalloc(1, sizeof(*e));

    e->addr = *a;
    e->proto = proto;
    addr_format(a, e->text);
    snprintf(e->key, sizeof(e->key), "%s %s", e->text, ingest_proto_name(proto));
    e->session = ingest_session_new(proto);
    ingest_session_set_limits(e->session, &c->ingest_limits);
    e->norm = norm_source_new(c->norm, a);
    apply_sampling(c, e);
    e->active = true;
    e->probation = !established;
    e->first_seen = now;
    if (!exporter_table_add(c->exporters, a, (int)proto, e, established, now)) {
        exp_free(e);
        return NULL;
    }
    return e;
}

static size_t
exp_count(const struct collector *c)
{
    return exporter_table_count(c->exporters);
}

static struct exp_state *
exp_at(const struct collector *c, size_t i)
{
    return exporter_table_at(c->exporters, i);
}

static struct stream *
stream_find(struct collector *c, uint32_t conn)
{
    for (size_t i = 0; i < c->n_streams; i++)
        if (c->streams[i].conn == conn)
            return &c->streams[i];
    return NULL;
}

static void
stream_drop(struct collector *c, struct stream *st)
{
    ingest_session_free(st->s);
    *st = c->streams[--c->n_streams];
}

/*
 * The table gives e up (ds/exporter_table.h): its TCP sessions go with it
 * (the connections stay; their next message finds a new exporter), and
 * so does the minute it was counting.
 */
static void
exp_evicted(void *ctx, void *entry, const char *why)
{
    struct collector *c = ctx;
    struct exp_state *e = entry;
    int64_t now = wall_ms();

    for (size_t i = 0; i < c->n_streams;)
        if (c->streams[i].e == e)
            stream_drop(c, &c->streams[i]);
        else
            i++;
    if (now - c->evict_warn_ms >= WARN_EVERY_MS) {
        if (strcmp(why, "probation") == 0)
            log_warnx("collect: limits.probation (%lld) reached: exporter %s, first seen %llds "
                      "ago, %" PRIu64 " datagrams and no usable record, evicted for a newcomer "
                      "(%" PRIu64 " more evictions since the last warning)",
                      (long long)c->cfg->limits.probation, e->key,
                      (long long)((now - e->first_seen) / 1000), e->datagrams,
                      c->evict_suppressed);
        else
            log_warnx("collect: limits.exporters (%lld) reached: exporter %s, silent for %llds, "
                      "gives its place to one that delivers records (%" PRIu64 " more "
                      "evictions since the last warning)",
                      (long long)c->cfg->limits.exporters, e->key,
                      (long long)((now - e->last_seen) / 1000), c->evict_suppressed);
        c->evict_warn_ms = now;
        c->evict_suppressed = 0;
    } else {
        c->evict_suppressed++;
    }
    ingest_stats_add(&c->gone_ist, &e->ist);
    exp_free(e);
}

/*
 * A warning about an exporter, at most one per WARN_EVERY_MS; the rest are
 * counted.  Senders on probation share one such allowance: a flood from
 * thousands of addresses writes one line every WARN_EVERY_MS, not one each.
 */
static void
exp_warn(struct collector *c, struct exp_state *e, int64_t now, const char *what)
{
    if (e->probation) {
        if (now - c->probation_warn_ms < WARN_EVERY_MS) {
            c->probation_suppressed++;
            return;
        }
        log_warnx("collect: sender %s (on probation): %s (and %" PRIu64 " more problems of "
                  "senders on probation since the last warning)",
                  e->key, what, c->probation_suppressed);
        c->probation_warn_ms = now;
        c->probation_suppressed = 0;
        return;
    }
    if (now - e->warn_ms < WARN_EVERY_MS) {
        e->warn_suppressed++;
        return;
    }
    if (e->warn_suppressed > 0)
        log_warnx("collect: exporter %s: %s (and %" PRIu64 " more problems since the last "
                  "warning)",
                  e->key, what, e->warn_suppressed);
    else
        log_warnx("collect: exporter %s: %s", e->key, what);
    e->warn_ms = now;
    e->warn_suppressed = 0;
}

/* ---- exporter minutes (completeness) ---------------------------------------------- */

static void
acc_start(struct exp_state *e, int64_t minute)
{
    memset(&e->acc, 0, sizeof(e->acc));
    snprintf(e->acc.exporter, sizeof(e->acc.exporter), "%s", e->key);
    e->acc.minute = minute;
    e->acc.rate = e->rate > 1 ? e->rate : 0;
    e->acc_used = 0;
}

/* The minutes gathered so far, handed to the store thread (added to what is stored). */
static void
push_minutes(struct collector *c)
{
    for (size_t i = 0; i < exp_count(c); i++) {
        struct exp_state *e = exp_at(c, i);

        /* a sender's problems count from its first usable record on */
        if (!e->acc_used || e->probation)
            continue;
        pipeline_add_minute(c->p, &e->acc);
        acc_start(e, e->acc.minute);
    }
}

/* The exporter's clock moves to minute: the minute before goes out whole. */
static void
acc_at(struct collector *c, struct exp_state *e, int64_t minute)
{
    if (e->acc.minute == minute)
        return;
    if (e->acc_used && !e->probation)
        pipeline_add_minute(c->p, &e->acc);
    acc_start(e, minute);
}

static int64_t
exp_minute(const struct exp_state *e, int64_t now)
{
    /* before any record, the exporter's minute is our own */
    return (e->event_ms > 0 ? e->event_ms : now) / 60000;
}

/* ---- decoding ------------------------------------------------------------------- */

struct rec_ctx {
    struct collector *c;
    struct exp_state *e;
    int64_t now;
};

static void
on_record(void *arg, const struct ipfix_record *rec)
{
    struct rec_ctx *x = arg;
    struct collector *c = x->c;
    struct exp_state *e = x->e;
    struct flow f;
    int64_t clock;

    if (!rec->options) {
        e->records++;
        if (rec->present & IPF_BIT(IPF_PKT_DELTA))
            e->raw_packets += rec->f->pkt_delta;
        else if (rec->present & IPF_BIT(IPF_PKT_TOTAL))
            e->raw_packets += rec->f->pkt_total;
    }
    switch (norm_source_record(e->norm, rec, &f)) {
    case NORM_FLOW:
        if (e->probation &&
            exporter_table_promote(c->exporters, &e->addr, (int)e->proto, x->now)) {
            e->probation = false;
            log_info("collect: new exporter %s: delivers records", e->key);
        }
        break;
    case NORM_OPTIONS:
        return;
    default:
        e->unusable++;
        e->acc.records++;
        e->acc_used = 1;
        return;
    }
    /* a sampling rate that changes is noted in the slot's completeness */
    if (f.sampling != e->rate) {
        if (e->rate != 0) {
            e->rate_changes++;
            e->acc.rate_changes++;
        }
        e->rate = f.sampling;
        e->acc.rate = f.sampling > 1 ? f.sampling : 0;
    }
    clock = f.start_ms < x->now + CLOCK_AHEAD_MS ? f.start_ms : x->now + CLOCK_AHEAD_MS;
    if (clock > e->event_ms) {
        e->event_ms = clock;
        acc_at(c, e, clock / 60000);
    }
    if (clock > c->max_event_ms)
        c->max_event_ms = clock;
    if (c->gap_open) {
        struct store_gap g;

        /* the first record since an unclean stop closes the stretch that may be missing */
        g.from_ms = c->gap_from_ms;
        g.to_ms = f.start_ms > c->gap_from_ms ? f.start_ms : c->gap_from_ms + 1;
        if (c->gap_from_ms > 0)
            snprintf(g.reason, sizeof(g.reason),
                     "the collector stopped without saving; records up to %llds after its last "
                     "checkpoint may be missing",
                     (long long)((g.to_ms - g.from_ms) / 1000));
        else
            snprintf(g.reason, sizeof(g.reason),
                     "the collector stopped without saving before it saved a record; records "
                     "before this one may be missing");
        pipeline_push_gap(c->p, &g);
        c->gap_open = false;
    }
    e->acc.records++;
    e->acc_used = 1;
    switch (prefix_set_classify(c->dark, &f.dst)) {
    case PREFIX_DARK:
        break;
    case PREFIX_OUTSIDE:
        e->outside++;
        return;
    case PREFIX_EXCLUDED:
        e->excluded++;
        return;
    }
    e->counted++;
    e->packets += f.packets;
    pipeline_add_flow(c->p, &f);
    if (c->records != NULL) {
        struct ds_error err;

        /* a spool that cannot be written (a full disk) loses the record for the cluster only */
        if (ch_writer_add(c->records, &f, &err) != DS_OK) {
            __atomic_fetch_add(&c->records_errors, 1, __ATOMIC_RELAXED);
            if (x->now - c->records_warn_ms >= WARN_EVERY_MS) {
                log_warnx("collect: %s", err.msg);
                c->records_warn_ms = x->now;
            }
        }
    }
    if (c->archive != NULL) {
        struct ds_error err;

        if (archive_add(c->archive, &f, x->now / 1000, &err) != DS_OK) {
            c->archive_errors++;
            if (x->now - c->archive_warn_ms >= WARN_EVERY_MS) {
                log_warnx("collect: %s", err.msg);
                c->archive_warn_ms = x->now;
            }
        }
    }
}

/* What the session found since last time goes into the exporter's minute. */
static void
account_session(struct exp_state *e)
{
    const struct ingest_session_stats *ss = ingest_session_get_stats(e->session);

    if (ss->missed > e->missed_done) {
        e->acc.missed += ss->missed - e->missed_done;
        e->acc_used = 1;
    }
    e->missed_done = ss->missed;
    if (e->ist.unknown_template_sets > e->unknown_done) {
        e->acc.unknown_sets += e->ist.unknown_template_sets - e->unknown_done;
        e->acc_used = 1;
    }
    e->unknown_done = e->ist.unknown_template_sets;
}

static bool
allowed(const struct cfg_cidrs *allow, const struct addr *a)
{
    for (size_t i = 0; i < allow->n; i++)
        if (cidr_contains(&allow->v[i], a))
            return true;
    return false;
}

static void
handle_item(struct collector *c, const struct listen_item *it, int64_t now)
{
    struct rec_ctx x = {c, NULL, now};
    struct exp_state *e;
    struct ds_error err;
    enum ds_rc rc;
    int proto;
    uint64_t recs;

    if (!allowed(&c->cur->allow, &it->from)) {
        c->not_allowed++;
        return;
    }
    if (it->event == LISTEN_DATAGRAM) {
        proto = ingest_detect(it->data, it->len);
        if (proto < 0) {
            c->not_flow++;
            return;
        }
    } else {
        proto = INGEST_IPFIX;
    }
    if (it->event == LISTEN_STREAM_CLOSE) {
        struct stream *st = stream_find(c, it->conn);

        if (st != NULL) {
            log_info("collect: exporter %s: connection closed", st->e->key);
            /* its templates end with it (RFC 7011 8); the exporter's counts stay */
            stream_drop(c, st);
        }
        return;
    }
    e = exporter_table_find(c->exporters, &it->from, proto, now);
    if (e == NULL) {
        /* on probation: always room, the oldest on probation makes it */
        e = exp_new(c, &it->from, (enum ingest_proto)proto, false, now);
        acc_start(e, now / 60000);
        log_debug("collect: new sender %s on %s, on probation until it delivers a record",
                  e->key, listen_name(c->ls, it->listener));
    }
    if (!e->active) {
        e->active = true;
        log_info("collect: exporter %s is back", e->key);
    } else if (e->last_seen > 0 && now - e->last_seen > c->cur->silence_s * 1000) {
        /* a silence: what it would have sent, from its usual rate */
        int64_t silent_s = (now - e->last_seen) / 1000;

        acc_at(c, e, exp_minute(e, now));
        e->acc.silent_s += (uint64_t)silent_s;
        e->acc.silence_missed += (uint64_t)llround(e->rec_per_s * (double)silent_s);
        e->acc_used = 1;
    }
    x.e = e;
    e->datagrams++;
    recs = e->records;
    if (it->event == LISTEN_STREAM_DATA) {
        struct stream *st = stream_find(c, it->conn);
        const struct ingest_session_stats *ss;

        if (st == NULL) {
            c->streams = xreallocarray(c->streams, c->n_streams + 1, sizeof(*c->streams));
            st = &c->streams[c->n_streams++];
            st->conn = it->conn;
            st->s = ingest_session_new(INGEST_IPFIX);
            ingest_session_set_limits(st->s, &c->ingest_limits);
            st->e = e;
            st->missed_done = 0;
            log_info("collect: exporter %s: connection %u", e->key, it->conn);
        }
        rc = ingest_session_stream(st->s, it->data, it->len, it->recv_ms, on_record, &x, &e->ist,
                                   &err);
        ss = ingest_session_get_stats(st->s);
        if (ss->missed > st->missed_done) {
            e->acc.missed += ss->missed - st->missed_done;
            e->acc_used = 1;
        }
        st->missed_done = ss->missed;
    } else
        rc = ingest_session_datagram(e->session, it->data, it->len, it->recv_ms, on_record, &x,
                                     &e->ist, &err);
    if (rc != DS_OK)
        exp_warn(c, e, now, err.msg);
    account_session(e);
    /* records per second, smoothed over about a minute of datagrams */
    if (e->last_seen > 0 && now > e->last_seen) {
        double dt = (double)(now - e->last_seen) / 1000.0;
        double inst = (double)(e->records - recs) / dt;
        double a = dt / 60.0 < 1.0 ? dt / 60.0 : 1.0;

        e->rec_per_s += a * (inst - e->rec_per_s);
    } else if (e->last_seen == 0) {
        e->rec_per_s = 0;
    }
    e->last_seen = now;
}

/* ---- metrics --------------------------------------------------------------------------- */

/* The exporters' counts, for the metrics thread. */
static void
publish(struct collector *c)
{
    size_t n = exp_count(c);
    struct exp_snap *s = n ? xcalloc(n, sizeof(*s)) : NULL;
    struct ingest_stats lim = c->gone_ist;

    for (size_t i = 0; i < n; i++) {
        const struct exp_state *e = exp_at(c, i);
        const struct ingest_session_stats *ss = ingest_session_get_stats(e->session);

        snprintf(s[i].key, sizeof(s[i].key), "%s", e->key);
        snprintf(s[i].text, sizeof(s[i].text), "%s", e->text);
        s[i].proto = ingest_proto_name(e->proto);
        s[i].datagrams = e->datagrams;
        s[i].records = e->records;
        s[i].raw_packets = e->raw_packets;
        s[i].counted = e->counted;
        s[i].packets = e->packets;
        s[i].outside = e->outside;
        s[i].excluded = e->excluded;
        s[i].unusable = e->unusable;
        s[i].malformed = ingest_stats_malformed(&e->ist);
        s[i].unknown_sets = e->ist.unknown_template_sets;
        s[i].missed = ss->missed;
        s[i].resets = ss->resets;
        s[i].templates = ingest_session_templates(e->session);
        s[i].rate = e->rate ? e->rate : 1;
        s[i].event_ms = e->event_ms;
        s[i].last_seen = e->last_seen;
        s[i].active = e->active;
        ingest_stats_add(&lim, &e->ist);
    }
    pthread_mutex_lock(&c->snap_lock);
    free(c->snap);
    c->snap = s;
    c->n_snap = n;
    c->snap_not_allowed = c->not_allowed;
    c->snap_not_flow = c->not_flow;
    c->snap_table = *exporter_table_get_stats(c->exporters);
    c->snap_limits = lim;
    c->snap_template_bytes = c->template_pool.held;
    c->snap_archive_errors = c->archive_errors;
    pthread_mutex_unlock(&c->snap_lock);
}

/* One counter per exporter. */
static void
exp_family(struct strbuf *b, struct strbuf *lb, const struct exp_snap *s, size_t n,
           const char *name, const char *type, const char *help, size_t off)
{
    prom_family(b, name, type, help);
    for (size_t i = 0; i < n; i++) {
        uint64_t v = *(const uint64_t *)(const void *)((const char *)&s[i] + off);

        prom_labels(lb, "exporter", s[i].text, "protocol", s[i].proto, NULL);
        prom_sample_u64(b, name, strbuf_str(lb), v);
    }
}

static void
render(void *ctx, struct strbuf *b)
{
    struct collector *c = ctx;
    struct strbuf lb = STRBUF_INIT;
    char th[32];
    size_t used, size;

    prom_family(b, "darkstab_start_time_seconds", "gauge", "when the collector started");
    prom_sample_u64(b, "darkstab_start_time_seconds", NULL, (uint64_t)c->started);
    pthread_mutex_lock(&c->snap_lock);
    exp_family(b, &lb, c->snap, c->n_snap, "darkstab_exporter_datagrams_total", "counter",
               "datagrams (or stream messages) received from the exporter",
               offsetof(struct exp_snap, datagrams));
    exp_family(b, &lb, c->snap, c->n_snap, "darkstab_exporter_records_total", "counter",
               "flow records decoded (options records aside)",
               offsetof(struct exp_snap, records));
    exp_family(b, &lb, c->snap, c->n_snap, "darkstab_exporter_received_packets_total", "counter",
               "the packet counts of the records decoded, as sent (before sampling)",
               offsetof(struct exp_snap, raw_packets));
    exp_family(b, &lb, c->snap, c->n_snap, "darkstab_exporter_counted_records_total", "counter",
               "records counted in the darknet", offsetof(struct exp_snap, counted));
    exp_family(b, &lb, c->snap, c->n_snap, "darkstab_exporter_counted_packets_total", "counter",
               "packets counted in the darknet, scaled by sampling",
               offsetof(struct exp_snap, packets));
    exp_family(b, &lb, c->snap, c->n_snap, "darkstab_exporter_missed_records_total", "counter",
               "records the exporter sent that never arrived, from its sequence numbers",
               offsetof(struct exp_snap, missed));
    exp_family(b, &lb, c->snap, c->n_snap, "darkstab_exporter_restarts_total", "counter",
               "exporter restarts seen in its sequence numbers or uptime",
               offsetof(struct exp_snap, resets));
    prom_family(b, "darkstab_exporter_dropped_total", "counter",
                "what was not counted, by reason: malformed (messages, sets, templates or "
                "records refused), unknown_template (data sets), outside_darknet, excluded, "
                "unusable (records)");
    for (size_t i = 0; i < c->n_snap; i++) {
        static const struct {
            const char *reason;
            size_t off;
        } why[] = {
            {"malformed", offsetof(struct exp_snap, malformed)},
            {"unknown_template", offsetof(struct exp_snap, unknown_sets)},
            {"outside_darknet", offsetof(struct exp_snap, outside)},
            {"excluded", offsetof(struct exp_snap, excluded)},
            {"unusable", offsetof(struct exp_snap, unusable)},
        };

        for (size_t k = 0; k < sizeof(why) / sizeof(why[0]); k++) {
            prom_labels(&lb, "exporter", c->snap[i].text, "protocol", c->snap[i].proto,
                        "reason", why[k].reason, NULL);
            prom_sample_u64(b, "darkstab_exporter_dropped_total", strbuf_str(&lb),
                            *(const uint64_t *)(const void *)((const char *)&c->snap[i] +
                                                              why[k].off));
        }
    }
    exp_family(b, &lb, c->snap, c->n_snap, "darkstab_exporter_templates", "gauge",
               "templates known for the exporter (IPFIX, NetFlow v9)",
               offsetof(struct exp_snap, templates));
    prom_family(b, "darkstab_exporter_sampling_rate", "gauge",
                "the sampling rate applied to the exporter's packet counts (1 in N)");
    for (size_t i = 0; i < c->n_snap; i++) {
        prom_labels(&lb, "exporter", c->snap[i].text, "protocol", c->snap[i].proto, NULL);
        prom_sample_u64(b, "darkstab_exporter_sampling_rate", strbuf_str(&lb), c->snap[i].rate);
    }
    prom_family(b, "darkstab_exporter_clock_seconds", "gauge",
                "the exporter's event clock: the latest flow start counted");
    for (size_t i = 0; i < c->n_snap; i++) {
        prom_labels(&lb, "exporter", c->snap[i].text, "protocol", c->snap[i].proto, NULL);
        prom_sample_f(b, "darkstab_exporter_clock_seconds", strbuf_str(&lb),
                      (double)c->snap[i].event_ms / 1000.0);
    }
    prom_family(b, "darkstab_exporter_last_seen_seconds", "gauge",
                "when the exporter last sent anything (wall clock)");
    for (size_t i = 0; i < c->n_snap; i++) {
        prom_labels(&lb, "exporter", c->snap[i].text, "protocol", c->snap[i].proto, NULL);
        prom_sample_f(b, "darkstab_exporter_last_seen_seconds", strbuf_str(&lb),
                      (double)c->snap[i].last_seen / 1000.0);
    }
    prom_family(b, "darkstab_exporter_active", "gauge",
                "1 while the exporter holds slots open (it sent within collector.idle_close)");
    for (size_t i = 0; i < c->n_snap; i++) {
        prom_labels(&lb, "exporter", c->snap[i].text, "protocol", c->snap[i].proto, NULL);
        prom_sample_u64(b, "darkstab_exporter_active", strbuf_str(&lb), c->snap[i].active);
    }
    prom_family(b, "darkstab_dropped_total", "counter",
                "datagrams dropped before any exporter session: not_allowed (collector.allow), "
                "not_flow_export (not IPFIX, NetFlow or sFlow); and "
                "archive_error (flows the archive could not write)");
    prom_sample_u64(b, "darkstab_dropped_total", prom_labels(&lb, "reason", "not_allowed", NULL),
                    c->snap_not_allowed);
    prom_sample_u64(b, "darkstab_dropped_total",
                    prom_labels(&lb, "reason", "not_flow_export", NULL), c->snap_not_flow);
    prom_sample_u64(b, "darkstab_dropped_total",
                    prom_labels(&lb, "reason", "archive_error", NULL), c->snap_archive_errors);
    prom_family(b, "darkstab_exporters", "gauge",
                "exporters known: established (delivered a usable record) or on probation");
    prom_sample_u64(b, "darkstab_exporters", prom_labels(&lb, "state", "established", NULL),
                    c->snap_table.established);
    prom_sample_u64(b, "darkstab_exporters", prom_labels(&lb, "state", "probation", NULL),
                    c->snap_table.probation);
    prom_family(b, "darkstab_template_bytes", "gauge",
                "bytes held by the templates of every exporter and TCP connection, as "
                "limits.template_memory_total counts them");
    prom_sample_u64(b, "darkstab_template_bytes", NULL, c->snap_template_bytes);
    prom_family(b, "darkstab_exporter_evictions_total", "counter",
                "exporters given up: on probation for a newcomer (limits.probation), or "
                "established and idle for one that delivers records (limits.exporters)");
    prom_sample_u64(b, "darkstab_exporter_evictions_total",
                    prom_labels(&lb, "reason", "probation", NULL),
                    c->snap_table.evicted_probation);
    prom_sample_u64(b, "darkstab_exporter_evictions_total",
                    prom_labels(&lb, "reason", "idle", NULL), c->snap_table.evicted_idle);
    {
        struct listen_stats tot, ls;

        memset(&tot, 0, sizeof(tot));
        for (size_t i = 0; i < listen_count(c->ls); i++) {
            listen_get_stats(c->ls, i, &ls);
            tot.refused += ls.refused;
            tot.evicted += ls.evicted;
            tot.message_timeouts += ls.message_timeouts;
        }
        prom_family(b, "darkstab_limit_reached_total", "counter",
                    "times a limit of the limits section was reached, by its key");
#define LIMIT_SAMPLE(key, v)                                                                     \
    prom_sample_u64(b, "darkstab_limit_reached_total", prom_labels(&lb, "limit", key, NULL), (v))
        LIMIT_SAMPLE("limits.exporters",
                     c->snap_table.evicted_idle + c->snap_table.promotions_refused);
        LIMIT_SAMPLE("limits.probation", c->snap_table.evicted_probation);
        LIMIT_SAMPLE("limits.templates", c->snap_limits.limit_templates);
        LIMIT_SAMPLE("limits.template_fields", c->snap_limits.limit_fields);
        LIMIT_SAMPLE("limits.template_memory", c->snap_limits.limit_template_memory);
        LIMIT_SAMPLE("limits.template_memory_total", c->snap_limits.limit_template_total);
        LIMIT_SAMPLE("limits.tcp_connections", tot.evicted + tot.refused);
        LIMIT_SAMPLE("limits.tcp_message_timeout", tot.message_timeouts);
        {
            uint64_t folded = 0;

            /* once for every slot closed with flows folded */
            for (size_t i = 0; i < c->cfg->n_analyses; i++) {
                struct pipeline_live_analysis la;

                pipeline_live_status(c->p, i, &la);
                folded += la.slots_folded;
            }
            LIMIT_SAMPLE("limits.groups", folded);
        }
#undef LIMIT_SAMPLE
    }
    pthread_mutex_unlock(&c->snap_lock);

    /* the sockets */
    {
        static const struct {
            const char *name, *type, *help;
            size_t off;
        } fam[] = {
            {"darkstab_socket_datagrams_total", "counter",
             "datagrams, SCTP messages or TCP reads taken from the socket",
             offsetof(struct listen_stats, datagrams)},
            {"darkstab_socket_bytes_total", "counter", "bytes taken from the socket",
             offsetof(struct listen_stats, bytes)},
            {"darkstab_socket_kernel_drops_total", "counter",
             "datagrams the kernel dropped, the socket buffer being full (SO_RXQ_OVFL)",
             offsetof(struct listen_stats, kernel_drops)},
            {"darkstab_socket_ring_waits_total", "counter",
             "times the receive thread waited for the decoding thread",
             offsetof(struct listen_stats, ring_waits)},
            {"darkstab_socket_tcp_connections", "gauge", "TCP connections open",
             offsetof(struct listen_stats, open_connections)},
        };

        for (size_t k = 0; k < sizeof(fam) / sizeof(fam[0]); k++) {
            prom_family(b, fam[k].name, fam[k].type, fam[k].help);
            for (size_t i = 0; i < listen_count(c->ls); i++) {
                struct listen_stats ls;

                listen_get_stats(c->ls, i, &ls);
                prom_labels(&lb, "listener", listen_name(c->ls, i), NULL);
                prom_sample_u64(b, fam[k].name, strbuf_str(&lb),
                                *(const uint64_t *)(const void *)((const char *)&ls +
                                                                  fam[k].off));
            }
        }
        prom_family(b, "darkstab_socket_receive_buffer_bytes", "gauge",
                    "the receive buffer the kernel granted the socket");
        for (size_t i = 0; i < listen_count(c->ls); i++) {
            struct listen_stats ls;

            listen_get_stats(c->ls, i, &ls);
            prom_labels(&lb, "listener", listen_name(c->ls, i), NULL);
            prom_sample_u64(b, "darkstab_socket_receive_buffer_bytes", strbuf_str(&lb),
                            (uint64_t)(ls.rcvbuf > 0 ? ls.rcvbuf : 0));
        }
    }
    listen_ring_use(c->ls, &used, &size);
    prom_family(b, "darkstab_ring_used_bytes", "gauge",
                "bytes received and not yet decoded (of darkstab_ring_size_bytes)");
    prom_sample_u64(b, "darkstab_ring_used_bytes", NULL, used);
    prom_family(b, "darkstab_ring_size_bytes", "gauge", "the ring between receiving and decoding");
    prom_sample_u64(b, "darkstab_ring_size_bytes", NULL, size);

    /* the analyses */
    {
        struct pipeline_live_analysis la[CFG_ANALYSES_MAX];
        size_t n = c->cfg->n_analyses;

        for (size_t i = 0; i < n; i++)
            pipeline_live_status(c->p, i, &la[i]);
        prom_family(b, "darkstab_open_slots", "gauge", "slots open, waiting for their records");
        for (size_t i = 0; i < n; i++)
            prom_sample_u64(b, "darkstab_open_slots",
                            prom_labels(&lb, "analysis", c->cfg->analyses[i].name, NULL),
                            la[i].open_slots);
        prom_family(b, "darkstab_slots_closed_total", "counter", "slots closed and judged");
        for (size_t i = 0; i < n; i++)
            prom_sample_u64(b, "darkstab_slots_closed_total",
                            prom_labels(&lb, "analysis", c->cfg->analyses[i].name, NULL),
                            la[i].slots_closed);
        prom_family(b, "darkstab_slots_revised_total", "counter",
                    "closed slots judged again after late records");
        for (size_t i = 0; i < n; i++)
            prom_sample_u64(b, "darkstab_slots_revised_total",
                            prom_labels(&lb, "analysis", c->cfg->analyses[i].name, NULL),
                            la[i].slots_revised);
        {
            uint64_t errors;
            bool failing;

            pipeline_live_store(c->p, &errors, &failing);
            prom_family(b, "darkstab_store_errors_total", "counter",
                        "writes to the store that failed (a full disk, say); counting goes on "
                        "in memory");
            prom_sample_u64(b, "darkstab_store_errors_total", NULL, errors);
            prom_family(b, "darkstab_store_failing", "gauge",
                        "1 while the store's last write failed, 0 once a commit succeeds");
            prom_sample_u64(b, "darkstab_store_failing", NULL, failing ? 1 : 0);
        }
        if (c->records != NULL) {
            struct ch_writer_stats ws;

            ch_writer_stats(c->records, &ws);
            prom_family(b, "darkstab_clickhouse_records_total", "counter",
                        "darknet records put in batches for the ClickHouse cluster");
            prom_sample_u64(b, "darkstab_clickhouse_records_total", NULL, ws.rows);
            prom_family(b, "darkstab_clickhouse_batches_total", "counter",
                        "batches the cluster took (sent) or already had (present)");
            prom_sample_u64(b, "darkstab_clickhouse_batches_total",
                            prom_labels(&lb, "result", "sent", NULL), ws.batches_sent);
            prom_sample_u64(b, "darkstab_clickhouse_batches_total",
                            prom_labels(&lb, "result", "present", NULL), ws.batches_present);
            prom_family(b, "darkstab_clickhouse_send_failures_total", "counter",
                        "attempts to send a batch that failed (it waits in the spool)");
            prom_sample_u64(b, "darkstab_clickhouse_send_failures_total", NULL,
                            ws.send_failures);
            prom_family(b, "darkstab_clickhouse_spooled_batches", "gauge",
                        "batches in the spool, not yet taken by the cluster");
            prom_sample_u64(b, "darkstab_clickhouse_spooled_batches", NULL, ws.batches_spooled);
            prom_family(b, "darkstab_clickhouse_spool_bytes", "gauge",
                        "bytes in the spool (at most store.clickhouse.spool_max)");
            prom_sample_u64(b, "darkstab_clickhouse_spool_bytes", NULL, ws.spool_bytes);
            prom_family(b, "darkstab_clickhouse_spool_errors_total", "counter",
                        "records or batches the spool could not write (the cluster lacks them)");
            prom_sample_u64(b, "darkstab_clickhouse_spool_errors_total", NULL,
                            __atomic_load_n(&c->records_errors, __ATOMIC_RELAXED));
        }
        if (c->live != NULL) {
            struct cluster_live_stats ls;

            cluster_live_get_stats(c->live, &ls);
            prom_family(b, "darkstab_cluster_judging", "gauge",
                        "1 while this node is the one that judges the cluster's slots");
            prom_sample_u64(b, "darkstab_cluster_judging", NULL, ls.judging ? 1 : 0);
            prom_family(b, "darkstab_cluster_nodes", "gauge",
                        "nodes by their latest watermark row: alive (idle ones included), "
                        "idle, missing (older than collector.idle_close)");
            prom_sample_u64(b, "darkstab_cluster_nodes", prom_labels(&lb, "state", "alive", NULL),
                            ls.alive);
            prom_sample_u64(b, "darkstab_cluster_nodes", prom_labels(&lb, "state", "idle", NULL),
                            ls.idle);
            prom_sample_u64(b, "darkstab_cluster_nodes",
                            prom_labels(&lb, "state", "missing", NULL), ls.missing);
            if (ls.watermark_ms != INT64_MIN) {
                prom_family(b, "darkstab_cluster_watermark_seconds", "gauge",
                            "every node's records are in up to here (event time)");
                prom_sample_f(b, "darkstab_cluster_watermark_seconds", NULL,
                              (double)ls.watermark_ms / 1000.0);
            }
            prom_family(b, "darkstab_cluster_judged_slots_total", "counter",
                        "slots this node judged from every node's records");
            prom_sample_u64(b, "darkstab_cluster_judged_slots_total", NULL, ls.judged_slots);
            prom_family(b, "darkstab_cluster_judge_failures_total", "counter",
                        "rounds of live judging that failed (tried again)");
            prom_sample_u64(b, "darkstab_cluster_judge_failures_total", NULL, ls.failures);
        }
        prom_family(b, "darkstab_folded_packets_total", "counter",
                    "packets of flows past limits.groups, in their slot but in no group");
        for (size_t i = 0; i < n; i++)
            prom_sample_u64(b, "darkstab_folded_packets_total",
                            prom_labels(&lb, "analysis", c->cfg->analyses[i].name, NULL),
                            la[i].folded_packets);
        prom_family(b, "darkstab_late_flows_total", "counter",
                    "flows that came for a slot already closed (added to it, never dropped)");
        for (size_t i = 0; i < n; i++)
            prom_sample_u64(b, "darkstab_late_flows_total",
                            prom_labels(&lb, "analysis", c->cfg->analyses[i].name, NULL),
                            la[i].late_flows);
        prom_family(b, "darkstab_last_slot_start_seconds", "gauge",
                    "start of the latest slot judged");
        for (size_t i = 0; i < n; i++)
            prom_sample_u64(b, "darkstab_last_slot_start_seconds",
                            prom_labels(&lb, "analysis", c->cfg->analyses[i].name, NULL),
                            (uint64_t)(la[i].last_start > 0 ? la[i].last_start : 0));
        prom_family(b, "darkstab_topn", "gauge",
                    "TopN of the latest slot judged: groups above the threshold (percent)");
        for (size_t i = 0; i < n; i++)
            for (size_t t = 0; t < la[i].n_th; t++)
                prom_sample_u64(b, "darkstab_topn",
                                prom_labels(&lb, "analysis", c->cfg->analyses[i].name,
                                            "threshold", la[i].th[t].th, NULL),
                                la[i].th[t].topn);
        prom_family(b, "darkstab_slot_status", "gauge",
                    "1 for the status of the latest slot judged, per threshold (stable, "
                    "unstable, warmup, no-data, incomplete), with its direction");
        for (size_t i = 0; i < n; i++) {
            for (size_t t = 0; t < la[i].n_th; t++) {
                static const enum stab_status all[] = {STAB_STABLE, STAB_UNSTABLE, STAB_WARMUP,
                                                       STAB_NO_DATA, STAB_INCOMPLETE};

                snprintf(th, sizeof(th), "%s", la[i].th[t].th);
                for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
                    prom_labels(&lb, "analysis", c->cfg->analyses[i].name, "threshold", th,
                                "status", stab_status_name(all[k]), NULL);
                    if (all[k] == STAB_UNSTABLE)
                        prom_label_add(&lb, "direction",
                                       la[i].th[t].status == STAB_UNSTABLE
                                           ? stab_dir_name((enum stab_dir)la[i].th[t].dir)
                                           : "");
                    prom_sample_u64(b, "darkstab_slot_status", strbuf_str(&lb),
                                    la[i].th[t].status == (int)all[k]);
                }
            }
        }
    }
    {
        struct archive_reread_stats as;

        if (pipeline_archive_reread_stats(c->p, &as)) {
            static const char *help =
                "unstable slots read back from the archive: applied (exact lists saved), "
                "kept (their lists from memory stay: packets missing, revised, an error), "
                "dropped (too many waiting, or stopping)";

            prom_family(b, "darkstab_archive_reread_slots_total", "counter", help);
            prom_sample_u64(b, "darkstab_archive_reread_slots_total",
                            prom_labels(&lb, "result", "applied", NULL), as.applied);
            prom_sample_u64(b, "darkstab_archive_reread_slots_total",
                            prom_labels(&lb, "result", "kept", NULL), as.kept);
            prom_sample_u64(b, "darkstab_archive_reread_slots_total",
                            prom_labels(&lb, "result", "dropped", NULL), as.dropped);
            prom_family(b, "darkstab_archive_reread_pending", "gauge",
                        "unstable slots waiting to be read back from the archive");
            prom_sample_u64(b, "darkstab_archive_reread_pending", NULL, as.pending);
        }
    }
    if (c->mailer != NULL) {
        struct mailer_stats ms;

        mailer_get_stats(c->mailer, &ms);
        prom_family(b, "darkstab_mails_sent_total", "counter",
                    "report mails the SMTP server took");
        prom_sample_u64(b, "darkstab_mails_sent_total", NULL, ms.sent);
        prom_family(b, "darkstab_mails_failed_total", "counter",
                    "attempts to send a report mail that failed (it stays spooled)");
        prom_sample_u64(b, "darkstab_mails_failed_total", NULL, ms.failed);
        prom_family(b, "darkstab_mails_spooled", "gauge", "report mails waiting in report.spool");
        prom_sample_u64(b, "darkstab_mails_spooled", NULL,
                        (uint64_t)(ms.spooled > 0 ? ms.spooled : 0));
    }
    strbuf_fini(&lb);
}

static void
metrics_start(struct collector *c, const char *endpoint)
{
    struct ds_error err;

    httpd_stop(c->httpd);
    c->httpd = NULL;
    free(c->httpd_endpoint);
    c->httpd_endpoint = xstrdup(endpoint);
    if (*endpoint == '\0')
        return;
    if (httpd_start(endpoint, render, c, &c->httpd, &err) != DS_OK)
        log_warnx("collect: metrics: %s; no metrics endpoint", err.msg);
    else
        log_info("collect: metrics on http://%s/metrics", endpoint);
}

static void
archive_start(struct collector *c, const char *dir, int64_t rotate_s)
{
    struct ds_error err;

    if (c->archive != NULL && archive_close(c->archive, &err) != DS_OK)
        log_warnx("collect: %s", err.msg);
    c->archive = NULL;
    if (*dir == '\0')
        return;
    if (archive_open(dir, rotate_s, &c->archive, &err) != DS_OK)
        log_warnx("collect: %s; the darknet flows are not archived", err.msg);
    else
        log_info("collect: archiving the darknet flows in %s, a file every %llds", dir,
                 (long long)rotate_s);
}

/* ---- the watermark ------------------------------------------------------------------ */

static void
tick(struct collector *c, int64_t now)
{
    int64_t min_clock = INT64_MAX;
    bool any_active = false;

    for (size_t i = 0; i < exp_count(c); i++) {
        struct exp_state *e = exp_at(c, i);

        if (e->active && now - e->last_seen > c->cur->idle_close_s * 1000) {
            e->active = false;
            log_info("collect: exporter %s sent nothing for %llds: it no longer holds slots "
                     "open",
                     e->key, (long long)((now - e->last_seen) / 1000));
        }
        /* a sender on probation holds nothing open */
        any_active |= e->active && !e->probation;
        if (e->active && e->event_ms > 0 && e->event_ms < min_clock)
            min_clock = e->event_ms;
    }
    push_minutes(c);
    if (c->records != NULL) {
        struct ch_writer_stats ws;
        struct ds_error err;

        if (ch_writer_tick(c->records, &err) != DS_OK) {
            __atomic_fetch_add(&c->records_errors, 1, __ATOMIC_RELAXED);
            log_warnx("collect: %s", err.msg);
        }
        ch_writer_stats(c->records, &ws);
        /* the sender's failures: the first, then one line a minute */
        if (ws.send_failures > c->records_failures_told &&
            now - c->records_warn_ms >= WARN_EVERY_MS) {
            char why[1024];

            ch_writer_last_failure(c->records, why, sizeof(why));
            log_warnx("collect: %llu batches of records wait in the spool: %s",
                      (unsigned long long)ws.batches_spooled, why);
            c->records_failures_told = ws.send_failures;
            c->records_warn_ms = now;
        }
    }
    /* the node's row in the cluster: how far its records are in, or idle (section 6) */
    if (c->records != NULL && min_clock != INT64_MAX)
        ch_writer_watermark(c->records, min_clock - c->cur->collector_lateness_s * 1000, false);
    else if (c->records != NULL && !any_active &&
             exporter_table_get_stats(c->exporters)->established > 0)
        ch_writer_watermark(c->records, c->records_wm_ms, true);
    else if (c->records != NULL && exporter_table_get_stats(c->exporters)->established == 0)
        /*
         * No exporter yet (just started, or restarted): the node holds every
         * slot back for collector.idle_close, as an exporter that went
         * silent would, so that the judging node does not judge without
         * the records its routers are about to send; then it is idle.
         */
        ch_writer_watermark(c->records, INT64_MIN,
                            now / 1000 - c->started >= c->cur->idle_close_s);
    if (min_clock != INT64_MAX) {
        c->records_wm_ms = min_clock - c->cur->collector_lateness_s * 1000;
        pipeline_set_watermark(c->p, min_clock / 1000 - c->cur->collector_lateness_s);
        c->idle_closed = false;
    } else if (exporter_table_get_stats(c->exporters)->established > 0 && !any_active &&
               !c->idle_closed) {
        /* nobody holds them open any more: a replay that ended, routers all down */
        log_info("collect: every exporter is idle: the open slots are closed");
        pipeline_close_open(c->p);
        c->idle_closed = true;
    }
    pipeline_flush(c->p);
    publish(c);
    if (c->mailer != NULL && c->live != NULL) {
        /* the cluster's judgements, by the node that judges now */
        struct cluster_live_stats ls;

        cluster_live_get_stats(c->live, &ls);
        mailer_tick(c->mailer, now / 1000, ls.judged_upto_s, ls.judging);
    } else if (c->mailer != NULL) {
        /* every analysis has judged its slots up to the earliest of their latest ends */
        int64_t judged = INT64_MAX;

        for (size_t i = 0; i < c->cfg->n_analyses; i++) {
            struct pipeline_live_analysis la;

            pipeline_live_status(c->p, i, &la);
            if (la.last_end < judged)
                judged = la.last_end;
        }
        mailer_tick(c->mailer, now / 1000, judged, true);
    }
}

/* ---- checkpoints --------------------------------------------------------------------- */

/*
 * The exporters' state (exporter_state_encode()): TCP connections' own
 * sessions are not kept, a new connection sends its templates again.  Only
 * established exporters: a sender on probation has delivered nothing worth
 * keeping, and a restart must not bring back what a flood left.
 */
static struct store_collector
state_save(struct collector *c, bool clean)
{
    size_t n = 0, cap = exp_count(c);
    struct exporter_saved *v = xcalloc(cap + 1, sizeof(*v));
    struct store_collector sc;

    for (size_t i = 0; i < cap; i++) {
        struct exp_state *e = exp_at(c, i);

        if (e->probation)
            continue;
        v[n].addr = e->addr;
        v[n].proto = (int)e->proto;
        v[n].event_ms = e->event_ms;
        v[n].rate = e->rate;
        v[n].session = ingest_session_save(e->session, &v[n].session_len);
        v[n].norm = norm_source_save(e->norm, &v[n].norm_len);
        n++;
    }
    memset(&sc, 0, sizeof(sc));
    sc.state = exporter_state_encode(v, n, &sc.state_len);
    for (size_t i = 0; i < n; i++) {
        free((void *)(uintptr_t)v[i].session);
        free((void *)(uintptr_t)v[i].norm);
    }
    free(v);
    sc.saved_at = wall_ms() / 1000;
    sc.clean = clean;
    sc.event_ms = c->max_event_ms;
    return sc;
}

struct restore_ctx {
    struct collector *c;
    int64_t now;
    bool duplicate;
    bool full;
};

static int
restore_one(void *ctx, const struct exporter_saved *s)
{
    struct restore_ctx *r = ctx;
    struct collector *c = r->c;
    struct exp_state *e;
    struct ds_error e2;

    if (exporter_table_find(c->exporters, &s->addr, s->proto, r->now) != NULL) {
        r->duplicate = true;
        return 1;
    }
    e = exp_new(c, &s->addr, (enum ingest_proto)s->proto, true, r->now);
    if (e == NULL) {
        /* limits.exporters lowered since: the rest come back as newcomers */
        r->full = true;
        return 1;
    }
    e->event_ms = s->event_ms;
    e->rate = s->rate;
    if (ingest_session_restore(e->session, s->session, s->session_len, &e2) != DS_OK)
        log_warnx("collect: exporter %s: %s; it starts afresh", e->key, e2.msg);
    if (norm_source_restore(e->norm, s->norm, s->norm_len) != 0)
        log_warnx("collect: exporter %s: its saved sampling state is damaged", e->key);
    /* restored exporters hold slots open until they send again or go idle */
    e->last_seen = r->now;
    acc_start(e, exp_minute(e, r->now));
    if (e->event_ms > c->max_event_ms)
        c->max_event_ms = e->event_ms;
    return 0;
}

static enum ds_rc
state_restore(struct collector *c, const uint8_t *b, size_t len, struct ds_error *err)
{
    struct restore_ctx r = {c, wall_ms(), false, false};

    if (exporter_state_walk(b, len, restore_one, &r) != 0 || r.duplicate)
        return ds_error_set(err, DS_ERR_DB, "collect: the saved collector state is damaged");
    if (r.full)
        log_warnx("collect: limits.exporters (%lld) reached while restoring the saved "
                  "exporters: the rest are not restored, and come back as newcomers",
                  (long long)c->cfg->limits.exporters);
    return DS_OK;
}

static uint32_t
checkpoint(struct collector *c, bool clean)
{
    struct store_collector sc;

    for (size_t i = 0; i < exp_count(c); i++)
        account_session(exp_at(c, i));
    push_minutes(c);
    if (c->archive != NULL) {
        struct ds_error err;

        if (archive_flush(c->archive, &err) != DS_OK)
            log_warnx("collect: %s", err.msg);
    }
    /* what this checkpoint counts is in the spool too */
    if (c->records != NULL) {
        struct ds_error err;

        if (ch_writer_seal(c->records, &err) != DS_OK) {
            __atomic_fetch_add(&c->records_errors, 1, __ATOMIC_RELAXED);
            log_warnx("collect: %s", err.msg);
        }
    }
    sc = state_save(c, clean);
    return pipeline_checkpoint(c->p, &sc);
}

/* ---- completeness (store thread) ------------------------------------------------- */

static void
completeness(void *ctx, struct slot_result *r)
{
    struct collector *c = ctx;
    struct store_minute *m = NULL;
    struct store_gap *gaps = NULL;
    size_t n = 0, n_gaps = 0;
    struct ds_error err;
    uint64_t records = 0, missed = 0;
    double loss, max_loss = (double)atomic_load(&c->max_loss_milli) / 1000.0;
    char *text = NULL;
    size_t text_len = 0;
    FILE *fp;
    struct json_w w;

    if (store_minutes_sum(c->st, r->start, r->end, &m, &n, &err) != DS_OK ||
        store_gaps(c->st, r->start * 1000, r->end * 1000, &gaps, &n_gaps, &err) != DS_OK) {
        log_warnx("%s", err.msg);
        free(m);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        records += m[i].records;
        missed += m[i].missed + m[i].silence_missed;
    }
    loss = records + missed > 0 ? 100.0 * (double)missed / (double)(records + missed) : 0;
    r->incomplete = loss > max_loss || n_gaps > 0;
    fp = open_memstream(&text, &text_len);
    if (fp == NULL) {
        free(m);
        free(gaps);
        return;
    }
    json_init(&w, fp, false);
    json_obj_begin(&w);
    json_key(&w, "exporters");
    json_uint(&w, n);
    json_key(&w, "records");
    json_uint(&w, records);
    json_key(&w, "missed_estimate");
    json_uint(&w, missed);
    json_key(&w, "loss_percent");
    json_double(&w, loss, 3);
    json_key(&w, "max_loss_percent");
    json_double(&w, max_loss, 3);
    json_key(&w, "reasons");
    json_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        char why[256];

        if (m[i].missed > 0) {
            snprintf(why, sizeof(why), "%s: about %" PRIu64 " records lost (sequence numbers)",
                     m[i].exporter, m[i].missed);
            json_str(&w, why);
        }
        if (m[i].silent_s > 0) {
            snprintf(why, sizeof(why),
                     "%s: silent for %" PRIu64 "s (about %" PRIu64 " records at its rate)",
                     m[i].exporter, m[i].silent_s, m[i].silence_missed);
            json_str(&w, why);
        }
        if (m[i].unknown_sets > 0) {
            snprintf(why, sizeof(why), "%s: %" PRIu64 " data sets of templates not yet known",
                     m[i].exporter, m[i].unknown_sets);
            json_str(&w, why);
        }
        if (m[i].rate_changes > 0) {
            snprintf(why, sizeof(why), "%s: sampling rate changed %" PRIu64 " times (now 1 in %"
                     PRIu64 ")",
                     m[i].exporter, m[i].rate_changes, m[i].rate ? m[i].rate : 1);
            json_str(&w, why);
        }
    }
    for (size_t i = 0; i < n_gaps; i++)
        json_str(&w, gaps[i].reason);
    json_arr_end(&w);
    json_key(&w, "per_exporter");
    json_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        json_obj_begin(&w);
        json_key(&w, "exporter");
        json_str(&w, m[i].exporter);
        json_key(&w, "records");
        json_uint(&w, m[i].records);
        json_key(&w, "missed");
        json_uint(&w, m[i].missed);
        json_key(&w, "silent_seconds");
        json_uint(&w, m[i].silent_s);
        json_key(&w, "unknown_template_sets");
        json_uint(&w, m[i].unknown_sets);
        json_key(&w, "sampling_rate");
        json_uint(&w, m[i].rate ? m[i].rate : 1);
        json_key(&w, "sampling_changes");
        json_uint(&w, m[i].rate_changes);
        json_obj_end(&w);
    }
    json_arr_end(&w);
    json_obj_end(&w);
    fclose(fp);
    free(r->completeness);
    r->completeness = text;
    free(m);
    free(gaps);
}

/* One line per slot judged (store thread). */
static void
on_judged(void *ctx, const struct cfg_analysis *a, const struct slot_result *r)
{
    char when[40], tops[256] = "";
    size_t used = 0;
    const char *status = "stable";

    (void)ctx;
    tz_format_rfc3339(r->start, when);
    for (size_t t = 0; t < r->n_th; t++) {
        used += (size_t)snprintf(tops + used, sizeof(tops) - used, "%s%u", t ? "/" : "",
                                 r->th[t].topn);
        if (used >= sizeof(tops))
            break;
    }
    if (r->incomplete)
        status = "INCOMPLETE (not judged)";
    else if (slot_result_unstable(r))
        status = "UNSTABLE";
    else if (r->n_th > 0)
        status = stab_status_name(r->th[0].r.status);
    if (r->explain != NULL && !r->incomplete)
        /* the morning mail says more; the log line says enough to look */
        log_info("collect: %s %s%s: %" PRIu64 " packets, TopN %s: %s, probable cause %s: %s",
                 a->name, when, r->late_flows > 0 ? " (revised)" : "", r->packets, tops, status,
                 explain_cause_name(r->explain->cause), r->explain->evidence);
    else
        log_info("collect: %s %s%s: %" PRIu64 " packets, TopN %s: %s", a->name, when,
                 r->late_flows > 0 ? " (revised)" : "", r->packets, tops, status);
}

/* ---- lifecycle -------------------------------------------------------------------- */

enum ds_rc
collector_bind(const struct ds_cfg *cfg, struct collector **out, struct ds_error *err)
{
    struct collector *c = xcalloc(1, sizeof(*c));
    enum ds_rc rc;

    c->cfg = cfg;
    c->cur = cfg;
    pthread_mutex_init(&c->snap_lock, NULL);
    rc = listen_open(cfg->listen, cfg->n_listen, cfg->receive_buffer, &c->ls, err);
    if (rc != DS_OK) {
        free(c);
        *out = NULL;
        return rc;
    }
    for (size_t i = 0; i < listen_count(c->ls); i++) {
        struct listen_stats st;

        listen_get_stats(c->ls, i, &st);
        if (st.rcvbuf_wanted > 0 && st.rcvbuf < st.rcvbuf_wanted)
            log_warnx("collect: %s: receive buffer %lld bytes, not the %lld asked for (raise "
                      "net.core.rmem_max, or run as root with collector.user)",
                      listen_name(c->ls, i), (long long)st.rcvbuf, (long long)st.rcvbuf_wanted);
    }
    *out = c;
    return DS_OK;
}

enum ds_rc
collector_open(struct collector *c, struct ds_error *err)
{
    const struct ds_cfg *cfg = c->cfg;
    struct store_collector sc;
    bool found = false;
    enum ds_rc rc;

    c->st = store_open(NULL, cfg->store_path, err);
    if (c->st == NULL)
        return DS_ERR_DB;
    /* a damaged store stops the collector now, not the day its page is read */
    rc = store_verify(c->st, err);
    if (rc != DS_OK)
        return rc;
    c->norm = norm_new();
    {
        struct exporter_table_limits lim;

        lim.established = (size_t)cfg->limits.exporters;
        lim.probation = (size_t)cfg->limits.probation;
        lim.idle_ms = cfg->idle_close_s * 1000;
        c->exporters = exporter_table_new(&lim, exp_evicted, exp_free, c);
        c->ingest_limits.templates = (uint32_t)cfg->limits.templates;
        c->ingest_limits.template_fields = (uint32_t)cfg->limits.template_fields;
        c->ingest_limits.template_memory = (uint64_t)cfg->limits.template_memory;
        c->template_pool.max = (uint64_t)cfg->limits.template_memory_total;
        c->ingest_limits.pool = &c->template_pool;
    }
    c->dark = prefix_set_new(cfg->prefixes.v, cfg->prefixes.n, cfg->exclude.v, cfg->exclude.n);
    atomic_store(&c->max_loss_milli, (int64_t)llround(cfg->max_loss.value * 1000));
    rc = store_collector_load(c->st, &sc, &found, err);
    if (rc != DS_OK)
        return rc;
    if (found) {
        rc = state_restore(c, sc.state, sc.state_len, err);
        free(sc.state);
        if (rc != DS_OK)
            return rc;
        c->unclean = !sc.clean;
        c->gap_from_ms = sc.event_ms;
        log_info("collect: state of %zu exporters restored from the checkpoint of %lld (%s)",
                 exp_count(c), (long long)sc.saved_at,
                 sc.clean ? "an orderly stop" : "the last checkpoint before an unclean stop");
    }
    return DS_OK;
}

enum ds_rc
collector_start(struct collector *c, struct ds_error *err)
{
    struct pipeline_live_opts opts = {completeness, on_judged, c};
    enum ds_rc rc;

    ingest_quiet_libfixbuf();
    rc = pipeline_new_live(c->cfg, c->st, &opts, &c->p, err);
    if (rc != DS_OK)
        return rc;
    if (c->unclean) {
        c->gap_open = true;
        log_warnx("collect: the last run stopped without saving (killed, or the machine went "
                  "down): slots open then are marked incomplete");
    }
    /*
     * A checkpoint before the first datagram, committed before listening:
     * should the collector be killed before its first periodic one, the next
     * start still knows that a run ended unsaved.
     */
    if (!pipeline_checkpoint_wait(c->p, checkpoint(c, false), 10000))
        log_warnx("collect: the first checkpoint was not committed within 10 s; going on");
    listen_set_tcp_limits(c->ls, (size_t)c->cfg->limits.tcp_connections,
                          c->cfg->limits.tcp_message_timeout_s * 1000);
    rc = listen_start(c->ls, RING_BYTES, err);
    if (rc != DS_OK)
        return rc;
    for (size_t i = 0; i < listen_count(c->ls); i++)
        log_info("collect: listening on %s", listen_name(c->ls, i));
    c->started = wall_ms() / 1000;
    publish(c);
    {
        struct mailer_source src = {c->st, NULL, NULL};

        if (c->cfg->store_backend == CFG_STORE_CLICKHOUSE) {
            c->mail_view = cluster_view_path(c->cfg);
            c->mail_ledger = cluster_mail_ledger_new(c->cfg);
            src = (struct mailer_source){NULL, c->mail_view, c->mail_ledger};
        }
        rc = mailer_start(c->cfg, &src, &c->mailer, err);
    }
    if (rc != DS_OK)
        return rc;
    if (c->mailer != NULL)
        log_info("collect: the report of each day is mailed at %02d:%02d to %s%s",
                 (int)(c->cfg->report.schedule_min / 60), (int)(c->cfg->report.schedule_min % 60),
                 c->cfg->report.mail_to.v[0], c->cfg->report.mail_to.n > 1 ? " and others" : "");
    /* before the metrics endpoint, whose thread reads c->records */
    if (c->cfg->store_backend == CFG_STORE_CLICKHOUSE) {
        struct ch_writer_stats ws;

        rc = ch_writer_open(&c->cfg->clickhouse, &c->records, err);
        if (rc == DS_OK)
            rc = ch_writer_source(c->records, NULL, err);
        if (rc == DS_OK) {
            struct ds_error why;

            if (ch_writer_read_promise(c->records, &why) != DS_OK)
                log_warnx("collect: the watermark this node wrote before is unknown (%s): "
                          "every batch is marked for the judging node to judge its slots "
                          "again until the cluster says how far it has judged",
                          why.msg);
        }
        if (rc == DS_OK)
            rc = ch_writer_start_sender(c->records, 0, err);
        if (rc != DS_OK)
            return rc;
        ch_writer_stats(c->records, &ws);
        log_info("collect: darknet records go to ClickHouse at %s as node %s (%llu batches wait "
                 "in %s)",
                 c->cfg->clickhouse.url, c->cfg->clickhouse.node,
                 (unsigned long long)ws.batches_spooled, c->cfg->clickhouse.spool_dir);
        rc = cluster_live_start(c->cfg, &c->live, err);
        if (rc != DS_OK)
            return rc;
    }
    metrics_start(c, c->cfg->metrics_listen);
    archive_start(c, c->cfg->archive_dir, c->cfg->archive_rotate_s);
    return DS_OK;
}

/* SIGHUP: what the new configuration may change while running, and what it may not. */
static void
reload(struct collector *c, const char *path)
{
    struct ds_cfg *n = NULL;
    struct ds_error err;
    char why[128];

    if (cfg_load(path, &n, &err) != DS_OK) {
        log_warnx("collect: %s; configuration has errors, not reloading", err.msg);
        return;
    }
    if (cfg_needs_restart(c->cfg, n, why, sizeof(why)))
        log_warnx("collect: reload: %s changed, which takes a restart; it keeps its old value "
                  "until then", why);
    for (size_t i = 0; i < n->n_analyses && i < c->cfg->n_analyses; i++) {
        const struct cfg_analysis *a = &c->cfg->analyses[i], *b = &n->analyses[i];

        if (a->window != b->window || a->n_thresholds != b->n_thresholds ||
            memcmp(a->thresholds, b->thresholds, sizeof(a->thresholds)) != 0 ||
            a->k_sigma.num != b->k_sigma.num || a->k_sigma.den != b->k_sigma.den ||
            a->stddev != b->stddev || a->min_stddev.num != b->min_stddev.num)
            log_warnx("collect: reload: the judgement of analysis %s changed; it applies after "
                      "a restart (stored slots are then judged again)", a->name);
    }
    prefix_set_free(c->dark);
    c->dark = prefix_set_new(n->prefixes.v, n->prefixes.n, n->exclude.v, n->exclude.n);
    c->cur = n;
    cluster_live_set_idle_close(c->live, n->idle_close_s);
    cfg_free(c->reloaded);
    c->reloaded = n;
    for (size_t i = 0; i < exp_count(c); i++)
        apply_sampling(c, exp_at(c, i));
    atomic_store(&c->max_loss_milli, (int64_t)llround(n->max_loss.value * 1000));
    if (strcmp(n->metrics_listen, c->httpd_endpoint ? c->httpd_endpoint : "") != 0)
        metrics_start(c, n->metrics_listen);
    archive_start(c, n->archive_dir, n->archive_rotate_s);
    log_set_level(n->log_level == CFG_LOG_DEBUG     ? LOG_DEBUG
                  : n->log_level == CFG_LOG_INFO    ? LOG_INFO
                  : n->log_level == CFG_LOG_WARNING ? LOG_WARNING
                                                    : LOG_ERR);
    log_info("collect: configuration reloaded from %s", path);
}

/*
 * Stopping: counts what the receive thread still reads, until it has ended
 * and its last items are counted (a NULL of listen_next() alone may come
 * before: a wait woken early).  The deadline only keeps a stop from
 * hanging on a stuck thread.
 */
static void
drain_received(struct collector *c)
{
    int64_t until = wall_ms() + STOP_DRAIN_MS;

    for (;;) {
        const struct listen_item *it = listen_next(c->ls, 100);

        if (it != NULL) {
            handle_item(c, it, wall_ms());
            listen_release(c->ls);
        } else if (listen_drained(c->ls)) {
            return;
        } else if (wall_ms() > until) {
            log_warnx("collect: the receive thread did not end within %d s: what it still "
                      "reads is not counted",
                      STOP_DRAIN_MS / 1000);
            return;
        }
    }
}

enum ds_rc
collector_run(struct collector *c, volatile sig_atomic_t *stop, volatile sig_atomic_t *reload_flag,
              const char *config_path, struct ds_error *err)
{
    int64_t now = wall_ms();
    uint32_t last_cp;

    c->next_tick = now + TICK_MS;
    c->next_flush = now + FLUSH_MS;
    c->next_checkpoint = now + c->cur->checkpoint_s * 1000;
    while (!*stop) {
        const struct listen_item *it = listen_next(c->ls, FLUSH_MS);

        now = wall_ms();
        if (it != NULL) {
            handle_item(c, it, now);
            listen_release(c->ls);
        }
        if (now >= c->next_flush) {
            pipeline_flush(c->p);
            c->next_flush = now + FLUSH_MS;
        }
        if (now >= c->next_tick) {
            tick(c, now);
            c->next_tick = now + TICK_MS;
        }
        if (now >= c->next_checkpoint) {
            /* with a full disk, one checkpoint waits to be written; the next follows it */
            if (!pipeline_checkpoint_behind(c->p))
                checkpoint(c, false);
            c->next_checkpoint = now + c->cur->checkpoint_s * 1000;
        }
        if (*reload_flag) {
            *reload_flag = 0;
            reload(c, config_path);
        }
    }
    /* stopping: what the sockets hold is read and counted, then the last checkpoint */
    log_info("collect: stopping: reading what is left, then saving");
    listen_stop(c->ls);
    drain_received(c);
    tick(c, wall_ms());
    /* a mail record made now is committed by the last checkpoint */
    mailer_halt(c->mailer);
    last_cp = checkpoint(c, true);
    if (!pipeline_checkpoint_wait(c->p, last_cp, 60000))
        log_warnx("collect: the last checkpoint took more than a minute");
    if (pipeline_stop_live(c->p, err) != DS_OK)
        return DS_ERR_DB;
    archive_start(c, "", 0);
    if (c->records != NULL) {
        struct ch_writer_stats ws;

        /* the last checkpoint sealed the last batch; the sender gets one timeout more */
        ch_writer_stop_sender(c->records, c->cfg->clickhouse.timeout_s);
        ch_writer_stats(c->records, &ws);
        log_info("collect: ClickHouse: %llu records, %llu batches sent%s%llu wait in %s",
                 (unsigned long long)ws.rows, (unsigned long long)ws.batches_sent,
                 ws.batches_spooled ? "; " : ", ", (unsigned long long)ws.batches_spooled,
                 c->cfg->clickhouse.spool_dir);
    }
    log_info("collect: stopped; %zu exporters (%zu on probation), state saved",
             exp_count(c), exporter_table_get_stats(c->exporters)->probation);
    return DS_OK;
}

void
collector_free(struct collector *c)
{
    if (c == NULL)
        return;
    httpd_stop(c->httpd);
    /* after the endpoint that shows its counts; an attempt under way ends within smtp.timeout */
    mailer_stop(c->mailer);
    cluster_mail_ledger_free(c->mail_ledger);
    free(c->mail_view);
    free(c->httpd_endpoint);
    if (c->archive != NULL) {
        struct ds_error err;

        archive_close(c->archive, &err);
    }
    listen_close(c->ls);
    /* after the endpoint that reads its counts; a judgement under way is finished */
    cluster_live_stop(c->live);
    ch_writer_free(c->records);
    pipeline_free(c->p);
    exporter_table_free(c->exporters);
    for (size_t i = 0; i < c->n_streams; i++)
        ingest_session_free(c->streams[i].s);
    free(c->streams);
    prefix_set_free(c->dark);
    norm_free(c->norm);
    store_close(c->st);
    cfg_free(c->reloaded);
    free(c->snap);
    pthread_mutex_destroy(&c->snap_lock);
    free(c);
}

uint16_t
collector_port(const struct collector *c, size_t i)
{
    return listen_port(c->ls, i);
}
