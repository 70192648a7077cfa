/*
 * Slots judged from the records of a whole ClickHouse cluster (see
 * ds/cluster.h and docs/CLICKHOUSE.md section 5).
 *
 * A slot is made in two passes, because only the groups that can be shown
 * keep a detail and which they are depends on every group's count:
 *
 *   1. counts: SELECT the raw fields the keys need, sum(packets), count()
 *      ... GROUP BY those fields; each row is made a flow and packed with
 *      key_extract(), rows that pack to one key ("no port" for ICMP) added
 *      together.  Attribution spread: the flows inside the slot so; the
 *      flows that cross its bounds are read one by one and divided by
 *      agg_split(), as the aggregation divides them.
 *   2. details: the records of the groups above the lowest threshold (the
 *      rows of pass 1 whose key is shown, as an IN list) counted into the
 *      slot with agg_slot_add(), then every other group with its count.
 *
 * Records inserted between the two passes would give a shown group a
 * detail that disagrees with its count: the slot is made again (at most
 * SLOT_TRIES times).
 */
#include <glib.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/agg.h"
#include "ds/clickhouse.h"
#include "ds/cluster.h"
#include "ds/hash.h"
#include "ds/log.h"
#include "ds/slotcal.h"
#include "ds/xmem.h"

#define SLOT_TRIES 3
#define EXPORTER_MAX 128        /* bytes of an exporter name: "address/domain" */
#define SPAN_MAX_MS ((int64_t)7 * 86400 * 1000)   /* longest flow looked for before a slot */

/* The raw fields a key can need, as columns of the counts query. */
enum field {
    F_PROTO,
    F_SPORT,
    F_DPORT,
    F_FLAGS,
    F_ITYPE,
    F_ICODE,
    F_IPV,
    F_SRC_HI,
    F_SRC_LO,
    F_DST_HI,
    F_DST_LO,
    F_EXPORTER,
    F_COUNT
};

/* A column of a RowBinary answer: 1, 2, 4 or 8 bytes little-endian, or 0: a String. */
struct rb_row {
    uint64_t v[24];
    const char *s[24];
    size_t slen[24];
};

typedef int (*rb_row_fn)(void *ctx, const struct rb_row *row);

/* A RowBinary answer cut into rows of known column widths, piece by piece. */
struct rb_reader {
    const uint8_t *width;       /* n_col of them */
    size_t n_col;
    rb_row_fn fn;
    void *ctx;
    uint8_t *buf;               /* owned: the part of a row not yet whole */
    size_t len, cap;
    uint64_t rows;
    bool bad;
};

/* One row at p (n bytes): its length, 0 if not whole yet, -1 if it cannot be a row. */
static long
rb_parse(struct rb_reader *r, const uint8_t *p, size_t n, struct rb_row *row)
{
    size_t at = 0;

    for (size_t c = 0; c < r->n_col; c++) {
        if (r->width[c] == 0) {
            uint64_t len = 0;
            unsigned shift = 0;

            for (;;) {
                if (at >= n)
                    return 0;
                len |= (uint64_t)(p[at] & 0x7f) << shift;
                shift += 7;
                if ((p[at++] & 0x80) == 0)
                    break;
                if (shift > 28)
                    return -1;
            }
            if (len > EXPORTER_MAX)
                return -1;
            if (n - at < len)
                return 0;
            row->s[c] = (const char *)p + at;
            row->slen[c] = (size_t)len;
            at += (size_t)len;
        } else {
            uint64_t v = 0;

            if (n - at < r->width[c])
                return 0;
            for (unsigned b = r->width[c]; b-- > 0;)
                v = v << 8 | p[at + b];
            row->v[c] = v;
            at += r->width[c];
        }
    }
    return (long)at;
}

static int
rb_take(void *ctx, const uint8_t *p, size_t n)
{
    struct rb_reader *r = ctx;
    struct rb_row row;
    size_t at = 0;

    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2;
        r->buf = xreallocarray(r->buf, r->cap, 1);
    }
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    for (;;) {
        long used = rb_parse(r, r->buf + at, r->len - at, &row);

        if (used < 0) {
            r->bad = true;
            return 1;
        }
        if (used == 0)
            break;
        at += (size_t)used;
        r->rows++;
        if (r->fn(r->ctx, &row) != 0)
            return 1;
    }
    memmove(r->buf, r->buf + at, r->len - at);
    r->len -= at;
    return 0;
}

/* ---- the judging run ----------------------------------------------------------- */

