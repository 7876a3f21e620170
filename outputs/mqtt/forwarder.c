/* The forwarder's messages: publishing readings and retained messages,
 * PUBACKs and refusals handed to the pipeline, the in-flight window. The
 * connection's life is forwarder_link.c. */
#include "core/clock.h"
#include "outputs/mqtt/forwarder_internal.h"
#include "core/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool fw_room_for_one(void **array, size_t *cap, size_t count, size_t elem)
{
    if (count < *cap)
        return true;
    size_t bigger_cap = *cap ? *cap * 2 : 1024;
    void *bigger = realloc(*array, bigger_cap * elem);
    if (!bigger)
        return false;
    *array = bigger;
    *cap = bigger_cap;
    return true;
}
/* Without memory the refusal is forgotten: the reading stays in the store
 * and is sent again, never lost. */
void fw_note_refusal(struct forwarder *fw, int64_t seq, int reason)
{
    if (fw_room_for_one((void **)&fw->refusals, &fw->refusal_cap, fw->refusal_count,
                        sizeof(*fw->refusals)))
        fw->refusals[fw->refusal_count++] = (struct reading_refusal){.seq = seq, .reason = reason};
}
bool fw_hold_topic(struct held_topics *h, const char *topic, int reason)
{
    int64_t now = clock_mono_ms();
    bool was_held = fw_topic_held(h, topic, NULL);
    size_t slot = h->count;
    for (size_t i = 0; i < h->count; i++)
        if (strcmp(h->t[i].topic, topic) == 0 || h->t[i].until_ms <= now)
            slot = i;
    if (slot == HELD_TOPICS_MAX)
        return !was_held;
    if (slot == h->count)
        h->count++;
    snprintf(h->t[slot].topic, sizeof(h->t[slot].topic), "%s", topic);
    h->t[slot].reason = reason;
    h->t[slot].until_ms = now + HOLD_TOPIC_MS;
    return !was_held;
}
bool fw_topic_held(const struct held_topics *h, const char *topic, int *reason)
{
    int64_t now = clock_mono_ms();
    for (size_t i = 0; i < h->count; i++)
        if (h->t[i].until_ms > now && strcmp(h->t[i].topic, topic) == 0) {
            if (reason)
                *reason = h->t[i].reason;
            return true;
        }
    return false;
}
void fw_note_refused_topic(struct forwarder *fw, const char *topic, int reason)
{
    fw->last_refusal_ms = clock_mono_ms();
    fw->last_refused_reason = reason;
    snprintf(fw->last_refused_topic, sizeof(fw->last_refused_topic), "%s", topic);
}
const char *fw_reason_text(int reason)
{
    const char *text = reason > 0 ? MQTTReasonCode_toString((enum MQTTReasonCodes)reason) : NULL;
    return text ? text : "no reason given";
}
static void delivered(struct inflight_slot *slot)
{
    struct forwarder *fw = slot->pool->owner;
    pthread_mutex_lock(&fw->lock);
    /* Without room the ack is forgotten: the reading stays in the store and
     * is sent again, a duplicate with the same seq, never a loss. */
    if (fw_room_for_one((void **)&fw->acks, &fw->ack_cap, fw->ack_count, sizeof(*fw->acks)))
        fw->acks[fw->ack_count++] = slot->seq;
    fw->last_progress_ms = clock_mono_ms();
    fw->answered = true;
    if (!fw->proven && slot->pool == fw->inflight.current) {
        fw->proven = true;
        fw->retry_delay_ms = fw->cfg->mqtt.reconnect_min_ms;
    }
    if (slot->seq == fw->suspect_seq)
        fw->strikes = 0;
    if (fw->probe_acks_left > 0 && slot->pool == fw->inflight.current)
        fw->probe_acks_left--;
    int readings = slot->readings;
    inflight_release(&fw->inflight, slot);
    bool wake = fw->window_wanted && (fw->inflight.current->outstanding <= fw->inflight.size / 2 ||
                                      fw->probe_acks_left > 0 || fw->paho_full);
    if (wake)
        fw->window_wanted = fw->paho_full = false;
    pthread_mutex_unlock(&fw->lock);
    stat_add(&fw->stats->readings_acknowledged, (uint64_t)readings);
    stat_add(&fw->stats->messages_acknowledged, 1);
    if (wake)
        fw->wake(fw->wake_ctx);
}
static void refused(struct inflight_slot *slot, int reason)
{
    struct forwarder *fw = slot->pool->owner;
    char topic[TOPIC_MAX];
    pthread_mutex_lock(&fw->lock);
    int64_t seq = slot->seq;
    snprintf(topic, sizeof(topic), "%s", slot->topic);
    fw_note_refusal(fw, seq, reason);
    fw_hold_topic(&fw->held, topic, reason);
    fw_note_refused_topic(fw, topic, reason);
    fw_learn_limit(fw, slot->size, reason);
    fw->last_progress_ms = clock_mono_ms(); /* the broker answered */
    fw->answered = true;
    int readings = slot->readings;
    inflight_release(&fw->inflight, slot);
    pthread_mutex_unlock(&fw->lock);
    fw_count_refused(fw, readings);
    log_limited(&fw->refuse_log, LOG_WARNING,
                "mqtt: the broker refused reading %lld on %s: %s (0x%02x); set aside in the store "
                "(sensor-gateway --list-set-aside), the readings behind it go on; further "
                "readings of this topic are set aside unsent for 10 minutes or until a restart",
                (long long)seq, topic, fw_reason_text(reason), reason);
    fw->wake(fw->wake_ctx);
}
static void failed(struct inflight_slot *slot)
{
    struct forwarder *fw = slot->pool->owner;
    pthread_mutex_lock(&fw->lock);
    inflight_abandon(&fw->inflight, slot);
    fw->window_wanted = false;
    pthread_mutex_unlock(&fw->lock);
    fw->wake(fw->wake_ctx);
}
static void on_publish_ok(void *context, MQTTAsync_successData *response)
{
    (void)response;
    delivered(context);
}
static void on_publish_ok5(void *context, MQTTAsync_successData5 *response)
{
    (void)response;
    delivered(context);
}
static void on_publish_failed(void *context, MQTTAsync_failureData *response)
{
    (void)response;
    failed(context);
}
/* Under MQTT 5 a PUBACK with a reason code of 0x80 or more is the broker
 * saying no (not authorised, quota exceeded, too large): the message was
 * not delivered and must not be deleted as if it had been. */
