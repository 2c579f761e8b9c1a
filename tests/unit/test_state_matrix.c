// SPDX-License-Identifier: BSD-3-Clause
/*
 * The damage matrix of the directory store (issue 24 item 5): one byte
 * flipped in the header, the middle or the tail of each generation's file
 * (the main file, .bak, the journal's newest and older slot, the
 * sidecar), alone and in every pair, with and without --key.  Each case
 * starts from the same history: G1 written, G2 journaled, a checkpoint
 * (main G2, .bak G1, sidecar), G3 journaled (the newest acknowledged
 * write, in the newest slot only), then a power cut.
 *
 * The expected outcome comes from the rule in docs/robustness.md ("State
 * store v2"), written out once in expect_of(): the newest generation
 * with an intact, verifiable copy loads; with none, the load is refused
 * and the message names the files.  Every case also checks that the load
 * changed no byte on disk, that a write after it and a checkpoint keep
 * the refused main file as .damaged byte for byte, and that the write
 * survives the next power cut.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bytes.h"
#include "ctrl_wire.h"
#include "journal.h"
#include "log.h"
#include "state.h"
#include "state_dir.h"      /* the store's internals, tested */
#include "stateobj.h"
#include "statesum.h"
#include "unit_util.h"

/* The files a generation lives in, in the order of the table below. */
enum gfile { F_MAIN, F_BAK, F_SLOT_NEW, F_SLOT_OLD, F_SUM, F_FILES };
enum where { W_HEAD, W_MID, W_TAIL, W_PLACES };

static const char *const gfile_names[F_FILES] = {
    "main", "bak", "newest slot", "older slot", "sidecar" };
static const char *const where_names[W_PLACES] = { "head", "mid", "tail" };

static const char G1[] = "generation one: the .bak after the checkpoint";
static const char G2[] = "generation two: main file and the older slot";
static const char G3[] = "generation three, only in the newest slot";
static const char G4[] = "generation four, written after the damage";

static const struct state_key KEY128 = {
    { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6 }, 16
};

/* What a case must load: a generation, or a refusal. */
enum outcome { O_G2, O_G3, O_G1, O_REFUSED, O_UNVERIFIED };

struct fixture {
    char dir[64];
    char err[512];
    int log_fd;
    bool keyed;
    struct state_store st;
};

static void
store_open(struct fixture *f)
{
    assert_int_equal(state_open(&f->st, f->dir, true, 0600, false, false,
                                f->err, sizeof(f->err)), 0);
    if (f->keyed) {
        f->st.filekey = KEY128;
    }
}

/* Power cut: drop the store without its clean-close checkpoint. */
static void
power_cut(struct fixture *f)
{
    free(f->st.jb.pending);
    f->st.jb.pending = NULL;
    state_close(&f->st);
    store_open(f);
}

static const char *
path_in(const struct fixture *f, const char *name, char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", f->dir, name);
    return buf;
}

static void
save(struct fixture *f, const char *data)
{
    uint32_t rc = 0;

    assert_int_equal(state_save(&f->st, "permall", (const uint8_t *)data,
                                (uint32_t)strlen(data), &rc), 0);
}

/* Whole contents of file name in the state directory (NULL: none). */
/* The bytes of the file at path (malloc'd), or NULL if it does not
 * exist. */
static uint8_t *
slurp_path(const char *path, size_t *out_len)
{
    struct stat sb;
    uint8_t *buf;
    int fd = open(path, O_RDONLY);

    *out_len = 0;
    if (fd < 0) {
        assert_int_equal(errno, ENOENT);
        return NULL;
    }
    assert_int_equal(fstat(fd, &sb), 0);
    buf = malloc((size_t)sb.st_size + 1);
    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)sb.st_size, 0), sb.st_size);
    close(fd);
    *out_len = (size_t)sb.st_size;
    return buf;
}

static uint8_t *
slurp(const struct fixture *f, const char *name, size_t *out_len)
{
    char p[128];

    return slurp_path(path_in(f, name, p, sizeof(p)), out_len);
}


