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
    int64_t next_seq;      /* sequence number the next reading gets */
    int64_t dropped_total; /* readings dropped by the bounds, ever */
};

/* A file that SQLite finds damaged (not a database, corrupt, cut short) is
 * renamed to PATH.damaged-TIMESTAMP and a fresh store is started, with
 * sequence numbers that continue above any the old file can have held. */
int store_open(const struct store_config *cfg, struct store **out);
void store_close(struct store *s);

/* Gives device/point a stable id that survives restarts and config edits:
 * readings of a point removed from the config are still forwarded. */
int store_register_point(struct store *s, const char *device, const char *point, const char *unit,
                         uint32_t *id);
const struct store_point *store_point(const struct store *s, uint32_t id);

/* One transaction: gives fresh readings their sequence numbers and appends
 * them, deletes acknowledged ones, and drops the oldest readings if the
 * bound on count would be exceeded (*dropped says how many). On failure
 * nothing changed and the same call can be repeated. */
int store_append_and_acknowledge(struct store *s, struct reading *fresh, size_t n_fresh,
                                 const int64_t *acked, size_t n_acked, int64_t *dropped);

/* Drops the n oldest readings, sent or not, to make room when the store is
 * full; *dropped says how many went. */
int store_make_room(struct store *s, int64_t n, int64_t *dropped);

/* Drops readings older than the configured age; *dropped says how many. */
int store_expire(struct store *s, int64_t now_wall_ms, int64_t *dropped);

/* Up to max readings with seq > after_seq, oldest first. */
int store_claim(struct store *s, int64_t after_seq, struct reading *out, size_t max, size_t *n);

struct store_stats store_stats(const struct store *s);

/* Wall-clock time of the oldest reading still in the store, or -1. */
int64_t store_oldest_ts(struct store *s);

#endif
