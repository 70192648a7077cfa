/*
 * Live judging on a ClickHouse cluster (see ds/cluster_live.h and
 * docs/CLICKHOUSE.md section 6).
 *
 * Our implementation: a thread of the collector, every ROUND_S,
 *   1. reads the latest row of every node (ch_nodes()) and makes the plan:
 *      who judges, and up to where every record is in;
 *   2. if this node judges: for each analysis, the slots from the end of
 *      the last one judged (the view's latest slot, or the slot of the
 *      cluster's first record) to the last one that ends at or before the
 *      cluster's watermark (all nodes idle: the slot of the latest record)
 *      are judged by cluster_judge() into the view and written to the
 *      cluster.  A failed round is tried again at the next.
 *   3. revisions: slots judged already are judged again, from the slot of
 *      the earliest record that came after, when a batch named in the
 *      revisions table (its node had written a watermark past some of its
 *      records) is in the cluster, and when a node appears or comes back
 *      (its records may be older than what was judged without it).  Both
 *      reach back store.clickhouse.revise_for at most.
 */
#include <glib.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/cluster.h"
#include "ds/cluster_live.h"
#include "ds/log.h"
#include "ds/pipeline.h"
#include "ds/slotcal.h"
#include "ds/store.h"
#include "ds/strbuf.h"
#include "ds/xmem.h"

#define ROUND_S 2
#define WARN_EVERY_S 60
#define NODES_MAX 256               /* nodes remembered from one round to the next */

struct cluster_live {
    const struct ds_cfg *cfg;
    char *view_path;
    struct store *view;                 /* opened at the first round that judges */
    struct ch_client *client;
    atomic_bool stopping;               /* its requests give up: the collector stops */
    struct pipeline_analysis an[CFG_ANALYSES_MAX];
    int64_t upto[CFG_ANALYSES_MAX];     /* end of the slots judged; INT64_MIN: not known yet */
    int64_t warned_s;
    /* what the last round that judged saw: the alive nodes, and the revisions done */
    char (*was_alive)[64];
    size_t n_was_alive;
    bool judged_before;
    GHashTable *revised;                /* "node/batch" -> NULL */
    _Atomic int64_t idle_close_ms;      /* collector.idle_close, as reloaded */
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    struct cluster_live_stats st;       /* under lock */
};

static int64_t
wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
cluster_live_plan(const struct ch_node *nodes, size_t n, const char *self, int analyzer,
                  int64_t now_ms, int64_t idle_close_ms, struct cluster_plan *plan)
{
    int64_t busy_min = INT64_MAX, idle_max = INT64_MIN;
    const char *first = NULL;   /* the first alive node, in name order, that may judge */
    bool self_seen = false;
    size_t used = 0;

    memset(plan, 0, sizeof(*plan));
    plan->watermark_ms = INT64_MIN;
    for (size_t i = 0; i < n; i++) {
        const struct ch_node *nd = &nodes[i];
        bool is_self = strcmp(nd->node, self) == 0;

        self_seen |= is_self;
        if (!is_self && now_ms - nd->updated_ms > idle_close_ms) {
            plan->missing++;
            if (used + strlen(nd->node) + 3 < sizeof(plan->missing_names))
                used += (size_t)snprintf(plan->missing_names + used,
                                         sizeof(plan->missing_names) - used, "%s%s",
                                         used ? ", " : "", nd->node);
            continue;
        }
        plan->alive++;
        if (first == NULL && (is_self ? analyzer != CFG_ANALYZER_FALSE : nd->analyzer))
            first = nd->node;
        if (nd->idle) {
            plan->idle++;
            if (nd->watermark_ms > idle_max)
                idle_max = nd->watermark_ms;
        } else if (nd->watermark_ms < busy_min) {
            busy_min = nd->watermark_ms;
        }
    }
    if (!self_seen) {
        /* running, its first row not written yet: it holds nothing back, and may judge */
        plan->alive++;
        if (analyzer != CFG_ANALYZER_FALSE && (first == NULL || strcmp(self, first) < 0))
            first = self;
    }
    snprintf(plan->judge_node, sizeof(plan->judge_node), "%s",
             analyzer == CFG_ANALYZER_TRUE ? self : first != NULL ? first : "");
    plan->judge = analyzer != CFG_ANALYZER_FALSE && strcmp(plan->judge_node, self) == 0;
    if (busy_min != INT64_MAX) {
        /* INT64_MIN: a node started without exporters yet holds every slot back */
        plan->watermark_ms = busy_min;
    } else if (plan->idle > 0) {
        plan->watermark_ms = idle_max;
        plan->all_idle = true;
    }
}

