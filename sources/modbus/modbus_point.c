#include "sources/modbus/modbus_point.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODBUS_ADDRESS_SPACE 65536

#define KEY(name, kind, field, min, max, choices, required)                                        \
    {                                                                                              \
        name, kind, offsetof(struct modbus_point, field),                                          \
            sizeof(((struct modbus_point *)0)->field), min, max, choices, required                 \
    }

static const struct source_key keys[] = {
    KEY("function", SOURCE_KEY_CHOICE, table, 0, 0, function_names, true),
    KEY("address", SOURCE_KEY_INT, address, 0, 65535, NULL, true),
    KEY("type", SOURCE_KEY_CHOICE, type, 0, 0, data_type_names, true),
    KEY("word_order", SOURCE_KEY_CHOICE, word_order, 0, 0, word_order_names, false),
    KEY("write_function", SOURCE_KEY_INT, write_code, 5, 16, NULL, false),
};
const struct source_keys modbus_point_keys = {keys, sizeof(keys) / sizeof(keys[0])};

/* What the type holds; integers above 2^53 are not exact in a double and
 * are refused rather than rounded. */
static void type_range(int type, double *lo, double *hi)
{
    static const double exact = 9007199254740992.0; /* 2^53 */
    static const struct {
        double lo, hi;
    } ranges[] = {
        [DT_BOOL] = {0, 1},
        [DT_INT16] = {-32768, 32767},
        [DT_UINT16] = {0, 65535},
        [DT_INT32] = {-2147483648.0, 2147483647.0},
        [DT_UINT32] = {0, 4294967295.0},
        [DT_INT64] = {-exact, exact},
        [DT_UINT64] = {0, exact},
        [DT_FLOAT32] = {-3.4028234663852886e38, 3.4028234663852886e38},
        [DT_FLOAT64] = {-INFINITY, INFINITY},
    };
    *lo = ranges[type].lo;
    *hi = ranges[type].hi;
}

struct source_value modbus_point_value(const struct source_point *point)
{
    const struct modbus_point *p = modbus_point(point);
    bool binary = p->table == FN_COIL || p->table == FN_DISCRETE_INPUT || p->type == DT_BOOL;
    bool is_float = p->type == DT_FLOAT32 || p->type == DT_FLOAT64;
    struct source_value v = {
        .type = data_type_names[p->type],
        .bits = binary || is_float ? 0 : 16 * data_type_width(p->type),
        .integral = !is_float,
        .is_signed = p->type == DT_INT16 || p->type == DT_INT32 || p->type == DT_INT64 || is_float,
        .binary = binary,
        .single_float = p->type == DT_FLOAT32,
        .writable = p->table == FN_COIL || p->table == FN_HOLDING_REGISTER,
    };
    type_range(binary ? DT_BOOL : p->type, &v.raw_min, &v.raw_max);
    return v;
}

size_t modbus_point_describe(const struct source_point *point, struct source_field *out)
{
    const struct modbus_point *p = modbus_point(point);
    size_t n = 0;
    out[n++] = (struct source_field){"data_type", data_type_names[p->type], 0};
    out[n++] = (struct source_field){"function", function_names[p->table], 0};
    out[n++] = (struct source_field){"address", NULL, p->address};
    if (data_type_width(p->type) > 1)
        out[n++] = (struct source_field){"word_order", word_order_names[p->word_order], 0};
    return n;
}

struct source_order modbus_point_order(const struct source_point *point)
{
    const struct modbus_point *p = modbus_point(point);
    return (struct source_order){p->table, p->address};
}

void modbus_point_name(const struct source_point *point, char *buf, size_t size)
{
    const struct modbus_point *p = modbus_point(point);
    snprintf(buf, size, "%s %d", function_names[p->table], p->address);
}

static size_t add(struct source_problem *out, size_t max, size_t found, size_t point,
                  const char *key, size_t other, bool warning, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

static size_t add(struct source_problem *out, size_t max, size_t found, size_t point,
                  const char *key, size_t other, bool warning, const char *fmt, ...)
{
    if (found < max) {
        out[found] = (struct source_problem){point, key, other, warning, ""};
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out[found].why, sizeof(out[found].why), fmt, ap);
        va_end(ap);
    }
    return found + 1;
}

