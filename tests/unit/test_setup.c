// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for swtpm_setup's pure parts: the config file reader, the
 * options-file word splitter, the bounded marshalling helpers and the PCR
 * bank selection built from a GetCapability(PCRS) response, through
 * their headers (the test links build/libsetup.a and build/libca.a).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/setup/buf.h"
#include "../../src/setup/setup.h"
#include "conf.h"

static void
test_conf_get_basic(void **state)
{
    const char *text =
        "# comment\n"
        "create_certs_tool= /usr/bin/swtpm_localca\n"
        "active_pcr_banks = sha256,sha1   # trailing comment\n"
        "active_pcr_banks = sha512\n"
        "  indented = no\n"
        "empty =\n";
    char *v;

    (void)state;
    v = conf_get(text, "create_certs_tool");
    assert_string_equal(v, "/usr/bin/swtpm_localca");
    free(v);
    v = conf_get(text, "active_pcr_banks");     /* first match wins */
    assert_string_equal(v, "sha256,sha1");
    free(v);
    v = conf_get(text, "empty");
    assert_string_equal(v, "");
    free(v);
    assert_null(conf_get(text, "indented"));    /* key must be at column 0 */
    assert_null(conf_get(text, "missing"));
    assert_null(conf_get(text, "active_pcr"));  /* no prefix match */
}

static void
test_conf_get_env(void **state)
{
    char *v;

    (void)state;
    setenv("SETUP_TEST_VAR", "/home/x", 1);
    unsetenv("SETUP_TEST_UNSET");
    v = conf_get("statedir = ${SETUP_TEST_VAR}/ca${SETUP_TEST_UNSET}\n",
                 "statedir");
    assert_string_equal(v, "/home/x/ca");
    free(v);
    v = conf_get("k = ${unterminated\n", "k");
    assert_string_equal(v, "${unterminated");
    free(v);
}

static void
test_conf_words_split(void **state)
{
    char **w = conf_words("--platform-manufacturer Fedora\n\n"
                          "--platform-version 2.1\r\n--x  y\n");

    (void)state;
    assert_non_null(w);
    assert_string_equal(w[0], "--platform-manufacturer");
    assert_string_equal(w[1], "Fedora");
    assert_string_equal(w[2], "--platform-version");
    assert_string_equal(w[3], "2.1");
    assert_string_equal(w[4], "--x");
    assert_string_equal(w[5], "y");
    assert_null(w[6]);
    conf_free_words(w);
}

static void
test_buf_overflow_sticky(void **state)
{
    struct buf b = { .len = 0 };
    static uint8_t big[BUF_MAX];

    (void)state;
    buf_bytes(&b, big, BUF_MAX - 1);
    assert_false(b.overflow);
    buf_u16(&b, 1);
    assert_true(b.overflow);
    assert_int_equal(b.len, BUF_MAX - 1);
    buf_u8(&b, 1);                  /* fits, but overflow stays set */
    assert_true(b.overflow);
}

static void
test_buf_finish_cmd(void **state)
{
    struct buf b = { .len = 0 };

    (void)state;
    buf_u16(&b, 0x8001);
    buf_u32(&b, 0);
    buf_u32(&b, 0x145);
    buf_u16(&b, 0);
    buf_finish_cmd(&b);
    assert_memory_equal(b.data, "\x80\x01\0\0\0\x0c\0\0\x01\x45\0\0", 12);
}

static void
test_buf_hex(void **state)
{
    struct buf b = { .len = 0 };
    char out[9];

    (void)state;
    assert_int_equal(buf_hex(&b, "00fFa5"), 0);
    assert_memory_equal(b.data, "\x00\xff\xa5", 3);
    assert_int_equal(buf_hex(&b, "abc"), -EINVAL);
    assert_int_equal(buf_hex(&b, "zz"), -EINVAL);
    hex_encode((const uint8_t *)"\x01\xab\xff\x00", 4, out);
    assert_string_equal(out, "01abff00");
}

static void
test_reader_bounds(void **state)
{
    static const uint8_t d[] = { 0x00, 0x03, 'a', 'b', 'c', 0x00, 0x05, 1 };
    struct reader r;
    uint16_t len;

    (void)state;
    reader_init(&r, d, sizeof(d));
    assert_memory_equal(rd_tpm2b(&r, &len), "abc", 3);
    assert_int_equal(len, 3);
    assert_null(rd_tpm2b(&r, &len));     /* claims 5, has 1 */
    assert_true(r.bad);
    assert_int_equal(rd_u32(&r), 0);     /* stays failed */
    reader_init(&r, d, 0);
    assert_int_equal(rd_u8(&r), 0);
    assert_true(r.bad);
}

