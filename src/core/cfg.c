/*
 * The configuration's keys (see ds/cfg.h): one table per section, each
 * entry a key's name, type, default, bounds, flags (required, restart,
 * secret) and one line of documentation.  The table drives parsing and
 * validation (cfg_parse.c), "check-config --print" and "--doc", the
 * README's configuration table (cfg_print.c) and what a reload may
 * change (below).  Checks that span several keys live with their section
 * in cfg_parse.c.
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

const char *const cfg_stddev_names[] = {"population", "sample", NULL};
const char *const cfg_attribution_names[] = {"start", "spread", NULL};
const char *const cfg_protocol_names[] = {"ipfix", "netflow9", "netflow5", "sflow", NULL};
const char *const cfg_transport_names[] = {"udp", "tcp", "sctp", NULL};
const char *const cfg_level_names[] = {"error", "warning", "info", "debug", NULL};
const char *const cfg_starttls_names[] = {"required", "optional", "never", NULL};
static const char *const lists_names[] = {"auto", "memory", "reread", NULL};
static const char *const backend_names[] = {"sqlite", "clickhouse", NULL};
static const char *const analyzer_names[] = {"auto", "true", "false", NULL};
static const char *const details_names[] = {"records", "shards", NULL};

#define CFG_OFF(f) offsetof(struct ds_cfg, f)
#define AN_OFF(f) offsetof(struct cfg_analysis, f)
#define LS_OFF(f) offsetof(struct cfg_listener, f)
#define SM_OFF(f) offsetof(struct cfg_sampling, f)

const struct cfg_entry cfg_top_entries[] = {
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
     0, 0, "SQLite file holding slots, group counts and results (the node's own state "
     "with clickhouse)"},
    {"store", "backend", T_ENUM, CFG_OFF(store_backend), "sqlite", F_RESTART, 0, 0,
     backend_names, 0, 0, 0, 0, 0,
     "sqlite (embedded) or clickhouse (a cluster shared by several nodes: docs/CLICKHOUSE.md)"},
    {"store.clickhouse", "url", T_HTTPURL, CFG_OFF(clickhouse.url), "", F_EMPTY_OK | F_RESTART,
     0, 0, NULL, 0, 0, 0, 0, 0,
     "the HTTP interface of the ClickHouse server this node talks to (any shard)"},
    {"store.clickhouse", "database", T_STR, CFG_OFF(clickhouse.database), "darkstab", F_RESTART,
     0, 0, NULL, 0, 0, 0, 0, 0, "database holding darkstab's tables"},
    {"store.clickhouse", "cluster", T_STR, CFG_OFF(clickhouse.cluster), "darkstab", F_RESTART, 0,
     0, NULL, 0, 0, 0, 0, 0, "the cluster (<remote_servers> name) the Distributed tables span"},
    {"store.clickhouse", "node", T_NAME, CFG_OFF(clickhouse.node), "", F_EMPTY_OK | F_RESTART, 0,
     0, NULL, 0, 0, 0, 0, 0, "this node's name, unique in the cluster (needed with clickhouse)"},
    {"store.clickhouse", "user", T_STR, CFG_OFF(clickhouse.user), "default", F_RESTART, 0, 0,
     NULL, 0, 0, 0, 0, 0, "ClickHouse user"},
    {"store.clickhouse", "password_file", T_STR, CFG_OFF(clickhouse.password_file), "",
     F_EMPTY_OK | F_RESTART, 0, 0, NULL, 0, 0, 0, 0, 0,
     "file whose first line is the user's password (never printed nor logged); empty: none"},
    {"store.clickhouse", "batch_rows", T_INT, CFG_OFF(clickhouse.batch_rows), "100000",
     F_RESTART, 1000, 10000000, NULL, 0, 0, 0, 0, 0, "records per INSERT"},
    {"store.clickhouse", "flush_interval", T_DURATION, CFG_OFF(clickhouse.flush_interval_s), "5s",
     F_RESTART, 1, 3600, NULL, 0, 0, 0, 0, 0, "a batch is sent at least this often"},
    {"store.clickhouse", "timeout", T_DURATION, CFG_OFF(clickhouse.timeout_s), "30s", F_RESTART,
     1, 3600, NULL, 0, 0, 0, 0, 0, "how long one request to ClickHouse may take"},
    {"store.clickhouse", "query_timeout", T_DURATION, CFG_OFF(clickhouse.query_timeout_s), "10m",
     F_RESTART, 1, 86400, NULL, 0, 0, 0, 0, 0,
     "how long one query of a slot's judgement may take (a day's records at scale: minutes)"},
    {"store.clickhouse", "analyzer", T_ENUM, CFG_OFF(clickhouse.analyzer), "auto", F_RESTART, 0,
     0, analyzer_names, 0, 0, 0, 0, 0,
     "may this node judge live slots: auto (the first alive node by name), true or false"},
    {"store.clickhouse", "revise_for", T_DURATION, CFG_OFF(clickhouse.revise_for_s), "7d",
     F_RESTART, 3600, 366 * 86400, NULL, 0, 0, 0, 0, 0,
     "how far behind what it has judged the judging node judges again for late records"},
    {"store.clickhouse", "details", T_ENUM, CFG_OFF(clickhouse.details), "records", F_RESTART, 0,
     0, details_names, 0, 0, 0, 0, 0,
     "shown groups' details from their records read back (records) or counted by GROUP BY on "
     "the shards (shards: fewer rows to the judging node, more work for the shards)"},
    {"store.clickhouse", "spool", T_STR, CFG_OFF(clickhouse.spool_dir), "darkstab-ch-spool",
     F_RESTART, 0, 0, NULL, 0, 0, 0, 0, 0, "directory of the batches ClickHouse has not taken yet"},
    {"store.clickhouse", "spool_max", T_SIZE, CFG_OFF(clickhouse.spool_max), "1G", F_RESTART,
     INT64_C(1) << 20, INT64_C(1) << 40, NULL, 0, 0, 0, 0, 0,
     "bytes the spool may hold; a batch beyond is not kept, and counted"},
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
    /* limits: what one sender can make the collector hold, src/ingest */
    {"limits", "exporters", T_INT, CFG_OFF(limits.exporters), "4096", F_RESTART, 1, 1000000,
     NULL, 0, 0, 0, 0, 0,
     "exporters that delivered records; never evicted while active (idle_close)"},
    {"limits", "probation", T_INT, CFG_OFF(limits.probation), "256", F_RESTART, 1, 1000000, NULL,
     0, 0, 0, 0, 0, "senders yet to deliver a usable record; most evicted, then oldest, go first"},
    {"limits", "templates", T_INT, CFG_OFF(limits.templates), "512", F_RESTART, 1, 65280, NULL,
     0, 0, 0, 0, 0, "templates per exporter (or TCP connection) and observation domain"},
    {"limits", "template_fields", T_INT, CFG_OFF(limits.template_fields), "512", F_RESTART, 1,
     1024, NULL, 0, 0, 0, 0, 0, "fields per template; a longer template is refused"},
    {"limits", "template_memory", T_SIZE, CFG_OFF(limits.template_memory), "256K", F_RESTART,
     4096, INT64_C(1) << 32, NULL, 0, 0, 0, 0, 0,
     "bytes of templates per exporter (or TCP connection), 64 a field and 256 a template"},
    {"limits", "template_memory_total", T_SIZE, CFG_OFF(limits.template_memory_total), "64M",
     F_RESTART, 65536, INT64_C(1) << 40, NULL, 0, 0, 0, 0, 0,
     "bytes of templates of all exporters together; past it new templates are refused"},
    {"limits", "tcp_connections", T_INT, CFG_OFF(limits.tcp_connections), "256", F_RESTART, 1,
     65536, NULL, 0, 0, 0, 0, 0,
     "open TCP connections per listener; a newcomer replaces one without a whole message"},
    {"limits", "tcp_message_timeout", T_DURATION, CFG_OFF(limits.tcp_message_timeout_s), "30s",
     F_RESTART, 1, 3600, NULL, 0, 0, 0, 0, 0,
     "a TCP connection that holds part of a message this long is closed"},
    {"limits", "groups", T_INT, CFG_OFF(limits.groups), "262144", F_RESTART, 16, 1 << 30, NULL,
     0, 0, 0, 0, 0, "groups per slot and analysis; past it new groups' flows are folded"},
    {"log", "level", T_ENUM, CFG_OFF(log_level), "info", 0, 0, 0, cfg_level_names, 0, 0, 0, 0, 0,
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
     "distinct values counted per slot when reading back; beyond, the group with the most keeps "
     "its estimate"},
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
     cfg_starttls_names, 0, 0, 0, 0, 0, "smtp://: required, optional (if offered) or never"},
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

