#include "indicators/intervals.h"

#include <stdbool.h>
#include <time.h>

#define HOUR_MS (3600 * 1000LL)
#define DAY_MS (24 * HOUR_MS)

static bool local_aligned(int64_t interval_ms)
{
    return interval_ms >= HOUR_MS && DAY_MS % interval_ms == 0;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Local midnight of the day that holds ts, and of the next day: mktime
 * with tm_isdst = -1 finds the offset each midnight has. */
static void local_day(int64_t ts_ms, int64_t *start_ms, int64_t *next_ms)
{
    time_t t = (time_t)floor_div(ts_ms, 1000);
    struct tm day;
    localtime_r(&t, &day);
    day.tm_hour = day.tm_min = day.tm_sec = 0;
    day.tm_isdst = -1;
    struct tm next = day;
    *start_ms = (int64_t)mktime(&day) * 1000;
    next.tm_mday += 1;
    next.tm_isdst = -1;
    *next_ms = (int64_t)mktime(&next) * 1000;
}

int64_t interval_start(int64_t ts_ms, int64_t interval_ms)
{
    if (!local_aligned(interval_ms))
        return floor_div(ts_ms, interval_ms) * interval_ms;
    int64_t day, next;
    local_day(ts_ms, &day, &next);
    return day + (ts_ms - day) / interval_ms * interval_ms;
}

int64_t interval_end(int64_t start_ms, int64_t interval_ms)
{
    if (!local_aligned(interval_ms))
        return start_ms + interval_ms;
    int64_t day, next;
    local_day(start_ms, &day, &next);
    if (interval_ms == DAY_MS)
        return next;
    int64_t end = day + ((start_ms - day) / interval_ms + 1) * interval_ms;
    return end < next ? end : next;
}
