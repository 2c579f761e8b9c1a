/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * swtpm_setup: shared declarations of the front end (main.c), the
 * manufacturing procedures (tpm2.c, tpm12.c) and the certificate
 * back ends (certs.c, localca.c, x509.c).
 */
#ifndef SETUP_SETUP_H
#define SETUP_SETUP_H

#include <stdbool.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "tpm.h"

#define SETUP_PATH_MAX 4096

/* Parsed command line (docs/cli.md §10). */
struct opts {
    bool tpm2;
    const char *state_path;         /* without dir:// */
    bool createek;
    bool create_ek_cert;
    bool create_platform_cert;
    bool lock_nvram;
    bool take_ownership;
    const char *ownerpass;
    const char *srkpass;
    bool owner_well_known;
    bool srk_well_known;
    bool allow_signing;
    bool decryption;
    bool ecc;
    bool create_spk;
    const char *rsa_keysize;        /* NULL: config, else 2048 */
    char *pcr_banks;                /* joined list, NULL: config/default */
    const char *keyfile;
    const char *pwdfile;
    int keyfile_fd;                 /* -1: none */
    int pwdfile_fd;
    const char *cipher;             /* aes-128-cbc | aes-256-cbc */
    bool overwrite;
    bool not_overwrite;
    const char *vmid;
    const char *ek_cert_dir;        /* --write-ek-cert-files */
    const char *logfile;
    const char *config;
    const char *runas;
    bool reconfigure;
    bool print_caps;
    bool create_config_files;
    const char *ccf_arg;            /* its optional argument */
    const char *tpm_prog;           /* --tpm (external emulator) */
    const char *unsupported;        /* a 0.10+/0.11 option that was given */
    int argc;                       /* for --create-config-files' word */
};

/* TPM identification (CMD_GET_INFO equivalent, from libtpms). */
struct tpm_ident {
    char family[16];        /* "2.0" */
    unsigned long level;
    unsigned long revision;
    char manufacturer[32];  /* "id:00001014" */
    char model[32];         /* "swtpm" */
    char version[32];       /* "id:20191023" */
};

/* Fill id from libtpms' GET_INFO JSON (specification and attributes). */
void tpm_ident_parse(const char *json, struct tpm_ident *id);

struct certs;
struct ext_tpm;

/* Everything one manufacturing run needs. */
struct setup_ctx {
    const struct opts *o;
    struct tpm_instance *tpm;
    const char *conf_text;          /* swtpm_setup.conf contents or "" */
    const char *pcr_banks;          /* effective --pcr-banks value */
    unsigned int rsa_bits;          /* EK1 RSA size */
    struct tpm_ident ident;
    struct certs *certs;            /* NULL: no certificates requested */
    struct ext_tpm *ext;            /* --tpm: the running emulator */
    char keyopt[SETUP_PATH_MAX + 64];   /* --key string ("" for none) */
};

/* Informational output (say()): stdout, or the --logfile. */
#include "toolenv.h"

/*
 * Send cmd (header size filled in here) to the TPM and check the result.
 * On success *out_resp and *out_len point at the response (valid until the
 * next command).  Errors (also a non-zero TPM result) are logged naming
 * what; returns 0 or -EIO.
 */
int setup_tpm_cmd(struct setup_ctx *ctx, struct buf *cmd, const char *what,
                  const uint8_t **out_resp, uint32_t *out_len);

/* Manufacturing procedures; 0 or a negative errno (already logged). */
int tpm2_manufacture(struct setup_ctx *ctx);
int tpm12_manufacture(struct setup_ctx *ctx);

/* Parse a --pcr-banks list; 0 or -EINVAL with the bad name in err. */
int pcrs_check_names(const char *list, char *err, size_t errlen);

/*
 * Build the TPM2_PCR_Allocate selection (docs/setup-and-bios.md §4.6) from a
 * GetCapability(PCRS) response and the requested list.  Writes
 * count u32 + entries into sel; *out_active / *out_all get the names for
 * the log.  Returns 0, -EBADMSG on a bad response, -ENOENT if no
 * requested bank exists.
 */
int pcrs_build_allocation(const uint8_t *resp, size_t len,
                          const char *requested, struct buf *sel,
                          char *out_active, size_t active_len,
                          char *out_all, size_t all_len);

#endif
