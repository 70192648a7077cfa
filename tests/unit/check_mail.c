/*
 * Tests of the report mail: the encoders (quoted-printable, base64, RFC
 * 2047 headers), the whole message (structure, CRLF, line lengths,
 * boundaries absent from the content, every part decoding back to what
 * went in), the day a schedule makes due, one SMTP attempt to a closed
 * port (its error names the server, never the password) and the spool
 * (backoff kept in the state file, a day never sent twice).  The real
 * server is tests/e2e/mail.sh's.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ds/mail.h"
#include "ds/store.h"
#include "ds/strbuf.h"
#include "ds/tz.h"
#include "ds/xmem.h"
#include "testutil.h"

/* ---- decoders, written here so that the test does not trust the encoders ---- */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Quoted-printable back to text (CRLF kept); fails on anything malformed. */
static char *
qp_decode(const char *s, size_t len)
{
    char *out = xmalloc(len + 1);
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] != '=') {
            out[o++] = s[i];
            continue;
        }
        if (i + 2 < len && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2; /* soft break */
            continue;
        }
        ck_assert_msg(i + 2 < len, "truncated escape");
        ck_assert_int_ge(hexval(s[i + 1]), 0);
        ck_assert_int_ge(hexval(s[i + 2]), 0);
        out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
        i += 2;
    }
    out[o] = '\0';
    return out;
}

static int
b64val(char c)
{
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(a, c) : NULL;

    return p ? (int)(p - a) : -1;
}

/* Base64 (CRLF ignored) to bytes; *n their count. */
static uint8_t *
b64_decode(const char *s, size_t len, size_t *n)
{
    uint8_t *out = xmalloc(len + 1);
    uint32_t acc = 0;
    int bits = 0;

    *n = 0;
    for (size_t i = 0; i < len; i++) {
        int v;

        if (s[i] == '\r' || s[i] == '\n')
            continue;
        if (s[i] == '=')
            break;
        v = b64val(s[i]);
        ck_assert_msg(v >= 0, "'%c' in base64", s[i]);
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[(*n)++] = (uint8_t)(acc >> bits);
        }
    }
    return out;
}

/* Every line ends in CRLF, no bare CR or LF. */
static void
assert_crlf(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\n')
            ck_assert_msg(i > 0 && s[i - 1] == '\r', "bare LF at %zu", i);
        if (s[i] == '\r')
            ck_assert_msg(i + 1 < len && s[i + 1] == '\n', "bare CR at %zu", i);
    }
}

static size_t
longest_line(const char *s, size_t len)
{
    size_t max = 0, col = 0;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') {
            i++;
            col = 0;
            continue;
        }
        if (++col > max)
            max = col;
    }
    return max;
}

/* ---- encoders ---- */

START_TEST(test_base64_vectors)
{
    /* RFC 4648 section 10 */
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"",           "Zg==\r\n",     "Zm8=\r\n",    "Zm9v\r\n",
                                      "Zm9vYg==\r\n", "Zm9vYmE=\r\n", "Zm9vYmFy\r\n"};
    uint8_t data[200];
    char *e;

    for (size_t i = 0; i < 7; i++) {
        e = mail_base64_encode((const uint8_t *)in[i], strlen(in[i]));
        ck_assert_str_eq(e, out[i]);
        free(e);
    }
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 37 + 11);
    /* 57 bytes fill one line of 76; 58 begin a second */
    e = mail_base64_encode(data, 57);
    ck_assert_uint_eq(strlen(e), 78);
    free(e);
    e = mail_base64_encode(data, 58);
    ck_assert_uint_eq(strlen(e), 78 + 6);
    free(e);
    e = mail_base64_encode(data, sizeof(data));
    assert_crlf(e, strlen(e));
    ck_assert_uint_eq(longest_line(e, strlen(e)), 76);
    {
        size_t n;
        uint8_t *d = b64_decode(e, strlen(e), &n);

        ck_assert_uint_eq(n, sizeof(data));
        ck_assert_mem_eq(d, data, n);
        free(d);
    }
    free(e);
}
END_TEST

static void
qp_roundtrip(const char *text, const char *want_crlf)
{
    char *e = mail_qp_encode(text, strlen(text));
    char *d;

    assert_crlf(e, strlen(e));
    ck_assert_uint_le(longest_line(e, strlen(e)), 76);
    for (const char *p = e; *p; p++)
        ck_assert_msg((*p >= 32 && *p <= 126) || *p == '\r' || *p == '\n', "byte %d in QP", *p);
    d = qp_decode(e, strlen(e));
    ck_assert_str_eq(d, want_crlf);
    free(d);
    free(e);
}

