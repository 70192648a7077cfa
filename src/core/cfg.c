/*
 * Configuration loading (see ds/cfg.h).
 *
 * The YAML file is loaded whole with libyaml's document API, which keeps
 * the line and column of every node, and then walked against the tables
 * below.  Every value is a YAML scalar read as text and parsed by the
 * entry's type; nothing is converted by YAML's own typing rules, so "0.75"
 * and 0.75 mean the same and "yes" is never silently a boolean.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "ds/cfg.h"
#include "ds/log.h"
#include "ds/parse.h"
#include "ds/tz.h"
#include "ds/xmem.h"

#define CFG_FILE_MAX (4 * 1024 * 1024)

enum cfg_type {
    T_STR,
    T_NAME,         /* an analysis name: letters, digits, '_', '-' */
    T_TZ,
    T_DURATION,
    T_INT,
    T_DECIMAL,
    T_ENUM,
    T_CIDRS,
    T_KEYS,
    T_THRESHOLDS,
    T_SIZE,         /* bytes, with K, M or G */
    T_CIDR,         /* one prefix; an address alone is a host */
    T_ENDPOINT,     /* address:port, [v6]:port */
    T_LISTEN,       /* collector.listen: a list of mappings */
    T_SAMPLING,     /* collector.sampling: a list of mappings */
    T_BOOL,         /* true or false */
    T_SCHEDULE,     /* a local time of day "HH:MM" as minutes; "" (F_EMPTY_OK): -1, off */
    T_MAILADDR,     /* a mail address (addr-spec) "user@example.org" */
    T_MAILADDRS,    /* a list of them, into struct cfg_strs */
    T_SMTPURL,      /* smtp://host[:port] or smtps://host[:port] */
};

#define F_REQUIRED 0x1      /* no default: the key must be given */
#define F_LIST_EMPTY_OK 0x2 /* an empty list is allowed */
#define F_EMPTY_OK 0x4      /* an empty string is allowed (it means "off") */
#define F_RESTART 0x8       /* a reload cannot change it: restart darkstab */
#define F_SECRET 0x10       /* never printed: check-config --print masks it */

struct cfg_entry {
    const char *section;    /* "darknet", "store", ...; NULL at top level */
    const char *name;
    enum cfg_type type;
    size_t offset;          /* into struct ds_cfg or struct cfg_analysis */
    const char *def;        /* default as text; lists comma separated */
    unsigned flags;
    int64_t min, max;       /* T_INT, T_DURATION */
    const char *const *enums;
    double dlo, dhi;        /* T_DECIMAL, T_THRESHOLDS: bounds */
    int lo_open, hi_open;   /* bounds excluded */
    int decimals;
    const char *doc;        /* one line, shown by "check-config --doc" */
};

static const char *const stddev_names[] = {"population", "sample", NULL};
static const char *const attribution_names[] = {"start", "spread", NULL};
static const char *const protocol_names[] = {"ipfix", "netflow9", "netflow5", "sflow", NULL};
static const char *const transport_names[] = {"udp", "tcp", "sctp", NULL};
static const char *const level_names[] = {"error", "warning", "info", "debug", NULL};
static const char *const starttls_names[] = {"required", "optional", "never", NULL};
static const char *const lists_names[] = {"auto", "memory", "reread", NULL};

#define CFG_OFF(f) offsetof(struct ds_cfg, f)
#define AN_OFF(f) offsetof(struct cfg_analysis, f)
#define LS_OFF(f) offsetof(struct cfg_listener, f)
#define SM_OFF(f) offsetof(struct cfg_sampling, f)

