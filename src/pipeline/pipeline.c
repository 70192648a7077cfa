/*
 * The analyze pipeline (see ds/pipeline.h).
 *
 * Threads, because decoding alone keeps one core busy:
 *   - the caller's thread reads, checks and decodes the input, normalises
 *     each record and applies the darknet filter, and fills batches of
 *     struct flow;
 *   - aggregation threads, one per analysis up to the number of cores, each
 *     count every batch into their analyses (those that have not seen the
 *     batch's input before), then advance the watermark;
 *   - a store thread saves the slots the aggregation closes.
 * Batches sit in a small ring that every aggregation thread reads in turn;
 * a batch is refilled once all of them have passed it, so memory does not
 * grow with the input.
 *
 * The watermark is the latest flow start counted so far minus
 * input.lateness: a slot ending before it receives nothing more in order,
 * and anything that still arrives for it is late and added to the closed
 * slot.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ds/log.h"
#include "ds/pipeline.h"
#include "ds/prefix.h"
#include "ds/xmem.h"

#define BATCH_FLOWS 4096
#define RING_BATCHES 32
#define AGG_THREADS_MAX 8

struct batch {
    struct flow flows[BATCH_FLOWS];
    size_t n;
    uint32_t mask;          /* analyses that count these flows */
    int64_t watermark_s;
    int end;                /* no more batches */
};

/*
 * Work for the store thread, in the order the aggregation produced it: a
 * closed slot, or the late flows of one batch for one analysis.
 */
struct work {
    struct work *next;
    size_t an;                  /* analysis index */
    struct agg_slot *slot;      /* a closed slot (taken), or NULL */
    size_t n_late;
    struct late_flow {
        int64_t start, end;
        uint64_t packets;
        struct flow f;
    } *late;                    /* owned */
};

#define WORK_SLOTS_MAX 8        /* closed slots waiting: the aggregation waits beyond */

struct agg_worker {
    struct pipeline *p;
    size_t t;                   /* thread index: analyses t, t + n, t + 2n, ... */
};

struct analysis_run {
    struct pipeline_analysis pub;
    struct agg *agg;
    struct series *series;
    struct pipeline *p;
    struct late_flow *late;     /* late flows of the batch being counted */
    size_t n_late, cap_late;
};

struct pipeline {
    const struct ds_cfg *cfg;
    struct store *st;
    struct prefix_set *dark;
    struct norm *norm;
    struct analysis_run *an;
    size_t n_an;
    struct pipeline_analysis *pub;  /* for pipeline_analyses() */

    /* the ring between the reader and the aggregation threads */
    pthread_t agg[AGG_THREADS_MAX];
    struct agg_worker workers[AGG_THREADS_MAX];
    size_t n_agg;                       /* threads started */
    size_t agg_threads;                 /* threads wanted */
    int sync_ready;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct batch *ring[RING_BATCHES];   /* owned */
    uint64_t produced;                  /* batches handed over */
    uint64_t consumed[AGG_THREADS_MAX]; /* batches each thread is done with */
    struct batch *cur;                  /* ring[produced % RING_BATCHES], being filled */

    /* the queue between aggregation and the store thread */
    pthread_t writer;
    int writer_started;
    pthread_cond_t work_cond;
    struct work *work_head, *work_tail;
    size_t work_slots;
    int work_end;

    /* reader state */
    uint32_t mask;                      /* analyses counting the current input */
    int64_t max_start_ms;
    int64_t file_first_ms, file_last_ms;
    uint64_t file_records;
    struct pipeline_counts counts;
    int in_transaction;
    int finished;
    bool store_has_inputs;              /* some analysis counted inputs before */
    uint64_t *sizes;                    /* of the regular files read in this run */
    size_t n_sizes;
};

/* ---- the store thread -------------------------------------------------------- */

/*
 * Saving closed slots (merge with the store, serialise, SQLite) costs as
 * much as a fifth of the aggregation: a thread of its own keeps it off the
 * aggregation's core whenever the reader leaves room.
 */
static void
work_push(struct pipeline *p, struct work *w)
{
    pthread_mutex_lock(&p->lock);
    while (w->slot != NULL && p->work_slots >= WORK_SLOTS_MAX)
        pthread_cond_wait(&p->work_cond, &p->lock);
    if (w->slot != NULL)
        p->work_slots++;
    w->next = NULL;
    if (p->work_tail)
        p->work_tail->next = w;
    else
        p->work_head = w;
    p->work_tail = w;
    pthread_cond_broadcast(&p->work_cond);
    pthread_mutex_unlock(&p->lock);
}

