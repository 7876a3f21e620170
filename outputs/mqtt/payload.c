#include "outputs/mqtt/payload.h"
#include "gateway/clock.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>

static int fits(int n, size_t size)
{
    return n >= 0 && (size_t)n < size ? n : -1;
}

int topic_format_data(char *buf, size_t size, const char *prefix, const char *gateway, int layout,
                      bool indicator, const char *device, const char *point)
{
    if (!indicator && layout == MQTT_LAYOUT_DEVICE)
        return fits(snprintf(buf, size, "%s/%s/readings/%s", prefix, gateway, device), size);
    return fits(snprintf(buf, size, "%s/%s/%s/%s/%s", prefix, gateway,
                         indicator ? "indicators" : "readings", device, point),
                size);
}

int topic_format_reading(char *buf, size_t size, const char *prefix, const char *gateway,
                         const struct reading *r, const struct store_point *p)
{
    return topic_format_data(buf, size, prefix, gateway, MQTT_LAYOUT_POINT, r->kind != READING_RAW,
                             p->device, p->point);
}

int topic_format_status(char *buf, size_t size, const char *prefix, const char *gateway)
{
    return fits(snprintf(buf, size, "%s/%s/status", prefix, gateway), size);
}

int topic_format_health(char *buf, size_t size, const char *prefix, const char *gateway)
{
    return fits(snprintf(buf, size, "%s/%s/health", prefix, gateway), size);
}

int topic_format_device_meta(char *buf, size_t size, const char *prefix, const char *gateway,
                             const char *device)
{
    return fits(snprintf(buf, size, "%s/%s/devices/%s/meta", prefix, gateway, device), size);
}

const char *const reading_quality_names[] = {"good",         "bad",   "no_data",
                                             "out_of_range", "stale", "uncertain"};

static const char *quality_name(int q)
{
    return q >= 0 && q <= QUALITY_UNCERTAIN ? reading_quality_names[q] : "bad";
}

/* A number as JSON, null for what JSON cannot carry. 15 significant digits:
 * a register value after a decimal scale reads as the device meant it
 * (-11.7, not -11.700000000000001), and a float32 at its shortest form. */
static void format_number(char *buf, size_t size, bool present, double v)
{
    if (present && isfinite(v))
        snprintf(buf, size, "%.15g", v);
    else
        snprintf(buf, size, "null");
}

static const char *clock_synced(const struct reading *r)
{
    return r->flags & FLAG_CLOCK_UNSYNCED ? "false" : "true";
}

static int format_raw(char *buf, size_t size, const char *gateway, const struct reading *r,
                      const struct store_point *p)
{
    char ts[40], value[40];
    clock_format_utc(r->ts_ms, ts, sizeof(ts));
    bool has_value = r->quality != QUALITY_BAD && r->quality != QUALITY_NO_DATA;
    format_number(value, sizeof(value), has_value, r->value);
    return fits(snprintf(buf, size,
                         "{\"seq\":%lld,\"ts\":\"%s\",\"gateway\":\"%s\",\"device\":\"%s\","
                         "\"point\":\"%s\",\"value\":%s,\"unit\":\"%s\",\"quality\":\"%s\","
                         "\"clock_synced\":%s}",
                         (long long)r->seq, ts, gateway, p->device, p->point, value, p->unit,
                         quality_name(r->quality), clock_synced(r)),
                size);
}

/* ["wrap","reset"]: what happened to the counter in the interval. */
static void format_events(char *buf, size_t size, uint16_t flags)
{
    static const struct {
        uint16_t flag;
        const char *name;
    } events[] = {{FLAG_COUNT_BASELINE, "baseline"}, {FLAG_COUNT_WRAP, "wrap"},
                  {FLAG_COUNT_RESET, "reset"},       {FLAG_COUNT_DROP, "drop"},
                  {FLAG_COUNT_JUMP, "jump"},         {FLAG_CLOCK_BACK, "clock_back"}};
    size_t used = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
        if (flags & events[i].flag)
            used += (size_t)snprintf(buf + used, size - used, "%s\"%s\"", used > 1 ? "," : "",
                                     events[i].name);
    snprintf(buf + used, size - used, "]");
}

static int format_count(char *buf, size_t size, const char *gateway, const struct reading *r,
                        const struct store_point *p)
{
    char start[40], end[40], from[40], to[40], events[80];
    clock_format_utc(r->start_ms, start, sizeof(start));
    clock_format_utc(r->ts_ms, end, sizeof(end));
    clock_format_utc(r->span_from_ms, from, sizeof(from));
    clock_format_utc(r->span_to_ms, to, sizeof(to));
    format_events(events, sizeof(events), r->flags);
    return fits(snprintf(buf, size,
                         "{\"seq\":%lld,\"type\":\"count\",\"gateway\":\"%s\",\"device\":\"%s\","
                         "\"point\":\"%s\",\"interval_start\":\"%s\",\"interval_end\":\"%s\","
                         "\"count\":%.0f,\"unit\":\"%s\",\"from\":\"%s\",\"to\":\"%s\","
                         "\"events\":%s,\"quality\":\"%s\",\"clock_synced\":%s}",
                         (long long)r->seq, gateway, p->device, p->point, start, end, r->value,
                         p->unit, from, to, events, quality_name(r->quality), clock_synced(r)),
                size);
}

