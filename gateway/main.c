/* sensor-gateway: polls Modbus devices, keeps every reading until the
 * broker has acknowledged it and forwards it over MQTT. The data path:
 *   poller.c   (poll, decode)  ->  ingest_queue.c
 *   pipeline.c (records, forward, write-behind) ->  outputs/mqtt (acknowledge), store.c
 * This file wires them together and handles the process's life. */
#include "config/config.h"
#include "core/clock.h"
#include "gateway/cmd_common.h"
#include "gateway/commands.h"
#include "gateway/daemon.h"
#include "gateway/command_desk.h"
#include "outputs/mqtt/mqtt_output.h"
#include "outputs/mqtt/ha_discovery.h"
#include "gateway/ingest_queue.h"
#include "core/log.h"
#include "gateway/pipeline.h"
#include "gateway/poller.h"
#include "core/stats.h"
#include "store/store.h"
#include "gateway/watchdog.h"
#include "version.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 3000

static void usage(FILE *out)
{
    fprintf(out, "usage: sensor-gateway --config FILE [--log-level LEVEL]\n"
                 "       sensor-gateway --check-config FILE\n"
                 "       sensor-gateway --config FILE --list-set-aside | --resend-set-aside\n"
                 "       sensor-gateway status --config FILE\n"
                 "       sensor-gateway probe --config FILE DEVICE\n"
                 "       sensor-gateway scan --config FILE BUS [--units FIRST-LAST]\n"
                 "       sensor-gateway write --config FILE DEVICE POINT VALUE\n"
                 "\n"
                 "Polls Modbus TCP/RTU devices, buffers every reading in SQLite and forwards\n"
                 "it over MQTT (QoS 1 by default). See README.md and docs/.\n"
                 "\n"
                 "  -c, --config FILE        run with this INI file\n"
                 "      --check-config FILE  validate the INI file and what it needs of this\n"
                 "                           machine (store directory, serial ports), and exit:\n"
                 "                           0 ok, 1 the machine is not ready, 2 file errors\n"
                 "      --offline            with --check-config: the file only\n"
                 "  -l, --log-level LEVEL    error, warning, info or debug (overrides the file)\n"
                 "      --list-set-aside     list the readings the broker refused, kept in the\n"
                 "                           store, and exit (the daemon must be stopped)\n"
                 "      --resend-set-aside   queue them to be sent again at the next start\n"
                 "  -V, --version            print the version and exit\n"
                 "\n"
                 "A technician's commands, with the daemon's file (it may be running):\n"
                 "  status   the daemon's health from its status_file, broker or not\n"
                 "  probe    poll one device once: registers, values, quality, timings\n"
                 "  scan     which unit ids answer on a bus (default 1-247)\n"
                 "  write    write a value to a writable point once and read it back\n"
                 "  -h, --help               print this help and exit\n"
                 "\n"
                 "Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 on a runtime failure,\n"
                 "2 on a configuration error.\n");
}

/* Risks of a valid file, and what it needs of this machine that is not
 * there (unless offline): printed by --check-config, logged at start (a
 * serial adapter plugged in later is fine: its bus retries). */
static void report_risks(const struct gateway_config *cfg, bool to_log, bool offline)
{
    struct config_errors warnings = {0};
    config_risks(cfg, &warnings);
    if (!offline && to_log)
        config_check_host(cfg, &warnings);
    for (size_t i = 0; i < warnings.count; i++) {
        if (to_log)
            log_msg(LOG_WARNING, "config: %s", warnings.lines[i]);
        else
            fprintf(stderr, "warning: %s\n", warnings.lines[i]);
    }
    config_errors_free(&warnings);
}

/* --check-config: what the file needs of this machine, as errors (exit 1:
 * the file is right, the machine is not ready for it). */
static int check_host(const struct gateway_config *cfg)
{
    struct config_errors problems = {0};
    config_check_host(cfg, &problems);
    for (size_t i = 0; i < problems.count; i++)
        fprintf(stderr, "%s\n", problems.lines[i]);
    if (problems.count)
        fprintf(stderr, "%s: valid, but %zu problem%s on this machine (--offline skips these)\n",
                cfg->ini_path, problems.count, problems.count == 1 ? "" : "s");
    int rc = problems.count ? EXIT_FAILURE : EXIT_SUCCESS;
    config_errors_free(&problems);
    return rc;
}

