/* Optional Home Assistant MQTT discovery ([mqtt] ha_discovery = true).
 *
 * Home Assistant learns entities from retained JSON documents on
 * {ha_prefix}/{component}/{gateway}/{object_id}/config. Each document points
 * it at topics this gateway publishes anyway (readings, indicators, status),
 * so discovery adds no second data stream and nothing to keep in step:
 * docs/home-assistant.md describes the mapping. */
#ifndef GW_HA_DISCOVERY_H
#define GW_HA_DISCOVERY_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

/* What of a point an entity shows: its raw readings, or its indicator
 * (counts per interval for a counter, the window average for a
 * measurement with a window). */
enum ha_stream { HA_READINGS, HA_INDICATOR };

/* Whether the point publishes that stream at all. */
bool ha_entity_exists(const struct point_config *p, enum ha_stream stream);

/* The discovery topic; returns its length, or -1 if it did not fit. */
int ha_discovery_topic(char *buf, size_t size, const struct gateway_config *cfg,
                       const struct point_config *p, enum ha_stream stream);

/* The discovery document as malloc'd JSON text, or NULL when out of
 * memory. */
char *ha_discovery_json(const struct gateway_config *cfg, const struct point_config *p,
                        enum ha_stream stream);

/* Object ids are {device}_{point}[_suffix], and names may hold '_', so two
 * entities can meet on one discovery topic (device a_b point c, device a
 * point b_c); each would replace the other in Home Assistant. Adds one
 * error per clash; returns how many. */
size_t ha_discovery_check(const struct gateway_config *cfg, struct config_errors *errors);

#endif
