// SPDX-License-Identifier: BSD-3-Clause
/*
 * A/B slot journal: one pwrite + one fdatasync per durable state write.
 *
 * Slot layout (big-endian), slot i at offset i * (JOURNAL_HDR_LEN + cap):
 *    0  8  magic "SWTPMJN1"
 *    8 32  SHA-256 over bytes 40 .. 88 + len (rest of header + payload)
 *   40  8  sequence (>= 1)
 *   48  4  payload length
 *   52  4  slot capacity (payload bytes; both slots alike)
 *   56 32  SHA-256 of the main file this slot extends
 *   88  .  payload: one encoded state object (stateobj.h)
 */

#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fdio.h"
#include "stateobj.h"

static const uint8_t jmagic[8] = { 'S', 'W', 'T', 'P', 'M', 'J', 'N', '1' };

#define OFF_SUM 8
#define OFF_SEQ 40
#define OFF_LEN 48
#define OFF_CAP 52
#define OFF_BASE 56

static void
put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t
get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

void
journal_init(struct journal *j)
{
    j->active = false;
    j->fd = -1;
    j->cap = 0;
    j->seq = 0;
    j->size = 0;
    j->misfit = false;
    j->skipped = 0;
    j->buf_len = 0;
}

void
journal_close(struct journal *j)
{
    if (j->active) {
        close(j->fd);
    }
    journal_init(j);
}

int
journal_encode_slot(uint64_t seq, uint32_t cap,
                    const uint8_t base[CRYPTO_SHA256_LEN],
                    const uint8_t *obj, uint32_t len, uint8_t *buf)
{
    if (len > cap) {
        return -EFBIG;
    }
    memcpy(buf, jmagic, sizeof(jmagic));
    put_be(buf + OFF_SEQ, seq, 8);
    put_be(buf + OFF_LEN, len, 4);
    put_be(buf + OFF_CAP, cap, 4);
    memcpy(buf + OFF_BASE, base, CRYPTO_SHA256_LEN);
    memcpy(buf + JOURNAL_HDR_LEN, obj, len);
    return crypto_sha256(buf + OFF_SEQ, JOURNAL_HDR_LEN - OFF_SEQ + len,
                         buf + OFF_SUM);
}

/* Is the slot at p (room bytes available) complete and intact? */
static bool
slot_is_valid(const uint8_t *p, uint32_t cap, struct journal_slot *out)
{
    uint8_t sum[CRYPTO_SHA256_LEN];
    uint32_t len;

    if (memcmp(p, jmagic, sizeof(jmagic)) != 0 ||
        get_be(p + OFF_CAP, 4) != cap) {
        return false;
    }
    len = (uint32_t)get_be(p + OFF_LEN, 4);
    if (len > cap || get_be(p + OFF_SEQ, 8) == 0) {
        return false;
    }
    if (crypto_sha256(p + OFF_SEQ, JOURNAL_HDR_LEN - OFF_SEQ + len,
                      sum) < 0 ||
        memcmp(sum, p + OFF_SUM, sizeof(sum)) != 0) {
        return false;
    }
    out->seq = get_be(p + OFF_SEQ, 8);
    memcpy(out->base, p + OFF_BASE, CRYPTO_SHA256_LEN);
    out->payload = p + JOURNAL_HDR_LEN;
    out->len = len;
    return true;
}

/* Capacity encoded in a file of size sz, or 0 if sz fits no journal. */
static uint32_t
cap_of_size(off_t sz)
{
    off_t slot = sz / 2;

    if (sz % 2 || slot <= JOURNAL_HDR_LEN ||
        slot - JOURNAL_HDR_LEN > JOURNAL_MAX_CAP) {
        return 0;
    }
    return (uint32_t)(slot - JOURNAL_HDR_LEN);
}

/* Does the slot header at off (in a file of size sz) carry capacity c? */
static bool
hdr_has_cap(int fd, off_t sz, off_t off, uint32_t c)
{
    uint8_t h[JOURNAL_HDR_LEN];

    if (c == 0 || c > JOURNAL_MAX_CAP || off + JOURNAL_HDR_LEN > sz ||
        pread(fd, h, sizeof(h), off) != (ssize_t)sizeof(h)) {
        return false;
    }
    return memcmp(h, jmagic, sizeof(jmagic)) == 0 &&
           get_be(h + OFF_CAP, 4) == c;
}

