/* Grouping a device's points into as few Modbus requests as its limits
 * allow. Real devices refuse long reads or reads across unmapped gaps, so
 * the limits are per device and single_requests turns grouping off. */
#ifndef GW_READ_PLAN_H
#define GW_READ_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "sources/modbus/point_types.h"

#define READ_PLAN_MAX_REGISTERS 125 /* the protocol's limit for FC3/FC4 */
#define READ_PLAN_MAX_BITS 2000     /* the protocol's limit for FC1/FC2 */

struct plan_point {
    int function; /* enum point_function */
    int address;
    int width; /* registers, or 1 for a bit */
};

struct read_request {
    int function;
    int address;
    int count;
    size_t first;    /* into read_plan.order */
    size_t n_points; /* points covered, consecutive in read_plan.order */
};

struct read_plan {
    struct read_request *requests;
    size_t request_count;
    size_t *order; /* point indexes sorted by function, then address */
    size_t point_count;
};

struct read_limits {
    int max_registers; /* per request, at most READ_PLAN_MAX_REGISTERS */
    int max_gap;       /* unused registers a request may span between points */
    bool single_requests;
};

/* Returns 0, or -1 when out of memory. */
int read_plan_build(const struct plan_point *points, size_t count, const struct read_limits *limits,
                    struct read_plan *plan);
void read_plan_free(struct read_plan *plan);

#endif
