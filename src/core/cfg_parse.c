/*
 * Configuration loading (see ds/cfg.h).
 *
 * The YAML file is loaded whole with libyaml's document API, which keeps
 * the line and column of every node, and then walked against the tables
 * of cfg.c.  Every value is a YAML scalar read as text and parsed by the
 * entry's type; nothing is converted by YAML's own typing rules, so "0.75"
 * and 0.75 mean the same and "yes" is never silently a boolean.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "cfg_int.h"
#include "ds/cfg.h"
#include "ds/log.h"
#include "ds/parse.h"
#include "ds/tz.h"
#include "ds/xmem.h"

#define CFG_FILE_MAX (4 * 1024 * 1024)

/* Parsing context: where we are, for messages. */
struct ctx {
    const char *file;
    yaml_document_t *doc;
    struct ds_error *err;
};

static enum ds_rc
fail(struct ctx *c, const yaml_node_t *node, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum ds_rc
fail(struct ctx *c, const yaml_node_t *node, const char *path, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (node != NULL)
        ds_error_set(c->err, DS_ERR_CONFIG, "%s:%zu:%zu: %s%s%s", c->file,
                     node->start_mark.line + 1, node->start_mark.column + 1, path,
                     *path ? ": " : "", msg);
    else
        ds_error_set(c->err, DS_ERR_CONFIG, "%s: %s%s%s", c->file, path, *path ? ": " : "", msg);
    return DS_ERR_CONFIG;
}

static const char *
node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static const char *
scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* A plain, empty scalar is YAML's null: "key:" with no value. */
static int
is_null(const yaml_node_t *n)
{
    return n->type == YAML_SCALAR_NODE && n->data.scalar.length == 0 &&
           n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* The value of key in a mapping, or the mapping itself if the key is not there. */
static yaml_node_t *
map_value(struct ctx *c, yaml_node_t *map, const char *key)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);

        if (k->type == YAML_SCALAR_NODE && strcmp(scalar(k), key) == 0)
            return yaml_document_get_node(c->doc, p->value);
    }
    return map;
}

static const char *
type_expect(const struct cfg_entry *e)
{
    switch (e->type) {
    case T_STR:
        return "a string";
    case T_NAME:
        return "a name";
    case T_TZ:
        return "an IANA time zone name";
    case T_DURATION:
        return "a duration such as 5m, 1h, 1d";
    case T_INT:
        return "an integer";
    case T_DECIMAL:
        return "a number";
    case T_ENUM:
        return "one word";
    case T_CIDRS:
        return "a list of IPv4 or IPv6 prefixes";
    case T_KEYS:
        return "a list of group keys";
    case T_THRESHOLDS:
        return "a list of percentages";
    case T_SIZE:
        return "a size such as 64K, 32M, 1G";
    case T_CIDR:
        return "an address or a prefix";
    case T_ENDPOINT:
        return "address:port (or [IPv6]:port)";
    case T_LISTEN:
        return "a list of listeners";
    case T_SAMPLING:
        return "a list of sampling overrides";
    case T_BOOL:
        return "true or false";
    case T_SCHEDULE:
        return "a time of day HH:MM";
    case T_MAILADDR:
        return "a mail address such as darkstab@example.org";
    case T_MAILADDRS:
        return "a list of mail addresses";
    case T_SMTPURL:
        return "smtp://host[:port] or smtps://host[:port]";
    case T_HTTPURL:
        return "http://host[:port][/] or https://host[:port][/]";
    }
    return "a value";
}

static int
decimal_in_range(const struct cfg_entry *e, const struct decimal *d, char *why, size_t len)
{
    int below = e->lo_open ? d->value <= e->dlo : d->value < e->dlo;
    int above = e->hi_open ? d->value >= e->dhi : d->value > e->dhi;

    if (below || above) {
        /* %.15g, not %g: the bound of min_stddev is 1000000, not 1e+06 */
        snprintf(why, len, "%s is outside %s%.15g, %.15g%s", d->text, e->lo_open ? "(" : "[",
                 e->dlo, e->dhi, e->hi_open ? ")" : "]");
        return -1;
    }
    return 0;
}

