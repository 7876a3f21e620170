/* The forwarder's connection: connecting across the broker URIs with
 * back-off, noticing a lost or silent link and what it probably means, the
 * status messages, stopping. The messages are forwarder.c. */
#include "core/clock.h"
#include "outputs/mqtt/command_link.h"
#include "outputs/mqtt/forwarder_internal.h"
#include "outputs/mqtt/tls_diagnose.h"
#include "core/stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void publish_status(struct forwarder *fw, const char *status)
{
    MQTTAsync_token token = 0;
    int rc = fw_send_retained(fw, fw->status_topic, status, &token);
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
    fw->answered = false;
    fw->max_packet = max_packet;
    fw->resend = true;
    snprintf(fw->connected_uri, sizeof(fw->connected_uri), "%s", uri ? uri : "?");
    pthread_mutex_unlock(&fw->lock);
    stat_add(&fw->stats->broker_connects, 1);
    log_msg(LOG_INFO, "mqtt: connected to %s (MQTT %s)", fw->connected_uri,
            mqtt_protocol_names[fw->cfg->mqtt.protocol]);
    publish_status(fw, "online");
    /* A clean session forgets subscriptions: each connect makes it again. */
    if (fw->commands.submit)
        command_link_subscribe(fw);
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
/* Every TLS_DIAGNOSIS_MS at most, a failed connect to an ssl:// broker
 * that did not get as far as CONNACK is explained by a handshake of our
 * own (tls_diagnose.h): paho's words cannot tell its causes apart. */
#define TLS_DIAGNOSIS_MS 30000
static void explain_tls_failure(struct forwarder *fw)
{
    const char *uri = NULL;
    for (int i = 0; i < fw->cfg->mqtt.uri_count && !uri; i++)
        if (strncmp(fw->uris[i], "ssl://", 6) == 0)
            uri = fw->uris[i];
    int64_t now = clock_mono_ms();
    if (!uri || now < fw->next_tls_diagnosis_ms)
        return;
    fw->next_tls_diagnosis_ms = now + TLS_DIAGNOSIS_MS;
    char why[1024];
    tls_diagnose(&fw->cfg->mqtt, uri, why, sizeof(why));
    log_msg(LOG_WARNING, "mqtt: TLS to %s: %s", uri, why);
}
/* transport: the connection failed before the broker answered CONNECT
 * (TCP or TLS), not a CONNACK refusal. */
static void connect_failed(struct forwarder *fw, int code, const char *message, bool transport)
{
    pthread_mutex_lock(&fw->lock);
    schedule_retry(fw);
    int64_t delay = fw->next_attempt_ms - clock_mono_ms();
    pthread_mutex_unlock(&fw->lock);
    log_msg(LOG_DEBUG, "mqtt: connect failed (code %d)", code);
    log_limited(&fw->connect_log, LOG_WARNING,
                "mqtt: cannot connect to the broker (%s, code %d); next attempt in %lldms",
                message ? message : "no answer", code, (long long)delay);
    if (transport)
        explain_tls_failure(fw);
}
static void on_connect_failed(void *context, MQTTAsync_failureData *response)
{
    /* MQTT 3.1.1: CONNACK refusals are codes 1 to 5, paho's own negative. */
    connect_failed(context, response ? response->code : 0, response ? response->message : NULL,
                   !response || response->code < 0);
}
static void on_connect_failed5(void *context, MQTTAsync_failureData5 *response)
{
    const char *message = response ? response->message : NULL;
    if (response && response->reasonCode >= 0x80 && !message)
        message = fw_reason_text(response->reasonCode);
    connect_failed(context, response ? response->code : 0, message,
                   !response || response->reasonCode < 0x80);
}
/* Called with fw->lock held, when the connection dropped: the oldest
 * message in flight takes a strike; the third in a row sets it aside. */
static int64_t strike_oldest(struct forwarder *fw, int reason, int *readings)
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
    fw_note_refusal(fw, oldest->seq, reason > 0 ? reason : 0);
    *readings = oldest->readings;
    return oldest->seq;
}
/* 3, 4, 8, 16...: often enough to be seen, rarely enough not to flood. */
static bool worth_a_hint(int n)
{
    return n == BRIEF_CONNECTIONS_TO_WARN || (n > BRIEF_CONNECTIONS_TO_WARN && (n & (n - 1)) == 0);
}
/* What a loss probably means, when its pattern says more than its reason. */
static void explain_loss(struct forwarder *fw, int reason, int brief, int short_ones,
                         int64_t set_aside, int set_aside_readings)
{
    if (reason == REASON_SESSION_TAKEN_OVER)
        log_msg(LOG_WARNING,
                "mqtt: another client connected with this gateway's client id '%s' and took the "
                "session over: a second gateway with the same id or client_id (a cloned SD "
                "card?); each gateway needs its own",
                fw->cfg->mqtt.client_id);
    else if (worth_a_hint(short_ones))
        /* mosquitto before 2.0.18 closes the old connection of a client id
         * taken over without the DISCONNECT 0x8E that says so. */
        log_msg(LOG_WARNING,
                "mqtt: the broker closed %d working connections in a row within a minute, "
                "without a reason: the usual cause is a second client with client id '%s' "
                "taking the connection over (a cloned SD card? mosquitto logs 'already "
                "connected, closing old connection'); else a network that drops connections",
                short_ones, fw->cfg->mqtt.client_id);
    else if (worth_a_hint(brief))
        log_msg(LOG_WARNING,
                /* A second client with our id lets each connection work for
                 * a while (the hint above); one closed before any reading
                 * was acknowledged points at what the gateway sends. */
                "mqtt: the broker closed %d connections in a row within seconds of accepting "
                "them, before acknowledging a reading, with no reason given: it probably "
                "refuses what the gateway sends first (too large, not allowed for client id "
                "'%s': see the broker's log)",
                brief, fw->cfg->mqtt.client_id);
    if (set_aside >= 0) {
        fw_count_refused(fw, set_aside_readings);
        log_msg(LOG_WARNING,
                "mqtt: the broker dropped the connection %d times in a row while reading %lld "
                "was the oldest in flight: taken as refused and set aside in the store "
                "(sensor-gateway --list-set-aside), the readings behind it go on",
                STRIKES_TO_SET_ASIDE, (long long)set_aside);
    }
}
/* Called with fw->lock held: whether the connection ended because the
 * broker had just refused a message on it (some brokers close it then),
 * which says nothing about the other messages in flight or another client. */