struct judge {
    const struct ds_cfg *cfg;
    struct ch_client *c;
    struct cluster_judge_stats *stats;
    const char *final;          /* " FINAL" when a batch may be in twice, else "" */
    GHashTable *exporters;      /* name -> struct exporter * (owned) */
    uint32_t n_exporters;
};

/* One analysis. */
struct an_job {
    struct judge *j;
    const struct cfg_analysis *a;
    const struct key_layout *layout;
    bool use[F_COUNT];
    uint8_t width[F_COUNT + 2];
    int col[F_COUNT];           /* its column in the counts query, -1: not asked */
    size_t n_col;
    uint8_t src_v4, src_v6, dst_v4, dst_v6;     /* prefix lengths; 128/32: whole */
};

/* A row of the counts: its fields as asked, its key, packets and flows. */
struct count_row {
    uint64_t v[F_COUNT];
    char exporter[EXPORTER_MAX + 1];
    uint64_t packets, flows;
    uint8_t key[KEY_BYTES_MAX];
};

/* A slot being made. */
struct slot_job {
    struct an_job *aj;
    int64_t start, end;
    struct count_row *rows;     /* owned */
    size_t n_rows, cap_rows;
    struct agg_slot *counts;    /* pass 1 */
    struct agg_slot *slot;      /* pass 2 */
};

static const struct exporter *
exporter_of(struct judge *j, const char *s, size_t n)
{
    char name[EXPORTER_MAX + 1], *slash;
    struct exporter *e;

    if (n == 0)
        return NULL;
    memcpy(name, s, n);
    name[n] = '\0';
    e = g_hash_table_lookup(j->exporters, name);
    if (e != NULL)
        return e;
    e = xcalloc(1, sizeof(*e));
    slash = strrchr(name, '/');
    if (slash != NULL) {
        *slash = '\0';
        if (addr_parse(name, &e->addr) != 0)
            memset(&e->addr, 0, sizeof(e->addr));
        e->odid = (uint32_t)strtoul(slash + 1, NULL, 10);
        *slash = '/';
    }
    e->id = j->n_exporters++;
    g_hash_table_insert(j->exporters, xstrdup(name), e);
    return e;
}

static void
addr_of(struct addr *a, uint64_t hi, uint64_t lo)
{
    for (int i = 0; i < 8; i++) {
        a->b[7 - i] = (uint8_t)(hi >> (8 * i));
        a->b[15 - i] = (uint8_t)(lo >> (8 * i));
    }
}

/* The masks of an address column for prefixes v4 and v6 long. */
static void
masks(unsigned v4, unsigned v6, uint64_t *m4, uint64_t *m6hi, uint64_t *m6lo)
{
    *m4 = 0xffffffff00000000ULL | (v4 == 0 ? 0 : (uint64_t)(0xffffffffu << (32 - v4)));
    if (v4 >= 32)
        *m4 = ~0ULL;
    *m6hi = v6 >= 64 ? ~0ULL : v6 == 0 ? 0 : ~0ULL << (64 - v6);
    *m6lo = v6 <= 64 ? 0 : v6 >= 128 ? ~0ULL : ~0ULL << (128 - v6);
}

/* The SQL of field f (its column of the counts query). */
static void
field_sql(const struct an_job *aj, enum field f, struct strbuf *q)
{
    static const char *const plain[] = {
        [F_PROTO] = "proto", [F_SPORT] = "sport", [F_DPORT] = "dport",
        [F_FLAGS] = "tcp_flags", [F_ITYPE] = "icmp_type", [F_ICODE] = "icmp_code",
        [F_EXPORTER] = "exporter",
    };
    const char *side = f == F_SRC_HI || f == F_SRC_LO ? "src" : "dst";
    unsigned v4 = side[0] == 's' ? aj->src_v4 : aj->dst_v4;
    unsigned v6 = side[0] == 's' ? aj->src_v6 : aj->dst_v6;
    uint64_t m4, m6hi, m6lo;

    switch (f) {
    case F_IPV:
        strbuf_append(q, "toUInt8(if(dst_hi = 0 AND bitShiftRight(dst_lo, 32) = 65535, 4, 6))");
        return;
    case F_SRC_HI:
    case F_DST_HI:
        masks(v4, v6, &m4, &m6hi, &m6lo);
        if (v6 >= 128)
            strbuf_printf(q, "%s_hi", side);
        else
            strbuf_printf(q, "toUInt64(bitAnd(%s_hi, %" PRIu64 "))", side, m6hi);
        return;
    case F_SRC_LO:
    case F_DST_LO:
        masks(v4, v6, &m4, &m6hi, &m6lo);
        if (v4 >= 32 && v6 >= 128)
            strbuf_printf(q, "%s_lo", side);
        else
            strbuf_printf(q, "toUInt64(if(%s_hi = 0 AND bitShiftRight(%s_lo, 32) = 65535, "
                          "bitAnd(%s_lo, %" PRIu64 "), bitAnd(%s_lo, %" PRIu64 ")))",
                          side, side, side, m4, side, m6lo);
        return;
    default:
        strbuf_append(q, plain[f]);
    }
}

