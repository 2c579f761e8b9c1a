// SPDX-License-Identifier: BSD-3-Clause
/*
 * EK and platform certificates (docs/setup-and-bios.md §8) and the local
 * CA's own certificates, built with OpenSSL.  TCG-specific extension
 * values are DER-encoded here byte for byte as the spec lists them, in
 * the order upstream's swtpm_cert writes them.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509.h"

/* notAfter for certificates that do not expire (--days -1). */
#define NO_EXPIRY "99991231235959Z"

static ASN1_OBJECT *
oid(const char *dotted)
{
    return OBJ_txt2obj(dotted, /* no_name= */ 1);
}

/* Append one single-attribute RDN with a UTF8String value. */
static int
name_add(X509_NAME *n, const char *dotted, const char *value)
{
    ASN1_OBJECT *o = oid(dotted);
    int ok = o && X509_NAME_add_entry_by_OBJ(n, o, V_ASN1_UTF8STRING,
                                             (const unsigned char *)value,
                                             -1, -1, 0);

    ASN1_OBJECT_free(o);
    return ok ? 0 : -EINVAL;
}

/* Add an extension from raw DER value bytes. */
static int
add_raw_ext(X509 *x, int nid, const char *dotted, int critical,
            const uint8_t *der, size_t len)
{
    ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *o = nid ? OBJ_nid2obj(nid) : oid(dotted);
    X509_EXTENSION *ext = NULL;
    int r = -EINVAL;

    if (os && o && ASN1_OCTET_STRING_set(os, der, (int)len)) {
        ext = X509_EXTENSION_create_by_OBJ(NULL, o, critical, os);
    }
    if (ext && X509_add_ext(x, ext, -1)) {
        r = 0;
    }
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(os);
    if (!nid) {
        ASN1_OBJECT_free(o);
    }
    return r;
}

/* Critical SAN with one directoryName of three single-attribute RDNs. */
static int
add_san(X509 *x, const char *oids[3], const char *values[3])
{
    GENERAL_NAMES *gens = GENERAL_NAMES_new();
    GENERAL_NAME *gen = GENERAL_NAME_new();
    X509_NAME *dn = X509_NAME_new();
    int r = -EINVAL;

    if (!gens || !gen || !dn) {
        goto out;
    }
    for (int i = 0; i < 3; i++) {
        if (name_add(dn, oids[i], values[i]) < 0) {
            goto out;
        }
    }
    GENERAL_NAME_set0_value(gen, GEN_DIRNAME, dn);
    dn = NULL;
    if (!sk_GENERAL_NAME_push(gens, gen)) {
        goto out;
    }
    gen = NULL;
    if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 1,
                          X509V3_ADD_DEFAULT) == 1) {
        r = 0;
    }
out:
    X509_NAME_free(dn);
    GENERAL_NAME_free(gen);
    GENERAL_NAMES_free(gens);
    return r;
}

/* DER length octets for n < 65536. */
static size_t der_len(uint8_t *p, size_t n);

/* Append tag, length and the n bytes at in to out (cap bytes); -E2BIG. */
static int
der_wrap(uint8_t tag, const uint8_t *in, size_t n, uint8_t *out, size_t cap,
         size_t *out_len)
{
    uint8_t hdr[4];
    size_t h;

    hdr[0] = tag;
    h = 1 + der_len(hdr + 1, n);
    if (n > 0xffff || n + h > cap) {
        return -E2BIG;
    }
    memmove(out + h, in, n);
    memcpy(out, hdr, h);
    *out_len = h + n;
    return 0;
}

/* DER RDNSequence of three single-attribute UTF8String RDNs. */
static int
rdn_seq_der(const char *oids[3], const char *values[3], uint8_t *out,
            size_t cap, size_t *out_len)
{
    X509_NAME *dn = X509_NAME_new();
    unsigned char *der = NULL;
    int len = -1, r = -EINVAL;

    for (int i = 0; dn && i < 3; i++) {
        if (name_add(dn, oids[i], values[i]) < 0) {
            goto out;
        }
    }
    len = dn ? i2d_X509_NAME(dn, &der) : -1;
    if (len > 0 && (size_t)len <= cap) {
        memcpy(out, der, (size_t)len);
        *out_len = (size_t)len;
        r = 0;
    }
out:
    OPENSSL_free(der);
    X509_NAME_free(dn);
    return r;
}