static int
is_name(const char *s)
{
    if (*s == '\0' || strlen(s) > CFG_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
            return 0;
    return 1;
}

/*
 * A mail address as SMTP's MAIL FROM and RCPT TO take it: local@domain
 * (RFC 5321 dot-atom local part, domain labels or an [address literal]).
 * No display names: the address goes to the SMTP envelope as it is.
 */
static int
check_mail_address(const char *s, char *why, size_t len)
{
    const char *at = strrchr(s, '@');
    const char *p;

    if (at == NULL || at == s || at[1] == '\0') {
        snprintf(why, len, "'%s' is not a mail address (expected local@domain)", s);
        return -1;
    }
    if (strlen(s) > 254) {
        snprintf(why, len, "a mail address has at most 254 characters");
        return -1;
    }
    for (p = s; p < at; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("!#$%&'*+/=?^_`{|}~-", *p) != NULL)
            continue;
        if (*p == '.' && p != s && p + 1 != at && p[1] != '.')
            continue;
        snprintf(why, len, "'%s' is not a mail address (character '%c' in the local part)", s,
                 *p);
        return -1;
    }
    p = at + 1;
    if (*p == '[') {
        size_t n = strlen(p);

        if (n > 2 && p[n - 1] == ']' && strspn(p + 1, "0123456789abcdefABCDEF.:Pv6") == n - 2)
            return 0;
    } else {
        for (const char *label = p; *label;) {
            size_t n = strspn(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-");

            if (n == 0 || n > 63 || label[0] == '-' || label[n - 1] == '-' ||
                (label[n] != '.' && label[n] != '\0') || (label[n] == '.' && label[n + 1] == 0))
                break;
            label += n + (label[n] == '.');
            if (*label == '\0')
                return 0;
        }
    }
    snprintf(why, len, "'%s' is not a mail address (the domain '%s' is not a host name)", s, p);
    return -1;
}

/*
 * A URL of one of two schemes (a and b, "smtp://" and "smtps://"), kind
 * naming it in the error ("SMTP"), expect the forms it takes: a host, no
 * blank or control character, and none of the characters in forbidden.
 */
static int
check_url(const char *s, const char *a, const char *b, const char *kind, const char *expect,
          const char *forbidden, char *why, size_t len)
{
    const char *host;

    if (strncmp(s, a, strlen(a)) == 0)
        host = s + strlen(a);
    else if (strncmp(s, b, strlen(b)) == 0)
        host = s + strlen(b);
    else {
        snprintf(why, len, "'%s' is not an %s URL (expected %s)", s, kind, expect);
        return -1;
    }
    if (*host == '\0' || *host == '/' || *host == ':') {
        snprintf(why, len, "'%s' names no host", s);
        return -1;
    }
    for (const char *p = host; *p; p++) {
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            snprintf(why, len, "the URL contains a blank or a control character");
            return -1;
        }
        if (strchr(forbidden, *p) != NULL) {
            snprintf(why, len, "'%s': no '%c' here (the user and password are keys of their "
                               "own; darkstab adds the query)", s, *p);
            return -1;
        }
    }
    return 0;
}

/* smtp://host[:port] or smtps://host[:port]: what libcurl's SMTP takes, nothing else. */
static int
check_smtp_url(const char *s, char *why, size_t len)
{
    return check_url(s, "smtp://", "smtps://", "SMTP",
                     "smtp://host[:port] or smtps://host[:port]", "", why, len);
}

/*
 * An HTTP server's base URL (ClickHouse's HTTP interface): http:// or
 * https://, a host, an optional port, an optional path; no query, no user
 * and password (store.clickhouse.user and password_file say those).
 */
static int
check_http_url(const char *s, char *why, size_t len)
{
    return check_url(s, "http://", "https://", "HTTP",
                     "http://host[:port]/ or https://host[:port]/", "?#@", why, len);
}

/* Checks the text of a value kept as a string (T_STR, T_NAME, T_TZ, T_ENDPOINT, ...). */
static int
check_string(const struct cfg_entry *e, const char *text, char *why, size_t len)
{
    struct addr a;
    uint16_t port;

    if (*text == '\0' && (e->flags & F_EMPTY_OK))
        return 0;
    switch (e->type) {
    case T_NAME:
        if (is_name(text))
            return 0;
        snprintf(why, len, "'%s' is not a name (1 to %d letters, digits, '_', '-' or '.')", text,
                 CFG_NAME_MAX);
        return -1;
    case T_TZ:
        return tz_check(text, why, len) != 0 ? -1 : 0;
    case T_ENDPOINT:
        return cfg_parse_endpoint(text, &a, &port, why, len);
    case T_MAILADDR:
        return check_mail_address(text, why, len);
    case T_SMTPURL:
        return check_smtp_url(text, why, len);
    case T_HTTPURL:
        return check_http_url(text, why, len);
    default:
        if (*text != '\0')
            return 0;
        snprintf(why, len, "expected %s, found an empty string", type_expect(e));
        return -1;
    }
}

/*
 * Parses one scalar text into the field of entry e at base.  Used both for
 * YAML values and for the defaults in the tables.
 */
