/* Fuzz target: the command payload parser with any bytes, as anyone the
 * broker lets publish could send them. Besides not crashing: a payload
 * taken as valid has a finite value (true/false as 1/0), an id that fits
 * and is a string, and its result always formats as JSON that parses. */
#include <json-c/json.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "commands/command_payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct command cmd;
    memset(&cmd, 0x5a, sizeof(cmd)); /* the parser must set what it reports */
    strcpy(cmd.device, "d");
    strcpy(cmd.point, "p");
    int64_t sent;
    command_payload_parse((const char *)data, size, &cmd, &sent);
    if (cmd.parse_error == REASON_NONE) {
        if (!isfinite(cmd.value.number) || strlen(cmd.id) >= sizeof(cmd.id))
            abort();
        if (cmd.value.is_bool && cmd.value.number != 0 && cmd.value.number != 1)
            abort();
    } else if (cmd.parse_error != REASON_MALFORMED && cmd.parse_error != REASON_WRONG_TYPE) {
        abort();
    }
    struct command_result res = {0};
    command_result_set(&res, COMMAND_REFUSED, cmd.parse_error, "%s", cmd.parse_message);
    char buf[2048];
    int n = command_result_format(buf, sizeof(buf), "gw", &cmd, &res, 0);
    if (n < 0)
        abort();
    struct json_object *o = json_tokener_parse(buf);
    if (!o)
        abort();
    json_object_put(o);
    return 0;
}
