/* Simulated RS-485 temperature/humidity transmitter, two register maps
 * (docs/devices/xy-md02.md, docs/devices/rs-ws-n01.md):
 *   --variant xy-md02 (default)  input registers 1 = temperature x10 (signed),
 *                                2 = humidity x10; address 0 exists, unused
 *   --variant renke              holding registers 0 = humidity x10,
 *                                1 = temperature x10 (signed)
 * At the k-th read: temperature x10 = -100 + (23k mod 600)  (-10.0..49.9 °C)
 *                   humidity x10    =  200 + (31k mod 700)  (20.0..89.9 %RH) */
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

static int on_request(modbus_mapping_t *map, int function, int address, int count)
{
    (void)address;
    (void)count;
    int wanted = renke ? MODBUS_FC_READ_HOLDING_REGISTERS : MODBUS_FC_READ_INPUT_REGISTERS;
    if (function != wanted)
        return MODBUS_EXCEPTION_ILLEGAL_FUNCTION;
    long k = reads++;
    int t10 = -100 + (int)((23 * k) % 600), h10 = 200 + (int)((31 * k) % 700);
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
    static const struct stub_model model = {
        .name = "th-transmitter",
        .options_help = "  --variant xy-md02|renke   register map (default xy-md02)\n",
        .nb_registers = 2,
        .nb_input_registers = 3,
        .option = parse_option,
        .on_request = on_request,
        .reads = &reads,
    };
    return stub_run(argc, argv, &model);
}
