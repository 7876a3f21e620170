/* The part every simulated device shares: a real libmodbus slave serving a
 * register map over Modbus TCP or RTU, on a serial device or on a
 * pseudo-terminal it creates itself.
 *
 * A model only says how big its map is and what happens when a request
 * arrives (before the reply is built), so its values can follow a
 * documented sequence that tests predict. */
#ifndef STUB_SERVER_H
#define STUB_SERVER_H

#include <modbus/modbus.h>

/* Registers (or coils) a device's manual documents as writable: a write
 * anywhere else is refused with an illegal data address exception, and a
 * model without any refuses every write function as illegal. */
struct stub_writable {
    int table; /* MODBUS_FC_READ_COILS or MODBUS_FC_READ_HOLDING_REGISTERS: where it lands */
    int first, last;
};

struct stub_model {
    const char *name;
    const char *options_help; /* model options, for --help */
    int nb_bits, nb_input_bits, nb_registers, nb_input_registers;
    /* Returns 0 if the option is the model's and its value is valid. */
    int (*option)(const char *name, const char *value);
    /* Called for every request addressed to this unit, before the reply;
     * returns 0 to answer from the map, or a Modbus exception code for a
     * request the real device refuses (a float split in two, too many
     * registers at once). */
    int (*on_request)(modbus_mapping_t *map, int function, int address, int count);
    /* Where the model counts the reads its documented sequence follows;
     * a power loss (SIGUSR1) sets it back to 0, as at switch-on. */
    long *reads;
    /* Where functions 5, 6, 15 and 16 may write (with on_write, if set,
     * told after each write the map took). */
    const struct stub_writable *writable;
    int writable_count;
    void (*on_write)(modbus_mapping_t *map, int address, int count);
    /* Optional: what else the device does after a power loss. */
    void (*on_power_loss)(modbus_mapping_t *map);
};

int stub_run(int argc, char **argv, const struct stub_model *model);

#endif
