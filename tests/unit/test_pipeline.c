/* The pipeline through its output contract (outputs/output.h), with a fake
 * output in place of MQTT: a broker cannot be driven to each of these
 * states on cue, the table of operations can. The store is a real SQLite
 * file. What must hold: a poll is one record and one message with one
 * seq; what the output acknowledges in time is never stored; what waits
 * past the commit interval is stored and, after a (re)connect, published
 * again oldest first; a refusal sets the record aside; what is
 * unacknowledged at the stop stays in the store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/stats.h"
#include "gateway/ingest_queue.h"
#include "gateway/pipeline.h"
#include "outputs/output.h"
#include "store/store.h"

#define MAX_SEEN 64

/* What the fake output was handed, and what it answers: under its lock,
 * since the pipeline's thread calls it while the test looks. */
struct fake {
    pthread_mutex_t lock;
    size_t window; /* 0: not connected */
    bool resend;   /* a (re)connect not yet taken */
    int64_t seen[MAX_SEEN];
    uint16_t seen_n[MAX_SEEN];
    size_t seen_count;
    bool ack_all, refuse_all;
    int64_t acks[MAX_SEEN];
    size_t ack_count;
    struct reading_refusal refusals[MAX_SEEN];
    size_t refusal_count;
    struct ingest_queue *queue; /* woken on news, as an output's wake function */
};

static void fake_service(void *self, int64_t now)
{
    (void)self, (void)now;
}

static int64_t fake_next_service(void *self)
{
    (void)self;
    return INT64_MAX;
}

static size_t fake_window(void *self)
{
    struct fake *f = self;
    pthread_mutex_lock(&f->lock);
    size_t w = f->window;
    pthread_mutex_unlock(&f->lock);
    return w;
}

static size_t fake_in_flight(void *self)
{
    (void)self;
    return 0;
}

static enum output_result fake_publish(void *self, const struct record *rec, bool newest)
{
    (void)newest;
    struct fake *f = self;
    pthread_mutex_lock(&f->lock);
    if (f->seen_count < MAX_SEEN) {
        f->seen[f->seen_count] = rec->seq;
        f->seen_n[f->seen_count++] = rec->n;
    }
    if (f->ack_all)
        f->acks[f->ack_count++] = rec->seq;
    if (f->refuse_all)
        f->refusals[f->refusal_count++] = (struct reading_refusal){rec->seq, 0x97};
    pthread_mutex_unlock(&f->lock);
    ingest_queue_wake(f->queue);
    return OUTPUT_SENT;
}

