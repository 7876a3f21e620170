#include "outputs/mqtt/payload.h"
#include "core/clock.h"
#include "version.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static int fits(int n, size_t size)
{
    return n >= 0 && (size_t)n < size ? n : -1;
}

int topic_format_data(char *buf, size_t size, const char *prefix, const char *gateway, int layout,
                      int kind, const char *device, const char *point)
{
    if (kind == READING_RAW && layout == MQTT_LAYOUT_DEVICE)
        return fits(snprintf(buf, size, "%s/%s/readings/%s", prefix, gateway, device), size);
    return fits(snprintf(buf, size, "%s/%s/%s/%s/%s%s", prefix, gateway,
                         kind == READING_RAW ? "readings" : "indicators", device, point,
                         kind == READING_DAY ? "/day" : ""),
                size);
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
    /* Most readings are whole numbers (counts, raw registers): written
     * digit by digit they cost a tenth of printf's floating-point path,
     * and read the same as %.15g, which prints them without exponent up
     * to 15 digits. -0 keeps printf's "-0". */
    if (present && fabs(v) < 1e15 && v == (double)(long long)v && (v != 0 || !signbit(v))) {
        char digits[24];
        long long n = (long long)v;
        unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
        size_t k = sizeof(digits);
        digits[--k] = '\0';
        do
            digits[--k] = (char)('0' + u % 10);
        while ((u /= 10) > 0);
        if (n < 0)
            digits[--k] = '-';
        snprintf(buf, size, "%s", digits + k);
    } else if (present && isfinite(v)) {
        snprintf(buf, size, "%.15g", v);
    } else {
        snprintf(buf, size, "null");
    }
}

/* Appends to a payload: strings copied as they are, no format parsed. */
struct text {
    char *buf;
    size_t size, used; /* used > size - 1 once it overflowed */
};

static void put(struct text *t, const char *s)
{
    size_t n = strlen(s);
    if (t->used + n < t->size)
        memcpy(t->buf + t->used, s, n + 1);
    t->used += n;
}

static const char *clock_synced(const struct reading *r)
{
    return r->flags & FLAG_CLOCK_UNSYNCED ? "false" : "true";
}

static int format_raw(char *buf, size_t size, const struct origin *o, const struct reading *r,
                      const struct store_point *p)
{
    char ts[40], value[40];
    clock_format_utc(r->ts_ms, ts, sizeof(ts));
    bool has_value = r->quality != QUALITY_BAD && r->quality != QUALITY_NO_DATA;
    format_number(value, sizeof(value), has_value, r->value);
    return fits(
        snprintf(
            buf, size,
            "{\"schema_version\":%d,\"seq\":%lld,\"ts\":\"%s\",\"gateway\":\"%s\",\"store\":\"%s\","
            "\"device\":\"%s\",\"point\":\"%s\",\"value\":%s,\"unit\":\"%s\","
            "\"quality\":\"%s\",\"clock_synced\":%s}",
            GW_SCHEMA_VERSION, (long long)r->seq, ts, o->gateway, o->store, p->device, p->point,
            value, p->unit, quality_name(r->quality), clock_synced(r)),
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
                  {FLAG_COUNT_JUMP, "jump"},         {FLAG_CLOCK_BACK, "clock_back"},
                  {FLAG_COUNT_CATCH_UP, "catch_up"}};
    size_t used = (size_t)snprintf(buf, size, "[");
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++)
        if (flags & events[i].flag)
            used += (size_t)snprintf(buf + used, size - used, "%s\"%s\"", used > 1 ? "," : "",
                                     events[i].name);
    snprintf(buf + used, size - used, "]");
}

/* "polls_expected":96,"polls_ok":90,"covered_s":5400,"completeness":0.938:
 * each poll that went into the figure stands for one poll interval of
 * the interval. Records of a version before these fields: nulls. */
static void format_completeness(char *buf, size_t size, const struct reading *r)
{
    if (r->expected <= 0) {
        snprintf(buf, size,
                 "\"polls_expected\":null,\"polls_ok\":%lld,\"covered_s\":null,"
                 "\"completeness\":null",
                 (long long)r->samples);
        return;
    }
    double share = r->samples >= r->expected ? 1.0 : (double)r->samples / (double)r->expected;
    /* tenths of a second: enough for a 1-s interval, exact for a day */
    double covered_s = round(share * (double)(r->ts_ms - r->start_ms) / 100.0) / 10.0;
    snprintf(buf, size,
             "\"polls_expected\":%lld,\"polls_ok\":%lld,\"covered_s\":%.15g,"
             "\"completeness\":%.3g",
             (long long)r->expected, (long long)r->samples, covered_s, share);
}

/* The interval's head, shared by every indicator. */
static int format_head(char *buf, size_t size, const char *type, const struct origin *o,
                       const struct reading *r, const struct store_point *p)
{
    char start[40], end[40];
    clock_format_utc(r->start_ms, start, sizeof(start));
    clock_format_utc(r->ts_ms, end, sizeof(end));
    return snprintf(
        buf, size,
        "{\"schema_version\":%d,\"seq\":%lld,\"type\":\"%s\",\"gateway\":\"%s\",\"store\":\"%s\","
        "\"device\":\"%s\",\"point\":\"%s\",\"interval_start\":\"%s\","
        "\"interval_end\":\"%s\",\"unit\":\"%s\",",
        GW_SCHEMA_VERSION, (long long)r->seq, type, o->gateway, o->store, p->device, p->point,
        start, end, p->unit);
}

/* A count per interval or per local day; with no data, count, from and
 * to are null. */
