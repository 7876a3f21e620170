#include "firmware-stubs/stub_server.h"
#include "firmware-stubs/stub_faults.h"
#include "firmware-stubs/stub_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <modbus/modbus-rtu.h>
#include <modbus/modbus-tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* Connections served at once: a benchmark spreads a thousand TCP devices
 * over a few stubs (select(2) keeps the total under FD_SETSIZE). */
#define MAX_CLIENTS 250

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t power_loss_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_power_loss(int sig)
{
    (void)sig;
    power_loss_requested = 1;
}

static void usage(const struct stub_model *m, FILE *out)
{
    fprintf(
        out,
        "usage: %s-stub (--tcp PORT | --rtu-over-tcp PORT [--bind ADDR] | --rtu DEVICE |\n"
        "                --rtu-pty [--pty-link PATH])\n"
        "       [--unit ID] [--baud N] [--parity N|E|O] [--stop-bits 1|2] [--max-seconds N]\n"
        "       [model options]\n"
        "\n"
        "A simulated %s: a Modbus slave for tests and demos.\n"
        "  --tcp PORT        serve Modbus TCP (0 picks a free port); --bind defaults to 127.0.0.1\n"
        "  --rtu DEVICE      serve Modbus RTU on a serial device\n"
        "  --rtu-pty         create a pseudo-terminal pair and serve RTU on it\n"
        "  --rtu-over-tcp PORT  serve RTU frames on TCP, as a serial-to-Ethernet converter in\n"
        "                    transparent mode with this device on its line (0: a free port)\n"
        "  --pty-link PATH   make PATH a symlink to the gateway's end of the pair\n"
        "  --unit ID         RTU unit id to answer (default 1)\n"
        "  --max-seconds N   exit by itself after N seconds (default: run until SIGTERM)\n"
        "  --registers N     serve N holding registers (the model's and spare ones reading 0),\n"
        "                    for load tests: tests/bench reads 20 per device\n"
        "The first line on stdout says where it listens:\n"
        "  LISTENING tcp 127.0.0.1:PORT,   LISTENING rtu /dev/pts/N   or\n"
        "  LISTENING rtu-over-tcp 127.0.0.1:PORT\n"
        "SIGUSR1 simulates a power loss.\n"
        "\nFaults (docs/firmware-stubs.md):\n"
        "  --fault MODE        none, silent, illegal-address, busy, garbage, bad-crc, slow, "
        "reset,\n"
        "                      wrong-unit, bad-length, dribble (the last three: TCP)\n"
        "  --fault-file PATH   read the mode from PATH before every request (switch at run time)\n"
        "  --fault-unit ID     the unit id that misbehaves (default: the stub's own; on RTU the\n"
        "                      stub then also answers this unit, as a second device on the line)\n"
        "  --slow-ms N         how late a slow answer comes (default 700)\n"
        "  --close-idle-ms N   TCP: close a connection that sent nothing for N ms, as servers\n"
        "                      with few sockets do\n"
        "\nModel options:\n%s",
        m->name, m->name, m->options_help);
}

