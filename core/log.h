/* Logging to stderr. Under systemd (JOURNAL_STREAM set) each line starts
 * with the <N> syslog priority prefix that journald turns into the entry's
 * level; on a terminal it carries a UTC timestamp and a level word. */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A log line that a failing device or broker may repeat many times a second
 * is let through at most once per interval; the next line that passes says
 * how many were held back. */
struct log_limit {
    int64_t interval_ms;
    int64_t last_ms;
    uint64_t suppressed;
};

void log_limited(struct log_limit *limit, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
