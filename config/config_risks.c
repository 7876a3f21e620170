/* Risks of a valid file: said by --check-config and logged at start, never
 * refused (a password readable by everyone, sent in clear, a certificate
 * not checked, a manual's register number where an address belongs). */
#include "config/config.h"
#include "config/config_line_budget.h"
#include "config/credentials.h"
#include "sources/modbus/point_types.h"

#include <string.h>

/* The most common field mistake (docs/devices): the register number from
 * a manual's table (40001 = the first holding register) written where the
 * address on the wire belongs. Valid, so only a warning. */
static void warn_manual_address(const struct gateway_config *cfg, const struct point_config *p,
                                struct config_errors *warnings)
{
    int base = p->where.table == FN_HOLDING_REGISTER ? 40001
               : p->where.table == FN_INPUT_REGISTER ? 30001
                                                     : 0;
    if (!base || p->broken || p->derived_from[0] || p->kind == KIND_OCCUPANCY ||
        p->where.address < base || p->where.address > base + 9998)
        return;
    config_error_add(warnings,
                     "%s:%d: [point %s/%s] address: %d looks like a register number from a "
                     "manual's table (%dxxxx); the address on the wire is counted from 0, here "
                     "most likely %d",
                     p->file ? p->file : cfg->ini_path, p->line, p->device_name, p->name,
                     p->where.address, base / 10000, p->where.address - base);
}

void config_risks(const struct gateway_config *cfg, struct config_errors *warnings)
{
    const struct mqtt_config *m = &cfg->mqtt;
    bool plain = false, tls = false;
    for (int i = 0; i < m->uri_count; i++) {
        bool is_tls =
            strncmp(m->uris[i], "ssl://", 6) == 0 || strncmp(m->uris[i], "mqtts://", 8) == 0;
        tls = tls || is_tls;
        plain = plain || !is_tls;
    }
    const char *secret = m->password_file[0] ? m->password_file : cfg->ini_path;
    if (m->password[0] && credential_readable_by_others(secret))
        config_error_add(warnings,
                         "%s: holds the MQTT password and every user of this machine can read "
                         "it: chmod 640 (owner root, group of the service user)",
                         secret);
    if (m->tls_key_file[0] && credential_readable_by_others(m->tls_key_file))
        config_error_add(warnings,
                         "%s: [mqtt] tls_key_file: every user of this machine can read the "
                         "private key: chmod 640",
                         m->tls_key_file);
    if (m->password[0] && plain)
        config_error_add(warnings,
                         "%s: [mqtt] password: sent unencrypted to a tcp:// or mqtt:// broker; "
                         "use ssl:// (TLS)",
                         cfg->ini_path);
    for (size_t i = 0; i < cfg->point_count; i++)
        warn_manual_address(cfg, &cfg->points[i], warnings);
    config_warn_line_load(cfg, warnings);
    if (tls && !m->tls_verify)
        config_error_add(warnings,
                         "%s: [mqtt] tls_verify = false: the broker's certificate is not checked, "
                         "anyone on the path can pose as the broker",
                         cfg->ini_path);
}
