// SPDX-License-Identifier: BSD-3-Clause
/*
 * The directory state backend: upstream file names, atomic and durable
 * writes relative to one directory fd, and the .lock file lock
 * (state.md 2.1, 6, 7).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE    /* F_OFD_SETLK */
#endif
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctrl_wire.h"
#include "fdio.h"
#include "log.h"
#include "stateobj.h"

#define LOCK_NAME ".lock"
#define LOCK_RETRY_NS (10 * 1000 * 1000)
/* Upstream: path length + 20 must fit in FILENAME_MAX (state.md 2.1). */
#define STATE_PATH_MAX (4096 - 20)
#define OBJ_NAME_MAX 64

static int
obj_name(const struct state_store *st, const char *name, bool tmp,
         char *buf, size_t len)
{
    const char *prefix;
    int n;

    if (!name || !*name || strchr(name, '/')) {
        return -EINVAL;
    }
    if (tmp) {
        prefix = st->tpm2 ? "TMP2" : "TMP";
    } else {
        prefix = st->tpm2 ? "tpm2" : "tpm";
    }
    /* "00" is the TPM number, always 0. */
    n = snprintf(buf, len, "%s-00.%s", prefix, name);
    if (n < 0 || (size_t)n >= len) {
        return -ENAMETOOLONG;
    }
    return 0;
}

/* A key left uninitialised by the caller must not reach the crypto. */
static const struct state_key *
store_key(const struct state_store *st, int *r)
{
    if (st->filekey.len == 0) {
        *r = 0;
        return NULL;
    }
    *r = (st->filekey.len == 16 || st->filekey.len == 32) ? 0 : -EINVAL;
    return &st->filekey;
}

static int
open_error(const char *path, int e, char *err, size_t errlen)
{
    const char *fix;

    switch (e) {
    case ENOENT:
        fix = "create it and make it writable by the user swtpm runs as";
        break;
    case ENOTDIR:
        fix = "the path must name a directory";
        break;
    default:
        fix = "make it accessible and writable by the user swtpm runs as";
        break;
    }
    snprintf(err, errlen, "cannot open state directory '%s': %s; %s", path,
             strerror(e), fix);
    return -e;
}

int
state_open(struct state_store *st, const char *path, bool tpm2,
           mode_t mode, bool mode_explicit, bool create,
           char *err, size_t errlen)
{
    int fd;

    st->dir_fd = -1;
    st->lock_fd = -1;
    st->tpm2 = tpm2;
    st->mode = mode & 0777;
    st->mode_explicit = mode_explicit;
    st->defer_sync = false;
    st->path[0] = '\0';
    if (strlen(path) > STATE_PATH_MAX) {
        snprintf(err, errlen, "state directory path '%.64s...' is too long; "
                 "use a path of at most %d bytes", path, STATE_PATH_MAX);
        return -ENAMETOOLONG;
    }
    snprintf(st->path, sizeof(st->path), "%s", path);
    if (create && mkdir(path, 0775) < 0 && errno != EEXIST) {
        fd = errno;
        snprintf(err, errlen, "cannot create state directory '%s': %s; "
                 "create it and make it writable by the user swtpm runs as",
                 path, strerror(fd));
        return -fd;
    }
    fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return open_error(path, errno, err, errlen);
    }
    st->dir_fd = fd;
    return 0;
}

void
state_close(struct state_store *st)
{
    state_unlock(st);
    if (st->dir_fd >= 0) {
        close(st->dir_fd);
        st->dir_fd = -1;
    }
}

void
state_set_tpm2(struct state_store *st, bool tpm2)
{
    st->tpm2 = tpm2;
}

/* Record our pid in the lock file (informational only). */
static void
lock_write_pid(int fd)
{
    char buf[24];
    int n = snprintf(buf, sizeof(buf), "%ld", (long)getpid());

    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        log_debug("cannot write pid to lock file");
    }
}

/* Who holds the lock: a classic-lock holder's pid, else the file's. */
static pid_t
lock_holder(int fd)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    char buf[24];
    ssize_t n;
    long v;
    char *end;

    if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK &&
        fl.l_pid > 0) {
        return fl.l_pid;
    }
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    errno = 0;
    v = strtol(buf, &end, 10);
    if (errno || end == buf || v <= 0 || (pid_t)v != v) {
        return 0;
    }
    return (pid_t)v;
}

