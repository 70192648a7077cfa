/*
 * Decoding of NetFlow v5 datagrams (see ds/ingest.h).
 *
 * NetFlow v5 has no templates: a 24-byte header and count records of 48
 * bytes, every field at a fixed offset (Cisco, "NetFlow Export Datagram
 * Format", v5):
 *
 *   header  0 version      2 count         4 sysUptime    8 unix_secs
 *          12 unix_nsecs  16 flow_sequence 20 engine_type 21 engine_id
 *          22 sampling_interval (top 2 bits mode, low 14 bits interval)
 *   record  0 srcaddr      4 dstaddr       8 nexthop     12 input
 *          14 output      16 dPkts        20 dOctets     24 First
 *          28 Last        32 srcport      34 dstport     36 pad1
 *          37 tcp_flags   38 prot         39 tos         40 src_as
 *          42 dst_as      44 src_mask     45 dst_mask    46 pad2
 *
 * Our implementation: a datagram is taken whole or not at all.  Its length
 * must be exactly 24 + 48 * count, with count at least 1.  Cisco never sends
 * more than 30 records, but softflowd, pmacctd and ng_netflow are free to,
 * and nothing in the format breaks if they do; so any count whose records
 * fill the datagram exactly is accepted (at most (65535 - 24) / 48 = 1364 in
 * one UDP datagram).  The length, not a cap on count, is what catches
 * corruption: the two malformed captures we know (logstash-codec-netflow's
 * netflow5_test_invalid01/02) carry counts 55582 and 163 in 1464 bytes, and
 * their records are garbage (billions of packets); the truncated last packet
 * of a capture fails the same way.  Trusting neither count nor length there
 * would deliver invented flows, so nothing of such a datagram is delivered.
 * A datagram with count 0 is refused too: exporters send v5 only when they
 * have flows, so an empty one is more likely something else on the port.
 */
#include <string.h>

#include "ds/ingest.h"
#include "ingest_int.h"

#define NF5_VERSION 5
#define NF5_COUNT_MAX ((65535 - NF5_HDR_LEN) / NF5_REC_LEN)

static void
read_header(const uint8_t *p, struct nf5_header *h)
{
    uint16_t sampling = rd16(p + 22);

    h->count = rd16(p + 2);
    h->uptime_ms = rd32(p + 4);
    h->unix_secs = rd32(p + 8);
    h->unix_nsecs = rd32(p + 12);
    h->flow_sequence = rd32(p + 16);
    h->engine_type = p[20];
    h->engine_id = p[21];
    h->sampling_mode = (uint8_t)(sampling >> 14);
    h->sampling_interval = sampling & 0x3fff;
}

/* Checks the datagram as a whole; returns DS_OK or DS_ERR_PARSE with the offset in err. */
static enum ds_rc
check_datagram(const uint8_t *dgram, size_t len, struct ds_error *err)
{
    uint16_t count;

    if (len < 2)
        return ds_error_set(err, DS_ERR_PARSE,
                            "netflow v5: offset 0: %zu bytes, too short for a version", len);
    if (rd16(dgram) != NF5_VERSION)
        return ds_error_set(err, DS_ERR_PARSE, "netflow v5: offset 0: version %u, not 5",
                            rd16(dgram));
    if (len < NF5_HDR_LEN)
        return ds_error_set(err, DS_ERR_PARSE,
                            "netflow v5: offset %zu: datagram ends inside the %d-byte header",
                            len, NF5_HDR_LEN);
    count = rd16(dgram + 2);
    if (count == 0)
        return ds_error_set(err, DS_ERR_PARSE, "netflow v5: offset 2: count 0, no records");
    if (count > NF5_COUNT_MAX)
        return ds_error_set(err, DS_ERR_PARSE,
                            "netflow v5: offset 2: count %u cannot fit in a UDP datagram "
                            "(at most %d records); datagram has %zu bytes",
                            count, NF5_COUNT_MAX, len);
    if (len != (size_t)NF5_HDR_LEN + (size_t)count * NF5_REC_LEN) {
        size_t want = (size_t)NF5_HDR_LEN + (size_t)count * NF5_REC_LEN;

        /* Name the byte where the two disagree: the cut record, or the first extra one. */
        return ds_error_set(err, DS_ERR_PARSE,
                            "netflow v5: offset %zu: count %u needs %zu bytes, datagram has %zu",
                            len < want ? len - (len - NF5_HDR_LEN) % NF5_REC_LEN : want, count,
                            want, len);
    }
    return DS_OK;
}

enum ds_rc
nf5_decode(const uint8_t *dgram, size_t len, ipfix_record_fn fn, void *ctx,
           struct nf5_header *hdr, struct ingest_stats *stats, struct ds_error *err)
{
    struct nf5_header h;
    struct ipfix_fields f;
    struct ipfix_record rec;
    uint64_t present;
    enum ds_rc rc;

    memset(&h, 0, sizeof(h));
    if (stats != NULL)
        stats->messages++;
    rc = check_datagram(dgram, len, err);
    if (rc != DS_OK) {
        if (hdr != NULL)
            *hdr = h;
        if (stats != NULL)
            stats->bad_messages++;
        return rc;
    }
    read_header(dgram, &h);
    if (hdr != NULL)
        *hdr = h;

    memset(&rec, 0, sizeof(rec));
    rec.f = &f;
    rec.domain = (uint32_t)h.engine_type << 8 | h.engine_id;
    rec.export_time = h.unix_secs;
    rec.options = false;
    rec.sysinit_ms = (int64_t)h.unix_secs * 1000 + h.unix_nsecs / 1000000 - (int64_t)h.uptime_ms;
    rec.uptime_ms = h.uptime_ms;
    present = IPF_BIT(IPF_SRC4) | IPF_BIT(IPF_DST4) | IPF_BIT(IPF_SRC_PORT) |
              IPF_BIT(IPF_DST_PORT) | IPF_BIT(IPF_PROTO) | IPF_BIT(IPF_TCP_FLAGS) |
              IPF_BIT(IPF_PKT_DELTA) | IPF_BIT(IPF_OCT_DELTA) | IPF_BIT(IPF_START_UPTIME) |
              IPF_BIT(IPF_END_UPTIME);
    /*
     * Juniper (MX80) announces 1 in 1000 with mode 0, which Cisco reserves
     * for "no sampling": an interval above 1 is taken as sampling whatever
     * the mode says.
     */
    if (h.sampling_interval > 1)
        present |= IPF_BIT(IPF_SAMPLING_INTERVAL);
    rec.present = present;

    for (uint16_t i = 0; i < h.count; i++) {
        const uint8_t *r = dgram + NF5_HDR_LEN + (size_t)i * NF5_REC_LEN;

        memset(&f, 0, sizeof(f));
        f.src4 = rd32(r);
        f.dst4 = rd32(r + 4);
        f.pkt_delta = rd32(r + 16);
        f.oct_delta = rd32(r + 20);
        f.start_uptime = rd32(r + 24);
        f.end_uptime = rd32(r + 28);
        f.src_port = rd16(r + 32);
        f.dst_port = rd16(r + 34);
        f.tcp_flags = r[37];
        f.proto = r[38];
        if (present & IPF_BIT(IPF_SAMPLING_INTERVAL))
            f.sampling_interval = h.sampling_interval;
        if (stats != NULL)
            stats->records++;
        fn(ctx, &rec);
    }
    return DS_OK;
}
