/*
 * Structural check of IPFIX messages (RFC 7011) before libfixbuf parses
 * them (see ds/ingest.h).
 *
 * libfixbuf 2.4.1 trusts the message: a template whose records are 0 bytes
 * long makes fBufNext() loop for ever, and a template set cut short makes
 * it read the rest of the set as further templates and crash
 * (../shared/crashers).  So every message is walked here first, with our
 * own copy of the template state, and rewritten when something must go:
 *
 *   1. sets: length >= 4 and inside the message (RFC 7011 3.3.2); a set
 *      that overruns ends the walk; ids 0, 1 and 4..255 are dropped;
 *   2. template records (3.4.1, 3.4.2): must fit in their set; field
 *      count 0 withdraws (8.1) and is applied here, never passed on;
 *      fields of length 0 are removed (they occupy no bytes, so records
 *      are unchanged); a template whose records would be 0 bytes long, or
 *      longer than a message, is refused; an element darkstab reads but
 *      sent with a length it cannot hold is renamed paddingOctets, which
 *      keeps the record layout and hides the bad value;
 *   3. data sets (3.3.2): the template must be known and not withdrawn;
 *      records are counted, and with variable-length fields walked one by
 *      one (7); a record cut short ends its set there.
 *
 * Template state is per observation domain, as in libfixbuf's session.
 */
#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/ingest.h"
#include "ds/xmem.h"
#include "ingest_int.h"

#define SET_TEMPLATE 2
#define SET_OPTIONS_TEMPLATE 3
#define SET_DATA_MIN 256
#define FIELDS_MAX 1024

struct tmpl_info {
    uint16_t n_fields;      /* after zero-length fields were removed */
    uint16_t fixed_len;     /* sum of the fixed lengths */
    uint16_t n_varlen;
    uint8_t options;
    uint16_t *lens;         /* owned; per field, IE_VARLEN for variable */
    uint8_t *raw;           /* owned: the template record as passed on */
    uint16_t raw_len;
    uint64_t cost;          /* INGEST_TEMPLATE_COST(), in *held while in the table */
    uint64_t *held;
    struct ingest_template_pool *pool;  /* and in its held, if any */
};

struct ipfix_check {
    GHashTable *tmpls;      /* (domain << 16 | tid) -> struct tmpl_info * */
    struct ingest_limits lim;
    uint64_t held;          /* bytes of the templates in tmpls (their cost) */
    uint16_t lens[FIELDS_MAX];
};

static void
tmpl_free(gpointer p)
{
    struct tmpl_info *t = p;

    if (t == NULL)
        return;
    *t->held -= t->cost;
    if (t->pool != NULL)
        t->pool->held -= t->cost;
    free(t->lens);
    free(t->raw);
    free(t);
}

struct ipfix_check *
ipfix_check_new(void)
{
    struct ipfix_check *chk = xcalloc(1, sizeof(*chk));

    chk->tmpls = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, tmpl_free);
    return chk;
}

void
ipfix_check_free(struct ipfix_check *chk)
{
    if (chk == NULL)
        return;
    g_hash_table_destroy(chk->tmpls);
    free(chk);
}

void
ipfix_check_set_limits(struct ipfix_check *chk, const struct ingest_limits *lim)
{
    chk->lim = *lim;
}

void
ipfix_check_reset(struct ipfix_check *chk)
{
    g_hash_table_remove_all(chk->tmpls);
}

