#include "config/credentials.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fits(int n, size_t size)
{
    return n >= 0 && (size_t)n < size ? 0 : -1;
}

int credential_path(const char *ini_path, const char *name, char *out, size_t out_size)
{
    if (name[0] == '/')
        return fits(snprintf(out, out_size, "%s", name), out_size);
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (dir && dir[0]) {
        if (fits(snprintf(out, out_size, "%s/%s", dir, name), out_size) == 0 &&
            access(out, F_OK) == 0)
            return 0;
    }
    const char *slash = strrchr(ini_path, '/');
    int dir_len = slash ? (int)(slash - ini_path) : 1;
    return fits(snprintf(out, out_size, "%.*s/%s", dir_len, slash ? ini_path : ".", name),
                out_size);
}

int credential_read(const char *path, char *out, size_t out_size, char *why, size_t why_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_size, "'%s' cannot be read: %s", path, strerror(errno));
        return -1;
    }
    /* One byte more than fits: a longer secret is an error, not cut short. */
    char line[1024];
    bool got = fgets(line, sizeof(line), f) != NULL;
    fclose(f);
    size_t len = got ? strcspn(line, "\r\n") : 0;
    if (len == 0) {
        snprintf(why, why_size, "'%s' is empty: the secret is its first line", path);
        return -1;
    }
    if (len >= out_size) {
        snprintf(why, why_size, "'%s': the secret is longer than %zu characters", path,
                 out_size - 1);
        return -1;
    }
    memcpy(out, line, len);
    out[len] = '\0';
    memset(line, 0, sizeof(line));
    return 0;
}

bool credential_readable_by_others(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && (st.st_mode & S_IROTH);
}
