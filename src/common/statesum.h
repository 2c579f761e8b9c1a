/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The checksum sidecar of a main state file (docs/state.md §7.4): beside
 * tpm[2]-00.permall, in tpm[2]-00.permall.sum, which TPM the generations
 * belong to (a random identity made with the first sidecar), the inode
 * number and birth time of the main file we wrote last (together they
 * tell that file from a later one that reuses the inode number), and the
 * SHA-256 of it and of the .bak generation it replaced.  The main file
 * itself stays in upstream's format, so Debian's swtpm reads it and
 * ignores the sidecar.
 *
 * Layout (152 bytes, big-endian): magic "swtpmsum", version u32 (1),
 * flags u32 (bit 0: bak holds a sum, bit 1: the birth time is known),
 * id[16], ino u64, btime seconds u64, main[32], bak[32], btime
 * nanoseconds u32, zero u32, SHA-256 of the 120 bytes before it.
 */
#ifndef SWTPM_STATESUM_H
#define SWTPM_STATESUM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto.h"

#define STATESUM_LEN 152
#define STATESUM_ID_LEN 16

struct statesum {
    uint8_t id[STATESUM_ID_LEN];
    /* Which file it describes: the main file when it was written. */
    uint64_t ino;
    bool has_btime;             /* false: never matches a file */
    int64_t btime_sec;
    uint32_t btime_nsec;
    uint8_t main[CRYPTO_SHA256_LEN];
    bool has_bak;
    uint8_t bak[CRYPTO_SHA256_LEN];
};

void statesum_encode(const struct statesum *s, uint8_t buf[STATESUM_LEN]);
/* 0, or -EBADMSG for bytes that are not a valid sidecar. */
int statesum_decode(const uint8_t *buf, size_t len, struct statesum *out);

/*
 * Read sidecar fname in dir_fd: 0, -ENOENT, -EBADMSG (damaged: the caller
 * treats it as absent and says so), or another negative errno.
 */
int statesum_read(int dir_fd, const char *fname, struct statesum *out);

/*
 * Write s to tmpname, flush it and rename it over fname.  The caller
 * flushes the directory (it renames the main file next).
 */
int statesum_write(int dir_fd, const char *fname, const char *tmpname,
                   mode_t mode, bool mode_explicit, const struct statesum *s);

/*
 * Does s describe the file open as fd (same inode number and birth time)?
 * A file system without birth times never matches.
 */
bool statesum_is_file(const struct statesum *s, int fd);
/* Fill s's ino and birth time from fd: 0 or a negative errno. */
int statesum_set_file(struct statesum *s, int fd);

/* Is sum the recorded main file's or .bak's? */
bool statesum_knows(const struct statesum *s,
                    const uint8_t sum[CRYPTO_SHA256_LEN]);

#endif
