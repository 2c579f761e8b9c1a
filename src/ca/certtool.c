// SPDX-License-Identifier: BSD-3-Clause
/*
 * swtpm_cert's work (docs/setup-and-bios.md §8): its option table, the
 * checks upstream makes (same messages), loading the CA key and
 * certificate, and writing the certificate.  Shared by swtpm_cert and
 * swtpm_localca; printing stays with them.
 */
#include "certtool.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fdio.h"
#include "subopt.h"
#include "toolenv.h"

#define PWD_MAX       4096
#define KEY_BYTES_MAX 1024          /* RSA-8192 modulus */
#define RSA_BITS_MIN  2048

enum {
    O_PUBKEY = 256, O_SIGNKEY, O_SIGNKEY_PASSWORD, O_SIGNKEY_PWD,
    O_PARENTKEY_PASSWORD, O_PARENTKEY_PWD, O_ISSUERCERT, O_OUT_CERT,
    O_MODULUS, O_EXPONENT, O_ECC_X, O_ECC_Y, O_ECC_CURVEID, O_SERIAL,
    O_DAYS, O_PEM, O_TYPE, O_TPM_MANUFACTURER, O_TPM_MODEL, O_TPM_VERSION,
    O_PLAT_MANUFACTURER, O_PLAT_MODEL, O_PLAT_VERSION, O_SPEC_FAMILY,
    O_SPEC_LEVEL, O_SPEC_REVISION, O_SUBJECT, O_ADD_HEADER, O_TPM2,
    O_ALLOW_SIGNING, O_DECRYPTION, O_PRINT_CAPS, O_VERSION, O_HELP,
};

static const struct option long_opts[] = {
    { "pubkey", required_argument, NULL, O_PUBKEY },
    { "signkey", required_argument, NULL, O_SIGNKEY },
    { "signkey-password", required_argument, NULL, O_SIGNKEY_PASSWORD },
    { "signkey-pwd", required_argument, NULL, O_SIGNKEY_PWD },
    { "parentkey-password", required_argument, NULL, O_PARENTKEY_PASSWORD },
    { "parentkey-pwd", required_argument, NULL, O_PARENTKEY_PWD },
    { "issuercert", required_argument, NULL, O_ISSUERCERT },
    { "out-cert", required_argument, NULL, O_OUT_CERT },
    { "modulus", required_argument, NULL, O_MODULUS },
    { "exponent", required_argument, NULL, O_EXPONENT },
    { "ecc-x", required_argument, NULL, O_ECC_X },
    { "ecc-y", required_argument, NULL, O_ECC_Y },
    { "ecc-curveid", required_argument, NULL, O_ECC_CURVEID },
    { "serial", required_argument, NULL, O_SERIAL },
    { "days", required_argument, NULL, O_DAYS },
    { "pem", no_argument, NULL, O_PEM },
    { "type", required_argument, NULL, O_TYPE },
    { "tpm-manufacturer", required_argument, NULL, O_TPM_MANUFACTURER },
    { "tpm-model", required_argument, NULL, O_TPM_MODEL },
    { "tpm-version", required_argument, NULL, O_TPM_VERSION },
    { "platform-manufacturer", required_argument, NULL,
      O_PLAT_MANUFACTURER },
    { "platform-model", required_argument, NULL, O_PLAT_MODEL },
    { "platform-version", required_argument, NULL, O_PLAT_VERSION },
    { "tpm-spec-family", required_argument, NULL, O_SPEC_FAMILY },
    { "tpm-spec-level", required_argument, NULL, O_SPEC_LEVEL },
    { "tpm-spec-revision", required_argument, NULL, O_SPEC_REVISION },
    { "subject", required_argument, NULL, O_SUBJECT },
    { "add-header", no_argument, NULL, O_ADD_HEADER },
    { "tpm2", no_argument, NULL, O_TPM2 },
    { "allow-signing", no_argument, NULL, O_ALLOW_SIGNING },
    { "decryption", no_argument, NULL, O_DECRYPTION },
    { "print-capabilities", no_argument, NULL, O_PRINT_CAPS },
    { "version", no_argument, NULL, O_VERSION },
    { "help", no_argument, NULL, O_HELP },
    { NULL, 0, NULL, 0 },
};

