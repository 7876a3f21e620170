#include "gateway/poll_loop.h"
#include "commands/command.h"
#include "core/clock.h"
#include "core/log.h"
#include "gateway/poller_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EVENTS_PER_WAIT 64
/* Readings handed to the pipeline at once, at most. */
#define BATCH_READINGS 4096
/* How long readings may wait for the polls still out before they go to
 * the pipeline: devices due together answer within a millisecond or two,
 * and one hand-off then carries all their polls. A poll that ends with
 * none other out goes at once, so a quiet gateway adds no latency. */
#define BATCH_HOLD_US 2000

struct poll_loop {
    pthread_mutex_t lock;
    pthread_cond_t changed; /* parked, a poller let go */
    int epfd, wakefd;
    pthread_t thread;
    bool running;
    /* Asked of the thread, under lock. */
    bool stopping, park_wanted, parked;
    struct poller *arriving, *leaving, *commanded;
    /* The thread's own (and a detaching caller's while parked). */
    struct deadline_heap heap;
    struct poller **pollers; /* attached */
    size_t attached, busy;   /* busy: with an operation under way */
    bool parking;            /* park_wanted, as of this round */
    struct ingest_queue *queue;
    struct reading batch[BATCH_READINGS];
    size_t batched;
    int64_t batch_since_us; /* when its first reading came */
};

static struct poller *slot_owner(struct deadline *due)
{
    return (struct poller *)((char *)due - offsetof(struct poller, slot.due));
}

int poll_loop_create(struct ingest_queue *queue, struct poll_loop **out)
{
    struct poll_loop *l = calloc(1, sizeof(*l));
    if (!l)
        return -1;
    l->queue = queue;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (l->epfd < 0 || l->wakefd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->wakefd, &ev) != 0) {
        log_msg(LOG_ERROR, "event loop: cannot set up epoll: %s", strerror(errno));
        if (l->epfd >= 0)
            close(l->epfd);
        if (l->wakefd >= 0)
            close(l->wakefd);
        free(l);
        return -1;
    }
    pthread_mutex_init(&l->lock, NULL);
    cond_init_monotonic(&l->changed);
    *out = l;
    return 0;
}

static void poke(struct poll_loop *l)
{
    uint64_t one = 1;
    if (write(l->wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_msg(LOG_ERROR, "event loop: cannot wake: %s", strerror(errno));
}

/* The pipeline gets what the round's polls read in one hand-off (it is
 * woken only when it was waiting, ingest_queue.h). */
static void flush(struct poll_loop *l)
{
    if (l->batched > 0)
        ingest_queue_push(l->queue, l->batch, l->batched);
    l->batched = 0;
}

static void batch_add(struct poll_loop *l, const struct reading *r, size_t n)
{
    if (l->batched + n > BATCH_READINGS)
        flush(l);
    if (l->batched == 0)
        l->batch_since_us = clock_mono_us();
    if (n > BATCH_READINGS) {
        ingest_queue_push(l->queue, r, n);
        return;
    }
    memcpy(l->batch + l->batched, r, n * sizeof(*r));
    l->batched += n;
}

/* Tells epoll what the step waits for; a closed descriptor left epoll by
 * itself, a new one (conn changed, the number maybe the same) joins. */
static void watch(struct poll_loop *l, struct poller *p)
{
    struct loop_slot *s = &p->slot;
    const struct source_step *st = &s->step;
    if (st->fd < 0) {
        s->watched_fd = -1;
        return;
    }
    struct epoll_event ev = {.events = (uint32_t)st->events, .data.ptr = p};
    bool known = s->watched_fd == st->fd && s->watched_conn == st->conn;
    if (known && s->watched_events == st->events)
        return;
    int op = known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(l->epfd, op, st->fd, &ev) != 0 && errno == EEXIST)
        epoll_ctl(l->epfd, EPOLL_CTL_MOD, st->fd, &ev);
    s->watched_fd = st->fd;
    s->watched_conn = st->conn;
    s->watched_events = st->events;
}

static void unwatch(struct poll_loop *l, struct poller *p)
{
    if (p->slot.watched_fd >= 0)
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, p->slot.watched_fd, NULL);
    p->slot.watched_fd = -1;
}

static bool busy(const struct poller *p)
{
    return p->slot.device || p->slot.command;
}

/* When the bus next needs the thread: its step's deadline while an
 * operation is under way, else its first device's turn; never while the
 * loop parks or lets it go (nothing may begin then). */
static void rekey(struct poll_loop *l, struct poller *p)
{
    struct loop_slot *s = &p->slot;
    if (busy(p))
        deadline_heap_set(&l->heap, &s->due, s->step.until_us);
    else if (s->departing || l->parking || p->device_count == 0)
        deadline_heap_remove(&l->heap, &s->due);
    else
        deadline_heap_set(&l->heap, &s->due, first_due(p)->next_due_ms * 1000);
}

