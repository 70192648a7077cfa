/*
 * Tests of the configuration (ds/cfg.h): defaults, a full file, every
 * error the loader promises with its exact "file:line:col: path: ..."
 * message, reading files, the printed configuration reading back, and the
 * reference config/darkstab.yaml documenting every key.
 *
 * Run from the repository root (make check-unit does), so that config/ and
 * samples/ are found.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds/cfg.h"
#include "ds/keyspec.h"
#include "testutil.h"

/* ---- helpers ---- */

/* Loads yaml, which must be refused; returns the message. */
static const char *
load_err(const char *yaml)
{
    static struct ds_error err;
    struct ds_cfg *cfg = cfg_default();
    enum ds_rc rc;

    memset(&err, 0, sizeof(err));
    cfg_free(cfg);
    rc = cfg_load_string("test.yaml", yaml, &cfg, &err);
    ck_assert_msg(rc == DS_ERR_CONFIG, "rc %d (%s) for:\n%s", rc, err.msg, yaml);
    ck_assert_ptr_null(cfg);
    return err.msg;
}

/* Text written by cfg_print(); owned by the caller. */
static char *
print_cfg(const struct ds_cfg *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    ck_assert_ptr_nonnull(fp);
    cfg_print(cfg, fp);
    ck_assert_int_eq(fclose(fp), 0);
    return buf;
}

static const char *
cidr_text(const struct cidr *c)
{
    static char buf[CIDR_STRLEN];

    return cidr_format(c, buf);
}

static const char *
key_text(const struct key_spec *k)
{
    static char buf[KEYSPEC_STRLEN];

    return keyspec_format(k, buf);
}

/* The checks every default analysis passes. */
static void
assert_default_analysis(const struct cfg_analysis *a)
{
    ck_assert_uint_eq(a->n_keys, 2);
    ck_assert_int_eq(a->keys[0].kind, KEY_PROTO);
    ck_assert_int_eq(a->keys[1].kind, KEY_DST_PORT);
    ck_assert_int_eq(a->slot_s, 86400);
    ck_assert_int_eq(a->window, 7);
    ck_assert_str_eq(a->k_sigma.text, "2");
    ck_assert_int_eq(a->k_sigma.num, 2);
    ck_assert_int_eq(a->k_sigma.den, 1);
    ck_assert_uint_eq(a->n_thresholds, 3);
    ck_assert_str_eq(a->thresholds[0].text, "1");
    ck_assert_int_eq(a->thresholds[0].num, 1);
    ck_assert_int_eq(a->thresholds[0].den, 1);
    ck_assert_str_eq(a->thresholds[1].text, "0.75");
    ck_assert_int_eq(a->thresholds[1].num, 75);
    ck_assert_int_eq(a->thresholds[1].den, 100);
    ck_assert_str_eq(a->thresholds[2].text, "0.5");
    ck_assert_int_eq(a->thresholds[2].num, 5);
    ck_assert_int_eq(a->thresholds[2].den, 10);
    ck_assert_int_eq(a->stddev, CFG_STDDEV_POPULATION);
    ck_assert_str_eq(a->min_stddev.text, "0");
    ck_assert_int_eq(a->min_stddev.num, 0);
    ck_assert_int_eq(a->attribution, CFG_ATTR_START);
}

static void
assert_defaults(const struct ds_cfg *cfg)
{
    ck_assert_str_eq(cfg->timezone, "UTC");
    ck_assert_uint_eq(cfg->prefixes.n, 2);
    ck_assert_str_eq(cidr_text(&cfg->prefixes.v[0]), "0.0.0.0/0");
    ck_assert(cfg->prefixes.v[0].v4);
    ck_assert_str_eq(cidr_text(&cfg->prefixes.v[1]), "::/0");
    ck_assert(!cfg->prefixes.v[1].v4);
    ck_assert_uint_eq(cfg->exclude.n, 0);
    ck_assert_str_eq(cfg->store_path, "darkstab.db");
    ck_assert_int_eq(cfg->input_lateness_s, 3600);
    ck_assert_uint_eq(cfg->n_analyses, 1);
    ck_assert_str_eq(cfg->analyses[0].name, "ports");
    assert_default_analysis(&cfg->analyses[0]);
}

static const char FULL[] =
    "# every key with a value other than its default\n"
    "timezone: Asia/Tokyo\n"
    "darknet:\n"
    "  prefixes: [198.18.0.0/16, \"2001:db8:dead::/48\"]\n"
    "  exclude:\n"
    "    - 198.18.0.0/24\n"
    "    - 2001:db8:dead:1::/64\n"
    "input:\n"
    "  lateness: 15m\n"
    "store:\n"
    "  path: /var/lib/darkstab/test.db\n"
    "analyses:\n"
    "  - name: ports\n"
    "    keys: [proto, dst_port]\n"
    "  - name: nets.hourly\n"
    "    keys: [dst_net/24/48, type, src_port]\n"
    "    slot: 1h\n"
    "    window: 24\n"
    "    k_sigma: 2.5\n"
    "    thresholds: [2, 0.125, 1.50]\n"
    "    stddev: sample\n"
    "    min_stddev: 0.5\n"
    "    attribution: spread\n";

/* ---- defaults ---- */

START_TEST(test_defaults_empty_file)
{
    static const char *const empty[] = {"", "\n", "# nothing but a comment\n", "---\n",
                                        "---\n...\n"};

    for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
        struct ds_cfg *cfg = tu_cfg(empty[i]);

        ck_assert_str_eq(cfg->path, "test.yaml");
        assert_defaults(cfg);
        cfg_free(cfg);
    }
}
END_TEST

START_TEST(test_defaults_cfg_default)
{
    struct ds_cfg *cfg = cfg_default();

    ck_assert_str_eq(cfg->path, "(defaults)");
    assert_defaults(cfg);
    cfg_free(cfg);
    cfg_free(NULL);
}
END_TEST

START_TEST(test_defaults_analysis_with_only_a_name)
{
    struct ds_cfg *cfg = tu_cfg("analyses:\n  - name: only-name\n  - name: second\n");

    ck_assert_uint_eq(cfg->n_analyses, 2);
    ck_assert_str_eq(cfg->analyses[0].name, "only-name");
    assert_default_analysis(&cfg->analyses[0]);
    ck_assert_str_eq(cfg->analyses[1].name, "second");
    assert_default_analysis(&cfg->analyses[1]);
    /* the sections keep their defaults */
    ck_assert_str_eq(cfg->timezone, "UTC");
    ck_assert_uint_eq(cfg->prefixes.n, 2);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_defaults_section_keys_alone)
{
    struct ds_cfg *cfg = tu_cfg("darknet:\n  exclude: [192.0.2.1]\n");

    /* giving one key of a section leaves its others at their default */
    ck_assert_uint_eq(cfg->prefixes.n, 2);
    ck_assert_uint_eq(cfg->exclude.n, 1);
    ck_assert_str_eq(cidr_text(&cfg->exclude.v[0]), "192.0.2.1/32");
    ck_assert_uint_eq(cfg->n_analyses, 1);
    assert_default_analysis(&cfg->analyses[0]);
    cfg_free(cfg);
}
END_TEST

/* ---- valid files ---- */

START_TEST(test_full_file)
{
    struct ds_cfg *cfg = tu_cfg(FULL);
    const struct cfg_analysis *a;

    ck_assert_str_eq(cfg->timezone, "Asia/Tokyo");
    ck_assert_uint_eq(cfg->prefixes.n, 2);
    ck_assert_str_eq(cidr_text(&cfg->prefixes.v[0]), "198.18.0.0/16");
    ck_assert_str_eq(cidr_text(&cfg->prefixes.v[1]), "2001:db8:dead::/48");
    ck_assert_uint_eq(cfg->exclude.n, 2);
    ck_assert_str_eq(cidr_text(&cfg->exclude.v[0]), "198.18.0.0/24");
    ck_assert_str_eq(cidr_text(&cfg->exclude.v[1]), "2001:db8:dead:1::/64");
    ck_assert_int_eq(cfg->input_lateness_s, 900);
    ck_assert_str_eq(cfg->store_path, "/var/lib/darkstab/test.db");
    ck_assert_uint_eq(cfg->n_analyses, 2);

    ck_assert_str_eq(cfg->analyses[0].name, "ports");
    assert_default_analysis(&cfg->analyses[0]);

    a = &cfg->analyses[1];
    ck_assert_str_eq(a->name, "nets.hourly");
    ck_assert_uint_eq(a->n_keys, 3);
    ck_assert_int_eq(a->keys[0].kind, KEY_DST_NET);
    ck_assert_uint_eq(a->keys[0].v4_len, 24);
    ck_assert_uint_eq(a->keys[0].v6_len, 48);
    ck_assert_int_eq(a->keys[1].kind, KEY_TYPE);
    ck_assert_int_eq(a->keys[2].kind, KEY_SRC_PORT);
    ck_assert_int_eq(a->slot_s, 3600);
    ck_assert_int_eq(a->window, 24);
    ck_assert_int_eq(a->k_sigma.num, 25);
    ck_assert_int_eq(a->k_sigma.den, 10);
    ck_assert_str_eq(a->k_sigma.text, "2.5");
    /* in the order written */
    ck_assert_uint_eq(a->n_thresholds, 3);
    ck_assert_str_eq(a->thresholds[0].text, "2");
    ck_assert_str_eq(a->thresholds[1].text, "0.125");
    ck_assert_int_eq(a->thresholds[1].num, 125);
    ck_assert_int_eq(a->thresholds[1].den, 1000);
    ck_assert_str_eq(a->thresholds[2].text, "1.5");
    ck_assert_str_eq(cfg_lowest_threshold(a)->text, "0.125");
    ck_assert_str_eq(cfg_lowest_threshold(&cfg->analyses[0])->text, "0.5");
    ck_assert_int_eq(a->stddev, CFG_STDDEV_SAMPLE);
    ck_assert_str_eq(a->min_stddev.text, "0.5");
    ck_assert_int_eq(a->attribution, CFG_ATTR_SPREAD);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_exclude_may_be_empty)
{
    struct ds_cfg *cfg = tu_cfg("darknet:\n  prefixes: [10.0.0.0/8]\n  exclude: []\n");

    ck_assert_uint_eq(cfg->prefixes.n, 1);
    ck_assert_uint_eq(cfg->exclude.n, 0);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_values_are_text_whatever_the_quotes)
{
    struct ds_cfg *cfg = tu_cfg("timezone: \"Europe/Berlin\"\n"
                                "input:\n  lateness: '0s'\n"
                                "analyses:\n"
                                "  - name: yes\n"
                                "    window: \"7\"\n"
                                "    k_sigma: '3'\n"
                                "    slot: \"5m\"\n"
                                "    thresholds: [\"0.75\", '1.0']\n"
                                "  - name: '123'\n"
                                "    slot: 1w\n"
                                "    window: 2\n"
                                "  - {name: flow-style, keys: [type], slot: 90s, window: 1000, "
                                "k_sigma: 100, thresholds: [99.9999, 0.0001]}\n");

    ck_assert_str_eq(cfg->timezone, "Europe/Berlin");
    /* lateness may be zero (documented range 0s to 7d) */
    ck_assert_int_eq(cfg->input_lateness_s, 0);
    ck_assert_uint_eq(cfg->n_analyses, 3);
    /* "yes" is a name, never a boolean */
    ck_assert_str_eq(cfg->analyses[0].name, "yes");
    ck_assert_int_eq(cfg->analyses[0].window, 7);
    ck_assert_str_eq(cfg->analyses[0].k_sigma.text, "3");
    ck_assert_int_eq(cfg->analyses[0].slot_s, 300);
    ck_assert_uint_eq(cfg->analyses[0].n_thresholds, 2);
    ck_assert_str_eq(cfg->analyses[0].thresholds[0].text, "0.75");
    ck_assert_str_eq(cfg->analyses[0].thresholds[1].text, "1");
    ck_assert_str_eq(cfg->analyses[1].name, "123");
    ck_assert_int_eq(cfg->analyses[1].slot_s, 7 * 86400);
    ck_assert_int_eq(cfg->analyses[1].window, 2);
    ck_assert_str_eq(cfg->analyses[2].name, "flow-style");
    ck_assert_int_eq(cfg->analyses[2].slot_s, 90);
    ck_assert_int_eq(cfg->analyses[2].window, 1000);
    ck_assert_str_eq(cfg->analyses[2].k_sigma.text, "100");
    ck_assert_str_eq(cfg->analyses[2].thresholds[0].text, "99.9999");
    ck_assert_str_eq(cfg->analyses[2].thresholds[1].text, "0.0001");
    cfg_free(cfg);
}
END_TEST

