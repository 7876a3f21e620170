#include "sources/modbus/modbus_source.h"
#include "core/clock.h"
#include "sources/modbus/decode.h"
#include "sources/modbus/line_timing.h"
#include "sources/modbus/mbap_conn.h"
#include "sources/modbus/modbus_link.h"
#include "sources/modbus/modbus_source_internal.h"
#include "sources/modbus/modbus_point.h"
#include "sources/modbus/read_plan.h"

#include <modbus/modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const enum source_result from_link[] = {
    [LINK_OK] = SOURCE_OK,
    [LINK_EXCEPTION] = SOURCE_REFUSED,
    [LINK_IO] = SOURCE_IO,
};

static void *bus_open(const struct bus_config *bus, const struct bus_kind *kind)
{
    struct modbus_bus *b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    if (kind->variant == MODBUS_MBAP)
        b->mbap = mbap_conn_create(bus->host, bus->port);
    else
        b->link = link_create(bus, kind);
    if (!b->mbap && !b->link) {
        free(b);
        return NULL;
    }
    return b;
}

static void bus_close(void *bus)
{
    struct modbus_bus *b = bus;
    if (!b)
        return;
    link_destroy(b->link);
    mbap_conn_destroy(b->mbap);
    free(b);
}

static void device_remove(void *device)
{
    struct modbus_device *d = device;
    if (!d)
        return;
    read_plan_free(&d->plan);
    free(d->points);
    free(d);
}

