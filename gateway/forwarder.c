#include "gateway/forwarder.h"
#include "gateway/inflight.h"
#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/payload.h"
#include "gateway/stats.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum link_state { FW_DISCONNECTED, FW_CONNECTING, FW_CONNECTED };

/* A connection that drops this often in a row while the same message is
 * the oldest in flight is taken as the broker refusing that message (too
 * large, not allowed: what an MQTT 3.1.1 broker can only say this way). */
#define STRIKES_TO_SET_ASIDE 3
/* A connection closed this soon after it was accepted, with nothing
 * acknowledged, is "brief"; several in a row have a likely cause. */
#define BRIEF_CONNECTION_MS 5000
#define BRIEF_CONNECTIONS_TO_WARN 3
/* After a connection that dropped before anything was acknowledged, one
 * message at a time until this many were: if the broker drops the link on
 * a message, that message is then the one in flight and takes the strike. */
#define PROBE_ACKS 16
/* Up this long, a connection counts as working even with nothing to send. */
#define PROVEN_UPTIME_MS 60000
/* MQTT control packet type of a PUBACK, as paho reports it in packet_type. */
#define MQTT_PACKET_PUBACK 4
#define REASON_SERVER_SHUTTING_DOWN 0x8B
#define REASON_SESSION_TAKEN_OVER 0x8E
#define REASON_PACKET_TOO_LARGE 0x95
/* A topic the broker refused (an ACL, most likely) is held back: its next
 * readings are set aside without being sent, so that a broker which drops
 * the connection on every refusal cannot stall the rest. Tried again after
 * this long, or when the gateway restarts. */
#define HOLD_TOPIC_MS (10 * 60 * 1000)
#define HELD_TOPICS_MAX 64

struct held_topic {
    char topic[TOPIC_MAX];
    int reason;
    int64_t until_ms;
};

struct forwarder {
    MQTTAsync client;
    const struct gateway_config *cfg;
    bool v5;
    char status_topic[TOPIC_MAX];
    char uris[CFG_MAX_URIS][CFG_TEXT_MAX];
    char *uri_list[CFG_MAX_URIS];
    void (*wake)(void *);
    void *wake_ctx;

    pthread_mutex_t lock; /* everything below; paho calls back on its own thread */
    enum link_state state;
    int64_t next_attempt_ms;
    int64_t retry_delay_ms;
    bool resend;
    bool disconnected;
    /* When the broker last showed it is there (connect or PUBACK): a link
     * that swallows packets without closing shows up as messages in flight
     * and no progress for a whole keep-alive. */
    int64_t last_progress_ms;
    int64_t connected_at_ms;
    /* The back-off starts again from reconnect_min only after a connection
     * proved itself: a broker that drops every connection right after
     * CONNACK must not be hammered once a second. */
    bool proven;
    int probe_acks_left; /* > 0: one message in flight at a time */
    int brief_connections;
    char connected_uri[CFG_TEXT_MAX];
    int64_t max_packet;    /* the broker's Maximum Packet Size (MQTT 5 CONNACK); 0: none */
    int disconnect_reason; /* of the broker's DISCONNECT (MQTT 5); -1: none */
    int64_t suspect_seq;   /* oldest in flight at the last drops */
    int strikes;
    struct inflight inflight;
    int64_t *acks;
    size_t ack_count, ack_cap;
    struct reading_refusal *refusals;
    size_t refusal_count, refusal_cap;
    struct held_topic held[HELD_TOPICS_MAX];
    size_t held_count;
    struct log_limit connect_log, refuse_log, size_log, tls_log;
};

/* Makes room for one more element; false when memory is short. */
static bool room_for_one(void **array, size_t *cap, size_t count, size_t elem)
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

/* Called with fw->lock held. Without memory the refusal is forgotten: the
 * reading stays in the store and is sent again, never lost. */
static void note_refusal(struct forwarder *fw, int64_t seq, int reason)
{
    if (room_for_one((void **)&fw->refusals, &fw->refusal_cap, fw->refusal_count,
                     sizeof(*fw->refusals)))
        fw->refusals[fw->refusal_count++] = (struct reading_refusal){.seq = seq, .reason = reason};
}

