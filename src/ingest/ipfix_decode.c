/*
 * Decoding of checked IPFIX messages (see ds/ingest.h).
 *
 * libfixbuf owns the templates: every template set goes through it, and its
 * new-template callback describes each external template for us.  The
 * records are then decoded on one of two paths:
 *
 *   - the fast path, for templates whose elements all have a fixed length
 *     (what routers and most probes send): records sit at a fixed stride and
 *     each element darkstab reads at a fixed offset, so a plan made once per
 *     template copies them out with libfixbuf's own conversion rules
 *     (big-endian integers widened to their native size, addresses and
 *     octet arrays as they are).  libfixbuf's generic transcoding costs
 *     about 70 ns a record here, more than all of darkstab's reader besides;
 *     the plan costs a few;
 *   - libfixbuf itself (fBufNext) for templates with variable-length
 *     elements or lists (YAF's, for instance), and for every record when
 *     the decoder is told to (ipfix_decoder_use_libfixbuf): the tests decode
 *     every fixture and capture both ways and require the same fields.
 *
 * On the libfixbuf path each external template gets an internal template
 * with only the elements it actually carries (asking for all forty-odd
 * halves the rate), built on first use and shared by every external
 * template with the same elements; the packed result is scattered into
 * struct ipfix_fields.
 *
 * libfixbuf is used in buffer mode (fBufSetBuffer, no collector): framing
 * and the structural check happen before it, in ingest_file.c and
 * ipfix_check.c, and the collector will feed datagrams the same way.
 */
#include <fixbuf/public.h>
#include <fixbuf/private.h> /* fBufRewind: back to a message boundary after an error */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/ingest.h"
#include "ds/log.h"
#include "ds/xmem.h"
#include "ingest_int.h"

#define F(id, name, field, kind)                                                               \
    {id, name, sizeof(((struct ipfix_fields *)0)->field),                                      \
     offsetof(struct ipfix_fields, field), kind}

