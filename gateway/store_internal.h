/* Inside the store: what store_file.c (creating, checking, upgrading and
 * opening the SQLite file) and store.c (appending, claiming, deleting)
 * share. Not for use outside these two files. */
#ifndef GW_STORE_INTERNAL_H
#define GW_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>

#include "gateway/log.h"
#include "gateway/store.h"

enum statement {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_INSERT,
    ST_DELETE_ACKED,
    ST_DROP_OLDEST,
    ST_EXPIRE,
    ST_CLAIM,
    ST_SET_META,
    ST_OLDEST,
    ST_SET_STATE,
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
    int64_t depth;
    int64_t next_seq;
    int64_t dropped_total;
    int last_error; /* SQLite result code of the last failure */
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
/* Keeps device/point/unit under id, for store_point(). */
int store_remember_point(struct store *s, uint32_t id, const char *device, const char *point,
                         const char *unit);

#endif