static int
set_scalar(const struct cfg_entry *e, void *base, const char *text, char *why, size_t len)
{
    char *field = (char *)base + e->offset;
    int64_t v;

    switch (e->type) {
    case T_STR:
    case T_NAME:
    case T_TZ:
    case T_ENDPOINT:
    case T_MAILADDR:
    case T_SMTPURL:
    case T_HTTPURL:
        if (check_string(e, text, why, len) != 0)
            return -1;
        free(*(char **)field);
        *(char **)field = xstrdup(text);
        return 0;
    case T_BOOL:
        if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
            *(bool *)field = text[0] == 't';
            return 0;
        }
        snprintf(why, len, "'%s' is not true or false", text);
        return -1;
    case T_SCHEDULE: {
        int hh, mm;
        char extra;

        if (*text == '\0' && (e->flags & F_EMPTY_OK)) {
            *(int64_t *)field = -1;
            return 0;
        }
        if (strlen(text) != 5 || text[2] != ':' ||
            sscanf(text, "%2d:%2d%c", &hh, &mm, &extra) != 2 || hh < 0 || hh > 23 || mm < 0 ||
            mm > 59 || strspn(text, "0123456789:") != 5) {
            snprintf(why, len, "'%s' is not a time of day HH:MM (00:00 to 23:59)", text);
            return -1;
        }
        *(int64_t *)field = hh * 60 + mm;
        return 0;
    }
    case T_SIZE:
        if (parse_size(text, &v, why, len) != 0)
            return -1;
        if (v < e->min || v > e->max) {
            snprintf(why, len, "'%s' is outside %lld..%lld bytes", text, (long long)e->min,
                     (long long)e->max);
            return -1;
        }
        *(int64_t *)field = v;
        return 0;
    case T_CIDR:
        /* cidr_parse() takes an address alone as the host itself */
        return cidr_parse(text, (struct cidr *)field, why, len);
    case T_DURATION:
        if (parse_duration(text, &v, why, len) != 0)
            return -1;
        if (v < e->min || v > e->max) {
            char a[16], b[16];

            snprintf(why, len, "'%s' is outside %s..%s", text,
                     format_duration(e->min, a, sizeof(a)), format_duration(e->max, b, sizeof(b)));
            return -1;
        }
        *(int64_t *)field = v;
        return 0;
    case T_INT:
        if (parse_int64(text, e->min, e->max, &v, why, len) != 0)
            return -1;
        *(int64_t *)field = v;
        return 0;
    case T_DECIMAL: {
        struct decimal d;

        if (parse_decimal(text, e->decimals, &d, why, len) != 0 ||
            decimal_in_range(e, &d, why, len) != 0)
            return -1;
        *(struct decimal *)field = d;
        return 0;
    }
    case T_ENUM:
        for (int i = 0; e->enums[i]; i++) {
            if (strcmp(e->enums[i], text) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        {
            char list[128] = "";

            for (int i = 0; e->enums[i]; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                         i ? " or " : "", e->enums[i]);
            snprintf(why, len, "'%s' is not %s", text, list);
        }
        return -1;
    default:
        snprintf(why, len, "internal: not a scalar type");
        return -1;
    }
}

/* List types: one item at a time into the field; index for messages. */
static int
add_list_item(const struct cfg_entry *e, void *base, const char *text, char *why, size_t len)
{
    if (e->type == T_CIDRS) {
        struct cfg_cidrs *l = (struct cfg_cidrs *)((char *)base + e->offset);
        struct cidr c;

        if (l->n >= CFG_CIDRS_MAX) {
            snprintf(why, len, "more than %d prefixes", CFG_CIDRS_MAX);
            return -1;
        }
        if (cidr_parse(text, &c, why, len) != 0)
            return -1;
        l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
        l->v[l->n++] = c;
        return 0;
    }
    if (e->type == T_KEYS) {
        struct cfg_analysis *a = base;
        struct key_spec k;
        char name[KEYSPEC_STRLEN];

        if (a->n_keys >= KEYS_MAX) {
            snprintf(why, len, "more than %d keys", KEYS_MAX);
            return -1;
        }
        if (keyspec_parse(text, &k, why, len) != 0)
            return -1;
        for (size_t i = 0; i < a->n_keys; i++) {
            char other[KEYSPEC_STRLEN];

            if (a->keys[i].kind != k.kind)
                continue;
            keyspec_format(&a->keys[i], other);
            if (strcmp(other, keyspec_format(&k, name)) == 0)
                snprintf(why, len, "key '%s' is listed twice", name);
            else
                snprintf(why, len, "key '%s' repeats '%s' (one key of each kind)", name, other);
            return -1;
        }
        a->keys[a->n_keys++] = k;
        return 0;
    }
    if (e->type == T_THRESHOLDS) {
        struct cfg_analysis *a = base;
        struct decimal d;

        if (a->n_thresholds >= CFG_THRESHOLDS_MAX) {
            snprintf(why, len, "more than %d thresholds", CFG_THRESHOLDS_MAX);
            return -1;
        }
        if (parse_decimal(text, e->decimals, &d, why, len) != 0 ||
            decimal_in_range(e, &d, why, len) != 0)
            return -1;
        for (size_t i = 0; i < a->n_thresholds; i++) {
            if (a->thresholds[i].num * d.den == d.num * a->thresholds[i].den) {
                snprintf(why, len, "threshold %s is listed twice", d.text);
                return -1;
            }
        }
        a->thresholds[a->n_thresholds++] = d;
        return 0;
    }
    if (e->type == T_MAILADDRS) {
        struct cfg_strs *l = (struct cfg_strs *)((char *)base + e->offset);

        if (l->n >= CFG_MAIL_TO_MAX) {
            snprintf(why, len, "more than %d addresses", CFG_MAIL_TO_MAX);
            return -1;
        }
        if (check_mail_address(text, why, len) != 0)
            return -1;
        for (size_t i = 0; i < l->n; i++) {
            if (strcmp(l->v[i], text) == 0) {
                snprintf(why, len, "'%s' is listed twice", text);
                return -1;
            }
        }
        l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
        l->v[l->n++] = xstrdup(text);
        return 0;
    }
    snprintf(why, len, "internal: not a list type");
    return -1;
}

static void
strs_clear(struct cfg_strs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static void
clear_list(const struct cfg_entry *e, void *base)
{
    if (e->type == T_CIDRS) {
        struct cfg_cidrs *l = (struct cfg_cidrs *)((char *)base + e->offset);

        free(l->v);
        l->v = NULL;
        l->n = 0;
    } else if (e->type == T_KEYS) {
        ((struct cfg_analysis *)base)->n_keys = 0;
    } else if (e->type == T_THRESHOLDS) {
        ((struct cfg_analysis *)base)->n_thresholds = 0;
    } else if (e->type == T_MAILADDRS) {
        strs_clear((struct cfg_strs *)((char *)base + e->offset));
    }
}

/* Applies the table default of e (comma separated for lists). */
static void
set_default(const struct cfg_entry *e, void *base)
{
    char why[256];

    if (e->def == NULL)
        return;
    if (!cfg_is_list_type(e->type)) {
        if (set_scalar(e, base, e->def, why, sizeof(why)) != 0)
            fatalx("cfg: bad built-in default for %s: %s", e->name, why);
        return;
    }
    clear_list(e, base);
    for (const char *p = e->def; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];

        if (n >= sizeof(item))
            fatalx("cfg: built-in default too long");
        memcpy(item, p, n);
        item[n] = '\0';
        if (add_list_item(e, base, item, why, sizeof(why)) != 0)
            fatalx("cfg: bad built-in default for %s: %s", e->name, why);
        p += n + (comma ? 1 : 0);
    }
}

static enum ds_rc parse_mapping(struct ctx *c, yaml_node_t *map, const struct cfg_entry *tab,
                                size_t n, const char *section, void *base, const char *prefix,
                                int *seen);

static void
listener_fini(struct cfg_listener *l)
{
    free(l->address);
}

/* collector.listen and collector.sampling: lists of small mappings. */
static enum ds_rc
parse_map_list(struct ctx *c, const struct cfg_entry *e, struct ds_cfg *cfg, yaml_node_t *val,
               const char *path)
{
    int listen = e->type == T_LISTEN;
    const struct cfg_entry *tab = listen ? cfg_listen_entries : cfg_sampling_entries;
    size_t ntab = listen ? N_LISTEN : N_SAMPLING_ENTRIES;
    size_t n, max = listen ? CFG_LISTEN_MAX : CFG_SAMPLING_MAX;

    if (val->type != YAML_SEQUENCE_NODE)
        return fail(c, val, path, "expected %s, found %s", type_expect(e),
                    is_null(val) ? "nothing" : node_kind(val));
    n = (size_t)(val->data.sequence.items.top - val->data.sequence.items.start);
    if (n == 0 && listen)
        return fail(c, val, path, "the list is empty (leave the key out for the default)");
    if (n > max)
        return fail(c, val, path, "more than %zu entries", max);
    if (listen) {
        for (size_t i = 0; i < cfg->n_listen; i++)
            listener_fini(&cfg->listen[i]);
        free(cfg->listen);
        cfg->listen = n ? xcalloc(n, sizeof(*cfg->listen)) : NULL;
        cfg->n_listen = 0;
    } else {
        free(cfg->sampling);
        cfg->sampling = n ? xcalloc(n, sizeof(*cfg->sampling)) : NULL;
        cfg->n_sampling = 0;
    }
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, val->data.sequence.items.start[i]);
        void *base = listen ? (void *)&cfg->listen[i] : (void *)&cfg->sampling[i];
        int seen[8] = {0};
        char ipath[256];
        enum ds_rc rc;

        snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        if (listen)
            cfg->n_listen = i + 1;
        else
            cfg->n_sampling = i + 1;
        for (size_t j = 0; j < ntab; j++)
            set_default(&tab[j], base);
        if (item->type != YAML_MAPPING_NODE)
            return fail(c, item, ipath, "expected a mapping (%s), found %s",
                        listen ? "protocol, transport, address, port" : "exporter, default, rate",
                        is_null(item) ? "nothing" : node_kind(item));
        rc = parse_mapping(c, item, tab, ntab, NULL, base, ipath, seen);
        if (rc != DS_OK)
            return rc;
        for (size_t j = 0; j < ntab; j++)
            if ((tab[j].flags & F_REQUIRED) && !seen[j])
                return fail(c, item, ipath, "'%s' is required", tab[j].name);
        if (listen) {
            struct cfg_listener *l = &cfg->listen[i];
            struct addr a;
            char p2[300];

            snprintf(p2, sizeof(p2), "%s.address", ipath);
            if (addr_parse(l->address, &a) != 0)
                return fail(c, map_value(c, item, "address"), p2,
                            "'%s' is not an IPv4 or IPv6 address", l->address);
            if (l->transport != CFG_TRANSPORT_UDP && l->protocol != CFG_PROTO_IPFIX)
                return fail(c, map_value(c, item, "transport"), ipath,
                            "%s is carried over UDP only (TCP and SCTP are for IPFIX)",
                            cfg_protocol_names[l->protocol]);
            for (size_t j = 0; j < i; j++) {
                struct addr b;

                addr_parse(cfg->listen[j].address, &b);
                if (cfg->listen[j].transport == l->transport &&
                    cfg_listener_port(&cfg->listen[j]) == cfg_listener_port(l) &&
                    memcmp(&a, &b, sizeof(a)) == 0)
                    return fail(c, item, ipath, "listens where %s[%zu] already does", path, j);
            }
        } else {
            struct cfg_sampling *sm = &cfg->sampling[i];

            if (sm->default_rate == 0 && sm->rate == 0)
                return fail(c, item, ipath, "give 'default' or 'rate' (or both)");
        }
    }
    return DS_OK;
}

