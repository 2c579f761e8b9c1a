// SPDX-License-Identifier: BSD-3-Clause
/* Socket (big-endian) encoding of control commands and the request reader. */
#include "ctrl_sock.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "fdio.h"
#include "log.h"

size_t
ctrl_sock_fixed_len(uint32_t cmd)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);

    return d ? d->sock_fixed : 0;
}

/* Callers: anyone who can connect to the control socket. */
int
ctrl_sock_decode(uint32_t cmd, const uint8_t *body, size_t len,
                 struct ctrl_req *out)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);
    uint32_t n;

    memset(out, 0, sizeof(*out));
    out->cmd = cmd;
    if (d && (len < d->sock_min || (d->sock_exact && len != d->sock_min))) {
        return -EBADMSG;
    }
    switch (cmd) {
    case CMD_INIT:
        out->u.init_flags = be32_get(body);
        break;
    case CMD_SET_LOCALITY:
    case CMD_RESET_TPMESTABLISHED:
        out->u.loc = body[0];
        break;
    case CMD_HASH_DATA:
        /* The data present; the reader streams the rest
         * (docs/control-channel.md §7.7). */
        n = be32_get(body);
        if (len - 4 > n) {
            return -EBADMSG;
        }
        out->u.hash.data = body + 4;
        out->u.hash.len = (uint32_t)(len - 4);
        break;
    case CMD_GET_STATEBLOB:
        out->u.getstate.flags = be32_get(body);
        out->u.getstate.type = be32_get(body + 4);
        out->u.getstate.offset = be32_get(body + 8);
        break;
    case CMD_SET_STATEBLOB:
        n = be32_get(body + 8);
        if (n > PTM_SET_BLOB_MAX) {
            return -E2BIG;
        }
        if (len - 12 != n) {
            return -EBADMSG;
        }
        out->u.setstate.flags = be32_get(body);
        out->u.setstate.type = be32_get(body + 4);
        out->u.setstate.data = body + 12;
        out->u.setstate.len = n;
        out->u.setstate.chunked = false;
        break;
    case CMD_SET_BUFFERSIZE:
        out->u.buffersize = be32_get(body);
        break;
    case CMD_GET_INFO:
        out->u.getinfo.flags = be64_get(body);
        out->u.getinfo.offset = be32_get(body + 8);
        break;
    case CMD_LOCK_STORAGE:
        out->u.retries = be32_get(body);
        break;
    default:
        break;      /* no body, or ignored */
    }
    return 0;
}

size_t
ctrl_sock_encode(uint32_t cmd, const struct ctrl_resp *resp, uint8_t *hdr,
                 const uint8_t **out_data, uint32_t *out_data_len)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);
    size_t len = d ? d->sock_resp : sizeof(ptm_res);

    *out_data = NULL;
    *out_data_len = 0;
    memset(hdr, 0, CTRL_SOCK_RESP_HDR_MAX);
    if (cmd == CMD_GET_CAPABILITY) {
        /* 5.1: result 0 then the caps; QEMU reads it as one BE64. */
        be32_put(hdr + 4, (uint32_t)resp->caps);
        return len;
    }
    be32_put(hdr, resp->result);
    if (d && d->sock_resp_data) {
        /* 7.3, 7.11: the data follows a success; zeros after an error. */
        if (resp->result != 0) {
            return len;
        }
        *out_data = resp->data;
        *out_data_len = resp->data ? resp->avail : 0;
    }
    switch (cmd) {
    case CMD_GET_TPMESTABLISHED:
        hdr[4] = resp->est_bit;
        break;
    case CMD_GET_STATEBLOB:
        /* Everything from the offset comes in this one reply. */
        be32_put(hdr + 4, resp->state_flags);
        be32_put(hdr + 8, resp->avail);
        be32_put(hdr + 12, resp->avail);
        break;
    case CMD_GET_CONFIG:
        be32_put(hdr + 4, resp->config_flags);
        break;
    case CMD_SET_BUFFERSIZE:
        be32_put(hdr + 4, resp->bufsize);
        be32_put(hdr + 8, resp->minsize);
        be32_put(hdr + 12, resp->maxsize);
        break;
    case CMD_GET_INFO:
        be32_put(hdr + 4, resp->totlength);
        be32_put(hdr + 8, resp->avail);
        break;
    default:
        break;      /* the result alone */
    }
    return len;
}

/* ---- the reader ---------------------------------------------------- */