START_TEST(test_limits_are_accepted)
{
    struct ds_cfg *cfg = tu_cfg("input:\n  lateness: 7d\n"
                                "analyses:\n"
                                "  - name: "
                                "a23456789012345678901234567890123456789012345678901234567890123\n"
                                "    keys: [proto, dst_port, src_port, tcp_flags, icmp_type, "
                                "icmp_code, src_net/24, type]\n"
                                "    thresholds: [8, 7, 6, 5, 4, 3, 2, 1]\n"
                                "    slot: 1m\n"
                                "    min_stddev: 1000000\n");

    ck_assert_int_eq(cfg->input_lateness_s, 7 * 86400);
    ck_assert_uint_eq(strlen(cfg->analyses[0].name), CFG_NAME_MAX);
    ck_assert_uint_eq(cfg->analyses[0].n_keys, KEYS_MAX);
    ck_assert_uint_eq(cfg->analyses[0].n_thresholds, CFG_THRESHOLDS_MAX);
    ck_assert_int_eq(cfg->analyses[0].slot_s, 60);
    ck_assert_str_eq(cfg->analyses[0].min_stddev.text, "1000000");
    cfg_free(cfg);
}
END_TEST

/* ---- errors: unknown keys and wrong types ---- */

START_TEST(test_collector_config)
{
    struct ds_cfg *cfg = tu_cfg("collector:\n"
                                "  listen:\n"
                                "    - {protocol: ipfix, transport: tcp, address: \"::\"}\n"
                                "    - {protocol: netflow9, port: 9995}\n"
                                "    - {protocol: sflow}\n"
                                "  allow: [192.0.2.0/24]\n"
                                "  sampling:\n"
                                "    - {exporter: 192.0.2.0/24, default: 100}\n"
                                "    - {exporter: 192.0.2.7, rate: 512}\n"
                                "  max_loss: 0.5\n"
                                "  receive_buffer: 64M\n"
                                "metrics:\n"
                                "  listen: \"[::1]:9464\"\n"
                                "archive: {dir: /var/spool/ds, rotate: 10m}\n"
                                "log: {level: debug}\n");
    struct addr a;

    ck_assert_uint_eq(cfg->n_listen, 3);
    ck_assert_int_eq(cfg->listen[0].transport, CFG_TRANSPORT_TCP);
    ck_assert_uint_eq(cfg_listener_port(&cfg->listen[0]), 4739);
    ck_assert_uint_eq(cfg_listener_port(&cfg->listen[1]), 9995);
    ck_assert_uint_eq(cfg_listener_port(&cfg->listen[2]), 6343);
    ck_assert_str_eq(cfg->listen[2].address, "0.0.0.0");
    ck_assert_uint_eq(cfg->allow.n, 1);
    ck_assert_int_eq(cfg->receive_buffer, 64 << 20);
    ck_assert_str_eq(cfg->max_loss.text, "0.5");
    ck_assert_str_eq(cfg->metrics_listen, "[::1]:9464");
    ck_assert_str_eq(cfg->archive_dir, "/var/spool/ds");
    ck_assert_int_eq(cfg->archive_rotate_s, 600);
    ck_assert_int_eq(cfg->log_level, CFG_LOG_DEBUG);
    /* the most specific prefix wins */
    addr_parse("192.0.2.7", &a);
    ck_assert_int_eq(cfg_sampling_for(cfg, &a)->rate, 512);
    addr_parse("192.0.2.8", &a);
    ck_assert_int_eq(cfg_sampling_for(cfg, &a)->default_rate, 100);
    addr_parse("198.51.100.1", &a);
    ck_assert_ptr_null(cfg_sampling_for(cfg, &a));
    cfg_free(cfg);
    /* defaults: one IPFIX listener on UDP 4739, every exporter allowed, no metrics */
    cfg = tu_cfg("timezone: UTC\n");
    ck_assert_uint_eq(cfg->n_listen, 1);
    ck_assert_int_eq(cfg->listen[0].protocol, CFG_PROTO_IPFIX);
    ck_assert_uint_eq(cfg_listener_port(&cfg->listen[0]), 4739);
    ck_assert_uint_eq(cfg->allow.n, 2);
    ck_assert_str_eq(cfg->metrics_listen, "");
    ck_assert_int_eq(cfg->collector_lateness_s, 300);
    ck_assert_int_eq(cfg->checkpoint_s, 30);
    cfg_free(cfg);
}
END_TEST

START_TEST(test_collector_config_errors)
{
    ck_assert_str_eq(
        load_err("collector:\n  listen:\n    - {protocol: netflow5, transport: tcp}\n"),
                     "test.yaml:3:39: collector.listen[0]: netflow5 is carried over UDP only (TCP "
                     "and SCTP are for IPFIX)");
    ck_assert_str_eq(load_err("collector:\n  listen:\n    - {transport: udp}\n"),
                     "test.yaml:3:7: collector.listen[0]: 'protocol' is required");
    ck_assert_str_eq(load_err("collector:\n  listen:\n    - {protocol: ipfx}\n"),
                     "test.yaml:3:18: collector.listen[0].protocol: 'ipfx' is not ipfix or "
                     "netflow9 or netflow5 or sflow");
    ck_assert_str_eq(load_err("collector:\n  listen:\n    - {protocol: ipfix}\n"
                              "    - {protocol: ipfix, port: 4739}\n"),
                     "test.yaml:4:7: collector.listen[1]: listens where collector.listen[0] "
                     "already does");
    ck_assert_str_eq(load_err("collector:\n  listen:\n    - {protocol: sflow, address: eth0}\n"),
                     "test.yaml:3:34: collector.listen[0].address: 'eth0' is not an IPv4 or IPv6 "
                     "address");
    ck_assert_str_eq(load_err("collector:\n  listen: []\n"),
                     "test.yaml:2:11: collector.listen: the list is empty (leave the key out for "
                     "the default)");
    ck_assert_str_eq(load_err("collector:\n  sampling:\n    - {exporter: 192.0.2.1}\n"),
                     "test.yaml:3:7: collector.sampling[0]: give 'default' or 'rate' (or both)");
    ck_assert_str_eq(load_err("collector:\n  sampling:\n    - {exporter: 192.0.2.1/33, rate: 2}\n"),
                     "test.yaml:3:18: collector.sampling[0].exporter: prefix length 33 is above "
                     "32");
    ck_assert_str_eq(load_err("collector:\n  receive_buffer: 3Q\n"),
                     "test.yaml:2:19: collector.receive_buffer: '3Q' has an unknown unit (use K, M "
                     "or G)");
    ck_assert_str_eq(load_err("collector:\n  receive_buffer: 1K\n"),
                     "test.yaml:2:19: collector.receive_buffer: '1K' is outside 65536..2147483648 "
                     "bytes");
    ck_assert_str_eq(load_err("metrics:\n  listen: \"::1:9464\"\n"),
                     "test.yaml:2:11: metrics.listen: '::1:9464' is not address:port (write an "
                     "IPv6 address as [::1]:port)");
    ck_assert_str_eq(load_err("metrics:\n  listen: 127.0.0.1:0\n"),
                     "test.yaml:2:11: metrics.listen: 0 is outside 1..65535");
    ck_assert_str_eq(load_err("log:\n  level: verbose\n"),
                     "test.yaml:2:10: log.level: 'verbose' is not error or warning or info or "
                     "debug");
}
END_TEST

/* collector.sampling[].exporter: an address alone is that host, in either family. */
START_TEST(test_sampling_exporter_host)
{
    struct ds_cfg *cfg = tu_cfg("collector:\n  sampling:\n"
                                "    - {exporter: 192.0.2.7, rate: 2}\n"
                                "    - {exporter: \"2001:db8::1\", rate: 3}\n");
    char buf[CIDR_STRLEN];

    ck_assert(cfg->sampling[0].exporter.v4);
    ck_assert_str_eq(cidr_format(&cfg->sampling[0].exporter, buf), "192.0.2.7/32");
    ck_assert(!cfg->sampling[1].exporter.v4);
    ck_assert_str_eq(cidr_format(&cfg->sampling[1].exporter, buf), "2001:db8::1/128");
    cfg_free(cfg);
    ck_assert_str_eq(load_err("collector:\n  sampling:\n    - {exporter: 192.0.2.x, rate: 2}\n"),
                     "test.yaml:3:18: collector.sampling[0].exporter: '192.0.2.x' is not an IPv4 "
                     "or IPv6 address");
}
END_TEST

