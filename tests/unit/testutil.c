/*
 * Test helpers (see testutil.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ds/addr.h"
#include "ds/hash.h"
#include "ds/log.h"
#include "ds/xmem.h"
#include "pcap.h"
#include "testutil.h"

static char tmpdir[256];

static void
cleanup(void)
{
    char cmd[300];

    if (tmpdir[0] != '\0' && getpid() > 0) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            return;
    }
}

const char *
tu_path(const char *name)
{
    static char path[512];

    if (tmpdir[0] == '\0') {
        snprintf(tmpdir, sizeof(tmpdir), "/tmp/darkstab-test-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
        atexit(cleanup);
    }
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    return path;
}

void
tu_write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");

    ck_assert_msg(fp != NULL, "cannot write %s: %s", path, strerror(errno));
    ck_assert_uint_eq(fwrite(data, 1, len, fp), len);
    ck_assert_int_eq(fclose(fp), 0);
}

/* ---- messages by hand ---- */

static void
put(struct tu_msg *m, uint64_t v, int bytes)
{
    ck_assert(m->len + (size_t)bytes <= sizeof(m->b));
    for (int i = bytes - 1; i >= 0; i--)
        m->b[m->len++] = (uint8_t)(v >> (8 * i));
}

void
tu_u8(struct tu_msg *m, uint8_t v)
{
    put(m, v, 1);
}

void
tu_u16(struct tu_msg *m, uint16_t v)
{
    put(m, v, 2);
}

void
tu_u32(struct tu_msg *m, uint32_t v)
{
    put(m, v, 4);
}

void
tu_u64(struct tu_msg *m, uint64_t v)
{
    put(m, v, 8);
}

void
tu_bytes(struct tu_msg *m, const void *p, size_t n)
{
    ck_assert(m->len + n <= sizeof(m->b));
    memcpy(m->b + m->len, p, n);
    m->len += n;
}

void
tu_msg_begin(struct tu_msg *m, uint32_t export_time, uint32_t seq, uint32_t domain)
{
    m->len = 0;
    m->set_at = 0;
    tu_u16(m, 10);
    tu_u16(m, 0);
    tu_u32(m, export_time);
    tu_u32(m, seq);
    tu_u32(m, domain);
}

void
tu_set_begin(struct tu_msg *m, uint16_t id)
{
    m->set_at = m->len;
    tu_u16(m, id);
    tu_u16(m, 0);
}

void
tu_set_end(struct tu_msg *m)
{
    size_t len = m->len - m->set_at;

    m->b[m->set_at + 2] = (uint8_t)(len >> 8);
    m->b[m->set_at + 3] = (uint8_t)len;
    m->set_at = 0;
}

void
tu_msg_end(struct tu_msg *m)
{
    m->b[2] = (uint8_t)(m->len >> 8);
    m->b[3] = (uint8_t)m->len;
}

void
tu_template(struct tu_msg *m, uint16_t tid, size_t count, const uint16_t *pairs)
{
    tu_u16(m, tid);
    tu_u16(m, (uint16_t)count);
    for (size_t i = 0; i < count; i++) {
        tu_u16(m, pairs[2 * i]);
        tu_u16(m, pairs[2 * i + 1]);
    }
}

void
tu_template_basic(struct tu_msg *m)
{
    /* flowStartMilliseconds, packetDeltaCount, src4, dst4, sport, dport, proto */
    static const uint16_t fields[] = {152, 8, 2, 8, 8, 4, 12, 4, 7, 2, 11, 2, 4, 1};

    tu_template(m, TU_TID_BASIC, 7, fields);
}

void
tu_record_basic(struct tu_msg *m, uint64_t start_ms, uint64_t packets, uint32_t src, uint32_t dst,
                uint16_t sport, uint16_t dport, uint8_t proto)
{
    tu_u64(m, start_ms);
    tu_u64(m, packets);
    tu_u32(m, src);
    tu_u32(m, dst);
    tu_u16(m, sport);
    tu_u16(m, dport);
    tu_u8(m, proto);
}

/* ---- libfixbuf files ---- */

void
tu_fb_open(struct tu_fb *w, const char *path)
{
    w->model = fbInfoModelAlloc();
    w->session = fbSessionAlloc(w->model);
    w->fbuf = fBufAllocForExport(w->session, fbExporterAllocFile(path));
}