static enum ds_rc
parse_value(struct ctx *c, const struct cfg_entry *e, void *base, yaml_node_t *val,
            const char *path)
{
    char why[512];

    if (e->type == T_LISTEN || e->type == T_SAMPLING)
        return parse_map_list(c, e, base, val, path);
    if (!cfg_is_list_type(e->type)) {
        if (val->type != YAML_SCALAR_NODE)
            return fail(c, val, path, "expected %s, found %s", type_expect(e), node_kind(val));
        if (is_null(val))
            return fail(c, val, path, "expected %s, found nothing", type_expect(e));
        if (set_scalar(e, base, scalar(val), why, sizeof(why)) != 0)
            return fail(c, val, path, "%s", why);
        return DS_OK;
    }
    if (val->type != YAML_SEQUENCE_NODE) {
        if (is_null(val))
            return fail(c, val, path, "expected %s, found nothing", type_expect(e));
        return fail(c, val, path, "expected %s, found %s", type_expect(e), node_kind(val));
    }
    clear_list(e, base);
    if (val->data.sequence.items.top == val->data.sequence.items.start &&
        !(e->flags & F_LIST_EMPTY_OK))
        return fail(c, val, path, "the list is empty (leave the key out for the default)");
    for (yaml_node_item_t *it = val->data.sequence.items.start; it < val->data.sequence.items.top;
         it++) {
        yaml_node_t *item = yaml_document_get_node(c->doc, *it);
        char ipath[256];

        snprintf(ipath, sizeof(ipath), "%s[%td]", path, it - val->data.sequence.items.start);
        if (item->type != YAML_SCALAR_NODE || is_null(item))
            return fail(c, item, ipath, "expected a single value, found %s",
                        is_null(item) ? "nothing" : node_kind(item));
        if (add_list_item(e, base, scalar(item), why, sizeof(why)) != 0)
            return fail(c, item, ipath, "%s", why);
    }
    return DS_OK;
}

