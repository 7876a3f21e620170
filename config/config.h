/* The gateway's configuration as loaded from an INI file.
 *
 * config_load() parses and validates in one go; on failure it leaves one
 * message per problem in the error list, each naming file, line, section and
 * key, so that an operator can fix all of them in one edit. */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/names.h"
#include "sources/bus_kind.h"

#define CFG_UNIT_MAX 32
#define CFG_MAX_URIS 8

struct device_config {
    char name[CFG_NAME_MAX + 1];
    char bus_name[CFG_NAME_MAX + 1];
    int bus_index;
    int unit_id;
    int64_t interval_ms;
    int64_t response_timeout_ms;
    int64_t backoff_max_ms;
    int max_registers;
    int max_gap;
    bool single_requests;
    int64_t pause_between_requests_ms; /* silence before each request, beyond t3.5 */
    int64_t pause_after_connect_ms;    /* before the first request on a fresh connection */
    int64_t quiet_after_reply_ms;      /* the line's silence it needs after its reply */
    int line;
    bool broken; /* its section had errors: the checks across sections skip it */

    /* A built-in profile (sources/modbus/profiles/NAME.ini) gives the points and
     * the quirks; keys of the device's own section win. */
    char profile[CFG_NAME_MAX + 1];
    char model[CFG_TEXT_MAX]; /* the profile's description */
    /* The serial settings the profile's device speaks (0 / -1: any); the
     * bus must match them. */
    int serial_baud, serial_parity, serial_stop_bits;
    uint32_t keys_set; /* bit i: device key i was in the device's section */

    /* Where it stands, for the dashboard (device metadata, Home Assistant's
     * area); latitude/longitude NAN when not given. */
    char site[CFG_TEXT_MAX];
    char site_description[CFG_TEXT_MAX];
    double latitude, longitude;
    char direction_in[CFG_TEXT_MAX]; /* a counter's "in", in words */
    /* For its profile's points and its points without their own: 0 = none. */
    int64_t count_interval_ms, window_ms;
};

/* What a point measures, for the dashboard: a measurement (temperature,
 * level), a cumulative counter (visitors in), or the net occupancy of two
 * counters of the device (in minus out; reads no registers). */
enum point_kind { KIND_MEASUREMENT, KIND_COUNTER, KIND_OCCUPANCY };
extern const char *const point_kind_names[];

/* Which raw readings go to the broker: all, those that changed by more
 * than the deadband (and one per publish_max_interval), or none (the
 * point's indicators only). */
enum publish_mode { PUBLISH_EVERY, PUBLISH_CHANGE, PUBLISH_NONE };
extern const char *const publish_mode_names[];

#define CFG_MAX_INVALID_VALUES 8

struct point_config {
    char device_name[CFG_NAME_MAX + 1];
    char name[CFG_NAME_MAX + 1];
    int device_index;
    /* Where the source reads the value, filled by the [point] keys its
     * source declares (Modbus: function, address, type, word_order,
     * write_function) and read only by that source: the device's bus's,
     * set once the file is loaded. source_key_lines[i]: the line of the
     * source's key i, 0 when the file did not set it. */
    struct source_point where;
    const struct source_ops *source;
    int source_key_lines[SOURCE_KEYS_MAX];
    int kind; /* enum point_kind */
    double scale;
    double offset;
    char unit[CFG_UNIT_MAX];
    int line;
    bool broken;      /* its section had errors: the checks across sections skip it */
    const char *file; /* NULL: the INI file; else the profile the point came from */

    /* A point with a source reads no registers: its value is the source
     * point's (same device) times scale plus offset, e.g. a water level
     * from a pressure. */
    char derived_from[CFG_NAME_MAX + 1]; /* the INI key "source" */
    int derived_from_index;              /* into gateway_config.points, or -1 */
    /* The value is divided by 10^n, n read from this point of the same
     * device (a decimal-places register, read first). */
    char decimals_from[CFG_NAME_MAX + 1];
    int decimals_index;

    /* Quality: raw register values that mean "no measurement", and the
     * plausible range of the engineering value. */
    double invalid_values[CFG_MAX_INVALID_VALUES];
    int invalid_value_count;
    double valid_min, valid_max; /* -inf / +inf when not set */
    int64_t stale_after_ms;      /* 0: never stale */

