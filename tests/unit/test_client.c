// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for the control/TPM client helper (src/common/client.c,
 * client_blob.c):
 * --tcp parsing, socket request encoding, reply decoding with short, long
 * and garbage input, and the I/O paths over a socketpair.  The ioctl()
 * form is checked through -Wl,--wrap=ioctl.  Byte vectors are written by
 * hand from docs/control-channel.md §5 and §7.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "client.h"

/* ---- ioctl() stand-in: records the request, fills a reply ---- */

int __wrap_ioctl(int fd, unsigned long request, void *arg);

/* A fake CUSE device's state blob for GET/SET_STATEBLOB ioctls. */
static uint8_t dev_blob[7000];
static uint32_t dev_blob_len;
static unsigned int dev_ioctls;
static uint32_t dev_fail_at;        /* answer TPM_FAIL at this ioctl */
static uint32_t dev_bad_length;     /* GET: claim this length if set */
static uint32_t dev_set_lens[8];

static int
fake_get_piece(struct ptm_getstate *gs)
{
    uint32_t off = gs->u.req.offset, n;

    assert_int_equal(gs->u.req.state_flags, PTM_STATE_FLAG_DECRYPTED);
    assert_int_equal(gs->u.req.type, PTM_BLOB_TYPE_VOLATILE);
    assert_true(off <= dev_blob_len);
    n = dev_blob_len - off < PTM_STATE_BLOB_SIZE ? dev_blob_len - off
                                                 : PTM_STATE_BLOB_SIZE;
    dev_ioctls++;
    memset(gs, 0, sizeof(*gs));
    if (dev_ioctls == dev_fail_at) {
        gs->u.resp.tpm_result = TPM_FAIL;
        return 0;
    }
    gs->u.resp.totlength = dev_blob_len;
    gs->u.resp.length = dev_bad_length ? dev_bad_length : n;
    memcpy(gs->u.resp.data, dev_blob + off, n);
    return 0;
}

static int
fake_set_piece(struct ptm_setstate *ss)
{
    uint32_t n = ss->u.req.length;

    assert_int_equal(ss->u.req.type, PTM_BLOB_TYPE_PERMANENT);
    assert_true(n <= PTM_STATE_BLOB_SIZE);
    assert_true(dev_blob_len + n <= sizeof(dev_blob));
    assert_true(dev_ioctls < 8);
    memcpy(dev_blob + dev_blob_len, ss->u.req.data, n);
    dev_blob_len += n;
    dev_set_lens[dev_ioctls++] = n;
    ss->u.resp.tpm_result = dev_ioctls == dev_fail_at ? TPM_FAIL : 0;
    return 0;
}

static void
fake_dev_reset(uint32_t len)
{
    for (size_t i = 0; i < sizeof(dev_blob); i++) {
        dev_blob[i] = (uint8_t)(i * 7 + 1);
    }
    dev_blob_len = len;
    dev_ioctls = 0;
    dev_fail_at = 0;
    dev_bad_length = 0;
    memset(dev_set_lens, 0, sizeof(dev_set_lens));
}
static unsigned long last_request;

int
__wrap_ioctl(int fd, unsigned long request, void *arg)
{
    last_request = request;
    if (request == PTM_GET_CAPABILITY) {
        *(ptm_cap *)arg = 0x6fff;
        return 0;
    }
    if (request == PTM_GET_STATEBLOB) {
        return fake_get_piece(arg);
    }
    if (request == PTM_SET_STATEBLOB) {
        return fake_set_piece(arg);
    }
    if (request == PTM_INIT) {
        struct ptm_init *init = arg;

        /* Host order in, result written in place. */
        assert_int_equal(init->u.req.init_flags,
                         PTM_INIT_FLAG_DELETE_VOLATILE);
        init->u.resp.tpm_result = TPM_FAIL;
        return 0;
    }
    errno = ENOTTY;
    return -1;
}

/* ---- client_parse_tcp ---- */

static void
test_client_parse_tcp_forms(void **state)
{
    struct client_target t;

    assert_int_equal(client_parse_tcp("example.org:1234", 6546, &t), 0);
    assert_string_equal(t.host, "example.org");
    assert_int_equal(t.port, 1234);
    assert_int_equal(t.kind, CLIENT_TCP);

    assert_int_equal(client_parse_tcp(":2321", 6546, &t), 0);
    assert_string_equal(t.host, "127.0.0.1");
    assert_int_equal(t.port, 2321);

    assert_int_equal(client_parse_tcp("localhost", 6546, &t), 0);
    assert_string_equal(t.host, "localhost");
    assert_int_equal(t.port, 6546);

    assert_int_equal(client_parse_tcp("host:", 6545, &t), 0);
    assert_int_equal(t.port, 6545);

    assert_int_equal(client_parse_tcp(":", 6545, &t), 0);
    assert_string_equal(t.host, "127.0.0.1");

    /* Split at the last colon; brackets are stripped. */
    assert_int_equal(client_parse_tcp("[::1]:99", 1, &t), 0);
    assert_string_equal(t.host, "::1");
    assert_int_equal(t.port, 99);
    assert_int_equal(client_parse_tcp("fe80::1:65535", 1, &t), 0);
    assert_string_equal(t.host, "fe80::1");
    assert_int_equal(t.port, 65535);
}

