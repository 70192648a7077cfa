/*
 * Normalisation: a decoded IPFIX record in, a struct flow out (METHOD
 * section 1).  This is where exporters' differences end:
 *   - times: flowStart/End in seconds, milli-, micro- or nanoseconds,
 *     flowStartSysUpTime with systemInitTimeMilliseconds (from the record
 *     or from an options record of its domain), or a delta from the export
 *     time, all become Unix milliseconds;
 *   - packets: packetDeltaCount, else packetTotalCount, scaled by the
 *     sampling interval announced for the record's observation domain (or
 *     for its sampler id, or carried in the record itself);
 *   - addresses: IPv4 or IPv6 into one form; ICMP type and code from
 *     icmpTypeCode*, icmpType and icmpCode, or destinationTransportPort
 *     where exporters put them;
 *   - exporter: (the stream's address, the message's observation domain),
 *     unless the record names its own with exporterIPv4Address or
 *     exporterIPv6Address: then (that address, the record's
 *     observationDomainId if it has one, else the message's domain), as in
 *     darkstab's archive (ds/archive.h).  An exporter address of 0.0.0.0
 *     means unknown: the all-zero address.
 * Options records update the domain's state and produce no flow.
 */
#ifndef DS_NORM_H
#define DS_NORM_H

#include <stdint.h>

#include "ds/addr.h"
#include "ds/flow.h"
#include "ds/ingest.h"

enum norm_result {
    NORM_FLOW,          /* *out holds a flow */
    NORM_OPTIONS,       /* an options record, applied to the domain */
    NORM_NO_ADDR,       /* no destination address: not usable */
    NORM_NO_TIME,       /* no start time that can be made absolute */
    NORM_BAD_TIME,      /* a start time before 2000 or a day after export */
};

struct norm_stats {
    uint64_t options;
    uint64_t no_addr;
    uint64_t no_time;
    uint64_t bad_time;
    uint64_t sampled;   /* flows whose packets were scaled */
};

struct norm;

/* Returns an owned normaliser; it also owns the exporters flows point to. */
struct norm *norm_new(void);
void norm_free(struct norm *n);

/*
 * Starts a new stream (a file) from the exporter at addr (NULL when
 * unknown) for norm_record(): sampling and system-init times announced
 * before are forgotten, as templates are.
 */
void norm_begin_source(struct norm *n, const struct addr *addr);

/*
 * A stream of its own, for many at once (the collector: one per exporter
 * session).  Returns an owned source; n is borrowed and must outlive it.
 */
struct norm_source;
struct norm_source *norm_source_new(struct norm *n, const struct addr *addr);
void norm_source_free(struct norm_source *s);
/*
 * Sampling overrides: default_rate applies where the exporter announces
 * nothing (0: unsampled), forced_rate replaces whatever it announces (0:
 * none).
 */
void norm_source_set_sampling(struct norm_source *s, uint32_t default_rate,
                              uint32_t forced_rate);
/*
 * Checkpoints: what the stream's domains announced (system init times,
 * sampling) as an owned blob of *len bytes, and back into a fresh source
 * (0, or -1 for a damaged blob).
 */
uint8_t *norm_source_save(const struct norm_source *s, size_t *len);
int norm_source_restore(struct norm_source *s, const uint8_t *buf, size_t len);
/* norm_record() for the records of stream s. */
enum norm_result norm_source_record(struct norm_source *s, const struct ipfix_record *rec,
                                    struct flow *out);

/* The exporter (addr, odid), registered on first use; never freed before n. */
const struct exporter *norm_exporter(struct norm *n, const struct addr *addr, uint32_t odid);

/* Sets the clock used to refuse times in the future (default: time at norm_new). */
void norm_set_clock(struct norm *n, int64_t now_s);

/* Normalises rec into out; out is written only for NORM_FLOW. */
enum norm_result norm_record(struct norm *n, const struct ipfix_record *rec, struct flow *out);

const struct norm_stats *norm_get_stats(const struct norm *n);

/* Every exporter seen, in order of first appearance (borrowed). */
size_t norm_exporters(const struct norm *n, const struct exporter *const **list);

/* Sampling rate from the sampling elements of a record, 0 if it has none. */
uint32_t norm_sampling_rate(const struct ipfix_fields *f, uint64_t present);

#endif
