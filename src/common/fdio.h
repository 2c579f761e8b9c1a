/* SPDX-License-Identifier: BSD-3-Clause */
/* Whole-buffer reads and writes on file descriptors, retrying EINTR. */
#ifndef SWTPM_FDIO_H
#define SWTPM_FDIO_H

#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <sys/types.h>

/* Read until len bytes or end of file: the byte count, or -errno. */
ssize_t fd_read_full(int fd, void *buf, size_t len);

/* Write all len bytes: 0, or -errno (-EIO if write() makes no progress). */
int fd_write_full(int fd, const void *buf, size_t len);

/*
 * Open path for reading if it is a regular file (symbolic links
 * followed): an input file (config, options, key, certificate, counter)
 * that is a FIFO, device or socket could hold the tool in open() or
 * read() forever, so it is refused before it is opened, and opened with
 * O_NONBLOCK against a swap in between.  The fd, or -errno:
 * -FD_NOT_REGULAR (-EISDIR for a directory) when it is not a regular
 * file; fd_open_strerror() words that.
 */
#define FD_NOT_REGULAR EMEDIUMTYPE
int fd_open_regular(const char *path);

/* strerror() for fd_open_regular()'s errors (a positive errno). */
const char *fd_open_strerror(int err);

/* CLOCK_MONOTONIC in milliseconds, for poll() deadlines. */
int64_t fd_clock_ms(void);

/*
 * Replace the file at path with len bytes of data, atomically: a new
 * temporary file beside it (path.XXXXXX, then mode), fsync, rename over
 * path, fsync of the directory.  On failure path keeps its old contents
 * and the temporary file is gone.  Returns 0 or a negative errno; the
 * caller reports it.  For the other files of the tree (state files go
 * through state.c, which also keeps a .bak).
 */
int fd_replace_file(const char *path, const void *data, size_t len,
                    mode_t mode);

#endif
