/*
 * Ingest: IPFIX messages in, decoded records out.
 *
 * Three steps, each usable alone (the collector feeds datagrams to the
 * last two):
 *   1. framing: ingest_file reads a file or standard input and cuts it into
 *      messages, resynchronising after garbage;
 *   2. checking: ipfix_check walks every set, template and record of a
 *      message before libfixbuf sees it, refuses what would hang or crash
 *      libfixbuf 2.4.1 (zero-length templates, sets that overrun, data for
 *      unknown or withdrawn templates) and rewrites the message without it;
 *   3. decoding: ipfix_decode hands the checked message to libfixbuf and
 *      produces one struct ipfix_fields per record.
 *
 * The decoded record still carries the exporter's own time and counter
 * fields; norm turns it into a struct flow.
 */
#ifndef DS_INGEST_H
#define DS_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/rc.h"

/*
 * The information elements darkstab reads, one bit each in
 * ipfix_record.present.  Values are in host order, full width; an element
 * sent with reduced-size encoding is widened by libfixbuf.
 */
enum ipfix_field {
    IPF_SRC6,           /* 27 sourceIPv6Address */
    IPF_DST6,           /* 28 destinationIPv6Address */
    IPF_EXPORTER6,      /* 131 exporterIPv6Address */
    IPF_PKT_DELTA,      /* 2 packetDeltaCount */
    IPF_PKT_TOTAL,      /* 86 packetTotalCount */
    IPF_OCT_DELTA,      /* 1 octetDeltaCount (NetFlow v9 IN_BYTES) */
    IPF_OCT_TOTAL,      /* 85 octetTotalCount */
    IPF_START_MS,       /* 152 flowStartMilliseconds */
    IPF_END_MS,         /* 153 flowEndMilliseconds */
    IPF_START_US,       /* 154 flowStartMicroseconds (NTP format) */
    IPF_END_US,         /* 155 flowEndMicroseconds */
    IPF_START_NS,       /* 156 flowStartNanoseconds (NTP format) */
    IPF_END_NS,         /* 157 flowEndNanoseconds */
    IPF_SYSINIT_MS,     /* 160 systemInitTimeMilliseconds */
    IPF_SELECTOR_ID,    /* 302 selectorId */
    IPF_SAMPLING_PROB,  /* 311 samplingProbability (float64) */
    IPF_START_S,        /* 150 flowStartSeconds */
    IPF_END_S,          /* 151 flowEndSeconds */
    IPF_START_UPTIME,   /* 22 flowStartSysUpTime (ms) */
    IPF_END_UPTIME,     /* 21 flowEndSysUpTime (ms) */
    IPF_START_DELTA_US, /* 158 flowStartDeltaMicroseconds */
    IPF_END_DELTA_US,   /* 159 flowEndDeltaMicroseconds */
    IPF_SRC4,           /* 8 sourceIPv4Address */
    IPF_DST4,           /* 12 destinationIPv4Address */
    IPF_EXPORTER4,      /* 130 exporterIPv4Address */
    IPF_SAMPLING_INTERVAL,      /* 34 samplingInterval */
    IPF_SAMPLER_RANDOM_INTERVAL,/* 50 samplerRandomInterval */
    IPF_SAMPLING_PKT_INTERVAL,  /* 305 samplingPacketInterval */
    IPF_SAMPLING_PKT_SPACE,     /* 306 samplingPacketSpace */
    IPF_SAMPLING_SIZE,          /* 309 samplingSize */
    IPF_SAMPLING_POPULATION,    /* 310 samplingPopulation */
    IPF_OBS_DOMAIN,     /* 149 observationDomainId */
    IPF_SRC_PORT,       /* 7 sourceTransportPort */
    IPF_DST_PORT,       /* 11 destinationTransportPort */
    IPF_ICMP_TC4,       /* 32 icmpTypeCodeIPv4 */
    IPF_ICMP_TC6,       /* 139 icmpTypeCodeIPv6 */
    IPF_TCP_FLAGS,      /* 6 tcpControlBits */
    IPF_SAMPLER_ID,     /* 48 samplerId (v9 FLOW_SAMPLER_ID) */
    IPF_PROTO,          /* 4 protocolIdentifier */
    IPF_IP_VERSION,     /* 60 ipVersion */
    IPF_ICMP_T4,        /* 176 icmpTypeIPv4 */
    IPF_ICMP_C4,        /* 177 icmpCodeIPv4 */
    IPF_ICMP_T6,        /* 178 icmpTypeIPv6 */
    IPF_ICMP_C6,        /* 179 icmpCodeIPv6 */
    IPF_N_FIELDS,
};

