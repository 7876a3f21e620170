/* Simulated QDY30A-style level probe, Modbus holding registers
 * (docs/devices/qdy30a.md). At the k-th read:
 *   0x0000 device address (the unit id)   0x0001 baud code 3 (9600)
 *   0x0002 unit code 1                    0x0003 decimal places: 3, or 2 while (k / 20) is odd
 *   0x0004 measured value, int16          1000 + (11k mod 2000)
 * so the level is value / 10^decimals, and the decimals change now and
 * then, as after an operator reconfigures the probe. */
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
    uint16_t *r = map->tab_registers;
    r[0x0001] = 3;
    r[0x0002] = 1;
    r[0x0003] = (k / 20) % 2 ? 2 : 3;
    put_int16(&r[0x0004], 1000 + (int)((11 * k) % 2000));
    return 0;
}

int main(int argc, char **argv)
{
    static const struct stub_model model = {
        .name = "qdy30a",
        .options_help = "  (none)\n",
        .nb_registers = 8,
        .on_request = on_request,
        .reads = &reads,
    };
    return stub_run(argc, argv, &model);
}