static int format_window(char *buf, size_t size, const char *gateway, const struct reading *r,
                         const struct store_point *p)
{
    char start[40], end[40], avg[40], min[40], max[40], last[40];
    clock_format_utc(r->start_ms, start, sizeof(start));
    clock_format_utc(r->ts_ms, end, sizeof(end));
    bool any = r->samples > 0;
    format_number(avg, sizeof(avg), any, r->value);
    if (any && isfinite(r->value)) /* a mean has no exact form worth 17 digits */
        snprintf(avg, sizeof(avg), "%.12g", r->value);
    format_number(min, sizeof(min), any, r->min);
    format_number(max, sizeof(max), any, r->max);
    format_number(last, sizeof(last), any, r->last);
    return fits(snprintf(buf, size,
                         "{\"seq\":%lld,\"type\":\"window\",\"gateway\":\"%s\",\"device\":\"%s\","
                         "\"point\":\"%s\",\"interval_start\":\"%s\",\"interval_end\":\"%s\","
                         "\"unit\":\"%s\",\"avg\":%s,\"min\":%s,\"max\":%s,\"last\":%s,"
                         "\"samples\":%lld,\"excluded\":%lld,\"quality\":\"%s\","
                         "\"clock_synced\":%s}",
                         (long long)r->seq, gateway, p->device, p->point, start, end, p->unit, avg,
                         min, max, last, (long long)r->samples, (long long)r->excluded,
                         quality_name(r->quality), clock_synced(r)),
                size);
}

int payload_format_reading(char *buf, size_t size, const char *gateway, const struct reading *r,
                           const struct store_point *p)
{
    switch (r->kind) {
    case READING_COUNT:
        return format_count(buf, size, gateway, r, p);
    case READING_WINDOW:
        return format_window(buf, size, gateway, r, p);
    default:
        return format_raw(buf, size, gateway, r, p);
    }
}

static bool device_layout(int layout, const struct record *rec)
{
    return layout == MQTT_LAYOUT_DEVICE && rec->r[0].kind == READING_RAW;
}

int topic_format_record(char *buf, size_t size, const char *prefix, const char *gateway, int layout,
                        const struct record *rec, const struct store *s)
{
    const struct store_point *p = store_point(s, rec->r[0].point_id);
    if (!p || !p->device[0])
        return -1;
    return topic_format_data(buf, size, prefix, gateway, layout, rec->r[0].kind != READING_RAW,
                             p->device, p->point);
}

size_t payload_record_max(const struct record *rec)
{
    /* A point's entry: its name and unit (CFG_NAME_MAX, CFG_UNIT_MAX), a
     * number of at most 24 characters, the quality, the punctuation. */
    return 256 + (size_t)rec->n * (CFG_NAME_MAX + CFG_UNIT_MAX + 96) + PAYLOAD_MAX;
}

static int format_device(char *buf, size_t size, const char *gateway, const struct record *rec,
                         const struct store *s)
{
    const struct store_point *first = store_point(s, rec->r[0].point_id);
    char ts[40];
    clock_format_utc(rec->r[0].ts_ms, ts, sizeof(ts));
    int used = snprintf(buf, size,
                        "{\"seq\":%lld,\"ts\":\"%s\",\"gateway\":\"%s\",\"device\":\"%s\","
                        "\"clock_synced\":%s,\"points\":{",
                        (long long)rec->seq, ts, gateway, first->device, clock_synced(rec->r));
    for (uint16_t i = 0; i < rec->n && fits(used, size) >= 0; i++) {
        const struct reading *r = &rec->r[i];
        const struct store_point *p = store_point(s, r->point_id);
        if (!p || !p->point[0])
            return -1;
        char value[40];
        format_number(value, sizeof(value),
                      r->quality != QUALITY_BAD && r->quality != QUALITY_NO_DATA, r->value);
        used += snprintf(buf + used, size - (size_t)used,
                         "%s\"%s\":{\"value\":%s,\"unit\":\"%s\",\"quality\":\"%s\"}", i ? "," : "",
                         p->point, value, p->unit, quality_name(r->quality));
    }
    if (fits(used, size) < 0)
        return -1;
    used += snprintf(buf + used, size - (size_t)used, "}}");
    return fits(used, size);
}

int payload_format_record(char *buf, size_t size, const char *gateway, int layout,
                          const struct record *rec, const struct store *s)
{
    if (device_layout(layout, rec))
        return format_device(buf, size, gateway, rec, s);
    const struct store_point *p = store_point(s, rec->r[0].point_id);
    if (!p || !p->point[0])
        return -1;
    return payload_format_reading(buf, size, gateway, rec->r, p);
}
