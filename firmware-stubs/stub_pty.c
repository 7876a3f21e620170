#define _XOPEN_SOURCE 700 /* posix_openpt and friends */
#include "firmware-stubs/stub_pty.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>

int stub_open_pty(const char *link, int flags, char *path, size_t size, int *keep_fd)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY | flags);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0)
        return -1;
    snprintf(path, size, "%s", ptsname(master));
    *keep_fd = open(path, O_RDWR | O_NOCTTY);
    struct termios tio;
    if (*keep_fd < 0 || tcgetattr(*keep_fd, &tio) != 0)
        return -1;
    cfmakeraw(&tio);
    tcsetattr(*keep_fd, TCSANOW, &tio);
    if (link) {
        unlink(link);
        if (symlink(path, link) != 0)
            return -1;
    }
    return master;
}
