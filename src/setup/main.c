// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_setup: manufacture a TPM 1.2 or TPM 2 state (EKs, certificates,
 * NV, PCR banks) by running libtpms in-process (docs/cli.md §9.2, §10;
 * docs/setup-and-bios.md §2-9).  This file parses and checks the command line;
 * run.c does the work.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "run.h"
#include "setup.h"
#include "subopt.h"
#include "version.h"

static void
usage(const char *prog)
{
    printf(
"Usage: %s [options]\n"
"\n"
"Create (manufacture) the state of a TPM 1.2 or TPM 2 for swtpm.\n"
"\n"
"  --tpm-state <dir>|dir://<dir>\n"
"                     state directory (must exist, readable and writable)\n"
"  --tpmstate <dir>   same as --tpm-state\n"
"  --tpm2             set up a TPM 2 (default: TPM 1.2)\n"
"  --createek         create the endorsement key(s)\n"
"  --create-ek-cert   create EK certificate(s); implies --createek\n"
"  --create-platform-cert\n"
"                     create a platform certificate; implies --createek\n"
"  --lock-nvram       write-lock the NV areas written\n"
"  --take-ownership   TPM 1.2: take ownership; implies --createek\n"
"  --ownerpass <pw>   TPM 1.2 owner password (default 'ooo')\n"
"  --owner-well-known TPM 1.2: use the well-known owner secret\n"
"  --srkpass <pw>     TPM 1.2 SRK password (default 'sss')\n"
"  --srk-well-known   TPM 1.2: use the well-known SRK secret\n"
"  --allow-signing    TPM 2: the EK may also sign\n"
"  --decryption       TPM 2: with --allow-signing, keep decryption\n"
"  --create-spk       TPM 2: create a storage primary key (deprecated)\n"
"  --ecc              TPM 2: make that key ECC P-384 (default RSA 3072)\n"
"  --rsa-keysize <n>  TPM 2 EK RSA size: 2048, 3072 or max\n"
"  --pcr-banks <list> TPM 2: banks to activate (sha1,sha256,sha384,\n"
"                     sha512,...) or '-' to leave them; default sha256\n"
"  --reconfigure      TPM 2: only re-allocate the PCR banks of a state\n"
"  --keyfile <f>      encrypt the state with the key in file f\n"
"  --keyfile-fd <fd>  ... with the key read from fd\n"
"  --pwdfile <f>      ... with a key derived from the passphrase in f\n"
"  --pwdfile-fd <fd>  ... with a key derived from the passphrase on fd\n"
"  --cipher <c>       aes-128-cbc (default), aes-cbc or aes-256-cbc\n"
"  --overwrite        replace an existing state\n"
"  --not-overwrite    keep an existing state and succeed\n"
"  --vmid <id>        VM identifier for the certificate subject\n"
"  --write-ek-cert-files <dir>\n"
"                     also write the EK certificates to <dir>\n"
"  --logfile <f>      append all messages to file f\n"
"  --config <f>       swtpm_setup.conf to use\n"
"  --create-config-files [overwrite][,root][,skip-if-exist]\n"
"                     write the per-user config files and exit\n"
"  --runas <user>     run as this user (root only)\n"
"  --tpm <prog>       drive this emulator (e.g. 'swtpm socket') instead\n"
"                     of running libtpms in-process\n"
"  --display          accepted, no effect\n"
"  --print-capabilities\n"
"                     print the supported features as JSON and exit\n"
"  --version          print the version and exit\n"
"  --help, -h         print this help and exit\n"
"\n"
"Certificates are made by the create_certs_tool of the config file, or\n"
"by a built-in local CA: the one create_certs_tool_config names, else\n"
"$XDG_CONFIG_HOME/swtpm-localca (or ~/.config/swtpm-localca), created on\n"
"first use.\n"
"\n"
"Exit status: 0 on success (also with --not-overwrite and an existing\n"
"state), 1 on any error.\n", prog);
}

enum {
    OPT_TPMSTATE = 256, OPT_TPM, OPT_TPM2, OPT_CREATEEK, OPT_EKCERT,
    OPT_PLATCERT, OPT_LOCKNV, OPT_OWNERSHIP, OPT_OWNERPASS, OPT_OWNERWK,
    OPT_SRKPASS, OPT_SRKWK, OPT_SIGNING, OPT_DECRYPTION, OPT_ECC, OPT_SPK,
    OPT_RSAKEYSIZE, OPT_PCRBANKS, OPT_KEYFILE, OPT_KEYFILEFD, OPT_PWDFILE,
    OPT_PWDFILEFD, OPT_CIPHER, OPT_OVERWRITE, OPT_NOTOVERWRITE, OPT_VMID,
    OPT_EKFILES, OPT_LOGFILE, OPT_CONFIG, OPT_RUNAS, OPT_RECONFIGURE,
    OPT_PRINTCAPS, OPT_CCF, OPT_DISPLAY, OPT_VERSION, OPT_IGNORED,
    OPT_UNSUPPORTED, OPT_UNSUPPORTED_ARG,
};

