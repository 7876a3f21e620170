/* The forwarder's retained messages outside the reading flow: status,
 * health, device metadata, Home Assistant discovery. They are not kept in
 * the store (the next connect or health interval sends them anew), but
 * their PUBACKs are watched: one the broker refuses is logged once with the
 * broker's reason and held back, so that a broker which closes the
 * connection on a refusal cannot keep the readings from flowing by being
 * sent the same document at every connect. */
#include "core/clock.h"
#include "outputs/mqtt/forwarder_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool fw_probing_announcements(const struct forwarder *fw)
{
    return fw->probe_announcements &&
           (fw->announcements.current->outstanding > 0 || fw->queued_head < fw->queued_count);
}
void fw_drop_queued(struct forwarder *fw)
{
    for (size_t i = fw->queued_head; i < fw->queued_count; i++) {
        free(fw->queued[i].topic);
        free(fw->queued[i].payload);
    }
    fw->queued_head = fw->queued_count = 0;
}
/* Called with fw->lock held. Without memory the document is not sent on
 * this connection: the next connect or health interval sends it anew. */
static void queue_doc(struct forwarder *fw, const char *topic, const char *payload)
{
    if (fw->queued_head == fw->queued_count)
        fw->queued_head = fw->queued_count = 0;
    char *t = strdup(topic), *p = strdup(payload);
    if (t && p &&
        fw_room_for_one((void **)&fw->queued, &fw->queued_cap, fw->queued_count,
                        sizeof(*fw->queued))) {
        fw->queued[fw->queued_count++] = (struct queued_doc){t, p};
        return;
    }
    free(t);
    free(p);
}
/* Called with fw->lock held, after a document's slot went back: the next
 * one may go, or, once all are answered, the readings; true when the
 * pipeline should be woken for either. */
