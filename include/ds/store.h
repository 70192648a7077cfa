/*
 * The store: where slots, the packet count of every group of every slot,
 * TopN results and top groups are kept (METHOD section 6 and the JSON
 * contract).  SQLite is the default and embedded backend; every backend
 * sits behind struct store_backend, so that analysis code never sees which
 * one is in use.
 *
 * Stored group counts are the truth: TopN for any threshold can be
 * recomputed from them without the input.  A slot also keeps, for the
 * groups that can be shown (and for every group of a slot that was not
 * complete when stored), the serialised detail, so that a later run adding
 * records to the same slot merges distinct counts exactly.
 *
 * All calls of one run happen inside store_begin()/store_commit(), so a
 * failed run leaves the store as it was.
 */
#ifndef DS_STORE_H
#define DS_STORE_H

#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>

#include "ds/agg.h"
#include "ds/cfg.h"
#include "ds/rc.h"
#include "ds/result.h"

/*
 * What identifies an analysis' stored data (changing any of it is a
 * conflict), and how its slots are judged (which may change: stored slots
 * are then judged again).
 */
struct store_analysis_def {
    const char *name;
    const char *keys;           /* "proto,dst_port" */
    int64_t slot_s;
    const char *timezone;
    const char *attribution;    /* "start" or "spread" */
    const char *judged_with;    /* "window=7 k=2 stddev=population min=0 th=1,0.75,0.5" */
    const char *lowest;         /* the lowest threshold, whose TopN groups are kept */
};

#define STORE_CHANGED_JUDGEMENT 0x1 /* judged_with differs from the stored one */
#define STORE_CHANGED_LOWEST 0x2    /* so does the lowest threshold */

struct store_input {
    char digest[33];
    char name[256];
    uint64_t bytes;
    uint64_t records;
    int64_t first_ms;           /* earliest flow start counted, 0 if none */
    int64_t last_ms;
    int64_t analyzed_at;        /* Unix seconds */
};

/* A stored slot without its groups. */
struct store_slot_summary {
    int64_t start;
    int64_t end;
    uint64_t packets;
    uint64_t flows;
    uint64_t groups;
    uint64_t late_flows;
    uint64_t late_packets;
    bool complete;
    bool incomplete;            /* the collector judged its data too lossy to judge */
    uint64_t folded_packets;    /* past limits.groups (ds/agg.h) */
    uint64_t folded_flows;
};

/* A stored slot as stored: store_slot_row(). */
struct store_slot_row {
    int64_t start;
    int64_t end;
    uint64_t packets;
    uint64_t flows;
    uint64_t late_flows;
    uint64_t late_packets;
    uint64_t folded_packets;
    uint64_t folded_flows;
    bool complete;
    uint8_t *counts;            /* owned: group counts (store_walk_groups()) */
    size_t counts_len;
    uint8_t *details;           /* owned, NULL unless asked for */
    size_t details_len;
};

/* ---- live collection ---- */

/* An open slot at a checkpoint, encoded with store_slot_encode(). */
struct store_open_slot {
    int64_t start;
    int64_t end;
    uint64_t packets;
    uint64_t flows;
    uint64_t folded_packets;
    uint64_t folded_flows;
    uint8_t *blob;              /* owned: group counts, then group details */
    size_t counts_len;
    size_t details_len;
};

#define STORE_EXPORTER_MAX 64

/* What one exporter sent in one minute of its records' time. */
struct store_minute {
    char exporter[STORE_EXPORTER_MAX];  /* "192.0.2.1 ipfix" */
    int64_t minute;             /* Unix seconds / 60 */
    uint64_t records;
    uint64_t missed;            /* estimated lost: sequence gaps, unknown templates */
    uint64_t silent_s;          /* silence beyond collector.silence */
    uint64_t silence_missed;    /* records estimated for it */
    uint64_t unknown_sets;
    uint64_t rate;              /* sampling rate applied last; in sums, the highest */
    uint64_t rate_changes;
};

/* A stretch of record time the collector may have missed whole. */
struct store_gap {
    int64_t from_ms;
    int64_t to_ms;
    char reason[160];
};

/* The collector's own state at a checkpoint. */
struct store_collector {
    int64_t saved_at;           /* Unix seconds */
    bool clean;                 /* saved by an orderly stop */
    int64_t event_ms;           /* latest flow start counted */
    uint8_t *state;             /* owned */
    size_t state_len;
};

/* The report mail of one day: a day is mailed once (issue 7). */
struct store_mail {
    char day[16];               /* "2016-01-01", in the configured zone */
    char message_id[256];
    int64_t spooled_at;         /* Unix seconds; 0: not yet */
    int64_t sent_at;            /* 0: not sent yet */
    uint32_t attempts;
    char last_error[256];
};

typedef enum ds_rc (*store_result_fn)(void *ctx, const struct slot_result *r);

