// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for state_replace.c (docs/state.md §7.5): a child process
 * runs state_replace_from() and dies (_exit, as a SIGKILL would leave it)
 * at the entry of its Nth rename, link, unlink or flush (the calls are
 * wrapped, see test_state_replace.ldflags), for every N; the next lock
 * holder then finds the old TPM with all its generations or the new one
 * alone.
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "state.h"
#include "state_dir.h"      /* the store's internals, tested */
#include "unit_util.h"

int __wrap_renameat(int ofd, const char *o, int nfd, const char *n);
int __real_renameat(int ofd, const char *o, int nfd, const char *n);
int __wrap_linkat(int ofd, const char *o, int nfd, const char *n, int fl);
int __real_linkat(int ofd, const char *o, int nfd, const char *n, int fl);
int __wrap_unlinkat(int fd, const char *name, int fl);
int __real_unlinkat(int fd, const char *name, int fl);
int __wrap_fsync(int fd);
int __real_fsync(int fd);

static unsigned int crash_at;   /* 0: never */
static unsigned int calls;

static void
maybe_crash(void)
{
    if (crash_at && ++calls == crash_at) {
        _exit(1);
    }
}

int
__wrap_renameat(int ofd, const char *o, int nfd, const char *n)
{
    maybe_crash();
    return __real_renameat(ofd, o, nfd, n);
}

int
__wrap_linkat(int ofd, const char *o, int nfd, const char *n, int fl)
{
    maybe_crash();
    return __real_linkat(ofd, o, nfd, n, fl);
}

int
__wrap_unlinkat(int fd, const char *name, int fl)
{
    maybe_crash();
    return __real_unlinkat(fd, name, fl);
}

int
__wrap_fsync(int fd)
{
    maybe_crash();
    return __real_fsync(fd);
}

struct dirs {
    char old[64];       /* the state directory */
    char scratch[96];   /* the new TPM, inside it as swtpm_setup's is */
};

static void
open_store(struct state_store *st, const char *dir)
{
    char err[512];

    assert_int_equal(state_open(st, dir, true, 0640, false, false, err,
                                sizeof(err)), 0);
}

static void
save(struct state_store *st, const char *name, const char *data)
{
    uint32_t rc = 0;

    assert_int_equal(state_save(st, name, (const uint8_t *)data,
                                (uint32_t)strlen(data), &rc), 0);
}

static bool
has(const struct dirs *d, const char *name)
{
    char p[160];
    struct stat sb;

    snprintf(p, sizeof(p), "%s/%s", d->old, name);
    return lstat(p, &sb) == 0;
}

/* The old TPM: main "C", .bak "B", journal and sidecar; and the new one,
 * "NEW" with a volatile state, built in the scratch directory. */
static void
make_dirs(struct dirs *d)
{
    struct state_store st;
    pid_t holder = 0;

    snprintf(d->old, sizeof(d->old), "/tmp/test_state_replace.XXXXXX");
    assert_non_null(mkdtemp(d->old));
    open_store(&st, d->old);
    assert_int_equal(state_lock(&st, &holder), 0);
    save(&st, "permall", "A");
    save(&st, "permall", "B");
    assert_int_equal(state_checkpoint(&st), 0);
    save(&st, "permall", "C");
    state_close(&st);       /* the checkpoint: main C, .bak B */
    assert_true(has(d, "tpm2-00.permall.bak"));
    assert_true(has(d, "tpm2-00.permall.journal"));
    assert_true(has(d, "tpm2-00.permall.sum"));
    snprintf(d->scratch, sizeof(d->scratch), "%s/.swtpm_setup.XXXXXX",
             d->old);
    assert_non_null(mkdtemp(d->scratch));
    open_store(&st, d->scratch);
    state_set_scratch(&st);
    save(&st, "permall", "NEW");
    save(&st, "volatilestate", "NV");
    assert_int_equal(state_sync(&st), 0);
    state_close(&st);
}

