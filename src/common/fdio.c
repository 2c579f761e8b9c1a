// SPDX-License-Identifier: BSD-3-Clause
/* Whole-buffer reads and writes on file descriptors, retrying EINTR. */
#include "fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
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
fd_open_input(const char *path)
{
    struct stat sb;
    int fd;

    if (stat(path, &sb) < 0) {
        return -errno;
    }
    if (S_ISDIR(sb.st_mode)) {
        return -EISDIR;
    }
    if (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode)) {
        return -FD_NOT_INPUT;
    }
    fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &sb) < 0 || S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode) ||
        S_ISDIR(sb.st_mode)) {
        close(fd);
        return -FD_NOT_INPUT;
    }
    return fd;
}

const char *
fd_open_strerror(int err)
{
    return err == FD_NOT_INPUT ? "a FIFO or socket, which is never read; "
                                 "give a regular file"
                               : strerror(err);
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

/* fsync the directory holding path, so a rename in it is durable. */
static int
sync_parent(const char *path)
{
    char *copy = strdup(path);
    int fd, r = 0;

    if (!copy) {
        return -ENOMEM;
    }
    fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        r = -errno;
    }
    if (fd >= 0) {
        close(fd);
    }
    free(copy);
    /* Some file systems cannot sync a directory; the rename stands. */
    return r == -EINVAL ? 0 : r;
}

int
fd_replace_file(const char *path, const void *data, size_t len, mode_t mode)
{
    char *tmp = NULL;
    int fd, r;

    if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
        return -ENOMEM;
    }
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        r = -errno;
        free(tmp);
        return r;
    }
    r = fchmod(fd, mode) < 0 ? -errno : 0;
    if (r == 0) {
        r = fd_write_full(fd, data, len);
    }
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    /* close even after a failed write: the fd must not leak */
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r == 0 && rename(tmp, path) < 0) {
        r = -errno;
    }
    if (r < 0) {
        unlink(tmp);
    } else {
        r = sync_parent(path);
    }
    free(tmp);
    return r;
}

static void
on_tick(int sig)
{
    (void)sig;
}

int
fd_flock_wait(int fd, int64_t deadline_ms)
{
    const struct itimerval tick = { { 1, 0 }, { 1, 0 } };
    struct sigaction sa = { .sa_handler = on_tick }, old_sa;
    struct itimerval old_it;
    sigset_t alrm, old_mask;
    int r;

    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        return 0;
    }
    if (errno != EWOULDBLOCK) {
        return -errno;
    }
    /* no SA_RESTART: the tick ends flock() with EINTR */
    sigemptyset(&sa.sa_mask);
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    if (sigaction(SIGALRM, &sa, &old_sa) < 0) {
        return -errno;
    }
    sigprocmask(SIG_UNBLOCK, &alrm, &old_mask);
    if (setitimer(ITIMER_REAL, &tick, &old_it) < 0) {
        r = -errno;
        goto out;
    }
    for (;;) {
        if (flock(fd, LOCK_EX) == 0) {
            r = 0;
            break;
        }
        if (errno != EINTR) {
            r = -errno;
            break;
        }
        if (fd_clock_ms() >= deadline_ms) {
            r = -EWOULDBLOCK;
            break;
        }
    }
    setitimer(ITIMER_REAL, &old_it, NULL);
out:
    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGALRM, &old_sa, NULL);
    return r;
}

int64_t
fd_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
fd_wait(int fd, short events, int64_t deadline_ms)
{
    struct pollfd p = { .fd = fd, .events = events };
    int64_t left;
    int r;

    for (;;) {
        left = deadline_ms - fd_clock_ms();
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0) {
            return 0;
        }
        if (r < 0 && errno != EINTR) {
            return -errno;
        }
    }
}
