/*
 * Minimal pcap reader (see pcap.h).  Test code: inputs are our own fixtures,
 * but a damaged file still gets an error rather than a crash.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcap.h"

#define LINK_NULL 0
#define LINK_ETHERNET 1
#define LINK_RAW 101
#define LINK_RAW_OLD 12
#define LINK_RAW_OLD2 14
#define LINK_SLL 113
#define LINK_SLL2 276
#define SNAP_MAX (256 * 1024)

struct reader {
    int swap;
    int nano;
    uint32_t link;
    /* one datagram being reassembled from fragments */
    uint8_t frag[65536 + 8];
    size_t frag_len;
    uint32_t frag_id;
    uint8_t frag_src[16], frag_dst[16];
    int frag_family;
    int frag_live;
};

static uint16_t
be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t
file32(const struct reader *r, const uint8_t *p)
{
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                 (uint32_t)p[3] << 24;

    return r->swap ? __builtin_bswap32(v) : v;
}

/* The UDP header and payload of a whole IP datagram's transport part. */
static int
deliver_udp(struct pcap_udp *d, const uint8_t *udp, size_t len, pcap_udp_fn fn, void *ctx,
            long *count)
{
    size_t ulen;

    if (len < 8)
        return 0;
    ulen = be16(udp + 4);
    if (ulen < 8 || ulen > len)
        ulen = len; /* trust what was captured */
    d->sport = be16(udp);
    d->dport = be16(udp + 2);
    d->payload = udp + 8;
    d->len = ulen - 8;
    (*count)++;
    return fn(ctx, d);
}

/*
 * A fragment at byte offset off of datagram id: kept while fragments arrive
 * in order; delivered when the last one (more == 0) completes it.
 */
static int
fragment(struct reader *r, struct pcap_udp *d, uint32_t id, size_t off, int more,
         int first_is_udp, const uint8_t *data, size_t len, pcap_udp_fn fn, void *ctx,
         long *count)
{
    if (off == 0) {
        if (!first_is_udp)
            return 0;
        r->frag_live = 1;
        r->frag_id = id;
        r->frag_family = d->family;
        memcpy(r->frag_src, d->src, 16);
        memcpy(r->frag_dst, d->dst, 16);
        r->frag_len = 0;
    } else if (!r->frag_live || r->frag_id != id || r->frag_family != d->family ||
               memcmp(r->frag_src, d->src, 16) != 0 || off != r->frag_len) {
        r->frag_live = 0;
        return 0;
    }
    if (r->frag_len + len > sizeof(r->frag)) {
        r->frag_live = 0;
        return 0;
    }
    memcpy(r->frag + r->frag_len, data, len);
    r->frag_len += len;
    if (more)
        return 0;
    r->frag_live = 0;
    return deliver_udp(d, r->frag, r->frag_len, fn, ctx, count);
}

static int
ipv4(struct reader *r, struct pcap_udp *d, const uint8_t *p, size_t len, pcap_udp_fn fn,
     void *ctx, long *count)
{
    size_t ihl, tot;
    uint16_t fl;

    if (len < 20 || (p[0] >> 4) != 4)
        return 0;
    ihl = (size_t)(p[0] & 15) * 4;
    tot = be16(p + 2);
    if (ihl < 20 || ihl > len)
        return 0;
    if (tot >= ihl && tot < len)
        len = tot; /* drop Ethernet padding */
    d->family = 4;
    memset(d->src, 0, 16);
    memset(d->dst, 0, 16);
    memcpy(d->src, p + 12, 4);
    memcpy(d->dst, p + 16, 4);
    fl = be16(p + 6);
    if ((fl & 0x2000) || (fl & 0x1fff)) {
        return fragment(r, d, be16(p + 4), (size_t)(fl & 0x1fff) * 8, (fl & 0x2000) != 0,
                        p[9] == 17, p + ihl, len - ihl, fn, ctx, count);
    }
    if (p[9] != 17)
        return 0;
    return deliver_udp(d, p + ihl, len - ihl, fn, ctx, count);
}

