/*
 * Logging, after OpenBSD's log.c: messages go to stderr or to syslog, each
 * starts with the module tag and the object it concerns, in lower case and
 * without a trailing period ("ingest: file x.ipfix offset 1200: ...").
 *
 * fatal()/fatalx() are for start-up and broken invariants only, never for a
 * path that handles a record.  log_throttled() rate-limits a warning per key
 * so that a broken exporter cannot flood the log.
 */
#ifndef DS_LOG_H
#define DS_LOG_H

#include <stdarg.h>
#include <stdint.h>
#include <syslog.h>

#define DS_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* to_syslog: 0 writes to stderr; level is a syslog level (LOG_INFO, ...). */
void log_init(int to_syslog, int level, const char *ident);
void log_set_level(int level);
int log_get_level(void);
/* Returns the level named "error", "warning", "info" or "debug", or -1. */
int log_level_from_name(const char *name);

void log_msg(int level, const char *fmt, ...) DS_PRINTF(2, 3);
void log_vmsg(int level, const char *fmt, va_list ap) DS_PRINTF(2, 0);
void log_warn(const char *fmt, ...) DS_PRINTF(1, 2); /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) DS_PRINTF(1, 2);
void log_info(const char *fmt, ...) DS_PRINTF(1, 2);
void fatal(const char *fmt, ...) DS_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) DS_PRINTF(1, 2) __attribute__((noreturn));

/* Skips evaluating the arguments of suppressed debug messages. */
#define log_debug(...)                                                         \
    do {                                                                       \
        if (log_get_level() >= LOG_DEBUG)                                      \
            log_msg(LOG_DEBUG, __VA_ARGS__);                                   \
    } while (0)

/*
 * Logs at most a few messages per key and minute (now_s is the caller's
 * clock, in seconds); when a later message gets through, it says how many
 * were suppressed.  key identifies the kind of problem and its object.
 */
void log_throttled(uint64_t key, int64_t now_s, int level, const char *fmt, ...) DS_PRINTF(4, 5);

/* Number of messages logged at LOG_WARNING or worse since start (tests). */
uint64_t log_warning_count(void);

#endif
