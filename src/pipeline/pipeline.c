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

#include "ds/archive_reread.h"
#include "ds/ch_writer.h"
#include "ds/deadline.h"
#include "ds/explain.h"
#include "ds/log.h"
#include "ds/pipeline.h"
#include "ds/prefix.h"
#include "ds/tz.h"
#include "ds/xmem.h"

#define BATCH_FLOWS 4096
#define RING_BATCHES 32
#define AGG_THREADS_MAX 8

struct batch {
    struct flow flows[BATCH_FLOWS];
    size_t n;
    uint32_t mask;          /* analyses that count these flows */
    int64_t watermark_s;
    uint32_t checkpoint;    /* live: after these flows, hand the open slots to checkpoint N */
    int close_open;         /* live: every exporter is idle, close what is open */
    int end;                /* no more batches */
};

/*
 * Work for the store thread, in the order the aggregation produced it: a
 * closed slot, or the late flows of one batch for one analysis.
 */
enum work_kind {
    W_SLOTS,        /* a closed slot and/or late flows of one analysis */
    W_PART,         /* live: one analysis' open slots for a checkpoint */
    W_STATE,        /* live: the collector's own state for a checkpoint */
    W_MINUTES,      /* live: exporter minutes */
    W_GAP,          /* live: a stretch the collector may have missed */
};

struct work {
    struct work *next;
    enum work_kind kind;
    size_t an;                  /* analysis index */
    struct agg_slot *slot;      /* a closed slot (owned), or NULL */
    size_t n_late;
    struct late_flow {
        int64_t start, end;
        uint64_t packets;
        struct flow f;
    } *late;                    /* owned */
    /* live */
    uint32_t checkpoint;
    int64_t closed_upto;
    struct store_open_slot *open;   /* owned, with their blobs */
    size_t n_open;
    struct store_collector state;   /* owned state blob */
    struct store_minute *minutes;   /* owned */
    size_t n_minutes;
    struct store_gap gap;
};

#define JUDGED_TOLD 64          /* slots whose judgement the collector was told, remembered */
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
    int dirty;                  /* live: slots saved, not judged yet */
    struct pipeline_live_analysis live;     /* under live_lock */
    /* live as of the last commit: a rolled back transaction's slots are not counted twice */
    struct pipeline_live_analysis live_committed;
    /* the slots last told to the collector: done again after a rollback, not told twice */
    struct told { int64_t start; uint64_t packets; } told[JUDGED_TOLD];
    size_t n_told;
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
    int stopping;                       /* the queue takes everything: see pipeline_stop_live */

    /* live collection */
    int live;
    int64_t watermark_s;                /* set by the collector */
    int64_t pushed_watermark_s;
    uint32_t checkpoints;               /* the last checkpoint asked for */
    uint32_t cp_pending;                /* store thread: the checkpoint being written, or 0 */
    size_t cp_parts;                    /* its analyses' parts written so far */
    int cp_state;                       /* its collector state written */
    uint32_t cp_done;                   /* the last checkpoint committed */
    pthread_cond_t cp_cond;
    struct ds_error live_err;           /* the first store error of the store thread */
    enum ds_rc live_rc;
    /* store errors (disk full, ...): counted; failing until a commit succeeds */
    uint64_t store_errors;
    bool store_failing;
    int64_t store_logged;               /* when the last one was logged (Unix s) */
    /*
     * Live, the store thread: the work done since the last commit, kept
     * until it is committed; when a write or the commit fails, the
     * transaction is rolled back and the same work is done again later.
     */
    struct work *redo_head, *redo_tail;
    size_t redo_slots;                  /* closed slots in it */
    bool tx_failed;                     /* a write of this transaction failed */
    bool retrying;                      /* waiting until retry_until to do it again */
    struct timespec retry_until;
    int retry_delay_ms;
    bool gave_up;                       /* stopping, and the store still fails */
    bool cp_ready;                      /* every part of cp_pending is written */
    pthread_mutex_t live_lock;          /* for pipeline_live_status() */
    series_judged_fn on_judged;
    void *on_judged_ctx;
    /*
     * Exporter minutes not yet queued for the store thread (reader's side):
     * they go as one work before the next batch, so that a slot the batch
     * closes finds them stored, as when each went alone.
     */
    struct store_minute *minutes;       /* owned */
    size_t n_minutes, cap_minutes;

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

    /* drill-down */
    struct cfg_drilldown dd;            /* drilldown.lists resolved: memory or reread */
    struct run_file {
        char digest[33];
        int64_t size, mtime_ns;         /* as it was read: reading back checks these */
        struct explain_chunk *chunks;   /* owned */
        size_t n, cap;
    } *files;                           /* the inputs of this run, to read back in part */
    size_t n_files;
    struct run_file *cur_file;          /* being read; NULL: no index kept */
    /* store.backend clickhouse: the counted records also go to the cluster */
    struct ch_writer *records;          /* borrowed; NULL: none */
    enum ds_rc records_rc;              /* the first failure of its spool */
    struct ds_error records_err;
    /* live, with an archive: the unstable slots' lists read back from it */
    struct archive_reread *archive_reread;
};

/* exporter minutes waiting for the next batch: past this many they go at once */
#define MINUTES_PENDING_MAX 4096
/* how long a stopping collector goes on reading unstable slots back from its archive */
#define ARCHIVE_STOP_WAIT_MS 10000
/* a failing store (a full disk) is tried again after 1 s, 2 s, ... up to this */
#define STORE_RETRY_MAX_MS 8000

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
    while (w->slot != NULL && p->work_slots >= WORK_SLOTS_MAX && !p->stopping)
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