static int parse_options(int argc, char **argv, const struct stub_model *m, struct stub_options *o)
{
    *o = (struct stub_options){.tcp_port = -1,
                               .rtu_tcp_port = -1,
                               .bind = "127.0.0.1",
                               .unit = 1,
                               .baud = 9600,
                               .parity = 'N',
                               .stop_bits = 1,
                               .faults = {.unit = -1, .slow_ms = 700}};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(opt, "--help") == 0) {
            usage(m, stdout);
            exit(0);
        } else if (strcmp(opt, "--rtu-pty") == 0) {
            o->rtu_pty = 1;
            continue;
        }
        if (!val || strncmp(opt, "--", 2) != 0) {
            fprintf(stderr, "%s-stub: %s needs a value\n", m->name, opt);
            return -1;
        }
        i++;
        if (strcmp(opt, "--tcp") == 0)
            o->tcp_port = atoi(val);
        else if (strcmp(opt, "--bind") == 0)
            o->bind = val;
        else if (strcmp(opt, "--rtu") == 0)
            o->rtu_device = val;
        else if (strcmp(opt, "--rtu-over-tcp") == 0)
            o->rtu_tcp_port = atoi(val);
        else if (strcmp(opt, "--pty-link") == 0)
            o->pty_link = val;
        else if (strcmp(opt, "--unit") == 0)
            o->unit = atoi(val);
        else if (strcmp(opt, "--baud") == 0)
            o->baud = atoi(val);
        else if (strcmp(opt, "--parity") == 0)
            o->parity = val[0];
        else if (strcmp(opt, "--stop-bits") == 0)
            o->stop_bits = atoi(val);
        else if (strcmp(opt, "--max-seconds") == 0)
            o->max_seconds = atoi(val);
        else if (strcmp(opt, "--registers") == 0)
            o->registers = atoi(val);
        else if (strcmp(opt, "--fault") == 0 && stub_fault_parse(val, &o->faults.fixed) == 0)
            continue;
        else if (strcmp(opt, "--fault-file") == 0)
            o->faults.file = val;
        else if (strcmp(opt, "--fault-unit") == 0)
            o->faults.unit = atoi(val);
        else if (strcmp(opt, "--slow-ms") == 0)
            o->faults.slow_ms = atoi(val);
        else if (strcmp(opt, "--close-idle-ms") == 0)
            o->close_idle_ms = atoi(val);
        else if (!m->option || m->option(opt + 2, val) != 0) {
            fprintf(stderr, "%s-stub: unknown option or bad value: %s %s\n", m->name, opt, val);
            return -1;
        }
    }
    int modes = (o->tcp_port >= 0) + (o->rtu_device != NULL) + o->rtu_pty + (o->rtu_tcp_port >= 0);
    if (modes != 1) {
        usage(m, stderr);
        return -1;
    }
    return 0;
}

static int write_target(int function)
{
    switch (function) {
    case MODBUS_FC_WRITE_SINGLE_COIL:
    case MODBUS_FC_WRITE_MULTIPLE_COILS:
        return MODBUS_FC_READ_COILS;
    case MODBUS_FC_WRITE_SINGLE_REGISTER:
    case MODBUS_FC_WRITE_MULTIPLE_REGISTERS:
        return MODBUS_FC_READ_HOLDING_REGISTERS;
    default:
        return 0;
    }
}

/* 0 when the model's manual lets this write through; else the exception. */
static int write_refused(const struct stub_model *m, int function, int address, int count)
{
    int table = write_target(function);
    if (m->writable_count == 0)
        return MODBUS_EXCEPTION_ILLEGAL_FUNCTION;
    if (function == MODBUS_FC_WRITE_SINGLE_COIL || function == MODBUS_FC_WRITE_SINGLE_REGISTER)
        count = 1; /* the field holds the value */
    for (int i = 0; i < m->writable_count; i++) {
        const struct stub_writable *w = &m->writable[i];
        if (w->table == table && address >= w->first && address + count - 1 <= w->last)
            return 0;
    }
    return MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS;
}

void handle_request(modbus_t *ctx, modbus_mapping_t *map, const struct stub_model *m,
                    const uint8_t *req, int len)
{
    int hl = modbus_get_header_length(ctx);
    int refused = 0;
    if (len < hl + 5) {
        modbus_reply(ctx, req, len, map); /* libmodbus answers what it makes of it */
        return;
    }
    int function = req[hl], address = (req[hl + 1] << 8) | req[hl + 2],
        count = (req[hl + 3] << 8) | req[hl + 4];
    bool write = write_target(function) != 0;
    refused = write ? write_refused(m, function, address, count)
                    : m->on_request(map, function, address, count);
    if (refused) {
        modbus_reply_exception(ctx, req, (unsigned)refused);
        return;
    }
    modbus_reply(ctx, req, len, map);
    if (write && m->on_write)
        m->on_write(map, address, function == 5 || function == 6 ? 1 : count);
}