const struct cfg_entry cfg_listen_entries[] = {
    {NULL, "protocol", T_ENUM, LS_OFF(protocol), NULL, F_REQUIRED, 0, 0, cfg_protocol_names, 0,
     0, 0, 0, 0, "ipfix, netflow9, netflow5 or sflow"},
    {NULL, "transport", T_ENUM, LS_OFF(transport), "udp", 0, 0, 0, cfg_transport_names, 0, 0, 0, 0,
     0, "udp, tcp or sctp (IPFIX only)"},
    {NULL, "address", T_STR, LS_OFF(address), "0.0.0.0", 0, 0, 0, NULL, 0, 0, 0, 0, 0,
     "IPv4 or IPv6 address to bind (:: takes IPv4 too)"},
    {NULL, "port", T_INT, LS_OFF(port), "0", 0, 0, 65535, NULL, 0, 0, 0, 0, 0,
     "0: the usual port (4739 IPFIX, 2055 NetFlow, 6343 sFlow)"},
};

const struct cfg_entry cfg_sampling_entries[] = {
    {NULL, "exporter", T_CIDR, SM_OFF(exporter), NULL, F_REQUIRED, 0, 0, NULL, 0, 0, 0, 0, 0,
     "an exporter address or prefix"},
    {NULL, "default", T_INT, SM_OFF(default_rate), "0", 0, 0, INT64_C(1) << 30, NULL, 0, 0, 0,
     0, 0, "1 in N, where the exporter announces no rate; 0: unset"},
    {NULL, "rate", T_INT, SM_OFF(rate), "0", 0, 0, INT64_C(1) << 30, NULL, 0, 0, 0, 0, 0,
     "1 in N, whatever the exporter announces; 0: unset"},
};


