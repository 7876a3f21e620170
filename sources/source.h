/* What a source of readings is to the layers above it: a bus it opens, the
 * devices on it, one operation that polls a device into numbers, and what
 * only the source knows of a point (its keys, its checks, its value).
 *
 * The poller schedules, backs off, judges quality and derives; it never
 * asks what protocol a bus speaks. A source (sources/modbus/) turns one
 * poll of one device into raw samples and says how the poll went in one
 * of three outcomes. A new protocol is a folder under sources/ with a
 * struct source_ops, and rows in the table of bus kinds (bus_kind.c). */
#ifndef GW_SOURCE_H
#define GW_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/names.h"

enum bus_addressing {
    BUS_NETWORK, /* host and port */
    BUS_SERIAL,  /* a serial device and its line settings */
    BUS_LOCAL,   /* on the box itself: neither (the source knows where) */
};

struct source_ops;

/* One kind of bus a [bus] section can be (bus_kind.h holds the table). */
struct bus_kind {
    const char *name;      /* the INI's [bus] type */
    const char *transport; /* the device metadata's transport */
    enum bus_addressing addressing;
    /* Its devices take turns on one line, one transaction at a time: the
     * line is timed, budgeted and reported as a line. */
    bool shared_line;
    int variant;                     /* the source's own distinction (Modbus: its framing) */
    const struct source_ops *source; /* what polls its devices */
};

/* One [bus] of the INI file, as a source opens it. */
struct bus_config {
    char name[CFG_NAME_MAX + 1];
    int kind; /* index into bus_kinds[] */
    char host[CFG_TEXT_MAX];
    int port;
    char device[CFG_TEXT_MAX];
    int baud;
    int parity; /* index into parity_names: none, even, odd */
    int data_bits;
    int stop_bits;
    int64_t pause_between_requests_ms;
    /* A serial adapter's ways (sources/modbus/modbus_link.c): one that hands
     * back every character sent (2-wire, no echo suppression), the kernel's
     * RS-485 mode, RTS raised (1) or lowered (2) while sending. */
    bool echo, kernel_rs485;
    int rts;
    int line;
    bool broken; /* its section had errors: the checks across sections skip it */
};

/* How a poll went; the poller backs a device off on SOURCE_IO only. */
enum source_result {
    SOURCE_OK,
    SOURCE_REFUSED, /* the device answered a request with an error: it is alive */
    SOURCE_IO,      /* no answer, a broken frame or a broken connection */
};

/* A device as a source polls it. */
struct source_device {
    const char *name; /* for messages */
    int unit_id;      /* its address on the bus */
    int64_t response_timeout_ms;
    int64_t pause_between_requests_ms; /* the larger of the bus's and the device's */
    int64_t pause_after_connect_ms;    /* before the first request on a new connection */
    int64_t quiet_after_reply_ms;      /* the line's silence it needs after its reply */
    /* How a source may group points into one request: devices refuse long
     * reads or reads across unmapped gaps. */
    int max_per_request, max_gap;
    bool single_requests;
};

/* Where one point's value is, in the source's own terms (Modbus: the
 * table, address, data type, word order and write function; sysfs: a
 * file). The source declares the [point] keys that fill it (point_keys)
 * and alone reads it; the layers above keep it and hand it on. Zeroed:
 * every key at its default. */
#define SOURCE_POINT_BYTES 280
struct source_point {
    _Alignas(8) unsigned char bytes[SOURCE_POINT_BYTES];
};

/* One [point] key a source declares, as data: the config loader parses it
 * like its own keys, into the field at offset inside source_point.bytes. */
enum source_key_kind {
    SOURCE_KEY_INT,    /* an int field, min..max */
    SOURCE_KEY_CHOICE, /* an int field: the index of the value in choices */
    SOURCE_KEY_TEXT,   /* a char array of size bytes */
};
struct source_key {
    const char *key;
    enum source_key_kind kind;
    size_t offset, size;
    long long min, max;
    const char *const *choices;
    bool required; /* by a point that reads from the device */
};
#define SOURCE_KEYS_MAX 8
struct source_keys {
    const struct source_key *keys;
    size_t count; /* at most SOURCE_KEYS_MAX */
};

/* What the layers above may know of a point's raw value, whatever the
 * source: for counters (where a count wraps), commands (what a write can
 * hold) and the dashboard. */
struct source_value {
    const char *type; /* in the source's words, for messages: "uint16" */
    int bits;         /* an integer's width; 0 for a float or a two-state value */
    bool integral;    /* whole numbers only (an integer, a two-state value) */
    bool is_signed;
    bool binary;       /* two states: a coil, a flag */
    bool single_float; /* a 32-bit float: a value read back compares as one */
    bool writable;     /* the device takes writes there */
    double raw_min, raw_max; /* what a write can hold exactly */
};

/* One field of a point's place, for the device metadata ("address": 4). */
#define SOURCE_FIELDS_MAX 6
struct source_field {
    const char *name;
    const char *text; /* NULL: the number */
    long long number;
};

/* A problem a source finds with a device's points, for config to put on
 * the right line. */
struct source_problem {
    size_t point;    /* index into the points checked */
    const char *key; /* the key to name */
    size_t other;    /* another point it concerns (an overlap), or SIZE_MAX */
    bool warning;    /* a risk of a valid file, not an error */
    char why[240];
};

/* A point's place in a poll: a device's points are read in the order of
 * (group, position), so a point can scale one of its group read after it
 * (Modbus: the register table, the address). */
struct source_order {
    int group;
    long position;
};

