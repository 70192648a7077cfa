/*
 * NetFlow v9 (RFC 3954) into IPFIX (RFC 7011), so that one checker and one
 * decoder serve both (see ds/ingest.h).
 *
 * libfixbuf has a v9 translator, but it runs only inside libfixbuf's own
 * socket collectors: they read one datagram per system call, parse it
 * before anything can check it, and key templates per UDP session, which
 * they forget after 30 idle minutes.  darkstab receives the datagrams
 * itself; this conversion is what remains of the translator's work:
 *
 *   - the 20-byte header becomes a 16-byte IPFIX header: version 10, the
 *     length, unix_secs as export time, the v9 sequence number (it counts
 *     datagrams, not records: accounting uses the v9 header, not this),
 *     source id as observation domain; sysUptime and unix_secs give the
 *     system init time that flowStart/EndSysUpTime (22, 21) count from;
 *   - flowset 0 (templates) becomes set 2: the records have the same
 *     layout; field types with the top bit set (v9 vendor ranges) would
 *     read as IPFIX enterprise elements and become paddingOctets;
 *   - flowset 1 (options templates) becomes set 3: scope and option lengths
 *     in bytes become field counts, and the scope fields (System,
 *     Interface, Line Card, Cache, Template: nothing darkstab reads) become
 *     paddingOctets.  A v9 options template without scope (some Cisco
 *     exporters send them) gets its first field as scope, as libfixbuf's
 *     translator does, so that its records stay options records;
 *   - data flowsets (256 and up) pass unchanged; trailing padding is the
 *     checker's business.
 * The header's record count is not used: exporters get it wrong (it counts
 * templates, or flowsets, or nothing).
 */
#include <string.h>

#include "ds/ingest.h"
#include "ingest_int.h"

#define NF9_HDR_LEN 20
#define IE_PADDING 210

static void
wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
wr32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* A v9 field type as an IPFIX element id: vendor types become padding. */
static uint16_t
field_type(uint16_t t)
{
    return (t & IE_ENTERPRISE_BIT) ? IE_PADDING : t;
}

/*
 * Template records of a flowset 0 body: the same layout as IPFIX but for
 * the field types.  Returns the bytes converted (whole records only).
 */
static size_t
templates(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t pos = 0;

    while (len - pos >= 4) {
        uint16_t count = rd16(in + pos + 2);
        size_t rlen = 4 + (size_t)count * 4;

        if (rlen > len - pos)
            break;
        memcpy(out + pos, in + pos, 4);
        for (uint16_t i = 0; i < count; i++) {
            const uint8_t *f = in + pos + 4 + (size_t)i * 4;

            wr16(out + pos + 4 + (size_t)i * 4, field_type(rd16(f)));
            memcpy(out + pos + 6 + (size_t)i * 4, f + 2, 2);
        }
        pos += rlen;
    }
    return pos;
}

/* Options template records of a flowset 1 body.  Returns the bytes converted. */
static size_t
options_templates(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t pos = 0;

    while (len - pos >= 6) {
        uint16_t tid = rd16(in + pos);
        uint16_t scope_len = rd16(in + pos + 2), opt_len = rd16(in + pos + 4);
        size_t rlen = 6 + (size_t)scope_len + opt_len;
        uint16_t n_scope = scope_len / 4, n_opt = opt_len / 4;

        /* lengths of whole fields only, and at least one field */
        if ((scope_len % 4) != 0 || (opt_len % 4) != 0 || n_scope + n_opt == 0 ||
            rlen > len - pos)
            break;
        wr16(out + pos, tid);
        wr16(out + pos + 2, (uint16_t)(n_scope + n_opt));
        wr16(out + pos + 4, n_scope > 0 ? n_scope : 1);
        for (uint16_t i = 0; i < n_scope + n_opt; i++) {
            const uint8_t *f = in + pos + 6 + (size_t)i * 4;
            uint16_t t = i < n_scope ? IE_PADDING : field_type(rd16(f));

            wr16(out + pos + 6 + (size_t)i * 4, t);
            memcpy(out + pos + 8 + (size_t)i * 4, f + 2, 2);
        }
        pos += rlen;
    }
    return pos;
}

enum ds_rc
nf9_to_ipfix(const uint8_t *dg, size_t len, uint8_t *out, size_t *out_len,
             struct nf9_header *hdr, struct ingest_stats *stats, struct ds_error *err)
{
    size_t pos = NF9_HDR_LEN, opos = IPFIX_HDR_LEN;

    *out_len = 0;
    stats->messages++;
    if (len < NF9_HDR_LEN || rd16(dg) != 9) {
        stats->bad_messages++;
        return ds_error_set(err, DS_ERR_PARSE, "offset 0: not a NetFlow v9 datagram (%zu bytes%s)",
                            len, len >= 2 ? ", version mismatch" : "");
    }
    if (len - NF9_HDR_LEN + IPFIX_HDR_LEN > IPFIX_MSG_MAX) {
        stats->bad_messages++;
        return ds_error_set(err, DS_ERR_PARSE, "offset 0: NetFlow v9 datagram of %zu bytes "
                            "is too long for one IPFIX message", len);
    }
    hdr->count = rd16(dg + 2);
    hdr->uptime_ms = rd32(dg + 4);
    hdr->unix_secs = rd32(dg + 8);
    hdr->sequence = rd32(dg + 12);
    hdr->source_id = rd32(dg + 16);

    wr16(out, 10);
    wr32(out + 4, hdr->unix_secs);
    wr32(out + 8, hdr->sequence);
    wr32(out + 12, hdr->source_id);
    while (len - pos >= 4) {
        uint16_t id = rd16(dg + pos), flen = rd16(dg + pos + 2);
        size_t used;

        if (flen < 4 || flen > len - pos) {
            /* What follows cannot be found: the rest is dropped, said and counted. */
            stats->bad_sets++;
            ds_error_set(err, DS_ERR_PARSE,
                         "offset %zu: flowset %u of %u bytes %s; rest of the datagram dropped",
                         pos, id, flen, flen < 4 ? "is too short" : "overruns the datagram");
            break;
        }
        if (id == 0 || id == 1) {
            used = id == 0 ? templates(dg + pos + 4, flen - 4u, out + opos + 4)
                           : options_templates(dg + pos + 4, flen - 4u, out + opos + 4);
            if (used > 0) {
                wr16(out + opos, id == 0 ? 2 : 3);
                wr16(out + opos + 2, (uint16_t)(4 + used));
                opos += 4 + used;
            }
            if (used + 4 < flen && flen - 4u - used >= 4)
                stats->bad_templates++; /* more than padding left over */
        } else if (id >= 256) {
            memcpy(out + opos, dg + pos, flen);
            opos += flen;
        } else {
            stats->bad_sets++; /* flowset ids 2 to 255 are reserved */
        }
        pos += flen;
    }
    wr16(out + 2, (uint16_t)opos);
    *out_len = opos;
    return pos == len || len - pos < 4 ? DS_OK : DS_ERR_PARSE;
}
