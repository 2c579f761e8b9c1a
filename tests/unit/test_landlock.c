// SPDX-License-Identifier: BSD-3-Clause
/* Unit tests for landlock.c: what each kernel ABI gets asked for.  The
 * three Landlock system calls go to __wrap_syscall, a fake kernel. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/landlock.h>

#include <cmocka.h>

#include "landlock.h"

#define RULESET_FD 1000     /* never open: close() on it is harmless */

static struct {
    long abi;               /* < 0: -errno of the version query */
    int add_rule_errno;     /* 0: succeed */
    size_t attr_size;
    uint64_t handled_fs, handled_net, scoped;
    uint64_t allowed[8];
    int rule_fd[8];
    size_t nrules;
    int restricted;
} k;

long __wrap_syscall(long n, ...);

long
__wrap_syscall(long n, ...)
{
    va_list ap;
    const void *p;
    size_t size;
    unsigned int flags;
    uint64_t attr[3] = { 0 };
    const struct landlock_path_beneath_attr *pb;

    va_start(ap, n);
    p = va_arg(ap, const void *);
    size = va_arg(ap, size_t);
    flags = va_arg(ap, unsigned int);
    va_end(ap);
    if (n == SYS_landlock_create_ruleset &&
        flags == LANDLOCK_CREATE_RULESET_VERSION) {
        if (k.abi < 0) {
            errno = (int)-k.abi;
            return -1;
        }
        return k.abi;
    }
    if (n == SYS_landlock_create_ruleset) {
        assert_true(size <= sizeof(attr));
        memcpy(attr, p, size);
        k.attr_size = size;
        k.handled_fs = attr[0];
        k.handled_net = attr[1];
        k.scoped = attr[2];
        return RULESET_FD;
    }
    if (n == SYS_landlock_add_rule) {
        /* (ruleset, LANDLOCK_RULE_PATH_BENEATH, attr, flags) */
        assert_int_equal((long)(intptr_t)p, RULESET_FD);
        assert_int_equal(size, LANDLOCK_RULE_PATH_BENEATH);
        va_start(ap, n);
        (void)va_arg(ap, long);
        (void)va_arg(ap, long);
        pb = va_arg(ap, const struct landlock_path_beneath_attr *);
        va_end(ap);
        if (k.add_rule_errno) {
            errno = k.add_rule_errno;
            return -1;
        }
        k.rule_fd[k.nrules] = pb->parent_fd;
        k.allowed[k.nrules++] = pb->allowed_access;
        return 0;
    }
    if (n == SYS_landlock_restrict_self) {
        k.restricted++;
        return 0;
    }
    fail_msg("unexpected syscall %ld", n);
    return -1;
}

static const struct landlock_rule rules[] = {
    { 7, LANDLOCK_GRANT_STORE },
    { 8, LANDLOCK_GRANT_FILE },
    { 9, LANDLOCK_GRANT_READ },
    { 10, LANDLOCK_GRANT_UNLINK },
};

#define RW (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE)
#define STORE_ABI2 (RW | LANDLOCK_ACCESS_FS_READ_DIR | \
                    LANDLOCK_ACCESS_FS_MAKE_REG | \
                    LANDLOCK_ACCESS_FS_REMOVE_FILE)

static int
setup(void **state)
{
    (void)state;
    memset(&k, 0, sizeof(k));
    return 0;
}

static void
test_landlock_confine_abi2(void **state)
{
    (void)state;
    k.abi = 2;      /* Debian 12's 6.1 */
    assert_int_equal(landlock_confine(rules, 4), 2);
    assert_int_equal(k.attr_size, 8);
    /* Every ABI 1 right plus REFER; no TRUNCATE, which ABI 2 lacks. */
    assert_int_equal(k.handled_fs, (1ULL << 14) - 1);
    assert_int_equal(k.nrules, 4);
    assert_int_equal(k.rule_fd[0], 7);
    assert_int_equal(k.allowed[0], STORE_ABI2);
    assert_int_equal(k.allowed[1], RW);
    assert_int_equal(k.allowed[2], LANDLOCK_ACCESS_FS_READ_FILE);
    assert_int_equal(k.allowed[3], LANDLOCK_ACCESS_FS_REMOVE_FILE);
    assert_int_equal(k.restricted, 1);
}

static void
test_landlock_confine_abi6(void **state)
{
    (void)state;
    k.abi = 6;
    assert_int_equal(landlock_confine(rules, 2), 6);
    assert_int_equal(k.attr_size, 24);
    /* ABI 1-3 rights and IOCTL_DEV (ABI 5); TCP (ABI 4); signals. */
    assert_int_equal(k.handled_fs, (1ULL << 16) - 1);
    assert_int_equal(k.handled_net, 3);
    assert_int_equal(k.scoped, 2);
    assert_int_equal(k.allowed[0], STORE_ABI2 | (1ULL << 14));
    assert_int_equal(k.allowed[1], RW | (1ULL << 14));
}

static void
test_landlock_confine_abi4_size(void **state)
{
    (void)state;
    k.abi = 4;
    assert_int_equal(landlock_confine(rules, 1), 4);
    assert_int_equal(k.attr_size, 16);
    assert_int_equal(k.handled_net, 3);
}

static void
test_landlock_confine_no_landlock(void **state)
{
    (void)state;
    k.abi = -ENOSYS;
    assert_int_equal(landlock_abi(), -ENOSYS);
    assert_int_equal(landlock_confine(rules, 4), -ENOSYS);
    k.abi = -EOPNOTSUPP;
    assert_int_equal(landlock_confine(rules, 4), -EOPNOTSUPP);
    assert_int_equal(k.attr_size, 0);
    assert_int_equal(k.restricted, 0);
}

static void
test_landlock_confine_bad_rule(void **state)
{
    (void)state;
    k.abi = 3;
    k.add_rule_errno = EBADF;
    assert_int_equal(landlock_confine(rules, 4), -EBADF);
    assert_int_equal(k.restricted, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_landlock_confine_abi2, setup),
        cmocka_unit_test_setup(test_landlock_confine_abi6, setup),
        cmocka_unit_test_setup(test_landlock_confine_abi4_size, setup),
        cmocka_unit_test_setup(test_landlock_confine_no_landlock, setup),
        cmocka_unit_test_setup(test_landlock_confine_bad_rule, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
