/* The daemon's life: the parts started in order, signals waited for
 * (SIGHUP reloads the file, reload.c; systemd's watchdog fed meanwhile),
 * the parts stopped in order. The data path:
 *   poller.c   (poll, decode)  ->  ingest_queue.c
 *   pipeline.c (records, forward, write-behind) ->  outputs/mqtt (acknowledge), store.c
 * cli/main.c loads the file and hands it over. */
#include "config/config.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/stats.h"
#include "gateway/command_desk.h"
#include "gateway/daemon.h"
#include "gateway/ingest_queue.h"
#include "gateway/pipeline.h"
#include "gateway/poll_loop.h"
#include "gateway/poller.h"
#include "gateway/watchdog.h"
#include "outputs/mqtt/ha_discovery.h"
#include "outputs/mqtt/mqtt_output.h"
#include "store/store.h"
#include "version.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#define SHUTDOWN_GRACE_MS 3000

int gateway_load_config(const char *path, bool offline, struct gateway_config *cfg,
                        struct config_errors *errors)
{
    if (config_load_as(path, offline, cfg, errors) != 0)
        return -1;
    if (!cfg->mqtt.ha_discovery || ha_discovery_check(cfg, errors) == 0)
        return 0;
    config_free(cfg);
    return -1;
}

/* Risks of a valid file, and what it needs of this machine that is not
 * there, logged at start (a serial adapter plugged in later is fine: its
 * bus retries). */
static void log_risks(const struct gateway_config *cfg)
{
    struct config_errors warnings = {0};
    config_risks(cfg, &warnings);
    config_check_host(cfg, &warnings);
    for (size_t i = 0; i < warnings.count; i++)
        log_msg(LOG_WARNING, "config: %s", warnings.lines[i]);
    config_errors_free(&warnings);
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
    if (!gw->pollers || poll_loop_create(&gw->queue, &gw->loop) != 0)
        return -1;
    for (size_t i = 0; i < gw->cfg.bus_count; i++) {
        if (poller_create(&gw->cfg, (int)i, gw->point_ids, &gw->queue, &gw->stats, gw->loop,
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
    poll_loop_destroy(gw->loop);
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

void daemon_block_signals(void)
{
    sigset_t set;
    stop_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
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

/* Every Modbus TCP device holds a connection: a thousand of them need
 * more descriptors than the usual soft limit of 1024. systemd sets the
 * hard limit high and leaves raising the soft one to the program. */
static void raise_descriptor_limit(const struct gateway_config *cfg)
{
    struct rlimit lim;
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0 || lim.rlim_cur >= lim.rlim_max)
        return;
    rlim_t want = lim.rlim_max;
    lim.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0)
        log_msg(LOG_WARNING, "cannot raise the descriptor limit to %llu for %zu buses: %s",
                (unsigned long long)want, cfg->bus_count, strerror(errno));
}

int daemon_run(struct gateway_config *cfg, int level_override)
{
    struct gateway gw = {.cfg = *cfg, .level_override = level_override};
    *cfg = (struct gateway_config){0}; /* the daemon's now: freed at its stop */
    log_set_level(level_override >= 0 ? level_override : gw.cfg.log_level);

    log_msg(LOG_INFO,
            "sensor-gateway %s starting: gateway %s, %zu buses, %zu devices, %zu points; one "
            "message per %s (layout = %s), commit interval %lldms",
            GW_VERSION, gw.cfg.id, gw.cfg.bus_count, gw.cfg.device_count, gw.cfg.point_count,
            gw.cfg.mqtt.layout == MQTT_LAYOUT_DEVICE ? "device poll" : "point",
            mqtt_layout_names[gw.cfg.mqtt.layout], (long long)gw.cfg.store.commit_interval_ms);
    log_risks(&gw.cfg);
    apply_timezone(&gw.cfg);
    raise_descriptor_limit(&gw.cfg);
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
