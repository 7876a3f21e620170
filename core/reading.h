/* One record on its way to the broker: a raw reading polled from a device,
 * or an indicator derived from readings (counts per interval, aggregates
 * per window). All share one sequence and one store, so a subscriber sees
 * one gap-free stream. */
#ifndef GW_READING_H
#define GW_READING_H

#include <stdint.h>

enum reading_quality {
    QUALITY_GOOD = 0,
    QUALITY_BAD = 1,          /* the device sent a value that is not a number (NaN, Inf) */
    QUALITY_NO_DATA = 2,      /* a sentinel the device uses for "no measurement" */
    QUALITY_OUT_OF_RANGE = 3, /* outside the point's plausible range */
    QUALITY_STALE = 4,        /* unchanged for longer than the point's stale_after */
    QUALITY_UNCERTAIN = 5,    /* a count that may miss visitors: see the count's events */
};
extern const char *const reading_quality_names[];

/* Good enough to count or aggregate. */
static inline int quality_is_usable(int quality)
{
    return quality == QUALITY_GOOD;
}

enum reading_kind {
    READING_RAW = 0,    /* as polled */
    READING_COUNT = 1,  /* a counter's increase over an interval */
    READING_WINDOW = 2, /* a measurement's aggregates over a window */
    READING_DAY = 3,    /* a counter's increase over a local day */
};
#define READING_KINDS 4

enum reading_flag {
    FLAG_CLOCK_UNSYNCED = 1 << 0, /* the kernel did not call the wall clock synchronised */
    /* What happened to a counter inside a count's interval. */
    FLAG_COUNT_BASELINE = 1 << 1, /* the first reading: counting starts here */
    FLAG_COUNT_WRAP = 1 << 2,     /* the counter rolled over its top */
    FLAG_COUNT_RESET = 1 << 3,    /* the device restarted from zero (power loss) */
    FLAG_COUNT_DROP = 1 << 4,     /* fell back, neither wrap nor reset: not counted */
    FLAG_COUNT_JUMP = 1 << 5,     /* rose by more than counter_max_step: not counted */
    /* The wall clock went back into intervals already sent: what was counted
     * then is in this interval, the one after the last sent, never in an
     * interval sent a second time. */
    FLAG_CLOCK_BACK = 1 << 6,
    /* The count starts from a reading before the previous interval: it
     * holds visitors of intervals sent with no data (a device or gateway
     * outage), caught up at the first poll after it. */
    FLAG_COUNT_CATCH_UP = 1 << 7,
};

struct reading {
    int64_t seq;       /* gateway-wide, given when the record enters the store */
    int64_t ts_ms;     /* raw: wall clock at the poll; indicator: end of its interval */
    double value;      /* raw: engineering value; count: the count; window: the average */
    uint32_t point_id; /* the store's id for device/point */
    uint8_t quality;   /* enum reading_quality */
    uint8_t kind;      /* enum reading_kind */
    uint16_t flags;    /* enum reading_flag */
    /* Indicators only. An interval in which no poll succeeded is sent with
     * quality QUALITY_NO_DATA, value NAN and samples 0. */
    int64_t start_ms;                 /* start of the interval or window, inclusive */
    int64_t span_from_ms, span_to_ms; /* count: the readings the increase lies between */
    int64_t samples;                  /* polls whose reading went into the figure */
    int64_t excluded;                 /* window: readings left out for their quality */
    int64_t expected;                 /* polls the device's interval makes in it; 0: not known */
    double min, max, last;            /* window */
};

/* What the store keeps and the broker receives as one message under one
 * seq: the readings of one poll of one device (layout = device), or a
 * single reading (layout = point, and every indicator). Its readings share
 * the seq and the timestamp; r[0] names the record's device or point. */
struct record {
    int64_t seq;
    struct reading *r;
    uint16_t n;
};

/* A reading the broker refused: set aside, not deleted. reason: the MQTT 5
 * reason code of its PUBACK, or of the DISCONNECT the broker sent while it
 * was in flight (0 when none was given). */
struct reading_refusal {
    int64_t seq;
    int reason;
};

#endif
