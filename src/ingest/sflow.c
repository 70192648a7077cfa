/*
 * Decoding of sFlow v5 datagrams (see ds/ingest.h).
 *
 * Method: sFlow version 5 (https://sflow.org/sflow_version_5.txt), XDR
 * encoded (RFC 4506): big-endian 32-bit words, opaque data padded to a
 * multiple of 4 bytes.
 *
 *   datagram       version (5), agent address (type 1 IPv4 + 4 bytes,
 *                  type 2 IPv6 + 16 bytes), sub_agent_id, sequence_number,
 *                  uptime (ms), num_samples, samples
 *   sample         data_format (enterprise << 12 | format), length, data
 *   flow sample    (0:1) sequence_number, source_id (type << 24 | index),
 *                  sampling_rate, sample_pool, drops, input, output,
 *                  num_records, flow records
 *   expanded       (0:3) sequence_number, source_id_type, source_id_index,
 *                  sampling_rate, sample_pool, drops, input format + value,
 *                  output format + value, num_records, flow records
 *   counter sample (0:2, 0:4) counted, not read
 *   flow record    data_format, length, data:
 *                  (0:1) sampled header: header_protocol, frame_length,
 *                        stripped, header length, header bytes
 *                  (0:3) sampled IPv4: length, protocol, src, dst,
 *                        src_port, dst_port, tcp_flags, tos
 *                  (0:4) sampled IPv6: length, protocol, src, dst (16 each),
 *                        src_port, dst_port, tcp_flags, priority
 *
 * Our implementation:
 *   1. every length and count read from the datagram is checked against
 *      what is left of its enclosing structure before use; each loop
 *      consumes at least 8 bytes a turn, so a lying count ends at the end
 *      of the data.  A structure that overruns its container makes the
 *      datagram malformed from there on (DS_ERR_PARSE with the offset);
 *      samples already delivered stay delivered;
 *   2. samples and flow records of unknown formats or enterprises are
 *      skipped by their length (sFlow is designed to be extended so);
 *   3. a flow sample gives at most one record: the first of its flow
 *      records that yields an IP address, else the first that describes a
 *      packet at all (an Ethernet frame that is not IP, say: delivered
 *      without addresses, so that norm counts it rather than it vanishing);
 *   4. sampled headers (usually the first 128 bytes of the frame) are parsed
 *      as far as they go: Ethernet with any number of 802.1Q/802.1ad tags,
 *      MPLS labels, IPv4 (honouring IHL; non-first fragments have no ports)
 *      or IPv6 (hop-by-hop, routing, fragment, destination options and AH
 *      headers skipped), then TCP/UDP/SCTP/DCCP/UDP-Lite ports, TCP flags,
 *      ICMP/ICMPv6 type and code.  Only the fields actually read are
 *      marked present: a header cut after the IP header gives addresses
 *      and protocol without ports;
 *   5. tunnels (VXLAN, GRE, IP-in-IP) are not opened: the outer packet is
 *      what crossed the sampled interface and what a darknet sensor saw
 *      arrive, so it is the one reported.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ds/ingest.h"
#include "ds/proto.h"
#include "ingest_int.h"

#define SFLOW_VERSION 5
#define AGENT_IPV4 1
#define AGENT_IPV6 2

/* Sample and flow record formats of enterprise 0. */
#define SAMPLE_FLOW 1
#define SAMPLE_COUNTERS 2
#define SAMPLE_FLOW_EXPANDED 3
#define SAMPLE_COUNTERS_EXPANDED 4
#define RECORD_RAW_HEADER 1
#define RECORD_IPV4 3
#define RECORD_IPV6 4

/* header_protocol values of a sampled header */
#define HEADER_ETHERNET 1
#define HEADER_IPV4 11
#define HEADER_IPV6 12

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100
#define ETH_MPLS 0x8847
#define ETH_MPLS_MC 0x8848

#define IP6_HOPOPTS 0
#define IP6_ROUTING 43
#define IP6_FRAGMENT 44
#define IP6_AH 51
#define IP6_DSTOPTS 60

/* A packet as far as a flow record describes it. */
struct pkt {
    struct ipfix_fields f;
    uint64_t present;
};

#define SET(pk, field) ((pk)->present |= IPF_BIT(field))

