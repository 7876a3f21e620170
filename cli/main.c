/* sensor-gateway's command line: one parse for the daemon's options and
 * the subcommands alike, one load of the file (the daemon's own, with
 * every check), then the daemon (gateway/daemon.c) or a subcommand. */
#include "cli/cmd_common.h"
#include "cli/subcommands.h"
#include "core/log.h"
#include "gateway/daemon.h"
#include "version.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: sensor-gateway --config FILE [--log-level LEVEL]\n"
                 "       sensor-gateway --check-config FILE\n"
                 "       sensor-gateway --config FILE --list-set-aside | --resend-set-aside\n"
                 "       sensor-gateway status --config FILE\n"
                 "       sensor-gateway probe --config FILE DEVICE\n"
                 "       sensor-gateway scan --config FILE BUS [--units FIRST-LAST]\n"
                 "       sensor-gateway write --config FILE DEVICE POINT VALUE\n"
                 "\n"
                 "Polls Modbus TCP/RTU devices, buffers every reading in SQLite and forwards\n"
                 "it over MQTT (QoS 1 by default). See README.md and docs/.\n"
                 "\n"
                 "  -c, --config FILE        run with this INI file\n"
                 "      --check-config FILE  validate the INI file and what it needs of this\n"
                 "                           machine (store directory, serial ports), and exit:\n"
                 "                           0 ok, 1 the machine is not ready, 2 file errors\n"
                 "      --offline            with --check-config: the file only\n"
                 "  -l, --log-level LEVEL    error, warning, info or debug (overrides the file)\n"
                 "      --list-set-aside     list the readings the broker refused, kept in the\n"
                 "                           store, and exit (the daemon must be stopped)\n"
                 "      --resend-set-aside   queue them to be sent again at the next start\n"
                 "  -V, --version            print the version and exit\n"
                 "\n"
                 "A technician's commands, with the daemon's file (it may be running):\n"
                 "  status   the daemon's health from its status_file, broker or not\n"
                 "  probe    poll one device once: registers, values, quality, timings\n"
                 "  scan     which unit ids answer on a bus (default 1-247)\n"
                 "  write    write a value to a writable point once and read it back\n"
                 "  -h, --help               print this help and exit\n"
                 "\n"
                 "Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 on a runtime failure,\n"
                 "2 on a configuration error.\n");
}

/* What the command line asked for. */
struct invocation {
    const char *subcommand; /* status, probe, scan, write; NULL: the daemon's options */
    const char *config, *check;
    bool offline;
    int level;     /* -1: the file's */
    int set_aside; /* 'L' list, 'R' resend, 0 */
    const char *args[3];
    int n_args;
    int first, last; /* scan --units */
};

static const char *const subcommands[] = {"status", "probe", "scan", "write", NULL};
/* Each subcommand's positional arguments (DEVICE; BUS; DEVICE POINT VALUE). */
static const int subcommand_args[] = {0, 1, 1, 3};

static int subcommand_index(const char *name)
{
    for (int i = 0; name && subcommands[i]; i++)
        if (strcmp(subcommands[i], name) == 0)
            return i;
    return -1;
}

/* A write's value may be negative: "-1.5" is an argument, not options. */
static bool is_number(const char *s)
{
    char *end;
    strtod(s, &end);
    return end != s && *end == '\0';
}

static int log_level_of(const char *name)
{
    for (int i = 0; log_level_names[i]; i++)
        if (strcmp(name, log_level_names[i]) == 0)
            return i;
    return -1;
}

/* One option of the table; -1 to go on, else the exit status. */
static int take_option(int opt, struct invocation *inv)
{
    switch (opt) {
    case 'c':
        inv->config = optarg;
        return -1;
    case 'k':
        inv->check = optarg;
        return -1;
    case 'O':
        inv->offline = true;
        return -1;
    case 'l':
        if ((inv->level = log_level_of(optarg)) >= 0)
            return -1;
        fprintf(stderr, "--log-level: '%s' is not error, warning, info or debug\n", optarg);
        return EXIT_CONFIG;
    case 'L':
    case 'R':
        inv->set_aside = opt;
        return -1;
    case 'U':
        if (inv->subcommand && strcmp(inv->subcommand, "scan") == 0 &&
            sscanf(optarg, "%d-%d", &inv->first, &inv->last) == 2)
            return -1;
        break;
    case 'V':
        printf("sensor-gateway %s\n", GW_VERSION);
        return EXIT_SUCCESS;
    case 'h':
        usage(stdout);
        return EXIT_SUCCESS;
    }
    usage(stderr);
    return EXIT_CONFIG;
}

