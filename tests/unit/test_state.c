// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for state.c: file names, atomic writes and their failure
 * paths (fsync, rename and write are wrapped, see test_state.ldflags),
 * permissions, and the .lock file lock across stores, fork() and
 * upstream-style classic record locks.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrl_wire.h"
#include "state.h"
#include "state_dir.h"      /* the store's internals, tested */
#include "stateobj.h"
#include "unit_util.h"

/* Fault injection for the syscalls of the write path. */
int __wrap_fsync(int fd);
int __real_fsync(int fd);
int __wrap_renameat(int ofd, const char *o, int nfd, const char *n);
int __real_renameat(int ofd, const char *o, int nfd, const char *n);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
ssize_t __real_write(int fd, const void *buf, size_t len);

static int fail_fsync;          /* errno to fail with, 0 = pass */
static int fail_rename;
static int fail_write;
static int write_trickle;       /* 1 byte per call, EINTR every other */

int
__wrap_fsync(int fd)
{
    if (fail_fsync) {
        errno = fail_fsync;
        return -1;
    }
    return __real_fsync(fd);
}

int
__wrap_renameat(int ofd, const char *o, int nfd, const char *n)
{
    if (fail_rename) {
        errno = fail_rename;
        return -1;
    }
    return __real_renameat(ofd, o, nfd, n);
}

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
    static int calls;

    if (fail_write) {
        errno = fail_write;
        return -1;
    }
    if (write_trickle && len > 0) {
        if (calls++ % 2 == 0) {
            errno = EINTR;
            return -1;
        }
        return __real_write(fd, buf, 1);
    }
    return __real_write(fd, buf, len);
}

static const struct state_key KEY128 = {
    { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 }, 16
};

struct fixture {
    char dir[64];
    char err[512];
    struct state_store st;
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_state.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(state_open(&f->st, f->dir, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    fail_fsync = fail_rename = fail_write = write_trickle = 0;
    state_close(&f->st);
    unit_rm_tree(f->dir);
    free(f);
    return 0;
}

static char *
path_in(const struct fixture *f, const char *name)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "%s/%s", f->dir, name);
    return buf;
}

static bool
exists(const struct fixture *f, const char *name)
{
    struct stat sb;

    return lstat(path_in(f, name), &sb) == 0;
}

static mode_t
file_mode(const struct fixture *f, const char *name)
{
    struct stat sb;

    assert_int_equal(stat(path_in(f, name), &sb), 0);
    return sb.st_mode & 07777;
}

static void
save_ok(struct fixture *f, const char *name, const char *data)
{
    uint32_t rc = 0;

    assert_int_equal(state_save(&f->st, name, (const uint8_t *)data,
                                (uint32_t)strlen(data), &rc), 0);
}

static void
load_expect(struct fixture *f, const char *name, const char *data)
{
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_int_equal(state_load(&f->st, name, &raw, &len, &rc), 0);
    assert_int_equal(len, strlen(data));
    assert_memory_equal(raw, data, len);
    free(raw);
}

static void
test_state_open_missing(void **state)
{
    struct state_store st;
    char err[512];

    assert_int_equal(state_open(&st, "/nonexistent/x", true, 0640, false,
                                false, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, "'/nonexistent/x'"));
    assert_non_null(strstr(err, "create it"));
    assert_int_equal(st.dir_fd, -1);
    state_close(&st);
}

static void
test_state_open_create(void **state)
{
    struct fixture *f = *state;
    struct state_store st;
    mode_t old = umask(0);

    assert_int_equal(state_open(&st, path_in(f, "sub"), true, 0640, false,
                                true, f->err, sizeof(f->err)), 0);
    umask(old);
    assert_int_equal(file_mode(f, "sub"), 0775);
    state_close(&st);
    /* An existing directory is fine with create. */
    assert_int_equal(state_open(&st, path_in(f, "sub"), true, 0640, false,
                                true, f->err, sizeof(f->err)), 0);
    state_close(&st);
}

/* What a front end holds: a store from state_new(), closed until opened,
 * that can be opened again after state_close(). */
