#include "gateway/publish_filter.h"

#include <math.h>

bool publish_filter_pass(struct publish_filter *f, const struct point_config *pc,
                         const struct reading *r)
{
    if (pc->publish == PUBLISH_NONE)
        return false;
    if (pc->publish == PUBLISH_CHANGE && f->published && r->quality == f->quality &&
        fabs(r->value - f->value) <= pc->deadband &&
        r->ts_ms - f->ts_ms < pc->publish_max_interval_ms)
        return false;
    *f = (struct publish_filter){
        .published = true, .value = r->value, .quality = r->quality, .ts_ms = r->ts_ms};
    return true;
}
