// SPDX-License-Identifier: BSD-3-Clause
/*
 * Loading --key / --migration-key keys: hex or binary key files and fds,
 * and passphrases run through PBKDF2-SHA512 or SHA-512 (docs/state.md §4.1).
 */
#include "key.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "subopt.h"

/* Upstream reads a key file with one read() of at most this many bytes. */
#define KEY_READ_MAX 67
/* Passphrases are read whole; this bounds what we accept. */
#define PWD_MAX (64 * 1024)

enum key_src { SRC_FILE, SRC_FD, SRC_PWDFILE, SRC_PWDFD };

struct key_opts {
    enum key_src src;
    const char *path;       /* SRC_FILE, SRC_PWDFILE */
    int fd;                 /* SRC_FD, SRC_PWDFD */
    size_t modelen;         /* 16 or 32 */
    bool binary;
    bool remove;
    bool sha512;
    char what[4200];        /* "key file '/k'" for messages */
};

static const char *const KEY_OPT_NAMES[] = {
    "file", "fd", "pwdfile", "pwdfd", "mode", "format", "remove", "kdf",
    NULL
};

static const char *
mode_name(size_t modelen)
{
    return modelen == 32 ? "aes-256-cbc" : "aes-128-cbc";
}

static int
parse_key_fd(const char *s, int *out, char *err, size_t errlen)
{
    if (parse_fd(s, out) < 0) {
        snprintf(err, errlen, "invalid key fd '%s'", s);
        return -EINVAL;
    }
    return 0;
}

/* Pick the source (file > fd > pwdfile > pwdfd) and fill in the rest. */
static int
opts_fill(const struct subopts *so, struct key_opts *ko,
          char *err, size_t errlen)
{
    const char *v;

    if ((ko->path = subopts_get(so, "file"))) {
        ko->src = SRC_FILE;
        snprintf(ko->what, sizeof(ko->what), "key file '%s'", ko->path);
    } else if ((v = subopts_get(so, "fd"))) {
        ko->src = SRC_FD;
        if (parse_key_fd(v, &ko->fd, err, errlen) < 0) {
            return -EINVAL;
        }
        snprintf(ko->what, sizeof(ko->what), "key fd %d", ko->fd);
    } else if ((ko->path = subopts_get(so, "pwdfile"))) {
        ko->src = SRC_PWDFILE;
        snprintf(ko->what, sizeof(ko->what), "passphrase file '%s'",
                 ko->path);
    } else if ((v = subopts_get(so, "pwdfd"))) {
        ko->src = SRC_PWDFD;
        if (parse_key_fd(v, &ko->fd, err, errlen) < 0) {
            return -EINVAL;
        }
        snprintf(ko->what, sizeof(ko->what), "passphrase fd %d", ko->fd);
    } else {
        snprintf(err, errlen, "key needs one of file=, fd=, pwdfile= "
                 "or pwdfd=");
        return -EINVAL;
    }

    v = subopts_get(so, "mode");
    if (!v || !strcmp(v, "aes-cbc") || !strcmp(v, "aes-128-cbc")) {
        ko->modelen = 16;
    } else if (!strcmp(v, "aes-256-cbc")) {
        ko->modelen = 32;
    } else {
        snprintf(err, errlen, "unknown key mode '%s'; use aes-128-cbc or "
                 "aes-256-cbc", v);
        return -EINVAL;
    }
    v = subopts_get(so, "format");
    if (v && strcmp(v, "hex") && strcmp(v, "binary")) {
        snprintf(err, errlen, "unknown key format '%s'; use hex or binary",
                 v);
        return -EINVAL;
    }
    ko->binary = v && !strcmp(v, "binary");
    v = subopts_get(so, "kdf");
    if (v && strcmp(v, "pbkdf2") && strcmp(v, "sha512")) {
        snprintf(err, errlen, "unknown kdf '%s'; use pbkdf2 or sha512", v);
        return -EINVAL;
    }
    ko->sha512 = v && !strcmp(v, "sha512");
    ko->remove = subopts_bool(so, "remove", false);
    return 0;
}

