// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer harness: the socket control request reader ctrl_sock_serve()
 * (request assembly, streamed HASH_DATA and SET_STATEBLOB bodies, fd
 * passing, replies) on a real socketpair, with ctrl_dispatch() and
 * ctrl_after_reply() replaced (-Wl,--wrap, fuzz_ctrl_sock_serve.ldflags)
 * by a fake engine that checks what it is handed.
 *
 * Input byte 0: bit 0 Unix socket (fd passing on), bit 1 a data channel
 * exists, bit 2 pass an fd with the stream, bit 3 the engine answers
 * TPM_FAIL instead of success.  The rest is what the client sends before
 * it shuts down its side; requests are served until the reader gives up.
 * Also checks that no passed fd leaks.
 */
#include <assert.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ctrl_sock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void __wrap_ctrl_dispatch(struct ctrl_engine *eng, uint32_t cmd,
                          const struct ctrl_req *req,
                          struct ctrl_resp *resp);
void __wrap_ctrl_after_reply(struct ctrl_engine *eng);

static uint32_t engine_result;
static uint8_t reply_data[200];
static volatile unsigned sink;

static void
touch(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sink += p[i];
    }
}

void
__wrap_ctrl_dispatch(struct ctrl_engine *eng, uint32_t cmd,
                     const struct ctrl_req *req, struct ctrl_resp *resp)
{
    (void)eng;
    memset(resp, 0, sizeof(*resp));
    resp->result = req ? engine_result : TPM_BAD_PARAMETER;
    if (!req) {
        return;
    }
    assert(req->cmd == cmd);
    if (cmd == CMD_HASH_DATA) {
        assert(req->u.hash.len <= PTM_HDATA_SIZE);
        touch(req->u.hash.data, req->u.hash.len);
    } else if (cmd == CMD_SET_STATEBLOB) {
        assert(req->u.setstate.len <= PTM_SET_BLOB_MAX);
        touch(req->u.setstate.data, req->u.setstate.len);
    } else if (cmd == CMD_GET_STATEBLOB || cmd == CMD_GET_INFO) {
        resp->data = reply_data;
        resp->avail = sizeof(reply_data);
        resp->totlength = sizeof(reply_data);
    }
}

void
__wrap_ctrl_after_reply(struct ctrl_engine *eng)
{
    (void)eng;
}

/* Send the stream, with an fd attached to the first byte if asked. */
static void
send_stream(int peer, const uint8_t *p, size_t n, bool pass_fd)
{
    union {
        struct cmsghdr align;
        uint8_t b[CMSG_SPACE(sizeof(int))];
    } cbuf;
    struct iovec iov = { .iov_base = (void *)p, .iov_len = n ? 1 : 0 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    struct cmsghdr *c;
    int fd = -1;

    if (pass_fd && n) {
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert(fd >= 0);
        mh.msg_control = cbuf.b;
        mh.msg_controllen = sizeof(cbuf.b);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        assert(sendmsg(peer, &mh, 0) == 1);
        close(fd);
        p++;
        n--;
    }
    while (n) {
        ssize_t w = send(peer, p, n, MSG_NOSIGNAL);
        assert(w > 0);
        p += w;
        n -= (size_t)w;
    }
    shutdown(peer, SHUT_WR);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t drain[65536];
    struct ctrl_engine eng;
    struct ctrl_sock_io io;
    int sv[2], probe, r, i;
    int bufsz = 1 << 20;

    /* The stream must fit the socket buffer: we write it all up front. */
    if (size < 1 || size > 600 * 1024) {
        return 0;
    }
    probe = dup(0);
    assert(probe >= 0);
    close(probe);
    assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));
    setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
    engine_result = (data[0] & 8) ? TPM_FAIL : 0;
    memset(&eng, 0, sizeof(eng));
    eng.fe = CTRL_FE_SOCKET;
    send_stream(sv[1], data + 1, size - 1, data[0] & 4);

    for (i = 0; i < 64; i++) {
        memset(&io, 0, sizeof(io));
        io.unix_socket = data[0] & 1;
        io.has_data_channel = data[0] & 2;
        r = ctrl_sock_serve(&eng, sv[0], &io);
        if (io.new_datafd >= 0) {
            assert(io.unix_socket && !io.has_data_channel);
            close(io.new_datafd);
        }
        while (recv(sv[1], drain, sizeof(drain), MSG_DONTWAIT) > 0) {
        }
        if (r < 0) {
            break;
        }
    }
    close(sv[0]);
    close(sv[1]);
    /* Every fd the reader was passed is closed or handed back. */
    probe = dup(0);
    assert(probe >= 0);
    close(probe);
    assert(probe == sv[0] || probe < sv[0]);
    return 0;
}
