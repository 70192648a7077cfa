/*
 * One attempt to hand a message to the SMTP server, with libcurl's SMTP
 * (its dot-stuffing, STARTTLS, AUTH and TLS checks; no SMTP of our own).
 *
 * The password is read from smtp.password_file for the attempt only,
 * handed to libcurl and wiped.  It never reaches a message: errors name
 * the server by its URL with any user information removed, and any text
 * from libcurl has the password masked should it ever contain it.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/mail.h"
#include "ds/xmem.h"

#define PASSWORD_MAX 1024

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

/* curl_global_init is not thread-safe in older libcurl: once, whoever comes first. */
static void
curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct upload {
    const char *p;
    size_t left;
};

static size_t
read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    struct upload *u = arg;
    size_t n = size * nitems;

    if (n > u->left)
        n = u->left;
    memcpy(buf, u->p, n);
    u->p += n;
    u->left -= n;
    return n;
}

/*
 * "smtp://user:pw@host:25/x" -> "smtp://host:25", the server for messages;
 * the password of such a URL ("pw") into pw, to be masked.
 */
static void
server_name(const char *url, char *buf, size_t len, char *pw, size_t pwlen)
{
    const char *sep = strstr(url, "://");
    const char *host = sep ? sep + 3 : url;
    size_t hl = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hl);

    pw[0] = '\0';
    if (at != NULL) {
        const char *colon = memchr(host, ':', (size_t)(at - host));

        if (colon != NULL)
            snprintf(pw, pwlen, "%.*s", (int)(at - colon - 1), colon + 1);
        hl -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    snprintf(buf, len, "%.*s%.*s", (int)(sep ? sep + 3 - url : 0), url, (int)hl, host);
}

/* Overwrites every occurrence of secret in s with '*'. */
static void
mask(char *s, const char *secret)
{
    size_t n = strlen(secret);
    char *p;

    if (n == 0)
        return;
    while ((p = strstr(s, secret)) != NULL)
        memset(p, '*', n);
}

/* The first line of the password file into pw (NUL terminated). */
static enum ds_rc
read_password(const char *path, char *pw, size_t len, struct ds_error *err)
{
    FILE *fp = fopen(path, "r");
    size_t n;

    if (fp == NULL)
        return ds_error_set(err, DS_ERR_IO, "smtp.password_file %s: cannot open: %s", path,
                            strerror(errno));
    if (fgets(pw, (int)len, fp) == NULL) {
        fclose(fp);
        pw[0] = '\0';
        return ds_error_set(err, DS_ERR_IO, "smtp.password_file %s: empty", path);
    }
    fclose(fp);
    n = strcspn(pw, "\r\n");
    pw[n] = '\0';
    return DS_OK;
}

/* Angle brackets around an address for MAIL FROM and RCPT TO. */
static char *
bracketed(const char *addr)
{
    return xasprintf("<%s>", addr);
}

enum ds_rc
smtp_send(const struct ds_cfg *cfg, const char *msg, size_t len, struct ds_error *err)
{
    const struct cfg_smtp *s = &cfg->smtp;
    char server[512], url_pw[256], curl_err[CURL_ERROR_SIZE];
    char *password = NULL, *from = NULL;
    struct curl_slist *rcpt = NULL;
    struct upload up = {msg, len};
    enum ds_rc rc = DS_OK;
    CURLcode cc;
    CURL *h;

    if (*s->url == '\0')
        return ds_error_set(err, DS_ERR_CONFIG, "no SMTP server: set smtp.url");
    if (cfg->report.mail_to.n == 0 || *cfg->report.mail_from == '\0')
        return ds_error_set(err, DS_ERR_CONFIG,
                            "no recipient or no sender: set report.mail.to and report.mail.from");
    server_name(s->url, server, sizeof(server), url_pw, sizeof(url_pw));
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        rc = ds_error_set(err, DS_ERR_NET, "libcurl: %s", curl_easy_strerror(curl_init_rc));
        goto out;
    }
    if (*s->password_file != '\0') {
        password = xmalloc(PASSWORD_MAX);
        rc = read_password(s->password_file, password, PASSWORD_MAX, err);
        if (rc != DS_OK)
            goto out;
    }
    h = curl_easy_init();
    if (h == NULL) {
        rc = ds_error_set(err, DS_ERR_NOMEM, "libcurl: cannot make a handle");
        goto out;
    }
    from = bracketed(cfg->report.mail_from);
    for (size_t i = 0; i < cfg->report.mail_to.n; i++) {
        char *r = bracketed(cfg->report.mail_to.v[i]);
        struct curl_slist *l = curl_slist_append(rcpt, r);

        free(r);
        if (l == NULL) {
            curl_easy_cleanup(h);
            rc = ds_error_set(err, DS_ERR_NOMEM, "libcurl: no memory");
            goto out;
        }
        rcpt = l;
    }
    curl_err[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, s->url);
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(h, CURLOPT_READDATA, &up);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_USE_SSL,
                     s->starttls == CFG_STARTTLS_REQUIRED   ? (long)CURLUSESSL_ALL
                     : s->starttls == CFG_STARTTLS_OPTIONAL ? (long)CURLUSESSL_TRY
                                                            : (long)CURLUSESSL_NONE);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, s->verify ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, s->verify ? 2L : 0L);
    if (*s->username != '\0')
        curl_easy_setopt(h, CURLOPT_USERNAME, s->username);
    if (password != NULL)
        curl_easy_setopt(h, CURLOPT_PASSWORD, password);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)s->timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, (long)(s->timeout_s < 30 ? s->timeout_s : 30));
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* the collector's thread: no SIGALRM */
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_err);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        char detail[CURL_ERROR_SIZE + 8] = "";

        if (curl_err[0] != '\0' && strcmp(curl_err, curl_easy_strerror(cc)) != 0)
            snprintf(detail, sizeof(detail), " (%s)", curl_err);
        rc = ds_error_set(err, DS_ERR_NET, "SMTP %s: %s%s", server, curl_easy_strerror(cc),
                          detail);
        if (password != NULL && err != NULL)
            mask(err->msg, password);
        if (err != NULL)
            mask(err->msg, url_pw);
    }
    curl_easy_cleanup(h);
out:
    curl_slist_free_all(rcpt);
    free(from);
    explicit_bzero(url_pw, sizeof(url_pw));
    if (password != NULL) {
        explicit_bzero(password, PASSWORD_MAX);
        free(password);
    }
    return rc;
}
