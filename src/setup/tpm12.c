// SPDX-License-Identifier: BSD-3-Clause
/* TPM 1.2 manufacturing (spec: setup-and-bios.md 3). */
#include <errno.h>

#include "log.h"
#include "setup.h"

int
tpm12_manufacture(struct setup_ctx *ctx)
{
    (void)ctx;
    log_err("TPM 1.2 manufacturing is not implemented yet");
    return -ENOTSUP;
}
