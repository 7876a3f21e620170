/* The kinds of bus a [bus] section can be, as one table: how its devices
 * are reached (a host and port, or a serial device) and how a request is
 * framed on it (Modbus TCP's MBAP header, or RTU's unit address and CRC).
 *
 * Code above the link asks these properties, never which kind a bus is:
 * a new kind is a row here and its case in modbus_link.c. */
#ifndef GW_BUS_KIND_H
#define GW_BUS_KIND_H

#include <stdbool.h>
#include <stdint.h>

#include "core/names.h"

enum bus_addressing {
    BUS_NETWORK, /* host and port */
    BUS_SERIAL,  /* a serial device and its line settings */
};

enum bus_framing {
    FRAMING_MBAP, /* Modbus TCP: one connection, many units behind a gateway */
    FRAMING_RTU,  /* an RS-485 line: units 1 to 247, one request at a time */
};

struct bus_kind {
    const char *name;      /* the INI's [bus] type */
    const char *transport; /* the device metadata's transport */
    enum bus_addressing addressing;
    enum bus_framing framing;
};

/* One [bus] of the INI file, as the link opens it. */
struct bus_config {
    char name[CFG_NAME_MAX + 1];
    int kind; /* index into bus_kinds[] below */
    char host[CFG_TEXT_MAX];
    int port;
    char device[CFG_TEXT_MAX];
    int baud;
    int parity; /* index into parity_names: none, even, odd */
    int data_bits;
    int stop_bits;
    int64_t pause_between_requests_ms;
    int line;
    bool broken; /* its section had errors: the checks across sections skip it */
};

/* Indexed by bus_config.kind; bus_kind_names lists the same names, NULL
 * at the end, for the INI parser. */
extern const struct bus_kind bus_kinds[];
extern const int bus_kind_count;
extern const char *const bus_kind_names[];

/* The index of the kind named name, or -1. */
int bus_kind_find(const char *name);

static inline const struct bus_kind *bus_kind(int kind)
{
    return &bus_kinds[kind >= 0 && kind < bus_kind_count ? kind : 0];
}

#endif
