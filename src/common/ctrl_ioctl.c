// SPDX-License-Identifier: BSD-3-Clause
/* Pure decoding and encoding of the CUSE ioctl structs. */
#include "ctrl_ioctl.h"

#include <errno.h>
#include <string.h>

size_t
ctrl_ioctl_in_size(uint32_t cmd)
{
    unsigned long nr = ctrl_cmd_to_ioctl(cmd);

    if (!nr || !(_IOC_DIR(nr) & _IOC_WRITE)) {
        return 0;
    }
    return _IOC_SIZE(nr);
}

int
ctrl_ioctl_decode(uint32_t cmd, const void *in, size_t in_len,
                  struct ctrl_req *out)
{
    size_t need = ctrl_ioctl_in_size(cmd);

    memset(out, 0, sizeof(*out));
    out->cmd = cmd;
    if (in_len < need || (need && !in)) {
        return -EBADMSG;
    }
    switch (cmd) {
    case CMD_INIT: {
        const struct ptm_init *p = in;
        out->u.init_flags = p->u.req.init_flags;
        break;
    }
    case CMD_SET_LOCALITY:
    case CMD_RESET_TPMESTABLISHED: {
        const struct ptm_loc *p = in;
        out->u.loc = p->u.req.loc;
        break;
    }
    case CMD_HASH_DATA: {
        const struct ptm_hdata *p = in;
        out->u.hash.data = p->u.req.data;
        out->u.hash.len = p->u.req.length;
        if (p->u.req.length > PTM_HDATA_SIZE) {
            out->u.hash.len = UINT32_MAX;   /* engine answers TPM_FAIL */
        }
        break;
    }
    case CMD_GET_STATEBLOB: {
        const struct ptm_getstate *p = in;
        out->u.getstate.flags = p->u.req.state_flags;
        out->u.getstate.type = p->u.req.type;
        out->u.getstate.offset = p->u.req.offset;
        break;
    }
    case CMD_SET_STATEBLOB: {
        const struct ptm_setstate *p = in;
        if (p->u.req.length > PTM_STATE_BLOB_SIZE) {
            return -EBADMSG;
        }
        out->u.setstate.flags = p->u.req.state_flags;
        out->u.setstate.type = p->u.req.type;
        out->u.setstate.data = p->u.req.data;
        out->u.setstate.len = p->u.req.length;
        out->u.setstate.chunked = true;
        break;
    }
    case CMD_SET_BUFFERSIZE: {
        const struct ptm_setbuffersize *p = in;
        out->u.buffersize = p->u.req.buffersize;
        break;
    }
    case CMD_GET_INFO: {
        const struct ptm_getinfo *p = in;
        out->u.getinfo.flags = p->u.req.flags;
        out->u.getinfo.offset = p->u.req.offset;
        break;
    }
    case CMD_LOCK_STORAGE: {
        const struct ptm_lockstorage *p = in;
        out->u.retries = p->u.req.retries;
        break;
    }
    default:
        break;
    }
    return 0;
}

size_t
ctrl_ioctl_encode(uint32_t cmd, const struct ctrl_resp *resp, void *out)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);
    uint32_t n;

    memset(out, 0, CTRL_IOCTL_MAX);
    if (cmd == CMD_GET_CAPABILITY) {
        memcpy(out, &resp->caps, sizeof(ptm_cap));
        return sizeof(ptm_cap);
    }
    /* Every reply view starts with the result (docs/control-channel.md
     * §9.4); the kernel copies back the size in the request number. */
    memcpy(out, &resp->result, sizeof(ptm_res));
    switch (cmd) {
    case CMD_GET_TPMESTABLISHED: {
        struct ptm_est *p = out;
        p->u.resp.bit = resp->est_bit;
        break;
    }
    case CMD_GET_STATEBLOB: {
        struct ptm_getstate *p = out;
        n = resp->avail < PTM_STATE_BLOB_SIZE ? resp->avail
                                              : PTM_STATE_BLOB_SIZE;
        p->u.resp.state_flags = resp->state_flags;
        p->u.resp.totlength = resp->totlength;
        p->u.resp.length = n;
        if (n) {
            memcpy(p->u.resp.data, resp->data, n);
        }
        break;
    }
    case CMD_GET_CONFIG: {
        struct ptm_getconfig *p = out;
        p->u.resp.flags = resp->config_flags;
        break;
    }
    case CMD_SET_BUFFERSIZE: {
        struct ptm_setbuffersize *p = out;
        p->u.resp.buffersize = resp->bufsize;
        p->u.resp.minsize = resp->minsize;
        p->u.resp.maxsize = resp->maxsize;
        break;
    }
    case CMD_GET_INFO: {
        struct ptm_getinfo *p = out;
        n = resp->avail;    /* engine caps it at PTM_GETINFO_SIZE */
        p->u.resp.totlength = resp->totlength;
        p->u.resp.length = n;
        if (n) {
            memcpy(p->u.resp.buffer, resp->data, n);
        }
        break;
    }
    default:
        break;      /* the result alone */
    }
    return d ? _IOC_SIZE(d->ioctl) : sizeof(ptm_res);
}
