/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The state store: one API over the directory backend (docs/state.md §2,
 * §6, §7; state.c, its journal policy state_jnl.c, the replace transaction
 * state_replace.c) and the linear file backend (file://, state_file.c).
 * Directory backend: upstream file
 * names (tpm-00.<name> / tpm2-00.<name>), durable atomic writes (temp
 * file, fsync, rename, fsync of the directory), and the `.lock` file lock,
 * held through an open file description so that it survives fork().
 * All file access is relative to a directory fd opened once at start, so
 * it keeps working after chroot and privilege drop.
 */
#ifndef SWTPM_STATE_H
#define SWTPM_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "key.h"

/*
 * The objects libtpms stores (docs/state.md §1), in the order of the file
 * backend's table (§8.1): the one spelling of their names.
 */
enum {
    STATE_OBJ_PERMALL,
    STATE_OBJ_VOLATILE,
    STATE_OBJ_SAVESTATE,
    STATE_OBJS
};
extern const char *const state_obj_names[STATE_OBJS];

/* The scheme of the linear file backend's URIs (docs/state.md §2.2). */
#define STATE_FILE_URI "file://"

/* The path after file:// if uri names the file backend, else NULL. */
const char *state_file_uri_path(const char *uri);

/*
 * The store is opaque (its fields are in the store's private header,
 * state_dir.h): everyone else holds a pointer from state_new() and goes
 * through the functions below, which say what they are for.
 */
struct state_store;

/* A closed store, or NULL without memory; state_free() releases it. */
struct state_store *state_new(void);
/* state_close() and release; NULL is ignored. */
void state_free(struct state_store *st);

/*
 * Open (and with create, mkdir 0775) the state directory.  A path of the
 * form file://PATH opens the linear file backend instead: PATH (a regular
 * file, created if missing, or a block device) and its header are
 * checked, nothing is written.  st comes from state_new(); state_close()
 * closes it again (it can be opened anew), state_free() releases it.
 * Returns 0 or a negative errno; err gets a message naming the path and
 * the fix.
 */
int state_open(struct state_store *st, const char *path, bool tpm2,
               mode_t mode, bool mode_explicit, bool create,
               char *err, size_t errlen);
void state_close(struct state_store *st);
/* Switch between TPM 1.2 and TPM 2 file names. */
void state_set_tpm2(struct state_store *st, bool tpm2);

/*
 * Hand an open store to another owner: *to takes everything (descriptors,
 * lock, journal, key) and from is left closed, so one owner closes it.
 */
void state_move(struct state_store *to, struct state_store *from);

/* The directory, or the file:// path, for messages. */
const char *state_path(const struct state_store *st);
/*
 * Why the last load or store failed, in words naming the file and the
 * fix, or NULL when the errno says it all.  state_clear_why() forgets it.
 */
const char *state_why(const struct state_store *st);
void state_clear_why(struct state_store *st);
bool state_is_file(const struct state_store *st);
/*
 * The open state directory or file: for fchown() of a directory just
 * made, and Landlock's rule.  -1 when closed.
 */
int state_fd(const struct state_store *st);
/* The state (file) key; len 0 when the files are not encrypted. */
const struct state_key *state_filekey(const struct state_store *st);
/* Encrypt and decrypt with key from now on (copied; the caller wipes its
 * own).  state_close() wipes the store's copy. */
void state_set_filekey(struct state_store *st, const struct state_key *key);
/*
 * A private scratch store (swtpm_setup's new state before it is swapped
 * in): no flush per write and no journal; the owner calls state_sync().
 */
void state_set_scratch(struct state_store *st);
bool state_is_scratch(const struct state_store *st);
/* libtpms starts again: a fallback to an older generation is logged once
 * per start (libtpms reads the permall more than once while it starts). */
void state_new_start(struct state_store *st);

/*
 * Take the lock on <dir>/.lock (open file description lock, compatible
 * with upstream's fcntl record lock), once: a caller that waits tries
 * again (tpm_ensure_locked()).  Records our pid in the file.  Already
 * held: 0.  Held by someone else: -EAGAIN with *out_holder set to the
 * holder's pid (0 if unknown).
 */
int state_lock(struct state_store *st, pid_t *out_holder);
/* Give up the lock: journaled state is checkpointed into the main file
 * first and the journal detached, since the next holder may change both. */
void state_unlock(struct state_store *st);
bool state_is_locked(const struct state_store *st);
/*
 * Whether a held lock is still ours.  On NFS a host cut off for longer
 * than its lease loses its locks to the server while the fd stays open;
 * I/O through the lock's own fd then fails, so the pid is written and
 * flushed through it (one round trip; docs/state.md §6).  Local
 * filesystems and file:// (whose writes go through the locked fd): 0 at
 * once.  Returns 0 or a negative errno (-EIO: the lock is lost).
 */
int state_lock_check(struct state_store *st);
/* "file" or "directory", for messages. */
const char *state_kind(const struct state_store *st);

/*
 * Read object name ("permall", "volatilestate", "savestate") and decode
 * it with the file key.  -ENOENT if it does not exist; other errors are
 * negative errnos with *out_tpm_rc set (see stateobj_decode) and state_why()
 * set when there is more to say than the errno.  A permall that exists
 * but cannot be read (permissions, a symlink, a FIFO, a directory), or
 * that the key does not open, fails the load: no other generation is
 * tried for it (docs/robustness.md, "State store v2").  *out is
 * malloc'd; the caller frees (and wipes) it.
 */
int state_load(struct state_store *st, const char *name,
               uint8_t **out, uint32_t *out_len, uint32_t *out_tpm_rc);

/*
 * Encode raw bytes and store them as object name, durably and atomically:
 * on any failure the previous file is untouched and the temp file gone.
 */
int state_save(struct state_store *st, const char *name,
               const uint8_t *raw, uint32_t len, uint32_t *out_tpm_rc);

/*
 * Write the newest permall from the journal into the upstream-format main
 * file (keeping the previous one as tpm[2]-00.permall.bak), so upstream
 * swtpm sees it.  Called at stop and close; a no-op when nothing is
 * pending.  0 or a negative errno, with a warning naming the directory
 * (the journal still holds the state, and the next load finds it).
 */
int state_checkpoint(struct state_store *st);

/*
 * Before another implementation reads the state (swtpm_setup --tpm
 * PROGRAM): load permall as a start would (journal, fallbacks) and write
 * the newest one into the upstream-format main file, so no journaled
 * write is lost to a reader that knows no journal.  Nothing to do for
 * the file backend, a store without permall, or a journal that adds
 * nothing.  0 or a negative errno (the load's, with state_why() set as by
 * state_load()).
 */
int state_fold_journal(struct state_store *st);

/*
 * Flush every state object and the directory itself: what a scratch
 * store does once instead of at every write.  0 or a negative errno.
 */
int state_sync(struct state_store *st);

/*
 * Replace the TPM in st by the one built in from (a scratch directory
 * store, flushed with state_sync(); for a directory st on the same file
 * system) as one transaction (docs/state.md §7.5): afterwards st holds
 * from's objects, a new checksum sidecar, and none of the old TPM's
 * generations (.bak, .damaged, .journal, .sum); after a crash at any step
 * it holds the old TPM with all its generations or the new one, and the
 * next holder of the lock finishes the job.  from's files are moved, not
 * copied, for a directory.  The caller holds st's lock.  0 or a negative
 * errno, with state_why() set when there is more to say.
 */
int state_replace_from(struct state_store *st, struct state_store *from);
/*
 * state_replace_from() for the same TPM reconfigured (swtpm_setup
 * --reconfigure: from was built from st's newest state): the same
 * transaction, and the same retirement of the old generations, but the
 * new sidecar keeps st's TPM identity (docs/state.md §7.5).
 */
int state_reconfigure_from(struct state_store *st, struct state_store *from);

/*
 * Remove every state file of the directory that is not this TPM
 * version's (tpm-00.* for a TPM 2 store, and the reverse), temp and
 * staged names too: what upstream's swtpm_setup removes (every name
 * ending in an object name) beyond the TPM state_replace_from() put in.
 * Nothing to do for the file backend.  0 or a negative errno.
 */
int state_remove_others(struct state_store *st);

/* Remove object name; -ENOENT only if must_exist. */
int state_delete(struct state_store *st, const char *name, bool must_exist);

/* Size in bytes of object name's file, or a negative errno. */
long state_size(struct state_store *st, const char *name);
/*
 * Size of "<object file>.damaged", or a negative errno: the main file a
 * load once could not use (the .bak generation was loaded instead), kept
 * aside by the next checkpoint.
 */
long state_damaged_size(struct state_store *st, const char *name);

#endif
