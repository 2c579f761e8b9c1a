// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for swtpm_cert's command line (src/ca/certtool.c):
 * parsing, upstream's order of checks and messages, and the password
 * argument forms.  Certificate contents are test_x509.c's job and the
 * whole tool runs in tests/integration/test_cert_tool.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "certtool.h"

#define ARGV(...) ((char *[]){ "swtpm_cert", __VA_ARGS__, NULL })
#define ARGC(...) ((int)(sizeof((char *[]){ "swtpm_cert", __VA_ARGS__ }) / \
                         sizeof(char *)))
#define PARSE(o, err, ...) \
    certtool_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (o), (err), \
                   sizeof(err))

static void
test_certtool_parse_all_fields(void **state)
{
    struct certtool_opts o;
    char err[CERTTOOL_ERR_MAX] = "";

    (void)state;
    assert_int_equal(PARSE(&o, err, "--signkey", "k", "--issuercert", "c",
                           "--modulus", "ab", "--tpm2", "--pem",
                           "--type", "platform", "--signkey-pwd", "pass:x",
                           "--parentkey-pwd", "ignored", "--days", "-1"),
                     CERTTOOL_OK);
    assert_string_equal(o.signkey, "k");
    assert_string_equal(o.issuercert, "c");
    assert_string_equal(o.modulus, "ab");
    assert_string_equal(o.type, "platform");
    assert_string_equal(o.signkey_pwd, "pass:x");
    assert_string_equal(o.days, "-1");
    assert_true(o.tpm2);
    assert_true(o.pem);
    assert_false(o.add_header);
}

static void
test_certtool_parse_errors(void **state)
{
    struct certtool_opts o;
    char err[CERTTOOL_ERR_MAX] = "";

    (void)state;
    assert_int_equal(PARSE(&o, err, "--bogus"), CERTTOOL_USAGE);
    assert_string_equal(err, "unrecognized option '--bogus'");
    assert_int_equal(PARSE(&o, err, "--tpm2", "--serial"), CERTTOOL_USAGE);
    assert_string_equal(err, "option '--serial' requires an argument");
    assert_int_equal(PARSE(&o, err, "--tpm2", "stray"), CERTTOOL_USAGE);
    /* parsing twice in one process (swtpm_localca) starts afresh */
    assert_int_equal(PARSE(&o, err, "--tpm2"), CERTTOOL_OK);
    assert_true(o.tpm2);
}

/* Each missing piece in turn yields upstream's message for it. */
static void
test_certtool_validate_order(void **state)
{
    struct certtool_opts o = { 0 };
    char err[CERTTOOL_ERR_MAX] = "";

    (void)state;
    assert_int_equal(certtool_validate(&o, err, sizeof(err)),
                     CERTTOOL_USAGE);
    assert_string_equal(err, "Missing public EK file and modulus or ECC "
                        "parameters.");
    o.modulus = "ab";
    assert_int_equal(certtool_validate(&o, err, sizeof(err)),
                     CERTTOOL_FAIL);
    assert_non_null(strstr(err, "--tpm-manufacturer and"));
    o.tpm_manufacturer = o.tpm_model = o.tpm_version = "x";
    certtool_validate(&o, err, sizeof(err));
    assert_non_null(strstr(err, "--tpm-spec-family and"));
    o.spec_family = "2.0";
    o.spec_level = "0";
    o.spec_revision = "164";
    certtool_validate(&o, err, sizeof(err));
    assert_string_equal(err, "Missing signature key.");
    o.signkey = "k";
    certtool_validate(&o, err, sizeof(err));
    assert_string_equal(err, "The issuer certificate name is required.");
    o.issuercert = "c";
    assert_int_equal(certtool_validate(&o, err, sizeof(err)), CERTTOOL_OK);
    o.serial = "0";
    certtool_validate(&o, err, sizeof(err));
    assert_string_equal(err, "Serial number is invalid.");
    o.serial = NULL;
    o.spec_level = "x";
    assert_int_equal(certtool_validate(&o, err, sizeof(err)),
                     CERTTOOL_FAIL);
    o.spec_level = "0";
    o.days = "-2";
    assert_int_equal(certtool_validate(&o, err, sizeof(err)),
                     CERTTOOL_FAIL);
    o.days = NULL;
    o.exponent = "4";
    assert_int_equal(certtool_validate(&o, err, sizeof(err)),
                     CERTTOOL_FAIL);
    o.exponent = NULL;
    o.type = "platform";
    certtool_validate(&o, err, sizeof(err));
    assert_non_null(strstr(err, "--platform-manufacturer and"));
    o.type = "iak";
    certtool_validate(&o, err, sizeof(err));
    assert_string_equal(err, "Unknown certificate type 'iak'.");
}

static void
test_certtool_read_pwd_forms(void **state)
{
    char err[CERTTOOL_ERR_MAX] = "", *pw = NULL;
    char path[] = "/tmp/test_certtool_pwXXXXXX";
    char fdarg[64];
    int fd;

    (void)state;
    assert_int_equal(certtool_read_pwd("plain", &pw, err, sizeof(err)), 0);
    assert_string_equal(pw, "plain");
    free(pw);
    assert_int_equal(certtool_read_pwd("pass:a:b", &pw, err, sizeof(err)),
                     0);
    assert_string_equal(pw, "a:b");
    free(pw);
    setenv("TEST_CERTTOOL_PW", "fromenv", 1);
    assert_int_equal(certtool_read_pwd("env:TEST_CERTTOOL_PW", &pw, err,
                                       sizeof(err)), 0);
    assert_string_equal(pw, "fromenv");
    free(pw);
    assert_int_not_equal(certtool_read_pwd("env:TEST_CERTTOOL_UNSET", &pw,
                                           err, sizeof(err)), 0);
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "infile\nrest", 11), 11);
    snprintf(fdarg, sizeof(fdarg), "file:%s", path);
    assert_int_equal(certtool_read_pwd(fdarg, &pw, err, sizeof(err)), 0);
    assert_string_equal(pw, "infile");          /* first line only */
    free(pw);
    lseek(fd, 0, SEEK_SET);
    snprintf(fdarg, sizeof(fdarg), "fd:%d", fd);
    assert_int_equal(certtool_read_pwd(fdarg, &pw, err, sizeof(err)), 0);
    assert_string_equal(pw, "infile");
    free(pw);
    close(fd);
    unlink(path);
    assert_int_not_equal(certtool_read_pwd("fd:x", &pw, err, sizeof(err)),
                         0);
    assert_int_not_equal(certtool_read_pwd(fdarg, &pw, err, sizeof(err)),
                         0);                    /* closed descriptor */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_certtool_parse_all_fields),
        cmocka_unit_test(test_certtool_parse_errors),
        cmocka_unit_test(test_certtool_validate_order),
        cmocka_unit_test(test_certtool_read_pwd_forms),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
