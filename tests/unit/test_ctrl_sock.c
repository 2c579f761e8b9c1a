// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for ctrl_sock.c: the big-endian decoder (valid, short, long,
 * out-of-range and maximum-size bodies), the exact reply bytes, and the
 * request reader over a socketpair with ctrl_dispatch() wrapped
 * (-Wl,--wrap=ctrl_dispatch,--wrap=ctrl_after_reply) so no TPM is needed.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ctrl_sock.h"

/* ---- the wrapped engine ----------------------------------------------- */

static struct {
    unsigned int calls;
    uint32_t cmd;
    bool had_req;
    struct ctrl_req req;
    uint32_t result;            /* what the engine answers */
    uint64_t hashed;            /* HASH_DATA bytes seen */
    uint32_t max_chunk;
    uint8_t blob_first;
    uint32_t blob_len;
    unsigned int after_reply;
} eng_mock;

void __wrap_ctrl_dispatch(struct ctrl_engine *eng, uint32_t cmd,
                          const struct ctrl_req *req,
                          struct ctrl_resp *resp);
void __wrap_ctrl_after_reply(struct ctrl_engine *eng);

void
__wrap_ctrl_dispatch(struct ctrl_engine *eng, uint32_t cmd,
                     const struct ctrl_req *req, struct ctrl_resp *resp)
{
    (void)eng;
    memset(resp, 0, sizeof(*resp));
    eng_mock.calls++;
    eng_mock.cmd = cmd;
    eng_mock.had_req = req != NULL;
    if (req) {
        eng_mock.req = *req;
    }
    if (!req) {
        resp->result = TPM_BAD_PARAMETER;
        return;
    }
    if (cmd == CMD_HASH_DATA) {
        eng_mock.hashed += req->u.hash.len;
        if (req->u.hash.len > eng_mock.max_chunk) {
            eng_mock.max_chunk = req->u.hash.len;
        }
    }
    if (cmd == CMD_SET_STATEBLOB) {
        eng_mock.blob_len = req->u.setstate.len;
        eng_mock.blob_first = req->u.setstate.len ? req->u.setstate.data[0]
                                                  : 0;
    }
    if (cmd == CMD_GET_CAPABILITY) {
        resp->caps = 0x1FFFF;
    }
    resp->result = eng_mock.result;
}

void
__wrap_ctrl_after_reply(struct ctrl_engine *eng)
{
    (void)eng;
    eng_mock.after_reply++;
}

static int
setup(void **state)
{
    (void)state;
    memset(&eng_mock, 0, sizeof(eng_mock));
    return 0;
}

/* ---- decoder ---------------------------------------------------------- */

static void
test_ctrl_sock_decode_init_exact_size(void **state)
{
    static const uint8_t b[] = { 0, 0, 0, 1, 9 };
    struct ctrl_req r;

    (void)state;
    assert_int_equal(ctrl_sock_decode(CMD_INIT, b, 4, &r), 0);
    assert_int_equal(r.u.init_flags, 1);
    assert_int_equal(ctrl_sock_decode(CMD_INIT, b, 3, &r), -EBADMSG);
    assert_int_equal(ctrl_sock_decode(CMD_INIT, b, 5, &r), -EBADMSG);
}

static void
test_ctrl_sock_decode_res_only_must_be_empty(void **state)
{
    static const uint32_t cmds[] = { CMD_SHUTDOWN, CMD_HASH_START,
        CMD_HASH_END, CMD_CANCEL_TPM_CMD, CMD_STORE_VOLATILE, CMD_STOP };
    uint8_t b[1] = { 0 };
    struct ctrl_req r;

    (void)state;
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        assert_int_equal(ctrl_sock_decode(cmds[i], b, 0, &r), 0);
        assert_int_equal(r.cmd, cmds[i]);
        assert_int_equal(ctrl_sock_decode(cmds[i], b, 1, &r), -EBADMSG);
    }
    /* GET_CAPABILITY and SET_DATAFD ignore any body. */
    assert_int_equal(ctrl_sock_decode(CMD_GET_CAPABILITY, b, 1, &r), 0);
    assert_int_equal(ctrl_sock_decode(CMD_SET_DATAFD, b, 1, &r), 0);
}

