/* Checks of one section, run as soon as it has been read: a point's keys
 * that only make sense together, the [mqtt] section's files and secrets.
 * Checks across sections are in config_validate.c. */
#include "config/config.h"
#include "config/credentials.h"
#include "indicators/counter.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define POINT_ERROR(p, key, ...) point_error(c, p, key, __VA_ARGS__)

static void point_error(const struct section_check *c, const struct point_config *p,
                        const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Names the line of the key when the file set it, else the section's. */
static void point_error(const struct section_check *c, const struct point_config *p,
                        const char *key, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    int line = c->line_of ? c->line_of(c->ctx, key) : 0;
    config_error_add(c->errors, "%s:%d: [point %s/%s] %s: %s", c->path, line ? line : p->line,
                     p->device_name, p->name, key, msg);
}

bool config_divides_day(int64_t ms)
{
    return ms > 0 && (86400LL * 1000) % ms == 0;
}

/* A counter wraps at its width: an unsigned integer's (the source says
 * what the point's value is). */
static int counter_bits(const struct point_config *p)
{
    if (!p->source)
        return 0;
    struct source_value v = p->source->value_of(&p->where);
    return v.is_signed ? 0 : v.bits;
}

static void validate_counter(const struct section_check *c, struct point_config *p)
{
    int bits = counter_bits(p);
    if (bits == 0)
        POINT_ERROR(p, "kind", "a counter is an unsigned integer read from the device, not %s",
                    p->source ? p->source->value_of(&p->where).type : "a derived value");
    if (p->scale != 1.0 || p->offset != 0.0)
        POINT_ERROR(p, "scale", "a counter counts events: leave scale and offset out");
    if (p->window_ms)
        POINT_ERROR(p, "window", "only a measurement has windows; a counter has count_interval");
    if (p->count_interval_ms && !config_divides_day(p->count_interval_ms))
        POINT_ERROR(p, "count_interval", "must divide a day evenly (e.g. 1m, 5m, 15m, 1h)");
    if (bits == 0)
        return;
    struct counter_limits d = counter_limits_default(bits);
    if (p->counter_max_step == 0)
        p->counter_max_step = (int64_t)d.max_step;
    if (p->counter_reset_max < 0)
        p->counter_reset_max = (int64_t)d.reset_max;
    uint64_t top = bits == 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
    if ((uint64_t)p->counter_max_step > top / 2)
        POINT_ERROR(p, "counter_max_step",
                    "%lld is more than half the counter's range: a wrap could not be told from "
                    "a reset",
                    (long long)p->counter_max_step);
    if ((uint64_t)p->counter_reset_max > top)
        POINT_ERROR(p, "counter_reset_max", "%lld is above the counter's top %llu",
                    (long long)p->counter_reset_max, (unsigned long long)top);
}

static void validate_measurement(const struct section_check *c, struct point_config *p)
{
    const char *counter_key = p->count_interval_ms        ? "count_interval"
                              : p->counter_max_step       ? "counter_max_step"
                              : p->counter_reset_max >= 0 ? "counter_reset_max"
                              : p->power_on_counter[0]    ? "power_on_counter"
                                                          : NULL;
    if (counter_key)
        POINT_ERROR(p, counter_key, "needs kind = counter");
    if (p->window_ms && !config_divides_day(p->window_ms))
        POINT_ERROR(p, "window", "must divide a day evenly (e.g. 1m, 10m, 15m, 1h)");
}

/* "04:00" -> 240 */
static int parse_time_of_day(const char *text)
{
    int h, m;
    char end;
    if (sscanf(text, "%2d:%2d%c", &h, &m, &end) != 2 || h < 0 || h > 23 || m < 0 || m > 59)
        return -1;
    return h * 60 + m;
}

static void validate_occupancy(const struct section_check *c, struct point_config *p)
{
    if (!p->occupancy_in[0])
        POINT_ERROR(p, "occupancy_in", "missing (the device's counter point for the way in)");
    if (!p->occupancy_out[0])
        POINT_ERROR(p, "occupancy_out", "missing (the device's counter point for the way out)");
    if (p->occupancy_reset[0]) {
        p->occupancy_reset_minute = parse_time_of_day(p->occupancy_reset);
        if (p->occupancy_reset_minute < 0)
            POINT_ERROR(p, "occupancy_reset", "'%s' is not a time of day like 04:00",
                        p->occupancy_reset);
    }
}

static void validate_writable(const struct section_check *c, struct point_config *p)
{
    /* How the device takes a write (Modbus: write_function) is its
     * source's to check (sources/source.h, check_points). */
    bool write_keys = !isinf(p->write_min) || !isinf(p->write_max) || !p->read_back;
    if (!p->writable) {
        if (write_keys)
            POINT_ERROR(p,
                        !isinf(p->write_min)   ? "write_min"
                        : !isinf(p->write_max) ? "write_max"
                                               : "read_back",
                        "needs writable = true");
        return;
    }
    if (p->derived_from[0] || p->kind == KIND_OCCUPANCY || p->decimals_from[0]) {
        POINT_ERROR(p, "writable",
                    "only a point that is one register value can be written, not one %s",
                    p->kind == KIND_OCCUPANCY ? "computed from counters"
                    : p->derived_from[0]      ? "derived from another point"
                                              : "scaled by a decimals register");
        return;
    }
    if (p->source && !p->source->value_of(&p->where).writable) {
        char place[64];
        p->source->name_of(&p->where, place, sizeof(place));
        POINT_ERROR(p, "writable", "the device takes no writes at %s", place);
        return;
    }
    if (p->write_min > p->write_max)
        POINT_ERROR(p, "write_min", "%g is above write_max %g", p->write_min, p->write_max);
}

void config_check_point(const struct section_check *c, struct point_config *p)
{
    validate_writable(c, p);
    if (p->kind == KIND_COUNTER)
        validate_counter(c, p);
    else
        validate_measurement(c, p);
    if (p->kind == KIND_OCCUPANCY)
        validate_occupancy(c, p);
    else if (p->occupancy_in[0] || p->occupancy_out[0] || p->occupancy_reset[0])
        POINT_ERROR(p,
                    p->occupancy_in[0]    ? "occupancy_in"
                    : p->occupancy_out[0] ? "occupancy_out"
                                          : "occupancy_reset",
                    "needs kind = occupancy");
    if (p->valid_min > p->valid_max)
        POINT_ERROR(p, "valid_min", "%g is above valid_max %g", p->valid_min, p->valid_max);
    if (p->deadband < 0)
        POINT_ERROR(p, "deadband", "must not be negative");
    if (p->deadband > 0 && p->publish != PUBLISH_CHANGE)
        POINT_ERROR(p, "deadband", "only applies with publish = change");
    if (p->publish == PUBLISH_NONE && p->kind == KIND_MEASUREMENT && p->window_ms == 0)
        POINT_ERROR(p, "publish", "none would send nothing for this point: add a window");
}

static void mqtt_error(const struct section_check *c, int line, const char *key, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));

