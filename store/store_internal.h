/* Inside the store: what store_file.c (creating, checking, upgrading and
 * opening the SQLite file) and store.c (appending, claiming, deleting)
 * share. Not for use outside these two files. */
#ifndef GW_STORE_INTERNAL_H
#define GW_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <sys/types.h>

#include "core/log.h"
#include "store/store.h"

enum statement {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_INSERT,
    ST_DELETE_ACKED,
    ST_DROP_OLDEST,
    ST_EXPIRE,
    ST_EXPIRY_DUE,
    ST_CLAIM,
    ST_SET_META,
    ST_OLDEST,
    ST_SET_STATE,
    ST_MARK_AGE,
    ST_TRIM_MARKS,
    ST_SET_ASIDE,
    ST_TRIM_SET_ASIDE,
    ST_COUNT_SET_ASIDE,
    ST_RESERVE,
    ST_COUNT
};

/* The SQL of each prepared statement, indexed by enum statement. */
extern const char *const store_statement_sql[ST_COUNT];

struct store {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    struct store_config cfg;
    struct store_point *points; /* indexed by id */
    size_t point_slots;
    int64_t depth; /* readings */
    int64_t records;
    int64_t next_seq;
    int64_t reserved_seq; /* the file says no seq below this was used */
    int64_t first_seq;
    /* random, made with the file: tells a new store's seq from an old one's */
    char identity[STORE_IDENTITY_TEXT];
    uint8_t *blob; /* a record's bytes on their way into SQLite */
    size_t blob_cap;
    int64_t dropped_total;
    int64_t set_aside;          /* records the broker refused, kept until resent or bounded out */
    int64_t set_aside_readings; /* the readings in them */
    /* Age for max_age is counted on the gateway's own run clock: monotonic
     * time while it runs, continued across restarts from the newest age
     * mark, never the wall clock (which a Pi without RTC steps by weeks). */
    int64_t run_base_ms, mono_open_ms;
    /* Run time of the newest age mark. Marks are written sparsely (see
     * mark_age in store.c), so a commit adds no page for them. */
    int64_t last_mark_run_ms;
    /* The file this store opened, to notice one removed or replaced while
     * the daemon runs; and the lock that keeps a second daemon out. */
    dev_t file_dev;
    ino_t file_ino;
    int lock_fd;
    int64_t next_rebuild_ms; /* monotonic: no rebuild attempt before */
    int last_error;          /* SQLite result code of the last failure */
    char last_message[300];
    bool opening; /* store_open reports failures itself, once */
    /* A full disk fails every commit until space returns: one line per
     * interval says so, not four lines a second. */
    struct log_limit error_log;
};

/* Records the failure of `what` (SQLite's code and message) and logs it,
 * rate-limited, unless the store is being opened; returns STORE_FULL or
 * STORE_ERROR. */
int store_fail(struct store *s, const char *what);
/* The run clock (see above) at monotonic time now_mono_ms. */
int64_t store_run_ms(const struct store *s, int64_t now_mono_ms);
/* Takes the store's lock file, or says who holds it; opens and checks the
 * SQLite file (store_file.c). */
int store_lock(struct store *s);
int store_open_database(struct store *s);
void store_close_database(struct store *s);
/* The records set aside and the readings in them, as the file has them. */
int store_count_set_aside(struct store *s, int64_t *records, int64_t *readings);
/* Keeps device/point/unit under id, for store_point(). */
int store_remember_point(struct store *s, uint32_t id, const char *device, const char *point,
                         const char *unit);

#endif
