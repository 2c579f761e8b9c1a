// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for permall's journal (journal.c and its use in state.c):
 * every crash point of a write and of a checkpoint, simulated by failing
 * or tearing the syscall there (pwrite, fdatasync, fsync and renameat are
 * wrapped, see test_journal.ldflags) and then dropping the store without
 * the clean-close checkpoint, as a power cut would; the next store must
 * load the newest acknowledged state.  Also the flush count of a write,
 * slot validation, and the fallback to the previous generation.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto.h"
#include "ctrl_wire.h"
#include "journal.h"
#include "log.h"
#include "state.h"
#include "state_dir.h"      /* the store's internals, tested */
#include "statesum.h"
#include "unit_util.h"

ssize_t __wrap_pwrite(int fd, const void *buf, size_t len, off_t off);
ssize_t __real_pwrite(int fd, const void *buf, size_t len, off_t off);
int __wrap_fdatasync(int fd);
int __real_fdatasync(int fd);
int __wrap_fsync(int fd);
int __real_fsync(int fd);
int __wrap_renameat(int ofd, const char *o, int nfd, const char *n);
int __real_renameat(int ofd, const char *o, int nfd, const char *n);

static bool tear_pwrite;        /* write half, then fail: a torn write */
static bool fail_fdatasync;
static const char *fail_rename_to;  /* fail renames onto this name */
static int n_fdatasync, n_fsync;

ssize_t
__wrap_pwrite(int fd, const void *buf, size_t len, off_t off)
{
    if (tear_pwrite) {
        __real_pwrite(fd, buf, len / 2, off);
        errno = EIO;
        return -1;
    }
    return __real_pwrite(fd, buf, len, off);
}

int
__wrap_fdatasync(int fd)
{
    n_fdatasync++;
    if (fail_fdatasync) {
        errno = EIO;
        return -1;
    }
    return __real_fdatasync(fd);
}

int
__wrap_fsync(int fd)
{
    n_fsync++;
    return __real_fsync(fd);
}

int
__wrap_renameat(int ofd, const char *o, int nfd, const char *n)
{
    if (fail_rename_to && strcmp(n, fail_rename_to) == 0) {
        errno = EIO;
        return -1;
    }
    return __real_renameat(ofd, o, nfd, n);
}

static const struct state_key KEY128 = {
    { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }, 16
};

struct fixture {
    char dir[64];
    char err[512];
    int log_fd;             /* the store's log lines go here */
    struct state_store st;
};

static void
store_open(struct fixture *f)
{
    assert_int_equal(state_open(&f->st, f->dir, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_journal.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->log_fd = open(f->dir, O_RDWR | O_TMPFILE, 0600);
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

    tear_pwrite = fail_fdatasync = false;
    fail_rename_to = NULL;
    state_close(&f->st);
    log_set_fd(2);
    close(f->log_fd);
    unit_rm_tree(f->dir);
    free(f);
    return 0;
}

/* Power cut: drop the store without its clean-close checkpoint. */
static void
crash_and_restart(struct fixture *f)
{
    tear_pwrite = fail_fdatasync = false;
    fail_rename_to = NULL;
    free(f->st.jb.pending);
    f->st.jb.pending = NULL;
    state_close(&f->st);
    store_open(f);
}

static char *
path_in(const struct fixture *f, const char *name)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "%s/%s", f->dir, name);
    return buf;
}

static int
save(struct fixture *f, const char *data)
{
    uint32_t rc = 0;

    return state_save(&f->st, "permall", (const uint8_t *)data,
                      (uint32_t)strlen(data), &rc);
}

static void
load_expect(struct fixture *f, const char *data)
{
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc), 0);
    assert_int_equal(len, strlen(data));
    assert_memory_equal(raw, data, len);
    free(raw);
}

/* The main file, as upstream swtpm would read it. */
static void
main_expect(struct fixture *f, const char *data)
{
    int fd;
    char buf[4096];
    ssize_t n;

    fd = open(path_in(f, "tpm2-00.permall"), O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf));
    close(fd);
    /* Unencrypted: header (docs/control-channel.md §10) + TLV header
     * (docs/control-channel.md §6) + the raw bytes. */
    assert_int_equal(n, 16 + (ssize_t)strlen(data));
    assert_memory_equal(buf + 16, data, strlen(data));
}

