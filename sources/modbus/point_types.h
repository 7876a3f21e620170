/* Modbus point vocabulary shared by the config loader, the decoder and the poller. */
#ifndef GW_POINT_TYPES_H
#define GW_POINT_TYPES_H

enum point_function { FN_COIL, FN_DISCRETE_INPUT, FN_HOLDING_REGISTER, FN_INPUT_REGISTER };

enum data_type {
    DT_BOOL,
    DT_INT16,
    DT_UINT16,
    DT_INT32,
    DT_UINT32,
    DT_INT64,
    DT_UINT64,
    DT_FLOAT32,
    DT_FLOAT64,
};

/* Letters name the bytes of the value, most significant first (A), as they
 * appear on the wire: ABCD is big-endian with the high word first, CDAB swaps
 * the words, BADC swaps the bytes inside each word, DCBA does both. */
enum word_order { WO_ABCD, WO_CDAB, WO_BADC, WO_DCBA };

/* How many 16-bit registers (or bits, for bool on coils) a value occupies. */
int data_type_width(enum data_type type);
int function_reads_bits(enum point_function fn);

extern const char *const data_type_names[];
extern const char *const word_order_names[];
extern const char *const function_names[];

#endif
