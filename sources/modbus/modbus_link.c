#include "sources/modbus/modbus_link.h"
#include "core/clock.h"
#include "sources/modbus/line_pacing.h"
#include "sources/modbus/modbus_reply.h"
#include "sources/modbus/modbus_source.h"
#include "sources/modbus/point_types.h"

#include <errno.h>
#include <fcntl.h>
#include <modbus/modbus.h>
#include <sys/ioctl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long connecting to an RTU-over-TCP converter may take (libmodbus's
 * own TCP connect uses its response timeout, 500 ms by default). */
#define CONVERTER_CONNECT_MS 3000
/* After a response timeout the link listens once more as long (at most
 * this), so that a unit answering late is heard out instead of talked over. */
#define LATE_REPLY_LISTEN_MAX_MS 1000

struct modbus_link {
    modbus_t *ctx;
    bool connected;
    bool rtu_over_tcp; /* RTU frames on a socket this file connects itself */
    bool echo, kernel_rs485;
    bool echo_suspected; /* the last failed reply began like our request */
    bool must_reopen;    /* writing failed: the port or socket is gone */
    int rts;
    struct line_pace pace;     /* RTU framing only */
    char host[CFG_TEXT_MAX];
    int port;
    char label[CFG_TEXT_MAX + 16];
};

struct modbus_link *link_create(const struct bus_config *bus, const struct bus_kind *kind)
{
    struct modbus_link *link = calloc(1, sizeof(*link));
    if (!link)
        return NULL;
    static const char parity_letter[] = {'N', 'E', 'O'};
    link->echo = bus->echo;
    link->kernel_rs485 = bus->kernel_rs485;
    link->rts = bus->rts;
    /* An RTU-over-TCP converter forwards to a line at the bus's baud rate:
     * the same silences apply there. */
    line_pace_init(&link->pace,
                   line_timing_of(bus->baud, bus->parity, bus->data_bits, bus->stop_bits));
    if (kind->addressing == BUS_NETWORK)
        snprintf(link->label, sizeof(link->label), "%s:%d", bus->host, bus->port);
    else
        snprintf(link->label, sizeof(link->label), "%s", bus->device);
    if (kind->addressing == BUS_NETWORK) {
        /* libmodbus's RTU backend reads and writes whatever descriptor it
         * is given; the socket comes from rtu_over_tcp_connect. */
        link->rtu_over_tcp = true;
        snprintf(link->host, sizeof(link->host), "%s", bus->host);
        link->port = bus->port;
        link->ctx = modbus_new_rtu(link->label, 9600, 'N', 8, 1);
    } else {
        link->ctx = modbus_new_rtu(bus->device, bus->baud, parity_letter[bus->parity],
                                   bus->data_bits, bus->stop_bits);
    }
    if (!link->ctx) {
        free(link);
        return NULL;
    }
    /* Recovery is the poller's job (back-off per device); libmodbus must
     * not retry or sleep on its own. */
    modbus_set_error_recovery(link->ctx, MODBUS_ERROR_RECOVERY_NONE);
    /* No byte timeout: the response timeout then bounds the whole reply
     * (libmodbus does not restart it between bytes). */
    modbus_set_byte_timeout(link->ctx, 0, 0);
    return link;
}

struct modbus_link *link_create_on_fd(const struct bus_config *bus, const struct bus_kind *kind,
                                      int fd)
{
    struct modbus_link *link = link_create(bus, kind);
    if (!link)
        return NULL;
    modbus_set_socket(link->ctx, fd);
    link->connected = true;
    return link;
}

/* A converter's socket is ours: closed here, not by libmodbus's RTU
 * backend (which would first try to restore serial settings on it). */
static void link_close(struct modbus_link *link)
{
    if (!link->connected)
        return;
    if (link->rtu_over_tcp) {
        close(modbus_get_socket(link->ctx));
        modbus_set_socket(link->ctx, -1);
    } else {
        modbus_close(link->ctx);
    }
    link->connected = false;
}

void link_destroy(struct modbus_link *link)
{
    if (!link)
        return;
    link_close(link);
    modbus_free(link->ctx);
    free(link);
}