/* Which judgement of a ClickHouse cluster a stored slot holds (store.backend clickhouse). */
struct store_cluster_mark {
    int64_t start;
    int64_t judged_ms;          /* the version of its row in the cluster's slots table */
};

struct store_backend {
    const char *name;
    enum ds_rc (*open)(const char *path, void **state, struct ds_error *err);
    void (*close)(void *state);
    enum ds_rc (*begin)(void *state, struct ds_error *err);
    enum ds_rc (*commit)(void *state, struct ds_error *err);
    void (*rollback)(void *state);
    enum ds_rc (*verify)(void *state, struct ds_error *err);
    bool (*in_transaction)(void *state);
    enum ds_rc (*analysis)(void *state, const struct store_analysis_def *def, int64_t *id,
                           unsigned *changed, struct ds_error *err);
    enum ds_rc (*input_find)(void *state, int64_t aid, const char *digest,
                             struct store_input *in, bool *found, struct ds_error *err);
    enum ds_rc (*input_add)(void *state, int64_t aid, const struct store_input *in,
                            struct ds_error *err);
    enum ds_rc (*input_any)(void *state, int64_t aid, bool *any, struct ds_error *err);
    enum ds_rc (*inputs_overlap)(void *state, int64_t aid, int64_t from_ms, int64_t to_ms,
                                 struct store_input **out, size_t *n, struct ds_error *err);
    enum ds_rc (*slot_save)(void *state, int64_t aid, const struct agg_slot *slot,
                            struct ds_error *err);
    enum ds_rc (*slot_summaries)(void *state, int64_t aid, int64_t from, int64_t to,
                                 struct store_slot_summary **out, size_t *n,
                                 struct ds_error *err);
    enum ds_rc (*slot_last_with_data)(void *state, int64_t aid, int64_t before, size_t limit,
                                      struct store_slot_summary **out, size_t *n,
                                      struct ds_error *err);
    enum ds_rc (*top_packets)(void *state, int64_t aid, const struct key_layout *layout,
                              int64_t start, size_t limit, uint64_t **packets, size_t *n,
                              struct ds_error *err);
    enum ds_rc (*topn_get)(void *state, int64_t aid, int64_t start, const char *th,
                           uint32_t *topn, bool *found, struct ds_error *err);
    enum ds_rc (*result_save)(void *state, int64_t aid, const struct key_layout *layout,
                              const struct slot_result *r, bool with_top, struct ds_error *err);
    enum ds_rc (*results)(void *state, int64_t aid, const struct key_layout *layout,
                          const struct cfg_analysis *a, int64_t from, int64_t to,
                          store_result_fn fn, void *ctx, struct ds_error *err);
    enum ds_rc (*analysis_find)(void *state, const char *name, int64_t *id, bool *found,
                                struct ds_error *err);
    /* live collection */
    enum ds_rc (*open_slots_replace)(void *state, int64_t aid, int64_t closed_upto,
                                     const struct store_open_slot *slots, size_t n,
                                     struct ds_error *err);
    enum ds_rc (*open_slots_load)(void *state, int64_t aid, const struct key_layout *layout,
                                  int64_t *closed_upto, struct agg_slot ***slots, size_t *n,
                                  struct ds_error *err);
    enum ds_rc (*collector_save)(void *state, const struct store_collector *c,
                                 struct ds_error *err);
    enum ds_rc (*collector_load)(void *state, struct store_collector *c, bool *found,
                                 struct ds_error *err);
    enum ds_rc (*minutes_add)(void *state, const struct store_minute *m, size_t n,
                              struct ds_error *err);
    enum ds_rc (*minutes_sum)(void *state, int64_t from_s, int64_t to_s,
                              struct store_minute **out, size_t *n, struct ds_error *err);
    enum ds_rc (*gap_add)(void *state, const struct store_gap *g, struct ds_error *err);
    enum ds_rc (*gaps)(void *state, int64_t from_ms, int64_t to_ms, struct store_gap **out,
                       size_t *n, struct ds_error *err);
    /* drill-down and report mail (issue 7) */
    enum ds_rc (*explain_save)(void *state, int64_t aid, int64_t start, const uint8_t *blob,
                               size_t len, struct ds_error *err);
    enum ds_rc (*mail_find)(void *state, const char *day, struct store_mail *m, bool *found,
                            struct ds_error *err);
    enum ds_rc (*mail_save)(void *state, const struct store_mail *m, struct ds_error *err);
    enum ds_rc (*slot_row)(void *state, int64_t aid, int64_t start, bool details,
                           struct store_slot_row *row, bool *found, struct ds_error *err);
    /* a node of a ClickHouse cluster (issue 9) */
    enum ds_rc (*cluster_mark)(void *state, int64_t aid, int64_t start, int64_t judged_ms,
                               struct ds_error *err);
    enum ds_rc (*cluster_marks)(void *state, int64_t aid, struct store_cluster_mark **out,
                                size_t *n, struct ds_error *err);
};

