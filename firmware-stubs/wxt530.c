/* Simulated Vaisala WXT530 weather transmitter, Modbus input registers
 * (docs/devices/wxt530.md). Values are 16-bit integers x10; 32767 means
 * "not available". At the k-th read of the input registers:
 *   0x000A relative humidity x10  300 + (13k mod 600)
 *   0x000E air pressure x10       9800 + (7k mod 400)
 *   0x0012 wind direction x10     97k mod 3600
 *   0x001F air temperature x10    -100 + (17k mod 400)
 *   0x0023 dew point x10          32767 when k mod 5 = 4 (no data), else -150 + (11k mod 300)
 * Holding register 0x0007 is the only writable one (on the device, a
 * write of 0x3247 there resets the rain counter, which the stub does not
 * serve). */
#include "firmware-stubs/stub_server.h"
#include "firmware-stubs/stub_values.h"

#define WXT_NO_DATA 32767
#define REG_RAIN_RESET 0x0007

static long reads;

static int on_request(modbus_mapping_t *map, int function, int address, int count)
{
    (void)address;
    (void)count;
    if (function != MODBUS_FC_READ_INPUT_REGISTERS)
        return 0;
    long k = reads++;
    uint16_t *r = map->tab_input_registers;
    put_int16(&r[0x000A], 300 + (int)((13 * k) % 600));
    put_int16(&r[0x000E], 9800 + (int)((7 * k) % 400));
    put_int16(&r[0x0012], (int)((97 * k) % 3600));
    put_int16(&r[0x001F], -100 + (int)((17 * k) % 400));
    put_int16(&r[0x0023], k % 5 == 4 ? WXT_NO_DATA : -150 + (int)((11 * k) % 300));
    return 0;
}

int main(int argc, char **argv)
{
    static const struct stub_writable rain_reset[] = {
        {MODBUS_FC_READ_HOLDING_REGISTERS, REG_RAIN_RESET, REG_RAIN_RESET},
    };
    static const struct stub_model model = {
        .name = "wxt530",
        .writable = rain_reset,
        .writable_count = 1,
        .options_help = "  (none)\n",
        .nb_registers = 11,
        .nb_input_registers = 0x0030,
        .on_request = on_request,
        .reads = &reads,
    };
    return stub_run(argc, argv, &model);
}