static void *
store_thread(void *arg)
{
    struct pipeline *p = arg;

    for (;;) {
        struct work *w;

        pthread_mutex_lock(&p->lock);
        while (p->work_head == NULL && !p->work_end)
            pthread_cond_wait(&p->work_cond, &p->lock);
        w = p->work_head;
        if (w == NULL) {
            pthread_mutex_unlock(&p->lock);
            break;
        }
        p->work_head = w->next;
        if (p->work_head == NULL)
            p->work_tail = NULL;
        if (w->slot != NULL)
            p->work_slots--;
        pthread_cond_broadcast(&p->work_cond);
        pthread_mutex_unlock(&p->lock);

        if (w->slot != NULL)
            series_add_slot(p->an[w->an].series, w->slot);
        for (size_t i = 0; i < w->n_late; i++)
            series_add_late(p->an[w->an].series, w->late[i].start, w->late[i].end,
                            &w->late[i].f, w->late[i].packets);
        free(w->late);
        free(w);
    }
    return NULL;
}

/* ---- the aggregation thread ------------------------------------------------ */

static void
on_close(void *ctx, struct agg_slot *slot)
{
    struct analysis_run *r = ctx;
    struct work *w = xcalloc(1, sizeof(*w));

    w->an = (size_t)(r - r->p->an);
    w->slot = slot;
    work_push(r->p, w);
}

static void
on_late(void *ctx, int64_t start, int64_t end, const struct flow *f, uint64_t packets)
{
    struct analysis_run *r = ctx;
    struct late_flow *l;

    r->pub.late++;
    if (r->n_late == r->cap_late) {
        r->cap_late = r->cap_late ? r->cap_late * 2 : 256;
        r->late = xreallocarray(r->late, r->cap_late, sizeof(*r->late));
    }
    l = &r->late[r->n_late++];
    l->start = start;
    l->end = end;
    l->packets = packets;
    l->f = *f;
}

/* Hands the late flows gathered so far to the store thread. */
static void
flush_late(struct analysis_run *r)
{
    struct work *w;

    if (r->n_late == 0)
        return;
    w = xcalloc(1, sizeof(*w));
    w->an = (size_t)(r - r->p->an);
    w->late = r->late;
    w->n_late = r->n_late;
    r->late = NULL;
    r->n_late = r->cap_late = 0;
    work_push(r->p, w);
}

static void *
agg_thread(void *arg)
{
    struct agg_worker *wk = arg;
    struct pipeline *p = wk->p;
    size_t t = wk->t;

    for (;;) {
        struct batch *b;
        int end;

        pthread_mutex_lock(&p->lock);
        while (p->consumed[t] == p->produced)
            pthread_cond_wait(&p->cond, &p->lock);
        b = p->ring[p->consumed[t] % RING_BATCHES];
        pthread_mutex_unlock(&p->lock);

        /* The last batch carries flows too: count them before stopping. */
        for (size_t a = t; a < p->n_an; a += p->agg_threads) {
            if (!(b->mask & (1u << a)))
                continue;
            agg_add_batch(p->an[a].agg, b->flows, b->n);
            /* late flows of this batch go before the slots it closes */
            flush_late(&p->an[a]);
            agg_advance(p->an[a].agg, b->watermark_s);
        }
        end = b->end;
        pthread_mutex_lock(&p->lock);
        p->consumed[t]++;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        if (end)
            break;
    }
    return NULL;
}

/* The batch every aggregation thread has passed, or UINT64_MAX. */
static uint64_t
slowest(const struct pipeline *p)
{
    uint64_t min = UINT64_MAX;

    for (size_t t = 0; t < p->n_agg; t++)
        if (p->consumed[t] < min)
            min = p->consumed[t];
    return min;
}

/* Hands the current batch to the aggregation threads and takes the next. */
static void
push_batch(struct pipeline *p, int end)
{
    struct batch *b = p->cur;

    b->end = end;
    b->mask = p->mask;
    b->watermark_s = p->max_start_ms > 0 ? p->max_start_ms / 1000 - p->cfg->input_lateness_s
                                         : INT64_MIN;
    pthread_mutex_lock(&p->lock);
    p->produced++;
    pthread_cond_broadcast(&p->cond);
    /* the next slot of the ring must have been read by every thread */
    while (!end && p->produced - slowest(p) >= RING_BATCHES)
        pthread_cond_wait(&p->cond, &p->lock);
    p->cur = end ? NULL : p->ring[p->produced % RING_BATCHES];
    pthread_mutex_unlock(&p->lock);
    if (p->cur != NULL)
        p->cur->n = 0;
}

