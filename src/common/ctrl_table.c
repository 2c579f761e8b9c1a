// SPDX-License-Identifier: BSD-3-Clause
/* The table of control commands, and the names of result codes. */
#include "ctrl_wire.h"

/* The descriptions of ctrl_rows.h's rows, for the engine and the client. */
#define ID(c) .code = CMD_##c, .ioctl = PTM_##c, .name = "PTM_" #c
#define CTRL_ROW(c, handler, ...) [CMD_##c] = { ID(c), __VA_ARGS__ },

static const struct ctrl_cmd_desc cmd_table[CMD_MAX + 1] = {
#include "ctrl_rows.h"
};

#undef CTRL_ROW
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
