/* The box's own sensors as a source: values the kernel publishes as text
 * files under /sys (a CPU's temperature in thermal_zone0/temp, a supply
 * voltage from hwmon, a network interface's packet counters) or /proc.
 * A bus is the box itself; a device groups files polled together; a point
 * is one file holding one number, read at each poll. */
#ifndef GW_SYSFS_SOURCE_H
#define GW_SYSFS_SOURCE_H

#include "sources/source.h"

extern const struct source_ops sysfs_source;

#endif
