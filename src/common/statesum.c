// SPDX-License-Identifier: BSD-3-Clause
/* The checksum sidecar of a main state file (statesum.h). */
#include "statesum.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bytes.h"
#include "fdio.h"
#include "journal.h"

#define SUM_MAGIC "swtpmsum"
#define SUM_VERSION 1
#define SUM_FLAG_BAK 0x1
#define SUM_FLAG_BTIME 0x2
#define SUM_BODY_LEN (STATESUM_LEN - CRYPTO_SHA256_LEN)

void
statesum_encode(const struct statesum *s, uint8_t buf[STATESUM_LEN])
{
    memset(buf, 0, STATESUM_LEN);
    memcpy(buf, SUM_MAGIC, 8);
    be32_put(buf + 8, SUM_VERSION);
    be32_put(buf + 12, (s->has_bak ? SUM_FLAG_BAK : 0) |
                       (s->has_btime ? SUM_FLAG_BTIME : 0));
    memcpy(buf + 16, s->id, STATESUM_ID_LEN);
    be64_put(buf + 32, s->ino);
    be64_put(buf + 40, (uint64_t)s->btime_sec);
    be32_put(buf + 112, s->btime_nsec);
    memcpy(buf + 48, s->main, CRYPTO_SHA256_LEN);
    if (s->has_bak) {
        memcpy(buf + 80, s->bak, CRYPTO_SHA256_LEN);
    }
    if (crypto_sha256(buf, SUM_BODY_LEN, buf + SUM_BODY_LEN) < 0) {
        /* an all-zero checksum never verifies: the sidecar reads as
         * damaged, which means "not known" */
        memset(buf + SUM_BODY_LEN, 0, CRYPTO_SHA256_LEN);
    }
}

int
statesum_decode(const uint8_t *buf, size_t len, struct statesum *out)
{
    uint8_t sum[CRYPTO_SHA256_LEN];
    uint32_t flags;

    if (len != STATESUM_LEN || memcmp(buf, SUM_MAGIC, 8) != 0 ||
        be32_get(buf + 8) != SUM_VERSION) {
        return -EBADMSG;
    }
    if (crypto_sha256(buf, SUM_BODY_LEN, sum) < 0 ||
        memcmp(sum, buf + SUM_BODY_LEN, sizeof(sum)) != 0) {
        return -EBADMSG;
    }
    flags = be32_get(buf + 12);
    if (flags & ~(uint32_t)(SUM_FLAG_BAK | SUM_FLAG_BTIME)) {
        return -EBADMSG;
    }
    memcpy(out->id, buf + 16, STATESUM_ID_LEN);
    out->ino = be64_get(buf + 32);
    out->has_btime = (flags & SUM_FLAG_BTIME) != 0;
    out->btime_sec = (int64_t)be64_get(buf + 40);
    out->btime_nsec = be32_get(buf + 112);
    memcpy(out->main, buf + 48, CRYPTO_SHA256_LEN);
    out->has_bak = (flags & SUM_FLAG_BAK) != 0;
    memset(out->bak, 0, CRYPTO_SHA256_LEN);
    if (out->has_bak) {
        memcpy(out->bak, buf + 80, CRYPTO_SHA256_LEN);
    }
    return 0;
}

int
statesum_read(int dir_fd, const char *fname, struct statesum *out)
{
    uint8_t buf[STATESUM_LEN + 1];
    struct stat sb;
    ssize_t n;
    int fd, r;

    fd = openat(dir_fd, fname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
                O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    r = -EBADMSG;
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        n = fd_read_full(fd, buf, sizeof(buf));
        r = n < 0 ? (int)n : statesum_decode(buf, (size_t)n, out);
    }
    close(fd);
    return r;
}

int
statesum_write(int dir_fd, const char *fname, const char *tmpname,
               mode_t mode, bool mode_explicit, const struct statesum *s)
{
    uint8_t buf[STATESUM_LEN];
    int fd, r;

    statesum_encode(s, buf);
    r = journal_clear_tmp(dir_fd, tmpname);
    if (r < 0) {
        return r;
    }
    fd = openat(dir_fd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
                O_CLOEXEC, mode);
    if (fd < 0) {
        return -errno;
    }
    r = 0;
    if (mode_explicit && fchmod(fd, mode) < 0) {
        r = -errno;
    }
    if (r == 0) {
        r = fd_write_full(fd, buf, sizeof(buf));
    }
    if (r == 0 && fsync(fd) < 0) {
        r = -errno;
    }
    if (close(fd) < 0 && r == 0) {
        r = -errno;
    }
    if (r == 0 && renameat(dir_fd, tmpname, dir_fd, fname) < 0) {
        r = -errno;
    }
    if (r < 0) {
        unlinkat(dir_fd, tmpname, 0);
    }
    return r;
}

/* The inode number and birth time of fd; false without a birth time. */
static bool
file_id(int fd, uint64_t *ino, int64_t *sec, uint32_t *nsec)
{
    struct statx sx;

    if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME, &sx) < 0 ||
        !(sx.stx_mask & STATX_BTIME)) {
        return false;
    }
    *ino = sx.stx_ino;
    *sec = sx.stx_btime.tv_sec;
    *nsec = sx.stx_btime.tv_nsec;
    return true;
}

bool
statesum_is_file(const struct statesum *s, int fd)
{
    uint64_t ino;
    int64_t sec;
    uint32_t nsec;

    return s->has_btime && file_id(fd, &ino, &sec, &nsec) &&
           ino == s->ino && sec == s->btime_sec && nsec == s->btime_nsec;
}

int
statesum_set_file(struct statesum *s, int fd)
{
    s->has_btime = file_id(fd, &s->ino, &s->btime_sec, &s->btime_nsec);
    if (!s->has_btime) {
        s->ino = 0;
        s->btime_sec = 0;
        s->btime_nsec = 0;
    }
    return 0;
}

bool
statesum_knows(const struct statesum *s,
               const uint8_t sum[CRYPTO_SHA256_LEN])
{
    return memcmp(s->main, sum, CRYPTO_SHA256_LEN) == 0 ||
           (s->has_bak && memcmp(s->bak, sum, CRYPTO_SHA256_LEN) == 0);
}