START_TEST(test_qp)
{
    char *e, *line, *want;

    e = mail_qp_encode("a=b\n", 4);
    ck_assert_str_eq(e, "a=3Db\r\n");
    free(e);
    /* a blank ending a line is written out; inside it stays */
    e = mail_qp_encode("two words \nx\t\n", 14);
    ck_assert_str_eq(e, "two words=20\r\nx=09\r\n");
    free(e);
    /* a dot or "From " opening a line */
    e = mail_qp_encode(".\nFrom me\nFromage\n", 18);
    ck_assert_str_eq(e, "=2E\r\n=46rom me\r\nFromage\r\n");
    free(e);
    e = mail_qp_encode("Z\xc3\xbcrich\r\n", 9);
    ck_assert_str_eq(e, "Z=C3=BCrich\r\n");
    free(e);
    /* no final line break stays without one */
    e = mail_qp_encode("end", 3);
    ck_assert_str_eq(e, "end");
    free(e);
    qp_roundtrip("a\nb\n\n\nc", "a\r\nb\r\n\r\n\r\nc");
    /* long lines: soft breaks, never an escape cut in two */
    line = xmalloc(1001);
    for (size_t i = 0; i < 1000; i++)
        line[i] = "=x\xc3\xa9 "[i % 5];
    line[1000] = '\0';
    want = xasprintf("%s\r\n%s \r\n", line, line);
    {
        char *in = xasprintf("%s\n%s \n", line, line);

        qp_roundtrip(in, want);
        free(in);
    }
    /* exactly 76 fits; 77 takes a soft break */
    memset(line, 'y', 77);
    line[76] = '\0';
    e = mail_qp_encode(line, 76);
    ck_assert_ptr_null(strchr(e, '\r'));
    free(e);
    line[76] = 'y';
    line[77] = '\0';
    e = mail_qp_encode(line, 77);
    ck_assert_ptr_nonnull(strstr(e, "=\r\n"));
    free(e);
    free(want);
    free(line);
}
END_TEST

/* Unfolds a header block (CRLF + blank continues the line). */
static char *
unfold(const char *h)
{
    struct strbuf sb = STRBUF_INIT;

    for (const char *p = h; *p; p++) {
        if (p[0] == '\r' && p[1] == '\n' && (p[2] == ' ' || p[2] == '\t')) {
            p += 1;
            continue;
        }
        if (p[0] == '\r' && p[1] == '\n')
            break;
        strbuf_appendc(&sb, *p);
    }
    return strbuf_take(&sb);
}

/* The value of an unfolded header, its encoded words decoded (B only, as ours). */
static char *
decode_words(const char *v)
{
    struct strbuf sb = STRBUF_INIT;
    const char *p = v;

    while (*p) {
        const char *w = strstr(p, "=?UTF-8?B?");
        const char *end;
        uint8_t *d;
        size_t n;

        if (w == NULL) {
            strbuf_append(&sb, p);
            break;
        }
        /* blanks between two encoded words are not text (RFC 2047 section 6.2) */
        end = strstr(w + 10, "?=");
        ck_assert_ptr_nonnull(end);
        ck_assert_uint_le((size_t)(end + 2 - w), 75);
        d = b64_decode(w + 10, (size_t)(end - w - 10), &n);
        /* a word holds whole characters: never opens with a continuation byte */
        ck_assert_msg(n == 0 || (d[0] & 0xc0) != 0x80, "a UTF-8 character cut in two");
        strbuf_appendn(&sb, (const char *)d, n);
        free(d);
        p = end + 2;
        while (*p == ' ')
            p++;
    }
    return strbuf_take(&sb);
}

