#include "gateway/payload.h"
#include "gateway/clock.h"

#include <math.h>
#include <stdio.h>

static int fits(int n, size_t size)
{
    return n >= 0 && (size_t)n < size ? n : -1;
}

int topic_format_reading(char *buf, size_t size, const char *prefix, const char *gateway,
                         const struct store_point *p)
{
    return fits(snprintf(buf, size, "%s/%s/readings/%s/%s", prefix, gateway, p->device, p->point),
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

int payload_format_reading(char *buf, size_t size, const char *gateway, const struct reading *r,
                           const struct store_point *p)
{
    char ts[40], value[32];
    clock_format_utc(r->ts_ms, ts, sizeof(ts));
    if (r->quality == QUALITY_GOOD && isfinite(r->value))
        snprintf(value, sizeof(value), "%.15g", r->value);
    else
        snprintf(value, sizeof(value), "null");
    return fits(snprintf(buf, size,
                         "{\"seq\":%lld,\"ts\":\"%s\",\"gateway\":\"%s\",\"device\":\"%s\","
                         "\"point\":\"%s\",\"value\":%s,\"unit\":\"%s\",\"quality\":\"%s\"}",
                         (long long)r->seq, ts, gateway, p->device, p->point, value, p->unit,
                         r->quality == QUALITY_GOOD ? "good" : "bad"),
                size);
}
