// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for the pid file of daemon_proc.c (--pid file=PATH and
 * --pid fd=N): what is written, what is refused, and that the file is
 * removed at exit only while it is still the one this process wrote.
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

#include "daemon_opts.h"
#include "daemon_proc.h"
#include "unit_util.h"

static char dir[64];
static char path[128];
static struct daemon_cfg cfg;
static char err[256];

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/swtpm-unit-pid.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/vtpm.pid", dir);
    daemon_cfg_init(&cfg);
    err[0] = '\0';
    return 0;
}

static int
teardown(void **state)
{
    (void)state;
    if (cfg.pid_dir_fd >= 0) {
        close(cfg.pid_dir_fd);
    }
    unit_rm_tree(dir);
    return 0;
}

/* The file's content, or "" if it is not there. */
static const char *
content(const char *p)
{
    static char buf[64];
    int fd = open(p, O_RDONLY);
    ssize_t n = fd < 0 ? 0 : read(fd, buf, sizeof(buf) - 1);

    if (fd >= 0) {
        close(fd);
    }
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

static const char *
my_pid(void)
{
    static char buf[32];

    snprintf(buf, sizeof(buf), "%d", (int)getpid());
    return buf;
}

static void
test_pid_path_written_and_removed(void **state)
{
    struct stat st;

    (void)state;
    snprintf(cfg.pid_path, sizeof(cfg.pid_path), "%s", path);
    assert_int_equal(daemon_write_pid(&cfg, err, sizeof(err)), 0);
    /* the pid alone, no newline, as upstream writes it */
    assert_string_equal(content(path), my_pid());
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* no temporary file is left beside it */
    assert_int_equal(unit_count_entries(dir, false), 1);
    daemon_remove_pid(&cfg);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(cfg.pid_dir_fd, -1);
    /* a second removal is harmless */
    daemon_remove_pid(&cfg);
}

static void
test_pid_path_overwrites_an_old_file(void **state)
{
    int fd;

    (void)state;
    fd = open(path, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "99999999\n", 9), 9);
    close(fd);
    snprintf(cfg.pid_path, sizeof(cfg.pid_path), "%s", path);
    assert_int_equal(daemon_write_pid(&cfg, err, sizeof(err)), 0);
    assert_string_equal(content(path), my_pid());
    daemon_remove_pid(&cfg);
    assert_int_equal(access(path, F_OK), -1);
}

/* Another process's file at the same name (a second daemon started with
 * the same --pid) is not ours to remove. */
static void
test_pid_replaced_file_is_left(void **state)
{
    char other[160];
    int fd;

    (void)state;
    snprintf(cfg.pid_path, sizeof(cfg.pid_path), "%s", path);
    assert_int_equal(daemon_write_pid(&cfg, err, sizeof(err)), 0);
    snprintf(other, sizeof(other), "%s/other", dir);
    fd = open(other, O_WRONLY | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, my_pid(), strlen(my_pid())),
                     (ssize_t)strlen(my_pid()));
    close(fd);
    assert_int_equal(rename(other, path), 0);
    daemon_remove_pid(&cfg);
    assert_int_equal(access(path, F_OK), 0);
}

/* The same file rewritten with another pid is left too. */
static void
test_pid_rewritten_file_is_left(void **state)
{
    int fd;

    (void)state;
    snprintf(cfg.pid_path, sizeof(cfg.pid_path), "%s", path);
    assert_int_equal(daemon_write_pid(&cfg, err, sizeof(err)), 0);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "1", 1), 1);
    close(fd);
    daemon_remove_pid(&cfg);
    assert_string_equal(content(path), "1");
}

static void
test_pid_path_in_missing_dir_names_it(void **state)
{
    (void)state;
    snprintf(cfg.pid_path, sizeof(cfg.pid_path), "%s/no/such/dir/x.pid",
             dir);
    assert_int_equal(daemon_write_pid(&cfg, err, sizeof(err)), -ENOENT);
    assert_non_null(strstr(err, cfg.pid_path));
    assert_non_null(strstr(err, "No such file or directory"));
    assert_int_equal(cfg.pid_dir_fd, -1);
}

/* A symlink at the name is not followed. */
static void
test_pid_symlink_is_refused(void **state)
{
    char target[160];

    (void)state;
    snprintf(target, sizeof(target), "%s/target", dir);
    assert_int_equal(symlink(target, path), 0);
    snprintf(cfg.pid_path, sizeof(cfg.pid_path), "%s", path);
    assert_true(daemon_write_pid(&cfg, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, path));
    assert_int_equal(access(target, F_OK), -1);
}

static void
test_pid_fd_written_closed_and_removed(void **state)
{
    int fd;

    (void)state;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    /* a high number, which no later open() in the code reuses */
    assert_int_equal(dup2(fd, 200), 200);
    close(fd);
    fd = 200;
    cfg.pid_fd = fd;
    assert_int_equal(daemon_write_pid(&cfg, err, sizeof(err)), 0);
    assert_string_equal(content(path), my_pid());
    /* the descriptor is closed once written */
    assert_int_equal(cfg.pid_fd, -1);
    assert_int_equal(fcntl(fd, F_GETFD), -1);
    assert_int_equal(errno, EBADF);
    daemon_remove_pid(&cfg);
    assert_int_equal(access(path, F_OK), -1);
}

static void
test_pid_fd_not_a_file_is_refused(void **state)
{
    int p[2];

    (void)state;
    assert_int_equal(pipe(p), 0);
    cfg.pid_fd = p[1];
    assert_int_equal(daemon_write_pid(&cfg, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "not a regular file"));
    close(p[0]);
    close(p[1]);
}

/* Without --pid nothing is written and nothing removed. */
static void
test_pid_none(void **state)
{
    (void)state;
    assert_int_equal(daemon_write_pid(&cfg, err, sizeof(err)), 0);
    assert_int_equal(unit_count_entries(dir, false), 0);
    daemon_remove_pid(&cfg);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_pid_path_written_and_removed),
        T(test_pid_path_overwrites_an_old_file),
        T(test_pid_replaced_file_is_left),
        T(test_pid_rewritten_file_is_left),
        T(test_pid_path_in_missing_dir_names_it),
        T(test_pid_symlink_is_refused),
        T(test_pid_fd_written_closed_and_removed),
        T(test_pid_fd_not_a_file_is_refused),
        T(test_pid_none),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
