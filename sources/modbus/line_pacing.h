/* The silences of a shared serial line, kept by the link that talks on it.
 *
 * A unit that follows the Modbus serial specification takes a request that
 * starts less than t3.5 after the previous frame for that frame's tail and
 * drops both; a unit that answers after its response timeout collides with
 * the next transaction. So before every request the line must have been
 * quiet long enough, and after a failure the link listens (and drops what
 * it hears) before it talks again. Works on any descriptor: a serial port,
 * or the socket of an RTU-over-TCP converter that forwards to a real line. */
#ifndef GW_LINE_PACING_H
#define GW_LINE_PACING_H

#include <stddef.h>
#include <stdint.h>

#include "sources/modbus/line_timing.h"

/* No wait or listen lasts longer: a unit that never stops sending must not
 * hold the line for ever (its neighbours' polls fail instead, and say why). */
#define LINE_LISTEN_MAX_US 2000000

struct line_pace {
    struct line_timing timing;
    int64_t quiet_from_us; /* when the line last fell silent, as far as we know */
    int64_t quiet_need_us; /* the silence owed before the next request */
    uint64_t stray_bytes;  /* heard while no reply was awaited: late replies, noise */
};

void line_pace_init(struct line_pace *p, struct line_timing timing);

/* The line is new to us (a port just opened): assume someone may be talking. */
void line_pace_reset(struct line_pace *p);

/* Waits until the line has been quiet for what is owed plus extra_us (a
 * device's pause_between_requests), dropping and counting what it hears.
 * Returns 0, or -1 when the descriptor failed or closed. */
int line_wait_quiet(struct line_pace *p, int fd, int64_t extra_us);

/* A request of `chars` characters was just written: the line is ours until
 * they are out (a UART sends after write() returns). */
void line_sent(struct line_pace *p, int chars);

/* A reply was read: the unit that sent it may need more than t3.5. */
void line_replied(struct line_pace *p, int64_t quiet_after_us);

/* After a failed transaction: waits up to first_us for a late byte, then
 * until t3.5 passed without one, keeping up to cap bytes in buf and the
 * time of the last in *last_us. Returns the bytes heard, -1 as above. */
long line_listen(struct line_pace *p, int fd, int64_t first_us, uint8_t *buf, size_t cap,
                 int64_t *last_us);

/* Reads exactly n bytes by deadline_us (an adapter's echo of our request).
 * Returns the bytes read, fewer on timeout, -1 as above. */
long line_read_exact(int fd, uint8_t *buf, size_t n, int64_t deadline_us);

#endif