/* Called with fw->lock held. */
static void hold_topic(struct forwarder *fw, const char *topic, int reason)
{
    int64_t now = clock_mono_ms();
    size_t slot = fw->held_count;
    for (size_t i = 0; i < fw->held_count; i++)
        if (strcmp(fw->held[i].topic, topic) == 0 || fw->held[i].until_ms <= now)
            slot = i;
    if (slot == HELD_TOPICS_MAX)
        return;
    if (slot == fw->held_count)
        fw->held_count++;
    snprintf(fw->held[slot].topic, sizeof(fw->held[slot].topic), "%s", topic);
    fw->held[slot].reason = reason;
    fw->held[slot].until_ms = now + HOLD_TOPIC_MS;
}

/* Called with fw->lock held: the reason a topic is held back, or 0. */
static int held_reason(const struct forwarder *fw, const char *topic)
{
    for (size_t i = 0; i < fw->held_count; i++)
        if (fw->held[i].until_ms > clock_mono_ms() && strcmp(fw->held[i].topic, topic) == 0)
            return fw->held[i].reason;
    return 0;
}

static const char *reason_text(int reason)
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
    if (room_for_one((void **)&fw->acks, &fw->ack_cap, fw->ack_count, sizeof(*fw->acks)))
        fw->acks[fw->ack_count++] = slot->seq;
    fw->last_progress_ms = clock_mono_ms();
    if (!fw->proven && slot->pool == fw->inflight.current) {
        fw->proven = true;
        fw->retry_delay_ms = fw->cfg->mqtt.reconnect_min_ms;
    }
    if (slot->seq == fw->suspect_seq)
        fw->strikes = 0;
    if (fw->probe_acks_left > 0 && slot->pool == fw->inflight.current)
        fw->probe_acks_left--;
    inflight_release(&fw->inflight, slot);
    pthread_mutex_unlock(&fw->lock);
    stat_add(&gw_stats.readings_acknowledged, 1);
    fw->wake(fw->wake_ctx);
}

static void refused(struct inflight_slot *slot, int reason)
{
    struct forwarder *fw = slot->pool->owner;
    char topic[TOPIC_MAX];
    pthread_mutex_lock(&fw->lock);
    int64_t seq = slot->seq;
    snprintf(topic, sizeof(topic), "%s", slot->topic);
    note_refusal(fw, seq, reason);
    hold_topic(fw, topic, reason);
    fw->last_progress_ms = clock_mono_ms(); /* the broker answered */
    inflight_release(&fw->inflight, slot);
    pthread_mutex_unlock(&fw->lock);
    stat_add(&gw_stats.readings_refused, 1);
    log_limited(&fw->refuse_log, LOG_WARNING,
                "mqtt: the broker refused reading %lld on %s: %s (0x%02x); set aside in the store "
                "(sensor-gateway --list-set-aside), the readings behind it go on; further "
                "readings of this topic are set aside unsent for 10 minutes or until a restart",
                (long long)seq, topic, reason_text(reason), reason);
    fw->wake(fw->wake_ctx);
}

static void failed(struct inflight_slot *slot)
{
    struct forwarder *fw = slot->pool->owner;
    pthread_mutex_lock(&fw->lock);
    inflight_release(&fw->inflight, slot);
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

/* A retained QoS 1 message outside the tracked reading flow; *token
 * (if not NULL) identifies it to MQTTAsync_waitForCompletion. */
static int send_retained(struct forwarder *fw, const char *topic, const char *payload,
                         MQTTAsync_token *token)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)strlen(payload);
    msg.qos = 1;
    msg.retained = 1;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    int rc = MQTTAsync_sendMessage(fw->client, topic, &msg, &ro);
    if (token)
        *token = ro.token;
    return rc;
}

static void publish_status(struct forwarder *fw, const char *status)
{
    MQTTAsync_token token = 0;
    int rc = send_retained(fw, fw->status_topic, status, &token);
    if (rc == MQTTASYNC_SUCCESS && strcmp(status, "offline") == 0)
        MQTTAsync_waitForCompletion(fw->client, token, 2000);
    if (rc != MQTTASYNC_SUCCESS)
        log_msg(LOG_WARNING, "mqtt: could not publish status '%s' (paho error %d)", status, rc);
}

