/* The retained messages that describe the gateway rather than carry
 * readings: its health, refreshed periodically, and one metadata message
 * per device, so that a dashboard can discover what a gateway offers
 * (docs/mqtt-contract.md, schemas in docs/schemas/).
 *
 * Built with json-c: they are small, rare, and carry free text (error
 * messages, serial device paths) that must be escaped properly. */
#ifndef GW_HEALTH_H
#define GW_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/stats.h"
#include "store/store.h"

struct health_inputs {
    struct gateway_stats *stats;
    int64_t now_wall_ms;
    int64_t uptime_ms;
    bool clock_synced;
    struct store_stats store;
    int64_t oldest_unsent_ts_ms; /* -1: the store is empty */
};

/* Both return a malloc'd JSON text, or NULL when out of memory. */
char *health_json(const struct gateway_config *cfg, const struct health_inputs *in);
char *device_meta_json(const struct gateway_config *cfg, int device_index);

#endif
