/* A command's value as the point's device takes it: the inverse of the
 * read path (raw = (value - offset) / scale), checked against the point's
 * write limits and what its type can hold, so that nothing out of range
 * or rounded away is ever sent. */
#ifndef GW_COMMAND_VALUE_H
#define GW_COMMAND_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "commands/command.h"
#include "config/config.h"

/* REASON_NONE and *raw, or WRONG_TYPE / OUT_OF_RANGE with a message. */
enum command_reason command_to_raw(const struct point_config *p, const struct command_value *v,
                                   double *raw, char *why, size_t why_size);

/* Whether the raw value read back is the one written (a float32 compared
 * at float precision). */
bool command_raw_matches(const struct point_config *p, double written, double read);

#endif