/* ---- the reader ------------------------------------------------------------- */

static void
on_record(void *ctx, const struct ipfix_record *rec)
{
    struct pipeline *p = ctx;
    struct flow *f = &p->cur->flows[p->cur->n];

    if (!rec->options)
        p->counts.records++;
    switch (norm_record(p->norm, rec, f)) {
    case NORM_FLOW:
        break;
    case NORM_OPTIONS:
        return;
    default:
        p->counts.unusable++;
        return;
    }
    switch (prefix_set_classify(p->dark, &f->dst)) {
    case PREFIX_DARK:
        break;
    case PREFIX_OUTSIDE:
        p->counts.outside_darknet++;
        return;
    case PREFIX_EXCLUDED:
        p->counts.excluded++;
        return;
    }
    p->counts.counted++;
    p->file_records++;
    if (f->start_ms > p->max_start_ms)
        p->max_start_ms = f->start_ms;
    if (p->file_first_ms == 0 || f->start_ms < p->file_first_ms)
        p->file_first_ms = f->start_ms;
    if (f->start_ms > p->file_last_ms)
        p->file_last_ms = f->start_ms;
    if (++p->cur->n == BATCH_FLOWS)
        push_batch(p, 0);
}

/* ---- lifecycle --------------------------------------------------------------- */

/* The parameters slots are judged with, as stored with the analysis. */
static void
judged_text(const struct cfg_analysis *a, char *buf, size_t len)
{
    size_t used = (size_t)snprintf(buf, len, "window=%lld k=%s stddev=%s min_stddev=%s th=",
                                   (long long)a->window, a->k_sigma.text,
                                   a->stddev == CFG_STDDEV_SAMPLE ? "sample" : "population",
                                   a->min_stddev.text);

    for (size_t i = 0; i < a->n_thresholds && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                 a->thresholds[i].text);
}

static void
keys_text(const struct cfg_analysis *a, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < a->n_keys && used < len; i++) {
        char k[KEYSPEC_STRLEN];

        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? "," : "",
                                 keyspec_format(&a->keys[i], k));
    }
}

enum ds_rc
pipeline_new(const struct ds_cfg *cfg, struct store *st, struct pipeline **out,
             struct ds_error *err)
{
    struct pipeline *p = xcalloc(1, sizeof(*p));
    enum ds_rc rc;

