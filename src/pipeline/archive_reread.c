/*
 * Live drill-down lists read back from the collector's archive (see
 * ds/archive_reread.h).
 *
 * Our implementation:
 *   1. the store thread pushes each slot it judged unstable, with the
 *      number of the last checkpoint requested then;
 *   2. this module's thread takes a job once a later checkpoint is
 *      committed (the archive was flushed for it), lists the archive files
 *      of the slot's arrival span, and counts its shown groups in them
 *      (explain_reread_jobs(), one reader: the cores are the collector's);
 *   3. the store thread, at its next settling, puts the exact lists in the
 *      slot's drill-down (series_apply_exact()): not if packets are
 *      missing, nor if the slot was revised since (its new judgement has
 *      pushed it again).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "ds/archive.h"
#include "ds/archive_reread.h"
#include "ds/deadline.h"
#include "ds/explain.h"
#include "ds/log.h"
#include "ds/pipeline.h"
#include "ds/xmem.h"

/* exporters' clocks ahead of ours: their flows start before they arrive by this much */
#define CLOCK_SKEW_S 3600

struct job {
    struct job *next;
    const struct cfg_analysis *a;
    const struct key_layout *layout;
    int64_t aid;
    struct slot_result r;       /* owned, with its drill-down */
    uint32_t after;             /* read once a checkpoint after this one is committed */
    int64_t judged_s;
    struct explain_exact *x;    /* what was read back; NULL: nothing (logged) */
    size_t n_files;
};

struct archive_reread {
    const struct ds_cfg *cfg;
    char *dir;
    int64_t rotate_s;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;        /* a job may be ready, or stop */
    pthread_cond_t idle;        /* a job is done */
    struct job *todo, *todo_tail, *done, *done_tail;
    size_t n_todo;
    bool busy;                  /* a job is being read */
    uint32_t cp_done;
    bool all_ready;             /* stopping: the archive is complete */
    bool stop;
    int cancel;                 /* set atomically: the job under way stops reading */
    struct archive_reread_stats st;
};

static void
job_free(struct job *j)
{
    slot_result_fini(&j->r);
    explain_exact_free(j->x);
    free(j);
}

/* 2. the archive files that hold the slot's flows, and the slot counted in them */
static void
read_back(struct archive_reread *ar, struct job *j)
{
    int64_t len = j->r.end - j->r.start;
    int64_t replay = j->judged_s - len - ar->cfg->collector_lateness_s;
    int64_t from = (j->r.start < replay ? j->r.start : replay) - CLOCK_SKEW_S;
    const struct slot_explain *ex = j->r.explain;
    struct archive_file *af = NULL;
    struct explain_file *files;
    struct explain_reread_job rj;
    struct ds_error err;
    size_t n = 0;

    if (archive_files(ar->dir, ar->rotate_s, from, j->judged_s + ar->rotate_s, &af, &n, &err) !=
        DS_OK) {
        log_warnx("%s: slot at %lld: the archive is not read back: %s", j->a->name,
                  (long long)j->r.start, err.msg);
        return;
    }
    files = xcalloc(n + 1, sizeof(*files));
    for (size_t i = 0; i < n; i++) {
        struct stat sb;

        /* a .part completed since it was listed has its final name */
        if (af[i].growing && stat(af[i].path, &sb) != 0 && errno == ENOENT)
            af[i].path[strlen(af[i].path) - strlen(".part")] = '\0';
        files[i].path = af[i].path;
        /* no flow times are known per file: each may hold any of the slot's */
        files[i].first_ms = INT64_MIN / 2;
        files[i].last_ms = INT64_MAX / 2;
        files[i].growing = af[i].growing;
    }
    rj = (struct explain_reread_job){.a = j->a, .layout = j->layout, .ex = &ex, .n_ex = 1,
                                     .files = files, .n_files = n, .out = &j->x,
                                     .lateness_s = ar->cfg->collector_lateness_s};
    if (n > 0 && explain_reread_jobs(ar->cfg, &rj, 1, 1, &ar->cancel, &err) != DS_OK)
        log_warnx("%s: slot at %lld: the archive is not read back: %s", j->a->name,
                  (long long)j->r.start, err.msg);
    j->n_files = n;
    free(files);
    archive_files_free(af, n);
}