static bool closed_for_refusal(const struct forwarder *fw, int reason, int64_t now)
{
    return reason != REASON_SERVER_SHUTTING_DOWN && reason != REASON_SESSION_TAKEN_OVER &&
           fw->last_refusal_ms >= fw->connected_at_ms &&
           now - fw->last_refusal_ms <= CLOSED_FOR_REFUSAL_MS;
}
/* Why the connection ended, in words for the log. */
static void loss_reason(char *why, size_t size, int reason, const char *cause, bool for_refusal,
                        const char *refused_topic, int refused_reason)
{
    if (reason >= 0)
        snprintf(why, size, "the broker disconnected: %s, 0x%02x", fw_reason_text(reason), reason);
    else if (for_refusal)
        snprintf(why, size,
                 "the broker closed it right after refusing %s: %s, 0x%02x; that topic is "
                 "held back",
                 refused_topic, fw_reason_text(refused_reason), refused_reason);
    else
        snprintf(why, size, "%s",
                 cause ? cause : "closed by the broker or the network, no reason given");
}
/* The connection ended: by the broker's DISCONNECT (reason >= 0) or by
 * the socket closing (reason -1, paho's cause if it gives one). */
static void connection_ended(struct forwarder *fw, const char *cause, int reason)
{
    pthread_mutex_lock(&fw->lock);
    if (fw->state != FW_CONNECTED) { /* already given up as silent, or both callbacks came */
        pthread_mutex_unlock(&fw->lock);
        return;
    }
    int64_t now = clock_mono_ms();
    int64_t up_ms = now - fw->connected_at_ms;
    bool for_refusal = closed_for_refusal(fw, reason, now);
    bool proven = fw->proven || up_ms >= PROVEN_UPTIME_MS || for_refusal;
    if (proven)
        fw->retry_delay_ms = fw->cfg->mqtt.reconnect_min_ms;
    else
        fw->probe_acks_left = PROBE_ACKS;
    if (!for_refusal) {
        fw->brief_connections =
            !proven && up_ms < BRIEF_CONNECTION_MS ? fw->brief_connections + 1 : 0;
        fw->short_connections =
            reason < 0 && fw->proven && up_ms < PROVEN_UPTIME_MS ? fw->short_connections + 1 : 0;
    }
    int brief = for_refusal ? 0 : fw->brief_connections;
    int short_ones = for_refusal ? 0 : fw->short_connections;
    char uri[CFG_TEXT_MAX], why[TOPIC_MAX + 160], held[TOPIC_MAX] = "";
    /* Retained documents go first on a connection: one still unanswered
     * is the likelier cause than any reading behind it, if the broker
     * answered others first. One that answered nothing drops every
     * connection, whatever is sent (the brief-connection hint). */
    bool announcement =
        !for_refusal && fw->answered && inflight_oldest(&fw->announcements) != NULL &&
        reason != REASON_SERVER_SHUTTING_DOWN && reason != REASON_SESSION_TAKEN_OVER;
    if (announcement && fw_strike_announcement(fw, held, sizeof(held))) {
        fw->retry_delay_ms = fw->cfg->mqtt.reconnect_min_ms;
        fw->brief_connections = brief = 0;
    }
    int set_aside_readings = 0;
    int64_t set_aside =
        for_refusal || announcement ? -1 : strike_oldest(fw, reason, &set_aside_readings);
    snprintf(uri, sizeof(uri), "%s", fw->connected_uri);
    loss_reason(why, sizeof(why), reason, cause, for_refusal, fw->last_refused_topic,
                fw->last_refused_reason);
    if (reason < 0 && inflight_oldest(&fw->announcements))
        fw->probe_announcements = true;
    fw_drop_queued(fw);
    inflight_retire(&fw->inflight);
    inflight_retire(&fw->announcements);
    schedule_retry(fw);
    int64_t delay = fw->next_attempt_ms - now;
    pthread_mutex_unlock(&fw->lock);
    stat_add(&fw->stats->broker_losses, 1);
    log_msg(LOG_WARNING,
            "mqtt: connection lost to %s (%s); readings stay in the store, next attempt in %lldms",
            uri, why, (long long)delay);
    explain_loss(fw, reason, brief, short_ones, set_aside, set_aside_readings);
    if (held[0])
        log_msg(LOG_WARNING,
                "mqtt: the broker dropped the connection %d times in a row while the retained "
                "message on %s was unanswered: taken as refused, not sent again for 10 minutes "
                "or until a restart, the readings go on",
                STRIKES_TO_SET_ASIDE, held);
    fw->wake(fw->wake_ctx);
}
static void on_connection_lost(void *context, char *cause)
{
    connection_ended(context, cause, -1);
}
/* paho 1.3 marks the client disconnected before it handles a DISCONNECT
 * from the broker, and so never calls connectionLost for it: this is the
 * only word the forwarder gets that the connection is gone. */