START_TEST(test_header_folding)
{
    char subject[400], *h, *u, *d;

    /* plain ASCII: folded at blanks, unfolds to the same */
    subject[0] = '\0';
    for (int i = 0; i < 30; i++)
        snprintf(subject + strlen(subject), sizeof(subject) - strlen(subject), "%sword%02d",
                 i ? " " : "", i);
    h = mail_header("Subject", subject);
    assert_crlf(h, strlen(h));
    ck_assert_uint_le(longest_line(h, strlen(h)), 78);
    ck_assert_ptr_nonnull(strstr(h, "\r\n "));
    u = unfold(h);
    d = xasprintf("Subject: %s", subject);
    ck_assert_str_eq(u, d);
    free(d);
    free(u);
    free(h);
    /* short: one line */
    h = mail_header("Subject", "darkstab 2016-01-01: 3 unstable slots (ddos, scan)");
    ck_assert_str_eq(h, "Subject: darkstab 2016-01-01: 3 unstable slots (ddos, scan)\r\n");
    free(h);
    /* not ASCII: RFC 2047 words, whole characters each, lines within 78 */
    snprintf(subject, sizeof(subject), "[Dunkelnetz \xc3\xbc\xc3\xa4\xc3\xb6] darkstab "
             "2016-01-01: 3 unstable slots (ddos, misconfiguration) \xe2\x80\x94 "
             "\xe6\x9a\x97\xe3\x81\x84\xe7\xb6\xb2 \xf0\x9f\x93\x88 and more text to fold");
    h = mail_header("Subject", subject);
    assert_crlf(h, strlen(h));
    ck_assert_uint_le(longest_line(h, strlen(h)), 78);
    for (const char *p = h; *p; p++)
        ck_assert((unsigned char)*p < 0x80);
    u = unfold(h);
    ck_assert_ptr_nonnull(strstr(u, "Subject: =?UTF-8?B?"));
    d = decode_words(u + strlen("Subject: "));
    ck_assert_str_eq(d, subject);
    free(d);
    free(u);
    free(h);
}
END_TEST

/* ---- the message ---- */

/* report_doc_fini() is the report module's; the test frees its own documents. */
static void
doc_free(struct report_doc *d)
{
    free(d->subject);
    free(d->text);
    free(d->html);
    free(d->html_mail);
    free(d->json);
    for (size_t i = 0; i < d->n_images; i++) {
        free(d->images[i].title);
        free(d->images[i].png);
    }
    free(d->images);
}

static struct ds_cfg *
mail_cfg(void)
{
    struct ds_cfg *cfg = cfg_default();

    cfg->report.mail_to.v = xcalloc(2, sizeof(char *));
    cfg->report.mail_to.v[0] = xstrdup("ops@example.org");
    cfg->report.mail_to.v[1] = xstrdup("noc@example.net");
    cfg->report.mail_to.n = 2;
    free(cfg->report.mail_from);
    cfg->report.mail_from = xstrdup("darkstab@example.org");
    free(cfg->report.subject_prefix);
    cfg->report.subject_prefix = xstrdup("[dn]");
    return cfg;
}

static void
fill_doc(struct report_doc *doc, uint8_t *png1, size_t n1, uint8_t *png2, size_t n2)
{
    struct strbuf t = STRBUF_INIT;

    memset(doc, 0, sizeof(*doc));
    doc->subject = xstrdup("darkstab 2013-03-06: 1 unstable slot (ddos)");
    strbuf_append(&t, "darkstab report 2013-03-06\n\n");
    strbuf_append(&t, "ports 2013-03-06: UNSTABLE, cause ddos: 233 sources, 1 destination port, "
                      "92% of the slot's packets within 1 h 31 min; this line is long on "
                      "purpose so that it must be folded = soft\n");
    strbuf_append(&t, ".a line opening with a dot\nFrom here on, mbox would care\n");
    strbuf_append(&t, "trailing blank \nZ\xc3\xbcrich \xe2\x80\x94 \xc2\xb1 2\xcf\x83\n");
    doc->text = strbuf_take(&t);
    doc->html_mail = xstrdup("<!DOCTYPE html>\n<html><head><style>td{padding:2px}</style></head>"
                             "<body><h1>darkstab 2013-03-06</h1>\n"
                             "<p>chart one <img src=\"cid:topn-ports@darkstab\" alt=\"TopN\" "
                             "width=\"600\"></p>\n<p>chart two <img "
                             "src=\"cid:minutes-1@darkstab\" alt=\"per minute\"></p>\n"
                             "</body></html>\n");
    doc->images = xcalloc(2, sizeof(*doc->images));
    doc->n_images = 2;
    snprintf(doc->images[0].cid, sizeof(doc->images[0].cid), "topn-ports@darkstab");
    doc->images[0].png = png1;
    doc->images[0].len = n1;
    doc->images[0].title = xstrdup("TopN");
    snprintf(doc->images[1].cid, sizeof(doc->images[1].cid), "minutes-1@darkstab");
    doc->images[1].png = png2;
    doc->images[1].len = n2;
    doc->images[1].title = xstrdup("per minute");
    doc->unstable = 1;
}

