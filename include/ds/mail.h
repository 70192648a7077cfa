/*
 * Mail: the report of a day as a MIME message, sent over SMTP with
 * libcurl, kept in a spool until it goes out (issue 7).  A day is mailed
 * once: the store records it (store_mail_*).
 */
#ifndef DS_MAIL_H
#define DS_MAIL_H

#include <stdint.h>

#include "ds/cfg.h"
#include "ds/rc.h"
#include "ds/report.h"
#include "ds/store.h"

/*
 * Spools the message of day ("2016-01-01") built from doc and tries to
 * send it now, and any older spooled message.  Refuses (DS_ERR_CONFLICT) a
 * day already sent.  A failed send leaves the message spooled for a retry
 * (err says why; the password never appears in it).
 */
enum ds_rc mail_deliver(const struct ds_cfg *cfg, struct store *st, const char *day,
                        const struct report_doc *doc, struct ds_error *err);

#endif
