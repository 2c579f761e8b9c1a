// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_localca: the create_certs_tool of swtpm_setup
 * (docs/setup-and-bios.md §6, §7).  Makes one EK or platform certificate with a
 * local CA that it creates on first use.  This file parses the command
 * line; run.c does the work with src/ca/localca.c and certtool.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "tool.h"
#include "toolenv.h"
#include "version.h"

static void
usage(const char *prog)
{
    printf(
"Usage: %s [options]\n"
"\n"
"The following options are supported:\n"
"\n"
"--type type           The type of certificate to create: 'ek' or 'platform'\n"
"--ek key-param        The modulus of an RSA key or x=...,y=,... for an EC key\n"
"--dir directory       The directory to write the resulting certificate into\n"
"--vmid vmid           The ID of the virtual machine\n"
"--optsfile file       A file containing options to pass to swtpm_cert\n"
"--configfile file     A file containing configuration parameters for directory,\n"
"                      signing key and password and certificate to use\n"
"--logfile file        A file to write a log into\n"
"--tpm-spec-family s   The implemented spec family, e.g., '2.0'\n"
"--tpm-spec-revision i The spec revision of the TPM as integer; e.g., 146\n"
"--tpm-spec-level i    The spec level of the TPM; must be an integer; e.g. 0\n"
"--tpm-manufacturer s  The manufacturer of the TPM; e.g., id:00001014\n"
"--tpm-model s         The model of the TPM; e.g., 'swtpm'\n"
"--tpm-version i       The (firmware) version of the TPM; e.g., id:20160511\n"
"--tpm2                Generate a certificate for a TPM 2\n"
"--allow-signing       The TPM 2's EK can be used for signing\n"
"--decryption          The TPM 2's EK can be used for decryption\n"
"--help, -h            Display this help screen and exit\n"
"--version             Display the version and exit\n"
"\n"
"\n"
"The following environment variables are supported:\n"
"\n"
"SWTPM_ROOTCA_PASSWORD  The root CA's private key password\n"
"\n"
"Exit status: 0 on success, 1 on any error.\n", prog);
}

enum {
    O_TYPE = 256, O_EK, O_DIR, O_VMID, O_OPTSFILE, O_CONFIGFILE, O_LOGFILE,
    O_SPEC_FAMILY, O_SPEC_REVISION, O_SPEC_LEVEL, O_TPM_MANUFACTURER,
    O_TPM_MODEL, O_TPM_VERSION, O_TPM2, O_ALLOW_SIGNING, O_DECRYPTION,
    O_VERSION,
};

static const struct option long_opts[] = {
    { "type", required_argument, NULL, O_TYPE },
    { "ek", required_argument, NULL, O_EK },
    { "dir", required_argument, NULL, O_DIR },
    { "vmid", required_argument, NULL, O_VMID },
    { "optsfile", required_argument, NULL, O_OPTSFILE },
    { "configfile", required_argument, NULL, O_CONFIGFILE },
    { "logfile", required_argument, NULL, O_LOGFILE },
    { "tpm-spec-family", required_argument, NULL, O_SPEC_FAMILY },
    { "tpm-spec-revision", required_argument, NULL, O_SPEC_REVISION },
    { "tpm-spec-level", required_argument, NULL, O_SPEC_LEVEL },
    { "tpm-manufacturer", required_argument, NULL, O_TPM_MANUFACTURER },
    { "tpm-model", required_argument, NULL, O_TPM_MODEL },
    { "tpm-version", required_argument, NULL, O_TPM_VERSION },
    { "tpm2", no_argument, NULL, O_TPM2 },
    { "allow-signing", no_argument, NULL, O_ALLOW_SIGNING },
    { "decryption", no_argument, NULL, O_DECRYPTION },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, O_VERSION },
    { NULL, 0, NULL, 0 },
};

static const char **
string_slot(struct opts *o, int c)
{
    switch (c) {
    case O_TYPE: return &o->type;
    case O_EK: return &o->ek;
    case O_DIR: return &o->dir;
    case O_VMID: return &o->vmid;
    case O_OPTSFILE: return &o->optsfile;
    case O_CONFIGFILE: return &o->configfile;
    case O_LOGFILE: return &o->logfile;
    case O_SPEC_FAMILY: return &o->spec_family;
    case O_SPEC_REVISION: return &o->spec_revision;
    case O_SPEC_LEVEL: return &o->spec_level;
    case O_TPM_MANUFACTURER: return &o->tpm_manufacturer;
    case O_TPM_MODEL: return &o->tpm_model;
    case O_TPM_VERSION: return &o->tpm_version;
    default: return NULL;
    }
}

/* Cross-option rules; 0 or -1 with a message on stderr. */
static int
opts_validate(const struct opts *o)
{
    if (!o->type || (strcmp(o->type, "ek") != 0 &&
                     strcmp(o->type, "platform") != 0)) {
        fprintf(stderr, "--type must be 'ek' or 'platform', got '%s'\n",
                o->type ? o->type : "");
        return -1;
    }
    if (!o->ek || !*o->ek) {
        fprintf(stderr, "--ek with the key's modulus or x=,y= "
                "parameters is required\n");
        return -1;
    }
    /* --tpm-manufacturer, --tpm-model and --tpm-version may come from the
     * options file instead: the certificate step checks them together. */
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o = { .dir = "." };
    const char **slot;
    int c;

    log_set_fd(2);
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        slot = string_slot(&o, c);
        if (slot) {
            *slot = optarg;
            continue;
        }
        switch (c) {
        case 'h':
            usage(argv[0]);
            return EXIT_SUCCESS;
        case O_TPM2: o.tpm2 = true; break;
        case O_VERSION:
            /* Upstream's has none; this one follows its other tools. */
            printf("TPM emulator local CA tool version %s\n"
                   SWTPM_RELEASE_LINE, SWTPM_COMPAT_VERSION);
            return EXIT_SUCCESS;
        case O_ALLOW_SIGNING: o.allow_signing = true; break;
        case O_DECRYPTION: o.decryption = true; break;
        default:
            usage(argv[0]);
            return EXIT_FAILURE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "Unexpected argument '%s'\n", argv[optind]);
        return EXIT_FAILURE;
    }
    if (o.logfile && say_to_logfile(o.logfile) < 0) {
        fprintf(stderr, "Cannot open log file '%s'\n", o.logfile);
        return EXIT_FAILURE;
    }
    if (opts_validate(&o) < 0) {
        return EXIT_FAILURE;
    }
    return run(&o);
}
