/*
 * Checked parsers for the small values that configuration and command line
 * carry: integers, exact decimals, durations.  Each returns 0, or -1 with a
 * reason in why; none accepts trailing garbage.
 */
#ifndef DS_PARSE_H
#define DS_PARSE_H

#include <stddef.h>
#include <stdint.h>

/*
 * An exact decimal such as a threshold "0.75": value = num / den, den a
 * power of ten.  Thresholds are compared as integers through this, never as
 * floating point.
 */
struct decimal {
    int64_t num;
    int64_t den;
    double value;
    char text[40];      /* as written, normalised ("0.75", "1", "2.5") */
};

int parse_int64(const char *s, int64_t min, int64_t max, int64_t *out, char *why, size_t whylen);
/* max_decimals: digits allowed after the point. */
int parse_decimal(const char *s, int max_decimals, struct decimal *out, char *why, size_t whylen);
/*
 * "30s", "5m", "1h", "1d", "1w" (a bare number is seconds) into seconds.
 */
int parse_duration(const char *s, int64_t *seconds, char *why, size_t whylen);
/* Writes the shortest of "90s", "5m", "1h", "1d", "1w" for seconds. */
const char *format_duration(int64_t seconds, char *buf, size_t len);
/* A size in bytes: "65536", "64K", "32M", "1G" (binary multiples; "MB" too). */
int parse_size(const char *s, int64_t *bytes, char *why, size_t whylen);
/* The shortest of "1G", "32M", "64K", or bytes. */
const char *format_size(int64_t bytes, char *buf, size_t len);

#endif
