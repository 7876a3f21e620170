#include "outputs/mqtt/command_link.h"
#include "commands/command_payload.h"
#include "core/clock.h"
#include "outputs/mqtt/forwarder_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* {prefix}/{gateway}/commands/ */
static int commands_base(const struct forwarder *fw, char *buf, size_t size)
{
    return snprintf(buf, size, "%s/%s/commands/", fw->cfg->mqtt.topic_prefix, fw->cfg->id);
}

static void on_subscribe_failed(void *context, MQTTAsync_failureData *response)
{
    (void)context;
    log_msg(LOG_ERROR, "mqtt: the broker refused the subscription to commands (%d%s%s): none "
                       "will arrive; check its ACL",
            response ? response->code : 0, response && response->message ? ": " : "",
            response && response->message ? response->message : "");
}

static void on_subscribe_failed5(void *context, MQTTAsync_failureData5 *response)
{
    (void)context;
    log_msg(LOG_ERROR, "mqtt: the broker refused the subscription to commands (reason 0x%02x): "
                       "none will arrive; check its ACL",
            response ? (unsigned)response->reasonCode : 0u);
}

void command_link_subscribe(struct forwarder *fw)
{
    char filter[TOPIC_MAX];
    int n = commands_base(fw, filter, sizeof(filter));
    snprintf(filter + n, sizeof(filter) - (size_t)n, "+/+");
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    if (fw->v5)
        ro.onFailure5 = on_subscribe_failed5;
    else
        ro.onFailure = on_subscribe_failed;
    ro.context = fw;
    int rc = MQTTAsync_subscribe(fw->client, filter, 1, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        log_msg(LOG_ERROR, "mqtt: cannot subscribe to %s (paho error %d)", filter, rc);
    else
        log_msg(LOG_INFO, "mqtt: listening for commands on %s", filter);
}

/* "{device}/{point}" after the base: names as the config allows them. */
static bool split_names(const char *rest, struct command *cmd)
{
    const char *slash = strchr(rest, '/');
    if (!slash || strchr(slash + 1, '/') || slash == rest || !slash[1])
        return false;
    size_t dlen = (size_t)(slash - rest);
    if (dlen >= sizeof(cmd->device) || strlen(slash + 1) >= sizeof(cmd->point))
        return false;
    memcpy(cmd->device, rest, dlen);
    cmd->device[dlen] = '\0';
    strcpy(cmd->point, slash + 1);
    return true;
}

/* The MQTT 5 properties a request carries: where to answer, what to
 * answer with, and how long it is worth carrying out. */
static void take_properties(struct command *cmd, MQTTProperties *props)
{
    MQTTProperty *p = MQTTProperties_getProperty(props, MQTTPROPERTY_CODE_RESPONSE_TOPIC);
    if (p && p->value.data.len > 0 && (size_t)p->value.data.len < sizeof(cmd->reply_topic) &&
        !memchr(p->value.data.data, '+', (size_t)p->value.data.len) &&
        !memchr(p->value.data.data, '#', (size_t)p->value.data.len)) {
        memcpy(cmd->reply_topic, p->value.data.data, (size_t)p->value.data.len);
        cmd->reply_topic[p->value.data.len] = '\0';
    }
    p = MQTTProperties_getProperty(props, MQTTPROPERTY_CODE_CORRELATION_DATA);
    if (p && p->value.data.len > 0) {
        size_t len = (size_t)p->value.data.len;
        cmd->correlation_len = len < sizeof(cmd->correlation) ? len : sizeof(cmd->correlation);
        memcpy(cmd->correlation, p->value.data.data, cmd->correlation_len);
    }
    p = MQTTProperties_getProperty(props, MQTTPROPERTY_CODE_MESSAGE_EXPIRY_INTERVAL);
    if (p)
        cmd->expires_ms = cmd->received_ms + (int64_t)p->value.integer4 * 1000;
}

static void reply(void *ctx, const struct command *cmd, const struct command_result *res);

bool command_link_receive(struct forwarder *fw, const char *topic, MQTTAsync_message *message)
{
    char base[TOPIC_MAX];
    int n = commands_base(fw, base, sizeof(base));
    if (!fw->commands.submit || strncmp(topic, base, (size_t)n) != 0)
        return false;
    struct command *cmd = calloc(1, sizeof(*cmd));
    if (!cmd) {
        log_msg(LOG_ERROR, "mqtt: out of memory for a command on %s", topic);
        return true;
    }
    if (!split_names(topic + n, cmd)) {
        free(cmd);
        return true; /* not one of ours: a reply topic under ours, say */
    }
    snprintf(cmd->origin, sizeof(cmd->origin), "%s", topic);
    cmd->received_ms = clock_mono_ms();
    cmd->received_wall_ms = clock_wall_ms();
    cmd->retained = message->retained != 0;
    if (fw->v5)
        take_properties(cmd, &message->properties);
    int64_t sent_wall_ms;
    command_payload_parse(message->payload, (size_t)(message->payloadlen > 0 ? message->payloadlen : 0),
                          cmd, &sent_wall_ms);
    /* Without an MQTT 5 expiry, a command stamped by its sender expires
     * max_age after it was sent: a stale one queued somewhere is refused. */
    if (sent_wall_ms >= 0 && cmd->expires_ms == 0) {
        cmd->expires_ms = cmd->received_ms + (sent_wall_ms + fw->cfg->commands.max_age_ms -
                                              cmd->received_wall_ms);
        if (cmd->expires_ms == 0)
            cmd->expires_ms = -1; /* 0 would mean "none given" to the desk */
    }
    cmd->reply = reply;
    cmd->reply_ctx = fw;
    fw->commands.submit(fw->commands.ctx, cmd);
    return true;
}

static void reply(void *ctx, const struct command *cmd, const struct command_result *res)
{
    struct forwarder *fw = ctx;
    char topic[TOPIC_MAX], payload[1024];
    int n = cmd->reply_topic[0]
                ? snprintf(topic, sizeof(topic), "%s", cmd->reply_topic)
                : snprintf(topic, sizeof(topic), "%s/%s/commands/%s/%s/result",
                           fw->cfg->mqtt.topic_prefix, fw->cfg->id, cmd->device, cmd->point);
    if (n < 0 || (size_t)n >= sizeof(topic))
        return; /* cannot be: the names are bounded to fit */
    int len = command_result_format(payload, sizeof(payload), fw->cfg->id, cmd, res,
                                    clock_wall_ms());
    if (len < 0)
        return;
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = payload;
    msg.payloadlen = len;
    msg.qos = 1;
    MQTTProperties props = MQTTProperties_initializer;
    if (fw->v5 && cmd->correlation_len > 0) {
        MQTTProperty p = {.identifier = MQTTPROPERTY_CODE_CORRELATION_DATA};
        p.value.data.data = (char *)cmd->correlation;
        p.value.data.len = (int)cmd->correlation_len;
        MQTTProperties_add(&props, &p);
        msg.properties = props;
    }
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int rc = MQTTAsync_sendMessage(fw->client, topic, &msg, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        log_msg(LOG_WARNING, "mqtt: the result of command %s could not be sent to %s (paho "
                             "error %d)",
                cmd->id[0] ? cmd->id : "(no id)", topic, rc);
    MQTTProperties_free(&props);
}