static void
test_ctrl_sock_decode_locality_min_one_byte(void **state)
{
    static const uint8_t b[] = { 7, 0, 0, 0 };
    struct ctrl_req r;

    (void)state;
    assert_int_equal(ctrl_sock_decode(CMD_SET_LOCALITY, b, 0, &r),
                     -EBADMSG);
    assert_int_equal(ctrl_sock_decode(CMD_SET_LOCALITY, b, 1, &r), 0);
    assert_int_equal(r.u.loc, 7);   /* range is the engine's business */
    assert_int_equal(ctrl_sock_decode(CMD_RESET_TPMESTABLISHED, b, 4, &r),
                     0);
    assert_int_equal(r.u.loc, 7);
}

static void
test_ctrl_sock_decode_getstate_and_getinfo(void **state)
{
    uint8_t b[16] = { 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 1, 0 };
    struct ctrl_req r;

    (void)state;
    assert_int_equal(ctrl_sock_decode(CMD_GET_STATEBLOB, b, 11, &r),
                     -EBADMSG);
    assert_int_equal(ctrl_sock_decode(CMD_GET_STATEBLOB, b, 12, &r), 0);
    assert_int_equal(r.u.getstate.flags, 1);
    assert_int_equal(r.u.getstate.type, 3);
    assert_int_equal(r.u.getstate.offset, 256);
    memset(b, 0, sizeof(b));
    b[7] = 0x3;
    b[0] = 0x80;
    b[11] = 5;
    assert_int_equal(ctrl_sock_decode(CMD_GET_INFO, b, 15, &r), -EBADMSG);
    assert_int_equal(ctrl_sock_decode(CMD_GET_INFO, b, 16, &r), 0);
    assert_true(r.u.getinfo.flags == 0x8000000000000003ULL);
    assert_int_equal(r.u.getinfo.offset, 5);
}

static void
test_ctrl_sock_decode_u32_commands(void **state)
{
    static const uint8_t b[] = { 0, 0, 0x0b, 0xb8 };
    struct ctrl_req r;

    (void)state;
    assert_int_equal(ctrl_sock_decode(CMD_SET_BUFFERSIZE, b, 3, &r),
                     -EBADMSG);
    assert_int_equal(ctrl_sock_decode(CMD_SET_BUFFERSIZE, b, 4, &r), 0);
    assert_int_equal(r.u.buffersize, 3000);
    assert_int_equal(ctrl_sock_decode(CMD_LOCK_STORAGE, b, 2, &r),
                     -EBADMSG);
    assert_int_equal(ctrl_sock_decode(CMD_LOCK_STORAGE, b, 4, &r), 0);
    assert_int_equal(r.u.retries, 3000);
}

