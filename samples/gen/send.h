/*
 * darkstab-gen --send: the scenario's records over UDP, as IPFIX (RFC 7011)
 * or NetFlow v9 (RFC 3954), in batches of datagrams (sendmmsg) paced to a
 * rate.  Both formats carry the same records in the same order with the
 * same values; only the encoding differs (see send.c).
 */
#ifndef DS_GEN_SEND_H
#define DS_GEN_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "scenario.h"

enum send_format {
    SEND_IPFIX,
    SEND_NETFLOW9,
};

struct send_stats {
    uint64_t records;
    uint64_t datagrams;     /* handed to the kernel, templates-only ones included */
    uint64_t bytes;         /* UDP payload */
    uint64_t refused;       /* "port unreachable" reports: datagrams nobody received */
    uint64_t restarts;      /* NetFlow v9: exporter restarts that keep uptimes in 32 bits */
    uint64_t dropped;       /* left out on purpose (send_drop_every) */
    double seconds;         /* from the first batch to the last */
};

struct sender;

/*
 * Resolves host and port (borrowed) and connects a UDP socket, bound to
 * the source address from if not NULL (one of many exporters on one
 * machine).  rate is in records a second, 0 for as fast as possible.
 * Returns an owned sender (send_close() frees it), or NULL with the reason
 * in why.
 */
struct sender *send_open(const char *host, const char *port, const char *from,
                         enum send_format fmt, uint64_t rate, char *why, size_t whylen);

/*
 * A lossy path, for tests of a collector's accounting: every nth datagram
 * is left out (never the first, which carries the templates).  0: none.
 */
void send_drop_every(struct sender *s, uint64_t n);

/*
 * n exporters instead of one (IPFIX only): n - 1 more sockets from the
 * addresses after from (an IPv4 address, the first exporter's), to
 * host:port; datagrams go to them in turn, each exporter with its own
 * sequence numbers and the templates.  -1 with send_error() set if not.
 */
int send_exporters(struct sender *s, const char *host, const char *port, const char *from,
                   int n);

/*
 * Encodes one record (borrowed) into the current datagram and sends full
 * batches when their time comes.  Records must come in start-time order
 * (gen_run's order).  Returns 0, or -1 with the reason in send_error().
 */
int send_flow(struct sender *s, const struct gen_flow *f);

/* The reason of the last failure. */
const char *send_error(const struct sender *s);

/*
 * Sends what is left, fills st (may be NULL) and frees s (NULL is a
 * no-op).  Returns 0, or -1 after printing the reason on stderr.
 */
int send_close(struct sender *s, struct send_stats *st);

#endif
