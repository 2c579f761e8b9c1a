// SPDX-License-Identifier: BSD-3-Clause
/*
 * The linear file state backend: upstream's layout in one regular file or
 * block device, a hostile-input header parser, crash-safe relayouts and
 * the lock on the file itself (docs/state.md §2.2, §6, §8).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE    /* F_OFD_SETLK */
#endif
#include "state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/loop.h>
#include <linux/major.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "bytes.h"
#include "crypto.h"
#include "fdio.h"
#include "log.h"
#include "state.h"
#include "state_dir.h"
#include "stateobj.h"


static void
put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

/* Table index of an object name, or -EINVAL. */
static int
sfile_index(const char *name)
{
    for (int i = 0; i < SFILE_OBJS; i++) {
        if (name && strcmp(name, state_obj_names[i]) == 0) {
            return i;
        }
    }
    return -EINVAL;
}

static bool
is_zero(const uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (buf[i]) {
            return false;
        }
    }
    return true;
}

/* Check one table entry; i < SFILE_OBJS are ours, the rest must be free. */
static const char *
check_entry(const struct sfile_entry *e, int i, uint64_t file_size)
{
    if (e->offset == 0) {
        return e->data_len || e->section_len
               ? "an unallocated entry has a length" : NULL;
    }
    if (i >= SFILE_OBJS) {
        return "the table lists states of a second TPM, which is not "
               "supported";
    }
    if (e->offset < SFILE_HDR_LEN) {
        return "an object starts inside the header";
    }
    if (e->section_len == 0 || e->data_len > e->section_len) {
        return "an object is longer than its section";
    }
    if (e->section_len > SFILE_SECTION_MAX) {
        return "a section is larger than 1 MiB, more than any libtpms "
               "state needs";
    }
    if ((uint64_t)e->offset + e->data_len > file_size) {
        return "an object runs past the end of the file";
    }
    if ((uint64_t)e->offset + e->section_len > SFILE_END_MAX) {
        return "a section ends past 1 GiB, where no swtpm places one";
    }
    return NULL;
}

static bool
overlaps(const struct sfile_entry *a, const struct sfile_entry *b)
{
    uint64_t a_end = (uint64_t)a->offset + a->section_len;
    uint64_t b_end = (uint64_t)b->offset + b->section_len;

    return a->offset && b->offset && a->offset < b_end && b->offset < a_end;
}

int
sfile_parse_header(const uint8_t *buf, size_t len, uint64_t file_size,
                   struct sfile_hdr *out, const char **out_why)
{
    struct sfile_hdr h = { .blank = false };
    struct sfile_entry e;
    const char *why = NULL;
    uint64_t magic = 0;

    if (len > file_size || len > SFILE_HDR_LEN) {
        why = "internal: header buffer larger than the file";
        goto bad;
    }
    if (is_zero(buf, len)) {
        memset(out, 0, sizeof(*out));
        out->blank = true;
        return 0;
    }
    if (len < SFILE_HDR_LEN) {
        why = "the file is shorter than the 192-byte header";
        goto bad;
    }
    for (int i = 7; i >= 0; i--) {
        magic = magic << 8 | buf[i];
    }
    if (magic != SFILE_MAGIC) {
        why = "no 'swtpmlin' magic: not a swtpm linear state file";
        goto bad;
    }
    if (buf[8] != SFILE_VERSION) {
        why = "unsupported layout version (not 1)";
        goto bad;
    }
    if ((uint16_t)(buf[10] | buf[11] << 8) != SFILE_HDR_LEN) {
        why = "the header size field is not 192";
        goto bad;
    }
    for (int i = 0; i < SFILE_SLOTS; i++) {
        e.offset = le32_get(buf + 12 + 12 * i);
        e.data_len = le32_get(buf + 16 + 12 * i);
        e.section_len = le32_get(buf + 20 + 12 * i);
        why = check_entry(&e, i, file_size);
        if (why) {
            goto bad;
        }
        if (i < SFILE_OBJS) {
            h.e[i] = e;
        }
    }
    for (int i = 0; i < SFILE_OBJS; i++) {
        for (int j = i + 1; j < SFILE_OBJS; j++) {
            if (overlaps(&h.e[i], &h.e[j])) {
                why = "two objects' sections overlap";
                goto bad;
            }
        }
    }
    *out = h;
    return 0;
bad:
    *out_why = why;
    return -EBADMSG;
}

void
sfile_encode_header(const struct sfile_hdr *h, uint8_t out[SFILE_HDR_LEN])
{
    uint64_t magic = SFILE_MAGIC;

    memset(out, 0, SFILE_HDR_LEN);
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(magic >> (8 * i));
    }
    out[8] = SFILE_VERSION;
    out[10] = SFILE_HDR_LEN & 0xff;
    out[11] = SFILE_HDR_LEN >> 8;
    for (int i = 0; i < SFILE_OBJS; i++) {
        put_le32(out + 12 + 12 * i, h->e[i].offset);
        put_le32(out + 16 + 12 * i, h->e[i].data_len);
        put_le32(out + 20 + 12 * i, h->e[i].section_len);
    }
}

