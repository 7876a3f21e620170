/* Turning Modbus registers into numbers.
 *
 * Values are assembled byte by byte from the register words rather than
 * through libmodbus's float helpers, whose word order conventions changed
 * between releases. */
#ifndef GW_DECODE_H
#define GW_DECODE_H

#include <stdint.h>

#include "sources/modbus/point_types.h"

enum decode_status { DECODE_OK, DECODE_NOT_FINITE };

/* Reads data_type_width(type) registers from regs; bool is "any bit set".
 * Integers wider than 53 bits lose precision in the double, as they would
 * in any JSON consumer. float32 values come back as the double nearest to
 * their shortest decimal form, so 21.3f reports as 21.3 and not
 * 21.299999237060547. */
enum decode_status decode_registers(const uint16_t *regs, enum data_type type,
                                    enum word_order order, double *out);

/* Inverse of decode_registers for integer and float types, used by the
 * firmware stubs and the tests to put a value on the wire. */
void encode_registers(double value, enum data_type type, enum word_order order, uint16_t *regs);

#endif
