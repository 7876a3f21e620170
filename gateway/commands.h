/* The technician's commands: `sensor-gateway status|probe|scan|write ...`, run
 * on site with the same INI file and profiles as the daemon. Each returns
 * the process's exit status. */
#ifndef GW_COMMANDS_H
#define GW_COMMANDS_H

/* Prints the daemon's health from its status file ([gateway] status_file),
 * broker or not; never touches the store or the daemon. */
int command_status(const char *config_path);
/* Polls one device once; prints each request's registers and time, and
 * each point's value, unit and quality. 0 when every request was answered. */
int command_probe(const char *config_path, const char *device);
/* Writes VALUE (a number, or true/false) to a writable point and reads it
 * back, as a command from MQTT would. 0 when the device holds it. */
int command_write(const char *config_path, const char *device, const char *point,
                  const char *value);
/* Asks unit ids first..last on a bus which of them answer. 0 when one did. */
int command_scan(const char *config_path, const char *bus, int first, int last);

#endif
