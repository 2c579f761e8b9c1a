// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for fdio.c's fd_replace_file(): the one atomic writer of
 * config, CA, certificate and blob files; and fd_flock_wait(), the local
 * CA's lock wait.  Real files in a temp dir.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fdio.h"
#include "unit_util.h"

static char dir[64];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_fdio.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void
test_fd_replace_file_creates_and_replaces(void **state)
{
    char path[128], buf[16] = "";
    struct stat st;
    FILE *f;

    (void)state;
    snprintf(path, sizeof(path), "%s/f", dir);
    assert_int_equal(fd_replace_file(path, "first", 5, 0640), 0);
    assert_int_equal(fd_replace_file(path, "second", 6, 0600), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof(buf) - 1, f), 6);
    fclose(f);
    assert_string_equal(buf, "second");
    /* no temporary file left */
    assert_int_equal(unit_count_entries(dir, false), 1);
}

static void
test_fd_replace_file_failure_keeps_old_file(void **state)
{
    char path[256], sub[128];

    (void)state;
    snprintf(path, sizeof(path), "%s/missing/f", dir);
    assert_int_equal(fd_replace_file(path, "x", 1, 0600), -ENOENT);
    /* A directory in the way: rename fails, the temp file is removed. */
    snprintf(sub, sizeof(sub), "%s/d", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(path, sizeof(path), "%s/keep", sub);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(fd_replace_file(path, "x", 1, 0600), -EISDIR);
    assert_int_equal(unit_count_entries(sub, false), 1);   /* "keep" */
}

/* A second open file description of the lock file: flock() locks of
 * two descriptions conflict even within one process. */
static int
open_lock(void)
{
    char path[128];
    int fd;

    snprintf(path, sizeof(path), "%s/lock", dir);
    fd = open(path, O_RDWR | O_CREAT, 0600);
    assert_true(fd >= 0);
    return fd;
}

/* The timer and SIGALRM are as they were before the wait. */
static void
assert_alarm_untouched(void)
{
    struct itimerval it;
    struct sigaction sa;

    assert_int_equal(getitimer(ITIMER_REAL, &it), 0);
    assert_int_equal(it.it_value.tv_sec + it.it_value.tv_usec, 0);
    assert_int_equal(it.it_interval.tv_sec + it.it_interval.tv_usec, 0);
    assert_int_equal(sigaction(SIGALRM, NULL, &sa), 0);
    assert_ptr_equal(sa.sa_handler, SIG_DFL);
}

static void
test_fd_flock_wait_free_and_timeout(void **state)
{
    int a = open_lock(), b = open_lock();
    int64_t t0;

    (void)state;
    assert_int_equal(fd_flock_wait(a, fd_clock_ms() + 1000), 0);
    t0 = fd_clock_ms();
    assert_int_equal(fd_flock_wait(b, t0 + 1200), -EWOULDBLOCK);
    assert_true(fd_clock_ms() - t0 >= 1200);
    assert_true(fd_clock_ms() - t0 < 4000);
    assert_alarm_untouched();
    close(a);
    assert_int_equal(fd_flock_wait(b, fd_clock_ms() + 1000), 0);
    close(b);
}

/* The holder lets go after 300 ms: the waiter has the lock at once,
 * not at the next 1 s tick. */
static void
test_fd_flock_wait_gets_released_lock(void **state)
{
    int a = open_lock(), b = open_lock(), status;
    int64_t t0;
    pid_t pid;

    (void)state;
    assert_int_equal(flock(a, LOCK_EX), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(b);
        usleep(300 * 1000);
        _exit(0);           /* closes a: the lock goes */
    }
    close(a);               /* the child's copy still holds it */
    t0 = fd_clock_ms();
    assert_int_equal(fd_flock_wait(b, t0 + 10000), 0);
    assert_true(fd_clock_ms() - t0 >= 250);
    assert_true(fd_clock_ms() - t0 < 900);
    assert_alarm_untouched();
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_fd_replace_file_creates_and_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_fd_replace_file_failure_keeps_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_fd_flock_wait_free_and_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_fd_flock_wait_gets_released_lock, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