static void connected(struct forwarder *fw, const char *uri, int64_t max_packet)
{
    pthread_mutex_lock(&fw->lock);
    fw->state = FW_CONNECTED;
    fw->connected_at_ms = fw->last_progress_ms = clock_mono_ms();
    fw->proven = false;
    fw->disconnect_reason = -1;
    fw->max_packet = max_packet;
    fw->resend = true;
    snprintf(fw->connected_uri, sizeof(fw->connected_uri), "%s", uri ? uri : "?");
    pthread_mutex_unlock(&fw->lock);
    stat_add(&gw_stats.broker_connects, 1);
    log_msg(LOG_INFO, "mqtt: connected to %s (MQTT %s)", fw->connected_uri,
            mqtt_protocol_names[fw->cfg->mqtt.protocol]);
    publish_status(fw, "online");
    fw->wake(fw->wake_ctx);
}

static void on_connected(void *context, MQTTAsync_successData *response)
{
    connected(context, response ? response->alt.connect.serverURI : NULL, 0);
}

static void on_connected5(void *context, MQTTAsync_successData5 *response)
{
    int64_t max = 0;
    if (response &&
        MQTTProperties_hasProperty(&response->properties, MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE))
        max = MQTTProperties_getNumericValue(&response->properties,
                                             MQTTPROPERTY_CODE_MAXIMUM_PACKET_SIZE);
    connected(context, response ? response->alt.connect.serverURI : NULL, max > 0 ? max : 0);
}

/* Called with fw->lock held. */
static void schedule_retry(struct forwarder *fw)
{
    fw->state = FW_DISCONNECTED;
    fw->next_attempt_ms = clock_mono_ms() + fw->retry_delay_ms;
    fw->retry_delay_ms *= 2;
    if (fw->retry_delay_ms > fw->cfg->mqtt.reconnect_max_ms)
        fw->retry_delay_ms = fw->cfg->mqtt.reconnect_max_ms;
}

static void connect_failed(struct forwarder *fw, int code, const char *message)
{
    pthread_mutex_lock(&fw->lock);
    schedule_retry(fw);
    int64_t delay = fw->next_attempt_ms - clock_mono_ms();
    pthread_mutex_unlock(&fw->lock);
    log_msg(LOG_DEBUG, "mqtt: connect failed (code %d)", code);
    log_limited(&fw->connect_log, LOG_WARNING,
                "mqtt: cannot connect to the broker (%s, code %d); next attempt in %lldms",
                message ? message : "no answer", code, (long long)delay);
}

static void on_connect_failed(void *context, MQTTAsync_failureData *response)
{
    connect_failed(context, response ? response->code : 0, response ? response->message : NULL);
}

static void on_connect_failed5(void *context, MQTTAsync_failureData5 *response)
{
    const char *message = response ? response->message : NULL;
    if (response && response->reasonCode >= 0x80 && !message)
        message = reason_text(response->reasonCode);
    connect_failed(context, response ? response->code : 0, message);
}

static void on_disconnected5(void *context, MQTTProperties *properties,
                             enum MQTTReasonCodes reason)
{
    (void)properties;
    struct forwarder *fw = context;
    pthread_mutex_lock(&fw->lock);
    fw->disconnect_reason = (int)reason;
    pthread_mutex_unlock(&fw->lock);
}

/* Called with fw->lock held, when the connection dropped: the oldest
 * message in flight takes a strike; the third in a row sets it aside. */
static int64_t strike_oldest(struct forwarder *fw, int reason)
{
    const struct inflight_slot *oldest = inflight_oldest(&fw->inflight);
    /* A broker going down, or a second client with our id, says nothing
     * about the message. */
    if (!oldest || reason == REASON_SERVER_SHUTTING_DOWN || reason == REASON_SESSION_TAKEN_OVER)
        return -1;
    if (oldest->seq != fw->suspect_seq) {
        fw->suspect_seq = oldest->seq;
        fw->strikes = 0;
    }
    if (++fw->strikes < STRIKES_TO_SET_ASIDE)
        return -1;
    fw->strikes = 0;
    note_refusal(fw, oldest->seq, reason > 0 ? reason : 0);
    return oldest->seq;
}

