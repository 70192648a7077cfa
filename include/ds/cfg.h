/*
 * The configuration: one YAML file, parsed with libyaml into struct ds_cfg.
 *
 * One table per section (in src/core/cfg.c) drives parsing, validation,
 * defaults and printing, so that the keys accepted, the keys printed by
 * "check-config" and the keys documented in config/darkstab.yaml cannot
 * drift apart (tests/unit/check_cfg.c compares them).
 *
 * Errors name the file, line and column, the key path and what was
 * expected: "darkstab.yaml:12:7: analyses[1].thresholds[0]: 100 is outside
 * (0, 100)".
 */
#ifndef DS_CFG_H
#define DS_CFG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "ds/addr.h"
#include "ds/keyspec.h"
#include "ds/parse.h"
#include "ds/rc.h"

#define CFG_THRESHOLDS_MAX 8
#define CFG_ANALYSES_MAX 32
#define CFG_NAME_MAX 63
#define CFG_CIDRS_MAX 4096
#define CFG_WINDOW_MAX 1000

enum cfg_stddev {
    CFG_STDDEV_POPULATION,
    CFG_STDDEV_SAMPLE,
};

enum cfg_attribution {
    CFG_ATTR_START,
    CFG_ATTR_SPREAD,
};

struct cfg_cidrs {
    struct cidr *v;     /* owned */
    size_t n;
};

/* collector.listen[]: protocol in the order of enum ingest_proto. */
enum cfg_protocol {
    CFG_PROTO_IPFIX,
    CFG_PROTO_NETFLOW9,
    CFG_PROTO_NETFLOW5,
    CFG_PROTO_SFLOW,
};

enum cfg_transport {
    CFG_TRANSPORT_UDP,
    CFG_TRANSPORT_TCP,
    CFG_TRANSPORT_SCTP,
};

#define CFG_LISTEN_MAX 64
#define CFG_SAMPLING_MAX 4096

struct cfg_listener {
    int protocol;                           /* enum cfg_protocol */
    int transport;                          /* enum cfg_transport */
    char *address;                          /* owned; an IPv4 or IPv6 address */
    int64_t port;                           /* 0 in the file: the protocol's usual port */
};

/* collector.sampling[]: rates for the exporters inside a prefix. */
struct cfg_sampling {
    struct cidr exporter;
    int64_t default_rate;                   /* where the exporter announces none; 0: unset */
    int64_t rate;                           /* forced, whatever is announced; 0: unset */
};

enum cfg_log_level {
    CFG_LOG_ERROR,
    CFG_LOG_WARNING,
    CFG_LOG_INFO,
    CFG_LOG_DEBUG,
};

struct cfg_analysis {
    char *name;                             /* owned */
    struct key_spec keys[KEYS_MAX];
    size_t n_keys;
    int64_t slot_s;                         /* 300, 3600, 86400, 604800, ... */
    int64_t window;                         /* T, earlier slots with data */
    struct decimal k_sigma;
    struct decimal thresholds[CFG_THRESHOLDS_MAX];  /* in the order written */
    size_t n_thresholds;
    int stddev;                             /* enum cfg_stddev */
    struct decimal min_stddev;
    int attribution;                        /* enum cfg_attribution */
};

/*
 * causes: the rules of the probable cause (METHOD section 6, issue 7),
 * keys "causes.<name>" in the cfg table.  Owned by src/explain (cause.c
 * says how each is used); every key documented in config/darkstab.yaml.
 */
struct cfg_causes {
    struct decimal one_source_share;        /* causes.one_source_share, percent */
    int64_t ddos_min_sources;               /* causes.ddos_min_sources */
    int64_t ddos_max_ports;                 /* causes.ddos_max_ports */
    struct decimal ddos_burst_share;        /* causes.ddos_burst_share, percent */
    struct decimal ddos_burst_length;       /* causes.ddos_burst_length, percent of the slot */
    int64_t misconfig_max_ports;            /* causes.misconfig_max_ports */
    int64_t scan_min_ports;                 /* causes.scan_min_ports */
    int64_t scan_min_addrs;                 /* causes.scan_min_addrs */
    struct decimal backscatter_share;       /* causes.backscatter_share, percent */
    int64_t backscatter_min_port;           /* causes.backscatter_min_port */
};