int time_is_up(const struct stub_options *o, time_t started)
{
    return stop_requested || (o->max_seconds > 0 && time(NULL) - started >= o->max_seconds);
}

static void power_on(const struct stub_model *m, modbus_mapping_t *map)
{
    if (m->reads)
        *m->reads = 0;
    if (m->on_power_loss)
        m->on_power_loss(map);
}

void check_power_loss(const struct stub_model *m, modbus_mapping_t *map)
{
    if (power_loss_requested) {
        power_loss_requested = 0;
        power_on(m, map);
    }
}

/* Closes with SO_LINGER 0: the peer sees a reset, not an orderly close. */
static void reset_connection(int fd)
{
    struct linger hard = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    close(fd);
}

static bool is_faulty_unit(const struct stub_options *o, int unit)
{
    return o->faults.unit < 0 || unit == o->faults.unit;
}

/* The right values in a frame that does not fit the request, or sent one
 * byte at a time; -1 when the peer has gone (reset the connection). */
static int tcp_answer_odd(modbus_t *ctx, modbus_mapping_t *map, const struct stub_options *o,
                          enum stub_fault mode, const uint8_t *req, int len)
{
    uint8_t reply[MODBUS_TCP_MAX_ADU_LENGTH];
    int n = stub_tcp_read_reply(map, req, len, reply, (int)sizeof(reply));
    int fd = modbus_get_socket(ctx);
    if (n == 0)
        return 0;
    if (mode == FAULT_WRONG_UNIT)
        reply[6] = (uint8_t)(reply[6] + 1);
    if (mode == FAULT_BAD_LENGTH)
        reply[4] = reply[5] = 0xFF;
    if (mode != FAULT_DRIBBLE)
        return send(fd, reply, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
    /* Between bytes, a master that gave up and hung up ends the reply, so
     * that this one-threaded stub serves the next connection at once. */
    for (int i = 0; i < n && !stop_requested; i++) {
        if (send(fd, reply + i, 1, MSG_NOSIGNAL) != 1)
            return -1;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, o->faults.slow_ms) != 0)
            return -1;
    }
    return 0;
}

