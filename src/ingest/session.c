/*
 * Sessions: one exporter's datagrams in one protocol (see ds/ingest.h).
 *
 * IPFIX and NetFlow v9 (converted to IPFIX by nf9.c) go through the same
 * structural check and decoder as files; NetFlow v5 and sFlow have no
 * templates and are decoded directly.  Sequence numbers are followed per
 * observation domain (source id, engine, sub-agent) to estimate what was
 * lost on the way, in each protocol's own unit.
 */
#include <stdlib.h>
#include <string.h>

#include "ds/ingest.h"
#include "ds/xmem.h"
#include "ingest_int.h"

#define SEQ_DOMAINS_MAX 256
#define STREAM_BUF (2 * IPFIX_MSG_MAX)

/* Beyond these, a jump in sequence numbers is an exporter restart, not loss or reordering. */
#define RESET_RECORDS 10000000u     /* IPFIX records, NetFlow v5 flows */
#define RESET_DATAGRAMS 100000u     /* NetFlow v9 and sFlow datagrams */
#define REORDER_RECORDS 1000000u
#define REORDER_DATAGRAMS 1000u

struct seq_state {
    uint32_t domain;
    uint32_t next;              /* the sequence number the next datagram should carry */
    uint32_t last_uptime;       /* NetFlow v9, sFlow: a smaller one is a restart */
    uint64_t datagrams;         /* for records per datagram */
    uint64_t records;
};

struct ingest_session {
    enum ingest_proto proto;
    struct ipfix_check *chk;    /* IPFIX, NetFlow v9 */
    struct ipfix_decoder *dec;
    struct ingest_session_stats stats;
    struct seq_state *seq;      /* owned */
    size_t n_seq;
    uint8_t *sbuf;              /* owned: stream bytes not yet a whole message */
    size_t shave;
};

static const char *const proto_names[] = {"ipfix", "netflow9", "netflow5", "sflow"};

const char *
ingest_proto_name(enum ingest_proto p)
{
    return (unsigned)p < 4 ? proto_names[p] : "?";
}

int
ingest_proto_parse(const char *s, enum ingest_proto *p)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, proto_names[i]) == 0) {
            *p = (enum ingest_proto)i;
            return 0;
        }
    }
    return -1;
}

int
ingest_detect(const uint8_t *p, size_t len)
{
    if (len < 4)
        return -1;
    switch (rd16(p)) {
    case 10:
        return INGEST_IPFIX;
    case 9:
        return INGEST_NETFLOW9;
    case 5:
        return INGEST_NETFLOW5;
    case 0:
        return rd16(p + 2) == 5 ? INGEST_SFLOW : -1;
    default:
        return -1;
    }
}

struct ingest_session *
ingest_session_new(enum ingest_proto proto)
{
    struct ingest_session *s = xcalloc(1, sizeof(*s));

    s->proto = proto;
    if (proto == INGEST_IPFIX || proto == INGEST_NETFLOW9) {
        s->chk = ipfix_check_new();
        s->dec = ipfix_decoder_new();
    }
    return s;
}

void
ingest_session_free(struct ingest_session *s)
{
    if (s == NULL)
        return;
    ipfix_check_free(s->chk);
    ipfix_decoder_free(s->dec);
    free(s->seq);
    free(s->sbuf);
    free(s);
}

void
ingest_session_set_limits(struct ingest_session *s, const struct ingest_limits *lim)
{
    if (s->chk != NULL)
        ipfix_check_set_limits(s->chk, lim);
}

const struct ingest_session_stats *
ingest_session_get_stats(const struct ingest_session *s)
{
    return &s->stats;
}

enum ingest_proto
ingest_session_proto(const struct ingest_session *s)
{
    return s->proto;
}

size_t
ingest_session_templates(const struct ingest_session *s)
{
    return s->chk != NULL ? ipfix_check_count(s->chk) : 0;
}

static struct seq_state *
seq_get(struct ingest_session *s, uint32_t domain, int *fresh)
{
    *fresh = 0;
    for (size_t i = 0; i < s->n_seq; i++)
        if (s->seq[i].domain == domain)
            return &s->seq[i];
    if (s->n_seq == SEQ_DOMAINS_MAX)
        return NULL; /* a flood of domains is not followed further */
    s->seq = xreallocarray(s->seq, s->n_seq + 1, sizeof(*s->seq));
    memset(&s->seq[s->n_seq], 0, sizeof(s->seq[0]));
    s->seq[s->n_seq].domain = domain;
    *fresh = 1;
    return &s->seq[s->n_seq++];
}

/*
 * One datagram of a domain: seq is its sequence number, advance how far it
 * moves the sequence (records or 1), records what it delivered, and
 * per_datagram whether the sequence counts datagrams (so a gap is scaled
 * by the records per datagram).  uptime 0: not known.
 */
