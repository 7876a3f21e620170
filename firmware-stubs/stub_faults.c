#include "firmware-stubs/stub_faults.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const stub_fault_names[FAULT_COUNT] = {
    [FAULT_NONE] = "none", [FAULT_SILENT] = "silent",   [FAULT_ILLEGAL_ADDRESS] = "illegal-address",
    [FAULT_BUSY] = "busy", [FAULT_GARBAGE] = "garbage", [FAULT_BAD_CRC] = "bad-crc",
    [FAULT_SLOW] = "slow", [FAULT_RESET] = "reset",     [FAULT_WRONG_UNIT] = "wrong-unit",
    [FAULT_BAD_LENGTH] = "bad-length", [FAULT_DRIBBLE] = "dribble",
};

int stub_fault_parse(const char *name, enum stub_fault *out)
{
    for (int i = 0; i < FAULT_COUNT; i++) {
        if (strcasecmp(name, stub_fault_names[i]) == 0) {
            *out = (enum stub_fault)i;
            return 0;
        }
    }
    return -1;
}

enum stub_fault stub_fault_now(const struct stub_faults *f)
{
    if (!f->file)
        return f->fixed;
    FILE *fp = fopen(f->file, "r");
    char word[32] = "";
    if (fp) {
        if (fscanf(fp, "%31s", word) != 1)
            word[0] = '\0';
        fclose(fp);
    }
    enum stub_fault mode = FAULT_NONE;
    if (word[0])
        stub_fault_parse(word, &mode);
    return mode;
}

uint16_t stub_rtu_crc(const uint8_t *data, int len)
{
    uint16_t crc = 0xFFFF;
    for (int i = 0; i < len; i++) {
        crc ^= data[i];
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

/* unit, function, byte count and the registers of a FC 3 or 4 request
 * (unit id first, as in an RTU frame); 0 for any other request. */
static int read_reply_pdu(const modbus_mapping_t *map, const uint8_t *req, uint8_t *out, int cap)
{
    if (req[1] != 0x03 && req[1] != 0x04)
        return 0;
    int address = (req[2] << 8) | req[3], count = (req[4] << 8) | req[5];
    const uint16_t *table = req[1] == 0x03 ? map->tab_registers : map->tab_input_registers;
    int size = req[1] == 0x03 ? map->nb_registers : map->nb_input_registers;
    if (count < 1 || count > 125 || address + count > size || 3 + 2 * count > cap)
        return 0;
    int n = 0;
    out[n++] = req[0];
    out[n++] = req[1];
    out[n++] = (uint8_t)(2 * count);
    for (int i = 0; i < count; i++) {
        out[n++] = (uint8_t)(table[address + i] >> 8);
        out[n++] = (uint8_t)(table[address + i] & 0xff);
    }
    return n;
}

int stub_tcp_read_reply(const modbus_mapping_t *map, const uint8_t *req, int len, uint8_t *out,
                        int cap)
{
    if (len < 12 || cap < 6)
        return 0;
    int n = read_reply_pdu(map, req + 6, out + 6, cap - 6);
    if (n == 0)
        return 0;
    memcpy(out, req, 4); /* transaction and protocol id */
    out[4] = (uint8_t)(n >> 8);
    out[5] = (uint8_t)(n & 0xff);
    return 6 + n;
}

int stub_rtu_read_reply(const modbus_mapping_t *map, const uint8_t *req, int len, uint8_t *out,
                        int cap)
{
    int n = len >= 8 && cap >= 2 ? read_reply_pdu(map, req, out, cap - 2) : 0;
    if (n == 0)
        return 0;
    uint16_t crc = stub_rtu_crc(out, n);
    out[n++] = (uint8_t)(crc & 0xff);
    out[n++] = (uint8_t)(crc >> 8);
    return n;
}

void stub_garbage(uint8_t *buf, int len)
{
    for (int i = 0; i < len; i++)
        buf[i] = (uint8_t)(rand() & 0xff);
}
