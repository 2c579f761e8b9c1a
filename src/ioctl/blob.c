// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_ioctl --save / --load: state blob transfer (docs/control-channel.md
 * §7 and §10).  Sockets move the whole blob in one request; CUSE
 * moves it in 3072-byte ioctl chunks, or with SWTPM_IOCTL_BUFFERSIZE set,
 * through read()/write() on the device between ioctls.
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

/* Bound on blobs assembled from CUSE chunks (sanity only). */
#define CUSE_BLOB_MAX (16u * 1024 * 1024)

struct buf {
    uint8_t *data;
    size_t len;
};

static int
buf_append(struct buf *b, const void *p, size_t n)
{
    uint8_t *nd;

    if (n == 0) {
        return 0;
    }
    if (b->len + n > CUSE_BLOB_MAX) {
        return -EFBIG;
    }
    nd = realloc(b->data, b->len + n);
    if (!nd) {
        return -ENOMEM;
    }
    b->data = nd;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

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

/* One GET_STATEBLOB ioctl; result in *rc, -1 on transport failure. */
static int
get_chunk(struct client *c, struct ptm_getstate *gs, uint32_t type,
          uint32_t offset, uint32_t *rc)
{
    int r;

    memset(gs, 0, sizeof(*gs));
    gs->u.req.state_flags = PTM_STATE_FLAG_DECRYPTED;
    gs->u.req.type = type;
    gs->u.req.offset = offset;
    r = client_ctrl(c, CMD_GET_STATEBLOB, gs, rc);
    if (r < 0) {
        report_err(c, CMD_GET_STATEBLOB, r);
        return -1;
    }
    if (*rc == 0 && (gs->u.resp.length > PTM_STATE_BLOB_SIZE ||
                     gs->u.resp.totlength > CUSE_BLOB_MAX)) {
        report_err(c, CMD_GET_STATEBLOB, -EBADMSG);
        return -1;
    }
    return 0;
}

/* Stream the rest of the blob with read() (SWTPM_IOCTL_BUFFERSIZE). */
static int
read_rest(struct client *c, struct buf *b, uint32_t total, size_t chunk)
{
    uint8_t *tmp = malloc(chunk);
    size_t n;
    int r = 0;

    while (r == 0 && b->len < total) {
        if (!tmp) {
            r = -ENOMEM;
            break;
        }
        r = client_read_some(c, tmp, chunk, &n);
        if (r == 0) {
            r = buf_append(b, tmp, n > total - b->len ? total - b->len : n);
        }
    }
    free(tmp);
    if (r < 0) {
        log_errno(-r, "cannot read the state blob from %s", c->desc);
        return -1;
    }
    return 0;
}

/* CUSE: fetch all chunks; *rc gets a non-zero result if one came. */
static int
cuse_get(struct client *c, uint32_t type, struct buf *b, uint32_t *rc)
{
    struct ptm_getstate *gs = malloc(sizeof(*gs));
    long chunk = env_buffersize();
    int r = -1;

    if (!gs || chunk < 0) {
        goto out;
    }
    do {
        if (get_chunk(c, gs, type, (uint32_t)b->len, rc) < 0) {
            goto out;
        }
        if (*rc != 0) {
            r = 0;
            goto out;
        }
        if (buf_append(b, gs->u.resp.data, gs->u.resp.length) < 0) {
            log_err("state blob from %s is too big", c->desc);
            goto out;
        }
        if (chunk > 0 && b->len < gs->u.resp.totlength) {
            r = read_rest(c, b, gs->u.resp.totlength, (size_t)chunk);
            goto out;
        }
    } while (gs->u.resp.length > 0 && b->len < gs->u.resp.totlength);
    r = 0;
out:
    free(gs);
    return r;
}

/*
 * Write the blob to path (mode 0600): via a temp file and rename when the
 * directory allows it, so a failure leaves an existing file intact;
 * otherwise in place.  An existing path must be a regular file.
 */
static int
write_file(const char *path, const struct buf *b)
{
    char tmp[PATH_MAX];
    int fd, r;
    bool use_tmp;

    r = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
    use_tmp = r > 0 && (size_t)r < sizeof(tmp);
    fd = use_tmp ? mkstemp(tmp) : -1;
    if (fd < 0) {
        use_tmp = false;
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                  0600);
    }
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
    if (r == 0 && use_tmp && rename(tmp, path) < 0) {
        r = -errno;
    }
    if (r < 0) {
        log_errno(-r, "cannot write '%s'", path);
        if (use_tmp) {
            unlink(tmp);
        }
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
    uint32_t rc = 0;
    int r;

    if (check_out_path(o->file) < 0) {
        return -1;
    }

    if (c->kind == CLIENT_DEVICE) {
        r = cuse_get(c, o->blob_type, &b, &rc);
    } else {
        r = client_sock_get_blob(c, PTM_STATE_FLAG_DECRYPTED, o->blob_type,
                                 &b.data, &b.len, &rc);
        if (r < 0) {
            report_err(c, CMD_GET_STATEBLOB, r);
        }
    }
    if (r < 0) {
        goto out;
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

static int
set_chunk(struct client *c, struct ptm_setstate *ss, uint32_t type,
          const uint8_t *p, size_t n)
{
    uint32_t rc = 0;
    int r;

    memset(ss, 0, sizeof(*ss));
    ss->u.req.state_flags = 0;
    ss->u.req.type = type;
    ss->u.req.length = (uint32_t)n;
    if (n) {
        memcpy(ss->u.req.data, p, n);  /* p may be NULL for an empty chunk */
    }
    r = client_ctrl(c, CMD_SET_STATEBLOB, ss, &rc);
    if (r < 0) {
        report_err(c, CMD_SET_STATEBLOB, r);
        return -1;
    }
    if (rc != 0) {
        report_rc(c, CMD_SET_STATEBLOB, rc);
        return -1;
    }
    return 0;
}

/* CUSE: 3072-byte packets until a short one, or open/write()/close. */
static int
cuse_set(struct client *c, uint32_t type, const struct buf *b)
{
    struct ptm_setstate *ss = malloc(sizeof(*ss));
    long chunk = env_buffersize();
    size_t off = 0, n;
    int r = -1;

    if (!ss || chunk < 0) {
        goto out;
    }
    if (chunk > 0) {
        if (set_chunk(c, ss, type, NULL, 0) < 0) {
            goto out;
        }
        for (off = 0; off < b->len; off += n) {
            n = b->len - off < (size_t)chunk ? b->len - off : (size_t)chunk;
            r = client_write_all(c, b->data + off, n);
            if (r < 0) {
                log_errno(-r, "cannot write the state blob to %s", c->desc);
                r = -1;
                goto out;
            }
        }
        r = set_chunk(c, ss, type, NULL, 0);
        goto out;
    }
    do {
        n = b->len - off < PTM_STATE_BLOB_SIZE ? b->len - off
                                               : PTM_STATE_BLOB_SIZE;
        if (set_chunk(c, ss, type, b->data + off, n) < 0) {
            goto out;
        }
        off += n;
    } while (n == PTM_STATE_BLOB_SIZE);
    r = 0;
out:
    free(ss);
    return r;
}

int
load_blob(struct client *c, const struct opts *o)
{
    struct buf b = { 0 };
    uint32_t rc = 0;
    int r;

    if (read_file(o->file, &b) < 0) {
        free(b.data);
        return -1;
    }
    if (c->kind == CLIENT_DEVICE) {
        r = cuse_set(c, o->blob_type, &b);
    } else {
        r = client_sock_set_blob(c, 0, o->blob_type, b.data, b.len, &rc);
        if (r < 0) {
            report_err(c, CMD_SET_STATEBLOB, r);
        } else if (rc != 0) {
            report_rc(c, CMD_SET_STATEBLOB, rc);
            r = -1;
        }
    }
    free(b.data);
    return r;
}
