#include "sources/modbus/read_plan.h"

#include <stdlib.h>

/* What the sort looks at, carried with each point's index: qsort has no
 * context argument, and a static one would be a global. */
struct sort_key {
    int function, address;
    size_t index;
};

static int by_function_then_address(const void *a, const void *b)
{
    const struct sort_key *x = a, *y = b;
    if (x->function != y->function)
        return x->function - y->function;
    if (x->address != y->address)
        return x->address - y->address;
    return x->index < y->index ? -1 : x->index > y->index;
}

int read_plan_build(const struct plan_point *points, size_t count, const struct read_limits *limits,
                    struct read_plan *plan)
{
    plan->order = malloc((count + 1) * sizeof(*plan->order));
    plan->requests = malloc((count + 1) * sizeof(*plan->requests));
    plan->request_count = 0;
    plan->point_count = count;
    if (!plan->order || !plan->requests) {
        read_plan_free(plan);
        return -1;
    }
    struct sort_key *keys = malloc((count + 1) * sizeof(*keys));
    if (!keys) {
        read_plan_free(plan);
        return -1;
    }
    for (size_t i = 0; i < count; i++)
        keys[i] = (struct sort_key){points[i].function, points[i].address, i};
    qsort(keys, count, sizeof(*keys), by_function_then_address);
    for (size_t i = 0; i < count; i++)
        plan->order[i] = keys[i].index;
    free(keys);

    struct read_request *cur = NULL;
    for (size_t i = 0; i < count; i++) {
        const struct plan_point *p = &points[plan->order[i]];
        int limit = function_reads_bits(p->function) ? READ_PLAN_MAX_BITS : limits->max_registers;
        if (limit > READ_PLAN_MAX_REGISTERS && !function_reads_bits(p->function))
            limit = READ_PLAN_MAX_REGISTERS;
        if (cur && !limits->single_requests && cur->function == p->function) {
            int end = cur->address + cur->count;
            int new_end = p->address + p->width > end ? p->address + p->width : end;
            if (p->address - end <= limits->max_gap && new_end - cur->address <= limit) {
                cur->count = new_end - cur->address;
                cur->n_points++;
                continue;
            }
        }
        cur = &plan->requests[plan->request_count++];
        *cur = (struct read_request){.function = p->function,
                                     .address = p->address,
                                     .count = p->width,
                                     .first = i,
                                     .n_points = 1};
    }
    return 0;
}

void read_plan_free(struct read_plan *plan)
{
    free(plan->order);
    free(plan->requests);
    plan->order = NULL;
    plan->requests = NULL;
    plan->request_count = plan->point_count = 0;
}
