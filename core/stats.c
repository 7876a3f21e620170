#include "core/stats.h"
#include "core/clock.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int stats_init(struct gateway_stats *s, size_t devices, size_t buses)
{
    memset(s, 0, sizeof(*s));
    s->devices = calloc(devices ? devices : 1, sizeof(*s->devices));
    s->buses = calloc(buses ? buses : 1, sizeof(*s->buses));
    if (!s->devices || !s->buses || pthread_mutex_init(&s->devices_lock, NULL) != 0) {
        free(s->devices);
        free(s->buses);
        s->devices = NULL;
        s->buses = NULL;
        return -1;
    }
    s->device_count = devices;
    s->bus_count = buses;
    return 0;
}

void stats_free(struct gateway_stats *s)
{
    if (!s->devices)
        return;
    pthread_mutex_destroy(&s->devices_lock);
    free(s->devices);
    free(s->buses);
    s->devices = NULL;
    s->buses = NULL;
    s->device_count = 0;
}

int stats_resize(struct gateway_stats *s, size_t devices, const int *device_from, size_t buses,
                 const int *bus_from)
{
    struct device_stats *d = calloc(devices ? devices : 1, sizeof(*d));
    struct bus_stats *b = calloc(buses ? buses : 1, sizeof(*b));
    if (!d || !b) {
        free(d);
        free(b);
        return -1;
    }
    pthread_mutex_lock(&s->devices_lock);
    for (size_t i = 0; i < devices; i++)
        if (device_from[i] >= 0 && (size_t)device_from[i] < s->device_count)
            d[i] = s->devices[device_from[i]];
    for (size_t i = 0; i < buses; i++) {
        if (bus_from[i] < 0 || (size_t)bus_from[i] >= s->bus_count)
            continue;
        const struct bus_stats *old = &s->buses[bus_from[i]];
        atomic_store(&b[i].polls, atomic_load(&old->polls));
        atomic_store(&b[i].polls_late, atomic_load(&old->polls_late));
        atomic_store(&b[i].stray_bytes, atomic_load(&old->stray_bytes));
        atomic_store(&b[i].busy_us, atomic_load(&old->busy_us));
        atomic_store(&b[i].busy_permille, atomic_load(&old->busy_permille));
    }
    free(s->devices);
    free(s->buses);
    s->devices = d;
    s->device_count = devices;
    s->buses = b;
    s->bus_count = buses;
    pthread_mutex_unlock(&s->devices_lock);
    return 0;
}

void stats_reload_done(struct gateway_stats *s, bool applied, int64_t now_wall_ms, const char *what)
{
    stat_add(applied ? &s->reloads_applied : &s->reloads_refused, 1);
    pthread_mutex_lock(&s->devices_lock);
    s->last_reload_ms = now_wall_ms;
    s->last_reload_applied = applied;
    snprintf(s->last_reload, sizeof(s->last_reload), "%s", what);
    pthread_mutex_unlock(&s->devices_lock);
}

void stats_log_summary(struct gateway_stats *s, const char *when)
{
    log_msg(LOG_INFO,
            "%s: polls ok=%llu failed=%llu; readings polled=%llu stored=%llu published=%llu "
            "acknowledged=%llu refused=%llu; messages messages-published=%llu "
            "messages-acknowledged=%llu messages-refused=%llu; dropped queue-full=%llu "
            "store-bound=%llu store-full=%llu "
            "unsaved=%llu; store "
            "errors=%llu; "
            "broker connects=%llu losses=%llu",
            when, (unsigned long long)stat_get(&s->polls_ok),
            (unsigned long long)stat_get(&s->polls_failed),
            (unsigned long long)stat_get(&s->readings_polled),
            (unsigned long long)stat_get(&s->readings_stored),
            (unsigned long long)stat_get(&s->readings_published),
            (unsigned long long)stat_get(&s->readings_acknowledged),
            (unsigned long long)stat_get(&s->readings_refused),
            (unsigned long long)stat_get(&s->messages_published),
            (unsigned long long)stat_get(&s->messages_acknowledged),
            (unsigned long long)stat_get(&s->messages_refused),
            (unsigned long long)stat_get(&s->dropped_queue_full),
            (unsigned long long)stat_get(&s->dropped_store_bound),
            (unsigned long long)stat_get(&s->dropped_store_full),
            (unsigned long long)stat_get(&s->dropped_unsaved),
            (unsigned long long)stat_get(&s->store_errors),
            (unsigned long long)stat_get(&s->broker_connects),
            (unsigned long long)stat_get(&s->broker_losses));
}

void stats_device_poll(struct gateway_stats *s, int index, bool ok, const char *why)
{
    int64_t now = clock_wall_ms();
    pthread_mutex_lock(&s->devices_lock);
    if (index >= 0 && (size_t)index < s->device_count) {
        struct device_stats *d = &s->devices[index];
        if (ok) {
            d->polls_ok++;
            d->last_ok_ms = now;
        } else {
            d->polls_failed++;
            d->last_error_ms = now;
            snprintf(d->last_error, sizeof(d->last_error), "%s", why ? why : "");
        }
    }
    pthread_mutex_unlock(&s->devices_lock);
}

void stats_device_get(struct gateway_stats *s, int index, struct device_stats *out)
{
    pthread_mutex_lock(&s->devices_lock);
    if (index >= 0 && (size_t)index < s->device_count)
        *out = s->devices[index];
    else
        *out = (struct device_stats){0};
    pthread_mutex_unlock(&s->devices_lock);
}