START_TEST(test_reload_what_needs_a_restart)
{
    struct ds_cfg *a = tu_cfg("collector:\n  lateness: 5m\n");
    struct ds_cfg *b = tu_cfg("collector:\n  lateness: 10m\n  allow: [10.0.0.0/8]\n"
                              "analyses:\n  - {name: ports, window: 14, thresholds: [2]}\n");
    struct ds_cfg *c = tu_cfg("collector:\n  listen: [{protocol: netflow9}]\n");
    struct ds_cfg *d = tu_cfg("analyses:\n  - {name: ports, slot: 1h}\n");
    char why[128];

    ck_assert_int_eq(cfg_needs_restart(a, b, why, sizeof(why)), 0);
    ck_assert_str_eq(why, "");
    ck_assert_int_eq(cfg_needs_restart(a, c, why, sizeof(why)), 1);
    ck_assert_str_eq(why, "collector.listen");
    ck_assert_int_eq(cfg_needs_restart(a, d, why, sizeof(why)), 1);
    ck_assert_str_eq(why, "analyses[0].slot");
    cfg_free(a);
    cfg_free(b);
    cfg_free(c);
    cfg_free(d);
}
END_TEST

/* Every key a reload cannot apply, each against the defaults. */
START_TEST(test_reload_each_restart_key)
{
    static const struct {
        const char *yaml;
        const char *why;
    } cases[] = {
        {"timezone: Europe/Berlin\n", "timezone"},
        {"store:\n  path: other.db\n", "store.path"},
        {"collector:\n  listen: [{protocol: ipfix, port: 4740}]\n", "collector.listen"},
        {"collector:\n  receive_buffer: 64M\n", "collector.receive_buffer"},
        {"collector:\n  user: nobody\n", "collector.user"},
        {"analyses:\n  - {name: ports}\n  - {name: more}\n", "analyses (one added or removed)"},
        {"analyses:\n  - {name: other}\n", "analyses[0].name"},
        {"analyses:\n  - {name: ports, keys: [dst_port]}\n", "analyses[0].keys"},
        {"analyses:\n  - {name: ports, keys: [proto, dst_port, src_net/24]}\n",
         "analyses[0].keys"},
        {"analyses:\n  - {name: ports, slot: 1w}\n", "analyses[0].slot"},
        {"analyses:\n  - {name: ports, attribution: spread}\n", "analyses[0].attribution"},
        /* the first in table order */
        {"collector:\n  user: nobody\nstore:\n  path: x.db\ntimezone: Asia/Tokyo\n",
         "timezone"},
        {"analyses:\n  - {name: ports, attribution: spread, slot: 1h}\n", "analyses[0].slot"},
    };
    struct ds_cfg *base = tu_cfg("");
    char why[128];

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ds_cfg *n = tu_cfg(cases[i].yaml);

        ck_assert_int_eq(cfg_needs_restart(base, n, why, sizeof(why)), 1);
        ck_assert_str_eq(why, cases[i].why);
        cfg_free(n);
    }
    cfg_free(base);
}
END_TEST

/* report and smtp (issue 7): parsed, printed back, and every error named where it is. */
START_TEST(test_mail_config)
{
    struct ds_cfg *cfg = NULL, *again = NULL;
    struct ds_error err;
    char pw[512], yaml[1024], *printed;
    size_t plen;
    FILE *fp;

    snprintf(pw, sizeof(pw), "%s", tu_path("smtp.pw"));
    tu_write_file(pw, "hunter2\n", 8);
    snprintf(yaml, sizeof(yaml),
             "timezone: Asia/Tokyo\n"
             "report:\n  schedule: \"06:05\"\n  spool: /var/spool/ds\n"
             "  mail:\n    to: [ops@example.org, \"noc+ds@[192.0.2.1]\"]\n"
             "    from: darkstab@example.org\n    subject_prefix: \"[dn]\"\n"
             "smtp:\n  url: smtps://mail.example.org:465\n  starttls: optional\n"
             "  verify: false\n  username: darkstab\n  password_file: %s\n  timeout: 20s\n",
             pw);
    ck_assert_msg(cfg_load_string("m.yaml", yaml, &cfg, &err) == DS_OK, "%s", err.msg);
    ck_assert_int_eq(cfg->report.schedule_min, 6 * 60 + 5);
    ck_assert_uint_eq(cfg->report.mail_to.n, 2);
    ck_assert_str_eq(cfg->report.mail_to.v[1], "noc+ds@[192.0.2.1]");
    ck_assert_str_eq(cfg->report.mail_from, "darkstab@example.org");
    ck_assert_str_eq(cfg->report.subject_prefix, "[dn]");
    ck_assert_str_eq(cfg->report.spool_dir, "/var/spool/ds");
    ck_assert_str_eq(cfg->smtp.url, "smtps://mail.example.org:465");
    ck_assert_int_eq(cfg->smtp.starttls, CFG_STARTTLS_OPTIONAL);
    ck_assert(!cfg->smtp.verify);
    ck_assert_int_eq(cfg->smtp.timeout_s, 20);
    /* printed, it reads back the same; the password itself is nowhere */
    fp = open_memstream(&printed, &plen);
    cfg_print(cfg, fp);
    fclose(fp);
    ck_assert_ptr_null(strstr(printed, "hunter2"));
    ck_assert_ptr_nonnull(strstr(printed, "  mail:\n    to: "));
    ck_assert_msg(cfg_load_string("p.yaml", printed, &again, &err) == DS_OK, "%s\n%s", err.msg,
                  printed);
    ck_assert_int_eq(again->report.schedule_min, 365);
    ck_assert_uint_eq(again->report.mail_to.n, 2);
    ck_assert(!again->smtp.verify);
    free(printed);
    cfg_free(again);
    cfg_free(cfg);
    /* defaults: no mail, STARTTLS required, certificates verified */
    cfg = cfg_default();
    ck_assert_int_eq(cfg->report.schedule_min, -1);
    ck_assert_uint_eq(cfg->report.mail_to.n, 0);
    ck_assert_int_eq(cfg->smtp.starttls, CFG_STARTTLS_REQUIRED);
    ck_assert(cfg->smtp.verify);
    ck_assert_int_eq(cfg->smtp.timeout_s, 60);
    cfg_free(cfg);

    ck_assert_str_eq(load_err("report:\n  schedule: \"6:30\"\n"),
                     "test.yaml:2:13: report.schedule: '6:30' is not a time of day HH:MM "
                     "(00:00 to 23:59)");
    ck_assert_str_eq(load_err("report:\n  schedule: \"24:00\"\n"),
                     "test.yaml:2:13: report.schedule: '24:00' is not a time of day HH:MM "
                     "(00:00 to 23:59)");
    ck_assert_str_eq(load_err("report:\n  schedule: \"06:30\"\n"),
                     "test.yaml:2:3: report.mail.to: no recipient, but report.schedule is set");
    ck_assert_str_eq(load_err("report:\n  schedule: \"06:30\"\n  mail:\n    to: [a@b.org]\n"),
                     "test.yaml:4:5: report.mail.from: no sender address, but report.schedule "
                     "is set");
    ck_assert_str_eq(load_err("report:\n  schedule: \"06:30\"\n  mail:\n    to: [a@b.org]\n"
                              "    from: c@d.org\n"),
                     "test.yaml: smtp.url: no SMTP server, but report.schedule is set");
    ck_assert_str_eq(load_err("report:\n  mail:\n    to: [a@b.org, \"x y@z\"]\n"),
                     "test.yaml:3:19: report.mail.to[1]: 'x y@z' is not a mail address "
                     "(character ' ' in the local part)");
    ck_assert_str_eq(load_err("report:\n  mail:\n    to: [a@b.org, a@b.org]\n"),
                     "test.yaml:3:19: report.mail.to[1]: 'a@b.org' is listed twice");
    ck_assert_str_eq(load_err("report:\n  mail:\n    from: ops\n"),
                     "test.yaml:3:11: report.mail.from: 'ops' is not a mail address "
                     "(expected local@domain)");
    ck_assert_str_eq(load_err("report:\n  mail:\n    from: a..b@c.org\n"),
                     "test.yaml:3:11: report.mail.from: 'a..b@c.org' is not a mail address "
                     "(character '.' in the local part)");
    ck_assert_str_eq(load_err("report:\n  mail:\n    from: a@b..org\n"),
                     "test.yaml:3:11: report.mail.from: 'a@b..org' is not a mail address "
                     "(the domain 'b..org' is not a host name)");
    ck_assert_str_eq(load_err("report:\n  mail:\n    too: []\n"),
                     "test.yaml:3:5: report.mail.too: unknown key (expected to, from, "
                     "subject_prefix)");
    ck_assert_str_eq(load_err("report:\n  mails: {}\n"),
                     "test.yaml:2:3: report.mails: unknown key (expected schedule, spool, mail)");
    ck_assert_str_eq(load_err("report:\n  mail: 3\n"),
                     "test.yaml:2:9: report.mail: expected a mapping, found a scalar");
    ck_assert_str_eq(load_err("report:\n  mail: {from: a@b.org}\n  mail: {to: []}\n"),
                     "test.yaml:3:3: report.mail: duplicate key");
    ck_assert_str_eq(load_err("smtp:\n  url: http://mail.example.org\n"),
                     "test.yaml:2:8: smtp.url: 'http://mail.example.org' is not an SMTP URL "
                     "(expected smtp://host[:port] or smtps://host[:port])");
    ck_assert_str_eq(load_err("smtp:\n  url: \"smtp://\"\n"),
                     "test.yaml:2:8: smtp.url: 'smtp://' names no host");
    ck_assert_str_eq(load_err("smtp:\n  starttls: maybe\n"),
                     "test.yaml:2:13: smtp.starttls: 'maybe' is not required or optional or "
                     "never");
    ck_assert_str_eq(load_err("smtp:\n  verify: yes\n"),
                     "test.yaml:2:11: smtp.verify: 'yes' is not true or false");
    ck_assert_str_eq(load_err("smtp:\n  username: ds\n"),
                     "test.yaml:2:13: smtp.username: give smtp.username and smtp.password_file "
                     "together");
    ck_assert_str_eq(load_err("smtp:\n  username: ds\n  password_file: /nonexistent/pw\n"),
                     "test.yaml:3:18: smtp.password_file: cannot read '/nonexistent/pw': No such "
                     "file or directory");
}
END_TEST

