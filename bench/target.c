// SPDX-License-Identifier: BSD-3-Clause
/* Benchmark targets: libtpms in-process, CUSE device, Unix/TCP socket. */
#include "target.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tpm.h"
#include "tpmcmd.h"

/* libtpms is a singleton: at most one in-process TPM. */
static struct tpm_instance inproc;
static bool inproc_used;

int
target_parse(struct target *t, const char *s, char *err, size_t errlen)
{
    static const struct {
        const char *prefix;
        enum target_type type;
    } kinds[] = {
        { "inproc:", TARGET_INPROC }, { "dev:", TARGET_DEV },
        { "unix:", TARGET_UNIX }, { "tcp:", TARGET_TCP },
    };
    const char *eq = strchr(s, '=');
    size_t i, n;

    memset(t, 0, sizeof(*t));
    t->fd = -1;
    if (!eq || eq == s || (size_t)(eq - s) >= sizeof(t->name)) {
        snprintf(err, errlen, "target '%s' is not NAME=KIND:ARG", s);
        return -EINVAL;
    }
    memcpy(t->name, s, (size_t)(eq - s));
    for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        n = strlen(kinds[i].prefix);
        if (strncmp(eq + 1, kinds[i].prefix, n) == 0 &&
            strlen(eq + 1 + n) < sizeof(t->arg)) {
            t->type = kinds[i].type;
            snprintf(t->arg, sizeof(t->arg), "%s", eq + 1 + n);
            return 0;
        }
    }
    snprintf(err, errlen, "target '%s': kind must be inproc:DIR, dev:PATH, "
             "unix:PATH or tcp:PORT", s);
    return -EINVAL;
}

static int
inproc_open(const char *dir, bool tpm12, char *err, size_t errlen)
{
    uint32_t rc = 0;

    if (inproc_used) {
        snprintf(err, errlen, "only one inproc target per process");
        return -EBUSY;
    }
    memset(&inproc, 0, sizeof(inproc));
    inproc.tpm2 = !tpm12;
    inproc.store = state_new();
    if (!inproc.store) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    if (state_open(inproc.store, dir, inproc.tpm2, 0640, false,
                   /* create= */ false, err, errlen) < 0) {
        state_free(inproc.store);
        return -ENOENT;
    }
    if (tpm_setup(&inproc) < 0) {
        snprintf(err, errlen, "libtpms cannot emulate this TPM version");
        state_free(inproc.store);
        return -EINVAL;
    }
    if (tpm_start(&inproc, false, &rc) < 0) {
        snprintf(err, errlen, "libtpms did not start on '%s': 0x%x", dir,
                 rc);
        state_free(inproc.store);
        return -EIO;
    }
    inproc_used = true;
    if (tpm_send_startup(&inproc, TPM_STARTUP_CLEAR, &rc) < 0 || rc != 0) {
        snprintf(err, errlen, "TPM startup on '%s' answered 0x%x", dir, rc);
        return -EIO;
    }
    return 0;
}

static int
unix_connect(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path '%s' is too long", path);
        return -ENAMETOOLONG;
    }
    strcpy(sa.sun_path, path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;

        snprintf(err, errlen, "cannot connect to '%s': %s", path,
                 strerror(e));
        if (fd >= 0) {
            close(fd);
        }
        return -e;
    }
    return fd;
}

