/* `sensor-gateway scan`: which unit ids answer on a line. Each is asked
 * for holding register 0 with a short timeout; an exception reply counts
 * as an answer too (the device is there, register 0 is not). */
#include "config/config.h"
#include "drivers/modbus_link.h"
#include "drivers/point_types.h"
#include "gateway/commands.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_CONFIG 2
#define SCAN_TIMEOUT_MS 200

static int find_bus(const struct gateway_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->bus_count; i++)
        if (strcmp(cfg->buses[i].name, name) == 0)
            return (int)i;
    return -1;
}

static int scan_bus(const struct bus_config *bus, int first, int last)
{
    struct modbus_link *link = link_create(bus);
    if (!link)
        return EXIT_FAILURE;
    int found = 0;
    char why[256];
    for (int unit = first; unit <= last; unit++) {
        /* A progress line a technician can watch; the answers stay. */
        fprintf(stderr, "\rasking unit %d of %d-%d...", unit, first, last);
        uint16_t reg = 0;
        enum link_result res = link_read(link, unit, FN_HOLDING_REGISTER, 0, 1, SCAN_TIMEOUT_MS,
                                         &reg, why, sizeof(why));
        if (res == LINK_IO)
            continue;
        found++;
        fprintf(stderr, "\r%*s\r", 40, "");
        if (res == LINK_OK)
            printf("unit %d: answers (holding register 0 = %u)\n", unit, reg);
        else
            printf("unit %d: answers with an exception (%s)\n", unit, why);
    }
    fprintf(stderr, "\r%*s\r", 40, "");
    printf("bus %s: %d unit%s answered of %d-%d\n", bus->name, found, found == 1 ? "" : "s", first,
           last);
    link_destroy(link);
    return found > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int command_scan(const char *config_path, const char *bus, int first, int last)
{
    struct gateway_config cfg;
    struct config_errors errors = {0};
    if (config_load(config_path, &cfg, &errors) != 0) {
        for (size_t i = 0; i < errors.count; i++)
            fprintf(stderr, "%s\n", errors.lines[i]);
        config_errors_free(&errors);
        return EXIT_CONFIG;
    }
    int index = find_bus(&cfg, bus);
    int rc = EXIT_CONFIG;
    if (index < 0)
        fprintf(stderr, "%s: no bus '%s' in this file\n", config_path, bus);
    else if (first < 0 || last > 247 || first > last)
        fprintf(stderr, "--units %d-%d: unit ids are 0-247\n", first, last);
    else
        rc = scan_bus(&cfg.buses[index], first, last);
    config_free(&cfg);
    return rc;
}
