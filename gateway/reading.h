/* One measured value on its way from a device to the broker. */
#ifndef GW_READING_H
#define GW_READING_H

#include <stdint.h>

enum reading_quality {
    QUALITY_GOOD = 0,
    QUALITY_BAD = 1, /* the device sent a value that is not a number (NaN, Inf) */
};

struct reading {
    int64_t seq;       /* gateway-wide, given when the reading enters the store */
    int64_t ts_ms;     /* wall clock at the poll, UTC milliseconds */
    double value;      /* engineering value, after scale and offset */
    uint32_t point_id; /* the store's id for device/point */
    uint8_t quality;   /* enum reading_quality */
};

#endif