static void on_connection_lost(void *context, char *cause)
{
    struct forwarder *fw = context;
    pthread_mutex_lock(&fw->lock);
    if (fw->state != FW_CONNECTED) { /* already given up as silent */
        pthread_mutex_unlock(&fw->lock);
        return;
    }
    int64_t up_ms = clock_mono_ms() - fw->connected_at_ms;
    int reason = fw->disconnect_reason;
    bool proven = fw->proven || up_ms >= PROVEN_UPTIME_MS;
    if (proven)
        fw->retry_delay_ms = fw->cfg->mqtt.reconnect_min_ms;
    else
        fw->probe_acks_left = PROBE_ACKS;
    fw->brief_connections = !proven && up_ms < BRIEF_CONNECTION_MS ? fw->brief_connections + 1 : 0;
    int brief = fw->brief_connections;
    int64_t set_aside = strike_oldest(fw, reason);
    char uri[CFG_TEXT_MAX];
    snprintf(uri, sizeof(uri), "%s", fw->connected_uri);
    inflight_retire(&fw->inflight);
    schedule_retry(fw);
    int64_t delay = fw->next_attempt_ms - clock_mono_ms();
    pthread_mutex_unlock(&fw->lock);
    stat_add(&gw_stats.broker_losses, 1);
    char why[96];
    if (reason >= 0)
        snprintf(why, sizeof(why), "the broker disconnected: %s, 0x%02x", reason_text(reason),
                 reason);
    else
        snprintf(why, sizeof(why), "%s", cause ? cause : "no reason given");
    log_msg(LOG_WARNING, "mqtt: connection lost to %s (%s); readings stay in the store, next "
                         "attempt in %lldms",
            uri, why, (long long)delay);
    if (reason == REASON_SESSION_TAKEN_OVER)
        log_msg(LOG_WARNING,
                "mqtt: another client connected with this gateway's client id '%s' and took the "
                "session over: a second gateway with the same id or client_id (a cloned SD "
                "card?); each gateway needs its own",
                fw->cfg->mqtt.client_id);
    else if (brief == BRIEF_CONNECTIONS_TO_WARN ||
             (brief > BRIEF_CONNECTIONS_TO_WARN && (brief & (brief - 1)) == 0))
        log_msg(LOG_WARNING,
                "mqtt: the broker closed %d connections in a row within seconds of accepting "
                "them: probably another client with client id '%s' (a cloned SD card?), or the "
                "broker refuses what the gateway sends first (see the broker's log)",
                brief, fw->cfg->mqtt.client_id);
    if (set_aside >= 0) {
        stat_add(&gw_stats.readings_refused, 1);
        log_msg(LOG_WARNING,
                "mqtt: the broker dropped the connection %d times in a row while reading %lld "
                "was the oldest in flight: taken as refused and set aside in the store "
                "(sensor-gateway --list-set-aside), the readings behind it go on",
                STRIKES_TO_SET_ASIDE, (long long)set_aside);
    }
    fw->wake(fw->wake_ctx);
}

static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *message)
{
    (void)context;
    (void)topic_len;
    MQTTAsync_freeMessage(&message);
    MQTTAsync_free(topic);
    return 1;
}

/* paho spells the schemes tcp:// and ssl://; operators may write mqtt://. */
static void normalise_uri(char *dst, size_t size, const char *uri)
{
    if (strncmp(uri, "mqtt://", 7) == 0)
        snprintf(dst, size, "tcp://%s", uri + 7);
    else if (strncmp(uri, "mqtts://", 8) == 0)
        snprintf(dst, size, "ssl://%s", uri + 8);
    else
        snprintf(dst, size, "%s", uri);
}

