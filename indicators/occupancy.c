#include "indicators/occupancy.h"

#include <time.h>

int64_t occupancy_next_reset(int64_t after_ms, int reset_minute)
{
    time_t t = (time_t)(after_ms / 1000);
    struct tm local;
    localtime_r(&t, &local);
    local.tm_hour = reset_minute / 60;
    local.tm_min = reset_minute % 60;
    local.tm_sec = 0;
    local.tm_isdst = -1; /* let mktime decide: the reset follows summer time */
    time_t reset = mktime(&local);
    if ((int64_t)reset * 1000 <= after_ms) {
        local.tm_mday += 1;
        local.tm_hour = reset_minute / 60;
        local.tm_min = reset_minute % 60;
        local.tm_isdst = -1;
        reset = mktime(&local);
    }
    return (int64_t)reset * 1000;
}

void occupancy_step(struct occupancy_state *st, int reset_minute, int64_t ts_ms, uint64_t in,
                    uint64_t out)
{
    if (st->known && ts_ms >= occupancy_next_reset(st->last_ts, reset_minute))
        st->level = 0;
    int64_t level = st->level + (int64_t)in - (int64_t)out;
    st->level = level > 0 ? level : 0;
    st->last_ts = ts_ms;
    st->known = true;
}
