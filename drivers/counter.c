#include "drivers/counter.h"

#include <string.h>

static uint64_t range_mask(int bits)
{
    return bits >= 64 ? UINT64_MAX : (UINT64_C(1) << bits) - 1;
}

struct counter_limits counter_limits_default(int bits)
{
    uint64_t range_quarter = bits >= 64 ? UINT64_C(1) << 62 : UINT64_C(1) << (bits - 2);
    uint64_t range_64th = bits >= 64 ? UINT64_C(1) << 58 : UINT64_C(1) << (bits - 6);
    return (struct counter_limits){
        .bits = bits, .max_step = range_quarter, .reset_max = range_64th};
}

uint64_t counter_increase(const struct counter_limits *lim, uint64_t before, uint64_t now,
                          uint16_t *flag)
{
    uint64_t mask = range_mask(lim->bits);
    before &= mask;
    now &= mask;
    *flag = 0;
    if (now >= before) {
        if (now - before <= lim->max_step)
            return now - before;
        *flag = FLAG_COUNT_JUMP;
        return 0;
    }
    uint64_t around = (now - before) & mask; /* the step if the counter rolled over */
    if (around <= lim->max_step) {
        *flag = FLAG_COUNT_WRAP;
        return around;
    }
    if (now <= lim->reset_max) {
        /* Everything since the restart; what came between the last reading
         * and the power loss is gone with the device's memory. */
        *flag = FLAG_COUNT_RESET;
        return now;
    }
    *flag = FLAG_COUNT_DROP;
    return 0;
}

static void emit(struct count_state *st, struct reading *out)
{
    bool doubtful = st->flags & (FLAG_COUNT_DROP | FLAG_COUNT_JUMP);
    *out = (struct reading){.kind = READING_COUNT,
                            .ts_ms = st->end_ms,
                            .start_ms = st->start_ms,
                            .value = (double)st->count,
                            .span_from_ms = st->from_ms,
                            .span_to_ms = st->to_ms,
                            .flags = st->flags,
                            .quality = doubtful ? QUALITY_UNCERTAIN : QUALITY_GOOD};
    st->open = false;
    st->sent_end_ms = st->end_ms;
}

static void open_interval(struct count_state *st, int64_t interval_ms, int64_t ts, int64_t from)
{
    st->open = true;
    st->start_ms = interval_start(ts, interval_ms);
    st->flags = 0;
    if (st->start_ms < st->sent_end_ms) {
        st->start_ms = st->sent_end_ms;
        st->flags = FLAG_CLOCK_BACK;
    }
    st->end_ms = interval_end(st->start_ms, interval_ms);
    st->from_ms = from;
    st->to_ms = ts;
    st->count = 0;
}

bool count_feed(struct count_state *st, const struct counter_limits *lim, int64_t interval_ms,
                int64_t ts, uint64_t now, struct reading *closed, uint64_t *added)
{
    bool emitted = false;
    uint64_t step = 0;
    /* Past the open interval: it is finished. Before it (the wall clock
     * was set back): counted in it, as an interval once sent is never sent
     * again with other numbers. */
    if (st->open && ts < st->start_ms)
        st->flags |= FLAG_CLOCK_BACK;
    if (st->open && ts >= st->end_ms) {
        emit(st, closed);
        emitted = true;
    }
    if (!st->has_last) {
        open_interval(st, interval_ms, ts, ts);
        st->flags |= FLAG_COUNT_BASELINE;
    } else {
        if (!st->open)
            open_interval(st, interval_ms, ts, st->last_ts);
        uint16_t flag;
        step = counter_increase(lim, st->last, now, &flag);
        st->count += step;
        st->flags |= flag;
        st->to_ms = ts;
    }
    st->has_last = true;
    st->last = now;
    st->last_ts = ts;
    if (added)
        *added = step;
    return emitted;
}

bool count_close_due(struct count_state *st, int64_t now_ms, int64_t grace_ms,
                     struct reading *closed)
{
    if (!st->open || now_ms < st->end_ms + grace_ms)
        return false;
    emit(st, closed);
    return true;
}
