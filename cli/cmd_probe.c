/* `sensor-gateway probe`: one poll of one device, with everything the
 * daemon would see, as `telegraf --test` does for its inputs. The device's
 * bus gets a poller of its own that is never started: the poll runs here. */
#include "config/config.h"
#include "cli/cmd_common.h"
#include "cli/subcommands.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>

struct probe {
    int requests, failed;
};

static void print_request(void *ctx, const char *what, const uint16_t *words, int count,
                          enum source_result result, const char *why, int64_t took_us)
{
    struct probe *pr = ctx;
    pr->requests++;
    printf("request %s: ", what);
    if (result != SOURCE_OK) {
        pr->failed++;
        printf("FAILED after %.2f ms: %s\n", (double)took_us / 1000.0, why);
        return;
    }
    printf("answered in %.2f ms:", (double)took_us / 1000.0);
    for (int i = 0; i < count; i++)
        printf(" %04x", words[i]);
    printf("\n");
}

static void print_readings(const struct gateway_config *cfg, const struct reading *r, int n)
{
    printf("%-24s %16s %-12s %s\n", "point", "value", "unit", "quality");
    for (int i = 0; i < n; i++) {
        const struct point_config *pc = &cfg->points[r[i].point_id];
        printf("%-24s %16.10g %-12s %s\n", pc->name, r[i].value, pc->unit,
               reading_quality_names[r[i].quality]);
    }
}

static int probe_loaded(const struct gateway_config *cfg, const char *device)
{
    int index = config_find_device(cfg, device);
    if (index < 0) {
        fprintf(stderr, "%s: no device '%s' in this file\n", cfg->ini_path, device);
        return EXIT_CONFIG;
    }
    const struct device_config *d = &cfg->devices[index];
    const struct bus_config *bus = &cfg->buses[d->bus_index];
    if (bus_kind(bus->kind)->addressing == BUS_LOCAL)
        printf("device %s on bus %s (%s)\n", d->name, bus->name, bus_kind(bus->kind)->name);
    else
        printf("device %s: unit %d on bus %s\n", d->name, d->unit_id, bus->name);
    struct probe pr = {0};
    struct source_trace trace = {print_request, &pr};
    struct reading r[512];
    int n = command_poll_once(cfg, index, &trace, r, 512);
    if (n < 0)
        return EXIT_FAILURE;
    print_readings(cfg, r, n);
    printf("%s: %d of %d requests answered\n", d->name, pr.requests - pr.failed, pr.requests);
    return pr.requests > 0 && pr.failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int command_probe(const struct gateway_config *cfg, const char *device)
{
    log_set_level(LOG_ERROR);
    return probe_loaded(cfg, device);
}
