/* Simulated visitor counter (break-beam style) with 16-bit in/out counters
 * in holding registers. Sequence, documented in docs/firmware-stubs.md:
 * the k-th read of the holding registers since power-on (k = 0, 1, ...) sees
 *   in  = (start_in  + 7k) mod 65536     register 0
 *   out = (start_out + 5k) mod 65536     register 1
 *   status = 1 (counting)                register 2
 *   power_on_count                       register 3 (1 at start, +1 per power loss)
 *   display = what the counter's display shows, uint32   registers 4-5 (writable, FC 16)
 *   relay   = its relay output (a lamp, a gate)            coil 0 (writable, FC 5 or 15)
 * both 0 at switch-on and after a power loss.
 * A power loss (SIGUSR1 or --power-loss-after N reads) restarts k at 0 with
 * both counters at 0, as the real device forgets its count, or at
 * --counted-at-restart N: visitors the device counted after it came back
 * and before the gateway's next poll (a reboot the gateway did not see). */
#include "firmware-stubs/stub_server.h"

#include <stdlib.h>
#include <string.h>

#define REG_IN 0
#define REG_OUT 1
#define REG_STATUS 2
#define REG_POWER_ON_COUNT 3
#define REG_DISPLAY 4 /* and 5 */
#define COIL_RELAY 0

static long start_in, start_out, power_loss_after, counted_at_restart;
static long reads, reads_total;
static int power_ons;

static int parse_option(const char *name, const char *value)
{
    char *end;
    long v = strtol(value, &end, 10);
    if (*end != '\0' || v < 0)
        return -1;
    if (strcmp(name, "start-in") == 0 && v <= 65535)
        start_in = v;
    else if (strcmp(name, "start-out") == 0 && v <= 65535)
        start_out = v;
    else if (strcmp(name, "power-loss-after") == 0)
        power_loss_after = v;
    else if (strcmp(name, "counted-at-restart") == 0 && v <= 65535)
        counted_at_restart = v;
    else
        return -1;
    return 0;
}

static void power_on(modbus_mapping_t *map)
{
    /* The first switch-on uses the configured start values; a later power
     * loss brings the counters back to 0, plus what was counted before the
     * next poll. */
    if (power_ons > 0)
        start_in = start_out = counted_at_restart;
    power_ons++;
    reads = 0;
    map->tab_registers[REG_STATUS] = 1;
    map->tab_registers[REG_POWER_ON_COUNT] = (uint16_t)power_ons;
    map->tab_registers[REG_DISPLAY] = map->tab_registers[REG_DISPLAY + 1] = 0;
    map->tab_bits[COIL_RELAY] = 0;
}

static int on_request(modbus_mapping_t *map, int function, int address, int count)
{
    (void)address;
    (void)count;
    if (function != MODBUS_FC_READ_HOLDING_REGISTERS)
        return 0;
    if (power_loss_after > 0 && reads_total == power_loss_after)
        power_on(map);
    map->tab_registers[REG_IN] = (uint16_t)((start_in + 7 * reads) % 65536);
    map->tab_registers[REG_OUT] = (uint16_t)((start_out + 5 * reads) % 65536);
    reads++;
    reads_total++;
    return 0;
}

int main(int argc, char **argv)
{
    static const struct stub_writable outputs[] = {
        {MODBUS_FC_READ_HOLDING_REGISTERS, REG_DISPLAY, REG_DISPLAY + 1},
        {MODBUS_FC_READ_COILS, COIL_RELAY, COIL_RELAY},
    };
    static const struct stub_model model = {
        .name = "visitor-counter",
        .writable = outputs,
        .writable_count = 2,
        .nb_bits = 8,
        .options_help = "  --start-in N           in counter at switch-on (default 0)\n"
                        "  --start-out N          out counter at switch-on (default 0)\n"
                        "  --power-loss-after N   lose power once, before the N-th read\n"
                        "  --counted-at-restart N the counters after a power loss (default 0)\n",
        .nb_registers = 16,
        .option = parse_option,
        .on_request = on_request,
        .on_power_loss = power_on,
    };
    return stub_run(argc, argv, &model);
}