/* Where each string option goes. */
static const char **
string_slot(struct certtool_opts *o, int c)
{
    switch (c) {
    case O_PUBKEY: return &o->pubkey;
    case O_SIGNKEY: return &o->signkey;
    case O_SIGNKEY_PASSWORD: return &o->signkey_pwd;
    case O_SIGNKEY_PWD: return &o->signkey_pwd;
    case O_ISSUERCERT: return &o->issuercert;
    case O_OUT_CERT: return &o->out_cert;
    case O_MODULUS: return &o->modulus;
    case O_EXPONENT: return &o->exponent;
    case O_ECC_X: return &o->ecc_x;
    case O_ECC_Y: return &o->ecc_y;
    case O_ECC_CURVEID: return &o->ecc_curveid;
    case O_SERIAL: return &o->serial;
    case O_DAYS: return &o->days;
    case O_TYPE: return &o->type;
    case O_TPM_MANUFACTURER: return &o->tpm_manufacturer;
    case O_TPM_MODEL: return &o->tpm_model;
    case O_TPM_VERSION: return &o->tpm_version;
    case O_PLAT_MANUFACTURER: return &o->plat_manufacturer;
    case O_PLAT_MODEL: return &o->plat_model;
    case O_PLAT_VERSION: return &o->plat_version;
    case O_SPEC_FAMILY: return &o->spec_family;
    case O_SPEC_LEVEL: return &o->spec_level;
    case O_SPEC_REVISION: return &o->spec_revision;
    case O_SUBJECT: return &o->subject;
    default: return NULL;
    }
}

int
certtool_parse(int argc, char **argv, struct certtool_opts *o, char *err,
               size_t errlen)
{
    const char **slot;
    int c;

    memset(o, 0, sizeof(*o));
    optind = 0;                 /* may run more than once per process */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", long_opts, NULL)) != -1) {
        slot = string_slot(o, c);
        if (slot) {
            *slot = optarg;
            continue;
        }
        switch (c) {
        case O_PARENTKEY_PASSWORD:
        case O_PARENTKEY_PWD:
            break;              /* only for TPM-resident signing keys */
        case O_PEM: o->pem = true; break;
        case O_ADD_HEADER: o->add_header = true; break;
        case O_TPM2: o->tpm2 = true; break;
        case O_ALLOW_SIGNING: o->allow_signing = true; break;
        case O_DECRYPTION: o->decryption = true; break;
        case O_PRINT_CAPS: o->print_caps = true; break;
        case O_VERSION: o->version = true; break;
        case O_HELP: o->help = true; break;
        case ':':
            snprintf(err, errlen, "option '%s' requires an argument",
                     argv[optind - 1]);
            return CERTTOOL_USAGE;
        default:
            snprintf(err, errlen, "unrecognized option '%s'",
                     argv[optind - 1]);
            return CERTTOOL_USAGE;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument '%s'", argv[optind]);
        return CERTTOOL_USAGE;
    }
    return CERTTOOL_OK;
}

/* The three options of a group are all given (or the group is absent). */
static bool
all3(const char *a, const char *b, const char *c)
{
    return a && b && c;
}