static void
test_client_parse_tcp_bad(void **state)
{
    struct client_target t;
    char longhost[400];

    assert_int_equal(client_parse_tcp("h:65536", 1, &t), -ERANGE);
    assert_int_equal(client_parse_tcp("h:0", 1, &t), -ERANGE);
    assert_int_equal(client_parse_tcp("h:abc", 1, &t), -EINVAL);
    assert_int_equal(client_parse_tcp("h:12x", 1, &t), -EINVAL);
    assert_int_equal(client_parse_tcp("h:-1", 1, &t), -EINVAL);
    memset(longhost, 'a', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    assert_int_equal(client_parse_tcp(longhost, 1, &t), -ERANGE);
}

/* ---- client_encode_req ---- */

static void
test_client_encode_req_fixed(void **state)
{
    uint8_t out[64];
    struct ptm_init init = { 0 };
    struct ptm_loc loc = { 0 };
    struct ptm_getstate gs = { 0 };
    struct ptm_getinfo gi = { 0 };
    struct ptm_setbuffersize sb = { 0 };
    ptm_res res = 0;
    static const uint8_t want_init[] = { 0, 0, 0, 2, 0, 0, 0, 1 };
    static const uint8_t want_loc[] = { 0, 0, 0, 5, 4, 0, 0, 0 };
    static const uint8_t want_gs[] = { 0, 0, 0, 0x0c, 0, 0, 0, 1,
                                       0, 0, 0, 2, 0, 0, 0x0c, 0 };
    static const uint8_t want_gi[] = { 0, 0, 0, 0x12,
                                       0x01, 0, 0, 0, 0, 0, 0, 0x03,
                                       0, 0, 0x10, 0, 0, 0, 0, 0 };
    static const uint8_t want_sb[] = { 0, 0, 0, 0x11, 0, 0, 0x0b, 0xb8 };
    static const uint8_t want_stop[] = { 0, 0, 0, 0x0e };

    init.u.req.init_flags = PTM_INIT_FLAG_DELETE_VOLATILE;
    assert_int_equal(client_encode_req(CMD_INIT, &init, out, sizeof(out)), 8);
    assert_memory_equal(out, want_init, 8);

    loc.u.req.loc = 4;
    assert_int_equal(client_encode_req(CMD_SET_LOCALITY, &loc, out,
                                       sizeof(out)), 8);
    assert_memory_equal(out, want_loc, 8);

    gs.u.req.state_flags = PTM_STATE_FLAG_DECRYPTED;
    gs.u.req.type = PTM_BLOB_TYPE_VOLATILE;
    gs.u.req.offset = 3072;
    assert_int_equal(client_encode_req(CMD_GET_STATEBLOB, &gs, out,
                                       sizeof(out)), 16);
    assert_memory_equal(out, want_gs, 16);

    gi.u.req.flags = 0x0100000000000003ull;
    gi.u.req.offset = 4096;
    gi.u.req.pad = 0xffffffff;          /* never sent */
    assert_int_equal(client_encode_req(CMD_GET_INFO, &gi, out,
                                       sizeof(out)), 20);
    assert_memory_equal(out, want_gi, 20);

    sb.u.req.buffersize = 3000;
    assert_int_equal(client_encode_req(CMD_SET_BUFFERSIZE, &sb, out,
                                       sizeof(out)), 8);
    assert_memory_equal(out, want_sb, 8);

    assert_int_equal(client_encode_req(CMD_STOP, &res, out, sizeof(out)), 4);
    assert_memory_equal(out, want_stop, 4);
}

static void
test_client_encode_req_variable(void **state)
{
    static uint8_t out[8192];
    static struct ptm_hdata hd;
    static struct ptm_setstate ss;

    memset(&hd, 0, sizeof(hd));
    hd.u.req.length = 3;
    memcpy(hd.u.req.data, "abc", 3);
    assert_int_equal(client_encode_req(CMD_HASH_DATA, &hd, out,
                                       sizeof(out)), 11);
    assert_memory_equal(out, "\0\0\0\x07\0\0\0\x03" "abc", 11);

    /* Maximum: 4096 data bytes. */
    hd.u.req.length = PTM_HDATA_SIZE;
    assert_int_equal(client_encode_req(CMD_HASH_DATA, &hd, out,
                                       sizeof(out)), 4 + 4 + 4096);
    hd.u.req.length = PTM_HDATA_SIZE + 1;
    assert_int_equal(client_encode_req(CMD_HASH_DATA, &hd, out,
                                       sizeof(out)), -EINVAL);

    memset(&ss, 0, sizeof(ss));
    ss.u.req.type = PTM_BLOB_TYPE_PERMANENT;
    ss.u.req.length = 2;
    ss.u.req.data[0] = 0xaa;
    ss.u.req.data[1] = 0xbb;
    assert_int_equal(client_encode_req(CMD_SET_STATEBLOB, &ss, out,
                                       sizeof(out)), 18);
    assert_memory_equal(out, "\0\0\0\x0d\0\0\0\0\0\0\0\x01\0\0\0\x02\xaa\xbb",
                        18);
    ss.u.req.length = PTM_STATE_BLOB_SIZE + 1;
    assert_int_equal(client_encode_req(CMD_SET_STATEBLOB, &ss, out,
                                       sizeof(out)), -EINVAL);
}

static void
test_client_encode_req_errors(void **state)
{
    uint8_t out[8];
    struct ptm_getinfo gi = { 0 };
    ptm_res res = 0;

    assert_int_equal(client_encode_req(0, &res, out, sizeof(out)), -EINVAL);
    assert_int_equal(client_encode_req(CMD_MAX + 1, &res, out, sizeof(out)),
                     -EINVAL);
    assert_int_equal(client_encode_req(CMD_GET_INFO, &gi, out, sizeof(out)),
                     -ENOSPC);
    assert_int_equal(client_encode_req(CMD_STOP, &res, out, 3), -ENOSPC);
}

/* ---- client_decode_resp ---- */

static void
test_client_decode_resp_capability(void **state)
{
    ptm_cap cap = 0;
    uint32_t rc = 1;

    assert_int_equal(client_decode_resp(CMD_GET_CAPABILITY,
                                        (const uint8_t *)"\0\0\0\0\0\0\xff\xff",
                                        8, &cap, &rc), 0);
    assert_int_equal(cap, 0xffff);
    assert_int_equal(rc, 0);
    assert_int_equal(client_decode_resp(CMD_GET_CAPABILITY,
                                        (const uint8_t *)"\0\0\0\0", 4,
                                        &cap, &rc), -EBADMSG);
    assert_int_equal(client_decode_resp(CMD_GET_CAPABILITY,
                                        (const uint8_t *)"\0\0\0\0\0\0\0\0\0",
                                        9, &cap, &rc), -EBADMSG);
}

static void
test_client_decode_resp_fixed(void **state)
{
    struct ptm_est est;
    struct ptm_getconfig cfg;
    struct ptm_setbuffersize sb;
    ptm_res res;
    uint32_t rc = 0;
    static const uint8_t sbr[16] = { 0, 0, 0, 0, 0, 0, 0x10, 0,
                                     0, 0, 0x0a, 0xf8, 0, 0, 0x10, 0 };

    assert_int_equal(client_decode_resp(CMD_GET_TPMESTABLISHED,
                                        (const uint8_t *)"\0\0\0\0\x01\0\0\0",
                                        8, &est, &rc), 0);
    assert_int_equal(est.u.resp.bit, 1);
    assert_int_equal(rc, 0);
    /* Error replies may be the bare result ... */
    assert_int_equal(client_decode_resp(CMD_GET_TPMESTABLISHED,
                                        (const uint8_t *)"\0\0\0\x0a", 4,
                                        &est, &rc), 0);
    assert_int_equal(rc, TPM_BAD_ORDINAL);
    /* ... but a success reply must be complete. */
    assert_int_equal(client_decode_resp(CMD_GET_TPMESTABLISHED,
                                        (const uint8_t *)"\0\0\0\0", 4,
                                        &est, &rc), -EBADMSG);
    assert_int_equal(client_decode_resp(CMD_GET_CONFIG,
                                        (const uint8_t *)"\0\0\0\0\0\0\0\x03",
                                        8, &cfg, &rc), 0);
    assert_int_equal(cfg.u.resp.flags, 3);
    assert_int_equal(client_decode_resp(CMD_SET_BUFFERSIZE, sbr, 16, &sb,
                                        &rc), 0);
    assert_int_equal(sb.u.resp.buffersize, 4096);
    assert_int_equal(sb.u.resp.minsize, 2808);
    assert_int_equal(sb.u.resp.maxsize, 4096);
    assert_int_equal(client_decode_resp(CMD_SET_BUFFERSIZE, sbr, 15, &sb,
                                        &rc), -EBADMSG);
    assert_int_equal(client_decode_resp(CMD_STOP, (const uint8_t *)"\0\0\0\0",
                                        4, &res, &rc), 0);
    assert_int_equal(client_decode_resp(CMD_STOP, (const uint8_t *)"\0\0\0",
                                        3, &res, &rc), -EBADMSG);
    assert_int_equal(client_decode_resp(CMD_STOP,
                                        (const uint8_t *)"\0\0\0\0\0", 5,
                                        &res, &rc), -EBADMSG);
    assert_int_equal(client_decode_resp(0, (const uint8_t *)"\0\0\0\0", 4,
                                        &res, &rc), -EBADMSG);
}

static void
test_client_decode_resp_getinfo(void **state)
{
    static struct ptm_getinfo gi;
    uint8_t buf[12 + 8];
    uint32_t rc;

    memcpy(buf, "\0\0\0\0\0\0\0\x09\0\0\0\x08" "{\"a\":1}", 20);
    assert_int_equal(client_decode_resp(CMD_GET_INFO, buf, 20, &gi, &rc), 0);
    assert_int_equal(gi.u.resp.totlength, 9);
    assert_int_equal(gi.u.resp.length, 8);
    assert_memory_equal(gi.u.resp.buffer, "{\"a\":1}", 8);
    /* Short, long, and length > totlength. */
    assert_int_equal(client_decode_resp(CMD_GET_INFO, buf, 19, &gi, &rc),
                     -EBADMSG);
    assert_int_equal(client_decode_resp(CMD_GET_INFO, buf, 11, &gi, &rc),
                     -EBADMSG);
    buf[7] = 7;
    assert_int_equal(client_decode_resp(CMD_GET_INFO, buf, 20, &gi, &rc),
                     -EBADMSG);
    /* Maximum: a full 3072-byte page. */
    {
        static uint8_t big[12 + PTM_GETINFO_SIZE + 1];

        memset(big, 'x', sizeof(big));
        memset(big, 0, 12);
        be32_put(big + 4, 5000);
        be32_put(big + 8, PTM_GETINFO_SIZE);
        assert_int_equal(client_decode_resp(CMD_GET_INFO, big,
                                            12 + PTM_GETINFO_SIZE, &gi, &rc),
                         0);
        assert_int_equal(gi.u.resp.length, PTM_GETINFO_SIZE);
        assert_int_equal(client_decode_resp(CMD_GET_INFO, big,
                                            sizeof(big), &gi, &rc),
                         -EBADMSG);
    }
    /* Garbage length field beyond PTM_GETINFO_SIZE. */
    memcpy(buf, "\0\0\0\0\xff\xff\xff\xff\xff\xff\xff\xff", 12);
    assert_int_equal(client_decode_resp(CMD_GET_INFO, buf, 20, &gi, &rc),
                     -EBADMSG);
}

static void
test_client_decode_resp_getstate(void **state)
{
    static struct ptm_getstate gs;
    static uint8_t buf[16 + PTM_STATE_BLOB_SIZE + 1];
    uint32_t rc;

    memset(buf, 0, sizeof(buf));
    buf[7] = PTM_STATE_FLAG_ENCRYPTED;
    buf[10] = 0x10;                     /* totlength 4096 */
    buf[14] = 0x0c;                     /* length 3072 (maximum) */
    assert_int_equal(client_decode_resp(CMD_GET_STATEBLOB, buf,
                                        16 + PTM_STATE_BLOB_SIZE, &gs, &rc),
                     0);
    assert_int_equal(gs.u.resp.state_flags, PTM_STATE_FLAG_ENCRYPTED);
    assert_int_equal(gs.u.resp.totlength, 4096);
    assert_int_equal(gs.u.resp.length, 3072);
    assert_int_equal(client_decode_resp(CMD_GET_STATEBLOB, buf,
                                        16 + PTM_STATE_BLOB_SIZE + 1, &gs,
                                        &rc), -EBADMSG);
    /* TPM_RETRY with the zeroed 16-byte header (missing blob). */
    memset(buf, 0, 16);
    buf[2] = 0x08;
    assert_int_equal(client_decode_resp(CMD_GET_STATEBLOB, buf, 16, &gs,
                                        &rc), 0);
    assert_int_equal(rc, TPM_RETRY);
}

/* ---- client_resp_need ---- */

static void
test_client_resp_need(void **state)
{
    size_t need = 0;
    uint8_t hdr[16] = { 0 };

    assert_int_equal(client_resp_need(CMD_GET_CONFIG, hdr, 0, &need), 0);
    assert_int_equal(need, 4);
    assert_int_equal(client_resp_need(CMD_GET_CONFIG, hdr, 4, &need), 0);
    assert_int_equal(need, 8);
    hdr[3] = 0x0a;
    assert_int_equal(client_resp_need(CMD_GET_CONFIG, hdr, 4, &need), 0);
    assert_int_equal(need, 4);
    assert_int_equal(client_resp_need(CMD_GET_CONFIG, hdr, 6, &need), 0);
    assert_int_equal(need, 8);
    hdr[3] = 0;
    assert_int_equal(client_resp_need(CMD_GET_STATEBLOB, hdr, 8, &need), 0);
    assert_int_equal(need, 16);
    hdr[13] = 0x01;                     /* length 65536 */
    assert_int_equal(client_resp_need(CMD_GET_STATEBLOB, hdr, 16, &need), 0);
    assert_int_equal(need, 16 + 65536);
    hdr[12] = 0x7f;                     /* far beyond the bound */
    assert_int_equal(client_resp_need(CMD_GET_STATEBLOB, hdr, 16, &need),
                     -EBADMSG);
    memset(hdr, 0, sizeof(hdr));
    hdr[10] = 0x0c;
    hdr[11] = 0x01;                     /* GET_INFO length 3073 */
    assert_int_equal(client_resp_need(CMD_GET_INFO, hdr, 12, &need),
                     -EBADMSG);
}

/* ---- client_check_tpm_resp ---- */

static void
test_client_check_tpm_resp(void **state)
{
    static const uint8_t ok[] = { 0x80, 0x01, 0, 0, 0, 0x0a, 0, 0, 1, 0 };

    assert_int_equal(client_check_tpm_resp(ok, sizeof(ok)), 0);
    assert_int_equal(client_check_tpm_resp(ok, 9), -EPROTO);
    assert_int_equal(client_check_tpm_resp(ok, 0), -EPROTO);
    assert_int_equal(client_check_tpm_resp((const uint8_t *)
                                           "\x80\x01\0\0\0\x0b\0\0\0\0\0",
                                           10), -EBADMSG);
}

/* ---- I/O over a socketpair ---- */

static void
pair(struct client *c, int *peer)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    memset(c, 0, sizeof(*c));
    c->kind = CLIENT_UNIX;
    c->fd = sv[0];
    c->timeout_ms = 200;
    strcpy(c->desc, "'pair'");
    *peer = sv[1];
}