/* drilldown: what the aggregator keeps per group for the drill-down. */
struct cfg_drilldown {
    int64_t sources;                        /* drilldown.sources: Space-Saving capacity */
    int64_t ports;                          /* drilldown.ports */
    int64_t destinations;                   /* drilldown.destinations */
    int64_t series_memory;                  /* drilldown.series_memory: bytes per analysis */
    int lists;                              /* drilldown.lists: enum cfg_lists */
    int64_t reread_values;                  /* drilldown.reread_values: per slot */
};

/*
 * limits: what a sender can make the collector hold (issue 8).  Every one
 * is counted in darkstab_limit_reached_total{limit} when hit.
 */
struct cfg_limits {
    int64_t exporters;                      /* limits.exporters: established */
    int64_t probation;                      /* limits.probation: yet to deliver a record */
    int64_t templates;                      /* limits.templates: per exporter and domain */
    int64_t template_fields;                /* limits.template_fields */
    int64_t template_memory;                /* limits.template_memory: bytes per exporter */
    int64_t template_memory_total;          /* limits.template_memory_total: all exporters */
    int64_t tcp_connections;                /* limits.tcp_connections: per listener */
    int64_t tcp_message_timeout_s;          /* limits.tcp_message_timeout */
    int64_t groups;                         /* limits.groups: per slot and analysis */
};

/* drilldown.lists: where the shown groups' top lists and minutes come from */
enum cfg_lists {
    CFG_LISTS_AUTO,     /* analyze re-reads; collect keeps them unless it archives */
    CFG_LISTS_MEMORY,   /* kept by the aggregator for every group (Space-Saving) */
    CFG_LISTS_REREAD,   /* read back from the inputs (or the archive) */
};

enum cfg_starttls {
    CFG_STARTTLS_REQUIRED,
    CFG_STARTTLS_OPTIONAL,
    CFG_STARTTLS_NEVER,
};

#define CFG_MAIL_TO_MAX 64

/* A list of strings (report.mail.to). */
struct cfg_strs {
    char **v;           /* owned, each owned */
    size_t n;
};

/* report and smtp: the nightly report mail (issue 7). */
struct cfg_report {
    int64_t schedule_min;                   /* report.schedule "06:30": minutes; -1 off */
    struct cfg_strs mail_to;                /* report.mail.to: addr-specs */
    char *mail_from;                        /* owned; report.mail.from, "" unset */
    char *subject_prefix;                   /* owned; report.mail.subject_prefix, "" none */
    char *spool_dir;                        /* owned; report.spool */
};

struct cfg_smtp {
    char *url;                              /* owned; smtp://host:port or smtps://, "" unset */
    int starttls;                           /* enum cfg_starttls */
    bool verify;                            /* smtp.verify: check the server's certificate */
    char *username;                         /* owned; "" for none */
    char *password_file;                    /* owned; "" for none; its content never printed */
    int64_t timeout_s;                      /* smtp.timeout */
};

/* store.backend */
enum cfg_store_backend {
    CFG_STORE_SQLITE,
    CFG_STORE_CLICKHOUSE,
};

/* store.clickhouse (docs/CLICKHOUSE.md) */
struct cfg_clickhouse {
    char *url;                              /* owned; http(s)://host:port/, "" unset */
    char *database;                         /* owned */
    char *cluster;                          /* owned; a <remote_servers> name */
    char *node;                             /* owned; this node's name, "" unset */
    char *user;                             /* owned */
    char *password_file;                    /* owned; "" for none; never printed */
    int64_t batch_rows;
    int64_t flush_interval_s;
    int64_t timeout_s;
    int64_t query_timeout_s;                /* a judging query (SELECT of counts or details) */
    int analyzer;                           /* enum cfg_analyzer */
    int64_t revise_for_s;                   /* late records judged again live this far back */
    int details;                            /* enum cfg_ch_details */
    char *spool_dir;                        /* owned */
    int64_t spool_max;                      /* bytes */
};

/* store.clickhouse.details: where the shown groups' details are counted */
enum cfg_ch_details {
    CFG_DETAILS_RECORDS,    /* their records read back and counted by the judging node */
    CFG_DETAILS_SHARDS,     /* GROUP BY on the shards, their distinct values read back */
};