/* Current size: st_size for a file, the device size for a block device. */
static int
file_size(const struct state_store *st, uint64_t *out)
{
    struct stat sb;
    off_t end;

    if (fstat(st->file_fd, &sb) < 0) {
        return -errno;
    }
    if (S_ISREG(sb.st_mode)) {
        *out = (uint64_t)sb.st_size;
        return 0;
    }
    end = lseek(st->file_fd, 0, SEEK_END);
    if (end < 0) {
        return -errno;
    }
    *out = (uint64_t)end;
    return 0;
}

/* Read and check the header as it is on disk now. */
static int
read_header(struct state_store *st, struct sfile_hdr *h, uint64_t *out_size)
{
    uint8_t buf[SFILE_HDR_LEN];
    uint64_t size = 0;
    size_t want;
    ssize_t n;
    int r;

    st->why = NULL;
    r = file_size(st, &size);
    if (r < 0) {
        return r;
    }
    want = size < SFILE_HDR_LEN ? (size_t)size : SFILE_HDR_LEN;
    n = pread(st->file_fd, buf, want, 0);
    if (n < 0) {
        return -errno;
    }
    if ((size_t)n != want) {
        st->why = "the file shrank while being read";
        return -EBADMSG;
    }
    r = sfile_parse_header(buf, want, size, h, &st->why);
    if (r < 0) {
        return r;
    }
    *out_size = size;
    return 0;
}

static const char *
open_fix(int e)
{
    switch (e) {
    case ENOENT:
        return "create its directory";
    case EISDIR:
        return "for a directory use dir:// instead";
    default:
        return "make it readable and writable by the user swtpm runs as";
    }
}

/* Apply the mode to a regular file (docs/state.md §7.2). */
static void
fix_mode(const struct state_store *st, const struct stat *sb, bool created)
{
    mode_t want = sb->st_mode & 07777;

    if (st->mode_explicit) {
        want = st->mode;
    } else if (!created) {
        want |= S_IWUSR;
    }
    if (want != (sb->st_mode & 07777) && fchmod(st->file_fd, want) < 0) {
        log_debug("cannot change the mode of '%s'", st->path);
    }
}

/*
 * A loop device is a second name for its backing file, with a lock of its
 * own: open the backing file too (named by sysfs, checked against the
 * device and inode LOOP_GET_STATUS64 reports), so that sfile_lock() locks
 * both.  Other block devices and an unbound loop device: *out_fd -1.
 */
static int
open_loop_backing(int fd, const struct stat *sb, const char *path,
                  int *out_fd, char *err, size_t errlen)
{
    struct loop_info64 li;
    struct stat bsb;
    char sys[96], back[4096];
    ssize_t n;
    int sfd, bfd, r;

    *out_fd = -1;
    if (major(sb->st_rdev) != LOOP_MAJOR) {
        return 0;
    }
    if (ioctl(fd, LOOP_GET_STATUS64, &li) < 0) {
        return errno == ENXIO ? 0 : -errno;     /* ENXIO: no file bound */
    }
    snprintf(sys, sizeof(sys), "/sys/dev/block/%u:%u/loop/backing_file",
             major(sb->st_rdev), minor(sb->st_rdev));
    r = 0;
    back[0] = '\0';
    sfd = open(sys, O_RDONLY | O_CLOEXEC);
    n = sfd < 0 ? -1 : read(sfd, back, sizeof(back) - 1);
    if (n <= 0) {
        r = n < 0 ? errno : ENOENT;
    } else {
        back[n - (back[n - 1] == '\n')] = '\0';
    }
    if (sfd >= 0) {
        close(sfd);
    }
    bfd = r ? -1 : open(back, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (!r && bfd < 0) {
        r = errno;
    }
    if (!r && (fstat(bfd, &bsb) < 0 || bsb.st_ino != li.lo_inode ||
               bsb.st_dev != (dev_t)li.lo_device)) {
        r = ESTALE;             /* renamed, deleted, another namespace */
    }
    if (r) {
        if (bfd >= 0) {
            close(bfd);
        }
        snprintf(err, errlen, "state file '%s' is a loop device over '%s', "
                 "which cannot be opened to lock it as well: %s; give "
                 "swtpm that file itself (file://%s), or run it where it "
                 "can open it", path, back[0] ? back : "(unknown)",
                 strerror(r), back[0] ? back : "FILE");
        return -r;
    }
    *out_fd = bfd;
    return 0;
}

int
sfile_open(struct state_store *st, const char *path, char *err,
           size_t errlen)
{
    struct sfile_hdr h;
    struct stat sb;
    uint64_t size = 0;
    bool created = false;
    int fd, r;

    /* O_NONBLOCK: a FIFO under the name must not hang open().  Symlinks
     * are followed: block devices are usually named by /dev/disk links. */
    fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  st->mode);
        created = fd >= 0;
    }
    if (fd < 0) {
        r = errno;
        snprintf(err, errlen, "cannot open state file '%s': %s; %s", path,
                 strerror(r), open_fix(r));
        return -r;
    }
    st->file_fd = fd;
    if (fstat(fd, &sb) < 0) {
        r = errno;
        snprintf(err, errlen, "cannot stat state file '%s': %s", path,
                 strerror(r));
        goto fail;
    }
    if (!S_ISREG(sb.st_mode) && !S_ISBLK(sb.st_mode)) {
        snprintf(err, errlen, "state file '%s' is neither a regular file "
                 "nor a block device; give file:// one of those", path);
        r = EINVAL;
        goto fail;
    }
    st->file_is_blk = S_ISBLK(sb.st_mode);
    if (!st->file_is_blk) {
        fix_mode(st, &sb, created);
    } else {
        r = -open_loop_backing(fd, &sb, path, &st->file_alias_fd, err,
                               errlen);
        if (r) {
            goto fail;
        }
    }
    r = -read_header(st, &h, &size);
    if (r == EBADMSG) {
        snprintf(err, errlen, "state file '%s' has a bad header: %s; "
                 "restore it from a backup, or zero its first 512 bytes "
                 "to start a new TPM", path, st->why);
        goto fail;
    }
    if (r) {
        snprintf(err, errlen, "cannot read state file '%s': %s", path,
                 strerror(r));
        goto fail;
    }
    return 0;