static const struct option longopts[] = {
    { "allow-signing", no_argument, NULL, OPT_SIGNING },
    { "cipher", required_argument, NULL, OPT_CIPHER },
    { "config", required_argument, NULL, OPT_CONFIG },
    { "create-config-files", optional_argument, NULL, OPT_CCF },
    { "create-ek-cert", no_argument, NULL, OPT_EKCERT },
    { "create-platform-cert", no_argument, NULL, OPT_PLATCERT },
    { "create-spk", no_argument, NULL, OPT_SPK },
    { "createek", no_argument, NULL, OPT_CREATEEK },
    { "decryption", no_argument, NULL, OPT_DECRYPTION },
    { "display", no_argument, NULL, OPT_DISPLAY },
    { "ecc", no_argument, NULL, OPT_ECC },
    { "ek1keyalgo", required_argument, NULL, OPT_UNSUPPORTED_ARG },
    { "ek2keyalgo", required_argument, NULL, OPT_UNSUPPORTED_ARG },
    { "help", no_argument, NULL, 'h' },
    { "iakkeyalgo", required_argument, NULL, OPT_UNSUPPORTED_ARG },
    { "idevidkeyalgo", required_argument, NULL, OPT_UNSUPPORTED_ARG },
    { "keyfile", required_argument, NULL, OPT_KEYFILE },
    { "keyfile-fd", required_argument, NULL, OPT_KEYFILEFD },
    { "lock-nvram", no_argument, NULL, OPT_LOCKNV },
    { "logfile", required_argument, NULL, OPT_LOGFILE },
    { "no-iak", no_argument, NULL, OPT_UNSUPPORTED },
    { "not-overwrite", no_argument, NULL, OPT_NOTOVERWRITE },
    { "overwrite", no_argument, NULL, OPT_OVERWRITE },
    { "owner-well-known", no_argument, NULL, OPT_OWNERWK },
    { "ownerpass", required_argument, NULL, OPT_OWNERPASS },
    { "pcr-banks", required_argument, NULL, OPT_PCRBANKS },
    { "print-capabilities", no_argument, NULL, OPT_PRINTCAPS },
    { "print-profiles", no_argument, NULL, OPT_UNSUPPORTED },
    { "profile", required_argument, NULL, OPT_UNSUPPORTED_ARG },
    { "profile-file", required_argument, NULL, OPT_UNSUPPORTED_ARG },
    { "profile-file-fd", required_argument, NULL, OPT_UNSUPPORTED_ARG },
    { "profile-name", required_argument, NULL, OPT_UNSUPPORTED_ARG },
    { "profile-remove-disabled", required_argument, NULL,
      OPT_UNSUPPORTED_ARG },
    { "pwdfile", required_argument, NULL, OPT_PWDFILE },
    { "pwdfile-fd", required_argument, NULL, OPT_PWDFILEFD },
    { "reconfigure", no_argument, NULL, OPT_RECONFIGURE },
    { "rsa-keysize", required_argument, NULL, OPT_RSAKEYSIZE },
    { "runas", required_argument, NULL, OPT_RUNAS },
    { "srk-well-known", no_argument, NULL, OPT_SRKWK },
    { "srkpass", required_argument, NULL, OPT_SRKPASS },
    { "swtpm_ioctl", required_argument, NULL, OPT_IGNORED },
    { "take-ownership", no_argument, NULL, OPT_OWNERSHIP },
    { "tcsd-system-ps-file", required_argument, NULL, OPT_IGNORED },
    { "tpm", required_argument, NULL, OPT_TPM },
    { "tpm-state", required_argument, NULL, OPT_TPMSTATE },
    { "tpm2", no_argument, NULL, OPT_TPM2 },
    { "tpmstate", required_argument, NULL, OPT_TPMSTATE },
    { "version", no_argument, NULL, OPT_VERSION },
    { "vmid", required_argument, NULL, OPT_VMID },
    { "write-ek-cert-files", required_argument, NULL, OPT_EKFILES },
    { NULL, 0, NULL, 0 },
};

static int
parse_fd_arg(const char *s, const char *opt, int *out)
{
    if (parse_fd(s, out) < 0) {
        fprintf(stderr, "%s needs a file descriptor number, got '%s'\n",
                opt, s);
        return -1;
    }
    return 0;
}