/*
 * TPM 1.2 platform certificates name the TPM and the platform in one
 * directoryName holding a SEQUENCE of two RDNSequences, as upstream
 * writes it (docs/setup-and-bios.md §8, Notes): critical, raw DER.
 */
static int
add_san12_platform(X509 *x, const char *tpm_oids[3], const char *tpm[3],
                   const char *plat_oids[3], const char *plat[3])
{
    uint8_t buf[2048], tmp[2048];
    size_t a = 0, b = 0, n = 0;
    int r;

    r = rdn_seq_der(tpm_oids, tpm, buf, sizeof(buf) / 2, &a);
    if (r == 0) {
        r = rdn_seq_der(plat_oids, plat, buf + a, sizeof(buf) / 2, &b);
    }
    if (r == 0) {
        r = der_wrap(0x30, buf, a + b, tmp, sizeof(tmp), &n);
    }
    if (r == 0) {
        r = der_wrap(0xa4, tmp, n, buf, sizeof(buf), &n);
    }
    if (r == 0) {
        r = der_wrap(0x30, buf, n, tmp, sizeof(tmp), &n);
    }
    if (r == 0) {
        r = add_raw_ext(x, NID_subject_alt_name, NULL, 1, tmp, n);
    }
    return r;
}

/* DER length octets for n < 65536. */
static size_t
der_len(uint8_t *p, size_t n)
{
    if (n < 0x80) {
        p[0] = (uint8_t)n;
        return 1;
    }
    if (n < 0x100) {
        p[0] = 0x81;
        p[1] = (uint8_t)n;
        return 2;
    }
    p[0] = 0x82;
    p[1] = (uint8_t)(n >> 8);
    p[2] = (uint8_t)n;
    return 3;
}

/* Minimal DER INTEGER of a non-negative value. */
static size_t
der_uint(uint8_t *p, unsigned long v)
{
    uint8_t tmp[9];
    size_t n = 0;

    do {
        tmp[n++] = (uint8_t)v;
        v >>= 8;
    } while (v);
    if (tmp[n - 1] & 0x80) {
        tmp[n++] = 0;
    }
    p[0] = 0x02;
    p[1] = (uint8_t)n;
    for (size_t i = 0; i < n; i++) {
        p[2 + i] = tmp[n - 1 - i];
    }
    return 2 + n;
}

/*
 * subjectDirectoryAttributes with tcg-at-tpmSpecification:
 * SEQ{ SEQ{ OID 2.23.133.2.16, SET{ SEQ{ UTF8 family, INT lvl, INT rev }}}}
 */
static int
add_tpm_spec(X509 *x, const struct x509_params *p)
{
    static const uint8_t spec_oid[] = {
        0x06, 0x05, 0x67, 0x81, 0x05, 0x02, 0x10 };
    uint8_t inner[64], set[128], attr[256], out[512];
    size_t flen = strlen(p->spec_family), n = 0, s, a, o;

    if (flen > 16) {
        return -EINVAL;
    }
    inner[n++] = 0x0c;
    inner[n++] = (uint8_t)flen;
    memcpy(inner + n, p->spec_family, flen);
    n += flen;
    n += der_uint(inner + n, p->spec_level);
    n += der_uint(inner + n, p->spec_revision);
    /* SET { SEQUENCE { inner } } */
    s = 0;
    set[s++] = 0x31;
    s += der_len(set + s, n + 2);
    set[s++] = 0x30;
    s += der_len(set + s, n);
    memcpy(set + s, inner, n);
    s += n;
    if (s > sizeof(attr) - 16) {
        return -EINVAL;
    }
    a = 0;
    attr[a++] = 0x30;
    a += der_len(attr + a, sizeof(spec_oid) + s);
    memcpy(attr + a, spec_oid, sizeof(spec_oid));
    a += sizeof(spec_oid);
    memcpy(attr + a, set, s);
    a += s;
    if (a > sizeof(out) - 8) {
        return -EINVAL;
    }
    o = 0;
    out[o++] = 0x30;
    o += der_len(out + o, a);
    memcpy(out + o, attr, a);
    o += a;
    return add_raw_ext(x, NID_subject_directory_attributes, NULL, 0, out, o);
}

