/* The health message as Prometheus text exposition (version 0.0.4), for
 * node_exporter's textfile collector: the fleet's monitoring reads the
 * same figures the dashboard's health topic carries. */
#ifndef GW_METRICS_H
#define GW_METRICS_H

/* Renders the metrics from a health message (outputs/health.h); NULL when
 * it does not parse or memory runs out. Built from the message itself, so
 * the two can never disagree. The caller frees the text. */
char *metrics_from_health(const char *health_json);

#endif