static void operation_ended(struct poll_loop *l, struct poller *p)
{
    struct loop_slot *s = &p->slot;
    l->busy--;
    if (s->command) {
        struct command_result res = {0};
        command_judge(p, s->command, s->device, s->command_point, s->step.result, &s->write, &res);
        s->command->finish(s->command->finish_ctx, s->command, &res);
        s->command = NULL;
        s->device = NULL;
        return;
    }
    size_t n = poll_judged(p, s->device, s->step.result, p->batch);
    batch_add(l, p->batch, n);
    poll_ended(p, s->device, s->step.result, s->began_us, clock_mono_us());
    s->device = NULL;
}

/* A queued command first (refused at once when it cannot go out), then
 * the device whose turn it is. False when nothing was begun. */
static bool begin_operation(struct poll_loop *l, struct poller *p, int64_t now_us)
{
    struct loop_slot *s = &p->slot;
    for (struct command *cmd; (cmd = command_next(p));) {
        struct command_result res;
        s->device = command_admit(p, cmd, &s->command_point, &s->write, &res);
        if (!s->device) {
            cmd->finish(cmd->finish_ctx, cmd, &res);
            continue;
        }
        s->command = cmd;
        s->began_us = now_us;
        l->busy++;
        p->steps->write(p->source_bus, s->device->source, (size_t)s->command_point, cmd->raw,
                        &s->write, &s->step);
        return true;
    }
    struct device_state *d = first_due(p);
    if (d->next_due_ms * 1000 > now_us)
        return false;
    s->device = d;
    s->began_us = now_us;
    l->busy++;
    poll_prepare(d);
    p->steps->poll(p->source_bus, d->source, &p->poll, &s->step);
    return true;
}

/* Runs the bus until it waits: operations that end at once (a refused
 * connect, a due neighbour on the same bus) do not wait a round. */
static void run_bus(struct poll_loop *l, struct poller *p, bool step, short revents)
{
    struct loop_slot *s = &p->slot;
    if (step)
        p->steps->resume(p->source_bus, revents, &s->step);
    for (;;) {
        if (busy(p) && !s->step.done)
            break;
        if (busy(p))
            operation_ended(l, p);
        if (s->departing || l->parking || p->device_count == 0 ||
            !begin_operation(l, p, clock_mono_us()))
            break;
    }
    watch(l, p);
    rekey(l, p);
}

static void let_go(struct poll_loop *l, struct poller *p)
{
    deadline_heap_remove(&l->heap, &p->slot.due);
    unwatch(l, p);
    struct poller *last = l->pollers[--l->attached];
    l->pollers[p->slot.index] = last;
    last->slot.index = p->slot.index;
    p->slot.attached = false;
    pthread_cond_broadcast(&l->changed);
}

static int arrive(struct poll_loop *l, struct poller *p)
{
    struct poller **all = realloc(l->pollers, (l->attached + 1) * sizeof(*all));
    if (!all || deadline_heap_reserve(&l->heap, l->attached + 1) != 0) {
        if (all)
            l->pollers = all;
        return -1;
    }
    l->pollers = all;
    int64_t now_ms = clock_mono_ms();
    for (size_t i = 0; i < p->device_count; i++)
        p->devices[i].next_due_ms = now_ms;
    p->window_start_us = clock_mono_us();
    p->slot.index = l->attached;
    l->pollers[l->attached++] = p;
    p->slot.attached = true;
    p->slot.departing = false;
    rekey(l, p);
    return 0;
}

/* Under lock: pollers that came, and pollers to let go once idle. */
static void take_news(struct poll_loop *l)
{
    l->parking = l->park_wanted;
    for (struct poller *p = l->arriving, *next; p; p = next) {
        next = p->slot.next_arriving;
        if (arrive(l, p) != 0)
            log_msg(LOG_ERROR, "event loop: out of memory: bus %s is not polled", p->bus->name);
    }
    l->arriving = NULL;
    int64_t now = clock_mono_us();
    for (struct poller *p = l->commanded; p; p = p->slot.next_commanded) {
        p->slot.commanded = false;
        if (p->slot.attached && !busy(p) && !p->slot.departing && !l->parking)
            deadline_heap_set(&l->heap, &p->slot.due, now);
    }
    l->commanded = NULL;
    struct poller **link = &l->leaving;
    while (*link) {
        struct poller *p = *link;
        p->slot.departing = true;
        if (p->slot.attached && busy(p)) {
            link = &p->slot.next_leaving; /* after its operation */
            continue;
        }
        *link = p->slot.next_leaving;
        if (p->slot.attached)
            let_go(l, p);
    }
}

/* A reload: park once no operation is under way, until unparked; then
 * every bus's turn again (its devices may have changed). */
static void park_if_wanted(struct poll_loop *l)
{
    if (!l->park_wanted || l->busy > 0)
        return;
    /* Everything polled under the old file goes in before the pipeline
     * parks on the queue (reload.c parks the pollers first). */
    flush(l);
    l->parked = true;
    pthread_cond_broadcast(&l->changed);
    while (l->park_wanted && !l->stopping)
        pthread_cond_wait(&l->changed, &l->lock);
    l->parked = false;
    l->parking = false;
    for (size_t i = 0; i < l->attached; i++)
        rekey(l, l->pollers[i]);
}

