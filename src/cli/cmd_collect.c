/*
 * darkstab collect: the live collector, as a daemon or in the foreground.
 *
 *   1. load and check the configuration (errors: exit 2);
 *   2. bind every listener, as root if ports below 1024 need it;
 *   3. started as root: become collector.user (refused without one);
 *   4. open the store as that user, read the last checkpoint;
 *   5. without --foreground, become a daemon (errors so far reached the
 *      terminal; from here on the log is syslog);
 *   6. start the threads, run until SIGTERM or SIGINT, then save and stop.
 * SIGHUP reloads the configuration.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "ds/cfg.h"
#include "ds/collect.h"
#include "ds/ingest.h"
#include "ds/log.h"
#include "ds/tz.h"

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;

static void
on_stop(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void
on_hup(int sig)
{
    (void)sig;
    reload_flag = 1;
}

static void
usage(FILE *fp)
{
    fprintf(fp,
            "usage: darkstab collect -c CONFIG [--foreground] [-q|-v]\n\n"
            "Receives IPFIX, NetFlow v9, NetFlow v5 and sFlow from the routers of the\n"
            "darknet (collector.listen), counts the darknet's packets into the groups of\n"
            "every analysis, closes each slot once every active exporter has sent records\n"
            "past its end, judges it and stores it.  Open slots, templates and sampling\n"
            "rates are saved every collector.checkpoint and on SIGTERM; a restart goes on\n"
            "from there.  SIGHUP reloads the configuration.  'darkstab results' prints\n"
            "what is stored.\n\n"
            "  -c, --config FILE      configuration (see config/darkstab.yaml)\n"
            "  -f, --foreground       stay in the foreground and log to standard error\n"
            "                         (what systemd wants); otherwise become a daemon and\n"
            "                         log to syslog\n"
            "  -q, --quiet            warnings and errors only\n"
            "  -v, --verbose          debug messages too\n\n"
            "Started as root, it binds its sockets and then becomes collector.user; it\n"
            "refuses to run as root without one.\n\n"
            "exit status: 0 stopped by a signal after saving, 1 a failure (a socket that\n"
            "cannot be bound, the store), 2 usage or configuration error\n");
}

/* Relative paths are made absolute: a daemon works from "/". */
static int
absolute(char **path)
{
    char cwd[PATH_MAX], *abs;

    if (**path == '\0' || **path == '/' || strcmp(*path, ":memory:") == 0)
        return 0;
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        return -1;
    if (asprintf(&abs, "%s/%s", cwd, *path) < 0)
        return -1;
    free(*path);
    *path = abs;
    return 0;
}

static int
drop_privileges(const char *user)
{
    struct passwd *pw = getpwnam(user);

    if (pw == NULL) {
        log_msg(LOG_ERR, "collect: collector.user: no user '%s'", user);
        return -1;
    }
    if (setgroups(0, NULL) != 0 || initgroups(pw->pw_name, pw->pw_gid) != 0 ||
        setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        log_msg(LOG_ERR, "collect: cannot become %s: %s", user, strerror(errno));
        return -1;
    }
    /* there is no way back */
    if (setuid(0) == 0) {
        log_msg(LOG_ERR, "collect: still able to become root after switching to %s", user);
        return -1;
    }
    log_info("collect: running as %s (uid %u, gid %u)", user, (unsigned)pw->pw_uid,
             (unsigned)pw->pw_gid);
    return 0;
}

static int
daemonize(void)
{
    pid_t pid = fork();
    int fd;

    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (chdir("/") != 0)
        return -1;
    umask(027);
    fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return -1;
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2)
        close(fd);
    return 0;
}

static int
level_of(const struct ds_cfg *cfg, int quiet, int verbose)
{
    if (verbose)
        return LOG_DEBUG;
    if (quiet)
        return LOG_WARNING;
    switch (cfg->log_level) {
    case CFG_LOG_ERROR:
        return LOG_ERR;
    case CFG_LOG_WARNING:
        return LOG_WARNING;
    case CFG_LOG_DEBUG:
        return LOG_DEBUG;
    default:
        return LOG_INFO;
    }
}

int
cmd_collect(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"foreground", no_argument, NULL, 'f'},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL;
    char config_abs[PATH_MAX];
    int foreground = 0, quiet = 0, verbose = 0, ch, status = 0;
    struct ds_cfg *cfg = NULL;
    struct collector *c = NULL;
    struct ds_error err;
    struct sigaction sa;
    enum ds_rc rc;

    optind = 1;
    while ((ch = getopt_long(argc, argv, "c:fqvh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            config = optarg;
            break;
        case 'f':
            foreground = 1;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (config == NULL || optind != argc) {
        fprintf(stderr, "darkstab collect: %s\n",
                config == NULL ? "-c CONFIG is required" : "unexpected arguments");
        usage(stderr);
        return EXIT_USAGE;
    }
    cli_log_setup(quiet, verbose);
    if ((status = cli_load_config(config, &cfg)) != 0)
        return status;
    log_set_level(level_of(cfg, quiet, verbose));
    if (realpath(config, config_abs) == NULL)
        snprintf(config_abs, sizeof(config_abs), "%s", config);
    if (absolute(&cfg->store_path) != 0 || absolute(&cfg->archive_dir) != 0) {
        log_msg(LOG_ERR, "collect: cannot resolve relative paths: %s", strerror(errno));
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if (geteuid() == 0 && cfg->user[0] == '\0') {
        log_msg(LOG_ERR, "collect: refusing to run as root: set collector.user to the user to "
                         "become once the sockets are bound, or start darkstab as that user");
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if (collector_bind(cfg, &c, &err) != DS_OK) {
        log_msg(LOG_ERR, "%s", err.msg);
        status = EXIT_RUN_FAILED;
        goto out;
    }
    if (geteuid() == 0 && drop_privileges(cfg->user) != 0) {
        status = EXIT_RUN_FAILED;
        goto out;
    }
    rc = collector_open(c, &err);
    if (rc != DS_OK) {
        log_msg(LOG_ERR, "%s", err.msg);
        status = rc == DS_ERR_CONFLICT ? EXIT_USAGE : EXIT_RUN_FAILED;
        goto out;
    }
    if (!foreground) {
        if (daemonize() != 0) {
            log_msg(LOG_ERR, "collect: cannot become a daemon: %s", strerror(errno));
            status = EXIT_RUN_FAILED;
            goto out;
        }
        log_init(1, level_of(cfg, quiet, verbose), "darkstab");
        ingest_quiet_libfixbuf();
    }
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    rc = collector_start(c, &err);
    if (rc != DS_OK) {
        log_msg(LOG_ERR, "%s", err.msg);
        status = rc == DS_ERR_CONFLICT ? EXIT_USAGE : EXIT_RUN_FAILED;
        goto out;
    }
    log_info("collect: darkstab %s started (config %s, store %s)", DS_VERSION, config_abs,
             cfg->store_path);
    if (collector_run(c, &stop_flag, &reload_flag, config_abs, &err) != DS_OK) {
        log_msg(LOG_ERR, "%s", err.msg);
        status = EXIT_RUN_FAILED;
    }
out:
    collector_free(c);
    cfg_free(cfg);
    return status;
}
