/* The MQTT output: records as messages on the topics and with the payloads
 * of docs/mqtt-contract.md, over paho-mqtt-c (forwarder.h), plus the
 * retained status, health, device metadata and Home Assistant discovery. */
#ifndef GW_MQTT_OUTPUT_H
#define GW_MQTT_OUTPUT_H

#include "commands/command.h"
#include "config/config.h"
#include "store/store.h"
#include "outputs/output.h"

/* store names the records' points; stats counts what the broker does;
 * wake is called from paho's threads when the pipeline has news; commands
 * received go to commands (NULL: none are listened for). */
int mqtt_output_create(const struct gateway_config *cfg, const struct store *store,
                       struct gateway_stats *stats, void (*wake)(void *), void *wake_ctx,
                       const struct command_sink *commands, struct output *out);

#endif
