/* Inside the indicator stage: what its three files share. The stage
 * itself is indicator_stage.c, its setup from the file indicator_setup.c,
 * the saved state's JSON indicator_state.c. Not for use outside them. */
#ifndef GW_INDICATOR_STAGE_INTERNAL_H
#define GW_INDICATOR_STAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gateway/indicator_stage.h"
#include "gateway/publish_filter.h"
#include "indicators/counter.h"
#include "indicators/occupancy.h"
#include "indicators/window.h"

/* Readings reach this stage within a commit interval of their poll; past
 * this the wall clock, not the next reading, closes a window. */
#define CLOSE_GRACE_MS 2000
#define STATE_VERSION 1

struct point_indicator {
    const struct point_config *pc;
    uint32_t id;
    struct counter_limits limits;
    struct count_state count;
    struct count_state day; /* the same counter per local day */
    /* The device's power-on count at the last reading (has_power_on). */
    bool has_power_on;
    uint64_t power_on;
    int64_t poll_ms;  /* the device's poll interval: polls expected */
    size_t emits_max; /* records one reading of this point can complete */
    struct window_state window;
    /* A counter that feeds an occupancy point: which one, +1 in, -1 out. */
    int occupancy, occupancy_sign;
    /* An occupancy point: its level, and the visitors of the poll being
     * collected (in and out arrive as two readings with one timestamp). */
    struct occupancy_state occ;
    bool pending;
    int64_t pending_ts;
    uint64_t pending_in, pending_out;
    uint16_t pending_flags;
    struct publish_filter publish; /* publish = change: what was sent last */
    bool dirty;
};

struct indicators {
    struct point_indicator *points;
    size_t point_count;
    int *by_id; /* store id -> index into points, or -1 */
    size_t id_slots;
    int64_t grace_ms;
    struct store_state *changed;
    char **texts; /* the changed states' text, owned */
    size_t n_changed;
};

static inline bool has_state(const struct point_indicator *p)
{
    return p->pc->kind != KIND_MEASUREMENT || p->pc->window_ms > 0;
}

static inline struct point_indicator *find(struct indicators *ind, uint32_t id)
{
    return id < ind->id_slots && ind->by_id[id] >= 0 ? &ind->points[ind->by_id[id]] : NULL;
}

/* A point's saved state as text (JSON, readable with the sqlite3 tool),
 * malloc'd or NULL; and back: false when unreadable. */
char *state_to_text(const struct point_indicator *p);
bool state_from_text(struct point_indicator *p, const char *text);
/* Frees the texts of the states last handed out as changed. */
void indicator_texts_free(struct indicators *ind);

#endif
