/* SPDX-License-Identifier: BSD-3-Clause */
/* Whole-buffer reads and writes on file descriptors, retrying EINTR. */
#ifndef SWTPM_FDIO_H
#define SWTPM_FDIO_H

#include <stddef.h>
#include <sys/types.h>

/* Read until len bytes or end of file: the byte count, or -errno. */
ssize_t fd_read_full(int fd, void *buf, size_t len);

/* Write all len bytes: 0, or -errno (-EIO if write() makes no progress). */
int fd_write_full(int fd, const void *buf, size_t len);

#endif
