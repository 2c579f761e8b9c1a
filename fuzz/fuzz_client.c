// SPDX-License-Identifier: BSD-3-Clause
/*
 * libFuzzer harness: the control client's socket reply decoding and
 * request encoding (swtpm_ioctl and swtpm_bios trust neither the daemon
 * at the other end of a socket nor the blob files they send).
 *
 * Input: byte 0 picks the command (0..CMD_MAX+1), byte 1 the mode (even:
 * decode the rest as a reply, also through client_resp_need(); odd: the
 * rest fills the request struct, which is encoded).  Buffers are exactly
 * as large as the API promises, so overruns are ASan reports.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "ctrl_wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
decode(uint32_t cmd, const uint8_t *buf, size_t len)
{
    size_t ssize = client_ctrl_struct_size(cmd), need = 0;
    uint32_t rc = 0;
    uint8_t *st;

    if (client_resp_need(cmd, buf, len, &need) == 0) {
        assert(need >= 4 || len >= need);
    }
    (void)client_check_tpm_resp(buf, len);
    if (ssize == 0) {
        assert(client_decode_resp(cmd, buf, len, NULL, &rc) == -EBADMSG);
        return;
    }
    st = malloc(ssize);
    assert(st);
    if (client_decode_resp(cmd, buf, len, st, &rc) == 0) {
        if (cmd == CMD_GET_STATEBLOB) {
            const struct ptm_getstate *g = (const void *)st;
            assert(g->u.resp.length <= PTM_STATE_BLOB_SIZE);
        } else if (cmd == CMD_GET_INFO) {
            const struct ptm_getinfo *g = (const void *)st;
            assert(g->u.resp.length <= PTM_GETINFO_SIZE);
        }
    }
    free(st);
}

static void
encode(uint32_t cmd, const uint8_t *p, size_t n)
{
    size_t ssize = client_ctrl_struct_size(cmd);
    size_t outlen = 4 + ssize;
    uint8_t *st, *out;
    int r;

    if (ssize == 0) {
        return;
    }
    st = calloc(1, ssize);
    out = malloc(outlen);
    assert(st && out);
    memcpy(st, p, n < ssize ? n : ssize);
    r = client_encode_req(cmd, st, out, outlen);
    assert(r == -EINVAL || r == -ENOSPC || (r >= 4 && (size_t)r <= outlen));
    free(out);
    free(st);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *buf;
    uint32_t cmd;
    size_t len;

    if (size < 2) {
        return 0;
    }
    cmd = data[0] % (CMD_MAX + 2);
    len = size - 2;
    buf = malloc(len ? len : 1);
    assert(buf);
    memcpy(buf, data + 2, len);
    if (data[1] & 1) {
        encode(cmd, buf, len);
    } else {
        decode(cmd, buf, len);
    }
    free(buf);
    return 0;
}
