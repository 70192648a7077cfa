/*
 * The collector's nightly report mail, on a thread of its own so that a
 * slow or silent SMTP server (up to smtp.timeout) never holds up the
 * reception of flows.
 *
 * Once a second the collector tells the time and how far every analysis
 * has judged its slots (mailer_tick).  The thread then:
 *   1. finds the day due (mail_due_day): the day before the latest
 *      report.schedule passed.  Checked at start too, so a day whose time
 *      passed while the collector was down is mailed when it comes back;
 *   2. if the store has no record of that day, waits until its slots are
 *      judged (or, should an exporter lag, until the day's end plus
 *      collector.lateness and a grace), renders it (report_render) and
 *      hands it to mail_deliver(), which spools it and tries it once;
 *   3. retries the spooled messages whose time has come.
 * It shares the collector's store: the live pipeline keeps a write
 * transaction open between its commits, so a connection of its own could
 * neither record a day nor see a record not yet committed.  Its calls are
 * serialised with the store thread's by the store's lock, and its records
 * are committed with the next checkpoint (collector.checkpoint); after a
 * kill -9 in between, a day may be mailed again, never lost.
 *
 * On a ClickHouse cluster the judgements are in the view, which the
 * judging thread writes in transactions of a round each: the mailer opens
 * it on a connection of its own, only mails while this node judges
 * (due_here), and asks the ledger (the cluster's mails table) first, so
 * that a node that takes over the judging does not mail a day again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/log.h"
#include "ds/mail.h"
#include "ds/tz.h"
#include "ds/xmem.h"

#define GRACE_S 120          /* after end + lateness, a lagging exporter is not waited for */
#define RENDER_RETRY_S 60    /* a report that failed to render is tried again after this */

struct mailer {
    const struct ds_cfg *cfg;       /* borrowed */
    struct store *st;               /* borrowed (the collector's), or owned when path */
    char *path;                     /* owned: the store to open when a day is due here */
    const struct mail_ledger *ledger;   /* borrowed; NULL: none */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    bool joined;
    bool ticked;
    int64_t now;                    /* under lock: the latest tick */
    int64_t closed_upto;
    bool due_here;
    /* the thread's own */
    char handled[16];               /* the latest day found sent, spooled or mailed */
    int64_t render_after;
    /* metrics */
    _Atomic uint64_t sent;
    _Atomic uint64_t failed;
    _Atomic long spooled;
};

static void
day_name(int64_t day, char *buf, size_t len)
{
    time_t t = (time_t)day;
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
}

/* The store to mail from: a view is opened the first time it is needed. */
static bool
store_ready(struct mailer *m, struct ds_error *err)
{
    if (m->st == NULL)
        m->st = store_open("sqlite", m->path, err);
    return m->st != NULL;
}

/* Step 2: the report of the day due, once. */
static void
mail_day(struct mailer *m, int64_t now, int64_t closed_upto)
{
    const struct ds_cfg *cfg = m->cfg;
    int64_t due, day = mail_due_day(cfg, now, &due), end = tz_next_day(day);
    struct report_doc doc;
    struct store_mail rec;
    struct ds_error err;
    bool found = false;
    char name[16];
    enum ds_rc rc;

    day_name(day, name, sizeof(name));
    if (strcmp(name, m->handled) == 0 || now < m->render_after)
        return;
    if (!store_ready(m, &err)) {
        log_warnx("mail: %s", err.msg);
        m->render_after = now + RENDER_RETRY_S;
        return;
    }
    if (store_mail_find(m->st, name, &rec, &found, &err) != DS_OK) {
        log_warnx("mail: %s", err.msg);
        m->render_after = now + RENDER_RETRY_S;
        return;
    }
    if (found) {
        snprintf(m->handled, sizeof(m->handled), "%s", name);
        return;
    }
    if (closed_upto < end && now < end + cfg->collector_lateness_s + GRACE_S)
        return; /* the day's last slots are about to close */
    /* the cluster: another node that judged before this one may have mailed it */
    if (m->ledger != NULL) {
        char by[64] = "";

        if (m->ledger->was_sent(m->ledger->ctx, name, &found, by, sizeof(by), &err) != DS_OK) {
            log_warnx("mail: the report of %s: %s; trying again in %ds", name, err.msg,
                      RENDER_RETRY_S);
            m->render_after = now + RENDER_RETRY_S;
            return;
        }
        if (found) {
            log_info("mail: the report of %s was mailed by node %s", name, by);
            snprintf(m->handled, sizeof(m->handled), "%s", name);
            return;
        }
    }
    memset(&doc, 0, sizeof(doc));
    rc = report_render(cfg, m->st, day, end, name, &doc, &err);
    if (rc != DS_OK) {
        log_warnx("mail: the report of %s: %s; trying again in %ds", name, err.msg,
                  RENDER_RETRY_S);
        report_doc_fini(&doc);
        m->render_after = now + RENDER_RETRY_S;
        return;
    }
    rc = mail_deliver(cfg, m->st, m->ledger, name, &doc, &err);
    if (rc == DS_OK) {
        atomic_fetch_add(&m->sent, 1);
        log_info("mail: the report of %s was sent to %zu recipient%s (%s)", name,
                 cfg->report.mail_to.n, cfg->report.mail_to.n == 1 ? "" : "s",
                 doc.subject ? doc.subject : "");
    } else if (rc == DS_ERR_NET) {
        atomic_fetch_add(&m->failed, 1);
        log_warnx("mail: the report of %s: %s", name, err.msg);
    } else {
        log_warnx("mail: the report of %s: %s", name, err.msg);
    }
    if (rc == DS_OK || rc == DS_ERR_NET || rc == DS_ERR_CONFLICT)
        snprintf(m->handled, sizeof(m->handled), "%s", name);
    else
        m->render_after = now + RENDER_RETRY_S;
    report_doc_fini(&doc);
}

