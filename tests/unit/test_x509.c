// SPDX-License-Identifier: BSD-3-Clause
/*
 * Unit tests for the certificates of swtpm_setup, swtpm_localca and
 * swtpm_cert (src/ca/x509.c, docs/setup-and-bios.md §8): the local CA pair,
 * EK and platform certificates for TPM 2 (RSA and ECC) and TPM 1.2, checked
 * field by field and against the exact DER the spec quotes.  Keys are generated
 * fresh with OpenSSL.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509.h"

/* What swtpm_setup learns from CMD_GET_INFO. */
struct tpm_ident {
    const char *family;
    unsigned long level;
    unsigned long revision;
    const char *manufacturer;
    const char *model;
    const char *version;
};

static EVP_PKEY *ca_key;
static X509 *ca_cert;
static EVP_PKEY *root_key;
static X509 *root_cert;

static const struct tpm_ident ident2 = {
    "2.0", 0, 164, "id:00001014", "swtpm", "id:20191023",
};
static const struct tpm_ident ident12 = {
    "1.2", 2, 116, "id:00001014", "swtpm", "id:00740001",
};

static int
group_setup(void **state)
{
    void *k, *c, *rk, *rc;

    (void)state;
    if (x509_make_ca("swtpm-localca-rootca", NULL, NULL, &rk, &rc) < 0 ||
        x509_make_ca("swtpm-localca", rk, rc, &k, &c) < 0) {
        return -1;
    }
    root_key = rk;
    root_cert = rc;
    ca_key = k;
    ca_cert = c;
    return 0;
}

static int
group_teardown(void **state)
{
    (void)state;
    EVP_PKEY_free(ca_key);
    X509_free(ca_cert);
    EVP_PKEY_free(root_key);
    X509_free(root_cert);
    return 0;
}

/* DER of extension nid's value, or NULL. */
static const ASN1_OCTET_STRING *
ext_value(X509 *x, int nid, int *critical)
{
    int i = X509_get_ext_by_NID(x, nid, -1);
    X509_EXTENSION *e;

    if (i < 0) {
        return NULL;
    }
    e = X509_get_ext(x, i);
    *critical = X509_EXTENSION_get_critical(e);
    return X509_EXTENSION_get_data(e);
}

static void
assert_ext(X509 *x, int nid, int critical, const char *hex)
{
    const ASN1_OCTET_STRING *v;
    int crit = -1;
    long len = 0;
    unsigned char *want = OPENSSL_hexstr2buf(hex, &len);

    v = ext_value(x, nid, &crit);
    assert_non_null(v);
    assert_int_equal(crit, critical);
    assert_int_equal(ASN1_STRING_length(v), len);
    assert_memory_equal(ASN1_STRING_get0_data(v), want, (size_t)len);
    OPENSSL_free(want);
}

/* Make a certificate for a fresh key; returns the parsed X509. */
static X509 *
make(struct cert_req *req, const struct tpm_ident *id, bool sign,
     bool decrypt, uint8_t **out_der, size_t *out_len)
{
    struct x509_params p = {
        .req = req, .subject = "CN=vm1",
        .tpm_manufacturer = id->manufacturer, .tpm_model = id->model,
        .tpm_version = id->version, .spec_family = id->family,
        .spec_level = id->level, .spec_revision = id->revision,
        .add_header = !req->tpm2, .days = -1,
        .plat_manufacturer = "Fedora", .plat_model = "QEMU",
        .plat_version = "2.1", .allow_signing = sign,
        .decryption = decrypt, .serial_dec = "12345678901234567890",
    };
    const unsigned char *q;
    char err[200];
    X509 *x;

    assert_int_equal(x509_make_cert(&p, ca_key, ca_cert, out_der, out_len,
                                    err, sizeof(err)), 0);
    q = *out_der + (req->tpm2 ? 0 : 7);
    x = d2i_X509(NULL, &q, (long)(*out_len - (req->tpm2 ? 0 : 7)));
    assert_non_null(x);
    assert_int_equal(X509_verify(x, ca_key), 1);
    return x;
}

