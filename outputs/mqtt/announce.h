/* The retained messages that describe the gateway rather than carry
 * readings: health, device metadata, Home Assistant discovery. Retained,
 * so a dashboard that subscribes late gets the latest at once; not
 * tracked, a lost one is simply sent again next time. */
#ifndef GW_ANNOUNCE_H
#define GW_ANNOUNCE_H

#include "config/config.h"
#include "outputs/mqtt/forwarder.h"
#include "outputs/health.h"

void announce_health(const struct gateway_config *cfg, struct forwarder *fw,
                     const struct health_inputs *in);

/* Device metadata and, when asked for, Home Assistant discovery: sent on
 * every connect, as Home Assistant may have started after the gateway or
 * the broker lost its retained store. */
void announce_on_connect(const struct gateway_config *cfg, struct forwarder *fw);
/* A device the file no longer has: its retained metadata cleared (an empty
 * retained message), so a dashboard that subscribes later never meets it. */
void announce_device_gone(const struct gateway_config *cfg, struct forwarder *fw,
                          const char *device);

#endif
