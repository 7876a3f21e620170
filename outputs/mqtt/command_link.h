/* Commands over MQTT (docs/mqtt-contract.md, "Commands"): the forwarder
 * subscribes to {prefix}/{gateway}/commands/+/+ on every connect, turns
 * each message into a struct command for the sink (the retained flag, the
 * MQTT 5 Response Topic, Correlation Data and Message Expiry Interval
 * included), and publishes the result: QoS 1, not retained, on the Response
 * Topic with the Correlation Data, or else on .../commands/{device}/{point}/result.
 * Inside the forwarder; paho calls these on its own thread. */
#ifndef GW_COMMAND_LINK_H
#define GW_COMMAND_LINK_H

#include <MQTTAsync.h>
#include <stdbool.h>

struct forwarder;

/* After each connect, when the forwarder has a command sink. */
void command_link_subscribe(struct forwarder *fw);
/* True when topic was a command (handed to the sink, answered later). */
bool command_link_receive(struct forwarder *fw, const char *topic, MQTTAsync_message *message);

#endif