/* Order matters: widest first, so the packed internal record needs no padding. */
const struct ipf_desc ipf_table[IPF_N_FIELDS] = {
    [IPF_SRC6] = F(27, "sourceIPv6Address", src6, IPFK_ADDR),
    [IPF_DST6] = F(28, "destinationIPv6Address", dst6, IPFK_ADDR),
    [IPF_EXPORTER6] = F(131, "exporterIPv6Address", exporter6, IPFK_ADDR),
    [IPF_PKT_DELTA] = F(2, "packetDeltaCount", pkt_delta, IPFK_UINT),
    [IPF_PKT_TOTAL] = F(86, "packetTotalCount", pkt_total, IPFK_UINT),
    [IPF_OCT_DELTA] = F(1, "octetDeltaCount", oct_delta, IPFK_UINT),
    [IPF_OCT_TOTAL] = F(85, "octetTotalCount", oct_total, IPFK_UINT),
    [IPF_START_MS] = F(152, "flowStartMilliseconds", start_ms, IPFK_EXACT),
    [IPF_END_MS] = F(153, "flowEndMilliseconds", end_ms, IPFK_EXACT),
    [IPF_START_US] = F(154, "flowStartMicroseconds", start_us, IPFK_EXACT),
    [IPF_END_US] = F(155, "flowEndMicroseconds", end_us, IPFK_EXACT),
    [IPF_START_NS] = F(156, "flowStartNanoseconds", start_ns, IPFK_EXACT),
    [IPF_END_NS] = F(157, "flowEndNanoseconds", end_ns, IPFK_EXACT),
    [IPF_SYSINIT_MS] = F(160, "systemInitTimeMilliseconds", sysinit_ms, IPFK_EXACT),
    [IPF_SELECTOR_ID] = F(302, "selectorId", selector_id, IPFK_UINT),
    [IPF_SAMPLING_PROB] = F(311, "samplingProbability", sampling_prob, IPFK_EXACT),
    [IPF_START_S] = F(150, "flowStartSeconds", start_s, IPFK_EXACT),
    [IPF_END_S] = F(151, "flowEndSeconds", end_s, IPFK_EXACT),
    [IPF_START_UPTIME] = F(22, "flowStartSysUpTime", start_uptime, IPFK_UINT),
    [IPF_END_UPTIME] = F(21, "flowEndSysUpTime", end_uptime, IPFK_UINT),
    [IPF_START_DELTA_US] = F(158, "flowStartDeltaMicroseconds", start_delta_us, IPFK_UINT),
    [IPF_END_DELTA_US] = F(159, "flowEndDeltaMicroseconds", end_delta_us, IPFK_UINT),
    [IPF_SRC4] = F(8, "sourceIPv4Address", src4, IPFK_ADDR),
    [IPF_DST4] = F(12, "destinationIPv4Address", dst4, IPFK_ADDR),
    [IPF_EXPORTER4] = F(130, "exporterIPv4Address", exporter4, IPFK_ADDR),
    [IPF_SAMPLING_INTERVAL] = F(34, "samplingInterval", sampling_interval, IPFK_UINT),
    [IPF_SAMPLER_RANDOM_INTERVAL] =
        F(50, "samplerRandomInterval", sampler_random_interval, IPFK_UINT),
    [IPF_SAMPLING_PKT_INTERVAL] =
        F(305, "samplingPacketInterval", sampling_pkt_interval, IPFK_UINT),
    [IPF_SAMPLING_PKT_SPACE] = F(306, "samplingPacketSpace", sampling_pkt_space, IPFK_UINT),
    [IPF_SAMPLING_SIZE] = F(309, "samplingSize", sampling_size, IPFK_UINT),
    [IPF_SAMPLING_POPULATION] = F(310, "samplingPopulation", sampling_population, IPFK_UINT),
    [IPF_OBS_DOMAIN] = F(149, "observationDomainId", obs_domain, IPFK_UINT),
    [IPF_SRC_PORT] = F(7, "sourceTransportPort", src_port, IPFK_UINT),
    [IPF_DST_PORT] = F(11, "destinationTransportPort", dst_port, IPFK_UINT),
    [IPF_ICMP_TC4] = F(32, "icmpTypeCodeIPv4", icmp_tc4, IPFK_UINT),
    [IPF_ICMP_TC6] = F(139, "icmpTypeCodeIPv6", icmp_tc6, IPFK_UINT),
    [IPF_TCP_FLAGS] = F(6, "tcpControlBits", tcp_flags, IPFK_UINT),
    [IPF_SAMPLER_ID] = F(48, "samplerId", sampler_id, IPFK_UINT),
    [IPF_PROTO] = F(4, "protocolIdentifier", proto, IPFK_UINT),
    [IPF_IP_VERSION] = F(60, "ipVersion", ip_version, IPFK_UINT),
    [IPF_ICMP_T4] = F(176, "icmpTypeIPv4", icmp_t4, IPFK_UINT),
    [IPF_ICMP_C4] = F(177, "icmpCodeIPv4", icmp_c4, IPFK_UINT),
    [IPF_ICMP_T6] = F(178, "icmpTypeIPv6", icmp_t6, IPFK_UINT),
    [IPF_ICMP_C6] = F(179, "icmpCodeIPv6", icmp_c6, IPFK_UINT),
};

int
ipf_by_ie(uint16_t ie)
{
    static int8_t index[512];
    static int ready;

    if (!ready) {
        memset(index, -1, sizeof(index));
        for (int i = 0; i < IPF_N_FIELDS; i++)
            index[ipf_table[i].ie] = (int8_t)i;
        ready = 1;
    }
    return ie < 512 ? index[ie] : -1;
}

/* One internal template: the elements of a presence mask, packed. */
struct int_tmpl {
    uint64_t mask;
    uint16_t tid;
    uint16_t rec_len;
    uint8_t n;
    struct {
        uint16_t rec_off;
        uint16_t fields_off;
        uint16_t len;
    } copy[IPF_N_FIELDS];
};

/* Where one element darkstab reads sits in a record, and how it converts. */
struct fast_field {
    uint16_t rec_off;       /* in the exporter's record */
    uint16_t fields_off;    /* in struct ipfix_fields */
    uint8_t len;            /* as sent */
    uint8_t native;         /* in struct ipfix_fields */
    uint8_t endian;         /* an integer (libfixbuf's FB_IE_F_ENDIAN) */
};

/* Per external template, attached with fbTemplate's context pointer. */
struct ext_ctx {
    uint64_t mask;
    int options;
    struct int_tmpl *it;    /* borrowed from the decoder; NULL until first use */
    /* the fast path: every element of fixed length */
    int fixed;
    uint16_t rec_len;
    uint8_t n_fast;
    struct fast_field fast[IPF_N_FIELDS];
};