struct store {
    const struct store_backend *be;
    void *state;
    char *path;
    pthread_mutex_t lock;   /* one call at a time: the reader and the aggregator share it */
};

extern const struct store_backend store_sqlite_backend;

/*
 * Opens the store at path with the backend named (NULL: "sqlite"); the
 * SQLite file is created, or its schema migrated forward, as needed.
 * ":memory:" gives a store that lives for the run only.  Returns an owned
 * store or NULL with err set.
 */
struct store *store_open(const char *backend, const char *path, struct ds_error *err);
void store_close(struct store *st);

/*
 * The backend's operations, serialised by the store's lock; see struct
 * store_backend for what each does.  Pointers are borrowed; what a call
 * returns through an out pointer is owned by the caller.
 */
enum ds_rc store_begin(struct store *st, struct ds_error *err);
enum ds_rc store_commit(struct store *st, struct ds_error *err);
void store_rollback(struct store *st);
/*
 * Reads the whole store and checks its structure (SQLite: quick_check), so
 * that a damaged file stops a long run at its start, not months later when
 * the damaged page is read.  DS_ERR_DB, naming the damage, if it fails.
 */
enum ds_rc store_verify(struct store *st, struct ds_error *err);
/* Is a transaction open?  (A failed commit may leave it open, or roll it back.) */
bool store_in_transaction(struct store *st);
/*
 * Registers def, or checks it against the stored analysis of that name:
 * DS_ERR_CONFLICT if keys, slot, time zone or attribution differ.
 * *changed (may be NULL) receives STORE_CHANGED_* flags; the stored
 * judgement parameters are updated to def's.
 */
enum ds_rc store_analysis(struct store *st, const struct store_analysis_def *def, int64_t *id,
                          unsigned *changed, struct ds_error *err);
/* The stored analysis of that name, without registering or changing anything. */
enum ds_rc store_analysis_find(struct store *st, const char *name, int64_t *id, bool *found,
                               struct ds_error *err);
enum ds_rc store_input_find(struct store *st, int64_t aid, const char *digest,
                            struct store_input *in, bool *found, struct ds_error *err);
enum ds_rc store_input_add(struct store *st, int64_t aid, const struct store_input *in,
                           struct ds_error *err);
/* Has any input been recorded for the analysis? */
enum ds_rc store_input_any(struct store *st, int64_t aid, bool *any, struct ds_error *err);
/*
 * The inputs with records whose flow starts reach into [from_ms, to_ms)
 * (first_ms < to_ms, last_ms >= from_ms), oldest first: the files to read
 * a slot back from.  *out is owned (free()), NULL if none.
 */
enum ds_rc store_inputs_overlap(struct store *st, int64_t aid, int64_t from_ms, int64_t to_ms,
                                struct store_input **out, size_t *n, struct ds_error *err);
enum ds_rc store_slot_load(struct store *st, int64_t aid, const struct key_layout *layout,
                           int64_t start, struct agg_slot **slot, struct ds_error *err);
/*
 * The stored slot starting at start as its row (*found false if none):
 * its totals and its group counts blob, and its details blob if details.
 * For a reader that needs few of a busy slot's groups: the drill-down
 * keeps its window's rows and decodes only the groups it compares
 * (store_slot_row_decode()), a fraction of the cost of store_slot_load().
 */
enum ds_rc store_slot_row(struct store *st, int64_t aid, int64_t start, bool details,
                          struct store_slot_row *row, bool *found, struct ds_error *err);
void store_slot_row_fini(struct store_slot_row *row);
/*
 * The slot of row with only the groups whose keys are groups of keys
 * (every group if keys is NULL): *slot owned, NULL and -1 if a blob is
 * damaged.  Its totals are the whole slot's.  Its groups' details are to
 * be shown, not added to, merged or saved: their distinct counters hold
 * their counts alone (detail_deserialize_counts()); a busy group's set
 * of sources is not built again to be counted.
 */
int store_slot_row_decode(const struct store_slot_row *row, const struct key_layout *layout,
                          const struct agg_slot *keys, struct agg_slot **slot);
enum ds_rc store_slot_save(struct store *st, int64_t aid, const struct agg_slot *slot,
                           struct ds_error *err);
enum ds_rc store_slot_summaries(struct store *st, int64_t aid, int64_t from, int64_t to,
                                struct store_slot_summary **out, size_t *n, struct ds_error *err);
enum ds_rc store_slot_last_with_data(struct store *st, int64_t aid, int64_t before, size_t limit,
                                     struct store_slot_summary **out, size_t *n,
                                     struct ds_error *err);
