// SPDX-License-Identifier: BSD-3-Clause
/* The table of control commands, and the names of result codes. */
#include "ctrl_wire.h"

/*
 * One row per control command (docs/control-channel.md §2, §3, §6, §7.10,
 * §9.3): every fact about a command that is not its field layout or its
 * handler.  A new command is a row here, its CMD_/PTM_ numbers and struct
 * in ctrl_wire.h, its fields in the codecs (ctrl_ioctl.c, ctrl_sock.c,
 * client.c) and its handler in ctrl.c's table.  Fields left out are 0.
 */
#define ID(c) .code = CMD_##c, .ioctl = PTM_##c, .name = "PTM_" #c

static const struct ctrl_cmd_desc cmd_table[CMD_MAX + 1] = {
    [CMD_GET_CAPABILITY] = {
        ID(GET_CAPABILITY),
        .sock_resp = 8,
    },
    [CMD_INIT] = {
        ID(INIT),
        .cap = PTM_CAP_INIT, .cuse_waits = true, .drops_response = true,
        .sock_fixed = 4, .sock_min = 4, .sock_exact = true, .sock_req = 4,
        .sock_resp = 4,
    },
    [CMD_SHUTDOWN] = {
        ID(SHUTDOWN),
        .cap = PTM_CAP_SHUTDOWN, .cuse_waits = true, .drops_response = true,
        .sock_exact = true, .sock_resp = 4,
    },
    [CMD_GET_TPMESTABLISHED] = {
        ID(GET_TPMESTABLISHED),
        .cap = PTM_CAP_GET_TPMESTABLISHED, .needs_running = true,
        .cuse_waits = true,
        .sock_resp = 8,
    },
    [CMD_SET_LOCALITY] = {
        ID(SET_LOCALITY),
        .cap = PTM_CAP_SET_LOCALITY,
        .sock_fixed = 1, .sock_min = 1, .sock_req = 4, .sock_resp = 4,
    },
    [CMD_HASH_START] = {
        ID(HASH_START),
        .cap = PTM_CAP_HASHING, .needs_running = true, .cuse_waits = true,
        .sock_exact = true, .sock_resp = 4,
    },
    [CMD_HASH_DATA] = {
        ID(HASH_DATA),
        .cap = PTM_CAP_HASHING, .needs_running = true, .cuse_waits = true,
        .sock_fixed = 4, .sock_min = 4, .sock_req = 4, .sock_resp = 4,
    },
    [CMD_HASH_END] = {
        ID(HASH_END),
        .cap = PTM_CAP_HASHING, .needs_running = true, .cuse_waits = true,
        .sock_exact = true, .sock_resp = 4,
    },
    [CMD_CANCEL_TPM_CMD] = {
        ID(CANCEL_TPM_CMD),
        .cap = PTM_CAP_CANCEL_TPM_CMD, .needs_running = true,
        .beside_worker = true,
        .sock_exact = true, .sock_resp = 4,
    },
    [CMD_STORE_VOLATILE] = {
        ID(STORE_VOLATILE),
        .cap = PTM_CAP_STORE_VOLATILE, .needs_running = true,
        .cuse_waits = true,
        .sock_exact = true, .sock_resp = 4,
    },
    [CMD_RESET_TPMESTABLISHED] = {
        ID(RESET_TPMESTABLISHED),
        .cap = PTM_CAP_RESET_TPMESTABLISHED, .needs_running = true,
        .cuse_waits = true,
        .sock_fixed = 1, .sock_min = 1, .sock_req = 4, .sock_resp = 4,
    },
    [CMD_GET_STATEBLOB] = {
        ID(GET_STATEBLOB),
        .cap = PTM_CAP_GET_STATEBLOB, .needs_running = true,
        .cuse_waits = true, .rest_by_read = true,
        .sock_fixed = 12, .sock_min = 12, .sock_req = 12, .sock_resp = 16,
        .sock_resp_data = true, .sock_data_max = CTRL_CLIENT_BLOB_MAX,
    },
    [CMD_SET_STATEBLOB] = {
        ID(SET_STATEBLOB),
        .cap = PTM_CAP_SET_STATEBLOB, .cuse_waits = true,
        .sock_fixed = 12, .sock_min = 12, .sock_req = 12, .sock_resp = 4,
    },
    [CMD_STOP] = {
        ID(STOP),
        .cap = PTM_CAP_STOP, .cuse_waits = true, .drops_response = true,
        .sock_exact = true, .sock_resp = 4,
    },
    [CMD_GET_CONFIG] = {
        ID(GET_CONFIG),
        .cap = PTM_CAP_GET_CONFIG,
        .sock_resp = 8,
    },
    [CMD_SET_DATAFD] = {
        ID(SET_DATAFD),
        .cap = PTM_CAP_SET_DATAFD, .cuse_waits = true, .socket_only = true,
        .sock_resp = 4,
    },
    [CMD_SET_BUFFERSIZE] = {
        ID(SET_BUFFERSIZE),
        .cap = PTM_CAP_SET_BUFFERSIZE,
        .sock_min = 4, .sock_req = 4, .sock_resp = 16,
    },
    [CMD_GET_INFO] = {
        ID(GET_INFO),
        .cap = PTM_CAP_GET_INFO, .cuse_waits = true,
        .sock_min = 16, .sock_req = 16, .sock_resp = 12,
        .sock_resp_data = true, .sock_data_max = PTM_GETINFO_SIZE,
    },
    [CMD_LOCK_STORAGE] = {
        ID(LOCK_STORAGE),
        .cap = PTM_CAP_LOCK_STORAGE,
        .sock_min = 4, .sock_req = 4, .sock_resp = 4,
    },
};

#undef ID

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
