/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * swtpm_setup --tpm: drive an external swtpm over two socketpairs
 * (docs/setup-and-bios.md §2.1) instead of libtpms in-process.
 */
#ifndef SETUP_EXT_H
#define SETUP_EXT_H

#include <stdint.h>

#include "setup.h"

struct ext_tpm;

/*
 * Start `<tpm_prog> ... --tpmstate backend-uri=dir://<state_dir>` with the
 * data and control channels on socketpairs; keyopt (or NULL) goes to
 * --key.  Waits until it answers CMD_GET_INFO and fills *ident from that.
 * Returns 0 or a negative errno (logged).
 */
int ext_start(const struct opts *o, const char *state_dir,
              const char *keyopt, struct tpm_ident *ident,
              struct ext_tpm **out);

/* One TPM command; the response stays valid until the next call. */
int ext_tpm_cmd(struct ext_tpm *e, const uint8_t *cmd, uint32_t len,
                const uint8_t **out_resp, uint32_t *out_len);

/* CMD_SHUTDOWN, wait up to 500 ms, else SIGKILL; frees e (NULL ok). */
void ext_stop(struct ext_tpm *e);

#endif