static void
test_client_ctrl_socket_roundtrip(void **state)
{
    struct client c;
    struct ptm_getconfig cfg = { 0 };
    uint8_t req[8];
    uint32_t rc = 99;
    int peer;

    pair(&c, &peer);
    assert_int_equal(write(peer, "\0\0\0\0\0\0\0\x02", 8), 8);
    assert_int_equal(client_ctrl(&c, CMD_GET_CONFIG, &cfg, &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(cfg.u.resp.flags, PTM_CONFIG_FLAG_MIGRATION_KEY);
    assert_int_equal(read(peer, req, sizeof(req)), 4);
    assert_memory_equal(req, "\0\0\0\x0f", 4);
    client_close(&c);
    close(peer);
}

static void
test_client_ctrl_socket_failures(void **state)
{
    struct client c;
    ptm_res res = 0;
    uint32_t rc = 0;
    int peer;

    /* No reply: timeout. */
    pair(&c, &peer);
    assert_int_equal(client_ctrl(&c, CMD_STOP, &res, &rc), -ETIMEDOUT);
    /* Surplus bytes after a success result: malformed. */
    assert_int_equal(write(peer, "\0\0\0\0\0", 5), 5);
    assert_int_equal(client_ctrl(&c, CMD_STOP, &res, &rc), -EBADMSG);
    /* Surplus bytes after an error result are dropped. */
    assert_int_equal(write(peer, "\0\0\0\x0a\0\0\0\x0a", 8), 8);
    assert_int_equal(client_ctrl(&c, CMD_SET_STATEBLOB,
                                 &(struct ptm_setstate){ 0 }, &rc), 0);
    assert_int_equal(rc, TPM_BAD_ORDINAL);
    /* Short reply and hang-up. */
    assert_int_equal(write(peer, "\0\0", 2), 2);
    shutdown(peer, SHUT_WR);
    assert_int_equal(client_ctrl(&c, CMD_STOP, &res, &rc), -ECONNRESET);
    /* Peer gone entirely: the request cannot be sent. */
    close(peer);
    assert_int_equal(client_ctrl(&c, CMD_STOP, &res, &rc), -EPIPE);
    client_close(&c);
    client_close(&c);                   /* idempotent */
}

static void
test_client_sock_get_blob(void **state)
{
    struct client c;
    uint8_t *blob = NULL;
    size_t len = 0;
    uint32_t rc = 1;
    int peer;
    static uint8_t reply[16 + 5000];

    pair(&c, &peer);
    memset(reply, 0x5a, sizeof(reply));
    memset(reply, 0, 16);
    be32_put(reply + 8, 5000);
    be32_put(reply + 12, 5000);
    assert_int_equal(write(peer, reply, sizeof(reply)), (ssize_t)sizeof(reply));
    assert_int_equal(client_sock_get_blob(&c, PTM_STATE_FLAG_DECRYPTED,
                                          PTM_BLOB_TYPE_PERMANENT, &blob,
                                          &len, &rc), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(len, 5000);
    assert_int_equal(blob[4999], 0x5a);
    free(blob);
    blob = NULL;
    /* totlength != length is refused. */
    be32_put(reply + 8, 5001);
    assert_int_equal(write(peer, reply, sizeof(reply)), (ssize_t)sizeof(reply));
    assert_int_equal(client_sock_get_blob(&c, 1, 1, &blob, &len, &rc),
                     -EBADMSG);
    assert_null(blob);
    client_close(&c);
    close(peer);
}

static void
test_client_tpm_cmd(void **state)
{
    struct client c;
    uint8_t resp[64];
    size_t len = 0;
    int peer;
    static const uint8_t cmd[] = { 0x80, 0x01, 0, 0, 0, 0x0c,
                                   0, 0, 0x01, 0x44, 0, 0 };

    pair(&c, &peer);
    assert_int_equal(write(peer, "\x80\x01\0\0\0\x0a\0\0\x01\0", 10), 10);
    assert_int_equal(client_tpm_cmd(&c, cmd, sizeof(cmd), resp, sizeof(resp),
                                    &len, 0), 0);
    assert_int_equal(len, 10);
    /* Size field larger than the buffer: malformed. */
    assert_int_equal(write(peer, "\x80\x01\0\0\x10\0\0\0\0\0", 10), 10);
    assert_int_equal(client_tpm_cmd(&c, cmd, sizeof(cmd), resp, sizeof(resp),
                                    &len, 0), -EBADMSG);
    /* Truncated, then hang-up: too short. */
    assert_int_equal(write(peer, "\x80\x01\0\0\0\x0a", 6), 6);
    shutdown(peer, SHUT_WR);
    assert_int_equal(client_tpm_cmd(&c, cmd, sizeof(cmd), resp, sizeof(resp),
                                    &len, 0), -EPROTO);
    client_close(&c);
    close(peer);
}

/* ---- ioctl form ---- */

static void
test_client_ctrl_device_ioctl(void **state)
{
    struct client c = { .kind = CLIENT_DEVICE, .fd = 100 };
    ptm_cap cap = 0;
    struct ptm_init init = { 0 };
    ptm_res res = 0;
    uint32_t rc = 7;

    assert_int_equal(client_ctrl(&c, CMD_GET_CAPABILITY, &cap, &rc), 0);
    assert_int_equal(last_request, PTM_GET_CAPABILITY);
    assert_int_equal(cap, 0x6fff);
    assert_int_equal(rc, 0);
    init.u.req.init_flags = PTM_INIT_FLAG_DELETE_VOLATILE;
    assert_int_equal(client_ctrl(&c, CMD_INIT, &init, &rc), 0);
    assert_int_equal(last_request, PTM_INIT);
    assert_int_equal(rc, TPM_FAIL);
    assert_int_equal(client_ctrl(&c, CMD_STOP, &res, &rc), -ENOTTY);
    assert_int_equal(client_ctrl(&c, 0, &res, &rc), -EINVAL);
}

/* ---- state blobs on a CUSE device ---- */

static void
test_client_get_blob_cuse_pieces(void **state)
{
    struct client c = { .kind = CLIENT_DEVICE, .fd = 100 };
    enum client_blob_step step;
    uint8_t *blob = NULL;
    size_t len = 0;
    uint32_t rc = 1;

    fake_dev_reset(7000);
    assert_int_equal(client_get_blob(&c, PTM_STATE_FLAG_DECRYPTED,
                                     PTM_BLOB_TYPE_VOLATILE, 0, &blob, &len,
                                     &rc, &step), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(dev_ioctls, 3);            /* 3072 + 3072 + 856 */
    assert_int_equal(len, 7000);
    assert_memory_equal(blob, dev_blob, 7000);
    free(blob);
    /* A result on the second piece: no blob, the result comes back. */
    fake_dev_reset(7000);
    dev_fail_at = 2;
    blob = NULL;
    assert_int_equal(client_get_blob(&c, PTM_STATE_FLAG_DECRYPTED,
                                     PTM_BLOB_TYPE_VOLATILE, 0, &blob, &len,
                                     &rc, &step), 0);
    assert_int_equal(rc, TPM_FAIL);
    assert_null(blob);
    assert_int_equal(len, 0);
}

static void
test_client_get_blob_cuse_bad_reply(void **state)
{
    struct client c = { .kind = CLIENT_DEVICE, .fd = 100 };
    enum client_blob_step step = CLIENT_BLOB_SIZE;
    uint8_t *blob = NULL;
    size_t len = 0;
    uint32_t rc = 0;

    fake_dev_reset(7000);
    dev_bad_length = PTM_STATE_BLOB_SIZE + 1;
    assert_int_equal(client_get_blob(&c, PTM_STATE_FLAG_DECRYPTED,
                                     PTM_BLOB_TYPE_VOLATILE, 0, &blob, &len,
                                     &rc, &step), -EBADMSG);
    assert_int_equal(step, CLIENT_BLOB_REQUEST);
    assert_null(blob);
}

/* With a chunk size the rest after the first ioctl comes by read(). */
static void
test_client_get_blob_cuse_stream(void **state)
{
    struct client c = { .kind = CLIENT_DEVICE };
    enum client_blob_step step;
    uint8_t *blob = NULL;
    size_t len = 0;
    uint32_t rc = 1;
    int p[2];

    fake_dev_reset(7000);
    assert_int_equal(pipe(p), 0);
    c.fd = p[0];
    assert_int_equal(write(p[1], dev_blob + 3072, 7000 - 3072),
                     7000 - 3072);
    assert_int_equal(client_get_blob(&c, PTM_STATE_FLAG_DECRYPTED,
                                     PTM_BLOB_TYPE_VOLATILE, 1000, &blob,
                                     &len, &rc, &step), 0);
    assert_int_equal(dev_ioctls, 1);
    assert_int_equal(len, 7000);
    assert_memory_equal(blob, dev_blob, 7000);
    free(blob);
    /* The device closes half way: a stream failure. */
    fake_dev_reset(7000);
    assert_int_equal(write(p[1], dev_blob + 3072, 100), 100);
    close(p[1]);
    blob = NULL;
    assert_int_equal(client_get_blob(&c, PTM_STATE_FLAG_DECRYPTED,
                                     PTM_BLOB_TYPE_VOLATILE, 1000, &blob,
                                     &len, &rc, &step), -ECONNRESET);
    assert_int_equal(step, CLIENT_BLOB_STREAM);
    assert_null(blob);
    close(p[0]);
}

static void
test_client_set_blob_cuse_pieces(void **state)
{
    struct client c = { .kind = CLIENT_DEVICE, .fd = 100 };
    enum client_blob_step step;
    static uint8_t src[6144];
    uint32_t rc = 1;

    for (size_t i = 0; i < sizeof(src); i++) {
        src[i] = (uint8_t)(i * 13);
    }
    /* A multiple of 3072 ends with an empty piece. */
    fake_dev_reset(0);
    assert_int_equal(client_set_blob(&c, 0, PTM_BLOB_TYPE_PERMANENT, src,
                                     sizeof(src), 0, &rc, &step), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(dev_ioctls, 3);
    assert_int_equal(dev_set_lens[0], 3072);
    assert_int_equal(dev_set_lens[1], 3072);
    assert_int_equal(dev_set_lens[2], 0);
    assert_memory_equal(dev_blob, src, sizeof(src));
    /* The first non-zero result stops the transfer. */
    fake_dev_reset(0);
    dev_fail_at = 1;
    assert_int_equal(client_set_blob(&c, 0, PTM_BLOB_TYPE_PERMANENT, src,
                                     sizeof(src), 0, &rc, &step), 0);
    assert_int_equal(rc, TPM_FAIL);
    assert_int_equal(dev_ioctls, 1);
    /* An empty blob is one empty piece. */
    fake_dev_reset(0);
    assert_int_equal(client_set_blob(&c, 0, PTM_BLOB_TYPE_PERMANENT, NULL,
                                     0, 0, &rc, &step), 0);
    assert_int_equal(dev_ioctls, 1);
    assert_int_equal(dev_set_lens[0], 0);
}

/* With a chunk size: empty ioctl, write() pieces, empty ioctl. */
static void
test_client_set_blob_cuse_stream(void **state)
{
    struct client c = { .kind = CLIENT_DEVICE };
    enum client_blob_step step;
    static uint8_t src[5000], got[5000];
    uint32_t rc = 1;
    int p[2];

    for (size_t i = 0; i < sizeof(src); i++) {
        src[i] = (uint8_t)(i * 3);
    }
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p), 0);
    c.fd = p[0];
    fake_dev_reset(0);
    assert_int_equal(client_set_blob(&c, 0, PTM_BLOB_TYPE_PERMANENT, src,
                                     sizeof(src), 1024, &rc, &step), 0);
    assert_int_equal(rc, 0);
    assert_int_equal(dev_ioctls, 2);
    assert_int_equal(dev_blob_len, 0);
    assert_int_equal(read(p[1], got, sizeof(got)), (ssize_t)sizeof(got));
    assert_memory_equal(got, src, sizeof(src));
    /* The device went away: a stream failure (EPIPE, not a signal). */
    signal(SIGPIPE, SIG_IGN);
    close(p[1]);
    fake_dev_reset(0);
    assert_true(client_set_blob(&c, 0, PTM_BLOB_TYPE_PERMANENT, src,
                                sizeof(src), 1024, &rc, &step) < 0);
    assert_int_equal(step, CLIENT_BLOB_STREAM);
    assert_int_equal(dev_ioctls, 1);
    close(p[0]);
}

static void
test_client_open_errmsg_names_target(void **state)
{
    struct client c;
    struct client_target t = { .kind = CLIENT_DEVICE,
                               .path = "/nonexistent/vtpm" };
    char msg[CLIENT_DESC_MAX + 128];
    int r;

    r = client_open(&c, &t, 0);
    client_open_errmsg(&c, r, msg, sizeof(msg));
    assert_string_equal(msg, "cannot open TPM device '/nonexistent/vtpm': "
                        "No such file or directory");
    assert_int_equal(client_parse_tcp("127.0.0.1:1", 1, &t), 0);
    r = client_open(&c, &t, 1000);
    client_open_errmsg(&c, r, msg, sizeof(msg));
    assert_string_equal(msg, "cannot connect to 127.0.0.1:1: "
                        "Connection refused");
}

static void
test_client_open_failures(void **state)
{
    struct client c;
    struct client_target t = { .kind = CLIENT_DEVICE,
                               .path = "/nonexistent/vtpm" };

    assert_int_equal(client_open(&c, &t, 0), -ENOENT);
    assert_int_equal(c.fd, -1);
    assert_string_equal(c.desc, "'/nonexistent/vtpm'");
    t.kind = CLIENT_UNIX;
    t.path = "/nonexistent/sock";
    assert_true(client_open(&c, &t, 0) < 0);
    assert_int_equal(client_parse_tcp("127.0.0.1:1", 1, &t), 0);
    assert_int_equal(client_open(&c, &t, 1000), -ECONNREFUSED);
    assert_string_equal(c.desc, "127.0.0.1:1");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_parse_tcp_forms),
        cmocka_unit_test(test_client_parse_tcp_bad),
        cmocka_unit_test(test_client_encode_req_fixed),
        cmocka_unit_test(test_client_encode_req_variable),
        cmocka_unit_test(test_client_encode_req_errors),
        cmocka_unit_test(test_client_decode_resp_capability),
        cmocka_unit_test(test_client_decode_resp_fixed),
        cmocka_unit_test(test_client_decode_resp_getinfo),
        cmocka_unit_test(test_client_decode_resp_getstate),
        cmocka_unit_test(test_client_resp_need),
        cmocka_unit_test(test_client_check_tpm_resp),
        cmocka_unit_test(test_client_ctrl_socket_roundtrip),
        cmocka_unit_test(test_client_ctrl_socket_failures),
        cmocka_unit_test(test_client_sock_get_blob),
        cmocka_unit_test(test_client_tpm_cmd),
        cmocka_unit_test(test_client_ctrl_device_ioctl),
        cmocka_unit_test(test_client_get_blob_cuse_pieces),
        cmocka_unit_test(test_client_get_blob_cuse_bad_reply),
        cmocka_unit_test(test_client_get_blob_cuse_stream),
        cmocka_unit_test(test_client_set_blob_cuse_pieces),
        cmocka_unit_test(test_client_set_blob_cuse_stream),
        cmocka_unit_test(test_client_open_errmsg_names_target),
        cmocka_unit_test(test_client_open_failures),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
