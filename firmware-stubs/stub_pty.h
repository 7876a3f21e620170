/* The gateway's end of a simulated serial line: a pseudo-terminal pair. */
#ifndef STUB_PTY_H
#define STUB_PTY_H

#include <stddef.h>

/* Creates a pty pair in raw mode; returns the master (opened with `flags`
 * besides O_RDWR | O_NOCTTY) and puts the slave's path in path, or -1. The
 * stub keeps the slave open itself (*keep_fd), so that the master sees no
 * hang-up each time the gateway closes and reopens its end. With link, a
 * symlink of that name points to the slave, for an INI file's fixed path. */
int stub_open_pty(const char *link, int flags, char *path, size_t size, int *keep_fd);

#endif
