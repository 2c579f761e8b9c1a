/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libtpms glue: one TPM instance per process (libtpms is a singleton).
 * Owns version choice, the NVRAM and I/O callbacks, start/stop with the
 * automatic TPM2_Shutdown, and TPM command processing with the in-band
 * vendor SetLocality command and swtpm's own error responses
 * (docs/control-channel.md §6, §8.3-8.6).
 */
#ifndef SWTPM_TPM_H
#define SWTPM_TPM_H

#include <stdbool.h>
#include <stdint.h>

#include "key.h"
#include "state.h"
#include "tpm12_names.h"

#define TPM_CMD_MAX 4096        /* largest command accepted on a device */
/* What upstream answers a bad in-band SetLocality with on a TPM 2
 * (docs/control-channel.md §8.5): not tss2's TPM2_RC_LOCALITY (0x907). */
#define TPM_RC_LOCALITY_SWTPM 0x107u
/*
 * The longest lock wait, in 10 ms retries: 3 s, what QEMU asks for after
 * a failed migration and what follows a lock hand-over.  A larger
 * LOCK_STORAGE request is cut to this: the TPM cannot run commands
 * without the lock, so the data channel waits as long as the lock does.
 * Signals end the wait at once (see lock_pause below).
 */
#define TPM_LOCK_RETRIES_MAX 300u
#define TPM_LOCK_RETRY_MS 10

enum tpm_startup {
    TPM_STARTUP_NONE = 0,      /* send nothing */
    TPM_STARTUP_CLEAR,
    TPM_STARTUP_STATE,
    TPM_STARTUP_DEACTIVATED,   /* TPM 1.2 only */
};

struct pcap_writer;

struct tpm_instance {
    bool tpm2;
    bool running;
    uint8_t locality;               /* current locality 0..4 */
    bool reject_locality4;          /* --locality reject-locality-4 */
    bool allow_set_locality;        /* --locality allow-set-locality */
    bool disable_auto_shutdown;     /* --flags disable-auto-shutdown */
    bool incoming_migration;        /* --migration incoming: lock lazily */
    bool release_lock_outgoing;     /* --migration release-lock-outgoing */
    /*
     * The lock was given up after GET_STATEBLOB(savestate) for an
     * outgoing migration: another process may own the state now, so
     * nothing is written until a command or LOCK_STORAGE takes it back.
     */
    bool lock_given_up;
    bool no_lock;                   /* --tpmstate lock=false */
    bool load_failed;               /* a state object could not be read */
    uint32_t last_ordinal;          /* of the last command given libtpms */
    unsigned int lock_retries;      /* for lazy (re)locking, 10 ms each */
    /*
     * Set by the front end: wait ms between two lock attempts while
     * noticing signals; false ends the wait (the lock call gives -EINTR).
     * NULL: a plain sleep.
     */
    bool (*lock_pause)(void *arg, int ms);
    void *lock_pause_arg;
    struct state_store *store;      /* state_new(); the front end frees */
    struct state_key migkey;        /* len 0: none */
    /* Response buffer handed to TPMLIB_Process (it may realloc it). */
    unsigned char *resp;
    uint32_t resp_size;             /* allocated */
    struct pcap_writer *pcap;       /* --pcap: every command, or NULL */
    /*
     * Set before tpm_start() for a store no one reads until the caller
     * flushes it (swtpm_setup's scratch directory): libtpms' writes are
     * kept here, the newest per object, and reach the store only through
     * tpm_flush_held().  libtpms writes the permall after nearly every
     * manufacturing command; each file would be created and renamed only
     * to be replaced a moment later.
     */
    bool hold_writes;
    struct tpm_held {
        uint8_t *data;              /* NULL: nothing held */
        uint32_t len;
    } held[STATE_OBJS];
};

/*
 * Choose the TPM version in libtpms and register our callbacks on inst;
 * its store must be open before tpm_start(), not before this.  Returns 0
 * or -EINVAL.
 */
int tpm_setup(struct tpm_instance *inst);

/*
 * Start libtpms (TPMLIB_MainInit), reading state through the store.  With
 * delete_volatile the volatile state file is removed after it was read.
 * Returns 0; -ENOLCK when the storage lock could not be taken (reported
 * by tpm_ensure_locked()); or -EIO with *out_tpm_rc from libtpms, for the
 * caller to report (tpm_start_strerror()).
 */
