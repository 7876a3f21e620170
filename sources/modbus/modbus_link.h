/* One connection to a Modbus RTU line: a serial port, or the socket of an
 * RTU-over-TCP converter in front of one. libmodbus's RTU backend frames
 * and checks the CRC; this file keeps the line's silences (line_pacing.h)
 * and turns libmodbus's errno values into the three outcomes the poller
 * acts on. Modbus TCP buses are framed by mbap_conn.h instead. */
#ifndef GW_MODBUS_LINK_H
#define GW_MODBUS_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sources/source.h"

enum link_result {
    LINK_OK,
    LINK_EXCEPTION, /* the device answered with a Modbus exception: it is alive */
    LINK_IO,        /* no answer, a broken frame or a broken connection */
};

struct modbus_link;

struct modbus_link *link_create(const struct bus_config *bus, const struct bus_kind *kind);
void link_destroy(struct modbus_link *link);

/* For fuzzing and tests: a link that talks over a descriptor already open
 * (one end of a socketpair), so replies can be fed without a device. The
 * link owns fd from here on. */
struct modbus_link *link_create_on_fd(const struct bus_config *bus, const struct bus_kind *kind,
                                      int fd);

/* Connects if not connected; *fresh says whether it just did (some devices
 * need a pause before the first request on a new connection). */
enum link_result link_connect(struct modbus_link *link, bool *fresh, char *why, size_t why_size);

/* A device as the link talks to it. */
struct link_device {
    int unit_id;
    int64_t timeout_ms;
    int64_t pause_ms;       /* silence added before each request to it */
    int64_t quiet_after_ms; /* the silence it needs after its reply, when more than t3.5 */
    /* After a timeout, how long to listen for a late reply before the next
     * request: 0 is as long as the timeout (at most 1 s). */
    int64_t late_listen_ms;
    /* Modbus TCP in steps (mbap_conn.h): silence before the first request
     * on a new connection, which some devices need. */
    int64_t after_connect_ms;
};

/* Reads count registers, or bits widened to 0/1 registers, into dest.
 * Connects first if needed. On a serial line (RTU framing) the request
 * waits for the line's silence and a failure is followed by listening for
 * what still arrives (line_pacing.h). On failure, why holds a short reason. */
enum link_result link_read(struct modbus_link *link, const struct link_device *dev, int function,
                           int address, int count, uint16_t *dest, char *why, size_t why_size);

/* Writes count registers or coils (values as 0/1) at address of the table
 * function (enum point_function) with Modbus function code write_code (5,
 * 6, 15 or 16), under the same line timing as a read. LINK_OK once the
 * device's reply confirmed the address and the value or count; a write is
 * never sent twice. */
enum link_result link_write(struct modbus_link *link, const struct link_device *dev, int function,
                            int write_code, int address, int count, const uint16_t *values,
                            char *why, size_t why_size);

/* Bytes heard on the line since the last call that answered no request. */
uint32_t link_take_stray_bytes(struct modbus_link *link);

#endif
