#include "gateway/stats.h"
#include "gateway/log.h"

struct gateway_stats gw_stats;

void stats_log_summary(const char *when)
{
    log_msg(LOG_INFO,
            "%s: polls ok=%llu failed=%llu; readings polled=%llu stored=%llu published=%llu "
            "acknowledged=%llu; dropped queue-full=%llu store-bound=%llu store-full=%llu "
            "unsaved=%llu; store "
            "errors=%llu; "
            "broker connects=%llu losses=%llu",
            when, (unsigned long long)stat_get(&gw_stats.polls_ok),
            (unsigned long long)stat_get(&gw_stats.polls_failed),
            (unsigned long long)stat_get(&gw_stats.readings_polled),
            (unsigned long long)stat_get(&gw_stats.readings_stored),
            (unsigned long long)stat_get(&gw_stats.readings_published),
            (unsigned long long)stat_get(&gw_stats.readings_acknowledged),
            (unsigned long long)stat_get(&gw_stats.dropped_queue_full),
            (unsigned long long)stat_get(&gw_stats.dropped_store_bound),
            (unsigned long long)stat_get(&gw_stats.dropped_store_full),
            (unsigned long long)stat_get(&gw_stats.dropped_unsaved),
            (unsigned long long)stat_get(&gw_stats.store_errors),
            (unsigned long long)stat_get(&gw_stats.broker_connects),
            (unsigned long long)stat_get(&gw_stats.broker_losses));
}
