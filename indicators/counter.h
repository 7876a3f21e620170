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
#include <stddef.h>
#include <stdint.h>

#include "indicators/intervals.h"
#include "core/reading.h"

struct counter_limits {
    int bits;           /* 16, 32 or 64: the counter rolls over at 2^bits */
    uint64_t max_step;  /* the largest increase plausible between two readings */
    uint64_t reset_max; /* a fall to at most this is a restart from zero */
};

/* Defaults for a counter of `bits` bits: a quarter and a 64th of its range. */
struct counter_limits counter_limits_default(int bits);

/* What the device's power-on counter (where its profile has one) says
 * about the time between two readings. */
enum restart_hint {
    RESTART_UNKNOWN, /* no power-on counter, or it was not read: judge by the values */
    RESTART_NONE,    /* unchanged: a fall is a wrap (or doubtful), never a reset */
    RESTART_SEEN,    /* changed: the device restarted from zero in between */
};

/* The visitors between two readings of the counter; *flag says how the
 * step was read (0, FLAG_COUNT_WRAP, _RESET, _DROP or _JUMP). The decision
 * table is in docs/mqtt-contract.md, "Wrap or power loss". */
uint64_t counter_increase(const struct counter_limits *lim, uint64_t before, uint64_t now,
                          enum restart_hint restart, uint16_t *flag);

/* One counter point's counts over one kind of interval (the point's
 * count_interval, or the local day) between readings; it is persisted in
 * the store so that a restart neither loses counts nor takes a new
 * baseline. */
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
    int64_t polls;       /* readings counted in it */
    uint16_t flags;      /* FLAG_COUNT_* seen in the interval */
    int64_t sent_end_ms; /* end of the newest interval sent: none starts before it */
};

/* Most records one count_feed or count_close_due writes: an interval with
 * no data before the one closed or opened, and that one. */
#define COUNT_EMITS_MAX 2

/* Feeds one good reading at ts with counter value `now`. Writes to out
 * what it completes (returns how many, at most COUNT_EMITS_MAX): the open
 * interval the reading falls outside of, and the intervals between the
 * last one sent and the one the reading opens, as one record with no data.
 * *added (if not NULL) is what the reading counted. */
size_t count_feed(struct count_state *st, const struct counter_limits *lim, int64_t interval_ms,
                  int64_t ts, uint64_t now, enum restart_hint restart, struct reading *out,
                  uint64_t *added);

/* Once the wall clock is past the end of the open interval by grace,
 * closes it: a device that stopped answering still gets its last count
 * out. Once it is past the end of intervals with no reading at all, sends
 * them as one record with no data. Returns how many records it wrote. */
size_t count_close_due(struct count_state *st, int64_t interval_ms, int64_t now_ms,
                       int64_t grace_ms, struct reading *out);

/* An interval in which no poll succeeded: [start, end), no value. */
struct reading indicator_no_data(int kind, int64_t start_ms, int64_t end_ms);

/* The intervals from *sent_end_ms (the end of the last one sent) up to
 * until, as one record with no data in *out; moves *sent_end_ms. Returns
 * 1, or 0 when there is no such span, or nothing was sent yet (before that
 * there is nothing a consumer could miss). */
size_t indicator_gap(int kind, int64_t *sent_end_ms, int64_t until, struct reading *out);

#endif
