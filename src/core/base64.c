/*
 * Base64 encoding and decoding (see ds/base64.h).
 */
#include <stdlib.h>

#include "ds/base64.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
base64_len(size_t n)
{
    return (n + 2) / 3 * 4;
}

size_t
base64_encode(const uint8_t *buf, size_t n, size_t line, char *out)
{
    size_t o = 0, col = 0;

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)buf[i] << 16;
        char q[4];

        if (i + 1 < n)
            v |= (uint32_t)buf[i + 1] << 8;
        if (i + 2 < n)
            v |= buf[i + 2];
        q[0] = alphabet[(v >> 18) & 63];
        q[1] = alphabet[(v >> 12) & 63];
        q[2] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
        q[3] = i + 2 < n ? alphabet[v & 63] : '=';
        for (int k = 0; k < 4; k++) {
            if (line > 0 && col == line) {
                out[o++] = '\r';
                out[o++] = '\n';
                col = 0;
            }
            out[o++] = q[k];
            col++;
        }
    }
    out[o] = '\0';
    return o;
}

static int
value_of(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

uint8_t *
base64_decode(const char *s, size_t len, size_t *n)
{
    uint8_t *out = malloc(len / 4 * 3 + 3);
    size_t o = 0, q = 0, pad = 0;
    uint32_t v = 0;

    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int d;

        if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            pad++;
            d = 0;
        } else {
            /* data after padding is not base64 */
            d = pad > 0 ? -1 : value_of(c);
        }
        if (d < 0 || pad > 2)
            goto bad;
        v = v << 6 | (uint32_t)d;
        if (++q == 4) {
            out[o++] = (uint8_t)(v >> 16);
            if (pad < 2)
                out[o++] = (uint8_t)(v >> 8);
            if (pad < 1)
                out[o++] = (uint8_t)v;
            q = 0;
            v = 0;
        }
    }
    if (q != 0)
        goto bad;
    *n = o;
    return out;
bad:
    free(out);
    return NULL;
}