/* Local days (counts of an hour or more, the occupancy reset) follow
 * [gateway] timezone, set for the whole process before any thread starts,
 * whatever zone the system was left at; said once at start. */
static void apply_timezone(const struct gateway_config *cfg)
{
    if (cfg->timezone[0])
        setenv("TZ", cfg->timezone, 1);
    tzset();
    time_t now = time(NULL);
    struct tm local;
    localtime_r(&now, &local);
    long offset = local.tm_gmtoff / 60;
    log_msg(LOG_INFO,
            "time zone %s (now %s, UTC%c%02ld:%02ld): counts of an hour or more and the "
            "occupancy reset follow its local days",
            cfg->timezone[0] ? cfg->timezone : "of the system", local.tm_zone,
            offset < 0 ? '-' : '+', labs(offset) / 60, labs(offset) % 60);
}

static void wake_queue(void *queue)
{
    ingest_queue_wake(queue);
}

static int register_points(struct gateway *gw)
{
    gw->point_ids = calloc(gw->cfg.point_count + 1, sizeof(*gw->point_ids));
    if (!gw->point_ids)
        return -1;
    return store_register_points(gw->store, gw->cfg.points, gw->cfg.point_count, gw->point_ids);
}

static int start_pollers(struct gateway *gw)
{
    gw->pollers = calloc(gw->cfg.bus_count + 1, sizeof(*gw->pollers));
    if (!gw->pollers)
        return -1;
    for (size_t i = 0; i < gw->cfg.bus_count; i++) {
        if (poller_create(&gw->cfg, (int)i, gw->point_ids, &gw->queue, &gw->stats,
                          &gw->pollers[i]) != 0 ||
            poller_start(gw->pollers[i]) != 0)
            return -1;
    }
    command_desk_attach(gw->desk, gw->pollers);
    return 0;
}

static int gateway_start(struct gateway *gw)
{
    if (stats_init(&gw->stats, gw->cfg.device_count, gw->cfg.bus_count) != 0)
        return -1;
    gw->stats_ready = true;
    if (store_open(&gw->cfg.store, &gw->store) != 0 || register_points(gw) != 0)
        return -1;
    if (ingest_queue_init(&gw->queue, (size_t)gw->cfg.ingest_capacity, &gw->stats) != 0)
        return -1;
    gw->queue_ready = true;
    if (command_desk_create(&gw->cfg, &gw->stats, &gw->desk) != 0)
        return -1;
    /* Only a gateway with a writable point listens for commands at all. */
    struct command_sink sink = {command_desk_submit, gw->desk};
    bool listens = command_desk_listens(&gw->cfg);
    if (mqtt_output_create(&gw->cfg, gw->store, &gw->stats, wake_queue, &gw->queue,
                           listens ? &sink : NULL, &gw->out) != 0 ||
        pipeline_create(&gw->cfg, gw->point_ids, gw->store, gw->out, &gw->queue, &gw->stats,
                        &gw->pipeline) != 0 ||
        pipeline_start(gw->pipeline) != 0)
        return -1;
    return start_pollers(gw);
}

/* Order matters: pollers first (nothing new arrives), then the pipeline
 * (everything queued is committed), then the broker connection. */
static void gateway_stop(struct gateway *gw, const char *summary)
{
    if (gw->desk)
        command_desk_detach(gw->desk);
    for (size_t i = 0; gw->pollers && i < gw->cfg.bus_count; i++)
        poller_stop(gw->pollers[i]);
    for (size_t i = 0; gw->pollers && i < gw->cfg.bus_count; i++)
        poller_destroy(gw->pollers[i]);
    free(gw->pollers);
    pipeline_stop(gw->pipeline, SHUTDOWN_GRACE_MS);
    pipeline_destroy(gw->pipeline);
    if (gw->out.ops) {
        gw->out.ops->stop(gw->out.self, 1000);
        gw->out.ops->destroy(gw->out.self);
    }
    command_desk_destroy(gw->desk);
    if (gw->store) {
        struct store_stats s = store_stats(gw->store);
        log_msg(LOG_INFO, "store: %lld readings kept for the next start", (long long)s.depth);
        store_close(gw->store);
    }
    if (gw->queue_ready)
        ingest_queue_free(&gw->queue);
    if (gw->stats_ready && summary)
        stats_log_summary(&gw->stats, summary);
    if (gw->stats_ready)
        stats_free(&gw->stats);
    free(gw->point_ids);
    config_free(&gw->cfg);
}

