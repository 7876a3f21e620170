#include "outputs/mqtt/announce.h"
#include "core/log.h"
#include "outputs/mqtt/ha_discovery.h"
#include "outputs/mqtt/payload.h"

#include <stdlib.h>

void announce_health(const struct gateway_config *cfg, struct forwarder *fw,
                     const struct health_inputs *in)
{
    char topic[TOPIC_MAX];
    char *json = health_json(cfg, in);
    if (json && topic_format_health(topic, sizeof(topic), cfg->mqtt.topic_prefix, cfg->id) > 0)
        forwarder_publish_retained(fw, topic, json);
    free(json);
}

static void announce_devices(const struct gateway_config *cfg, struct forwarder *fw)
{
    for (size_t i = 0; i < cfg->device_count; i++) {
        char topic[TOPIC_MAX];
        char *json = device_meta_json(cfg, (int)i);
        if (json && topic_format_device_meta(topic, sizeof(topic), cfg->mqtt.topic_prefix, cfg->id,
                                             cfg->devices[i].name) > 0)
            forwarder_publish_retained(fw, topic, json);
        free(json);
    }
}

static void announce_ha_discovery(const struct gateway_config *cfg, struct forwarder *fw)
{
    if (!cfg->mqtt.ha_discovery)
        return;
    for (size_t i = 0; i < cfg->point_count; i++) {
        for (int s = HA_READINGS; s <= HA_INDICATOR; s++) {
            const struct point_config *pc = &cfg->points[i];
            char topic[TOPIC_MAX];
            if (!ha_entity_exists(pc, (enum ha_stream)s) ||
                ha_discovery_topic(topic, sizeof(topic), cfg, pc, (enum ha_stream)s) < 0)
                continue;
            char *json = ha_discovery_json(cfg, pc, (enum ha_stream)s);
            if (json)
                forwarder_publish_retained(fw, topic, json);
            free(json);
        }
    }
}

void announce_on_connect(const struct gateway_config *cfg, struct forwarder *fw)
{
    announce_devices(cfg, fw);
    announce_ha_discovery(cfg, fw);
}

void announce_device_gone(const struct gateway_config *cfg, struct forwarder *fw,
                          const char *device)
{
    char topic[TOPIC_MAX];
    if (topic_format_device_meta(topic, sizeof(topic), cfg->mqtt.topic_prefix, cfg->id, device) >
            0 &&
        forwarder_publish_retained(fw, topic, "") != 0)
        log_msg(LOG_WARNING,
                "mqtt: %s could not be cleared (not connected): a subscriber may "
                "still be handed device %s's metadata",
                topic, device);
}
