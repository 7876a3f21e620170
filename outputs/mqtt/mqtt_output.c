#include "outputs/mqtt/mqtt_output.h"
#include "outputs/mqtt/announce.h"
#include "outputs/mqtt/forwarder.h"
#include "outputs/mqtt/payload.h"

#include <stdlib.h>
#include <string.h>

struct mqtt_output {
    const struct gateway_config *cfg;
    const struct store *store;
    struct forwarder *fw;
    char *payload; /* grown to the largest record, reused */
    size_t payload_cap;
};

static void service(void *self, int64_t now_mono_ms)
{
    forwarder_service(((struct mqtt_output *)self)->fw, now_mono_ms);
}

static int64_t next_service_ms(void *self)
{
    return forwarder_next_service_ms(((struct mqtt_output *)self)->fw);
}

static size_t window(void *self)
{
    return forwarder_window(((struct mqtt_output *)self)->fw);
}

static size_t in_flight(void *self)
{
    return forwarder_in_flight(((struct mqtt_output *)self)->fw);
}

static enum output_result publish(void *self, const struct record *rec, bool newest)
{
    struct mqtt_output *o = self;
    size_t need = payload_record_max(rec);
    if (need > o->payload_cap) {
        char *bigger = realloc(o->payload, need);
        if (!bigger)
            return OUTPUT_NOT_NOW;
        o->payload = bigger;
        o->payload_cap = need;
    }
    const struct mqtt_config *m = &o->cfg->mqtt;
    char topic[TOPIC_MAX];
    int len = -1;
    if (topic_format_record(topic, sizeof(topic), m->topic_prefix, o->cfg->id, m->layout, rec,
                            o->store) > 0)
        len =
            payload_format_record(o->payload, o->payload_cap, o->cfg->id, m->layout, rec, o->store);
    if (len < 0)
        return OUTPUT_UNWRITABLE;
    switch (forwarder_publish(o->fw, topic, o->payload, len, rec->seq, rec->n, newest)) {
    case FW_SENT:
        return OUTPUT_SENT;
    case FW_SET_ASIDE:
        return OUTPUT_SET_ASIDE;
    default:
        return OUTPUT_NOT_NOW;
    }
}

static size_t take_acks(void *self, int64_t *out, size_t max)
{
    return forwarder_take_acks(((struct mqtt_output *)self)->fw, out, max);
}

static size_t take_refusals(void *self, struct reading_refusal *out, size_t max)
{
    return forwarder_take_refusals(((struct mqtt_output *)self)->fw, out, max);
}

static bool take_resend(void *self)
{
    return forwarder_take_resend(((struct mqtt_output *)self)->fw);
}

static void announce_health_op(void *self, const struct health_inputs *in)
{
    struct mqtt_output *o = self;
    announce_health(o->cfg, o->fw, in);
}

static void announce_devices(void *self)
{
    struct mqtt_output *o = self;
    announce_on_connect(o->cfg, o->fw);
}

static void forget_device(void *self, const char *device)
{
    struct mqtt_output *o = self;
    announce_device_gone(o->cfg, o->fw, device);
}

/* With layout = device a poll's readings are one message on the device's
 * topic: every point of a device has the lowest id among them as key. */
static uint32_t message_key(void *self, uint32_t point_id)
{
    struct mqtt_output *o = self;
    const struct store_point *pt = store_point(o->store, point_id);
    if (o->cfg->mqtt.layout != MQTT_LAYOUT_DEVICE || !pt || !pt->device[0])
        return point_id;
    for (uint32_t other = 0; other < point_id; other++) {
        const struct store_point *q = store_point(o->store, other);
        if (q && strcmp(q->device, pt->device) == 0)
            return other;
    }
    return point_id;
}

static void stop(void *self, int64_t timeout_ms)
{
    forwarder_stop(((struct mqtt_output *)self)->fw, timeout_ms);
}

static void destroy(void *self)
{
    struct mqtt_output *o = self;
    if (!o)
        return;
    forwarder_destroy(o->fw);
    free(o->payload);
    free(o);
}

static const struct output_ops mqtt_ops = {
    .service = service,
    .next_service_ms = next_service_ms,
    .window = window,
    .in_flight = in_flight,
    .publish = publish,
    .take_acks = take_acks,
    .take_refusals = take_refusals,
    .take_resend = take_resend,
    .announce_health = announce_health_op,
    .announce_devices = announce_devices,
    .forget_device = forget_device,
    .message_key = message_key,
    .stop = stop,
    .destroy = destroy,
};

int mqtt_output_create(const struct gateway_config *cfg, const struct store *store,
                       struct gateway_stats *stats, void (*wake)(void *), void *wake_ctx,
                       const struct command_sink *commands, struct output *out)
{
    struct mqtt_output *o = calloc(1, sizeof(*o));
    if (!o)
        return -1;
    o->cfg = cfg;
    o->store = store;
    if (forwarder_create(cfg, stats, wake, wake_ctx, commands, &o->fw) != 0) {
        free(o);
        return -1;
    }
    *out = (struct output){.ops = &mqtt_ops, .self = o};
    return 0;
}
