/* Modbus as a source (sources/source.h): a bus is one link, a device one
 * read plan over its points, a poll the plan's requests decoded into raw
 * samples. Serves every kind of bus that frames Modbus: TCP, RTU, RTU
 * over TCP (the link tells them apart). */
#ifndef GW_MODBUS_SOURCE_H
#define GW_MODBUS_SOURCE_H

#include "sources/source.h"

extern const struct source_ops modbus_source;

/* bus_kind.variant for the kinds Modbus serves: how a request is framed. */
enum modbus_framing {
    MODBUS_MBAP, /* Modbus TCP: one connection, many units behind a gateway */
    MODBUS_RTU,  /* RTU frames, CRC and all: a serial line, or a converter over TCP */
};

#endif
