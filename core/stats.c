#include "core/stats.h"
#include "core/clock.h"
#include "core/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

struct gateway_stats gw_stats;

void stats_log_summary(const char *when)
{
    log_msg(LOG_INFO,
            "%s: polls ok=%llu failed=%llu; readings polled=%llu stored=%llu published=%llu "
            "acknowledged=%llu refused=%llu; dropped queue-full=%llu store-bound=%llu store-full=%llu "
            "unsaved=%llu; store "
            "errors=%llu; "
            "broker connects=%llu losses=%llu",
            when, (unsigned long long)stat_get(&gw_stats.polls_ok),
            (unsigned long long)stat_get(&gw_stats.polls_failed),
            (unsigned long long)stat_get(&gw_stats.readings_polled),
            (unsigned long long)stat_get(&gw_stats.readings_stored),
            (unsigned long long)stat_get(&gw_stats.readings_published),
            (unsigned long long)stat_get(&gw_stats.readings_acknowledged),
            (unsigned long long)stat_get(&gw_stats.readings_refused),
            (unsigned long long)stat_get(&gw_stats.dropped_queue_full),
            (unsigned long long)stat_get(&gw_stats.dropped_store_bound),
            (unsigned long long)stat_get(&gw_stats.dropped_store_full),
            (unsigned long long)stat_get(&gw_stats.dropped_unsaved),
            (unsigned long long)stat_get(&gw_stats.store_errors),
            (unsigned long long)stat_get(&gw_stats.broker_connects),
            (unsigned long long)stat_get(&gw_stats.broker_losses));
}

/* One lock for all devices: a poll takes it once, for a few stores; the
 * health message takes it once a minute. */
static pthread_mutex_t devices_lock = PTHREAD_MUTEX_INITIALIZER;
static struct device_stats *devices;
static size_t device_count;

int stats_devices_init(size_t count)
{
    pthread_mutex_lock(&devices_lock);
    free(devices);
    devices = calloc(count ? count : 1, sizeof(*devices));
    device_count = devices ? count : 0;
    pthread_mutex_unlock(&devices_lock);
    return devices ? 0 : -1;
}

void stats_devices_free(void)
{
    pthread_mutex_lock(&devices_lock);
    free(devices);
    devices = NULL;
    device_count = 0;
    pthread_mutex_unlock(&devices_lock);
}

void stats_device_poll(int index, bool ok, const char *why)
{
    int64_t now = clock_wall_ms();
    pthread_mutex_lock(&devices_lock);
    if (index >= 0 && (size_t)index < device_count) {
        struct device_stats *d = &devices[index];
        if (ok) {
            d->polls_ok++;
            d->last_ok_ms = now;
        } else {
            d->polls_failed++;
            d->last_error_ms = now;
            snprintf(d->last_error, sizeof(d->last_error), "%s", why ? why : "");
        }
    }
    pthread_mutex_unlock(&devices_lock);
}

void stats_device_get(int index, struct device_stats *out)
{
    pthread_mutex_lock(&devices_lock);
    if (index >= 0 && (size_t)index < device_count)
        *out = devices[index];
    else
        *out = (struct device_stats){0};
    pthread_mutex_unlock(&devices_lock);
}
