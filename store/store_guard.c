/* The store file against the world outside the daemon: the lock that keeps
 * a second gateway off it, and the rebuild when the file is removed or
 * replaced while the daemon runs (the open connection still has it). */
#include "core/clock.h"
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* flock on PATH.lock rather than on the database: SQLite's own POSIX locks
 * on the database would be released the moment any other descriptor of it
 * in this process is closed. The holder's pid is written into the file. */
int store_lock(struct store *s)
{
    char path[CFG_TEXT_MAX + 8];
    snprintf(path, sizeof(path), "%s.lock", s->cfg.path);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        log_msg(LOG_ERROR, "store %s: cannot create the lock file %s: %s", s->cfg.path, path,
                strerror(errno));
        return -1;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        char holder[32] = "";
        ssize_t n = pread(s->lock_fd, holder, sizeof(holder) - 1, 0);
        holder[n > 0 ? n : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        log_msg(LOG_ERROR,
                "store %s is in use by another sensor-gateway (pid %s, lock %s): two gateways on "
                "one store would send each other's readings; stop the other one first",
                s->cfg.path, holder[0] ? holder : "unknown", path);
        return -1;
    }
    char pid[32];
    int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (ftruncate(s->lock_fd, 0) != 0 || pwrite(s->lock_fd, pid, (size_t)len, 0) != len)
        log_msg(LOG_WARNING, "store %s: cannot write the pid into %s: %s", s->cfg.path, path,
                strerror(errno));
    return 0;
}

/* What is at the path now: 0 ours, 1 nothing, 2 another file. */
static int file_state(const struct store *s)
{
    struct stat st;
    if (stat(s->cfg.path, &st) != 0)
        return 1;
    return st.st_dev == s->file_dev && st.st_ino == s->file_ino ? 0 : 2;
}

/* The open connection still reads the old file (removed or not): copy it
 * with SQLite's backup API to a new file beside the path, then put that in
 * place. The old connection is closed before the rename so that its WAL,
 * still named after the path, is folded back and gone. */
static int rebuild_from_open_copy(struct store *s)
{
    char tmp[CFG_TEXT_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s.rebuild", s->cfg.path);
    unlink(tmp);
    sqlite3 *copy = NULL;
    int rc = sqlite3_open_v2(tmp, &copy, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    sqlite3_backup *b = rc == SQLITE_OK ? sqlite3_backup_init(copy, "main", s->db, "main") : NULL;
    if (b) {
        sqlite3_backup_step(b, -1);
        rc = sqlite3_backup_finish(b);
    } else {
        rc = SQLITE_ERROR;
    }
    if (rc != SQLITE_OK)
        snprintf(s->last_message, sizeof(s->last_message), "copying to %s: %s", tmp,
                 sqlite3_errmsg(copy));
    sqlite3_close(copy);
    if (rc != SQLITE_OK) {
        unlink(tmp);
        return -1;
    }
    store_close_database(s);
    if (rename(tmp, s->cfg.path) != 0) {
        snprintf(s->last_message, sizeof(s->last_message), "renaming %s: %s", tmp, strerror(errno));
        return -1;
    }
    return 0;
}

/* A rebuild that failed (the directory gone, the disk full) copies the
 * whole store: not tried again at every commit. */
#define REBUILD_RETRY_MS 30000

int store_keep_file(struct store *s)
{
    int state = file_state(s);
    if (state == 0)
        return 0;
    int64_t now = clock_mono_ms();
    if (now < s->next_rebuild_ms)
        return -1;
    char aside[CFG_TEXT_MAX + 48] = "";
    if (state == 2) {
        char stamp[32];
        clock_format_utc(clock_wall_ms(), stamp, sizeof(stamp));
        snprintf(aside, sizeof(aside), "%s.replaced-%s", s->cfg.path, stamp);
        if (rename(s->cfg.path, aside) != 0)
            aside[0] = '\0';
    }
    int64_t depth = s->depth, next_seq = s->next_seq, run_ms = store_run_ms(s, clock_mono_ms());
    int64_t reserved = s->reserved_seq, first = s->first_seq;
    if (rebuild_from_open_copy(s) != 0) {
        /* Without a copy nothing is lost yet: the open file still works. */
        s->next_rebuild_ms = now + REBUILD_RETRY_MS;
        log_limited(&s->error_log, LOG_ERROR,
                    "store %s was %s while running and cannot be rebuilt (%s); still using the "
                    "open copy, %lld readings held",
                    s->cfg.path, state == 1 ? "removed" : "replaced", s->last_message,
                    (long long)depth);
        return -1;
    }
    if (store_open_database(s) != 0) {
        log_msg(LOG_ERROR, "store %s: cannot be reopened after a rebuild: %s", s->cfg.path,
                s->last_message);
        return -1;
    }
    /* The copy holds the same marks; the run clock goes on where it was. */
    s->run_base_ms = run_ms;
    /* The copy's high-water mark is the reserved block's end: the numbers
     * go on where the open store was. */
    s->next_seq = next_seq;
    s->reserved_seq = reserved;
    s->first_seq = first;
    log_msg(LOG_ERROR,
            "store %s was %s while the gateway ran: rebuilt from the open copy (%lld readings "
            "kept, next sequence number %lld)%s%s",
            s->cfg.path, state == 1 ? "removed" : "replaced", (long long)depth,
            (long long)s->next_seq, aside[0] ? "; the file found in its place was moved to " : "",
            aside);
    return 0;
}
