/* `sensor-gateway scan`: which unit ids answer on a line, and which of the
 * built-in profiles each might be. Each unit is asked for holding register
 * 0 with a short timeout; an exception reply counts as an answer too (the
 * device is there, register 0 is not). */
#include "config/config.h"
#include "sources/bus_kind.h"
#include "sources/modbus/modbus_link.h"
#include "sources/modbus/point_types.h"
#include "cli/cmd_common.h"
#include "cli/subcommands.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_TIMEOUT_MS 200
#define SCAN_LATE_LISTEN_MS 30

/* The bus's own section, as the daemon's file would have it. */
static void write_bus(FILE *f, const struct bus_config *b)
{
    fprintf(f, "[bus %s]\ntype = %s\n", b->name, bus_kind_names[b->kind]);
    if (bus_kind(b->kind)->addressing == BUS_NETWORK)
        fprintf(f, "host = %s\nport = %d\n", b->host, b->port);
    else
        fprintf(f, "device = %s\nbaud = %d\nparity = %s\ndata_bits = %d\nstop_bits = %d\n",
                b->device, b->baud, parity_names[b->parity], b->data_bits, b->stop_bits);
}

static void count_request(void *ctx, const char *what, const uint16_t *words, int count,
                          enum source_result result, const char *why, int64_t took_us)
{
    (void)what, (void)words, (void)count, (void)why, (void)took_us;
    int *counts = ctx;
    counts[0]++;
    counts[1] += result != SOURCE_OK;
}

/* Whether the unit answers every request a device of this profile would
 * be polled with: the profile's file loads for this line (its serial
 * settings match) and one poll of it gets no exception and no silence. */
static bool profile_fits(const struct bus_config *bus, int unit, const struct builtin_profile *prof)
{
    char path[] = "/tmp/sensor-gateway-scan-XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f)
        return false;
    fprintf(f, "[gateway]\nid = scan\n[mqtt]\nuri = tcp://127.0.0.1:1\n[store]\npath = %s.db\n",
            path);
    write_bus(f, bus);
    fprintf(f, "[device probe]\nbus = %s\nunit_id = %d\ninterval = 1s\nprofile = %s\n", bus->name,
            unit, prof->name);
    fclose(f);
    struct gateway_config cfg;
    struct config_errors errors = {0};
    int loaded = config_load(path, &cfg, &errors);
    config_errors_free(&errors);
    unlink(path);
    if (loaded != 0)
        return false;
    int counts[2] = {0, 0};
    struct source_trace trace = {count_request, counts};
    struct reading r[256];
    bool fits = command_poll_once(&cfg, 0, &trace, r, 256) >= 0 && counts[0] > 0 && counts[1] == 0;
    config_free(&cfg);
    return fits;
}

static void guess_profiles(const struct bus_config *bus, int unit)
{
    printf("unit %d: ", unit);
    int found = 0;
    for (size_t i = 0; i < builtin_profile_count; i++) {
        if (!profile_fits(bus, unit, &builtin_profiles[i]))
            continue;
        printf("%s%s", found ? ", " : "answers every register of profile ",
               builtin_profiles[i].name);
        found++;
    }
    printf("%s\n", found ? "" : "no built-in profile's registers all answer");
}

/* Asks every unit id, then (the line free again) tries the profiles on
 * those that answered. */
static int scan_bus(const struct bus_config *bus, int first, int last)
{
    struct modbus_link *link = link_create(bus, bus_kind(bus->kind));
    if (!link)
        return EXIT_FAILURE;
    int answered[248], found = 0;
    char why[256];
    for (int unit = first; unit <= last; unit++) {
        /* A progress line a technician can watch; the answers stay. */
        fprintf(stderr, "\rasking unit %d of %d-%d...", unit, first, last);
        uint16_t reg = 0;
        /* Most ids are empty: a short listen after each silence keeps the
         * scan near 247 x 200 ms while still hearing out a late reply's start. */
        struct link_device dev = {
            .unit_id = unit, .timeout_ms = SCAN_TIMEOUT_MS, .late_listen_ms = SCAN_LATE_LISTEN_MS};
        enum link_result res =
            link_read(link, &dev, FN_HOLDING_REGISTER, 0, 1, &reg, why, sizeof(why));
        if (res == LINK_IO)
            continue;
        answered[found++] = unit;
        fprintf(stderr, "\r%*s\r", 40, "");
        if (res == LINK_OK)
            printf("unit %d: answers (holding register 0 = %u)\n", unit, reg);
        else
            printf("unit %d: answers with an exception (%s)\n", unit, why);
    }
    fprintf(stderr, "\r%*s\r", 40, "");
    link_destroy(link);
    for (int i = 0; i < found; i++)
        guess_profiles(bus, answered[i]);
    printf("bus %s: %d unit%s answered of %d-%d\n", bus->name, found, found == 1 ? "" : "s", first,
           last);
    return found > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int command_scan(const struct gateway_config *cfg, const char *bus, int first, int last)
{
    log_set_level(LOG_ERROR);
    int index = config_find_bus(cfg, bus);
    if (index < 0)
        fprintf(stderr, "%s: no bus '%s' in this file\n", cfg->ini_path, bus);
    else if (first < 0 || last > 247 || first > last)
        fprintf(stderr, "--units %d-%d: unit ids are 0-247\n", first, last);
    else
        return scan_bus(&cfg->buses[index], first, last);
    return EXIT_CONFIG;
}
