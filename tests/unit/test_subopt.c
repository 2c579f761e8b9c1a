// SPDX-License-Identifier: BSD-3-Clause
/* Unit tests for subopt.c: the name[=value],... syntax and numbers. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "subopt.h"

static const char *const names[] = {
    "file", "mode", "lock", "remove", "profile", NULL };

static void
test_subopts_parse_valid(void **state)
{
    struct subopts so;
    char err[128];

    (void)state;
    assert_int_equal(subopts_parse("file=/a,b,mode=0600,lock", names, &so,
                                   err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "'b'"));
    assert_int_equal(subopts_parse("file=/a=b,mode=0600,lock,file=/c",
                                   names, &so, err, sizeof(err)), 0);
    assert_string_equal(subopts_get(&so, "file"), "/a=b");  /* first wins */
    assert_string_equal(subopts_get(&so, "mode"), "0600");
    assert_true(subopts_bool(&so, "lock", false));
    assert_null(subopts_get(&so, "lock"));
    assert_false(subopts_has(&so, "remove"));
    assert_true(subopts_bool(&so, "remove", true));
    subopts_free(&so);
}

static void
test_subopts_parse_booleans(void **state)
{
    struct subopts so;
    char err[128];

    (void)state;
    assert_int_equal(subopts_parse("lock=TRUE,remove=yes", names, &so, err,
                                   sizeof(err)), 0);
    assert_true(subopts_bool(&so, "lock", false));
    assert_false(subopts_bool(&so, "remove", true));   /* not true/1 */
    subopts_free(&so);
    assert_int_equal(subopts_parse("lock=1", names, &so, err,
                                   sizeof(err)), 0);
    assert_true(subopts_bool(&so, "lock", false));
    subopts_free(&so);
}

static void
test_subopts_parse_errors(void **state)
{
    struct subopts so;
    char err[128];

    (void)state;
    assert_int_equal(subopts_parse("file=", names, &so, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "Unknown option 'file='"));
    assert_int_equal(subopts_parse("bogus=1", names, &so, err,
                                   sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "bogus"));
    assert_int_equal(subopts_parse("profile={\"a\":1", names, &so, err,
                                   sizeof(err)), -EINVAL);
    assert_string_equal(err, "Unterminated JSON map.");
    assert_int_equal(subopts_parse("profile={\"a\":1}x", names, &so, err,
                                   sizeof(err)), -EINVAL);
    assert_string_equal(err, "Unexpected character following JSON map.");
}

static void
test_subopts_parse_json_value_with_commas(void **state)
{
    struct subopts so;
    char err[128];

    (void)state;
    assert_int_equal(subopts_parse("profile={\"a\":{\"b\":1,\"c\":2}},lock",
                                   names, &so, err, sizeof(err)), 0);
    assert_string_equal(subopts_get(&so, "profile"),
                        "{\"a\":{\"b\":1,\"c\":2}}");
    assert_true(subopts_bool(&so, "lock", false));
    subopts_free(&so);
}

static void
test_subopts_parse_empty_and_max(void **state)
{
    struct subopts so;
    char err[128], big[400];
    size_t n = 0;

    (void)state;
    assert_int_equal(subopts_parse("", names, &so, err, sizeof(err)), 0);
    assert_int_equal(so.count, 0);
    subopts_free(&so);
    assert_int_equal(subopts_parse(",,lock,,", names, &so, err,
                                   sizeof(err)), 0);
    assert_int_equal(so.count, 1);
    subopts_free(&so);
    for (int i = 0; i < SUBOPT_MAX + 1; i++) {
        n += (size_t)snprintf(big + n, sizeof(big) - n, "lock,");
    }
    assert_int_equal(subopts_parse(big, names, &so, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "too many"));
}

static void
test_parse_uint_ranges(void **state)
{
    unsigned long v;

    (void)state;
    assert_int_equal(parse_uint("4", 0, 4, &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(parse_uint("5", 0, 4, &v), -ERANGE);
    assert_int_equal(parse_uint("-1", 0, 4, &v), -EINVAL);
    assert_int_equal(parse_uint("", 0, 4, &v), -EINVAL);
    assert_int_equal(parse_uint("3x", 0, 4, &v), -EINVAL);
    assert_int_equal(parse_uint(" 3", 0, 4, &v), -EINVAL);
    assert_int_equal(parse_uint("99999999999999999999999", 0, 4, &v),
                     -ERANGE);
    assert_int_equal(parse_ulong_base0("0x10", 100, &v), 0);
    assert_int_equal(v, 16);
    assert_int_equal(parse_ulong_base0("0x10", 15, &v), -ERANGE);
}

/*
 * Found by fuzz_subopts: strtoul() skips tabs and newlines too, so
 * "\t5" (and "\n-1", negated to ULONG_MAX) passed as numbers.
 */
static void
test_parse_uint_rejects_white_space_and_signs(void **state)
{
    static const char *const bad[] = { "\t5", "\n5", "\v5", "\t-1", "\n+3",
                                       "\r0x10" };
    unsigned long v = 42;
    mode_t m = 042;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse_uint(bad[i], 0, ULONG_MAX, &v), -EINVAL);
        assert_int_equal(parse_ulong_base0(bad[i], ULONG_MAX, &v), -EINVAL);
        assert_int_equal(parse_mode(bad[i], &m), -EINVAL);
    }
    assert_int_equal(v, 42);
    assert_int_equal(m, 042);
    assert_int_equal(parse_ulong_base0("010", 100, &v), 0);
    assert_int_equal(v, 8);
}

static void
test_parse_fd_range(void **state)
{
    static const char *const bad[] = { "", "x", "-1", "+3", " 3", "3x",
                                       "65536", "99999999999999999999" };
    int fd = 42;

    (void)state;
    assert_int_equal(parse_fd("0", &fd), 0);
    assert_int_equal(fd, 0);
    assert_int_equal(parse_fd("65535", &fd), 0);
    assert_int_equal(fd, PARSE_FD_MAX);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        fd = 42;
        assert_true(parse_fd(bad[i], &fd) < 0);
        assert_int_equal(fd, 42);       /* untouched on error */
    }
}

static void
test_parse_mode_and_ids(void **state)
{
    mode_t m;
    uid_t u;
    gid_t g;

    (void)state;
    assert_int_equal(parse_mode("0640", &m), 0);
    assert_int_equal(m, 0640);
    assert_int_equal(parse_mode("640", &m), 0);     /* octal regardless */
    assert_int_equal(m, 0640);
    assert_int_equal(parse_mode("1777", &m), -ERANGE);
    assert_int_equal(parse_mode("8", &m), -EINVAL);
    assert_int_equal(parse_uid("0", &u), 0);
    assert_int_equal(parse_uid("root", &u), 0);
    assert_int_equal(u, 0);
    assert_int_equal(parse_uid("no-such-user-xyz", &u), -ENOENT);
    assert_int_equal(parse_gid("root", &g), 0);
    assert_int_equal(parse_gid("no-such-group-xyz", &g), -ENOENT);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subopts_parse_valid),
        cmocka_unit_test(test_subopts_parse_booleans),
        cmocka_unit_test(test_subopts_parse_errors),
        cmocka_unit_test(test_subopts_parse_json_value_with_commas),
        cmocka_unit_test(test_subopts_parse_empty_and_max),
        cmocka_unit_test(test_parse_uint_ranges),
        cmocka_unit_test(test_parse_uint_rejects_white_space_and_signs),
        cmocka_unit_test(test_parse_fd_range),
        cmocka_unit_test(test_parse_mode_and_ids),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
