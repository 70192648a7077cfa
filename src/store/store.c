/*
 * Store handle and backend selection (see ds/store.h), and the helpers of
 * the result model shared by every backend.
 */
#include <stdlib.h>
#include <string.h>

#include "ds/detail.h"
#include "ds/store.h"
#include "ds/varint.h"
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

bool
store_in_transaction(struct store *st)
{
    bool in;

    pthread_mutex_lock(&st->lock);
    in = st->be->in_transaction != NULL && st->be->in_transaction(st->state);
    pthread_mutex_unlock(&st->lock);
    return in;
}

enum ds_rc
store_verify(struct store *st, struct ds_error *err)
{
    LOCKED(st->be->verify(st->state, err));
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
store_inputs_overlap(struct store *st, int64_t aid, int64_t from_ms, int64_t to_ms,
                     struct store_input **out, size_t *n, struct ds_error *err)
{
    LOCKED(st->be->inputs_overlap(st->state, aid, from_ms, to_ms, out, n, err));
}

static int row_decode(const struct store_slot_row *row, const struct key_layout *layout,
                      const struct agg_slot *keys, bool counts_only, struct agg_slot **out);

enum ds_rc
store_slot_load(struct store *st, int64_t aid, const struct key_layout *layout, int64_t start,
                struct agg_slot **slot, struct ds_error *err)
{
    struct store_slot_row row;
    bool found;
    enum ds_rc rc;

    /* a backend keeps rows; decoding them is the same for all */
    *slot = NULL;
    rc = store_slot_row(st, aid, start, true, &row, &found, err);
    if (rc != DS_OK || !found)
        return rc;
    /* whole: a loaded slot may be merged into, counted into and saved again */
    if (row_decode(&row, layout, NULL, false, slot) != 0)
        rc = ds_error_set(err, DS_ERR_DB, "store %s: slot %lld: group counts are damaged",
                          st->path, (long long)start);
    store_slot_row_fini(&row);
    return rc;
}

enum ds_rc
store_slot_row(struct store *st, int64_t aid, int64_t start, bool details,
               struct store_slot_row *row, bool *found, struct ds_error *err)
{
    LOCKED(st->be->slot_row(st->state, aid, start, details, row, found, err));
}

void
store_slot_row_fini(struct store_slot_row *row)
{
    free(row->counts);
    free(row->details);
    memset(row, 0, sizeof(*row));
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

enum ds_rc
store_open_slots_replace(struct store *st, int64_t aid, int64_t closed_upto,
                         const struct store_open_slot *slots, size_t n, struct ds_error *err)
{
    LOCKED(st->be->open_slots_replace(st->state, aid, closed_upto, slots, n, err));
}

enum ds_rc
store_open_slots_load(struct store *st, int64_t aid, const struct key_layout *layout,
                      int64_t *closed_upto, struct agg_slot ***slots, size_t *n,
                      struct ds_error *err)
{
    LOCKED(st->be->open_slots_load(st->state, aid, layout, closed_upto, slots, n, err));
}

enum ds_rc
store_collector_save(struct store *st, const struct store_collector *c, struct ds_error *err)
{
    LOCKED(st->be->collector_save(st->state, c, err));
}

enum ds_rc
store_collector_load(struct store *st, struct store_collector *c, bool *found,
                     struct ds_error *err)
{
    LOCKED(st->be->collector_load(st->state, c, found, err));
}

enum ds_rc
store_minutes_add(struct store *st, const struct store_minute *m, size_t n, struct ds_error *err)
{
    LOCKED(st->be->minutes_add(st->state, m, n, err));
}

enum ds_rc
store_minutes_sum(struct store *st, int64_t from_s, int64_t to_s, struct store_minute **out,
                  size_t *n, struct ds_error *err)
{
    LOCKED(st->be->minutes_sum(st->state, from_s, to_s, out, n, err));
}

enum ds_rc
store_gap_add(struct store *st, const struct store_gap *g, struct ds_error *err)
{
    LOCKED(st->be->gap_add(st->state, g, err));
}

enum ds_rc
store_gaps(struct store *st, int64_t from_ms, int64_t to_ms, struct store_gap **out, size_t *n,
           struct ds_error *err)
{
    LOCKED(st->be->gaps(st->state, from_ms, to_ms, out, n, err));
}

enum ds_rc
store_explain_save(struct store *st, int64_t aid, int64_t start, const uint8_t *blob, size_t len,
                   struct ds_error *err)
{
    LOCKED(st->be->explain_save(st->state, aid, start, blob, len, err));
}

enum ds_rc
store_cluster_mark(struct store *st, int64_t aid, int64_t start, int64_t judged_ms,
                   struct ds_error *err)
{
    LOCKED(st->be->cluster_mark(st->state, aid, start, judged_ms, err));
}

enum ds_rc
store_cluster_marks(struct store *st, int64_t aid, struct store_cluster_mark **out, size_t *n,
                    struct ds_error *err)
{
    LOCKED(st->be->cluster_marks(st->state, aid, out, n, err));
}

enum ds_rc
store_mail_find(struct store *st, const char *day, struct store_mail *m, bool *found,
                struct ds_error *err)
{
    LOCKED(st->be->mail_find(st->state, day, m, found, err));
}

enum ds_rc
store_mail_save(struct store *st, const struct store_mail *m, struct ds_error *err)
{
    LOCKED(st->be->mail_save(st->state, m, err));
}

/* ---- slot blobs, shared by every backend ---- */

uint8_t *
store_slot_encode(const struct agg_slot *slot, size_t *counts_len, size_t *details_len)
{
    size_t ks = slot->layout->stored;
    size_t bound = (size_t)slot->n_groups * (ks + 3 * 10) + 1;
    size_t cl = 0, dl = 0;
    uint8_t *blob;

    for (uint32_t i = 0; i < slot->n_groups; i++) {
        const struct agg_group *g = agg_slot_group(slot, i);

        if (g->detail != NULL)
            bound += ks + 10 + detail_serialize_bound(g->detail);
    }
    blob = xmalloc(bound);
    for (uint32_t i = 0; i < slot->n_groups; i++) {
        const struct agg_group *g = agg_slot_group(slot, i);

        memcpy(blob + cl, g->key, ks);
        cl += ks;
        cl += varint_put(blob + cl, g->packets);
        cl += varint_put(blob + cl, g->flows);
        cl += varint_put(blob + cl, g->flags);
    }
    for (uint32_t i = 0; i < slot->n_groups; i++) {
        const struct agg_group *g = agg_slot_group(slot, i);
        uint8_t *at = blob + cl + dl;
        uint8_t lenbuf[10];
        size_t n, lv;

        if (g->detail == NULL)
            continue;
        memcpy(at, g->key, ks);
        /* the detail goes after room for its length, then moves up to it */
        n = detail_serialize(g->detail, at + ks + 10);
        lv = varint_put(lenbuf, n);
        memmove(at + ks + lv, at + ks + 10, n);
        memcpy(at + ks, lenbuf, lv);
        dl += ks + lv + n;
    }
    *counts_len = cl;
    *details_len = dl;
    return blob;
}

int
store_walk_groups(const uint8_t *counts, size_t len, const struct key_layout *layout,
                  store_group_fn fn, void *ctx)
{
    uint8_t key[KEY_BYTES_MAX];
    size_t pos = 0;

    memset(key, 0, sizeof(key));
    while (pos < len) {
        uint64_t packets, flows, flags;

        if (len - pos < layout->stored)
            return -1;
        /* stored without the padding of the in-memory form */
        memcpy(key, counts + pos, layout->stored);
        pos += layout->stored;
        if (varint_get(counts, len, &pos, &packets) != 0 ||
            varint_get(counts, len, &pos, &flows) != 0 ||
            varint_get(counts, len, &pos, &flags) != 0)
            return -1;
        fn(ctx, key, packets, flows, flags);
    }
    return 0;
}

/*
 * A few hundred keys wanted among tens of thousands stored: a bitmap of
 * their cheap hashes turns most groups away before a table lookup.
 */
#define KEY_FILTER_BITS 15

struct load_ctx {
    struct agg_slot *slot;
    const struct agg_slot *keys;    /* the groups to load; NULL: all */
    size_t key_size;
    uint64_t filter[(1u << KEY_FILTER_BITS) / 64];
};

static uint32_t
filter_bit(const uint8_t *key, size_t size)
{
    uint64_t h = 0;

    for (size_t i = 0; i < size; i += 8) {
        uint64_t w = 0;

        memcpy(&w, key + i, size - i < 8 ? size - i : 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    }
    return (uint32_t)(h >> (64 - KEY_FILTER_BITS));
}

static void
load_group(void *ctx, const uint8_t *key, uint64_t packets, uint64_t flows, uint64_t flags)
{
    struct load_ctx *l = ctx;
    struct agg_group *g;

    if (l->keys != NULL) {
        uint32_t b = filter_bit(key, l->key_size);

        if (!(l->filter[b / 64] >> (b % 64) & 1) || agg_slot_group_find(l->keys, key) == NULL)
            return;
    }
    g = agg_slot_group_get(l->slot, key, false);
    if (g == NULL) {
        /* a stored slot has no limit; should one be set, its counts still add up */
        agg_slot_fold(l->slot, flows, 0);
        l->slot->folded_packets += packets;
        return;
    }
    g->packets = packets;
    g->flows = flows;
    g->flags = (uint32_t)flags;
}

/* As store_slot_decode(), with only the groups whose keys are groups of keys (if not NULL). */
static int
decode_keys(struct agg_slot *slot, const uint8_t *counts, size_t counts_len,
            const uint8_t *details, size_t details_len, const struct agg_slot *keys,
            bool counts_only)
{
    const struct key_layout *layout = slot->layout;
    struct load_ctx l;
    uint8_t key[KEY_BYTES_MAX];
    size_t pos = 0;

    l.slot = slot;
    l.keys = keys;
    l.key_size = layout->size;
    if (keys != NULL) {
        memset(l.filter, 0, sizeof(l.filter));
        for (uint32_t i = 0; i < keys->n_groups; i++) {
            uint32_t b = filter_bit(agg_slot_group(keys, i)->key, l.key_size);

            l.filter[b / 64] |= UINT64_C(1) << (b % 64);
        }
    }

    if (store_walk_groups(counts, counts_len, layout, load_group, &l) != 0)
        return -1;
    while (pos < details_len) {
        uint64_t dlen;
        struct agg_group *g;

        if (details_len - pos < layout->stored)
            return -1;
        memset(key, 0, layout->size);
        memcpy(key, details + pos, layout->stored);
        g = agg_slot_group_find(slot, key);
        pos += layout->stored;
        if (varint_get(details, details_len, &pos, &dlen) != 0 || dlen > details_len - pos)
            return -1;
        if (g != NULL && g->detail == NULL)
            g->detail = counts_only ? detail_deserialize_counts(details + pos, (size_t)dlen)
                                    : detail_deserialize(details + pos, (size_t)dlen);
        pos += (size_t)dlen;
    }
    return 0;
}

int
store_slot_decode(struct agg_slot *slot, const uint8_t *counts, size_t counts_len,
                  const uint8_t *details, size_t details_len)
{
    return decode_keys(slot, counts, counts_len, details, details_len, NULL, false);
}

/* The slot of row (groups of keys, or all); counts_only: its details' sets read for counts. */
static int
row_decode(const struct store_slot_row *row, const struct key_layout *layout,
           const struct agg_slot *keys, bool counts_only, struct agg_slot **out)
{
    struct agg_slot *slot = agg_slot_new(layout, row->start, row->end);

    slot->packets = row->packets;
    slot->flows = row->flows;
    slot->late_flows = row->late_flows;
    slot->late_packets = row->late_packets;
    slot->complete = row->complete;
    slot->folded_packets = row->folded_packets;
    slot->folded_flows = row->folded_flows;
    if (decode_keys(slot, row->counts, row->counts_len, row->details, row->details_len, keys,
                    counts_only) != 0) {
        agg_slot_free(slot);
        *out = NULL;
        return -1;
    }
    *out = slot;
    return 0;
}

int
store_slot_row_decode(const struct store_slot_row *row, const struct key_layout *layout,
                      const struct agg_slot *keys, struct agg_slot **out)
{
    return row_decode(row, layout, keys, true, out);
}


enum ds_rc
store_analysis_find(struct store *st, const char *name, int64_t *id, bool *found,
                    struct ds_error *err)
{
    LOCKED(st->be->analysis_find(st->state, name, id, found, err));
}
