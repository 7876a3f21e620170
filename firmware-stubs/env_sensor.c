/* Simulated environmental sensor: input registers. Sequence, documented in
 * docs/firmware-stubs.md: the k-th read of the input registers (k = 0, 1...)
 * sees
 *   reg 0     temperature  int16 x0.1 degC   t10 = -150 + (37k mod 500)  (-15.0..34.9)
 *   reg 1     humidity     uint16 x0.1 %RH   h10 = 300 + (53k mod 600)   (30.0..89.9)
 *   reg 2..3  pressure     float32 ABCD hPa  950 + 0.25 * (k mod 400)
 *   reg 4..5  illuminance  uint32 CDAB lux   65536 + (977k mod 100000)
 * Every value is exactly representable, so a test can compare exactly. */
#include "sources/modbus/decode.h"
#include "firmware-stubs/stub_server.h"

static long reads;

static int on_request(modbus_mapping_t *map, int function, int address, int count)
{
    (void)address;
    (void)count;
    if (function != MODBUS_FC_READ_INPUT_REGISTERS)
        return 0;
    long k = reads++;
    uint16_t *r = map->tab_input_registers;
    encode_registers(-150 + (37 * k) % 500, DT_INT16, WO_ABCD, &r[0]);
    encode_registers(300 + (53 * k) % 600, DT_UINT16, WO_ABCD, &r[1]);
    encode_registers(950 + 0.25 * (double)(k % 400), DT_FLOAT32, WO_ABCD, &r[2]);
    encode_registers(65536 + (977 * k) % 100000, DT_UINT32, WO_CDAB, &r[4]);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct stub_model model = {
        .name = "env-sensor",
        .options_help = "  (none)\n",
        .nb_input_registers = 16,
        .on_request = on_request,
        .reads = &reads,
    };
    return stub_run(argc, argv, &model);
}
