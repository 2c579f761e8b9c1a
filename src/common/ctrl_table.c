// SPDX-License-Identifier: BSD-3-Clause
/* The table of control commands, and the names of result codes. */
#include "ctrl_wire.h"

/*
 * One row per control command (docs/control-channel.md §2, §6, §7.10,
 * §9.3).  A new command is a row here, its CMD_/PTM_ numbers and struct
 * in ctrl_wire.h, its fields in the four codecs and its handler in ctrl.c.
 * Column order: needs_running, cuse_waits, sock_fixed, sock_min,
 * sock_exact, sock_req, sock_resp, sock_resp_data, sock_data_max.
 */
#define ROW(c, run, wait, fixed, min, exact, req, resp, data, dmax) \
    [CMD_##c] = { CMD_##c, PTM_##c, "PTM_" #c, run, wait, fixed, min, \
                  exact, req, resp, data, dmax }
#define N false
#define Y true

static const struct ctrl_cmd_desc cmd_table[CMD_MAX + 1] = {
    /*  command               run wait fix min exact req resp data  max */
    ROW(GET_CAPABILITY,        N,  N,   0,  0,  N,    0,  8,  N,    0),
    ROW(INIT,                  N,  Y,   4,  4,  Y,    4,  4,  N,    0),
    ROW(SHUTDOWN,              N,  Y,   0,  0,  Y,    0,  4,  N,    0),
    ROW(GET_TPMESTABLISHED,    Y,  Y,   0,  0,  N,    0,  8,  N,    0),
    ROW(SET_LOCALITY,          N,  N,   1,  1,  N,    4,  4,  N,    0),
    ROW(HASH_START,            Y,  Y,   0,  0,  Y,    0,  4,  N,    0),
    ROW(HASH_DATA,             Y,  Y,   4,  4,  N,    4,  4,  N,    0),
    ROW(HASH_END,              Y,  Y,   0,  0,  Y,    0,  4,  N,    0),
    ROW(CANCEL_TPM_CMD,        Y,  N,   0,  0,  Y,    0,  4,  N,    0),
    ROW(STORE_VOLATILE,        Y,  Y,   0,  0,  Y,    0,  4,  N,    0),
    ROW(RESET_TPMESTABLISHED,  Y,  Y,   1,  1,  N,    4,  4,  N,    0),
    ROW(GET_STATEBLOB,         Y,  Y,  12, 12,  N,   12, 16,  Y,
        CTRL_CLIENT_BLOB_MAX),
    ROW(SET_STATEBLOB,         N,  Y,  12, 12,  N,   12,  4,  N,    0),
    ROW(STOP,                  N,  Y,   0,  0,  Y,    0,  4,  N,    0),
    ROW(GET_CONFIG,            N,  N,   0,  0,  N,    0,  8,  N,    0),
    ROW(SET_DATAFD,            N,  Y,   0,  0,  N,    0,  4,  N,    0),
    ROW(SET_BUFFERSIZE,        N,  N,   0,  4,  N,    4, 16,  N,    0),
    ROW(GET_INFO,              N,  Y,   0, 16,  N,   16, 12,  Y,
        PTM_GETINFO_SIZE),
    ROW(LOCK_STORAGE,          N,  N,   0,  4,  N,    4,  4,  N,    0),
};

#undef ROW
#undef N
#undef Y

const struct ctrl_cmd_desc *
ctrl_cmd_desc(uint32_t cmd)
{
    return (cmd >= 1 && cmd <= CMD_MAX) ? &cmd_table[cmd] : NULL;
}

unsigned long
ctrl_cmd_to_ioctl(uint32_t cmd)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);

    return d ? d->ioctl : 0;
}

uint32_t
ctrl_ioctl_to_cmd(unsigned long request)
{
    for (uint32_t c = 1; c <= CMD_MAX; c++) {
        if (cmd_table[c].ioctl == request) {
            return c;
        }
    }
    return 0;
}

const char *
ctrl_cmd_name(uint32_t cmd)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);

    return d ? d->name : "unknown";
}

const char *
ctrl_result_str(uint32_t result)
{
    if (result & TPM_RETRY && result < 0x1000) {
        return "no such state blob (non-fatal)";
    }
    switch (result) {
    case TPM_SUCCESS: return "success";
    case TPM_BAD_PARAMETER: return "bad parameter in the request";
    case TPM_FAIL: return "operation failed (see the emulator's log)";
    case TPM_BAD_ORDINAL:
        return "command not allowed in this state (TPM running or stopped)";
    case TPM_KEYNOTFOUND: return "blob is encrypted but no key is configured";
    case TPM_SIZE: return "out of memory";
    case TPM_BAD_PARAM_SIZE: return "bad parameter size";
    case TPM_IOERROR: return "I/O error";
    case TPM_DECRYPT_ERROR: return "decryption failed: wrong key or data";
    case TPM_BAD_KEY_PROPERTY: return "key size does not match the blob";
    case TPM_BAD_DATASIZE: return "bad blob header size";
    case TPM_BAD_VERSION: return "unsupported blob version";
    case TPM_BAD_LOCALITY: return "locality not allowed";
    default: return "TPM error";
    }
}
