// SPDX-License-Identifier: BSD-3-Clause
/*
 * Client helper for swtpm_ioctl and swtpm_bios: transports (CUSE device,
 * TCP, Unix socket), the socket encoding of control requests and replies,
 * and raw TPM command exchange.  Pure encode/decode functions are separate
 * from the I/O so that unit tests can feed them arbitrary bytes.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "fdio.h"
#include "subopt.h"

/* Largest socket request built by client_encode_req: code + ptm_hdata. */
#define REQ_BUF_MAX (4 + sizeof(struct ptm_hdata))
/* Extra room when reading so that surplus bytes in a reply are noticed. */
#define READ_SLACK 64

int
client_parse_tcp(const char *arg, unsigned int default_port,
                 struct client_target *out)
{
    const char *colon = strrchr(arg, ':');
    const char *host = arg;
    size_t hlen = colon ? (size_t)(colon - arg) : strlen(arg);
    unsigned long port = default_port;
    int r;

    if (colon && colon[1] != '\0') {
        r = parse_uint(colon + 1, 1, 65535, &port);
        if (r < 0) {
            return r;
        }
    }
    if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
        host++;
        hlen -= 2;
    }
    if (hlen == 0) {
        host = "127.0.0.1";
        hlen = strlen(host);
    }
    if (hlen >= sizeof(out->host)) {
        return -ERANGE;
    }
    memset(out, 0, sizeof(*out));
    out->kind = CLIENT_TCP;
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    out->port = (unsigned int)port;
    return 0;
}

static int
poll_fd(const struct client *c, short events)
{
    int ms = c->timeout_ms > 0 ? c->timeout_ms : CLIENT_TIMEOUT_MS;

    return fd_wait(c->fd, events, fd_clock_ms() + ms);
}

/* Connect a non-blocking socket, waiting at most the client's timeout. */
static int
connect_wait(struct client *c, const struct sockaddr *sa, socklen_t salen)
{
    int err = 0, waited = 0, r;
    int limit = c->timeout_ms > 0 ? c->timeout_ms : CLIENT_TIMEOUT_MS;
    socklen_t elen = sizeof(err);

    /*
     * A Unix listener with a full backlog (swtpm serves one control
     * client at a time) makes connect fail with EAGAIN without starting
     * anything: retry until the timeout.
     */
    for (;;) {
        if (connect(c->fd, sa, salen) == 0) {
            return 0;
        }
        if (errno == EINPROGRESS || errno == EINTR || errno == EALREADY) {
            break;
        }
        if (errno != EAGAIN || sa->sa_family != AF_UNIX) {
            return -errno;
        }
        if (waited >= limit) {
            return -ETIMEDOUT;
        }
        usleep(10 * 1000);
        waited += 10;
    }
    r = poll_fd(c, POLLOUT);
    if (r < 0) {
        return r;
    }
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) {
        return -errno;
    }
    return err ? -err : 0;
}

static int
open_tcp(struct client *c, const struct client_target *t)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    struct addrinfo *res = NULL, *ai;
    char port[16];
    int r;

    snprintf(port, sizeof(port), "%u", t->port);
    r = getaddrinfo(t->host, port, &hints, &res);
    if (r != 0) {
        return r == EAI_SYSTEM ? -errno : -ENXIO;   /* cannot resolve */
    }
    r = -ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next) {
        c->fd = socket(ai->ai_family,
                       ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
                       ai->ai_protocol);
        if (c->fd < 0) {
            r = -errno;
            continue;
        }
        r = connect_wait(c, ai->ai_addr, ai->ai_addrlen);
        if (r == 0) {
            break;
        }
        close(c->fd);
        c->fd = -1;
    }
    freeaddrinfo(res);
    return r;
}

static int
open_unix(struct client *c, const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };

    if (strlen(path) >= sizeof(sun.sun_path)) {
        return -ENAMETOOLONG;
    }
    strcpy(sun.sun_path, path);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0) {
        return -errno;
    }
    return connect_wait(c, (struct sockaddr *)&sun, sizeof(sun));
}

