#include "drivers/modbus_link.h"

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

static int read_bits_widened(modbus_t *ctx, int function, int address, int count, uint16_t *dest)
{
    uint8_t bits[2000];
    int n = function == FN_COIL ? modbus_read_bits(ctx, address, count, bits)
                                : modbus_read_input_bits(ctx, address, count, bits);
    for (int i = 0; i < n; i++)
        dest[i] = bits[i] ? 1 : 0;
    return n;
}

static int read_once(struct modbus_link *link, int function, int address, int count, uint16_t *dest)
{
    /* Bytes that arrived since the last transaction (a late reply, line
     * noise) would be read as the start of this one's answer. */
    if (!link->is_tcp)
        modbus_flush(link->ctx);
    switch (function) {
    case FN_HOLDING_REGISTER:
        return modbus_read_registers(link->ctx, address, count, dest);
    case FN_INPUT_REGISTER:
        return modbus_read_input_registers(link->ctx, address, count, dest);
    default:
        return read_bits_widened(link->ctx, function, address, count, dest);
    }
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
    modbus_set_slave(ctx, unit_id);
    modbus_set_response_timeout(ctx, (uint32_t)(timeout_ms / 1000),
                                (uint32_t)(timeout_ms % 1000) * 1000);
    int n = read_once(link, function, address, count, dest);
    /* On a shared RS-485 line a slow unit's late answer can land in the
     * next unit's transaction. That frame says nothing about this device:
     * drop it and ask once more instead of failing a healthy neighbour. */
    if (n < 0 && errno == EMBBADSLAVE && !link->is_tcp)
        n = read_once(link, function, address, count, dest);
    if (n == count)
        return LINK_OK;
    int err = n < 0 ? errno : EMBMDATA;
    snprintf(why, why_size, "%s %d..%d from unit %d on %s: %s", function_names[function], address,
             address + count - 1, unit_id, link->label, modbus_strerror(err));
    if (is_exception(err))
        return LINK_EXCEPTION;
    /* After a timeout a late answer may still arrive and would be taken for
     * the reply to the next request: start the next one on a clean line. */
    if (link->is_tcp) {
        modbus_close(ctx);
        link->connected = false;
    } else {
        modbus_flush(ctx);
    }
    return LINK_IO;
}
