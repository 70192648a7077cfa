/*
 * The report mail as a MIME message (RFC 2045-2047, 5322).
 *
 *   multipart/alternative
 *     text/plain                    the text report, quoted-printable
 *     multipart/related (type text/html)
 *       text/html                   doc->html_mail, quoted-printable
 *       image/png  Content-ID <c>   one per chart, base64, inline
 *
 * Every line ends in CRLF and has at most 76 characters (78 for folded
 * headers).  Boundaries begin with "=_": quoted-printable writes '=' as
 * "=3D" and base64 has neither '=' inside nor '_', so no encoded body can
 * contain one (RFC 2045 section 6.7's own suggestion).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ds/base64.h"
#include "ds/mail.h"
#include "ds/strbuf.h"
#include "ds/tz.h"
#include "ds/xmem.h"

#define QP_LINE 76          /* RFC 2045: encoded lines at most 76 characters */
#define HEADER_LINE 78      /* RFC 5322: lines SHOULD be at most 78 */
#define WORD_MAX 75         /* RFC 2047: an encoded word at most 75 */

/* Appends the base64 of data without line breaks (core's encoder). */
static void
b64_append(struct strbuf *sb, const uint8_t *p, size_t n)
{
    char *out = xmalloc(base64_len(n) + 1);

    strbuf_appendn(sb, out, base64_encode(p, n, 0, out));
    free(out);
}

char *
mail_base64_encode(const uint8_t *data, size_t len)
{
    struct strbuf sb = STRBUF_INIT;

    /* 57 bytes make 76 characters */
    for (size_t i = 0; i < len; i += 57) {
        b64_append(&sb, data + i, len - i < 57 ? len - i : 57);
        strbuf_append(&sb, "\r\n");
    }
    if (sb.s == NULL)
        strbuf_append(&sb, "");
    return strbuf_take(&sb);
}

/*
 * Quoted-printable, one input line at a time: literal printable ASCII,
 * "=XX" for the rest, for '=', for blanks ending a line, and for a '.' or
 * "From " opening one (SMTP's end of data, mbox's separator, should the
 * message be stored or relayed by a careless program).  A soft break "="
 * keeps every line within 76 characters.
 */
char *
mail_qp_encode(const char *text, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    struct strbuf sb = STRBUF_INIT;
    size_t i = 0;

    while (i < len) {
        size_t end = i, col = 0;

        while (end < len && text[end] != '\n')
            end++;
        /* the line is text[i, e), its CR (if any) dropped */
        size_t e = end > i && text[end - 1] == '\r' ? end - 1 : end;

        for (size_t j = i; j < e; j++) {
            unsigned char ch = (unsigned char)text[j];
            char tok[4];
            size_t t;
            int literal = ch >= 33 && ch <= 126 && ch != '=';

            if ((ch == ' ' || ch == '\t') && j + 1 < e)
                literal = 1;
            if (j == i && (ch == '.' || (ch == 'F' && e - j >= 5 &&
                                         memcmp(text + j, "From ", 5) == 0)))
                literal = 0;
            if (literal) {
                tok[0] = (char)ch;
                t = 1;
            } else {
                tok[0] = '=';
                tok[1] = hex[ch >> 4];
                tok[2] = hex[ch & 15];
                t = 3;
            }
            /* room for the token and, unless the line ends with it, a soft break */
            if (col + t > QP_LINE - (j + 1 < e ? 1 : 0)) {
                strbuf_append(&sb, "=\r\n");
                col = 0;
            }
            strbuf_appendn(&sb, tok, t);
            col += t;
        }
        if (end < len)
            strbuf_append(&sb, "\r\n");
        i = end + 1;
    }
    if (sb.s == NULL)
        strbuf_append(&sb, "");
    return strbuf_take(&sb);
}

static int
is_plain_ascii(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            return 0;
    return 1;
}

/* Length of the UTF-8 sequence opened by c (1 for a stray byte). */
static size_t
utf8_len(unsigned char c)
{
    if (c >= 0xf0 && c < 0xf8)
        return 4;
    if (c >= 0xe0)
        return 3;
    if (c >= 0xc0)
        return 2;
    return 1;
}