static void stop_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGHUP);
}

/* Waits for SIGTERM or SIGINT, reloading the file on SIGHUP; meanwhile
 * keeps systemd's watchdog fed while the pipeline makes progress. Returns
 * the signal, or -1 when a reload failed half-way. */
static int wait_for_stop_signal(struct gateway *gw)
{
    sigset_t set;
    stop_signals(&set);
    struct watchdog dog;
    watchdog_init(&dog);
    int64_t period = watchdog_period_ms(&dog);
    for (;;) {
        int sig = 0;
        if (period < 0) {
            if (sigwait(&set, &sig) != 0)
                return -1;
        } else {
            struct timespec wait = {.tv_sec = period / 1000, .tv_nsec = period % 1000 * 1000000};
            sig = sigtimedwait(&set, NULL, &wait);
            watchdog_check(&dog, pipeline_busy_ms(gw->pipeline, clock_mono_ms()));
            if (sig < 0)
                continue; /* the period passed (EAGAIN) or a signal outside the set */
        }
        if (sig != SIGHUP)
            return sig;
        sd_notify(0, "RELOADING=1");
        int rc = gateway_reload(gw);
        sd_notify(0, "READY=1");
        if (rc != 0)
            return -1;
    }
}

static void print_set_aside(void *ctx, int64_t seq, int64_t ts_ms, const struct store_point *pt,
                            int n, int reason)
{
    (void)ctx;
    char ts[32];
    clock_format_utc(ts_ms, ts, sizeof(ts));
    printf("%lld %s %s/%s reason 0x%02x\n", (long long)seq, ts, pt ? pt->device : "?",
           n > 1 ? "*"
           : pt  ? pt->point
                 : "?",
           reason);
}

/* The operator's view of what the broker refused: run with the daemon
 * stopped (the store's lock says so otherwise). */
static int set_aside_command(const char *path, bool resend)
{
    struct gateway_config cfg;
    if (command_load_config(path, &cfg, "nothing done") != 0)
        return EXIT_CONFIG;
    log_set_level(LOG_WARNING);
    struct store *store = NULL;
    int rc = store_open(&cfg.store, &store);
    int64_t n = 0;
    if (rc == 0 && resend) {
        rc = store_resend_set_aside(store, &n);
        if (rc == 0)
            printf("%lld records set aside are queued again; they are sent at the next start\n",
                   (long long)n);
    } else if (rc == 0) {
        printf("# seq ts device/point (device/*: a whole poll) reason (MQTT 5 reason code; "
               "0x00: the broker dropped the connection on it)\n");
        rc = store_each_set_aside(store, print_set_aside, NULL);
        printf("# %lld records set aside\n", (long long)store_stats(store).set_aside);
    }
    store_close(store);
    config_free(&cfg);
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int run(const char *path, int level_override)
{
    struct gateway gw = {.level_override = level_override};
    if (command_load_config(path, &gw.cfg, "not starting") != 0)
        return EXIT_CONFIG;
    log_set_level(level_override >= 0 ? level_override : gw.cfg.log_level);

    log_msg(LOG_INFO,
            "sensor-gateway %s starting: gateway %s, %zu buses, %zu devices, %zu points; one "
            "message per %s (layout = %s), commit interval %lldms",
            GW_VERSION, gw.cfg.id, gw.cfg.bus_count, gw.cfg.device_count, gw.cfg.point_count,
            gw.cfg.mqtt.layout == MQTT_LAYOUT_DEVICE ? "device poll" : "point",
            mqtt_layout_names[gw.cfg.mqtt.layout], (long long)gw.cfg.store.commit_interval_ms);
    report_risks(&gw.cfg, true, false);
    apply_timezone(&gw.cfg);
    if (geteuid() == 0)
        log_msg(LOG_WARNING, "running as root: a fault in the daemon or a library would own the "
                             "whole box; run it as its own user (the package's unit does)");
    if (gateway_start(&gw) != 0) {
        log_msg(LOG_ERROR, "start-up failed; stopping");
        gateway_stop(&gw, NULL);
        return EXIT_FAILURE;
    }
    sd_notify(0, "READY=1");
    int sig = wait_for_stop_signal(&gw);
    sd_notify(0, "STOPPING=1");
    if (sig > 0)
        log_msg(LOG_INFO, "%s received: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    gateway_stop(&gw, "stopped");
    return sig > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* `sensor-gateway status|probe|scan|write --config FILE [ARG...] [--units A-B]`. */
static int technician_command(int argc, char **argv)
{
    const char *config = NULL, *args[3] = {NULL, NULL, NULL};
    int first = 1, last = 247, n_args = 0;
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) && i + 1 < argc)
            config = argv[++i];
        else if (strcmp(argv[i], "--units") == 0 && i + 1 < argc &&
                 sscanf(argv[i + 1], "%d-%d", &first, &last) == 2)
            i++;
        else if ((argv[i][0] != '-' || (n_args == 2 && argv[i][1])) && n_args < 3)
            args[n_args++] = argv[i]; /* a write's value may be negative */
        else
            config = NULL, i = argc; /* anything else: usage */
    }
    int needs = strcmp(argv[0], "status") == 0 ? 0 : strcmp(argv[0], "write") == 0 ? 3 : 1;
    const char *arg = args[0];
    if (!config || n_args != needs) {
        usage(stderr);
        return EXIT_CONFIG;
    }
    if (strcmp(argv[0], "write") == 0)
        return command_write(config, args[0], args[1], args[2]);
    if (strcmp(argv[0], "status") == 0)
        return command_status(config);
    if (strcmp(argv[0], "probe") == 0)
        return command_probe(config, arg);
    return command_scan(config, arg, first, last);
}