static void
test_ctrl_sock_decode_hash_data(void **state)
{
    uint8_t b[4 + 8] = { 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
    struct ctrl_req r;

    (void)state;
    assert_int_equal(ctrl_sock_decode(CMD_HASH_DATA, b, 3, &r), -EBADMSG);
    assert_int_equal(ctrl_sock_decode(CMD_HASH_DATA, b, 12, &r), 0);
    assert_int_equal(r.u.hash.len, 8);
    assert_ptr_equal(r.u.hash.data, b + 4);
    /* Fewer bytes than length: the part present (the reader streams). */
    assert_int_equal(ctrl_sock_decode(CMD_HASH_DATA, b, 6, &r), 0);
    assert_int_equal(r.u.hash.len, 2);
    /* More than length: refused. */
    b[3] = 7;
    assert_int_equal(ctrl_sock_decode(CMD_HASH_DATA, b, 12, &r), -EBADMSG);
}

static void
test_ctrl_sock_decode_setstate_sizes(void **state)
{
    size_t max = PTM_SET_BLOB_MAX;
    uint8_t *b = calloc(1, 12 + max + 1);
    struct ctrl_req r;

    (void)state;
    assert_non_null(b);
    b[7] = 1;
    be32_put(b + 8, 3);
    assert_int_equal(ctrl_sock_decode(CMD_SET_STATEBLOB, b, 11, &r),
                     -EBADMSG);
    assert_int_equal(ctrl_sock_decode(CMD_SET_STATEBLOB, b, 15, &r), 0);
    assert_int_equal(r.u.setstate.type, 1);
    assert_int_equal(r.u.setstate.len, 3);
    assert_false(r.u.setstate.chunked);
    assert_int_equal(ctrl_sock_decode(CMD_SET_STATEBLOB, b, 14, &r),
                     -EBADMSG);
    assert_int_equal(ctrl_sock_decode(CMD_SET_STATEBLOB, b, 16, &r),
                     -EBADMSG);
    be32_put(b + 8, (uint32_t)max);
    assert_int_equal(ctrl_sock_decode(CMD_SET_STATEBLOB, b, 12 + max, &r),
                     0);
    assert_int_equal(r.u.setstate.len, max);
    be32_put(b + 8, (uint32_t)max + 1);
    assert_int_equal(ctrl_sock_decode(CMD_SET_STATEBLOB, b, 13 + max, &r),
                     -E2BIG);
    be32_put(b + 8, UINT32_MAX);
    assert_int_equal(ctrl_sock_decode(CMD_SET_STATEBLOB, b, 12, &r),
                     -E2BIG);
    free(b);
}

static void
test_ctrl_sock_fixed_len_matches_spec(void **state)
{
    (void)state;
    assert_int_equal(ctrl_sock_fixed_len(CMD_INIT), 4);
    assert_int_equal(ctrl_sock_fixed_len(CMD_SET_LOCALITY), 1);
    assert_int_equal(ctrl_sock_fixed_len(CMD_RESET_TPMESTABLISHED), 1);
    assert_int_equal(ctrl_sock_fixed_len(CMD_GET_STATEBLOB), 12);
    assert_int_equal(ctrl_sock_fixed_len(CMD_SET_STATEBLOB), 12);
    assert_int_equal(ctrl_sock_fixed_len(CMD_HASH_DATA), 4);
    assert_int_equal(ctrl_sock_fixed_len(CMD_GET_INFO), 0);
    assert_int_equal(ctrl_sock_fixed_len(CMD_SET_BUFFERSIZE), 0);
    assert_int_equal(ctrl_sock_fixed_len(0xdead), 0);
}

/* ---- encoder ---------------------------------------------------------- */

static void
test_ctrl_sock_encode_capability_bytes(void **state)
{
    struct ctrl_resp resp = { .caps = 0x1FFFF };
    static const uint8_t want[] = { 0, 0, 0, 0, 0, 1, 0xff, 0xff };
    uint8_t hdr[CTRL_SOCK_RESP_HDR_MAX];
    const uint8_t *d;
    uint32_t dl;

    (void)state;
    assert_int_equal(ctrl_sock_encode(CMD_GET_CAPABILITY, &resp, hdr, &d,
                                      &dl), 8);
    assert_memory_equal(hdr, want, 8);
    assert_null(d);
    assert_int_equal(dl, 0);
}

static void
test_ctrl_sock_encode_fixed_replies(void **state)
{
    struct ctrl_resp resp = { .result = 0x3d, .est_bit = 1,
                              .config_flags = 3, .bufsize = 4096,
                              .minsize = 2808, .maxsize = 4096 };
    uint8_t hdr[CTRL_SOCK_RESP_HDR_MAX];
    const uint8_t *d;
    uint32_t dl;

    (void)state;
    assert_int_equal(ctrl_sock_encode(CMD_GET_TPMESTABLISHED, &resp, hdr,
                                      &d, &dl), 8);
    assert_memory_equal(hdr, "\0\0\0\x3d\x01\0\0\0", 8);
    assert_int_equal(ctrl_sock_encode(CMD_GET_CONFIG, &resp, hdr, &d, &dl),
                     8);
    assert_memory_equal(hdr, "\0\0\0\x3d\0\0\0\x03", 8);
    assert_int_equal(ctrl_sock_encode(CMD_SET_BUFFERSIZE, &resp, hdr, &d,
                                      &dl), 16);
    assert_memory_equal(hdr, "\0\0\0\x3d\0\0\x10\0\0\0\x0a\xf8\0\0\x10\0",
                        16);
    assert_int_equal(ctrl_sock_encode(CMD_INIT, &resp, hdr, &d, &dl), 4);
    assert_int_equal(ctrl_sock_encode(0x77, &resp, hdr, &d, &dl), 4);
    assert_memory_equal(hdr, "\0\0\0\x3d", 4);
}

static void
test_ctrl_sock_encode_getstate_variable(void **state)
{
    static const uint8_t blob[5000];
    struct ctrl_resp resp = { .state_flags = 2, .totlength = 6000,
                              .avail = sizeof(blob), .data = blob };
    uint8_t hdr[CTRL_SOCK_RESP_HDR_MAX];
    const uint8_t *d;
    uint32_t dl;

    (void)state;
    assert_int_equal(ctrl_sock_encode(CMD_GET_STATEBLOB, &resp, hdr, &d,
                                      &dl), 16);
    /* totlength on the socket = what follows (docs/control-channel.md §7.3),
     * not the whole blob */
    assert_memory_equal(hdr, "\0\0\0\0\0\0\0\x02\0\0\x13\x88\0\0\x13\x88",
                        16);
    assert_ptr_equal(d, blob);
    assert_int_equal(dl, 5000);
    /* An error: zeros and no data. */
    resp.result = TPM_RETRY;
    ctrl_sock_encode(CMD_GET_STATEBLOB, &resp, hdr, &d, &dl);
    assert_memory_equal(hdr, "\0\0\x08\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
    assert_null(d);
    assert_int_equal(dl, 0);
}

static void
test_ctrl_sock_encode_getinfo_variable(void **state)
{
    static const char json[] = "{}";
    struct ctrl_resp resp = { .totlength = 3, .avail = 3,
                              .data = (const uint8_t *)json };
    uint8_t hdr[CTRL_SOCK_RESP_HDR_MAX];
    const uint8_t *d;
    uint32_t dl;

    (void)state;
    assert_int_equal(ctrl_sock_encode(CMD_GET_INFO, &resp, hdr, &d, &dl),
                     12);
    assert_memory_equal(hdr, "\0\0\0\0\0\0\0\x03\0\0\0\x03", 12);
    assert_int_equal(dl, 3);
}

/* ---- reader ----------------------------------------------------------- */

struct pair {
    int srv, cli;
};

static void
pair_open(struct pair *p)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
                                sv), 0);
    p->srv = sv[0];
    p->cli = sv[1];
}

