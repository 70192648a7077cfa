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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/agg.h"
#include "ds/clickhouse.h"
#include "ds/cluster.h"
#include "ds/explain.h"
#include "ds/hash.h"
#include "ds/json.h"
#include "ds/log.h"
#include "ds/proto.h"
#include "ds/rowbinary.h"
#include "ds/slotcal.h"
#include "ds/stability.h"
#include "ds/store.h"
#include "ds/strbuf.h"
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

/*
 * The rows of the details counted on the shards (store.clickhouse.details
 * shards), one GROUP BY each, told apart by column 0.
 */
enum leg {
    LEG_SRC,        /* a_hi, a_lo: a source address; its packets and flows */
    LEG_DST,        /* a destination address */
    LEG_SPORT,      /* a_lo: a source port (port protocols) */
    LEG_DPORT,      /* a destination port (port protocols) */
    LEG_TYPE,       /* a_lo: proto << 16 | tcp_flags << 8 | icmp_type */
    LEG_MINUTE,     /* a_lo: the minute of the slot the flows start in */
    LEG_SPAN,       /* a_hi, a_lo: the earliest start and latest end (ms) */
    LEG_COUNT
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
    size_t max_string;          /* a longer String is not a row of ours */
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
            if (len > r->max_string)
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
    const struct ch_node *missing;  /* nodes whose rows stopped (live), n_missing of them */
    size_t n_missing;
    char *shard_settings;       /* owned; details counted on the shards: how they may spill */
    bool judging;               /* queries of a judgement: store.clickhouse.query_timeout */
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

/*
 * A row of the counts: its fields as asked (kept for the IN list of pass
 * 2; a slot of a /16 receiving all ports has 200,000 of them, so no more).
 */
struct count_row {
    uint64_t v[F_COUNT];
    const char *exporter;       /* interned in the judge's table; "" for none */
};

/* A slot being made. */
struct slot_job {
    struct an_job *aj;
    int64_t start, end;
    struct count_row *rows;     /* owned */
    size_t n_rows, cap_rows;
    struct agg_slot *counts;    /* pass 1 */
    struct agg_slot *slot;      /* pass 2: its first n_shown groups are the shown ones */
    struct shown_group *shown;  /* owned; n_shown */
    uint32_t n_shown;
};

/* A shown group of pass 2 (the group of that number in the slot). */
struct shown_group {
    uint32_t tuples;            /* (slot, fields) of the counts that pack to its key */
    uint64_t flows[LEG_COUNT];  /* details on the shards: its flows as each leg counted them */
};

/*
 * The exporter named by the n bytes at s ("address/domain"), made once per
 * run and kept in j->exporters, whose key is its name; NULL for none.
 * *name (may be NULL) receives that name, "" for none.
 */
static const struct exporter *
exporter_intern(struct judge *j, const char *s, size_t n, const char **name)
{
    char buf[EXPORTER_MAX + 1], *slash, *key;
    struct exporter *e;
    gpointer k, v;

    if (name != NULL)
        *name = "";
    if (n == 0)
        return NULL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (g_hash_table_lookup_extended(j->exporters, buf, &k, &v)) {
        if (name != NULL)
            *name = k;
        return v;
    }
    e = xcalloc(1, sizeof(*e));
    key = xstrdup(buf);
    slash = strrchr(buf, '/');
    if (slash != NULL) {
        *slash = '\0';
        if (addr_parse(buf, &e->addr) != 0)
            memset(&e->addr, 0, sizeof(e->addr));
        e->odid = (uint32_t)strtoul(slash + 1, NULL, 10);
    }
    e->id = j->n_exporters++;
    g_hash_table_insert(j->exporters, key, e);
    if (name != NULL)
        *name = key;
    return e;
}

static const struct exporter *
exporter_of(struct judge *j, const char *s, size_t n)
{
    return exporter_intern(j, s, n, NULL);
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

/*
 * Slots per batch: their group counts are in memory together, so a batch
 * holds at most BATCH_GROUPS groups as far as the slots before it tell (a
 * /16 receiving all 65,536 ports is judged a slot or two at a time, in
 * some 10 MB).
 */
#define BATCH_SLOTS 24
#define BATCH_GROUPS 131072

/* The batch's slot of a row: "intDiv(start_ms - first, len)" in SQL. */
static void
slot_sql(const struct batch *b, struct strbuf *q)
{
    strbuf_printf(q, "toInt64(intDiv(start_ms - toInt64(%" PRId64 "), toInt64(%" PRId64 ")))",
                  b->first * 1000, b->len * 1000);
}

/* The end (ms) of the batch's slot that holds a row's start_ms, in SQL. */
static void
slot_end_sql(const struct batch *b, struct strbuf *q)
{
    strbuf_printf(q, "toInt64(%" PRId64 ") + (", b->first * 1000);
    slot_sql(b, q);
    strbuf_printf(q, " + 1) * %" PRId64, b->len * 1000);
}

/* Slots k0 to k1 (excluded) of the batch, and for spread the flows wholly inside their slot. */
static void
range_sql_of(const struct batch *b, size_t k0, size_t k1, struct strbuf *q)
{
    strbuf_printf(q, "start_ms >= %" PRId64 " AND start_ms < %" PRId64,
                  (b->first + (int64_t)k0 * b->len) * 1000,
                  (b->first + (int64_t)k1 * b->len) * 1000);
    if (b->aj->a->attribution == CFG_ATTR_SPREAD) {
        strbuf_append(q, " AND end_ms <= ");
        slot_end_sql(b, q);
    }
}

static void
range_sql(const struct batch *b, struct strbuf *q)
{
    range_sql_of(b, 0, b->n, q);
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

/* The key's fields of a row whose first field is column c0, into r. */
static void
fields_of_row(const struct an_job *aj, const struct rb_row *row, int c0, struct count_row *r)
{
    memset(r->v, 0, sizeof(r->v));
    r->exporter = "";
    for (int fi = 0; fi < F_COUNT; fi++) {
        int c = aj->col[fi] + c0;

        if (aj->col[fi] < 0)
            continue;
        if (fi == F_EXPORTER)
            exporter_intern(aj->j, row->s[c], row->slen[c], &r->exporter);
        else
            r->v[fi] = row->v[c];
    }
}

/* A row of the counts: its slot (column 0), the fields, sum(packets), count(). */
static int
on_count(void *ctx, const struct rb_row *row)
{
    struct batch *b = ctx;
    const struct an_job *aj = b->aj;
    struct slot_job *sj = job_at(b, row->v[0]);
    uint8_t key[KEY_BYTES_MAX];
    uint64_t packets, flows;
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
    fields_of_row(aj, row, 1, r);
    packets = row->v[aj->n_col + 1];
    flows = row->v[aj->n_col + 2];
    flow_of_counts(aj, r, &f);
    key_extract(aj->layout, &f, key);
    g = agg_slot_group_get(sj->counts, key, false);
    g->packets += packets;
    g->flows += flows;
    sj->counts->packets += packets;
    sj->counts->flows += flows;
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
    return g != NULL &&
           agg_group_kept(counts, g, cfg_lowest_threshold(aj->a), AGG_TRIM_MARGIN);
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
        if (sj->slot != NULL &&
            shown(pc->b->aj, sj->counts, agg_slot_group_find(sj->counts, pc->key)))
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

/*
 * Runs sql, its RowBinary answer of columns width[0..n) to fn; a String
 * longer than max_string makes it fail.
 */
static enum ds_rc
select_strings(struct judge *j, const char *sql, const char *settings, const uint8_t *width,
               size_t n, size_t max_string, rb_row_fn fn, void *ctx, struct ds_error *err)
{
    struct rb_reader r = {width, n, fn, ctx, NULL, 0, 0, 0, false, max_string};
    enum ds_rc rc;

    j->stats->queries++;
    rc = ch_select(j->c, sql, settings, j->judging, rb_take, &r, err);
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

/* select_strings() of rows whose Strings are exporter names. */
static enum ds_rc
select_rows(struct judge *j, const char *sql, const uint8_t *width, size_t n, rb_row_fn fn,
            void *ctx, struct ds_error *err)
{
    return select_strings(j, sql, NULL, width, n, EXPORTER_MAX, fn, ctx, err);
}

/* An SQL string literal of s. */
static void
quote_sql(const char *s, struct strbuf *q)
{
    strbuf_appendc(q, '\'');
    for (; *s; s++) {
        if (*s == '\'' || *s == '\\')
            strbuf_appendc(q, '\\');
        strbuf_appendc(q, *s);
    }
    strbuf_appendc(q, '\'');
}

/* One value of field f of row r, as SQL. */
static void
value_sql(enum field f, const struct count_row *r, struct strbuf *q)
{
    if (f == F_EXPORTER)
        quote_sql(r->exporter, q);
    else
        strbuf_printf(q, "%" PRIu64, r->v[f]);
}

static void
batch_reset(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        agg_slot_free(b->jobs[i].counts);
        agg_slot_free(b->jobs[i].slot);
        b->jobs[i].counts = b->jobs[i].slot = NULL;
        b->jobs[i].n_rows = 0;
        free(b->jobs[i].shown);
        b->jobs[i].shown = NULL;
        b->jobs[i].n_shown = 0;
    }
    b->n_cross = 0;
}

/* The groups of slot sj that can be shown (they keep a detail). */
static size_t
shown_groups(const struct an_job *aj, const struct slot_job *sj)
{
    size_t n = 0;

    for (uint32_t i = 0; sj->counts != NULL && i < sj->counts->n_groups; i++)
        n += shown(aj, sj->counts, agg_slot_group(sj->counts, i));
    return n;
}

/* ---- pass 2: the shown groups' details ------------------------------------------ */

/* One tuple (slot k, fields of r) of an IN list. */
static void
tuple_sql(const struct an_job *aj, size_t k, const struct count_row *r, struct strbuf *q)
{
    strbuf_printf(q, "%s(%zu", q->len > 0 ? ", " : "", k);
    for (int f = 0; f < F_COUNT; f++) {
        if (!aj->use[f])
            continue;
        strbuf_append(q, ", ");
        value_sql((enum field)f, r, q);
    }
    strbuf_appendc(q, ')');
}

/* "FROM records WHERE <slots k0 to k1> AND (slot, fields) IN (<in>)" */
static void
where_shown_sql(const struct batch *b, size_t k0, size_t k1, const struct strbuf *in,
                struct strbuf *q)
{
    strbuf_printf(q, " FROM %s.records%s WHERE ", b->aj->j->cfg->clickhouse.database,
                  b->aj->j->final);
    range_sql_of(b, k0, k1, q);
    strbuf_append(q, " AND (");
    slot_sql(b, q);
    strbuf_append(q, ", ");
    fields_sql(b->aj, q);
    strbuf_printf(q, ") IN (%s)", strbuf_str(in));
}

/* A row of the details counted on the shards: leg, slot, fields, a_hi, a_lo, packets, flows. */
static int
on_leg(void *ctx, const struct rb_row *row)
{
    struct batch *b = ctx;
    const struct an_job *aj = b->aj;
    struct slot_job *sj = job_at(b, row->v[1]);
    size_t c = aj->n_col + 2;
    uint64_t hi = row->v[c], lo = row->v[c + 1], packets = row->v[c + 2];
    uint8_t key[KEY_BYTES_MAX];
    struct shown_group *sg;
    struct agg_group *g;
    struct count_row r;
    bool whole = false;
    struct flow f;
    struct addr a;
    uint32_t idx;

    if (sj == NULL || sj->slot == NULL || row->v[0] >= LEG_COUNT)
        return 1;
    fields_of_row(aj, row, 2, &r);
    flow_of_counts(aj, &r, &f);
    key_extract(aj->layout, &f, key);
    g = agg_slot_group_get(sj->slot, key, true);
    if (g == NULL) {
        /* limits.groups reached: as agg_slot_add() does; the slot is counted again */
        if (row->v[0] == LEG_SRC)
            agg_slot_fold(sj->slot, row->v[c + 3], packets);
        return 0;
    }
    idx = agg_slot_group_index(sj->slot, g);
    if (idx < sj->n_shown) {
        sg = &sj->shown[idx];
        sg->flows[row->v[0]] += row->v[c + 3];
        /* a key of several tuples ([dst_port]: TCP's and UDP's): a value comes once from each */
        whole = sg->tuples == 1;
    }
    if (row->v[0] == LEG_SRC) {
        g->packets += packets;
        g->flows += row->v[c + 3];
    }
    if (g->detail == NULL) {
        g->flags |= AGG_GROUP_PARTIAL;
        return 0;
    }
    switch ((enum leg)row->v[0]) {
    case LEG_SRC:
        addr_of(&a, hi, lo);
        detail_add_source(g->detail, &a, packets, whole);
        break;
    case LEG_DST:
        addr_of(&a, hi, lo);
        detail_add_destination(g->detail, &a, packets, whole);
        break;
    case LEG_SPORT:
        detail_add_sport(g->detail, (uint16_t)lo, packets, whole);
        break;
    case LEG_DPORT:
        detail_add_dport(g->detail, (uint16_t)lo);
        break;
    case LEG_TYPE:
        detail_add_type(g->detail, (uint8_t)(lo >> 16), (uint8_t)(lo >> 8), (uint8_t)lo,
                        packets);
        break;
    case LEG_MINUTE:
        sj->slot->series_bytes += detail_add_minute(g->detail, lo, packets);
        break;
    case LEG_SPAN:
        detail_add_span(g->detail, (int64_t)hi, (int64_t)lo);
        break;
    case LEG_COUNT:
        break;
    }
    return 0;
}

/* "proto IN (6, 17, ...)": the protocols with ports, as proto_has_ports() says. */
static void
port_protos_sql(struct strbuf *q)
{
    bool first = true;

    strbuf_append(q, "proto IN (");
    for (unsigned p = 0; p < 256; p++) {
        if (!proto_has_ports((uint8_t)p))
            continue;
        strbuf_printf(q, "%s%u", first ? "" : ", ", p);
        first = false;
    }
    strbuf_appendc(q, ')');
}

/* Is leg l of any use: the lists and series of drilldown.lists reread are not kept. */
static bool
leg_wanted(const struct ds_cfg *cfg, enum leg l)
{
    bool lists = cfg->drilldown.lists != CFG_LISTS_REREAD;

    if (l == LEG_SPORT)
        return lists;
    if (l == LEG_MINUTE)
        return lists && cfg->drilldown.series_memory > 0;
    return true;
}

/*
 * The settings of the query that counts details on the shards, made once
 * per run: a GROUP BY by source or destination of a day's records keeps
 * millions of keys, and its legs run at once, so each spills to disk past a
 * quarter of what a query may use (max_memory_usage, read from the server;
 * left alone if unlimited), and the initiator merges the shards' answers a
 * bucket at a time.  Without them a day of 42 million records passed the
 * test servers' 2 GB and failed (measured).
 */
static enum ds_rc
shard_settings(struct judge *j, struct ds_error *err)
{
    int64_t max = 0, n = 0;
    enum ds_rc rc;

    if (j->shard_settings != NULL)
        return DS_OK;
    j->stats->queries++;
    rc = ch_query_value(j->c, "SELECT any(toInt64(value)), count() FROM system.settings "
                        "WHERE name = 'max_memory_usage'", &max, &n, err);
    if (rc != DS_OK)
        return rc;
    if (n > 0 && max > 0)
        j->shard_settings = xasprintf("distributed_aggregation_memory_efficient=1&"
                                      "max_bytes_before_external_group_by=%" PRId64, max / 4);
    else
        j->shard_settings = xstrdup("distributed_aggregation_memory_efficient=1");
    return DS_OK;
}

/*
 * The details of the tuples of in, counted on the shards: one GROUP BY per
 * leg, their rows of one shape (UNION ALL).
 */
static enum ds_rc
details_on_shards(struct batch *b, size_t k0, size_t k1, const struct strbuf *in,
                  struct ds_error *err)
{
    /* a_hi, a_lo, whether only port protocols, whether grouped by a_hi, a_lo */
    static const struct {
        const char *hi, *lo;
        bool ports, by_value;
    } value[LEG_COUNT] = {
        [LEG_SRC] = {"src_hi", "src_lo", false, true},
        [LEG_DST] = {"dst_hi", "dst_lo", false, true},
        [LEG_SPORT] = {"0", "sport", true, true},
        [LEG_DPORT] = {"0", "dport", true, true},
        [LEG_TYPE] = {"0", "proto * 65536 + tcp_flags * 256 + icmp_type", false, true},
        [LEG_MINUTE] = {"0", NULL, false, true},
        [LEG_SPAN] = {"min(start_ms)", "max(end_ms)", false, false},
    };
    struct an_job *aj = b->aj;
    struct strbuf q = STRBUF_INIT, lo = STRBUF_INIT;
    uint8_t width[2 + F_COUNT + 4];
    enum ds_rc rc;

    width[0] = 1;
    width[1] = 8;
    memcpy(width + 2, aj->width, aj->n_col);
    memset(width + 2 + aj->n_col, 8, 4);
    for (int l = 0; l < LEG_COUNT; l++) {
        if (!leg_wanted(aj->j->cfg, (enum leg)l))
            continue;
        strbuf_reset(&lo);
        if (l == LEG_MINUTE) {
            /* minutes from the slot's start: (start_ms - first - slot * len) / 60 s */
            strbuf_printf(&lo, "intDiv(start_ms - toInt64(%" PRId64 ") - ", b->first * 1000);
            slot_sql(b, &lo);
            strbuf_printf(&lo, " * toInt64(%" PRId64 "), 60000)", b->len * 1000);
        } else {
            strbuf_append(&lo, value[l].lo);
        }
        strbuf_printf(&q, "%sSELECT toUInt8(%d), ", q.len > 0 ? " UNION ALL " : "", l);
        slot_sql(b, &q);
        strbuf_append(&q, ", ");
        fields_sql(aj, &q);
        strbuf_printf(&q, ", toUInt64(%s), toUInt64(%s), toUInt64(sum(packets)), "
                      "toUInt64(count())", value[l].hi, strbuf_str(&lo));
        where_shown_sql(b, k0, k1, in, &q);
        if (value[l].ports) {
            strbuf_append(&q, " AND ");
            port_protos_sql(&q);
        }
        strbuf_append(&q, " GROUP BY ");
        slot_sql(b, &q);
        strbuf_append(&q, ", ");
        fields_sql(aj, &q);
        if (value[l].by_value)
            strbuf_printf(&q, ", toUInt64(%s), toUInt64(%s)", value[l].hi, strbuf_str(&lo));
    }
    strbuf_append(&q, " FORMAT RowBinary");
    rc = shard_settings(aj->j, err);
    if (rc == DS_OK)
        rc = select_strings(aj->j, strbuf_str(&q), aj->j->shard_settings, width,
                            2 + aj->n_col + 4, EXPORTER_MAX, on_leg, b, err);
    strbuf_fini(&lo);
    strbuf_fini(&q);
    return rc;
}

/*
 * Did the legs of the details counted on the shards see the same flows of
 * g (they are parts of one query, but each reads the records at its own
 * moment: a batch inserted meanwhile may be in some only)?
 */
static bool
legs_agree(const struct ds_cfg *cfg, const struct slot_job *sj, const struct agg_group *g)
{
    static const enum leg every_flow[] = {LEG_DST, LEG_TYPE, LEG_MINUTE, LEG_SPAN};
    uint32_t idx = agg_slot_group_index(sj->slot, g);
    const struct shown_group *sg;

    if (cfg->clickhouse.details != CFG_DETAILS_SHARDS || idx >= sj->n_shown)
        return true;
    sg = &sj->shown[idx];
    for (size_t i = 0; i < G_N_ELEMENTS(every_flow); i++)
        if (leg_wanted(cfg, every_flow[i]) && sg->flows[every_flow[i]] != sg->flows[LEG_SRC])
            return false;
    return true;
}

/* The records of the tuples of in, read back and counted by agg_slot_add(). */
static enum ds_rc
read_back(struct batch *b, size_t k0, size_t k1, const struct strbuf *in, struct ds_error *err)
{
    struct strbuf q = STRBUF_INIT;
    enum ds_rc rc;

    strbuf_append(&q, "SELECT " RECORD_COLUMNS);
    where_shown_sql(b, k0, k1, in, &q);
    strbuf_append(&q, " FORMAT RowBinary");
    rc = select_rows(b->aj->j, strbuf_str(&q), record_width, G_N_ELEMENTS(record_width),
                     on_record, b, err);
    strbuf_fini(&q);
    return rc;
}

/*
 * Pass 2 for slots k0 to k1 (excluded) of b that have records: their shown
 * groups' details, then every other group with its count.  A shown group's
 * details are counted on the shards or from its records read back
 * (store.clickhouse.details); the records come in no order (a sort of a
 * day's records would cost the shards gigabytes) and the values counted on
 * the shards in any: what a detail keeps does not depend on it, but for
 * top lists longer than the drill-down's, approximate anyway.  *again if a
 * shown group's rows do not add up to its count (records came between the
 * passes).
 */
static enum ds_rc
details(struct batch *b, size_t k0, size_t k1, bool *again, struct ds_error *err)
{
    struct an_job *aj = b->aj;
    struct judge *j = aj->j;
    const struct ds_cfg *cfg = j->cfg;
    struct strbuf in = STRBUF_INIT;
    uint64_t n_groups = 0;
    enum ds_rc rc = DS_OK;

    for (size_t k = k0; k < k1; k++) {
        struct slot_job *sj = &b->jobs[k];

        if (sj->counts->flows == 0)
            continue;
        sj->slot = agg_slot_new(aj->layout, sj->start, sj->end);
        sj->slot->drilldown = &cfg->drilldown;
        sj->slot->max_groups = (uint32_t)cfg->limits.groups;
        for (size_t i = 0; i < sj->n_rows; i++) {
            const struct count_row *r = &sj->rows[i];
            uint8_t key[KEY_BYTES_MAX];
            struct agg_group *g;
            struct flow fl;
            uint32_t idx;

            flow_of_counts(aj, r, &fl);
            key_extract(aj->layout, &fl, key);
            if (!shown(aj, sj->counts, agg_slot_group_find(sj->counts, key)))
                continue;
            tuple_sql(aj, k, r, &in);
            /* the shown groups first, in the new slot: their number is their place */
            g = agg_slot_group_get(sj->slot, key, true);
            if (g == NULL)
                continue;
            idx = agg_slot_group_index(sj->slot, g);
            if (idx >= sj->n_shown) {
                sj->shown = xreallocarray(sj->shown, idx + 1, sizeof(*sj->shown));
                memset(sj->shown + sj->n_shown, 0, (idx + 1 - sj->n_shown) * sizeof(*sj->shown));
                sj->n_shown = idx + 1;
                n_groups++;
            }
            sj->shown[idx].tuples++;
        }
    }
    if (in.len > 0 && cfg->clickhouse.details == CFG_DETAILS_SHARDS) {
        rc = details_on_shards(b, k0, k1, &in, err);
        if (rc == DS_OK)
            j->stats->on_shards += n_groups;
    } else if (in.len > 0) {
        rc = read_back(b, k0, k1, &in, err);
        if (rc == DS_OK)
            j->stats->read_back += n_groups;
    }
    strbuf_fini(&in);
    for (size_t i = 0; rc == DS_OK && i < b->n_cross; i++) {
        uint8_t key[KEY_BYTES_MAX];
        struct part_ctx pc = {b, &b->cross[i], true, key};

        key_extract(aj->layout, &b->cross[i], key);
        agg_split(&b->cal, &b->cross[i], on_part, &pc);
    }
    for (size_t k = k0; rc == DS_OK && k < k1; k++) {
        struct slot_job *sj = &b->jobs[k];

        if (sj->slot == NULL)
            continue;
        for (uint32_t i = 0; i < sj->counts->n_groups; i++) {
            const struct agg_group *cg = agg_slot_group(sj->counts, i);
            struct agg_group *g = agg_slot_group_find(sj->slot, cg->key);

            if (shown(aj, sj->counts, cg)) {
                if (g == NULL || g->packets != cg->packets || g->flows != cg->flows ||
                    !legs_agree(cfg, sj, g))
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

/* Pass 1 for the slots of b: their group counts from the cluster. */
static enum ds_rc
make_batch(struct batch *b, int64_t span_ms, struct ds_error *err)
{
    struct an_job *aj = b->aj;
    struct judge *j = aj->j;
    const char *db = j->cfg->clickhouse.database;
    uint8_t width[F_COUNT + 3];
    struct strbuf q = STRBUF_INIT;
    enum ds_rc rc;

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
                      "%" PRId64 " AND end_ms <= ",
                      db, j->final, first - span_ms, last, first, first);
        slot_end_sql(b, &q);
        strbuf_append(&q, ") FORMAT RowBinary");
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
    return rc;
}

/*
 * Details in memory at once, at most (a shown group's detail holds its
 * distinct counters, lists and minutes: up to about half a megabyte): the
 * slots of a batch get theirs a few at a time, and go to the series before
 * the next ones are made.
 */
#define DETAIL_GROUPS 64

/* Counts, judges and replaces the slots of b, in order. */
static enum ds_rc
judge_batch(struct batch *b, struct series *s, int64_t span_ms, struct ds_error *err)
{
    struct judge *j = b->aj->j;
    bool again = false;
    enum ds_rc rc;
    int tries = 0;

    do {
        again = false;
        batch_reset(b);
        rc = make_batch(b, span_ms, err);
        for (size_t k0 = 0, k1; rc == DS_OK && !again && k0 < b->n; k0 = k1) {
            size_t groups = shown_groups(b->aj, &b->jobs[k0]);

            for (k1 = k0 + 1; k1 < b->n; k1++) {
                size_t more = shown_groups(b->aj, &b->jobs[k1]);

                if (groups + more > DETAIL_GROUPS)
                    break;
                groups += more;
            }
            rc = details(b, k0, k1, &again, err);
            for (size_t k = k0; rc == DS_OK && !again && k < k1; k++) {
                if (b->jobs[k].slot == NULL)
                    continue;
                series_replace_slot(s, b->jobs[k].slot);
                j->stats->slots++;
                agg_slot_free(b->jobs[k].slot);
                b->jobs[k].slot = NULL;
            }
        }
        if (rc == DS_OK && again)
            j->stats->retried++;
    } while (rc == DS_OK && again && ++tries < SLOT_TRIES);
    if (rc == DS_OK && again)
        return ds_error_set(err, DS_ERR_DB, "%s: slots from %" PRId64 ": records kept coming "
                            "while they were counted (%d tries)", b->aj->a->name, b->first,
                            SLOT_TRIES);
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

/*
 * Live: the nodes whose rows stopped (docs/CLICKHOUSE.md 6) do not hold a
 * slot back; a slot that ends after the last watermark one of them wrote
 * (its records up to there are in) says it was judged without it.
 */
static void
missing_completeness(void *ctx, struct slot_result *r)
{
    const struct judge *j = ctx;
    struct strbuf names = STRBUF_INIT;
    char *text = NULL;
    size_t len = 0, n = 0;
    FILE *fp;
    struct json_w w;

    for (size_t i = 0; i < j->n_missing; i++)
        if (j->missing[i].watermark_ms < r->end * 1000)
            strbuf_printf(&names, "%s%s", n++ ? ", " : "", j->missing[i].node);
    if (n == 0 || (fp = open_memstream(&text, &len)) == NULL) {
        strbuf_fini(&names);
        return;
    }
    json_init(&w, fp, false);
    json_obj_begin(&w);
    json_key(&w, "cluster");
    json_str(&w, "judged without missing nodes");
    json_key(&w, "missing_nodes");
    json_arr_begin(&w);
    for (size_t i = 0; i < j->n_missing; i++)
        if (j->missing[i].watermark_ms < r->end * 1000)
            json_str(&w, j->missing[i].node);
    json_arr_end(&w);
    json_key(&w, "reasons");
    json_arr_begin(&w);
    {
        char *why = xasprintf("no watermark for longer than collector.idle_close from %s: "
                              "judged without their records after their last watermark",
                              strbuf_str(&names));

        json_str(&w, why);
        free(why);
    }
    json_arr_end(&w);
    json_obj_end(&w);
    fclose(fp);
    strbuf_fini(&names);
    free(r->completeness);
    r->completeness = text;
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
    if (j->n_missing > 0)
        series_set_completeness(s, missing_completeness, j);
    slotcal_find(&b.cal, pa->from, &start, &end);
    /* runs of slots of one length (a day that daylight saving makes longer breaks one) */
    while (rc == DS_OK && start < pa->to) {
        /* the first batch one slot: its groups tell how many the next can take */
        size_t most = b.n == 0 ? 1 : BATCH_SLOTS, rows = 0;

        for (size_t k = 0; k < b.n; k++)
            rows = jobs[k].n_rows > rows ? jobs[k].n_rows : rows;
        if (rows > 0 && BATCH_GROUPS / rows < most)
            most = BATCH_GROUPS / rows > 0 ? BATCH_GROUPS / rows : 1;
        batch_reset(&b);
        b.first = start;
        b.len = end - start;
        b.n = 0;
        while (start < pa->to && b.n < most && end - start == b.len &&
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

/* Seconds on the monotonic clock since t0. */
static double
seconds_since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* ---- results in the cluster: published by the judging node, read by every node ---- */


#define PUBLISH_BYTES (16u << 20)   /* slot rows sent in one INSERT, about */

#define SLOTS_COLUMNS                                                                        \
    "analysis, start, end, judged_ms, judged_by, packets, flows, groups, folded_packets, "  \
    "folded_flows, late_flows, late_packets, complete, incomplete, completeness, "          \
    "thresholds, topn, status, direction, mean, stddev, group_counts, group_details, explain"

/* A stored judgement, as store_results() gives it, waiting for its slot's blobs. */
struct published {
    struct slot_result r;       /* its top groups and explain dropped */
    uint8_t *explain;           /* owned: explain_encode()'s bytes, NULL if none */
    size_t explain_len;
};

struct publish_ctx {
    struct published *v;
    size_t n, cap;
};

static enum ds_rc
on_stored(void *ctx, const struct slot_result *r)
{
    struct publish_ctx *pc = ctx;
    struct published *p;

    if (pc->n == pc->cap) {
        pc->cap = pc->cap ? 2 * pc->cap : 64;
        pc->v = xreallocarray(pc->v, pc->cap, sizeof(*pc->v));
    }
    p = &pc->v[pc->n++];
    p->r = *r;
    p->r.completeness = r->completeness != NULL ? xstrdup(r->completeness) : NULL;
    p->r.n_top = 0;
    p->r.top = NULL;
    p->r.explain = NULL;
    p->explain = r->explain != NULL ? explain_encode(r->explain, &p->explain_len) : NULL;
    if (p->explain == NULL)
        p->explain_len = 0;
    return DS_OK;
}

/* The row of stored slot p (its blobs from the store) into o. */
static enum ds_rc
slot_row(struct judge *j, const struct pipeline_analysis *pa, struct store *st,
         const struct published *p, int64_t judged_ms, struct rowbin *o, struct ds_error *err)
{
    const struct slot_result *r = &p->r;
    const char *node = j->cfg->clickhouse.node;
    struct agg_slot *slot = NULL;
    size_t cl = 0, dl = 0;
    uint8_t *blob = NULL;
    enum ds_rc rc;

    rc = store_slot_load(st, pa->store_id, &pa->layout, r->start, &slot, err);
    if (rc != DS_OK)
        return rc;
    if (slot != NULL)
        blob = store_slot_encode(slot, &cl, &dl);
    rowbin_str(o, pa->cfg->name, strlen(pa->cfg->name));
    rowbin_le(o, (uint64_t)r->start, 8);
    rowbin_le(o, (uint64_t)r->end, 8);
    rowbin_le(o, (uint64_t)judged_ms, 8);
    rowbin_str(o, node, strlen(node));
    rowbin_le(o, r->packets, 8);
    rowbin_le(o, r->flows, 8);
    rowbin_le(o, r->groups, 8);
    rowbin_le(o, r->folded_packets, 8);
    rowbin_le(o, r->folded_flows, 8);
    rowbin_le(o, r->late_flows, 8);
    rowbin_le(o, r->late_packets, 8);
    rowbin_le(o, r->complete, 1);
    rowbin_le(o, r->incomplete, 1);
    rowbin_str(o, r->completeness ? r->completeness : "",
             r->completeness ? strlen(r->completeness) : 0);
    rowbin_varint(o, r->n_th);
    for (size_t t = 0; t < r->n_th; t++)
        rowbin_str(o, r->th[t].th.text, strlen(r->th[t].th.text));
    rowbin_varint(o, r->n_th);
    for (size_t t = 0; t < r->n_th; t++)
        rowbin_le(o, r->th[t].topn, 4);
    rowbin_varint(o, r->n_th);
    for (size_t t = 0; t < r->n_th; t++) {
        const char *sname = stab_status_name(r->th[t].r.status);

        rowbin_str(o, sname, strlen(sname));
    }
    rowbin_varint(o, r->n_th);
    for (size_t t = 0; t < r->n_th; t++) {
        const char *d = stab_dir_name(r->th[t].r.dir);

        rowbin_str(o, d, strlen(d));
    }
    rowbin_varint(o, r->n_th);
    for (size_t t = 0; t < r->n_th; t++)
        rowbin_double(o, r->th[t].r.mean);
    rowbin_varint(o, r->n_th);
    for (size_t t = 0; t < r->n_th; t++)
        rowbin_double(o, r->th[t].r.stddev);
    rowbin_str(o, blob, cl);
    rowbin_str(o, blob != NULL ? blob + cl : NULL, dl);
    rowbin_str(o, p->explain, p->explain_len);
    free(blob);
    agg_slot_free(slot);
    return DS_OK;
}

/*
 * The judgements of analysis pa's stored slots from start from on (a
 * judgement revises the slots after it) into the cluster's slots table,
 * and marked in st as this version (st in a transaction).
 */
static enum ds_rc
publish(struct judge *j, const struct pipeline_analysis *pa, struct store *st, int64_t from,
        struct ds_error *err)
{
    struct publish_ctx pc = {NULL, 0, 0};
    struct rowbin o = {NULL, 0, 0};
    struct timespec now;
    int64_t judged_ms;
    char *query;
    enum ds_rc rc;

    clock_gettime(CLOCK_REALTIME, &now);
    judged_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    rc = store_results(st, pa->store_id, &pa->layout, pa->cfg, from, INT64_MAX / 4, on_stored,
                       &pc, err);
    query = xasprintf("INSERT INTO %s.slots (" SLOTS_COLUMNS ") FORMAT RowBinary",
                      j->cfg->clickhouse.database);
    for (size_t i = 0; rc == DS_OK && i < pc.n; i++) {
        rc = slot_row(j, pa, st, &pc.v[i], judged_ms, &o, err);
        /* a month of hourly slots of 65,536 groups is half a gigabyte of counts */
        if (rc == DS_OK && (o.len >= PUBLISH_BYTES || i + 1 == pc.n)) {
            j->stats->queries++;
            rc = ch_post(j->c, query, o.b, o.len, NULL, NULL, err);
            o.len = 0;
        }
    }
    for (size_t i = 0; rc == DS_OK && i < pc.n; i++)
        rc = store_cluster_mark(st, pa->store_id, pc.v[i].r.start, judged_ms, err);
    if (rc == DS_OK)
        j->stats->published += pc.n;
    for (size_t i = 0; i < pc.n; i++) {
        free(pc.v[i].r.completeness);
        free(pc.v[i].explain);
    }
    free(pc.v);
    rowbin_fini(&o);
    free(query);
    return rc;
}

/* ---- reading the cluster's judgements into this node's store ---- */

struct version {
    int64_t start, judged_ms;
};

struct versions {
    struct version *v;
    size_t n, cap;
};

static int
on_version(void *ctx, const struct rb_row *row)
{
    struct versions *vs = ctx;

    if (vs->n == vs->cap) {
        vs->cap = vs->cap ? 2 * vs->cap : 256;
        vs->v = xreallocarray(vs->v, vs->cap, sizeof(*vs->v));
    }
    vs->v[vs->n].start = (int64_t)row->v[0];
    vs->v[vs->n].judged_ms = (int64_t)row->v[1];
    vs->n++;
    return 0;
}

/* A cluster row read into the store: what is applied after the series' judgement. */
struct fetched {
    int64_t start, judged_ms;
    char *completeness;         /* owned; NULL: none */
    bool incomplete;
    uint8_t *explain;           /* owned */
    size_t explain_len;
};

struct fetch_ctx {
    const struct cfg_analysis *a;
    const struct key_layout *layout;
    struct series *s;
    struct fetched *v;
    size_t n, cap;
    bool damaged;
};

static int
on_fetched(void *ctx, const struct rb_row *row)
{
    struct fetch_ctx *fc = ctx;
    struct agg_slot *slot;
    struct fetched *f;

    slot = agg_slot_new(fc->layout, (int64_t)row->v[0], (int64_t)row->v[1]);
    if (store_slot_decode(slot, (const uint8_t *)row->s[12], row->slen[12],
                          (const uint8_t *)row->s[13], row->slen[13]) != 0) {
        agg_slot_free(slot);
        fc->damaged = true;
        return 1;
    }
    slot->packets = row->v[3];
    slot->flows = row->v[4];
    slot->folded_packets = row->v[5];
    slot->folded_flows = row->v[6];
    slot->late_flows = row->v[7];
    slot->late_packets = row->v[8];
    slot->complete = row->v[9] != 0;
    if (fc->n == fc->cap) {
        fc->cap = fc->cap ? 2 * fc->cap : 64;
        fc->v = xreallocarray(fc->v, fc->cap, sizeof(*fc->v));
    }
    f = &fc->v[fc->n++];
    f->start = slot->start;
    f->judged_ms = (int64_t)row->v[2];
    f->incomplete = row->v[10] != 0;
    f->completeness = NULL;
    if (row->slen[11] > 0) {
        f->completeness = xmalloc(row->slen[11] + 1);
        memcpy(f->completeness, row->s[11], row->slen[11]);
        f->completeness[row->slen[11]] = '\0';
    }
    f->explain_len = row->slen[14];
    f->explain = f->explain_len > 0 ? xmalloc(f->explain_len) : NULL;
    if (f->explain_len > 0)
        memcpy(f->explain, row->s[14], f->explain_len);
    series_replace_slot(fc->s, slot);
    agg_slot_free(slot);
    return 0;
}

/* The series' completeness of a slot read from the cluster: the judging node's. */
static void
fetched_completeness(void *ctx, struct slot_result *r)
{
    struct fetch_ctx *fc = ctx;

    for (size_t i = 0; i < fc->n; i++) {
        if (fc->v[i].start != r->start)
            continue;
        free(r->completeness);
        r->completeness = fc->v[i].completeness ? xstrdup(fc->v[i].completeness) : NULL;
        r->incomplete = fc->v[i].incomplete;
        return;
    }
}

static int
cmp_version(const void *x, const void *y)
{
    const struct version *a = x, *b = y;

    return a->start < b->start ? -1 : a->start > b->start;
}

/*
 * Brings analysis a's slots judged in the cluster since this store last
 * read them into st (not in a transaction): the slot, judged again here
 * from its counts (the same as the cluster's), its drill-down as the
 * judging node made it.
 */
static enum ds_rc
sync_analysis(struct judge *j, const struct cfg_analysis *a, const struct key_layout *layout,
              int64_t aid, struct store *st, struct ds_error *err)
{
    static const uint8_t vwidth[] = {8, 8};
    static const uint8_t fwidth[] = {8, 8, 8, 8, 8, 8, 8, 8, 8, 1, 1, 0, 0, 0, 0};
    struct versions vs = {NULL, 0, 0};
    struct store_cluster_mark *marks = NULL;
    struct fetch_ctx fc = {a, layout, NULL, NULL, 0, 0, false};
    struct strbuf q = STRBUF_INIT;
    int64_t first = INT64_MAX;
    size_t n_marks = 0;
    enum ds_rc rc;

    strbuf_printf(&q, "SELECT start, max(judged_ms) FROM %s.slots WHERE analysis = ",
                  j->cfg->clickhouse.database);
    quote_sql(a->name, &q);
    strbuf_append(&q, " GROUP BY start FORMAT RowBinary");
    rc = select_rows(j, strbuf_str(&q), vwidth, 2, on_version, &vs, err);
    if (rc == DS_OK)
        rc = store_cluster_marks(st, aid, &marks, &n_marks, err);
    if (rc == DS_OK && vs.n > 0)
        qsort(vs.v, vs.n, sizeof(*vs.v), cmp_version);
    /* marks and versions both by start: the first slot judged since */
    for (size_t i = 0, m = 0; rc == DS_OK && i < vs.n; i++) {
        while (m < n_marks && marks[m].start < vs.v[i].start)
            m++;
        if (m == n_marks || marks[m].start != vs.v[i].start ||
            marks[m].judged_ms < vs.v[i].judged_ms) {
            first = vs.v[i].start;
            break;
        }
    }
    free(marks);
    free(vs.v);
    if (rc != DS_OK || first == INT64_MAX) {
        strbuf_fini(&q);
        return rc;
    }
    /* every slot from there on: the judgement of a slot revises the ones after it */
    rc = store_begin(st, err);
    if (rc == DS_OK) {
        fc.s = series_new(a, &j->cfg->causes, layout, aid, st, 0);
        series_limit_groups(fc.s, (uint32_t)j->cfg->limits.groups);
        series_set_completeness(fc.s, fetched_completeness, &fc);
        strbuf_reset(&q);
        strbuf_printf(&q, "SELECT start, end, judged_ms, packets, flows, folded_packets, "
                      "folded_flows, late_flows, late_packets, complete, incomplete, "
                      "completeness, group_counts, group_details, explain FROM %s.slots FINAL "
                      "WHERE analysis = ", j->cfg->clickhouse.database);
        quote_sql(a->name, &q);
        strbuf_printf(&q, " AND start >= %" PRId64 " ORDER BY start FORMAT RowBinary", first);
        rc = select_strings(j, strbuf_str(&q), NULL, fwidth, G_N_ELEMENTS(fwidth), (size_t)1 << 30,
                            on_fetched, &fc, err);
        if (rc != DS_OK && fc.damaged)
            rc = ds_error_set(err, DS_ERR_DB, "ClickHouse at %s: %s: a slot's group counts "
                              "in %s.slots are damaged", ch_client_server(j->c), a->name,
                              j->cfg->clickhouse.database);
        if (rc == DS_OK)
            rc = series_commit(fc.s, err);
        for (size_t i = 0; rc == DS_OK && i < fc.n; i++) {
            rc = store_explain_save(st, aid, fc.v[i].start, fc.v[i].explain,
                                    fc.v[i].explain_len, err);
            if (rc == DS_OK)
                rc = store_cluster_mark(st, aid, fc.v[i].start, fc.v[i].judged_ms, err);
        }
        series_free(fc.s);
        if (rc == DS_OK)
            rc = store_commit(st, err);
        else
            store_rollback(st);
    }
    j->stats->fetched += fc.n;
    for (size_t i = 0; i < fc.n; i++) {
        free(fc.v[i].completeness);
        free(fc.v[i].explain);
    }
    free(fc.v);
    strbuf_fini(&q);
    return rc;
}

static enum ds_rc
sync_all(struct judge *j, struct store *st, struct ds_error *err)
{
    const struct ds_cfg *cfg = j->cfg;
    enum ds_rc rc = DS_OK;

    for (size_t i = 0; rc == DS_OK && i < cfg->n_analyses; i++) {
        const struct cfg_analysis *a = &cfg->analyses[i];
        struct key_layout layout;
        int64_t aid;
        bool found = false;

        rc = store_analysis_find(st, a->name, &aid, &found, err);
        if (rc != DS_OK || !found)
            continue;
        key_layout_init(&layout, a->keys, a->n_keys);
        rc = sync_analysis(j, a, &layout, aid, st, err);
    }
    return rc;
}

enum ds_rc
cluster_sync(const struct ds_cfg *cfg, struct store *st, struct ch_client *c,
             struct cluster_judge_stats *stats, struct ds_error *err)
{
    struct judge j = {.cfg = cfg, .c = c, .stats = stats, .final = ""};
    struct timespec t0;
    enum ds_rc rc;

    memset(stats, 0, sizeof(*stats));
    clock_gettime(CLOCK_MONOTONIC, &t0);
    rc = sync_all(&j, st, err);
    stats->seconds = seconds_since(&t0);
    return rc;
}

/* ---- slots that cannot be judged on the cluster ---- */

struct unjudged_ctx {
    const char *why;
};

static void
unjudged_completeness(void *ctx, struct slot_result *r)
{
    const struct unjudged_ctx *u = ctx;
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    struct json_w w;

    r->incomplete = true;
    if (fp == NULL)
        return;
    json_init(&w, fp, false);
    json_obj_begin(&w);
    json_key(&w, "cluster");
    json_str(&w, "not judged");
    json_key(&w, "reasons");
    json_arr_begin(&w);
    json_str(&w, u->why);
    json_arr_end(&w);
    json_obj_end(&w);
    fclose(fp);
    free(r->completeness);
    r->completeness = text;
}

enum ds_rc
cluster_unjudged(const struct ds_cfg *cfg, struct store *st, const struct pipeline_analysis *an,
                 size_t n, const char *why, struct ds_error *err)
{
    struct unjudged_ctx u = {why};
    enum ds_rc rc = store_begin(st, err);

    for (size_t i = 0; rc == DS_OK && i < n; i++) {
        struct series *s;
        struct slotcal cal;
        int64_t start, end;

        if (an[i].from >= an[i].to)
            continue;
        s = series_new(an[i].cfg, &cfg->causes, &an[i].layout, an[i].store_id, st, 0);
        series_limit_groups(s, (uint32_t)cfg->limits.groups);
        series_set_completeness(s, unjudged_completeness, &u);
        slotcal_init(&cal, an[i].cfg->slot_s);
        slotcal_find(&cal, an[i].from, &start, &end);
        for (; rc == DS_OK && start < an[i].to; start = end, end = slotcal_next(&cal, start)) {
            struct agg_slot *slot = NULL;

            rc = store_slot_load(st, an[i].store_id, &an[i].layout, start, &slot, err);
            if (rc == DS_OK && slot != NULL)
                series_replace_slot(s, slot);
            agg_slot_free(slot);
        }
        if (rc == DS_OK)
            rc = series_commit(s, err);
        series_free(s);
    }
    if (rc == DS_OK)
        rc = store_commit(st, err);
    else if (store_in_transaction(st))
        store_rollback(st);
    return rc;
}

enum ds_rc
cluster_pending_range(struct store *st, struct pipeline_analysis *an, size_t n,
                      struct ds_error *err)
{
    for (size_t i = 0; i < n; i++) {
        struct store_slot_summary *v = NULL;
        size_t nv = 0;
        enum ds_rc rc = store_slot_summaries(st, an[i].store_id, INT64_MIN / 4, INT64_MAX / 4,
                                             &v, &nv, err);

        if (rc != DS_OK)
            return rc;
        for (size_t k = 0; k < nv; k++) {
            if (!v[k].incomplete)
                continue;
            if (an[i].from >= an[i].to) {
                an[i].from = v[k].start;
                an[i].to = v[k].end;
            }
            an[i].from = v[k].start < an[i].from ? v[k].start : an[i].from;
            an[i].to = v[k].end > an[i].to ? v[k].end : an[i].to;
        }
        free(v);
    }
    return DS_OK;
}

enum ds_rc
cluster_judge(const struct ds_cfg *cfg, struct store *st, struct ch_client *c,
              const struct pipeline_analysis *an, size_t n, const struct ch_node *missing,
              size_t n_missing, cluster_recheck_fn recheck, void *recheck_ctx,
              struct cluster_judge_stats *stats, struct ds_error *err)
{
    struct judge j = {.cfg = cfg, .c = c, .stats = stats, .final = "", .missing = missing,
                      .n_missing = n_missing};
    struct timespec t0;
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
    /* the windows reach back into slots other nodes may have judged since */
    rc = sync_all(&j, st, err);
    if (rc == DS_OK)
        rc = repeats_in(&j, from, to, &repeats, err);
    if (rc != DS_OK)
        return rc;
    j.final = repeats ? " FINAL" : "";
    j.judging = true;
    j.exporters = g_hash_table_new_full(g_str_hash, g_str_equal, free, exporter_free);
    rc = store_begin(st, err);
    for (size_t i = 0; rc == DS_OK && i < n; i++)
        if (an[i].from < an[i].to)
            rc = judge_analysis(&j, &an[i], st, err);
    if (rc == DS_OK && recheck != NULL) {
        bool ok = true;

        rc = recheck(recheck_ctx, an, n, &ok, err);
        stats->stale = rc == DS_OK && !ok;
    }
    for (size_t i = 0; rc == DS_OK && !stats->stale && i < n; i++)
        if (an[i].from < an[i].to)
            rc = publish(&j, &an[i], st, an[i].from, err);
    if (rc == DS_OK && !stats->stale) {
        rc = store_commit(st, err);
    } else if (store_in_transaction(st)) {
        store_rollback(st);
        if (stats->stale)
            stats->slots = 0;
    }
    g_hash_table_destroy(j.exporters);
    free(j.shard_settings);
    stats->seconds = seconds_since(&t0);
    return rc;
}
