// SPDX-License-Identifier: BSD-3-Clause
/* libtpms glue: callbacks, start/stop, and command processing. */
#include "tpm.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libtpms/tpm_library.h>
#include <libtpms/tpm_memory.h>
#include <tss2/tss2_tpm2_types.h>

#include "ctrl_wire.h"
#include "log.h"
#include "pcap.h"

/* libtpms calls back without context: the process has one instance. */
static struct tpm_instance *cur;

static TPM_RESULT
cb_nvram_init(void)
{
    return 0;
}

/* Why a state object did not load, in words a user can act on. */
static const char *
load_reason(int r, uint32_t rc)
{
    /* The store names the file and the fix when it can. */
    if (cur && state_why(cur->store)) {
        return state_why(cur->store);
    }
    switch (rc) {
    case TPM_DECRYPT_ERROR:
        return "integrity check failed: wrong --key or damaged file";
    case TPM_BAD_KEY_PROPERTY:
        return "the --key has the wrong size for this file";
    default:
        return strerror(-r);
    }
}

/* The hold_writes slot of a state object, or NULL. */
static struct tpm_held *
held_slot(struct tpm_instance *inst, const char *name)
{
    for (size_t i = 0; i < STATE_OBJS; i++) {
        if (strcmp(name, state_obj_names[i]) == 0) {
            return &inst->held[i];
        }
    }
    return NULL;
}

static void
held_drop(struct tpm_held *h)
{
    if (h->data) {
        explicit_bzero(h->data, h->len);
        free(h->data);
    }
    h->data = NULL;
    h->len = 0;
}

/* Keep a copy of what libtpms writes instead of writing it; 0 or
 * -ENOMEM. */
static int
held_store(struct tpm_held *h, const unsigned char *data, uint32_t length)
{
    uint8_t *copy = malloc(length ? length : 1);

    if (!copy) {
        return -ENOMEM;
    }
    memcpy(copy, data, length);
    held_drop(h);
    h->data = copy;
    h->len = length;
    return 0;
}

static TPM_RESULT
cb_nvram_loaddata(unsigned char **data, uint32_t *length,
                  uint32_t tpm_number, const char *name)
{
    struct tpm_held *h = cur->hold_writes ? held_slot(cur, name) : NULL;
    uint8_t *raw = NULL;
    uint32_t len = 0, rc = TPM_FAIL;
    unsigned char *copy = NULL;
    int r;

    (void)tpm_number;
    if (h && h->data) {
        /* libtpms releases the buffer with TPM_Free. */
        if (TPM_Malloc(&copy, h->len ? h->len : 1) != 0) {
            return TPM_SIZE;
        }
        memcpy(copy, h->data, h->len);
        *data = copy;
        *length = h->len;
        return 0;
    }
    r = state_load(cur->store, name, &raw, &len, &rc);
    if (r == -ENOENT) {
        return TPM_RETRY;       /* object missing: fresh TPM */
    }
    if (r < 0) {
        /* libtpms starts without a volatile state it could not read:
         * tpm_start() fails instead and keeps the file. */
        /* The reason (ELOOP, EACCES, EINVAL for a non-file, EBADMSG...)
         * at the default level: the TPM result alone says nothing.
         * libtpms asks again within the same start: say it once. */
        if (!cur->load_failed) {
            log_err("cannot load TPM state '%s' from '%s': %s (TPM result "
                    "0x%x)", name, state_path(cur->store),
                    load_reason(r, rc), rc);
        }
        cur->load_failed = true;
        return rc ? rc : TPM_FAIL;
    }
    /* libtpms releases the buffer with TPM_Free. */
    if (TPM_Malloc(&copy, len ? len : 1) != 0) {
        explicit_bzero(raw, len);
        free(raw);
        return TPM_SIZE;
    }
    memcpy(copy, raw, len);
    explicit_bzero(raw, len);
    free(raw);
    *data = copy;
    *length = len;
    return 0;
}

