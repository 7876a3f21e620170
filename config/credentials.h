/* Secrets kept out of the INI file: [mqtt] password_file and tls_key_file.
 * A relative name is looked up where systemd's LoadCredential= puts it
 * ($CREDENTIALS_DIRECTORY), else next to the INI file, so that a unit can
 * hand the daemon a secret that its own user could not otherwise read. */
#ifndef GW_CREDENTIALS_H
#define GW_CREDENTIALS_H

#include <stdbool.h>
#include <stddef.h>

/* Where name is: 0, or -1 when the path does not fit. */
int credential_path(const char *ini_path, const char *name, char *out, size_t out_size);
/* The first line of the file at path, without its line end: 0, or -1 with
 * why set (unreadable, empty, too long). */
int credential_read(const char *path, char *out, size_t out_size, char *why, size_t why_size);
/* Whether users other than the owner and group may read the file. */
bool credential_readable_by_others(const char *path);

#endif
