/* A destination for records, as the pipeline sees it: a small table of
 * operations behind one pointer (libmodbus' modbus_backend_t, Fluent
 * Bit's output plugins). The pipeline knows records, sequence numbers and
 * acknowledgements; an output knows its wire: topics, payloads, a client
 * library. One output today, outputs/mqtt/.
 *
 * An output calls back (the wake function given to its constructor) from
 * its own threads when it has news: a connection, a refusal, room again in
 * a full window. Everything else the pipeline collects when it wakes. */
#ifndef GW_OUTPUT_H
#define GW_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outputs/health.h"
#include "core/reading.h"

/* What became of a record handed to publish. */
enum output_result {
    OUTPUT_SENT,       /* on its way; its acknowledgement (or refusal) will be reported */
    OUTPUT_NOT_NOW,    /* not connected, window full: try later */
    OUTPUT_SET_ASIDE,  /* refused at once (too large, a held topic): reported as refused */
    OUTPUT_UNWRITABLE, /* cannot be written at all (a point the store no longer names) */
};

struct output_ops {
    /* Keeps the connection up (connect attempts, a silent link), and when
     * that next needs doing: monotonic ms, INT64_MAX for nothing planned. */
    void (*service)(void *self, int64_t now_mono_ms);
    int64_t (*next_service_ms)(void *self);
    /* Records that may be published now (0 while not connected), and those
     * still waiting for their acknowledgement. A full window asks for a
     * wake-up: the wake function is called once half of it is free again. */
    size_t (*window)(void *self);
    size_t (*in_flight)(void *self);
    /* newest: no later record of the same device or point is known, so a
     * late subscriber may be given this one (MQTT: retained). */
    enum output_result (*publish)(void *self, const struct record *rec, bool newest);
    /* Sequence numbers acknowledged, and records refused (to be set aside),
     * since the last call. */
    size_t (*take_acks)(void *self, int64_t *out, size_t max);
    size_t (*take_refusals)(void *self, struct reading_refusal *out, size_t max);
    /* True once after each (re)connect: everything unacknowledged is to be
     * published again, oldest first. */
    bool (*take_resend)(void *self);
    /* What describes the gateway rather than carries readings: its health,
     * and on every connect its devices. */
    void (*announce_health)(void *self, const struct health_inputs *in);
    void (*announce_devices)(void *self);
    /* A device a reload removed: what described it is withdrawn, so that a
     * dashboard forgets it. Any thread. */
    void (*forget_device)(void *self, const char *device);
    /* What a message is: raw readings of one poll (one timestamp) whose
     * points have the same key travel as one message, and so are made one
     * record under one seq; the key also names the message's retained
     * topic. A point's own id: one message per reading. Indicators are
     * always a message each. Asked once per point id. */
    uint32_t (*message_key)(void *self, uint32_t point_id);
    /* Says goodbye, waiting at most timeout_ms for it to be heard; the
     * output is still there (and still answers window and in_flight). */
    void (*stop)(void *self, int64_t timeout_ms);
    /* Frees, after stop. */
    void (*destroy)(void *self);
};

struct output {
    const struct output_ops *ops;
    void *self;
};

#endif