int
certtool_validate(const struct certtool_opts *o, char *err, size_t errlen)
{
    unsigned long v;
    bool ek = !o->type || strcmp(o->type, "ek") == 0;

    if (o->type && !ek && strcmp(o->type, "platform") != 0) {
        snprintf(err, errlen, "Unknown certificate type '%s'.", o->type);
        return CERTTOOL_FAIL;
    }
    if (!o->pubkey && !o->modulus && !(o->ecc_x && o->ecc_y)) {
        snprintf(err, errlen, "Missing public EK file and modulus or ECC "
                 "parameters.");
        return CERTTOOL_USAGE;
    }
    if (!all3(o->tpm_manufacturer, o->tpm_model, o->tpm_version)) {
        snprintf(err, errlen, "--tpm-manufacturer and --tpm-model and "
                 "--tpm version must all be provided");
        return CERTTOOL_FAIL;
    }
    if (ek && !all3(o->spec_family, o->spec_level, o->spec_revision)) {
        snprintf(err, errlen, "--tpm-spec-family and --tpm-spec-level and "
                 "--tpm-spec-revision must all be provided");
        return CERTTOOL_FAIL;
    }
    if (!ek && !all3(o->plat_manufacturer, o->plat_model,
                     o->plat_version)) {
        snprintf(err, errlen, "--platform-manufacturer and --platform-model "
                 "and --platform version must all be provided");
        return CERTTOOL_FAIL;
    }
    if (!o->signkey) {
        snprintf(err, errlen, "Missing signature key.");
        return CERTTOOL_FAIL;
    }
    if (!o->issuercert) {
        snprintf(err, errlen, "The issuer certificate name is required.");
        return CERTTOOL_FAIL;
    }
    if (o->serial && x509_check_serial(o->serial) < 0) {
        snprintf(err, errlen, "Serial number is invalid.");
        return CERTTOOL_FAIL;
    }
    if (ek && (parse_uint(o->spec_level, 0, UINT_MAX, &v) < 0 ||
               parse_uint(o->spec_revision, 0, UINT_MAX, &v) < 0)) {
        snprintf(err, errlen, "--tpm-spec-level and --tpm-spec-revision "
                 "must be numbers, got '%s' and '%s'", o->spec_level,
                 o->spec_revision);
        return CERTTOOL_FAIL;
    }
    if (o->days && strcmp(o->days, "-1") != 0 &&
        parse_uint(o->days, 0, INT_MAX / 2, &v) < 0) {
        snprintf(err, errlen, "--days must be a number of days or -1, "
                 "got '%s'", o->days);
        return CERTTOOL_FAIL;
    }
    if (o->exponent && (parse_uint(o->exponent, 0, UINT_MAX, &v) < 0 ||
                        v < 3 || !(v & 1))) {
        snprintf(err, errlen, "--exponent must be an odd number >= 3, "
                 "got '%s'", o->exponent);
        return CERTTOOL_FAIL;
    }
    return CERTTOOL_OK;
}

/* An open failure, naming the path, the user and the right it lacks. */
static void
open_error(char *err, size_t errlen, const char *what, const char *path,
           int e, const char *right)
{
    char u[128];

    if (e != EACCES && e != EPERM) {
        snprintf(err, errlen, "Could not read %s from file %s: %s", what,
                 path, fd_open_strerror(e));
        return;
    }
    effective_user(u, sizeof(u));
    snprintf(err, errlen, "Could not read %s from file %s: %s "
             "(%s needs %s permission)", what, path, strerror(e), u, right);
}

/* Read up to PWD_MAX bytes of fd into a NUL-terminated string, its
 * first line. */
