/* For unit tests that commit readings as the point layout does: each
 * reading a record of its own, under sequence numbers the store gives.
 * Include after cmocka.h. */
#ifndef GW_TEST_RECORDS_OF_ONE_H
#define GW_TEST_RECORDS_OF_ONE_H

#include "store/store.h"

#define RECORDS_OF_ONE_MAX 4096

/* Records for r[0..n) (their seq set too), in a buffer valid until the
 * next call. */
static inline struct record *records_of_one(struct store *s, struct reading *r, size_t n)
{
    static struct record recs[RECORDS_OF_ONE_MAX];
    int64_t first = 0;
    assert_true(n <= RECORDS_OF_ONE_MAX);
    if (n)
        assert_int_equal(store_take_seqs(s, n, &first), STORE_OK);
    for (size_t i = 0; i < n; i++) {
        r[i].seq = first + (int64_t)i;
        recs[i] = (struct record){.seq = r[i].seq, .r = &r[i], .n = 1};
    }
    return recs;
}

#endif
