/* Simulated KELLER Series 30 pressure/level transmitter, Modbus holding
 * registers (docs/devices/keller-s30.md): float32, high word first.
 * At the k-th read:
 *   0x0100 P1 pressure (bar)      0.5 + (k mod 128) / 128
 *   0x0102 TOB1 temperature (°C)  8 + 0.25 (k mod 40)
 * Quirk of the real device: a read that starts or ends inside a float is
 * refused with exception 2 (illegal data address). */
#include "firmware-stubs/stub_server.h"
#include "firmware-stubs/stub_values.h"

#include <stdbool.h>

#define FLOATS_START 0x0100
#define FLOATS_END 0x0104

static long reads;

static int splits_a_float(int address, int count)
{
    int end = address + count;
    bool inside_start = address > FLOATS_START && address < FLOATS_END && (address % 2) != 0;
    bool inside_end = end > FLOATS_START && end < FLOATS_END && (end % 2) != 0;
    return inside_start || inside_end;
}

static int on_request(modbus_mapping_t *map, int function, int address, int count)
{
    if (function != MODBUS_FC_READ_HOLDING_REGISTERS)
        return 0;
    if (splits_a_float(address, count))
        return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    long k = reads++;
    put_float_high_word_first(&map->tab_registers[0x0100], 0.5f + (float)(k % 128) / 128.0f);
    put_float_high_word_first(&map->tab_registers[0x0102], 8.0f + 0.25f * (float)(k % 40));
    return 0;
}

int main(int argc, char **argv)
{
    static const struct stub_model model = {
        .name = "keller-s30",
        .options_help = "  (none)\n",
        .nb_registers = 0x0110,
        .on_request = on_request,
        .reads = &reads,
    };
    return stub_run(argc, argv, &model);
}