static void
test_journal_one_flush_per_write(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(save(f, "first"), 0);     /* creates the main file */
    assert_int_equal(save(f, "second"), 0);    /* creates the journal */
    n_fdatasync = n_fsync = 0;
    for (int i = 0; i < 10; i++) {
        char v[32];

        snprintf(v, sizeof(v), "value-%d", i);
        assert_int_equal(save(f, v), 0);
    }
    assert_int_equal(n_fdatasync, 10);
    assert_int_equal(n_fsync, 0);
    /* Unchanged content is durable already: no flush at all. */
    assert_int_equal(save(f, "value-9"), 0);
    assert_int_equal(n_fdatasync, 10);
    crash_and_restart(f);
    load_expect(f, "value-9");
}

static void
test_journal_torn_slot_write(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(save(f, "C"), 0);
    tear_pwrite = true;
    assert_true(save(f, "D-never-acknowledged") < 0);
    crash_and_restart(f);
    load_expect(f, "C");
    /* And the next write after recovery goes on from there. */
    assert_int_equal(save(f, "E"), 0);
    crash_and_restart(f);
    load_expect(f, "E");
}

static void
test_journal_flush_fails(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    fail_fdatasync = true;
    assert_true(save(f, "C") < 0);
    crash_and_restart(f);
    /* Not acknowledged: either value may survive, but one loads. */
    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc), 0);
    assert_int_equal(len, 1);
    assert_true(raw[0] == 'B' || raw[0] == 'C');
    free(raw);
}

static void
test_journal_crash_before_checkpoint_rename(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    fail_rename_to = "tpm2-00.permall";
    assert_true(state_checkpoint(&f->st) < 0);
    crash_and_restart(f);
    load_expect(f, "B");
    main_expect(f, "A");
}

static void
test_journal_crash_after_checkpoint(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(state_checkpoint(&f->st), 0);
    main_expect(f, "B");
    crash_and_restart(f);
    load_expect(f, "B");
    /* A torn write right after the checkpoint: the main file wins. */
    tear_pwrite = true;
    assert_true(save(f, "C") < 0);
    crash_and_restart(f);
    load_expect(f, "B");
}

/* A main file byte-identical to an older one must not revive old slots. */
static void
test_journal_main_repeats_old_content(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);      /* slot based on A */
    assert_int_equal(state_checkpoint(&f->st), 0);
    assert_int_equal(save(f, "A"), 0);      /* slot based on B */
    assert_int_equal(state_checkpoint(&f->st), 0);
    main_expect(f, "A");
    crash_and_restart(f);
    load_expect(f, "A");
}

static void
test_journal_grow_crash(void **state)
{
    struct fixture *f = *state;
    size_t big = JOURNAL_MIN_CAP + 100;
    char *v = malloc(big + 1);

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    memset(v, 'x', big);
    v[big] = '\0';
    /* Crash before the bigger journal replaces the old one. */
    fail_rename_to = "tpm2-00.permall.journal";
    assert_true(save(f, v) < 0);
    crash_and_restart(f);
    load_expect(f, "B");
    assert_int_equal(save(f, v), 0);
    crash_and_restart(f);
    load_expect(f, v);
    free(v);
}

/* Upstream swtpm ran on the directory after a crash: its file wins. */
static void
test_journal_stale_after_upstream_write(void **state)
{
    struct fixture *f = *state;
    struct state_store other = { 0 };
    uint32_t rc = 0;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    crash_and_restart(f);
    state_close(&f->st);
    /* A store that skips the journal writes the main file directly. */
    assert_int_equal(state_open(&other, f->dir, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    other.defer_sync = true;
    assert_int_equal(state_save(&other, "permall", (const uint8_t *)"U", 1,
                                &rc), 0);
    state_close(&other);
    store_open(f);
    load_expect(f, "U");
}

/* Deleted main file: the journal is stale, the TPM starts fresh. */
static void
test_journal_without_main(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    crash_and_restart(f);
    assert_int_equal(unlink(path_in(f, "tpm2-00.permall")), 0);
    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc),
                     -ENOENT);
    assert_int_equal(rc, TPM_RETRY);
}