/* Connects with a deadline: a converter that is off must not hold the
 * bus's thread for the kernel's minutes of SYN retries. Returns the
 * socket, or -1 with errno set. */
static int rtu_over_tcp_connect(const struct modbus_link *link)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", link->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    int rc = getaddrinfo(link->host, port, &hints, &res);
    if (rc != 0) {
        errno = rc == EAI_SYSTEM ? errno : EHOSTUNREACH;
        return -1;
    }
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int err = fd < 0 ? errno : 0;
    if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            socklen_t len = sizeof(err);
            if (poll(&p, 1, CONVERTER_CONNECT_MS) != 1)
                err = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
                err = errno;
        }
    }
    freeaddrinfo(res);
    if (err != 0) {
        if (fd >= 0)
            close(fd);
        errno = err;
        return -1;
    }
    /* libmodbus waits with select itself: blocking reads are fine. */
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

static bool is_exception(int err)
{
    return err > MODBUS_ENOBASE && err <= EMBXGTAR;
}

/* Our errno values for what the line itself did wrong. */
#define ERR_LINE_FAILED ECONNRESET /* the descriptor failed or the converter closed */
#define ERR_NO_ECHO EMBBADDATA

/* A 2-wire adapter without echo suppression hands back every character we
 * send before the unit's reply: read them and check they are ours. */
static int read_echo(struct modbus_link *link, const uint8_t *pdu, int pdu_len, int64_t timeout_ms)
{
    uint8_t echo[MODBUS_REQUEST_MAX + 2];
    size_t n = (size_t)pdu_len + 2; /* unit and PDU, CRC */
    long got = line_read_exact(modbus_get_socket(link->ctx), echo, n,
                               clock_mono_us() + timeout_ms * 1000);
    if (got < 0)
        return ERR_LINE_FAILED;
    /* The CRC is libmodbus's to compute; unit and PDU identify the frame. */
    if ((size_t)got < n || memcmp(echo, pdu, (size_t)pdu_len) != 0)
        return ERR_NO_ECHO;
    return 0;
}

/* Listens after a failure so that the next request starts on a quiet line;
 * a late reply from the unit asked is named in late_ms (else -1). */
static int settle_line(struct modbus_link *link, const struct modbus_request *rq, int err,
                       int64_t sent_us, const struct link_device *dev, int64_t *late_ms)
{
    uint8_t heard[MODBUS_MAX_ADU_LENGTH];
    int64_t last_us = 0, listen_ms = dev->late_listen_ms ? dev->late_listen_ms : dev->timeout_ms;
    if (listen_ms > LATE_REPLY_LISTEN_MAX_MS)
        listen_ms = LATE_REPLY_LISTEN_MAX_MS;
    /* After a timeout a reply may still be on its way; after a broken frame
     * only its tail is, and t3.5 of silence ends it. */
    long n = line_listen(&link->pace, modbus_get_socket(link->ctx),
                         err == ETIMEDOUT ? listen_ms * 1000 : 0, heard, sizeof(heard), &last_us);
    *late_ms = -1;
    if (n < 0)
        return -1;
    if (err == ETIMEDOUT && n >= 5 && heard[0] == rq->unit_id && (heard[1] & 0x7f) == modbus_request_code(rq))
        *late_ms = (last_us - sent_us) / 1000;
    return 0;
}

/* One raw request and its reply, judged by modbus_reply_check. Returns 0
 * or an errno value. */