/* store.backend clickhouse: what it needs, and names that go into SQL unquoted */
START_TEST(test_err_clickhouse)
{
    ck_assert_str_eq(load_err("store:\n  backend: clickhouse\n"),
                     "test.yaml:2:3: store.clickhouse.url: no server, but store.backend is "
                     "clickhouse");
    ck_assert_str_eq(load_err("store:\n  backend: clickhouse\n  clickhouse:\n"
                              "    url: http://ch:8123/\n"),
                     "test.yaml:4:5: store.clickhouse.node: no node name, but store.backend is "
                     "clickhouse (each node of the cluster needs its own)");
    ck_assert_str_eq(load_err("store:\n  backend: postgres\n"),
                     "test.yaml:2:12: store.backend: 'postgres' is not sqlite or clickhouse");
    ck_assert_str_eq(load_err("store:\n  clickhouse:\n    url: ch:8123\n"),
                     "test.yaml:3:10: store.clickhouse.url: 'ch:8123' is not an HTTP URL "
                     "(expected http://host[:port]/ or https://host[:port]/)");
    ck_assert_str_eq(load_err("store:\n  clickhouse:\n    url: \"http://u:p@ch/\"\n"),
                     "test.yaml:3:10: store.clickhouse.url: 'http://u:p@ch/': no '@' here (the "
                     "user and password are keys of their own; darkstab adds the query)");
    ck_assert_str_eq(load_err("store:\n  clickhouse:\n    cluster: \"dk'; DROP\"\n"),
                     "test.yaml:3:14: store.clickhouse.cluster: 'dk'; DROP' is not a ClickHouse "
                     "name (a letter or '_', then letters, digits or '_'; at most 64)");
    ck_assert_str_eq(load_err("store:\n  clickhouse:\n    database: 1db\n"),
                     "test.yaml:3:15: store.clickhouse.database: '1db' is not a ClickHouse name "
                     "(a letter or '_', then letters, digits or '_'; at most 64)");
    ck_assert_str_eq(load_err("store:\n  clickhouse:\n    node: \"tokyo 1\"\n"),
                     "test.yaml:3:11: store.clickhouse.node: 'tokyo 1' is not a name (1 to 63 "
                     "letters, digits, '_', '-' or '.')");
    ck_assert_str_eq(load_err("store:\n  clickhouse:\n    password_file: /nonexistent/pw\n"),
                     "test.yaml:3:20: store.clickhouse.password_file: cannot read "
                     "'/nonexistent/pw': No such file or directory");
    ck_assert_str_eq(load_err("store:\n  clickhouse:\n    batch_rows: 10\n"),
                     "test.yaml:3:17: store.clickhouse.batch_rows: 10 is outside "
                     "1000..10000000");
    ck_assert_str_eq(load_err("store:\n  clickhouse:\n    revise_for: 10m\n"),
                     "test.yaml:3:17: store.clickhouse.revise_for: '10m' is outside 1h..366d");
}
END_TEST

/* how far back late records are judged again live: 7 days unless set */
START_TEST(test_clickhouse_revise_for)
{
    struct ds_cfg *cfg = tu_cfg("analyses:\n  - name: a\n");

    ck_assert_int_eq(cfg->clickhouse.revise_for_s, 7 * 86400);
    cfg_free(cfg);
    cfg = tu_cfg("store:\n  clickhouse:\n    revise_for: 36h\nanalyses:\n  - name: a\n");
    ck_assert_int_eq(cfg->clickhouse.revise_for_s, 36 * 3600);
    cfg_free(cfg);
}
END_TEST

/* where the shown groups' details are counted: records read back unless set */
START_TEST(test_clickhouse_details)
{
    struct ds_cfg *cfg = tu_cfg("analyses:\n  - name: a\n");

    ck_assert_int_eq(cfg->clickhouse.details, CFG_DETAILS_RECORDS);
    ck_assert_int_eq(cfg->clickhouse.query_timeout_s, 600);
    cfg_free(cfg);
    cfg = tu_cfg("store:\n  clickhouse:\n    details: shards\nanalyses:\n  - name: a\n");
    ck_assert_int_eq(cfg->clickhouse.details, CFG_DETAILS_SHARDS);
    cfg_free(cfg);
    ck_assert_str_eq(load_err("store:\n  clickhouse:\n    details: auto\n"),
                     "test.yaml:3:14: store.clickhouse.details: 'auto' is not records or shards");
}
END_TEST

START_TEST(test_err_unknown_key)
{
    ck_assert_str_eq(load_err("timezon: UTC\n"),
                     "test.yaml:1:1: timezon: unknown key (expected timezone, darknet, analyses, "
                     "input, store, collector, metrics, archive, log, causes, drilldown, "
                     "report, smtp)");
    /* a key of a section is unknown at the top */
    ck_assert_str_eq(load_err("timezone: UTC\nprefixes: [10.0.0.0/8]\n"),
                     "test.yaml:2:1: prefixes: unknown key (expected timezone, darknet, analyses, "
                     "input, store, collector, metrics, archive, log, causes, drilldown, "
                     "report, smtp)");
    ck_assert_str_eq(load_err("timezone: UTC\ndarknet:\n  prefix: [10.0.0.0/8]\n"),
                     "test.yaml:3:3: darknet.prefix: unknown key (expected prefixes, exclude)");
    ck_assert_str_eq(load_err("input:\n  late: 1h\n"),
                     "test.yaml:2:3: input.late: unknown key (expected lateness)");
    ck_assert_str_eq(load_err("store:\n  file: x.db\n"),
                     "test.yaml:2:3: store.file: unknown key (expected path, backend, "
                     "clickhouse)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    windows: 7\n"),
                     "test.yaml:3:5: analyses[0].windows: unknown key (expected name, keys, slot, "
                     "window, k_sigma, thresholds, stddev, min_stddev, attribution)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n  - name: b\n    timezone: UTC\n"),
                     "test.yaml:4:5: analyses[1].timezone: unknown key (expected name, keys, "
                     "slot, window, k_sigma, thresholds, stddev, min_stddev, attribution)");
    ck_assert_str_eq(load_err("? [a]\n: b\n"),
                     "test.yaml:1:3: a key must be a plain word, found a list");
    ck_assert_str_eq(load_err("darknet:\n  ? {a: b}\n  : c\n"),
                     "test.yaml:2:5: darknet: a key must be a plain word, found a mapping");
}
END_TEST

START_TEST(test_err_list_where_scalar_expected)
{
    ck_assert_str_eq(load_err("timezone: [UTC]\n"),
                     "test.yaml:1:11: timezone: expected an IANA time zone name, found a list");
    ck_assert_str_eq(load_err("timezone: {name: UTC}\n"),
                     "test.yaml:1:11: timezone: expected an IANA time zone name, found a mapping");
    ck_assert_str_eq(load_err("store:\n  path: [a, b]\n"),
                     "test.yaml:2:9: store.path: expected a string, found a list");
    ck_assert_str_eq(load_err("input:\n  lateness: {h: 1}\n"),
                     "test.yaml:2:13: input.lateness: expected a duration such as 5m, 1h, 1d, "
                     "found a mapping");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    window: [7]\n"),
                     "test.yaml:3:13: analyses[0].window: expected an integer, found a list");
    ck_assert_str_eq(load_err("analyses:\n  - name: [a]\n"),
                     "test.yaml:2:11: analyses[0].name: expected a name, found a list");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    k_sigma:\n      - 2\n"),
                     "test.yaml:4:7: analyses[0].k_sigma: expected a number, found a list");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    stddev: [sample]\n"),
                     "test.yaml:3:13: analyses[0].stddev: expected one word, found a list");
}
END_TEST

START_TEST(test_err_scalar_where_list_expected)
{
    ck_assert_str_eq(load_err("darknet:\n  prefixes: 10.0.0.0/8\n"),
                     "test.yaml:2:13: darknet.prefixes: expected a list of IPv4 or IPv6 "
                     "prefixes, found a scalar");
    ck_assert_str_eq(load_err("darknet:\n  exclude: {a: 10.0.0.0/8}\n"),
                     "test.yaml:2:12: darknet.exclude: expected a list of IPv4 or IPv6 "
                     "prefixes, found a mapping");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    keys: proto\n"),
                     "test.yaml:3:11: analyses[0].keys: expected a list of group keys, found a "
                     "scalar");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: 1\n"),
                     "test.yaml:3:17: analyses[0].thresholds: expected a list of percentages, "
                     "found a scalar");
    /* an item of a list is one value */
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [1, [2]]\n"),
                     "test.yaml:3:21: analyses[0].thresholds[1]: expected a single value, found a "
                     "list");
    ck_assert_str_eq(load_err("darknet:\n  prefixes:\n    - {net: 10.0.0.0/8}\n"),
                     "test.yaml:3:7: darknet.prefixes[0]: expected a single value, found a "
                     "mapping");
}
END_TEST

START_TEST(test_err_sections_and_analyses_shape)
{
    ck_assert_str_eq(load_err("analyses:\n  name: a\n"),
                     "test.yaml:2:3: analyses: expected a list of analyses, found a mapping");
    ck_assert_str_eq(load_err("analyses: ports\n"),
                     "test.yaml:1:11: analyses: expected a list of analyses, found a scalar");
    ck_assert_str_eq(load_err("analyses: [ports]\n"),
                     "test.yaml:1:12: analyses[0]: expected a mapping with name, keys, slot, ..., "
                     "found a scalar");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n  - [b]\n"),
                     "test.yaml:3:5: analyses[1]: expected a mapping with name, keys, slot, ..., "
                     "found a list");
    ck_assert_str_eq(load_err("darknet: [10.0.0.0/8]\n"),
                     "test.yaml:1:10: darknet: expected a mapping, found a list");
    ck_assert_str_eq(load_err("store: darkstab.db\n"),
                     "test.yaml:1:8: store: expected a mapping, found a scalar");
}
END_TEST

