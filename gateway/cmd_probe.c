/* `sensor-gateway probe`: one poll of one device, with everything the
 * daemon would see, as `telegraf --test` does for its inputs. The device's
 * bus gets a poller of its own that is never started: the poll runs here. */
#include "config/config.h"
#include "drivers/modbus_link.h"
#include "drivers/point_types.h"
#include "gateway/commands.h"
#include "gateway/ingest_queue.h"
#include "gateway/log.h"
#include "gateway/poller.h"
#include "gateway/stats.h"

#include <stdio.h>
#include <stdlib.h>

#define EXIT_CONFIG 2

struct probe {
    int requests, failed;
};

static void print_request(void *ctx, int function, int address, int count, const uint16_t *regs,
                          int result, const char *why, int64_t took_us)
{
    struct probe *pr = ctx;
    pr->requests++;
    printf("request %s %d..%d: ", function_names[function], address, address + count - 1);
    if (result != LINK_OK) {
        pr->failed++;
        printf("FAILED after %.2f ms: %s\n", (double)took_us / 1000.0, why);
        return;
    }
    printf("answered in %.2f ms:", (double)took_us / 1000.0);
    for (int i = 0; i < count; i++)
        printf(" %04x", regs[i]);
    printf("\n");
}

static void print_readings(const struct gateway_config *cfg, struct ingest_queue *queue)
{
    struct reading r[512];
    size_t n = ingest_queue_take(queue, r, 512);
    printf("%-24s %16s %-12s %s\n", "point", "value", "unit", "quality");
    for (size_t i = 0; i < n; i++) {
        const struct point_config *pc = &cfg->points[r[i].point_id];
        printf("%-24s %16.10g %-12s %s\n", pc->name, r[i].value, pc->unit,
               reading_quality_names[r[i].quality]);
    }
}

static int probe_loaded(const struct gateway_config *cfg, const char *device)
{
    int index = config_find_device(cfg, device);
    if (index < 0) {
        fprintf(stderr, "%s: no device '%s' in this file\n", cfg->source_path, device);
        return EXIT_CONFIG;
    }
    const struct device_config *d = &cfg->devices[index];
    uint32_t *ids = calloc(cfg->point_count + 1, sizeof(*ids));
    struct ingest_queue queue;
    struct poller *poller = NULL;
    int rc = EXIT_FAILURE;
    for (size_t i = 0; ids && i < cfg->point_count; i++)
        ids[i] = (uint32_t)i; /* a reading names its point by config index */
    if (!ids || stats_devices_init(cfg->device_count) != 0 ||
        ingest_queue_init(&queue, 4096) != 0) {
        free(ids);
        return EXIT_FAILURE;
    }
    if (poller_create(cfg, d->bus_index, ids, &queue, &poller) == 0) {
        printf("device %s: unit %d on bus %s\n", d->name, d->unit_id,
               cfg->buses[d->bus_index].name);
        struct probe pr = {0};
        struct poll_trace trace = {print_request, &pr};
        poller_poll_once(poller, d->name, &trace);
        print_readings(cfg, &queue);
        rc = pr.requests > 0 && pr.failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
        printf("%s: %d of %d requests answered\n", d->name, pr.requests - pr.failed, pr.requests);
        poller_join_and_free(poller);
    }
    ingest_queue_destroy(&queue);
    stats_devices_free();
    free(ids);
    return rc;
}

int command_probe(const char *config_path, const char *device)
{
    struct gateway_config cfg;
    struct config_errors errors = {0};
    if (config_load(config_path, &cfg, &errors) != 0) {
        for (size_t i = 0; i < errors.count; i++)
            fprintf(stderr, "%s\n", errors.lines[i]);
        config_errors_free(&errors);
        return EXIT_CONFIG;
    }
    log_set_level(LOG_ERROR);
    int rc = probe_loaded(&cfg, device);
    config_free(&cfg);
    return rc;
}