static int
ipv6(struct reader *r, struct pcap_udp *d, const uint8_t *p, size_t len, pcap_udp_fn fn,
     void *ctx, long *count)
{
    size_t pos = 40, plen;
    uint8_t next;

    if (len < 40 || (p[0] >> 4) != 6)
        return 0;
    plen = be16(p + 4);
    if (40 + plen < len)
        len = 40 + plen;
    d->family = 6;
    memcpy(d->src, p + 8, 16);
    memcpy(d->dst, p + 24, 16);
    next = p[6];
    for (;;) {
        if (next == 17)
            return deliver_udp(d, p + pos, len - pos, fn, ctx, count);
        if (next == 44) { /* fragment header */
            uint16_t offm;

            if (len - pos < 8)
                return 0;
            offm = be16(p + pos + 2);
            return fragment(r, d, be32(p + pos + 4), (size_t)(offm >> 3) * 8, offm & 1,
                            p[pos] == 17, p + pos + 8, len - pos - 8, fn, ctx, count);
        }
        if (next == 0 || next == 43 || next == 60) {
            size_t hl;

            if (len - pos < 8)
                return 0;
            hl = ((size_t)p[pos + 1] + 1) * 8;
            if (hl > len - pos)
                return 0;
            next = p[pos];
            pos += hl;
            continue;
        }
        return 0;
    }
}

static int
ip(struct reader *r, struct pcap_udp *d, const uint8_t *p, size_t len, pcap_udp_fn fn, void *ctx,
   long *count)
{
    if (len < 1)
        return 0;
    if ((p[0] >> 4) == 4)
        return ipv4(r, d, p, len, fn, ctx, count);
    if ((p[0] >> 4) == 6)
        return ipv6(r, d, p, len, fn, ctx, count);
    return 0;
}

static int
frame(struct reader *r, struct pcap_udp *d, const uint8_t *p, size_t len, pcap_udp_fn fn,
      void *ctx, long *count)
{
    size_t pos;
    uint16_t type;

    switch (r->link) {
    case LINK_ETHERNET:
        if (len < 14)
            return 0;
        pos = 12;
        type = be16(p + pos);
        while ((type == 0x8100 || type == 0x88a8) && len - pos >= 6) {
            pos += 4;
            type = be16(p + pos);
        }
        pos += 2;
        break;
    case LINK_SLL:
        if (len < 16)
            return 0;
        type = be16(p + 14);
        pos = 16;
        break;
    case LINK_SLL2:
        if (len < 20)
            return 0;
        type = be16(p);
        pos = 20;
        break;
    case LINK_NULL:
        if (len < 4)
            return 0;
        return ip(r, d, p + 4, len - 4, fn, ctx, count);
    case LINK_RAW:
    case LINK_RAW_OLD:
    case LINK_RAW_OLD2:
        return ip(r, d, p, len, fn, ctx, count);
    default:
        return 0;
    }
    if (type != 0x0800 && type != 0x86dd)
        return 0;
    return ip(r, d, p + pos, len - pos, fn, ctx, count);
}

long
pcap_each_udp(const char *path, pcap_udp_fn fn, void *ctx, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "rb");
    struct reader *r;
    uint8_t hdr[24], rh[16];
    uint8_t *pkt;
    long count = 0;
    uint32_t magic;

    if (fp == NULL) {
        snprintf(err, errlen, "%s: cannot open", path);
        return -1;
    }
    if (fread(hdr, 1, sizeof(hdr), fp) != sizeof(hdr)) {
        snprintf(err, errlen, "%s: shorter than a pcap header", path);
        fclose(fp);
        return -1;
    }
    r = calloc(1, sizeof(*r));
    pkt = malloc(SNAP_MAX);
    if (r == NULL || pkt == NULL)
        abort();
    magic = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16 |
            (uint32_t)hdr[3] << 24;
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
        r->swap = 0;
    } else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
        r->swap = 1;
    } else {
        snprintf(err, errlen, "%s: not a pcap file (magic %08x; pcapng is not read)", path,
                 magic);
        count = -1;
        goto out;
    }
    r->nano = magic == 0xa1b23c4d || magic == 0x4d3cb2a1;
    r->link = file32(r, hdr + 20) & 0x0fffffff;
    while (fread(rh, 1, sizeof(rh), fp) == sizeof(rh)) {
        uint32_t incl = file32(r, rh + 8);
        struct pcap_udp d;

        if (incl > SNAP_MAX) {
            snprintf(err, errlen, "%s: record of %u bytes (damaged file?)", path, incl);
            count = -1;
            goto out;
        }
        if (fread(pkt, 1, incl, fp) != incl)
            break; /* cut short: what came before stands */
        memset(&d, 0, sizeof(d));
        d.ts_us = (int64_t)file32(r, rh) * 1000000 +
                  (r->nano ? file32(r, rh + 4) / 1000 : file32(r, rh + 4));
        if (frame(r, &d, pkt, incl, fn, ctx, &count))
            break;
    }
out:
    free(pkt);
    free(r);
    fclose(fp);
    return count;
}
