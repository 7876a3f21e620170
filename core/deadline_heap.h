/* A binary min-heap of deadlines, each embedded in what it times (the
 * event loop's buses): the earliest in O(1), a change of any in O(log n).
 * A thousand buses each waking every second cost a few comparisons per
 * wake-up instead of a walk over all of them. */
#ifndef GW_DEADLINE_HEAP_H
#define GW_DEADLINE_HEAP_H

#include <stddef.h>
#include <stdint.h>

#define DEADLINE_NOWHERE ((size_t)-1)

struct deadline {
    int64_t at_us;
    size_t pos; /* in the heap, or DEADLINE_NOWHERE */
};

struct deadline_heap {
    struct deadline **items;
    size_t count, capacity;
};

/* A deadline not in any heap. */
void deadline_init(struct deadline *d);
/* Room for n deadlines in all: 0, or -1 when out of memory. */
int deadline_heap_reserve(struct deadline_heap *h, size_t n);
void deadline_heap_free(struct deadline_heap *h);
/* Puts d in the heap at at_us, or moves it there (room reserved). */
void deadline_heap_set(struct deadline_heap *h, struct deadline *d, int64_t at_us);
void deadline_heap_remove(struct deadline_heap *h, struct deadline *d);
/* The earliest, or NULL. */
struct deadline *deadline_heap_first(const struct deadline_heap *h);

#endif