static void
account(struct ingest_session *s, uint32_t domain, uint32_t seq, uint32_t advance,
        uint64_t records, int per_datagram, uint32_t uptime)
{
    int fresh;
    struct seq_state *q = seq_get(s, domain, &fresh);
    uint32_t reset = per_datagram ? RESET_DATAGRAMS : RESET_RECORDS;
    uint32_t window = per_datagram ? REORDER_DATAGRAMS : REORDER_RECORDS;
    int32_t gap;

    if (q == NULL)
        return;
    if (!fresh && uptime != 0 && uptime < q->last_uptime) {
        s->stats.resets++; /* the exporter rebooted: its sequence starts again */
        fresh = 1;
    }
    gap = (int32_t)(seq - q->next);
    if (fresh) {
        q->next = seq + advance;
    } else if (gap == 0) {
        q->next = seq + advance;
    } else if (gap > 0 && (uint32_t)gap < reset) {
        uint64_t lost = (uint64_t)gap;

        if (per_datagram)
            lost = q->datagrams ? (lost * q->records + q->datagrams / 2) / q->datagrams : 0;
        s->stats.missed += lost;
        q->next = seq + advance;
    } else if (gap < 0 && 0u - (uint32_t)gap <= window) {
        /* (unsigned: -gap overflows for a jump of exactly 2^31, tests/data/fuzz/datagram) */
        /* a datagram overtaken by a later one: it was counted missed then */
        uint64_t back = per_datagram ? records : advance;

        s->stats.reordered++;
        s->stats.missed -= back < s->stats.missed ? back : s->stats.missed;
    } else {
        s->stats.resets++;
        q->next = seq + advance;
    }
    if (uptime != 0)
        q->last_uptime = uptime;
    q->datagrams++;
    q->records += records;
}

/* The first problem of a check, as the datagram's error. */
static void
check_issue(const struct ipfix_check_result *res, struct ds_error *err, enum ds_rc *rc)
{
    if (res->n_issues == 0 || *rc != DS_OK)
        return;
    *rc = ds_error_set(err, DS_ERR_PARSE, "offset %u: %s%s", res->issues[0].offset,
                       res->issues[0].text,
                       res->n_issues > 1 ? " (and more problems in this datagram)" : "");
}

/* One IPFIX message (already framed: len is the header's length). */
static enum ds_rc
ipfix_message(struct ingest_session *s, const uint8_t *msg, size_t len, int account_seq,
              ipfix_record_fn fn, void *ctx, struct ingest_stats *stats, struct ds_error *err)
{
    struct ipfix_check_result res;
    uint64_t before = stats->records + stats->options_records;
    enum ds_rc rc = DS_OK;
    struct ds_error derr;

    stats->messages++;
    ipfix_check_message(s->chk, msg, len, &res, stats);
    check_issue(&res, err, &rc);
    if (res.len > 0 &&
        ipfix_decoder_message(s->dec, res.msg, res.len, fn, ctx, stats, &derr) != DS_OK &&
        rc == DS_OK)
        rc = ds_error_set(err, DS_ERR_PARSE, "%s", derr.msg);
    if (account_seq)
        account(s, rd32(msg + 12), rd32(msg + 8), res.data_records,
                stats->records + stats->options_records - before, 0, 0);
    return rc;
}

static enum ds_rc
ipfix_datagram(struct ingest_session *s, const uint8_t *p, size_t len, ipfix_record_fn fn,
               void *ctx, struct ingest_stats *stats, struct ds_error *err)
{
    size_t pos = 0;
    enum ds_rc rc = DS_OK;

    /* Normally one message; a few exporters join several in one datagram. */
    while (len - pos >= IPFIX_HDR_LEN) {
        size_t mlen = rd16(p + pos + 2);
        enum ds_rc r;

        if (rd16(p + pos) != 10 || mlen < IPFIX_HDR_LEN || mlen > len - pos) {
            stats->bad_messages++;
            stats->skipped_bytes += len - pos;
            if (rc == DS_OK)
                rc = ds_error_set(err, DS_ERR_PARSE,
                                  "offset %zu: %s (version %u, length %zu of %zu bytes); "
                                  "%zu bytes dropped",
                                  pos,
                                  pos == 0 ? "not an IPFIX message" : "garbage after the message",
                                  rd16(p + pos), mlen, len - pos, len - pos);
            return rc;
        }
        r = ipfix_message(s, p + pos, mlen, 1, fn, ctx, stats, err);
        if (rc == DS_OK)
            rc = r;
        pos += mlen;
    }
    if (pos == 0 || pos < len) {
        stats->bad_messages += pos == 0;
        stats->skipped_bytes += len - pos;
        if (rc == DS_OK)
            rc = ds_error_set(err, DS_ERR_PARSE, "offset %zu: %zu bytes too short for a message",
                              pos, len - pos);
    }
    return rc;
}

