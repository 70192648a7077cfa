/*
 * The explanation on the wire: the store's serialised form (encode,
 * decode) and the JSON members of a slot object (docs/JSON.md).
 *
 * The serialised form, version 1, little endian, fixed widths:
 *
 *   "DSXP" u8 version
 *   i64 start, i64 end, u32 key_size, u32 window_slots
 *   u32 n_entered, u32 n_left, u32 n_moved, u64 more_entered, u64 more_left
 *   change * (n_entered + n_left + n_moved):
 *       key[key_size], u64 packets, f64 share, f64 window_share
 *   u32 n_groups, group * n_groups:
 *       key[key_size], u64 packets, f64 share, f64 window_share,
 *       u8 flags (1 in_top, 2 changed, 4 has_lists, 8 minutes_exact),
 *       list * 3 (sources, source ports, destinations):
 *           u32 n, u8 exact, u64 error, u64 distinct, n * (addr[16], u16 port, u64 packets)
 *       u32 n_minutes, varint * n_minutes (LEB128: most minutes of a burst are 0)
 *   u8 cause, u32 n_cause_groups, u32 * n_cause_groups, u16 length, evidence[length]
 *
 * It is read back from a store, possibly damaged: decode checks every
 * count against its limit and every length against what is left, in a
 * first pass that also sizes the one block, and fills it in a second.
 */
#include <stdlib.h>
#include <string.h>

#include "ds/varint.h"
#include "ds/xmem.h"
#include "explain_int.h"

#define CODEC_MAGIC "DSXP"
#define CODEC_VERSION 1
#define MINUTES_MAX (8 * 1440)  /* a week's slot, the longest, with room for a DST change */

struct wr {
    uint8_t *p;                 /* NULL: only count */
    size_t n;
};

static void
put(struct wr *w, const void *v, size_t n)
{
    if (w->p != NULL)
        memcpy(w->p + w->n, v, n);
    w->n += n;
}

