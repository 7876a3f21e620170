#include "gateway/record_group.h"

/* A poll's readings arrive together; only derived ones (occupancy) may
 * come a little later, after another device's. Looking back this many
 * records is enough to find their poll. */
#define OPEN_RECORDS 16

/* The record among the last few that this reading belongs to, or -1. */
static long find_record(const struct reading *in, const uint32_t *first_of, size_t records,
                        const uint16_t *sizes, const struct reading *r, const uint32_t *device_of,
                        size_t key_count)
{
    if (r->point_id >= key_count)
        return -1;
    size_t from = records > OPEN_RECORDS ? records - OPEN_RECORDS : 0;
    for (size_t k = records; k-- > from;) {
        const struct reading *head = &in[first_of[k]];
        if (head->kind == READING_RAW && head->ts_ms == r->ts_ms && sizes[k] < UINT16_MAX &&
            head->point_id < key_count && device_of[head->point_id] == device_of[r->point_id])
            return (long)k;
    }
    return -1;
}

size_t records_group(const struct reading *in, size_t n, const uint32_t *device_of,
                     size_t key_count, struct reading *out, uint16_t *sizes, uint32_t *scratch)
{
    /* First pass: the record of every reading, and where each record's
     * first reading is. */
    uint32_t *record_of = scratch, *first_of = scratch + n;
    size_t records = 0;
    for (size_t i = 0; i < n; i++) {
        long k = -1;
        if (device_of && in[i].kind == READING_RAW)
            k = find_record(in, first_of, records, sizes, &in[i], device_of, key_count);
        if (k < 0) {
            k = (long)records++;
            first_of[k] = (uint32_t)i;
            sizes[k] = 0;
        }
        record_of[i] = (uint32_t)k;
        sizes[k]++;
    }
    /* Second pass: each reading to its record's place. */
    size_t offset = 0;
    for (size_t k = 0; k < records; k++) {
        first_of[k] = (uint32_t)offset;
        offset += sizes[k];
    }
    for (size_t i = 0; i < n; i++)
        out[first_of[record_of[i]]++] = in[i];
    return records;
}
