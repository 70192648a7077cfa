/*
 * Logging to stderr or syslog (see ds/log.h).  Messages are written with a
 * single write per line so that lines from two threads never interleave.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ds/log.h"

#define THROTTLE_SLOTS 256
#define THROTTLE_BURST 5
#define THROTTLE_PERIOD_S 60

static int log_to_syslog;
static atomic_int log_level = LOG_INFO;
static atomic_uint_fast64_t warnings;

struct throttle {
    uint64_t key;
    int64_t period_start;
    uint32_t sent;
    uint32_t suppressed;
};

static struct throttle throttles[THROTTLE_SLOTS];
static pthread_mutex_t throttle_lock = PTHREAD_MUTEX_INITIALIZER;

void
log_init(int to_syslog, int level, const char *ident)
{
    log_to_syslog = to_syslog;
    log_level = level;
    if (to_syslog)
        openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void
log_set_level(int level)
{
    log_level = level;
}

int
log_get_level(void)
{
    return log_level;
}

int
log_level_from_name(const char *name)
{
    static const struct {
        const char *name;
        int level;
    } names[] = {
        {"error", LOG_ERR},
        {"warning", LOG_WARNING},
        {"info", LOG_INFO},
        {"debug", LOG_DEBUG},
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i].name) == 0)
            return names[i].level;
    return -1;
}

uint64_t
log_warning_count(void)
{
    return warnings;
}

static const char *
level_word(int level)
{
    switch (level) {
    case LOG_EMERG:
    case LOG_ALERT:
    case LOG_CRIT:
    case LOG_ERR:
        return "error";
    case LOG_WARNING:
        return "warning";
    case LOG_NOTICE:
    case LOG_INFO:
        return "info";
    default:
        return "debug";
    }
}

void
log_vmsg(int level, const char *fmt, va_list ap)
{
    char line[2048];
    int n;

    if (level <= LOG_WARNING)
        warnings++;
    if (level > log_level)
        return;
    if (log_to_syslog) {
        vsyslog(level, fmt, ap);
        return;
    }
    if (log_level >= LOG_DEBUG) {
        struct timespec ts;
        struct tm tm;
        char when[32];

        clock_gettime(CLOCK_REALTIME, &ts);
        localtime_r(&ts.tv_sec, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
        n = snprintf(line, sizeof(line), "darkstab: %s.%03ld %s: ", when, ts.tv_nsec / 1000000,
                     level_word(level));
    } else {
        n = snprintf(line, sizeof(line), "darkstab: %s: ", level_word(level));
    }
    if (n < 0)
        return;
    n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines whole when threads log together. */
    if (write(STDERR_FILENO, line, (size_t)n) < 0)
        return;
}

void
log_msg(int level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
    char buf[1024];
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_msg(LOG_WARNING, "%s: %s", buf, strerror(saved));
}

void
log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(LOG_WARNING, fmt, ap);
    va_end(ap);
}

void
log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(LOG_INFO, fmt, ap);
    va_end(ap);
}

void
fatal(const char *fmt, ...)
{
    char buf[1024];
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    log_msg(LOG_CRIT, "%s: %s", buf, strerror(saved));
    exit(1);
}

void
fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(LOG_CRIT, fmt, ap);
    va_end(ap);
    exit(1);
}

void
log_throttled(uint64_t key, int64_t now_s, int level, const char *fmt, ...)
{
    struct throttle *t;
    uint32_t suppressed = 0;
    int emit = 0;
    va_list ap;

    pthread_mutex_lock(&throttle_lock);
    t = &throttles[(key * 0x9E3779B97F4A7C15ULL) >> 56];
    if (t->key != key || now_s - t->period_start >= THROTTLE_PERIOD_S) {
        suppressed = (t->key == key) ? t->suppressed : 0;
        t->key = key;
        t->period_start = now_s;
        t->sent = 0;
        t->suppressed = 0;
    }
    if (t->sent < THROTTLE_BURST) {
        t->sent++;
        emit = 1;
    } else {
        t->suppressed++;
    }
    pthread_mutex_unlock(&throttle_lock);

    if (!emit) {
        if (level <= LOG_WARNING)
            warnings++;
        return;
    }
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
    if (suppressed > 0)
        log_msg(level, "log: %u similar messages suppressed in the last minute", suppressed);
}
