/* Checks a Modbus reply against the request it answers, byte by byte.
 *
 * libmodbus 3.1 accepts a TCP reply from another unit id, and one whose
 * MBAP length field disagrees with the bytes that came, and takes either
 * for the answer to our request. So the RTU link sends raw requests, and
 * Modbus TCP is framed by mbap_conn.c, and every reply is judged here: the
 * unit, the function, the header (with its transaction id) and the byte
 * count must all fit, or the reply is a device fault. Pure logic, no I/O. */
#ifndef GW_MODBUS_REPLY_H
#define GW_MODBUS_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct modbus_request {
    int unit_id;
    int function; /* enum point_function: the table read or written */
    int address;
    int count; /* registers, or bits for coils and discrete inputs */
    /* A write: function code 5, 6, 15 or 16 and its values (bits as 0/1);
     * 0 for a read. */
    int write_code;
    const uint16_t *values;
};

/* The longest request encoded here: unit, FC 16 header, 123 registers. */
#define MODBUS_REQUEST_MAX (7 + 2 * 123)

/* The Modbus function code of a point function (1 to 4). */
int modbus_function_code(int function);
/* The function code the request goes out with. */
int modbus_request_code(const struct modbus_request *rq);

/* Fills pdu with unit id, function code, address and count (and a write's
 * values): the raw request modbus_send_raw_request takes. Returns its
 * length, or -1 for a write this file cannot frame (count out of range). */
int modbus_request_encode(const struct modbus_request *rq, uint8_t pdu[MODBUS_REQUEST_MAX]);

/* "holding_register 0..4 from unit 1 on PEER: REASON" (or "writing ..."):
 * what failed, for messages. Returns the length snprintf gives. */
int modbus_request_describe(const struct modbus_request *rq, const char *peer, const char *reason,
                            char *why, size_t size);

/* rsp is the whole frame as modbus_receive_confirmation returns it: the
 * TCP MBAP header (transaction id tid) or the RTU address first, the RTU
 * CRC (already checked by libmodbus) last. On success the values, bits
 * widened to 0/1, are in dest and 0 is returned; otherwise an errno value
 * in libmodbus's terms: MODBUS_ENOBASE + code for an exception reply,
 * EMBBADSLAVE for another unit, EMBBADDATA for any other mismatch. A
 * write's reply must echo its address and value (FC 5, 6) or its address
 * and count (FC 15, 16); dest is not touched then. */
int modbus_reply_check(const struct modbus_request *rq, bool tcp, int tid, const uint8_t *rsp,
                       int len, uint16_t *dest);

#endif
