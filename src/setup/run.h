/* SPDX-License-Identifier: BSD-3-Clause */
/* swtpm_setup: the manufacturing run behind main(). */
#ifndef SETUP_RUN_H
#define SETUP_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include "setup.h"

/* Do what the checked options ask; returns the process exit code. */
int run(struct opts *o);

/* --print-capabilities (docs/cli.md §9.2). */
void print_capabilities(void);

/* --create-config-files (docs/setup-and-bios.md §5.5); exit code. */
int create_config_files(const char *arg);

/*
 * The user's config directory: $XDG_CONFIG_HOME, else $HOME/.config
 * (HOME from the environment, or the passwd entry).  -ENOENT if neither.
 */
int user_config_dir(char *out, size_t outlen);

/* out = dir/name; -ENAMETOOLONG if it does not fit. */
int path_join(char *out, size_t outlen, const char *dir, const char *name);

/* mkdir -p with mode for the missing parts; 0 or negative errno. */
int mkdir_parents(const char *path, mode_t mode);

#endif
