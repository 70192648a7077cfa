/*
 * Printing the configuration (see ds/cfg.h): the effective configuration
 * as YAML that reads back the same, secrets masked, and the reference
 * table of every key.
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
    masked = xasprintf("%.*s********%s", (int)n, s, at);
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
    case T_HTTPURL:
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
                    cfg_protocol_names[l->protocol], cfg_transport_names[l->transport]);
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
        const struct cfg_entry *e = &cfg_top_entries[i];

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
            fprintf(fp, "%s%s: ", i == 0 ? "  - " : "    ", cfg_analysis_entries[i].name);
            print_value(fp, &cfg_analysis_entries[i], &cfg->analyses[a]);
            fprintf(fp, "    # %s\n", cfg_analysis_entries[i].doc);
        }
    }
}

/* A default as the README's table shows it: lists in brackets, "" for empty. */
static void
print_doc_default(FILE *fp, const struct cfg_entry *e)
{
    int list = cfg_is_list_type(e->type);

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
        print_doc_row(fp, paths[n++], &cfg_top_entries[i]);
    for (size_t i = 0; i < N_ANALYSIS; i++)
        print_doc_row(fp, paths[n++], &cfg_analysis_entries[i]);
    for (size_t i = 0; i < N_LISTEN; i++)
        print_doc_row(fp, paths[n++], &cfg_listen_entries[i]);
    for (size_t i = 0; i < N_SAMPLING_ENTRIES; i++)
        print_doc_row(fp, paths[n++], &cfg_sampling_entries[i]);
}

const char *
cfg_entry_path(const struct cfg_entry *e, char *buf, size_t len)
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
    static const char *paths[CFG_KEY_PATHS_MAX + 1];
    static char store[CFG_KEY_PATHS_MAX][64];

    if (paths[0] == NULL) {
        size_t n = 0;

        for (size_t i = 0; i < N_TOP; i++, n++)
            paths[n] = cfg_entry_path(&cfg_top_entries[i], store[n], sizeof(store[n]));
        for (size_t i = 0; i < N_ANALYSIS; i++, n++) {
            snprintf(store[n], sizeof(store[n]), "analyses[].%s", cfg_analysis_entries[i].name);
            paths[n] = store[n];
        }
        for (size_t i = 0; i < N_LISTEN; i++, n++) {
            snprintf(store[n], sizeof(store[n]), "collector.listen[].%s",
                     cfg_listen_entries[i].name);
            paths[n] = store[n];
        }
        for (size_t i = 0; i < N_SAMPLING_ENTRIES; i++, n++) {
            snprintf(store[n], sizeof(store[n]), "collector.sampling[].%s",
                     cfg_sampling_entries[i].name);
            paths[n] = store[n];
        }
        paths[n] = NULL;
    }
    return paths;
}

