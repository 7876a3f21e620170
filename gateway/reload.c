/* Reloading the file while the daemon runs (SIGHUP, systemctl reload).
 *
 * The new file is read and checked in full first; nothing changes unless
 * all of it is right and nothing in it needs a restart. Then, with every
 * poller and the pipeline parked between two rounds (a poll under way is
 * finished first), the buses, devices and points are swapped in place:
 * a bus whose settings changed reconnects, a changed device is set up
 * afresh on its poller, every other device keeps its connection, schedule
 * and back-off, every unchanged point its open intervals and windows. */
#include "core/clock.h"
#include "core/log.h"
#include "config/config_diff.h"
#include "gateway/daemon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A poll under way is finished before the file changes under it: at most
 * a response timeout per request and the line's listening (2 s). */
#define PARK_WAIT_MS 30000

/* Which of the old file's buses, devices and points each of the new
 * file's goes on from: by name, and for carrying state also unchanged. */
struct reload_plan {
    int *bus_kept;     /* the old poller that goes on, or -1 */
    int *bus_named;    /* the old bus of that name: its line counters */
    int *device_kept;  /* the old device whose connection and schedule go on */
    int *device_named; /* the old device of that name: its poll counters */
    int *point_kept;   /* the old point whose indicator state goes on */
    size_t added, changed, removed;
    char what[400];
};

static void plan_free(struct reload_plan *plan)
{
    free(plan->bus_kept);
    free(plan->bus_named);
    free(plan->device_kept);
    free(plan->device_named);
    free(plan->point_kept);
}

/* Appends a device's name to the summary of one kind of change. */
static void note(char *list, size_t size, const char *name)
{
    size_t n = strlen(list);
    if (n + 1 < size)
        snprintf(list + n, size - n, "%s%s", n ? ", " : "", name);
}

static int plan_make(const struct gateway_config *old, const struct gateway_config *next,
                     struct reload_plan *plan)
{
    memset(plan, 0, sizeof(*plan));
    plan->bus_kept = calloc(next->bus_count + 1, sizeof(int));
    plan->bus_named = calloc(next->bus_count + 1, sizeof(int));
    plan->device_kept = calloc(next->device_count + 1, sizeof(int));
    plan->device_named = calloc(next->device_count + 1, sizeof(int));
    plan->point_kept = calloc(next->point_count + 1, sizeof(int));
    if (!plan->bus_kept || !plan->bus_named || !plan->device_kept || !plan->device_named ||
        !plan->point_kept)
        return -1;
    for (size_t i = 0; i < next->bus_count; i++) {
        int o = config_find_bus(old, next->buses[i].name);
        plan->bus_named[i] = o;
        plan->bus_kept[i] = o >= 0 && config_bus_same(&old->buses[o], &next->buses[i]) ? o : -1;
    }
    char added[96] = "", changed[96] = "", removed[96] = "";
    for (size_t i = 0; i < next->device_count; i++) {
        const char *name = next->devices[i].name;
        int o = config_find_device(old, name);
        plan->device_named[i] = o;
        plan->device_kept[i] = o >= 0 && config_device_same(old, o, next, (int)i) ? o : -1;
        if (o < 0)
            plan->added++, note(added, sizeof(added), name);
        else if (plan->device_kept[i] < 0)
            plan->changed++, note(changed, sizeof(changed), name);
    }
    for (size_t i = 0; i < old->device_count; i++)
        if (config_find_device(next, old->devices[i].name) < 0)
            plan->removed++, note(removed, sizeof(removed), old->devices[i].name);
    for (size_t i = 0; i < next->point_count; i++) {
        int o = config_find_point(old, next->points[i].device_name, next->points[i].name);
        plan->point_kept[i] =
            o >= 0 && config_point_same(&old->points[o], &next->points[i]) ? o : -1;
    }
    snprintf(plan->what, sizeof(plan->what),
             "%zu device(s) added%s%s%s, %zu changed%s%s%s, %zu removed%s%s%s", plan->added,
             plan->added ? " (" : "", added, plan->added ? ")" : "", plan->changed,
             plan->changed ? " (" : "", changed, plan->changed ? ")" : "", plan->removed,
             plan->removed ? " (" : "", removed, plan->removed ? ")" : "");
    return 0;
}