/* The file and offset of byte `where` of generation file g. */
static const char *
locate(struct fixture *f, enum gfile g, enum where w, off_t *off)
{
    static const char *const names[F_FILES] = {
        "tpm2-00.permall", "tpm2-00.permall.bak", "tpm2-00.permall.journal",
        "tpm2-00.permall.journal", "tpm2-00.permall.sum" };
    size_t len;
    uint8_t *b = slurp(f, names[g], &len);
    off_t start = 0, size = (off_t)len;

    assert_non_null(b);
    if (g == F_SLOT_NEW || g == F_SLOT_OLD) {
        uint32_t cap = be32_get(b + 52);
        off_t s1 = JOURNAL_HDR_LEN + (off_t)cap;
        bool first_newer = be64_get(b + 40) > be64_get(b + s1 + 40);

        assert_true(len >= 2 * (size_t)s1);
        start = (first_newer == (g == F_SLOT_NEW)) ? 0 : s1;
        /* The slot's header and its payload; what follows is unused. */
        size = JOURNAL_HDR_LEN + (off_t)be32_get(b + start + 48);
    }
    free(b);
    /* The header byte is one past the magic's first: a changed magic,
     * a changed field, both count as damage in the header. */
    *off = start + (w == W_HEAD ? 1 : w == W_MID ? size / 2 : size - 1);
    return names[g];
}