/* The report of a libtpms start failure with result rc, into out. */
void tpm_start_strerror(const struct tpm_instance *inst, uint32_t rc,
                        char *out, size_t outlen);

int tpm_start(struct tpm_instance *inst, bool delete_volatile,
              uint32_t *out_tpm_rc);

/* Send TPM2_Shutdown if needed (docs/control-channel.md §8.4), then terminate
 * libtpms; safe when not running. */
void tpm_stop(struct tpm_instance *inst);

/*
 * Process one TPM command.  Sets *out_resp and *out_len to the response
 * (inside inst->resp; valid until the next call).  Always yields exactly
 * one response unless the storage lock cannot be taken (-EIO).
 */
int tpm_process(struct tpm_instance *inst, const uint8_t *cmd, uint32_t len,
                const uint8_t **out_resp, uint32_t *out_len);

/* Send TPM_Startup / TPM2_Startup of the given type; 0 or -EIO. */
int tpm_send_startup(struct tpm_instance *inst, enum tpm_startup type,
                     uint32_t *out_tpm_rc);

/*
 * Write what hold_writes kept to the store (state_save(); whether it is
 * durable is the store's rule) and release it; the held objects are
 * dropped also when a write fails.  0 or the first negative errno.
 */
int tpm_flush_held(struct tpm_instance *inst);

/* Release what hold_writes kept without writing it. */
void tpm_drop_held(struct tpm_instance *inst);

/* Serialize the volatile state into the store ("volatilestate"). */
int tpm_store_volatile(struct tpm_instance *inst, uint32_t *out_tpm_rc);

/* Set the current locality honouring reject-locality-4; TPM result. */
uint32_t tpm_set_locality(struct tpm_instance *inst, uint32_t loc);
/*
 * The locality of a TPM 2 command prefix (docs/control-channel.md §8.2):
 * it becomes the current one and stays, unchecked, as upstream's does.
 */
void tpm_set_prefix_locality(struct tpm_instance *inst, uint8_t loc);
/*
 * The TPM's answer to a command larger than its buffer, which is never
 * handed to libtpms: a 10-byte error (TPM 2: TPM_RC_COMMAND_SIZE, TPM 1.2:
 * TPM_BAD_PARAM_SIZE) in the instance's response buffer.  0 or -ENOMEM.
 */
int tpm_too_big_response(struct tpm_instance *inst, const uint8_t **out_resp,
                         uint32_t *out_len);

/*
 * (Re)take the storage lock if not held, with inst->lock_retries (at
 * most TPM_LOCK_RETRIES_MAX), pausing through inst->lock_pause.  0,
 * -EINTR when lock_pause ended the wait, or another negative errno.
 * The one exception to "common stays silent": only this function knows
 * the holder and the wait, so it logs why the lock was refused, once;
 * callers add what they do about it (end the daemon, fail the request)
 * and never explain the lock again.
 */
int tpm_ensure_locked(struct tpm_instance *inst);

/*
 * Give the storage lock up for an outgoing migration (everything was
 * written already: each store is synchronous).  From now on the state is
 * not written until the lock is taken again; the next taker waits up to
 * TPM_LOCK_RETRIES_MAX x 10 ms.
 */
void tpm_give_up_lock(struct tpm_instance *inst);

/*
 * May this process write state now?  0 if locking is off or the lock is
 * held; a lock never taken yet (--migration incoming) is taken now.
 * -ENOLCK after tpm_give_up_lock() until the lock is taken back.
 */
int tpm_may_write(struct tpm_instance *inst);

/* Free the response buffer and keys. */
void tpm_cleanup(struct tpm_instance *inst);

/* The libtpms object name of a PTM_BLOB_TYPE_*, or NULL. */
const char *tpm_blob_name(uint32_t type);

/* libtpms' TPMLIB_STATE_* for a PTM_BLOB_TYPE_* (0 if invalid). */
unsigned int tpm_blob_libtpms_type(uint32_t type);

/* Configure libtpms debug output for log level >= 5. */
void tpm_debug_setup(unsigned int level, int fd, const char *prefix);

#endif