static TPM_RESULT
cb_nvram_storedata(const unsigned char *data, uint32_t length,
                   uint32_t tpm_number, const char *name)
{
    uint32_t rc = TPM_FAIL;

    struct tpm_held *h = cur->hold_writes ? held_slot(cur, name) : NULL;

    (void)tpm_number;
    if (tpm_may_write(cur) < 0) {
        return TPM_FAIL;
    }
    if (h) {
        if (held_store(h, data, length) < 0) {
            log_err("cannot keep TPM state '%s' for '%s': out of memory",
                    name, state_path(cur->store));
            return TPM_SIZE;
        }
        return 0;
    }
    state_clear_why(cur->store);
    if (state_save(cur->store, name, data, length, &rc) < 0) {
        log_err("cannot store TPM state '%s' in '%s' (TPM result 0x%x)%s%s; "
                "the previous state is unchanged", name,
                state_path(cur->store),
                rc, state_why(cur->store) ? ": " : "",
                state_why(cur->store) ? state_why(cur->store) : "");
        return rc ? rc : TPM_FAIL;
    }
    return 0;
}

static TPM_RESULT
cb_nvram_deletename(uint32_t tpm_number, const char *name,
                    TPM_BOOL must_exist)
{
    struct tpm_held *h = cur->hold_writes ? held_slot(cur, name) : NULL;
    bool was_held = h && h->data;
    int r;

    (void)tpm_number;
    if (tpm_may_write(cur) < 0) {
        return TPM_FAIL;
    }
    if (h) {
        held_drop(h);
    }
    r = state_delete(cur->store, name, must_exist && !was_held);
    if (r == -ENOENT) {
        return TPM_RETRY;
    }
    return r < 0 ? TPM_FAIL : 0;
}

static TPM_RESULT
cb_io_init(void)
{
    return 0;
}

static TPM_RESULT
cb_io_getlocality(TPM_MODIFIER_INDICATOR *loc, uint32_t tpm_number)
{
    (void)tpm_number;
    *loc = cur->locality;
    return 0;
}

static TPM_RESULT
cb_io_getphysicalpresence(TPM_BOOL *pp, uint32_t tpm_number)
{
    (void)tpm_number;
    *pp = 0;    /* no hardware physical presence; software PP only */
    return 0;
}

int
tpm_setup(struct tpm_instance *inst)
{
    struct libtpms_callbacks cbs = {
        .sizeOfStruct = sizeof(struct libtpms_callbacks),
        .tpm_nvram_init = cb_nvram_init,
        .tpm_nvram_loaddata = cb_nvram_loaddata,
        .tpm_nvram_storedata = cb_nvram_storedata,
        .tpm_nvram_deletename = cb_nvram_deletename,
        .tpm_io_init = cb_io_init,
        .tpm_io_getlocality = cb_io_getlocality,
        .tpm_io_getphysicalpresence = cb_io_getphysicalpresence,
    };

    cur = inst;
    if (TPMLIB_ChooseTPMVersion(inst->tpm2 ? TPMLIB_TPM_VERSION_2
                                           : TPMLIB_TPM_VERSION_1_2) != 0) {
        log_debug("libtpms cannot emulate TPM %s", inst->tpm2 ? "2" : "1.2");
        return -EINVAL;
    }
    if (TPMLIB_RegisterCallbacks(&cbs) != 0) {
        return -EINVAL;
    }
    return 0;
}

void
tpm_debug_setup(unsigned int level, int fd, const char *prefix)
{
    char pfx[80];

    if (level < 5 || fd < 0) {
        return;
    }
    snprintf(pfx, sizeof(pfx), "%s    ", prefix ? prefix : "");
    TPMLIB_SetDebugFD(fd);
    TPMLIB_SetDebugLevel(level - 4);
    TPMLIB_SetDebugPrefix(pfx);
}

/* Wait one lock retry interval; false: the front end wants out. */
static bool
lock_pause(struct tpm_instance *inst)
{
    const struct timespec delay = { 0, TPM_LOCK_RETRY_MS * 1000000L };

    if (inst->lock_pause) {
        return inst->lock_pause(inst->lock_pause_arg, TPM_LOCK_RETRY_MS);
    }
    nanosleep(&delay, NULL);
    return true;
}