#define IPF_BIT(f) (UINT64_C(1) << (f))

struct ipfix_fields {
    uint8_t src6[16];
    uint8_t dst6[16];
    uint8_t exporter6[16];
    uint64_t pkt_delta;
    uint64_t pkt_total;
    uint64_t oct_delta;
    uint64_t oct_total;
    uint64_t start_ms;
    uint64_t end_ms;
    uint64_t start_us;
    uint64_t end_us;
    uint64_t start_ns;
    uint64_t end_ns;
    uint64_t sysinit_ms;
    uint64_t selector_id;
    double sampling_prob;
    uint32_t start_s;
    uint32_t end_s;
    uint32_t start_uptime;
    uint32_t end_uptime;
    uint32_t start_delta_us;
    uint32_t end_delta_us;
    uint32_t src4;
    uint32_t dst4;
    uint32_t exporter4;
    uint32_t sampling_interval;
    uint32_t sampler_random_interval;
    uint32_t sampling_pkt_interval;
    uint32_t sampling_pkt_space;
    uint32_t sampling_size;
    uint32_t sampling_population;
    uint32_t obs_domain;
    uint16_t src_port;
    uint16_t dst_port;
    uint16_t icmp_tc4;
    uint16_t icmp_tc6;
    uint16_t tcp_flags;
    uint8_t sampler_id;
    uint8_t proto;
    uint8_t ip_version;
    uint8_t icmp_t4;
    uint8_t icmp_c4;
    uint8_t icmp_t6;
    uint8_t icmp_c6;
};

/* One decoded record; everything is borrowed for the duration of the call. */
struct ipfix_record {
    const struct ipfix_fields *f;
    uint64_t present;       /* IPF_BIT() of every element the template has */
    uint32_t domain;        /* observation domain of the message */
    uint32_t export_time;   /* message export time, Unix seconds */
    bool options;           /* an options record (scope count > 0) */
    /*
     * NetFlow v5 and v9 headers: the exporter's system init time (Unix
     * milliseconds; 0: none) and its uptime when it sent the message, for
     * flowStart/EndSysUpTime (uptimes are 32-bit and wrap after 49.7 days).
     */
    int64_t sysinit_ms;
    uint32_t uptime_ms;
};

typedef void (*ipfix_record_fn)(void *ctx, const struct ipfix_record *rec);

/* Counts of what was read and what was refused, for the report. */
struct ingest_stats {
    uint64_t bytes;
    uint64_t messages;
    uint64_t records;               /* data records decoded */
    uint64_t options_records;
    uint64_t templates;             /* template records accepted */
    uint64_t bad_messages;          /* not IPFIX, truncated, or lying length */
    uint64_t bad_sets;              /* overrunning, or with an illegal set id */
    uint64_t bad_templates;         /* template records refused */
    uint64_t unknown_template_sets; /* data sets whose template was not known */
    uint64_t bad_records;           /* records cut short inside their set */
    uint64_t skipped_bytes;         /* bytes skipped to find the next message */
    /* templates refused for a limit (struct ingest_limits), not malformed */
    uint64_t limit_templates;       /* limits.templates */
    uint64_t limit_fields;          /* limits.template_fields */
    uint64_t limit_template_memory; /* limits.template_memory */
    uint64_t limit_template_total;  /* limits.template_memory_total */
};