static void
an_job_init(struct an_job *aj, struct judge *j, const struct cfg_analysis *a,
            const struct key_layout *layout)
{
    static const uint8_t width[F_COUNT] = {
        [F_PROTO] = 1, [F_SPORT] = 2, [F_DPORT] = 2, [F_FLAGS] = 1, [F_ITYPE] = 1,
        [F_ICODE] = 1, [F_IPV] = 1, [F_SRC_HI] = 8, [F_SRC_LO] = 8, [F_DST_HI] = 8,
        [F_DST_LO] = 8, [F_EXPORTER] = 0,
    };
    bool src_whole = false, dst_whole = false;

    memset(aj, 0, sizeof(*aj));
    aj->j = j;
    aj->a = a;
    aj->layout = layout;
    for (size_t i = 0; i < layout->n; i++) {
        const struct key_spec *k = &layout->keys[i];

        switch (k->kind) {
        case KEY_DST_PORT:
            aj->use[F_PROTO] = aj->use[F_DPORT] = true;
            break;
        case KEY_SRC_PORT:
            aj->use[F_PROTO] = aj->use[F_SPORT] = true;
            break;
        case KEY_TCP_FLAGS:
            aj->use[F_PROTO] = aj->use[F_FLAGS] = true;
            break;
        case KEY_ICMP_TYPE:
            aj->use[F_PROTO] = aj->use[F_ITYPE] = true;
            break;
        case KEY_ICMP_CODE:
            aj->use[F_PROTO] = aj->use[F_ICODE] = true;
            break;
        case KEY_TYPE:
            aj->use[F_PROTO] = aj->use[F_FLAGS] = aj->use[F_ITYPE] = true;
            break;
        case KEY_SRC_ADDR:
            aj->use[F_SRC_HI] = aj->use[F_SRC_LO] = src_whole = true;
            break;
        case KEY_DST_ADDR:
            aj->use[F_DST_HI] = aj->use[F_DST_LO] = dst_whole = true;
            break;
        /* nested prefixes: the longest serves them all (key_extract masks again) */
        case KEY_SRC_NET:
            aj->use[F_SRC_HI] = aj->use[F_SRC_LO] = true;
            aj->src_v4 = k->v4_len > aj->src_v4 ? k->v4_len : aj->src_v4;
            aj->src_v6 = k->v6_len > aj->src_v6 ? k->v6_len : aj->src_v6;
            break;
        case KEY_DST_NET:
            aj->use[F_DST_HI] = aj->use[F_DST_LO] = true;
            aj->dst_v4 = k->v4_len > aj->dst_v4 ? k->v4_len : aj->dst_v4;
            aj->dst_v6 = k->v6_len > aj->dst_v6 ? k->v6_len : aj->dst_v6;
            break;
        case KEY_EXPORTER:
            aj->use[F_EXPORTER] = true;
            break;
        case KEY_IP_VERSION:
            aj->use[F_IPV] = true;
            break;
        case KEY_PROTO:
            aj->use[F_PROTO] = true;
            break;
        }
    }
    if (src_whole) {
        aj->src_v4 = 32;
        aj->src_v6 = 128;
    }
    if (dst_whole) {
        aj->dst_v4 = 32;
        aj->dst_v6 = 128;
    }
    for (int f = 0; f < F_COUNT; f++) {
        aj->col[f] = aj->use[f] ? (int)aj->n_col : -1;
        if (aj->use[f])
            aj->width[aj->n_col++] = width[f];
    }
    /* sum(packets), count() */
    aj->width[aj->n_col] = 8;
    aj->width[aj->n_col + 1] = 8;
}

/* The fields of aj's counts query, comma separated. */
static void
fields_sql(const struct an_job *aj, struct strbuf *q)
{
    bool first = true;

    for (int f = 0; f < F_COUNT; f++) {
        if (!aj->use[f])
            continue;
        if (!first)
            strbuf_append(q, ", ");
        field_sql(aj, (enum field)f, q);
        first = false;
    }
}

/*
 * A run of slots of one length: slot i is [first + i*len, first + (i+1)*len).
 * Its slots are counted by the same queries, each row or record going to
 * its slot by intDiv(start_ms - first, len): a query costs the cluster some
 * 10 ms whatever it reads, and a day of hourly slots is then 2 or 3
 * queries, not 48 to 72.
 */
