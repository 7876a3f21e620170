/* Simulated Vaisala GMP252 CO2 probe, Modbus holding registers
 * (docs/devices/gmp252.md): float32 with the least significant word first.
 * At the k-th read:
 *   0x0000 CO2 (ppm)          400 + 2.5 (k mod 200)
 *   0x0004 temperature (°C)   20 + 0.125 (k mod 80)
 *   0x0800 device status      0 (OK) */
#include "firmware-stubs/stub_server.h"
#include "firmware-stubs/stub_values.h"

static long reads;

static int on_request(modbus_mapping_t *map, int function, int address, int count)
{
    (void)address;
    (void)count;
    if (function != MODBUS_FC_READ_HOLDING_REGISTERS)
        return 0;
    long k = reads++;
    put_float_low_word_first(&map->tab_registers[0x0000], 400.0f + 2.5f * (float)(k % 200));
    put_float_low_word_first(&map->tab_registers[0x0004], 20.0f + 0.125f * (float)(k % 80));
    return 0;
}

int main(int argc, char **argv)
{
    static const struct stub_model model = {
        .name = "gmp252",
        .options_help = "  (none; the probe's factory address is 240: pass --unit 240)\n",
        .nb_registers = 0x0802,
        .on_request = on_request,
        .reads = &reads,
    };
    return stub_run(argc, argv, &model);
}
