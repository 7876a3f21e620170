#define _GNU_SOURCE       /* ppoll */
/* The paced line: a pseudo-terminal whose far end is a simulated RS-485
 * wire. What the gateway writes is put on the wire from the moment it is
 * read, one character time per byte; units hear a frame when the wire has
 * been quiet for t3.5 after it; their replies are handed to the gateway a
 * character at a time, each when its stop bit would have arrived. With
 * --echo the gateway also gets its own characters back, as from a 2-wire
 * adapter without echo suppression.
 *
 * Usage: rs485-line-stub [--baud N] [--parity N|E|O] [--stop-bits 1|2]
 *   [--units 1-8] [--strict] [--turnaround MS] [--slow UNIT:MS]
 *   [--dead UNIT] [--quiet UNIT:MS] [--echo] [--registers N]
 *   [--pty-link PATH] [--stats FILE] [--max-seconds N]
 * It prints "LISTENING rtu PATH" when ready and, at the end (SIGTERM or
 * --max-seconds), one line "STATS {json}", also written to --stats. */
#include "firmware-stubs/rs485_line.h"
#include "firmware-stubs/stub_faults.h"
#include "firmware-stubs/stub_pty.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define SEGMENTS 16

/* Characters one party put on the wire, back to back. */
struct segment {
    bool used;
    int origin; /* 0: the gateway, else a unit id */
    int64_t start_us, end_us;
    int n, delivered; /* delivered: characters handed to the gateway */
    bool garbled, collided;
    uint8_t bytes[LINE_ADU_MAX];
};

/* The request frame the units are hearing. */
struct frame {
    bool open, garbled;
    uint8_t bytes[LINE_ADU_MAX];
    int n;
    int64_t first_start_us, last_end_us, gap_us;
};

struct line {
    int baud, stop_bits;
    char parity;
    int64_t char_us, t35_us;
    bool echo;
    struct line_units units;
    struct segment seg[SEGMENTS];
    struct frame rx;
    int64_t wire_end_us;  /* the end of the last character put on the wire */
    int64_t gw_tx_end_us; /* the gateway's UART is busy until then */
    int master;
    /* counted for STATS */
    uint64_t frames, bad_frames, collisions, busy_us;
    int64_t started_us;
    int64_t first_frame_us, last_reply_end_us; /* the window the line was in use */
};

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static bool overlap(const struct segment *a, int64_t start, int64_t end)
{
    return a->used && a->start_us < end && start < a->end_us;
}

/* A slot for a new segment: one whose characters are all on the gateway's
 * side and off the wire. */
static struct segment *free_segment(struct line *l, int64_t now)
{
    for (int i = 0; i < SEGMENTS; i++) {
        struct segment *s = &l->seg[i];
        if (!s->used || (s->delivered == s->n && s->end_us + l->t35_us < now))
            return s;
    }
    return NULL;
}

/* Two parties driving the wire at once: whatever overlaps is garbage for
 * every receiver, the gateway's request included. */
static void mark_collision(struct line *l, struct segment *a, struct segment *b)
{
    a->garbled = b->garbled = true;
    if (!a->collided || !b->collided)
        l->collisions++;
    a->collided = b->collided = true;
    if (l->rx.open && (a->origin == 0 || b->origin == 0))
        l->rx.garbled = true;
}

static struct segment *put_on_wire(struct line *l, int origin, int64_t start, const uint8_t *bytes,
                                   int n, int64_t now)
{
    struct segment *s = free_segment(l, now);
    if (!s)
        return NULL; /* sixteen parties in flight: cannot happen with one master */
    int64_t end = start + (int64_t)n * l->char_us;
    *s = (struct segment){.used = true, .origin = origin, .start_us = start, .end_us = end, .n = n};
    for (int i = 0; i < SEGMENTS; i++)
        if (&l->seg[i] != s && overlap(&l->seg[i], start, end))
            mark_collision(l, &l->seg[i], s);
    memcpy(s->bytes, bytes, (size_t)n);
    if (end > l->wire_end_us)
        l->wire_end_us = end;
    l->busy_us += (uint64_t)(end - start);
    return s;
}

/* Bytes the gateway wrote: its UART sends them one after the other. */
static void from_gateway(struct line *l, const uint8_t *bytes, int n, int64_t now)
{
    int64_t start = now > l->gw_tx_end_us ? now : l->gw_tx_end_us;
    struct frame *rx = &l->rx;
    if (!l->first_frame_us)
        l->first_frame_us = start;
    if (!rx->open) {
        *rx = (struct frame){.open = true, .first_start_us = start,
                             .gap_us = start - l->wire_end_us};
    }
    struct segment *s = put_on_wire(l, 0, start, bytes, n, now);
    if (!s)
        return;
    if (!l->echo)
        s->delivered = n;
    if (s->garbled)
        rx->garbled = true;
    int room = LINE_ADU_MAX - rx->n;
    memcpy(rx->bytes + rx->n, bytes, (size_t)(n < room ? n : room));
    rx->n += n < room ? n : room;
    rx->last_end_us = s->end_us;
    l->gw_tx_end_us = s->end_us;
}