static int
add_key_usage(X509 *x, const struct x509_params *p)
{
    const struct cert_req *req = p->req;
    /* KeyUsage bits: digitalSignature 0x80, keyEncipherment 0x20,
     * keyAgreement 0x08 (first octet of the BIT STRING). */
    uint8_t bits = 0;
    uint8_t der[4] = { 0x03, 0x02, 0, 0 };
    int unused = 0;

    /* signing is a TPM 2 feature; TPM 1.2 EKs only decrypt */
    bool sign = p->allow_signing && req->tpm2;

    if (!sign || p->decryption) {
        bits |= req->is_ecc && req->tpm2 ? 0x08 : 0x20;
    }
    if (sign) {
        bits |= 0x80;
    }
    while (unused < 7 && !(bits & (1u << unused))) {
        unused++;
    }
    der[2] = (uint8_t)unused;
    der[3] = bits;
    return add_raw_ext(x, NID_key_usage, NULL, 1, der, sizeof(der));
}

static int
add_aki(X509 *x, X509 *issuer)
{
    const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(issuer);
    uint8_t md[EVP_MAX_MD_SIZE], der[2 + 2 + EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    const uint8_t *id;
    size_t idlen;

    if (skid) {
        id = ASN1_STRING_get0_data(skid);
        idlen = (size_t)ASN1_STRING_length(skid);
    } else {
        if (!X509_pubkey_digest(issuer, EVP_sha1(), md, &mdlen)) {
            return -EINVAL;
        }
        id = md;
        idlen = mdlen;
    }
    if (idlen > EVP_MAX_MD_SIZE) {
        return -EINVAL;
    }
    /* AuthorityKeyIdentifier ::= SEQUENCE { [0] keyIdentifier } */
    der[0] = 0x30;
    der[1] = (uint8_t)(idlen + 2);
    der[2] = 0x80;
    der[3] = (uint8_t)idlen;
    memcpy(der + 4, id, idlen);
    return add_raw_ext(x, NID_authority_key_identifier, NULL, 0, der,
                       idlen + 4);
}

/* The EK's public key as an EVP_PKEY. */
static EVP_PKEY *
ek_pkey(const struct cert_req *req, unsigned long exponent)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = NULL, *e = NULL;
    uint8_t point[1 + 2 * 66];
    bool ok = bld != NULL;

    if (req->is_ecc) {
        if (req->ecc_len > 66) {
            ok = false;
        } else {
            point[0] = 0x04;
            memcpy(point + 1, req->ecc_x, req->ecc_len);
            memcpy(point + 1 + req->ecc_len, req->ecc_y, req->ecc_len);
        }
        ok = ok && OSSL_PARAM_BLD_push_utf8_string(
                       bld, OSSL_PKEY_PARAM_GROUP_NAME, req->curve, 0) &&
             OSSL_PARAM_BLD_push_octet_string(
                       bld, OSSL_PKEY_PARAM_PUB_KEY, point,
                       1 + 2 * req->ecc_len);
    } else {
        n = BN_bin2bn(req->modulus, (int)req->modulus_len, NULL);
        e = BN_new();
        ok = ok && n && e && BN_set_word(e, exponent ? exponent : 65537) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
             OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
    }
    if (ok) {
        params = OSSL_PARAM_BLD_to_param(bld);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, req->is_ecc ? "EC" : "RSA",
                                         NULL);
    }
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) == 1) {
        if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY,
                              params) != 1) {
            pkey = NULL;
        }
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