void
tu_fb_template(struct tu_fb *w, uint16_t tid, fbInfoElementSpec_t *spec, uint16_t scope)
{
    GError *err = NULL;
    fbTemplate_t *ext = fbTemplateAlloc(w->model), *in = fbTemplateAlloc(w->model);

    ck_assert_msg(fbTemplateAppendSpecArray(ext, spec, 0, &err), "template: %s",
                  err ? err->message : "?");
    ck_assert(fbTemplateAppendSpecArray(in, spec, 0, &err));
    if (scope > 0) {
        fbTemplateSetOptionsScope(ext, scope);
        fbTemplateSetOptionsScope(in, scope);
    }
    ck_assert_msg(fbSessionAddTemplate(w->session, TRUE, tid, in, &err), "internal: %s",
                  err ? err->message : "?");
    ck_assert_msg(fbSessionAddTemplate(w->session, FALSE, tid, ext, &err), "external: %s",
                  err ? err->message : "?");
    ck_assert_msg(fbSessionExportTemplate(w->session, tid, &err), "export: %s",
                  err ? err->message : "?");
}

void
tu_fb_domain(struct tu_fb *w, uint32_t domain)
{
    tu_fb_flush(w);
    fbSessionSetDomain(w->session, domain);
}

void
tu_fb_export_time(struct tu_fb *w, uint32_t t)
{
    fBufSetExportTime(w->fbuf, t);
}

void
tu_fb_record(struct tu_fb *w, uint16_t tid, const void *rec, size_t len)
{
    GError *err = NULL;

    ck_assert(fBufSetInternalTemplate(w->fbuf, tid, &err));
    ck_assert(fBufSetExportTemplate(w->fbuf, tid, &err));
    ck_assert_msg(fBufAppend(w->fbuf, (uint8_t *)(uintptr_t)rec, len, &err), "append: %s",
                  err ? err->message : "?");
}

void
tu_fb_flush(struct tu_fb *w)
{
    GError *err = NULL;

    ck_assert_msg(fBufEmit(w->fbuf, &err), "emit: %s", err ? err->message : "?");
}

void
tu_fb_close(struct tu_fb *w)
{
    tu_fb_flush(w);
    fBufFree(w->fbuf);
    fbInfoModelFree(w->model);
}

/* ---- decoding ---- */

/* The records of one pass, as a hash each, to compare the two decoders. */
struct raw_pass {
    uint64_t *hash;
    size_t n, cap;
};

struct dec_ctx {
    struct norm *norm;      /* NULL: the reference pass, records hashed only */
    struct tu_decoded *d;
    struct raw_pass *raw;
    size_t cap;
};

static uint64_t
record_hash(const struct ipfix_record *rec)
{
    struct {
        uint64_t present;
        uint32_t domain, export_time;
        uint64_t options;
    } head = {rec->present, rec->domain, rec->export_time, rec->options};

    return XXH3_64bits_withSeed(rec->f, sizeof(*rec->f), XXH3_64bits(&head, sizeof(head)));
}

static void
on_record(void *arg, const struct ipfix_record *rec)
{
    struct dec_ctx *c = arg;
    struct flow f;

    if (c->raw->n == c->raw->cap) {
        c->raw->cap = c->raw->cap ? c->raw->cap * 2 : 256;
        c->raw->hash = xreallocarray(c->raw->hash, c->raw->cap, sizeof(uint64_t));
    }
    c->raw->hash[c->raw->n++] = record_hash(rec);
    if (c->norm == NULL)
        return;
    if (!rec->options) {
        c->d->raw_records++;
        if (rec->present & IPF_BIT(IPF_PKT_DELTA)) {
            c->d->raw_pkt_delta += rec->f->pkt_delta;
            c->d->raw_with_delta++;
        }
        if (rec->present & IPF_BIT(IPF_PKT_TOTAL)) {
            c->d->raw_pkt_total += rec->f->pkt_total;
            c->d->raw_with_total++;
        }
    }
    if (norm_record(c->norm, rec, &f) != NORM_FLOW)
        return;
    if (c->d->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->d->flows = xreallocarray(c->d->flows, c->cap, sizeof(struct flow));
    }
    c->d->flows[c->d->n++] = f;
}

static struct norm *live_norm;