    p->cfg = cfg;
    p->st = st;
    p->dark = prefix_set_new(cfg->prefixes.v, cfg->prefixes.n, cfg->exclude.v, cfg->exclude.n);
    p->norm = norm_new();
    p->n_an = cfg->n_analyses;
    p->an = xcalloc(p->n_an, sizeof(*p->an));
    p->pub = xcalloc(p->n_an, sizeof(*p->pub));
    *out = NULL;
    rc = store_begin(st, err);
    if (rc != DS_OK)
        goto fail;
    p->in_transaction = 1;
    for (size_t i = 0; i < p->n_an; i++) {
        struct analysis_run *r = &p->an[i];
        const struct cfg_analysis *a = &cfg->analyses[i];
        struct agg_opts opts = {on_close, on_late, r};

        r->p = p;
        struct store_analysis_def def;
        char keys[256], judged[512];
        unsigned changed = 0;

        r->pub.cfg = a;
        key_layout_init(&r->pub.layout, a->keys, a->n_keys);
        keys_text(a, keys, sizeof(keys));
        def.name = a->name;
        def.keys = keys;
        def.slot_s = a->slot_s;
        def.timezone = cfg->timezone;
        def.attribution = a->attribution == CFG_ATTR_SPREAD ? "spread" : "start";
        judged_text(a, judged, sizeof(judged));
        def.judged_with = judged;
        def.lowest = cfg_lowest_threshold(a)->text;
        rc = store_analysis(st, &def, &r->pub.store_id, &changed, err);
        if (rc != DS_OK)
            goto fail;
        if (changed & STORE_CHANGED_JUDGEMENT)
            log_info("analyze: %s: window, k or thresholds changed; every stored slot is judged "
                     "again", a->name);
        {
            bool any = false;

            rc = store_input_any(st, r->pub.store_id, &any, err);
            if (rc != DS_OK)
                goto fail;
            p->store_has_inputs |= any;
        }
        r->agg = agg_new(a, &opts);
        r->series = series_new(a, agg_layout(r->agg), r->pub.store_id, st, changed);
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    pthread_cond_init(&p->work_cond, NULL);
    p->sync_ready = 1;
    for (size_t i = 0; i < RING_BATCHES; i++)
        p->ring[i] = xcalloc(1, sizeof(struct batch));
    p->cur = p->ring[0];
    p->cur->n = 0;
    /* One thread per analysis, as many as there are cores. */
    {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);

        p->agg_threads = p->n_an;
        if (cores > 0 && p->agg_threads > (size_t)cores)
            p->agg_threads = (size_t)cores;
        if (p->agg_threads > AGG_THREADS_MAX)
            p->agg_threads = AGG_THREADS_MAX;
    }
    for (size_t t = 0; t < p->agg_threads; t++) {
        char name[16];

        p->workers[t].p = p;
        p->workers[t].t = t;
        if (pthread_create(&p->agg[t], NULL, agg_thread, &p->workers[t]) != 0) {
            rc = ds_error_set(err, DS_ERR_INTERNAL,
                              "pipeline: cannot start an aggregation thread");
            goto fail;
        }
        p->n_agg++;
        snprintf(name, sizeof(name), "darkstab-agg%zu", t);
        pthread_setname_np(p->agg[t], name);
    }
    if (pthread_create(&p->writer, NULL, store_thread, p) != 0) {
        rc = ds_error_set(err, DS_ERR_INTERNAL, "pipeline: cannot start the store thread");
        goto fail;
    }
    p->writer_started = 1;
    pthread_setname_np(p->writer, "darkstab-store");
    *out = p;
    return DS_OK;
fail:
    pipeline_free(p);
    return rc;
}

static void
stop_thread(struct pipeline *p)
{
    if (p->n_agg == 0)
        return;
    push_batch(p, 1);
    for (size_t t = 0; t < p->n_agg; t++)
        pthread_join(p->agg[t], NULL);
    p->n_agg = 0;
}

/* Waits until the store thread has done everything queued, then stops it. */
static void
stop_writer(struct pipeline *p)
{
    if (!p->writer_started)
        return;
    pthread_mutex_lock(&p->lock);
    p->work_end = 1;
    pthread_cond_broadcast(&p->work_cond);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->writer, NULL);
    p->writer_started = 0;
}

void
pipeline_free(struct pipeline *p)
{
    if (p == NULL)
        return;
    stop_thread(p);
    stop_writer(p);
    if (p->in_transaction)
        store_rollback(p->st);
    for (size_t i = 0; i < p->n_an; i++) {
        agg_free(p->an[i].agg);
        series_free(p->an[i].series);
        free(p->an[i].late);
    }
    free(p->an);
    free(p->pub);
    for (size_t i = 0; i < RING_BATCHES; i++)
        free(p->ring[i]);
    if (p->sync_ready) {
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        pthread_cond_destroy(&p->work_cond);
    }
    prefix_set_free(p->dark);
    norm_free(p->norm);
    free(p->sizes);
    free(p);
}