#define INT_TMPL_MAX 1024
#define INT_TID_BASE 0x8000

/*
 * One information model for every decoder of the process: building one
 * takes hundreds of kilobytes and a millisecond, which a flood of new
 * senders would pay each.  Shared between threads, it must never change:
 * libfixbuf adds an "alien" element to the model for each element of a
 * template that the model lacks, so ipfix_check.c renames every such
 * element to paddingOctets before libfixbuf sees it
 * (ipfix_element_known()), and automatic element insertion (RFC 5610) is
 * never turned on.
 */
static fbInfoModel_t *shared_model;
static uint8_t known_ie[(IE_ENTERPRISE_BIT + 7) / 8];
static pthread_once_t model_once = PTHREAD_ONCE_INIT;

static void
model_init(void)
{
    fbInfoModelIter_t it;
    const fbInfoElement_t *ie;

    shared_model = fbInfoModelAlloc();
    fbInfoModelIterInit(&it, shared_model);
    while ((ie = fbInfoModelIterNext(&it)) != NULL)
        if (ie->ent == 0 && ie->num < IE_ENTERPRISE_BIT)
            known_ie[ie->num / 8] |= (uint8_t)(1u << (ie->num % 8));
}

bool
ipfix_element_known(uint16_t ie)
{
    pthread_once(&model_once, model_init);
    return ie < IE_ENTERPRISE_BIT && (known_ie[ie / 8] >> (ie % 8) & 1) != 0;
}

struct ipfix_decoder {
    fbInfoModel_t *model;       /* shared_model */
    fbSession_t *session;   /* owned by fbuf */
    fBuf_t *fbuf;
    struct int_tmpl *its[INT_TMPL_MAX];     /* owned */
    size_t n_its;
    const struct int_tmpl *cur;             /* internal template set on fbuf */
    uint64_t fields_mask;                   /* fields may be non-zero for these elements */
    int libfixbuf_only;                     /* no fast path */
    int64_t sysinit_ms;                     /* of the next messages (NetFlow v9), or 0 */
    uint32_t uptime_ms;
    struct ipfix_fields fields;
    uint8_t rec[1024];
};

static void
ctx_free(void *tmpl_ctx, void *app_ctx)
{
    (void)app_ctx;
    free(tmpl_ctx);
}

/* libfixbuf calls this for every template it accepts (already checked). */
static void
on_new_template(fbSession_t *session, uint16_t tid, fbTemplate_t *tmpl, void *app_ctx,
                void **tmpl_ctx, fbTemplateCtxFree_fn *free_fn)
{
    struct ext_ctx *c = xcalloc(1, sizeof(*c));
    uint32_t n = fbTemplateCountElements(tmpl);
    uint32_t off = 0;

    (void)session;
    (void)tid;
    (void)app_ctx;
    c->fixed = 1;
    for (uint32_t i = 0; i < n; i++) {
        const fbInfoElement_t *ie = fbTemplateGetIndexedIE(tmpl, i);
        int f;

        if (ie == NULL || ie->len == FB_IE_VARLEN) {
            c->fixed = 0;
            continue;
        }
        f = ie->ent == 0 ? ipf_by_ie(ie->num) : -1;
        /* The first of repeated elements, as libfixbuf's transcode plan takes. */
        if (f >= 0 && !(c->mask & IPF_BIT(f))) {
            struct fast_field *ff = &c->fast[c->n_fast++];

            c->mask |= IPF_BIT(f);
            ff->rec_off = (uint16_t)off;
            ff->fields_off = (uint16_t)ipf_table[f].offset;
            ff->len = (uint8_t)ie->len;
            ff->native = (uint8_t)ipf_table[f].len;
            ff->endian = (ie->flags & FB_IE_F_ENDIAN) != 0;
            /* The checker lets through no longer-than-native element; be safe anyway. */
            if (ie->len > ipf_table[f].len || (ff->endian && ie->len > 8))
                c->fixed = 0;
        }
        off += ie->len;
    }
    if (off == 0 || off > UINT16_MAX)
        c->fixed = 0;
    c->rec_len = (uint16_t)off;
    c->options = fbTemplateGetOptionsScope(tmpl) > 0;
    *tmpl_ctx = c;
    *free_fn = ctx_free;
}