fail:
    close(fd);
    st->file_fd = -1;
    if (st->file_alias_fd >= 0) {
        close(st->file_alias_fd);
        st->file_alias_fd = -1;
    }
    return -r;
}

void
sfile_close(struct state_store *st)
{
    sfile_unlock(st);
    if (st->file_fd >= 0) {
        close(st->file_fd);
        st->file_fd = -1;
    }
    if (st->file_alias_fd >= 0) {
        close(st->file_alias_fd);
        st->file_alias_fd = -1;
    }
}

/* The OFD write lock on fd; its holder's pid (0: unknown) on -EAGAIN. */
static int
lock_one(int fd, pid_t *out_holder)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

    /* OFD lock: survives fork(), and conflicts with classic fcntl locks
     * of other programs. */
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0) {
        return 0;
    }
    if (errno != EAGAIN && errno != EACCES) {
        return -errno;
    }
    fl.l_type = F_WRLCK;
    *out_holder = 0;
    if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK &&
        fl.l_pid > 0) {
        *out_holder = fl.l_pid;
    }
    return -EAGAIN;
}

static void
unlock_one(const struct state_store *st, int fd)
{
    struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET };

    if (fd >= 0 && fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        log_debug("cannot unlock '%s'", st->path);
    }
}

int
sfile_lock(struct state_store *st, pid_t *out_holder)
{
    int r;

    if (st->lock_fd >= 0) {
        return 0;
    }
    /* On the state file itself, and on a loop device's backing file (the
     * same state under another name). */
    r = lock_one(st->file_fd, out_holder);
    if (r == 0 && st->file_alias_fd >= 0) {
        r = lock_one(st->file_alias_fd, out_holder);
        if (r < 0) {
            unlock_one(st, st->file_fd);
        }
    }
    if (r < 0) {
        return r;
    }
    /* A block device shared by hosts (docs/shared-storage.md §6): this
     * host's cache may hold what it read or wrote before another host
     * wrote the volume, and nothing else drops it while any process keeps
     * the device open.  All our writes are flushed, so the cached pages
     * are clean and can go; reads from here on come from the volume. */
    if (st->file_is_blk) {
        r = posix_fadvise(st->file_fd, 0, 0, POSIX_FADV_DONTNEED);
        if (r != 0) {
            unlock_one(st, st->file_alias_fd);
            unlock_one(st, st->file_fd);
            log_debug("cannot drop the cached copy of '%s'", st->path);
            return -r;
        }
    }
    st->lock_fd = st->file_fd;      /* marks "locked"; not a second fd */
    return 0;
}

void
sfile_unlock(struct state_store *st)
{
    if (st->lock_fd >= 0) {
        unlock_one(st, st->file_alias_fd);
        unlock_one(st, st->file_fd);
        st->lock_fd = -1;
    }
}

/* Object name's header entry; -ENOENT when the file does not hold it. */
static int
find_entry(struct state_store *st, const char *name, struct sfile_hdr *h,
           uint64_t *size, const struct sfile_entry **out)
{
    int i = sfile_index(name), r;

    if (i < 0) {
        return i;
    }
    r = read_header(st, h, size);
    if (r < 0) {
        return r;
    }
    if (h->blank || h->e[i].offset == 0) {
        return -ENOENT;
    }
    *out = &h->e[i];
    return 0;
}