char *
cluster_view_path(const struct ds_cfg *cfg)
{
    return xasprintf("%s.cluster", cfg->store_path);
}

/* ch_query_value(), *found if the aggregate had rows. */
static enum ds_rc
query_int(struct cluster_live *cl, const char *sql, int64_t *v, bool *found,
          struct ds_error *err)
{
    int64_t n;
    enum ds_rc rc = ch_query_value(cl->client, sql, v, &n, err);

    *found = n > 0;
    return rc;
}

/* The view, opened and its analyses registered, once. */
static enum ds_rc
open_view(struct cluster_live *cl, struct ds_error *err)
{
    const struct ds_cfg *cfg = cl->cfg;
    enum ds_rc rc;

    if (cl->view != NULL)
        return DS_OK;
    cl->view = store_open("sqlite", cl->view_path, err);
    if (cl->view == NULL)
        return DS_ERR_DB;
    rc = store_begin(cl->view, err);
    for (size_t i = 0; rc == DS_OK && i < cfg->n_analyses; i++) {
        unsigned changed;

        rc = pipeline_register_analysis(cfg, &cfg->analyses[i], cl->view, &cl->an[i], &changed,
                                        err);
    }
    if (rc == DS_OK)
        rc = store_commit(cl->view, err);
    if (rc != DS_OK && store_in_transaction(cl->view))
        store_rollback(cl->view);
    if (rc == DS_OK) {
        struct cluster_judge_stats js;

        /*
         * What other nodes judged (another collector that judged before
         * this one, analyze runs): where this one goes on from.
         */
        rc = cluster_sync(cfg, cl->view, cl->client, &js, err);
    }
    if (rc != DS_OK) {
        store_close(cl->view);
        cl->view = NULL;
    }
    return rc;
}

/* Where analysis i's judged slots end: the view's latest slot, else the cluster's first record. */
static enum ds_rc
find_upto(struct cluster_live *cl, size_t i, struct slotcal *cal, struct ds_error *err)
{
    struct store_slot_summary *sum = NULL;
    size_t n = 0;
    int64_t first_ms, s, e;
    bool found;
    char *sql;
    enum ds_rc rc;

    rc = store_slot_summaries(cl->view, cl->an[i].store_id, INT64_MIN, INT64_MAX, &sum, &n, err);
    if (rc != DS_OK)
        return rc;
    if (n > 0) {
        cl->upto[i] = sum[n - 1].end;
        free(sum);
        return DS_OK;
    }
    free(sum);
    sql = xasprintf("SELECT min(start_ms), count() FROM %s.records FORMAT TabSeparated",
                    cl->cfg->clickhouse.database);
    rc = query_int(cl, sql, &first_ms, &found, err);
    free(sql);
    if (rc == DS_OK && found) {
        slotcal_find(cal, first_ms / 1000 - (first_ms % 1000 < 0), &s, &e);
        cl->upto[i] = s;
    }
    return rc;
}