static void
work_free(struct work *w)
{
    agg_slot_free(w->slot);
    free(w->late);
    for (size_t i = 0; i < w->n_open; i++)
        free(w->open[i].blob);
    free(w->open);
    free(w->state.state);
    free(w->minutes);
    free(w);
}

/* Live: the store thread's first error, kept for pipeline_live_error() and logged once. */
static void
live_fail(struct pipeline *p, const struct ds_error *err)
{
    int64_t now = (int64_t)time(NULL);
    bool log_it;

    p->tx_failed = true;
    pthread_mutex_lock(&p->live_lock);
    if (p->live_rc == DS_OK) {
        p->live_rc = DS_ERR_DB;
        p->live_err = *err;
    }
    p->store_errors++;
    /* a full disk fails every write: the first, then one a minute */
    log_it = !p->store_failing || now - p->store_logged >= 60;
    p->store_failing = true;
    if (log_it)
        p->store_logged = now;
    pthread_mutex_unlock(&p->live_lock);
    if (log_it)
        log_warnx("%s (store errors so far: %llu; counting goes on in memory, and what "
                  "was not written is written again once the store takes it)",
                  err->msg, (unsigned long long)p->store_errors);
}

/* Live: a commit went through; after errors, say that the store is written again. */
static void
live_ok(struct pipeline *p)
{
    bool was;
    uint64_t n;

    pthread_mutex_lock(&p->live_lock);
    was = p->store_failing;
    p->store_failing = false;
    /* everything is written: a stop now loses nothing */
    p->live_rc = DS_OK;
    n = p->store_errors;
    pthread_mutex_unlock(&p->live_lock);
    if (was)
        log_info("store: written again after %llu errors; nothing was lost",
                 (unsigned long long)n);
}

static void
redo_free(struct pipeline *p)
{
    while (p->redo_head != NULL) {
        struct work *w = p->redo_head;

        p->redo_head = w->next;
        work_free(w);
    }
    p->redo_tail = NULL;
    p->redo_slots = 0;
}

/*
 * Live: a write or the commit failed.  SQLite may have rolled the whole
 * transaction back already (SQLITE_FULL does): whatever it kept goes too,
 * the series forget what they saved, and the work done since the last
 * commit goes back to the head of the queue, to be done again after a
 * pause.  Stopping, the store has had its last chance: the work is dropped
 * and the error stays for pipeline_stop_live().
 */
static void
tx_abort(struct pipeline *p)
{
    if (store_in_transaction(p->st))
        store_rollback(p->st);
    for (size_t i = 0; i < p->n_an; i++) {
        series_reset(p->an[i].series);
        p->an[i].dirty = 0;
    }
    pthread_mutex_lock(&p->live_lock);
    for (size_t i = 0; i < p->n_an; i++)
        p->an[i].live = p->an[i].live_committed;
    pthread_mutex_unlock(&p->live_lock);
    p->cp_pending = 0;
    p->cp_parts = 0;
    p->cp_state = 0;
    p->cp_ready = false;
    p->tx_failed = false;
    pthread_mutex_lock(&p->lock);
    if (p->work_end) {
        p->gave_up = true;
        pthread_mutex_unlock(&p->lock);
        redo_free(p);
        return;
    }
    if (p->redo_head != NULL) {
        p->redo_tail->next = p->work_head;
        if (p->work_head == NULL)
            p->work_tail = p->redo_tail;
        p->work_head = p->redo_head;
        p->work_slots += p->redo_slots;
    }
    p->redo_head = p->redo_tail = NULL;
    p->redo_slots = 0;
    p->retry_delay_ms = p->retry_delay_ms == 0 ? 1000 : p->retry_delay_ms * 2;
    if (p->retry_delay_ms > STORE_RETRY_MAX_MS)
        p->retry_delay_ms = STORE_RETRY_MAX_MS;
    p->retry_until = deadline_after_ms(p->retry_delay_ms);
    p->retrying = true;
    pthread_mutex_unlock(&p->lock);
}

/* Live: done work is kept until the commit that holds it succeeds. */
static void
redo_keep(struct pipeline *p, struct work *w)
{
    w->next = NULL;
    if (p->redo_tail != NULL)
        p->redo_tail->next = w;
    else
        p->redo_head = w;
    p->redo_tail = w;
    if (w->slot != NULL)
        p->redo_slots++;
}

/*
 * Live, with an archive: the slots just judged unstable go to be read back
 * from it once the next checkpoint has flushed it.
 */
static void
push_unstable(struct pipeline *p, struct analysis_run *r)
{
    struct slot_result *v = NULL;
    size_t n = series_take_unstable(r->series, &v, NULL);
    uint32_t after = __atomic_load_n(&p->checkpoints, __ATOMIC_ACQUIRE);

    for (size_t k = 0; k < n; k++)
        archive_reread_push(p->archive_reread, r->pub.cfg, &r->pub.layout, r->pub.store_id,
                            &v[k], after, (int64_t)time(NULL));
    for (size_t k = 0; k < n; k++)
        slot_result_fini(&v[k]);
    free(v);
}

/*
 * Live: judges the slots saved since the last time and commits, so that
 * results are readable as soon as a slot closes; not while a checkpoint is
 * half written (its parts must commit together).
 */
