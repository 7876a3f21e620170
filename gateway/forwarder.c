#include "gateway/forwarder.h"
#include "gateway/clock.h"
#include "gateway/log.h"
#include "gateway/payload.h"
#include "gateway/stats.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* paho does not promise a callback for every message that was in flight
 * when a connection drops. So each connection gets its own pool of slots;
 * a message's callback context is its slot. When the connection drops the
 * pool is retired: late callbacks still land in it safely (an ack is an ack)
 * and it is freed once its last slot is back, or at destroy. */
struct inflight_pool;

struct inflight_slot {
    struct inflight_pool *pool;
    int64_t seq;
    struct inflight_slot *next_free;
};

struct inflight_pool {
    struct forwarder *fw;
    struct inflight_slot *slots;
    struct inflight_slot *free_list;
    size_t outstanding;
    struct inflight_pool *next_retired;
};

enum link_state { FW_DISCONNECTED, FW_CONNECTING, FW_CONNECTED };

struct forwarder {
    MQTTAsync client;
    const struct gateway_config *cfg;
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
    struct inflight_pool *pool;
    struct inflight_pool *retired;
    int64_t *acks;
    size_t ack_count, ack_cap;
    struct log_limit connect_log;
};

static struct inflight_pool *pool_new(struct forwarder *fw)
{
    size_t n = (size_t)fw->cfg->mqtt.max_inflight;
    struct inflight_pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->slots = calloc(n, sizeof(*pool->slots));
    if (!pool->slots) {
        free(pool);
        return NULL;
    }
    pool->fw = fw;
    for (size_t i = 0; i < n; i++) {
        pool->slots[i].pool = pool;
        pool->slots[i].next_free = i + 1 < n ? &pool->slots[i + 1] : NULL;
    }
    pool->free_list = &pool->slots[0];
    return pool;
}

static void pool_free(struct inflight_pool *pool)
{
    if (pool) {
        free(pool->slots);
        free(pool);
    }
}

/* Called with fw->lock held. */
static void pool_retire(struct forwarder *fw)
{
    struct inflight_pool *old = fw->pool;
    struct inflight_pool *fresh = pool_new(fw);
    if (!fresh)
        return; /* keep the old pool: at worst the window stays smaller */
    fw->pool = fresh;
    if (old->outstanding == 0) {
        pool_free(old);
    } else {
        old->next_retired = fw->retired;
        fw->retired = old;
    }
}

/* Called with fw->lock held. */
static void slot_release(struct forwarder *fw, struct inflight_slot *slot)
{
    struct inflight_pool *pool = slot->pool;
    slot->next_free = pool->free_list;
    pool->free_list = slot;
    pool->outstanding--;
    if (pool == fw->pool || pool->outstanding > 0)
        return;
    for (struct inflight_pool **p = &fw->retired; *p; p = &(*p)->next_retired) {
        if (*p == pool) {
            *p = pool->next_retired;
            pool_free(pool);
            return;
        }
    }
}

static void on_publish_ok(void *context, MQTTAsync_successData *response)
{
    (void)response;
    struct inflight_slot *slot = context;
    struct forwarder *fw = slot->pool->fw;
    pthread_mutex_lock(&fw->lock);
    if (fw->ack_count == fw->ack_cap) {
        size_t cap = fw->ack_cap ? fw->ack_cap * 2 : 1024;
        int64_t *bigger = realloc(fw->acks, cap * sizeof(*bigger));
        if (bigger) {
            fw->acks = bigger;
            fw->ack_cap = cap;
        }
    }
    /* Without room the ack is forgotten: the reading stays in the store and
     * is sent again, a duplicate with the same seq, never a loss. */
    if (fw->ack_count < fw->ack_cap)
        fw->acks[fw->ack_count++] = slot->seq;
    fw->last_progress_ms = clock_mono_ms();
    slot_release(fw, slot);
    pthread_mutex_unlock(&fw->lock);
    stat_add(&gw_stats.readings_acknowledged, 1);
    fw->wake(fw->wake_ctx);
}