static enum ds_rc
nf9_datagram(struct ingest_session *s, const uint8_t *p, size_t len, ipfix_record_fn fn,
             void *ctx, struct ingest_stats *stats, struct ds_error *err)
{
    /* the datagram as IPFIX, decoded before this thread converts another */
    static _Thread_local uint8_t conv[IPFIX_MSG_MAX];
    struct nf9_header h;
    size_t olen;
    uint64_t before = stats->records;
    enum ds_rc rc, r = DS_OK;
    struct ds_error ignored;

    rc = nf9_to_ipfix(p, len, conv, &olen, &h, stats, err);
    if (olen == 0)
        return rc;
    /* nf9_to_ipfix counted the datagram; the IPFIX message is not another */
    stats->messages--;
    ipfix_decoder_set_uptime(s->dec, (int64_t)h.unix_secs * 1000 - h.uptime_ms, h.uptime_ms);
    r = ipfix_message(s, conv, olen, 0, fn, ctx, stats, rc == DS_OK ? err : &ignored);
    ipfix_decoder_set_uptime(s->dec, 0, 0);
    /* flows per datagram: what a lost datagram is worth */
    account(s, h.source_id, h.sequence, 1, stats->records - before, 1,
            h.uptime_ms ? h.uptime_ms : 1);
    return rc != DS_OK ? rc : r;
}

static enum ds_rc
nf5_datagram(struct ingest_session *s, const uint8_t *p, size_t len, ipfix_record_fn fn,
             void *ctx, struct ingest_stats *stats, struct ds_error *err)
{
    struct nf5_header h;
    enum ds_rc rc = nf5_decode(p, len, fn, ctx, &h, stats, err);

    if (rc == DS_OK)
        account(s, (uint32_t)h.engine_type << 8 | h.engine_id, h.flow_sequence, h.count, h.count,
                0, 0);
    return rc;
}

static enum ds_rc
sflow_datagram(struct ingest_session *s, const uint8_t *p, size_t len, int64_t recv_ms,
               ipfix_record_fn fn, void *ctx, struct ingest_stats *stats, struct ds_error *err)
{
    struct sflow_header h;
    uint64_t before = stats->records;
    enum ds_rc rc;

    memset(&h, 0, sizeof(h));
    rc = sflow_decode(p, len, recv_ms, fn, NULL, ctx, &h, stats, err);
    if (h.samples > 0 || rc == DS_OK)
        account(s, h.sub_agent, h.sequence, 1, stats->records - before, 1,
                h.uptime_ms ? h.uptime_ms : 1);
    return rc;
}

enum ds_rc
ingest_session_datagram(struct ingest_session *s, const uint8_t *p, size_t len, int64_t recv_ms,
                        ipfix_record_fn fn, void *ctx, struct ingest_stats *stats,
                        struct ds_error *err)
{
    uint64_t before = stats->records;
    enum ds_rc rc = DS_ERR_INTERNAL;

    s->stats.datagrams++;
    stats->bytes += len;
    switch (s->proto) {
    case INGEST_IPFIX:
        rc = ipfix_datagram(s, p, len, fn, ctx, stats, err);
        break;
    case INGEST_NETFLOW9:
        rc = nf9_datagram(s, p, len, fn, ctx, stats, err);
        break;
    case INGEST_NETFLOW5:
        rc = nf5_datagram(s, p, len, fn, ctx, stats, err);
        break;
    case INGEST_SFLOW:
        rc = sflow_datagram(s, p, len, recv_ms, fn, ctx, stats, err);
        break;
    }
    s->stats.records += stats->records - before;
    return rc;
}

enum ds_rc
ingest_session_stream(struct ingest_session *s, const uint8_t *p, size_t len, int64_t recv_ms,
                      ipfix_record_fn fn, void *ctx, struct ingest_stats *stats,
                      struct ds_error *err)
{
    enum ds_rc rc = DS_OK;
    size_t pos = 0;

