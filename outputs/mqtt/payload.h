/* The wire format of a reading; docs/mqtt-contract.md is its description.
 *
 * Written with snprintf into caller buffers rather than through a JSON
 * library: this runs once per reading on the hot path, and every string in
 * it (names, units) was validated at config load to need no escaping. */
#ifndef GW_PAYLOAD_H
#define GW_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/reading.h"
#include "store/store.h"

#define PAYLOAD_MAX 1024

#define TOPIC_MAX 320

/* The one place the data topics are spelled: raw readings on
 * {prefix}/{gateway}/readings/{device} (layout = device) or
 * .../readings/{device}/{point} (layout = point); indicators always on
 * {prefix}/{gateway}/indicators/{device}/{point}[/day]. kind: enum
 * reading_kind. */
int topic_format_data(char *buf, size_t size, const char *prefix, const char *gateway, int layout,
                      int kind, const char *device, const char *point);

/* {prefix}/{gateway}/status */
int topic_format_status(char *buf, size_t size, const char *prefix, const char *gateway);

/* {prefix}/{gateway}/health */
int topic_format_health(char *buf, size_t size, const char *prefix, const char *gateway);
/* {prefix}/{gateway}/devices/{device}/meta */
int topic_format_device_meta(char *buf, size_t size, const char *prefix, const char *gateway,
                             const char *device);

/* Where a message comes from: the gateway, and the store whose seq it
 * carries. */
struct origin {
    const char *gateway;
    const char *store; /* store_identity() */
};
/* Returns the payload length, or -1 if it did not fit. */
int payload_format_reading(char *buf, size_t size, const struct origin *o, const struct reading *r,
                           const struct store_point *p);

/* A record's topic: with layout = device a poll's readings go to
 * {prefix}/{gateway}/readings/{device}; otherwise (and for indicators,
 * always) topic_format_data's for its one reading. */
int topic_format_record(char *buf, size_t size, const char *prefix, const char *gateway, int layout,
                        const struct record *rec, const struct store *s);
/* A record's payload: one reading's as above, or a device poll's,
 * {"seq","ts","gateway","device","clock_synced","points":{name:{"value",
 * "unit","quality"}}}. Returns the length, or -1 if it did not fit or a
 * point is unknown. */
int payload_format_record(char *buf, size_t size, const char *gateway, int layout,
                          const struct record *rec, const struct store *s);
/* Bytes that are always enough for payload_format_record. */
size_t payload_record_max(const struct record *rec);

#endif
