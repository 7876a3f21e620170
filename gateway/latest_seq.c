#include "gateway/latest_seq.h"

#include <stdlib.h>
#include <string.h>

static int64_t *slot(struct latest_seq *l, uint32_t point_id, int kind)
{
    if (kind < 0 || kind >= READING_KINDS)
        return NULL;
    size_t i = (size_t)point_id * READING_KINDS + (size_t)kind;
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

int latest_seq_load(struct latest_seq *l, struct store *s)
{
    memset(l, 0, sizeof(*l));
    return store_each_newest(s, note_one, l);
}

void latest_seq_free(struct latest_seq *l)
{
    free(l->seq);
    memset(l, 0, sizeof(*l));
}

void latest_seq_note(struct latest_seq *l, const struct reading *r, size_t n)
{
    for (size_t i = 0; i < n; i++)
        note_one(l, r[i].point_id, r[i].kind, r[i].seq);
}

bool latest_seq_is_newest(const struct latest_seq *l, const struct reading *r)
{
    size_t i = (size_t)r->point_id * READING_KINDS + r->kind;
    /* Out of memory while noting: retaining is the safer guess. */
    return i >= l->slots || r->seq >= l->seq[i];
}
