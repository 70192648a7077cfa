/*
 * Group key names (see ds/keyspec.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/keyspec.h"

static const struct {
    const char *name;
    enum key_kind kind;
} key_names[] = {
    {"proto", KEY_PROTO},
    {"dst_port", KEY_DST_PORT},
    {"src_port", KEY_SRC_PORT},
    {"tcp_flags", KEY_TCP_FLAGS},
    {"icmp_type", KEY_ICMP_TYPE},
    {"icmp_code", KEY_ICMP_CODE},
    {"src_addr", KEY_SRC_ADDR},
    {"dst_addr", KEY_DST_ADDR},
    {"src_net", KEY_SRC_NET},
    {"dst_net", KEY_DST_NET},
    {"exporter", KEY_EXPORTER},
    {"ip_version", KEY_IP_VERSION},
    {"type", KEY_TYPE},
};

#define N_KEY_NAMES (sizeof(key_names) / sizeof(key_names[0]))

const char *
keyspec_all_names(void)
{
    return "proto, dst_port, src_port, tcp_flags, icmp_type, icmp_code, src_addr, dst_addr, "
           "src_net/N, dst_net/N, exporter, ip_version, type";
}

static int
parse_len(const char *s, unsigned max, uint8_t *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (!isdigit((unsigned char)*s) || *end != '\0' || v < 0 || v > (long)max)
        return -1;
    *out = (uint8_t)v;
    return 0;
}

int
keyspec_parse(const char *s, struct key_spec *k, char *why, size_t whylen)
{
    char name[KEYSPEC_STRLEN];
    const char *slash = strchr(s, '/');
    size_t n = slash ? (size_t)(slash - s) : strlen(s);

    memset(k, 0, sizeof(*k));
    if (n >= sizeof(name))
        goto unknown;
    memcpy(name, s, n);
    name[n] = '\0';
    for (size_t i = 0; i < N_KEY_NAMES; i++) {
        if (strcmp(name, key_names[i].name) != 0)
            continue;
        k->kind = key_names[i].kind;
        if (k->kind != KEY_SRC_NET && k->kind != KEY_DST_NET) {
            if (slash) {
                snprintf(why, whylen, "key '%s' takes no prefix length", name);
                return -1;
            }
            return 0;
        }
        if (slash == NULL) {
            snprintf(why, whylen, "key '%s' needs a prefix length, as in %s/24", name, name);
            return -1;
        }
        {
            char v4[8], *v6;
            const char *lens = slash + 1;
            size_t l4;

            v6 = strchr(lens, '/');
            l4 = v6 ? (size_t)(v6 - lens) : strlen(lens);
            if (l4 == 0 || l4 >= sizeof(v4))
                goto badlen;
            memcpy(v4, lens, l4);
            v4[l4] = '\0';
            if (parse_len(v4, 32, &k->v4_len) != 0)
                goto badlen;
            k->v6_len = 64;
            if (v6 && parse_len(v6 + 1, 128, &k->v6_len) != 0)
                goto badlen;
        }
        return 0;
    badlen:
        snprintf(why, whylen,
                 "'%s': prefix length must be 0..32 for IPv4, optionally /0..128 for IPv6 "
                 "(dst_net/24 or dst_net/24/48)",
                 s);
        return -1;
    }
unknown:
    snprintf(why, whylen, "unknown group key '%s' (known: %s)", s, keyspec_all_names());
    return -1;
}

const char *
keyspec_field(const struct key_spec *k)
{
    for (size_t i = 0; i < N_KEY_NAMES; i++)
        if (key_names[i].kind == k->kind)
            return key_names[i].name;
    return "?";
}

const char *
keyspec_format(const struct key_spec *k, char *buf)
{
    const char *name = keyspec_field(k);

    if (k->kind == KEY_SRC_NET || k->kind == KEY_DST_NET) {
        if (k->v6_len == 64)
            snprintf(buf, KEYSPEC_STRLEN, "%s/%u", name, k->v4_len);
        else
            snprintf(buf, KEYSPEC_STRLEN, "%s/%u/%u", name, k->v4_len, k->v6_len);
    } else {
        snprintf(buf, KEYSPEC_STRLEN, "%s", name);
    }
    return buf;
}
