/* The event loop's deadline heap against a plain array, over random
 * inserts, moves and removals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "core/deadline_heap.h"

#define N 200

static int64_t earliest(const struct deadline *all, size_t n)
{
    int64_t best = INT64_MAX;
    for (size_t i = 0; i < n; i++)
        if (all[i].pos != DEADLINE_NOWHERE && all[i].at_us < best)
            best = all[i].at_us;
    return best;
}

static void test_heap_keeps_the_earliest_first(void **state)
{
    (void)state;
    struct deadline all[N];
    struct deadline_heap h = {0};
    assert_int_equal(deadline_heap_reserve(&h, N), 0);
    for (size_t i = 0; i < N; i++)
        deadline_init(&all[i]);
    assert_null(deadline_heap_first(&h));
    srand(7);
    size_t in = 0;
    for (int round = 0; round < 20000; round++) {
        struct deadline *d = &all[rand() % N];
        bool was_in = d->pos != DEADLINE_NOWHERE;
        if (rand() % 4 == 0) {
            deadline_heap_remove(&h, d);
            in -= was_in;
        } else {
            deadline_heap_set(&h, d, rand() % 1000);
            in += !was_in;
        }
        assert_int_equal(h.count, in);
        struct deadline *first = deadline_heap_first(&h);
        if (in == 0)
            assert_null(first);
        else
            assert_int_equal(first->at_us, earliest(all, N));
        for (size_t k = 0; k < h.count; k++)
            assert_int_equal(h.items[k]->pos, k);
    }
    deadline_heap_free(&h);
}

/* Popping everything gives the deadlines in order: what the loop does
 * when a thousand buses fall due together. */
static void test_heap_pops_in_order(void **state)
{
    (void)state;
    struct deadline all[N];
    struct deadline_heap h = {0};
    assert_int_equal(deadline_heap_reserve(&h, N), 0);
    for (size_t i = 0; i < N; i++) {
        deadline_init(&all[i]);
        deadline_heap_set(&h, &all[i], (int64_t)((i * 7919) % N));
    }
    int64_t last = -1;
    for (size_t i = 0; i < N; i++) {
        struct deadline *d = deadline_heap_first(&h);
        assert_true(d->at_us >= last);
        last = d->at_us;
        deadline_heap_remove(&h, d);
        assert_int_equal(d->pos, DEADLINE_NOWHERE);
    }
    assert_null(deadline_heap_first(&h));
    deadline_heap_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_keeps_the_earliest_first),
        cmocka_unit_test(test_heap_pops_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