/*
 * The checksum record (docs/state.md §8.5): one TLV that ends every
 * object we store, after the object's own TLVs, counted in its totlen.
 * Readers look TLVs up by tag and skip the others (ours, and upstream's
 * tlv_data_find_tag()), so the object stays in upstream's format and
 * Debian's swtpm reads it.  Value, big-endian like the TLV headers:
 *   0  u32  version 1
 *   4  16   TPM identity: random for a new TPM, then kept
 *  20  u64  write sequence of the file, one more at every write
 *  28  u32  offset of this object's copy right after the header
 *  32  u32  offset of its scratch copy (§8.3 step 1), kept after the write
 *  36  32   SHA-256 of the object's bytes up to here
 */
#define SUM_TAG 0x7373          /* "ss": upstream's tags end at 7 */
#define SUM_VAL_LEN 68
#define SUM_TLV_LEN (6 + SUM_VAL_LEN)
#define OBJ_HDR_LEN 10          /* stateobj's header, totlen at 6 */
/* The most a regular file keeps between the data and its twin: the room
 * a shrinking state leaves (the old sections), not a section far out. */
#define TWIN_GAP_MAX (256u << 10)

struct objsum {
    uint8_t id[16];
    uint64_t seq;
    uint32_t at[2];
};

enum sum_state {
    SUM_NONE,       /* no record: written by another swtpm, or before it */
    SUM_OK,
    SUM_BAD,        /* a record, and the bytes do not match it */
};

/* Only a well-formed object gets a record: its totlen is rewritten. */
static bool
sum_fits(const uint8_t *obj, uint32_t len)
{
    return len >= OBJ_HDR_LEN && be32_get(obj + 6) == len &&
           len <= SFILE_SECTION_MAX - SUM_TLV_LEN;
}

static enum sum_state
sum_check(const uint8_t *obj, uint32_t len, struct objsum *out)
{
    uint8_t md[CRYPTO_SHA256_LEN];
    const uint8_t *p;

    memset(out, 0, sizeof(*out));
    if (len < OBJ_HDR_LEN + SUM_TLV_LEN) {
        return SUM_NONE;
    }
    p = obj + len - SUM_TLV_LEN;
    /* Ours when two of tag, length and version say so: one damaged byte
     * among them makes the record damaged, not absent. */
    if ((be16_get(p) == SUM_TAG) + (be32_get(p + 2) == SUM_VAL_LEN) +
            (be32_get(p + 6) == 1) < 2) {
        return SUM_NONE;
    }
    memcpy(out->id, p + 10, sizeof(out->id));
    out->seq = be64_get(p + 26);
    out->at[0] = be32_get(p + 34);
    out->at[1] = be32_get(p + 38);
    if (crypto_sha256(obj, len - CRYPTO_SHA256_LEN, md) < 0 ||
        memcmp(md, obj + len - CRYPTO_SHA256_LEN, sizeof(md)) != 0 ||
        be32_get(obj + 6) != len || be16_get(p) != SUM_TAG ||
        be32_get(p + 2) != SUM_VAL_LEN || be32_get(p + 6) != 1) {
        return SUM_BAD;
    }
    return SUM_OK;
}

/* Append the record to the plain object of plain bytes at obj (which has
 * room for it) and count it in totlen. */
static int
sum_append(uint8_t *obj, uint32_t plain, const struct objsum *s)
{
    uint8_t *p = obj + plain;
    uint32_t len = plain + SUM_TLV_LEN;

    be32_put(obj + 6, len);
    be16_put(p, SUM_TAG);
    be32_put(p + 2, SUM_VAL_LEN);
    be32_put(p + 6, 1);
    memcpy(p + 10, s->id, sizeof(s->id));
    be64_put(p + 26, s->seq);
    be32_put(p + 34, s->at[0]);
    be32_put(p + 38, s->at[1]);
    return crypto_sha256(obj, len - CRYPTO_SHA256_LEN,
                         obj + len - CRYPTO_SHA256_LEN);
}

static int
pread_obj(const struct state_store *st, uint64_t at, uint32_t len,
          uint8_t **out)
{
    uint8_t *buf = malloc(len ? len : 1);
    ssize_t n;

    if (!buf) {
        return -ENOMEM;
    }
    n = pread(st->file_fd, buf, len, (off_t)at);
    if (n < 0 || (uint32_t)n != len) {
        int r = n < 0 ? -errno : -EIO;

        free(buf);
        return r;
    }
    *out = buf;
    return 0;
}

/*
 * A copy of the damaged object whose record is want, at one of the places
 * it names: intact, naming the same two places, and recorded by the same
 * write of the same TPM.  want itself may be what is damaged: one of its
 * identity and sequence may differ (a burst over both, or over the
 * places, refuses the copy).
 */