/* Run the swap in a child that dies at call n: did it finish? */
static bool
swap_crashing_at(const struct dirs *d, unsigned int n)
{
    struct state_store real, from;
    pid_t holder = 0, pid;
    int status;

    open_store(&real, d->old);
    assert_int_equal(state_lock(&real, &holder), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        open_store(&from, d->scratch);
        state_set_scratch(&from);
        crash_at = n;
        _exit(state_replace_from(&real, &from) == 0 ? 0 : 2);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_not_equal(WEXITSTATUS(status), 2);
    state_close(&real);
    return WEXITSTATUS(status) == 0;
}

static char *
load(struct state_store *st, const char *name)
{
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;
    char *s;

    if (state_load(st, name, &raw, &len, &rc) < 0) {
        return NULL;
    }
    s = calloc(1, len + 1);
    assert_non_null(s);
    memcpy(s, raw, len);
    free(raw);
    return s;
}

/* How often the log, written to fd since the start, says what. */
static int
log_count(int fd, const char *what)
{
    char buf[8192] = "", *p = buf;
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    int count = 0;

    assert_true(n >= 0);
    while ((p = strstr(p, what)) != NULL) {
        count++;
        p += strlen(what);
    }
    return count;
}

/*
 * After the next lock: exactly the old TPM or the new; true for new.  The
 * lock holder says once that it finished a committed swap (finished: the
 * child did it all).
 */
static bool
check_one_tpm(const struct dirs *d, bool finished)
{
    struct state_store st;
    pid_t holder = 0;
    char *main, *vol;
    bool is_new;
    int log_fd = open("/tmp", O_RDWR | O_TMPFILE, 0600);

    bool committed = has(d, "NEW2-00.commit");

    assert_true(log_fd >= 0);
    assert_false(finished && committed);
    log_set_fd(log_fd);
    open_store(&st, d->old);
    assert_int_equal(state_lock(&st, &holder), 0);
    assert_int_equal(log_count(log_fd, "completed the replacement"),
                     committed ? 1 : 0);
    main = load(&st, "permall");
    vol = load(&st, "volatilestate");
    assert_non_null(main);
    is_new = strcmp(main, "NEW") == 0;
    assert_true(is_new || !committed);
    if (is_new) {
        assert_string_equal(vol, "NV");
        assert_false(has(d, "tpm2-00.permall.bak"));
        assert_false(has(d, "tpm2-00.permall.journal"));
        assert_true(has(d, "tpm2-00.permall.sum"));
    } else {
        assert_string_equal(main, "C");
        assert_null(vol);
        assert_true(has(d, "tpm2-00.permall.bak"));
        assert_true(has(d, "tpm2-00.permall.journal"));
    }
    assert_false(has(d, "NEW2-00.commit"));
    assert_false(has(d, "NEW2-00.permall"));
    free(main);
    free(vol);
    state_close(&st);
    log_set_fd(2);
    close(log_fd);
    return is_new;
}

static void
test_state_replace_crash_at_every_call(void **state)
{
    unsigned int olds = 0, news = 0, n;
    struct dirs d;
    bool done = false;

    (void)state;
    for (n = 1; !done && n < 200; n++) {
        make_dirs(&d);
        done = swap_crashing_at(&d, n);
        if (check_one_tpm(&d, done)) {
            news++;
        } else {
            assert_false(done);
            olds++;
        }
        unit_rm_tree(d.old);
    }
    assert_true(done);
    /* Both sides of the commit point were crashed into. */
    assert_true(olds > 3);
    assert_true(news > 3);
}

static void
test_state_replace_sidecar_names_the_new_main_file(void **state)
{
    struct state_store st;
    struct dirs d;
    char p[160], *main;
    int fd;

    (void)state;
    make_dirs(&d);
    assert_true(swap_crashing_at(&d, 0));
    /* Changed in place: the new TPM's sidecar catches it at once. */
    snprintf(p, sizeof(p), "%s/tpm2-00.permall", d.old);
    fd = open(p, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "X", 1, 12), 1);
    close(fd);
    open_store(&st, d.old);
    main = load(&st, "permall");
    assert_null(main);
    assert_non_null(state_why(&st));
    assert_non_null(strstr(state_why(&st), "there is no journal "
                           "'tpm2-00.permall.journal' beside it; and "
                           "'tpm2-00.permall.bak' does not exist"));
    state_close(&st);
    unit_rm_tree(d.old);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_replace_crash_at_every_call),
        cmocka_unit_test(test_state_replace_sidecar_names_the_new_main_file),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
