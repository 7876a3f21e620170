/* The MQTT output: records as messages on the topics and with the payloads
 * of docs/mqtt-contract.md, over paho-mqtt-c (forwarder.h), plus the
 * retained status, health, device metadata and Home Assistant discovery. */
#ifndef GW_MQTT_OUTPUT_H
#define GW_MQTT_OUTPUT_H

#include "config/config.h"
#include "store/store.h"
#include "outputs/output.h"

/* store names the records' points; stats counts what the broker does;
 * wake is called from paho's threads when the pipeline has news. */
int mqtt_output_create(const struct gateway_config *cfg, const struct store *store,
                       struct gateway_stats *stats, void (*wake)(void *), void *wake_ctx,
                       struct output *out);

#endif
