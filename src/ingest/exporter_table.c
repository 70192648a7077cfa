/*
 * The exporter table (see ds/exporter_table.h): a hash from (address,
 * protocol) to a slot, an array of the slots for iteration, and the
 * probation entries in a queue, oldest first.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "ds/exporter_table.h"
#include "ds/hash.h"
#include "ds/xmem.h"

struct xkey {
    uint8_t addr[16];
    int32_t proto;
};

struct xslot {
    struct xkey key;
    void *entry;
    bool established;
    int64_t last_seen;
    size_t idx;                 /* in t->slots */
    GList probation;            /* its link in t->queue while on probation */
};

struct exporter_table {
    struct exporter_table_limits lim;
    exporter_evict_fn evict;
    exporter_free_fn free_fn;
    void *ctx;
    GHashTable *by_key;         /* struct xkey * (in the slot) -> struct xslot * */
    struct xslot **slots;       /* owned, with the slots */
    size_t n, cap;
    GQueue queue;               /* probation, oldest at the head */
    struct exporter_table_stats stats;
};

static guint
key_hash(gconstpointer p)
{
    return (guint)hash_bytes(p, sizeof(struct xkey));
}

static gboolean
key_equal(gconstpointer a, gconstpointer b)
{
    return memcmp(a, b, sizeof(struct xkey)) == 0;
}

static void
key_of(struct xkey *k, const struct addr *a, int proto)
{
    memset(k, 0, sizeof(*k));
    memcpy(k->addr, a->b, sizeof(k->addr));
    k->proto = proto;
}

struct exporter_table *
exporter_table_new(const struct exporter_table_limits *lim, exporter_evict_fn evict,
                   exporter_free_fn free_fn, void *ctx)
{
    struct exporter_table *t = xcalloc(1, sizeof(*t));

    t->lim = *lim;
    if (t->lim.established < 1)
        t->lim.established = 1;
    if (t->lim.probation < 1)
        t->lim.probation = 1;
    t->evict = evict;
    t->free_fn = free_fn;
    t->ctx = ctx;
    t->by_key = g_hash_table_new(key_hash, key_equal);
    g_queue_init(&t->queue);
    return t;
}

void
exporter_table_free(struct exporter_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->free_fn != NULL)
            t->free_fn(t->slots[i]->entry);
        free(t->slots[i]);
    }
    free(t->slots);
    g_hash_table_destroy(t->by_key);
    free(t);
}

static struct xslot *
slot_of(const struct exporter_table *t, const struct addr *a, int proto)
{
    struct xkey k;

    key_of(&k, a, proto);
    return g_hash_table_lookup(t->by_key, &k);
}

void *
exporter_table_find(struct exporter_table *t, const struct addr *a, int proto, int64_t now)
{
    struct xslot *s = slot_of(t, a, proto);

    if (s == NULL)
        return NULL;
    s->last_seen = now;
    return s->entry;
}

/* Takes s out of the table and hands its entry to the evict function. */
static void
evict_slot(struct exporter_table *t, struct xslot *s, const char *why)
{
    void *entry = s->entry;

    g_hash_table_remove(t->by_key, &s->key);
    if (s->established) {
        t->stats.established--;
    } else {
        g_queue_unlink(&t->queue, &s->probation);
        t->stats.probation--;
    }
    t->slots[s->idx] = t->slots[--t->n];
    t->slots[s->idx]->idx = s->idx;
    free(s);
    if (t->evict != NULL)
        t->evict(t->ctx, entry, why);
    else if (t->free_fn != NULL)
        t->free_fn(entry);
}

bool
exporter_table_add(struct exporter_table *t, const struct addr *a, int proto, void *entry,
                   bool established, int64_t now)
{
    struct xslot *s;

    if (established && t->stats.established >= t->lim.established)
        return false;
    if (!established && t->stats.probation >= t->lim.probation) {
        /* 1. the oldest on probation makes room: a newcomer is never refused */
        t->stats.evicted_probation++;
        evict_slot(t, g_queue_peek_head_link(&t->queue)->data, "probation");
    }
    s = xcalloc(1, sizeof(*s));
    key_of(&s->key, a, proto);
    s->entry = entry;
    s->established = established;
    s->last_seen = now;
    s->probation.data = s;
    if (established) {
        t->stats.established++;
    } else {
        g_queue_push_tail_link(&t->queue, &s->probation);
        t->stats.probation++;
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->slots = xreallocarray(t->slots, t->cap, sizeof(*t->slots));
    }
    s->idx = t->n;
    t->slots[t->n++] = s;
    g_hash_table_insert(t->by_key, &s->key, s);
    return true;
}

/* The established entry silent the longest, if it has been silent past the idle time. */
static struct xslot *
idle_victim(const struct exporter_table *t, int64_t now)
{
    struct xslot *v = NULL;

    for (size_t i = 0; i < t->n; i++) {
        struct xslot *s = t->slots[i];

        if (s->established && (v == NULL || s->last_seen < v->last_seen))
            v = s;
    }
    return v != NULL && now - v->last_seen > t->lim.idle_ms ? v : NULL;
}

bool
exporter_table_promote(struct exporter_table *t, const struct addr *a, int proto, int64_t now)
{
    struct xslot *s = slot_of(t, a, proto), *v;

    if (s == NULL)
        return false;
    if (s->established)
        return true;
    if (t->stats.established >= t->lim.established) {
        /* 2. never an active exporter's place; an idle one's, the longest silent */
        v = idle_victim(t, now);
        if (v == NULL) {
            t->stats.promotions_refused++;
            return false;
        }
        t->stats.evicted_idle++;
        evict_slot(t, v, "idle");
    }
    g_queue_unlink(&t->queue, &s->probation);
    t->stats.probation--;
    s->established = true;
    t->stats.established++;
    return true;
}

bool
exporter_table_established(const struct exporter_table *t, const struct addr *a, int proto)
{
    const struct xslot *s = slot_of(t, a, proto);

    return s != NULL && s->established;
}

size_t
exporter_table_count(const struct exporter_table *t)
{
    return t->n;
}

void *
exporter_table_at(const struct exporter_table *t, size_t i)
{
    return i < t->n ? t->slots[i]->entry : NULL;
}

const struct exporter_table_stats *
exporter_table_get_stats(struct exporter_table *t)
{
    return &t->stats;
}
