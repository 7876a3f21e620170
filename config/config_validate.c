/* Checks that need more than one section, once config_resolve has found
 * what the sections name: the points' sources (config_points.c), settings
 * that only make sense together, limits of this machine's time zones. */
#include "config/config.h"
#include "config/config_line_budget.h"
#include "sources/bus_kind.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>

static void validate_buses(struct gateway_config *cfg, struct config_errors *e)
{
    const char *path = cfg->ini_path;
    for (size_t i = 0; i < cfg->bus_count; i++) {
        const struct bus_config *b = &cfg->buses[i];
        if (b->broken)
            continue;
        const struct bus_kind *k = bus_kind(b->kind);
        bool network = k->addressing == BUS_NETWORK;
        if (k->addressing == BUS_LOCAL) {
            if (b->host[0] || b->device[0])
                config_error_add(e, "%s:%d: [bus %s] %s: a %s bus is on the box itself", path,
                                 b->line, b->name, b->host[0] ? "host" : "device", k->name);
            continue;
        }
        if (network && b->host[0] == '\0')
            config_error_add(e, "%s:%d: [bus %s] host: missing (a %s bus needs a host)", path,
                             b->line, b->name, k->name);
        if (network && b->device[0] != '\0')
            config_error_add(e, "%s:%d: [bus %s] device: only an rtu bus has a serial device", path,
                             b->line, b->name);
        if (!network && b->device[0] == '\0')
            config_error_add(e,
                             "%s:%d: [bus %s] device: missing (an %s bus needs a serial "
                             "device, e.g. /dev/ttyUSB0)",
                             path, b->line, b->name, k->name);
        if (!network && b->host[0] != '\0')
            config_error_add(e, "%s:%d: [bus %s] host: only a tcp or rtu-over-tcp bus has a host",
                             path, b->line, b->name);
        if (network && (b->kernel_rs485 || b->rts))
            config_error_add(e, "%s:%d: [bus %s] %s: only a serial port has %s", path, b->line,
                             b->name, b->rts ? "rts" : "kernel_rs485",
                             b->rts ? "an RTS line" : "the kernel's RS-485 mode");
        if (!k->shared_line && b->echo)
            config_error_add(e, "%s:%d: [bus %s] echo: only a serial line echoes its requests",
                             path, b->line, b->name);
    }
}

/* A device speaks one set of serial settings; on a shared line every
 * device must speak the bus's. */
static void check_profile_serial(const struct gateway_config *cfg, const struct device_config *d,
                                 const struct bus_config *b, struct config_errors *e)
{
    if (bus_kind(b->kind)->addressing != BUS_SERIAL)
        return; /* a converter's line settings are the converter's */
    bool baud_ok = d->serial_baud == 0 || d->serial_baud == b->baud;
    bool parity_ok = d->serial_parity < 0 || d->serial_parity == b->parity;
    bool stop_ok = d->serial_stop_bits == 0 || d->serial_stop_bits == b->stop_bits;
    if (baud_ok && parity_ok && stop_ok)
        return;
    config_error_add(e,
                     "%s:%d: [device %s] speaks %d baud, parity %s, %d stop bit(s) (%s); bus %s "
                     "(line %d) is set to %d, %s, %d: set the bus to match, or give the device's "
                     "own baud, parity and stop_bits if it was reconfigured",
                     cfg->ini_path, d->line, d->name, d->serial_baud ? d->serial_baud : b->baud,
                     parity_names[d->serial_parity >= 0 ? d->serial_parity : b->parity],
                     d->serial_stop_bits ? d->serial_stop_bits : b->stop_bits,
                     d->profile[0] ? "its profile's factory setting" : "as its section says",
                     b->name, b->line, b->baud, parity_names[b->parity], b->stop_bits);
}

/* Whether two device paths name one serial port: the same string, or the
 * same device behind two names (/dev/serial/by-id/... is a symbolic link
 * to /dev/ttyUSB0). A path that does not exist here (--offline, a file
 * written for another box) is compared by its string alone. */