/* Returns -1 when the connection is to be reset. */
static int tcp_answer(modbus_t *ctx, modbus_mapping_t *map, const struct stub_model *m,
                      const struct stub_options *o, const uint8_t *req, int len)
{
    int hl = modbus_get_header_length(ctx);
    enum stub_fault mode = is_faulty_unit(o, req[hl - 1]) ? stub_fault_now(&o->faults) : FAULT_NONE;
    uint8_t junk[9];
    switch (mode) {
    case FAULT_SILENT:
        return 0;
    case FAULT_ILLEGAL_ADDRESS:
        modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
        return 0;
    case FAULT_BUSY:
        modbus_reply_exception(ctx, req, MODBUS_EXCEPTION_SLAVE_OR_SERVER_BUSY);
        return 0;
    case FAULT_GARBAGE:
    case FAULT_BAD_CRC: /* TCP has no CRC: a frame with a nonsense header */
        stub_garbage(junk, (int)sizeof(junk));
        if (write(modbus_get_socket(ctx), junk, sizeof(junk)) < 0)
            return -1;
        return 0;
    case FAULT_RESET:
        return -1;
    case FAULT_WRONG_UNIT:
    case FAULT_BAD_LENGTH:
    case FAULT_DRIBBLE:
        return tcp_answer_odd(ctx, map, o, mode, req, len);
    case FAULT_SLOW:
        nanosleep(&(struct timespec){.tv_sec = o->faults.slow_ms / 1000,
                                     .tv_nsec = (o->faults.slow_ms % 1000) * 1000000L},
                  NULL);
        /* fall through */
    default:
        handle_request(ctx, map, m, req, len);
        return 0;
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int serve_tcp(const struct stub_model *m, const struct stub_options *o,
                     modbus_mapping_t *map)
{
    modbus_t *ctx = modbus_new_tcp(o->bind, o->tcp_port);
    int server = ctx ? modbus_tcp_listen(ctx, MAX_CLIENTS) : -1;
    if (server < 0) {
        fprintf(stderr, "%s-stub: cannot listen on %s:%d: %s\n", m->name, o->bind, o->tcp_port,
                modbus_strerror(errno));
        if (ctx)
            modbus_free(ctx);
        return 1;
    }
    struct sockaddr_in addr;
    socklen_t alen = sizeof(addr);
    getsockname(server, (struct sockaddr *)&addr, &alen);
    printf("LISTENING tcp %s:%d\n", o->bind, ntohs(addr.sin_port));
    fflush(stdout);

    int clients[MAX_CLIENTS];
    int64_t heard_ms[MAX_CLIENTS]; /* when each last sent a request */
    int n_clients = 0;
    uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
    time_t started = time(NULL);
    while (!time_is_up(o, started)) {
        check_power_loss(m, map);
        fd_set fds;
        FD_ZERO(&fds);
        FD_SET(server, &fds);
        int maxfd = server;
        for (int i = 0; i < n_clients; i++) {
            FD_SET(clients[i], &fds);
            maxfd = clients[i] > maxfd ? clients[i] : maxfd;
        }
        struct timeval tv = {0, (o->close_idle_ms > 0 ? 20 : 200) * 1000};
        int ready = select(maxfd + 1, &fds, NULL, NULL, &tv);
        int64_t now = mono_ms();
        for (int i = 0; o->close_idle_ms > 0 && i < n_clients; i++)
            if (now - heard_ms[i] >= o->close_idle_ms &&
                !(ready > 0 && FD_ISSET(clients[i], &fds))) {
                close(clients[i]);
                heard_ms[i] = heard_ms[n_clients - 1];
                clients[i--] = clients[--n_clients];
            }
        if (ready <= 0)
            continue;
        if (FD_ISSET(server, &fds)) {
            int fd = accept(server, NULL, NULL);
            if (fd >= 0 && n_clients < MAX_CLIENTS) {
                heard_ms[n_clients] = now;
                clients[n_clients++] = fd;
            } else if (fd >= 0) {
                close(fd);
            }
        }
        for (int i = 0; i < n_clients; i++) {
            if (!FD_ISSET(clients[i], &fds))
                continue;
            heard_ms[i] = now;
            modbus_set_socket(ctx, clients[i]);
            int len = modbus_receive(ctx, req);
            if (len > 0 && tcp_answer(ctx, map, m, o, req, len) != 0) {
                reset_connection(clients[i]);
                heard_ms[i] = heard_ms[n_clients - 1];
                clients[i--] = clients[--n_clients];
            } else if (len < 0) {
                close(clients[i]);
                heard_ms[i] = heard_ms[n_clients - 1];
                clients[i--] = clients[--n_clients];
            }
        }
    }
    for (int i = 0; i < n_clients; i++)
        close(clients[i]);
    close(server);
    modbus_free(ctx);
    return 0;
}

int stub_run(int argc, char **argv, const struct stub_model *model)
{
    struct stub_options o;
    if (parse_options(argc, argv, model, &o) != 0)
        return 2;
    struct sigaction sa = {.sa_handler = on_stop};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_power_loss;
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int registers = o.registers > model->nb_registers ? o.registers : model->nb_registers;
    modbus_mapping_t *map = modbus_mapping_new(model->nb_bits, model->nb_input_bits, registers,
                                               model->nb_input_registers);
    if (!map)
        return 1;
    power_on(model, map); /* the state at switch-on */
    int rc = o.tcp_port >= 0       ? serve_tcp(model, &o, map)
             : o.rtu_tcp_port >= 0 ? serve_rtu_over_tcp(model, &o, map)
                                   : serve_rtu(model, &o, map);
    modbus_mapping_free(map);
    return rc;
}