/* Let the front end work while we wait; false: give the request up. */
static bool
serve_other(const struct ctrl_sock_io *io)
{
    return !io || !io->serve_other || io->serve_other(io->other_arg);
}

/*
 * Wait for events on fd until deadline, serving io's other fd meanwhile:
 * 0, -ETIMEDOUT, -ECANCELED or -errno.
 */
static int
wait_fd(int fd, short events, int64_t deadline,
        const struct ctrl_sock_io *io)
{
    struct pollfd p[2] = { { .fd = fd, .events = events } };
    struct timespec ts;
    int64_t left;
    nfds_t n;
    int r;

    for (;;) {
        left = deadline - fd_clock_ms();
        if (left <= 0) {
            return -ETIMEDOUT;
        }
        n = 1;
        p[0].revents = 0;
        if (io && io->serve_other && io->other_fd >= 0) {
            p[1].fd = io->other_fd;
            p[1].events = POLLIN;
            p[1].revents = 0;
            n = 2;
        }
        ts.tv_sec = left / 1000;
        ts.tv_nsec = (left % 1000) * 1000000;
        r = ppoll(p, n, &ts, io ? io->sigmask : NULL);
        if (r < 0 && errno != EINTR) {
            return -errno;
        }
        if (r < 0 || (n == 2 && p[1].revents)) {
            if (!serve_other(io)) {
                return -ECANCELED;
            }
        }
        if (r > 0 && p[0].revents) {
            return 0;   /* readable, writable, hung up: the call tells */
        }
    }
}

/* Keep the first fd passed with SCM_RIGHTS in *io_fd, close the rest. */
static void
take_fds(struct msghdr *mh, int *io_fd)
{
    struct cmsghdr *c;
    size_t n;
    int fd;

    for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(sizeof(int))) {
            continue;
        }
        n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < n; i++) {
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*io_fd < 0 && fd >= 0) {
                *io_fd = fd;
            } else if (fd >= 0) {
                close(fd);
            }
        }
    }
}

/*
 * Receive up to len bytes before deadline (and an idle limit when idle_ms
 * > 0).  Returns the count, 0 at end of stream, -ETIMEDOUT or -errno.
 */
static ssize_t
recv_some(int fd, uint8_t *buf, size_t len, int64_t deadline, int *io_fd,
          const struct ctrl_sock_io *io)
{
    union {
        struct cmsghdr align;
        uint8_t b[CMSG_SPACE(sizeof(int) * 4)];
    } cbuf;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr mh;
    ssize_t n;
    int r;

    for (;;) {
        r = wait_fd(fd, POLLIN, deadline, io);
        if (r < 0) {
            return r;
        }
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        if (io_fd) {
            mh.msg_control = cbuf.b;
            mh.msg_controllen = sizeof(cbuf.b);
        }
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
        if (n < 0 && errno == ENOTSOCK) {
            n = read(fd, buf, len);
        } else if (n >= 0 && io_fd) {
            take_fds(&mh, io_fd);
        }
        if (n >= 0) {
            return n;
        }
        if (errno != EAGAIN && errno != EINTR) {
            return -errno;
        }
    }
}

/*
 * Write both buffers before the reply deadline: 0 or -EPIPE.  They go out
 * in one gathered send, so a client doing a single read (upstream's
 * swtpm_setup, swtpm_ioctl) sees the whole reply; only a reply larger
 * than the socket buffer takes more than one.
 */
static int
send_all(int fd, struct iovec *iov, int iovcnt, int64_t deadline,
         const struct ctrl_sock_io *io)
{
    struct msghdr mh;
    ssize_t n;
    size_t k;

    while (iovcnt > 0) {
        if (iov->iov_len == 0) {
            iov++;
            iovcnt--;
            continue;
        }
        if (wait_fd(fd, POLLOUT, deadline, io) < 0) {
            return -EPIPE;
        }
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = iov;
        mh.msg_iovlen = (size_t)iovcnt;
        n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == ENOTSOCK) {
            n = writev(fd, iov, iovcnt);
        }
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                continue;
            }
            return -EPIPE;
        }
        for (k = (size_t)n; iovcnt > 0 && k >= iov->iov_len; iovcnt--) {
            k -= iov->iov_len;
            iov++;
        }
        if (iovcnt > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + k;
            iov->iov_len -= k;
        }
    }
    return 0;
}