static int format_count(char *buf, size_t size, const struct origin *o, const struct reading *r,
                        const struct store_point *p)
{
    bool day = r->kind == READING_DAY;
    int used = format_head(buf, size, day ? "day_total" : "count", o, r, p);
    if (fits(used, size) < 0)
        return -1;
    char count[40] = "null", from[42] = "null", to[42] = "null", events[120], done[160],
         date[40] = "";
    if (r->quality != QUALITY_NO_DATA) {
        snprintf(count, sizeof(count), "%.0f", r->value);
        from[0] = to[0] = '"';
        clock_format_utc(r->span_from_ms, from + 1, sizeof(from) - 2);
        clock_format_utc(r->span_to_ms, to + 1, sizeof(to) - 2);
        strcat(from, "\""), strcat(to, "\"");
    }
    if (day) { /* the local day it is the total of, for the dashboard's axis */
        char local[16];
        clock_format_local_date(r->start_ms, local, sizeof(local));
        snprintf(date, sizeof(date), "\"day\":\"%s\",", local);
    }
    format_events(events, sizeof(events), r->flags);
    format_completeness(done, sizeof(done), r);
    used +=
        snprintf(buf + used, size - (size_t)used,
                 "%s\"count\":%s,\"from\":%s,\"to\":%s,\"events\":%s,%s,"
                 "\"quality\":\"%s\",\"clock_synced\":%s}",
                 date, count, from, to, events, done, quality_name(r->quality), clock_synced(r));
    return fits(used, size);
}

static int format_window(char *buf, size_t size, const struct origin *o, const struct reading *r,
                         const struct store_point *p)
{
    int used = format_head(buf, size, "window", o, r, p);
    if (fits(used, size) < 0)
        return -1;
    char avg[40], min[40], max[40], last[40], done[160];
    bool any = r->samples > 0;
    format_number(avg, sizeof(avg), any, r->value);
    if (any && isfinite(r->value)) /* a mean has no exact form worth 17 digits */
        snprintf(avg, sizeof(avg), "%.12g", r->value);
    format_number(min, sizeof(min), any, r->min);
    format_number(max, sizeof(max), any, r->max);
    format_number(last, sizeof(last), any, r->last);
    format_completeness(done, sizeof(done), r);
    used += snprintf(buf + used, size - (size_t)used,
                     "\"avg\":%s,\"min\":%s,\"max\":%s,\"last\":%s,\"samples\":%lld,"
                     "\"excluded\":%lld,%s,\"quality\":\"%s\",\"clock_synced\":%s}",
                     avg, min, max, last, (long long)r->samples, (long long)r->excluded, done,
                     quality_name(r->quality), clock_synced(r));
    return fits(used, size);
}

int payload_format_reading(char *buf, size_t size, const struct origin *o, const struct reading *r,
                           const struct store_point *p)
{
    switch (r->kind) {
    case READING_COUNT:
    case READING_DAY:
        return format_count(buf, size, o, r, p);
    case READING_WINDOW:
        return format_window(buf, size, o, r, p);
    default:
        return format_raw(buf, size, o, r, p);
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
    return topic_format_data(buf, size, prefix, gateway, layout, rec->r[0].kind, p->device,
                             p->point);
}

size_t payload_record_max(const struct record *rec)
{
    /* A point's entry: its name and unit (CFG_NAME_MAX, CFG_UNIT_MAX), a
     * number of at most 24 characters, the quality, the punctuation. */
    return 256 + (size_t)rec->n * (CFG_NAME_MAX + CFG_UNIT_MAX + 96) + PAYLOAD_MAX;
}

static int format_device(char *buf, size_t size, const struct origin *o, const struct record *rec,
                         const struct store *s)
{
    const struct store_point *first = store_point(s, rec->r[0].point_id);
    char ts[40];
    clock_format_utc(rec->r[0].ts_ms, ts, sizeof(ts));
    int used = snprintf(
        buf, size,
        "{\"schema_version\":%d,\"seq\":%lld,\"ts\":\"%s\",\"gateway\":\"%s\",\"store\":\"%s\","
        "\"device\":\"%s\",\"clock_synced\":%s,\"points\":{",
        GW_SCHEMA_VERSION, (long long)rec->seq, ts, o->gateway, o->store, first->device,
        clock_synced(rec->r));
    if (fits(used, size) < 0)
        return -1;
    /* The hot path: one entry per point of every poll. */
    struct text t = {buf, size, (size_t)used};
    for (uint16_t i = 0; i < rec->n && t.used < size; i++) {
        const struct reading *r = &rec->r[i];
        const struct store_point *p = store_point(s, r->point_id);
        if (!p || !p->point[0])
            return -1;
        char value[40];
        format_number(value, sizeof(value),
                      r->quality != QUALITY_BAD && r->quality != QUALITY_NO_DATA, r->value);
        put(&t, i ? ",\"" : "\"");
        put(&t, p->point);
        put(&t, "\":{\"value\":");
        put(&t, value);
        put(&t, ",\"unit\":\"");
        put(&t, p->unit);
        put(&t, "\",\"quality\":\"");
        put(&t, quality_name(r->quality));
        put(&t, "\"}");
    }
    put(&t, "}}");
    return t.used < size ? (int)t.used : -1;
}

int payload_format_record(char *buf, size_t size, const char *gateway, int layout,
                          const struct record *rec, const struct store *s)
{
    struct origin o = {.gateway = gateway, .store = store_identity(s)};
    if (device_layout(layout, rec))
        return format_device(buf, size, &o, rec, s);
    const struct store_point *p = store_point(s, rec->r[0].point_id);
    if (!p || !p->point[0])
        return -1;
    return payload_format_reading(buf, size, &o, rec->r, p);
}