static int
twin_of(const struct state_store *st, const struct sfile_entry *e,
        uint64_t size, const struct objsum *want, uint8_t **out,
        uint32_t *out_at)
{
    struct objsum got;
    uint8_t *buf;

    for (int j = 0; j < 2; j++) {
        uint64_t at = want->at[j];

        if (at == e->offset || at < SFILE_HDR_LEN ||
            at + e->data_len > size || at + e->data_len > SFILE_END_MAX ||
            pread_obj(st, at, e->data_len, &buf) < 0) {
            continue;
        }
        if (sum_check(buf, e->data_len, &got) == SUM_OK &&
            (memcmp(got.id, want->id, sizeof(got.id)) == 0 ||
             got.seq == want->seq) &&
            ((got.at[0] == e->offset && got.at[1] == at) ||
             (got.at[1] == e->offset && got.at[0] == at))) {
            *out = buf;
            *out_at = (uint32_t)at;
            return 0;
        }
        free(buf);
    }
    return -EBADMSG;
}

/*
 * Object k as stored, checked against its record: *out is the object
 * without the record (as the directory backend stores it), *out_sum the
 * record (its state in *out_state).  A damaged object with an intact copy
 * gives the copy, logged once; without one: -EBADMSG, st->why naming it.
 */
static int
read_obj(struct state_store *st, const struct sfile_hdr *h, uint64_t size,
         int k, uint8_t **out, uint32_t *out_len, struct objsum *out_sum,
         enum sum_state *out_state)
{
    const struct sfile_entry *e = &h->e[k];
    uint8_t *buf, *twin;
    uint32_t len = e->data_len, twin_at;
    int r;

    *out = NULL;
    *out_len = 0;
    r = pread_obj(st, e->offset, len, &buf);
    if (r < 0) {
        return r;
    }
    *out_state = sum_check(buf, len, out_sum);
    if (*out_state == SUM_BAD) {
        if (twin_of(st, e, size, out_sum, &twin, &twin_at) < 0) {
            snprintf(st->why_buf, sizeof(st->why_buf),
                     "the %s object at offset %u of state file '%s' does "
                     "not match its checksum, and no intact copy of it is "
                     "left (looked at offsets %u and %u); restore the file "
                     "from a backup", state_obj_names[k], e->offset,
                     st->path, out_sum->at[0], out_sum->at[1]);
            st->why = st->why_buf;
            *out = buf;         /* the caller may keep the damaged bytes */
            *out_len = len;
            return -EBADMSG;
        }
        if (!(st->file_twin_logged & 1u << k)) {
            log_warn("the %s object at offset %u of state file '%s' does "
                     "not match its checksum: using its copy at offset %u, "
                     "written with it; the next write of the state "
                     "replaces the damaged one", state_obj_names[k],
                     e->offset, st->path, twin_at);
            st->file_twin_logged |= 1u << k;
        }
        free(buf);
        buf = twin;
        *out_state = SUM_OK;
    } else {
        st->file_twin_logged &= ~(1u << k);
    }
    if (*out_state == SUM_OK) {
        len -= SUM_TLV_LEN;
        be32_put(buf + 6, len);
    }
    *out = buf;
    *out_len = len;
    return 0;
}

int
sfile_read(struct state_store *st, const char *name,
           uint8_t **out, uint32_t *out_len)
{
    struct sfile_hdr h;
    const struct sfile_entry *e;
    struct objsum sum;
    enum sum_state ss;
    uint64_t size;
    int r;

    r = find_entry(st, name, &h, &size, &e);
    if (r < 0) {
        return r;
    }
    r = read_obj(st, &h, size, sfile_index(name), out, out_len, &sum, &ss);
    if (r < 0 && *out) {
        explicit_bzero(*out, *out_len);
        free(*out);
        *out = NULL;
    }
    return r;
}

/* The object's data_len, record included, as upstream prints it for the
 * same file. */
long
sfile_size(struct state_store *st, const char *name)
{
    struct sfile_hdr h;
    const struct sfile_entry *e;
    uint64_t size;
    int r;

    r = find_entry(st, name, &h, &size, &e);
    return r < 0 ? r : (long)e->data_len;
}

int
sfile_sync(struct state_store *st)
{
    return fdatasync(st->file_fd) < 0 ? -errno : 0;
}

/*
 * Writing (docs/state.md §8.3).  Every change builds the complete new
 * data area (all objects packed after the header, in their current
 * order), and then:
 *   1. writes it to scratch space past everything the header references,
 *      and flushes;
 *   2. switches the header to the scratch copy (one 192-byte write inside
 *      the first sector), and flushes;
 *   3. writes the data area to its final place right after the header,
 *      which nothing references now, and flushes;
 *   4. switches the header to the final place, and flushes;
 *   5. truncates a regular file to the end of the data area.
 * At every instant the header on disk points at complete objects.  After
 * a crash between 2 and 4 the objects sit in the scratch copy with unused
 * space before them, a layout upstream swtpm also reads and writes; our
 * next write packs it again.
 */