/* The units heard the frame end: t3.5 of silence after its last character. */
static void close_frame(struct line *l)
{
    struct frame *rx = &l->rx;
    rx->open = false;
    l->frames++;
    if (rx->garbled || rx->n != 8 ||
        stub_rtu_crc(rx->bytes, 6) != (uint16_t)(rx->bytes[6] | (rx->bytes[7] << 8))) {
        l->bad_frames++;
        return;
    }
    struct unit_reply reply;
    line_units_hear(&l->units, rx->bytes, rx->n, rx->gap_us, rx->first_start_us,
                    rx->last_end_us + l->t35_us, l->t35_us, &reply);
    if (reply.len == 0)
        return;
    struct segment *s = put_on_wire(l, reply.from->id, reply.start_us, reply.bytes, reply.len,
                                    now_us());
    if (s)
        reply.from->last_reply_end_us = l->last_reply_end_us = s->end_us;
}

/* Hands the gateway every character whose stop bit has passed. */
static void deliver(struct line *l, int64_t now)
{
    for (int i = 0; i < SEGMENTS; i++) {
        struct segment *s = &l->seg[i];
        if (!s->used || s->delivered == s->n || now < s->start_us + l->char_us)
            continue;
        int due = (int)((now - s->start_us) / l->char_us);
        if (due > s->n)
            due = s->n;
        uint8_t out[LINE_ADU_MAX];
        int k = 0;
        for (int c = s->delivered; c < due; c++)
            out[k++] = s->garbled ? (uint8_t)(s->bytes[c] ^ 0x5A) : s->bytes[c];
        if (k > 0 && write(l->master, out, (size_t)k) < 0 && errno != EAGAIN)
            perror("rs485-line-stub: write");
        s->delivered = due;
    }
}

static int64_t next_event(const struct line *l, int64_t now)
{
    int64_t next = now + 200000;
    if (l->rx.open && l->rx.last_end_us + l->t35_us < next)
        next = l->rx.last_end_us + l->t35_us;
    for (int i = 0; i < SEGMENTS; i++) {
        const struct segment *s = &l->seg[i];
        int64_t due = s->start_us + (int64_t)(s->delivered + 1) * l->char_us;
        if (s->used && s->delivered < s->n && due < next)
            next = due;
    }
    return next;
}

static void print_stats(const struct line *l, const char *path)
{
    char buf[4096];
    double seconds = (double)(now_us() - l->started_us) / 1e6;
    int n = snprintf(buf, sizeof(buf),
                     "{\"baud\": %d, \"char_us\": %lld, \"t35_us\": %lld, \"seconds\": %.3f, "
                     "\"frames\": %llu, \"bad_frames\": %llu, \"collisions\": %llu, "
                     "\"busy_share\": %.4f, \"active_seconds\": %.3f, \"units\": {",
                     l->baud, (long long)l->char_us, (long long)l->t35_us, seconds,
                     (unsigned long long)l->frames, (unsigned long long)l->bad_frames,
                     (unsigned long long)l->collisions,
                     seconds > 0 ? (double)l->busy_us / 1e6 / seconds : 0.0,
                     (double)(l->last_reply_end_us - l->first_frame_us) / 1e6);
    for (int i = 0; i < l->units.count && n < (int)sizeof(buf) - 200; i++) {
        const struct line_unit *u = &l->units.unit[i];
        n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                      "%s\"%d\": {\"heard\": %llu, \"answered\": %llu, "
                      "\"ignored_short_gap\": %llu, \"not_heard_quiet\": %llu, "
                      "\"writes\": %llu}",
                      i ? ", " : "", u->id, (unsigned long long)u->heard,
                      (unsigned long long)u->answered,
                      (unsigned long long)u->ignored_short_gap,
                      (unsigned long long)u->not_heard_quiet, (unsigned long long)u->writes);
    }
    snprintf(buf + n, sizeof(buf) - (size_t)n, "}}");
    printf("STATS %s\n", buf);
    fflush(stdout);
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) {
        fprintf(f, "%s\n", buf);
        fclose(f);
    }
}

