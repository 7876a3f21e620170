/* RTU framing for the stubs: frames told apart by the line's silence,
 * answered for this unit (or played wrong for the faulty one), on a serial
 * device, a pseudo-terminal, or TCP connections from a gateway that speaks
 * RTU over TCP. */
#include "firmware-stubs/stub_internal.h"
#include "firmware-stubs/stub_pty.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <modbus/modbus-rtu.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

/* Reads one frame: bytes until the line has been silent for RTU_SILENCE_US.
 * Returns its length, 0 if nothing arrived within 200 ms, -1 on error.
 *
 * Frames are delimited here rather than by modbus_receive(): libmodbus 3.1
 * expects the reply of the unit a request was for and swallows the next
 * frame as that reply, so a request for an absent unit desynchronises it.
 * A device on a shared line must stay in step whatever the others do. */
#define RTU_SILENCE_US 20000
static int read_rtu_frame(int fd, uint8_t *buf, int cap, int idle_ms)
{
    int len = 0;
    for (;;) {
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(fd, &fds);
        struct timeval tv = {0, len ? RTU_SILENCE_US : idle_ms * 1000};
        int ready = select(fd + 1, &fds, NULL, NULL, &tv);
        if (ready < 0)
            return errno == EINTR ? len : -1;
        if (ready == 0)
            return len;
        ssize_t n = read(fd, buf + len, (size_t)(cap - len));
        if (n <= 0)
            return n == 0 || errno == EINTR || errno == EAGAIN ? len : -1;
        len += (int)n;
        if (len == cap)
            return len; /* longer than any Modbus frame: garbage, dropped below */
    }
}

/* The unit a well-formed frame is for, or -1 (short, too long, bad CRC). */
static int rtu_frame_unit(const uint8_t *frame, int len)
{
    if (len < 4 || len >= MODBUS_RTU_MAX_ADU_LENGTH)
        return -1;
    uint16_t crc = (uint16_t)(frame[len - 2] | (frame[len - 1] << 8));
    return crc == stub_rtu_crc(frame, len - 2) ? frame[0] : -1;
}

/* The length of the request that starts at p if it is one (function codes
 * 1-6 have fixed lengths, 15 and 16 carry a byte count), or -1. */
static int rtu_request_length(const uint8_t *p, int avail)
{
    if (avail < 8)
        return -1;
    if (p[1] >= 1 && p[1] <= 6)
        return 8;
    if ((p[1] == 15 || p[1] == 16) && 9 + p[6] <= avail)
        return 9 + p[6];
    return -1;
}

/* Splits what arrived without a silence into frames. On a busy shared
 * line another unit's exchange can end just before this unit's request,
 * closer than the silence read_rtu_frame waits for; a real device's UART
 * would still see the gap, so the stub looks for well-formed requests in
 * the run of bytes. Calls answer(frame, len) for each frame found. */
static void for_each_rtu_frame(uint8_t *buf, int len,
                               void (*answer)(void *ctx, uint8_t *frame, int len), void *ctx)
{
    if (rtu_frame_unit(buf, len) >= 0 || len <= 8) {
        answer(ctx, buf, len);
        return;
    }
    int off = 0;
    while (off < len) {
        int n = rtu_request_length(buf + off, len - off);
        if (n > 0 && n <= len - off && rtu_frame_unit(buf + off, n) >= 0) {
            answer(ctx, buf + off, n);
            off += n;
        } else {
            off++;
        }
    }
}

/* A slow device answers later while the line goes on: the late reply is
 * kept here and written when due, between other units' transactions. */
struct late_reply {
    uint8_t frame[MODBUS_RTU_MAX_ADU_LENGTH];
    int len;
    int64_t due_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int send_late_reply(int fd, struct late_reply *late)
{
    if (late->len == 0)
        return 200;
    int64_t wait = late->due_ms - now_ms();
    if (wait > 0)
        return wait < 200 ? (int)wait : 200;
    if (write(fd, late->frame, (size_t)late->len) < 0)
        perror("late reply");
    late->len = 0;
    return 200;
}

static void rtu_answer_faulty(modbus_t *ctx, int fd, modbus_mapping_t *map,
                              const struct stub_model *m, const struct stub_options *o,
                              const uint8_t *req, int len, struct late_reply *late)
{
    enum stub_fault mode = stub_fault_now(&o->faults);
    uint8_t reply[MODBUS_RTU_MAX_ADU_LENGTH];
    int n = 0;
    switch (mode) {
    case FAULT_NONE:
        handle_request(ctx, map, m, req, len);
        return;
    case FAULT_SILENT:
    case FAULT_RESET: /* no connection to reset on a serial line */
        return;
    case FAULT_ILLEGAL_ADDRESS:
        modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
        return;
    case FAULT_BUSY:
        modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY);
        return;
    case FAULT_GARBAGE:
        stub_garbage(reply, 7);
        n = 7;
        break;
    case FAULT_BAD_CRC:
    case FAULT_SLOW:
        (void)m->on_request(map, req[1], (req[2] << 8) | req[3], (req[4] << 8) | req[5]);
        n = stub_rtu_read_reply(map, req, len, reply, (int)sizeof(reply));
        if (mode == FAULT_BAD_CRC && n > 0)
            reply[n - 1] ^= 0x5a;
        if (mode == FAULT_SLOW && n > 0) {
            memcpy(late->frame, reply, (size_t)n);
            late->len = n;
            late->due_ms = now_ms() + o->faults.slow_ms;
            return;
        }
        break;
    default:
        return;
    }
    if (n > 0 && write(fd, reply, (size_t)n) < 0)
        perror("faulty reply");
}