static void
test_journal_encrypted(void **state)
{
    struct fixture *f = *state;

    f->st.filekey = KEY128;
    assert_int_equal(save(f, "secret-1"), 0);
    assert_int_equal(save(f, "secret-2"), 0);
    crash_and_restart(f);
    f->st.filekey = KEY128;
    load_expect(f, "secret-2");
    assert_int_equal(state_checkpoint(&f->st), 0);
    crash_and_restart(f);
    f->st.filekey = KEY128;
    load_expect(f, "secret-2");
}

static void
test_journal_bad_slots_ignored(void **state)
{
    struct fixture *f = *state;
    int fd;
    uint8_t b;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);     /* journal seq 1, slot 1 */
    assert_int_equal(save(f, "C"), 0);     /* seq 2, slot 0 */
    crash_and_restart(f);
    /* Flip a payload byte of the newest slot (slot 0). */
    fd = open(path_in(f, "tpm2-00.permall.journal"), O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, JOURNAL_HDR_LEN + 16), 1);
    b ^= 1;
    assert_int_equal(__real_pwrite(fd, &b, 1, JOURNAL_HDR_LEN + 16), 1);
    close(fd);
    load_expect(f, "B");
    /* A journal file of a size no journal has: the main file counts. */
    fd = open(path_in(f, "tpm2-00.permall.journal"), O_RDWR);
    assert_int_equal(ftruncate(fd, 1001), 0);
    close(fd);
    crash_and_restart(f);
    load_expect(f, "A");
    /* and the next write replaces it. */
    assert_int_equal(save(f, "D"), 0);
    crash_and_restart(f);
    load_expect(f, "D");
}

/* Did the store log a line containing text since the fixture began? */
static bool
log_has(const struct fixture *f, const char *text)
{
    return unit_fd_has(f->log_fd, text);
}

static void
damage_main(struct fixture *f)
{
    int fd = open(path_in(f, "tpm2-00.permall"), O_WRONLY | O_TRUNC);

    assert_int_equal(write(fd, "junk", 4), 4);
    close(fd);
}

/* A checkpoint put B into the main file; the journal slot holds it too. */
static void
test_journal_damaged_main_loads_newest_slot(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(state_checkpoint(&f->st), 0);  /* .bak = A */
    crash_and_restart(f);
    damage_main(f);
    /* Before: .bak (A) loaded and the acknowledged B was gone. */
    load_expect(f, "B");
    assert_true(log_has(f, "tpm2-00.permall' is damaged"));
    assert_true(log_has(f, "from the journal"));
    /* The next write and a restart keep B's successor; the damaged file
     * is kept aside at the checkpoint, never over the good .bak. */
    assert_int_equal(save(f, "C"), 0);
    crash_and_restart(f);
    load_expect(f, "C");
    assert_int_equal(state_checkpoint(&f->st), 0);
    assert_true(state_damaged_size(&f->st, "permall") == 4);
    main_expect(f, "C");
    crash_and_restart(f);
    load_expect(f, "C");
}

static void
test_journal_damaged_main_falls_back(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(state_checkpoint(&f->st), 0);  /* .bak = A */
    crash_and_restart(f);
    assert_int_equal(unlink(path_in(f, "tpm2-00.permall.journal")), 0);
    damage_main(f);
    load_expect(f, "A");
    /* Nothing was deleted or replaced by the fallback. */
    assert_int_equal(access(path_in(f, "tpm2-00.permall.bak"), F_OK), 0);
    /* Without a good previous generation the original error stands. */
    assert_int_equal(unlink(path_in(f, "tpm2-00.permall.bak")), 0);
    assert_true(state_load(&f->st, "permall", &raw, &len, &rc) < 0);
    assert_int_equal(rc, TPM_BAD_PARAMETER);
}