int
tpm_ensure_locked(struct tpm_instance *inst)
{
    pid_t holder = 0;
    unsigned int i;
    int r;

    if (inst->no_lock || state_is_locked(inst->store)) {
        return 0;
    }
    if (inst->lock_retries > TPM_LOCK_RETRIES_MAX) {
        inst->lock_retries = TPM_LOCK_RETRIES_MAX;
    }
    /* One try per pause, so that the front end sees signals meanwhile. */
    for (i = 0;; i++) {
        r = state_lock(inst->store, &holder);
        if (r != -EAGAIN || i >= inst->lock_retries) {
            break;
        }
        if (i == 0) {
            log_info("waiting up to %u ms for the lock on TPM state "
                     "directory '%s'", inst->lock_retries * TPM_LOCK_RETRY_MS,
                     state_path(inst->store));
        }
        if (!lock_pause(inst)) {
            log_warn("stopped waiting for the lock on TPM state directory "
                     "'%s': interrupted by a signal or shutdown",
                     state_path(inst->store));
            return -EINTR;
        }
    }
    if (r == 0) {
        inst->lock_given_up = false;
    } else if (r != -EAGAIN) {
        log_err("cannot create or open the lock file in TPM state "
                "%s '%s': %s", state_kind(inst->store),
                state_path(inst->store),
                strerror(-r));
    } else if (holder > 0) {
        log_err("cannot lock TPM state %s '%s': it is in use by "
                "process %d; stop that process first",
                state_kind(inst->store), state_path(inst->store),
                (int)holder);
    } else {
        /* An OFD lock (ours on a file://) does not name its owner. */
        log_err("cannot lock TPM state %s '%s': it is in use by another "
                "process; stop that process first",
                state_kind(inst->store), state_path(inst->store));
    }
    return r;
}

void
tpm_give_up_lock(struct tpm_instance *inst)
{
    if (inst->no_lock || !state_is_locked(inst->store)) {
        return;
    }
    state_unlock(inst->store);
    inst->lock_given_up = true;
    inst->lock_retries = TPM_LOCK_RETRIES_MAX;
    log_info("released the lock on TPM state %s '%s' for the "
             "outgoing migration", state_kind(inst->store),
             state_path(inst->store));
}

int
tpm_may_write(struct tpm_instance *inst)
{
    int r;

    if (inst->no_lock) {
        return 0;
    }
    if (state_is_locked(inst->store)) {
        /* The fd stays held when the check fails, so the lock is never
         * taken again: our state in memory is older than the store's. */
        r = state_lock_check(inst->store);
        if (r < 0) {
            log_err("not writing TPM state to '%s': its lock is lost (%s); "
                    "another host may own the state now",
                    state_path(inst->store),
                    strerror(-r));
            return -ENOLCK;
        }
        return 0;
    }
    if (inst->lock_given_up) {
        log_err("not writing TPM state to '%s': its lock was released for "
                "an outgoing migration and not taken back",
                state_path(inst->store));
        return -ENOLCK;
    }
    return tpm_ensure_locked(inst);
}

void
tpm_start_strerror(const struct tpm_instance *inst, uint32_t rc, char *out,
                   size_t outlen)
{
    snprintf(out, outlen, "TPM start failed with TPM result 0x%x; the state "
             "in '%s' may be damaged or need a different --key", rc,
             state_path(inst->store));
}