/*
 * The slot capacity of a journal file, also of one cut short, grown or
 * partly overwritten: from a slot header that names it, else from the
 * file size.  Only headers are read, so a huge (sparse) file costs
 * nothing.  0: no slot can be located.
 */
static uint32_t
find_cap(int fd, off_t sz)
{
    uint8_t h[JOURNAL_HDR_LEN];
    uint32_t c;

    if (sz >= JOURNAL_HDR_LEN &&
        pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
        memcmp(h, jmagic, sizeof(jmagic)) == 0) {
        c = (uint32_t)get_be(h + OFF_CAP, 4);
        if (c > 0 && c <= JOURNAL_MAX_CAP) {
            return c;
        }
    }
    c = cap_of_size(sz);
    if (c && hdr_has_cap(fd, sz, JOURNAL_HDR_LEN + (off_t)c, c)) {
        return c;
    }
    /* Slot A unreadable: look for slot B at each size we create. */
    for (c = JOURNAL_MIN_CAP; c <= JOURNAL_MAX_CAP; c *= 2) {
        if (hdr_has_cap(fd, sz, JOURNAL_HDR_LEN + (off_t)c, c)) {
            return c;
        }
    }
    return cap_of_size(sz);
}

static bool
is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i]) {
            return false;
        }
    }
    return true;
}

int
journal_open(struct journal *j, int dir_fd, const char *fname,
             struct journal_slot *out, bool *out_found, uint8_t **out_buf)
{
    struct journal_slot s[2];
    bool ok[2];
    struct stat sb;
    uint8_t *buf = NULL;
    size_t slot, want;
    ssize_t n;
    int fd, r;

