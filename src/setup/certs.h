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

/* ---- built-in local CA (localca.c) ---- */

struct localca;

/*
 * Find the CA location: the localca config file named by the setup
 * config (not the system-wide one), else the user's
 * swtpm-localca.conf, else the per-user default directory
 * ($XDG_CONFIG_HOME or ~/.config)/swtpm-localca.  Returns 0 or a
 * negative errno (logged).
 */
int localca_open(const char *conf_path, const char *opts_path,
                 struct localca **out);
/*
 * Sign a certificate for req with the CA, creating the CA first if it
 * does not exist yet (atomically: concurrent creators all succeed and
 * use one CA).  Returns 0 or a negative errno (logged).
 */
int localca_issue(struct localca *ca, struct setup_ctx *ctx,
                  const struct cert_req *req, uint8_t **out_der,
                  size_t *out_len);
void localca_free(struct localca *ca);

#endif
