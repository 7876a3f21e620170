#include "store/record_codec.h"

#include <stdbool.h>
#include <string.h>

static uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint8_t *put_f64(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof(v));
    return put_u64(p, v);
}

static double get_f64(const uint8_t *p)
{
    uint64_t v = get_u64(p);
    double d;
    memcpy(&d, &v, sizeof(d));
    return d;
}

static size_t reading_size(uint8_t kind)
{
    return kind == READING_RAW ? RECORD_RAW_BYTES : RECORD_INDICATOR_BYTES;
}

size_t record_encoded_size(const struct reading *r, size_t n)
{
    size_t size = 0;
    for (size_t i = 0; i < n; i++)
        size += reading_size(r[i].kind);
    return size;
}

/* point_id 4, kind 1, quality 1, flags 2, value 8; indicators add five
 * integers, three numbers and the polls expected. */
void record_encode(const struct reading *r, size_t n, uint8_t *buf)
{
    uint8_t *p = buf;
    for (size_t i = 0; i < n; i++) {
        for (int b = 0; b < 4; b++)
            *p++ = (uint8_t)(r[i].point_id >> (8 * b));
        *p++ = r[i].kind;
        *p++ = r[i].quality;
        *p++ = (uint8_t)r[i].flags;
        *p++ = (uint8_t)(r[i].flags >> 8);
        p = put_f64(p, r[i].value);
        if (r[i].kind == READING_RAW)
            continue;
        const int64_t ints[] = {r[i].start_ms, r[i].span_from_ms, r[i].span_to_ms, r[i].samples,
                                r[i].excluded};
        for (size_t k = 0; k < 5; k++)
            p = put_u64(p, (uint64_t)ints[k]);
        p = put_f64(p, r[i].min);
        p = put_f64(p, r[i].max);
        p = put_f64(p, r[i].last);
        p = put_u64(p, (uint64_t)r[i].expected);
    }
}

/* An indicator is always a record of its own, so a body of the old size
 * is an old indicator. */
static bool is_v1_indicator(const uint8_t *p, size_t len)
{
    return p[4] != READING_RAW && len == RECORD_INDICATOR_V1_BYTES;
}

/* One reading at p, len bytes left; its size, or 0 when it does not fit. */
static size_t decode_one(const uint8_t *p, size_t len, int64_t seq, int64_t ts_ms,
                         struct reading *r)
{
    if (len < RECORD_RAW_BYTES)
        return 0;
    bool v1 = is_v1_indicator(p, len);
    if (!v1 && len < reading_size(p[4]))
        return 0;
    *r = (struct reading){.seq = seq, .ts_ms = ts_ms};
    r->point_id =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    r->kind = p[4];
    r->quality = p[5];
    r->flags = (uint16_t)(p[6] | p[7] << 8);
    r->value = get_f64(p + 8);
    if (r->kind != READING_RAW) {
        const uint8_t *q = p + RECORD_RAW_BYTES;
        r->start_ms = (int64_t)get_u64(q);
        r->span_from_ms = (int64_t)get_u64(q + 8);
        r->span_to_ms = (int64_t)get_u64(q + 16);
        r->samples = (int64_t)get_u64(q + 24);
        r->excluded = (int64_t)get_u64(q + 32);
        r->min = get_f64(q + 40);
        r->max = get_f64(q + 48);
        r->last = get_f64(q + 56);
        if (v1)
            return RECORD_INDICATOR_V1_BYTES;
        r->expected = (int64_t)get_u64(q + 64);
    }
    return reading_size(r->kind);
}

int record_decode(const uint8_t *buf, size_t len, int64_t seq, int64_t ts_ms, struct reading *out,
                  size_t max)
{
    size_t used = 0, n = 0;
    while (used < len && n < max) {
        size_t size = decode_one(buf + used, len - used, seq, ts_ms, &out[n++]);
        if (size == 0)
            return -1;
        used += size;
    }
    return used == len ? (int)n : -1;
}

int record_decode_first(const uint8_t *buf, size_t len, struct reading *out)
{
    return buf && decode_one(buf, len, 0, 0, out) > 0 ? 0 : -1;
}
