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
 * Open path for reading as an input file (config, options, key,
 * certificate, counter; symbolic links followed): a regular file, or a
 * device such as /dev/null (`--config /dev/null` is a common idiom), read
 * without blocking so a terminal cannot hold us.  A FIFO or socket could
 * hold the tool in open() or read() forever: refused before it is
 * opened, and O_NONBLOCK guards against a swap in between.  The fd, or
 * -errno: -FD_NOT_INPUT for a FIFO or socket (-EISDIR for a directory);
 * fd_open_strerror() words that.
 */
#define FD_NOT_INPUT EMEDIUMTYPE
int fd_open_input(const char *path);

/* strerror() for fd_open_input()'s errors (a positive errno). */
const char *fd_open_strerror(int err);

/* CLOCK_MONOTONIC in milliseconds, for poll() deadlines. */
int64_t fd_clock_ms(void);

/* Wait until fd has one of events or deadline_ms (fd_clock_ms()) has
 * passed, retrying EINTR: 0, -ETIMEDOUT, or poll()'s -errno. */
int fd_wait(int fd, short events, int64_t deadline_ms);

/*
 * flock(fd, LOCK_EX) that sleeps in the kernel until the lock is free
 * (the kernel wakes one waiter per release, where polling wakes every
 * waiter every interval) and gives up at deadline_ms (fd_clock_ms()):
 * 0, -EWOULDBLOCK at the deadline, or flock()'s -errno.  A 1 s
 * ITIMER_REAL with a no-op SIGALRM handler interrupts the wait to check
 * the deadline; the process's timer, handler and mask are restored.  For
 * single-threaded tools only (the timer and SIGALRM are the process's).
 */
int fd_flock_wait(int fd, int64_t deadline_ms);

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
