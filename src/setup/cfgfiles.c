// SPDX-License-Identifier: BSD-3-Clause
/* --create-config-files (spec: setup-and-bios.md 5.5). */
#include <errno.h>
#include <stdio.h>

#include "run.h"

int
create_config_files(const char *arg)
{
    (void)arg;
    fprintf(stderr, "--create-config-files is not implemented yet\n");
    return SETUP_EXIT_FAIL;
}