int forwarder_create(const struct gateway_config *cfg, void (*wake)(void *), void *wake_ctx,
                     struct forwarder **out)
{
    struct forwarder *fw = calloc(1, sizeof(*fw));
    if (!fw)
        return -1;
    fw->cfg = cfg;
    fw->wake = wake;
    fw->wake_ctx = wake_ctx;
    fw->retry_delay_ms = cfg->mqtt.reconnect_min_ms;
    fw->v5 = cfg->mqtt.protocol == MQTT_PROTOCOL_5;
    fw->suspect_seq = -1;
    fw->disconnect_reason = -1;
    fw->connect_log.interval_ms = fw->refuse_log.interval_ms = 30000;
    fw->size_log.interval_ms = fw->tls_log.interval_ms = 30000;
    pthread_mutex_init(&fw->lock, NULL);
    topic_format_status(fw->status_topic, sizeof(fw->status_topic), cfg->mqtt.topic_prefix,
                        cfg->id);
    for (int i = 0; i < cfg->mqtt.uri_count; i++) {
        normalise_uri(fw->uris[i], sizeof(fw->uris[i]), cfg->mqtt.uris[i]);
        fw->uri_list[i] = fw->uris[i];
    }
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.MQTTVersion = fw->v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    int rc = inflight_init(&fw->inflight, (size_t)cfg->mqtt.max_inflight, fw) == 0
                 ? MQTTAsync_createWithOptions(&fw->client, fw->uris[0], cfg->mqtt.client_id,
                                               MQTTCLIENT_PERSISTENCE_NONE, NULL, &co)
                 : MQTTASYNC_FAILURE;
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setCallbacks(fw->client, fw, on_connection_lost, on_message, NULL);
    if (rc == MQTTASYNC_SUCCESS && fw->v5)
        rc = MQTTAsync_setDisconnected(fw->client, fw, on_disconnected5);
    if (rc != MQTTASYNC_SUCCESS) {
        log_msg(LOG_ERROR, "mqtt: cannot create the client for %s (paho error %d)", fw->uris[0],
                rc);
        forwarder_destroy(fw);
        return -1;
    }
    *out = fw;
    return 0;
}

/* OpenSSL's own words (certificate verify failed, hostname mismatch,
 * certificate has expired, no such file): paho's failure code alone says
 * only "TCP/TLS connect failure". */
static int on_tls_error(const char *str, size_t len, void *context)
{
    struct forwarder *fw = context;
    log_limited(&fw->tls_log, LOG_ERROR, "mqtt: TLS: %.*s", (int)len, str);
    return 0;
}

static int start_connect(struct forwarder *fw)
{
    const struct mqtt_config *m = &fw->cfg->mqtt;
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    MQTTAsync_connectOptions o5 = MQTTAsync_connectOptions_initializer5;
    if (fw->v5) {
        o = o5;
        o.cleanstart = 1;
        o.onSuccess5 = on_connected5;
        o.onFailure5 = on_connect_failed5;
    } else {
        o.cleansession = 1;
        o.onSuccess = on_connected;
        o.onFailure = on_connect_failed;
    }
    o.keepAliveInterval = (int)(m->keepalive_ms / 1000);
    o.maxInflight = m->max_inflight;
    o.connectTimeout = (int)((m->connect_timeout_ms + 999) / 1000);
    o.serverURIs = fw->uri_list;
    o.serverURIcount = m->uri_count;
    o.username = m->username[0] ? m->username : NULL;
    o.password = m->password[0] ? m->password : NULL;
    o.context = fw;
    MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
    will.topicName = fw->status_topic;
    will.message = "offline";
    will.retained = 1;
    will.qos = 1;
    o.will = &will;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    bool tls = false;
    for (int i = 0; i < m->uri_count; i++)
        tls = tls || strncmp(fw->uris[i], "ssl://", 6) == 0;
    if (tls) {
        ssl.trustStore = m->tls_ca_file[0] ? m->tls_ca_file : NULL;
        ssl.keyStore = m->tls_cert_file[0] ? m->tls_cert_file : NULL;
        ssl.privateKey = m->tls_key_file[0] ? m->tls_key_file : NULL;
        ssl.enableServerCertAuth = m->tls_verify;
        ssl.verify = m->tls_verify;
        ssl.ssl_error_cb = on_tls_error;
        ssl.ssl_error_context = fw;
        o.ssl = &ssl;
    }
    return MQTTAsync_connect(fw->client, &o);
}