static void on_publish_failed(void *context, MQTTAsync_failureData *response)
{
    (void)response;
    struct inflight_slot *slot = context;
    struct forwarder *fw = slot->pool->fw;
    pthread_mutex_lock(&fw->lock);
    slot_release(fw, slot);
    pthread_mutex_unlock(&fw->lock);
    fw->wake(fw->wake_ctx);
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

static void on_connected(void *context, MQTTAsync_successData *response)
{
    struct forwarder *fw = context;
    pthread_mutex_lock(&fw->lock);
    fw->state = FW_CONNECTED;
    fw->retry_delay_ms = fw->cfg->mqtt.reconnect_min_ms;
    fw->last_progress_ms = clock_mono_ms();
    fw->resend = true;
    pthread_mutex_unlock(&fw->lock);
    stat_add(&gw_stats.broker_connects, 1);
    log_msg(LOG_INFO, "mqtt: connected to %s",
            response && response->alt.connect.serverURI ? response->alt.connect.serverURI : "?");
    publish_status(fw, "online");
    fw->wake(fw->wake_ctx);
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

static void on_connect_failed(void *context, MQTTAsync_failureData *response)
{
    struct forwarder *fw = context;
    pthread_mutex_lock(&fw->lock);
    schedule_retry(fw);
    int64_t delay = fw->next_attempt_ms - clock_mono_ms();
    pthread_mutex_unlock(&fw->lock);
    log_msg(LOG_DEBUG, "mqtt: connect failed (code %d)", response ? response->code : 0);
    log_limited(&fw->connect_log, LOG_WARNING,
                "mqtt: cannot connect to the broker (%s, code %d); next attempt in %lldms",
                response && response->message ? response->message : "no answer",
                response ? response->code : 0, (long long)delay);
}

static void on_connection_lost(void *context, char *cause)
{
    struct forwarder *fw = context;
    pthread_mutex_lock(&fw->lock);
    if (fw->state != FW_CONNECTED) { /* already given up as silent */
        pthread_mutex_unlock(&fw->lock);
        return;
    }
    pool_retire(fw);
    fw->retry_delay_ms = fw->cfg->mqtt.reconnect_min_ms;
    schedule_retry(fw);
    pthread_mutex_unlock(&fw->lock);
    stat_add(&gw_stats.broker_losses, 1);
    log_msg(LOG_WARNING, "mqtt: connection lost (%s); readings stay in the store",
            cause ? cause : "no reason given");
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
    fw->connect_log.interval_ms = 30000;
    pthread_mutex_init(&fw->lock, NULL);
    topic_format_status(fw->status_topic, sizeof(fw->status_topic), cfg->mqtt.topic_prefix,
                        cfg->id);
    for (int i = 0; i < cfg->mqtt.uri_count; i++) {
        normalise_uri(fw->uris[i], sizeof(fw->uris[i]), cfg->mqtt.uris[i]);
        fw->uri_list[i] = fw->uris[i];
    }
    fw->pool = pool_new(fw);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    int rc = fw->pool ? MQTTAsync_createWithOptions(&fw->client, fw->uris[0], cfg->mqtt.client_id,
                                                    MQTTCLIENT_PERSISTENCE_NONE, NULL, &co)
                      : MQTTASYNC_FAILURE;
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setCallbacks(fw->client, fw, on_connection_lost, on_message, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        log_msg(LOG_ERROR, "mqtt: cannot create the client for %s (paho error %d)", fw->uris[0],
                rc);
        forwarder_destroy(fw);
        return -1;
    }
    *out = fw;
    return 0;
}

static int start_connect(struct forwarder *fw)
{
    const struct mqtt_config *m = &fw->cfg->mqtt;
    MQTTAsync_connectOptions o = MQTTAsync_connectOptions_initializer;
    o.keepAliveInterval = (int)(m->keepalive_ms / 1000);
    o.cleansession = 1;
    o.maxInflight = m->max_inflight;
    o.connectTimeout = (int)((m->connect_timeout_ms + 999) / 1000);
    o.serverURIs = fw->uri_list;
    o.serverURIcount = m->uri_count;
    o.username = m->username[0] ? m->username : NULL;
    o.password = m->password[0] ? m->password : NULL;
    o.onSuccess = on_connected;
    o.onFailure = on_connect_failed;
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
    bool silent = fw->state == FW_CONNECTED && fw->pool->outstanding > 0 &&
                  now_mono_ms - fw->last_progress_ms > keepalive;
    size_t waiting = fw->pool->outstanding;
    if (silent) {
        pool_retire(fw);
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
    size_t n =
        fw->state == FW_CONNECTED ? (size_t)fw->cfg->mqtt.max_inflight - fw->pool->outstanding : 0;
    pthread_mutex_unlock(&fw->lock);
    return n;
}

size_t forwarder_in_flight(struct forwarder *fw)
{
    pthread_mutex_lock(&fw->lock);
    size_t n = fw->state == FW_CONNECTED ? fw->pool->outstanding : 0;
    pthread_mutex_unlock(&fw->lock);
    return n;
}

int forwarder_publish(struct forwarder *fw, const char *topic, const char *payload, int len,
                      int64_t seq, bool retain)
{
    pthread_mutex_lock(&fw->lock);
    struct inflight_slot *slot = fw->state == FW_CONNECTED ? fw->pool->free_list : NULL;
    if (slot) {
        fw->pool->free_list = slot->next_free;
        fw->pool->outstanding++;
        slot->seq = seq;
    }
    pthread_mutex_unlock(&fw->lock);
    if (!slot)
        return -1;
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = len;
    msg.qos = fw->cfg->mqtt.qos;
    msg.retained = retain;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_publish_ok;
    ro.onFailure = on_publish_failed;
    ro.context = slot;
    int rc = MQTTAsync_sendMessage(fw->client, topic, &msg, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        pthread_mutex_lock(&fw->lock);
        slot_release(fw, slot);
        pthread_mutex_unlock(&fw->lock);
        return -1;
    }
    stat_add(&gw_stats.readings_published, 1);
    return 0;
}

int forwarder_publish_retained(struct forwarder *fw, const char *topic, const char *payload)
{
    pthread_mutex_lock(&fw->lock);
    bool connected = fw->state == FW_CONNECTED;
    pthread_mutex_unlock(&fw->lock);
    if (!connected)
        return -1;
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
    pool_free(fw->pool);
    while (fw->retired) {
        struct inflight_pool *next = fw->retired->next_retired;
        pool_free(fw->retired);
        fw->retired = next;
    }
    free(fw->acks);
    pthread_mutex_destroy(&fw->lock);
    free(fw);
}