/* Where analysis i can be judged up to now (a slot start), or INT64_MIN. */
static enum ds_rc
find_target(struct cluster_live *cl, size_t i, struct slotcal *cal,
            const struct cluster_plan *plan, int64_t *target, struct ds_error *err)
{
    int64_t s, e, last_ms;
    bool found;
    char *sql;
    enum ds_rc rc;

    *target = INT64_MIN;
    if (plan->watermark_ms != INT64_MIN) {
        /* the slot the watermark is in has records to come; those before it do not */
        slotcal_find(cal, plan->watermark_ms / 1000 - (plan->watermark_ms % 1000 < 0), &s, &e);
        *target = s;
    }
    if (!plan->all_idle)
        return DS_OK;
    /* nobody is sending: the slot of the latest record too, as one collector closes it */
    sql = xasprintf("SELECT max(start_ms), count() FROM %s.records WHERE start_ms >= %" PRId64
                    " FORMAT TabSeparated",
                    cl->cfg->clickhouse.database, cl->upto[i] * 1000);
    rc = query_int(cl, sql, &last_ms, &found, err);
    free(sql);
    if (rc == DS_OK && found) {
        slotcal_find(cal, last_ms / 1000, &s, &e);
        if (e > *target)
            *target = e;
    }
    return rc;
}

static bool
was_alive(const struct cluster_live *cl, const char *node)
{
    for (size_t i = 0; i < cl->n_was_alive; i++)
        if (strcmp(cl->was_alive[i], node) == 0)
            return true;
    return false;
}

/*
 * A node name as the configuration allows it (store.clickhouse.node: letters,
 * digits, '_', '-', '.'): a row with any other is none of ours, and its
 * name never goes into a query.
 */
static bool
node_name_ok(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!g_ascii_isalnum(*s) && *s != '_' && *s != '-' && *s != '.')
            return false;
    return true;
}

/* The earliest record start of node since from_ms, into *first (kept if none or later). */
static enum ds_rc
node_first(struct cluster_live *cl, const char *node, int64_t from_ms, int64_t *first,
           struct ds_error *err)
{
    char *sql = xasprintf("SELECT min(start_ms), count() FROM %s.records WHERE node = '%s' AND "
                          "start_ms >= %" PRId64 " FORMAT TabSeparated",
                          cl->cfg->clickhouse.database, node, from_ms);
    int64_t v;
    bool found;
    enum ds_rc rc = query_int(cl, sql, &v, &found, err);

    free(sql);
    if (rc == DS_OK && found && v < *first)
        *first = v;
    return rc;
}

/*
 * Where the slots judged already must be judged again from (*from, ms;
 * INT64_MAX: nowhere): nodes that appeared or came back since the last
 * round, and revisions whose batch is now in the cluster, whole.  The
 * revisions found go to *done, to be remembered once the judgement that
 * takes them in is saved.
 */