/* The body of the part that follows "--boundary" number k (0 based), headers split off. */
static void
part(const char *msg, const char *boundary, int k, char **headers, char **body, size_t *blen)
{
    char *open = xasprintf("\r\n--%s\r\n", boundary), *delim = xasprintf("\r\n--%s", boundary);
    const char *p = msg, *h, *sep, *end;

    for (int i = 0; i <= k; i++) {
        p = strstr(p, open);
        ck_assert_msg(p != NULL, "part %d of %s", k, boundary);
        p += strlen(open);
    }
    h = p;
    sep = strstr(h, "\r\n\r\n");
    ck_assert_ptr_nonnull(sep);
    *headers = xstrndup(h, (size_t)(sep - h + 2));
    sep += 4;
    end = strstr(sep, delim);
    ck_assert_ptr_nonnull(end);
    *body = xstrndup(sep, (size_t)(end - sep));
    *blen = (size_t)(end - sep);
    free(open);
    free(delim);
}

static size_t
count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

START_TEST(test_message)
{
    struct ds_cfg *cfg = mail_cfg();
    struct report_doc doc;
    uint8_t *png1 = xmalloc(3000), *png2 = xmalloc(777);
    char alt[64], rel[64], *msg, *h, *b, *d, *want, *hdr;
    const char *bp;
    size_t len, blen;

    tz_apply("Asia/Tokyo");
    for (size_t i = 0; i < 3000; i++)
        png1[i] = (uint8_t)(i * 7919 >> 3);
    memcpy(png1, "\x89PNG\r\n\x1a\n", 8);
    for (size_t i = 0; i < 777; i++)
        png2[i] = (uint8_t)(255 - i);
    fill_doc(&doc, png1, 3000, png2, 777);
    msg = mail_build(cfg, &doc, 1451597400 /* 2016-01-01 06:30 +09:00 */,
                     "<darkstab.2015-12-31.abc@example.org>", &len);
    ck_assert_uint_eq(strlen(msg), len);
    assert_crlf(msg, len);
    ck_assert_uint_le(longest_line(msg, len), 78);
    for (size_t i = 0; i < len; i++)
        ck_assert_msg((unsigned char)msg[i] < 0x80, "8-bit byte at %zu", i);

    /* headers */
    hdr = xstrndup(msg, (size_t)(strstr(msg, "\r\n\r\n") - msg + 2));
    ck_assert_ptr_nonnull(strstr(hdr, "From: darkstab@example.org\r\n"));
    ck_assert_ptr_nonnull(strstr(hdr, "To: ops@example.org, noc@example.net\r\n"));
    ck_assert_ptr_nonnull(
        strstr(hdr, "Subject: darkstab 2013-03-06: 1 unstable slot (ddos)\r\n"));
    ck_assert_ptr_nonnull(strstr(hdr, "Date: Fri, 01 Jan 2016 06:30:00 +0900\r\n"));
    ck_assert_ptr_nonnull(strstr(hdr, "Message-ID: <darkstab.2015-12-31.abc@example.org>\r\n"));
    ck_assert_ptr_nonnull(strstr(hdr, "MIME-Version: 1.0\r\n"));
    bp = strstr(hdr, "multipart/alternative;\r\n boundary=\"");
    ck_assert_ptr_nonnull(bp);
    sscanf(strstr(bp, "\"") + 1, "%63[^\"]", alt);
    free(hdr);
    /* the body lines within 76 */
    ck_assert_uint_le(longest_line(strstr(msg, "\r\n\r\n"), strlen(strstr(msg, "\r\n\r\n"))),
                      76);

    /* alternative 1: the text, decoded back exactly (line ends made CRLF) */
    part(msg, alt, 0, &h, &b, &blen);
    ck_assert_ptr_nonnull(strstr(h, "Content-Type: text/plain; charset=utf-8\r\n"));
    ck_assert_ptr_nonnull(strstr(h, "Content-Transfer-Encoding: quoted-printable\r\n"));
    d = qp_decode(b, blen);
    want = xmalloc(2 * strlen(doc.text) + 1);
    {
        size_t o = 0;

        for (const char *p = doc.text; *p; p++) {
            if (*p == '\n')
                want[o++] = '\r';
            want[o++] = *p;
        }
        want[o] = '\0';
    }
    ck_assert_str_eq(d, want);
    free(want);
    free(d);
    free(h);
    free(b);

    /* alternative 2: multipart/related of the HTML and both charts */
    part(msg, alt, 1, &h, &b, &blen);
    bp = strstr(h, "Content-Type: multipart/related; type=\"text/html\";\r\n boundary=\"");
    ck_assert_ptr_nonnull(bp);
    sscanf(strstr(bp, "boundary=\"") + 10, "%63[^\"]", rel);
    free(h);
    free(b);
    ck_assert_str_ne(alt, rel);
    part(msg, rel, 0, &h, &b, &blen);
    ck_assert_ptr_nonnull(strstr(h, "Content-Type: text/html; charset=utf-8\r\n"));
    d = qp_decode(b, blen);
    ck_assert_ptr_nonnull(strstr(d, "<img src=\"cid:topn-ports@darkstab\""));
    ck_assert_ptr_nonnull(strstr(d, "</body></html>\r\n"));
    free(d);
    free(h);
    free(b);
    for (int k = 0; k < 2; k++) {
        size_t n;
        uint8_t *png;
        char *cid = xasprintf("Content-ID: <%s>\r\n", doc.images[k].cid);

        part(msg, rel, 1 + k, &h, &b, &blen);
        ck_assert_ptr_nonnull(strstr(h, "Content-Type: image/png\r\n"));
        ck_assert_ptr_nonnull(strstr(h, "Content-Transfer-Encoding: base64\r\n"));
        ck_assert_ptr_nonnull(strstr(h, cid));
        ck_assert_ptr_nonnull(strstr(h, "Content-Disposition: inline"));
        png = b64_decode(b, blen, &n);
        ck_assert_uint_eq(n, doc.images[k].len);
        ck_assert_mem_eq(png, doc.images[k].png, n);
        free(png);
        free(cid);
        free(h);
        free(b);
    }
    /*
     * Each boundary: once in its header, then only as delimiter lines (2 for
     * the alternative and its end, 3 and an end for related); never in content.
     */
    {
        char *a1 = xasprintf("\r\n--%s\r\n", alt), *a2 = xasprintf("\r\n--%s--\r\n", alt);
        char *r1 = xasprintf("\r\n--%s\r\n", rel), *r2 = xasprintf("\r\n--%s--\r\n", rel);

        ck_assert_uint_eq(count(msg, alt), 1 + 2 + 1);
        ck_assert_uint_eq(count(msg, a1), 2);
        ck_assert_uint_eq(count(msg, a2), 1);
        ck_assert_uint_eq(count(msg, rel), 1 + 3 + 1);
        ck_assert_uint_eq(count(msg, r1), 3);
        ck_assert_uint_eq(count(msg, r2), 1);
        free(a1);
        free(a2);
        free(r1);
        free(r2);
    }
    free(msg);
    doc_free(&doc);
    cfg_free(cfg);
}
END_TEST

