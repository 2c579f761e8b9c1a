/* SPDX-License-Identifier: BSD-3-Clause */
/* swtpm_setup: the manufacturing run behind main(). */
#ifndef SETUP_RUN_H
#define SETUP_RUN_H

#include <stddef.h>
#include <sys/types.h>

#include "setup.h"

/* Do what the checked options ask; returns the process exit code. */
int run(struct opts *o);


/* --create-config-files (docs/setup-and-bios.md §5.5); exit code. */
int create_config_files(const char *arg);

#endif