static const struct cfg_entry top_entries[] = {
    {NULL, "timezone", T_TZ, CFG_OFF(timezone), "UTC", F_RESTART, 0, 0, NULL, 0, 0, 0, 0, 0,
     "IANA time zone in which slots are aligned and times are printed"},
    {"darknet", "prefixes", T_CIDRS, CFG_OFF(prefixes), "0.0.0.0/0,::/0", 0, 0, 0, NULL, 0, 0,
     0, 0, 0, "destination prefixes of the darknet; only records to them are counted"},
    {"darknet", "exclude", T_CIDRS, CFG_OFF(exclude), "", F_LIST_EMPTY_OK, 0, 0, NULL, 0, 0, 0,
     0, 0, "prefixes inside the darknet that are in use and not counted"},
    {"input", "lateness", T_DURATION, CFG_OFF(input_lateness_s), "1h", 0, 0, 7 * 86400, NULL, 0,
     0, 0, 0, 0,
     "how far records may arrive out of time order before their slot is closed"},
    {"store", "path", T_STR, CFG_OFF(store_path), "darkstab.db", F_RESTART, 0, 0, NULL, 0, 0, 0,
     0, 0, "SQLite file holding slots, group counts and results"},
    {"collector", "listen", T_LISTEN, 0, NULL, F_RESTART, 0, 0, NULL, 0, 0, 0, 0, 0,
     "where exporters send: {protocol, transport, address, port} each"},
    {"collector", "allow", T_CIDRS, CFG_OFF(allow), "0.0.0.0/0,::/0", F_LIST_EMPTY_OK, 0, 0,
     NULL, 0, 0, 0, 0, 0, "exporters allowed to send; the others are dropped and counted"},
    {"collector", "sampling", T_SAMPLING, 0, NULL, 0, 0, 0, NULL, 0, 0, 0, 0, 0,
     "per exporter prefix: a default rate, or a rate forced over what is announced"},
    {"collector", "lateness", T_DURATION, CFG_OFF(collector_lateness_s), "5m", 0, 0, 86400,
     NULL, 0, 0, 0, 0, 0, "how long past its end a slot waits for every active exporter"},
    {"collector", "idle_close", T_DURATION, CFG_OFF(idle_close_s), "15m", 0, 10, 7 * 86400,
     NULL, 0, 0, 0, 0, 0, "an exporter silent this long (wall clock) no longer holds slots open"},
    {"collector", "silence", T_DURATION, CFG_OFF(silence_s), "2m", 0, 1, 86400, NULL, 0, 0, 0,
     0, 0, "a pause this long of an active exporter makes its slot's data suspect"},
    {"collector", "max_loss", T_DECIMAL, CFG_OFF(max_loss), "1", 0, 0, 0, NULL, 0, 100, 0, 0, 3,
     "estimated loss (percent of records) above which a slot is incomplete, not judged"},
    {"collector", "checkpoint", T_DURATION, CFG_OFF(checkpoint_s), "30s", 0, 1, 3600, NULL, 0,
     0, 0, 0, 0, "how often open slots, templates and sampling rates are saved"},
    {"collector", "receive_buffer", T_SIZE, CFG_OFF(receive_buffer), "32M", F_RESTART, 65536,
     INT64_C(1) << 31, NULL, 0, 0, 0, 0, 0, "socket receive buffer (SO_RCVBUF) of each listener"},
    {"collector", "user", T_STR, CFG_OFF(user), "", F_EMPTY_OK | F_RESTART, 0, 0, NULL, 0, 0, 0,
     0, 0, "started as root: the user to switch to once the sockets are bound"},
    {"metrics", "listen", T_ENDPOINT, CFG_OFF(metrics_listen), "", F_EMPTY_OK, 0, 0, NULL, 0, 0,
     0, 0, 0, "address:port of the Prometheus metrics endpoint; empty: none"},
    {"archive", "dir", T_STR, CFG_OFF(archive_dir), "", F_EMPTY_OK, 0, 0, NULL, 0, 0, 0, 0, 0,
     "directory for IPFIX files of the darknet records received; empty: no archive"},
    {"archive", "rotate", T_DURATION, CFG_OFF(archive_rotate_s), "1h", 0, 60, 86400, NULL, 0, 0,
     0, 0, 0, "a new archive file this often"},
    {"log", "level", T_ENUM, CFG_OFF(log_level), "info", 0, 0, 0, level_names, 0, 0, 0, 0, 0,
     "error, warning, info or debug"},
    /* causes: the rules of the probable cause, src/explain/cause.c */
    {"causes", "one_source_share", T_DECIMAL, CFG_OFF(causes.one_source_share), "90", 0, 0, 0,
     NULL, 0, 100, 1, 0, 2,
     "a group is from one source when its top source sends this percent of its packets"},
    {"causes", "ddos_min_sources", T_INT, CFG_OFF(causes.ddos_min_sources), "50", 0, 2,
     INT64_C(1) << 32, NULL, 0, 0, 0, 0, 0, "ddos: at least this many source addresses"},
    {"causes", "ddos_max_ports", T_INT, CFG_OFF(causes.ddos_max_ports), "1", 0, 1, 65536, NULL, 0,
     0, 0, 0, 0, "ddos: at most this many destination ports"},
    {"causes", "ddos_burst_share", T_DECIMAL, CFG_OFF(causes.ddos_burst_share), "80", 0, 0, 0,
     NULL, 0, 100, 1, 0, 2, "ddos: this percent of the group's packets fall within the burst"},
    {"causes", "ddos_burst_length", T_DECIMAL, CFG_OFF(causes.ddos_burst_length), "25", 0, 0, 0,
     NULL, 0, 100, 1, 0, 2, "ddos: the burst lasts at most this percent of the slot"},
    {"causes", "misconfig_max_ports", T_INT, CFG_OFF(causes.misconfig_max_ports), "1", 0, 1,
     65536, NULL, 0, 0, 0, 0, 0,
     "misconfiguration: one source on at most this many ports, none a known service"},
    {"causes", "scan_min_ports", T_INT, CFG_OFF(causes.scan_min_ports), "10", 0, 2, 65536, NULL,
     0, 0, 0, 0, 0, "scan: one source on at least this many destination ports"},
    {"causes", "scan_min_addrs", T_INT, CFG_OFF(causes.scan_min_addrs), "25", 0, 2,
     INT64_C(1) << 32, NULL, 0, 0, 0, 0, 0,
     "scan: or one source to at least this many destination addresses"},
    {"causes", "backscatter_share", T_DECIMAL, CFG_OFF(causes.backscatter_share), "75", 0, 0, 0,
     NULL, 0, 100, 1, 0, 2,
     "backscatter: this percent of the packets are replies (from port 53, SYN/ACK, RST)"},
    {"causes", "backscatter_min_port", T_INT, CFG_OFF(causes.backscatter_min_port), "1024", 0, 0,
     65535, NULL, 0, 0, 0, 0, 0, "backscatter: replies go to destination ports from this one up"},
    {"drilldown", "sources", T_INT, CFG_OFF(drilldown.sources), "64", F_RESTART, 1, 4096, NULL,
     0, 0, 0, 0, 0, "source addresses kept per group (exact up to this many, then Space-Saving)"},
    {"drilldown", "ports", T_INT, CFG_OFF(drilldown.ports), "16", F_RESTART, 1, 4096, NULL, 0, 0,
     0, 0, 0, "source ports kept per group (exact up to this many, then Space-Saving)"},
    {"drilldown", "destinations", T_INT, CFG_OFF(drilldown.destinations), "16", F_RESTART, 1,
     4096, NULL, 0, 0, 0, 0, 0,
     "destination addresses kept per group (exact up to this many, then Space-Saving)"},
    {"drilldown", "series_memory", T_SIZE, CFG_OFF(drilldown.series_memory), "32M", F_RESTART,
     0, INT64_C(1) << 40, NULL, 0, 0, 0, 0, 0,
     "bytes of packets-per-minute series per analysis; beyond, the smallest groups lose theirs"},
    {"drilldown", "lists", T_ENUM, CFG_OFF(drilldown.lists), "auto", F_RESTART, 0, 0, lists_names,
     0, 0, 0, 0, 0,
     "auto, memory or reread: top lists and minutes kept in memory or read back exactly"},
    {"drilldown", "reread_values", T_INT, CFG_OFF(drilldown.reread_values), "1000000",
     F_RESTART, 1000, INT64_C(1) << 32, NULL, 0, 0, 0, 0, 0,
     "distinct values counted per slot when reading back; beyond, a group keeps its estimate"},
    /* the nightly report mail: src/mail, the collector's schedule */
    {"report", "schedule", T_SCHEDULE, CFG_OFF(report.schedule_min), "", F_EMPTY_OK | F_RESTART,
     0, 0, NULL, 0, 0, 0, 0, 0,
     "HH:MM local time (timezone) to mail the previous day's report; empty: no mail"},
    {"report", "spool", T_STR, CFG_OFF(report.spool_dir), "darkstab-spool", F_RESTART, 0, 0,
     NULL, 0, 0, 0, 0, 0, "directory holding report mails until they are sent"},
    {"report.mail", "to", T_MAILADDRS, CFG_OFF(report.mail_to), "",
     F_LIST_EMPTY_OK | F_RESTART, 0, 0, NULL, 0, 0, 0, 0, 0,
     "recipients' addresses (needed when report.schedule is set)"},
    {"report.mail", "from", T_MAILADDR, CFG_OFF(report.mail_from), "", F_EMPTY_OK | F_RESTART,
     0, 0, NULL, 0, 0, 0, 0, 0, "sender address (needed when report.schedule is set)"},
    {"report.mail", "subject_prefix", T_STR, CFG_OFF(report.subject_prefix), "darkstab",
     F_RESTART, 0, 0, NULL, 0, 0, 0, 0, 0,
     "the subject's first word(s): \"PREFIX 2016-01-01: 3 unstable slots (ddos)\""},
    {"smtp", "url", T_SMTPURL, CFG_OFF(smtp.url), "", F_EMPTY_OK | F_RESTART, 0, 0, NULL, 0, 0,
     0, 0, 0, "smtp://host[:port] (STARTTLS per smtp.starttls) or smtps://host[:port] (TLS)"},
    {"smtp", "starttls", T_ENUM, CFG_OFF(smtp.starttls), "required", F_RESTART, 0, 0,
     starttls_names, 0, 0, 0, 0, 0, "smtp://: required, optional (if offered) or never"},
    {"smtp", "verify", T_BOOL, CFG_OFF(smtp.verify), "true", F_RESTART, 0, 0, NULL, 0, 0, 0, 0,
     0, "check the server's certificate and name (false only for tests)"},
    {"smtp", "username", T_STR, CFG_OFF(smtp.username), "", F_EMPTY_OK | F_RESTART, 0, 0, NULL,
     0, 0, 0, 0, 0, "login name for SMTP AUTH; empty: no login"},
    {"smtp", "password_file", T_STR, CFG_OFF(smtp.password_file), "", F_EMPTY_OK | F_RESTART,
     0, 0, NULL, 0, 0, 0, 0, 0,
     "file whose first line is the SMTP password (never printed nor logged)"},
    {"smtp", "timeout", T_DURATION, CFG_OFF(smtp.timeout_s), "1m", F_RESTART, 1, 3600, NULL, 0,
     0, 0, 0, 0, "how long one attempt to send may take"},
};

