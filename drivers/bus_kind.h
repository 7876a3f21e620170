/* The kinds of bus a [bus] section can be, as one table: how its devices
 * are reached (a host and port, or a serial device) and how a request is
 * framed on it (Modbus TCP's MBAP header, or RTU's unit address and CRC).
 *
 * Code above the link asks these properties, never which kind a bus is:
 * a new kind is a row here and its case in modbus_link.c. */
#ifndef GW_BUS_KIND_H
#define GW_BUS_KIND_H

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

/* Indexed by bus_config.kind; bus_kind_names (config.h) lists the same
 * names for the INI parser. */
extern const struct bus_kind bus_kinds[];
extern const int bus_kind_count;

/* The index of the kind named name, or -1. */
int bus_kind_find(const char *name);

static inline const struct bus_kind *bus_kind(int kind)
{
    return &bus_kinds[kind >= 0 && kind < bus_kind_count ? kind : 0];
}

#endif
