// SPDX-License-Identifier: BSD-3-Clause
/*
 * systemd socket activation for `swtpm socket`: the sockets systemd passes
 * from fd 3 on ($LISTEN_FDS, for the process named by $LISTEN_PID) become
 * the data and control channels when the command line gives none
 * (docs/cli.md).  Upstream swtpm has no such thing; it takes passed
 * sockets only through fd=, which keeps working unchanged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "subopt.h"
#include "swtpm.h"

#define LISTEN_FDS_START 3

/* "type=unixio,fd=N" or "type=tcp,fd=N" for a passed socket. */
static int
describe_fd(int fd, char *out, size_t outlen, char *err, size_t errlen)
{
    struct sockaddr_storage sa;
    socklen_t len = sizeof(sa);
    int type = 0;
    socklen_t tlen = sizeof(type);
    const char *kind;

    if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0) {
        snprintf(err, errlen, "LISTEN_FDS: file descriptor %d is not a "
                 "socket: %s", fd, strerror(errno));
        return -EINVAL;
    }
    if (type != SOCK_STREAM) {
        snprintf(err, errlen, "LISTEN_FDS: file descriptor %d is not a "
                 "stream socket (use ListenStream= in the socket unit)", fd);
        return -EINVAL;
    }
    switch (sa.ss_family) {
    case AF_UNIX:
        kind = "unixio";
        break;
    case AF_INET:
    case AF_INET6:
        kind = "tcp";
        break;
    default:
        snprintf(err, errlen, "LISTEN_FDS: file descriptor %d is neither "
                 "a Unix nor a TCP socket", fd);
        return -EINVAL;
    }
    snprintf(out, outlen, "type=%s,fd=%d", kind, fd);
    return 0;
}

int
activation_channels(char *server, char *ctrl, size_t len,
                    char *err, size_t errlen)
{
    const char *pid_s = getenv("LISTEN_PID");
    const char *fds_s = getenv("LISTEN_FDS");
    unsigned long pid, n;
    int r;

    if (!pid_s || !fds_s || parse_uint(pid_s, 1, INT32_MAX, &pid) < 0 ||
        (pid_t)pid != getpid()) {
        return 0;       /* not for us (or not activated at all) */
    }
    /* Like sd_listen_fds(): a child must not take these for its own. */
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    if (parse_uint(fds_s, 0, 2, &n) < 0) {
        snprintf(err, errlen, "LISTEN_FDS='%s': swtpm socket takes 1 or 2 "
                 "sockets (data, then control), in ListenStream= order",
                 fds_s);
        return -EINVAL;
    }
    if (n >= 1) {
        r = describe_fd(LISTEN_FDS_START, server, len, err, errlen);
        if (r < 0) {
            return r;
        }
    }
    if (n >= 2) {
        r = describe_fd(LISTEN_FDS_START + 1, ctrl, len, err, errlen);
        if (r < 0) {
            return r;
        }
    }
    return (int)n;
}
