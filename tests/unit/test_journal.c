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
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrl_wire.h"
#include "journal.h"
#include "state.h"
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
    free(f->st.jnl.pending);
    f->st.jnl.pending = NULL;
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

static void
test_journal_damaged_main_falls_back(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;
    int fd;

    assert_int_equal(save(f, "A"), 0);
    assert_int_equal(save(f, "B"), 0);
    assert_int_equal(state_checkpoint(&f->st), 0);  /* .bak = A */
    crash_and_restart(f);
    fd = open(path_in(f, "tpm2-00.permall"), O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "junk", 4), 4);
    close(fd);
    load_expect(f, "A");
    /* Nothing was deleted or replaced by the fallback. */
    assert_int_equal(access(path_in(f, "tpm2-00.permall.bak"), F_OK), 0);
    /* Without a good previous generation the original error stands. */
    assert_int_equal(unlink(path_in(f, "tpm2-00.permall.bak")), 0);
    assert_true(state_load(&f->st, "permall", &raw, &len, &rc) < 0);
    assert_int_equal(rc, TPM_BAD_PARAMETER);
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
        T(test_journal_damaged_main_falls_back),
        T(test_journal_delete_removes_journal),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
