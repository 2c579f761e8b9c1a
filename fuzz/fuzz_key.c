// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer harness: key_load_from_opts() on key and passphrase files and
 * fds (--key, --migration-key), whose contents are untrusted.
 *
 * Input byte 0:
 *   bits 0-1  source: 0 file=, 1 fd= (a memfd), 2 pwdfile=, 3 pwdfd=
 *   bit 2     format=binary      bit 3  mode=aes-256-cbc
 *   bit 4     kdf=sha512         bit 5  remove
 *   bit 6     the rest starts with a NUL-terminated option suffix that is
 *             appended after our own options (first one wins), then data
 * The data is written to a temp file (or memfd) that the option names.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static int
write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w <= 0) {
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void
remove_path(void)
{
    unlink(path);
}

/* A file (or memfd) holding data; returns the fd for fd sources. */
static int
put_data(unsigned src, const uint8_t *p, size_t n)
{
    int fd;

    if (src == 1 || src == 3) {
        fd = memfd_create("fuzzkey", 0);
        assert(fd >= 0);
        assert(write_all(fd, p, n) == 0);
        assert(lseek(fd, 0, SEEK_SET) == 0);
        return fd;
    }
    if (!path[0]) {
        snprintf(path, sizeof(path), "/tmp/fuzz_key.%d", (int)getpid());
        atexit(remove_path);
    }
    FILE *f = fopen(path, "wb");
    assert(f);
    assert(n == 0 || fwrite(p, 1, n, f) == n);
    fclose(f);
    return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const srcname[] = { "file", "fd", "pwdfile",
                                           "pwdfd" };
    char opts[512], suffix[256] = "", err[256];
    struct state_key k;
    const uint8_t *p;
    unsigned f, src;
    size_t n;
    int fd, r;

    if (size < 1 || size > 70 * 1024) {
        return 0;
    }
    f = data[0];
    src = f & 3;
    p = data + 1;
    n = size - 1;
    if (f & 0x40) {
        const uint8_t *nul = memchr(p, 0, n);
        size_t sl = nul ? (size_t)(nul - p) : n;
        if (sl >= sizeof(suffix)) {
            return 0;
        }
        memcpy(suffix, p, sl);
        suffix[sl] = '\0';
        p += nul ? sl + 1 : sl;
        n -= nul ? sl + 1 : sl;
    }
    /* The suffix must not name files or fds of its own: the harness
     * would read or unlink arbitrary paths. */
    if (strstr(suffix, "fd") || strstr(suffix, "file")) {
        return 0;
    }
    fd = put_data(src, p, n);
    if (fd >= 0) {
        snprintf(opts, sizeof(opts), "%s=%d", srcname[src], fd);
    } else {
        snprintf(opts, sizeof(opts), "%s=%s", srcname[src], path);
    }
    snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), "%s%s%s%s%s",
             (f & 4) ? ",format=binary" : "",
             (f & 8) ? ",mode=aes-256-cbc" : "",
             (f & 0x10) ? ",kdf=sha512" : "", (f & 0x20) ? ",remove" : "",
             suffix[0] ? "," : "");
    strncat(opts, suffix, sizeof(opts) - strlen(opts) - 1);

    memset(&k, 0xa5, sizeof(k));
    err[0] = '\0';
    r = key_load_from_opts(opts, &k, err, sizeof(err));
    if (r == 0) {
        assert(k.len == 16 || k.len == 32);
    } else {
        /* Errors explain themselves; the output stays untouched. */
        assert(err[0] != '\0');
        assert(k.len == (size_t)0xa5a5a5a5a5a5a5a5ull);
    }
    /* key_read() closes fd sources itself; an option error before it
     * leaves the fd open. */
    if (fd >= 0 && fcntl(fd, F_GETFD) >= 0) {
        close(fd);
    }
    return 0;
}