static const struct cfg_entry listen_entries[] = {
    {NULL, "protocol", T_ENUM, LS_OFF(protocol), NULL, F_REQUIRED, 0, 0, protocol_names, 0, 0, 0,
     0, 0, "ipfix, netflow9, netflow5 or sflow"},
    {NULL, "transport", T_ENUM, LS_OFF(transport), "udp", 0, 0, 0, transport_names, 0, 0, 0, 0,
     0, "udp, tcp or sctp (IPFIX only)"},
    {NULL, "address", T_STR, LS_OFF(address), "0.0.0.0", 0, 0, 0, NULL, 0, 0, 0, 0, 0,
     "IPv4 or IPv6 address to bind (:: takes IPv4 too)"},
    {NULL, "port", T_INT, LS_OFF(port), "0", 0, 0, 65535, NULL, 0, 0, 0, 0, 0,
     "0: the usual port (4739 IPFIX, 2055 NetFlow, 6343 sFlow)"},
};

static const struct cfg_entry sampling_entries[] = {
    {NULL, "exporter", T_CIDR, SM_OFF(exporter), NULL, F_REQUIRED, 0, 0, NULL, 0, 0, 0, 0, 0,
     "an exporter address or prefix"},
    {NULL, "default", T_INT, SM_OFF(default_rate), "0", 0, 0, INT64_C(1) << 30, NULL, 0, 0, 0,
     0, 0, "1 in N, where the exporter announces no rate; 0: unset"},
    {NULL, "rate", T_INT, SM_OFF(rate), "0", 0, 0, INT64_C(1) << 30, NULL, 0, 0, 0, 0, 0,
     "1 in N, whatever the exporter announces; 0: unset"},
};

