/*
 * Helpers shared by the Check suites: temporary files, IPFIX messages built
 * byte by byte (for malformed input) or written by libfixbuf (for valid
 * layouts of every kind), and decoding a file into normalised flows.
 */
#ifndef DS_TESTUTIL_H
#define DS_TESTUTIL_H

#include <check.h>
#include <fixbuf/public.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/cfg.h"
#include "ds/flow.h"
#include "ds/ingest.h"
#include "ds/norm.h"

/* A path in a fresh temporary directory, removed at exit; name is appended. */
const char *tu_path(const char *name);
/* Writes len bytes to path; fails the test on error. */
void tu_write_file(const char *path, const void *data, size_t len);

/* ---- IPFIX messages by hand (RFC 7011 layout, network order) ---- */
struct tu_msg {
    uint8_t b[70000];
    size_t len;
    size_t set_at;      /* start of the open set, 0 if none */
};

void tu_msg_begin(struct tu_msg *m, uint32_t export_time, uint32_t seq, uint32_t domain);
void tu_set_begin(struct tu_msg *m, uint16_t id);
void tu_set_end(struct tu_msg *m);
/* Writes the message length into the header (not done if you want it to lie). */
void tu_msg_end(struct tu_msg *m);
void tu_u8(struct tu_msg *m, uint8_t v);
void tu_u16(struct tu_msg *m, uint16_t v);
void tu_u32(struct tu_msg *m, uint32_t v);
void tu_u64(struct tu_msg *m, uint64_t v);
void tu_bytes(struct tu_msg *m, const void *p, size_t n);
/* A template record: tid, then count pairs (ie, len). */
void tu_template(struct tu_msg *m, uint16_t tid, size_t count, const uint16_t *ie_len_pairs);
/*
 * A simple valid data record for the layout of tu_template_basic():
 * flowStartMilliseconds, packetDeltaCount, src, dst, sport, dport, proto.
 */
#define TU_TID_BASIC 256
void tu_template_basic(struct tu_msg *m);
void tu_record_basic(struct tu_msg *m, uint64_t start_ms, uint64_t packets, uint32_t src,
                     uint32_t dst, uint16_t sport, uint16_t dport, uint8_t proto);

/* ---- files written by libfixbuf ---- */
struct tu_fb {
    fbInfoModel_t *model;
    fbSession_t *session;
    fBuf_t *fbuf;
};

void tu_fb_open(struct tu_fb *w, const char *path);
/*
 * Adds template tid (internal and external alike) from spec; scope > 0
 * makes it an options template with that scope count.
 */
void tu_fb_template(struct tu_fb *w, uint16_t tid, fbInfoElementSpec_t *spec, uint16_t scope);
void tu_fb_domain(struct tu_fb *w, uint32_t domain);
void tu_fb_record(struct tu_fb *w, uint16_t tid, const void *rec, size_t len);
void tu_fb_export_time(struct tu_fb *w, uint32_t t);
/* Ends the current message (so what follows starts a new one). */
void tu_fb_flush(struct tu_fb *w);
void tu_fb_close(struct tu_fb *w);

/* ---- decoding ---- */
struct tu_decoded {
    struct flow *flows;     /* owned */
    size_t n;
    struct ingest_stats stats;
    struct norm_stats norm;
    enum ds_rc rc;
    char err[1024];
    /* the raw data records (options records aside), before norm */
    uint64_t raw_records;
    uint64_t raw_pkt_delta;     /* sum of packetDeltaCount */
    uint64_t raw_pkt_total;     /* sum of packetTotalCount */
    uint64_t raw_with_delta;    /* records that have packetDeltaCount */
    uint64_t raw_with_total;
};

/*
 * Reads path through ingest and norm; the exporters stay valid until the
 * next call.  Decodes the file twice, on the fast path and with libfixbuf
 * alone, and fails the test unless both give the same records (every field,
 * in order) and the same counts.
 */
void tu_decode(const char *path, struct tu_decoded *d);
void tu_decoded_free(struct tu_decoded *d);

/*
 * Writes the IPFIX messages among the UDP datagrams of a pcap capture back
 * to back into out_path (as an IPFIX file).  Returns how many; fails the
 * test if the capture cannot be read.
 */
long tu_pcap_to_ipfix(const char *pcap_path, const char *out_path);

/* A configuration from YAML text; fails the test on error. */
struct ds_cfg *tu_cfg(const char *yaml);

/* A flow with the given fields, IPv4, others zero. */
struct flow tu_flow(int64_t start_ms, uint64_t packets, const char *src, const char *dst,
                    uint8_t proto, uint16_t sport, uint16_t dport);

/* Runs suite s with srunner (CK_FORK as set in the environment); returns failures. */
int tu_run(Suite *s);

#endif