/* ---- errors: values ---- */

START_TEST(test_err_bad_cidr)
{
    ck_assert_str_eq(load_err("darknet:\n  prefixes: [192.0.2.1/24]\n"),
                     "test.yaml:2:14: darknet.prefixes[0]: host bits are set (did you mean "
                     "192.0.2.0/24?)");
    ck_assert_str_eq(load_err("darknet:\n  exclude:\n    - 10.0.0.0/8\n    - 2001:db8::1/32\n"),
                     "test.yaml:4:7: darknet.exclude[1]: host bits are set (did you mean "
                     "2001:db8::/32?)");
    ck_assert_str_eq(load_err("darknet:\n  prefixes: [10.0.0.0/33]\n"),
                     "test.yaml:2:14: darknet.prefixes[0]: prefix length 33 is above 32");
    ck_assert_str_eq(load_err("darknet:\n  prefixes: [\"2001:db8::/129\"]\n"),
                     "test.yaml:2:14: darknet.prefixes[0]: prefix length 129 is above 128");
    ck_assert_str_eq(load_err("darknet:\n  prefixes: [10.0.0.0/8, darknet]\n"),
                     "test.yaml:2:26: darknet.prefixes[1]: 'darknet' is not an IPv4 or IPv6 "
                     "address");
    ck_assert_str_eq(load_err("darknet:\n  prefixes: [10.0.0.0/abc]\n"),
                     "test.yaml:2:14: darknet.prefixes[0]: prefix length 'abc' is not a number");
}
END_TEST

/* limits (issue 8): defaults, and every bound named with where it is */
START_TEST(test_limits)
{
    struct ds_cfg *cfg = tu_cfg("limits:\n  probation: 16\n  template_memory: 1M\n"
                                "  tcp_message_timeout: 5s\n");

    ck_assert_int_eq(cfg->limits.exporters, 4096);
    ck_assert_int_eq(cfg->limits.probation, 16);
    ck_assert_int_eq(cfg->limits.templates, 512);
    ck_assert_int_eq(cfg->limits.template_fields, 512);
    ck_assert_int_eq(cfg->limits.template_memory, 1 << 20);
    ck_assert_int_eq(cfg->limits.template_memory_total, 64 << 20);
    ck_assert_int_eq(cfg->limits.tcp_connections, 256);
    ck_assert_int_eq(cfg->limits.tcp_message_timeout_s, 5);
    cfg_free(cfg);
    ck_assert_ptr_nonnull(strstr(load_err("limits:\n  probation: 0\n"), "limits.probation"));
    ck_assert_ptr_nonnull(strstr(load_err("limits:\n  template_fields: 2000\n"),
                                 "limits.template_fields"));
    ck_assert_ptr_nonnull(strstr(load_err("limits:\n  exporters: many\n"), "limits.exporters"));
    ck_assert_ptr_nonnull(strstr(load_err("limits:\n  tcp_message_timeout: 0s\n"),
                                 "test.yaml:2:"));
}
END_TEST

START_TEST(test_err_unknown_time_zone)
{
    unsetenv("TZDIR");
    ck_assert_str_eq(load_err("timezone: Mars/Base\n"),
                     "test.yaml:1:11: timezone: unknown time zone 'Mars/Base' (not in "
                     "/usr/share/zoneinfo)");
    ck_assert_str_eq(load_err("timezone: ../etc/passwd\n"),
                     "test.yaml:1:11: timezone: '../etc/passwd' is not an IANA time zone name");
    ck_assert_str_eq(load_err("timezone: /etc/localtime\n"),
                     "test.yaml:1:11: timezone: '/etc/localtime' is not an IANA time zone name");
    ck_assert_str_eq(load_err("timezone: ''\n"),
                     "test.yaml:1:11: timezone: '' is not an IANA time zone name");
}
END_TEST

START_TEST(test_err_unknown_group_key)
{
    char want[1024];

    snprintf(want, sizeof(want),
             "test.yaml:3:19: analyses[0].keys[1]: unknown group key 'port' (known: %s)",
             keyspec_all_names());
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    keys: [proto, port]\n"), want);
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    keys: [dst_net]\n"),
                     "test.yaml:3:12: analyses[0].keys[0]: key 'dst_net' needs a prefix length, "
                     "as in dst_net/24");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    keys: [proto/8]\n"),
                     "test.yaml:3:12: analyses[0].keys[0]: key 'proto' takes no prefix length");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    keys: [dst_net/33]\n"),
                     "test.yaml:3:12: analyses[0].keys[0]: 'dst_net/33': prefix length must be "
                     "0..32 for IPv4, optionally /0..128 for IPv6 (dst_net/24 or dst_net/24/48)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    keys: [proto, dst_port, src_port, "
                              "tcp_flags, icmp_type, icmp_code, src_addr, dst_addr, type]\n"),
                     "test.yaml:3:92: analyses[0].keys[8]: more than 8 keys");
}
END_TEST

START_TEST(test_err_empty_lists)
{
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: []\n"),
                     "test.yaml:3:17: analyses[0].thresholds: the list is empty (leave the key "
                     "out for the default)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    keys: []\n"),
                     "test.yaml:3:11: analyses[0].keys: the list is empty (leave the key out for "
                     "the default)");
    ck_assert_str_eq(load_err("darknet:\n  prefixes: []\n"),
                     "test.yaml:2:13: darknet.prefixes: the list is empty (leave the key out for "
                     "the default)");
    ck_assert_str_eq(load_err("analyses: []\n"),
                     "test.yaml:1:11: analyses: the list is empty (leave the key out for the "
                     "default analysis)");
}
END_TEST

START_TEST(test_err_duplicates_in_lists)
{
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n  - keys: [proto]\n    name: a\n"),
                     "test.yaml:4:11: analyses[1].name: duplicate analysis name 'a' (also "
                     "analyses[0])");
    ck_assert_str_eq(load_err("analyses:\n  - name: x\n  - name: y\n  - name: x\n"),
                     "test.yaml:4:11: analyses[2].name: duplicate analysis name 'x' (also "
                     "analyses[0])");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [1, 0.5, 1.0]\n"),
                     "test.yaml:3:26: analyses[0].thresholds[2]: threshold 1 is listed twice");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [0.5, 0.50]\n"),
                     "test.yaml:3:23: analyses[0].thresholds[1]: threshold 0.5 is listed twice");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    keys: [proto, dst_port, proto]\n"),
                     "test.yaml:3:29: analyses[0].keys[2]: key 'proto' is listed twice");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    keys: [dst_net/24, dst_net/16]\n"),
                     "test.yaml:3:24: analyses[0].keys[1]: key 'dst_net/16' repeats 'dst_net/24' "
                     "(one key of each kind)");
}
END_TEST

START_TEST(test_err_threshold_range)
{
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [0]\n"),
                     "test.yaml:3:18: analyses[0].thresholds[0]: 0 is outside (0, 100)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [100]\n"),
                     "test.yaml:3:18: analyses[0].thresholds[0]: 100 is outside (0, 100)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [1, 100.0]\n"),
                     "test.yaml:3:21: analyses[0].thresholds[1]: 100 is outside (0, 100)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [150]\n"),
                     "test.yaml:3:18: analyses[0].thresholds[0]: 150 is outside (0, 100)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [-1]\n"),
                     "test.yaml:3:18: analyses[0].thresholds[0]: -1 is outside (0, 100)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [0.0]\n"),
                     "test.yaml:3:18: analyses[0].thresholds[0]: 0 is outside (0, 100)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [one]\n"),
                     "test.yaml:3:18: analyses[0].thresholds[0]: 'one' is not a number");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [9, 8, 7, 6, 5, 4, 3, 2, "
                              "1]\n"),
                     "test.yaml:3:42: analyses[0].thresholds[8]: more than 8 thresholds");
}
END_TEST

START_TEST(test_err_window_range)
{
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    window: 1\n"),
                     "test.yaml:3:13: analyses[0].window: 1 is outside 2..1000");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    window: 1001\n"),
                     "test.yaml:3:13: analyses[0].window: 1001 is outside 2..1000");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    window: 7.5\n"),
                     "test.yaml:3:13: analyses[0].window: '7.5' is not an integer");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    window: seven\n"),
                     "test.yaml:3:13: analyses[0].window: 'seven' is not an integer");
}
END_TEST

START_TEST(test_err_slot)
{
    /* the slot value is named, wherever it is in the analysis */
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    slot: 7h\n    window: 3\n"),
                     "test.yaml:3:11: analyses[0].slot: 7h does not divide a day (use a divisor "
                     "of 1d such as 5m, 1h, 6h, or 1d, 1w)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n  - window: 3\n    name: b\n"
                              "    slot: 2d\n"),
                     "test.yaml:5:11: analyses[1].slot: 2d does not divide a day (use a divisor "
                     "of 1d such as 5m, 1h, 6h, or 1d, 1w)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    slot: 7m\n"),
                     "test.yaml:3:11: analyses[0].slot: 7m does not divide a day (use a divisor "
                     "of 1d such as 5m, 1h, 6h, or 1d, 1w)");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    slot: 30s\n"),
                     "test.yaml:3:11: analyses[0].slot: '30s' is outside 1m..1w");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    slot: 2w\n"),
                     "test.yaml:3:11: analyses[0].slot: '2w' is outside 1m..1w");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    slot: 0\n"),
                     "test.yaml:3:11: analyses[0].slot: '0' is outside 1m..1w");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    slot: 1y\n"),
                     "test.yaml:3:11: analyses[0].slot: '1y' has an unknown unit (use s, m, h, d "
                     "or w)");
}
END_TEST

START_TEST(test_err_decimals)
{
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    k_sigma: 0\n"),
                     "test.yaml:3:14: analyses[0].k_sigma: 0 is outside (0, 100]");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    k_sigma: -2\n"),
                     "test.yaml:3:14: analyses[0].k_sigma: -2 is outside (0, 100]");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    k_sigma: 100.001\n"),
                     "test.yaml:3:14: analyses[0].k_sigma: 100.001 is outside (0, 100]");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    k_sigma: 2.0001\n"),
                     "test.yaml:3:14: analyses[0].k_sigma: '2.0001' has more than 3 decimals");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds: [0.12345]\n"),
                     "test.yaml:3:18: analyses[0].thresholds[0]: '0.12345' has more than 4 "
                     "decimals");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    min_stddev: -1\n"),
                     "test.yaml:3:17: analyses[0].min_stddev: -1 is outside [0, 1000000]");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    min_stddev: 1000000.001\n"),
                     "test.yaml:3:17: analyses[0].min_stddev: 1000000.001 is outside [0, "
                     "1000000]");
}
END_TEST