int
state_lock(struct state_store *st, unsigned int retries, pid_t *out_holder)
{
    const struct timespec delay = { 0, LOCK_RETRY_NS };
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    unsigned int i;
    int fd, r;

    if (st->lock_fd >= 0) {
        return 0;
    }
    /* No O_TRUNC: the holder's pid must survive until we own the lock. */
    fd = openat(st->dir_fd, LOCK_NAME,
                O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0660);
    if (fd < 0) {
        r = -errno;
        log_debug("cannot open lock file in '%s'", st->path);
        return r;
    }
    for (i = 0;; i++) {
        /* OFD lock: owned by the open file, so it survives fork(). */
        if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
            break;
        }
        if (errno != EAGAIN && errno != EACCES) {
            r = -errno;
            goto fail;
        }
        if (i >= retries) {
            *out_holder = lock_holder(fd);
            r = -EAGAIN;
            goto fail;
        }
        nanosleep(&delay, NULL);
    }
    lock_write_pid(fd);
    st->lock_fd = fd;
    return 0;
fail:
    close(fd);
    return r;
}

void
state_unlock(struct state_store *st)
{
    if (st->lock_fd >= 0) {
        close(st->lock_fd);
        st->lock_fd = -1;
    }
}

bool
state_is_locked(const struct state_store *st)
{
    return st->lock_fd >= 0;
}

/* Repair the mode of an existing file on load (state.md 7.2). */
static void
fix_mode(const struct state_store *st, int fd, mode_t cur)
{
    mode_t want = cur & 07777;

    if (st->mode_explicit) {
        want = st->mode;
    } else {
        want |= S_IWUSR;
    }
    if (want != (cur & 07777) && fchmod(fd, want) < 0) {
        log_debug("cannot change mode of a state file in '%s'", st->path);
    }
}

/* Read the whole regular file fname (at most STATEOBJ_MAX_LEN bytes). */
static int
read_file(const struct state_store *st, const char *fname,
          uint8_t **out, uint32_t *out_len)
{
    struct stat sb;
    uint8_t *buf = NULL;
    ssize_t n;
    int fd, r;

    /* O_NONBLOCK: a FIFO planted under a state name must not hang us in
     * open(); only a regular file is read. */
    fd = openat(st->dir_fd, fname,
                O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (fstat(fd, &sb) < 0) {
        r = -errno;
        goto out;
    }
    r = -EINVAL;
    if (!S_ISREG(sb.st_mode)) {
        goto out;
    }
    r = -EFBIG;
    if (sb.st_size > STATEOBJ_MAX_LEN) {
        goto out;
    }
    fix_mode(st, fd, sb.st_mode);
    r = -ENOMEM;
    buf = malloc(sb.st_size ? (size_t)sb.st_size : 1);
    if (!buf) {
        goto out;
    }
    n = fd_read_full(fd, buf, (size_t)sb.st_size);
    if (n < 0) {
        r = (int)n;
        goto out;
    }
    *out = buf;
    *out_len = (uint32_t)n;
    buf = NULL;
    r = 0;
out:
    free(buf);
    close(fd);
    return r;
}

int
state_load(struct state_store *st, const char *name,
           uint8_t **out, uint32_t *out_len, uint32_t *out_tpm_rc)
{
    const struct state_key *key;
    char fname[OBJ_NAME_MAX];
    uint8_t *obj = NULL;
    uint32_t len = 0;
    int r;

    key = store_key(st, &r);
    if (r == 0) {
        r = obj_name(st, name, /* tmp= */ false, fname, sizeof(fname));
    }
    if (r < 0) {
        *out_tpm_rc = TPM_FAIL;
        return r;
    }
    r = read_file(st, fname, &obj, &len);
    if (r < 0) {
        /* libtpms takes TPM_RETRY as "no such object: start fresh". */
        *out_tpm_rc = r == -ENOENT ? TPM_RETRY : TPM_FAIL;
        log_debug("cannot read state file '%s/%s': %s", st->path, fname,
                  strerror(-r));
        return r;
    }
    r = stateobj_decode(obj, len, key, out, out_len, out_tpm_rc);
    if (r < 0) {
        log_debug("cannot decode state file '%s/%s'", st->path, fname);
    }
    explicit_bzero(obj, len);
    free(obj);
    return r;
}

/* Write obj to tmp, make it durable, and rename it over fname. */
static int
write_atomic(const struct state_store *st, const char *tmp,
             const char *fname, const uint8_t *obj, uint32_t len)
{
    int fd, r;

    /* Whatever sits under the temp name (a stale temp file, or a FIFO
     * that would block open()) goes; O_EXCL then opens only a new file. */
    if (unlinkat(st->dir_fd, tmp, 0) < 0 && errno != ENOENT) {
        return -errno;
    }
    fd = openat(st->dir_fd, tmp,
                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                st->mode);
    if (fd < 0) {
        return -errno;
    }
    /* An explicit mode is applied exactly, whatever the umask. */
    r = 0;
    if (st->mode_explicit && fchmod(fd, st->mode) < 0) {
        r = -errno;
    }
    if (r == 0) {
        r = fd_write_full(fd, obj, len);
    }
    if (r == 0 && !st->defer_sync && fsync(fd) < 0) {
        r = -errno;
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r == 0 && renameat(st->dir_fd, tmp, st->dir_fd, fname) < 0) {
        r = -errno;
    }
    if (r < 0) {
        unlinkat(st->dir_fd, tmp, 0);
        return r;
    }
    if (!st->defer_sync && fsync(st->dir_fd) < 0) {
        return -errno;
    }
    return 0;
}

int
state_sync(struct state_store *st)
{
    static const char *const names[] = {
        "permall", "volatilestate", "savestate" };
    char fname[OBJ_NAME_MAX];
    int fd, r;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        r = obj_name(st, names[i], /* tmp= */ false, fname, sizeof(fname));
        if (r < 0) {
            return r;
        }
        fd = openat(st->dir_fd, fname,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            if (errno == ENOENT) {
                continue;
            }
            return -errno;
        }
        r = fsync(fd) < 0 ? -errno : 0;
        close(fd);
        if (r < 0) {
            return r;
        }
    }
    return fsync(st->dir_fd) < 0 ? -errno : 0;
}

