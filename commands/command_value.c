#include "commands/command_value.h"

#include <math.h>
#include <stdio.h>

static bool is_coil(const struct point_config *p)
{
    return p->where.table == FN_COIL || p->where.type == DT_BOOL;
}

/* What the type holds; integers above 2^53 are not exact in a double and
 * are refused rather than rounded. */
static void type_range(int type, double *lo, double *hi)
{
    static const double exact = 9007199254740992.0; /* 2^53 */
    switch (type) {
    case DT_INT16:
        *lo = -32768, *hi = 32767;
        break;
    case DT_UINT16:
        *lo = 0, *hi = 65535;
        break;
    case DT_INT32:
        *lo = -2147483648.0, *hi = 2147483647.0;
        break;
    case DT_UINT32:
        *lo = 0, *hi = 4294967295.0;
        break;
    case DT_INT64:
        *lo = -exact, *hi = exact;
        break;
    case DT_UINT64:
        *lo = 0, *hi = exact;
        break;
    case DT_FLOAT32:
        *lo = -3.4028234663852886e38, *hi = 3.4028234663852886e38;
        break;
    default:
        *lo = -INFINITY, *hi = INFINITY;
        break;
    }
}

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

enum command_reason command_to_raw(const struct point_config *p, const struct command_value *v,
                                   double *raw, char *why, size_t why_size)
{
    if (is_coil(p))
        return bool_to_raw(v, raw, why, why_size);
    if (v->is_bool) {
        snprintf(why, why_size, "%s is a %s: it takes a number, not true/false", p->name,
                 data_type_names[p->where.type]);
        return REASON_WRONG_TYPE;
    }
    double x = v->number;
    if (x < p->write_min || x > p->write_max) {
        snprintf(why, why_size, "%.15g%s%s is outside write_min %.15g .. write_max %.15g", x,
                 p->unit[0] ? " " : "", p->unit, p->write_min, p->write_max);
        return REASON_OUT_OF_RANGE;
    }
    double r = (x - p->offset) / p->scale;
    bool integral = p->where.type != DT_FLOAT32 && p->where.type != DT_FLOAT64;
    if (integral) {
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
    double lo, hi;
    type_range(p->where.type, &lo, &hi);
    if (!isfinite(r) || r < lo || r > hi) {
        snprintf(why, why_size, "%.15g%s%s is %.15g on the wire, beyond what a %s holds", x,
                 p->unit[0] ? " " : "", p->unit, r, data_type_names[p->where.type]);
        return REASON_OUT_OF_RANGE;
    }
    *raw = r;
    return REASON_NONE;
}

bool command_raw_matches(const struct point_config *p, double written, double read)
{
    if (is_coil(p))
        return (written != 0) == (read != 0);
    if (p->where.type == DT_FLOAT32)
        return (float)written == (float)read;
    return written == read;
}
