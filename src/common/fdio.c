// SPDX-License-Identifier: BSD-3-Clause
/* Whole-buffer reads and writes on file descriptors, retrying EINTR. */
#include "fdio.h"

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

ssize_t
fd_read_full(int fd, void *buf, size_t len)
{
    uint8_t *p = buf;
    size_t off = 0;
    ssize_t n;

    while (off < len) {
        n = read(fd, p + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            break;
        }
        off += (size_t)n;
    }
    return (ssize_t)off;
}

int
fd_write_full(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        if (n == 0) {
            return -EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}
