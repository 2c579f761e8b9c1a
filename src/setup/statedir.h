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

/* Remove the flat temporary directory name below parent_fd. */
void statedir_remove_temp(int parent_fd, const char *name);

#endif
