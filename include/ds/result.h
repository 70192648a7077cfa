/*
 * The result of one slot of one analysis: what stability hands downstream
 * to the store and to the reports.  A plain data model; the store keeps it
 * and gives it back unchanged, so "results" prints exactly what "analyze"
 * printed.
 */
#ifndef DS_RESULT_H
#define DS_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/cfg.h"
#include "ds/key.h"
#include "ds/stability.h"

struct slot_explain;

/* One group of the TopN set of the lowest threshold (METHOD section 6). */
struct top_group {
    uint8_t key[KEY_BYTES_MAX];
    uint64_t packets;
    uint64_t flows;
    double share;               /* percent of the slot's packets */
    bool has_detail;            /* false: the distinct counts below are unknown */
    bool partial;               /* some packets were counted without detail */
    uint64_t src_addrs;
    bool src_estimated;         /* a HyperLogLog estimate, not exact */
    uint64_t dst_ports;
    uint64_t dst_addrs;
    bool dst_estimated;
    uint16_t type;              /* dominant packet type, ptype_of() */
    int64_t first_ms;
    int64_t last_ms;
};

struct th_result {
    struct decimal th;
    uint32_t topn;
    struct stab_result r;
};

struct slot_result {
    int64_t start;              /* Unix seconds */
    int64_t end;
    uint64_t packets;
    uint64_t flows;
    uint64_t groups;
    uint64_t late_flows;
    uint64_t late_packets;
    bool complete;
    /*
     * limits.groups (ds/agg.h): packets and flows of the slot in no group.
     * TopN of threshold th can then be too low by at most
     * slot_result_folded_topn() groups.
     */
    uint64_t folded_packets;
    uint64_t folded_flows;
    /*
     * Live collection: the slot's completeness as a JSON object (owned;
     * NULL for slots of files), and whether its data was too lossy to judge
     * (then every threshold's status is STAB_INCOMPLETE).
     */
    char *completeness;
    bool incomplete;
    size_t n_th;
    struct th_result th[CFG_THRESHOLDS_MAX];
    size_t n_top;
    struct top_group *top;      /* owned */
    /*
     * The drill-down (ds/explain.h): kept for every unstable slot, NULL
     * where none was computed.  Owned; freed by slot_result_fini.
     */
    struct slot_explain *explain;
};

void slot_result_fini(struct slot_result *r);

/*
 * How many more groups than counted could be above th: the folded packets
 * hold at most that many groups of more than th percent of the slot.
 */
uint64_t slot_result_folded_topn(const struct slot_result *r, const struct decimal *th);

/* Is any threshold of the slot unstable? */
bool slot_result_unstable(const struct slot_result *r);

#endif