START_TEST(test_err_other_values)
{
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    stddev: both\n"),
                     "test.yaml:3:13: analyses[0].stddev: 'both' is not population or sample");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    attribution: end\n"),
                     "test.yaml:3:18: analyses[0].attribution: 'end' is not start or spread");
    ck_assert_str_eq(load_err("input:\n  lateness: 8d\n"),
                     "test.yaml:2:13: input.lateness: '8d' is outside 0s..1w");
    ck_assert_str_eq(load_err("input:\n  lateness: -1h\n"),
                     "test.yaml:2:13: input.lateness: '-1h' is not a duration such as 30s, 5m, "
                     "1h, 1d");
    ck_assert_str_eq(load_err("store:\n  path: ''\n"),
                     "test.yaml:2:9: store.path: expected a string, found an empty string");
}
END_TEST

START_TEST(test_err_names)
{
    ck_assert_str_eq(load_err("analyses:\n  - keys: [proto]\n    window: 3\n"),
                     "test.yaml:2:5: analyses[0]: 'name' is required");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n  - {}\n"),
                     "test.yaml:3:5: analyses[1]: 'name' is required");
    ck_assert_str_eq(load_err("analyses:\n  - name: 'a b'\n"),
                     "test.yaml:2:11: analyses[0].name: 'a b' is not a name (1 to 63 letters, "
                     "digits, '_', '-' or '.')");
    ck_assert_str_eq(load_err("analyses:\n  - name: \"\"\n"),
                     "test.yaml:2:11: analyses[0].name: '' is not a name (1 to 63 letters, "
                     "digits, '_', '-' or '.')");
    ck_assert_str_eq(load_err("analyses:\n  - name: "
                              "a234567890123456789012345678901234567890123456789012345678901234\n"),
                     "test.yaml:2:11: analyses[0].name: "
                     "'a234567890123456789012345678901234567890123456789012345678901234' is not a "
                     "name (1 to 63 letters, digits, '_', '-' or '.')");
}
END_TEST

START_TEST(test_err_missing_value)
{
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    window:\n    slot: 1h\n"),
                     "test.yaml:3:12: analyses[0].window: expected an integer, found nothing");
    ck_assert_str_eq(load_err("analyses:\n  - name:\n"),
                     "test.yaml:2:10: analyses[0].name: expected a name, found nothing");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    thresholds:\n"),
                     "test.yaml:3:16: analyses[0].thresholds: expected a list of percentages, "
                     "found nothing");
    ck_assert_str_eq(load_err("timezone:\nstore:\n  path: x\n"),
                     "test.yaml:1:10: timezone: expected an IANA time zone name, found nothing");
    ck_assert_str_eq(load_err("analyses:\n"),
                     "test.yaml:1:10: analyses: expected a list of analyses, found nothing");
    ck_assert_str_eq(load_err("darknet:\ninput:\n  lateness: 1h\n"),
                     "test.yaml:1:9: darknet: expected a mapping, found nothing");
    ck_assert_str_eq(load_err("darknet:\n  prefixes:\n    - 10.0.0.0/8\n    -\n"),
                     "test.yaml:4:6: darknet.prefixes[1]: expected a single value, found nothing");
}
END_TEST

/* ---- errors: the file is not a configuration at all ---- */

START_TEST(test_err_not_yaml)
{
    ck_assert_str_eq(load_err("analyses: [\n"),
                     "test.yaml:2:1: not valid YAML: did not find expected node content while "
                     "parsing a flow node");
    ck_assert_str_eq(load_err("darknet:\n  prefixes: [10.0.0.0/8\n"),
                     "test.yaml:3:1: not valid YAML: did not find expected ',' or ']' while "
                     "parsing a flow sequence");
    ck_assert_str_eq(load_err("darknet:\n\tprefixes: [10.0.0.0/8]\n"),
                     "test.yaml:2:1: not valid YAML: found character that cannot start any token "
                     "while scanning for the next token");
    ck_assert_str_eq(load_err("store:\n  path: 'unterminated\n"),
                     "test.yaml:3:1: not valid YAML: found unexpected end of stream while "
                     "scanning a quoted scalar");
    ck_assert_str_eq(load_err("timezone: UTC\n  store: x\n"),
                     "test.yaml:2:8: not valid YAML: mapping values are not allowed in this "
                     "context");
}
END_TEST

START_TEST(test_err_not_a_mapping)
{
    ck_assert_str_eq(load_err("hello\n"),
                     "test.yaml:1:1: the configuration must be a mapping of keys, found a scalar");
    ck_assert_str_eq(load_err("- timezone: UTC\n"),
                     "test.yaml:1:1: the configuration must be a mapping of keys, found a list");
    ck_assert_str_eq(load_err("''\n"),
                     "test.yaml:1:1: the configuration must be a mapping of keys, found a scalar");
}
END_TEST

START_TEST(test_err_second_document)
{
    struct ds_cfg *cfg;

    ck_assert_str_eq(load_err("timezone: UTC\n---\ntimezone: UTC\n"),
                     "test.yaml:3:1: a second YAML document; put everything in one");
    ck_assert_str_eq(load_err("---\ntimezone: UTC\n...\n---\n- a\n"),
                     "test.yaml:5:1: a second YAML document; put everything in one");
    /* a broken second document is still broken YAML */
    ck_assert_str_eq(load_err("timezone: UTC\n---\n[\n"),
                     "test.yaml:4:1: not valid YAML: did not find expected node content while "
                     "parsing a flow node");
    /* explicit markers around one document are fine */
    cfg = tu_cfg("---\ntimezone: Europe/Berlin\n...\n");
    ck_assert_str_eq(cfg->timezone, "Europe/Berlin");
    cfg_free(cfg);
}
END_TEST

START_TEST(test_err_duplicate_keys)
{
    ck_assert_str_eq(load_err("timezone: UTC\ntimezone: Europe/Berlin\n"),
                     "test.yaml:2:1: timezone: duplicate key");
    ck_assert_str_eq(load_err("darknet:\n  exclude: []\ndarknet:\n  exclude: []\n"),
                     "test.yaml:3:1: darknet: duplicate key");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\nanalyses:\n  - name: b\n"),
                     "test.yaml:3:1: analyses: duplicate key");
    ck_assert_str_eq(load_err("darknet:\n  exclude: []\n  exclude: [10.0.0.0/8]\n"),
                     "test.yaml:3:3: darknet.exclude: duplicate key");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    window: 7\n    window: 8\n"),
                     "test.yaml:4:5: analyses[0].window: duplicate key");
    ck_assert_str_eq(load_err("analyses:\n  - name: a\n    name: b\n"),
                     "test.yaml:3:5: analyses[0].name: duplicate key");
}
END_TEST

START_TEST(test_err_too_many_analyses)
{
    char yaml[4096];
    size_t len = 0;

    len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "analyses:\n");
    for (int i = 0; i <= CFG_ANALYSES_MAX; i++)
        len += (size_t)snprintf(yaml + len, sizeof(yaml) - len, "  - name: a%d\n", i);
    ck_assert_uint_lt(len, sizeof(yaml) - 1);
    ck_assert_str_eq(load_err(yaml), "test.yaml:2:3: analyses: more than 32 analyses");
}
END_TEST

/* ---- files ---- */

