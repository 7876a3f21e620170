/* The health message written to a local file as well, so that a
 * technician on site sees what the box is doing without the broker
 * (`cat /run/sensor-gateway/health.json`). Replaced by rename: a reader
 * never sees half a file. Not synced: it is meant for a tmpfs, and a stale
 * status after a power cut is worse than none. */
#include "outputs/status_file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int status_file_write(const char *path, const char *json, char *why, size_t why_size)
{
    char tmp[512];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
        snprintf(why, why_size, "path too long");
        return -1;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        snprintf(why, why_size, "%s", strerror(errno));
        return -1;
    }
    int failed = fputs(json, f) < 0 || fputc('\n', f) == EOF;
    failed |= fclose(f) != 0;
    if (failed || rename(tmp, path) != 0) {
        snprintf(why, why_size, "%s", strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}
