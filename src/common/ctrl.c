// SPDX-License-Identifier: BSD-3-Clause
/* The control-command engine shared by the CUSE and socket front ends. */
#include "ctrl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libtpms/tpm_library.h>
#include <libtpms/tpm_tis.h>

#include "log.h"
#include "stateobj.h"

void
ctrl_engine_init(struct ctrl_engine *eng, struct tpm_instance *tpm,
                 enum ctrl_frontend fe)
{
    memset(eng, 0, sizeof(*eng));
    eng->tpm = tpm;
    eng->fe = fe;
}

static void
getblob_drop(struct ctrl_engine *eng)
{
    if (eng->getblob.buf) {
        explicit_bzero(eng->getblob.buf, eng->getblob.len);
        free(eng->getblob.buf);
    }
    memset(&eng->getblob, 0, sizeof(eng->getblob));
}

void
ctrl_setblob_abort(struct ctrl_engine *eng)
{
    if (eng->setblob.buf) {
        explicit_bzero(eng->setblob.buf, eng->setblob.len);
        free(eng->setblob.buf);
    }
    memset(&eng->setblob, 0, sizeof(eng->setblob));
}

void
ctrl_engine_free(struct ctrl_engine *eng)
{
    getblob_drop(eng);
    ctrl_setblob_abort(eng);
    free(eng->info);
    eng->info = NULL;
}

/* The PTM_CAP_* bits this front end offers. */
static uint64_t
ctrl_capabilities(const struct ctrl_engine *eng)
{
    uint64_t caps = 0;

    for (uint32_t c = 1; c <= CMD_MAX; c++) {
        const struct ctrl_cmd_desc *d = ctrl_cmd_desc(c);

        if (!d->socket_only || eng->fe == CTRL_FE_SOCKET) {
            caps |= d->cap;
        }
    }
    /* Not a command: the TPM 2 data channel's prefix (§8.2). */
    if (eng->fe == CTRL_FE_SOCKET && eng->tpm->tpm2) {
        caps |= PTM_CAP_SEND_COMMAND_HEADER;
    }
    return caps;
}

bool
ctrl_needs_running(uint32_t cmd)
{
    const struct ctrl_cmd_desc *d = ctrl_cmd_desc(cmd);

    return d && d->needs_running;
}

static uint32_t
do_init(struct ctrl_engine *eng, uint32_t flags)
{
    struct tpm_instance *t = eng->tpm;
    char msg[512];
    uint32_t rc = 0;
    int r;

    tpm_stop(t);
    getblob_drop(eng);
    ctrl_setblob_abort(eng);
    r = tpm_start(t, flags & PTM_INIT_FLAG_DELETE_VOLATILE, &rc);
    if (r == -EIO) {
        /* The client only sees rc: the daemon's log says why. */
        tpm_start_strerror(t, rc, msg, sizeof(msg));
        log_err("%s", msg);
    }
    if (r < 0) {
        return rc ? rc : TPM_FAIL;
    }
    return 0;
}

static uint32_t
do_reset_established(struct ctrl_engine *eng, uint32_t loc)
{
    struct tpm_instance *t = eng->tpm;
    uint8_t saved = t->locality;
    uint32_t rc;

    if (loc > 4) {
        return TPM_BAD_LOCALITY;
    }
    t->locality = (uint8_t)loc;
    rc = TPM_IO_TpmEstablished_Reset();
    t->locality = saved;
    return rc;
}

/* Load (or reuse) the blob of a type for GET_STATEBLOB (docs/control-channel.md
 * §7.2). */