static size_t fake_take_acks(void *self, int64_t *out, size_t max)
{
    struct fake *f = self;
    pthread_mutex_lock(&f->lock);
    size_t n = f->ack_count < max ? f->ack_count : max;
    memcpy(out, f->acks, n * sizeof(*out));
    f->ack_count = 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static size_t fake_take_refusals(void *self, struct reading_refusal *out, size_t max)
{
    struct fake *f = self;
    pthread_mutex_lock(&f->lock);
    size_t n = f->refusal_count < max ? f->refusal_count : max;
    memcpy(out, f->refusals, n * sizeof(*out));
    f->refusal_count = 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}

static bool fake_take_resend(void *self)
{
    struct fake *f = self;
    pthread_mutex_lock(&f->lock);
    bool r = f->resend;
    f->resend = false;
    pthread_mutex_unlock(&f->lock);
    return r;
}

static void fake_announce_health(void *self, const struct health_inputs *in)
{
    (void)self, (void)in;
}

static void fake_nothing(void *self)
{
    (void)self;
}

static void fake_forget(void *self, const char *device)
{
    (void)self, (void)device;
}

/* One message per poll of a device: here every point is device d's. */
static uint32_t fake_message_key(void *self, uint32_t point_id)
{
    (void)self, (void)point_id;
    return 0;
}

static void fake_stop(void *self, int64_t timeout_ms)
{
    (void)self, (void)timeout_ms;
}

static const struct output_ops fake_ops = {
    .service = fake_service,
    .next_service_ms = fake_next_service,
    .window = fake_window,
    .in_flight = fake_in_flight,
    .publish = fake_publish,
    .take_acks = fake_take_acks,
    .take_refusals = fake_take_refusals,
    .take_resend = fake_take_resend,
    .announce_health = fake_announce_health,
    .announce_devices = fake_nothing,
    .forget_device = fake_forget,
    .message_key = fake_message_key,
    .stop = fake_stop,
    .destroy = fake_nothing,
};

/* A running pipeline on a real store file, fed through its queue. */
struct rig {
    char dir[64];
    struct gateway_config cfg;
    struct gateway_stats stats;
    struct store *store;
    uint32_t ids[2];
    struct ingest_queue queue;
    struct fake fake;
    struct pipeline *pipeline;
};

static void rig_start(struct rig *r, size_t window, bool ack_all, bool refuse_all)
{
    strcpy(r->dir, "/tmp/test-pipeline-XXXXXX");
    assert_non_null(mkdtemp(r->dir));
    char ini[128], text[1024];
    snprintf(ini, sizeof(ini), "%s/gw.ini", r->dir);
    snprintf(text, sizeof(text),
             "[gateway]\nid = gw\n[mqtt]\nuri = tcp://127.0.0.1:1\n[store]\npath = %s/s.db\n"
             "commit_interval = 100ms\n[bus b]\ntype = tcp\nhost = 127.0.0.1\n"
             "[device d]\nbus = b\nunit_id = 1\ninterval = 1s\n"
             "[point d/p]\nfunction = holding_register\naddress = 0\ntype = uint16\n"
             "[point d/q]\nfunction = holding_register\naddress = 1\ntype = uint16\n",
             r->dir);
    FILE *f = fopen(ini, "w");
    fputs(text, f);
    fclose(f);
    struct config_errors errors = {0};
    assert_int_equal(config_load(ini, &r->cfg, &errors), 0);
    assert_int_equal(stats_init(&r->stats, 1, 1), 0);
    assert_int_equal(store_open(&r->cfg.store, &r->store), 0);
    assert_int_equal(store_register_points(r->store, r->cfg.points, 2, r->ids), 0);
    assert_int_equal(ingest_queue_init(&r->queue, 1024, &r->stats), 0);
    pthread_mutex_init(&r->fake.lock, NULL);
    r->fake.window = window;
    r->fake.resend = window > 0;
    r->fake.ack_all = ack_all;
    r->fake.refuse_all = refuse_all;
    r->fake.queue = &r->queue;
    struct output out = {&fake_ops, &r->fake};
    assert_int_equal(
        pipeline_create(&r->cfg, r->ids, r->store, out, &r->queue, &r->stats, &r->pipeline), 0);
    assert_int_equal(pipeline_start(r->pipeline), 0);
}

/* One poll of device d: both points, one timestamp. */
static void poll_once(struct rig *r, int64_t ts, double value)
{
    struct reading polled[2] = {{.ts_ms = ts, .value = value, .point_id = r->ids[0]},
                                {.ts_ms = ts, .value = value + 1, .point_id = r->ids[1]}};
    assert_int_equal(ingest_queue_push(&r->queue, polled, 2), 2);
    ingest_queue_wake(&r->queue);
}

static size_t seen(struct rig *r)
{
    pthread_mutex_lock(&r->fake.lock);
    size_t n = r->fake.seen_count;
    pthread_mutex_unlock(&r->fake.lock);
    return n;
}

static void wait_seen(struct rig *r, size_t n)
{
    for (int i = 0; i < 500 && seen(r) < n; i++)
        usleep(10000);
    assert_int_equal(seen(r), n);
}

/* Stops the pipeline (all it holds committed) and returns the store's
 * figures as the next start would find them. */
static struct store_stats rig_stop(struct rig *r)
{
    pipeline_stop(r->pipeline, 200);
    pipeline_destroy(r->pipeline);
    struct store_stats s = store_stats(r->store);
    store_close(r->store);
    ingest_queue_free(&r->queue);
    stats_free(&r->stats);
    config_free(&r->cfg);
    pthread_mutex_destroy(&r->fake.lock);
    char path[96];
    snprintf(path, sizeof(path), "rm -rf %s", r->dir);
    assert_int_equal(system(path), 0);
    return s;
}

static void test_acknowledged_in_time_never_stored(void **state)
{
    (void)state;
    struct rig r = {0};
    rig_start(&r, 100, true, false);
    int64_t now = clock_wall_ms();
    for (int i = 0; i < 3; i++)
        poll_once(&r, now + i, i * 10);
    wait_seen(&r, 3);
    assert_int_equal(stat_get(&r.stats.readings_stored), 0);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(r.fake.seen_n[i], 2); /* a poll: one record, one message */
        assert_int_equal(r.fake.seen[i], (int64_t)i + 1);
    }
    struct store_stats s = rig_stop(&r);
    assert_int_equal(s.records, 0);
    assert_int_equal(s.next_seq > 3, true);
}

static void test_stored_while_away_then_sent_oldest_first(void **state)
{
    (void)state;
    struct rig r = {0};
    rig_start(&r, 0, false, false);
    int64_t now = clock_wall_ms();
    poll_once(&r, now, 1);
    poll_once(&r, now + 1, 2);
    usleep(400000); /* past the 100 ms commit interval: written behind */
    assert_int_equal(seen(&r), 0);
    assert_int_equal(stat_get(&r.stats.readings_stored), 4);
    pthread_mutex_lock(&r.fake.lock);
    r.fake.window = 100;
    r.fake.resend = true;
    r.fake.ack_all = true;
    pthread_mutex_unlock(&r.fake.lock);
    poll_once(&r, now + 2, 3); /* wakes the pipeline, as a connect would */
    wait_seen(&r, 3);
    assert_true(r.fake.seen[0] < r.fake.seen[1] && r.fake.seen[1] < r.fake.seen[2]);
    struct store_stats s = rig_stop(&r);
    assert_int_equal(s.records, 0); /* acknowledged: deleted at the stop's commit */
}

static void test_refused_set_aside_unacknowledged_kept(void **state)
{
    (void)state;
    struct rig r = {0};
    rig_start(&r, 100, false, true);
    poll_once(&r, clock_wall_ms(), 5);
    wait_seen(&r, 1);
    struct store_stats s = rig_stop(&r);
    assert_int_equal(s.set_aside, 1);
    assert_int_equal(s.set_aside_readings, 2);

    struct rig k = {0};
    rig_start(&k, 100, false, false); /* published, never acknowledged */
    poll_once(&k, clock_wall_ms(), 7);
    wait_seen(&k, 1);
    s = rig_stop(&k);
    assert_int_equal(s.records, 1);
    assert_int_equal(s.depth, 2);
}

int main(void)
{
    log_set_level(LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acknowledged_in_time_never_stored),
        cmocka_unit_test(test_stored_while_away_then_sent_oldest_first),
        cmocka_unit_test(test_refused_set_aside_unacknowledged_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