static void on_disconnected5(void *context, MQTTProperties *properties, enum MQTTReasonCodes reason)
{
    (void)properties;
    connection_ended(context, NULL, (int)reason);
}
static int on_message(void *context, char *topic, int topic_len, MQTTAsync_message *message)
{
    (void)topic_len; /* paho hands topics NUL-terminated */
    command_link_receive(context, topic, message);
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
int forwarder_create(const struct gateway_config *cfg, struct gateway_stats *stats,
                     void (*wake)(void *), void *wake_ctx, const struct command_sink *commands,
                     struct forwarder **out)
{
    struct forwarder *fw = calloc(1, sizeof(*fw));
    if (!fw)
        return -1;
    fw->cfg = cfg;
    fw->stats = stats;
    fw->wake = wake;
    fw->wake_ctx = wake_ctx;
    if (commands)
        fw->commands = *commands;
    fw->retry_delay_ms = cfg->mqtt.reconnect_min_ms;
    fw->v5 = cfg->mqtt.protocol == MQTT_PROTOCOL_5;
    fw->suspect_seq = -1;
    fw->connect_log.interval_ms = fw->refuse_log.interval_ms = 30000;
    fw->tls_log.interval_ms = 30000;
    pthread_mutex_init(&fw->lock, NULL);
    topic_format_status(fw->status_topic, sizeof(fw->status_topic), cfg->mqtt.topic_prefix,
                        cfg->id);
    for (int i = 0; i < cfg->mqtt.uri_count; i++) {
        normalise_uri(fw->uris[i], sizeof(fw->uris[i]), cfg->mqtt.uris[i]);
        fw->uri_list[i] = fw->uris[i];
    }
    /* paho keeps a trace of every packet in memory by default, formatted
     * with printf under a lock of its own, for nobody to read: it is off,
     * errors aside. A third of paho's work per message. */
    MQTTAsync_setTraceLevel(MQTTASYNC_TRACE_ERROR);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.MQTTVersion = fw->v5 ? MQTTVERSION_5 : MQTTVERSION_3_1_1;
    int rc = inflight_init(&fw->inflight, (size_t)cfg->mqtt.max_inflight, fw) == 0 &&
                     inflight_init(&fw->announcements, ANNOUNCEMENTS_TRACKED, fw) == 0
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
/* Called with fw->lock held: from when on the link counts as silent, or
 * INT64_MAX while nothing waits for an answer. */
static int64_t silent_from(const struct forwarder *fw)
{
    if (fw->state != FW_CONNECTED || fw->inflight.current->outstanding == 0)
        return INT64_MAX;
    return fw->last_progress_ms + fw->cfg->mqtt.keepalive_ms + 1;
}

/* paho notices a dead link only when its own PINGREQ goes unanswered, and
 * steady publishing postpones the ping: up to about three keep-alives. A
 * whole keep-alive without a single PUBACK while messages wait is proof
 * enough; the connection is dropped and the readings stay in the store. */
static void drop_if_silent(struct forwarder *fw, int64_t now_mono_ms)
{
    int64_t keepalive = fw->cfg->mqtt.keepalive_ms;
    pthread_mutex_lock(&fw->lock);
    bool silent = now_mono_ms >= silent_from(fw);
    size_t waiting = fw->inflight.current->outstanding;
    if (silent) {
        fw_drop_queued(fw);
        inflight_retire(&fw->inflight);
        inflight_retire(&fw->announcements);
        fw->retry_delay_ms = fw->cfg->mqtt.reconnect_min_ms;
        schedule_retry(fw);
    }
    pthread_mutex_unlock(&fw->lock);
    if (!silent)
        return;
    stat_add(&fw->stats->broker_losses, 1);
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
    fw_send_queued(fw);
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
int64_t forwarder_next_service_ms(struct forwarder *fw)
{
    pthread_mutex_lock(&fw->lock);
    int64_t next = fw->state == FW_DISCONNECTED ? fw->next_attempt_ms : silent_from(fw);
    pthread_mutex_unlock(&fw->lock);
    return next;
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
    inflight_free(&fw->announcements);
    free(fw->acks);
    free(fw->refusals);
    fw_drop_queued(fw);
    free(fw->queued);
    pthread_mutex_destroy(&fw->lock);
    free(fw);
}
