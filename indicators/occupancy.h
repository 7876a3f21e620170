/* Net occupancy of a place with an entrance counter and an exit counter:
 * how many are inside now. It is the visitors in minus the visitors out,
 * back to zero once a day at a set local time (a museum at night, a car
 * park before opening), because a count that is missed on one side would
 * otherwise stay in the figure for ever. */
#ifndef GW_OCCUPANCY_H
#define GW_OCCUPANCY_H

#include <stdbool.h>
#include <stdint.h>

struct occupancy_state {
    int64_t level;   /* never below zero */
    int64_t last_ts; /* the reading it was last updated at */
    bool known;
};

/* The first instant after after_ms at which the gateway's local clock reads
 * reset_minute minutes past midnight. */
int64_t occupancy_next_reset(int64_t after_ms, int reset_minute);

/* Adds the visitors in and out since the last reading, at ts; starts from
 * zero first if the reset time passed in between. A level that would go
 * below zero (more counted out than in) stays at zero. */
void occupancy_step(struct occupancy_state *st, int reset_minute, int64_t ts_ms, uint64_t in,
                    uint64_t out);

#endif
