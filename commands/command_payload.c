#include "commands/command_payload.h"
#include "core/clock.h"

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Deeper than a command needs, shallow enough that a hostile payload
 * cannot make json-c recurse far. */
#define PAYLOAD_DEPTH 4

static void refuse(struct command *cmd, enum command_reason reason, const char *why)
{
    cmd->parse_error = reason;
    snprintf(cmd->parse_message, sizeof(cmd->parse_message), "%s", why);
}

int64_t command_parse_utc(const char *text)
{
    int y, mo, d, h, mi, s, n = 0;
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &n) != 6 || n != 19)
        return -1;
    const char *rest = text + n;
    int ms = 0;
    if (*rest == '.') {
        int digits = 0;
        for (rest++; *rest >= '0' && *rest <= '9'; rest++, digits++)
            if (digits < 3)
                ms = ms * 10 + (*rest - '0');
        if (digits == 0)
            return -1;
        for (; digits < 3; digits++)
            ms *= 10;
    }
    if (strcmp(rest, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        s > 60 || y < 1970)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                    .tm_hour = h, .tm_min = mi, .tm_sec = s};
    time_t t = timegm(&tm);
    return t < 0 ? -1 : (int64_t)t * 1000 + ms;
}

static void take_value(struct json_object *v, struct command *cmd)
{
    if (json_object_is_type(v, json_type_boolean)) {
        cmd->value = (struct command_value){.is_bool = true,
                                            .number = json_object_get_boolean(v) ? 1 : 0};
        return;
    }
    if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) {
        refuse(cmd, REASON_WRONG_TYPE, "value must be a number, or true/false for a coil");
        return;
    }
    double x = json_object_get_double(v);
    if (!isfinite(x)) {
        refuse(cmd, REASON_WRONG_TYPE, "value must be a finite number");
        return;
    }
    cmd->value = (struct command_value){.is_bool = false, .number = x};
}

static void take_fields(struct json_object *root, struct command *cmd, int64_t *sent_wall_ms)
{
    struct json_object *v;
    if (json_object_object_get_ex(root, "id", &v)) {
        const char *id = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        if (!id || !id[0] || strlen(id) >= sizeof(cmd->id)) {
            refuse(cmd, REASON_MALFORMED, "id must be a string of 1 to 64 characters");
            return;
        }
        strcpy(cmd->id, id);
    }
    if (json_object_object_get_ex(root, "ts", &v)) {
        const char *ts = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
        *sent_wall_ms = ts ? command_parse_utc(ts) : -1;
        if (*sent_wall_ms < 0) {
            refuse(cmd, REASON_MALFORMED, "ts must be a UTC time like 2026-11-25T10:15:00.123Z");
            return;
        }
    }
    if (!json_object_object_get_ex(root, "value", &v) || !v) {
        refuse(cmd, REASON_MALFORMED, "no value (a payload is {\"value\": 21.5, \"id\": \"...\"})");
        return;
    }
    take_value(v, cmd);
}

void command_payload_parse(const char *payload, size_t len, struct command *cmd,
                           int64_t *sent_wall_ms)
{
    *sent_wall_ms = -1;
    cmd->parse_error = REASON_NONE;
    cmd->parse_message[0] = '\0';
    cmd->id[0] = '\0';
    if (len > COMMAND_PAYLOAD_MAX) {
        refuse(cmd, REASON_MALFORMED, "payload longer than 1024 bytes");
        return;
    }
    struct json_tokener *tok = json_tokener_new_ex(PAYLOAD_DEPTH);
    if (!tok) {
        refuse(cmd, REASON_MALFORMED, "out of memory");
        return;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    struct json_object *root = json_tokener_parse_ex(tok, payload, (int)len);
    bool complete = root && json_tokener_get_error(tok) == json_tokener_success &&
                    json_tokener_get_parse_end(tok) == len;
    json_tokener_free(tok);
    if (!complete || !json_object_is_type(root, json_type_object))
        refuse(cmd, REASON_MALFORMED, "payload is not one JSON object");
    else
        take_fields(root, cmd, sent_wall_ms);
    json_object_put(root);
}

/* 15 significant digits, as the reading payloads: 21.5, not
 * 21.500000000000004 after a scale of 0.1. */
static struct json_object *number(double v)
{
    char text[40];
    snprintf(text, sizeof(text), "%.15g", v);
    return json_object_new_double_s(v, text);
}

static void add_string(struct json_object *o, const char *key, const char *value)
{
    json_object_object_add(o, key, json_object_new_string(value));
}

static struct json_object *result_object(const char *gateway, const struct command *cmd,
                                         const struct command_result *res, int64_t ts_wall_ms)
{
    struct json_object *o = json_object_new_object();
    char ts[32];
    clock_format_utc(ts_wall_ms, ts, sizeof(ts));
    if (cmd->id[0])
        add_string(o, "id", cmd->id);
    add_string(o, "ts", ts);
    add_string(o, "gateway", gateway);
    add_string(o, "device", cmd->device);
    add_string(o, "point", cmd->point);
    add_string(o, "status", command_status_names[res->status]);
    if (res->reason != REASON_NONE)
        add_string(o, "reason", command_reason_names[res->reason]);
    if (res->message[0])
        add_string(o, "message", res->message);
    if (cmd->parse_error == REASON_NONE)
        json_object_object_add(o, "requested", cmd->value.is_bool
                                                   ? json_object_new_boolean(cmd->value.number != 0)
                                                   : number(cmd->value.number));
    if (res->has_value)
        json_object_object_add(o, "value", number(res->value));
    if (res->status != COMMAND_REFUSED)
        json_object_object_add(o, "took_ms", json_object_new_int64(res->took_ms));
    if (res->has_earlier) {
        struct json_object *e = json_object_new_object();
        add_string(e, "status", command_status_names[res->earlier_status]);
        if (res->earlier_reason != REASON_NONE)
            add_string(e, "reason", command_reason_names[res->earlier_reason]);
        json_object_object_add(o, "earlier", e);
    }
    return o;
}

int command_result_format(char *buf, size_t size, const char *gateway, const struct command *cmd,
                          const struct command_result *res, int64_t ts_wall_ms)
{
    struct json_object *o = result_object(gateway, cmd, res, ts_wall_ms);
    if (!o)
        return -1;
    size_t len;
    const char *text = json_object_to_json_string_length(o, JSON_C_TO_STRING_PLAIN, &len);
    int rc = -1;
    if (text && len < size) {
        memcpy(buf, text, len + 1);
        rc = (int)len;
    }
    json_object_put(o);
    return rc;
}