START_TEST(test_load_missing_file)
{
    struct ds_cfg *cfg = NULL;
    struct ds_error err;
    const char *path = tu_path("no-such-dir/darkstab.yaml");
    char want[1200];

    ck_assert_int_eq(cfg_load(path, &cfg, &err), DS_ERR_IO);
    ck_assert_ptr_null(cfg);
    snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
    ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(test_load_directory)
{
    struct ds_cfg *cfg = NULL;
    struct ds_error err;
    char dir[600];

    snprintf(dir, sizeof(dir), "%s", tu_path(""));
    ck_assert_int_eq(cfg_load(dir, &cfg, &err), DS_ERR_IO);
    ck_assert_ptr_null(cfg);
    ck_assert_ptr_nonnull(strstr(err.msg, dir));
}
END_TEST

START_TEST(test_load_refuses_nul_bytes)
{
    static const char text[] = "timezone: UTC\n\0store:\n  path: x\n";
    struct ds_cfg *cfg = NULL;
    struct ds_error err;
    char path[600], want[1200];

    snprintf(path, sizeof(path), "%s", tu_path("nul.yaml"));
    tu_write_file(path, text, sizeof(text) - 1);
    ck_assert_int_eq(cfg_load(path, &cfg, &err), DS_ERR_CONFIG);
    ck_assert_ptr_null(cfg);
    snprintf(want, sizeof(want), "%s: not a text file (contains NUL bytes)", path);
    ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(test_load_refuses_huge_file)
{
    size_t n = 4 * 1024 * 1024 + 1;
    char *text = malloc(n);
    struct ds_cfg *cfg = NULL;
    struct ds_error err;
    char path[600], want[1200];

    ck_assert_ptr_nonnull(text);
    memset(text, '#', n);
    text[n - 1] = '\n';
    snprintf(path, sizeof(path), "%s", tu_path("huge.yaml"));
    tu_write_file(path, text, n);
    free(text);
    ck_assert_int_eq(cfg_load(path, &cfg, &err), DS_ERR_CONFIG);
    ck_assert_ptr_null(cfg);
    snprintf(want, sizeof(want), "%s: larger than 4194304 bytes", path);
    ck_assert_str_eq(err.msg, want);
}
END_TEST

START_TEST(test_load_file_names_itself)
{
    static const char good[] = "timezone: Europe/Berlin\n";
    static const char bad[] = "timezone: UTC\n\nwindow: 7\n";
    struct ds_cfg *cfg = NULL;
    struct ds_error err;
    char path[600], want[1200];

    snprintf(path, sizeof(path), "%s", tu_path("good.yaml"));
    tu_write_file(path, good, sizeof(good) - 1);
    ck_assert_int_eq(cfg_load(path, &cfg, &err), DS_OK);
    ck_assert_str_eq(cfg->path, path);
    ck_assert_str_eq(cfg->timezone, "Europe/Berlin");
    cfg_free(cfg);

    snprintf(path, sizeof(path), "%s", tu_path("bad.yaml"));
    tu_write_file(path, bad, sizeof(bad) - 1);
    ck_assert_int_eq(cfg_load(path, &cfg, &err), DS_ERR_CONFIG);
    ck_assert_ptr_null(cfg);
    snprintf(want, sizeof(want),
             "%s:3:1: window: unknown key (expected timezone, darknet, analyses, input, store, "
             "collector, metrics, archive, log, causes, drilldown, report, smtp)",
             path);
    ck_assert_str_eq(err.msg, want);
}
END_TEST

/* ---- printing ---- */

/* Prints yaml's configuration, reads the print back, prints again: same text. */
static void
assert_round_trip(const char *yaml)
{
    struct ds_cfg *cfg = tu_cfg(yaml), *again;
    struct ds_error err;
    char *first = print_cfg(cfg), *second;
    const char *body1, *body2;

    ck_assert_msg(strncmp(first, "# effective configuration of test.yaml\n", 39) == 0, "%s",
                  first);
    ck_assert_msg(cfg_load_string("printed.yaml", first, &again, &err) == DS_OK,
                  "printed config does not load: %s\n%s", err.msg, first);
    second = print_cfg(again);
    ck_assert_msg(strncmp(second, "# effective configuration of printed.yaml\n", 42) == 0, "%s",
                  second);
    body1 = strchr(first, '\n');
    body2 = strchr(second, '\n');
    ck_assert_str_eq(body2, body1);

    /* and the values are the same, not only their text */
    ck_assert_str_eq(again->timezone, cfg->timezone);
    ck_assert_str_eq(again->store_path, cfg->store_path);
    ck_assert_int_eq(again->input_lateness_s, cfg->input_lateness_s);
    ck_assert_uint_eq(again->prefixes.n, cfg->prefixes.n);
    for (size_t i = 0; i < cfg->prefixes.n; i++)
        ck_assert_mem_eq(&again->prefixes.v[i], &cfg->prefixes.v[i], sizeof(struct cidr));
    ck_assert_uint_eq(again->exclude.n, cfg->exclude.n);
    for (size_t i = 0; i < cfg->exclude.n; i++)
        ck_assert_mem_eq(&again->exclude.v[i], &cfg->exclude.v[i], sizeof(struct cidr));
    ck_assert_uint_eq(again->n_analyses, cfg->n_analyses);
    for (size_t i = 0; i < cfg->n_analyses; i++) {
        const struct cfg_analysis *a = &cfg->analyses[i], *b = &again->analyses[i];

        ck_assert_str_eq(b->name, a->name);
        ck_assert_uint_eq(b->n_keys, a->n_keys);
        for (size_t k = 0; k < a->n_keys; k++)
            ck_assert_str_eq(key_text(&b->keys[k]), key_text(&a->keys[k]));
        ck_assert_int_eq(b->slot_s, a->slot_s);
        ck_assert_int_eq(b->window, a->window);
        ck_assert_str_eq(b->k_sigma.text, a->k_sigma.text);
        ck_assert_uint_eq(b->n_thresholds, a->n_thresholds);
        for (size_t t = 0; t < a->n_thresholds; t++) {
            ck_assert_int_eq(b->thresholds[t].num, a->thresholds[t].num);
            ck_assert_int_eq(b->thresholds[t].den, a->thresholds[t].den);
        }
        ck_assert_int_eq(b->stddev, a->stddev);
        ck_assert_str_eq(b->min_stddev.text, a->min_stddev.text);
        ck_assert_int_eq(b->attribution, a->attribution);
    }
    free(first);
    free(second);
    cfg_free(cfg);
    cfg_free(again);
}

START_TEST(test_print_round_trip_defaults)
{
    assert_round_trip("");
}
END_TEST

START_TEST(test_print_round_trip_full)
{
    assert_round_trip(FULL);
}
END_TEST

START_TEST(test_print_round_trip_awkward_strings)
{
    assert_round_trip("store:\n  path: \"/tmp/my db #1: \\\"x\\\" \\\\ [a], {b}\"\n");
    assert_round_trip("store:\n  path: \"line\\nbreak\\ttab\\x01\"\n");
    assert_round_trip("store:\n  path: '? what'\n");
    assert_round_trip("store:\n  path: '- dash'\n");
    assert_round_trip("store:\n  path: ' spaces '\n");
    assert_round_trip("darknet:\n  prefixes: [\"::/0\", \"::ffff:192.0.2.0/120\", 0.0.0.0/0]\n"
                      "  exclude: [\"2001:db8::1\", 10.0.0.0/8]\n");
}
END_TEST

START_TEST(test_print_is_normalised)
{
    struct ds_cfg *cfg = tu_cfg("timezone: UTC\n"
                                "darknet:\n"
                                "  prefixes: [\"2001:db8::/32\", 192.0.2.7]\n"
                                "analyses:\n"
                                "  - name: a\n"
                                "    keys: [dst_net/24/64, dst_port]\n"
                                "    slot: 60m\n"
                                "    thresholds: [1.50, 0.250]\n"
                                "    k_sigma: 2.000\n");
    char *text = print_cfg(cfg);

    ck_assert_msg(strstr(text, "\n  prefixes: [\"2001:db8::/32\", 192.0.2.7/32]") != NULL, "%s",
                  text);
    ck_assert_msg(strstr(text, "\n    keys: [dst_net/24, dst_port]") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\n    slot: 1h") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\n    thresholds: [1.5, 0.25]") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\n    k_sigma: 2") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\n  lateness: 1h") != NULL, "%s", text);
    free(text);
    cfg_free(cfg);
}
END_TEST

/* ---- the reference configuration ---- */

struct lines {
    char **v;
    size_t n;
    char *text;
};

static void
read_lines(const char *path, struct lines *l)
{
    FILE *fp = fopen(path, "r");
    long size;

    ck_assert_msg(fp != NULL, "cannot open %s (run from the repository root)", path);
    ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
    size = ftell(fp);
    ck_assert_int_gt(size, 0);
    rewind(fp);
    l->text = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(l->text);
    ck_assert_uint_eq(fread(l->text, 1, (size_t)size, fp), (size_t)size);
    l->text[size] = '\0';
    fclose(fp);
    l->v = calloc((size_t)size + 1, sizeof(*l->v));
    ck_assert_ptr_nonnull(l->v);
    l->n = 0;
    for (char *p = l->text; *p;) {
        char *nl = strchr(p, '\n');

        l->v[l->n++] = p;
        if (nl == NULL)
            break;
        *nl = '\0';
        p = nl + 1;
    }
}

/* The line with its indentation and any "- " list markers taken off. */
static const char *
line_body(const char *s)
{
    for (;;) {
        while (*s == ' ')
            s++;
        if (s[0] == '-' && (s[1] == ' ' || s[1] == '\0'))
            s++;
        else
            return s;
    }
}

static int
is_key_line(const char *body, const char *key)
{
    size_t n = strlen(key);

    return strncmp(body, key, n) == 0 && body[n] == ':';
}

/*
 * True if the line at index i starts a top-level key (column 0), so that
 * the block of the key before it ends there.
 */
static int
is_top_level(const char *line)
{
    return line[0] != '\0' && line[0] != ' ' && line[0] != '#';
}

/* Line index of the top-level key, or -1. */
static long
find_top(const struct lines *l, const char *key)
{
    for (size_t i = 0; i < l->n; i++)
        if (is_top_level(l->v[i]) && is_key_line(l->v[i], key))
            return (long)i;
    return -1;
}

/* True if key appears, uncommented, in the block of the top-level line at top. */
static int
in_block(const struct lines *l, long top, const char *key)
{
    for (size_t i = (size_t)top + 1; i < l->n && !is_top_level(l->v[i]); i++) {
        const char *body = line_body(l->v[i]);

        if (body != l->v[i] && is_key_line(body, key))
            return 1;
    }
    return 0;
}

/* Does the block of the top-level key at top mention "word" as a key ("word:") anywhere? */
static int
block_mentions(const struct lines *l, long top, const char *word)
{
    char pat[80];

    snprintf(pat, sizeof(pat), "%s:", word);
    for (size_t i = (size_t)top + 1; i < l->n && !is_top_level(l->v[i]); i++)
        if (strstr(l->v[i], pat) != NULL)
            return 1;
    return 0;
}