static void
make_session(struct ipfix_decoder *dec)
{
    fbSession_t *session = fbSessionAlloc(dec->model);

    fbSessionAddNewTemplateCallback(session, on_new_template, dec);
    dec->fbuf = fBufAllocForCollection(session, NULL);
    dec->session = session;
    fBufSetAutomaticMode(dec->fbuf, FALSE);
    dec->cur = NULL;
}

struct ipfix_decoder *
ipfix_decoder_new(void)
{
    struct ipfix_decoder *dec = xcalloc(1, sizeof(*dec));

    pthread_once(&model_once, model_init);
    dec->model = shared_model;
    make_session(dec);
    return dec;
}

static void
free_its(struct ipfix_decoder *dec)
{
    for (size_t i = 0; i < dec->n_its; i++)
        free(dec->its[i]);
    dec->n_its = 0;
}

void
ipfix_decoder_free(struct ipfix_decoder *dec)
{
    if (dec == NULL)
        return;
    fBufFree(dec->fbuf);
    free_its(dec);
    free(dec);
}

void
ipfix_decoder_reset(struct ipfix_decoder *dec)
{
    fBufFree(dec->fbuf);
    free_its(dec);
    make_session(dec);
}

/* Finds or builds the internal template for a presence mask. */
static struct int_tmpl *
internal_template(struct ipfix_decoder *dec, uint64_t mask, struct ds_error *err)
{
    fbInfoElementSpec_t spec[IPF_N_FIELDS + 2];
    struct int_tmpl *it;
    fbTemplate_t *tmpl;
    GError *gerr = NULL;
    size_t n = 0;
    uint16_t off = 0;

    /* A record with nothing we read still needs a template to be skipped. */
    if (mask == 0)
        mask = IPF_BIT(IPF_PROTO);
    for (size_t i = 0; i < dec->n_its; i++)
        if (dec->its[i]->mask == mask)
            return dec->its[i];
    if (dec->n_its == INT_TMPL_MAX) {
        ds_error_set(err, DS_ERR_LIMIT, "more than %d distinct template layouts", INT_TMPL_MAX);
        return NULL;
    }
    it = xcalloc(1, sizeof(*it));
    it->mask = mask;
    for (int f = 0; f < IPF_N_FIELDS; f++) {
        if (!(mask & IPF_BIT(f)))
            continue;
        spec[n].name = (char *)(uintptr_t)ipf_table[f].name;
        spec[n].len_override = ipf_table[f].len;
        spec[n].flags = 0;
        it->copy[n].rec_off = off;
        it->copy[n].fields_off = (uint16_t)ipf_table[f].offset;
        it->copy[n].len = ipf_table[f].len;
        off += ipf_table[f].len;
        n++;
    }
    spec[n].name = NULL;
    it->n = (uint8_t)n;
    it->rec_len = off;
    it->tid = (uint16_t)(INT_TID_BASE + dec->n_its);
    tmpl = fbTemplateAlloc(dec->model);
    if (!fbTemplateAppendSpecArray(tmpl, spec, 0, &gerr) ||
        !fbSessionAddTemplate(dec->session, TRUE, it->tid, tmpl, &gerr)) {
        ds_error_set(err, DS_ERR_INTERNAL, "libfixbuf refused an internal template: %s",
                     gerr ? gerr->message : "?");
        g_clear_error(&gerr);
        fbTemplateFreeUnused(tmpl);
        free(it);
        return NULL;
    }
    dec->its[dec->n_its++] = it;
    return it;
}

/* Copies the packed record into its fields; fixed sizes let memcpy inline. */
static inline void
scatter(const struct int_tmpl *it, const uint8_t *rec, uint8_t *fields)
{
    for (uint8_t i = 0; i < it->n; i++) {
        uint8_t *to = fields + it->copy[i].fields_off;
        const uint8_t *from = rec + it->copy[i].rec_off;

        switch (it->copy[i].len) {
        case 1:
            *to = *from;
            break;
        case 2:
            memcpy(to, from, 2);
            break;
        case 4:
            memcpy(to, from, 4);
            break;
        case 8:
            memcpy(to, from, 8);
            break;
        default:
            memcpy(to, from, 16);
            break;
        }
    }
}

