#include "sources/modbus/line_timing.h"
#include "sources/modbus/point_types.h"

struct line_timing line_timing_of(int baud, int parity, int data_bits, int stop_bits)
{
    int bits = 1 + data_bits + (parity != 0) + stop_bits;
    struct line_timing t = {.char_us = baud > 0 ? (int64_t)bits * 1000000 / baud : 0};
    /* Above 19200 baud the specification fixes t3.5 rather than let it
     * shrink below what a UART interrupt can time. */
    t.t35_us = baud > 19200 ? 1750 : t.char_us * 7 / 2;
    return t;
}

int rtu_read_request_chars(void)
{
    return 8; /* unit, function, address (2), count (2), CRC (2) */
}

int rtu_read_reply_chars(int function, int count)
{
    int data = function_reads_bits(function) ? (count + 7) / 8 : 2 * count;
    return 5 + data; /* unit, function, byte count, data, CRC (2) */
}

int64_t rtu_read_min_us(const struct line_timing *t, int function, int count)
{
    int chars = rtu_read_request_chars() + rtu_read_reply_chars(function, count);
    return chars * t->char_us + t->t35_us;
}
