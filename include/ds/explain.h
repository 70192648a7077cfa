/*
 * Explain: what happened in a slot (issue 7, METHOD section 6).  A stage of
 * its own between stability and store: given a judged slot, its groups
 * (with the detail the aggregator kept for the groups that can be shown)
 * and the slots of its window, it says which groups entered or left the
 * TopN set of the lowest threshold, which moved most, what the shown groups
 * looked like (top sources, source ports, destinations, packets per minute)
 * and the probable cause.
 *
 * The result is plain data: the store keeps it serialised (explain_encode),
 * so "analyze", "results", "show" and the reports print the same thing.
 */
#ifndef DS_EXPLAIN_H
#define DS_EXPLAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/addr.h"
#include "ds/agg.h"
#include "ds/cfg.h"
#include "ds/json.h"
#include "ds/key.h"
#include "ds/rc.h"
#include "ds/result.h"

#define EXPLAIN_GROUPS_MAX 20   /* groups shown with their lists */
#define EXPLAIN_SOURCES 10      /* top source addresses per group */
#define EXPLAIN_SPORTS 5        /* top source ports per group */
#define EXPLAIN_DSTS 5          /* top destination addresses per group */
#define EXPLAIN_SERIES 5        /* groups with packets per minute */
#define EXPLAIN_MOVED_MAX 10    /* groups whose share moved most */
#define EXPLAIN_CHANGES_MAX 64  /* entered or left, each; the rest counted */

enum explain_cause {
    CAUSE_UNKNOWN,
    CAUSE_DDOS,
    CAUSE_MISCONFIGURATION,
    CAUSE_SCAN,
    CAUSE_BACKSCATTER,
};

/* "unknown", "ddos", "misconfiguration", "scan", "backscatter"; "unknown" if out of range */
const char *explain_cause_name(int cause);
/* The cause named name, or -1. */
int explain_cause_parse(const char *name);
/*
 * Is port a well-known service (a small documented table, src/explain/
 * cause.c)?  "One source, one port, no known service" is a misconfiguration.
 */
bool explain_port_known(uint16_t port);

/* One entry of a top list: an address (sources, destinations) or a port. */
struct explain_item {
    struct addr addr;
    uint16_t port;
    uint64_t packets;
};

/*
 * A top list.  exact: every count is the true count and no value outside
 * the list has more packets.  Otherwise a Space-Saving list: each count
 * may be over the true one by at most error packets.
 */
struct explain_list {
    uint32_t n;
    bool exact;
    uint64_t error;
    uint64_t distinct;          /* values seen, where known (0: unknown) */
    struct explain_item v[EXPLAIN_SOURCES];
};

/* A group that entered, left or moved, against the window. */
struct explain_change {
    uint8_t key[KEY_BYTES_MAX];
    uint64_t packets;
    double share;               /* percent of the slot's packets */
    double window_share;        /* mean share over the window's slots, percent */
};

/* A group shown with its lists. */
struct explain_group {
    uint8_t key[KEY_BYTES_MAX];
    uint64_t packets;
    double share;
    double window_share;
    bool in_top;                /* in the TopN set of the lowest threshold */
    bool changed;               /* entered, left or among the moved */
    bool has_lists;             /* false: no detail kept for it (the lists are empty) */
    struct explain_list src;    /* up to EXPLAIN_SOURCES */
    struct explain_list sport;  /* up to EXPLAIN_SPORTS */
    struct explain_list dst;    /* up to EXPLAIN_DSTS */
    /* packets per minute from the slot's start; NULL if not kept */
    uint32_t n_minutes;
    uint64_t *minutes;          /* inside the slot_explain's block */
    bool minutes_exact;         /* false: some of its minutes were not kept */
};

/*
 * One allocation: its arrays (and the groups' minutes) point inside the
 * same block, so free() releases it whole and slot_result_fini() (in
 * stability, upstream of this module) can free r->explain.
 */