static enum ds_rc
find_revisions(struct cluster_live *cl, const struct ch_node *nodes, size_t n, int64_t now_ms,
               int64_t horizon_ms, int64_t *from, GPtrArray *done, struct ds_error *err)
{
    const struct ds_cfg *cfg = cl->cfg;
    int64_t idle_close_ms = atomic_load(&cl->idle_close_ms);
    struct strbuf sb = STRBUF_INIT;
    GHashTable *seen;
    enum ds_rc rc = DS_OK;
    char *sql;

    *from = INT64_MAX;
    for (size_t i = 0; rc == DS_OK && cl->judged_before && i < n; i++) {
        if (now_ms - nodes[i].updated_ms > idle_close_ms || was_alive(cl, nodes[i].node) ||
            !node_name_ok(nodes[i].node))
            continue;
        log_info("cluster: node %s is new or back: the slots judged without it are judged "
                 "again from its earliest record", nodes[i].node);
        rc = node_first(cl, nodes[i].node, horizon_ms, from, err);
    }
    if (rc != DS_OK)
        return rc;
    sql = xasprintf("SELECT node, batch, rows, first_ms, last_ms FROM %s.revisions WHERE "
                    "first_ms >= %" PRId64 " FORMAT TabSeparated",
                    cfg->clickhouse.database, horizon_ms);
    rc = ch_exec(cl->client, sql, &sb, err);
    free(sql);
    seen = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    for (const char *p = strbuf_str(&sb); rc == DS_OK && *p != '\0';) {
        size_t l = strcspn(p, "\n");
        char node[64], key[96];
        unsigned long long batch, rows;
        long long first, last;

        if (sscanf(p, "%63[^\t]\t%llu\t%llu\t%lld\t%lld", node, &batch, &rows, &first,
                   &last) == 5 &&
            node_name_ok(node)) {
            snprintf(key, sizeof(key), "%s/%llu", node, batch);
            g_hash_table_add(seen, xstrdup(key));
            if (!g_hash_table_contains(cl->revised, key)) {
                /*
                 * Not before its batch is in, whole (a batch over several
                 * days is a part per day): judged again without them, its
                 * records would be lost.
                 */
                char *q = xasprintf("SELECT min(start_ms), count() FROM %s.records WHERE node "
                                    "= '%s' AND batch = %llu AND start_ms >= %lld AND "
                                    "start_ms <= %lld FORMAT TabSeparated",
                                    cfg->clickhouse.database, node, batch, first, last);
                int64_t v, have;

                rc = ch_query_value(cl->client, q, &v, &have, err);
                free(q);
                if (rc == DS_OK && have > 0 && (unsigned long long)have >= rows) {
                    if (v < *from)
                        *from = v;
                    g_ptr_array_add(done, xstrdup(key));
                }
            }
        }
        p += l + (p[l] == '\n');
    }
    strbuf_fini(&sb);
    /* the revisions done that fell out of the horizon are forgotten with it */
    if (rc == DS_OK) {
        GHashTableIter it;
        gpointer k;

        g_hash_table_iter_init(&it, cl->revised);
        while (g_hash_table_iter_next(&it, &k, NULL))
            if (!g_hash_table_contains(seen, k))
                g_hash_table_iter_remove(&it);
    }
    g_hash_table_destroy(seen);
    return rc;
}

/* The alive nodes of this round, remembered for the next. */
static void
remember_alive(struct cluster_live *cl, const struct ch_node *nodes, size_t n, int64_t now_ms)
{
    cl->n_was_alive = 0;
    for (size_t i = 0; i < n && cl->n_was_alive < NODES_MAX; i++)
        if (now_ms - nodes[i].updated_ms <= atomic_load(&cl->idle_close_ms))
            snprintf(cl->was_alive[cl->n_was_alive++], sizeof(cl->was_alive[0]), "%s",
                     nodes[i].node);
}

/*
 * cluster_judge()'s recheck: the nodes' rows read again, may the new slots
 * of this round (those past what was judged before it) still be judged?
 * Not if a node that was idle when the round began has written a watermark
 * before their end since.  So the promise of a node back from idle
 * (ch_writer.c: PROMISE_GRACE_S) only needs to outlast the time from this
 * read to the save, not the round.
 */
static enum ds_rc
still_passed(void *ctx, const struct pipeline_analysis *an, size_t n, bool *ok,
             struct ds_error *err)
{
    struct cluster_live *cl = ctx;
    const struct ds_cfg *cfg = cl->cfg;
    struct ch_node *nodes = NULL;
    struct cluster_plan plan;
    size_t n_nodes = 0;
    enum ds_rc rc;

    *ok = true;
    memset(&plan, 0, sizeof(plan));
    plan.watermark_ms = INT64_MIN;
    rc = ch_nodes(cl->client, &cfg->clickhouse, &nodes, &n_nodes, err);
    if (rc != DS_OK)
        return rc;
    cluster_live_plan(nodes, n_nodes, cfg->clickhouse.node, cfg->clickhouse.analyzer, wall_ms(),
                      atomic_load(&cl->idle_close_ms), &plan);
    free(nodes);
    for (size_t i = 0; rc == DS_OK && *ok && i < n; i++) {
        struct slotcal cal;
        int64_t target;

        if (an[i].to <= an[i].from || an[i].to <= cl->upto[i])
            continue;
        slotcal_init(&cal, cfg->analyses[i].slot_s);
        rc = find_target(cl, i, &cal, &plan, &target, err);
        if (rc == DS_OK && target < an[i].to) {
            log_info("cluster: %s: a node sends again for slots judged this round (up to "
                     "%" PRId64 " now, not %" PRId64 "): not saved, judged again",
                     cfg->analyses[i].name, target, an[i].to);
            *ok = false;
        }
    }
    return rc;
}