/*
 * What one sender's templates may hold (the collector's limits.*); 0: no
 * limit.  A template past a limit is refused (counted above, and reported
 * as an issue): its data sets are then unknown-template sets.  A template
 * that replaces one of the same id is not a new one.
 */
struct ingest_template_pool {
    uint64_t held;                  /* bytes held by the templates of every session */
    uint64_t max;                   /* limits.template_memory_total */
};

struct ingest_limits {
    uint32_t templates;             /* over all observation domains */
    uint32_t template_fields;       /* fields of one template */
    uint64_t template_memory;       /* bytes held for templates (estimated, see below) */
    /* shared by every session of a collector, borrowed; NULL: no total */
    struct ingest_template_pool *pool;
};

/*
 * The bytes a template of n_fields fields costs, ours and libfixbuf's
 * together: what limits.template_memory counts.
 */
#define INGEST_TEMPLATE_COST(n_fields, raw_len) (256u + 64u * (n_fields) + (raw_len))

/* The sum reported as "malformed". */
uint64_t ingest_stats_malformed(const struct ingest_stats *s);
void ingest_stats_add(struct ingest_stats *to, const struct ingest_stats *from);

/* ---- 2. checking ------------------------------------------------------- */

#define IPFIX_HDR_LEN 16
#define IPFIX_MSG_MAX 65535

struct ipfix_check;

/* A problem found in a message: offset from the message start, and text. */
struct ipfix_issue {
    uint32_t offset;
    char text[200];
};

#define IPFIX_ISSUES_MAX 8

struct ipfix_check_result {
    const uint8_t *msg;     /* the message to decode: the input or a rewrite */
    size_t len;             /* 0: nothing left to decode */
    uint32_t data_records;  /* records in data sets (options included) */
    uint32_t n_issues;      /* may exceed IPFIX_ISSUES_MAX; the rest are counted only */
    struct ipfix_issue issues[IPFIX_ISSUES_MAX];
};

/* Returns an owned checker holding the template state of one stream. */
struct ipfix_check *ipfix_check_new(void);
void ipfix_check_free(struct ipfix_check *chk);
/* Forgets every template, as at the start of a new file or session. */
void ipfix_check_reset(struct ipfix_check *chk);
/* Limits on the templates chk accepts from now on (none at first). */
void ipfix_check_set_limits(struct ipfix_check *chk, const struct ingest_limits *lim);

/*
 * Checks one whole message (msg[0..len), len equal to the header's length,
 * at least IPFIX_HDR_LEN).  Fills res; res->msg points to msg itself or to
 * the checker's own buffer, valid until the next call.  Counts refusals in
 * stats.  Never fails: what cannot be used is dropped and reported.
 */
void ipfix_check_message(struct ipfix_check *chk, const uint8_t *msg, size_t len,
                         struct ipfix_check_result *res, struct ingest_stats *stats);

typedef void (*ipfix_check_msg_fn)(void *ctx, const uint8_t *msg, size_t len);

/*
 * Every template the checker holds, as it passed them on, in IPFIX
 * messages of template sets (a domain per message, export time 0), for fn;
 * checking and decoding those messages in a fresh checker and decoder
 * restores the templates.  Returns the number of templates.
 */
size_t ipfix_check_templates(const struct ipfix_check *chk, ipfix_check_msg_fn fn, void *ctx);
/* Templates held. */
size_t ipfix_check_count(const struct ipfix_check *chk);

/* ---- 3. decoding ------------------------------------------------------- */

struct ipfix_decoder;

/* Returns an owned decoder (a libfixbuf session in buffer mode). */
struct ipfix_decoder *ipfix_decoder_new(void);
void ipfix_decoder_free(struct ipfix_decoder *dec);
/* Forgets every template (new file or session). */
void ipfix_decoder_reset(struct ipfix_decoder *dec);

/*
 * Decodes one checked message, calling fn for every data and options
 * record in order.  msg is borrowed.  Returns DS_OK, or DS_ERR_PARSE if
 * libfixbuf stopped early in a set (counted in stats; what was read before
 * stays delivered, the next sets are still read) with the reason in err.
 */
