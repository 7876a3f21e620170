#include "sources/modbus/mbap_conn.h"
#include "core/clock.h"

#include <errno.h>
#include <modbus/modbus.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MBAP_HEADER 6 /* transaction id, protocol, length; the unit id follows */
#define MBAP_ADU_MAX 260

enum phase {
    IDLE,       /* between transactions, connected or not */
    CONNECTING, /* waiting for POLLOUT: the connect's outcome */
    PAUSING,    /* the device's silence before the request */
    SENDING,    /* the socket took part of the request */
    RECEIVING,  /* until the reply is whole or the response timeout */
};

struct mbap_conn {
    char host[CFG_TEXT_MAX];
    int port;
    char label[CFG_TEXT_MAX + 16];
    struct sockaddr_storage addr; /* looked up once, again after a failed connect */
    socklen_t addr_len;
    int fd;
    unsigned conn; /* counts the descriptors opened */
    enum phase phase;
    bool fresh; /* connected by this transaction */
    uint16_t tid;
    /* The transaction under way. */
    struct link_device dev;
    const struct modbus_request *rq;
    uint16_t *dest;
    char *why;
    size_t why_size;
    uint8_t buf[MBAP_ADU_MAX]; /* the request going out, then the reply coming in */
    size_t len, sent;
    int64_t deadline_us, quiet_from_us;
    int64_t sent_wall_ms;
    uint32_t stray_bytes;
};

struct mbap_conn *mbap_conn_create(const char *host, int port)
{
    struct mbap_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    snprintf(c->host, sizeof(c->host), "%s", host);
    c->port = port;
    snprintf(c->label, sizeof(c->label), "%s:%d", host, port);
    c->fd = -1;
    return c;
}

struct mbap_conn *mbap_conn_create_on_fd(int fd)
{
    struct mbap_conn *c = mbap_conn_create("socket", fd);
    if (c) {
        c->fd = fd;
        c->conn = 1;
    }
    return c;
}

static void conn_close(struct mbap_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void mbap_conn_destroy(struct mbap_conn *c)
{
    if (!c)
        return;
    conn_close(c);
    free(c);
}

int64_t mbap_sent_wall_ms(const struct mbap_conn *c)
{
    return c->sent_wall_ms;
}

uint32_t mbap_take_stray_bytes(struct mbap_conn *c)
{
    uint32_t n = c->stray_bytes;
    c->stray_bytes = 0;
    return n;
}

/* Between transactions only the connection's end is worth watching. */
static void idle(struct mbap_conn *c, enum source_result result, struct source_step *step)
{
    c->phase = IDLE;
    *step = (struct source_step){.done = true,
                                 .result = result,
                                 .fd = c->fd,
                                 .events = c->fd >= 0 ? POLLIN : 0,
                                 .conn = c->conn};
}

static void wait_for(struct mbap_conn *c, enum phase phase, short events, int64_t until_us,
                     struct source_step *step)
{
    c->phase = phase;
    *step = (struct source_step){
        .fd = c->fd, .events = c->fd >= 0 ? events : 0, .conn = c->conn, .until_us = until_us};
}

static void fail(struct mbap_conn *c, const char *reason, struct source_step *step)
{
    modbus_request_describe(c->rq, c->label, reason, c->why, c->why_size);
    conn_close(c);
    idle(c, SOURCE_IO, step);
}

static void fail_connect(struct mbap_conn *c, int err, struct source_step *step)
{
    snprintf(c->why, c->why_size, "cannot connect to %s: %s", c->label, strerror(err));
    c->addr_len = 0; /* the name may point elsewhere by the next try */
    conn_close(c);
    idle(c, SOURCE_IO, step);
}

/* A host name's lookup blocks (the resolver has no deadline we control):
 * it happens once, and again only after a connect failed. Field gateways
 * name their devices by address. */
static int resolve(struct mbap_conn *c)
{
    if (c->addr_len > 0)
        return 0;
    char port[16];
    snprintf(port, sizeof(port), "%d", c->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV},
                    *res;
    int rc = getaddrinfo(c->host, port, &hints, &res);
    if (rc != 0)
        return rc == EAI_SYSTEM ? errno : EHOSTUNREACH;
    memcpy(&c->addr, res->ai_addr, res->ai_addrlen);
    c->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void send_request(struct mbap_conn *c, struct source_step *step);
static void before_request(struct mbap_conn *c, struct source_step *step);

static void connected(struct mbap_conn *c, struct source_step *step)
{
    int one = 1; /* a request is one small segment: never hold it back */
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    c->fresh = true;
    c->quiet_from_us = 0;
    if (c->dev.after_connect_ms > 0) {
        wait_for(c, PAUSING, POLLIN, clock_mono_us() + c->dev.after_connect_ms * 1000, step);
        return;
    }
    send_request(c, step);
}

static void start_connect(struct mbap_conn *c, struct source_step *step)
{
    int err = resolve(c);
    if (err != 0) {
        fail_connect(c, err, step);
        return;
    }
    c->fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        fail_connect(c, errno, step);
        return;
    }
    c->conn++;
    if (connect(c->fd, (struct sockaddr *)&c->addr, c->addr_len) == 0) {
        connected(c, step);
        return;
    }
    if (errno != EINPROGRESS) {
        fail_connect(c, errno, step);
        return;
    }
    /* libmodbus bounds a connect by the response timeout too. */
    wait_for(c, CONNECTING, POLLOUT, clock_mono_us() + c->dev.timeout_ms * 1000, step);
}

static void connect_done(struct mbap_conn *c, short revents, struct source_step *step)
{
    if (revents == 0) {
        fail_connect(c, ETIMEDOUT, step);
        return;
    }
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0)
        fail_connect(c, err, step);
    else
        connected(c, step);
}

