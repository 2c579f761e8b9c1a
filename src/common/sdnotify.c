// SPDX-License-Identifier: BSD-3-Clause
/* systemd readiness notification over $NOTIFY_SOCKET (sdnotify.h). */
#include "sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
sdnotify_open(const char *addr, int *out_fd)
{
    struct sockaddr_un sa;
    socklen_t salen;
    size_t len;
    int fd, r;

    *out_fd = -1;
    if (!addr || !*addr) {
        return 0;
    }
    if (addr[0] != '/' && addr[0] != '@') {
        return -EAFNOSUPPORT;
    }
    len = strlen(addr);
    memset(&sa, 0, sizeof(sa));
    /* A path needs room for its NUL; an abstract name does not. */
    if (len > sizeof(sa.sun_path) - (addr[0] == '/')) {
        return -ENAMETOOLONG;
    }
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, addr, len);
    if (addr[0] == '@') {
        sa.sun_path[0] = '\0';  /* abstract namespace, not NUL-terminated */
    }
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -errno;
    }
    if (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    *out_fd = fd;
    return 0;
}

int
sdnotify_send_close(int fd, const char *state)
{
    int r = 0;

    if (fd < 0) {
        return 0;
    }
    /* Never wait for a reader that does not read: a full queue is an
     * error (EAGAIN), logged by the caller, and the daemon serves on. */
    if (send(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        r = -errno;
    }
    close(fd);
    return r;
}
