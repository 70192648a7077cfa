/*
 * The exporters a collector knows, by address and protocol, with a memory
 * bound that no sender can break and a rule that lets every real router in.
 *
 *   1. A sender seen for the first time is on probation: an exporter that
 *      has not yet delivered a usable record (one that decodes to a flow).
 *      Probation entries number at most limits.probation; a newcomer that
 *      finds them all taken evicts one of them: the oldest (first seen) of
 *      those evicted from probation most often before (strikes, kept in a
 *      fixed array and cleared by a promotion).  A spoofing or broken
 *      sender therefore holds an entry only until limits.probation newer
 *      senders have come, and never blocks one; and a flood whose senders
 *      come back round after round evicts its own, not a router that sent
 *      its templates in one message and its data in the next.
 *   2. The first usable record promotes it (exporter_table_promote()):
 *      established exporters number at most limits.exporters and are never
 *      evicted for a newcomer.  When that is full, a promotion takes the
 *      place of the established exporter silent the longest, provided it
 *      has been silent for longer than the table's idle time (it no longer
 *      holds slots open); otherwise the exporter stays on probation and the
 *      refusal is counted.
 *   3. Lookups are by hash; every entry is found in constant time.
 *
 * Entries are the caller's (void *), owned by the table once added: the
 * table hands each to its evict function when it evicts it, and to its
 * free function at exporter_table_free().  Not thread-safe.
 */
#ifndef DS_EXPORTER_TABLE_H
#define DS_EXPORTER_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/addr.h"

struct exporter_table;

struct exporter_table_limits {
    size_t established;         /* limits.exporters, >= 1 */
    size_t probation;           /* limits.probation, >= 1 */
    int64_t idle_ms;            /* silent longer: an established entry may make room */
};

struct exporter_table_stats {
    size_t established, probation;
    uint64_t evicted_probation;     /* probation entries evicted for a newcomer */
    uint64_t evicted_idle;          /* idle established entries given up for a promotion */
    uint64_t promotions_refused;    /* established full, none idle: stayed on probation */
};

/*
 * Called with an entry the table gives up (why: "probation" or "idle"), which
 * then belongs to the callee; and at the end, with every entry left.
 */
typedef void (*exporter_evict_fn)(void *ctx, void *entry, const char *why);
typedef void (*exporter_free_fn)(void *entry);

struct exporter_table *exporter_table_new(const struct exporter_table_limits *lim,
                                          exporter_evict_fn evict, exporter_free_fn free_fn,
                                          void *ctx);
/* Frees the table and hands every entry to its free function. */
void exporter_table_free(struct exporter_table *t);

/* The entry of (a, proto), or NULL; now (ms) becomes its last time seen. */
void *exporter_table_find(struct exporter_table *t, const struct addr *a, int proto,
                          int64_t now);

/*
 * Adds entry for (a, proto), which must not be in the table: on probation,
 * or established (restored from a checkpoint; refused, returning false, if
 * the established entries are full).  A probation entry always gets in,
 * evicting the oldest one on probation if they are full.
 */
bool exporter_table_add(struct exporter_table *t, const struct addr *a, int proto, void *entry,
                        bool established, int64_t now);

/*
 * (a, proto) delivered a usable record: established from now on if there is
 * room (see 2. above).  Returns true if it is established after the call.
 */
bool exporter_table_promote(struct exporter_table *t, const struct addr *a, int proto,
                            int64_t now);

/* Is (a, proto) established?  False if on probation or unknown. */
bool exporter_table_established(const struct exporter_table *t, const struct addr *a, int proto);

/* The entries, in no particular order: i < exporter_table_count(). */
size_t exporter_table_count(const struct exporter_table *t);
void *exporter_table_at(const struct exporter_table *t, size_t i);

const struct exporter_table_stats *exporter_table_get_stats(struct exporter_table *t);

/* ---- checkpoints ----------------------------------------------------------- */

/*
 * One exporter as a checkpoint keeps it: big endian, magic "DSC1", the
 * number of exporters, then each one's address (16 bytes), protocol, clock
 * (ms), sampling rate (8 bytes each), and two length-prefixed blobs: its
 * session (ingest_session_save()) and its sampling state
 * (norm_source_save()).  Blobs are borrowed: from the caller when saving,
 * from the checkpoint when walking it.
 */
struct exporter_saved {
    struct addr addr;
    int proto;
    int64_t event_ms;
    uint32_t rate;
    const uint8_t *session;
    size_t session_len;
    const uint8_t *norm;
    size_t norm_len;
};

/* Encodes n exporters: an owned buffer of *len bytes. */
uint8_t *exporter_state_encode(const struct exporter_saved *v, size_t n, size_t *len);

/*
 * Walks a checkpoint's exporters, calling fn for each until it returns
 * non-zero.  Returns 0, or -1 if the blob is damaged (what is before the
 * damage has been passed to fn): a wrong magic, a count or length that
 * runs past the end, a protocol that is not one.
 */
int exporter_state_walk(const uint8_t *b, size_t len,
                        int (*fn)(void *ctx, const struct exporter_saved *e), void *ctx);

#endif