static int
read_pwd_fd(int fd, char **out, char *err, size_t errlen)
{
    char *buf = malloc(PWD_MAX + 1);
    size_t n = 0;
    ssize_t r = 0;

    if (!buf) {
        return -ENOMEM;
    }
    while (n < PWD_MAX && ((r = read(fd, buf + n, PWD_MAX - n)) > 0 ||
                           (r < 0 && errno == EINTR))) {
        n += r > 0 ? (size_t)r : 0;
    }
    if (r < 0) {
        r = errno;
        snprintf(err, errlen, "cannot read the password from file "
                 "descriptor %d: %s", fd, strerror((int)r));
        free(buf);
        return -(int)r;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    *out = buf;
    return 0;
}

int
certtool_read_pwd(const char *arg, char **out, char *err, size_t errlen)
{
    int fdnum;
    const char *v;
    int fd, r;

    if (strncmp(arg, "pass:", 5) == 0) {
        *out = strdup(arg + 5);
    } else if (strncmp(arg, "env:", 4) == 0) {
        v = getenv(arg + 4);
        if (!v) {
            snprintf(err, errlen, "environment variable '%s' for the "
                     "password is not set", arg + 4);
            return -ENOENT;
        }
        *out = strdup(v);
    } else if (strncmp(arg, "fd:", 3) == 0) {
        if (parse_fd(arg + 3, &fdnum) < 0) {
            snprintf(err, errlen, "invalid file descriptor in '%s'", arg);
            return -EINVAL;
        }
        return read_pwd_fd(fdnum, out, err, errlen);
    } else if (strncmp(arg, "file:", 5) == 0) {
        fd = open(arg + 5, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            r = errno;
            open_error(err, errlen, "the password", arg + 5, r, "read");
            return -r;
        }
        r = read_pwd_fd(fd, out, err, errlen);
        close(fd);
        return r;
    } else {
        *out = strdup(arg);
    }
    return *out ? 0 : -ENOMEM;
}

/* An input PEM file, refused unless it is a regular file (a FIFO would
 * hold us in open() or read()); NULL with errno set on failure. */
static FILE *
open_input(const char *path)
{
    int fd = fd_open_input(path);
    FILE *f;

    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    f = fdopen(fd, "r");
    if (!f) {
        int e = errno;

        close(fd);
        errno = e;
    }
    return f;
}

static void
free_pwd(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

int
certtool_load_signer(const struct certtool_opts *o, void **out_key,
                     void **out_cert, char *err, size_t errlen)
{
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    char *pwd = NULL;
    FILE *f = NULL;
    int r = CERTTOOL_FAIL;

    if (strncmp(o->signkey, "pkcs11:", 7) == 0 ||
        strncmp(o->signkey, "tpmkey:", 7) == 0) {
        snprintf(err, errlen, "Signing key '%s': PKCS#11 and TPM keys are "
                 "not supported; give a PEM file", o->signkey);
        return CERTTOOL_FAIL;
    }
    if (o->signkey_pwd &&
        certtool_read_pwd(o->signkey_pwd, &pwd, err, errlen) < 0) {
        return CERTTOOL_FAIL;
    }
    f = open_input(o->signkey);
    if (!f) {
        open_error(err, errlen, "signing key", o->signkey, errno, "read");
        goto out;
    }
    /* an empty password still answers a prompt for encrypted keys */
    key = PEM_read_PrivateKey(f, NULL, NULL, pwd ? pwd : (char *)"");
    fclose(f);
    if (!key) {
        snprintf(err, errlen, "Could not import signing key from %s: not "
                 "a PEM private key, or wrong password", o->signkey);
        goto out;
    }
    f = open_input(o->issuercert);
    if (!f) {
        open_error(err, errlen, "issuer certificate", o->issuercert, errno,
                   "read");
        goto out;
    }
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!cert) {
        snprintf(err, errlen, "Could not import issuer certificate from "
                 "%s: not a PEM certificate", o->issuercert);
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        snprintf(err, errlen, "The signing key %s does not belong to the "
                 "issuer certificate %s", o->signkey, o->issuercert);
        goto out;
    }
    *out_key = key;
    *out_cert = cert;
    key = NULL;
    cert = NULL;
    r = CERTTOOL_OK;
out:
    X509_free(cert);
    EVP_PKEY_free(key);
    free_pwd(pwd);
    return r;
}

/* Hex string to bytes (at most max); -EINVAL with err on bad input. */
static int
hex_to_bytes(const char *hex, const char *what, uint8_t *out, size_t max,
             size_t *out_len, char *err, size_t errlen)
{
    size_t n = strlen(hex), i;
    long len = 0;
    unsigned char *b;

    /* OpenSSL wants pairs: an odd length gets a leading zero nibble */
    char *even = malloc(n + 2);

    if (!even) {
        return -ENOMEM;
    }
    snprintf(even, n + 2, "%s%s", n % 2 ? "0" : "", hex);
    for (i = 0; even[i]; i++) {
        if (!strchr("0123456789abcdefABCDEF", even[i])) {
            snprintf(err, errlen, "Illegal hex character '%c' in %s.",
                     even[i], what);
            free(even);
            return -EINVAL;
        }
    }
    b = OPENSSL_hexstr2buf(even, &len);
    free(even);
    if (!b || len <= 0 || (size_t)len > max) {
        snprintf(err, errlen, "%s is empty or longer than %zu bytes", what,
                 max);
        OPENSSL_free(b);
        return -EINVAL;
    }
    memcpy(out, b, (size_t)len);
    *out_len = (size_t)len;
    OPENSSL_free(b);
    return 0;
}

/* OpenSSL's names for the curves swtpm_cert accepts, and sizes. */
static int
curve_lookup(const char *id, const char **out_name, size_t *out_len)
{
    static const struct { const char *id, *name; size_t len; } tab[] = {
        { "secp256r1", "prime256v1", 32 },
        { "secp384r1", "secp384r1", 48 },
        { "secp521r1", "secp521r1", 66 },
    };

    for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
        if (strcmp(id, tab[i].id) == 0) {
            *out_name = tab[i].name;
            *out_len = tab[i].len;
            return 0;
        }
    }
    return -EINVAL;
}