static bool turn_over(struct forwarder *fw)
{
    if (!fw->probe_announcements || fw->announcements.current->outstanding > 0)
        return false;
    if (fw->queued_head < fw->queued_count)
        return true;
    fw->probe_announcements = false; /* every document of it answered */
    bool wake = fw->window_wanted;
    fw->window_wanted = false;
    return wake;
}
void fw_send_queued(struct forwarder *fw)
{
    pthread_mutex_lock(&fw->lock);
    bool go = fw->state == FW_CONNECTED && fw->announcements.current->outstanding == 0 &&
              fw->queued_head < fw->queued_count;
    struct queued_doc doc = go ? fw->queued[fw->queued_head++] : (struct queued_doc){0};
    pthread_mutex_unlock(&fw->lock);
    if (!go)
        return;
    fw_send_retained(fw, doc.topic, doc.payload, NULL);
    free(doc.topic);
    free(doc.payload);
}
static void retained_done(struct inflight_slot *slot)
{
    struct forwarder *fw = slot->pool->owner;
    pthread_mutex_lock(&fw->lock);
    fw->last_progress_ms = clock_mono_ms();
    fw->answered = true;
    if (strcmp(slot->topic, fw->suspect_topic) == 0)
        fw->topic_strikes = 0;
    inflight_release(&fw->announcements, slot);
    bool wake = turn_over(fw);
    pthread_mutex_unlock(&fw->lock);
    if (wake)
        fw->wake(fw->wake_ctx);
}
/* paho gave up on it (the connection is going): no answer, no progress. */
static void retained_abandoned(struct inflight_slot *slot)
{
    struct forwarder *fw = slot->pool->owner;
    pthread_mutex_lock(&fw->lock);
    inflight_abandon(&fw->announcements, slot);
    pthread_mutex_unlock(&fw->lock);
}
static void retained_refused(struct inflight_slot *slot, int reason)
{
    struct forwarder *fw = slot->pool->owner;
    char topic[TOPIC_MAX];
    pthread_mutex_lock(&fw->lock);
    snprintf(topic, sizeof(topic), "%s", slot->topic);
    bool first = fw_hold_topic(&fw->held_announcements, topic, reason);
    fw_note_refused_topic(fw, topic, reason);
    fw_learn_limit(fw, slot->size, reason);
    fw->last_progress_ms = clock_mono_ms(); /* the broker answered */
    fw->answered = true;
    inflight_release(&fw->announcements, slot);
    bool wake = turn_over(fw);
    pthread_mutex_unlock(&fw->lock);
    if (wake)
        fw->wake(fw->wake_ctx);
    log_msg(first ? LOG_WARNING : LOG_DEBUG,
            "mqtt: the broker refused the retained message on %s: %s (0x%02x); not sent again "
            "for 10 minutes or until a restart, the readings go on",
            topic, fw_reason_text(reason), reason);
}
static void on_retained_ok(void *context, MQTTAsync_successData *response)
{
    (void)response;
    retained_done(context);
}
static void on_retained_ok5(void *context, MQTTAsync_successData5 *response)
{
    (void)response;
    retained_done(context);
}
static void on_retained_failed(void *context, MQTTAsync_failureData *response)
{
    (void)response;
    retained_abandoned(context);
}
static void on_retained_failed5(void *context, MQTTAsync_failureData5 *response)
{
    if (response && response->packet_type == MQTT_PACKET_PUBACK && response->reasonCode >= 0x80)
        retained_refused(context, response->reasonCode);
    else
        retained_abandoned(context);
}
bool fw_strike_announcement(struct forwarder *fw, char *topic, size_t size)
{
    const struct inflight_slot *oldest = inflight_oldest(&fw->announcements);
    if (!oldest)
        return false;
    if (strcmp(oldest->topic, fw->suspect_topic) != 0) {
        snprintf(fw->suspect_topic, sizeof(fw->suspect_topic), "%s", oldest->topic);
        fw->topic_strikes = 0;
    }
    if (++fw->topic_strikes < STRIKES_TO_SET_ASIDE)
        return false;
    fw->topic_strikes = 0;
    fw_hold_topic(&fw->held_announcements, oldest->topic, 0);
    snprintf(topic, size, "%s", oldest->topic);
    return true;
}
int fw_send_retained(struct forwarder *fw, const char *topic, const char *payload,
                     MQTTAsync_token *token)
{
    pthread_mutex_lock(&fw->lock);
    /* Beyond the pool (hundreds of discovery documents at once) a message
     * goes out untracked, as every retained message did before. */
    struct inflight_slot *slot =
        inflight_acquire(&fw->announcements, fw->announcements_sent++, topic);
    if (slot)
        slot->size = fw_packet_size(fw, topic, (int)strlen(payload), 1);
    pthread_mutex_unlock(&fw->lock);
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)strlen(payload);
    msg.qos = 1;
    msg.retained = 1;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    if (slot && fw->v5) {
        ro.onSuccess5 = on_retained_ok5;
        ro.onFailure5 = on_retained_failed5;
    } else if (slot) {
        ro.onSuccess = on_retained_ok;
        ro.onFailure = on_retained_failed;
    }
    ro.context = slot;
    int rc = MQTTAsync_sendMessage(fw->client, topic, &msg, &ro);
    if (rc != MQTTASYNC_SUCCESS && slot) {
        pthread_mutex_lock(&fw->lock);
        inflight_release(&fw->announcements, slot);
        pthread_mutex_unlock(&fw->lock);
    }
    if (token)
        *token = ro.token;
    return rc;
}
int forwarder_publish_retained(struct forwarder *fw, const char *topic, const char *payload)
{
    pthread_mutex_lock(&fw->lock);
    bool connected = fw->state == FW_CONNECTED;
    bool held = fw_topic_held(&fw->held_announcements, topic, NULL);
    /* Not connected: nothing is decided (a hold here would go unlogged). */
    bool large = connected && !held && fw_too_large(fw, topic, (int)strlen(payload), 1);
    bool first = large && fw_hold_topic(&fw->held_announcements, topic, REASON_PACKET_TOO_LARGE);
    int64_t max = fw_packet_limit(fw);
    bool wait = connected && !held && !large && fw_probing_announcements(fw);
    if (wait)
        queue_doc(fw, topic, payload);
    pthread_mutex_unlock(&fw->lock);
    if (wait)
        return 0;
    if (!connected || held)
        return -1;
    if (large) {
        log_msg(first ? LOG_WARNING : LOG_DEBUG,
                "mqtt: %s is larger than the broker's maximum packet size (%lld bytes, as it "
                "said or as its refusals showed): not sent for 10 minutes or until a restart, "
                "the readings go on",
                topic, (long long)max);
        return -1;
    }
    return fw_send_retained(fw, topic, payload, NULL) == MQTTASYNC_SUCCESS ? 0 : -1;
}