/* Where a parse stands; offsets count from the start of the datagram. */
struct walk {
    const uint8_t *d;
    struct ds_error *err;
};

static enum ds_rc bad(const struct walk *w, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum ds_rc
bad(const struct walk *w, size_t off, const char *fmt, ...)
{
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    return ds_error_set(w->err, DS_ERR_PARSE, "sflow: offset %zu: %s", off, text);
}

/* XDR opaque data is padded to 4 bytes; the last item may end without its padding. */
static size_t
padded(size_t len, size_t avail)
{
    size_t p = (len + 3) & ~(size_t)3;

    return p < avail ? p : avail;
}

/* ---- sampled packet headers ---- */

static void
parse_l4(struct pkt *pk, const uint8_t *p, size_t n, int v6)
{
    uint8_t proto = pk->f.proto;

    if (proto_has_ports(proto)) {
        if (n >= 4) {
            pk->f.src_port = rd16(p);
            pk->f.dst_port = rd16(p + 2);
            SET(pk, IPF_SRC_PORT);
            SET(pk, IPF_DST_PORT);
        }
        /* RFC 7125: tcpControlBits is the 16-bit word without the data offset. */
        if (proto == PROTO_TCP && n >= 14) {
            pk->f.tcp_flags = rd16(p + 12) & 0x0fff;
            SET(pk, IPF_TCP_FLAGS);
        }
    } else if (proto == PROTO_ICMP && !v6) {
        if (n >= 2) {
            pk->f.icmp_t4 = p[0];
            pk->f.icmp_c4 = p[1];
            SET(pk, IPF_ICMP_T4);
            SET(pk, IPF_ICMP_C4);
        }
    } else if (proto == PROTO_ICMPV6 && v6) {
        if (n >= 2) {
            pk->f.icmp_t6 = p[0];
            pk->f.icmp_c6 = p[1];
            SET(pk, IPF_ICMP_T6);
            SET(pk, IPF_ICMP_C6);
        }
    }
}

static void
parse_ipv4(struct pkt *pk, const uint8_t *p, size_t n)
{
    size_t ihl;

    if (n < 1 || p[0] >> 4 != 4)
        return;
    pk->f.ip_version = 4;
    SET(pk, IPF_IP_VERSION);
    if (n < 10)
        return;
    pk->f.proto = p[9];
    SET(pk, IPF_PROTO);
    if (n < 16)
        return;
    pk->f.src4 = rd32(p + 12);
    SET(pk, IPF_SRC4);
    if (n < 20)
        return;
    pk->f.dst4 = rd32(p + 16);
    SET(pk, IPF_DST4);
    ihl = (size_t)(p[0] & 0x0f) * 4;
    /* Only the first fragment carries the transport header. */
    if (ihl < 20 || ihl > n || (rd16(p + 6) & 0x1fff) != 0)
        return;
    parse_l4(pk, p + ihl, n - ihl, 0);
}

static void
parse_ipv6(struct pkt *pk, const uint8_t *p, size_t n)
{
    size_t pos = 40;
    uint8_t next;

    if (n < 1 || p[0] >> 4 != 6)
        return;
    pk->f.ip_version = 6;
    SET(pk, IPF_IP_VERSION);
    if (n < 24)
        return;
    memcpy(pk->f.src6, p + 8, 16);
    SET(pk, IPF_SRC6);
    if (n < 40)
        return;
    memcpy(pk->f.dst6, p + 24, 16);
    SET(pk, IPF_DST6);
    next = p[6];
    /* Each extension header takes at least 8 bytes, so this ends within n. */
    for (;;) {
        size_t len;

        switch (next) {
        case IP6_HOPOPTS:
        case IP6_ROUTING:
        case IP6_DSTOPTS:
        case IP6_AH:
            if (n - pos < 2)
                return;
            len = next == IP6_AH ? ((size_t)p[pos + 1] + 2) * 4 : ((size_t)p[pos + 1] + 1) * 8;
            if (len > n - pos)
                return;
            next = p[pos];
            pos += len;
            break;
        case IP6_FRAGMENT:
            if (n - pos < 8)
                return;
            next = p[pos];
            if ((rd16(p + pos + 2) >> 3) != 0) {
                /* a later fragment: its protocol is known, its ports are not */
                pk->f.proto = next;
                SET(pk, IPF_PROTO);
                return;
            }
            pos += 8;
            break;
        default:
            pk->f.proto = next;
            SET(pk, IPF_PROTO);
            parse_l4(pk, p + pos, n - pos, 1);
            return;
        }
    }
}

static void
parse_ethernet(struct pkt *pk, const uint8_t *p, size_t n)
{
    size_t pos = 14;
    uint16_t type;

    if (n < 14)
        return;
    type = rd16(p + 12);
    /* Any number of tags; each takes 4 bytes, so the loop ends within n. */
    while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
        if (n - pos < 4)
            return;
        type = rd16(p + pos + 2);
        pos += 4;
    }
    if (type == ETH_MPLS || type == ETH_MPLS_MC) {
        /* Labels to the bottom of the stack, then IP by its version nibble. */
        for (;;) {
            if (n - pos < 4)
                return;
            pos += 4;
            if (p[pos - 2] & 0x01)
                break;
        }
        if (n - pos < 1)
            return;
        type = p[pos] >> 4 == 4 ? ETH_IPV4 : p[pos] >> 4 == 6 ? ETH_IPV6 : 0;
    }
    if (type == ETH_IPV4)
        parse_ipv4(pk, p + pos, n - pos);
    else if (type == ETH_IPV6)
        parse_ipv6(pk, p + pos, n - pos);
}