/* Logs every line once and keeps the first for health. */
static void refuse(struct gateway *gw, const struct config_errors *why, const char *summary)
{
    for (size_t i = 0; i < why->count; i++)
        log_msg(LOG_ERROR, "reload: %s", why->lines[i]);
    char what[256];
    snprintf(what, sizeof(what), "%s%s%s", summary, why->count ? ": " : "",
             why->count ? why->lines[0] : "");
    log_msg(LOG_ERROR, "reload refused: %s; still running on the file as loaded before", summary);
    stats_reload_done(&gw->stats, false, clock_wall_ms(), what);
}

/* Everything in its place between two rounds; false (and nothing parked)
 * when a poller did not get there in time. */
static bool park_all(struct gateway *gw)
{
    for (size_t i = 0; i < gw->cfg.bus_count; i++)
        poller_park(gw->pollers[i]);
    int64_t deadline = clock_mono_ms() + PARK_WAIT_MS;
    bool parked = true;
    for (size_t i = 0; i < gw->cfg.bus_count && parked; i++)
        if (!poller_parked(gw->pollers[i], deadline)) {
            log_msg(LOG_ERROR, "reload: bus %s did not finish its poll within %d s",
                    gw->cfg.buses[i].name, PARK_WAIT_MS / 1000);
            parked = false;
        }
    if (parked) {
        pipeline_park(gw->pipeline);
        parked = pipeline_parked(gw->pipeline, deadline);
        if (!parked)
            pipeline_unpark(gw->pipeline);
    }
    if (!parked)
        for (size_t i = 0; i < gw->cfg.bus_count; i++)
            poller_unpark(gw->pollers[i]);
    return parked;
}

static bool bus_has_devices(const struct gateway_config *cfg, int bus)
{
    for (size_t d = 0; d < cfg->device_count; d++)
        if (cfg->devices[d].bus_index == bus)
            return true;
    return false;
}

/* The pollers of the new file (cfg already swapped): the old poller of an
 * unchanged bus moves over with its connection, any other is made anew;
 * the old ones left (a bus removed or changed) are stopped and freed. */
static int swap_pollers(struct gateway *gw, size_t old_count, const struct reload_plan *plan,
                        struct poller ***out)
{
    const struct gateway_config *cfg = &gw->cfg;
    struct poller **old = gw->pollers;
    struct poller **next = calloc(cfg->bus_count + 1, sizeof(*next));
    if (!next)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < cfg->bus_count && rc == 0; i++) {
        int o = plan->bus_kept[i];
        if (o >= 0 && old[o] && bus_has_devices(cfg, (int)i)) {
            struct poller *p = old[o];
            old[o] = NULL;
            if (poller_rebind(p, (int)i, gw->point_ids, plan->device_kept, &gw->stats) == 0) {
                next[i] = p;
                continue;
            }
            log_msg(LOG_WARNING, "reload: bus %s is set up afresh", cfg->buses[i].name);
            poller_stop(p);
            poller_destroy(p);
        }
        rc = poller_create(cfg, (int)i, gw->point_ids, &gw->queue, &gw->stats, gw->loop,
                           &next[i]);
    }
    for (size_t o = 0; o < old_count; o++) {
        poller_stop(old[o]);
        poller_destroy(old[o]);
    }
    free(old);
    gw->pollers = next;
    *out = next;
    return rc;
}

/* The file's change, applied with everything parked. 0 when applied; 1
 * when the store or memory failed before anything changed (the old file
 * is back in place); -1 when it failed half-way: the pollers are stopped
 * and the daemon must stop. next: the new file, left holding what the
 * running one had. */