static void
pair_close(struct pair *p)
{
    close(p->srv);
    close(p->cli);
}

static int
serve(struct pair *p)
{
    struct ctrl_sock_io io = { .unix_socket = true };

    return ctrl_sock_serve(NULL, p->srv, &io);
}

static void
send_bytes(int fd, const void *b, size_t n)
{
    assert_int_equal(write(fd, b, n), (ssize_t)n);
}

static void
test_ctrl_sock_serve_init_reply(void **state)
{
    static const uint8_t req[] = { 0, 0, 0, 2, 0, 0, 0, 1 };
    uint8_t rep[8];
    struct pair p;

    (void)state;
    pair_open(&p);
    send_bytes(p.cli, req, sizeof(req));
    assert_int_equal(serve(&p), 0);
    assert_int_equal(eng_mock.cmd, CMD_INIT);
    assert_true(eng_mock.had_req);
    assert_int_equal(eng_mock.req.u.init_flags, 1);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), 4);
    assert_memory_equal(rep, "\0\0\0\0", 4);
    assert_int_equal(eng_mock.after_reply, 1);
    pair_close(&p);
}

static void
test_ctrl_sock_serve_short_request_times_out(void **state)
{
    static const uint8_t req[] = { 0, 0, 0, 2, 0, 0 };   /* INIT, 2 of 4 */
    uint8_t rep[8];
    struct pair p;

    (void)state;
    pair_open(&p);
    send_bytes(p.cli, req, sizeof(req));
    assert_int_equal(serve(&p), -ETIMEDOUT);
    assert_int_equal(eng_mock.calls, 0);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), -1);   /* no reply */
    pair_close(&p);
}

static void
test_ctrl_sock_serve_eof_before_code(void **state)
{
    struct pair p;

    (void)state;
    pair_open(&p);
    send_bytes(p.cli, "\0\0", 2);
    shutdown(p.cli, SHUT_WR);
    assert_int_equal(serve(&p), -ECONNRESET);
    assert_int_equal(eng_mock.calls, 0);
    pair_close(&p);
}

static void
test_ctrl_sock_serve_bad_size_answers(void **state)
{
    static const uint8_t req[] = { 0, 0, 0, 14, 0 };   /* STOP + 1 byte */
    uint8_t rep[8];
    struct pair p;

    (void)state;
    pair_open(&p);
    send_bytes(p.cli, req, sizeof(req));
    assert_int_equal(serve(&p), 0);
    assert_false(eng_mock.had_req);     /* engine saw a decode failure */
    assert_int_equal(read(p.cli, rep, sizeof(rep)), 4);
    assert_memory_equal(rep, "\0\0\0\x03", 4);
    pair_close(&p);
}

