/* Modbus TCP in steps (sources/modbus/mbap_conn.c) against a peer played
 * by the test over a socketpair, and a real connect on loopback: replies
 * that come in pieces, that do not fit, that never come, and a peer that
 * hangs up between transactions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/clock.h"
#include "sources/modbus/mbap_conn.h"
#include "sources/modbus/point_types.h"

struct fixture {
    int peer;
    struct mbap_conn *c;
    struct modbus_request rq;
    struct link_device dev;
    uint16_t regs[8];
    char why[256];
    struct source_step step;
};

static int setup(void **state)
{
    static struct fixture f;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    f = (struct fixture){.peer = sv[1], .c = mbap_conn_create_on_fd(sv[0])};
    f.rq = (struct modbus_request){
        .unit_id = 3, .function = FN_HOLDING_REGISTER, .address = 10, .count = 2};
    f.dev = (struct link_device){.unit_id = 3, .timeout_ms = 200};
    *state = &f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mbap_conn_destroy(f->c);
    close(f->peer);
    return 0;
}

/* Steps until done or ms have passed; whether it is done. */
static bool run(struct fixture *f, int ms)
{
    int64_t end = clock_mono_ms() + ms;
    while (!f->step.done && clock_mono_ms() < end) {
        struct pollfd p = {.fd = f->step.fd, .events = f->step.events};
        int n = poll(&p, f->step.fd >= 0 ? 1 : 0, 5);
        mbap_resume(f->c, n > 0 ? p.revents : 0, &f->step);
    }
    return f->step.done;
}

/* The request as the peer gets it: its transaction id. */
static int take_request(struct fixture *f)
{
    uint8_t req[12];
    struct pollfd p = {.fd = f->peer, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 1000), 1);
    assert_int_equal(read(f->peer, req, sizeof(req)), 12);
    assert_int_equal(req[2] << 8 | req[3], 0); /* protocol */
    assert_int_equal(req[4] << 8 | req[5], 6);
    assert_int_equal(req[6], 3);
    assert_int_equal(req[7], 3); /* read holding registers */
    assert_int_equal(req[8] << 8 | req[9], 10);
    assert_int_equal(req[10] << 8 | req[11], 2);
    return req[0] << 8 | req[1];
}