enum ds_rc ipfix_decoder_message(struct ipfix_decoder *dec, const uint8_t *msg, size_t len,
                                 ipfix_record_fn fn, void *ctx, struct ingest_stats *stats,
                                 struct ds_error *err);

/*
 * Decodes every record with libfixbuf's fBufNext, the reference, instead of
 * the fast path for fixed-length templates (for tests and benchmarks: both
 * give the same records).
 */
void ipfix_decoder_use_libfixbuf(struct ipfix_decoder *dec, bool on);

/*
 * The system init time and uptime that the records of the next messages
 * carry in rec->sysinit_ms and rec->uptime_ms (a NetFlow v9 header's,
 * converted to IPFIX); 0, 0 (the default) for IPFIX.
 */
void ipfix_decoder_set_uptime(struct ipfix_decoder *dec, int64_t sysinit_ms, uint32_t uptime_ms);

/* ---- 1. files -------------------------------------------------------- */

struct ingest_file_opts {
    ipfix_record_fn fn;     /* called for every record */
    void *ctx;
    /*
     * Called before each message with its offset in the input; may be NULL.
     * The collector and tests use it; analyze keeps per-file state with it.
     */
    void (*on_message)(void *ctx, uint64_t offset, uint32_t domain, uint32_t export_time,
                       bool templates);
    /* Decode every record with libfixbuf (ipfix_decoder_use_libfixbuf). */
    bool use_libfixbuf;
    /*
     * May be NULL.  Called before each message with its offset: false
     * skips it (neither checked nor decoded, no on_message) unless it
     * carries a template set, which is always read.  For reading back a
     * part of a file (src/explain/reread.c).
     */
    bool (*want)(void *ctx, uint64_t offset);
    /*
     * May be NULL; used with want on regular files.  When want() skips a
     * message: the offset of the next message worth reading (a message's
     * start, or UINT64_MAX for the end), where reading goes on without
     * reading the bytes between.  The digest then covers only the bytes
     * read: a caller that skips checks the file otherwise (its size and
     * modification time).
     */
    uint64_t (*next)(void *ctx, uint64_t offset);
    /*
     * The file is being appended to (the collector's archive .part): a
     * message cut short by its end is not whole yet, and is left unread
     * without a word.
     */
    bool growing;
};

/*
 * Reads path ("-" for standard input) to the end: frames, checks and decodes
 * every message.  Problems are logged as "ingest: FILE offset N: ..." and
 * counted in stats; reading goes on with the next message.  Returns DS_OK,
 * or DS_ERR_IO when the input cannot be opened or read at all (err names it).
 * If digest is not NULL it receives the XXH3-128 digest of every byte read,
 * as 32 hex digits.
 */
enum ds_rc ingest_file(const char *path, const struct ingest_file_opts *opts,
                       struct ingest_stats *stats, char digest[33], struct ds_error *err);

/*
 * Digest of a regular file's contents, as ingest_file() computes it, without
 * decoding (to recognise input already counted).  Returns DS_OK or DS_ERR_IO.
 */
enum ds_rc ingest_file_digest(const char *path, char digest[33], struct ds_error *err);

/* ---- 4. NetFlow v9 ------------------------------------------------------ */

/* A NetFlow v9 header, for sequence accounting. */
struct nf9_header {
    uint16_t count;             /* records and templates, as the exporter counted them */
    uint32_t uptime_ms;
    uint32_t unix_secs;
    uint32_t sequence;          /* datagrams of this source id sent before this one */
    uint32_t source_id;
};

/*
 * Converts one NetFlow v9 datagram into an IPFIX message in out (room for
 * IPFIX_MSG_MAX bytes) for ipfix_check and the decoder; the records keep
 * their times as uptimes, to be read with the header's system init time
 * (unix_secs * 1000 - uptime_ms, see ipfix_decoder_set_uptime).  *hdr
 * receives the header.  Returns DS_OK; or DS_ERR_PARSE with err saying why
 * (byte offset included): for a datagram that is not v9 (*out_len 0), or
 * for a flowset whose length cannot be right, where *out_len > 0 still
 * gives the message of the flowsets before it.  Counts in stats.
 */
