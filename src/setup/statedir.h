/* SPDX-License-Identifier: BSD-3-Clause */
/* swtpm_setup: checking, locking and replacing the TPM state directory. */
#ifndef SETUP_STATEDIR_H
#define SETUP_STATEDIR_H

#include <stdbool.h>

#include "setup.h"
#include "state.h"

/* Name prefix of the private directories new state is built in. */
#define STATEDIR_TEMP_PREFIX ".swtpm_setup."

/*
 * Check the --tpm-state directory (and --write-ek-cert-files) and open
 * it into real without locking; decide about an existing state:
 * *out_exit0 for --not-overwrite.  Returns 0 or a negative errno
 * (logged, naming the path, the user and the missing permission).
 */
int statedir_open(const struct opts *o, struct state_store *real,
                  bool *out_exit0);

/* Lock real (its .lock) and repeat the existing-state decision. */
int statedir_lock(const struct opts *o, struct state_store *real,
                  bool *out_exit0);

/*
 * Remove the state files (names ending in permall, volatilestate or
 * savestate) of dir_fd except keep; with move_to >= 0 rename them into
 * that directory instead.  0 or a negative errno.
 */
int statedir_files_apply(int dir_fd, const char *keep, int move_to);

/*
 * Put the state objects of the scratch store from into the file://
 * store to (permall, then the others; ones missing in from are deleted
 * from to).  0 or a negative errno.
 */
int statedir_copy_to_file(struct state_store *from, struct state_store *to);

/* Remove the flat temporary directory name below parent_fd. */
void statedir_remove_temp(int parent_fd, const char *name);

#endif
