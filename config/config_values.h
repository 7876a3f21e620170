/* Parsers for single INI values. Each returns 0 on success, or -1 and a
 * short reason (no file or key: the caller adds those). */
#ifndef GW_CONFIG_VALUES_H
#define GW_CONFIG_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef char value_reason[256];

int parse_integer(const char *text, long long min, long long max, long long *out, value_reason why);
int parse_real(const char *text, double *out, value_reason why);
/* "32767, 65535, 0x7FFF": up to max numbers separated by commas. */
int parse_real_list(const char *text, double *out, int max, int *count, value_reason why);
int parse_boolean(const char *text, bool *out, value_reason why);
/* "250ms", "5s", "15m", "12h", "7d"; a bare number is refused because its
 * unit would be a guess. */
int parse_duration_ms(const char *text, int64_t min_ms, int64_t max_ms, int64_t *out,
                      value_reason why);
/* "512KiB", "64MB", "2GiB": binary multiples whether or not the i is
 * written (1 MB = 1048576 bytes, as df -h and SQLite count); a bare number
 * is refused like a bare duration. */
int parse_size_bytes(const char *text, int64_t min, int64_t max, int64_t *out, value_reason why);
/* Index of text in a NULL-terminated list of names, case-insensitive. */
int parse_choice(const char *text, const char *const *names, int *out, value_reason why);
/* Names end up in MQTT topics: lowercase letters, digits, '_' and '-'. */
int check_topic_name(const char *text, size_t max_len, value_reason why);
/* A topic prefix: names as above separated by single '/'. */
int check_topic_prefix(const char *text, value_reason why);
/* Free text copied into JSON unescaped: no quotes, backslashes or controls. */
int check_plain_text(const char *text, size_t max_len, value_reason why);
int copy_text(char *dst, size_t size, const char *text, value_reason why);

/* Whole lines, before inih sees them. Bytes that are not UTF-8 would reach
 * the JSON payloads; inih ends a value at " ;" (an inline comment), so a
 * password line holding one would be cut short without a word. */
bool text_is_utf8(const char *text);
bool line_cuts_password(const char *line);

#endif