static void
test_state_new_free(void **state)
{
    struct fixture *f = *state;
    const uint8_t data[] = { 7, 8, 9 };
    struct state_store *st = state_new();
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_non_null(st);
    assert_int_equal(state_fd(st), -1);
    assert_false(state_is_locked(st));
    assert_int_equal(state_filekey(st)->len, 0);
    state_free(st);             /* never opened: nothing to close */
    assert_true(fcntl(0, F_GETFD) >= 0);
    state_free(NULL);

    st = state_new();
    assert_non_null(st);
    assert_int_equal(state_open(st, f->dir, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    assert_true(state_fd(st) >= 0);
    assert_int_equal(state_save(st, "savestate", data, sizeof(data), &rc),
                     0);
    state_close(st);
    assert_int_equal(state_fd(st), -1);
    assert_int_equal(state_open(st, f->dir, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    assert_int_equal(state_load(st, "savestate", &raw, &len, &rc), 0);
    assert_int_equal(len, sizeof(data));
    assert_memory_equal(raw, data, len);
    free(raw);
    state_free(st);
}

static void
test_state_open_too_long(void **state)
{
    struct state_store st;
    char err[512], *p = malloc(4200);
    size_t i;

    for (i = 0; i < 4199; i++) {
        p[i] = i % 8 == 0 ? '/' : 'a';      /* short components */
    }
    p[4199] = '\0';
    assert_int_equal(state_open(&st, p, true, 0640, false, false, err,
                                sizeof(err)), -ENAMETOOLONG);
    p[4096 - 20] = '\0';
    assert_int_equal(state_open(&st, p, true, 0640, false, false, err,
                                sizeof(err)), -ENOENT);
    free(p);
}

static void
test_state_open_not_dir(void **state)
{
    struct fixture *f = *state;
    struct state_store st;
    int fd = open(path_in(f, "file"), O_WRONLY | O_CREAT, 0600);

    close(fd);
    assert_int_equal(state_open(&st, path_in(f, "file"), true, 0640, false,
                                false, f->err, sizeof(f->err)), -ENOTDIR);
    assert_non_null(strstr(f->err, "file'"));
}

static void
test_state_save_roundtrip(void **state)
{
    struct fixture *f = *state;

    save_ok(f, "permall", "hello");
    assert_true(exists(f, "tpm2-00.permall"));
    assert_false(exists(f, "TMP2-00.permall"));
    assert_int_equal(state_size(&f->st, "permall"), 10 + 6 + 5);
    load_expect(f, "permall", "hello");
    save_ok(f, "permall", "second");
    load_expect(f, "permall", "second");

    f->st.filekey = KEY128;
    save_ok(f, "volatilestate", "secret");
    load_expect(f, "volatilestate", "secret");
    /* Encrypted: [2 (16), 3 (32), 6 (16)]. */
    assert_int_equal(state_size(&f->st, "volatilestate"),
                     10 + 6 + 16 + 6 + 32 + 6 + 16);
    /* The unencrypted permall cannot be read with a key (docs/state.md
     * §3.3). */
    {
        uint8_t *raw = NULL;
        uint32_t len = 0, rc = 0;

        assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc),
                         -EBADMSG);
        assert_int_equal(rc, TPM_FAIL);
    }
    /* A garbage key length never reaches the crypto. */
    f->st.filekey.len = 7;
    {
        uint32_t rc = 0;

        assert_int_equal(state_save(&f->st, "permall", (const uint8_t *)"x",
                                    1, &rc), -EINVAL);
        assert_int_equal(rc, TPM_FAIL);
    }
}

static void
test_state_save_tpm12_names(void **state)
{
    struct fixture *f = *state;
    uint32_t rc = 0;

    state_set_tpm2(&f->st, false);
    save_ok(f, "savestate", "12");
    assert_true(exists(f, "tpm-00.savestate"));
    assert_false(exists(f, "tpm2-00.savestate"));
    load_expect(f, "savestate", "12");
    assert_int_equal(state_save(&f->st, "../x", (const uint8_t *)"x", 1,
                                &rc), -EINVAL);
    assert_int_equal(state_save(&f->st, "", (const uint8_t *)"x", 1, &rc),
                     -EINVAL);
}

static void
test_state_load_missing(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc),
                     -ENOENT);
    assert_int_equal(rc, TPM_RETRY);
    assert_int_equal(state_size(&f->st, "permall"), -ENOENT);
}

static void
test_state_load_symlink(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    save_ok(f, "volatilestate", "x");
    assert_int_equal(symlink("tpm2-00.volatilestate",
                             path_in(f, "tpm2-00.permall")), 0);
    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc),
                     -ELOOP);
    assert_int_equal(rc, TPM_FAIL);
    assert_int_equal(state_size(&f->st, "permall"), -EINVAL);
}

static void
test_state_load_not_regular(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_int_equal(mkdir(path_in(f, "tpm2-00.permall"), 0700), 0);
    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc),
                     -EINVAL);
    assert_int_equal(rc, TPM_FAIL);
}