START_TEST(test_every_key_is_documented)
{
    const char *const *paths = cfg_key_paths();
    struct lines l;
    size_t n = 0, a, top_level = 0, found = 0;

    read_lines("config/darkstab.yaml", &l);
    for (; paths[n]; n++) {
        const char *p = paths[n];
        const char *dot = strchr(p, '.');
        char top[64];

        ck_assert_ptr_null(strchr(p, ' '));
        if (strncmp(p, "analyses[].", 11) == 0) {
            long at = find_top(&l, "analyses");

            ck_assert_msg(at >= 0, "no analyses: in config/darkstab.yaml");
            ck_assert_msg(in_block(&l, at, p + 11), "%s is not in config/darkstab.yaml", p);
        } else if (strstr(p, "[].") != NULL) {
            /* collector.listen[].port: "port" must be documented in collector's block */
            long at;

            ck_assert_uint_lt((size_t)(dot - p), sizeof(top));
            memcpy(top, p, (size_t)(dot - p));
            top[dot - p] = '\0';
            at = find_top(&l, top);
            ck_assert_msg(at >= 0, "%s: no line '%s:' in config/darkstab.yaml", p, top);
            ck_assert_msg(block_mentions(&l, at, strstr(p, "[].") + 3),
                          "%s is not in config/darkstab.yaml", p);
        } else if (dot != NULL && strchr(dot + 1, '.') != NULL) {
            /* report.mail.to: "mail:" in report's block, "to:" below it */
            const char *dot2 = strchr(dot + 1, '.');
            char mid[64];
            long at;

            memcpy(top, p, (size_t)(dot - p));
            top[dot - p] = '\0';
            memcpy(mid, dot + 1, (size_t)(dot2 - dot - 1));
            mid[dot2 - dot - 1] = '\0';
            at = find_top(&l, top);
            ck_assert_msg(at >= 0, "%s: no line '%s:' in config/darkstab.yaml", p, top);
            ck_assert_msg(in_block(&l, at, mid) && block_mentions(&l, at, dot2 + 1),
                          "%s is not in config/darkstab.yaml", p);
        } else if (dot != NULL) {
            long at;

            ck_assert_uint_lt((size_t)(dot - p), sizeof(top));
            memcpy(top, p, (size_t)(dot - p));
            top[dot - p] = '\0';
            at = find_top(&l, top);
            ck_assert_msg(at >= 0, "%s: no line '%s:' in config/darkstab.yaml", p, top);
            ck_assert_msg(in_block(&l, at, dot + 1), "%s is not in config/darkstab.yaml", p);
        } else {
            ck_assert_msg(find_top(&l, p) >= 0, "%s is not in config/darkstab.yaml", p);
        }
    }
    /* the paths are the table's: all of them, nothing else */
    /* the analyses' paths come after the top-level ones: a is the first of them */
    for (a = 0; a < n && strcmp(paths[a], "analyses[].name") != 0; a++)
        ;
    ck_assert_uint_eq(n - a, 9 + 4 + 3);
    for (size_t i = 0; i < a; i++)
        top_level += strchr(paths[i], '[') == NULL;
    ck_assert_uint_eq(top_level, a);
    /* issue 7: causes 10, drilldown 6, report and smtp 11; issue 8: limits 9;
       issue 9: store.backend and store.clickhouse 16 */
    ck_assert_uint_eq(n, 14 + 14 + 7 + 10 + 6 + 11 + 9 + 16);
    ck_assert_str_eq(paths[0], "timezone");
    ck_assert_str_eq(paths[1], "darknet.prefixes");
    ck_assert_str_eq(paths[2], "darknet.exclude");
    ck_assert_str_eq(paths[3], "input.lateness");
    ck_assert_str_eq(paths[4], "store.path");
    ck_assert_str_eq(paths[5], "store.backend");
    ck_assert_str_eq(paths[6], "store.clickhouse.url");
    ck_assert_str_eq(paths[15], "store.clickhouse.query_timeout");
    ck_assert_str_eq(paths[17], "store.clickhouse.revise_for");
    ck_assert_str_eq(paths[18], "store.clickhouse.details");
    ck_assert_str_eq(paths[20], "store.clickhouse.spool_max");
    ck_assert_str_eq(paths[21], "collector.listen");
    ck_assert_str_eq(paths[34], "limits.exporters");
    ck_assert_str_eq(paths[42], "limits.groups");
    ck_assert_str_eq(paths[43], "log.level");
    for (size_t i = 0; i < a; i++) {
        /* every top-level key, in its section's order */
        static const char *const want[] = {"drilldown.sources", "drilldown.series_memory",
                                           "report.schedule", "report.mail.to", "smtp.url",
                                           "smtp.timeout", "causes.scan_min_ports",
                                           "limits.tcp_message_timeout"};

        for (size_t w = 0; w < sizeof(want) / sizeof(want[0]); w++)
            found += strcmp(paths[i], want[w]) == 0;
    }
    ck_assert_uint_eq(found, 8);
    ck_assert_str_eq(paths[a + 0], "analyses[].name");
    ck_assert_str_eq(paths[a + 1], "analyses[].keys");
    ck_assert_str_eq(paths[a + 2], "analyses[].slot");
    ck_assert_str_eq(paths[a + 3], "analyses[].window");
    ck_assert_str_eq(paths[a + 4], "analyses[].k_sigma");
    ck_assert_str_eq(paths[a + 5], "analyses[].thresholds");
    ck_assert_str_eq(paths[a + 6], "analyses[].stddev");
    ck_assert_str_eq(paths[a + 7], "analyses[].min_stddev");
    ck_assert_str_eq(paths[a + 8], "analyses[].attribution");
    ck_assert_str_eq(paths[a + 9], "collector.listen[].protocol");
    ck_assert_str_eq(paths[a + 15], "collector.sampling[].rate");
    ck_assert_str_eq(paths[44], "causes.one_source_share");
    /* the same pointer each time */
    ck_assert_ptr_eq(cfg_key_paths(), paths);
    free(l.v);
    free(l.text);
}
END_TEST

/* The checker itself must be able to fail: a key missing from a text. */
START_TEST(test_doc_check_finds_missing_keys)
{
    static const char text[] = "timezone: UTC\n"
                               "darknet:\n"
                               "  # exclude: [] is only a comment\n"
                               "  prefixes: []\n"
                               "store:\n"
                               "  path: x\n"
                               "analyses:\n"
                               "  - # comment\n"
                               "    name: ports\n"
                               "    # window: 7\n"
                               "exclude: []\n";
    struct lines l;
    char path[600];
    long at;

    snprintf(path, sizeof(path), "%s", tu_path("doc.yaml"));
    tu_write_file(path, text, sizeof(text) - 1);
    read_lines(path, &l);
    at = find_top(&l, "darknet");
    ck_assert_int_eq(at, 1);
    ck_assert(in_block(&l, at, "prefixes"));
    ck_assert(!in_block(&l, at, "exclude"));
    ck_assert(!in_block(&l, at, "path"));
    at = find_top(&l, "analyses");
    ck_assert(in_block(&l, at, "name"));
    ck_assert(!in_block(&l, at, "window"));
    ck_assert_int_eq(find_top(&l, "input"), -1);
    ck_assert_int_eq(find_top(&l, "prefixes"), -1);
    free(l.v);
    free(l.text);
}
END_TEST

START_TEST(test_shipped_configs_load)
{
    static const char *const files[] = {"config/darkstab.yaml", "config/paper.yaml",
                                        "config/multi.yaml", "config/clickhouse.yaml",
                                        "samples/darkstab-sample.yaml"};

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct ds_cfg *cfg = NULL;
        struct ds_error err;

        ck_assert_msg(cfg_load(files[i], &cfg, &err) == DS_OK, "%s", err.msg);
        ck_assert_ptr_nonnull(cfg);
        ck_assert_str_eq(cfg->path, files[i]);
        ck_assert_uint_ge(cfg->n_analyses, 1);
        cfg_free(cfg);
    }
}
END_TEST

/* The reference file states every default: loading it gives cfg_default(). */
START_TEST(test_reference_config_is_the_defaults)
{
    struct ds_cfg *cfg = NULL, *def = cfg_default();
    struct ds_error err;
    char *a, *b;

    ck_assert_msg(cfg_load("config/darkstab.yaml", &cfg, &err) == DS_OK, "%s", err.msg);
    assert_defaults(cfg);
    a = print_cfg(cfg);
    b = print_cfg(def);
    ck_assert_str_eq(strchr(a, '\n'), strchr(b, '\n'));
    free(a);
    free(b);
    cfg_free(cfg);
    cfg_free(def);
}
END_TEST

int
main(void)
{
    Suite *s = suite_create("cfg");
    TCase *tc = tcase_create("defaults");

    tcase_add_test(tc, test_defaults_empty_file);
    tcase_add_test(tc, test_defaults_cfg_default);
    tcase_add_test(tc, test_defaults_analysis_with_only_a_name);
    tcase_add_test(tc, test_defaults_section_keys_alone);
    suite_add_tcase(s, tc);

    tc = tcase_create("valid");
    tcase_add_test(tc, test_full_file);
    tcase_add_test(tc, test_exclude_may_be_empty);
    tcase_add_test(tc, test_values_are_text_whatever_the_quotes);
    tcase_add_test(tc, test_limits_are_accepted);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    tcase_add_test(tc, test_err_unknown_key);
    tcase_add_test(tc, test_mail_config);
    tcase_add_test(tc, test_collector_config);
    tcase_add_test(tc, test_collector_config_errors);
    tcase_add_test(tc, test_sampling_exporter_host);
    tcase_add_test(tc, test_reload_what_needs_a_restart);
    tcase_add_test(tc, test_reload_each_restart_key);
    tcase_add_test(tc, test_err_list_where_scalar_expected);
    tcase_add_test(tc, test_err_scalar_where_list_expected);
    tcase_add_test(tc, test_err_sections_and_analyses_shape);
    tcase_add_test(tc, test_err_bad_cidr);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_err_unknown_time_zone);
    tcase_add_test(tc, test_err_unknown_group_key);
    tcase_add_test(tc, test_err_empty_lists);
    tcase_add_test(tc, test_err_duplicates_in_lists);
    tcase_add_test(tc, test_err_threshold_range);
    tcase_add_test(tc, test_err_window_range);
    tcase_add_test(tc, test_err_slot);
    tcase_add_test(tc, test_err_decimals);
    tcase_add_test(tc, test_err_other_values);
    tcase_add_test(tc, test_err_names);
    tcase_add_test(tc, test_err_missing_value);
    tcase_add_test(tc, test_err_not_yaml);
    tcase_add_test(tc, test_err_not_a_mapping);
    tcase_add_test(tc, test_err_second_document);
    tcase_add_test(tc, test_err_duplicate_keys);
    tcase_add_test(tc, test_err_too_many_analyses);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_test(tc, test_load_missing_file);
    tcase_add_test(tc, test_load_directory);
    tcase_add_test(tc, test_load_refuses_nul_bytes);
    tcase_add_test(tc, test_load_refuses_huge_file);
    tcase_add_test(tc, test_load_file_names_itself);
    suite_add_tcase(s, tc);

    tc = tcase_create("print");
    tcase_add_test(tc, test_print_round_trip_defaults);
    tcase_add_test(tc, test_print_round_trip_full);
    tcase_add_test(tc, test_print_round_trip_awkward_strings);
    tcase_add_test(tc, test_print_is_normalised);
    suite_add_tcase(s, tc);

    tc = tcase_create("docs");
    tcase_add_test(tc, test_err_clickhouse);
    tcase_add_test(tc, test_clickhouse_revise_for);
    tcase_add_test(tc, test_clickhouse_details);
    tcase_add_test(tc, test_every_key_is_documented);
    tcase_add_test(tc, test_doc_check_finds_missing_keys);
    tcase_add_test(tc, test_shipped_configs_load);
    tcase_add_test(tc, test_reference_config_is_the_defaults);
    suite_add_tcase(s, tc);

    return tu_run(s) > 0 ? 1 : 0;
}
