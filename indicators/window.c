#include "indicators/window.h"
#include "indicators/counter.h"

static size_t emit(struct window_state *st, struct reading *out)
{
    if (st->samples == 0) {
        *out = indicator_no_data(READING_WINDOW, st->start_ms, st->end_ms);
        out->excluded = st->excluded;
        out->flags = st->flags;
    } else {
        *out = (struct reading){.kind = READING_WINDOW,
                                .ts_ms = st->end_ms,
                                .start_ms = st->start_ms,
                                .value = st->sum / (double)st->samples,
                                .min = st->min,
                                .max = st->max,
                                .last = st->last,
                                .samples = st->samples,
                                .excluded = st->excluded,
                                .flags = st->flags,
                                .quality = QUALITY_GOOD};
    }
    st->open = false;
    st->sent_end_ms = st->end_ms;
    return 1;
}

size_t window_feed(struct window_state *st, int64_t window_ms, int64_t ts, double value,
                   int quality, struct reading *out)
{
    size_t k = 0;
    /* As for counts: a window once sent is never sent again; after the
     * clock went back, samples go to the window after the last one sent. */
    if (st->open && ts >= st->end_ms)
        k += emit(st, out);
    if (!st->open) {
        int64_t start = interval_start(ts, window_ms);
        k += indicator_gap(READING_WINDOW, &st->sent_end_ms, start, out + k);
        if (start < st->sent_end_ms)
            start = st->sent_end_ms;
        *st = (struct window_state){.open = true,
                                    .start_ms = start,
                                    .end_ms = interval_end(start, window_ms),
                                    .sent_end_ms = st->sent_end_ms};
    }
    if (!quality_is_usable(quality)) {
        st->excluded++;
        return k;
    }
    if (st->samples == 0 || value < st->min)
        st->min = value;
    if (st->samples == 0 || value > st->max)
        st->max = value;
    st->sum += value;
    st->last = value;
    st->samples++;
    return k;
}

size_t window_close_due(struct window_state *st, int64_t window_ms, int64_t now_ms,
                        int64_t grace_ms, struct reading *out)
{
    size_t k = 0;
    if (st->open && now_ms >= st->end_ms + grace_ms)
        k += emit(st, out);
    if (!st->open)
        k += indicator_gap(READING_WINDOW, &st->sent_end_ms,
                           interval_start(now_ms - grace_ms, window_ms), out + k);
    return k;
}
