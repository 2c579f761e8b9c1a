/* SPDX-License-Identifier: BSD-3-Clause */
/* swtpm_bios: options and the firmware-style command sequence. */
#ifndef SWTPM_BIOS_H
#define SWTPM_BIOS_H

#include <stdbool.h>

#include "client.h"

/* Exit codes (docs/cli.md §8, man/swtpm_bios.8). */
enum bios_exit {
    BIOS_EXIT_OK = 0,
    BIOS_EXIT_USAGE = 1,
    BIOS_EXIT_TPM_ERROR = 128,
    BIOS_EXIT_NEED_RESET = 129,
    BIOS_EXIT_COMM = 255,
};

enum bios_startup {
    STARTUP_NONE = 0,
    STARTUP_CLEAR = 1,          /* TPM_ST_CLEAR / TPM2 SU_CLEAR */
    STARTUP_STATE = 2,          /* TPM_ST_STATE / TPM2 SU_STATE */
    STARTUP_DEACTIVATED = 3,    /* TPM 1.2 only */
};

struct opts {
    struct client_target target;
    bool tpm2;
    enum bios_startup startup;
    bool follow_ups;            /* TPM 1.2: PP, enable, activate */
    bool self_test;             /* -cs */
    bool ensure_activated;      /* -ea */
    bool unassert_pp;           /* -u */
};

/* Run the sequence; returns the exit code. */
int run(const struct opts *o);

#endif
