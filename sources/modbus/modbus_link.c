#include "sources/modbus/modbus_link.h"
#include "sources/modbus/modbus_reply.h"
#include "sources/modbus/point_types.h"

#include <errno.h>
#include <fcntl.h>
#include <modbus/modbus.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long connecting to an RTU-over-TCP converter may take (libmodbus's
 * own TCP connect uses its response timeout, 500 ms by default). */
#define CONVERTER_CONNECT_MS 3000

struct modbus_link {
    modbus_t *ctx;
    bool connected;
    bool rtu_framing;  /* unit address and CRC, not the MBAP header */
    bool rtu_over_tcp; /* RTU frames on a socket this file connects itself */
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
    link->rtu_framing = kind->framing == FRAMING_RTU;
    if (kind->addressing == BUS_NETWORK)
        snprintf(link->label, sizeof(link->label), "%s:%d", bus->host, bus->port);
    else
        snprintf(link->label, sizeof(link->label), "%s", bus->device);
    if (!link->rtu_framing) {
        link->ctx = modbus_new_tcp(bus->host, bus->port);
    } else if (kind->addressing == BUS_NETWORK) {
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

/* What arrived since the last transaction: read and dropped. */
static void drain(struct modbus_link *link)
{
    if (!link->rtu_over_tcp) {
        modbus_flush(link->ctx);
        return;
    }
    uint8_t junk[256];
    while (recv(modbus_get_socket(link->ctx), junk, sizeof(junk), MSG_DONTWAIT) > 0)
        ;
}

static bool is_exception(int err)
{
    return err > MODBUS_ENOBASE && err <= EMBXGTAR;
}

/* One raw request and its reply, judged by modbus_reply_check. Returns 0
 * or an errno value. Raw requests carry transaction id 0 on TCP. */
static int read_once(struct modbus_link *link, const struct modbus_request *rq, uint16_t *dest)
{
    /* Bytes that arrived since the last transaction (a late reply, line
     * noise) would be read as the start of this one's answer. */
    if (link->rtu_framing)
        drain(link);
    uint8_t pdu[6], rsp[MODBUS_MAX_ADU_LENGTH];
    int n = modbus_request_encode(rq, pdu);
    if (modbus_send_raw_request(link->ctx, pdu, n) < 0)
        return errno;
    int len = modbus_receive_confirmation(link->ctx, rsp);
    if (len < 0)
        return errno;
    /* On RTU libmodbus passes over a frame for another unit as length 0. */
    if (len == 0)
        return EMBBADSLAVE;
    return modbus_reply_check(rq, !link->rtu_framing, 0, rsp, len, dest);
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
    }
    link->connected = *fresh = true;
    return LINK_OK;
}

enum link_result link_read(struct modbus_link *link, int unit_id, int function, int address,
                           int count, int64_t timeout_ms, uint16_t *dest, char *why,
                           size_t why_size)
{
    modbus_t *ctx = link->ctx;
    bool fresh;
    if (link_connect(link, &fresh, why, why_size) != LINK_OK)
        return LINK_IO;
    /* libmodbus refuses some ids on TCP (248 to 254) and would keep the
     * previous device's: the config rejects them, this is the backstop. */
    if (modbus_set_slave(ctx, unit_id) != 0) {
        snprintf(why, why_size, "unit %d on %s: libmodbus refuses this unit id: %s", unit_id,
                 link->label, modbus_strerror(errno));
        return LINK_IO;
    }
    /* With the byte timeout off, libmodbus lets the response timeout run
     * down across the whole reply (set in link_create): a device that
     * dribbles its answer cannot hold the bus longer than this. */
    modbus_set_response_timeout(ctx, (uint32_t)(timeout_ms / 1000),
                                (uint32_t)(timeout_ms % 1000) * 1000);
    struct modbus_request rq = {
        .unit_id = unit_id, .function = function, .address = address, .count = count};
    int err = read_once(link, &rq, dest);
    /* On a shared RS-485 line a slow unit's late answer can land in the
     * next unit's transaction. That frame says nothing about this device:
     * drop it and ask once more instead of failing a healthy neighbour. */
    if (err == EMBBADSLAVE && link->rtu_framing)
        err = read_once(link, &rq, dest);
    if (err == 0)
        return LINK_OK;
    snprintf(why, why_size, "%s %d..%d from unit %d on %s: %s", function_names[function], address,
             address + count - 1, unit_id, link->label,
             err == EMBBADSLAVE ? "reply from another unit id" : modbus_strerror(err));
    if (is_exception(err))
        return LINK_EXCEPTION;
    /* After a timeout or a reply that does not fit, more bytes may still
     * arrive and would be taken for the reply to the next request: start
     * the next one on a clean line. */
    if (link->rtu_framing && !link->rtu_over_tcp)
        modbus_flush(ctx);
    else
        link_close(link); /* a stream: reconnecting is the clean start */
    return LINK_IO;
}
