/*
 * The collector's archive: every darknet flow it counts, written to IPFIX
 * files that "darkstab analyze" reads back later (with other keys) and
 * counts the same.
 *
 * Files: dir/darkstab-YYYYMMDDTHHMMSSZ.ipfix, one per rotate_s seconds of
 * wall clock, aligned to multiples of rotate_s in UTC and named after the
 * start of their period.  A file is written as NAME.part and renamed to
 * NAME once complete, so whatever reads NAME reads a whole file that will
 * not change again (analyze recognises inputs by their digest).  A second
 * file for the same period (the collector restarted within it) is named
 * darkstab-YYYYMMDDTHHMMSSZ-1.ipfix, -2, and so on: a complete file is
 * never opened again.
 *
 * Records: one per flow, with flowStartMilliseconds, flowEndMilliseconds,
 * packetDeltaCount (the flow's packets, already scaled by its sampling
 * interval, so no sampling element), the addresses, ports,
 * protocolIdentifier, tcpControlBits, icmpTypeCodeIPv4 or icmpTypeCodeIPv6,
 * and the exporter: exporterIPv4Address or exporterIPv6Address with
 * observationDomainId (its odid), which norm reads back as the flow's
 * exporter (ds/norm.h).  Four templates, one per pair of address families
 * (flow, exporter), so no IPv4 address takes 16 bytes.  A flow whose
 * exporter is unknown (NULL, or the all-zero address) carries 0.0.0.0.
 *
 * Crashes: the archive writes whole IPFIX messages only, each with one
 * write at the end of what is already whole, and remembers where that is;
 * a write that fails part way (disk full) is cut back off.  A crash can
 * therefore leave at most one partial message at the end of a .part file.
 * archive_open() finds every .part in dir, keeps its leading run of whole
 * messages (IPFIX header, length, and sets that run exactly to it), cuts
 * the rest, and renames it; a .part with no whole message is removed.
 * Flows still buffered at the crash (since the last archive_flush()) are
 * lost.
 *
 * Not thread-safe: one thread uses an archive.
 */
#ifndef DS_ARCHIVE_H
#define DS_ARCHIVE_H

#include <stdbool.h>
#include <stdint.h>

#include "ds/flow.h"
#include "ds/rc.h"

struct archive;

/*
 * Opens the archive in dir (borrowed), creating it and missing parents
 * with mode 0750 (less the umask), checks that a file can be created in
 * it, and completes the .part files a crash left behind (see above).
 * rotate_s is at least 1.  On success *out is an owned archive (free it
 * with archive_close()).  Returns DS_OK; DS_ERR_IO when dir cannot be
 * created or written, or a .part cannot be completed (err names the path);
 * DS_ERR_CONFIG for a rotate_s below 1.  On error *out is NULL.
 */
enum ds_rc archive_open(const char *dir, int64_t rotate_s, struct archive **out,
                        struct ds_error *err);

/*
 * Appends flow f (borrowed) at wall clock now_s (Unix seconds, passed in so
 * that tests control it).  A now_s in a later period than the open file's
 * completes that file and begins the next; a clock that steps back keeps
 * the open file.  Returns DS_OK, or DS_ERR_IO (err names the file) when a
 * file cannot be created, written or renamed: the flows of the message
 * that failed are lost, the file keeps what was whole before, and the next
 * call tries again.
 */
enum ds_rc archive_add(struct archive *a, const struct flow *f, int64_t now_s,
                       struct ds_error *err);

/*
 * Writes the flows buffered so far as a whole message and syncs the file
 * to disk; the collector calls it at its checkpoints, after which a crash
 * loses none of them.  Returns DS_OK or DS_ERR_IO (err names the file).
 */
enum ds_rc archive_flush(struct archive *a, struct ds_error *err);

/*
 * Flushes, completes the open file (renames NAME.part to NAME) and frees
 * a.  NULL is a no-op.  a is freed whatever happens; returns DS_OK, or
 * DS_ERR_IO with the first error (the .part then stays for the next
 * archive_open() to complete).
 */
enum ds_rc archive_close(struct archive *a, struct ds_error *err);

/* An archive file, for reading the archive back (archive_files()). */
struct archive_file {
    char *path;                 /* owned */
    int64_t period;             /* the start of its period, Unix seconds */
    bool growing;               /* NAME.part: being written, its last message may be partial */
};

/*
 * The archive files in dir (complete and .part) whose period [start,
 * start + rotate_s) meets [from_s, to_s], oldest first: what holds the
 * flows that arrived then.  *out is owned (archive_files_free()).  Safe
 * beside the thread writing the archive.  Returns DS_OK, or DS_ERR_IO if
 * dir cannot be read.
 */
enum ds_rc archive_files(const char *dir, int64_t rotate_s, int64_t from_s, int64_t to_s,
                         struct archive_file **out, size_t *n, struct ds_error *err);
void archive_files_free(struct archive_file *v, size_t n);

#endif
