/*
 * The day whose report is due (see ds/mail.h): report.schedule is a local
 * time of day in the configured zone, so the C library's calendar (TZ,
 * applied by tz_apply) finds it, daylight-saving changes included.
 */
#include <time.h>

#include "ds/mail.h"
#include "ds/tz.h"

/* The local time minutes after local midnight day (a DST change moves it, mktime copes). */
static int64_t
at_minutes(int64_t day, int64_t minutes)
{
    time_t t = (time_t)day;
    struct tm tm;

    localtime_r(&t, &tm);
    tm.tm_hour = (int)(minutes / 60);
    tm.tm_min = (int)(minutes % 60);
    tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}

int64_t
mail_due_day(const struct ds_cfg *cfg, int64_t now, int64_t *due)
{
    int64_t today = tz_day_start(now);
    int64_t at = at_minutes(today, cfg->report.schedule_min);

    if (now < at) {
        /* today's time has not come: the last one was yesterday's */
        today = tz_day_start(today - 1);
        at = at_minutes(today, cfg->report.schedule_min);
    }
    *due = at;
    return tz_day_start(today - 1);
}
