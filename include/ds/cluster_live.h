/*
 * Live judging on a ClickHouse cluster (store.backend clickhouse,
 * docs/CLICKHOUSE.md section 6): every collector writes how far its
 * records are in (its watermark row); one node judges a slot of every
 * analysis once every node that is alive and not idle has passed its end,
 * from the records of all of them (cluster_judge()), and writes the
 * judgements to the cluster, where results, show and report on any node
 * read them.
 *
 * The judging node keeps the judgements it makes, and reads those of the
 * others, in a store of its own beside the collector's (the view,
 * cluster_view_path()): the collector's store keeps its own live
 * judgements of its own records, and the two must not take turns.
 */
#ifndef DS_CLUSTER_LIVE_H
#define DS_CLUSTER_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/cfg.h"
#include "ds/clickhouse.h"
#include "ds/mail.h"
#include "ds/rc.h"

/* What the nodes' rows say, seen from one node at one time. */
struct cluster_plan {
    bool judge;                 /* this node is the one that judges */
    char judge_node[64];        /* the node that judges; "" if none can */
    /* slots that end at or before it have all their records in; INT64_MIN: none */
    int64_t watermark_ms;
    bool all_idle;              /* every alive node is idle: every record is in */
    size_t alive, idle, missing;
    char missing_names[256];    /* rows older than collector.idle_close, ", " between */
};

/*
 * The plan for node self (store.clickhouse.node, analyzer its
 * enum cfg_analyzer) from the nodes' latest rows at now_ms (wall clock):
 * alive is a row younger than idle_close_ms; the judging node is self
 * with analyzer true, none of its own with false, and with auto the first
 * alive node in name order whose row says it may (self counts as alive,
 * its row may not be written yet).  The watermark is the earliest of the
 * alive nodes that are not idle; if all are idle, the latest of them.
 */
void cluster_live_plan(const struct ch_node *nodes, size_t n, const char *self, int analyzer,
                       int64_t now_ms, int64_t idle_close_ms, struct cluster_plan *plan);

/* The path of a collector's view of the cluster's judgements (owned): store.path + ".cluster". */
char *cluster_view_path(const struct ds_cfg *cfg);

struct cluster_live_stats {
    uint64_t rounds;            /* times the nodes' rows were read */
    uint64_t judged_slots;      /* slots judged from the cluster by this node */
    uint64_t failures;          /* rounds whose reading or judging failed */
    int64_t watermark_ms;       /* the cluster's at the last round; INT64_MIN: none */
    bool judging;               /* this node judged at the last round */
    /* every analysis's slots are judged up to here (Unix seconds); INT64_MIN: not known */
    int64_t judged_upto_s;
    size_t alive, idle, missing;
};

struct cluster_live;

/*
 * Starts the thread that reads the nodes' rows every few seconds and,
 * when this node judges, judges the slots the cluster has passed into the
 * view (created if need be).  cfg borrowed, for the life of *out.
 */
enum ds_rc cluster_live_start(const struct ds_cfg *cfg, struct cluster_live **out,
                              struct ds_error *err);
void cluster_live_get_stats(struct cluster_live *cl, struct cluster_live_stats *out);
/* SIGHUP: collector.idle_close as reloaded (alive and missing nodes); NULL is nothing. */
void cluster_live_set_idle_close(struct cluster_live *cl, int64_t idle_close_s);
/* Stops the thread (a judgement under way is finished) and frees cl; NULL is nothing. */
void cluster_live_stop(struct cluster_live *cl);

/*
 * The cluster's record of the nightly mail (its mails table), for the
 * mailer of a node that judges (ds/mail.h): a day one node mailed is not
 * mailed again by the next that judges.  Has a client of its own; a
 * record that fails is logged.  cfg borrowed.
 */
struct mail_ledger *cluster_mail_ledger_new(const struct ds_cfg *cfg);
void cluster_mail_ledger_free(struct mail_ledger *ledger);

#endif