struct batch {
    struct an_job *aj;
    int64_t first, len;         /* Unix seconds */
    size_t n;
    struct slot_job *jobs;      /* n, owned */
    struct flow *cross;         /* spread: flows crossing a slot's bounds (owned) */
    size_t n_cross, cap_cross;
    struct slotcal cal;
};

/* Slots per batch: their group counts are in memory together. */
#define BATCH_SLOTS 24

/* The batch's slot of a row: "intDiv(start_ms - first, len)" in SQL. */
static void
slot_sql(const struct batch *b, struct strbuf *q)
{
    strbuf_printf(q, "toInt64(intDiv(start_ms - toInt64(%" PRId64 "), toInt64(%" PRId64 ")))",
                  b->first * 1000, b->len * 1000);
}

/* The batch's range, and for spread the flows wholly inside their slot. */
static void
range_sql(const struct batch *b, struct strbuf *q)
{
    strbuf_printf(q, "start_ms >= %" PRId64 " AND start_ms < %" PRId64, b->first * 1000,
                  (b->first + (int64_t)b->n * b->len) * 1000);
    if (b->aj->a->attribution == CFG_ATTR_SPREAD) {
        strbuf_append(q, " AND end_ms <= toInt64(");
        strbuf_printf(q, "%" PRId64 ") + (", b->first * 1000);
        slot_sql(b, q);
        strbuf_printf(q, " + 1) * %" PRId64, b->len * 1000);
    }
}

/* The job of slot number k of the answer, NULL if not one of the batch's. */
static struct slot_job *
job_at(struct batch *b, uint64_t k)
{
    return k < b->n ? &b->jobs[k] : NULL;
}

/* The flow a counts row stands for: its key's fields, nothing else. */
static void
flow_of_counts(const struct an_job *aj, const struct count_row *r, struct flow *f)
{
    memset(f, 0, sizeof(*f));
    f->proto = (uint8_t)r->v[F_PROTO];
    f->src_port = (uint16_t)r->v[F_SPORT];
    f->dst_port = (uint16_t)r->v[F_DPORT];
    f->tcp_flags = (uint8_t)r->v[F_FLAGS];
    f->icmp_type = (uint8_t)r->v[F_ITYPE];
    f->icmp_code = (uint8_t)r->v[F_ICODE];
    f->ip_version = (uint8_t)r->v[F_IPV];
    addr_of(&f->src, r->v[F_SRC_HI], r->v[F_SRC_LO]);
    addr_of(&f->dst, r->v[F_DST_HI], r->v[F_DST_LO]);
    if (aj->use[F_EXPORTER])
        f->exporter = exporter_of(aj->j, r->exporter, strlen(r->exporter));
}

/* A row of the counts: its slot (column 0), the fields, sum(packets), count(). */
static int
on_count(void *ctx, const struct rb_row *row)
{
    struct batch *b = ctx;
    const struct an_job *aj = b->aj;
    struct slot_job *sj = job_at(b, row->v[0]);
    struct count_row *r;
    struct agg_group *g;
    struct flow f;

    if (sj == NULL)
        return 1;
    if (sj->n_rows == sj->cap_rows) {
        sj->cap_rows = sj->cap_rows ? 2 * sj->cap_rows : 256;
        sj->rows = xreallocarray(sj->rows, sj->cap_rows, sizeof(*sj->rows));
    }
    r = &sj->rows[sj->n_rows++];
    memset(r->v, 0, sizeof(r->v));
    r->exporter[0] = '\0';
    for (int fi = 0; fi < F_COUNT; fi++) {
        int c = aj->col[fi] + 1;

        if (aj->col[fi] < 0)
            continue;
        if (fi == F_EXPORTER) {
            memcpy(r->exporter, row->s[c], row->slen[c]);
            r->exporter[row->slen[c]] = '\0';
        } else {
            r->v[fi] = row->v[c];
        }
    }
    r->packets = row->v[aj->n_col + 1];
    r->flows = row->v[aj->n_col + 2];
    flow_of_counts(aj, r, &f);
    key_extract(aj->layout, &f, r->key);
    g = agg_slot_group_get(sj->counts, r->key, false);
    g->packets += r->packets;
    g->flows += r->flows;
    sj->counts->packets += r->packets;
    sj->counts->flows += r->flows;
    return 0;
}

/* The records' columns, as read back one by one. */
#define RECORD_COLUMNS                                                                       \
    "start_ms, end_ms, src_hi, src_lo, dst_hi, dst_lo, sport, dport, proto, tcp_flags, "    \
    "icmp_type, icmp_code, packets, sampling, exporter"
