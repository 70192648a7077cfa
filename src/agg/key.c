/*
 * Packed group keys (see ds/key.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/key.h"
#include "ds/proto.h"

static size_t
key_width(enum key_kind kind)
{
    switch (kind) {
    case KEY_PROTO:
    case KEY_TCP_FLAGS:
    case KEY_ICMP_TYPE:
    case KEY_ICMP_CODE:
    case KEY_IP_VERSION:
        return 1;
    case KEY_DST_PORT:
    case KEY_SRC_PORT:
    case KEY_TYPE:
        return 2;
    case KEY_SRC_ADDR:
    case KEY_DST_ADDR:
    case KEY_SRC_NET:
    case KEY_DST_NET:
        return 16;
    case KEY_EXPORTER:
        return 20;
    }
    return 0;
}

void
key_layout_init(struct key_layout *l, const struct key_spec *keys, size_t n)
{
    size_t off = 1;

    memset(l, 0, sizeof(*l));
    l->n = n;
    for (size_t i = 0; i < n; i++) {
        l->keys[i] = keys[i];
        l->offset[i] = (uint8_t)off;
        off += key_width(keys[i].kind);
    }
    /* Whole 8-byte words: keys are cleared and compared a word at a time. */
    l->stored = off;
    l->size = (off + 7) & ~(size_t)7;
}

static void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void
put_net(uint8_t *p, const struct addr *a, const struct key_spec *k)
{
    if (addr_is_v4(a)) {
        /* the common case, without the general 16-byte mask */
        uint32_t v = addr_v4(a), mask = k->v4_len ? ~0u << (32 - k->v4_len) : 0;

        memcpy(p, a->b, 12);
        v &= mask;
        p[12] = (uint8_t)(v >> 24);
        p[13] = (uint8_t)(v >> 16);
        p[14] = (uint8_t)(v >> 8);
        p[15] = (uint8_t)v;
        return;
    }
    {
        struct addr m = *a;

        addr_mask(&m, k->v6_len);
        memcpy(p, m.b, 16);
    }
}

void
key_extract(const struct key_layout *l, const struct flow *f, uint8_t *out)
{
    for (size_t w = 0; w < l->size; w += 8)
        memset(out + w, 0, 8);
    for (size_t i = 0; i < l->n; i++) {
        uint8_t *p = out + l->offset[i];
        int none = 0;

        switch (l->keys[i].kind) {
        case KEY_PROTO:
            p[0] = f->proto;
            break;
        case KEY_DST_PORT:
            if (proto_has_ports(f->proto))
                put16(p, f->dst_port);
            else
                none = 1;
            break;
        case KEY_SRC_PORT:
            if (proto_has_ports(f->proto))
                put16(p, f->src_port);
            else
                none = 1;
            break;
        case KEY_TCP_FLAGS:
            if (f->proto == PROTO_TCP)
                p[0] = f->tcp_flags;
            else
                none = 1;
            break;
        case KEY_ICMP_TYPE:
            if (proto_is_icmp(f->proto))
                p[0] = f->icmp_type;
            else
                none = 1;
            break;
        case KEY_ICMP_CODE:
            if (proto_is_icmp(f->proto))
                p[0] = f->icmp_code;
            else
                none = 1;
            break;
        case KEY_SRC_ADDR:
            memcpy(p, f->src.b, 16);
            break;
        case KEY_DST_ADDR:
            memcpy(p, f->dst.b, 16);
            break;
        case KEY_SRC_NET:
            put_net(p, &f->src, &l->keys[i]);
            break;
        case KEY_DST_NET:
            put_net(p, &f->dst, &l->keys[i]);
            break;
        case KEY_EXPORTER:
            if (f->exporter) {
                memcpy(p, f->exporter->addr.b, 16);
                p[16] = (uint8_t)(f->exporter->odid >> 24);
                p[17] = (uint8_t)(f->exporter->odid >> 16);
                p[18] = (uint8_t)(f->exporter->odid >> 8);
                p[19] = (uint8_t)f->exporter->odid;
            }
            break;
        case KEY_IP_VERSION:
            p[0] = f->ip_version;
            break;
        case KEY_TYPE:
            put16(p, ptype_of(f->proto, f->tcp_flags, f->icmp_type));
            break;
        }
        if (none)
            out[0] |= (uint8_t)(1u << i);
    }
}

static uint16_t
get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

const char *
key_value_format(const struct key_layout *l, const uint8_t *k, size_t i, char *buf,
                 bool *is_number)
{
    const uint8_t *p = k + l->offset[i];
    const struct key_spec *ks = &l->keys[i];
    struct addr a;
    const char *name;

    *is_number = false;
    if (key_is_none(l, k, i)) {
        snprintf(buf, KEY_VALUE_STRLEN, "none");
        return buf;
    }
    switch (ks->kind) {
    case KEY_PROTO:
        name = proto_name(p[0]);
        if (name) {
            snprintf(buf, KEY_VALUE_STRLEN, "%s", name);
        } else {
            snprintf(buf, KEY_VALUE_STRLEN, "%u", p[0]);
            *is_number = true;
        }
        break;
    case KEY_DST_PORT:
    case KEY_SRC_PORT:
        snprintf(buf, KEY_VALUE_STRLEN, "%u", get16(p));
        *is_number = true;
        break;
    case KEY_TCP_FLAGS:
        tcp_flags_format(p[0], buf);
        break;
    case KEY_ICMP_TYPE:
    case KEY_ICMP_CODE:
    case KEY_IP_VERSION:
        snprintf(buf, KEY_VALUE_STRLEN, "%u", p[0]);
        *is_number = true;
        break;
    case KEY_SRC_ADDR:
    case KEY_DST_ADDR:
        memcpy(a.b, p, 16);
        addr_format(&a, buf);
        break;
    case KEY_SRC_NET:
    case KEY_DST_NET: {
        char text[ADDR_STRLEN];

        memcpy(a.b, p, 16);
        snprintf(buf, KEY_VALUE_STRLEN, "%s/%u", addr_format(&a, text),
                 addr_is_v4(&a) ? ks->v4_len : ks->v6_len);
        break;
    }
    case KEY_EXPORTER: {
        char text[ADDR_STRLEN];
        uint32_t odid =
            (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 | (uint32_t)p[18] << 8 | p[19];
        static const uint8_t zero[16];

        memcpy(a.b, p, 16);
        if (memcmp(p, zero, 16) == 0)
            snprintf(buf, KEY_VALUE_STRLEN, "odid %u", odid);
        else
            snprintf(buf, KEY_VALUE_STRLEN, "%s odid %u", addr_format(&a, text), odid);
        break;
    }
    case KEY_TYPE:
        ptype_format(get16(p), buf);
        break;
    }
    return buf;
}

void
key_write_json(const struct key_layout *l, const uint8_t *k, struct json_w *w)
{
    char buf[KEY_VALUE_STRLEN];
    bool num;

    json_obj_begin(w);
    for (size_t i = 0; i < l->n; i++) {
        /* "dst_net", not "dst_net/24": the value carries the length */
        key_value_format(l, k, i, buf, &num);
        json_key(w, keyspec_field(&l->keys[i]));
        if (num)
            json_uint(w, (uint64_t)strtoull(buf, NULL, 10));
        else
            json_str(w, buf);
    }
    json_obj_end(w);
}

const char *
key_format_line(const struct key_layout *l, const uint8_t *k, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < l->n && used < len; i++) {
        char v[KEY_VALUE_STRLEN];
        bool num;

        used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? " " : "",
                                 key_value_format(l, k, i, v, &num));
    }
    return buf;
}