/* ---- flow records ---- */

/*
 * A sampled header record at off, rlen bytes.  Returns DS_OK (*is_pkt set
 * when the header is of a protocol we read) or DS_ERR_PARSE.
 */
static enum ds_rc
record_raw_header(const struct walk *w, size_t off, size_t rlen, struct pkt *pk, int *is_pkt)
{
    const uint8_t *r = w->d + off;
    uint32_t proto, hlen;

    *is_pkt = 0;
    if (rlen < 16)
        return bad(w, off, "sampled header record of %zu bytes, at least 16 needed", rlen);
    proto = rd32(r);
    hlen = rd32(r + 12);
    if (hlen > rlen - 16)
        return bad(w, off + 12, "sampled header of %u bytes in a record of %zu", hlen, rlen);
    switch (proto) {
    case HEADER_ETHERNET:
        parse_ethernet(pk, r + 16, hlen);
        break;
    case HEADER_IPV4:
        parse_ipv4(pk, r + 16, hlen);
        break;
    case HEADER_IPV6:
        parse_ipv6(pk, r + 16, hlen);
        break;
    default:
        return DS_OK;
    }
    /* the frame as it was on the wire (sFlow's frame_length), as pmacct and nfdump count it */
    pk->f.oct_delta = rd32(r + 4);
    SET(pk, IPF_OCT_DELTA);
    *is_pkt = 1;
    return DS_OK;
}

/* Transport fields of a sampled IPv4 or IPv6 record, from its src_port word on. */
static void
record_transport(struct pkt *pk, const uint8_t *p)
{
    if (proto_has_ports(pk->f.proto)) {
        pk->f.src_port = (uint16_t)rd32(p);
        pk->f.dst_port = (uint16_t)rd32(p + 4);
        SET(pk, IPF_SRC_PORT);
        SET(pk, IPF_DST_PORT);
    }
    if (pk->f.proto == PROTO_TCP) {
        pk->f.tcp_flags = (uint16_t)(rd32(p + 8) & 0x0fff);
        SET(pk, IPF_TCP_FLAGS);
    }
}

static enum ds_rc
record_ipv4(const struct walk *w, size_t off, size_t rlen, struct pkt *pk)
{
    const uint8_t *r = w->d + off;

    if (rlen < 32)
        return bad(w, off, "sampled IPv4 record of %zu bytes, 32 needed", rlen);
    pk->f.ip_version = 4;
    pk->f.oct_delta = rd32(r);  /* the IP packet's length */
    pk->f.proto = (uint8_t)rd32(r + 4);
    pk->f.src4 = rd32(r + 8);
    pk->f.dst4 = rd32(r + 12);
    pk->present |= IPF_BIT(IPF_IP_VERSION) | IPF_BIT(IPF_PROTO) | IPF_BIT(IPF_SRC4) |
                   IPF_BIT(IPF_DST4) | IPF_BIT(IPF_OCT_DELTA);
    record_transport(pk, r + 16);
    return DS_OK;
}