static uint32_t
getblob_load(struct ctrl_engine *eng, uint32_t type, bool decrypted,
             bool reload)
{
    struct tpm_instance *t = eng->tpm;
    const char *name = tpm_blob_name(type);
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;
    bool encrypted = false;
    int r;

    if (!name) {
        return eng->fe == CTRL_FE_CUSE ? TPM_BAD_PARAMETER : TPM_FAIL;
    }
    if (!reload && eng->getblob.valid && eng->getblob.type == type &&
        eng->getblob.decrypted == decrypted) {
        return 0;
    }
    getblob_drop(eng);
    if (type == PTM_BLOB_TYPE_VOLATILE &&
        tpm_store_volatile(t, &rc) < 0) {
        return rc ? rc : TPM_FAIL;
    }
    r = state_load(t->store, name, &raw, &len, &rc);
    if (type == PTM_BLOB_TYPE_VOLATILE && tpm_may_write(t) == 0) {
        /* Never leave a volatile state behind that could be replayed. */
        state_delete(t->store, name, false);
    }
    if (r == -ENOENT) {
        return TPM_RETRY;
    }
    if (r < 0) {
        return rc ? rc : TPM_FAIL;
    }
    r = migblob_build(raw, len, decrypted ? NULL : state_filekey(t->store),
                      &t->migkey, &eng->getblob.buf, &eng->getblob.len,
                      &encrypted);
    explicit_bzero(raw, len);
    free(raw);
    if (r < 0) {
        return TPM_FAIL;
    }
    eng->getblob.valid = true;
    eng->getblob.type = type;
    eng->getblob.decrypted = decrypted;
    eng->getblob.encrypted = encrypted;
    return 0;
}

uint32_t
ctrl_getblob_from(const struct ctrl_engine *eng, uint32_t off,
                  const uint8_t **data)
{
    *data = NULL;
    if (!eng->getblob.valid || off >= eng->getblob.len) {
        return 0;
    }
    *data = eng->getblob.buf + off;
    return eng->getblob.len - off;
}

static void
do_get_stateblob(struct ctrl_engine *eng, const struct ctrl_req *req,
                 struct ctrl_resp *resp)
{
    uint32_t off = req->u.getstate.offset;
    bool decrypted = req->u.getstate.flags & PTM_STATE_FLAG_DECRYPTED;

    /* With --migration release-lock-outgoing the source lets the
     * destination lock shared storage once the last blob (savestate,
     * mostly absent) is asked for; without it the lock stays. */
    if (req->u.getstate.type == PTM_BLOB_TYPE_SAVESTATE &&
        eng->tpm->release_lock_outgoing) {
        eng->release_lock_pending = true;
    }
    /* A transfer starting at offset 0 always sees fresh state. */
    resp->result = getblob_load(eng, req->u.getstate.type, decrypted,
                                off == 0);
    if (resp->result != 0) {
        return;
    }
    resp->state_flags = eng->getblob.encrypted ? PTM_STATE_FLAG_ENCRYPTED : 0;
    resp->totlength = eng->getblob.len;
    if (off < eng->getblob.len) {
        resp->data = eng->getblob.buf + off;
        resp->avail = eng->getblob.len - off;
    }
}

static uint32_t
setblob_commit(struct ctrl_engine *eng)
{
    struct tpm_instance *t = eng->tpm;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = 0;
    unsigned int st = tpm_blob_libtpms_type(eng->setblob.type);
    int r;

    if (!st) {
        rc = TPM_BAD_PARAMETER;
        goto out;
    }
    r = migblob_parse(eng->setblob.buf, eng->setblob.len,
                      eng->setblob.flags & PTM_STATE_FLAG_ENCRYPTED,
                      state_filekey(t->store), &t->migkey, &raw, &len,
                      &rc);
    if (r < 0) {
        log_err("rejected %s state blob: TPM result 0x%x",
                tpm_blob_name(eng->setblob.type), rc);
        rc = rc ? rc : TPM_FAIL;
        goto out;
    }
    rc = TPMLIB_SetState(st, raw, len);
    if (rc != 0) {
        log_err("libtpms rejected the %s state blob: TPM result 0x%x",
                tpm_blob_name(eng->setblob.type), rc);
    }
out:
    if (raw) {
        explicit_bzero(raw, len);
        free(raw);
    }
    ctrl_setblob_abort(eng);
    return rc;
}

int
ctrl_setblob_append(struct ctrl_engine *eng, const uint8_t *data,
                    uint32_t len)
{
    uint8_t *p;

    if (!eng->setblob.active) {
        return -EIO;
    }
    if (len > PTM_SET_BLOB_MAX - eng->setblob.len) {
        ctrl_setblob_abort(eng);
        return -EIO;
    }
    p = realloc(eng->setblob.buf, eng->setblob.len + len + 1);
    if (!p) {
        ctrl_setblob_abort(eng);
        return -EIO;
    }
    memcpy(p + eng->setblob.len, data, len);
    eng->setblob.buf = p;
    eng->setblob.len += len;
    return 0;
}