static void
rsa_req(struct cert_req *req, uint8_t *mod)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIGNUM *n = NULL;

    assert_non_null(k);
    assert_int_equal(EVP_PKEY_get_bn_param(k, "n", &n), 1);
    assert_int_equal(BN_bn2binpad(n, mod, 256), 256);
    BN_free(n);
    EVP_PKEY_free(k);
    memset(req, 0, sizeof(*req));
    req->tpm2 = true;
    req->modulus = mod;
    req->modulus_len = 256;
}

static void
test_x509_make_ca_chain(void **state)
{
    (void)state;
    assert_int_equal(X509_verify(ca_cert, root_key), 1);
    assert_int_equal(X509_check_ca(ca_cert), 1);
    assert_int_equal(EVP_PKEY_get_bits(ca_key), 3072);
    assert_ext(ca_cert, NID_basic_constraints, 1, "30030101ff");
    assert_ext(ca_cert, NID_key_usage, 1, "03020204");
}

static void
test_x509_ek_rsa_tpm2(void **state)
{
    struct cert_req req;
    uint8_t mod[256], *der = NULL;
    size_t len = 0;
    X509 *x;
    char cn[16];

    (void)state;
    rsa_req(&req, mod);
    req.type = CERT_EK;
    x = make(&req, &ident2, false, false, &der, &len);
    assert_int_equal(X509_get_version(x), 2);
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn,
                              sizeof(cn));
    assert_string_equal(cn, "vm1");
    assert_ext(x, NID_subject_alt_name, 1,
               "3046a4443042"
               "3116301406056781050201" "0c0b69643a3030303031303134"
               "3110300e06056781050202" "0c05737774706d"
               "3116301406056781050203" "0c0b69643a3230313931303233");
    assert_ext(x, NID_subject_directory_attributes, 0,
               "3019301706056781050210310e300c0c03322e30020100020200a4");
    assert_ext(x, NID_ext_key_usage, 0, "300706056781050801");
    assert_ext(x, NID_key_usage, 1, "03020520");
    assert_ext(x, NID_basic_constraints, 1, "3000");
    assert_int_equal(X509_get_ext_by_NID(x, NID_subject_key_identifier, -1),
                     -1);
    assert_int_equal(X509_get_signature_nid(x), NID_sha256WithRSAEncryption);
    assert_int_equal(ASN1_TIME_cmp_time_t(X509_get0_notAfter(x),
                                          253402300798), 1);
    X509_free(x);
    free(der);
}

static void
test_x509_platform_and_signing(void **state)
{
    struct cert_req req;
    uint8_t mod[256], *der = NULL;
    size_t len = 0;
    X509 *x;

    (void)state;
    rsa_req(&req, mod);
    req.type = CERT_PLATFORM;
    x = make(&req, &ident2, true, false, &der, &len);
    assert_ext(x, NID_ext_key_usage, 0, "300706056781050802");
    assert_ext(x, NID_key_usage, 1, "03020780");       /* digitalSignature */
    assert_int_equal(X509_get_ext_by_NID(x, NID_subject_directory_attributes,
                                         -1), -1);
    X509_free(x);
    free(der);
    x = make(&req, &ident2, true, true, &der, &len);
    assert_ext(x, NID_key_usage, 1, "030205a0");       /* + encipherment */
    X509_free(x);
    free(der);
}

static void
test_x509_ek_ecc(void **state)
{
    EVP_PKEY *k = EVP_EC_gen("P-384");
    uint8_t pt[97], *der = NULL;
    size_t ptlen = 0, len = 0;
    struct cert_req req = { .type = CERT_EK, .tpm2 = true, .is_ecc = true,
                            .curve = "secp384r1", .ecc_len = 48 };
    X509 *x;
    EVP_PKEY *pub;

    (void)state;
    assert_int_equal(EVP_PKEY_get_octet_string_param(k, "encoded-pub-key",
                                                     pt, sizeof(pt),
                                                     &ptlen), 1);
    assert_int_equal(ptlen, 97);
    req.ecc_x = pt + 1;
    req.ecc_y = pt + 49;
    x = make(&req, &ident2, false, false, &der, &len);
    assert_ext(x, NID_key_usage, 1, "03020308");       /* keyAgreement */
    pub = X509_get0_pubkey(x);
    assert_int_equal(EVP_PKEY_eq(pub, k), 1);
    X509_free(x);
    free(der);
    EVP_PKEY_free(k);
}