static void
test_state_load_too_large(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;
    int fd;

    fd = open(path_in(f, "tpm2-00.permall"), O_WRONLY | O_CREAT, 0600);
    assert_int_equal(ftruncate(fd, (off_t)STATEOBJ_MAX_LEN + 1), 0);
    close(fd);
    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc),
                     -EFBIG);
    assert_int_equal(rc, TPM_FAIL);
}

static void
test_state_load_bad_object(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;
    int fd;

    fd = open(path_in(f, "tpm2-00.permall"), O_WRONLY | O_CREAT, 0600);
    assert_int_equal(write(fd, "short", 5), 5);
    close(fd);
    assert_true(state_load(&f->st, "permall", &raw, &len, &rc) < 0);
    assert_int_equal(rc, TPM_BAD_PARAMETER);
}

/* docs/state.md §7.2: explicit mode re-applied, else owner-write added. */
static void
test_state_load_fix_mode(void **state)
{
    struct fixture *f = *state;

    save_ok(f, "permall", "m");
    assert_int_equal(chmod(path_in(f, "tpm2-00.permall"), 0444), 0);
    load_expect(f, "permall", "m");
    assert_int_equal(file_mode(f, "tpm2-00.permall"), 0644);

    f->st.mode = 0600;
    f->st.mode_explicit = true;
    load_expect(f, "permall", "m");
    assert_int_equal(file_mode(f, "tpm2-00.permall"), 0600);
}

static void
test_state_save_modes(void **state)
{
    struct fixture *f = *state;
    mode_t old = umask(077);

    save_ok(f, "volatilestate", "a");
    assert_int_equal(file_mode(f, "tpm2-00.volatilestate"), 0600);
    umask(027);
    save_ok(f, "volatilestate", "a");
    assert_int_equal(file_mode(f, "tpm2-00.volatilestate"), 0640);
    umask(077);
    f->st.mode = 0604;
    f->st.mode_explicit = true;
    save_ok(f, "volatilestate", "a");
    assert_int_equal(file_mode(f, "tpm2-00.volatilestate"), 0604);
    umask(old);
}

/* permall: the journal and each checkpointed main file get the mode. */
static void
test_state_save_modes_journaled(void **state)
{
    struct fixture *f = *state;
    mode_t old = umask(077);

    save_ok(f, "permall", "a");
    assert_int_equal(file_mode(f, "tpm2-00.permall"), 0600);
    umask(027);
    save_ok(f, "permall", "b");
    assert_int_equal(file_mode(f, "tpm2-00.permall.journal"), 0640);
    assert_int_equal(state_checkpoint(&f->st), 0);
    assert_int_equal(file_mode(f, "tpm2-00.permall"), 0640);
    umask(077);
    f->st.mode = 0604;
    f->st.mode_explicit = true;
    save_ok(f, "permall", "c");
    assert_int_equal(state_checkpoint(&f->st), 0);
    assert_int_equal(file_mode(f, "tpm2-00.permall"), 0604);
    load_expect(f, "permall", "c");
    umask(old);
}

static void
expect_save_fails(struct fixture *f, int *knob, int err)
{
    uint32_t rc = 0;

    save_ok(f, "permall", "old");
    *knob = err;
    assert_int_equal(state_save(&f->st, "permall", (const uint8_t *)"new", 3,
                                &rc), -err);
    *knob = 0;
    assert_int_equal(rc, TPM_FAIL);
    assert_false(exists(f, "TMP2-00.permall"));
    load_expect(f, "permall", "old");
}

