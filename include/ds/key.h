/*
 * Group keys of one analysis, packed (METHOD section 2).
 *
 * A key is a fixed-size byte string: one byte whose bits mark the keys
 * whose value is "none" (a port of a protocol without ports, the flags of a
 * non-TCP flow, ...), then each key's value in network order.  Fixed size
 * makes hashing and comparing a memcmp; the same bytes are stored as the
 * group's identity in the store, so a layout never changes meaning.
 */
#ifndef DS_KEY_H
#define DS_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ds/flow.h"
#include "ds/json.h"
#include "ds/keyspec.h"

#define KEY_BYTES_MAX 184

struct key_layout {
    struct key_spec keys[KEYS_MAX];
    uint8_t offset[KEYS_MAX];
    size_t n;
    size_t size;        /* bytes of a packed key in memory: a multiple of 8, zero padded */
    size_t stored;      /* bytes that carry values: what the store keeps */
};

void key_layout_init(struct key_layout *l, const struct key_spec *keys, size_t n);
/* Packs the key of flow f into out (l->size bytes). */
void key_extract(const struct key_layout *l, const struct flow *f, uint8_t *out);

/* Is key i of packed key k "none"? */
static inline bool
key_is_none(const struct key_layout *l, const uint8_t *k, size_t i)
{
    (void)l;
    return (k[0] >> i) & 1;
}

#define KEY_VALUE_STRLEN 64
/*
 * Key i of k as text ("udp", "2849", "none", "SYN/ACK", "192.0.2.0/24").
 * *is_number is set when the JSON value is a number.
 */
const char *key_value_format(const struct key_layout *l, const uint8_t *k, size_t i, char *buf,
                             bool *is_number);
/* Writes {"proto": "udp", "dst_port": 2849} for k. */
void key_write_json(const struct key_layout *l, const uint8_t *k, struct json_w *w);
/* "udp/2849" style one-line form for text reports. */
const char *key_format_line(const struct key_layout *l, const uint8_t *k, char *buf, size_t len);

#endif
