/* A paced RS-485 line and the units on it (rs485-line-stub).
 *
 * The other stubs answer the moment a frame arrives, on a pseudo-terminal
 * where a byte costs no time: they cannot show whether a master keeps the
 * Modbus serial line's timing. This stub is the line itself: every
 * character occupies the simulated wire for its bit times, a frame ends
 * when the wire has been silent for t3.5 (as a unit's UART sees it), a
 * unit answers after its turnaround, and each reply character reaches the
 * gateway when its last bit would have. Two parties on the wire at once
 * is a collision and garbles both. rs485_line.c is the wire and the loop;
 * rs485_units.c what the units answer. */
#ifndef RS485_LINE_H
#define RS485_LINE_H

#include <stdbool.h>
#include <stdint.h>

#define LINE_MAX_UNITS 32
#define LINE_ADU_MAX 256

enum unit_mode { UNIT_HEALTHY, UNIT_DEAD, UNIT_SLOW };

/* The most registers a unit serves (--registers). */
#define LINE_REGISTERS_MAX 125

struct line_unit {
    int id;
    enum unit_mode mode;
    int64_t turnaround_us; /* from the end of the request frame (t3.5 seen) to the reply */
    int64_t quiet_us;      /* a request sooner than this after its own reply is not heard */
    int64_t last_reply_end_us;
    uint64_t heard, answered, ignored_short_gap, not_heard_quiet; /* heard: frames for it */
    /* Holding registers written with function 6 (any but 0): they read
     * back as written from then on. */
    uint16_t written[LINE_REGISTERS_MAX];
    bool is_written[LINE_REGISTERS_MAX];
    uint64_t writes;
};

struct line_units {
    struct line_unit unit[LINE_MAX_UNITS];
    int count;
    int registers; /* holding and input registers 0..registers-1 */
    bool strict;   /* a request that starts less than t3.5 after the previous frame is lost */
};

/* What the units make of one complete request frame on the wire: the
 * reply (its length, 0 for none) and which unit sends it after how long. */
struct unit_reply {
    struct line_unit *from;
    uint8_t bytes[LINE_ADU_MAX];
    int len;
    int64_t start_us;
};

/* The register unit `id` serves at `address`: register 0 counts the
 * replies it sent before this one, so a delivered value can be traced to
 * a reply; the others are fixed (id * 100 + address). */
uint16_t line_register(const struct line_unit *u, int address);

/* frame_end_us is when the units saw the frame end (last character + t3.5);
 * gap_us how long the wire was silent before its first character. */
void line_units_hear(struct line_units *units, const uint8_t *frame, int len, int64_t gap_us,
                     int64_t first_start_us, int64_t frame_end_us, int64_t t35_us,
                     struct unit_reply *out);

#endif
