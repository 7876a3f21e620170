/* Inside the forwarder: what forwarder.c (the messages: publishing, acks,
 * refusals) and forwarder_link.c (the connection's life: connecting,
 * back-off, losing it, stopping) share. Not for use outside these two. */
#ifndef GW_FORWARDER_INTERNAL_H
#define GW_FORWARDER_INTERNAL_H

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdbool.h>

#include "commands/command.h"
#include "outputs/mqtt/forwarder.h"
#include "outputs/mqtt/inflight.h"
#include "core/log.h"
#include "outputs/mqtt/payload.h"

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
/* Retained documents tracked per connection; more go out untracked. */
#define ANNOUNCEMENTS_TRACKED 256
/* A connection that closes this soon after the broker refused a message
 * was closed for that refusal (mosquitto 2.0 with max_queued_messages 0
 * does so): no strike for the oldest reading, no hint of a second client. */
#define CLOSED_FOR_REFUSAL_MS 2000

struct held_topic {
    char topic[TOPIC_MAX];
    int reason;
    int64_t until_ms;
};
/* A retained document waiting for its turn while the documents go one at
 * a time (probe_announcements). */
struct queued_doc {
    char *topic;
    char *payload;
};
/* Topics the broker refused, each held back for HOLD_TOPIC_MS. */
struct held_topics {
    struct held_topic t[HELD_TOPICS_MAX];
    size_t count;
};
struct forwarder {
    MQTTAsync client;
    const struct gateway_config *cfg;
    struct gateway_stats *stats;
    bool v5;
    char status_topic[TOPIC_MAX];
    char uris[CFG_MAX_URIS][CFG_TEXT_MAX];
    char *uri_list[CFG_MAX_URIS];
    void (*wake)(void *);
    void *wake_ctx;
    struct command_sink commands; /* submit NULL: the gateway takes no commands */

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
    bool answered; /* the broker acknowledged or refused something on this connection */
    int64_t connected_at_ms;
    /* The back-off starts again from reconnect_min only after a connection
     * proved itself: a broker that drops every connection right after
     * CONNACK must not be hammered once a second. */
    bool proven;
    int probe_acks_left; /* > 0: one message in flight at a time */
    /* The pipeline found the window full: wake it when half of it is free
     * again. Otherwise a PUBACK wakes nobody; the pipeline collects them
     * when it wakes for its own reasons. */
    bool window_wanted;
    bool paho_full; /* paho refused a message: any PUBACK wakes the pipeline */
    int brief_connections;
    int short_connections; /* working ones closed within PROVEN_UPTIME_MS, no reason */
    char connected_uri[CFG_TEXT_MAX];
    int64_t max_packet; /* the broker's Maximum Packet Size (MQTT 5 CONNACK); 0: none */
    /* The smallest packet a broker refused as too large (0x95): a limit it
     * did not announce (mosquitto's message_size_limit), learnt once so that
     * nothing as large is sent again until a restart. 0: none. */
    int64_t refused_size;
    int64_t suspect_seq; /* oldest in flight at the last drops */
    int strikes;
    /* The same for retained documents: the broker's PUBACK of a refusal can
     * be lost when it closes the socket with our next messages unread. */
    char suspect_topic[TOPIC_MAX];
    int topic_strikes;
    int64_t announcements_sent; /* their slots' order, for the oldest */
    struct inflight inflight;
    int64_t *acks;
    size_t ack_count, ack_cap;
    struct reading_refusal *refusals;
    size_t refusal_count, refusal_cap;
    struct held_topics held;               /* reading topics refused */
    struct held_topics held_announcements; /* retained documents refused */
    struct inflight announcements;         /* their slots, per connection like readings' */
    /* After a connection closed without a reason while documents were
     * unanswered, the next one sends them one at a time, readings after:
     * a broker that closes on a refusal with more of ours unread resets
     * the socket, and its PUBACK (the refusal) is lost with it. */
    bool probe_announcements;
    struct queued_doc *queued;
    size_t queued_head, queued_count, queued_cap;
    /* The last refusal of this connection: the broker may close it for that. */
    int64_t last_refusal_ms;
    char last_refused_topic[TOPIC_MAX];
    int last_refused_reason;
    int64_t next_tls_diagnosis_ms;
    struct log_limit connect_log, refuse_log, tls_log;
};

/* Called with fw->lock held: holds topic back for HOLD_TOPIC_MS; true
 * when it was not held already (worth a log line). */
bool fw_hold_topic(struct held_topics *h, const char *topic, int reason);
/* Called with fw->lock held: whether topic is held back, and why (the
 * broker's reason code, 0 when the connection dropped on it) if reason is
 * not NULL. */
bool fw_topic_held(const struct held_topics *h, const char *topic, int *reason);
/* Called with fw->lock held: remembers a refusal on this connection. */
void fw_note_refused_topic(struct forwarder *fw, const char *topic, int reason);
/* Makes room for one more element of an array grown by doubling; false
 * when memory is short. */
bool fw_room_for_one(void **array, size_t *cap, size_t count, size_t elem);
/* A message of `readings` readings refused, counted in both units. */
void fw_count_refused(struct forwarder *fw, int readings);
/* Called with fw->lock held: reports seq as refused to the pipeline. */
void fw_note_refusal(struct forwarder *fw, int64_t seq, int reason);
/* An MQTT 5 reason code in words. */
const char *fw_reason_text(int reason);
/* Called with fw->lock held: whether the broker said it takes no packet
 * this large (it would drop the connection on it). */
bool fw_too_large(const struct forwarder *fw, const char *topic, int payload_len, int qos);
/* The size of the PUBLISH packet on the wire. */
int64_t fw_packet_size(const struct forwarder *fw, const char *topic, int payload_len, int qos);
/* Called with fw->lock held: the largest packet the broker takes, as it
 * said or as its refusals showed; 0: no limit known. */
int64_t fw_packet_limit(const struct forwarder *fw);
/* Called with fw->lock held: a refusal as too large teaches the limit. */
void fw_learn_limit(struct forwarder *fw, int64_t size, int reason);
/* Called with fw->lock held, when the connection dropped with a retained
 * document unanswered: it takes a strike; the third in a row holds its
 * topic back and copies it to topic (true). */
bool fw_strike_announcement(struct forwarder *fw, char *topic, size_t size);
/* Called with fw->lock held: whether documents are still being sent one
 * at a time (readings wait for them). */
bool fw_probing_announcements(const struct forwarder *fw);
/* Called with fw->lock held: drops the documents waiting their turn (the
 * connection is gone; the next one announces anew). */
void fw_drop_queued(struct forwarder *fw);
/* From the pipeline's thread (forwarder_service): sends the next document
 * waiting its turn, if its predecessor was answered. */
void fw_send_queued(struct forwarder *fw);
/* A retained QoS 1 message outside the tracked reading flow; *token
 * (if not NULL) identifies it to MQTTAsync_waitForCompletion. */
int fw_send_retained(struct forwarder *fw, const char *topic, const char *payload,
                     MQTTAsync_token *token);

#endif
