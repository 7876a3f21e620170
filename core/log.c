#include "core/log.h"
#include "core/clock.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static enum log_level threshold = LOG_INFO;
static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

void log_set_level(enum log_level level)
{
    threshold = level;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    static const int syslog_priority[] = {3, 4, 6, 7};
    static const char *const words[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    char line[1024];
    vsnprintf(line, sizeof(line), fmt, ap);
    if (getenv("JOURNAL_STREAM")) {
        fprintf(stderr, "<%d>%s\n", syslog_priority[level], line);
        return;
    }
    char stamp[40];
    clock_format_utc(clock_wall_ms(), stamp, sizeof(stamp));
    fprintf(stderr, "%s %s %s\n", stamp, words[level], line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (level > threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

void log_limited(struct log_limit *limit, enum log_level level, const char *fmt, ...)
{
    if (level > threshold)
        return;
    int64_t now = clock_mono_ms();
    uint64_t held_back = 0;
    bool pass = false;
    pthread_mutex_lock(&limit_lock);
    if (limit->last_ms == 0 || now - limit->last_ms >= limit->interval_ms) {
        pass = true;
        held_back = limit->suppressed;
        limit->suppressed = 0;
        limit->last_ms = now;
    } else {
        limit->suppressed++;
    }
    pthread_mutex_unlock(&limit_lock);
    if (!pass)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
    if (held_back)
        log_msg(level, "(%llu similar messages held back in the last %llds)",
                (unsigned long long)held_back, (long long)(limit->interval_ms / 1000));
}
