#include "gateway/point_quality.h"

static bool is_sentinel(const struct point_config *pc, double raw)
{
    for (int i = 0; i < pc->invalid_value_count; i++)
        if (raw == pc->invalid_values[i])
            return true;
    return false;
}

static bool is_frozen(const struct point_config *pc, double value, struct stale_watch *w,
                      int64_t ts_ms)
{
    if (pc->stale_after_ms <= 0)
        return false;
    if (!w->known || value != w->value) {
        *w = (struct stale_watch){.known = true, .value = value, .since_ms = ts_ms};
        return false;
    }
    return ts_ms - w->since_ms >= pc->stale_after_ms;
}

enum reading_quality point_quality(const struct point_config *pc, double raw, double value,
                                   struct stale_watch *w, int64_t ts_ms)
{
    if (is_sentinel(pc, raw))
        return QUALITY_NO_DATA;
    if (value < pc->valid_min || value > pc->valid_max)
        return QUALITY_OUT_OF_RANGE;
    if (is_frozen(pc, value, w, ts_ms))
        return QUALITY_STALE;
    return QUALITY_GOOD;
}