    int publish; /* enum publish_mode */
    double deadband;
    int64_t publish_max_interval_ms;

    int64_t window_ms; /* measurement: aggregates per window; 0: none */

    /* Counter: counts per interval; the limits tell wrap, reset and a
     * doubtful fall apart (left out: the defaults for the counter's width,
     * filled in by config_validate). */
    int64_t count_interval_ms;
    int64_t counter_max_step;
    int64_t counter_reset_max;
    bool day_total; /* also a total per local day (default on) */
    /* A point of the same device that counts its power-ons: a change
     * tells a restart from a wrap without guessing. */
    char power_on_counter[CFG_NAME_MAX + 1];
    int power_on_index; /* into gateway_config.points, or -1 */

    /* Occupancy: the device's counter points for the way in and out, and
     * the local time of day it returns to zero. */
    char occupancy_in[CFG_NAME_MAX + 1], occupancy_out[CFG_NAME_MAX + 1];
    int occupancy_in_index, occupancy_out_index; /* into gateway_config.points */
    char occupancy_reset[8];                     /* "HH:MM" as written */
    int occupancy_reset_minute;                  /* minutes after local midnight */

    /* Commands (docs/mqtt-contract.md, "Commands"): only a point that says
     * so may be written, within these limits in engineering units (-inf /
     * +inf when not set), and is read back after the write unless
     * read_back is false. How the device takes the write is the source's
     * (Modbus: write_function). */
    bool writable;
    double write_min, write_max;
    bool read_back;
};

enum mqtt_protocol { MQTT_PROTOCOL_5, MQTT_PROTOCOL_311 };
/* device: one message per device poll on .../readings/<device>; point: one
 * message per point on .../readings/<device>/<point> (docs/mqtt-contract.md). */
enum mqtt_layout { MQTT_LAYOUT_DEVICE, MQTT_LAYOUT_POINT };

struct mqtt_config {
    char uris[CFG_MAX_URIS][CFG_TEXT_MAX];
    int uri_count;
    char client_id[CFG_TEXT_MAX];
    char username[CFG_TEXT_MAX];
    char password[CFG_TEXT_MAX];
    char password_file[CFG_TEXT_MAX]; /* as written; resolved by config_check_mqtt */
    char topic_prefix[CFG_TEXT_MAX];
    int qos;
    /* MQTT 5 by default: only it lets the broker say that it refused a
     * message (a PUBACK reason code). 3.1.1 for old brokers. */
    int protocol; /* enum mqtt_protocol */
    int layout;   /* enum mqtt_layout */
    int64_t keepalive_ms;
    int64_t connect_timeout_ms;
    int64_t reconnect_min_ms;
    int64_t reconnect_max_ms;
    int max_inflight;
    char tls_ca_file[CFG_TEXT_MAX];
    char tls_cert_file[CFG_TEXT_MAX];
    char tls_key_file[CFG_TEXT_MAX];
    bool tls_verify;
    /* Optional Home Assistant discovery (outputs/mqtt/ha_discovery.c). */
    bool ha_discovery;
    char ha_discovery_prefix[CFG_TEXT_MAX];
};

struct store_config {
    char path[CFG_TEXT_MAX];
    int64_t commit_interval_ms;
    int64_t max_readings;
    int64_t max_age_ms;
    int64_t max_size_bytes;
    int sync; /* 0 normal, 1 full */
};

/* [commands]: writes to points from MQTT. Off unless enabled; a command
 * older than max_age (or its MQTT 5 expiry) is refused, and one whose id
 * was seen within remember is answered with the earlier result. */
struct commands_config {
    bool enabled;
    int64_t max_age_ms;
    int64_t remember_ms;
};

struct gateway_config {
    char ini_path[CFG_TEXT_MAX];
    char id[CFG_NAME_MAX + 1];
    int log_level; /* enum log_level */
    int64_t health_interval_ms;
    /* Where health is also written, broker or not (a technician's view,
     * meant for a tmpfs such as /run); empty: nowhere. */
    char status_file[CFG_TEXT_MAX];
    char metrics_file[CFG_TEXT_MAX]; /* the health in Prometheus text, for node_exporter */
    /* IANA name (Europe/Berlin) for local days; empty: the system's. */
    char timezone[CFG_NAME_MAX + 1];
    int ingest_capacity;
    struct mqtt_config mqtt;
    struct store_config store;
    struct commands_config commands;
    struct bus_config *buses;
    size_t bus_count;
    struct device_config *devices;
    size_t device_count;
    struct point_config *points;
    size_t point_count;
};