int
tpm_start(struct tpm_instance *inst, bool delete_volatile,
          uint32_t *out_tpm_rc)
{
    TPM_RESULT rc;

    *out_tpm_rc = 0;
    if (!inst->incoming_migration && tpm_ensure_locked(inst) < 0) {
        *out_tpm_rc = TPM_FAIL;
        return -ENOLCK;
    }
    inst->load_failed = false;
    state_new_start(inst->store);
    rc = TPMLIB_MainInit();
    if (rc == 0 && inst->load_failed) {
        /* Never run on (and later delete) state that did not load. */
        TPMLIB_Terminate();
        rc = inst->tpm2 ? TPM2_RC_FAILURE : TPM_FAIL;
    }
    if (rc != 0) {
        log_debug("TPMLIB_MainInit: 0x%x", rc);
        *out_tpm_rc = rc;
        return -EIO;
    }
    inst->running = true;
    inst->last_ordinal = 0;
    if (delete_volatile && tpm_may_write(inst) == 0) {
        state_delete(inst->store, state_obj_names[STATE_OBJ_VOLATILE], false);
    }
    return 0;
}

/* Run a fixed command internally; returns the TPM response code. */
static uint32_t
tpm_internal_cmd(struct tpm_instance *inst, const uint8_t *cmd, uint32_t len)
{
    unsigned char *resp = inst->resp;
    uint32_t resp_len = 0, size = inst->resp_size;
    uint8_t buf[16];

    memcpy(buf, cmd, len);
    pcap_record(inst->pcap, cmd, len, /* to_tpm= */ true);
    if (TPMLIB_Process(&resp, &resp_len, &size, buf, len) != 0) {
        inst->resp = resp;
        inst->resp_size = size;
        return TPM_FAIL;
    }
    inst->resp = resp;
    inst->resp_size = size;
    inst->last_ordinal = be32_get(cmd + 6);
    pcap_record(inst->pcap, resp, resp_len, /* to_tpm= */ false);
    return resp_len >= 10 ? be32_get(resp + 6) : TPM_FAIL;
}

/* Run TPM2_Shutdown(type) internally; the TPM's response code. */
static uint32_t
tpm2_shutdown(struct tpm_instance *inst, uint16_t type)
{
    uint8_t cmd[12];

    be16_put(cmd, TPM2_ST_NO_SESSIONS);
    be32_put(cmd + 2, sizeof(cmd));
    be32_put(cmd + 6, TPM2_CC_Shutdown);
    be16_put(cmd + 10, type);
    return tpm_internal_cmd(inst, cmd, sizeof(cmd));
}

void
tpm_stop(struct tpm_instance *inst)
{
    uint32_t rc;

    if (!inst->running) {
        return;
    }
    if (inst->tpm2 && !inst->disable_auto_shutdown &&
        inst->last_ordinal != TPM2_CC_Shutdown) {
        if (inst->lock_given_up && !state_is_locked(inst->store)) {
            /* The state belongs to the migration's destination now. */
            log_warn("not sending TPM2_Shutdown: the state lock was given "
                     "up for an outgoing migration");
            goto terminate;
        }
        rc = tpm2_shutdown(inst, TPM2_SU_STATE);
        if (rc != TPM2_RC_SUCCESS && rc != TPM2_RC_INITIALIZE) {
            tpm2_shutdown(inst, TPM2_SU_CLEAR);
        }
    }
terminate:
    TPMLIB_Terminate();
    inst->running = false;
    /* Upstream-format files for whoever reads the state next. */
    state_checkpoint(inst->store);
}

int
tpm_send_startup(struct tpm_instance *inst, enum tpm_startup type,
                 uint32_t *out_tpm_rc)
{
    uint8_t cmd[12];

    if (type == TPM_STARTUP_NONE) {
        return 0;
    }
    if (inst->tpm2) {
        be16_put(cmd, TPM2_ST_NO_SESSIONS);
        be32_put(cmd + 2, 12);
        be32_put(cmd + 6, TPM2_CC_Startup);
        be16_put(cmd + 10, type == TPM_STARTUP_STATE ? TPM2_SU_STATE
                                                     : TPM2_SU_CLEAR);
    } else {
        be16_put(cmd, TPM_TAG_RQU_COMMAND_12);
        be32_put(cmd + 2, 12);
        be32_put(cmd + 6, TPM_ORD_STARTUP);
        be16_put(cmd + 10, type == TPM_STARTUP_CLEAR ? 1 :
                           type == TPM_STARTUP_STATE ? 2 : 3);
    }
    *out_tpm_rc = tpm_internal_cmd(inst, cmd, sizeof(cmd));
    return 0;
}

