/* Fuzz target: the path a Modbus reply takes from the wire into a value.
 * The bytes are what a device (or line noise) sends back; they go over a
 * socketpair through the path the daemon takes for the bus: RTU framing
 * through libmodbus's receive and the gateway's link, Modbus TCP through
 * the gateway's own MBAP framing (mbap_conn), then, when accepted,
 * through the decoder.
 *
 * Input: byte 0 flags (bit 0: TCP, bit 1: repair the frame's CRC or MBAP
 * header so the fuzzer gets past it, bits 2-3: function), byte 1 count - 1,
 * byte 2 data type, byte 3 word order, then the reply. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sources/modbus/decode.h"
#include "sources/bus_kind.h"
#include "sources/modbus/mbap_conn.h"
#include "sources/modbus/modbus_link.h"

#include <poll.h>

#define UNIT 1
#define MAX_REPLY 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint16_t crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001) : (uint16_t)(crc >> 1);
    }
    return crc;
}

/* The first request on a connection carries transaction id 1. */
static size_t repair(uint8_t *reply, size_t n, int tcp)
{
    if (tcp) {
        if (n < 7)
            return n;
        reply[0] = 0, reply[1] = 1, reply[2] = 0, reply[3] = 0;
        reply[4] = (uint8_t)((n - 6) >> 8), reply[5] = (uint8_t)(n - 6);
        reply[6] = UNIT;
        return n;
    }
    if (n < 1 || n + 2 > MAX_REPLY)
        return n;
    reply[0] = UNIT;
    uint16_t crc = crc16(reply, n);
    reply[n] = (uint8_t)(crc & 0xff);
    reply[n + 1] = (uint8_t)(crc >> 8);
    return n + 2;
}

static enum link_result read_rtu(int fd, const struct link_device *dev, int function, int count,
                                 uint16_t *regs, char *why, size_t why_size)
{
    int kind = 0;
    while (strcmp(bus_kinds[kind].name, "rtu") != 0)
        kind++;
    struct bus_config bus = {.kind = kind, .baud = 19200, .data_bits = 8, .stop_bits = 1};
    strcpy(bus.device, "/dev/null");
    struct modbus_link *link = link_create_on_fd(&bus, bus_kind(bus.kind), fd);
    if (!link)
        abort();
    enum link_result result = link_read(link, dev, function, 0, count, regs, why, why_size);
    link_destroy(link);
    return result;
}

/* The daemon's event loop, reduced to one connection: poll(2) on what each
 * step waits for. */
static enum link_result read_tcp(int fd, const struct link_device *dev, int function, int count,
                                 uint16_t *regs, char *why, size_t why_size)
{
    struct mbap_conn *c = mbap_conn_create_on_fd(fd);
    if (!c)
        abort();
    struct modbus_request rq = {
        .unit_id = dev->unit_id, .function = function, .address = 0, .count = count};
    struct source_step step;
    mbap_begin(c, dev, &rq, regs, why, why_size, &step);
    while (!step.done) {
        struct pollfd p = {.fd = step.fd, .events = step.events};
        int n = poll(&p, step.fd >= 0 ? 1 : 0, 5);
        mbap_resume(c, n > 0 ? p.revents : 0, &step);
    }
    mbap_conn_destroy(c);
    static const enum link_result of_source[] = {
        [SOURCE_OK] = LINK_OK, [SOURCE_REFUSED] = LINK_EXCEPTION, [SOURCE_IO] = LINK_IO};
    return of_source[step.result];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4 || size - 4 > MAX_REPLY - 2)
        return 0;
    int tcp = data[0] & 1, function = (data[0] >> 2) & 3;
    int count =
        function == FN_COIL || function == FN_DISCRETE_INPUT ? data[1] + 1 : data[1] % 125 + 1;
    uint8_t reply[MAX_REPLY];
    size_t n = size - 4;
    memcpy(reply, data + 4, n);
    if (data[0] & 2)
        n = repair(reply, n, tcp);

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        abort();
    /* The reply waits in the socket; after it the peer's end is shut, so a
     * short frame ends in an error at once instead of a timeout. */
    if (n && write(sv[1], reply, n) != (ssize_t)n)
        abort();
    shutdown(sv[1], SHUT_WR);
    uint16_t regs[2000];
    char why[200];
    struct link_device dev = {.unit_id = UNIT, .timeout_ms = 20};
    enum link_result result = tcp ? read_tcp(sv[0], &dev, function, count, regs, why, sizeof(why))
                                  : read_rtu(sv[0], &dev, function, count, regs, why, sizeof(why));
    if (getenv("FUZZ_VERBOSE")) /* for triage: what the link made of it */
        fprintf(stderr, "%s %s\n", tcp ? "tcp" : "rtu", result == LINK_OK ? "ok" : why);
    if (result == LINK_OK) {
        enum data_type type = (enum data_type)(data[2] % (DT_FLOAT64 + 1));
        double value;
        if (data_type_width(type) <= count)
            decode_registers(regs, type, (enum word_order)(data[3] % 4), &value);
    }
    close(sv[1]);
    return 0;
}