static bool
ready(const struct archive_reread *ar)
{
    return ar->todo != NULL && (ar->all_ready || ar->cp_done > ar->todo->after);
}

static void *
run(void *arg)
{
    struct archive_reread *ar = arg;

    pthread_mutex_lock(&ar->lock);
    for (;;) {
        struct job *j;

        while (!ar->stop && !ready(ar))
            pthread_cond_wait(&ar->cond, &ar->lock);
        if (ar->stop)
            break;
        j = ar->todo;
        ar->todo = j->next;
        if (ar->todo == NULL)
            ar->todo_tail = NULL;
        ar->n_todo--;
        ar->busy = true;
        pthread_mutex_unlock(&ar->lock);

        j->next = NULL;
        read_back(ar, j);

        pthread_mutex_lock(&ar->lock);
        ar->busy = false;
        if (ar->done_tail != NULL)
            ar->done_tail->next = j;
        else
            ar->done = j;
        ar->done_tail = j;
        pthread_cond_broadcast(&ar->idle);
    }
    pthread_mutex_unlock(&ar->lock);
    return NULL;
}

struct archive_reread *
archive_reread_new(const struct ds_cfg *cfg, const char *dir, int64_t rotate_s)
{
    struct archive_reread *ar = xcalloc(1, sizeof(*ar));

    ar->cfg = cfg;
    ar->dir = xstrdup(dir);
    ar->rotate_s = rotate_s > 0 ? rotate_s : 1;
    pthread_mutex_init(&ar->lock, NULL);
    pthread_cond_init(&ar->cond, NULL);
    pthread_cond_init(&ar->idle, NULL);
    ar->started = pthread_create(&ar->thread, NULL, run, ar) == 0;
    if (!ar->started)
        log_warnx("collect: no thread to read the archive back: the lists stay in memory");
    return ar;
}

void
archive_reread_push(struct archive_reread *ar, const struct cfg_analysis *a,
                    const struct key_layout *layout, int64_t aid, struct slot_result *r,
                    uint32_t after_checkpoint, int64_t judged_s)
{
    struct job *j = xcalloc(1, sizeof(*j));

    j->a = a;
    j->layout = layout;
    j->aid = aid;
    j->r = *r;
    memset(r, 0, sizeof(*r));
    j->after = after_checkpoint;
    j->judged_s = judged_s;
    pthread_mutex_lock(&ar->lock);
    if (!ar->started || ar->stop) {
        ar->st.dropped++;
        pthread_mutex_unlock(&ar->lock);
        job_free(j);
        return;
    }
    /* judged again before it was read: the newer judgement takes its place */
    for (struct job *w = ar->todo; w != NULL; w = w->next) {
        if (w->aid == j->aid && w->r.start == j->r.start) {
            struct job *next = w->next;

            slot_result_fini(&w->r);
            w->r = j->r;
            w->after = j->after;
            w->judged_s = j->judged_s;
            w->next = next;
            memset(&j->r, 0, sizeof(j->r));
            pthread_mutex_unlock(&ar->lock);
            job_free(j);
            return;
        }
    }
    if (ar->n_todo >= ARCHIVE_REREAD_JOBS) {
        struct job *old = ar->todo;

        ar->todo = old->next;
        ar->n_todo--;
        ar->st.dropped++;
        log_warnx("%s: slot at %lld: %d slots already wait to be read back from the archive; "
                  "this one keeps its lists from memory",
                  old->a->name, (long long)old->r.start, ARCHIVE_REREAD_JOBS);
        job_free(old);
    }
    if (ar->todo_tail != NULL && ar->todo != NULL)
        ar->todo_tail->next = j;
    else
        ar->todo = j;
    ar->todo_tail = j;
    ar->n_todo++;
    pthread_cond_signal(&ar->cond);
    pthread_mutex_unlock(&ar->lock);
}

void
archive_reread_checkpoint(struct archive_reread *ar, uint32_t done)
{
    pthread_mutex_lock(&ar->lock);
    if (done > ar->cp_done)
        ar->cp_done = done;
    pthread_cond_signal(&ar->cond);
    pthread_mutex_unlock(&ar->lock);
}

