/* Visitor counters: a cumulative device counter becomes counts per
 * wall-clock interval.
 *
 * The device counts up from zero, rolls over at its top (wrap) and starts
 * again from zero when it loses power (reset). A fall of the counter is
 * read as a wrap when the modular difference is a plausible step, as a
 * reset when the new value is small, and otherwise flagged and not
 * counted. An increase larger than any plausible step is flagged too. */
#ifndef GW_COUNTER_H
#define GW_COUNTER_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/intervals.h"
#include "gateway/reading.h"

struct counter_limits {
    int bits;           /* 16, 32 or 64: the counter rolls over at 2^bits */
    uint64_t max_step;  /* the largest increase plausible between two readings */
    uint64_t reset_max; /* a fall to at most this is a restart from zero */
};

/* Defaults for a counter of `bits` bits: a quarter and a 64th of its range. */
struct counter_limits counter_limits_default(int bits);

/* The visitors between two readings of the counter; *flag says how the
 * step was read (0, FLAG_COUNT_WRAP, _RESET, _DROP or _JUMP). */
uint64_t counter_increase(const struct counter_limits *lim, uint64_t before, uint64_t now,
                          uint16_t *flag);

/* One counter point's state between readings; it is persisted in the store
 * so that a restart neither loses counts nor takes a new baseline. */
struct count_state {
    bool has_last;    /* a reading was seen: later ones are counted from it */
    uint64_t last;    /* the counter at that reading */
    int64_t last_ts;  /* and its time */
    bool open;        /* an interval is being counted */
    int64_t start_ms; /* that interval, [start, end) */
    int64_t end_ms;
    int64_t from_ms; /* the reading its count starts from */
    int64_t to_ms;   /* the newest reading in it */
    uint64_t count;
    uint16_t flags; /* FLAG_COUNT_* seen in the interval */
    int64_t sent_end_ms; /* end of the newest interval closed: none starts before it */
};

/* Feeds one good reading at ts with counter value `now`. An interval that
 * the reading falls outside of is closed first and written to *closed
 * (returns true). *added (if not NULL) is what the reading counted. */
bool count_feed(struct count_state *st, const struct counter_limits *lim, int64_t interval_ms,
                int64_t ts, uint64_t now, struct reading *closed, uint64_t *added);

/* Closes the open interval once the wall clock is past its end by grace:
 * a device that stopped answering still gets its last count out. */
bool count_close_due(struct count_state *st, int64_t now_ms, int64_t grace_ms,
                     struct reading *closed);


#endif
