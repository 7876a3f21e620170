/* A configuration against its lines' capacity (config_line_budget.c). */
#ifndef GW_CONFIG_LINE_BUDGET_H
#define GW_CONFIG_LINE_BUDGET_H

#include "config/config.h"

/* An error per device whose response_timeout no transaction can meet. */
void config_check_line_timeouts(const struct gateway_config *cfg, struct config_errors *e);
/* A warning per line whose devices' intervals need more than 80 % of it. */
void config_warn_line_load(const struct gateway_config *cfg, struct config_errors *warnings);

#endif
