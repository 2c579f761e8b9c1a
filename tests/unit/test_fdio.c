// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for fdio.c's fd_replace_file(): the one atomic writer of
 * config, CA, certificate and blob files.  Real files in a temp dir.
 */
#include <errno.h>
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

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_fd_replace_file_creates_and_replaces, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_fd_replace_file_failure_keeps_old_file, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