static int read_once(struct modbus_link *link, const struct modbus_request *rq,
                     const struct link_device *dev, uint16_t *dest, int64_t *late_ms)
{
    uint8_t pdu[MODBUS_REQUEST_MAX], rsp[MODBUS_MAX_ADU_LENGTH];
    int fd = modbus_get_socket(link->ctx);
    *late_ms = -1;
    if (line_wait_quiet(&link->pace, fd, dev->pause_ms * 1000) != 0)
        return ERR_LINE_FAILED;
    int n = modbus_request_encode(rq, pdu);
    if (n < 0)
        return EMBBADDATA;
    int64_t sent_us = clock_mono_us();
    if (modbus_send_raw_request(link->ctx, pdu, n) < 0) {
        link->must_reopen = true; /* an adapter unplugged, a converter gone */
        return errno;
    }
    line_sent(&link->pace, n + 2); /* and the CRC */
    int err = link->echo ? read_echo(link, pdu, n, dev->timeout_ms) : 0;
    int len = err ? -1 : modbus_receive_confirmation(link->ctx, rsp);
    if (!err && len < 0)
        err = errno;
    /* A reply that begins like our own request is most likely its echo. */
    link->echo_suspected = !link->echo && err == EMBBADCRC && memcmp(rsp, pdu, 5) == 0;
    /* On RTU libmodbus passes over a frame for another unit as length 0. */
    if (!err && len == 0)
        err = EMBBADSLAVE;
    if (!err)
        err = modbus_reply_check(rq, false, 0, rsp, len, dest);
    if (err == 0 || is_exception(err))
        line_replied(&link->pace, dev->quiet_after_ms * 1000);
    else if (err != ERR_LINE_FAILED &&
             settle_line(link, rq, err, sent_us, dev, late_ms) != 0)
        err = ERR_LINE_FAILED;
    return err;
}

/* The adapter's ways, which only a real serial port has: a port that
 * cannot do what the bus asks fails to connect, and says so. */
static int serial_modes(struct modbus_link *link, char *why, size_t why_size)
{
    if (link->kernel_rs485 && modbus_rtu_set_serial_mode(link->ctx, MODBUS_RTU_RS485) != 0) {
        snprintf(why, why_size,
                 "%s cannot switch to the kernel's RS-485 mode (TIOCSRS485): %s; set "
                 "kernel_rs485 = false, or use a port whose driver has the mode",
                 link->label, strerror(errno));
        return -1;
    }
    int lines;
    if (link->rts && ioctl(modbus_get_socket(link->ctx), TIOCMGET, &lines) != 0) {
        snprintf(why, why_size, "%s has no RTS line to drive (rts = %s): %s", link->label,
                 link->rts == MODBUS_RTU_RTS_UP ? "up" : "down", strerror(errno));
        return -1;
    }
    if (link->rts && modbus_rtu_set_rts(link->ctx, link->rts) != 0) {
        snprintf(why, why_size, "%s: cannot drive RTS: %s", link->label, strerror(errno));
        return -1;
    }
    return 0;
}

enum link_result link_connect(struct modbus_link *link, bool *fresh, char *why, size_t why_size)
{
    *fresh = false;
    if (link->connected)
        return LINK_OK;
    if (link->rtu_over_tcp) {
        int fd = rtu_over_tcp_connect(link);
        if (fd < 0) {
            snprintf(why, why_size, "cannot connect to %s: %s", link->label, strerror(errno));
            return LINK_IO;
        }
        modbus_set_socket(link->ctx, fd);
    } else if (modbus_connect(link->ctx) != 0) {
        snprintf(why, why_size, "cannot connect to %s: %s", link->label, modbus_strerror(errno));
        return LINK_IO;
    } else if (serial_modes(link, why, why_size) != 0) {
        modbus_close(link->ctx);
        return LINK_IO;
    }
    /* libmodbus waits with select(2), which cannot watch a descriptor at
     * or above FD_SETSIZE: one there would write past its set. A box with
     * a thousand TCP devices can get there; their loop uses epoll. */
    if (modbus_get_socket(link->ctx) >= FD_SETSIZE) {
        snprintf(why, why_size,
                 "%s: its descriptor %d is beyond what libmodbus can wait on (%d); fewer TCP "
                 "devices on this gateway leave room",
                 link->label, modbus_get_socket(link->ctx), FD_SETSIZE);
        link->connected = true;
        link_close(link);
        return LINK_IO;
    }
    link->connected = *fresh = true;
    link->must_reopen = false;
    line_pace_reset(&link->pace);
    return LINK_OK;
}