static const uint8_t record_width[] = {8, 8, 8, 8, 8, 8, 2, 2, 1, 1, 1, 1, 8, 4, 0};

static void
flow_of_record(struct judge *j, const struct rb_row *row, struct flow *f)
{
    memset(f, 0, sizeof(*f));
    f->start_ms = (int64_t)row->v[0];
    f->end_ms = (int64_t)row->v[1];
    addr_of(&f->src, row->v[2], row->v[3]);
    addr_of(&f->dst, row->v[4], row->v[5]);
    f->src_value = addr_value(&f->src);
    f->dst_value = addr_value(&f->dst);
    f->src_port = (uint16_t)row->v[6];
    f->dst_port = (uint16_t)row->v[7];
    f->proto = (uint8_t)row->v[8];
    f->tcp_flags = (uint8_t)row->v[9];
    f->icmp_type = (uint8_t)row->v[10];
    f->icmp_code = (uint8_t)row->v[11];
    f->packets = row->v[12];
    f->sampling = (uint32_t)row->v[13];
    f->ip_version = addr_is_v4(&f->dst) ? 4 : 6;
    f->exporter = exporter_of(j, row->s[14], row->slen[14]);
}

static int
on_cross(void *ctx, const struct rb_row *row)
{
    struct batch *b = ctx;

    if (b->n_cross == b->cap_cross) {
        b->cap_cross = b->cap_cross ? 2 * b->cap_cross : 64;
        b->cross = xreallocarray(b->cross, b->cap_cross, sizeof(*b->cross));
    }
    flow_of_record(b->aj->j, row, &b->cross[b->n_cross++]);
    return 0;
}

/* Is group g of the counts above the lowest threshold (it keeps a detail)? */
static bool
shown(const struct an_job *aj, const struct agg_slot *counts, const struct agg_group *g)
{
    const struct decimal *th = cfg_lowest_threshold(aj->a);

    return g != NULL && (unsigned __int128)g->packets * 100u * (uint64_t)th->den *
                                AGG_TRIM_MARGIN >
                            (unsigned __int128)counts->packets * (uint64_t)th->num;
}

/* A part of a crossing flow, for the batch's slot it falls in, if any. */
struct part_ctx {
    struct batch *b;
    const struct flow *f;
    bool details;               /* pass 2: agg_slot_add() if shown; else pass 1's counts */
    const uint8_t *key;
};

static void
on_part(void *ctx, int64_t start, int64_t end, uint64_t packets)
{
    struct part_ctx *pc = ctx;
    struct slot_job *sj;
    struct agg_group *g;

    (void)end;
    if (start < pc->b->first || (start - pc->b->first) % pc->b->len != 0)
        return;
    sj = job_at(pc->b, (uint64_t)((start - pc->b->first) / pc->b->len));
    if (sj == NULL || sj->start != start)
        return;
    if (pc->details) {
        if (shown(pc->b->aj, sj->counts, agg_slot_group_find(sj->counts, pc->key)))
            agg_slot_add(sj->slot, pc->f, packets);
        return;
    }
    g = agg_slot_group_get(sj->counts, pc->key, false);
    g->packets += packets;
    g->flows++;
    sj->counts->packets += packets;
    sj->counts->flows++;
}

static int
on_record(void *ctx, const struct rb_row *row)
{
    struct batch *b = ctx;
    struct slot_job *sj;
    struct flow f;

    flow_of_record(b->aj->j, row, &f);
    if (f.start_ms < b->first * 1000)
        return 1;
    sj = job_at(b, (uint64_t)((f.start_ms - b->first * 1000) / (b->len * 1000)));
    if (sj == NULL || sj->slot == NULL)
        return 1;
    agg_slot_add(sj->slot, &f, f.packets);
    return 0;
}

/* Runs sql, its RowBinary answer of columns width[0..n) to fn. */
static enum ds_rc
select_rows(struct judge *j, const char *sql, const uint8_t *width, size_t n, rb_row_fn fn,
            void *ctx, struct ds_error *err)
{
    struct rb_reader r = {width, n, fn, ctx, NULL, 0, 0, 0, false};
    enum ds_rc rc;

    j->stats->queries++;
    rc = ch_select(j->c, sql, rb_take, &r, err);
    if (rc == DS_OK && r.len != 0)
        rc = ds_error_set(err, DS_ERR_DB, "ClickHouse at %s: an answer that is not the rows "
                          "asked for (%zu bytes left over)", ch_client_server(j->c), r.len);
    else if (r.bad || (rc != DS_OK && r.rows > 0))
        rc = ds_error_set(err, DS_ERR_DB, "ClickHouse at %s: an answer that is not the rows "
                          "asked for", ch_client_server(j->c));
    j->stats->rows += r.rows;
    free(r.buf);
    return rc;
}

