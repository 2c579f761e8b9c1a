// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer harness: CUSE ioctl decoding and reply encoding (the bytes any
 * process that can open the device hands to swtpm_cuse).
 *
 * Input: byte 0 picks the command (0..CMD_MAX+1, so also "unknown"), the
 * rest is the ioctl input.  The input is copied into a buffer of exactly
 * that size so ASan sees any read past it.  A decoded request is turned
 * into a plausible engine reply and encoded, as cuse_dev.c does.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctrl_ioctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t blob[PTM_STATE_BLOB_SIZE + 64];

/* Touch every byte of [p, p + n) so that ASan checks the range. */
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
check_decoded(const struct ctrl_req *req, const uint8_t *in, size_t len)
{
    switch (req->cmd) {
    case CMD_HASH_DATA:
        /* Oversized lengths become UINT32_MAX; the rest must fit. */
        if (req->u.hash.len != UINT32_MAX) {
            assert(req->u.hash.len <= PTM_HDATA_SIZE);
            assert(req->u.hash.data >= in &&
                   req->u.hash.data + req->u.hash.len <= in + len);
            (void)touch(req->u.hash.data, req->u.hash.len);
        }
        break;
    case CMD_SET_STATEBLOB:
        assert(req->u.setstate.len <= PTM_STATE_BLOB_SIZE);
        assert(req->u.setstate.data >= in &&
               req->u.setstate.data + req->u.setstate.len <= in + len);
        (void)touch(req->u.setstate.data, req->u.setstate.len);
        break;
    default:
        break;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[CTRL_IOCTL_MAX];
    struct ctrl_req req;
    struct ctrl_resp resp;
    uint8_t *in = NULL;
    uint32_t cmd;
    size_t len, n;

    if (size < 1) {
        return 0;
    }
    cmd = data[0] % (CMD_MAX + 2);
    len = size - 1;
    if (len) {
        in = malloc(len);
        if (!in) {
            return 0;
        }
        memcpy(in, data + 1, len);
    }
    /* The number round trip the CUSE front end relies on. */
    if (cmd >= 1 && cmd <= CMD_MAX) {
        assert(ctrl_ioctl_to_cmd(ctrl_cmd_to_ioctl(cmd)) == cmd);
    }
    assert(ctrl_ioctl_in_size(cmd) <= CTRL_IOCTL_MAX);

    if (ctrl_ioctl_decode(cmd, in, len, &req) == 0) {
        assert(req.cmd == cmd);
        check_decoded(&req, in, len);
    }

    /* A reply shaped by the input, within the engine's invariants. */
    memset(&resp, 0, sizeof(resp));
    if (len >= 8) {
        memcpy(&resp.result, in, 4);
        memcpy(&resp.totlength, in + 4, 4);
    }
    resp.caps = resp.result;
    resp.est_bit = (uint8_t)resp.totlength;
    resp.avail = len % (sizeof(blob) + 1);
    if (cmd == CMD_GET_INFO && resp.avail > PTM_GETINFO_SIZE) {
        resp.avail = PTM_GETINFO_SIZE;
    }
    resp.data = resp.avail ? blob : NULL;
    n = ctrl_ioctl_encode(cmd, &resp, out);
    assert(n > 0 && n <= CTRL_IOCTL_MAX);
    free(in);
    return 0;
}
