/* Simulated Eastron SDM630 energy meter, Modbus input registers
 * (docs/devices/sdm630.md): float32, high word first. At the k-th read:
 *   0x0000/02/04 voltage L1/L2/L3 (V)   230 / 231 / 229 + 0.5 (k mod 20)
 *   0x0006 current L1 (A)              5 + 0.25 (k mod 16)
 *   0x0034 total system power (W)      3000 + 12.5 (k mod 100)
 *   0x0046 frequency (Hz)              50 + (k mod 8) / 64
 *   0x0156 total import energy (kWh)   12345.5 + 0.25 k
 * Quirks of the real meter: more than 40 registers in one request are
 * refused (exception 3), as is a request that splits a float (exception 2). */
#include "firmware-stubs/stub_server.h"
#include "firmware-stubs/stub_values.h"

#define MAX_REGISTERS_PER_REQUEST 40

static long reads;

static int on_request(modbus_mapping_t *map, int function, int address, int count)
{
    if (function != MODBUS_FC_READ_INPUT_REGISTERS)
        return 0;
    if (count > MAX_REGISTERS_PER_REQUEST)
        return MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE;
    if (address % 2 || count % 2)
        return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
    long k = reads++;
    uint16_t *r = map->tab_input_registers;
    float step = 0.5f * (float)(k % 20);
    put_float_high_word_first(&r[0x0000], 230.0f + step);
    put_float_high_word_first(&r[0x0002], 231.0f + step);
    put_float_high_word_first(&r[0x0004], 229.0f + step);
    put_float_high_word_first(&r[0x0006], 5.0f + 0.25f * (float)(k % 16));
    put_float_high_word_first(&r[0x0034], 3000.0f + 12.5f * (float)(k % 100));
    put_float_high_word_first(&r[0x0046], 50.0f + (float)(k % 8) / 64.0f);
    put_float_high_word_first(&r[0x0156], 12345.5f + 0.25f * (float)k);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct stub_model model = {
        .name = "sdm630",
        .options_help = "  (none)\n",
        .nb_input_registers = 0x0160,
        .on_request = on_request,
        .reads = &reads,
    };
    return stub_run(argc, argv, &model);
}
