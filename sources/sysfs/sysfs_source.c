#include "sources/sysfs/sysfs_source.h"
#include "core/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* How the number in the file is written. */
enum sysfs_format {
    FORMAT_DECIMAL,  /* a signed integer: millidegrees, millivolts */
    FORMAT_UNSIGNED, /* an unsigned integer: a counter (rx_packets) */
    FORMAT_HEX,      /* 0x50005: flags (the Pi's get_throttled) */
};
static const char *const format_names[] = {"decimal", "unsigned", "hex", NULL};

struct sysfs_point {
    char file[256];
    int format;
};
_Static_assert(sizeof(struct sysfs_point) <= SOURCE_POINT_BYTES, "a sysfs point fits");

static const struct sysfs_point *point_of(const struct source_point *p)
{
    return (const struct sysfs_point *)(const void *)p->bytes;
}

static const struct source_key keys[] = {
    {"file", SOURCE_KEY_TEXT, offsetof(struct sysfs_point, file),
     sizeof(((struct sysfs_point *)0)->file), 0, 0, NULL, true},
    {"format", SOURCE_KEY_CHOICE, offsetof(struct sysfs_point, format), sizeof(int), 0, 0,
     format_names, false},
};
static const struct source_keys point_keys = {keys, sizeof(keys) / sizeof(keys[0])};

struct sysfs_device {
    struct source_point *points;
    size_t count;
};

/* The box needs no connection: a bus is a token. */
static void *bus_open(const struct bus_config *bus, const struct bus_kind *kind)
{
    (void)bus, (void)kind;
    static int the_box;
    return &the_box;
}

static void bus_close(void *bus)
{
    (void)bus;
}

static void device_remove(void *device)
{
    struct sysfs_device *d = device;
    if (!d)
        return;
    free(d->points);
    free(d);
}

static void *device_add(const struct source_device *cfg, const struct source_point *points,
                        size_t count)
{
    (void)cfg;
    struct sysfs_device *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->count = count;
    d->points = calloc(count + 1, sizeof(*d->points));
    if (!d->points) {
        device_remove(d);
        return NULL;
    }
    memcpy(d->points, points, count * sizeof(*points));
    return d;
}

/* The file's number; false when it holds none. */
static bool parse(const char *text, int format, double *out)
{
    char *end;
    errno = 0;
    if (format == FORMAT_DECIMAL)
        *out = (double)strtoll(text, &end, 10);
    else
        *out = (double)strtoull(text, &end, format == FORMAT_HEX ? 16 : 10);
    while (*end == '\n' || *end == ' ')
        end++;
    return end != text && *end == '\0' && errno == 0;
}

/* One file read; -1 with why when it cannot be (gone, not readable: the
 * device fails like one that does not answer). Opened for each read, so
 * that a file replaced by a rename (a script's output under /run) is
 * followed: three syscalls a point, microseconds on a sysfs attribute. */
static int read_point(const struct sysfs_device *d, size_t i, char *text, size_t size, char *why,
                      size_t why_size)
{
    const struct sysfs_point *p = point_of(&d->points[i]);
    int fd = open(p->file, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, text, size - 1) : -1;
    if (n < 0)
        snprintf(why, why_size, "%.180s: %s", p->file, strerror(errno));
    if (fd >= 0)
        close(fd);
    if (n < 0)
        return -1;
    text[n] = '\0';
    return 0;
}

static enum source_result device_poll(void *bus, void *device, struct source_poll *out,
                                      const struct source_trace *trace)
{
    (void)bus;
    struct sysfs_device *d = device;
    enum source_result result = SOURCE_OK;
    out->count = 0;
    out->why[0] = '\0';
    out->stray_bytes = 0;
    out->ts_ms = clock_wall_ms();
    for (size_t i = 0; i < d->count; i++) {
        char text[64];
        int64_t began = trace ? clock_mono_us() : 0;
        int rc = read_point(d, i, text, sizeof(text), out->why, sizeof(out->why));
        if (trace)
            trace->request(trace->ctx, point_of(&d->points[i])->file, NULL, 0,
                           rc == 0 ? SOURCE_OK : SOURCE_IO, rc == 0 ? "" : out->why,
                           clock_mono_us() - began);
        if (rc != 0) {
            result = SOURCE_IO;
            continue;
        }
        struct source_sample *s = &out->samples[out->count++];
        s->point = (uint32_t)i;
        s->ok = parse(text, point_of(&d->points[i])->format, &s->raw);
    }
    return result;
}

static enum source_result device_write(void *bus, void *device, size_t point, double raw,
                                       struct source_write *io)
{
    (void)bus, (void)device, (void)point, (void)raw;
    snprintf(io->why, sizeof(io->why), "a sysfs point takes no writes");
    io->took_us = 0;
    return SOURCE_REFUSED;
}

static struct source_value value_of(const struct source_point *point)
{
    int format = point_of(point)->format;
    return (struct source_value){.type = format_names[format],
                                 .bits = 64,
                                 .integral = true,
                                 .is_signed = format == FORMAT_DECIMAL,
                                 .raw_min = format == FORMAT_DECIMAL ? -9.2233720368547758e18 : 0,
                                 .raw_max = 1.8446744073709552e19};
}

static size_t describe(const struct source_point *point, struct source_field *out)
{
    const struct sysfs_point *p = point_of(point);
    out[0] = (struct source_field){"file", p->file, 0};
    out[1] = (struct source_field){"format", format_names[p->format], 0};
    return 2;
}

/* Files are read in the order the device lists them. */
static struct source_order order_of(const struct source_point *point)
{
    (void)point;
    return (struct source_order){0, 0};
}

static void name_of(const struct source_point *point, char *buf, size_t size)
{
    snprintf(buf, size, "%s", point_of(point)->file);
}

static size_t check_points(const struct source_point *points, const bool *writable, size_t n,
                           struct source_problem *out, size_t max)
{
    (void)writable;
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        if (point_of(&points[i])->file[0] == '/')
            continue;
        if (found < max) {
            out[found] = (struct source_problem){.point = i, .key = "file", .other = SIZE_MAX};
            snprintf(out[found].why, sizeof(out[found].why),
                     "'%.160s' is not an absolute path (e.g. /sys/class/thermal/thermal_zone0/temp)",
                     point_of(&points[i])->file);
        }
        found++;
    }
    return found;
}

const struct source_ops sysfs_source = {
    .open = bus_open,
    .close = bus_close,
    .add_device = device_add,
    .remove_device = device_remove,
    .poll = device_poll,
    .write = device_write,
    .point_keys = &point_keys,
    .value_of = value_of,
    .describe = describe,
    .order_of = order_of,
    .name_of = name_of,
    .check_points = check_points,
};