static void
flip(struct fixture *f, enum gfile g, enum where w)
{
    char p[128];
    off_t off;
    const char *name = locate(f, g, w, &off);
    int fd = open(path_in(f, name, p, sizeof(p)), O_RDWR);
    uint8_t b;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x04;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

/*
 * The rule (docs/robustness.md, "State store v2"), for damaged set d:
 * the main file is checked against the sidecar; a damaged one gives way
 * to the newest intact slot that extends a generation the sidecar
 * recorded (G3 extends G2, G2 extends G1), else to .bak if the sidecar
 * recorded it; an intact main file loads with the newest slot that
 * extends it.  Without a sidecar to go by, a damaged main file that no
 * longer decodes is refused (the journal holds newer writes), and with a
 * key it fails its HMAC (refused as a key failure); one that still
 * decodes is not caught (row 95l): O_UNVERIFIED.
 */
static enum outcome
expect_of(unsigned int d, bool main_decodes, bool keyed)
{
    bool sum_ok = !(d & 1u << F_SUM);

    if (!(d & 1u << F_MAIN)) {
        return d & 1u << F_SLOT_NEW ? O_G2 : O_G3;
    }
    if (!sum_ok) {
        return keyed || !main_decodes ? O_REFUSED : O_UNVERIFIED;
    }
    if (!(d & 1u << F_SLOT_NEW)) {
        return O_G3;
    }
    if (!(d & 1u << F_SLOT_OLD)) {
        return O_G2;
    }
    return d & 1u << F_BAK ? O_REFUSED : O_G1;
}

struct snapshot {
    uint8_t *data[F_FILES];
    size_t len[F_FILES];
};

static const char *const snap_names[F_FILES] = {
    "tpm2-00.permall", "tpm2-00.permall.bak", "tpm2-00.permall.journal",
    "tpm2-00.permall.sum", "tpm2-00.permall.damaged" };

static void
snap_take(struct fixture *f, struct snapshot *s)
{
    for (int i = 0; i < F_FILES; i++) {
        s->data[i] = slurp(f, snap_names[i], &s->len[i]);
    }
}

static void
snap_free(struct snapshot *s)
{
    for (int i = 0; i < F_FILES; i++) {
        free(s->data[i]);
        s->data[i] = NULL;
    }
}

/* Every file is still there with the same bytes. */
static void
snap_same(struct fixture *f, const struct snapshot *s, const char *ctx)
{
    struct snapshot now;

    snap_take(f, &now);
    for (int i = 0; i < F_FILES; i++) {
        if ((now.data[i] == NULL) != (s->data[i] == NULL) ||
            now.len[i] != s->len[i] ||
            (s->len[i] && memcmp(now.data[i], s->data[i], s->len[i]))) {
            fail_msg("%s: '%s' changed", ctx, snap_names[i]);
        }
    }
    snap_free(&now);
}

/* The log since the case began contains text. */
static bool
log_has(const struct fixture *f, const char *text)
{
    return unit_fd_has(f->log_fd, text);
}

/* The history every case starts from. */
static void
make_history(struct fixture *f)
{
    unit_rm_tree(f->dir);
    assert_int_equal(mkdir(f->dir, 0700), 0);
    assert_int_equal(ftruncate(f->log_fd, 0), 0);
    assert_int_equal(lseek(f->log_fd, 0, SEEK_SET), 0);
    f->st.filekey.len = 0;
    state_close(&f->st);
    store_open(f);
    save(f, G1);                    /* the first write makes the main file */
    save(f, G2);                    /* a slot */
    assert_int_equal(state_checkpoint(&f->st), 0);
    save(f, G3);                    /* the other slot */
    power_cut(f);
}

static const char *
expected_data(enum outcome o)
{
    return o == O_G1 ? G1 : o == O_G2 ? G2 : o == O_G3 ? G3 : NULL;
}

/* Does the (damaged) main file still decode with the case's key? */
static bool
main_still_decodes(struct fixture *f, const struct snapshot *s)
{
    uint8_t *raw = NULL;
    uint32_t raw_len = 0, rc = 0;
    int r;

    r = stateobj_decode(s->data[0], (uint32_t)s->len[0],
                        f->keyed ? &KEY128 : NULL, &raw, &raw_len, &rc);
    free(raw);
    return r == 0;
}

static void
check_refused(struct fixture *f, unsigned int d, const char *ctx)
{
    const char *why = f->st.why;

    if (!why || !strstr(why, "tpm2-00.permall'")) {
        fail_msg("%s: refusal does not name the main file: %s", ctx,
                 why ? why : "(none)");
    }
    /* With --key and no sidecar a main file failing its HMAC may be a
     * wrong key: refused as such, no other generation tried.  Else the
     * journal is named: its newer writes, or that it had no intact slot;
     * with the sidecar, .bak was tried and is not the recorded one. */
    if (strstr(why, "does not decrypt with the given --key")) {
        if (!f->keyed || !(d & 1u << F_SUM)) {
            fail_msg("%s: refused as a key failure: %s", ctx, why);
        }
        return;
    }
    if (!strstr(why, "tpm2-00.permall.journal")) {
        fail_msg("%s: refusal does not name the journal: %s", ctx, why);
    }
    if (!(d & 1u << F_SUM) &&
        (!strstr(why, "tpm2-00.permall.bak") ||
         !strstr(why, "tpm2-00.permall.sum"))) {
        fail_msg("%s: refusal does not name .bak and the sidecar: %s",
                 ctx, why);
    }
}

/* After a fallback: a new write, a checkpoint, a power cut. */
static void
check_write_after(struct fixture *f, const struct snapshot *before,
                  enum outcome o, const char *ctx)
{
    uint8_t *raw = NULL, *kept;
    uint32_t len = 0, rc = 0;
    size_t klen;

    save(f, G4);
    power_cut(f);
    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc), 0);
    if (len != strlen(G4) || memcmp(raw, G4, len) != 0) {
        fail_msg("%s: the write after the fallback was lost", ctx);
    }
    free(raw);
    assert_int_equal(state_checkpoint(&f->st), 0);
    kept = slurp(f, "tpm2-00.permall.damaged", &klen);
    if (kept) {
        /* Only ever the main file as it was found. */
        if (klen != before->len[0] ||
            memcmp(kept, before->data[0], klen) != 0) {
            fail_msg("%s: .damaged is not the damaged main file", ctx);
        }
    }
    free(kept);
    power_cut(f);
    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc), 0);
    if (len != strlen(G4) || memcmp(raw, G4, len) != 0) {
        fail_msg("%s: the write is lost after the checkpoint", ctx);
    }
    free(raw);
}

