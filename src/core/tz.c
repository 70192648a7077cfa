/*
 * Time zone handling through the C library's tz database (see ds/tz.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds/tz.h"

static const char *
tz_dir(void)
{
    const char *dir = getenv("TZDIR");

    return (dir != NULL && *dir != '\0') ? dir : "/usr/share/zoneinfo";
}

int
tz_check(const char *name, char *why, size_t whylen)
{
    char path[1024];
    char magic[4];
    FILE *fp;
    size_t n;

    if (strcmp(name, "UTC") == 0)
        return 0;
    if (*name == '\0' || *name == '/' || strstr(name, "..") != NULL) {
        snprintf(why, whylen, "'%s' is not an IANA time zone name", name);
        return -1;
    }
    for (const char *p = name; *p; p++) {
        if (!isalnum((unsigned char)*p) && strchr("/_+-", *p) == NULL) {
            snprintf(why, whylen, "'%s' is not an IANA time zone name", name);
            return -1;
        }
    }
    snprintf(path, sizeof(path), "%s/%s", tz_dir(), name);
    fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(why, whylen, "unknown time zone '%s' (not in %s)", name, tz_dir());
        return -1;
    }
    n = fread(magic, 1, sizeof(magic), fp);
    fclose(fp);
    if (n != sizeof(magic) || memcmp(magic, "TZif", 4) != 0) {
        snprintf(why, whylen, "unknown time zone '%s' (%s is not a tz file)", name, path);
        return -1;
    }
    return 0;
}

void
tz_apply(const char *name)
{
    char value[1024];

    if (strcmp(name, "UTC") == 0)
        snprintf(value, sizeof(value), "UTC0");
    else
        snprintf(value, sizeof(value), ":%s", name);
    setenv("TZ", value, 1);
    tzset();
}

int64_t
tz_day_start(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    localtime_r(&tt, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    /*
     * Where midnight itself does not exist (a zone that springs forward at
     * 00:00), mktime normalises to the first instant of the day.
     */
    return (int64_t)mktime(&tm);
}

int64_t
tz_next_day(int64_t day_start)
{
    time_t tt = (time_t)day_start;
    struct tm tm;

    localtime_r(&tt, &tm);
    tm.tm_mday += 1;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

int64_t
tz_week_start(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    localtime_r(&tt, &tm);
    tm.tm_mday -= (tm.tm_wday + 6) % 7;
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

long
tz_offset(int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;

    localtime_r(&tt, &tm);
    return tm.tm_gmtoff;
}

static const char *
format(int64_t t, int ms, char *buf)
{
    time_t tt = (time_t)t;
    struct tm tm;
    long off;
    char frac[8] = "";

    localtime_r(&tt, &tm);
    off = tm.tm_gmtoff;
    if (ms >= 0)
        snprintf(frac, sizeof(frac), ".%03d", ms);
    if (off == 0) {
        snprintf(buf, TZ_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    } else {
        char sign = off < 0 ? '-' : '+';

        if (off < 0)
            off = -off;
        snprintf(buf, TZ_RFC3339_LEN, "%04d-%02d-%02dT%02d:%02d:%02d%s%c%02ld:%02ld",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 frac, sign, off / 3600, (off % 3600) / 60);
    }
    return buf;
}

const char *
tz_format_rfc3339(int64_t t, char *buf)
{
    return format(t, -1, buf);
}

const char *
tz_format_rfc3339_ms(int64_t t_ms, char *buf)
{
    int64_t s = t_ms / 1000;
    int ms = (int)(t_ms % 1000);

    if (ms < 0) {
        ms += 1000;
        s -= 1;
    }
    return format(s, ms, buf);
}

static int
days_in_month(int y, int mo)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return days[mo - 1] + (mo == 2 && leap);
}

int
tz_parse_time(const char *s, int64_t *t)
{
    struct tm tm;
    int n = 0, y, mo, d, h = 0, mi = 0, sec = 0, oh, om;
    char sep;
    const char *rest;

    memset(&tm, 0, sizeof(tm));
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return -1;
    rest = s + n;
    if (*rest == 'T' || *rest == ' ') {
        int m = 0;

        if (sscanf(rest + 1, "%2d:%2d%n", &h, &mi, &m) != 2)
            return -1;
        rest += 1 + m;
        if (*rest == ':') {
            if (sscanf(rest + 1, "%2d%n", &sec, &m) != 1)
                return -1;
            rest += 1 + m;
        }
    }
    /* mktime() would quietly move 2015-02-30 to March */
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 60)
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    if (*rest == '\0') {
        tm.tm_isdst = -1;
        *t = (int64_t)mktime(&tm);
        return 0;
    }
    if (strcmp(rest, "Z") == 0) {
        *t = (int64_t)timegm(&tm);
        return 0;
    }
    if (sscanf(rest, "%c%2d:%2d%n", &sep, &oh, &om, &n) == 3 && rest[n] == '\0' &&
        (sep == '+' || sep == '-') && oh >= 0 && oh <= 23 && om >= 0 && om <= 59) {
        int64_t off = (int64_t)oh * 3600 + om * 60;

        *t = (int64_t)timegm(&tm) - (sep == '+' ? off : -off);
        return 0;
    }
    return -1;
}