static bool same_serial_port(const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
        return false;
    if (S_ISCHR(sa.st_mode) && S_ISCHR(sb.st_mode))
        return sa.st_rdev == sb.st_rdev;
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Two buses on one serial port would fight over it at run time. */
static void check_serial_ports(struct gateway_config *cfg, struct config_errors *e)
{
    for (size_t i = 0; i < cfg->bus_count; i++)
        for (size_t j = 0; j < i; j++) {
            const struct bus_config *a = &cfg->buses[j], *b = &cfg->buses[i];
            if (bus_kind(a->kind)->addressing != BUS_SERIAL ||
                bus_kind(b->kind)->addressing != BUS_SERIAL ||
                !same_serial_port(a->device, b->device))
                continue;
            if (strcmp(a->device, b->device) == 0)
                config_error_add(e,
                                 "%s:%d: [bus %s] device: %s is already bus %s (line %d); one "
                                 "serial line is one bus: put its devices under one [bus]",
                                 cfg->ini_path, b->line, b->name, b->device, a->name, a->line);
            else
                config_error_add(e,
                                 "%s:%d: [bus %s] device: %s is the same serial port as %s of bus "
                                 "%s (line %d); one serial line is one bus: put its devices "
                                 "under one [bus]",
                                 cfg->ini_path, b->line, b->name, b->device, a->device, a->name,
                                 a->line);
        }
}

static void check_site(const struct gateway_config *cfg, const struct device_config *d,
                       struct config_errors *e)
{
    const char *path = cfg->ini_path;
    if (isnan(d->latitude) != isnan(d->longitude))
        config_error_add(e, "%s:%d: [device %s] %s: give latitude and longitude together", path,
                         d->line, d->name, isnan(d->latitude) ? "latitude" : "longitude");
    if (!isnan(d->latitude) && fabs(d->latitude) > 90)
        config_error_add(e, "%s:%d: [device %s] latitude: %g is not between -90 and 90", path,
                         d->line, d->name, d->latitude);
    if (!isnan(d->longitude) && fabs(d->longitude) > 180)
        config_error_add(e, "%s:%d: [device %s] longitude: %g is not between -180 and 180", path,
                         d->line, d->name, d->longitude);
    if (d->count_interval_ms && !config_divides_day(d->count_interval_ms))
        config_error_add(e, "%s:%d: [device %s] count_interval: must divide a day evenly", path,
                         d->line, d->name);
    if (d->window_ms && !config_divides_day(d->window_ms))
        config_error_add(e, "%s:%d: [device %s] window: must divide a day evenly", path, d->line,
                         d->name);
}

static void validate_devices(struct gateway_config *cfg, struct config_errors *e)
{
    const char *path = cfg->ini_path;
    for (size_t i = 0; i < cfg->device_count; i++) {
        struct device_config *d = &cfg->devices[i];
        if (d->bus_index < 0)
            continue; /* config_resolve said so */
        const struct bus_config *b = &cfg->buses[d->bus_index];
        const struct bus_kind *kind = bus_kind(b->kind);
        char why[200];
        if (d->unit_id < 0 && !d->profile[0])
            config_error_add(e, "%s:%d: [device %s] unit_id: missing (this key is required)", path,
                             d->line, d->name);
        else if (d->unit_id >= 0 && kind->source->check_address &&
                 kind->source->check_address(kind, d->unit_id, why, sizeof(why)) != 0)
            config_error_add(e, "%s:%d: [device %s] unit_id: %s", path, d->line, d->name, why);
        check_profile_serial(cfg, d, b, e);
        check_site(cfg, d, e);
        for (size_t j = 0; j < i; j++) {
            const struct device_config *o = &cfg->devices[j];
            if (kind->shared_line && o->bus_index == d->bus_index && o->unit_id == d->unit_id)
                config_error_add(e,
                                 "%s:%d: [device %s] unit_id: %d is already used by device %s "
                                 "(line %d) on bus %s",
                                 path, d->line, d->name, d->unit_id, o->name, o->line, b->name);
        }
    }
}

static void validate_points(struct gateway_config *cfg, struct config_errors *e)
{
    for (size_t i = 0; i < cfg->point_count; i++) {
        struct point_config *p = &cfg->points[i];
        if (p->device_index < 0 || p->broken || p->derived_from[0] || p->kind == KIND_OCCUPANCY)
            continue;
        if (p->scale == 0.0)
            config_error_add(e, "%s:%d: [point %s/%s] scale: 0 would turn every value into 0",
                             p->file ? p->file : cfg->ini_path, p->line, p->device_name, p->name);
    }
}

static void validate_device_points(struct gateway_config *cfg, struct config_errors *e)
{
    for (size_t i = 0; i < cfg->device_count; i++) {
        size_t count = 0;
        for (size_t j = 0; j < cfg->point_count; j++)
            count += cfg->points[j].device_index == (int)i;
        if (count == 0)
            config_error_add(e, "%s:%d: [device %s]: has no points (add [point %s/NAME] sections)",
                             cfg->ini_path, cfg->devices[i].line, cfg->devices[i].name,
                             cfg->devices[i].name);
    }
    if (cfg->device_count == 0)
        config_error_add(e, "%s: no [device NAME] sections: there is nothing to poll",
                         cfg->ini_path);
}

/* A counter feeds one occupancy point, as its way in or its way out: the
 * indicator stage keeps one link per counter. */
static void validate_occupancy_links(struct gateway_config *cfg, struct config_errors *e)
{
    for (size_t i = 0; i < cfg->point_count; i++) {
        const struct point_config *p = &cfg->points[i];
        if (p->kind != KIND_OCCUPANCY || p->broken || p->occupancy_in_index < 0 ||
            p->occupancy_out_index < 0)
            continue;
        const char *path = p->file ? p->file : cfg->ini_path;
        if (p->occupancy_in_index == p->occupancy_out_index)
            config_error_add(e,
                             "%s:%d: [point %s/%s] occupancy_out: '%s' is also the way in; name "
                             "two counters",
                             path, p->line, p->device_name, p->name, p->occupancy_out);
        for (size_t j = 0; j < i; j++) {
            const struct point_config *q = &cfg->points[j];
            if (q->kind != KIND_OCCUPANCY)
                continue;
            int shared = q->occupancy_in_index == p->occupancy_in_index ||
                                 q->occupancy_out_index == p->occupancy_in_index
                             ? p->occupancy_in_index
                         : q->occupancy_in_index == p->occupancy_out_index ||
                                 q->occupancy_out_index == p->occupancy_out_index
                             ? p->occupancy_out_index
                             : -1;
            if (shared >= 0)
                config_error_add(e,
                                 "%s:%d: [point %s/%s] %s: '%s' already feeds occupancy point %s "
                                 "(line %d); a counter feeds one",
                                 path, p->line, p->device_name, p->name,
                                 shared == p->occupancy_in_index ? "occupancy_in" : "occupancy_out",
                                 cfg->points[shared].name, q->name, q->line);
        }
    }
}

/* A zone this system's tz database has: a typo must not silently become
 * UTC (glibc's answer to an unknown TZ). */
static void validate_timezone(const struct gateway_config *cfg, struct config_errors *e)
{
    const char *tz = cfg->timezone;
    if (!tz[0])
        return;
    char path[CFG_NAME_MAX + 32];
    snprintf(path, sizeof(path), "/usr/share/zoneinfo/%s", tz);
    bool plain = tz[0] != '/' && !strstr(tz, "..");
    if (!plain || access(path, R_OK) != 0)
        config_error_add(e,
                         "%s: [gateway] timezone: '%s' is not a time zone of this system (an "
                         "IANA name such as Europe/Berlin, from /usr/share/zoneinfo)",
                         cfg->ini_path, tz);
}

void config_validate(struct gateway_config *cfg, bool offline, struct config_errors *e)
{
    if (!offline)
        validate_timezone(cfg, e);
    validate_buses(cfg, e);
    check_serial_ports(cfg, e);
    validate_devices(cfg, e);
    validate_points(cfg, e);
    validate_occupancy_links(cfg, e);
    config_check_source_points(cfg, false, e);
    validate_device_points(cfg, e);
    config_check_line_timeouts(cfg, e);
}
