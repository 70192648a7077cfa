/*
 * The spool of report mails (report.spool) and mail_deliver().
 *
 * One message per day: DAY.eml, the message as sent, and DAY.state, when
 * to try next and how often it was tried ("attempts 3\nnext 1700000000\n").
 * Both are written to a temporary name, synced and renamed, so a crash
 * leaves the old file or the new one, never half of one.  The pause after
 * the n-th failure is 1 minute doubled n-1 times, at most an hour; it is
 * kept in the state file so that a restart neither forgets the message
 * nor hurries its next attempt.
 *
 * Once the server took a message, the store records the day as sent and
 * then the files are removed: a crash between the two leaves files that
 * the next look at the spool removes without sending, as the store says
 * the day went out.  (A crash between the server's "250" and the store's
 * record would send it again: at least once, never lost.)
 *
 * A lock on report.spool/.lock keeps a "report --send" and the collector
 * from sending the same file at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ds/mail.h"
#include "ds/tz.h"
#include "ds/xmem.h"

#define MSG_MAX (64u << 20) /* a report mail is a few hundred KB; refuse a runaway file */

/* A day as a file name: "2016-01-01" (letters, digits, '-', '_', '.'; no leading dot). */
static int
day_ok(const char *day)
{
    size_t n = strlen(day);

    if (n == 0 || n >= sizeof(((struct store_mail *)0)->day) || day[0] == '.')
        return 0;
    return strspn(day, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") == n;
}

/* mkdir -p, mode 0700: the mails say what the darknet saw. */
static enum ds_rc
ensure_dir(const char *dir, struct ds_error *err)
{
    char *p = xstrdup(dir);

    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;

            *s = '\0';
            if (mkdir(p, 0700) != 0 && errno != EEXIST) {
                ds_error_set(err, DS_ERR_IO, "report.spool %s: cannot create %s: %s", dir, p,
                             strerror(errno));
                free(p);
                return DS_ERR_IO;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    free(p);
    return DS_OK;
}

static char *
spool_path(const struct ds_cfg *cfg, const char *day, const char *ext)
{
    return xasprintf("%s/%s%s", cfg->report.spool_dir, day, ext);
}

/* Writes data to path through path.tmp: fsync, rename, fsync of the directory. */
static enum ds_rc
write_atomic(const struct ds_cfg *cfg, const char *path, const void *data, size_t len,
             struct ds_error *err)
{
    char *tmp = xasprintf("%s.tmp", path);
    const char *p = data;
    enum ds_rc rc = DS_OK;
    int fd, dfd;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = ds_error_set(err, DS_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    while (len > 0) {
        ssize_t w = write(fd, p, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            rc = ds_error_set(err, DS_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            goto out;
        }
        p += w;
        len -= (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        rc = ds_error_set(err, DS_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = ds_error_set(err, DS_ERR_IO, "%s: cannot rename to %s: %s", tmp, path,
                          strerror(errno));
        unlink(tmp);
        goto out;
    }
    dfd = open(cfg->report.spool_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
out:
    free(tmp);
    return rc;
}

struct spool_state {
    uint32_t attempts;
    int64_t next;
};

static void
state_read(const struct ds_cfg *cfg, const char *day, struct spool_state *s)
{
    char *path = spool_path(cfg, day, ".state");
    FILE *fp = fopen(path, "r");
    unsigned long a;
    long long n;

    s->attempts = 0;
    s->next = 0;
    if (fp != NULL) {
        if (fscanf(fp, "attempts %lu next %lld", &a, &n) == 2) {
            s->attempts = (uint32_t)a;
            s->next = n;
        }
        fclose(fp);
    }
    free(path);
}

static enum ds_rc
state_write(const struct ds_cfg *cfg, const char *day, const struct spool_state *s,
            struct ds_error *err)
{
    char *path = spool_path(cfg, day, ".state");
    char text[64];
    int n = snprintf(text, sizeof(text), "attempts %lu\nnext %lld\n", (unsigned long)s->attempts,
                     (long long)s->next);
    enum ds_rc rc = write_atomic(cfg, path, text, (size_t)n, err);

    free(path);
    return rc;
}

static void
spool_remove(const struct ds_cfg *cfg, const char *day)
{
    char *a = spool_path(cfg, day, ".eml"), *b = spool_path(cfg, day, ".state");

    unlink(a);
    unlink(b);
    free(a);
    free(b);
}

static enum ds_rc
read_file(const char *path, char **out, size_t *len, struct ds_error *err)
{
    FILE *fp = fopen(path, "rb");
    struct stat sb;
    char *buf;

    *out = NULL;
    if (fp == NULL)
        return ds_error_set(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (fstat(fileno(fp), &sb) != 0 || sb.st_size < 0 || (uint64_t)sb.st_size > MSG_MAX) {
        fclose(fp);
        return ds_error_set(err, DS_ERR_IO, "%s: not a spooled message (size)", path);
    }
    buf = xmalloc((size_t)sb.st_size + 1);
    *len = fread(buf, 1, (size_t)sb.st_size, fp);
    if (ferror(fp)) {
        fclose(fp);
        free(buf);
        return ds_error_set(err, DS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    fclose(fp);
    buf[*len] = '\0';
    *out = buf;
    return DS_OK;
}

static int64_t
backoff(uint32_t attempts)
{
    int64_t d = MAIL_RETRY_FIRST_S;

    for (uint32_t i = 1; i < attempts && d < MAIL_RETRY_MAX_S; i++)
        d *= 2;
    return d < MAIL_RETRY_MAX_S ? d : MAIL_RETRY_MAX_S;
}

/* The lock of the spool, held while a message is spooled or sent; -1 with err set. */
static int
spool_lock(const struct ds_cfg *cfg, struct ds_error *err)
{
    char *path;
    int fd;

    if (ensure_dir(cfg->report.spool_dir, err) != DS_OK)
        return -1;
    path = xasprintf("%s/.lock", cfg->report.spool_dir);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        ds_error_set(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            ds_error_set(err, DS_ERR_IO, "%s: cannot lock: %s", path, strerror(errno));
            close(fd);
            free(path);
            return -1;
        }
    }
    free(path);
    return fd;
}

static void
spool_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* releases the flock */
}

/*
 * One attempt at the spooled message of day.  DS_OK: sent and recorded
 * (*sent true), or found sent already and removed (*sent false);
 * DS_ERR_NET: it stays for the next attempt (state and store updated);
 * another error: the spool or the store failed.
 */
static enum ds_rc
try_one(const struct ds_cfg *cfg, struct store *st, const struct mail_ledger *ledger,
        const char *day, int64_t now, bool *sent, struct ds_error *err)
{
    char *path = spool_path(cfg, day, ".eml");
    struct store_mail m;
    struct spool_state s;
    struct ds_error serr;
    bool found = false;
    char *msg = NULL;
    size_t len = 0;
    enum ds_rc rc;

    *sent = false;
    rc = store_mail_find(st, day, &m, &found, err);
    if (rc != DS_OK)
        goto out;
    if (!found) {
        memset(&m, 0, sizeof(m));
        snprintf(m.day, sizeof(m.day), "%s", day);
        m.spooled_at = now;
    }
    if (m.sent_at != 0) {
        /* sent, the files left by a stop between the store and the unlink */
        spool_remove(cfg, day);
        goto out;
    }
    rc = read_file(path, &msg, &len, err);
    if (rc != DS_OK)
        goto out;
    state_read(cfg, day, &s);
    s.attempts++;
    m.attempts = s.attempts;
    rc = DS_OK;
    if (ledger != NULL) {
        /* another node may have mailed the day while this one could not */
        bool elsewhere = false;
        char by[64] = "";

        rc = ledger->was_sent(ledger->ctx, day, &elsewhere, by, sizeof(by), &serr);
        if (rc != DS_OK)
            rc = DS_ERR_NET; /* not known now: an attempt that failed, tried again later */
        if (rc == DS_OK && elsewhere) {
            m.sent_at = now;
            snprintf(m.last_error, sizeof(m.last_error), "sent by node %.60s", by);
            rc = store_mail_save(st, &m, err);
            if (rc == DS_OK)
                spool_remove(cfg, day);
            goto out;
        }
    }
    if (rc == DS_OK)
        rc = smtp_send(cfg, msg, len, &serr);
    if (rc == DS_OK) {
        m.sent_at = now;
        m.last_error[0] = '\0';
        rc = store_mail_save(st, &m, err);
        if (rc == DS_OK) {
            spool_remove(cfg, day);
            *sent = true;
            if (ledger != NULL)
                ledger->record_sent(ledger->ctx, day, m.message_id, now);
        }
        goto out;
    }
    s.next = now + backoff(s.attempts);
    snprintf(m.last_error, sizeof(m.last_error), "%.255s", serr.msg);
    if (state_write(cfg, day, &s, err) != DS_OK || store_mail_save(st, &m, err) != DS_OK) {
        rc = DS_ERR_IO;
        goto out;
    }
    {
        char when[16];
        time_t t = (time_t)s.next;
        struct tm tm;

        localtime_r(&t, &tm);
        strftime(when, sizeof(when), "%H:%M:%S", &tm);
        ds_error_set(err, DS_ERR_NET, "%s; spooled, attempt %u, next at %s", serr.msg,
                     s.attempts, when);
    }
    rc = DS_ERR_NET;
out:
    free(msg);
    free(path);
    return rc;
}

/* The days spooled, sorted (oldest first); owned array of owned strings. */
static enum ds_rc
spool_list(const struct ds_cfg *cfg, char ***days, size_t *n, struct ds_error *err)
{
    DIR *d = opendir(cfg->report.spool_dir);
    struct dirent *de;

    *days = NULL;
    *n = 0;
    if (d == NULL) {
        if (errno == ENOENT)
            return DS_OK;
        return ds_error_set(err, DS_ERR_IO, "report.spool %s: %s", cfg->report.spool_dir,
                            strerror(errno));
    }
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        char *day;

        if (l <= 4 || strcmp(de->d_name + l - 4, ".eml") != 0)
            continue;
        day = xstrndup(de->d_name, l - 4);
        if (!day_ok(day)) {
            free(day);
            continue;
        }
        *days = xreallocarray(*days, *n + 1, sizeof(**days));
        (*days)[(*n)++] = day;
    }
    closedir(d);
    for (size_t i = 1; i < *n; i++)
        for (size_t j = i; j > 0 && strcmp((*days)[j - 1], (*days)[j]) > 0; j--) {
            char *t = (*days)[j];

            (*days)[j] = (*days)[j - 1];
            (*days)[j - 1] = t;
        }
    return DS_OK;
}

static void
days_free(char **days, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(days[i]);
    free(days);
}

/* With the lock held; skip: a day not to try here (NULL: none). */
static enum ds_rc
retry_locked(const struct ds_cfg *cfg, struct store *st, const struct mail_ledger *ledger,
             int64_t now, bool force, const char *skip, uint64_t *sent, uint64_t *failed,
             struct ds_error *err)
{
    char **days;
    size_t n;
    enum ds_rc rc = spool_list(cfg, &days, &n, err);

    for (size_t i = 0; rc == DS_OK && i < n; i++) {
        struct spool_state s;
        struct ds_error e;
        enum ds_rc r;
        bool went;

        if (skip != NULL && strcmp(days[i], skip) == 0)
            continue;
        state_read(cfg, days[i], &s);
        if (!force && s.next > now)
            continue;
        r = try_one(cfg, st, ledger, days[i], now, &went, &e);
        if (r != DS_OK)
            ds_error_prefix(&e, "the report of %s: ", days[i]);
        if (r == DS_OK) {
            if (sent && went)
                (*sent)++;
        } else if (r == DS_ERR_NET) {
            if (failed)
                (*failed)++;
            /* the last failure, for the caller's log; not an error of the spool */
            if (err != NULL)
                *err = e;
        } else {
            if (err != NULL)
                *err = e;
            rc = r;
        }
    }
    days_free(days, n);
    return rc;
}

enum ds_rc
mail_retry_due(const struct ds_cfg *cfg, struct store *st, const struct mail_ledger *ledger,
               int64_t now, bool force, uint64_t *sent, uint64_t *failed, struct ds_error *err)
{
    int fd;
    enum ds_rc rc;

    if (err != NULL)
        err->msg[0] = '\0';
    fd = spool_lock(cfg, err);
    if (fd < 0)
        return DS_ERR_IO;
    rc = retry_locked(cfg, st, ledger, now, force, NULL, sent, failed, err);
    spool_unlock(fd);
    return rc;
}

long
mail_spooled(const struct ds_cfg *cfg)
{
    char **days;
    size_t n;
    struct ds_error err;

    if (spool_list(cfg, &days, &n, &err) != DS_OK)
        return -1;
    days_free(days, n);
    return (long)n;
}

enum ds_rc
mail_deliver(const struct ds_cfg *cfg, struct store *st, const struct mail_ledger *ledger,
             const char *day, const struct report_doc *doc, struct ds_error *err)
{
    int64_t now = (int64_t)time(NULL);
    struct store_mail m;
    struct spool_state s = {0, 0};
    bool found = false;
    char msgid[256], *msg = NULL, *path = NULL;
    size_t len;
    enum ds_rc rc;
    int fd;

    if (!day_ok(day))
        return ds_error_set(err, DS_ERR_USAGE, "'%s' cannot name a report mail", day);
    if (cfg->report.mail_to.n == 0 || *cfg->report.mail_from == '\0' || *cfg->smtp.url == '\0')
        return ds_error_set(err, DS_ERR_CONFIG, "%s: report.mail.to, report.mail.from and "
                            "smtp.url are needed to send a report", cfg->path);
    fd = spool_lock(cfg, err);
    if (fd < 0)
        return DS_ERR_IO;
    rc = store_mail_find(st, day, &m, &found, err);
    if (rc != DS_OK)
        goto out;
    if (found && m.sent_at != 0) {
        char when[TZ_RFC3339_LEN];

        rc = ds_error_set(err, DS_ERR_CONFLICT, "the report of %s was mailed already, at %s "
                          "(Message-ID %s)", day, tz_format_rfc3339(m.sent_at, when),
                          m.message_id);
        goto out;
    }
    if (ledger != NULL) {
        bool elsewhere = false;
        char by[64] = "";

        rc = ledger->was_sent(ledger->ctx, day, &elsewhere, by, sizeof(by), err);
        if (rc != DS_OK)
            goto out;
        if (elsewhere) {
            rc = ds_error_set(err, DS_ERR_CONFLICT, "the report of %s was mailed already, by "
                              "node %s", day, by);
            goto out;
        }
    }
    /* a new message; one spooled before for the day is replaced, its attempts kept */
    mail_message_id(cfg, day, msgid, sizeof(msgid));
    msg = mail_build(cfg, doc, now, msgid, &len);
    path = spool_path(cfg, day, ".eml");
    rc = write_atomic(cfg, path, msg, len, err);
    if (rc != DS_OK)
        goto out;
    state_read(cfg, day, &s);
    s.next = now;
    rc = state_write(cfg, day, &s, err);
    if (rc != DS_OK)
        goto out;
    if (!found) {
        memset(&m, 0, sizeof(m));
        snprintf(m.day, sizeof(m.day), "%s", day);
    }
    snprintf(m.message_id, sizeof(m.message_id), "%s", msgid);
    m.spooled_at = now;
    rc = store_mail_save(st, &m, err);
    if (rc != DS_OK)
        goto out;
    {
        bool went;

        rc = try_one(cfg, st, ledger, day, now, &went, err);
    }
    if (rc == DS_OK || rc == DS_ERR_NET) {
        /* the older ones whose time has come go too; their failures are theirs */
        struct ds_error e;

        if (retry_locked(cfg, st, ledger, now, false, day, NULL, NULL, &e) != DS_OK && rc == DS_OK)
            rc = ds_error_set(err, DS_ERR_IO, "%s", e.msg);
    }
out:
    spool_unlock(fd);
    free(msg);
    free(path);
    return rc;
}
