// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer harness: the directory store's load of permall over a
 * directory of generations (state.c: main file, .bak, journal, sidecar;
 * docs/robustness.md, "State store v2"), written into a directory on
 * tmpfs and loaded with state_load() as a start does.
 *
 * Input: byte 0 flags: bits 0-3 which of main, .bak, journal and sidecar
 * exist, bit 4 the AES-128 file key of fuzz_keys.h, bit 5 place the
 * journal chunk's two halves at the slots of a journal of the minimum
 * capacity (else its bytes are the file), bit 6 seal those slots (magic,
 * capacity and checksum made valid; the slot's byte 8 & 3 picks its base:
 * 1 the main file's SHA-256, 2 the .bak's), bit 7 bind the sidecar (built
 * from the chunk's fields, byte 12 & 1: has a .bak sum, & 2: main sum :=
 * the main file's, & 4: .bak sum := the .bak's, tied to the main file
 * just written, its checksum made valid).  Bytes 1-8: four little-endian
 * u16 lengths, then the chunks in that order (cut at the end of input).
 *
 * Checks: a load that succeeds returns the decoded bytes of a generation
 * whose checksum matches (a slot with a valid checksum; the main file or
 * .bak if the current sidecar records it, or unverified without one); a
 * failed one returns nothing and a TPM error; the load changes no file;
 * after the close (which checkpoints) the next load returns the same;
 * a write then survives a power cut and a checkpoint, and .damaged, if
 * made, holds the main file as it was found.
 * FUZZ_STORE_DIR_SAY=1 in the environment prints each load's result.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "ctrl_wire.h"
#include "fuzz_keys.h"
#include "journal.h"
#include "log.h"
#include "state.h"
#include "state_dir.h"      /* the store's internals, tested */
#include "stateobj.h"
#include "statesum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { C_MAIN, C_BAK, C_JNL, C_SUM, C_N };

static const char *const files[] = {
    "tpm2-00.permall", "tpm2-00.permall.bak", "tpm2-00.permall.journal",
    "tpm2-00.permall.sum", "tpm2-00.permall.damaged",
    "TMP2-00.permall", "TMP2-00.permall.bak", "TMP2-00.permall.journal",
    "TMP2-00.permall.sum" };
#define NFILES (sizeof(files) / sizeof(files[0]))

#define SLOT (JOURNAL_HDR_LEN + JOURNAL_MIN_CAP)

static char dir[64];

struct snap {
    uint8_t *data[NFILES];
    size_t len[NFILES];
};

static uint8_t *
slurp(const char *name, size_t *out_len)
{
    char p[160];
    uint8_t *buf = NULL;
    off_t sz;
    int fd;

    *out_len = 0;
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    fd = open(p, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) {
        return NULL;
    }
    sz = lseek(fd, 0, SEEK_END);
    assert(sz >= 0);
    buf = malloc((size_t)sz + 1);
    assert(buf);
    assert(pread(fd, buf, (size_t)sz, 0) == sz);
    close(fd);
    *out_len = (size_t)sz;
    return buf;
}

static void
put(const char *name, const uint8_t *p, size_t n, int *out_fd)
{
    char path[160];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert(fd >= 0);
    assert(n == 0 || write(fd, p, n) == (ssize_t)n);
    if (out_fd) {
        *out_fd = fd;
    } else {
        close(fd);
    }
}

static void
clear_dir(void)
{
    char p[160];

    for (size_t i = 0; i < NFILES; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        unlink(p);
    }
}

static void
snap_take(struct snap *s)
{
    for (size_t i = 0; i < NFILES; i++) {
        s->data[i] = slurp(files[i], &s->len[i]);
    }
}

static bool
snap_equal(const struct snap *a, const struct snap *b)
{
    for (size_t i = 0; i < NFILES; i++) {
        if ((a->data[i] == NULL) != (b->data[i] == NULL) ||
            a->len[i] != b->len[i] ||
            (a->len[i] && memcmp(a->data[i], b->data[i], a->len[i]))) {
            return false;
        }
    }
    return true;
}

static void
snap_free(struct snap *s)
{
    for (size_t i = 0; i < NFILES; i++) {
        free(s->data[i]);
    }
}