char *
mail_header(const char *name, const char *value)
{
    struct strbuf sb = STRBUF_INIT;
    size_t col;

    strbuf_printf(&sb, "%s:", name);
    col = strlen(name) + 1;
    if (is_plain_ascii(value)) {
        /* folded at blanks: "To: a@x,\r\n b@y" */
        const char *p = value;

        while (*p == ' ')
            p++;
        while (*p) {
            const char *w = strchr(p, ' ');
            size_t n = w ? (size_t)(w - p) : strlen(p);

            if (col + 1 + n > HEADER_LINE && col > strlen(name) + 1) {
                strbuf_append(&sb, "\r\n");
                col = 0;
            }
            strbuf_appendc(&sb, ' ');
            strbuf_appendn(&sb, p, n);
            col += 1 + n;
            p += n;
            while (*p == ' ')
                p++;
        }
    } else {
        /* RFC 2047 B words, whole UTF-8 characters in each, one per line */
        const unsigned char *p = (const unsigned char *)value;

        while (*p) {
            size_t room, payload, take = 0;

            if (col > strlen(name) + 1) {
                strbuf_append(&sb, "\r\n");
                col = 0;
            }
            room = HEADER_LINE - col - 1;
            if (room > WORD_MAX)
                room = WORD_MAX;
            payload = (room - 12) / 4 * 3;     /* "=?UTF-8?B?" "?=" around it */
            while (p[take]) {
                size_t cl = utf8_len(p[take]);

                for (size_t k = 1; k < cl; k++)
                    if (p[take + k] == 0)
                        cl = k;
                if (take + cl > payload)
                    break;
                take += cl;
            }
            if (take == 0)
                take = 1; /* cannot happen with room >= 16; keeps the loop finite */
            strbuf_append(&sb, " =?UTF-8?B?");
            b64_append(&sb, p, take);
            strbuf_append(&sb, "?=");
            col += 1 + 12 + (take + 2) / 3 * 4;
            p += take;
        }
    }
    strbuf_append(&sb, "\r\n");
    return strbuf_take(&sb);
}

static void
add_header(struct strbuf *sb, const char *name, const char *value)
{
    char *h = mail_header(name, value);

    strbuf_append(sb, h);
    free(h);
}

/* RFC 5322 date in the configured zone: "Fri, 04 Dec 2026 06:30:00 +0900". */
static void
rfc5322_date(int64_t now, char *buf, size_t len)
{
    static const char *const wd[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)now;
    struct tm tm;
    long off;

    localtime_r(&t, &tm);
    off = tm.tm_gmtoff;
    snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", wd[tm.tm_wday],
             tm.tm_mday, mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
             off < 0 ? '-' : '+', labs(off) / 3600, labs(off) % 3600 / 60);
}

static void
random_hex(char *buf, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    uint8_t r[32];
    FILE *fp;

    if (nbytes > sizeof(r))
        nbytes = sizeof(r);
    fp = fopen("/dev/urandom", "rb");
    if (fp == NULL || fread(r, 1, nbytes, fp) != nbytes) {
        /* uniqueness, not secrecy: time and pid do */
        uint64_t x = (uint64_t)time(NULL) * 6364136223846793005u + (uint64_t)getpid();

        for (size_t i = 0; i < nbytes; i++) {
            x = x * 6364136223846793005u + 1442695040888963407u;
            r[i] = (uint8_t)(x >> 56);
        }
    }
    if (fp != NULL)
        fclose(fp);
    for (size_t i = 0; i < nbytes; i++) {
        buf[2 * i] = hex[r[i] >> 4];
        buf[2 * i + 1] = hex[r[i] & 15];
    }
    buf[2 * nbytes] = '\0';
}

void
mail_message_id(const struct ds_cfg *cfg, const char *day, char *buf, size_t len)
{
    const char *at = strrchr(cfg->report.mail_from, '@');
    char r[33];

    random_hex(r, 12);
    snprintf(buf, len, "<darkstab.%s.%s@%s>", day, r, at ? at + 1 : "localhost");
}

/* The note on slots not closed yet, before the report itself. */
static char *
incomplete_note(const struct report_doc *doc)
{
    if (doc->incomplete == 0)
        return NULL;
    return xasprintf("Note: %llu slot%s of this period %s still incomplete or open when this "
                     "mail was made; the report shows them as they were.",
                     (unsigned long long)doc->incomplete, doc->incomplete == 1 ? "" : "s",
                     doc->incomplete == 1 ? "was" : "were");
}

