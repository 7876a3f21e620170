/* The store's byte form of a record's readings: little-endian fields of
 * fixed width, so that a store file means the same on arm64, armhf and
 * x86-64. A raw reading takes 16 bytes; an indicator 88 (80 before it
 * carried the polls expected: such records, left in a store by an older
 * version, still decode, with expected 0). The seq and the timestamp,
 * shared by the record's readings, are columns of their own. */
#ifndef GW_RECORD_CODEC_H
#define GW_RECORD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/reading.h"

#define RECORD_RAW_BYTES 16
#define RECORD_INDICATOR_BYTES 88
#define RECORD_INDICATOR_V1_BYTES 80

/* Bytes record_encode needs for these readings. */
size_t record_encoded_size(const struct reading *r, size_t n);

/* Writes n readings into buf (record_encoded_size bytes). */
void record_encode(const struct reading *r, size_t n, uint8_t *buf);

/* Reads up to max readings from len bytes, giving each seq and ts_ms;
 * returns how many, or -1 when the bytes are not a whole record. */
int record_decode(const uint8_t *buf, size_t len, int64_t seq, int64_t ts_ms, struct reading *out,
                  size_t max);

/* Only the first reading (which names the record's device or point);
 * returns 0, or -1 when the bytes do not hold one. */
int record_decode_first(const uint8_t *buf, size_t len, struct reading *out);

#endif
