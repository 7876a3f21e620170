#include "gateway/watchdog.h"
#include "core/log.h"

#include <systemd/sd-daemon.h>

void watchdog_init(struct watchdog *w)
{
    uint64_t usec = 0;
    *w = (struct watchdog){0};
    if (sd_watchdog_enabled(0, &usec) > 0)
        w->timeout_ms = (int64_t)(usec / 1000);
}

/* Four pings per timeout: one late wake-up costs nothing. */
int64_t watchdog_period_ms(const struct watchdog *w)
{
    return w->timeout_ms > 0 ? (w->timeout_ms / 4 > 0 ? w->timeout_ms / 4 : 1) : -1;
}

void watchdog_check(struct watchdog *w, int64_t busy_ms)
{
    if (w->timeout_ms <= 0)
        return;
    if (busy_ms < w->timeout_ms / 2) {
        if (w->stuck)
            log_msg(LOG_WARNING, "watchdog: the pipeline is moving again; pings resumed");
        w->stuck = false;
        sd_notify(0, "WATCHDOG=1");
        return;
    }
    if (!w->stuck)
        log_msg(LOG_ERROR,
                "watchdog: the pipeline has been stuck in one round for %.1fs (a hung disk or "
                "thread); no more pings, systemd restarts the service after WatchdogSec",
                (double)busy_ms / 1000.0);
    w->stuck = true;
}