/* At the end of a round: the batch goes once no poll is out, or once it
 * has waited BATCH_HOLD_US for those that are. */
static void flush_if_due(struct poll_loop *l)
{
    if (l->batched > 0 &&
        (l->busy == 0 || clock_mono_us() - l->batch_since_us >= BATCH_HOLD_US))
        flush(l);
}

static int wait_ms(struct poll_loop *l)
{
    struct deadline *first = deadline_heap_first(&l->heap);
    int64_t until = first ? first->at_us : INT64_MAX;
    if (l->batched > 0 && l->batch_since_us + BATCH_HOLD_US < until)
        until = l->batch_since_us + BATCH_HOLD_US;
    if (until == INT64_MAX)
        return -1;
    int64_t left = until - clock_mono_us();
    return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

static void *loop_thread(void *arg)
{
    struct poll_loop *l = arg;
    struct epoll_event events[EVENTS_PER_WAIT];
    for (;;) {
        pthread_mutex_lock(&l->lock);
        take_news(l);
        park_if_wanted(l);
        bool done = l->stopping && l->attached == 0;
        pthread_mutex_unlock(&l->lock);
        if (done) {
            flush(l);
            break;
        }
        int n = epoll_wait(l->epfd, events, EVENTS_PER_WAIT, wait_ms(l));
        for (int i = 0; i < n; i++) {
            struct poller *p = events[i].data.ptr;
            if (!p) {
                uint64_t count;
                if (read(l->wakefd, &count, sizeof(count)) < 0 && errno != EAGAIN)
                    log_msg(LOG_ERROR, "event loop: wake: %s", strerror(errno));
                continue;
            }
            if (p->slot.attached)
                run_bus(l, p, true, (short)events[i].events);
        }
        int64_t now = clock_mono_us();
        struct deadline *first;
        while ((first = deadline_heap_first(&l->heap)) && first->at_us <= now) {
            struct poller *p = slot_owner(first);
            /* Off the heap until run_bus puts it back at its next time. */
            deadline_heap_remove(&l->heap, first);
            run_bus(l, p, busy(p), 0);
        }
        flush_if_due(l);
    }
    return NULL;
}

int poll_loop_attach(struct poll_loop *l, struct poller *p)
{
    pthread_mutex_lock(&l->lock);
    int rc = 0;
    if (!l->running) {
        rc = pthread_create(&l->thread, NULL, loop_thread, l);
        l->running = rc == 0;
    }
    if (rc == 0) {
        p->slot.next_arriving = l->arriving;
        l->arriving = p;
    }
    pthread_mutex_unlock(&l->lock);
    poke(l);
    return rc == 0 ? 0 : -1;
}

void poll_loop_detach_begin(struct poll_loop *l, struct poller *p)
{
    pthread_mutex_lock(&l->lock);
    if (!p->slot.detach_wanted) {
        p->slot.detach_wanted = true;
        p->slot.next_leaving = l->leaving;
        l->leaving = p;
    }
    pthread_mutex_unlock(&l->lock);
    poke(l);
}

void poll_loop_detach_wait(struct poll_loop *l, struct poller *p)
{
    pthread_mutex_lock(&l->lock);
    /* Parked, the thread holds nothing of any bus: the caller lets go. */
    if (l->parked || !l->running)
        take_news(l);
    while (p->slot.attached)
        pthread_cond_wait(&l->changed, &l->lock);
    pthread_mutex_unlock(&l->lock);
}

void poll_loop_destroy(struct poll_loop *l)
{
    if (!l)
        return;
    pthread_mutex_lock(&l->lock);
    l->stopping = true;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->lock);
    poke(l);
    if (l->running)
        pthread_join(l->thread, NULL);
    deadline_heap_free(&l->heap);
    free(l->pollers);
    close(l->epfd);
    close(l->wakefd);
    pthread_mutex_destroy(&l->lock);
    pthread_cond_destroy(&l->changed);
    free(l);
}

void poll_loop_command(struct poll_loop *l, struct poller *p)
{
    pthread_mutex_lock(&l->lock);
    if (!p->slot.commanded) {
        p->slot.commanded = true;
        p->slot.next_commanded = l->commanded;
        l->commanded = p;
    }
    pthread_mutex_unlock(&l->lock);
    poke(l);
}

void poll_loop_park(struct poll_loop *l)
{
    pthread_mutex_lock(&l->lock);
    l->park_wanted = true;
    pthread_mutex_unlock(&l->lock);
    poke(l);
}

bool poll_loop_parked(struct poll_loop *l, int64_t mono_deadline_ms)
{
    pthread_mutex_lock(&l->lock);
    if (l->running)
        cond_wait_flag_until(&l->changed, &l->lock, &l->parked, mono_deadline_ms);
    bool parked = l->parked || !l->running;
    pthread_mutex_unlock(&l->lock);
    return parked;
}

void poll_loop_unpark(struct poll_loop *l)
{
    pthread_mutex_lock(&l->lock);
    l->park_wanted = false;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->lock);
    poke(l);
}
