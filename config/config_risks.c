/* Risks of a valid file: said by --check-config and logged at start, never
 * refused (a password readable by everyone, sent in clear, a certificate
 * not checked, a manual's register number where an address belongs). */
#include "config/config.h"
#include "config/config_line_budget.h"
#include "config/credentials.h"

#include <string.h>

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
    config_check_source_points(cfg, true, warnings);
    config_warn_line_load(cfg, warnings);
    if (tls && !m->tls_verify)
        config_error_add(warnings,
                         "%s: [mqtt] tls_verify = false: the broker's certificate is not checked, "
                         "anyone on the path can pose as the broker",
                         cfg->ini_path);
}