/* For `sensor-gateway scan`: each address that answered, and how. */
struct source_scan {
    void (*answered)(void *ctx, int address, const char *how);
    void (*asking)(void *ctx, int address); /* progress, may be NULL */
    void *ctx;
};

/* One write of a raw value to a point, and what the device holds then. */
struct source_write {
    bool read_back;  /* read the point again after writing it */
    bool have_value; /* out: the point was read back, value_raw holds it */
    double value_raw;
    int64_t took_us; /* out: the write and the read-back on the line */
    char why[256];   /* out: the failure, when the result is not SOURCE_OK */
};

/* What one point gave: `point` indexes the points handed to add_device;
 * ok is false when the words were read but make no number (a NaN float). */
struct source_sample {
    uint32_t point;
    bool ok;
    double raw;
};

/* One poll's result: samples in the order they were read (a point read
 * first can scale one read after it), room for every point of the device. */
struct source_poll {
    struct source_sample *samples;
    size_t count;
    int64_t ts_ms; /* wall clock as the first request went out: the readings' time */
    uint32_t stray_bytes; /* heard on the line that answered nothing: late replies, noise */
    char why[256]; /* the last failure, when the result is not SOURCE_OK */
};

/* For the technician's probe: each request of a traced poll, named in the
 * source's words ("holding_register 0..5"), with what came back. */
struct source_trace {
    void (*request)(void *ctx, const char *what, const uint16_t *words, int count,
                    enum source_result result, const char *why, int64_t took_us);
    void *ctx;
};

/* What one poll of a device costs a line whose devices take turns, as
 * planned from its points: the line time of its transactions at the bus's
 * speed, silences included and a turnaround assumed; and the least time
 * its longest transaction can take with no turnaround at all (a response
 * timeout below that can never be met). */
struct poll_cost {
    int64_t line_us;
    int64_t shortest_transaction_us;
    int requests;
    char longest[64]; /* that transaction, in the source's words */
};

/* A poll or a write in steps that never block, for a bus that shares one
 * event loop's thread with many others (gateway/poll_loop.c). Each step
 * ends done, with the result, or waiting: for fd to become ready for
 * events (poll(2)'s POLLIN, POLLOUT) or for the monotonic time until_us,
 * whichever comes first. When done, fd and events say what to watch until
 * the next operation (a peer closing an idle connection); conn changes
 * whenever fd is a new descriptor (its number can come again). */
struct source_step {
    bool done;
    enum source_result result; /* when done */
    int fd;                    /* -1: time only */
    short events;
    unsigned conn;
    int64_t until_us; /* while waiting */
};

struct source_steps {
    void (*poll)(void *bus, void *device, struct source_poll *out, struct source_step *step);
    void (*write)(void *bus, void *device, size_t point, double raw, struct source_write *io,
                  struct source_step *step);
    /* The next step: revents is what fd became, 0 when until_us came; also
     * called between operations when the watched fd is ready. */
    void (*resume)(void *bus, short revents, struct source_step *step);
};

struct source_ops {
    /* A connection to the bus, not yet made (no I/O here); NULL when out of
     * memory or the line settings cannot be used. */
    void *(*open)(const struct bus_config *bus, const struct bus_kind *kind);
    void (*close)(void *bus);
    /* What polling the device takes, planned once; NULL when out of memory. */
    void *(*add_device)(const struct source_device *device, const struct source_point *points,
                        size_t count);
    void (*remove_device)(void *device);
    /* One poll, from the calling thread: connects if needed and reads what
     * it can. trace is NULL except under the probe. */
    enum source_result (*poll)(void *bus, void *device, struct source_poll *out,
                               const struct source_trace *trace);
    /* Writes raw to point (an index into the points given to add_device),
     * from the calling thread, between polls: the bus carries one
     * transaction at a time. SOURCE_OK once the device confirmed the write
     * (and, with read_back, answered the read after it). */
    enum source_result (*write)(void *bus, void *device, size_t point, double raw,
                                struct source_write *io);
    /* Polls and writes in steps on a bus of this kind, or NULL when the
     * source can only block (then the bus gets a thread of its own). */
    const struct source_steps *(*steps)(const struct bus_kind *kind);
    /* For checking a configuration, without I/O: 0 and *out, or -1 when the
     * bus is no shared line the source can time, or out of memory. */
    int (*poll_cost)(const struct bus_config *bus, const struct bus_kind *kind,
                     const struct source_device *device, const struct source_point *points,
                     size_t count, struct poll_cost *out);

    /* Whether a device's address (unit_id) can be used on a bus of this
     * kind: 0, or -1 and why. NULL: any. */
    int (*check_address)(const struct bus_kind *kind, int address, char *why, size_t size);
    /* The [point] keys that fill a point's source_point. */
    const struct source_keys *point_keys;
    /* What a point's raw value is (a parsed source_point). */
    struct source_value (*value_of)(const struct source_point *point);
    /* The point's place for the device metadata; how many fields. */
    size_t (*describe)(const struct source_point *point, struct source_field *out);
    /* Where it comes in a poll of its device. */
    struct source_order (*order_of)(const struct source_point *point);
    /* The place in a few words, for messages: "holding_register 4". */
    void (*name_of)(const struct source_point *point, char *buf, size_t size);
    /* Checks the points of one device that read from it, alone and
     * together (an overlap); writable[i]: point i is declared writable.
     * Writes at most max problems, returns how many it found. */
    size_t (*check_points)(const struct source_point *points, const bool *writable, size_t n,
                           struct source_problem *out, size_t max);
    /* Asks the addresses first..last of an opened bus which answer; how
     * many did, or -1 when the source has no addresses to ask. */
    int (*scan)(void *bus, int first, int last, const struct source_scan *report);
};

#endif
