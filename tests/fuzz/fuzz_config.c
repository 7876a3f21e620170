/* Fuzz target: the INI loader, on any bytes an operator's editor (or a
 * broken SD card) could leave in a configuration file. A load must end in
 * a config or in error lines, never in a crash or a leak. */
#define _GNU_SOURCE /* memfd_create */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-config", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    struct gateway_config cfg;
    struct config_errors errors = {0};
    int rc = config_load(path, &cfg, &errors);
    if (rc == 0) {
        if (errors.count != 0)
            abort(); /* a file that loads has no errors */
        config_free(&cfg);
    } else if (errors.count == 0) {
        abort(); /* a refused file says why */
    }
    config_errors_free(&errors);
    return 0;
}