static int
send_reply(struct ctrl_engine *eng, int fd, uint32_t cmd,
           const struct ctrl_resp *resp, const struct ctrl_sock_io *io)
{
    uint8_t hdr[CTRL_SOCK_RESP_HDR_MAX];
    const uint8_t *data;
    uint32_t dlen;
    int64_t deadline = fd_clock_ms() + CTRL_SOCK_WRITE_TIMEOUT_MS;
    struct iovec iov[2];
    size_t hlen;
    int r;

    hlen = ctrl_sock_encode(cmd, resp, hdr, &data, &dlen);
    iov[0].iov_base = hdr;
    iov[0].iov_len = hlen;
    iov[1].iov_base = (void *)data;
    iov[1].iov_len = dlen;
    r = send_all(fd, iov, 2, deadline, io);
    ctrl_after_reply(eng);
    if (r < 0) {
        log_debug("control reply to %s not sent", ctrl_cmd_name(cmd));
    }
    return r;
}

/* Bytes of the first buffer a request needs before it is decoded. */
static size_t
first_need(const uint8_t *buf, size_t have)
{
    uint32_t cmd = be32_get(buf);
    size_t need = 4 + ctrl_sock_fixed_len(cmd);
    uint64_t want;

    if (have < need) {
        return need;
    }
    if (cmd == CMD_HASH_DATA) {
        want = 8 + (uint64_t)be32_get(buf + 4);
    } else if (cmd == CMD_SET_STATEBLOB) {
        want = 16 + (uint64_t)be32_get(buf + 12);
        if (be32_get(buf + 12) > PTM_SET_BLOB_MAX) {
            return need;    /* refused at once, body never read */
        }
    } else {
        return need;
    }
    return want < CTRL_SOCK_BUF_MAX ? (size_t)want : CTRL_SOCK_BUF_MAX;
}

