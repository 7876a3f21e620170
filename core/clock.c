#include "core/clock.h"

#include <stdatomic.h>
#include <stdio.h>
#include <sys/timex.h>
#include <errno.h>
#include <time.h>

static int64_t read_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t clock_wall_ms(void)
{
    return read_ms(CLOCK_REALTIME);
}

int64_t clock_mono_ms(void)
{
    return read_ms(CLOCK_MONOTONIC);
}

int64_t clock_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void clock_sleep_until_us(int64_t mono_us)
{
    struct timespec ts = {.tv_sec = mono_us / 1000000, .tv_nsec = (mono_us % 1000000) * 1000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* 2020-01-01T00:00:00Z: a clock before this was never set, whatever the
 * kernel's flag says. */
#define PLAUSIBLE_WALL_MS 1577836800000LL

/* Every poll asks; the kernel's answer changes when NTP gains or loses
 * the clock, so asking it once a second spares a system call per poll. */
#define SYNC_RECHECK_MS 1000
static _Atomic int64_t sync_checked_ms = INT64_MIN;
static _Atomic bool sync_known;

bool clock_is_synchronised(void)
{
    int64_t now = clock_mono_ms();
    int64_t at = atomic_load_explicit(&sync_checked_ms, memory_order_acquire);
    if (at != INT64_MIN && now - at < SYNC_RECHECK_MS)
        return atomic_load_explicit(&sync_known, memory_order_relaxed);
    struct timex tx = {.modes = 0}; /* read only */
    bool synced = adjtimex(&tx) != TIME_ERROR && clock_wall_ms() >= PLAUSIBLE_WALL_MS;
    atomic_store_explicit(&sync_known, synced, memory_order_relaxed);
    atomic_store_explicit(&sync_checked_ms, now, memory_order_release);
    return synced;
}

int64_t clock_watch_step(struct clock_watch *w, int64_t threshold_ms)
{
    int64_t offset = clock_wall_ms() - clock_mono_ms();
    int64_t step = w->known ? offset - w->offset_ms : 0;
    w->offset_ms = offset;
    w->known = true;
    return step > threshold_ms || step < -threshold_ms ? step : 0;
}

void clock_format_utc(int64_t wall_ms, char *buf, size_t size)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
}

void clock_format_local_date(int64_t wall_ms, char *buf, size_t size)
{
    time_t secs = (time_t)(wall_ms / 1000);
    struct tm tm;
    localtime_r(&secs, &tm);
    snprintf(buf, size, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

struct timespec clock_mono_deadline(int64_t mono_ms)
{
    struct timespec ts = {.tv_sec = mono_ms / 1000, .tv_nsec = (mono_ms % 1000) * 1000000};
    return ts;
}

void cond_init_monotonic(pthread_cond_t *cond)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

void stop_signal_init(struct stop_signal *s)
{
    pthread_mutex_init(&s->lock, NULL);
    cond_init_monotonic(&s->cond);
    s->stopped = s->woken = false;
    s->park_wanted = s->parked = false;
}

void stop_signal_destroy(struct stop_signal *s)
{
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
}

void stop_signal_raise(struct stop_signal *s)
{
    pthread_mutex_lock(&s->lock);
    s->stopped = s->woken = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

void stop_signal_poke(struct stop_signal *s)
{
    pthread_mutex_lock(&s->lock);
    s->woken = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

bool stop_signal_raised(struct stop_signal *s)
{
    pthread_mutex_lock(&s->lock);
    bool stopped = s->stopped;
    pthread_mutex_unlock(&s->lock);
    return stopped;
}

void cond_wait_flag_until(pthread_cond_t *cond, pthread_mutex_t *lock, const bool *flag,
                          int64_t mono_deadline_ms)
{
    struct timespec deadline = clock_mono_deadline(mono_deadline_ms);
    while (!*flag && clock_mono_ms() < mono_deadline_ms)
        pthread_cond_timedwait(cond, lock, &deadline);
}

bool stop_signal_wait_until(struct stop_signal *s, int64_t mono_deadline_ms)
{
    pthread_mutex_lock(&s->lock);
    cond_wait_flag_until(&s->cond, &s->lock, &s->woken, mono_deadline_ms);
    bool stopped = s->stopped;
    s->woken = stopped;
    pthread_mutex_unlock(&s->lock);
    return stopped;
}

void stop_signal_park(struct stop_signal *s)
{
    pthread_mutex_lock(&s->lock);
    s->park_wanted = s->woken = true;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

bool stop_signal_parked(struct stop_signal *s, int64_t mono_deadline_ms)
{
    pthread_mutex_lock(&s->lock);
    struct timespec deadline = clock_mono_deadline(mono_deadline_ms);
    while (!s->parked && !s->stopped && clock_mono_ms() < mono_deadline_ms)
        pthread_cond_timedwait(&s->cond, &s->lock, &deadline);
    bool parked = s->parked || s->stopped;
    pthread_mutex_unlock(&s->lock);
    return parked;
}

void stop_signal_unpark(struct stop_signal *s)
{
    pthread_mutex_lock(&s->lock);
    s->park_wanted = false;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

bool stop_signal_park_wanted(struct stop_signal *s)
{
    pthread_mutex_lock(&s->lock);
    bool wanted = s->park_wanted;
    pthread_mutex_unlock(&s->lock);
    return wanted;
}

bool stop_signal_park_point(struct stop_signal *s)
{
    pthread_mutex_lock(&s->lock);
    if (s->park_wanted && !s->stopped) {
        s->parked = true;
        pthread_cond_broadcast(&s->cond);
        while (s->park_wanted && !s->stopped)
            pthread_cond_wait(&s->cond, &s->lock);
        s->parked = false;
    }
    bool stopped = s->stopped;
    pthread_mutex_unlock(&s->lock);
    return stopped;
}