static bool
live_settle(struct pipeline *p)
{
    struct ds_error err;

    if (p->cp_pending)
        return true;
    for (size_t i = 0; i < p->n_an; i++) {
        if (!p->an[i].dirty)
            continue;
        p->an[i].dirty = 0;
        if (series_commit(p->an[i].series, &err) != DS_OK)
            live_fail(p, &err);
        if (p->archive_reread != NULL)
            push_unstable(p, &p->an[i]);
    }
    if (p->archive_reread != NULL && archive_reread_apply(p->archive_reread, p->st, &err) != DS_OK)
        live_fail(p, &err);
    if (!p->tx_failed && store_commit(p->st, &err) != DS_OK)
        live_fail(p, &err);
    if (p->tx_failed) {
        tx_abort(p);
        return false;
    }
    redo_free(p);
    for (size_t i = 0; i < p->n_an; i++)
        series_committed(p->an[i].series);
    pthread_mutex_lock(&p->live_lock);
    for (size_t i = 0; i < p->n_an; i++)
        p->an[i].live_committed = p->an[i].live;
    pthread_mutex_unlock(&p->live_lock);
    p->retry_delay_ms = 0;
    live_ok(p);
    if (store_begin(p->st, &err) != DS_OK) {
        live_fail(p, &err);
        tx_abort(p);
    }
    return true;
}

/* Live: is every part of the checkpoint written?  Then it is ready to commit. */
static void
checkpoint_step(struct pipeline *p)
{
    if (p->cp_pending != 0 && p->cp_state && p->cp_parts >= p->n_an)
        p->cp_ready = true;
}

/* Live: a checkpoint with every part written is committed. */
static void
checkpoint_finish(struct pipeline *p)
{
    uint32_t id = p->cp_pending;

    p->cp_ready = false;
    p->cp_pending = 0;
    p->cp_state = 0;
    p->cp_parts = 0;
    /* the collector flushed its archive before asking for this checkpoint */
    if (p->archive_reread != NULL)
        archive_reread_checkpoint(p->archive_reread, id);
    /* not committed: its work is done again, and it is done then */
    if (!live_settle(p))
        return;
    pthread_mutex_lock(&p->lock);
    p->cp_done = id;
    pthread_cond_broadcast(&p->cp_cond);
    pthread_mutex_unlock(&p->lock);
}

static void
do_work(struct pipeline *p, struct work *w)
{
    struct ds_error err;

    switch (w->kind) {
    case W_SLOTS:
        if (w->slot != NULL)
            series_add_slot(p->an[w->an].series, w->slot);
        for (size_t i = 0; i < w->n_late; i++)
            series_add_late(p->an[w->an].series, w->late[i].start, w->late[i].end,
                            &w->late[i].f, w->late[i].packets);
        p->an[w->an].dirty = 1;
        break;
    case W_PART:
        /*
         * A part of an older checkpoint than the one whose state came last
         * (the collector asked again before this one was written) is
         * written, but the newer one's part for the same analysis replaces
         * it before anything commits: only the newest checkpoint counts its
         * parts, so that it commits whole, its state with its own slots.
         */
        if (store_open_slots_replace(p->st, p->an[w->an].pub.store_id, w->closed_upto, w->open,
                                     w->n_open, &err) != DS_OK)
            live_fail(p, &err);
        if (w->checkpoint == p->cp_pending)
            p->cp_parts++;
        checkpoint_step(p);
        break;
    case W_STATE:
        /* a checkpoint's state is queued before its parts, which follow in order */
        if (w->checkpoint != p->cp_pending) {
            p->cp_pending = w->checkpoint;
            p->cp_parts = 0;
        }
        if (store_collector_save(p->st, &w->state, &err) != DS_OK)
            live_fail(p, &err);
        p->cp_state = 1;
        checkpoint_step(p);
        break;
    case W_MINUTES:
        if (store_minutes_add(p->st, w->minutes, w->n_minutes, &err) != DS_OK)
            live_fail(p, &err);
        break;
    case W_GAP:
        if (store_gap_add(p->st, &w->gap, &err) != DS_OK)
            live_fail(p, &err);
        break;
    }
}

/*
 * The next work, or NULL once there is none and the end was asked for.
 * After a store error the queue waits until the time to try again (not
 * when stopping: then the store has its last chance at once).
 */
static struct work *
work_next(struct pipeline *p, bool *idle)
{
    struct work *w;

    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->retrying && !p->work_end &&
            pthread_cond_timedwait(&p->work_cond, &p->lock, &p->retry_until) == 0)
            continue;
        if (p->retrying) {
            struct ds_error err;

            p->retrying = false;
            pthread_mutex_unlock(&p->lock);
            if (!store_in_transaction(p->st) && store_begin(p->st, &err) != DS_OK) {
                live_fail(p, &err);
                tx_abort(p);
            }
            pthread_mutex_lock(&p->lock);
            continue;
        }
        if (p->work_head != NULL || p->work_end)
            break;
        pthread_cond_wait(&p->work_cond, &p->lock);
    }
    w = p->work_head;
    if (w != NULL) {
        p->work_head = w->next;
        if (p->work_head == NULL)
            p->work_tail = NULL;
        if (w->slot != NULL)
            p->work_slots--;
    }
    *idle = p->work_head == NULL;
    pthread_cond_broadcast(&p->work_cond);
    pthread_mutex_unlock(&p->lock);
    return w;
}

