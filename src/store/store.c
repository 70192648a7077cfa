/*
 * Store handle and backend selection (see ds/store.h), and the helpers of
 * the result model shared by every backend.
 */
#include <stdlib.h>
#include <string.h>

#include "ds/store.h"
#include "ds/xmem.h"

static const struct store_backend *const backends[] = {
    &store_sqlite_backend,
};

struct store *
store_open(const char *backend, const char *path, struct ds_error *err)
{
    const struct store_backend *be = NULL;
    struct store *st;

    if (backend == NULL)
        backend = "sqlite";
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
        if (strcmp(backends[i]->name, backend) == 0)
            be = backends[i];
    if (be == NULL) {
        ds_error_set(err, DS_ERR_CONFIG, "store: unknown backend '%s'", backend);
        return NULL;
    }
    st = xcalloc(1, sizeof(*st));
    st->be = be;
    st->path = xstrdup(path);
    pthread_mutex_init(&st->lock, NULL);
    if (be->open(path, &st->state, err) != DS_OK) {
        pthread_mutex_destroy(&st->lock);
        free(st->path);
        free(st);
        return NULL;
    }
    return st;
}

void
store_close(struct store *st)
{
    if (st == NULL)
        return;
    st->be->close(st->state);
    pthread_mutex_destroy(&st->lock);
    free(st->path);
    free(st);
}

#define LOCKED(call)                                                                           \
    do {                                                                                       \
        enum ds_rc rc_;                                                                        \
                                                                                               \
        pthread_mutex_lock(&st->lock);                                                         \
        rc_ = (call);                                                                          \
        pthread_mutex_unlock(&st->lock);                                                       \
        return rc_;                                                                            \
    } while (0)

enum ds_rc
store_begin(struct store *st, struct ds_error *err)
{
    LOCKED(st->be->begin(st->state, err));
}

enum ds_rc
store_commit(struct store *st, struct ds_error *err)
{
    LOCKED(st->be->commit(st->state, err));
}

void
store_rollback(struct store *st)
{
    pthread_mutex_lock(&st->lock);
    st->be->rollback(st->state);
    pthread_mutex_unlock(&st->lock);
}

enum ds_rc
store_analysis(struct store *st, const struct store_analysis_def *def, int64_t *id,
               unsigned *changed, struct ds_error *err)
{
    unsigned ignored;

    LOCKED(st->be->analysis(st->state, def, id, changed ? changed : &ignored, err));
}

enum ds_rc
store_input_find(struct store *st, int64_t aid, const char *digest, struct store_input *in,
                 bool *found, struct ds_error *err)
{
    LOCKED(st->be->input_find(st->state, aid, digest, in, found, err));
}

enum ds_rc
store_input_add(struct store *st, int64_t aid, const struct store_input *in,
                struct ds_error *err)
{
    LOCKED(st->be->input_add(st->state, aid, in, err));
}

enum ds_rc
store_input_any(struct store *st, int64_t aid, bool *any, struct ds_error *err)
{
    LOCKED(st->be->input_any(st->state, aid, any, err));
}

enum ds_rc
store_slot_load(struct store *st, int64_t aid, const struct key_layout *layout, int64_t start,
                struct agg_slot **slot, struct ds_error *err)
{
    LOCKED(st->be->slot_load(st->state, aid, layout, start, slot, err));
}

enum ds_rc
store_slot_save(struct store *st, int64_t aid, const struct agg_slot *slot,
                struct ds_error *err)
{
    LOCKED(st->be->slot_save(st->state, aid, slot, err));
}

enum ds_rc
store_slot_summaries(struct store *st, int64_t aid, int64_t from, int64_t to,
                     struct store_slot_summary **out, size_t *n, struct ds_error *err)
{
    LOCKED(st->be->slot_summaries(st->state, aid, from, to, out, n, err));
}

enum ds_rc
store_slot_last_with_data(struct store *st, int64_t aid, int64_t before, size_t limit,
                          struct store_slot_summary **out, size_t *n, struct ds_error *err)
{
    LOCKED(st->be->slot_last_with_data(st->state, aid, before, limit, out, n, err));
}

enum ds_rc
store_top_packets(struct store *st, int64_t aid, const struct key_layout *layout, int64_t start,
                  size_t limit, uint64_t **packets, size_t *n, struct ds_error *err)
{
    LOCKED(st->be->top_packets(st->state, aid, layout, start, limit, packets, n, err));
}

enum ds_rc
store_topn_get(struct store *st, int64_t aid, int64_t start, const char *th, uint32_t *topn,
               bool *found, struct ds_error *err)
{
    LOCKED(st->be->topn_get(st->state, aid, start, th, topn, found, err));
}

enum ds_rc
store_result_save(struct store *st, int64_t aid, const struct key_layout *layout,
                  const struct slot_result *r, bool with_top, struct ds_error *err)
{
    LOCKED(st->be->result_save(st->state, aid, layout, r, with_top, err));
}

enum ds_rc
store_results(struct store *st, int64_t aid, const struct key_layout *layout,
              const struct cfg_analysis *a, int64_t from, int64_t to, store_result_fn fn,
              void *ctx, struct ds_error *err)
{
    LOCKED(st->be->results(st->state, aid, layout, a, from, to, fn, ctx, err));
}
