#include "commands/command.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *const command_status_names[] = {"done", "refused", "failed", NULL};

const char *const command_reason_names[] = {
    [REASON_NONE] = "",
    [REASON_DISABLED] = "disabled",
    [REASON_UNKNOWN_POINT] = "unknown_point",
    [REASON_NOT_WRITABLE] = "not_writable",
    [REASON_MALFORMED] = "malformed",
    [REASON_WRONG_TYPE] = "wrong_type",
    [REASON_OUT_OF_RANGE] = "out_of_range",
    [REASON_RETAINED] = "retained",
    [REASON_EXPIRED] = "expired",
    [REASON_DUPLICATE] = "duplicate",
    [REASON_BUSY] = "busy",
    [REASON_BACKED_OFF] = "backed_off",
    [REASON_EXCEPTION] = "exception",
    [REASON_NO_ANSWER] = "no_answer",
    [REASON_READ_BACK_DIFFERS] = "read_back_differs",
    [REASON_STOPPING] = "stopping",
    NULL,
};

bool command_key(const struct command *cmd, char *key, size_t size)
{
    if (cmd->id[0]) {
        snprintf(key, size, "id:%s", cmd->id);
        return true;
    }
    if (cmd->correlation_len == 0 || size < 4 + 2 * cmd->correlation_len)
        return false;
    strcpy(key, "cd:");
    for (size_t i = 0; i < cmd->correlation_len; i++)
        sprintf(key + 3 + 2 * i, "%02x", cmd->correlation[i]);
    return true;
}

void command_result_set(struct command_result *res, enum command_status status,
                        enum command_reason reason, const char *fmt, ...)
{
    res->status = status;
    res->reason = reason;
    res->message[0] = '\0';
    if (!fmt)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->message, sizeof(res->message), fmt, ap);
    va_end(ap);
}
