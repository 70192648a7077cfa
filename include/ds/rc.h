/*
 * Return codes shared by every module: 0 is success, negative values are
 * errors.  Functions that can fail return enum ds_rc and, where a person
 * needs to know what went wrong, fill a struct ds_error supplied by the
 * caller; nothing below the command layer prints an error itself.
 */
#ifndef DS_RC_H
#define DS_RC_H

#include <stdarg.h>
#include <stddef.h>

enum ds_rc {
    DS_OK = 0,
    DS_ERR_NOMEM = -1,    /* an allocation failed */
    DS_ERR_IO = -2,       /* a file or socket could not be read or written */
    DS_ERR_PARSE = -3,    /* input data is malformed */
    DS_ERR_CONFIG = -4,   /* the configuration is invalid */
    DS_ERR_DB = -5,       /* the store failed */
    DS_ERR_NET = -6,      /* a network operation failed */
    DS_ERR_LIMIT = -7,    /* a configured or built-in limit was reached */
    DS_ERR_CONFLICT = -8, /* stored state disagrees with the configuration */
    DS_ERR_USAGE = -9,    /* the command line is wrong */
    DS_ERR_INTERNAL = -10,
};

/* A message for a person: what failed and where.  Always NUL terminated. */
struct ds_error {
    char msg[1024];
};

/* Name of a return code, for logs ("no memory", "parse error", ...). */
const char *ds_rc_str(enum ds_rc rc);

/*
 * Sets err->msg from a printf format; err may be NULL.  Returns rc so that
 * callers can write "return ds_error_set(err, DS_ERR_IO, ...)".
 */
enum ds_rc ds_error_set(struct ds_error *err, enum ds_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends a context such as "store darkstab.db: " to an existing message. */
void ds_error_prefix(struct ds_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