static void
test_ctrl_sock_serve_hash_streams_in_chunks(void **state)
{
    uint8_t *req = calloc(1, 8 + 10000);
    uint8_t rep[8];
    struct pair p;
    size_t off = 0;
    ssize_t n;

    (void)state;
    assert_non_null(req);
    be32_put(req, CMD_HASH_DATA);
    be32_put(req + 4, 10000);
    pair_open(&p);
    /* The socket buffer takes it all; larger than one 4104-byte read. */
    while (off < 8 + 10000) {
        n = write(p.cli, req + off, 8 + 10000 - off);
        assert_true(n > 0);
        off += (size_t)n;
    }
    assert_int_equal(serve(&p), 0);
    assert_int_equal(eng_mock.hashed, 10000);
    assert_true(eng_mock.max_chunk <= PTM_HDATA_SIZE);
    assert_true(eng_mock.calls >= 3);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), 4);
    assert_memory_equal(rep, "\0\0\0\0", 4);
    pair_close(&p);
    free(req);
}

static void
test_ctrl_sock_serve_hash_error_stops(void **state)
{
    uint8_t req[8 + 4200];
    uint8_t rep[8];
    struct pair p;

    (void)state;
    eng_mock.result = 0x26;
    memset(req, 'x', sizeof(req));
    be32_put(req, CMD_HASH_DATA);
    be32_put(req + 4, 10000);           /* more announced than sent */
    pair_open(&p);
    send_bytes(p.cli, req, sizeof(req));
    /* First chunk fails: reply, then the connection is out of step. */
    assert_int_equal(serve(&p), -EPIPE);
    assert_int_equal(eng_mock.calls, 1);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), 4);
    assert_memory_equal(rep, "\0\0\0\x26", 4);
    pair_close(&p);
}

static void
test_ctrl_sock_serve_setblob_whole(void **state)
{
    uint8_t req[16 + 6000];
    uint8_t rep[8];
    struct pair p;

    (void)state;
    memset(req, 0xab, sizeof(req));
    be32_put(req, CMD_SET_STATEBLOB);
    be32_put(req + 4, 0);
    be32_put(req + 8, 1);
    be32_put(req + 12, 6000);
    pair_open(&p);
    send_bytes(p.cli, req, sizeof(req));
    assert_int_equal(serve(&p), 0);
    assert_int_equal(eng_mock.calls, 1);
    assert_int_equal(eng_mock.blob_len, 6000);
    assert_int_equal(eng_mock.blob_first, 0xab);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), 4);
    pair_close(&p);
}

static void
test_ctrl_sock_serve_setblob_over_max(void **state)
{
    uint8_t req[16];
    uint8_t rep[8];
    struct pair p;

    (void)state;
    be32_put(req, CMD_SET_STATEBLOB);
    be32_put(req + 4, 0);
    be32_put(req + 8, 1);
    be32_put(req + 12, PTM_SET_BLOB_MAX + 1);
    pair_open(&p);
    send_bytes(p.cli, req, sizeof(req));
    assert_int_equal(serve(&p), -EPIPE);
    assert_int_equal(eng_mock.calls, 0);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), 4);
    assert_memory_equal(rep, "\0\0\0\x09", 4);
    pair_close(&p);
}

static void
test_ctrl_sock_serve_setblob_cut_short(void **state)
{
    uint8_t req[16 + 5000];
    uint8_t rep[8];
    struct pair p;

    (void)state;
    /* The first 4104 bytes arrived, then the peer closed: 7.4. */
    memset(req, 0, sizeof(req));
    be32_put(req, CMD_SET_STATEBLOB);
    be32_put(req + 8, 1);
    be32_put(req + 12, 20000);
    pair_open(&p);
    send_bytes(p.cli, req, sizeof(req));
    shutdown(p.cli, SHUT_WR);
    assert_int_equal(serve(&p), -EPIPE);
    assert_int_equal(eng_mock.calls, 0);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), 4);
    assert_memory_equal(rep, "\0\0\0\x03", 4);
    pair_close(&p);
}

static void
test_ctrl_sock_serve_setblob_first_part_missing(void **state)
{
    uint8_t req[16 + 100];
    uint8_t rep[8];
    struct pair p;

    (void)state;
    /* EOF within the first 4104 bytes: dropped without reply
     * (docs/control-channel.md §7.10). */
    memset(req, 0, sizeof(req));
    be32_put(req, CMD_SET_STATEBLOB);
    be32_put(req + 8, 1);
    be32_put(req + 12, 200);
    pair_open(&p);
    send_bytes(p.cli, req, sizeof(req));
    shutdown(p.cli, SHUT_WR);
    assert_int_equal(serve(&p), -ECONNRESET);
    assert_int_equal(eng_mock.calls, 0);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), -1);    /* no reply */
    pair_close(&p);
}