static void mqtt_error(const struct section_check *c, int line, const char *key, const char *fmt,
                       ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    config_error_add(c->errors, "%s:%d: [mqtt] %s: %s", c->path, line, key, msg);
}

/* The secrets kept in files of their own, found and read now: a missing
 * file is a configuration error on its line, not a failed connect later. */
static void resolve_secrets(const struct section_check *c, struct mqtt_config *m)
{
    char path[CFG_TEXT_MAX], why[400];
    if (m->tls_key_file[0] && credential_path(c->path, m->tls_key_file, path, sizeof(path)) == 0)
        snprintf(m->tls_key_file, sizeof(m->tls_key_file), "%s", path);
    if (!m->password_file[0])
        return;
    int line = c->line_of(c->ctx, "password_file");
    if (m->password[0]) {
        mqtt_error(c, line, "password_file", "password is set too; keep one of them");
        return;
    }
    if (c->offline)
        return; /* the file only: the secret is looked for on the box it is for */
    if (credential_path(c->path, m->password_file, path, sizeof(path)) != 0) {
        mqtt_error(c, line, "password_file", "'%s': the path is too long", m->password_file);
        return;
    }
    if (credential_read(path, m->password, sizeof(m->password), why, sizeof(why)) != 0) {
        mqtt_error(c, line, "password_file", "%s", why);
        return;
    }
    snprintf(m->password_file, sizeof(m->password_file), "%s", path);
}

void config_check_mqtt(const struct section_check *c, struct mqtt_config *m)
{
    resolve_secrets(c, m);
    if (m->reconnect_min_ms > m->reconnect_max_ms) {
        int line = c->line_of(c->ctx, "reconnect_min");
        mqtt_error(c, line ? line : c->line_of(c->ctx, "reconnect_max"), "reconnect_min",
                   "%lld ms is longer than reconnect_max (%lld ms)", (long long)m->reconnect_min_ms,
                   (long long)m->reconnect_max_ms);
    }
    /* A TLS file that cannot be read fails only at connect time, with
     * paho's "TCP/TLS connect failure": say it here, on its line. */
    const struct {
        const char *key, *path;
    } files[] = {{"tls_ca_file", m->tls_ca_file},
                 {"tls_cert_file", m->tls_cert_file},
                 {"tls_key_file", m->tls_key_file}};
    for (size_t i = 0; !c->offline && i < sizeof(files) / sizeof(files[0]); i++)
        if (files[i].path[0] && access(files[i].path, R_OK) != 0)
            mqtt_error(c, c->line_of(c->ctx, files[i].key), files[i].key, "'%s' cannot be read: %s",
                       files[i].path, strerror(errno));
}