static enum ds_rc
judge_round(struct cluster_live *cl, const struct cluster_plan *plan, const struct ch_node *nodes,
            size_t n_nodes, int64_t now_ms, uint64_t *judged, struct ds_error *err)
{
    const struct ds_cfg *cfg = cl->cfg;
    struct pipeline_analysis an[CFG_ANALYSES_MAX];
    int64_t target[CFG_ANALYSES_MAX];
    struct cluster_judge_stats js;
    int64_t revise_ms = INT64_MAX, horizon_ms = INT64_MAX;
    GPtrArray *done = g_ptr_array_new_with_free_func(free);
    bool any = false;
    enum ds_rc rc;

    *judged = 0;
    rc = open_view(cl, err);
    for (size_t i = 0; rc == DS_OK && i < cfg->n_analyses; i++)
        if (cl->upto[i] != INT64_MIN && cl->upto[i] < horizon_ms / 1000)
            horizon_ms = cl->upto[i] * 1000;
    if (rc == DS_OK && horizon_ms != INT64_MAX) {
        horizon_ms -= cfg->clickhouse.revise_for_s * 1000;
        rc = find_revisions(cl, nodes, n_nodes, now_ms, horizon_ms, &revise_ms, done, err);
    }
    for (size_t i = 0; rc == DS_OK && i < cfg->n_analyses; i++) {
        struct slotcal cal;

        an[i] = cl->an[i];
        an[i].from = an[i].to = 0;
        target[i] = INT64_MIN;
        slotcal_init(&cal, cfg->analyses[i].slot_s);
        if (cl->upto[i] == INT64_MIN)
            rc = find_upto(cl, i, &cal, err);
        if (rc != DS_OK || cl->upto[i] == INT64_MIN)
            continue;
        rc = find_target(cl, i, &cal, plan, &target[i], err);
        if (rc != DS_OK)
            break;
        if (target[i] > cl->upto[i]) {
            an[i].from = cl->upto[i];
            an[i].to = target[i];
        }
        if (revise_ms / 1000 < cl->upto[i]) {
            int64_t s, e;

            /* from the slot of the earliest record that came after its judgement */
            slotcal_find(&cal, revise_ms / 1000 - (revise_ms % 1000 < 0), &s, &e);
            an[i].from = s;
            an[i].to = target[i] > cl->upto[i] ? target[i] : cl->upto[i];
        }
        any |= an[i].to > an[i].from;
    }
    if (rc == DS_OK && any) {
        struct ch_node *missing = xcalloc(n_nodes + 1, sizeof(*missing));
        size_t n_missing = 0;

        for (size_t i = 0; i < n_nodes; i++)
            if (strcmp(nodes[i].node, cfg->clickhouse.node) != 0 &&
                now_ms - nodes[i].updated_ms > atomic_load(&cl->idle_close_ms))
                missing[n_missing++] = nodes[i];
        rc = cluster_judge(cfg, cl->view, cl->client, an, cfg->n_analyses, missing, n_missing,
                           still_passed, cl, &js, err);
        free(missing);
        if (rc == DS_OK && js.stale) {
            g_ptr_array_free(done, true);
            return DS_OK;
        }
    }
    /* only a judgement saved takes the revisions and the nodes back in: else, next round */
    if (rc == DS_OK) {
        for (guint k = 0; k < done->len; k++)
            g_hash_table_add(cl->revised, xstrdup(g_ptr_array_index(done, k)));
        remember_alive(cl, nodes, n_nodes, now_ms);
    }
    g_ptr_array_free(done, true);
    if (rc != DS_OK || !any)
        return rc;
    for (size_t i = 0; i < cfg->n_analyses; i++)
        if (an[i].to > an[i].from)
            cl->upto[i] = an[i].to;
    cl->judged_before = true;
    *judged = js.slots;
    log_info("cluster: judged %llu slots from every node's records (%llu queries, %.2f s)%s%s",
             (unsigned long long)js.slots, (unsigned long long)js.queries, js.seconds,
             plan->missing > 0 ? "; missing: " : "", plan->missing > 0 ? plan->missing_names : "");
    return DS_OK;
}

