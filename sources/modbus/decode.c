#include "sources/modbus/decode.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const data_type_names[] = {"bool",  "int16",  "uint16",  "int32",   "uint32",
                                       "int64", "uint64", "float32", "float64", NULL};
const char *const word_order_names[] = {"ABCD", "CDAB", "BADC", "DCBA", NULL};
const char *const function_names[] = {"coil", "discrete_input", "holding_register",
                                      "input_register", NULL};

int data_type_width(enum data_type type)
{
    static const int widths[] = {1, 1, 1, 2, 2, 4, 4, 2, 4};
    return widths[type];
}

int function_reads_bits(enum point_function fn)
{
    return fn == FN_COIL || fn == FN_DISCRETE_INPUT;
}

static uint16_t swap_bytes(uint16_t w)
{
    return (uint16_t)((w << 8) | (w >> 8));
}

/* The value's bits as an unsigned big-endian number, whatever the order on
 * the wire. */
static uint64_t gather(const uint16_t *regs, int words, enum word_order order)
{
    int swap_words = order == WO_CDAB || order == WO_DCBA;
    int swap_in_word = order == WO_BADC || order == WO_DCBA;
    uint64_t bits = 0;
    for (int i = 0; i < words; i++) {
        uint16_t w = regs[swap_words ? words - 1 - i : i];
        bits = (bits << 16) | (swap_in_word ? swap_bytes(w) : w);
    }
    return bits;
}

static void scatter(uint64_t bits, int words, enum word_order order, uint16_t *regs)
{
    int swap_words = order == WO_CDAB || order == WO_DCBA;
    int swap_in_word = order == WO_BADC || order == WO_DCBA;
    for (int i = words - 1; i >= 0; i--) {
        uint16_t w = (uint16_t)(bits & 0xffff);
        bits >>= 16;
        regs[swap_words ? words - 1 - i : i] = swap_in_word ? swap_bytes(w) : w;
    }
}

static double shortest_float(float f)
{
    char text[32];
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(text, sizeof(text), "%.*g", digits, (double)f);
        if (strtof(text, NULL) == f)
            break;
    }
    return strtod(text, NULL);
}

enum decode_status decode_registers(const uint16_t *regs, enum data_type type,
                                    enum word_order order, double *out)
{
    uint64_t bits = gather(regs, data_type_width(type), order);
    switch (type) {
    case DT_BOOL:
        *out = bits != 0;
        return DECODE_OK;
    case DT_INT16:
        *out = (int16_t)(uint16_t)bits;
        return DECODE_OK;
    case DT_UINT16:
        *out = (uint16_t)bits;
        return DECODE_OK;
    case DT_INT32:
        *out = (int32_t)(uint32_t)bits;
        return DECODE_OK;
    case DT_UINT32:
        *out = (uint32_t)bits;
        return DECODE_OK;
    case DT_INT64:
        *out = (double)(int64_t)bits;
        return DECODE_OK;
    case DT_UINT64:
        *out = (double)bits;
        return DECODE_OK;
    case DT_FLOAT32: {
        uint32_t u = (uint32_t)bits;
        float f;
        memcpy(&f, &u, sizeof(f));
        if (!isfinite(f))
            return DECODE_NOT_FINITE;
        *out = shortest_float(f);
        return DECODE_OK;
    }
    case DT_FLOAT64: {
        double d;
        memcpy(&d, &bits, sizeof(d));
        if (!isfinite(d))
            return DECODE_NOT_FINITE;
        *out = d;
        return DECODE_OK;
    }
    }
    return DECODE_NOT_FINITE;
}

void encode_registers(double value, enum data_type type, enum word_order order, uint16_t *regs)
{
    uint64_t bits;
    switch (type) {
    case DT_FLOAT32: {
        float f = (float)value;
        uint32_t u;
        memcpy(&u, &f, sizeof(u));
        bits = u;
        break;
    }
    case DT_FLOAT64:
        memcpy(&bits, &value, sizeof(bits));
        break;
    case DT_INT16:
    case DT_INT32:
    case DT_INT64:
        bits = (uint64_t)(int64_t)value;
        break;
    default:
        bits = (uint64_t)value;
        break;
    }
    scatter(bits, data_type_width(type), order, regs);
}
