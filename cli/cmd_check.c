/* `sensor-gateway --check-config FILE [--offline]`: the file has loaded
 * (its errors, exit 2, are main.c's); here its risks, and what it needs of
 * this machine. */
#include "cli/subcommands.h"

#include <stdio.h>
#include <stdlib.h>

/* What a valid file still risks (a password readable by all, TLS without
 * checks): warnings, never a failure. */
static void print_risks(const struct gateway_config *cfg)
{
    struct config_errors warnings = {0};
    config_risks(cfg, &warnings);
    for (size_t i = 0; i < warnings.count; i++)
        fprintf(stderr, "warning: %s\n", warnings.lines[i]);
    config_errors_free(&warnings);
}

/* --check-config: what the file needs of this machine, as errors (exit 1:
 * the file is right, the machine is not ready for it). */
static int check_host(const struct gateway_config *cfg)
{
    struct config_errors problems = {0};
    config_check_host(cfg, &problems);
    for (size_t i = 0; i < problems.count; i++)
        fprintf(stderr, "%s\n", problems.lines[i]);
    if (problems.count)
        fprintf(stderr, "%s: valid, but %zu problem%s on this machine (--offline skips these)\n",
                cfg->ini_path, problems.count, problems.count == 1 ? "" : "s");
    int rc = problems.count ? EXIT_FAILURE : EXIT_SUCCESS;
    config_errors_free(&problems);
    return rc;
}

int command_check(const struct gateway_config *cfg, bool offline)
{
    print_risks(cfg);
    int rc = offline ? EXIT_SUCCESS : check_host(cfg);
    if (rc == EXIT_SUCCESS)
        printf("%s: OK (%zu buses, %zu devices, %zu points)%s\n", cfg->ini_path, cfg->bus_count,
               cfg->device_count, cfg->point_count, offline ? "; this machine not checked" : "");
    return rc;
}
