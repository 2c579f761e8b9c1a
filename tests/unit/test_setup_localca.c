// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for the local CA's serial counter (src/ca/localca.c, issue
 * 12) through its API, localca_open_conf(), localca_reserve(),
 * localca_keep() and localca_commit(): short writes, the fds it opens,
 * the old value kept on failure, a reservation that is not used, two
 * serials under one lock, the counter's own text.  write() is
 * wrapped (-Wl,--wrap=write) so a test can make the counter's write
 * return less than asked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "localca.h"
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

/* A swtpm-localca.conf CA in a temp dir, made once for the whole group:
 * its key and certificate exist, so a test's writes are the counter's. */
static char dir[64], conf[128], serial_path[128];
static struct localca *ca;

static void
write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

static void
read_serial(char *out, size_t outlen)
{
    FILE *f = fopen(serial_path, "r");
    size_t n;

    assert_non_null(f);
    n = fread(out, 1, outlen - 1, f);
    out[n] = '\0';
    fclose(f);
}

/* Open the CA of a conf naming certserial (the group's, or another). */
static struct localca *
open_ca(const char *certserial)
{
    char text[512];
    struct localca *c = NULL;

    snprintf(text, sizeof(text),
             "statedir = %s\nsigningkey = %s/signkey.pem\n"
             "issuercert = %s/issuercert.pem\ncertserial = %s\n",
             dir, dir, dir, certserial);
    write_file(conf, text);
    assert_int_equal(localca_open_conf(conf, &c), 0);
    return c;
}

/* A whole run's use of the CA: reserve a serial, commit it; out is set
 * only when both succeed. */
static int
reserve(struct localca *c, char *out, size_t outlen)
{
    char serial[64];
    void *key, *cert;
    int r = localca_reserve(c, serial, sizeof(serial), &key, &cert);

    if (r == 0) {
        r = localca_commit(c);
    }
    if (r == 0) {
        snprintf(out, outlen, "%s", serial);
    }
    return r;
}

static int
group_setup(void **state)
{
    char out[64];

    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_localca.XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(conf, sizeof(conf), "%s/ca.conf", dir);
    snprintf(serial_path, sizeof(serial_path), "%s/certserial", dir);
    ca = open_ca(serial_path);
    assert_int_equal(reserve(ca, out, sizeof(out)), 0);  /* makes the CA */
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    localca_free(ca);
    unit_rm_tree(dir);
    return 0;
}

static void
test_next_serial_increments(void **state)
{
    char out[64], got[64];

    (void)state;
    write_file(serial_path, "41\n");
    assert_int_equal(reserve(ca, out, sizeof(out)), 0);
    assert_string_equal(out, "42");
    read_serial(got, sizeof(got));
    assert_string_equal(got, "42");
}

static void
test_next_serial_short_write_fails(void **state)
{
    char out[64] = "unset", got[64];
    int fds = unit_count_entries("/proc/self/fd", true);
    int files = unit_count_entries(dir, false);

    (void)state;
    write_file(serial_path, "12345");
    limited = true;
    max_write = 0;              /* write() makes no progress */
    assert_true(reserve(ca, out, sizeof(out)) < 0);
    limited = false;
    assert_string_equal(out, "unset");
    /* no fd leaked, the temporary file removed */
    assert_int_equal(unit_count_entries("/proc/self/fd", true), fds);
    assert_int_equal(unit_count_entries(dir, false), files);
    read_serial(got, sizeof(got));
    assert_string_equal(got, "12345");          /* old value intact */
}

static void
test_next_serial_partial_writes_complete(void **state)
{
    char out[64], got[64];
    int fds = unit_count_entries("/proc/self/fd", true);

    (void)state;
    write_file(serial_path, "99999");
    limited = true;
    max_write = 1;              /* one byte per write() call */
    assert_int_equal(reserve(ca, out, sizeof(out)), 0);
    limited = false;
    assert_string_equal(out, "100000");
    read_serial(got, sizeof(got));
    assert_string_equal(got, "100000");
    assert_int_equal(unit_count_entries("/proc/self/fd", true), fds);
}

static void
test_next_serial_unwritable_dir_fails(void **state)
{
    struct localca *c = open_ca("/nonexistent/dir/certserial");
    char out[64] = "unset";

    (void)state;
    assert_true(reserve(c, out, sizeof(out)) < 0);
    assert_string_equal(out, "unset");
    localca_free(c);
}