static enum ds_rc
record_ipv6(const struct walk *w, size_t off, size_t rlen, struct pkt *pk)
{
    const uint8_t *r = w->d + off;

    if (rlen < 56)
        return bad(w, off, "sampled IPv6 record of %zu bytes, 56 needed", rlen);
    pk->f.ip_version = 6;
    pk->f.oct_delta = rd32(r);
    pk->f.proto = (uint8_t)rd32(r + 4);
    memcpy(pk->f.src6, r + 8, 16);
    memcpy(pk->f.dst6, r + 24, 16);
    pk->present |= IPF_BIT(IPF_IP_VERSION) | IPF_BIT(IPF_PROTO) | IPF_BIT(IPF_SRC6) |
                   IPF_BIT(IPF_DST6) | IPF_BIT(IPF_OCT_DELTA);
    record_transport(pk, r + 40);
    return DS_OK;
}

static int
has_addr(const struct pkt *pk)
{
    return (pk->present & (IPF_BIT(IPF_SRC4) | IPF_BIT(IPF_DST4) | IPF_BIT(IPF_SRC6) |
                           IPF_BIT(IPF_DST6))) != 0;
}

/* ---- samples ---- */

struct out {
    int64_t recv_ms;
    ipfix_record_fn fn;
    sflow_sample_fn on_sample;
    void *ctx;
    uint32_t sub_agent;
    struct ingest_stats *stats;
};

/* A flow sample (expanded or not) of slen bytes at off. */
static enum ds_rc
flow_sample(const struct walk *w, size_t off, size_t slen, int expanded, const struct out *o)
{
    const uint8_t *s = w->d + off;
    size_t head = expanded ? 44 : 32, pos, end = off + slen;
    struct sflow_sample smp;
    uint32_t n_records;
    struct pkt best, cand;
    int have = 0;
    enum ds_rc rc;

    if (slen < head)
        return bad(w, off, "%sflow sample of %zu bytes, at least %zu needed",
                   expanded ? "expanded " : "", slen, head);
    smp.sequence = rd32(s);
    if (expanded) {
        /* The expanded form exists for indexes above 24 bits, which source_id cannot hold. */
        smp.source_id = rd32(s + 4) << 24 | (rd32(s + 8) & 0x00ffffff);
        s += 12;
    } else {
        smp.source_id = rd32(s + 4);
        s += 8;
    }
    smp.sampling_rate = rd32(s);
    smp.sample_pool = rd32(s + 4);
    smp.drops = rd32(s + 8);
    n_records = rd32(w->d + off + head - 4);
    if (o->on_sample != NULL)
        o->on_sample(o->ctx, &smp);

    memset(&best, 0, sizeof(best));
    pos = off + head;
    for (uint32_t i = 0; i < n_records; i++) {
        uint32_t fmt;
        size_t rlen;
        int is_pkt = 0;

        if (end - pos < 8)
            return bad(w, pos, "flow sample ends after %u of its %u records", i, n_records);
        fmt = rd32(w->d + pos);
        rlen = rd32(w->d + pos + 4);
        if (rlen > end - pos - 8)
            return bad(w, pos + 4, "flow record of %zu bytes overruns its sample (%zu left)",
                       rlen, end - pos - 8);
        memset(&cand, 0, sizeof(cand));
        rc = DS_OK;
        if (fmt >> 12 == 0) {
            switch (fmt & 0xfff) {
            case RECORD_RAW_HEADER:
                rc = record_raw_header(w, pos + 8, rlen, &cand, &is_pkt);
                break;
            case RECORD_IPV4:
                rc = record_ipv4(w, pos + 8, rlen, &cand);
                is_pkt = 1;
                break;
            case RECORD_IPV6:
                rc = record_ipv6(w, pos + 8, rlen, &cand);
                is_pkt = 1;
                break;
            default:
                break; /* extended switch, router, gateway, user, url...: not ours */
            }
        }
        if (rc != DS_OK)
            return rc;
        if (is_pkt && (!have || (!has_addr(&best) && has_addr(&cand)))) {
            best = cand;
            have = 1;
        }
        pos += 8 + padded(rlen, end - pos - 8);
    }
    if (have) {
        struct ipfix_record rec;

        best.f.pkt_delta = 1;
        best.f.sampling_interval = smp.sampling_rate;
        best.f.start_ms = best.f.end_ms = (uint64_t)o->recv_ms;
        best.present |= IPF_BIT(IPF_PKT_DELTA) | IPF_BIT(IPF_SAMPLING_INTERVAL) |
                        IPF_BIT(IPF_START_MS) | IPF_BIT(IPF_END_MS);
        memset(&rec, 0, sizeof(rec));
        rec.f = &best.f;
        rec.present = best.present;
        rec.domain = o->sub_agent;
        rec.export_time = (uint32_t)(o->recv_ms / 1000);
        rec.options = false;
        if (o->stats != NULL)
            o->stats->records++;
        o->fn(o->ctx, &rec);
    }
    return DS_OK;
}

