/* A command: a request from outside to write one value to one point, and
 * what became of it. The vocabulary shared by the output that receives
 * commands (outputs/mqtt/), the desk that admits and audits them
 * (gateway/command_desk.c) and the poller that carries them out between
 * polls. Plain data and pure functions, no I/O.
 *
 * A command either reaches the device or is refused before, for one of the
 * reasons below; the result names the reason in the contract's words
 * (docs/mqtt-contract.md, "Commands"). */
#ifndef GW_COMMAND_H
#define GW_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/names.h"

#define COMMAND_ID_MAX 65          /* an id of up to 64 characters */
#define COMMAND_CORRELATION_MAX 64 /* bytes of MQTT 5 correlation data kept */
#define COMMAND_TOPIC_MAX 320
#define COMMAND_PAYLOAD_MAX 1024 /* a larger payload is malformed */

enum command_status { COMMAND_DONE, COMMAND_REFUSED, COMMAND_FAILED };
extern const char *const command_status_names[];

/* Why a command was refused or failed (or none, when done). */
enum command_reason {
    REASON_NONE,
    /* refused: nothing was sent to the device */
    REASON_DISABLED,
    REASON_UNKNOWN_POINT,
    REASON_NOT_WRITABLE,
    REASON_MALFORMED,
    REASON_WRONG_TYPE,
    REASON_OUT_OF_RANGE,
    REASON_RETAINED,
    REASON_EXPIRED,
    REASON_DUPLICATE,
    REASON_BUSY, /* too many commands waiting for the bus */
    /* failed: the device was tried, or could not be */
    REASON_BACKED_OFF,
    REASON_EXCEPTION,
    REASON_NO_ANSWER,
    REASON_READ_BACK_DIFFERS,
    REASON_STOPPING,
};
extern const char *const command_reason_names[];

/* What a command asks for: a number, or true/false for a coil. */
struct command_value {
    bool is_bool;
    double number; /* 0 or 1 when is_bool */
};

struct command_result {
    enum command_status status;
    enum command_reason reason;
    char message[256]; /* for people: what exactly was wrong */
    bool has_value;    /* value: the engineering value the device holds now */
    double value;
    int64_t took_ms; /* on the bus */
    /* A duplicate is answered with the result of the command it repeats. */
    bool has_earlier;
    enum command_status earlier_status;
    enum command_reason earlier_reason;
};

struct command;
typedef void (*command_reply_fn)(void *ctx, const struct command *cmd,
                                 const struct command_result *res);

struct command {
    char device[CFG_NAME_MAX + 1], point[CFG_NAME_MAX + 1];
    char origin[COMMAND_TOPIC_MAX]; /* the topic it came on, for the audit */
    /* From the payload */
    char id[COMMAND_ID_MAX]; /* empty: none given */
    struct command_value value;
    enum command_reason parse_error; /* REASON_NONE, MALFORMED or WRONG_TYPE */
    char parse_message[128];
    /* From the message around it */
    bool retained;
    char reply_topic[COMMAND_TOPIC_MAX]; /* MQTT 5 Response Topic; empty: the result topic */
    uint8_t correlation[COMMAND_CORRELATION_MAX];
    size_t correlation_len;
    int64_t received_ms; /* monotonic */
    int64_t expires_ms;  /* monotonic; the desk sets it from max_age when the sender did not */
    int64_t received_wall_ms;
    /* Set by the desk once admitted */
    int device_index, point_index; /* into gateway_config */
    double raw;                    /* the value as the device takes it */
    /* Who answers it (the output that received it), and who is told the
     * outcome first (the desk: audit, counts, memory). */
    command_reply_fn reply;
    void *reply_ctx;
    command_reply_fn finish;
    void *finish_ctx;
    struct command *next; /* in a poller's queue */
};

/* Where an output hands the commands it receives (gateway/command_desk.h):
 * submit takes ownership of cmd. */
struct command_sink {
    void (*submit)(void *ctx, struct command *cmd);
    void *ctx;
};

/* The key a repeat of this command carries: its id, else its correlation
 * data in hex; false when it has neither (a repeat cannot be recognised). */
bool command_key(const struct command *cmd, char *key, size_t size);

/* Fills a result; message may be NULL. */
void command_result_set(struct command_result *res, enum command_status status,
                        enum command_reason reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