int
client_open(struct client *c, const struct client_target *t,
            int timeout_ms)
{
    int r;

    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->kind = t->kind;
    c->timeout_ms = timeout_ms > 0 ? timeout_ms : CLIENT_TIMEOUT_MS;
    switch (t->kind) {
    case CLIENT_DEVICE:
        snprintf(c->desc, sizeof(c->desc), "'%s'", t->path);
        c->fd = open(t->path, O_RDWR | O_CLOEXEC);
        r = c->fd < 0 ? -errno : 0;
        break;
    case CLIENT_TCP:
        snprintf(c->desc, sizeof(c->desc),
                 strchr(t->host, ':') ? "[%s]:%u" : "%s:%u",
                 t->host, t->port);
        r = open_tcp(c, t);
        break;
    case CLIENT_UNIX:
        snprintf(c->desc, sizeof(c->desc), "'%s'", t->path);
        r = open_unix(c, t->path);
        break;
    default:
        r = -EINVAL;
        break;
    }
    if (r < 0) {
        client_close(c);
    }
    return r;
}

/* Text for a negative errno from client_open() on c's transport. */
static const char *
client_open_strerror(const struct client *c, int err)
{
    if (c->kind == CLIENT_TCP && err == -ENXIO) {
        return "cannot resolve the host name";
    }
    if (err == -ETIMEDOUT) {
        return "no connection before the timeout";
    }
    return strerror(-err);
}

void
client_open_errmsg(const struct client *c, int err, char *out,
                   size_t outlen)
{
    snprintf(out, outlen, "%s %s: %s",
             c->kind == CLIENT_DEVICE ? "cannot open TPM device"
                                      : "cannot connect to",
             c->desc, client_open_strerror(c, err));
}

void
client_close(struct client *c)
{
    if (c && c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}

int
client_write_all(struct client *c, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    ssize_t n;
    int r;

    while (len > 0) {
        if (c->kind == CLIENT_DEVICE) {
            n = write(c->fd, p, len);
        } else {
            n = send(c->fd, p, len, MSG_NOSIGNAL);
        }
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                return -errno;
            }
            r = poll_fd(c, POLLOUT);
            if (r < 0) {
                return r;
            }
            continue;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
client_read_some(struct client *c, void *buf, size_t len, size_t *out_n)
{
    ssize_t n;
    int r;

    for (;;) {
        r = poll_fd(c, POLLIN);
        if (r < 0) {
            return r;
        }
        n = read(c->fd, buf, len);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
                continue;
            }
            return -errno;
        }
        if (n == 0) {
            return -ECONNRESET;
        }
        *out_n = (size_t)n;
        return 0;
    }
}

size_t
client_ctrl_struct_size(uint32_t cmd)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);

    return d ? _IOC_SIZE(d->ioctl) : 0;
}

/* Body of HASH_DATA / SET_STATEBLOB: header fields + data; -EINVAL. */
static int
encode_data(uint32_t cmd, const void *st, uint8_t *body)
{
    const struct ptm_hdata *hd = st;
    const struct ptm_setstate *ss = st;

    if (cmd == CMD_HASH_DATA) {
        if (hd->u.req.length > PTM_HDATA_SIZE) {
            return -EINVAL;
        }
        be32_put(body, hd->u.req.length);
        memcpy(body + 4, hd->u.req.data, hd->u.req.length);
        return (int)(4 + hd->u.req.length);
    }
    if (ss->u.req.length > PTM_STATE_BLOB_SIZE) {
        return -EINVAL;
    }
    be32_put(body, ss->u.req.state_flags);
    be32_put(body + 4, ss->u.req.type);
    be32_put(body + 8, ss->u.req.length);
    memcpy(body + 12, ss->u.req.data, ss->u.req.length);
    return (int)(12 + ss->u.req.length);
}

int
client_encode_req(uint32_t cmd, const void *st, uint8_t *out, size_t outlen)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);
    const struct ptm_getstate *gs = st;
    const struct ptm_getinfo *gi = st;
    uint8_t body[REQ_BUF_MAX];
    int n;

    if (!d) {
        return -EINVAL;
    }
    n = d->sock_req;
    memset(body, 0, (size_t)n);
    switch (cmd) {
    case CMD_INIT:
    case CMD_SET_BUFFERSIZE:
    case CMD_LOCK_STORAGE:
        /* All three carry a single u32 at offset 0 of req. */
        be32_put(body, ((const struct ptm_init *)st)->u.req.init_flags);
        break;
    case CMD_SET_LOCALITY:
    case CMD_RESET_TPMESTABLISHED:
        /* loc + 3 pad bytes, as QEMU sends them. */
        body[0] = ((const struct ptm_loc *)st)->u.req.loc;
        break;
    case CMD_HASH_DATA:
    case CMD_SET_STATEBLOB:
        n = encode_data(cmd, st, body);
        break;
    case CMD_GET_STATEBLOB:
        be32_put(body, gs->u.req.state_flags);
        be32_put(body + 4, gs->u.req.type);
        be32_put(body + 8, gs->u.req.offset);
        break;
    case CMD_GET_INFO:
        be64_put(body, gi->u.req.flags);
        be32_put(body + 8, gi->u.req.offset);
        break;
    default:
        break;      /* no request body */
    }
    if (n < 0) {
        return n;
    }
    if (outlen < 4 + (size_t)n) {
        return -ENOSPC;
    }
    be32_put(out, cmd);
    memcpy(out + 4, body, (size_t)n);
    return 4 + n;
}

