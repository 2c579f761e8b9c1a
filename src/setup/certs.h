/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Certificate creation for swtpm_setup: either an external
 * create_certs_tool (spec: setup-and-bios.md 6) or the built-in local CA
 * (7, 8) when the config names none or names swtpm_localca.
 */
#ifndef SETUP_CERTS_H
#define SETUP_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "setup.h"

enum cert_type {
    CERT_EK = 0,
    CERT_PLATFORM,
};

/* One certificate to make for a TPM key. */
struct cert_req {
    enum cert_type type;
    bool tpm2;
    bool is_ecc;
    const uint8_t *modulus;     /* RSA */
    size_t modulus_len;
    const uint8_t *ecc_x;       /* ECC */
    const uint8_t *ecc_y;
    size_t ecc_len;             /* length of x and of y */
    const char *curve;          /* "secp384r1" */
};

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

/* ---- certificate content (x509.c) ---- */

struct x509_params {
    const struct cert_req *req;
    const struct tpm_ident *ident;
    const char *subject_cn;         /* vmid or "unknown" */
    const char *plat_manufacturer;  /* platform cert SAN */
    const char *plat_model;
    const char *plat_version;
    bool allow_signing;
    bool decryption;
    const char *serial_dec;         /* decimal serial number */
};

/*
 * Build and sign an EK or platform certificate (spec 8) with issuer
 * key/cert (EVP_PKEY *, X509 *).  Returns 0 and malloc'd DER (TPM 1.2:
 * with the TCG header), or a negative errno with a message in err.
 */
int x509_make_cert(const struct x509_params *p, void *issuer_key,
                   void *issuer_cert, uint8_t **out_der, size_t *out_len,
                   char *err, size_t errlen);

/*
 * Create a self-signed root CA or (with issuer set) an intermediate:
 * RSA-3072, SHA-256, CA:TRUE critical, keyCertSign critical, notAfter
 * 9999-12-31.  Returns 0 with *out_key and *out_cert, or a negative errno.
 */
int x509_make_ca(const char *cn, void *issuer_key, void *issuer_cert,
                 void **out_key, void **out_cert);

#endif
