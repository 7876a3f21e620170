/* Simulated RS-485 temperature/humidity transmitter, two register maps
 * (docs/devices/xy-md02.md, docs/devices/rs-ws-n01.md):
 *   --variant xy-md02 (default)  input registers 1 = temperature x10 (signed),
 *                                2 = humidity x10; address 0 exists, unused
 *   --variant renke              holding registers 0 = humidity x10,
 *                                1 = temperature x10 (signed)
 * At the k-th read: temperature x10 = -100 + (23k mod 600)  (-10.0..49.9 °C)
 *                   humidity x10    =  200 + (31k mod 700)  (20.0..89.9 %RH)
 * plus, on the xy-md02 map, the corrections in holding registers 0x0103
 * (temperature x10) and 0x0104 (humidity x10), signed, 0 at switch-on: the
 * datasheet's registers, read with function 3 and written with 6 or 16.
 * The device address and baud rate (0x0101, 0x0102) read as 1 and 0
 * (9600) and are not writable here: the stub cannot move its own line. */
#include "firmware-stubs/stub_server.h"
#include "firmware-stubs/stub_values.h"

#include <string.h>

static int renke;
static long reads;

static int parse_option(const char *name, const char *value)
{
    if (strcmp(name, "variant") != 0)
        return -1;
    if (strcmp(value, "renke") == 0)
        renke = 1;
    else if (strcmp(value, "xy-md02") != 0)
        return -1;
    return 0;
}

#define REG_DEVICE_ADDRESS 0x0101
#define REG_BAUD 0x0102
#define REG_TEMPERATURE_CORRECTION 0x0103
#define REG_HUMIDITY_CORRECTION 0x0104

static int16_t correction(const modbus_mapping_t *map, int reg)
{
    return (int16_t)map->tab_registers[reg];
}

static int on_request(modbus_mapping_t *map, int function, int address, int count)
{
    if (!renke && function == MODBUS_FC_READ_HOLDING_REGISTERS &&
        address >= REG_DEVICE_ADDRESS && address + count - 1 <= REG_HUMIDITY_CORRECTION) {
        map->tab_registers[REG_DEVICE_ADDRESS] = 1;
        map->tab_registers[REG_BAUD] = 0;
        return 0;
    }
    int wanted = renke ? MODBUS_FC_READ_HOLDING_REGISTERS : MODBUS_FC_READ_INPUT_REGISTERS;
    if (function != wanted)
        return MODBUS_EXCEPTION_ILLEGAL_FUNCTION;
    long k = reads++;
    int t10 = -100 + (int)((23 * k) % 600), h10 = 200 + (int)((31 * k) % 700);
    if (!renke) {
        t10 += correction(map, REG_TEMPERATURE_CORRECTION);
        h10 += correction(map, REG_HUMIDITY_CORRECTION);
    }
    if (renke) {
        put_int16(&map->tab_registers[0], h10);
        put_int16(&map->tab_registers[1], t10);
    } else {
        put_int16(&map->tab_input_registers[1], t10);
        put_int16(&map->tab_input_registers[2], h10);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct stub_writable corrections[] = {
        {MODBUS_FC_READ_HOLDING_REGISTERS, REG_TEMPERATURE_CORRECTION, REG_HUMIDITY_CORRECTION},
    };
    static const struct stub_model model = {
        .name = "th-transmitter",
        .writable = corrections,
        .writable_count = 1,
        .options_help = "  --variant xy-md02|renke   register map (default xy-md02)\n",
        .nb_registers = REG_HUMIDITY_CORRECTION + 1,
        .nb_input_registers = 3,
        .option = parse_option,
        .on_request = on_request,
        .reads = &reads,
    };
    return stub_run(argc, argv, &model);
}
