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
    st->sent_end_ms = st->end_ms;
}

bool window_feed(struct window_state *st, int64_t window_ms, int64_t ts, double value, int quality,
                 struct reading *closed)
{
    bool emitted = false;
    /* As for counts: a window once sent is never sent again; after the
     * clock went back, samples go to the window after the last one sent. */
    if (st->open && ts >= st->end_ms) {
        emit(st, closed);
        emitted = true;
    }
    if (!st->open) {
        int64_t start = interval_start(ts, window_ms);
        if (start < st->sent_end_ms)
            start = st->sent_end_ms;
        *st = (struct window_state){.open = true,
                                    .start_ms = start,
                                    .end_ms = interval_end(start, window_ms),
                                    .sent_end_ms = st->sent_end_ms};
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