enum ds_rc nf9_to_ipfix(const uint8_t *dgram, size_t len, uint8_t *out, size_t *out_len,
                        struct nf9_header *hdr, struct ingest_stats *stats,
                        struct ds_error *err);

/* ---- 4. formats without templates: NetFlow v5 and sFlow v5 -------------- */

#define NF5_HDR_LEN 24
#define NF5_REC_LEN 48

/* A NetFlow v5 header, for sequence and sampling accounting. */
struct nf5_header {
    uint16_t count;             /* records in the datagram */
    uint32_t uptime_ms;         /* sysUptime */
    uint32_t unix_secs;
    uint32_t unix_nsecs;
    uint32_t flow_sequence;     /* flows the exporter sent before this datagram */
    uint8_t engine_type;
    uint8_t engine_id;
    uint8_t sampling_mode;      /* top 2 bits of the sampling field: 0 none, 1, 2 */
    uint16_t sampling_interval; /* low 14 bits; 0 or 1: not sampled */
};

/*
 * Decodes one NetFlow v5 datagram (24-byte header, count 48-byte records)
 * and calls fn for every record with: src4, dst4, src_port, dst_port, proto,
 * tcp_flags, pkt_delta (dPkts), start_uptime/end_uptime (First, Last), and
 * sampling_interval when the header announces sampling; rec->sysinit_ms and
 * rec->uptime_ms from the header; domain engine_type << 8 | engine_id;
 * export_time unix_secs.  *hdr receives the header.  Returns DS_OK, or
 * DS_ERR_PARSE for a datagram that is not v5 or whose length does not match
 * its count (nothing delivered; err says why, with the byte offset).
 * Counts messages, records and bad_messages in stats.
 */
enum ds_rc nf5_decode(const uint8_t *dgram, size_t len, ipfix_record_fn fn, void *ctx,
                      struct nf5_header *hdr, struct ingest_stats *stats, struct ds_error *err);

/* An sFlow v5 datagram's header, for sequence accounting. */
struct sflow_header {
    uint8_t agent[16];          /* agent address: IPv4 in the first 4 bytes, or IPv6 */
    int agent_family;           /* 4 or 6 */
    uint32_t sub_agent;
    uint32_t sequence;          /* datagram sequence number of (agent, sub_agent) */
    uint32_t uptime_ms;
    uint32_t samples;           /* samples of any kind in the datagram */
    uint32_t flow_samples;      /* flow and expanded flow samples */
    uint32_t counter_samples;   /* counter and expanded counter samples */
};

/* One flow sample's accounting fields. */
struct sflow_sample {
    uint32_t source_id;         /* source_id_type << 24 | source_id_index */
    uint32_t sequence;          /* sample sequence number of that source */
    uint32_t sampling_rate;
    uint32_t sample_pool;
    uint32_t drops;             /* samples the agent dropped, cumulative */
};

typedef void (*sflow_sample_fn)(void *ctx, const struct sflow_sample *s);

/*
 * Decodes one sFlow v5 datagram.  Every flow sample and expanded flow
 * sample whose flow records describe a packet (a raw packet header of
 * Ethernet, IPv4 or IPv6, or a sampled IPv4 or IPv6 record) gives one
 * record for fn: src4/dst4 or src6/dst6, ip_version, proto, ports, tcp_flags,
 * ICMP type and code, pkt_delta 1, sampling_interval the sample's sampling
 * rate, and start_ms = end_ms = recv_ms (sFlow carries no flow times: the
 * datagram's arrival stands for them); domain sub_agent; export_time
 * recv_ms / 1000.  on_sample (may be NULL) gets every flow sample's
 * accounting fields.  *hdr receives the header.  Returns DS_OK, or
 * DS_ERR_PARSE for a malformed datagram (err says why, with the byte
 * offset); samples before the malformed part stay delivered.  Counts
 * messages, records and bad_messages in stats.
 */