enum cfg_analyzer {
    CFG_ANALYZER_AUTO,
    CFG_ANALYZER_TRUE,
    CFG_ANALYZER_FALSE,
};

struct ds_cfg {
    char *path;                             /* owned; the file it came from */
    char *timezone;                         /* owned; IANA name */
    struct cfg_cidrs prefixes;              /* darknet.prefixes */
    struct cfg_cidrs exclude;               /* darknet.exclude */
    struct cfg_analysis *analyses;          /* owned array */
    size_t n_analyses;
    char *store_path;                       /* owned; store.path */
    int store_backend;                      /* enum cfg_store_backend */
    struct cfg_clickhouse clickhouse;       /* store.clickhouse */
    int64_t input_lateness_s;               /* input.lateness */

    /* collect */
    struct cfg_listener *listen;            /* owned array; collector.listen */
    size_t n_listen;
    struct cfg_cidrs allow;                 /* collector.allow */
    struct cfg_sampling *sampling;          /* owned array; collector.sampling */
    size_t n_sampling;
    int64_t collector_lateness_s;           /* collector.lateness */
    int64_t idle_close_s;                   /* collector.idle_close */
    int64_t silence_s;                      /* collector.silence */
    struct decimal max_loss;                /* collector.max_loss, percent */
    int64_t checkpoint_s;                   /* collector.checkpoint */
    int64_t receive_buffer;                 /* collector.receive_buffer, bytes */
    char *user;                             /* owned; collector.user, "" for none */
    char *metrics_listen;                   /* owned; metrics.listen, "" for off */
    char *archive_dir;                      /* owned; archive.dir, "" for off */
    int64_t archive_rotate_s;               /* archive.rotate */
    int log_level;                          /* enum cfg_log_level; log.level */

    /* explain, report, mail (issue 7) */
    struct cfg_causes causes;
    struct cfg_drilldown drilldown;
    struct cfg_report report;
    struct cfg_limits limits;
    struct cfg_smtp smtp;
};

/* Parses "address:port" or "[IPv6]:port"; returns 0, or -1 with why. */
int cfg_parse_endpoint(const char *text, struct addr *a, uint16_t *port, char *why, size_t len);

/* The port a listener uses: its own, or the protocol's usual one. */
uint16_t cfg_listener_port(const struct cfg_listener *l);
const char *cfg_protocol_name(int protocol);
const char *cfg_transport_name(int transport);

/*
 * The sampling overrides for an exporter: the most specific prefix of
 * collector.sampling that holds addr, or NULL.
 */
const struct cfg_sampling *cfg_sampling_for(const struct ds_cfg *cfg, const struct addr *addr);

/*
 * What a reload (SIGHUP) from old to new cannot apply without a restart:
 * the first such key path into why (empty: none), returns 1 if there is one.
 */
int cfg_needs_restart(const struct ds_cfg *old, const struct ds_cfg *new, char *why, size_t len);

/*
 * Loads and checks path.  On success *out is a new, owned configuration
 * (free with cfg_free()); on failure *out is NULL, err says what and where,
 * and DS_ERR_CONFIG (or DS_ERR_IO when the file cannot be read) is returned.
 */
enum ds_rc cfg_load(const char *path, struct ds_cfg **out, struct ds_error *err);
/* Same, from a string; name is used in messages. */
enum ds_rc cfg_load_string(const char *name, const char *text, struct ds_cfg **out,
                           struct ds_error *err);
/* The configuration with every default, as used when no file is given. */
struct ds_cfg *cfg_default(void);
void cfg_free(struct ds_cfg *cfg);

/*
 * Prints the effective configuration as YAML that cfg_load() accepts,
 * secrets masked (a masked value reads back as the mask, not the secret).
 */
void cfg_print(const struct ds_cfg *cfg, FILE *fp);
/*
 * The reference table of every key (Markdown: key, default, meaning, and
 * "(restart)" where SIGHUP cannot change it), as the README shows it.
 */
void cfg_print_doc(FILE *fp);

/* The lowest threshold of an analysis (its TopN set is shown, METHOD 6). */
const struct decimal *cfg_lowest_threshold(const struct cfg_analysis *a);

/*
 * Every key path the tables accept ("timezone", "darknet.prefixes",
 * "analyses[].window", ...), NULL terminated; for the documentation check.
 */
const char *const *cfg_key_paths(void);

#endif