static enum ds_rc
walk_datagram(const struct walk *w, size_t len, struct sflow_header *h, struct out *o)
{
    const uint8_t *d = w->d;
    size_t pos, alen;
    uint32_t atype, n_samples;

    if (len < 8)
        return bad(w, 0, "%zu bytes, too short for an sFlow header", len);
    if (rd32(d) != SFLOW_VERSION)
        return bad(w, 0, "version %u, not 5", rd32(d));
    atype = rd32(d + 4);
    /* Type 0 (unknown) is legal XDR, but an agent that cannot name itself is not one we can use. */
    if (atype == AGENT_IPV4)
        alen = 4;
    else if (atype == AGENT_IPV6)
        alen = 16;
    else
        return bad(w, 4, "agent address type %u, not 1 (IPv4) or 2 (IPv6)", atype);
    if (len - 8 < alen + 16)
        return bad(w, len, "datagram ends inside the header (%zu bytes needed)", 8 + alen + 16);
    memcpy(h->agent, d + 8, alen);
    h->agent_family = atype == AGENT_IPV4 ? 4 : 6;
    pos = 8 + alen;
    h->sub_agent = rd32(d + pos);
    o->sub_agent = h->sub_agent;
    h->sequence = rd32(d + pos + 4);
    h->uptime_ms = rd32(d + pos + 8);
    n_samples = rd32(d + pos + 12);
    pos += 16;

    /* Each sample takes at least 8 bytes, so a lying count ends at the end of the data. */
    for (uint32_t i = 0; i < n_samples; i++) {
        uint32_t fmt;
        size_t slen;
        enum ds_rc rc = DS_OK;

        if (len - pos < 8)
            return bad(w, pos, "datagram ends after %u of its %u samples", i, n_samples);
        fmt = rd32(d + pos);
        slen = rd32(d + pos + 4);
        if (slen > len - pos - 8)
            return bad(w, pos + 4, "sample of %zu bytes overruns the datagram (%zu left)", slen,
                       len - pos - 8);
        h->samples++;
        if (fmt >> 12 == 0) {
            switch (fmt & 0xfff) {
            case SAMPLE_FLOW:
            case SAMPLE_FLOW_EXPANDED:
                h->flow_samples++;
                rc = flow_sample(w, pos + 8, slen, (fmt & 0xfff) == SAMPLE_FLOW_EXPANDED, o);
                break;
            case SAMPLE_COUNTERS:
            case SAMPLE_COUNTERS_EXPANDED:
                h->counter_samples++;
                break;
            default:
                break;
            }
        }
        if (rc != DS_OK)
            return rc;
        pos += 8 + padded(slen, len - pos - 8);
    }
    return DS_OK;
}

enum ds_rc
sflow_decode(const uint8_t *dgram, size_t len, int64_t recv_ms, ipfix_record_fn fn,
             sflow_sample_fn on_sample, void *ctx, struct sflow_header *hdr,
             struct ingest_stats *stats, struct ds_error *err)
{
    struct sflow_header h;
    struct walk w = {dgram, err};
    struct out o = {recv_ms, fn, on_sample, ctx, 0, stats};
    enum ds_rc rc;

    memset(&h, 0, sizeof(h));
    if (stats != NULL)
        stats->messages++;
    rc = walk_datagram(&w, len, &h, &o);
    if (rc != DS_OK && stats != NULL)
        stats->bad_messages++;
    if (hdr != NULL)
        *hdr = h;
    return rc;
}
