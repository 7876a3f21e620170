/* A changed file against the one the daemon runs on, for a reload
 * (SIGHUP): what must wait for a restart, and which buses, devices and
 * points are the same as before, so that only what changed is restarted.
 *
 * Sections are compared field by field as loaded (the loader zeroes every
 * struct first), leaving out what only says where a thing stands in the
 * file or in the arrays: line numbers and indexes. */
#ifndef GW_CONFIG_DIFF_H
#define GW_CONFIG_DIFF_H

#include <stdbool.h>

#include "config/config.h"

/* One line per setting that differs and that the running daemon cannot
 * take without a restart ([gateway] id and timezone, [store], [mqtt],
 * [commands]), naming section and key; nothing when a reload can apply
 * next. */
void config_restart_only_changes(const struct gateway_config *running,
                                 const struct gateway_config *next, struct config_errors *out);

bool config_bus_same(const struct bus_config *a, const struct bus_config *b);
bool config_point_same(const struct point_config *a, const struct point_config *b);
/* The device's own settings and all its points, in order. */
bool config_device_same(const struct gateway_config *a, int a_index, const struct gateway_config *b,
                        int b_index);

/* Moves what a reload applies (buses, devices, points, log level, health
 * interval, status and metrics files) from next into running, and what
 * running had into next, for config_free(next) once nothing uses it. The
 * settings that need a restart stay as they are, so a thread that reads
 * only those (the MQTT client's) never sees running change. */
void config_swap_live(struct gateway_config *running, struct gateway_config *next);

#endif
