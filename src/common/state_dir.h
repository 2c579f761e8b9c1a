/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the directory backend of the state store: what state.c (the API,
 * dispatch and the directory's files) shares with state_jnl.c (the
 * journal policy: which generation loads, checkpoints) and
 * state_replace.c (the replace transaction, docs/state.md §7.5).
 * No front end includes this header.
 */
#ifndef SWTPM_STATE_DIR_H
#define SWTPM_STATE_DIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "crypto.h"
#include "journal.h"
#include "key.h"
#include "state.h"
#include "statesum.h"

/*
 * What the journal policy (state_jnl.c) knows of permall, its main file
 * and its journal between two calls; the journal file itself is struct
 * journal's (journal.h).
 */
struct state_jbook {
    bool attached;          /* main file and journal looked at */
    bool base_valid;        /* the main file exists; base is its hash */
    bool main_damaged;      /* main file unusable: kept as .damaged */
    uint8_t base[CRYPTO_SHA256_LEN];
    bool last_valid;        /* last is the hash of the durable raw blob */
    uint8_t last[CRYPTO_SHA256_LEN];
    uint8_t *pending;       /* newest object, newer than the main file */
    uint32_t pending_len;
    unsigned int writes;    /* journal writes since the last checkpoint */
};

/*
 * The store's fields, its own (state*.c): front ends see only the
 * declaration in state.h and call its functions.
 */
struct state_store {
    int dir_fd;             /* -1 when closed */
    char path[4096];        /* for messages */
    bool tpm2;              /* selects tpm2-00.* vs tpm-00.* names */
    mode_t mode;            /* mode of new files */
    bool mode_explicit;     /* mode= given: applied exactly */
    int lock_fd;            /* -1 when not locked */
    bool lock_remote;       /* lock_fd is on NFS: see state_lock_check() */
    /*
     * Skip the per-write fsyncs; the owner calls state_sync() before the
     * files matter.  Only for private scratch stores (swtpm_setup builds
     * a new state in a temporary directory and renames it into place).
     */
    bool defer_sync;
    /* An interrupted replacement was looked for (state_replace_from()):
     * once per holding of the lock. */
    bool replace_checked;
    /* The fallback to .bak, or a damaged journal, was logged; the owner
     * clears it per start (libtpms reads the permall more than once
     * while it starts). */
    bool fallback_logged;
    struct state_key filekey;   /* len 0: files are not encrypted */
    /* permall's write-ahead journal (journal.h); unused with defer_sync */
    struct journal jnl;
    struct state_jbook jb;      /* state_jnl.c's, for permall */
    /* file:// backend (state_file.h): dir_fd stays -1 */
    bool is_file;
    bool file_is_blk;       /* a block device rather than a regular file */
    int file_fd;            /* -1 when closed; lock_fd == file_fd if held */
    /* A loop device's backing file, locked with it (docs/state.md §6),
     * or -1. */
    int file_alias_fd;
    /* file://: objects (bit k of state_obj_names[]) whose damaged copy
     * after the header was reported and its intact twin used instead;
     * cleared when the object reads clean again. */
    unsigned file_twin_logged;
    /*
     * Why the last load or store failed, in words for the log, or NULL:
     * a static text (a bad file:// header) or why_buf (a state file that
     * cannot be read or decrypted, naming it and the fix).
     */
    const char *why;
    char why_buf[4096 + 640];    /* path plus words */
};

/* The longest object file name, "<prefix>-00.<object>" (no suffix). */
#define STATE_NAME_MAX 64

/* The prefixes of a directory backend's names (docs/state.md §2.1). */
enum state_prefix {
    STATE_PFX_MAIN,     /* tpm-00. / tpm2-00.: the files themselves */
    STATE_PFX_TMP,      /* TMP-00. / TMP2-00.: a file being written */
    STATE_PFX_NEW,      /* NEW-00. / NEW2-00.: a replacement, staged */
};

/*
 * "<prefix>-00.<name><suffix>" into buf: 0, -EINVAL for a name with a
 * '/', -ENAMETOOLONG.  name "" gives the prefix alone.
 */
int state_fname(const struct state_store *st, enum state_prefix pfx,
                const char *name, const char *suffix, char *buf,
                size_t len);

