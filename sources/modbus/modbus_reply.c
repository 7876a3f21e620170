#include "sources/modbus/modbus_reply.h"
#include "sources/modbus/point_types.h"

#include <errno.h>
#include <modbus/modbus.h>

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

int modbus_request_encode(const struct modbus_request *rq, uint8_t pdu[6])
{
    pdu[0] = (uint8_t)rq->unit_id;
    pdu[1] = (uint8_t)modbus_function_code(rq->function);
    pdu[2] = (uint8_t)(rq->address >> 8);
    pdu[3] = (uint8_t)(rq->address & 0xff);
    pdu[4] = (uint8_t)(rq->count >> 8);
    pdu[5] = (uint8_t)(rq->count & 0xff);
    return 6;
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

int modbus_reply_check(const struct modbus_request *rq, bool tcp, int tid, const uint8_t *rsp,
                       int len, uint16_t *dest)
{
    int header = tcp ? 7 : 1, checksum = tcp ? 0 : 2;
    int body = len - header - checksum; /* function code onwards */
    if (body < 2 || (tcp && !mbap_fits(rsp, len, tid)))
        return EMBBADDATA;
    if (rsp[header - 1] != rq->unit_id)
        return EMBBADSLAVE;
    int fc = modbus_function_code(rq->function);
    const uint8_t *pdu = rsp + header;
    if (pdu[0] == (fc | 0x80))
        return body == 2 ? exception_errno(pdu[1]) : EMBBADEXC;
    if (pdu[0] != fc)
        return EMBBADDATA;
    int bytes = function_reads_bits(rq->function) ? (rq->count + 7) / 8 : 2 * rq->count;
    if (pdu[1] != bytes || body != 2 + bytes)
        return EMBBADDATA;
    unpack(rq, pdu + 2, dest);
    return 0;
}
