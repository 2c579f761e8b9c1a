// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for key.c: hex and binary key files and fds, passphrases
 * with PBKDF2-SHA512 and SHA-512, option precedence, remove, and error
 * messages.  The passphrase known-answer test decodes a state file made
 * by swtpm 0.7.1 (tests/unit/vectors/README).
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

#include "crypto.h"
#include "key.h"
#include "stateobj.h"
#include "unit_util.h"

#define VEC_DIR "tests/unit/vectors/"

static char dir[64];
static char err[512];

static int
setup(void **state)
{
    snprintf(dir, sizeof(dir), "/tmp/test_key.XXXXXX");
    assert_non_null(mkdtemp(dir));
    err[0] = '\0';
    return 0;
}

static int
teardown(void **state)
{
    unit_rm_tree(dir);
    return 0;
}

/* Write len bytes to <dir>/name and return the path (static buffer). */
static const char *
mkfile(const char *name, const void *data, size_t len)
{
    static char path[128];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

static int
load(struct state_key *k, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
load(struct state_key *k, const char *fmt, ...)
{
    char opts[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(opts, sizeof(opts), fmt, ap);
    va_end(ap);
    return key_load_from_opts(opts, k, err, sizeof(err));
}

static void
expect_err(const char *substr, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
expect_err(const char *substr, const char *fmt, ...)
{
    struct state_key k = { { 0 }, 99 };
    char opts[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(opts, sizeof(opts), fmt, ap);
    va_end(ap);
    assert_int_equal(key_load_from_opts(opts, &k, err, sizeof(err)),
                     -EINVAL);
    assert_int_equal(k.len, 99);             /* untouched on error */
    if (!strstr(err, substr)) {
        fail_msg("error '%s' lacks '%s'", err, substr);
    }
}

static void
test_key_load_hex_vectors(void **state)
{
    static const uint8_t k128[16] = {
        0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
    };
    struct state_key k;
    uint8_t k256[32];
    int i;

    for (i = 0; i < 32; i++) {
        k256[i] = (uint8_t)i;
    }
    assert_int_equal(load(&k, "file=" VEC_DIR "k128.hex"), 0);
    assert_int_equal(k.len, 16);
    assert_memory_equal(k.data, k128, 16);
    assert_int_equal(load(&k, "file=" VEC_DIR "k256.hex,mode=aes-256-cbc"),
                     0);
    assert_int_equal(k.len, 32);
    assert_memory_equal(k.data, k256, 32);
    key_wipe(&k);
    assert_int_equal(k.len, 0);
    key_wipe(NULL);
}

static void
test_key_load_hex_forms(void **state)
{
    struct state_key k;
    const char *p;

    p = mkfile("k", "0XAABBCCDDEEFF00112233445566778899", 34);
    assert_int_equal(load(&k, "file=%s,mode=aes-cbc,format=hex", p), 0);
    assert_int_equal(k.data[0], 0xaa);
    assert_int_equal(k.data[15], 0x99);
    /* Anything after the first whitespace is ignored. */
    p = mkfile("k", "aabbccddeeff00112233445566778899\tjunk", 37);
    assert_int_equal(load(&k, "file=%s", p), 0);
    assert_int_equal(k.len, 16);
    /* Maximum read: 0x + 64 digits + newline = 67 bytes. */
    p = mkfile("k", "0x0000000000000000000000000000000000000000000000000000"
               "000000000001\n", 67);
    assert_int_equal(load(&k, "file=%s,mode=aes-256-cbc", p), 0);
    assert_int_equal(k.data[31], 1);
}

static void
test_key_load_hex_bad(void **state)
{
    const char *p;

    p = mkfile("k", "aabbccddeeff0011223344556677889", 31);
    expect_err("has 31 hex digits; aes-128-cbc needs 32", "file=%s", p);
    p = mkfile("k", "000102030405060708090a0b0c0d0e0f"
               "101112131415161718191a1b1c1d1e1f\n", 65);
    expect_err("has 64 hex digits; aes-128-cbc needs 32", "file=%s", p);
    p = mkfile("k", "aabbccddeeff00112233445566778899\n", 33);
    expect_err("has 32 hex digits; aes-256-cbc needs 64",
               "file=%s,mode=aes-256-cbc", p);
    p = mkfile("k", "aabbccddeeff00112233445566778899z", 33);
    expect_err("invalid character after 32 hex digits", "file=%s", p);
    p = mkfile("k", "", 0);
    expect_err("has 0 hex digits", "file=%s", p);
    /* Longer than one 67-byte read allows. */
    p = mkfile("k", "00000000000000000000000000000000000000000000000000000000"
               "0000000000000000", 72);
    expect_err("hex digits; aes-256-cbc needs 64",
               "file=%s,mode=aes-256-cbc", p);
}

static void
test_key_load_binary(void **state)
{
    uint8_t buf[40];
    struct state_key k;
    const char *p;

    memset(buf, 0xab, sizeof(buf));
    p = mkfile("k", buf, 16);
    assert_int_equal(load(&k, "file=%s,format=binary", p), 0);
    assert_int_equal(k.len, 16);
    assert_memory_equal(k.data, buf, 16);
    /* A 16-byte key with mode aes-256-cbc means AES-128 (docs/state.md
     * §4.1). */
    assert_int_equal(load(&k, "file=%s,format=binary,mode=aes-256-cbc", p),
                     0);
    assert_int_equal(k.len, 16);
    p = mkfile("k", buf, 32);
    assert_int_equal(load(&k, "file=%s,format=binary,mode=aes-256-cbc", p),
                     0);
    assert_int_equal(k.len, 32);
    expect_err("has 32 bytes; aes-128-cbc needs 16",
               "file=%s,format=binary", p);
    p = mkfile("k", buf, 20);
    expect_err("has 20 bytes", "file=%s,format=binary,mode=aes-256-cbc", p);
    p = mkfile("k", buf, 0);
    expect_err("has 0 bytes", "file=%s,format=binary", p);
    p = mkfile("k", buf, 40);
    expect_err("has 40 bytes", "file=%s,format=binary,mode=aes-256-cbc", p);
}

static void
test_key_load_fd(void **state)
{
    struct state_key k;
    int pfd[2];

    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(write(pfd[1], "0x00112233445566778899aabbccddeeff\n",
                           35), 35);
    close(pfd[1]);
    assert_int_equal(load(&k, "fd=%d", pfd[0]), 0);
    assert_int_equal(k.len, 16);
    assert_int_equal(k.data[15], 0xff);
    /* The fd is closed after reading. */
    assert_int_equal(fcntl(pfd[0], F_GETFD), -1);
    assert_int_equal(errno, EBADF);
}

/* Upstream's passphrase: PBKDF2-SHA512, salt "swtpm", 1000 iterations. */
static void
test_key_load_pwdfile_kat(void **state)
{
    struct state_key k, want;
    uint8_t buf[2048], *raw = NULL;
    uint32_t rlen = 0, rc = 0;
    ssize_t n;
    int fd;

    assert_int_equal(load(&k, "pwdfile=" VEC_DIR "pwd.txt"), 0);
    assert_int_equal(k.len, 16);
    assert_int_equal(crypto_pbkdf2_swtpm((const uint8_t *)"secretpass\n", 11,
                                         want.data, 16), 0);
    assert_memory_equal(k.data, want.data, 16);

    fd = open(VEC_DIR "pwd.permall", O_RDONLY);
    assert_true(fd >= 0);
    n = read(fd, buf, sizeof(buf));
    close(fd);
    assert_true(n > 0);
    assert_int_equal(stateobj_decode(buf, (uint32_t)n, &k, &raw, &rlen, &rc),
                     0);
    assert_int_equal(rlen, 1299);
    free(raw);
}

static void
test_key_load_pwd_sha512(void **state)
{
    uint8_t md[64];
    struct state_key k;
    const char *p;
    int pfd[2];

    p = mkfile("pw", "pass phrase", 11);
    assert_int_equal(crypto_sha512((const uint8_t *)"pass phrase", 11, md),
                     0);
    assert_int_equal(load(&k, "pwdfile=%s,kdf=sha512,mode=aes-256-cbc", p),
                     0);
    assert_int_equal(k.len, 32);
    assert_memory_equal(k.data, md, 32);

    assert_int_equal(pipe(pfd), 0);
    assert_int_equal(write(pfd[1], "pass phrase", 11), 11);
    close(pfd[1]);
    assert_int_equal(load(&k, "pwdfd=%d,kdf=sha512", pfd[0]), 0);
    assert_int_equal(k.len, 16);
    assert_memory_equal(k.data, md, 16);
    assert_int_equal(fcntl(pfd[0], F_GETFD), -1);
}

static void
test_key_load_remove(void **state)
{
    struct state_key k;
    const char *p;

    p = mkfile("k", "aabbccddeeff00112233445566778899", 32);
    assert_int_equal(load(&k, "file=%s,remove=false", p), 0);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(load(&k, "file=%s,remove", p), 0);
    assert_int_equal(access(p, F_OK), -1);
    p = mkfile("pw", "secret", 6);
    assert_int_equal(load(&k, "pwdfile=%s,remove=true", p), 0);
    assert_int_equal(access(p, F_OK), -1);
}

/* file > fd > pwdfile > pwdfd; an fd that is not used stays open. */
static void
test_key_load_precedence(void **state)
{
    struct state_key k;
    const char *p;
    char opts[256];
    int fd;

    fd = open("/dev/null", O_RDONLY);
    p = mkfile("k", "aabbccddeeff00112233445566778899", 32);
    snprintf(opts, sizeof(opts), "fd=%d,pwdfile=/nonexistent,file=%s", fd, p);
    assert_int_equal(key_load_from_opts(opts, &k, err, sizeof(err)), 0);
    assert_int_equal(k.data[0], 0xaa);
    assert_true(fcntl(fd, F_GETFD) >= 0);
    /* fd wins over pwdfile: /dev/null has no hex digits. */
    snprintf(opts, sizeof(opts), "pwdfile=%s,fd=%d", p, fd);
    assert_int_equal(key_load_from_opts(opts, &k, err, sizeof(err)),
                     -EINVAL);
    assert_non_null(strstr(err, "key fd"));
    assert_int_equal(fcntl(fd, F_GETFD), -1);
}

static void
test_key_load_opt_errors(void **state)
{
    const char *p = mkfile("k", "aabbccddeeff00112233445566778899", 32);
    struct state_key k = { { 0 }, 99 };

    expect_err("needs one of file=", "mode=%s", "aes-cbc");
    expect_err("unknown key mode 'aes-192-cbc'",
               "file=/k,mode=%s", "aes-192-cbc");
    expect_err("unknown key format 'pem'", "file=/k,format=%s", "pem");
    expect_err("unknown kdf 'scrypt'", "pwdfile=/k,kdf=%s", "scrypt");
    expect_err("invalid key fd 'x'", "fd=%s", "x");
    expect_err("invalid key fd '-1'", "pwdfd=%s", "-1");
    assert_int_equal(load(&k, "file=%s,bogus=1", p), -EINVAL);
    assert_int_equal(k.len, 99);
    assert_int_equal(load(&k, "file=%s/missing", dir), -ENOENT);
    assert_non_null(strstr(err, "cannot open key file '"));
    assert_non_null(strstr(err, "/missing'"));
}

static void
test_key_load_symlink(void **state)
{
    struct state_key k;
    char link[128];
    const char *p = mkfile("k", "aabbccddeeff00112233445566778899", 32);

    snprintf(link, sizeof(link), "%s/link", dir);
    assert_int_equal(symlink(p, link), 0);
    assert_int_equal(load(&k, "file=%s", link), -ELOOP);
    assert_non_null(strstr(err, "key file"));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_key_load_hex_vectors),
        T(test_key_load_hex_forms),
        T(test_key_load_hex_bad),
        T(test_key_load_binary),
        T(test_key_load_fd),
        T(test_key_load_pwdfile_kat),
        T(test_key_load_pwd_sha512),
        T(test_key_load_remove),
        T(test_key_load_precedence),
        T(test_key_load_opt_errors),
        T(test_key_load_symlink),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
