/*
 * The analysis of slots over a ClickHouse cluster (store.backend
 * clickhouse, docs/CLICKHOUSE.md section 5): every node's records, not
 * one node's.
 *
 * For each slot, the group counts come from one GROUP BY over the cluster
 * (the raw fields each key needs, packed by key_extract() in C so that
 * keys come out as the aggregation makes them); the groups that can be
 * shown (above the lowest threshold) get their detail from their own
 * records, read back by a second query; and the slot so made replaces the
 * stored one, to be judged by the series (TopN, stability, top groups,
 * drill-down, cause): one implementation of the method for both backends.
 */
#ifndef DS_CLUSTER_H
#define DS_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include "ds/cfg.h"
#include "ds/clickhouse.h"
#include "ds/pipeline.h"
#include "ds/rc.h"
#include "ds/store.h"

struct ch_client;

/* What cluster_judge() did. */
struct cluster_judge_stats {
    uint64_t slots;             /* slots made from the cluster and judged */
    uint64_t queries;
    uint64_t rows;              /* rows read: group counts and records */
    uint64_t retried;           /* slots counted again: records came between two queries */
    /* shown tuples (slot, key fields): details counted on the shards, or records read back */
    uint64_t on_shards;
    uint64_t read_back;
    uint64_t published;         /* judgements written to the cluster's slots table */
    uint64_t fetched;           /* judgements read from it into the store */
    bool stale;                 /* the recheck said no: nothing was saved */
    double seconds;
};

/*
 * Asked by cluster_judge() once its slots are judged, before anything is
 * saved: may the slots of an[0..n) still be saved (*ok)?  Live judging
 * reads the nodes' rows again: a round lasts as long as its queries (a
 * busy day at scale: minutes), and a node idle when it began may be
 * sending records for those slots by its end.
 */
typedef enum ds_rc (*cluster_recheck_fn)(void *ctx, const struct pipeline_analysis *an,
                                         size_t n, bool *ok, struct ds_error *err);

/*
 * Judges again, from the records of the whole cluster, the slots of
 * an[i].from to an[i].to of each analysis (their store_id and layout;
 * from == to: none), in st (borrowed, not in a transaction: this opens and
 * commits one), after cluster_sync() so that their windows are the
 * cluster's; and writes the judgements (those slots' and the later ones'
 * they revise) to the cluster's slots table.  Every query goes through c
 * (borrowed).  missing (live judging: the n_missing nodes whose rows
 * stopped, with their last watermarks; NULL none) is named in the
 * completeness of each slot judged that ends after such a watermark.
 * recheck (NULL: none) may refuse the judgement before it is saved: then
 * nothing is, stats->stale says so, and DS_OK is returned.  On failure
 * nothing is saved, and err says which query failed and why.
 */
enum ds_rc cluster_judge(const struct ds_cfg *cfg, struct store *st, struct ch_client *c,
                         const struct pipeline_analysis *an, size_t n,
                         const struct ch_node *missing, size_t n_missing,
                         cluster_recheck_fn recheck, void *recheck_ctx,
                         struct cluster_judge_stats *stats, struct ds_error *err);

/*
 * The slots of an[i].from to an[i].to that cannot be judged on the cluster
 * (its records are not all there: batches wait in the spool, or a shard
 * is down): marked incomplete, out of the windows, with why (borrowed) as
 * the reason in their completeness, so that no judgement of part of the
 * cluster's records is shown.  st not in a transaction.
 */
enum ds_rc cluster_unjudged(const struct ds_cfg *cfg, struct store *st,
                            const struct pipeline_analysis *an, size_t n, const char *why,
                            struct ds_error *err);
/*
 * Widens each an[i] to the stored slots left incomplete (cluster_unjudged()
 * by an earlier run): the run that finds every batch in the cluster
 * judges them too.
 */
enum ds_rc cluster_pending_range(struct store *st, struct pipeline_analysis *an, size_t n,
                                 struct ds_error *err);

/*
 * Brings every analysis' slots judged in the cluster (its slots table)
 * since st last read them into st (borrowed, not in a transaction), so
 * that results, show and report on any node read the same judgements: the
 * slot's counts and details, judged again here from them (the judgement
 * is the cluster's, the method being one), and its drill-down as the
 * judging node made it.  An analysis this store does not know yet is
 * left out.
 */
enum ds_rc cluster_sync(const struct ds_cfg *cfg, struct store *st, struct ch_client *c,
                        struct cluster_judge_stats *stats, struct ds_error *err);

#endif