static int
tcp_connect(const char *port, char *err, size_t errlen)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    int fd, one = 1;
    char *end;
    unsigned long p = strtoul(port, &end, 10);

    if (*port == '\0' || *end != '\0' || p == 0 || p > 65535) {
        snprintf(err, errlen, "TCP port must be 1-65535, got '%s'", port);
        return -EINVAL;
    }
    sa.sin_port = htons((uint16_t)p);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;

        snprintf(err, errlen, "cannot connect to 127.0.0.1:%lu: %s", p,
                 strerror(e));
        if (fd >= 0) {
            close(fd);
        }
        return -e;
    }
    /* One write per command: never wait for an ACK before sending. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

int
target_open(struct target *t, bool tpm12, char *err, size_t errlen)
{
    int fd;

    switch (t->type) {
    case TARGET_INPROC:
        return inproc_open(t->arg, tpm12, err, errlen);
    case TARGET_DEV:
        fd = open(t->arg, O_RDWR | O_CLOEXEC);
        if (fd < 0) {
            fd = -errno;
            snprintf(err, errlen, "cannot open '%s': %s", t->arg,
                     strerror(-fd));
        }
        break;
    case TARGET_UNIX:
        fd = unix_connect(t->arg, err, errlen);
        break;
    case TARGET_TCP:
    default:
        fd = tcp_connect(t->arg, err, errlen);
        break;
    }
    if (fd < 0) {
        return fd;
    }
    t->fd = fd;
    return 0;
}

static int
write_all(int fd, const uint8_t *p, uint32_t len)
{
    ssize_t n;

    while (len > 0) {
        n = write(fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -EPIPE;
        }
        p += n;
        len -= (uint32_t)n;
    }
    return 0;
}

/* A stream socket: read the 10-byte header, then the rest it announces. */
static int
read_response(struct target *t)
{
    uint32_t want = 10, got = 0;
    ssize_t n;

    while (got < want) {
        n = read(t->fd, t->resp + got, sizeof(t->resp) - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return n < 0 ? -errno : -ECONNRESET;
        }
        got += (uint32_t)n;
        if (got >= 6 && want == 10) {
            want = (uint32_t)t->resp[2] << 24 | (uint32_t)t->resp[3] << 16 |
                   (uint32_t)t->resp[4] << 8 | t->resp[5];
            if (want < 10 || want > sizeof(t->resp)) {
                return -EBADMSG;
            }
        }
    }
    t->resp_len = got;
    return 0;
}

int
target_roundtrip(struct target *t, const uint8_t *cmd, uint32_t len)
{
    const uint8_t *resp = NULL;
    uint32_t rlen = 0;
    ssize_t n;
    int r;

    if (t->type == TARGET_INPROC) {
        r = tpm_process(&inproc, cmd, len, &resp, &rlen);
        if (r < 0) {
            return r;
        }
        /* The limit is the bare call: keep the length and only the
         * header and first handle, which is all the caller looks at. */
        t->resp_len = rlen < sizeof(t->resp) ? rlen : sizeof(t->resp);
        memcpy(t->resp, resp, t->resp_len < 16 ? t->resp_len : 16);
        return 0;
    }
    r = write_all(t->fd, cmd, len);
    if (r < 0) {
        return r;
    }
    if (t->type != TARGET_DEV) {
        return read_response(t);
    }
    /* A TPM device returns the whole response in one read(). */
    do {
        n = read(t->fd, t->resp, sizeof(t->resp));
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        return -errno;
    }
    t->resp_len = (uint32_t)n;
    return 0;
}

void
target_close(struct target *t)
{
    if (t->type == TARGET_INPROC && inproc_used) {
        tpm_stop(&inproc);
        tpm_cleanup(&inproc);
        state_free(inproc.store);
        inproc_used = false;
    }
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
}

int
target_make_state(const char *dir, char *err, size_t errlen)
{
    struct target t = { .type = TARGET_INPROC, .fd = -1 };
    struct tpmcmd c;
    int r;

    snprintf(t.arg, sizeof(t.arg), "%s", dir);
    r = inproc_open(dir, /* tpm12= */ false, err, errlen);
    if (r < 0) {
        return r;
    }
    /* An orderly shutdown writes everything into permall; the volatile
     * state is not kept, so every run starts from the same seeds. */
    tpmcmd_shutdown_state(&c);
    r = target_roundtrip(&t, c.b, c.len);
    if (r == 0 && tpmcmd_rc(t.resp, t.resp_len) != 0) {
        snprintf(err, errlen, "TPM2_Shutdown answered 0x%x",
                 tpmcmd_rc(t.resp, t.resp_len));
        r = -EIO;
    }
    target_close(&t);
    return r;
}