/* One value of field f of row r, as SQL. */
static void
value_sql(enum field f, const struct count_row *r, struct strbuf *q)
{
    if (f != F_EXPORTER) {
        strbuf_printf(q, "%" PRIu64, r->v[f]);
        return;
    }
    strbuf_appendc(q, '\'');
    for (const char *p = r->exporter; *p; p++) {
        if (*p == '\'' || *p == '\\')
            strbuf_appendc(q, '\\');
        strbuf_appendc(q, *p);
    }
    strbuf_appendc(q, '\'');
}

static void
batch_reset(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        agg_slot_free(b->jobs[i].counts);
        agg_slot_free(b->jobs[i].slot);
        b->jobs[i].counts = b->jobs[i].slot = NULL;
        b->jobs[i].n_rows = 0;
    }
    b->n_cross = 0;
}

/*
 * Pass 2 for the slots of b that have records: their shown groups' details,
 * then every other group with its count.  *again if a shown group's records
 * do not add up to its count (records came between the passes).
 */
static enum ds_rc
details(struct batch *b, bool *again, struct ds_error *err)
{
    struct an_job *aj = b->aj;
    struct judge *j = aj->j;
    const struct ds_cfg *cfg = j->cfg;
    struct strbuf q = STRBUF_INIT;
    bool any_shown = false;
    enum ds_rc rc = DS_OK;

    strbuf_append(&q, "SELECT " RECORD_COLUMNS " FROM ");
    strbuf_printf(&q, "%s.records%s WHERE ", cfg->clickhouse.database, j->final);
    range_sql(b, &q);
    strbuf_append(&q, " AND (");
    slot_sql(b, &q);
    strbuf_append(&q, ", ");
    fields_sql(aj, &q);
    strbuf_append(&q, ") IN (");
    for (size_t k = 0; k < b->n; k++) {
        struct slot_job *sj = &b->jobs[k];

        if (sj->counts->flows == 0)
            continue;
        sj->slot = agg_slot_new(aj->layout, sj->start, sj->end);
        sj->slot->drilldown = &cfg->drilldown;
        sj->slot->max_groups = (uint32_t)cfg->limits.groups;
        for (size_t i = 0; i < sj->n_rows; i++) {
            const struct count_row *r = &sj->rows[i];

            if (!shown(aj, sj->counts, agg_slot_group_find(sj->counts, r->key)))
                continue;
            strbuf_printf(&q, "%s(%zu", any_shown ? ", " : "", k);
            for (int f = 0; f < F_COUNT; f++) {
                if (!aj->use[f])
                    continue;
                strbuf_append(&q, ", ");
                value_sql((enum field)f, r, &q);
            }
            strbuf_appendc(&q, ')');
            any_shown = true;
        }
    }
    strbuf_append(&q, ") ORDER BY start_ms, node, batch, seq FORMAT RowBinary");
    if (any_shown)
        rc = select_rows(j, strbuf_str(&q), record_width, G_N_ELEMENTS(record_width), on_record,
                         b, err);
    strbuf_fini(&q);
    for (size_t i = 0; rc == DS_OK && i < b->n_cross; i++) {
        uint8_t key[KEY_BYTES_MAX];
        struct part_ctx pc = {b, &b->cross[i], true, key};

        key_extract(aj->layout, &b->cross[i], key);
        agg_split(&b->cal, &b->cross[i], on_part, &pc);
    }
    for (size_t k = 0; rc == DS_OK && k < b->n; k++) {
        struct slot_job *sj = &b->jobs[k];

        if (sj->slot == NULL)
            continue;
        for (uint32_t i = 0; i < sj->counts->n_groups; i++) {
            const struct agg_group *cg = agg_slot_group(sj->counts, i);
            struct agg_group *g = agg_slot_group_find(sj->slot, cg->key);

            if (shown(aj, sj->counts, cg)) {
                if (g == NULL || g->packets != cg->packets || g->flows != cg->flows)
                    *again = true;
                continue;
            }
            if (g == NULL)
                g = agg_slot_group_get(sj->slot, cg->key, false);
            if (g == NULL) {
                agg_slot_fold(sj->slot, cg->flows, cg->packets);
                continue;
            }
            g->packets = cg->packets;
            g->flows = cg->flows;
        }
        sj->slot->packets = sj->counts->packets;
        sj->slot->flows = sj->counts->flows;
        sj->slot->complete = true;
    }
    return rc;
}