static void *
store_thread(void *arg)
{
    struct pipeline *p = arg;
    struct work *w;
    bool idle;

    while ((w = work_next(p, &idle)) != NULL) {
        if (!p->live) {
            do_work(p, w);
            work_free(w);
            continue;
        }
        if (p->gave_up) {
            /* stopping with a store that fails: the error is kept, the work dropped */
            work_free(w);
            continue;
        }
        do_work(p, w);
        redo_keep(p, w);
        if (p->tx_failed)
            tx_abort(p);
        else if (p->cp_ready)
            checkpoint_finish(p);
        /* committed when idle, and at least every few closed slots (they are kept till then) */
        else if (idle || p->redo_slots >= WORK_SLOTS_MAX)
            live_settle(p);
    }
    if (p->live && !p->gave_up)
        live_settle(p);
    if (p->live && p->gave_up)
        log_warnx("store: still failing at the stop: what was counted since the last commit "
                  "is not saved");
    return NULL;
}

/* ---- the aggregation thread ------------------------------------------------ */

static void
on_close(void *ctx, struct agg_slot *slot)
{
    struct analysis_run *r = ctx;
    struct work *w = xcalloc(1, sizeof(*w));

    if (slot->folded_packets > 0) {
        char when[TZ_RFC3339_LEN];

        log_warnx("%s: slot %s: limits.groups (%u) reached: %llu packets of %llu flows in no "
                  "group; TopN may be too low, the output says by how much",
                  r->pub.cfg->name, tz_format_rfc3339(slot->start, when), slot->max_groups,
                  (unsigned long long)slot->folded_packets,
                  (unsigned long long)slot->folded_flows);
    }
    w->kind = W_SLOTS;
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
    w->kind = W_SLOTS;
    w->an = (size_t)(r - r->p->an);
    w->late = r->late;
    w->n_late = r->n_late;
    r->late = NULL;
    r->n_late = r->cap_late = 0;
    work_push(r->p, w);
}

struct part_ctx {
    struct store_open_slot *open;
    size_t n, cap;
};

static void
encode_open(void *arg, const struct agg_slot *slot)
{
    struct part_ctx *c = arg;
    struct store_open_slot *o;

    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->open = xreallocarray(c->open, c->cap, sizeof(*c->open));
    }
    o = &c->open[c->n++];
    o->start = slot->start;
    o->end = slot->end;
    o->packets = slot->packets;
    o->flows = slot->flows;
    o->folded_packets = slot->folded_packets;
    o->folded_flows = slot->folded_flows;
    o->blob = store_slot_encode(slot, &o->counts_len, &o->details_len);
}

/* Live: this analysis' open slots, encoded here (they change once we go on), for a checkpoint. */
static void
push_part(struct analysis_run *r, uint32_t checkpoint)
{
    struct work *w = xcalloc(1, sizeof(*w));
    struct part_ctx c = {NULL, 0, 0};

    agg_each_open(r->agg, encode_open, &c);
    w->kind = W_PART;
    w->an = (size_t)(r - r->p->an);
    w->checkpoint = checkpoint;
    w->closed_upto = agg_closed_upto(r->agg);
    w->open = c.open;
    w->n_open = c.n;
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
            if (b->close_open)
                agg_advance(p->an[a].agg, agg_open_end(p->an[a].agg));
            if (b->checkpoint)
                push_part(&p->an[a], b->checkpoint);
            if (p->live) {
                pthread_mutex_lock(&p->live_lock);
                p->an[a].live.open_slots = agg_open_slots(p->an[a].agg);
                pthread_mutex_unlock(&p->live_lock);
            }
        }
        /*
         * The details lent to the open groups for a checkpoint's parts are
         * freed, but this thread's arena would keep their pages.
         */
        if (b->checkpoint)
            xmem_release_free();
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

/* The exporter minutes gathered so far, to the store thread as one work. */
static void
flush_minutes(struct pipeline *p)
{
    struct work *w;

    if (p->n_minutes == 0)
        return;
    w = xcalloc(1, sizeof(*w));
    w->kind = W_MINUTES;
    w->minutes = p->minutes;
    w->n_minutes = p->n_minutes;
    p->minutes = NULL;
    p->n_minutes = 0;
    p->cap_minutes = 0;
    work_push(p, w);
}

/* Hands the current batch to the aggregation threads and takes the next. */
static void
push_batch(struct pipeline *p, int end)
{
    struct batch *b = p->cur;

    flush_minutes(p);

    b->end = end;
    b->mask = p->mask;
    if (p->live)
        b->watermark_s = p->watermark_s;
    else
        b->watermark_s = p->max_start_ms > 0 ? p->max_start_ms / 1000 - p->cfg->input_lateness_s
                                             : INT64_MIN;
    p->pushed_watermark_s = b->watermark_s;
    pthread_mutex_lock(&p->lock);
    p->produced++;
    pthread_cond_broadcast(&p->cond);
    /* the next slot of the ring must have been read by every thread */
    while (!end && p->produced - slowest(p) >= RING_BATCHES)
        pthread_cond_wait(&p->cond, &p->lock);
    p->cur = end ? NULL : p->ring[p->produced % RING_BATCHES];
    pthread_mutex_unlock(&p->lock);
    if (p->cur != NULL) {
        p->cur->n = 0;
        p->cur->checkpoint = 0;
        p->cur->close_open = 0;
    }
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
        /* sampling and system init times: reading back must see them as well as templates */
        if (p->cur_file != NULL && p->cur_file->n > 0)
            p->cur_file->chunks[p->cur_file->n - 1].templates = true;
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
    if (p->records != NULL && p->records_rc == DS_OK)
        p->records_rc = ch_writer_add(p->records, f, &p->records_err);
    if (p->cur_file != NULL && p->cur_file->n > 0) {
        struct explain_chunk *ch = &p->cur_file->chunks[p->cur_file->n - 1];

        if (f->start_ms < ch->first_ms)
            ch->first_ms = f->start_ms;
        if (f->start_ms > ch->last_ms)
            ch->last_ms = f->start_ms;
    }
    if (f->start_ms > p->max_start_ms)
        p->max_start_ms = f->start_ms;
    if (p->file_first_ms == 0 || f->start_ms < p->file_first_ms)
        p->file_first_ms = f->start_ms;
    if (f->start_ms > p->file_last_ms)
        p->file_last_ms = f->start_ms;
    if (++p->cur->n == BATCH_FLOWS)
        push_batch(p, 0);
}

