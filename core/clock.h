/* Time: wall clock for timestamps, monotonic clock for schedules, and a stop
 * signal that sleeping threads wake from at once. */
#ifndef GW_CLOCK_H
#define GW_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int64_t clock_wall_ms(void);
int64_t clock_mono_ms(void);
int64_t clock_mono_us(void); /* for timing a request */
/* Sleeps until the monotonic clock reads mono_us (at once if it has). */
void clock_sleep_until_us(int64_t mono_us);
/* "2026-11-25T10:15:00.123Z" */
void clock_format_utc(int64_t wall_ms, char *buf, size_t size);
/* "2026-03-29": the date in the process's time zone ([gateway] timezone). */
void clock_format_local_date(int64_t wall_ms, char *buf, size_t size);

/* Whether the kernel considers the wall clock synchronised (NTP, chrony,
 * systemd-timesyncd); a Pi without a real-time clock starts unsynchronised
 * and possibly in 1970. */
bool clock_is_synchronised(void);

/* Notices steps of the wall clock (NTP setting a Pi's clock after boot, an
 * operator's date command): the difference between wall and monotonic time
 * changes. Schedules never see it; the log should. */
struct clock_watch {
    int64_t offset_ms; /* wall - monotonic at the last look */
    bool known;
};

/* Returns the step since the last call (0 when under threshold_ms). */
int64_t clock_watch_step(struct clock_watch *w, int64_t threshold_ms);

struct stop_signal {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    bool stopped;
    bool woken; /* stopped, or poked since the last wait */
    /* A pause asked of the thread (a reload): it parks at its next safe
     * point until resumed or stopped, and says when it has. */
    bool park_wanted, parked;
};

void stop_signal_init(struct stop_signal *s);
void stop_signal_destroy(struct stop_signal *s);
void stop_signal_raise(struct stop_signal *s);
bool stop_signal_raised(struct stop_signal *s);
/* Ends the current or next wait early, without stopping (new work). */
void stop_signal_poke(struct stop_signal *s);
/* Sleeps until the monotonic deadline or a poke; returns true if stopped. */
bool stop_signal_wait_until(struct stop_signal *s, int64_t mono_deadline_ms);

/* Pausing a worker between two of its rounds. The asking thread calls
 * stop_signal_park, then stop_signal_parked to wait until the worker is
 * parked, changes what the worker uses, and stop_signal_unpark. The worker
 * calls stop_signal_park_point where it holds nothing half-done; it returns
 * once unparked (true if stopped meanwhile). */
void stop_signal_park(struct stop_signal *s);
bool stop_signal_parked(struct stop_signal *s, int64_t mono_deadline_ms);
void stop_signal_unpark(struct stop_signal *s);
bool stop_signal_park_wanted(struct stop_signal *s);
bool stop_signal_park_point(struct stop_signal *s);

/* A timespec on CLOCK_MONOTONIC for pthread_cond_timedwait. */
struct timespec clock_mono_deadline(int64_t mono_ms);
void cond_init_monotonic(pthread_cond_t *cond);
/* With lock held: waits on cond until *flag is true or the monotonic
 * deadline has passed. */
void cond_wait_flag_until(pthread_cond_t *cond, pthread_mutex_t *lock, const bool *flag,
                          int64_t mono_deadline_ms);

#endif