    journal_close(j);
    *out_found = false;
    *out_buf = NULL;
    /* O_NONBLOCK: a FIFO under the journal's name must not hang open(). */
    fd = openat(dir_fd, fname,
                O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && (errno == EACCES || errno == EROFS)) {
        /* State we may read but not write still loads; a later append
         * fails with EBADF and the caller replaces the journal (or
         * reports that it cannot). */
        fd = openat(dir_fd, fname,
                    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    }
    if (fd < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    r = fstat(fd, &sb) < 0 ? -errno : 0;
    if (r == 0 && !S_ISREG(sb.st_mode)) {
        r = -EINVAL;
    }
    if (r < 0) {
        close(fd);
        return r;
    }
    j->active = true;
    j->fd = fd;
    j->size = sb.st_size;
    j->cap = find_cap(fd, sb.st_size);
    if (j->cap == 0) {
        j->misfit = true;
        return 0;       /* unusable: replaced at the next create */
    }
    slot = JOURNAL_HDR_LEN + (size_t)j->cap;
    j->misfit = sb.st_size != (off_t)(2 * slot);
    /* Bytes missing at the end read as zeros: that slot is not valid. */
    want = sb.st_size < (off_t)(2 * slot) ? (size_t)sb.st_size : 2 * slot;
    buf = calloc(2, slot);
    if (!buf) {
        return -ENOMEM;
    }
    n = pread(fd, buf, want, 0);
    if (n < 0 || (size_t)n != want) {
        free(buf);
        return n < 0 ? -errno : -EIO;
    }
    for (int i = 0; i < 2; i++) {
        ok[i] = slot_is_valid(buf + i * slot, j->cap, &s[i]);
        /* A slot never written is all zeros; anything else is skipped. */
        if (!ok[i] && !is_zero(buf + i * slot, JOURNAL_HDR_LEN)) {
            j->skipped |= 1u << i;
        }
    }
    if (!ok[0] && !ok[1]) {
        free(buf);
        j->cap = j->misfit ? 0 : j->cap;
        return 0;
    }
    *out = (ok[0] && (!ok[1] || s[0].seq > s[1].seq)) ? s[0] : s[1];
    j->seq = out->seq;
    /* Appends would go to the wrong places: the next write replaces the
     * file, after which its newest slot still holds the newest state. */
    if (j->misfit) {
        j->cap = 0;
    }
    *out_found = true;
    *out_buf = buf;
    j->buf_len = 2 * slot;
    return 0;
}

int
journal_append(struct journal *j, const uint8_t base[CRYPTO_SHA256_LEN],
               const uint8_t *obj, uint32_t len)
{
    size_t slot = JOURNAL_HDR_LEN + (size_t)j->cap;
    uint64_t seq = j->seq + 1;
    uint8_t *buf;
    ssize_t n;
    int r;

    /* Sequence 2^64-1 on disk (crafted): start a new file at 1. */
    if (!j->active || j->cap == 0 || j->seq == UINT64_MAX) {
        return -EBADF;
    }
    if (len > j->cap) {
        return -EFBIG;
    }
    buf = malloc(JOURNAL_HDR_LEN + (size_t)len);
    if (!buf) {
        return -ENOMEM;
    }
    r = journal_encode_slot(seq, j->cap, base, obj, len, buf);
    if (r == 0) {
        /* The newest slot is seq % 2; this goes to the other one. */
        n = pwrite(j->fd, buf, JOURNAL_HDR_LEN + (size_t)len,
                   (off_t)(seq % 2 * slot));
        if (n < 0) {
            r = -errno;
        } else if ((size_t)n != JOURNAL_HDR_LEN + (size_t)len) {
            r = -EIO;
        }
    }
    if (r == 0 && fdatasync(j->fd) < 0) {
        r = -errno;
    }
    explicit_bzero(buf, JOURNAL_HDR_LEN + (size_t)len);
    free(buf);
    if (r == 0) {
        j->seq = seq;
    }
    return r;
}

int
journal_clear_tmp(int dir_fd, const char *tmpname)
{
    struct stat sb;

    if (fstatat(dir_fd, tmpname, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    /* A symlink goes, not its target; only an empty directory goes. */
    if (unlinkat(dir_fd, tmpname,
                 S_ISDIR(sb.st_mode) ? AT_REMOVEDIR : 0) < 0) {
        return errno == ENOENT ? 0 : -errno;
    }
    return 0;
}

/* Write the whole new journal file: zeros but for the one slot. */
static int
write_new(int fd, uint32_t cap, uint64_t seq,
          const uint8_t base[CRYPTO_SHA256_LEN], const uint8_t *obj,
          uint32_t len)
{
    size_t slot = JOURNAL_HDR_LEN + (size_t)cap;
    uint8_t *buf;
    int r;

    buf = calloc(2, slot);
    if (!buf) {
        return -ENOMEM;
    }
    r = journal_encode_slot(seq, cap, base, obj, len,
                            buf + seq % 2 * slot);
    if (r == 0) {
        r = fd_write_full(fd, buf, 2 * slot);
    }
    /* Every block is written now: later pwrites change no metadata. */
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    explicit_bzero(buf, 2 * slot);
    free(buf);
    return r;
}

int
journal_create(struct journal *j, int dir_fd, const char *fname,
               const char *tmpname, mode_t mode, bool mode_explicit,
               const uint8_t base[CRYPTO_SHA256_LEN],
               const uint8_t *obj, uint32_t len)
{
    uint32_t cap = JOURNAL_MIN_CAP;
    /* The new file holds one slot only, so numbering may restart. */
    uint64_t seq = j->seq == UINT64_MAX ? 1 : j->seq + 1;
    int fd, r = 0;

    while (cap < len) {
        cap *= 2;
    }
    r = journal_clear_tmp(dir_fd, tmpname);
    if (r < 0) {
        return r;
    }
    fd = openat(dir_fd, tmpname,
                O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        return -errno;
    }
    if (mode_explicit && fchmod(fd, mode) < 0) {
        r = -errno;
    }
    if (r == 0) {
        r = write_new(fd, cap, seq, base, obj, len);
    }
    if (r == 0 && renameat(dir_fd, tmpname, dir_fd, fname) < 0) {
        r = -errno;
    }
    if (r < 0) {
        close(fd);
        unlinkat(dir_fd, tmpname, 0);
        return r;
    }
    if (fsync(dir_fd) < 0) {
        r = -errno;
        close(fd);
        return r;
    }
    journal_close(j);
    j->active = true;
    j->fd = fd;
    j->cap = cap;
    j->seq = seq;
    return 0;
}