static void on_publish_failed5(void *context, MQTTAsync_failureData5 *response)
{
    if (response && response->packet_type == MQTT_PACKET_PUBACK && response->reasonCode >= 0x80)
        refused(context, response->reasonCode);
    else
        failed(context);
}
size_t forwarder_window(struct forwarder *fw)
{
    pthread_mutex_lock(&fw->lock);
    size_t size = fw->probe_acks_left > 0 ? 1 : fw->inflight.size;
    size_t out = fw->inflight.current->outstanding;
    /* Readings wait while the documents go one at a time. */
    bool probing = fw_probing_announcements(fw);
    size_t n = fw->state == FW_CONNECTED && out < size && !probing ? size - out : 0;
    if (fw->state == FW_CONNECTED && n == 0)
        fw->window_wanted = true;
    pthread_mutex_unlock(&fw->lock);
    return n;
}
size_t forwarder_in_flight(struct forwarder *fw)
{
    pthread_mutex_lock(&fw->lock);
    size_t n = fw->state == FW_CONNECTED ? fw->inflight.current->outstanding : 0;
    pthread_mutex_unlock(&fw->lock);
    return n;
}
/* The size of the PUBLISH packet (QoS qos) on the wire. */
int64_t fw_packet_size(const struct forwarder *fw, const char *topic, int payload_len, int qos)
{
    int64_t remaining =
        2 + (int64_t)strlen(topic) + (qos > 0 ? 2 : 0) + (fw->v5 ? 1 : 0) + payload_len;
    int length_bytes = remaining < 128 ? 1 : remaining < 16384 ? 2 : remaining < 2097152 ? 3 : 4;
    return 1 + length_bytes + remaining;
}
/* Called with fw->lock held: whether the broker said it takes no packet
 * this large (it would drop the connection on it). */
