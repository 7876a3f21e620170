/* One Modbus TCP connection driven in steps that never block: a
 * non-blocking connect with its deadline, the MBAP header framed here,
 * each reply read as it arrives and judged by modbus_reply_check.
 *
 * libmodbus's TCP backend blocks in connect, select and recv for a whole
 * transaction, so a thread can only wait on one device at a time; one
 * event loop for every TCP device needs the transaction as a state
 * machine (docs/design.md, "One thread for every TCP device"). RTU lines
 * keep libmodbus (modbus_link.h): a line carries one transaction at a
 * time anyway. */
#ifndef GW_MBAP_CONN_H
#define GW_MBAP_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "sources/modbus/modbus_link.h"
#include "sources/modbus/modbus_reply.h"
#include "sources/source.h"

struct mbap_conn;

/* Not connected yet (no I/O here); NULL when out of memory. */
struct mbap_conn *mbap_conn_create(const char *host, int port);
/* For fuzzing and tests: already connected over fd, which it owns. */
struct mbap_conn *mbap_conn_create_on_fd(int fd);
void mbap_conn_destroy(struct mbap_conn *c);

/* Begins one transaction with dev: connects if needed (then waits
 * dev->after_connect_ms), keeps dev->pause_ms after the last reply, sends
 * rq and reads its reply, values into dest. rq (and its values) and dest
 * stay the caller's until done. On failure why holds a short reason; a
 * reply that does not fit, a timeout or a broken connection closes it
 * (the stream is out of step), an exception reply does not. */
void mbap_begin(struct mbap_conn *c, const struct link_device *dev, const struct modbus_request *rq,
                uint16_t *dest, char *why, size_t why_size, struct source_step *step);
/* The next step (source_steps.resume); between transactions it notices a
 * peer that closed and bytes nobody asked for (it closes then too). */
void mbap_resume(struct mbap_conn *c, short revents, struct source_step *step);

/* Wall clock when the last request went out: a poll's readings' time. */
int64_t mbap_sent_wall_ms(const struct mbap_conn *c);
/* Bytes that came unasked since the last call. */
uint32_t mbap_take_stray_bytes(struct mbap_conn *c);

#endif
