// SPDX-License-Identifier: BSD-3-Clause
/* Names and numbers of control commands and result codes. */
#include "ctrl_wire.h"

static const struct {
    unsigned long ioctl;
    const char *name;
} cmd_table[CMD_MAX + 1] = {
    [CMD_GET_CAPABILITY] = { PTM_GET_CAPABILITY, "PTM_GET_CAPABILITY" },
    [CMD_INIT] = { PTM_INIT, "PTM_INIT" },
    [CMD_SHUTDOWN] = { PTM_SHUTDOWN, "PTM_SHUTDOWN" },
    [CMD_GET_TPMESTABLISHED] = { PTM_GET_TPMESTABLISHED,
                                 "PTM_GET_TPMESTABLISHED" },
    [CMD_SET_LOCALITY] = { PTM_SET_LOCALITY, "PTM_SET_LOCALITY" },
    [CMD_HASH_START] = { PTM_HASH_START, "PTM_HASH_START" },
    [CMD_HASH_DATA] = { PTM_HASH_DATA, "PTM_HASH_DATA" },
    [CMD_HASH_END] = { PTM_HASH_END, "PTM_HASH_END" },
    [CMD_CANCEL_TPM_CMD] = { PTM_CANCEL_TPM_CMD, "PTM_CANCEL_TPM_CMD" },
    [CMD_STORE_VOLATILE] = { PTM_STORE_VOLATILE, "PTM_STORE_VOLATILE" },
    [CMD_RESET_TPMESTABLISHED] = { PTM_RESET_TPMESTABLISHED,
                                   "PTM_RESET_TPMESTABLISHED" },
    [CMD_GET_STATEBLOB] = { PTM_GET_STATEBLOB, "PTM_GET_STATEBLOB" },
    [CMD_SET_STATEBLOB] = { PTM_SET_STATEBLOB, "PTM_SET_STATEBLOB" },
    [CMD_STOP] = { PTM_STOP, "PTM_STOP" },
    [CMD_GET_CONFIG] = { PTM_GET_CONFIG, "PTM_GET_CONFIG" },
    [CMD_SET_DATAFD] = { PTM_SET_DATAFD, "PTM_SET_DATAFD" },
    [CMD_SET_BUFFERSIZE] = { PTM_SET_BUFFERSIZE, "PTM_SET_BUFFERSIZE" },
    [CMD_GET_INFO] = { PTM_GET_INFO, "PTM_GET_INFO" },
    [CMD_LOCK_STORAGE] = { PTM_LOCK_STORAGE, "PTM_LOCK_STORAGE" },
};

unsigned long
ctrl_cmd_to_ioctl(uint32_t cmd)
{
    return (cmd >= 1 && cmd <= CMD_MAX) ? cmd_table[cmd].ioctl : 0;
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
    return (cmd >= 1 && cmd <= CMD_MAX) ? cmd_table[cmd].name : "unknown";
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
