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
};

typedef enum ds_rc (*store_result_fn)(void *ctx, const struct slot_result *r);

struct store_backend {
    const char *name;
    enum ds_rc (*open)(const char *path, void **state, struct ds_error *err);
    void (*close)(void *state);
    enum ds_rc (*begin)(void *state, struct ds_error *err);
    enum ds_rc (*commit)(void *state, struct ds_error *err);
    void (*rollback)(void *state);
    enum ds_rc (*analysis)(void *state, const struct store_analysis_def *def, int64_t *id,
                           unsigned *changed, struct ds_error *err);
    enum ds_rc (*input_find)(void *state, int64_t aid, const char *digest,
                             struct store_input *in, bool *found, struct ds_error *err);
    enum ds_rc (*input_add)(void *state, int64_t aid, const struct store_input *in,
                            struct ds_error *err);
    enum ds_rc (*input_any)(void *state, int64_t aid, bool *any, struct ds_error *err);
    enum ds_rc (*slot_load)(void *state, int64_t aid, const struct key_layout *layout,
                            int64_t start, struct agg_slot **slot, struct ds_error *err);
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
 * Registers def, or checks it against the stored analysis of that name:
 * DS_ERR_CONFLICT if keys, slot, time zone or attribution differ.
 * *changed (may be NULL) receives STORE_CHANGED_* flags; the stored
 * judgement parameters are updated to def's.
 */
enum ds_rc store_analysis(struct store *st, const struct store_analysis_def *def, int64_t *id,
                          unsigned *changed, struct ds_error *err);
enum ds_rc store_input_find(struct store *st, int64_t aid, const char *digest,
                            struct store_input *in, bool *found, struct ds_error *err);
enum ds_rc store_input_add(struct store *st, int64_t aid, const struct store_input *in,
                           struct ds_error *err);
/* Has any input been recorded for the analysis? */
enum ds_rc store_input_any(struct store *st, int64_t aid, bool *any, struct ds_error *err);
enum ds_rc store_slot_load(struct store *st, int64_t aid, const struct key_layout *layout,
                           int64_t start, struct agg_slot **slot, struct ds_error *err);
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

#endif