static void
round_once(struct cluster_live *cl)
{
    const struct ds_cfg *cfg = cl->cfg;
    struct ch_node *nodes = NULL;
    struct cluster_plan plan;
    struct ds_error err;
    uint64_t judged = 0;
    size_t n = 0;
    enum ds_rc rc = DS_OK;

    memset(&plan, 0, sizeof(plan));
    plan.watermark_ms = INT64_MIN;
    if (cl->client == NULL) {
        rc = ch_client_new(&cfg->clickhouse, NULL, &cl->client, &err);
        if (rc == DS_OK)
            ch_client_abort_on(cl->client, &cl->stopping);
    }
    if (rc == DS_OK)
        rc = ch_nodes(cl->client, &cfg->clickhouse, &nodes, &n, &err);
    if (rc == DS_OK) {
        cluster_live_plan(nodes, n, cfg->clickhouse.node, cfg->clickhouse.analyzer, wall_ms(),
                          atomic_load(&cl->idle_close_ms), &plan);
        if (plan.judge && (plan.watermark_ms != INT64_MIN || plan.all_idle))
            rc = judge_round(cl, &plan, nodes, n, wall_ms(), &judged, &err);
    }
    free(nodes);
    pthread_mutex_lock(&cl->lock);
    cl->st.rounds++;
    cl->st.judged_slots += judged;
    cl->st.failures += rc != DS_OK;
    cl->st.watermark_ms = plan.watermark_ms;
    cl->st.judging = plan.judge;
    cl->st.judged_upto_s = INT64_MAX;
    for (size_t i = 0; i < cfg->n_analyses; i++)
        if (cl->upto[i] < cl->st.judged_upto_s)
            cl->st.judged_upto_s = cl->upto[i];
    if (cfg->n_analyses == 0)
        cl->st.judged_upto_s = INT64_MIN;
    cl->st.alive = plan.alive;
    cl->st.idle = plan.idle;
    cl->st.missing = plan.missing;
    pthread_mutex_unlock(&cl->lock);
    if (rc != DS_OK && wall_ms() / 1000 - cl->warned_s >= WARN_EVERY_S) {
        /* the slots wait: the next round tries again */
        log_warnx("cluster: live judging: %s (tried again every %d s)", err.msg, ROUND_S);
        cl->warned_s = wall_ms() / 1000;
    }
}

static void *
live_run(void *arg)
{
    struct cluster_live *cl = arg;

    for (;;) {
        struct timespec until;
        bool stop;

        pthread_mutex_lock(&cl->lock);
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += ROUND_S;
        if (!cl->stop)
            pthread_cond_timedwait(&cl->wake, &cl->lock, &until);
        stop = cl->stop;
        pthread_mutex_unlock(&cl->lock);
        if (stop)
            return NULL;
        round_once(cl);
    }
}

/* What cl holds, its thread stopped or never started. */
static void
live_free(struct cluster_live *cl)
{
    store_close(cl->view);
    ch_client_free(cl->client);
    pthread_cond_destroy(&cl->wake);
    pthread_mutex_destroy(&cl->lock);
    g_hash_table_destroy(cl->revised);
    free(cl->was_alive);
    free(cl->view_path);
    free(cl);
}

