/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The swtpm_cert command line (docs/setup-and-bios.md §8) as data:
 * parse it, check it, load the signer and write one certificate.
 * swtpm_cert runs it on its argv; swtpm_localca builds the same argv
 * (its options file included) and runs it in-process.  Nothing here
 * prints: errors come back as text for the front end to show.
 */
#ifndef SWTPM_CERTTOOL_H
#define SWTPM_CERTTOOL_H

#include <stdbool.h>
#include <stddef.h>

#include "x509.h"

#define CERTTOOL_ERR_MAX 512

struct certtool_opts {
    const char *pubkey;             /* PEM public key file */
    const char *signkey;            /* PEM private key file */
    const char *signkey_pwd;        /* pass:/fd:/file:/env: or plain */
    const char *issuercert;
    const char *out_cert;           /* NULL: stdout */
    const char *modulus;            /* hex */
    const char *exponent;
    const char *ecc_x;              /* hex */
    const char *ecc_y;
    const char *ecc_curveid;        /* NULL: secp256r1 */
    const char *serial;             /* decimal; NULL: 1 */
    const char *days;               /* NULL: 365; -1: no expiry */
    const char *type;               /* "ek" (default) or "platform" */
    const char *tpm_manufacturer;
    const char *tpm_model;
    const char *tpm_version;
    const char *plat_manufacturer;
    const char *plat_model;
    const char *plat_version;
    const char *spec_family;
    const char *spec_level;
    const char *spec_revision;
    const char *subject;
    bool pem;
    bool add_header;
    bool tpm2;
    bool allow_signing;
    bool decryption;
    bool print_caps;
    bool version;
    bool help;
};

enum certtool_status {
    CERTTOOL_OK = 0,
    CERTTOOL_USAGE = -1,        /* bad command line: show the usage too */
    CERTTOOL_FAIL = -2,         /* anything else */
};

/*
 * Parse argv (argv[0] is the program name) into *o, which keeps pointers
 * into argv.  Unknown options and missing arguments give CERTTOOL_USAGE
 * with a message in err.
 */
int certtool_parse(int argc, char **argv, struct certtool_opts *o,
                   char *err, size_t errlen);

/*
 * Check the option combination and values (upstream's order of checks
 * and messages).  Returns CERTTOOL_OK, CERTTOOL_USAGE or CERTTOOL_FAIL.
 */
int certtool_validate(const struct certtool_opts *o, char *err,
                      size_t errlen);

/*
 * Load --signkey (with its password) and --issuercert into *out_key
 * (EVP_PKEY *) and *out_cert (X509 *).  Returns CERTTOOL_OK or
 * CERTTOOL_FAIL with err naming the file, the user and the problem.
 */
int certtool_load_signer(const struct certtool_opts *o, void **out_key,
                         void **out_cert, char *err, size_t errlen);

/*
 * Build the certificate of validated options *o, sign it with key/cert
 * and write it to --out-cert (mode 0600, via a temp file and rename so a
 * failure leaves an old file intact) or to stdout.  Returns CERTTOOL_OK
 * or CERTTOOL_FAIL with err set.
 */
int certtool_issue(const struct certtool_opts *o, void *key, void *cert,
                   char *err, size_t errlen);

/*
 * Resolve a password argument: pass:<pw>, fd:<n>, file:<path>,
 * env:<VAR> or the password itself.  *out is malloc'd (wipe and free it).
 * Returns 0 or a negative errno with err set.
 */
int certtool_read_pwd(const char *arg, char **out, char *err,
                      size_t errlen);

#endif