static void reply(struct fixture *f, int tid, const uint8_t *pdu, size_t n, size_t from, size_t to)
{
    uint8_t frame[64] = {(uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, (uint8_t)(n + 1), 3};
    memcpy(frame + 7, pdu, n);
    assert_int_equal(write(f->peer, frame + from, to - from), (ssize_t)(to - from));
}

static const uint8_t good[] = {3, 4, 0x12, 0x34, 0xab, 0xcd};

static void test_a_reply_in_pieces_is_read_whole(void **state)
{
    struct fixture *f = *state;
    mbap_begin(f->c, &f->dev, &f->rq, f->regs, f->why, sizeof(f->why), &f->step);
    assert_false(f->step.done);
    int tid = take_request(f);
    assert_int_equal(tid, 1);
    reply(f, tid, good, sizeof(good), 0, 5);
    assert_false(run(f, 30));
    reply(f, tid, good, sizeof(good), 5, 13);
    assert_true(run(f, 500));
    assert_int_equal(f->step.result, SOURCE_OK);
    assert_int_equal(f->regs[0], 0x1234);
    assert_int_equal(f->regs[1], 0xabcd);
    /* Between transactions the connection is watched for a hang-up. */
    assert_true(f->step.fd >= 0);
    assert_int_equal(f->step.events, POLLIN);
    /* The next request carries the next id. */
    mbap_begin(f->c, &f->dev, &f->rq, f->regs, f->why, sizeof(f->why), &f->step);
    assert_int_equal(take_request(f), 2);
}

static void test_a_stale_transaction_id_closes_the_connection(void **state)
{
    struct fixture *f = *state;
    mbap_begin(f->c, &f->dev, &f->rq, f->regs, f->why, sizeof(f->why), &f->step);
    int tid = take_request(f);
    reply(f, tid + 5, good, sizeof(good), 0, 13);
    assert_true(run(f, 500));
    assert_int_equal(f->step.result, SOURCE_IO);
    assert_int_equal(f->step.fd, -1);
    assert_non_null(strstr(f->why, "holding_register 10..11 from unit 3"));
}

static void test_an_exception_keeps_the_connection(void **state)
{
    struct fixture *f = *state;
    static const uint8_t refused[] = {0x83, 2};
    mbap_begin(f->c, &f->dev, &f->rq, f->regs, f->why, sizeof(f->why), &f->step);
    reply(f, take_request(f), refused, sizeof(refused), 0, 9);
    assert_true(run(f, 500));
    assert_int_equal(f->step.result, SOURCE_REFUSED);
    assert_true(f->step.fd >= 0);
    assert_non_null(strstr(f->why, "Illegal data address"));
}

static void test_bytes_beyond_the_reply_put_the_stream_out_of_step(void **state)
{
    struct fixture *f = *state;
    mbap_begin(f->c, &f->dev, &f->rq, f->regs, f->why, sizeof(f->why), &f->step);
    int tid = take_request(f);
    uint8_t frame[14] = {(uint8_t)(tid >> 8), (uint8_t)tid, 0, 0, 0, 7, 3, 3, 4, 1, 2, 3, 4, 0x55};
    assert_int_equal(write(f->peer, frame, sizeof(frame)), (ssize_t)sizeof(frame));
    assert_true(run(f, 500));
    assert_int_equal(f->step.result, SOURCE_IO);
    assert_int_equal(f->step.fd, -1);
}

static void test_no_reply_times_out_at_the_response_timeout(void **state)
{
    struct fixture *f = *state;
    f->dev.timeout_ms = 40;
    int64_t began = clock_mono_ms();
    mbap_begin(f->c, &f->dev, &f->rq, f->regs, f->why, sizeof(f->why), &f->step);
    take_request(f);
    assert_true(run(f, 1000));
    int64_t took = clock_mono_ms() - began;
    assert_int_equal(f->step.result, SOURCE_IO);
    assert_true(took >= 40);
    assert_true(took < 900);
    assert_non_null(strstr(f->why, "timed out"));
}

static void test_a_hang_up_between_transactions_is_noticed(void **state)
{
    struct fixture *f = *state;
    mbap_begin(f->c, &f->dev, &f->rq, f->regs, f->why, sizeof(f->why), &f->step);
    reply(f, take_request(f), good, sizeof(good), 0, 13);
    assert_true(run(f, 500));
    assert_int_equal(write(f->peer, "xyz", 3), 3); /* unasked */
    struct pollfd p = {.fd = f->step.fd, .events = f->step.events};
    assert_int_equal(poll(&p, 1, 500), 1);
    mbap_resume(f->c, p.revents, &f->step);
    assert_true(f->step.done);
    assert_int_equal(f->step.fd, -1);
    assert_int_equal(mbap_take_stray_bytes(f->c), 3);
    assert_int_equal(mbap_take_stray_bytes(f->c), 0);
}

/* A real listener on loopback: a connect that succeeds, then one to a
 * port where nobody listens. */
static void test_connects_and_fails_to_connect(void **state)
{
    (void)state;
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(ls, 1), 0);
    socklen_t len = sizeof(a);
    getsockname(ls, (struct sockaddr *)&a, &len);
    int port = ntohs(a.sin_port);
    struct fixture f = {
        .rq = {.unit_id = 3, .function = FN_HOLDING_REGISTER, .address = 10, .count = 2},
        .dev = {.unit_id = 3, .timeout_ms = 500}};
    f.c = mbap_conn_create("127.0.0.1", port);
    mbap_begin(f.c, &f.dev, &f.rq, f.regs, f.why, sizeof(f.why), &f.step);
    assert_true(f.step.fd >= 0 || f.step.done);
    f.peer = -1;
    /* The request goes out once connected: accept and answer it. */
    int64_t end = clock_mono_ms() + 1000;
    while (f.peer < 0 && clock_mono_ms() < end) {
        struct pollfd p[2] = {{.fd = f.step.fd, .events = f.step.events},
                              {.fd = ls, .events = POLLIN}};
        poll(p, 2, 5);
        if (p[1].revents)
            f.peer = accept(ls, NULL, NULL);
        if (p[0].revents)
            mbap_resume(f.c, p[0].revents, &f.step);
    }
    assert_true(f.peer >= 0);
    reply(&f, take_request(&f), good, sizeof(good), 0, 13);
    assert_true(run(&f, 500));
    assert_int_equal(f.step.result, SOURCE_OK);
    assert_int_equal(f.regs[1], 0xabcd);
    mbap_conn_destroy(f.c);
    close(f.peer);
    close(ls); /* nobody listens there now */
    f.c = mbap_conn_create("127.0.0.1", port);
    f.step = (struct source_step){0};
    mbap_begin(f.c, &f.dev, &f.rq, f.regs, f.why, sizeof(f.why), &f.step);
    assert_true(run(&f, 1000));
    assert_int_equal(f.step.result, SOURCE_IO);
    assert_non_null(strstr(f.why, "cannot connect to 127.0.0.1:"));
    mbap_conn_destroy(f.c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_reply_in_pieces_is_read_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_stale_transaction_id_closes_the_connection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_an_exception_keeps_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bytes_beyond_the_reply_put_the_stream_out_of_step,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_reply_times_out_at_the_response_timeout, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_hang_up_between_transactions_is_noticed, setup,
                                        teardown),
        cmocka_unit_test(test_connects_and_fails_to_connect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
