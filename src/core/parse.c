/*
 * Checked parsers for configuration values (see ds/parse.h).
 */
#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/parse.h"

int
parse_int64(const char *s, int64_t min, int64_t max, int64_t *out, char *why, size_t whylen)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno == ERANGE || isspace((unsigned char)*s)) {
        snprintf(why, whylen, "'%s' is not an integer", s);
        return -1;
    }
    if (v < min || v > max) {
        snprintf(why, whylen, "%lld is outside %lld..%lld", v, (long long)min, (long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int
parse_decimal(const char *s, int max_decimals, struct decimal *out, char *why, size_t whylen)
{
    const char *p = s;
    int64_t num = 0, den = 1;
    int decimals = 0, digits = 0;
    bool neg = false, point = false;

    if (*p == '-' || *p == '+')
        neg = (*p++ == '-');
    for (; *p; p++) {
        if (*p == '.' && !point) {
            point = true;
            continue;
        }
        if (!isdigit((unsigned char)*p))
            break;
        if (++digits > 15) {
            snprintf(why, whylen, "'%s' has too many digits", s);
            return -1;
        }
        num = num * 10 + (*p - '0');
        if (point) {
            if (++decimals > max_decimals) {
                snprintf(why, whylen, "'%s' has more than %d decimals", s, max_decimals);
                return -1;
            }
            den *= 10;
        }
    }
    if (*p != '\0' || digits == 0) {
        snprintf(why, whylen, "'%s' is not a number", s);
        return -1;
    }
    /* Reduce trailing zeros so that "1.50" and "1.5" are the same value. */
    while (den > 1 && num % 10 == 0) {
        num /= 10;
        den /= 10;
    }
    if (num == 0)
        neg = false;
    out->num = neg ? -num : num;
    out->den = den;
    out->value = (double)out->num / (double)den;
    {
        char text[32];
        int d = 0, len, at;

        for (int64_t x = den; x > 1; x /= 10)
            d++;
        /* The digits of num, at least d + 1 of them, with the point d from the end. */
        len = snprintf(text, sizeof(text), "%0*lld", d + 1, (long long)num);
        at = len - d;
        snprintf(out->text, sizeof(out->text), "%s%.*s%s%s", neg ? "-" : "", at, text,
                 d ? "." : "", text + at);
    }
    return 0;
}

int
parse_duration(const char *s, int64_t *seconds, char *why, size_t whylen)
{
    char *end;
    long long v;
    int64_t mult = 1;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || v < 0 || errno == ERANGE || !isdigit((unsigned char)*s)) {
        snprintf(why, whylen, "'%s' is not a duration such as 30s, 5m, 1h, 1d", s);
        return -1;
    }
    switch (*end) {
    case '\0':
    case 's':
        mult = 1;
        break;
    case 'm':
        mult = 60;
        break;
    case 'h':
        mult = 3600;
        break;
    case 'd':
        mult = 86400;
        break;
    case 'w':
        mult = 7 * 86400;
        break;
    default:
        snprintf(why, whylen, "'%s' has an unknown unit (use s, m, h, d or w)", s);
        return -1;
    }
    if (*end != '\0' && end[1] != '\0') {
        snprintf(why, whylen, "'%s' is not a duration such as 30s, 5m, 1h, 1d", s);
        return -1;
    }
    if (v > (int64_t)10 * 365 * 86400 / mult) {
        snprintf(why, whylen, "'%s' is longer than ten years", s);
        return -1;
    }
    *seconds = v * mult;
    return 0;
}

const char *
format_duration(int64_t seconds, char *buf, size_t len)
{
    if (seconds > 0 && seconds % (7 * 86400) == 0)
        snprintf(buf, len, "%lldw", (long long)(seconds / (7 * 86400)));
    else if (seconds > 0 && seconds % 86400 == 0)
        snprintf(buf, len, "%lldd", (long long)(seconds / 86400));
    else if (seconds > 0 && seconds % 3600 == 0)
        snprintf(buf, len, "%lldh", (long long)(seconds / 3600));
    else if (seconds > 0 && seconds % 60 == 0)
        snprintf(buf, len, "%lldm", (long long)(seconds / 60));
    else
        snprintf(buf, len, "%llds", (long long)seconds);
    return buf;
}

int
parse_size(const char *s, int64_t *bytes, char *why, size_t whylen)
{
    char *end;
    long long v;
    int shift = 0;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (end == s || v < 0 || errno == ERANGE || !isdigit((unsigned char)*s)) {
        snprintf(why, whylen, "'%s' is not a size such as 64K, 32M, 1G", s);
        return -1;
    }
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        shift = 10;
        break;
    case 'm':
    case 'M':
        shift = 20;
        break;
    case 'g':
    case 'G':
        shift = 30;
        break;
    default:
        snprintf(why, whylen, "'%s' has an unknown unit (use K, M or G)", s);
        return -1;
    }
    if (*end != '\0' && end[1] != '\0' && !(end[1] == 'B' && end[2] == '\0')) {
        snprintf(why, whylen, "'%s' is not a size such as 64K, 32M, 1G", s);
        return -1;
    }
    if (v > (INT64_MAX >> shift)) {
        snprintf(why, whylen, "'%s' is too large", s);
        return -1;
    }
    *bytes = (int64_t)v << shift;
    return 0;
}

const char *
format_size(int64_t bytes, char *buf, size_t len)
{
    if (bytes > 0 && bytes % (INT64_C(1) << 30) == 0)
        snprintf(buf, len, "%lldG", (long long)(bytes >> 30));
    else if (bytes > 0 && bytes % (INT64_C(1) << 20) == 0)
        snprintf(buf, len, "%lldM", (long long)(bytes >> 20));
    else if (bytes > 0 && bytes % 1024 == 0)
        snprintf(buf, len, "%lldK", (long long)(bytes >> 10));
    else
        snprintf(buf, len, "%lld", (long long)bytes);
    return buf;
}