/* paho notices a dead link only when its own PINGREQ goes unanswered, and
 * steady publishing postpones the ping: up to about three keep-alives. A
 * whole keep-alive without a single PUBACK while messages wait is proof
 * enough; the connection is dropped and the readings stay in the store. */
static void drop_if_silent(struct forwarder *fw, int64_t now_mono_ms)
{
    int64_t keepalive = fw->cfg->mqtt.keepalive_ms;
    pthread_mutex_lock(&fw->lock);
    bool silent = fw->state == FW_CONNECTED && fw->inflight.current->outstanding > 0 &&
                  now_mono_ms - fw->last_progress_ms > keepalive;
    size_t waiting = fw->inflight.current->outstanding;
    if (silent) {
        inflight_retire(&fw->inflight);
        fw->retry_delay_ms = fw->cfg->mqtt.reconnect_min_ms;
        schedule_retry(fw);
    }
    pthread_mutex_unlock(&fw->lock);
    if (!silent)
        return;
    stat_add(&gw_stats.broker_losses, 1);
    log_msg(LOG_WARNING,
            "mqtt: connection silent: no acknowledgement for %lldms with %zu messages in flight; "
            "reconnecting, readings stay in the store",
            (long long)keepalive, waiting);
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    d.timeout = 0;
    MQTTAsync_disconnect(fw->client, &d);
}

void forwarder_service(struct forwarder *fw, int64_t now_mono_ms)
{
    drop_if_silent(fw, now_mono_ms);
    pthread_mutex_lock(&fw->lock);
    bool due = fw->state == FW_DISCONNECTED && now_mono_ms >= fw->next_attempt_ms;
    if (due)
        fw->state = FW_CONNECTING;
    pthread_mutex_unlock(&fw->lock);
    if (!due)
        return;
    log_msg(LOG_DEBUG, "mqtt: connecting to %s", fw->uris[0]);
    int rc = start_connect(fw);
    if (rc != MQTTASYNC_SUCCESS) {
        pthread_mutex_lock(&fw->lock);
        schedule_retry(fw);
        pthread_mutex_unlock(&fw->lock);
        log_limited(&fw->connect_log, LOG_WARNING, "mqtt: connect refused by paho (error %d)", rc);
    }
}

size_t forwarder_window(struct forwarder *fw)
{
    pthread_mutex_lock(&fw->lock);
    size_t size = fw->probe_acks_left > 0 ? 1 : fw->inflight.size;
    size_t out = fw->inflight.current->outstanding;
    size_t n = fw->state == FW_CONNECTED && out < size ? size - out : 0;
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
static int64_t packet_size(const struct forwarder *fw, const char *topic, int payload_len, int qos)
{
    int64_t remaining = 2 + (int64_t)strlen(topic) + (qos > 0 ? 2 : 0) + (fw->v5 ? 1 : 0) +
                        payload_len;
    int length_bytes = remaining < 128 ? 1 : remaining < 16384 ? 2 : remaining < 2097152 ? 3 : 4;
    return 1 + length_bytes + remaining;
}

/* Called with fw->lock held: whether the broker said it takes no packet
 * this large (it would drop the connection on it). */
static bool too_large(const struct forwarder *fw, const char *topic, int payload_len, int qos)
{
    return fw->max_packet > 0 && packet_size(fw, topic, payload_len, qos) > fw->max_packet;
}

enum fw_publish_result forwarder_publish(struct forwarder *fw, const char *topic,
                                         const char *payload, int len, int64_t seq, bool retain)
{
    int qos = fw->cfg->mqtt.qos;
    pthread_mutex_lock(&fw->lock);
    bool connected = fw->state == FW_CONNECTED;
    int held = connected ? held_reason(fw, topic) : 0;
    if (held) {
        note_refusal(fw, seq, held);
        pthread_mutex_unlock(&fw->lock);
        stat_add(&gw_stats.readings_refused, 1);
        return FW_SET_ASIDE;
    }
    if (connected && too_large(fw, topic, len, qos)) {
        note_refusal(fw, seq, REASON_PACKET_TOO_LARGE);
        int64_t max = fw->max_packet;
        pthread_mutex_unlock(&fw->lock);
        stat_add(&gw_stats.readings_refused, 1);
        log_limited(&fw->refuse_log, LOG_WARNING,
                    "mqtt: reading %lld on %s is larger than the broker's maximum packet size "
                    "(%lld bytes): set aside in the store (sensor-gateway --list-set-aside)",
                    (long long)seq, topic, (long long)max);
        return FW_SET_ASIDE;
    }
    struct inflight_slot *slot = connected ? inflight_acquire(&fw->inflight, seq, topic) : NULL;
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
        pthread_mutex_lock(&fw->lock);
        inflight_release(&fw->inflight, slot);
        pthread_mutex_unlock(&fw->lock);
        return FW_NOT_NOW;
    }
    stat_add(&gw_stats.readings_published, 1);
    return FW_SENT;
}

