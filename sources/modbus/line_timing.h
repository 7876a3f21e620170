/* The Modbus serial line's clock (Modbus over Serial Line V1.02, 2.5.1.1):
 * what one character costs at a bus's baud rate and framing, the t3.5
 * silence that ends a frame, and how long a read's request and reply are on
 * the wire. Used to pace the line (modbus_link.c) and to plan its load
 * (modbus_budget.c); pure arithmetic, unit-tested. */
#ifndef GW_LINE_TIMING_H
#define GW_LINE_TIMING_H

#include <stdint.h>

struct line_timing {
    int64_t char_us; /* start bit, data bits, parity, stop bits */
    int64_t t35_us;  /* 3.5 characters; fixed 1750 us above 19200 baud */
};

/* parity: 0 none, otherwise even or odd (one bit). */
struct line_timing line_timing_of(int baud, int parity, int data_bits, int stop_bits);

/* Characters of a read request (function 1 to 4) and of its reply. */
int rtu_read_request_chars(void);
int rtu_read_reply_chars(int function, int count);

/* The shortest a read can take on the line: its request, the t3.5 the unit
 * waits for to know the request ended, and its reply, with no turnaround. */
int64_t rtu_read_min_us(const struct line_timing *t, int function, int count);

#endif
