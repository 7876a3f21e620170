/* The sysfs source on real files in a temporary folder (the box's own
 * /sys has no thermal zone in a VM): numbers in each format, a file with
 * no number, a file that goes away and comes back, the checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sources/sysfs/sysfs_source.h"

static char dir[64];

struct point_keys_view {
    char file[256];
    int format;
};

static struct source_point point(const char *name, int format)
{
    struct source_point p = {0};
    struct point_keys_view v = {.format = format};
    snprintf(v.file, sizeof(v.file), "%s/%s", dir, name);
    /* Filled as the config loader does, through the keys' offsets. */
    const struct source_keys *keys = sysfs_source.point_keys;
    memcpy(p.bytes + keys->keys[0].offset, v.file, sizeof(v.file));
    memcpy(p.bytes + keys->keys[1].offset, &v.format, sizeof(int));
    return p;
}

static void put(const char *name, const char *text)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_numbers_and_failures(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/test-sysfs-XXXXXX");
    assert_non_null(mkdtemp(dir));
    put("temp", "45123\n");
    put("rx", "18446744073709551\n");
    put("throttled", "0x50005\n");
    put("junk", "n/a\n");
    struct source_point points[] = {point("temp", 0), point("rx", 1), point("throttled", 2),
                                    point("junk", 0)};
    struct source_device dev = {.name = "self"};
    void *bus = sysfs_source.open(NULL, NULL);
    void *d = sysfs_source.add_device(&dev, points, 4);
    assert_non_null(d);
    struct source_sample samples[4];
    struct source_poll poll = {.samples = samples};
    assert_int_equal(sysfs_source.poll(bus, d, &poll, NULL), SOURCE_OK);
    assert_int_equal(poll.count, 4);
    assert_true(samples[0].ok && samples[0].raw == 45123);
    assert_true(samples[1].ok && samples[1].raw == 18446744073709551.0);
    assert_true(samples[2].ok && samples[2].raw == 0x50005);
    assert_false(samples[3].ok); /* no number: a bad reading, not a failed poll */

    put("temp", "-1500\n");
    assert_int_equal(sysfs_source.poll(bus, d, &poll, NULL), SOURCE_OK);
    assert_true(samples[0].ok && samples[0].raw == -1500);

    char path[128];
    snprintf(path, sizeof(path), "%s/rx", dir);
    unlink(path);
    assert_int_equal(sysfs_source.poll(bus, d, &poll, NULL), SOURCE_IO);
    assert_non_null(strstr(poll.why, "No such file"));
    assert_int_equal(poll.count, 3); /* the other files still read */
    put("rx", "7\n");
    assert_int_equal(sysfs_source.poll(bus, d, &poll, NULL), SOURCE_OK);
    sysfs_source.remove_device(d);
    sysfs_source.close(bus);

    struct source_value v = sysfs_source.value_of(&points[1]);
    assert_true(v.bits == 64 && !v.is_signed && !v.writable);
    assert_true(sysfs_source.value_of(&points[0]).is_signed);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_relative_path_refused(void **state)
{
    (void)state;
    struct source_point p = {0};
    memcpy(p.bytes + sysfs_source.point_keys->keys[0].offset, "temp", 5);
    struct source_problem problems[2];
    bool writable = false;
    assert_int_equal(sysfs_source.check_points(&p, &writable, 1, problems, 2), 1);
    assert_string_equal(problems[0].key, "file");
    assert_non_null(strstr(problems[0].why, "not an absolute path"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers_and_failures),
        cmocka_unit_test(test_relative_path_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
