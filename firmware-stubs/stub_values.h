/* Putting values into registers the way a device's manual describes them,
 * written independently of sources/modbus/decode.c on purpose: a stub that used
 * the gateway's own encoder would agree with any mistake in it. */
#ifndef STUB_VALUES_H
#define STUB_VALUES_H

#include <stdint.h>
#include <string.h>

static inline void put_float_high_word_first(uint16_t *r, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof(bits));
    r[0] = (uint16_t)(bits >> 16);
    r[1] = (uint16_t)(bits & 0xFFFF);
}

static inline void put_float_low_word_first(uint16_t *r, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof(bits));
    r[0] = (uint16_t)(bits & 0xFFFF);
    r[1] = (uint16_t)(bits >> 16);
}

static inline void put_int16(uint16_t *r, int v)
{
    r[0] = (uint16_t)(int16_t)v;
}

#endif
