/* Aggregates of a measurement per wall-clock window: average, minimum,
 * maximum, last and how many readings went in. Readings of bad quality
 * (sentinels, out of range, stale) are counted as excluded and leave the
 * numbers alone. */
#ifndef GW_WINDOW_H
#define GW_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/reading.h"

struct window_state {
    bool open;
    int64_t start_ms, end_ms;
    int64_t samples, excluded;
    double sum, min, max, last;
    uint16_t flags;      /* FLAG_CLOCK_UNSYNCED if any reading in it was */
    int64_t sent_end_ms; /* end of the newest window closed: none starts before it */
};

/* Most records one window_feed or window_close_due writes. */
#define WINDOW_EMITS_MAX 2

/* Feeds one reading. Writes to out what that completes (returns how many):
 * the window the reading falls outside of, and the windows between the
 * last one sent and the one the reading opens, as one record with no data. */
size_t window_feed(struct window_state *st, int64_t window_ms, int64_t ts, double value,
                   int quality, struct reading *out);

/* Closes the open window once the wall clock is past its end by grace;
 * windows the wall clock has passed with no reading at all are sent as one
 * record with no data. Returns how many records it wrote. */
size_t window_close_due(struct window_state *st, int64_t window_ms, int64_t now_ms,
                        int64_t grace_ms, struct reading *out);

#endif