/* GetCapability(PCRS) response of libtpms 0.9: four banks. */
static size_t
pcrs_response(uint8_t *out, const uint16_t *algs, uint32_t count)
{
    struct buf b = { .len = 0 };

    buf_u16(&b, 0x8001);
    buf_u32(&b, 0);
    buf_u32(&b, 0);
    buf_u8(&b, 0);              /* moreData */
    buf_u32(&b, 5);             /* TPM_CAP_PCRS */
    buf_u32(&b, count);
    for (uint32_t i = 0; i < count; i++) {
        buf_u16(&b, algs[i]);
        buf_u8(&b, 3);
        buf_bytes(&b, "\xff\xff\xff", 3);
    }
    buf_finish_cmd(&b);
    memcpy(out, b.data, b.len);
    return b.len;
}

static void
test_pcrs_allocation_order(void **state)
{
    static const uint16_t algs[] = { 0x0004, 0x000b, 0x000c, 0x000d };
    uint8_t resp[256];
    size_t len = pcrs_response(resp, algs, 4);
    struct buf sel = { .len = 0 };
    char active[64], all[64];

    (void)state;
    assert_int_equal(pcrs_build_allocation(resp, len, "sha384,sha1,sha384",
                                           &sel, active, sizeof(active),
                                           all, sizeof(all)), 0);
    assert_string_equal(active, "sha384,sha1");
    assert_string_equal(all, "sha1,sha256,sha384,sha512");
    assert_int_equal(sel.len, 4 + 4 * 6);
    assert_memory_equal(sel.data,
                        "\0\0\0\x04"
                        "\x00\x0c\x03\xff\xff\xff"
                        "\x00\x04\x03\xff\xff\xff"
                        "\x00\x0b\x03\x00\x00\x00"
                        "\x00\x0d\x03\x00\x00\x00", 28);
}

static void
test_pcrs_none_available(void **state)
{
    static const uint16_t algs[] = { 0x0004, 0x000b };
    uint8_t resp[256];
    size_t len = pcrs_response(resp, algs, 2);
    struct buf sel = { .len = 0 };
    char active[64], all[64];

    (void)state;
    assert_int_equal(pcrs_build_allocation(resp, len, "sha3-256", &sel,
                                           active, sizeof(active), all,
                                           sizeof(all)), -ENOENT);
    assert_string_equal(all, "sha1,sha256");
}

static void
test_pcrs_bad_responses(void **state)
{
    static const uint16_t algs[] = { 0x0004, 0x0099 };
    uint8_t resp[512];
    size_t len = pcrs_response(resp, algs, 2);
    struct buf sel = { .len = 0 };
    char active[64], all[64];

    (void)state;
    /* unknown algorithm: named by hex, never selected */
    assert_int_equal(pcrs_build_allocation(resp, len, "sha1", &sel, active,
                                           sizeof(active), all,
                                           sizeof(all)), 0);
    assert_string_equal(all, "sha1,99");
    /* short: every truncation fails cleanly */
    for (size_t l = 0; l < len; l++) {
        assert_int_equal(pcrs_build_allocation(resp, l, "sha1", &sel,
                                               active, sizeof(active), all,
                                               sizeof(all)), -EBADMSG);
    }
    /* more than 20 banks */
    resp[17] = 0;
    resp[18] = 21;
    assert_int_equal(pcrs_build_allocation(resp, len, "sha1", &sel, active,
                                           sizeof(active), all,
                                           sizeof(all)), -EBADMSG);
}

static void
test_pcrs_check_names(void **state)
{
    char err[300];

    (void)state;
    assert_int_equal(pcrs_check_names("-", err, sizeof(err)), 0);
    assert_int_equal(pcrs_check_names("sha1,sha256,sha384,sha512,sm3-256,"
                                      "sha3-256,sha3-384,sha3-512", err,
                                      sizeof(err)), 0);
    assert_int_equal(pcrs_check_names("sha256,md5", err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "'md5'"));
    assert_int_equal(pcrs_check_names("", err, sizeof(err)), -EINVAL);
    assert_int_equal(pcrs_check_names("sha256,", err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(pcrs_check_names("sha", err, sizeof(err)), -EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conf_get_basic),
        cmocka_unit_test(test_conf_get_env),
        cmocka_unit_test(test_conf_words_split),
        cmocka_unit_test(test_buf_overflow_sticky),
        cmocka_unit_test(test_buf_finish_cmd),
        cmocka_unit_test(test_buf_hex),
        cmocka_unit_test(test_reader_bounds),
        cmocka_unit_test(test_pcrs_allocation_order),
        cmocka_unit_test(test_pcrs_none_available),
        cmocka_unit_test(test_pcrs_bad_responses),
        cmocka_unit_test(test_pcrs_check_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
