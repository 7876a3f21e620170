#include "core/deadline_heap.h"

#include <stdlib.h>

void deadline_init(struct deadline *d)
{
    d->at_us = 0;
    d->pos = DEADLINE_NOWHERE;
}

int deadline_heap_reserve(struct deadline_heap *h, size_t n)
{
    if (n <= h->capacity)
        return 0;
    size_t cap = h->capacity ? h->capacity : 16;
    while (cap < n)
        cap *= 2;
    struct deadline **items = realloc(h->items, cap * sizeof(*items));
    if (!items)
        return -1;
    h->items = items;
    h->capacity = cap;
    return 0;
}

void deadline_heap_free(struct deadline_heap *h)
{
    free(h->items);
    *h = (struct deadline_heap){0};
}

static void place(struct deadline_heap *h, size_t i, struct deadline *d)
{
    h->items[i] = d;
    d->pos = i;
}

static void sift_up(struct deadline_heap *h, size_t i)
{
    struct deadline *d = h->items[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->items[parent]->at_us <= d->at_us)
            break;
        place(h, i, h->items[parent]);
        i = parent;
    }
    place(h, i, d);
}

static void sift_down(struct deadline_heap *h, size_t i)
{
    struct deadline *d = h->items[i];
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= h->count)
            break;
        if (child + 1 < h->count && h->items[child + 1]->at_us < h->items[child]->at_us)
            child++;
        if (d->at_us <= h->items[child]->at_us)
            break;
        place(h, i, h->items[child]);
        i = child;
    }
    place(h, i, d);
}

void deadline_heap_set(struct deadline_heap *h, struct deadline *d, int64_t at_us)
{
    if (d->pos == DEADLINE_NOWHERE) {
        d->at_us = at_us;
        place(h, h->count++, d);
        sift_up(h, d->pos);
        return;
    }
    int64_t was = d->at_us;
    d->at_us = at_us;
    if (at_us < was)
        sift_up(h, d->pos);
    else
        sift_down(h, d->pos);
}

void deadline_heap_remove(struct deadline_heap *h, struct deadline *d)
{
    size_t i = d->pos;
    if (i == DEADLINE_NOWHERE)
        return;
    d->pos = DEADLINE_NOWHERE;
    struct deadline *last = h->items[--h->count];
    if (last == d)
        return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->pos);
}

struct deadline *deadline_heap_first(const struct deadline_heap *h)
{
    return h->count ? h->items[0] : NULL;
}