/* The HTML with the note as its first paragraph, after <body> if there is one. */
static char *
html_with_note(const char *html, const char *note)
{
    const char *body = strstr(html, "<body");
    const char *gt = body ? strchr(body, '>') : NULL;
    size_t at = gt ? (size_t)(gt + 1 - html) : 0;

    return xasprintf("%.*s\n<p style=\"padding:6px;background:#fff3cd;border:1px solid #e0c36c\">"
                     "%s</p>\n%s", (int)at, html, note, html + at);
}

char *
mail_build(const struct ds_cfg *cfg, const struct report_doc *doc, int64_t now,
           const char *msgid, size_t *len)
{
    struct strbuf sb = STRBUF_INIT, to = STRBUF_INIT;
    char date[64], alt[40], rel[40], r[25];
    char *subject, *note = incomplete_note(doc), *enc;
    const char *html = doc->html_mail ? doc->html_mail : "";
    char *html_noted = NULL;

    for (size_t i = 0; i < cfg->report.mail_to.n; i++)
        strbuf_printf(&to, "%s%s", i ? ", " : "", cfg->report.mail_to.v[i]);
    /* the report's subject: report.mail.subject_prefix, the day, the count, the causes */
    subject = xstrdup(doc->subject ? doc->subject : "darkstab report");
    rfc5322_date(now, date, sizeof(date));
    random_hex(r, 12);
    snprintf(alt, sizeof(alt), "=_ds_alt_%s", r);
    snprintf(rel, sizeof(rel), "=_ds_rel_%s", r);

    add_header(&sb, "From", cfg->report.mail_from);
    add_header(&sb, "To", to.s ? to.s : "");
    add_header(&sb, "Subject", subject);
    add_header(&sb, "Date", date);
    add_header(&sb, "Message-ID", msgid);
    strbuf_append(&sb, "MIME-Version: 1.0\r\n");
    strbuf_append(&sb, "X-Mailer: darkstab " DS_VERSION "\r\n");
    strbuf_printf(&sb, "Content-Type: multipart/alternative;\r\n boundary=\"%s\"\r\n\r\n", alt);
    strbuf_append(&sb, "This is a MIME message: a text and an HTML version of one report.\r\n");

    /* text/plain */
    strbuf_printf(&sb, "\r\n--%s\r\n", alt);
    strbuf_append(&sb, "Content-Type: text/plain; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    {
        char *text = note ? xasprintf("%s\n\n%s", note, doc->text ? doc->text : "")
                          : xstrdup(doc->text ? doc->text : "");

        enc = mail_qp_encode(text, strlen(text));
        strbuf_append(&sb, enc);
        free(enc);
        free(text);
    }

    /* multipart/related: the HTML and its charts */
    strbuf_printf(&sb, "\r\n--%s\r\n", alt);
    strbuf_printf(&sb, "Content-Type: multipart/related; type=\"text/html\";\r\n"
                       " boundary=\"%s\"\r\n\r\n", rel);
    strbuf_printf(&sb, "--%s\r\n", rel);
    strbuf_append(&sb, "Content-Type: text/html; charset=utf-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    if (note != NULL)
        html = html_noted = html_with_note(html, note);
    enc = mail_qp_encode(html, strlen(html));
    strbuf_append(&sb, enc);
    free(enc);
    for (size_t i = 0; i < doc->n_images; i++) {
        const struct report_image *im = &doc->images[i];

        strbuf_printf(&sb, "\r\n--%s\r\n", rel);
        strbuf_append(&sb, "Content-Type: image/png\r\n"
                           "Content-Transfer-Encoding: base64\r\n");
        strbuf_printf(&sb, "Content-ID: <%s>\r\n", im->cid);
        strbuf_printf(&sb, "Content-Disposition: inline; filename=\"chart%zu.png\"\r\n\r\n",
                      i + 1);
        enc = mail_base64_encode(im->png, im->len);
        strbuf_append(&sb, enc);
        free(enc);
    }
    strbuf_printf(&sb, "\r\n--%s--\r\n", rel);
    strbuf_printf(&sb, "\r\n--%s--\r\n", alt);

    free(html_noted);
    free(note);
    free(subject);
    strbuf_fini(&to);
    *len = sb.len;
    return strbuf_take(&sb);
}