/* swtpm's own 10-byte response (docs/control-channel.md §8.3) in inst->resp. */
static int
tpm_own_response(struct tpm_instance *inst, uint32_t code,
                 const uint8_t **out_resp, uint32_t *out_len)
{
    if (inst->resp_size < 10) {
        unsigned char *p = realloc(inst->resp, TPM_CMD_MAX);

        if (!p) {
            return -ENOMEM;
        }
        inst->resp = p;
        inst->resp_size = TPM_CMD_MAX;
    }
    be16_put(inst->resp, inst->tpm2 ? TPM2_ST_NO_SESSIONS
                                    : TPM_TAG_RSP_COMMAND_12);
    be32_put(inst->resp + 2, 10);
    be32_put(inst->resp + 6, code);
    *out_resp = inst->resp;
    *out_len = 10;
    return 0;
}

static uint32_t
fatal_code(const struct tpm_instance *inst)
{
    return inst->tpm2 ? TPM2_RC_FAILURE : TPM_FAIL;
}

uint32_t
tpm_set_locality(struct tpm_instance *inst, uint32_t loc)
{
    if (loc > 4 || (loc == 4 && inst->reject_locality4)) {
        return TPM_BAD_LOCALITY;
    }
    inst->locality = (uint8_t)loc;
    return 0;
}

void
tpm_set_prefix_locality(struct tpm_instance *inst, uint8_t loc)
{
    inst->locality = loc;
}

int
tpm_too_big_response(struct tpm_instance *inst, const uint8_t **out_resp,
                     uint32_t *out_len)
{
    return tpm_own_response(inst, inst->tpm2 ? TPM2_RC_COMMAND_SIZE
                                             : TPM_BAD_PARAM_SIZE,
                            out_resp, out_len);
}

/* The in-band vendor SetLocality command (docs/control-channel.md §8.5). */
static int
tpm_vendor_set_locality(struct tpm_instance *inst, const uint8_t *cmd,
                        uint32_t len, const uint8_t **out_resp,
                        uint32_t *out_len)
{
    if (!inst->allow_set_locality) {
        return tpm_own_response(inst, fatal_code(inst), out_resp, out_len);
    }
    if (len < 11) {
        return tpm_own_response(inst, inst->tpm2 ? TPM2_RC_INSUFFICIENT
                                                   : TPM_BAD_PARAM_SIZE,
                                out_resp, out_len);
    }
    if (tpm_set_locality(inst, cmd[10]) != 0) {
        return tpm_own_response(inst, inst->tpm2 ? TPM_RC_LOCALITY_SWTPM
                                                   : TPM_BAD_LOCALITY,
                                out_resp, out_len);
    }
    return tpm_own_response(inst, 0, out_resp, out_len);
}

static int
process_one(struct tpm_instance *inst, const uint8_t *cmd, uint32_t len,
            const uint8_t **out_resp, uint32_t *out_len)
{
    unsigned char *resp = inst->resp;
    uint32_t resp_len = 0, size = inst->resp_size;
    TPM_RESULT rc;

    if (!inst->running) {
        return tpm_own_response(inst, fatal_code(inst), out_resp, out_len);
    }
    if (len < 10) {
        return tpm_own_response(inst, inst->tpm2 ? TPM2_RC_INSUFFICIENT
                                                   : TPM_BAD_PARAM_SIZE,
                                out_resp, out_len);
    }
    if (be32_get(cmd + 6) == TPM_ORD_VENDOR_SET_LOCALITY) {
        return tpm_vendor_set_locality(inst, cmd, len, out_resp, out_len);
    }
    if (tpm_ensure_locked(inst) < 0) {
        return -EIO;
    }
    /* TPMLIB_Process takes a non-const command buffer. */
    rc = TPMLIB_Process(&resp, &resp_len, &size, (unsigned char *)cmd, len);
    inst->resp = resp;
    inst->resp_size = size;
    inst->last_ordinal = be32_get(cmd + 6);
    if (rc != 0 || resp_len < 10) {
        log_err("libtpms failed to process command 0x%x: result 0x%x",
                inst->last_ordinal, rc);
        return tpm_own_response(inst, fatal_code(inst), out_resp, out_len);
    }
    *out_resp = resp;
    *out_len = resp_len;
    return 0;
}