bool
ctrl_setblob_active(const struct ctrl_engine *eng)
{
    return eng->setblob.active;
}

static uint32_t
do_set_stateblob(struct ctrl_engine *eng, const struct ctrl_req *req)
{
    struct tpm_instance *t = eng->tpm;
    bool first = !eng->setblob.active;

    if (t->running) {
        ctrl_setblob_abort(eng);
        return TPM_BAD_ORDINAL;
    }
    if (tpm_ensure_locked(t) < 0) {
        ctrl_setblob_abort(eng);
        eng->fatal = true;
        return TPM_IOERROR;
    }
    if (first) {
        eng->setblob.active = true;
        eng->setblob.type = req->u.setstate.type;
        eng->setblob.flags = req->u.setstate.flags;
    }
    if (ctrl_setblob_append(eng, req->u.setstate.data,
                            req->u.setstate.len) < 0) {
        return TPM_FAIL;
    }
    if (req->u.setstate.chunked &&
        (req->u.setstate.len == PTM_STATE_BLOB_SIZE ||
         (first && req->u.setstate.len == 0))) {
        return 0;   /* more packets or write() data follow */
    }
    return setblob_commit(eng);
}

static void
do_get_info(struct ctrl_engine *eng, const struct ctrl_req *req,
            struct ctrl_resp *resp)
{
    size_t slen;

    free(eng->info);
    eng->info = TPMLIB_GetInfo((enum TPMLIB_InfoFlags)req->u.getinfo.flags);
    if (!eng->info) {
        resp->result = TPM_SIZE;
        return;
    }
    slen = strlen(eng->info);
    if (req->u.getinfo.offset >= slen) {
        resp->result = TPM_BAD_PARAMETER;
        return;
    }
    resp->totlength = (uint32_t)slen + 1;
    resp->data = (const uint8_t *)eng->info + req->u.getinfo.offset;
    resp->avail = resp->totlength - req->u.getinfo.offset;
    if (resp->avail > PTM_GETINFO_SIZE) {
        resp->avail = PTM_GETINFO_SIZE;
    }
}

static void
do_set_buffersize(struct ctrl_engine *eng, uint32_t wanted,
                  struct ctrl_resp *resp)
{
    if (wanted != 0 && eng->tpm->running) {
        resp->result = TPM_BAD_ORDINAL;
        return;
    }
    resp->bufsize = TPMLIB_SetBufferSize(wanted, &resp->minsize,
                                         &resp->maxsize);
}

static uint32_t
do_lock_storage(struct ctrl_engine *eng, uint32_t retries)
{
    eng->tpm->lock_retries = retries;
    return tpm_ensure_locked(eng->tpm) < 0 ? TPM_FAIL : 0;
}

/*
 * The handlers: one per command, indexed by code.  A handler runs after
 * the running check and gets a decoded request; its outcome goes to resp
 * (resp->result 0 unless set).
 */
typedef void ctrl_handler(struct ctrl_engine *eng, const struct ctrl_req *req,
                          struct ctrl_resp *resp);

static void
h_init(struct ctrl_engine *eng, const struct ctrl_req *req,
       struct ctrl_resp *resp)
{
    resp->result = do_init(eng, req->u.init_flags);
}

static void
h_stop(struct ctrl_engine *eng, const struct ctrl_req *req,
       struct ctrl_resp *resp)
{
    tpm_stop(eng->tpm);
    getblob_drop(eng);
}

static void
h_shutdown(struct ctrl_engine *eng, const struct ctrl_req *req,
           struct ctrl_resp *resp)
{
    eng->exit_requested = true;
    h_stop(eng, req, resp);
}

static void
h_get_established(struct ctrl_engine *eng, const struct ctrl_req *req,
                  struct ctrl_resp *resp)
{
    TPM_BOOL bit = 0;

