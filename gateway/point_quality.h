/* The quality of a polled value, judged against its point's settings:
 * sentinels that mean "no measurement", the plausible range, and values
 * frozen for longer than stale_after (a dead sensor behind a live
 * transmitter repeats its last value). */
#ifndef GW_POINT_QUALITY_H
#define GW_POINT_QUALITY_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/reading.h"

/* How long the value has not changed; one per point, kept by the poller. */
struct stale_watch {
    bool known;
    double value;
    int64_t since_ms;
};

/* The engineering value of a raw one: raw * scale + offset. The point's
 * business, not the source's: derived points scale too. */
static inline double point_scaled(const struct point_config *pc, double raw)
{
    return raw * pc->scale + pc->offset;
}

/* raw: the decoded register value before scale and offset, as the device
 * manual gives sentinels; value: the engineering value. */
enum reading_quality point_quality(const struct point_config *pc, double raw, double value,
                                   struct stale_watch *w, int64_t ts_ms);

#endif
