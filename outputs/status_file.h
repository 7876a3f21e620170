#ifndef GW_STATUS_FILE_H
#define GW_STATUS_FILE_H

#include <stddef.h>

/* Replaces the file at path with json and a newline; on failure -1 and
 * why says what went wrong. */
int status_file_write(const char *path, const char *json, char *why, size_t why_size);

#endif