static void *device_add(const struct source_device *cfg, const struct source_point *points,
                        size_t count)
{
    struct modbus_device *d = calloc(1, sizeof(*d));
    struct plan_point *pp = calloc(count + 1, sizeof(*pp));
    if (d)
        d->points = calloc(count + 1, sizeof(*d->points));
    if (!d || !pp || !d->points) {
        free(pp);
        device_remove(d);
        return NULL;
    }
    d->cfg = *cfg;
    d->link = (struct link_device){.unit_id = cfg->unit_id,
                                   .timeout_ms = cfg->response_timeout_ms,
                                   .pause_ms = cfg->pause_between_requests_ms,
                                   .quiet_after_ms = cfg->quiet_after_reply_ms,
                                   .after_connect_ms = cfg->pause_after_connect_ms};
    memcpy(d->points, points, count * sizeof(*points));
    for (size_t i = 0; i < count; i++) {
        const struct modbus_point *p = modbus_point(&points[i]);
        pp[i] = (struct plan_point){p->table, p->address, modbus_point_width(p)};
    }
    struct read_limits limits = {cfg->max_per_request, cfg->max_gap, cfg->single_requests};
    int rc = read_plan_build(pp, count, &limits, &d->plan);
    free(pp);
    if (rc != 0) {
        device_remove(d);
        return NULL;
    }
    return d;
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

void decode_request(const struct modbus_bus *b, const struct modbus_device *d,
                    const struct read_request *rq, struct source_poll *out)
{
    for (size_t k = 0; k < rq->n_points; k++) {
        size_t idx = d->plan.order[rq->first + k];
        const struct modbus_point *p = modbus_point(&d->points[idx]);
        struct source_sample *s = &out->samples[out->count++];
        s->point = (uint32_t)idx;
        s->raw = 0;
        s->ok = decode_registers(&b->regs[p->address - rq->address], p->type, p->word_order,
                                 &s->raw) == DECODE_OK;
    }
}

void trace_request(const struct source_trace *trace, const struct read_request *rq,
                   const uint16_t *regs, enum source_result res, const char *why, int64_t took_us)
{
    char what[64];
    snprintf(what, sizeof(what), "%s %d..%d", function_names[rq->function], rq->address,
             rq->address + rq->count - 1);
    trace->request(trace->ctx, what, regs, rq->count, res, why, took_us);
}

/* One request of the plan (the link keeps the line's silences and the
 * device's pause before it). */
static enum link_result read_one(struct modbus_bus *b, const struct modbus_device *d,
                                 const struct read_request *rq, char *why, size_t why_size,
                                 const struct source_trace *trace)
{
    int64_t began = trace ? clock_mono_us() : 0;
    enum link_result res =
        link_read(b->link, &d->link, rq->function, rq->address, rq->count, b->regs, why, why_size);
    if (trace)
        trace_request(trace, rq, b->regs, from_link[res], why, clock_mono_us() - began);
    return res;
}

static enum source_result device_poll(void *bus, void *device, struct source_poll *out,
                                      const struct source_trace *trace)
{
    struct modbus_bus *b = bus;
    struct modbus_device *d = device;
    if (b->mbap)
        return modbus_poll_blocking(b, d, out, trace);
    enum source_result result = SOURCE_OK;
    bool fresh = false;
    out->count = 0;
    out->why[0] = '\0';
    /* A connection that cannot be made fails the poll like a request
     * would; trying it again for the first request would double the wait. */
    enum link_result connected = link_connect(b->link, &fresh, out->why, sizeof(out->why));
    if (connected == LINK_OK && fresh && d->cfg.pause_after_connect_ms > 0)
        sleep_ms(d->cfg.pause_after_connect_ms);
    out->ts_ms = clock_wall_ms();
    for (size_t i = 0; i < d->plan.request_count; i++) {
        const struct read_request *rq = &d->plan.requests[i];
        enum link_result res = connected;
        if (connected == LINK_OK)
            res = read_one(b, d, rq, out->why, sizeof(out->why), trace);
        else if (trace)
            trace_request(trace, rq, b->regs, from_link[res], out->why, 0);
        if (res == LINK_OK) {
            decode_request(b, d, rq, out);
            continue;
        }
        result = from_link[res];
        /* On a shared line every further request would wait for the same
         * timeout: give the line back to the other devices. */
        if (res == LINK_IO)
            break;
    }
    out->stray_bytes = link_take_stray_bytes(b->link);
    return result;
}

/* The function code a point is written with when its section names none:
 * a coil by FC 5, a one-register value by FC 6, a wider one by FC 16. */
int write_code_of(const struct modbus_point *p, int width)
{
    if (p->write_code)
        return p->write_code;
    if (p->table == FN_COIL)
        return width == 1 ? MODBUS_FC_WRITE_SINGLE_COIL : MODBUS_FC_WRITE_MULTIPLE_COILS;
    return width == 1 ? MODBUS_FC_WRITE_SINGLE_REGISTER : MODBUS_FC_WRITE_MULTIPLE_REGISTERS;
}

static enum source_result device_write(void *bus, void *device, size_t point, double raw,
                                       struct source_write *io)
{
    struct modbus_bus *b = bus;
    struct modbus_device *d = device;
    if (b->mbap)
        return modbus_write_blocking(b, d, point, raw, io);
    const struct modbus_point *p = modbus_point(&d->points[point]);
    bool bits = function_reads_bits(p->table);
    int width = modbus_point_width(p);
    uint16_t words[4] = {0};
    if (bits)
        words[0] = raw != 0;
    else
        encode_registers(raw, p->type, p->word_order, words);
    int64_t began = clock_mono_us();
    io->have_value = false;
    io->why[0] = '\0';
    enum link_result res = link_write(b->link, &d->link, p->table, write_code_of(p, width),
                                      p->address, width, words, io->why, sizeof(io->why));
    if (res == LINK_OK && io->read_back) {
        res = link_read(b->link, &d->link, p->table, p->address, width, b->regs, io->why,
                        sizeof(io->why));
        io->have_value = res == LINK_OK && decode_registers(b->regs, p->type, p->word_order,
                                                            &io->value_raw) == DECODE_OK;
    }
    io->took_us = clock_mono_us() - began;
    return from_link[res];
}

/* What planning assumes a unit takes to start its reply; real units take
 * 1 to 50 ms, most a few (docs/design.md, "A budget per line"). */
#define ASSUMED_TURNAROUND_US 5000

static int device_poll_cost(const struct bus_config *bus, const struct bus_kind *kind,
                            const struct source_device *cfg, const struct source_point *points,
                            size_t count, struct poll_cost *out)
{
    if (!kind->shared_line)
        return -1;
    struct modbus_device *d = device_add(cfg, points, count);
    if (!d)
        return -1;
    struct line_timing t = line_timing_of(bus->baud, bus->parity, bus->data_bits, bus->stop_bits);
    int64_t after =
        cfg->quiet_after_reply_ms * 1000 > t.t35_us ? cfg->quiet_after_reply_ms * 1000 : t.t35_us;
    *out = (struct poll_cost){.requests = (int)d->plan.request_count};
    for (size_t i = 0; i < d->plan.request_count; i++) {
        const struct read_request *rq = &d->plan.requests[i];
        int64_t least = rtu_read_min_us(&t, rq->function, rq->count);
        out->line_us +=
            least + ASSUMED_TURNAROUND_US + after + cfg->pause_between_requests_ms * 1000;
        if (least > out->shortest_transaction_us) {
            out->shortest_transaction_us = least;
            snprintf(out->longest, sizeof(out->longest), "%s %d..%d", function_names[rq->function],
                     rq->address, rq->address + rq->count - 1);
        }
    }
    device_remove(d);
    return 0;
}

/* `sensor-gateway scan`: most unit ids are empty, so a short timeout and
 * a short listen after each silence keep a scan near 247 x 200 ms while
 * still hearing out a late reply's start. Holding register 0 is asked; an
 * exception counts as an answer (the unit is there, the register not). */
#define SCAN_TIMEOUT_MS 200
#define SCAN_LATE_LISTEN_MS 30

static int bus_scan(void *bus, int first, int last, const struct source_scan *report)
{
    struct modbus_bus *b = bus;
    int found = 0;
    char why[256], how[300];
    for (int unit = first; unit <= last; unit++) {
        if (report->asking)
            report->asking(report->ctx, unit);
        struct link_device dev = {
            .unit_id = unit, .timeout_ms = SCAN_TIMEOUT_MS, .late_listen_ms = SCAN_LATE_LISTEN_MS};
        enum source_result res =
            b->mbap ? modbus_read_blocking(b, &dev, FN_HOLDING_REGISTER, 0, 1, why, sizeof(why))
                    : from_link[link_read(b->link, &dev, FN_HOLDING_REGISTER, 0, 1, b->regs, why,
                                          sizeof(why))];
        if (res == SOURCE_IO)
            continue;
        found++;
        if (res == SOURCE_OK)
            snprintf(how, sizeof(how), "answers (holding register 0 = %u)", b->regs[0]);
        else
            snprintf(how, sizeof(how), "answers with an exception (%s)", why);
        report->answered(report->ctx, unit, how);
    }
    return found;
}

/* Units 1 to 247 on a line (0 is broadcast); libmodbus refuses 248 to
 * 254 on TCP (modbus_set_slave fails). */
static int check_unit(const struct bus_kind *kind, int unit, char *why, size_t size)
{
    if (kind->variant == MODBUS_RTU && (unit < 1 || unit > 247)) {
        snprintf(why, size, "%d is out of range for an %s bus (1 to 247; 0 is broadcast)", unit,
                 kind->name);
        return -1;
    }
    if (kind->variant != MODBUS_RTU && unit >= 248 && unit <= 254) {
        snprintf(why, size, "%d cannot be used on a tcp bus (0 to 247, or 255)", unit);
        return -1;
    }
    return 0;
}

const struct source_ops modbus_source = {
    .open = bus_open,
    .close = bus_close,
    .add_device = device_add,
    .remove_device = device_remove,
    .poll = device_poll,
    .write = device_write,
    .steps = modbus_steps_of,
    .poll_cost = device_poll_cost,
    .check_address = check_unit,
    .point_keys = &modbus_point_keys,
    .value_of = modbus_point_value,
    .describe = modbus_point_describe,
    .order_of = modbus_point_order,
    .name_of = modbus_point_name,
    .check_points = modbus_points_check,
    .scan = bus_scan,
};
