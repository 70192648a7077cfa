/*
 * Mail: the report of a day as a MIME message, sent over SMTP with
 * libcurl, kept in a spool until it goes out (issue 7).  A day is mailed
 * once: the store records it (store_mail_*).
 *
 * Three parts:
 *   mime.c    the message: multipart/alternative of text/plain and a
 *             multipart/related text/html whose charts are image/png parts
 *             referenced by cid:; CRLF, lines of at most 76 characters.
 *   smtp.c    one attempt to hand a message to smtp.url (libcurl).
 *   spool.c   report.spool: one file per day, written atomically, retried
 *             with a doubling pause (1 min to 1 h) kept across restarts,
 *             removed once sent; mail_deliver().
 *   mailer.c  the collector's nightly schedule, on a thread of its own.
 */
#ifndef DS_MAIL_H
#define DS_MAIL_H

#include <stdbool.h>
#include <stdint.h>

#include "ds/cfg.h"
#include "ds/rc.h"
#include "ds/report.h"
#include "ds/store.h"

/*
 * Where else a day's mail is recorded, beside the store: a ClickHouse
 * cluster's mails table, so that of the nodes that judge in turn one
 * mails a day (docs/CLICKHOUSE.md section 6).  NULL: the store only.
 */
struct mail_ledger {
    /* *sent: some node (its name in by) sent the day's mail; an error: not known now */
    enum ds_rc (*was_sent)(void *ctx, const char *day, bool *sent, char *by, size_t by_len,
                           struct ds_error *err);
    /*
     * the day's mail, message_id, was sent now (Unix seconds).  It went
     * whatever this does: a failure is the ledger's to tell (its owner
     * logs it), at worst another node mails the day again.
     */
    void (*record_sent)(void *ctx, const char *day, const char *message_id, int64_t now);
    void *ctx;
};

/* The pause before the first retry, doubled at each failure up to the maximum. */
#define MAIL_RETRY_FIRST_S 60
#define MAIL_RETRY_MAX_S 3600

/*
 * Spools the message of day ("2016-01-01") built from doc and tries to
 * send it now, and any older spooled message that is due.  Refuses
 * (DS_ERR_CONFLICT) a day already sent.  A failed send leaves the message
 * spooled for a retry and returns DS_ERR_NET (err says why; the password
 * never appears in it).  st is borrowed.  With a ledger, a day it says was
 * sent is refused too (DS_ERR_CONFLICT), and a day sent is recorded there.
 */
enum ds_rc mail_deliver(const struct ds_cfg *cfg, struct store *st,
                        const struct mail_ledger *ledger, const char *day,
                        const struct report_doc *doc, struct ds_error *err);

/*
 * Sends the spooled messages whose retry time has come (all of them when
 * force).  *sent and *failed (may be NULL) count the attempts; returns
 * DS_OK, or the spool's or store's error (a failed send is not an error).
 * With a ledger, a spooled day that it says another node sent is removed
 * unsent; a ledger that cannot be asked counts as a failed attempt.
 */
enum ds_rc mail_retry_due(const struct ds_cfg *cfg, struct store *st,
                          const struct mail_ledger *ledger, int64_t now, bool force,
                          uint64_t *sent, uint64_t *failed, struct ds_error *err);

/* Messages waiting in the spool; -1 if the spool cannot be read. */
long mail_spooled(const struct ds_cfg *cfg);

/* ---- the message (mime.c) ---- */

/*
 * The message of day built from doc: headers From, To, Subject
 * (doc->subject, RFC 2047 if not ASCII),
 * Date (now, in the configured zone), Message-ID (msgid, "<...>"),
 * MIME-Version; CRLF line ends.  Returns an owned string, its length in
 * *len.
 */
char *mail_build(const struct ds_cfg *cfg, const struct report_doc *doc, int64_t now,
                 const char *msgid, size_t *len);
/* A new Message-ID, "<darkstab.DAY.RANDOM@DOMAIN>" (DOMAIN from the sender address). */
void mail_message_id(const struct ds_cfg *cfg, const char *day, char *buf, size_t len);

/* Quoted-printable (RFC 2045) of text, LF or CRLF line ends made CRLF; owned. */
char *mail_qp_encode(const char *text, size_t len);
/* Base64 of data in lines of 76 characters, each ended by CRLF; owned. */
char *mail_base64_encode(const uint8_t *data, size_t len);
/*
 * A header "Name: value" folded to lines of at most 78 characters, the
 * value as RFC 2047 encoded words (UTF-8, Q or B) when it is not plain
 * ASCII; ends with CRLF.  Owned.
 */
char *mail_header(const char *name, const char *value);

/* ---- one attempt (smtp.c) ---- */

/*
 * Hands msg to smtp.url for report.mail.to from report.mail.from.  On
 * failure err names the server (without any password in its URL) and
 * libcurl's error, DS_ERR_NET (DS_ERR_IO if the password file cannot be
 * read).
 */
enum ds_rc smtp_send(const struct ds_cfg *cfg, const char *msg, size_t len,
                     struct ds_error *err);

/* ---- the collector's schedule (mailer.c) ---- */

struct mailer;

/*
 * The day whose report is due at now: the latest day D (its start, local
 * midnight) whose schedule time on the next day is at or before now, and
 * that time in *due.  Needs report.schedule set and tz_apply() done.
 */
int64_t mail_due_day(const struct ds_cfg *cfg, int64_t now, int64_t *due);

/* What the mailer mails from. */
struct mailer_source {
    /* the collector's store, whose open transaction its records join (borrowed) */
    struct store *st;
    /*
     * or, st NULL: a store the mailer opens on a connection of its own the
     * first time a day is due here (a cluster's view, written by another
     * thread: cluster_view_path())
     */
    const char *path;
    const struct mail_ledger *ledger;   /* borrowed; NULL: none */
};

/*
 * Starts the mail thread of the collector: cfg and what src names are
 * borrowed for the mailer's life; report.* and smtp.* take a restart.
 * *out is NULL when report.schedule is off.
 */
enum ds_rc mailer_start(const struct ds_cfg *cfg, const struct mailer_source *src,
                        struct mailer **out, struct ds_error *err);
/*
 * Once a second from the collector: now, and the time up to which every
 * slot is judged (INT64_MIN: unknown).  due_here: this node mails the
 * days that come due (false on a cluster's node that does not judge now:
 * it only retries what it spooled).  Never blocks on the mail thread.
 */
void mailer_tick(struct mailer *m, int64_t now, int64_t closed_upto, bool due_here);
struct mailer_stats {
    uint64_t sent;              /* messages the server took */
    uint64_t failed;            /* attempts that failed */
    long spooled;               /* messages waiting now */
};
void mailer_get_stats(struct mailer *m, struct mailer_stats *s);
/*
 * Stops the thread, waiting for an attempt under way (at most smtp.timeout);
 * its counts stay readable.  NULL is fine.
 */
void mailer_halt(struct mailer *m);
/* Halts it if need be and frees m; NULL is fine. */
void mailer_stop(struct mailer *m);

#endif
