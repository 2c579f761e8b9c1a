/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TPM EK and platform certificates (docs/setup-and-bios.md §8) and the
 * local CA's own certificates, built with OpenSSL.  Shared by
 * swtpm_setup's built-in CA, swtpm_localca and swtpm_cert.
 */
#ifndef SWTPM_X509_H
#define SWTPM_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X509_SERIAL_MAX_BYTES 20    /* RFC 5280 4.1.2.2 */

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
    /* swtpm_setup's local CA: another certificate follows at once, so
     * the CA's lock is kept and its counter written once, after the last
     * (localca_keep()) */
    bool more;
};

/* Everything a certificate states besides its issuer. */
struct x509_params {
    const struct cert_req *req;     /* type, TPM version, key */
    void *pubkey;                   /* EVP_PKEY used instead of req's key */
    unsigned long exponent;         /* RSA public exponent; 0: 65537 */
    const char *subject;            /* "CN=a,O=b" (TPM 2 only); NULL: empty */
    const char *tpm_manufacturer;   /* SAN of EK certificates */
    const char *tpm_model;
    const char *tpm_version;
    const char *spec_family;        /* EK subjectDirectoryAttributes */
    unsigned long spec_level;
    unsigned long spec_revision;
    const char *plat_manufacturer;  /* SAN of platform certificates */
    const char *plat_model;
    const char *plat_version;
    bool allow_signing;             /* TPM 2 only */
    bool decryption;
    bool add_header;                /* TPM 1.2 NV header before the DER */
    long days;                      /* validity; -1: no expiry */
    const char *serial_dec;         /* decimal serial number */
};

/*
 * Build and sign an EK or platform certificate with issuer key/cert
 * (EVP_PKEY *, X509 *).  Returns 0 and malloc'd DER (with the TCG header
 * if add_header), or a negative errno with a message in err.
 */
int x509_make_cert(const struct x509_params *p, void *issuer_key,
                   void *issuer_cert, uint8_t **out_der, size_t *out_len,
                   char *err, size_t errlen);

/*
 * Check a decimal certificate serial number: 1 to 2^160-1 (at most 20
 * bytes), digits only.  Returns 0 or -EINVAL.
 */
int x509_check_serial(const char *dec);

/*
 * Parse a subject "k=v,k=v" (RFC 4514 order, '\' escapes) into a new
 * X509_NAME (*out, X509_NAME *).  Returns 0 or -EINVAL.
 */
int x509_parse_name(const char *s, void **out);

/*
 * Create a self-signed root CA or (with issuer set) an intermediate:
 * RSA-3072, SHA-256, CA:TRUE critical, keyCertSign critical, notAfter
 * 9999-12-31.  Returns 0 with *out_key and *out_cert, or a negative errno.
 */
int x509_make_ca(const char *cn, void *issuer_key, void *issuer_cert,
                 void **out_key, void **out_cert);

#endif