void
tu_decode(const char *path, struct tu_decoded *d)
{
    struct dec_ctx c;
    struct ingest_file_opts opts = {.fn = on_record, .ctx = &c};
    struct raw_pass fast = {0}, ref = {0};
    struct ingest_stats ref_stats = {0};
    struct ds_error err;
    enum ds_rc ref_rc;

    log_init(0, getenv("TU_VERBOSE") ? LOG_DEBUG : LOG_ERR, "test");
    ingest_quiet_libfixbuf();

    /* the reference: libfixbuf decodes every record */
    memset(d, 0, sizeof(*d));
    memset(&c, 0, sizeof(c));
    c.d = d;
    c.raw = &ref;
    opts.use_libfixbuf = true;
    ref_rc = ingest_file(path, &opts, &ref_stats, NULL, &err);

    memset(d, 0, sizeof(*d));
    memset(&c, 0, sizeof(c));
    c.norm = norm_new();
    c.d = d;
    c.raw = &fast;
    opts.use_libfixbuf = false;
    d->rc = ingest_file(path, &opts, &d->stats, NULL, &err);
    if (d->rc != DS_OK)
        snprintf(d->err, sizeof(d->err), "%s", err.msg);
    d->norm = *norm_get_stats(c.norm);
    /* flows point into the normaliser's exporters: keep it for the test */
    norm_free(live_norm);
    live_norm = c.norm;

    ck_assert_msg(ref_rc == d->rc, "%s: libfixbuf alone returns %d, the fast path %d", path,
                  ref_rc, d->rc);
    ck_assert_msg(ref.n == fast.n, "%s: libfixbuf alone decodes %zu records, the fast path %zu",
                  path, ref.n, fast.n);
    for (size_t i = 0; i < ref.n; i++)
        ck_assert_msg(ref.hash[i] == fast.hash[i],
                      "%s: record %zu differs between libfixbuf alone and the fast path", path,
                      i);
    ck_assert_uint_eq(ref_stats.records, d->stats.records);
    ck_assert_uint_eq(ref_stats.options_records, d->stats.options_records);
    free(ref.hash);
    free(fast.hash);
}

struct to_ipfix {
    FILE *out;
    long n;
};

static int
write_ipfix(void *arg, const struct pcap_udp *u)
{
    struct to_ipfix *t = arg;

    if (u->len >= 16 && u->payload[0] == 0 && u->payload[1] == 10) {
        ck_assert_uint_eq(fwrite(u->payload, 1, u->len, t->out), u->len);
        t->n++;
    }
    return 0;
}

long
tu_pcap_to_ipfix(const char *pcap_path, const char *out_path)
{
    struct to_ipfix t = {fopen(out_path, "wb"), 0};
    char err[256];

    ck_assert_msg(t.out != NULL, "%s: %s", out_path, strerror(errno));
    ck_assert_msg(pcap_each_udp(pcap_path, write_ipfix, &t, err, sizeof(err)) >= 0, "%s", err);
    ck_assert_int_eq(fclose(t.out), 0);
    return t.n;
}

void
tu_decoded_free(struct tu_decoded *d)
{
    free(d->flows);
    d->flows = NULL;
    d->n = 0;
}

struct ds_cfg *
tu_cfg(const char *yaml)
{
    struct ds_cfg *cfg = NULL;
    struct ds_error err;

    if (cfg_load_string("test.yaml", yaml, &cfg, &err) != DS_OK)
        ck_abort_msg("config: %s", err.msg);
    return cfg;
}

struct flow
tu_flow(int64_t start_ms, uint64_t packets, const char *src, const char *dst, uint8_t proto,
        uint16_t sport, uint16_t dport)
{
    struct flow f;

    memset(&f, 0, sizeof(f));
    f.start_ms = start_ms;
    f.end_ms = start_ms;
    f.packets = packets;
    ck_assert_int_eq(addr_parse(src, &f.src), 0);
    ck_assert_int_eq(addr_parse(dst, &f.dst), 0);
    f.ip_version = addr_is_v4(&f.dst) ? 4 : 6;
    f.proto = proto;
    f.src_port = sport;
    f.dst_port = dport;
    f.sampling = 1;
    f.src_value = addr_value(&f.src);
    f.dst_value = addr_value(&f.dst);
    return f;
}

int
tu_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}