static void
run_case(struct fixture *f, unsigned int d, const enum where w[F_FILES])
{
    struct snapshot before;
    uint8_t *raw = NULL, *kept;
    uint32_t len = 0, rc = 0;
    char ctx[160];
    size_t n = 0, klen;
    enum outcome o;
    int r;

    n += (size_t)snprintf(ctx, sizeof(ctx), "%s:", f->keyed ? "key" : "plain");
    for (int g = 0; g < F_FILES; g++) {
        if (d & 1u << g) {
            n += (size_t)snprintf(ctx + n, sizeof(ctx) - n, " %s@%s",
                                  gfile_names[g], where_names[w[g]]);
        }
    }
    make_history(f);
    for (int g = 0; g < F_FILES; g++) {
        if (d & 1u << g) {
            flip(f, (enum gfile)g, w[g]);
        }
    }
    snap_take(f, &before);
    o = expect_of(d, main_still_decodes(f, &before), f->keyed);
    f->st.fallback_logged = false;
    r = state_load(&f->st, "permall", &raw, &len, &rc);
    if (o == O_REFUSED) {
        if (r == 0) {
            fail_msg("%s: loaded %.*s, expected a refusal", ctx, (int)len,
                     (const char *)raw);
        }
        assert_null(raw);
        assert_true(rc != 0 && rc != TPM_RETRY);
        check_refused(f, d, ctx);
        /* A close checkpoints: still nothing is written or renamed. */
        state_close(&f->st);
        snap_same(f, &before, ctx);
        store_open(f);
        snap_free(&before);
        return;
    }
    if (r != 0) {
        fail_msg("%s: load failed (%d, why: %s)", ctx, r,
                 f->st.why ? f->st.why : "-");
    }
    if (o == O_UNVERIFIED) {
        /* Row 95l: the main file's bytes as they are now. */
        assert_true(log_has(f, "tpm2-00.permall.sum' is damaged"));
    } else if (len != strlen(expected_data(o)) ||
               memcmp(raw, expected_data(o), len) != 0) {
        fail_msg("%s: loaded '%.*s', expected '%s'", ctx, (int)len,
                 (const char *)raw, expected_data(o));
    }
    free(raw);
    /* A load writes nothing; a fallback says so once, naming both. */
    snap_same(f, &before, ctx);
    if ((d & 1u << F_MAIN) && o != O_UNVERIFIED &&
        !log_has(f, "tpm2-00.permall' is damaged")) {
        fail_msg("%s: the fallback was not logged", ctx);
    }
    if (o == O_UNVERIFIED) {
        snap_free(&before);
        return;
    }
    check_write_after(f, &before, o, ctx);
    kept = slurp(f, "tpm2-00.permall.damaged", &klen);
    if ((d & 1u << F_MAIN) && !kept) {
        fail_msg("%s: the damaged main file was not kept", ctx);
    }
    if (!(d & 1u << F_MAIN) && kept) {
        fail_msg("%s: an intact main file was kept as .damaged", ctx);
    }
    free(kept);
    snap_free(&before);
}

/* Each damaged set of one or two files, each place in each file. */
static void
run_matrix(struct fixture *f)
{
    unsigned int cases = 0;

    for (unsigned int d = 1; d < 1u << F_FILES; d++) {
        int bits = __builtin_popcount(d);
        enum where w[F_FILES] = { 0 };
        unsigned int combos = 1;

        if (bits > 2) {
            continue;
        }
        for (int i = 0; i < bits; i++) {
            combos *= W_PLACES;
        }
        for (unsigned int c = 0; c < combos; c++) {
            unsigned int k = c;

            for (int g = 0; g < F_FILES; g++) {
                if (d & 1u << g) {
                    w[g] = (enum where)(k % W_PLACES);
                    k /= W_PLACES;
                }
            }
            run_case(f, d, w);
            cases++;
        }
    }
    /* 5 files x 3 places + 10 pairs x 9 places. */
    assert_int_equal(cases, 5 * 3 + 10 * 9);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_state_matrix.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->log_fd = open("/tmp", O_RDWR | O_TMPFILE, 0600);
    assert_true(f->log_fd >= 0);
    log_set_fd(f->log_fd);
    store_open(f);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    state_close(&f->st);
    log_set_fd(2);
    close(f->log_fd);
    unit_rm_tree(f->dir);
    free(f);
    return 0;
}

