/* What a valid file needs of the machine it runs on: checked by
 * --check-config (not by --offline, for a file written elsewhere), so that
 * a missing directory or serial adapter is found before the service
 * starts, not when it fails. */
#include "config/config.h"
#include "sources/bus_kind.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The directory a file goes into must exist and take new files. */
static void check_directory_of(const char *path, const char *what, const char *ini,
                               struct config_errors *e)
{
    char copy[CFG_TEXT_MAX];
    snprintf(copy, sizeof(copy), "%s", path);
    const char *dir = dirname(copy);
    if (access(dir, W_OK | X_OK) != 0)
        config_error_add(e, "%s: %s: directory %s %s", ini, what, dir,
                         errno == ENOENT ? "does not exist" : "is not writable by this user");
}

void config_check_host(const struct gateway_config *cfg, struct config_errors *e)
{
    check_directory_of(cfg->store.path, "[store] path", cfg->ini_path, e);
    if (cfg->status_file[0])
        check_directory_of(cfg->status_file, "[gateway] status_file", cfg->ini_path, e);
    for (size_t i = 0; i < cfg->bus_count; i++) {
        const struct bus_config *b = &cfg->buses[i];
        if (bus_kind(b->kind)->addressing == BUS_SERIAL && access(b->device, R_OK | W_OK) != 0)
            config_error_add(e, "%s:%d: [bus %s] device: %s %s", cfg->ini_path, b->line, b->name,
                             b->device,
                             errno == ENOENT ? "does not exist (is the adapter plugged in?)"
                                             : "cannot be opened by this user (group dialout?)");
    }
}
