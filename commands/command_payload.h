/* The command's JSON, both ways: the payload a dashboard sends
 * (docs/schemas/command.schema.json) and the result the gateway answers
 * (docs/schemas/command-result.schema.json). Any bytes may arrive: the
 * parser never trusts length, nesting or types (tests/fuzz/fuzz_command.c). */
#ifndef GW_COMMAND_PAYLOAD_H
#define GW_COMMAND_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "commands/command.h"

/* Fills cmd's id, value, and, when the payload carries a "ts", *sent_wall_ms
 * (else -1). Problems go to cmd->parse_error and parse_message: malformed
 * (not a JSON object, no value, a bad id or ts, too long) or wrong_type
 * (a value that is neither a number nor true/false). */
void command_payload_parse(const char *payload, size_t len, struct command *cmd,
                           int64_t *sent_wall_ms);

/* "2026-11-25T10:15:00.123Z" (the contract's ts) as ms since the epoch;
 * -1 when it is not one. */
int64_t command_parse_utc(const char *text);

/* The result as JSON into buf (NUL-terminated); its length, or -1 when it
 * does not fit. gateway names the gateway; ts_wall_ms is when it was decided. */
int command_result_format(char *buf, size_t size, const char *gateway, const struct command *cmd,
                          const struct command_result *res, int64_t ts_wall_ms);

#endif