static uint64_t
be_get(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static void
be_put(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

/* The journal file for chunk j (flags bits 5, 6); *out_len its size. */
static uint8_t *
make_journal(const uint8_t *j, size_t n, uint8_t flags,
             const uint8_t main_sum[32], const uint8_t bak_sum[32],
             size_t *out_len)
{
    uint8_t *f;

    if (!(flags & 0x20)) {
        f = malloc(n ? n : 1);
        assert(f);
        memcpy(f, j, n);
        *out_len = n;
        return f;
    }
    f = calloc(2, SLOT);
    assert(f);
    for (int i = 0; i < 2; i++) {
        const uint8_t *half = j + (i ? n / 2 : 0);
        size_t hn = i ? n - n / 2 : n / 2;
        uint8_t *s = f + (size_t)i * SLOT;
        uint32_t len;

        memcpy(s, half, hn < SLOT ? hn : SLOT);
        if (!(flags & 0x40)) {
            continue;
        }
        memcpy(s, "SWTPMJN1", 8);
        be_put(s + 52, JOURNAL_MIN_CAP, 4);
        len = (uint32_t)be_get(s + 48, 4) % (JOURNAL_MIN_CAP + 1);
        be_put(s + 48, len, 4);
        if ((s[8] & 3) == 1) {
            memcpy(s + 56, main_sum, 32);
        } else if ((s[8] & 3) == 2) {
            memcpy(s + 56, bak_sum, 32);
        }
        assert(crypto_sha256(s + 40, JOURNAL_HDR_LEN - 40 + len,
                             s + 8) == 0);
    }
    *out_len = 2 * SLOT;
    return f;
}

/* The sidecar for chunk c, tied to the main file open as main_fd. */
static void
bind_sum(const uint8_t *c, size_t n, int main_fd,
         const uint8_t main_sum[32], const uint8_t bak_sum[32],
         uint8_t out[STATESUM_LEN])
{
    struct statesum s = { 0 };
    uint8_t b[112] = { 0 };

    memcpy(b, c, n < sizeof(b) ? n : sizeof(b));
    memcpy(s.id, b + 16, sizeof(s.id));
    memcpy(s.main, (b[12] & 2) ? main_sum : b + 48, 32);
    s.has_bak = (b[12] & 1) != 0;
    memcpy(s.bak, (b[12] & 4) ? bak_sum : b + 80, 32);
    if (main_fd < 0 || statesum_set_file(&s, main_fd) < 0) {
        s.ino = be_get(b + 32, 8);
    }
    statesum_encode(&s, out);
}

/* Does raw equal the decoding of obj with key? */
static bool
decodes_to(const uint8_t *obj, size_t n, const struct state_key *key,
           const uint8_t *raw, uint32_t raw_len)
{
    uint8_t *d = NULL;
    uint32_t dlen = 0, rc = 0;
    bool same;

    if (!obj || stateobj_decode(obj, (uint32_t)n, key, &d, &dlen, &rc) < 0) {
        return false;
    }
    same = dlen == raw_len && (dlen == 0 || memcmp(d, raw, dlen) == 0);
    free(d);
    return same;
}

static bool
sum_of(const uint8_t *p, size_t n, uint8_t out[32])
{
    return p && crypto_sha256(p, n, out) == 0;
}

/*
 * Is raw the content of a generation whose checksum matches: a valid
 * slot anywhere in the journal, or the main file / .bak when the current
 * sidecar records them (either one, unverified, without a current one)?
 */
static bool
is_verified_generation(const struct snap *s, const struct state_key *key,
                       const uint8_t *raw, uint32_t raw_len)
{
    const uint8_t *j = s->data[C_JNL];
    size_t jn = s->len[C_JNL];
    struct statesum sc;
    bool current = false;
    uint8_t sum[32];
    int fd, dfd;

    for (size_t o = 0; j && o + JOURNAL_HDR_LEN <= jn; o++) {
        uint32_t len;
        uint8_t chk[32];

        if (memcmp(j + o, "SWTPMJN1", 8) != 0) {
            continue;
        }
        len = (uint32_t)be_get(j + o + 48, 4);
        if (len > jn - o - JOURNAL_HDR_LEN ||
            crypto_sha256(j + o + 40, JOURNAL_HDR_LEN - 40 + len, chk) ||
            memcmp(chk, j + o + 8, 32) != 0) {
            continue;
        }
        if (decodes_to(j + o + JOURNAL_HDR_LEN, len, key, raw, raw_len)) {
            return true;
        }
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY);
    assert(dfd >= 0);
    if (statesum_read(dfd, files[C_SUM], &sc) == 0) {
        fd = openat(dfd, files[C_MAIN], O_RDONLY);
        current = fd >= 0 && statesum_is_file(&sc, fd);
        if (fd >= 0) {
            close(fd);
        }
    }
    close(dfd);
    for (int i = C_MAIN; i <= C_BAK; i++) {
        if (!sum_of(s->data[i], s->len[i], sum) ||
            (current && !statesum_knows(&sc, sum))) {
            continue;
        }
        if (decodes_to(s->data[i], s->len[i], key, raw, raw_len)) {
            return true;
        }
    }
    return false;
}

static int
load(struct state_store *st, const struct state_key *key, uint8_t **raw,
     uint32_t *len)
{
    char err[256];
    uint32_t rc = 0;
    int r;

    assert(state_open(st, dir, true, 0600, false, false, err,
                      sizeof(err)) == 0);
    if (key) {
        st->filekey = *key;
    }
    *raw = NULL;
    *len = 0;
    r = state_load(st, "permall", raw, len, &rc);
    if (r < 0) {
        assert(*raw == NULL);
        assert(rc != 0);
    } else {
        assert(*raw != NULL);
    }
    return r;
}

/*
 * On a store that loaded: a write, a power cut (no checkpoint), a load,
 * a checkpoint, a load: the write is there each time, and a .damaged
 * file, if any, is the main file as it was found.
 */
static void
write_survives(struct state_store *st, const struct state_key *key,
               const struct snap *found)
{
    static const uint8_t w[] = "written after the load";
    uint8_t *raw = NULL, *kept;
    uint32_t len = 0, rc = 0;
    size_t klen;

    if (state_save(st, "permall", w, sizeof(w), &rc) < 0) {
        return;                 /* e.g. a directory in the way: said */
    }
    free(st->jb.pending);      /* the power cut */
    st->jb.pending = NULL;
    state_close(st);
    for (int i = 0; i < 2; i++) {
        assert(load(st, key, &raw, &len) == 0);
        assert(len == sizeof(w) && memcmp(raw, w, len) == 0);
        free(raw);
        state_close(st);        /* the checkpoint, the first time */
    }
    kept = slurp(files[4], &klen);
    assert(!kept || (klen == found->len[C_MAIN] &&
                     memcmp(kept, found->data[C_MAIN], klen) == 0));
    free(kept);
    assert(load(st, key, &raw, &len) == 0);
    free(raw);
}

static void
remove_dir(void)
{
    clear_dir();
    rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    const struct state_key *key;
    const uint8_t *chunk[C_N] = { NULL };
    size_t clen[C_N] = { 0 }, off = 9, jlen = 0;
    uint8_t main_sum[32] = { 0 }, bak_sum[32] = { 0 }, sum[STATESUM_LEN];
    struct state_store st = { .dir_fd = -1, .lock_fd = -1 };
    struct snap before, after;
    uint8_t *raw = NULL, *raw2 = NULL, *jf;
    uint32_t len = 0, len2 = 0;
    int main_fd = -1, r, r2;

    if (!ready) {
        snprintf(dir, sizeof(dir), "/dev/shm/fuzz_store_dir.XXXXXX");
        assert(mkdtemp(dir));
        atexit(remove_dir);
        fuzz_keys_init();
        (void)fuzz_wrap_with_hmac;      /* fuzz_keys.h's, for others */
        log_set_level(0);
        ready = true;
    }
    if (size < 9) {
        return 0;
    }
    for (int i = 0; i < C_N; i++) {
        size_t want = (size_t)data[1 + 2 * i] | (size_t)data[2 + 2 * i] << 8;

        clen[i] = want < size - off ? want : size - off;
        chunk[i] = data + off;
        off += clen[i];
    }
    key = fuzz_key((data[0] & 0x10) ? 1 : 0);
    clear_dir();
    if (data[0] & 1) {
        put(files[C_MAIN], chunk[C_MAIN], clen[C_MAIN], &main_fd);
        sum_of(chunk[C_MAIN], clen[C_MAIN], main_sum);
    }
    if (data[0] & 2) {
        put(files[C_BAK], chunk[C_BAK], clen[C_BAK], NULL);
        sum_of(chunk[C_BAK], clen[C_BAK], bak_sum);
    }
    if (data[0] & 4) {
        jf = make_journal(chunk[C_JNL], clen[C_JNL], data[0], main_sum,
                          bak_sum, &jlen);
        put(files[C_JNL], jf, jlen, NULL);
        free(jf);
    }
    if (data[0] & 8) {
        if (data[0] & 0x80) {
            bind_sum(chunk[C_SUM], clen[C_SUM], main_fd, main_sum, bak_sum,
                     sum);
            put(files[C_SUM], sum, sizeof(sum), NULL);
        } else {
            put(files[C_SUM], chunk[C_SUM], clen[C_SUM], NULL);
        }
    }
    if (main_fd >= 0) {
        close(main_fd);
    }
    snap_take(&before);
    r = load(&st, key, &raw, &len);
    snap_take(&after);
    /* A load writes nothing. */
    assert(snap_equal(&before, &after));
    if (getenv("FUZZ_STORE_DIR_SAY")) {     /* for reproducing a find */
        fprintf(stderr, "load: %d, %u bytes: %.*s\n", r, len,
                (int)(len > 64 ? 64 : len), raw ? (const char *)raw : "");
    }
    if (r == 0) {
        assert(is_verified_generation(&before, key, raw, len));
    }
    /* The close checkpoints; then the same state loads again. */
    state_close(&st);
    r2 = load(&st, key, &raw2, &len2);
    if (r == 0) {
        assert(r2 == 0 && len2 == len && memcmp(raw, raw2, len) == 0);
        write_survives(&st, key, &before);
    }
    state_close(&st);
    if (raw) {
        free(raw);
    }
    free(raw2);
    snap_free(&before);
    snap_free(&after);
    return 0;
}