static void
put_u(struct wr *w, uint64_t v, size_t bytes)
{
    uint8_t b[8];

    for (size_t i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    put(w, b, bytes);
}

static void
put_varint(struct wr *w, uint64_t v)
{
    w->n += varint_put(w->p != NULL ? w->p + w->n : NULL, v);
}

static void
put_f64(struct wr *w, double v)
{
    uint64_t u;

    memcpy(&u, &v, sizeof(u));
    put_u(w, u, 8);
}

static void
put_change(struct wr *w, const struct explain_change *c, size_t key_size)
{
    put(w, c->key, key_size);
    put_u(w, c->packets, 8);
    put_f64(w, c->share);
    put_f64(w, c->window_share);
}

static void
put_list(struct wr *w, const struct explain_list *l)
{
    put_u(w, l->n, 4);
    put_u(w, l->exact, 1);
    put_u(w, l->error, 8);
    put_u(w, l->distinct, 8);
    for (uint32_t i = 0; i < l->n; i++) {
        put(w, l->v[i].addr.b, 16);
        put_u(w, l->v[i].port, 2);
        put_u(w, l->v[i].packets, 8);
    }
}

static void
put_all(struct wr *w, const struct slot_explain *e)
{
    size_t ks = e->key_size, ev = strnlen(e->evidence, sizeof(e->evidence) - 1);

    put(w, CODEC_MAGIC, 4);
    put_u(w, CODEC_VERSION, 1);
    put_u(w, (uint64_t)e->start, 8);
    put_u(w, (uint64_t)e->end, 8);
    put_u(w, e->key_size, 4);
    put_u(w, e->window_slots, 4);
    put_u(w, e->n_entered, 4);
    put_u(w, e->n_left, 4);
    put_u(w, e->n_moved, 4);
    put_u(w, e->more_entered, 8);
    put_u(w, e->more_left, 8);
    for (size_t i = 0; i < e->n_entered; i++)
        put_change(w, &e->entered[i], ks);
    for (size_t i = 0; i < e->n_left; i++)
        put_change(w, &e->left[i], ks);
    for (size_t i = 0; i < e->n_moved; i++)
        put_change(w, &e->moved[i], ks);
    put_u(w, e->n_groups, 4);
    for (size_t i = 0; i < e->n_groups; i++) {
        const struct explain_group *g = &e->groups[i];
        uint32_t nm = g->minutes != NULL ? g->n_minutes : 0;

        put(w, g->key, ks);
        put_u(w, g->packets, 8);
        put_f64(w, g->share);
        put_f64(w, g->window_share);
        put_u(w, (g->in_top ? 1u : 0u) | (g->changed ? 2u : 0u) | (g->has_lists ? 4u : 0u) |
                     (g->minutes_exact ? 8u : 0u), 1);
        put_list(w, &g->src);
        put_list(w, &g->sport);
        put_list(w, &g->dst);
        put_u(w, nm, 4);
        for (uint32_t m = 0; m < nm; m++)
            put_varint(w, g->minutes[m]);
    }
    put_u(w, (uint64_t)e->cause, 1);
    put_u(w, e->n_cause_groups, 4);
    for (size_t i = 0; i < e->n_cause_groups; i++)
        put_u(w, e->cause_groups[i], 4);
    put_u(w, ev, 2);
    put(w, e->evidence, ev);
}

uint8_t *
explain_encode(const struct slot_explain *e, size_t *len)
{
    struct wr w = {NULL, 0};

    put_all(&w, e);
    w.p = xmalloc(w.n);
    *len = w.n;
    w.n = 0;
    put_all(&w, e);
    return w.p;
}

/* ---- decode ---- */

struct rd {
    const uint8_t *p;
    size_t len, pos;
    bool bad;
};

static const uint8_t *
take(struct rd *r, size_t n)
{
    const uint8_t *p;

    if (r->bad || n > r->len - r->pos) {
        r->bad = true;
        return NULL;
    }
    p = r->p + r->pos;
    r->pos += n;
    return p;
}

static uint64_t
get_u(struct rd *r, size_t bytes)
{
    const uint8_t *p = take(r, bytes);
    uint64_t v = 0;

    for (size_t i = 0; p != NULL && i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint64_t
get_varint(struct rd *r)
{
    uint64_t v = 0;

    if (!r->bad && varint_get(r->p, r->len, &r->pos, &v) != 0)
        r->bad = true;
    return v;
}

static double
get_f64(struct rd *r)
{
    uint64_t u = get_u(r, 8);
    double v;

    memcpy(&v, &u, sizeof(v));
    return v;
}

/* Reads a key into out (may be NULL: skip). */
static void
get_key(struct rd *r, uint8_t *out, size_t ks)
{
    const uint8_t *p = take(r, ks);

    if (p != NULL && out != NULL)
        memcpy(out, p, ks);
}

static void
get_change(struct rd *r, struct explain_change *c, size_t ks)
{
    struct explain_change tmp;

    if (c == NULL)
        c = &tmp;
    get_key(r, c->key, ks);
    c->packets = get_u(r, 8);
    c->share = get_f64(r);
    c->window_share = get_f64(r);
}

static void
get_list(struct rd *r, struct explain_list *l, uint32_t max)
{
    l->n = (uint32_t)get_u(r, 4);
    if (l->n > max) {
        r->bad = true;
        l->n = 0;
        return;
    }
    l->exact = get_u(r, 1) != 0;
    l->error = get_u(r, 8);
    l->distinct = get_u(r, 8);
    for (uint32_t i = 0; i < l->n && !r->bad; i++) {
        const uint8_t *a = take(r, 16);

        if (a != NULL)
            memcpy(l->v[i].addr.b, a, 16);
        l->v[i].port = (uint16_t)get_u(r, 2);
        l->v[i].packets = get_u(r, 8);
    }
}

/*
 * One pass over the buffer: into e when it is not NULL (the block sized
 * by the first pass), else only checking and counting.  Returns false if
 * the buffer is damaged.
 */
static bool
get_all(struct rd *r, struct slot_explain *e, size_t *counts, uint32_t *minutes)
{
    struct slot_explain hd;
    size_t ks, nch[3], ng;
    const uint8_t *p;

    memset(&hd, 0, sizeof(hd));
    p = take(r, 4);
    if (p == NULL || memcmp(p, CODEC_MAGIC, 4) != 0 || get_u(r, 1) != CODEC_VERSION)
        return false;
    hd.start = (int64_t)get_u(r, 8);
    hd.end = (int64_t)get_u(r, 8);
    hd.key_size = (uint32_t)get_u(r, 4);
    hd.window_slots = (uint32_t)get_u(r, 4);
    ks = hd.key_size;
    for (int k = 0; k < 3; k++)
        nch[k] = (size_t)get_u(r, 4);
    hd.more_entered = get_u(r, 8);
    hd.more_left = get_u(r, 8);
    if (r->bad || ks == 0 || ks > KEY_BYTES_MAX || nch[0] > EXPLAIN_CHANGES_MAX ||
        nch[1] > EXPLAIN_CHANGES_MAX || nch[2] > EXPLAIN_MOVED_MAX)
        return false;
    for (int k = 0; k < 3; k++) {
        struct explain_change *v = e == NULL ? NULL
                                   : k == 0  ? e->entered
                                   : k == 1  ? e->left
                                             : e->moved;

        for (size_t i = 0; i < nch[k]; i++)
            get_change(r, v != NULL ? &v[i] : NULL, ks);
    }
    ng = (size_t)get_u(r, 4);
    if (r->bad || ng > EXPLAIN_GROUPS_MAX)
        return false;
    for (size_t i = 0; i < ng && !r->bad; i++) {
        struct explain_group tmp, *g = e != NULL ? &e->groups[i] : &tmp;
        uint64_t *mins;
        unsigned flags;
        uint32_t nm;

        if (e == NULL)
            memset(&tmp, 0, sizeof(tmp));
        mins = g->minutes;

        get_key(r, e != NULL ? g->key : NULL, ks);
        g->packets = get_u(r, 8);
        g->share = get_f64(r);
        g->window_share = get_f64(r);
        flags = (unsigned)get_u(r, 1);
        if (flags > 15)
            return false;
        g->in_top = flags & 1;
        g->changed = (flags & 2) != 0;
        g->has_lists = (flags & 4) != 0;
        g->minutes_exact = (flags & 8) != 0;
        get_list(r, &g->src, EXPLAIN_SOURCES);
        get_list(r, &g->sport, EXPLAIN_SPORTS);
        get_list(r, &g->dst, EXPLAIN_DSTS);
        nm = (uint32_t)get_u(r, 4);
        /* a varint takes a byte at least */
        if (r->bad || nm > MINUTES_MAX || nm > r->len - r->pos)
            return false;
        if (e == NULL) {
            minutes[i] = nm;
            for (uint32_t m = 0; m < nm; m++)
                get_varint(r);
            continue;
        }
        if (nm != g->n_minutes)
            return false;
        for (uint32_t m = 0; m < nm; m++)
            mins[m] = get_varint(r);
    }
    hd.cause = (int)get_u(r, 1);
    hd.n_cause_groups = (size_t)get_u(r, 4);
    if (r->bad || hd.cause > CAUSE_BACKSCATTER || hd.n_cause_groups > EXPLAIN_GROUPS_MAX)
        return false;
    for (size_t i = 0; i < hd.n_cause_groups; i++) {
        hd.cause_groups[i] = (uint32_t)get_u(r, 4);
        if (hd.cause_groups[i] >= ng)
            return false;
    }
    {
        size_t ev = (size_t)get_u(r, 2);
        const uint8_t *s;

        if (r->bad || ev >= sizeof(hd.evidence))
            return false;
        s = take(r, ev);
        if (s == NULL || memchr(s, 0, ev) != NULL)
            return false;
        memcpy(hd.evidence, s, ev);
        hd.evidence[ev] = '\0';
    }
    if (r->bad || r->pos != r->len)
        return false;
    if (e == NULL) {
        counts[0] = nch[0];
        counts[1] = nch[1];
        counts[2] = nch[2];
        counts[3] = ng;
        return true;
    }
    e->start = hd.start;
    e->end = hd.end;
    e->key_size = hd.key_size;
    e->window_slots = hd.window_slots;
    e->more_entered = hd.more_entered;
    e->more_left = hd.more_left;
    e->cause = hd.cause;
    e->n_cause_groups = hd.n_cause_groups;
    memcpy(e->cause_groups, hd.cause_groups, sizeof(e->cause_groups));
    memcpy(e->evidence, hd.evidence, sizeof(e->evidence));
    return true;
}

struct slot_explain *
explain_decode(const uint8_t *buf, size_t len)
{
    struct rd r = {buf, len, 0, false};
    size_t counts[4];
    uint32_t minutes[EXPLAIN_GROUPS_MAX] = {0};
    struct slot_explain *e;

    if (buf == NULL || !get_all(&r, NULL, counts, minutes))
        return NULL;
    e = explain_block(counts[0], counts[1], counts[2], counts[3], minutes);
    r.pos = 0;
    r.bad = false;
    if (!get_all(&r, e, counts, minutes)) {
        free(e);
        return NULL;
    }
    return e;
}

/* ---- JSON ---- */

static void
write_change(struct json_w *w, const struct explain_change *c, const struct key_layout *layout)
{
    json_obj_begin(w);
    json_key(w, "key");
    key_write_json(layout, c->key, w);
    json_key(w, "packets");
    json_uint(w, c->packets);
    json_key(w, "share");
    json_double(w, c->share, 4);
    json_key(w, "window_share");
    json_double(w, c->window_share, 4);
    json_obj_end(w);
}

static void
write_changes(struct json_w *w, const char *name, const struct explain_change *v, size_t n,
              const struct key_layout *layout)
{
    json_key(w, name);
    json_arr_begin(w);
    for (size_t i = 0; i < n; i++)
        write_change(w, &v[i], layout);
    json_arr_end(w);
}

/* {exact, error, distinct?, items: [{addr|port, packets}]}, or null without lists */
static void
write_list(struct json_w *w, const char *name, const struct explain_list *l, bool has,
           bool ports)
{
    char buf[ADDR_STRLEN];

    json_key(w, name);
    if (!has) {
        json_null(w);
        return;
    }
    json_obj_begin(w);
    json_key(w, "exact");
    json_bool(w, l->exact);
    json_key(w, "error");
    json_uint(w, l->error);
    if (l->distinct > 0) {
        json_key(w, "distinct");
        json_uint(w, l->distinct);
    }
    json_key(w, "items");
    json_arr_begin(w);
    for (uint32_t i = 0; i < l->n; i++) {
        json_obj_begin(w);
        if (ports) {
            json_key(w, "port");
            json_uint(w, l->v[i].port);
        } else {
            json_key(w, "addr");
            json_str(w, addr_format(&l->v[i].addr, buf));
        }
        json_key(w, "packets");
        json_uint(w, l->v[i].packets);
        json_obj_end(w);
    }
    json_arr_end(w);
    json_obj_end(w);
}

void
explain_write_json(const struct slot_explain *e, const struct key_layout *layout,
                   struct json_w *w)
{
    json_key(w, "changes");
    json_obj_begin(w);
    write_changes(w, "entered", e->entered, e->n_entered, layout);
    write_changes(w, "left", e->left, e->n_left, layout);
    write_changes(w, "moved", e->moved, e->n_moved, layout);
    json_key(w, "more_entered");
    json_uint(w, e->more_entered);
    json_key(w, "more_left");
    json_uint(w, e->more_left);
    json_key(w, "window_slots");
    json_uint(w, e->window_slots);
    json_obj_end(w);

    json_key(w, "detail");
    json_arr_begin(w);
    for (size_t i = 0; i < e->n_groups; i++) {
        const struct explain_group *g = &e->groups[i];

        json_obj_begin(w);
        json_key(w, "key");
        key_write_json(layout, g->key, w);
        json_key(w, "packets");
        json_uint(w, g->packets);
        json_key(w, "share");
        json_double(w, g->share, 4);
        json_key(w, "window_share");
        json_double(w, g->window_share, 4);
        json_key(w, "in_top");
        json_bool(w, g->in_top);
        json_key(w, "changed");
        json_bool(w, g->changed);
        write_list(w, "sources", &g->src, g->has_lists, false);
        write_list(w, "src_ports", &g->sport, g->has_lists, true);
        write_list(w, "dst_addrs", &g->dst, g->has_lists, false);
        json_key(w, "minutes");
        if (g->minutes == NULL) {
            json_null(w);
        } else {
            json_obj_begin(w);
            json_key(w, "start");
            json_int(w, e->start);
            json_key(w, "exact");
            json_bool(w, g->minutes_exact);
            json_key(w, "packets");
            json_arr_begin(w);
            for (uint32_t m = 0; m < g->n_minutes; m++)
                json_uint(w, g->minutes[m]);
            json_arr_end(w);
            json_obj_end(w);
        }
        json_obj_end(w);
    }
    json_arr_end(w);

    json_key(w, "cause");
    json_obj_begin(w);
    json_key(w, "kind");
    json_str(w, explain_cause_name(e->cause));
    json_key(w, "groups");
    json_arr_begin(w);
    for (size_t i = 0; i < e->n_cause_groups; i++)
        if (e->cause_groups[i] < e->n_groups)
            key_write_json(layout, e->groups[e->cause_groups[i]].key, w);
    json_arr_end(w);
    json_key(w, "evidence");
    json_str(w, e->evidence);
    json_obj_end(w);
}