/* The write function codes a table takes, and whether they write one
 * item only (FC 5 one coil, FC 6 one register). */
static const char *write_code_misfit(const struct modbus_point *p)
{
    bool coil = p->table == FN_COIL;
    if (!p->write_code || (p->table != FN_COIL && p->table != FN_HOLDING_REGISTER))
        return NULL;
    if (coil ? p->write_code != 5 && p->write_code != 15
             : p->write_code != 6 && p->write_code != 16)
        return coil ? "a coil is written with function 5 or 15"
                    : "a register is written with function 6 or 16";
    if (p->write_code == 6 && modbus_point_width(p) > 1)
        return "function 6 writes one register; this type takes more: use 16";
    return NULL;
}

/* The most common field mistake (docs/devices): the register number from
 * a manual's table (40001 = the first holding register) written where the
 * address on the wire belongs. Valid, so only a warning. */
static size_t manual_address(const struct modbus_point *p, size_t i, struct source_problem *out,
                             size_t max, size_t found)
{
    int base = p->table == FN_HOLDING_REGISTER ? 40001 : p->table == FN_INPUT_REGISTER ? 30001 : 0;
    if (!base || p->address < base || p->address > base + 9998)
        return found;
    return add(out, max, found, i, "address", SIZE_MAX, true,
               "%d looks like a register number from a manual's table (%dxxxx); the address on "
               "the wire is counted from 0, here most likely %d",
               p->address, base / 10000, p->address - base);
}

/* What a write to the point needs: a function code that fits its table
 * (whether the table takes writes at all is source_value.writable). */
static size_t check_write(const struct modbus_point *p, bool writable, size_t i,
                          struct source_problem *out, size_t max, size_t found)
{
    if (!writable)
        return p->write_code ? add(out, max, found, i, "write_function", SIZE_MAX, false,
                                   "needs writable = true")
                             : found;
    const char *misfit = write_code_misfit(p);
    return misfit ? add(out, max, found, i, "write_function", SIZE_MAX, false, "%d: %s",
                        p->write_code, misfit)
                  : found;
}

static size_t check_one(const struct modbus_point *p, size_t i, struct source_problem *out,
                        size_t max, size_t found)
{
    if (function_reads_bits(p->table) && p->type != DT_BOOL)
        found = add(out, max, found, i, "type", SIZE_MAX, false,
                    "a %s carries one bit, so the type must be bool", function_names[p->table]);
    if (p->address + data_type_width(p->type) > MODBUS_ADDRESS_SPACE)
        found =
            add(out, max, found, i, "address", SIZE_MAX, false,
                "%s at %d runs past the last address 65535", data_type_names[p->type], p->address);
    return manual_address(p, i, out, max, found);
}

struct placed {
    const struct modbus_point *p;
    size_t index;
};

static int by_table_address(const void *a, const void *b)
{
    const struct placed *x = a, *y = b;
    if (x->p->table != y->p->table)
        return x->p->table - y->p->table;
    if (x->p->address != y->p->address)
        return x->p->address - y->p->address;
    return x->index < y->index ? -1 : 1;
}

size_t modbus_points_check(const struct source_point *points, const bool *writable, size_t n,
                           struct source_problem *out, size_t max)
{
    size_t found = 0;
    struct placed *sorted = calloc(n + 1, sizeof(*sorted));
    for (size_t i = 0; i < n; i++) {
        found = check_one(modbus_point(&points[i]), i, out, max, found);
        found = check_write(modbus_point(&points[i]), writable && writable[i], i, out, max, found);
        if (sorted)
            sorted[i] = (struct placed){modbus_point(&points[i]), i};
    }
    if (!sorted)
        return found;
    qsort(sorted, n, sizeof(*sorted), by_table_address);
    for (size_t i = 1; i < n; i++) {
        const struct modbus_point *prev = sorted[i - 1].p, *p = sorted[i].p;
        int prev_end = prev->address + modbus_point_width(prev);
        if (prev->table == p->table && p->address < prev_end)
            found = add(out, max, found, sorted[i].index, "address", sorted[i - 1].index, false,
                        "%s %d overlaps %s %d..%d", function_names[p->table], p->address,
                        function_names[prev->table], prev->address, prev_end - 1);
    }
    free(sorted);
    return found;
}
