#define _GNU_SOURCE /* ppoll: t3.5 is 2 ms at 19200 baud, below poll()'s millisecond */
#include "sources/modbus/line_pacing.h"
#include "core/clock.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void line_pace_init(struct line_pace *p, struct line_timing timing)
{
    memset(p, 0, sizeof(*p));
    p->timing = timing;
    line_pace_reset(p);
}

void line_pace_reset(struct line_pace *p)
{
    p->quiet_from_us = clock_mono_us();
    p->quiet_need_us = p->timing.t35_us;
}

/* Waits for a byte until deadline_us: 1 readable, 0 timed out, -1 failed. */
static int readable_by(int fd, int64_t deadline_us)
{
    for (;;) {
        /* Past the deadline still one look: bytes already waiting in the
         * kernel's buffer are heard, not left for the next reply. */
        int64_t left = deadline_us - clock_mono_us();
        if (left < 0)
            left = 0;
        struct timespec ts = {.tv_sec = left / 1000000, .tv_nsec = (left % 1000000) * 1000};
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int rc = ppoll(&pfd, 1, &ts, NULL);
        if (rc > 0)
            return pfd.revents & (POLLERR | POLLNVAL) ? -1 : 1;
        if (rc == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

/* Reads what is there; 0 bytes from a readable descriptor is a closed peer. */
static long read_some(int fd, uint8_t *buf, size_t cap)
{
    ssize_t n = read(fd, buf, cap);
    if (n > 0)
        return (long)n;
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    return -1;
}

/* Drops bytes until `quiet_us` passed after the last one; if none comes,
 * until first_deadline_us. Keeps up to cap of them in buf. */
static long listen_until(struct line_pace *p, int fd, int64_t first_deadline_us, int64_t quiet_us,
                         uint8_t *buf, size_t cap, int64_t *last_us)
{
    int64_t started = clock_mono_us(), deadline = first_deadline_us;
    long heard = 0;
    uint8_t junk[256];
    while (clock_mono_us() - started < LINE_LISTEN_MAX_US) {
        int rc = readable_by(fd, deadline);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        size_t room = buf && (size_t)heard < cap ? cap - (size_t)heard : 0;
        long n = room ? read_some(fd, buf + heard, room) : read_some(fd, junk, sizeof(junk));
        if (n < 0)
            return -1;
        heard += n;
        p->quiet_from_us = clock_mono_us();
        if (last_us)
            *last_us = p->quiet_from_us;
        deadline = p->quiet_from_us + quiet_us;
    }
    return heard;
}

int line_wait_quiet(struct line_pace *p, int fd, int64_t extra_us)
{
    /* Whatever arrived since the last transaction is no reply to the next
     * one: read it now, or libmodbus would take it for the start of one. */
    int64_t owed = p->quiet_need_us + extra_us;
    long n = listen_until(p, fd, p->quiet_from_us + owed, p->timing.t35_us + extra_us, NULL, 0,
                          NULL);
    if (n < 0)
        return -1;
    p->stray_bytes += (uint64_t)n;
    return 0;
}

void line_sent(struct line_pace *p, int chars)
{
    p->quiet_from_us = clock_mono_us() + chars * p->timing.char_us;
    p->quiet_need_us = p->timing.t35_us;
}

void line_replied(struct line_pace *p, int64_t quiet_after_us)
{
    p->quiet_from_us = clock_mono_us();
    p->quiet_need_us = quiet_after_us > p->timing.t35_us ? quiet_after_us : p->timing.t35_us;
}

long line_listen(struct line_pace *p, int fd, int64_t first_us, uint8_t *buf, size_t cap,
                 int64_t *last_us)
{
    int64_t now = clock_mono_us();
    int64_t first = now + (first_us > p->timing.t35_us ? first_us : p->timing.t35_us);
    long n = listen_until(p, fd, first, p->timing.t35_us, buf, cap, last_us);
    if (n > 0)
        p->stray_bytes += (uint64_t)n;
    p->quiet_need_us = p->timing.t35_us;
    return n;
}

long line_read_exact(int fd, uint8_t *buf, size_t n, int64_t deadline_us)
{
    size_t got = 0;
    while (got < n) {
        int rc = readable_by(fd, deadline_us);
        if (rc <= 0)
            return rc < 0 ? -1 : (long)got;
        long k = read_some(fd, buf + got, n - got);
        if (k < 0)
            return -1;
        got += (size_t)k;
    }
    return (long)got;
}
