/* What the stub's two halves share: stub_server.c (options, Modbus TCP)
 * and stub_rtu.c (RTU framing, on a serial line, a pseudo-terminal or a
 * TCP socket). */
#ifndef STUB_INTERNAL_H
#define STUB_INTERNAL_H

#include "firmware-stubs/stub_faults.h"
#include "firmware-stubs/stub_server.h"

#include <time.h>

struct stub_options {
    int tcp_port; /* -1: not TCP */
    const char *bind;
    const char *rtu_device;
    int rtu_pty;
    int rtu_tcp_port; /* -1: not RTU over TCP */
    const char *pty_link;
    int unit;
    int baud;
    char parity;
    int stop_bits;
    int max_seconds;
    int registers; /* holding registers served, at least the model's */
    int close_idle_ms; /* TCP: close a connection idle this long (0: never) */
    struct stub_faults faults;
};

void handle_request(modbus_t *ctx, modbus_mapping_t *map, const struct stub_model *m,
                    const uint8_t *req, int len);
int time_is_up(const struct stub_options *o, time_t started);
void check_power_loss(const struct stub_model *m, modbus_mapping_t *map);

/* RTU on a serial device or a pseudo-terminal (--rtu, --rtu-pty). */
int serve_rtu(const struct stub_model *m, const struct stub_options *o, modbus_mapping_t *map);
/* RTU frames on TCP connections, one at a time (--rtu-over-tcp). */
int serve_rtu_over_tcp(const struct stub_model *m, const struct stub_options *o,
                       modbus_mapping_t *map);

#endif
