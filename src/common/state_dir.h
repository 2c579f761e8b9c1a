/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the directory backend of the state store: what state.c shares
 * with state_replace.c (the replace transaction, docs/state.md §7.5).
 * No front end includes this header.
 */
#ifndef SWTPM_STATE_DIR_H
#define SWTPM_STATE_DIR_H

#include <stdbool.h>
#include <stddef.h>

#include "state.h"


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

/* state_replace_from() for a directory: from is a directory store on the
 * same file system whose files are flushed. */
int state_replace_dir(struct state_store *st, const struct state_store *from);

#endif
