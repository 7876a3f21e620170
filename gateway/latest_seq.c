#include "gateway/latest_seq.h"

#include <stdlib.h>
#include <string.h>

static size_t index_of(const struct latest_seq *l, uint32_t point_id, int kind)
{
    uint32_t key = kind == READING_RAW && l->key_of && point_id < l->key_count ? l->key_of[point_id]
                                                                               : point_id;
    return (size_t)key * READING_KINDS + (size_t)kind;
}

static int64_t *slot(struct latest_seq *l, uint32_t point_id, int kind)
{
    if (kind < 0 || kind >= READING_KINDS)
        return NULL;
    size_t i = index_of(l, point_id, kind);
    if (i >= l->slots) {
        size_t slots = i * 2 + 16;
        int64_t *bigger = realloc(l->seq, slots * sizeof(*bigger));
        if (!bigger)
            return NULL;
        memset(bigger + l->slots, 0, (slots - l->slots) * sizeof(*bigger));
        l->seq = bigger;
        l->slots = slots;
    }
    return &l->seq[i];
}

static void note_one(void *ctx, uint32_t point_id, int kind, int64_t seq)
{
    int64_t *s = slot(ctx, point_id, kind);
    if (s && seq > *s)
        *s = seq;
}

int latest_seq_load(struct latest_seq *l, struct store *s, const uint32_t *key_of, size_t key_count)
{
    memset(l, 0, sizeof(*l));
    l->key_of = key_of;
    l->key_count = key_count;
    return store_each_newest(s, note_one, l);
}

void latest_seq_free(struct latest_seq *l)
{
    free(l->seq);
    memset(l, 0, sizeof(*l));
}

void latest_seq_note(struct latest_seq *l, const struct record *rec)
{
    note_one(l, rec->r[0].point_id, rec->r[0].kind, rec->seq);
}

bool latest_seq_is_newest(const struct latest_seq *l, const struct record *rec)
{
    size_t i = index_of(l, rec->r[0].point_id, rec->r[0].kind);
    /* Out of memory while noting: retaining is the safer guess. */
    return i >= l->slots || rec->seq >= l->seq[i];
}