static int apply(struct gateway *gw, struct gateway_config *next, const struct reload_plan *plan)
{
    size_t old_buses = gw->cfg.bus_count;
    command_desk_hold(gw->desk);
    config_swap_live(&gw->cfg, next);
    const struct gateway_config *cfg = &gw->cfg;
    uint32_t *ids = calloc(cfg->point_count + 1, sizeof(*ids));
    if (!ids || store_register_points(gw->store, cfg->points, cfg->point_count, ids) != 0 ||
        pipeline_reconfigure(gw->pipeline, ids, plan->point_kept) != 0) {
        free(ids);
        config_swap_live(&gw->cfg, next);
        command_desk_release(gw->desk, gw->pollers);
        return 1;
    }
    free(gw->point_ids);
    gw->point_ids = ids;
    struct poller **pollers = NULL;
    int rc = stats_resize(&gw->stats, cfg->device_count, plan->device_named, cfg->bus_count,
                          plan->bus_named);
    if (rc == 0)
        rc = swap_pollers(gw, old_buses, plan, &pollers);
    if (rc != 0) {
        for (size_t i = 0; gw->pollers && i < (pollers ? cfg->bus_count : old_buses); i++) {
            poller_stop(gw->pollers[i]);
            poller_destroy(gw->pollers[i]);
        }
        free(gw->pollers);
        gw->pollers = NULL;
    }
    command_desk_release(gw->desk, gw->pollers);
    if (gw->level_override < 0)
        log_set_level(cfg->log_level);
    pipeline_unpark(gw->pipeline);
    for (size_t i = 0; rc == 0 && i < cfg->bus_count; i++) {
        poller_unpark(gw->pollers[i]);
        rc = poller_start(gw->pollers[i]);
    }
    return rc;
}

int gateway_reload(struct gateway *gw)
{
    const char *path = gw->cfg.ini_path;
    log_msg(LOG_INFO, "SIGHUP: reading %s again", path);
    struct gateway_config next;
    struct config_errors why = {0};
    char summary[CFG_TEXT_MAX + 64];
    if (gateway_load_config(path, false, &next, &why) != 0) {
        snprintf(summary, sizeof(summary), "%s has %zu error%s", path, why.count,
                 why.count == 1 ? "" : "s");
        refuse(gw, &why, summary);
        config_errors_free(&why);
        return 0;
    }
    config_restart_only_changes(&gw->cfg, &next, &why);
    if (command_desk_listens(&next) != command_desk_listens(&gw->cfg))
        config_error_add(&why,
                         "%s: whether any point is writable changed: the daemon subscribes "
                         "to commands or not at a restart only",
                         path);
    struct reload_plan plan;
    if (why.count == 0 && plan_make(&gw->cfg, &next, &plan) != 0)
        config_error_add(&why, "out of memory");
    if (why.count > 0) {
        snprintf(summary, sizeof(summary), "%zu change%s need%s a restart", why.count,
                 why.count == 1 ? "" : "s", why.count == 1 ? "s" : "");
        refuse(gw, &why, summary);
        config_errors_free(&why);
        config_free(&next);
        return 0;
    }
    struct config_errors warnings = {0};
    config_risks(&next, &warnings);
    for (size_t i = 0; i < warnings.count; i++)
        log_msg(LOG_WARNING, "config: %s", warnings.lines[i]);
    config_errors_free(&warnings);
    if (!park_all(gw)) {
        config_error_add(&why, "a poll did not end within %d s", PARK_WAIT_MS / 1000);
        refuse(gw, &why, "the daemon could not pause");
        config_errors_free(&why);
        plan_free(&plan);
        config_free(&next);
        return 0;
    }
    int rc = apply(gw, &next, &plan);
    for (size_t i = 0; rc == 0 && i < next.device_count; i++) /* next: the old file now */
        if (config_find_device(&gw->cfg, next.devices[i].name) < 0)
            gw->out.ops->forget_device(gw->out.self, next.devices[i].name);
    if (rc == 0) {
        log_msg(LOG_INFO, "reload applied: %s; %zu buses, %zu devices, %zu points", plan.what,
                gw->cfg.bus_count, gw->cfg.device_count, gw->cfg.point_count);
        stats_reload_done(&gw->stats, true, clock_wall_ms(), plan.what);
    } else if (rc > 0) {
        for (size_t i = 0; i < gw->cfg.bus_count; i++)
            poller_unpark(gw->pollers[i]);
        pipeline_unpark(gw->pipeline);
        config_error_add(&why, "out of memory, or the store could not be read");
        refuse(gw, &why, "the new file could not be set up");
        config_errors_free(&why);
    } else {
        log_msg(LOG_ERROR, "reload failed half-way (out of memory): stopping, so that the "
                           "service manager starts the daemon afresh");
    }
    plan_free(&plan);
    /* After a failure half-way the pipeline may still point into the old
     * file until it stops: that memory goes with the process. */
    if (rc >= 0)
        config_free(&next);
    return rc < 0 ? -1 : 0;
}
