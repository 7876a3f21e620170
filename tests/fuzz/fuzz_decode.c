/* Fuzz target: the register decoder with any register words, type, word
 * order. Besides not crashing, every finite value of a
 * 16- or 32-bit type must survive encode -> decode unchanged: the stubs put
 * values on the wire with encode_registers, so the two must agree. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "sources/modbus/decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 + 8)
        return 0;
    enum data_type type = (enum data_type)(data[0] % (DT_FLOAT64 + 1));
    enum word_order order = (enum word_order)(data[1] % (WO_DCBA + 1));
    uint16_t regs[4];
    for (int i = 0; i < 4; i++)
        regs[i] = (uint16_t)(data[2 + 2 * i] << 8 | data[3 + 2 * i]);
    double raw;
    if (decode_registers(regs, type, order, &raw) != DECODE_OK)
        return 0;
    if (!isfinite(raw))
        abort(); /* DECODE_OK promises a finite number */
    if (type == DT_BOOL || type == DT_INT64 || type == DT_UINT64 || type == DT_FLOAT64)
        return 0;
    uint16_t again[4] = {0};
    double back;
    encode_registers(raw, type, order, again);
    if (decode_registers(again, type, order, &back) != DECODE_OK || back != raw)
        abort();
    return 0;
}
