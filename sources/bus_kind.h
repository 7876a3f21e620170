/* The kinds of bus a [bus] section can be, as one table: how its devices
 * are reached (a host and port, or a serial device), how a request is
 * framed on it, and the source that polls it.
 *
 * Code above the sources asks these properties, never which kind a bus
 * is: a new kind is a row here (and, for a new protocol, its source). */
#ifndef GW_BUS_KIND_H
#define GW_BUS_KIND_H

#include "sources/source.h"

/* Indexed by bus_config.kind; bus_kind_names lists the same names, NULL
 * at the end, for the INI parser. */
extern const struct bus_kind bus_kinds[];
extern const int bus_kind_count;
extern const char *const bus_kind_names[];

static inline const struct bus_kind *bus_kind(int kind)
{
    return &bus_kinds[kind >= 0 && kind < bus_kind_count ? kind : 0];
}

#endif