static inline void
wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void issue(struct ipfix_check_result *res, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
issue(struct ipfix_check_result *res, size_t offset, const char *fmt, ...)
{
    va_list ap;

    if (res->n_issues < IPFIX_ISSUES_MAX) {
        struct ipfix_issue *is = &res->issues[res->n_issues];

        is->offset = (uint32_t)offset;
        va_start(ap, fmt);
        vsnprintf(is->text, sizeof(is->text), fmt, ap);
        va_end(ap);
    }
    res->n_issues++;
}

static gint64 *
tkey(uint32_t domain, uint16_t tid)
{
    gint64 *k = g_new(gint64, 1);

    *k = (gint64)((uint64_t)domain << 16 | tid);
    return k;
}

static struct tmpl_info *
tmpl_lookup(struct ipfix_check *chk, uint32_t domain, uint16_t tid)
{
    gint64 k = (gint64)((uint64_t)domain << 16 | tid);

    return g_hash_table_lookup(chk->tmpls, &k);
}

static void
tmpl_withdraw(struct ipfix_check *chk, uint32_t domain, uint16_t tid)
{
    gint64 k = (gint64)((uint64_t)domain << 16 | tid);

    g_hash_table_remove(chk->tmpls, &k);
}

struct withdraw_all {
    uint32_t domain;
    int options;
};

static gboolean
withdraw_match(gpointer key, gpointer value, gpointer user)
{
    const struct withdraw_all *w = user;
    const struct tmpl_info *t = value;

    return (uint32_t)((uint64_t)*(gint64 *)key >> 16) == w->domain && t->options == w->options;
}

/*
 * Is an element darkstab reads sent with a length it can take?  Integers
 * may be shorter than native (reduced-size encoding, RFC 7011 6.2);
 * addresses, times and floats must be exact.
 */
static int
length_ok(uint16_t ie, uint16_t len)
{
    int f = ipf_by_ie(ie);

    if (f < 0)
        return 1;
    if (len == IE_VARLEN)
        return 0;
    if (ipf_table[f].kind == IPFK_UINT)
        return len >= 1 && len <= ipf_table[f].len;
    return len == ipf_table[f].len;
}

/*
 * Walks one template record at p (avail bytes left in its set).  Returns
 * the bytes it occupies, or 0 if it does not fit (the rest of the set is
 * then unusable).  Writes the record to be passed on at *out (when
 * out != NULL) and sets *out_len (0: pass nothing on).
 */
static size_t
walk_template(struct ipfix_check *chk, uint32_t domain, int options, const uint8_t *p,
              size_t avail, size_t msg_off, uint8_t *out, size_t *out_len,
              struct ipfix_check_result *res, struct ingest_stats *stats)
{
    uint16_t tid, count, scope = 0, scope_kept = 0, kept = 0;
    struct tmpl_info *t;
    size_t pos = 4, hdr = 4;
    uint32_t fixed = 0;
    uint16_t n_varlen = 0;
    size_t opos;
    const char *why = NULL;

    *out_len = 0;
    if (avail < 4)
        return 0;
    tid = rd16(p);
    count = rd16(p + 2);
    if (count == 0) {
        /* Withdrawal (RFC 7011 8.1): tid == set id withdraws them all. */
        if (tid == (options ? SET_OPTIONS_TEMPLATE : SET_TEMPLATE)) {
            struct withdraw_all w = {domain, options};

            g_hash_table_foreach_remove(chk->tmpls, withdraw_match, &w);
        } else if (tid >= SET_DATA_MIN) {
            tmpl_withdraw(chk, domain, tid);
        } else {
            issue(res, msg_off, "withdrawal of illegal template id %u ignored", tid);
        }
        return 4;
    }
    if (tid < SET_DATA_MIN) {
        issue(res, msg_off, "template id %u is below 256; rest of the set dropped", tid);
        stats->bad_templates++;
        return 0;
    }
    if (options) {
        if (avail < 6) {
            issue(res, msg_off, "options template %u cut short; rest of the set dropped", tid);
            stats->bad_templates++;
            return 0;
        }
        scope = rd16(p + 4);
        pos = hdr = 6;
    }
    if (count > FIELDS_MAX) {
        issue(res, msg_off, "template %u claims %u fields (at most %d); rest of the set dropped",
              tid, count, FIELDS_MAX);
        stats->bad_templates++;
        return 0;
    }
    if (chk->lim.template_fields > 0 && count > chk->lim.template_fields) {
        /* walked, not kept, so that the set goes on */
        for (uint16_t i = 0; i < count; i++) {
            if (pos + 4 > avail || ((rd16(p + pos) & IE_ENTERPRISE_BIT) && pos + 8 > avail)) {
                issue(res, msg_off,
                      "template %u cut short: field %u of %u does not fit in its set; rest of "
                      "the set dropped",
                      tid, i + 1, count);
                stats->bad_templates++;
                return 0;
            }
            pos += (rd16(p + pos) & IE_ENTERPRISE_BIT) ? 8 : 4;
        }
        issue(res, msg_off, "template %u refused: %u fields, limits.template_fields is %u", tid,
              count, chk->lim.template_fields);
        stats->limit_fields++;
        tmpl_withdraw(chk, domain, tid);
        return pos;
    }
    opos = hdr;
    for (uint16_t i = 0; i < count; i++) {
        uint16_t ie, len;
        size_t spec = 4;

        if (pos + 4 > avail) {
            issue(res, msg_off,
                  "template %u cut short: field %u of %u does not fit in its set; rest of the "
                  "set dropped",
                  tid, i + 1, count);
            stats->bad_templates++;
            return 0;
        }
        ie = rd16(p + pos);
        len = rd16(p + pos + 2);
        if (ie & IE_ENTERPRISE_BIT) {
            spec = 8;
            if (pos + 8 > avail) {
                issue(res, msg_off,
                      "template %u cut short: field %u of %u does not fit in its set; rest of "
                      "the set dropped",
                      tid, i + 1, count);
                stats->bad_templates++;
                return 0;
            }
        }
        if (len == 0) {
            /* Occupies no bytes in a record: leaving it out changes nothing. */
            pos += spec;
            continue;
        }
        if (len == IE_VARLEN)
            n_varlen++;
        else
            fixed += len;
        chk->lens[kept] = len;
        if (out != NULL) {
            memcpy(out + opos, p + pos, 4);
            if ((ie & IE_ENTERPRISE_BIT) || ipf_by_ie(ie) < 0 || !ipfix_element_known(ie)) {
                /*
                 * An element darkstab never reads: libfixbuf skips its bytes
                 * without checking its length or adding it to the shared model.
                 */
                wr16(out + opos, IE_PADDING_OCTETS);
            } else if (!length_ok(ie, len)) {
                int f = ipf_by_ie(ie);

                issue(res, msg_off, "template %u: %s sent with length %u, ignored", tid,
                      ipf_table[f].name, len);
                wr16(out + opos, IE_PADDING_OCTETS);
            }
        }
        opos += 4;
        kept++;
        if (i < scope)
            scope_kept++;
        pos += spec;
    }
    if (options && (scope == 0 || scope > count))
        why = "illegal scope count";
    else if (kept == 0 || fixed + n_varlen == 0)
        why = "its records would be 0 bytes long";
    else if (fixed + n_varlen > IPFIX_MSG_MAX - IPFIX_HDR_LEN - 4)
        why = "its records would not fit in a message";
    if (why != NULL) {
        issue(res, msg_off, "template %u refused: %s", tid, why);
        stats->bad_templates++;
        /* The record was walked to its end, so the set can go on. */
        tmpl_withdraw(chk, domain, tid);
        return pos;
    }
    {
        const struct tmpl_info *old = tmpl_lookup(chk, domain, tid);
        uint64_t cost = INGEST_TEMPLATE_COST(kept, opos), freed = old ? old->cost : 0;

        /* a replacement is not a new template, and gives its bytes back */
        if (old == NULL && chk->lim.templates > 0 &&
            g_hash_table_size(chk->tmpls) >= chk->lim.templates) {
            issue(res, msg_off, "template %u refused: limits.templates (%u) reached", tid,
                  chk->lim.templates);
            stats->limit_templates++;
            return pos;
        }
        if (chk->lim.pool != NULL && chk->lim.pool->held - freed + cost > chk->lim.pool->max) {
            issue(res, msg_off,
                  "template %u refused: limits.template_memory_total (%llu bytes) reached", tid,
                  (unsigned long long)chk->lim.pool->max);
            stats->limit_template_total++;
            tmpl_withdraw(chk, domain, tid);
            return pos;
        }
        if (chk->lim.template_memory > 0 && chk->held - freed + cost > chk->lim.template_memory) {
            issue(res, msg_off, "template %u refused: limits.template_memory (%llu bytes) reached",
                  tid, (unsigned long long)chk->lim.template_memory);
            stats->limit_template_memory++;
            tmpl_withdraw(chk, domain, tid);
            return pos;
        }
    }
    t = xcalloc(1, sizeof(*t));
    t->held = &chk->held;
    t->cost = INGEST_TEMPLATE_COST(kept, opos);
    chk->held += t->cost;
    t->pool = chk->lim.pool;
    if (t->pool != NULL)
        t->pool->held += t->cost;
    t->n_fields = kept;
    t->fixed_len = (uint16_t)fixed;
    t->n_varlen = n_varlen;
    t->options = (uint8_t)options;
    t->lens = xcalloc(kept, sizeof(*t->lens));
    memcpy(t->lens, chk->lens, kept * sizeof(*t->lens));
    g_hash_table_replace(chk->tmpls, tkey(domain, tid), t);
    stats->templates++;
    if (out != NULL) {
        wr16(out, tid);
        wr16(out + 2, kept);
        /* A scope made only of zero-length fields: any field will do as scope. */
        if (options)
            wr16(out + 4, scope_kept ? scope_kept : 1);
        *out_len = opos;
        /* kept for checkpoints: a restarted collector decodes without waiting for a refresh */
        t->raw = xmalloc(opos);
        memcpy(t->raw, out, opos);
        t->raw_len = (uint16_t)opos;
    }
    return pos;
}

/*
 * Walks the records of a data set body for template t.  Returns the bytes
 * of whole records (the rest is padding or a cut record) and counts them.
 */
static size_t
walk_records(const struct tmpl_info *t, const uint8_t *p, size_t avail, uint32_t *records,
             int *cut)
{
    size_t min = (size_t)t->fixed_len + t->n_varlen;
    size_t pos = 0;

    *cut = 0;
    if (t->n_varlen == 0) {
        size_t n = avail / t->fixed_len;

        *records += (uint32_t)n;
        return n * t->fixed_len;
    }
    while (avail - pos >= min) {
        size_t r = pos;

        for (uint16_t i = 0; i < t->n_fields; i++) {
            size_t len = t->lens[i];

            if (len == IE_VARLEN) {
                if (r + 1 > avail)
                    goto cut;
                len = p[r++];
                if (len == 255) {
                    if (r + 2 > avail)
                        goto cut;
                    len = rd16(p + r);
                    r += 2;
                }
            }
            if (r + len > avail)
                goto cut;
            r += len;
        }
        pos = r;
        (*records)++;
    }
    return pos;
cut:
    *cut = 1;
    return pos;
}

/* Leaves lazy mode: out gets the first n bytes of msg, all unchanged so far. */
static void
copy_prefix(uint8_t *out, const uint8_t *msg, size_t n, int *lazy)
{
    if (*lazy) {
        memcpy(out, msg, n);
        *lazy = 0;
    }
}

void
ipfix_check_message(struct ipfix_check *chk, const uint8_t *msg, size_t len,
                    struct ipfix_check_result *res, struct ingest_stats *stats)
{
    uint32_t domain = rd32(msg + 12);
    size_t pos = IPFIX_HDR_LEN;
    size_t opos = IPFIX_HDR_LEN;
    int dirty = 0;
    /*
     * Most messages pass unchanged: out stays unwritten (lazy) until the
     * first set that differs, when the sets before it are copied at once.
     * While lazy, opos equals pos at every set boundary.
     */
    int lazy = 1;
    /*
     * A rewritten message lives until the caller has decoded it, before its
     * next message on this thread: one buffer a thread, not one a sender
     * (a flood of senders would cost 64 KB each).
     */
    static _Thread_local uint8_t out[IPFIX_MSG_MAX + 4];

    memset(res, 0, sizeof(*res));
    /* libfixbuf trusts the header's length: it must be the one we walk. */
    if (rd16(msg + 2) != len)
        dirty = 1;

    while (pos < len) {
        uint16_t set_id, set_len;
        size_t set_start = pos, set_ostart = opos;

        /* 1. the set header */
        if (len - pos < 4) {
            issue(res, pos, "%zu bytes after the last set; ignored", len - pos);
            stats->bad_sets++;
            dirty = 1;
            break;
        }
        set_id = rd16(msg + pos);
        set_len = rd16(msg + pos + 2);
        if (set_len < 4) {
            issue(res, pos, "set %u has length %u (at least 4); rest of the message dropped",
                  set_id, set_len);
            stats->bad_sets++;
            dirty = 1;
            break;
        }
        if (set_len > len - pos) {
            issue(res, pos,
                  "set %u of %u bytes overruns its message (%zu bytes left); rest of the message "
                  "dropped",
                  set_id, set_len, len - pos);
            stats->bad_sets++;
            dirty = 1;
            break;
        }
        pos += set_len;

        if (set_id == SET_TEMPLATE || set_id == SET_OPTIONS_TEMPLATE) {
            copy_prefix(out, msg, set_ostart, &lazy);
            /* 2. template records, rewritten into out */
            size_t tpos = set_start + 4;
            size_t tend = set_start + set_len;
            int set_dirty = 0;

            opos += 4;
            while (tend - tpos >= 4) {
                size_t olen, used;

                used = walk_template(chk, domain, set_id == SET_OPTIONS_TEMPLATE, msg + tpos,
                                     tend - tpos, tpos, out + opos, &olen, res, stats);
                if (used == 0) {
                    stats->bad_sets++;
                    set_dirty = 1;
                    break;
                }
                if (olen != used || memcmp(out + opos, msg + tpos, used) != 0)
                    set_dirty = 1;
                opos += olen;
                tpos += used;
            }
            if (tpos != tend && !set_dirty)
                set_dirty = tend - tpos >= 4; /* up to 3 bytes of padding are fine */
            if (opos == set_ostart + 4) {
                opos = set_ostart; /* nothing left to pass on */
                set_dirty = 1;
            } else {
                wr16(out + set_ostart, set_id);
                wr16(out + set_ostart + 2, (uint16_t)(opos - set_ostart));
            }
            dirty |= set_dirty;
            continue;
        }
        if (set_id < SET_DATA_MIN) {
            copy_prefix(out, msg, set_ostart, &lazy);
            issue(res, set_start, "set id %u is reserved; set dropped", set_id);
            stats->bad_sets++;
            dirty = 1;
            continue;
        }
        /* 3. data set */
        {
            const struct tmpl_info *t = tmpl_lookup(chk, domain, set_id);
            size_t body = set_len - 4u, used;
            uint32_t before = res->data_records;
            int cut;

            if (t == NULL) {
                copy_prefix(out, msg, set_ostart, &lazy);
                issue(res, set_start,
                      "data set for unknown template %u (domain %u), %u bytes skipped",
                      set_id, domain, set_len);
                stats->unknown_template_sets++;
                dirty = 1;
                continue;
            }
            used = walk_records(t, msg + set_start + 4, body, &res->data_records, &cut);
            if (cut) {
                issue(res, set_start + 4 + used,
                      "record %u of data set %u is cut short; rest of the set dropped",
                      res->data_records - before + 1, set_id);
                stats->bad_records++;
            }
            if (lazy && used == body) {
                opos += 4 + used;
                continue;
            }
            copy_prefix(out, msg, set_ostart, &lazy);
            if (used == 0) {
                dirty = 1;
                continue;
            }
            memcpy(out + opos, msg + set_start, 4 + used);
            if (used != body) {
                /* Drop trailing padding or the cut record. */
                wr16(out + opos + 2, (uint16_t)(4 + used));
                dirty = 1;
            }
            opos += 4 + used;
        }
    }

    if (!dirty) {
        res->msg = msg;
        res->len = len;
        return;
    }
    copy_prefix(out, msg, opos, &lazy);
    if (opos == IPFIX_HDR_LEN) {
        res->msg = NULL;
        res->len = 0;
        return;
    }
    wr16(out + 2, (uint16_t)opos);
    res->msg = out;
    res->len = opos;
}

/* ---- templates out, for checkpoints ---- */

struct held {
    uint32_t domain;
    uint16_t tid;
    const struct tmpl_info *t;
};

static void
collect_held(gpointer key, gpointer value, gpointer user)
{
    GArray *a = user;
    uint64_t k = (uint64_t)*(gint64 *)key;
    struct held h = {(uint32_t)(k >> 16), (uint16_t)k, value};

    if (h.t->raw != NULL)
        g_array_append_val(a, h);
}

static gint
held_cmp(gconstpointer a, gconstpointer b)
{
    const struct held *x = a, *y = b;

    if (x->domain != y->domain)
        return x->domain < y->domain ? -1 : 1;
    if (x->t->options != y->t->options)
        return x->t->options < y->t->options ? -1 : 1;
    return x->tid < y->tid ? -1 : x->tid > y->tid;
}

/* Ends the open set and the message, and hands it to fn. */
static void
emit(uint8_t *msg, size_t *len, size_t *set_at, ipfix_check_msg_fn fn, void *ctx)
{
    if (*set_at != 0)
        wr16(msg + *set_at + 2, (uint16_t)(*len - *set_at));
    *set_at = 0;
    if (*len > IPFIX_HDR_LEN) {
        wr16(msg + 2, (uint16_t)*len);
        fn(ctx, msg, *len);
    }
    *len = IPFIX_HDR_LEN;
}

size_t
ipfix_check_templates(const struct ipfix_check *chk, ipfix_check_msg_fn fn, void *ctx)
{
    GArray *a = g_array_new(FALSE, FALSE, sizeof(struct held));
    uint8_t *msg = xmalloc(IPFIX_MSG_MAX);
    size_t len = IPFIX_HDR_LEN, set_at = 0, n;
    uint32_t domain = 0;
    int set_options = -1;

    g_hash_table_foreach(chk->tmpls, collect_held, a);
    g_array_sort(a, held_cmp);
    memset(msg, 0, IPFIX_HDR_LEN);
    wr16(msg, 10);
    for (guint i = 0; i < a->len; i++) {
        const struct held *h = &g_array_index(a, struct held, i);

        if (len > IPFIX_HDR_LEN &&
            (h->domain != domain || len + 4 + h->t->raw_len > IPFIX_MSG_MAX)) {
            emit(msg, &len, &set_at, fn, ctx);
            set_options = -1;
        }
        domain = h->domain;
        msg[12] = (uint8_t)(domain >> 24);
        msg[13] = (uint8_t)(domain >> 16);
        msg[14] = (uint8_t)(domain >> 8);
        msg[15] = (uint8_t)domain;
        if (set_options != h->t->options) {
            if (set_at != 0)
                wr16(msg + set_at + 2, (uint16_t)(len - set_at));
            set_at = len;
            wr16(msg + len, h->t->options ? SET_OPTIONS_TEMPLATE : SET_TEMPLATE);
            len += 4;
            set_options = h->t->options;
        }
        memcpy(msg + len, h->t->raw, h->t->raw_len);
        len += h->t->raw_len;
    }
    emit(msg, &len, &set_at, fn, ctx);
    n = a->len;
    g_array_free(a, TRUE);
    free(msg);
    return n;
}

size_t
ipfix_check_count(const struct ipfix_check *chk)
{
    return g_hash_table_size(chk->tmpls);
}