/* Read exactly len more bytes of a streamed body. */
static int
stream_read(int fd, uint8_t *buf, size_t len, int64_t total_deadline,
            const struct ctrl_sock_io *io)
{
    int64_t deadline;
    ssize_t n;

    while (len > 0) {
        deadline = fd_clock_ms() + CTRL_SOCK_STREAM_IDLE_MS;
        if (deadline > total_deadline) {
            deadline = total_deadline;
        }
        n = recv_some(fd, buf, len, deadline, NULL, io);
        if (n == 0) {
            return -ECONNRESET;
        }
        if (n < 0) {
            return n == -ETIMEDOUT ? -ETIMEDOUT : -EIO;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* 7.7: hash the data of the first read, then stream the rest in chunks. */
static int
serve_hash(struct ctrl_engine *eng, int fd, const uint8_t *buf, size_t have,
           struct ctrl_resp *resp, const struct ctrl_sock_io *io)
{
    uint8_t chunk[PTM_HDATA_SIZE];
    int64_t total = fd_clock_ms() + CTRL_SOCK_STREAM_TOTAL_MS;
    struct ctrl_req req;
    uint32_t left;
    int r;

    r = ctrl_sock_decode(CMD_HASH_DATA, buf + 4, have - 4, &req);
    ctrl_dispatch(eng, CMD_HASH_DATA, r < 0 ? NULL : &req, resp);
    if (r < 0) {
        return 0;   /* more than length bytes: nothing else to read */
    }
    left = be32_get(buf + 4) - req.u.hash.len;
    while (left > 0 && resp->result == 0) {
        req.u.hash.len = left < sizeof(chunk) ? left : sizeof(chunk);
        r = stream_read(fd, chunk, req.u.hash.len, total, io);
        if (r == -ECONNRESET) {
            resp->result = TPM_IOERROR;
            return -EPIPE;
        }
        if (r < 0) {
            return r == -ETIMEDOUT ? -ETIMEDOUT : -ECONNRESET;
        }
        req.u.hash.data = chunk;
        ctrl_dispatch(eng, CMD_HASH_DATA, &req, resp);
        left -= req.u.hash.len;
    }
    explicit_bzero(chunk, sizeof(chunk));
    /* An error with data still on the way: the stream is out of step. */
    return left > 0 ? -EPIPE : 0;
}

/* 7.4: collect the whole blob (<= PTM_SET_BLOB_MAX), then run it. */
static int
serve_setblob(struct ctrl_engine *eng, int fd, const uint8_t *buf,
              size_t have, struct ctrl_resp *resp,
              const struct ctrl_sock_io *io)
{
    uint32_t len = be32_get(buf + 12);
    size_t inbuf = have - 16;
    struct ctrl_req req;
    uint8_t *body;
    int r;

    if (len > PTM_SET_BLOB_MAX) {
        log_debug("control client sent a %u-byte state blob; the limit "
                  "is %u bytes", len, (unsigned int)PTM_SET_BLOB_MAX);
        memset(resp, 0, sizeof(*resp));
        resp->result = TPM_FAIL;
        return -EPIPE;
    }
    if (inbuf > len) {
        inbuf = len;    /* the rest of that read is discarded
                         * (docs/control-channel.md §7.10) */
    }
    body = malloc(12 + (size_t)len);
    if (!body) {
        memset(resp, 0, sizeof(*resp));
        resp->result = TPM_FAIL;
        return -EPIPE;
    }
    memcpy(body, buf + 4, 12 + inbuf);
    r = stream_read(fd, body + 12 + inbuf, len - inbuf,
                    fd_clock_ms() + CTRL_SOCK_STREAM_TOTAL_MS, io);
    if (r == 0) {
        r = ctrl_sock_decode(CMD_SET_STATEBLOB, body, 12 + (size_t)len,
                             &req);
        ctrl_dispatch(eng, CMD_SET_STATEBLOB, r < 0 ? NULL : &req, resp);
        r = 0;
    } else if (r == -ECONNRESET) {
        memset(resp, 0, sizeof(*resp));
        resp->result = TPM_BAD_PARAMETER;
        r = -EPIPE;
    } else {
        r = r == -ETIMEDOUT ? -ETIMEDOUT : -ECONNRESET;
    }
    explicit_bzero(body, 12 + (size_t)len);
    free(body);
    return r;
}

/*
 * The stream is out of step after a reply (rejected or cut-short body):
 * stop sending and swallow what the client still sends for a moment, so
 * closing does not reset the connection before it has read the reply.
 */
static void
drain_for_close(int fd, const struct ctrl_sock_io *io)
{
    uint8_t sink[4096];
    int64_t deadline = fd_clock_ms() + 200;

    shutdown(fd, SHUT_WR);
    while (recv_some(fd, sink, sizeof(sink), deadline, NULL, io) > 0) {
    }
}

/* 7.9: the fd passed along with the request becomes the data channel. */
static void
serve_datafd(struct ctrl_sock_io *io, int *passed_fd, struct ctrl_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    if (*passed_fd < 0) {
        resp->result = TPM_BAD_PARAMETER;
    } else if (io->has_data_channel) {
        resp->result = TPM_IOERROR;
    } else {
        io->new_datafd = *passed_fd;
        *passed_fd = -1;
    }
}

int
ctrl_sock_serve(struct ctrl_engine *eng, int fd, struct ctrl_sock_io *io)
{
    uint8_t buf[CTRL_SOCK_BUF_MAX];
    int64_t deadline = fd_clock_ms() + CTRL_SOCK_REQ_TIMEOUT_MS;
    struct ctrl_resp resp;
    struct ctrl_req req;
    int passed_fd = -1, r = 0, sr;
    size_t have = 0;
    uint32_t cmd;
    ssize_t n;

    io->new_datafd = -1;
    while (have < 4 || have < first_need(buf, have)) {
        n = recv_some(fd, buf + have, sizeof(buf) - have, deadline,
                      io->unix_socket ? &passed_fd : NULL, io);
        if (n <= 0) {
            /* Nothing at all within the deadline is a stall too. */
            r = n == -ETIMEDOUT || n == -ECANCELED ? (int)n : -ECONNRESET;
            goto out;
        }
        have += (size_t)n;
    }
    cmd = be32_get(buf);
    switch (cmd) {
    case CMD_SET_DATAFD:
        serve_datafd(io, &passed_fd, &resp);
        break;
    case CMD_HASH_DATA:
        r = serve_hash(eng, fd, buf, have, &resp, io);
        break;
    case CMD_SET_STATEBLOB:
        r = serve_setblob(eng, fd, buf, have, &resp, io);
        break;
    default:
        sr = ctrl_sock_decode(cmd, buf + 4, have - 4, &req);
        ctrl_dispatch(eng, cmd, sr < 0 ? NULL : &req, &resp);
        break;
    }
    if (r == -ECONNRESET || r == -ETIMEDOUT) {
        goto out;       /* cut short or stalled: no reply
                         * (docs/control-channel.md §7.10) */
    }
    if (send_reply(eng, fd, cmd, &resp, io) < 0) {
        r = -EPIPE;
    } else if (r == -EPIPE) {
        drain_for_close(fd, io);
    }
out:
    if (passed_fd >= 0) {
        close(passed_fd);
    }
    explicit_bzero(buf, sizeof(buf));
    return r;
}