/*
 * A backend: what differs between a directory of files and a file://
 * state (state.c's dir_backend, state_file.c's state_file_backend).
 * name is the object ("permall"), fname its directory file name.
 */
struct state_backend {
    const char *kind;       /* "directory" or "file", for messages */
    /* .bak, journal, sidecar and the replace transaction (§7): the
     * directory's; a file:// write is crash-safe on its own (§8.3) */
    bool generations;
    int (*open)(struct state_store *st, const char *path, bool create,
                char *err, size_t errlen);
    void (*close)(struct state_store *st);
    int (*fd)(const struct state_store *st);
    int (*lock)(struct state_store *st, pid_t *out_holder);
    void (*unlock)(struct state_store *st);
    int (*lock_check)(struct state_store *st);
    /* The stored object's bytes (malloc'd); -ENOENT if absent. */
    int (*read)(struct state_store *st, const char *name, const char *fname,
                uint8_t **out, uint32_t *out_len);
    /* Store the object's bytes durably and atomically. */
    int (*write)(struct state_store *st, const char *name, const char *fname,
                 const uint8_t *obj, uint32_t len);
    /* -ENOENT if absent. */
    int (*remove)(struct state_store *st, const char *name,
                  const char *fname);
    long (*size)(struct state_store *st, const char *name,
                 const char *fname);
    int (*sync)(struct state_store *st);
    /* same_tpm: from is st's TPM reconfigured; it keeps its identity. */
    int (*replace)(struct state_store *st, struct state_store *from,
                   bool same_tpm);
};

extern const struct state_backend state_file_backend;
/* The backend st was opened with. */
const struct state_backend *state_backend_of(const struct state_store *st);

/* st's file key, or NULL without one; *r -EINVAL for a bad key length. */
const struct state_key *state_store_key(const struct state_store *st,
                                        int *r);

/*
 * Read the whole regular file fname of the directory (at most
 * STATEOBJ_MAX_LEN bytes; a FIFO, symlink or directory: -EINVAL, -ELOOP,
 * never a hang).  *out is malloc'd.  0 or a negative errno.
 */
int state_dir_read(const struct state_store *st, const char *fname,
                   uint8_t **out, uint32_t *out_len);
/*
 * Write obj to a new temp file tmp and make it durable (unless the store
 * is a scratch store); out_id (may be NULL) gets the file's identity for
 * a sidecar.  On failure tmp is gone.
 */
int state_dir_write_tmp(const struct state_store *st, const char *tmp,
                        const uint8_t *obj, uint32_t len,
                        struct statesum *out_id);
/* Rename the durable tmp over fname and flush the directory. */
int state_dir_commit_tmp(const struct state_store *st, const char *tmp,
                         const char *fname);

/* The journal layer (state_jnl.c).  Is object name journaled here? */
bool state_jnl_covers(const struct state_store *st, const char *name);
/* state_load() of the journaled main file fname. */
int state_jnl_load(struct state_store *st, const struct state_key *key,
                   const char *fname, uint8_t **out, uint32_t *out_len,
                   uint32_t *out_tpm_rc);
/* state_save() of the journaled main file fname: one flush per write. */
int state_jnl_save(struct state_store *st, const struct state_key *key,
                   const char *fname, const uint8_t *raw, uint32_t len);
/* The main file fname is being deleted: its journal and sidecar go. */
void state_jnl_delete(struct state_store *st, const char *fname);
/* Forget what the journal layer knows of the files (they changed). */
void state_jnl_forget(struct state_store *st);

/*
 * Finish what an interrupted state_replace_from() left (docs/state.md
 * §7.5), with the lock held: after its commit point, roll forward; before
 * it, remove the staged files.  Logs once what it did.  0 or a negative
 * errno.
 */
int state_replace_recover(struct state_store *st);

/* Is there a commit record (a replacement to be rolled forward)? */
bool state_replace_pending(const struct state_store *st);

/* state_replace_from() (same_tpm: state_reconfigure_from()) for a
 * directory: from is a directory store on the same file system whose
 * files are flushed. */
int state_replace_dir(struct state_store *st, const struct state_store *from,
                      bool same_tpm);

#endif