/* Whether what was given makes one command. */
static bool complete(struct invocation *inv)
{
    int sub = subcommand_index(inv->subcommand);
    if (sub >= 0)
        return inv->config && !inv->check && !inv->set_aside && inv->n_args == subcommand_args[sub];
    /* getopt gives --check-config the next word as its file, so in
     * `--check-config --offline FILE` the file is left over: both orders. */
    if (inv->check && strcmp(inv->check, "--offline") == 0 && inv->n_args == 1) {
        inv->offline = true;
        inv->check = inv->args[0];
        inv->n_args = 0;
    }
    return inv->n_args == 0 && (inv->config != NULL) != (inv->check != NULL) &&
           !(inv->check && inv->set_aside);
}

/* -1 when inv holds a command to run, else the exit status. */
static int parse(int argc, char **argv, struct invocation *inv)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},   {"check-config", required_argument, NULL, 'k'},
        {"offline", no_argument, NULL, 'O'},        {"log-level", required_argument, NULL, 'l'},
        {"list-set-aside", no_argument, NULL, 'L'}, {"resend-set-aside", no_argument, NULL, 'R'},
        {"units", required_argument, NULL, 'U'},    {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    *inv = (struct invocation){.level = -1, .first = 1, .last = 247};
    optind = 1;
    if (argc > 1 && subcommand_index(argv[1]) >= 0)
        inv->subcommand = argv[optind++];
    while (optind < argc) {
        const char *arg = argv[optind];
        bool positional = arg[0] != '-' || (inv->subcommand && is_number(arg));
        if (positional) {
            if (inv->n_args == 3)
                break;
            inv->args[inv->n_args++] = arg;
            optind++;
            continue;
        }
        /* '+': stop at the first argument that is no option, taken above. */
        int opt = getopt_long(argc, argv, "+c:l:Vh", options, NULL);
        if (opt == -1)
            break; /* "--" */
        int rc = take_option(opt, inv);
        if (rc >= 0)
            return rc;
    }
    while (optind < argc && inv->n_args < 3)
        inv->args[inv->n_args++] = argv[optind++];
    if (optind < argc || !complete(inv)) {
        usage(stderr);
        return EXIT_CONFIG;
    }
    return -1;
}

static int run_loaded(const struct invocation *inv, struct gateway_config *cfg)
{
    const char *const *a = inv->args;
    if (!inv->subcommand) {
        if (inv->check)
            return command_check(cfg, inv->offline);
        if (inv->set_aside)
            return command_set_aside(cfg, inv->set_aside == 'R');
        return daemon_run(cfg, inv->level);
    }
    if (strcmp(inv->subcommand, "status") == 0)
        return command_status(cfg);
    if (strcmp(inv->subcommand, "probe") == 0)
        return command_probe(cfg, a[0]);
    if (strcmp(inv->subcommand, "write") == 0)
        return command_write(cfg, a[0], a[1], a[2]);
    return command_scan(cfg, a[0], inv->first, inv->last);
}

int main(int argc, char **argv)
{
    daemon_block_signals();
    struct invocation inv;
    int rc = parse(argc, argv, &inv);
    if (rc >= 0)
        return rc;
    bool daemon = !inv.subcommand && !inv.set_aside;
    struct gateway_config cfg;
    if (command_load_config(inv.check ? inv.check : inv.config, inv.check && inv.offline, &cfg,
                            daemon ? "not starting" : "nothing done") != 0)
        return EXIT_CONFIG;
    rc = run_loaded(&inv, &cfg);
    config_free(&cfg);
    return rc;
}
