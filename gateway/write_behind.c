#include "gateway/write_behind.h"

#include <stdlib.h>
#include <string.h>

void wb_init(struct write_behind *wb)
{
    memset(wb, 0, sizeof(*wb));
}

void wb_free(struct write_behind *wb)
{
    free(wb->recs);
    free(wb->readings);
    memset(wb, 0, sizeof(*wb));
}

/* Done records at the front go; the buffer starts over when empty, and
 * moves its live part to the front when that is less than half of it, so
 * that memory stays bounded by what is live, with no per-record malloc. */
static void drop_done_front(struct write_behind *wb)
{
    while (wb->head < wb->count && wb->recs[wb->head].state == WB_DONE)
        wb->head++;
    if (wb->head == wb->count) {
        wb->head = wb->count = wb->used = 0;
        return;
    }
    if (wb->head < 1024 || wb->head < (wb->count - wb->head))
        return;
    size_t base = wb->recs[wb->head].first;
    memmove(wb->readings, wb->readings + base, (wb->used - base) * sizeof(*wb->readings));
    wb->used -= base;
    memmove(wb->recs, wb->recs + wb->head, (wb->count - wb->head) * sizeof(*wb->recs));
    wb->count -= wb->head;
    wb->head = 0;
    for (size_t i = 0; i < wb->count; i++)
        wb->recs[i].first -= base;
}

static int grow(void **array, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t bigger = *cap ? *cap : 256;
    while (bigger < need)
        bigger *= 2;
    void *p = realloc(*array, bigger * elem);
    if (!p)
        return -1;
    *array = p;
    *cap = bigger;
    return 0;
}

int wb_append(struct write_behind *wb, int64_t seq, int64_t taken_ms, const struct reading *r,
              uint16_t n)
{
    if (grow((void **)&wb->recs, &wb->cap, wb->count + 1, sizeof(*wb->recs)) != 0 ||
        grow((void **)&wb->readings, &wb->reading_cap, wb->used + n, sizeof(*wb->readings)) != 0)
        return -1;
    struct reading *dst = wb->readings + wb->used;
    memcpy(dst, r, n * sizeof(*r));
    for (uint16_t i = 0; i < n; i++)
        dst[i].seq = seq;
    wb->recs[wb->count++] = (struct wb_record){
        .seq = seq, .taken_ms = taken_ms, .first = wb->used, .n = n, .state = WB_UNACKED};
    wb->used += n;
    wb->live_readings += n;
    return 0;
}

struct wb_record *wb_find(struct write_behind *wb, int64_t seq)
{
    if (wb->head == wb->count)
        return NULL;
    int64_t first = wb->recs[wb->head].seq;
    if (seq < first || seq - first >= (int64_t)(wb->count - wb->head))
        return NULL;
    struct wb_record *w = &wb->recs[wb->head + (size_t)(seq - first)];
    return w->state == WB_DONE ? NULL : w;
}

bool wb_ack(struct write_behind *wb, int64_t seq)
{
    struct wb_record *w = wb_find(wb, seq);
    if (!w || w->state == WB_REFUSED)
        return w != NULL;
    w->state = WB_DONE;
    wb->live_readings -= w->n;
    drop_done_front(wb);
    return true;
}

bool wb_refuse(struct write_behind *wb, int64_t seq)
{
    struct wb_record *w = wb_find(wb, seq);
    if (w)
        w->state = WB_REFUSED;
    return w != NULL;
}

int64_t wb_deadline(const struct write_behind *wb, int64_t interval_ms)
{
    return wb->head < wb->count ? wb->recs[wb->head].taken_ms + interval_ms : INT64_MAX;
}

size_t wb_pending(struct write_behind *wb, struct record *out, size_t max)
{
    size_t n = 0;
    for (size_t i = wb->head; i < wb->count && n < max; i++)
        if (wb->recs[i].state != WB_DONE)
            out[n++] = wb_record_view(wb, &wb->recs[i]);
    return n;
}

size_t wb_pending_count(const struct write_behind *wb)
{
    size_t n = 0;
    for (size_t i = wb->head; i < wb->count; i++)
        n += wb->recs[i].state != WB_DONE;
    return n;
}

void wb_all_committed(struct write_behind *wb)
{
    wb->head = wb->count = wb->used = wb->live_readings = 0;
}

struct wb_record *wb_next_unacked(struct write_behind *wb, int64_t after_seq)
{
    size_t i = wb->head;
    if (i < wb->count && after_seq >= wb->recs[i].seq)
        i += (size_t)(after_seq - wb->recs[i].seq) + 1;
    for (; i < wb->count; i++)
        if (wb->recs[i].state == WB_UNACKED)
            return &wb->recs[i];
    return NULL;
}

int64_t wb_oldest_ts(const struct write_behind *wb)
{
    return wb->head < wb->count ? wb->readings[wb->recs[wb->head].first].ts_ms : -1;
}