#define N_LISTEN (sizeof(listen_entries) / sizeof(listen_entries[0]))
#define N_SAMPLING_ENTRIES (sizeof(sampling_entries) / sizeof(sampling_entries[0]))

static const struct cfg_entry analysis_entries[] = {
    {NULL, "name", T_NAME, AN_OFF(name), NULL, F_REQUIRED | F_RESTART, 0, 0, NULL, 0, 0, 0, 0,
     0, "unique name of the analysis"},
    {NULL, "keys", T_KEYS, 0, "proto,dst_port", F_RESTART, 0, 0, NULL, 0, 0, 0, 0, 0,
     "group keys; a group is one combination of their values"},
    {NULL, "slot", T_DURATION, AN_OFF(slot_s), "1d", F_RESTART, 60, 7 * 86400, NULL, 0, 0, 0, 0,
     0, "slot length: a divisor of a day (5m, 1h, ...), 1d or 1w"},
    {NULL, "window", T_INT, AN_OFF(window), "7", 0, 2, CFG_WINDOW_MAX, NULL, 0, 0, 0, 0, 0,
     "T: earlier slots with data that form the band"},
    {NULL, "k_sigma", T_DECIMAL, AN_OFF(k_sigma), "2", 0, 0, 0, NULL, 0, 100, 1, 0, 3,
     "k: the band is mu +/- k*sigma"},
    {NULL, "thresholds", T_THRESHOLDS, 0, "1.0,0.75,0.5", 0, 0, 0, NULL, 0, 100, 1, 1, 4,
     "shares in percent; TopN counts groups strictly above each"},
    {NULL, "stddev", T_ENUM, AN_OFF(stddev), "population", 0, 0, 0, stddev_names, 0, 0, 0, 0, 0,
     "population (divide by T) or sample (divide by T-1)"},
    {NULL, "min_stddev", T_DECIMAL, AN_OFF(min_stddev), "0", 0, 0, 0, NULL, 0, 1000000, 0, 0, 3,
     "sigma is raised to at least this value"},
    {NULL, "attribution", T_ENUM, AN_OFF(attribution), "start", F_RESTART, 0, 0,
     attribution_names, 0, 0, 0, 0, 0,
     "start: a flow counts in the slot of its start; spread: over its duration"},
};

#define N_TOP (sizeof(top_entries) / sizeof(top_entries[0]))
#define N_ANALYSIS (sizeof(analysis_entries) / sizeof(analysis_entries[0]))

static const char *const top_sections[] = {"darknet", "input",     "store",  "collector",
                                           "metrics", "archive",   "log",    "causes",
                                           "drilldown", "report", "smtp", NULL};

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