/* Size of the complete success reply of a fixed-size command. */
static size_t
fixed_resp_len(uint32_t cmd)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);

    return d ? d->sock_resp : sizeof(ptm_res);
}

int
client_resp_need(uint32_t cmd, const uint8_t *buf, size_t len,
                 size_t *out_need)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);
    size_t hdr = 0, max = 0, dlen;

    if (d && d->sock_resp_data) {
        hdr = d->sock_resp;
        max = d->sock_data_max;
    }
    if (len < 4) {
        *out_need = 4;
        return 0;
    }
    if (hdr == 0) {
        /* An error may come as the bare 4-byte result. */
        *out_need = (be32_get(buf) != 0 && len == 4) ? 4
                                                     : fixed_resp_len(cmd);
        return 0;
    }
    if (be32_get(buf) != 0) {
        *out_need = len == 4 ? 4 : hdr;
        return 0;
    }
    if (len < hdr) {
        *out_need = hdr;
        return 0;
    }
    dlen = be32_get(buf + hdr - 4);     /* `length` is the last field */
    if (dlen > max) {
        return -EBADMSG;
    }
    *out_need = hdr + dlen;
    return 0;
}

static int
decode_var(uint32_t cmd, const uint8_t *buf, size_t len, void *st)
{
    struct ptm_getstate *gs = st;
    struct ptm_getinfo *gi = st;
    uint32_t tot, dlen;

    if (cmd == CMD_GET_STATEBLOB) {
        if (len < CLIENT_GETSTATE_HDR) {
            return -EBADMSG;
        }
        tot = be32_get(buf + 8);
        dlen = be32_get(buf + 12);
        if (dlen > PTM_STATE_BLOB_SIZE || dlen > tot ||
            len != CLIENT_GETSTATE_HDR + dlen) {
            return -EBADMSG;
        }
        gs->u.resp.state_flags = be32_get(buf + 4);
        gs->u.resp.totlength = tot;
        gs->u.resp.length = dlen;
        memcpy(gs->u.resp.data, buf + CLIENT_GETSTATE_HDR, dlen);
        return 0;
    }
    if (len < CLIENT_GETINFO_HDR) {
        return -EBADMSG;
    }
    tot = be32_get(buf + 4);
    dlen = be32_get(buf + 8);
    if (dlen > PTM_GETINFO_SIZE || dlen > tot ||
        len != CLIENT_GETINFO_HDR + dlen) {
        return -EBADMSG;
    }
    gi->u.resp.totlength = tot;
    gi->u.resp.length = dlen;
    memcpy(gi->u.resp.buffer, buf + CLIENT_GETINFO_HDR, dlen);
    return 0;
}

/* Fixed-size success replies; -EBADMSG unless exactly the right size. */
static int
decode_fixed(uint32_t cmd, const uint8_t *buf, size_t len, void *st)
{
    struct ptm_setbuffersize *sb = st;

    if (len != fixed_resp_len(cmd)) {
        return -EBADMSG;
    }
    switch (cmd) {
    case CMD_GET_TPMESTABLISHED:
        ((struct ptm_est *)st)->u.resp.bit = buf[4];
        break;
    case CMD_GET_CONFIG:
        ((struct ptm_getconfig *)st)->u.resp.flags = be32_get(buf + 4);
        break;
    case CMD_SET_BUFFERSIZE:
        sb->u.resp.buffersize = be32_get(buf + 4);
        sb->u.resp.minsize = be32_get(buf + 8);
        sb->u.resp.maxsize = be32_get(buf + 12);
        break;
    default:
        break;
    }
    return 0;
}

