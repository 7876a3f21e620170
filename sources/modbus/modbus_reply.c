#include "sources/modbus/modbus_reply.h"
#include "sources/modbus/point_types.h"

#include <errno.h>
#include <modbus/modbus.h>
#include <stdio.h>
#include <string.h>

int modbus_function_code(int function)
{
    static const int codes[] = {
        [FN_COIL] = MODBUS_FC_READ_COILS,
        [FN_DISCRETE_INPUT] = MODBUS_FC_READ_DISCRETE_INPUTS,
        [FN_HOLDING_REGISTER] = MODBUS_FC_READ_HOLDING_REGISTERS,
        [FN_INPUT_REGISTER] = MODBUS_FC_READ_INPUT_REGISTERS,
    };
    return codes[function];
}

int modbus_request_code(const struct modbus_request *rq)
{
    return rq->write_code ? rq->write_code : modbus_function_code(rq->function);
}

static void put16(uint8_t *p, int v)
{
    p[0] = (uint8_t)((v >> 8) & 0xff);
    p[1] = (uint8_t)(v & 0xff);
}

/* FC 15 and 16: count, byte count, the values packed. */
static int encode_multiple(const struct modbus_request *rq, uint8_t *pdu)
{
    bool bits = rq->write_code == MODBUS_FC_WRITE_MULTIPLE_COILS;
    int max = bits ? MODBUS_MAX_WRITE_BITS : MODBUS_MAX_WRITE_REGISTERS;
    if (rq->count < 1 || rq->count > max)
        return -1;
    int bytes = bits ? (rq->count + 7) / 8 : 2 * rq->count;
    put16(pdu + 4, rq->count);
    pdu[6] = (uint8_t)bytes;
    memset(pdu + 7, 0, (size_t)bytes);
    for (int i = 0; i < rq->count; i++) {
        if (bits)
            pdu[7 + i / 8] |= (uint8_t)((rq->values[i] ? 1 : 0) << (i % 8));
        else
            put16(pdu + 7 + 2 * i, rq->values[i]);
    }
    return 7 + bytes;
}

int modbus_request_encode(const struct modbus_request *rq, uint8_t pdu[MODBUS_REQUEST_MAX])
{
    pdu[0] = (uint8_t)rq->unit_id;
    pdu[1] = (uint8_t)modbus_request_code(rq);
    put16(pdu + 2, rq->address);
    switch (rq->write_code) {
    case 0:
        put16(pdu + 4, rq->count);
        return 6;
    case MODBUS_FC_WRITE_SINGLE_COIL:
        put16(pdu + 4, rq->values[0] ? 0xFF00 : 0x0000);
        return rq->count == 1 ? 6 : -1;
    case MODBUS_FC_WRITE_SINGLE_REGISTER:
        put16(pdu + 4, rq->values[0]);
        return rq->count == 1 ? 6 : -1;
    case MODBUS_FC_WRITE_MULTIPLE_COILS:
    case MODBUS_FC_WRITE_MULTIPLE_REGISTERS:
        return encode_multiple(rq, pdu);
    default:
        return -1;
    }
}

static int exception_errno(int code)
{
    return code > 0 && code < MODBUS_EXCEPTION_MAX ? MODBUS_ENOBASE + code : EMBBADEXC;
}

/* The MBAP header: transaction id, protocol 0, and a length that counts
 * exactly the bytes after it. */
static bool mbap_fits(const uint8_t *rsp, int len, int tid)
{
    int rsp_tid = (rsp[0] << 8) | rsp[1];
    int protocol = (rsp[2] << 8) | rsp[3];
    int length = (rsp[4] << 8) | rsp[5];
    return rsp_tid == tid && protocol == 0 && length == len - 6;
}

static void unpack(const struct modbus_request *rq, const uint8_t *data, uint16_t *dest)
{
    bool bits = function_reads_bits(rq->function);
    for (int i = 0; i < rq->count; i++)
        dest[i] =
            bits ? (data[i / 8] >> (i % 8)) & 1 : (uint16_t)((data[2 * i] << 8) | data[2 * i + 1]);
}

/* A write is answered with the first four bytes of its own PDU after the
 * function code: the address and the value (5, 6) or the count (15, 16). */
static bool write_reply_fits(const struct modbus_request *rq, const uint8_t *pdu, int body)
{
    uint8_t sent[MODBUS_REQUEST_MAX];
    return body == 5 && modbus_request_encode(rq, sent) > 0 && memcmp(pdu + 1, sent + 2, 4) == 0;
}

int modbus_reply_check(const struct modbus_request *rq, bool tcp, int tid, const uint8_t *rsp,
                       int len, uint16_t *dest)
{
    int header = tcp ? 7 : 1, checksum = tcp ? 0 : 2;
    int body = len - header - checksum; /* function code onwards */
    if (body < 2 || (tcp && !mbap_fits(rsp, len, tid)))
        return EMBBADDATA;
    if (rsp[header - 1] != rq->unit_id)
        return EMBBADSLAVE;
    int fc = modbus_request_code(rq);
    const uint8_t *pdu = rsp + header;
    if (pdu[0] == (fc | 0x80))
        return body == 2 ? exception_errno(pdu[1]) : EMBBADEXC;
    if (pdu[0] != fc)
        return EMBBADDATA;
    if (rq->write_code)
        return write_reply_fits(rq, pdu, body) ? 0 : EMBBADDATA;
    int bytes = function_reads_bits(rq->function) ? (rq->count + 7) / 8 : 2 * rq->count;
    if (pdu[1] != bytes || body != 2 + bytes)
        return EMBBADDATA;
    unpack(rq, pdu + 2, dest);
    return 0;
}

int modbus_request_describe(const struct modbus_request *rq, const char *peer, const char *reason,
                            char *why, size_t size)
{
    const char *table = function_names[rq->function];
    int last = rq->address + rq->count - 1;
    if (rq->write_code)
        return snprintf(why, size, "writing %s %d..%d (function %d) to unit %d on %s: %s", table,
                        rq->address, last, rq->write_code, rq->unit_id, peer, reason);
    return snprintf(why, size, "%s %d..%d from unit %d on %s: %s", table, rq->address, last,
                    rq->unit_id, peer, reason);
}