struct slot_explain {
    int64_t start;              /* the slot */
    int64_t end;
    uint32_t key_size;          /* bytes of each key used (key_layout.size) */
    uint32_t window_slots;      /* slots that formed the window (0: none) */
    /* changes of the TopN set of the lowest threshold, largest share first */
    size_t n_entered, n_left, n_moved;
    uint64_t more_entered, more_left;   /* beyond EXPLAIN_CHANGES_MAX, not listed */
    struct explain_change *entered;     /* inside the block */
    struct explain_change *left;
    struct explain_change *moved;       /* |share - window_share| descending */
    /* groups shown: changed ones first, then the TopN set; at most EXPLAIN_GROUPS_MAX */
    size_t n_groups;
    struct explain_group *groups;       /* inside the block */
    /* probable cause */
    int cause;                          /* enum explain_cause */
    size_t n_cause_groups;
    uint32_t cause_groups[EXPLAIN_GROUPS_MAX];  /* indexes into groups */
    char evidence[320];
};

/*
 * Explains slot (its groups, with the detail kept) judged as r, against
 * window[0..n_window): the earlier slots with data that formed its band,
 * oldest first (their group counts; details not needed).  Every argument
 * is borrowed.  Returns an owned explanation (explain_free).
 */
struct slot_explain *explain_slot(const struct cfg_analysis *a, const struct cfg_causes *causes,
                                  const struct agg_slot *slot, const struct slot_result *r,
                                  const struct agg_slot *const *window, size_t n_window);

/* ---- exact lists, read back from the input (src/explain/reread.c) ---- */

/* One shown group's lists, counted exactly from the records read back. */
struct explain_exact_group {
    uint8_t key[KEY_BYTES_MAX];
    /*
     * The lists below are exact.  False: the slot passed
     * drilldown.reread_values distinct values, this group had the most
     * of those left, and it keeps what the aggregator kept in memory.
     */
    bool lists;
    struct explain_list src;
    struct explain_list sport;
    struct explain_list dst;
    uint64_t *minutes;          /* n_min packets per minute (always exact); owned by the set */
};

/* A slot read back: its shown groups, and every packet found for the slot. */
struct explain_exact {
    int64_t start;
    int64_t end;
    uint64_t packets;           /* of every group: equal to the slot's if nothing was missed */
    bool missed;                /* records came once the slot was done: not to be trusted */
    uint32_t n_min;             /* minutes of the slot */
    size_t n_groups;
    struct explain_exact_group *groups;     /* owned */
    uint64_t *minutes;          /* owned: n_groups * n_min, the groups' minutes point inside */
};

/* Frees x and what it owns; NULL is a no-op. */
void explain_exact_free(struct explain_exact *x);

/*
 * A stretch of an input from offset to the next chunk's (or the end): the
 * earliest and latest flow start counted in it (first_ms > last_ms: none),
 * recorded while it was first read, so that reading back skips the
 * messages that cannot hold an explained slot.
 */
struct explain_chunk {
    uint64_t offset;
    int64_t first_ms;
    int64_t last_ms;
    bool templates;             /* holds a template set: read even when no slot wants it */
};

/* An input to read back. */
struct explain_file {
    const char *path;           /* borrowed */
    const char *digest;         /* ingest_file()'s digest it must have; NULL or "": any */
    int64_t first_ms;           /* earliest and latest flow start counted from it */
    int64_t last_ms;
    const struct explain_chunk *chunks;     /* borrowed, by offset; NULL: read it whole */
    size_t n_chunks;
    /*
     * With chunks, > 0: the size and modification time (ns) it had when
     * its chunks were recorded.  The stretches no slot needs are then
     * skipped by seeking, and these are checked instead of the digest.
     */
    int64_t size;
    int64_t mtime_ns;
    bool growing;               /* being appended to (ingest_file_opts.growing) */
};

/* One analysis' slots to read back (explain_reread_jobs()). */
struct explain_reread_job {
    const struct cfg_analysis *a;
    const struct key_layout *layout;            /* its keys' packing */
    const struct slot_explain *const *ex;       /* n_ex borrowed explanations */
    size_t n_ex;
    const struct explain_file *files;           /* n_files: the inputs it counted */
    size_t n_files;
    struct explain_exact **out;                 /* n_ex, filled: out[i] for ex[i], owned */
    int64_t lateness_s;         /* how late its flows may come, if more than input.lateness */
};