int
state_save(struct state_store *st, const char *name,
           const uint8_t *raw, uint32_t len, uint32_t *out_tpm_rc)
{
    const struct state_key *key;
    char fname[OBJ_NAME_MAX], tmp[OBJ_NAME_MAX];
    uint8_t *obj = NULL;
    uint32_t olen = 0;
    int r;

    key = store_key(st, &r);
    if (r == 0) {
        r = obj_name(st, name, /* tmp= */ false, fname, sizeof(fname));
    }
    if (r == 0) {
        r = obj_name(st, name, /* tmp= */ true, tmp, sizeof(tmp));
    }
    if (r == 0) {
        r = stateobj_encode(raw, len, key, &obj, &olen);
    }
    if (r == 0) {
        r = write_atomic(st, tmp, fname, obj, olen);
        if (r < 0) {
            log_debug("cannot write state file '%s/%s': %s", st->path,
                      fname, strerror(-r));
        }
    }
    if (obj) {
        explicit_bzero(obj, olen);
        free(obj);
    }
    if (r < 0) {
        *out_tpm_rc = TPM_FAIL;
    }
    return r;
}

int
state_delete(struct state_store *st, const char *name, bool must_exist)
{
    char fname[OBJ_NAME_MAX];
    int r;

    r = obj_name(st, name, /* tmp= */ false, fname, sizeof(fname));
    if (r < 0) {
        return r;
    }
    if (unlinkat(st->dir_fd, fname, 0) < 0) {
        if (errno == ENOENT && !must_exist) {
            return 0;
        }
        return -errno;
    }
    return 0;
}

long
state_size(struct state_store *st, const char *name)
{
    char fname[OBJ_NAME_MAX];
    struct stat sb;
    int r;

    r = obj_name(st, name, /* tmp= */ false, fname, sizeof(fname));
    if (r < 0) {
        return r;
    }
    if (fstatat(st->dir_fd, fname, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
        return -errno;
    }
    if (!S_ISREG(sb.st_mode)) {
        return -EINVAL;
    }
    return (long)sb.st_size;
}