/* smtp://host[:port] or smtps://host[:port]: what libcurl's SMTP takes, nothing else. */
static int
check_smtp_url(const char *s, char *why, size_t len)
{
    const char *host;

    if (strncmp(s, "smtp://", 7) == 0)
        host = s + 7;
    else if (strncmp(s, "smtps://", 8) == 0)
        host = s + 8;
    else {
        snprintf(why, len, "'%s' is not an SMTP URL (expected smtp://host[:port] or "
                           "smtps://host[:port])", s);
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
    }
    return 0;
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

static int
is_list_type(enum cfg_type t)
{
    return t == T_CIDRS || t == T_KEYS || t == T_THRESHOLDS || t == T_MAILADDRS;
}

/* Applies the table default of e (comma separated for lists). */
static void
set_default(const struct cfg_entry *e, void *base)
{
    char why[256];

    if (e->def == NULL)
        return;
    if (!is_list_type(e->type)) {
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
    const struct cfg_entry *tab = listen ? listen_entries : sampling_entries;
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
                            protocol_names[l->protocol]);
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
    if (!is_list_type(e->type)) {
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
        size_t i;
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
        if (i == n && find_subsection(tab, n, section, scalar(k)) < n) {
            /* a mapping of its own, "report: {mail: {to: ...}}" */
            size_t sub = find_subsection(tab, n, section, scalar(k));

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
    int seen[N_ANALYSIS] = {0};
    enum ds_rc rc;

    for (size_t i = 0; i < N_ANALYSIS; i++)
        set_default(&analysis_entries[i], a);
    if (map->type != YAML_MAPPING_NODE)
        return fail(c, map, path, "expected a mapping with name, keys, slot, ..., found %s",
                    node_kind(map));
    rc = parse_mapping(c, map, analysis_entries, N_ANALYSIS, NULL, a, path, seen);
    if (rc != DS_OK)
        return rc;
    for (size_t i = 0; i < N_ANALYSIS; i++)
        if ((analysis_entries[i].flags & F_REQUIRED) && !seen[i])
            return fail(c, map, path, "'%s' is required", analysis_entries[i].name);
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
        set_default(&top_entries[i], cfg);
    /* one IPFIX listener on UDP 4739, all addresses */
    cfg->listen = xcalloc(1, sizeof(*cfg->listen));
    cfg->n_listen = 1;
    for (size_t i = 0; i < N_LISTEN; i++)
        set_default(&listen_entries[i], &cfg->listen[0]);
    cfg->listen[0].protocol = CFG_PROTO_IPFIX;
}

static void
add_default_analysis(struct ds_cfg *cfg)
{
    cfg->analyses = xcalloc(1, sizeof(*cfg->analyses));
    cfg->n_analyses = 1;
    for (size_t i = 0; i < N_ANALYSIS; i++)
        set_default(&analysis_entries[i], &cfg->analyses[0]);
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
    int seen[N_TOP] = {0};
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
        for (int i = 0; top_sections[i]; i++)
            if (strcmp(top_sections[i], name) == 0)
                is_section = 1;
        if (is_section) {
            int sub_seen[N_TOP] = {0};

            if (v->type != YAML_MAPPING_NODE)
                return fail(c, v, name, "expected a mapping, found %s",
                            is_null(v) ? "nothing" : node_kind(v));
            for (yaml_node_pair_t *q = p + 1; q < root->data.mapping.pairs.top; q++) {
                yaml_node_t *k2 = yaml_document_get_node(c->doc, q->key);

                if (k2->type == YAML_SCALAR_NODE && strcmp(scalar(k2), name) == 0)
                    return fail(c, k2, name, "duplicate key");
            }
            rc = parse_mapping(c, v, top_entries, N_TOP, name, cfg, name, sub_seen);
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
                if (top_entries[i].section == NULL && strcmp(top_entries[i].name, name) == 0)
                    break;
            if (i == N_TOP)
                return fail(c, k, name,
                            "unknown key (expected timezone, darknet, analyses, input, store, "
                            "collector, metrics, archive, log, causes, drilldown, report, "
                            "smtp)");
            if (seen[i])
                return fail(c, k, name, "duplicate key");
            seen[i] = 1;
            rc = parse_value(c, &top_entries[i], cfg, v, name);
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
    free(cfg);
}

const struct decimal *
cfg_lowest_threshold(const struct cfg_analysis *a)
{
    const struct decimal *low = &a->thresholds[0];

    for (size_t i = 1; i < a->n_thresholds; i++)
        if (a->thresholds[i].num * low->den < low->num * a->thresholds[i].den)
            low = &a->thresholds[i];
    return low;
}

/* YAML needs quotes for a string that would read as something else. */
static void
print_str(FILE *fp, const char *s)
{
    int plain = *s != '\0' && strpbrk(s, ":#{}[],&*!|>'\"%@`") == NULL && s[0] != '-' &&
                s[0] != '?' && s[0] != ' ' && s[strlen(s) - 1] != ' ';

    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            plain = 0;
    if (plain)
        fputs(s, fp);
    else {
        fputc('"', fp);
        for (; *s; s++) {
            /* a raw line break inside quotes would read back as a space */
            if (*s == '\n')
                fputs("\\n", fp);
            else if (*s == '\t')
                fputs("\\t", fp);
            else if ((unsigned char)*s < 0x20 || *s == 0x7f)
                fprintf(fp, "\\x%02x", (unsigned char)*s);
            else {
                if (*s == '"' || *s == '\\')
                    fputc('\\', fp);
                fputc(*s, fp);
            }
        }
        fputc('"', fp);
    }
}

/*
 * A URL may carry a password ("smtp://user:secret@host"): printed as
 * "smtp://user:********@host" so that a configuration can be shown.
 */
static void
print_str_masked(FILE *fp, const char *s)
{
    const char *scheme = strstr(s, "://");
    const char *at, *colon;
    char *masked;
    size_t n;

    if (scheme == NULL || (at = strchr(scheme + 3, '@')) == NULL) {
        print_str(fp, s);
        return;
    }
    colon = memchr(scheme + 3, ':', (size_t)(at - (scheme + 3)));
    if (colon == NULL) {
        print_str(fp, s);
        return;
    }
    n = (size_t)(colon + 1 - s);
    masked = xmalloc(n + 8 + strlen(at) + 1);
    memcpy(masked, s, n);
    memcpy(masked + n, "********", 8);
    memcpy(masked + n + 8, at, strlen(at) + 1);
    print_str(fp, masked);
    free(masked);
}

static void
print_value(FILE *fp, const struct cfg_entry *e, const void *base)
{
    const char *field = (const char *)base + e->offset;
    char buf[CIDR_STRLEN];

    if ((e->flags & F_SECRET) && e->type == T_STR && **(char *const *)field != '\0') {
        fputs("\"********\"", fp);
        return;
    }
    switch (e->type) {
    case T_STR:
    case T_SMTPURL:
        print_str_masked(fp, *(char *const *)field);
        break;
    case T_NAME:
    case T_TZ:
    case T_ENDPOINT:
    case T_MAILADDR:
        print_str(fp, *(char *const *)field);
        break;
    case T_BOOL:
        fputs(*(const bool *)field ? "true" : "false", fp);
        break;
    case T_SCHEDULE: {
        int64_t m = *(const int64_t *)field;

        if (m < 0)
            fputs("\"\"", fp);
        else
            fprintf(fp, "\"%02d:%02d\"", (int)(m / 60), (int)(m % 60));
        break;
    }
    case T_MAILADDRS: {
        const struct cfg_strs *l = (const struct cfg_strs *)field;

        fputc('[', fp);
        for (size_t i = 0; i < l->n; i++) {
            fputs(i ? ", " : "", fp);
            print_str(fp, l->v[i]);
        }
        fputc(']', fp);
        break;
    }
    case T_SIZE:
        fputs(format_size(*(const int64_t *)field, buf, sizeof(buf)), fp);
        break;
    case T_CIDR:
        print_str(fp, cidr_format((const struct cidr *)field, buf));
        break;
    case T_LISTEN: {
        const struct ds_cfg *cfg = base;

        fputc('[', fp);
        for (size_t i = 0; i < cfg->n_listen; i++) {
            const struct cfg_listener *l = &cfg->listen[i];

            fprintf(fp, "%s{protocol: %s, transport: %s, address: ", i ? ", " : "",
                    protocol_names[l->protocol], transport_names[l->transport]);
            print_str(fp, l->address);
            fprintf(fp, ", port: %u}", cfg_listener_port(l));
        }
        fputc(']', fp);
        break;
    }
    case T_SAMPLING: {
        const struct ds_cfg *cfg = base;

        fputc('[', fp);
        for (size_t i = 0; i < cfg->n_sampling; i++) {
            const struct cfg_sampling *sm = &cfg->sampling[i];

            fprintf(fp, "%s{exporter: ", i ? ", " : "");
            print_str(fp, cidr_format(&sm->exporter, buf));
            if (sm->default_rate)
                fprintf(fp, ", default: %lld", (long long)sm->default_rate);
            if (sm->rate)
                fprintf(fp, ", rate: %lld", (long long)sm->rate);
            fputc('}', fp);
        }
        fputc(']', fp);
        break;
    }
    case T_DURATION:
        fputs(format_duration(*(const int64_t *)field, buf, sizeof(buf)), fp);
        break;
    case T_INT:
        fprintf(fp, "%lld", (long long)*(const int64_t *)field);
        break;
    case T_DECIMAL:
        fputs(((const struct decimal *)field)->text, fp);
        break;
    case T_ENUM:
        fputs(e->enums[*(const int *)field], fp);
        break;
    case T_CIDRS: {
        const struct cfg_cidrs *l = (const struct cfg_cidrs *)field;

        fputc('[', fp);
        for (size_t i = 0; i < l->n; i++) {
            fputs(i ? ", " : "", fp);
            /* "::/0" must be quoted in a flow list */
            print_str(fp, cidr_format(&l->v[i], buf));
        }
        fputc(']', fp);
        break;
    }
    case T_KEYS: {
        const struct cfg_analysis *a = base;
        char k[KEYSPEC_STRLEN];

        fputc('[', fp);
        for (size_t i = 0; i < a->n_keys; i++)
            fprintf(fp, "%s%s", i ? ", " : "", keyspec_format(&a->keys[i], k));
        fputc(']', fp);
        break;
    }
    case T_THRESHOLDS: {
        const struct cfg_analysis *a = base;

        fputc('[', fp);
        for (size_t i = 0; i < a->n_thresholds; i++)
            fprintf(fp, "%s%s", i ? ", " : "", a->thresholds[i].text);
        fputc(']', fp);
        break;
    }
    }
}

void
cfg_print(const struct ds_cfg *cfg, FILE *fp)
{
    const char *section = NULL;

    fprintf(fp, "# effective configuration of %s\n", cfg->path);
    for (size_t i = 0; i < N_TOP; i++) {
        const struct cfg_entry *e = &top_entries[i];

        if (e->section == NULL) {
            fprintf(fp, "%s: ", e->name);
        } else {
            /* "report.mail": "mail:" inside "report:" */
            const char *dot = strchr(e->section, '.');
            size_t plen = dot ? (size_t)(dot - e->section) : strlen(e->section);

            if (section == NULL || strcmp(section, e->section) != 0) {
                if (section == NULL || strncmp(section, e->section, plen) != 0 ||
                    (section[plen] != '\0' && section[plen] != '.'))
                    fprintf(fp, "%.*s:\n", (int)plen, e->section);
                if (dot != NULL)
                    fprintf(fp, "  %s:\n", dot + 1);
            }
            section = e->section;
            fprintf(fp, "%s%s: ", dot ? "    " : "  ", e->name);
        }
        print_value(fp, e, cfg);
        fprintf(fp, "    # %s\n", e->doc);
    }
    fprintf(fp, "analyses:\n");
    for (size_t a = 0; a < cfg->n_analyses; a++) {
        for (size_t i = 0; i < N_ANALYSIS; i++) {
            fprintf(fp, "%s%s: ", i == 0 ? "  - " : "    ", analysis_entries[i].name);
            print_value(fp, &analysis_entries[i], &cfg->analyses[a]);
            fprintf(fp, "    # %s\n", analysis_entries[i].doc);
        }
    }
}

/* A default as the README's table shows it: lists in brackets, "" for empty. */
static void
print_doc_default(FILE *fp, const struct cfg_entry *e)
{
    int list = is_list_type(e->type);

    if (e->flags & F_REQUIRED) {
        fputs("(required)", fp);
        return;
    }
    if (e->def == NULL) {
        fputs("(none)", fp);
        return;
    }
    fputc('`', fp);
    if (list) {
        fputc('[', fp);
        for (const char *p = e->def; *p; p++) {
            fputc(*p, fp);
            if (*p == ',')
                fputc(' ', fp);
        }
        fputc(']', fp);
    } else if (*e->def == '\0') {
        fputs("\"\"", fp);
    } else {
        fputs(e->def, fp);
    }
    fputc('`', fp);
}

static void
print_doc_row(FILE *fp, const char *path, const struct cfg_entry *e)
{
    fprintf(fp, "| `%s` | ", path);
    print_doc_default(fp, e);
    fprintf(fp, " | %s%s |\n", e->doc, (e->flags & F_RESTART) ? " (restart)" : "");
}

void
cfg_print_doc(FILE *fp)
{
    const char *const *paths = cfg_key_paths();
    size_t n = 0;

    fputs("| key | default | meaning |\n| --- | --- | --- |\n", fp);
    for (size_t i = 0; i < N_TOP; i++)
        print_doc_row(fp, paths[n++], &top_entries[i]);
    for (size_t i = 0; i < N_ANALYSIS; i++)
        print_doc_row(fp, paths[n++], &analysis_entries[i]);
    for (size_t i = 0; i < N_LISTEN; i++)
        print_doc_row(fp, paths[n++], &listen_entries[i]);
    for (size_t i = 0; i < N_SAMPLING_ENTRIES; i++)
        print_doc_row(fp, paths[n++], &sampling_entries[i]);
}

/* "timezone", "store.path": the key path of a top level entry. */
static const char *
entry_path(const struct cfg_entry *e, char *buf, size_t len)
{
    if (e->section != NULL)
        snprintf(buf, len, "%s.%s", e->section, e->name);
    else
        snprintf(buf, len, "%s", e->name);
    return buf;
}

const char *const *
cfg_key_paths(void)
{
    static const char *paths[N_TOP + N_ANALYSIS + N_LISTEN + N_SAMPLING_ENTRIES + 1];
    static char store[N_TOP + N_ANALYSIS + N_LISTEN + N_SAMPLING_ENTRIES][64];

    if (paths[0] == NULL) {
        size_t n = 0;

        for (size_t i = 0; i < N_TOP; i++, n++)
            paths[n] = entry_path(&top_entries[i], store[n], sizeof(store[n]));
        for (size_t i = 0; i < N_ANALYSIS; i++, n++) {
            snprintf(store[n], sizeof(store[n]), "analyses[].%s", analysis_entries[i].name);
            paths[n] = store[n];
        }
        for (size_t i = 0; i < N_LISTEN; i++, n++) {
            snprintf(store[n], sizeof(store[n]), "collector.listen[].%s", listen_entries[i].name);
            paths[n] = store[n];
        }
        for (size_t i = 0; i < N_SAMPLING_ENTRIES; i++, n++) {
            snprintf(store[n], sizeof(store[n]), "collector.sampling[].%s",
                     sampling_entries[i].name);
            paths[n] = store[n];
        }
        paths[n] = NULL;
    }
    return paths;
}

uint16_t
cfg_listener_port(const struct cfg_listener *l)
{
    if (l->port != 0)
        return (uint16_t)l->port;
    switch (l->protocol) {
    case CFG_PROTO_IPFIX:
        return 4739;
    case CFG_PROTO_SFLOW:
        return 6343;
    default:
        return 2055;
    }
}

const char *
cfg_protocol_name(int protocol)
{
    return protocol >= 0 && protocol < 4 ? protocol_names[protocol] : "?";
}

const char *
cfg_transport_name(int transport)
{
    return transport >= 0 && transport < 3 ? transport_names[transport] : "?";
}

const struct cfg_sampling *
cfg_sampling_for(const struct ds_cfg *cfg, const struct addr *addr)
{
    const struct cfg_sampling *best = NULL;

    for (size_t i = 0; i < cfg->n_sampling; i++) {
        const struct cfg_sampling *sm = &cfg->sampling[i];

        if (cidr_contains(&sm->exporter, addr) &&
            (best == NULL || sm->exporter.len > best->exporter.len))
            best = sm;
    }
    return best;
}

int
cfg_parse_endpoint(const char *text, struct addr *a, uint16_t *port, char *why, size_t len)
{
    char host[ADDR_STRLEN];
    const char *colon;
    size_t hl;
    int64_t p;

    if (text[0] == '[') {
        const char *close = strchr(text, ']');

        if (close == NULL || close[1] != ':') {
            snprintf(why, len, "'%s' is not [IPv6 address]:port", text);
            return -1;
        }
        hl = (size_t)(close - text - 1);
        colon = close + 1;
        text++;
    } else {
        colon = strrchr(text, ':');
        if (colon == NULL || strchr(text, ':') != colon) {
            snprintf(why, len, "'%s' is not address:port (write an IPv6 address as [::1]:port)",
                     text);
            return -1;
        }
        hl = (size_t)(colon - text);
    }
    if (hl == 0 || hl >= sizeof(host)) {
        snprintf(why, len, "no address before the port");
        return -1;
    }
    memcpy(host, text, hl);
    host[hl] = '\0';
    if (addr_parse(host, a) != 0) {
        snprintf(why, len, "'%s' is not an IPv4 or IPv6 address", host);
        return -1;
    }
    if (parse_int64(colon + 1, 1, 65535, &p, why, len) != 0)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

static int
listeners_equal(const struct ds_cfg *a, const struct ds_cfg *b)
{
    if (a->n_listen != b->n_listen)
        return 0;
    for (size_t i = 0; i < a->n_listen; i++) {
        const struct cfg_listener *x = &a->listen[i], *y = &b->listen[i];

        if (x->protocol != y->protocol || x->transport != y->transport ||
            cfg_listener_port(x) != cfg_listener_port(y) || strcmp(x->address, y->address) != 0)
            return 0;
    }
    return 1;
}

/* Does the value of e differ between bases a and b?  For the keys flagged F_RESTART. */
static int
value_differs(const struct cfg_entry *e, const void *a, const void *b)
{
    const char *x = (const char *)a + e->offset, *y = (const char *)b + e->offset;

    switch (e->type) {
    case T_STR:
    case T_NAME:
    case T_TZ:
    case T_ENDPOINT:
    case T_MAILADDR:
    case T_SMTPURL:
        return strcmp(*(char *const *)x, *(char *const *)y) != 0;
    case T_BOOL:
        return *(const bool *)x != *(const bool *)y;
    case T_SCHEDULE:
        return *(const int64_t *)x != *(const int64_t *)y;
    case T_MAILADDRS: {
        const struct cfg_strs *p = (const struct cfg_strs *)x, *q = (const struct cfg_strs *)y;

        if (p->n != q->n)
            return 1;
        for (size_t i = 0; i < p->n; i++)
            if (strcmp(p->v[i], q->v[i]) != 0)
                return 1;
        return 0;
    }
    case T_SIZE:
    case T_DURATION:
    case T_INT:
        return *(const int64_t *)x != *(const int64_t *)y;
    case T_ENUM:
        return *(const int *)x != *(const int *)y;
    case T_KEYS: {
        const struct cfg_analysis *p = a, *q = b;

        return p->n_keys != q->n_keys || memcmp(p->keys, q->keys, sizeof(p->keys)) != 0;
    }
    case T_LISTEN:
        return !listeners_equal(a, b);
    default:
        fatalx("cfg: %s: F_RESTART on a type that cannot be compared", e->name);
    }
}

int
cfg_needs_restart(const struct ds_cfg *old, const struct ds_cfg *new, char *why, size_t len)
{
    why[0] = '\0';
    for (size_t i = 0; i < N_TOP; i++) {
        if ((top_entries[i].flags & F_RESTART) && value_differs(&top_entries[i], old, new)) {
            entry_path(&top_entries[i], why, len);
            return 1;
        }
    }
    if (old->n_analyses != new->n_analyses) {
        snprintf(why, len, "analyses (one added or removed)");
        return 1;
    }
    for (size_t a = 0; a < old->n_analyses; a++) {
        for (size_t i = 0; i < N_ANALYSIS; i++) {
            const struct cfg_entry *e = &analysis_entries[i];

            if ((e->flags & F_RESTART) && value_differs(e, &old->analyses[a], &new->analyses[a])) {
                snprintf(why, len, "analyses[%zu].%s", a, e->name);
                return 1;
            }
        }
    }
    return 0;
}