static void run(struct line *l, int max_seconds)
{
    int64_t deadline = l->started_us + (int64_t)max_seconds * 1000000;
    while (!stopping && now_us() < deadline) {
        int64_t now = now_us(), wake = next_event(l, now) - now;
        struct timespec ts = {.tv_sec = wake > 0 ? wake / 1000000 : 0,
                              .tv_nsec = wake > 0 ? (wake % 1000000) * 1000 : 0};
        struct pollfd p = {.fd = l->master, .events = POLLIN};
        int ready = ppoll(&p, 1, &ts, NULL);
        now = now_us();
        if (ready > 0 && (p.revents & POLLIN)) {
            uint8_t buf[LINE_ADU_MAX];
            ssize_t n = read(l->master, buf, sizeof(buf));
            if (n > 0)
                from_gateway(l, buf, (int)n, now);
        }
        if (l->rx.open && now >= l->rx.last_end_us + l->t35_us)
            close_frame(l);
        deliver(l, now);
    }
}

static struct line_unit *unit_arg(struct line *l, const char *arg, int64_t *ms_us)
{
    char *end;
    long id = strtol(arg, &end, 10);
    for (int i = 0; i < l->units.count; i++) {
        if (l->units.unit[i].id != id)
            continue;
        if (ms_us)
            *ms_us = *end == ':' ? (int64_t)(strtod(end + 1, NULL) * 1000) : 0;
        return &l->units.unit[i];
    }
    fprintf(stderr, "rs485-line-stub: no unit %s on the line (give --units first)\n", arg);
    exit(2);
}

static void add_units(struct line *l, const char *spec, int64_t turnaround_us)
{
    int first = 0, last = 0;
    if (sscanf(spec, "%d-%d", &first, &last) != 2)
        last = first = atoi(spec);
    for (int id = first; id <= last && l->units.count < LINE_MAX_UNITS; id++)
        l->units.unit[l->units.count++] =
            (struct line_unit){.id = id, .mode = UNIT_HEALTHY, .turnaround_us = turnaround_us};
}

int main(int argc, char **argv)
{
    struct line l = {.baud = 9600, .parity = 'E', .stop_bits = 1, .units.registers = 20};
    const char *link = NULL, *stats = NULL, *units = "1";
    int max_seconds = 600;
    int64_t turnaround_us = 2000, v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--strict"))
            l.units.strict = true;
        else if (!strcmp(a, "--echo"))
            l.echo = true;
        else if (i + 1 >= argc)
            break;
        else if (!strcmp(a, "--baud"))
            l.baud = atoi(argv[++i]);
        else if (!strcmp(a, "--parity"))
            l.parity = argv[++i][0];
        else if (!strcmp(a, "--stop-bits"))
            l.stop_bits = atoi(argv[++i]);
        else if (!strcmp(a, "--units"))
            units = argv[++i];
        else if (!strcmp(a, "--turnaround"))
            turnaround_us = (int64_t)(strtod(argv[++i], NULL) * 1000);
        else if (!strcmp(a, "--registers"))
            l.units.registers = atoi(argv[++i]);
        else if (!strcmp(a, "--pty-link"))
            link = argv[++i];
        else if (!strcmp(a, "--stats"))
            stats = argv[++i];
        else if (!strcmp(a, "--max-seconds"))
            max_seconds = atoi(argv[++i]);
        else if (!strcmp(a, "--slow") || !strcmp(a, "--dead") || !strcmp(a, "--quiet")) {
            if (!l.units.count)
                add_units(&l, units, turnaround_us);
            struct line_unit *u = unit_arg(&l, next, &v);
            if (a[2] == 's')
                u->mode = UNIT_SLOW, u->turnaround_us = v;
            else if (a[2] == 'd')
                u->mode = UNIT_DEAD;
            else
                u->quiet_us = v;
            i++;
        } else {
            fprintf(stderr, "rs485-line-stub: unknown option %s (see the comment in rs485_line.c)\n",
                    a);
            return 2;
        }
    }
    if (l.units.registers < 1 || l.units.registers > LINE_REGISTERS_MAX) {
        fprintf(stderr, "rs485-line-stub: --registers takes 1 to %d\n", LINE_REGISTERS_MAX);
        return 2;
    }
    if (!l.units.count)
        add_units(&l, units, turnaround_us);
    /* One character: start bit, 8 data bits, parity, stop bits. */
    int bits = 1 + 8 + (l.parity != 'N') + l.stop_bits;
    l.char_us = (int64_t)bits * 1000000 / l.baud;
    l.t35_us = l.baud > 19200 ? 1750 : l.char_us * 7 / 2;
    char path[256];
    int keep_fd;
    l.master = stub_open_pty(link, O_NONBLOCK, path, sizeof(path), &keep_fd);
    if (l.master < 0) {
        fprintf(stderr, "rs485-line-stub: cannot create a pseudo-terminal: %s\n", strerror(errno));
        return 1;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    printf("LISTENING rtu %s\n", path);
    fflush(stdout);
    l.started_us = now_us();
    run(&l, max_seconds);
    print_stats(&l, stats);
    if (link)
        unlink(link);
    close(l.master);
    close(keep_fd);
    return 0;
}