/* Slots still open when the mail was made: said first, in both versions. */
START_TEST(test_message_incomplete_note)
{
    struct ds_cfg *cfg = mail_cfg();
    struct report_doc doc;
    char *msg, *flat;
    size_t len, o = 0;

    fill_doc(&doc, xcalloc(1, 10), 10, xcalloc(1, 10), 10);
    doc.incomplete = 3;
    msg = mail_build(cfg, &doc, 1451597400, "<x@example.org>", &len);
    /* soft breaks out, to search the text */
    flat = xmalloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        if (msg[i] == '=' && msg[i + 1] == '\r' && msg[i + 2] == '\n') {
            i += 2;
            continue;
        }
        flat[o++] = msg[i];
    }
    flat[o] = '\0';
    ck_assert_uint_eq(count(flat, "Note: 3 slots of this period were still incomplete or open"),
                      2);
    ck_assert_ptr_nonnull(strstr(flat, "<body>\r\n<p style"));
    free(flat);
    free(msg);
    doc_free(&doc);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_message_id)
{
    struct ds_cfg *cfg = mail_cfg();
    char a[256], b[256];

    mail_message_id(cfg, "2016-01-01", a, sizeof(a));
    mail_message_id(cfg, "2016-01-01", b, sizeof(b));
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(strncmp(a, "<darkstab.2016-01-01.", 21), 0);
    ck_assert_str_eq(a + strlen(a) - 13, "@example.org>");
    cfg_free(cfg);
}
END_TEST

/* ---- the schedule ---- */

