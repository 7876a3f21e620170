/* The file's sections tied together before they are checked: each
 * device's bus, each point's device, source and the points it names
 * (source, decimals_from, power_on_counter, occupancy_in/out), and the
 * defaults that depend on other keys (the client id, a device's intervals
 * for its points). A name that leads nowhere is an error here. */
#include "config/config.h"
#include "sources/bus_kind.h"

#include <stdio.h>
#include <string.h>

/* A device's count_interval and window: for its profile's points (which
 * the file cannot reach one by one) and its points that set none; a
 * point's own key in the file wins. Counters without either: 15 minutes. */
static void apply_device_intervals(const struct gateway_config *cfg, struct point_config *p)
{
    const struct device_config *d = &cfg->devices[p->device_index];
    bool from_profile = p->file != NULL;
    if (p->kind == KIND_COUNTER) {
        if (d->count_interval_ms && (from_profile || !p->count_interval_ms))
            p->count_interval_ms = d->count_interval_ms;
        if (!p->count_interval_ms)
            p->count_interval_ms = 15 * 60 * 1000;
    } else if (p->kind == KIND_MEASUREMENT && d->window_ms && (from_profile || !p->window_ms)) {
        p->window_ms = d->window_ms;
    }
}

static void resolve_devices(struct gateway_config *cfg, struct config_errors *e)
{
    for (size_t i = 0; i < cfg->device_count; i++) {
        struct device_config *d = &cfg->devices[i];
        d->bus_index = config_find_bus(cfg, d->bus_name);
        if (d->bus_index < 0) {
            config_error_add(e, "%s:%d: [device %s] bus: no [bus %s] in this file", cfg->ini_path,
                             d->line, d->name, d->bus_name);
            continue;
        }
        /* A bus on the box itself (BUS_LOCAL) has no addresses to give. */
        if (d->unit_id < 0 && bus_kind(cfg->buses[d->bus_index].kind)->addressing == BUS_LOCAL)
            d->unit_id = 0;
    }
}

static int find_point(const struct gateway_config *cfg, int device_index, const char *name)
{
    for (size_t i = 0; i < cfg->point_count; i++)
        if (cfg->points[i].device_index == device_index && strcmp(cfg->points[i].name, name) == 0)
            return (int)i;
    return -1;
}

static bool is_integer(const struct point_config *p)
{
    return config_point_value(p).bits > 0;
}

/* Whether a is read before b in a poll of their device, in the same
 * group (Modbus: a lower address of the same register table). */
static bool read_before(const struct point_config *a, const struct point_config *b)
{
    if (!a->source || a->source != b->source || !a->source->order_of)
        return false;
    struct source_order x = a->source->order_of(&a->where), y = b->source->order_of(&b->where);
    return x.group == y.group && x.position < y.position;
}

/* source and decimals_from name another point of the same device. */
static void resolve_sibling_points(struct gateway_config *cfg, struct point_config *p,
                                   struct config_errors *e)
{
    const char *path = p->file ? p->file : cfg->ini_path;
    if (p->derived_from[0]) {
        p->derived_from_index = find_point(cfg, p->device_index, p->derived_from);
        const struct point_config *s =
            p->derived_from_index >= 0 ? &cfg->points[p->derived_from_index] : NULL;
        if (!s || s == p || s->derived_from[0])
            config_error_add(e,
                             "%s:%d: [point %s/%s] source: '%s' is not a point of device %s that "
                             "reads registers",
                             path, p->line, p->device_name, p->name, p->derived_from,
                             p->device_name);
    }
    const char *ends[2] = {p->occupancy_in, p->occupancy_out};
    int *indexes[2] = {&p->occupancy_in_index, &p->occupancy_out_index};
    for (int i = 0; i < 2 && p->kind == KIND_OCCUPANCY; i++) {
        if (!ends[i][0])
            continue; /* reported by config_check_point */
        *indexes[i] = find_point(cfg, p->device_index, ends[i]);
        if (*indexes[i] < 0 || cfg->points[*indexes[i]].kind != KIND_COUNTER)
            config_error_add(e, "%s:%d: [point %s/%s] %s: '%s' is not a counter point of device %s",
                             path, p->line, p->device_name, p->name,
                             i ? "occupancy_out" : "occupancy_in", ends[i], p->device_name);
    }
    if (p->power_on_counter[0]) {
        p->power_on_index = find_point(cfg, p->device_index, p->power_on_counter);
        const struct point_config *c =
            p->power_on_index >= 0 ? &cfg->points[p->power_on_index] : NULL;
        if (!c || c == p || c->kind != KIND_MEASUREMENT || !is_integer(c))
            config_error_add(e,
                             "%s:%d: [point %s/%s] power_on_counter: '%s' is not an integer "
                             "measurement point of device %s",
                             path, p->line, p->device_name, p->name, p->power_on_counter,
                             p->device_name);
    }
    if (p->decimals_from[0]) {
        p->decimals_index = find_point(cfg, p->device_index, p->decimals_from);
        const struct point_config *d =
            p->decimals_index >= 0 ? &cfg->points[p->decimals_index] : NULL;
        if (!d || d == p || d->derived_from[0] || !is_integer(d) || !read_before(d, p))
            config_error_add(e,
                             "%s:%d: [point %s/%s] decimals_from: '%s' must be an integer point "
                             "of device %s in the same register table, at a lower address (it "
                             "is read first)",
                             path, p->line, p->device_name, p->name, p->decimals_from,
                             p->device_name);
    }
}

static void resolve_points(struct gateway_config *cfg, struct config_errors *e)
{
    for (size_t i = 0; i < cfg->point_count; i++) /* first, for sibling lookups */
        cfg->points[i].device_index = config_find_device(cfg, cfg->points[i].device_name);
    config_resolve_sources(cfg, e);
    for (size_t i = 0; i < cfg->point_count; i++) {
        struct point_config *p = &cfg->points[i];
        if (p->device_index < 0) {
            config_error_add(e, "%s:%d: [point %s/%s]: no [device %s] in this file",
                             p->file ? p->file : cfg->ini_path, p->line, p->device_name, p->name,
                             p->device_name);
            continue;
        }
        if (p->broken)
            continue;
        apply_device_intervals(cfg, p);
        if (p->derived_from[0] || p->decimals_from[0] || p->power_on_counter[0] ||
            p->kind == KIND_OCCUPANCY)
            resolve_sibling_points(cfg, p, e);
    }
}

void config_resolve(struct gateway_config *cfg, struct config_errors *e)
{
    struct mqtt_config *m = &cfg->mqtt;
    if (m->client_id[0] == '\0')
        snprintf(m->client_id, sizeof(m->client_id), "sensor-gateway-%s", cfg->id);
    resolve_devices(cfg, e);
    resolve_points(cfg, e);
}
