/*
 * struct flow: one normalised flow record, the currency of the pipeline
 * from norm onward.  Whatever the export format, a record arrives here with
 * absolute times, a packet count already scaled by the sampling rate, and
 * addresses in one 16-byte form (see ds/addr.h).
 */
#ifndef DS_FLOW_H
#define DS_FLOW_H

#include <stdint.h>

#include "ds/addr.h"

/*
 * An exporting process as the pipeline knows it: the exporter's address
 * (all zero when a file does not say) and the observation domain.  Owned
 * by the ingest registry and never freed while the pipeline runs, so flows
 * may point to it.
 */
struct exporter {
    struct addr addr;
    uint32_t odid;
    uint32_t id;        /* index in the registry, stable for a run */
};

struct flow {
    int64_t start_ms;               /* Unix milliseconds */
    int64_t end_ms;                 /* >= start_ms */
    uint64_t packets;               /* scaled by the sampling interval */
    uint64_t bytes;                 /* likewise; 0 if the exporter sends none */
    uint64_t src_value;              /* addr_value(&src) */
    uint64_t dst_value;              /* addr_value(&dst) */
    struct addr src;
    struct addr dst;
    const struct exporter *exporter;
    uint32_t sampling;              /* the interval applied, 1 if none */
    uint16_t src_port;              /* 0 for protocols without ports */
    uint16_t dst_port;
    uint8_t proto;
    uint8_t tcp_flags;              /* OR of the flow's flags, TCP only */
    uint8_t icmp_type;              /* ICMP and ICMPv6 only */
    uint8_t icmp_code;
    uint8_t ip_version;             /* 4 or 6 */
};

#endif
