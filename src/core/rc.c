/*
 * Return codes and person-readable error messages (see ds/rc.h).
 */
#include <stdio.h>
#include <string.h>

#include "ds/rc.h"

const char *
ds_rc_str(enum ds_rc rc)
{
    switch (rc) {
    case DS_OK:
        return "success";
    case DS_ERR_NOMEM:
        return "out of memory";
    case DS_ERR_IO:
        return "i/o error";
    case DS_ERR_PARSE:
        return "malformed input";
    case DS_ERR_CONFIG:
        return "configuration error";
    case DS_ERR_DB:
        return "store error";
    case DS_ERR_NET:
        return "network error";
    case DS_ERR_LIMIT:
        return "limit reached";
    case DS_ERR_CONFLICT:
        return "conflict with stored state";
    case DS_ERR_USAGE:
        return "usage error";
    case DS_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown error";
}

enum ds_rc
ds_error_set(struct ds_error *err, enum ds_rc rc, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return rc;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return rc;
}

void
ds_error_prefix(struct ds_error *err, const char *fmt, ...)
{
    char prefix[512];
    size_t plen, mlen;
    va_list ap;
    int n;

    if (err == NULL)
        return;
    va_start(ap, fmt);
    n = vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    plen = strlen(prefix);
    mlen = strnlen(err->msg, sizeof(err->msg) - 1);
    if (plen + mlen >= sizeof(err->msg))
        mlen = sizeof(err->msg) - 1 - plen;
    memmove(err->msg + plen, err->msg, mlen);
    memcpy(err->msg, prefix, plen);
    err->msg[plen + mlen] = '\0';
}