/*
 * A section of two levels ("report.mail") is a mapping inside its parent:
 * the name of the child ("mail") when section is "report.mail" and parent
 * is "report", else NULL.
 */
static const char *
subsection_of(const char *section, const char *parent)
{
    size_t n;

    if (section == NULL || parent == NULL)
        return NULL;
    n = strlen(parent);
    if (strncmp(section, parent, n) == 0 && section[n] == '.' && strchr(section + n + 1, '.') ==
        NULL)
        return section + n + 1;
    return NULL;
}

/* The entry index of the first key of subsection name in section, or n. */
static size_t
find_subsection(const struct cfg_entry *tab, size_t n, const char *section, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        const char *sub = subsection_of(tab[i].section, section);

        if (sub != NULL && strcmp(sub, name) == 0)
            return i;
    }
    return n;
}

static const char *
expected_names(const struct cfg_entry *tab, size_t n, const char *section, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *sub = subsection_of(tab[i].section, section);

        if (sub != NULL && find_subsection(tab, n, section, sub) == i) {
            used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", sub);
            if (used >= len)
                break;
            continue;
        }
        if ((section == NULL) != (tab[i].section == NULL))
            continue;
        if (section && strcmp(section, tab[i].section) != 0)
            continue;
        used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", tab[i].name);
        if (used >= len)
            break;
    }
    return buf;
}

/*
 * Walks a mapping of keys described by entries with the given section
 * (NULL: entries without a section).  seen[] marks entries given, to find
 * duplicates and required keys.
 */
static enum ds_rc
parse_mapping(struct ctx *c, yaml_node_t *map, const struct cfg_entry *tab, size_t n,
              const char *section, void *base, const char *prefix, int *seen)
{
    char names[512];

    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        char path[256];
        size_t i, sub;
        enum ds_rc rc;

        if (k->type != YAML_SCALAR_NODE)
            return fail(c, k, prefix, "a key must be a plain word, found %s", node_kind(k));
        snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "." : "", scalar(k));
        for (i = 0; i < n; i++) {
            if ((section == NULL) != (tab[i].section == NULL))
                continue;
            if (section && strcmp(section, tab[i].section) != 0)
                continue;
            if (strcmp(tab[i].name, scalar(k)) == 0)
                break;
        }
        sub = i == n ? find_subsection(tab, n, section, scalar(k)) : n;
        if (sub < n) {
            /* a mapping of its own, "report: {mail: {to: ...}}" */
            for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
                yaml_node_t *k2 = yaml_document_get_node(c->doc, q->key);

                if (k2->type == YAML_SCALAR_NODE && strcmp(scalar(k2), scalar(k)) == 0)
                    return fail(c, k, path, "duplicate key");
            }
            if (v->type != YAML_MAPPING_NODE)
                return fail(c, v, path, "expected a mapping, found %s",
                            is_null(v) ? "nothing" : node_kind(v));
            rc = parse_mapping(c, v, tab, n, tab[sub].section, base, path, seen);
            if (rc != DS_OK)
                return rc;
            continue;
        }
        if (i == n)
            return fail(c, k, path, "unknown key (expected %s)",
                        expected_names(tab, n, section, names, sizeof(names)));
        if (seen[i])
            return fail(c, k, path, "duplicate key");
        seen[i] = 1;
        rc = parse_value(c, &tab[i], base, v, path);
        if (rc != DS_OK)
            return rc;
    }
    return DS_OK;
}

static int
slot_is_valid(int64_t s)
{
    return (s <= 86400 && 86400 % s == 0) || s == 7 * 86400;
}

