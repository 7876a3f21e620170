/* The store-and-forward buffer: every record the broker has not
 * acknowledged, kept in SQLite.
 *
 * Write-behind: the pipeline keeps fresh records in memory and gives the
 * store only those the broker has not acknowledged by their commit
 * deadline (gateway/write_behind.h). A record acknowledged in time never
 * touches the disk. One thread (the pipeline) owns a store; one
 * transaction appends, deletes what was acknowledged and saves the
 * indicator state, so an SD card sees one sync per batch at most. */
#ifndef GW_STORE_H
#define GW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/reading.h"

struct store;

struct store_point {
    char device[CFG_NAME_MAX + 1];
    char point[CFG_NAME_MAX + 1];
    char unit[CFG_UNIT_MAX];
};

/* Results of the calls below. STORE_FULL: the disk or the configured
 * max_size is full; nothing changed, and making room may help. */
enum { STORE_OK = 0, STORE_ERROR = -1, STORE_FULL = -2 };

/* 8 hex digits and the terminator. */
#define STORE_IDENTITY_TEXT 9

struct store_stats {
    int64_t depth;                      /* readings held in the file, unsent or in flight */
    int64_t records;                    /* the records (messages) they make */
    int64_t set_aside;                  /* records (messages) refused by the broker and set aside */
    int64_t set_aside_readings;         /* the readings in them */
    int64_t next_seq;                   /* sequence number the next record gets */
    int64_t first_seq;                  /* the first sequence number this run could give */
    int64_t dropped_total;              /* readings dropped by the bounds, ever */
    char identity[STORE_IDENTITY_TEXT]; /* as store_identity() */
};

/* The store file's identity as it goes into every message: 8 lowercase hex
 * digits, random, made with the file. A consumer keys on (gateway, store,
 * seq): a store made anew (a wiped state directory, a fresh SD image)
 * starts at seq 1 again. */
const char *store_identity(const struct store *s);

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
/* All of a config's points in one transaction (one sync at start, not one
 * per point); ids[i] is points[i]'s. */
int store_register_points(struct store *s, const struct point_config *points, size_t n,
                          uint32_t *ids);
const struct store_point *store_point(const struct store *s, uint32_t id);
/* Every point id is below this. */
uint32_t store_point_limit(const struct store *s);

/* The indicator state of one point, as text the store keeps but does not
 * read (gateway/indicator_state.c writes and parses it). */
struct store_state {
    uint32_t point_id;
    const char *text;
};

/* Sequence numbers for n records, first *first. They are reserved in
 * blocks: the file records the end of the block before any number of it
 * is used, so no number is used twice after a crash, and writing happens
 * once per block, not per record. After a crash the numbers of the block
 * that were never used are skipped: store_stats().first_seq (published in
 * health) tells a subscriber where this run began. */
int store_take_seqs(struct store *s, size_t n, int64_t *first);

/* What one commit does: fresh records (their seq already taken) are
 * appended, acknowledged ones are deleted, refused ones are set aside
 * (kept, no longer claimed), and indicator states are saved, all in one
 * transaction, so that a counter's state and the counts derived with it
 * never disagree after a power loss. */
struct store_batch {
    const struct record *fresh;
    size_t n_fresh;
    const int64_t *acked;
    size_t n_acked;
    const struct reading_refusal *refused;
    size_t n_refused;
    const struct store_state *states;
    size_t n_states;
    int64_t now_mono_ms; /* when the fresh records were taken in; 0: now */
};

/* Also drops the oldest readings if the bound on count would be exceeded
 * (*dropped says how many). On failure nothing changed and the same call
 * can be repeated. */
int store_commit_batch(struct store *s, const struct store_batch *b, int64_t *dropped);

typedef void (*store_state_fn)(void *ctx, uint32_t point_id, const char *text);
int store_each_state(struct store *s, store_state_fn fn, void *ctx);

/* The highest sequence number held per point and kind of the first
 * reading of a record (what names its topic). */
typedef void (*store_newest_fn)(void *ctx, uint32_t point_id, int kind, int64_t seq);
int store_each_newest(struct store *s, store_newest_fn fn, void *ctx);

/* Drops the oldest records, sent or not, holding at least n readings, to
 * make room when the store is full; *dropped says how many readings went. */
int store_make_room(struct store *s, int64_t n, int64_t *dropped);

/* Drops readings older than the configured age, counted in time the
 * gateway ran (monotonic, continued across restarts), never by the wall
 * clock; *dropped says how many. now_mono_ms: clock_mono_ms(). */
int store_expire(struct store *s, int64_t now_mono_ms, int64_t *dropped);
/* Whether store_expire would drop anything now (a read, no transaction). */
bool store_expiry_due(struct store *s, int64_t now_mono_ms);

/* Up to max records with seq > after_seq that are not set aside, oldest
 * first; their readings go into buf (buf_max of them at most). A row that
 * does not decode comes back with n = 0 and r = NULL. */
int store_claim(struct store *s, int64_t after_seq, struct record *out, size_t max,
                struct reading *buf, size_t buf_max, size_t *n);

struct store_stats store_stats(const struct store *s);

/* The records set aside, oldest first: point names the first reading's,
 * n how many readings; reason as in reading_refusal. */
typedef void (*store_set_aside_fn)(void *ctx, int64_t seq, int64_t ts_ms,
                                   const struct store_point *point, int n, int reason);
int store_each_set_aside(struct store *s, store_set_aside_fn fn, void *ctx);
/* Puts every record set aside back into the queue; *n says how many. */
int store_resend_set_aside(struct store *s, int64_t *n);

/* When the file at the configured path is no longer the one this store
 * has open (removed or replaced while running), writes the open copy back
 * and reopens it; every commit checks too, but with the broker keeping up
 * there may be none for hours. Returns 0 when the file is (again) in place. */
int store_keep_file(struct store *s);

/* Wall-clock time of the oldest record still in the store, or -1. */
int64_t store_oldest_ts(struct store *s);

#endif