/* Writes after the checkpoint, then damage: .bak would lose them. */
static void
test_journal_damaged_main_newer_slot_refused(void **state)
{
    struct fixture *f = *state;
    struct stat sb;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(state_checkpoint(&f->st), 0);  /* .bak A, main B */
    assert_int_equal(save(f, "C"), 0);              /* slot based on B */
    crash_and_restart(f);
    damage_main(f);
    /* No sidecar (as Debian's swtpm leaves it): nothing ties the slot to
     * this TPM. */
    assert_int_equal(unlink(path_in(f, "tpm2-00.permall.sum")), 0);
    assert_true(state_load(&f->st, "permall", &raw, &len, &rc) < 0);
    assert_int_equal(rc, TPM_BAD_PARAMETER);    /* the main file's error */
    assert_non_null(f->st.why);
    assert_non_null(strstr(f->st.why, "journal 'tpm2-00.permall.journal' "
                           "holds newer writes"));
    state_close(&f->st);
    /* Nothing was renamed or written. */
    assert_int_equal(access(path_in(f, "tpm2-00.permall.damaged"), F_OK),
                     -1);
    store_open(f);
    assert_int_equal(state_size(&f->st, "permall"), 4);    /* "junk" */
    assert_int_equal(stat(path_in(f, "tpm2-00.permall.bak"), &sb), 0);
    assert_int_equal(sb.st_size, 16 + 1);                   /* A */
}

/* As above with the sidecar: it knows B, which the slot extends. */
static void
test_journal_damaged_main_sidecar_loads_newer_slot(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(state_checkpoint(&f->st), 0);  /* .bak A, main B */
    assert_int_equal(save(f, "C"), 0);              /* slot based on B */
    crash_and_restart(f);
    damage_main(f);
    load_expect(f, "C");
    assert_true(log_has(f, "from the journal"));
}

/* One bit of the main file flipped in place at off (it may still parse). */
static void
flip_main(struct fixture *f, off_t off)
{
    int fd = open(path_in(f, "tpm2-00.permall"), O_RDWR);
    uint8_t b;

    assert_true(fd >= 0);
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= 0x10;
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

/*
 * A byte flipped in the header, the middle or the tail of the main file,
 * with and without the journal and .bak: the newest verified generation
 * loads (journal slot, then .bak), else the load is refused; never the
 * damaged bytes.
 */
static void
test_journal_flipped_byte_each_place(void **state)
{
    struct fixture *f = *state;
    static const char *const data = "0123456789abcdef";
    const off_t where[] = { 0, 5, 16 + 8, 16 + 15 };
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        for (int gone = 0; gone < 3; gone++) {
            unit_rm_tree(f->dir);
            assert_int_equal(mkdir(f->dir, 0700), 0);
            crash_and_restart(f);
            assert_int_equal(save(f, "older-generation"), 0);
            assert_int_equal(save(f, data), 0);
            assert_int_equal(state_checkpoint(&f->st), 0);
            crash_and_restart(f);
            flip_main(f, where[i]);
            if (gone >= 1) {
                unlink(path_in(f, "tpm2-00.permall.journal"));
            }
            if (gone >= 2) {
                unlink(path_in(f, "tpm2-00.permall.bak"));
            }
            if (gone == 0) {
                load_expect(f, data);
            } else if (gone == 1) {
                load_expect(f, "older-generation");
            } else {
                assert_true(state_load(&f->st, "permall", &raw, &len,
                                       &rc) < 0);
                assert_int_equal(rc != 0, 1);
            }
        }
    }
}

/*
 * A parseable flip, the fallback, a write and a power cut before the
 * checkpoint (was: the next load took the slot, which extends the damaged
 * file, and its checkpoint made the damaged file the .bak, over the good
 * one, keeping no .damaged).
 */