/*
 * drilldown.lists reread: which flow starts each stretch of the file holds
 * (ds/explain.h), so that reading an unstable slot back reads the messages
 * that can hold it and skips the rest.
 */
#define CHUNK_BYTES (256 * 1024)

static void
on_message(void *ctx, uint64_t offset, uint32_t domain, uint32_t export_time, bool templates)
{
    struct pipeline *p = ctx;
    struct run_file *rf = p->cur_file;
    struct explain_chunk *ch;

    (void)domain;
    (void)export_time;
    if (rf == NULL)
        return;
    if (rf->n > 0 && offset < rf->chunks[rf->n - 1].offset + CHUNK_BYTES) {
        rf->chunks[rf->n - 1].templates |= templates;
        return;
    }
    if (rf->n == rf->cap) {
        rf->cap = rf->cap ? 2 * rf->cap : 64;
        rf->chunks = xreallocarray(rf->chunks, rf->cap, sizeof(*rf->chunks));
    }
    ch = &rf->chunks[rf->n++];
    ch->offset = offset;
    ch->first_ms = INT64_MAX;
    ch->last_ms = INT64_MIN;
    ch->templates = templates;
}

/* A regular file's size and modification time; false if it cannot be had. */
static bool
file_identity(const char *path, int64_t *size, int64_t *mtime_ns)
{
    struct stat sb;

    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return false;
    *size = (int64_t)sb.st_size;
    *mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    return true;
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
pipeline_register_analysis(const struct ds_cfg *cfg, const struct cfg_analysis *a,
                           struct store *st, struct pipeline_analysis *out, unsigned *changed,
                           struct ds_error *err)
{
    struct store_analysis_def def;
    char keys[256], judged[512];

    memset(out, 0, sizeof(*out));
    out->cfg = a;
    key_layout_init(&out->layout, a->keys, a->n_keys);
    keys_text(a, keys, sizeof(keys));
    def.name = a->name;
    def.keys = keys;
    def.slot_s = a->slot_s;
    def.timezone = cfg->timezone;
    def.attribution = a->attribution == CFG_ATTR_SPREAD ? "spread" : "start";
    judged_text(a, judged, sizeof(judged));
    def.judged_with = judged;
    def.lowest = cfg_lowest_threshold(a)->text;
    *changed = 0;
    return store_analysis(st, &def, &out->store_id, changed, err);
}

static void on_judged(void *ctx, const struct cfg_analysis *a, const struct slot_result *r);
static enum ds_rc restore_open_slots(struct pipeline *p, struct analysis_run *r,
                                     struct ds_error *err);

static enum ds_rc
make_pipeline(const struct ds_cfg *cfg, struct store *st, const struct pipeline_live_opts *live,
              struct pipeline **out, struct ds_error *err)
{
    struct pipeline *p = xcalloc(1, sizeof(*p));
    enum ds_rc rc;

    p->live = live != NULL;
    p->watermark_s = INT64_MIN;
    /* live, every analysis counts every flow */
    if (p->live)
        p->mask = cfg->n_analyses >= 32 ? UINT32_MAX : (1u << cfg->n_analyses) - 1;
    if (live != NULL) {
        p->on_judged = live->on_judged;
        p->on_judged_ctx = live->ctx;
    }
    p->cfg = cfg;
    p->st = st;
    /*
     * drilldown.lists: analyze reads the unstable slots back (auto), so its
     * aggregation keeps no lists.  The collector keeps them in memory (a
     * slot must have its lists when it is judged), and with an archive
     * reads its unstable slots back from it afterwards (auto, reread).
     */
    p->dd = cfg->drilldown;
    if (p->live && p->dd.lists != CFG_LISTS_MEMORY) {
        if (cfg->archive_dir != NULL && cfg->archive_dir[0] != '\0')
            p->archive_reread = archive_reread_new(cfg, cfg->archive_dir,
                                                   cfg->archive_rotate_s);
        else if (p->dd.lists == CFG_LISTS_REREAD)
            log_warnx("collect: drilldown.lists reread: no archive.dir to read back; the "
                      "lists are kept in memory only");
    }
    /*
     * A node of a ClickHouse cluster judges its slots again on the cluster
     * (src/pipeline/cluster.c), drill-down included: reading its own inputs
     * back would be work thrown away (and their pages in memory).
     */
    if (p->live ||
        (cfg->store_backend == CFG_STORE_CLICKHOUSE && strcmp(st->path, ":memory:") != 0))
        p->dd.lists = CFG_LISTS_MEMORY;
    else if (p->dd.lists == CFG_LISTS_AUTO)
        p->dd.lists = CFG_LISTS_REREAD;
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
        /* a collector's checkpoints see every detail (agg_each_open()) */
        struct agg_opts opts = {on_close, on_late, r, &p->dd, (uint32_t)cfg->limits.groups,
                                true};

        unsigned changed = 0;

        r->p = p;
        rc = pipeline_register_analysis(cfg, a, st, &r->pub, &changed, err);
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
        r->series = series_new(a, &cfg->causes, agg_layout(r->agg), r->pub.store_id, st,
                               changed);
        series_limit_groups(r->series, (uint32_t)cfg->limits.groups);
        series_keep_unstable(r->series,
                             p->dd.lists == CFG_LISTS_REREAD || p->archive_reread != NULL);
        if (live != NULL) {
            if (live->completeness != NULL)
                series_set_completeness(r->series, live->completeness, live->ctx);
            series_set_on_judged(r->series, on_judged, r);
            rc = restore_open_slots(p, r, err);
            if (rc != DS_OK)
                goto fail;
        }
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    pthread_cond_init(&p->work_cond, NULL);
    pthread_cond_init(&p->cp_cond, NULL);
    pthread_mutex_init(&p->live_lock, NULL);
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

enum ds_rc
pipeline_new(const struct ds_cfg *cfg, struct store *st, struct pipeline **out,
             struct ds_error *err)
{
    return make_pipeline(cfg, st, NULL, out, err);
}

enum ds_rc
pipeline_new_live(const struct ds_cfg *cfg, struct store *st,
                  const struct pipeline_live_opts *opts, struct pipeline **out,
                  struct ds_error *err)
{
    return make_pipeline(cfg, st, opts, out, err);
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
    /* work of a checkpoint left half written at the stop: never committed */
    redo_free(p);
    archive_reread_free(p->archive_reread);
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
        pthread_cond_destroy(&p->cp_cond);
        pthread_mutex_destroy(&p->live_lock);
    }
    prefix_set_free(p->dark);
    norm_free(p->norm);
    free(p->minutes);
    free(p->sizes);
    for (size_t i = 0; i < p->n_files; i++)
        free(p->files[i].chunks);
    free(p->files);
    free(p);
}

enum ds_rc
pipeline_add_input(struct pipeline *p, const char *path, struct ds_error *err)
{
    struct ingest_file_opts opts = {.fn = on_record, .ctx = p, .on_message = on_message};
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
        /* the cluster's batches are named after the input's digest: known before reading */
        bool need = p->store_has_inputs || p->records != NULL;

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
    if (p->dd.lists == CFG_LISTS_REREAD && !is_stdin) {
        p->files = xreallocarray(p->files, p->n_files + 1, sizeof(*p->files));
        p->cur_file = &p->files[p->n_files++];
        memset(p->cur_file, 0, sizeof(*p->cur_file));
        if (!file_identity(path, &p->cur_file->size, &p->cur_file->mtime_ns))
            p->cur_file->size = -1;
    }
    if (p->records != NULL) {
        rc = ch_writer_source(p->records, is_stdin ? NULL : digest, err);
        if (rc != DS_OK)
            return DS_ERR_DB;
    }
    rc = ingest_file(path, &opts, &stats, digest, err);
    if (p->records != NULL && p->records_rc != DS_OK) {
        *err = p->records_err;
        return DS_ERR_DB;
    }
    if (p->cur_file != NULL) {
        struct run_file *rf = p->cur_file;
        int64_t size = -1, mtime_ns = 0;

        snprintf(rf->digest, sizeof(rf->digest), "%s", digest);
        /* changed while it was read: no index, reading back reads it whole and checks the digest */
        if (rf->size < 0 || !file_identity(path, &size, &mtime_ns) || size != rf->size ||
            mtime_ns != rf->mtime_ns || (uint64_t)size != stats.bytes)
            rf->n = 0;
    }
    p->cur_file = NULL;
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

/*
 * bench/ceiling.sh builds with DS_CEILING=2 to time a run without reading
 * back (and without details: count_group() in agg.c); its output is wrong.
 */
#if defined(DS_CEILING) && DS_CEILING >= 2
#define CEILING_SKIPS_REREAD 1
#else
#define CEILING_SKIPS_REREAD 0
#endif

/*
 * drilldown.lists reread: the drill-down of every slot this run judged
 * unstable, computed again with its shown groups' lists and minutes read
 * back exactly from the files that hold it, for every analysis in one
 * pass over them, on every core (series_reread_prepare() and after).  In the run's
 * transaction: a run stopped while reading back has recorded neither its
 * inputs nor its judgement, and the next run does it all again.
 */
static enum ds_rc
reread_unstable(struct pipeline *p, struct ds_error *err)
{
    struct series_reread_set *sets = xcalloc(p->n_an + 1, sizeof(*sets));
    struct series_shown **shown = xcalloc(p->n_an + 1, sizeof(*shown));
    struct explain_file *known = xcalloc(p->n_files + 1, sizeof(*known));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct series_reread *rr = NULL;
    enum ds_rc rc;

    for (size_t i = 0; i < p->n_an; i++) {
        struct analysis_run *r = &p->an[i];

        sets[i].a = r->pub.cfg;
        sets[i].layout = &r->pub.layout;
        sets[i].aid = r->pub.store_id;
        sets[i].n = series_take_unstable(r->series, &sets[i].v, &shown[i]);
        sets[i].shown = shown[i];
    }
    for (size_t i = 0; i < p->n_files; i++) {
        known[i].digest = p->files[i].digest;
        known[i].chunks = p->files[i].chunks;
        known[i].n_chunks = p->files[i].n;
        known[i].size = p->files[i].size;
        known[i].mtime_ns = p->files[i].mtime_ns;
    }
    rc = series_reread_prepare(p->cfg, p->st, sets, p->n_an, known, p->n_files, &rr, err);
    /*
     * The aggregation's slots are freed, but its threads' arenas keep the
     * pages: given back first, the reading's lists take their place rather
     * than adding to them.
     */
    xmem_release_free();
    if (rc == DS_OK) {
        series_reread_run(rr, cpus > 0 ? (unsigned)cpus : 1, NULL);
        rc = series_reread_apply(rr, p->st, true, err);
        series_reread_free(rr);
    }
    for (size_t i = 0; i < p->n_an; i++) {
        for (size_t k = 0; k < sets[i].n; k++)
            slot_result_fini(&sets[i].v[k]);
        free(sets[i].v);
        free(shown[i]);
    }
    free(shown);
    free(known);
    free(sets);
    return rc;
}

enum ds_rc
pipeline_finish(struct pipeline *p, struct ds_error *err)
{
    enum ds_rc rc;

    stop_thread(p);
    p->counts.norm = *norm_get_stats(p->norm);
    /* the ring's 12 MB are done with: not beside the maps of reading back */
    for (size_t i = 0; i < RING_BATCHES; i++) {
        free(p->ring[i]);
        p->ring[i] = NULL;
    }
    p->cur = NULL;
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
    log_debug("pipeline: slots judged, drill-downs computed");
    if (p->dd.lists == CFG_LISTS_REREAD && !CEILING_SKIPS_REREAD) {
        rc = reread_unstable(p, err);
        if (rc != DS_OK)
            return rc;
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

/* ---- live collection ------------------------------------------------------ */

/*
 * At start, the open slots of the last checkpoint go back into the
 * aggregation, except those a later commit saved as closed (they closed
 * between the checkpoint and a crash): their stored counts are the newer.
 */
static enum ds_rc
restore_open_slots(struct pipeline *p, struct analysis_run *r, struct ds_error *err)
{
    struct agg_slot **slots = NULL;
    size_t n = 0, restored = 0;
    int64_t upto;
    enum ds_rc rc;

    rc = store_open_slots_load(p->st, r->pub.store_id, &r->pub.layout, &upto, &slots, &n, err);
    if (rc != DS_OK)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct store_slot_summary *sum = NULL;
        size_t n_sum = 0;

        rc = store_slot_summaries(p->st, r->pub.store_id, slots[i]->start, slots[i]->start + 1,
                                  &sum, &n_sum, err);
        free(sum);
        if (rc != DS_OK || n_sum > 0) {
            if (n_sum > 0 && slots[i]->end > upto)
                upto = slots[i]->end;
            agg_slot_free(slots[i]);
            continue;
        }
        agg_restore(r->agg, slots[i], INT64_MIN);
        restored++;
    }
    free(slots);
    if (rc != DS_OK)
        return rc;
    agg_restore(r->agg, NULL, upto);
    if (restored > 0 || upto != INT64_MIN)
        log_info("collect: %s: %zu open slots restored from the last checkpoint",
                 r->pub.cfg->name, restored);
    return DS_OK;
}

/* The store thread judged a slot: remember it for the metrics, then tell the collector. */
static void
on_judged(void *ctx, const struct cfg_analysis *a, const struct slot_result *r)
{
    struct analysis_run *run = ctx;
    struct pipeline_live_analysis *l = &run->live;

    pthread_mutex_lock(&run->p->live_lock);
    if (r->late_flows > 0)
        l->slots_revised++;
    else
        l->slots_closed++;
    if (r->late_flows == 0 && r->folded_packets > 0) {
        l->slots_folded++;
        l->folded_packets += r->folded_packets;
    }
    if (r->start >= l->last_start) {
        l->last_start = r->start;
        l->last_end = r->end;
        l->last_incomplete = r->incomplete;
        l->n_th = r->n_th;
        for (size_t t = 0; t < r->n_th; t++) {
            snprintf(l->th[t].th, sizeof(l->th[t].th), "%s", r->th[t].th.text);
            l->th[t].topn = r->th[t].topn;
            l->th[t].status = r->th[t].r.status;
            l->th[t].dir = r->th[t].r.dir;
        }
    }
    l->late_flows = run->pub.late;
    pthread_mutex_unlock(&run->p->live_lock);
    for (size_t i = 0; i < JUDGED_TOLD; i++)
        if (i < run->n_told && run->told[i].start == r->start &&
            run->told[i].packets == r->packets)
            return;
    run->told[run->n_told % JUDGED_TOLD].start = r->start;
    run->told[run->n_told % JUDGED_TOLD].packets = r->packets;
    run->n_told++;
    if (run->p->on_judged != NULL)
        run->p->on_judged(run->p->on_judged_ctx, a, r);
}

void
pipeline_set_records(struct pipeline *p, struct ch_writer *w)
{
    p->records = w;
}

void
pipeline_add_flow(struct pipeline *p, const struct flow *f)
{
    p->cur->flows[p->cur->n] = *f;
    p->counts.counted++;
    if (++p->cur->n == BATCH_FLOWS)
        push_batch(p, 0);
}

void
pipeline_set_watermark(struct pipeline *p, int64_t watermark_s)
{
    if (watermark_s > p->watermark_s)
        p->watermark_s = watermark_s;
}

void
pipeline_close_open(struct pipeline *p)
{
    p->cur->close_open = 1;
    push_batch(p, 0);
}

void
pipeline_flush(struct pipeline *p)
{
    if (p->cur->n > 0 || p->watermark_s != p->pushed_watermark_s)
        push_batch(p, 0);
    else
        flush_minutes(p);
}

uint32_t
pipeline_checkpoint(struct pipeline *p, struct store_collector *state)
{
    struct work *w = xcalloc(1, sizeof(*w));
    uint32_t id = __atomic_add_fetch(&p->checkpoints, 1, __ATOMIC_RELEASE);

    flush_minutes(p);
    w->kind = W_STATE;
    w->checkpoint = id;
    w->state = *state;
    state->state = NULL;
    state->state_len = 0;
    /* from here w belongs to the store thread, which may free it at once */
    work_push(p, w);
    /* every analysis hands over its open slots once it has counted what came before */
    p->cur->checkpoint = id;
    push_batch(p, 0);
    return id;
}

bool
pipeline_checkpoint_wait(struct pipeline *p, uint32_t id, int timeout_ms)
{
    struct timespec until;
    bool done;

    until = deadline_after_ms(timeout_ms);
    pthread_mutex_lock(&p->lock);
    while (p->cp_done < id)
        if (pthread_cond_timedwait(&p->cp_cond, &p->lock, &until) != 0)
            break;
    done = p->cp_done >= id;
    pthread_mutex_unlock(&p->lock);
    return done;
}

void
pipeline_add_minute(struct pipeline *p, const struct store_minute *m)
{
    if (p->n_minutes == p->cap_minutes) {
        p->cap_minutes = p->cap_minutes ? p->cap_minutes * 2 : 64;
        p->minutes = xreallocarray(p->minutes, p->cap_minutes, sizeof(*p->minutes));
    }
    p->minutes[p->n_minutes++] = *m;
    /* many exporters between batches: a bound on what waits here */
    if (p->n_minutes >= MINUTES_PENDING_MAX)
        flush_minutes(p);
}

void
pipeline_push_gap(struct pipeline *p, const struct store_gap *g)
{
    struct work *w = xcalloc(1, sizeof(*w));

    flush_minutes(p);

    w->kind = W_GAP;
    w->gap = *g;
    work_push(p, w);
}

bool
pipeline_archive_reread_stats(struct pipeline *p, struct archive_reread_stats *out)
{
    if (p->archive_reread == NULL)
        return false;
    archive_reread_stats(p->archive_reread, out);
    return true;
}

enum ds_rc
pipeline_stop_live(struct pipeline *p, struct ds_error *err)
{
    /*
     * The aggregation stops where it is: open slots stay open, in the last
     * checkpoint.  A store that fails holds closed slots in the queue: the
     * aggregation must not wait for room there now.
     */
    pthread_mutex_lock(&p->lock);
    p->stopping = 1;
    pthread_cond_broadcast(&p->work_cond);
    pthread_mutex_unlock(&p->lock);
    stop_thread(p);
    stop_writer(p);
    if (p->archive_reread != NULL) {
        struct ds_error aerr;

        /* the caller's last checkpoint flushed the archive: what waits is read, for a while */
        archive_reread_stop(p->archive_reread, ARCHIVE_STOP_WAIT_MS);
        if (archive_reread_apply(p->archive_reread, p->st, &aerr) != DS_OK ||
            store_commit(p->st, &aerr) != DS_OK)
            log_warnx("collect: the lists read back from the archive are not saved: %s",
                      aerr.msg);
    }
    p->in_transaction = 0;
    p->finished = 1;
    if (p->live_rc != DS_OK) {
        *err = p->live_err;
        return p->live_rc;
    }
    return DS_OK;
}

void
pipeline_live_status(struct pipeline *p, size_t i, struct pipeline_live_analysis *out)
{
    pthread_mutex_lock(&p->live_lock);
    *out = p->an[i].live;
    pthread_mutex_unlock(&p->live_lock);
}

void
pipeline_live_store(struct pipeline *p, uint64_t *errors, bool *failing)
{
    pthread_mutex_lock(&p->live_lock);
    *errors = p->store_errors;
    *failing = p->store_failing;
    pthread_mutex_unlock(&p->live_lock);
}

bool
pipeline_checkpoint_behind(struct pipeline *p)
{
    bool failing, behind;

    pthread_mutex_lock(&p->live_lock);
    failing = p->store_failing;
    pthread_mutex_unlock(&p->live_lock);
    pthread_mutex_lock(&p->lock);
    behind = p->cp_done < __atomic_load_n(&p->checkpoints, __ATOMIC_ACQUIRE);
    pthread_mutex_unlock(&p->lock);
    return failing && behind;
}

enum ds_rc
pipeline_live_error(struct pipeline *p, struct ds_error *err)
{
    enum ds_rc rc;

    pthread_mutex_lock(&p->live_lock);
    rc = p->live_rc;
    if (rc != DS_OK)
        *err = p->live_err;
    pthread_mutex_unlock(&p->live_lock);
    return rc;
}
