/* SPDX-License-Identifier: BSD-3-Clause */
/* --print-capabilities output of the emulator daemons (docs/cli.md §9.1). */
#ifndef SWTPM_CAPS_H
#define SWTPM_CAPS_H

#include <stdbool.h>

/*
 * Print the JSON line on stdout.  A name is listed only when what its
 * consumers do on seeing it works, each held by the test that
 * tests/integration/test_capabilities.py names for it; rsa-keysize-N come
 * from libtpms for a TPM 2.  Returns 0.
 */
int caps_print(const char *type, bool tpm2, bool cuse);

/*
 * --print-info: libtpms' TPMLIB_GetInfo(flags) JSON and a newline on
 * stdout, for the TPM version chosen already.  libtpms 0.9 knows flags
 * 0x1 (specification), 0x2 (attributes) and 0x4 (features).  Returns 0 or
 * -ENOMEM.
 */
int caps_print_info(unsigned int flags);

#endif