static void
test_journal_flipped_main_kept_after_write_and_cut(void **state)
{
    struct fixture *f = *state;
    struct stat sb;
    char *bak;

    assert_int_equal(save(f, "generation-A"), 0);
    assert_int_equal(save(f, "generation-B"), 0);
    assert_int_equal(state_checkpoint(&f->st), 0);  /* .bak A, main B */
    crash_and_restart(f);
    flip_main(f, 16 + 4);               /* still decodes */
    load_expect(f, "generation-B");     /* the journal's slot */
    assert_int_equal(save(f, "generation-C"), 0);
    crash_and_restart(f);
    load_expect(f, "generation-C");
    assert_int_equal(state_checkpoint(&f->st), 0);
    assert_int_equal(state_damaged_size(&f->st, "permall"), 16 + 12);
    assert_int_equal(stat(path_in(f, "tpm2-00.permall.bak"), &sb), 0);
    assert_int_equal(sb.st_size, 16 + 12);
    main_expect(f, "generation-C");
    /* .bak is still A, byte for byte: the damaged B never replaced it. */
    bak = strdup(path_in(f, "tpm2-00.permall.bak"));
    assert_int_equal(rename(bak, path_in(f, "tpm2-00.permall")), 0);
    free(bak);
    main_expect(f, "generation-A");
}

/* With --key a changed main file fails its HMAC: damage (the sidecar
 * says it changed), so the journal's slot loads instead of a refusal. */
static void
test_journal_flipped_encrypted_main_is_damage(void **state)
{
    struct fixture *f = *state;

    f->st.filekey = KEY128;
    assert_int_equal(save(f, "secret-1"), 0);
    assert_int_equal(save(f, "secret-2"), 0);
    assert_int_equal(state_checkpoint(&f->st), 0);
    crash_and_restart(f);
    f->st.filekey = KEY128;
    flip_main(f, 20);                   /* inside the ciphertext */
    load_expect(f, "secret-2");
    assert_true(log_has(f, "differs from the one recorded"));
}

/* A damaged sidecar is said and ignored: the main file loads unverified. */
static void
test_journal_damaged_sidecar_ignored(void **state)
{
    struct fixture *f = *state;
    int fd;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(state_checkpoint(&f->st), 0);
    crash_and_restart(f);
    fd = open(path_in(f, "tpm2-00.permall.sum"), O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 60), 1);
    close(fd);
    load_expect(f, "B");
    assert_true(log_has(f, "tpm2-00.permall.sum' is damaged; "
                        "'tpm2-00.permall' is not verified"));
}

/* A sidecar with any one byte changed is not believed: nothing is then
 * verified (the main file loads as without a sidecar), and it is said. */
static void
test_journal_sidecar_any_flipped_byte_unverified(void **state)
{
    struct statesum s = { .ino = 42, .has_btime = true, .btime_sec = 7,
                          .has_bak = true };
    struct statesum out;
    uint8_t buf[STATESUM_LEN];

    (void)state;
    memset(s.main, 0xaa, sizeof(s.main));
    memset(s.bak, 0xbb, sizeof(s.bak));
    statesum_encode(&s, buf);
    assert_int_equal(statesum_decode(buf, sizeof(buf), &out), 0);
    assert_int_equal(out.ino, 42);
    assert_true(statesum_knows(&out, s.bak));
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] ^= 0x01;
        assert_int_equal(statesum_decode(buf, sizeof(buf), &out), -EBADMSG);
        buf[i] ^= 0x01;
    }
    assert_int_equal(statesum_decode(buf, sizeof(buf) - 1, &out), -EBADMSG);
}

/* Swap the main file for one in the way of reading it, keep the rest. */
static void
expect_refused(struct fixture *f, const char *why_part)
{
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;
    struct stat before, after;

    assert_int_equal(lstat(path_in(f, "tpm2-00.permall.bak"), &before), 0);
    assert_true(state_load(&f->st, "permall", &raw, &len, &rc) < 0);
    assert_null(raw);
    assert_true(rc != 0 && rc != TPM_RETRY);
    assert_non_null(f->st.why);
    if (!strstr(f->st.why, why_part)) {
        fail_msg("why: %s", f->st.why);
    }
    /* A close checkpoints: still nothing may be written or renamed. */
    state_close(&f->st);
    assert_int_equal(lstat(path_in(f, "tpm2-00.permall.bak"), &after), 0);
    assert_true(before.st_ino == after.st_ino &&
                before.st_mtime == after.st_mtime);
    assert_int_equal(access(path_in(f, "tpm2-00.permall.damaged"), F_OK),
                     -1);
    store_open(f);
}