static enum ds_rc
parse_analysis(struct ctx *c, yaml_node_t *map, struct cfg_analysis *a, const char *path)
{
    int seen[CFG_ENTRIES_MAX] = {0};
    enum ds_rc rc;

    for (size_t i = 0; i < N_ANALYSIS; i++)
        set_default(&cfg_analysis_entries[i], a);
    if (map->type != YAML_MAPPING_NODE)
        return fail(c, map, path, "expected a mapping with name, keys, slot, ..., found %s",
                    node_kind(map));
    rc = parse_mapping(c, map, cfg_analysis_entries, N_ANALYSIS, NULL, a, path, seen);
    if (rc != DS_OK)
        return rc;
    for (size_t i = 0; i < N_ANALYSIS; i++)
        if ((cfg_analysis_entries[i].flags & F_REQUIRED) && !seen[i])
            return fail(c, map, path, "'%s' is required", cfg_analysis_entries[i].name);
    if (!slot_is_valid(a->slot_s)) {
        char d[16], p2[256];

        snprintf(p2, sizeof(p2), "%s.slot", path);
        return fail(c, map_value(c, map, "slot"), p2,
                    "%s does not divide a day (use a divisor of 1d such as 5m, 1h, 6h, or 1d, 1w)",
                    format_duration(a->slot_s, d, sizeof(d)));
    }
    return DS_OK;
}

static void
analysis_fini(struct cfg_analysis *a)
{
    free(a->name);
}

static void
cfg_set_defaults(struct ds_cfg *cfg)
{
    for (size_t i = 0; i < N_TOP; i++)
        set_default(&cfg_top_entries[i], cfg);
    /* one IPFIX listener on UDP 4739, all addresses */
    cfg->listen = xcalloc(1, sizeof(*cfg->listen));
    cfg->n_listen = 1;
    for (size_t i = 0; i < N_LISTEN; i++)
        set_default(&cfg_listen_entries[i], &cfg->listen[0]);
    cfg->listen[0].protocol = CFG_PROTO_IPFIX;
}

static void
add_default_analysis(struct ds_cfg *cfg)
{
    cfg->analyses = xcalloc(1, sizeof(*cfg->analyses));
    cfg->n_analyses = 1;
    for (size_t i = 0; i < N_ANALYSIS; i++)
        set_default(&cfg_analysis_entries[i], &cfg->analyses[0]);
    cfg->analyses[0].name = xstrdup("ports");
}

struct ds_cfg *
cfg_default(void)
{
    struct ds_cfg *cfg = xcalloc(1, sizeof(*cfg));

    cfg->path = xstrdup("(defaults)");
    cfg_set_defaults(cfg);
    add_default_analysis(cfg);
    return cfg;
}

static enum ds_rc
parse_root(struct ctx *c, yaml_node_t *root, struct ds_cfg *cfg)
{
    int seen[CFG_ENTRIES_MAX] = {0};
    int seen_analyses = 0;

    if (root == NULL || is_null(root))
        return DS_OK; /* an empty file: every default */
    if (root->type != YAML_MAPPING_NODE)
        return fail(c, root, "", "the configuration must be a mapping of keys, found %s",
                    node_kind(root));
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
         p++) {
        yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
        const char *name;
        int is_section = 0;
        enum ds_rc rc;

        if (k->type != YAML_SCALAR_NODE)
            return fail(c, k, "", "a key must be a plain word, found %s", node_kind(k));
        name = scalar(k);
        for (int i = 0; cfg_top_sections[i]; i++)
            if (strcmp(cfg_top_sections[i], name) == 0)
                is_section = 1;
        if (is_section) {
            int sub_seen[CFG_ENTRIES_MAX] = {0};

            if (v->type != YAML_MAPPING_NODE)
                return fail(c, v, name, "expected a mapping, found %s",
                            is_null(v) ? "nothing" : node_kind(v));
            for (yaml_node_pair_t *q = p + 1; q < root->data.mapping.pairs.top; q++) {
                yaml_node_t *k2 = yaml_document_get_node(c->doc, q->key);

                if (k2->type == YAML_SCALAR_NODE && strcmp(scalar(k2), name) == 0)
                    return fail(c, k2, name, "duplicate key");
            }
            rc = parse_mapping(c, v, cfg_top_entries, N_TOP, name, cfg, name, sub_seen);
            if (rc != DS_OK)
                return rc;
            for (size_t i = 0; i < N_TOP; i++)
                seen[i] |= sub_seen[i];
            continue;
        }
        if (strcmp(name, "analyses") == 0) {
            size_t n;

            if (seen_analyses++)
                return fail(c, k, "analyses", "duplicate key");
            if (v->type != YAML_SEQUENCE_NODE)
                return fail(c, v, "analyses", "expected a list of analyses, found %s",
                            is_null(v) ? "nothing" : node_kind(v));
            n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
            if (n == 0)
                return fail(c, v, "analyses",
                            "the list is empty (leave the key out for the default analysis)");
            if (n > CFG_ANALYSES_MAX)
                return fail(c, v, "analyses", "more than %d analyses", CFG_ANALYSES_MAX);
            cfg->analyses = xcalloc(n, sizeof(*cfg->analyses));
            for (size_t i = 0; i < n; i++) {
                yaml_node_t *item =
                    yaml_document_get_node(c->doc, v->data.sequence.items.start[i]);
                char path[64];

                snprintf(path, sizeof(path), "analyses[%zu]", i);
                cfg->n_analyses = i + 1;
                rc = parse_analysis(c, item, &cfg->analyses[i], path);
                if (rc != DS_OK)
                    return rc;
                for (size_t j = 0; j < i; j++) {
                    if (strcmp(cfg->analyses[j].name, cfg->analyses[i].name) == 0) {
                        snprintf(path, sizeof(path), "analyses[%zu].name", i);
                        return fail(c, map_value(c, item, "name"), path,
                                    "duplicate analysis name '%s' (also analyses[%zu])",
                                    cfg->analyses[i].name, j);
                    }
                }
            }
            continue;
        }
        {
            size_t i;

            for (i = 0; i < N_TOP; i++)
                if (cfg_top_entries[i].section == NULL &&
                    strcmp(cfg_top_entries[i].name, name) == 0)
                    break;
            if (i == N_TOP)
                return fail(c, k, name,
                            "unknown key (expected timezone, darknet, analyses, input, store, "
                            "collector, metrics, archive, log, causes, drilldown, report, "
                            "smtp)");
            if (seen[i])
                return fail(c, k, name, "duplicate key");
            seen[i] = 1;
            rc = parse_value(c, &cfg_top_entries[i], cfg, v, name);
            if (rc != DS_OK)
                return rc;
        }
    }
    return DS_OK;
}

