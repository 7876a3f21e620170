/* Which of a point's raw readings go to the broker ([point] publish):
 * every one, none, or on change: a reading whose quality is the same and
 * whose value lies within the deadband of the last one sent is held back,
 * unless publish_max_interval has passed since. Not an indicator: it
 * filters readings, it makes nothing new. */
#ifndef GW_PUBLISH_FILTER_H
#define GW_PUBLISH_FILTER_H

#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "core/reading.h"

/* What was sent last; zeroed: nothing yet. */
struct publish_filter {
    bool published;
    double value;
    uint8_t quality;
    int64_t ts_ms;
};

/* Whether r is to be sent; notes it when it is. */
bool publish_filter_pass(struct publish_filter *f, const struct point_config *pc,
                         const struct reading *r);

#endif