START_TEST(test_due_day)
{
    struct ds_cfg *cfg = cfg_default();
    int64_t due, t;

    tz_apply("Asia/Tokyo");
    cfg->report.schedule_min = 6 * 60 + 30;
    /* 2016-01-02 06:29:59 +09:00: 01-02's time has not come; 12-31 was due at 01-01 06:30 */
    tz_parse_time("2016-01-02 06:29:59", &t);
    ck_assert_int_eq(t, 1451683799);
    tz_parse_time("2015-12-31", &t);
    ck_assert_int_eq(mail_due_day(cfg, 1451683799, &due), t);
    ck_assert_int_eq(due, 1451597400);
    tz_parse_time("2016-01-01", &t);
    ck_assert_int_eq(mail_due_day(cfg, 1451683800, &due), t);
    ck_assert_int_eq(due, 1451683800);
    /* at 23:59 too */
    ck_assert_int_eq(mail_due_day(cfg, 1451683800 + 17 * 3600 + 29 * 60, &due), t);
    /* 00:00: yesterday's report is due at once */
    cfg->report.schedule_min = 0;
    tz_parse_time("2016-01-02", &t);
    ck_assert_int_eq(mail_due_day(cfg, t, &due), t - 86400);
    ck_assert_int_eq(due, t);
    /* a day of 23 hours: Berlin, 2016-03-27; 02:30 does not exist, mktime makes it 03:30 */
    tz_apply("Europe/Berlin");
    cfg->report.schedule_min = 2 * 60 + 30;
    tz_parse_time("2016-03-27 04:00", &t);
    {
        int64_t day;

        tz_parse_time("2016-03-26", &day);
        ck_assert_int_eq(mail_due_day(cfg, t, &due), day);
        tz_parse_time("2016-03-27 03:30", &t);
        ck_assert_int_eq(due, t);
    }
    tz_apply("UTC");
    cfg_free(cfg);
}
END_TEST

/* ---- one attempt, and the spool ---- */

static struct ds_cfg *
closed_port_cfg(const char *spool)
{
    struct ds_cfg *cfg = mail_cfg();
    char pw[512];

    snprintf(pw, sizeof(pw), "%s", tu_path("pw"));
    tu_write_file(pw, "S3cretFromFile\n", 15);
    free(cfg->smtp.url);
    /* port 1 on loopback: nobody listens, the connection is refused at once */
    cfg->smtp.url = xstrdup("smtp://mailer:S3cretInUrl@127.0.0.1:1");
    cfg->smtp.starttls = CFG_STARTTLS_NEVER;
    free(cfg->smtp.username);
    cfg->smtp.username = xstrdup("mailer");
    free(cfg->smtp.password_file);
    cfg->smtp.password_file = xstrdup(pw);
    cfg->smtp.timeout_s = 5;
    free(cfg->report.spool_dir);
    cfg->report.spool_dir = xstrdup(spool);
    return cfg;
}