static void
test_x509_tpm12_header_and_sha1(void **state)
{
    struct cert_req req;
    uint8_t mod[256], *der = NULL;
    size_t len = 0;
    X509 *x;

    (void)state;
    rsa_req(&req, mod);
    req.tpm2 = false;
    req.type = CERT_EK;
    x = make(&req, &ident12, false, false, &der, &len);
    assert_memory_equal(der, "\x10\x01\x00", 3);
    assert_int_equal(der[3] << 8 | der[4], len - 5);
    assert_memory_equal(der + 5, "\x10\x02", 2);
    assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(x)), 0);
    assert_int_equal(X509_get_signature_nid(x), NID_sha1WithRSAEncryption);
    /* 1.2 / level 2 / revision 116 */
    assert_ext(x, NID_subject_directory_attributes, 0,
               "3018301606056781050210310d300b0c03312e32020102020174");
    X509_free(x);
    free(der);
}

static void
test_x509_bad_inputs(void **state)
{
    struct cert_req req = { .type = CERT_EK, .tpm2 = true, .is_ecc = true,
                            .curve = "secp384r1", .ecc_len = 48 };
    uint8_t zeros[48] = { 0 }, *der = NULL, mod[256];
    struct x509_params p = { .req = &req, .subject = "CN=x",
                             .tpm_manufacturer = "m", .tpm_model = "m",
                             .tpm_version = "v", .serial_dec = "1" };
    size_t len;
    char err[200];

    (void)state;
    req.ecc_x = req.ecc_y = zeros;      /* not a point on the curve */
    assert_int_not_equal(x509_make_cert(&p, ca_key, ca_cert, &der, &len,
                                        err, sizeof(err)), 0);
    assert_null(der);
    rsa_req(&req, mod);
    p.serial_dec = "123456789012345678901234567890123456789012345678901";
    assert_int_not_equal(x509_make_cert(&p, ca_key, ca_cert, &der, &len,
                                        err, sizeof(err)), 0);
    p.serial_dec = "abc";
    assert_int_not_equal(x509_make_cert(&p, ca_key, ca_cert, &der, &len,
                                        err, sizeof(err)), 0);
}

/* Bytes from Debian's swtpm_cert 0.7.1 --type platform (TPM 1.2) for the
 * same TPM and platform strings. */
static void
test_x509_tpm12_platform_san(void **state)
{
    struct cert_req req;
    uint8_t mod[256], *der = NULL;
    size_t len = 0;
    X509 *x;

    (void)state;
    rsa_req(&req, mod);
    req.tpm2 = false;
    req.type = CERT_PLATFORM;
    x = make(&req, &ident2, false, false, &der, &len);
    assert_ext(x, NID_subject_alt_name, 1,
               "307ea47c307a3042"
               "31163014060567810502010c0b69643a3030303031303134"
               "3110300e060567810502020c05737774706d"
               "31163014060567810502030c0b69643a3230313931303233"
               "3034"
               "3111300f060567810502040c064665646f7261"
               "310f300d060567810502050c0451454d55"
               "310e300c060567810502060c03322e31");
    /* upstream puts the platform extKeyUsage last */
    assert_int_equal(X509_get_ext_by_NID(x, NID_ext_key_usage, -1),
                     X509_get_ext_count(x) - 1);
    X509_free(x);
    free(der);
}