enum ds_rc sflow_decode(const uint8_t *dgram, size_t len, int64_t recv_ms, ipfix_record_fn fn,
                        sflow_sample_fn on_sample, void *ctx, struct sflow_header *hdr,
                        struct ingest_stats *stats, struct ds_error *err);

/* ---- 5. sessions: one exporter's stream, whatever its protocol -------- */

enum ingest_proto {
    INGEST_IPFIX,
    INGEST_NETFLOW9,
    INGEST_NETFLOW5,
    INGEST_SFLOW,
};

/*
 * The protocol of a datagram by its version field (IPFIX 10, NetFlow 9 and
 * 5 in 16 bits, sFlow 5 in 32 bits), or -1.
 */
int ingest_detect(const uint8_t *p, size_t len);

/* "ipfix", "netflow9", "netflow5", "sflow". */
const char *ingest_proto_name(enum ingest_proto p);
int ingest_proto_parse(const char *s, enum ingest_proto *p);

/*
 * Accounting of one session, cumulative.  missed is an estimate of the
 * records the exporter sent that never arrived, from its sequence numbers:
 * exact for IPFIX (records, unknown-template data included) and NetFlow v5
 * (flows); datagrams times the records per datagram seen so far for NetFlow
 * v9 and sFlow.  Sequence numbers that jump back (or far ahead) are an
 * exporter restart: counted in resets, not as loss.
 */
struct ingest_session_stats {
    uint64_t datagrams;
    uint64_t records;           /* data records decoded (options records aside) */
    uint64_t missed;
    uint64_t resets;
    uint64_t reordered;         /* datagrams that arrived after a later one */
};

struct ingest_session;

/*
 * Returns an owned session for the datagrams (or stream) of one exporter
 * in one protocol: template state per observation domain (source id) and
 * sequence accounting per domain.
 */
struct ingest_session *ingest_session_new(enum ingest_proto proto);
void ingest_session_free(struct ingest_session *s);
/* Limits on the session's templates (IPFIX, NetFlow v9; none at first). */
void ingest_session_set_limits(struct ingest_session *s, const struct ingest_limits *lim);

/*
 * One datagram (or one framed message of a stream), received at recv_ms:
 * checked, converted and decoded; fn gets every record.  Returns DS_OK, or
 * DS_ERR_PARSE with the first problem in err (what could be read is still
 * delivered; the rest is counted in stats).
 */
enum ds_rc ingest_session_datagram(struct ingest_session *s, const uint8_t *p, size_t len,
                                   int64_t recv_ms, ipfix_record_fn fn, void *ctx,
                                   struct ingest_stats *stats, struct ds_error *err);

/*
 * A stream transport (IPFIX over TCP): appends bytes and decodes every
 * whole message, keeping the rest for the next call.  A message length
 * below 16 or a version other than 10 cannot be framed: DS_ERR_PARSE, and
 * the caller should close the connection.
 */
enum ds_rc ingest_session_stream(struct ingest_session *s, const uint8_t *p, size_t len,
                                 int64_t recv_ms, ipfix_record_fn fn, void *ctx,
                                 struct ingest_stats *stats, struct ds_error *err);

const struct ingest_session_stats *ingest_session_get_stats(const struct ingest_session *s);
enum ingest_proto ingest_session_proto(const struct ingest_session *s);
/* Templates held (IPFIX and NetFlow v9). */
size_t ingest_session_templates(const struct ingest_session *s);

/*
 * Checkpoints: the session's templates and sequence state as an owned blob
 * (*len bytes; free() it), and back into a fresh session.  Restore returns
 * DS_OK, or DS_ERR_PARSE for a blob that is not one (the session then
 * starts empty).
 */
uint8_t *ingest_session_save(const struct ingest_session *s, size_t *len);
enum ds_rc ingest_session_restore(struct ingest_session *s, const uint8_t *blob, size_t len,
                                  struct ds_error *err);

/* Routes libfixbuf's own GLib messages to our log at debug level. */
void ingest_quiet_libfixbuf(void);

#endif
