/* Inside the Modbus source: what modbus_source.c (buses, devices, the
 * blocking operations over libmodbus) and modbus_steps.c (Modbus TCP in
 * steps) share. Not for use outside sources/modbus/. */
#ifndef GW_MODBUS_SOURCE_INTERNAL_H
#define GW_MODBUS_SOURCE_INTERNAL_H

#include "sources/modbus/mbap_conn.h"
#include "sources/modbus/modbus_link.h"
#include "sources/modbus/modbus_point.h"
#include "sources/modbus/modbus_reply.h"
#include "sources/modbus/read_plan.h"
#include "sources/source.h"

enum modbus_op_kind { OP_NONE, OP_POLL, OP_WRITE };

/* The operation under way on a bus driven in steps. */
struct modbus_op {
    enum modbus_op_kind kind;
    struct modbus_device *device;
    struct source_poll *poll;   /* a poll: the plan's requests in turn */
    struct source_write *write; /* a write, then its read-back */
    const struct source_trace *trace;
    size_t next; /* the poll's request under way */
    size_t point;
    enum source_result result;
    struct modbus_request rq;
    uint16_t words[4]; /* the values a write sends */
    int64_t began_us;  /* of the request under way (traced), or of the write */
};

struct modbus_bus {
    struct modbus_link *link; /* RTU framing: a serial line, or a converter over TCP */
    struct mbap_conn *mbap;   /* Modbus TCP, driven in steps */
    struct modbus_op op;
    uint16_t regs[READ_PLAN_MAX_BITS]; /* one request's reply */
};

struct modbus_device {
    struct source_device cfg;
    struct link_device link;
    struct source_point *points;
    struct read_plan plan;
};

/* One request's registers into the poll's samples, in the plan's order. */
void decode_request(const struct modbus_bus *b, const struct modbus_device *d,
                    const struct read_request *rq, struct source_poll *out);
void trace_request(const struct source_trace *trace, const struct read_request *rq,
                   const uint16_t *regs, enum source_result res, const char *why, int64_t took_us);
/* The function code a point is written with. */
int write_code_of(const struct modbus_point *p, int width);

/* source_ops.steps: Modbus TCP buses only. */
const struct source_steps *modbus_steps_of(const struct bus_kind *kind);
/* The same steps run to the end on the calling thread (probe, scan,
 * the technician's write). */
enum source_result modbus_poll_blocking(struct modbus_bus *b, struct modbus_device *d,
                                        struct source_poll *out, const struct source_trace *trace);
enum source_result modbus_write_blocking(struct modbus_bus *b, struct modbus_device *d,
                                         size_t point, double raw, struct source_write *io);
enum source_result modbus_read_blocking(struct modbus_bus *b, const struct link_device *dev,
                                        int function, int address, int count, char *why,
                                        size_t why_size);

#endif
