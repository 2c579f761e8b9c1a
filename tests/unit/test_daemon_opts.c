// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for daemon_opts.c: the options swtpm and swtpm_cuse share,
 * stored by daemon_getopt() while the front end's own options pass
 * through, and the sub-option groups daemon_apply_opts() parses.
 */
#include <errno.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon_opts.h"

enum { OPT_OWN = 1000 };

static const struct option long_opts[] = {
    DAEMON_LONG_OPTS,
    { "own", required_argument, NULL, OPT_OWN },
    { NULL, 0, NULL, 0 },
};

/* Run daemon_getopt over argv (NULL-terminated); the options it hands
 * back go into own[].  Their count, or DAEMON_GETOPT_BAD / '?'. */
static int
run_getopt(char **argv, struct daemon_cfg *c, int *own, size_t nown,
           char *err, size_t errlen)
{
    int argc = 0, opt;
    size_t n = 0;

    while (argv[argc]) {
        argc++;
    }
    optind = 0;     /* full reset: each test parses a new argv */
    opterr = 0;
    while ((opt = daemon_getopt(argc, argv, DAEMON_SHORT_OPTS "x", long_opts,
                                c, err, errlen)) >= 0) {
        assert_true(n < nown);
        own[n++] = opt;
    }
    return opt == -1 ? (int)n : opt;
}

static void
test_shared_options_stored_own_passed_through(void **state)
{
    char *argv[] = { "prog", "--tpm2", "-x", "--tpmstate", "dir=/s",
                     "--own", "v", "-r", "tss", "--print-info", "0x3",
                     "--pcap", "file=/p", NULL };
    struct daemon_cfg c;
    char err[200] = "";
    int own[4];

    (void)state;
    daemon_cfg_init(&c);
    assert_int_equal(run_getopt(argv, &c, own, 4, err, sizeof(err)), 2);
    assert_int_equal(own[0], 'x');
    assert_int_equal(own[1], OPT_OWN);
    assert_true(c.tpm2);
    assert_string_equal(c.tpmstate_opt, "dir=/s");
    assert_string_equal(c.runas, "tss");
    assert_true(c.print_info);
    assert_int_equal(c.info_flags, 3);
    assert_int_equal(daemon_apply_opts(&c, err, sizeof(err)), 0);
    assert_string_equal(c.state_path, "/s");
    assert_true(c.pcap.given);
    assert_string_equal(c.pcap.path, "/p");
}

static void
test_bad_print_info_names_the_value(void **state)
{
    char *argv[] = { "prog", "--print-info", "zz", NULL };
    struct daemon_cfg c;
    char err[200] = "";
    int own[1];

    (void)state;
    daemon_cfg_init(&c);
    assert_int_equal(run_getopt(argv, &c, own, 1, err, sizeof(err)),
                     DAEMON_GETOPT_BAD);
    assert_non_null(strstr(err, "'zz'"));
}

static void
test_groups_and_their_errors(void **state)
{
    static const struct {
        const char *name, *val;     /* the group and its value */
        const char *err;            /* NULL: accepted */
    } cases[] = {
        { "flags", "startup-deactivated", "only valid for a TPM 1.2" },
        { "seccomp", "action=maybe", "'maybe'" },
        { "confine", "mode=maybe", "'maybe'" },
        { "confine", "landlock", "Unknown option 'landlock'" },
        { "confine", "mode=required", NULL },
        { "tpmstate", "backend-uri=nfs://x", "'nfs://x'" },
        { "log", "level=101", "'101'" },
        { "pid", "mode=1", "pid" },
        { "locality", "reject-locality-4", NULL },
    };
    struct daemon_cfg c;
    char err[300];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *name = cases[i].name, *val = cases[i].val;

        daemon_cfg_init(&c);
        c.tpm2 = true;
        err[0] = '\0';
        if (!strcmp(name, "flags")) {
            c.flags_opt = val;
        } else if (!strcmp(name, "seccomp")) {
            c.seccomp_opt = val;
        } else if (!strcmp(name, "confine")) {
            c.confine_opt = val;
        } else if (!strcmp(name, "tpmstate")) {
            c.tpmstate_opt = val;
        } else if (!strcmp(name, "log")) {
            c.log_opt = val;
        } else if (!strcmp(name, "pid")) {
            c.pid_opt = val;
        } else {
            c.locality_opt = val;
        }
        if (!cases[i].err) {
            assert_int_equal(daemon_apply_opts(&c, err, sizeof(err)), 0);
            continue;
        }
        assert_int_equal(daemon_apply_opts(&c, err, sizeof(err)), -EINVAL);
        if (!strstr(err, cases[i].err)) {
            fail_msg("%s=%s: '%s' lacks '%s'", name, val, err,
                     cases[i].err);
        }
    }
    assert_true(c.reject_locality4);
}

static void
test_tpm_path_taken_verbatim(void **state)
{
    struct daemon_cfg c;
    char err[200];

    (void)state;
    setenv("TPM_PATH", "/a,mode=0600", 1);
    daemon_cfg_init(&c);
    assert_int_equal(daemon_apply_opts(&c, err, sizeof(err)), 0);
    assert_string_equal(c.state_path, "/a,mode=0600");
    assert_int_equal(c.state_mode, 0640);
    c.tpmstate_opt = "dir=/b,mode=0600";   /* --tpmstate wins */
    assert_int_equal(daemon_apply_opts(&c, err, sizeof(err)), 0);
    assert_string_equal(c.state_path, "/b");
    assert_int_equal(c.state_mode, 0600);
    unsetenv("TPM_PATH");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_options_stored_own_passed_through),
        cmocka_unit_test(test_bad_print_info_names_the_value),
        cmocka_unit_test(test_groups_and_their_errors),
        cmocka_unit_test(test_tpm_path_taken_verbatim),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
