/*
 * Private to src/ingest: the table of information elements darkstab reads,
 * shared by the checker (which validates their lengths) and the decoder
 * (which builds libfixbuf internal templates from it).
 */
#ifndef DS_INGEST_INT_H
#define DS_INGEST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/ingest.h"

/* Network byte order, as every IPFIX header and set header is. */
static inline uint16_t
rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

enum ipf_kind {
    IPFK_UINT,      /* unsigned integer: reduced-size encoding allowed */
    IPFK_ADDR,      /* address: exact length */
    IPFK_EXACT,     /* date-time or float: exact length */
};

struct ipf_desc {
    uint16_t ie;            /* IANA element id (enterprise 0) */
    const char *name;       /* libfixbuf's name for it */
    uint16_t len;           /* native length in struct ipfix_fields */
    size_t offset;          /* in struct ipfix_fields */
    enum ipf_kind kind;
};

/* Indexed by enum ipfix_field. */
extern const struct ipf_desc ipf_table[IPF_N_FIELDS];

/* The field reading element ie, or -1. */
int ipf_by_ie(uint16_t ie);

/* The paddingOctets element, used to neutralise a field of a bad length. */
#define IE_PADDING_OCTETS 210
#define IE_ENTERPRISE_BIT 0x8000

/*
 * Is ie (IANA, no enterprise bit) in the information model all decoders
 * share?  One that is not, or any enterprise element, must reach libfixbuf
 * as paddingOctets of the same length (ipfix_decode.c says why).
 */
bool ipfix_element_known(uint16_t ie);
#define IE_VARLEN 65535

#endif
