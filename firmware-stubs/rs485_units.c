/* What the units on the paced line answer: read holding and input
 * registers (functions 3 and 4) from a small map, write one holding
 * register (function 6, any but register 0), an exception for anything
 * else, nothing for a frame that is broken, not theirs, or, on a
 * strict unit, one that started too soon after the previous frame (a real
 * UART would have taken it for the previous frame's tail). */
#include "firmware-stubs/rs485_line.h"
#include "firmware-stubs/stub_faults.h"

#include <string.h>

uint16_t line_register(const struct line_unit *u, int address)
{
    if (address == 0)
        return (uint16_t)u->answered;
    if (address < LINE_REGISTERS_MAX && u->is_written[address])
        return u->written[address];
    return (uint16_t)(u->id * 100 + address);
}

static struct line_unit *find_unit(struct line_units *units, int id)
{
    for (int i = 0; i < units->count; i++)
        if (units->unit[i].id == id)
            return &units->unit[i];
    return NULL;
}

static int finish(uint8_t *out, int n)
{
    uint16_t crc = stub_rtu_crc(out, n);
    out[n] = (uint8_t)(crc & 0xFF);
    out[n + 1] = (uint8_t)(crc >> 8);
    return n + 2;
}

static int exception(const uint8_t *req, uint8_t *out, int code)
{
    out[0] = req[0];
    out[1] = (uint8_t)(req[1] | 0x80);
    out[2] = (uint8_t)code;
    return finish(out, 3);
}

/* Function 6 is answered with the request itself. */
static int write_register(const struct line_units *units, struct line_unit *u, const uint8_t *req,
                          uint8_t *out)
{
    int address = (req[2] << 8) | req[3];
    if (address == 0 || address >= units->registers)
        return exception(req, out, 2);
    u->written[address] = (uint16_t)((req[4] << 8) | req[5]);
    u->is_written[address] = true;
    u->writes++;
    memcpy(out, req, 6);
    return finish(out, 6);
}

static int build_reply(const struct line_units *units, struct line_unit *u, const uint8_t *req,
                       uint8_t *out)
{
    int function = req[1], address = (req[2] << 8) | req[3], count = (req[4] << 8) | req[5];
    out[0] = req[0];
    if (function == 6)
        return write_register(units, u, req, out);
    if (function != 3 && function != 4) {
        out[1] = (uint8_t)(function | 0x80);
        out[2] = 1; /* illegal function */
        return finish(out, 3);
    }
    if (count < 1 || count > 125 || address + count > units->registers) {
        out[1] = (uint8_t)(function | 0x80);
        out[2] = 2; /* illegal data address */
        return finish(out, 3);
    }
    out[1] = (uint8_t)function;
    out[2] = (uint8_t)(count * 2);
    for (int i = 0; i < count; i++) {
        uint16_t v = line_register(u, address + i);
        out[3 + 2 * i] = (uint8_t)(v >> 8);
        out[4 + 2 * i] = (uint8_t)(v & 0xFF);
    }
    return finish(out, 3 + 2 * count);
}

void line_units_hear(struct line_units *units, const uint8_t *frame, int len, int64_t gap_us,
                     int64_t first_start_us, int64_t frame_end_us, int64_t t35_us,
                     struct unit_reply *out)
{
    out->len = 0;
    out->from = NULL;
    if (len != 8 || stub_rtu_crc(frame, 6) != (uint16_t)(frame[6] | (frame[7] << 8)))
        return;
    struct line_unit *u = find_unit(units, frame[0]);
    if (u)
        u->heard++;
    if (!u || u->mode == UNIT_DEAD)
        return;
    if (units->strict && gap_us < t35_us) {
        u->ignored_short_gap++;
        return;
    }
    if (u->quiet_us > 0 && u->last_reply_end_us > 0 &&
        first_start_us - u->last_reply_end_us < u->quiet_us) {
        u->not_heard_quiet++;
        return;
    }
    out->len = build_reply(units, u, frame, out->bytes);
    out->from = u;
    out->start_us = frame_end_us + u->turnaround_us;
    u->answered++;
}
