/* `sensor-gateway scan`: which unit ids answer on a bus (its source's
 * scan: Modbus asks holding register 0 with a short timeout, and counts an
 * exception as an answer), and which of the built-in profiles each might
 * be. */
#include "config/config.h"
#include "sources/bus_kind.h"
#include "cli/cmd_common.h"
#include "cli/subcommands.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

struct scan_state {
    int first, last;
    int answered[248];
    int found;
};

static void asking(void *ctx, int unit)
{
    /* A progress line a technician can watch; the answers stay. */
    const struct scan_state *st = ctx;
    fprintf(stderr, "\rasking unit %d of %d-%d...", unit, st->first, st->last);
}

static void answered(void *ctx, int unit, const char *how)
{
    struct scan_state *st = ctx;
    fprintf(stderr, "\r%*s\r", 40, "");
    printf("unit %d: %s\n", unit, how);
    if (st->found < 248)
        st->answered[st->found++] = unit;
}

/* Asks every unit id through the bus's source, then (the line free again)
 * tries the profiles on those that answered. */
static int scan_bus(const struct bus_config *bus, int first, int last)
{
    const struct bus_kind *kind = bus_kind(bus->kind);
    if (!kind->source->scan) {
        fprintf(stderr, "bus %s: a %s bus has no addresses to ask\n", bus->name, kind->name);
        return EXIT_CONFIG;
    }
    void *open = kind->source->open(bus, kind);
    if (!open)
        return EXIT_FAILURE;
    struct scan_state st = {.first = first, .last = last};
    struct source_scan report = {answered, asking, &st};
    kind->source->scan(open, first, last, &report);
    kind->source->close(open);
    fprintf(stderr, "\r%*s\r", 40, "");
    for (int i = 0; i < st.found; i++)
        guess_profiles(bus, st.answered[i]);
    printf("bus %s: %d unit%s answered of %d-%d\n", bus->name, st.found, st.found == 1 ? "" : "s",
           first, last);
    return st.found > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
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
