/* The command line's commands besides running the daemon: the
 * technician's `status|probe|scan|write` (run on site with the daemon's
 * file, which may be running), `--check-config` and the set-aside
 * readings. Each takes the file as loaded by main.c and returns the
 * process's exit status. */
#ifndef GW_CLI_SUBCOMMANDS_H
#define GW_CLI_SUBCOMMANDS_H

#include <stdbool.h>

#include "config/config.h"

/* Prints the daemon's health from its status file ([gateway] status_file),
 * broker or not; never touches the store or the daemon. */
int command_status(const struct gateway_config *cfg);
/* Polls one device once; prints each request's registers and time, and
 * each point's value, unit and quality. 0 when every request was answered. */
int command_probe(const struct gateway_config *cfg, const char *device);
/* Writes VALUE (a number, or true/false) to a writable point and reads it
 * back, as a command from MQTT would. 0 when the device holds it. */
int command_write(const struct gateway_config *cfg, const char *device, const char *point,
                  const char *value);
/* Asks unit ids first..last on a bus which of them answer. 0 when one did. */
int command_scan(const struct gateway_config *cfg, const char *bus, int first, int last);

/* --check-config: the file's risks as warnings, then (unless offline) what
 * it needs of this machine: 0, or 1 when the machine is not ready. */
int command_check(const struct gateway_config *cfg, bool offline);
/* --list-set-aside, --resend-set-aside: the daemon must be stopped. */
int command_set_aside(const struct gateway_config *cfg, bool resend);

#endif
