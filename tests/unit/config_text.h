/* For the unit tests: an INI text loaded as the daemon loads its file,
 * from a file of its own (removed again), each error printed. Include
 * after cmocka.h. */
#ifndef GW_TEST_CONFIG_TEXT_H
#define GW_TEST_CONFIG_TEXT_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "config/config.h"

static inline int load_config_text(const char *text, struct gateway_config *cfg)
{
    char path[] = "/tmp/test-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    struct config_errors errors = {0};
    int rc = config_load(path, cfg, &errors);
    for (size_t j = 0; j < errors.count; j++)
        print_error("%s\n", errors.lines[j]);
    config_errors_free(&errors);
    unlink(path);
    return rc;
}

#endif