struct layout {
    bool present[SFILE_OBJS];
    bool summed[SFILE_OBJS];    /* gets a new record (else kept as read) */
    uint32_t rel[SFILE_OBJS];   /* offset within the data area */
    uint32_t plain_len[SFILE_OBJS];     /* without the record */
    uint32_t data_len[SFILE_OBJS];
    uint32_t section_len[SFILE_OBJS];
    uint64_t total;             /* bytes of the data area */
    uint8_t *image;
    struct objsum sum;          /* identity and sequence of this write */
    bool id_known;              /* sum.id came from the file */
};

static uint32_t
section_for(uint32_t len)
{
    uint32_t s = 1;

    while (s < len) {
        s <<= 1;                /* len <= SFILE_SECTION_MAX: no overflow */
    }
    return s;
}

/* Objects in on-disk order: allocated ones by offset, a new one last. */
static int
disk_order(const struct sfile_hdr *h, int idx, int order[SFILE_OBJS])
{
    int n = 0;

    for (int i = 0; i < SFILE_OBJS; i++) {
        if (h->e[i].offset) {
            int j = n++;

            while (j > 0 && h->e[order[j - 1]].offset > h->e[i].offset) {
                order[j] = order[j - 1];
                j--;
            }
            order[j] = i;
        }
    }
    if (h->e[idx].offset == 0) {
        order[n++] = idx;
    }
    return n;
}