struct rtu_unit {
    modbus_t *ctx;
    int fd;
    modbus_mapping_t *map;
    const struct stub_model *m;
    const struct stub_options *o;
    struct late_reply late;
    int faulty; /* the unit id that misbehaves */
};

/* Frames for other units, broadcasts and frames with a bad CRC get no
 * answer, as on a real line. */
static void rtu_answer(void *ctx, uint8_t *frame, int len)
{
    struct rtu_unit *u = ctx;
    int unit = rtu_frame_unit(frame, len);
    if (unit == u->faulty)
        rtu_answer_faulty(u->ctx, u->fd, u->map, u->m, u->o, frame, len, &u->late);
    else if (unit == u->o->unit)
        handle_request(u->ctx, u->map, u->m, frame, len);
}

/* A TCP peer that closed: select says readable, read says 0 bytes. */
static bool peer_closed(int fd, bool is_socket)
{
    char b;
    return is_socket && recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Answers frames on fd until it fails or its peer closes (-1), or time is
 * up (0). */
static int serve_frames(modbus_t *ctx, int fd, const struct stub_model *m,
                        const struct stub_options *o, modbus_mapping_t *map, time_t started,
                        bool is_socket)
{
    uint8_t frame[MODBUS_RTU_MAX_ADU_LENGTH + 1];
    struct rtu_unit unit = {
        ctx, fd, map, m, o, {.len = 0}, o->faults.unit >= 0 ? o->faults.unit : o->unit};
    while (!time_is_up(o, started)) {
        check_power_loss(m, map);
        int idle_ms = send_late_reply(fd, &unit.late);
        int len = read_rtu_frame(fd, frame, (int)sizeof(frame), idle_ms);
        if (len < 0 || (len == 0 && peer_closed(fd, is_socket)))
            return -1;
        for_each_rtu_frame(frame, len, rtu_answer, &unit);
    }
    return 0;
}

int serve_rtu(const struct stub_model *m, const struct stub_options *o, modbus_mapping_t *map)
{
    char path[256];
    int keep_fd = -1, fd = -1;
    modbus_t *ctx;
    if (o->rtu_pty) {
        fd = stub_open_pty(o->pty_link, 0, path, sizeof(path), &keep_fd);
        if (fd < 0) {
            fprintf(stderr, "%s-stub: cannot create a pseudo-terminal: %s\n", m->name,
                    strerror(errno));
            return 1;
        }
        /* libmodbus only writes replies to the descriptor; it need not open
         * the master itself. */
        ctx = modbus_new_rtu(path, o->baud, o->parity, 8, o->stop_bits);
        modbus_set_socket(ctx, fd);
    } else {
        snprintf(path, sizeof(path), "%s", o->rtu_device);
        ctx = modbus_new_rtu(path, o->baud, o->parity, 8, o->stop_bits);
        if (!ctx || modbus_connect(ctx) != 0) {
            fprintf(stderr, "%s-stub: cannot open %s: %s\n", m->name, path, modbus_strerror(errno));
            return 1;
        }
        fd = modbus_get_socket(ctx);
    }
    modbus_set_slave(ctx, o->unit);
    printf("LISTENING rtu %s\n", path);
    fflush(stdout);

    serve_frames(ctx, fd, m, o, map, time(NULL), false);
    if (o->rtu_pty) {
        close(fd);
        close(keep_fd);
        if (o->pty_link)
            unlink(o->pty_link);
    } else {
        modbus_close(ctx);
    }
    modbus_free(ctx);
    return 0;
}

/* A converter in transparent mode: one TCP client at a time, its bytes
 * are the RS-485 line's. A client that goes away frees the line for the
 * next; a peer that closes makes read_rtu_frame return -1. */
int serve_rtu_over_tcp(const struct stub_model *m, const struct stub_options *o,
                       modbus_mapping_t *map)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->rtu_tcp_port)};
    int server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (server >= 0)
        setsockopt(server, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (server < 0 || inet_pton(AF_INET, o->bind, &addr.sin_addr) != 1 ||
        bind(server, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(server, 4) != 0) {
        fprintf(stderr, "%s-stub: cannot listen on %s:%d: %s\n", m->name, o->bind, o->rtu_tcp_port,
                strerror(errno));
        return 1;
    }
    socklen_t alen = sizeof(addr);
    getsockname(server, (struct sockaddr *)&addr, &alen);
    printf("LISTENING rtu-over-tcp %s:%d\n", o->bind, ntohs(addr.sin_port));
    fflush(stdout);
    modbus_t *ctx = modbus_new_rtu("rtu-over-tcp", o->baud, o->parity, 8, o->stop_bits);
    modbus_set_slave(ctx, o->unit);
    time_t started = time(NULL);
    while (!time_is_up(o, started)) {
        check_power_loss(m, map);
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(server, &fds);
        struct timeval tv = {0, 200 * 1000};
        if (select(server + 1, &fds, NULL, NULL, &tv) <= 0)
            continue;
        int fd = accept(server, NULL, NULL);
        if (fd < 0)
            continue;
        modbus_set_socket(ctx, fd); /* libmodbus writes the replies to it */
        serve_frames(ctx, fd, m, o, map, started, true);
        close(fd);
        modbus_set_socket(ctx, -1);
    }
    modbus_free(ctx);
    close(server);
    return 0;
}
