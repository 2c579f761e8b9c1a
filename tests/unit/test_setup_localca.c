// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for the built-in local CA's serial counter (localca.c
 * next_serial, issue 12): short writes, the fd it opens, the old value
 * kept on failure.  localca.c, x509.c and conf.c are compiled into the
 * test; write() is wrapped (-Wl,--wrap=write) so a test can make it
 * write less than asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/common/conf.c"
#include "../../src/common/localca.c"
#include "../../src/common/x509.c"
#include "unit_util.h"

/* write() stand-in: at most max_write bytes per call while limited */
static bool limited;
static size_t max_write;

ssize_t __real_write(int fd, const void *buf, size_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len);

ssize_t
__wrap_write(int fd, const void *buf, size_t len)
{
    if (limited) {
        if (max_write == 0) {
            return 0;
        }
        return __real_write(fd, buf, len < max_write ? len : max_write);
    }
    return __real_write(fd, buf, len);
}

static char dir[64];
static struct localca ca;

static void
write_serial(const char *s)
{
    FILE *f = fopen(ca.certserial, "w");

    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static void
read_serial(char *out, size_t outlen)
{
    FILE *f = fopen(ca.certserial, "r");
    size_t n;

    assert_non_null(f);
    n = fread(out, 1, outlen - 1, f);
    out[n] = '\0';
    fclose(f);
}

static int
setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_localca.XXXXXX");
    assert_non_null(mkdtemp(dir));
    memset(&ca, 0, sizeof(ca));
    snprintf(ca.statedir, sizeof(ca.statedir), "%s", dir);
    assert_int_equal(path_join(ca.certserial, sizeof(ca.certserial), dir,
                               "certserial"), 0);
    limited = false;
    return 0;
}

static int
teardown(void **state)
{
    char p[128];

    (void)state;
    limited = false;
    unlink(ca.certserial);
    rmdir(dir);
    snprintf(p, sizeof(p), "rm -rf '%s'", dir);
    (void)!system(p);
    return 0;
}

static void
test_next_serial_increments(void **state)
{
    char out[64], got[64];

    (void)state;
    write_serial("41\n");
    assert_int_equal(next_serial(&ca, out, sizeof(out)), 0);
    assert_string_equal(out, "42");
    read_serial(got, sizeof(got));
    assert_string_equal(got, "42");
}

static void
test_next_serial_short_write_fails(void **state)
{
    char out[64] = "unset", got[64];
    int fds = unit_count_entries("/proc/self/fd", true);

    (void)state;
    write_serial("12345");
    limited = true;
    max_write = 0;              /* write() makes no progress */
    assert_true(next_serial(&ca, out, sizeof(out)) < 0);
    limited = false;
    assert_string_equal(out, "unset");
    /* no fd leaked, the temporary file removed */
    assert_int_equal(unit_count_entries("/proc/self/fd", true), fds);
    assert_int_equal(unit_count_entries(dir, false), 1);
    read_serial(got, sizeof(got));
    assert_string_equal(got, "12345");          /* old value intact */
}

static void
test_next_serial_partial_writes_complete(void **state)
{
    char out[64], got[64];
    int fds = unit_count_entries("/proc/self/fd", true);

    (void)state;
    write_serial("99999");
    limited = true;
    max_write = 1;              /* one byte per write() call */
    assert_int_equal(next_serial(&ca, out, sizeof(out)), 0);
    limited = false;
    assert_string_equal(out, "100000");
    read_serial(got, sizeof(got));
    assert_string_equal(got, "100000");
    assert_int_equal(unit_count_entries("/proc/self/fd", true), fds);
}

static void
test_next_serial_unwritable_dir_fails(void **state)
{
    char out[64] = "unset";

    (void)state;
    snprintf(ca.certserial, sizeof(ca.certserial),
             "/nonexistent/dir/certserial");
    assert_true(next_serial(&ca, out, sizeof(out)) < 0);
    assert_string_equal(out, "unset");
    assert_int_equal(path_join(ca.certserial, sizeof(ca.certserial), dir,
                               "certserial"), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_next_serial_increments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_next_serial_short_write_fails,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_next_serial_partial_writes_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_next_serial_unwritable_dir_fails, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