int
tpm_process(struct tpm_instance *inst, const uint8_t *cmd, uint32_t len,
            const uint8_t **out_resp, uint32_t *out_len)
{
    int r;

    pcap_record(inst->pcap, cmd, len, /* to_tpm= */ true);
    r = process_one(inst, cmd, len, out_resp, out_len);
    if (r == 0) {
        pcap_record(inst->pcap, *out_resp, *out_len, /* to_tpm= */ false);
    }
    return r;
}

int
tpm_store_volatile(struct tpm_instance *inst, uint32_t *out_tpm_rc)
{
    unsigned char *buf = NULL;
    uint32_t len = 0;
    TPM_RESULT rc;
    int r = 0;

    if (tpm_may_write(inst) < 0) {
        *out_tpm_rc = TPM_FAIL;
        return -EIO;
    }
    rc = TPMLIB_VolatileAll_Store(&buf, &len);
    if (rc != 0) {
        *out_tpm_rc = rc;
        return -EIO;
    }
    if (state_save(inst->store, state_obj_names[STATE_OBJ_VOLATILE], buf, len,
                   out_tpm_rc) < 0) {
        log_err("cannot store the volatile state in '%s'",
                state_path(inst->store));
        r = -EIO;
    }
    explicit_bzero(buf, len);
    TPM_Free(buf);
    return r;
}

void
tpm_drop_held(struct tpm_instance *inst)
{
    for (size_t i = 0; i < STATE_OBJS; i++) {
        held_drop(&inst->held[i]);
    }
}

int
tpm_flush_held(struct tpm_instance *inst)
{
    uint32_t rc = 0;
    int r = 0;

    for (size_t i = 0; i < STATE_OBJS; i++) {
        struct tpm_held *h = &inst->held[i];

        if (h->data && r == 0) {
            state_clear_why(inst->store);
            r = state_save(inst->store, state_obj_names[i], h->data, h->len,
                           &rc);
            if (r < 0) {
                log_debug("cannot write TPM state '%s' in '%s' (TPM result "
                          "0x%x)", state_obj_names[i],
                          state_path(inst->store), rc);
            }
        }
        held_drop(h);
    }
    return r;
}

void
tpm_cleanup(struct tpm_instance *inst)
{
    if (inst->resp) {
        explicit_bzero(inst->resp, inst->resp_size);
        free(inst->resp);
    }
    inst->resp = NULL;
    inst->resp_size = 0;
    key_wipe(&inst->migkey);
    tpm_drop_held(inst);
}

const char *
tpm_blob_name(uint32_t type)
{
    switch (type) {
    case PTM_BLOB_TYPE_PERMANENT: return state_obj_names[STATE_OBJ_PERMALL];
    case PTM_BLOB_TYPE_VOLATILE: return state_obj_names[STATE_OBJ_VOLATILE];
    case PTM_BLOB_TYPE_SAVESTATE:
        return state_obj_names[STATE_OBJ_SAVESTATE];
    default: return NULL;
    }
}

unsigned int
tpm_blob_libtpms_type(uint32_t type)
{
    switch (type) {
    case PTM_BLOB_TYPE_PERMANENT: return TPMLIB_STATE_PERMANENT;
    case PTM_BLOB_TYPE_VOLATILE: return TPMLIB_STATE_VOLATILE;
    case PTM_BLOB_TYPE_SAVESTATE: return TPMLIB_STATE_SAVE_STATE;
    default: return 0;
    }
}