START_TEST(test_smtp_error_hides_password)
{
    struct ds_cfg *cfg = closed_port_cfg(tu_path("spool0"));
    struct ds_error err;

    ck_assert_int_eq(smtp_send(cfg, "Subject: x\r\n\r\nx\r\n", 17, &err), DS_ERR_NET);
    ck_assert_msg(strstr(err.msg, "SMTP smtp://127.0.0.1:1: ") == err.msg, "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "onnect") != NULL, "%s", err.msg);
    ck_assert_ptr_null(strstr(err.msg, "S3cret"));
    ck_assert_ptr_null(strstr(err.msg, "mailer:"));
    /* a password file that went away: said, without content */
    free(cfg->smtp.password_file);
    cfg->smtp.password_file = xstrdup(tu_path("no-such-pw"));
    ck_assert_int_eq(smtp_send(cfg, "x\r\n", 3, &err), DS_ERR_IO);
    ck_assert_ptr_nonnull(strstr(err.msg, "smtp.password_file"));
    cfg_free(cfg);
}
END_TEST

static int
state_of(const char *spool, const char *day, unsigned *attempts, long long *next)
{
    char *path = xasprintf("%s/%s.state", spool, day);
    FILE *fp = fopen(path, "r");
    int ok = fp != NULL && fscanf(fp, "attempts %u next %lld", attempts, next) == 2;

    if (fp)
        fclose(fp);
    free(path);
    return ok;
}

START_TEST(test_spool_backoff_and_once)
{
    char spool[512];
    struct ds_cfg *cfg;
    struct store *st;
    struct report_doc doc;
    struct store_mail m;
    struct ds_error err;
    bool found;
    uint64_t sent = 0, failed = 0;
    unsigned attempts;
    long long next;
    int64_t t0;
    struct stat sb;
    char *eml;

    snprintf(spool, sizeof(spool), "%s", tu_path("spool/deep"));
    cfg = closed_port_cfg(spool);
    st = store_open(NULL, ":memory:", &err);
    ck_assert_msg(st != NULL, "%s", err.msg);
    fill_doc(&doc, xcalloc(1, 100), 100, xcalloc(1, 50), 50);

    t0 = (int64_t)time(NULL);
    ck_assert_int_eq(mail_deliver(cfg, st, NULL, "2016-01-01", &doc, &err), DS_ERR_NET);
    ck_assert_ptr_null(strstr(err.msg, "S3cret"));
    ck_assert_msg(strstr(err.msg, "SMTP smtp://127.0.0.1:1: ") == err.msg, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "spooled, attempt 1, next at"));
    /* spooled: the message, private, and its state */
    eml = xasprintf("%s/2016-01-01.eml", spool);
    ck_assert_int_eq(stat(eml, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(mail_spooled(cfg), 1);
    ck_assert(state_of(spool, "2016-01-01", &attempts, &next));
    ck_assert_uint_eq(attempts, 1);
    ck_assert_int_ge(next, t0 + 60);
    ck_assert_int_le(next, t0 + 62);
    ck_assert_int_eq(store_mail_find(st, "2016-01-01", &m, &found, &err), DS_OK);
    ck_assert(found);
    ck_assert_int_eq(m.sent_at, 0);
    ck_assert_uint_eq(m.attempts, 1);
    ck_assert_ptr_nonnull(strstr(m.last_error, "127.0.0.1:1"));
    ck_assert_ptr_null(strstr(m.last_error, "S3cret"));
    ck_assert_int_eq(strncmp(m.message_id, "<darkstab.2016-01-01.", 21), 0);

    /* not before its time */
    ck_assert_int_eq(mail_retry_due(cfg, st, NULL, next - 1, false, &sent, &failed, &err), DS_OK);
    ck_assert_uint_eq(failed, 0);
    /* at its time: tried, failed, the pause doubled */
    ck_assert_int_eq(mail_retry_due(cfg, st, NULL, next, false, &sent, &failed, &err), DS_OK);
    ck_assert_uint_eq(failed, 1);
    ck_assert_uint_eq(sent, 0);
    ck_assert_msg(strstr(err.msg, "the report of 2016-01-01: SMTP smtp://127.0.0.1:1: ") ==
                  err.msg, "%s", err.msg);
    ck_assert_ptr_nonnull(strstr(err.msg, "attempt 2"));
    {
        long long prev = next;

        ck_assert(state_of(spool, "2016-01-01", &attempts, &next));
        ck_assert_uint_eq(attempts, 2);
        ck_assert_int_eq(next, prev + 120);
    }
    /* doubling stops at an hour */
    for (int i = 0; i < 8; i++)
        mail_retry_due(cfg, st, NULL, 0, true, &sent, &failed, &err);
    ck_assert(state_of(spool, "2016-01-01", &attempts, &next));
    ck_assert_uint_eq(attempts, 10);
    ck_assert_int_eq(next, 0 + 3600);

    /* the store says it went out (a stop between the store and the unlink): removed unsent */
    ck_assert_int_eq(store_mail_find(st, "2016-01-01", &m, &found, &err), DS_OK);
    m.sent_at = t0;
    ck_assert_int_eq(store_mail_save(st, &m, &err), DS_OK);
    failed = 0;
    ck_assert_int_eq(mail_retry_due(cfg, st, NULL, 0, true, &sent, &failed, &err), DS_OK);
    ck_assert_uint_eq(failed, 0);
    ck_assert_int_eq(mail_spooled(cfg), 0);
    ck_assert_int_ne(stat(eml, &sb), 0);
    /* and the day is never sent again */
    ck_assert_int_eq(mail_deliver(cfg, st, NULL, "2016-01-01", &doc, &err), DS_ERR_CONFLICT);
    ck_assert_ptr_nonnull(strstr(err.msg, "was mailed already"));
    ck_assert_int_eq(mail_spooled(cfg), 0);
    /* a name that is no day is refused before anything is written */
    ck_assert_int_eq(mail_deliver(cfg, st, NULL, "../etc", &doc, &err), DS_ERR_USAGE);

    free(eml);
    doc_free(&doc);
    store_close(st);
    cfg_free(cfg);
}
END_TEST

/* A cluster's mails table, as the mailer sees it. */
struct fake_ledger {
    struct mail_ledger pub;
    const char *sent_by;        /* NULL: nobody sent the day */
    bool fail;                  /* the cluster cannot be asked */
    int asked, recorded;
};

static enum ds_rc
fake_was_sent(void *ctx, const char *day, bool *sent, char *by, size_t by_len,
              struct ds_error *err)
{
    struct fake_ledger *l = ctx;

    (void)day;
    l->asked++;
    *sent = false;
    if (l->fail)
        return ds_error_set(err, DS_ERR_NET, "ClickHouse http://127.0.0.1:1/: down");
    if (l->sent_by != NULL) {
        *sent = true;
        snprintf(by, by_len, "%s", l->sent_by);
    }
    return DS_OK;
}

static void
fake_record_sent(void *ctx, const char *day, const char *message_id, int64_t now)
{
    struct fake_ledger *l = ctx;

    (void)day;
    (void)message_id;
    (void)now;
    l->recorded++;
}

/* Nodes that judge in turn: a day another node mailed is neither sent nor kept spooled here. */
START_TEST(test_spool_ledger)
{
    char spool[512];
    struct ds_cfg *cfg;
    struct store *st;
    struct report_doc doc;
    struct store_mail m;
    struct ds_error err;
    struct fake_ledger l = {{fake_was_sent, fake_record_sent, NULL}, "node-b", false, 0, 0};
    uint64_t sent = 0, failed = 0;
    unsigned attempts;
    long long next;
    int64_t now;
    bool found;

    l.pub.ctx = &l;
    snprintf(spool, sizeof(spool), "%s", tu_path("spool/ledger"));
    cfg = closed_port_cfg(spool);
    st = store_open(NULL, ":memory:", &err);
    ck_assert_msg(st != NULL, "%s", err.msg);
    fill_doc(&doc, xcalloc(1, 100), 100, xcalloc(1, 50), 50);

    /* mailed by another node: refused, nothing spooled, nothing recorded here */
    ck_assert_int_eq(mail_deliver(cfg, st, &l.pub, "2016-01-02", &doc, &err), DS_ERR_CONFLICT);
    ck_assert_msg(strstr(err.msg, "mailed already, by node node-b") != NULL, "%s", err.msg);
    ck_assert_int_eq(mail_spooled(cfg), 0);
    ck_assert_int_eq(store_mail_find(st, "2016-01-02", &m, &found, &err), DS_OK);
    ck_assert(!found);

    /* nobody has: spooled when the server is down */
    l.sent_by = NULL;
    ck_assert_int_eq(mail_deliver(cfg, st, &l.pub, "2016-01-03", &doc, &err), DS_ERR_NET);
    ck_assert_int_eq(mail_spooled(cfg), 1);
    /* the cluster cannot be asked: a failed attempt, SMTP not tried, the pause doubled */
    l.fail = true;
    now = (int64_t)time(NULL);
    ck_assert_int_eq(mail_retry_due(cfg, st, &l.pub, now, true, &sent, &failed, &err), DS_OK);
    ck_assert_uint_eq(failed, 1);
    ck_assert_msg(strstr(err.msg, "ClickHouse http://127.0.0.1:1/: down") != NULL, "%s", err.msg);
    ck_assert_ptr_null(strstr(err.msg, "SMTP"));
    ck_assert(state_of(spool, "2016-01-03", &attempts, &next));
    ck_assert_uint_eq(attempts, 2);
    ck_assert_int_eq(mail_spooled(cfg), 1);
    /* meanwhile the node that judges now mailed it: removed unsent, the store says by whom */
    l.fail = false;
    l.sent_by = "node-c";
    failed = 0;
    ck_assert_int_eq(mail_retry_due(cfg, st, &l.pub, now, true, &sent, &failed, &err), DS_OK);
    ck_assert_uint_eq(failed, 0);
    ck_assert_uint_eq(sent, 0);
    ck_assert_int_eq(mail_spooled(cfg), 0);
    ck_assert_int_eq(store_mail_find(st, "2016-01-03", &m, &found, &err), DS_OK);
    ck_assert(found);
    ck_assert_int_eq(m.sent_at, now);
    ck_assert_str_eq(m.last_error, "sent by node node-c");
    ck_assert_int_eq(l.recorded, 0);
    ck_assert_int_ge(l.asked, 4);

    doc_free(&doc);
    store_close(st);
    cfg_free(cfg);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("mail");
    TCase *tc = tcase_create("encoders");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_base64_vectors);
    tcase_add_test(tc, test_qp);
    tcase_add_test(tc, test_header_folding);
    suite_add_tcase(s, tc);

    tc = tcase_create("message");
    tcase_add_test(tc, test_message);
    tcase_add_test(tc, test_message_incomplete_note);
    tcase_add_test(tc, test_message_id);
    suite_add_tcase(s, tc);

    tc = tcase_create("delivery");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_due_day);
    tcase_add_test(tc, test_smtp_error_hides_password);
    tcase_add_test(tc, test_spool_backoff_and_once);
    tcase_add_test(tc, test_spool_ledger);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