const struct cfg_entry cfg_analysis_entries[] = {
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
    {NULL, "stddev", T_ENUM, AN_OFF(stddev), "population", 0, 0, 0, cfg_stddev_names, 0, 0, 0, 0, 0,
     "population (divide by T) or sample (divide by T-1)"},
    {NULL, "min_stddev", T_DECIMAL, AN_OFF(min_stddev), "0", 0, 0, 0, NULL, 0, 1000000, 0, 0, 3,
     "sigma is raised to at least this value"},
    {NULL, "attribution", T_ENUM, AN_OFF(attribution), "start", F_RESTART, 0, 0,
     cfg_attribution_names, 0, 0, 0, 0, 0,
     "start: a flow counts in the slot of its start; spread: over its duration"},
};


const char *const cfg_top_sections[] = {"darknet", "input",     "store",  "collector",
                                           "metrics", "archive",   "log",    "causes",
                                           "drilldown", "report", "smtp", "limits", NULL};


_Static_assert(sizeof(cfg_top_entries) / sizeof(cfg_top_entries[0]) <= CFG_ENTRIES_MAX,
               "CFG_ENTRIES_MAX is too small for the top-level keys");
_Static_assert(sizeof(cfg_top_entries) / sizeof(cfg_top_entries[0]) +
                       sizeof(cfg_analysis_entries) / sizeof(cfg_analysis_entries[0]) +
                       sizeof(cfg_listen_entries) / sizeof(cfg_listen_entries[0]) +
                       sizeof(cfg_sampling_entries) / sizeof(cfg_sampling_entries[0]) <=
                   CFG_KEY_PATHS_MAX,
               "CFG_KEY_PATHS_MAX is too small");

const size_t cfg_n_top = sizeof(cfg_top_entries) / sizeof(cfg_top_entries[0]);
const size_t cfg_n_analysis = sizeof(cfg_analysis_entries) / sizeof(cfg_analysis_entries[0]);
const size_t cfg_n_listen = sizeof(cfg_listen_entries) / sizeof(cfg_listen_entries[0]);
const size_t cfg_n_sampling = sizeof(cfg_sampling_entries) / sizeof(cfg_sampling_entries[0]);

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
    return protocol >= 0 && protocol < 4 ? cfg_protocol_names[protocol] : "?";
}

const char *
cfg_transport_name(int transport)
{
    return transport >= 0 && transport < 3 ? cfg_transport_names[transport] : "?";
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
    case T_HTTPURL:
        return strcmp(*(char *const *)x, *(char *const *)y) != 0;
    case T_BOOL:
        return *(const bool *)x != *(const bool *)y;
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
    case T_SCHEDULE:
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
        const struct cfg_entry *e = &cfg_top_entries[i];

        if ((e->flags & F_RESTART) && value_differs(e, old, new)) {
            cfg_entry_path(e, why, len);
            return 1;
        }
    }
    if (old->n_analyses != new->n_analyses) {
        snprintf(why, len, "analyses (one added or removed)");
        return 1;
    }
    for (size_t a = 0; a < old->n_analyses; a++) {
        for (size_t i = 0; i < N_ANALYSIS; i++) {
            const struct cfg_entry *e = &cfg_analysis_entries[i];

            if ((e->flags & F_RESTART) && value_differs(e, &old->analyses[a], &new->analyses[a])) {
                snprintf(why, len, "analyses[%zu].%s", a, e->name);
                return 1;
            }
        }
    }
    return 0;
}

