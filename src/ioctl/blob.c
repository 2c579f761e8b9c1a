// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_ioctl --save / --load (docs/control-channel.md §10): the files
 * on this side, SWTPM_IOCTL_BUFFERSIZE, and the reports; the transfer
 * itself is the client's (client_get_blob, client_set_blob).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ioctl.h"
#include "fdio.h"
#include "log.h"
#include "subopt.h"

struct buf {
    uint8_t *data;
    size_t len;
};

/* 0 = not set, else the chunk size from SWTPM_IOCTL_BUFFERSIZE; -1 bad. */
static long
env_buffersize(void)
{
    const char *s = getenv("SWTPM_IOCTL_BUFFERSIZE");
    unsigned long v;

    if (!s) {
        return 0;
    }
    if (parse_uint(s, 1, 16u * 1024 * 1024, &v) < 0) {
        log_err("SWTPM_IOCTL_BUFFERSIZE must be a number 1-16777216, "
                "got '%s'", s);
        return -1;
    }
    return (long)v;
}

/* Report a failed transfer of the blob (cmd: GET or SET_STATEBLOB). */
static void
report_xfer(const struct client *c, uint32_t cmd, int err,
            enum client_blob_step step)
{
    if (step == CLIENT_BLOB_SIZE) {
        log_err("state blob from %s is too big", c->desc);
    } else if (step == CLIENT_BLOB_STREAM && cmd == CMD_GET_STATEBLOB) {
        log_errno(-err, "cannot read the state blob from %s", c->desc);
    } else if (step == CLIENT_BLOB_STREAM) {
        log_errno(-err, "cannot write the state blob to %s", c->desc);
    } else {
        report_err(c, cmd, err);
    }
}

/* CUSE only: the read()/write() piece size, 0 for ioctls only; -1 bad. */
static long
chunk_size(const struct client *c)
{
    return c->kind == CLIENT_DEVICE ? env_buffersize() : 0;
}

/*
 * Write the blob to path (mode 0600): replaced atomically when the
 * directory allows it, so a failure leaves an existing file intact;
 * otherwise (a writable file in a directory we cannot write) in place.
 * An existing path must be a regular file.
 */
static int
write_file(const char *path, const struct buf *b)
{
    int fd, r;

    r = fd_replace_file(path, b->data, b->len, 0600);
    if (r == 0) {
        return 0;
    }
    if (r != -EACCES && r != -EPERM) {
        log_errno(-r, "cannot write '%s'", path);
        return -1;
    }
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
              0600);
    if (fd < 0) {
        log_errno(errno, "cannot create '%s'", path);
        return -1;
    }
    r = fd_write_full(fd, b->data, b->len);
    if (r == 0 && fsync(fd) < 0 && errno != EINVAL) {
        r = -errno;
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r < 0) {
        log_errno(-r, "cannot write '%s'", path);
        return -1;
    }
    return 0;
}

/*
 * Like an O_NOFOLLOW open, never replace a symlink or a device.  Checked
 * before fetching, because fetching the volatile blob deletes it on the
 * emulator's side.
 */
static int
check_out_path(const char *path)
{
    struct stat st;

    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        log_err("cannot write '%s': it exists and is not a regular file",
                path);
        return -1;
    }
    return 0;
}

int
save_blob(struct client *c, const struct opts *o)
{
    struct buf b = { 0 };
    enum client_blob_step step;
    uint32_t rc = 0;
    long chunk;
    int r;

    if (check_out_path(o->file) < 0) {
        return -1;
    }
    chunk = chunk_size(c);
    if (chunk < 0) {
        return -1;
    }
    r = client_get_blob(c, PTM_STATE_FLAG_DECRYPTED, o->blob_type,
                        (size_t)chunk, &b.data, &b.len, &rc, &step);
    if (r < 0) {
        report_xfer(c, CMD_GET_STATEBLOB, r, step);
        return -1;
    }
    /* TPM_RETRY (0x800) means "no such blob": an empty file, success. */
    if (rc != 0 && !(rc & TPM_RETRY)) {
        report_rc(c, CMD_GET_STATEBLOB, rc);
        r = -1;
        goto out;
    }
    if (rc != 0) {
        b.len = 0;
    }
    r = write_file(o->file, &b);
out:
    free(b.data);
    return r;
}

/* Read the whole --load file, refusing anything over PTM_SET_BLOB_MAX. */
static int
read_file(const char *path, struct buf *b)
{
    struct stat st;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        log_errno(errno, "cannot open '%s'", path);
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        log_err("'%s' is not a regular file", path);
        goto fail;
    }
    if (st.st_size > PTM_SET_BLOB_MAX) {
        log_err("'%s' is too big for a state blob (%lld bytes, at most %u)",
                path, (long long)st.st_size, PTM_SET_BLOB_MAX);
        goto fail;
    }
    b->data = malloc((size_t)st.st_size + 1);
    if (!b->data) {
        log_err("out of memory");
        goto fail;
    }
    n = fd_read_full(fd, b->data, (size_t)st.st_size);
    if (n != (ssize_t)st.st_size) {
        log_errno(n < 0 ? (int)-n : EIO, "cannot read '%s'", path);
        goto fail;
    }
    b->len = (size_t)n;
    close(fd);
    return 0;
fail:
    close(fd);
    return -1;
}

int
load_blob(struct client *c, const struct opts *o)
{
    struct buf b = { 0 };
    enum client_blob_step step;
    uint32_t rc = 0;
    long chunk;
    int r = -1;

    if (read_file(o->file, &b) < 0) {
        goto out;
    }
    chunk = chunk_size(c);
    if (chunk < 0) {
        goto out;
    }
    r = client_set_blob(c, 0, o->blob_type, b.data, b.len, (size_t)chunk,
                        &rc, &step);
    if (r < 0) {
        report_xfer(c, CMD_SET_STATEBLOB, r, step);
        r = -1;
    } else if (rc != 0) {
        report_rc(c, CMD_SET_STATEBLOB, rc);
        r = -1;
    }
out:
    free(b.data);
    return r;
}
