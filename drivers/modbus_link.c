#include "drivers/modbus_link.h"
#include "drivers/modbus_reply.h"

#include <errno.h>
#include <modbus/modbus.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct modbus_link {
    modbus_t *ctx;
    bool connected;
    bool is_tcp;
    char label[CFG_TEXT_MAX + 16];
};

struct modbus_link *link_create(const struct bus_config *bus)
{
    struct modbus_link *link = calloc(1, sizeof(*link));
    if (!link)
        return NULL;
    static const char parity_letter[] = {'N', 'E', 'O'};
    if (bus->kind == BUS_TCP) {
        link->ctx = modbus_new_tcp(bus->host, bus->port);
        link->is_tcp = true;
        snprintf(link->label, sizeof(link->label), "%s:%d", bus->host, bus->port);
    } else {
        link->ctx = modbus_new_rtu(bus->device, bus->baud, parity_letter[bus->parity],
                                   bus->data_bits, bus->stop_bits);
        snprintf(link->label, sizeof(link->label), "%s", bus->device);
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

struct modbus_link *link_create_on_fd(const struct bus_config *bus, int fd)
{
    struct modbus_link *link = link_create(bus);
    if (!link)
        return NULL;
    modbus_set_socket(link->ctx, fd);
    link->connected = true;
    return link;
}

void link_destroy(struct modbus_link *link)
{
    if (!link)
        return;
    if (link->connected)
        modbus_close(link->ctx);
    modbus_free(link->ctx);
    free(link);
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
    if (!link->is_tcp)
        modbus_flush(link->ctx);
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
    return modbus_reply_check(rq, link->is_tcp, 0, rsp, len, dest);
}

enum link_result link_connect(struct modbus_link *link, bool *fresh, char *why, size_t why_size)
{
    *fresh = false;
    if (link->connected)
        return LINK_OK;
    if (modbus_connect(link->ctx) != 0) {
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
    if (err == EMBBADSLAVE && !link->is_tcp)
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
    if (link->is_tcp) {
        modbus_close(ctx);
        link->connected = false;
    } else {
        modbus_flush(ctx);
    }
    return LINK_IO;
}
