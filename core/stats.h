/* Gateway-wide counters, written from any thread, read for the periodic
 * summary line and at shutdown. */
#ifndef GW_STATS_H
#define GW_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gateway_stats {
    atomic_uint_fast64_t polls_ok;
    atomic_uint_fast64_t polls_failed;
    atomic_uint_fast64_t readings_polled;
    atomic_uint_fast64_t readings_stored;
    atomic_uint_fast64_t readings_published;
    atomic_uint_fast64_t readings_acknowledged;
    atomic_uint_fast64_t readings_refused; /* by the broker: set aside, not lost */
    atomic_uint_fast64_t dropped_queue_full;
    atomic_uint_fast64_t dropped_store_bound; /* max_readings, max_age */
    atomic_uint_fast64_t dropped_store_full;  /* disk or max_size full */
    atomic_uint_fast64_t dropped_unsaved;     /* store failing at shutdown */
    atomic_uint_fast64_t store_errors;
    atomic_uint_fast64_t broker_connects;
    atomic_uint_fast64_t broker_losses;
};

extern struct gateway_stats gw_stats;

static inline void stat_add(atomic_uint_fast64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static inline uint64_t stat_get(atomic_uint_fast64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

void stats_log_summary(const char *when);

/* Per device, for the health message: written by the device's poller,
 * read by the pipeline. Indexed like gateway_config.devices. */
struct device_stats {
    uint64_t polls_ok, polls_failed;
    int64_t last_ok_ms, last_error_ms; /* wall clock; 0 = never */
    char last_error[256];
};

int stats_devices_init(size_t count);
void stats_devices_free(void);
void stats_device_poll(int index, bool ok, const char *why);
void stats_device_get(int index, struct device_stats *out);

#endif