static void
make_generations(struct fixture *f)
{
    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(state_checkpoint(&f->st), 0);  /* .bak = A */
    crash_and_restart(f);
}

static void
test_journal_unreadable_main_refused(void **state)
{
    struct fixture *f = *state;
    char *main = strdup(path_in(f, "tpm2-00.permall"));

    make_generations(f);
    /* Root owns it, 0600; the daemon runs as nobody. */
    assert_int_equal(chmod(main, 0600), 0);
    assert_int_equal(chmod(f->dir, 0777), 0);
    assert_int_equal(seteuid(65534), 0);
    expect_refused(f, "tpm2-00.permall' is not readable by uid 65534 "
                   "(Permission denied)");
    assert_int_equal(seteuid(0), 0);
    /* A symlink to the real bytes, a FIFO and a directory likewise. */
    assert_int_equal(rename(main, path_in(f, "real")), 0);
    assert_int_equal(symlink("real", main), 0);
    expect_refused(f, "is a symbolic link");
    assert_int_equal(unlink(main), 0);
    assert_int_equal(mkfifo(main, 0600), 0);
    expect_refused(f, "is not a regular file");
    assert_int_equal(unlink(main), 0);
    assert_int_equal(mkdir(main, 0700), 0);
    expect_refused(f, "is not a regular file");
    assert_int_equal(rmdir(main), 0);
    assert_int_equal(rename(path_in(f, "real"), main), 0);
    load_expect(f, "B");
    free(main);
}

/* Like swtpm_setup --overwrite --keyfile: an encrypted main file beside
 * an older plain .bak. */
