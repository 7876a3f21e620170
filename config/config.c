/* The configuration's lifetime: defaults before a file is read (the key
 * tables' default column, config_keys.c), the error list the loader
 * fills, and freeing. Reading the file is config_load.c. */
#include "config/config.h"
#include "config/config_keys.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_set_defaults(struct gateway_config *cfg)
{
    key_table_defaults(&gateway_key_table, cfg);
    key_table_defaults(&mqtt_key_table, &cfg->mqtt);
    key_table_defaults(&store_key_table, &cfg->store);
    key_table_defaults(&commands_key_table, &cfg->commands);
}

void config_error_add(struct config_errors *errors, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    char **grown = realloc(errors->lines, (errors->count + 1) * sizeof(*grown));
    char *copy = strdup(buf);
    if (!grown || !copy) {
        free(copy);
        if (grown)
            errors->lines = grown;
        return; /* out of memory: the load still fails on the first error */
    }
    errors->lines = grown;
    errors->lines[errors->count++] = copy;
}

void config_errors_free(struct config_errors *errors)
{
    for (size_t i = 0; i < errors->count; i++)
        free(errors->lines[i]);
    free(errors->lines);
    errors->lines = NULL;
    errors->count = 0;
}

void config_free(struct gateway_config *cfg)
{
    free(cfg->buses);
    free(cfg->devices);
    free(cfg->points);
    cfg->buses = NULL, cfg->devices = NULL, cfg->points = NULL;
    cfg->bus_count = cfg->device_count = cfg->point_count = 0;
}

int config_find_point(const struct gateway_config *cfg, const char *device, const char *point)
{
    int d = config_find_device(cfg, device);
    for (size_t i = 0; d >= 0 && i < cfg->point_count; i++)
        if (cfg->points[i].device_index == d && strcmp(cfg->points[i].name, point) == 0)
            return (int)i;
    return -1;
}

int config_find_bus(const struct gateway_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->bus_count; i++)
        if (strcmp(cfg->buses[i].name, name) == 0)
            return (int)i;
    return -1;
}

int config_find_device(const struct gateway_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->device_count; i++)
        if (strcmp(cfg->devices[i].name, name) == 0)
            return (int)i;
    return -1;
}

struct source_device config_source_device(const struct device_config *dc,
                                          const struct bus_config *bus)
{
    return (struct source_device){
        .name = dc->name,
        .unit_id = dc->unit_id,
        .response_timeout_ms = dc->response_timeout_ms,
        .pause_between_requests_ms = bus->pause_between_requests_ms > dc->pause_between_requests_ms
                                         ? bus->pause_between_requests_ms
                                         : dc->pause_between_requests_ms,
        .pause_after_connect_ms = dc->pause_after_connect_ms,
        .quiet_after_reply_ms = dc->quiet_after_reply_ms,
        .max_per_request = dc->max_registers,
        .max_gap = dc->max_gap,
        .single_requests = dc->single_requests,
    };
}

bool config_point_reads(const struct point_config *p, int device_index)
{
    return p->device_index == device_index && p->kind != KIND_OCCUPANCY &&
           p->derived_from[0] == '\0';
}
