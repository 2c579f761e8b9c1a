// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer harness: socket control request decoding and reply encoding
 * (what anyone who can connect to the control socket sends).
 *
 * Input: byte 0 picks the command (0..CMD_MAX+1), the rest is the request
 * body after the 4-byte code, copied into an exact-size buffer.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl_sock.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t blob[PTM_STATE_BLOB_SIZE + 64];

static unsigned
touch(const uint8_t *p, size_t n)
{
    unsigned s = 0;

    for (size_t i = 0; i < n; i++) {
        s += p[i];
    }
    return s;
}

static void
check_decoded(const struct ctrl_req *req, const uint8_t *body, size_t len)
{
    switch (req->cmd) {
    case CMD_HASH_DATA:
        assert(req->u.hash.data >= body &&
               req->u.hash.data + req->u.hash.len <= body + len);
        (void)touch(req->u.hash.data, req->u.hash.len);
        break;
    case CMD_SET_STATEBLOB:
        assert(req->u.setstate.len <= PTM_SET_BLOB_MAX);
        assert(req->u.setstate.data >= body &&
               req->u.setstate.data + req->u.setstate.len <= body + len);
        (void)touch(req->u.setstate.data, req->u.setstate.len);
        break;
    default:
        break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t hdr[CTRL_SOCK_RESP_HDR_MAX];
    const uint8_t *odata;
    uint32_t olen;
    struct ctrl_req req;
    struct ctrl_resp resp;
    uint8_t *body;
    uint32_t cmd;
    size_t len, n;

    if (size < 1) {
        return 0;
    }
    cmd = data[0] % (CMD_MAX + 2);
    len = size - 1;
    body = malloc(len ? len : 1);
    if (!body) {
        return 0;
    }
    memcpy(body, data + 1, len);

    assert(ctrl_sock_fixed_len(cmd) <= CTRL_SOCK_BUF_MAX - 4);
    if (ctrl_sock_decode(cmd, body, len, &req) == 0) {
        assert(req.cmd == cmd);
        check_decoded(&req, body, len);
    }

    memset(&resp, 0, sizeof(resp));
    if (len >= 8) {
        memcpy(&resp.result, body, 4);
        memcpy(&resp.totlength, body + 4, 4);
    }
    resp.caps = resp.result;
    resp.avail = len % (sizeof(blob) + 1);
    resp.data = resp.avail ? blob : NULL;
    n = ctrl_sock_encode(cmd, &resp, hdr, &odata, &olen);
    assert(n > 0 && n <= CTRL_SOCK_RESP_HDR_MAX);
    if (odata) {
        assert(olen <= resp.avail);
        (void)touch(odata, olen);
    }
    free(body);
    return 0;
}
