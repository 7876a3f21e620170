#include "config/config_values.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int parse_integer(const char *text, long long min, long long max, long long *out, value_reason why)
{
    char *end = NULL;
    errno = 0;
    int base = (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) ? 16 : 10;
    long long v = strtoll(text, &end, base);
    if (text[0] == '\0' || *end != '\0' || errno == ERANGE) {
        snprintf(why, sizeof(value_reason), "'%.80s' is not a whole number", text);
        return -1;
    }
    if (v < min || v > max) {
        snprintf(why, sizeof(value_reason), "%lld is out of range (%lld to %lld)", v, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int parse_real(const char *text, double *out, value_reason why)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (text[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        snprintf(why, sizeof(value_reason), "'%.80s' is not a finite number", text);
        return -1;
    }
    *out = v;
    return 0;
}

int parse_real_list(const char *text, double *out, int max, int *count, value_reason why)
{
    char copy[512];
    if (copy_text(copy, sizeof(copy), text, why) != 0)
        return -1;
    int n = 0;
    char *save = NULL;
    for (char *item = strtok_r(copy, ", \t", &save); item; item = strtok_r(NULL, ", \t", &save)) {
        if (n == max) {
            snprintf(why, sizeof(value_reason), "at most %d values", max);
            return -1;
        }
        if (parse_real(item, &out[n], why) != 0)
            return -1;
        n++;
    }
    if (n == 0) {
        snprintf(why, sizeof(value_reason), "give at least one number");
        return -1;
    }
    *count = n;
    return 0;
}

int parse_boolean(const char *text, bool *out, value_reason why)
{
    static const char *const yes[] = {"true", "yes", "on", "1", NULL};
    static const char *const no[] = {"false", "no", "off", "0", NULL};
    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(text, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(text, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    snprintf(why, sizeof(value_reason), "'%.80s' is not a boolean (true or false)", text);
    return -1;
}

struct unit {
    const char *suffix;
    double factor;
};

/* A number followed by one of the family's units, spaces between allowed. */
struct unit_family {
    const char *what;    /* "a duration" */
    const char *names;   /* "ms, s, m, h or d" */
    const char *example; /* "5s" */
    const struct unit *units;
    size_t count;
    /* How the bounds read in an out-of-range message: "5000ms", "1024 bytes". */
    const char *bound_suffix, *upper_suffix;
};

/* A number with a unit of the family, in the family's base unit, rounded,
 * within min..max. Returns 0, or -1 with why filled in. */
static int parse_with_unit(const char *text, const struct unit_family *f, int64_t min, int64_t max,
                           int64_t *result, value_reason why)
{
    const char *names = f->names, *what = f->what, *example = f->example;
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno == ERANGE || !isfinite(v) || v < 0) {
        snprintf(why, sizeof(value_reason), "'%.80s' is not %s (a number with %s, e.g. %s)", text,
                 what, names, example);
        return -1;
    }
    while (isspace((unsigned char)*end)) /* "5 s" and "1.5 GiB" read as meant */
        end++;
    for (size_t i = 0; i < f->count; i++) {
        if (strcasecmp(end, f->units[i].suffix) != 0)
            continue;
        double base = v * f->units[i].factor;
        if (base < (double)min || base > (double)max) {
            snprintf(why, sizeof(value_reason), "%.80s is out of range (%lld%s to %lld%s)", text,
                     (long long)min, f->bound_suffix, (long long)max, f->upper_suffix);
            return -1;
        }
        *result = (int64_t)llround(base);
        return 0;
    }
    snprintf(why, sizeof(value_reason), "'%.80s' needs a unit: %s (e.g. %s)", text, names, example);
    return -1;
}

int parse_duration_ms(const char *text, int64_t min_ms, int64_t max_ms, int64_t *out,
                      value_reason why)
{
    static const struct unit units[] = {
        {"ms", 1}, {"s", 1e3}, {"m", 60e3}, {"h", 3600e3}, {"d", 86400e3}};
    static const struct unit_family family = {
        "a duration", "ms, s, m, h or d", "5s", units, sizeof(units) / sizeof(units[0]), "ms",
        "ms"};
    return parse_with_unit(text, &family, min_ms, max_ms, out, why);
}

int parse_size_bytes(const char *text, int64_t min, int64_t max, int64_t *out, value_reason why)
{
    /* Binary multiples whether or not the i is written, as df -h counts. */
    static const struct unit units[] = {{"B", 1},
                                        {"KB", 1024.0},
                                        {"KiB", 1024.0},
                                        {"MB", 1048576.0},
                                        {"MiB", 1048576.0},
                                        {"GB", 1073741824.0},
                                        {"GiB", 1073741824.0},
                                        {"TB", 1099511627776.0},
                                        {"TiB", 1099511627776.0}};
    static const struct unit_family family = {
        "a size", "B, KB, MB, GB or TB", "256MB", units, sizeof(units) / sizeof(units[0]), "",
        " bytes"};
    return parse_with_unit(text, &family, min, max, out, why);
}

int parse_choice(const char *text, const char *const *names, int *out, value_reason why)
{
    char list[120] = "";
    for (int i = 0; names[i]; i++) {
        if (strcasecmp(text, names[i]) == 0) {
            *out = i;
            return 0;
        }
        size_t used = strlen(list);
        snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", names[i]);
    }
    snprintf(why, sizeof(value_reason), "'%.80s' is not one of: %s", text, list);
    return -1;
}

int check_topic_name(const char *text, size_t max_len, value_reason why)
{
    size_t len = strlen(text);
    if (len == 0 || len > max_len) {
        snprintf(why, sizeof(value_reason), "a name needs 1 to %zu characters", max_len);
        return -1;
    }
    for (const char *p = text; *p; p++) {
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-')) {
            snprintf(why, sizeof(value_reason),
                     "'%.80s' may hold only lowercase letters, digits, '_' and '-' "
                     "(it becomes part of MQTT topics)",
                     text);
            return -1;
        }
    }
    return 0;
}

int check_topic_prefix(const char *text, value_reason why)
{
    char copy[256];
    if (strlen(text) >= sizeof(copy)) {
        snprintf(why, sizeof(value_reason), "topic prefix is too long");
        return -1;
    }
    strcpy(copy, text);
    if (copy[0] == '\0' || copy[0] == '/' || copy[strlen(copy) - 1] == '/' || strstr(copy, "//")) {
        snprintf(why, sizeof(value_reason),
                 "'%.80s' must be names separated by single '/', without a leading or "
                 "trailing '/'",
                 text);
        return -1;
    }
    char *save = NULL;
    for (char *part = strtok_r(copy, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (check_topic_name(part, 64, why) != 0)
            return -1;
    }
    return 0;
}

int check_plain_text(const char *text, size_t max_len, value_reason why)
{
    if (strlen(text) >= max_len) {
        snprintf(why, sizeof(value_reason), "text is longer than %zu characters", max_len - 1);
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 0x20 || *p == '"' || *p == '\\' || *p == 0x7f) {
            snprintf(why, sizeof(value_reason),
                     "'%.80s' holds a quote, backslash or control character", text);
            return -1;
        }
    }
    return 0;
}

int copy_text(char *dst, size_t size, const char *text, value_reason why)
{
    if (strlen(text) >= size) {
        snprintf(why, sizeof(value_reason), "text is longer than %zu characters", size - 1);
        return -1;
    }
    strcpy(dst, text);
    return 0;
}

bool text_is_utf8(const char *text)
{
    const unsigned char *s = (const unsigned char *)text;
    while (*s) {
        int extra = *s < 0x80             ? 0
                    : (*s & 0xE0) == 0xC0 ? 1
                    : (*s & 0xF0) == 0xE0 ? 2
                    : (*s & 0xF8) == 0xF0 ? 3
                                          : -1;
        if (extra < 0 || (extra == 1 && *s < 0xC2))
            return false;
        for (s++; extra > 0; extra--, s++)
            if ((*s & 0xC0) != 0x80)
                return false;
    }
    return true;
}

bool line_cuts_password(const char *line)
{
    const char *p = line + strspn(line, " \t");
    if (strncmp(p, "password", 8) != 0 || !strchr(" \t=", p[8]))
        return false;
    const char *value = strchr(p, '=');
    return value && (strstr(value, " ;") || strstr(value, "\t;"));
}
