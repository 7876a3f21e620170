/* Where counts and windows begin and end. Intervals shorter than an hour
 * are aligned to the epoch (and so to the quarter hour in every zone that
 * matters here). An interval of an hour or more that divides a day is
 * aligned to the local day of the process's time zone ([gateway]
 * timezone): a day runs from local midnight to local midnight, 23 or 25
 * hours when summer time begins or ends, and hours are counted from local
 * midnight, the day's last interval ending at the next midnight. */
#ifndef GW_INTERVALS_H
#define GW_INTERVALS_H

#include <stdint.h>

#define INTERVAL_DAY_MS (86400LL * 1000) /* a local day: 23, 24 or 25 hours */

int64_t interval_start(int64_t ts_ms, int64_t interval_ms);
/* The end of the interval that starts at start_ms (or that start_ms lies
 * in, after the clock went back). */
int64_t interval_end(int64_t start_ms, int64_t interval_ms);

#endif