    resp->result = TPM_IO_TpmEstablished_Get(&bit);
    resp->est_bit = bit ? 1 : 0;
}

static void
h_set_locality(struct ctrl_engine *eng, const struct ctrl_req *req,
               struct ctrl_resp *resp)
{
    resp->result = tpm_set_locality(eng->tpm, req->u.loc);
}

static void
h_reset_established(struct ctrl_engine *eng, const struct ctrl_req *req,
                    struct ctrl_resp *resp)
{
    resp->result = do_reset_established(eng, req->u.loc);
}

static void
h_hash_start(struct ctrl_engine *eng, const struct ctrl_req *req,
             struct ctrl_resp *resp)
{
    resp->result = TPM_IO_Hash_Start();
}

static void
h_hash_data(struct ctrl_engine *eng, const struct ctrl_req *req,
            struct ctrl_resp *resp)
{
    if (req->u.hash.len > PTM_HDATA_SIZE && eng->fe == CTRL_FE_CUSE) {
        resp->result = TPM_FAIL;
        return;
    }
    resp->result = TPM_IO_Hash_Data(req->u.hash.data, req->u.hash.len);
}

static void
h_hash_end(struct ctrl_engine *eng, const struct ctrl_req *req,
           struct ctrl_resp *resp)
{
    resp->result = TPM_IO_Hash_End();
}

static void
h_cancel(struct ctrl_engine *eng, const struct ctrl_req *req,
         struct ctrl_resp *resp)
{
    resp->result = TPMLIB_CancelCommand();
}

static void
h_store_volatile(struct ctrl_engine *eng, const struct ctrl_req *req,
                 struct ctrl_resp *resp)
{
    uint32_t rc = 0;

    getblob_drop(eng);
    if (tpm_store_volatile(eng->tpm, &rc) < 0) {
        resp->result = rc ? rc : TPM_FAIL;
    }
}

static void
h_set_stateblob(struct ctrl_engine *eng, const struct ctrl_req *req,
                struct ctrl_resp *resp)
{
    resp->result = do_set_stateblob(eng, req);
}

static void
h_get_config(struct ctrl_engine *eng, const struct ctrl_req *req,
             struct ctrl_resp *resp)
{
    const struct tpm_instance *t = eng->tpm;

    resp->config_flags =
        (state_filekey(t->store)->len ? PTM_CONFIG_FLAG_FILE_KEY : 0) |
        (t->migkey.len ? PTM_CONFIG_FLAG_MIGRATION_KEY : 0);
}

static void
h_set_buffersize(struct ctrl_engine *eng, const struct ctrl_req *req,
                 struct ctrl_resp *resp)
{
    do_set_buffersize(eng, req->u.buffersize, resp);
}

static void
h_lock_storage(struct ctrl_engine *eng, const struct ctrl_req *req,
               struct ctrl_resp *resp)
{
    resp->result = do_lock_storage(eng, req->u.retries);
}

/* The handler column of ctrl_rows.h. */
#define CTRL_ROW(c, handler, ...) [CMD_##c] = handler,
static ctrl_handler *const handlers[CMD_MAX + 1] = {
#include "ctrl_rows.h"
};
#undef CTRL_ROW

void
ctrl_dispatch(struct ctrl_engine *eng, uint32_t cmd,
              const struct ctrl_req *req, struct ctrl_resp *resp)
{
    memset(resp, 0, sizeof(*resp));
    if (cmd == CMD_GET_CAPABILITY) {
        resp->caps = ctrl_capabilities(eng);
        return;
    }
    if (ctrl_needs_running(cmd) && !eng->tpm->running) {
        resp->result = TPM_BAD_ORDINAL;
        return;
    }
    if (!req) {
        resp->result = TPM_BAD_PARAMETER;
        return;
    }
    if (cmd > CMD_MAX || !handlers[cmd]) {
        resp->result = TPM_BAD_ORDINAL;
        return;
    }
    handlers[cmd](eng, req, resp);
}

void
ctrl_after_reply(struct ctrl_engine *eng)
{
    if (eng->release_lock_pending) {
        eng->release_lock_pending = false;
        tpm_give_up_lock(eng->tpm);
    }
}