/* --pcr-banks may repeat: the values are joined with ','. */
static int
add_pcr_banks(struct opts *o, const char *v)
{
    size_t n = o->pcr_banks ? strlen(o->pcr_banks) + 1 : 0;
    char *p = realloc(o->pcr_banks, n + strlen(v) + 1);

    if (!p) {
        return -1;
    }
    if (n) {
        p[n - 1] = ',';
    }
    strcpy(p + n, v);
    o->pcr_banks = p;
    return 0;
}

/* OPTS_CONTINUE, or the exit code (help and version: success). */
static int
parse_one(struct opts *o, int c, const char *arg, char **argv)
{
    switch (c) {
    case 'h': usage(argv[0]); return EXIT_SUCCESS;
    case OPT_CCF:
        o->create_config_files = true;
        /* the optional argument may be the next word (docs/cli.md §10) */
        if (!arg && optind < o->argc && argv[optind][0] != '-') {
            arg = argv[optind++];
        }
        o->ccf_arg = arg;
        break;
    case OPT_CIPHER: o->cipher = arg; break;
    case OPT_CONFIG: o->config = arg; break;
    case OPT_CREATEEK: o->createek = true; break;
    case OPT_DECRYPTION: o->decryption = true; break;
    case OPT_DISPLAY: break;
    case OPT_ECC: o->ecc = true; break;
    case OPT_EKCERT: o->create_ek_cert = true; break;
    case OPT_EKFILES: o->ek_cert_dir = arg; break;
    case OPT_IGNORED:
        fprintf(stderr, "warning: option '%s' is deprecated and has no "
                "effect\n", argv[optind - 1]);
        break;
    case OPT_KEYFILE: o->keyfile = arg; break;
    case OPT_KEYFILEFD:
        return parse_fd_arg(arg, "--keyfile-fd", &o->keyfile_fd) < 0
                   ? EXIT_FAILURE : OPTS_CONTINUE;
    case OPT_LOCKNV: o->lock_nvram = true; break;
    case OPT_LOGFILE: o->logfile = arg; break;
    case OPT_NOTOVERWRITE: o->not_overwrite = true; break;
    case OPT_OVERWRITE: o->overwrite = true; break;
    case OPT_OWNERPASS: o->ownerpass = arg; break;
    case OPT_OWNERSHIP: o->take_ownership = true; break;
    case OPT_OWNERWK: o->owner_well_known = true; break;
    case OPT_PCRBANKS:
        return add_pcr_banks(o, arg) < 0 ? EXIT_FAILURE : OPTS_CONTINUE;
    case OPT_PLATCERT: o->create_platform_cert = true; break;
    case OPT_PRINTCAPS: o->print_caps = true; break;
    case OPT_PWDFILE: o->pwdfile = arg; break;
    case OPT_PWDFILEFD:
        return parse_fd_arg(arg, "--pwdfile-fd", &o->pwdfile_fd) < 0
                   ? EXIT_FAILURE : OPTS_CONTINUE;
    case OPT_RECONFIGURE: o->reconfigure = true; break;
    case OPT_RSAKEYSIZE: o->rsa_keysize = arg; break;
    case OPT_RUNAS: o->runas = arg; break;
    case OPT_SIGNING: o->allow_signing = true; break;
    case OPT_SPK: o->create_spk = true; break;
    case OPT_SRKPASS: o->srkpass = arg; break;
    case OPT_SRKWK: o->srk_well_known = true; break;
    case OPT_TPM: o->tpm_prog = arg; break;
    case OPT_TPM2: o->tpm2 = true; break;
    case OPT_TPMSTATE: o->state_path = arg; break;
    case OPT_UNSUPPORTED:
    case OPT_UNSUPPORTED_ARG:
        break;      /* recorded by parse_args with the option's name */
    case OPT_VERSION:
        printf("TPM emulator setup tool version %s\n" SWTPM_RELEASE_LINE,
               SWTPM_COMPAT_VERSION);
        return EXIT_SUCCESS;
    case OPT_VMID: o->vmid = arg; break;
    default:
        return EXIT_FAILURE;
    }
    return OPTS_CONTINUE;
}

/* OPTS_CONTINUE, or the exit code. */
static int
parse_args(int argc, char **argv, struct opts *o)
{
    int c, r, idx = -1;

    o->keyfile_fd = -1;
    o->pwdfile_fd = -1;
    o->argc = argc;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, &idx)) != -1) {
        if ((c == OPT_UNSUPPORTED || c == OPT_UNSUPPORTED_ARG) &&
            !o->unsupported) {
            o->unsupported = longopts[idx].name;
        }
        if (c == '?') {
            fprintf(stderr, "Try '%s --help' for more information.\n",
                    argv[0]);
            return EXIT_FAILURE;
        }
        r = parse_one(o, c, optarg, argv);
        if (r != OPTS_CONTINUE) {
            return r;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "unexpected argument '%s'; try '%s --help'\n",
                argv[optind], argv[0]);
        return EXIT_FAILURE;
    }
    return OPTS_CONTINUE;
}

