#include "commands/command_value.h"

#include <math.h>
#include <stdio.h>

static enum command_reason bool_to_raw(const struct command_value *v, double *raw, char *why,
                                       size_t why_size)
{
    if (!v->is_bool && v->number != 0 && v->number != 1) {
        snprintf(why, why_size, "a coil takes true or false (or 1 or 0), not %.15g", v->number);
        return REASON_WRONG_TYPE;
    }
    *raw = v->number;
    return REASON_NONE;
}

/* What the point's value is on the wire, as its source says: the width,
 * whole numbers or not, the range (integers above 2^53 are not exact in a
 * double and are refused rather than rounded). */
enum command_reason command_to_raw(const struct point_config *p, const struct command_value *v,
                                   double *raw, char *why, size_t why_size)
{
    struct source_value wire = config_point_value(p);
    if (wire.binary)
        return bool_to_raw(v, raw, why, why_size);
    if (v->is_bool) {
        snprintf(why, why_size, "%s is a %s: it takes a number, not true/false", p->name,
                 wire.type);
        return REASON_WRONG_TYPE;
    }
    double x = v->number;
    if (x < p->write_min || x > p->write_max) {
        snprintf(why, why_size, "%.15g%s%s is outside write_min %.15g .. write_max %.15g", x,
                 p->unit[0] ? " " : "", p->unit, p->write_min, p->write_max);
        return REASON_OUT_OF_RANGE;
    }
    double r = (x - p->offset) / p->scale;
    if (wire.integral) {
        double nearest = round(r);
        /* A step of the scale, give or take the error of decimal scales
         * (21.3 / 0.1 is 212.99999999999997). */
        if (fabs(r - nearest) > 1e-6 * fmax(1.0, fabs(nearest))) {
            snprintf(why, why_size, "%.15g%s%s is not a step of the point's scale %.15g", x,
                     p->unit[0] ? " " : "", p->unit, p->scale);
            return REASON_OUT_OF_RANGE;
        }
        r = nearest;
    }
    if (!isfinite(r) || r < wire.raw_min || r > wire.raw_max) {
        snprintf(why, why_size, "%.15g%s%s is %.15g on the wire, beyond what a %s holds", x,
                 p->unit[0] ? " " : "", p->unit, r, wire.type);
        return REASON_OUT_OF_RANGE;
    }
    *raw = r;
    return REASON_NONE;
}

bool command_raw_matches(const struct point_config *p, double written, double read)
{
    struct source_value wire = config_point_value(p);
    if (wire.binary)
        return (written != 0) == (read != 0);
    if (wire.single_float)
        return (float)written == (float)read;
    return written == read;
}