static void
test_state_matrix_one_and_two_damaged(void **state)
{
    run_matrix(*state);
}

static void
test_state_matrix_one_and_two_damaged_with_key(void **state)
{
    struct fixture *f = *state;

    f->keyed = true;
    run_matrix(f);
}

/*
 * Everything damaged at once: the load is refused naming the main file,
 * the sidecar and .bak, and nothing on disk changes, also at close.
 */
static void
test_state_matrix_all_damaged(void **state)
{
    struct fixture *f = *state;
    const enum where w[F_FILES] = { W_MID, W_MID, W_MID, W_MID, W_HEAD };

    /* The sidecar intact: what is left to try is refused for its sum. */
    run_case(f, 1u << F_MAIN | 1u << F_BAK | 1u << F_SLOT_NEW |
             1u << F_SLOT_OLD, w);
}

/* No journal, no .bak: the refusal says so for each. */
static void
test_state_matrix_damaged_main_alone(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;
    char p[128];

    make_history(f);
    assert_int_equal(unlink(path_in(f, "tpm2-00.permall.journal", p,
                                    sizeof(p))), 0);
    assert_int_equal(unlink(path_in(f, "tpm2-00.permall.bak", p,
                                    sizeof(p))), 0);
    flip(f, F_MAIN, W_MID);
    assert_true(state_load(&f->st, "permall", &raw, &len, &rc) < 0);
    assert_null(raw);
    assert_non_null(f->st.why);
    assert_non_null(strstr(f->st.why, "tpm2-00.permall' is damaged (its "
                           "SHA-256 differs from the one recorded in "
                           "'tpm2-00.permall.sum'"));
    assert_non_null(strstr(f->st.why, "there is no journal "
                           "'tpm2-00.permall.journal' beside it"));
    assert_non_null(strstr(f->st.why, "'tpm2-00.permall.bak' does not "
                           "exist"));
}

/*
 * The file:// backend (docs/state.md §8): each object ends with our
 * checksum record (§8.5) and is there twice, after the header and as the
 * scratch copy the write leaves behind.  A byte flipped anywhere in the
 * object (its header, middle or tail, plain or encrypted) is caught and
 * the intact copy is loaded; the same byte or two different bytes
 * flipped in both copies fail the load, naming the file and both
 * offsets.  A byte flipped in the file's header (magic, permall's
 * offset, length and section) is refused or still reads the same
 * object.  Either way the load writes nothing.
 */
enum expect { SAME, FAILS, SAME_OR_REFUSED };