static enum ds_rc
unstable_cb(void *ctx, const struct slot_result *r)
{
    *(bool *)ctx = r->explain != NULL && slot_result_unstable(r);
    return DS_OK;
}

/*
 * Is j's slot still judged unstable in the store, with a drill-down?  A
 * judgement since may have made it stable (and dropped its drill-down):
 * the lists read back for the old one are not saved then.
 */
static bool
still_unstable(struct store *st, const struct job *j)
{
    struct ds_error err;
    bool unstable = false;

    if (store_results(st, j->aid, j->layout, j->a, j->r.start, j->r.start + 1, unstable_cb,
                      &unstable, &err) != DS_OK)
        return false;
    return unstable;
}

enum ds_rc
archive_reread_apply(struct archive_reread *ar, struct store *st, struct ds_error *err)
{
    struct job *list;
    enum ds_rc rc = DS_OK;

    pthread_mutex_lock(&ar->lock);
    list = ar->done;
    ar->done = ar->done_tail = NULL;
    pthread_mutex_unlock(&ar->lock);
    while (list != NULL) {
        struct job *j = list;
        bool applied = false;

        list = j->next;
        if (rc == DS_OK && j->x != NULL && still_unstable(st, j))
            rc = series_apply_exact(ar->cfg, j->a, j->layout, st, j->aid, &j->r, NULL, j->x,
                                    true, &applied, err);
        /* counted before it is logged: a metric never lags the log it is checked against */
        pthread_mutex_lock(&ar->lock);
        if (applied)
            ar->st.applied++;
        else
            ar->st.kept++;
        pthread_mutex_unlock(&ar->lock);
        if (applied)
            log_info("%s: slot at %lld: lists read back exactly from %zu archive files; "
                     "probable cause: %s",
                     j->a->name, (long long)j->r.start, j->n_files,
                     explain_cause_name(j->r.explain->cause));
        job_free(j);
    }
    return rc;
}

void
archive_reread_stats(struct archive_reread *ar, struct archive_reread_stats *out)
{
    pthread_mutex_lock(&ar->lock);
    *out = ar->st;
    out->pending = ar->n_todo + (ar->busy ? 1 : 0);
    for (const struct job *j = ar->done; j != NULL; j = j->next)
        out->pending++;
    pthread_mutex_unlock(&ar->lock);
}

void
archive_reread_stop(struct archive_reread *ar, int wait_ms)
{
    struct timespec until;
    size_t dropped = 0;

    until = deadline_after_ms(wait_ms);
    pthread_mutex_lock(&ar->lock);
    ar->all_ready = true;
    pthread_cond_broadcast(&ar->cond);
    while (ar->started && !ar->stop && (ar->todo != NULL || ar->busy))
        if (pthread_cond_timedwait(&ar->idle, &ar->lock, &until) != 0)
            break;
    ar->stop = true;
    /* past the wait, the file under way is left where it is */
    __atomic_store_n(&ar->cancel, 1, __ATOMIC_RELAXED);
    while (ar->todo != NULL) {
        struct job *j = ar->todo;

        ar->todo = j->next;
        job_free(j);
        dropped++;
    }
    ar->todo_tail = NULL;
    ar->n_todo = 0;
    ar->st.dropped += dropped;
    pthread_cond_broadcast(&ar->cond);
    pthread_mutex_unlock(&ar->lock);
    if (dropped > 0)
        log_warnx("collect: stopping: %zu unstable slots are not read back from the archive; "
                  "they keep their lists from memory", dropped);
    /* the job under way ends at its next message */
    if (ar->started) {
        pthread_join(ar->thread, NULL);
        ar->started = false;
    }
}

void
archive_reread_free(struct archive_reread *ar)
{
    if (ar == NULL)
        return;
    archive_reread_stop(ar, 0);
    while (ar->done != NULL) {
        struct job *j = ar->done;

        ar->done = j->next;
        job_free(j);
    }
    pthread_cond_destroy(&ar->cond);
    pthread_cond_destroy(&ar->idle);
    pthread_mutex_destroy(&ar->lock);
    free(ar->dir);
    free(ar);
}