/*
 * Reads back the files of files[0..n_files) that can hold records of the
 * slots of ex[0..n_ex) (borrowed explanations of analysis a, keys packed
 * with layout), each file once, through the same decoding, normalisation
 * and darknet filter (cfg) as analyze, and counts for every flow (or its
 * share, attribution spread) in one of those slots whose group is shown
 * its packets per source address, source port (port protocols only),
 * destination address and minute of the slot, and for the slot every
 * packet.  At most cfg->drilldown.reread_values distinct values are kept
 * per slot (and twice as many values before they are summed): past it the
 * groups with most get lists = false, the biggest first.
 *
 * On success out[i] (an array of n_ex the caller provides) is an owned
 * struct explain_exact for ex[i] (explain_exact_free).  A file that cannot
 * be read or whose digest differs is logged, and the slots it can hold
 * come back missed (not to be trusted).
 */
enum ds_rc explain_reread(const struct ds_cfg *cfg, const struct cfg_analysis *a,
                          const struct key_layout *layout, const struct slot_explain *const *ex,
                          size_t n_ex, const struct explain_file *files, size_t n_files,
                          struct explain_exact **out, struct ds_error *err);

/*
 * explain_reread() for several analyses at once: a file an analysis
 * counted is read once for all of them (jobs[j].files name the same input
 * by path and digest).  The slots are shared out in time order among at
 * most threads readers (threads of their own), each reading what its
 * slots need.  A file that cannot be read, or is not as it was counted,
 * is logged and its slots come back missed; the other slots are read.
 * *cancel (may be NULL) set non-zero stops the reading soon: every out is
 * then NULL and DS_ERR_IO returned, as for any other failure.
 */
enum ds_rc explain_reread_jobs(const struct ds_cfg *cfg, const struct explain_reread_job *jobs,
                               size_t n_jobs, unsigned threads, const int *cancel,
                               struct ds_error *err);

/*
 * As explain_slot(), with the lists and minutes of the groups that x
 * (borrowed, may be NULL) read back instead of what slot's details kept,
 * and the cause judged from them.
 */
struct slot_explain *explain_slot_exact(const struct cfg_analysis *a,
                                        const struct cfg_causes *causes,
                                        const struct agg_slot *slot, const struct slot_result *r,
                                        const struct agg_slot *const *window, size_t n_window,
                                        const struct explain_exact *x);

/* What the cause rules need of a shown group's detail (explain_exact_apply()). */
struct explain_group_stats {
    bool has_detail;            /* false: none kept, the rest is 0 */
    uint64_t sources, dst_addrs, dst_ports;     /* distinct counts */
    uint64_t reply_packets;     /* TCP SYN/ACK or RST */
    int64_t first_ms, last_ms;
};

/* The stats of e's shown groups in slot (the slot e explains), into stats[e->n_groups]. */
void explain_group_stats(const struct agg_slot *slot, const struct slot_explain *e,
                         struct explain_group_stats *stats);

/*
 * e (borrowed) with the lists and minutes that x (borrowed) read back, and
 * the cause judged again from them and stats (e->n_groups, from
 * explain_group_stats() on the slot e explains; keys packed with layout):
 * what explain_slot_exact() gives, without the window.  Returns an owned
 * explanation.
 */
struct slot_explain *explain_exact_apply(const struct slot_explain *e,
                                         const struct cfg_causes *causes,
                                         const struct key_layout *layout,
                                         const struct explain_group_stats *stats,
                                         const struct explain_exact *x);

/* free(e), for symmetry; NULL is a no-op. */
void explain_free(struct slot_explain *e);

/*
 * The serialised form for the store (versioned, little endian): returns an
 * owned buffer (free()) of *len bytes.  Never fails (xmalloc).
 */
uint8_t *explain_encode(const struct slot_explain *e, size_t *len);
/*
 * Reads buf back (borrowed): returns an owned explanation, or NULL if buf
 * is damaged, truncated or of an unknown version (every count and length
 * is checked before use).
 */
struct slot_explain *explain_decode(const uint8_t *buf, size_t len);

/*
 * Writes the members "changes", "detail" and "cause" into the slot object
 * open in w (documented in docs/JSON.md).
 */
void explain_write_json(const struct slot_explain *e, const struct key_layout *layout,
                        struct json_w *w);

#endif