/* Problems found while loading: each entry is one finished line of text. */
struct config_errors {
    char **lines;
    size_t count;
};

extern const char *const parity_names[];
extern const char *const sync_names[];
extern const char *const rts_names[];

/* The device as its bus's source polls it (the larger of the bus's and the
 * device's pause). */
struct source_device config_source_device(const struct device_config *dc,
                                          const struct bus_config *bus);
/* Whether the point reads from the device (not derived from another point,
 * not an occupancy): the points a source is handed, in file order. */
bool config_point_reads(const struct point_config *p, int device_index);
extern const char *const log_level_names[];
extern const char *const mqtt_protocol_names[];
extern const char *const mqtt_layout_names[];

/* Returns 0 when the file is valid; otherwise -1 with errors filled in. */
int config_load(const char *path, struct gateway_config *cfg, struct config_errors *errors);
/* The same; offline: the file only, nothing looked up on this machine (the
 * time zone's file, the password file, the TLS files), for checking a file
 * written for another box. */
int config_load_as(const char *path, bool offline, struct gateway_config *cfg,
                   struct config_errors *errors);

/* The built-in device profiles (sources/modbus/profiles/NAME.ini, compiled in). */
struct builtin_profile {
    const char *name;
    const char *path; /* sources/modbus/profiles/NAME.ini, for messages */
    const char *text;
};
extern const struct builtin_profile builtin_profiles[];
extern const size_t builtin_profile_count;
/* The values every key has before the file is read. */
void config_set_defaults(struct gateway_config *cfg);
void config_free(struct gateway_config *cfg);

/* What a valid file still risks, one line each in warnings (a list like
 * the errors): the INI holding a password readable by every user, a
 * password sent over plain tcp://, TLS without certificate checks. */
void config_risks(const struct gateway_config *cfg, struct config_errors *warnings);

void config_error_add(struct config_errors *errors, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void config_errors_free(struct config_errors *errors);

/* The sections tied together (references, the defaults that depend on
 * other keys), then the checks that need the whole file. Both called by
 * config_load(), in this order. */
void config_resolve(struct gateway_config *cfg, struct config_errors *errors);
void config_validate(struct gateway_config *cfg, bool offline, struct config_errors *errors);

/* Checks of one section's keys against each other (a counter's type, a
 * window that divides a day, a reconnect range) and against the machine (a
 * TLS file that cannot be read), with the defaults that depend on them;
 * called by the loader when a section ends, while it knows the lines. */
struct section_check {
    const char *path;
    struct config_errors *errors;
    int (*line_of)(void *ctx, const char *key); /* 0 when the key is not in the file */
    void *ctx;
    bool offline; /* the file only: no files of this machine read */
};
void config_check_point(const struct section_check *c, struct point_config *p);
/* Windows and intervals start on the wall clock's round numbers only if
 * they divide a day. */
bool config_divides_day(int64_t ms);
/* What the file needs of this machine: the store's and status file's
 * directories writable, serial devices present and usable. */
void config_check_host(const struct gateway_config *cfg, struct config_errors *e);

/* Also reads password_file into password and resolves a relative
 * tls_key_file (config/credentials.h). */
void config_check_mqtt(const struct section_check *c, struct mqtt_config *m);

/* Each point's source (its device's bus's), once devices and buses are
 * known; the keys it requires. Called by config_validate(). */
void config_resolve_sources(struct gateway_config *cfg, struct config_errors *e);
/* The sources' checks of each device's points: the errors, or (warnings)
 * the risks of a valid file. */
void config_check_source_points(const struct gateway_config *cfg, bool warnings,
                                struct config_errors *out);
/* What a point's raw value is, as its source says. */
struct source_value config_point_value(const struct point_config *p);

/* Index of the named device or bus, or -1. */
int config_find_device(const struct gateway_config *cfg, const char *name);
int config_find_bus(const struct gateway_config *cfg, const char *name);
/* Index of the point named point of the device named device, or -1. */
int config_find_point(const struct gateway_config *cfg, const char *device, const char *point);

#endif