/*
 * Makes the slots of b from the cluster (a job's slot stays NULL if it has
 * no records); *again if records came between the passes.
 */
static enum ds_rc
make_batch(struct batch *b, int64_t span_ms, bool *again, struct ds_error *err)
{
    struct an_job *aj = b->aj;
    struct judge *j = aj->j;
    const char *db = j->cfg->clickhouse.database;
    uint8_t width[F_COUNT + 3];
    struct strbuf q = STRBUF_INIT;
    bool any = false;
    enum ds_rc rc;

    *again = false;
    for (size_t k = 0; k < b->n; k++)
        b->jobs[k].counts = agg_slot_new(aj->layout, b->jobs[k].start, b->jobs[k].end);
    /* 1. the counts */
    width[0] = 8;
    memcpy(width + 1, aj->width, aj->n_col + 2);
    strbuf_append(&q, "SELECT ");
    slot_sql(b, &q);
    strbuf_append(&q, ", ");
    fields_sql(aj, &q);
    strbuf_printf(&q, ", toUInt64(sum(packets)), toUInt64(count()) FROM %s.records%s WHERE ", db,
                  j->final);
    range_sql(b, &q);
    strbuf_append(&q, " GROUP BY ");
    slot_sql(b, &q);
    strbuf_append(&q, ", ");
    fields_sql(aj, &q);
    strbuf_append(&q, " FORMAT RowBinary");
    rc = select_rows(j, strbuf_str(&q), width, aj->n_col + 3, on_count, b, err);
    if (rc == DS_OK && aj->a->attribution == CFG_ATTR_SPREAD) {
        int64_t first = b->first * 1000, last = (b->first + (int64_t)b->n * b->len) * 1000;

        strbuf_reset(&q);
        strbuf_printf(&q, "SELECT " RECORD_COLUMNS " FROM %s.records%s WHERE start_ms >= %" PRId64
                      " AND start_ms < %" PRId64 " AND end_ms > %" PRId64 " AND NOT (start_ms >= "
                      "%" PRId64 " AND end_ms <= toInt64(%" PRId64 ") + (",
                      db, j->final, first - span_ms, last, first, first, first);
        slot_sql(b, &q);
        strbuf_printf(&q, " + 1) * %" PRId64 ") ORDER BY start_ms, node, batch, seq "
                      "FORMAT RowBinary", b->len * 1000);
        rc = select_rows(j, strbuf_str(&q), record_width, G_N_ELEMENTS(record_width), on_cross,
                         b, err);
        for (size_t i = 0; rc == DS_OK && i < b->n_cross; i++) {
            uint8_t key[KEY_BYTES_MAX];
            struct part_ctx pc = {b, &b->cross[i], false, key};

            key_extract(aj->layout, &b->cross[i], key);
            agg_split(&b->cal, &b->cross[i], on_part, &pc);
        }
    }
    strbuf_fini(&q);
    for (size_t k = 0; k < b->n; k++)
        any |= b->jobs[k].counts->flows > 0;
    if (rc != DS_OK || !any)
        return rc;
    /* 2. the details of the groups that can be shown, from their records */
    return details(b, again, err);
}

/* Counts, judges and replaces the slots of b, in order. */
static enum ds_rc
judge_batch(struct batch *b, struct series *s, int64_t span_ms, struct ds_error *err)
{
    struct judge *j = b->aj->j;
    bool again = false;
    enum ds_rc rc;
    int tries = 0;

    do {
        batch_reset(b);
        rc = make_batch(b, span_ms, &again, err);
        if (rc == DS_OK && again)
            j->stats->retried++;
    } while (rc == DS_OK && again && ++tries < SLOT_TRIES);
    if (rc == DS_OK && again)
        return ds_error_set(err, DS_ERR_DB, "%s: slots from %" PRId64 ": records kept coming "
                            "while they were counted (%d tries)", b->aj->a->name, b->first,
                            SLOT_TRIES);
    for (size_t k = 0; rc == DS_OK && k < b->n; k++) {
        if (b->jobs[k].slot == NULL)
            continue;
        series_replace_slot(s, b->jobs[k].slot);
        j->stats->slots++;
    }
    return rc;
}

static int
on_span(void *ctx, const struct rb_row *row)
{
    int64_t *v = ctx;

    *v = (int64_t)row->v[0];
    return 0;
}

