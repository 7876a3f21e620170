/* The MQTT side of the pipeline, on paho-mqtt-c's asynchronous client.
 *
 * The forwarder keeps no copy of a reading: the store does. It tells the
 * pipeline three things: how many more messages may be in flight, which
 * sequence numbers the broker acknowledged, and when a (re)connect means
 * everything unacknowledged must be sent again from the oldest.
 *
 * Connecting is driven from the pipeline thread (forwarder_service) with
 * exponential back-off across the configured broker URIs; paho's own
 * automatic reconnect is not used because it does not cover a broker that
 * is down when the gateway starts. */
#ifndef GW_FORWARDER_H
#define GW_FORWARDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commands/command.h"
#include "config/config.h"
#include "core/stats.h"
#include "core/reading.h"

struct forwarder;

/* wake is called from paho's thread whenever the pipeline has news.
 * commands: where commands received go (outputs/mqtt/command_link.h);
 * NULL: none are listened for. */
int forwarder_create(const struct gateway_config *cfg, struct gateway_stats *stats,
                     void (*wake)(void *), void *wake_ctx, const struct command_sink *commands,
                     struct forwarder **out);
void forwarder_destroy(struct forwarder *fw);

/* Starts a connection attempt when one is due. */
void forwarder_service(struct forwarder *fw, int64_t now_mono_ms);

/* When forwarder_service next has something to do (a connection attempt,
 * a check for a silent link), monotonic ms; INT64_MAX: nothing planned. */
int64_t forwarder_next_service_ms(struct forwarder *fw);

/* Messages that may be published now: 0 while not connected. */
size_t forwarder_window(struct forwarder *fw);
size_t forwarder_in_flight(struct forwarder *fw);

/* What became of a reading handed to forwarder_publish. */
enum fw_publish_result {
    FW_SENT,      /* in flight; its PUBACK (or refusal) will be reported */
    FW_NOT_NOW,   /* not connected, window full, or paho said no: try later */
    FW_SET_ASIDE, /* larger than the broker takes: reported as refused at once */
};

/* readings: how many the message carries (health counts both units).
 * retain: the newest record of its topic, kept by the broker for
 * subscribers that come later. */
enum fw_publish_result forwarder_publish(struct forwarder *fw, const char *topic,
                                         const char *payload, int len, int64_t seq, int readings,
                                         bool retain);

/* A retained QoS 1 message outside the reading flow (health, metadata):
 * not tracked, sent again on the next occasion if it is lost. Returns 0
 * when paho accepted it; -1 when not connected. */
int forwarder_publish_retained(struct forwarder *fw, const char *topic, const char *payload);

/* Moves up to max acknowledged sequence numbers into out. */
size_t forwarder_take_acks(struct forwarder *fw, int64_t *out, size_t max);

/* Moves up to max readings the broker refused into out: by a PUBACK reason
 * code of 0x80 or more (MQTT 5), by being too large for the broker's
 * maximum packet size, or by the connection dropping three times in a row
 * while each was the oldest in flight. They are to be set aside. */
size_t forwarder_take_refusals(struct forwarder *fw, struct reading_refusal *out, size_t max);

/* True once after each successful connect. */
bool forwarder_take_resend(struct forwarder *fw);

/* Publishes the retained "offline" status and disconnects, waiting at most
 * timeout_ms. Safe to call when not connected. */
void forwarder_stop(struct forwarder *fw, int64_t timeout_ms);

#endif
