/*
 * The configured time zone.  darkstab runs in one IANA time zone per
 * process (the "timezone" key); it is applied through TZ so that the C
 * library's tz database does the calendar work, including daylight-saving
 * changes.  Times are Unix seconds throughout.
 */
#ifndef DS_TZ_H
#define DS_TZ_H

#include <stddef.h>
#include <stdint.h>

/* Returns 0 if name is "UTC" or a zone in the tz database, else -1 and why. */
int tz_check(const char *name, char *why, size_t whylen);
/* Makes name the process time zone (after tz_check). */
void tz_apply(const char *name);

/* Local midnight at or before t. */
int64_t tz_day_start(int64_t t);
/* The local midnight after the one at day_start. */
int64_t tz_next_day(int64_t day_start);
/* Local Monday midnight at or before t. */
int64_t tz_week_start(int64_t t);
/* UTC offset in seconds at t. */
long tz_offset(int64_t t);

#define TZ_RFC3339_LEN 64
/* "2015-12-21T00:00:00+09:00" in the process zone; buf of TZ_RFC3339_LEN. */
const char *tz_format_rfc3339(int64_t t, char *buf);
/* Same with milliseconds: "2015-12-21T00:00:00.250+09:00". */
const char *tz_format_rfc3339_ms(int64_t t_ms, char *buf);
/* Parses RFC 3339 ("...Z" or with offset) or a local "YYYY-MM-DD[ HH:MM[:SS]]". */
int tz_parse_time(const char *s, int64_t *t);

#endif