static void
test_x509_check_serial_limits(void **state)
{
    (void)state;
    assert_int_equal(x509_check_serial("1"), 0);
    /* 2^160 - 1: the largest 20-byte serial */
    assert_int_equal(x509_check_serial(
        "1461501637330902918203684832716283019655932542975"), 0);
    assert_int_equal(x509_check_serial(
        "1461501637330902918203684832716283019655932542976"), -EINVAL);
    assert_int_equal(x509_check_serial("0"), -EINVAL);
    assert_int_equal(x509_check_serial(""), -EINVAL);
    assert_int_equal(x509_check_serial("-5"), -EINVAL);
    assert_int_equal(x509_check_serial("0x10"), -EINVAL);
    assert_int_equal(x509_check_serial("12 "), -EINVAL);
}

static void
test_x509_parse_name_order_and_types(void **state)
{
    void *v = NULL;
    X509_NAME *n;
    const X509_NAME_ENTRY *e;

    (void)state;
    assert_int_equal(x509_parse_name("CN=my\\,vm,O=Org,C=US", &v), 0);
    n = v;
    assert_int_equal(X509_NAME_entry_count(n), 3);
    /* the string lists the most specific RDN first: DER order C, O, CN */
    e = X509_NAME_get_entry(n, 0);
    assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)),
                     NID_countryName);
    e = X509_NAME_get_entry(n, 2);
    assert_int_equal(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)),
                     NID_commonName);
    assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(e)),
                     V_ASN1_PRINTABLESTRING);
    assert_string_equal(ASN1_STRING_get0_data(X509_NAME_ENTRY_get_data(e)),
                        "my,vm");
    X509_NAME_free(n);
    assert_int_equal(x509_parse_name("CN=vm_1", &v), 0);
    e = X509_NAME_get_entry(v, 0);
    assert_int_equal(ASN1_STRING_type(X509_NAME_ENTRY_get_data(e)),
                     V_ASN1_UTF8STRING);
    X509_NAME_free(v);
    assert_int_equal(x509_parse_name("CN", &v), -EINVAL);
    assert_int_equal(x509_parse_name("=x", &v), -EINVAL);
    assert_int_equal(x509_parse_name("NOSUCHATTR=x", &v), -EINVAL);
    assert_int_equal(x509_parse_name("C=USA", &v), -EINVAL);
    assert_int_equal(x509_parse_name("CN=a,", &v), -EINVAL);
}

static void
test_x509_validity_days(void **state)
{
    struct cert_req req;
    uint8_t mod[256], *der = NULL;
    struct x509_params p = { .req = &req, .subject = "CN=x",
                             .tpm_manufacturer = "m", .tpm_model = "m",
                             .tpm_version = "v", .serial_dec = "7",
                             .days = 10 };
    const unsigned char *q;
    size_t len = 0;
    char err[200];
    int day = 0, sec = 0;
    X509 *x;

    (void)state;
    rsa_req(&req, mod);
    req.type = CERT_EK;
    assert_int_equal(x509_make_cert(&p, ca_key, ca_cert, &der, &len, err,
                                    sizeof(err)), 0);
    q = der;
    x = d2i_X509(NULL, &q, (long)len);
    assert_non_null(x);
    assert_int_equal(ASN1_TIME_diff(&day, &sec, X509_get0_notBefore(x),
                                    X509_get0_notAfter(x)), 1);
    assert_int_equal(day, 10);
    assert_int_equal(sec, 0);
    /* no tpm-spec family: no subjectDirectoryAttributes */
    assert_int_equal(X509_get_ext_by_NID(x, NID_subject_directory_attributes,
                                         -1), -1);
    X509_free(x);
    free(der);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_x509_make_ca_chain),
        cmocka_unit_test(test_x509_ek_rsa_tpm2),
        cmocka_unit_test(test_x509_platform_and_signing),
        cmocka_unit_test(test_x509_ek_ecc),
        cmocka_unit_test(test_x509_tpm12_header_and_sha1),
        cmocka_unit_test(test_x509_bad_inputs),
        cmocka_unit_test(test_x509_tpm12_platform_san),
        cmocka_unit_test(test_x509_check_serial_limits),
        cmocka_unit_test(test_x509_parse_name_order_and_types),
        cmocka_unit_test(test_x509_validity_days),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
