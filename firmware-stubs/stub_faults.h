/* Fault modes of the simulated firmware: what a broken, busy or badly wired
 * device does on a real line, so that tests can show the gateway survives
 * it. A mode is fixed on the command line (--fault) or read from a file
 * before every request (--fault-file), so a test can switch it while the
 * stub runs. Faults apply to one unit id (--fault-unit, default: the
 * stub's own), so one RTU stub can play a healthy and a faulty device on
 * the same line. */
#ifndef STUB_FAULTS_H
#define STUB_FAULTS_H

#include <modbus/modbus.h>
#include <stdint.h>

enum stub_fault {
    FAULT_NONE,
    FAULT_SILENT,          /* no answer at all: a timeout */
    FAULT_ILLEGAL_ADDRESS, /* exception 02 */
    FAULT_BUSY,            /* exception 06, server device busy */
    FAULT_GARBAGE,         /* random bytes instead of a frame */
    FAULT_BAD_CRC,         /* the right reply with a broken CRC (RTU) */
    FAULT_SLOW,            /* the right reply, --slow-ms late */
    FAULT_RESET,           /* TCP: the connection is reset (RST) */
    FAULT_WRONG_UNIT,      /* TCP: the right values, answered as another unit id */
    FAULT_BAD_LENGTH,      /* TCP: the right values, MBAP length 0xFFFF */
    FAULT_DRIBBLE,         /* TCP: the right reply, one byte every --slow-ms */
    FAULT_COUNT
};

struct stub_faults {
    enum stub_fault fixed;
    const char *file;
    int unit; /* -1: the stub's own unit */
    int slow_ms;
};

extern const char *const stub_fault_names[FAULT_COUNT];

int stub_fault_parse(const char *name, enum stub_fault *out);

/* The mode for the next request: the file's first word when a file is
 * configured (missing or unknown: none), else the fixed mode. */
enum stub_fault stub_fault_now(const struct stub_faults *f);

/* Modbus RTU CRC-16, as sent on the wire (low byte first). */
uint16_t stub_rtu_crc(const uint8_t *data, int len);

/* Builds the RTU reply to a register read (FC 3 or 4) from the map into
 * out; returns its length with CRC, or 0 for any other request. */
int stub_rtu_read_reply(const modbus_mapping_t *map, const uint8_t *req, int len, uint8_t *out,
                        int cap);

/* The same for Modbus TCP: the MBAP header echoes the request's. */
int stub_tcp_read_reply(const modbus_mapping_t *map, const uint8_t *req, int len, uint8_t *out,
                        int cap);

/* Fills buf with bytes that are no Modbus frame. */
void stub_garbage(uint8_t *buf, int len);

#endif
