/* Modbus TCP in steps (source.h, struct source_steps): a poll is its read
 * plan's requests one after another on the bus's connection, a write is
 * the write and its read-back; each request is one mbap_conn transaction.
 * The event loop (gateway/poll_loop.c) drives them; the blocking forms
 * below drive the same steps with poll(2), so there is one Modbus TCP
 * path whoever calls. */
#include "core/clock.h"
#include "sources/modbus/decode.h"
#include "sources/modbus/modbus_source.h"
#include "sources/modbus/modbus_source_internal.h"

#include <poll.h>
#include <string.h>

static void begin_request(struct modbus_bus *b, struct source_step *step)
{
    struct modbus_op *op = &b->op;
    const struct read_request *rr = &op->device->plan.requests[op->next];
    op->rq = (struct modbus_request){.unit_id = op->device->cfg.unit_id,
                                     .function = rr->function,
                                     .address = rr->address,
                                     .count = rr->count};
    op->began_us = op->trace ? clock_mono_us() : 0;
    mbap_begin(b->mbap, &op->device->link, &op->rq, b->regs, op->poll->why, sizeof(op->poll->why),
               step);
}

/* Each request that ended (at once, or in a later step) is decoded and
 * the next begun, until one waits or the poll is over. A broken
 * connection ends the poll: the rest would only wait for it again. */
static void poll_steps(struct modbus_bus *b, struct source_step *step)
{
    struct modbus_op *op = &b->op;
    const struct read_plan *plan = &op->device->plan;
    while (step->done) {
        const struct read_request *rr = &plan->requests[op->next];
        if (op->next == 0 && step->result != SOURCE_IO)
            op->poll->ts_ms = mbap_sent_wall_ms(b->mbap);
        if (op->trace)
            trace_request(op->trace, rr, b->regs, step->result, op->poll->why,
                          clock_mono_us() - op->began_us);
        if (step->result == SOURCE_OK)
            decode_request(b, op->device, rr, op->poll);
        else
            op->result = step->result;
        if (step->result == SOURCE_IO || ++op->next == plan->request_count) {
            op->poll->stray_bytes = mbap_take_stray_bytes(b->mbap);
            step->result = op->result;
            op->kind = OP_NONE;
            return;
        }
        begin_request(b, step);
    }
}

static void begin_poll(struct modbus_bus *b, struct modbus_device *d, struct source_poll *out,
                       const struct source_trace *trace, struct source_step *step)
{
    b->op = (struct modbus_op){
        .kind = OP_POLL, .device = d, .poll = out, .trace = trace, .result = SOURCE_OK};
    out->count = 0;
    out->why[0] = '\0';
    out->ts_ms = clock_wall_ms();
    if (d->plan.request_count == 0) {
        b->op.kind = OP_NONE;
        *step = (struct source_step){.done = true, .result = SOURCE_OK, .fd = -1};
        return;
    }
    begin_request(b, step);
    poll_steps(b, step);
}

static void steps_poll(void *bus, void *device, struct source_poll *out, struct source_step *step)
{
    begin_poll(bus, device, out, NULL, step);
}

/* The write ended: read the point back if asked, then say what it holds. */
static void write_steps(struct modbus_bus *b, struct source_step *step)
{
    struct modbus_op *op = &b->op;
    struct source_write *io = op->write;
    if (!step->done)
        return;
    if (step->result == SOURCE_OK && io->read_back && op->rq.write_code) {
        op->rq.write_code = 0;
        op->rq.values = NULL;
        mbap_begin(b->mbap, &op->device->link, &op->rq, b->regs, io->why, sizeof(io->why), step);
        if (!step->done)
            return;
    }
    if (!op->rq.write_code && step->result == SOURCE_OK) {
        const struct modbus_point *p = modbus_point(&op->device->points[op->point]);
        io->have_value =
            decode_registers(b->regs, p->type, p->word_order, &io->value_raw) == DECODE_OK;
    }
    io->took_us = clock_mono_us() - op->began_us;
    op->kind = OP_NONE;
}

static void steps_write(void *bus, void *device, size_t point, double raw, struct source_write *io,
                        struct source_step *step)
{
    struct modbus_bus *b = bus;
    struct modbus_device *d = device;
    struct modbus_op *op = &b->op;
    const struct modbus_point *p = modbus_point(&d->points[point]);
    int width = modbus_point_width(p);
    *op = (struct modbus_op){
        .kind = OP_WRITE, .device = d, .write = io, .point = point, .began_us = clock_mono_us()};
    if (function_reads_bits(p->table))
        op->words[0] = raw != 0;
    else
        encode_registers(raw, p->type, p->word_order, op->words);
    op->rq = (struct modbus_request){.unit_id = d->cfg.unit_id,
                                     .function = p->table,
                                     .address = p->address,
                                     .count = width,
                                     .write_code = write_code_of(p, width),
                                     .values = op->words};
    io->have_value = false;
    io->why[0] = '\0';
    mbap_begin(b->mbap, &d->link, &op->rq, NULL, io->why, sizeof(io->why), step);
    write_steps(b, step);
}

static void steps_resume(void *bus, short revents, struct source_step *step)
{
    struct modbus_bus *b = bus;
    mbap_resume(b->mbap, revents, step);
    if (b->op.kind == OP_POLL)
        poll_steps(b, step);
    else if (b->op.kind == OP_WRITE)
        write_steps(b, step);
}

static const struct source_steps modbus_steps = {
    .poll = steps_poll,
    .write = steps_write,
    .resume = steps_resume,
};

const struct source_steps *modbus_steps_of(const struct bus_kind *kind)
{
    return kind->variant == MODBUS_MBAP ? &modbus_steps : NULL;
}

/* Waits on what each step waits for until the operation is done. */
static enum source_result run_to_end(struct modbus_bus *b, struct source_step *step)
{
    while (!step->done) {
        int64_t left_us = step->until_us - clock_mono_us();
        struct pollfd pfd = {.fd = step->fd, .events = step->events};
        int n = poll(&pfd, step->fd >= 0 ? 1 : 0, left_us > 0 ? (int)((left_us + 999) / 1000) : 0);
        steps_resume(b, n > 0 ? pfd.revents : 0, step);
    }
    return step->result;
}

enum source_result modbus_poll_blocking(struct modbus_bus *b, struct modbus_device *d,
                                        struct source_poll *out, const struct source_trace *trace)
{
    struct source_step step;
    begin_poll(b, d, out, trace, &step);
    return run_to_end(b, &step);
}

enum source_result modbus_write_blocking(struct modbus_bus *b, struct modbus_device *d,
                                         size_t point, double raw, struct source_write *io)
{
    struct source_step step;
    steps_write(b, d, point, raw, io, &step);
    return run_to_end(b, &step);
}

enum source_result modbus_read_blocking(struct modbus_bus *b, const struct link_device *dev,
                                        int function, int address, int count, char *why,
                                        size_t why_size)
{
    struct modbus_request rq = {
        .unit_id = dev->unit_id, .function = function, .address = address, .count = count};
    struct source_step step;
    b->op.kind = OP_NONE;
    mbap_begin(b->mbap, dev, &rq, b->regs, why, why_size, &step);
    return run_to_end(b, &step);
}