/* ECC coordinates, left-padded to the curve's size. */
static int
ecc_point(const struct certtool_opts *o, struct cert_req *req, uint8_t *x,
          uint8_t *y, char *err, size_t errlen)
{
    const char *id = o->ecc_curveid ? o->ecc_curveid : "secp256r1";
    uint8_t tmp[KEY_BYTES_MAX];
    size_t len, n;

    if (curve_lookup(id, &req->curve, &len) < 0) {
        snprintf(err, errlen, "Unknown curve id '%s'; use secp256r1, "
                 "secp384r1 or secp521r1", id);
        return -EINVAL;
    }
    if (hex_to_bytes(o->ecc_x, "--ecc-x", tmp, len, &n, err, errlen) < 0) {
        return -EINVAL;
    }
    memset(x, 0, len);
    memcpy(x + len - n, tmp, n);
    if (hex_to_bytes(o->ecc_y, "--ecc-y", tmp, len, &n, err, errlen) < 0) {
        return -EINVAL;
    }
    memset(y, 0, len);
    memcpy(y + len - n, tmp, n);
    req->is_ecc = true;
    req->ecc_x = x;
    req->ecc_y = y;
    req->ecc_len = len;
    return 0;
}

/* Significant bits of a big-endian number. */
static unsigned int
modulus_bits(const uint8_t *b, size_t len)
{
    size_t i = 0;
    unsigned int bits;

    while (i < len && b[i] == 0) {
        i++;
    }
    if (i == len) {
        return 0;
    }
    bits = (unsigned int)(len - i - 1) * 8;
    for (uint8_t top = b[i]; top; top >>= 1) {
        bits++;
    }
    return bits;
}

/* TPMs' RSA keys (EK, platform) have 2048 bits or more: a certificate
 * for a smaller one (a modulus "abc", "0000") is a mistake, refused. */
static int
check_rsa_bits(unsigned int bits, const char *what, char *err,
               size_t errlen)
{
    if (bits >= RSA_BITS_MIN) {
        return 0;
    }
    snprintf(err, errlen, "%s is an RSA key of %u bits; a TPM's has at "
             "least %d", what, bits, RSA_BITS_MIN);
    return -EINVAL;
}

/* --pubkey: a PEM public key file. */
static int
load_pubkey(const char *path, struct cert_req *req, EVP_PKEY **out,
            char *err, size_t errlen)
{
    FILE *f = open_input(path);

    if (!f) {
        open_error(err, errlen, "public key", path, errno, "read");
        return -EACCES;
    }
    *out = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!*out) {
        snprintf(err, errlen, "Could not import public key from %s: not a "
                 "PEM public key", path);
        return -EINVAL;
    }
    req->is_ecc = EVP_PKEY_get_base_id(*out) == EVP_PKEY_EC;
    if (EVP_PKEY_get_base_id(*out) == EVP_PKEY_RSA) {
        return check_rsa_bits((unsigned int)EVP_PKEY_get_bits(*out),
                              path, err, errlen);
    }
    return 0;
}

/* Write data to path: a regular file is replaced atomically (mode 0600),
 * anything else (/dev/stdout) written as it is. */
static int
write_out(const char *path, const void *data, size_t len, char *err,
          size_t errlen)
{
    struct stat sb;
    char u[128];
    int fd, r;

    if (!path) {
        return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0
               ? 0 : -EIO;
    }
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
        fd = open(path, O_WRONLY | O_CLOEXEC);
        r = fd < 0 ? -errno : fd_write_full(fd, data, len);
        if (fd >= 0 && close(fd) < 0 && r == 0) {
            r = -errno;
        }
    } else {
        r = fd_replace_file(path, data, len, 0600);
    }
    if (r < 0) {
        effective_user(u, sizeof(u));
        snprintf(err, errlen, "Could not open %s for writing the "
                 "certificate: %s%s%s%s", path, strerror(-r),
                 r == -EACCES ? " (" : "", r == -EACCES ? u : "",
                 r == -EACCES ? " needs write permission on the file's "
                                "directory)" : "");
    }
    return r;
}