/* Signature digest for a signer key (docs/setup-and-bios.md §8: by key type and
 * size). */
static const EVP_MD *
sign_md(EVP_PKEY *key, bool tpm2)
{
    int bits = EVP_PKEY_get_bits(key);

    if (!tpm2) {
        return EVP_sha1();
    }
    if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC) {
        return bits >= 512 ? EVP_sha512() :
               bits >= 384 ? EVP_sha384() : EVP_sha256();
    }
    /* RSA: SHA-256 as swtpm 0.7.1 produced with its RSA-3072 CA */
    return EVP_sha256();
}

int
x509_check_serial(const char *dec)
{
    BIGNUM *bn = NULL;
    size_t n = strlen(dec);
    int r = -EINVAL;

    /* 49 digits exceed 2^160 already; stop before BN_dec2bn's work */
    if (n > 0 && n <= 49 && strspn(dec, "0123456789") == n &&
        BN_dec2bn(&bn, dec) == (int)n && !BN_is_zero(bn) &&
        BN_num_bytes(bn) <= X509_SERIAL_MAX_BYTES) {
        r = 0;
    }
    BN_free(bn);
    return r;
}

static int
set_serial(X509 *x, const char *dec)
{
    BIGNUM *bn = NULL;
    ASN1_INTEGER *ai = NULL;
    int r = -EINVAL;

    if (x509_check_serial(dec) == 0 && BN_dec2bn(&bn, dec) > 0 &&
        (ai = BN_to_ASN1_INTEGER(bn, NULL)) != NULL &&
        X509_set_serialNumber(x, ai)) {
        r = 0;
    }
    ASN1_INTEGER_free(ai);
    BN_free(bn);
    return r;
}

/* notBefore now; notAfter days later, or never for days < 0. */
static int
set_validity(X509 *x, long days)
{
    ASN1_TIME *end = ASN1_TIME_new();
    int ok = end && X509_gmtime_adj(X509_getm_notBefore(x), 0);

    if (days < 0) {
        ok = ok && ASN1_TIME_set_string(end, NO_EXPIRY);
    } else {
        ok = ok && days <= INT_MAX &&
             X509_time_adj_ex(end, (int)days, 0, NULL) != NULL;
    }
    ok = ok && X509_set1_notAfter(x, end);
    ASN1_TIME_free(end);
    return ok ? 0 : -EINVAL;
}

/* The TPM 1.2 NV header (docs/setup-and-bios.md §8): 10 01 | 00 | len+2 | 10 02
 * then the DER. */
static int
add_tcg_header(uint8_t **der, size_t *len)
{
    uint8_t *p;

    if (*len + 2 > 0xffff) {
        return -E2BIG;
    }
    p = malloc(*len + 7);
    if (!p) {
        return -ENOMEM;
    }
    p[0] = 0x10;
    p[1] = 0x01;
    p[2] = 0x00;
    p[3] = (uint8_t)((*len + 2) >> 8);
    p[4] = (uint8_t)(*len + 2);
    p[5] = 0x10;
    p[6] = 0x02;
    memcpy(p + 7, *der, *len);
    free(*der);
    *der = p;
    *len += 7;
    return 0;
}

