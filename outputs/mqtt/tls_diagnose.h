/* Why a TLS connection to the broker failed: a handshake of the gateway's
 * own with the configured CA, certificate and key, answered in one line
 * (a wrong host name, an expired certificate and the dates, a CA that did
 * not sign it, a file that cannot be used, a client certificate the broker
 * asks for). Blocks for up to a few seconds: call it where a failed
 * connect is being handled, not on the data path. */
#ifndef GW_TLS_DIAGNOSE_H
#define GW_TLS_DIAGNOSE_H

#include <stddef.h>

#include "config/config.h"

void tls_diagnose(const struct mqtt_config *m, const char *uri, char *why, size_t size);

#endif