static void
test_counter_with_spaces_counts_on(void **state)
{
    char out[64], got[64];

    (void)state;
    write_file(serial_path, "  \t41 \r\n");
    assert_int_equal(reserve(ca, out, sizeof(out)), 0);
    assert_string_equal(out, "42");
    read_serial(got, sizeof(got));
    assert_string_equal(got, "42");
}

/* 2^160 - 1 is the largest serial: the next run starts again at random
 * (1 to 2^62 + 1), as upstream does, instead of failing for ever. */
static void
test_counter_at_max_starts_again(void **state)
{
    char out[64] = "unset";

    (void)state;
    write_file(serial_path, "1461501637330902918203684832716283019655932542975");
    assert_int_equal(reserve(ca, out, sizeof(out)), 0);
    assert_true(strlen(out) >= 1 && strlen(out) <= 19);
    assert_true(strtoull(out, NULL, 10) >= 1);
}

/* localca_reserve() on c gives want. */
static void
reserve_is(struct localca *c, const char *want)
{
    char out[64];
    void *key, *cert;

    assert_int_equal(localca_reserve(c, out, sizeof(out), &key, &cert), 0);
    assert_string_equal(out, want);
}

/* The counter file says want. */
static void
serial_is(const char *want)
{
    char got[64];

    read_serial(got, sizeof(got));
    assert_string_equal(got, want);
}

/* The lock is free and the next run's serial is want. */
static void
next_run_is(const char *want)
{
    char out[64];

    assert_int_equal(reserve(ca, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

/* A run that reserves and then fails (localca_free() without commit)
 * leaves the counter as it was and the lock free. */
static void
test_unused_reservation_spends_no_serial(void **state)
{
    struct localca *c = open_ca(serial_path);

    (void)state;
    write_file(serial_path, "41");
    reserve_is(c, "42");
    localca_free(c);
    serial_is("41");
    next_run_is("42");
}

/* swtpm_setup's EK and platform certificates: the first serial kept,
 * the second follows it under the same lock, and the counter is written
 * once, after the second. */
static void
test_kept_serial_next_follows_one_write(void **state)
{
    struct localca *c = open_ca(serial_path);

    (void)state;
    write_file(serial_path, "41");
    assert_int_equal(localca_keep(c), -EINVAL);     /* nothing reserved */
    reserve_is(c, "42");
    assert_int_equal(localca_keep(c), 0);
    serial_is("41");
    reserve_is(c, "43");        /* though the counter still says 41 */
    assert_int_equal(localca_commit(c), 0);
    serial_is("43");
    next_run_is("44");          /* the count goes on from the file */
    localca_free(c);
}

/* A kept serial whose run ends without the last commit: nothing spent,
 * the lock free. */
static void
test_kept_serial_unused_spends_nothing(void **state)
{
    struct localca *c = open_ca(serial_path);

    (void)state;
    write_file(serial_path, "41");
    reserve_is(c, "42");
    assert_int_equal(localca_keep(c), 0);
    localca_free(c);
    serial_is("41");
    next_run_is("42");
}

/* A FIFO as counter is refused at once, never opened for reading. */
static void
test_fifo_counter_refused(void **state)
{
    char fifo[160], out[64] = "unset";
    struct localca *c;

    (void)state;
    snprintf(fifo, sizeof(fifo), "%s/fifo-serial", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    c = open_ca(fifo);
    assert_true(reserve(c, out, sizeof(out)) < 0);
    assert_string_equal(out, "unset");
    localca_free(c);
    unlink(fifo);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_next_serial_increments),
        cmocka_unit_test(test_next_serial_short_write_fails),
        cmocka_unit_test(test_next_serial_partial_writes_complete),
        cmocka_unit_test(test_next_serial_unwritable_dir_fails),
        cmocka_unit_test(test_counter_with_spaces_counts_on),
        cmocka_unit_test(test_counter_at_max_starts_again),
        cmocka_unit_test(test_unused_reservation_spends_no_serial),
        cmocka_unit_test(test_fifo_counter_refused),
        cmocka_unit_test(test_kept_serial_next_follows_one_write),
        cmocka_unit_test(test_kept_serial_unused_spends_nothing),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