static int
pwrite_full(int fd, const uint8_t *buf, uint64_t len, uint64_t off)
{
    ssize_t n;

    while (len > 0) {
        n = pwrite(fd, buf, len, (off_t)off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EIO;
        }
        buf += n;
        len -= (uint64_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Object k of the new data area: plain bytes, summed unless kept as read
 * (a damaged object without an intact copy is carried unchanged). */
static void
place(struct layout *L, int k, uint32_t plain, bool summed, uint32_t sec)
{
    uint32_t dlen = summed ? plain + SUM_TLV_LEN : plain;

    if (!sec || dlen > sec) {
        sec = section_for(dlen);
    }
    L->present[k] = true;
    L->summed[k] = summed;
    L->rel[k] = (uint32_t)L->total;
    L->plain_len[k] = plain;
    L->data_len[k] = dlen;
    L->section_len[k] = sec;
    L->total += sec;
}

/* The identity and the newest sequence the record rec carries. */
static void
learn(struct layout *L, const struct objsum *rec)
{
    if (!L->id_known) {
        memcpy(L->sum.id, rec->id, sizeof(rec->id));
        L->id_known = true;
    }
    if (rec->seq > L->sum.seq) {
        L->sum.seq = rec->seq;
    }
}

/* learn() from the record of object k as it is stored now, if intact. */
static void
learn_from(struct state_store *st, const struct sfile_hdr *h,
           uint64_t size, int k, struct layout *L)
{
    struct objsum rec;
    enum sum_state ss;
    uint8_t *old = NULL;
    uint32_t old_len = 0;

    if (!h->blank && h->e[k].offset &&
        read_obj(st, h, size, k, &old, &old_len, &rec, &ss) == 0 &&
        ss == SUM_OK) {
        learn(L, &rec);
    }
    if (old) {
        explicit_bzero(old, old_len);
        free(old);
    }
    st->why = NULL;
}

/*
 * The new data area with obj as object idx (obj NULL: without it).  The
 * objects kept are read and checked as a load would (an intact copy
 * replaces a damaged one); the TPM's identity and the write sequence
 * come from their records (one write gives every object the same), or,
 * when none of them has one, from the record of the object replaced.
 */
static int
build_layout(struct state_store *st, const struct sfile_hdr *h,
             uint64_t size, int idx, const uint8_t *obj, uint32_t len,
             struct layout *L)
{
    uint8_t *keep[SFILE_OBJS] = { NULL };
    uint32_t klen[SFILE_OBJS] = { 0 };
    struct objsum rec;
    enum sum_state ss;
    int order[SFILE_OBJS], n, k, r = 0;

    memset(L, 0, sizeof(*L));
    n = disk_order(h, idx, order);
    for (int i = 0; r == 0 && i < n; i++) {
        k = order[i];
        if (k == idx) {
            if (obj) {
                place(L, k, len, sum_fits(obj, len), h->e[k].section_len);
            }
            continue;
        }
        r = read_obj(st, h, size, k, &keep[k], &klen[k], &rec, &ss);
        if (r == -EBADMSG && keep[k]) {
            r = 0;      /* stays as it is, and refused at its next load */
            st->why = NULL;
        } else if (r == 0 && ss == SUM_OK) {
            learn(L, &rec);
        }
        if (r == 0) {
            place(L, k, klen[k], ss != SUM_BAD && sum_fits(keep[k], klen[k]),
                  h->e[k].section_len);
        }
    }
    if (r == 0 && !L->id_known) {
        learn_from(st, h, size, idx, L);
    }
    if (r == 0) {
        L->image = calloc(1, L->total ? L->total : 1);
        r = L->image ? 0 : -ENOMEM;
    }
    for (k = 0; k < SFILE_OBJS; k++) {
        if (r == 0 && L->present[k]) {
            memcpy(L->image + L->rel[k], k == idx ? obj : keep[k],
                   L->plain_len[k]);
        }
        if (keep[k]) {
            explicit_bzero(keep[k], klen[k]);
            free(keep[k]);
        }
    }
    return r;
}

/* A new TPM's identity, for a file that names none yet. */
static int
new_identity(struct layout *L)
{
    if (L->id_known) {
        return 0;
    }
    L->id_known = true;
    return crypto_random(L->sum.id, sizeof(L->sum.id));
}

/* Point the header at the data area placed at base, and flush. */
static int
switch_header(struct state_store *st, const struct layout *L, uint64_t base)
{
    struct sfile_hdr h = { .blank = false };
    uint8_t buf[SFILE_HDR_LEN];
    int r;

    for (int k = 0; k < SFILE_OBJS; k++) {
        if (L->present[k]) {
            h.e[k].offset = (uint32_t)(base + L->rel[k]);
            h.e[k].data_len = L->data_len[k];
            h.e[k].section_len = L->section_len[k];
        }
    }
    sfile_encode_header(&h, buf);
    r = pwrite_full(st->file_fd, buf, sizeof(buf), 0);
    if (r == 0 && fdatasync(st->file_fd) < 0) {
        r = -errno;
    }
    return r;
}

/*
 * Where the scratch copy of len bytes goes: the first place at or after
 * from (the end of the new data area) that overlaps no section h
 * references, so a section far out in the file draws no write there.
 */
static uint64_t
scratch_at(const struct sfile_hdr *h, uint64_t from, uint64_t len)
{
    uint64_t at = from, start, end;
    bool moved = true;

    while (moved) {
        moved = false;
        for (int k = 0; k < SFILE_OBJS; k++) {
            start = h->e[k].offset;
            end = start + h->e[k].section_len;
            if (start && at < end && start < at + len) {
                at = end;
                moved = true;
            }
        }
    }
    return at;
}

/* Steps 1-5 above for the data area L over the current header h. */
static int
write_layout(struct state_store *st, const struct sfile_hdr *h,
             uint64_t size, struct layout *L)
{
    uint64_t scratch, end;
    int r;

    end = SFILE_HDR_LEN + L->total;
    scratch = scratch_at(h, end, L->total);
    if (scratch + L->total > SFILE_END_MAX) {
        st->why = "the state would end past 1 GiB";
        return -EFBIG;
    }
    if (st->file_is_blk && scratch + L->total > size) {
        st->why = "the block device is too small to hold the state twice";
        return -ENOSPC;
    }
    /* The records name both places of each object (§8.5). */
    r = new_identity(L);
    L->sum.seq++;
    for (int k = 0; r == 0 && k < SFILE_OBJS; k++) {
        if (L->present[k] && L->summed[k]) {
            L->sum.at[0] = (uint32_t)(SFILE_HDR_LEN + L->rel[k]);
            L->sum.at[1] = (uint32_t)(scratch + L->rel[k]);
            r = sum_append(L->image + L->rel[k], L->plain_len[k], &L->sum);
        }
    }
    if (r < 0) {
        return r;
    }
    if (L->total > 0) {
        r = pwrite_full(st->file_fd, L->image, L->total, scratch);
        if (r == 0 && fdatasync(st->file_fd) < 0) {
            r = -errno;
        }
        if (r == 0) {
            r = switch_header(st, L, scratch);
        }
        if (r == 0) {
            r = pwrite_full(st->file_fd, L->image, L->total,
                            SFILE_HDR_LEN);
        }
        if (r == 0 && fdatasync(st->file_fd) < 0) {
            r = -errno;
        }
        if (r < 0) {
            return r;
        }
    }
    r = switch_header(st, L, SFILE_HDR_LEN);
    /* A regular file keeps the scratch copy, each object's twin, unless
     * a section far out put it far from the data (then the file shrinks
     * to the data and the objects have no twin). */
    if (r == 0 && L->total > 0 && scratch - end <= TWIN_GAP_MAX) {
        end = scratch + L->total;
    }
    if (r == 0 && !st->file_is_blk && ftruncate(st->file_fd, (off_t)end)) {
        log_debug("cannot shrink '%s' after a write", st->path);
    }
    if (r == 0) {
        st->file_twin_logged = 0;
    }
    return r;
}

int
sfile_write(struct state_store *st, const char *name,
            const uint8_t *obj, uint32_t len)
{
    struct sfile_hdr h;
    struct layout L = { .image = NULL };
    uint64_t size;
    int idx = sfile_index(name), r;

    if (idx < 0) {
        return idx;
    }
    if (obj && len > SFILE_SECTION_MAX) {
        st->why = "the object is larger than 1 MiB, the largest section "
                  "a file:// state holds";
        return -EFBIG;
    }
    r = read_header(st, &h, &size);
    if (r < 0) {
        return r;
    }
    if (!obj && h.e[idx].offset == 0) {
        return -ENOENT;         /* nothing to delete; nothing written */
    }
    r = build_layout(st, &h, size, idx, obj, len, &L);
    if (r == 0) {
        r = write_layout(st, &h, size, &L);
    }
    if (L.image) {
        explicit_bzero(L.image, L.total);
        free(L.image);
    }
    return r;
}

int
sfile_replace(struct state_store *st, uint8_t *const obj[SFILE_OBJS],
              const uint32_t len[SFILE_OBJS], bool same_tpm)
{
    struct sfile_hdr h;
    struct layout L;
    uint64_t size;
    int r;

    memset(&L, 0, sizeof(L));
    for (int k = 0; k < SFILE_OBJS; k++) {
        if (obj[k] && len[k] > SFILE_SECTION_MAX) {
            st->why = "the object is larger than 1 MiB, the largest "
                      "section a file:// state holds";
            return -EFBIG;
        }
        if (obj[k]) {
            place(&L, k, len[k], sum_fits(obj[k], len[k]), 0);
        }
    }
    r = read_header(st, &h, &size);
    if (r < 0) {
        return r;
    }
    /* The same TPM keeps its identity; the sequence always goes on. */
    for (int k = 0; k < SFILE_OBJS && !L.id_known; k++) {
        learn_from(st, &h, size, k, &L);
    }
    L.id_known = L.id_known && same_tpm;    /* else new_identity() */
    L.image = calloc(1, L.total ? L.total : 1);
    if (!L.image) {
        return -ENOMEM;
    }
    for (int k = 0; k < SFILE_OBJS; k++) {
        if (obj[k]) {
            memcpy(L.image + L.rel[k], obj[k], len[k]);
        }
    }
    /* One switch of the header (§8.3 step 2) replaces every object. */
    r = write_layout(st, &h, size, &L);
    explicit_bzero(L.image, L.total);
    free(L.image);
    return r;
}

/* state_replace_from() for file://: every object in one header switch;
 * the records keep the TPM's identity when same_tpm (§8.5). */
static int
replace_file(struct state_store *st, struct state_store *from,
             bool same_tpm)
{
    const struct state_key *key;
    uint8_t *raw = NULL, *obj[STATE_OBJS] = { NULL };
    uint32_t raw_len = 0, len[STATE_OBJS] = { 0 }, rc = 0;
    int r = 0;

    key = state_store_key(st, &r);
    for (size_t i = 0; r == 0 && i < STATE_OBJS; i++) {
        r = state_load(from, state_obj_names[i], &raw, &raw_len, &rc);
        if (r == 0) {
            r = stateobj_encode(raw, raw_len, key, &obj[i], &len[i]);
            explicit_bzero(raw, raw_len);
            free(raw);
            raw = NULL;
        } else if (r == -ENOENT) {
            r = 0;
        }
    }
    if (r == 0) {
        r = sfile_replace(st, obj, len, same_tpm);
    }
    for (size_t i = 0; i < STATE_OBJS; i++) {
        if (obj[i]) {
            explicit_bzero(obj[i], len[i]);
            free(obj[i]);
        }
    }
    return r;
}

static int
file_open(struct state_store *st, const char *path, bool create, char *err,
          size_t errlen)
{
    (void)create;   /* a missing regular file is always created (§2.2) */
    return sfile_open(st, path, err, errlen);
}

static int
file_fd(const struct state_store *st)
{
    return st->file_fd;
}

/* The lock and the writes share the file's fd: no separate check. */
static int
file_lock_check(struct state_store *st)
{
    (void)st;
    return 0;
}

static int
file_read(struct state_store *st, const char *name, const char *fname,
          uint8_t **out, uint32_t *out_len)
{
    (void)fname;
    return sfile_read(st, name, out, out_len);
}

static int
file_write(struct state_store *st, const char *name, const char *fname,
           const uint8_t *obj, uint32_t len)
{
    (void)fname;
    return sfile_write(st, name, obj, len);
}

static int
file_remove(struct state_store *st, const char *name, const char *fname)
{
    (void)fname;
    return sfile_write(st, name, NULL, 0);
}

static long
file_obj_size(struct state_store *st, const char *name,
              const char *fname)
{
    (void)fname;
    return sfile_size(st, name);
}

const struct state_backend state_file_backend = {
    .kind = "file",
    .generations = false,
    .open = file_open,
    .close = sfile_close,
    .fd = file_fd,
    .lock = sfile_lock,
    .unlock = sfile_unlock,
    .lock_check = file_lock_check,
    .read = file_read,
    .write = file_write,
    .remove = file_remove,
    .size = file_obj_size,
    .sync = sfile_sync,
    .replace = replace_file,
};
