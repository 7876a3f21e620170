/* Whether the configuration fits its lines: on a bus whose devices take
 * turns (an RS-485 line), every poll holds the line for its transactions,
 * and the line carries only so many per second at its baud rate. The
 * source plans what a device's poll costs (source_ops.poll_cost); this file
 * adds the costs up per line and says so, at the bus's or device's line. */
#include "config/config.h"
#include "config/config_line_budget.h"

#include <stdlib.h>

/* Above this share of the line, polls queue behind each other and start
 * late; a line that needs more than all of it loses polls. */
#define LINE_LOAD_WARN 0.8

static bool shared_line(const struct bus_config *b)
{
    const struct bus_kind *k = bus_kind(b->kind);
    return !b->broken && k->shared_line && k->source->poll_cost;
}

/* The device's poll cost on its bus; -1 when it has none to say. */
static int device_cost(const struct gateway_config *cfg, size_t index, struct poll_cost *out)
{
    const struct device_config *d = &cfg->devices[index];
    if (d->broken || d->bus_index < 0 || !shared_line(&cfg->buses[d->bus_index]))
        return -1;
    const struct bus_config *b = &cfg->buses[d->bus_index];
    struct source_point *points = calloc(cfg->point_count + 1, sizeof(*points));
    if (!points)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < cfg->point_count; i++)
        if (config_point_reads(&cfg->points[i], (int)index))
            points[n++] = cfg->points[i].where;
    struct source_device sd = config_source_device(d, b);
    const struct bus_kind *k = bus_kind(b->kind);
    int rc = n ? k->source->poll_cost(b, k, &sd, points, n, out) : -1;
    free(points);
    return rc;
}

void config_check_line_timeouts(const struct gateway_config *cfg, struct config_errors *e)
{
    for (size_t i = 0; i < cfg->device_count; i++) {
        const struct device_config *d = &cfg->devices[i];
        struct poll_cost c;
        if (device_cost(cfg, i, &c) != 0 || d->response_timeout_ms * 1000 >= c.shortest_transaction_us)
            continue;
        const struct bus_config *b = &cfg->buses[d->bus_index];
        config_error_add(e,
                         "%s:%d: [device %s] response_timeout: %lld ms is shorter than its %s "
                         "can take on [bus %s] (%s:%d) at %d baud: %.1f ms for request and reply "
                         "alone; give it at least %lld ms",
                         cfg->ini_path, d->line, d->name, (long long)d->response_timeout_ms,
                         c.longest, b->name, cfg->ini_path, b->line, b->baud,
                         (double)c.shortest_transaction_us / 1000,
                         (long long)((c.shortest_transaction_us / 1000 + 5) / 10 + 1) * 10);
    }
}

void config_warn_line_load(const struct gateway_config *cfg, struct config_errors *warnings)
{
    for (size_t bi = 0; bi < cfg->bus_count; bi++) {
        const struct bus_config *b = &cfg->buses[bi];
        if (!shared_line(b))
            continue;
        double load = 0;
        int devices = 0, requests = 0;
        for (size_t i = 0; i < cfg->device_count; i++) {
            struct poll_cost c;
            if (cfg->devices[i].bus_index != (int)bi || device_cost(cfg, i, &c) != 0)
                continue;
            load += (double)c.line_us / 1000.0 / (double)cfg->devices[i].interval_ms;
            devices++;
            requests += c.requests;
        }
        if (load <= LINE_LOAD_WARN)
            continue;
        config_error_add(warnings,
                         "%s:%d: [bus %s] its %d devices (%d requests per round) need %.0f %% of "
                         "the line at %d baud, more than the %.0f %% a line can carry without "
                         "polls starting late (planned with a 5 ms turnaround per reply): "
                         "lengthen the intervals, raise the baud rate or split the line",
                         cfg->ini_path, b->line, b->name, devices, requests, load * 100, b->baud,
                         LINE_LOAD_WARN * 100);
    }
}