static void
test_journal_key_failure_never_selects_another_generation(void **state)
{
    struct fixture *f = *state;
    struct state_store other = { 0 };
    const struct state_key other_key = {
        { 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1 }, 16
    };
    uint32_t rc = 0;

    make_generations(f);
    assert_int_equal(unlink(path_in(f, "tpm2-00.permall.journal")), 0);
    assert_int_equal(state_open(&other, f->dir, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    other.defer_sync = true;
    other.filekey = KEY128;
    assert_int_equal(state_save(&other, "permall",
                                (const uint8_t *)"NEW", 3, &rc), 0);
    state_close(&other);
    expect_refused(f, "is encrypted and no --key was given");
    f->st.filekey = other_key;
    expect_refused(f, "does not decrypt with the given --key");
    f->st.filekey = KEY128;
    load_expect(f, "NEW");
}

/* Damage a journal, then the newest intact slot must still load, the
 * damage be logged, and the next write survive a crash. */
static void
journal_damage(struct fixture *f, off_t new_size, const char *expect,
               const char *logged)
{
    int fd;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(save(f, "C"), 0);
    assert_int_equal(save(f, "D"), 0);
    crash_and_restart(f);
    fd = open(path_in(f, "tpm2-00.permall.journal"), O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, new_size), 0);
    close(fd);
    load_expect(f, expect);
    assert_true(log_has(f, logged));
    assert_int_equal(save(f, "E"), 0);
    crash_and_restart(f);
    load_expect(f, "E");
}

#define JSIZE (2 * (JOURNAL_HDR_LEN + JOURNAL_MIN_CAP))

static void
test_journal_cut_by_one_byte(void **state)
{
    /* D is in slot 1, which ends with zeros: its bytes are all there. */
    journal_damage(*state, JSIZE - 1, "D", "fits no journal");
}

static void
test_journal_grown_by_one_byte(void **state)
{
    journal_damage(*state, JSIZE + 1, "D", "fits no journal");
}

static void
test_journal_huge_sparse(void **state)
{
    journal_damage(*state, (off_t)8 << 30, "D", "fits no journal");
}

static void
test_journal_cut_into_newest_slot(void **state)
{
    /* Slot 1 (D) cut inside its payload: C in slot 0 is the newest. */
    journal_damage(*state, JOURNAL_HDR_LEN + JOURNAL_MIN_CAP +
                   JOURNAL_HDR_LEN + 4, "C", "slot B is incomplete");
}

static void
test_journal_empty_file(void **state)
{
    /* No slot left: the main file (A) is what remains, and it says so. */
    journal_damage(*state, 0, "A", "has 0 bytes");
}

static void
test_journal_both_slots_bad_logged(void **state)
{
    struct fixture *f = *state;
    int fd;
    uint8_t b;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(save(f, "C"), 0);
    crash_and_restart(f);
    fd = open(path_in(f, "tpm2-00.permall.journal"), O_RDWR);
    for (int i = 0; i < 2; i++) {
        off_t off = i * (JOURNAL_HDR_LEN + JOURNAL_MIN_CAP) + 60;

        assert_int_equal(pread(fd, &b, 1, off), 1);
        b ^= 0x40;
        assert_int_equal(__real_pwrite(fd, &b, 1, off), 1);
    }
    close(fd);
    load_expect(f, "A");
    assert_true(log_has(f, "slot A is incomplete or damaged"));
    assert_true(log_has(f, "slot B is incomplete or damaged"));
}

/* A crafted slot with sequence 2^64-1: the next write must not be 0. */
static void
test_journal_max_sequence(void **state)
{
    struct fixture *f = *state;
    size_t slot = JOURNAL_HDR_LEN + JOURNAL_MIN_CAP;
    uint8_t *buf = calloc(2, slot);
    uint8_t main[64], base[CRYPTO_SHA256_LEN];
    const uint8_t obj[] = { 2, 1, 0, 10, 0, 0, 0, 0, 0, 17,
                            0, 1, 0, 0, 0, 1, 'M' };
    int fd;
    ssize_t n;

    assert_int_equal(save(f, "A"), 0);
    crash_and_restart(f);
    fd = open(path_in(f, "tpm2-00.permall"), O_RDONLY);
    n = read(fd, main, sizeof(main));
    close(fd);
    assert_int_equal(crypto_sha256(main, (size_t)n, base), 0);
    assert_int_equal(journal_encode_slot(UINT64_MAX, JOURNAL_MIN_CAP, base,
                                         obj, sizeof(obj), buf + slot), 0);
    fd = open(path_in(f, "tpm2-00.permall.journal"),
              O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_int_equal(write(fd, buf, 2 * slot), (ssize_t)(2 * slot));
    close(fd);
    free(buf);
    load_expect(f, "M");
    assert_int_equal(save(f, "next"), 0);
    crash_and_restart(f);
    load_expect(f, "next");
    assert_int_equal(save(f, "after"), 0);
    crash_and_restart(f);
    load_expect(f, "after");
}

/* Fold the journal into the main file and start the next write afresh,
 * so that it creates a new journal through the temporary name. */
static void
no_journal(struct fixture *f, const char *jnl)
{
    assert_int_equal(state_checkpoint(&f->st), 0);
    assert_int_equal(unlink(jnl), 0);
    crash_and_restart(f);
}

static void
on_alarm(int sig)
{
    (void)sig;
    fail_msg("a write blocked on the FIFO at the journal's temp name");
}

/* What sits at TMP2-00.permall.journal must not block or break writes. */
static void
test_journal_tmp_name_obstacles(void **state)
{
    struct fixture *f = *state;
    char *tmp = strdup(path_in(f, "TMP2-00.permall.journal"));
    char *jnl = strdup(path_in(f, "tpm2-00.permall.journal"));
    struct stat sb;
    int fd;

    signal(SIGALRM, on_alarm);
    alarm(10);
    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(mkfifo(tmp, 0600), 0);
    assert_int_equal(save(f, "B"), 0);          /* creates the journal */
    alarm(0);
    /* A symlink there is removed, its target left alone. */
    fd = open(path_in(f, "target"), O_WRONLY | O_CREAT, 0600);
    close(fd);
    no_journal(f, jnl);
    assert_int_equal(symlink("target", tmp), 0);
    assert_int_equal(save(f, "C"), 0);
    assert_int_equal(stat(path_in(f, "target"), &sb), 0);
    assert_int_equal(sb.st_size, 0);
    /* An empty directory goes, one with entries stays and says so. */
    no_journal(f, jnl);
    assert_int_equal(mkdir(tmp, 0700), 0);
    assert_int_equal(save(f, "D"), 0);
    no_journal(f, jnl);
    assert_int_equal(mkdir(tmp, 0700), 0);
    fd = open(path_in(f, "TMP2-00.permall.journal/x"), O_WRONLY | O_CREAT,
              0600);
    close(fd);
    f->st.why = NULL;
    assert_true(save(f, "E") < 0);
    assert_non_null(f->st.why);
    assert_non_null(strstr(f->st.why, "TMP2-00.permall.journal"));
    crash_and_restart(f);
    load_expect(f, "D");
    assert_int_equal(access(path_in(f, "TMP2-00.permall.journal/x"), F_OK),
                     0);
    free(tmp);
    free(jnl);
}

/* A FIFO, symlink or directory at the journal's own name. */
static void
test_journal_own_name_obstacles(void **state)
{
    struct fixture *f = *state;
    char *jnl = strdup(path_in(f, "tpm2-00.permall.journal"));
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_int_equal(save(f, "A"), 0);
    crash_and_restart(f);
    for (int i = 0; i < 3; i++) {
        if (i == 0) {
            assert_int_equal(mkfifo(jnl, 0600), 0);
        } else if (i == 1) {
            assert_int_equal(symlink("tpm2-00.permall", jnl), 0);
        } else {
            assert_int_equal(mkdir(jnl, 0700), 0);
        }
        signal(SIGALRM, on_alarm);
        alarm(10);
        assert_true(state_load(&f->st, "permall", &raw, &len, &rc) < 0);
        alarm(0);
        assert_non_null(f->st.why);
        if (!strstr(f->st.why, "tpm2-00.permall.journal'")) {
            fail_msg("why: %s", f->st.why);
        }
        assert_int_equal(remove(jnl), 0);
    }
    load_expect(f, "A");
    free(jnl);
}

static void
test_journal_delete_removes_journal(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(state_delete(&f->st, "permall", true), 0);
    assert_int_equal(access(path_in(f, "tpm2-00.permall.journal"), F_OK),
                     -1);
    assert_int_equal(save(f, "C"), 0);
    crash_and_restart(f);
    load_expect(f, "C");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_journal_one_flush_per_write),
        T(test_journal_torn_slot_write),
        T(test_journal_flush_fails),
        T(test_journal_crash_before_checkpoint_rename),
        T(test_journal_crash_after_checkpoint),
        T(test_journal_main_repeats_old_content),
        T(test_journal_grow_crash),
        T(test_journal_stale_after_upstream_write),
        T(test_journal_without_main),
        T(test_journal_encrypted),
        T(test_journal_bad_slots_ignored),
        T(test_journal_damaged_main_loads_newest_slot),
        T(test_journal_damaged_main_falls_back),
        T(test_journal_damaged_main_newer_slot_refused),
        T(test_journal_damaged_main_sidecar_loads_newer_slot),
        T(test_journal_flipped_byte_each_place),
        T(test_journal_sidecar_any_flipped_byte_unverified),
        T(test_journal_flipped_main_kept_after_write_and_cut),
        T(test_journal_flipped_encrypted_main_is_damage),
        T(test_journal_damaged_sidecar_ignored),
        T(test_journal_unreadable_main_refused),
        T(test_journal_key_failure_never_selects_another_generation),
        T(test_journal_cut_by_one_byte),
        T(test_journal_grown_by_one_byte),
        T(test_journal_huge_sparse),
        T(test_journal_cut_into_newest_slot),
        T(test_journal_empty_file),
        T(test_journal_both_slots_bad_logged),
        T(test_journal_max_sequence),
        T(test_journal_tmp_name_obstacles),
        T(test_journal_own_name_obstacles),
        T(test_journal_delete_removes_journal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
