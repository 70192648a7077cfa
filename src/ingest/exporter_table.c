/*
 * The exporter table (see ds/exporter_table.h): a hash from (address,
 * protocol) to a slot, an array of the slots for iteration, the probation
 * entries in one queue per strike level, oldest first, and the strikes.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "ds/exporter_table.h"
#include "ds/hash.h"
#include "ds/ingest.h"
#include "ds/xmem.h"

#define STATE_MAGIC 0x44534331u     /* "DSC1" */

/*
 * Strikes: how often a sender was evicted from probation without having
 * delivered a record, in a fixed array indexed by a keyed hash of (address,
 * protocol) (a sender cannot grow it, nor aim at a router's counter without
 * the key).  Each counter holds a 24-bit tag of its sender (another sender
 * that lands on it starts afresh, never inherits the count) and 8 bits of
 * count.
 */
#define STRIKE_BITS 16
#define STRIKE_SLOTS (1u << STRIKE_BITS)
#define STRIKE_LEVELS 5

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
    GList probation;            /* its link in t->queue[level] while on probation */
    int level;                  /* strike level (strike_level()) while on probation */
};

struct exporter_table {
    struct exporter_table_limits lim;
    exporter_evict_fn evict;
    exporter_free_fn free_fn;
    void *ctx;
    GHashTable *by_key;         /* struct xkey * (in the slot) -> struct xslot * */
    struct xslot **slots;       /* owned, with the slots */
    size_t n, cap;
    GQueue queue[STRIKE_LEVELS]; /* probation by strike level, oldest at the head */
    uint64_t strike_key;
    uint32_t *strikes;          /* STRIKE_SLOTS of tag << 8 | count */
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
    for (int i = 0; i < STRIKE_LEVELS; i++)
        g_queue_init(&t->queue[i]);
    t->strike_key = (uint64_t)g_random_int() << 32 | g_random_int();
    t->strikes = xcalloc(STRIKE_SLOTS, sizeof(*t->strikes));
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
    free(t->strikes);
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

/* The strike counter of k, and the tag its sender has there. */
static uint32_t *
strike_of(const struct exporter_table *t, const struct xkey *k, uint32_t *tag)
{
    uint64_t h = XXH3_64bits_withSeed(k, sizeof(*k), t->strike_key);

    *tag = (uint32_t)(h >> 40);
    return &t->strikes[h & (STRIKE_SLOTS - 1)];
}

static unsigned
strikes_get(const struct exporter_table *t, const struct xkey *k)
{
    uint32_t tag, *c = strike_of(t, k, &tag);

    return *c >> 8 == tag ? *c & 0xff : 0;
}

static void
strikes_add(struct exporter_table *t, const struct xkey *k)
{
    uint32_t tag, *c = strike_of(t, k, &tag);
    unsigned n = *c >> 8 == tag ? *c & 0xff : 0;

    *c = tag << 8 | (n < 255 ? n + 1 : n);
}

static void
strikes_clear(struct exporter_table *t, const struct xkey *k)
{
    uint32_t tag, *c = strike_of(t, k, &tag);

    if (*c >> 8 == tag)
        *c = 0;
}

/*
 * Strikes 0, 1, 2-3, 4-15, 16 and more: a router that lost its place to a
 * flood once or twice ranks before a sender that has been evicted at every
 * round of it.
 */
static int
strike_level(unsigned n)
{
    return n == 0 ? 0 : n == 1 ? 1 : n < 4 ? 2 : n < 16 ? 3 : 4;
}

/* The probation entry to evict: the oldest of the highest strike level. */
static struct xslot *
probation_victim(const struct exporter_table *t)
{
    for (int i = STRIKE_LEVELS - 1; i >= 0; i--)
        if (t->queue[i].head != NULL)
            return t->queue[i].head->data;
    return NULL;
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
        g_queue_unlink(&t->queue[s->level], &s->probation);
        t->stats.probation--;
        strikes_add(t, &s->key);
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
        /* 1. one on probation makes room: a newcomer is never refused */
        t->stats.evicted_probation++;
        evict_slot(t, probation_victim(t), "probation");
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
        s->level = strike_level(strikes_get(t, &s->key));
        g_queue_push_tail_link(&t->queue[s->level], &s->probation);
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
    g_queue_unlink(&t->queue[s->level], &s->probation);
    t->stats.probation--;
    strikes_clear(t, &s->key);
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

/* ---- checkpoints ----------------------------------------------------------- */

struct buf {
    uint8_t *b;
    size_t n, cap;
};

static void
buf_put(struct buf *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2 + 64;
        o->b = xreallocarray(o->b, o->cap, 1);
    }
    if (n > 0)
        memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void
buf_u64(struct buf *o, uint64_t v)
{
    uint8_t b[8];

    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    buf_put(o, b, 8);
}

uint8_t *
exporter_state_encode(const struct exporter_saved *v, size_t n, size_t *len)
{
    struct buf o = {NULL, 0, 0};

    buf_u64(&o, STATE_MAGIC);
    buf_u64(&o, n);
    for (size_t i = 0; i < n; i++) {
        buf_put(&o, v[i].addr.b, 16);
        buf_u64(&o, (uint64_t)v[i].proto);
        buf_u64(&o, (uint64_t)v[i].event_ms);
        buf_u64(&o, v[i].rate);
        buf_u64(&o, v[i].session_len);
        buf_put(&o, v[i].session, v[i].session_len);
        buf_u64(&o, v[i].norm_len);
        buf_put(&o, v[i].norm, v[i].norm_len);
    }
    *len = o.n;
    return o.b;
}

static uint64_t
get_u64(const uint8_t **p)
{
    uint64_t v = 0;

    for (int i = 0; i < 8; i++)
        v = v << 8 | *(*p)++;
    return v;
}

int
exporter_state_walk(const uint8_t *b, size_t len,
                    int (*fn)(void *ctx, const struct exporter_saved *e), void *ctx)
{
    const uint8_t *p = b, *end = b + len;
    uint64_t n;

    if (len < 16 || get_u64(&p) != STATE_MAGIC)
        return -1;
    n = get_u64(&p);
    for (uint64_t i = 0; i < n; i++) {
        struct exporter_saved e;
        uint64_t proto;

        /* address, protocol, clock, rate, and the first blob's length */
        if (end - p < 16 + 4 * 8)
            return -1;
        memcpy(e.addr.b, p, 16);
        p += 16;
        proto = get_u64(&p);
        if (proto > INGEST_SFLOW)
            return -1;
        e.proto = (int)proto;
        e.event_ms = (int64_t)get_u64(&p);
        e.rate = (uint32_t)get_u64(&p);
        e.session_len = get_u64(&p);
        if ((uint64_t)(end - p) < e.session_len || (uint64_t)(end - p) - e.session_len < 8)
            return -1;
        e.session = p;
        p += e.session_len;
        e.norm_len = get_u64(&p);
        if ((uint64_t)(end - p) < e.norm_len)
            return -1;
        e.norm = p;
        p += e.norm_len;
        if (fn(ctx, &e) != 0)
            break;
    }
    return 0;
}
