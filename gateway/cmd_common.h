#ifndef GW_CMD_COMMON_H
#define GW_CMD_COMMON_H

#include <stddef.h>

#include "config/config.h"
#include "gateway/poller.h"
#include "core/reading.h"

#define EXIT_CONFIG 2

/* config_load, its errors printed to stderr: 0, or -1. */
int command_load_config(const char *path, struct gateway_config *cfg);
/* Polls cfg's device device_index once, now, from this thread (a poller of
 * its own that is never started); its requests go to trace, up to max
 * readings to out, each reading's point_id the index of its point in cfg.
 * Returns how many readings, or -1 without memory. */
int command_poll_once(const struct gateway_config *cfg, int device_index,
                      const struct source_trace *trace, struct reading *out, size_t max);

#endif