/* Step 3: the spooled messages whose time has come. */
static void
retry(struct mailer *m, int64_t now)
{
    uint64_t sent = 0, failed = 0;
    struct ds_error err;

    if (m->st == NULL && mail_spooled(m->cfg) <= 0)
        return; /* a view not needed yet */
    if (!store_ready(m, &err)) {
        log_warnx("mail: %s", err.msg);
        return;
    }
    if (mail_retry_due(m->cfg, m->st, m->ledger, now, false, &sent, &failed, &err) != DS_OK)
        log_warnx("mail: %s", err.msg);
    else if (failed > 0)
        log_warnx("mail: %s", err.msg);
    if (sent > 0)
        log_info("mail: %llu spooled report mail%s sent", (unsigned long long)sent,
                 sent == 1 ? "" : "s");
    atomic_fetch_add(&m->sent, sent);
    atomic_fetch_add(&m->failed, failed);
}

static void *
run(void *arg)
{
    struct mailer *m = arg;

    pthread_mutex_lock(&m->lock);
    for (;;) {
        int64_t now, closed;
        bool due_here;

        while (!m->stop && !m->ticked)
            pthread_cond_wait(&m->cond, &m->lock);
        if (m->stop)
            break;
        m->ticked = false;
        now = m->now;
        closed = m->closed_upto;
        due_here = m->due_here;
        pthread_mutex_unlock(&m->lock);
        if (due_here)
            mail_day(m, now, closed);
        retry(m, now);
        atomic_store(&m->spooled, mail_spooled(m->cfg));
        pthread_mutex_lock(&m->lock);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

enum ds_rc
mailer_start(const struct ds_cfg *cfg, const struct mailer_source *src, struct mailer **out,
             struct ds_error *err)
{
    struct mailer *m;

    *out = NULL;
    if (cfg->report.schedule_min < 0)
        return DS_OK;
    m = xcalloc(1, sizeof(*m));
    m->cfg = cfg;
    m->st = src->st;
    m->path = src->st == NULL ? xstrdup(src->path) : NULL;
    m->ledger = src->ledger;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    atomic_store(&m->spooled, mail_spooled(cfg));
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        pthread_mutex_destroy(&m->lock);
        pthread_cond_destroy(&m->cond);
        free(m->path);
        free(m);
        return ds_error_set(err, DS_ERR_INTERNAL, "mail: cannot start a thread");
    }
    *out = m;
    return DS_OK;
}

void
mailer_tick(struct mailer *m, int64_t now, int64_t closed_upto, bool due_here)
{
    if (m == NULL)
        return;
    pthread_mutex_lock(&m->lock);
    m->now = now;
    m->closed_upto = closed_upto;
    m->due_here = due_here;
    m->ticked = true;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
}

void
mailer_get_stats(struct mailer *m, struct mailer_stats *s)
{
    memset(s, 0, sizeof(*s));
    if (m == NULL)
        return;
    s->sent = atomic_load(&m->sent);
    s->failed = atomic_load(&m->failed);
    s->spooled = atomic_load(&m->spooled);
}

void
mailer_halt(struct mailer *m)
{
    if (m == NULL || m->joined)
        return;
    pthread_mutex_lock(&m->lock);
    m->stop = true;
    pthread_cond_signal(&m->cond);
    pthread_mutex_unlock(&m->lock);
    pthread_join(m->thread, NULL);
    m->joined = true;
}

void
mailer_stop(struct mailer *m)
{
    if (m == NULL)
        return;
    mailer_halt(m);
    pthread_mutex_destroy(&m->lock);
    pthread_cond_destroy(&m->cond);
    if (m->path != NULL) {
        store_close(m->st);
        free(m->path);
    }
    free(m);
}