void mbap_begin(struct mbap_conn *c, const struct link_device *dev, const struct modbus_request *rq,
                uint16_t *dest, char *why, size_t why_size, struct source_step *step)
{
    c->dev = *dev;
    c->rq = rq;
    c->dest = dest;
    c->why = why;
    c->why_size = why_size;
    c->fresh = false;
    if (c->fd < 0)
        start_connect(c, step);
    else
        before_request(c, step);
}

/* The device's pause after the last reply (only after a connection's
 * first transaction: a fresh one has had its own pause). */
static void before_request(struct mbap_conn *c, struct source_step *step)
{
    int64_t due = c->quiet_from_us + c->dev.pause_ms * 1000;
    if (c->dev.pause_ms > 0 && c->quiet_from_us > 0 && clock_mono_us() < due)
        wait_for(c, PAUSING, POLLIN, due, step);
    else
        send_request(c, step);
}

static void put16(uint8_t *p, int v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void write_some(struct mbap_conn *c, struct source_step *step)
{
    ssize_t n = send(c->fd, c->buf + c->sent, c->len - c->sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        fail(c, strerror(errno), step);
        return;
    }
    c->sent += n > 0 ? (size_t)n : 0;
    if (c->sent < c->len) {
        wait_for(c, SENDING, POLLOUT, c->deadline_us, step);
        return;
    }
    c->len = 0;
    wait_for(c, RECEIVING, POLLIN, c->deadline_us, step);
}

static void send_request(struct mbap_conn *c, struct source_step *step)
{
    uint8_t *pdu = c->buf + MBAP_HEADER; /* unit id, function code, data */
    int n = modbus_request_encode(c->rq, pdu);
    if (n < 0) {
        modbus_request_describe(c->rq, c->label, "cannot be framed", c->why, c->why_size);
        idle(c, SOURCE_IO, step);
        return;
    }
    c->tid++; /* each reply must carry its request's id: a stale one is out of step */
    put16(c->buf, c->tid);
    put16(c->buf + 2, 0);
    put16(c->buf + 4, n);
    c->len = (size_t)(MBAP_HEADER + n);
    c->sent = 0;
    c->sent_wall_ms = clock_wall_ms();
    /* The response timeout bounds the whole transaction from here, as
     * libmodbus's does with its byte timeout off (modbus_link.c). */
    c->deadline_us = clock_mono_us() + c->dev.timeout_ms * 1000;
    write_some(c, step);
}

/* The reply is whole once the MBAP length says so; more bytes than that
 * put the stream out of step. */
static void read_reply(struct mbap_conn *c, struct source_step *step)
{
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        wait_for(c, RECEIVING, POLLIN, c->deadline_us, step);
        return;
    }
    if (n <= 0) {
        fail(c, n == 0 ? "the device closed the connection" : strerror(errno), step);
        return;
    }
    c->len += (size_t)n;
    if (c->len < MBAP_HEADER + 2) {
        wait_for(c, RECEIVING, POLLIN, c->deadline_us, step);
        return;
    }
    size_t whole = MBAP_HEADER + (size_t)((c->buf[4] << 8) | c->buf[5]);
    if (whole > sizeof(c->buf) || c->len > whole) {
        fail(c, modbus_strerror(EMBBADDATA), step);
        return;
    }
    if (c->len < whole) {
        wait_for(c, RECEIVING, POLLIN, c->deadline_us, step);
        return;
    }
    int err = modbus_reply_check(c->rq, true, c->tid, c->buf, (int)c->len, c->dest);
    c->quiet_from_us = clock_mono_us();
    if (err == 0) {
        idle(c, SOURCE_OK, step);
    } else if (err > MODBUS_ENOBASE && err <= EMBXGTAR) {
        modbus_request_describe(c->rq, c->label, modbus_strerror(err), c->why, c->why_size);
        idle(c, SOURCE_REFUSED, step);
    } else {
        fail(c, err == EMBBADSLAVE ? "reply from another unit id" : modbus_strerror(err), step);
    }
}

/* A Modbus TCP server sends nothing unasked: bytes now are a late reply
 * or noise, and a zero read a peer that closed. Either way the next
 * transaction starts on a new connection. */
static void between_transactions(struct mbap_conn *c, struct source_step *step)
{
    uint8_t junk[MBAP_ADU_MAX];
    ssize_t n = c->fd >= 0 ? recv(c->fd, junk, sizeof(junk), 0) : 0;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        idle(c, step->result, step);
        return;
    }
    c->stray_bytes += n > 0 ? (uint32_t)n : 0;
    conn_close(c);
    idle(c, step->result, step);
}

void mbap_resume(struct mbap_conn *c, short revents, struct source_step *step)
{
    bool timed_out = revents == 0 && clock_mono_us() >= step->until_us;
    switch (c->phase) {
    case IDLE:
        if (revents)
            between_transactions(c, step);
        return;
    case CONNECTING:
        if (revents || timed_out)
            connect_done(c, revents, step);
        return;
    case PAUSING:
        if (revents & (POLLIN | POLLHUP | POLLERR)) {
            fail(c, "the device sent bytes unasked or closed the connection", step);
            return;
        }
        if (timed_out)
            send_request(c, step);
        return;
    case SENDING:
    case RECEIVING:
        if (revents & (POLLOUT | POLLIN | POLLHUP | POLLERR)) {
            if (c->phase == SENDING)
                write_some(c, step);
            else
                read_reply(c, step);
        } else if (timed_out) {
            fail(c, modbus_strerror(ETIMEDOUT), step);
        }
        return;
    }
}
