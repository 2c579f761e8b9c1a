// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_cert: create an EK or platform certificate for a TPM's public
 * key, signed by a CA (docs/setup-and-bios.md §8).  This front end
 * prints and maps results to exit codes; src/ca/certtool.c and
 * x509.c do the work.
 */
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>

#include "certtool.h"
#include "version.h"

static void
print_version(void)
{
    printf("TPM certificate tool version %s, %s\n", SWTPM_COMPAT_VERSION,
           SWTPM_COPYRIGHT);
}

static void
usage(const char *prog)
{
    print_version();
    printf("\n"
"Usage: %s [options]\n"
"\n"
"Create TPM certificates without requiring the EK private key.\n"
"\n"
"The following options are supported:\n"
"--pubkey <filename>       : PEM file for public key (EK)\n"
"--signkey <filename>      : PEM file for CA signing key\n"
"--signkey-password <pass> : Password for the CA signing key\n"
"--signkey-pwd <pwd>       : Alternative password option for CA signing key\n"
"--parentkey-password <p>  : Accepted and ignored (TPM signing keys only)\n"
"--parentkey-pwd <pwd>     : Accepted and ignored (TPM signing keys only)\n"
"--issuercert <filename>   : PEM file with CA cert\n"
"--out-cert <filename>     : Filename for certificate; default: stdout\n"
"--modulus <hex string>    : The modulus of the public key\n"
"--exponent <exponent>     : The exponent of the public key\n"
"--ecc-x                   : ECC key x component\n"
"--ecc-y                   : ECC key y component\n"
"--ecc-curveid <id>        : ECC curve id; secp256r1, secp384r1, secp521r1\n"
"                            default: secp256r1\n"
"--serial <serial number>  : The certificate serial number (decimal,\n"
"                            at most 20 bytes); default: 1\n"
"--days <number>           : Number of days the cert is valid;\n"
"                            -1 for no expiration; default: 365\n"
"--pem                     : Write certificate in PEM format; default is DER\n"
"--type <platform|ek>      : The type of certificate to create; default is ek\n"
"--tpm-manufacturer <name> : The name of the TPM manufacturer\n"
"--tpm-model <model>       : The TPM model (part number)\n"
"--tpm-version <version>   : The TPM version (firmware version)\n"
"--platform-manufacturer <name> : The name of the Platform manufacturer\n"
"--platform-model <model>       : The Platform model (part number)\n"
"--platform-version <version>   : The Platform version (firmware version)\n"
"--tpm-spec-family <family>     : Specification family (string)\n"
"--tpm-spec-level <level>       : Specification level (integer)\n"
"--tpm-spec-revision <rev>      : Specification revision (integer)\n"
"--subject <subject>       : Subject such as location in format\n"
"                            C=US,ST=NY,L=NewYork; not used with TPM1.2\n"
"--add-header              : Add the TCG certificate header describing\n"
"                            a TCG_PCCLIENT_STORED_CERT for TPM1.2 NVRAM\n"
"--tpm2                    : Issue a TPM 2 compliant certificate\n"
"--allow-signing           : The EK of a TPM 2 allows signing;\n"
"                            requires --tpm2\n"
"--decryption              : The EK if a TPM 2 can be used for key\n"
"                            encipherment; requires --tpm2\n"
"--print-capabilities      : Print capabilities and exit\n"
"--version                 : Display version and exit\n"
"--help                    : Display this help screen and exit\n"
"\n"
"Password passed in 'pwd' options support the following formats:\n"
"- <password>           : direct password\n"
"- pass:<password>      : direct password\n"
"- fd:<file descriptor> : read password from file descriptor\n"
"- file:<filename>      : read password from filename\n"
"- env:<env. varname>   : read from environment variable\n"
"\n"
"Exit status: 0 on success, 1 on any error.\n", prog);
}

static int
run(const struct certtool_opts *o)
{
    char err[CERTTOOL_ERR_MAX] = "";
    void *key = NULL, *cert = NULL;
    int r;

    r = certtool_load_signer(o, &key, &cert, err, sizeof(err));
    if (r == CERTTOOL_OK) {
        r = certtool_issue(o, key, cert, err, sizeof(err));
    }
    if (r != CERTTOOL_OK) {
        fprintf(stderr, "%s\n", err);
    }
    EVP_PKEY_free(key);
    X509_free(cert);
    return r == CERTTOOL_OK ? EXIT_SUCCESS : EXIT_FAILURE;
}

int
main(int argc, char **argv)
{
    char err[CERTTOOL_ERR_MAX] = "";
    struct certtool_opts o;
    int r;

    r = certtool_parse(argc, argv, &o, err, sizeof(err));
    if (r == CERTTOOL_USAGE) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        usage(argv[0]);
        return EXIT_FAILURE;
    }
    if (o.help) {
        usage(argv[0]);
        return EXIT_SUCCESS;
    }
    if (o.version) {
        print_version();
        fputs(SWTPM_RELEASE_LINE, stdout);
        return EXIT_SUCCESS;
    }
    if (o.print_caps) {
        printf("{ \"type\": \"swtpm_cert\", \"features\": [ "
               "\"cmdarg-signkey-pwd\" ], \"version\": \"%s\" }\n",
               SWTPM_COMPAT_VERSION);
        return EXIT_SUCCESS;
    }
    r = certtool_validate(&o, err, sizeof(err));
    if (r != CERTTOOL_OK) {
        fprintf(stderr, "%s\n", err);
        if (r == CERTTOOL_USAGE) {
            usage(argv[0]);
        }
        return EXIT_FAILURE;
    }
    return run(&o);
}