static void describe_failure(const struct modbus_link *link, const struct link_device *dev,
                             const struct modbus_request *rq, int err, int64_t late_ms, char *why,
                             size_t why_size)
{
    const char *reason = err == EMBBADSLAVE       ? "reply from another unit id"
                         : err == ERR_NO_ECHO     ? "no echo of the request (is echo = true "
                                                    "right for this adapter?)"
                         : err == ERR_LINE_FAILED ? "the line failed or was closed"
                                                  : modbus_strerror(err);
    int n = modbus_request_describe(rq, link->label, reason, why, why_size);
    if (late_ms >= 0 && n > 0 && (size_t)n < why_size)
        snprintf(why + n, why_size - (size_t)n,
                 " (its reply came %lld ms after the request; response_timeout is %lld ms)",
                 (long long)late_ms, (long long)dev->timeout_ms);
    else if (link->echo_suspected && n > 0 && (size_t)n < why_size)
        snprintf(why + n, why_size - (size_t)n,
                 " (what came back began like the request itself: if the adapter echoes what "
                 "it sends, set echo = true on the bus)");
}

/* One transaction with the device: connects, addresses the unit, and on
 * failure says why and leaves the link ready for the next one. */
static enum link_result transact(struct modbus_link *link, const struct link_device *dev,
                                 const struct modbus_request *rq, uint16_t *dest, char *why,
                                 size_t why_size)
{
    modbus_t *ctx = link->ctx;
    bool fresh;
    if (link_connect(link, &fresh, why, why_size) != LINK_OK)
        return LINK_IO;
    /* libmodbus refuses ids it cannot address and would keep the previous
     * device's: the config rejects them, this is the backstop. */
    if (modbus_set_slave(ctx, dev->unit_id) != 0) {
        snprintf(why, why_size, "unit %d on %s: libmodbus refuses this unit id: %s", dev->unit_id,
                 link->label, modbus_strerror(errno));
        return LINK_IO;
    }
    /* With the byte timeout off, libmodbus lets the response timeout run
     * down across the whole reply (set in link_create): a device that
     * dribbles its answer cannot hold the bus longer than this. */
    modbus_set_response_timeout(ctx, (uint32_t)(dev->timeout_ms / 1000),
                                (uint32_t)(dev->timeout_ms % 1000) * 1000);
    int64_t late_ms;
    int err = read_once(link, rq, dev, dest, &late_ms);
    /* On a shared RS-485 line a slow unit's late answer can land in the
     * next unit's transaction. That frame says nothing about this device:
     * drop it and ask once more instead of failing a healthy neighbour.
     * A write is not sent twice: the unit may have carried out the first. */
    if (err == EMBBADSLAVE && !rq->write_code)
        err = read_once(link, rq, dev, dest, &late_ms);
    if (err == 0)
        return LINK_OK;
    describe_failure(link, dev, rq, err, late_ms, why, why_size);
    if (is_exception(err))
        return LINK_EXCEPTION;
    /* The line was listened to until quiet (read_once): it stays open,
     * unless the port or the converter's socket failed. */
    if (err == ERR_LINE_FAILED || link->must_reopen)
        link_close(link);
    return LINK_IO;
}

enum link_result link_read(struct modbus_link *link, const struct link_device *dev, int function,
                           int address, int count, uint16_t *dest, char *why, size_t why_size)
{
    struct modbus_request rq = {
        .unit_id = dev->unit_id, .function = function, .address = address, .count = count};
    return transact(link, dev, &rq, dest, why, why_size);
}

enum link_result link_write(struct modbus_link *link, const struct link_device *dev, int function,
                            int write_code, int address, int count, const uint16_t *values,
                            char *why, size_t why_size)
{
    struct modbus_request rq = {.unit_id = dev->unit_id,
                                .function = function,
                                .address = address,
                                .count = count,
                                .write_code = write_code,
                                .values = values};
    return transact(link, dev, &rq, NULL, why, why_size);
}

uint32_t link_take_stray_bytes(struct modbus_link *link)
{
    uint32_t n = (uint32_t)link->pace.stray_bytes;
    link->pace.stray_bytes = 0;
    return n;
}
