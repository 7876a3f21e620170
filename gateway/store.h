/* The store-and-forward buffer: every reading lives in SQLite from the
 * moment it is polled until the broker has acknowledged it.
 *
 * One thread (the pipeline) owns a store. Writes are batched: one
 * transaction appends the readings polled since the last commit and deletes
 * the ones the broker acknowledged, so an SD card sees one sync per batch,
 * not one per reading. */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "gateway/reading.h"

struct store;

struct store_point {
    char device[CFG_NAME_MAX + 1];
    char point[CFG_NAME_MAX + 1];
    char unit[CFG_UNIT_MAX];
};

/* Results of the calls below. STORE_FULL: the disk or the configured
 * max_size is full; nothing changed, and making room may help. */
enum { STORE_OK = 0, STORE_ERROR = -1, STORE_FULL = -2 };

struct store_stats {
    int64_t depth;         /* readings held, unsent or in flight */
    int64_t set_aside;     /* of those, refused by the broker and set aside */
    int64_t next_seq;      /* sequence number the next reading gets */
    int64_t dropped_total; /* readings dropped by the bounds, ever */
};

/* Only one process opens a store: a second one (a second daemon, or the
 * command line while the daemon runs) fails, naming the holder's pid.
 * A file that SQLite finds damaged (not a database, corrupt, cut short) is
 * renamed to PATH.damaged-TIMESTAMP and a fresh store is started, with
 * sequence numbers that continue above any the old file can have held. */
int store_open(const struct store_config *cfg, struct store **out);
void store_close(struct store *s);

/* Gives device/point a stable id that survives restarts and config edits:
 * readings of a point removed from the config are still forwarded. */
int store_register_point(struct store *s, const char *device, const char *point, const char *unit,
                         uint32_t *id);
const struct store_point *store_point(const struct store *s, uint32_t id);

/* The indicator state of one point, as text the store keeps but does not
 * read (gateway/indicators.c writes and parses it). */
struct store_state {
    uint32_t point_id;
    const char *text;
};

/* What one commit does: fresh readings and indicators get their sequence
 * numbers and are appended, acknowledged ones are deleted, refused ones
 * are set aside (kept, no longer claimed), and indicator states are saved,
 * all in one transaction, so that a counter's state and the counts derived
 * with it never disagree after a power loss. */
struct store_batch {
    struct reading *fresh;
    size_t n_fresh;
    const int64_t *acked;
    size_t n_acked;
    const struct reading_refusal *refused;
    size_t n_refused;
    const struct store_state *states;
    size_t n_states;
    int64_t now_mono_ms; /* when the fresh readings were taken in; 0: now */
};

/* Also drops the oldest readings if the bound on count would be exceeded
 * (*dropped says how many). On failure nothing changed and the same call
 * can be repeated. */
int store_commit_batch(struct store *s, const struct store_batch *b, int64_t *dropped);

typedef void (*store_state_fn)(void *ctx, uint32_t point_id, const char *text);
int store_each_state(struct store *s, store_state_fn fn, void *ctx);

/* The highest sequence number held per point and kind of record. */
typedef void (*store_newest_fn)(void *ctx, uint32_t point_id, int kind, int64_t seq);
int store_each_newest(struct store *s, store_newest_fn fn, void *ctx);

/* Drops the n oldest readings, sent or not, to make room when the store is
 * full; *dropped says how many went. */
int store_make_room(struct store *s, int64_t n, int64_t *dropped);

/* Drops readings older than the configured age, counted in time the
 * gateway ran (monotonic, continued across restarts), never by the wall
 * clock; *dropped says how many. now_mono_ms: clock_mono_ms(). */
int store_expire(struct store *s, int64_t now_mono_ms, int64_t *dropped);

/* Up to max readings with seq > after_seq that are not set aside, oldest
 * first. */
int store_claim(struct store *s, int64_t after_seq, struct reading *out, size_t max, size_t *n);

struct store_stats store_stats(const struct store *s);

/* The readings set aside, oldest first; reason as in reading_refusal. */
typedef void (*store_set_aside_fn)(void *ctx, int64_t seq, int64_t ts_ms,
                                   const struct store_point *point, int reason);
int store_each_set_aside(struct store *s, store_set_aside_fn fn, void *ctx);
/* Puts every reading set aside back into the queue; *n says how many. */
int store_resend_set_aside(struct store *s, int64_t *n);

/* Wall-clock time of the oldest reading still in the store, or -1. */
int64_t store_oldest_ts(struct store *s);

#endif
