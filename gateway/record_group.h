/* Readings into records: with layout = device the readings of one poll
 * of one device (same device, same timestamp) become one record; with
 * layout = point, and for every indicator, each reading is a record of its
 * own. Pure: no I/O, no allocation. */
#ifndef GW_RECORD_GROUP_H
#define GW_RECORD_GROUP_H

#include <stddef.h>
#include <stdint.h>

#include "core/reading.h"

/* Writes the n readings of in to out, each record's readings together,
 * records in the order their first reading came; sizes[k] is the size of
 * record k. device_of[point_id] (key_count entries) names each point's
 * device; NULL makes every reading a record (layout = point). scratch
 * holds 2 n entries. Returns the number of records. */
size_t records_group(const struct reading *in, size_t n, const uint32_t *device_of,
                     size_t key_count, struct reading *out, uint16_t *sizes, uint32_t *scratch);

#endif