bool fw_too_large(const struct forwarder *fw, const char *topic, int payload_len, int qos)
{
    int64_t limit = fw_packet_limit(fw);
    return limit > 0 && fw_packet_size(fw, topic, payload_len, qos) > limit;
}
int64_t fw_packet_limit(const struct forwarder *fw)
{
    int64_t learnt = fw->refused_size > 0 ? fw->refused_size - 1 : 0;
    if (fw->max_packet > 0 && (learnt == 0 || fw->max_packet < learnt))
        return fw->max_packet;
    return learnt;
}
void fw_learn_limit(struct forwarder *fw, int64_t size, int reason)
{
    if (reason == REASON_PACKET_TOO_LARGE && size > 0 &&
        (fw->refused_size == 0 || size < fw->refused_size))
        fw->refused_size = size;
}
void fw_count_refused(struct forwarder *fw, int readings)
{
    stat_add(&fw->stats->readings_refused, (uint64_t)readings);
    stat_add(&fw->stats->messages_refused, 1);
}
enum fw_publish_result forwarder_publish(struct forwarder *fw, const char *topic,
                                         const char *payload, int len, int64_t seq, int readings,
                                         bool retain)
{
    int qos = fw->cfg->mqtt.qos;
    pthread_mutex_lock(&fw->lock);
    bool connected = fw->state == FW_CONNECTED;
    int reason = 0;
    if (connected && fw_topic_held(&fw->held, topic, &reason)) {
        fw_note_refusal(fw, seq, reason);
        pthread_mutex_unlock(&fw->lock);
        fw_count_refused(fw, readings);
        return FW_SET_ASIDE;
    }
    if (connected && fw_too_large(fw, topic, len, qos)) {
        fw_note_refusal(fw, seq, REASON_PACKET_TOO_LARGE);
        int64_t max = fw_packet_limit(fw);
        pthread_mutex_unlock(&fw->lock);
        fw_count_refused(fw, readings);
        log_limited(&fw->refuse_log, LOG_WARNING,
                    "mqtt: reading %lld on %s is larger than the broker's maximum packet size "
                    "(%lld bytes): set aside in the store (sensor-gateway --list-set-aside)",
                    (long long)seq, topic, (long long)max);
        return FW_SET_ASIDE;
    }
    struct inflight_slot *slot = connected ? inflight_acquire(&fw->inflight, seq, topic) : NULL;
    if (slot) {
        slot->size = fw_packet_size(fw, topic, len, qos);
        slot->readings = readings;
    }
    pthread_mutex_unlock(&fw->lock);
    if (!slot)
        return FW_NOT_NOW;
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = len;
    msg.qos = qos;
    msg.retained = retain;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    if (fw->v5) {
        ro.onSuccess5 = on_publish_ok5;
        ro.onFailure5 = on_publish_failed5;
    } else {
        ro.onSuccess = on_publish_ok;
        ro.onFailure = on_publish_failed;
    }
    ro.context = slot;
    int rc = MQTTAsync_sendMessage(fw->client, topic, &msg, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        /* paho's own limit (the broker's Receive Maximum): the next
         * PUBACK makes room, and wakes the pipeline. */
        pthread_mutex_lock(&fw->lock);
        inflight_release(&fw->inflight, slot);
        fw->window_wanted = fw->paho_full = true;
        pthread_mutex_unlock(&fw->lock);
        return FW_NOT_NOW;
    }
    stat_add(&fw->stats->readings_published, (uint64_t)readings);
    stat_add(&fw->stats->messages_published, 1);
    return FW_SENT;
}
/* Moves up to max elements from the front of array (count of them) to out. */
static size_t take_front(void *array, size_t *count, void *out, size_t max, size_t elem)
{
    size_t n = *count < max ? *count : max;
    if (n > 0) {
        memcpy(out, array, n * elem);
        memmove(array, (char *)array + n * elem, (*count - n) * elem);
        *count -= n;
    }
    return n;
}

size_t forwarder_take_acks(struct forwarder *fw, int64_t *out, size_t max)
{
    pthread_mutex_lock(&fw->lock);
    size_t n = take_front(fw->acks, &fw->ack_count, out, max, sizeof(*out));
    pthread_mutex_unlock(&fw->lock);
    return n;
}

size_t forwarder_take_refusals(struct forwarder *fw, struct reading_refusal *out, size_t max)
{
    pthread_mutex_lock(&fw->lock);
    size_t n = take_front(fw->refusals, &fw->refusal_count, out, max, sizeof(*out));
    pthread_mutex_unlock(&fw->lock);
    return n;
}
