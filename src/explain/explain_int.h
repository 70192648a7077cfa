/*
 * Inside the explain module: the one-block layout shared by explain_slot()
 * and explain_decode(), and what the cause classifier is told about each
 * group it may speak of.
 */
#ifndef DS_EXPLAIN_INT_H
#define DS_EXPLAIN_INT_H

#include "ds/explain.h"

/*
 * Returns one zeroed block holding a slot_explain with room for the given
 * numbers of entered, left and moved changes, groups and, for each group
 * g, minutes[g] minute counts (minutes may be NULL: none).  The arrays and
 * the counts n_* are set; every group's minutes pointer is set where
 * minutes[g] > 0.  Never NULL (xcalloc).
 */
struct slot_explain *explain_block(size_t n_entered, size_t n_left, size_t n_moved,
                                   size_t n_groups, const uint32_t *minutes);

/* What the classifier knows of one shown group that entered or grew. */
struct cause_facts {
    uint32_t group;             /* index into slot_explain.groups */
    uint64_t packets;
    double share;               /* percent of the slot's packets */
    uint64_t sources;           /* distinct source addresses */
    uint64_t dst_addrs;         /* distinct destination addresses */
    uint64_t dst_ports;         /* distinct destination ports (0: a protocol without ports) */
    int32_t dst_port;           /* the port of the group's key, -1 if the key has none */
    struct addr top_src;        /* the source with most packets */
    uint64_t top_src_packets;
    uint64_t reply_packets;     /* from source port 53, or TCP SYN/ACK or RST */
    int64_t burst_s;            /* shortest span holding burst_packets; -1: unknown */
    uint64_t burst_packets;     /* at least ddos_burst_share of packets */
};

/*
 * Sets e->cause, e->cause_groups and e->evidence from facts[0..n) (the
 * candidates, borrowed) with the rules c, for a slot of slot_s seconds.
 */
void cause_classify(const struct cfg_causes *c, int64_t slot_s, const struct cause_facts *facts,
                    size_t n, struct slot_explain *e);

/* Does packets * 100 reach pct percent of total (exact)? */
bool explain_share_reaches(uint64_t packets, uint64_t total, const struct decimal *pct);

#endif