static void
flip_at(const char *path, off_t off)
{
    uint8_t b;
    int fd = open(path, O_RDWR);

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x04;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void
file_case(const char *uri, const char *path, off_t off, off_t off2,
          bool keyed, enum expect want)
{
    struct state_store st = { .dir_fd = -1 };
    uint8_t *before, *after, *raw = NULL;
    uint32_t len = 0, rc = 0;
    size_t blen, alen;
    char err[512];
    int r;

    flip_at(path, off);
    if (off2 >= 0) {
        flip_at(path, off2);
    }
    before = slurp_path(path, &blen);
    assert_non_null(before);
    r = state_open(&st, uri, true, 0600, false, false, err, sizeof(err));
    if (r == 0) {
        if (keyed) {
            st.filekey = KEY128;
        }
        r = state_load(&st, "permall", &raw, &len, &rc);
        if (r == 0 && (len != strlen(G2) || memcmp(raw, G2, len) != 0)) {
            fail_msg("file://, bytes %lld %lld: loaded other bytes",
                     (long long)off, (long long)off2);
        }
        if (r < 0 && want == FAILS &&
            (!st.why || !strstr(st.why, path) ||
             !strstr(st.why, "no intact copy"))) {
            fail_msg("file://, bytes %lld %lld: error does not say it: %s",
                     (long long)off, (long long)off2,
                     st.why ? st.why : "(none)");
        }
        free(raw);
        state_close(&st);
    } else if (!strstr(err, path)) {
        fail_msg("file://, byte %lld: error does not name it: %s",
                 (long long)off, err);
    }
    if (want == FAILS && r == 0) {
        fail_msg("file://, bytes %lld %lld: damage loaded", (long long)off,
                 (long long)off2);
    }
    if (want == SAME && r != 0) {
        fail_msg("file://, byte %lld: the intact copy was not loaded",
                 (long long)off);
    }
    after = slurp_path(path, &alen);
    assert_non_null(after);
    assert_int_equal(alen, blen);
    assert_memory_equal(after, before, blen);
    free(before);
    free(after);
    /* Undo, for the next case. */
    flip_at(path, off);
    if (off2 >= 0) {
        flip_at(path, off2);
    }
}

static uint32_t
le32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static void
test_state_matrix_file_backend(void **state)
{
    char path[128], uri[160];
    struct state_store st = { .dir_fd = -1 };
    uint8_t hdr[24], rec[74];
    uint32_t rc = 0, data_off, data_len, twin;
    char err[512];
    int fd;

    (void)state;
    for (int keyed = 0; keyed < 2; keyed++) {
        /* tmpfs: the backend's flushes would take most of the time. */
        snprintf(path, sizeof(path), "/dev/shm/test_state_matrix.%ld.img",
                 (long)getpid());
        snprintf(uri, sizeof(uri), "file://%s", path);
        unlink(path);
        assert_int_equal(state_open(&st, uri, true, 0600, false, false,
                                    err, sizeof(err)), 0);
        if (keyed) {
            st.filekey = KEY128;
        }
        assert_int_equal(state_save(&st, "permall", (const uint8_t *)G1,
                                    strlen(G1), &rc), 0);
        assert_int_equal(state_save(&st, "permall", (const uint8_t *)G2,
                                    strlen(G2), &rc), 0);
        state_close(&st);
        fd = open(path, O_RDONLY);
        assert_int_equal(pread(fd, hdr, sizeof(hdr), 0), sizeof(hdr));
        /* Entry 0 (permall): little-endian offset, data length. */
        data_off = le32_at(hdr + 12);
        data_len = le32_at(hdr + 16);
        assert_true(data_off >= 192 && data_len > 16 + sizeof(rec));
        /* The record ends the object: tag "ss", then the twin's offset
         * (big-endian) at 38. */
        assert_int_equal(pread(fd, rec, sizeof(rec),
                               data_off + data_len - sizeof(rec)),
                         sizeof(rec));
        close(fd);
        assert_int_equal(rec[0], 's');
        assert_int_equal(rec[1], 's');
        twin = (uint32_t)rec[38] << 24 | (uint32_t)rec[39] << 16 |
               (uint32_t)rec[40] << 8 | rec[41];
        assert_true(twin >= data_off + data_len);
        /* The header: magic, permall's offset, length, section. */
        file_case(uri, path, 1, -1, keyed, SAME_OR_REFUSED);
        file_case(uri, path, 12, -1, keyed, SAME_OR_REFUSED);
        file_case(uri, path, 16, -1, keyed, SAME_OR_REFUSED);
        file_case(uri, path, 20, -1, keyed, SAME_OR_REFUSED);
        /* One copy damaged, in its header, middle, record or hash. */
        const uint32_t at[] = { 1, 7, data_len / 2, data_len - 60,
                                data_len - 1 };
        for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
            file_case(uri, path, data_off + at[i], -1, keyed, SAME);
            file_case(uri, path, twin + at[i], -1, keyed, SAME);
            /* Both copies: the same byte, or another one. */
            file_case(uri, path, data_off + at[i], twin + at[i], keyed,
                      FAILS);
            file_case(uri, path, data_off + at[i],
                      twin + at[(i + 1) % 5], keyed, FAILS);
        }
        unlink(path);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_state_matrix_one_and_two_damaged, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_state_matrix_one_and_two_damaged_with_key, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_state_matrix_all_damaged,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_state_matrix_damaged_main_alone, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_state_matrix_file_backend, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