int main(int argc, char **argv)
{
    /* First of all: a stop request that arrives while the file is loaded or
     * the store is opened waits for sigwait() instead of killing the process
     * half-way. Threads created later inherit the mask. */
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (argc > 1 && (strcmp(argv[1], "status") == 0 || strcmp(argv[1], "probe") == 0 ||
                     strcmp(argv[1], "scan") == 0 || strcmp(argv[1], "write") == 0))
        return technician_command(argc - 1, argv + 1);

    static const struct option options[] = {{"config", required_argument, NULL, 'c'},
                                            {"check-config", required_argument, NULL, 'k'},
                                            {"offline", no_argument, NULL, 'O'},
                                            {"log-level", required_argument, NULL, 'l'},
                                            {"list-set-aside", no_argument, NULL, 'L'},
                                            {"resend-set-aside", no_argument, NULL, 'R'},
                                            {"version", no_argument, NULL, 'V'},
                                            {"help", no_argument, NULL, 'h'},
                                            {NULL, 0, NULL, 0}};
    const char *config = NULL, *check = NULL;
    int level = -1, set_aside = 0;
    bool offline = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:l:Vh", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config = optarg;
            break;
        case 'k':
            check = optarg;
            break;
        case 'l':
            for (int i = 0; log_level_names[i]; i++)
                if (strcmp(optarg, log_level_names[i]) == 0)
                    level = i;
            if (level < 0) {
                fprintf(stderr, "--log-level: '%s' is not error, warning, info or debug\n", optarg);
                return EXIT_CONFIG;
            }
            break;
        case 'O':
            offline = true;
            break;
        case 'L':
        case 'R':
            set_aside = opt;
            break;
        case 'V':
            printf("sensor-gateway %s\n", GW_VERSION);
            return EXIT_SUCCESS;
        case 'h':
            usage(stdout);
            return EXIT_SUCCESS;
        default:
            usage(stderr);
            return EXIT_CONFIG;
        }
    }
    /* getopt gives --check-config the next word as its file, so in
     * `--check-config --offline FILE` the file is left over: both orders. */
    if (check && strcmp(check, "--offline") == 0 && optind + 1 == argc) {
        offline = true;
        check = argv[optind++];
    }
    if (optind < argc || (!config && !check) || (config && check)) {
        usage(stderr);
        return EXIT_CONFIG;
    }
    if (check) {
        struct gateway_config cfg;
        if (command_load_config(check, &cfg, "not starting") != 0)
            return EXIT_CONFIG;
        report_risks(&cfg, false, offline);
        int rc = offline ? EXIT_SUCCESS : check_host(&cfg);
        if (rc == EXIT_SUCCESS)
            printf("%s: OK (%zu buses, %zu devices, %zu points)%s\n", check, cfg.bus_count,
                   cfg.device_count, cfg.point_count, offline ? "; this machine not checked" : "");
        config_free(&cfg);
        return rc;
    }
    if (set_aside)
        return set_aside_command(config, set_aside == 'R');
    return run(config, level);
}
