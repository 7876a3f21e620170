/* A Modbus point as the Modbus source keeps it inside struct source_point:
 * which table, which address, how the registers make a number, and the
 * function code a write uses. Its INI keys, its checks and its value's
 * facts are modbus_point.c; nothing above sources/ sees this struct. */
#ifndef GW_MODBUS_POINT_H
#define GW_MODBUS_POINT_H

#include "sources/modbus/point_types.h"
#include "sources/source.h"

struct modbus_point {
    int table;      /* enum point_function: coil, discrete input, holding or input register */
    int address;    /* 0..65535, as on the wire */
    int type;       /* enum data_type */
    int word_order; /* enum word_order */
    int write_code; /* 5, 6, 15 or 16; 0: the usual for the table and width */
};

_Static_assert(sizeof(struct modbus_point) <= SOURCE_POINT_BYTES,
               "a Modbus point fits a source_point");

static inline const struct modbus_point *modbus_point(const struct source_point *p)
{
    return (const struct modbus_point *)(const void *)p->bytes;
}

static inline struct modbus_point *modbus_point_mut(struct source_point *p)
{
    return (struct modbus_point *)(void *)p->bytes;
}

/* Registers (or bits, for a coil or discrete input: 1) the value takes. */
static inline int modbus_point_width(const struct modbus_point *p)
{
    return function_reads_bits(p->table) ? 1 : data_type_width(p->type);
}

extern const struct source_keys modbus_point_keys;
struct source_value modbus_point_value(const struct source_point *point);
size_t modbus_point_describe(const struct source_point *point, struct source_field *out);
struct source_order modbus_point_order(const struct source_point *point);
void modbus_point_name(const struct source_point *point, char *buf, size_t size);
size_t modbus_points_check(const struct source_point *points, const bool *writable, size_t n,
                           struct source_problem *out, size_t max);

#endif
