/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control-command engine (docs/control-channel.md §6-7): one
 * implementation of the control commands for every front end (all but
 * SET_DATAFD, which carries an fd: ctrl_sock.c handles it, CUSE refuses
 * it).  Front ends
 * decode requests into struct ctrl_req (ctrl_ioctl.c, ctrl_sock.c), call
 * ctrl_dispatch(), encode struct ctrl_resp, send it, then call
 * ctrl_after_reply().
 */
#ifndef SWTPM_CTRL_H
#define SWTPM_CTRL_H

#include <stdbool.h>
#include <stdint.h>

#include "ctrl_wire.h"
#include "tpm.h"

struct ctrl_req {
    uint32_t cmd;
    union {
        uint32_t init_flags;
        uint32_t loc;                       /* SET_LOCALITY, RESET_EST */
        struct { const uint8_t *data; uint32_t len; } hash;
        struct { uint32_t flags, type, offset; } getstate;
        struct {
            uint32_t flags, type;
            const uint8_t *data;
            uint32_t len;
            bool chunked;   /* CUSE: 3072-byte packets, see 7.6 */
        } setstate;
        uint32_t buffersize;
        struct { uint64_t flags; uint32_t offset; } getinfo;
        uint32_t retries;
    } u;
};

struct ctrl_resp {
    uint32_t result;
    uint64_t caps;
    uint8_t est_bit;
    uint32_t config_flags;
    uint32_t bufsize, minsize, maxsize;
    /* GET_STATEBLOB and GET_INFO: engine-owned bytes from the offset. */
    uint32_t state_flags;
    uint32_t totlength;     /* whole blob / json length */
    uint32_t avail;         /* bytes available at data */
    const uint8_t *data;
};

enum ctrl_frontend {
    CTRL_FE_CUSE,
    CTRL_FE_SOCKET,
};

struct ctrl_engine {
    struct tpm_instance *tpm;
    enum ctrl_frontend fe;
    bool exit_requested;        /* SHUTDOWN ran: leave after replying */
    bool fatal;                 /* SET_STATEBLOB could not lock: exit */
    bool release_lock_pending;  /* savestate fetched, release-lock-outgoing */
    struct {
        bool valid;
        uint32_t type;
        bool decrypted;
        bool encrypted;
        uint8_t *buf;
        uint32_t len;
    } getblob;
    struct {
        bool active;
        uint32_t type;
        uint32_t flags;
        uint8_t *buf;
        uint32_t len;
    } setblob;
    char *info;                 /* last GET_INFO json */
};

void ctrl_engine_init(struct ctrl_engine *eng, struct tpm_instance *tpm,
                      enum ctrl_frontend fe);
void ctrl_engine_free(struct ctrl_engine *eng);

/* Whether a command needs a running TPM (answered TPM_BAD_ORDINAL). */
bool ctrl_needs_running(uint32_t cmd);

/*
 * Run one decoded command.  req may be NULL when the request could not be
 * decoded (size errors): after the running check this answers
 * TPM_BAD_PARAMETER.  Never fails: the outcome is resp->result.
 */
void ctrl_dispatch(struct ctrl_engine *eng, uint32_t cmd,
                   const struct ctrl_req *req, struct ctrl_resp *resp);

/*
 * The bytes of the state blob that GET_STATEBLOB last loaded, from
 * offset off on (CUSE: the rest is read() after the ioctl, §7.5).  *data
 * stays valid until the next control command.  Returns their number: 0
 * past the end or when no blob is loaded.
 */
uint32_t ctrl_getblob_from(const struct ctrl_engine *eng, uint32_t off,
                           const uint8_t **data);

/* Work that must follow the reply (lock release after savestate). */
void ctrl_after_reply(struct ctrl_engine *eng);

/*
 * CUSE write() while a SET_STATEBLOB transfer is open: append data.
 * Returns 0 or -EIO (no transfer, or over the size limit).
 */
int ctrl_setblob_append(struct ctrl_engine *eng, const uint8_t *data,
                        uint32_t len);
bool ctrl_setblob_active(const struct ctrl_engine *eng);
/* Abort an open SET_STATEBLOB transfer (read() in between, close). */
void ctrl_setblob_abort(struct ctrl_engine *eng);

#endif