enum ds_rc
pipeline_add_input(struct pipeline *p, const char *path, struct ds_error *err)
{
    struct ingest_file_opts opts = {.fn = on_record, .ctx = p};
    struct ingest_stats stats;
    char digest[33] = "";
    struct store_input known[CFG_ANALYSES_MAX];
    uint32_t mask = 0;
    int is_stdin = strcmp(path, "-") == 0, skip_lookup = 0;
    enum ds_rc rc;
    struct stat sb;

    p->counts.files++;
    memset(&stats, 0, sizeof(stats));

    /*
     * Which analyses have counted this content already?  The digest of a
     * regular file is taken first, in a pass of its own, when the answer
     * can be yes: the store holds inputs, or a file of the same size was
     * read in this run.  Otherwise it is taken while the file is read.
     */
    if (!is_stdin) {
        bool need = p->store_has_inputs;

        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
            /* Not a regular file: read it anyway, identity after reading. */
            is_stdin = 1;
        } else {
            for (size_t i = 0; i < p->n_sizes; i++)
                if (p->sizes[i] == (uint64_t)sb.st_size)
                    need = true;
            p->sizes = xreallocarray(p->sizes, p->n_sizes + 1, sizeof(*p->sizes));
            p->sizes[p->n_sizes++] = (uint64_t)sb.st_size;
            if (need) {
                rc = ingest_file_digest(path, digest, err);
                if (rc != DS_OK) {
                    p->counts.unreadable++;
                    return rc;
                }
            } else {
                skip_lookup = 1;
            }
        }
    }
    for (size_t i = 0; i < p->n_an; i++) {
        bool found = false;

        if (!is_stdin && !skip_lookup) {
            rc = store_input_find(p->st, p->an[i].pub.store_id, digest, &known[i],
                                       &found, err);
            if (rc != DS_OK)
                return rc;
        }
        if (found)
            series_cover(p->an[i].series, known[i].first_ms, known[i].last_ms);
        else
            mask |= 1u << i;
    }
    if (mask == 0) {
        log_debug("analyze: %s was counted by an earlier run (as %s); skipped", path,
                  known[0].name);
        p->counts.already_counted++;
        return DS_OK;
    }

    /* A batch must not mix inputs counted by different analyses. */
    if (p->cur->n > 0 && p->mask != mask)
        push_batch(p, 0);
    p->mask = mask;
    p->file_first_ms = p->file_last_ms = 0;
    p->file_records = 0;
    norm_begin_source(p->norm, NULL);
    rc = ingest_file(path, &opts, &stats, digest, err);
    ingest_stats_add(&p->counts.ingest, &stats);
    if (rc != DS_OK) {
        p->counts.unreadable++;
        return rc;
    }
    if (is_stdin) {
        /*
         * Standard input is known only once read: if an analysis had counted
         * the same bytes before, the run cannot take them back out.
         */
        for (size_t i = 0; i < p->n_an; i++) {
            struct store_input in;
            bool found = false;

            if (!(mask & (1u << i)))
                continue;
            rc = store_input_find(p->st, p->an[i].pub.store_id, digest, &in, &found,
                                       err);
            if (rc != DS_OK)
                return rc;
            if (found)
                return ds_error_set(err, DS_ERR_CONFLICT,
                                    "%s: the same content was counted before (as %s); nothing "
                                    "stored",
                                    strcmp(path, "-") == 0 ? "standard input" : path, in.name);
        }
    }
    for (size_t i = 0; i < p->n_an; i++) {
        struct store_input in;

        if (!(mask & (1u << i)))
            continue;
        memset(&in, 0, sizeof(in));
        snprintf(in.digest, sizeof(in.digest), "%s", digest);
        snprintf(in.name, sizeof(in.name), "%s",
                 strcmp(path, "-") == 0 ? "(standard input)" : path);
        in.bytes = stats.bytes;
        in.records = p->file_records;
        in.first_ms = p->file_first_ms;
        in.last_ms = p->file_last_ms;
        in.analyzed_at = (int64_t)time(NULL);
        rc = store_input_add(p->st, p->an[i].pub.store_id, &in, err);
        if (rc != DS_OK)
            return rc;
        series_cover(p->an[i].series, in.first_ms, in.last_ms);
    }
    return DS_OK;
}

enum ds_rc
pipeline_finish(struct pipeline *p, struct ds_error *err)
{
    enum ds_rc rc;

    stop_thread(p);
    p->counts.norm = *norm_get_stats(p->norm);
    for (size_t i = 0; i < p->n_an; i++)
        agg_flush(p->an[i].agg);
    stop_writer(p);
    log_debug("pipeline: last slots saved");
    for (size_t i = 0; i < p->n_an; i++) {
        rc = series_commit(p->an[i].series, err);
        if (rc != DS_OK)
            return rc;
        series_range(p->an[i].series, &p->an[i].pub.from, &p->an[i].pub.to);
    }
    log_debug("pipeline: judged");
    rc = store_commit(p->st, err);
    log_debug("pipeline: committed");
    if (rc != DS_OK)
        return rc;
    p->in_transaction = 0;
    p->finished = 1;
    return DS_OK;
}

const struct pipeline_counts *
pipeline_get_counts(const struct pipeline *p)
{
    return &p->counts;
}

size_t
pipeline_analyses(const struct pipeline *p, const struct pipeline_analysis **list)
{
    for (size_t i = 0; i < p->n_an; i++)
        p->pub[i] = p->an[i].pub;
    *list = p->pub;
    return p->n_an;
}
