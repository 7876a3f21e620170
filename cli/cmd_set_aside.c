/* `--list-set-aside`, `--resend-set-aside`: the operator's view of what
 * the broker refused, kept in the store. */
#include "cli/subcommands.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>

static void print_set_aside(void *ctx, int64_t seq, int64_t ts_ms, const struct store_point *pt,
                            int n, int reason)
{
    (void)ctx;
    char ts[32];
    clock_format_utc(ts_ms, ts, sizeof(ts));
    printf("%lld %s %s/%s reason 0x%02x\n", (long long)seq, ts, pt ? pt->device : "?",
           n > 1 ? "*"
           : pt  ? pt->point
                 : "?",
           reason);
}

/* The operator's view of what the broker refused: run with the daemon
 * stopped (the store's lock says so otherwise). */
int command_set_aside(const struct gateway_config *cfg, bool resend)
{
    log_set_level(LOG_WARNING);
    struct store *store = NULL;
    int rc = store_open(&cfg->store, &store);
    int64_t n = 0;
    if (rc == 0 && resend) {
        rc = store_resend_set_aside(store, &n);
        if (rc == 0)
            printf("%lld records set aside are queued again; they are sent at the next start\n",
                   (long long)n);
    } else if (rc == 0) {
        printf("# seq ts device/point (device/*: a whole poll) reason (MQTT 5 reason code; "
               "0x00: the broker dropped the connection on it)\n");
        rc = store_each_set_aside(store, print_set_aside, NULL);
        printf("# %lld records set aside\n", (long long)store_stats(store).set_aside);
    }
    store_close(store);
    return rc == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