/* defer_sync: writes make no fsync; state_sync flushes files and dir. */
static void
test_state_save_defer_sync(void **state)
{
    struct fixture *f = *state;
    static const uint8_t raw[] = "scratch state";
    uint8_t *out = NULL;
    uint32_t len = 0, rc = 0;

    f->st.defer_sync = true;
    fail_fsync = EIO;       /* any fsync would fail the save */
    assert_int_equal(state_save(&f->st, "permall", raw, sizeof(raw), &rc),
                     0);
    assert_int_equal(state_sync(&f->st), -EIO);
    fail_fsync = 0;
    assert_int_equal(state_sync(&f->st), 0);
    assert_int_equal(state_load(&f->st, "permall", &out, &len, &rc), 0);
    assert_memory_equal(out, raw, sizeof(raw));
    free(out);
    /* a fresh open never defers */
    state_close(&f->st);
    assert_int_equal(state_open(&f->st, f->dir, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    assert_false(f->st.defer_sync);
}

static void
test_state_save_fsync_failure(void **state)
{
    expect_save_fails(*state, &fail_fsync, EIO);
}

static void
test_state_save_rename_failure(void **state)
{
    expect_save_fails(*state, &fail_rename, EXDEV);
}

static void
test_state_save_write_failure(void **state)
{
    expect_save_fails(*state, &fail_write, ENOSPC);
}

static void
test_state_save_short_writes(void **state)
{
    struct fixture *f = *state;

    write_trickle = 1;
    save_ok(f, "permall", "written one byte at a time");
    write_trickle = 0;
    load_expect(f, "permall", "written one byte at a time");
}

/* A planted temp symlink is not followed; the target stays untouched. */
static void
test_state_save_tmp_symlink(void **state)
{
    struct fixture *f = *state;
    uint32_t rc = 0;

    save_ok(f, "volatilestate", "victim");
    assert_int_equal(symlink("tpm2-00.volatilestate",
                             path_in(f, "TMP2-00.permall")), 0);
    /* The link is removed, not followed: the save goes to a new file. */
    assert_int_equal(state_save(&f->st, "permall", (const uint8_t *)"x", 1,
                                &rc), 0);
    load_expect(f, "permall", "x");
    load_expect(f, "volatilestate", "victim");
    assert_false(exists(f, "TMP2-00.permall"));
}

/* A FIFO under a state name must not block open() (it would hang the
 * daemon and its control channel for good). */
static void
test_state_load_fifo(void **state)
{
    struct fixture *f = *state;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;

    assert_int_equal(mkfifo(path_in(f, "tpm2-00.permall"), 0600), 0);
    assert_int_equal(state_load(&f->st, "permall", &raw, &len, &rc),
                     -EINVAL);
    assert_int_equal(rc, TPM_FAIL);
    assert_int_equal(mkfifo(path_in(f, "tpm2-00.volatilestate"), 0600), 0);
    assert_int_equal(state_load(&f->st, "volatilestate", &raw, &len, &rc),
                     -EINVAL);
    assert_int_equal(state_sync(&f->st), -EINVAL);   /* and no hang */
}

static void
test_state_save_tmp_fifo(void **state)
{
    struct fixture *f = *state;
    struct stat sb;

    assert_int_equal(mkfifo(path_in(f, "TMP2-00.permall"), 0600), 0);
    save_ok(f, "permall", "data");
    load_expect(f, "permall", "data");
    assert_int_equal(lstat(path_in(f, "tpm2-00.permall"), &sb), 0);
    assert_true(S_ISREG(sb.st_mode));
}

static void
test_state_delete_cases(void **state)
{
    struct fixture *f = *state;

    save_ok(f, "volatilestate", "v");
    assert_int_equal(state_delete(&f->st, "volatilestate", true), 0);
    assert_false(exists(f, "tpm2-00.volatilestate"));
    assert_int_equal(state_delete(&f->st, "volatilestate", false), 0);
    assert_int_equal(state_delete(&f->st, "volatilestate", true), -ENOENT);
    assert_int_equal(state_delete(&f->st, "a/b", false), -EINVAL);
}

static long
read_pid_file(const struct fixture *f)
{
    char buf[32] = { 0 };
    int fd = open(path_in(f, ".lock"), O_RDONLY);

    assert_true(fd >= 0);
    assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
    close(fd);
    return strtol(buf, NULL, 10);
}

static void
test_state_lock_basic(void **state)
{
    struct fixture *f = *state;
    pid_t holder = -1;

    assert_false(state_is_locked(&f->st));
    assert_int_equal(state_lock(&f->st, &holder), 0);
    assert_true(state_is_locked(&f->st));
    assert_int_equal(read_pid_file(f), getpid());
    assert_int_equal(file_mode(f, ".lock") & ~0660, 0);
    assert_int_equal(state_lock(&f->st, &holder), 0);
    state_unlock(&f->st);
    assert_false(state_is_locked(&f->st));
    state_unlock(&f->st);
}

/* A second store in the same process conflicts (OFD, not per-process). */
static void
test_state_lock_second_store(void **state)
{
    struct fixture *f = *state;
    struct state_store st2;
    pid_t holder = -1;

    assert_int_equal(state_lock(&f->st, &holder), 0);
    assert_int_equal(state_open(&st2, f->dir, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    assert_int_equal(state_lock(&st2, &holder), -EAGAIN);
    assert_int_equal(holder, getpid());
    assert_false(state_is_locked(&st2));
    /* The failed attempt did not truncate the holder's pid. */
    assert_int_equal(read_pid_file(f), getpid());
    state_unlock(&f->st);
    assert_int_equal(state_lock(&st2, &holder), 0);
    state_close(&st2);
}

static int
try_ofd_lock(const struct fixture *f)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    int fd = open(path_in(f, ".lock"), O_RDWR), r;

    assert_true(fd >= 0);
    r = fcntl(fd, F_OFD_SETLK, &fl);
    close(fd);
    return r;
}

/* The child inherits the open file description and keeps the lock. */
static void
test_state_lock_survives_fork(void **state)
{
    struct fixture *f = *state;
    pid_t holder = 0, child;
    int pfd[2], status;
    char c;

    assert_int_equal(state_lock(&f->st, &holder), 0);
    assert_int_equal(pipe(pfd), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(pfd[1]);
        /* Wait until the parent closes its end. */
        while (read(pfd[0], &c, 1) < 0 && errno == EINTR) {
        }
        _exit(0);
    }
    close(pfd[0]);
    alarm(10);
    state_unlock(&f->st);
    assert_int_equal(try_ofd_lock(f), -1);
    assert_true(errno == EAGAIN || errno == EACCES);
    close(pfd[1]);
    assert_int_equal(waitpid(child, &status, 0), child);
    alarm(0);
    assert_int_equal(try_ofd_lock(f), 0);
}

/* Upstream swtpm holds a classic F_SETLK lock: we see it and its pid. */
static void
test_state_lock_upstream_holder(void **state)
{
    struct fixture *f = *state;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    pid_t holder = 0, child;
    int ready[2], done[2], status, fd;
    char c = 0;

    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(done), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(ready[0]);
        close(done[1]);
        fd = open(path_in(f, ".lock"),
                  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW, 0660);
        if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0) {
            _exit(1);
        }
        if (write(ready[1], "r", 1) != 1) {
            _exit(1);
        }
        while (read(done[0], &c, 1) < 0 && errno == EINTR) {
        }
        _exit(0);
    }
    close(ready[1]);
    close(done[0]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    /* Whatever fails below, the child must not outlive the test. */
    alarm(10);
    assert_int_equal(state_lock(&f->st, &holder), -EAGAIN);
    assert_int_equal(holder, child);
    close(done[1]);
    close(ready[0]);
    assert_int_equal(waitpid(child, &status, 0), child);
    alarm(0);
    assert_int_equal(state_lock(&f->st, &holder), 0);
}

/* The lock is taken once the holder goes away within the retries. */
static void
test_state_lock_retry(void **state)
{
    struct fixture *f = *state;
    struct state_store st2;
    pid_t holder = 0, child;
    int status, r, i;

    assert_int_equal(state_lock(&f->st, &holder), 0);
    child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        usleep(50 * 1000);
        _exit(0);
    }
    /* Only the child will hold the lock, for about 50 ms: each attempt
     * fails at once until it is gone, as tpm_ensure_locked() retries. */
    state_unlock(&f->st);
    assert_int_equal(state_open(&st2, f->dir, true, 0640, false, false,
                                f->err, sizeof(f->err)), 0);
    for (i = 0; i < 1000; i++) {
        r = state_lock(&st2, &holder);
        if (r != -EAGAIN) {
            break;
        }
        usleep(10 * 1000);
    }
    assert_int_equal(r, 0);
    assert_int_equal(waitpid(child, &status, 0), child);
    state_close(&st2);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_open_missing),
        T(test_state_open_create),
        T(test_state_new_free),
        cmocka_unit_test(test_state_open_too_long),
        T(test_state_open_not_dir),
        T(test_state_save_roundtrip),
        T(test_state_save_tpm12_names),
        T(test_state_load_missing),
        T(test_state_load_symlink),
        T(test_state_load_not_regular),
        T(test_state_load_too_large),
        T(test_state_load_bad_object),
        T(test_state_load_fix_mode),
        T(test_state_save_modes),
        T(test_state_save_modes_journaled),
        T(test_state_save_defer_sync),
        T(test_state_save_fsync_failure),
        T(test_state_save_rename_failure),
        T(test_state_save_write_failure),
        T(test_state_save_short_writes),
        T(test_state_save_tmp_symlink),
        T(test_state_load_fifo),
        T(test_state_save_tmp_fifo),
        T(test_state_delete_cases),
        T(test_state_lock_basic),
        T(test_state_lock_second_store),
        T(test_state_lock_survives_fork),
        T(test_state_lock_upstream_holder),
        T(test_state_lock_retry),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
