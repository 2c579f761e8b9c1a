/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Certificate creation for swtpm_setup: either an external
 * create_certs_tool (docs/setup-and-bios.md §6) or the built-in local CA
 * (docs/setup-and-bios.md §7, §8) when the config names none or names
 * swtpm_localca.
 */
#ifndef SETUP_CERTS_H
#define SETUP_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "setup.h"
#include "x509.h"

/*
 * Decide the certificate back end from the setup config and prepare it
 * (temp dir for a tool, CA location for the built-in CA; the CA itself
 * is created lazily on first use).  Returns 0 or a negative errno (the
 * message was logged).
 */
int certs_init(struct setup_ctx *ctx, struct certs **out);

/*
 * Make one certificate.  *out_der (malloc'd) is DER; for TPM 1.2 it
 * carries the 7-byte TCG NV header.  Returns 0 or a negative errno
 * (logged).
 */
int certs_create(struct setup_ctx *ctx, const struct cert_req *req,
                 uint8_t **out_der, size_t *out_len);

/* Remove temp files and free; accepts NULL. */
void certs_free(struct certs *c);

#endif