int forwarder_publish_retained(struct forwarder *fw, const char *topic, const char *payload)
{
    pthread_mutex_lock(&fw->lock);
    bool connected = fw->state == FW_CONNECTED;
    bool large = too_large(fw, topic, (int)strlen(payload), 1);
    int64_t max = fw->max_packet;
    pthread_mutex_unlock(&fw->lock);
    if (!connected)
        return -1;
    if (large) {
        log_limited(&fw->size_log, LOG_WARNING,
                    "mqtt: %s is larger than the broker's maximum packet size (%lld bytes): "
                    "not sent",
                    topic, (long long)max);
        return -1;
    }
    return send_retained(fw, topic, payload, NULL) == MQTTASYNC_SUCCESS ? 0 : -1;
}

size_t forwarder_take_acks(struct forwarder *fw, int64_t *out, size_t max)
{
    pthread_mutex_lock(&fw->lock);
    size_t n = fw->ack_count < max ? fw->ack_count : max;
    if (n > 0) {
        memcpy(out, fw->acks, n * sizeof(*out));
        memmove(fw->acks, fw->acks + n, (fw->ack_count - n) * sizeof(*out));
        fw->ack_count -= n;
    }
    pthread_mutex_unlock(&fw->lock);
    return n;
}

size_t forwarder_take_refusals(struct forwarder *fw, struct reading_refusal *out, size_t max)
{
    pthread_mutex_lock(&fw->lock);
    size_t n = fw->refusal_count < max ? fw->refusal_count : max;
    if (n > 0) {
        memcpy(out, fw->refusals, n * sizeof(*out));
        memmove(fw->refusals, fw->refusals + n, (fw->refusal_count - n) * sizeof(*out));
        fw->refusal_count -= n;
    }
    pthread_mutex_unlock(&fw->lock);
    return n;
}

bool forwarder_take_resend(struct forwarder *fw)
{
    pthread_mutex_lock(&fw->lock);
    bool resend = fw->resend;
    fw->resend = false;
    pthread_mutex_unlock(&fw->lock);
    return resend;
}

static void on_disconnected(void *context, MQTTAsync_successData *response)
{
    (void)response;
    struct forwarder *fw = context;
    pthread_mutex_lock(&fw->lock);
    fw->disconnected = true;
    pthread_mutex_unlock(&fw->lock);
}

void forwarder_stop(struct forwarder *fw, int64_t timeout_ms)
{
    if (!MQTTAsync_isConnected(fw->client))
        return;
    publish_status(fw, "offline");
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    d.timeout = (int)timeout_ms;
    d.onSuccess = on_disconnected;
    d.context = fw;
    if (MQTTAsync_disconnect(fw->client, &d) != MQTTASYNC_SUCCESS)
        return;
    int64_t deadline = clock_mono_ms() + timeout_ms + 500;
    for (;;) {
        pthread_mutex_lock(&fw->lock);
        bool done = fw->disconnected;
        pthread_mutex_unlock(&fw->lock);
        if (done || clock_mono_ms() >= deadline)
            break;
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000000}, NULL);
    }
}

void forwarder_destroy(struct forwarder *fw)
{
    if (!fw)
        return;
    /* After destroy paho makes no more callbacks, so the pools can go. */
    if (fw->client)
        MQTTAsync_destroy(&fw->client);
    inflight_free(&fw->inflight);
    free(fw->acks);
    free(fw->refusals);
    pthread_mutex_destroy(&fw->lock);
    free(fw);
}
