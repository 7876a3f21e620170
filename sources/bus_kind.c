#include "sources/bus_kind.h"
#include "sources/modbus/modbus_source.h"
#include "sources/sysfs/sysfs_source.h"

/* RTU over TCP: what the cheap serial-to-Ethernet converters speak in
 * their transparent mode. The RS-485 line's settings live in the
 * converter; the gateway sends RTU frames, CRC and all, over the socket. */
const struct bus_kind bus_kinds[] = {
    {"tcp", "modbus-tcp", BUS_NETWORK, false, MODBUS_MBAP, &modbus_source},
    {"rtu", "modbus-rtu", BUS_SERIAL, true, MODBUS_RTU, &modbus_source},
    {"rtu-over-tcp", "modbus-rtu-over-tcp", BUS_NETWORK, true, MODBUS_RTU, &modbus_source},
    {"sysfs", "sysfs", BUS_LOCAL, false, 0, &sysfs_source},
};
const int bus_kind_count = sizeof(bus_kinds) / sizeof(bus_kinds[0]);
/* The same names, as the INI parser's list of choices for [bus] type. */
const char *const bus_kind_names[] = {"tcp", "rtu", "rtu-over-tcp", "sysfs", NULL};