/* Elements the coming layout lacks must read as zero: clears what the last one set. */
static inline void
switch_layout(struct ipfix_decoder *dec, uint64_t mask)
{
    if (mask == dec->fields_mask)
        return;
    for (uint64_t stale = dec->fields_mask & ~mask; stale; stale &= stale - 1) {
        int f = __builtin_ctzll(stale);

        memset((uint8_t *)&dec->fields + ipf_table[f].offset, 0, ipf_table[f].len);
    }
    dec->fields_mask = mask;
}

/* The libfixbuf path: every set of msg through fBufNext. */
static enum ds_rc
libfixbuf_message(struct ipfix_decoder *dec, const uint8_t *msg, size_t len, ipfix_record_fn fn,
                  void *ctx, struct ingest_stats *stats, struct ds_error *err)
{
    struct ipfix_record rec;
    GError *gerr = NULL;
    enum ds_rc rc = DS_OK;

    /* libfixbuf does not write to a collection buffer; the cast is its API's. */
    fBufSetBuffer(dec->fbuf, (uint8_t *)(uintptr_t)msg, len);
    rec.f = &dec->fields;
    rec.domain = rd32(msg + 12);
    rec.export_time = rd32(msg + 4);
    rec.sysinit_ms = dec->sysinit_ms;
    rec.uptime_ms = dec->uptime_ms;
    for (;;) {
        fbTemplate_t *tmpl;
        struct ext_ctx *c;
        size_t rlen;
        uint16_t ext_tid;

        tmpl = fBufNextCollectionTemplate(dec->fbuf, &ext_tid, &gerr);
        if (tmpl == NULL)
            break;
        c = fbTemplateGetContext(tmpl);
        if (c == NULL) {
            rc = ds_error_set(err, DS_ERR_INTERNAL, "template %u has no context", ext_tid);
            break;
        }
        if (c->it == NULL) {
            c->it = internal_template(dec, c->mask, err);
            if (c->it == NULL) {
                rc = DS_ERR_LIMIT;
                break;
            }
        }
        if (c->it != dec->cur) {
            if (!fBufSetInternalTemplate(dec->fbuf, c->it->tid, &gerr))
                break;
            dec->cur = c->it;
        }
        rlen = sizeof(dec->rec);
        if (!fBufNext(dec->fbuf, dec->rec, &rlen, &gerr))
            break;
        switch_layout(dec, c->it->mask);
        scatter(c->it, dec->rec, (uint8_t *)&dec->fields);
        rec.present = c->mask;
        rec.options = c->options;
        if (rec.options)
            stats->options_records++;
        else
            stats->records++;
        fn(ctx, &rec);
    }
    if (gerr != NULL) {
        if (!g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM)) {
            rc = ds_error_set(err, DS_ERR_PARSE, "libfixbuf: %s", gerr->message);
            stats->bad_messages++;
        }
        g_clear_error(&gerr);
    }
    /*
     * Leave the buffer at a message boundary whatever happened, so that the
     * next message starts clean.
     */
    fBufRewind(dec->fbuf);
    return rc;
}

/*
 * One element, converted as libfixbuf's fbDecodeFixed converts it: an
 * integer (reduced-size or not) to its native width in host order, anything
 * else copied and zero-filled to its native length.
 */
static inline void
fast_copy(const struct fast_field *ff, const uint8_t *rec, uint8_t *fields)
{
    const uint8_t *from = rec + ff->rec_off;
    uint8_t *to = fields + ff->fields_off;
    uint64_t v;

    if (!ff->endian) {
        memcpy(to, from, ff->len);
        if (ff->len < ff->native)
            memset(to + ff->len, 0, (size_t)(ff->native - ff->len));
        return;
    }
    switch (ff->len) {
    case 1:
        v = from[0];
        break;
    case 2:
        v = rd16(from);
        break;
    case 4:
        v = rd32(from);
        break;
    case 8:
        v = (uint64_t)rd32(from) << 32 | rd32(from + 4);
        break;
    default:
        v = 0;
        for (uint8_t i = 0; i < ff->len; i++)
            v = v << 8 | from[i];
        break;
    }
    switch (ff->native) {
    case 1:
        *to = (uint8_t)v;
        break;
    case 2: {
        uint16_t x = (uint16_t)v;

        memcpy(to, &x, 2);
        break;
    }
    case 4: {
        uint32_t x = (uint32_t)v;

        memcpy(to, &x, 4);
        break;
    }
    default:
        memcpy(to, &v, 8);
        break;
    }
}