static int
add_extensions(X509 *x, const struct x509_params *p, X509 *issuer)
{
    static const uint8_t eku_ek[] = {
        0x30, 0x07, 0x06, 0x05, 0x67, 0x81, 0x05, 0x08, 0x01 };
    static const uint8_t eku_plat[] = {
        0x30, 0x07, 0x06, 0x05, 0x67, 0x81, 0x05, 0x08, 0x02 };
    static const uint8_t bc[] = { 0x30, 0x00 };
    static const char *tpm_oids[3] = {
        "2.23.133.2.1", "2.23.133.2.2", "2.23.133.2.3" };
    static const char *plat_oids[3] = {
        "2.23.133.5.1.1", "2.23.133.5.1.4", "2.23.133.5.1.5" };
    static const char *plat12_oids[3] = {
        "2.23.133.2.4", "2.23.133.2.5", "2.23.133.2.6" };
    const char *tpm_vals[3] = {
        p->tpm_manufacturer, p->tpm_model, p->tpm_version };
    const char *plat_vals[3] = {
        p->plat_manufacturer, p->plat_model, p->plat_version };
    bool ek = p->req->type == CERT_EK;
    int r = 0;

    /* upstream's order: EK certificates start with the extKeyUsage,
     * platform certificates end with it */
    if (ek) {
        r = add_raw_ext(x, NID_ext_key_usage, NULL, 0, eku_ek,
                        sizeof(eku_ek));
    }
    if (r == 0) {
        r = ek ? add_san(x, tpm_oids, tpm_vals)
             : p->req->tpm2 ? add_san(x, plat_oids, plat_vals)
             : add_san12_platform(x, tpm_oids, tpm_vals, plat12_oids,
                                  plat_vals);
    }
    if (r == 0) {
        r = add_raw_ext(x, NID_basic_constraints, NULL, 1, bc, sizeof(bc));
    }
    if (r == 0 && ek && p->spec_family) {
        r = add_tpm_spec(x, p);
    }
    if (r == 0) {
        r = add_aki(x, issuer);
    }
    if (r == 0) {
        r = add_key_usage(x, p);
    }
    if (r == 0 && !ek) {
        r = add_raw_ext(x, NID_ext_key_usage, NULL, 0, eku_plat,
                        sizeof(eku_plat));
    }
    return r;
}

/* PrintableString where the value allows it, else UTF8String (as
 * GnuTLS encodes a DN string). */
static int
dn_string_type(const char *v)
{
    static const char printable[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
        "0123456789 '()+,-./:=?";

    return strspn(v, printable) == strlen(v) ? V_ASN1_PRINTABLESTRING
                                             : V_ASN1_UTF8STRING;
}

/* One "key=value" with '\' escapes in value; prepended to n. */
static int
name_add_pair(X509_NAME *n, char *pair)
{
    char *eq = strchr(pair, '='), *w, *r;
    ASN1_OBJECT *o;
    int ok, type;

    if (!eq || eq == pair) {
        return -EINVAL;
    }
    *eq = '\0';
    for (w = r = eq + 1; *r; r++) {
        if (*r == '\\' && r[1]) {
            r++;
        }
        *w++ = *r;
    }
    *w = '\0';
    o = OBJ_txt2obj(pair, /* no_name= */ 0);
    type = dn_string_type(eq + 1);
    if (OBJ_obj2nid(o) == NID_countryName && strlen(eq + 1) != 2) {
        ok = 0;
    } else {
        /* loc 0: the string lists the most specific RDN first */
        ok = o && X509_NAME_add_entry_by_OBJ(
                      n, o, type, (const unsigned char *)(eq + 1), -1, 0, 0);
    }
    ASN1_OBJECT_free(o);
    return ok ? 0 : -EINVAL;
}

int
x509_parse_name(const char *s, void **out)
{
    X509_NAME *n = X509_NAME_new();
    char *copy = strdup(s), *start, *p;
    int r = n && copy ? 0 : -ENOMEM;

    for (start = p = copy; r == 0 && p; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        } else if (*p == ',' || *p == '\0') {
            bool end = *p == '\0';

            *p = '\0';
            r = name_add_pair(n, start);
            start = p + 1;
            if (end) {
                break;
            }
        }
    }
    free(copy);
    if (r < 0) {
        X509_NAME_free(n);
        return r;
    }
    *out = n;
    return 0;
}