/* One read() of at most max bytes (hex/binary keys), or all (pwd). */
static ssize_t
read_fd(int fd, uint8_t *buf, size_t max, bool all)
{
    size_t off = 0;
    ssize_t n;

    do {
        n = read(fd, buf + off, max - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        off += (size_t)n;
    } while (all && n > 0 && off < max);
    if (all && off == max) {
        return -EFBIG;
    }
    return (ssize_t)off;
}

static int
hexval(uint8_t c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = (uint8_t)tolower(c);
    return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Optional 0x, 32/64 hex digits, then end of data or whitespace. */
static int
parse_hex(const struct key_opts *ko, const uint8_t *buf, size_t n,
          struct state_key *k, char *err, size_t errlen)
{
    size_t i = 0, digits = 0;

    if (n >= 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X')) {
        i = 2;
    }
    for (; i < n && hexval(buf[i]) >= 0; i++) {
        if (digits < 2 * sizeof(k->data)) {
            k->data[digits / 2] = (uint8_t)(k->data[digits / 2] << 4 |
                                            hexval(buf[i]));
        }
        digits++;
    }
    if (i < n && !isspace(buf[i])) {
        snprintf(err, errlen, "%s has an invalid character after %zu hex "
                 "digits", ko->what, digits);
        return -EINVAL;
    }
    if (digits != 2 * ko->modelen) {
        snprintf(err, errlen, "%s has %zu hex digits; %s needs %zu",
                 ko->what, digits, mode_name(ko->modelen), 2 * ko->modelen);
        return -EINVAL;
    }
    k->len = ko->modelen;
    return 0;
}

static int
parse_binary(const struct key_opts *ko, const uint8_t *buf, size_t n,
             struct state_key *k, char *err, size_t errlen)
{
    if ((n != 16 && n != 32) || n > ko->modelen) {
        snprintf(err, errlen, "%s has %zu bytes; %s needs %s", ko->what, n,
                 mode_name(ko->modelen),
                 ko->modelen == 32 ? "16 or 32" : "16");
        return -EINVAL;
    }
    memcpy(k->data, buf, n);
    k->len = n;
    return 0;
}

static int
derive(const struct key_opts *ko, const uint8_t *pwd, size_t n,
       struct state_key *k, char *err, size_t errlen)
{
    uint8_t md[CRYPTO_SHA512_LEN];
    int r;

    if (n <= 6) {
        log_debug("%s: passphrase is only %zu bytes", ko->what, n);
    }
    if (ko->sha512) {
        r = crypto_sha512(pwd, n, md);
        memcpy(k->data, md, ko->modelen);
        explicit_bzero(md, sizeof(md));
    } else {
        r = crypto_pbkdf2_swtpm(pwd, n, k->data, ko->modelen);
    }
    if (r < 0) {
        snprintf(err, errlen, "cannot derive a key from %s", ko->what);
        return r;
    }
    k->len = ko->modelen;
    return 0;
}

/* Read the source named by ko and turn it into a key. */
static int
key_read(const struct key_opts *ko, struct state_key *k,
         char *err, size_t errlen)
{
    bool pwd = ko->src == SRC_PWDFILE || ko->src == SRC_PWDFD;
    size_t max = pwd ? PWD_MAX : KEY_READ_MAX;
    uint8_t *buf;
    ssize_t n;
    int fd = ko->fd, r;

    buf = malloc(max);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        if (!ko->path) {
            close(fd);
        }
        return -ENOMEM;
    }
    if (ko->path) {
        fd = open(ko->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
            r = -errno;
            snprintf(err, errlen, "cannot open %s: %s", ko->what,
                     strerror(errno));
            free(buf);
            return r;
        }
    }
    n = read_fd(fd, buf, max, pwd);
    close(fd);
    if (n < 0) {
        r = (int)n;
        snprintf(err, errlen, "cannot read %s: %s", ko->what,
                 n == -EFBIG ? "passphrase too long" : strerror((int)-n));
        goto out;
    }
    if (pwd) {
        r = derive(ko, buf, (size_t)n, k, err, errlen);
    } else if (ko->binary) {
        r = parse_binary(ko, buf, (size_t)n, k, err, errlen);
    } else {
        r = parse_hex(ko, buf, (size_t)n, k, err, errlen);
    }
    if (r == 0 && ko->remove && ko->path && unlink(ko->path) < 0) {
        r = -errno;
        snprintf(err, errlen, "cannot remove %s: %s", ko->what,
                 strerror(errno));
    }
out:
    explicit_bzero(buf, max);
    free(buf);
    return r;
}

int
key_load_from_opts(const char *optstr, struct state_key *out,
                   char *err, size_t errlen)
{
    struct key_opts ko = { .fd = -1 };
    struct state_key k = { { 0 }, 0 };
    struct subopts so;
    int r;

    r = subopts_parse(optstr, KEY_OPT_NAMES, &so, err, errlen);
    if (r < 0) {
        return r;
    }
    r = opts_fill(&so, &ko, err, errlen);
    if (r == 0) {
        r = key_read(&ko, &k, err, errlen);
    }
    if (r == 0) {
        *out = k;
    }
    key_wipe(&k);
    subopts_free(&so);
    return r;
}

void
key_wipe(struct state_key *k)
{
    if (k) {
        explicit_bzero(k, sizeof(*k));
    }
}
