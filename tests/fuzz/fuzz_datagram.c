/*
 * Fuzz target: datagrams and TCP bytes through the collector's decoding,
 * with the exporters' state kept between inputs as a collector keeps it
 * (src/pipeline/collect.c): the exporter table with probation and small
 * limits, a session and a sampling state per exporter, the checker, the
 * decoder (IPFIX, NetFlow v9, v5, sFlow), normalisation and the darknet
 * filter.
 *
 * Input: byte 0 picks the sender (bits 0-3: one of 16 addresses, more than
 * the table holds, so that evictions happen) and the transport (bit 7: the
 * rest is bytes of that sender's TCP stream; else one datagram).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ds/addr.h"
#include "ds/exporter_table.h"
#include "ds/ingest.h"
#include "ds/norm.h"
#include "ds/prefix.h"
#include "ds/xmem.h"

struct sender {
    struct ingest_session *s;
    struct norm_source *norm;
    struct addr a;
    int proto;
};

static struct exporter_table *table;
static struct ingest_session *streams[16];
static struct norm *norm;
static struct prefix_set *dark;
static struct ingest_template_pool pool = {0, 4u << 20};
static const struct ingest_limits limits = {64, 256, 256 * 1024, &pool};

static void
sender_free(void *p)
{
    struct sender *x = p;

    ingest_session_free(x->s);
    norm_source_free(x->norm);
    free(x);
}

static void
evicted(void *ctx, void *entry, const char *why)
{
    (void)ctx;
    (void)why;
    sender_free(entry);
}

static void
setup(void)
{
    struct exporter_table_limits lim = {4, 4, 1000};
    struct cidr c;
    char why[100];

    ingest_quiet_libfixbuf();
    table = exporter_table_new(&lim, evicted, sender_free, NULL);
    norm = norm_new();
    cidr_parse("198.18.0.0/15", &c, why, sizeof(why));
    dark = prefix_set_new(&c, 1, NULL, 0);
}

struct rec_ctx {
    struct sender *x;
    uint64_t flows;
};

static void
on_record(void *arg, const struct ipfix_record *rec)
{
    struct rec_ctx *r = arg;
    struct flow f;

    if (norm_source_record(r->x->norm, rec, &f) != NORM_FLOW)
        return;
    exporter_table_promote(table, &r->x->a, r->x->proto, 0);
    if (prefix_set_classify(dark, &f.dst) == PREFIX_DARK)
        r->flows += f.packets;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ingest_stats st;
    struct ds_error err;
    struct rec_ctx r = {NULL, 0};
    struct addr a;
    int proto, who;
    bool stream;

    if (table == NULL)
        setup();
    if (size < 1)
        return 0;
    who = data[0] & 15;
    stream = (data[0] & 0x80) != 0;
    addr_from_v4(&a, 0x7f000001u + (uint32_t)who);
    data++;
    size--;
    proto = stream ? INGEST_IPFIX : ingest_detect(data, size);
    if (proto < 0)
        return 0;
    r.x = exporter_table_find(table, &a, proto, 0);
    if (r.x == NULL) {
        r.x = xcalloc(1, sizeof(*r.x));
        r.x->a = a;
        r.x->proto = proto;
        r.x->s = ingest_session_new((enum ingest_proto)proto);
        ingest_session_set_limits(r.x->s, &limits);
        r.x->norm = norm_source_new(norm, &a);
        exporter_table_add(table, &a, proto, r.x, false, 0);
    }
    memset(&st, 0, sizeof(st));
    if (stream) {
        if (streams[who] == NULL) {
            streams[who] = ingest_session_new(INGEST_IPFIX);
            ingest_session_set_limits(streams[who], &limits);
        }
        ingest_session_stream(streams[who], data, size, 0, on_record, &r, &st, &err);
    } else {
        ingest_session_datagram(r.x->s, data, size, 0, on_record, &r, &st, &err);
    }
    return 0;
}