/* Options of the other TPM version (docs/cli.md §10). */
static int
check_version_opts(const struct opts *o)
{
    if (o->tpm2) {
        const char *bad = o->take_ownership ? "--take-ownership" :
                          o->ownerpass ? "--ownerpass" :
                          o->owner_well_known ? "--owner-well-known" :
                          o->srkpass ? "--srkpass" :
                          o->srk_well_known ? "--srk-well-known" : NULL;

        if (bad) {
            fprintf(stderr, "%s is a TPM 1.2 option; it cannot be used "
                    "with --tpm2\n", bad);
            return -1;
        }
    } else {
        const char *bad = o->ecc ? "--ecc" :
                          o->create_spk ? "--create-spk" :
                          o->reconfigure ? "--reconfigure" :
                          o->allow_signing ? "--allow-signing" :
                          o->decryption ? "--decryption" :
                          o->pcr_banks ? "--pcr-banks" :
                          o->rsa_keysize ? "--rsa-keysize" : NULL;

        if (bad) {
            fprintf(stderr, "%s is a TPM 2 option; it needs --tpm2\n", bad);
            return -1;
        }
    }
    return 0;
}

/* Cross-option rules (docs/cli.md §10); messages go to stderr.
 * OPTS_CONTINUE, or the exit code. */
static int
opts_validate(struct opts *o)
{
    char err[300];

    if (o->unsupported) {
        fprintf(stderr, "option '--%s' is not supported with libtpms 0.9\n",
                o->unsupported);
        return EXIT_FAILURE;
    }
    if (o->print_caps || o->create_config_files) {
        return OPTS_CONTINUE;
    }
    if (!o->state_path) {
        fprintf(stderr, "missing --tpm-state\n");
        return EXIT_FAILURE;
    }
    if (o->overwrite && o->not_overwrite) {
        fprintf(stderr, "--overwrite and --not-overwrite cannot be used "
                "together\n");
        return EXIT_FAILURE;
    }
    if (check_version_opts(o) < 0) {
        return EXIT_FAILURE;
    }
    if (o->reconfigure && (o->createek || o->create_ek_cert ||
                           o->create_platform_cert || o->create_spk ||
                           o->ek_cert_dir || o->allow_signing ||
                           o->decryption || o->lock_nvram)) {
        fprintf(stderr, "--reconfigure only re-allocates PCR banks; it "
                "cannot be combined with EK, certificate, key or NV "
                "options\n");
        return EXIT_FAILURE;
    }
    if (o->owner_well_known && o->ownerpass) {
        fprintf(stderr, "--ownerpass and --owner-well-known exclude each "
                "other\n");
        return EXIT_FAILURE;
    }
    if (o->srk_well_known && o->srkpass) {
        fprintf(stderr, "--srkpass and --srk-well-known exclude each "
                "other\n");
        return EXIT_FAILURE;
    }
    if (o->pcr_banks && pcrs_check_names(o->pcr_banks, err,
                                         sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        return EXIT_FAILURE;
    }
    if (o->cipher && strcmp(o->cipher, "aes-128-cbc") != 0 &&
        strcmp(o->cipher, "aes-cbc") != 0 &&
        strcmp(o->cipher, "aes-256-cbc") != 0) {
        fprintf(stderr, "unsupported cipher '%s'; use aes-128-cbc, aes-cbc "
                "or aes-256-cbc\n", o->cipher);
        return EXIT_FAILURE;
    }
    if (o->rsa_keysize && strcmp(o->rsa_keysize, "2048") != 0 &&
        strcmp(o->rsa_keysize, "3072") != 0 &&
        strcmp(o->rsa_keysize, "max") != 0) {
        fprintf(stderr, "unsupported --rsa-keysize '%s'; libtpms 0.9 "
                "supports 2048, 3072 and max (3072)\n", o->rsa_keysize);
        return EXIT_FAILURE;
    }
    if (o->create_ek_cert || o->create_platform_cert || o->take_ownership) {
        o->createek = true;
    }
    return OPTS_CONTINUE;
}

int
main(int argc, char **argv)
{
    struct opts o = { .keyfile_fd = -1 };
    int r;

    r = parse_args(argc, argv, &o);
    if (r == OPTS_CONTINUE) {
        r = opts_validate(&o);
    }
    if (r == OPTS_CONTINUE) {
        r = run(&o);
    }
    free(o.pcr_banks);
    return r;
}