int
x509_make_cert(const struct x509_params *p, void *issuer_key,
               void *issuer_cert, uint8_t **out_der, size_t *out_len,
               char *err, size_t errlen)
{
    X509 *x = X509_new();
    X509_NAME *subj = NULL;
    EVP_PKEY *pub = NULL;
    unsigned char *der = NULL;
    void *name = NULL;
    int len = 0, r = -EINVAL;

    if (p->pubkey) {
        pub = p->pubkey;
        EVP_PKEY_up_ref(pub);
    } else {
        pub = ek_pkey(p->req, p->exponent);
    }
    if (!x || !pub) {
        snprintf(err, errlen, "cannot use the TPM's %s public key",
                 p->req->is_ecc ? "ECC" : "RSA");
        goto out;
    }
    /* TPM 1.2 EK/platform certificates have an empty subject
     * (docs/setup-and-bios.md §8) */
    if (p->req->tpm2 && p->subject) {
        if (x509_parse_name(p->subject, &name) < 0) {
            snprintf(err, errlen, "invalid certificate subject '%s'",
                     p->subject);
            goto out;
        }
        subj = name;
    } else {
        subj = X509_NAME_new();
    }
    if (!subj || !X509_set_version(x, 2) ||
        set_serial(x, p->serial_dec) < 0 ||
        !X509_set_issuer_name(x, X509_get_subject_name(issuer_cert)) ||
        set_validity(x, p->days) < 0 || !X509_set_subject_name(x, subj) ||
        !X509_set_pubkey(x, pub) ||
        add_extensions(x, p, issuer_cert) < 0) {
        snprintf(err, errlen, "cannot build the certificate");
        goto out;
    }
    if (!X509_sign(x, issuer_key, sign_md(issuer_key, p->req->tpm2))) {
        snprintf(err, errlen, "cannot sign the certificate");
        goto out;
    }
    len = i2d_X509(x, &der);
    if (len <= 0) {
        snprintf(err, errlen, "cannot encode the certificate");
        goto out;
    }
    *out_len = (size_t)len;
    *out_der = malloc((size_t)len);
    if (!*out_der) {
        r = -ENOMEM;
        goto out;
    }
    memcpy(*out_der, der, (size_t)len);
    r = p->add_header ? add_tcg_header(out_der, out_len) : 0;
    if (r < 0) {
        free(*out_der);
        *out_der = NULL;
    }
out:
    OPENSSL_free(der);
    EVP_PKEY_free(pub);
    X509_NAME_free(subj);
    X509_free(x);
    return r;
}

int
x509_make_ca(const char *cn, void *issuer_key, void *issuer_cert,
             void **out_key, void **out_cert)
{
    EVP_PKEY *key = EVP_RSA_gen(3072);
    X509 *x = X509_new();
    X509_NAME *subj = X509_NAME_new();
    X509V3_CTX v3;
    X509_EXTENSION *ext;
    static const char *const exts[][2] = {
        { "basicConstraints", "critical,CA:TRUE" },
        { "keyUsage", "critical,keyCertSign" },
        { "subjectKeyIdentifier", "hash" },
    };
    BIGNUM *bn = BN_new();
    bool ok = key && x && subj && bn;

    ok = ok && BN_rand(bn, 63, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) &&
         BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) &&
         X509_set_version(x, 2) &&
         X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_UTF8,
                                    (const unsigned char *)cn, -1, -1, 0) &&
         X509_set_subject_name(x, subj) &&
         X509_set_issuer_name(x, issuer_cert
                              ? X509_get_subject_name(issuer_cert) : subj) &&
         set_validity(x, -1) == 0 && X509_set_pubkey(x, key);
    X509V3_set_ctx(&v3, issuer_cert ? issuer_cert : x, x, NULL, NULL, 0);
    for (size_t i = 0; ok && i < sizeof(exts) / sizeof(exts[0]); i++) {
        ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
        ok = ext && X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (ok && issuer_cert) {
        ok = add_aki(x, issuer_cert) == 0;
    }
    ok = ok && X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
    BN_free(bn);
    X509_NAME_free(subj);
    if (!ok) {
        X509_free(x);
        EVP_PKEY_free(key);
        return -EINVAL;
    }
    *out_key = key;
    *out_cert = x;
    return 0;
}