/* The node of "section.key" (or of section alone, key NULL) in the root mapping, or NULL. */
static yaml_node_t *
find_node(struct ctx *c, yaml_node_t *root, const char *section, const char *sub,
          const char *key)
{
    yaml_node_t *n;

    if (root == NULL || root->type != YAML_MAPPING_NODE)
        return NULL;
    n = map_value(c, root, section);
    if (n == root || n->type != YAML_MAPPING_NODE)
        return NULL;
    if (sub != NULL) {
        yaml_node_t *m = map_value(c, n, sub);

        if (m == n || m->type != YAML_MAPPING_NODE)
            return n;
        n = m;
    }
    if (key != NULL) {
        yaml_node_t *v = map_value(c, n, key);

        return v == n ? n : v;
    }
    return n;
}

/* A name ClickHouse takes unquoted: a letter or '_', then letters, digits, '_'. */
static bool
is_identifier(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/*
 * store.clickhouse: what the backend needs once it is chosen, names that
 * go into SQL unquoted, and the password file (its content is not read
 * here).  The keys are checked whatever the backend, so that a typo shows
 * before the day it is switched on.
 */
static enum ds_rc
check_clickhouse(struct ctx *c, yaml_node_t *root, const struct ds_cfg *cfg)
{
    const struct cfg_clickhouse *ch = &cfg->clickhouse;
    const char *names[2] = {"database", "cluster"};
    const char *values[2] = {ch->database, ch->cluster};

    for (int i = 0; i < 2; i++)
        if (!is_identifier(values[i]) || strlen(values[i]) > 64)
            return fail(c, find_node(c, root, "store", "clickhouse", names[i]),
                        i == 0 ? "store.clickhouse.database" : "store.clickhouse.cluster",
                        "'%s' is not a ClickHouse name (a letter or '_', then letters, digits "
                        "or '_'; at most 64)", values[i]);
    if (!is_identifier(ch->user) || strlen(ch->user) > 64)
        return fail(c, find_node(c, root, "store", "clickhouse", "user"),
                    "store.clickhouse.user", "'%s' is not a ClickHouse user name", ch->user);
    if (cfg->store_backend == CFG_STORE_CLICKHOUSE) {
        if (*ch->url == '\0')
            return fail(c, find_node(c, root, "store", "clickhouse", "url"),
                        "store.clickhouse.url", "no server, but store.backend is clickhouse");
        if (*ch->node == '\0')
            return fail(c, find_node(c, root, "store", "clickhouse", "node"),
                        "store.clickhouse.node",
                        "no node name, but store.backend is clickhouse (each node of the "
                        "cluster needs its own)");
    }
    if (*ch->password_file != '\0') {
        FILE *fp = fopen(ch->password_file, "r");

        if (fp == NULL)
            return fail(c, find_node(c, root, "store", "clickhouse", "password_file"),
                        "store.clickhouse.password_file", "cannot read '%s': %s",
                        ch->password_file, strerror(errno));
        fclose(fp);
    }
    return DS_OK;
}

/*
 * report and smtp together: what the mail needs once it is scheduled, and
 * the password file (read when mailing: checked now, so that a missing
 * file shows at start, not at 06:30).  Its content is never read here.
 */
static enum ds_rc
check_mail(struct ctx *c, yaml_node_t *root, const struct ds_cfg *cfg)
{
    const struct cfg_report *r = &cfg->report;
    const struct cfg_smtp *m = &cfg->smtp;

    if (r->schedule_min >= 0) {
        if (r->mail_to.n == 0)
            return fail(c, find_node(c, root, "report", "mail", "to"), "report.mail.to",
                        "no recipient, but report.schedule is set");
        if (*r->mail_from == '\0')
            return fail(c, find_node(c, root, "report", "mail", "from"), "report.mail.from",
                        "no sender address, but report.schedule is set");
        if (*m->url == '\0')
            return fail(c, find_node(c, root, "smtp", NULL, "url"), "smtp.url",
                        "no SMTP server, but report.schedule is set");
    }
    if ((*m->username == '\0') != (*m->password_file == '\0'))
        return fail(c, find_node(c, root, "smtp", NULL, *m->username ? "username" :
                                 "password_file"), *m->username ? "smtp.username" :
                    "smtp.password_file", "give smtp.username and smtp.password_file together");
    if (*m->password_file != '\0') {
        FILE *fp = fopen(m->password_file, "r");

        if (fp == NULL)
            return fail(c, find_node(c, root, "smtp", NULL, "password_file"),
                        "smtp.password_file", "cannot read '%s': %s", m->password_file,
                        strerror(errno));
        fclose(fp);
    }
    return DS_OK;
}

static enum ds_rc
yaml_fail(struct ds_error *err, const char *name, const yaml_parser_t *parser)
{
    return ds_error_set(err, DS_ERR_CONFIG, "%s:%zu:%zu: not valid YAML: %s%s%s", name,
                        parser->problem_mark.line + 1, parser->problem_mark.column + 1,
                        parser->problem ? parser->problem : "syntax error",
                        parser->context ? " " : "", parser->context ? parser->context : "");
}

enum ds_rc
cfg_load_string(const char *name, const char *text, struct ds_cfg **out, struct ds_error *err)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    struct ds_cfg *cfg;
    struct ctx c = {name, &doc, err};
    enum ds_rc rc;

    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return ds_error_set(err, DS_ERR_NOMEM, "%s: cannot initialise the YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, strlen(text));
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_fail(err, name, &parser);
        yaml_parser_delete(&parser);
        return DS_ERR_CONFIG;
    }
    cfg = xcalloc(1, sizeof(*cfg));
    cfg->path = xstrdup(name);
    cfg_set_defaults(cfg);
    rc = parse_root(&c, yaml_document_get_root_node(&doc), cfg);
    if (rc == DS_OK)
        rc = check_mail(&c, yaml_document_get_root_node(&doc), cfg);
    if (rc == DS_OK)
        rc = check_clickhouse(&c, yaml_document_get_root_node(&doc), cfg);
    if (rc == DS_OK) {
        /* A second document in the file is almost surely a mistake. */
        yaml_document_t next;

        if (yaml_parser_load(&parser, &next)) {
            if (yaml_document_get_root_node(&next) != NULL) {
                yaml_node_t *r = yaml_document_get_root_node(&next);

                rc = ds_error_set(err, DS_ERR_CONFIG,
                                  "%s:%zu:%zu: a second YAML document; put everything in one",
                                  name, r->start_mark.line + 1, r->start_mark.column + 1);
            }
            yaml_document_delete(&next);
        } else {
            rc = yaml_fail(err, name, &parser);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc == DS_OK && cfg->n_analyses == 0)
        add_default_analysis(cfg);
    if (rc != DS_OK) {
        cfg_free(cfg);
        return rc;
    }
    *out = cfg;
    return DS_OK;
}

enum ds_rc
cfg_load(const char *path, struct ds_cfg **out, struct ds_error *err)
{
    FILE *fp;
    char *text;
    size_t n;
    enum ds_rc rc;

    *out = NULL;
    fp = fopen(path, "rb");
    if (fp == NULL)
        return ds_error_set(err, DS_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    text = xmalloc(CFG_FILE_MAX + 1);
    n = fread(text, 1, CFG_FILE_MAX + 1, fp);
    if (ferror(fp)) {
        rc = ds_error_set(err, DS_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
        goto out;
    }
    if (n > CFG_FILE_MAX) {
        rc = ds_error_set(err, DS_ERR_CONFIG, "%s: larger than %d bytes", path, CFG_FILE_MAX);
        goto out;
    }
    if (memchr(text, '\0', n) != NULL) {
        rc = ds_error_set(err, DS_ERR_CONFIG, "%s: not a text file (contains NUL bytes)", path);
        goto out;
    }
    text[n] = '\0';
    rc = cfg_load_string(path, text, out, err);
out:
    fclose(fp);
    free(text);
    return rc;
}

void
cfg_free(struct ds_cfg *cfg)
{
    if (cfg == NULL)
        return;
    free(cfg->path);
    free(cfg->timezone);
    free(cfg->prefixes.v);
    free(cfg->exclude.v);
    for (size_t i = 0; i < cfg->n_analyses; i++)
        analysis_fini(&cfg->analyses[i]);
    free(cfg->analyses);
    free(cfg->store_path);
    for (size_t i = 0; i < cfg->n_listen; i++)
        listener_fini(&cfg->listen[i]);
    free(cfg->listen);
    free(cfg->allow.v);
    free(cfg->sampling);
    free(cfg->user);
    free(cfg->metrics_listen);
    free(cfg->archive_dir);
    strs_clear(&cfg->report.mail_to);
    free(cfg->report.mail_from);
    free(cfg->report.subject_prefix);
    free(cfg->report.spool_dir);
    free(cfg->smtp.url);
    free(cfg->smtp.username);
    free(cfg->smtp.password_file);
    free(cfg->clickhouse.url);
    free(cfg->clickhouse.database);
    free(cfg->clickhouse.cluster);
    free(cfg->clickhouse.node);
    free(cfg->clickhouse.user);
    free(cfg->clickhouse.password_file);
    free(cfg->clickhouse.spool_dir);
    free(cfg);
}