int
client_decode_resp(uint32_t cmd, const uint8_t *buf, size_t len,
                   void *st, uint32_t *out_tpm_rc)
{
    size_t size = client_ctrl_struct_size(cmd);
    uint32_t rc;
    int r;

    if (size == 0 || len < 4) {
        return -EBADMSG;
    }
    rc = be32_get(buf);
    memset(st, 0, size);
    if (cmd == CMD_GET_CAPABILITY) {
        /* Socket form: result (always 0) + caps; CUSE form: u64 caps. */
        if (len != 8) {
            return -EBADMSG;
        }
        *(ptm_cap *)st = be32_get(buf + 4);
        *out_tpm_rc = rc;
        return 0;
    }
    ((struct ptm_init *)st)->u.resp.tpm_result = rc;
    if (rc != 0 && len == 4) {
        r = 0;                  /* error replies may be the bare result */
    } else if (cmd == CMD_GET_STATEBLOB || cmd == CMD_GET_INFO) {
        r = decode_var(cmd, buf, len, st);
    } else {
        r = decode_fixed(cmd, buf, len, st);
    }
    if (r == 0) {
        *out_tpm_rc = rc;
    }
    return r;
}

/*
 * Read one socket reply to cmd into a malloc'd buffer, growing it as the
 * header reveals the length.  Surplus bytes after a success reply make it
 * malformed; after an error result they are dropped (upstream servers may
 * answer a rejected SET_STATEBLOB before its data has been consumed).
 */
int
client_read_reply(struct client *c, uint32_t cmd, uint8_t **out_buf,
                  size_t *out_len)
{
    size_t cap = 64, len = 0, need = 4, n;
    uint8_t *buf = malloc(cap), *nb;
    int r = 0;

    while (buf && len < need) {
        if (cap < need + READ_SLACK) {
            cap = need + READ_SLACK;
            nb = realloc(buf, cap);
            if (!nb) {
                break;
            }
            buf = nb;
        }
        r = client_read_some(c, buf + len, cap - len, &n);
        if (r < 0) {
            goto fail;
        }
        len += n;
        r = client_resp_need(cmd, buf, len, &need);
        if (r < 0) {
            goto fail;
        }
    }
    if (!buf || len < need) {
        r = -ENOMEM;
        goto fail;
    }
    if (len > need && be32_get(buf) == 0) {
        r = -EBADMSG;
        goto fail;
    }
    *out_buf = buf;
    *out_len = need;
    return 0;
fail:
    free(buf);
    return r;
}

int
client_ctrl(struct client *c, uint32_t cmd, void *st, uint32_t *out_tpm_rc)
{
    uint8_t req[REQ_BUF_MAX];
    uint8_t *resp = NULL;
    size_t rlen = 0;
    int n, r;

    if (c->kind == CLIENT_DEVICE) {
        unsigned long nr = ctrl_cmd_to_ioctl(cmd);

        if (nr == 0) {
            return -EINVAL;
        }
        if (ioctl(c->fd, nr, st) < 0) {
            return -errno;
        }
        if (cmd == CMD_GET_CAPABILITY) {
            *out_tpm_rc = 0;
        } else {
            memcpy(out_tpm_rc, st, sizeof(*out_tpm_rc));
        }
        return 0;
    }
    n = client_encode_req(cmd, st, req, sizeof(req));
    if (n < 0) {
        return n;
    }
    /* One write: the server evaluates some commands on the first read. */
    r = client_write_all(c, req, (size_t)n);
    if (r == 0) {
        r = client_read_reply(c, cmd, &resp, &rlen);
    }
    if (r == 0) {
        r = client_decode_resp(cmd, resp, rlen, st, out_tpm_rc);
    }
    free(resp);
    return r;
}

int
client_check_tpm_resp(const uint8_t *buf, size_t len)
{
    if (len < 10) {
        return -EPROTO;
    }
    if (be32_get(buf + 2) != len) {
        return -EBADMSG;
    }
    return 0;
}

int
client_tpm_cmd(struct client *c, const uint8_t *cmd, size_t cmdlen,
               uint8_t *resp, size_t cap, size_t *out_len, int timeout_ms)
{
    int saved = c->timeout_ms;
    size_t len = 0, n, want = 10;
    int r;

    if (timeout_ms > 0) {
        c->timeout_ms = timeout_ms;
    }
    r = client_write_all(c, cmd, cmdlen);
    /* Read until the header's size field is satisfied. */
    while (r == 0 && len < want && len < cap) {
        r = client_read_some(c, resp + len, cap - len, &n);
        if (r == -ECONNRESET && len > 0) {
            r = -EPROTO;
        }
        if (r < 0) {
            break;
        }
        len += n;
        if (len >= 10) {
            want = be32_get(resp + 2);
            if (want < 10 || want > cap) {
                r = -EBADMSG;
            }
        }
    }
    c->timeout_ms = saved;
    if (r == 0) {
        r = client_check_tpm_resp(resp, len);
    }
    if (r == 0) {
        *out_len = len;
    }
    return r;
}