/* DER (with header) to PEM text; *out malloc'd. */
static int
to_pem(const uint8_t *der, size_t len, char **out, size_t *out_len)
{
    const unsigned char *q = der;
    X509 *x = d2i_X509(NULL, &q, (long)len);
    BIO *b = BIO_new(BIO_s_mem());
    char *mem;
    long n;
    int r = -EINVAL;

    if (x && b && PEM_write_bio_X509(b, x)) {
        n = BIO_get_mem_data(b, &mem);
        *out = malloc((size_t)n);
        if (*out) {
            memcpy(*out, mem, (size_t)n);
            *out_len = (size_t)n;
            r = 0;
        }
    }
    BIO_free(b);
    X509_free(x);
    return r;
}

int
certtool_issue(const struct certtool_opts *o, void *key, void *cert,
               char *err, size_t errlen)
{
    struct cert_req req = { .tpm2 = o->tpm2 };
    struct x509_params p = { .req = &req };
    uint8_t *mod = malloc(KEY_BYTES_MAX), ex[66], ey[66], *der = NULL;
    EVP_PKEY *pub = NULL;
    unsigned long v = 0;
    char *pem = NULL;
    size_t len = 0, pem_len = 0;
    int r = -EINVAL;

    if (!mod) {
        snprintf(err, errlen, "out of memory");
        return CERTTOOL_FAIL;
    }
    req.type = o->type && strcmp(o->type, "platform") == 0 ? CERT_PLATFORM
                                                           : CERT_EK;
    if (o->pubkey) {
        r = load_pubkey(o->pubkey, &req, &pub, err, errlen);
        p.pubkey = pub;
    } else if (o->modulus) {
        r = hex_to_bytes(o->modulus, "--modulus", mod, KEY_BYTES_MAX,
                         &req.modulus_len, err, errlen);
        req.modulus = mod;
        if (r == 0) {
            r = check_rsa_bits(modulus_bits(mod, req.modulus_len),
                               "--modulus", err, errlen);
        }
    } else {
        r = ecc_point(o, &req, ex, ey, err, errlen);
    }
    if (r < 0) {
        goto out;
    }
    if (o->exponent && parse_uint(o->exponent, 0, UINT_MAX, &v) == 0) {
        p.exponent = v;
    }
    p.subject = o->subject;
    p.tpm_manufacturer = o->tpm_manufacturer;
    p.tpm_model = o->tpm_model;
    p.tpm_version = o->tpm_version;
    p.spec_family = req.type == CERT_EK ? o->spec_family : NULL;
    if (p.spec_family) {
        parse_uint(o->spec_level, 0, UINT_MAX, &p.spec_level);
        parse_uint(o->spec_revision, 0, UINT_MAX, &p.spec_revision);
    }
    p.plat_manufacturer = o->plat_manufacturer;
    p.plat_model = o->plat_model;
    p.plat_version = o->plat_version;
    p.allow_signing = o->allow_signing;
    p.decryption = o->decryption;
    p.add_header = o->add_header;
    p.days = 365;
    if (o->days) {
        p.days = strcmp(o->days, "-1") == 0 ? -1 : atol(o->days);
    }
    p.serial_dec = o->serial ? o->serial : "1";
    r = x509_make_cert(&p, key, cert, &der, &len, err, errlen);
    if (r == 0 && o->pem) {
        /* PEM has no room for the NV header: the certificate alone */
        size_t skip = o->add_header ? 7 : 0;

        r = to_pem(der + skip, len - skip, &pem, &pem_len);
        if (r < 0) {
            snprintf(err, errlen, "cannot encode the certificate as PEM");
        }
    }
    if (r == 0) {
        r = pem ? write_out(o->out_cert, pem, pem_len, err, errlen)
                : write_out(o->out_cert, der, len, err, errlen);
    }
out:
    free(pem);
    free(der);
    free(mod);
    EVP_PKEY_free(pub);
    return r < 0 ? CERTTOOL_FAIL : CERTTOOL_OK;
}