enum ds_rc
cluster_live_start(const struct ds_cfg *cfg, struct cluster_live **out, struct ds_error *err)
{
    struct cluster_live *cl = xcalloc(1, sizeof(*cl));

    cl->cfg = cfg;
    cl->view_path = cluster_view_path(cfg);
    for (size_t i = 0; i < CFG_ANALYSES_MAX; i++)
        cl->upto[i] = INT64_MIN;
    cl->st.watermark_ms = INT64_MIN;
    cl->st.judged_upto_s = INT64_MIN;
    atomic_store(&cl->idle_close_ms, cfg->idle_close_s * 1000);
    cl->was_alive = xcalloc(NODES_MAX, sizeof(*cl->was_alive));
    cl->revised = g_hash_table_new_full(g_str_hash, g_str_equal, free, NULL);
    pthread_mutex_init(&cl->lock, NULL);
    pthread_cond_init(&cl->wake, NULL);
    if (pthread_create(&cl->thread, NULL, live_run, cl) != 0) {
        live_free(cl);
        return ds_error_set(err, DS_ERR_INTERNAL, "cluster: cannot start the judging thread");
    }
    *out = cl;
    return DS_OK;
}

void
cluster_live_set_idle_close(struct cluster_live *cl, int64_t idle_close_s)
{
    if (cl != NULL)
        atomic_store(&cl->idle_close_ms, idle_close_s * 1000);
}

void
cluster_live_get_stats(struct cluster_live *cl, struct cluster_live_stats *out)
{
    pthread_mutex_lock(&cl->lock);
    *out = cl->st;
    pthread_mutex_unlock(&cl->lock);
}

void
cluster_live_stop(struct cluster_live *cl)
{
    if (cl == NULL)
        return;
    pthread_mutex_lock(&cl->lock);
    cl->stop = true;
    pthread_cond_broadcast(&cl->wake);
    pthread_mutex_unlock(&cl->lock);
    /* a judging query may take store.clickhouse.query_timeout: not the stop's */
    atomic_store(&cl->stopping, true);
    pthread_join(cl->thread, NULL);
    live_free(cl);
}

/* ---- the nightly mail's record in the cluster ------------------------------------------- */

struct cluster_ledger {
    struct mail_ledger pub;             /* first: the mailer's view of it */
    const struct ds_cfg *cfg;
    struct ch_client *client;           /* made at the first call */
};

static enum ds_rc
ledger_client(struct cluster_ledger *l, struct ds_error *err)
{
    if (l->client != NULL)
        return DS_OK;
    return ch_client_new(&l->cfg->clickhouse, NULL, &l->client, err);
}

static enum ds_rc
ledger_was_sent(void *ctx, const char *day, bool *sent, char *by, size_t by_len,
                struct ds_error *err)
{
    struct cluster_ledger *l = ctx;
    enum ds_rc rc = ledger_client(l, err);

    *sent = false;
    if (rc == DS_OK)
        rc = ch_mail_sent(l->client, &l->cfg->clickhouse, day, sent, by, by_len, err);
    return rc;
}

static void
ledger_record_sent(void *ctx, const char *day, const char *message_id, int64_t now)
{
    struct cluster_ledger *l = ctx;
    struct ds_error err;
    enum ds_rc rc = ledger_client(l, &err);

    if (rc == DS_OK)
        rc = ch_mail_record(l->client, &l->cfg->clickhouse, day, message_id, now * 1000, &err);
    if (rc != DS_OK)
        /* the mail went; a node that judges next may mail the day again */
        log_warnx("mail: the report of %s was sent, but the cluster could not record it: %s",
                  day, err.msg);
}

struct mail_ledger *
cluster_mail_ledger_new(const struct ds_cfg *cfg)
{
    struct cluster_ledger *l = xcalloc(1, sizeof(*l));

    l->cfg = cfg;
    l->pub.was_sent = ledger_was_sent;
    l->pub.record_sent = ledger_record_sent;
    l->pub.ctx = l;
    return &l->pub;
}

void
cluster_mail_ledger_free(struct mail_ledger *ledger)
{
    struct cluster_ledger *l = (struct cluster_ledger *)ledger;

    if (l == NULL)
        return;
    ch_client_free(l->client);
    free(l);
}