    (void)recv_ms;
    if (s->proto != INGEST_IPFIX)
        return ds_error_set(err, DS_ERR_PARSE, "only IPFIX is carried over streams");
    if (s->sbuf == NULL)
        s->sbuf = xmalloc(STREAM_BUF);
    stats->bytes += len;
    while (pos < len) {
        size_t take = len - pos < STREAM_BUF - s->shave ? len - pos : STREAM_BUF - s->shave;
        size_t at = 0;

        memcpy(s->sbuf + s->shave, p + pos, take);
        s->shave += take;
        pos += take;
        while (s->shave - at >= IPFIX_HDR_LEN) {
            size_t mlen = rd16(s->sbuf + at + 2);
            uint64_t before = stats->records;
            enum ds_rc r;

            if (rd16(s->sbuf + at) != 10 || mlen < IPFIX_HDR_LEN) {
                stats->bad_messages++;
                return ds_error_set(err, DS_ERR_PARSE,
                                    "stream: not an IPFIX message (version %u, length %zu); "
                                    "the stream cannot be followed further",
                                    rd16(s->sbuf + at), mlen);
            }
            if (mlen > s->shave - at)
                break;
            s->stats.datagrams++;
            r = ipfix_message(s, s->sbuf + at, mlen, 1, fn, ctx, stats, err);
            s->stats.records += stats->records - before;
            if (rc == DS_OK)
                rc = r;
            at += mlen;
        }
        memmove(s->sbuf, s->sbuf + at, s->shave - at);
        s->shave -= at;
    }
    return rc;
}

/* ---- checkpoints ---------------------------------------------------------- */

#define BLOB_MAGIC 0x44535331u /* "DSS1" */

struct blob {
    uint8_t *b;
    size_t n, cap;
};

static void
put(struct blob *o, const void *p, size_t n)
{
    if (o->n + n > o->cap) {
        o->cap = (o->n + n) * 2;
        o->b = xreallocarray(o->b, o->cap, 1);
    }
    memcpy(o->b + o->n, p, n);
    o->n += n;
}

static void
put32(struct blob *o, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};

    put(o, b, 4);
}

static void
put64(struct blob *o, uint64_t v)
{
    put32(o, (uint32_t)(v >> 32));
    put32(o, (uint32_t)v);
}

static void
put_template_msg(void *ctx, const uint8_t *msg, size_t len)
{
    struct blob *o = ctx;

    put32(o, (uint32_t)len);
    put(o, msg, len);
}

/*
 * Layout, big endian: magic, proto, n_seq, n_seq * (domain, next,
 * last_uptime, datagrams (8), records (8)), then template messages, each
 * as length (4) and bytes, to the end.
 */
uint8_t *
ingest_session_save(const struct ingest_session *s, size_t *len)
{
    struct blob o = {NULL, 0, 0};

    put32(&o, BLOB_MAGIC);
    put32(&o, (uint32_t)s->proto);
    put32(&o, (uint32_t)s->n_seq);
    for (size_t i = 0; i < s->n_seq; i++) {
        put32(&o, s->seq[i].domain);
        put32(&o, s->seq[i].next);
        put32(&o, s->seq[i].last_uptime);
        put64(&o, s->seq[i].datagrams);
        put64(&o, s->seq[i].records);
    }
    if (s->chk != NULL)
        ipfix_check_templates(s->chk, put_template_msg, &o);
    *len = o.n;
    return o.b;
}

static void
ignore_record(void *ctx, const struct ipfix_record *rec)
{
    (void)ctx;
    (void)rec;
}

static uint64_t
rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

enum ds_rc
ingest_session_restore(struct ingest_session *s, const uint8_t *blob, size_t len,
                       struct ds_error *err)
{
    size_t pos = 12;
    uint32_t n;
    struct ingest_stats st;

    if (len < 12 || rd32(blob) != BLOB_MAGIC || rd32(blob + 4) != (uint32_t)s->proto)
        return ds_error_set(err, DS_ERR_PARSE, "session checkpoint: not one for %s",
                            ingest_proto_name(s->proto));
    n = rd32(blob + 8);
    if (n > SEQ_DOMAINS_MAX || len - pos < (size_t)n * 28)
        return ds_error_set(err, DS_ERR_PARSE, "session checkpoint: cut short");
    free(s->seq);
    s->seq = n ? xcalloc(n, sizeof(*s->seq)) : NULL;
    s->n_seq = n;
    for (uint32_t i = 0; i < n; i++, pos += 28) {
        s->seq[i].domain = rd32(blob + pos);
        s->seq[i].next = rd32(blob + pos + 4);
        s->seq[i].last_uptime = rd32(blob + pos + 8);
        s->seq[i].datagrams = rd64(blob + pos + 12);
        s->seq[i].records = rd64(blob + pos + 20);
    }
    memset(&st, 0, sizeof(st));
    while (len - pos >= 4) {
        uint32_t mlen = rd32(blob + pos);

        pos += 4;
        if (s->chk == NULL || mlen < IPFIX_HDR_LEN || mlen > len - pos ||
            rd16(blob + pos + 2) != mlen)
            return ds_error_set(err, DS_ERR_PARSE, "session checkpoint: bad template message");
        /* templates only: nothing is delivered, no sequence is followed */
        ipfix_message(s, blob + pos, mlen, 0, ignore_record, NULL, &st, err);
        pos += mlen;
    }
    if (pos != len)
        return ds_error_set(err, DS_ERR_PARSE, "session checkpoint: trailing bytes");
    return DS_OK;
}
