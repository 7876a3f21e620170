#include "drivers/window.h"
#include "drivers/counter.h"

static void emit(struct window_state *st, struct reading *out)
{
    bool empty = st->samples == 0;
    *out = (struct reading){.kind = READING_WINDOW,
                            .ts_ms = st->end_ms,
                            .start_ms = st->start_ms,
                            .value = empty ? 0 : st->sum / (double)st->samples,
                            .min = st->min,
                            .max = st->max,
                            .last = st->last,
                            .samples = st->samples,
                            .excluded = st->excluded,
                            .flags = st->flags,
                            .quality = empty ? QUALITY_NO_DATA : QUALITY_GOOD};
    st->open = false;
}

bool window_feed(struct window_state *st, int64_t window_ms, int64_t ts, double value, int quality,
                 struct reading *closed)
{
    bool emitted = false;
    if (st->open && (ts >= st->end_ms || ts < st->start_ms)) {
        emit(st, closed);
        emitted = true;
    }
    if (!st->open) {
        *st = (struct window_state){.open = true,
                                    .start_ms = interval_start(ts, window_ms),
                                    .end_ms = interval_start(ts, window_ms) + window_ms};
    }
    if (!quality_is_usable(quality)) {
        st->excluded++;
        return emitted;
    }
    if (st->samples == 0 || value < st->min)
        st->min = value;
    if (st->samples == 0 || value > st->max)
        st->max = value;
    st->sum += value;
    st->last = value;
    st->samples++;
    return emitted;
}

bool window_close_due(struct window_state *st, int64_t now_ms, int64_t grace_ms,
                      struct reading *closed)
{
    if (!st->open || now_ms < st->end_ms + grace_ms)
        return false;
    emit(st, closed);
    return true;
}
