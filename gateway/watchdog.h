/* systemd's watchdog (WatchdogSec= in the unit): the daemon vouches for
 * itself only while its pipeline makes progress, so that a stuck disk or a
 * stuck thread ends in a restart instead of a process that looks alive and
 * forwards nothing. Without WatchdogSec it does nothing. */
#ifndef GW_WATCHDOG_H
#define GW_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

struct watchdog {
    int64_t timeout_ms; /* systemd's; 0: no watchdog */
    bool stuck;         /* pings withheld (logged once per episode) */
};

void watchdog_init(struct watchdog *w);
/* How often to call watchdog_check, in ms; -1: never. */
int64_t watchdog_period_ms(const struct watchdog *w);
/* Pings systemd unless the pipeline has been in one round for half the
 * timeout or longer (busy_ms from pipeline_busy_ms). */
void watchdog_check(struct watchdog *w, int64_t busy_ms);

#endif