/* The records of one data set of a fixed-length template. */
static void
fast_set(struct ipfix_decoder *dec, const struct ext_ctx *c, const uint8_t *body, size_t len,
         struct ipfix_record *rec, ipfix_record_fn fn, void *ctx, struct ingest_stats *stats)
{
    uint8_t *fields = (uint8_t *)&dec->fields;

    switch_layout(dec, c->mask);
    rec->present = c->mask;
    rec->options = c->options;
    /* Fewer bytes than a record at the end are padding (RFC 7011 3.3.1). */
    for (size_t pos = 0; len - pos >= c->rec_len; pos += c->rec_len) {
        for (uint8_t i = 0; i < c->n_fast; i++)
            fast_copy(&c->fast[i], body + pos, fields);
        if (c->options)
            stats->options_records++;
        else
            stats->records++;
        fn(ctx, rec);
    }
}

/* The external template of a data set, if libfixbuf holds one. */
static const struct ext_ctx *
data_template(struct ipfix_decoder *dec, uint32_t domain, uint16_t tid)
{
    fbTemplate_t *tmpl;

    fbSessionSetDomain(dec->session, domain);
    tmpl = fbSessionGetTemplate(dec->session, FALSE, tid, NULL);
    return tmpl != NULL ? fbTemplateGetContext(tmpl) : NULL;
}

/*
 * One set of a message with its header, for libfixbuf: a buffer a thread
 * (it is read before the thread decodes anything else), not one a sender.
 */
static _Thread_local uint8_t part[IPFIX_MSG_MAX];

/* The header of msg and one of its sets, as a message of its own in part. */
static size_t
one_set(const uint8_t *msg, const uint8_t *set, size_t set_len)
{
    size_t n = IPFIX_HDR_LEN + set_len;

    memcpy(part, msg, IPFIX_HDR_LEN);
    memcpy(part + IPFIX_HDR_LEN, set, set_len);
    part[2] = (uint8_t)(n >> 8);
    part[3] = (uint8_t)n;
    return n;
}

enum ds_rc
ipfix_decoder_message(struct ipfix_decoder *dec, const uint8_t *msg, size_t len,
                      ipfix_record_fn fn, void *ctx, struct ingest_stats *stats,
                      struct ds_error *err)
{
    struct ipfix_record rec;
    enum ds_rc rc = DS_OK;
    size_t pos = IPFIX_HDR_LEN;

    if (dec->libfixbuf_only)
        return libfixbuf_message(dec, msg, len, fn, ctx, stats, err);
    rec.f = &dec->fields;
    rec.domain = rd32(msg + 12);
    rec.export_time = rd32(msg + 4);
    rec.sysinit_ms = dec->sysinit_ms;
    rec.uptime_ms = dec->uptime_ms;
    /*
     * Set by set, in order: a template set may redefine a template that an
     * earlier data set of the same message used.
     */
    while (len - pos >= 4) {
        const uint8_t *set = msg + pos;
        uint16_t set_id = rd16(set), set_len = rd16(set + 2);
        const struct ext_ctx *c = NULL;
        enum ds_rc r;

        if (set_len < 4 || set_len > len - pos)
            break; /* the checker passes no such set */
        pos += set_len;
        if (set_id >= 256) {
            c = data_template(dec, rec.domain, set_id);
            if (c != NULL && c->fixed) {
                fast_set(dec, c, set + 4, set_len - 4u, &rec, fn, ctx, stats);
                continue;
            }
        }
        /* Template sets, and data libfixbuf must decode (or report as undecodable). */
        r = libfixbuf_message(dec, part, one_set(msg, set, set_len), fn, ctx, stats,
                              err);
        if (r != DS_OK)
            rc = r;
    }
    return rc;
}

void
ipfix_decoder_use_libfixbuf(struct ipfix_decoder *dec, bool on)
{
    dec->libfixbuf_only = on;
}

void
ipfix_decoder_set_uptime(struct ipfix_decoder *dec, int64_t sysinit_ms, uint32_t uptime_ms)
{
    dec->sysinit_ms = sysinit_ms;
    dec->uptime_ms = uptime_ms;
}

static void
glib_log(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer user)
{
    (void)domain;
    (void)level;
    (void)user;
    log_debug("libfixbuf: %s", message);
}

void
ingest_quiet_libfixbuf(void)
{
    g_log_set_default_handler(glib_log, NULL);
}