static void
test_ctrl_sock_serve_datafd(void **state)
{
    uint8_t code[4] = { 0, 0, 0, CMD_SET_DATAFD };
    union {
        struct cmsghdr align;
        uint8_t b[CMSG_SPACE(sizeof(int))];
    } cbuf;
    struct iovec iov = { .iov_base = code, .iov_len = 4 };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                         .msg_control = cbuf.b,
                         .msg_controllen = sizeof(cbuf.b) };
    struct ctrl_sock_io io = { .unix_socket = true };
    struct cmsghdr *c;
    uint8_t rep[8];
    struct pair p;
    int fds[2];

    (void)state;
    pair_open(&p);
    assert_int_equal(pipe(fds), 0);
    c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fds[0], sizeof(int));
    assert_int_equal(sendmsg(p.cli, &mh, 0), 4);
    assert_int_equal(ctrl_sock_serve(NULL, p.srv, &io), 0);
    assert_true(io.new_datafd >= 0);
    close(io.new_datafd);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), 4);
    assert_memory_equal(rep, "\0\0\0\0", 4);
    /* No fd: TPM_BAD_PARAMETER; with a data channel: TPM_IOERROR. */
    send_bytes(p.cli, code, 4);
    assert_int_equal(ctrl_sock_serve(NULL, p.srv, &io), 0);
    assert_int_equal(io.new_datafd, -1);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), 4);
    assert_memory_equal(rep, "\0\0\0\x03", 4);
    io.has_data_channel = true;
    assert_int_equal(sendmsg(p.cli, &mh, 0), 4);
    assert_int_equal(ctrl_sock_serve(NULL, p.srv, &io), 0);
    assert_int_equal(io.new_datafd, -1);
    assert_int_equal(read(p.cli, rep, sizeof(rep)), 4);
    assert_memory_equal(rep, "\0\0\0\x1f", 4);
    close(fds[0]);
    close(fds[1]);
    pair_close(&p);
    assert_int_equal(eng_mock.calls, 0);   /* transport-level only */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ctrl_sock_decode_init_exact_size),
        cmocka_unit_test(test_ctrl_sock_decode_res_only_must_be_empty),
        cmocka_unit_test(test_ctrl_sock_decode_locality_min_one_byte),
        cmocka_unit_test(test_ctrl_sock_decode_getstate_and_getinfo),
        cmocka_unit_test(test_ctrl_sock_decode_u32_commands),
        cmocka_unit_test(test_ctrl_sock_decode_hash_data),
        cmocka_unit_test(test_ctrl_sock_decode_setstate_sizes),
        cmocka_unit_test(test_ctrl_sock_fixed_len_matches_spec),
        cmocka_unit_test(test_ctrl_sock_encode_capability_bytes),
        cmocka_unit_test(test_ctrl_sock_encode_fixed_replies),
        cmocka_unit_test(test_ctrl_sock_encode_getstate_variable),
        cmocka_unit_test(test_ctrl_sock_encode_getinfo_variable),
        cmocka_unit_test_setup(test_ctrl_sock_serve_init_reply, setup),
        cmocka_unit_test_setup(test_ctrl_sock_serve_short_request_times_out,
                               setup),
        cmocka_unit_test_setup(test_ctrl_sock_serve_eof_before_code, setup),
        cmocka_unit_test_setup(test_ctrl_sock_serve_bad_size_answers, setup),
        cmocka_unit_test_setup(test_ctrl_sock_serve_hash_streams_in_chunks,
                               setup),
        cmocka_unit_test_setup(test_ctrl_sock_serve_hash_error_stops, setup),
        cmocka_unit_test_setup(test_ctrl_sock_serve_setblob_whole, setup),
        cmocka_unit_test_setup(test_ctrl_sock_serve_setblob_over_max, setup),
        cmocka_unit_test_setup(test_ctrl_sock_serve_setblob_cut_short,
                               setup),
        cmocka_unit_test_setup(
            test_ctrl_sock_serve_setblob_first_part_missing, setup),
        cmocka_unit_test_setup(test_ctrl_sock_serve_datafd, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
