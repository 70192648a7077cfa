/*
 * The vocabulary of group keys (METHOD section 2): what a key is called in
 * the configuration and what it means.  Extraction of key values from a
 * flow lives in agg/key.c; this header is shared by the configuration and
 * every stage that names keys.
 */
#ifndef DS_KEYSPEC_H
#define DS_KEYSPEC_H

#include <stddef.h>
#include <stdint.h>

enum key_kind {
    KEY_PROTO,
    KEY_DST_PORT,
    KEY_SRC_PORT,
    KEY_TCP_FLAGS,
    KEY_ICMP_TYPE,
    KEY_ICMP_CODE,
    KEY_SRC_ADDR,
    KEY_DST_ADDR,
    KEY_SRC_NET,
    KEY_DST_NET,
    KEY_EXPORTER,
    KEY_IP_VERSION,
    KEY_TYPE,
};

#define KEYS_MAX 8
#define KEYSPEC_STRLEN 32

struct key_spec {
    enum key_kind kind;
    uint8_t v4_len;     /* src_net/dst_net: IPv4 prefix length */
    uint8_t v6_len;     /* src_net/dst_net: IPv6 prefix length */
};

/*
 * Parses "proto", "dst_port", "dst_net/24" or "dst_net/24/48" (IPv4 /24,
 * IPv6 /48; the IPv6 length defaults to 64).  Returns 0, or -1 and why.
 */
int keyspec_parse(const char *s, struct key_spec *k, char *why, size_t whylen);
/* The canonical name, as keyspec_parse accepts it; buf of KEYSPEC_STRLEN. */
const char *keyspec_format(const struct key_spec *k, char *buf);
/* The JSON member name of a key: "dst_net" for dst_net/24, else the name. */
const char *keyspec_field(const struct key_spec *k);
/* All key names, comma separated, for error messages. */
const char *keyspec_all_names(void);

#endif