enum ds_rc store_top_packets(struct store *st, int64_t aid, const struct key_layout *layout,
                             int64_t start, size_t limit, uint64_t **packets, size_t *n,
                             struct ds_error *err);
enum ds_rc store_topn_get(struct store *st, int64_t aid, int64_t start, const char *th,
                          uint32_t *topn, bool *found, struct ds_error *err);
enum ds_rc store_result_save(struct store *st, int64_t aid, const struct key_layout *layout,
                             const struct slot_result *r, bool with_top, struct ds_error *err);
/* fn is called with the lock held: it must not call the store. */
enum ds_rc store_results(struct store *st, int64_t aid, const struct key_layout *layout,
                         const struct cfg_analysis *a, int64_t from, int64_t to,
                         store_result_fn fn, void *ctx, struct ds_error *err);

/* ---- live collection ---- */

/*
 * Replaces the analysis' open slots of the last checkpoint with slots[0..n)
 * (borrowed), and records how far it has closed its slots.
 */
enum ds_rc store_open_slots_replace(struct store *st, int64_t aid, int64_t closed_upto,
                                    const struct store_open_slot *slots, size_t n,
                                    struct ds_error *err);
/*
 * The open slots of the last checkpoint, decoded (owned: free each with
 * agg_slot_free, then the array), and *closed_upto (INT64_MIN if none).
 */
enum ds_rc store_open_slots_load(struct store *st, int64_t aid, const struct key_layout *layout,
                                 int64_t *closed_upto, struct agg_slot ***slots, size_t *n,
                                 struct ds_error *err);
enum ds_rc store_collector_save(struct store *st, const struct store_collector *c,
                                struct ds_error *err);
/* *found false: never saved.  c->state is owned by the caller. */
enum ds_rc store_collector_load(struct store *st, struct store_collector *c, bool *found,
                                struct ds_error *err);
/* Adds to the rows of (exporter, minute): counts are summed, rate replaced. */
enum ds_rc store_minutes_add(struct store *st, const struct store_minute *m, size_t n,
                             struct ds_error *err);
/* Per exporter, the sums over minutes [from_s / 60, to_s / 60); owned array. */
enum ds_rc store_minutes_sum(struct store *st, int64_t from_s, int64_t to_s,
                             struct store_minute **out, size_t *n, struct ds_error *err);
enum ds_rc store_gap_add(struct store *st, const struct store_gap *g, struct ds_error *err);
/* The gaps that overlap [from_ms, to_ms); owned array. */
enum ds_rc store_gaps(struct store *st, int64_t from_ms, int64_t to_ms, struct store_gap **out,
                      size_t *n, struct ds_error *err);

/* ---- drill-down and report mail (issue 7) ---- */

/*
 * Keeps the drill-down of a slot (explain_encode()'s bytes, borrowed);
 * len 0 removes it.  store_results() gives it back in r->explain
 * (explain_decode()); a damaged one is logged once and left NULL.
 */
enum ds_rc store_explain_save(struct store *st, int64_t aid, int64_t start, const uint8_t *blob,
                              size_t len, struct ds_error *err);
/* The mail record of day; *found false if the day was never spooled nor sent. */
enum ds_rc store_mail_find(struct store *st, const char *day, struct store_mail *m, bool *found,
                           struct ds_error *err);
/* Inserts or replaces the record of m->day. */
enum ds_rc store_mail_save(struct store *st, const struct store_mail *m, struct ds_error *err);
/* The stored slot starting at start holds the cluster's judgement of version judged_ms. */
enum ds_rc store_cluster_mark(struct store *st, int64_t aid, int64_t start, int64_t judged_ms,
                              struct ds_error *err);
/* Every such mark of analysis aid, by start (*out owned, *n of them). */
enum ds_rc store_cluster_marks(struct store *st, int64_t aid, struct store_cluster_mark **out,
                               size_t *n, struct ds_error *err);

/*
 * A slot's groups as the two blobs of the slots table (counts: key and
 * varints; details: key, varint length, serialised detail), backend
 * independent.  encode returns an owned buffer of *counts_len +
 * *details_len bytes; decode fills slot (new, empty) and returns 0, or -1
 * if a blob is damaged.
 */
uint8_t *store_slot_encode(const struct agg_slot *slot, size_t *counts_len, size_t *details_len);
int store_slot_decode(struct agg_slot *slot, const uint8_t *counts, size_t counts_len,
                      const uint8_t *details, size_t details_len);

typedef void (*store_group_fn)(void *ctx, const uint8_t *key, uint64_t packets, uint64_t flows,
                               uint64_t flags);
/* Walks a group counts blob: fn gets every key and its counts.  0, or -1 if damaged. */
int store_walk_groups(const uint8_t *counts, size_t len, const struct key_layout *layout,
                      store_group_fn fn, void *ctx);

#endif