/* Are batches recorded as perhaps sent twice in [from, to)?  Then queries say FINAL. */
static enum ds_rc
repeats_in(struct judge *j, int64_t from, int64_t to, bool *any, struct ds_error *err)
{
    struct strbuf q = STRBUF_INIT, out = STRBUF_INIT;
    enum ds_rc rc;

    strbuf_printf(&q, "SELECT count() FROM %s.repeats WHERE first_ms < %" PRId64
                  " AND last_ms >= %" PRId64,
                  j->cfg->clickhouse.database, to * 1000, from * 1000 - SPAN_MAX_MS);
    j->stats->queries++;
    rc = ch_exec(j->c, strbuf_str(&q), &out, err);
    *any = rc == DS_OK && strtoull(strbuf_str(&out), NULL, 10) > 0;
    strbuf_fini(&q);
    strbuf_fini(&out);
    return rc;
}

static enum ds_rc
judge_analysis(struct judge *j, const struct pipeline_analysis *pa, struct store *st,
               struct ds_error *err)
{
    const struct cfg_analysis *a = pa->cfg;
    struct slot_job jobs[BATCH_SLOTS];
    struct an_job aj;
    struct batch b;
    struct series *s;
    int64_t span_ms = 0, start, end;
    enum ds_rc rc = DS_OK;

    an_job_init(&aj, j, a, &pa->layout);
    memset(&b, 0, sizeof(b));
    memset(jobs, 0, sizeof(jobs));
    b.aj = &aj;
    b.jobs = jobs;
    slotcal_init(&b.cal, a->slot_s);
    if (a->attribution == CFG_ATTR_SPREAD) {
        static const uint8_t width[] = {8};
        struct strbuf q = STRBUF_INIT;

        strbuf_printf(&q, "SELECT toUInt64(greatest(max(end_ms - start_ms), 0)) FROM %s.records "
                      "WHERE start_ms >= %" PRId64 " AND start_ms < %" PRId64 " FORMAT RowBinary",
                      j->cfg->clickhouse.database, pa->from * 1000 - SPAN_MAX_MS, pa->to * 1000);
        rc = select_rows(j, strbuf_str(&q), width, 1, on_span, &span_ms, err);
        strbuf_fini(&q);
        if (rc != DS_OK)
            return rc;
    }
    s = series_new(a, &j->cfg->causes, &pa->layout, pa->store_id, st, 0);
    series_limit_groups(s, (uint32_t)j->cfg->limits.groups);
    slotcal_find(&b.cal, pa->from, &start, &end);
    /* runs of slots of one length (a day that daylight saving makes longer breaks one) */
    while (rc == DS_OK && start < pa->to) {
        b.first = start;
        b.len = end - start;
        b.n = 0;
        while (start < pa->to && b.n < BATCH_SLOTS && end - start == b.len &&
               start == b.first + (int64_t)b.n * b.len) {
            jobs[b.n].aj = &aj;
            jobs[b.n].start = start;
            jobs[b.n].end = end;
            b.n++;
            start = end;
            end = slotcal_next(&b.cal, start);
        }
        rc = judge_batch(&b, s, span_ms, err);
    }
    batch_reset(&b);
    for (size_t k = 0; k < BATCH_SLOTS; k++)
        free(jobs[k].rows);
    free(b.cross);
    if (rc == DS_OK)
        rc = series_commit(s, err);
    series_free(s);
    return rc;
}

static void
exporter_free(gpointer p)
{
    free(p);
}

enum ds_rc
cluster_judge(const struct ds_cfg *cfg, struct store *st, struct ch_client *c,
              const struct pipeline_analysis *an, size_t n, struct cluster_judge_stats *stats,
              struct ds_error *err)
{
    struct judge j = {cfg, c, stats, "", NULL, 0};
    struct timespec t0, t1;
    int64_t from = INT64_MAX, to = INT64_MIN;
    bool repeats = false;
    enum ds_rc rc;

    memset(stats, 0, sizeof(*stats));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; i < n; i++) {
        if (an[i].from >= an[i].to)
            continue;
        from = an[i].from < from ? an[i].from : from;
        to = an[i].to > to ? an[i].to : to;
    }
    if (from >= to)
        return DS_OK;
    rc = repeats_in(&j, from, to, &repeats, err);
    if (rc != DS_OK)
        return rc;
    j.final = repeats ? " FINAL" : "";
    j.exporters = g_hash_table_new_full(g_str_hash, g_str_equal, free, exporter_free);
    rc = store_begin(st, err);
    for (size_t i = 0; rc == DS_OK && i < n; i++)
        if (an[i].from < an[i].to)
            rc = judge_analysis(&j, &an[i], st, err);
    if (rc == DS_OK)
        rc = store_commit(st, err);
    else if (store_in_transaction(st))
        store_rollback(st);
    g_hash_table_destroy(j.exporters);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    stats->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return rc;
}
